//! Quality gates on the shared eval sets (../shared/evals, real help content and questions):
//! retrieval hit@5/MRR per mode, and the answer engine's resolution and false resolution in
//! extractive mode. Floors sit just below the values measured when they were set (see
//! evals/README.md), so a regression fails the build.
//!
//! The eval index is kept in `target/fathom-eval-data` so local re-runs only embed what changed.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn shared_set(name: &str) -> PathBuf {
    let set = repo_root().join("../shared/evals").join(name);
    assert!(
        set.join("cases.jsonl").is_file(),
        "eval set {} is missing",
        set.display()
    );
    set
}

fn fathom() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fathom"));
    let data = repo_root().join("target/fathom-eval-data");
    let model = std::env::var_os("FATHOM_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("models/all-minilm-l6-v2"));
    cmd.arg("--data-dir")
        .arg(data)
        .arg("--model-dir")
        .arg(model);
    cmd
}

fn run(cmd: &mut Command) -> serde_json::Value {
    let output = cmd.output().expect("fathom runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "gate failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or(serde_json::Value::Null)
}

#[test]
fn retrieval_quality_holds_on_the_shared_sets_and_hybrid_beats_both_halves() {
    // Measured (2 cores, MiniLM, RRF k=60, equal weights, previous customer turn carried):
    // ibmcloud-docs hybrid hit@5 0.988, MRR 0.907; tv-manual hybrid hit@5 0.905, MRR 0.743.
    // On tv-manual BM25 alone still beats hybrid (MRR 0.766): hybrid-best is gated on
    // ibmcloud-docs only, until fusion weights are tuned (see evals/README.md).
    for (set, min_hit_at_5, min_mrr, hybrid_best) in [
        ("ibmcloud-docs", 0.96, 0.88, true),
        ("tv-manual", 0.88, 0.72, false),
    ] {
        let mut cmd = fathom();
        cmd.arg("eval-retrieval").arg(shared_set(set)).arg("--json");
        if hybrid_best {
            cmd.arg("--require-hybrid-best");
        }
        let report = run(cmd
            .arg(format!("--min-hit-at-5={min_hit_at_5}"))
            .arg(format!("--min-mrr={min_mrr}")));
        eprintln!("{set}: {report}");
    }
}
