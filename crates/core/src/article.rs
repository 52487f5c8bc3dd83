//! A help-center article as read from a source, before chunking.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::ArticleId;

/// The markup an article's body is written in. The chunker parses each with a real parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArticleFormat {
    Markdown,
    Html,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Article {
    pub id: ArticleId,
    pub title: String,
    pub url: Option<String>,
    pub locale: Option<String>,
    pub tags: Vec<String>,
    pub updated_at: Option<String>,
    pub format: ArticleFormat,
    /// The body in its source markup (front matter removed).
    pub body: String,
    /// The file the article came from, relative to the ingested folder.
    pub source_path: PathBuf,
}
