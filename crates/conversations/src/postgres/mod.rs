//! The conversation store on Postgres, for several gateways sharing one database: a pool of
//! connections (deadpool over tokio-postgres), changes applied in one transaction with the
//! conversation's row locked (so two gateways changing one conversation take turns), outbox
//! claims with `FOR UPDATE SKIP LOCKED` (so N gateways deliver every event once, in order per
//! conversation), and a `LISTEN` connection that turns every gateway's committed changes into
//! [`ChangeNotice`]s. Connections use TLS as the URL's `sslmode` asks (`tls.rs`).

mod conversations;
mod links;
mod listen;
mod outbox;
mod reports;
pub(crate) mod tls;

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};

pub use tls::PostgresTlsError;

use crate::migrate::{self, AppliedMigration};
use crate::{now_ms, ChangeFeed, StoreError};

/// The channel every change is announced on (the payload is the conversation id).
const CHANGES_CHANNEL: &str = "fathom_conversation_changes";

/// Serialises schema upgrades of gateways starting together (`pg_advisory_xact_lock` key:
/// "fathom" in ASCII).
const MIGRATION_LOCK: i64 = 0x66_61_74_68_6f_6d;

/// How to reach the database.
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    /// Connections in the pool (each gateway has its own pool).
    pub pool_size: usize,
    /// How long a call waits for a free connection, and a new connection for the server.
    pub timeout: Duration,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        Self {
            pool_size: 16,
            timeout: Duration::from_secs(10),
        }
    }
}

#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
    changes: ChangeFeed,
    /// Where the pool connects, without the password (for messages).
    target: String,
    _listener: Arc<listen::Listener>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

pub(crate) fn backend(operation: &'static str) -> impl Fn(tokio_postgres::Error) -> StoreError {
    move |error| StoreError::Backend {
        operation,
        reason: describe(&error),
    }
}

/// The server's message when there is one (tokio-postgres' Display only says "db error").
fn describe(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => error.to_string(),
    }
}

fn pool_error(operation: &'static str) -> impl Fn(deadpool_postgres::PoolError) -> StoreError {
    move |error| StoreError::Backend {
        operation,
        reason: match &error {
            deadpool_postgres::PoolError::Backend(error) => describe(error),
            other => format!("no database connection: {other}"),
        },
    }
}

/// `user@host:port/database` of a config, never its password.
fn describe_target(config: &tokio_postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|host| match host {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "{}@{host}:{port}/{}",
        config.get_user().unwrap_or("?"),
        config.get_dbname().unwrap_or("?")
    )
}

