//! The parts of Chatwoot's Agent Bot webhook bodies Fathom reads, as Chatwoot builds them
//! (`app/listeners/agent_bot_listener.rb`):
//!
//! - message events (`message_created`, `message_updated`): `Message#webhook_data` merged with
//!   `event`. `message_type` is a string here (`incoming`, `outgoing`, `template`), `id` is the
//!   message's id, `sender` is the author's `webhook_data` (`type` `contact`, `user` or
//!   `agent_bot`), and `conversation` is the conversation's `webhook_data`;
//! - conversation events (`conversation_resolved`, `conversation_opened`,
//!   `conversation_status_changed`, `conversation_updated`): the conversation's `webhook_data`
//!   *is* the top level (`Conversations::EventDataPresenter`), merged with `event` and, for the
//!   last two, `changed_attributes: [{"<attribute>": {"previous_value", "current_value"}}]`
//!   (`BaseListener#extract_changed_attributes`, `null` when nothing is listed). There is no
//!   `conversation` key;
//! - in a conversation's webhook data, `id` is the display id (the one the REST API takes),
//!   `status` is `open`, `resolved`, `pending` or `snoozed`, `meta.assignee_type` is `AgentBot`
//!   or `User` (or null), and `messages[]` hold `push_event_data`, where `message_type` is an
//!   integer (0 incoming, 1 outgoing, 2 activity, 3 template).
//!
//! Everything else in the bodies is ignored, and every field here may be missing (older
//! releases send less, e.g. no `account` in conversation events before `webhook_data` existed).

use serde::Deserialize;

/// Chatwoot's ids: JSON numbers (some proxies and forks send the digits as a string).
pub use crate::helpdesk::NumericId as Id;

/// `{id, name}`: `Account#webhook_data`, `Inbox#webhook_data`.
#[derive(Debug, Clone, Deserialize)]
pub struct Named {
    pub id: Id,
    #[serde(default)]
    pub name: Option<String>,
}

/// A message's author (`Contact`, `User` or `AgentBot` `webhook_data`), or a conversation's
/// contact or assignee (`push_event_data`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Person {
    #[serde(default)]
    pub id: Option<Id>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone_number: Option<String>,
    #[serde(default)]
    pub identifier: Option<String>,
    /// `contact`, `user` or `agent_bot`.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Meta {
    #[serde(default)]
    pub sender: Option<Person>,
    #[serde(default)]
    pub assignee: Option<Person>,
    /// `AgentBot`, `User`, or null when unassigned.
    #[serde(default)]
    pub assignee_type: Option<String>,
}

/// `Message#push_event_data`, as listed in a conversation's `messages`.
#[derive(Debug, Clone, Deserialize)]
pub struct PushMessage {
    #[serde(default)]
    pub account_id: Option<Id>,
}

/// `Conversation#webhook_data` (`Conversations::EventDataPresenter`).
#[derive(Debug, Clone, Deserialize)]
pub struct Conversation {
    /// The display id.
    pub id: Id,
    #[serde(default)]
    pub inbox_id: Option<Id>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub meta: Meta,
    #[serde(default)]
    pub account: Option<Named>,
    #[serde(default)]
    pub account_id: Option<Id>,
    #[serde(default)]
    pub messages: Vec<PushMessage>,
}

impl Conversation {
    /// The account, from `account` (newer releases) or the account id its messages carry.
    pub fn account_id(&self) -> Option<u64> {
        self.account
            .as_ref()
            .map(|a| a.id.0)
            .or(self.account_id.map(|a| a.0))
            .or_else(|| self.messages.iter().find_map(|m| m.account_id.map(|a| a.0)))
    }

    pub fn assigned_to_a_bot(&self) -> bool {
        self.meta.assignee_type.as_deref() == Some("AgentBot")
    }

    pub fn assigned_to_a_person(&self) -> bool {
        self.meta.assignee_type.as_deref() == Some("User")
    }
}

/// `Message#webhook_data`.
#[derive(Debug, Clone, Deserialize)]
pub struct Message {
    pub id: Id,
    #[serde(default)]
    pub content: Option<String>,
    /// `incoming`, `outgoing`, `activity` or `template`.
    #[serde(default)]
    pub message_type: Option<String>,
    #[serde(default)]
    pub private: bool,
    #[serde(default)]
    pub sender: Option<Person>,
    #[serde(default)]
    pub inbox: Option<Named>,
    #[serde(default)]
    pub account: Option<Named>,
    #[serde(default)]
    pub conversation: Option<Conversation>,
}

/// One entry of `changed_attributes`: `{"<attribute>": {"previous_value", "current_value"}}`.
pub type ChangedAttribute =
    std::collections::BTreeMap<String, serde_json::Map<String, serde_json::Value>>;

/// A conversation event: the conversation at the top level.
#[derive(Debug, Clone, Deserialize)]
pub struct ConversationEvent {
    #[serde(flatten)]
    pub conversation: Conversation,
    #[serde(default)]
    pub changed_attributes: Option<Vec<ChangedAttribute>>,
}

impl ConversationEvent {
    /// Whether `attribute` is among the changed ones.
    pub fn changed(&self, attribute: &str) -> bool {
        self.changed_attributes
            .iter()
            .flatten()
            .any(|entry| entry.contains_key(attribute))
    }
}

/// Just the event name, read first.
#[derive(Debug, Clone, Deserialize)]
pub struct Envelope {
    pub event: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_numbers_or_digit_strings() {
        let named: Named = serde_json::from_str(r#"{"id": 7}"#).unwrap();
        assert_eq!(named.id, Id(7));
        let named: Named = serde_json::from_str(r#"{"id": "8"}"#).unwrap();
        assert_eq!(named.id, Id(8));
        assert!(serde_json::from_str::<Named>(r#"{"id": "eight"}"#).is_err());
    }

    #[test]
    fn a_conversation_names_its_account_directly_or_through_its_messages() {
        let newer: Conversation =
            serde_json::from_str(r#"{"id": 3, "account": {"id": 5, "name": "Acme"}}"#).unwrap();
        assert_eq!(newer.account_id(), Some(5));
        let older: Conversation = serde_json::from_str(
            r#"{"id": 3, "messages": [{"account_id": 6, "message_type": 0}]}"#,
        )
        .unwrap();
        assert_eq!(older.account_id(), Some(6));
    }

    #[test]
    fn changed_attributes_are_a_list_of_single_key_maps_or_null() {
        let event: ConversationEvent = serde_json::from_str(
            r#"{"id": 3, "status": "open", "changed_attributes": [{"status": {"previous_value": "pending", "current_value": "open"}}]}"#,
        )
        .unwrap();
        assert!(event.changed("status"));
        assert!(!event.changed("assignee_id"));
        let event: ConversationEvent =
            serde_json::from_str(r#"{"id": 3, "changed_attributes": null}"#).unwrap();
        assert!(!event.changed("status"));
    }
}
