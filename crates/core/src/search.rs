//! The vector store's contract: what goes in (indexed chunks), what a query asks, what comes out.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{ArticleId, Chunk, ChunkId, SparseVector, WorkspaceId};

/// A chunk with its vectors, ready for the store.
#[derive(Debug, Clone)]
pub struct IndexedChunk {
    pub chunk: Chunk,
    /// Absent when no dense embedder is configured (BM25-only).
    pub dense: Option<Vec<f32>>,
    pub sparse: SparseVector,
}

/// Which halves of the hybrid query to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RetrievalMode {
    #[default]
    Hybrid,
    Dense,
    Bm25,
}

impl std::str::FromStr for RetrievalMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "hybrid" => Ok(Self::Hybrid),
            "dense" => Ok(Self::Dense),
            "bm25" => Ok(Self::Bm25),
            other => Err(format!(
                "unknown retrieval mode {other:?}: use hybrid, dense or bm25"
            )),
        }
    }
}

#[derive(Debug, Clone)]
pub struct HybridQuery {
    pub workspace: WorkspaceId,
    pub locale: Option<String>,
    pub dense: Option<Vec<f32>>,
    pub sparse: Option<SparseVector>,
    pub limit: usize,
    /// How many candidates each half fetches before fusion.
    pub prefetch_limit: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchHit {
    pub chunk: Chunk,
    /// Fused (RRF) score in hybrid mode, cosine or BM25 score otherwise.
    pub score: f32,
    /// Scores of the individual halves, when the query ran them. Used to judge answerability.
    pub dense_score: Option<f32>,
    pub bm25_score: Option<f32>,
}

/// What an answer cites.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Citation {
    pub article_id: ArticleId,
    pub title: String,
    pub url: Option<String>,
    pub chunk_ids: Vec<ChunkId>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("vector store at {path} could not be opened: {reason}")]
    Open { path: String, reason: String },
    /// Another process holds the store (the embedded engine admits one at a time).
    #[error("vector store at {path} is in use by another process")]
    InUse { path: String },
    #[error("vector store operation {operation} failed: {reason}")]
    Operation {
        operation: &'static str,
        reason: String,
    },
    #[error("vector store is configured for {expected}-dimensional dense vectors, got {actual}")]
    DimensionMismatch { expected: usize, actual: usize },
    /// The store did not answer (connection refused, timed out, overloaded), even after retries.
    #[error("vector store at {endpoint} is unavailable ({operation}): {reason}")]
    Unavailable {
        endpoint: String,
        operation: &'static str,
        reason: String,
    },
    /// The index was built with other models or text analysis than this process uses.
    #[error(
        "the index {index} was built with {stored}, but this process is configured with \
         {configured}: searching it would return garbage. Use the settings it was built with, or \
         re-index every workspace into a new index ({hint})"
    )]
    FingerprintMismatch {
        index: String,
        stored: String,
        configured: String,
        hint: String,
    },
}

impl StoreError {
    /// A stable machine-readable code, for API error bodies and `--json` output.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Open { .. } => "vector_store_open_failed",
            Self::InUse { .. } => "vector_store_in_use",
            Self::Operation { .. } => "vector_store_operation_failed",
            Self::DimensionMismatch { .. } => "dimension_mismatch",
            Self::Unavailable { .. } => "vector_store_unavailable",
            Self::FingerprintMismatch { .. } => "index_fingerprint_mismatch",
        }
    }
}

/// What shapes the vectors of an index. Kept with the index when it is created; a process
/// configured otherwise refuses to open it, because its queries would not match what is stored.
/// Named parts, so that a new kind of analysis adds a field rather than a format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexFingerprint {
    /// Dense embedding model id; `None` for a BM25-only index.
    pub dense_model: Option<String>,
    /// Dimension of the dense vectors the index is configured for.
    pub dense_dimension: usize,
    /// The text analysis that turns text into BM25 terms (tokenizer, stemmer, stop words).
    pub text_analysis: String,
}

impl std::fmt::Display for IndexFingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "dense model {} ({} dimensions), text analysis {}",
            self.dense_model.as_deref().unwrap_or("none"),
            self.dense_dimension,
            self.text_analysis
        )
    }
}

/// A page of a workspace's points, for copying an index elsewhere.
#[derive(Debug, Clone, Default)]
pub struct PointPage {
    pub points: Vec<IndexedChunk>,
    /// Where the next page starts; `None` after the last page.
    pub next: Option<ChunkId>,
}

/// A vector store holding every workspace's chunks; every call is scoped to one workspace.
/// The embedded default is qdrant-edge; the Qdrant server backend implements the same trait.
#[async_trait]
pub trait VectorStore: Send + Sync + std::fmt::Debug {
    /// Insert or overwrite points (ids are deterministic, see [`ChunkId::derive`]).
    async fn upsert(&self, points: Vec<IndexedChunk>) -> Result<(), StoreError>;
    /// Remove every chunk of the given articles.
    async fn delete_articles(
        &self,
        workspace: &WorkspaceId,
        articles: &[ArticleId],
    ) -> Result<(), StoreError>;
    /// Article ids that have at least one chunk in the workspace.
    async fn article_ids(&self, workspace: &WorkspaceId) -> Result<Vec<ArticleId>, StoreError>;
    async fn count(&self, workspace: &WorkspaceId) -> Result<usize, StoreError>;
    /// Dense and/or BM25 search, fused when both halves are present.
    async fn query(&self, query: HybridQuery) -> Result<Vec<SearchHit>, StoreError>;
    /// One page of the workspace's points with their vectors, in id order, starting at
    /// `from` (inclusive).
    async fn scroll(
        &self,
        workspace: &WorkspaceId,
        from: Option<ChunkId>,
        limit: usize,
    ) -> Result<PointPage, StoreError>;
    /// Make everything written so far durable. Writes before a flush may be lost if the
    /// process dies (the embedded engine does not replay its write-ahead log on open), so
    /// callers record progress elsewhere only after a flush.
    async fn flush(&self) -> Result<(), StoreError>;
    /// A cheap check that the store answers (for readiness probes and `fathom status`).
    async fn health(&self) -> Result<(), StoreError>;
    /// Where the index lives, for messages (a folder, or a server's collection).
    fn describe(&self) -> String;
}
