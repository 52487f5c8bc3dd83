//! The customer chat API: start a conversation, send messages (JSON or SSE), read the
//! transcript, follow it live, give feedback. The customer token is the only credential; a wrong
//! token and an unknown id look the same (404).

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use fathom_conversations::{
    Change, ConversationId, ConversationState, NewFeedback, StoredConversation, StoredMessage,
    TokenHash,
};
use fathom_core::{AnswerEvent, Conversation, CustomerAttributes, WorkspaceId};
use futures::Stream;
use http::{header, HeaderMap, StatusCode};
use tokio::sync::mpsc;

use crate::clients::Client;
use crate::config::AttributeLimits;
use crate::error::{json_response, ApiError, ApiResult};
use crate::handoff::events::{self, EventContext, TranscriptLine};
use crate::handoff::turn::{engine_input, record_decision, store_silently, ChannelExtras};
use crate::json::StrictJson;
use crate::path::PathParam;
use crate::state::AppState;
use crate::views::{
    ConversationView, CreateConversationRequest, CreatedConversation, FeedbackRecorded,
    FeedbackRequest, LiveEvent, MessageOutcome, PostMessageRequest,
};

/// Longest customer message accepted, in characters (the engine has its own, finer limits).
const MAX_MESSAGE_CHARS: usize = 8_000;
const MAX_COMMENT_CHARS: usize = 2_000;

/// The token of `Authorization: Bearer <token>`. The scheme is case-insensitive (RFC 9110
/// §11.1): `bearer` and `BEARER` are the same.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once([' ', '\t'])?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The conversation this customer token opens.
async fn authorize(
    state: &AppState,
    headers: &HeaderMap,
    raw_id: &str,
) -> ApiResult<StoredConversation> {
    let token = bearer(headers).ok_or_else(|| {
        ApiError::unauthorized(
            "missing_authorization",
            "send the customer token as Authorization: Bearer <token>",
        )
    })?;
    let id = ConversationId::parse(raw_id).ok_or_else(ApiError::conversation_not_found)?;
    let conversation = state
        .store
        .get_for_customer(id, &TokenHash::of(token))
        .await?
        .ok_or_else(ApiError::conversation_not_found)?;
    crate::routes::origin::ensure_allowed(state, headers, &conversation.workspace)?;
    state.limiters.workspace(&conversation.workspace)?;
    Ok(conversation)
}

#[utoipa::path(
    post, path = "/v1/conversations", tag = "customer",
    request_body = CreateConversationRequest,
    responses(
        (status = 201, body = CreatedConversation),
        (status = 400, body = crate::error::ErrorBody, description = "invalid_json, invalid_request, invalid_workspace, invalid_customer (attributes past their bounds)"),
        (status = 404, body = crate::error::ErrorBody, description = "workspace_not_found"),
        (status = 429, body = crate::error::ErrorBody, description = "rate_limited"),
    )
)]
pub async fn create_conversation(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    StrictJson(request): StrictJson<CreateConversationRequest>,
) -> ApiResult {
    let workspace = WorkspaceId::parse(&request.workspace)
        .map_err(|e| ApiError::bad_request("invalid_workspace", e.to_string()))?;
    if state.workspace(&workspace).is_none() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "workspace_not_found",
            format!("no workspace {workspace} on this server"),
        ));
    }
    crate::routes::origin::ensure_allowed(&state, &headers, &workspace)?;
    check_attributes(&request.customer, &state.config.customer_attributes)?;
    state.limiters.client_conversation(client)?;
    state.limiters.workspace(&workspace)?;
    let token_bytes: [u8; 32] = rand::random();
    let token = format!("fct_{}", URL_SAFE_NO_PAD.encode(token_bytes));
    let conversation = state
        .store
        .create(&workspace, request.customer, TokenHash::of(&token))
        .await?;
    tracing::info!(workspace = %workspace, conversation_id = %conversation.id, "conversation started");
    Ok(json_response(
        StatusCode::CREATED,
        &CreatedConversation {
            conversation_id: conversation.id,
            customer_token: token,
            state: conversation.state,
        },
    ))
}

