//! `fathom`: the command line. Wiring only: every command parses its arguments, builds the
//! backends from [`settings::Settings`], and calls into the library crates.

mod backends;
mod commands;
mod database;
mod output;
mod running;
mod settings;

use clap::{Parser, Subcommand};

use crate::settings::Settings;

/// Fathom: a self-hosted AI customer-support agent that answers from your help center.
#[derive(Debug, Parser)]
#[command(name = "fathom", version, about, long_about = None)]
struct Cli {
    #[command(flatten)]
    settings: Settings,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Sync a help-center folder (Markdown, HTML, Zendesk/Intercom JSON) into a workspace.
    Ingest(commands::ingest::IngestArgs),
    /// Search a workspace's knowledge (hybrid dense + BM25 by default).
    Search(commands::search::SearchArgs),
    /// Ask one question (with optional history) and print the engine's decision.
    Ask(commands::ask::AskArgs),
    /// Run an eval set through the answer engine: resolution, false resolution, curve.
    Eval(commands::eval::EvalArgs),
    /// Show what a workspace holds: articles and chunks, in the manifest and in the index.
    Status(commands::status::StatusArgs),
    /// Measure retrieval quality (hit@1, hit@5, MRR) on an eval set, per retrieval mode.
    EvalRetrieval(commands::eval::EvalRetrievalArgs),
    /// Benchmarks: sync speed, ingestion throughput, query latency, memory.
    Bench(commands::bench::BenchArgs),
    /// Serve the customer chat API, helpdesk handoff and admin API over HTTP.
    Serve(commands::serve::ServeArgs),
    /// Pick a workspace's answer threshold from probes made from its own articles.
    Calibrate(commands::calibrate::CalibrateArgs),
    /// Fit the answerability models on eval sets, leave-one-set-out (dump signals, then fit).
    Answerability(commands::answerability::AnswerabilityArgs),
    /// Copy the conversations of a SQLite store into Postgres (to run several gateways).
    MigrateStore(commands::migrate_store::MigrateStoreArgs),
    /// Copy workspaces from the embedded index to a Qdrant server (no re-embedding; resumable).
    MigrateIndex(commands::migrate_index::MigrateIndexArgs),
}

/// tokio's blocking pool, bounded at four threads per core (at least 8) instead of tokio's 512.
/// The blocking work here is CPU-bound (the embedded index's searches) or serialised (SQLite's
/// one writer; readers wait for a connection before they take a thread), so threads past a few
/// per core only add stacks and allocator arenas: after 100 concurrent clients the default pool
/// had grown to ~55 threads and the gateway kept ~20 MiB more (RSS after the run, median of
/// three: 257 → 235 MiB on 2 cores, with the same messages/s).
fn blocking_threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    (4 * cores).max(8)
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    settings::init_tracing(&cli.settings);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .max_blocking_threads(blocking_threads())
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Ingest(args) => commands::ingest::run(&cli.settings, args).await,
            Command::Search(args) => commands::search::run(&cli.settings, args).await,
            Command::Ask(args) => commands::ask::run(&cli.settings, args).await,
            Command::Eval(args) => commands::eval::run_decisions(&cli.settings, args).await,
            Command::Status(args) => commands::status::run(&cli.settings, args).await,
            Command::EvalRetrieval(args) => commands::eval::run(&cli.settings, args).await,
            Command::Bench(args) => commands::bench::run(&cli.settings, args).await,
            Command::Serve(args) => commands::serve::run(&cli.settings, args).await,
            Command::Calibrate(args) => commands::calibrate::run(&cli.settings, args).await,
            Command::Answerability(args) => commands::answerability::run(&cli.settings, args).await,
            Command::MigrateStore(args) => commands::migrate_store::run(&cli.settings, args).await,
            Command::MigrateIndex(args) => commands::migrate_index::run(&cli.settings, args).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
