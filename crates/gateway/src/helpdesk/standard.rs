//! The generic helpdesk: Fathom's own envelope, signed per Standard Webhooks both ways.
//!
//! - Outbound, `conversation.*` events go to the workspace's `webhook` endpoint, one
//!   `webhook-signature` entry per configured secret (rotation), the `webhook-id` being the
//!   event's id on every attempt.
//! - Inbound, `POST /v1/helpdesk/standard/events`: `{"type", "workspace", "data":
//!   {"conversation_id", "text"?, "agent"?}}` signed with the workspace's `inbound_secret`;
//!   each `webhook-id` takes effect once. See `docs/webhooks.md`.

use async_trait::async_trait;
use fathom_conversations::{now_ms, ConversationId, OutboxEvent};
use fathom_core::WorkspaceId;
use serde::Deserialize;

use super::{reject, Delivery, Helpdesk, Parsed, Request};
use crate::config::{GatewayConfig, WorkspaceConfig};
use crate::error::ApiError;
use crate::handoff::{Action, Inbound, Reference};
use crate::json::parse;
use crate::outbox::Attempt;
use crate::signing::{
    signature_header, SignedHeaders, VerifyError, HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP,
};

pub const NAME: &str = "standard";

#[derive(Debug)]
pub struct Standard;

/// The generic adapter's envelope (see `docs/webhooks.md`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboundEvent {
    #[serde(rename = "type")]
    pub event_type: String,
    pub workspace: String,
    pub data: InboundData,
    #[serde(default)]
    pub occurred_at_ms: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboundData {
    pub conversation_id: String,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub agent: Option<Agent>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agent {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub id: Option<String>,
}

/// The one field read before the signature is checked (others are ignored here).
#[derive(Debug, Deserialize)]
struct Addressed {
    workspace: String,
}

fn rejected(error: VerifyError) -> ApiError {
    reject(NAME, error.code(), error.to_string())
}

#[async_trait]
impl Helpdesk for Standard {
    fn name(&self) -> &'static str {
        NAME
    }

    fn configured(&self, workspace: &WorkspaceConfig) -> bool {
        workspace.webhook.is_some()
    }

    fn endpoint<'a>(&self, workspace: &'a WorkspaceConfig) -> &'a str {
        workspace.webhook.as_ref().map_or("", |w| w.url.as_str())
    }

    /// The workspace the body names, if its inbound secret signed the request. Only that name is
    /// read before the signature is checked (an unsigned sender learns nothing about what the
    /// body should hold), and one secret is tried, whatever the number of workspaces.
    fn authenticate(
        &self,
        config: &GatewayConfig,
        request: &Request<'_>,
    ) -> Result<Vec<WorkspaceId>, ApiError> {
        let signed = SignedHeaders::from_headers(request.headers).map_err(rejected)?;
        let workspace = serde_json::from_slice::<Addressed>(request.body)
            .ok()
            .and_then(|addressed| WorkspaceId::parse(&addressed.workspace).ok());
        let Some((workspace, secret)) = workspace.and_then(|workspace| {
            let secret = config.workspaces.get(&workspace)?.inbound_secret.as_ref()?;
            Some((workspace, secret))
        }) else {
            // An unknown workspace cannot sign.
            return Err(rejected(VerifyError::NoMatchingSignature));
        };
        signed
            .verify(&[secret], request.body, now_ms() / 1000)
            .map_err(rejected)?;
        Ok(vec![workspace])
    }

    fn parse(
        &self,
        _config: &GatewayConfig,
        senders: &[WorkspaceId],
        request: &Request<'_>,
    ) -> Result<Parsed, ApiError> {
        let event: InboundEvent = parse(request.body)?;
        // The body names the workspace; the signature proved it (an unknown workspace cannot
        // sign).
        let Some(workspace) = senders
            .iter()
            .find(|w| w.as_str() == event.workspace)
            .cloned()
        else {
            return Err(rejected(VerifyError::NoMatchingSignature));
        };
        let id = ConversationId::parse(&event.data.conversation_id)
            .ok_or_else(ApiError::conversation_not_found)?;
        let action = match event.event_type.as_str() {
            "agent.message" => {
                let text = event
                    .data
                    .text
                    .as_deref()
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| {
                        ApiError::bad_request("invalid_request", "agent.message needs data.text")
                    })?;
                Action::AgentMessage {
                    text: text.to_string(),
                    author: event.data.agent.and_then(|a| a.name.or(a.id)),
                }
            }
            "conversation.resolved" => Action::Resolved,
            "conversation.closed" => Action::Closed,
            "conversation.returned_to_bot" => Action::ReturnedToBot,
            other => {
                return Err(ApiError::bad_request(
                    "unsupported_event_type",
                    format!("event type {other:?} is not one this adapter handles"),
                ))
            }
        };
        let delivery = SignedHeaders::from_headers(request.headers)
            .map(|signed| signed.id.to_string())
            .ok();
        Ok(Parsed::Actions {
            workspace,
            actions: vec![Inbound {
                reference: Reference::Fathom(id),
                action,
                delivery,
            }],
        })
    }

    /// One signed Standard Webhooks request; the timestamp and signatures are fresh on every
    /// attempt, the id and body never change.
    async fn deliver(&self, delivery: &Delivery<'_>, event: &OutboxEvent) -> Attempt {
        let Some(endpoint) = &delivery.workspace.webhook else {
            return Attempt::Abandoned("the workspace has no webhook endpoint".into());
        };
        let body = event.payload.to_string();
        let timestamp = now_ms() / 1000;
        let signature = signature_header(&endpoint.secrets, &event.id, timestamp, body.as_bytes());
        let sent = delivery
            .http
            .post(&endpoint.url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(HEADER_ID, &event.id)
            .header(HEADER_TIMESTAMP, timestamp.to_string())
            .header(HEADER_SIGNATURE, signature)
            .body(body)
            .send()
            .await;
        Attempt::from_response(sent).await
    }
}
