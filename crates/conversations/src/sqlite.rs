//! The embedded conversation store: one SQLite file in WAL mode. Calls run on tokio's blocking
//! pool so that no async task waits on the disk.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use fathom_core::{CustomerAttributes, Reason, WorkspaceId};
use rusqlite::types::Value as SqlValue;
use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};

use crate::model::{
    Applied, Change, ConversationId, ConversationState, DecisionRecord, ListQuery, MessageRole,
    OutboxEvent, OutboxStatus, Pruned, StoredConversation, StoredMessage, TokenHash,
    WorkspaceStats,
};
use crate::{now_ms, ConversationStore, StoreError};

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    workspace TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    state TEXT NOT NULL,
    customer TEXT NOT NULL,
    handoff_reason TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS conversations_by_workspace
    ON conversations (workspace, created_at);
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    role TEXT NOT NULL,
    author TEXT,
    text TEXT NOT NULL,
    decision TEXT,
    reason TEXT,
    confidence REAL,
    created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_by_conversation ON messages (conversation_id, seq);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    message_seq INTEGER,
    rating TEXT,
    comment TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS feedback_by_conversation ON feedback (conversation_id);
CREATE TABLE IF NOT EXISTS outbox (
    id TEXT PRIMARY KEY,
    workspace TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    delivered_at INTEGER,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX IF NOT EXISTS outbox_by_workspace ON outbox (workspace, created_at);
CREATE INDEX IF NOT EXISTS outbox_by_conversation ON outbox (conversation_id, status);
CREATE TABLE IF NOT EXISTS inbound_deliveries (
    workspace TEXT NOT NULL,
    source TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (workspace, source, delivery_id)
);
CREATE TABLE IF NOT EXISTS external_conversations (
    workspace TEXT NOT NULL,
    source TEXT NOT NULL,
    external_id TEXT NOT NULL,
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    PRIMARY KEY (workspace, source, external_id)
);
CREATE INDEX IF NOT EXISTS external_by_conversation ON external_conversations (conversation_id);
CREATE TABLE IF NOT EXISTS disabled_endpoints (
    workspace TEXT NOT NULL,
    url TEXT NOT NULL,
    reason TEXT NOT NULL,
    disabled_at INTEGER NOT NULL,
    PRIMARY KEY (workspace, url)
);
"#;

/// Stores written before inbound delivery ids were scoped to their workspace keyed them on
/// `(source, delivery_id)` alone, so one tenant's id silenced another's. Rebuild that table with
/// the workspace in its key. The old rows cannot be attributed to a workspace: they keep the empty
/// workspace, which [`apply_in`] treats as any workspace's until pruning removes them, so a
/// sender's retry of a delivery received before the upgrade still applies once.
fn scope_inbound_deliveries_by_workspace(connection: &Connection) -> rusqlite::Result<()> {
    let unscoped: bool = connection.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'inbound_deliveries')
            AND NOT EXISTS (SELECT 1 FROM pragma_table_info('inbound_deliveries') WHERE name = 'workspace')",
        [],
        |row| row.get(0),
    )?;
    if !unscoped {
        return Ok(());
    }
    connection.execute_batch(
        "BEGIN;
         ALTER TABLE inbound_deliveries RENAME TO inbound_deliveries_unscoped;
         CREATE TABLE inbound_deliveries (
             workspace TEXT NOT NULL,
             source TEXT NOT NULL,
             delivery_id TEXT NOT NULL,
             received_at INTEGER NOT NULL,
             PRIMARY KEY (workspace, source, delivery_id)
         );
         INSERT INTO inbound_deliveries (workspace, source, delivery_id, received_at)
             SELECT '', source, delivery_id, received_at FROM inbound_deliveries_unscoped;
         DROP TABLE inbound_deliveries_unscoped;
         COMMIT;",
    )
}

#[derive(Debug, Clone)]
pub struct SqliteStore {
    connection: Arc<Mutex<Connection>>,
}

