//! What a helpdesk says happened, in Fathom's terms, and applying it. Every helpdesk adapter
//! reads its own wire format into [`Inbound`] actions; this module alone changes conversations
//! because of them (state rules, delivery-id deduplication, queued answers). Live followers hear
//! of what is applied through the store's change feed ([`crate::live`]).

use fathom_conversations::{
    Change, ConversationId, ConversationState, NewMessage, StoreError, StoredConversation,
    TokenHash,
};
use fathom_core::{CustomerAttributes, WorkspaceId};
use serde::Serialize;

use super::turn::{store_silently, QueuedTurn};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Which Fathom conversation an action is about.
#[derive(Debug, Clone, PartialEq)]
pub enum Reference {
    /// The helpdesk's own id for it (a ticket, a Chatwoot conversation), linked when the
    /// conversation was handed over or first seen. An id Fathom never linked is ignored.
    Linked(String),
    /// Fathom's own conversation id (the generic envelope). An unknown id is a 404.
    Fathom(ConversationId),
    /// The helpdesk's id, or failing that the Fathom id it carries (a Zendesk ticket's
    /// `external_id`, which an agent can edit, so the link is asked first).
    LinkedOr(String, Option<ConversationId>),
}

/// What happened in the helpdesk.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// A person wrote to the customer: the customer reads it, and a person has the conversation.
    AgentMessage {
        text: String,
        author: Option<String>,
    },
    /// The customer wrote through the helpdesk (Chatwoot is the customer's channel). If `answer`,
    /// the bot owns the conversation there and answers through the outbox; otherwise the message
    /// is stored for the transcript. A conversation seen for the first time is created and linked.
    CustomerMessage {
        text: String,
        customer: CustomerAttributes,
        reply_to: serde_json::Value,
        answer: bool,
    },
    Resolved,
    Closed,
    /// Given back to the bot: it answers again.
    ReturnedToBot,
    /// A person took the conversation in the helpdesk (opened it, assigned it to an agent).
    /// After Fathom's own handoff this is the expected echo: the conversation stays handed off.
    TakenByPerson,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Inbound {
    pub reference: Reference,
    pub action: Action,
    /// The helpdesk's id for this action: an id seen before in this workspace, from this
    /// helpdesk, takes no effect. It must tell apart everything one workspace's helpdesk can
    /// send (e.g. Chatwoot's message ids are per installation, so its keys name the account).
    pub delivery: Option<String>,
}

/// What an inbound request came to, for the response and the metrics.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Outcome {
    /// `applied`, `queued` (the bot answers through the outbox), `duplicate` (every action had
    /// been delivered before) or `ignored` (nothing to do; `why` says why).
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<ConversationState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    /// Agent messages that reached the customer.
    pub agent_messages: usize,
}

impl Outcome {
    pub fn ignored(why: impl Into<String>) -> Self {
        Self {
            status: "ignored",
            state: None,
            why: Some(why.into()),
            agent_messages: 0,
        }
    }
}

/// One action's result.
enum Step {
    Applied(StoredConversation, usize),
    Queued(StoredConversation),
    Duplicate(StoredConversation),
    Ignored(String),
}

/// Apply a helpdesk's actions in order. `source` is the helpdesk's name: links and delivery ids
/// are scoped to it (and to the workspace).
pub async fn apply(
    state: &AppState,
    workspace: &WorkspaceId,
    source: &str,
    actions: Vec<Inbound>,
) -> ApiResult<Outcome> {
    let mut outcome: Option<Outcome> = None;
    for inbound in actions {
        let step = apply_one(state, workspace, source, inbound).await?;
        let (status, conversation, agent_messages, why) = match step {
            Step::Applied(c, n) => ("applied", Some(c), n, None),
            Step::Queued(c) => ("queued", Some(c), 0, None),
            Step::Duplicate(c) => ("duplicate", Some(c), 0, None),
            Step::Ignored(why) => ("ignored", None, 0, Some(why)),
        };
        let merged = outcome.get_or_insert(Outcome {
            status,
            state: None,
            why: None,
            agent_messages: 0,
        });
        // The strongest status wins: applied/queued over duplicate over ignored.
        let rank = |s: &str| match s {
            "applied" | "queued" => 2,
            "duplicate" => 1,
            _ => 0,
        };
        if rank(status) > rank(merged.status) {
            merged.status = status;
            merged.why = None;
        }
        if merged.status == "ignored" && merged.why.is_none() {
            merged.why = why;
        }
        if let Some(conversation) = conversation {
            merged.state = Some(conversation.state);
        }
        merged.agent_messages += agent_messages;
    }
    let outcome = outcome.unwrap_or_else(|| Outcome::ignored("nothing in the event for Fathom"));
    metrics::counter!(crate::telemetry::WEBHOOKS_RECEIVED, "outcome" => outcome.status)
        .increment(1);
    Ok(outcome)
}

