//! `fathom serve` as a process: SIGKILL it while the helpdesk is unreachable, restart it on the
//! same data folder, and every webhook event arrives, each id processed once by a deduplicating
//! receiver. Plain HTTP/1.1 over std sockets on loopback, so this needs nothing but the binary.

mod common;

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::time::Duration;

use common::{
    bearer, free_address, ingest, request, spawn_receiver, spawn_server, wait_until,
    write_articles, write_gateway_config, SECRET,
};
use serde_json::json;
use tempfile::TempDir;

const ADMIN_KEY: &str = "acme-admin-key-0123456789";

/// A temporary folder whose data dir holds one password article in each of `workspaces`.
fn password_article_in(workspaces: &[&str]) -> (TempDir, std::path::PathBuf) {
    let dir = TempDir::new().unwrap();
    let articles = dir.path().join("articles");
    write_articles(
        &articles,
        &[(
            "password.md",
            "---\nid: reset-password\ntitle: Reset your password\n---\n\n# Reset your password\n\nClick Forgot password on the sign-in page; the link is valid for 60 minutes.\n",
        )],
    );
    let data = dir.path().join("data");
    for workspace in workspaces {
        ingest(&data, workspace, &articles);
    }
    (dir, data)
}

#[test]
fn events_survive_a_sigkill_while_the_helpdesk_is_down_and_arrive_once_each_after_a_restart() {
    let (dir, data) = password_article_in(&["acme"]);
    let helpdesk = free_address();
    let config = write_gateway_config(
        dir.path(),
        &format!(
            "[outbox]\ninitial_backoff = 0.1\nmax_backoff = 0.5\n\n[workspaces.acme]\nadmin_key = \"{ADMIN_KEY}\"\n\n[workspaces.acme.webhook]\nurl = \"http://{helpdesk}/hooks\"\nsecrets = [\"{SECRET}\"]\n"
        ),
    );
    let gateway = free_address();
    let mut first = spawn_server(&data, &config, gateway, &dir.path().join("serve-1.log"));

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
            Some(&bearer(token)),
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
            Some(&bearer(token)),
            Some(&json!({"text": "it is about my invoice"})),
        );
        assert_eq!(status, 202);
    }
    let outbox_ids = |address| -> Vec<(String, String, u64)> {
        let (_, outbox) = request(
            address,
            "GET",
            "/v1/admin/outbox",
            Some(&bearer(ADMIN_KEY)),
            None,
        );
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
        &String::new,
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
    first.sigkill();
    let received = spawn_receiver(TcpListener::bind(helpdesk).unwrap());
    let second = spawn_server(&data, &config, gateway, &dir.path().join("serve-2.log"));

    wait_until(
        "every event to be delivered",
        Duration::from_secs(30),
        &String::new,
        || {
            let events = outbox_ids(gateway);
            events.len() == 6 && events.iter().all(|(_, status, _)| status == "delivered")
        },
    );
    drop(second);
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

/// A workspace's `min_confidence` in the config file is its answer threshold; other workspaces
/// keep the server's. A threshold outside 0..1 stops the server at start with a clear error.
#[test]
fn a_workspace_threshold_in_the_config_file_applies_to_that_workspace_only() {
    let (dir, data) = password_article_in(&["acme", "globex"]);
    let workspaces = |globex_threshold: &str| {
        format!(
            "[workspaces.acme]\nadmin_key = \"{ADMIN_KEY}\"\n\n[workspaces.globex]\nadmin_key = \"globex-admin-key-0123456789\"\nmin_confidence = {globex_threshold}\n"
        )
    };
    let config = write_gateway_config(dir.path(), &workspaces("0.995"));
    let gateway = free_address();
    let _server = spawn_server(&data, &config, gateway, &dir.path().join("serve.log"));

    let ask = |workspace: &str| {
        let (status, created) = request(
            gateway,
            "POST",
            "/v1/conversations",
            None,
            Some(&json!({ "workspace": workspace })),
        );
        assert_eq!(status, 201, "{created}");
        let (status, reply) = request(
            gateway,
            "POST",
            &format!(
                "/v1/conversations/{}/messages",
                created["conversation_id"].as_str().unwrap()
            ),
            Some(&bearer(created["customer_token"].as_str().unwrap())),
            Some(&json!({"text": "How long is the password reset link valid?"})),
        );
        assert_eq!(status, 200, "{reply}");
        reply
    };
    let acme = ask("acme");
    let globex = ask("globex");

    assert_eq!(acme["reply"]["decision"], "answer", "{acme:#}");
    let confidence = acme["reply"]["confidence"].as_f64().unwrap();
    assert!(
        (0.5..0.995).contains(&confidence),
        "the question sits between the two thresholds: {confidence}"
    );
    assert_eq!(globex["reply"]["decision"], "handoff", "{globex:#}");
    assert_eq!(globex["reply"]["reason"], "low_confidence");

    let bad = write_gateway_config(dir.path(), &workspaces("1.5"));
    let output = common::serve_command(&data, &bad, free_address())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("globex") && stderr.contains("min_confidence must be between 0 and 1"),
        "{stderr}"
    );
}

/// The config file's `addr` is where the server listens, unless `--addr` (or `FATHOM_ADDR`)
/// says otherwise.
#[test]
fn the_config_files_addr_is_used_when_no_addr_flag_is_given() {
    let (dir, data) = password_article_in(&["acme"]);
    let address = free_address();
    let config = write_gateway_config(
        dir.path(),
        &format!("addr = \"{address}\"\n\n[workspaces.acme]\nadmin_key = \"{ADMIN_KEY}\"\n"),
    );
    let log = dir.path().join("serve.log");
    let mut command = common::fathom(&data);
    command
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    let mut server = common::ServerGuard::spawn("fathom serve", &mut command).unwrap();

    server.wait_for_listener(address, &log);

    let (status, _) = request(address, "GET", "/healthz", None, None);
    assert_eq!(status, 200);
}