fn backend(operation: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
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

fn corrupt(operation: &'static str, what: impl std::fmt::Display) -> StoreError {
    StoreError::Backend {
        operation,
        reason: format!("unreadable row: {what}"),
    }
}

impl SqliteStore {
    /// Open (or create) the store at `path`, in WAL mode.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let open_error = |reason: String| StoreError::Open {
            path: path.display().to_string(),
            reason,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| open_error(e.to_string()))?;
        }
        let connection = Connection::open(path).map_err(|e| open_error(e.to_string()))?;
        Self::init(connection).map_err(|e| open_error(e.to_string()))
    }

    /// A private store that lives as long as this value (for tests and benchmarks).
    pub fn in_memory() -> Result<Self, StoreError> {
        let connection = Connection::open_in_memory().map_err(|e| StoreError::Open {
            path: ":memory:".into(),
            reason: e.to_string(),
        })?;
        Self::init(connection).map_err(|e| StoreError::Open {
            path: ":memory:".into(),
            reason: e.to_string(),
        })
    }

    fn init(connection: Connection) -> Result<Self, rusqlite::Error> {
        connection.busy_timeout(std::time::Duration::from_secs(5))?;
        // WAL: readers never block the writer; NORMAL sync is durable across process crashes.
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        connection.pragma_update(None, "foreign_keys", "ON")?;
        scope_inbound_deliveries_by_workspace(&connection)?;
        connection.execute_batch(SCHEMA)?;
        Ok(Self {
            connection: Arc::new(Mutex::new(connection)),
        })
    }

    /// Run `work` with the connection on the blocking pool.
    async fn with<T: Send + 'static>(
        &self,
        operation: &'static str,
        work: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let connection = Arc::clone(&self.connection);
        tokio::task::spawn_blocking(move || {
            let mut guard = connection
                .lock()
                .unwrap_or_else(|poison| poison.into_inner());
            work(&mut guard)
        })
        .await
        .map_err(|error| StoreError::Backend {
            operation,
            reason: format!("blocking task failed: {error}"),
        })?
    }
}

impl SqliteStore {
    /// One `UPDATE` of one outbox event: `?1` is its id, `values` the following parameters. An
    /// unknown id is an error.
    async fn update_event(
        &self,
        operation: &'static str,
        sql: &'static str,
        event_id: &str,
        values: Vec<SqlValue>,
    ) -> Result<(), StoreError> {
        let event_id = event_id.to_string();
        self.with(operation, move |connection| {
            let parameters = std::iter::once(SqlValue::Text(event_id.clone())).chain(values);
            let updated = connection
                .execute(sql, rusqlite::params_from_iter(parameters))
                .map_err(backend(operation))?;
            if updated == 0 {
                return Err(StoreError::EventNotFound(event_id));
            }
            Ok(())
        })
        .await
    }
}

const CONVERSATION_COLUMNS: &str =
    "id, workspace, state, customer, handoff_reason, created_at, updated_at";

fn read_conversation(row: &Row<'_>) -> rusqlite::Result<RawConversation> {
    Ok(RawConversation {
        id: row.get(0)?,
        workspace: row.get(1)?,
        state: row.get(2)?,
        customer: row.get(3)?,
        handoff_reason: row.get(4)?,
        created_at: row.get(5)?,
        updated_at: row.get(6)?,
    })
}

struct RawConversation {
    id: String,
    workspace: String,
    state: String,
    customer: String,
    handoff_reason: Option<String>,
    created_at: i64,
    updated_at: i64,
}

fn parse_reason(raw: &str) -> Option<Reason> {
    serde_json::from_value(serde_json::Value::String(raw.to_string())).ok()
}

impl RawConversation {
    fn decode(self) -> Result<StoredConversation, StoreError> {
        const OP: &str = "read conversation";
        Ok(StoredConversation {
            id: ConversationId::parse(&self.id).ok_or_else(|| corrupt(OP, &self.id))?,
            workspace: WorkspaceId::parse(&self.workspace).map_err(|e| corrupt(OP, e))?,
            state: ConversationState::parse(&self.state).ok_or_else(|| corrupt(OP, &self.state))?,
            customer: serde_json::from_str::<CustomerAttributes>(&self.customer)
                .map_err(|e| corrupt(OP, e))?,
            handoff_reason: match self.handoff_reason {
                Some(raw) => Some(parse_reason(&raw).ok_or_else(|| corrupt(OP, raw))?),
                None => None,
            },
            created_at_ms: self.created_at,
            updated_at_ms: self.updated_at,
        })
    }
}

