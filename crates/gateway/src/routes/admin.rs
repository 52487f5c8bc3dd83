//! The admin API, behind each workspace's API key (`Authorization: Bearer <admin key>`): list
//! conversations, read one, stats, the outbox, and a knowledge sync. A key sees its own
//! workspace only; another workspace's conversation is a 404 like one that does not exist.

use axum::extract::{RawQuery, State};
use fathom_conversations::{ConversationId, ConversationState, ListQuery, OutboxEvent};
use fathom_core::WorkspaceId;
use fathom_ingest::sync::{sync_folder, SyncOptions};
use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{json_response, ApiError, ApiResult};
use crate::path::PathParam;
use crate::routes::customer::bearer;
use crate::state::AppState;
use crate::views::{ConversationList, ConversationView};

pub(crate) fn authorize(state: &AppState, headers: &HeaderMap) -> ApiResult<WorkspaceId> {
    let key = bearer(headers).ok_or_else(|| {
        ApiError::unauthorized(
            "missing_authorization",
            "send the workspace's admin key as Authorization: Bearer <key>",
        )
    })?;
    let workspace = state
        .workspace_for_admin_key(key)
        .cloned()
        .ok_or_else(|| ApiError::unauthorized("invalid_api_key", "this admin key is not valid"))?;
    state.limiters.workspace(&workspace)?;
    Ok(workspace)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListParams {
    state: Option<String>,
    limit: Option<usize>,
}

#[utoipa::path(
    get, path = "/v1/admin/conversations", tag = "admin",
    params(
        ("state" = Option<String>, Query, description = "bot, handed_off, human, resolved or closed"),
        ("limit" = Option<usize>, Query, description = "at most 500; default 50"),
    ),
    security(("admin_key" = [])),
    responses(
        (status = 200, body = ConversationList),
        (status = 400, body = crate::error::ErrorBody, description = "invalid_query"),
        (status = 401, body = crate::error::ErrorBody, description = "missing_authorization, invalid_api_key"),
    )
)]
pub async fn list_conversations(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let workspace = authorize(&state, &headers)?;
    let params: ListParams = serde_urlencoded::from_str(query.as_deref().unwrap_or(""))
        .map_err(|e| ApiError::bad_request("invalid_query", e.to_string()))?;
    let filter = match params.state.as_deref() {
        None => None,
        Some(raw) => Some(ConversationState::parse(raw).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_query",
                format!("state {raw:?} is not one of bot, handed_off, human, resolved, closed"),
            )
        })?),
    };
    let limit = params.limit.unwrap_or(50).clamp(1, 500);
    let conversations = state
        .store
        .list(
            &workspace,
            ListQuery {
                state: filter,
                limit,
            },
        )
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &ConversationList {
            conversations: conversations
                .iter()
                .map(|c| ConversationView::new(c, None))
                .collect(),
        },
    ))
}

#[utoipa::path(
    get, path = "/v1/admin/conversations/{id}", tag = "admin",
    params(("id" = String, Path, description = "conversation id")),
    security(("admin_key" = [])),
    responses(
        (status = 200, body = ConversationView),
        (status = 404, body = crate::error::ErrorBody, description = "conversation_not_found"),
    )
)]
pub async fn get_conversation(
    State(state): State<AppState>,
    headers: HeaderMap,
    PathParam(id): PathParam,
) -> ApiResult {
    let workspace = authorize(&state, &headers)?;
    let id = ConversationId::parse(&id).ok_or_else(ApiError::conversation_not_found)?;
    let conversation = state
        .store
        .get(&workspace, id)
        .await?
        .ok_or_else(ApiError::conversation_not_found)?;
    let messages = state.store.messages(id).await?;
    Ok(json_response(
        StatusCode::OK,
        &ConversationView::new(&conversation, Some(&messages)),
    ))
}

#[utoipa::path(
    get, path = "/v1/admin/stats", tag = "admin",
    security(("admin_key" = [])),
    responses((status = 200, description = "conversations by state, resolution rate, handoffs by reason, feedback, outbox by status", body = Object))
)]
pub async fn stats(State(state): State<AppState>, headers: HeaderMap) -> ApiResult {
    let workspace = authorize(&state, &headers)?;
    let stats = state.reports.stats(&workspace).await?;
    Ok(json_response(StatusCode::OK, &stats))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxView {
    #[schema(value_type = Vec<Object>)]
    pub events: Vec<OutboxEventView>,
}

#[derive(Debug, Serialize)]
pub struct OutboxEventView {
    pub id: String,
    pub event_type: String,
    pub conversation_id: ConversationId,
    pub status: String,
    pub attempts: u32,
    pub next_attempt_at_ms: i64,
    pub created_at_ms: i64,
    pub last_error: Option<String>,
}

impl From<&OutboxEvent> for OutboxEventView {
    fn from(event: &OutboxEvent) -> Self {
        Self {
            id: event.id.clone(),
            event_type: event.event_type.clone(),
            conversation_id: event.conversation_id,
            status: event.status.as_str().to_string(),
            attempts: event.attempts,
            next_attempt_at_ms: event.next_attempt_at_ms,
            created_at_ms: event.created_at_ms,
            last_error: event.last_error.clone(),
        }
    }
}

#[utoipa::path(
    get, path = "/v1/admin/outbox", tag = "admin",
    security(("admin_key" = [])),
    responses((status = 200, body = OutboxView, description = "every event with its delivery status, oldest first"))
)]
pub async fn outbox(State(state): State<AppState>, headers: HeaderMap) -> ApiResult {
    let workspace = authorize(&state, &headers)?;
    let events = state.outbox.outbox(&workspace).await?;
    Ok(json_response(
        StatusCode::OK,
        &OutboxView {
            events: events.iter().map(OutboxEventView::from).collect(),
        },
    ))
}

#[utoipa::path(
    post, path = "/v1/admin/knowledge/sync", tag = "admin",
    security(("admin_key" = [])),
    responses(
        (status = 200, description = "the sync report: added, updated, deleted, failed", body = Object),
        (status = 409, body = crate::error::ErrorBody, description = "knowledge_not_configured, or sync_in_progress (another sync of this workspace, on any gateway or CLI, holds its lease)"),
        (status = 503, body = crate::error::ErrorBody, description = "vector_store_unavailable or sync_state_unavailable"),
    )
)]
pub async fn sync_knowledge(State(state): State<AppState>, headers: HeaderMap) -> ApiResult {
    let workspace = authorize(&state, &headers)?;
    let folder = state
        .workspace(&workspace)
        .and_then(|w| w.knowledge_dir.clone());
    let (Some(folder), Some(knowledge)) = (folder, state.knowledge.clone()) else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "knowledge_not_configured",
            "this workspace has no knowledge_dir, or the server has no vector store for syncs",
        ));
    };
    // The sync holds the workspace's lease in the sync state store (beside the index), so a
    // sync already running here, on another gateway or from the CLI is a 409, not a collision.
    // All its file I/O runs on the blocking pool.
    let options = SyncOptions {
        holder: fathom_ingest::lease_holder("fathom serve (admin knowledge sync)"),
        ..SyncOptions::new(workspace.clone())
    };
    let report = sync_folder(&folder, &knowledge.backends, &options, &|_| {})
        .await
        .map_err(ApiError::from)?;
    tracing::info!(
        workspace = %workspace,
        added = report.added.len(),
        updated = report.updated.len(),
        deleted = report.deleted.len(),
        failed = report.failed.len(),
        "knowledge synced"
    );
    Ok(json_response(StatusCode::OK, &report))
}
