//! What several gateways on one Postgres database rely on, each gateway a store of its own (its
//! own pool and listener) on the same database: a change made through one is announced to the
//! others; changes to one conversation take turns; claims never hand one event to two
//! gateways. Skipped without `FATHOM_TEST_DATABASE_URL`.

use std::time::Duration;

use fathom_conversations::testing::scratch_postgres;
use fathom_conversations::{
    Change, ChangeNotice, ConversationState, ConversationStore, NewEvent, NewMessage, OutboxStore,
    PostgresOptions, PostgresStore, StoreError, TokenHash,
};
use fathom_core::{CustomerAttributes, WorkspaceId};

async fn gateways(test: &str, count: usize) -> Option<Vec<PostgresStore>> {
    let url = scratch_postgres(test).await?;
    let mut stores = Vec::new();
    for _ in 0..count {
        stores.push(
            PostgresStore::connect(&url, PostgresOptions::default())
                .await
                .unwrap(),
        );
    }
    Some(stores)
}

fn acme() -> WorkspaceId {
    WorkspaceId::parse("acme").unwrap()
}

#[tokio::test]
async fn a_change_through_one_gateway_is_announced_to_the_others() {
    let Some(stores) = gateways("postgres", 2).await else {
        return;
    };
    let (a, b) = (&stores[0], &stores[1]);
    let conversation = a
        .create(&acme(), CustomerAttributes::default(), TokenHash::of("t"))
        .await
        .unwrap();
    // `connect` returns once the store listens: nothing committed after it is missed.
    let mut heard_by_a = a.changes().subscribe();
    b.apply(
        &acme(),
        conversation.id,
        Change {
            messages: vec![NewMessage::agent("Dana here", Some("Dana".into()))],
            state: Some(ConversationState::Human),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let heard = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let ChangeNotice::Changed(id) = heard_by_a.recv().await.unwrap() {
                return id;
            }
        }
    })
    .await
    .expect("gateway A heard of gateway B's change");
    assert_eq!(heard, conversation.id);
    let seen_by_a = a.messages(conversation.id).await.unwrap();
    assert_eq!(seen_by_a[0].text, "Dana here");
}

#[tokio::test]
async fn two_gateways_taking_a_conversation_out_of_bot_state_at_once_only_one_wins() {
    let Some(stores) = gateways("postgres", 2).await else {
        return;
    };
    let conversation = stores[0]
        .create(&acme(), CustomerAttributes::default(), TokenHash::of("t"))
        .await
        .unwrap();
    let handoff = |store: &PostgresStore| {
        let store = store.clone();
        async move {
            store
                .apply(
                    &acme(),
                    conversation.id,
                    Change {
                        messages: vec![NewMessage::customer("a person please")],
                        state: Some(ConversationState::HandedOff),
                        expect_states: vec![ConversationState::Bot],
                        events: vec![NewEvent {
                            event_type: "conversation.handoff".into(),
                            payload: serde_json::json!({"n": 1}),
                        }],
                        ..Default::default()
                    },
                )
                .await
        }
    };
    let (first, second) = tokio::join!(handoff(&stores[0]), handoff(&stores[1]));
    let outcomes = [first, second];
    assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 1);
    assert!(outcomes
        .iter()
        .any(|o| matches!(o, Err(StoreError::StateConflict { .. }))));
    assert_eq!(stores[1].messages(conversation.id).await.unwrap().len(), 1);
    assert_eq!(stores[1].outbox(&acme()).await.unwrap().len(), 1);
}

#[tokio::test]
async fn three_gateways_claiming_together_never_take_the_same_event() {
    let Some(stores) = gateways("postgres", 3).await else {
        return;
    };
    for _ in 0..40 {
        let conversation = stores[0]
            .create(&acme(), CustomerAttributes::default(), TokenHash::of("t"))
            .await
            .unwrap();
        stores[0]
            .apply(
                &acme(),
                conversation.id,
                Change {
                    events: vec![NewEvent {
                        event_type: "conversation.handoff".into(),
                        payload: serde_json::json!({}),
                    }],
                    ..Default::default()
                },
            )
            .await
            .unwrap();
    }
    let now = fathom_conversations::now_ms();
    let claims = stores
        .iter()
        .map(|store| async move { store.claim_due(now, 60_000, 25).await.unwrap() });
    let claimed: Vec<Vec<_>> = futures::future::join_all(claims).await;
    let mut ids: Vec<String> = claimed.iter().flatten().map(|e| e.id.clone()).collect();
    let total = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), total, "no event was claimed twice");
    assert_eq!(total, 40, "together they took every due event");
    assert!(
        claimed.iter().filter(|batch| !batch.is_empty()).count() >= 2,
        "a claim takes at most its limit, leaving the rest to the others"
    );
}
