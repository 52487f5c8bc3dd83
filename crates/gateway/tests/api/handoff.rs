//! Handoff: the conversation goes to a person, the bot falls silent, and the helpdesk gets
//! signed webhooks from the outbox, retried until delivered.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{
    fast_outbox, outbound_secret, spawn_app, spawn_receiver, Options, Reply, ACME_ADMIN_KEY,
};

#[tokio::test]
async fn yes_after_the_bots_offer_of_a_person_hands_off_because_the_offer_is_kept_with_the_message()
{
    let app = spawn_app(Options::default()).await;
    let conversation = app.create_conversation("acme").await;

    let offer = app
        .send_json(&conversation, "This is useless, you're not helping at all!")
        .await;
    assert_eq!(offer["reply"]["decision"], "clarify");
    assert_eq!(offer["reply"]["reason"], "customer_frustrated");
    let accepted = app.send_json(&conversation, "yes please").await;

    assert_eq!(accepted["reply"]["reason"], "customer_requested_human");
    assert_eq!(accepted["state"], "handed_off");
}

#[tokio::test]
async fn asking_for_a_person_hands_off_and_the_helpdesk_gets_a_signed_webhook_with_the_transcript()
{
    let receiver = spawn_receiver(&outbound_secret(), vec![]).await;
    let app = spawn_app(Options {
        webhook_url: Some(receiver.url.clone()),
        ..Options::default()
    })
    .await;
    let conversation = app.create_conversation("acme").await;
    app.send(
        &conversation,
        "How do I reset my password? my email is ada@example.com",
    )
    .await;

    let outcome = app
        .send_json(&conversation, "I want to talk to a person please")
        .await;

    assert_eq!(outcome["state"], "handed_off");
    assert_eq!(outcome["reply"]["decision"], "handoff");
    assert_eq!(outcome["reply"]["reason"], "customer_requested_human");
    assert!(
        outcome["reply"]["text"]
            .as_str()
            .unwrap()
            .contains("person will follow up"),
        "the customer is told a person will follow up: {outcome:#}"
    );
    let delivered = receiver.wait_for_processed(1).await;
    let webhook = &delivered[0];
    assert!(
        webhook.signature_valid,
        "the receiver verified the signature"
    );
    assert!(webhook.id.starts_with("msg_"));
    assert!((crate::helpers::now_secs() - webhook.timestamp).abs() < 60);
    let data = &webhook.body["data"];
    assert_eq!(webhook.body["type"], "conversation.handoff");
    assert_eq!(data["workspace"], "acme");
    assert_eq!(data["conversation_id"], conversation.id.as_str());
    assert_eq!(data["reason"], "customer_requested_human");
    assert_eq!(data["customer"]["name"], "Ada Lovelace");
    assert!(data["summary"].as_str().is_some_and(|s| !s.is_empty()));
    let transcript = data["transcript"].as_array().unwrap();
    assert_eq!(transcript.len(), 4, "{data:#}");
    assert_eq!(transcript[2]["text"], "I want to talk to a person please");
    assert!(
        !transcript[0]["text"]
            .as_str()
            .unwrap()
            .contains("ada@example.com"),
        "PII is redacted in the transcript sent out: {}",
        transcript[0]["text"]
    );
    let outbox = app
        .wait_for_outbox("the event to be marked delivered", |events| {
            events.len() == 1 && events[0]["status"] == "delivered"
        })
        .await;
    assert_eq!(outbox[0]["id"], webhook.id.as_str());
    let stats = app.admin_json("/v1/admin/stats", ACME_ADMIN_KEY).await;
    assert_eq!(stats["handoffs_by_reason"]["customer_requested_human"], 1);
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("fathom_webhook_deliveries_total{event_type=\"conversation.handoff\"}"),
        "{metrics}"
    );
}

