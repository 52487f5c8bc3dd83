//! `fathom status`: what a workspace holds, from the manifest and from the index itself (in this
//! process, or through the running `fathom serve`).

use std::process::ExitCode;

use clap::Args;
use fathom_core::{ArticleId, VectorStore, WorkspaceId};
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
}

pub async fn run(settings: &Settings, args: StatusArgs) -> anyhow::Result<ExitCode> {
    let status = match running::connect(settings).await? {
        Some(server) => server.status(&args.workspace).await?,
        None => execute(&Backends::open(settings).await?, settings, &args.workspace).await?,
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
            "  index:    {} articles, {} chunks",
            status.indexed_articles.len(),
            status.indexed_chunks
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The status itself, wherever it runs (`settings` are that process's: its data dir).
pub async fn execute(
    backends: &Backends,
    settings: &Settings,
    workspace: &WorkspaceId,
) -> anyhow::Result<StatusOutput> {
    let manifest = Manifest::load(&settings.manifest_path(workspace), workspace)?;
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
    })
}
