//! The CLI beside a running `fathom serve` on the same data dir, as a newcomer meets it after
//! `scripts/run.sh`: the embedded index admits one process, so `search`, `ask`, `status` and
//! `ingest` go through the server (found from its record in the data dir), print what they
//! print without it, and a changed article ingested from the CLI is searchable in the server at
//! once. Other commands get an error that names the server and never advises deleting data.
//!
//! Real processes throughout: `fathom serve` and each CLI command are separate `fathom` processes
//! on the real embedded stack (qdrant-edge, the local MiniLM model).

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{
    assert_success, bearer, fathom_with_embedder, free_address, repo_root, request, wait_until,
    write_articles, write_gateway_config, ServerGuard,
};
use serde_json::{json, Value};
use tempfile::TempDir;

const WORKSPACE: &str = "acme";
const ADMIN_KEY: &str = "acme-admin-key-0123456789";

const PASSWORD: &str = "---\nid: reset-password\ntitle: Reset your password\n---\n\n# Reset your password\n\nClick Forgot password on the sign-in page. We email you a link; the link is valid for 60 minutes.\n";
const INVOICES: &str = "---\nid: invoices\ntitle: Pay by invoice\n---\n\n# Pay by invoice\n\nAnnual plans can be paid by invoice: ask billing for a purchase order form, then pay by bank transfer within 30 days.\n";
const EXPORT: &str = "---\nid: export-data\ntitle: Export your data\n---\n\n# Export your data\n\nOpen Settings, then Data, and click Export: you get a ZIP of CSV files by email within an hour.\n";
/// The password article, changed: a new step with a word nothing else contains.
const PASSWORD_CHANGED: &str = "---\nid: reset-password\ntitle: Reset your password\n---\n\n# Reset your password\n\nClick Forgot password on the sign-in page. We email you a link; the link is valid for 60 minutes.\n\n## No email arrived\n\nAsk your administrator to send a quokka recovery code instead.\n";

fn model_dir() -> PathBuf {
    std::env::var_os("FATHOM_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("models/all-minilm-l6-v2"))
}

/// `fathom` on `data` with MiniLM, as `scripts/run.sh` runs it.
fn fathom(data: &Path) -> Command {
    let mut command = fathom_with_embedder(data, "minilm");
    command.arg("--model-dir").arg(model_dir());
    command
}

fn output(command: &mut Command) -> Output {
    command.output().expect("fathom runs")
}

/// Stdout as JSON, once the command succeeded.
fn json_of(output: &Output, what: &str) -> Value {
    assert_success(output, what);
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{what}: stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

fn stderr_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The JSON's shape: every key path with the type found there (arrays by their first element).
fn shape(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), shape(v))).collect())
        }
        Value::Array(items) => Value::Array(items.first().map(shape).into_iter().collect()),
        Value::Null => json!("null"),
        Value::Bool(_) => json!("bool"),
        Value::Number(_) => json!("number"),
        Value::String(_) => json!("string"),
    }
}

/// The hits' article ids, best first.
fn hit_ids(search: &Value) -> Vec<String> {
    search["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["article_id"].as_str().unwrap().to_string())
        .collect()
}

struct Setup {
    dir: TempDir,
    articles: PathBuf,
    data: PathBuf,
    config: PathBuf,
}

/// Three articles ingested into `acme` (before any server runs), and a gateway config.
fn setup() -> Setup {
    let dir = TempDir::new().unwrap();
    let articles = dir.path().join("articles");
    write_articles(
        &articles,
        &[
            ("password.md", PASSWORD),
            ("invoices.md", INVOICES),
            ("export.md", EXPORT),
        ],
    );
    let data = dir.path().join("data");
    let ingested = json_of(
        &output(
            fathom(&data)
                .args(["ingest", "--workspace", WORKSPACE, "--json"])
                .arg(&articles),
        ),
        "the first ingest",
    );
    assert_eq!(ingested["added"].as_array().unwrap().len(), 3, "{ingested}");
    let config = write_gateway_config(
        dir.path(),
        &format!("[workspaces.{WORKSPACE}]\nadmin_key = \"{ADMIN_KEY}\"\n"),
    );
    Setup {
        dir,
        articles,
        data,
        config,
    }
}

/// `fathom serve` on the setup's data dir, listening on `address`, its stderr in `log`.
fn serve(setup: &Setup, address: SocketAddr, log: &Path) -> ServerGuard {
    let mut command = fathom(&setup.data);
    command
        .arg("serve")
        .arg("--addr")
        .arg(address.to_string())
        .arg("--config")
        .arg(&setup.config)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(log).unwrap());
    let mut server = ServerGuard::spawn("fathom serve", &mut command).expect("fathom serve starts");
    server.wait_for_listener(address, log);
    server
}

