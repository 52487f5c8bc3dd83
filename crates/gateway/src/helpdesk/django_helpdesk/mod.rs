//! django-helpdesk (PyPI `django-helpdesk`, a Django helpdesk with a DRF REST API).
//!
//! Outbound, through the outbox like every other event (retried, in order per conversation):
//! - `conversation.handoff` creates a ticket in the configured queue whose description carries
//!   the bot's summary, the reason, the cited articles and the transcript (PII-redacted as
//!   configured), and ends with a marker line naming the conversation; the ticket id is linked to
//!   the conversation. A retry finds a ticket an interrupted attempt created by that marker
//!   ([`api`]);
//! - `conversation.message` (the customer writes while a person has the conversation) becomes a
//!   public follow-up on that ticket;
//! - `conversation.resolved` (the customer marked it solved) resolves the ticket with a follow-up.
//!
//! Inbound, `POST /v1/helpdesk/django-helpdesk/events?token=…`: django-helpdesk's follow-up
//! webhook (`HELPDESK_GET_FOLLOWUP_WEBHOOK_URLS`) posts `{"ticket": {…, "followup_set": […]},
//! "queue_slug", "followup_id"}` after every follow-up. It cannot sign, so the URL carries the
//! workspace's `webhook_token`. Every public follow-up written by someone other than the ticket's
//! opener (Fathom's API user) is an agent reply and reaches the customer once (deduplicated by
//! follow-up id, so one that a failed webhook missed arrives with the next); a ticket resolved,
//! closed or marked duplicate resolves or closes the conversation.

mod api;

use async_trait::async_trait;
use fathom_conversations::OutboxEvent;
use fathom_core::WorkspaceId;
use serde::Deserialize;

use super::{presented_token, reject, token_matches, Delivery, Helpdesk, Parsed, Request};
use crate::config::{GatewayConfig, Secret, WorkspaceConfig};
use crate::error::ApiError;
use crate::handoff::{Action, Inbound, Reference};
use crate::json::parse;
use crate::outbox::Attempt;

/// The name in `/v1/helpdesk/{name}/events` and in the conversation links.
pub const NAME: &str = "django-helpdesk";

/// django-helpdesk's default ticket statuses.
const STATUS_RESOLVED: u64 = 3;
const STATUS_CLOSED: u64 = 4;
const STATUS_DUPLICATE: u64 = 5;

/// A django-helpdesk instance (PyPI `django-helpdesk`) that takes this workspace's handoffs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DjangoHelpdeskConfig {
    /// Where django-helpdesk's URLs are mounted, e.g. `https://support.example/helpdesk`; its
    /// REST API is `{base_url}/api/`.
    pub base_url: String,
    /// The queue handoff tickets go to.
    pub queue_id: u64,
    /// A DRF token of the (staff) API user (`Authorization: Token …`); or `username` and
    /// `password` (HTTP Basic).
    #[serde(default)]
    pub api_token: Option<Secret>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<Secret>,
    /// django-helpdesk cannot sign its webhooks: its follow-up webhook URL carries this token,
    /// `…/v1/helpdesk/django-helpdesk/events?token=<webhook_token>` (at least 24 characters).
    pub webhook_token: Secret,
    /// Priority of new tickets: 1 (critical) to 5 (very low).
    #[serde(default = "default_ticket_priority")]
    pub priority: u8,
}

fn default_ticket_priority() -> u8 {
    3
}

impl DjangoHelpdeskConfig {
    pub fn validate(&self) -> Result<(), String> {
        if !(self.base_url.starts_with("http://") || self.base_url.starts_with("https://")) {
            return Err(format!(
                "django_helpdesk.base_url {:?} must start with http:// or https://",
                self.base_url
            ));
        }
        if self.webhook_token.expose().len() < 24 {
            return Err("django_helpdesk.webhook_token must be at least 24 characters".into());
        }
        let basic = self.username.is_some() && self.password.is_some();
        if self.api_token.is_some() == basic
            || (self.api_token.is_some() && (self.username.is_some() || self.password.is_some()))
        {
            return Err("django_helpdesk needs either api_token or username and password".into());
        }
        if !(1..=5).contains(&self.priority) {
            return Err("django_helpdesk.priority must be 1 to 5".into());
        }
        Ok(())
    }
}

/// What Fathom reads of django-helpdesk's webhook body; everything else is ignored.
#[derive(Debug, Deserialize)]
struct FollowupWebhook {
    ticket: Ticket,
    #[serde(default)]
    followup_id: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct Ticket {
    id: u64,
    #[serde(default)]
    status: Option<u64>,
    #[serde(default)]
    followup_set: Vec<Followup>,
}

#[derive(Debug, Deserialize)]
struct Followup {
    id: u64,
    #[serde(default)]
    user: Option<u64>,
    #[serde(default)]
    comment: Option<String>,
    #[serde(default)]
    public: bool,
}

/// The follow-ups that are a person answering the customer, oldest first. Fathom opened the
/// ticket, so its first follow-up ("Ticket Opened") is Fathom's API user's; every other public
/// follow-up with text, up to the one that triggered the webhook, is an agent's reply.
fn agent_replies(webhook: &FollowupWebhook) -> Vec<&Followup> {
    let followups = &webhook.ticket.followup_set;
    let opener = followups.iter().min_by_key(|f| f.id).and_then(|f| f.user);
    let mut replies: Vec<&Followup> = followups
        .iter()
        .filter(|f| f.public && f.user.is_some() && f.user != opener)
        .filter(|f| f.comment.as_deref().is_some_and(|c| !c.trim().is_empty()))
        .filter(|f| webhook.followup_id.is_none_or(|latest| f.id <= latest))
        .collect();
    replies.sort_by_key(|f| f.id);
    replies
}

/// What a ticket status means for the conversation: resolved, or closed (closed, duplicate).
fn conversation_action_for(ticket_status: u64) -> Option<Action> {
    match ticket_status {
        STATUS_RESOLVED => Some(Action::Resolved),
        STATUS_CLOSED | STATUS_DUPLICATE => Some(Action::Closed),
        _ => None,
    }
}

#[derive(Debug)]
pub struct DjangoHelpdesk;

#[async_trait]
impl Helpdesk for DjangoHelpdesk {
    fn name(&self) -> &'static str {
        NAME
    }

