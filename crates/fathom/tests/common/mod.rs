//! What the `fathom` binary's integration tests share: the binary as a `Command`, free loopback
//! ports, `fathom serve` started and awaited (and killed when the test ends, however it ends), a
//! tiny HTTP/1.1 client, the browser tests' prerequisites, and knowledge folders on disk.
//!
//! Each test file is its own crate and uses only some of this, hence the `allow(dead_code)`.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fathom_gateway::signing::SignedHeaders;
use fathom_gateway::WebhookSecret;
use serde_json::Value;

/// How long `fathom serve` (or a helper server) may take to listen.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(60);

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the repository root")
}

/// A loopback address nothing listens on (yet).
pub fn free_address() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .expect("a free loopback port")
        .local_addr()
        .expect("its address")
}

pub fn free_port() -> u16 {
    free_address().port()
}

/// `fathom` with a private data dir, a clean environment and the given embedder.
pub fn fathom_with_embedder(data: &Path, embedder: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fathom"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .arg("--data-dir")
        .arg(data)
        .arg("--embedder")
        .arg(embedder);
    cmd
}

/// `fathom` with a private data dir, BM25 only.
pub fn fathom(data: &Path) -> Command {
    fathom_with_embedder(data, "none")
}

/// Panics with the command's status, stdout and stderr unless it succeeded.
pub fn assert_success(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Runs `command` to the end and panics unless it succeeded.
pub fn run_ok(command: &mut Command, what: &str) {
    let output = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_success(&output, what);
}

/// `fathom ingest --workspace <workspace> <folder>` into `data`, which must succeed.
pub fn ingest(data: &Path, workspace: &str, folder: &Path) {
    run_ok(
        fathom(data)
            .args(["ingest", "--workspace", workspace])
            .arg(folder),
        "fathom ingest",
    );
}

/// Writes `articles` (file name, Markdown) into `folder`, creating it.
pub fn write_articles(folder: &Path, articles: &[(&str, &str)]) {
    std::fs::create_dir_all(folder).unwrap();
    for (name, markdown) in articles {
        std::fs::write(folder.join(name), markdown).unwrap();
    }
}

/// Copies the folder `from` to `to`, recursively.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Polls `check` every 100 ms until it holds; on a timeout the panic shows `logs()`.
pub fn wait_until(
    what: &str,
    timeout: Duration,
    logs: &dyn Fn() -> String,
    mut check: impl FnMut() -> bool,
) {
    let started = Instant::now();
    while started.elapsed() < timeout {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out after {timeout:?} waiting for {what}\n{}", logs());
}

/// A child process (a server), killed when the guard is dropped, so it never outlives its test.
pub struct ServerGuard {
    name: &'static str,
    child: Child,
    /// Whether the child leads its own process group, which is then killed with it.
    leads_process_group: bool,
}

impl ServerGuard {
    /// Spawns `command`; dropping the guard kills the child.
    pub fn spawn(name: &'static str, command: &mut Command) -> std::io::Result<Self> {
        Ok(Self {
            name,
            child: command.spawn()?,
            leads_process_group: false,
        })
    }

    /// Spawns `command` as the leader of a new process group; dropping the guard kills the whole
    /// group, so whatever the child started goes too.
    pub fn spawn_in_own_process_group(
        name: &'static str,
        command: &mut Command,
    ) -> std::io::Result<Self> {
        std::os::unix::process::CommandExt::process_group(command, 0);
        Ok(Self {
            name,
            child: command.spawn()?,
            leads_process_group: true,
        })
    }

    pub fn child(&mut self) -> &mut Child {
        &mut self.child
    }

    /// SIGKILL (no chance to clean up) and reap it.
    pub fn sigkill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Waits until `address` accepts connections, or says why not: the process exited, or it did
    /// not listen in time.
    pub fn wait_until_listening(&mut self, address: SocketAddr) -> Result<(), String> {
        let started = Instant::now();
        while TcpStream::connect(address).is_err() {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("it exited ({status})"));
            }
            if started.elapsed() > LISTEN_TIMEOUT {
                return Err(format!(
                    "nothing listens on {address} after {} s",
                    LISTEN_TIMEOUT.as_secs()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }

    /// Waits until `address` accepts connections, or panics with the server's `log`.
    pub fn wait_for_listener(&mut self, address: SocketAddr, log: &Path) {
        if let Err(why) = self.wait_until_listening(address) {
            panic!(
                "{} did not start: {why}\n--- its log ---\n{}",
                self.name,
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
    }
}

impl Drop for ServerGuard {
    fn drop(&mut self) {
        if self.leads_process_group {
            // Only a pid that leads its own group may be signalled as `-pid`.
            let _ = Command::new("kill")
                .args(["-s", "KILL", "--", &format!("-{}", self.child.id())])
                .stderr(Stdio::null())
                .status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        eprintln!("stopped {}", self.name);
    }
}

/// `fathom serve --addr <address> --config <config>` on the data dir `data`, BM25 only.
pub fn serve_command(data: &Path, config: &Path, address: SocketAddr) -> Command {
    let mut command = fathom(data);
    command
        .arg("serve")
        .arg("--addr")
        .arg(address.to_string())
        .arg("--config")
        .arg(config)
        .stdout(Stdio::null());
    command
}

/// Starts `fathom serve` (see [`serve_command`]) with its stderr in `log`, and returns once it
/// listens on `address`.
pub fn spawn_server(data: &Path, config: &Path, address: SocketAddr, log: &Path) -> ServerGuard {
    let mut command = serve_command(data, config, address);
    command.stderr(std::fs::File::create(log).unwrap());
    let mut server = ServerGuard::spawn("fathom serve", &mut command).expect("fathom serve starts");
    server.wait_for_listener(address, log);
    server
}

/// The value of an `Authorization` header for a bearer token.
pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// A tiny HTTP/1.1 client, one request per connection: the status and the body, as JSON or
/// else as a JSON string. `authorization` is the whole header value (see [`bearer`]).
pub fn request(
    address: SocketAddr,
    method: &str,
    path: &str,
    authorization: Option<&str>,
    body: Option<&Value>,
) -> (u16, Value) {
    let mut stream = TcpStream::connect(address).expect("server reachable");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let authorization = authorization
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nAccept: application/json\r\n{authorization}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let json = serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_string()));
    (status, json)
}

/// `node` in the repository root, with what every browser test reads from its environment:
/// where `fathom serve` listens, the Chromium to drive, and where to save screenshots.
pub fn browser_test_command(
    root: &Path,
    address: SocketAddr,
    chromium: &Path,
    artifacts: &Path,
) -> Command {
    let mut node = Command::new("node");
    node.current_dir(root)
        .env("FATHOM_E2E_BASE_URL", format!("http://{address}"))
        .env("FATHOM_E2E_ARTIFACTS", artifacts)
        .env("FATHOM_E2E_CHROMIUM", chromium);
    node
}

/// Panics unless the browser test run `what` passed, showing its output and `fathom serve`'s
/// `log`; returns its stdout.
pub fn assert_browser_test_passed(run: &Output, what: &str, log: &Path) -> String {
    let stdout = String::from_utf8_lossy(&run.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "{what} failed ({}):\n{stdout}\n{stderr}\n--- fathom serve log ---\n{}",
        run.status,
        std::fs::read_to_string(log).unwrap_or_default()
    );
    stdout
}

/// Writes the gateway's TOML configuration to `dir/gateway.toml` and returns its path.
pub fn write_gateway_config(dir: &Path, toml: &str) -> PathBuf {
    let config = dir.join("gateway.toml");
    std::fs::write(&config, toml).unwrap();
    config
}

/// What the browser tests need (Chromium, Node.js, `e2e/node_modules`): the Chromium to use, or
/// a panic that says what `test` lacks and how to get it.
pub fn browser_prerequisites(root: &Path, test: &str) -> PathBuf {
    let chromium = std::env::var_os("FATHOM_E2E_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        chromium.exists(),
        "{test} needs Chromium at {} (Debian: apt-get install -y chromium; \
         or set FATHOM_E2E_CHROMIUM); .ci/run installs it",
        chromium.display()
    );
    assert!(
        root.join("e2e/node_modules/playwright-core").is_dir(),
        "{test} needs e2e/node_modules: run `npm ci --prefix e2e` \
         (scripts/test.sh does when it is missing)"
    );
    let node = Command::new("node").arg("--version").output();
    assert!(
        node.is_ok_and(|o| o.status.success()),
        "{test} needs Node.js (node) on PATH"
    );
    chromium
}

/// The signing secret of the helpdesk tests' outbound webhooks.
pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

#[derive(Default)]
pub struct Received {
    /// Every delivery: (webhook-id, signature valid).
    pub deliveries: Vec<(String, bool)>,
    pub processed: Vec<String>,
}

/// A helpdesk on `listener` that verifies [`SECRET`]'s signatures and deduplicates by webhook-id.
pub fn spawn_receiver(listener: TcpListener) -> Arc<Mutex<Received>> {
    let received = Arc::new(Mutex::new(Received::default()));
    let state = Arc::clone(&received);
    let secret = WebhookSecret::parse(SECRET).unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut headers = Vec::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some((name, value)) = line.trim_end().split_once(':') {
                    headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
                }
            }
            let header = |name: &str| {
                headers
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            };
            let length: usize = header("content-length").parse().unwrap_or(0);
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let (id, timestamp, signature) = (
                header("webhook-id"),
                header("webhook-timestamp"),
                header("webhook-signature"),
            );
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs() as i64;
            let valid = SignedHeaders {
                id: &id,
                timestamp: &timestamp,
                signature: &signature,
            }
            .verify(&[&secret], &body, now)
            .is_ok();
            {
                let mut state = state.lock().unwrap();
                state.deliveries.push((id.clone(), valid));
                if valid && !state.processed.contains(&id) {
                    state.processed.push(id);
                }
            }
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    received
}
