//! Embedders turn text into vectors. Backends: local MiniLM (candle), any OpenAI-compatible
//! `/v1/embeddings` endpoint, and BM25 sparse vectors.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error("embedding model could not be loaded from {path}: {reason}")]
    Load { path: String, reason: String },
    #[error("embedding failed: {0}")]
    Inference(String),
    #[error("embedding endpoint failed: {0}")]
    Remote(String),
    /// The embedder's queue is full: too many questions at once. Retry shortly, or answer
    /// from the lexical index alone.
    #[error("the embedder is overloaded: {queued} queries are already waiting")]
    Overloaded { queued: usize },
}

/// A dense embedder. Implementations must not block the async runtime: CPU work goes to
/// `spawn_blocking` or a dedicated thread.
#[async_trait]
pub trait Embedder: Send + Sync + std::fmt::Debug {
    /// A stable name for the model; stored in the manifest so a model change forces re-embedding.
    fn model_id(&self) -> &str;
    fn dimension(&self) -> usize;
    /// The languages (ISO 639-1) the model was trained for, when it is known to be a few:
    /// `Some(["en"])` for all-MiniLM-L6-v2. `None`: many languages, or unknown (an
    /// OpenAI-compatible endpoint). The answer judge trusts the dense score only for messages in
    /// these languages.
    fn languages(&self) -> Option<&[String]> {
        None
    }
    async fn embed_documents(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, EmbedError>;
    async fn embed_query(&self, text: &str) -> Result<Vec<f32>, EmbedError>;
}

/// A sparse vector: sorted, unique indices with their weights.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SparseVector {
    pub indices: Vec<u32>,
    pub values: Vec<f32>,
}

impl SparseVector {
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }
}

/// A sparse (lexical) embedder. Cheap and synchronous.
pub trait SparseEmbedder: Send + Sync + std::fmt::Debug {
    fn embed_document(&self, text: &str) -> SparseVector;
    fn embed_query(&self, text: &str) -> SparseVector;

    /// A document whose locale is declared (the article's `locale`): the analysis uses its
    /// language instead of detecting one.
    fn embed_document_in(&self, text: &str, locale: Option<&str>) -> SparseVector {
        let _ = locale;
        self.embed_document(text)
    }

    /// A query from a customer whose locale is known (the widget's or the helpdesk's).
    fn embed_query_in(&self, text: &str, locale: Option<&str>) -> SparseVector {
        let _ = locale;
        self.embed_query(text)
    }

    /// Names everything that shapes the vectors (tokenisation, stop words, stemming, BM25
    /// parameters); stored in the index fingerprint so a change re-indexes.
    fn analysis_id(&self) -> &str {
        "bm25"
    }
}
