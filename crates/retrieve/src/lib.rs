//! Retrieval: turn a customer's question into a hybrid query (dense + BM25, fused with RRF by
//! the vector store), scoped to one workspace and optionally one locale.

pub mod query;

use std::sync::Arc;
use std::time::Instant;

use fathom_core::{
    EmbedError, Embedder, HybridQuery, RetrievalMode, SearchHit, SparseEmbedder, StoreError,
    VectorStore, WorkspaceId,
};
use serde::Serialize;

pub use query::{content_terms, standalone_query, ContextCarry};

#[derive(Debug, thiserror::Error)]
pub enum RetrieveError {
    #[error("the question is empty")]
    EmptyQuestion,
    #[error("dense retrieval was requested but no dense embedder is configured")]
    NoDenseEmbedder,
    #[error("embedding the question failed: {0}")]
    Embed(#[from] EmbedError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Clone)]
pub struct RetrieverConfig {
    /// Candidates each half fetches before fusion.
    pub prefetch_limit: usize,
}

impl Default for RetrieverConfig {
    fn default() -> Self {
        Self { prefetch_limit: 40 }
    }
}

#[derive(Debug, Clone)]
pub struct SearchRequest {
    pub workspace: WorkspaceId,
    pub question: String,
    pub locale: Option<String>,
    pub limit: usize,
    pub mode: RetrievalMode,
}

/// Hits and where the time went.
#[derive(Debug, Clone, Serialize)]
pub struct SearchResults {
    pub hits: Vec<SearchHit>,
    pub embed_ms: f64,
    pub query_ms: f64,
}

#[derive(Debug, Clone)]
pub struct Retriever {
    store: Arc<dyn VectorStore>,
    dense: Option<Arc<dyn Embedder>>,
    sparse: Arc<dyn SparseEmbedder>,
    config: RetrieverConfig,
}

impl Retriever {
    pub fn new(
        store: Arc<dyn VectorStore>,
        dense: Option<Arc<dyn Embedder>>,
        sparse: Arc<dyn SparseEmbedder>,
        config: RetrieverConfig,
    ) -> Self {
        Self {
            store,
            dense,
            sparse,
            config,
        }
    }

    /// The mode used when the caller does not choose: hybrid when a dense embedder exists.
    pub fn default_mode(&self) -> RetrievalMode {
        if self.dense.is_some() {
            RetrievalMode::Hybrid
        } else {
            RetrievalMode::Bm25
        }
    }

    /// One cheap call to the vector store for `workspace` (a count): does it answer?
    pub async fn probe(&self, workspace: &WorkspaceId) -> Result<(), RetrieveError> {
        self.store.count(workspace).await?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(workspace = %request.workspace, mode = ?request.mode, limit = request.limit))]
    pub async fn search(&self, request: SearchRequest) -> Result<SearchResults, RetrieveError> {
        let question = request.question.trim();
        if question.is_empty() {
            return Err(RetrieveError::EmptyQuestion);
        }
        let started = Instant::now();
        let wants_dense = matches!(request.mode, RetrievalMode::Hybrid | RetrievalMode::Dense);
        let wants_sparse = matches!(request.mode, RetrievalMode::Hybrid | RetrievalMode::Bm25);
        let dense = match (wants_dense, &self.dense) {
            (true, Some(embedder)) => match embedder.embed_query(question).await {
                Ok(vector) => Some(vector),
                // Hybrid search still has BM25: a question answered from the lexical half
                // beats one refused while the embedder is saturated.
                Err(error @ EmbedError::Overloaded { .. })
                    if request.mode == RetrievalMode::Hybrid =>
                {
                    tracing::warn!(%error, "dense embedder overloaded: this question uses BM25 only");
                    None
                }
                Err(error) => return Err(error.into()),
            },
            (true, None) if request.mode == RetrievalMode::Dense => {
                return Err(RetrieveError::NoDenseEmbedder)
            }
            _ => None,
        };
        let sparse = wants_sparse.then(|| self.sparse.embed_query(question));
        let embed_ms = started.elapsed().as_secs_f64() * 1000.0;

        let started = Instant::now();
        let hits = self
            .store
            .query(HybridQuery {
                workspace: request.workspace,
                locale: request.locale,
                dense,
                sparse,
                limit: request.limit,
                prefetch_limit: self.config.prefetch_limit,
            })
            .await?;
        let query_ms = started.elapsed().as_secs_f64() * 1000.0;
        tracing::debug!(hits = hits.len(), embed_ms, query_ms, "retrieved");
        Ok(SearchResults {
            hits,
            embed_ms,
            query_ms,
        })
    }
}
