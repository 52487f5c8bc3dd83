//! Answerability: which retrieved chunk answers the question best, and how sure are we that it
//! does?
//!
//! Three cheap signals per chunk: the dense cosine to the query (semantic closeness), the share
//! of the question's content words the chunk contains (lexical coverage), and the share of the
//! question's adjacent word pairs the chunk holds in the same order (phrase coverage: "turn off
//! the screen" against "turn the screen off and on"; near-duplicate sections of a manual differ in
//! exactly such phrases).
//!
//! 1. **Rerank.** The retrieved chunks are re-ordered by their fused retrieval score (relative
//!    to the best one) plus coverage and phrase coverage.
//! 2. **Confidence.** The reranked best chunk's dense cosine and coverage, weighted equally.
//!    (Phrase coverage helps choose between chunks but did not separate answerable questions
//!    from unanswerable ones any better, so it stays out of the confidence.)
//!
//! The rerank weights come from a logistic regression on ../shared/evals (is this chunk from a
//! gold article?) fitted on one set and checked on the other; the confidence weights and the
//! threshold from a sweep on ibmcloud-docs (the lowest threshold with false resolution ≤ 10%).
//! evals/README.md has the numbers. They sit in a plain struct so a business can recalibrate.

use std::collections::HashSet;

use fathom_core::SearchHit;
use serde::{Deserialize, Serialize};

use crate::lexical::{coverage, phrase_coverage, terms};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JudgeConfig {
    /// Weight of the dense cosine in the confidence.
    pub dense_weight: f32,
    /// Weight of lexical coverage of the latest message in the confidence.
    pub coverage_weight: f32,
    /// Rerank: weight of the chunk's retrieval score relative to the best retrieved chunk.
    pub rerank_score_weight: f32,
    /// Rerank: weight of lexical coverage.
    pub rerank_coverage_weight: f32,
    /// Rerank: weight of phrase coverage.
    pub rerank_phrase_weight: f32,
    /// How many of the retrieved chunks the rerank considers.
    pub rerank_depth: usize,
    /// Answer only at or above this confidence.
    pub min_confidence: f32,
    /// Below this cosine nothing retrieved is about the question at all.
    pub min_relevance: f32,
}

