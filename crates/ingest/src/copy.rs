//! Copy one workspace's index (points with their vectors, and its sync manifest) from one
//! store to another, e.g. from the embedded index to a Qdrant server: nothing is re-embedded.
//! Both workspaces' leases are held throughout, progress is saved in the target's manifest
//! after every page, and an interrupted copy resumes from where it stopped.

use std::sync::Arc;
use std::time::{Duration, Instant};

use fathom_core::{StoreError, SyncStateStore, VectorStore, WorkspaceId};
use serde::Serialize;

use crate::lease::LeaseGuard;
use crate::manifest::{CopyProgress, Manifest};
use crate::sync::SyncError;

/// One side of a copy.
#[derive(Clone)]
pub struct IndexSide {
    pub store: Arc<dyn VectorStore>,
    pub state: Arc<dyn SyncStateStore>,
}

#[derive(Debug, Clone)]
pub struct CopyOptions {
    pub workspace: WorkspaceId,
    /// The manifest fingerprint this process would write (see `SyncBackends::fingerprint`):
    /// the source must have been built with it, or the copy would mix models.
    pub fingerprint: String,
    /// Points per page read and written.
    pub page_size: usize,
    /// Overwrite a workspace the target already holds (otherwise that is an error).
    pub replace: bool,
    pub holder: String,
    pub lease_ttl: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(transparent)]
    Sync(#[from] SyncError),
    #[error("workspace {workspace} has no sync state in {source_index}: ingest it there first")]
    NothingToCopy {
        workspace: WorkspaceId,
        source_index: String,
    },
    #[error(
        "workspace {workspace} in {source_index} was indexed with {found}, but this process is \
         configured with {expected}: run with the settings it was built with"
    )]
    SourceFingerprint {
        workspace: WorkspaceId,
        source_index: String,
        found: String,
        expected: String,
    },
    #[error(
        "workspace {workspace} already has {chunks} chunks in {target}: pass --replace to \
         overwrite them"
    )]
    TargetNotEmpty {
        workspace: WorkspaceId,
        target: String,
        chunks: usize,
    },
    #[error("the copy of workspace {workspace} is incomplete: {source_count} points in the source, {target_count} in the target")]
    Incomplete {
        workspace: WorkspaceId,
        source_count: usize,
        target_count: usize,
    },
}

impl From<StoreError> for CopyError {
    fn from(error: StoreError) -> Self {
        Self::Sync(SyncError::Store(error))
    }
}

impl From<fathom_core::SyncStateError> for CopyError {
    fn from(error: fathom_core::SyncStateError) -> Self {
        Self::Sync(SyncError::State(error))
    }
}

impl CopyError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Sync(error) => error.code(),
            Self::NothingToCopy { .. } => "nothing_to_copy",
            Self::SourceFingerprint { .. } => "index_fingerprint_mismatch",
            Self::TargetNotEmpty { .. } => "target_not_empty",
            Self::Incomplete { .. } => "copy_incomplete",
        }
    }
}

/// Progress as the copy goes.
#[derive(Debug, Clone, Copy)]
pub enum CopyEvent {
    /// The source holds this many points; this many are already copied (a resumed copy).
    Planned { points: usize, copied: usize },
    /// Points copied so far.
    Copied { points: usize },
}

/// What a copy did. Printed by `fathom migrate-index`, as JSON with `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct CopyReport {
    pub workspace: String,
    pub source: String,
    pub target: String,
    pub articles: usize,
    pub points: usize,
    /// Points a previous, interrupted run had already copied.
    pub resumed_at: usize,
    pub duration_ms: u64,
}

