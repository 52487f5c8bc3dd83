//! The signals the answerability model and the rerank are fitted on, computed from what the
//! engine already has: the retrieved hits (fused score, dense cosine), the customer's words and
//! the query. Nothing here calls a model; the cost is splitting each retrieved chunk into terms.
//!
//! Two levels:
//! - [`Candidate`]: one retrieved chunk (is this the chunk to answer from?), for the rerank;
//! - [`CaseFeatures`]: the whole turn, given the rerank's order (should we answer from the
//!   first one at all?), for the answer decision.
//!
//! Features are named, so a fitted model names the ones it uses and a model without the dense
//! ones (for languages the dense model does not read) lives beside one with them.

use std::collections::{BTreeMap, HashMap, HashSet};

use fathom_core::SearchHit;
use serde::{Deserialize, Serialize};

use crate::lexical::{message_language, phrase_coverage, reading_language, terms_in, Language};

/// Features whose value comes from the dense model; a lexical-only model leaves them out.
pub fn is_dense_feature(name: &str) -> bool {
    name.contains("dense")
}

/// One retrieved chunk's signals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// Index of the chunk's article among the hits' distinct articles (0 = the first retrieved).
    pub article: usize,
    /// Named values (see [`Candidate::NAMES`]).
    pub values: BTreeMap<String, f32>,
}

impl Candidate {
    /// Every candidate feature.
    pub const NAMES: [&'static str; 9] = [
        "relative",
        "fused",
        "retrieval_rank",
        "dense",
        "coverage",
        "phrase",
        "idf_coverage",
        "title_coverage",
        "chunk_terms",
    ];

    pub fn get(&self, name: &str) -> f32 {
        self.values.get(name).copied().unwrap_or(0.0)
    }
}

/// What the customer asked, as terms: the message's own content words (the query's when the
/// message has none, "and that one?"), read in the message's language like every chunk compared
/// with them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Asked {
    /// The language the message (and so the query and every chunk) is read in, ISO 639-1: the
    /// detected one when detection is sure of it, else English (`lexical::message_language`).
    #[serde(default = "english")]
    pub language: String,
    pub sequence: Vec<String>,
    /// Whether the query carried words from the history (a follow-up).
    pub history_used: bool,
    /// A question mark, or a question word first.
    pub is_question: bool,
    /// Content terms in the message itself.
    pub message_terms: usize,
}

const QUESTION_WORDS: &[&str] = &[
    "what", "how", "why", "when", "where", "which", "who", "whom", "whose", "can", "could", "do",
    "does", "did", "is", "are", "was", "were", "will", "would", "should", "may", "might", "shall",
];

/// Dumps written before the language was recorded were all read in English.
fn english() -> String {
    Language::ENGLISH.code().to_string()
}

impl Asked {
    /// Read in the message's detected language (English when detection is unsure).
    pub fn new(message: &str, query: &str) -> Self {
        Self::read_in(message, query, message_language(message))
    }

    /// Read once retrieval has found `hits`: an unsure detection falls back to the hits'
    /// language (`lexical::reading_language`).
    pub fn among(message: &str, query: &str, hits: &[SearchHit]) -> Self {
        Self::read_in(message, query, reading_language(message, hits))
    }

    fn read_in(message: &str, query: &str, language: Language) -> Self {
        let message_terms = terms_in(message, language);
        let count = message_terms.len();
        let sequence = if message_terms.is_empty() {
            terms_in(query, language)
        } else {
            message_terms
        };
        let first_word = message
            .split(|c: char| !c.is_alphanumeric())
            .find(|w| !w.is_empty())
            .map(str::to_lowercase);
        Self {
            language: language.code().to_string(),
            sequence,
            history_used: query.trim() != message.trim(),
            is_question: message.contains('?')
                || first_word.is_some_and(|w| QUESTION_WORDS.contains(&w.as_str())),
            message_terms: count,
        }
    }

    /// The language to read the retrieved chunks in.
    pub fn language(&self) -> Language {
        Language::from_locale(&self.language).unwrap_or(Language::ENGLISH)
    }

    /// `text`'s content terms, read in the message's language.
    fn terms(&self, text: &str) -> Vec<String> {
        terms_in(text, self.language())
    }

    fn set(&self) -> HashSet<&str> {
        self.sequence.iter().map(String::as_str).collect()
    }
}

/// The shortest part of a compound that counts as a match (a stem of four letters: "haus" in
/// "krankenhaus").
const MIN_COMPOUND_PART: usize = 4;

