//! Answerability: which retrieved chunk to answer from, and how likely it is that answering from
//! it resolves the question. Both are logistic models fitted leave-one-set-out on the eval sets
//! (`fathom answerability fit`), read from a weights file that records its data and command.
//!
//! 1. [`features::candidates`]: per retrieved chunk, its fused score relative to the best, dense
//!    cosine, lexical, IDF-weighted, phrase and title coverage of the asked terms.
//! 2. The rerank model scores each chunk; the best-scored one is what an answer quotes.
//! 3. [`features::CaseFeatures`]: the first chunk's signals, its margins over other articles,
//!    whether dense and lexical signals agree with it, and the question's form.
//! 4. The answer model's probability is the decision's confidence.
//!
//! A file holds several models, and [`crate::judge::model_name`] picks one per turn: `dense`
//! (hybrid retrieval, a follow-up), `first_turn` (hybrid retrieval, a conversation's first
//! message), `foreign` (a language the dense embedder does not read) and `lexical` (BM25 only).

pub mod features;
pub mod model;

use fathom_core::SearchHit;

pub use features::{is_dense_feature, Asked, Candidate, CaseFeatures};
pub use model::{AnswerModel, Logistic, ModelError, ModelFile, Provenance, Term};

/// What the judge concluded for one turn.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    /// Indexes into the hits, best first (hits beyond the rerank depth keep their retrieval
    /// order after the others).
    pub order: Vec<usize>,
    /// The probability that answering from `order[0]` resolves the question (0 without hits).
    pub confidence: f32,
    pub features: Option<CaseFeatures>,
}

/// The rerank order of `candidates` by `scores` (stable: ties keep the retrieval order).
pub fn rerank_order(scores: &[f32]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    order
}

/// Rerank and judge `hits` with `model`.
pub fn assess(model: &AnswerModel, asked: &Asked, hits: &[SearchHit], depth: usize) -> Assessment {
    let candidates = features::candidates(asked, hits, depth.max(1));
    let scores: Vec<f32> = candidates
        .iter()
        .map(|c| model.rerank.logit(|name| c.get(name)))
        .collect();
    let mut order = rerank_order(&scores);
    let features = CaseFeatures::new(asked, &candidates, &scores, &order);
    let confidence = features
        .as_ref()
        .map_or(0.0, |f| model.confidence(|name| f.get(name)));
    order.extend(candidates.len()..hits.len());
    Assessment {
        order,
        confidence,
        features,
    }
}
