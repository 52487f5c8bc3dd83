//! The helpdesks Fathom hands conversations to, each behind the [`Helpdesk`] trait, in a module of
//! its own, and listed once in [`HELPDESKS`]:
//!
//! - [`standard`]: any helpdesk that speaks Standard Webhooks (Fathom's own envelope);
//! - [`chatwoot`]: a Chatwoot Agent Bot (Chatwoot is also the customer's channel);
//! - [`django_helpdesk`]: django-helpdesk's REST API and follow-up webhook;
//! - [`zendesk`]: Zendesk Support's Tickets API and webhooks.
//!
//! A helpdesk does three things: it delivers the outbox events meant for it, it authenticates and
//! reads the webhooks it sends into [`crate::handoff::Inbound`] actions, and it keeps the mapping
//! between its ids (tickets, conversations) and Fathom's conversations, as links named after it.
//! What the actions do to a conversation is decided in [`crate::handoff`], the same for all.

pub mod chatwoot;
pub mod django_helpdesk;
pub mod standard;
pub mod ticket;
pub mod zendesk;

use async_trait::async_trait;
use fathom_conversations::{HelpdeskLinks, NewEvent, OutboxEvent};
use fathom_core::WorkspaceId;
use http::HeaderMap;

use crate::config::{GatewayConfig, WorkspaceConfig};
use crate::error::ApiError;
use crate::handoff::Inbound;
use crate::outbox::Attempt;

/// Every helpdesk Fathom knows. Adding one is a module and a line here.
pub static HELPDESKS: &[&dyn Helpdesk] = &[
    &standard::Standard,
    &chatwoot::Chatwoot,
    &django_helpdesk::DjangoHelpdesk,
    &zendesk::Zendesk,
];

/// The helpdesk named `name` (as in `/v1/helpdesk/{name}/events`).
pub fn by_name(name: &str) -> Option<&'static dyn Helpdesk> {
    HELPDESKS.iter().copied().find(|h| h.name() == name)
}

/// Every helpdesk's name, for error messages and the OpenAPI description.
pub fn names() -> Vec<&'static str> {
    HELPDESKS.iter().map(|h| h.name()).collect()
}

/// The helpdesk that takes this workspace's `conversation.*` events, if any.
pub fn conversation_events_sink(workspace: &WorkspaceConfig) -> Option<&'static dyn Helpdesk> {
    HELPDESKS
        .iter()
        .copied()
        .find(|h| h.takes_conversation_events() && h.configured(workspace))
}

/// Where an outbox event of this workspace goes: the helpdesk whose own event it is (e.g.
/// `chatwoot.reply`), or for `conversation.*` the workspace's sink.
pub fn destination(workspace: &WorkspaceConfig, event_type: &str) -> Option<&'static dyn Helpdesk> {
    if let Some(owner) = HELPDESKS
        .iter()
        .copied()
        .find(|h| h.event_types().contains(&event_type))
    {
        return owner.configured(workspace).then_some(owner);
    }
    conversation_events_sink(workspace)
}

/// An inbound webhook request, before anything in it is trusted.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub headers: &'a HeaderMap,
    pub query: Option<&'a str>,
    pub body: &'a [u8],
}

/// What an authenticated request says.
#[derive(Debug)]
pub enum Parsed {
    /// Actions for one workspace.
    Actions {
        workspace: WorkspaceId,
        actions: Vec<Inbound>,
    },
    /// Nothing for Fathom in it (an event it deliberately leaves alone); `why` is answered.
    Ignored { workspace: WorkspaceId, why: String },
}

/// What a delivery may use.
pub struct Delivery<'a> {
    pub http: &'a reqwest::Client,
    pub links: &'a dyn HelpdeskLinks,
    pub workspace_id: &'a WorkspaceId,
    pub workspace: &'a WorkspaceConfig,
}

#[async_trait]
pub trait Helpdesk: Send + Sync + std::fmt::Debug {
    /// The name in `/v1/helpdesk/{name}/events` and in conversation links.
    fn name(&self) -> &'static str;

    /// Whether the workspace uses this helpdesk.
    fn configured(&self, workspace: &WorkspaceConfig) -> bool;

    /// Whether it takes a workspace's `conversation.*` events (handoff, message, resolved). At
    /// most one such helpdesk is configured per workspace.
    fn takes_conversation_events(&self) -> bool {
        true
    }

