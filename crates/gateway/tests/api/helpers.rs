//! `spawn_app()`: a real gateway on a loopback port (port 0), with the real answer engine in
//! extractive mode over a few small articles (BM25 only, so it is fast), a real SQLite store in a
//! temporary folder, and a real webhook receiver that checks signatures and deduplicates by id.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use fathom_answer::{AnswerConfig, AnswerEngine};
use fathom_conversations::{SqliteStore, Stores};
use fathom_core::{SparseEmbedder, VectorStore, WorkspaceId};
use fathom_embed::Bm25Embedder;
use fathom_gateway::signing::{SignedHeaders, WebhookSecret};
use fathom_gateway::{
    Application, ChatwootConfig, ClientAddresses, ConnectionLimits, Dependencies,
    DjangoHelpdeskConfig, GatewayConfig, Knowledge, OutboxConfig, RateLimits, Secret,
    WebhookEndpoint, WorkspaceConfig, ZendeskConfig,
};
use fathom_ingest::sync::{sync_folder, SyncBackends, SyncOptions};
use fathom_retrieve::{Retriever, RetrieverConfig};
use fathom_store::{EdgeStore, EdgeStoreConfig, FileSyncState};
use http::StatusCode;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use serde_json::{json, Value};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub const ARTICLES: &[(&str, &str)] = &[
    (
        "refunds.md",
        "---\nid: billing-refunds\ntitle: Refunds\nurl: https://help.example/refunds\n---\n\n# Refunds\n\n## Monthly plans\n\nMonthly plans are not refunded. You can cancel at any time and keep access until the end of the billing period.\n\n## Annual plans\n\nAnnual plans can be refunded on a prorated basis within 30 days of purchase or renewal. To request a refund:\n\n1. Open Settings › Billing.\n2. Click Request refund.\n3. Choose the invoice and confirm.\n",
    ),
    (
        "password.md",
        "---\nid: account-reset-password\ntitle: Reset your password\nurl: https://help.example/password\n---\n\n# Reset your password\n\nIf you forgot your password, click Forgot password on the sign-in page. We email you a reset link that is valid for 60 minutes.\n",
    ),
];

pub const ACME_ADMIN_KEY: &str = "acme-admin-key-0123456789";
pub const GLOBEX_ADMIN_KEY: &str = "globex-admin-key-0123456789";
pub const CHATWOOT_ACCOUNT: u64 = 1;
pub const CHATWOOT_TOKEN: &str = "chatwoot-bot-access-token";
pub const CHATWOOT_SECRET: &str = "chatwoot-webhook-secret";
/// globex's Chatwoot: another installation, whose first account has the same id as acme's.
pub const GLOBEX_CHATWOOT_SECRET: &str = "globex-chatwoot-webhook-secret";
/// The inbox acme's Chatwoot bot answers.
pub const CHATWOOT_INBOX: u64 = 3;
/// globex's inbox in acme's Chatwoot account (with `globex_shares_acmes_chatwoot_bot`).
pub const GLOBEX_CHATWOOT_INBOX: u64 = 4;
/// For Chatwoot before 4.13 (no signature): the token in the bot's outgoing URL.
pub const CHATWOOT_URL_TOKEN: &str = "cw-url-token-6f1d9a3c2b7e4f8a9d0c1b2e3f4a5b6c";
pub const ZENDESK_EMAIL: &str = "fathom@acme.example";
pub const ZENDESK_API_TOKEN: &str = "zendesk-api-token-0123456789";
pub const ZENDESK_SECRET: &str = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ==";
pub const DJANGO_HELPDESK_QUEUE: u64 = 2;
pub const DJANGO_HELPDESK_PASSWORD: &str = "fathom-api-password";
pub const DJANGO_HELPDESK_TOKEN: &str = "django-helpdesk-webhook-token-0123";

