//! Where a running `fathom serve` says it is: `<data-dir>/server.json` (pid, address, URL) and
//! `<data-dir>/server.token` (the CLI's bearer token for this run, mode 0600). Written once the
//! server listens, removed when it stops; a killed server leaves them behind, and the next
//! client finds nobody at the URL and opens the index itself (the lock died with the process).

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

const RECORD_FILE: &str = "server.json";
const TOKEN_FILE: &str = "server.token";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServerRecord {
    pub pid: u32,
    /// The address the server listens on.
    pub address: SocketAddr,
    /// Where the CLI reaches it (`--advertise-url`, or the address with a loopback host).
    pub url: String,
    pub version: String,
    pub started_at_ms: u64,
}

impl ServerRecord {
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join(RECORD_FILE)
    }

    pub fn token_path(data_dir: &Path) -> PathBuf {
        data_dir.join(TOKEN_FILE)
    }

    /// The record in `data_dir`, if a server wrote one (it may have died since).
    pub fn read(data_dir: &Path) -> Option<Self> {
        let text = std::fs::read(Self::path(data_dir)).ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// The token of the server recorded in `data_dir`.
    pub fn read_token(data_dir: &Path) -> anyhow::Result<String> {
        let path = Self::token_path(data_dir);
        let token = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "reading the server's CLI token {} (run the CLI as the user running `fathom serve`, or pass --server-token)",
                path.display()
            )
        })?;
        Ok(token.trim().to_string())
    }

    /// Whether the recorded process still exists on this machine (`None`: cannot tell).
    pub fn process_exists(&self) -> Option<bool> {
        let proc = Path::new("/proc");
        proc.is_dir()
            .then(|| proc.join(self.pid.to_string()).exists())
    }

    /// "pid 1234, http://127.0.0.1:8080": how errors name the server.
    pub fn describe(&self) -> String {
        format!("pid {}, {}", self.pid, self.url)
    }
}

/// The URL a client uses for a server listening on `address`: an unspecified host (0.0.0.0,
/// ::) becomes loopback.
pub fn local_url(address: SocketAddr) -> String {
    let host = match address.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => "127.0.0.1".to_string(),
        ip if ip.is_unspecified() => "[::1]".to_string(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    format!("http://{host}:{}", address.port())
}

/// A fresh random token: 32 bytes, hex.
pub fn new_token() -> String {
    rand::random::<[u8; 32]>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The record and token of this server, on disk while it lives: dropping the guard removes
/// them (unless another server has replaced the record meanwhile).
#[derive(Debug)]
pub struct RecordGuard {
    data_dir: PathBuf,
    pid: u32,
}

impl RecordGuard {
    pub fn write(data_dir: &Path, record: &ServerRecord, token: &str) -> anyhow::Result<Self> {
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("creating {}", data_dir.display()))?;
        // The token first, so that a client that sees the record finds its token.
        write_private(&ServerRecord::token_path(data_dir), token.as_bytes())?;
        let json = serde_json::to_vec_pretty(record)?;
        let path = ServerRecord::path(data_dir);
        let partial = path.with_extension("json.partial");
        std::fs::write(&partial, json)
            .and_then(|()| std::fs::rename(&partial, &path))
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(Self {
            data_dir: data_dir.to_path_buf(),
            pid: record.pid,
        })
    }
}

impl Drop for RecordGuard {
    fn drop(&mut self) {
        if ServerRecord::read(&self.data_dir).is_some_and(|r| r.pid == self.pid) {
            let _ = std::fs::remove_file(ServerRecord::path(&self.data_dir));
            let _ = std::fs::remove_file(ServerRecord::token_path(&self.data_dir));
        }
    }
}

/// Writes `bytes` to a new file only its owner can read, replacing `path`.
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let partial = path.with_extension("partial");
    let _ = std::fs::remove_file(&partial);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&partial)
        .with_context(|| format!("creating {}", partial.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&partial, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unspecified_hosts_become_loopback() {
        assert_eq!(
            local_url("0.0.0.0:8080".parse().unwrap()),
            "http://127.0.0.1:8080"
        );
        assert_eq!(local_url("[::]:8080".parse().unwrap()), "http://[::1]:8080");
        assert_eq!(
            local_url("127.0.0.1:9000".parse().unwrap()),
            "http://127.0.0.1:9000"
        );
        assert_eq!(local_url("[::1]:80".parse().unwrap()), "http://[::1]:80");
    }

    #[test]
    fn the_token_file_is_private_and_the_guard_removes_both_files() {
        let dir = tempfile::TempDir::new().unwrap();
        let record = ServerRecord {
            pid: std::process::id(),
            address: "127.0.0.1:1".parse().unwrap(),
            url: "http://127.0.0.1:1".into(),
            version: "test".into(),
            started_at_ms: 0,
        };
        let token = new_token();
        assert_eq!(token.len(), 64);
        let guard = RecordGuard::write(dir.path(), &record, &token).unwrap();
        assert_eq!(ServerRecord::read(dir.path()).unwrap().pid, record.pid);
        assert_eq!(ServerRecord::read_token(dir.path()).unwrap(), token);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(ServerRecord::token_path(dir.path()))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "token readable by others: {mode:o}");
        }
        assert_eq!(record.process_exists(), Some(true));
        drop(guard);
        assert!(ServerRecord::read(dir.path()).is_none());
        assert!(!ServerRecord::token_path(dir.path()).exists());
    }
}
