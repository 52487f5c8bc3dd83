//! What the admin API and the console read ([`ConversationReports`]): each call one read
//! transaction, so its several queries see the same snapshot.

use std::collections::BTreeMap;

use async_trait::async_trait;
use fathom_core::WorkspaceId;
use rusqlite::{params, Connection};

use super::rows::{read_conversation, read_feedback, CONVERSATION_COLUMNS, FEEDBACK_SELECT};
use super::{backend, query_rows, SqliteStore};
use crate::model::{ConversationActivity, ConversationId, FeedbackRecord, WorkspaceStats};
use crate::rows::{assemble_activity, decode_feedback, RawMessage, StatsCounts};
use crate::{ConversationReports, StoreError};

#[async_trait]
impl ConversationReports for SqliteStore {
    async fn stats(&self, workspace: &WorkspaceId) -> Result<WorkspaceStats, StoreError> {
        let workspace = workspace.clone();
        self.read_snapshot("stats", move |connection| {
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
            Ok(StatsCounts {
                by_state,
                handoffs_by_reason,
                feedback,
                outbox,
                resolved_by_bot: resolved_by_bot.max(0) as u64,
            }
            .into())
        })
        .await
    }

    async fn feedback(&self, id: ConversationId) -> Result<Vec<FeedbackRecord>, StoreError> {
        self.read("read feedback", move |connection| {
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
    ) -> Result<Vec<ConversationActivity>, StoreError> {
        let workspace = workspace.clone();
        self.read_snapshot("read activity", move |connection| {
            read_activity(connection, &workspace, since_ms, limit)
        })
        .await
    }
}

/// The conversations of [`ConversationReports::activity`], with their messages and feedback: three
/// queries over the same selection, in one read transaction (no write can interleave).
fn read_activity(
    connection: &Connection,
    workspace: &WorkspaceId,
    since_ms: i64,
    limit: usize,
) -> Result<Vec<ConversationActivity>, StoreError> {
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
    let messages: Vec<(String, RawMessage)> = query_rows(
        connection,
        OP,
        &format!(
            "SELECT conversation_id, conversation_seq, role, author, text, decision, created_at FROM messages
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
    let feedback = query_rows(
        connection,
        OP,
        &format!("{FEEDBACK_SELECT} WHERE conversation_id IN ({SELECTION}) ORDER BY id"),
        selection,
        read_feedback,
    )?;
    assemble_activity(conversations, messages, feedback)
}
