//! Chatwoot's Agent Bot events, read into Fathom's actions. Every event `AgentBotListener` sends
//! is either applied or deliberately ignored here (the table is in `docs/webhooks.md`):
//!
//! | event | what Fathom does |
//! |---|---|
//! | `message_created`, incoming, public | the bot answers if it owns the conversation (pending, or open and assigned to the bot); otherwise the message is kept for the transcript |
//! | `message_created`, outgoing, by a user (an agent), public | the agent's reply, kept; a person has the conversation |
//! | `message_created`, outgoing by an agent bot (Fathom's own replies) | ignored (echo) |
//! | `message_created`, private note | ignored (agents' notes never reach the customer) |
//! | `message_updated` | ignored (edits, delivery statuses) |
//! | `conversation_resolved` | resolved |
//! | `conversation_opened` | a person has it (after Fathom's own handoff: expected, stays handed off) |
//! | `conversation_status_changed` | `resolved` → resolved; `pending` → back to the bot; `open` → as opened (or back to the bot if assigned to it); `snoozed` → ignored |
//! | `conversation_updated` | assignee changes: assigned to the bot → back to the bot; to an agent → a person has it; other attributes ignored |
//! | `webwidget_triggered`, `contact_updated`, anything else | ignored |

use fathom_core::{CustomerAttributes, WorkspaceId};

use super::payload::{Conversation, ConversationEvent, Envelope, Message, Person};
use super::{ChatwootConfig, HEADER_DELIVERY};
use crate::config::GatewayConfig;
use crate::error::ApiError;
use crate::handoff::{Action, Inbound, Reference};
use crate::helpdesk::{Parsed, Request};
use crate::json::parse as parse_json;

/// The link id of a Chatwoot conversation in a workspace: `<account>:<display id>`.
pub fn link_id(account_id: u64, display_id: u64) -> String {
    format!("{account_id}:{display_id}")
}

pub fn parse(
    config: &GatewayConfig,
    senders: &[WorkspaceId],
    request: &Request<'_>,
) -> Result<Parsed, ApiError> {
    let envelope: Envelope = parse_json(request.body)?;
    let delivery = request
        .headers
        .get(HEADER_DELIVERY)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.len() <= 200)
        .map(str::to_string);
    let event = envelope.event.as_str();
    let read = match event {
        "message_created" | "message_updated" => {
            let message: Message = parse_json(request.body)?;
            let conversation = message.conversation.as_ref();
            let account = message
                .account
                .as_ref()
                .map(|a| a.id.0)
                .or_else(|| conversation.and_then(Conversation::account_id));
            let inbox = message
                .inbox
                .as_ref()
                .map(|i| i.id.0)
                .or_else(|| conversation.and_then(|c| c.inbox_id.map(|i| i.0)));
            let (workspace, chatwoot) = match pick(config, senders, account, inbox) {
                Ok(found) => found,
                Err(ignored) => return Ok(ignored),
            };
            (
                workspace,
                message_actions(chatwoot, event, &message)
                    .map(|action| action.into_iter().collect::<Vec<_>>()),
            )
        }
        "conversation_resolved"
        | "conversation_opened"
        | "conversation_status_changed"
        | "conversation_updated" => {
            let conversation_event: ConversationEvent = parse_json(request.body)?;
            let conversation = &conversation_event.conversation;
            let (workspace, chatwoot) = match pick(
                config,
                senders,
                conversation.account_id(),
                conversation.inbox_id.map(|i| i.0),
            ) {
                Ok(found) => found,
                Err(ignored) => return Ok(ignored),
            };
            (
                workspace,
                conversation_action(event, &conversation_event).map(|action| {
                    vec![Inbound {
                        reference: Reference::Linked(link_id(
                            chatwoot.account_id,
                            conversation.id.0,
                        )),
                        action,
                        delivery: delivery
                            .clone()
                            .map(|d| format!("account:{}:delivery:{d}", chatwoot.account_id)),
                    }]
                }),
            )
        }
        _ => {
            return Ok(Parsed::Ignored {
                workspace: senders[0].clone(),
                why: format!("{event} is not an event Fathom applies"),
            })
        }
    };
    Ok(match read {
        (workspace, Ok(actions)) => Parsed::Actions { workspace, actions },
        (workspace, Err(why)) => Parsed::Ignored { workspace, why },
    })
}

/// The workspace among `senders` (all proved by the signature or token) whose Chatwoot account
/// and inbox the event is from. None: the bot is connected to an inbox no workspace answers.
fn pick<'a>(
    config: &'a GatewayConfig,
    senders: &[WorkspaceId],
    account: Option<u64>,
    inbox: Option<u64>,
) -> Result<(WorkspaceId, &'a ChatwootConfig), Parsed> {
    senders
        .iter()
        .find_map(|workspace| {
            let chatwoot = config.workspaces.get(workspace)?.chatwoot.as_ref()?;
            chatwoot
                .handles(account, inbox)
                .then(|| (workspace.clone(), chatwoot))
        })
        .ok_or_else(|| Parsed::Ignored {
            workspace: senders[0].clone(),
            why: format!(
                "no workspace answers Chatwoot account {} inbox {}",
                account.map_or("?".into(), |a| a.to_string()),
                inbox.map_or("?".into(), |i| i.to_string())
            ),
        })
}