fn load_conversation(
    connection: &Connection,
    id: ConversationId,
) -> Result<Option<StoredConversation>, StoreError> {
    connection
        .query_row(
            &format!("SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = ?1"),
            params![id.to_string()],
            read_conversation,
        )
        .optional()
        .map_err(backend("read conversation"))?
        .map(RawConversation::decode)
        .transpose()
}

/// `seq, role, author, text, decision, created_at` as stored.
type RawMessage = (i64, String, Option<String>, String, Option<String>, i64);

fn read_message(row: &Row<'_>) -> rusqlite::Result<RawMessage> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
    ))
}

fn decode_message(
    (seq, role, author, text, decision, created_at): RawMessage,
) -> Result<StoredMessage, StoreError> {
    const OP: &str = "read message";
    Ok(StoredMessage {
        seq,
        role: MessageRole::parse(&role).ok_or_else(|| corrupt(OP, &role))?,
        author,
        text,
        decision: match decision {
            Some(raw) => {
                Some(serde_json::from_str::<DecisionRecord>(&raw).map_err(|e| corrupt(OP, e))?)
            }
            None => None,
        },
        created_at_ms: created_at,
    })
}

const OUTBOX_COLUMNS: &str = "id, workspace, conversation_id, event_type, payload, status, attempts, next_attempt_at, created_at, last_error";

type RawEvent = (
    String,
    String,
    String,
    String,
    String,
    String,
    i64,
    i64,
    i64,
    Option<String>,
);

fn read_event(row: &Row<'_>) -> rusqlite::Result<RawEvent> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
        row.get(8)?,
        row.get(9)?,
    ))
}

fn decode_event(raw: RawEvent) -> Result<OutboxEvent, StoreError> {
    const OP: &str = "read outbox event";
    let (
        id,
        workspace,
        conversation_id,
        event_type,
        payload,
        status,
        attempts,
        next,
        created,
        error,
    ) = raw;
    Ok(OutboxEvent {
        workspace: WorkspaceId::parse(&workspace).map_err(|e| corrupt(OP, e))?,
        conversation_id: ConversationId::parse(&conversation_id)
            .ok_or_else(|| corrupt(OP, &conversation_id))?,
        event_type,
        payload: serde_json::from_str(&payload).map_err(|e| corrupt(OP, e))?,
        status: OutboxStatus::parse(&status).ok_or_else(|| corrupt(OP, &status))?,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        next_attempt_at_ms: next,
        created_at_ms: created,
        last_error: error,
        id,
    })
}

