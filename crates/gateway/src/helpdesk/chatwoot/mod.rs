//! Chatwoot, through an Agent Bot. Chatwoot is the customer's channel: the customer writes in a
//! Chatwoot inbox, Chatwoot posts the Agent Bot's events to `POST /v1/helpdesk/chatwoot/events`,
//! and Fathom answers through Chatwoot's REST API.
//!
//! - **Who is speaking.** Chatwoot 4.13 and later sign every Agent Bot event with the bot's
//!   `secret`: `X-Chatwoot-Signature: sha256=<hex HMAC-SHA256(secret, "{timestamp}.{body}")>`
//!   with `X-Chatwoot-Timestamp`, plus an `X-Chatwoot-Delivery` id that retries reuse
//!   (`lib/webhooks/trigger.rb`). Older releases sign nothing: their bot's outgoing URL carries
//!   a long random `?token=` instead, compared in constant time. The signature (or token) is
//!   checked before the body is read, and it is what picks the workspace; the account and the
//!   inbox in the body then pick among workspaces sharing one bot.
//! - **Answering.** Chatwoot waits `WEBHOOK_TIMEOUT` (5 s by default) and retries only 429 and
//!   500; any other failure, a timeout included, opens a pending conversation to the agents with
//!   an "agent bot error" (`app/jobs/agent_bots/webhook_job.rb`). So the webhook only records the
//!   customer's message and a queued turn, and answers at once; the outbox worker runs the model
//!   and posts the reply (`chatwoot.reply`) and, on a handoff, opens the conversation
//!   (`chatwoot.handoff`), in that order, so agents see the bot's last message with the
//!   notification.
//! - **What the bot owns.** Incoming public messages of `pending` conversations (the bot's
//!   queue) and of open conversations assigned to the bot (`assignee_agent_bot`).
//!
//! [`payload`] has the shapes; [`read`] turns an event into actions; [`api`] delivers.

pub mod api;
pub mod payload;
pub mod read;

use async_trait::async_trait;
use fathom_conversations::{NewEvent, OutboxEvent};
use fathom_core::WorkspaceId;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2_010::Sha256;

use super::{presented_token, reject, token_matches, Delivery, Helpdesk, Parsed, Request};
use crate::config::{GatewayConfig, Secret, WorkspaceConfig};
use crate::error::ApiError;
use crate::outbox::Attempt;
use crate::signing::{VerifyError, TOLERANCE_SECS};

pub const NAME: &str = "chatwoot";
/// Outbox event: post the bot's reply into the Chatwoot conversation.
pub const REPLY_EVENT: &str = "chatwoot.reply";
/// Outbox event: open the conversation to the agents (and release the bot's assignment).
pub const HANDOFF_EVENT: &str = "chatwoot.handoff";
pub const HEADER_SIGNATURE: &str = "x-chatwoot-signature";
pub const HEADER_TIMESTAMP: &str = "x-chatwoot-timestamp";
pub const HEADER_DELIVERY: &str = "x-chatwoot-delivery";
/// The shortest `webhook_token` accepted.
pub const MIN_TOKEN_CHARS: usize = 32;

/// A Chatwoot account (or some of its inboxes) whose Agent Bot is Fathom.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatwootConfig {
    /// e.g. `https://chatwoot.example` (no trailing `/api`).
    pub base_url: String,
    pub account_id: u64,
    /// The inboxes this workspace answers; empty: every inbox the bot is connected to. Needed
    /// when several workspaces share one Chatwoot account.
    #[serde(default)]
    pub inbox_ids: Vec<u64>,
    /// The Agent Bot's access token (`api_access_token` header on Chatwoot's REST API).
    pub api_access_token: Secret,
    /// The Agent Bot's `secret` (Settings → Bots → the bot; Chatwoot 4.13 and later), which signs
    /// `X-Chatwoot-Signature`. Not the access token, not an account webhook's secret.
    #[serde(default)]
    pub webhook_secret: Option<Secret>,
    /// For Chatwoot before 4.13, which does not sign Agent Bot events: the bot's outgoing URL is
    /// `…/v1/helpdesk/chatwoot/events?token=<webhook_token>` (at least 32 random characters).
    #[serde(default)]
    pub webhook_token: Option<Secret>,
}

