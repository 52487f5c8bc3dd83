//! `fathom migrate-store`: copy the conversations of a SQLite store (the embedded default) into
//! Postgres, to move a deployment to several gateways. Every table is copied with its ids, in
//! batches, with a progress bar; rows already in Postgres are kept, so an interrupted copy is
//! finished by running the command again with `--resume`.

use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use fathom_conversations::transfer::{copy_sqlite_to_postgres, TableCopy};
use fathom_conversations::{Database, PostgresOptions, PostgresStore, SqliteStore};

use crate::output::{print_json, progress_bar};
use crate::settings::Settings;

#[derive(Debug, Args)]
pub struct MigrateStoreArgs {
    /// The SQLite store to copy from [default: <data-dir>/conversations.sqlite]. Stop the
    /// gateways that write to it first.
    #[arg(long, value_name = "SQLITE")]
    pub from: Option<Database>,
    /// The Postgres database to copy into (`postgres://user:password@host:5432/db`, TLS with
    /// `?sslmode=…` as for `serve --database`); its schema is created if it has none.
    #[arg(
        long,
        value_name = "POSTGRES",
        env = "FATHOM_DATABASE",
        hide_env_values = true
    )]
    pub to: Database,
    /// Copy into a database that already holds conversations: finish a copy that stopped
    /// half-way (rows already there are kept as they are).
    #[arg(long)]
    pub resume: bool,
    /// Print the per-table counts as JSON.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(settings: &Settings, args: MigrateStoreArgs) -> anyhow::Result<ExitCode> {
    let from = args
        .from
        .clone()
        .unwrap_or_else(|| crate::database::default_database(settings));
    let Database::Sqlite(path) = &from else {
        anyhow::bail!("--from must be a SQLite store (sqlite:PATH or a path), not {from}");
    };
    let Database::Postgres(url) = &args.to else {
        anyhow::bail!(
            "--to must be a Postgres database (postgres://…), not {}",
            args.to
        );
    };
    anyhow::ensure!(
        path.is_file(),
        "no conversation store at {} (`fathom serve` keeps it at <data-dir>/conversations.sqlite)",
        path.display()
    );
    let source = SqliteStore::open(path)
        .with_context(|| format!("opening the conversation store {from}"))?;
    let target = PostgresStore::connect(url, PostgresOptions::default())
        .await
        .map_err(|error| {
            let code = error.code();
            anyhow::Error::new(error).context(format!(
                "opening the conversation store {} ({code})",
                args.to
            ))
        })?;
    if !args.resume {
        let already = target
            .count_conversations()
            .await
            .with_context(|| format!("reading {}", args.to))?;
        anyhow::ensure!(
            already == 0,
            "{} already holds {already} conversations: to finish an interrupted copy into it, \
             run again with --resume (rows already there are kept)",
            args.to
        );
    }

    let bar = progress_bar(0, "", args.json);
    let report = copy_sqlite_to_postgres(&source, &target, &|table, done, total| {
        bar.set_message(table.to_string());
        bar.set_length(total);
        bar.set_position(done);
    })
    .await
    .with_context(|| format!("copying {from} into {}", args.to))?;
    bar.finish_and_clear();

    if args.json {
        print_json(&serde_json::json!({
            "from": from.to_string(),
            "to": args.to.to_string(),
            "tables": report,
        }))?;
    } else {
        print_report(&from, &args.to, &report);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_report(from: &Database, to: &Database, report: &[TableCopy]) {
    println!("copied {from} into {to}");
    println!("  {:<24} {:>10} {:>10}", "table", "rows", "copied");
    for table in report {
        println!(
            "  {:<24} {:>10} {:>10}",
            table.table, table.rows, table.copied
        );
    }
    let kept: u64 = report.iter().map(|t| t.rows - t.copied.min(t.rows)).sum();
    if kept > 0 {
        println!("  {kept} rows were in Postgres already and were kept as they are");
    }
    println!("next: start the gateways with --database {to}");
}
