//! `fathom eval-retrieval <SET>`: retrieval quality on an eval set, per retrieval mode.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use fathom_core::{RetrievalMode, WorkspaceId};
use fathom_evals::{evaluate_retrieval, EvalSet, RetrievalMetrics};
use fathom_ingest::sync::sync_folder;
use fathom_retrieve::ContextCarry;

use crate::backends::Backends;
use crate::output::{print_json, progress_bar};
use crate::settings::Settings;

#[derive(Debug, Args)]
pub struct EvalRetrievalArgs {
    /// Eval-set folder: `articles/*.md` and `cases.jsonl` (see evals/README.md).
    pub set: PathBuf,
    /// Retrieval modes to compare.
    #[arg(long, value_delimiter = ',', default_value = "bm25,dense,hybrid")]
    pub modes: Vec<RetrievalMode>,
    /// How much conversation history to carry into each query.
    #[arg(long, value_delimiter = ',', default_value = "last_customer_turn")]
    pub carry: Vec<ContextCarry>,
    /// Print the metrics as JSON.
    #[arg(long)]
    pub json: bool,
    /// Fail (exit 1) when hybrid hit@5 is below this.
    #[arg(long)]
    pub min_hit_at_5: Option<f64>,
    /// Fail (exit 1) when hybrid MRR is below this.
    #[arg(long)]
    pub min_mrr: Option<f64>,
    /// Fail (exit 1) unless hybrid MRR is at least that of every other mode run.
    #[arg(long)]
    pub require_hybrid_best: bool,
}

pub async fn run(settings: &Settings, args: EvalRetrievalArgs) -> anyhow::Result<ExitCode> {
    let set = EvalSet::load(&args.set)?;
    let workspace = WorkspaceId::parse(&format!("eval-{}", slug(&set.name)))?;
    let backends = Backends::open(settings).await?;

    let bar = progress_bar(0, "indexing", args.json);
    let options = backends.sync_options(settings, &workspace);
    let on_event = |event| match event {
        fathom_ingest::sync::SyncEvent::Planned { chunks, .. } => bar.set_length(chunks as u64),
        fathom_ingest::sync::SyncEvent::Indexed { chunks } => bar.set_position(chunks as u64),
    };
    let report = sync_folder(&set.articles_dir, &backends.sync, &options, &on_event)
        .await
        .with_context(|| format!("ingesting {}", set.articles_dir.display()))?;
    bar.finish_and_clear();
    if !report.failed.is_empty() {
        eprintln!("warning: {} articles failed to ingest", report.failed.len());
    }

    let retriever = backends.retriever();
    let mut all = Vec::new();
    for carry in &args.carry {
        for mode in &args.modes {
            let bar = progress_bar(set.cases.len() as u64, &format!("{mode:?}"), args.json);
            let metrics =
                evaluate_retrieval(&retriever, &workspace, &set.cases, *mode, *carry, &|| {
                    bar.inc(1)
                })
                .await?;
            bar.finish_and_clear();
            all.push(metrics);
        }
    }

    if args.json {
        print_json(&serde_json::json!({"set": set.name, "modes": all}))?;
    } else {
        print_table(&set.name, &all);
    }

    let hybrid = all.iter().find(|m| m.mode == RetrievalMode::Hybrid);
    let mut failures = Vec::new();
    if let (Some(min), Some(h)) = (args.min_hit_at_5, hybrid) {
        if h.hit_at_5 < min {
            failures.push(format!("hybrid hit@5 {:.3} < {min}", h.hit_at_5));
        }
    }
    if let (Some(min), Some(h)) = (args.min_mrr, hybrid) {
        if h.mrr < min {
            failures.push(format!("hybrid MRR {:.3} < {min}", h.mrr));
        }
    }
    if args.require_hybrid_best {
        if let Some(h) = hybrid {
            for other in all
                .iter()
                .filter(|m| m.mode != RetrievalMode::Hybrid && m.carry == h.carry)
            {
                if other.mrr > h.mrr {
                    failures.push(format!(
                        "{:?} MRR {:.3} beats hybrid {:.3}",
                        other.mode, other.mrr, h.mrr
                    ));
                }
            }
        }
    }
    if failures.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        for failure in failures {
            eprintln!("gate failed: {failure}");
        }
        Ok(ExitCode::FAILURE)
    }
}

fn print_table(set: &str, metrics: &[RetrievalMetrics]) {
    println!(
        "{set}: retrieval over {} cases",
        metrics.first().map_or(0, |m| m.cases)
    );
    println!(
        "  {:<20} {:<8} {:>7} {:>7} {:>7} {:>9} {:>9}",
        "history carried", "mode", "hit@1", "hit@5", "MRR", "p50 ms", "p99 ms"
    );
    for m in metrics {
        println!(
            "  {:<20} {:<8} {:>7.3} {:>7.3} {:>7.3} {:>9.1} {:>9.1}",
            format!("{:?}", m.carry),
            format!("{:?}", m.mode).to_lowercase(),
            m.hit_at_1,
            m.hit_at_5,
            m.mrr,
            m.latency_p50_ms,
            m.latency_p99_ms
        );
    }
}

