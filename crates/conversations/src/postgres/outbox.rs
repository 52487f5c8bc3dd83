//! The delivery side of the outbox ([`OutboxStore`]) for several gateways at once. A claim
//! locks the due events it takes with `FOR UPDATE SKIP LOCKED` (another gateway's claim skips
//! them instead of waiting) and leases them in the same statement; an event waits while an
//! earlier event of its conversation is pending, so each conversation's events go out one at a
//! time, in order, whichever gateway sends them.

use async_trait::async_trait;
use fathom_core::WorkspaceId;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use super::{backend, PostgresStore};
use crate::model::{OutboxEvent, Pruned};
use crate::rows::{decode_event, RawEvent};
use crate::{now_ms, OutboxStore, StoreError};

const OUTBOX_COLUMNS: &str = "id, workspace, conversation_id::text, event_type, payload, status, attempts, next_attempt_at, created_at, last_error";

fn read_event(row: &Row) -> Result<RawEvent, tokio_postgres::Error> {
    Ok((
        row.try_get(0)?,
        row.try_get(1)?,
        row.try_get(2)?,
        row.try_get(3)?,
        row.try_get(4)?,
        row.try_get(5)?,
        i64::from(row.try_get::<_, i32>(6)?),
        row.try_get(7)?,
        row.try_get(8)?,
        row.try_get(9)?,
    ))
}

fn decode_rows(operation: &'static str, rows: &[Row]) -> Result<Vec<OutboxEvent>, StoreError> {
    rows.iter()
        .map(|row| decode_event(read_event(row).map_err(backend(operation))?))
        .collect()
}

impl PostgresStore {
    /// One `UPDATE` of one outbox event: `$1` is its id, `values` the following parameters. An
    /// unknown id is an error.
    async fn update_event(
        &self,
        operation: &'static str,
        sql: &'static str,
        event_id: &str,
        values: &[&(dyn ToSql + Sync)],
    ) -> Result<(), StoreError> {
        let client = self.client(operation).await?;
        let statement = client
            .prepare_cached(sql)
            .await
            .map_err(backend(operation))?;
        let parameters: Vec<&(dyn ToSql + Sync)> = std::iter::once(&event_id as _)
            .chain(values.iter().copied())
            .collect();
        let updated = client
            .execute(&statement, &parameters)
            .await
            .map_err(backend(operation))?;
        if updated == 0 {
            return Err(StoreError::EventNotFound(event_id.to_string()));
        }
        Ok(())
    }
}

