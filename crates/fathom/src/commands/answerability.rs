//! `fathom answerability dump SET… --out FILE`: the judge's signals and labels for every case of
//! the eval sets (one JSON line a case; retrieval runs once, the fits run offline).
//! `fathom answerability fit FILE… --out MODEL.json`: the rerank and answer models fitted on
//! every set, with each set's numbers from the fit that did not see it.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use fathom_answer::answerability::{ModelFile, Provenance};
use fathom_evals::fit::{best_point, fit_file, hit_at_1, point, score, DumpedCase, HeldOut};
use fathom_evals::EvalSet;

use crate::commands::eval::open_and_sync;
use crate::output::progress_bar;
use crate::settings::Settings;

#[derive(Debug, Args)]
pub struct AnswerabilityArgs {
    #[command(subcommand)]
    pub command: AnswerabilityCommand,
}

#[derive(Debug, Subcommand)]
pub enum AnswerabilityCommand {
    /// Record the judge's signals and labels for every case of the eval sets.
    Dump(DumpArgs),
    /// Fit the models leave-one-set-out and write the all-sets fit.
    Fit(FitArgs),
}

#[derive(Debug, Args)]
pub struct DumpArgs {
    /// Eval-set folders (see evals/README.md).
    #[arg(required = true)]
    pub sets: Vec<PathBuf>,
    /// Where to write the cases, one JSON object a line.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct FitArgs {
    /// Files written by `fathom answerability dump`.
    #[arg(required = true)]
    pub dumps: Vec<PathBuf>,
    /// Where to write the model file.
    #[arg(long, value_name = "MODEL.json")]
    pub out: PathBuf,
    /// The false-resolution rate the chosen threshold must keep on every training set with
    /// handoff cases.
    #[arg(long, default_value_t = 0.10, value_name = "RATE")]
    pub max_false_resolution: f64,
    /// Print the leave-one-set-out report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Keep this model file's reranks (same names) and fit only the answer models; the models
    /// not named in --models are kept from it too.
    #[arg(long, value_name = "MODEL.json")]
    pub keep_rerank: Option<PathBuf>,
    /// The models to fit: `dense` (hybrid retrieval), `lexical` (BM25 only), `foreign` (a message
    /// in a language the dense model does not read), `first_turn` (a first message, hybrid
    /// retrieval: fitted on the cases without history, on the dense model's rerank and at its
    /// threshold). The others are kept from --keep-rerank, else from the shipped file.
    #[arg(long, value_delimiter = ',', default_value = "dense,lexical", value_parser = ["dense", "lexical", "foreign", "first_turn"])]
    pub models: Vec<String>,
    /// Also judge every set with this model file (e.g. the shipped one), for comparison.
    #[arg(long, value_name = "MODEL.json")]
    pub compare: Option<PathBuf>,
}

pub async fn run(settings: &Settings, args: AnswerabilityArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        AnswerabilityCommand::Dump(args) => dump(settings, args).await,
        AnswerabilityCommand::Fit(args) => fit(args),
    }
}

async fn dump(settings: &Settings, args: DumpArgs) -> anyhow::Result<ExitCode> {
    let mut out = std::io::BufWriter::new(
        std::fs::File::create(&args.out)
            .with_context(|| format!("creating {}", args.out.display()))?,
    );
    for path in &args.sets {
        let set = EvalSet::load(path)?;
        let (backends, workspace) = open_and_sync(settings, &set, false).await?;
        let engine = backends.answer_engine(settings)?;
        let bar = progress_bar(set.cases.len() as u64, &set.name, false);
        for case in &set.cases {
            let inspection = engine.inspect(&case.conversation(&workspace)).await;
            let gold = inspection
                .articles
                .iter()
                .map(|a| case.gold_article_ids.contains(a))
                .collect();
            let dumped = DumpedCase {
                set: set.name.clone(),
                id: case.id.clone(),
                expected: case.expected,
                stopped: inspection.stopped,
                asked: inspection.asked,
                candidates: inspection.candidates,
                gold,
            };
            serde_json::to_writer(&mut out, &dumped)?;
            out.write_all(b"\n")?;
            bar.inc(1);
        }
        bar.finish_and_clear();
        println!("{}: {} cases", set.name, set.cases.len());
    }
    out.flush()?;
    println!("wrote {}", args.out.display());
    Ok(ExitCode::SUCCESS)
}

