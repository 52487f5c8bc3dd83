//! Where conversations live, for the commands that read or write them (`serve`, `eval --replay`,
//! `migrate-store`): a SQLite file under the data folder by default, or a Postgres database that
//! several gateways share.

use clap::Args;
use fathom_conversations::{Database, PostgresOptions, Stores};

use crate::settings::Settings;

#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// Where conversations live: a SQLite file (`sqlite:PATH` or a path) [default:
    /// <data-dir>/conversations.sqlite], or Postgres (`postgres://user:password@host:5432/db`),
    /// which any number of gateways can share. TLS as in libpq: `?sslmode=disable|prefer|require|
    /// verify-ca|verify-full` (default prefer) and `&sslrootcert=PATH` (else the system's roots).
    #[arg(long, env = "FATHOM_DATABASE", hide_env_values = true)]
    pub database: Option<Database>,
    /// Postgres: connections in this process's pool.
    #[arg(long, env = "FATHOM_DATABASE_POOL_SIZE", default_value_t = 16)]
    pub database_pool_size: usize,
}

impl DatabaseArgs {
    pub fn database(&self, settings: &Settings) -> Database {
        self.database
            .clone()
            .unwrap_or_else(|| default_database(settings))
    }

    pub fn postgres_options(&self) -> PostgresOptions {
        PostgresOptions {
            pool_size: self.database_pool_size,
            ..PostgresOptions::default()
        }
    }

    /// Open the conversation store (and bring its schema up to date).
    pub async fn open(&self, settings: &Settings) -> anyhow::Result<(Database, Stores)> {
        let database = self.database(settings);
        let stores = open(&database, self.postgres_options()).await?;
        Ok((database, stores))
    }
}

/// `<data-dir>/conversations.sqlite`.
pub fn default_database(settings: &Settings) -> Database {
    Database::Sqlite(settings.data_dir.join("conversations.sqlite"))
}

pub async fn open(database: &Database, options: PostgresOptions) -> anyhow::Result<Stores> {
    database.open(options).await.map_err(|error| {
        let code = error.code();
        anyhow::Error::new(error).context(format!(
            "opening the conversation store {database} ({code})"
        ))
    })
}
