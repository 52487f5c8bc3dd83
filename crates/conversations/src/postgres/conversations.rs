//! Conversations, transcripts and atomic changes ([`ConversationStore`]) on Postgres. A change
//! locks its conversation's row (`FOR UPDATE`) first, so changes to one conversation from any
//! gateway take turns, and announces itself with `pg_notify`, delivered on commit only.

use async_trait::async_trait;
use fathom_core::{CustomerAttributes, Reason, WorkspaceId};
use tokio_postgres::Row;

use super::{backend, PostgresStore, CHANGES_CHANNEL};
use crate::model::{
    Applied, Change, ConversationId, ConversationState, ListQuery, StoredConversation,
    StoredMessage, TokenHash,
};
use crate::rows::{
    check_expected_state, decode_message, duplicate, encode_json, new_event_id, RawConversation,
    RawMessage,
};
use crate::{now_ms, ChangeFeed, ConversationStore, StoreError};

/// Ids and JSON come back as text, the shape [`crate::rows`] decodes.
pub(super) const CONVERSATION_COLUMNS: &str =
    "id::text, workspace, state, customer::text, handoff_reason, created_at, updated_at";

pub(super) fn read_conversation(row: &Row) -> Result<RawConversation, tokio_postgres::Error> {
    Ok(RawConversation {
        id: row.try_get(0)?,
        workspace: row.try_get(1)?,
        state: row.try_get(2)?,
        customer: row.try_get(3)?,
        handoff_reason: row.try_get(4)?,
        created_at: row.try_get(5)?,
        updated_at: row.try_get(6)?,
    })
}

pub(super) fn decode_conversation(
    operation: &'static str,
    row: &Row,
) -> Result<StoredConversation, StoreError> {
    read_conversation(row).map_err(backend(operation))?.decode()
}

pub(super) const MESSAGE_COLUMNS: &str =
    "conversation_seq, role, author, text, decision::text, created_at";

/// Columns [`MESSAGE_COLUMNS`] from `offset` on.
pub(super) fn read_message(row: &Row, offset: usize) -> Result<RawMessage, tokio_postgres::Error> {
    Ok((
        row.try_get(offset)?,
        row.try_get(offset + 1)?,
        row.try_get(offset + 2)?,
        row.try_get(offset + 3)?,
        row.try_get(offset + 4)?,
        row.try_get(offset + 5)?,
    ))
}

#[async_trait]
impl ConversationStore for PostgresStore {
    async fn create(
        &self,
        workspace: &WorkspaceId,
        customer: CustomerAttributes,
        token_hash: TokenHash,
    ) -> Result<StoredConversation, StoreError> {
        const OP: &str = "create conversation";
        let conversation = StoredConversation::new(workspace.clone(), customer);
        let customer_json = encode_json(OP, &conversation.customer)?;
        let client = self.client(OP).await?;
        let statement = client
            .prepare_cached(
                "INSERT INTO conversations (id, workspace, token_hash, state, customer, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5::text::jsonb, $6, $6)",
            )
            .await
            .map_err(backend(OP))?;
        client
            .execute(
                &statement,
                &[
                    conversation.id.as_uuid(),
                    &conversation.workspace.as_str(),
                    &token_hash.as_str(),
                    &conversation.state.as_str(),
                    &customer_json,
                    &conversation.created_at_ms,
                ],
            )
            .await
            .map_err(backend(OP))?;
        Ok(conversation)
    }

    async fn get(
        &self,
        workspace: &WorkspaceId,
        id: ConversationId,
    ) -> Result<Option<StoredConversation>, StoreError> {
        const OP: &str = "read conversation";
        let client = self.client(OP).await?;
        let statement = client
            .prepare_cached(&format!(
                "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = $1 AND workspace = $2"
            ))
            .await
            .map_err(backend(OP))?;
        client
            .query_opt(&statement, &[id.as_uuid(), &workspace.as_str()])
            .await
            .map_err(backend(OP))?
            .map(|row| decode_conversation(OP, &row))
            .transpose()
    }

    async fn get_for_customer(
        &self,
        id: ConversationId,
        token_hash: &TokenHash,
    ) -> Result<Option<StoredConversation>, StoreError> {
        const OP: &str = "read conversation";
        let client = self.client(OP).await?;
        let statement = client
            .prepare_cached(&format!(
                "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = $1 AND token_hash = $2"
            ))
            .await
            .map_err(backend(OP))?;
        client
            .query_opt(&statement, &[id.as_uuid(), &token_hash.as_str()])
            .await
            .map_err(backend(OP))?
            .map(|row| decode_conversation(OP, &row))
            .transpose()
    }

