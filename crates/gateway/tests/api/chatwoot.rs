//! The Chatwoot Agent Bot adapter against a fake Chatwoot API: signed events in, replies and
//! handoffs out through the outbox.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{
    now_secs, spawn_app, spawn_fake_chatwoot, Options, TestApp, ACME_ADMIN_KEY, CHATWOOT_SECRET,
    CHATWOOT_TOKEN, GLOBEX_ADMIN_KEY, GLOBEX_CHATWOOT_SECRET,
};

fn message_created(message_id: u64, conversation: u64, status: &str, content: &str) -> Value {
    json!({
        "event": "message_created",
        "id": message_id,
        "content": content,
        "message_type": "incoming",
        "private": false,
        "conversation": {"id": conversation, "status": status, "inbox_id": 3},
        "account": {"id": 1, "name": "Acme"},
        "sender": {"id": 99, "name": "Grace Hopper", "email": "grace@example.com", "type": "contact"},
        "inbox": {"id": 3, "name": "Website"}
    })
}

async fn post_signed(
    app: &TestApp,
    body: &Value,
    timestamp: i64,
    secret: &str,
) -> reqwest::Response {
    let text = body.to_string();
    app.client
        .post(app.url("/v1/helpdesk/chatwoot/events"))
        .header("content-type", "application/json")
        .header("x-chatwoot-timestamp", timestamp.to_string())
        .header(
            "x-chatwoot-signature",
            fathom_gateway::chatwoot::sign(secret, timestamp, text.as_bytes()),
        )
        .body(text)
        .send()
        .await
        .unwrap()
}

async fn app_with_chatwoot() -> (TestApp, crate::helpers::FakeChatwoot) {
    let chatwoot = spawn_fake_chatwoot().await;
    let app = spawn_app(Options {
        chatwoot_url: Some(chatwoot.url.clone()),
        ..Options::default()
    })
    .await;
    (app, chatwoot)
}

#[tokio::test]
async fn a_pending_chatwoot_conversation_gets_the_bots_reply_posted_back() {
    let (app, chatwoot) = app_with_chatwoot().await;

    let response = post_signed(
        &app,
        &message_created(501, 7, "pending", "How do I reset my password?"),
        now_secs(),
        CHATWOOT_SECRET,
    )
    .await;

    assert_eq!(response.status(), StatusCode::OK);
    let calls = chatwoot.wait_for_calls(1).await;
    assert_eq!(calls[0].path, "/api/v1/accounts/1/conversations/7/messages");
    assert_eq!(calls[0].token.as_deref(), Some(CHATWOOT_TOKEN));
    assert_eq!(calls[0].body["message_type"], "outgoing");
    assert_eq!(calls[0].body["private"], false);
    assert!(
        calls[0].body["content"]
            .as_str()
            .unwrap()
            .contains("Forgot password"),
        "{:#}",
        calls[0].body
    );
    let listed = app
        .admin_json("/v1/admin/conversations", ACME_ADMIN_KEY)
        .await;
    let conversation = &listed["conversations"][0];
    assert_eq!(conversation["customer"]["name"], "Grace Hopper");
    assert_eq!(
        conversation["customer"]["extra"]["chatwoot_conversation"],
        "1:7"
    );

    let follow_up = post_signed(
        &app,
        &message_created(502, 7, "pending", "how long is the link valid?"),
        now_secs(),
        CHATWOOT_SECRET,
    )
    .await;
    assert_eq!(follow_up.status(), StatusCode::OK);
    chatwoot.wait_for_calls(2).await;
    let listed = app
        .admin_json("/v1/admin/conversations", ACME_ADMIN_KEY)
        .await;
    assert_eq!(
        listed["conversations"].as_array().unwrap().len(),
        1,
        "one Chatwoot conversation is one Fathom conversation"
    );
}

