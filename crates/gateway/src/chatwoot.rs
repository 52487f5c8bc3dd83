//! Chatwoot Agent Bot adapter: Chatwoot posts its events to `POST /v1/helpdesk/chatwoot/events`,
//! signed `X-Chatwoot-Signature: sha256=<hex HMAC-SHA256(secret, "{timestamp}.{body}")>` with
//! `X-Chatwoot-Timestamp`. Fathom answers incoming, public messages of `pending` conversations
//! (the bot's queue); on a handoff it opens the conversation (`toggle_status` → `open`), which
//! puts it in front of the human agents. Replies and status changes go through the outbox, so
//! they are retried like webhooks and survive restarts.

use axum::body::Bytes;
use fathom_conversations::{Change, ConversationState, NewEvent, StoredConversation, TokenHash};
use fathom_core::{CustomerAttributes, DecisionKind, WorkspaceId};
use hmac::{Hmac, Mac};
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use sha2_010::Sha256;

use crate::config::ChatwootConfig;
use crate::error::{json_response, ApiError, ApiResult};
use crate::json::parse;
use crate::outbox::Attempt;
use crate::routes::customer::{engine_input, record_decision, ChannelExtras};
use crate::signing::{VerifyError, TOLERANCE_SECS};
use crate::state::AppState;
use crate::telemetry;

pub const ADAPTER: &str = "chatwoot";
/// Outbox event: post the bot's reply into the Chatwoot conversation (and open it on handoff).
pub const REPLY_EVENT: &str = "chatwoot.reply";
pub const HEADER_SIGNATURE: &str = "x-chatwoot-signature";
pub const HEADER_TIMESTAMP: &str = "x-chatwoot-timestamp";

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

pub fn verify(
    headers: &HeaderMap,
    body: &[u8],
    secret: &str,
    now_secs: i64,
) -> Result<(), VerifyError> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .ok_or(VerifyError::MissingHeaders)
    };
    let signature = header(HEADER_SIGNATURE)?;
    let timestamp = header(HEADER_TIMESTAMP)?.trim();
    let seconds: i64 = timestamp.parse().map_err(|_| VerifyError::BadTimestamp)?;
    if (now_secs - seconds).abs() > TOLERANCE_SECS {
        return Err(VerifyError::TimestampOutOfTolerance);
    }
    let expected = signature
        .trim()
        .strip_prefix("sha256=")
        .and_then(decode_hex)
        .ok_or(VerifyError::NoMatchingSignature)?;
    mac(secret, timestamp, body)
        .verify_slice(&expected)
        .map_err(|_| VerifyError::NoMatchingSignature)
}

/// The parts of a Chatwoot webhook Fathom reads; everything else is ignored.
#[derive(Debug, Deserialize)]
struct ChatwootEvent {
    event: String,
    #[serde(default)]
    id: Option<serde_json::Value>,
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    message_type: Option<serde_json::Value>,
    #[serde(default)]
    private: Option<bool>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    conversation: Option<ChatwootConversation>,
    #[serde(default)]
    sender: Option<ChatwootSender>,
}

/// The one field read before the signature is checked.
#[derive(Debug, Deserialize)]
struct Addressed {
    #[serde(default)]
    account: Option<ChatwootAccount>,
}

#[derive(Debug, Deserialize)]
struct ChatwootConversation {
    id: u64,
    #[serde(default)]
    status: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ChatwootAccount {
    id: u64,
}

#[derive(Debug, Deserialize)]
struct ChatwootSender {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    id: Option<u64>,
}

impl ChatwootEvent {
    fn is_incoming(&self) -> bool {
        match &self.message_type {
            Some(serde_json::Value::String(kind)) => kind == "incoming",
            Some(serde_json::Value::Number(kind)) => kind.as_u64() == Some(0),
            _ => false,
        }
    }
}

fn ignored(why: &str) -> ApiResult {
    Ok(json_response(
        StatusCode::OK,
        &serde_json::json!({"status": "ignored", "why": why}),
    ))
}

/// The workspace this event comes from: one whose Chatwoot account has the event's account id
/// and whose webhook secret signed it. Several workspaces may share an account id (each
/// self-hosted installation numbers its accounts from 1); the signature tells them apart.
fn workspace_for_event<'a>(
    state: &'a AppState,
    account_id: u64,
    headers: &HeaderMap,
    body: &[u8],
    now_secs: i64,
) -> Result<(&'a WorkspaceId, &'a ChatwootConfig), VerifyError> {
    let mut failure = VerifyError::NoMatchingSignature;
    for (workspace, settings) in &state.config.workspaces {
        let Some(chatwoot) = settings
            .chatwoot
            .as_ref()
            .filter(|c| c.account_id == account_id)
        else {
            continue;
        };
        match verify(headers, body, chatwoot.webhook_secret.expose(), now_secs) {
            Ok(()) => return Ok((workspace, chatwoot)),
            // A bad timestamp is the same for every candidate: report it rather than "no match".
            Err(VerifyError::NoMatchingSignature) => {}
            Err(other) => failure = other,
        }
    }
    Err(failure)
}

