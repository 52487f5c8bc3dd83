//! Fathom's shared vocabulary: the types that travel along the data's path
//! (article → chunk → vectors → search hit → citation) and the small traits
//! that every backend implements (`Embedder`, `SparseEmbedder`, `VectorStore`, `SyncStateStore`).
//!
//! This crate does no I/O. Everything else depends on it, never the other way round.

mod article;
mod chunk;
mod conversation;
mod embed;
mod ids;
mod search;
mod sync_state;

pub use article::{Article, ArticleFormat};
pub use chunk::{Chunk, ChunkId};
pub use conversation::{
    AnswerEvent, Awaiting, Conversation, CustomerAttributes, Decision, DecisionKind, Evidence,
    Reason, Role, TokenUsage, Turn,
};
pub use embed::{EmbedError, Embedder, SparseEmbedder, SparseVector};
pub use ids::{ArticleId, IdError, WorkspaceId};
pub use search::{
    Citation, HybridQuery, IndexFingerprint, IndexedChunk, PointPage, RetrievalMode, SearchHit,
    StoreError, VectorStore,
};
pub use sync_state::{unix_ms_now, Lease, LeaseInfo, SyncStateError, SyncStateStore};
