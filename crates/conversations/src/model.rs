//! What a conversation store holds: conversations, their messages (with the bot's decisions),
//! feedback, and the outbox of events for the helpdesk.

use std::collections::BTreeMap;
use std::fmt;

use fathom_core::{
    Awaiting, ChunkId, Citation, Conversation, CustomerAttributes, DecisionKind, Reason, Role,
    Turn, WorkspaceId,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A conversation's id: a random UUID, so ids reveal nothing and cannot be guessed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ConversationId(Uuid);

impl ConversationId {
    pub fn random() -> Self {
        Self(Uuid::new_v4())
    }

    /// `None` for anything that is not a UUID (callers answer 404, as for an unknown id).
    pub fn parse(raw: &str) -> Option<Self> {
        Uuid::parse_str(raw).ok().map(Self)
    }

    pub fn as_uuid(&self) -> &Uuid {
        &self.0
    }
}

impl From<Uuid> for ConversationId {
    fn from(uuid: Uuid) -> Self {
        Self(uuid)
    }
}

impl fmt::Display for ConversationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The hash of a customer token. Only hashes are stored: a leaked database reveals no token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenHash(String);

impl TokenHash {
    pub fn of(token: &str) -> Self {
        Self(blake3::hash(token.as_bytes()).to_hex().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Who is talking to the customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConversationState {
    /// The bot answers.
    Bot,
    /// The bot handed off; no person has replied yet. The bot stays silent.
    HandedOff,
    /// A person from the helpdesk is talking to the customer. The bot stays silent.
    Human,
    Resolved,
    Closed,
}

impl ConversationState {
    pub const ALL: [Self; 5] = [
        Self::Bot,
        Self::HandedOff,
        Self::Human,
        Self::Resolved,
        Self::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bot => "bot",
            Self::HandedOff => "handed_off",
            Self::Human => "human",
            Self::Resolved => "resolved",
            Self::Closed => "closed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == raw)
    }

    /// Whether the bot answers customer messages in this state.
    pub fn bot_replies(self) -> bool {
        matches!(self, Self::Bot | Self::Resolved)
    }
}

impl fmt::Display for ConversationState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageRole {
    Customer,
    Bot,
    /// A person from the helpdesk.
    Agent,
}

impl MessageRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Customer => "customer",
            Self::Bot => "bot",
            Self::Agent => "agent",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Customer, Self::Bot, Self::Agent]
            .into_iter()
            .find(|role| role.as_str() == raw)
    }
}

/// What the bot decided for one message, kept with the message it produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionRecord {
    pub kind: DecisionKind,
    pub reason: Reason,
    pub confidence: f32,
    pub citations: Vec<Citation>,
    /// Every chunk the decision was based on, cited or not.
    pub evidence_ids: Vec<ChunkId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// What the reply left open for the customer's next message (kept in the decision's JSON,
    /// so no column changes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub awaiting: Option<Awaiting>,
}

