//! The chat widget in a real headless Chromium: ingest `knowledge/` plus an article full of XSS
//! payloads, start the real `fathom serve`, and run the browser scenarios of
//! `e2e/widget.test.mjs` (Playwright driving Debian's `chromium`) against it.
//!
//! Needs `chromium` and `e2e/node_modules` (`.ci/run` and `scripts/test.sh` install them); without
//! them this test fails and says what to install.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

const WORKSPACE: &str = "acme";
/// A second workspace, whose allowed origins are not acme's.
const OTHER_WORKSPACE: &str = "globex";
const ADMIN_KEY: &str = "acme-admin-key-0123456789";
const INBOUND_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// An article whose title, url and body are XSS payloads: the answer quotes it, the citation
/// names it, and none of it may run in the widget.
const XSS_ARTICLE: &str = r#"---
id: zephyr-sensor-calibration
title: "Calibrate the zephyr sensor <img src=x onerror=\"window.__xss='article-title'\">"
url: "javascript:window.__xss='citation-url'"
---

# Calibrate the zephyr sensor

To calibrate the zephyr sensor, hold the zephyr reset key <img src=x onerror="window.__xss='article-body'"> for ten seconds <script>window.__xss='article-script'</script> until the zephyr light blinks. The [zephyr calibration manual](javascript:window.__xss='article-link') lists every zephyr sensor calibration step.
"#;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the repository root")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("a free loopback port")
        .local_addr()
        .expect("its address")
        .port()
}

fn copy_dir(from: &Path, to: &Path) {
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

/// What the browser tests need, or a panic that says how to get it.
fn browser_prerequisites(root: &Path) -> PathBuf {
    let chromium = std::env::var_os("FATHOM_E2E_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        chromium.exists(),
        "the widget's browser tests need Chromium at {} (Debian: apt-get install -y chromium; \
         or set FATHOM_E2E_CHROMIUM); .ci/run installs it",
        chromium.display()
    );
    assert!(
        root.join("e2e/node_modules/playwright-core").is_dir(),
        "the widget's browser tests need e2e/node_modules: run `npm ci --prefix e2e` \
         (scripts/test.sh does when it is missing)"
    );
    let node = Command::new("node").arg("--version").output();
    assert!(
        node.is_ok_and(|o| o.status.success()),
        "the widget's browser tests need Node.js (node) on PATH"
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

#[test]
fn the_chat_widget_works_in_a_real_browser_against_fathom_serve() {
    let root = repo_root();
    let chromium = browser_prerequisites(&root);

    // Arrange: the sample help center plus the payload article, ingested BM25-only for speed.
    let dir = TempDir::new().unwrap();
    let knowledge = dir.path().join("knowledge");
    copy_dir(&root.join("knowledge"), &knowledge);
    std::fs::write(knowledge.join("zephyr-sensor.md"), XSS_ARTICLE).unwrap();
    let data = dir.path().join("data");
    let ingest = fathom(&data)
        .args(["ingest", "--workspace", WORKSPACE])
        .arg(&knowledge)
        .output()
        .unwrap();
    assert!(
        ingest.status.success(),
        "ingest failed:\n{}",
        String::from_utf8_lossy(&ingest.stderr)
    );

    let allowed_port = free_port();
    let config = dir.path().join("gateway.toml");
    std::fs::write(
        &config,
        format!(
            "[workspaces.{WORKSPACE}]\nadmin_key = \"{ADMIN_KEY}\"\ninbound_secret = \"{INBOUND_SECRET}\"\nallowed_origins = [\"http://localhost:{allowed_port}\"]\n\n\
             [workspaces.{OTHER_WORKSPACE}]\nadmin_key = \"globex-admin-key-0123456789\"\nallowed_origins = [\"https://globex.example\"]\n"
        ),
    )
    .unwrap();
    let address = SocketAddr::from(([127, 0, 0, 1], free_port()));
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

    // Act: the browser scenarios.
    let artifacts = root.join("target/e2e-artifacts");
    let started = Instant::now();
    let run = Command::new("node")
        .arg("--test")
        .arg("--test-reporter=spec")
        .arg(root.join("e2e/widget.test.mjs"))
        .current_dir(&root)
        .env("FATHOM_E2E_BASE_URL", format!("http://{address}"))
        .env("FATHOM_E2E_WORKSPACE", WORKSPACE)
        .env("FATHOM_E2E_OTHER_WORKSPACE", OTHER_WORKSPACE)
        .env("FATHOM_E2E_ADMIN_KEY", ADMIN_KEY)
        .env("FATHOM_E2E_INBOUND_SECRET", INBOUND_SECRET)
        .env("FATHOM_E2E_ALLOWED_PORT", allowed_port.to_string())
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
        "browser tests failed ({}):\n{stdout}\n{stderr}\n--- fathom serve log ---\n{}",
        run.status,
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    eprintln!(
        "{stdout}\nbrowser tests passed in {:.1} s; screenshots in {}",
        started.elapsed().as_secs_f64(),
        artifacts.display()
    );
    for screenshot in ["widget-desktop-1280x800.png", "widget-mobile-390x844.png"] {
        assert!(artifacts.join(screenshot).is_file(), "{screenshot} saved");
    }
}
