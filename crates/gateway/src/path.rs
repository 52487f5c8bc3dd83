//! [`PathParam`]: a path segment as a string, whose rejection (invalid UTF-8 once
//! percent-decoded, say) is the usual JSON error with a stable code, not axum's plain text.

use axum::extract::{FromRequestParts, Path};
use http::request::Parts;

use crate::error::ApiError;

/// The route's one path parameter (`{id}`, `{adapter}`, `{name}`).
#[derive(Debug, Clone)]
pub struct PathParam(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathParam {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<String>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| Self(value))
            .map_err(|rejection| {
                ApiError::bad_request(
                    "invalid_path",
                    format!("the path is not valid: {}", rejection.body_text()),
                )
            })
    }
}
