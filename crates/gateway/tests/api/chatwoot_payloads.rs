//! Chatwoot Agent Bot webhook bodies and headers, built the way Chatwoot builds them. Each
//! builder follows one source file of `chatwoot/chatwoot` (read through the code index; the
//! repository snapshot itself is over the size the fetch tool brings here):
//!
//! - [`message_event`] follows `Message#webhook_data` (`app/models/message.rb`) merged with `event`
//!   (`app/listeners/agent_bot_listener.rb`, `process_message_event`): `message_type` is the enum
//!   *name* (`"incoming"`), `sender` is `Contact`/`User`/`AgentBot#webhook_data`, `private` is
//!   set, `conversation` is the conversation's `webhook_data`;
//! - [`conversation_webhook_data`] follows `Conversations::EventDataPresenter#webhook_data`
//!   (`app/presenters/conversations/event_data_presenter.rb`): `push_data` plus `account`, with
//!   `id` = `display_id`, `meta.{sender, assignee, assignee_type, team, hmac_verified}`, and
//!   `messages` = `[messages.chat.last.webhook_push_event_data]`, where `message_type` is the
//!   enum *value* (`0`) (`Message#push_event_data`: `message_type_before_type_cast`);
//! - [`conversation_event`] follows the listener's conversation events, `conversation.webhook_data
//!   .merge(event:)`, plus `changed_attributes` for `conversation_status_changed` and
//!   `conversation_updated`, shaped by `BaseListener#extract_changed_attributes`
//!   (`[{attr => {previous_value:, current_value:}}]`, `nil` when none);
//! - [`signed_headers`] follows `Webhooks::Trigger#request_headers` (`lib/webhooks/trigger.rb`):
//!   `X-Chatwoot-Delivery` (a UUID per enqueue, kept by retries), and when the bot has a secret
//!   (Chatwoot 4.13+, PR #13892) `X-Chatwoot-Timestamp` and `X-Chatwoot-Signature: sha256=<hex
//!   HMAC-SHA256(secret, "#{ts}.#{body}")>`; [`unsigned_headers`]: older releases (no secret).
//!
//! Versions read: `spec/listeners/agent_bot_listener_spec.rb` at chatwoot/chatwoot@0ebb24c3
//! (events, `secret: agent_bot.secret, delivery_id: SecureRandom.uuid`, `changed_attributes:
//! nil` for a bare `conversation_updated`); `agent_bot_listener.rb`, `event_data_presenter.rb`,
//! `message.rb`, `trigger.rb`, `agent_bots/webhook_job.rb` and `base_listener.rb` in their
//! versions with agent-bot signing (the index names no commit for those excerpts);
//! `app/models/concerns/message_filter_helpers.rb` (`webhook_sendable?` = incoming, outgoing or
//! template); `conversation.rb` (`assignee_type` is `'AgentBot'`, `'User'` or nil;
//! `assigned_entity` = `assignee_agent_bot || assignee`).

use serde_json::{json, Value};

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Author {
    /// The customer (`Contact`).
    Contact,
    /// A human agent (`User`).
    Agent,
    /// An Agent Bot: Fathom itself when it posts through the API.
    Bot,
}

/// Who a conversation is assigned to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Assignee {
    Nobody,
    Agent,
    Bot,
}

/// One Chatwoot conversation as the fixtures see it.
#[derive(Debug, Clone)]
pub struct Conversation {
    pub account_id: u64,
    pub inbox_id: u64,
    /// The display id (what the REST API and the webhooks call `id`).
    pub display_id: u64,
    /// `open`, `resolved`, `pending` or `snoozed`.
    pub status: &'static str,
    pub assignee: Assignee,
}

pub const CONTACT_ID: u64 = 42;
pub const AGENT_ID: u64 = 7;
pub const BOT_ID: u64 = 3;

impl Conversation {
    pub fn new(account_id: u64, inbox_id: u64, display_id: u64, status: &'static str) -> Self {
        Self {
            account_id,
            inbox_id,
            display_id,
            status,
            assignee: Assignee::Nobody,
        }
    }

    pub fn with_status(&self, status: &'static str) -> Self {
        Self {
            status,
            ..self.clone()
        }
    }

    pub fn assigned_to(&self, assignee: Assignee) -> Self {
        Self {
            assignee,
            ..self.clone()
        }
    }
}

fn account(conversation: &Conversation) -> Value {
    json!({"id": conversation.account_id, "name": "Acme Inc"})
}

fn inbox(conversation: &Conversation) -> Value {
    json!({"id": conversation.inbox_id, "name": "Website"})
}

/// `Contact#push_event_data`.
fn contact_push_event_data() -> Value {
    json!({
        "additional_attributes": {"city": "London"},
        "custom_attributes": {},
        "email": "grace@example.com",
        "id": CONTACT_ID,
        "identifier": null,
        "name": "Grace Hopper",
        "phone_number": "+442071838750",
        "thumbnail": "",
        "blocked": false,
        "type": "contact"
    })
}

