//! Loading an eval set's cases.

use std::path::{Path, PathBuf};

use fathom_core::{Conversation, CustomerAttributes, Turn, WorkspaceId};
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum SetError {
    #[error("eval set {path} has no {missing}")]
    Missing {
        path: PathBuf,
        missing: &'static str,
    },
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: invalid case: {reason}")]
    Case {
        path: PathBuf,
        line: usize,
        reason: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expected {
    Answer,
    Partial,
    Clarify,
    Handoff,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    pub id: String,
    #[serde(default)]
    pub history: Vec<Turn>,
    pub question: String,
    pub expected: Expected,
    #[serde(default)]
    pub gold_article_ids: Vec<String>,
    #[serde(default)]
    pub reference_answer: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

impl Case {
    /// The conversation the engine is asked about: the case's history and question, in
    /// `workspace`, from a customer with no attributes.
    pub fn conversation(&self, workspace: &WorkspaceId) -> Conversation {
        Conversation {
            workspace: workspace.clone(),
            history: self.history.clone(),
            message: self.question.clone(),
            customer: CustomerAttributes::default(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct EvalSet {
    pub name: String,
    pub articles_dir: PathBuf,
    pub cases: Vec<Case>,
}

impl EvalSet {
    pub fn load(dir: &Path) -> Result<Self, SetError> {
        let articles_dir = dir.join("articles");
        if !articles_dir.is_dir() {
            return Err(SetError::Missing {
                path: dir.to_path_buf(),
                missing: "articles/ folder",
            });
        }
        let cases_path = dir.join("cases.jsonl");
        if !cases_path.is_file() {
            return Err(SetError::Missing {
                path: dir.to_path_buf(),
                missing: "cases.jsonl",
            });
        }
        let text = std::fs::read_to_string(&cases_path).map_err(|source| SetError::Read {
            path: cases_path.clone(),
            source,
        })?;
        let mut cases = Vec::new();
        for (index, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let case: Case = serde_json::from_str(line).map_err(|e| SetError::Case {
                path: cases_path.clone(),
                line: index + 1,
                reason: e.to_string(),
            })?;
            cases.push(case);
        }
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "eval".into());
        Ok(Self {
            name,
            articles_dir,
            cases,
        })
    }
}