pub async fn inbound(state: AppState, headers: HeaderMap, body: Bytes) -> ApiResult {
    let reject = |error: VerifyError| {
        metrics::counter!(telemetry::WEBHOOKS_RECEIVED, "outcome" => "rejected").increment(1);
        tracing::warn!(%error, adapter = ADAPTER, "inbound webhook rejected");
        ApiError::unauthorized(error.code(), error.to_string())
    };
    if headers.get(HEADER_SIGNATURE).is_none() {
        return Err(reject(VerifyError::MissingHeaders));
    }
    // Only the account is read before the signature is checked: an unsigned sender learns
    // nothing about what the body should hold.
    let Some(account) = serde_json::from_slice::<Addressed>(&body)
        .ok()
        .and_then(|addressed| addressed.account)
        .map(|account| account.id)
    else {
        return Err(reject(VerifyError::NoMatchingSignature));
    };
    let now_secs = fathom_conversations::now_ms() / 1000;
    let (workspace, chatwoot) =
        workspace_for_event(&state, account, &headers, &body, now_secs).map_err(reject)?;
    let event: ChatwootEvent = parse(&body)?;
    let Some(chatwoot_conversation) = &event.conversation else {
        return ignored("no conversation in the event");
    };
    let external_id = format!("{}:{}", chatwoot.account_id, chatwoot_conversation.id);
    match event.event.as_str() {
        "message_created" => {
            if !event.is_incoming() || event.private == Some(true) {
                return ignored("only incoming, public messages are answered");
            }
            if chatwoot_conversation.status.as_deref() != Some("pending") {
                return ignored("only pending conversations are the bot's");
            }
            let text = event.content.as_deref().map(str::trim).unwrap_or_default();
            if text.is_empty() {
                return ignored("empty message");
            }
            let message_id = event.id.as_ref().map(|id| id.to_string());
            answer(
                &state,
                workspace,
                chatwoot,
                &event,
                &external_id,
                message_id.as_deref(),
                text,
            )
            .await
        }
        "conversation_status_changed" | "conversation_resolved" | "conversation_opened" => {
            let status = event
                .status
                .as_deref()
                .or(chatwoot_conversation.status.as_deref());
            let new_state = match (event.event.as_str(), status) {
                ("conversation_resolved", _) | (_, Some("resolved")) => ConversationState::Resolved,
                (_, Some("pending")) => ConversationState::Bot,
                (_, Some("open")) => ConversationState::Human,
                _ => return ignored("status not handled"),
            };
            let Some(id) = state
                .links
                .find_external(workspace, ADAPTER, &external_id)
                .await?
            else {
                return ignored("a conversation the bot never saw");
            };
            let applied = state
                .store
                .apply(
                    workspace,
                    id,
                    Change {
                        state: Some(new_state),
                        ..Default::default()
                    },
                )
                .await?;
            Ok(json_response(
                StatusCode::OK,
                &serde_json::json!({"status": "applied", "state": applied.conversation.state}),
            ))
        }
        _ => ignored("event not handled"),
    }
}

async fn answer(
    state: &AppState,
    workspace: &WorkspaceId,
    chatwoot: &ChatwootConfig,
    event: &ChatwootEvent,
    external_id: &str,
    message_id: Option<&str>,
    text: &str,
) -> ApiResult {
    let conversation = conversation_for(state, workspace, event, external_id).await?;
    // Chatwoot says the conversation is pending: the bot's, whatever Fathom thought before.
    let conversation = if conversation.state.bot_replies() {
        conversation
    } else {
        state
            .store
            .apply(
                workspace,
                conversation.id,
                Change {
                    state: Some(ConversationState::Bot),
                    ..Default::default()
                },
            )
            .await?
            .conversation
    };
    let history = state.store.messages(conversation.id).await?;
    let decision = state
        .engine
        .decide(&engine_input(
            &state.engine.config().limits,
            &conversation,
            &history,
            text,
        ))
        .await;
    let reply = NewEvent {
        event_type: REPLY_EVENT.to_string(),
        payload: serde_json::json!({
            "account_id": chatwoot.account_id,
            "conversation_id": event.conversation.as_ref().map(|c| c.id),
            "content": decision.answer,
            "handoff": decision.decision == DecisionKind::Handoff,
        }),
    };
    // Chatwoot redelivers on timeouts: the message id is recorded with the reply, in one
    // transaction, so a redelivered message is answered once (and a crash answers it never
    // half). Message ids are sequential per installation: the key names the account, and the
    // store scopes it to the workspace (one installation's account). A message without an id
    // cannot be told from another, so it is never taken for a duplicate.
    let extras = ChannelExtras {
        events: vec![reply],
        inbound_delivery: message_id.map(|id| {
            (
                ADAPTER.to_string(),
                format!("account:{}:message:{id}", chatwoot.account_id),
            )
        }),
    };
    let recorded = record_decision(
        state,
        &conversation,
        &history,
        text.to_string(),
        decision,
        extras,
    )
    .await?;
    let Some(outcome) = recorded else {
        metrics::counter!(telemetry::WEBHOOKS_RECEIVED, "outcome" => "duplicate").increment(1);
        return Ok(json_response(
            StatusCode::OK,
            &serde_json::json!({"status": "duplicate"}),
        ));
    };
    metrics::counter!(telemetry::WEBHOOKS_RECEIVED, "outcome" => "applied").increment(1);
    Ok(json_response(StatusCode::OK, &outcome))
}

