//! `fathom search "<question>"`: hybrid search over a workspace, in this process or through the
//! running `fathom serve` (same output either way).

use std::process::ExitCode;

use clap::Args;
use fathom_core::{RetrievalMode, WorkspaceId};
use fathom_retrieve::SearchRequest;
use serde::{Deserialize, Serialize};

use crate::backends::Backends;
use crate::output::print_json;
use crate::running;
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

/// What is searched: the arguments, as the running server receives them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SearchQuery {
    pub workspace: WorkspaceId,
    pub question: String,
    pub limit: usize,
    pub locale: Option<String>,
    pub mode: Option<RetrievalMode>,
}

impl SearchQuery {
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            (1..=100).contains(&self.limit),
            "--limit must be between 1 and 100, got {}",
            self.limit
        );
        Ok(())
    }
}

/// `fathom search --json`'s output.
#[derive(Debug, Serialize, Deserialize)]
pub struct SearchOutput {
    pub question: String,
    pub workspace: WorkspaceId,
    pub mode: RetrievalMode,
    pub hits: Vec<Hit>,
    pub timings_ms: Timings,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Hit {
    pub article_id: String,
    pub title: String,
    pub url: Option<String>,
    pub heading_path: Vec<String>,
    pub chunk_id: String,
    pub score: f32,
    pub text: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Timings {
    pub embed: f64,
    pub query: f64,
}

pub async fn run(settings: &Settings, args: SearchArgs) -> anyhow::Result<ExitCode> {
    let query = SearchQuery {
        workspace: args.workspace,
        question: args.question,
        limit: args.limit,
        locale: args.locale,
        mode: args.mode,
    };
    query.validate()?;
    let output = match running::connect(settings).await? {
        Some(server) => server.search(&query).await?,
        None => execute(&Backends::open(settings).await?, query).await?,
    };
    if args.json {
        print_json(&output)?;
    } else {
        print_hits(&output);
    }
    Ok(ExitCode::SUCCESS)
}

/// The search itself, wherever it runs.
pub async fn execute(backends: &Backends, query: SearchQuery) -> anyhow::Result<SearchOutput> {
    query.validate()?;
    let retriever = backends.retriever();
    let mode = query.mode.unwrap_or_else(|| retriever.default_mode());
    let results = retriever
        .search(SearchRequest {
            workspace: query.workspace.clone(),
            question: query.question.clone(),
            locale: query.locale,
            limit: query.limit,
            mode,
        })
        .await?;
    Ok(SearchOutput {
        question: query.question,
        workspace: query.workspace,
        mode,
        hits: results
            .hits
            .into_iter()
            .map(|h| Hit {
                chunk_id: h.chunk.id.to_string(),
                article_id: h.chunk.article_id.to_string(),
                title: h.chunk.title,
                url: h.chunk.url,
                heading_path: h.chunk.heading_path,
                score: h.score,
                text: h.chunk.text,
            })
            .collect(),
        timings_ms: Timings {
            embed: results.embed_ms,
            query: results.query_ms,
        },
    })
}

fn print_hits(output: &SearchOutput) {
    if output.hits.is_empty() {
        println!(
            "no results in workspace {} (has it been ingested? try `fathom ingest knowledge/`)",
            output.workspace
        );
        return;
    }
    for (rank, hit) in output.hits.iter().enumerate() {
        println!(
            "{}. {}  [{}]  score {:.4}",
            rank + 1,
            hit.title,
            hit.article_id,
            hit.score
        );
        if let Some(url) = &hit.url {
            println!("   {url}");
        }
        if !hit.heading_path.is_empty() {
            println!("   {}", hit.heading_path.join(" › "));
        }
        println!("   {}\n", snippet(&hit.text, 300).replace('\n', "\n   "));
    }
    println!(
        "({:?}, {:.1} ms embedding + {:.1} ms query)",
        output.mode, output.timings_ms.embed, output.timings_ms.query
    );
}

fn snippet(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_string();
    }
    let cut: String = text.chars().take(max_chars).collect();
    format!("{}…", cut.trim_end())
}
