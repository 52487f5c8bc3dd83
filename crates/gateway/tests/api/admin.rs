//! The admin API: conversations by state, stats, knowledge sync.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{spawn_app, Options, ACME_ADMIN_KEY, GLOBEX_ADMIN_KEY};

#[tokio::test]
async fn conversations_can_be_listed_by_state_and_stats_count_handoffs_by_reason() {
    let app = spawn_app(Options::default()).await;
    let answered = app.create_conversation("acme").await;
    app.send(&answered, "How do I reset my password?").await;
    let handed_off = app.create_conversation("acme").await;
    app.send(&handed_off, "I want to talk to a human").await;
    let unanswerable = app.create_conversation("acme").await;
    app.send(
        &unanswerable,
        "Does the Kubernetes operator support ARM64 nodes in Frankfurt?",
    )
    .await;

    let listed = app
        .admin_json("/v1/admin/conversations?state=handed_off", ACME_ADMIN_KEY)
        .await;
    let stats = app.admin_json("/v1/admin/stats", ACME_ADMIN_KEY).await;

    let ids: Vec<&str> = listed["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["conversation_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{listed:#}");
    assert!(ids.contains(&handed_off.id.as_str()) && ids.contains(&unanswerable.id.as_str()));
    assert_eq!(stats["conversations"], 3, "{stats:#}");
    assert_eq!(stats["handed_off"], 2);
    assert_eq!(stats["handoffs_by_reason"]["customer_requested_human"], 1);
    assert_eq!(stats["by_state"]["bot"], 1);
    assert_eq!(stats["resolution_rate"], 0.0);

    let response = app
        .admin_get("/v1/admin/conversations?state=sleeping", ACME_ADMIN_KEY)
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        response.json::<Value>().await.unwrap()["code"],
        "invalid_query"
    );
}

#[tokio::test]
async fn a_knowledge_sync_ingests_the_workspaces_folder_and_is_refused_without_one() {
    let app = spawn_app(Options::default()).await;
    std::fs::write(
        app.knowledge.articles_dir.join("shipping.md"),
        "---\nid: shipping-times\ntitle: Shipping times\n---\n\n# Shipping times\n\nOrders ship within two business days from our warehouse in Lyon.\n",
    )
    .unwrap();

    let response = app
        .client
        .post(app.url("/v1/admin/knowledge/sync"))
        .bearer_auth(ACME_ADMIN_KEY)
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::OK);
    let report: Value = response.json().await.unwrap();
    assert_eq!(
        report["added"],
        serde_json::json!(["shipping-times"]),
        "{report:#}"
    );
    let conversation = app.create_conversation("acme").await;
    let outcome = app.send_json(&conversation, "When do orders ship?").await;
    assert_eq!(
        outcome["reply"]["citations"][0]["article_id"], "shipping-times",
        "{outcome:#}"
    );

    let response = app
        .client
        .post(app.url("/v1/admin/knowledge/sync"))
        .bearer_auth(GLOBEX_ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert_eq!(
        response.json::<Value>().await.unwrap()["code"],
        "knowledge_not_configured"
    );
}

#[tokio::test]
async fn a_knowledge_sync_is_refused_while_another_run_holds_the_workspaces_lease() {
    let app = spawn_app(Options::default()).await;
    let acme = fathom_core::WorkspaceId::parse("acme").unwrap();
    let state = &app.knowledge.sync.state;
    // Another sync of acme, e.g. `fathom ingest` on another machine, holds the lease.
    let lease = state
        .acquire(
            &acme,
            "fathom ingest (pid 7 on web-2)",
            std::time::Duration::from_secs(60),
        )
        .await
        .unwrap();

    let response = app
        .client
        .post(app.url("/v1/admin/knowledge/sync"))
        .bearer_auth(ACME_ADMIN_KEY)
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::CONFLICT);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "sync_in_progress", "{body:#}");
    assert!(
        body["message"].as_str().unwrap().contains("pid 7 on web-2"),
        "{body:#}"
    );

    state.release(&lease).await.unwrap();
    let response = app
        .client
        .post(app.url("/v1/admin/knowledge/sync"))
        .bearer_auth(ACME_ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}
