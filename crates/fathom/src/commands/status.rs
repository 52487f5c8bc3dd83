//! `fathom status`: what a workspace holds, from the manifest and from the index itself.

use std::process::ExitCode;

use clap::Args;
use fathom_core::{VectorStore, WorkspaceId};
use fathom_ingest::manifest::Manifest;

use crate::backends::Backends;
use crate::output::print_json;
use crate::settings::Settings;

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[arg(long, short, env = "FATHOM_WORKSPACE", default_value = "default")]
    pub workspace: WorkspaceId,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(settings: &Settings, args: StatusArgs) -> anyhow::Result<ExitCode> {
    let backends = Backends::open(settings).await?;
    let manifest = Manifest::load(&settings.manifest_path(&args.workspace), &args.workspace)?;
    let indexed_articles = backends.store.article_ids(&args.workspace).await?;
    let indexed_chunks = backends.store.count(&args.workspace).await?;
    let (manifest_articles, manifest_chunks, in_flight) =
        manifest.as_ref().map_or((0, 0, 0), |m| {
            (
                m.articles.len(),
                m.articles.values().map(|a| a.chunks as usize).sum(),
                m.in_flight.len(),
            )
        });
    if args.json {
        print_json(&serde_json::json!({
            "workspace": args.workspace,
            "articles": manifest_articles,
            "chunks": manifest_chunks,
            "in_flight": in_flight,
            "indexed_articles": indexed_articles,
            "indexed_chunks": indexed_chunks,
            "dense_model": backends.dense.as_ref().map(|d| d.model_id().to_string()),
        }))?;
    } else {
        println!("workspace {}", args.workspace);
        println!("  manifest: {manifest_articles} articles, {manifest_chunks} chunks, {in_flight} in flight");
        println!(
            "  index:    {} articles, {indexed_chunks} chunks",
            indexed_articles.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}
