//! Conversations, transcripts and atomic changes ([`ConversationStore`]).

use async_trait::async_trait;
use fathom_core::{CustomerAttributes, Reason, WorkspaceId};
use rusqlite::{params, OptionalExtension, Transaction};

use super::rows::{load_conversation, read_conversation, read_message, CONVERSATION_COLUMNS};
use super::{backend, query_rows, SqliteStore};
use crate::model::{
    Applied, Change, ConversationId, ConversationState, ListQuery, StoredConversation,
    StoredMessage, TokenHash,
};
use crate::rows::{
    check_expected_state, decode_message, duplicate, encode_json, new_event_id, RawConversation,
};
use crate::{now_ms, ChangeFeed, ChangeNotice, ConversationStore, StoreError};

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
        // (the empty workspace holds ids received before the scoping, see migration 0002).
        let seen_before_scoping: bool = transaction
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM inbound_deliveries WHERE workspace = '' AND source = ?1 AND delivery_id = ?2)",
                params![source, delivery_id],
                |row| row.get(0),
            )
            .map_err(backend(OP))?;
        let duplicate_delivery = seen_before_scoping
            || transaction
                .execute(
                    "INSERT OR IGNORE INTO inbound_deliveries (workspace, source, delivery_id, received_at) VALUES (?1, ?2, ?3, ?4)",
                    params![workspace.as_str(), source, delivery_id, now],
                )
                .map_err(backend(OP))?
                == 0;
        if duplicate_delivery {
            return Ok(duplicate(current));
        }
    }
    check_expected_state(&change, &current)?;
    let id_text = id.to_string();
    let mut messages = Vec::with_capacity(change.messages.len());
    for message in change.messages {
        let decision_json = message
            .decision
            .as_ref()
            .map(|decision| encode_json(OP, decision))
            .transpose()?;
        let seq: i64 = transaction
            .query_row(
                "INSERT INTO messages (conversation_id, conversation_seq, role, author, text, decision, reason, confidence, created_at)
                 VALUES (?1, (SELECT COALESCE(MAX(conversation_seq), 0) + 1 FROM messages WHERE conversation_id = ?1),
                         ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 RETURNING conversation_seq",
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
                |row| row.get(0),
            )
            .map_err(backend(OP))?;
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
        let event_id = new_event_id();
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
        self.write("create conversation", move |connection| {
            let conversation = StoredConversation::new(workspace, customer);
            let customer_json = encode_json("create conversation", &conversation.customer)?;
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
                        conversation.created_at_ms
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
        self.read("read conversation", move |connection| {
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
        self.read("read conversation", move |connection| {
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
        self.read("read messages", move |connection| {
            let rows = query_rows(
                connection,
                "read messages",
                "SELECT conversation_seq, role, author, text, decision, created_at FROM messages
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
        let applied = self
            .write("apply change", move |connection| {
                let transaction = connection
                    .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                    .map_err(backend("apply change"))?;
                let applied = apply_in(&transaction, &workspace, id, change)?;
                transaction.commit().map_err(backend("apply change"))?;
                Ok(applied)
            })
            .await?;
        if !applied.duplicate {
            self.changes.announce(ChangeNotice::Changed(id));
        }
        Ok(applied)
    }

    async fn list(
        &self,
        workspace: &WorkspaceId,
        query: ListQuery,
    ) -> Result<Vec<StoredConversation>, StoreError> {
        let workspace = workspace.clone();
        self.read("list conversations", move |connection| {
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

    fn changes(&self) -> ChangeFeed {
        self.changes.clone()
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.write("ping", |connection| {
            connection
                .query_row("SELECT 1", [], |row| row.get::<_, i64>(0))
                .map(|_| ())
                .map_err(backend("ping"))
        })
        .await
    }
}