fn apply_in(
    transaction: &Transaction<'_>,
    workspace: &WorkspaceId,
    id: ConversationId,
    change: Change,
) -> Result<Applied, StoreError> {
    const OP: &str = "apply change";
    let now = now_ms();
    let current = load_conversation(transaction, id)?
        .filter(|c| &c.workspace == workspace)
        .ok_or(StoreError::NotFound(id))?;
    if let Some((source, delivery_id)) = &change.inbound_delivery {
        // Scoped to the workspace: another tenant's delivery with the same id is not this one
        // (the empty workspace holds ids received before the scoping, see the migration).
        let seen_before_scoping: bool = transaction
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM inbound_deliveries WHERE workspace = '' AND source = ?1 AND delivery_id = ?2)",
                params![source, delivery_id],
                |row| row.get(0),
            )
            .map_err(backend(OP))?;
        let duplicate = seen_before_scoping
            || transaction
                .execute(
                    "INSERT OR IGNORE INTO inbound_deliveries (workspace, source, delivery_id, received_at) VALUES (?1, ?2, ?3, ?4)",
                    params![workspace.as_str(), source, delivery_id, now],
                )
                .map_err(backend(OP))?
                == 0;
        if duplicate {
            return Ok(Applied {
                conversation: current,
                messages: vec![],
                event_ids: vec![],
                duplicate: true,
            });
        }
    }
    if !change.expect_states.is_empty() && !change.expect_states.contains(&current.state) {
        return Err(StoreError::StateConflict {
            id,
            actual: current.state,
            expected: change.expect_states,
        });
    }
    let id_text = id.to_string();
    let mut messages = Vec::with_capacity(change.messages.len());
    for message in change.messages {
        let decision_json = match &message.decision {
            Some(decision) => {
                Some(
                    serde_json::to_string(decision).map_err(|e| StoreError::Backend {
                        operation: OP,
                        reason: e.to_string(),
                    })?,
                )
            }
            None => None,
        };
        transaction
            .execute(
                "INSERT INTO messages (conversation_id, role, author, text, decision, reason, confidence, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    id_text,
                    message.role.as_str(),
                    message.author,
                    message.text,
                    decision_json,
                    message.decision.as_ref().map(|d| d.reason.as_str()),
                    message.decision.as_ref().map(|d| f64::from(d.confidence)),
                    now
                ],
            )
            .map_err(backend(OP))?;
        messages.push(StoredMessage {
            seq: transaction.last_insert_rowid(),
            role: message.role,
            author: message.author,
            text: message.text,
            decision: message.decision,
            created_at_ms: now,
        });
    }
    let state = change.state.unwrap_or(current.state);
    let handoff_reason = current.handoff_reason.or(change.handoff_reason);
    transaction
        .execute(
            "UPDATE conversations SET state = ?2, handoff_reason = ?3, updated_at = ?4 WHERE id = ?1",
            params![id_text, state.as_str(), handoff_reason.map(Reason::as_str), now],
        )
        .map_err(backend(OP))?;
    if let Some(feedback) = change.feedback {
        transaction
            .execute(
                "INSERT INTO feedback (conversation_id, message_seq, rating, comment, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    id_text,
                    feedback.message_seq,
                    feedback.rating.map(|r| r.as_str()),
                    feedback.comment,
                    now
                ],
            )
            .map_err(backend(OP))?;
    }
    let mut event_ids = Vec::with_capacity(change.events.len());
    for event in change.events {
        let event_id = format!("msg_{}", uuid::Uuid::new_v4().simple());
        transaction
            .execute(
                "INSERT INTO outbox (id, workspace, conversation_id, event_type, payload, status, attempts, next_attempt_at, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'pending', 0, ?6, ?6)",
                params![
                    event_id,
                    workspace.as_str(),
                    id_text,
                    event.event_type,
                    event.payload.to_string(),
                    now
                ],
            )
            .map_err(backend(OP))?;
        event_ids.push(event_id);
    }
    Ok(Applied {
        conversation: StoredConversation {
            state,
            handoff_reason,
            updated_at_ms: now,
            ..current
        },
        messages,
        event_ids,
        duplicate: false,
    })
}

#[async_trait]
impl ConversationStore for SqliteStore {
    async fn create(
        &self,
        workspace: &WorkspaceId,
        customer: CustomerAttributes,
        token_hash: TokenHash,
    ) -> Result<StoredConversation, StoreError> {
        let workspace = workspace.clone();
        self.with("create conversation", move |connection| {
            let now = now_ms();
            let conversation = StoredConversation {
                id: ConversationId::random(),
                workspace,
                state: ConversationState::Bot,
                customer,
                handoff_reason: None,
                created_at_ms: now,
                updated_at_ms: now,
            };
            let customer_json = serde_json::to_string(&conversation.customer).map_err(|e| {
                StoreError::Backend {
                    operation: "create conversation",
                    reason: e.to_string(),
                }
            })?;
            connection
                .execute(
                    "INSERT INTO conversations (id, workspace, token_hash, state, customer, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
                    params![
                        conversation.id.to_string(),
                        conversation.workspace.as_str(),
                        token_hash.as_str(),
                        conversation.state.as_str(),
                        customer_json,
                        now
                    ],
                )
                .map_err(backend("create conversation"))?;
            Ok(conversation)
        })
        .await
    }

    async fn get(
        &self,
        workspace: &WorkspaceId,
        id: ConversationId,
    ) -> Result<Option<StoredConversation>, StoreError> {
        let workspace = workspace.clone();
        self.with("read conversation", move |connection| {
            Ok(load_conversation(connection, id)?.filter(|c| c.workspace == workspace))
        })
        .await
    }

    async fn get_for_customer(
        &self,
        id: ConversationId,
        token_hash: &TokenHash,
    ) -> Result<Option<StoredConversation>, StoreError> {
        let token_hash = token_hash.clone();
        self.with("read conversation", move |connection| {
            connection
                .query_row(
                    &format!(
                        "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = ?1 AND token_hash = ?2"
                    ),
                    params![id.to_string(), token_hash.as_str()],
                    read_conversation,
                )
                .optional()
                .map_err(backend("read conversation"))?
                .map(RawConversation::decode)
                .transpose()
        })
        .await
    }

