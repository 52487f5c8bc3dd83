//! Zendesk Support, through its Tickets API and its webhooks (Zendesk's API reference:
//! developer.zendesk.com, "Tickets", "Webhooks", "Ticket events"). No Zendesk runs in Fathom's
//! tests: they use a contract stub that answers Zendesk's documented shapes.
//!
//! Outbound (the workspace's `conversation.*` events, through the outbox; [`api`]):
//! - `conversation.handoff` opens a ticket whose first comment is an internal note (`"public":
//!   false`) with the bot's summary, reason, cited articles and the redacted transcript; the
//!   customer is the requester (when Fathom knows their e-mail), and `external_id` is the Fathom
//!   conversation id. Before creating, the ticket is looked up by `external_id`, so a crash
//!   between creating it and recording its id never opens a second one;
//! - `conversation.message` adds the customer's later message as a public comment authored by the
//!   requester;
//! - `conversation.resolved` solves the ticket with an internal note;
//! - `429 Too Many Requests` (and 503) are retried after `Retry-After`.
//!
//! Inbound, `POST /v1/helpdesk/zendesk/events`: a Zendesk webhook subscribed to the ticket events
//! `zen:event-type:ticket.comment_added` and `zen:event-type:ticket.status_changed`, signed with
//! its signing secret: `X-Zendesk-Webhook-Signature` is `base64(HMAC-SHA256(secret, timestamp +
//! body))` with `X-Zendesk-Webhook-Signature-Timestamp`. An agent's public comment reaches the
//! customer; `SOLVED` resolves the conversation and `CLOSED` closes it.

mod api;

use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use fathom_conversations::{ConversationId, OutboxEvent};
use fathom_core::WorkspaceId;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2_010::Sha256;

use super::{reject, Delivery, Helpdesk, NumericId as Id, Parsed, Request};
use crate::config::{GatewayConfig, Secret, WorkspaceConfig};
use crate::error::ApiError;
use crate::handoff::{Action, Inbound, Reference};
use crate::json::parse;
use crate::outbox::Attempt;
use crate::signing::TOLERANCE_SECS;

pub const NAME: &str = "zendesk";
pub const HEADER_SIGNATURE: &str = "x-zendesk-webhook-signature";
pub const HEADER_TIMESTAMP: &str = "x-zendesk-webhook-signature-timestamp";

/// A Zendesk Support account that takes this workspace's handoffs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZendeskConfig {
    /// `https://<subdomain>.zendesk.com`.
    pub base_url: String,
    /// The agent Fathom acts as; its API token authenticates as `{email}/token:{api_token}`.
    pub email: String,
    pub api_token: Secret,
    /// The signing secret of the Zendesk webhook that sends ticket events to Fathom (Admin Center
    /// → Apps and integrations → Webhooks → the webhook → Signing secret).
    pub webhook_secret: Secret,
    /// The group new tickets go to; unset: Zendesk's default routing.
    #[serde(default)]
    pub group_id: Option<u64>,
    /// Tags on every handoff ticket (the handoff reason is added as `fathom_<reason>`).
    #[serde(default = "default_tags")]
    pub tags: Vec<String>,
}

fn default_tags() -> Vec<String> {
    vec!["fathom".to_string()]
}

impl ZendeskConfig {
    pub fn validate(&self) -> Result<(), String> {
        if !(self.base_url.starts_with("http://") || self.base_url.starts_with("https://")) {
            return Err(format!(
                "zendesk.base_url {:?} must start with https:// (http:// only for tests)",
                self.base_url
            ));
        }
        if !self.email.contains('@') {
            return Err(format!(
                "zendesk.email {:?} must be the e-mail address of the agent Fathom acts as",
                self.email
            ));
        }
        if self.webhook_secret.expose().len() < 16 {
            return Err("zendesk.webhook_secret must be the webhook's signing secret".into());
        }
        Ok(())
    }
}

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &str, timestamp: &str, body: &[u8]) -> HmacSha256 {
    let mut mac =
        HmacSha256::new_from_slice(secret.as_bytes()).expect("hmac accepts keys of any size");
    mac.update(timestamp.as_bytes());
    mac.update(body);
    mac
}

