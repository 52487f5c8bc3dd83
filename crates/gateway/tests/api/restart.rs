//! The outbox survives the process: events written while the helpdesk is down are delivered
//! after a restart, every one, each id once at a deduplicating receiver.

use std::collections::BTreeSet;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::helpers::{spawn_app, spawn_receiver_on, start, unused_address, Options, Reply};

#[tokio::test]
async fn events_written_while_the_helpdesk_is_down_are_all_delivered_exactly_once_after_a_restart()
{
    // Arrange: a gateway whose helpdesk is down (nothing listens on its address).
    let helpdesk = unused_address().await;
    let webhook_url = format!("http://{helpdesk}/hooks");
    let options = || Options {
        webhook_url: Some(webhook_url.clone()),
        ..Options::default()
    };
    let first = spawn_app(options()).await;
    let mut conversations = Vec::new();
    for _ in 0..3 {
        let conversation = first.create_conversation("acme").await;
        first
            .send(&conversation, "I need to talk to a person")
            .await;
        first.send(&conversation, "it is about my invoice").await;
        conversations.push(conversation);
    }
    let written = first
        .wait_for_outbox("each conversation's first event to have failed", |events| {
            // Later events of a conversation wait for its first (delivery is in order).
            events.len() == 6
                && events.iter().all(|e| e["status"] == "pending")
                && events
                    .iter()
                    .filter(|e| e["event_type"] == "conversation.handoff")
                    .all(|e| e["attempts"].as_u64() >= Some(1))
        })
        .await;
    let written_ids: BTreeSet<String> = written
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();

    // Act: kill the gateway (its task is aborted mid-flight, like SIGKILL), bring the helpdesk
    // up, and start a new gateway on the same database.
    first.server.abort();
    let _ = first.server.await;
    let knowledge = Arc::clone(&first.knowledge);
    let dir = Arc::clone(&first.dir);
    let database = first.database.clone();
    let secret = first.outbound_secret.clone();
    drop(first.stores);
    let listener = TcpListener::bind(helpdesk).await.unwrap();
    // The first answer fails, to show retries after the restart are deduplicated too.
    let receiver = spawn_receiver_on(listener, &secret, vec![Reply::Status(500)]).await;
    let second = start(options(), knowledge, dir, database).await;

    // Assert: every event arrives, each processed once, and the outbox says delivered.
    receiver.wait_for_processed(6).await;
    let outbox = second
        .wait_for_outbox("every event to be delivered", |events| {
            events.len() == 6 && events.iter().all(|e| e["status"] == "delivered")
        })
        .await;
    let processed = receiver.processed();
    let processed_ids: BTreeSet<String> = processed.iter().cloned().collect();
    assert_eq!(processed.len(), 6, "each id processed once: {processed:#?}");
    assert_eq!(
        processed_ids, written_ids,
        "the ids are the ones written before the restart"
    );
    assert_eq!(outbox.len(), 6, "no event was written twice");
    assert!(receiver.deliveries().iter().all(|d| d.signature_valid));
    let delivered: Vec<(String, String)> = receiver
        .deliveries()
        .iter()
        .filter(|d| (200..300).contains(&d.answered))
        .map(|d| {
            (
                d.body["data"]["conversation_id"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                d.body["type"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for (conversation, _) in &delivered {
        let position = |kind: &str| {
            delivered
                .iter()
                .position(|(c, k)| c == conversation && k == kind)
        };
        assert!(
            position("conversation.handoff") < position("conversation.message"),
            "a conversation's events arrive in order: {delivered:#?}"
        );
    }
    let handoffs = receiver
        .deliveries()
        .iter()
        .filter(|d| (200..300).contains(&d.answered) && d.body["type"] == "conversation.handoff")
        .count();
    assert_eq!(handoffs, 3);
}
