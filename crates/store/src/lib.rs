//! Where chunks, their vectors and each workspace's sync state live. Every backend implements
//! [`fathom_core::VectorStore`] and [`fathom_core::SyncStateStore`]; callers never name a backend
//! type except where it is built.
//!
//! - [`EdgeStore`] + [`FileSyncState`]: Qdrant's in-process engine (qdrant-edge), persisted in a
//!   directory, with the sync manifests as files beside it. The embedded default: nothing else
//!   to install or run.
//! - [`QdrantStore`] + [`QdrantSyncState`]: a Qdrant server, cluster or Qdrant Cloud through
//!   `qdrant-client`. One collection holds every workspace (`workspace` is a tenant payload
//!   index); the sync state and leases live in a small companion collection, so every machine
//!   that writes the index sees them.
//! - [`Unpluggable`]: any store behind a switch that makes every call fail, for tests and drills.
//!
//! Layout of a point, the same in both: named vectors `dense` (cosine) and `bm25` (sparse, IDF
//! modifier), and the whole [`fathom_core::Chunk`] as payload, so `workspace`, `article_id` and
//! `locale` are filterable fields on every point. The pieces both backends share (fusion
//! settings, field names, payload conversions) are in this file.

mod edge;
mod file_state;
mod qdrant;
pub mod testing;
mod unpluggable;

use fathom_core::{Chunk, SearchHit, StoreError};

pub use edge::{EdgeStore, EdgeStoreConfig};
pub use file_state::FileSyncState;
pub use qdrant::{QdrantConfig, QdrantStore, QdrantSyncState};
pub use unpluggable::Unpluggable;

/// Named vector holding the dense embedding.
pub const DENSE_VECTOR: &str = "dense";
/// Named sparse vector holding BM25 term weights.
pub const BM25_VECTOR: &str = "bm25";

/// Payload fields every query or delete filters on, each with a keyword index. Without one the
/// engine checks a filter by reading each candidate's payload: at 10k chunks that made a
/// filtered dense search ~50 ms instead of a few. `workspace` comes first: it is the tenant.
pub const KEYWORD_FIELDS: [&str; 3] = ["workspace", "locale", "article_id"];

/// How the dense and BM25 halves of a hybrid query are combined.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum HybridFusion {
    /// Reciprocal rank fusion: ranks only, weighted per half.
    Rrf,
    /// Distribution-based score fusion: each half's scores normalised by their mean and
    /// spread (mean ± 3σ), then summed; a half that is unsure (flat scores) counts for less.
    /// The default: it beat RRF on both shared eval sets (see evals/README.md).
    #[default]
    Dbsf,
}

/// Hybrid fusion settings, applied by the engine (edge or server) that runs the query.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FusionConfig {
    pub fusion: HybridFusion,
    /// The `k` of reciprocal rank fusion. Qdrant scores the chunk at (1-based) rank `r` of a
    /// half as `1 / (r / weight + k - 1)`, summed over the halves: with weight 1 that is the
    /// classic `1 / (k + r - 1)`.
    pub rrf_k: usize,
    /// RRF weight of the dense half: it divides the half's ranks (weight 2 makes its 4th
    /// chunk count like its 2nd), so it matters most with a small `k`.
    pub dense_weight: f32,
    /// RRF weight of the BM25 half.
    pub bm25_weight: f32,
}

impl Default for FusionConfig {
    fn default() -> Self {
        Self {
            fusion: HybridFusion::Dbsf,
            rrf_k: 60,
            dense_weight: 1.0,
            bm25_weight: 1.0,
        }
    }
}

/// A chunk as the JSON object stored as its point's payload.
fn chunk_payload(chunk: &Chunk) -> Result<serde_json::Map<String, serde_json::Value>, StoreError> {
    match serde_json::to_value(chunk) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        Ok(_) => unreachable!("a Chunk serialises to an object"),
        Err(e) => Err(StoreError::Operation {
            operation: "upsert",
            reason: format!("chunk {} could not be serialised: {e}", chunk.id),
        }),
    }
}

/// The chunk back from a point's payload; `None` (logged, so a broken index is seen) when the
/// payload is missing or is not a chunk this version can read.
fn payload_chunk(
    point: &dyn std::fmt::Debug,
    payload: Option<serde_json::Map<String, serde_json::Value>>,
) -> Option<Chunk> {
    let Some(payload) = payload else {
        tracing::warn!(?point, "stored point has no payload; skipped");
        return None;
    };
    match serde_json::from_value(serde_json::Value::Object(payload)) {
        Ok(chunk) => Some(chunk),
        Err(error) => {
            tracing::warn!(?point, %error, "stored point is not a readable chunk; skipped");
            None
        }
    }
}

/// Cosine similarity of the query and a stored dense vector. Hybrid scores are fused; the
/// cosine tells how close the chunk really is, which is what answerability is judged on.
/// Hits best first, equal scores by article id, then by position in the article.
///
/// Equal scores are common (an article section copied into two articles scores the same to the
/// last bit), and each engine returns them in its storage order: insertion order on edge, the
/// order of a server's segments, which changes as it merges them. Without this the same
/// question could cite a different article from one backend to the other, or from one day to
/// the next (the tv-manual set had 9 of 423 BM25 top hits flip between them).
fn in_rank_order(mut hits: Vec<SearchHit>) -> Vec<SearchHit> {
    hits.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.chunk.article_id.as_str().cmp(b.chunk.article_id.as_str()))
            .then_with(|| a.chunk.position.cmp(&b.chunk.position))
    });
    hits
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    let denominator = norm(a) * norm(b);
    if denominator == 0.0 {
        0.0
    } else {
        dot / denominator
    }
}

/// Reject a dense vector of the wrong dimension before it reaches the engine.
fn check_dimension(expected: usize, vector: Option<&[f32]>) -> Result<(), StoreError> {
    match vector {
        Some(v) if v.len() != expected => Err(StoreError::DimensionMismatch {
            expected,
            actual: v.len(),
        }),
        _ => Ok(()),
    }
}
