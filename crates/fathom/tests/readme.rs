//! The README and docker-compose.yml, checked as far as this machine can run them.
//!
//! - The quick start: `scripts/run.sh` as written (with `FATHOM_BIN`, so it runs this build
//!   instead of building a release), then the README's "from another terminal" commands
//!   (`search`, `ask --json`, `status`) from other processes while it serves.
//! - Every flag and environment variable the README's tables name exists in `--help`.
//! - docker-compose.yml: its commands and environment variables are the binary's, and the CLI
//!   commands its comments suggest run (on a BM25-only data dir; no Docker engine here).

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::{assert_success, fathom, free_address, repo_root, ServerGuard};
use serde_json::Value;
use tempfile::TempDir;

fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_fathom")
}

/// The binary as a user's shell runs it: in the repository, with `data_dir` as its data dir
/// (what `data` is for the user) and the default model.
fn user_command(data_dir: &Path) -> Command {
    let mut command = Command::new(binary());
    command
        .current_dir(repo_root())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("FATHOM_DATA_DIR", data_dir);
    if let Some(model_dir) = std::env::var_os("FATHOM_MODEL_DIR") {
        command.env("FATHOM_MODEL_DIR", model_dir);
    }
    command
}

fn stdout_of(command: &mut Command, what: &str) -> String {
    let output = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_success(&output, what);
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn the_quick_start_serves_and_the_readme_commands_answer_from_another_terminal() {
    let root = repo_root();
    let dir = TempDir::new().unwrap();
    let data = dir.path().join("data");
    let address = free_address();
    let log = dir.path().join("run.log");

    std::fs::File::create(&log).unwrap();
    let output = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    let mut run = Command::new(root.join("scripts/run.sh"));
    run.arg(address.to_string())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", std::env::var_os("HOME").unwrap_or_default())
        .env("FATHOM_BIN", binary())
        .env("FATHOM_DATA_DIR", &data)
        .stdout(Stdio::from(output.try_clone().unwrap()))
        .stderr(Stdio::from(output));
    if let Some(model_dir) = std::env::var_os("FATHOM_MODEL_DIR") {
        run.env("FATHOM_MODEL_DIR", model_dir);
    }
    let mut server =
        ServerGuard::spawn_in_own_process_group("scripts/run.sh", &mut run).expect("run.sh starts");
    // run.sh ingests knowledge/ with MiniLM and asks once before it serves: minutes on a
    // loaded machine, more than the usual wait for a server.
    let started = std::time::Instant::now();
    while std::net::TcpStream::connect(address).is_err() {
        if let Ok(Some(status)) = server.child().try_wait() {
            panic!(
                "run.sh exited ({status}):\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(900),
            "run.sh did not serve within 15 minutes:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let printed = std::fs::read_to_string(&log).unwrap();
    assert!(
        printed.contains("decision:") && printed.contains("Fathom is serving on"),
        "{printed}"
    );

    // The README's "From another terminal" commands, each its own process, as written.
    let search = stdout_of(
        user_command(&data).args(["search", "why am I getting error 429?"]),
        "fathom search",
    );
    assert!(search.starts_with("1. "), "{search}");
    assert!(search.to_lowercase().contains("rate limit"), "{search}");

    let ask = stdout_of(
        user_command(&data).args(["ask", "can I pay by invoice?", "--json"]),
        "fathom ask --json",
    );
    let decision: Value = serde_json::from_str(&ask).expect("ask --json prints JSON");
    assert!(
        ["answer", "clarify", "handoff"].contains(&decision["decision"].as_str().unwrap_or("")),
        "{decision:#}"
    );
    assert!(decision["answer"].as_str().is_some_and(|a| !a.is_empty()));

    let status = stdout_of(user_command(&data).arg("status"), "fathom status");
    assert!(status.starts_with("workspace default"), "{status}");
    assert!(!status.contains("manifest: 0 articles"), "{status}");
    drop(server);
}

/// Every `--flag` in `text` (letters, digits and dashes after two dashes).
fn flags(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (i, _) in text.match_indices("--") {
        let name: String = text[i + 2..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        if name.len() > 1 && name.chars().next().is_some_and(|c| c.is_ascii_lowercase()) {
            found.push(format!("--{name}"));
        }
    }
    found
}

/// Every `FATHOM_…` environment variable in `text`.
fn env_vars(text: &str) -> Vec<String> {
    text.match_indices("FATHOM_")
        .map(|(i, _)| {
            text[i..]
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                .collect::<String>()
        })
        .collect()
}

/// The subcommands a `--help` lists under `Commands:` (without `help`).
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|line| !line.starts_with("Commands:"))
        .skip(1)
        .take_while(|line| line.starts_with("  "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect()
}

fn help(args: &[&str]) -> String {
    let output = Command::new(binary())
        .args(args)
        .arg("--help")
        .output()
        .unwrap();
    assert_success(&output, &format!("fathom {} --help", args.join(" ")));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn the_readme_tables_name_real_flags_and_variables() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    // Global settings, and those every command repeats (--workspace).
    let global = [help(&[]), help(&["search"])].join("\n");
    let mut checked = 0;
    for row in readme.lines().filter(|l| l.starts_with("| `fathom ")) {
        // `\|` is a pipe inside a cell (`--mode hybrid\|dense\|bm25`).
        let row = row.replace("\\|", "/");
        let usage = row.split('|').nth(1).unwrap();
        let words: Vec<&str> = usage.trim().trim_matches('`').split_whitespace().collect();
        // `fathom bench resync|ingest|…`, `fathom answerability dump|fit`: the flags of the
        // command or of any of its subcommands.
        let own = help(&[words[1]]);
        let command_help = subcommands(&own)
            .iter()
            .map(|sub| help(&[words[1], sub]))
            .chain([own.clone()])
            .collect::<Vec<_>>()
            .join("\n");
        for flag in flags(usage) {
            assert!(
                command_help.contains(&flag),
                "README names {flag} for `fathom {}`, which has no such flag",
                words[1]
            );
            checked += 1;
        }
    }
    let serve = help(&["serve"]);
    let configuration = readme
        .split("## Configuration")
        .nth(1)
        .unwrap()
        .split("\n## ")
        .next()
        .unwrap();
    for row in configuration.lines().filter(|l| l.starts_with("| `--")) {
        for flag in flags(row.split('|').nth(1).unwrap()) {
            assert!(global.contains(&flag), "README's {flag} is not a flag");
            checked += 1;
        }
        for var in env_vars(row) {
            assert!(
                global.contains(&var),
                "README's {var} is not read by fathom"
            );
            checked += 1;
        }
    }
    for var in env_vars(&readme) {
        assert!(
            global.contains(&var) || serve.contains(&var) || var.starts_with("FATHOM_TEST_"),
            "README names {var}, which fathom does not read"
        );
    }
    assert!(checked > 40, "checked only {checked} names");
}

#[test]
fn docker_compose_commands_and_variables_are_the_binarys() {
    let root = repo_root();
    let compose = std::fs::read_to_string(root.join("docker-compose.yml")).unwrap();
    let serve = help(&["serve"]);
    let global = help(&[]);

    // `command:` lines: a subcommand and its flags.
    for line in compose.lines().filter(|l| l.trim().starts_with("command:")) {
        let args: Vec<String> =
            serde_json::from_str(line.trim().trim_start_matches("command:").trim())
                .expect("command: is a JSON-style list");
        let command_help = help(&[args[0].as_str()]);
        for flag in args.iter().filter(|a| a.starts_with("--")) {
            assert!(
                command_help.contains(flag.as_str()),
                "compose: {flag} in {line}"
            );
        }
    }
    // Environment variables.
    for var in env_vars(&compose) {
        assert!(
            global.contains(&var) || serve.contains(&var),
            "compose sets {var}, which fathom does not read"
        );
    }

    // The CLI commands its comments suggest, on this machine: `run --rm ingest` is
    // `fathom ingest /knowledge`, `run --rm fathom <args>` is `fathom <args>`.
    let dir = TempDir::new().unwrap();
    let data = dir.path().join("data");
    let mut ran = 0;
    for comment in compose
        .lines()
        .filter(|l| l.starts_with("#   docker compose run --rm "))
    {
        let rest = comment
            .trim_start_matches("#   docker compose run --rm ")
            .split("  #")
            .next()
            .unwrap()
            .trim();
        let mut command = fathom(&data);
        command.current_dir(&root);
        if rest == "ingest" {
            command.args(["ingest", "knowledge"]);
        } else {
            let args = rest.strip_prefix("fathom ").expect("the fathom service");
            let (subcommand, quoted) = args.split_once(' ').unwrap();
            command.arg(subcommand).arg(quoted.trim_matches('"'));
        }
        let output = command.output().unwrap();
        assert_success(&output, comment);
        ran += 1;
    }
    assert!(ran >= 2, "ran {ran} of the comments' commands");
}
