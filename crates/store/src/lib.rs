//! Where chunks and their vectors live. Every backend implements
//! [`fathom_core::VectorStore`]; callers never name a backend type except where it is built.
//!
//! - [`EdgeStore`]: Qdrant's in-process engine (qdrant-edge), persisted in a directory. The
//!   embedded default: nothing else to install or run.
//! - [`Unpluggable`]: any store behind a switch that makes every call fail, for tests and drills.
//!
//! Layout of a point: named vectors `dense` (cosine) and `bm25` (sparse, IDF modifier), and the
//! whole [`fathom_core::Chunk`] as payload, so `workspace`, `article_id` and `locale` are
//! filterable fields on every point.

mod edge;
mod unpluggable;

pub use edge::{EdgeStore, EdgeStoreConfig, HybridFusion};
pub use unpluggable::Unpluggable;

/// Named vector holding the dense embedding.
pub const DENSE_VECTOR: &str = "dense";
/// Named sparse vector holding BM25 term weights.
pub const BM25_VECTOR: &str = "bm25";