    fn configured(&self, workspace: &WorkspaceConfig) -> bool {
        workspace.django_helpdesk.is_some()
    }

    fn endpoint<'a>(&self, workspace: &'a WorkspaceConfig) -> &'a str {
        workspace
            .django_helpdesk
            .as_ref()
            .map_or("", |h| h.base_url.as_str())
    }

    fn authenticate(
        &self,
        config: &GatewayConfig,
        request: &Request<'_>,
    ) -> Result<Vec<WorkspaceId>, ApiError> {
        let Some(token) = presented_token(request.query, request.headers) else {
            return Err(reject(
                NAME,
                "missing_webhook_signature",
                "django-helpdesk webhooks must carry ?token=<webhook_token> (or X-Fathom-Token)",
            ));
        };
        let senders: Vec<WorkspaceId> = config
            .workspaces
            .iter()
            .filter(|(_, settings)| {
                settings
                    .django_helpdesk
                    .as_ref()
                    .is_some_and(|h| token_matches(&token, h.webhook_token.expose()))
            })
            .map(|(workspace, _)| workspace.clone())
            .collect();
        if senders.is_empty() {
            return Err(reject(
                NAME,
                "invalid_webhook_signature",
                "the token matches no workspace's django_helpdesk.webhook_token",
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
        let webhook: FollowupWebhook = parse(request.body)?;
        // Tokens are unique per workspace (checked at start-up).
        let workspace = senders[0].clone();
        let reference = Reference::Linked(webhook.ticket.id.to_string());
        let mut actions: Vec<Inbound> = agent_replies(&webhook)
            .into_iter()
            .map(|reply| Inbound {
                reference: reference.clone(),
                action: Action::AgentMessage {
                    text: reply
                        .comment
                        .as_deref()
                        .unwrap_or_default()
                        .trim()
                        .to_string(),
                    author: None,
                },
                // The key recorded before the Helpdesk trait (workspace included), so that a
                // follow-up delivered before an upgrade and again after it applies once.
                delivery: Some(format!("{workspace}:followup:{}", reply.id)),
            })
            .collect();
        if let Some(action) = webhook.ticket.status.and_then(conversation_action_for) {
            actions.push(Inbound {
                reference,
                action,
                delivery: None,
            });
        }
        if actions.is_empty() {
            return Ok(Parsed::Ignored {
                workspace,
                why: "no agent reply and no status Fathom applies in this follow-up".into(),
            });
        }
        Ok(Parsed::Actions { workspace, actions })
    }

    async fn deliver(&self, delivery: &Delivery<'_>, event: &OutboxEvent) -> Attempt {
        let Some(helpdesk) = &delivery.workspace.django_helpdesk else {
            return Attempt::Abandoned("the workspace has no django-helpdesk configured".into());
        };
        api::deliver(delivery.http, delivery.links, helpdesk, event).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn webhook(
        followup_id: Option<u64>,
        followups: &[(u64, Option<u64>, &str, bool)],
    ) -> FollowupWebhook {
        FollowupWebhook {
            followup_id,
            ticket: Ticket {
                id: 7,
                status: Some(1),
                followup_set: followups
                    .iter()
                    .map(|(id, user, comment, public)| Followup {
                        id: *id,
                        user: *user,
                        comment: Some(comment.to_string()),
                        public: *public,
                    })
                    .collect(),
            },
        }
    }

    #[test]
    fn only_public_follow_ups_with_text_by_others_than_the_opener_are_agent_replies() {
        let followups = [
            (12, Some(2), "after the trigger", true),
            (9, Some(1), "Ticket Opened", true),
            (11, Some(2), "Second reply", true),
            (10, Some(2), "internal note", false),
            (13, None, "an e-mail", true),
            (14, Some(1), "Customer: hi", true),
            (15, Some(3), "  ", true),
            (16, Some(3), "First reply of another agent", true),
        ];

        let ids = |webhook: &FollowupWebhook| -> Vec<u64> {
            agent_replies(webhook).iter().map(|f| f.id).collect()
        };

        assert_eq!(ids(&webhook(Some(12), &followups)), vec![11, 12]);
        assert_eq!(ids(&webhook(None, &followups)), vec![11, 12, 16]);
        assert_eq!(conversation_action_for(3), Some(Action::Resolved));
        assert_eq!(conversation_action_for(4), Some(Action::Closed));
        assert_eq!(conversation_action_for(5), Some(Action::Closed));
        assert_eq!(conversation_action_for(2), None);
    }
}
