//! The embedded conversation store: one SQLite file in WAL mode, written by one connection and
//! read by a small pool of read-only connections, so reads never wait behind a write (WAL readers
//! see the last committed state) and never behind each other. Calls run on tokio's blocking pool
//! so that no async task waits on the disk; reads that take several queries run in one read
//! transaction, a consistent snapshot.

mod conversations;
mod links;
mod outbox;
mod reports;
mod rows;

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OpenFlags, Row};
use tokio::sync::Semaphore;

use crate::migrate::{self, AppliedMigration};
use crate::{now_ms, ChangeFeed, StoreError};

/// Read-only connections per file store: enough for the gateway's concurrent requests on a small
/// machine; more would only queue on the same disk.
const READERS: usize = 4;

#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: Arc<Mutex<Connection>>,
    /// `None` for an in-memory store: its one connection serves reads too.
    readers: Option<Arc<ReaderPool>>,
    /// Changes applied through this value (a SQLite file has one gateway).
    changes: ChangeFeed,
}

/// Read-only connections handed out one per call; the semaphore counts the idle ones.
#[derive(Debug)]
struct ReaderPool {
    idle: Mutex<Vec<Connection>>,
    available: Semaphore,
}

pub(crate) fn backend(operation: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
    move |error| StoreError::Backend {
        operation,
        reason: error.to_string(),
    }
}

/// Run a (cached) query and collect every row read by `read`; any SQLite error is reported as
/// a failure of `operation`.
fn query_rows<T, P: rusqlite::Params>(
    connection: &Connection,
    operation: &'static str,
    sql: &str,
    params: P,
    read: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>, StoreError> {
    let mut statement = connection.prepare_cached(sql).map_err(backend(operation))?;
    let rows = statement
        .query_map(params, read)
        .map_err(backend(operation))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(backend(operation));
    rows
}

fn blocking_failed(operation: &'static str, error: tokio::task::JoinError) -> StoreError {
    StoreError::Backend {
        operation,
        reason: format!("blocking task failed: {error}"),
    }
}

impl SqliteStore {
    /// Open (or create) the store at `path`, in WAL mode, bringing its schema up to date.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let open_error = |reason: String| StoreError::Open {
            path: path.display().to_string(),
            reason,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| open_error(e.to_string()))?;
        }
        let mut writer = Connection::open(path).map_err(|e| open_error(e.to_string()))?;
        configure_writer(&writer).map_err(|e| open_error(e.to_string()))?;
        upgrade(&mut writer)?;
        let readers = (0..READERS)
            .map(|_| open_reader(path))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| open_error(e.to_string()))?;
        Ok(Self {
            writer: Arc::new(Mutex::new(writer)),
            readers: Some(Arc::new(ReaderPool {
                available: Semaphore::new(readers.len()),
                idle: Mutex::new(readers),
            })),
            changes: ChangeFeed::default(),
        })
    }

    /// A private store that lives as long as this value (for tests and benchmarks).
    pub fn in_memory() -> Result<Self, StoreError> {
        let open_error = |reason: String| StoreError::Open {
            path: ":memory:".into(),
            reason,
        };
        let mut connection = Connection::open_in_memory().map_err(|e| open_error(e.to_string()))?;
        configure_writer(&connection).map_err(|e| open_error(e.to_string()))?;
        upgrade(&mut connection)?;
        Ok(Self {
            writer: Arc::new(Mutex::new(connection)),
            readers: None,
            changes: ChangeFeed::default(),
        })
    }

    /// The migrations this database has applied, oldest first.
    pub async fn schema(&self) -> Result<Vec<AppliedMigration>, StoreError> {
        self.read("read schema version", |connection| {
            applied_migrations(connection).map_err(backend("read schema version"))
        })
        .await
    }

    /// Run `work` with the writer on the blocking pool. Writes are serialised here; readers keep
    /// reading the last committed state meanwhile.
    async fn write<T: Send + 'static>(
        &self,
        operation: &'static str,
        work: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let writer = Arc::clone(&self.writer);
        tokio::task::spawn_blocking(move || {
            let mut guard = writer.lock().unwrap_or_else(|poison| poison.into_inner());
            work(&mut guard)
        })
        .await
        .map_err(|error| blocking_failed(operation, error))?
    }

    /// Run `work` with a read-only connection on the blocking pool, waiting (asynchronously) for
    /// one to be free.
    pub(crate) async fn read<T: Send + 'static>(
        &self,
        operation: &'static str,
        work: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let Some(pool) = &self.readers else {
            return self.write(operation, work).await;
        };
        let permit = pool
            .available
            .acquire()
            .await
            .map_err(|error| StoreError::Backend {
                operation,
                reason: error.to_string(),
            })?;
        let pool = Arc::clone(pool);
        let result = tokio::task::spawn_blocking(move || {
            let taken = pool
                .idle
                .lock()
                .unwrap_or_else(|poison| poison.into_inner())
                .pop();
            let Some(mut connection) = taken else {
                return Err(StoreError::Backend {
                    operation,
                    reason: "no idle reader despite a permit".into(),
                });
            };
            let result = work(&mut connection);
            pool.idle
                .lock()
                .unwrap_or_else(|poison| poison.into_inner())
                .push(connection);
            result
        })
        .await
        .map_err(|error| blocking_failed(operation, error))?;
        drop(permit);
        result
    }

    /// [`Self::read`] inside one read transaction: every query of `work` sees the same snapshot.
    async fn read_snapshot<T: Send + 'static>(
        &self,
        operation: &'static str,
        work: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.read(operation, move |connection| {
            let transaction = connection.transaction().map_err(backend(operation))?;
            let result = work(&transaction)?;
            transaction.commit().map_err(backend(operation))?;
            Ok(result)
        })
        .await
    }
}

