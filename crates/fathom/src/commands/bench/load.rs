//! Conversations over HTTP: `fathom bench load` (an in-process gateway with the configured
//! embedder) and `fathom bench http` (any server speaking the chat API, e.g. `fathom serve` or
//! the Python peer of `scripts/bench-vs-python.sh`), plus `fathom bench chunks`, which writes
//! the chunks Fathom embeds so the peer embeds the very same texts.
//!
//! Every client loops until the deadline: start a conversation, send one question, read the
//! reply. Reported: messages/s, latency p50/p99 of the message requests, the status codes, and
//! the server's resident memory (the process and its children) before, at its peak during,
//! and after each round.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use fathom_conversations::{SqliteStore, Stores};
use fathom_gateway::{Application, Dependencies, GatewayConfig, RateLimits, WorkspaceConfig};
use serde_json::{json, Value};

use crate::settings::{Settings, VectorStoreKind};

/// One round of clients against a server.
pub(super) struct Round {
    pub clients: usize,
    pub seconds: f64,
    pub messages: usize,
    pub latencies_ms: Vec<f64>,
    pub statuses: BTreeMap<u16, usize>,
    pub rss_before_mib: f64,
    pub rss_peak_mib: f64,
    pub rss_after_mib: f64,
}

impl Round {
    pub fn to_json(&self) -> Value {
        let mut sorted = self.latencies_ms.clone();
        sorted.sort_by(f64::total_cmp);
        json!({
            "clients": self.clients,
            "messages": self.messages,
            "messages_per_s": super::round(self.messages as f64 / self.seconds),
            "p50_ms": super::round(fathom_evals::retrieval::percentile(&sorted, 0.5)),
            "p99_ms": super::round(fathom_evals::retrieval::percentile(&sorted, 0.99)),
            "statuses": self.statuses,
            "rss_before_mib": super::round(self.rss_before_mib),
            "rss_peak_mib": super::round(self.rss_peak_mib),
            "rss_after_mib": super::round(self.rss_after_mib),
        })
    }
}

/// The customer questions of an eval set: what clients ask, in turn.
pub(super) fn questions(set_dir: &Path) -> anyhow::Result<Vec<String>> {
    let set = fathom_evals::EvalSet::load(set_dir)?;
    let questions: Vec<String> = set.cases.into_iter().map(|case| case.question).collect();
    anyhow::ensure!(
        !questions.is_empty(),
        "{} has no cases to ask",
        set_dir.display()
    );
    Ok(questions)
}

/// Runs `clients` conversations against `base` for `duration`, sampling the resident memory of
/// process `pid` (and its children) throughout.
pub(super) async fn drive(
    base: &str,
    workspace: &str,
    questions: Arc<Vec<String>>,
    clients: usize,
    duration: Duration,
    pid: u32,
) -> anyhow::Result<Round> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .timeout(Duration::from_secs(120))
        .build()?;
    let rss_before_mib = resident_mib(pid);
    let peak = Arc::new(std::sync::Mutex::new(rss_before_mib));
    let sampling = {
        let peak = Arc::clone(&peak);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(200)).await;
                let now = resident_mib(pid);
                let mut peak = peak.lock().unwrap_or_else(|e| e.into_inner());
                *peak = peak.max(now);
            }
        })
    };

    let began = Instant::now();
    let deadline = began + duration;
    let mut tasks = Vec::with_capacity(clients);
    for index in 0..clients {
        let client = client.clone();
        let base = base.to_string();
        let workspace = workspace.to_string();
        let questions = Arc::clone(&questions);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut statuses = BTreeMap::<u16, usize>::new();
            let mut turn = index;
            while Instant::now() < deadline {
                let created: Value = client
                    .post(format!("{base}/v1/conversations"))
                    .json(&json!({ "workspace": workspace }))
                    .send()
                    .await?
                    .error_for_status()?
                    .json()
                    .await?;
                let (Some(id), Some(token)) = (
                    created["conversation_id"].as_str(),
                    created["customer_token"].as_str(),
                ) else {
                    anyhow::bail!("the server did not start a conversation: {created}");
                };
                let sent = Instant::now();
                let response = client
                    .post(format!("{base}/v1/conversations/{id}/messages"))
                    .bearer_auth(token)
                    .json(&json!({ "text": questions[turn % questions.len()] }))
                    .send()
                    .await?;
                let status = response.status().as_u16();
                response.bytes().await?;
                latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
                *statuses.entry(status).or_default() += 1;
                turn += clients;
            }
            Ok::<_, anyhow::Error>((latencies, statuses))
        }));
    }
    let mut latencies_ms = Vec::new();
    let mut statuses = BTreeMap::<u16, usize>::new();
    for task in tasks {
        let (client_latencies, client_statuses) = task.await??;
        latencies_ms.extend(client_latencies);
        for (status, count) in client_statuses {
            *statuses.entry(status).or_default() += count;
        }
    }
    let seconds = began.elapsed().as_secs_f64();
    sampling.abort();
    // Let the server finish what it was doing and give memory back before reading it.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_after_mib = resident_mib(pid);
    let rss_peak_mib = peak
        .lock()
        .map_or(rss_after_mib, |peak| peak.max(rss_after_mib));
    Ok(Round {
        clients,
        seconds,
        messages: latencies_ms.len(),
        latencies_ms,
        statuses,
        rss_before_mib,
        rss_peak_mib,
        rss_after_mib,
    })
}

