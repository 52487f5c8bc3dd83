//! Load test of the gateway on loopback: the real engine (extractive, BM25 only) over
//! `knowledge/`, SQLite in a temporary folder, and N concurrent conversations each sending
//! messages one after another for a while. Prints messages/s, p50/p99 latency and the memory
//! that open conversations cost.
//!
//! `target/debug/examples/load [conversations=100] [seconds=10] [messages per conversation=1] [offered msg/s]`
//! after `cargo build --workspace --all-targets` (a release build is faster still).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fathom_answer::{AnswerConfig, AnswerEngine};
use fathom_conversations::{ConversationStore, SqliteStore};
use fathom_core::{SparseEmbedder, VectorStore, WorkspaceId};
use fathom_embed::Bm25Embedder;
use fathom_gateway::{Application, Dependencies, GatewayConfig, RateLimits, WorkspaceConfig};
use fathom_ingest::sync::{sync_folder, SyncBackends, SyncOptions};
use fathom_retrieve::{Retriever, RetrieverConfig};
use fathom_store::{EdgeStore, EdgeStoreConfig};
use serde_json::{json, Value};

/// Questions the help center answers.
const QUESTIONS: &[&str] = &[
    "why am I getting error 429?",
    "how do I set up two-factor authentication?",
    "how do I export my data?",
    "how do I invite a teammate?",
    "how do I reset my password?",
    "how do I change my billing plan?",
    "what are the API rate limits?",
    "how do I connect Slack?",
];

fn resident_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let conversations: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100);
    let seconds: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(10);
    // Messages before the customer starts a new conversation. Several topics in one
    // conversation carry context from one to the next, and the engine may hand off; then the
    // bot is silent (202) and the run measures the silent path instead.
    let per_conversation: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    // Optional offered load in messages/s across all conversations (open loop: each
    // conversation sends on a fixed schedule, so latency is not inflated by the load generator's
    // own queue). Without it every customer sends again the moment it gets a reply.
    let rate: Option<f64> = args.next().and_then(|a| a.parse().ok());
    let interval = rate.map(|r| Duration::from_secs_f64(conversations as f64 / r));
    let dir = tempfile::TempDir::new().unwrap();
    let knowledge = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../knowledge");
    let store: Arc<dyn VectorStore> =
        Arc::new(EdgeStore::open(&dir.path().join("qdrant"), EdgeStoreConfig::default()).unwrap());
    let sparse: Arc<dyn SparseEmbedder> = Arc::new(Bm25Embedder::english());
    let workspace = WorkspaceId::parse("bench").unwrap();
    let backends = SyncBackends {
        store: store.clone(),
        dense: None,
        sparse: sparse.clone(),
    };
    let options = SyncOptions {
        workspace: workspace.clone(),
        chunker: Default::default(),
        limits: Default::default(),
        batch_size: 64,
        manifest_path: dir.path().join("manifest.json"),
    };
    sync_folder(&knowledge, &backends, &options, &|_| {})
        .await
        .unwrap();
    let engine = Arc::new(AnswerEngine::new(
        Retriever::new(store, None, sparse, RetrieverConfig::default()),
        AnswerConfig::default(),
        None,
    ));
    let conversation_store: Arc<dyn ConversationStore> =
        Arc::new(SqliteStore::open(&dir.path().join("conversations.sqlite")).unwrap());
    let mut config = GatewayConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        // Every simulated customer comes from 127.0.0.1: one client to the per-client limits.
        rate_limits: RateLimits {
            customer_per_minute: 1_000_000,
            workspace_per_second: 1_000_000,
            client_per_second: 1_000_000,
            client_burst: 1_000_000,
            client_conversations_per_minute: 1_000_000,
        },
        ..Default::default()
    };
    config.workspaces.insert(
        workspace.clone(),
        WorkspaceConfig::new("bench-admin-key-0123456789"),
    );
    let application = Application::build(
        config,
        Dependencies {
            engine,
            store: conversation_store,
            knowledge: None,
        },
    )
    .await
    .unwrap();
    let base = format!("http://{}", application.address());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(application.run_until_stopped(async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(conversations)
        .build()
        .unwrap();

    let before = resident_kib();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let began = Instant::now();
    let mut tasks = Vec::new();
    for index in 0..conversations {
        let client = client.clone();
        let base = base.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut statuses = BTreeMap::<u16, usize>::new();
            let mut turn = index;
            // Stagger the schedules so the offered load is even.
            let mut next_send = tokio::time::Instant::now()
                + interval.map_or(Duration::ZERO, |i| i * index as u32 / conversations as u32);
            while Instant::now() < deadline {
                let created: Value = client
                    .post(format!("{base}/v1/conversations"))
                    .json(&json!({"workspace": "bench"}))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                let url = format!(
                    "{base}/v1/conversations/{}/messages",
                    created["conversation_id"].as_str().unwrap()
                );
                let token = created["customer_token"].as_str().unwrap().to_string();
                for _ in 0..per_conversation {
                    if let Some(interval) = interval {
                        tokio::time::sleep_until(next_send).await;
                        next_send += interval;
                    }
                    if Instant::now() >= deadline {
                        break;
                    }
                    let sent = Instant::now();
                    let response = client
                        .post(&url)
                        .bearer_auth(&token)
                        .json(&json!({"text": QUESTIONS[turn % QUESTIONS.len()]}))
                        .send()
                        .await
                        .unwrap();
                    *statuses.entry(response.status().as_u16()).or_default() += 1;
                    let _ = response.bytes().await;
                    latencies.push(sent.elapsed());
                    turn += 1;
                }
            }
            (latencies, statuses)
        }));
    }
    let mut latencies = Vec::new();
    let mut statuses = BTreeMap::<u16, usize>::new();
    for task in tasks {
        let (l, s) = task.await.unwrap();
        latencies.extend(l);
        for (status, count) in s {
            *statuses.entry(status).or_default() += count;
        }
    }
    let elapsed = began.elapsed().as_secs_f64();
    latencies.sort();
    let percentile =
        |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    let after = resident_kib();

    // Memory of open conversations: idle ones cost rows in SQLite, not RAM; measure RSS across
    // many more.
    let extra = 5_000;
    let before_many = resident_kib();
    for _ in 0..extra {
        let _ = client
            .post(format!("{base}/v1/conversations"))
            .json(&json!({"workspace": "bench"}))
            .send()
            .await
            .unwrap()
            .bytes()
            .await;
    }
    let after_many = resident_kib();
    println!(
        "{conversations} concurrent conversations, {per_conversation} message(s) each, {seconds} s, offered {}: {} messages, {:.0} msg/s, p50 {:.1} ms, p99 {:.1} ms, statuses {statuses:?}",
        rate.map_or("as fast as replies come".to_string(), |r| format!("{r} msg/s")),
        latencies.len(),
        latencies.len() as f64 / elapsed,
        percentile(0.50).as_secs_f64() * 1000.0,
        percentile(0.99).as_secs_f64() * 1000.0,
    );
    println!(
        "resident memory: {} MiB before the run, {} MiB after; {extra} more conversations: +{:.2} KiB each",
        before / 1024,
        after / 1024,
        after_many.saturating_sub(before_many) as f64 / extra as f64
    );
    let _ = stop.send(());
    let _ = server.await;
}
