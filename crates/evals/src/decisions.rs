//! End-to-end evaluation of the answer engine: every case, with its history, through the real
//! engine; then resolution, false resolution, clarification and handoff metrics with 95%
//! confidence intervals, per set and per tag, retrieval and answer-content quality, latency,
//! tokens and cost, and the operating curve as the confidence threshold moves.
//!
//! The JSON form of [`Report`] is a contract (documented in `evals/README.md`): top-level rates
//! are plain numbers, each with a sibling `<name>_ci` object holding its Wilson interval.

use std::collections::BTreeMap;
use std::time::Instant;

use fathom_answer::AnswerEngine;
use fathom_core::{Decision, DecisionKind, Reason, WorkspaceId};
use serde::{Deserialize, Serialize};

use crate::compare::Comparison;
use crate::overlap::{rouge_l, token_f1};
use crate::retrieval::percentile;
use crate::set::{Case, Expected};

/// Version of the JSON report's shape; bumped when a key changes meaning.
pub const REPORT_VERSION: u32 = 2;

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
    /// 1-based rank of the first gold article in `retrieved`.
    pub gold_rank: Option<usize>,
    /// Decision `answer` with a gold article cited.
    pub resolved: bool,
    /// Handled as expected: `answer`/`partial` resolved, `clarify` clarified, `handoff` handed off.
    pub correct: bool,
    pub latency_ms: f64,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    /// Estimated cost of this conversation turn at the report's prices.
    pub cost: f64,
    pub answer: String,
    pub reference_answer: Option<String>,
    /// Token F1 of `answer` against `reference_answer`, when the engine answered and there is one.
    pub answer_token_f1: Option<f64>,
    /// ROUGE-L F1 of `answer` against `reference_answer`, same condition.
    pub answer_rouge_l: Option<f64>,
    pub tags: Vec<String>,
    /// The question follows earlier turns of the conversation (its history is not empty). A
    /// first message and a follow-up are judged by different models (`first_turn`, `dense`).
    pub follow_up: bool,
}

impl CaseRow {
    /// The row's group in [`Report::by_turn`].
    pub fn turn(&self) -> &'static str {
        if self.follow_up {
            FOLLOW_UP
        } else {
            FIRST_MESSAGE
        }
    }
}

/// [`Report::by_turn`]'s keys.
pub const FIRST_MESSAGE: &str = "first message";
pub const FOLLOW_UP: &str = "follow-up";

/// A rate with its 95% Wilson interval.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct Rate {
    pub value: f64,
    pub low: f64,
    pub high: f64,
    pub successes: usize,
    pub total: usize,
}

impl Rate {
    /// Rate of `successes` over `total` with its 95% Wilson score interval; all 0 when `total` is 0.
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
        if self.total == 0 {
            return write!(f, "    —  (no cases)");
        }
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
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct CurvePoint {
    pub threshold: f32,
    pub resolution: f64,
    pub false_resolution: f64,
}

#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Latency {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
}

/// Prices per 1,000 tokens, for the cost estimate (0 in extractive mode, where no model is called).
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Pricing {
    pub per_1k_prompt_tokens: f64,
    pub per_1k_completion_tokens: f64,
}

impl Pricing {
    pub fn cost(&self, prompt_tokens: u32, completion_tokens: u32) -> f64 {
        (f64::from(prompt_tokens) * self.per_1k_prompt_tokens
            + f64::from(completion_tokens) * self.per_1k_completion_tokens)
            / 1000.0
    }
}