/// `Contact#webhook_data`.
fn contact_webhook_data(conversation: &Conversation) -> Value {
    json!({
        "account": account(conversation),
        "additional_attributes": {"city": "London"},
        "avatar": "",
        "custom_attributes": {},
        "email": "grace@example.com",
        "id": CONTACT_ID,
        "identifier": null,
        "name": "Grace Hopper",
        "phone_number": "+442071838750",
        "thumbnail": "",
        "blocked": false,
        "type": "contact"
    })
}

/// `User#push_event_data`.
fn agent_push_event_data() -> Value {
    json!({
        "id": AGENT_ID, "name": "Dana Scully", "available_name": "Dana",
        "avatar_url": "", "type": "user", "availability_status": "online", "thumbnail": ""
    })
}

/// `AgentBot#push_event_data(inbox)`.
fn bot_push_event_data() -> Value {
    json!({"id": BOT_ID, "name": "Fathom", "avatar_url": "", "type": "agent_bot"})
}

/// The `sender` of `Message#webhook_data`: the author's `webhook_data`.
fn sender_webhook_data(conversation: &Conversation, author: Author) -> Value {
    match author {
        Author::Contact => contact_webhook_data(conversation),
        Author::Agent => {
            json!({"id": AGENT_ID, "name": "Dana Scully", "email": "dana@acme.example", "type": "user"})
        }
        Author::Bot => json!({"id": BOT_ID, "name": "Fathom", "type": "agent_bot"}),
    }
}

/// A message, enough to build both of its shapes.
#[derive(Debug, Clone)]
pub struct Message {
    pub id: u64,
    pub content: &'static str,
    pub author: Author,
    pub private: bool,
}

impl Message {
    pub fn incoming(id: u64, content: &'static str) -> Self {
        Self {
            id,
            content,
            author: Author::Contact,
            private: false,
        }
    }

    pub fn outgoing(id: u64, content: &'static str, author: Author) -> Self {
        Self {
            id,
            content,
            author,
            private: false,
        }
    }

    /// A private note: `outgoing` with `private: true`.
    pub fn note(id: u64, content: &'static str) -> Self {
        Self {
            id,
            content,
            author: Author::Agent,
            private: true,
        }
    }

    fn message_type(&self) -> (&'static str, u64) {
        match self.author {
            Author::Contact => ("incoming", 0),
            _ => ("outgoing", 1),
        }
    }
}

/// `Message#push_event_data` through `webhook_push_event_data`: the entry of a conversation's
/// `messages`, with the integer `message_type`.
fn push_event_data(conversation: &Conversation, message: &Message) -> Value {
    let (_, type_value) = message.message_type();
    let (sender_type, sender_id, sender) = match message.author {
        Author::Contact => ("Contact", CONTACT_ID, contact_push_event_data()),
        Author::Agent => ("User", AGENT_ID, agent_push_event_data()),
        Author::Bot => ("AgentBot", BOT_ID, bot_push_event_data()),
    };
    json!({
        "id": message.id,
        "content": message.content,
        "account_id": conversation.account_id,
        "inbox_id": conversation.inbox_id,
        "conversation_id": conversation.display_id,
        "message_type": type_value,
        "created_at": 1_776_000_000u64 + message.id,
        "updated_at": "2026-04-12T13:20:00.000Z",
        "private": message.private,
        "status": "sent",
        "source_id": null,
        "content_type": "text",
        "content_attributes": {},
        "sender_type": sender_type,
        "sender_id": sender_id,
        "external_source_ids": {},
        "additional_attributes": {},
        "processed_message_content": message.content,
        "sentiment": {},
        "conversation": {
            "assignee_id": if conversation.assignee == Assignee::Agent { json!(AGENT_ID) } else { Value::Null },
            "unread_count": 1,
            "last_activity_at": 1_776_000_000u64,
            "contact_inbox": {"source_id": "a6c5cde1-1b3f-4c43-9d3e-2d5f1d2a7b10"}
        },
        "sender": sender
    })
}

