//! The support-lead console in a real headless Chromium: start the real `fathom serve` (BM25
//! only) over a small help center, drive conversations through the customer API (answers,
//! handoffs, 👍 and 👎 with comments, a confirmation), put `fathom eval --html` reports in the
//! workspace's report folder, and run `e2e/console.test.mjs` (Playwright driving Debian's
//! `chromium`), which checks that the page shows what the store holds and what was seeded here.
//!
//! Needs `chromium`, Node.js and `e2e/node_modules` (`.ci/run` and `scripts/test.sh` install
//! them); without them this test fails and says what to install.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{json, Value};
use tempfile::TempDir;

const ADMIN_KEY: &str = "acme-console-admin-key-0123456789";
const OTHER_ADMIN_KEY: &str = "globex-console-admin-key-0123456789";
/// Shown literally on the page, never run.
const HOSTILE_COMMENT: &str = "Wrong article <img src=x onerror=\"window.__xss='comment'\">";
const OTHER_WORKSPACE_COMMENT: &str = "globex-only comment, never on acme's console";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn knowledge_fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/eval-mini")
}

fn free_address() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .expect("a free loopback port")
        .local_addr()
        .expect("its address")
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

fn run_ok(command: &mut Command, what: &str) {
    let output = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// What the browser tests need, or a panic that says how to get it.
fn browser_prerequisites(root: &Path) -> PathBuf {
    let chromium = std::env::var_os("FATHOM_E2E_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        chromium.exists(),
        "the console's browser test needs Chromium at {} (Debian: apt-get install -y chromium; \
         or set FATHOM_E2E_CHROMIUM)",
        chromium.display()
    );
    assert!(
        root.join("e2e/node_modules/playwright-core").is_dir(),
        "the console's browser test needs e2e/node_modules: run `npm ci --prefix e2e`"
    );
    let node = Command::new("node").arg("--version").output();
    assert!(
        node.is_ok_and(|o| o.status.success()),
        "the console's browser test needs Node.js (node) on PATH"
    );
    chromium
}

/// `fathom serve`, killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for_listener(address: SocketAddr, server: &mut Server, log: &Path) {
    let started = Instant::now();
    while TcpStream::connect(address).is_err() {
        if let Ok(Some(status)) = server.0.try_wait() {
            panic!(
                "fathom serve exited ({status}):\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "fathom serve did not listen on {address} within 60 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A tiny HTTP/1.1 client (one request per connection): status and JSON body.
fn request(address: SocketAddr, path: &str, bearer: Option<&str>, body: &Value) -> (u16, Value) {
    let mut stream = TcpStream::connect(address).expect("gateway reachable");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let body = body.to_string();
    let auth = bearer
        .map(|token| format!("Authorization: Bearer {token}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
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

struct Customer {
    address: SocketAddr,
    id: String,
    token: String,
}

impl Customer {
    fn start(address: SocketAddr, workspace: &str) -> Self {
        let (status, body) = request(
            address,
            "/v1/conversations",
            None,
            &json!({"workspace": workspace, "customer": {"name": "Ada", "plan": "annual"}}),
        );
        assert_eq!(status, 201, "{body}");
        Self {
            address,
            id: body["conversation_id"].as_str().unwrap().to_string(),
            token: body["customer_token"].as_str().unwrap().to_string(),
        }
    }

    /// Ask; the bot's reply (decision, reason, seq).
    fn ask(&self, text: &str) -> Value {
        let (status, body) = request(
            self.address,
            &format!("/v1/conversations/{}/messages", self.id),
            Some(&self.token),
            &json!({ "text": text }),
        );
        assert_eq!(status, 200, "{text}: {body}");
        body["reply"].clone()
    }

    fn feedback(&self, feedback: Value) {
        let (status, body) = request(
            self.address,
            &format!("/v1/conversations/{}/feedback", self.id),
            Some(&self.token),
            &feedback,
        );
        assert_eq!(status, 200, "{feedback}: {body}");
    }
}

fn answered(reply: &Value, question: &str) -> i64 {
    assert_eq!(reply["decision"], "answer", "{question}: {reply:#}");
    reply["seq"].as_i64().unwrap()
}

fn handed_off(reply: &Value, question: &str) -> String {
    assert_eq!(reply["decision"], "handoff", "{question}: {reply:#}");
    reply["reason"].as_str().unwrap().to_string()
}

#[test]
fn the_console_shows_what_the_store_holds_in_a_real_browser() {
    let root = repo_root();
    let chromium = browser_prerequisites(&root);

    // Arrange: a small help center for two workspaces, BM25 only.
    let dir = TempDir::new().unwrap();
    let data = dir.path().join("data");
    let articles = knowledge_fixture().join("articles");
    for workspace in ["acme", "globex"] {
        run_ok(
            fathom(&data)
                .args(["ingest", "--workspace", workspace])
                .arg(&articles),
            "fathom ingest",
        );
    }
    // Two real eval reports; the newer one must be listed first.
    let reports = data.join("eval-reports").join("acme");
    std::fs::create_dir_all(&reports).unwrap();
    let (older_report, newer_report) = ("eval-mini-baseline.html", "eval-mini-latest.html");
    for name in [older_report, newer_report] {
        run_ok(
            fathom(&dir.path().join("eval-data"))
                .arg("eval")
                .arg(knowledge_fixture())
                .arg("--html")
                .arg(reports.join(name)),
            "fathom eval --html",
        );
    }
    std::fs::File::options()
        .write(true)
        .open(reports.join(older_report))
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(86_400))
        .unwrap();

    let config = dir.path().join("gateway.toml");
    std::fs::write(
        &config,
        format!(
            "[workspaces.acme]\nadmin_key = \"{ADMIN_KEY}\"\n\n[workspaces.globex]\nadmin_key = \"{OTHER_ADMIN_KEY}\"\n"
        ),
    )
    .unwrap();
    let address = free_address();
    let log = dir.path().join("serve.log");
    let mut server = Server(
        fathom(&data)
            .arg("serve")
            .arg("--addr")
            .arg(address.to_string())
            .arg("--config")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("fathom serve starts"),
    );
    wait_for_listener(address, &mut server, &log);

    // Seed acme: 7 conversations. Resolved: 👍 (1) and "this solved it" (3). Unresolved: 👎 (2)
    // and three handoffs (4, 5, 6). Pending (inside the 24-hour quiet window): 7.
    let liked = Customer::start(address, "acme");
    let question = "How do I reset my password? I forgot it.";
    let seq = answered(&liked.ask(question), question);
    liked.feedback(json!({"rating": "up", "message_seq": seq, "comment": "Clear steps, thanks!"}));

    let disliked = Customer::start(address, "acme");
    let question = "How do I get a refund for my annual plan?";
    let seq = answered(&disliked.ask(question), question);
    disliked.feedback(json!({"rating": "down", "message_seq": seq, "comment": HOSTILE_COMMENT}));

    let confirmed = Customer::start(address, "acme");
    let question = "How do I export all my projects?";
    answered(&confirmed.ask(question), question);
    confirmed.feedback(json!({"resolved": true}));

    let mut handoffs: std::collections::BTreeMap<String, u64> = Default::default();
    let wants_a_person = Customer::start(address, "acme");
    let question = "I want to talk to a human please";
    *handoffs
        .entry(handed_off(&wants_a_person.ask(question), question))
        .or_default() += 1;
    let mut kubernetes = Vec::new();
    for question in [
        "Does the Kubernetes operator support ARM64 nodes?",
        "Can the Kubernetes operator run on ARM64 nodes in Frankfurt?",
    ] {
        let customer = Customer::start(address, "acme");
        *handoffs
            .entry(handed_off(&customer.ask(question), question))
            .or_default() += 1;
        kubernetes.push(customer.id);
    }

    let pending = Customer::start(address, "acme");
    let question = "How do I reset my password? I forgot it.";
    answered(&pending.ask(question), question);

    // globex: what acme's console must never show.
    let other = Customer::start(address, "globex");
    other.ask("I want to talk to a human please");
    other.feedback(json!({"rating": "down", "comment": OTHER_WORKSPACE_COMMENT}));

    let expected = json!({
        "conversations": 7,
        "resolved": 2,
        "unresolved": 4,
        "pending": 1,
        "handoffs_total": 3,
        "handoffs_by_reason": handoffs,
        "feedback_up": 1,
        "feedback_down": 1,
        "comments": ["Clear steps, thanks!", HOSTILE_COMMENT],
        "foreign_comment": OTHER_WORKSPACE_COMMENT,
        "answered_conversation": liked.id,
        "handed_off_conversation": kubernetes[0],
        "similar_unanswered": kubernetes,
        "newest_report": newer_report,
        "reports": [newer_report, older_report],
    });

    // Act: the browser scenarios.
    let artifacts = root.join("target/e2e-artifacts");
    let started = Instant::now();
    let run = Command::new("node")
        .arg("--test-reporter=spec")
        .arg(root.join("e2e/console.test.mjs"))
        .current_dir(&root)
        .env("FATHOM_E2E_BASE_URL", format!("http://{address}"))
        .env("FATHOM_E2E_ADMIN_KEY", ADMIN_KEY)
        .env("FATHOM_E2E_OTHER_ADMIN_KEY", OTHER_ADMIN_KEY)
        .env("FATHOM_E2E_EXPECTED", expected.to_string())
        .env("FATHOM_E2E_ARTIFACTS", &artifacts)
        .env("FATHOM_E2E_CHROMIUM", &chromium)
        .output()
        .expect("node runs");
    drop(server);

    // Assert
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "console browser test failed ({}):\n{stdout}\n{stderr}\n--- fathom serve log ---\n{}",
        run.status,
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    eprintln!(
        "console browser test passed in {:.1} s; screenshot in {}",
        started.elapsed().as_secs_f64(),
        artifacts.join("console.png").display()
    );
    assert!(artifacts.join("console.png").is_file(), "console.png saved");
}