/// `X-Zendesk-Webhook-Signature`: base64 of HMAC-SHA256 over the timestamp then the body, as
/// Zendesk's "Verifying webhook authenticity" page says (`base64(HMACSHA256(TIMESTAMP + BODY))`).
pub fn sign(secret: &str, timestamp: &str, body: &[u8]) -> String {
    BASE64.encode(mac(secret, timestamp, body).finalize().into_bytes())
}

/// Whether `signature` is the secret's HMAC of this request. An earlier version of Zendesk's page
/// gave the order as body then timestamp (`base64(HMACSHA256((BODY)(TIMESTAMP)))`), and its worked
/// example is signed that way; both orders are accepted (either needs the secret).
fn signature_matches(secret: &str, timestamp: &str, body: &[u8], signature: &[u8]) -> bool {
    if mac(secret, timestamp, body).verify_slice(signature).is_ok() {
        return true;
    }
    let mut legacy =
        HmacSha256::new_from_slice(secret.as_bytes()).expect("hmac accepts keys of any size");
    legacy.update(body);
    legacy.update(timestamp.as_bytes());
    legacy.verify_slice(signature).is_ok()
}

/// A Zendesk event webhook body (`zendesk_event_version` 2022-11-06).
#[derive(Debug, Deserialize)]
struct EventWebhook {
    /// The event's id: the same event delivered again takes effect once.
    #[serde(default)]
    id: Option<String>,
    #[serde(rename = "type")]
    event_type: String,
    detail: TicketDetail,
    #[serde(default)]
    event: serde_json::Value,
}

#[derive(Debug, Deserialize)]
struct TicketDetail {
    id: Id,
    /// Returned as a string: Fathom's conversation id.
    #[serde(default)]
    external_id: Option<String>,
    /// Fathom's API user, who created the ticket.
    #[serde(default)]
    submitter_id: Option<Id>,
}

#[derive(Debug, Deserialize)]
struct Comment {
    id: Id,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    is_public: bool,
    #[serde(default)]
    author: Option<Author>,
}

#[derive(Debug, Deserialize)]
struct Author {
    #[serde(default)]
    id: Option<Id>,
    #[serde(default)]
    is_staff: bool,
    #[serde(default)]
    name: Option<String>,
}

/// What a ticket event means. `Err` says why it is ignored.
fn action_for(webhook: &EventWebhook) -> Result<(Action, Option<String>), String> {
    match webhook.event_type.as_str() {
        "zen:event-type:ticket.comment_added" => {
            let comment: Comment = serde_json::from_value(webhook.event["comment"].clone())
                .map_err(|e| format!("the comment is unreadable: {e}"))?;
            let author = comment.author.unwrap_or(Author {
                id: None,
                is_staff: false,
                name: None,
            });
            if !comment.is_public {
                return Err("internal notes stay with the agents".into());
            }
            if !author.is_staff {
                return Err("a comment by the requester (the customer's own message)".into());
            }
            if author.id.is_some() && author.id == webhook.detail.submitter_id {
                return Err("a comment by Fathom's own API user (echo)".into());
            }
            let text = comment.body.unwrap_or_default().trim().to_string();
            if text.is_empty() {
                return Err("the comment has no text".into());
            }
            Ok((
                Action::AgentMessage {
                    text,
                    author: author.name,
                },
                Some(format!("comment:{}", comment.id.0)),
            ))
        }
        "zen:event-type:ticket.status_changed" => {
            let current = webhook.event["current"]
                .as_str()
                .unwrap_or_default()
                .to_ascii_uppercase();
            let action = match current.as_str() {
                "SOLVED" => Action::Resolved,
                "CLOSED" => Action::Closed,
                other => return Err(format!("status {other} changes nothing for the customer")),
            };
            Ok((action, webhook.id.clone().map(|id| format!("event:{id}"))))
        }
        other => Err(format!("{other} is not an event Fathom applies")),
    }
}

