//! Answerability: how sure are we that the retrieved evidence answers the question?
//!
//! Two signals, both cheap: the dense cosine of the best chunk to the query (semantic closeness),
//! and the share of the question's content words that the best chunk contains (lexical
//! coverage). Their weights and the operating threshold were calibrated on ../shared/evals (see
//! evals/README.md), not guessed.

use std::collections::HashSet;

use fathom_core::SearchHit;
use serde::{Deserialize, Serialize};

use crate::lexical::{coverage, term_set};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JudgeConfig {
    /// Weight of the dense cosine in the confidence.
    pub dense_weight: f32,
    /// Weight of lexical coverage of the latest message.
    pub coverage_weight: f32,
    /// Answer only at or above this confidence.
    pub min_confidence: f32,
    /// Below this cosine nothing retrieved is about the question at all.
    pub min_relevance: f32,
}

impl Default for JudgeConfig {
    fn default() -> Self {
        Self {
            dense_weight: 0.6,
            coverage_weight: 0.4,
            // The operating point on ../shared/evals/ibmcloud-docs (extractive, MiniLM, DBSF):
            // the lowest threshold whose false resolution is at most 10% (8.3%, resolution
            // 63.0%). `fathom eval` prints the curve and this point for any eval set.
            min_confidence: 0.625,
            min_relevance: 0.25,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Judgement {
    pub confidence: f32,
    /// Index into the hits of the chunk the answer should come from.
    pub best: Option<usize>,
    pub dense: Option<f32>,
    pub coverage: f32,
}

/// Judge the hits for `message` (the customer's own words) and `query` (the standalone query).
pub fn judge(config: &JudgeConfig, message: &str, query: &str, hits: &[SearchHit]) -> Judgement {
    if hits.is_empty() {
        return Judgement {
            confidence: 0.0,
            best: None,
            dense: None,
            coverage: 0.0,
        };
    }
    let message_terms = term_set(message);
    let query_terms: HashSet<String> = term_set(query);
    // The message's own words matter most; fall back to the query's when the message has none
    // ("and that one?").
    let asked = if message_terms.is_empty() {
        &query_terms
    } else {
        &message_terms
    };
    let mut best = (0usize, f32::MIN, None, 0.0f32);
    for (index, hit) in hits.iter().take(5).enumerate() {
        let chunk_terms = term_set(&hit.chunk.text_for_embedding());
        let cov = coverage(asked, &chunk_terms);
        let score = combine(config, hit.dense_score, cov);
        if score > best.1 {
            best = (index, score, hit.dense_score, cov);
        }
    }
    Judgement {
        confidence: best.1.clamp(0.0, 1.0),
        best: Some(best.0),
        dense: best.2,
        coverage: best.3,
    }
}

fn combine(config: &JudgeConfig, dense: Option<f32>, coverage: f32) -> f32 {
    match dense {
        Some(d) => config.dense_weight * d + config.coverage_weight * coverage,
        // BM25-only: lexical coverage is all we have.
        None => coverage,
    }
}
