//! Request and response bodies of the HTTP API, as the OpenAPI document describes them.

use fathom_conversations::{
    ConversationId, ConversationState, DecisionRecord, MessageRole, Rating, StoredConversation,
    StoredMessage,
};
use fathom_core::{Citation, CustomerAttributes};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateConversationRequest {
    /// The workspace (tenant) the conversation belongs to.
    pub workspace: String,
    /// What the business knows about the customer: name, plan, locale, extra.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub customer: CustomerAttributes,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreatedConversation {
    #[schema(value_type = String)]
    pub conversation_id: ConversationId,
    /// Send as `Authorization: Bearer <token>` on every call about this conversation. Shown
    /// once: only its hash is stored.
    pub customer_token: String,
    #[schema(value_type = String)]
    pub state: ConversationState,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostMessageRequest {
    pub text: String,
}

/// A cited help-center article.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CitationView {
    pub article_id: String,
    pub title: String,
    pub url: Option<String>,
}

impl From<&Citation> for CitationView {
    fn from(citation: &Citation) -> Self {
        Self {
            article_id: citation.article_id.to_string(),
            title: citation.title.clone(),
            url: citation.url.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MessageView {
    /// The message's number in its conversation: 1, 2, 3 … (per conversation, never a
    /// store-wide count).
    pub seq: i64,
    /// `customer`, `bot` or `agent`.
    #[schema(value_type = String)]
    pub role: MessageRole,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    pub text: String,
    /// `answer`, `clarify` or `handoff` (bot messages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<String>,
    /// Why the bot decided so: `answered`, `no_relevant_content`, `customer_requested_human`…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub citations: Vec<CitationView>,
    pub created_at_ms: i64,
}

fn as_label<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

impl From<&StoredMessage> for MessageView {
    fn from(message: &StoredMessage) -> Self {
        let decision: Option<&DecisionRecord> = message.decision.as_ref();
        Self {
            seq: message.seq,
            role: message.role,
            author: message.author.clone(),
            text: message.text.clone(),
            decision: decision.map(|d| as_label(&d.kind)),
            reason: decision.map(|d| d.reason.as_str().to_string()),
            confidence: decision.map(|d| d.confidence),
            citations: decision
                .map(|d| d.citations.iter().map(CitationView::from).collect())
                .unwrap_or_default(),
            created_at_ms: message.created_at_ms,
        }
    }
}

/// The outcome of a customer message: the stored message and the bot's reply, if the bot
/// replies (it stays silent while a person has the conversation).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MessageOutcome {
    #[schema(value_type = String)]
    pub conversation_id: ConversationId,
    #[schema(value_type = String)]
    pub state: ConversationState,
    pub message: MessageView,
    pub reply: Option<MessageView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ConversationView {
    #[schema(value_type = String)]
    pub conversation_id: ConversationId,
    pub workspace: String,
    /// `bot`, `handed_off`, `human`, `resolved` or `closed`.
    #[schema(value_type = String)]
    pub state: ConversationState,
    #[schema(value_type = Object)]
    pub customer: CustomerAttributes,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handoff_reason: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    /// Oldest first. Left out of lists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<MessageView>>,
}

impl ConversationView {
    pub fn new(conversation: &StoredConversation, messages: Option<&[StoredMessage]>) -> Self {
        Self {
            conversation_id: conversation.id,
            workspace: conversation.workspace.to_string(),
            state: conversation.state,
            customer: conversation.customer.clone(),
            handoff_reason: conversation.handoff_reason.map(|r| r.as_str().to_string()),
            created_at_ms: conversation.created_at_ms,
            updated_at_ms: conversation.updated_at_ms,
            messages: messages.map(|m| m.iter().map(MessageView::from).collect()),
        }
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedbackRequest {
    /// `up` or `down`.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub rating: Option<Rating>,
    /// The bot message rated (its `seq`).
    #[serde(default)]
    pub message_seq: Option<i64>,
    #[serde(default)]
    pub comment: Option<String>,
    /// "This solved it": marks the conversation resolved.
    #[serde(default)]
    pub resolved: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FeedbackRecorded {
    #[schema(value_type = String)]
    pub state: ConversationState,
}

/// What the customer's SSE stream (`GET /v1/conversations/{id}/events`) carries.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LiveEvent {
    Message { message: MessageView },
    State { state: ConversationState },
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ConversationList {
    pub conversations: Vec<ConversationView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InboundAccepted {
    /// `applied`, `queued` (the bot answers through the outbox), `duplicate` (every action had
    /// been delivered before: no effect) or `ignored`.
    pub status: String,
    /// The conversation's state after the event (absent when ignored).
    #[schema(value_type = Option<String>)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<ConversationState>,
    /// Why nothing was done, when ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    /// Agent messages that reached the customer.
    #[serde(default)]
    pub agent_messages: usize,
}
