//! One turn of a conversation: the customer's message and the bot's answer (or handoff), stored
//! in one transaction with the events the helpdesk must hear about; and the customer's message
//! alone while a person has the conversation.
//!
//! A helpdesk that talks to the customer itself (Chatwoot) must not wait for the model inside its
//! webhook request: it queues the turn ([`queue`]) and the outbox worker answers it
//! ([`answer_queued`]) and posts the reply through the outbox as well.

use fathom_conversations::{
    Applied, Change, ConversationState, DecisionRecord, NewEvent, NewMessage, OutboxEvent,
    StoredConversation, StoredMessage,
};
use fathom_core::{Conversation, Decision, DecisionKind};
use serde::{Deserialize, Serialize};

use super::events::{self, EventContext, TranscriptLine};
use crate::error::{ApiError, ApiResult};
use crate::outbox::Attempt;
use crate::state::AppState;
use crate::telemetry;
use crate::views::{MessageOutcome, MessageView};

/// What the answer engine sees: the latest turns of the transcript, within the engine's input
/// limits (bot and agent both speak as `Agent`), and the new message. Older turns are left out
/// rather than refused, so a long conversation goes on being answered.
pub(crate) fn engine_input(
    limits: &fathom_answer::guardrails::InputLimits,
    conversation: &StoredConversation,
    history: &[StoredMessage],
    text: &str,
) -> Conversation {
    conversation.engine_input(
        history,
        text,
        limits.max_history_turns,
        limits.max_turn_chars,
    )
}

fn decision_record(decision: &Decision) -> DecisionRecord {
    DecisionRecord {
        kind: decision.decision,
        reason: decision.reason,
        confidence: decision.confidence,
        citations: decision.citations.clone(),
        evidence_ids: decision.evidence.iter().map(|e| e.chunk_id).collect(),
        summary: decision.summary.clone(),
        awaiting: decision.awaiting.clone(),
    }
}

/// What else a channel records with the bot's reply, in the same transaction.
#[derive(Debug, Default)]
pub(crate) struct ChannelExtras {
    /// The channel's own delivery of the reply (e.g. a `chatwoot.reply` event).
    pub events: Vec<NewEvent>,
    /// The inbound delivery that carried the customer's message: recorded once, so a
    /// redelivery changes nothing.
    pub inbound_delivery: Option<(String, String)>,
}

/// Store the customer's message and the bot's reply; on a handoff, the state change and the
/// `conversation.handoff` event go in the same transaction, with the channel's extras. `None` if
/// the inbound delivery had been recorded before.
pub(crate) async fn record_decision(
    state: &AppState,
    conversation: &StoredConversation,
    history: &[StoredMessage],
    text: String,
    decision: Decision,
    extras: ChannelExtras,
) -> ApiResult<Option<MessageOutcome>> {
    let record = decision_record(&decision);
    let handoff = decision.decision == DecisionKind::Handoff;
    let customer_message = NewMessage::customer(text);
    let bot_message = NewMessage::bot(decision.answer.clone(), record.clone());
    let new_state = if handoff {
        ConversationState::HandedOff
    } else {
        ConversationState::Bot
    };
    let mut change = Change {
        state: Some(new_state),
        expect_states: vec![ConversationState::Bot, ConversationState::Resolved],
        handoff_reason: handoff.then_some(decision.reason),
        ..Default::default()
    };
    if let (true, Some(workspace)) = (handoff, state.workspace(&conversation.workspace)) {
        if workspace.sends_events() {
            let now = fathom_conversations::now_ms();
            let mut transcript: Vec<TranscriptLine> =
                history.iter().map(TranscriptLine::stored).collect();
            transcript.push(TranscriptLine::new(&customer_message, now));
            transcript.push(TranscriptLine::new(&bot_message, now));
            change.events.push(events::build(
                events::HANDOFF,
                EventContext {
                    conversation,
                    state: new_state,
                    transcript,
                    decision: Some(&record),
                    message: None,
                },
                workspace,
            ));
        }
    }
    change.events.extend(extras.events);
    change.inbound_delivery = extras.inbound_delivery;
    change.messages = vec![customer_message, bot_message];
    let applied = state
        .store
        .apply(&conversation.workspace, conversation.id, change)
        .await?;
    if applied.duplicate {
        return Ok(None);
    }
    metrics::counter!(telemetry::DECISIONS, "decision" => format!("{:?}", decision.decision).to_lowercase(), "reason" => decision.reason.as_str())
        .increment(1);
    if handoff {
        metrics::counter!(telemetry::HANDOFFS, "reason" => decision.reason.as_str()).increment(1);
        tracing::info!(
            workspace = %conversation.workspace,
            conversation_id = %conversation.id,
            reason = decision.reason.as_str(),
            "conversation handed off"
        );
    }
    if !applied.event_ids.is_empty() {
        state.outbox_wake.notify_one();
    }
    message_outcome(&applied).map(Some)
}

