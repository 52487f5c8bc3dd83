//! The Qdrant server backend, through `qdrant-client` (gRPC). Works with a single server, a
//! cluster or Qdrant Cloud.
//!
//! - [`QdrantStore`]: one collection for every workspace, `workspace` a tenant payload index
//!   (Qdrant's multitenancy guidance), hybrid queries fused in the server by the Query API.
//! - [`QdrantSyncState`]: the sync state and the ingest lease, in a companion collection
//!   (`<collection>_sync`) on the same server, so every machine writing the index sees them.
//!
//! Every call has a timeout and is retried with exponential backoff while the error is
//! transient (unavailable, timed out, overloaded); the rest fail at once with the server's
//! message.

mod state;
mod store;

use std::future::Future;
use std::time::Duration;

use qdrant_client::{Qdrant, QdrantError};

pub use state::QdrantSyncState;
pub use store::QdrantStore;

/// How to reach the server and name the collection.
#[derive(Clone)]
pub struct QdrantConfig {
    /// gRPC endpoint, e.g. `http://localhost:6334` (6334 is gRPC; 6333 is REST).
    pub url: String,
    /// API key or JWT for the server (never logged).
    pub api_key: Option<String>,
    /// Collection holding every workspace's chunks (created when missing).
    pub collection: String,
    /// Bound on each call (connect, request, response).
    pub timeout: Duration,
    /// Retries of a call that failed with a transient error.
    pub retries: u32,
    /// Points per upsert request.
    pub upsert_batch: usize,
}

impl std::fmt::Debug for QdrantConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QdrantConfig")
            .field("url", &self.url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<set>"))
            .field("collection", &self.collection)
            .field("timeout", &self.timeout)
            .field("retries", &self.retries)
            .field("upsert_batch", &self.upsert_batch)
            .finish()
    }
}

impl QdrantConfig {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            api_key: None,
            collection: "fathom".into(),
            timeout: Duration::from_secs(10),
            retries: 4,
            upsert_batch: 256,
        }
    }

    /// The companion collection holding sync state and leases.
    pub fn sync_collection(&self) -> String {
        format!("{}_sync", self.collection)
    }
}

/// A client with the retry policy. Cheap to clone (the client shares its channel pool).
#[derive(Clone)]
struct Connection {
    client: Qdrant,
    endpoint: String,
    timeout: Duration,
    retries: u32,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

/// Why a call failed, after retries.
#[derive(Debug)]
struct CallError {
    /// Transient errors that did not clear: the server is unreachable or overloaded.
    unavailable: bool,
    reason: String,
}

impl Connection {
    fn open(config: &QdrantConfig) -> Result<Self, CallError> {
        let client = Qdrant::from_url(&config.url)
            .api_key(config.api_key.clone())
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .skip_compatibility_check()
            .build()
            .map_err(|e| CallError {
                unavailable: false,
                reason: e.to_string(),
            })?;
        Ok(Self {
            client,
            endpoint: config.url.clone(),
            timeout: config.timeout,
            retries: config.retries,
        })
    }

    /// Server-side timeout for a request, in whole seconds (at least 1).
    fn timeout_secs(&self) -> u64 {
        self.timeout.as_secs().max(1)
    }

    /// [`Self::call`] with its own copy of `request` for every attempt.
    async fn send<R, T, F, Fut>(&self, request: R, call: F) -> Result<T, CallError>
    where
        R: Clone,
        F: Fn(Qdrant, R) -> Fut,
        Fut: Future<Output = Result<T, QdrantError>>,
    {
        self.call(|client| call(client, request.clone())).await
    }

    /// Whether the server has the collection `name`.
    async fn collection_exists(&self, name: &str) -> Result<bool, CallError> {
        self.send(name.to_string(), |client, name| async move {
            client.collection_exists(name).await
        })
        .await
    }

