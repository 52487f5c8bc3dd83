//! Fathom's ingestion: help-center sources (Markdown with front matter, HTML pages, Zendesk and
//! Intercom JSON exports) are parsed into [`Article`]s, and articles are cut into
//! [`Chunk`]s — section-aware, token-bounded, overlapping — ready to embed.
//!
//! The data's path through this crate: [`sources::parse_source`] → [`chunk::chunk_article`] →
//! [`sync::sync_folder`], which embeds the chunks and writes them to a vector store, keeping a
//! per-workspace [`manifest::Manifest`] so re-syncs only touch what changed, under a lease so two
//! syncs of one workspace never interleave.
//!
//! [`Article`]: fathom_core::Article
//! [`Chunk`]: fathom_core::Chunk

pub mod chunk;
pub mod copy;
mod lease;
pub mod manifest;
pub mod sources;
pub mod sync;

pub use chunk::{chunk_article, count_tokens, ChunkerConfig};
pub use lease::lease_holder;
pub use sources::{is_supported, parse_source, SourceError, SourceErrorReason, SourceLimits};
