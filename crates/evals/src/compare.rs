//! Comparing a report with a baseline report (`fathom eval … --baseline old.json`): per-metric
//! deltas, and the cases that flipped between resolved and not resolved (or between handled as
//! expected and not).
//!
//! The baseline is read as loose JSON so that reports written by older versions still compare:
//! a metric missing from the baseline has no delta, and a rate written as an object
//! (`{"value": …}`, report version 1) is read through its `value`.

use serde::Serialize;
use serde_json::Value;

use crate::decisions::{handled_as_expected, Report};
use crate::set::Expected;
use fathom_core::DecisionKind;

/// Metrics compared, as paths into the JSON report; `true` when higher is better.
pub const COMPARED_METRICS: &[(&str, bool)] = &[
    ("resolution_rate", true),
    ("false_resolution_rate", false),
    ("clarify_rate", true),
    ("partial_answered_rate", true),
    ("handoff_precision", true),
    ("handoff_recall", true),
    ("hit_at_1", true),
    ("hit_at_5", true),
    ("mrr", true),
    ("answer_token_f1", true),
    ("answer_rouge_l", true),
    ("latency_ms.p50", false),
    ("latency_ms.p95", false),
    ("latency_ms.p99", false),
    ("prompt_tokens_per_conversation", false),
    ("completion_tokens_per_conversation", false),
    ("cost_per_conversation", false),
];

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MetricDelta {
    pub metric: String,
    pub baseline: Option<f64>,
    pub current: f64,
    /// `current − baseline`.
    pub delta: Option<f64>,
    pub higher_is_better: bool,
    /// For rates: whether the baseline's value lies inside today's 95% interval, i.e. the change
    /// is within what chance alone explains.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub within_interval: Option<bool>,
}

/// A case's outcome in one report.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Outcome {
    pub decision: String,
    pub resolved: bool,
    pub correct: bool,
}

impl std::fmt::Display for Outcome {
    /// `answer, resolved`, `handoff, as expected` or `answer, wrong`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let verdict = if self.resolved {
            "resolved"
        } else if self.correct {
            "as expected"
        } else {
            "wrong"
        };
        write!(f, "{}, {verdict}", self.decision)
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Flip {
    pub id: String,
    pub question: String,
    pub expected: Expected,
    pub baseline: Outcome,
    pub current: Outcome,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Comparison {
    /// Where the baseline came from (a file path), for the reader.
    pub baseline: String,
    pub baseline_set: Option<String>,
    pub deltas: Vec<MetricDelta>,
    /// Case ids resolved in the baseline and not now.
    pub resolved_to_unresolved: Vec<String>,
    /// Case ids not resolved in the baseline and resolved now.
    pub unresolved_to_resolved: Vec<String>,
    /// Every case whose resolution or expected-handling changed, with both outcomes.
    pub flips: Vec<Flip>,
    /// Cases in this run that the baseline does not have.
    pub new_cases: usize,
    /// Paired tests of the headline rates over the cases both runs have.
    pub paired: Vec<PairedChange>,
}

/// A rate compared case by case: the cases that changed, and whether that is more than chance.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PairedChange {
    pub metric: String,
    /// Cases counted by the rate in the baseline and not now (for `resolution_rate`: resolved
    /// before, not now; for `false_resolution_rate`: answered before, not now).
    pub lost: usize,
    /// Cases counted by the rate now and not in the baseline.
    pub gained: usize,
    /// Exact two-sided McNemar p-value: how likely a split at least this uneven would be if the
    /// change made no difference. Below 0.05 is usually taken as a real change.
    pub p_value: f64,
}

/// Exact two-sided McNemar test on `lost` and `gained` discordant pairs: twice the binomial(n, ½)
/// tail at the smaller count, capped at 1. Computed in log space so large sets do not underflow.
pub fn mcnemar_exact(lost: usize, gained: usize) -> f64 {
    let n = lost + gained;
    if n == 0 {
        return 1.0;
    }
    let smaller = lost.min(gained);
    let log_half_to_n = n as f64 * 0.5f64.ln();
    let mut log_choose = 0.0;
    let mut tail = 0.0;
    for i in 0..=smaller {
        if i > 0 {
            log_choose += ((n - i + 1) as f64).ln() - (i as f64).ln();
        }
        tail += (log_choose + log_half_to_n).exp();
    }
    (2.0 * tail).min(1.0)
}

