//! Sync state as files beside the embedded index: `<dir>/<workspace>/manifest.json`, written
//! atomically, and `<dir>/<workspace>/sync.lock`, an OS file lock that is the lease. The OS
//! drops the lock when its process dies, so a crashed run never blocks the next one. Every file
//! operation runs on the blocking pool, never on an async worker.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use fathom_core::{unix_ms_now, Lease, LeaseInfo, SyncStateError, SyncStateStore, WorkspaceId};
use uuid::Uuid;

const STATE_FILE: &str = "manifest.json";
const LOCK_FILE: &str = "sync.lock";

/// The embedded default's sync state: one folder per workspace under `dir`.
#[derive(Debug, Clone)]
pub struct FileSyncState {
    dir: PathBuf,
    /// Open, locked lock files by lease id: dropping one releases its lock.
    held: Arc<Mutex<HashMap<Uuid, File>>>,
}

impl FileSyncState {
    /// Sync state under `dir` (Fathom uses `<data-dir>/workspaces`).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            held: Arc::default(),
        }
    }

    /// The state file of a workspace (what `fathom ingest` used to call the manifest path).
    pub fn state_path(&self, workspace: &WorkspaceId) -> PathBuf {
        self.dir.join(workspace.as_str()).join(STATE_FILE)
    }

    fn lock_path(&self, workspace: &WorkspaceId) -> PathBuf {
        self.dir.join(workspace.as_str()).join(LOCK_FILE)
    }

    async fn blocking<T, F>(
        &self,
        workspace: &WorkspaceId,
        operation: &'static str,
        work: F,
    ) -> Result<T, SyncStateError>
    where
        T: Send + 'static,
        F: FnOnce(&Self) -> Result<T, SyncStateError> + Send + 'static,
    {
        let this = self.clone();
        tokio::task::spawn_blocking(move || work(&this))
            .await
            .map_err(|e| SyncStateError::Backend {
                workspace: workspace.clone(),
                operation,
                reason: format!("blocking task failed: {e}"),
            })?
    }

    fn holds(&self, lease: &Lease) -> bool {
        self.held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(&lease.id)
    }
}

fn io_error(
    workspace: &WorkspaceId,
    operation: &'static str,
    path: &Path,
) -> impl Fn(std::io::Error) -> SyncStateError {
    let workspace = workspace.clone();
    let path = path.display().to_string();
    move |e| SyncStateError::Backend {
        workspace: workspace.clone(),
        operation,
        reason: format!("{path}: {e}"),
    }
}

/// What the lock file says about its holder (informational: the lock itself is the lease).
#[derive(serde::Serialize, serde::Deserialize)]
struct LockNote {
    holder: String,
    acquired_at_ms: u64,
}

fn read_note(file: &mut File) -> Option<LockNote> {
    let mut text = String::new();
    file.rewind().ok()?;
    file.read_to_string(&mut text).ok()?;
    serde_json::from_str(&text).ok()
}

/// Try to lock the workspace's lock file. `Ok(Err(note))` when another process (or another
/// lease in this one) holds it.
fn try_lock(path: &Path) -> std::io::Result<Result<File, Option<LockNote>>> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)?;
    match fs4::FileExt::try_lock(&file) {
        Ok(()) => Ok(Ok(file)),
        Err(fs4::TryLockError::WouldBlock) => Ok(Err(read_note(&mut file))),
        Err(fs4::TryLockError::Error(e)) => Err(e),
    }
}

#[async_trait]
impl SyncStateStore for FileSyncState {
    async fn acquire(
        &self,
        workspace: &WorkspaceId,
        holder: &str,
        ttl: Duration,
    ) -> Result<Lease, SyncStateError> {
        let ws = workspace.clone();
        let holder = holder.to_string();
        self.blocking(workspace, "locked", move |this| {
            let path = this.lock_path(&ws);
            let error = io_error(&ws, "locked", &path);
            match try_lock(&path).map_err(&error)? {
                Err(note) => Err(SyncStateError::Held {
                    workspace: ws.clone(),
                    holder: note.map_or_else(|| "another process".into(), |n| n.holder),
                    expires_in_secs: None,
                }),
                Ok(mut file) => {
                    let note = LockNote {
                        holder: holder.clone(),
                        acquired_at_ms: unix_ms_now(),
                    };
                    let bytes = serde_json::to_vec(&note).unwrap_or_default();
                    file.set_len(0).map_err(&error)?;
                    file.rewind().map_err(&error)?;
                    file.write_all(&bytes).map_err(&error)?;
                    let lease = Lease {
                        workspace: ws.clone(),
                        id: Uuid::new_v4(),
                        holder,
                        expires_at_ms: unix_ms_now()
                            .saturating_add(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX)),
                    };
                    this.held
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(lease.id, file);
                    Ok(lease)
                }
            }
        })
        .await
    }

    async fn renew(&self, lease: &Lease, ttl: Duration) -> Result<Lease, SyncStateError> {
        if !self.holds(lease) {
            return Err(SyncStateError::Lost {
                workspace: lease.workspace.clone(),
            });
        }
        // The OS lock does not run out; the expiry is only informational here.
        Ok(Lease {
            expires_at_ms: unix_ms_now()
                .saturating_add(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX)),
            ..lease.clone()
        })
    }

    async fn release(&self, lease: &Lease) -> Result<(), SyncStateError> {
        let file = self
            .held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&lease.id);
        if let Some(file) = file {
            // Closing the file releases the lock; clearing the note first keeps a stale holder
            // out of later messages.
            self.blocking(&lease.workspace, "released", move |_| {
                let _ = file.set_len(0);
                drop(file);
                Ok(())
            })
            .await?;
        }
        Ok(())
    }

    async fn holder(&self, workspace: &WorkspaceId) -> Result<Option<LeaseInfo>, SyncStateError> {
        let ws = workspace.clone();
        self.blocking(workspace, "read", move |this| {
            let path = this.lock_path(&ws);
            if !path.exists() {
                return Ok(None);
            }
            match try_lock(&path).map_err(io_error(&ws, "read", &path))? {
                // Free: the probe's lock goes away with its file handle.
                Ok(_probe) => Ok(None),
                Err(note) => Ok(Some(LeaseInfo {
                    holder: note.map_or_else(|| "another process".into(), |n| n.holder),
                    expires_at_ms: None,
                })),
            }
        })
        .await
    }

    async fn load(&self, workspace: &WorkspaceId) -> Result<Option<Vec<u8>>, SyncStateError> {
        let ws = workspace.clone();
        self.blocking(workspace, "read", move |this| {
            let path = this.state_path(&ws);
            match std::fs::read(&path) {
                Ok(bytes) => Ok(Some(bytes)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(io_error(&ws, "read", &path)(e)),
            }
        })
        .await
    }

    async fn save(&self, lease: &Lease, state: Vec<u8>) -> Result<(), SyncStateError> {
        if !self.holds(lease) {
            return Err(SyncStateError::Lost {
                workspace: lease.workspace.clone(),
            });
        }
        let ws = lease.workspace.clone();
        self.blocking(&lease.workspace, "written", move |this| {
            let path = this.state_path(&ws);
            write_atomically(&path, &state).map_err(io_error(&ws, "written", &path))
        })
        .await
    }

    fn describe(&self) -> String {
        format!("sync state files in {}", self.dir.display())
    }
}

/// A temporary file in the same directory, fsynced, then renamed over the old one.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = path.with_extension("json.tmp");
    let mut file = File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}