async fn find(
    state: &AppState,
    workspace: &WorkspaceId,
    source: &str,
    reference: &Reference,
) -> ApiResult<Option<StoredConversation>> {
    let (linked, fathom) = match reference {
        Reference::Linked(external) => (Some(external), None),
        Reference::Fathom(id) => (None, Some(*id)),
        Reference::LinkedOr(external, id) => (Some(external), *id),
    };
    if let Some(external) = linked {
        if let Some(id) = state
            .links
            .find_external(workspace, source, external)
            .await?
        {
            return Ok(state.store.get(workspace, id).await?);
        }
    }
    match fathom {
        Some(id) => Ok(state.store.get(workspace, id).await?),
        None => Ok(None),
    }
}

async fn apply_one(
    state: &AppState,
    workspace: &WorkspaceId,
    source: &str,
    inbound: Inbound,
) -> ApiResult<Step> {
    let found = find(state, workspace, source, &inbound.reference).await?;
    let conversation = match (found, &inbound.action, &inbound.reference) {
        (Some(conversation), _, _) => conversation,
        (
            None,
            Action::CustomerMessage {
                customer,
                answer: true,
                ..
            },
            Reference::Linked(external),
        ) => first_contact(state, workspace, source, external, customer.clone()).await?,
        (None, _, Reference::Fathom(_)) => return Err(ApiError::conversation_not_found()),
        (None, _, _) => return Ok(Step::Ignored("a conversation Fathom never saw".into())),
    };
    // The store keys delivery ids by workspace and source: the same id from another workspace
    // (or another helpdesk) is a different delivery.
    let delivery = inbound.delivery.map(|id| (source.to_string(), id));
    let open_states = vec![
        ConversationState::Bot,
        ConversationState::HandedOff,
        ConversationState::Human,
        ConversationState::Resolved,
    ];
    let mut change = Change {
        inbound_delivery: delivery,
        ..Default::default()
    };
    let mut agent_messages = 0;
    match inbound.action {
        Action::AgentMessage { text, author } => {
            change.messages.push(NewMessage::agent(text, author));
            change.state = Some(ConversationState::Human);
            change.expect_states = open_states;
            agent_messages = 1;
        }
        Action::Resolved => {
            change.state = Some(ConversationState::Resolved);
        }
        Action::Closed => change.state = Some(ConversationState::Closed),
        Action::ReturnedToBot => {
            change.state = Some(ConversationState::Bot);
            change.expect_states = match inbound.reference {
                // The generic envelope's contract: a resolved or closed conversation is not
                // given back (409).
                Reference::Fathom(_) => vec![
                    ConversationState::Bot,
                    ConversationState::HandedOff,
                    ConversationState::Human,
                ],
                _ => open_states,
            };
        }
        Action::TakenByPerson => {
            if conversation.state == ConversationState::HandedOff {
                // Fathom handed it off and the helpdesk opened it for its agents: expected.
                return Ok(Step::Ignored(
                    "expected: the helpdesk opened the conversation Fathom handed off".into(),
                ));
            }
            change.state = Some(ConversationState::Human);
            change.expect_states = open_states;
        }
        Action::CustomerMessage {
            text,
            reply_to,
            answer,
            ..
        } => {
            return customer_message(state, conversation, change, source, text, reply_to, answer)
                .await
        }
    }
    let before = conversation.state;
    if change.messages.is_empty()
        && change.inbound_delivery.is_none()
        && change.state == Some(before)
    {
        // Already so (a webhook that repeats the ticket's status): nothing to record.
        return Ok(Step::Duplicate(conversation));
    }
    let applied = match state.store.apply(workspace, conversation.id, change).await {
        Ok(applied) => applied,
        Err(StoreError::StateConflict { actual, .. }) => {
            return match inbound.reference {
                Reference::Fathom(_) => Err(ApiError::new(
                    http::StatusCode::CONFLICT,
                    "conversation_closed",
                    format!("the conversation is {actual}"),
                )),
                _ => Ok(Step::Ignored(format!("the conversation is {actual}"))),
            }
        }
        Err(error) => return Err(error.into()),
    };
    if applied.duplicate {
        return Ok(Step::Duplicate(applied.conversation));
    }
    tracing::info!(
        workspace = %workspace,
        conversation_id = %conversation.id,
        helpdesk = source,
        state = %applied.conversation.state,
        "inbound helpdesk event applied"
    );
    Ok(Step::Applied(applied.conversation, agent_messages))
}