/// `fathom bench load`: the gateway in this process over an eval set's articles, with the
/// configured embedder, SQLite in a temporary folder, and `rounds` rounds of `clients`
/// conversations.
pub(super) async fn load(
    settings: &Settings,
    set_dir: &Path,
    clients: usize,
    seconds: u64,
    rounds: usize,
    quiet: bool,
) -> anyhow::Result<Value> {
    anyhow::ensure!(
        clients > 0 && rounds > 0,
        "--clients and --rounds must be at least 1"
    );
    let set = fathom_evals::EvalSet::load(set_dir)?;
    let questions = Arc::new(questions(set_dir)?);
    let settings = Settings {
        llm_base_url: None,
        ..settings.clone()
    };
    let (backends, workspace) = super::super::eval::open_and_sync(&settings, &set, quiet).await?;
    let engine = Arc::new(backends.answer_engine(&settings)?);
    // Load the model and touch the index before the first round.
    if let Some(dense) = &backends.dense {
        dense.embed_query("warm up").await?;
    }
    let tmp = tempfile::tempdir()?;
    let stores = Stores::new(SqliteStore::open(&tmp.path().join("conversations.sqlite"))?);
    let mut config = GatewayConfig {
        addr: "127.0.0.1:0".parse()?,
        rate_limits: RateLimits::unlimited(),
        ..Default::default()
    };
    config.workspaces.insert(
        workspace.clone(),
        WorkspaceConfig::new("bench-load-admin-key-0123456789"),
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
    .context("starting the gateway")?;
    let base = format!("http://{}", application.address());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(application.run_until_stopped(async {
        let _ = stopped.await;
    }));

    let mut results = Vec::new();
    for _ in 0..rounds {
        let round = drive(
            &base,
            workspace.as_str(),
            Arc::clone(&questions),
            clients,
            Duration::from_secs(seconds),
            std::process::id(),
        )
        .await?;
        if !quiet {
            eprintln!("round: {}", round.to_json());
        }
        results.push(round.to_json());
    }
    let _ = stop.send(());
    let _ = server.await;
    Ok(json!({
        "set": set.name,
        "embedder": backends.dense.as_ref().map(|d| d.model_id().to_string()),
        "clients": clients,
        "seconds_per_round": seconds,
        "load_average": load_average(),
        "rounds": results,
    }))
}

/// `fathom bench http`: clients against a server that is already running.
pub(super) async fn http(
    url: &str,
    workspace: &str,
    set_dir: &Path,
    clients: usize,
    seconds: u64,
    pid: Option<u32>,
) -> anyhow::Result<Value> {
    anyhow::ensure!(clients > 0, "--clients must be at least 1");
    let questions = Arc::new(questions(set_dir)?);
    let round = drive(
        url.trim_end_matches('/'),
        workspace,
        questions,
        clients,
        Duration::from_secs(seconds),
        pid.unwrap_or(0),
    )
    .await?;
    let mut result = round.to_json();
    result["url"] = url.into();
    result["load_average"] = load_average().into();
    if pid.is_none() {
        for key in ["rss_before_mib", "rss_peak_mib", "rss_after_mib"] {
            result[key] = Value::Null;
        }
    }
    Ok(result)
}

/// `fathom bench chunks`: the chunks of a folder of articles as JSON lines (`id`,
/// `article_id`, `title`, `text` as embedded).
pub(super) fn chunks(articles_dir: &Path, out: &Path) -> anyhow::Result<Value> {
    use std::io::Write;

    let workspace = fathom_core::WorkspaceId::parse("bench")?;
    let mut file = std::io::BufWriter::new(
        std::fs::File::create(out).with_context(|| format!("creating {}", out.display()))?,
    );
    let mut count = 0;
    let mut articles = 0;
    for entry in super::walk_files(articles_dir, fathom_ingest::sources::is_supported)? {
        let relative = entry.strip_prefix(articles_dir).unwrap_or(&entry);
        let bytes =
            std::fs::read(&entry).with_context(|| format!("reading {}", entry.display()))?;
        let parsed = fathom_ingest::sources::parse_source(relative, &bytes, &Default::default())?;
        for article in parsed {
            articles += 1;
            for chunk in
                fathom_ingest::chunk::chunk_article(&workspace, &article, &Default::default())
            {
                let line = json!({
                    "id": chunk.id.to_string(),
                    "article_id": chunk.article_id.as_str(),
                    "title": chunk.title,
                    "text": chunk.text_for_embedding(),
                });
                writeln!(file, "{line}")?;
                count += 1;
            }
        }
    }
    file.flush()?;
    Ok(json!({ "articles": articles, "chunks": count, "out": out.display().to_string() }))
}

/// `fathom bench embed`: encode-only chunks/s of the configured dense embedder.
pub(super) async fn embed(settings: &Settings, chunks: &Path) -> anyhow::Result<Value> {
    let text =
        std::fs::read_to_string(chunks).with_context(|| format!("reading {}", chunks.display()))?;
    let texts = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let chunk: Value = serde_json::from_str(line)?;
            chunk["text"]
                .as_str()
                .map(str::to_string)
                .context("a chunk without a text field")
        })
        .collect::<anyhow::Result<Vec<String>>>()?;
    let tmp = tempfile::tempdir()?;
    let backends = crate::backends::Backends::open(&Settings {
        data_dir: tmp.path().to_path_buf(),
        // A scratch index, whatever --vector-store says.
        vector_store: VectorStoreKind::Edge,
        ..settings.clone()
    })
    .await?;
    let dense = backends
        .dense
        .context("no dense embedder configured (--embedder)")?;
    dense
        .embed_documents(texts.iter().take(32).cloned().collect())
        .await?;
    let started = Instant::now();
    let vectors = dense.embed_documents(texts.clone()).await?;
    let seconds = started.elapsed().as_secs_f64();
    anyhow::ensure!(vectors.len() == texts.len(), "the embedder lost texts");
    Ok(json!({
        "model": dense.model_id(),
        "chunks": texts.len(),
        "seconds": super::round(seconds),
        "chunks_per_s": super::round(texts.len() as f64 / seconds),
        "load_average": load_average(),
    }))
}

/// Resident memory of `pid` and its descendants, MiB (0 when unknown).
fn resident_mib(pid: u32) -> f64 {
    if pid == 0 {
        return 0.0;
    }
    let own = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|value| {
                    value
                        .trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<f64>()
                        .ok()
                })
        })
        .unwrap_or(0.0)
        / 1024.0;
    let children: f64 = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|child| child.parse::<u32>().ok())
        .map(resident_mib)
        .sum();
    own + children
}

/// The 1-minute load average, to print beside wall-clock numbers.
pub(super) fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}