/// Every metric over a group of cases: the whole set, or the cases carrying one tag.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub cases: usize,
    /// Decision `answer` citing a gold article, over `answer` cases.
    pub resolution_rate: f64,
    pub resolution_rate_ci: Rate,
    /// Decision `answer` on `handoff` cases.
    pub false_resolution_rate: f64,
    pub false_resolution_rate_ci: Rate,
    /// Decision `clarify` on `clarify` cases.
    pub clarify_rate: f64,
    pub clarify_rate_ci: Rate,
    /// Decision `answer` on `partial` cases.
    pub partial_answered_rate: f64,
    pub partial_answered_rate_ci: Rate,
    /// Decision `answer` citing a gold article, over `partial` cases.
    pub partial_resolved_rate: f64,
    pub partial_resolved_rate_ci: Rate,
    /// How `partial` cases were handled: decision → count.
    pub partial_handling: BTreeMap<DecisionKind, usize>,
    /// `handoff` cases among the cases handed off.
    pub handoff_precision: f64,
    pub handoff_precision_ci: Rate,
    /// Cases handed off among the `handoff` cases.
    pub handoff_recall: f64,
    pub handoff_recall_ci: Rate,
    /// Cases with gold articles, over which hit@k and MRR are taken.
    pub retrieval_cases: usize,
    pub hit_at_1: f64,
    pub hit_at_5: f64,
    pub mrr: f64,
    /// Answered cases with a reference answer, over which the overlap means are taken.
    pub answer_overlap_cases: usize,
    pub answer_token_f1: f64,
    pub answer_rouge_l: f64,
    pub latency_ms: Latency,
    pub prompt_tokens_per_conversation: f64,
    pub completion_tokens_per_conversation: f64,
    pub cost_per_conversation: f64,
    pub cost_total: f64,
    /// Decision reason → count.
    pub reasons: BTreeMap<Reason, usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub report_version: u32,
    pub set: String,
    pub mode: String,
    /// The configured confidence threshold (the operating point).
    pub threshold: f32,
    #[serde(flatten)]
    pub summary: Summary,
    /// The measured resolution and false resolution at the configured threshold.
    pub operating_point: CurvePoint,
    /// Resolution and false resolution replayed from the recorded confidences at each threshold.
    pub curve: Vec<CurvePoint>,
    pub pricing: Pricing,
    /// The same metrics over the cases carrying each tag.
    pub by_tag: BTreeMap<String, Summary>,
    /// The same metrics over first messages and over follow-ups ([`FIRST_MESSAGE`],
    /// [`FOLLOW_UP`]; a key is absent when the set has no such case).
    pub by_turn: BTreeMap<String, Summary>,
    /// Deltas and flipped cases against `--baseline`, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comparison: Option<Comparison>,
    pub rows: Vec<CaseRow>,
}

impl Report {
    /// [`Self::by_turn`] when the set has both first messages and follow-ups (the two are judged
    /// by different models, so they are worth showing apart); `None` otherwise.
    pub fn turns_apart(&self) -> Option<&BTreeMap<String, Summary>> {
        (self.by_turn.len() > 1).then_some(&self.by_turn)
    }
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
        let started = Instant::now();
        let decision = engine.decide(&case.conversation(workspace)).await;
        let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        rows.push(row(case, decision, latency_ms));
        on_case();
    }
    rows
}

/// One case's row from the engine's decision (cost is filled in by [`summarise`]).
pub fn row(case: &Case, decision: Decision, latency_ms: f64) -> CaseRow {
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
    let gold_rank = retrieved
        .iter()
        .position(|a| case.gold_article_ids.contains(a))
        .map(|p| p + 1);
    let resolved = decision.decision == DecisionKind::Answer
        && cited.iter().any(|c| case.gold_article_ids.contains(c));
    let reference = case
        .reference_answer
        .as_deref()
        .filter(|r| !r.trim().is_empty());
    let overlap = reference.filter(|_| decision.decision == DecisionKind::Answer);
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
        gold_rank,
        resolved,
        correct: handled_as_expected(case.expected, decision.decision, resolved),
        latency_ms,
        prompt_tokens: decision.usage.prompt_tokens,
        completion_tokens: decision.usage.completion_tokens,
        cost: 0.0,
        answer_token_f1: overlap.map(|r| token_f1(&decision.answer, r)),
        answer_rouge_l: overlap.map(|r| rouge_l(&decision.answer, r)),
        answer: decision.answer,
        reference_answer: reference.map(str::to_string),
        tags: case.tags.clone(),
        follow_up: !case.history.is_empty(),
    }
}

/// Did the engine do what a good support agent would?
pub fn handled_as_expected(expected: Expected, decision: DecisionKind, resolved: bool) -> bool {
    match expected {
        Expected::Answer | Expected::Partial => resolved,
        Expected::Clarify => decision == DecisionKind::Clarify,
        Expected::Handoff => decision == DecisionKind::Handoff,
    }
}

