//! schemathesis (PyPI) against a real `fathom serve`: requests generated from the OpenAPI
//! document for every operation, with both kinds of credentials and a real conversation, for a
//! bounded time. It must find no server error, no status the document does not list and no
//! response in another content type than documented (`e2e/schemathesis/run.sh`).
//!
//! schemathesis must be installable (`scripts/test-deps.sh` runs `e2e/schemathesis/run.sh
//! install`); if it cannot run, this test fails and says why.

mod common;

use std::process::Command;

use common::{
    bearer, free_address, ingest, repo_root, request, spawn_server, write_articles,
    write_gateway_config,
};
use serde_json::json;
use tempfile::TempDir;

const ADMIN_KEY: &str = "acme-admin-key-0123456789";
/// How long schemathesis generates requests for (its `--max-time`), in seconds.
const BUDGET_SECS: &str = "90";

#[test]
fn schemathesis_finds_no_server_error_and_no_undocumented_status() {
    let dir = TempDir::new().unwrap();
    let data = dir.path().join("data");
    let articles = dir.path().join("articles");
    write_articles(
        &articles,
        &[(
            "password.md",
            "---\nid: reset-password\ntitle: Reset your password\n---\n\n# Reset your password\n\nClick Forgot password on the sign-in page; the link is valid for 60 minutes.\n",
        )],
    );
    ingest(&data, "acme", &articles);
    // Generous limits: schemathesis is one client sending as fast as it can, and 429s (which
    // are documented) would only hide the other answers.
    let config = write_gateway_config(
        dir.path(),
        &format!(
            "[rate_limits]\ncustomer_per_minute = 100000\nworkspace_per_second = 100000\nclient_per_second = 100000\nclient_burst = 100000\nclient_conversations_per_minute = 100000\n\n\
             [workspaces.acme]\nadmin_key = \"{ADMIN_KEY}\"\ninbound_secret = \"whsec_aW5ib3VuZC1zZWNyZXQtZm9yLXRlc3Rz\"\n"
        ),
    );
    let address = free_address();
    let _server = spawn_server(&data, &config, address, &dir.path().join("serve.log"));
    let (status, created) = request(
        address,
        "POST",
        "/v1/conversations",
        None,
        Some(&json!({"workspace": "acme", "customer": {"name": "Ada"}})),
    );
    assert_eq!(status, 201, "{created}");
    let (status, _) = request(
        address,
        "GET",
        &format!(
            "/v1/conversations/{}",
            created["conversation_id"].as_str().unwrap()
        ),
        Some(&bearer(created["customer_token"].as_str().unwrap())),
        None,
    );
    assert_eq!(status, 200);

    let script = repo_root().join("e2e/schemathesis/run.sh");
    let output = Command::new(&script)
        .args(["check", &format!("http://{address}"), BUDGET_SECS])
        .env("FATHOM_ADMIN_KEY", ADMIN_KEY)
        .env(
            "FATHOM_CUSTOMER_TOKEN",
            created["customer_token"].as_str().unwrap(),
        )
        .env(
            "FATHOM_CONVERSATION_ID",
            created["conversation_id"].as_str().unwrap(),
        )
        .output()
        .unwrap_or_else(|error| panic!("{} could not run: {error}", script.display()));

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "schemathesis found problems ({}):\n{stdout}\n{stderr}\n--- server log ---\n{}\n\
         (CI installs schemathesis with `e2e/schemathesis/run.sh install`; it needs python3 with venv and PyPI)",
        output.status,
        std::fs::read_to_string(dir.path().join("serve.log")).unwrap_or_default()
    );
    println!("{stdout}");
}
