//! Quality gates on the shared eval sets (../shared/evals, real help content and questions):
//! retrieval hit@5/MRR per mode, and the answer engine's resolution and false resolution in
//! extractive mode. Floors sit just below the values measured when they were set (see
//! evals/README.md), so a regression fails the build.
//!
//! The eval index is kept in `target/fathom-eval-data` so local re-runs only embed what changed.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The shared eval sets: `$FATHOM_SHARED_EVALS`, else `../shared/evals` beside the repository.
fn shared_set(name: &str) -> PathBuf {
    let candidates: Vec<PathBuf> = std::env::var_os("FATHOM_SHARED_EVALS")
        .map(PathBuf::from)
        .into_iter()
        .chain([repo_root().join("../shared/evals")])
        .collect();
    candidates
        .iter()
        .map(|root| root.join(name))
        .find(|set| set.join("cases.jsonl").is_file())
        .unwrap_or_else(|| {
            panic!("eval set {name} is missing: looked in {candidates:?} (set FATHOM_SHARED_EVALS)")
        })
}

/// The tests share one eval index (embedding the sets is the slow part), and one process at a
/// time may open it: qdrant-edge locks its write-ahead log.
static EVAL_INDEX: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The eval index's data folder.
fn eval_data_dir() -> PathBuf {
    repo_root().join("target/fathom-eval-data")
}

fn fathom() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fathom"));
    let data = eval_data_dir();
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
    let _index = EVAL_INDEX
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    // Measured (MiniLM, DBSF fusion, previous customer turn carried), hit@1/hit@5/MRR:
    //   ibmcloud-docs: bm25 0.779/0.919/0.850, dense 0.814/0.965/0.879, hybrid 0.884/0.988/0.928
    //   tv-manual:     bm25 0.669/0.950/0.783, dense 0.411/0.745/0.554, hybrid 0.676/0.924/0.786
    // On tv-manual hybrid leads BM25 by 0.003 MRR only (MiniLM is weak on that manual): too thin
    // a margin to gate across CPUs, so hybrid-best is gated on ibmcloud-docs, floors on both.
    for (set, min_hit_at_5, min_mrr, hybrid_best) in [
        ("ibmcloud-docs", 0.97, 0.91, true),
        ("tv-manual", 0.90, 0.76, false),
    ] {
        let mut cmd = fathom();
        cmd.arg("eval-retrieval").arg(shared_set(set)).arg("--json");
        if hybrid_best {
            cmd.arg("--require-hybrid-best");
        }
        let cases_path = repo_root()
            .join("target")
            .join(format!("fathom-eval-retrieval-{set}.jsonl"));
        let report = run(cmd
            .arg(format!("--min-hit-at-5={min_hit_at_5}"))
            .arg(format!("--min-mrr={min_mrr}"))
            .arg("--cases")
            .arg(&cases_path));
        eprintln!("{set}: {report}");
        // `--cases`: one line per case and mode, and they add up to the summary's hit@1.
        let lines: Vec<serde_json::Value> = std::fs::read_to_string(&cases_path)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        for mode in report["modes"].as_array().unwrap() {
            let of_mode: Vec<_> = lines.iter().filter(|l| l["mode"] == mode["mode"]).collect();
            assert_eq!(of_mode.len() as u64, mode["cases"].as_u64().unwrap());
            let at_1 = of_mode.iter().filter(|l| l["case"]["rank"] == 1).count();
            let hit_at_1 = at_1 as f64 / of_mode.len() as f64;
            assert!((hit_at_1 - mode["hit_at_1"].as_f64().unwrap()).abs() < 1e-9);
        }
    }
}

#[test]
fn extractive_decisions_hold_their_resolution_and_false_resolution_on_the_shared_sets() {
    let _index = EVAL_INDEX
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    // Measured 2026-12-07 (MiniLM, DBSF, the shipped answerability models: follow-ups by the
    // hand-set judge — rerank on relative score, coverage and phrase coverage, threshold 0.5 on
    // its probability —, first messages by the fitted `first_turn` model at the same threshold):
    //   ibmcloud-docs: resolution 75.3% (61/81), false resolution 8.3% (3/36), clarify 8/9
    //   tv-manual:     resolution 73.5% (311/423; an answer also cites every retrieved article
    //                  that holds its passage word for word)
    //   xquad-en:      resolution 88.0% (132/150), false resolution 10.0% (5/50)
    // Bounds sit a case or two below on ibmcloud-docs (a few points on the larger tv-manual), so
    // a regression fails the build; xquad-en's false resolution sits on the 10% target, so its
    // bound is one case above it.
    for (set, gates) in [
        (
            "ibmcloud-docs",
            &[
                "--min-resolution=0.72",
                "--max-false-resolution=0.12",
                "--min-clarify=0.75",
            ][..],
        ),
        ("tv-manual", &["--min-resolution=0.70"][..]),
        (
            "xquad-en",
            &["--min-resolution=0.84", "--max-false-resolution=0.12"][..],
        ),
    ] {
        eval_within_gates(set, gates);
    }
}

