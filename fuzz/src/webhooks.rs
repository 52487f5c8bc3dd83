//! A gateway router with one workspace wired to three of the helpdesk adapters (not Zendesk), an in-memory
//! SQLite store holding one conversation linked to a Chatwoot conversation and a django-helpdesk
//! ticket, and an answer engine over an empty knowledge base (so a Chatwoot message runs the
//! whole decision path, cheaply). Bodies are signed as each adapter requires.

use std::sync::{Arc, LazyLock};

use async_trait::async_trait;
use axum::body::Body;
use fathom_answer::{AnswerConfig, AnswerEngine};
use fathom_conversations::{ConversationStore, HelpdeskLinks, SqliteStore, Stores, TokenHash};
use fathom_core::{
    ArticleId, ChunkId, CustomerAttributes, HybridQuery, IndexedChunk, PointPage, SearchHit,
    SparseEmbedder, SparseVector, StoreError, VectorStore, WorkspaceId,
};
use fathom_gateway::{
    AppState, ChatwootConfig, Dependencies, DjangoHelpdeskConfig, GatewayConfig, Secret,
    WebhookSecret, WorkspaceConfig,
};
use fathom_retrieve::{Retriever, RetrieverConfig};
use tower::ServiceExt;

const CHATWOOT_SECRET: &str = "chatwoot-webhook-secret";
const DJANGO_TOKEN: &str = "django-helpdesk-webhook-token-0123";
const INBOUND_SECRET: &str = "whsec_aW5ib3VuZC1zZWNyZXQtZm9yLXRlc3Rz";
/// Seeds write this where a conversation id goes; the harness puts the real id in.
const CONVERSATION_MARKER: &[u8] = b"@CONVERSATION@";

/// A knowledge base with nothing in it.
#[derive(Debug)]
struct NoKnowledge;

#[async_trait]
impl VectorStore for NoKnowledge {
    async fn upsert(&self, _: Vec<IndexedChunk>) -> Result<(), StoreError> {
        Ok(())
    }
    async fn delete_articles(&self, _: &WorkspaceId, _: &[ArticleId]) -> Result<(), StoreError> {
        Ok(())
    }
    async fn article_ids(&self, _: &WorkspaceId) -> Result<Vec<ArticleId>, StoreError> {
        Ok(vec![])
    }
    async fn count(&self, _: &WorkspaceId) -> Result<usize, StoreError> {
        Ok(0)
    }
    async fn query(&self, _: HybridQuery) -> Result<Vec<SearchHit>, StoreError> {
        Ok(vec![])
    }
    async fn scroll(
        &self,
        _: &WorkspaceId,
        _: Option<ChunkId>,
        _: usize,
    ) -> Result<PointPage, StoreError> {
        Ok(PointPage::default())
    }
    async fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }
    async fn health(&self) -> Result<(), StoreError> {
        Ok(())
    }
    fn describe(&self) -> String {
        "an empty knowledge base".into()
    }
}

#[derive(Debug)]
struct NoTerms;

impl SparseEmbedder for NoTerms {
    fn embed_document(&self, _: &str) -> SparseVector {
        SparseVector::default()
    }
    fn embed_query(&self, _: &str) -> SparseVector {
        SparseVector::default()
    }
}

struct Harness {
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
    inbound: WebhookSecret,
    conversation_id: String,
}

