//! The support-lead console: its page, the summary (resolution, handoffs, feedback), grouped
//! questions, transcripts with evidence, and eval reports — each workspace sees its own only.

use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, Created, Options, TestApp, ACME_ADMIN_KEY, GLOBEX_ADMIN_KEY};

const NEW_ENDPOINTS: &[&str] = &[
    "/v1/admin/console/summary",
    "/v1/admin/console/questions",
    "/v1/admin/console/conversations/2b1a3f4e-0000-4000-8000-000000000000",
    "/v1/admin/eval-reports",
    "/v1/admin/eval-reports/report.html",
];

async fn feedback(app: &TestApp, conversation: &Created, body: Value) {
    let response = app
        .client
        .post(app.url(&format!("/v1/conversations/{}/feedback", conversation.id)))
        .bearer_auth(&conversation.token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{body}");
}

/// Ask and return the bot reply's `seq`.
async fn ask(app: &TestApp, conversation: &Created, text: &str) -> i64 {
    let outcome = app.send_json(conversation, text).await;
    outcome["reply"]["seq"]
        .as_i64()
        .unwrap_or_else(|| panic!("{outcome:#}"))
}

#[tokio::test]
async fn the_summary_counts_outcomes_handoffs_and_feedback_of_its_own_workspace_only() {
    let app = spawn_app(Options::default()).await;
    // Arrange: acme: liked, disliked, confirmed, quiet, two handoffs; globex: one handoff.
    let liked = app.create_conversation("acme").await;
    let seq = ask(&app, &liked, "How do I reset my password?").await;
    feedback(
        &app,
        &liked,
        json!({"rating": "up", "message_seq": seq, "comment": "quick and right"}),
    )
    .await;
    let disliked = app.create_conversation("acme").await;
    let seq = ask(&app, &disliked, "How do I get a refund for my annual plan?").await;
    feedback(
        &app,
        &disliked,
        json!({"rating": "down", "message_seq": seq, "comment": "I wanted it today"}),
    )
    .await;
    let confirmed = app.create_conversation("acme").await;
    ask(
        &app,
        &confirmed,
        "How long is the password reset link valid?",
    )
    .await;
    feedback(&app, &confirmed, json!({"resolved": true})).await;
    let quiet = app.create_conversation("acme").await;
    ask(&app, &quiet, "Are monthly plans refunded?").await;
    let wants_a_person = app.create_conversation("acme").await;
    app.send(&wants_a_person, "I want to talk to a human").await;
    let unanswerable = app.create_conversation("acme").await;
    app.send(
        &unanswerable,
        "Does the Kubernetes operator support ARM64 nodes in Frankfurt?",
    )
    .await;
    app.create_conversation("acme").await; // never asked anything
    let other = app.create_conversation("globex").await;
    app.send(&other, "I want to talk to a human").await;
    feedback(
        &app,
        &other,
        json!({"rating": "down", "comment": "globex secret"}),
    )
    .await;

    // Act: a quiet window of 0 hours decides every answered conversation now.
    let summary = app
        .admin_json(
            "/v1/admin/console/summary?last=100&quiet_hours=0",
            ACME_ADMIN_KEY,
        )
        .await;
    let within_a_day = app
        .admin_json("/v1/admin/console/summary", ACME_ADMIN_KEY)
        .await;

    // Assert
    let resolution = &summary["resolution"];
    assert_eq!(resolution["conversations"], 7, "{summary:#}");
    assert_eq!(
        resolution["by_outcome"]["confirmed"], 2,
        "👍 and resolved: {summary:#}"
    );
    assert_eq!(resolution["by_outcome"]["quiet"], 1);
    assert_eq!(resolution["by_outcome"]["rejected"], 1);
    assert_eq!(resolution["by_outcome"]["handed_off"], 2);
    assert_eq!(resolution["by_outcome"]["no_question"], 1);
    assert_eq!(
        (
            resolution["resolved"].as_u64(),
            resolution["unresolved"].as_u64()
        ),
        (Some(3), Some(3))
    );
    assert_eq!(resolution["rate"], 0.5);
    let (low, high) = (
        resolution["rate_low"].as_f64().unwrap(),
        resolution["rate_high"].as_f64().unwrap(),
    );
    assert!(
        low < 0.5 && high > 0.5 && low > 0.1 && high < 0.9,
        "{low} {high}"
    );
    assert!(summary["definition"]
        .as_str()
        .unwrap()
        .contains("quiet window"));
    assert_eq!(summary["handoffs"]["total"], 2);
    assert_eq!(
        summary["handoffs"]["by_reason"]["customer_requested_human"],
        1
    );
    assert_eq!(
        summary["handoffs"]["by_reason"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum::<u64>(),
        2
    );
    assert_eq!(summary["feedback"]["up"], 1);
    assert_eq!(summary["feedback"]["down"], 1);
    let comments: Vec<&str> = summary["feedback"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["comment"].as_str())
        .collect();
    assert_eq!(comments.len(), 2, "{comments:?}");
    assert_eq!(
        summary["feedback"]["items"].as_array().unwrap().len(),
        2,
        "a bare confirmation is not listed as feedback"
    );
    assert!(comments.contains(&"quick and right") && comments.contains(&"I wanted it today"));
    assert!(
        !summary.to_string().contains("globex secret"),
        "another workspace leaked"
    );
    assert_eq!(summary["conversations"].as_array().unwrap().len(), 7);
    assert_eq!(summary["workspace"], "acme");
    // With the default 24-hour window, the unconfirmed answer is still pending.
    assert_eq!(within_a_day["window"]["days"], 7);
    assert_eq!(within_a_day["resolution"]["by_outcome"]["pending"], 1);
    assert_eq!(within_a_day["resolution"]["by_outcome"]["quiet"], 0);
}

#[tokio::test]
async fn similar_unanswered_questions_are_grouped_with_the_method_stated() {
    let app = spawn_app(Options::default()).await;
    for text in [
        "Does the Kubernetes operator support ARM64 nodes?",
        "Kubernetes operator on ARM64 nodes in Frankfurt?",
        "Can I pay by carrier pigeon?",
    ] {
        let conversation = app.create_conversation("acme").await;
        app.send(&conversation, text).await;
    }
    let answered = app.create_conversation("acme").await;
    ask(&app, &answered, "How do I reset my password?").await;

    let view = app
        .admin_json("/v1/admin/console/questions?days=1", ACME_ADMIN_KEY)
        .await;
    let globex = app
        .admin_json("/v1/admin/console/questions", GLOBEX_ADMIN_KEY)
        .await;

    assert_eq!(view["questions"], 3, "{view:#}");
    let groups = view["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2, "{view:#}");
    assert_eq!(groups[0]["count"], 2);
    let terms: Vec<&str> = groups[0]["terms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(
        terms.contains(&"operator") && terms.contains(&"arm64"),
        "{terms:?}"
    );
    assert!(view["method"].as_str().unwrap().contains("Jaccard"));
    assert_eq!(globex["questions"], 0);
}

#[tokio::test]
async fn a_transcript_shows_each_decisions_reason_confidence_and_evidence_to_its_workspace_only() {
    let app = spawn_app(Options::default()).await;
    let conversation = app.create_conversation("acme").await;
    let seq = ask(&app, &conversation, "How do I reset my password?").await;
    feedback(
        &app,
        &conversation,
        json!({"rating": "up", "message_seq": seq, "comment": "thanks"}),
    )
    .await;
    let path = format!("/v1/admin/console/conversations/{}", conversation.id);

    let view = app.admin_json(&path, ACME_ADMIN_KEY).await;
    let from_globex = app.admin_get(&path, GLOBEX_ADMIN_KEY).await;

    let bot = view["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "bot")
        .unwrap_or_else(|| panic!("{view:#}"));
    let decision = &bot["decision"];
    assert_eq!(decision["kind"], "answer", "{view:#}");
    assert_eq!(decision["reason"], "answered");
    assert!(decision["confidence"].as_f64().unwrap() > 0.0);
    assert_eq!(
        decision["citations"][0]["article_id"],
        "account-reset-password"
    );
    assert!(!decision["citations"][0]["chunk_ids"]
        .as_array()
        .unwrap()
        .is_empty());
    assert!(!decision["evidence_ids"].as_array().unwrap().is_empty());
    assert_eq!(view["feedback"][0]["comment"], "thanks");
    assert_eq!(view["outcome"], "confirmed");
    let bad_window = app
        .admin_get(&format!("{path}?quiet_hours=9999"), ACME_ADMIN_KEY)
        .await;
    assert_eq!(bad_window.status(), StatusCode::BAD_REQUEST);
    assert_eq!(from_globex.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        from_globex.json::<Value>().await.unwrap()["code"],
        "conversation_not_found"
    );
}

fn write_report(dir: &std::path::Path, name: &str, body: &str, age: Duration) {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap();
    let file = std::fs::File::options().write(true).open(&path).unwrap();
    file.set_modified(SystemTime::now() - age).unwrap();
}

#[tokio::test]
async fn eval_reports_are_listed_newest_first_served_sandboxed_and_never_outside_the_folder() {
    let app = spawn_app(Options::default()).await;
    let reports = app.dir.path().join("eval-reports");
    let acme = reports.join("acme");
    write_report(
        &acme,
        "older.html",
        "<h1>older</h1>",
        Duration::from_secs(7200),
    );
    write_report(
        &acme,
        "newer.html",
        "<style>h1{color:red}</style><h1>newer</h1>",
        Duration::from_secs(60),
    );
    write_report(&acme, "notes.txt", "not a report", Duration::ZERO);
    write_report(
        &reports.join("globex"),
        "globex-only.html",
        "<h1>globex</h1>",
        Duration::ZERO,
    );
    write_report(&reports, "outside.html", "<h1>outside</h1>", Duration::ZERO);
    std::os::unix::fs::symlink(reports.join("outside.html"), acme.join("link.html")).unwrap();

    let list = app
        .admin_json("/v1/admin/eval-reports", ACME_ADMIN_KEY)
        .await;
    let report = app
        .admin_get("/v1/admin/eval-reports/newer.html", ACME_ADMIN_KEY)
        .await;

    let names: Vec<&str> = list["reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["newer.html", "older.html"], "{list:#}");
    assert_eq!(list["folder"], "eval-reports/acme");
    assert_eq!(report.status(), StatusCode::OK);
    let csp = report.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.starts_with("sandbox"), "{csp}");
    assert!(report.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert_eq!(
        report.text().await.unwrap(),
        "<style>h1{color:red}</style><h1>newer</h1>"
    );
    for path in [
        "/v1/admin/eval-reports/globex-only.html",
        "/v1/admin/eval-reports/link.html",
        "/v1/admin/eval-reports/..%2Foutside.html",
        "/v1/admin/eval-reports/..%2F..%2Fconversations.sqlite",
        "/v1/admin/eval-reports/notes.txt",
        "/v1/admin/eval-reports/missing.html",
    ] {
        let response = app.admin_get(path, ACME_ADMIN_KEY).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(
            response.json::<Value>().await.unwrap()["code"],
            "report_not_found",
            "{path}"
        );
    }
    let globex = app
        .admin_json("/v1/admin/eval-reports", GLOBEX_ADMIN_KEY)
        .await;
    assert_eq!(globex["reports"][0]["name"], "globex-only.html");
    assert_eq!(globex["reports"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_console_api_refuses_requests_without_a_valid_admin_key() {
    let app = spawn_app(Options::default()).await;

    for path in NEW_ENDPOINTS {
        let without = app.client.get(app.url(path)).send().await.unwrap();
        let wrong = app.admin_get(path, "not-the-admin-key-0123456789").await;

        assert_eq!(without.status(), StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(
            without.json::<Value>().await.unwrap()["code"],
            "missing_authorization"
        );
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(
            wrong.json::<Value>().await.unwrap()["code"],
            "invalid_api_key"
        );
    }
}

#[tokio::test]
async fn the_console_page_is_served_with_a_strict_policy_and_bad_windows_are_400() {
    let app = spawn_app(Options::default()).await;

    let page = app.client.get(app.url("/console")).send().await.unwrap();
    let script = app
        .client
        .get(app.url("/console/console.js"))
        .send()
        .await
        .unwrap();

    assert_eq!(page.status(), StatusCode::OK);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert!(page.text().await.unwrap().contains("support-lead console"));
    assert_eq!(script.status(), StatusCode::OK);
    assert!(script.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    for query in [
        "days=0",
        "days=7&last=10",
        "last=0",
        "quiet_hours=9999",
        "sort=new",
        "days=x",
    ] {
        let response = app
            .admin_get(
                &format!("/v1/admin/console/summary?{query}"),
                ACME_ADMIN_KEY,
            )
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(
            response.json::<Value>().await.unwrap()["code"],
            "invalid_query"
        );
    }
}

#[tokio::test]
async fn the_openapi_document_lists_the_console_endpoints() {
    let app = spawn_app(Options::default()).await;

    let doc: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    for path in [
        "/v1/admin/console/summary",
        "/v1/admin/console/questions",
        "/v1/admin/console/conversations/{id}",
        "/v1/admin/eval-reports",
        "/v1/admin/eval-reports/{name}",
    ] {
        assert!(doc["paths"][path]["get"].is_object(), "{path} missing");
    }
}
