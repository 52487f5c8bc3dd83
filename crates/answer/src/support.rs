//! Output guardrails without a model: every citation must point at a retrieved chunk, and every
//! sentence of an answer must be supported by the text it cites (lexical check).

use std::collections::HashSet;

use fathom_core::{ChunkId, Citation, SearchHit};

use crate::lexical::{coverage, message_language, sentences, term_set_in};

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
    let language = message_language(answer);
    let source = term_set_in(cited_text, language);
    // A "Source: <title>" line (a model may end its answer with one; the extractive answer's
    // own, localised line is added after this check) names the citation; it is not a claim.
    // Dropped as a whole line: a title such as "2. [DNS hostnames](https://…)" would otherwise
    // split into sentences.
    let claims: Vec<&str> = answer
        .lines()
        .filter(|line| !line.trim_start().starts_with("Source:"))
        .collect();
    sentences(&claims.join("\n"))
        .into_iter()
        .filter(|s| {
            let terms = term_set_in(s, language);
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
    fn the_source_line_is_not_a_claim_whatever_the_title_looks_like() {
        let source = "A CIDR notation is a compact representation of an IP address.";
        let answer = "A CIDR notation is a compact representation of an IP address.\n\n\
                      Source: 2. [DNS hostnames](https://datatracker.ietf.org/doc/html/rfc1123).";
        assert!(unsupported_sentences(answer, source).is_empty());
        // A claim after the source line is still checked.
        let smuggled = format!("{answer}\nEvery plan includes free unlimited hosting forever.");
        assert_eq!(unsupported_sentences(&smuggled, source).len(), 1);
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