/// Within the configured bounds, so that what one conversation costs to store is bounded too.
fn check_attributes(customer: &CustomerAttributes, limits: &AttributeLimits) -> ApiResult<()> {
    let invalid = |message: String| ApiError::bad_request("invalid_customer", message);
    if customer.extra.len() > limits.max_extra {
        return Err(invalid(format!(
            "customer.extra has {} entries; at most {} are accepted",
            customer.extra.len(),
            limits.max_extra
        )));
    }
    let mut total = 0;
    for (key, value) in &customer.extra {
        if key.is_empty() || key.len() > limits.max_key_bytes {
            return Err(invalid(format!(
                "customer.extra keys must hold 1 to {} bytes",
                limits.max_key_bytes
            )));
        }
        total += key.len();
        total += check_value(&format!("customer.extra.{key}"), value, limits)?;
    }
    for (field, value) in [
        ("name", &customer.name),
        ("plan", &customer.plan),
        ("locale", &customer.locale),
    ] {
        if let Some(value) = value {
            total += check_value(&format!("customer.{field}"), value, limits)?;
        }
    }
    if total > limits.max_total_bytes {
        return Err(invalid(format!(
            "customer attributes hold {total} bytes; at most {} are accepted",
            limits.max_total_bytes
        )));
    }
    Ok(())
}

fn check_value(field: &str, value: &str, limits: &AttributeLimits) -> ApiResult<usize> {
    if value.len() > limits.max_value_bytes {
        return Err(ApiError::bad_request(
            "invalid_customer",
            format!(
                "{field} holds {} bytes; at most {} are accepted",
                value.len(),
                limits.max_value_bytes
            ),
        ));
    }
    Ok(value.len())
}

#[utoipa::path(
    get, path = "/v1/conversations/{id}", tag = "customer",
    params(("id" = String, Path, description = "conversation id")),
    security(("customer_token" = [])),
    responses(
        (status = 200, body = ConversationView),
        (status = 401, body = crate::error::ErrorBody, description = "missing_authorization"),
        (status = 404, body = crate::error::ErrorBody, description = "conversation_not_found"),
    )
)]
pub async fn get_conversation(
    State(state): State<AppState>,
    PathParam(id): PathParam,
    headers: HeaderMap,
) -> ApiResult {
    let conversation = authorize(&state, &headers, &id).await?;
    let messages = state.store.messages(conversation.id).await?;
    Ok(json_response(
        StatusCode::OK,
        &ConversationView::new(&conversation, Some(&messages)),
    ))
}

fn wants_event_stream(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"))
}

#[utoipa::path(
    post, path = "/v1/conversations/{id}/messages", tag = "customer",
    params(("id" = String, Path, description = "conversation id")),
    security(("customer_token" = [])),
    request_body = PostMessageRequest,
    responses(
        (status = 200, body = MessageOutcome, description = "the bot's reply; with `Accept: text/event-stream`, SSE events `step`, `token` and finally `reply` (a MessageOutcome)"),
        (status = 202, body = MessageOutcome, description = "stored; a person has the conversation, so the bot stays silent"),
        (status = 400, body = crate::error::ErrorBody, description = "invalid_json, invalid_request, invalid_message"),
        (status = 404, body = crate::error::ErrorBody, description = "conversation_not_found"),
        (status = 409, body = crate::error::ErrorBody, description = "conversation_closed"),
        (status = 429, body = crate::error::ErrorBody, description = "rate_limited"),
    )
)]
pub async fn post_message(
    State(state): State<AppState>,
    PathParam(id): PathParam,
    headers: HeaderMap,
    StrictJson(request): StrictJson<PostMessageRequest>,
) -> ApiResult {
    let conversation = authorize(&state, &headers, &id).await?;
    let text = request.text.trim().to_string();
    if text.is_empty() || text.chars().count() > MAX_MESSAGE_CHARS {
        return Err(ApiError::bad_request(
            "invalid_message",
            format!("text must hold 1 to {MAX_MESSAGE_CHARS} characters"),
        ));
    }
    state.limiters.customer(conversation.id)?;
    if conversation.state == ConversationState::Closed {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conversation_closed",
            "this conversation is closed; start a new one",
        ));
    }
    let history = state.store.messages(conversation.id).await?;
    if !conversation.state.bot_replies() {
        let outcome = store_silently(&state, &conversation, &history, text).await?;
        if wants_event_stream(&headers) {
            let event = reply_event(&outcome);
            return Ok(
                Sse::new(futures::stream::iter([Ok::<_, Infallible>(event)])).into_response(),
            );
        }
        return Ok(json_response(StatusCode::ACCEPTED, &outcome));
    }
    let engine_input = engine_input(
        &state.engine.config().limits,
        &conversation,
        &history,
        &text,
    );
    if wants_event_stream(&headers) {
        return Ok(stream_reply(state, conversation, history, text, engine_input).into_response());
    }
    let decision = state.engine.decide(&engine_input).await;
    let outcome = record_decision(
        &state,
        &conversation,
        &history,
        text,
        decision,
        ChannelExtras::default(),
    )
    .await?
    .ok_or_else(|| ApiError::internal("an api message was taken for a redelivery"))?;
    Ok(json_response(StatusCode::OK, &outcome))
}

