//! Retrieval quality: does the gold article come back, and how high?

use fathom_core::{RetrievalMode, WorkspaceId};
use fathom_retrieve::{standalone_query, ContextCarry, RetrieveError, Retriever, SearchRequest};
use serde::Serialize;

use crate::set::{Case, Expected};

/// Per-case outcome: the rank (1-based) of the first gold article among distinct articles.
#[derive(Debug, Clone, Serialize)]
pub struct RetrievalCaseResult {
    pub case_id: String,
    pub gold: Vec<String>,
    pub retrieved: Vec<String>,
    /// The score of each retrieved article's best chunk, in the same order.
    pub scores: Vec<f32>,
    pub rank: Option<usize>,
    pub latency_ms: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RetrievalMetrics {
    pub mode: RetrievalMode,
    pub carry: ContextCarry,
    pub cases: usize,
    pub hit_at_1: f64,
    pub hit_at_5: f64,
    pub mrr: f64,
    pub latency_p50_ms: f64,
    pub latency_p99_ms: f64,
    #[serde(skip)]
    pub per_case: Vec<RetrievalCaseResult>,
}

/// How many chunks to fetch so that enough distinct articles come back.
const CHUNKS_PER_QUERY: usize = 30;
/// Ranks past this do not count for MRR.
const MAX_RANK: usize = 10;

/// Run every case that has gold articles (`answer` and `partial`) through the retriever.
pub async fn evaluate_retrieval(
    retriever: &Retriever,
    workspace: &WorkspaceId,
    cases: &[Case],
    mode: RetrievalMode,
    carry: ContextCarry,
    on_case: &(dyn Fn() + Send + Sync),
) -> Result<RetrievalMetrics, RetrieveError> {
    let mut per_case = Vec::new();
    for case in cases
        .iter()
        .filter(|c| matches!(c.expected, Expected::Answer | Expected::Partial))
        .filter(|c| !c.gold_article_ids.is_empty())
    {
        let results = retriever
            .search(SearchRequest {
                workspace: workspace.clone(),
                question: standalone_query(&case.history, &case.question, carry),
                locale: None,
                limit: CHUNKS_PER_QUERY,
                mode,
            })
            .await?;
        let mut retrieved: Vec<String> = Vec::new();
        let mut scores = Vec::new();
        for hit in &results.hits {
            let id = hit.chunk.article_id.as_str();
            if !retrieved.iter().any(|r| r == id) {
                retrieved.push(id.to_string());
                scores.push(hit.score);
            }
        }
        retrieved.truncate(MAX_RANK);
        scores.truncate(MAX_RANK);
        let rank = retrieved
            .iter()
            .position(|r| case.gold_article_ids.contains(r))
            .map(|p| p + 1);
        per_case.push(RetrievalCaseResult {
            case_id: case.id.clone(),
            gold: case.gold_article_ids.clone(),
            retrieved,
            scores,
            rank,
            latency_ms: results.embed_ms + results.query_ms,
        });
        on_case();
    }
    Ok(summarise(mode, carry, per_case))
}

fn summarise(
    mode: RetrievalMode,
    carry: ContextCarry,
    per_case: Vec<RetrievalCaseResult>,
) -> RetrievalMetrics {
    let n = per_case.len().max(1) as f64;
    let hits_within = |k: usize| {
        per_case
            .iter()
            .filter(|c| c.rank.is_some_and(|r| r <= k))
            .count() as f64
            / n
    };
    let mrr = per_case
        .iter()
        .map(|c| c.rank.map_or(0.0, |r| 1.0 / r as f64))
        .sum::<f64>()
        / n;
    let mut latencies: Vec<f64> = per_case.iter().map(|c| c.latency_ms).collect();
    latencies.sort_by(f64::total_cmp);
    RetrievalMetrics {
        mode,
        carry,
        cases: per_case.len(),
        hit_at_1: hits_within(1),
        hit_at_5: hits_within(5),
        mrr,
        latency_p50_ms: percentile(&latencies, 0.50),
        latency_p99_ms: percentile(&latencies, 0.99),
        per_case,
    }
}

/// Nearest-rank percentile of sorted values; 0 for none.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(rank: Option<usize>) -> RetrievalCaseResult {
        RetrievalCaseResult {
            case_id: "c".into(),
            gold: vec![],
            retrieved: vec![],
            scores: vec![],
            rank,
            latency_ms: 1.0,
        }
    }

    #[test]
    fn metrics_count_hits_within_k_and_reciprocal_ranks() {
        let metrics = summarise(
            RetrievalMode::Hybrid,
            ContextCarry::None,
            vec![case(Some(1)), case(Some(3)), case(None), case(Some(6))],
        );
        assert_eq!(metrics.hit_at_1, 0.25);
        assert_eq!(metrics.hit_at_5, 0.5);
        let expected_mrr = (1.0 + 1.0 / 3.0 + 0.0 + 1.0 / 6.0) / 4.0;
        assert!((metrics.mrr - expected_mrr).abs() < 1e-12);
    }

    #[test]
    fn percentile_uses_nearest_rank() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&values, 0.5), 50.0);
        assert_eq!(percentile(&values, 0.95), 95.0);
        assert_eq!(percentile(&values, 0.99), 99.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
        // Few values: p95 and p99 are the largest, never past the end.
        assert_eq!(percentile(&[3.0, 7.0, 9.0], 0.95), 9.0);
        assert_eq!(percentile(&[3.0, 7.0, 9.0], 0.5), 7.0);
        assert_eq!(percentile(&[4.0], 0.99), 4.0);
    }
}