/// The summary of each group of `rows`, a row belonging to every group `groups` names.
fn summaries_by<'r>(
    rows: &'r [CaseRow],
    groups: impl Fn(&'r CaseRow) -> Vec<&'r str>,
) -> BTreeMap<String, Summary> {
    let mut grouped: BTreeMap<&str, Vec<&CaseRow>> = BTreeMap::new();
    for r in rows {
        for group in groups(r) {
            grouped.entry(group).or_default().push(r);
        }
    }
    grouped
        .into_iter()
        .map(|(group, rows)| (group.to_string(), summary(&rows)))
        .collect()
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
/// A case the run answered keeps its real citations; for one it did not, extractive answers cite
/// the best evidence's article, so that is known without re-running.
fn answered_at(row: &CaseRow, threshold: f32) -> (bool, bool) {
    if decided_by_guardrails(row.reason)
        || matches!(
            row.reason,
            Reason::UnsupportedAnswer | Reason::RetrievalUnavailable
        )
    {
        return (false, false);
    }
    let answers = row.confidence >= threshold && row.top_article.is_some();
    let gold = if row.decision == DecisionKind::Answer {
        row.resolved
    } else {
        row.top_article
            .as_ref()
            .is_some_and(|a| row.gold.contains(a))
    };
    (answers, answers && gold)
}

/// Resolution against false resolution at thresholds 0, 0.025, …, 1 and at `configured`.
pub fn operating_curve(rows: &[CaseRow], configured: f32) -> Vec<CurvePoint> {
    let answer_cases: Vec<&CaseRow> = rows
        .iter()
        .filter(|r| r.expected == Expected::Answer)
        .collect();
    let handoff_cases: Vec<&CaseRow> = rows
        .iter()
        .filter(|r| r.expected == Expected::Handoff)
        .collect();
    let mut thresholds: Vec<f32> = (0..=40).map(|i| i as f32 / 40.0).collect();
    thresholds.push(configured);
    thresholds.sort_by(f32::total_cmp);
    thresholds.dedup_by(|a, b| (*a - *b).abs() < 1e-6);
    thresholds
        .into_iter()
        .map(|t| {
            let resolved = answer_cases.iter().filter(|r| answered_at(r, t).1).count();
            let false_resolved = handoff_cases.iter().filter(|r| answered_at(r, t).0).count();
            CurvePoint {
                threshold: t,
                resolution: resolved as f64 / answer_cases.len().max(1) as f64,
                false_resolution: false_resolved as f64 / handoff_cases.len().max(1) as f64,
            }
        })
        .collect()
}

/// Every metric over `rows`.
pub fn summary(rows: &[&CaseRow]) -> Summary {
    let of = |e: Expected| rows.iter().copied().filter(move |r| r.expected == e);
    let count_where = |e: Expected, test: &dyn Fn(&CaseRow) -> bool| {
        Rate::wilson(of(e).filter(|r| test(r)).count(), of(e).count())
    };
    let answered = |r: &CaseRow| r.decision == DecisionKind::Answer;
    let resolution = count_where(Expected::Answer, &|r| r.resolved);
    let false_resolution = count_where(Expected::Handoff, &answered);
    let clarify = count_where(Expected::Clarify, &|r| r.decision == DecisionKind::Clarify);
    let partial_answered = count_where(Expected::Partial, &answered);
    let partial_resolved = count_where(Expected::Partial, &|r| r.resolved);
    let mut partial_handling = BTreeMap::new();
    for r in of(Expected::Partial) {
        *partial_handling.entry(r.decision).or_insert(0) += 1;
    }
    let handed_off = || {
        rows.iter()
            .copied()
            .filter(|r| r.decision == DecisionKind::Handoff)
    };
    let precision = Rate::wilson(
        handed_off()
            .filter(|r| r.expected == Expected::Handoff)
            .count(),
        handed_off().count(),
    );
    let recall = count_where(Expected::Handoff, &|r| r.decision == DecisionKind::Handoff);

    let with_gold: Vec<&CaseRow> = rows
        .iter()
        .copied()
        .filter(|r| !r.gold.is_empty())
        .collect();
    let mean_over_gold = |score: &dyn Fn(&CaseRow) -> f64| mean(with_gold.iter().map(|r| score(r)));
    let hit_at = |k: usize| {
        mean_over_gold(&|r| {
            if r.gold_rank.is_some_and(|p| p <= k) {
                1.0
            } else {
                0.0
            }
        })
    };

    let overlaps: Vec<(f64, f64)> = rows
        .iter()
        .filter_map(|r| Some((r.answer_token_f1?, r.answer_rouge_l?)))
        .collect();

    let mut latencies: Vec<f64> = rows.iter().map(|r| r.latency_ms).collect();
    latencies.sort_by(f64::total_cmp);
    let mut reasons = BTreeMap::new();
    for r in rows {
        *reasons.entry(r.reason).or_insert(0) += 1;
    }
    let cost_total: f64 = rows.iter().map(|r| r.cost).sum();
    Summary {
        cases: rows.len(),
        resolution_rate: resolution.value,
        resolution_rate_ci: resolution,
        false_resolution_rate: false_resolution.value,
        false_resolution_rate_ci: false_resolution,
        clarify_rate: clarify.value,
        clarify_rate_ci: clarify,
        partial_answered_rate: partial_answered.value,
        partial_answered_rate_ci: partial_answered,
        partial_resolved_rate: partial_resolved.value,
        partial_resolved_rate_ci: partial_resolved,
        partial_handling,
        handoff_precision: precision.value,
        handoff_precision_ci: precision,
        handoff_recall: recall.value,
        handoff_recall_ci: recall,
        retrieval_cases: with_gold.len(),
        hit_at_1: hit_at(1),
        hit_at_5: hit_at(5),
        mrr: mean_over_gold(&|r| r.gold_rank.map_or(0.0, |p| 1.0 / p as f64)),
        answer_overlap_cases: overlaps.len(),
        answer_token_f1: mean(overlaps.iter().map(|o| o.0)),
        answer_rouge_l: mean(overlaps.iter().map(|o| o.1)),
        latency_ms: Latency {
            p50: percentile(&latencies, 0.50),
            p95: percentile(&latencies, 0.95),
            p99: percentile(&latencies, 0.99),
        },
        prompt_tokens_per_conversation: mean(rows.iter().map(|r| f64::from(r.prompt_tokens))),
        completion_tokens_per_conversation: mean(
            rows.iter().map(|r| f64::from(r.completion_tokens)),
        ),
        cost_per_conversation: cost_total / rows.len().max(1) as f64,
        cost_total,
        reasons,
    }
}

/// Mean of the values; 0 for none.
fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, count) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if count == 0 {
        0.0
    } else {
        sum / count as f64
    }
}