fn reply_event(outcome: &MessageOutcome) -> Event {
    Event::default()
        .event("reply")
        .data(serde_json::to_string(outcome).unwrap_or_default())
}

/// Run the engine in streaming mode: `step` and `token` events as they come, then the stored
/// outcome as `reply`. The outcome is stored even if the customer disconnects.
fn stream_reply(
    state: AppState,
    conversation: StoredConversation,
    history: Vec<StoredMessage>,
    text: String,
    engine_input: Conversation,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let (sender, receiver) = mpsc::channel::<Event>(64);
    let mut engine_events = state.engine.decide_streaming(engine_input);
    tokio::spawn(async move {
        while let Some(event) = engine_events.recv().await {
            match event {
                AnswerEvent::Step { .. } | AnswerEvent::Token { .. } => {
                    let name = if matches!(event, AnswerEvent::Step { .. }) {
                        "step"
                    } else {
                        "token"
                    };
                    let data = serde_json::to_string(&event).unwrap_or_default();
                    // A customer who went away does not stop the reply from being stored.
                    let _ = sender.send(Event::default().event(name).data(data)).await;
                }
                AnswerEvent::Decision { decision } => {
                    let event = match record_decision(
                        &state,
                        &conversation,
                        &history,
                        text,
                        *decision,
                        ChannelExtras::default(),
                    )
                    .await
                    .and_then(|outcome| {
                        outcome.ok_or_else(|| {
                            ApiError::internal("an api message was taken for a redelivery")
                        })
                    }) {
                        Ok(outcome) => reply_event(&outcome),
                        Err(error) => Event::default().event("error").data(
                            serde_json::json!({"code": error.code, "message": error.message})
                                .to_string(),
                        ),
                    };
                    let _ = sender.send(event).await;
                    return;
                }
            }
        }
    });
    Sse::new(futures::stream::unfold(
        receiver,
        |mut receiver| async move {
            receiver
                .recv()
                .await
                .map(|event| (Ok::<_, Infallible>(event), receiver))
        },
    ))
}