fn search(data: &Path, question: &str) -> Output {
    output(fathom(data).args(["search", "--workspace", WORKSPACE, "--json", question]))
}

fn ask(data: &Path, question: &str) -> Output {
    output(fathom(data).args(["ask", "--workspace", WORKSPACE, "--json", question]))
}

fn status(data: &Path) -> Output {
    output(fathom(data).args(["status", "--workspace", WORKSPACE, "--json"]))
}

const SEARCHED: &str = "how long is the password reset link valid?";
const ASKED: &str = "Can I pay the annual plan by invoice?";

#[test]
fn search_ask_status_and_ingest_go_through_the_running_server_with_the_same_output() {
    let setup = setup();
    let data = &setup.data;
    // What the commands print with the index to themselves.
    let local_search = json_of(&search(data, SEARCHED), "search without a server");
    let local_ask = json_of(&ask(data, ASKED), "ask without a server");
    let local_status = json_of(&status(data), "status without a server");

    let address = free_address();
    let log = setup.dir.path().join("serve.log");
    let mut server = serve(&setup, address, &log);
    let server_log = || std::fs::read_to_string(&log).unwrap_or_default();

    // The server says where it is; its token is for its owner only.
    let record: Value =
        serde_json::from_slice(&std::fs::read(data.join("server.json")).unwrap()).unwrap();
    assert_eq!(record["pid"], server.child().id(), "{record}");
    assert_eq!(record["url"], format!("http://{address}"), "{record}");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join("server.token"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "server.token is private: {mode:o}");
    }

    // search, ask and status from other processes: answers, through the server, same output.
    let through = search(data, SEARCHED);
    let served_search = json_of(&through, "search beside the server");
    assert!(
        stderr_of(&through).contains("through the running fathom serve"),
        "{}",
        stderr_of(&through)
    );
    assert_eq!(shape(&served_search), shape(&local_search));
    assert_eq!(hit_ids(&served_search), hit_ids(&local_search));
    assert_eq!(hit_ids(&served_search)[0], "reset-password");
    assert_eq!(
        served_search["hits"][0]["score"], local_search["hits"][0]["score"],
        "the same index, the same scores"
    );

    let served_ask = json_of(&ask(data, ASKED), "ask beside the server");
    assert_eq!(shape(&served_ask), shape(&local_ask), "{served_ask:#}");
    for field in ["decision", "reason", "answer", "citations", "confidence"] {
        assert_eq!(
            served_ask[field], local_ask[field],
            "{field}: {served_ask:#}"
        );
    }
    assert_eq!(served_ask["decision"], "answer", "{served_ask:#}");
    assert_eq!(served_ask["citations"][0]["article_id"], "invoices");

    let served_status = json_of(&status(data), "status beside the server");
    assert_eq!(served_status, local_status);
    assert_eq!(served_status["indexed_chunks"], served_status["chunks"]);

    // The text output, too.
    let text = output(fathom(data).args(["search", "--workspace", WORKSPACE, SEARCHED]));
    assert_success(&text, "search (text) beside the server");
    assert!(
        String::from_utf8_lossy(&text.stdout).contains("1. Reset your password  [reset-password]"),
        "{}",
        String::from_utf8_lossy(&text.stdout)
    );

    // A changed article, ingested from the CLI: the server syncs it, and it is searchable there
    // as soon as the command returns, by the CLI and by customers.
    std::fs::write(setup.articles.join("password.md"), PASSWORD_CHANGED).unwrap();
    let started = Instant::now();
    let ingested = json_of(
        &output(
            fathom(data)
                .args(["ingest", "--workspace", WORKSPACE, "--json"])
                .arg(&setup.articles),
        ),
        "ingest beside the server",
    );
    assert_eq!(ingested["updated"], json!(["reset-password"]), "{ingested}");
    assert_eq!(ingested["unchanged"], 2, "{ingested}");
    let found = json_of(
        &search(data, "quokka recovery code"),
        "search for the change",
    );
    let elapsed = started.elapsed();
    eprintln!(
        "changed article searchable through the server {elapsed:?} after `fathom ingest` started"
    );
    assert_eq!(hit_ids(&found)[0], "reset-password", "{found:#}");
    assert!(
        found["hits"][0]["text"]
            .as_str()
            .unwrap()
            .contains("quokka"),
        "{found:#}"
    );
    assert!(
        elapsed < Duration::from_secs(30),
        "searchable within seconds, took {elapsed:?}"
    );
    let (status_code, created) = request(
        address,
        "POST",
        "/v1/conversations",
        None,
        Some(&json!({ "workspace": WORKSPACE })),
    );
    assert_eq!(status_code, 201, "{created}");
    let (status_code, reply) = request(
        address,
        "POST",
        &format!(
            "/v1/conversations/{}/messages",
            created["conversation_id"].as_str().unwrap()
        ),
        Some(&bearer(created["customer_token"].as_str().unwrap())),
        Some(
            &json!({"text": "No email arrived to reset my password: how do I get a recovery code?"}),
        ),
    );
    assert_eq!(status_code, 200, "{reply}");
    assert!(
        reply["reply"]["text"]
            .as_str()
            .unwrap_or_default()
            .contains("quokka"),
        "the customer gets the changed article: {reply:#}"
    );

    // A command that needs the index to itself: the error names the server and what to do,
    // and does not advise deleting anything.
    let second = output(
        fathom(data)
            .arg("serve")
            .arg("--addr")
            .arg(free_address().to_string())
            .arg("--config")
            .arg(&setup.config),
    );
    assert!(!second.status.success());
    let error = stderr_of(&second);
    let pid = server.child().id().to_string();
    assert!(
        error.contains(&format!("pid {pid}"))
            && error.contains(&format!("http://{address}"))
            && error.contains("stop the server first")
            && error.contains("Nothing needs deleting"),
        "{error}"
    );
    assert!(!error.contains("delete data"), "{error}");

    // The wrong token is refused with its code; the record's token works with --server from
    // anywhere (another data dir).
    let wrong = output(
        fathom(data)
            .env("FATHOM_SERVER_TOKEN", "not-the-token")
            .args(["status", "--workspace", WORKSPACE, "--json"]),
    );
    assert!(!wrong.status.success());
    assert!(
        stderr_of(&wrong).contains("invalid_cli_token"),
        "{}",
        stderr_of(&wrong)
    );
    let token = std::fs::read_to_string(data.join("server.token")).unwrap();
    let elsewhere = setup.dir.path().join("elsewhere");
    let named = json_of(
        &output(
            fathom(&elsewhere)
                .arg("--server")
                .arg(format!("http://{address}"))
                .arg("--server-token")
                .arg(token.trim())
                .args(["status", "--workspace", WORKSPACE, "--json"]),
        ),
        "status with --server",
    );
    assert_eq!(
        named["indexed_articles"].as_array().unwrap().len(),
        3,
        "{named}"
    );

    // A graceful stop removes the record; the CLI then opens the index itself.
    Command::new("kill")
        .args(["-s", "TERM", &pid])
        .status()
        .unwrap();
    let stopped = server.child().wait().unwrap();
    assert!(stopped.success(), "{stopped}\n{}", server_log());
    assert!(!data.join("server.json").exists());
    assert!(!data.join("server.token").exists());
    let after = search(data, "quokka recovery code");
    assert_eq!(
        hit_ids(&json_of(&after, "search after the server stopped"))[0],
        "reset-password"
    );
    assert!(!stderr_of(&after).contains("through the running"));
}

/// A server killed without cleaning up leaves its record: the next command finds nobody at the
/// address and opens the index itself (the lock died with the process).
#[test]
fn a_killed_servers_record_does_not_stand_in_the_way() {
    let setup = setup();
    let address = free_address();
    let log = setup.dir.path().join("serve.log");
    let mut server = serve(&setup, address, &log);
    server.sigkill();
    assert!(setup.data.join("server.json").exists());
    wait_until(
        "the killed server's port to close",
        Duration::from_secs(10),
        &String::new,
        || std::net::TcpStream::connect(address).is_err(),
    );

    let found = json_of(&search(&setup.data, SEARCHED), "search after a SIGKILL");
    assert_eq!(hit_ids(&found)[0], "reset-password");
    let status = json_of(&status(&setup.data), "status after a SIGKILL");
    assert_eq!(status["indexed_articles"].as_array().unwrap().len(), 3);
}
