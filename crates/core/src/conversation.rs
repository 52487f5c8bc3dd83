//! A conversation as the answer engine sees it, and the decision it returns.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{ChunkId, Citation, WorkspaceId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Customer,
    /// The bot or a human agent.
    Agent,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Turn {
    pub role: Role,
    pub text: String,
    /// For a bot turn: what it left open for the customer's next message. The next turn reads
    /// this, never the turn's wording (which a deployer may reword or translate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub awaiting: Option<Awaiting>,
}

impl Turn {
    pub fn customer(text: impl Into<String>) -> Self {
        Self {
            role: Role::Customer,
            text: text.into(),
            awaiting: None,
        }
    }

    /// A turn of the bot or of a human agent.
    pub fn agent(text: impl Into<String>) -> Self {
        Self {
            role: Role::Agent,
            text: text.into(),
            awaiting: None,
        }
    }

    pub fn with_awaiting(mut self, awaiting: Option<Awaiting>) -> Self {
        self.awaiting = awaiting;
        self
    }
}

/// What a bot reply asked of the customer, so that the next message can be read as its answer:
/// typed state kept with the stored message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Awaiting {
    /// The bot offered to connect the customer with a person ("yes please" accepts).
    HumanOffer,
    /// The bot asked which of these the customer meant (article titles or sections).
    Clarification { options: Vec<String> },
}

/// What the business knows about the customer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CustomerAttributes {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, String>,
}

/// The answer engine's input: the conversation so far and the customer's latest message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    pub workspace: WorkspaceId,
    #[serde(default)]
    pub history: Vec<Turn>,
    pub message: String,
    #[serde(default)]
    pub customer: CustomerAttributes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionKind {
    Answer,
    Clarify,
    Handoff,
}

/// Why the engine decided what it did. Stable, machine-readable: evals and support leads read
/// these, and the gateway counts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    Answered,
    NeedsClarification,
    NoRelevantContent,
    LowConfidence,
    CustomerRequestedHuman,
    CustomerFrustrated,
    RepeatedQuestion,
    GuardrailInjection,
    GuardrailBlockedTopic,
    GuardrailInputTooLong,
    UnsupportedAnswer,
    LlmUnavailable,
    /// The knowledge could not be searched (index unreadable, vector store unreachable): not the
    /// same as finding nothing relevant.
    RetrievalUnavailable,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Answered => "answered",
            Self::NeedsClarification => "needs_clarification",
            Self::NoRelevantContent => "no_relevant_content",
            Self::LowConfidence => "low_confidence",
            Self::CustomerRequestedHuman => "customer_requested_human",
            Self::CustomerFrustrated => "customer_frustrated",
            Self::RepeatedQuestion => "repeated_question",
            Self::GuardrailInjection => "guardrail_injection",
            Self::GuardrailBlockedTopic => "guardrail_blocked_topic",
            Self::GuardrailInputTooLong => "guardrail_input_too_long",
            Self::UnsupportedAnswer => "unsupported_answer",
            Self::LlmUnavailable => "llm_unavailable",
            Self::RetrievalUnavailable => "retrieval_unavailable",
        }
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A retrieved chunk the decision was based on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub chunk_id: ChunkId,
    pub article_id: String,
    pub title: String,
    pub url: Option<String>,
    pub heading_path: Vec<String>,
    pub score: f32,
    pub dense_score: Option<f32>,
    pub text: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenUsage {
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
}

impl TokenUsage {
    pub fn add(&mut self, other: TokenUsage) {
        self.prompt_tokens += other.prompt_tokens;
        self.completion_tokens += other.completion_tokens;
    }
}

/// The answer engine's output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub decision: DecisionKind,
    pub reason: Reason,
    /// What the customer sees: the answer, the clarifying question, or the handoff message.
    pub answer: String,
    pub citations: Vec<Citation>,
    /// 0..1: how sure the engine is that the evidence answers the question.
    pub confidence: f32,
    /// For the human agent on handoff: what the customer wants, in one or two lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// What the reply left open for the customer's next message (an offer of a person, a
    /// clarifying question); stored with the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub awaiting: Option<Awaiting>,
    /// The standalone query that was searched.
    #[serde(default)]
    pub query: String,
    pub evidence: Vec<Evidence>,
    pub usage: TokenUsage,
    /// Per-step timings in milliseconds (`guardrails`, `retrieve`, `generate`, `total`…).
    pub timings_ms: BTreeMap<String, f64>,
}

/// Streaming form of a decision, for the gateway's SSE.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AnswerEvent {
    /// The engine has started a step (`retrieve`, `generate`…).
    Step { name: String },
    /// A piece of the reply text.
    Token { text: String },
    /// The final decision; always the last event.
    Decision { decision: Box<Decision> },
}
