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
}

/// A vector store holding every workspace's chunks; every call is scoped to one workspace.
/// The embedded default is qdrant-edge; a Qdrant server backend implements the same trait.
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
    /// Dense and/or BM25 search, fused with RRF when both halves are present.
    async fn query(&self, query: HybridQuery) -> Result<Vec<SearchHit>, StoreError>;
    /// Make everything written so far durable. Writes before a flush may be lost if the
    /// process dies (the embedded engine does not replay its write-ahead log on open), so
    /// callers record progress elsewhere only after a flush.
    async fn flush(&self) -> Result<(), StoreError>;
}
