//! `fathom migrate-store`'s copy: a SQLite store with every kind of row, copied into a fresh
//! Postgres database, reads back the same through every trait; a second copy changes nothing;
//! new rows in Postgres come after the copied ones. Skipped without `FATHOM_TEST_DATABASE_URL`.

use fathom_conversations::testing::scratch_postgres;
use fathom_conversations::transfer::copy_sqlite_to_postgres;
use fathom_conversations::{
    Change, ConversationReports, ConversationState, ConversationStore, DecisionRecord,
    HelpdeskLinks, NewEvent, NewFeedback, NewMessage, OutboxStore, PostgresOptions, PostgresStore,
    Rating, SqliteStore, TokenHash,
};
use fathom_core::{CustomerAttributes, DecisionKind, Reason, WorkspaceId};
use tempfile::TempDir;

fn acme() -> WorkspaceId {
    WorkspaceId::parse("acme").unwrap()
}

#[tokio::test]
async fn a_sqlite_store_copied_into_postgres_reads_back_the_same() {
    let Some(url) = scratch_postgres("transfer").await else {
        return;
    };
    let dir = TempDir::new().unwrap();
    let sqlite = SqliteStore::open(&dir.path().join("c.sqlite")).unwrap();
    let conversation = sqlite
        .create(
            &acme(),
            CustomerAttributes {
                name: Some("Ada".into()),
                ..Default::default()
            },
            TokenHash::of("customer-token"),
        )
        .await
        .unwrap();
    let decision = DecisionRecord {
        kind: DecisionKind::Handoff,
        reason: Reason::CustomerRequestedHuman,
        confidence: 0.25,
        citations: vec![],
        evidence_ids: vec![],
        summary: Some("wants a person".into()),
        awaiting: None,
    };
    sqlite
        .apply(
            &acme(),
            conversation.id,
            Change {
                messages: vec![
                    NewMessage::customer("a person please"),
                    NewMessage::bot("A person will follow up.", decision.clone()),
                ],
                state: Some(ConversationState::HandedOff),
                handoff_reason: Some(Reason::CustomerRequestedHuman),
                feedback: Some(NewFeedback {
                    message_seq: None,
                    rating: Some(Rating::Down),
                    comment: Some("slow".into()),
                }),
                events: vec![
                    NewEvent {
                        event_type: "conversation.handoff".into(),
                        payload: serde_json::json!({"type": "conversation.handoff", "n": 0.1}),
                    },
                    NewEvent {
                        event_type: "conversation.message".into(),
                        payload: serde_json::json!({"type": "conversation.message"}),
                    },
                ],
                inbound_delivery: Some(("standard".into(), "msg_inbound_1".into())),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let now = fathom_conversations::now_ms();
    let claimed = sqlite.claim_due(now, 60_000, 10).await.unwrap();
    sqlite.mark_delivered(&claimed[0].id, now).await.unwrap();
    sqlite
        .link_external(&acme(), "chatwoot", "1:7", conversation.id)
        .await
        .unwrap();
    sqlite
        .disable_endpoint(&acme(), "https://gone.example/hook", "410")
        .await
        .unwrap();

    let postgres = PostgresStore::connect(&url, PostgresOptions::default())
        .await
        .unwrap();
    let report = copy_sqlite_to_postgres(&sqlite, &postgres, &|_, _, _| {})
        .await
        .unwrap();
    let copied: Vec<(&str, u64, u64)> =
        report.iter().map(|t| (t.table, t.rows, t.copied)).collect();
    assert!(copied.contains(&("messages", 2, 2)), "{copied:?}");
    assert!(copied.contains(&("outbox", 2, 2)), "{copied:?}");

    assert_eq!(
        postgres
            .get_for_customer(conversation.id, &TokenHash::of("customer-token"))
            .await
            .unwrap(),
        sqlite.get(&acme(), conversation.id).await.unwrap()
    );
    assert_eq!(
        postgres.messages(conversation.id).await.unwrap(),
        sqlite.messages(conversation.id).await.unwrap()
    );
    assert_eq!(
        postgres.activity(&acme(), 0, 10).await.unwrap(),
        sqlite.activity(&acme(), 0, 10).await.unwrap()
    );
    assert_eq!(
        postgres.stats(&acme()).await.unwrap(),
        sqlite.stats(&acme()).await.unwrap()
    );
    assert_eq!(
        postgres.outbox(&acme()).await.unwrap(),
        sqlite.outbox(&acme()).await.unwrap(),
        "the events keep their ids, payloads, attempts and statuses"
    );
    assert_eq!(
        postgres
            .find_external(&acme(), "chatwoot", "1:7")
            .await
            .unwrap(),
        Some(conversation.id)
    );
    assert!(postgres
        .endpoint_disabled(&acme(), "https://gone.example/hook")
        .await
        .unwrap());

    // The second event was waiting behind the first; it is the one due now, in Postgres.
    let due = postgres.claim_due(now, 60_000, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].event_type, "conversation.message");
    // A redelivered inbound webhook is still a duplicate after the move.
    let again = postgres
        .apply(
            &acme(),
            conversation.id,
            Change {
                messages: vec![NewMessage::agent("hi", None)],
                inbound_delivery: Some(("standard".into(), "msg_inbound_1".into())),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(again.duplicate);
    // New rows come after the copied ones.
    let next = postgres
        .apply(
            &acme(),
            conversation.id,
            Change {
                messages: vec![NewMessage::agent("Dana here", None)],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let copied_last = sqlite.messages(conversation.id).await.unwrap()[1].seq;
    assert!(next.messages[0].seq > copied_last);

    let second = copy_sqlite_to_postgres(&sqlite, &postgres, &|_, _, _| {})
        .await
        .unwrap();
    assert!(
        second.iter().all(|t| t.copied == 0),
        "a second copy writes nothing: {second:?}"
    );
}