impl ChatwootConfig {
    pub fn validate(&self) -> Result<(), String> {
        if !(self.base_url.starts_with("http://") || self.base_url.starts_with("https://")) {
            return Err(format!(
                "chatwoot.base_url {:?} must start with http:// or https://",
                self.base_url
            ));
        }
        if self.webhook_secret.is_none() && self.webhook_token.is_none() {
            return Err("chatwoot needs webhook_secret (the Agent Bot's secret, Chatwoot 4.13+) or webhook_token (older Chatwoot)".into());
        }
        if self
            .webhook_token
            .as_ref()
            .is_some_and(|t| t.expose().chars().count() < MIN_TOKEN_CHARS)
        {
            return Err(format!(
                "chatwoot.webhook_token must be at least {MIN_TOKEN_CHARS} characters"
            ));
        }
        Ok(())
    }

    /// Whether this configuration answers an event of this account and inbox.
    fn handles(&self, account: Option<u64>, inbox: Option<u64>) -> bool {
        account.is_none_or(|a| a == self.account_id)
            && (self.inbox_ids.is_empty() || inbox.is_some_and(|i| self.inbox_ids.contains(&i)))
    }
}

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &str, timestamp: &str, body: &[u8]) -> HmacSha256 {
    let mut mac =
        HmacSha256::new_from_slice(secret.as_bytes()).expect("hmac accepts keys of any size");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// `sha256=<hex>`, as Chatwoot sends it.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let digest = mac(secret, &timestamp.to_string(), body)
        .finalize()
        .into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if hex.len() % 2 != 0 {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The signed parts of a request: `X-Chatwoot-Signature` and `X-Chatwoot-Timestamp`.
#[derive(Debug, Clone, Copy)]
pub struct Signed<'a> {
    signature: &'a str,
    timestamp: &'a str,
}

impl<'a> Signed<'a> {
    /// `None` if the request carries no signature at all.
    pub fn from_headers(headers: &'a http::HeaderMap) -> Option<Result<Self, VerifyError>> {
        let signature = headers
            .get(HEADER_SIGNATURE)?
            .to_str()
            .ok()
            .filter(|v| !v.is_empty());
        let timestamp = headers
            .get(HEADER_TIMESTAMP)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty());
        Some(match (signature, timestamp) {
            (Some(signature), Some(timestamp)) => Ok(Self {
                signature,
                timestamp: timestamp.trim(),
            }),
            _ => Err(VerifyError::MissingHeaders),
        })
    }

    /// Check the timestamp, then the signature with one secret (constant time).
    pub fn verify(&self, secret: &str, body: &[u8], now_secs: i64) -> Result<(), VerifyError> {
        let seconds: i64 = self
            .timestamp
            .parse()
            .map_err(|_| VerifyError::BadTimestamp)?;
        if (now_secs - seconds).abs() > TOLERANCE_SECS {
            return Err(VerifyError::TimestampOutOfTolerance);
        }
        let expected = self
            .signature
            .trim()
            .strip_prefix("sha256=")
            .and_then(decode_hex)
            .ok_or(VerifyError::NoMatchingSignature)?;
        mac(secret, self.timestamp, body)
            .verify_slice(&expected)
            .map_err(|_| VerifyError::NoMatchingSignature)
    }
}

/// Check a request against every workspace's Chatwoot credentials.
pub fn verify(
    headers: &http::HeaderMap,
    body: &[u8],
    secret: &str,
    now_secs: i64,
) -> Result<(), VerifyError> {
    match Signed::from_headers(headers) {
        None => Err(VerifyError::MissingHeaders),
        Some(signed) => signed?.verify(secret, body, now_secs),
    }
}

/// The account an event names (`account.id`, `account_id`, else the account id of its
/// conversation's messages). Read leniently: `None` if absent or malformed, and then every
/// workspace's secret is tried.
#[derive(Debug, Deserialize)]
struct Addressed {
    #[serde(default)]
    account: Option<payload::Named>,
    #[serde(default)]
    account_id: Option<payload::Id>,
    #[serde(default)]
    messages: Vec<payload::PushMessage>,
}

impl Addressed {
    fn account_of(body: &[u8]) -> Option<u64> {
        let addressed: Self = serde_json::from_slice(body).ok()?;
        addressed
            .account
            .map(|account| account.id.0)
            .or(addressed.account_id.map(|id| id.0))
            .or_else(|| {
                addressed
                    .messages
                    .iter()
                    .find_map(|m| m.account_id)
                    .map(|id| id.0)
            })
    }
}

