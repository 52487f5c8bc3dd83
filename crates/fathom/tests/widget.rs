//! The chat widget in a real headless Chromium: ingest `knowledge/` plus an article full of XSS
//! payloads, start the real `fathom serve`, and run the browser scenarios of
//! `e2e/widget.test.mjs` (Playwright driving Debian's `chromium`) against it.
//!
//! Needs `chromium` and `e2e/node_modules` (`.ci/run` and `scripts/test.sh` install them); without
//! them this test fails and says what to install.

mod common;

use std::time::Instant;

use common::{
    assert_browser_test_passed, browser_prerequisites, browser_test_command, copy_dir,
    free_address, free_port, ingest, repo_root, spawn_server, write_gateway_config,
};
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

#[test]
fn the_chat_widget_works_in_a_real_browser_against_fathom_serve() {
    let root = repo_root();
    let chromium = browser_prerequisites(&root, "the widget's browser tests");

    // Arrange: the sample help center plus the payload article, ingested BM25-only for speed.
    let dir = TempDir::new().unwrap();
    let knowledge = dir.path().join("knowledge");
    copy_dir(&root.join("knowledge"), &knowledge);
    std::fs::write(knowledge.join("zephyr-sensor.md"), XSS_ARTICLE).unwrap();
    let data = dir.path().join("data");
    ingest(&data, WORKSPACE, &knowledge);

    let allowed_port = free_port();
    let config = write_gateway_config(
        dir.path(),
        &format!(
            "[workspaces.{WORKSPACE}]\nadmin_key = \"{ADMIN_KEY}\"\ninbound_secret = \"{INBOUND_SECRET}\"\nallowed_origins = [\"http://localhost:{allowed_port}\"]\n\n\
             [workspaces.{OTHER_WORKSPACE}]\nadmin_key = \"globex-admin-key-0123456789\"\nallowed_origins = [\"https://globex.example\"]\n"
        ),
    );
    let address = free_address();
    let log = dir.path().join("serve.log");
    let server = spawn_server(&data, &config, address, &log);

    // Act: the browser scenarios.
    let artifacts = root.join("target/e2e-artifacts");
    let started = Instant::now();
    let run = browser_test_command(&root, address, &chromium, &artifacts)
        .arg("--test")
        .arg("--test-reporter=spec")
        .arg(root.join("e2e/widget.test.mjs"))
        .env("FATHOM_E2E_WORKSPACE", WORKSPACE)
        .env("FATHOM_E2E_OTHER_WORKSPACE", OTHER_WORKSPACE)
        .env("FATHOM_E2E_ADMIN_KEY", ADMIN_KEY)
        .env("FATHOM_E2E_INBOUND_SECRET", INBOUND_SECRET)
        .env("FATHOM_E2E_ALLOWED_PORT", allowed_port.to_string())
        .output()
        .expect("node runs");
    drop(server);

    // Assert
    let stdout = assert_browser_test_passed(&run, "browser tests", &log);
    eprintln!(
        "{stdout}\nbrowser tests passed in {:.1} s; screenshots in {}",
        started.elapsed().as_secs_f64(),
        artifacts.display()
    );
    for screenshot in [
        "widget-desktop-1280x800.png",
        "widget-mobile-390x844.png",
        "widget-feedback.png",
        "widget-icon-feedback.png",
        "widget-icon-launcher.png",
    ] {
        assert!(artifacts.join(screenshot).is_file(), "{screenshot} saved");
    }
}
