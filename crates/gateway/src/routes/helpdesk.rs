//! Inbound events from the helpdesk, `POST /v1/helpdesk/{adapter}/events`. The generic adapter
//! (`standard`) speaks Standard Webhooks: the request must be signed with the workspace's inbound
//! secret within five minutes of now, and each `webhook-id` takes effect once.

use axum::extract::{Request, State};
use fathom_conversations::{Change, ConversationId, ConversationState, NewMessage};
use fathom_core::WorkspaceId;
use http::StatusCode;
use serde::Deserialize;

use crate::error::{json_response, ApiError, ApiResult};
use crate::json::{parse, read_body};
use crate::path::PathParam;
use crate::signing::SignedHeaders;
use crate::state::AppState;
use crate::telemetry;
use crate::views::InboundAccepted;

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

pub const GENERIC_ADAPTER: &str = "standard";

#[utoipa::path(
    post, path = "/v1/helpdesk/{adapter}/events", tag = "helpdesk",
    params(("adapter" = String, Path, description = "`standard` (Standard Webhooks), `chatwoot` (Chatwoot Agent Bot) or `django-helpdesk` (its follow-up webhook, `?token=`)")),
    responses(
        (status = 200, body = InboundAccepted, description = "applied, or a duplicate delivery (no effect)"),
        (status = 400, body = crate::error::ErrorBody, description = "invalid_json, invalid_request, unsupported_event_type"),
        (status = 401, body = crate::error::ErrorBody, description = "missing_webhook_signature, invalid_webhook_signature, invalid_webhook_timestamp"),
        (status = 404, body = crate::error::ErrorBody, description = "adapter_not_found, conversation_not_found"),
        (status = 409, body = crate::error::ErrorBody, description = "conversation_closed"),
    )
)]
pub async fn inbound_event(
    State(state): State<AppState>,
    PathParam(adapter): PathParam,
    request: Request,
) -> ApiResult {
    if adapter != GENERIC_ADAPTER
        && adapter != crate::chatwoot::ADAPTER
        && adapter != crate::django_helpdesk::ADAPTER
    {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "adapter_not_found",
            format!(
                "no helpdesk adapter {adapter:?}; use {GENERIC_ADAPTER:?}, {:?} or {:?}",
                crate::chatwoot::ADAPTER,
                crate::django_helpdesk::ADAPTER
            ),
        ));
    }
    let headers = request.headers().clone();
    let query = request.uri().query().map(str::to_string);
    let body = read_body(request, &()).await?;
    if adapter == crate::django_helpdesk::ADAPTER {
        return crate::django_helpdesk::inbound(state, query.as_deref(), &headers, &body).await;
    }
    if adapter == crate::chatwoot::ADAPTER {
        return crate::chatwoot::inbound(state, headers, body).await;
    }
    let reject = |error: crate::signing::VerifyError| {
        metrics::counter!(telemetry::WEBHOOKS_RECEIVED, "outcome" => "rejected").increment(1);
        tracing::warn!(%error, "inbound webhook rejected");
        ApiError::unauthorized(error.code(), error.to_string())
    };
    let signed = SignedHeaders::from_headers(&headers).map_err(reject)?;
    // The body names the workspace; the signature proves it (an unknown workspace cannot sign).
    // Only that name is read before the signature is checked: an unsigned sender learns nothing
    // about what the body should hold.
    let workspace = serde_json::from_slice::<Addressed>(&body)
        .ok()
        .and_then(|addressed| WorkspaceId::parse(&addressed.workspace).ok());
    let secret = workspace
        .as_ref()
        .and_then(|w| state.workspace(w))
        .and_then(|w| w.inbound_secret.as_ref());
    let now_secs = fathom_conversations::now_ms() / 1000;
    match secret {
        Some(secret) => signed.verify(&[secret], &body, now_secs).map_err(reject)?,
        None => return Err(reject(crate::signing::VerifyError::NoMatchingSignature)),
    }
    let Some(workspace) = workspace else {
        return Err(ApiError::conversation_not_found());
    };
    let event: InboundEvent = parse(&body)?;
    let id = ConversationId::parse(&event.data.conversation_id)
        .ok_or_else(ApiError::conversation_not_found)?;
    let conversation = state
        .store
        .get(&workspace, id)
        .await?
        .ok_or_else(ApiError::conversation_not_found)?;
    let mut change = Change {
        inbound_delivery: Some((adapter.clone(), signed.id.to_string())),
        ..Default::default()
    };
    match event.event_type.as_str() {
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
            let author = event.data.agent.and_then(|a| a.name.or(a.id));
            change.messages.push(NewMessage::agent(text, author));
            change.state = Some(ConversationState::Human);
            change.expect_states = vec![
                ConversationState::Bot,
                ConversationState::HandedOff,
                ConversationState::Human,
                ConversationState::Resolved,
            ];
        }
        "conversation.resolved" => change.state = Some(ConversationState::Resolved),
        "conversation.closed" => change.state = Some(ConversationState::Closed),
        "conversation.returned_to_bot" => {
            change.state = Some(ConversationState::Bot);
            change.expect_states = vec![
                ConversationState::Bot,
                ConversationState::HandedOff,
                ConversationState::Human,
            ];
        }
        other => {
            return Err(ApiError::bad_request(
                "unsupported_event_type",
                format!("event type {other:?} is not one this adapter handles"),
            ))
        }
    }
    let applied = state
        .store
        .apply(&workspace, conversation.id, change)
        .await
        .map_err(|error| match error {
            fathom_conversations::StoreError::StateConflict { actual, .. } => ApiError::new(
                StatusCode::CONFLICT,
                "conversation_closed",
                format!("the conversation is {actual}"),
            ),
            other => other.into(),
        })?;
    let status = if applied.duplicate {
        "duplicate"
    } else {
        "applied"
    };
    metrics::counter!(telemetry::WEBHOOKS_RECEIVED, "outcome" => status).increment(1);
    tracing::info!(
        workspace = %workspace,
        conversation_id = %conversation.id,
        event_type = %event.event_type,
        webhook_id = signed.id,
        status,
        "inbound helpdesk event"
    );
    let final_state = applied.conversation.state;
    Ok(json_response(
        StatusCode::OK,
        &InboundAccepted {
            status: status.to_string(),
            state: final_state,
        },
    ))
}
