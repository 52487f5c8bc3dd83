//! Operations: liveness, readiness, Prometheus metrics and the OpenAPI document.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{header, StatusCode};

use crate::error::{json_response, ApiError, ApiResult};
use crate::state::AppState;

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, description = "alive")))]
pub async fn healthz() -> Response {
    json_response(StatusCode::OK, &serde_json::json!({"status": "ok"}))
}

/// The process can serve: the conversation store and the vector store answer, and so does
/// retrieval (checked again while the last search failed).
#[utoipa::path(get, path = "/readyz", tag = "ops", responses(
    (status = 200, description = "ready"),
    (status = 503, body = crate::error::ErrorBody, description = "not_ready"),
))]
pub async fn readyz(State(state): State<AppState>) -> ApiResult {
    if let Err(error) = state.store.ping().await {
        tracing::warn!(%error, "not ready: conversation store unavailable");
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "the conversation store is unavailable",
        ));
    }
    if let Some(knowledge) = &state.knowledge {
        if let Err(error) = knowledge.backends.store.health().await {
            tracing::warn!(%error, code = error.code(), "not ready: vector store unavailable");
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "not_ready",
                "the vector store is unavailable",
            ));
        }
    }
    if let Err(error) = state.engine.check_retrieval().await {
        tracing::warn!(%error, "not ready: retrieval unavailable");
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "the knowledge index cannot be searched",
        ));
    }
    Ok(json_response(
        StatusCode::OK,
        &serde_json::json!({"status": "ready"}),
    ))
}

/// Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "ops", responses((status = 200, description = "Prometheus text exposition")))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    state.metrics.run_upkeep();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

pub async fn openapi() -> Response {
    json_response(StatusCode::OK, &crate::routes::api_doc())
}

pub async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route")
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method",
    )
}