pub async fn copy_workspace(
    source: &IndexSide,
    target: &IndexSide,
    options: &CopyOptions,
    on_event: &(dyn Fn(CopyEvent) + Send + Sync),
) -> Result<CopyReport, CopyError> {
    let workspace = &options.workspace;
    // The source's lease keeps its syncs out while we read; the target's keeps the target's.
    let source_lease = LeaseGuard::acquire(
        Arc::clone(&source.state),
        workspace,
        &options.holder,
        options.lease_ttl,
    )
    .await?;
    let target_lease = match LeaseGuard::acquire(
        Arc::clone(&target.state),
        workspace,
        &options.holder,
        options.lease_ttl,
    )
    .await
    {
        Ok(lease) => lease,
        Err(error) => {
            source_lease.release().await;
            return Err(error.into());
        }
    };
    let result = copy_leased(source, target, options, &target_lease, on_event).await;
    target_lease.release().await;
    source_lease.release().await;
    result
}

async fn copy_leased(
    source: &IndexSide,
    target: &IndexSide,
    options: &CopyOptions,
    lease: &LeaseGuard,
    on_event: &(dyn Fn(CopyEvent) + Send + Sync),
) -> Result<CopyReport, CopyError> {
    let started = Instant::now();
    let workspace = &options.workspace;
    let source_name = source.store.describe();
    let target_name = target.store.describe();
    let Some(source_manifest) = Manifest::load(&*source.state, workspace).await? else {
        return Err(CopyError::NothingToCopy {
            workspace: workspace.clone(),
            source_index: source_name,
        });
    };
    if source_manifest.fingerprint != options.fingerprint {
        return Err(CopyError::SourceFingerprint {
            workspace: workspace.clone(),
            source_index: source_name,
            found: source_manifest.fingerprint,
            expected: options.fingerprint.clone(),
        });
    }
    let total = source.store.count(workspace).await?;

    // Resume a copy from the same source, or start afresh.
    let previous = Manifest::load(&*target.state, workspace).await?;
    let resumable = previous
        .as_ref()
        .and_then(|m| m.copy.clone())
        .filter(|copy| copy.source == source_name);
    let mut progress = match resumable {
        Some(progress) => {
            tracing::info!(%workspace, copied = progress.copied, "resuming an interrupted copy");
            progress
        }
        None => {
            let chunks = target.store.count(workspace).await?;
            if (chunks > 0 || previous.is_some()) && !options.replace {
                return Err(CopyError::TargetNotEmpty {
                    workspace: workspace.clone(),
                    target: target_name,
                    chunks,
                });
            }
            let stale = target.store.article_ids(workspace).await?;
            target.store.delete_articles(workspace, &stale).await?;
            CopyProgress {
                source: source_name.clone(),
                next: None,
                copied: 0,
            }
        }
    };
    let resumed_at = progress.copied;
    // The journal: until the copy completes, every article counts as half-written, so a sync
    // run against the target before then re-indexes it all instead of trusting a partial copy.
    let mut manifest = Manifest {
        in_flight: source_manifest
            .articles
            .keys()
            .chain(source_manifest.in_flight.iter())
            .cloned()
            .collect(),
        copy: Some(progress.clone()),
        ..source_manifest.clone()
    };
    lease.save(&manifest.encode()).await?;
    on_event(CopyEvent::Planned {
        points: total,
        copied: progress.copied,
    });

    loop {
        if progress.copied > 0 && progress.next.is_none() {
            break;
        }
        let page = source
            .store
            .scroll(workspace, progress.next, options.page_size.max(1))
            .await?;
        let count = page.points.len();
        target.store.upsert(page.points).await?;
        target.store.flush().await?;
        progress.copied += count;
        progress.next = page.next;
        manifest.copy = Some(progress.clone());
        lease.save(&manifest.encode()).await?;
        on_event(CopyEvent::Copied {
            points: progress.copied,
        });
        if progress.next.is_none() {
            break;
        }
    }

    let copied = target.store.count(workspace).await?;
    if copied != total {
        return Err(CopyError::Incomplete {
            workspace: workspace.clone(),
            source_count: total,
            target_count: copied,
        });
    }
    manifest.in_flight = source_manifest.in_flight.clone();
    manifest.copy = None;
    lease.save(&manifest.encode()).await?;
    Ok(CopyReport {
        workspace: workspace.to_string(),
        source: source_name,
        target: target_name,
        articles: manifest.articles.len(),
        points: copied,
        resumed_at,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    })
}
