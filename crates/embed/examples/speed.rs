// TEMPORARY speed experiment; not part of the deliverable.
use fathom_embed::{MiniLmConfig, MiniLmEmbedder};
use std::time::Instant;

fn env(name: &str) -> Option<usize> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn main() {
    let dir =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/all-minilm-l6-v2");
    let mut config = MiniLmConfig::new(dir);
    if let Some(t) = env("THREADS") {
        config.threads = t;
    }
    if let Some(b) = env("BATCH") {
        config.batch_size = b;
    }
    let n = env("N").unwrap_or(32);
    let words = env("WORDS").unwrap_or(400);
    let mixed = std::env::var("MIXED").is_ok();
    let e = MiniLmEmbedder::load(config.clone()).unwrap();
    let vocab = [
        "refund", "order", "shipping", "invoice", "account", "password", "delivery", "support",
        "the", "customer",
    ];
    let chunks: Vec<String> = (0..n)
        .map(|i| {
            let len = if mixed { 20 + (i * 37) % words } else { words };
            (0..len)
                .map(|j| vocab[(i + j * 7) % vocab.len()])
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    // warm up
    e.embed_blocking(&chunks[..2.min(n)]).unwrap();
    let q = vec!["How do I get my money back?".to_string()];
    let mut qs = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        e.embed_blocking(&q).unwrap();
        qs.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    qs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let reps = env("REPS").unwrap_or(3);
    let mut best = f64::MAX;
    let cpu0 = cpu_secs();
    for _ in 0..reps {
        let t = Instant::now();
        e.embed_blocking(&chunks).unwrap();
        best = best.min(t.elapsed().as_secs_f64());
    }
    let cpu_ms_per_chunk = (cpu_secs() - cpu0) * 1000.0 / (reps * n) as f64;
    println!("threads={} batch={} n={} mixed={} query_median={:.1}ms query_min={:.1}ms chunks/s={:.1} ms/chunk={:.1} cpu_ms/chunk={:.1}",
        config.threads, config.batch_size, n, mixed, qs[10], qs[0], n as f64 / best, best * 1000.0 / n as f64, cpu_ms_per_chunk);
}

fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split(' ').collect();
    (f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap()) / 100.0
}
