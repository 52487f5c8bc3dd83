//! End-to-end evaluation of the answer engine: every case, with its history, through the real
//! engine; then resolution, false resolution, clarification and handoff metrics with 95%
//! confidence intervals, and the operating curve as the confidence threshold moves.

use std::collections::BTreeMap;
use std::time::Instant;

use fathom_answer::AnswerEngine;
use fathom_core::{Conversation, CustomerAttributes, Decision, DecisionKind, Reason, WorkspaceId};
use serde::Serialize;

use crate::retrieval::percentile;
use crate::set::{Case, Expected};

/// One case's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct CaseRow {
    pub id: String,
    pub question: String,
    pub expected: Expected,
    pub decision: DecisionKind,
    pub reason: Reason,
    pub confidence: f32,
    pub cited: Vec<String>,
    pub gold: Vec<String>,
    /// The article the engine would cite if it answered (the best evidence).
    pub top_article: Option<String>,
    /// Distinct articles in the evidence, best first.
    pub retrieved: Vec<String>,
    pub resolved: bool,
    pub latency_ms: f64,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub answer: String,
    pub tags: Vec<String>,
}

/// A rate with its 95% Wilson interval.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Rate {
    pub value: f64,
    pub low: f64,
    pub high: f64,
    pub successes: usize,
    pub total: usize,
}

impl Rate {
    pub fn wilson(successes: usize, total: usize) -> Self {
        if total == 0 {
            return Self {
                value: 0.0,
                low: 0.0,
                high: 0.0,
                successes,
                total,
            };
        }
        let n = total as f64;
        let p = successes as f64 / n;
        let z = 1.959_964_f64;
        let denominator = 1.0 + z * z / n;
        let centre = (p + z * z / (2.0 * n)) / denominator;
        let half = z * ((p * (1.0 - p) / n) + z * z / (4.0 * n * n)).sqrt() / denominator;
        Self {
            value: p,
            low: (centre - half).max(0.0),
            high: (centre + half).min(1.0),
            successes,
            total,
        }
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:5.1}% [{:4.1}–{:4.1}] ({}/{})",
            self.value * 100.0,
            self.low * 100.0,
            self.high * 100.0,
            self.successes,
            self.total
        )
    }
}

/// One point of the operating curve.
#[derive(Debug, Clone, Serialize)]
pub struct CurvePoint {
    pub threshold: f32,
    pub resolution: f64,
    pub false_resolution: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub set: String,
    pub mode: String,
    pub threshold: f32,
    pub cases: usize,
    pub resolution_rate: Rate,
    pub false_resolution_rate: Rate,
    pub clarify_rate: Rate,
    pub partial_answered_rate: Rate,
    pub handoff_precision: Rate,
    pub handoff_recall: Rate,
    pub hit_at_1: f64,
    pub hit_at_5: f64,
    pub mrr: f64,
    pub latency_ms: Latency,
    pub reasons: BTreeMap<String, usize>,
    pub curve: Vec<CurvePoint>,
    pub rows: Vec<CaseRow>,
}

/// Run every case through the engine.
pub async fn run_cases(
    engine: &AnswerEngine,
    workspace: &WorkspaceId,
    cases: &[Case],
    on_case: &(dyn Fn() + Send + Sync),
) -> Vec<CaseRow> {
    let mut rows = Vec::with_capacity(cases.len());
    for case in cases {
        let conversation = Conversation {
            workspace: workspace.clone(),
            history: case.history.clone(),
            message: case.question.clone(),
            customer: CustomerAttributes::default(),
        };
        let started = Instant::now();
        let decision = engine.decide(&conversation).await;
        let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        rows.push(row(case, decision, latency_ms));
        on_case();
    }
    rows
}

fn row(case: &Case, decision: Decision, latency_ms: f64) -> CaseRow {
    let cited: Vec<String> = decision
        .citations
        .iter()
        .map(|c| c.article_id.to_string())
        .collect();
    let mut retrieved: Vec<String> = Vec::new();
    for e in &decision.evidence {
        if !retrieved.contains(&e.article_id) {
            retrieved.push(e.article_id.clone());
        }
    }
    let resolved = decision.decision == DecisionKind::Answer
        && cited.iter().any(|c| case.gold_article_ids.contains(c));
    CaseRow {
        id: case.id.clone(),
        question: case.question.clone(),
        expected: case.expected,
        decision: decision.decision,
        reason: decision.reason,
        confidence: decision.confidence,
        cited,
        gold: case.gold_article_ids.clone(),
        top_article: retrieved.first().cloned(),
        retrieved,
        resolved,
        latency_ms,
        prompt_tokens: decision.usage.prompt_tokens,
        completion_tokens: decision.usage.completion_tokens,
        answer: decision.answer,
        tags: case.tags.clone(),
    }
}