    async fn messages(&self, id: ConversationId) -> Result<Vec<StoredMessage>, StoreError> {
        self.with("read messages", move |connection| {
            let rows = query_rows(
                connection,
                "read messages",
                "SELECT seq, role, author, text, decision, created_at FROM messages
                 WHERE conversation_id = ?1 ORDER BY seq",
                params![id.to_string()],
                read_message,
            )?;
            rows.into_iter().map(decode_message).collect()
        })
        .await
    }

    async fn apply(
        &self,
        workspace: &WorkspaceId,
        id: ConversationId,
        change: Change,
    ) -> Result<Applied, StoreError> {
        let workspace = workspace.clone();
        self.with("apply change", move |connection| {
            let transaction = connection
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(backend("apply change"))?;
            let applied = apply_in(&transaction, &workspace, id, change)?;
            transaction.commit().map_err(backend("apply change"))?;
            Ok(applied)
        })
        .await
    }

    async fn list(
        &self,
        workspace: &WorkspaceId,
        query: ListQuery,
    ) -> Result<Vec<StoredConversation>, StoreError> {
        let workspace = workspace.clone();
        self.with("list conversations", move |connection| {
            let rows = query_rows(
                connection,
                "list conversations",
                &format!(
                    "SELECT {CONVERSATION_COLUMNS} FROM conversations
                     WHERE workspace = ?1 AND (?2 IS NULL OR state = ?2)
                     ORDER BY created_at DESC, id LIMIT ?3"
                ),
                params![
                    workspace.as_str(),
                    query.state.map(ConversationState::as_str),
                    i64::try_from(query.limit).unwrap_or(i64::MAX)
                ],
                read_conversation,
            )?;
            rows.into_iter().map(RawConversation::decode).collect()
        })
        .await
    }

