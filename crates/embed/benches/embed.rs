//! Local MiniLM speed: query latency, and throughput on a batch of 16 full-length (256
//! word-piece) chunks, the shape of an ingest run.
//!
//! Needs the model (`scripts/fetch-model.sh`, or `FATHOM_MODEL_DIR`). Knobs for experiments:
//! `FATHOM_BENCH_THREADS`, `FATHOM_BENCH_BATCH_TOKENS` override the embedder's defaults.
//!
//! `cargo bench -p fathom-embed --bench embed`

use std::path::PathBuf;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use fathom_core::Embedder;
use fathom_embed::{MiniLmConfig, MiniLmEmbedder};

const CHUNK_COUNT: usize = 16;

/// About 290 word-pieces of help-centre prose, so every chunk is truncated to the full 256.
const ARTICLE: &str = "If your order arrived damaged or is not what you ordered, you can ask for a \
    refund or a replacement within thirty days of delivery. Open the order in your account, choose \
    the items you want to return, and tell us what went wrong; a photo of the damage helps us decide \
    faster. We email a prepaid shipping label within one business day. Pack the items in their \
    original packaging if you still have it, attach the label, and drop the parcel at any post \
    office or partner location. Once the warehouse receives the return, we inspect it and issue the \
    refund to the original payment method, which usually takes three to five business days to \
    appear on your statement, depending on your bank. Gift cards and store credit are refunded \
    instantly. If you paid with a buy now, pay later provider, the refund goes to that provider and \
    your remaining instalments are adjusted automatically. Some items cannot be returned: \
    personalised products, opened software, perishable goods and gift cards. Sale items can be \
    returned for store credit only. If the return window has passed, contact support anyway: we \
    look at every case and often make exceptions for faulty products covered by the manufacturer's \
    warranty. For orders shipped outside the European Union, customs duties are not refundable, \
    but we refund the shipping cost when the return is due to our mistake. Business customers with \
    an invoice account receive a credit note instead of a refund; the credit note appears in the \
    billing section of the dashboard and is applied to the next invoice.";

fn model_dir() -> PathBuf {
    std::env::var_os("FATHOM_MODEL_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/all-minilm-l6-v2"),
        PathBuf::from,
    )
}

fn env_override(name: &str) -> Option<usize> {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
}

/// `CHUNK_COUNT` different chunks: the article's words rotated, so no two texts are equal.
fn chunks() -> Vec<String> {
    let words: Vec<&str> = ARTICLE.split_whitespace().collect();
    (0..CHUNK_COUNT)
        .map(|i| {
            let start = (i * 13) % words.len();
            words[start..]
                .iter()
                .chain(&words[..start])
                .copied()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

fn local_minilm(c: &mut Criterion) {
    let mut config = MiniLmConfig::new(model_dir());
    if let Some(threads) = env_override("FATHOM_BENCH_THREADS") {
        config.threads = threads;
    }
    if let Some(batch_size) = env_override("FATHOM_BENCH_BATCH_TOKENS") {
        config.batch_tokens = batch_size;
    }
    let embedder = MiniLmEmbedder::load(config.clone())
        .unwrap_or_else(|error| panic!("run scripts/fetch-model.sh first: {error}"));
    eprintln!("benchmarking {embedder:?}");
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let chunks = chunks();

    let mut group = c.benchmark_group("minilm");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));

    group.throughput(Throughput::Elements(1));
    group.bench_function("query", |b| {
        b.iter(|| runtime.block_on(embedder.embed_query("How do I get my money back?")))
    });

    group.throughput(Throughput::Elements(CHUNK_COUNT as u64));
    group.bench_function("16_chunks_of_256_tokens", |b| {
        b.iter(|| runtime.block_on(embedder.embed_documents(chunks.clone())))
    });
    group.finish();
}

criterion_group!(benches, local_minilm);
criterion_main!(benches);