/// The customer wrote through the helpdesk.
async fn customer_message(
    state: &AppState,
    conversation: StoredConversation,
    mut change: Change,
    source: &str,
    text: String,
    reply_to: serde_json::Value,
    answer: bool,
) -> ApiResult<Step> {
    let workspace = conversation.workspace.clone();
    if !answer {
        // A person has it in the helpdesk: kept for the transcript, the bot says nothing.
        if conversation.state.bot_replies() || conversation.state == ConversationState::Closed {
            return Ok(Step::Ignored(
                "the bot does not own this conversation in the helpdesk".into(),
            ));
        }
        if let Some(delivery) = change.inbound_delivery.take() {
            // Record the delivery first: a redelivered message is stored once.
            let mark = Change {
                inbound_delivery: Some(delivery),
                ..Default::default()
            };
            if state
                .store
                .apply(&workspace, conversation.id, mark)
                .await?
                .duplicate
            {
                return Ok(Step::Duplicate(conversation));
            }
        }
        let history = state.store.messages(conversation.id).await?;
        let outcome = store_silently(state, &conversation, &history, text).await?;
        let mut conversation = conversation;
        conversation.state = outcome.state;
        return Ok(Step::Applied(conversation, 0));
    }
    // The helpdesk says the bot owns the conversation, whatever Fathom thought before.
    if !conversation.state.bot_replies() {
        change.state = Some(ConversationState::Bot);
    }
    change.expect_states = vec![
        ConversationState::Bot,
        ConversationState::HandedOff,
        ConversationState::Human,
        ConversationState::Resolved,
    ];
    change.events.push(
        QueuedTurn {
            helpdesk: source.to_string(),
            conversation_id: conversation.id,
            text,
            reply_to,
        }
        .event(),
    );
    let applied = match state.store.apply(&workspace, conversation.id, change).await {
        Ok(applied) => applied,
        Err(StoreError::StateConflict { actual, .. }) => {
            return Ok(Step::Ignored(format!("the conversation is {actual}")))
        }
        Err(error) => return Err(error.into()),
    };
    if applied.duplicate {
        return Ok(Step::Duplicate(applied.conversation));
    }
    state.outbox_wake.notify_one();
    Ok(Step::Queued(applied.conversation))
}

/// A conversation the helpdesk shows Fathom for the first time: created and linked (the first
/// link wins, so two first messages at once end up in one conversation).
async fn first_contact(
    state: &AppState,
    workspace: &WorkspaceId,
    source: &str,
    external: &str,
    customer: CustomerAttributes,
) -> ApiResult<StoredConversation> {
    // The customer talks through the helpdesk; this token is never handed out.
    let token: [u8; 32] = rand::random();
    let created = state
        .store
        .create(workspace, customer, TokenHash::of(&format!("{token:?}")))
        .await?;
    let linked = state
        .links
        .link_external(workspace, source, external, created.id)
        .await?;
    state
        .store
        .get(workspace, linked)
        .await?
        .ok_or_else(ApiError::conversation_not_found)
}
