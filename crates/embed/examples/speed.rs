//! Local MiniLM speed in three shapes, for quick comparisons while tuning (criterion's
//! `benches/embed.rs` is the reference):
//! - one question at a time: latency;
//! - `CONCURRENT` questions at once (default 64), through the dynamic batcher: questions/s;
//! - documents: `N` chunks (default 64) of `WORDS` words (default 200; `MIXED=1` varies
//!   them): chunks/s.
//!
//! `cargo run --release -p fathom-embed --example speed` (`THREADS`, `BATCH_TOKENS` override
//! the embedder's defaults; `ONLY=query|concurrent|documents` runs one shape).

use std::path::PathBuf;
use std::time::Instant;

use fathom_core::Embedder;
use fathom_embed::{MiniLmConfig, MiniLmEmbedder};

fn env(name: &str) -> Option<usize> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn wants(shape: &str) -> bool {
    std::env::var("ONLY").map_or(true, |only| only == shape)
}

const VOCABULARY: [&str; 10] = [
    "refund", "order", "shipping", "invoice", "account", "password", "delivery", "support", "the",
    "customer",
];

#[tokio::main]
async fn main() {
    let dir = std::env::var_os("FATHOM_MODEL_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/all-minilm-l6-v2"),
        PathBuf::from,
    );
    let mut config = MiniLmConfig::new(dir);
    if let Some(threads) = env("THREADS") {
        config.threads = threads;
    }
    if let Some(tokens) = env("BATCH_TOKENS") {
        config.batch_tokens = tokens;
    }
    let embedder = MiniLmEmbedder::load(config.clone()).expect("model loads");
    let question = "How do I get my money back?";
    embedder.embed_query(question).await.expect("warm-up");

    if wants("query") {
        let mut latencies = Vec::new();
        for _ in 0..env("REPS").unwrap_or(50) {
            let started = Instant::now();
            embedder.embed_query(question).await.expect("embeds");
            latencies.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        latencies.sort_by(f64::total_cmp);
        println!(
            "query: p50 {:.2} ms, min {:.2} ms (threads {})",
            latencies[latencies.len() / 2],
            latencies[0],
            config.threads
        );
    }

    if wants("concurrent") {
        let concurrent = env("CONCURRENT").unwrap_or(64);
        let questions: Vec<String> = (0..concurrent)
            .map(|i| format!("{question} {}", VOCABULARY[i % VOCABULARY.len()]))
            .collect();
        let rounds = env("REPS").unwrap_or(10);
        let started = Instant::now();
        for _ in 0..rounds {
            let calls = questions.iter().map(|q| embedder.embed_query(q));
            for vector in futures::future::join_all(calls).await {
                vector.expect("embeds");
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "concurrent: {concurrent} questions at once: {:.0} questions/s",
            (concurrent * rounds) as f64 / seconds
        );
    }

    if wants("documents") {
        let count = env("N").unwrap_or(64);
        let words = env("WORDS").unwrap_or(200);
        let mixed = std::env::var_os("MIXED").is_some();
        let chunks: Vec<String> = (0..count)
            .map(|i| {
                let length = if mixed { 20 + (i * 37) % words } else { words };
                (0..length)
                    .map(|j| VOCABULARY[(i + j * 7) % VOCABULARY.len()])
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        let mut best = f64::MAX;
        for _ in 0..env("REPS").unwrap_or(3) {
            let started = Instant::now();
            embedder.embed_blocking(&chunks).expect("embeds");
            best = best.min(started.elapsed().as_secs_f64());
        }
        println!(
            "documents: {count} chunks of {words} words{}: {:.1} chunks/s",
            if mixed { " (mixed)" } else { "" },
            count as f64 / best
        );
    }
}
