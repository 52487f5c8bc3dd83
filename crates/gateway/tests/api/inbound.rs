//! The helpdesk talks back: agent replies, resolve, close, return to bot; signed, fresh and once.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{now_secs, spawn_app, sse_events, Options};

fn agent_message(conversation_id: &str, text: &str) -> Value {
    json!({
        "type": "agent.message",
        "workspace": "acme",
        "data": {"conversation_id": conversation_id, "text": text, "agent": {"name": "Dana"}}
    })
}

#[tokio::test]
async fn an_agent_reply_reaches_the_customer_through_get_and_sse() {
    let app = spawn_app(Options::default()).await;
    let conversation = app.create_conversation("acme").await;
    app.send(&conversation, "I want to talk to a person").await;
    let mut live = app
        .client
        .get(app.url(&format!("/v1/conversations/{}/events", conversation.id)))
        .bearer_auth(&conversation.token)
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), StatusCode::OK);

    let response = app
        .inbound(
            "msg_agent_1",
            now_secs(),
            &agent_message(&conversation.id, "Hi Ada, Dana here. Let me look."),
        )
        .await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap()["state"], "human");
    let transcript = app.transcript(&conversation).await;
    assert_eq!(transcript["state"], "human");
    let last = transcript["messages"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        (last["role"].as_str(), last["author"].as_str()),
        (Some("agent"), Some("Dana"))
    );
    let mut streamed = String::new();
    let found = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(chunk) = live.chunk().await.unwrap() {
            streamed.push_str(&String::from_utf8_lossy(&chunk));
            if streamed.contains("Dana here") {
                return true;
            }
        }
        false
    })
    .await
    .unwrap_or(false);
    assert!(
        found,
        "the SSE stream carried the agent's reply: {streamed}"
    );
    let events = sse_events(&streamed);
    assert!(events
        .iter()
        .any(|(name, data)| name == "message" && data.contains("\"role\":\"agent\"")));
}

#[tokio::test]
async fn unsigned_forged_and_stale_requests_are_rejected_with_401_and_change_nothing() {
    let app = spawn_app(Options::default()).await;
    let conversation = app.create_conversation("acme").await;
    let body = agent_message(&conversation.id, "I am totally an agent");
    let text = body.to_string();
    let forged =
        fathom_gateway::WebhookSecret::generate().sign("msg_x", now_secs(), text.as_bytes());
    let stale_time = now_secs() - 6 * 60;
    let stale = app
        .inbound_secret
        .sign("msg_y", stale_time, text.as_bytes());
    let tampered = app
        .inbound_secret
        .sign("msg_z", now_secs(), b"{\"other\":1}");

    let unsigned = app
        .client
        .post(app.url("/v1/helpdesk/standard/events"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        unsigned.json::<Value>().await.unwrap()["code"],
        "missing_webhook_signature"
    );
    for (id, timestamp, signature, code) in [
        (
            "msg_x",
            now_secs(),
            forged.as_str(),
            "invalid_webhook_signature",
        ),
        (
            "msg_y",
            stale_time,
            stale.as_str(),
            "invalid_webhook_timestamp",
        ),
        (
            "msg_z",
            now_secs(),
            tampered.as_str(),
            "invalid_webhook_signature",
        ),
    ] {
        let response = app
            .inbound_raw(id, timestamp, signature, text.clone())
            .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{code}");
        assert_eq!(response.json::<Value>().await.unwrap()["code"], code);
    }
    let mut other_workspace = body.clone();
    other_workspace["workspace"] = json!("globex");
    let response = app.inbound("msg_w", now_secs(), &other_workspace).await;
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "globex has no inbound secret"
    );
    assert!(app.transcript(&conversation).await["messages"]
        .as_array()
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn a_redelivered_event_takes_effect_once() {
    let app = spawn_app(Options::default()).await;
    let conversation = app.create_conversation("acme").await;
    let body = agent_message(&conversation.id, "Dana here");

    let first = app.inbound("msg_same", now_secs(), &body).await;
    let second = app.inbound("msg_same", now_secs(), &body).await;

    assert_eq!(first.json::<Value>().await.unwrap()["status"], "applied");
    assert_eq!(second.status(), StatusCode::OK);
    assert_eq!(second.json::<Value>().await.unwrap()["status"], "duplicate");
    assert_eq!(
        app.transcript(&conversation).await["messages"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn the_same_webhook_id_from_another_workspace_is_applied_not_taken_for_a_duplicate() {
    let app = spawn_app(Options::default()).await;
    let alpha = app.create_conversation("acme").await;
    let beta = app.create_conversation("globex").await;
    let mut betas_reply = agent_message(&beta.id, "Beta's agent here");
    betas_reply["workspace"] = json!("globex");

    let first = app
        .inbound(
            "msg_shared_X",
            now_secs(),
            &agent_message(&alpha.id, "Alpha's agent"),
        )
        .await;
    let second = app
        .inbound_signed_with(
            &app.globex_inbound_secret,
            "msg_shared_X",
            now_secs(),
            &betas_reply,
        )
        .await;

    assert_eq!(first.json::<Value>().await.unwrap()["status"], "applied");
    assert_eq!(second.status(), StatusCode::OK);
    assert_eq!(second.json::<Value>().await.unwrap()["status"], "applied");
    let messages = app.transcript(&beta).await["messages"].clone();
    assert_eq!(messages[0]["text"], "Beta's agent here", "{messages:#}");
}

#[tokio::test]
async fn returning_to_the_bot_makes_it_answer_again_and_closing_ends_the_conversation() {
    let app = spawn_app(Options::default()).await;
    let conversation = app.create_conversation("acme").await;
    app.send(&conversation, "I want to talk to a person").await;
    let event = |kind: &str| json!({"type": kind, "workspace": "acme", "data": {"conversation_id": conversation.id}});

    let response = app
        .inbound("msg_r1", now_secs(), &event("conversation.returned_to_bot"))
        .await;
    assert_eq!(response.json::<Value>().await.unwrap()["state"], "bot");
    let outcome = app
        .send_json(&conversation, "How do I reset my password?")
        .await;
    assert_eq!(
        outcome["reply"]["decision"], "answer",
        "the bot answers again: {outcome:#}"
    );

    let response = app
        .inbound("msg_r2", now_secs(), &event("conversation.resolved"))
        .await;
    assert_eq!(response.json::<Value>().await.unwrap()["state"], "resolved");
    let response = app
        .inbound("msg_r3", now_secs(), &event("conversation.closed"))
        .await;
    assert_eq!(response.json::<Value>().await.unwrap()["state"], "closed");
    let response = app.send(&conversation, "one more thing").await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert_eq!(
        response.json::<Value>().await.unwrap()["code"],
        "conversation_closed"
    );

    let response = app
        .inbound("msg_r4", now_secs(), &event("conversation.exploded"))
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        response.json::<Value>().await.unwrap()["code"],
        "unsupported_event_type"
    );
    let response = app
        .client
        .post(app.url("/v1/helpdesk/freshdesk/events"))
        .json(&event("conversation.closed"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        response.json::<Value>().await.unwrap()["code"],
        "adapter_not_found"
    );
}
