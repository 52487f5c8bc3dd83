//! Rows as the backends read them, every column as text or a number, and their decoding into
//! the model: one decoder for every backend, so they cannot drift apart. An unreadable row is a
//! backend error naming what could not be read.

use std::collections::{BTreeMap, HashMap};

use fathom_core::{CustomerAttributes, Reason, WorkspaceId};

use crate::model::{
    ConversationActivity, ConversationId, ConversationState, DecisionRecord, FeedbackRecord,
    MessageRole, OutboxEvent, OutboxStatus, Rating, StoredConversation, StoredMessage,
    WorkspaceStats,
};
use crate::StoreError;

pub(crate) fn corrupt(operation: &'static str, what: impl std::fmt::Display) -> StoreError {
    StoreError::Backend {
        operation,
        reason: format!("unreadable row: {what}"),
    }
}

pub(crate) struct RawConversation {
    pub id: String,
    pub workspace: String,
    pub state: String,
    pub customer: String,
    pub handoff_reason: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

pub(crate) fn parse_reason(raw: &str) -> Option<Reason> {
    serde_json::from_value(serde_json::Value::String(raw.to_string())).ok()
}

impl RawConversation {
    pub(crate) fn decode(self) -> Result<StoredConversation, StoreError> {
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

/// `seq, role, author, text, decision, created_at` as stored.
pub(crate) type RawMessage = (i64, String, Option<String>, String, Option<String>, i64);

pub(crate) fn decode_message(
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

/// `id, workspace, conversation_id, event_type, payload, status, attempts, next_attempt_at,
/// created_at, last_error` as stored.
pub(crate) type RawEvent = (
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

pub(crate) fn decode_event(raw: RawEvent) -> Result<OutboxEvent, StoreError> {
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

/// `conversation_id, message_seq, rating, comment, created_at` as stored.
pub(crate) type RawFeedback = (String, Option<i64>, Option<String>, Option<String>, i64);

pub(crate) fn decode_feedback(
    conversation_id: ConversationId,
    (_, message_seq, rating, comment, created_at_ms): RawFeedback,
) -> Result<FeedbackRecord, StoreError> {
    let rating = match rating.as_deref() {
        None => None,
        Some("up") => Some(Rating::Up),
        Some("down") => Some(Rating::Down),
        Some(other) => return Err(corrupt("read feedback", other)),
    };
    Ok(FeedbackRecord {
        conversation_id,
        message_seq,
        rating,
        comment,
        created_at_ms,
    })
}

/// What a change writes, encoded the same way by every backend.
pub(crate) fn encode_json(
    operation: &'static str,
    value: &impl serde::Serialize,
) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Backend {
        operation,
        reason: e.to_string(),
    })
}

/// A new outbox event's id: `msg_<uuid>`, the `webhook-id` of every attempt.
pub(crate) fn new_event_id() -> String {
    format!("msg_{}", uuid::Uuid::new_v4().simple())
}

/// The refusal of a change that expects the conversation in another state, if it does.
pub(crate) fn check_expected_state(
    change: &crate::model::Change,
    current: &StoredConversation,
) -> Result<(), StoreError> {
    if change.expect_states.is_empty() || change.expect_states.contains(&current.state) {
        return Ok(());
    }
    Err(StoreError::StateConflict {
        id: current.id,
        actual: current.state,
        expected: change.expect_states.clone(),
    })
}

/// What a duplicate inbound delivery returns: the conversation as it is, nothing written.
pub(crate) fn duplicate(conversation: StoredConversation) -> crate::model::Applied {
    crate::model::Applied {
        conversation,
        messages: vec![],
        event_ids: vec![],
        duplicate: true,
    }
}

/// The counts behind [`WorkspaceStats`], as each backend's queries return them.
pub(crate) struct StatsCounts {
    pub by_state: BTreeMap<String, u64>,
    pub handoffs_by_reason: BTreeMap<String, u64>,
    /// Ratings by value (`up`, `down`).
    pub feedback: BTreeMap<String, u64>,
    pub outbox: BTreeMap<String, u64>,
    pub resolved_by_bot: u64,
}

impl From<StatsCounts> for WorkspaceStats {
    fn from(counts: StatsCounts) -> Self {
        let conversations: u64 = counts.by_state.values().sum();
        Self {
            conversations,
            resolution_rate: if conversations == 0 {
                0.0
            } else {
                counts.resolved_by_bot as f64 / conversations as f64
            },
            handed_off: counts.handoffs_by_reason.values().sum(),
            by_state: counts.by_state,
            resolved_by_bot: counts.resolved_by_bot,
            handoffs_by_reason: counts.handoffs_by_reason,
            feedback_up: counts.feedback.get("up").copied().unwrap_or(0),
            feedback_down: counts.feedback.get("down").copied().unwrap_or(0),
            outbox: counts.outbox,
        }
    }
}

/// [`crate::ConversationReports::activity`] from its three queries' rows: the conversations
/// (newest first), and the messages and feedback of those conversations (oldest first), each
/// with its conversation's id.
pub(crate) fn assemble_activity(
    conversations: Vec<RawConversation>,
    messages: Vec<(String, RawMessage)>,
    feedback: Vec<RawFeedback>,
) -> Result<Vec<ConversationActivity>, StoreError> {
    let mut activity: Vec<ConversationActivity> = Vec::with_capacity(conversations.len());
    let mut position: HashMap<String, usize> = HashMap::with_capacity(conversations.len());
    for raw in conversations {
        let conversation = raw.decode()?;
        position.insert(conversation.id.to_string(), activity.len());
        activity.push(ConversationActivity {
            conversation,
            messages: vec![],
            feedback: vec![],
        });
    }
    for (conversation_id, raw) in messages {
        if let Some(&index) = position.get(&conversation_id) {
            activity[index].messages.push(decode_message(raw)?);
        }
    }
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