impl PostgresStore {
    /// Connect to `url` (`postgres://user:password@host:port/database`, with libpq's `sslmode`
    /// and `sslrootcert` if TLS is wanted, as libpq reads them), bring the schema up to date and
    /// start listening for other gateways' changes. Bad TLS settings, and a server certificate
    /// they reject, are [`StoreError::Tls`].
    pub async fn connect(url: &str, options: PostgresOptions) -> Result<Self, StoreError> {
        // Reads the root certificates from disk.
        let owned_url = url.to_string();
        let connect =
            tokio::task::spawn_blocking(move || tls::PostgresConnect::from_url(&owned_url))
                .await
                .map_err(|e| StoreError::Open {
                    path: "the postgres url".into(),
                    reason: e.to_string(),
                })??;
        let mut config = connect.config.clone();
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(options.timeout);
        }
        config.application_name("fathom");
        let target = describe_target(&config);
        let open_error = |reason: String| StoreError::Open {
            path: target.clone(),
            reason,
        };
        let manager = Manager::from_config(
            config.clone(),
            connect.tls.clone(),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(options.timeout))
            .create_timeout(Some(options.timeout))
            .build()
            .map_err(|e| open_error(e.to_string()))?;
        let mut client = pool.get().await.map_err(|error| match &error {
            deadpool_postgres::PoolError::Backend(error) => {
                match connect.rejected(&target, error) {
                    Some(rejected) => StoreError::Tls(rejected),
                    None => open_error(describe(error)),
                }
            }
            other => open_error(other.to_string()),
        })?;
        upgrade(&mut client).await?;
        let encrypted = session_encrypted(&client)
            .await
            .map_err(backend("read connection security"))?;
        tracing::info!(%target, sslmode = %connect.mode, tls = encrypted, "connected to postgres");
        drop(client);
        let changes = ChangeFeed::default();
        let (listener, mut listening) =
            listen::Listener::start(config, connect.tls, changes.clone());
        // Serve only once other gateways' changes are heard.
        let heard = tokio::time::timeout(options.timeout, listening.wait_for(|ready| *ready))
            .await
            .is_ok_and(|listening| listening.is_ok());
        if !heard {
            return Err(open_error(
                "could not LISTEN for other gateways' changes in time".into(),
            ));
        }
        Ok(Self {
            pool,
            changes,
            target,
            _listener: Arc::new(listener),
        })
    }

    /// How many conversations the database holds, every workspace together.
    pub async fn count_conversations(&self) -> Result<u64, StoreError> {
        const OP: &str = "count conversations";
        let client = self.client(OP).await?;
        let count: i64 = client
            .query_one("SELECT COUNT(*) FROM conversations", &[])
            .await
            .map_err(backend(OP))?
            .get(0);
        Ok(count.max(0) as u64)
    }

    /// Whether a connection of the pool is encrypted (TLS), as the server sees it.
    pub async fn encrypted(&self) -> Result<bool, StoreError> {
        const OP: &str = "read connection security";
        let client = self.client(OP).await?;
        session_encrypted(&client).await.map_err(backend(OP))
    }

    /// The migrations this database has applied, oldest first.
    pub async fn schema(&self) -> Result<Vec<AppliedMigration>, StoreError> {
        let client = self.client("read schema version").await?;
        applied_migrations(&client)
            .await
            .map_err(backend("read schema version"))
    }

    pub(crate) async fn client(
        &self,
        operation: &'static str,
    ) -> Result<deadpool_postgres::Client, StoreError> {
        self.pool.get().await.map_err(pool_error(operation))
    }
}

async fn session_encrypted(
    client: &impl deadpool_postgres::GenericClient,
) -> Result<bool, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await?;
    Ok(row.is_some_and(|row| row.get(0)))
}

async fn applied_migrations(
    client: &impl deadpool_postgres::GenericClient,
) -> Result<Vec<AppliedMigration>, tokio_postgres::Error> {
    let exists: bool = client
        .query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[])
        .await?
        .get(0);
    if !exists {
        return Ok(vec![]);
    }
    let rows = client
        .query(
            "SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| AppliedMigration {
            version: row.get(0),
            name: row.get(1),
            checksum: row.get(2),
            applied_at_ms: row.get(3),
        })
        .collect())
}

/// Apply the migrations the database lacks, in one transaction, holding an advisory lock so that
/// gateways starting together upgrade once.
async fn upgrade(client: &mut deadpool_postgres::Client) -> Result<(), StoreError> {
    const OP: &str = "migrate schema";
    let transaction = client.transaction().await.map_err(backend(OP))?;
    transaction
        .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(backend(OP))?;
    transaction
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                version BIGINT PRIMARY KEY,
                name TEXT NOT NULL,
                checksum TEXT NOT NULL,
                applied_at BIGINT NOT NULL
            )",
        )
        .await
        .map_err(backend(OP))?;
    let applied = applied_migrations(&transaction)
        .await
        .map_err(backend(OP))?;
    for migration in migrate::pending(migrate::POSTGRES, &applied)? {
        transaction
            .batch_execute(migration.sql)
            .await
            .map_err(|error| StoreError::Backend {
                operation: OP,
                reason: format!(
                    "migration {} ({}): {}",
                    migration.version,
                    migration.name,
                    describe(&error)
                ),
            })?;
        transaction
            .execute(
                "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)",
                &[&migration.version, &migration.name, &migration.checksum(), &now_ms()],
            )
            .await
            .map_err(backend(OP))?;
        tracing::info!(
            version = migration.version,
            name = migration.name,
            "applied conversation store migration"
        );
    }
    transaction.commit().await.map_err(backend(OP))
}