/// In a language that writes compounds as one word, whether the asked `term` stands inside one
/// of the chunk's terms ("regier" in "bundesregier"), or one of the chunk's terms is the head
/// (last part) of the asked term ("bundesregier" asked, "regier" written). A match must span at
/// least [`MIN_COMPOUND_PART`] characters.
fn in_a_compound(term: &str, chunk: &HashSet<&str>) -> bool {
    let long_enough = |part: &str| part.chars().count() >= MIN_COMPOUND_PART;
    chunk.iter().any(|word| {
        (long_enough(term) && word.len() > term.len() && word.contains(term))
            || (long_enough(word) && term.len() > word.len() && term.ends_with(word))
    })
}

/// The candidate features of the first `depth` hits.
pub fn candidates(asked: &Asked, hits: &[SearchHit], depth: usize) -> Vec<Candidate> {
    let hits = &hits[..depth.min(hits.len())];
    let asked_set = asked.set();
    let top_score = hits.first().map_or(0.0, |h| h.score);
    let chunk_terms: Vec<Vec<String>> = hits
        .iter()
        .map(|h| asked.terms(&h.chunk.text_for_embedding()))
        .collect();
    // Local IDF: an asked term found in every retrieved chunk says little about which one
    // answers; one found in a single chunk says a lot. (The store's collection-wide IDF is not
    // visible here; the retrieved set is what the choice is between.)
    let chunk_sets: Vec<HashSet<&str>> = chunk_terms
        .iter()
        .map(|t| t.iter().map(String::as_str).collect())
        .collect();
    let n = hits.len().max(1) as f32;
    let idf: HashMap<&str, f32> = asked_set
        .iter()
        .map(|term| {
            let df = chunk_sets.iter().filter(|s| s.contains(term)).count() as f32;
            (*term, (1.0 + n / (1.0 + df)).ln())
        })
        .collect();
    let idf_total: f32 = idf.values().sum();
    let compounds = asked.language().compounds();
    let mut articles: Vec<&str> = Vec::new();
    hits.iter()
        .zip(&chunk_terms)
        .zip(&chunk_sets)
        .enumerate()
        .map(|(rank, ((hit, sequence), set))| {
            let article_id = hit.chunk.article_id.as_str();
            let article = match articles.iter().position(|a| *a == article_id) {
                Some(index) => index,
                None => {
                    articles.push(article_id);
                    articles.len() - 1
                }
            };
            // The asked terms this chunk holds, found once (the compound scan is the costly part).
            let found: Vec<&str> = asked_set
                .iter()
                .copied()
                .filter(|term| set.contains(term) || (compounds && in_a_compound(term, set)))
                .collect();
            let coverage = share(found.len(), asked_set.len());
            let idf_coverage = if idf_total > 0.0 {
                found.iter().map(|t| idf[t]).sum::<f32>() / idf_total
            } else {
                0.0
            };
            let mut title = asked.terms(&hit.chunk.title);
            for heading in &hit.chunk.heading_path {
                title.extend(asked.terms(heading));
            }
            let title: HashSet<&str> = title.iter().map(String::as_str).collect();
            let title_coverage = share(
                asked_set.iter().filter(|t| title.contains(*t)).count(),
                asked_set.len(),
            );
            let relative = if top_score > 0.0 {
                hit.score / top_score
            } else {
                0.0
            };
            let values = [
                ("relative", relative),
                ("fused", hit.score),
                ("retrieval_rank", 1.0 / (1.0 + rank as f32)),
                ("dense", hit.dense_score.unwrap_or(0.0)),
                ("coverage", coverage),
                ("phrase", phrase_coverage(&asked.sequence, sequence)),
                ("idf_coverage", idf_coverage),
                ("title_coverage", title_coverage),
                ("chunk_terms", (1.0 + sequence.len() as f32).ln()),
            ];
            Candidate {
                article,
                values: values
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect(),
            }
        })
        .collect()
}

fn share(found: usize, of: usize) -> f32 {
    if of == 0 {
        0.0
    } else {
        found as f32 / of as f32
    }
}

/// The turn's features given the rerank's `order` (indexes into `candidates`, best first) and
/// each candidate's rerank score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseFeatures {
    pub values: BTreeMap<String, f32>,
}

impl CaseFeatures {
    /// Every case feature.
    pub const NAMES: [&'static str; 18] = [
        "top_dense",
        "top_coverage",
        "top_phrase",
        "top_idf_coverage",
        "top_title_coverage",
        "top_relative",
        "top_rerank",
        "rerank_margin",
        "dense_max",
        "dense_margin",
        "dense_agrees",
        "lexical_agrees",
        "reranked",
        "asked_terms",
        "is_question",
        "history_used",
        "articles",
        "short_message",
    ];

