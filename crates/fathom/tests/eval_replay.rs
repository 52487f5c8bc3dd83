//! `fathom eval --replay`: conversations recorded by a real `fathom serve` go through the engine
//! again after the knowledge changed. The answer whose article was deleted flips; the others
//! do not. BM25 only, plain HTTP over loopback, so this needs nothing but the binary.

mod common;

use std::net::SocketAddr;
use std::path::Path;

use common::{
    bearer, copy_dir, fathom, ingest, request, run_ok, spawn_server, write_gateway_config,
};
use serde_json::{json, Value};
use tempfile::TempDir;

const ADMIN_KEY: &str = "acme-admin-key-0123456789";

/// Starts a conversation in `acme`, sends `question`, and returns (conversation id, token, reply).
fn ask(address: SocketAddr, question: &str) -> (String, String, Value) {
    let (status, created) = request(
        address,
        "POST",
        "/v1/conversations",
        None,
        Some(&json!({"workspace": "acme"})),
    );
    assert_eq!(status, 201, "{created}");
    let id = created["conversation_id"].as_str().unwrap().to_string();
    let token = created["customer_token"].as_str().unwrap().to_string();
    let (status, outcome) = request(
        address,
        "POST",
        &format!("/v1/conversations/{id}/messages"),
        Some(&bearer(&token)),
        Some(&json!({"text": question})),
    );
    assert_eq!(status, 200, "{question}: {outcome}");
    (id, token, outcome["reply"].clone())
}

fn rate(address: SocketAddr, id: &str, token: &str, reply: &Value, rating: &str) {
    let (status, body) = request(
        address,
        "POST",
        &format!("/v1/conversations/{id}/feedback"),
        Some(&bearer(token)),
        Some(&json!({"rating": rating, "message_seq": reply["seq"]})),
    );
    assert_eq!(status, 200, "{body}");
}

fn row<'a>(report: &'a Value, question: &str) -> &'a Value {
    report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["question"] == question)
        .unwrap_or_else(|| panic!("no row for {question:?} in {report:#}"))
}

#[test]
fn a_replay_after_deleting_an_article_flips_the_answer_that_cited_it_and_nothing_else() {
    let dir = TempDir::new().unwrap();
    let knowledge = dir.path().join("knowledge");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/eval-mini/articles"),
        &knowledge,
    );
    let data = dir.path().join("data");
    ingest(&data, "acme", &knowledge);
    let config = write_gateway_config(
        dir.path(),
        &format!("[workspaces.acme]\nadmin_key = \"{ADMIN_KEY}\"\n"),
    );
    let address = common::free_address();
    let server = spawn_server(&data, &config, address, &dir.path().join("serve.log"));

    // Recorded traffic: two answers (both 👍) and a handoff.
    let refund = "How do I get a refund for my annual plan?";
    let password = "How do I reset my password? I forgot it.";
    let person = "I want to talk to a human please";
    let (id, token, reply) = ask(address, refund);
    assert_eq!(
        (
            reply["decision"].as_str(),
            reply["citations"][0]["article_id"].as_str()
        ),
        (Some("answer"), Some("billing-refunds")),
        "{reply}"
    );
    rate(address, &id, &token, &reply, "up");
    let (id, token, reply) = ask(address, password);
    assert_eq!(reply["decision"], "answer", "{reply}");
    rate(address, &id, &token, &reply, "up");
    let (_, _, reply) = ask(address, person);
    assert_eq!(reply["decision"], "handoff", "{reply}");
    drop(server);

    // The knowledge changes: the refunds article is gone.
    std::fs::remove_file(knowledge.join("refunds.md")).unwrap();
    ingest(&data, "acme", &knowledge);

    let report_path = dir.path().join("replay.json");
    let output = fathom(&data)
        .arg("eval")
        .arg("--replay")
        .arg(data.join("conversations.sqlite"))
        .args(["--workspace", "acme", "--days", "1", "--json"])
        .arg(&report_path)
        .output()
        .unwrap();
    common::assert_success(&output, "fathom eval --replay");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("flipped: 1 (answer→handoff 1)"), "{stdout}");
    let report: Value = serde_json::from_slice(&std::fs::read(&report_path).unwrap()).unwrap();

    assert_eq!(
        (
            report["conversations"].as_u64(),
            report["messages"].as_u64()
        ),
        (Some(3), Some(3))
    );
    assert_eq!(
        report["decisions_then"],
        json!({"answer": 2, "clarify": 0, "handoff": 1})
    );
    assert_eq!(
        report["decisions_now"],
        json!({"answer": 1, "clarify": 0, "handoff": 2})
    );
    assert_eq!(report["transitions"], json!({"answer→handoff": 1}));
    assert_eq!(report["flipped"], 1);
    assert_eq!(report["citations_changed"], 0);

    let flipped = row(&report, refund);
    assert_eq!(flipped["flipped"], true, "{flipped:#}");
    assert_eq!(flipped["then"]["decision"], "answer");
    assert_eq!(flipped["then"]["cited"], json!(["billing-refunds"]));
    assert_eq!(flipped["now"]["decision"], "handoff");
    assert_eq!(flipped["now"]["cited"], json!([]));
    assert_ne!(flipped["now"]["reason"], "answered");
    for unchanged in [password, person] {
        let r = row(&report, unchanged);
        assert_eq!(r["flipped"], false, "{r:#}");
        assert_eq!(r["citations_changed"], false, "{r:#}");
        assert_eq!(r["then"]["reason"], r["now"]["reason"], "{r:#}");
    }
    assert_eq!(
        row(&report, password)["now"]["cited"],
        json!(["account-reset-password"])
    );
    assert_eq!(
        report["feedback"],
        json!({"up_rated_answers": 2, "up_still_same_articles": 1, "down_rated": 0, "down_changed": 0})
    );

    // `--last 1` replays only the newest conversation (the handoff); another workspace has none.
    run_ok(
        fathom(&data)
            .arg("eval")
            .arg("--replay")
            .arg(data.join("conversations.sqlite"))
            .args(["--workspace", "acme", "--last", "1", "--json"])
            .arg(&report_path),
        "fathom eval --replay --last 1",
    );
    let report: Value = serde_json::from_slice(&std::fs::read(&report_path).unwrap()).unwrap();
    assert_eq!(report["messages"], 1);
    assert_eq!(report["rows"][0]["question"], person);
    run_ok(
        fathom(&data)
            .arg("eval")
            .arg("--replay")
            .arg(data.join("conversations.sqlite"))
            .args(["--workspace", "globex", "--json"])
            .arg(&report_path),
        "fathom eval --replay --workspace globex",
    );
    let report: Value = serde_json::from_slice(&std::fs::read(&report_path).unwrap()).unwrap();
    assert_eq!(
        (report["messages"].as_u64(), report["flipped"].as_u64()),
        (Some(0), Some(0))
    );

    // The replay flags do not mix with an eval set's.
    let mixed = fathom(&data)
        .arg("eval")
        .arg("--replay")
        .arg(data.join("conversations.sqlite"))
        .arg("--html")
        .arg(dir.path().join("r.html"))
        .output()
        .unwrap();
    assert!(!mixed.status.success());
}