/// The full report: the set's summary, one per tag, the operating curve and the rows.
pub fn summarise(
    set: &str,
    mode: &str,
    threshold: f32,
    pricing: Pricing,
    mut rows: Vec<CaseRow>,
) -> Report {
    for r in &mut rows {
        r.cost = pricing.cost(r.prompt_tokens, r.completion_tokens);
    }
    let all: Vec<&CaseRow> = rows.iter().collect();
    let summary = summary(&all);
    let by_tag = summaries_by(&rows, |r| r.tags.iter().map(String::as_str).collect());
    let by_turn = summaries_by(&rows, |r| vec![r.turn()]);
    let operating_point = CurvePoint {
        threshold,
        resolution: summary.resolution_rate,
        false_resolution: summary.false_resolution_rate,
    };
    Report {
        report_version: REPORT_VERSION,
        set: set.to_string(),
        mode: mode.to_string(),
        threshold,
        curve: operating_curve(&rows, threshold),
        operating_point,
        summary,
        pricing,
        by_tag,
        by_turn,
        comparison: None,
        rows,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A row as the engine would leave it; tests adjust the fields they care about.
    pub(crate) fn row_of(id: &str, expected: Expected, decision: DecisionKind) -> CaseRow {
        let gold = match expected {
            Expected::Answer | Expected::Partial => vec!["gold".to_string()],
            _ => vec![],
        };
        let cited = if decision == DecisionKind::Answer {
            vec!["gold".to_string()]
        } else {
            vec![]
        };
        let resolved = decision == DecisionKind::Answer && !gold.is_empty();
        CaseRow {
            id: id.into(),
            question: format!("question {id}"),
            expected,
            decision,
            reason: match decision {
                DecisionKind::Answer => Reason::Answered,
                DecisionKind::Clarify => Reason::NeedsClarification,
                DecisionKind::Handoff => Reason::LowConfidence,
            },
            confidence: if decision == DecisionKind::Answer {
                0.8
            } else {
                0.2
            },
            top_article: Some(if gold.is_empty() { "other" } else { "gold" }.into()),
            retrieved: vec!["gold".into()],
            gold_rank: (!gold.is_empty()).then_some(1),
            cited,
            gold,
            resolved,
            correct: handled_as_expected(expected, decision, resolved),
            latency_ms: 10.0,
            prompt_tokens: 0,
            completion_tokens: 0,
            cost: 0.0,
            answer: String::new(),
            reference_answer: None,
            answer_token_f1: None,
            answer_rouge_l: None,
            tags: vec![],
            follow_up: false,
        }
    }

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

    #[test]
    fn wilson_interval_stays_inside_zero_and_one_at_the_extremes() {
        let none = Rate::wilson(0, 20);
        let all = Rate::wilson(20, 20);
        assert_eq!(none.low, 0.0);
        assert!(none.high > 0.0 && none.high < 0.2);
        assert_eq!(all.high, 1.0);
        assert!(all.low > 0.8 && all.low < 1.0);
        assert_eq!(Rate::wilson(0, 0).value, 0.0);
    }

    #[test]
    fn summary_counts_each_rate_over_its_own_cases() {
        use DecisionKind::{Answer, Clarify, Handoff};
        let mut wrong_article = row_of("a3", Expected::Answer, Answer);
        wrong_article.cited = vec!["other".into()];
        wrong_article.resolved = false;
        wrong_article.correct = false;
        let rows = [
            row_of("a1", Expected::Answer, Answer),
            row_of("a2", Expected::Answer, Handoff),
            wrong_article,
            row_of("a4", Expected::Answer, Answer),
            row_of("h1", Expected::Handoff, Answer),
            row_of("h2", Expected::Handoff, Handoff),
            row_of("c1", Expected::Clarify, Clarify),
            row_of("c2", Expected::Clarify, Handoff),
            row_of("p1", Expected::Partial, Answer),
        ];
        let refs: Vec<&CaseRow> = rows.iter().collect();
        let s = summary(&refs);
        assert_eq!(s.cases, 9);
        assert_eq!(
            (s.resolution_rate_ci.successes, s.resolution_rate_ci.total),
            (2, 4)
        );
        assert_eq!(s.resolution_rate, 0.5);
        assert_eq!(s.false_resolution_rate, 0.5);
        assert_eq!(s.clarify_rate, 0.5);
        assert_eq!(s.partial_answered_rate, 1.0);
        assert_eq!(s.partial_handling.get(&Answer), Some(&1));
        // Handed off: a2, h2, c2 → one of three was a handoff case; one of two handoff cases.
        assert_eq!(
            (
                s.handoff_precision_ci.successes,
                s.handoff_precision_ci.total
            ),
            (1, 3)
        );
        assert_eq!(s.handoff_recall, 0.5);
        assert_eq!(s.retrieval_cases, 5);
        assert_eq!(s.hit_at_1, 1.0);
        assert_eq!(s.reasons.get(&Reason::Answered), Some(&5));
    }

    #[test]
    fn summarise_breaks_metrics_down_per_tag_and_prices_tokens() {
        let mut first = row_of("a1", Expected::Answer, DecisionKind::Answer);
        first.tags = vec!["billing".into(), "follow-up".into()];
        first.prompt_tokens = 1000;
        first.completion_tokens = 500;
        let mut second = row_of("a2", Expected::Answer, DecisionKind::Handoff);
        second.tags = vec!["billing".into()];
        let pricing = Pricing {
            per_1k_prompt_tokens: 0.002,
            per_1k_completion_tokens: 0.01,
        };
        let report = summarise("set", "extractive", 0.45, pricing, vec![first, second]);
        assert_eq!(report.by_tag["billing"].cases, 2);
        assert_eq!(report.by_tag["billing"].resolution_rate, 0.5);
        assert_eq!(report.by_tag["follow-up"].resolution_rate, 1.0);
        assert_eq!(report.by_turn[FIRST_MESSAGE].cases, 2);
        assert!(!report.by_turn.contains_key(FOLLOW_UP));
        assert!((report.rows[0].cost - 0.007).abs() < 1e-12);
        assert!((report.summary.cost_per_conversation - 0.0035).abs() < 1e-12);
        assert_eq!(report.summary.prompt_tokens_per_conversation, 500.0);
        assert_eq!(report.operating_point.resolution, 0.5);
    }

    #[test]
    fn operating_curve_trades_resolution_for_false_resolution_and_includes_the_threshold() {
        let mut rows = Vec::new();
        for (i, confidence) in [0.9, 0.7, 0.5, 0.3].iter().enumerate() {
            let mut r = row_of(&format!("a{i}"), Expected::Answer, DecisionKind::Answer);
            r.confidence = *confidence;
            rows.push(r);
        }
        let mut handoff = row_of("h", Expected::Handoff, DecisionKind::Handoff);
        handoff.confidence = 0.6;
        rows.push(handoff);
        let mut guarded = row_of("g", Expected::Handoff, DecisionKind::Handoff);
        guarded.reason = Reason::CustomerRequestedHuman;
        guarded.confidence = 0.99;
        rows.push(guarded);

        let curve = operating_curve(&rows, 0.42);
        let at = |t: f32| {
            *curve
                .iter()
                .find(|p| (p.threshold - t).abs() < 1e-6)
                .expect("threshold on the curve")
        };
        assert_eq!(at(0.0).resolution, 1.0);
        // Guardrail handoffs never move: only one of two handoff cases can be answered.
        assert_eq!(at(0.0).false_resolution, 0.5);
        assert_eq!(at(0.42).resolution, 0.75);
        assert_eq!(at(0.65).false_resolution, 0.0);
        assert_eq!(at(0.65).resolution, 0.5);
        assert_eq!(at(1.0).resolution, 0.0);
        for pair in curve.windows(2) {
            assert!(pair[0].threshold < pair[1].threshold);
            assert!(pair[0].resolution >= pair[1].resolution);
            assert!(pair[0].false_resolution >= pair[1].false_resolution);
        }
    }

    /// A report of two cases: a first message answered as it should be, and a follow-up
    /// answered that should have been handed off.
    pub(crate) fn first_message_and_follow_up() -> Report {
        let mut follow_up = row_of("f", Expected::Handoff, DecisionKind::Answer);
        follow_up.follow_up = true;
        let first = row_of("a", Expected::Answer, DecisionKind::Answer);
        summarise(
            "set",
            "extractive",
            0.5,
            Pricing::default(),
            vec![first, follow_up],
        )
    }

    /// The engine's decision with no answer text, citation or evidence.
    fn bare_decision(kind: DecisionKind, reason: Reason, confidence: f32) -> Decision {
        Decision {
            decision: kind,
            reason,
            answer: String::new(),
            citations: vec![],
            confidence,
            summary: None,
            awaiting: None,
            query: String::new(),
            evidence: vec![],
            usage: Default::default(),
            timings_ms: BTreeMap::new(),
        }
    }

    #[test]
    fn first_messages_and_follow_ups_are_summarised_apart() {
        let report = first_message_and_follow_up();
        assert_eq!(report.by_turn[FIRST_MESSAGE].resolution_rate, 1.0);
        assert_eq!(report.by_turn[FIRST_MESSAGE].false_resolution_rate, 0.0);
        assert_eq!(report.by_turn[FOLLOW_UP].cases, 1);
        assert_eq!(report.by_turn[FOLLOW_UP].false_resolution_rate, 1.0);
        let case = |history: Vec<fathom_core::Turn>| Case {
            id: "c".into(),
            history,
            question: "and the price?".into(),
            expected: Expected::Answer,
            gold_article_ids: vec![],
            reference_answer: None,
            tags: vec![],
        };
        let decision = bare_decision(DecisionKind::Handoff, Reason::LowConfidence, 0.1);
        assert!(!row(&case(vec![]), decision.clone(), 1.0).follow_up);
        let earlier = fathom_core::Turn {
            role: fathom_core::Role::Customer,
            text: "what plans are there?".into(),
            awaiting: None,
        };
        assert!(row(&case(vec![earlier]), decision, 1.0).follow_up);
    }

    #[test]
    fn content_overlap_is_scored_only_when_the_engine_answered() {
        let case = Case {
            id: "c".into(),
            history: vec![],
            question: "how do I reset my password".into(),
            expected: Expected::Answer,
            gold_article_ids: vec!["reset".into()],
            reference_answer: Some("Open settings and choose reset password.".into()),
            tags: vec![],
        };
        let decision = |kind: DecisionKind| Decision {
            answer: "Open settings, then choose reset password.".into(),
            ..bare_decision(kind, Reason::Answered, 0.9)
        };
        let answered = row(&case, decision(DecisionKind::Answer), 1.0);
        assert!(answered.answer_token_f1.is_some_and(|f| f > 0.8));
        assert!(answered.answer_rouge_l.is_some_and(|f| f > 0.8));
        assert!(!answered.resolved, "no citation, so not resolved");
        let handed_off = row(&case, decision(DecisionKind::Handoff), 1.0);
        assert_eq!(handed_off.answer_token_f1, None);
    }
}
