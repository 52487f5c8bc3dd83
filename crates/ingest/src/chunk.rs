//! Article → chunks. The body is parsed with a real parser (pulldown-cmark for Markdown,
//! html5ever for HTML) into sections — a heading path and its blocks — and each section's
//! blocks are packed greedily into chunks of at most `max_tokens` cl100k tokens, consecutive
//! chunks of a section overlapping by about `overlap_tokens`.

mod html;
mod markdown;
mod packing;
mod sections;

use fathom_core::{Article, ArticleFormat, Chunk, ChunkId, WorkspaceId};

pub(crate) use markdown::first_heading_text;
pub(crate) use sections::collapse_whitespace;

/// How big chunks are and how much consecutive chunks of a section share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkerConfig {
    /// Upper bound on a chunk's cl100k tokens. Only a code block or a single table row that is
    /// bigger on its own makes a chunk exceed it.
    pub max_tokens: usize,
    /// About how many tokens of a chunk's tail are repeated at the start of the next chunk of
    /// the same section. Capped at half of `max_tokens`.
    pub overlap_tokens: usize,
}

impl Default for ChunkerConfig {
    fn default() -> Self {
        Self {
            max_tokens: 350,
            overlap_tokens: 40,
        }
    }
}

/// Tokens in `text` for the cl100k tokenizer (special-token text counts as ordinary text).
pub fn count_tokens(text: &str) -> usize {
    tiktoken_rs::cl100k_base_singleton()
        .encode_ordinary(text)
        .len()
}

/// Cuts an article into chunks, numbered from 0 in reading order. An article with no text
/// (or only headings) gives no chunks.
pub fn chunk_article(
    workspace: &WorkspaceId,
    article: &Article,
    config: &ChunkerConfig,
) -> Vec<Chunk> {
    let sections = match article.format {
        ArticleFormat::Markdown => markdown::sections(&article.title, &article.body),
        ArticleFormat::Html => html::sections(&article.title, &article.body),
    };
    let chunks: Vec<Chunk> = sections
        .iter()
        .flat_map(|section| {
            packing::pack_section(&section.blocks, config)
                .into_iter()
                .map(move |packed| (section, packed))
        })
        .enumerate()
        .map(|(position, (section, packed))| {
            let position = u32::try_from(position).unwrap_or(u32::MAX);
            Chunk {
                id: ChunkId::derive(workspace, &article.id, position),
                workspace: workspace.clone(),
                article_id: article.id.clone(),
                title: article.title.clone(),
                url: article.url.clone(),
                locale: article.locale.clone(),
                heading_path: section.heading_path.clone(),
                position,
                token_count: u32::try_from(packed.token_count).unwrap_or(u32::MAX),
                content_hash: blake3::hash(packed.text.as_bytes()).to_hex().to_string(),
                text: packed.text,
            }
        })
        .collect();
    tracing::debug!(
        article_id = %article.id,
        section_count = sections.len(),
        chunk_count = chunks.len(),
        "chunked article"
    );
    chunks
}
