//! `fathom ask "<message>"`: one turn through the answer engine, in this process or through the
//! running `fathom serve` (whose engine and settings then answer).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use fathom_core::{Conversation, CustomerAttributes, Turn, WorkspaceId};
use serde::{Deserialize, Serialize};

use crate::backends::Backends;
use crate::output::print_json;
use crate::running;
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

/// One turn to answer: the arguments (history read from its file), as the running server
/// receives them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AskQuery {
    pub workspace: WorkspaceId,
    pub message: String,
    #[serde(default)]
    pub history: Vec<Turn>,
    pub locale: Option<String>,
}

impl AskQuery {
    pub fn conversation(self) -> Conversation {
        Conversation {
            workspace: self.workspace,
            history: self.history,
            message: self.message,
            customer: CustomerAttributes {
                locale: self.locale,
                ..Default::default()
            },
        }
    }
}

pub async fn run(settings: &Settings, args: AskArgs) -> anyhow::Result<ExitCode> {
    let history = match &args.history {
        Some(path) => read_history(path)?,
        None => Vec::new(),
    };
    let query = AskQuery {
        workspace: args.workspace.clone(),
        message: args.message.clone(),
        history,
        locale: args.locale.clone(),
    };
    let decision = match running::connect(settings).await? {
        Some(server) => server.ask(&query).await?,
        None => {
            let backends = Backends::open(settings).await?;
            let engine = backends.answer_engine(settings)?;
            engine.decide(&query.conversation()).await
        }
    };
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