#[utoipa::path(
    post, path = "/v1/conversations/{id}/feedback", tag = "customer",
    params(("id" = String, Path, description = "conversation id")),
    security(("customer_token" = [])),
    request_body = FeedbackRequest,
    responses(
        (status = 200, body = FeedbackRecorded),
        (status = 400, body = crate::error::ErrorBody, description = "invalid_json, invalid_request, invalid_feedback"),
        (status = 404, body = crate::error::ErrorBody, description = "conversation_not_found"),
    )
)]
pub async fn post_feedback(
    State(state): State<AppState>,
    PathParam(id): PathParam,
    headers: HeaderMap,
    StrictJson(request): StrictJson<FeedbackRequest>,
) -> ApiResult {
    let conversation = authorize(&state, &headers, &id).await?;
    if request.rating.is_none() && request.comment.is_none() && !request.resolved {
        return Err(ApiError::bad_request(
            "invalid_feedback",
            "send a rating, a comment or resolved: true",
        ));
    }
    if request
        .comment
        .as_ref()
        .is_some_and(|c| c.chars().count() > MAX_COMMENT_CHARS)
    {
        return Err(ApiError::bad_request(
            "invalid_feedback",
            format!("comment must be at most {MAX_COMMENT_CHARS} characters"),
        ));
    }
    let history = state.store.messages(conversation.id).await?;
    if let Some(seq) = request.message_seq {
        let is_bot_message = history
            .iter()
            .any(|m| m.seq == seq && m.role == fathom_conversations::MessageRole::Bot);
        if !is_bot_message {
            return Err(ApiError::bad_request(
                "invalid_feedback",
                format!("message {seq} is not a bot message of this conversation"),
            ));
        }
    }
    let mut change = Change {
        feedback: Some(NewFeedback {
            message_seq: request.message_seq,
            rating: request.rating,
            comment: request.comment,
        }),
        ..Default::default()
    };
    if request.resolved && conversation.state != ConversationState::Resolved {
        if conversation.state == ConversationState::Closed {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "conversation_closed",
                "this conversation is closed",
            ));
        }
        change.state = Some(ConversationState::Resolved);
        change.expect_states = vec![conversation.state];
        if let Some(workspace) = state
            .workspace(&conversation.workspace)
            .filter(|w| w.sends_events())
        {
            change.events.push(events::build(
                events::RESOLVED,
                EventContext {
                    conversation: &conversation,
                    state: ConversationState::Resolved,
                    transcript: history.iter().map(TranscriptLine::stored).collect(),
                    decision: events::latest_decision(&history),
                    message: None,
                },
                workspace,
            ));
        }
    }
    let applied = state
        .store
        .apply(&conversation.workspace, conversation.id, change)
        .await?;
    if !applied.event_ids.is_empty() {
        state.outbox_wake.notify_one();
    }
    Ok(json_response(
        StatusCode::OK,
        &FeedbackRecorded {
            state: applied.conversation.state,
        },
    ))
}

#[utoipa::path(
    get, path = "/v1/conversations/{id}/events", tag = "customer",
    params(("id" = String, Path, description = "conversation id")),
    security(("customer_token" = [])),
    responses(
        (status = 200, description = "SSE: `message` events (a MessageView) and `state` events as the conversation changes, e.g. when a person replies"),
        (status = 404, body = crate::error::ErrorBody, description = "conversation_not_found"),
    )
)]
pub async fn conversation_events(
    State(state): State<AppState>,
    PathParam(id): PathParam,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let conversation = authorize(&state, &headers, &id).await?;
    let transcript = state.store.messages(conversation.id).await?;
    let receiver = state.live.subscribe(&conversation, &transcript);
    let keep_alive = tokio::time::interval(Duration::from_secs(15));
    let mut shutting_down = state.shutting_down.subscribe();
    if *shutting_down.borrow_and_update() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the server is shutting down; reconnect in a moment",
        ));
    }
    let stream = futures::stream::unfold(
        (receiver, keep_alive, shutting_down),
        |(mut receiver, mut keep_alive, mut shutting_down)| async move {
            let event = tokio::select! {
                _ = shutting_down.changed() => return None,
                received = receiver.recv() => match received {
                    Ok(event) => {
                        let name = match &event {
                            LiveEvent::Message { .. } => "message",
                            LiveEvent::State { .. } => "state",
                        };
                        let data = serde_json::to_string(&event).unwrap_or_default();
                        Event::default().event(name).data(data)
                    }
                    // Fell behind: the client re-reads the transcript with GET.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        Event::default().event("lagged").data("{}")
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                },
                _ = keep_alive.tick() => Event::default().comment("keep-alive"),
            };
            Some((
                Ok::<_, Infallible>(event),
                (receiver, keep_alive, shutting_down),
            ))
        },
    );
    Ok(Sse::new(stream).into_response())
}
