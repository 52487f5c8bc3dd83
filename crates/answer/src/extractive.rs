//! The extractive answerer, the embedded default when no LLM is configured: reply with the most
//! relevant passage of the best article, trimmed to the relevant part (a whole list of steps when
//! the answer is steps), with its title and link. It invents nothing: every word shown comes
//! from the article.

use std::collections::HashSet;

use fathom_core::SearchHit;

use crate::guardrails::detect_injection;
use crate::lexical::{coverage, message_language, term_set_in};

/// At most this many words of passage.
const MAX_WORDS: usize = 160;

/// A passage picked from one chunk.
#[derive(Debug, Clone, PartialEq)]
pub struct Passage {
    pub text: String,
}

/// Blocks of a chunk: paragraphs, and whole lists (consecutive list items stay together).
fn blocks(text: &str) -> Vec<String> {
    let mut blocks: Vec<String> = Vec::new();
    for paragraph in text.split("\n\n") {
        let paragraph = paragraph.trim();
        if paragraph.is_empty() {
            continue;
        }
        let is_item = is_list_item(paragraph);
        match blocks.last_mut() {
            Some(last) if is_item && last.lines().last().is_some_and(is_list_item) => {
                last.push('\n');
                last.push_str(paragraph);
            }
            _ => blocks.push(paragraph.to_string()),
        }
    }
    blocks
}

fn is_list_item(line: &str) -> bool {
    let line = line.trim_start();
    line.starts_with("- ")
        || line.starts_with("* ")
        || line
            .split_once(". ")
            .is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
}

/// Pick the passage of `hit` that best answers `query`.
pub fn passage(hit: &SearchHit, query: &str) -> Passage {
    let language = message_language(query);
    let query_terms = term_set_in(query, language);
    // Articles are data, never instructions: a block that reads like an instruction to an
    // assistant is never quoted.
    let blocks: Vec<String> = blocks(&hit.chunk.text)
        .into_iter()
        .filter(|b| detect_injection(b).is_none())
        .collect();
    if blocks.is_empty() {
        return Passage {
            text: String::new(),
        };
    }
    let scores: Vec<f32> = blocks
        .iter()
        .map(|b| coverage(&query_terms, &term_set_in(b, language)))
        .collect();
    // The first of the best-covering blocks: a section usually states its rule first and its
    // exceptions after ("Annual plans can be refunded…" before "After 30 days… not refunded").
    let best = scores
        .iter()
        .enumerate()
        .fold((0, f32::MIN), |best, (i, &score)| {
            if score > best.1 {
                (i, score)
            } else {
                best
            }
        })
        .0;
    // Grow around the best block: an intro ending in ':' before, a list after.
    let mut start = best;
    if start > 0 && blocks[start - 1].trim_end().ends_with(':') {
        start -= 1;
    }
    let mut end = best;
    if blocks[best].trim_end().ends_with(':') && end + 1 < blocks.len() {
        end += 1;
    }
    let mut chosen: Vec<&str> = blocks[start..=end].iter().map(String::as_str).collect();
    // Add following blocks while the passage is short and they stay on topic.
    let mut next = end + 1;
    while next < blocks.len() && words(&chosen) < 60 && scores[next] > 0.0 {
        chosen.push(&blocks[next]);
        next += 1;
    }
    Passage {
        text: trim_words(&chosen.join("\n\n"), MAX_WORDS),
    }
}

fn words(blocks: &[&str]) -> usize {
    blocks.iter().map(|b| b.split_whitespace().count()).sum()
}

/// Cut after `max` words, at a sentence or line end when possible.
fn trim_words(text: &str, max: usize) -> String {
    if text.split_whitespace().count() <= max {
        return text.to_string();
    }
    let mut count = 0;
    let mut cut = text.len();
    for (i, c) in text.char_indices() {
        if c.is_whitespace() {
            count += 1;
            if count >= max {
                cut = i;
                break;
            }
        }
    }
    let head = &text[..cut];
    let sentence_end = head.rfind(['.', '\n']).filter(|&i| i > head.len() / 2);
    match sentence_end {
        Some(i) => head[..=i].trim_end().to_string(),
        None => format!("{}…", head.trim_end()),
    }
}

/// How the reply names its article: the title, linked when the article has a URL.
pub fn source(title: &str, url: Option<&str>) -> String {
    match url {
        Some(url) => format!("[{title}]({url})"),
        None => title.to_string(),
    }
}

/// The reply shown to the customer: the passage, then `source_line` (the localised "Source: …"
/// line, `Replies::source_line`).
pub fn render(passage: &Passage, source_line: &str) -> String {
    format!("{}\n\n{source_line}", passage.text)
}

/// Terms a passage shares with a query; used by tests and diagnostics.
pub fn shared_terms(passage: &str, query: &str) -> HashSet<String> {
    let language = message_language(query);
    let p = term_set_in(passage, language);
    term_set_in(query, language)
        .into_iter()
        .filter(|t| p.contains(t))
        .collect()
}