#[derive(Debug)]
pub struct Zendesk;

#[async_trait]
impl Helpdesk for Zendesk {
    fn name(&self) -> &'static str {
        NAME
    }

    fn configured(&self, workspace: &WorkspaceConfig) -> bool {
        workspace.zendesk.is_some()
    }

    fn endpoint<'a>(&self, workspace: &'a WorkspaceConfig) -> &'a str {
        workspace
            .zendesk
            .as_ref()
            .map_or("", |z| z.base_url.as_str())
    }

    fn authenticate(
        &self,
        config: &GatewayConfig,
        request: &Request<'_>,
    ) -> Result<Vec<WorkspaceId>, ApiError> {
        let header = |name: &str| {
            request
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let (Some(signature), Some(timestamp)) =
            (header(HEADER_SIGNATURE), header(HEADER_TIMESTAMP))
        else {
            return Err(reject(
                NAME,
                "missing_webhook_signature",
                "Zendesk webhooks must carry X-Zendesk-Webhook-Signature and X-Zendesk-Webhook-Signature-Timestamp",
            ));
        };
        let Ok(signed_at) = timestamp.parse::<jiff::Timestamp>() else {
            return Err(reject(
                NAME,
                "invalid_webhook_timestamp",
                "X-Zendesk-Webhook-Signature-Timestamp is not an ISO 8601 time",
            ));
        };
        let now_secs = fathom_conversations::now_ms() / 1000;
        if (now_secs - signed_at.as_second()).abs() > TOLERANCE_SECS {
            return Err(reject(
                NAME,
                "invalid_webhook_timestamp",
                "X-Zendesk-Webhook-Signature-Timestamp is more than five minutes from now",
            ));
        }
        let Ok(expected) = BASE64.decode(signature) else {
            return Err(reject(
                NAME,
                "invalid_webhook_signature",
                "X-Zendesk-Webhook-Signature is not base64",
            ));
        };
        let senders: Vec<WorkspaceId> = config
            .workspaces
            .iter()
            .filter(|(_, settings)| {
                settings.zendesk.as_ref().is_some_and(|z| {
                    signature_matches(
                        z.webhook_secret.expose(),
                        timestamp,
                        request.body,
                        &expected,
                    )
                })
            })
            .map(|(workspace, _)| workspace.clone())
            .collect();
        if senders.is_empty() {
            return Err(reject(
                NAME,
                "invalid_webhook_signature",
                "X-Zendesk-Webhook-Signature matches no workspace's zendesk.webhook_secret (the webhook's signing secret)",
            ));
        }
        Ok(senders)
    }

    fn parse(
        &self,
        _config: &GatewayConfig,
        senders: &[WorkspaceId],
        request: &Request<'_>,
    ) -> Result<Parsed, ApiError> {
        let webhook: EventWebhook = parse(request.body)?;
        // Signing secrets are unique per workspace (checked at start-up).
        let workspace = senders[0].clone();
        let (action, delivery) = match action_for(&webhook) {
            Ok(found) => found,
            Err(why) => return Ok(Parsed::Ignored { workspace, why }),
        };
        let fathom_id = webhook
            .detail
            .external_id
            .as_deref()
            .and_then(ConversationId::parse);
        Ok(Parsed::Actions {
            workspace,
            actions: vec![Inbound {
                reference: Reference::LinkedOr(webhook.detail.id.0.to_string(), fathom_id),
                action,
                delivery,
            }],
        })
    }

    async fn deliver(&self, delivery: &Delivery<'_>, event: &OutboxEvent) -> Attempt {
        let Some(zendesk) = &delivery.workspace.zendesk else {
            return Attempt::Abandoned("the workspace has no Zendesk configured".into());
        };
        api::deliver(delivery.http, delivery.links, zendesk, event).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of Zendesk's "Verifying webhook authenticity" page (its signing secret,
    /// timestamp, body and signature), and the order the page's formula gives.
    #[test]
    fn verifies_zendesks_documented_example_and_formula() {
        let (secret, timestamp, body) = (
            "HRkRd4BeOAoUkfZr-mhauJT64rvBASlJRoIyPsd3zeA=",
            "2021-07-25T10:00:00Z",
            br#"{"say": "hello"}"#,
        );
        let documented = BASE64
            .decode("tRDSF7URY8BLCDlaBcQ7FHu051Zk+aAB0NKMP53teMw=")
            .unwrap();
        assert!(signature_matches(secret, timestamp, body, &documented));
        // Python: base64.b64encode(hmac.new(secret, timestamp + body, sha256).digest())
        assert_eq!(
            sign(secret, timestamp, body),
            "Rry/4TtIdFyawtXXp8QdI6tlAUUQ/5kL1OTp5qo/ZIk="
        );
        let current = BASE64.decode(sign(secret, timestamp, body)).unwrap();
        assert!(signature_matches(secret, timestamp, body, &current));
        assert!(!signature_matches(
            "another-secret",
            timestamp,
            body,
            &current
        ));
        assert!(!signature_matches(secret, timestamp, b"{}", &current));
    }

    fn webhook(event_type: &str, event: serde_json::Value) -> EventWebhook {
        serde_json::from_value(serde_json::json!({
            "account_id": 22129848,
            "detail": {"id": "5158", "external_id": "d3e07fdc-172a-47af-9d02-5e1e23006dd4", "status": "OPEN", "requester_id": "901", "submitter_id": "900"},
            "event": event,
            "id": "d4f5c389-8f4a-4c2e-a1b9-8e4f39c71d52",
            "subject": "zen:ticket:5158",
            "time": "2025-01-08T14:25:30.123456789Z",
            "type": event_type,
            "zendesk_event_version": "2022-11-06"
        }))
        .unwrap()
    }

    #[test]
    fn only_public_comments_of_agents_other_than_fathom_reach_the_customer() {
        let comment = |public: bool, staff: bool, author: u64| {
            webhook(
                "zen:event-type:ticket.comment_added",
                serde_json::json!({"comment": {"id": 9876543210u64, "body": "We are on it.", "is_public": public, "author": {"id": author, "is_staff": staff, "name": "Dana"}}}),
            )
        };
        let (action, delivery) = action_for(&comment(true, true, 555)).unwrap();
        assert_eq!(
            action,
            Action::AgentMessage {
                text: "We are on it.".into(),
                author: Some("Dana".into())
            }
        );
        assert_eq!(delivery.as_deref(), Some("comment:9876543210"));
        assert!(
            action_for(&comment(false, true, 555)).is_err(),
            "internal note"
        );
        assert!(
            action_for(&comment(true, false, 901)).is_err(),
            "the requester"
        );
        assert!(
            action_for(&comment(true, true, 900)).is_err(),
            "Fathom itself"
        );
    }

    #[test]
    fn solved_resolves_closed_closes_and_other_statuses_change_nothing() {
        let status = |current: &str| {
            webhook(
                "zen:event-type:ticket.status_changed",
                serde_json::json!({"current": current, "previous": "OPEN"}),
            )
        };
        assert_eq!(action_for(&status("SOLVED")).unwrap().0, Action::Resolved);
        assert_eq!(action_for(&status("CLOSED")).unwrap().0, Action::Closed);
        assert!(action_for(&status("PENDING")).is_err());
        assert!(action_for(&webhook(
            "zen:event-type:ticket.priority_changed",
            serde_json::json!({})
        ))
        .is_err());
    }
}