/// `Conversations::EventDataPresenter#webhook_data`; `last` is the latest public, non-activity
/// message (`messages.chat.last`), if any.
pub fn conversation_webhook_data(conversation: &Conversation, last: Option<&Message>) -> Value {
    let (assignee, assignee_type) = match conversation.assignee {
        Assignee::Nobody => (Value::Null, Value::Null),
        Assignee::Agent => (agent_push_event_data(), json!("User")),
        Assignee::Bot => (bot_push_event_data(), json!("AgentBot")),
    };
    let messages: Vec<Value> = last
        .filter(|m| !m.private)
        .map(|m| push_event_data(conversation, m))
        .into_iter()
        .collect();
    json!({
        "additional_attributes": {"browser": {"browser_name": "Firefox"}, "referer": "https://acme.example/pricing"},
        "can_reply": true,
        "channel": "Channel::WebWidget",
        "contact_inbox": {
            "id": 77, "contact_id": CONTACT_ID, "inbox_id": conversation.inbox_id,
            "source_id": "a6c5cde1-1b3f-4c43-9d3e-2d5f1d2a7b10",
            "created_at": "2026-04-12T13:00:00.000Z", "updated_at": "2026-04-12T13:00:00.000Z",
            "hmac_verified": false, "pubsub_token": "rM8EPqsq6Lp2ySAe4ZPxVWKh"
        },
        "id": conversation.display_id,
        "inbox_id": conversation.inbox_id,
        "messages": messages,
        "labels": [],
        "meta": {
            "sender": contact_push_event_data(),
            "assignee": assignee,
            "assignee_type": assignee_type,
            "team": null,
            "hmac_verified": false
        },
        "status": conversation.status,
        "custom_attributes": {},
        "snoozed_until": null,
        "unread_count": 1,
        "first_reply_created_at": null,
        "priority": null,
        "waiting_since": 1_776_000_000u64,
        "agent_last_seen_at": 0,
        "contact_last_seen_at": 0,
        "last_activity_at": 1_776_000_000u64,
        "timestamp": 1_776_000_000u64,
        "created_at": 1_775_999_000u64,
        "updated_at": 1_776_000_000.123_f64,
        "account": account(conversation)
    })
}

/// `message.webhook_data.merge(event:)` for `message_created` / `message_updated`.
pub fn message_event(event: &str, conversation: &Conversation, message: &Message) -> Value {
    let (type_name, _) = message.message_type();
    json!({
        "account": account(conversation),
        "additional_attributes": {},
        "content_attributes": {},
        "content_type": "text",
        "content": message.content,
        "conversation": conversation_webhook_data(conversation, Some(message)),
        "created_at": "2026-04-12T13:20:00.000Z",
        "id": message.id,
        "inbox": inbox(conversation),
        "message_type": type_name,
        "private": message.private,
        "sender": sender_webhook_data(conversation, message.author),
        "source_id": null,
        "event": event
    })
}

/// `conversation.webhook_data.merge(event:)`, and `changed_attributes:` for the two events that
/// carry them (`[(attribute, previous, current)]`; empty gives `null`).
pub fn conversation_event(
    event: &str,
    conversation: &Conversation,
    changed: &[(&str, Value, Value)],
) -> Value {
    let mut body = conversation_webhook_data(conversation, None);
    body["event"] = json!(event);
    if matches!(
        event,
        "conversation_status_changed" | "conversation_updated"
    ) {
        body["changed_attributes"] = if changed.is_empty() {
            Value::Null
        } else {
            Value::Array(
                changed
                    .iter()
                    .map(|(key, previous, current)| {
                        let mut change = serde_json::Map::new();
                        change.insert(
                            key.to_string(),
                            json!({"previous_value": previous, "current_value": current}),
                        );
                        Value::Object(change)
                    })
                    .collect(),
            )
        };
    }
    body
}

/// `contact_inbox.webhook_data.merge(event: 'webwidget_triggered')` with `event_info`.
pub fn webwidget_triggered(conversation: &Conversation) -> Value {
    json!({
        "id": 77,
        "contact": contact_webhook_data(conversation),
        "inbox": inbox(conversation),
        "account": account(conversation),
        "current_conversation": null,
        "source_id": "a6c5cde1-1b3f-4c43-9d3e-2d5f1d2a7b10",
        "event": "webwidget_triggered",
        "event_info": {"widget_language": "en", "browser_language": "en", "referer": "https://acme.example"}
    })
}

/// `Webhooks::Trigger#request_headers` for a bot with a secret.
pub fn signed_headers(
    secret: &str,
    delivery_id: &str,
    timestamp: i64,
    body: &str,
) -> Vec<(String, String)> {
    vec![
        ("Content-Type".into(), "application/json".into()),
        ("Accept".into(), "application/json".into()),
        ("X-Chatwoot-Delivery".into(), delivery_id.into()),
        ("X-Chatwoot-Timestamp".into(), timestamp.to_string()),
        (
            "X-Chatwoot-Signature".into(),
            chatwoot_signature(secret, timestamp, body),
        ),
    ]
}

/// `"sha256=#{OpenSSL::HMAC.hexdigest('SHA256', @secret, "#{ts}.#{body}")}"`, computed here
/// rather than with the gateway's own function.
pub fn chatwoot_signature(secret: &str, timestamp: i64, body: &str) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2_010::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.{body}").as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

/// What Chatwoot before 4.13 sends: no signature, no delivery id.
pub fn unsigned_headers() -> Vec<(String, String)> {
    vec![
        ("Content-Type".into(), "application/json".into()),
        ("Accept".into(), "application/json".into()),
    ]
}