impl DecisionRecord {
    /// What the reply left open. Replies stored before `awaiting` was recorded are read by their
    /// decision: an offer of a person was a `clarify` for frustration or a repeated question.
    pub fn awaiting(&self) -> Option<Awaiting> {
        if self.awaiting.is_some() {
            return self.awaiting.clone();
        }
        let offered_human = self.kind == DecisionKind::Clarify
            && matches!(
                self.reason,
                Reason::CustomerFrustrated | Reason::RepeatedQuestion
            );
        offered_human.then_some(Awaiting::HumanOffer)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct StoredConversation {
    pub id: ConversationId,
    pub workspace: WorkspaceId,
    pub state: ConversationState,
    pub customer: CustomerAttributes,
    /// Set when the conversation was first handed off.
    pub handoff_reason: Option<Reason>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

impl StoredConversation {
    /// A new conversation, talking to the bot.
    pub(crate) fn new(workspace: WorkspaceId, customer: CustomerAttributes) -> Self {
        let now = crate::now_ms();
        Self {
            id: ConversationId::random(),
            workspace,
            state: ConversationState::Bot,
            customer,
            handoff_reason: None,
            created_at_ms: now,
            updated_at_ms: now,
        }
    }

    /// The answer engine's input for the customer's `text` after `history`: the latest
    /// `max_history_turns` messages, each cut to `max_turn_chars`, the bot and human agents both
    /// speaking as [`Role::Agent`]. The gateway builds its input with this, and the eval replay
    /// rebuilds recorded inputs with it, so the two cannot drift apart.
    pub fn engine_input(
        &self,
        history: &[StoredMessage],
        text: &str,
        max_history_turns: usize,
        max_turn_chars: usize,
    ) -> Conversation {
        let recent = &history[history.len().saturating_sub(max_history_turns)..];
        Conversation {
            workspace: self.workspace.clone(),
            history: recent
                .iter()
                .map(|m| Turn {
                    role: match m.role {
                        MessageRole::Customer => Role::Customer,
                        _ => Role::Agent,
                    },
                    text: m.text.chars().take(max_turn_chars).collect(),
                    awaiting: m.decision.as_ref().and_then(DecisionRecord::awaiting),
                })
                .collect(),
            message: text.to_string(),
            customer: self.customer.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewMessage {
    pub role: MessageRole,
    /// The agent's name for agent messages.
    pub author: Option<String>,
    pub text: String,
    pub decision: Option<DecisionRecord>,
}

impl NewMessage {
    pub fn customer(text: impl Into<String>) -> Self {
        Self {
            role: MessageRole::Customer,
            author: None,
            text: text.into(),
            decision: None,
        }
    }

    pub fn bot(text: impl Into<String>, decision: DecisionRecord) -> Self {
        Self {
            role: MessageRole::Bot,
            author: None,
            text: text.into(),
            decision: Some(decision),
        }
    }

    pub fn agent(text: impl Into<String>, author: Option<String>) -> Self {
        Self {
            role: MessageRole::Agent,
            author,
            text: text.into(),
            decision: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredMessage {
    /// The message's number in its conversation: 1, 2, 3 … in the order they were stored.
    /// Per conversation, so it tells a customer nothing of anyone else's traffic.
    pub seq: i64,
    pub role: MessageRole,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<DecisionRecord>,
    pub created_at_ms: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rating {
    Up,
    Down,
}

impl Rating {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Up => "up",
            Self::Down => "down",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewFeedback {
    /// The bot message rated (its `seq` in the conversation), when the customer rated one.
    pub message_seq: Option<i64>,
    pub rating: Option<Rating>,
    pub comment: Option<String>,
}

/// An event for the helpdesk, written in the same transaction as the change it reports.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// `conversation.handoff`, `conversation.message`, `conversation.resolved`.
    pub event_type: String,
    /// The exact body that will be delivered (and signed), on every attempt.
    pub payload: serde_json::Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxStatus {
    Pending,
    Delivered,
    /// Gave up: too old, or the endpoint is gone.
    Dead,
}

impl OutboxStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Dead => "dead",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Pending, Self::Delivered, Self::Dead]
            .into_iter()
            .find(|status| status.as_str() == raw)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutboxEvent {
    /// `msg_<uuid>`: the `webhook-id`, the same on every attempt.
    pub id: String,
    pub workspace: WorkspaceId,
    pub conversation_id: ConversationId,
    pub event_type: String,
    pub payload: serde_json::Value,
    pub status: OutboxStatus,
    /// Attempts started so far (a claim counts as one).
    pub attempts: u32,
    pub next_attempt_at_ms: i64,
    pub created_at_ms: i64,
    pub last_error: Option<String>,
}

/// One atomic change to a conversation: messages, a state transition, feedback, events for the
/// outbox and the id of the inbound delivery that caused it. All or nothing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Change {
    pub messages: Vec<NewMessage>,
    pub state: Option<ConversationState>,
    /// Apply only if the conversation is in one of these states (empty: any state).
    pub expect_states: Vec<ConversationState>,
    /// Recorded the first time the conversation is handed off.
    pub handoff_reason: Option<Reason>,
    pub feedback: Option<NewFeedback>,
    pub events: Vec<NewEvent>,
    /// `(source, delivery id)` of an inbound webhook: a second change with the same key in the
    /// same workspace is skipped, so a redelivered webhook has no effect. Keys are scoped to the
    /// workspace of the change: another workspace's delivery with the same id still applies.
    pub inbound_delivery: Option<(String, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    pub conversation: StoredConversation,
    pub messages: Vec<StoredMessage>,
    /// Event ids written to the outbox.
    pub event_ids: Vec<String>,
    /// The inbound delivery had been seen before; nothing was changed.
    pub duplicate: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListQuery {
    pub state: Option<ConversationState>,
    pub limit: usize,
}

/// What [`crate::ConversationStore::prune`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Pruned {
    pub delivered_events: usize,
    pub inbound_ids: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct WorkspaceStats {
    pub conversations: u64,
    pub by_state: BTreeMap<String, u64>,
    /// Conversations resolved without ever being handed off.
    pub resolved_by_bot: u64,
    pub handed_off: u64,
    /// `resolved_by_bot / conversations`, 0 when there are none.
    pub resolution_rate: f64,
    pub handoffs_by_reason: BTreeMap<String, u64>,
    pub feedback_up: u64,
    pub feedback_down: u64,
    pub outbox: BTreeMap<String, u64>,
}

/// One feedback entry as stored: a rating, a comment, or both.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeedbackRecord {
    pub conversation_id: ConversationId,
    /// The bot message rated, if the customer rated one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_seq: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rating: Option<Rating>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    pub created_at_ms: i64,
}

/// A conversation with everything that happened in it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationActivity {
    pub conversation: StoredConversation,
    /// Oldest first.
    pub messages: Vec<StoredMessage>,
    /// Oldest first.
    pub feedback: Vec<FeedbackRecord>,
}