/// A person has the conversation: store the message, tell the helpdesk, say nothing.
pub(crate) async fn store_silently(
    state: &AppState,
    conversation: &StoredConversation,
    history: &[StoredMessage],
    text: String,
) -> ApiResult<MessageOutcome> {
    let message = NewMessage::customer(text);
    let mut change = Change {
        expect_states: vec![ConversationState::HandedOff, ConversationState::Human],
        ..Default::default()
    };
    if let Some(workspace) = state
        .workspace(&conversation.workspace)
        .filter(|w| w.sends_events())
    {
        let now = fathom_conversations::now_ms();
        let mut transcript: Vec<TranscriptLine> =
            history.iter().map(TranscriptLine::stored).collect();
        transcript.push(TranscriptLine::new(&message, now));
        change.events.push(events::build(
            events::MESSAGE,
            EventContext {
                conversation,
                state: conversation.state,
                transcript,
                decision: events::latest_decision(history),
                message: Some(TranscriptLine::new(&message, now)),
            },
            workspace,
        ));
    }
    change.messages = vec![message];
    let applied = state
        .store
        .apply(&conversation.workspace, conversation.id, change)
        .await?;
    if !applied.event_ids.is_empty() {
        state.outbox_wake.notify_one();
    }
    message_outcome(&applied)
}

/// The response to a customer's message: it (and the bot's reply, if any) as stored. Live
/// followers hear of both through the store's change feed ([`crate::live`]).
fn message_outcome(applied: &Applied) -> ApiResult<MessageOutcome> {
    let mut views = applied.messages.iter().map(MessageView::from);
    let message = views
        .next()
        .ok_or_else(|| ApiError::internal("a message change stored no message"))?;
    Ok(MessageOutcome {
        conversation_id: applied.conversation.id,
        state: applied.conversation.state,
        message,
        reply: views.next(),
    })
}

/// Outbox event: a customer message a helpdesk delivered, to be answered by the worker rather
/// than inside the helpdesk's webhook request. Internal: it goes to no endpoint.
pub const TURN_EVENT: &str = "fathom.turn";

/// The body of a [`TURN_EVENT`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueuedTurn {
    /// The helpdesk that delivered the message and takes the reply (its registry name).
    pub helpdesk: String,
    pub conversation_id: fathom_conversations::ConversationId,
    pub text: String,
    /// Where the reply goes, in the helpdesk's own terms (e.g. Chatwoot's account and
    /// conversation); handed back to [`crate::helpdesk::Helpdesk::reply_events`].
    pub reply_to: serde_json::Value,
}

impl QueuedTurn {
    pub fn event(&self) -> NewEvent {
        NewEvent {
            event_type: TURN_EVENT.to_string(),
            payload: serde_json::to_value(self).unwrap_or_default(),
        }
    }
}

/// Deliver a [`TURN_EVENT`]: run the engine and record the turn with the helpdesk's reply events.
/// Idempotent: the turn's event id is recorded as an inbound delivery with it, so a retry after a
/// crash (or after the lease ran out under a slow model) records nothing twice.
pub(crate) async fn answer_queued(state: &AppState, event: &OutboxEvent) -> Attempt {
    let turn: QueuedTurn = match serde_json::from_value(event.payload.clone()) {
        Ok(turn) => turn,
        Err(error) => {
            return Attempt::Failed {
                error: format!("malformed {TURN_EVENT} event: {error}"),
                retry_after: None,
            }
        }
    };
    let Some(helpdesk) = crate::helpdesk::by_name(&turn.helpdesk) else {
        return Attempt::Abandoned(format!("no helpdesk {:?} takes replies", turn.helpdesk));
    };
    let conversation = match state
        .store
        .get(&event.workspace, turn.conversation_id)
        .await
    {
        Ok(Some(conversation)) => conversation,
        Ok(None) => return Attempt::Abandoned("the conversation is gone".into()),
        Err(error) => return Attempt::store_failed(error),
    };
    let history = match state.store.messages(conversation.id).await {
        Ok(history) => history,
        Err(error) => return Attempt::store_failed(error),
    };
    if !conversation.state.bot_replies() {
        tracing::info!(conversation_id = %conversation.id, state = %conversation.state, "a person has the conversation now; the queued message is stored, not answered");
        if let Err(error) = store_silently(state, &conversation, &history, turn.text.clone()).await
        {
            // Closed in the meantime: the conversation takes no more messages.
            tracing::info!(conversation_id = %conversation.id, code = error.code, "the queued message was not stored");
        }
        return Attempt::Delivered;
    }
    let input = engine_input(
        &state.engine.config().limits,
        &conversation,
        &history,
        &turn.text,
    );
    let decision = state.engine.decide(&input).await;
    let handoff = decision.decision == DecisionKind::Handoff;
    let extras = ChannelExtras {
        events: helpdesk.reply_events(&turn.reply_to, &decision.answer, handoff),
        inbound_delivery: Some((TURN_EVENT.to_string(), event.id.clone())),
    };
    match record_decision(
        state,
        &conversation,
        &history,
        turn.text.clone(),
        decision,
        extras,
    )
    .await
    {
        Ok(_) => Attempt::Delivered,
        // Given to a person while the model was thinking: the bot keeps quiet.
        Err(error) if error.code == "conversation_state_conflict" => {
            tracing::info!(conversation_id = %conversation.id, "the conversation changed hands while the bot was answering; the answer is dropped");
            Attempt::Delivered
        }
        Err(error) => Attempt::Failed {
            error: format!("recording the answer: {}", error.message),
            retry_after: None,
        },
    }
}
