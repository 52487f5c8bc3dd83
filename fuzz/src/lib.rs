//! What the fuzz targets run, in one place: each `fuzz_targets/*.rs` is one line calling here.
//! A crash found by a target is checked in as a regression test in the crate that had the bug.

use std::path::Path;

use fathom_core::WorkspaceId;
use fathom_ingest::{chunk_article, parse_source, ChunkerConfig, SourceLimits};

pub mod webhooks;

/// Parse `data` as the source file `path` (its extension picks the parser), then chunk every
/// article. Refusing the input is fine; panicking is not.
pub fn parse_and_chunk(path: &str, data: &[u8]) {
    let Ok(articles) = parse_source(Path::new(path), data, &SourceLimits::default()) else {
        return;
    };
    let workspace = WorkspaceId::parse("fuzz").expect("a valid workspace id");
    let config = ChunkerConfig::default();
    for article in &articles {
        let chunks = chunk_article(&workspace, article, &config);
        for (position, chunk) in chunks.iter().enumerate() {
            assert_eq!(chunk.article_id, article.id);
            assert_eq!(chunk.position as usize, position, "chunks are numbered in order");
        }
    }
}

/// Redact `text`, restore it, redact the redacted text; and look for an injection in it.
pub fn redact_and_restore(text: &str) {
    use fathom_answer::guardrails::{detect_injection, redact, restore};
    let redacted = redact(text);
    assert_eq!(
        restore(&redacted.text, &redacted.entities),
        text,
        "restoring gives back exactly what was redacted"
    );
    let again = redact(&redacted.text);
    assert!(
        again.entities.is_empty(),
        "redacted text holds no more PII: {:?}",
        again.entities
    );
    let _ = detect_injection(text);
}