    pub fn get(&self, name: &str) -> f32 {
        self.values.get(name).copied().unwrap_or(0.0)
    }

    /// Features of the turn; `None` when nothing was retrieved.
    pub fn new(
        asked: &Asked,
        candidates: &[Candidate],
        rerank_scores: &[f32],
        order: &[usize],
    ) -> Option<Self> {
        let &top = order.first()?;
        let best = &candidates[top];
        let other_articles = || {
            order
                .iter()
                .copied()
                .filter(move |&i| candidates[i].article != best.article)
        };
        let margin_cap = 5.0;
        let rerank_margin = other_articles()
            .map(|i| rerank_scores[top] - rerank_scores[i])
            .fold(None, |m: Option<f32>, v| Some(m.map_or(v, |m| m.min(v))))
            .unwrap_or(margin_cap)
            .min(margin_cap);
        let best_other = |name: &str| {
            other_articles()
                .map(|i| candidates[i].get(name))
                .fold(None, |m: Option<f32>, v| Some(m.map_or(v, |m| m.max(v))))
        };
        let argmax_article = |name: &str| {
            candidates
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.get(name).total_cmp(&b.1.get(name)).then(b.0.cmp(&a.0)))
                .map(|(_, c)| c.article)
        };
        let dense_max = candidates
            .iter()
            .map(|c| c.get("dense"))
            .fold(0.0f32, f32::max);
        let distinct: HashSet<usize> = candidates.iter().map(|c| c.article).collect();
        let flag = |b: bool| if b { 1.0 } else { 0.0 };
        let values = [
            ("top_dense", best.get("dense")),
            ("top_coverage", best.get("coverage")),
            ("top_phrase", best.get("phrase")),
            ("top_idf_coverage", best.get("idf_coverage")),
            ("top_title_coverage", best.get("title_coverage")),
            ("top_relative", best.get("relative")),
            ("top_rerank", rerank_scores[top]),
            ("rerank_margin", rerank_margin),
            ("dense_max", dense_max),
            (
                "dense_margin",
                best.get("dense") - best_other("dense").unwrap_or(0.0),
            ),
            (
                "dense_agrees",
                flag(argmax_article("dense") == Some(best.article)),
            ),
            (
                "lexical_agrees",
                flag(argmax_article("idf_coverage") == Some(best.article)),
            ),
            ("reranked", flag(top != 0)),
            ("asked_terms", (1.0 + asked.sequence.len() as f32).ln()),
            ("is_question", flag(asked.is_question)),
            ("history_used", flag(asked.history_used)),
            (
                "articles",
                distinct.len() as f32 / candidates.len().max(1) as f32,
            ),
            ("short_message", flag(asked.message_terms <= 2)),
        ];
        Some(Self {
            values: values
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(text: &str, code: &str) -> Vec<String> {
        terms_in(text, Language::from_locale(code).unwrap())
    }

    fn set(terms: &[String]) -> HashSet<&str> {
        terms.iter().map(String::as_str).collect()
    }

    #[test]
    fn a_german_word_counts_as_found_inside_a_compound_and_a_compounds_head_as_the_compound() {
        let chunk = terms("Die Bundesregierung wurde 1949 in Bonn gebildet.", "de");
        let asked = terms("Wann wurde die Regierung gebildet?", "de");
        let regierung = asked.iter().find(|t| t.starts_with("regier")).unwrap();
        assert!(!chunk.contains(regierung), "{chunk:?}");
        assert!(in_a_compound(regierung, &set(&chunk)), "{chunk:?}");
        // The other way: the question's compound, the text's head noun.
        let chunk = terms("Die Regierung des Bundes sitzt in Berlin.", "de");
        let asked = terms("Wo sitzt die Bundesregierung?", "de");
        let compound = asked.iter().find(|t| t.starts_with("bundes")).unwrap();
        assert!(in_a_compound(compound, &set(&chunk)), "{asked:?} {chunk:?}");
        // Short pieces are not parts: "ei" is in "Polizei" by accident.
        assert!(!in_a_compound("ei", &set(&terms("Die Polizei kam.", "de"))));
    }

    #[test]
    fn only_languages_that_write_compounds_as_one_word_read_them() {
        for (code, compounds) in [("de", true), ("nl", true), ("sv", true), ("fi", true)] {
            assert_eq!(
                Language::from_locale(code).unwrap().compounds(),
                compounds,
                "{code}"
            );
        }
        for code in ["en", "es", "fr", "zh", "ja"] {
            assert!(!Language::from_locale(code).unwrap().compounds(), "{code}");
        }
    }
}