/// Reasons decided before retrieval: the threshold does not move them.
fn decided_by_guardrails(reason: Reason) -> bool {
    matches!(
        reason,
        Reason::CustomerRequestedHuman
            | Reason::CustomerFrustrated
            | Reason::RepeatedQuestion
            | Reason::GuardrailInjection
            | Reason::GuardrailBlockedTopic
            | Reason::GuardrailInputTooLong
    )
}

/// Would the engine answer this case at `threshold`, and would the answer cite a gold article?
/// Extractive answers cite the best evidence's article, so it is known without re-running.
fn answered_at(row: &CaseRow, threshold: f32) -> (bool, bool) {
    if decided_by_guardrails(row.reason) || row.reason == Reason::UnsupportedAnswer {
        return (false, false);
    }
    let answers = row.confidence >= threshold && row.top_article.is_some();
    let gold = row
        .top_article
        .as_ref()
        .is_some_and(|a| row.gold.contains(a));
    (answers, answers && gold)
}

pub fn summarise(set: &str, mode: &str, threshold: f32, rows: Vec<CaseRow>) -> Report {
    let of = |e: Expected| rows.iter().filter(move |r| r.expected == e);
    let answer_cases = of(Expected::Answer).count();
    let handoff_cases = of(Expected::Handoff).count();
    let resolution = Rate::wilson(
        of(Expected::Answer).filter(|r| r.resolved).count(),
        answer_cases,
    );
    let false_resolution = Rate::wilson(
        of(Expected::Handoff)
            .filter(|r| r.decision == DecisionKind::Answer)
            .count(),
        handoff_cases,
    );
    let clarify = Rate::wilson(
        of(Expected::Clarify)
            .filter(|r| r.decision == DecisionKind::Clarify)
            .count(),
        of(Expected::Clarify).count(),
    );
    let partial = Rate::wilson(
        of(Expected::Partial)
            .filter(|r| r.decision == DecisionKind::Answer)
            .count(),
        of(Expected::Partial).count(),
    );
    let handed_off = rows.iter().filter(|r| r.decision == DecisionKind::Handoff);
    let precision = Rate::wilson(
        handed_off
            .clone()
            .filter(|r| r.expected == Expected::Handoff)
            .count(),
        handed_off.count(),
    );
    let recall = Rate::wilson(
        of(Expected::Handoff)
            .filter(|r| r.decision == DecisionKind::Handoff)
            .count(),
        handoff_cases,
    );

    let with_gold: Vec<&CaseRow> = rows.iter().filter(|r| !r.gold.is_empty()).collect();
    let rank = |r: &CaseRow| {
        r.retrieved
            .iter()
            .position(|a| r.gold.contains(a))
            .map(|p| p + 1)
    };
    let n = with_gold.len().max(1) as f64;
    let hit_at = |k: usize| {
        with_gold
            .iter()
            .filter(|r| rank(r).is_some_and(|p| p <= k))
            .count() as f64
            / n
    };
    let mrr = with_gold
        .iter()
        .map(|r| rank(r).map_or(0.0, |p| 1.0 / p as f64))
        .sum::<f64>()
        / n;

    let mut latencies: Vec<f64> = rows.iter().map(|r| r.latency_ms).collect();
    latencies.sort_by(f64::total_cmp);
    let mut reasons = BTreeMap::new();
    for r in &rows {
        *reasons.entry(r.reason.to_string()).or_insert(0) += 1;
    }
    let curve = (0..=40)
        .map(|i| {
            let t = i as f32 * 0.025;
            let resolved = of(Expected::Answer).filter(|r| answered_at(r, t).1).count();
            let false_resolved = of(Expected::Handoff)
                .filter(|r| answered_at(r, t).0)
                .count();
            CurvePoint {
                threshold: t,
                resolution: resolved as f64 / answer_cases.max(1) as f64,
                false_resolution: false_resolved as f64 / handoff_cases.max(1) as f64,
            }
        })
        .collect();
    Report {
        set: set.to_string(),
        mode: mode.to_string(),
        threshold,
        cases: rows.len(),
        resolution_rate: resolution,
        false_resolution_rate: false_resolution,
        clarify_rate: clarify,
        partial_answered_rate: partial,
        handoff_precision: precision,
        handoff_recall: recall,
        hit_at_1: hit_at(1),
        hit_at_5: hit_at(5),
        mrr,
        latency_ms: Latency {
            p50: percentile(&latencies, 0.5),
            p95: percentile(&latencies, 0.95),
            p99: percentile(&latencies, 0.99),
        },
        reasons,
        curve,
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_interval_brackets_the_rate_and_narrows_with_more_cases() {
        let small = Rate::wilson(8, 10);
        let large = Rate::wilson(800, 1000);
        assert!(small.low < 0.8 && small.high > 0.8);
        assert!(large.high - large.low < small.high - small.low);
        assert!((Rate::wilson(0, 10).low - 0.0).abs() < 1e-12);
        // Known value: 8/10 → [0.490, 0.943].
        assert!((small.low - 0.490).abs() < 0.002 && (small.high - 0.943).abs() < 0.002);
    }
}