fn configure_writer(connection: &Connection) -> rusqlite::Result<()> {
    connection.busy_timeout(std::time::Duration::from_secs(5))?;
    // WAL: readers never block the writer; NORMAL sync is durable across process crashes.
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "synchronous", "NORMAL")?;
    connection.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

fn open_reader(path: &Path) -> rusqlite::Result<Connection> {
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    connection.busy_timeout(std::time::Duration::from_secs(5))?;
    connection.pragma_update(None, "query_only", "ON")?;
    Ok(connection)
}

fn applied_migrations(connection: &Connection) -> rusqlite::Result<Vec<AppliedMigration>> {
    let exists: bool = connection.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations')",
        [],
        |row| row.get(0),
    )?;
    if !exists {
        return Ok(vec![]);
    }
    let mut statement = connection.prepare(
        "SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version",
    )?;
    let rows = statement.query_map([], |row| {
        Ok(AppliedMigration {
            version: row.get(0)?,
            name: row.get(1)?,
            checksum: row.get(2)?,
            applied_at_ms: row.get(3)?,
        })
    })?;
    rows.collect()
}

/// Apply the migrations this file lacks, all in one immediate transaction (a second process
/// opening the same file waits, then finds nothing left to do).
fn upgrade(connection: &mut Connection) -> Result<(), StoreError> {
    const OP: &str = "migrate schema";
    let transaction = connection
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(backend(OP))?;
    transaction
        .execute_batch(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                version INTEGER PRIMARY KEY,
                name TEXT NOT NULL,
                checksum TEXT NOT NULL,
                applied_at INTEGER NOT NULL
            )",
        )
        .map_err(backend(OP))?;
    let applied = applied_migrations(&transaction).map_err(backend(OP))?;
    for migration in migrate::pending(migrate::SQLITE, &applied)? {
        transaction
            .execute_batch(migration.sql)
            .map_err(|error| StoreError::Backend {
                operation: OP,
                reason: format!(
                    "migration {} ({}): {error}",
                    migration.version, migration.name
                ),
            })?;
        transaction
            .execute(
                "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![migration.version, migration.name, migration.checksum(), now_ms()],
            )
            .map_err(backend(OP))?;
        tracing::info!(
            version = migration.version,
            name = migration.name,
            "applied conversation store migration"
        );
    }
    transaction.commit().map_err(backend(OP))
}

#[cfg(test)]
mod tests {
    use fathom_core::{CustomerAttributes, WorkspaceId};

    use super::*;
    use crate::model::{Change, ConversationId, NewMessage, TokenHash};
    use crate::{ConversationReports, ConversationStore, OutboxStore};