    async fn stats(&self, workspace: &WorkspaceId) -> Result<WorkspaceStats, StoreError> {
        let workspace = workspace.clone();
        self.with("stats", move |connection| {
            const OP: &str = "stats";
            let counts = |sql: &str| -> Result<BTreeMap<String, u64>, StoreError> {
                let rows = query_rows(connection, OP, sql, params![workspace.as_str()], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
                })?;
                Ok(rows
                    .into_iter()
                    .map(|(key, count)| (key, count.max(0) as u64))
                    .collect())
            };
            let by_state = counts(
                "SELECT state, COUNT(*) FROM conversations WHERE workspace = ?1 GROUP BY state",
            )?;
            let handoffs_by_reason = counts(
                "SELECT handoff_reason, COUNT(*) FROM conversations
                 WHERE workspace = ?1 AND handoff_reason IS NOT NULL GROUP BY handoff_reason",
            )?;
            let feedback = counts(
                "SELECT f.rating, COUNT(*) FROM feedback f JOIN conversations c ON c.id = f.conversation_id
                 WHERE c.workspace = ?1 AND f.rating IS NOT NULL GROUP BY f.rating",
            )?;
            let outbox = counts(
                "SELECT status, COUNT(*) FROM outbox WHERE workspace = ?1 GROUP BY status",
            )?;
            let resolved_by_bot: i64 = connection
                .query_row(
                    "SELECT COUNT(*) FROM conversations
                     WHERE workspace = ?1 AND state = 'resolved' AND handoff_reason IS NULL",
                    params![workspace.as_str()],
                    |row| row.get(0),
                )
                .map_err(backend(OP))?;
            let conversations: u64 = by_state.values().sum();
            let handed_off: u64 = handoffs_by_reason.values().sum();
            let resolved_by_bot = resolved_by_bot.max(0) as u64;
            Ok(WorkspaceStats {
                conversations,
                resolution_rate: if conversations == 0 {
                    0.0
                } else {
                    resolved_by_bot as f64 / conversations as f64
                },
                by_state,
                resolved_by_bot,
                handed_off,
                handoffs_by_reason,
                feedback_up: feedback.get("up").copied().unwrap_or(0),
                feedback_down: feedback.get("down").copied().unwrap_or(0),
                outbox,
            })
        })
        .await
    }

    async fn feedback(&self, id: ConversationId) -> Result<Vec<crate::FeedbackRecord>, StoreError> {
        self.with("read feedback", move |connection| {
            let rows = query_rows(
                connection,
                "read feedback",
                &format!("{FEEDBACK_SELECT} WHERE conversation_id = ?1 ORDER BY id"),
                params![id.to_string()],
                read_feedback,
            )?;
            rows.into_iter()
                .map(|raw| decode_feedback(id, raw))
                .collect()
        })
        .await
    }

    async fn activity(
        &self,
        workspace: &WorkspaceId,
        since_ms: i64,
        limit: usize,
    ) -> Result<Vec<crate::ConversationActivity>, StoreError> {
        let workspace = workspace.clone();
        self.with("read activity", move |connection| {
            read_activity(connection, &workspace, since_ms, limit)
        })
        .await
    }

    async fn claim_due(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: usize,
    ) -> Result<Vec<OutboxEvent>, StoreError> {
        self.with("claim outbox events", move |connection| {
            const OP: &str = "claim outbox events";
            let transaction = connection
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(backend(OP))?;
            let raw = query_rows(
                &transaction,
                OP,
                &format!(
                    "SELECT {OUTBOX_COLUMNS} FROM outbox AS event
                     WHERE status = 'pending' AND next_attempt_at <= ?1
                       AND NOT EXISTS (
                           SELECT 1 FROM outbox AS earlier
                           WHERE earlier.conversation_id = event.conversation_id
                             AND earlier.status = 'pending'
                             AND earlier.rowid < event.rowid)
                     ORDER BY next_attempt_at, created_at LIMIT ?2"
                ),
                params![now_ms, i64::try_from(limit).unwrap_or(i64::MAX)],
                read_event,
            )?;
            let mut events = Vec::with_capacity(raw.len());
            for row in raw {
                let mut event = decode_event(row)?;
                event.attempts += 1;
                event.next_attempt_at_ms = now_ms + lease_ms;
                transaction
                    .execute(
                        "UPDATE outbox SET attempts = ?2, next_attempt_at = ?3 WHERE id = ?1",
                        params![event.id, event.attempts, event.next_attempt_at_ms],
                    )
                    .map_err(backend(OP))?;
                events.push(event);
            }
            transaction.commit().map_err(backend(OP))?;
            Ok(events)
        })
        .await
    }

    async fn next_due_at(&self) -> Result<Option<i64>, StoreError> {
        self.with("read outbox", |connection| {
            connection
                .query_row(
                    "SELECT MIN(next_attempt_at) FROM outbox WHERE status = 'pending'",
                    [],
                    |row| row.get::<_, Option<i64>>(0),
                )
                .map_err(backend("read outbox"))
        })
        .await
    }

    async fn mark_delivered(&self, event_id: &str, now_ms: i64) -> Result<(), StoreError> {
        self.update_event(
            "mark delivered",
            "UPDATE outbox SET status = 'delivered', delivered_at = ?2, last_error = NULL WHERE id = ?1",
            event_id,
            vec![SqlValue::Integer(now_ms)],
        )
        .await
    }

    async fn schedule_retry(
        &self,
        event_id: &str,
        next_attempt_at_ms: i64,
        error: &str,
    ) -> Result<(), StoreError> {
        self.update_event(
            "schedule retry",
            "UPDATE outbox SET next_attempt_at = ?2, last_error = ?3 WHERE id = ?1 AND status = 'pending'",
            event_id,
            vec![
                SqlValue::Integer(next_attempt_at_ms),
                SqlValue::Text(error.to_string()),
            ],
        )
        .await
    }

    async fn mark_dead(&self, event_id: &str, error: &str) -> Result<(), StoreError> {
        self.update_event(
            "mark dead",
            "UPDATE outbox SET status = 'dead', last_error = ?2 WHERE id = ?1",
            event_id,
            vec![SqlValue::Text(error.to_string())],
        )
        .await
    }

    async fn outbox(&self, workspace: &WorkspaceId) -> Result<Vec<OutboxEvent>, StoreError> {
        let workspace = workspace.clone();
        self.with("read outbox", move |connection| {
            let rows = query_rows(
                connection,
                "read outbox",
                &format!(
                    "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE workspace = ?1 ORDER BY created_at, rowid"
                ),
                params![workspace.as_str()],
                read_event,
            )?;
            rows.into_iter().map(decode_event).collect()
        })
        .await
    }

    async fn disable_endpoint(
        &self,
        workspace: &WorkspaceId,
        url: &str,
        reason: &str,
    ) -> Result<(), StoreError> {
        let (workspace, url, reason) = (workspace.clone(), url.to_string(), reason.to_string());
        self.with("disable endpoint", move |connection| {
            connection
                .execute(
                    "INSERT OR REPLACE INTO disabled_endpoints (workspace, url, reason, disabled_at) VALUES (?1, ?2, ?3, ?4)",
                    params![workspace.as_str(), url, reason, now_ms()],
                )
                .map_err(backend("disable endpoint"))?;
            Ok(())
        })
        .await
    }

    async fn endpoint_disabled(
        &self,
        workspace: &WorkspaceId,
        url: &str,
    ) -> Result<bool, StoreError> {
        let (workspace, url) = (workspace.clone(), url.to_string());
        self.with("read endpoints", move |connection| {
            connection
                .query_row(
                    "SELECT COUNT(*) FROM disabled_endpoints WHERE workspace = ?1 AND url = ?2",
                    params![workspace.as_str(), url],
                    |row| row.get::<_, i64>(0),
                )
                .map(|count| count > 0)
                .map_err(backend("read endpoints"))
        })
        .await
    }

    async fn link_external(
        &self,
        workspace: &WorkspaceId,
        source: &str,
        external_id: &str,
        id: ConversationId,
    ) -> Result<ConversationId, StoreError> {
        let (workspace, source, external_id) = (
            workspace.clone(),
            source.to_string(),
            external_id.to_string(),
        );
        self.with("link external conversation", move |connection| {
            const OP: &str = "link external conversation";
            connection
                .execute(
                    "INSERT OR IGNORE INTO external_conversations (workspace, source, external_id, conversation_id)
                     VALUES (?1, ?2, ?3, ?4)",
                    params![workspace.as_str(), source, external_id, id.to_string()],
                )
                .map_err(backend(OP))?;
            let linked: String = connection
                .query_row(
                    "SELECT conversation_id FROM external_conversations
                     WHERE workspace = ?1 AND source = ?2 AND external_id = ?3",
                    params![workspace.as_str(), source, external_id],
                    |row| row.get(0),
                )
                .map_err(backend(OP))?;
            ConversationId::parse(&linked).ok_or_else(|| corrupt(OP, linked))
        })
        .await
    }

    async fn find_external(
        &self,
        workspace: &WorkspaceId,
        source: &str,
        external_id: &str,
    ) -> Result<Option<ConversationId>, StoreError> {
        let (workspace, source, external_id) = (
            workspace.clone(),
            source.to_string(),
            external_id.to_string(),
        );
        self.with("find external conversation", move |connection| {
            const OP: &str = "find external conversation";
            let linked: Option<String> = connection
                .query_row(
                    "SELECT conversation_id FROM external_conversations
                     WHERE workspace = ?1 AND source = ?2 AND external_id = ?3",
                    params![workspace.as_str(), source, external_id],
                    |row| row.get(0),
                )
                .optional()
                .map_err(backend(OP))?;
            linked
                .map(|raw| ConversationId::parse(&raw).ok_or_else(|| corrupt(OP, raw)))
                .transpose()
        })
        .await
    }

    async fn external_id_of(
        &self,
        workspace: &WorkspaceId,
        source: &str,
        id: ConversationId,
    ) -> Result<Option<String>, StoreError> {
        let (workspace, source) = (workspace.clone(), source.to_string());
        self.with("find external id", move |connection| {
            connection
                .query_row(
                    "SELECT external_id FROM external_conversations
                     WHERE workspace = ?1 AND source = ?2 AND conversation_id = ?3
                     ORDER BY rowid LIMIT 1",
                    params![workspace.as_str(), source, id.to_string()],
                    |row| row.get(0),
                )
                .optional()
                .map_err(backend("find external id"))
        })
        .await
    }

    async fn prune(
        &self,
        delivered_before_ms: i64,
        inbound_before_ms: i64,
    ) -> Result<Pruned, StoreError> {
        const OP: &str = "prune";
        self.with(OP, move |connection| {
            let transaction = connection.transaction().map_err(backend(OP))?;
            let delivered_events = transaction
                .execute(
                    "DELETE FROM outbox WHERE status = 'delivered' AND delivered_at < ?1",
                    params![delivered_before_ms],
                )
                .map_err(backend(OP))?;
            let inbound_ids = transaction
                .execute(
                    "DELETE FROM inbound_deliveries WHERE received_at < ?1",
                    params![inbound_before_ms],
                )
                .map_err(backend(OP))?;
            transaction.commit().map_err(backend(OP))?;
            Ok(Pruned {
                delivered_events,
                inbound_ids,
            })
        })
        .await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.with("ping", |connection| {
            connection
                .query_row("SELECT 1", [], |row| row.get::<_, i64>(0))
                .map(|_| ())
                .map_err(backend("ping"))
        })
        .await
    }
}

