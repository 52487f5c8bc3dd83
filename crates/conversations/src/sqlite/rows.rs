//! Reading SQLite's rows into the shared raw rows ([`crate::rows`]).

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::backend;
use crate::model::{ConversationId, StoredConversation};
use crate::rows::{RawConversation, RawEvent, RawFeedback, RawMessage};
use crate::StoreError;

pub(super) const CONVERSATION_COLUMNS: &str =
    "id, workspace, state, customer, handoff_reason, created_at, updated_at";

pub(super) fn read_conversation(row: &Row<'_>) -> rusqlite::Result<RawConversation> {
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

pub(super) fn load_conversation(
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

/// Columns `seq, role, author, text, decision, created_at`.
pub(super) fn read_message(row: &Row<'_>) -> rusqlite::Result<RawMessage> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
    ))
}

pub(super) const OUTBOX_COLUMNS: &str = "id, workspace, conversation_id, event_type, payload, status, attempts, next_attempt_at, created_at, last_error";

pub(super) fn read_event(row: &Row<'_>) -> rusqlite::Result<RawEvent> {
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

pub(super) const FEEDBACK_SELECT: &str =
    "SELECT conversation_id, message_seq, rating, comment, created_at FROM feedback";

pub(super) fn read_feedback(row: &Row<'_>) -> rusqlite::Result<RawFeedback> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
    ))
}
