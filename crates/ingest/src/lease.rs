//! The lease a sync holds on its workspace while it runs: renewed in the background, released
//! at the end, and checked before every save of the sync state.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use fathom_core::{Lease, SyncStateError, SyncStateStore, WorkspaceId};

/// A held lease and the task renewing it.
pub(crate) struct LeaseGuard {
    state: Arc<dyn SyncStateStore>,
    lease: Lease,
    lost: Arc<AtomicBool>,
    renewer: tokio::task::JoinHandle<()>,
}

impl LeaseGuard {
    /// Take the workspace's lease (or fail with [`SyncStateError::Held`]) and start renewing it
    /// every third of `ttl`.
    pub(crate) async fn acquire(
        state: Arc<dyn SyncStateStore>,
        workspace: &WorkspaceId,
        holder: &str,
        ttl: Duration,
    ) -> Result<Self, SyncStateError> {
        let lease = state.acquire(workspace, holder, ttl).await?;
        tracing::debug!(%workspace, holder, "sync lease taken");
        let lost = Arc::new(AtomicBool::new(false));
        let renewer = tokio::spawn(renew_until_lost(
            Arc::clone(&state),
            lease.clone(),
            ttl,
            Arc::clone(&lost),
        ));
        Ok(Self {
            state,
            lease,
            lost,
            renewer,
        })
    }

    /// Save the sync state, unless the lease was lost.
    pub(crate) async fn save(&self, bytes: &[u8]) -> Result<(), SyncStateError> {
        if self.lost.load(Ordering::Acquire) {
            return Err(SyncStateError::Lost {
                workspace: self.lease.workspace.clone(),
            });
        }
        self.state.save(&self.lease, bytes.to_vec()).await
    }

    /// Stop renewing and give the lease up. A failure to release is only logged: the lease
    /// runs out by itself.
    pub(crate) async fn release(self) {
        self.renewer.abort();
        if let Err(error) = self.state.release(&self.lease).await {
            tracing::warn!(workspace = %self.lease.workspace, %error, "could not release the sync lease; it will run out");
        }
    }
}

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        self.renewer.abort();
    }
}

async fn renew_until_lost(
    state: Arc<dyn SyncStateStore>,
    lease: Lease,
    ttl: Duration,
    lost: Arc<AtomicBool>,
) {
    let every = (ttl / 3).max(Duration::from_millis(100));
    loop {
        tokio::time::sleep(every).await;
        match state.renew(&lease, ttl).await {
            Ok(_) => {}
            Err(SyncStateError::Lost { .. }) => {
                tracing::error!(workspace = %lease.workspace, "sync lease lost: another run took the workspace over");
                lost.store(true, Ordering::Release);
                return;
            }
            // Transient: the next renewal may get through before the lease runs out.
            Err(error) => {
                tracing::warn!(workspace = %lease.workspace, %error, "could not renew the sync lease")
            }
        }
    }
}

/// A description of this process for lease holders: what it is doing, its pid and its host.
pub fn lease_holder(purpose: &str) -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "an unknown host".into());
    format!("{purpose} (pid {} on {host})", std::process::id())
}