/// The conversations of [`ConversationStore::activity`], with their messages and feedback: three
/// queries over the same selection, on one connection (no write can interleave).
fn read_activity(
    connection: &Connection,
    workspace: &WorkspaceId,
    since_ms: i64,
    limit: usize,
) -> Result<Vec<crate::ConversationActivity>, StoreError> {
    const OP: &str = "read activity";
    const SELECTION: &str = "SELECT id FROM conversations WHERE workspace = ?1 AND created_at >= ?2
         ORDER BY created_at DESC, id LIMIT ?3";
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let selection = params![workspace.as_str(), since_ms, limit];
    let conversations = query_rows(
        connection,
        OP,
        &format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations
             WHERE workspace = ?1 AND created_at >= ?2 ORDER BY created_at DESC, id LIMIT ?3"
        ),
        selection,
        read_conversation,
    )?;
    let mut activity: Vec<crate::ConversationActivity> = Vec::with_capacity(conversations.len());
    let mut position: std::collections::HashMap<String, usize> = Default::default();
    for raw in conversations {
        let conversation = raw.decode()?;
        position.insert(conversation.id.to_string(), activity.len());
        activity.push(crate::ConversationActivity {
            conversation,
            messages: vec![],
            feedback: vec![],
        });
    }
    let messages: Vec<(String, RawMessage)> = query_rows(
        connection,
        OP,
        &format!(
            "SELECT conversation_id, seq, role, author, text, decision, created_at FROM messages
             WHERE conversation_id IN ({SELECTION}) ORDER BY seq"
        ),
        selection,
        |row| {
            Ok((
                row.get::<_, String>(0)?,
                (
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                    row.get(5)?,
                    row.get(6)?,
                ),
            ))
        },
    )?;
    for (conversation_id, raw) in messages {
        if let Some(&index) = position.get(&conversation_id) {
            activity[index].messages.push(decode_message(raw)?);
        }
    }
    let feedback = query_rows(
        connection,
        OP,
        &format!("{FEEDBACK_SELECT} WHERE conversation_id IN ({SELECTION}) ORDER BY id"),
        selection,
        read_feedback,
    )?;
    for raw in feedback {
        let Some(&index) = position.get(&raw.0) else {
            continue;
        };
        let conversation_id = activity[index].conversation.id;
        activity[index]
            .feedback
            .push(decode_feedback(conversation_id, raw)?);
    }
    Ok(activity)
}

const FEEDBACK_SELECT: &str =
    "SELECT conversation_id, message_seq, rating, comment, created_at FROM feedback";

/// `conversation_id, message_seq, rating, comment, created_at` as stored.
type RawFeedback = (String, Option<i64>, Option<String>, Option<String>, i64);

fn read_feedback(row: &Row<'_>) -> rusqlite::Result<RawFeedback> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
    ))
}

fn decode_feedback(
    conversation_id: ConversationId,
    (_, message_seq, rating, comment, created_at_ms): RawFeedback,
) -> Result<crate::FeedbackRecord, StoreError> {
    let rating = match rating.as_deref() {
        None => None,
        Some("up") => Some(crate::model::Rating::Up),
        Some("down") => Some(crate::model::Rating::Down),
        Some(other) => return Err(corrupt("read feedback", other)),
    };
    Ok(crate::FeedbackRecord {
        conversation_id,
        message_seq,
        rating,
        comment,
        created_at_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::NewMessage;

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
        let pruned = store.prune(0, i64::MAX).await.unwrap();
        assert_eq!(
            pruned.inbound_ids, 2,
            "the old row is pruned like the others"
        );
        drop(store);
        SqliteStore::open(&path).expect("opening a migrated store again is a no-op");
    }
}
