//! Where a workspace's sync state lives, and the lease that lets one sync at a time write it.
//!
//! The state (what was ingested, with which hashes, what is half-written) must be visible to
//! every machine that writes the same index, so it is kept with the index: files beside the
//! embedded index, or the Qdrant server itself. The bytes are opaque here; the ingest crate owns
//! their format.

use std::time::Duration;

use async_trait::async_trait;
use uuid::Uuid;

use crate::WorkspaceId;

/// The right to write one workspace's index and sync state, held by one sync run until it is
/// released or expires. A run renews it while it works; a crashed run's lease runs out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub workspace: WorkspaceId,
    /// Unique per acquisition: writes are fenced by it.
    pub id: Uuid,
    /// Who holds it, for the message another run gets ("fathom ingest, pid 4242 on web-2").
    pub holder: String,
    /// Unix time in milliseconds when it runs out unless renewed.
    pub expires_at_ms: u64,
}

/// Who holds a workspace's lease right now (for `fathom status`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseInfo {
    pub holder: String,
    /// `None` when the lease ends only with its holder's process (an OS file lock).
    pub expires_at_ms: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum SyncStateError {
    #[error(
        "workspace {workspace} is being synced by {holder}{}; wait for that run to finish \
         (a crashed run's lease runs out by itself)",
        expires_in_secs.map(|s| format!(" (its lease runs out in {s} s unless renewed)")).unwrap_or_default()
    )]
    Held {
        workspace: WorkspaceId,
        holder: String,
        expires_in_secs: Option<u64>,
    },
    #[error(
        "the sync lease on workspace {workspace} was lost (it ran out and another run took it); \
         this run stopped writing, run the sync again"
    )]
    Lost { workspace: WorkspaceId },
    #[error("sync state of workspace {workspace} could not be {operation}: {reason}")]
    Backend {
        workspace: WorkspaceId,
        operation: &'static str,
        reason: String,
    },
}

impl SyncStateError {
    /// A stable machine-readable code, for API error bodies and `--json` output.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Held { .. } => "sync_in_progress",
            Self::Lost { .. } => "sync_lease_lost",
            Self::Backend { .. } => "sync_state_unavailable",
        }
    }
}

/// A workspace's sync state and lease. One contract suite runs against every backend.
#[async_trait]
pub trait SyncStateStore: Send + Sync + std::fmt::Debug {
    /// Take the workspace's lease for `ttl`, or fail with [`SyncStateError::Held`] naming the
    /// current holder. An expired lease is taken over.
    async fn acquire(
        &self,
        workspace: &WorkspaceId,
        holder: &str,
        ttl: Duration,
    ) -> Result<Lease, SyncStateError>;
    /// Extend a held lease by `ttl` from now; [`SyncStateError::Lost`] if another run has it.
    async fn renew(&self, lease: &Lease, ttl: Duration) -> Result<Lease, SyncStateError>;
    /// Give the lease up (a no-op when it was already lost).
    async fn release(&self, lease: &Lease) -> Result<(), SyncStateError>;
    /// Who holds the workspace's lease, if anyone (expired leases count as free).
    async fn holder(&self, workspace: &WorkspaceId) -> Result<Option<LeaseInfo>, SyncStateError>;
    /// The last saved state, if any.
    async fn load(&self, workspace: &WorkspaceId) -> Result<Option<Vec<u8>>, SyncStateError>;
    /// Replace the state, atomically, if `lease` is still held ([`SyncStateError::Lost`]
    /// otherwise). Durable when it returns.
    async fn save(&self, lease: &Lease, state: Vec<u8>) -> Result<(), SyncStateError>;
    /// Where the state lives, for messages.
    fn describe(&self) -> String;
}

/// Milliseconds since the Unix epoch, now.
pub fn unix_ms_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
