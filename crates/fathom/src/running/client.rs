//! The CLI's side: find the running server (its record in the data dir, or `--server`), check
//! that it answers and accepts the token, and call its `/v1/local/` API.

use std::time::Duration;

use anyhow::Context;
use fathom_core::{Decision, WorkspaceId};
use fathom_gateway::error::ErrorBody;
use fathom_ingest::sync::SyncReport;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::record::ServerRecord;
use crate::commands::ask::AskQuery;
use crate::commands::ingest::IngestRequest;
use crate::commands::search::{SearchOutput, SearchQuery};
use crate::commands::status::StatusOutput;
use crate::settings::Settings;

/// Connecting to a server on this machine is immediate; longer means nobody is there.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// A search, an answer (an LLM call included) or a status: well within this.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);

/// What `GET /v1/local/server` says: who answered.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServerHello {
    pub pid: u32,
    pub version: String,
    pub data_dir: String,
}

#[derive(Debug, Clone)]
pub struct ServerClient {
    http: reqwest::Client,
    url: String,
    token: String,
    /// "pid 1234, http://127.0.0.1:8080": how messages name the server.
    described: String,
}

/// The running server to go through, if there is one: the one `--server` names (which must
/// answer), else the one recorded in the data dir if it answers. `None`: open the index here.
pub async fn connect(settings: &Settings) -> anyhow::Result<Option<ServerClient>> {
    if let Some(url) = &settings.server {
        let token = match &settings.server_token {
            Some(token) => token.clone(),
            None => ServerRecord::read_token(&settings.data_dir)?,
        };
        let mut client = ServerClient::new(url, &token)?;
        let hello = client
            .hello()
            .await
            .map_err(anyhow::Error::from)
            .with_context(|| {
                format!("reaching the fathom server at {url} (--server / FATHOM_SERVER)")
            })?;
        client.described = format!(
            "pid {}, {}, data dir {}",
            hello.pid, client.url, hello.data_dir
        );
        check_version(&hello, &client.described);
        client.announce();
        return Ok(Some(client));
    }
    let Some(record) = ServerRecord::read(&settings.data_dir) else {
        return Ok(None);
    };
    let token = match &settings.server_token {
        Some(token) => token.clone(),
        None => ServerRecord::read_token(&settings.data_dir).with_context(|| {
            format!(
                "`fathom serve` ({}) holds {}",
                record.describe(),
                settings.data_dir.display()
            )
        })?,
    };
    let mut client = ServerClient::new(&record.url, &token)?;
    client.described = record.describe();
    match client.hello().await {
        Ok(hello) => {
            check_version(&hello, &client.described);
            client.announce();
            Ok(Some(client))
        }
        Err(ConnectError::Unreachable(error)) => {
            // A server killed without cleaning up: its lock went with it, so the index opens
            // here. If it is alive but unreachable from here, opening fails and says so.
            if record.process_exists() == Some(false) {
                tracing::debug!(%error, record = %record.describe(), "stale server record");
            } else {
                tracing::warn!(
                    "`fathom serve` ({}) is recorded in {} but did not answer ({error}); opening the index directly",
                    record.describe(),
                    ServerRecord::path(&settings.data_dir).display()
                );
            }
            Ok(None)
        }
        Err(ConnectError::Refused(error)) => Err(error.context(format!(
            "`fathom serve` ({}) holds {}",
            record.describe(),
            settings.data_dir.display()
        ))),
    }
}

enum ConnectError {
    /// Nobody answered at the URL.
    Unreachable(reqwest::Error),
    /// Something answered, but not as a fathom server accepting this token.
    Refused(anyhow::Error),
}

impl From<ConnectError> for anyhow::Error {
    fn from(error: ConnectError) -> Self {
        match error {
            ConnectError::Unreachable(error) => anyhow::Error::new(error),
            ConnectError::Refused(error) => error,
        }
    }
}

/// Warns when the server runs another version: the two may not agree on every field.
fn check_version(hello: &ServerHello, described: &str) {
    let ours = env!("CARGO_PKG_VERSION");
    if hello.version != ours {
        tracing::warn!(
            "the running fathom serve ({described}) is version {}, this CLI {ours}",
            hello.version
        );
    }
}

impl ServerClient {
    fn new(url: &str, token: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .no_proxy()
            .build()
            .context("building the HTTP client")?;
        let url = url.trim_end_matches('/').to_string();
        Ok(Self {
            http,
            described: url.clone(),
            url,
            token: token.to_string(),
        })
    }

    /// One line on stderr saying which server answers (its settings apply, not this command's).
    fn announce(&self) {
        eprintln!("(through the running fathom serve: {})", self.described);
    }

    async fn hello(&self) -> Result<ServerHello, ConnectError> {
        let response = self
            .http
            .get(format!("{}/v1/local/server", self.url))
            .bearer_auth(&self.token)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| {
                if e.is_connect() || e.is_timeout() {
                    ConnectError::Unreachable(e)
                } else {
                    ConnectError::Refused(e.into())
                }
            })?;
        self.read(response).await.map_err(ConnectError::Refused)
    }

    pub async fn search(&self, query: &SearchQuery) -> anyhow::Result<SearchOutput> {
        self.post("/v1/local/search", query, Some(REQUEST_TIMEOUT))
            .await
    }

    pub async fn ask(&self, query: &AskQuery) -> anyhow::Result<Decision> {
        self.post("/v1/local/ask", query, Some(REQUEST_TIMEOUT))
            .await
    }

    pub async fn status(&self, workspace: &WorkspaceId) -> anyhow::Result<StatusOutput> {
        self.post(
            "/v1/local/status",
            &serde_json::json!({ "workspace": workspace }),
            Some(REQUEST_TIMEOUT),
        )
        .await
    }

    /// A sync takes as long as the embedding takes: no deadline.
    pub async fn ingest(&self, request: &IngestRequest) -> anyhow::Result<SyncReport> {
        self.post("/v1/local/ingest", request, None).await
    }

    async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
        timeout: Option<Duration>,
    ) -> anyhow::Result<T> {
        let mut request = self
            .http
            .post(format!("{}{path}", self.url))
            .bearer_auth(&self.token)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(serde_json::to_vec(body)?);
        if let Some(timeout) = timeout {
            request = request.timeout(timeout);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("calling the fathom server ({})", self.described))?;
        self.read(response).await
    }

    /// The body as `T`, or the server's error (`code` and message) as the error.
    async fn read<T: DeserializeOwned>(&self, response: reqwest::Response) -> anyhow::Result<T> {
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .with_context(|| format!("reading the fathom server's reply ({})", self.described))?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).with_context(|| {
                format!(
                    "the fathom server ({}) sent a reply this CLI cannot read (another version?)",
                    self.described
                )
            });
        }
        match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(error) if status == reqwest::StatusCode::NOT_FOUND && error.code == "not_found" => {
                anyhow::bail!(
                    "the server at {} has no CLI API (an older fathom, or not fathom)",
                    self.url
                )
            }
            Ok(error) => anyhow::bail!(
                "{} ({}; from the fathom server, {})",
                error.message,
                error.code,
                self.described
            ),
            Err(_) => anyhow::bail!(
                "the server at {} answered {status} (is it a fathom server?)",
                self.url
            ),
        }
    }
}
