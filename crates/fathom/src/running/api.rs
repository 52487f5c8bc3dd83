//! The server's side: `fathom serve` runs the CLI's commands for it under `/v1/local/`, with the
//! same code the CLI runs when it opens the index itself, behind the per-run token of
//! `<data-dir>/server.token`. Whoever can read that file can read the data dir anyway; the API
//! is for the operator's CLI, not for browsers (no CORS) or customers.
//!
//! - `GET /v1/local/server`: who this is (pid, version, data dir); the CLI's check;
//! - `POST /v1/local/search`, `/ask`, `/status`: as `fathom search`, `ask`, `status`;
//! - `POST /v1/local/ingest`: `fathom ingest` of a folder on this machine; the changes are
//!   searchable when it returns. It holds the workspace's sync lease like every other sync (the
//!   admin API's, another gateway's): a sync already running is a 409 `sync_in_progress`.
//!
//! Errors are `{"code", "message"}` like the rest of the gateway, with the command's own
//! message: the caller is the operator.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use fathom_answer::AnswerEngine;
use fathom_core::WorkspaceId;
use fathom_gateway::error::{json_response, ApiError};
use fathom_gateway::json::StrictJson;
use fathom_gateway::routes::customer::bearer;
use fathom_ingest::sync::SyncError;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;

use super::client::ServerHello;
use crate::backends::Backends;
use crate::commands::ask::AskQuery;
use crate::commands::ingest::{self, IngestRequest};
use crate::commands::search::{self, SearchQuery};
use crate::commands::status;
use crate::settings::Settings;

/// What the CLI's commands need, in the server.
#[derive(Clone)]
pub struct LocalApi(Arc<Inner>);

struct Inner {
    backends: Arc<Backends>,
    engine: Arc<AnswerEngine>,
    settings: Settings,
    /// blake3 of the token: compared in constant time, never as a plain string.
    token: blake3::Hash,
}

impl LocalApi {
    pub fn new(
        backends: Arc<Backends>,
        engine: Arc<AnswerEngine>,
        settings: Settings,
        token: &str,
    ) -> Self {
        Self(Arc::new(Inner {
            backends,
            engine,
            settings,
            token: blake3::hash(token.as_bytes()),
        }))
    }

    pub fn router(self) -> Router {
        Router::new()
            .route("/v1/local/server", get(hello))
            .route("/v1/local/search", post(search))
            .route("/v1/local/ask", post(ask))
            .route("/v1/local/status", post(status))
            .route("/v1/local/ingest", post(ingest))
            .with_state(self)
    }

    fn authorize(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let token = bearer(headers).ok_or_else(|| {
            ApiError::unauthorized(
                "missing_authorization",
                "send the token of <data-dir>/server.token as Authorization: Bearer <token>",
            )
        })?;
        if blake3::hash(token.as_bytes()) != self.0.token {
            return Err(ApiError::unauthorized(
                "invalid_cli_token",
                "this is not the token of this server's run (it changes at every start: read <data-dir>/server.token again)",
            ));
        }
        Ok(())
    }
}

/// The command's own error, for the operator: its message whole.
fn failed(code: &'static str, error: &anyhow::Error) -> ApiError {
    tracing::warn!(code, error = %format!("{error:#}"), "local CLI command failed");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        code,
        format!("{error:#}"),
    )
}

fn invalid(error: &anyhow::Error) -> ApiError {
    ApiError::bad_request("invalid_request", format!("{error:#}"))
}

async fn hello(State(api): State<LocalApi>, headers: HeaderMap) -> Result<Response, ApiError> {
    api.authorize(&headers)?;
    Ok(json_response(
        StatusCode::OK,
        &ServerHello {
            pid: std::process::id(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            data_dir: api.0.settings.data_dir.display().to_string(),
        },
    ))
}

async fn search(
    State(api): State<LocalApi>,
    headers: HeaderMap,
    StrictJson(query): StrictJson<SearchQuery>,
) -> Result<Response, ApiError> {
    api.authorize(&headers)?;
    query.validate().map_err(|e| invalid(&e))?;
    let output = search::execute(&api.0.backends, query)
        .await
        .map_err(|e| failed("search_failed", &e))?;
    Ok(json_response(StatusCode::OK, &output))
}

async fn ask(
    State(api): State<LocalApi>,
    headers: HeaderMap,
    StrictJson(query): StrictJson<AskQuery>,
) -> Result<Response, ApiError> {
    api.authorize(&headers)?;
    let decision = api.0.engine.decide(&query.conversation()).await;
    Ok(json_response(StatusCode::OK, &decision))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusQuery {
    workspace: WorkspaceId,
}

async fn status(
    State(api): State<LocalApi>,
    headers: HeaderMap,
    StrictJson(query): StrictJson<StatusQuery>,
) -> Result<Response, ApiError> {
    api.authorize(&headers)?;
    let output = status::execute(&api.0.backends, &query.workspace)
        .await
        .map_err(|e| failed("status_failed", &e))?;
    Ok(json_response(StatusCode::OK, &output))
}

async fn ingest(
    State(api): State<LocalApi>,
    headers: HeaderMap,
    StrictJson(request): StrictJson<IngestRequest>,
) -> Result<Response, ApiError> {
    api.authorize(&headers)?;
    if !request.dir.is_dir() {
        return Err(ApiError::bad_request(
            "folder_not_found",
            format!(
                "{} is not a folder on the server's machine (the server reads the folder itself)",
                request.dir.display()
            ),
        ));
    }
    let report = ingest::execute(&api.0.backends, &request.workspace, &request.dir, &|_| {})
        .await
        .map_err(|e| {
            // Another run holding the workspace's lease, or an index that does not answer, is
            // said as the admin API says it (409, 503), not as a failure of this command.
            e.downcast_ref::<SyncError>()
                .and_then(ApiError::for_sync)
                .unwrap_or_else(|| failed("ingest_failed", &e))
        })?;
    tracing::info!(
        workspace = %request.workspace,
        folder = %request.dir.display(),
        added = report.added.len(),
        updated = report.updated.len(),
        deleted = report.deleted.len(),
        failed = report.failed.len(),
        "knowledge synced for the CLI"
    );
    Ok(json_response(StatusCode::OK, &report))
}