#[async_trait]
impl OutboxStore for PostgresStore {
    async fn claim_due(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: usize,
    ) -> Result<Vec<OutboxEvent>, StoreError> {
        const OP: &str = "claim outbox events";
        let client = self.client(OP).await?;
        // One statement, so one implicit transaction: the rows stay locked from the SELECT to
        // the UPDATE. A row another claim leased meanwhile is re-checked against the WHERE clause
        // (READ COMMITTED) and dropped, so no event is taken twice.
        let statement = client
            .prepare_cached(&format!(
                "WITH due AS (
                     SELECT id FROM outbox AS event
                     WHERE status = 'pending' AND next_attempt_at <= $1
                       AND NOT EXISTS (
                           SELECT 1 FROM outbox AS earlier
                           WHERE earlier.conversation_id = event.conversation_id
                             AND earlier.status = 'pending'
                             AND earlier.seq < event.seq)
                     ORDER BY next_attempt_at, seq
                     LIMIT $3
                     FOR UPDATE SKIP LOCKED)
                 UPDATE outbox SET attempts = attempts + 1, next_attempt_at = $1 + $2
                 FROM due WHERE outbox.id = due.id
                 RETURNING {}, outbox.seq",
                qualified(OUTBOX_COLUMNS)
            ))
            .await
            .map_err(backend(OP))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut rows = client
            .query(&statement, &[&now_ms, &lease_ms, &limit])
            .await
            .map_err(backend(OP))?;
        rows.sort_by_key(|row| row.get::<_, i64>(10));
        decode_rows(OP, &rows)
    }

    async fn next_due_at(&self) -> Result<Option<i64>, StoreError> {
        const OP: &str = "read outbox";
        let client = self.client(OP).await?;
        let statement = client
            .prepare_cached("SELECT MIN(next_attempt_at) FROM outbox WHERE status = 'pending'")
            .await
            .map_err(backend(OP))?;
        client
            .query_one(&statement, &[])
            .await
            .map(|row| row.get::<_, Option<i64>>(0))
            .map_err(backend(OP))
    }

    async fn mark_delivered(&self, event_id: &str, now_ms: i64) -> Result<(), StoreError> {
        self.update_event(
            "mark delivered",
            "UPDATE outbox SET status = 'delivered', delivered_at = $2, last_error = NULL WHERE id = $1",
            event_id,
            &[&now_ms],
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
            "UPDATE outbox SET next_attempt_at = $2, last_error = $3 WHERE id = $1 AND status = 'pending'",
            event_id,
            &[&next_attempt_at_ms, &error],
        )
        .await
    }

    async fn mark_dead(&self, event_id: &str, error: &str) -> Result<(), StoreError> {
        self.update_event(
            "mark dead",
            "UPDATE outbox SET status = 'dead', last_error = $2 WHERE id = $1",
            event_id,
            &[&error],
        )
        .await
    }

    async fn outbox(&self, workspace: &WorkspaceId) -> Result<Vec<OutboxEvent>, StoreError> {
        const OP: &str = "read outbox";
        let client = self.client(OP).await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE workspace = $1 ORDER BY created_at, seq"
                ),
                &[&workspace.as_str()],
            )
            .await
            .map_err(backend(OP))?;
        decode_rows(OP, &rows)
    }

    async fn disable_endpoint(
        &self,
        workspace: &WorkspaceId,
        url: &str,
        reason: &str,
    ) -> Result<(), StoreError> {
        const OP: &str = "disable endpoint";
        let client = self.client(OP).await?;
        client
            .execute(
                "INSERT INTO disabled_endpoints (workspace, url, reason, disabled_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (workspace, url) DO UPDATE SET reason = EXCLUDED.reason, disabled_at = EXCLUDED.disabled_at",
                &[&workspace.as_str(), &url, &reason, &now_ms()],
            )
            .await
            .map_err(backend(OP))?;
        Ok(())
    }

    async fn endpoint_disabled(
        &self,
        workspace: &WorkspaceId,
        url: &str,
    ) -> Result<bool, StoreError> {
        const OP: &str = "read endpoints";
        let client = self.client(OP).await?;
        let statement = client
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM disabled_endpoints WHERE workspace = $1 AND url = $2)",
            )
            .await
            .map_err(backend(OP))?;
        client
            .query_one(&statement, &[&workspace.as_str(), &url])
            .await
            .map(|row| row.get(0))
            .map_err(backend(OP))
    }

    async fn prune(
        &self,
        delivered_before_ms: i64,
        inbound_before_ms: i64,
    ) -> Result<Pruned, StoreError> {
        const OP: &str = "prune";
        let mut client = self.client(OP).await?;
        let transaction = client.transaction().await.map_err(backend(OP))?;
        let delivered_events = transaction
            .execute(
                "DELETE FROM outbox WHERE status = 'delivered' AND delivered_at < $1",
                &[&delivered_before_ms],
            )
            .await
            .map_err(backend(OP))?;
        let inbound_ids = transaction
            .execute(
                "DELETE FROM inbound_deliveries WHERE received_at < $1",
                &[&inbound_before_ms],
            )
            .await
            .map_err(backend(OP))?;
        transaction.commit().await.map_err(backend(OP))?;
        Ok(Pruned {
            delivered_events: delivered_events as usize,
            inbound_ids: inbound_ids as usize,
        })
    }
}

/// `a, b::text` → `outbox.a, outbox.b::text` (the claim's `UPDATE … FROM` joins two relations).
fn qualified(columns: &str) -> String {
    columns
        .split(", ")
        .map(|column| format!("outbox.{column}"))
        .collect::<Vec<_>>()
        .join(", ")
}