/// A number at a dotted path; a `{"value": …}` object counts as its value.
fn number_at(report: &Value, path: &str) -> Option<f64> {
    let mut node = report;
    for key in path.split('.') {
        node = node.get(key)?;
    }
    match node {
        Value::Object(fields) => fields.get("value")?.as_f64(),
        other => other.as_f64(),
    }
}

fn outcome_of(row: &Value) -> Option<Outcome> {
    let decision = row.get("decision")?.as_str()?.to_string();
    let resolved = row.get("resolved")?.as_bool()?;
    let correct = match row.get("correct").and_then(Value::as_bool) {
        Some(correct) => correct,
        None => {
            let expected: Expected = serde_json::from_value(row.get("expected")?.clone()).ok()?;
            let kind: DecisionKind =
                serde_json::from_value(Value::String(decision.clone())).ok()?;
            handled_as_expected(expected, kind, resolved)
        }
    };
    Some(Outcome {
        decision,
        resolved,
        correct,
    })
}

/// Compare `current` with a baseline report read from JSON.
pub fn compare(baseline: &Value, baseline_label: &str, current: &Report) -> Comparison {
    let current_json = serde_json::to_value(current).unwrap_or(Value::Null);
    let deltas = COMPARED_METRICS
        .iter()
        .map(|&(metric, higher_is_better)| {
            let now = number_at(&current_json, metric).unwrap_or(0.0);
            let before = number_at(baseline, metric);
            let interval = current_json.get(format!("{metric}_ci"));
            let within_interval = match (before, interval) {
                (Some(before), Some(ci)) => {
                    let low = ci.get("low").and_then(Value::as_f64).unwrap_or(0.0);
                    let high = ci.get("high").and_then(Value::as_f64).unwrap_or(1.0);
                    Some((low..=high).contains(&before))
                }
                _ => None,
            };
            MetricDelta {
                metric: metric.to_string(),
                baseline: before,
                current: now,
                delta: before.map(|b| now - b),
                higher_is_better,
                within_interval,
            }
        })
        .collect();

    let baseline_rows: std::collections::HashMap<&str, Outcome> = baseline
        .get("rows")
        .and_then(Value::as_array)
        .map(|rows| {
            rows.iter()
                .filter_map(|row| Some((row.get("id")?.as_str()?, outcome_of(row)?)))
                .collect()
        })
        .unwrap_or_default();
    let mut comparison = Comparison {
        baseline: baseline_label.to_string(),
        baseline_set: baseline
            .get("set")
            .and_then(Value::as_str)
            .map(str::to_string),
        deltas,
        resolved_to_unresolved: Vec::new(),
        unresolved_to_resolved: Vec::new(),
        flips: Vec::new(),
        new_cases: 0,
        paired: Vec::new(),
    };
    let mut resolution = (0, 0);
    let mut false_resolution = (0, 0);
    for row in &current.rows {
        let Some(before) = baseline_rows.get(row.id.as_str()) else {
            comparison.new_cases += 1;
            continue;
        };
        let now = Outcome {
            decision: serde_json::to_value(row.decision)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            resolved: row.resolved,
            correct: row.correct,
        };
        if before.resolved && !now.resolved {
            comparison.resolved_to_unresolved.push(row.id.clone());
        }
        if !before.resolved && now.resolved {
            comparison.unresolved_to_resolved.push(row.id.clone());
        }
        let tally = |counts: &mut (usize, usize), was: bool, is: bool| match (was, is) {
            (true, false) => counts.0 += 1,
            (false, true) => counts.1 += 1,
            _ => {}
        };
        match row.expected {
            Expected::Answer => tally(&mut resolution, before.resolved, now.resolved),
            Expected::Handoff => tally(
                &mut false_resolution,
                before.decision == "answer",
                now.decision == "answer",
            ),
            Expected::Partial | Expected::Clarify => {}
        }
        if before.resolved != now.resolved || before.correct != now.correct {
            comparison.flips.push(Flip {
                id: row.id.clone(),
                question: row.question.clone(),
                expected: row.expected,
                baseline: before.clone(),
                current: now,
            });
        }
    }
    for (metric, (lost, gained)) in [
        ("resolution_rate", resolution),
        ("false_resolution_rate", false_resolution),
    ] {
        comparison.paired.push(PairedChange {
            metric: metric.to_string(),
            lost,
            gained,
            p_value: mcnemar_exact(lost, gained),
        });
    }
    comparison
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decisions::tests::row_of;
    use crate::decisions::{summarise, Pricing};
    use fathom_core::DecisionKind::{Answer, Handoff};

    fn report(rows: Vec<crate::decisions::CaseRow>) -> Report {
        summarise("set", "extractive", 0.45, Pricing::default(), rows)
    }

    #[test]
    fn comparison_lists_cases_that_flipped_both_ways_and_the_deltas() {
        let before = report(vec![
            row_of("a1", Expected::Answer, Answer),
            row_of("a2", Expected::Answer, Handoff),
            row_of("a3", Expected::Answer, Answer),
            row_of("h1", Expected::Handoff, Handoff),
        ]);
        let after = report(vec![
            row_of("a1", Expected::Answer, Handoff),
            row_of("a2", Expected::Answer, Answer),
            row_of("a3", Expected::Answer, Answer),
            row_of("h1", Expected::Handoff, Answer),
            row_of("new", Expected::Answer, Answer),
        ]);
        let baseline = serde_json::to_value(&before).unwrap();

        let comparison = compare(&baseline, "old.json", &after);

        assert_eq!(comparison.resolved_to_unresolved, ["a1"]);
        assert_eq!(comparison.unresolved_to_resolved, ["a2"]);
        let flipped: Vec<&str> = comparison.flips.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(flipped, ["a1", "a2", "h1"], "h1 is now a false resolution");
        assert!(comparison.flips[2].baseline.correct && !comparison.flips[2].current.correct);
        assert_eq!(
            comparison.flips[2].baseline.to_string(),
            "handoff, as expected"
        );
        assert_eq!(comparison.flips[2].current.to_string(), "answer, wrong");
        assert_eq!(comparison.flips[1].current.to_string(), "answer, resolved");
        assert_eq!(comparison.new_cases, 1);
        let paired = &comparison.paired;
        assert_eq!((paired[0].lost, paired[0].gained), (1, 1));
        assert_eq!(paired[0].p_value, 1.0);
        assert_eq!(paired[1].metric, "false_resolution_rate");
        assert_eq!((paired[1].lost, paired[1].gained), (0, 1));
        let delta = |name: &str| {
            comparison
                .deltas
                .iter()
                .find(|d| d.metric == name)
                .cloned()
                .unwrap()
        };
        // 2/3 → 3/4 resolved; 0/1 → 1/1 false resolutions.
        let resolution = delta("resolution_rate");
        assert!((resolution.delta.unwrap() - (0.75 - 2.0 / 3.0)).abs() < 1e-12);
        assert_eq!(resolution.within_interval, Some(true));
        assert_eq!(delta("false_resolution_rate").delta, Some(1.0));
        assert_eq!(delta("latency_ms.p95").delta, Some(0.0));
    }

    #[test]
    fn mcnemar_exact_matches_hand_computed_binomial_tails() {
        assert_eq!(mcnemar_exact(0, 0), 1.0);
        assert!((mcnemar_exact(0, 5) - 2.0 / 32.0).abs() < 1e-12);
        // n = 10, smaller side 1: 2 · (1 + 10) / 1024.
        assert!((mcnemar_exact(1, 9) - 22.0 / 1024.0).abs() < 1e-12);
        assert_eq!(mcnemar_exact(9, 1), mcnemar_exact(1, 9));
        assert_eq!(mcnemar_exact(5, 5), 1.0);
        // Two flipped cases are never significant; a large lopsided split is, without underflow.
        assert!(mcnemar_exact(0, 2) > 0.05);
        let large = mcnemar_exact(400, 600);
        assert!(large > 0.0 && large < 1e-8);
    }

    #[test]
    fn an_old_report_with_rate_objects_and_no_correct_field_still_compares() {
        let baseline = serde_json::json!({
            "set": "old",
            "resolution_rate": {"value": 0.25, "low": 0.1, "high": 0.5},
            "rows": [
                {"id": "h1", "expected": "handoff", "decision": "handoff", "resolved": false},
            ],
        });
        let after = report(vec![row_of("h1", Expected::Handoff, Answer)]);

        let comparison = compare(&baseline, "old.json", &after);

        let resolution = &comparison.deltas[0];
        assert_eq!(resolution.baseline, Some(0.25));
        assert_eq!(comparison.flips.len(), 1);
        assert!(comparison.flips[0].baseline.correct);
        let missing = comparison
            .deltas
            .iter()
            .find(|d| d.metric == "mrr")
            .unwrap();
        assert_eq!(missing.delta, None);
    }
}