    async fn messages(&self, id: ConversationId) -> Result<Vec<StoredMessage>, StoreError> {
        const OP: &str = "read messages";
        let client = self.client(OP).await?;
        let statement = client
            .prepare_cached(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 ORDER BY seq"
            ))
            .await
            .map_err(backend(OP))?;
        let rows = client
            .query(&statement, &[id.as_uuid()])
            .await
            .map_err(backend(OP))?;
        rows.iter()
            .map(|row| decode_message(read_message(row, 0).map_err(backend(OP))?))
            .collect()
    }

    async fn apply(
        &self,
        workspace: &WorkspaceId,
        id: ConversationId,
        change: Change,
    ) -> Result<Applied, StoreError> {
        const OP: &str = "apply change";
        let mut client = self.client(OP).await?;
        let transaction = client.transaction().await.map_err(backend(OP))?;
        let now = now_ms();
        let lock = transaction
            .prepare_cached(&format!(
                "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = $1 AND workspace = $2 FOR UPDATE"
            ))
            .await
            .map_err(backend(OP))?;
        let current = transaction
            .query_opt(&lock, &[id.as_uuid(), &workspace.as_str()])
            .await
            .map_err(backend(OP))?
            .map(|row| decode_conversation(OP, &row))
            .transpose()?
            .ok_or(StoreError::NotFound(id))?;
        if let Some((source, delivery_id)) = &change.inbound_delivery {
            // Scoped to the workspace; the empty workspace holds ids received before the
            // scoping (migration 0002).
            let inserted = transaction
                .execute(
                    "INSERT INTO inbound_deliveries (workspace, source, delivery_id, received_at)
                     SELECT $1, $2, $3, $4
                     WHERE NOT EXISTS (SELECT 1 FROM inbound_deliveries WHERE workspace = '' AND source = $2 AND delivery_id = $3)
                     ON CONFLICT DO NOTHING",
                    &[&workspace.as_str(), source, delivery_id, &now],
                )
                .await
                .map_err(backend(OP))?;
            if inserted == 0 {
                return Ok(duplicate(current));
            }
        }
        check_expected_state(&change, &current)?;

        let insert_message = transaction
            .prepare_cached(
                "INSERT INTO messages (conversation_id, conversation_seq, role, author, text, decision, reason, confidence, created_at)
                 VALUES ($1, (SELECT COALESCE(MAX(conversation_seq), 0) + 1 FROM messages WHERE conversation_id = $1),
                         $2, $3, $4, $5::text::jsonb, $6, $7, $8)
                 RETURNING conversation_seq",
            )
            .await
            .map_err(backend(OP))?;
        let mut messages = Vec::with_capacity(change.messages.len());
        for message in change.messages {
            let decision_json = message
                .decision
                .as_ref()
                .map(|decision| encode_json(OP, decision))
                .transpose()?;
            let seq: i64 = transaction
                .query_one(
                    &insert_message,
                    &[
                        id.as_uuid(),
                        &message.role.as_str(),
                        &message.author,
                        &message.text,
                        &decision_json,
                        &message.decision.as_ref().map(|d| d.reason.as_str()),
                        &message.decision.as_ref().map(|d| d.confidence),
                        &now,
                    ],
                )
                .await
                .map_err(backend(OP))?
                .get(0);
            messages.push(StoredMessage {
                seq,
                role: message.role,
                author: message.author,
                text: message.text,
                decision: message.decision,
                created_at_ms: now,
            });
        }

        let state = change.state.unwrap_or(current.state);
        let handoff_reason = current.handoff_reason.or(change.handoff_reason);
        let update = transaction
            .prepare_cached(
                "UPDATE conversations SET state = $2, handoff_reason = $3, updated_at = $4 WHERE id = $1",
            )
            .await
            .map_err(backend(OP))?;
        transaction
            .execute(
                &update,
                &[
                    id.as_uuid(),
                    &state.as_str(),
                    &handoff_reason.map(Reason::as_str),
                    &now,
                ],
            )
            .await
            .map_err(backend(OP))?;

        if let Some(feedback) = change.feedback {
            transaction
                .execute(
                    "INSERT INTO feedback (conversation_id, message_seq, rating, comment, created_at)
                     VALUES ($1, $2, $3, $4, $5)",
                    &[
                        id.as_uuid(),
                        &feedback.message_seq,
                        &feedback.rating.map(|r| r.as_str()),
                        &feedback.comment,
                        &now,
                    ],
                )
                .await
                .map_err(backend(OP))?;
        }

        let mut event_ids = Vec::with_capacity(change.events.len());
        if !change.events.is_empty() {
            let insert_event = transaction
                .prepare_cached(
                    "INSERT INTO outbox (id, workspace, conversation_id, event_type, payload, status, attempts, next_attempt_at, created_at)
                     VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $6)",
                )
                .await
                .map_err(backend(OP))?;
            for event in change.events {
                let event_id = new_event_id();
                transaction
                    .execute(
                        &insert_event,
                        &[
                            &event_id,
                            &workspace.as_str(),
                            id.as_uuid(),
                            &event.event_type,
                            &event.payload.to_string(),
                            &now,
                        ],
                    )
                    .await
                    .map_err(backend(OP))?;
                event_ids.push(event_id);
            }
        }

        // Heard by every gateway (this one too) once the transaction commits.
        let notify = transaction
            .prepare_cached("SELECT pg_notify($1, $2)")
            .await
            .map_err(backend(OP))?;
        transaction
            .execute(&notify, &[&CHANGES_CHANNEL, &id.to_string()])
            .await
            .map_err(backend(OP))?;
        transaction.commit().await.map_err(backend(OP))?;
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

    async fn list(
        &self,
        workspace: &WorkspaceId,
        query: ListQuery,
    ) -> Result<Vec<StoredConversation>, StoreError> {
        const OP: &str = "list conversations";
        let client = self.client(OP).await?;
        let statement = client
            .prepare_cached(&format!(
                "SELECT {CONVERSATION_COLUMNS} FROM conversations
                 WHERE workspace = $1 AND ($2::text IS NULL OR state = $2)
                 ORDER BY created_at DESC, id LIMIT $3"
            ))
            .await
            .map_err(backend(OP))?;
        let rows = client
            .query(
                &statement,
                &[
                    &workspace.as_str(),
                    &query.state.map(ConversationState::as_str),
                    &i64::try_from(query.limit).unwrap_or(i64::MAX),
                ],
            )
            .await
            .map_err(backend(OP))?;
        rows.iter()
            .map(|row| decode_conversation(OP, row))
            .collect()
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let client = self.client("ping").await?;
        client
            .simple_query("SELECT 1")
            .await
            .map(|_| ())
            .map_err(backend("ping"))
    }

    fn changes(&self) -> ChangeFeed {
        self.changes.clone()
    }
}
