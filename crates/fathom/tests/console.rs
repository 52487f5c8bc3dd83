//! The support-lead console in a real headless Chromium: start the real `fathom serve` (BM25
//! only) over a small help center, drive conversations through the customer API (answers,
//! handoffs, 👍 and 👎 with comments, a confirmation), put `fathom eval --html` reports in the
//! workspace's report folder, and run `e2e/console.test.mjs` (Playwright driving Debian's
//! `chromium`), which checks that the page shows what the store holds and what was seeded here.
//!
//! Needs `chromium`, Node.js and `e2e/node_modules` (`.ci/run` and `scripts/test.sh` install
//! them); without them this test fails and says what to install.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use common::{
    assert_browser_test_passed, bearer, browser_prerequisites, browser_test_command, fathom,
    free_address, ingest, repo_root, request, run_ok, spawn_server, write_gateway_config,
};
use serde_json::{json, Value};
use tempfile::TempDir;

const ADMIN_KEY: &str = "acme-console-admin-key-0123456789";
const OTHER_ADMIN_KEY: &str = "globex-console-admin-key-0123456789";
/// Shown literally on the page, never run.
const HOSTILE_COMMENT: &str = "Wrong article <img src=x onerror=\"window.__xss='comment'\">";
const OTHER_WORKSPACE_COMMENT: &str = "globex-only comment, never on acme's console";

fn knowledge_fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/eval-mini")
}

/// A POST with a JSON body, as the customer with `token` if given.
fn post(address: SocketAddr, path: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
    let authorization = token.map(bearer);
    request(address, "POST", path, authorization.as_deref(), Some(body))
}

struct Customer {
    address: SocketAddr,
    id: String,
    token: String,
}

impl Customer {
    fn start(address: SocketAddr, workspace: &str) -> Self {
        let (status, body) = post(
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
        let (status, body) = post(
            self.address,
            &format!("/v1/conversations/{}/messages", self.id),
            Some(&self.token),
            &json!({ "text": text }),
        );
        assert_eq!(status, 200, "{text}: {body}");
        body["reply"].clone()
    }

    fn feedback(&self, feedback: Value) {
        let (status, body) = post(
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
    let chromium = browser_prerequisites(&root, "the console's browser test");

    // Arrange: a small help center for two workspaces, BM25 only.
    let dir = TempDir::new().unwrap();
    let data = dir.path().join("data");
    let articles = knowledge_fixture().join("articles");
    for workspace in ["acme", "globex"] {
        ingest(&data, workspace, &articles);
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

    let config = write_gateway_config(
        dir.path(),
        &format!(
            "[workspaces.acme]\nadmin_key = \"{ADMIN_KEY}\"\n\n[workspaces.globex]\nadmin_key = \"{OTHER_ADMIN_KEY}\"\n"
        ),
    );
    let address = free_address();
    let log = dir.path().join("serve.log");
    let server = spawn_server(&data, &config, address, &log);

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
    let run = browser_test_command(&root, address, &chromium, &artifacts)
        .arg("--test-reporter=spec")
        .arg(root.join("e2e/console.test.mjs"))
        .env("FATHOM_E2E_ADMIN_KEY", ADMIN_KEY)
        .env("FATHOM_E2E_OTHER_ADMIN_KEY", OTHER_ADMIN_KEY)
        .env("FATHOM_E2E_EXPECTED", expected.to_string())
        .output()
        .expect("node runs");
    drop(server);

    // Assert
    assert_browser_test_passed(&run, "console browser test", &log);
    eprintln!(
        "console browser test passed in {:.1} s; screenshot in {}",
        started.elapsed().as_secs_f64(),
        artifacts.join("console.png").display()
    );
    for screenshot in [
        "console.png",
        "console-feedback.png",
        "console-icon-thumbs-up.png",
        "console-icon-feedback-item.png",
    ] {
        assert!(artifacts.join(screenshot).is_file(), "{screenshot} saved");
    }
}
