//! The conversation-store contract (`ConversationStore`, `ConversationReports`, `OutboxStore`,
//! `HelpdeskLinks`). Every backend available on the machine runs the same checks: SQLite on
//! disk (WAL, one writer and a pool of readers) and in memory, always; Postgres (a fresh database
//! per test) when `FATHOM_TEST_DATABASE_URL` names a server, and says it was skipped otherwise.

use std::sync::Arc;

use fathom_conversations::testing::scratch_postgres;
use fathom_conversations::{
    Change, ChangeNotice, ConversationId, ConversationReports, ConversationState,
    ConversationStore, DecisionRecord, HelpdeskLinks, ListQuery, MessageRole, NewEvent,
    NewFeedback, NewMessage, OutboxStatus, OutboxStore, PostgresOptions, PostgresStore, Rating,
    SqliteStore, StoreError, Stores, TokenHash,
};
use fathom_core::{CustomerAttributes, DecisionKind, Reason, WorkspaceId};
use tempfile::TempDir;

struct Backend {
    name: &'static str,
    store: Arc<dyn ConversationStore>,
    reports: Arc<dyn ConversationReports>,
    outbox: Arc<dyn OutboxStore>,
    links: Arc<dyn HelpdeskLinks>,
    _dir: Option<TempDir>,
}

impl Backend {
    fn new(name: &'static str, stores: Stores, dir: Option<TempDir>) -> Self {
        Self {
            name,
            store: stores.conversations,
            reports: stores.reports,
            outbox: stores.outbox,
            links: stores.links,
            _dir: dir,
        }
    }
}

async fn backends() -> Vec<Backend> {
    let dir = TempDir::new().unwrap();
    let on_disk = SqliteStore::open(&dir.path().join("nested/conversations.sqlite")).unwrap();
    let mut backends = vec![
        Backend::new("sqlite-file", Stores::new(on_disk), Some(dir)),
        Backend::new(
            "sqlite-memory",
            Stores::new(SqliteStore::in_memory().unwrap()),
            None,
        ),
    ];
    if let Some(url) = scratch_postgres("contract").await {
        let store = PostgresStore::connect(&url, PostgresOptions::default())
            .await
            .unwrap();
        backends.push(Backend::new("postgres", Stores::new(store), None));
    }
    backends
}

fn workspace(name: &str) -> WorkspaceId {
    WorkspaceId::parse(name).unwrap()
}

fn handoff_decision() -> DecisionRecord {
    DecisionRecord {
        kind: DecisionKind::Handoff,
        reason: Reason::CustomerRequestedHuman,
        confidence: 0.0,
        citations: vec![],
        evidence_ids: vec![],
        summary: Some("wants a person".into()),
        awaiting: None,
    }
}

fn event(kind: &str) -> NewEvent {
    NewEvent {
        event_type: kind.into(),
        payload: serde_json::json!({"type": kind}),
    }
}

#[tokio::test]
async fn a_conversation_is_found_by_its_workspace_and_its_token_only() {
    for backend in backends().await {
        let store = &backend.store;
        let acme = workspace("acme");
        let created = store
            .create(
                &acme,
                CustomerAttributes {
                    name: Some("Ada".into()),
                    ..Default::default()
                },
                TokenHash::of("secret-token"),
            )
            .await
            .unwrap();
        assert_eq!(created.state, ConversationState::Bot, "{}", backend.name);

        let found = store.get(&acme, created.id).await.unwrap().unwrap();
        assert_eq!(found, created, "{}", backend.name);
        assert!(store
            .get(&workspace("globex"), created.id)
            .await
            .unwrap()
            .is_none());
        assert!(store
            .get_for_customer(created.id, &TokenHash::of("secret-token"))
            .await
            .unwrap()
            .is_some());
        assert!(store
            .get_for_customer(created.id, &TokenHash::of("guess"))
            .await
            .unwrap()
            .is_none());
        assert!(store
            .get(&acme, ConversationId::random())
            .await
            .unwrap()
            .is_none());
    }
}