fn fit(args: FitArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        (0.0..=1.0).contains(&args.max_false_resolution),
        "--max-false-resolution must be a rate between 0 and 1"
    );
    let mut cases = Vec::new();
    for path in &args.dumps {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        for (line, raw) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let case: DumpedCase = serde_json::from_str(raw)
                .with_context(|| format!("{}:{}: not a dumped case", path.display(), line + 1))?;
            cases.push(case);
        }
    }
    let mut sets: Vec<String> = Vec::new();
    for case in &cases {
        if !sets.contains(&case.set) {
            sets.push(case.set.clone());
        }
    }
    anyhow::ensure!(
        sets.len() >= 2,
        "leave-one-set-out needs cases from at least two sets"
    );
    let data = sets
        .iter()
        .map(|set| {
            let n = cases.iter().filter(|c| &c.set == set).count();
            format!("{set} ({n} cases)")
        })
        .collect();
    let dumps: Vec<String> = args
        .dumps
        .iter()
        .map(|p| {
            p.file_name()
                .map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into())
        })
        .collect();
    let provenance = Provenance {
        data,
        date: today(),
        command: format!(
            "fathom answerability dump <sets> --out <dump>; fathom answerability fit {} --models {} --max-false-resolution {}{} --out {}",
            dumps.join(" "),
            args.models.join(","),
            args.max_false_resolution,
            args.keep_rerank.as_ref().map_or_else(String::new, |p| format!(" --keep-rerank {}", p.display())),
            args.out.file_name().map_or_else(String::new, |n| n.to_string_lossy().into())
        ),
        note: format!(
            "extractive, MiniLM + BM25 (DBSF), fathom {}; thresholds keep false resolution ≤ {} on every training set with handoff cases",
            env!("CARGO_PKG_VERSION"),
            args.max_false_resolution
        ),
    };
    let kept = match &args.keep_rerank {
        Some(path) => Some(ModelFile::load(path)?),
        None => None,
    };
    let fit: Vec<&str> = args.models.iter().map(String::as_str).collect();
    let (file, report) = fit_file(
        &cases,
        args.max_false_resolution,
        provenance,
        kept.as_ref(),
        &fit,
    );
    std::fs::write(&args.out, serde_json::to_string_pretty(&file)? + "\n")
        .with_context(|| format!("writing {}", args.out.display()))?;
    if args.json {
        crate::output::print_json(
            &serde_json::json!({"leave_one_set_out": report, "models": file}),
        )?;
    } else {
        print_report(&file, &report);
        println!("wrote {}", args.out.display());
    }
    if let Some(path) = &args.compare {
        let other = ModelFile::load(path)?;
        println!("{} on the same cases:", path.display());
        for set in &sets {
            let of_set: Vec<&DumpedCase> = cases.iter().filter(|c| &c.set == set).collect();
            for (name, model) in &other.models {
                let scored: Vec<_> = of_set.iter().map(|c| score(model, c)).collect();
                let at = point(&scored, model.threshold);
                let best = best_point(&scored, args.max_false_resolution);
                println!(
                    "  {name:<8} {set:<16} {:.1}% / {:.1}% @{:.3}  hit@1 {:.3}  own best {:.1}% / {:.1}% @{:.3}",
                    at.resolution * 100.0,
                    at.false_resolution * 100.0,
                    model.threshold,
                    hit_at_1(&scored),
                    best.resolution * 100.0,
                    best.false_resolution * 100.0,
                    best.threshold
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_report(file: &ModelFile, report: &[HeldOut]) {
    println!(
        "leave-one-set-out (each set judged by the fit on the others), resolution / false resolution:"
    );
    println!(
        "  {:<8} {:<16} {:>22} {:>8} {:>22} {:>22}",
        "model",
        "held-out set",
        "at the fit's threshold",
        "hit@1",
        "own best (oracle)",
        "all-sets fit"
    );
    for h in report {
        let p = |p: &fathom_evals::fit::Point| {
            if p.handoff_cases == 0 {
                format!("{:.1}% / —", p.resolution * 100.0)
            } else {
                format!(
                    "{:.1}% / {:.1}%",
                    p.resolution * 100.0,
                    p.false_resolution * 100.0
                )
            }
        };
        println!(
            "  {:<8} {:<16} {:>16} @{:.3} {:>8.3} {:>22} {:>15} @{:.3}",
            h.model,
            h.set,
            p(&h.at_fit_threshold),
            h.at_fit_threshold.threshold,
            h.hit_at_1,
            p(&h.best),
            p(&h.all_sets),
            h.all_sets.threshold
        );
    }
    for (name, model) in &file.models {
        println!("  {name}: threshold {:.3}", model.threshold);
    }
}

/// Today's date (UTC) as `YYYY-MM-DD`.
pub(crate) fn today() -> String {
    let days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400) as i64;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}