    /// Run `call` with a timeout, retrying transient failures with exponential backoff
    /// (100 ms, 200 ms, 400 ms … capped at 5 s, or what the server asks for).
    async fn call<T, F, Fut>(&self, call: F) -> Result<T, CallError>
    where
        F: Fn(Qdrant) -> Fut,
        Fut: Future<Output = Result<T, QdrantError>>,
    {
        let mut attempt = 0u32;
        loop {
            // A little over the client's own timeout: that one normally fires first.
            let outcome = tokio::time::timeout(
                self.timeout + Duration::from_secs(1),
                call(self.client.clone()),
            )
            .await;
            let (reason, retry_after) = match outcome {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(error)) => match transient(&error) {
                    Some(retry_after) => (error.to_string(), retry_after),
                    None => {
                        return Err(CallError {
                            unavailable: false,
                            reason: error.to_string(),
                        })
                    }
                },
                Err(_) => (format!("no answer within {:?}", self.timeout), None),
            };
            if attempt >= self.retries {
                return Err(CallError {
                    unavailable: true,
                    reason: format!("{reason} (after {} attempts)", attempt + 1),
                });
            }
            let backoff = retry_after.unwrap_or_else(|| {
                Duration::from_millis(100u64.saturating_mul(1 << attempt.min(6)))
                    .min(Duration::from_secs(5))
            });
            tracing::debug!(attempt, ?backoff, %reason, "qdrant call failed; retrying");
            tokio::time::sleep(backoff).await;
            attempt += 1;
        }
    }
}

/// gRPC status codes that may clear by themselves: cancelled (1), unknown (2, what a broken
/// connection reports), deadline exceeded (4), resource exhausted (8), aborted (10) and
/// unavailable (14).
const TRANSIENT_CODES: [i32; 6] = [1, 2, 4, 8, 10, 14];
/// gRPC status `internal`.
const INTERNAL: i32 = 13;
/// How qdrant-client's channel pool words a connection it could not open.
const CONNECT_FAILED: &str = "Failed to connect to";

/// One method per request kind, each a [`Connection::send`] of that request:
/// `connection.get_points(request)` rather than a closure at every call site.
macro_rules! requests {
    ($($method:ident($request:ident) -> $response:ident;)*) => {
        impl Connection {
            $(
                async fn $method(
                    &self,
                    request: qdrant_client::qdrant::$request,
                ) -> Result<qdrant_client::qdrant::$response, CallError> {
                    self.send(request, |client, request| async move {
                        client.$method(request).await
                    })
                    .await
                }
            )*
        }
    };
}

requests! {
    count(CountPoints) -> CountResponse;
    create_collection(CreateCollection) -> CollectionOperationResponse;
    create_field_index(CreateFieldIndexCollection) -> PointsOperationResponse;
    delete_points(DeletePoints) -> PointsOperationResponse;
    get_points(GetPoints) -> GetResponse;
    query(QueryPoints) -> QueryResponse;
    scroll(ScrollPoints) -> ScrollResponse;
    set_payload(SetPayloadPoints) -> PointsOperationResponse;
    upsert_points(UpsertPoints) -> PointsOperationResponse;
}

/// `Some(wait hint)` when the error may clear by itself.
fn transient(error: &QdrantError) -> Option<Option<Duration>> {
    match error {
        QdrantError::ResourceExhaustedError {
            retry_after_seconds,
            ..
        } => Some(Some(Duration::from_secs(
            (*retry_after_seconds).clamp(1, 30),
        ))),
        // qdrant-client reports a connection it could not open as `internal` ("Failed to
        // connect to …", its channel pool), not as `unavailable`.
        QdrantError::ResponseError { status }
            if status.code() as i32 == INTERNAL && status.message().starts_with(CONNECT_FAILED) =>
        {
            Some(None)
        }
        QdrantError::ResponseError { status } => TRANSIENT_CODES
            .contains(&(status.code() as i32))
            .then_some(None),
        QdrantError::Io(_) => Some(None),
        _ => None,
    }
}
