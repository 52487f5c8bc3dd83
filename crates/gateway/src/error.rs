//! The one place errors become HTTP: a status and a stable, machine-readable `code`
//! (`{"code": "invalid_json", "message": "..."}`). Server errors are logged once, here, and their
//! details never reach the client.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{header, HeaderValue, StatusCode};
use serde::Serialize;
use utoipa::ToSchema;

/// The body of every error response.
#[derive(Debug, Clone, Serialize, serde::Deserialize, ToSchema)]
pub struct ErrorBody {
    /// Stable, machine-readable: `invalid_json`, `conversation_not_found`, `rate_limited`…
    pub code: String,
    /// For people; may change.
    pub message: String,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Seconds, for 429.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn conversation_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "conversation_not_found",
            "no conversation with this id for these credentials",
        )
    }

    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }

    pub fn rate_limited(retry_after_secs: u64, message: impl Into<String>) -> Self {
        Self {
            retry_after: Some(retry_after_secs.max(1)),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message)
        }
    }

    /// A failure of ours: logged with its cause, shown to the client as a bare `internal`.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "something went wrong on our side; try again",
        )
    }
}

impl From<fathom_conversations::StoreError> for ApiError {
    fn from(error: fathom_conversations::StoreError) -> Self {
        match error {
            fathom_conversations::StoreError::NotFound(_) => Self::conversation_not_found(),
            fathom_conversations::StoreError::StateConflict { actual, .. } => Self::new(
                StatusCode::CONFLICT,
                "conversation_state_conflict",
                format!("the conversation changed meanwhile and is now {actual}; try again"),
            ),
            other => Self::internal(other),
        }
    }
}

impl ApiError {
    /// A knowledge sync's failure when it is not ours to hide: 409 while another run holds the
    /// workspace's lease (or took it over), 503 while the index or its sync state does not
    /// answer. `None` for the rest (a failure of ours).
    pub fn for_sync(error: &fathom_ingest::sync::SyncError) -> Option<Self> {
        use fathom_core::{StoreError, SyncStateError};
        use fathom_ingest::sync::SyncError;
        let status = match error {
            SyncError::State(SyncStateError::Held { .. } | SyncStateError::Lost { .. }) => {
                StatusCode::CONFLICT
            }
            SyncError::State(SyncStateError::Backend { .. })
            | SyncError::Store(StoreError::Unavailable { .. }) => StatusCode::SERVICE_UNAVAILABLE,
            _ => return None,
        };
        Some(Self::new(status, error.code(), error.to_string()))
    }
}

impl From<fathom_ingest::sync::SyncError> for ApiError {
    fn from(error: fathom_ingest::sync::SyncError) -> Self {
        Self::for_sync(&error).unwrap_or_else(|| Self::internal(error))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            code: self.code.to_string(),
            message: self.message,
        };
        let mut response = json_response(self.status, &body);
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// A JSON response (axum's `Json` needs a feature this workspace keeps off; see Cargo.toml).
pub fn json_response<T: Serialize>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(bytes) => Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(bytes))
            .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response()),
        Err(error) => {
            tracing::error!(%error, "response did not serialize");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

pub type ApiResult<T = Response> = Result<T, ApiError>;
