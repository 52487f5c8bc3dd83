//! `fathom ingest <DIR>`: incremental sync of a help-center folder, in this process or handed to
//! the running `fathom serve` (the changed articles are searchable there as soon as it returns).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use fathom_core::WorkspaceId;
use fathom_ingest::sync::{sync_folder, SyncEvent, SyncReport};
use serde::{Deserialize, Serialize};

use crate::backends::Backends;
use crate::output::{print_json, progress_bar};
use crate::running;
use crate::settings::Settings;

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Folder to ingest (recursively): .md, .html, and Zendesk/Intercom .json exports.
    pub dir: PathBuf,
    /// Workspace (tenant) to sync into.
    #[arg(long, short, env = "FATHOM_WORKSPACE", default_value = "default")]
    pub workspace: WorkspaceId,
    /// Print the summary as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Exit with status 2 when any file failed (the others are still ingested).
    #[arg(long)]
    pub strict: bool,
}

/// A sync to run: the arguments, as the running server receives them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IngestRequest {
    pub workspace: WorkspaceId,
    /// Absolute, so that the server (another working directory) reads the same folder.
    pub dir: PathBuf,
}

pub async fn run(settings: &Settings, args: IngestArgs) -> anyhow::Result<ExitCode> {
    let report = match running::connect(settings).await? {
        Some(server) => {
            let request = IngestRequest {
                workspace: args.workspace.clone(),
                dir: std::path::absolute(&args.dir)
                    .with_context(|| format!("ingesting {}", args.dir.display()))?,
            };
            server.ingest(&request).await?
        }
        None => {
            let backends = Backends::open(settings).await?;
            let bar = progress_bar(0, "indexing", args.json);
            let on_event = |event: SyncEvent| match event {
                SyncEvent::Planned { chunks, .. } => bar.set_length(chunks as u64),
                SyncEvent::Indexed { chunks } => bar.set_position(chunks as u64),
            };
            let report = execute(&backends, &args.workspace, &args.dir, &on_event).await?;
            bar.finish_and_clear();
            report
        }
    };
    if args.json {
        print_json(&report)?;
    } else {
        print_summary(&report);
    }
    if args.strict && !report.failed.is_empty() {
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::SUCCESS)
}

/// The sync itself, wherever it runs (in this process, or in the server it goes through). It
/// holds the workspace's sync lease while it runs.
pub async fn execute(
    backends: &Backends,
    workspace: &WorkspaceId,
    dir: &Path,
    on_event: &(dyn Fn(SyncEvent) + Send + Sync),
) -> anyhow::Result<SyncReport> {
    let options = backends.sync_options(workspace, "fathom ingest");
    sync_folder(dir, &backends.sync, &options, on_event)
        .await
        .with_context(|| format!("ingesting {}", dir.display()))
}

fn print_summary(report: &SyncReport) {
    println!(
        "workspace {}: {} files scanned in {} ms",
        report.workspace, report.files_scanned, report.duration_ms
    );
    println!(
        "  added {}  updated {}  unchanged {}  deleted {}  failed {}  ({} chunks written)",
        report.added.len(),
        report.updated.len(),
        report.unchanged,
        report.deleted.len(),
        report.failed.len(),
        report.chunks_written
    );
    for failure in &report.failed {
        println!("  failed: {}: {}", failure.path, failure.reason);
    }
}