#[tokio::test]
async fn two_installations_with_the_same_account_and_message_ids_are_both_answered() {
    let (acme_chatwoot, globex_chatwoot) =
        (spawn_fake_chatwoot().await, spawn_fake_chatwoot().await);
    let app = spawn_app(Options {
        chatwoot_url: Some(acme_chatwoot.url.clone()),
        globex_chatwoot_url: Some(globex_chatwoot.url.clone()),
        ..Options::default()
    })
    .await;
    let message = message_created(501, 7, "pending", "How do I reset my password?");

    let acme = post_signed(&app, &message, now_secs(), CHATWOOT_SECRET).await;
    let globex = post_signed(&app, &message, now_secs(), GLOBEX_CHATWOOT_SECRET).await;
    let acme_again = post_signed(&app, &message, now_secs(), CHATWOOT_SECRET).await;

    assert_eq!(acme.status(), StatusCode::OK);
    assert_eq!(globex.status(), StatusCode::OK);
    let globex: Value = globex.json().await.unwrap();
    assert_ne!(globex["status"], "duplicate", "{globex:#}");
    assert_eq!(
        acme_again.json::<Value>().await.unwrap()["status"],
        "duplicate"
    );
    let posted = globex_chatwoot.wait_for_calls(1).await;
    assert_eq!(
        posted[0].path,
        "/api/v1/accounts/1/conversations/7/messages"
    );
    assert_eq!(
        posted[0].token.as_deref(),
        Some("globex-chatwoot-bot-token")
    );
    assert_eq!(acme_chatwoot.wait_for_calls(1).await.len(), 1);
    let listed = app
        .admin_json("/v1/admin/conversations", GLOBEX_ADMIN_KEY)
        .await;
    assert_eq!(listed["conversations"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn asking_for_a_person_in_chatwoot_opens_the_conversation_for_the_agents() {
    let (app, chatwoot) = app_with_chatwoot().await;

    post_signed(
        &app,
        &message_created(601, 8, "pending", "I want to talk to a human"),
        now_secs(),
        CHATWOOT_SECRET,
    )
    .await;

    let calls = chatwoot.wait_for_calls(2).await;
    assert_eq!(
        calls[0].path,
        "/api/v1/accounts/1/conversations/8/toggle_status"
    );
    assert_eq!(calls[0].body, json!({"status": "open"}));
    assert_eq!(calls[1].path, "/api/v1/accounts/1/conversations/8/messages");
    assert!(calls[1].body["content"]
        .as_str()
        .unwrap()
        .contains("person will follow up"));
    let stats = app.admin_json("/v1/admin/stats", ACME_ADMIN_KEY).await;
    assert_eq!(stats["by_state"]["handed_off"], 1, "{stats:#}");

    let resolved = json!({
        "event": "conversation_status_changed",
        "status": "resolved",
        "conversation": {"id": 8, "status": "resolved"},
        "account": {"id": 1}
    });
    let response = post_signed(&app, &resolved, now_secs(), CHATWOOT_SECRET).await;
    assert_eq!(response.json::<Value>().await.unwrap()["state"], "resolved");
}

#[tokio::test]
async fn outgoing_private_and_open_conversation_messages_are_not_answered() {
    let (app, chatwoot) = app_with_chatwoot().await;
    let mut outgoing = message_created(701, 9, "pending", "How do I reset my password?");
    outgoing["message_type"] = json!("outgoing");
    let mut private = message_created(702, 9, "pending", "How do I reset my password?");
    private["private"] = json!(true);
    let open = message_created(703, 9, "open", "How do I reset my password?");

    for event in [outgoing, private, open] {
        let response = post_signed(&app, &event, now_secs(), CHATWOOT_SECRET).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.json::<Value>().await.unwrap()["status"],
            "ignored",
            "{event}"
        );
    }

    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(chatwoot.calls().is_empty(), "{:#?}", chatwoot.calls());
}

#[tokio::test]
async fn chatwoot_events_unsigned_forged_or_stale_are_rejected_and_a_redelivery_is_answered_once() {
    let (app, chatwoot) = app_with_chatwoot().await;
    let event = message_created(801, 10, "pending", "How do I reset my password?");

    let unsigned = app
        .client
        .post(app.url("/v1/helpdesk/chatwoot/events"))
        .json(&event)
        .send()
        .await
        .unwrap();
    let forged = post_signed(&app, &event, now_secs(), "not-the-secret").await;
    let stale = post_signed(&app, &event, now_secs() - 600, CHATWOOT_SECRET).await;
    for response in [unsigned, forged, stale] {
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }

    let first = post_signed(&app, &event, now_secs(), CHATWOOT_SECRET).await;
    let again = post_signed(&app, &event, now_secs(), CHATWOOT_SECRET).await;
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(again.json::<Value>().await.unwrap()["status"], "duplicate");
    chatwoot.wait_for_calls(1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(chatwoot.calls().len(), 1, "answered once");
}
