//! `fathom search "<question>"`: hybrid search over a workspace.

use std::process::ExitCode;

use clap::Args;
use fathom_core::{RetrievalMode, WorkspaceId};
use fathom_retrieve::SearchRequest;
use serde::Serialize;

use crate::backends::Backends;
use crate::output::print_json;
use crate::settings::Settings;

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// The question, as a customer would ask it.
    pub question: String,
    #[arg(long, short, env = "FATHOM_WORKSPACE", default_value = "default")]
    pub workspace: WorkspaceId,
    /// Number of chunks to return.
    #[arg(long, short, default_value_t = 5)]
    pub limit: usize,
    /// Only search chunks in this locale (e.g. `en`).
    #[arg(long)]
    pub locale: Option<String>,
    /// hybrid, dense or bm25 (default: hybrid, or bm25 with --embedder none).
    #[arg(long)]
    pub mode: Option<RetrievalMode>,
    /// Print the hits as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct JsonHit<'a> {
    article_id: &'a str,
    title: &'a str,
    url: Option<&'a str>,
    heading_path: &'a [String],
    chunk_id: String,
    score: f32,
    text: &'a str,
}

pub async fn run(settings: &Settings, args: SearchArgs) -> anyhow::Result<ExitCode> {
    if !(1..=100).contains(&args.limit) {
        anyhow::bail!("--limit must be between 1 and 100, got {}", args.limit);
    }
    let backends = Backends::open(settings).await?;
    let retriever = backends.retriever();
    let mode = args.mode.unwrap_or_else(|| retriever.default_mode());
    let results = retriever
        .search(SearchRequest {
            workspace: args.workspace.clone(),
            question: args.question.clone(),
            locale: args.locale.clone(),
            limit: args.limit,
            mode,
        })
        .await?;
    if args.json {
        let hits: Vec<JsonHit> = results
            .hits
            .iter()
            .map(|h| JsonHit {
                article_id: h.chunk.article_id.as_str(),
                title: &h.chunk.title,
                url: h.chunk.url.as_deref(),
                heading_path: &h.chunk.heading_path,
                chunk_id: h.chunk.id.to_string(),
                score: h.score,
                text: &h.chunk.text,
            })
            .collect();
        print_json(&serde_json::json!({
            "question": args.question,
            "workspace": args.workspace,
            "mode": mode,
            "hits": hits,
            "timings_ms": {"embed": results.embed_ms, "query": results.query_ms},
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    if results.hits.is_empty() {
        println!(
            "no results in workspace {} (has it been ingested? try `fathom ingest knowledge/`)",
            args.workspace
        );
        return Ok(ExitCode::SUCCESS);
    }
    for (rank, hit) in results.hits.iter().enumerate() {
        let chunk = &hit.chunk;
        println!(
            "{}. {}  [{}]  score {:.4}",
            rank + 1,
            chunk.title,
            chunk.article_id,
            hit.score
        );
        if let Some(url) = &chunk.url {
            println!("   {url}");
        }
        if !chunk.heading_path.is_empty() {
            println!("   {}", chunk.heading_path_display());
        }
        println!("   {}\n", snippet(&chunk.text, 300).replace('\n', "\n   "));
    }
    println!(
        "({mode:?}, {:.1} ms embedding + {:.1} ms query)",
        results.embed_ms, results.query_ms
    );
    Ok(ExitCode::SUCCESS)
}

fn snippet(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_string();
    }
    let cut: String = text.chars().take(max_chars).collect();
    format!("{}…", cut.trim_end())
}
