//! The delivery side of the outbox ([`OutboxStore`]). One writer means one claim at a time, so a
//! claim reads and leases its events in one immediate transaction.

use async_trait::async_trait;
use fathom_core::WorkspaceId;
use rusqlite::params;
use rusqlite::types::Value as SqlValue;

use super::rows::{read_event, OUTBOX_COLUMNS};
use super::{backend, query_rows, SqliteStore};
use crate::model::{OutboxEvent, Pruned};
use crate::rows::decode_event;
use crate::{now_ms, OutboxStore, StoreError};

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
        self.write(operation, move |connection| {
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

#[async_trait]
impl OutboxStore for SqliteStore {
    async fn claim_due(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: usize,
    ) -> Result<Vec<OutboxEvent>, StoreError> {
        self.write("claim outbox events", move |connection| {
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
        self.read("read outbox", |connection| {
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
        self.read("read outbox", move |connection| {
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
        self.write("disable endpoint", move |connection| {
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
        self.read("read endpoints", move |connection| {
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

    async fn prune(
        &self,
        delivered_before_ms: i64,
        inbound_before_ms: i64,
    ) -> Result<Pruned, StoreError> {
        const OP: &str = "prune";
        self.write(OP, move |connection| {
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
}
