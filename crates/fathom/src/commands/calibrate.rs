//! `fathom calibrate <FOLDER> --workspace W`: the workspace's answer threshold from probes made
//! from its own articles (no labelled questions), stored with the workspace and used by `ask`,
//! `serve` and `eval` unless `--min-confidence` or the gateway config sets one.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use fathom_core::WorkspaceId;
use fathom_evals::calibrate::{
    choose_threshold, make_probes, probe_point, run_probes, Calibration, ProbeKind,
};
use fathom_ingest::chunk::ChunkerConfig;
use fathom_ingest::sources::SourceLimits;
use fathom_ingest::sync::folder_chunks;

use crate::backends::Backends;
use crate::output::{print_json, progress_bar};
use crate::settings::Settings;

#[derive(Debug, Args)]
pub struct CalibrateArgs {
    /// The help-center folder the workspace was ingested from (probes are made from it).
    pub folder: PathBuf,
    #[arg(long, short, env = "FATHOM_WORKSPACE", default_value = "default")]
    pub workspace: WorkspaceId,
    /// Articles to make probes from (two answerable and two fact-removed probes each).
    #[arg(long, default_value_t = 120)]
    pub articles: usize,
    /// The false-resolution rate the threshold must keep on the unanswerable probes.
    #[arg(long, default_value_t = 0.10, value_name = "RATE")]
    pub max_false_resolution: f64,
    /// Print the calibration as JSON.
    #[arg(long)]
    pub json: bool,
}

/// How far a calibrated threshold may sit from the model's own before the command says so.
const FAR_FROM_FITTED: f32 = 0.2;

pub async fn run(settings: &Settings, args: CalibrateArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        (0.0..=1.0).contains(&args.max_false_resolution),
        "--max-false-resolution must be a rate between 0 and 1"
    );
    let (chunks, failed) = folder_chunks(
        &args.folder,
        &args.workspace,
        &ChunkerConfig::default(),
        &SourceLimits::default(),
    )
    .with_context(|| format!("reading {}", args.folder.display()))?;
    if !failed.is_empty() {
        eprintln!("warning: {} files could not be read", failed.len());
    }
    let backends = Backends::open(settings).await?;
    let indexed = backends.store_count(&args.workspace).await?;
    anyhow::ensure!(
        indexed > 0,
        "workspace {} has nothing indexed: run `fathom ingest {} --workspace {}` first",
        args.workspace,
        args.folder.display(),
        args.workspace
    );
    let engine = backends.answer_engine(settings)?;
    let probes = make_probes(&chunks, args.articles);
    let bar = progress_bar(probes.len() as u64, "probes", args.json);
    let results = run_probes(&engine, &args.workspace, &probes, &|| bar.inc(1)).await;
    bar.finish_and_clear();
    let (threshold, curve) = choose_threshold(&results, args.max_false_resolution);
    let mut counts = std::collections::BTreeMap::new();
    for probe in &probes {
        *counts.entry(probe.kind).or_insert(0) += 1;
    }
    let calibration = Calibration {
        version: Calibration::VERSION,
        workspace: args.workspace.clone(),
        model: engine.model_name().to_string(),
        threshold,
        max_false_resolution: args.max_false_resolution,
        probes: counts,
        curve,
        date: crate::commands::answerability::today(),
    };
    let path = settings.calibration_path(&args.workspace);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    std::fs::write(&path, serde_json::to_vec_pretty(&calibration)?)
        .with_context(|| format!("writing {}", path.display()))?;
    if args.json {
        print_json(&calibration)?;
        return Ok(ExitCode::SUCCESS);
    }
    let at = probe_point(&results, threshold);
    println!(
        "{}: {} probes ({} answerable, {} fact removed, {} other domain), model {}",
        args.workspace,
        probes.len(),
        calibration.probes.get(&ProbeKind::Answerable).unwrap_or(&0),
        calibration
            .probes
            .get(&ProbeKind::FactRemoved)
            .unwrap_or(&0),
        calibration
            .probes
            .get(&ProbeKind::OtherDomain)
            .unwrap_or(&0),
        calibration.model
    );
    println!(
        "  threshold {threshold:.3}: probe resolution {:.1}%, false resolution {:.1}% (facts removed) / {:.1}% (other domain)",
        at.resolution * 100.0,
        at.false_resolution_fact_removed * 100.0,
        at.false_resolution_other_domain * 100.0
    );
    println!(
        "  stored in {}; `ask`, `serve` and `eval` use it unless --min-confidence or the gateway config sets a threshold",
        path.display()
    );
    let fitted = engine.model_threshold();
    if (threshold - fitted).abs() > FAR_FROM_FITTED {
        println!(
            "  note: far from the model's own threshold ({fitted:.3}, chosen on labelled questions). The probes are \
             sentences of the articles, which customers rarely ask word for word; on the shared eval sets a \
             threshold calibrated this way was further from the best one than the model's (evals/README.md, \
             \"Self-calibration\"). Check it with labelled questions (`fathom eval`), or delete {} to go back.",
            path.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
