//! `fathom ask "<message>"`: one turn through the answer engine.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use fathom_core::{Conversation, CustomerAttributes, Turn, WorkspaceId};

use crate::backends::Backends;
use crate::output::print_json;
use crate::settings::Settings;

#[derive(Debug, Args)]
pub struct AskArgs {
    /// The customer's message.
    pub message: String,
    #[arg(long, short, env = "FATHOM_WORKSPACE", default_value = "default")]
    pub workspace: WorkspaceId,
    /// Earlier turns, one JSON object a line: {"role": "customer"|"agent", "text": "..."}.
    #[arg(long)]
    pub history: Option<PathBuf>,
    /// The customer's locale (restricts retrieval to articles in it).
    #[arg(long)]
    pub locale: Option<String>,
    /// Print the decision as one JSON object.
    #[arg(long)]
    pub json: bool,
}

fn read_history(path: &PathBuf) -> anyhow::Result<Vec<Turn>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str::<Turn>(line).with_context(|| {
                format!(
                    "{}:{}: expected {{\"role\": \"customer\"|\"agent\", \"text\": ...}}",
                    path.display(),
                    i + 1
                )
            })
        })
        .collect()
}

pub async fn run(settings: &Settings, args: AskArgs) -> anyhow::Result<ExitCode> {
    let history = match &args.history {
        Some(path) => read_history(path)?,
        None => Vec::new(),
    };
    let backends = Backends::open(settings).await?;
    let engine = backends.answer_engine(settings)?;
    let decision = engine
        .decide(&Conversation {
            workspace: args.workspace.clone(),
            history,
            message: args.message.clone(),
            customer: CustomerAttributes {
                locale: args.locale.clone(),
                ..Default::default()
            },
        })
        .await;
    if args.json {
        print_json(&decision)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!("decision:   {:?} ({})", decision.decision, decision.reason);
    println!("confidence: {:.2}", decision.confidence);
    println!("\n{}\n", decision.answer);
    for citation in &decision.citations {
        println!(
            "cited: {} [{}] {}",
            citation.title,
            citation.article_id,
            citation.url.as_deref().unwrap_or("")
        );
    }
    if let Some(summary) = &decision.summary {
        println!("summary for the agent: {summary}");
    }
    let timings: Vec<String> = decision
        .timings_ms
        .iter()
        .map(|(k, v)| format!("{k} {v:.1} ms"))
        .collect();
    println!("timings: {}", timings.join(", "));
    Ok(ExitCode::SUCCESS)
}