    /// A store written before migrations existed (its tables, no `schema_migrations`), with an
    /// inbound delivery id keyed without its workspace: opening it applies the migrations, and a
    /// retry of that delivery still counts as seen.
    #[tokio::test]
    async fn a_store_from_before_scoped_inbound_ids_is_migrated_and_keeps_its_ids() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("conversations.sqlite");
        {
            let old = Connection::open(&path).unwrap();
            old.execute_batch(
                "CREATE TABLE inbound_deliveries (
                     source TEXT NOT NULL,
                     delivery_id TEXT NOT NULL,
                     received_at INTEGER NOT NULL,
                     PRIMARY KEY (source, delivery_id)
                 );
                 INSERT INTO inbound_deliveries VALUES ('standard', 'msg_before', 1);",
            )
            .unwrap();
        }

        let store = SqliteStore::open(&path).unwrap();
        let acme = WorkspaceId::parse("acme").unwrap();
        let conversation = store
            .create(&acme, CustomerAttributes::default(), TokenHash::of("t"))
            .await
            .unwrap();
        let delivery = |id: &str| Change {
            messages: vec![NewMessage::agent("hi", None)],
            inbound_delivery: Some(("standard".into(), id.into())),
            ..Default::default()
        };

        let retried = store
            .apply(&acme, conversation.id, delivery("msg_before"))
            .await
            .unwrap();
        let new = store
            .apply(&acme, conversation.id, delivery("msg_after"))
            .await
            .unwrap();

        assert!(
            retried.duplicate,
            "an id received before the upgrade still counts"
        );
        assert!(!new.duplicate);
        let versions: Vec<i64> = store
            .schema()
            .await
            .unwrap()
            .iter()
            .map(|m| m.version)
            .collect();
        assert_eq!(versions, [1, 2, 3]);
        let pruned = store.prune(0, i64::MAX).await.unwrap();
        assert_eq!(
            pruned.inbound_ids, 2,
            "the old row is pruned like the others"
        );
        drop(store);
        SqliteStore::open(&path).expect("opening a migrated store again is a no-op");
    }

    /// A store from before messages were numbered per conversation (migration 0003): messages of
    /// two conversations interleaved under one counter, and feedback naming a message by it.
    /// After the upgrade each transcript counts from 1, the feedback names the same message by
    /// its new number, and the next message continues the count.
    #[tokio::test]
    async fn a_store_numbered_across_conversations_is_renumbered_per_conversation() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("conversations.sqlite");
        let (a, b) = (ConversationId::random(), ConversationId::random());
        {
            let old = Connection::open(&path).unwrap();
            old.execute_batch(crate::migrate::SQLITE[0].sql).unwrap();
            for id in [a, b] {
                old.execute(
                    "INSERT INTO conversations VALUES (?1, 'acme', ?2, 'bot', '{}', NULL, 1, 1)",
                    rusqlite::params![id.to_string(), TokenHash::of(&id.to_string()).as_str()],
                )
                .unwrap();
            }
            // Global seqs 1..=5: a, b, a, b, a.
            for (conversation, text) in [(a, "a1"), (b, "b1"), (a, "a2"), (b, "b2"), (a, "a3")] {
                old.execute(
                    "INSERT INTO messages (conversation_id, role, text, created_at) VALUES (?1, 'customer', ?2, 1)",
                    rusqlite::params![conversation.to_string(), text],
                )
                .unwrap();
            }
            // Feedback on b's second message (global seq 4).
            old.execute(
                "INSERT INTO feedback (conversation_id, message_seq, rating, created_at) VALUES (?1, 4, 'up', 1)",
                rusqlite::params![b.to_string()],
            )
            .unwrap();
        }

        let store = SqliteStore::open(&path).unwrap();
        let numbered = |messages: Vec<crate::StoredMessage>| -> Vec<(i64, String)> {
            messages.into_iter().map(|m| (m.seq, m.text)).collect()
        };
        assert_eq!(
            numbered(store.messages(a).await.unwrap()),
            [(1, "a1".into()), (2, "a2".into()), (3, "a3".into())]
        );
        assert_eq!(
            numbered(store.messages(b).await.unwrap()),
            [(1, "b1".into()), (2, "b2".into())]
        );
        let feedback = store.feedback(b).await.unwrap();
        assert_eq!(feedback[0].message_seq, Some(2), "b2 is b's second message");
        let acme = WorkspaceId::parse("acme").unwrap();
        let next = store
            .apply(
                &acme,
                b,
                Change {
                    messages: vec![NewMessage::customer("b3")],
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(next.messages[0].seq, 3);
    }
}
