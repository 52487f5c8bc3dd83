//! `fathom eval-retrieval <SET>`: retrieval quality on an eval set, per retrieval mode.
//! `fathom eval <SET>`: the whole answer engine on an eval set: terminal summary, JSON and HTML
//! reports, comparison with a baseline report, and gates for CI.
//! `fathom eval --replay <DATABASE>`: recorded conversations (SQLite or Postgres) through the
//! engine as it is now, compared with what was recorded.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use fathom_conversations::Database;
use fathom_core::{RetrievalMode, WorkspaceId};
use fathom_evals::{evaluate_retrieval, replay, EvalSet, Pricing, Rate, Report, RetrievalMetrics};
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
    /// Also write every case's outcome to this file, one JSON object per line and mode: its id,
    /// gold articles, the articles retrieved (best first) and the gold's rank. For reading the
    /// misses, or diffing two runs (two backends, two settings) case by case.
    #[arg(long, value_name = "FILE")]
    pub cases: Option<PathBuf>,
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
    let (backends, workspace) = open_and_sync(settings, &set, args.json).await?;

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

    if let Some(path) = &args.cases {
        write_cases(path, &all)?;
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

/// `--cases`: one line per case and mode.
fn write_cases(path: &std::path::Path, all: &[RetrievalMetrics]) -> anyhow::Result<()> {
    let mut out = Vec::new();
    for metrics in all {
        for case in &metrics.per_case {
            let line = serde_json::json!({
                "mode": metrics.mode,
                "carry": metrics.carry,
                "case": case,
            });
            serde_json::to_writer(&mut out, &line)?;
            out.push(b'\n');
        }
    }
    std::fs::write(path, out).with_context(|| format!("writing {}", path.display()))
}

/// Open the backends and sync the set's articles into its throwaway workspace `eval-<set>`
/// (incrementally: a second run embeds nothing), with a progress bar.
pub(crate) async fn open_and_sync(
    settings: &Settings,
    set: &EvalSet,
    quiet: bool,
) -> anyhow::Result<(Backends, WorkspaceId)> {
    let workspace = WorkspaceId::parse(&format!("eval-{}", slug(&set.name)))?;
    let backends = Backends::open(settings).await?;
    let bar = progress_bar(0, "indexing", quiet);
    let options = backends.sync_options(&workspace, "fathom eval");
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
    Ok((backends, workspace))
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
    #[arg(required_unless_present = "replay")]
    pub set: Option<PathBuf>,
    /// Instead of a set: replay the conversations recorded in this conversation store (a SQLite
    /// file such as `data/conversations.sqlite`, or `postgres://…`) through the engine as
    /// configured now, on the workspace's current index, and compare with what was recorded.
    #[arg(
        long,
        value_name = "DATABASE",
        conflicts_with_all = ["set", "html", "baseline", "limit", "min_resolution", "max_false_resolution", "min_clarify"]
    )]
    pub replay: Option<Database>,
    /// With --replay: the workspace whose conversations are replayed [default: default].
    #[arg(long, requires = "replay")]
    pub workspace: Option<WorkspaceId>,
    /// With --replay: only conversations started in the last N days.
    #[arg(long, value_name = "N", requires = "replay")]
    pub days: Option<u32>,
    /// With --replay: only the N most recent conversations.
    #[arg(long, value_name = "N", requires = "replay")]
    pub last: Option<usize>,
    /// Write the full report (metrics with intervals, per tag, curve, per-case rows) as JSON
    /// (with --replay: the replay's counts and one row per replayed message).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write a self-contained HTML report (charts inline, opens offline).
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// A JSON report from an earlier run: show per-metric deltas and the cases that flipped.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Only the first N cases (quick checks).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Price per 1,000 prompt tokens, for the cost estimate.
    #[arg(
        long,
        env = "FATHOM_PRICE_PER_1K_PROMPT_TOKENS",
        default_value_t = 0.0,
        value_name = "PRICE"
    )]
    pub price_per_1k_prompt_tokens: f64,
    /// Price per 1,000 completion tokens, for the cost estimate.
    #[arg(
        long,
        env = "FATHOM_PRICE_PER_1K_COMPLETION_TOKENS",
        default_value_t = 0.0,
        value_name = "PRICE"
    )]
    pub price_per_1k_completion_tokens: f64,
    /// Fail (exit 1) when the resolution rate is below this (0..1).
    #[arg(long, value_name = "RATE")]
    pub min_resolution: Option<f64>,
    /// Fail (exit 1) when the false-resolution rate is above this (0..1).
    #[arg(long, value_name = "RATE")]
    pub max_false_resolution: Option<f64>,
    /// Fail (exit 1) when the clarify rate is below this (0..1).
    #[arg(long, value_name = "RATE")]
    pub min_clarify: Option<f64>,
}

