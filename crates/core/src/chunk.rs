//! A chunk: one retrievable piece of one section of one article.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{ArticleId, WorkspaceId};

/// Deterministic point id: the same (workspace, article, position) always maps to the same id,
/// so re-ingesting an article overwrites its points instead of duplicating them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ChunkId(pub Uuid);

impl ChunkId {
    const NAMESPACE: Uuid = Uuid::from_u128(0x5f1c_2a0e_8a4b_4c59_9d3e_6b7f_0e2d_a1c4);

    pub fn derive(workspace: &WorkspaceId, article: &ArticleId, position: u32) -> Self {
        let key = format!("{workspace}\u{1f}{article}\u{1f}{position}");
        Self(Uuid::new_v5(&Self::NAMESPACE, key.as_bytes()))
    }
}

impl std::fmt::Display for ChunkId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chunk {
    pub id: ChunkId,
    pub workspace: WorkspaceId,
    pub article_id: ArticleId,
    pub title: String,
    pub url: Option<String>,
    pub locale: Option<String>,
    /// Headings from the article's top down to this chunk's section, e.g. `["Billing", "Refunds"]`.
    pub heading_path: Vec<String>,
    /// 0-based order of the chunk within its article.
    pub position: u32,
    pub text: String,
    /// Tokens in `text`, counted with the cl100k tokenizer.
    pub token_count: u32,
    /// blake3 of `text`, hex.
    pub content_hash: String,
}

impl Chunk {
    /// "Billing › Refunds › Annual plans".
    pub fn heading_path_display(&self) -> String {
        self.heading_path.join(" › ")
    }

    /// The text given to embedders: title and heading path give the chunk its context.
    pub fn text_for_embedding(&self) -> String {
        let mut context = vec![self.title.as_str()];
        context.extend(
            self.heading_path
                .iter()
                .map(String::as_str)
                .filter(|h| *h != self.title),
        );
        format!("{}\n{}", context.join(" › "), self.text)
    }
}
