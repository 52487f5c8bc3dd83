//! The conversation store's share of one chat message, without HTTP: what the gateway asks of
//! the store for a customer's message (look the conversation up by its token, read the
//! transcript, store the message and the bot's reply with the new state in one change), for
//! `TURNS` messages over `CONVERSATIONS` conversations, in a SQLite file in a temporary folder.
//!
//! `cargo run --release -p fathom-conversations --example turns [TURNS=2000] [CONVERSATIONS=200]`
//! prints the mean and p50 per message. For instruction counts on a busy machine:
//! `valgrind --tool=callgrind target/release/examples/turns 200` minus the same with `0`
//! (the setup), divided by 200.

use std::time::Instant;

use fathom_conversations::{
    Change, ConversationState, ConversationStore, DecisionRecord, NewMessage, SqliteStore,
    TokenHash,
};
use fathom_core::{ArticleId, ChunkId, Citation, DecisionKind, Reason, WorkspaceId};

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let turns: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2000);
    let conversations: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    let dir = tempfile::TempDir::new().expect("temporary folder");
    let store = SqliteStore::open(&dir.path().join("conversations.sqlite")).expect("store opens");
    let workspace = WorkspaceId::parse("bench").expect("valid workspace");
    let article = ArticleId::parse("billing-refunds").expect("valid article id");
    let chunk = ChunkId::derive(&workspace, &article, 0);
    let decision = DecisionRecord {
        kind: DecisionKind::Answer,
        reason: Reason::Answered,
        confidence: 0.82,
        citations: vec![Citation {
            article_id: article,
            title: "Refunds".into(),
            url: Some("https://help.example/refunds".into()),
            chunk_ids: vec![chunk],
        }],
        evidence_ids: vec![chunk; 5],
        summary: None,
        awaiting: None,
    };

    let mut open = Vec::with_capacity(conversations);
    for index in 0..conversations.max(1) {
        let token = format!("fct_bench_token_{index}");
        let conversation = store
            .create(&workspace, Default::default(), TokenHash::of(&token))
            .await
            .expect("create");
        open.push((conversation.id, token));
    }

    let mut latencies = Vec::with_capacity(turns);
    let started = Instant::now();
    for turn in 0..turns {
        let began = Instant::now();
        let (id, token) = &open[turn % open.len()];
        let conversation = store
            .get_for_customer(*id, &TokenHash::of(token))
            .await
            .expect("lookup")
            .expect("the token opens its conversation");
        let history = store.messages(conversation.id).await.expect("transcript");
        let change = Change {
            state: Some(ConversationState::Bot),
            expect_states: vec![ConversationState::Bot, ConversationState::Resolved],
            messages: vec![
                NewMessage::customer(format!("how do I get a refund? ({})", history.len())),
                NewMessage::bot(
                    "Annual plans can be refunded on a prorated basis within 30 days of purchase.",
                    decision.clone(),
                ),
            ],
            ..Default::default()
        };
        store
            .apply(&workspace, conversation.id, change)
            .await
            .expect("apply");
        latencies.push(began.elapsed().as_secs_f64() * 1e6);
    }
    let total = started.elapsed().as_secs_f64();
    if turns == 0 {
        println!("setup only");
        return;
    }
    latencies.sort_by(f64::total_cmp);
    println!(
        "{turns} messages over {} conversations: mean {:.0} µs, p50 {:.0} µs, p99 {:.0} µs per message",
        open.len(),
        total * 1e6 / turns as f64,
        latencies[turns / 2],
        latencies[(turns * 99 / 100).min(turns - 1)],
    );
}
