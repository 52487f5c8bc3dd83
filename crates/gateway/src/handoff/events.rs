//! Outbound events for the helpdesk: `conversation.handoff`, `conversation.message`,
//! `conversation.resolved`. The body is built once, when the event is written to the outbox,
//! and delivered byte for byte on every attempt. Payloads are documented in `docs/webhooks.md`.

use fathom_answer::guardrails::Redactor;
use fathom_conversations::{
    ConversationState, DecisionRecord, MessageRole, NewEvent, NewMessage, StoredConversation,
    StoredMessage,
};
use serde::Serialize;

use crate::config::WorkspaceConfig;
use crate::views::CitationView;

pub const HANDOFF: &str = "conversation.handoff";
pub const MESSAGE: &str = "conversation.message";
pub const RESOLVED: &str = "conversation.resolved";

/// One line of the transcript as the helpdesk sees it.
#[derive(Debug, Clone, Serialize)]
pub struct TranscriptLine {
    pub role: MessageRole,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    pub text: String,
    pub at_ms: i64,
}

impl TranscriptLine {
    pub fn stored(message: &StoredMessage) -> Self {
        Self {
            role: message.role,
            author: message.author.clone(),
            text: message.text.clone(),
            at_ms: message.created_at_ms,
        }
    }

    pub fn new(message: &NewMessage, at_ms: i64) -> Self {
        Self {
            role: message.role,
            author: message.author.clone(),
            text: message.text.clone(),
            at_ms,
        }
    }
}

/// The transcript so far plus what is being added, and the decision the event reports.
pub struct EventContext<'a> {
    pub conversation: &'a StoredConversation,
    pub state: ConversationState,
    pub transcript: Vec<TranscriptLine>,
    /// The decision that explains the event (for a handoff, the handoff decision; otherwise
    /// the latest bot decision, if any).
    pub decision: Option<&'a DecisionRecord>,
    /// For `conversation.message`: the new message.
    pub message: Option<TranscriptLine>,
}

/// The latest decision the bot made in a conversation.
pub fn latest_decision(messages: &[StoredMessage]) -> Option<&DecisionRecord> {
    messages.iter().rev().find_map(|m| m.decision.as_ref())
}

pub fn build(event_type: &str, context: EventContext<'_>, workspace: &WorkspaceConfig) -> NewEvent {
    let mut redactor = Redactor::new();
    let mut redact = |text: String| {
        if workspace.redact_pii_in_webhooks {
            redactor.redact(&text)
        } else {
            text
        }
    };
    let transcript: Vec<TranscriptLine> = context
        .transcript
        .into_iter()
        .map(|line| TranscriptLine {
            text: redact(line.text),
            ..line
        })
        .collect();
    let message = context.message.map(|line| TranscriptLine {
        text: redact(line.text),
        ..line
    });
    let decision = context.decision;
    let conversation = context.conversation;
    let payload = serde_json::json!({
        "type": event_type,
        "occurred_at_ms": fathom_conversations::now_ms(),
        "data": {
            "workspace": conversation.workspace.as_str(),
            "conversation_id": conversation.id,
            "state": context.state,
            "customer": conversation.customer,
            "transcript": transcript,
            "message": message,
            "summary": decision.and_then(|d| d.summary.clone()),
            "reason": decision.map(|d| d.reason.as_str()),
            "confidence": decision.map(|d| d.confidence),
            "cited_articles": decision
                .map(|d| d.citations.iter().map(CitationView::from).collect::<Vec<_>>())
                .unwrap_or_default(),
        }
    });
    NewEvent {
        event_type: event_type.to_string(),
        payload,
    }
}