impl Default for JudgeConfig {
    fn default() -> Self {
        Self {
            dense_weight: 0.5,
            coverage_weight: 0.5,
            rerank_score_weight: 5.0,
            rerank_coverage_weight: 1.7,
            rerank_phrase_weight: 1.2,
            rerank_depth: 8,
            // The operating point on ../shared/evals/ibmcloud-docs (extractive, MiniLM, DBSF):
            // the lowest threshold whose false resolution is at most 10% (8.3%, resolution
            // 67.9%). `fathom eval` prints the curve and this point for any eval set.
            min_confidence: 0.625,
            min_relevance: 0.25,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Judgement {
    pub confidence: f32,
    /// Indexes into the hits, best first after the rerank (the first is what an answer should
    /// come from). Hits beyond the rerank depth keep their retrieval order after the others.
    pub order: Vec<usize>,
    pub dense: Option<f32>,
    pub coverage: f32,
}

/// Judge the hits for `message` (the customer's own words) and `query` (the standalone query).
pub fn judge(config: &JudgeConfig, message: &str, query: &str, hits: &[SearchHit]) -> Judgement {
    if hits.is_empty() {
        return Judgement {
            confidence: 0.0,
            order: Vec::new(),
            dense: None,
            coverage: 0.0,
        };
    }
    // The message's own words matter most; fall back to the query's when the message has none
    // ("and that one?").
    let message_terms = terms(message);
    let asked_sequence = if message_terms.is_empty() {
        terms(query)
    } else {
        message_terms
    };
    let asked: HashSet<String> = asked_sequence.iter().cloned().collect();
    let top_score = hits[0].score;
    let depth = config.rerank_depth.max(1).min(hits.len());
    let mut scored: Vec<(usize, f32, Signals)> = hits[..depth]
        .iter()
        .enumerate()
        .map(|(index, hit)| {
            let chunk_sequence = terms(&hit.chunk.text_for_embedding());
            let chunk_terms: HashSet<String> = chunk_sequence.iter().cloned().collect();
            let signals = Signals {
                dense: hit.dense_score,
                coverage: coverage(&asked, &chunk_terms),
                phrase: phrase_coverage(&asked_sequence, &chunk_sequence),
            };
            let relative = if top_score > 0.0 {
                hit.score / top_score
            } else {
                0.0
            };
            let rank_score = config.rerank_score_weight * relative
                + config.rerank_coverage_weight * signals.coverage
                + config.rerank_phrase_weight * signals.phrase;
            (index, rank_score, signals)
        })
        .collect();
    // Stable: ties keep the retrieval order.
    scored.sort_by(|a, b| b.1.total_cmp(&a.1));
    let best = &scored[0].2;
    let confidence = combine(config, best).clamp(0.0, 1.0);
    let (dense, coverage) = (best.dense, best.coverage);
    let order = scored
        .iter()
        .map(|(index, _, _)| *index)
        .chain(depth..hits.len())
        .collect();
    Judgement {
        confidence,
        order,
        dense,
        coverage,
    }
}

struct Signals {
    dense: Option<f32>,
    coverage: f32,
    phrase: f32,
}

fn combine(config: &JudgeConfig, signals: &Signals) -> f32 {
    match signals.dense {
        Some(d) => config.dense_weight * d + config.coverage_weight * signals.coverage,
        // BM25-only: lexical coverage is all we have.
        None => signals.coverage,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fathom_core::{ArticleId, Chunk, ChunkId, WorkspaceId};

    fn hit(text: &str, score: f32, dense: f32) -> SearchHit {
        let workspace: WorkspaceId = "default".parse().unwrap();
        let article_id = ArticleId::try_from(format!("a-{score}")).unwrap();
        SearchHit {
            chunk: Chunk {
                id: ChunkId::derive(&workspace, &article_id, 0),
                workspace,
                article_id,
                title: "Title".into(),
                url: None,
                locale: None,
                heading_path: vec![],
                position: 0,
                text: text.into(),
                token_count: 10,
                content_hash: String::new(),
            },
            score,
            dense_score: Some(dense),
            bm25_score: None,
        }
    }

    #[test]
    fn the_phrase_match_outranks_a_slightly_better_retrieval_score() {
        // Same words, but only the second chunk has them in the asked order.
        let hits = vec![
            hit("Press power to turn the screen off and on.", 1.0, 0.6),
            hit("To turn off the screen, press power.", 0.97, 0.6),
        ];
        let j = judge(
            &JudgeConfig::default(),
            "how do I turn off the screen",
            "how do I turn off the screen",
            &hits,
        );
        assert_eq!(j.order, vec![1, 0]);
    }

    #[test]
    fn a_much_better_retrieval_score_is_not_overturned_by_words_alone() {
        let hits = vec![
            hit("Refunds are issued within 5 days of cancelling.", 1.0, 0.7),
            hit("Cancel refunds cancel refunds.", 0.4, 0.3),
        ];
        let j = judge(
            &JudgeConfig::default(),
            "when are refunds issued",
            "when are refunds issued",
            &hits,
        );
        assert_eq!(j.order.first(), Some(&0));
    }

    #[test]
    fn confidence_rises_with_coverage_and_closeness() {
        let config = JudgeConfig::default();
        let question = "how long do refunds take";
        let confidence = |text: &str, dense: f32| {
            judge(&config, question, question, &[hit(text, 1.0, dense)]).confidence
        };
        let unrelated = confidence("Our office hours.", 0.2);
        let words = confidence("How long do refunds take? Five days.", 0.2);
        let close = confidence("How long do refunds take? Five days.", 0.8);
        assert!(unrelated < words, "{unrelated} < {words}");
        assert!(words < close, "{words} < {close}");
        assert!(close >= config.min_confidence);
        assert!(unrelated < config.min_confidence);
    }

    #[test]
    fn without_dense_scores_confidence_is_coverage() {
        let mut lexical = hit("Refunds take five days.", 3.2, 0.0);
        lexical.dense_score = None;
        let j = judge(
            &JudgeConfig::default(),
            "refunds days",
            "refunds days",
            &[lexical],
        );
        assert_eq!(j.confidence, 1.0);
        assert_eq!(j.dense, None);
    }

    #[test]
    fn hits_beyond_the_rerank_depth_keep_their_order() {
        let config = JudgeConfig {
            rerank_depth: 2,
            ..JudgeConfig::default()
        };
        let hits: Vec<SearchHit> = (0..4)
            .map(|i| hit("unrelated text", 1.0 - i as f32 * 0.1, 0.5))
            .collect();
        let j = judge(&config, "refund", "refund", &hits);
        assert_eq!(j.order.len(), 4);
        assert_eq!(&j.order[2..], &[2, 3]);
    }
}
