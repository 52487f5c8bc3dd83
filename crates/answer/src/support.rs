//! Output guardrails without a model: every citation must point at a retrieved chunk, and every
//! sentence of an answer must be supported by the text it cites (lexical check).

use std::collections::HashSet;

use fathom_core::{ChunkId, Citation, SearchHit};

use crate::lexical::{coverage, sentences, term_set};

/// A sentence counts as supported when this share of its content words is in the cited text.
pub const MIN_SENTENCE_SUPPORT: f32 = 0.6;

/// Citations whose chunks were not retrieved (a model inventing ids).
pub fn unknown_citations(citations: &[Citation], hits: &[SearchHit]) -> Vec<ChunkId> {
    let retrieved: HashSet<ChunkId> = hits.iter().map(|h| h.chunk.id).collect();
    citations
        .iter()
        .flat_map(|c| c.chunk_ids.iter().copied())
        .filter(|id| !retrieved.contains(id))
        .collect()
}

/// Sentences of `answer` not supported by the cited chunks' text.
pub fn unsupported_sentences(answer: &str, cited_text: &str) -> Vec<String> {
    let source = term_set(cited_text);
    sentences(answer)
        .into_iter()
        .filter(|s| !s.starts_with("Source:"))
        .filter(|s| {
            let terms = term_set(s);
            // Connective sentences ("Here is how:") carry no claim.
            terms.len() >= 3 && coverage(&terms, &source) < MIN_SENTENCE_SUPPORT
        })
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sentence_made_of_the_sources_words_is_supported() {
        let source = "Annual plans can be refunded on a prorated basis within 30 days of purchase.";
        assert!(unsupported_sentences(
            "Annual plans are refunded prorated within 30 days.",
            source
        )
        .is_empty());
    }

    #[test]
    fn an_invented_claim_is_flagged() {
        let source = "Annual plans can be refunded on a prorated basis within 30 days of purchase.";
        let flagged = unsupported_sentences(
            "You will get a full refund plus a free month of Enterprise credits.",
            source,
        );
        assert_eq!(flagged.len(), 1);
    }
}
