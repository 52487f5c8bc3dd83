//! What the admin API and the console read ([`ConversationReports`]) on Postgres: the queries of
//! one call run in one read-only `REPEATABLE READ` transaction, one snapshot.

use std::collections::BTreeMap;

use async_trait::async_trait;
use fathom_core::WorkspaceId;
use tokio_postgres::types::ToSql;
use tokio_postgres::{IsolationLevel, Row};

use super::conversations::{
    read_conversation, read_message, CONVERSATION_COLUMNS, MESSAGE_COLUMNS,
};
use super::{backend, PostgresStore};
use crate::model::{ConversationActivity, ConversationId, FeedbackRecord, WorkspaceStats};
use crate::rows::{assemble_activity, decode_feedback, RawFeedback, StatsCounts};
use crate::{ConversationReports, StoreError};

const FEEDBACK_SELECT: &str =
    "SELECT conversation_id::text, message_seq, rating, comment, created_at FROM feedback";

fn read_feedback(row: &Row) -> Result<RawFeedback, tokio_postgres::Error> {
    Ok((
        row.try_get(0)?,
        row.try_get(1)?,
        row.try_get(2)?,
        row.try_get(3)?,
        row.try_get(4)?,
    ))
}

/// A read-only snapshot transaction on a pooled connection.
async fn snapshot<'a>(
    operation: &'static str,
    client: &'a mut deadpool_postgres::Client,
) -> Result<deadpool_postgres::Transaction<'a>, StoreError> {
    client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(backend(operation))
}

/// `key → count` rows of a `GROUP BY`.
async fn counts(
    transaction: &deadpool_postgres::Transaction<'_>,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<BTreeMap<String, u64>, StoreError> {
    let rows = transaction
        .query(sql, params)
        .await
        .map_err(backend("stats"))?;
    rows.iter()
        .map(|row| {
            let key: String = row.try_get(0)?;
            let count: i64 = row.try_get(1)?;
            Ok((key, count.max(0) as u64))
        })
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(backend("stats"))
}

#[async_trait]
impl ConversationReports for PostgresStore {
    async fn stats(&self, workspace: &WorkspaceId) -> Result<WorkspaceStats, StoreError> {
        const OP: &str = "stats";
        let mut client = self.client(OP).await?;
        let transaction = snapshot(OP, &mut client).await?;
        let workspace = workspace.as_str();
        let by_state = counts(
            &transaction,
            "SELECT state, COUNT(*) FROM conversations WHERE workspace = $1 GROUP BY state",
            &[&workspace],
        )
        .await?;
        let handoffs_by_reason = counts(
            &transaction,
            "SELECT handoff_reason, COUNT(*) FROM conversations
             WHERE workspace = $1 AND handoff_reason IS NOT NULL GROUP BY handoff_reason",
            &[&workspace],
        )
        .await?;
        let feedback = counts(
            &transaction,
            "SELECT f.rating, COUNT(*) FROM feedback f JOIN conversations c ON c.id = f.conversation_id
             WHERE c.workspace = $1 AND f.rating IS NOT NULL GROUP BY f.rating",
            &[&workspace],
        )
        .await?;
        let outbox = counts(
            &transaction,
            "SELECT status, COUNT(*) FROM outbox WHERE workspace = $1 GROUP BY status",
            &[&workspace],
        )
        .await?;
        let resolved_by_bot: i64 = transaction
            .query_one(
                "SELECT COUNT(*) FROM conversations
                 WHERE workspace = $1 AND state = 'resolved' AND handoff_reason IS NULL",
                &[&workspace],
            )
            .await
            .map_err(backend(OP))?
            .get(0);
        transaction.commit().await.map_err(backend(OP))?;
        Ok(StatsCounts {
            by_state,
            handoffs_by_reason,
            feedback,
            outbox,
            resolved_by_bot: resolved_by_bot.max(0) as u64,
        }
        .into())
    }

    async fn feedback(&self, id: ConversationId) -> Result<Vec<FeedbackRecord>, StoreError> {
        const OP: &str = "read feedback";
        let client = self.client(OP).await?;
        let rows = client
            .query(
                &format!("{FEEDBACK_SELECT} WHERE conversation_id = $1 ORDER BY id"),
                &[id.as_uuid()],
            )
            .await
            .map_err(backend(OP))?;
        rows.iter()
            .map(|row| decode_feedback(id, read_feedback(row).map_err(backend(OP))?))
            .collect()
    }

    async fn activity(
        &self,
        workspace: &WorkspaceId,
        since_ms: i64,
        limit: usize,
    ) -> Result<Vec<ConversationActivity>, StoreError> {
        const OP: &str = "read activity";
        const SELECTION: &str =
            "SELECT id FROM conversations WHERE workspace = $1 AND created_at >= $2
             ORDER BY created_at DESC, id LIMIT $3";
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let workspace = workspace.as_str();
        let selection: [&(dyn ToSql + Sync); 3] = [&workspace, &since_ms, &limit];
        let mut client = self.client(OP).await?;
        let transaction = snapshot(OP, &mut client).await?;
        let conversations = transaction
            .query(
                &format!(
                    "SELECT {CONVERSATION_COLUMNS} FROM conversations
                     WHERE workspace = $1 AND created_at >= $2 ORDER BY created_at DESC, id LIMIT $3"
                ),
                &selection,
            )
            .await
            .map_err(backend(OP))?
            .iter()
            .map(read_conversation)
            .collect::<Result<Vec<_>, _>>()
            .map_err(backend(OP))?;
        let messages = transaction
            .query(
                &format!(
                    "SELECT conversation_id::text, {MESSAGE_COLUMNS} FROM messages
                     WHERE conversation_id IN ({SELECTION}) ORDER BY seq"
                ),
                &selection,
            )
            .await
            .map_err(backend(OP))?
            .iter()
            .map(|row| Ok((row.try_get::<_, String>(0)?, read_message(row, 1)?)))
            .collect::<Result<Vec<_>, tokio_postgres::Error>>()
            .map_err(backend(OP))?;
        let feedback = transaction
            .query(
                &format!("{FEEDBACK_SELECT} WHERE conversation_id IN ({SELECTION}) ORDER BY id"),
                &selection,
            )
            .await
            .map_err(backend(OP))?
            .iter()
            .map(read_feedback)
            .collect::<Result<Vec<_>, _>>()
            .map_err(backend(OP))?;
        transaction.commit().await.map_err(backend(OP))?;
        assemble_activity(conversations, messages, feedback)
    }
}
