//! End-to-end tests of the `fathom` binary on the real embedded stack: qdrant-edge on disk,
//! BM25, and (where named) the local MiniLM model.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{assert_success, fathom_with_embedder, repo_root};
use fathom_store::testing::{qdrant_url, TestCollection};
use serde_json::Value;
use tempfile::TempDir;

fn model_dir() -> PathBuf {
    std::env::var_os("FATHOM_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("models/all-minilm-l6-v2"))
}

/// `fathom` with a private data dir, the given embedder and the local MiniLM model.
fn fathom(data: &Path, embedder: &str) -> Command {
    let mut cmd = fathom_with_embedder(data, embedder);
    cmd.arg("--model-dir").arg(model_dir());
    cmd
}

fn run_json(cmd: &mut Command) -> Value {
    let output = cmd.output().expect("fathom runs");
    assert_success(&output, "fathom");
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in walk(from) {
        let relative = entry.strip_prefix(from).unwrap();
        let target = to.join(relative);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&entry, &target).unwrap();
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn ids(value: &Value) -> Vec<String> {
    let mut ids: Vec<String> = value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

#[test]
fn ingesting_the_sample_help_center_then_editing_and_deleting_converges_the_index() {
    let tmp = TempDir::new().unwrap();
    let source = tmp.path().join("knowledge");
    copy_dir(&repo_root().join("knowledge"), &source);
    let data = tmp.path().join("data");

    // First sync: everything is added.
    let first = run_json(
        fathom(&data, "minilm")
            .arg("ingest")
            .arg(&source)
            .arg("--json"),
    );
    let added = first["added"].as_array().unwrap().len();
    assert!(
        added >= 25,
        "the sample help center has 25+ articles, got {added}: {first}"
    );
    assert_eq!(first["failed"].as_array().unwrap().len(), 0, "{first}");
    assert_eq!(first["unchanged"], 0);

    // A hybrid search finds the refund article.
    let search = run_json(fathom(&data, "minilm").args([
        "search",
        "can I get my money back on a yearly subscription?",
        "--json",
    ]));
    let top: Vec<&str> = search["hits"]
        .as_array()
        .unwrap()
        .iter()
        .take(3)
        .map(|h| h["article_id"].as_str().unwrap())
        .collect();
    assert!(
        top.iter().any(|id| id.contains("refund")),
        "refund article in top 3: {search}"
    );

    // Edit one article, delete another.
    let refunds = walk(&source)
        .into_iter()
        .find(|p| p.to_string_lossy().contains("refund"))
        .unwrap();
    let mut text = std::fs::read_to_string(&refunds).unwrap();
    text.push_str("\n\n## Refunds for gift cards\n\nGift cards bought with Zorblax credits are never refunded.\n");
    std::fs::write(&refunds, text).unwrap();
    let victim = walk(&source)
        .into_iter()
        .find(|p| p.to_string_lossy().contains("slack"))
        .unwrap();
    std::fs::remove_file(&victim).unwrap();

    let second = run_json(
        fathom(&data, "minilm")
            .arg("ingest")
            .arg(&source)
            .arg("--json"),
    );
    assert_eq!(second["added"].as_array().unwrap().len(), 0, "{second}");
    assert_eq!(second["updated"].as_array().unwrap().len(), 1, "{second}");
    assert_eq!(second["deleted"].as_array().unwrap().len(), 1, "{second}");
    assert_eq!(
        second["unchanged"].as_u64().unwrap() as usize,
        added - 2,
        "{second}"
    );
    let deleted_id = second["deleted"][0].as_str().unwrap().to_string();

    // The store agrees with the manifest: deleted article gone, edit searchable.
    let status = run_json(fathom(&data, "minilm").args(["status", "--json"]));
    assert_eq!(status["indexed_chunks"], status["chunks"], "{status}");
    assert_eq!(status["in_flight"], 0);
    let indexed = ids(&status["indexed_articles"]);
    assert_eq!(indexed.len(), added - 1);
    assert!(!indexed.contains(&deleted_id));
    let search = run_json(fathom(&data, "minilm").args([
        "search",
        "Zorblax credits gift cards",
        "--json",
        "--mode",
        "bm25",
    ]));
    assert!(
        search["hits"][0]["text"]
            .as_str()
            .unwrap()
            .contains("Zorblax"),
        "{search}"
    );

    // A third run with nothing changed does no work.
    let third = run_json(
        fathom(&data, "minilm")
            .arg("ingest")
            .arg(&source)
            .arg("--json"),
    );
    assert_eq!(third["chunks_written"], 0, "{third}");
    assert_eq!(third["unchanged"].as_u64().unwrap() as usize, added - 1);
}

#[test]
fn broken_files_are_reported_with_path_and_reason_and_the_rest_is_ingested() {
    let tmp = TempDir::new().unwrap();
    let source = tmp.path().join("src");
    std::fs::create_dir_all(&source).unwrap();
    let good = "---\nid: good\ntitle: Good article\n---\n\n# Good article\n\nResetting your password takes a minute.\n";
    std::fs::write(source.join("good.md"), good).unwrap();
    std::fs::write(source.join("latin1.md"), b"# Caf\xe9\n\nbad bytes").unwrap();
    std::fs::write(source.join("front.md"), "---\nid: [unclosed\n---\n\n# x\n").unwrap();
    std::fs::write(source.join("empty.md"), "").unwrap();
    std::fs::write(source.join("binary.html"), b"\x00\x01\x02PNG\x00").unwrap();
    std::fs::write(source.join("broken.json"), "{\"articles\": [").unwrap();
    std::fs::write(source.join("huge.md"), "word ".repeat(4_200_000)).unwrap(); // ~20 MB
    std::fs::write(
        source.join("dup.md"),
        "---\nid: good\ntitle: Same id\n---\n\nText.\n",
    )
    .unwrap();

    let report = run_json(
        fathom(tmp.path(), "none")
            .arg("ingest")
            .arg(&source)
            .arg("--json"),
    );
    assert_eq!(ids(&report["added"]), vec!["good"], "{report}");
    let failed = report["failed"].as_array().unwrap();
    let reason_for = |file: &str| -> String {
        failed
            .iter()
            .find(|f| f["path"].as_str().unwrap().ends_with(file))
            .unwrap_or_else(|| panic!("{file} should be reported as failed: {report}"))["reason"]
            .as_str()
            .unwrap()
            .to_lowercase()
    };
    assert!(reason_for("latin1.md").contains("utf-8"));
    assert!(reason_for("front.md").contains("front matter"));
    assert!(reason_for("empty.md").contains("empty"));
    assert!(reason_for("binary.html").contains("binary"));
    assert!(reason_for("broken.json").contains("json"));
    assert!(reason_for("huge.md").contains("limit"));
    let duplicate = reason_for("good.md");
    assert!(
        duplicate.contains("dup.md") && duplicate.contains("good.md"),
        "{duplicate}"
    );
    assert_eq!(failed.len(), 7, "{report}");

    // --strict turns failures into a non-zero exit, still ingesting the good file.
    let output = fathom(tmp.path(), "none")
        .arg("ingest")
        .arg(&source)
        .arg("--strict")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn a_broken_edit_keeps_the_previous_version_searchable() {
    let tmp = TempDir::new().unwrap();
    let source = tmp.path().join("src");
    std::fs::create_dir_all(&source).unwrap();
    let path = source.join("a.md");
    std::fs::write(
        &path,
        "---\nid: a\ntitle: Quokka care\n---\n\nQuokkas need shade.\n",
    )
    .unwrap();
    run_json(
        fathom(tmp.path(), "none")
            .arg("ingest")
            .arg(&source)
            .arg("--json"),
    );

    std::fs::write(&path, b"---\nid: a\ntitle: Quokka\xff care\n---\n").unwrap();
    let report = run_json(
        fathom(tmp.path(), "none")
            .arg("ingest")
            .arg(&source)
            .arg("--json"),
    );
    assert_eq!(report["failed"].as_array().unwrap().len(), 1);
    assert_eq!(report["deleted"].as_array().unwrap().len(), 0, "{report}");
    let search = run_json(fathom(tmp.path(), "none").args(["search", "quokkas shade", "--json"]));
    assert_eq!(search["hits"][0]["article_id"], "a");
}

#[test]
fn killing_ingest_mid_run_and_running_again_converges_to_the_same_index() {
    let tmp = TempDir::new().unwrap();
    let source = tmp.path().join("src");
    std::fs::create_dir_all(&source).unwrap();
    let paragraph = "Invoices list every seat, add-on and credit for the billing period. ";
    // 40 articles of 8 sections: with MiniLM, long enough to be killed mid-run.
    for i in 0..40 {
        let body = (0..8)
            .map(|s| format!("## Section {s}\n\n{}\n", paragraph.repeat(12 + (i + s) % 5)))
            .collect::<String>();
        std::fs::write(
            source.join(format!("a{i:03}.md")),
            format!("---\nid: art-{i}\ntitle: Article {i}\n---\n\n# Article {i}\n\n{body}"),
        )
        .unwrap();
    }
    let killed = tmp.path().join("killed");
    let mut child = fathom(&killed, "minilm")
        .arg("ingest")
        .arg(&source)
        .arg("--json")
        .spawn()
        .unwrap();
    // Wait until it has written some batches, then SIGKILL it.
    let manifest = killed.join("workspaces/default/manifest.json");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let written = std::fs::read_to_string(&manifest)
            .ok()
            .and_then(|m| serde_json::from_str::<Value>(&m).ok())
            .map(|m| m["articles"].as_object().map_or(0, |a| a.len()))
            .unwrap_or(0);
        if written >= 5 || std::time::Instant::now() > deadline {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(
        !status.success(),
        "ingest should have been killed mid-run, it finished first"
    );

    // Delete one source file while "down", then run again.
    std::fs::remove_file(source.join("a000.md")).unwrap();
    let report = run_json(
        fathom(&killed, "minilm")
            .arg("ingest")
            .arg(&source)
            .arg("--json"),
    );
    assert_eq!(report["failed"].as_array().unwrap().len(), 0);

    // The reference index: chunking does not depend on the embedder, so BM25 only is enough
    // to compare articles and chunks, and much faster.
    let clean = tmp.path().join("clean");
    run_json(
        fathom(&clean, "none")
            .arg("ingest")
            .arg(&source)
            .arg("--json"),
    );
    let after_kill = run_json(fathom(&killed, "minilm").args(["status", "--json"]));
    let fresh = run_json(fathom(&clean, "none").args(["status", "--json"]));
    assert_eq!(after_kill["indexed_articles"], fresh["indexed_articles"]);
    assert_eq!(after_kill["indexed_chunks"], fresh["indexed_chunks"]);
    assert_eq!(after_kill["chunks"], fresh["chunks"]);
    assert_eq!(after_kill["in_flight"], 0);
    assert_eq!(ids(&after_kill["indexed_articles"]).len(), 39);
}

/// `fathom calibrate` on the sample help center (BM25 only, so it runs in seconds): probes of all
/// three kinds, a threshold stored with the workspace, and the curve it was read from.
#[test]
fn calibrate_stores_a_threshold_made_from_the_workspaces_own_articles() {
    let tmp = TempDir::new().unwrap();
    let data = tmp.path().join("data");
    let knowledge = repo_root().join("knowledge");
    run_json(
        fathom(&data, "none")
            .arg("ingest")
            .arg(&knowledge)
            .arg("--json"),
    );
    let calibration = run_json(
        fathom(&data, "none")
            .arg("calibrate")
            .arg(&knowledge)
            .arg("--json"),
    );
    for kind in ["answerable", "fact_removed", "other_domain"] {
        assert!(
            calibration["probes"][kind].as_u64().unwrap() > 0,
            "{kind}: {calibration}"
        );
    }
    let threshold = calibration["threshold"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&threshold), "{calibration}");
    assert_eq!(calibration["model"], "lexical");
    assert!(calibration["curve"].as_array().unwrap().len() > 10);
    let stored: Value = serde_json::from_slice(
        &std::fs::read(data.join("workspaces/default/calibration.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(stored, calibration);
}

#[test]
fn bad_arguments_get_clear_errors() {
    let tmp = TempDir::new().unwrap();
    let output = fathom(tmp.path(), "none")
        .args(["search", "x", "--workspace", "Not Valid"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("workspace id"));

    let output = fathom(tmp.path(), "none")
        .args(["ingest", "/definitely/not/here"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("/definitely/not/here"), "{stderr}");

    let output = Command::new(env!("CARGO_BIN_EXE_fathom"))
        .arg("--data-dir")
        .arg(tmp.path())
        .arg("--model-dir")
        .arg(tmp.path().join("nope"))
        .args(["search", "x"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("fetch-model.sh"));
}

#[test]
fn every_command_has_help() {
    for command in [
        vec![],
        vec!["ingest"],
        vec!["search"],
        vec!["status"],
        vec!["eval-retrieval"],
        vec!["bench"],
        vec!["migrate-index"],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_fathom"))
            .args(&command)
            .arg("--help")
            .output()
            .unwrap();
        assert!(output.status.success(), "{command:?} --help");
        assert!(String::from_utf8_lossy(&output.stdout).contains("Usage"));
    }
}

/// `fathom` against a Qdrant server, in collection `collection`.
fn fathom_qdrant(data: &Path, embedder: &str, url: &str, collection: &str) -> Command {
    let mut cmd = fathom(data, embedder);
    cmd.args([
        "--vector-store",
        "qdrant",
        "--qdrant-url",
        url,
        "--qdrant-collection",
        collection,
    ]);
    if let Some(key) = std::env::var_os("QDRANT_API_KEY") {
        cmd.env("FATHOM_QDRANT_API_KEY", key);
    }
    cmd
}

/// A source folder of 40 long articles: with MiniLM, an ingest runs for a while.
fn long_help_center(source: &Path) {
    std::fs::create_dir_all(source).unwrap();
    let paragraph = "Invoices list every seat, add-on and credit for the billing period. ";
    for i in 0..40 {
        let body = (0..8)
            .map(|s| format!("## Section {s}\n\n{}\n", paragraph.repeat(12 + (i + s) % 5)))
            .collect::<String>();
        std::fs::write(
            source.join(format!("a{i:03}.md")),
            format!("---\nid: art-{i}\ntitle: Article {i}\n---\n\n# Article {i}\n\n{body}"),
        )
        .unwrap();
    }
}

#[test]
fn qdrant_server_ingest_converges_like_the_embedded_index_and_refuses_a_concurrent_second_run() {
    let Some(url) = qdrant_url("ingest, status and the ingest lease") else {
        return;
    };
    let tmp = TempDir::new().unwrap();
    let source = tmp.path().join("src");
    long_help_center(&source);
    let collection = TestCollection::new(&url, "ingest");
    let collection = collection.name.as_str();
    let data = tmp.path().join("data");

    let first = fathom_qdrant(&data, "minilm", &url, collection)
        .arg("ingest")
        .arg(&source)
        .arg("--json")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the first run holds the workspace's lease (status reports it)…
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let status =
            run_json(fathom_qdrant(&data, "minilm", &url, collection).args(["status", "--json"]));
        if status["sync_in_progress"].is_string() {
            assert!(status["sync_in_progress"]
                .as_str()
                .unwrap()
                .contains("fathom ingest"));
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the first ingest never took the lease"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // …then a second run, as from another machine, is refused and says by whom.
    let second = fathom_qdrant(
        &tmp.path().join("other-machine"),
        "minilm",
        &url,
        collection,
    )
    .arg("ingest")
    .arg(&source)
    .output()
    .unwrap();
    assert!(!second.status.success());
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains("is being synced by fathom ingest (pid"),
        "{stderr}"
    );

    let output = first.wait_with_output().unwrap();
    assert_success(&output, "the first ingest");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["added"].as_array().unwrap().len(), 40, "{report}");

    // The server's index and manifest agree with the embedded index's for the same source.
    let on_server =
        run_json(fathom_qdrant(&data, "minilm", &url, collection).args(["status", "--json"]));
    let clean = tmp.path().join("clean");
    run_json(
        fathom(&clean, "none")
            .arg("ingest")
            .arg(&source)
            .arg("--json"),
    );
    let embedded = run_json(fathom(&clean, "none").args(["status", "--json"]));
    assert_eq!(on_server["indexed_articles"], embedded["indexed_articles"]);
    assert_eq!(on_server["indexed_chunks"], embedded["indexed_chunks"]);
    assert_eq!(on_server["chunks"], embedded["chunks"]);
    assert_eq!(on_server["in_flight"], 0);
    assert!(on_server["sync_in_progress"].is_null(), "{on_server}");

    // Another machine (empty data dir) sees the same sync state: nothing left to do.
    let again = run_json(
        fathom_qdrant(
            &tmp.path().join("other-machine"),
            "minilm",
            &url,
            collection,
        )
        .arg("ingest")
        .arg(&source)
        .arg("--json"),
    );
    assert_eq!(again["unchanged"], 40, "{again}");
    assert_eq!(again["chunks_written"], 0, "{again}");

    // Another embedding model on the same collection refuses to start, saying why.
    let output = fathom_qdrant(&data, "none", &url, collection)
        .args(["status"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("was built with") && stderr.contains("--qdrant-collection"),
        "{stderr}"
    );
}

#[test]
fn qdrant_server_migrate_index_copies_the_embedded_index_without_re_embedding() {
    let Some(url) = qdrant_url("migrate-index") else {
        return;
    };
    let tmp = TempDir::new().unwrap();
    let source = tmp.path().join("knowledge");
    copy_dir(&repo_root().join("knowledge"), &source);
    let data = tmp.path().join("data");
    run_json(
        fathom(&data, "none")
            .arg("ingest")
            .arg(&source)
            .arg("--json"),
    );
    let collection = TestCollection::new(&url, "migrate");
    let collection = collection.name.as_str();

    let reports = run_json(fathom_qdrant(&data, "none", &url, collection).args([
        "migrate-index",
        "--json",
        "--page-size",
        "7",
    ]));
    let embedded = run_json(fathom(&data, "none").args(["status", "--json"]));
    assert_eq!(
        reports[0]["points"], embedded["indexed_chunks"],
        "{reports}"
    );

    let server_data = tmp.path().join("server-only");
    let on_server =
        run_json(fathom_qdrant(&server_data, "none", &url, collection).args(["status", "--json"]));
    assert_eq!(on_server["indexed_articles"], embedded["indexed_articles"]);
    assert_eq!(on_server["chunks"], embedded["chunks"]);
    assert_eq!(on_server["in_flight"], 0);
    // The same question finds the same article in both.
    let question = "can I get my money back on a yearly subscription?";
    let local = run_json(fathom(&data, "none").args(["search", question, "--json"]));
    let remote = run_json(
        fathom_qdrant(&server_data, "none", &url, collection).args(["search", question, "--json"]),
    );
    assert_eq!(
        local["hits"][0]["article_id"],
        remote["hits"][0]["article_id"]
    );
    // And a sync against the server has nothing to do.
    let again = run_json(
        fathom_qdrant(&server_data, "none", &url, collection)
            .arg("ingest")
            .arg(&source)
            .arg("--json"),
    );
    assert_eq!(again["chunks_written"], 0, "{again}");

    // Copying again without --replace is refused.
    let output = fathom_qdrant(&data, "none", &url, collection)
        .arg("migrate-index")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--replace"));
}