fn signature_error(error: VerifyError) -> ApiError {
    let message = match error {
        VerifyError::MissingHeaders => "X-Chatwoot-Signature comes with X-Chatwoot-Timestamp; the request carries only one of them".to_string(),
        VerifyError::BadTimestamp => "X-Chatwoot-Timestamp is not a number of seconds".into(),
        VerifyError::TimestampOutOfTolerance => "X-Chatwoot-Timestamp is more than five minutes from now (check both clocks)".into(),
        VerifyError::NoMatchingSignature => "X-Chatwoot-Signature matches no configured Agent Bot secret (chatwoot.webhook_secret is the bot's secret, not its access token)".into(),
    };
    reject(NAME, error.code(), message)
}

#[derive(Debug)]
pub struct Chatwoot;

#[async_trait]
impl Helpdesk for Chatwoot {
    fn name(&self) -> &'static str {
        NAME
    }

    fn configured(&self, workspace: &WorkspaceConfig) -> bool {
        workspace.chatwoot.is_some()
    }

    /// Chatwoot is the customer's channel: the bot's answers and handoffs go to it as its own
    /// events, and it has no use for `conversation.*` events.
    fn takes_conversation_events(&self) -> bool {
        false
    }

    fn event_types(&self) -> &'static [&'static str] {
        &[REPLY_EVENT, HANDOFF_EVENT]
    }

    fn endpoint<'a>(&self, workspace: &'a WorkspaceConfig) -> &'a str {
        workspace
            .chatwoot
            .as_ref()
            .map_or("", |c| c.base_url.as_str())
    }

    fn authenticate(
        &self,
        config: &GatewayConfig,
        request: &Request<'_>,
    ) -> Result<Vec<WorkspaceId>, ApiError> {
        let chatwoots = config
            .workspaces
            .iter()
            .filter_map(|(workspace, settings)| settings.chatwoot.as_ref().map(|c| (workspace, c)));
        let token = presented_token(request.query, request.headers);
        let signed = Signed::from_headers(request.headers);
        // Only the account is read before the signature is checked, and only to choose which
        // secrets to try: one HMAC per workspace of that account, not one per workspace.
        let account = Addressed::account_of(request.body);
        let now_secs = fathom_conversations::now_ms() / 1000;
        let mut senders = Vec::new();
        let mut signature_failure = None;
        for (workspace, chatwoot) in chatwoots {
            let by_signature = match (&signed, &chatwoot.webhook_secret) {
                (Some(Ok(signed)), Some(secret))
                    if account.is_none_or(|account| account == chatwoot.account_id) =>
                {
                    match signed.verify(secret.expose(), request.body, now_secs) {
                        Ok(()) => true,
                        Err(error) => {
                            if signature_failure.is_none() {
                                signature_failure = Some(error);
                            }
                            false
                        }
                    }
                }
                _ => false,
            };
            // Older Chatwoot: the URL's token (a signed request may carry it too, e.g. right
            // after an upgrade, before the secret is configured here).
            let by_token = match (&token, &chatwoot.webhook_token) {
                (Some(token), Some(expected)) => token_matches(token, expected.expose()),
                _ => false,
            };
            if by_signature || by_token {
                senders.push(workspace.clone());
            }
        }
        if !senders.is_empty() {
            return Ok(senders);
        }
        match (signed, token) {
            (Some(Err(error)), _) => Err(signature_error(error)),
            (Some(Ok(_)), _) => Err(signature_error(
                signature_failure.unwrap_or(VerifyError::NoMatchingSignature),
            )),
            (None, Some(_)) => Err(reject(
                NAME,
                "invalid_webhook_signature",
                "the token matches no workspace's chatwoot.webhook_token",
            )),
            (None, None) => Err(reject(
                NAME,
                "missing_webhook_signature",
                "Chatwoot events must carry X-Chatwoot-Signature (Chatwoot 4.13+, signed with the Agent Bot's secret) or, for older Chatwoot, ?token=<chatwoot.webhook_token> in the bot's outgoing URL",
            )),
        }
    }

    fn parse(
        &self,
        config: &GatewayConfig,
        senders: &[WorkspaceId],
        request: &Request<'_>,
    ) -> Result<Parsed, ApiError> {
        read::parse(config, senders, request)
    }

    async fn deliver(&self, delivery: &Delivery<'_>, event: &OutboxEvent) -> Attempt {
        let Some(chatwoot) = &delivery.workspace.chatwoot else {
            return Attempt::Abandoned("the workspace has no Chatwoot configured".into());
        };
        api::deliver(delivery.http, chatwoot, event).await
    }

    fn reply_events(
        &self,
        reply_to: &serde_json::Value,
        answer: &str,
        handoff: bool,
    ) -> Vec<NewEvent> {
        let mut events = vec![NewEvent {
            event_type: REPLY_EVENT.to_string(),
            payload: serde_json::json!({
                "account_id": reply_to["account_id"],
                "conversation_id": reply_to["conversation_id"],
                "content": answer,
            }),
        }];
        if handoff {
            // After the reply: agents see the bot's last message when they are notified.
            events.push(NewEvent {
                event_type: HANDOFF_EVENT.to_string(),
                payload: serde_json::json!({
                    "account_id": reply_to["account_id"],
                    "conversation_id": reply_to["conversation_id"],
                    "release_assignment": reply_to["assigned_to_bot"].as_bool().unwrap_or(false),
                }),
            });
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_request_verifies_and_a_changed_one_does_not() {
        let body = br#"{"event":"message_created"}"#;
        let mut headers = http::HeaderMap::new();
        headers.insert(HEADER_TIMESTAMP, "1000".parse().unwrap());
        headers.insert(
            HEADER_SIGNATURE,
            sign("s3cret", 1000, body).parse().unwrap(),
        );
        assert_eq!(verify(&headers, body, "s3cret", 1000), Ok(()));
        assert_eq!(
            verify(&headers, b"{}", "s3cret", 1000),
            Err(VerifyError::NoMatchingSignature)
        );
        assert_eq!(
            verify(&headers, body, "other", 1000),
            Err(VerifyError::NoMatchingSignature)
        );
        assert_eq!(
            verify(&headers, body, "s3cret", 1000 + TOLERANCE_SECS + 1),
            Err(VerifyError::TimestampOutOfTolerance)
        );
    }

    #[test]
    fn signatures_are_lowercase_hex_of_hmac_sha256_over_timestamp_dot_body() {
        // Computed independently: Python's hmac.new(b"s3cret", b"1700000000.{...}", sha256),
        // which is what Chatwoot's OpenSSL::HMAC.hexdigest('SHA256', secret, "#{ts}.#{body}")
        // gives.
        assert_eq!(
            sign("s3cret", 1_700_000_000, br#"{"event":"message_created"}"#),
            "sha256=1148d6519d19bc982e21da3ea971b4d44137dd730a8f3176124ab2f419fe42fd"
        );
        assert_eq!(decode_hex("0aff"), Some(vec![10, 255]));
        assert_eq!(decode_hex("0g"), None);
    }

    #[test]
    fn the_account_is_read_from_any_of_chatwoots_shapes_and_nothing_else_is_needed() {
        let message = br#"{"event":"message_created","id":5,"account":{"id":7,"name":"A"}}"#;
        let conversation = br#"{"event":"conversation_resolved","id":9,"account_id":8}"#;
        let older = br#"{"event":"conversation_opened","id":9,"messages":[{"account_id":6}]}"#;
        assert_eq!(Addressed::account_of(message), Some(7));
        assert_eq!(Addressed::account_of(conversation), Some(8));
        assert_eq!(Addressed::account_of(older), Some(6));
        assert_eq!(Addressed::account_of(br#"{"event":"x"}"#), None);
        assert_eq!(Addressed::account_of(b"not json"), None);
    }

    #[test]
    fn a_workspace_takes_its_account_and_its_inboxes() {
        let config = |inboxes: Vec<u64>| ChatwootConfig {
            base_url: "https://chatwoot.example".into(),
            account_id: 1,
            inbox_ids: inboxes,
            api_access_token: Secret::new("t"),
            webhook_secret: Some(Secret::new("s")),
            webhook_token: None,
        };
        assert!(config(vec![]).handles(Some(1), Some(9)));
        assert!(config(vec![]).handles(None, None));
        assert!(!config(vec![]).handles(Some(2), Some(9)));
        assert!(config(vec![3, 4]).handles(Some(1), Some(4)));
        assert!(!config(vec![3, 4]).handles(Some(1), Some(9)));
        assert!(!config(vec![3, 4]).handles(Some(1), None));
    }
}