    /// Outbox event types of its own (e.g. `chatwoot.reply`), delivered only by it.
    fn event_types(&self) -> &'static [&'static str] {
        &[]
    }

    /// The endpoint its deliveries go to (a `410 Gone` from it disables it).
    fn endpoint<'a>(&self, workspace: &'a WorkspaceConfig) -> &'a str;

    /// Check an inbound request's signature or token before its body is read: the workspaces
    /// whose credentials it carries (several when they share one, e.g. one Chatwoot bot serving
    /// the inboxes of two workspaces). A 401 names the header or parameter that was wrong.
    fn authenticate(
        &self,
        config: &GatewayConfig,
        request: &Request<'_>,
    ) -> Result<Vec<WorkspaceId>, ApiError>;

    /// Read an authenticated request into actions for one of `senders`.
    fn parse(
        &self,
        config: &GatewayConfig,
        senders: &[WorkspaceId],
        request: &Request<'_>,
    ) -> Result<Parsed, ApiError>;

    /// Deliver one outbox event to the helpdesk.
    async fn deliver(&self, delivery: &Delivery<'_>, event: &OutboxEvent) -> Attempt;

    /// For a helpdesk that is the customer's channel: the events that carry the bot's answer to a
    /// message it delivered (`reply_to` is what its [`crate::handoff::Action::CustomerMessage`]
    /// said), recorded with the answer in one transaction.
    fn reply_events(
        &self,
        _reply_to: &serde_json::Value,
        _answer: &str,
        _handoff: bool,
    ) -> Vec<NewEvent> {
        Vec::new()
    }
}

/// An id a helpdesk sends as a JSON number or as its digits in a string (Chatwoot's ids are
/// numbers, though some proxies and forks send strings; Zendesk's ticket events carry
/// `detail.id` as a string and comment and user ids as numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NumericId(pub u64);

impl<'de> serde::Deserialize<'de> for NumericId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Number(n) => Ok(Self(n)),
            Raw::Text(text) => text
                .trim()
                .parse()
                .map(Self)
                .map_err(|_| serde::de::Error::custom(format!("{text:?} is not an id"))),
        }
    }
}

impl std::fmt::Display for NumericId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Constant-time comparison of a presented token with a configured one (blake3's `Hash`
/// compares in constant time, and hashing first hides the lengths).
pub fn token_matches(given: &str, expected: &str) -> bool {
    blake3::hash(given.as_bytes()) == blake3::hash(expected.as_bytes())
}

/// The `token` query parameter, or the `X-Fathom-Token` header: how a helpdesk that cannot sign
/// its webhooks proves who it is.
pub fn presented_token(query: Option<&str>, headers: &HeaderMap) -> Option<String> {
    let from_query = query.and_then(|q| {
        serde_urlencoded::from_str::<Vec<(String, String)>>(q)
            .ok()?
            .into_iter()
            .find_map(|(key, value)| (key == "token").then_some(value))
    });
    from_query
        .or_else(|| {
            headers
                .get(HEADER_TOKEN)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        })
        .filter(|t| !t.is_empty())
}

/// Header that may carry the webhook token instead of the `token` query parameter.
pub const HEADER_TOKEN: &str = "x-fathom-token";

/// A rejected inbound request: counted, logged without secrets, answered 401.
pub fn reject(helpdesk: &str, code: &'static str, message: impl Into<String>) -> ApiError {
    metrics::counter!(crate::telemetry::WEBHOOKS_RECEIVED, "outcome" => "rejected").increment(1);
    tracing::warn!(helpdesk, code, "inbound webhook rejected");
    ApiError::unauthorized(code, message.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_helpdesk_has_a_distinct_name_and_owns_distinct_event_types() {
        let names = names();
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "{names:?}");
        let mut owned: Vec<&str> = HELPDESKS
            .iter()
            .flat_map(|h| h.event_types())
            .copied()
            .collect();
        let count = owned.len();
        owned.sort_unstable();
        owned.dedup();
        assert_eq!(owned.len(), count);
        assert!(owned.iter().all(|t| !t.starts_with("conversation.")));
    }

    #[test]
    fn the_token_comes_from_the_query_or_the_header() {
        let mut headers = HeaderMap::new();
        assert_eq!(
            presented_token(Some("a=1&token=s3cr%2Bt"), &headers).as_deref(),
            Some("s3cr+t")
        );
        assert_eq!(presented_token(Some("token="), &headers), None);
        headers.insert(HEADER_TOKEN, "from-header".parse().unwrap());
        assert_eq!(
            presented_token(None, &headers).as_deref(),
            Some("from-header")
        );
        assert!(token_matches("abc", "abc"));
        assert!(!token_matches("abc", "abd"));
    }
}
