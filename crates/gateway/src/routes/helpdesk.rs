//! Inbound events from the helpdesks, `POST /v1/helpdesk/{adapter}/events`: the helpdesk named
//! in the path authenticates the request (signature or token, before the body is read), reads it
//! into actions, and [`crate::handoff::apply`] applies them. Nothing slow happens here: a message
//! the bot must answer is queued for the outbox worker, so a helpdesk that times its webhooks out
//! (Chatwoot waits 5 s) always gets its answer at once.

use axum::extract::{Request, State};
use http::StatusCode;

use crate::error::{json_response, ApiError, ApiResult};
use crate::handoff::Outcome;
use crate::helpdesk::{self, Parsed};
use crate::json::read_body;
use crate::path::PathParam;
use crate::state::AppState;

#[utoipa::path(
    post, path = "/v1/helpdesk/{adapter}/events", tag = "helpdesk",
    params(("adapter" = String, Path, description = "`standard` (Standard Webhooks), `chatwoot` (Chatwoot Agent Bot, signed or `?token=`), `django-helpdesk` (its follow-up webhook, `?token=`) or `zendesk` (a signed Zendesk webhook)")),
    responses(
        (status = 200, body = crate::views::InboundAccepted, description = "`applied`, `queued` (the bot answers through the outbox), `duplicate` (delivered before: no effect) or `ignored` (`why` says why)"),
        (status = 400, body = crate::error::ErrorBody, description = "invalid_json, invalid_request, unsupported_event_type"),
        (status = 401, body = crate::error::ErrorBody, description = "missing_webhook_signature, invalid_webhook_signature, invalid_webhook_timestamp"),
        (status = 404, body = crate::error::ErrorBody, description = "adapter_not_found, conversation_not_found"),
        (status = 409, body = crate::error::ErrorBody, description = "conversation_closed"),
    )
)]
pub async fn inbound_event(
    State(state): State<AppState>,
    PathParam(name): PathParam,
    request: Request,
) -> ApiResult {
    let Some(helpdesk) = helpdesk::by_name(&name) else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "adapter_not_found",
            format!(
                "no helpdesk {name:?}; use one of {}",
                helpdesk::names()
                    .iter()
                    .map(|n| format!("{n:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    };
    let headers = request.headers().clone();
    let query = request.uri().query().map(str::to_string);
    let body = read_body(request, &()).await?;
    let request = helpdesk::Request {
        headers: &headers,
        query: query.as_deref(),
        body: &body,
    };
    let senders = helpdesk.authenticate(&state.config, &request)?;
    let outcome = match helpdesk.parse(&state.config, &senders, &request)? {
        Parsed::Actions { workspace, actions } => {
            crate::handoff::apply(&state, &workspace, helpdesk.name(), actions).await?
        }
        Parsed::Ignored { workspace, why } => {
            tracing::info!(%workspace, helpdesk = helpdesk.name(), %why, "inbound helpdesk event ignored");
            metrics::counter!(crate::telemetry::WEBHOOKS_RECEIVED, "outcome" => "ignored")
                .increment(1);
            Outcome::ignored(why)
        }
    };
    Ok(json_response(StatusCode::OK, &outcome))
}