static HARNESS: LazyLock<Harness> = LazyLock::new(|| {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime");
    let inbound = WebhookSecret::parse(INBOUND_SECRET).expect("a valid secret");
    let acme = WorkspaceId::parse("acme").expect("a valid workspace id");
    let mut workspace = WorkspaceConfig::new("acme-admin-key-0123456789");
    workspace.inbound_secret = Some(inbound.clone());
    workspace.chatwoot = Some(ChatwootConfig {
        base_url: "http://127.0.0.1:9".into(),
        account_id: 1,
        inbox_ids: vec![],
        api_access_token: Secret::new("token"),
        webhook_secret: Some(Secret::new(CHATWOOT_SECRET)),
        webhook_token: None,
    });
    workspace.django_helpdesk = Some(DjangoHelpdeskConfig {
        base_url: "http://127.0.0.1:9/helpdesk".into(),
        queue_id: 1,
        api_token: Some(Secret::new("token")),
        username: None,
        password: None,
        webhook_token: Secret::new(DJANGO_TOKEN),
        priority: 3,
    });
    let mut config = GatewayConfig::default();
    config.workspaces.insert(acme.clone(), workspace);
    config.validate().expect("a valid config");
    let store = SqliteStore::in_memory().expect("an in-memory store");
    let conversation_id = runtime.block_on(async {
        let created = store
            .create(&acme, CustomerAttributes::default(), TokenHash::of("t"))
            .await
            .expect("a conversation");
        for (source, external) in [("chatwoot", "1:7"), ("django-helpdesk", "42")] {
            store
                .link_external(&acme, source, external, created.id)
                .await
                .expect("a link");
        }
        created.id.to_string()
    });
    let retriever = Retriever::new(
        Arc::new(NoKnowledge),
        None,
        Arc::new(NoTerms),
        RetrieverConfig::default(),
    );
    let engine = Arc::new(AnswerEngine::new(retriever, AnswerConfig::default(), None));
    let state = AppState::new(
        config,
        Dependencies {
            engine,
            stores: Stores::new(store),
            knowledge: None,
        },
    );
    Harness {
        runtime,
        router: fathom_gateway::router(state),
        inbound,
        conversation_id,
    }
});

fn now_secs() -> i64 {
    fathom_conversations::now_ms() / 1000
}

/// `data[0]` picks the adapter; the rest is the body (with the marker replaced by the
/// conversation's id).
pub fn deliver(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let harness = &*HARNESS;
    let body = replace_marker(body, harness.conversation_id.as_bytes());
    let now = now_secs();
    let request = http::Request::post("/");
    let request = match selector % 3 {
        0 => {
            let id = format!("msg_{}", blake_ish(&body));
            request
                .uri("/v1/helpdesk/standard/events")
                .header("webhook-id", &id)
                .header("webhook-timestamp", now.to_string())
                .header("webhook-signature", harness.inbound.sign(&id, now, &body))
        }
        1 => request
            .uri("/v1/helpdesk/chatwoot/events")
            .header("x-chatwoot-timestamp", now.to_string())
            .header(
                "x-chatwoot-signature",
                fathom_gateway::helpdesk::chatwoot::sign(CHATWOOT_SECRET, now, &body),
            ),
        _ => request.uri(format!(
            "/v1/helpdesk/django-helpdesk/events?token={DJANGO_TOKEN}"
        )),
    };
    let request = request
        .header("content-type", "application/json")
        .body(Body::from(body))
        .expect("a valid request");
    let response = harness.runtime.block_on(async {
        let response = harness
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("the router is infallible");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("a readable body");
        (status, bytes)
    });
    let (status, bytes) = response;
    assert!(
        !status.is_server_error(),
        "{status}: {}",
        String::from_utf8_lossy(&bytes)
    );
    assert!(
        serde_json::from_slice::<serde_json::Value>(&bytes).is_ok(),
        "{status}: a non-JSON body: {}",
        String::from_utf8_lossy(&bytes)
    );
}

fn replace_marker(body: &[u8], id: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut rest = body;
    while let Some(at) = rest
        .windows(CONVERSATION_MARKER.len())
        .position(|window| window == CONVERSATION_MARKER)
    {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(id);
        rest = &rest[at + CONVERSATION_MARKER.len()..];
    }
    out.extend_from_slice(rest);
    out
}

/// A webhook id that differs between bodies (so most deliveries are not duplicates) and is the
/// same for the same body (so a reproduced crash is the same request).
fn blake_ish(body: &[u8]) -> u64 {
    body.iter()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(*byte)).wrapping_mul(0x100_0000_01b3)
        })
}
