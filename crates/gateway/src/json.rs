//! Strict JSON request bodies: the right content type, within the size limit, well-formed, and
//! of the expected shape (request types deny unknown fields). Each failure has its own code.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use http::{header, StatusCode};
use serde::de::DeserializeOwned;

use crate::connection::BodyDeadline;
use crate::error::ApiError;

#[derive(Debug, Clone)]
pub struct StrictJson<T>(pub T);

impl<S, T> FromRequest<S> for StrictJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| {
                let v = v.trim();
                v.eq_ignore_ascii_case("application/json")
                    || (v.starts_with("application/") && v.ends_with("+json"))
            });
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "invalid_content_type",
                "send the body as JSON with Content-Type: application/json",
            ));
        }
        let bytes = read_body(request, state).await?;
        parse(&bytes).map(StrictJson)
    }
}

/// The body as bytes; 413 `payload_too_large` past the configured limit, 408 `body_timeout`
/// when it has not all arrived by the request's [`BodyDeadline`] (a client trickling a body
/// would otherwise hold its connection and this task for as long as it likes).
pub async fn read_body<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, ApiError> {
    let deadline = request.extensions().get::<BodyDeadline>().copied();
    let reading = Bytes::from_request(request, state);
    let read =
        match deadline {
            Some(BodyDeadline(deadline)) => tokio::time::timeout_at(deadline, reading)
                .await
                .map_err(|_| {
                    ApiError::new(
                        StatusCode::REQUEST_TIMEOUT,
                        "body_timeout",
                        "the request body did not arrive in time",
                    )
                })?,
            None => reading.await,
        };
    read.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the request body is larger than this server accepts",
            )
        } else {
            ApiError::bad_request("invalid_body", rejection.body_text())
        }
    })
}

pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|error| {
        use serde_json::error::Category;
        match error.classify() {
            Category::Syntax | Category::Eof | Category::Io => ApiError::bad_request(
                "invalid_json",
                format!("the body is not valid JSON: {error}"),
            ),
            Category::Data => ApiError::bad_request(
                "invalid_request",
                format!("the body does not have the expected fields: {error}"),
            ),
        }
    })
}
