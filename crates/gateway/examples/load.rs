//! Load test of the gateway on loopback: the real engine (extractive, BM25 only) over
//! `knowledge/`, SQLite in a temporary folder, and N concurrent conversations each sending
//! messages one after another for a while. Prints messages/s, p50/p99 latency and the memory
//! that open conversations cost.
//!
//! `target/debug/examples/load [conversations=100] [seconds=10] [messages per conversation=1] [offered msg/s]`
//! after `cargo build --workspace --all-targets` (a release build is faster still).
//!
//! - `FATHOM_LOAD_DATABASE=postgres://…`: the in-process gateway keeps conversations there
//!   instead of a temporary SQLite file;
//! - `FATHOM_LOAD_TARGETS=http://127.0.0.1:8081,http://127.0.0.1:8082`: no in-process gateway;
//!   the conversations go round-robin to these running gateways (`fathom serve` with workspace
//!   `bench`, e.g. on one Postgres), each conversation staying on one;
//! - `FATHOM_LOAD_PIDS=123,456`: sample those processes' resident memory every 5 s of the run.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fathom_answer::{AnswerConfig, AnswerEngine};
use fathom_conversations::{Database, PostgresOptions};
use fathom_core::{SparseEmbedder, VectorStore, WorkspaceId};
use fathom_embed::Bm25Embedder;
use fathom_gateway::{Application, Dependencies, GatewayConfig, RateLimits, WorkspaceConfig};
use fathom_ingest::sync::{sync_folder, SyncBackends, SyncOptions};
use fathom_retrieve::{Retriever, RetrieverConfig};
use fathom_store::{EdgeStore, EdgeStoreConfig, FileSyncState};
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
    resident_kib_of("/proc/self/status")
}

/// `VmRSS` of a `/proc/<pid>/status` file, in KiB.
fn resident_kib_of(status_file: &str) -> u64 {
    std::fs::read_to_string(status_file)
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
    let targets: Vec<String> = std::env::var("FATHOM_LOAD_TARGETS")
        .map(|t| {
            t.split(',')
                .map(|u| u.trim_end_matches('/').to_string())
                .collect()
        })
        .unwrap_or_default();
    let pids: Vec<u32> = std::env::var("FATHOM_LOAD_PIDS")
        .map(|p| p.split(',').filter_map(|p| p.trim().parse().ok()).collect())
        .unwrap_or_default();
    let (bases, in_process) = if targets.is_empty() {
        let (base, stop, server, dir) = start_gateway().await;
        (vec![base], Some((stop, server, dir)))
    } else {
        (targets, None)
    };
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(conversations)
        .build()
        .unwrap();
    let sampling = tokio::spawn(sample_memory(pids.clone()));

    let before = resident_kib();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let began = Instant::now();
    let mut tasks = Vec::new();
    for index in 0..conversations {
        let client = client.clone();
        let base = bases[index % bases.len()].clone();
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
    sampling.abort();
    latencies.sort();
    let percentile =
        |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    let after = resident_kib();
    println!(
        "{conversations} concurrent conversations on {} gateway(s), {per_conversation} message(s) each, {seconds} s, offered {}: {} messages, {:.0} msg/s, p50 {:.1} ms, p99 {:.1} ms, statuses {statuses:?}",
        bases.len(),
        rate.map_or("as fast as replies come".to_string(), |r| format!("{r} msg/s")),
        latencies.len(),
        latencies.len() as f64 / elapsed,
        percentile(0.50).as_secs_f64() * 1000.0,
        percentile(0.99).as_secs_f64() * 1000.0,
    );
    let Some((stop, server, _dir)) = in_process else {
        return;
    };

    // Memory of open conversations: idle ones cost rows in the store, not RAM; measure RSS
    // across many more.
    let base = &bases[0];
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
        "resident memory: {} MiB before the run, {} MiB after; {extra} more conversations: +{:.2} KiB each",
        before / 1024,
        after / 1024,
        after_many.saturating_sub(before_many) as f64 / extra as f64
    );
    let _ = stop.send(());
    let _ = server.await;
}

/// Print the resident memory of `pids` every 5 s (first, then each sample).
async fn sample_memory(pids: Vec<u32>) {
    if pids.is_empty() {
        return;
    }
    let started = Instant::now();
    loop {
        let samples: Vec<String> = pids
            .iter()
            .map(|pid| {
                format!(
                    "{pid}: {} MiB",
                    resident_kib_of(&format!("/proc/{pid}/status")) / 1024
                )
            })
            .collect();
        println!(
            "t={:>4} s  {}",
            started.elapsed().as_secs(),
            samples.join(", ")
        );
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}

/// The in-process gateway: the engine over `knowledge/`, conversations in a temporary SQLite
/// file or in `FATHOM_LOAD_DATABASE`. Returns its base URL, a stop switch, the server task and
/// the folder to keep alive.
async fn start_gateway() -> (
    String,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
    tempfile::TempDir,
) {
    let dir = tempfile::TempDir::new().unwrap();
    let knowledge = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../knowledge");
    let store: Arc<dyn VectorStore> =
        Arc::new(EdgeStore::open(&dir.path().join("qdrant"), EdgeStoreConfig::default()).unwrap());
    let sparse: Arc<dyn SparseEmbedder> = Arc::new(Bm25Embedder::english());
    let workspace = WorkspaceId::parse("bench").unwrap();
    let backends = SyncBackends {
        store: store.clone(),
        state: Arc::new(FileSyncState::new(dir.path().join("workspaces"))),
        dense: None,
        sparse: sparse.clone(),
    };
    let options = SyncOptions::new(workspace.clone());
    sync_folder(&knowledge, &backends, &options, &|_| {})
        .await
        .unwrap();
    let engine = Arc::new(AnswerEngine::new(
        Retriever::new(store, None, sparse, RetrieverConfig::default()),
        AnswerConfig::default(),
        None,
    ));
    let database: Database = std::env::var("FATHOM_LOAD_DATABASE")
        .unwrap_or_else(|_| {
            dir.path()
                .join("conversations.sqlite")
                .display()
                .to_string()
        })
        .parse()
        .unwrap();
    let stores = database.open(PostgresOptions::default()).await.unwrap();
    let mut config = GatewayConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        rate_limits: RateLimits::unlimited(),
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
            stores,
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
    (base, stop, server, dir)
}
