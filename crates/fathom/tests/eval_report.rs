//! End-to-end tests of `fathom eval` on a tiny eval set (`tests/fixtures/eval-mini`), BM25 only
//! and extractive answers, so they run anywhere in a few seconds: the JSON report agrees with its
//! own rows, the HTML report is self-contained and escaped, `--baseline` finds flipped cases, and
//! the gates fail the run when a bound is missed.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{assert_success, fathom};
use serde_json::Value;
use tempfile::TempDir;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/eval-mini")
}

/// `fathom eval <fixture>` with a private data dir, BM25 only, and extra arguments.
fn eval(data: &Path, extra: &[&str]) -> Output {
    fathom(data)
        .arg("eval")
        .arg(fixture())
        .args(extra)
        .output()
        .expect("fathom runs")
}

/// Run once and return the JSON report.
fn report(dir: &TempDir) -> Value {
    let json = dir.path().join("report.json");
    let output = eval(&dir.path().join("data"), &["--json", path_str(&json)]);
    assert_success(&output, "fathom eval");
    read_json(&json)
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("report written"))
        .expect("report is JSON")
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temp paths are UTF-8")
}

fn number(report: &Value, key: &str) -> f64 {
    report[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} is a number in {report:#}"))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

/// The share of `rows` with `expected` for which `test` holds.
fn rate(rows: &[Value], expected: &str, test: impl Fn(&Value) -> bool) -> f64 {
    let of: Vec<&Value> = rows.iter().filter(|r| r["expected"] == expected).collect();
    assert!(!of.is_empty(), "the fixture has {expected} cases");
    of.iter().filter(|r| test(r)).count() as f64 / of.len() as f64
}

#[test]
fn the_json_report_has_the_documented_keys_and_its_rates_agree_with_its_rows() {
    let dir = TempDir::new().unwrap();

    let report = report(&dir);

    let rows = report["rows"].as_array().expect("rows");
    let case_lines = std::fs::read_to_string(fixture().join("cases.jsonl"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count();
    assert_eq!(rows.len(), case_lines);
    assert_eq!(report["cases"].as_u64(), Some(case_lines as u64));

    let resolution = number(&report, "resolution_rate");
    assert!(close(
        resolution,
        rate(rows, "answer", |r| r["resolved"] == true)
    ));
    assert!(resolution > 0.5, "the easy cases resolve: {resolution}");
    assert!(resolution < 1.0, "the planted case cannot resolve");
    assert!(close(
        number(&report, "false_resolution_rate"),
        rate(rows, "handoff", |r| r["decision"] == "answer")
    ));
    assert!(close(
        number(&report, "clarify_rate"),
        rate(rows, "clarify", |r| r["decision"] == "clarify")
    ));
    for key in [
        "resolution_rate",
        "false_resolution_rate",
        "clarify_rate",
        "handoff_precision",
        "handoff_recall",
    ] {
        let ci = &report[format!("{key}_ci")];
        let (low, high) = (ci["low"].as_f64().unwrap(), ci["high"].as_f64().unwrap());
        let value = number(&report, key);
        assert!(
            low <= value && value <= high,
            "{key}: {low} ≤ {value} ≤ {high}"
        );
        assert!(close(ci["value"].as_f64().unwrap(), value));
    }

    // Retrieval metrics from the rows' gold ranks.
    let ranks: Vec<Option<u64>> = rows
        .iter()
        .filter(|r| !r["gold"].as_array().unwrap().is_empty())
        .map(|r| r["gold_rank"].as_u64())
        .collect();
    let n = ranks.len() as f64;
    let hits = |k: u64| ranks.iter().filter(|r| r.is_some_and(|p| p <= k)).count() as f64 / n;
    assert!(close(number(&report, "hit_at_1"), hits(1)));
    assert!(close(number(&report, "hit_at_5"), hits(5)));
    let mrr = ranks
        .iter()
        .map(|r| r.map_or(0.0, |p| 1.0 / p as f64))
        .sum::<f64>()
        / n;
    assert!(close(number(&report, "mrr"), mrr));

    let latency = &report["latency_ms"];
    let (p50, p95, p99) = (
        number(latency, "p50"),
        number(latency, "p95"),
        number(latency, "p99"),
    );
    let slowest = rows
        .iter()
        .map(|r| r["latency_ms"].as_f64().unwrap())
        .fold(0.0, f64::max);
    assert!(0.0 < p50 && p50 <= p95 && p95 <= p99 && p99 <= slowest);

    // Content overlap is scored on answered cases with a reference answer.
    let f1s: Vec<f64> = rows
        .iter()
        .filter_map(|r| r["answer_token_f1"].as_f64())
        .collect();
    assert!(!f1s.is_empty());
    assert!(close(
        number(&report, "answer_token_f1"),
        f1s.iter().sum::<f64>() / f1s.len() as f64
    ));
    assert!(report["by_tag"]["billing"]["resolution_rate"].is_number());
    let curve = report["curve"].as_array().unwrap();
    assert!(curve.iter().any(|p| close(
        p["threshold"].as_f64().unwrap(),
        number(&report, "threshold")
    )));
}

#[test]
fn the_html_report_is_self_contained_has_its_charts_and_escapes_a_planted_script() {
    let dir = TempDir::new().unwrap();
    let html = dir.path().join("report.html");

    let output = eval(&dir.path().join("data"), &["--html", path_str(&html)]);

    assert_success(&output, "fathom eval");
    let page = std::fs::read_to_string(&html).expect("HTML written");
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert_eq!(page.matches("<svg").count(), 3, "curve, tags, latency");
    for chart in ["operating-point", "tag-bar", "latency-bin"] {
        assert!(page.contains(&format!("class=\"{chart}\"")), "{chart}");
    }
    assert!(
        !page.contains("<script"),
        "nothing executable, nothing planted"
    );
    assert!(page.contains("&lt;script&gt;alert(&#39;owned&#39;)&lt;/script&gt;"));
    assert!(!page.contains("<b>odd tag</b>"));
    assert!(page.contains("planted-script"), "the failure is listed");
    assert!(
        !page.contains("src=") && !page.contains("<link"),
        "no network"
    );
}

#[test]
fn a_baseline_report_gives_deltas_and_the_cases_that_flipped_both_ways() {
    let dir = TempDir::new().unwrap();
    let mut baseline = report(&dir);
    // Pretend the baseline resolved the planted case and missed the first reset case.
    for row in baseline["rows"].as_array_mut().unwrap() {
        match row["id"].as_str() {
            Some("planted-script") => row["resolved"] = Value::Bool(true),
            Some("reset-1") => row["resolved"] = Value::Bool(false),
            _ => {}
        }
    }
    baseline["resolution_rate"] = serde_json::json!(0.25);
    let baseline_path = dir.path().join("old.json");
    std::fs::write(&baseline_path, baseline.to_string()).unwrap();
    let json = dir.path().join("new.json");
    let html = dir.path().join("new.html");

    let output = eval(
        &dir.path().join("data"),
        &[
            "--baseline",
            path_str(&baseline_path),
            "--json",
            path_str(&json),
            "--html",
            path_str(&html),
        ],
    );

    assert_success(&output, "fathom eval");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("flipped: 1 resolved → not resolved, 1 not resolved → resolved"),
        "{stdout}"
    );
    let comparison = &read_json(&json)["comparison"];
    assert_eq!(
        comparison["resolved_to_unresolved"],
        serde_json::json!(["planted-script"])
    );
    assert_eq!(
        comparison["unresolved_to_resolved"],
        serde_json::json!(["reset-1"])
    );
    let resolution = comparison["deltas"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["metric"] == "resolution_rate")
        .expect("resolution delta");
    assert_eq!(resolution["baseline"].as_f64(), Some(0.25));
    assert!(resolution["delta"].as_f64().unwrap() > 0.0);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("Compared with baseline") && page.contains("reset-1"));
}

#[test]
fn the_gates_fail_the_run_with_a_clear_message_only_when_a_bound_is_missed() {
    let dir = TempDir::new().unwrap();
    let measured = number(&report(&dir), "resolution_rate");
    let data = dir.path().join("data");

    let above = format!("{:.3}", (measured + 0.01).min(1.0));
    let missed = eval(&data, &["--min-resolution", &above]);
    let below = format!("{:.3}", measured - 0.01);
    let met = eval(
        &data,
        &["--min-resolution", &below, "--max-false-resolution", "1"],
    );

    assert_eq!(missed.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&missed.stderr);
    assert!(
        stderr.contains("gate failed: resolution rate") && stderr.contains("--min-resolution"),
        "{stderr}"
    );
    assert_success(&met, "fathom eval");
    // The summary names the best threshold and how to apply it.
    let summary = String::from_utf8_lossy(&met.stdout);
    let best = summary
        .lines()
        .find(|l| l.contains("best threshold with false resolution ≤ 10%"))
        .unwrap_or_else(|| panic!("no best threshold in:\n{summary}"));
    let threshold = best.split(": ").nth(1).unwrap().split(' ').next().unwrap();
    assert!(
        summary.contains(&format!("min_confidence = {threshold}")),
        "{summary}"
    );
    let bad_bound = eval(&data, &["--max-false-resolution", "7"]);
    assert!(!bad_bound.status.success());
    assert!(String::from_utf8_lossy(&bad_bound.stderr).contains("between 0 and 1"));
}

/// `fathom bench answer`: every case through the whole engine, timed per step.
#[test]
fn bench_answer_times_every_step_of_every_case() {
    let dir = TempDir::new().unwrap();
    let cases = std::fs::read_to_string(fixture().join("cases.jsonl"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count();
    let output = fathom(&dir.path().join("data"))
        .args(["bench", "answer"])
        .arg(fixture())
        .args(["--rounds", "2", "--json"])
        .output()
        .expect("fathom runs");
    assert_success(&output, "fathom bench answer");
    let result: Value = serde_json::from_slice(&output.stdout).expect("JSON on stdout");

    assert_eq!(result["cases"].as_u64(), Some(cases as u64));
    assert_eq!(result["decisions"].as_u64(), Some(2 * cases as u64));
    assert_eq!(result["mode"], "extractive");
    for step in [
        "guardrails",
        "rewrite",
        "retrieve",
        "judge",
        "generate",
        "total",
    ] {
        let p50 = number(&result, &format!("{step}_p50_ms"));
        let p95 = number(&result, &format!("{step}_p95_ms"));
        let p99 = number(&result, &format!("{step}_p99_ms"));
        assert!(0.0 <= p50 && p50 <= p95 && p95 <= p99, "{step}: {result:#}");
    }
    // The whole is at least its largest part, and retrieval did run.
    assert!(number(&result, "total_p99_ms") >= number(&result, "retrieve_p99_ms"));
    assert!(number(&result, "retrieve_p99_ms") > 0.0, "{result:#}");

    let no_rounds = fathom(&dir.path().join("data"))
        .args(["bench", "answer"])
        .arg(fixture())
        .args(["--rounds", "0"])
        .output()
        .unwrap();
    assert!(!no_rounds.status.success());
    assert!(String::from_utf8_lossy(&no_rounds.stderr).contains("--rounds must be at least 1"));
    let not_a_set = fathom(&dir.path().join("data"))
        .args(["bench", "answer"])
        .arg(dir.path().join("missing"))
        .output()
        .unwrap();
    assert!(!not_a_set.status.success());
    assert!(String::from_utf8_lossy(&not_a_set.stderr).contains("missing"));
}