pub async fn run_decisions(settings: &Settings, args: EvalArgs) -> anyhow::Result<ExitCode> {
    if let Some(store) = &args.replay {
        return run_replay(settings, &args, store).await;
    }
    let set_path = args
        .set
        .as_ref()
        .context("give an eval-set folder, or --replay <conversations.sqlite | postgres://…>")?;
    for (flag, bound) in [
        ("--min-resolution", args.min_resolution),
        ("--max-false-resolution", args.max_false_resolution),
        ("--min-clarify", args.min_clarify),
    ] {
        if let Some(bound) = bound {
            anyhow::ensure!(
                (0.0..=1.0).contains(&bound),
                "{flag} must be a rate between 0 and 1, got {bound}"
            );
        }
    }
    anyhow::ensure!(
        args.price_per_1k_prompt_tokens >= 0.0 && args.price_per_1k_completion_tokens >= 0.0,
        "token prices cannot be negative"
    );
    let set = EvalSet::load(set_path)?;
    // Read the baseline first: a typo in its path should not cost a whole run.
    let baseline = match &args.baseline {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading the baseline report {}", path.display()))?;
            let value: serde_json::Value = serde_json::from_str(&text).with_context(|| {
                format!("the baseline {} is not a JSON eval report", path.display())
            })?;
            Some((path.display().to_string(), value))
        }
        None => None,
    };
    let (backends, workspace) = open_and_sync(settings, &set, false).await?;

    let engine = backends.answer_engine(settings)?;
    let cases: Vec<_> = set
        .cases
        .iter()
        .take(args.limit.unwrap_or(usize::MAX))
        .cloned()
        .collect();
    let bar = progress_bar(cases.len() as u64, "cases", false);
    let rows =
        fathom_evals::decisions::run_cases(&engine, &workspace, &cases, &|| bar.inc(1)).await;
    bar.finish_and_clear();
    let mode = engine_mode(settings);
    // The threshold of the model that judged the set: the foreign one for a set asked in a
    // language the dense model does not read (its cases' most common language).
    let threshold = engine.threshold_in(&workspace, cases_language(&cases));
    let pricing = Pricing {
        per_1k_prompt_tokens: args.price_per_1k_prompt_tokens,
        per_1k_completion_tokens: args.price_per_1k_completion_tokens,
    };
    let mut report = fathom_evals::decisions::summarise(&set.name, &mode, threshold, pricing, rows);
    if let Some((label, baseline)) = &baseline {
        report.comparison = Some(fathom_evals::compare(baseline, label, &report));
    }

    print_summary(&report);
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
        println!("JSON report: {}", path.display());
    }
    if let Some(path) = &args.html {
        std::fs::write(path, fathom_evals::html::render(&report))
            .with_context(|| format!("writing {}", path.display()))?;
        println!("HTML report: {}", path.display());
    }

    let failures = gate_failures(&report, &args);
    for failure in &failures {
        eprintln!("gate failed: {failure}");
    }
    Ok(if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `extractive`, or `llm:<model>` when a chat endpoint is configured.
fn engine_mode(settings: &Settings) -> String {
    if settings.llm_base_url.is_some() {
        format!("llm:{}", settings.llm_model)
    } else {
        "extractive".to_string()
    }
}

/// `fathom eval --replay <store>`: every recorded customer message that got a bot reply, through
/// the engine again with the same history; decisions then and now, flips, citation changes and
/// what the customers' ratings say. The recorded outcome is the baseline: there are no gold labels.
async fn run_replay(
    settings: &Settings,
    args: &EvalArgs,
    database: &Database,
) -> anyhow::Result<ExitCode> {
    if let Database::Sqlite(path) = database {
        anyhow::ensure!(
            path.is_file(),
            "no conversation store at {} (`fathom serve` keeps it at <data-dir>/conversations.sqlite)",
            path.display()
        );
    }
    let workspace = match &args.workspace {
        Some(workspace) => workspace.clone(),
        None => WorkspaceId::parse("default")?,
    };
    let stores =
        crate::database::open(database, fathom_conversations::PostgresOptions::default()).await?;
    let since_ms = args.days.map_or(0, |days| {
        fathom_conversations::now_ms() - i64::from(days) * 24 * 60 * 60 * 1000
    });
    let activity = stores
        .reports
        .activity(&workspace, since_ms, args.last.unwrap_or(usize::MAX))
        .await
        .with_context(|| format!("reading conversations from {database}"))?;

    let backends = Backends::open(settings).await?;
    let engine = backends.answer_engine(settings)?;
    let cases = replay::cases_from_activity(&activity, &engine.config().limits);
    let bar = progress_bar(cases.len() as u64, "messages", false);
    let rows = replay::replay_cases(&engine, &cases, &|| bar.inc(1)).await;
    bar.finish_and_clear();
    let report = replay::summarise(
        workspace.as_str(),
        &engine_mode(settings),
        engine.threshold(&workspace),
        rows,
    );

    print_replay(&report, database);
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
        println!("JSON report: {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn print_replay(report: &replay::ReplayReport, store: &Database) {
    println!(
        "replay of {} ({}, threshold {:.3}): {} messages with a bot reply in {} conversations of workspace {}",
        store,
        report.mode,
        report.threshold,
        report.messages,
        report.conversations,
        report.workspace
    );
    println!("  {:<10} {:>6} {:>6}", "decision", "then", "now");
    for (decision, then) in &report.decisions_then {
        let now = report.decisions_now.get(decision).copied().unwrap_or(0);
        println!("  {decision:<10} {then:>6} {now:>6}");
    }
    let transitions: Vec<String> = report
        .transitions
        .iter()
        .map(|(t, n)| format!("{t} {n}"))
        .collect();
    println!(
        "  flipped: {}{}",
        report.flipped,
        if transitions.is_empty() {
            String::new()
        } else {
            format!(" ({})", transitions.join(", "))
        }
    );
    println!(
        "  same decision, other articles cited: {}",
        report.citations_changed
    );
    let f = &report.feedback;
    println!(
        "  feedback: 👍 answers still answered citing the same articles {}/{}; 👎 replies that changed {}/{}",
        f.up_still_same_articles, f.up_rated_answers, f.down_changed, f.down_rated
    );
    for row in report.flips().chain(report.citation_changes()) {
        let mut question: String = row.question.chars().take(70).collect();
        if row.question.chars().count() > 70 {
            question.push('…');
        }
        println!(
            "    {} #{} {:?}\n      then {}\n      now  {}",
            row.conversation_id, row.message_seq, question, row.then, row.now
        );
    }
}

/// The bounds given on the command line that the report misses, as sentences.
fn gate_failures(report: &Report, args: &EvalArgs) -> Vec<String> {
    let s = &report.summary;
    let mut failures = Vec::new();
    let mut below = |name: &str, flag: &str, rate: &Rate, bound: Option<f64>| {
        if let Some(min) = bound.filter(|min| rate.value < *min) {
            failures.push(format!(
                "{name} {:.3} ({}/{}) is below {flag} {min}",
                rate.value, rate.successes, rate.total
            ));
        }
    };
    below(
        "resolution rate",
        "--min-resolution",
        &s.resolution_rate_ci,
        args.min_resolution,
    );
    below(
        "clarify rate",
        "--min-clarify",
        &s.clarify_rate_ci,
        args.min_clarify,
    );
    let false_resolution = &s.false_resolution_rate_ci;
    if let Some(max) = args
        .max_false_resolution
        .filter(|max| false_resolution.value > *max)
    {
        failures.push(format!(
            "false-resolution rate {:.3} ({}/{}) is above --max-false-resolution {max}",
            false_resolution.value, false_resolution.successes, false_resolution.total
        ));
    }
    failures
}

/// The language most of the cases' questions are written in (English when none is sure).
fn cases_language(cases: &[fathom_evals::Case]) -> fathom_answer::lexical::Language {
    let mut counts: Vec<(fathom_answer::lexical::Language, usize)> = Vec::new();
    for case in cases {
        let language = fathom_answer::lexical::message_language(&case.question);
        match counts.iter_mut().find(|(l, _)| *l == language) {
            Some((_, n)) => *n += 1,
            None => counts.push((language, 1)),
        }
    }
    counts
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map_or(fathom_answer::lexical::Language::ENGLISH, |(l, _)| l)
}

fn decision_name(kind: fathom_core::DecisionKind) -> String {
    format!("{kind:?}").to_lowercase()
}

/// The terminal summary: every metric with its interval, the curve, tags, and the comparison.
fn print_summary(report: &Report) {
    let s = &report.summary;
    println!(
        "{} ({}, threshold {:.3}, {} cases)",
        report.set, report.mode, report.threshold, s.cases
    );
    println!("  resolution        {}", s.resolution_rate_ci);
    println!("  false resolution  {}", s.false_resolution_rate_ci);
    println!("  clarify           {}", s.clarify_rate_ci);
    let partial: Vec<String> = s
        .partial_handling
        .iter()
        .map(|(decision, n)| format!("{} {n}", decision_name(*decision)))
        .collect();
    println!(
        "  partial answered  {}{}",
        s.partial_answered_rate_ci,
        if partial.is_empty() {
            String::new()
        } else {
            format!("  handled as: {}", partial.join(", "))
        }
    );
    println!("  handoff precision {}", s.handoff_precision_ci);
    println!("  handoff recall    {}", s.handoff_recall_ci);
    println!(
        "  retrieval         hit@1 {:.3}  hit@5 {:.3}  MRR {:.3}  ({} cases with gold articles)",
        s.hit_at_1, s.hit_at_5, s.mrr, s.retrieval_cases
    );
    println!(
        "  answer overlap    token F1 {:.3}  ROUGE-L {:.3}  ({} answered cases with a reference)",
        s.answer_token_f1, s.answer_rouge_l, s.answer_overlap_cases
    );
    println!(
        "  latency           p50 {:.1} ms  p95 {:.1} ms  p99 {:.1} ms",
        s.latency_ms.p50, s.latency_ms.p95, s.latency_ms.p99
    );
    println!(
        "  tokens/conv.      prompt {:.1}  completion {:.1}  est. cost {:.5} per conversation ({:.4} total)",
        s.prompt_tokens_per_conversation,
        s.completion_tokens_per_conversation,
        s.cost_per_conversation,
        s.cost_total
    );
    let reasons: Vec<String> = s.reasons.iter().map(|(r, n)| format!("{r} {n}")).collect();
    println!("  reasons           {}", reasons.join(", "));

    let curve: Vec<String> = report
        .curve
        .iter()
        .filter(|p| {
            let tenths = p.threshold * 10.0;
            (tenths - tenths.round()).abs() < 1e-4 && (0.2..=0.8).contains(&p.threshold)
        })
        .map(|p| {
            format!(
                "{:.1}: {:.0}%/{:.0}%",
                p.threshold,
                p.resolution * 100.0,
                p.false_resolution * 100.0
            )
        })
        .collect();
    let has_handoff_cases = s.false_resolution_rate_ci.total > 0;
    println!(
        "  operating curve   threshold: resolution/false resolution  {}{}",
        curve.join("  "),
        if has_handoff_cases {
            ""
        } else {
            "  (no handoff cases: false resolution cannot be measured)"
        }
    );
    if let Some(best) = report
        .curve
        .iter()
        .filter(|p| has_handoff_cases && p.false_resolution <= 0.10)
        .max_by(|a, b| a.resolution.total_cmp(&b.resolution))
    {
        println!(
            "  best threshold with false resolution ≤ 10%: {:.3} (resolution {:.1}%, false resolution {:.1}%)",
            best.threshold,
            best.resolution * 100.0,
            best.false_resolution * 100.0
        );
        println!(
            "  to use it: --min-confidence {:.3}, or min_confidence = {:.3} in the workspace's gateway config",
            best.threshold, best.threshold
        );
    }

    // The question's language first (`lang:xx` tags), then every other tag.
    let (languages, others): (Vec<_>, Vec<_>) = report
        .by_tag
        .iter()
        .partition(|(tag, _)| tag.starts_with("lang:"));
    let turns: Vec<_> = report.turns_apart().into_iter().flatten().collect();
    for (heading, rows) in [
        ("by turn", turns),
        ("by language", languages),
        ("by tag", others),
    ] {
        if rows.is_empty() {
            continue;
        }
        println!(
            "  {:<22} {:>5}  {:<30} {:<30} {:>6}",
            heading, "cases", "resolution", "false resolution", "hit@5"
        );
        for (tag, t) in rows {
            let tag: String = tag.chars().take(22).collect();
            println!(
                "  {:<22} {:>5}  {:<30} {:<30} {:>6.3}",
                tag,
                t.cases,
                t.resolution_rate_ci.to_string(),
                t.false_resolution_rate_ci.to_string(),
                t.hit_at_5
            );
        }
    }

    if let Some(comparison) = &report.comparison {
        println!("  compared with {}", comparison.baseline);
        for d in &comparison.deltas {
            let Some(delta) = d.delta else { continue };
            if delta.abs() < 1e-12 {
                continue;
            }
            let better = (delta > 0.0) == d.higher_is_better;
            println!(
                "    {:<36} {:>10.4} → {:<10.4} {:+.4} {}{}",
                d.metric,
                d.baseline.unwrap_or(0.0),
                d.current,
                delta,
                if better { "better" } else { "worse" },
                if d.within_interval == Some(true) {
                    " (within the 95% interval)"
                } else {
                    ""
                }
            );
        }
        println!(
            "    flipped: {} resolved → not resolved, {} not resolved → resolved, {} in all",
            comparison.resolved_to_unresolved.len(),
            comparison.unresolved_to_resolved.len(),
            comparison.flips.len()
        );
        for paired in &comparison.paired {
            if paired.lost + paired.gained > 0 {
                println!(
                    "    {}: {} cases dropped out of it, {} came in (McNemar p = {:.3}{})",
                    paired.metric,
                    paired.lost,
                    paired.gained,
                    paired.p_value,
                    if paired.p_value < 0.05 {
                        ""
                    } else {
                        ": could be chance"
                    }
                );
            }
        }
        for flip in &comparison.flips {
            let mut question: String = flip.question.chars().take(70).collect();
            if flip.question.chars().count() > 70 {
                question.push('…');
            }
            println!(
                "      {} {}: {} → {}  {:?}",
                if flip.current.correct { "+" } else { "-" },
                flip.id,
                flip.baseline,
                flip.current,
                question
            );
        }
        if comparison.new_cases > 0 {
            println!("    {} cases not in the baseline", comparison.new_cases);
        }
    }
}
