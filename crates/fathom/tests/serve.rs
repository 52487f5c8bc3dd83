//! `fathom serve` as a process: SIGKILL it while the helpdesk is unreachable, restart it on the
//! same data folder, and every webhook event arrives, each id processed once by a deduplicating
//! receiver. Plain HTTP/1.1 over std sockets on loopback, so this needs nothing but the binary.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fathom_gateway::signing::SignedHeaders;
use fathom_gateway::WebhookSecret;
use serde_json::{json, Value};
use tempfile::TempDir;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const ADMIN_KEY: &str = "acme-admin-key-0123456789";

fn free_address() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn fathom(data: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fathom"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .arg("--data-dir")
        .arg(data)
        .arg("--embedder")
        .arg("none");
    cmd
}

/// A tiny HTTP/1.1 client: one request per connection.
fn request(
    address: SocketAddr,
    method: &str,
    path: &str,
    auth: Option<&str>,
    body: Option<&Value>,
) -> (u16, Value) {
    let mut stream = TcpStream::connect(address).expect("gateway reachable");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let auth = auth
        .map(|a| format!("Authorization: Bearer {a}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
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
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

fn wait_until(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let started = Instant::now();
    while started.elapsed() < timeout {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for {what}");
}

fn serve(data: &Path, config: &Path, address: SocketAddr) -> Child {
    let child = fathom(data)
        .arg("serve")
        .arg("--addr")
        .arg(address.to_string())
        .arg("--config")
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("fathom serve starts");
    wait_until("the gateway to listen", Duration::from_secs(30), || {
        TcpStream::connect(address).is_ok()
    });
    child
}

#[derive(Default)]
struct Received {
    /// Every delivery: (webhook-id, signature valid).
    deliveries: Vec<(String, bool)>,
    processed: Vec<String>,
}

/// A helpdesk that verifies signatures and deduplicates by webhook-id.
fn spawn_receiver(listener: TcpListener) -> Arc<Mutex<Received>> {
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

#[test]
fn events_survive_a_sigkill_while_the_helpdesk_is_down_and_arrive_once_each_after_a_restart() {
    let dir = TempDir::new().unwrap();
    let articles = dir.path().join("articles");
    std::fs::create_dir_all(&articles).unwrap();
    std::fs::write(
        articles.join("password.md"),
        "---\nid: reset-password\ntitle: Reset your password\n---\n\n# Reset your password\n\nClick Forgot password on the sign-in page; the link is valid for 60 minutes.\n",
    )
    .unwrap();
    let data = dir.path().join("data");
    let ingest = fathom(&data)
        .args(["ingest", "--workspace", "acme"])
        .arg(&articles)
        .output()
        .unwrap();
    assert!(
        ingest.status.success(),
        "{}",
        String::from_utf8_lossy(&ingest.stderr)
    );
    let helpdesk = free_address();
    let config = dir.path().join("gateway.toml");
    std::fs::write(
        &config,
        format!(
            "[outbox]\ninitial_backoff = 0.1\nmax_backoff = 0.5\n\n[workspaces.acme]\nadmin_key = \"{ADMIN_KEY}\"\n\n[workspaces.acme.webhook]\nurl = \"http://{helpdesk}/hooks\"\nsecrets = [\"{SECRET}\"]\n"
        ),
    )
    .unwrap();
    let gateway = free_address();
    let mut first = serve(&data, &config, gateway);

    // Three conversations hand off and go on talking while the helpdesk is down.
    for _ in 0..3 {
        let (status, created) = request(
            gateway,
            "POST",
            "/v1/conversations",
            None,
            Some(&json!({"workspace": "acme"})),
        );
        assert_eq!(status, 201, "{created}");
        let path = format!(
            "/v1/conversations/{}/messages",
            created["conversation_id"].as_str().unwrap()
        );
        let token = created["customer_token"].as_str().unwrap();
        let (status, reply) = request(
            gateway,
            "POST",
            &path,
            Some(token),
            Some(&json!({"text": "I want to talk to a person"})),
        );
        assert_eq!(
            (status, reply["state"].as_str()),
            (200, Some("handed_off")),
            "{reply}"
        );
        let (status, _) = request(
            gateway,
            "POST",
            &path,
            Some(token),
            Some(&json!({"text": "it is about my invoice"})),
        );
        assert_eq!(status, 202);
    }
    let outbox_ids = |address| -> Vec<(String, String, u64)> {
        let (_, outbox) = request(address, "GET", "/v1/admin/outbox", Some(ADMIN_KEY), None);
        outbox["events"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|e| {
                (
                    e["id"].as_str().unwrap_or_default().to_string(),
                    e["status"].as_str().unwrap_or_default().to_string(),
                    e["attempts"].as_u64().unwrap_or(0),
                )
            })
            .collect()
    };
    wait_until(
        "each conversation's first event to fail",
        Duration::from_secs(20),
        || {
            // A conversation's later events wait for its first: delivery is in order.
            let events = outbox_ids(gateway);
            events.len() == 6
                && events.iter().all(|(_, status, _)| status == "pending")
                && events
                    .iter()
                    .filter(|(_, _, attempts)| *attempts >= 1)
                    .count()
                    == 3
        },
    );
    let written: BTreeSet<String> = outbox_ids(gateway)
        .into_iter()
        .map(|(id, _, _)| id)
        .collect();

    // SIGKILL, the helpdesk comes up, and the gateway restarts on the same data folder.
    first.kill().unwrap();
    first.wait().unwrap();
    let received = spawn_receiver(TcpListener::bind(helpdesk).unwrap());
    let mut second = serve(&data, &config, gateway);

    wait_until(
        "every event to be delivered",
        Duration::from_secs(30),
        || {
            let events = outbox_ids(gateway);
            events.len() == 6 && events.iter().all(|(_, status, _)| status == "delivered")
        },
    );
    let _ = second.kill();
    let _ = second.wait();
    let received = received.lock().unwrap();
    let processed: BTreeSet<String> = received.processed.iter().cloned().collect();
    assert_eq!(
        processed, written,
        "every event written before the kill arrived"
    );
    assert_eq!(received.processed.len(), 6, "each id processed once");
    assert!(
        received.deliveries.iter().all(|(_, valid)| *valid),
        "every delivery was signed"
    );
}