#[tokio::test]
async fn a_handoff_writes_messages_state_and_outbox_event_together() {
    for backend in backends().await {
        let store = &backend.store;
        let outbox = &backend.outbox;
        let reports = &backend.reports;
        let acme = workspace("acme");
        let conversation = store
            .create(&acme, CustomerAttributes::default(), TokenHash::of("t"))
            .await
            .unwrap();
        let applied = store
            .apply(
                &acme,
                conversation.id,
                Change {
                    messages: vec![
                        NewMessage::customer("a person please"),
                        NewMessage::bot("A person will follow up here.", handoff_decision()),
                    ],
                    state: Some(ConversationState::HandedOff),
                    expect_states: vec![ConversationState::Bot],
                    handoff_reason: Some(Reason::CustomerRequestedHuman),
                    events: vec![event("conversation.handoff")],
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(applied.conversation.state, ConversationState::HandedOff);
        assert_eq!(applied.event_ids.len(), 1);

        let messages = store.messages(conversation.id).await.unwrap();
        assert_eq!(
            messages.iter().map(|m| m.role).collect::<Vec<_>>(),
            vec![MessageRole::Customer, MessageRole::Bot],
            "{}",
            backend.name
        );
        assert_eq!(messages[1].decision, Some(handoff_decision()));
        assert!(messages[0].seq < messages[1].seq);

        let outbox = outbox.outbox(&acme).await.unwrap();
        assert_eq!(outbox.len(), 1);
        assert_eq!(outbox[0].id, applied.event_ids[0]);
        assert_eq!(outbox[0].status, OutboxStatus::Pending);
        assert_eq!(outbox[0].payload["type"], "conversation.handoff");

        let stats = reports.stats(&acme).await.unwrap();
        assert_eq!(stats.handed_off, 1);
        assert_eq!(stats.handoffs_by_reason["customer_requested_human"], 1);
    }
}

/// A message's `seq` counts within its conversation, so a customer's transcript says nothing of
/// other conversations' traffic, in their workspace or any other (issue #14).
#[tokio::test]
async fn messages_are_numbered_within_their_conversation_only() {
    for backend in backends().await {
        let store = &backend.store;
        let name = backend.name;
        let acme = workspace("acme");
        let globex = workspace("globex");
        let first = store
            .create(&acme, CustomerAttributes::default(), TokenHash::of("a"))
            .await
            .unwrap();
        let busy = store
            .create(&globex, CustomerAttributes::default(), TokenHash::of("b"))
            .await
            .unwrap();
        let second = store
            .create(&acme, CustomerAttributes::default(), TokenHash::of("c"))
            .await
            .unwrap();
        let say = |ws: &WorkspaceId, id: ConversationId, texts: &[&str]| {
            let change = Change {
                messages: texts.iter().map(|t| NewMessage::customer(*t)).collect(),
                ..Default::default()
            };
            let ws = ws.clone();
            async move { store.apply(&ws, id, change).await.unwrap() }
        };
        let applied = say(&acme, first.id, &["one", "two"]).await;
        let seqs: Vec<i64> = applied.messages.iter().map(|m| m.seq).collect();
        assert_eq!(seqs, [1, 2], "{name}");
        for _ in 0..5 {
            say(&globex, busy.id, &["traffic elsewhere"]).await;
        }
        let applied = say(&acme, second.id, &["hello"]).await;
        assert_eq!(
            applied.messages[0].seq, 1,
            "{name}: another conversation's count"
        );
        let applied = say(&acme, first.id, &["three"]).await;
        assert_eq!(applied.messages[0].seq, 3, "{name}");

        let transcript = store.messages(first.id).await.unwrap();
        let read: Vec<(i64, &str)> = transcript
            .iter()
            .map(|m| (m.seq, m.text.as_str()))
            .collect();
        assert_eq!(read, [(1, "one"), (2, "two"), (3, "three")], "{name}");
        let elsewhere = store.messages(busy.id).await.unwrap();
        assert_eq!(elsewhere.last().unwrap().seq, 5, "{name}");
        let activity = backend.reports.activity(&acme, 0, 10).await.unwrap();
        let of_first = activity
            .iter()
            .find(|a| a.conversation.id == first.id)
            .unwrap();
        let seqs: Vec<i64> = of_first.messages.iter().map(|m| m.seq).collect();
        assert_eq!(seqs, [1, 2, 3], "{name}: reports number them alike");
    }
}

#[tokio::test]
async fn a_change_expecting_another_state_is_refused_and_writes_nothing() {
    for backend in backends().await {
        let store = &backend.store;
        let outbox = &backend.outbox;
        let acme = workspace("acme");
        let conversation = store
            .create(&acme, CustomerAttributes::default(), TokenHash::of("t"))
            .await
            .unwrap();
        let error = store
            .apply(
                &acme,
                conversation.id,
                Change {
                    messages: vec![NewMessage::agent("hi", None)],
                    expect_states: vec![ConversationState::Human],
                    events: vec![event("conversation.message")],
                    ..Default::default()
                },
            )
            .await
            .unwrap_err();
        assert!(matches!(error, StoreError::StateConflict { .. }), "{error}");
        assert!(store.messages(conversation.id).await.unwrap().is_empty());
        assert!(outbox.outbox(&acme).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn a_change_to_another_workspaces_conversation_is_not_found() {
    for backend in backends().await {
        let store = &backend.store;
        let conversation = store
            .create(
                &workspace("acme"),
                CustomerAttributes::default(),
                TokenHash::of("t"),
            )
            .await
            .unwrap();
        let error = store
            .apply(
                &workspace("globex"),
                conversation.id,
                Change {
                    messages: vec![NewMessage::customer("hello")],
                    ..Default::default()
                },
            )
            .await
            .unwrap_err();
        assert!(matches!(error, StoreError::NotFound(_)), "{error}");
    }
}

#[tokio::test]
async fn the_same_inbound_delivery_applies_once() {
    for backend in backends().await {
        let store = &backend.store;
        let acme = workspace("acme");
        let conversation = store
            .create(&acme, CustomerAttributes::default(), TokenHash::of("t"))
            .await
            .unwrap();
        let change = Change {
            messages: vec![NewMessage::agent("Hi, Dana here", Some("Dana".into()))],
            state: Some(ConversationState::Human),
            inbound_delivery: Some(("standard".into(), "msg_1".into())),
            ..Default::default()
        };
        let first = store
            .apply(&acme, conversation.id, change.clone())
            .await
            .unwrap();
        let second = store.apply(&acme, conversation.id, change).await.unwrap();
        assert!(!first.duplicate && second.duplicate, "{}", backend.name);
        assert_eq!(store.messages(conversation.id).await.unwrap().len(), 1);
    }
}

#[tokio::test]
async fn an_inbound_delivery_id_is_scoped_to_its_workspace() {
    for backend in backends().await {
        let store = &backend.store;
        let (alpha, beta) = (workspace("alpha"), workspace("beta"));
        let alphas = store
            .create(&alpha, CustomerAttributes::default(), TokenHash::of("a"))
            .await
            .unwrap();
        let betas = store
            .create(&beta, CustomerAttributes::default(), TokenHash::of("b"))
            .await
            .unwrap();
        let reply = |text: &str| Change {
            messages: vec![NewMessage::agent(text, None)],
            inbound_delivery: Some(("standard".into(), "msg_shared_X".into())),
            ..Default::default()
        };

        let first = store
            .apply(&alpha, alphas.id, reply("alpha's"))
            .await
            .unwrap();
        let other_tenant = store.apply(&beta, betas.id, reply("beta's")).await.unwrap();
        let redelivered = store.apply(&beta, betas.id, reply("beta's")).await.unwrap();

        assert!(!first.duplicate, "{}", backend.name);
        assert!(
            !other_tenant.duplicate,
            "{}: the same id from another workspace is another delivery",
            backend.name
        );
        assert!(redelivered.duplicate, "{}", backend.name);
        let texts: Vec<_> = store
            .messages(betas.id)
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.text)
            .collect();
        assert_eq!(texts, ["beta's"], "{}", backend.name);
    }
}

async fn conversation_with_events(
    store: &Arc<dyn ConversationStore>,
    workspace: &WorkspaceId,
    kinds: &[&str],
) -> ConversationId {
    let conversation = store
        .create(workspace, CustomerAttributes::default(), TokenHash::of("t"))
        .await
        .unwrap();
    store
        .apply(
            workspace,
            conversation.id,
            Change {
                events: kinds.iter().map(|kind| event(kind)).collect(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    conversation.id
}

#[tokio::test]
async fn claimed_events_are_leased_retried_and_finally_delivered_or_dead() {
    for backend in backends().await {
        let store = &backend.store;
        let outbox = &backend.outbox;
        let acme = workspace("acme");
        conversation_with_events(store, &acme, &["conversation.handoff"]).await;
        conversation_with_events(store, &acme, &["conversation.handoff"]).await;
        let now = fathom_conversations::now_ms();

        let claimed = outbox.claim_due(now, 60_000, 10).await.unwrap();
        assert_eq!(claimed.len(), 2, "{}", backend.name);
        assert!(claimed.iter().all(|e| e.attempts == 1));
        assert!(
            outbox.claim_due(now, 60_000, 10).await.unwrap().is_empty(),
            "leased events are not claimed twice"
        );
        assert_eq!(outbox.next_due_at().await.unwrap(), Some(now + 60_000));

        outbox
            .schedule_retry(&claimed[0].id, now + 5, "http 500")
            .await
            .unwrap();
        outbox
            .mark_dead(&claimed[1].id, "endpoint gone")
            .await
            .unwrap();
        let again = outbox.claim_due(now + 5, 60_000, 10).await.unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(
            again[0].id, claimed[0].id,
            "the id is stable across retries"
        );
        assert_eq!(again[0].attempts, 2);
        assert_eq!(again[0].last_error.as_deref(), Some("http 500"));

        outbox.mark_delivered(&again[0].id, now + 6).await.unwrap();
        let events = outbox.outbox(&acme).await.unwrap();
        let statuses: Vec<_> = events.iter().map(|e| e.status).collect();
        assert_eq!(statuses, vec![OutboxStatus::Delivered, OutboxStatus::Dead]);
        assert_eq!(outbox.next_due_at().await.unwrap(), None);
        assert!(outbox.mark_delivered("msg_missing", now).await.is_err());
    }
}

#[tokio::test]
async fn a_conversations_events_are_claimed_in_order_one_at_a_time() {
    for backend in backends().await {
        let store = &backend.store;
        let outbox = &backend.outbox;
        let acme = workspace("acme");
        conversation_with_events(
            store,
            &acme,
            &[
                "conversation.handoff",
                "conversation.message",
                "conversation.resolved",
            ],
        )
        .await;
        let now = fathom_conversations::now_ms();

        let first = outbox.claim_due(now, 60_000, 10).await.unwrap();
        assert_eq!(first.len(), 1, "{}", backend.name);
        assert_eq!(first[0].event_type, "conversation.handoff");
        outbox
            .schedule_retry(&first[0].id, now, "http 503")
            .await
            .unwrap();
        let retried = outbox.claim_due(now, 60_000, 10).await.unwrap();
        assert_eq!(
            retried.iter().map(|e| e.id.clone()).collect::<Vec<_>>(),
            vec![first[0].id.clone()],
            "a later event waits while an earlier one is retried"
        );
        outbox.mark_dead(&retried[0].id, "gave up").await.unwrap();
        let second = outbox.claim_due(now, 60_000, 10).await.unwrap();
        assert_eq!(second[0].event_type, "conversation.message");
        outbox.mark_delivered(&second[0].id, now).await.unwrap();
        let third = outbox.claim_due(now, 60_000, 10).await.unwrap();
        assert_eq!(third[0].event_type, "conversation.resolved");
    }
}

#[tokio::test]
async fn feedback_and_resolution_feed_the_stats() {
    for backend in backends().await {
        let store = &backend.store;
        let reports = &backend.reports;
        let acme = workspace("acme");
        let resolved = store
            .create(&acme, CustomerAttributes::default(), TokenHash::of("a"))
            .await
            .unwrap();
        store
            .create(&acme, CustomerAttributes::default(), TokenHash::of("b"))
            .await
            .unwrap();
        store
            .create(
                &workspace("globex"),
                CustomerAttributes::default(),
                TokenHash::of("c"),
            )
            .await
            .unwrap();
        store
            .apply(
                &acme,
                resolved.id,
                Change {
                    state: Some(ConversationState::Resolved),
                    feedback: Some(NewFeedback {
                        message_seq: None,
                        rating: Some(Rating::Up),
                        comment: Some("thanks".into()),
                    }),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let stats = reports.stats(&acme).await.unwrap();
        assert_eq!(stats.conversations, 2, "{}", backend.name);
        assert_eq!(stats.resolved_by_bot, 1);
        assert!((stats.resolution_rate - 0.5).abs() < 1e-9);
        assert_eq!(stats.feedback_up, 1);
        assert_eq!(stats.by_state["resolved"], 1);

        let listed = store
            .list(
                &acme,
                ListQuery {
                    state: Some(ConversationState::Resolved),
                    limit: 10,
                },
            )
            .await
            .unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].id, resolved.id);
        let all = store
            .list(
                &acme,
                ListQuery {
                    state: None,
                    limit: 10,
                },
            )
            .await
            .unwrap();
        assert_eq!(
            all.len(),
            2,
            "the other workspace's conversation is not listed"
        );
    }
}

#[tokio::test]
async fn a_disabled_endpoint_stays_disabled_for_its_workspace_only() {
    for backend in backends().await {
        let store = &backend.store;
        let outbox = &backend.outbox;
        let url = "https://helpdesk.example/hooks";
        outbox
            .disable_endpoint(&workspace("acme"), url, "410 gone")
            .await
            .unwrap();
        assert!(outbox
            .endpoint_disabled(&workspace("acme"), url)
            .await
            .unwrap());
        assert!(!outbox
            .endpoint_disabled(&workspace("globex"), url)
            .await
            .unwrap());
        store.ping().await.unwrap();
    }
}

#[tokio::test]
async fn everything_survives_reopening_the_file() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("conversations.sqlite");
    let acme = workspace("acme");
    let id = {
        let store = SqliteStore::open(&path).unwrap();
        let conversation = store
            .create(&acme, CustomerAttributes::default(), TokenHash::of("t"))
            .await
            .unwrap();
        store
            .apply(
                &acme,
                conversation.id,
                Change {
                    messages: vec![NewMessage::customer("hello")],
                    events: vec![event("conversation.message")],
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        conversation.id
    };
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.messages(id).await.unwrap()[0].text, "hello");
    assert_eq!(store.outbox(&acme).await.unwrap().len(), 1);
}

#[tokio::test]
async fn an_external_conversation_links_to_one_conversation_per_workspace() {
    for backend in backends().await {
        let store = &backend.store;
        let links = &backend.links;
        let acme = workspace("acme");
        let first = store
            .create(&acme, CustomerAttributes::default(), TokenHash::of("a"))
            .await
            .unwrap();
        let second = store
            .create(&acme, CustomerAttributes::default(), TokenHash::of("b"))
            .await
            .unwrap();
        assert_eq!(
            links.find_external(&acme, "chatwoot", "1:7").await.unwrap(),
            None
        );

        let linked = links
            .link_external(&acme, "chatwoot", "1:7", first.id)
            .await
            .unwrap();
        let raced = links
            .link_external(&acme, "chatwoot", "1:7", second.id)
            .await
            .unwrap();

        assert_eq!((linked, raced), (first.id, first.id), "{}", backend.name);
        assert_eq!(
            links.find_external(&acme, "chatwoot", "1:7").await.unwrap(),
            Some(first.id)
        );
        assert_eq!(
            links
                .find_external(&workspace("globex"), "chatwoot", "1:7")
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            links
                .external_id_of(&acme, "chatwoot", first.id)
                .await
                .unwrap()
                .as_deref(),
            Some("1:7"),
            "the link reads both ways"
        );
        assert_eq!(
            links
                .external_id_of(&acme, "chatwoot", second.id)
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            links
                .external_id_of(&workspace("globex"), "chatwoot", first.id)
                .await
                .unwrap(),
            None
        );
    }
}

#[tokio::test]
async fn activity_returns_a_workspaces_recent_conversations_with_transcripts_and_feedback() {
    for backend in backends().await {
        let store = &backend.store;
        let reports = &backend.reports;
        let acme = workspace("acme");
        let older = store
            .create(&acme, CustomerAttributes::default(), TokenHash::of("a"))
            .await
            .unwrap();
        let newer = store
            .create(&acme, CustomerAttributes::default(), TokenHash::of("b"))
            .await
            .unwrap();
        let other = store
            .create(
                &workspace("globex"),
                CustomerAttributes::default(),
                TokenHash::of("c"),
            )
            .await
            .unwrap();
        for (ws, id) in [(&acme, older.id), (&workspace("globex"), other.id)] {
            store
                .apply(
                    ws,
                    id,
                    Change {
                        messages: vec![
                            NewMessage::customer("I want a person"),
                            NewMessage::bot("Someone will follow up.", handoff_decision()),
                        ],
                        feedback: Some(NewFeedback {
                            message_seq: None,
                            rating: Some(Rating::Down),
                            comment: Some("too slow".into()),
                        }),
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
        }

        let all = reports.activity(&acme, 0, 10).await.unwrap();
        let newest_only = reports.activity(&acme, 0, 1).await.unwrap();
        let none_since = reports.activity(&acme, i64::MAX, 10).await.unwrap();

        let name = backend.name;
        assert_eq!(all.len(), 2, "{name}: the other workspace is left out");
        let ids: Vec<ConversationId> = all.iter().map(|a| a.conversation.id).collect();
        assert!(ids.contains(&older.id) && ids.contains(&newer.id), "{name}");
        let with_messages = all.iter().find(|a| a.conversation.id == older.id).unwrap();
        let roles: Vec<MessageRole> = with_messages.messages.iter().map(|m| m.role).collect();
        assert_eq!(
            roles,
            vec![MessageRole::Customer, MessageRole::Bot],
            "{name}"
        );
        assert_eq!(with_messages.feedback.len(), 1, "{name}");
        assert_eq!(with_messages.feedback[0].rating, Some(Rating::Down));
        assert_eq!(
            with_messages.feedback[0].comment.as_deref(),
            Some("too slow")
        );
        assert_eq!(with_messages.feedback[0].conversation_id, older.id);
        assert_eq!(newest_only.len(), 1, "{name}: limit applies");
        assert!(none_since.is_empty(), "{name}: since applies");
        let feedback = reports.feedback(older.id).await.unwrap();
        assert_eq!(feedback, with_messages.feedback, "{name}");
        assert!(
            reports.feedback(newer.id).await.unwrap().is_empty(),
            "{name}"
        );
    }
}

#[tokio::test]
async fn pruning_forgets_old_deliveries_and_inbound_ids_but_never_pending_or_dead_events() {
    for backend in backends().await {
        let store = &backend.store;
        let outbox = &backend.outbox;
        let acme = workspace("acme");
        for _ in 0..4 {
            conversation_with_events(store, &acme, &["conversation.handoff"]).await;
        }
        let now = fathom_conversations::now_ms();
        let claimed = outbox.claim_due(now, 60_000, 10).await.unwrap();
        assert_eq!(claimed.len(), 4, "{}", backend.name);
        outbox
            .mark_delivered(&claimed[0].id, now - 10_000)
            .await
            .unwrap();
        outbox.mark_delivered(&claimed[1].id, now).await.unwrap();
        outbox.mark_dead(&claimed[2].id, "gone").await.unwrap();
        // claimed[3] stays pending (leased).
        let conversation = store
            .create(&acme, CustomerAttributes::default(), TokenHash::of("t"))
            .await
            .unwrap();
        let inbound = Change {
            messages: vec![NewMessage::agent("Hi", None)],
            inbound_delivery: Some(("standard".into(), "msg_old".into())),
            ..Default::default()
        };
        store
            .apply(&acme, conversation.id, inbound.clone())
            .await
            .unwrap();

        // Only the delivery older than the cutoff goes; the inbound id is newer than its cutoff.
        let pruned = outbox.prune(now - 5_000, now - 60_000).await.unwrap();
        assert_eq!(pruned.delivered_events, 1, "{}", backend.name);
        assert_eq!(pruned.inbound_ids, 0);
        let left: Vec<_> = outbox
            .outbox(&acme)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.id, e.status))
            .collect();
        assert_eq!(left.len(), 3);
        assert!(!left.iter().any(|(id, _)| *id == claimed[0].id));
        assert!(left.contains(&(claimed[2].id.clone(), OutboxStatus::Dead)));
        assert!(left.contains(&(claimed[3].id.clone(), OutboxStatus::Pending)));
        assert!(
            store
                .apply(&acme, conversation.id, inbound.clone())
                .await
                .unwrap()
                .duplicate,
            "a kept inbound id still deduplicates"
        );

        // Everything old enough: the remaining delivery and the inbound id; pending and dead stay.
        let pruned = outbox.prune(now + 60_000, now + 60_000).await.unwrap();
        assert_eq!(
            pruned,
            fathom_conversations::Pruned {
                delivered_events: 1,
                inbound_ids: 1
            }
        );
        let statuses: Vec<_> = outbox
            .outbox(&acme)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.status)
            .collect();
        assert_eq!(statuses.len(), 2);
        assert!(
            statuses.contains(&OutboxStatus::Dead) && statuses.contains(&OutboxStatus::Pending)
        );
        assert!(
            !store
                .apply(&acme, conversation.id, inbound)
                .await
                .unwrap()
                .duplicate,
            "a forgotten inbound id is applied again"
        );
        // Applied again, the id is remembered again (and only it is left to prune).
        assert_eq!(
            outbox.prune(now + 60_000, now + 60_000).await.unwrap(),
            fathom_conversations::Pruned {
                delivered_events: 0,
                inbound_ids: 1
            }
        );
    }
}

/// Several deliverers (gateways) claiming from one store at once: every event is delivered
/// exactly once, and each conversation's events in the order they were written.
#[tokio::test]
async fn concurrent_claimers_deliver_every_event_once_and_each_conversation_in_order() {
    for backend in backends().await {
        let acme = workspace("acme");
        let mut written = Vec::new();
        for _ in 0..6 {
            let id = conversation_with_events(
                &backend.store,
                &acme,
                &[
                    "conversation.handoff",
                    "conversation.message",
                    "conversation.resolved",
                ],
            )
            .await;
            written.push(id);
        }
        let delivered = Arc::new(std::sync::Mutex::new(Vec::<(ConversationId, String)>::new()));
        let mut claimers = Vec::new();
        for _ in 0..4 {
            let outbox = Arc::clone(&backend.outbox);
            let delivered = Arc::clone(&delivered);
            claimers.push(tokio::spawn(async move {
                let mut idle_passes = 0;
                while idle_passes < 20 {
                    let now = fathom_conversations::now_ms();
                    let claimed = outbox.claim_due(now, 60_000, 3).await.unwrap();
                    if claimed.is_empty() {
                        idle_passes += 1;
                        tokio::task::yield_now().await;
                        continue;
                    }
                    idle_passes = 0;
                    for event in claimed {
                        delivered
                            .lock()
                            .unwrap()
                            .push((event.conversation_id, event.id.clone()));
                        outbox.mark_delivered(&event.id, now).await.unwrap();
                    }
                }
            }));
        }
        for claimer in claimers {
            claimer.await.unwrap();
        }
        let delivered = delivered.lock().unwrap().clone();
        let events = backend.outbox.outbox(&acme).await.unwrap();
        assert_eq!(
            delivered.len(),
            events.len(),
            "{}: each event once",
            backend.name
        );
        assert!(events
            .iter()
            .all(|e| e.status == OutboxStatus::Delivered && e.attempts == 1));
        for id in written {
            let in_written_order: Vec<&str> = events
                .iter()
                .filter(|e| e.conversation_id == id)
                .map(|e| e.id.as_str())
                .collect();
            let in_delivered_order: Vec<&str> = delivered
                .iter()
                .filter(|(conversation, _)| *conversation == id)
                .map(|(_, event)| event.as_str())
                .collect();
            assert_eq!(in_delivered_order, in_written_order, "{}", backend.name);
        }
    }
}

#[tokio::test]
async fn committed_changes_are_announced_and_refused_ones_are_not() {
    for backend in backends().await {
        let store = &backend.store;
        let acme = workspace("acme");
        let conversation = store
            .create(&acme, CustomerAttributes::default(), TokenHash::of("t"))
            .await
            .unwrap();
        let mut notices = store.changes().subscribe();
        let refused = store
            .apply(
                &acme,
                conversation.id,
                Change {
                    messages: vec![NewMessage::agent("hi", None)],
                    expect_states: vec![ConversationState::Human],
                    ..Default::default()
                },
            )
            .await;
        assert!(refused.is_err());
        store
            .apply(
                &acme,
                conversation.id,
                Change {
                    messages: vec![NewMessage::customer("hello")],
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let notice = tokio::time::timeout(std::time::Duration::from_secs(10), async {
            loop {
                match notices.recv().await.unwrap() {
                    ChangeNotice::Missed => continue,
                    notice => return notice,
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{}: no notice", backend.name));
        assert_eq!(
            notice,
            ChangeNotice::Changed(conversation.id),
            "{}",
            backend.name
        );
        assert!(
            matches!(notices.try_recv(), Err(_) | Ok(ChangeNotice::Missed)),
            "{}: the refused change is not announced",
            backend.name
        );
    }
}
