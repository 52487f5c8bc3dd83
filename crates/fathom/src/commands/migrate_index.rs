//! `fathom migrate-index`: copy a workspace from the embedded index in --data-dir to the Qdrant
//! server named by the --qdrant-* settings: points with their vectors (nothing is re-embedded)
//! and the sync manifest, with a progress bar. Interrupted, it resumes where it stopped.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use fathom_core::WorkspaceId;
use fathom_ingest::copy::{copy_workspace, CopyEvent, CopyOptions, CopyReport, IndexSide};
use fathom_ingest::ChunkerConfig;
use fathom_store::{EdgeStore, EdgeStoreConfig, FileSyncState};

use crate::backends::{store_open_error, Backends};
use crate::output::{print_json, progress_bar};
use crate::settings::{Settings, VectorStoreKind};

#[derive(Debug, Args)]
pub struct MigrateIndexArgs {
    /// Workspaces to copy (repeat or comma-separate).
    #[arg(
        long,
        short,
        env = "FATHOM_WORKSPACE",
        value_delimiter = ',',
        default_value = "default"
    )]
    pub workspace: Vec<WorkspaceId>,
    /// Overwrite a workspace the Qdrant server already holds.
    #[arg(long)]
    pub replace: bool,
    /// Points per page copied.
    #[arg(long, default_value_t = 256)]
    pub page_size: usize,
    /// Print the reports as JSON.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(settings: &Settings, args: MigrateIndexArgs) -> anyhow::Result<ExitCode> {
    // The target: the Qdrant server, whatever --vector-store says.
    let target = Backends::open(&Settings {
        vector_store: VectorStoreKind::Qdrant,
        ..settings.clone()
    })
    .await?;
    let store_dir = settings.store_dir();
    anyhow::ensure!(
        store_dir.join("edge_config.json").is_file(),
        "no embedded index in {} to copy from (set --data-dir)",
        store_dir.display()
    );
    let dimension = target.dense.as_ref().map_or(384, |d| d.dimension());
    let source_store = EdgeStore::open(&store_dir, EdgeStoreConfig::new(dimension))
        .map_err(|error| store_open_error(settings, error))?;
    let source = IndexSide {
        store: Arc::new(source_store),
        state: Arc::new(FileSyncState::new(settings.sync_state_dir())),
    };
    let target_side = IndexSide {
        store: Arc::clone(&target.store),
        state: Arc::clone(&target.state),
    };
    let mut reports = Vec::new();
    for workspace in &args.workspace {
        let options = CopyOptions {
            workspace: workspace.clone(),
            fingerprint: target.sync.fingerprint(&ChunkerConfig::default()),
            page_size: args.page_size,
            replace: args.replace,
            holder: fathom_ingest::lease_holder("fathom migrate-index"),
            lease_ttl: Duration::from_secs(60),
        };
        let bar = progress_bar(0, workspace.as_str(), args.json);
        let on_event = |event: CopyEvent| match event {
            CopyEvent::Planned { points, copied } => {
                bar.set_length(points as u64);
                bar.set_position(copied as u64);
            }
            CopyEvent::Copied { points } => bar.set_position(points as u64),
        };
        let report = copy_workspace(&source, &target_side, &options, &on_event)
            .await
            .with_context(|| format!("copying workspace {workspace}"))?;
        bar.finish_and_clear();
        if !args.json {
            print_report(&report);
        }
        reports.push(report);
    }
    if args.json {
        print_json(&reports)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn print_report(report: &CopyReport) {
    println!(
        "workspace {}: {} articles, {} points copied in {} ms{}",
        report.workspace,
        report.articles,
        report.points,
        report.duration_ms,
        if report.resumed_at > 0 {
            format!(" (resumed at point {})", report.resumed_at)
        } else {
            String::new()
        }
    );
    println!("  from {}\n  to   {}", report.source, report.target);
}
