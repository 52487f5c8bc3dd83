//! `fathom status`: what a workspace holds, from the manifest and from the index itself, whether
//! the index answers, and whether a sync is running (in this process, or through the running
//! `fathom serve`).

use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use fathom_core::{ArticleId, WorkspaceId};
use fathom_ingest::manifest::Manifest;
use serde::{Deserialize, Serialize};

use crate::backends::Backends;
use crate::output::print_json;
use crate::running;
use crate::settings::Settings;

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[arg(long, short, env = "FATHOM_WORKSPACE", default_value = "default")]
    pub workspace: WorkspaceId,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `fathom status --json`'s output.
#[derive(Debug, Serialize, Deserialize)]
pub struct StatusOutput {
    pub workspace: WorkspaceId,
    /// Articles and chunks in the sync manifest.
    pub articles: usize,
    pub chunks: usize,
    /// Articles whose write was interrupted (the next sync redoes them).
    pub in_flight: usize,
    pub indexed_articles: Vec<ArticleId>,
    pub indexed_chunks: usize,
    pub dense_model: Option<String>,
    /// Where the index lives: the embedded index's folder, or a Qdrant server's collection.
    /// It answered its health check (`status` fails when it does not).
    #[serde(default)]
    pub index: String,
    /// Who holds the workspace's sync lease right now (a sync is running), if anyone.
    #[serde(default)]
    pub sync_in_progress: Option<String>,
}

pub async fn run(settings: &Settings, args: StatusArgs) -> anyhow::Result<ExitCode> {
    let status = match running::connect(settings).await? {
        Some(server) => server.status(&args.workspace).await?,
        None => execute(&Backends::open(settings).await?, &args.workspace).await?,
    };
    if args.json {
        print_json(&status)?;
    } else {
        println!("workspace {}", status.workspace);
        println!(
            "  manifest: {} articles, {} chunks, {} in flight",
            status.articles, status.chunks, status.in_flight
        );
        println!(
            "  index:    {} articles, {} chunks ({})",
            status.indexed_articles.len(),
            status.indexed_chunks,
            status.index
        );
        if let Some(holder) = &status.sync_in_progress {
            println!("  syncing:  {holder}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The status itself, wherever it runs (in this process, or in the server it goes through).
pub async fn execute(backends: &Backends, workspace: &WorkspaceId) -> anyhow::Result<StatusOutput> {
    let index = backends.store.describe();
    backends
        .store
        .health()
        .await
        .with_context(|| format!("{index} does not answer"))?;
    let manifest = Manifest::load(&*backends.state, workspace).await?;
    let syncing = backends.state.holder(workspace).await?;
    let indexed_articles = backends.store.article_ids(workspace).await?;
    let indexed_chunks = backends.store.count(workspace).await?;
    let (articles, chunks, in_flight) = manifest.as_ref().map_or((0, 0, 0), |m| {
        (
            m.articles.len(),
            m.articles.values().map(|a| a.chunks as usize).sum(),
            m.in_flight.len(),
        )
    });
    Ok(StatusOutput {
        workspace: workspace.clone(),
        articles,
        chunks,
        in_flight,
        indexed_articles,
        indexed_chunks,
        dense_model: backends.dense.as_ref().map(|d| d.model_id().to_string()),
        index,
        sync_in_progress: syncing.map(|lease| lease.holder),
    })
}