fn customer_of(message: &Message, conversation: &Conversation) -> CustomerAttributes {
    let contact: Option<&Person> = message
        .sender
        .as_ref()
        .filter(|s| s.kind.as_deref() == Some("contact"))
        .or(conversation.meta.sender.as_ref());
    let mut customer = CustomerAttributes::default();
    if let Some(contact) = contact {
        customer.name = contact.name.clone().filter(|n| !n.trim().is_empty());
        for (key, value) in [
            ("email", &contact.email),
            ("phone", &contact.phone_number),
            ("chatwoot_identifier", &contact.identifier),
        ] {
            if let Some(value) = value.as_ref().filter(|v| !v.trim().is_empty()) {
                customer.extra.insert(key.into(), value.clone());
            }
        }
        if let Some(id) = contact.id {
            customer
                .extra
                .insert("chatwoot_contact_id".into(), id.to_string());
        }
    }
    customer
}

/// What a message event means. `Err` says why it is ignored.
fn message_actions(
    chatwoot: &ChatwootConfig,
    event: &str,
    message: &Message,
) -> Result<Option<Inbound>, String> {
    if event == "message_updated" {
        return Err("message_updated (edits, delivery statuses) is not applied".into());
    }
    let Some(conversation) = &message.conversation else {
        return Err("the message event carries no conversation".into());
    };
    if message.private {
        return Err("private notes stay with the agents".into());
    }
    let external = link_id(chatwoot.account_id, conversation.id.0);
    let text = message
        .content
        .as_deref()
        .map(str::trim)
        .unwrap_or_default()
        .to_string();
    // Keyed by the message, not the delivery: two bots of one inbox pointing at Fathom get the
    // same message twice, with two delivery ids. Message ids are sequential per installation:
    // the key names the account, and the store scopes it to the workspace (one installation's
    // account, or some of its inboxes).
    let delivery = Some(format!(
        "account:{}:message:{}",
        chatwoot.account_id, message.id
    ));
    let kind = message.message_type.as_deref().unwrap_or_default();
    let sender_kind = message.sender.as_ref().and_then(|s| s.kind.as_deref());
    let action = match (kind, sender_kind) {
        ("incoming", _) => {
            if text.is_empty() {
                return Err("the message has no text (an attachment only)".into());
            }
            let bot_owns = match conversation.status.as_deref() {
                Some("pending") => true,
                Some("open") => conversation.assigned_to_a_bot(),
                _ => false,
            };
            let mut customer = customer_of(message, conversation);
            customer
                .extra
                .insert("chatwoot_conversation".into(), external.clone());
            Action::CustomerMessage {
                text,
                customer,
                reply_to: serde_json::json!({
                    "account_id": chatwoot.account_id,
                    "conversation_id": conversation.id.0,
                    "assigned_to_bot": conversation.assigned_to_a_bot(),
                }),
                answer: bot_owns,
            }
        }
        ("outgoing", Some("user")) => {
            if text.is_empty() {
                return Err("the agent's message has no text".into());
            }
            Action::AgentMessage {
                text,
                author: message.sender.as_ref().and_then(|s| s.name.clone()),
            }
        }
        ("outgoing", Some("agent_bot")) => {
            return Err("the bot's own message (echo)".into());
        }
        ("outgoing", _) => {
            return Err("an outgoing message without an agent (automation, campaign)".into())
        }
        (other, _) => return Err(format!("{other:?} messages are not applied")),
    };
    Ok(Some(Inbound {
        reference: Reference::Linked(external),
        action,
        delivery,
    }))
}

/// What a conversation event means. `Err` says why it is ignored.
fn conversation_action(
    event: &str,
    conversation_event: &ConversationEvent,
) -> Result<Action, String> {
    let conversation = &conversation_event.conversation;
    let by_status = |status: Option<&str>| match status {
        Some("resolved") => Ok(Action::Resolved),
        Some("pending") => Ok(Action::ReturnedToBot),
        Some("open") if conversation.assigned_to_a_bot() => Ok(Action::ReturnedToBot),
        Some("open") => Ok(Action::TakenByPerson),
        Some("snoozed") => Err("snoozed: nothing changes until it reopens".to_string()),
        Some(other) => Err(format!("status {other:?} is not one Fathom knows")),
        None => Err("the event carries no status".to_string()),
    };
    match event {
        "conversation_resolved" => Ok(Action::Resolved),
        "conversation_opened" => Ok(Action::TakenByPerson),
        "conversation_status_changed" => by_status(conversation.status.as_deref()),
        "conversation_updated" => {
            if conversation_event.changed("assignee_agent_bot_id")
                || conversation_event.changed("assignee_id")
            {
                if conversation.assigned_to_a_bot() {
                    return Ok(Action::ReturnedToBot);
                }
                if conversation.assigned_to_a_person() {
                    return Ok(Action::TakenByPerson);
                }
                return Err("unassigned: nothing changes".into());
            }
            Err("only assignee changes of conversation_updated are applied".into())
        }
        other => Err(format!("{other} is not an event Fathom applies")),
    }
}
