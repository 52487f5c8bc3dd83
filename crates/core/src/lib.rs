//! Fathom's shared vocabulary: the types that travel along the data's path
//! (article → chunk → vectors → search hit → citation) and the small traits
//! that every backend implements (`Embedder`, `SparseEmbedder`, `VectorStore`).
//!
//! This crate does no I/O. Everything else depends on it, never the other way round.

mod article;
mod chunk;
mod conversation;
mod embed;
mod ids;
mod search;

pub use article::{Article, ArticleFormat};
pub use chunk::{Chunk, ChunkId};
pub use conversation::{
    AnswerEvent, Awaiting, Conversation, CustomerAttributes, Decision, DecisionKind, Evidence,
    Reason, Role, TokenUsage, Turn,
};
pub use embed::{EmbedError, Embedder, SparseEmbedder, SparseVector};
pub use ids::{ArticleId, IdError, WorkspaceId};
pub use search::{
    Citation, HybridQuery, IndexedChunk, RetrievalMode, SearchHit, StoreError, VectorStore,
};