/// The Fathom conversation for this Chatwoot conversation, created on its first message.
async fn conversation_for(
    state: &AppState,
    workspace: &WorkspaceId,
    event: &ChatwootEvent,
    external_id: &str,
) -> ApiResult<StoredConversation> {
    if let Some(id) = state
        .links
        .find_external(workspace, ADAPTER, external_id)
        .await?
    {
        if let Some(conversation) = state.store.get(workspace, id).await? {
            return Ok(conversation);
        }
    }
    let mut customer = CustomerAttributes::default();
    if let Some(sender) = &event.sender {
        customer.name = sender.name.clone();
        if let Some(email) = &sender.email {
            customer.extra.insert("email".into(), email.clone());
        }
        if let Some(id) = sender.id {
            customer
                .extra
                .insert("chatwoot_contact_id".into(), id.to_string());
        }
    }
    customer
        .extra
        .insert("chatwoot_conversation".into(), external_id.to_string());
    // The customer talks through Chatwoot; this token is never handed out.
    let token: [u8; 32] = rand::random();
    let created = state
        .store
        .create(workspace, customer, TokenHash::of(&format!("{token:?}")))
        .await?;
    let linked = state
        .links
        .link_external(workspace, ADAPTER, external_id, created.id)
        .await?;
    state
        .store
        .get(workspace, linked)
        .await?
        .ok_or_else(ApiError::conversation_not_found)
}

/// Deliver a `chatwoot.reply` outbox event: on a handoff open the conversation first (idempotent),
/// then post the reply as an outgoing message.
pub(crate) async fn deliver(
    http: &reqwest::Client,
    chatwoot: &ChatwootConfig,
    payload: &serde_json::Value,
) -> Attempt {
    let base = chatwoot.base_url.trim_end_matches('/');
    let (Some(account), Some(conversation)) = (
        payload["account_id"].as_u64(),
        payload["conversation_id"].as_u64(),
    ) else {
        return Attempt::Failed {
            error: "malformed chatwoot.reply event".into(),
            retry_after: None,
        };
    };
    let conversation_url = format!("{base}/api/v1/accounts/{account}/conversations/{conversation}");
    if payload["handoff"].as_bool() == Some(true) {
        let toggled = http
            .post(format!("{conversation_url}/toggle_status"))
            .header("api_access_token", chatwoot.api_access_token.expose())
            .json(&serde_json::json!({"status": "open"}))
            .send()
            .await;
        if let Some(failure) = Attempt::from_response(toggled).await.failure() {
            return failure;
        }
    }
    let posted = http
        .post(format!("{conversation_url}/messages"))
        .header("api_access_token", chatwoot.api_access_token.expose())
        .json(&serde_json::json!({
            "content": payload["content"],
            "message_type": "outgoing",
            "private": false,
        }))
        .send()
        .await;
    Attempt::from_response(posted).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_request_verifies_and_a_changed_one_does_not() {
        let body = br#"{"event":"message_created"}"#;
        let mut headers = HeaderMap::new();
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
        // Computed independently: Python's hmac.new(b"s3cret", b"1700000000.{...}", sha256).
        assert_eq!(
            sign("s3cret", 1_700_000_000, br#"{"event":"message_created"}"#),
            "sha256=1148d6519d19bc982e21da3ea971b4d44137dd730a8f3176124ab2f419fe42fd"
        );
        assert_eq!(decode_hex("0aff"), Some(vec![10, 255]));
        assert_eq!(decode_hex("0g"), None);
    }
}