/// The knowledge the engine answers from, shared by every app of one test.
pub struct Fixture {
    pub engine: Arc<AnswerEngine>,
    /// What the engine retrieves with, for engines of a test's own (e.g. with a model).
    pub retriever: Retriever,
    pub sync: SyncBackends,
    pub articles_dir: PathBuf,
}

pub async fn knowledge(dir: &TempDir) -> Fixture {
    let source = dir.path().join("articles");
    std::fs::create_dir_all(&source).unwrap();
    for (name, text) in ARTICLES {
        std::fs::write(source.join(name), text).unwrap();
    }
    let store: Arc<dyn VectorStore> =
        Arc::new(EdgeStore::open(&dir.path().join("qdrant"), EdgeStoreConfig::default()).unwrap());
    let sparse: Arc<dyn SparseEmbedder> = Arc::new(Bm25Embedder::default());
    let sync = SyncBackends {
        store: store.clone(),
        state: Arc::new(FileSyncState::new(dir.path().join("workspaces"))),
        dense: None,
        sparse: sparse.clone(),
    };
    for workspace in ["acme", "globex"] {
        let options = SyncOptions::new(WorkspaceId::parse(workspace).unwrap());
        let report = sync_folder(&source, &sync, &options, &|_| {})
            .await
            .unwrap();
        assert!(report.failed.is_empty(), "{report:?}");
    }
    let retriever = Retriever::new(store, None, sparse, RetrieverConfig::default());
    Fixture {
        engine: Arc::new(AnswerEngine::new(
            retriever.clone(),
            AnswerConfig::default(),
            None,
        )),
        retriever,
        sync,
        articles_dir: source,
    }
}

/// What a test may change about the gateway.
pub struct Options {
    pub webhook_url: Option<String>,
    /// Base URL of a (fake) Chatwoot for acme's Agent Bot.
    pub chatwoot_url: Option<String>,
    /// Chatwoot before 4.13: no signing secret, the URL token instead.
    pub chatwoot_unsigned: bool,
    /// Base URL of a (fake) Chatwoot for globex: by default another installation, whose first
    /// account has the same id as acme's, with its own bot secret.
    pub globex_chatwoot_url: Option<String>,
    /// Instead, globex answers another inbox of acme's Chatwoot account with the same bot.
    pub globex_shares_acmes_chatwoot_bot: bool,
    /// django-helpdesk's base URL (`…/helpdesk`): the workspace hands off to it.
    pub django_helpdesk_url: Option<String>,
    /// The Zendesk contract stub's URL: the workspace hands off to it.
    pub zendesk_url: Option<String>,
    /// Another answer engine (e.g. with a slow model) instead of the extractive one.
    pub engine: Option<Arc<AnswerEngine>>,
    pub customer_per_minute: u32,
    pub workspace_per_second: u32,
    /// Per client address; generous unless a test is about them.
    pub client_per_second: u32,
    pub client_burst: u32,
    pub client_conversations_per_minute: u32,
    pub connections: ConnectionLimits,
    pub clients: ClientAddresses,
    pub outbox: OutboxConfig,
    pub max_body_bytes: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            webhook_url: None,
            chatwoot_url: None,
            chatwoot_unsigned: false,
            globex_chatwoot_url: None,
            globex_shares_acmes_chatwoot_bot: false,
            django_helpdesk_url: None,
            zendesk_url: None,
            engine: None,
            customer_per_minute: 1000,
            workspace_per_second: 10_000,
            client_per_second: 10_000,
            client_burst: 10_000,
            client_conversations_per_minute: 10_000,
            connections: ConnectionLimits::default(),
            clients: ClientAddresses::default(),
            outbox: fast_outbox(),
            max_body_bytes: 64 * 1024,
        }
    }
}

pub fn fast_outbox() -> OutboxConfig {
    OutboxConfig {
        initial_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(400),
        give_up_after: Duration::from_secs(3600),
        request_timeout: Duration::from_secs(2),
        lease: Duration::from_secs(2),
        poll_interval: Duration::from_millis(50),
        concurrency: 4,
        ..OutboxConfig::default()
    }
}

