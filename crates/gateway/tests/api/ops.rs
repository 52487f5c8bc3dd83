//! Health, readiness, metrics, the OpenAPI document, CORS and graceful shutdown.

use std::sync::Arc;
use std::time::Duration;

use fathom_answer::{AnswerConfig, AnswerEngine};
use fathom_retrieve::{Retriever, RetrieverConfig};
use fathom_store::Unpluggable;
use reqwest::StatusCode;
use serde_json::Value;
use tempfile::TempDir;

use crate::helpers::{knowledge, spawn_app, start, Fixture, Options};

#[tokio::test]
async fn health_readiness_metrics_and_openapi_are_served() {
    let app = spawn_app(Options::default()).await;
    let conversation = app.create_conversation("acme").await;
    app.send(&conversation, "I want a human").await;

    for path in ["/healthz", "/readyz"] {
        assert_eq!(
            app.client.get(app.url(path)).send().await.unwrap().status(),
            StatusCode::OK
        );
    }
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for expected in [
        "fathom_http_requests_total",
        "fathom_http_request_duration_seconds_bucket",
        "route=\"/v1/conversations/{id}/messages\"",
        "fathom_decisions_total",
        "fathom_handoffs_total{reason=\"customer_requested_human\"}",
    ] {
        assert!(
            metrics.contains(expected),
            "{expected} missing from:\n{metrics}"
        );
    }
    let openapi: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(openapi["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/v1/conversations",
        "/v1/conversations/{id}/messages",
        "/v1/helpdesk/{adapter}/events",
        "/v1/admin/stats",
    ] {
        assert!(
            openapi["paths"][path].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }
}

#[tokio::test]
async fn requests_to_made_up_paths_and_methods_add_no_metric_series() {
    let app = spawn_app(Options::default()).await;
    let metrics = || async {
        app.client
            .get(app.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let series = |text: &str| {
        text.lines()
            .filter(|line| line.starts_with("fathom_http_requests_total{"))
            .count()
    };
    // Once each first, so that the labels they should share exist before counting.
    let probe = |i: usize| {
        let client = app.client.clone();
        let base = app.url("");
        async move {
            let method = reqwest::Method::from_bytes(format!("ZZTOP{i}").as_bytes()).unwrap();
            client
                .request(method, format!("{base}/healthz"))
                .send()
                .await
                .unwrap();
            client
                .get(format!("{base}/v1/conversations/anything-{i}"))
                .send()
                .await
                .unwrap();
            client
                .get(format!("{base}/no-such-page-{i}"))
                .send()
                .await
                .unwrap();
            client
                .post(format!("{base}/v1/helpdesk/made-up-{i}/events"))
                .send()
                .await
                .unwrap();
        }
    };
    probe(0).await;
    let before = metrics().await;

    for chunk in (1..=300).collect::<Vec<_>>().chunks(50) {
        futures::future::join_all(chunk.iter().map(|&i| probe(i))).await;
    }

    let after = metrics().await;
    for made_up in ["ZZTOP", "anything-", "no-such-page-", "made-up-"] {
        assert!(
            !after.contains(made_up),
            "{made_up} is a label value:\n{after}"
        );
    }
    for shared in [
        "method=\"other\"",
        "route=\"unmatched\"",
        "route=\"/v1/conversations/{id}\"",
        "route=\"/v1/helpdesk/{adapter}/events\"",
    ] {
        assert!(after.contains(shared), "{shared} missing:\n{after}");
    }
    // Other tests share the process-wide recorder and may add their own (bounded) series
    // meanwhile: 1,200 made-up requests must not add anywhere near that many.
    assert!(
        series(&after) < series(&before) + 20,
        "{} series before, {} after",
        series(&before),
        series(&after)
    );
}

#[tokio::test]
async fn browsers_from_an_allowed_origin_may_call_the_customer_api_and_others_may_not() {
    let app = spawn_app(Options::default()).await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/v1/conversations"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };

    let allowed = preflight("https://acme.example").await.unwrap();
    let refused = preflight("https://evil.example").await.unwrap();

    assert_eq!(
        allowed
            .headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap()),
        Some("https://acme.example")
    );
    assert!(refused
        .headers()
        .get("access-control-allow-origin")
        .is_none());
}

#[tokio::test]
async fn graceful_shutdown_lets_the_request_in_flight_finish() {
    let dir = std::sync::Arc::new(tempfile::TempDir::new().unwrap());
    let knowledge = std::sync::Arc::new(crate::helpers::knowledge(&dir).await);
    let stores = fathom_conversations::Stores::new(
        fathom_conversations::SqliteStore::open(&dir.path().join("c.sqlite")).unwrap(),
    );
    let mut config = fathom_gateway::GatewayConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        shutdown_grace: Duration::from_secs(8),
        ..Default::default()
    };
    config.workspaces.insert(
        fathom_core::WorkspaceId::parse("acme").unwrap(),
        fathom_gateway::WorkspaceConfig::new("acme-admin-key-0123456789"),
    );
    let application = fathom_gateway::Application::build(
        config,
        fathom_gateway::Dependencies {
            engine: knowledge.engine.clone(),
            stores,
            knowledge: None,
        },
    )
    .await
    .unwrap();
    let address = application.address();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(application.run_until_stopped(async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    let created: Value = client
        .post(format!("http://{address}/v1/conversations"))
        .json(&serde_json::json!({"workspace": "acme"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    // A request whose body arrives in two halves, the second only after shutdown has begun.
    let (chunks, pending_chunks) = tokio::sync::mpsc::channel::<Result<String, std::io::Error>>(2);
    let body = futures::stream::unfold(pending_chunks, |mut pending| async move {
        pending.recv().await.map(|chunk| (chunk, pending))
    });
    chunks
        .send(Ok(r#"{"text": "How do I reset"#.into()))
        .await
        .unwrap();
    let in_flight = tokio::spawn({
        let client = client.clone();
        let created = created.clone();
        async move {
            client
                .post(format!(
                    "http://{address}/v1/conversations/{}/messages",
                    created["conversation_id"].as_str().unwrap()
                ))
                .bearer_auth(created["customer_token"].as_str().unwrap())
                .header("content-type", "application/json")
                .body(reqwest::Body::wrap_stream(body))
                .send()
                .await
        }
    });
    let mut live = client
        .get(format!(
            "http://{address}/v1/conversations/{}/events",
            created["conversation_id"].as_str().unwrap()
        ))
        .bearer_auth(created["customer_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    // Long enough for both connections to be accepted, even on a busy machine.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let stopping = std::time::Instant::now();
    stop.send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    chunks.send(Ok(r#" my password?"}"#.into())).await.unwrap();
    drop(chunks);

    let response = in_flight.await.unwrap().unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let stream_end = tokio::time::timeout(Duration::from_secs(5), async {
        while let Ok(Some(_)) = live.chunk().await {}
    })
    .await;
    assert!(
        stream_end.is_ok(),
        "a live stream ends when shutdown begins"
    );
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("the server stops within the grace period")
        .unwrap()
        .unwrap();
    assert!(
        stopping.elapsed() < Duration::from_secs(5),
        "an open live stream does not hold the shutdown for the whole grace period"
    );
    assert!(
        client
            .get(format!("http://{address}/healthz"))
            .send()
            .await
            .is_err(),
        "nothing listens any more"
    );
}

#[tokio::test]
async fn a_knowledge_index_that_cannot_be_searched_fails_readiness_until_it_answers_again() {
    let dir = Arc::new(TempDir::new().unwrap());
    let real = knowledge(&dir).await;
    let store = Arc::new(Unpluggable::new(Arc::clone(&real.sync.store)));
    let retriever = Retriever::new(
        store.clone(),
        None,
        Arc::clone(&real.sync.sparse),
        RetrieverConfig::default(),
    );
    let fixture = Fixture {
        engine: Arc::new(AnswerEngine::new(
            retriever.clone(),
            AnswerConfig::default(),
            None,
        )),
        retriever,
        sync: real.sync.clone(),
        articles_dir: real.articles_dir.clone(),
    };
    let database = dir.path().join("conversations.sqlite");
    let app = start(Options::default(), Arc::new(fixture), dir, database).await;
    let conversation = app.create_conversation("acme").await;
    let ready = || async { app.client.get(app.url("/readyz")).send().await.unwrap() };

    store.unplug();
    let outcome = app
        .send_json(&conversation, "How do I reset my password?")
        .await;
    assert_eq!(outcome["reply"]["reason"], "retrieval_unavailable");
    let response = ready().await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "not_ready");

    store.plug_in();
    assert_eq!(ready().await.status(), StatusCode::OK);
}