fn slug(name: &str) -> String {
    let slug: String = name
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(50)
        .collect();
    if slug.is_empty() {
        "set".into()
    } else {
        slug
    }
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Eval-set folder: `articles/*.md` and `cases.jsonl` (see evals/README.md).
    pub set: PathBuf,
    /// Write the full report (metrics, curve, per-case rows) as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Only the first N cases (quick checks).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Fail (exit 1) when the resolution rate is below this (0..1).
    #[arg(long)]
    pub min_resolution: Option<f64>,
    /// Fail (exit 1) when the false-resolution rate is above this (0..1).
    #[arg(long)]
    pub max_false_resolution: Option<f64>,
    /// Fail (exit 1) when the clarify rate is below this (0..1).
    #[arg(long)]
    pub min_clarify: Option<f64>,
}

pub async fn run_decisions(settings: &Settings, args: EvalArgs) -> anyhow::Result<ExitCode> {
    let set = EvalSet::load(&args.set)?;
    let workspace = WorkspaceId::parse(&format!("eval-{}", slug(&set.name)))?;
    let backends = Backends::open(settings).await?;
    let quiet = false;
    let bar = progress_bar(0, "indexing", quiet);
    let options = backends.sync_options(settings, &workspace);
    let on_event = |event| match event {
        fathom_ingest::sync::SyncEvent::Planned { chunks, .. } => bar.set_length(chunks as u64),
        fathom_ingest::sync::SyncEvent::Indexed { chunks } => bar.set_position(chunks as u64),
    };
    sync_folder(&set.articles_dir, &backends.sync, &options, &on_event)
        .await
        .with_context(|| format!("ingesting {}", set.articles_dir.display()))?;
    bar.finish_and_clear();

    let engine = backends.answer_engine(settings)?;
    let cases: Vec<_> = set
        .cases
        .iter()
        .take(args.limit.unwrap_or(usize::MAX))
        .cloned()
        .collect();
    let bar = progress_bar(cases.len() as u64, "cases", quiet);
    let rows =
        fathom_evals::decisions::run_cases(&engine, &workspace, &cases, &|| bar.inc(1)).await;
    bar.finish_and_clear();
    let mode = if settings.llm_base_url.is_some() {
        format!("llm:{}", settings.llm_model)
    } else {
        "extractive".to_string()
    };
    let threshold = engine.config().judge.min_confidence;
    let report = fathom_evals::decisions::summarise(&set.name, &mode, threshold, rows);

    println!(
        "{} ({mode}, threshold {threshold:.3}, {} cases)",
        set.name, report.cases
    );
    println!("  resolution        {}", report.resolution_rate);
    println!("  false resolution  {}", report.false_resolution_rate);
    println!("  clarify           {}", report.clarify_rate);
    println!("  partial answered  {}", report.partial_answered_rate);
    println!("  handoff precision {}", report.handoff_precision);
    println!("  handoff recall    {}", report.handoff_recall);
    println!(
        "  retrieval         hit@1 {:.3}  hit@5 {:.3}  MRR {:.3}",
        report.hit_at_1, report.hit_at_5, report.mrr
    );
    println!(
        "  latency           p50 {:.1} ms  p95 {:.1} ms  p99 {:.1} ms",
        report.latency_ms.p50, report.latency_ms.p95, report.latency_ms.p99
    );
    let reasons: Vec<String> = report
        .reasons
        .iter()
        .map(|(r, n)| format!("{r} {n}"))
        .collect();
    println!("  reasons           {}", reasons.join(", "));
    if let Some(best) = report
        .curve
        .iter()
        .filter(|p| p.false_resolution <= 0.10)
        .max_by(|a, b| a.resolution.total_cmp(&b.resolution))
    {
        println!(
            "  best threshold with false resolution ≤ 10%: {:.3} (resolution {:.1}%, false resolution {:.1}%)",
            best.threshold,
            best.resolution * 100.0,
            best.false_resolution * 100.0
        );
    }
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }

    let mut failures = Vec::new();
    if let Some(min) = args.min_resolution {
        if report.resolution_rate.value < min {
            failures.push(format!(
                "resolution {:.3} < {min}",
                report.resolution_rate.value
            ));
        }
    }
    if let Some(max) = args.max_false_resolution {
        if report.false_resolution_rate.value > max {
            failures.push(format!(
                "false resolution {:.3} > {max}",
                report.false_resolution_rate.value
            ));
        }
    }
    if let Some(min) = args.min_clarify {
        if report.clarify_rate.value < min {
            failures.push(format!("clarify {:.3} < {min}", report.clarify_rate.value));
        }
    }
    for failure in &failures {
        eprintln!("gate failed: {failure}");
    }
    Ok(if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