#[tokio::test]
async fn after_a_handoff_the_bot_stays_silent_and_messages_go_to_the_helpdesk() {
    let receiver = spawn_receiver(&outbound_secret(), vec![]).await;
    let app = spawn_app(Options {
        webhook_url: Some(receiver.url.clone()),
        ..Options::default()
    })
    .await;
    let conversation = app.create_conversation("acme").await;
    app.send(&conversation, "can I talk to a human").await;

    let response = app.send(&conversation, "How do I reset my password?").await;

    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let outcome: Value = response.json().await.unwrap();
    assert_eq!(outcome["reply"], Value::Null, "the bot says nothing");
    assert_eq!(outcome["state"], "handed_off");
    let delivered = receiver.wait_for_processed(2).await;
    let types: Vec<&str> = delivered
        .iter()
        .map(|d| d.body["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, vec!["conversation.handoff", "conversation.message"]);
    assert_eq!(
        delivered[1].body["data"]["message"]["text"],
        "How do I reset my password?"
    );
    let transcript = app.transcript(&conversation).await;
    let roles: Vec<&str> = transcript["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, vec!["customer", "bot", "customer"]);
}

#[tokio::test]
async fn failed_deliveries_are_retried_with_the_same_id_honouring_retry_after() {
    let receiver = spawn_receiver(
        &outbound_secret(),
        vec![
            Reply::Status(500),
            Reply::RetryAfter(429, 1),
            Reply::Status(503),
        ],
    )
    .await;
    let app = spawn_app(Options {
        webhook_url: Some(receiver.url.clone()),
        ..Options::default()
    })
    .await;
    let conversation = app.create_conversation("acme").await;

    app.send(&conversation, "let me speak to an agent").await;

    receiver.wait_for_processed(1).await;
    let attempts = receiver.deliveries();
    let answered: Vec<u16> = attempts.iter().map(|d| d.answered).collect();
    assert_eq!(answered, vec![500, 429, 503, 200]);
    assert!(
        attempts.iter().all(|d| d.id == attempts[0].id),
        "one id on every attempt"
    );
    assert!(
        attempts.iter().all(|d| d.signature_valid),
        "each attempt is signed afresh"
    );
    assert!(
        attempts[2].timestamp - attempts[1].timestamp >= 1,
        "the retry after the 429 waited for Retry-After"
    );
    let outbox = app
        .wait_for_outbox("delivery", |events| events[0]["status"] == "delivered")
        .await;
    assert_eq!(outbox[0]["attempts"], 4);
}

#[tokio::test]
async fn an_endpoint_that_answers_410_is_disabled_and_its_events_dead_lettered() {
    let receiver = spawn_receiver(&outbound_secret(), vec![Reply::Status(410)]).await;
    let app = spawn_app(Options {
        webhook_url: Some(receiver.url.clone()),
        ..Options::default()
    })
    .await;
    let conversation = app.create_conversation("acme").await;
    app.send(&conversation, "I want a human").await;
    app.wait_for_outbox("the first event to die", |events| {
        events.len() == 1 && events[0]["status"] == "dead"
    })
    .await;

    app.send(&conversation, "hello? anyone?").await;

    let outbox = app
        .wait_for_outbox("the second event to die", |events| {
            events.len() == 2 && events.iter().all(|e| e["status"] == "dead")
        })
        .await;
    assert!(outbox[1]["last_error"].as_str().unwrap().contains("410"));
    assert_eq!(
        receiver.deliveries().len(),
        1,
        "nothing more is sent to a gone endpoint"
    );
}

#[tokio::test]
async fn an_event_still_undelivered_after_the_deadline_goes_to_the_dead_letters() {
    let receiver = spawn_receiver(&outbound_secret(), vec![Reply::Status(500); 100]).await;
    let app = spawn_app(Options {
        webhook_url: Some(receiver.url.clone()),
        outbox: fathom_gateway::OutboxConfig {
            give_up_after: Duration::from_millis(600),
            ..fast_outbox()
        },
        ..Options::default()
    })
    .await;
    let conversation = app.create_conversation("acme").await;

    app.send(&conversation, "I want a human").await;

    let outbox = app
        .wait_for_outbox("the event to die", |events| {
            events.len() == 1 && events[0]["status"] == "dead"
        })
        .await;
    assert!(
        outbox[0]["last_error"].as_str().unwrap().contains("500"),
        "{outbox:#?}"
    );
    let attempts = receiver.deliveries().len();
    assert!(
        attempts >= 2,
        "it was retried before giving up ({attempts} attempts)"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        receiver.deliveries().len(),
        attempts,
        "a dead event is not retried"
    );
}

#[tokio::test]
async fn a_customer_marking_the_conversation_solved_sends_conversation_resolved() {
    let receiver = spawn_receiver(&outbound_secret(), vec![]).await;
    let app = spawn_app(Options {
        webhook_url: Some(receiver.url.clone()),
        ..Options::default()
    })
    .await;
    let conversation = app.create_conversation("acme").await;
    app.send(&conversation, "How do I reset my password?").await;

    let response = app
        .client
        .post(app.url(&format!("/v1/conversations/{}/feedback", conversation.id)))
        .bearer_auth(&conversation.token)
        .json(&serde_json::json!({"resolved": true}))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::OK);
    let delivered = receiver.wait_for_processed(1).await;
    let data = &delivered[0].body["data"];
    assert_eq!(delivered[0].body["type"], "conversation.resolved");
    assert_eq!(data["state"], "resolved");
    assert_eq!(data["reason"], "answered");
    assert_eq!(
        data["cited_articles"][0]["article_id"],
        "account-reset-password"
    );
    assert_eq!(data["transcript"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn delivered_events_are_pruned_after_their_keep_window() {
    let receiver = spawn_receiver(&outbound_secret(), vec![]).await;
    let app = spawn_app(Options {
        webhook_url: Some(receiver.url.clone()),
        outbox: fathom_gateway::OutboxConfig {
            keep_delivered: Duration::from_millis(300),
            prune_interval: Duration::from_millis(100),
            ..fast_outbox()
        },
        ..Options::default()
    })
    .await;
    let conversation = app.create_conversation("acme").await;
    app.send(&conversation, "I want a human").await;
    receiver.wait_for_processed(1).await;
    app.wait_for_outbox("the event to be marked delivered", |events| {
        events.len() == 1 && events[0]["status"] == "delivered"
    })
    .await;

    // Past the keep window the worker deletes it; the conversation itself is untouched.
    app.wait_for_outbox("the delivered event to be pruned", |events| {
        events.is_empty()
    })
    .await;
    let transcript = app.transcript(&conversation).await;
    assert_eq!(transcript["state"], "handed_off", "{transcript:#}");
    assert_eq!(receiver.deliveries().len(), 1, "pruning never re-sends");
}