pub struct TestApp {
    pub address: SocketAddr,
    pub client: reqwest::Client,
    pub stores: Stores,
    pub outbound_secret: WebhookSecret,
    pub inbound_secret: WebhookSecret,
    /// globex signs its inbound events with its own secret.
    pub globex_inbound_secret: WebhookSecret,
    pub server: JoinHandle<()>,
    /// Where the SQLite file lives; kept for restarts.
    pub database: PathBuf,
    pub knowledge: Arc<Fixture>,
    pub dir: Arc<TempDir>,
}

pub struct Created {
    pub id: String,
    pub token: String,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }

    pub async fn create_conversation(&self, workspace: &str) -> Created {
        let response = self
            .client
            .post(self.url("/v1/conversations"))
            .json(&json!({"workspace": workspace, "customer": {"name": "Ada Lovelace", "plan": "annual"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        let body: Value = response.json().await.unwrap();
        Created {
            id: body["conversation_id"].as_str().unwrap().to_string(),
            token: body["customer_token"].as_str().unwrap().to_string(),
        }
    }

    pub async fn send(&self, conversation: &Created, text: &str) -> reqwest::Response {
        self.client
            .post(self.url(&format!("/v1/conversations/{}/messages", conversation.id)))
            .bearer_auth(&conversation.token)
            .json(&json!({ "text": text }))
            .send()
            .await
            .unwrap()
    }

    pub async fn transcript(&self, conversation: &Created) -> Value {
        let response = self
            .client
            .get(self.url(&format!("/v1/conversations/{}", conversation.id)))
            .bearer_auth(&conversation.token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    /// Send a message and read the outcome, whatever the status.
    pub async fn send_json(&self, conversation: &Created, text: &str) -> Value {
        self.send(conversation, text).await.json().await.unwrap()
    }

    pub async fn admin_json(&self, path: &str, key: &str) -> Value {
        self.admin_get(path, key).await.json().await.unwrap()
    }

    pub async fn admin_get(&self, path: &str, key: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
    }

    /// Send a helpdesk event signed with the inbound secret, at `timestamp` (seconds).
    pub async fn inbound(
        &self,
        webhook_id: &str,
        timestamp: i64,
        body: &Value,
    ) -> reqwest::Response {
        self.inbound_signed_with(&self.inbound_secret, webhook_id, timestamp, body)
            .await
    }

    /// Send a helpdesk event signed with `secret` (another workspace's, say).
    pub async fn inbound_signed_with(
        &self,
        secret: &WebhookSecret,
        webhook_id: &str,
        timestamp: i64,
        body: &Value,
    ) -> reqwest::Response {
        let body = body.to_string();
        let signature = secret.sign(webhook_id, timestamp, body.as_bytes());
        self.inbound_raw(webhook_id, timestamp, &signature, body)
            .await
    }

    pub async fn inbound_raw(
        &self,
        webhook_id: &str,
        timestamp: i64,
        signature: &str,
        body: String,
    ) -> reqwest::Response {
        self.client
            .post(self.url("/v1/helpdesk/standard/events"))
            .header("content-type", "application/json")
            .header("webhook-id", webhook_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// Wait until `check` holds for the workspace's outbox (as the admin API shows it).
    pub async fn wait_for_outbox(
        &self,
        what: &str,
        check: impl Fn(&[Value]) -> bool,
    ) -> Vec<Value> {
        let mut last = vec![];
        for _ in 0..200 {
            let response = self.admin_get("/v1/admin/outbox", ACME_ADMIN_KEY).await;
            let body: Value = response.json().await.unwrap();
            last = body["events"].as_array().cloned().unwrap_or_default();
            if check(&last) {
                return last;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("timed out waiting for {what}; outbox: {last:#?}");
    }
}

pub fn now_secs() -> i64 {
    fathom_conversations::now_ms() / 1000
}

pub async fn spawn_app(options: Options) -> TestApp {
    let dir = Arc::new(TempDir::new().unwrap());
    let knowledge = Arc::new(knowledge(&dir).await);
    let database = dir.path().join("conversations.sqlite");
    start(options, knowledge, dir, database).await
}

/// Start a gateway on an existing knowledge fixture and database (for restarts).
/// The secret the tests' gateways sign outbound webhooks with.
pub fn outbound_secret() -> WebhookSecret {
    WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap()
}

pub async fn start(
    options: Options,
    knowledge: Arc<Fixture>,
    dir: Arc<TempDir>,
    database: PathBuf,
) -> TestApp {
    let outbound_secret = outbound_secret();
    let inbound_secret = WebhookSecret::parse("whsec_aW5ib3VuZC1zZWNyZXQtZm9yLXRlc3Rz").unwrap();
    let mut acme = WorkspaceConfig::new(ACME_ADMIN_KEY);
    acme.inbound_secret = Some(inbound_secret.clone());
    acme.allowed_origins = vec!["https://acme.example".into()];
    acme.knowledge_dir = Some(knowledge.articles_dir.clone());
    acme.webhook = options.webhook_url.map(|url| WebhookEndpoint {
        url,
        secrets: vec![outbound_secret.clone()],
    });
    acme.chatwoot = options.chatwoot_url.map(|base_url| ChatwootConfig {
        base_url,
        account_id: CHATWOOT_ACCOUNT,
        inbox_ids: vec![CHATWOOT_INBOX],
        api_access_token: Secret::new(CHATWOOT_TOKEN),
        webhook_secret: (!options.chatwoot_unsigned).then(|| Secret::new(CHATWOOT_SECRET)),
        webhook_token: options
            .chatwoot_unsigned
            .then(|| Secret::new(CHATWOOT_URL_TOKEN)),
    });
    acme.zendesk = options.zendesk_url.map(|base_url| ZendeskConfig {
        base_url,
        email: ZENDESK_EMAIL.into(),
        api_token: Secret::new(ZENDESK_API_TOKEN),
        webhook_secret: Secret::new(ZENDESK_SECRET),
        group_id: Some(360_123),
        tags: vec!["fathom".into()],
    });
    acme.django_helpdesk = options
        .django_helpdesk_url
        .map(|base_url| DjangoHelpdeskConfig {
            base_url,
            queue_id: DJANGO_HELPDESK_QUEUE,
            api_token: None,
            username: Some("fathom".into()),
            password: Some(Secret::new(DJANGO_HELPDESK_PASSWORD)),
            webhook_token: Secret::new(DJANGO_HELPDESK_TOKEN),
            priority: 3,
        });
    let globex_inbound_secret =
        WebhookSecret::parse("whsec_Z2xvYmV4LWluYm91bmQtc2VjcmV0LWZvci10ZXN0cw==").unwrap();
    let mut globex = WorkspaceConfig::new(GLOBEX_ADMIN_KEY);
    globex.inbound_secret = Some(globex_inbound_secret.clone());
    let shares_bot = options.globex_shares_acmes_chatwoot_bot;
    globex.chatwoot = options.globex_chatwoot_url.map(|base_url| ChatwootConfig {
        base_url,
        account_id: CHATWOOT_ACCOUNT,
        // The same account and bot as acme's, another inbox; or another installation.
        inbox_ids: if shares_bot {
            vec![GLOBEX_CHATWOOT_INBOX]
        } else {
            vec![]
        },
        api_access_token: Secret::new("globex-chatwoot-bot-token"),
        webhook_secret: Some(Secret::new(if shares_bot {
            CHATWOOT_SECRET
        } else {
            GLOBEX_CHATWOOT_SECRET
        })),
        webhook_token: None,
    });
    let config = GatewayConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        max_body_bytes: options.max_body_bytes,
        rate_limits: RateLimits {
            customer_per_minute: options.customer_per_minute,
            workspace_per_second: options.workspace_per_second,
            client_per_second: options.client_per_second,
            client_burst: options.client_burst,
            client_conversations_per_minute: options.client_conversations_per_minute,
        },
        connections: options.connections,
        clients: options.clients,
        customer_attributes: Default::default(),
        outbox: options.outbox,
        shutdown_grace: Duration::from_secs(2),
        workspaces: BTreeMap::from([
            (WorkspaceId::parse("acme").unwrap(), acme),
            (WorkspaceId::parse("globex").unwrap(), globex),
        ]),
    };
    let stores = Stores::new(SqliteStore::open(&database).unwrap());
    let application = Application::build(
        config,
        Dependencies {
            engine: options
                .engine
                .unwrap_or_else(|| Arc::clone(&knowledge.engine)),
            stores: stores.clone(),
            knowledge: Some(Knowledge {
                backends: knowledge.sync.clone(),
                data_dir: dir.path().to_path_buf(),
            }),
        },
    )
    .await
    .unwrap();
    let address = application.address();
    let dir_for_server = Arc::clone(&dir);
    let server = tokio::spawn(async move {
        // Declared first, dropped last: the vector store flushes into this folder when the
        // gateway is dropped, even at runtime shutdown.
        let _dir = dir_for_server;
        application
            .run_until_stopped(std::future::pending())
            .await
            .unwrap();
    });
    TestApp {
        address,
        client: reqwest::Client::new(),
        stores,
        outbound_secret,
        inbound_secret,
        globex_inbound_secret,
        server,
        database,
        knowledge,
        dir,
    }
}

/// Parse an SSE body into (event, data) pairs.
pub fn sse_events(body: &str) -> Vec<(String, String)> {
    body.split("\n\n")
        .filter_map(|block| {
            let mut event = String::from("message");
            let mut data = Vec::new();
            for line in block.lines() {
                if let Some(name) = line.strip_prefix("event:") {
                    event = name.trim().to_string();
                } else if let Some(value) = line.strip_prefix("data:") {
                    data.push(value.strip_prefix(' ').unwrap_or(value).to_string());
                }
            }
            (!data.is_empty()).then(|| (event, data.join("\n")))
        })
        .collect()
}

/// How the receiver answers, in order; when the script runs out it answers 200.
#[derive(Debug, Clone)]
pub enum Reply {
    Status(u16),
    RetryAfter(u16, u64),
}

#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: String,
    pub timestamp: i64,
    pub body: Value,
    pub signature_valid: bool,
    pub answered: u16,
}

#[derive(Default)]
pub struct ReceiverState {
    pub script: VecDeque<Reply>,
    /// Every request, in order of arrival.
    pub deliveries: Vec<Delivery>,
    /// Ids processed (answered 2xx), once each: the receiver deduplicates.
    pub processed: Vec<String>,
    pub duplicates: usize,
}

/// A helpdesk stand-in that verifies Standard Webhooks signatures and deduplicates by id.
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    pub state: Arc<Mutex<ReceiverState>>,
    secret: WebhookSecret,
}

impl Receiver {
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.state.lock().unwrap().deliveries.clone()
    }

    pub fn processed(&self) -> Vec<String> {
        self.state.lock().unwrap().processed.clone()
    }

    pub async fn wait_for_processed(&self, count: usize) -> Vec<Delivery> {
        for _ in 0..200 {
            if self.processed().len() >= count {
                return self
                    .deliveries()
                    .into_iter()
                    .filter(|d| (200..300).contains(&d.answered))
                    .collect();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "timed out waiting for {count} processed webhooks; got {:#?}",
            self.deliveries()
        );
    }
}

async fn receive(
    State(receiver): State<Receiver>,
    headers: http::HeaderMap,
    body: Bytes,
) -> Response {
    let signed = SignedHeaders::from_headers(&headers);
    let (id, timestamp, signature_valid) = match signed {
        Ok(signed) => (
            signed.id.to_string(),
            signed.timestamp.parse().unwrap_or(0),
            signed
                .verify(&[&receiver.secret], &body, now_secs())
                .is_ok(),
        ),
        Err(_) => (String::new(), 0, false),
    };
    let mut state = receiver.state.lock().unwrap();
    let reply = state.script.pop_front();
    let (status, retry_after) = match reply {
        _ if !signature_valid => (401, None),
        Some(Reply::Status(status)) => (status, None),
        Some(Reply::RetryAfter(status, seconds)) => (status, Some(seconds)),
        None => (200, None),
    };
    if (200..300).contains(&status) {
        if state.processed.contains(&id) {
            state.duplicates += 1;
        } else {
            state.processed.push(id.clone());
        }
    }
    state.deliveries.push(Delivery {
        id,
        timestamp,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        signature_valid,
        answered: status,
    });
    let mut response = StatusCode::from_u16(status).unwrap().into_response();
    if let Some(seconds) = retry_after {
        response
            .headers_mut()
            .insert("retry-after", seconds.to_string().parse().unwrap());
    }
    response
}

/// A receiver listening on a fresh loopback port.
pub async fn spawn_receiver(secret: &WebhookSecret, script: Vec<Reply>) -> Receiver {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    spawn_receiver_on(listener, secret, script).await
}

pub async fn spawn_receiver_on(
    listener: TcpListener,
    secret: &WebhookSecret,
    script: Vec<Reply>,
) -> Receiver {
    let url = format!("http://{}/hooks", listener.local_addr().unwrap());
    let receiver = Receiver {
        url,
        state: Arc::new(Mutex::new(ReceiverState {
            script: script.into(),
            ..Default::default()
        })),
        secret: secret.clone(),
    };
    let router = Router::new()
        .route("/hooks", post(receive))
        .with_state(receiver.clone());
    serve(listener, router);
    receiver
}

/// Serve `router` on `listener` in the background.
pub fn serve(listener: TcpListener, router: Router) {
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let service = TowerToHyperService::new(router.clone());
            tokio::spawn(async move {
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
}

/// A request the fake Chatwoot received.
#[derive(Debug, Clone)]
pub struct ChatwootCall {
    pub path: String,
    pub token: Option<String>,
    pub body: Value,
}

/// A stand-in for Chatwoot's API: records every call and answers 200.
#[derive(Clone, Default)]
pub struct FakeChatwoot {
    pub url: String,
    pub calls: Arc<Mutex<Vec<ChatwootCall>>>,
}

impl FakeChatwoot {
    pub fn calls(&self) -> Vec<ChatwootCall> {
        self.calls.lock().unwrap().clone()
    }

    pub async fn wait_for_calls(&self, count: usize) -> Vec<ChatwootCall> {
        self.wait_for_calls_within(count, Duration::from_secs(10))
            .await
    }

    pub async fn wait_for_calls_within(&self, count: usize, limit: Duration) -> Vec<ChatwootCall> {
        let started = std::time::Instant::now();
        while started.elapsed() < limit {
            let calls = self.calls();
            if calls.len() >= count {
                return calls;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "timed out waiting for {count} Chatwoot calls; got {:#?}",
            self.calls()
        );
    }
}

async fn chatwoot_api(
    State(fake): State<FakeChatwoot>,
    uri: http::Uri,
    headers: http::HeaderMap,
    body: Bytes,
) -> Response {
    fake.calls.lock().unwrap().push(ChatwootCall {
        path: uri.path().to_string(),
        token: headers
            .get("api_access_token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    });
    (StatusCode::OK, "{}").into_response()
}

pub async fn spawn_fake_chatwoot() -> FakeChatwoot {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let fake = FakeChatwoot {
        url: format!("http://{}", listener.local_addr().unwrap()),
        calls: Arc::default(),
    };
    let router = Router::new()
        .route(
            "/api/v1/accounts/{account}/conversations/{conversation}/{action}",
            post(chatwoot_api),
        )
        .with_state(fake.clone());
    serve(listener, router);
    fake
}

/// A loopback address nothing listens on (yet).
pub async fn unused_address() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}
