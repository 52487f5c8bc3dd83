//! Clarifying questions: when a message is too vague to answer and the evidence points several
//! ways, ask which one the customer means, naming the options the articles offer.

use fathom_core::SearchHit;

use crate::lexical::terms;

/// Words that point back at something earlier ("it", "that one").
const REFERENTS: &[&str] = &[
    "it", "its", "they", "them", "this", "that", "these", "those", "he", "she",
];

/// Whether the message is vague: few content words, or leaning on an unresolved "it"/"that".
pub(super) fn is_vague(message: &str) -> bool {
    let content = terms(message).len();
    let leans_on_referent = message
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .any(|w| REFERENTS.contains(&w.to_lowercase().as_str()));
    content <= 1 || (leans_on_referent && content <= 4)
}

/// The options to name: the distinct titles of the best hits, at most `max`.
pub(super) fn options(hits: &[SearchHit], max: usize) -> Vec<String> {
    let mut titles: Vec<String> = Vec::new();
    for hit in hits {
        if titles.len() == max {
            break;
        }
        if !titles.contains(&hit.chunk.title) {
            titles.push(hit.chunk.title.clone());
        }
    }
    titles
}