#[test]
fn extractive_decisions_hold_in_other_languages_and_never_answer_across_languages() {
    let _index = EVAL_INDEX
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    // XQuAD (the same questions in each language; the last paragraph of each article withheld:
    // its questions are the handoff cases; xquad-en is gated above). MiniLM does not read these
    // languages, so the `foreign` model judges: fitted on coverage (which reads compounds in
    // German and the other compounding languages), IDF coverage, phrase coverage and the rerank
    // margin over de/es/zh/en (leave-one-language-out: de 76.7% / 10.0%, es 86.7% / 10.0%, zh
    // 73.3% / 8.0%; evals/README.md "Languages"). A question too short for the detector is read
    // in its help center's language.
    // Measured 2026-12-07 (MiniLM, DBSF, extractive, defaults), resolution / false resolution:
    //   de 77.3% / 10.0%, es 87.3% / 10.0%, zh 76.0% / 8.0%, en-kb-de 18.7% / 0.0% (and no
    //   answer citing a wrong article in any of them). Bounds sit a few cases below (de's and
    //   es's false resolution: one case above, they sit on the 10% target).
    for (set, gates) in [
        (
            "xquad-de",
            &["--min-resolution=0.73", "--max-false-resolution=0.12"][..],
        ),
        (
            "xquad-es",
            &["--min-resolution=0.83", "--max-false-resolution=0.12"][..],
        ),
        (
            "xquad-zh",
            &["--min-resolution=0.72", "--max-false-resolution=0.10"][..],
        ),
        // German questions on English articles: extractive mode has no model to translate, so
        // it must not answer with a wrong article.
        (
            "xquad-en-kb-de-questions",
            &["--max-false-resolution=0.10"][..],
        ),
    ] {
        eval_within_gates(set, gates);
    }
    // The report names the threshold that judged the set: the foreign model's for German.
    let shipped: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("crates/answer/models/answerability.json"))
            .unwrap(),
    )
    .unwrap();
    let report = |set: &str| -> serde_json::Value {
        let path = repo_root()
            .join("target")
            .join(format!("fathom-eval-{set}.json"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    let threshold = |value: &serde_json::Value| value.as_f64().unwrap();
    let foreign = threshold(&shipped["models"]["foreign"]["threshold"]);
    assert!((threshold(&report("xquad-de")["threshold"]) - foreign).abs() < 1e-6);
}

/// `fathom eval` on a shared set with these gates (a failed gate fails the run), and its
/// resolution and false resolution in the test's output.
fn eval_within_gates(set: &str, gates: &[&str]) {
    let report_path = repo_root()
        .join("target")
        .join(format!("fathom-eval-{set}.json"));
    let mut cmd = fathom();
    cmd.arg("eval")
        .arg(shared_set(set))
        .arg("--json")
        .arg(&report_path)
        .args(gates);
    run(&mut cmd);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report_path).unwrap()).unwrap();
    eprintln!(
        "{set}: resolution {} false resolution {}",
        report["resolution_rate"], report["false_resolution_rate"]
    );
}

/// The target of issue #12: on a Qdrant server, `eval-retrieval` gives the same hit@1 and hit@5
/// (±0.01) per mode as the embedded index. The embedded eval index is copied to the server with
/// `fathom migrate-index` (no re-embedding), so both runs search the same vectors. Runs when
/// `QDRANT_URL` names a server (see DEVELOPERS.md); prints "skipped" otherwise.
#[test]
fn retrieval_on_a_qdrant_server_matches_the_embedded_index() {
    let Some(url) = fathom_store::testing::qdrant_url("eval-retrieval parity") else {
        return;
    };
    let _index = EVAL_INDEX
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let collection = fathom_store::testing::TestCollection::new(&url, "eval");
    let on_server = |cmd: &mut Command| {
        cmd.args(["--vector-store", "qdrant", "--qdrant-url", &url])
            .args(["--qdrant-collection", &collection.name]);
    };
    const SETS: [&str; 2] = ["ibmcloud-docs", "tv-manual"];
    let embedded: Vec<serde_json::Value> = SETS
        .iter()
        .map(|set| {
            run(fathom()
                .arg("eval-retrieval")
                .arg(shared_set(set))
                .arg("--json"))
        })
        .collect();
    // BM25's IDF is counted over the whole index, every workspace in it (on edge and on the
    // server alike), so the server gets every workspace the embedded eval index holds, not
    // only the two measured here: otherwise the same BM25 vectors score differently.
    let workspaces: Vec<String> = std::fs::read_dir(eval_data_dir().join("workspaces"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let mut copy = fathom();
    on_server(&mut copy);
    run(copy.args([
        "migrate-index",
        "--json",
        "--workspace",
        &workspaces.join(","),
    ]));
    for (set, embedded) in SETS.iter().zip(&embedded) {
        let mut server = fathom();
        on_server(&mut server);
        let server = run(server
            .arg("eval-retrieval")
            .arg(shared_set(set))
            .arg("--json"));
        for (edge, remote) in embedded["modes"]
            .as_array()
            .unwrap()
            .iter()
            .zip(server["modes"].as_array().unwrap())
        {
            assert_eq!(edge["mode"], remote["mode"]);
            for metric in ["hit_at_1", "hit_at_5"] {
                let (a, b) = (
                    edge[metric].as_f64().unwrap(),
                    remote[metric].as_f64().unwrap(),
                );
                assert!(
                    (a - b).abs() <= 0.01,
                    "{set} {} {metric}: embedded {a:.3}, Qdrant server {b:.3}",
                    edge["mode"]
                );
            }
            eprintln!(
                "{set} {}: hit@1 {} / {}, hit@5 {} / {} (embedded / server)",
                edge["mode"],
                edge["hit_at_1"],
                remote["hit_at_1"],
                edge["hit_at_5"],
                remote["hit_at_5"]
            );
        }
    }
}
