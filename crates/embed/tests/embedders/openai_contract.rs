//! `OpenAiEmbedder` against a contract stub of the OpenAI embeddings API shape: a `wiremock`
//! server that answers `POST /v1/embeddings` with bodies in OpenAI's documented format
//! (`{"object":"list","data":[{"object":"embedding","index":..,"embedding":[..]}],"model":..,
//! "usage":{..}}`). It checks our side of the contract, not any real server's behaviour.

use std::time::Duration;

use fathom_core::{EmbedError, Embedder};
use fathom_embed::{OpenAiConfig, OpenAiEmbedder};
use serde_json::{json, Value};
use wiremock::matchers::{bearer_token, body_partial_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const MODEL: &str = "text-embedding-3-small";

/// An OpenAI-format embeddings response; `items` are `(index, vector)` in the order to send.
fn embeddings_body(items: &[(u32, Vec<f32>)]) -> Value {
    json!({
        "object": "list",
        "data": items
            .iter()
            .map(|(index, embedding)| json!({"object": "embedding", "index": index, "embedding": embedding}))
            .collect::<Vec<_>>(),
        "model": MODEL,
        "usage": {"prompt_tokens": 8, "total_tokens": 8}
    })
}

fn config_for(server: &MockServer) -> OpenAiConfig {
    let mut config = OpenAiConfig::new(format!("{}/v1", server.uri()), MODEL);
    config.dimension = Some(3);
    config
}

#[tokio::test]
async fn vectors_are_returned_in_input_order_even_when_the_server_shuffles_them() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/embeddings"))
        .and(bearer_token("sk-test"))
        .and(body_partial_json(
            json!({"model": MODEL, "input": ["first", "second", "third"]}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(embeddings_body(&[
            (2, vec![0.0, 0.0, 1.0]),
            (0, vec![1.0, 0.0, 0.0]),
            (1, vec![0.0, 1.0, 0.0]),
        ])))
        .expect(1)
        .mount(&server)
        .await;
    let mut config = config_for(&server);
    config.api_key = Some("sk-test".into());
    let embedder = OpenAiEmbedder::connect(config).await.expect("valid config");

    let vectors = embedder
        .embed_documents(vec!["first".into(), "second".into(), "third".into()])
        .await
        .expect("embedding succeeds");

    assert_eq!(
        vectors,
        vec![
            vec![1.0, 0.0, 0.0],
            vec![0.0, 1.0, 0.0],
            vec![0.0, 0.0, 1.0]
        ]
    );
    assert_eq!(embedder.model_id(), "openai:text-embedding-3-small");
    assert_eq!(embedder.dimension(), 3);
}

#[tokio::test]
async fn texts_are_sent_in_batches_of_the_configured_size() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/embeddings"))
        .and(body_partial_json(json!({"input": ["a", "b"]})))
        .respond_with(ResponseTemplate::new(200).set_body_json(embeddings_body(&[
            (0, vec![1.0, 0.0, 0.0]),
            (1, vec![0.0, 1.0, 0.0]),
        ])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/embeddings"))
        .and(body_partial_json(json!({"input": ["c"]})))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(embeddings_body(&[(0, vec![0.0, 0.0, 1.0])])),
        )
        .expect(1)
        .mount(&server)
        .await;
    let mut config = config_for(&server);
    config.batch_size = 2;
    let embedder = OpenAiEmbedder::connect(config).await.expect("valid config");

    let vectors = embedder
        .embed_documents(vec!["a".into(), "b".into(), "c".into()])
        .await
        .expect("embedding succeeds");

    assert_eq!(
        vectors,
        vec![
            vec![1.0, 0.0, 0.0],
            vec![0.0, 1.0, 0.0],
            vec![0.0, 0.0, 1.0]
        ]
    );
}

#[tokio::test]
async fn a_query_is_one_request_with_one_input() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/embeddings"))
        .and(body_partial_json(json!({"input": ["where is my parcel?"]})))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(embeddings_body(&[(0, vec![0.6, 0.8, 0.0])])),
        )
        .expect(1)
        .mount(&server)
        .await;
    let embedder = OpenAiEmbedder::connect(config_for(&server))
        .await
        .expect("valid config");

    let vector = embedder
        .embed_query("where is my parcel?")
        .await
        .expect("query embeds");

    assert_eq!(vector, vec![0.6, 0.8, 0.0]);
}

/// Asymmetric models (E5, nomic, BGE…): questions and documents get their own prefix, and a
/// server that tells them apart by model name gets the query model's name with questions. The
/// index fingerprint names both, so changing either re-indexes.
#[tokio::test]
async fn questions_and_documents_get_their_own_model_name_and_prefix() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/embeddings"))
        .and(body_partial_json(
            json!({"model": "e5-query", "input": ["query: wo ist mein Paket?"]}),
        ))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(embeddings_body(&[(0, vec![0.6, 0.8, 0.0])])),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/embeddings"))
        .and(body_partial_json(
            json!({"model": "e5-passage", "input": ["passage: Pakete kommen in zwei Tagen."]}),
        ))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(embeddings_body(&[(0, vec![0.0, 0.6, 0.8])])),
        )
        .expect(1)
        .mount(&server)
        .await;
    let mut config = config_for(&server);
    config.model = "e5-passage".into();
    config.query_model = Some("e5-query".into());
    config.query_prefix = "query: ".into();
    config.document_prefix = "passage: ".into();
    let embedder = OpenAiEmbedder::connect(config.clone()).await.unwrap();

    assert_eq!(
        embedder.embed_query("wo ist mein Paket?").await.unwrap(),
        vec![0.6, 0.8, 0.0]
    );
    assert_eq!(
        embedder
            .embed_documents(vec!["Pakete kommen in zwei Tagen.".into()])
            .await
            .unwrap(),
        vec![vec![0.0, 0.6, 0.8]]
    );
    let plain = OpenAiEmbedder::connect(config_for(&server)).await.unwrap();
    assert_ne!(embedder.model_id(), plain.model_id());
    config.document_prefix = String::new();
    let other_prefix = OpenAiEmbedder::connect(config).await.unwrap();
    assert_ne!(embedder.model_id(), other_prefix.model_id());
}

#[tokio::test]
async fn without_a_configured_dimension_connect_learns_it_from_one_probe() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/embeddings"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(embeddings_body(&[(0, vec![0.1; 5])])),
        )
        .expect(1)
        .mount(&server)
        .await;
    let mut config = config_for(&server);
    config.dimension = None;

    let embedder = OpenAiEmbedder::connect(config)
        .await
        .expect("probe succeeds");

    assert_eq!(embedder.dimension(), 5);
}

#[tokio::test]
async fn a_server_error_becomes_a_remote_error_with_status_and_message() {
    let server = MockServer::start().await;
    // async-openai retries 5xx answers 3 times before giving up: 4 requests in all.
    Mock::given(method("POST"))
        .and(path("/v1/embeddings"))
        .respond_with(ResponseTemplate::new(500).set_body_string("upstream model crashed"))
        .expect(4)
        .mount(&server)
        .await;
    let embedder = OpenAiEmbedder::connect(config_for(&server))
        .await
        .expect("valid config");

    let error = embedder
        .embed_query("hello")
        .await
        .expect_err("the server fails");

    let message = error.to_string();
    assert!(matches!(error, EmbedError::Remote(_)), "{error:?}");
    assert!(message.contains("500"), "{message}");
    assert!(message.contains("upstream model crashed"), "{message}");
    assert!(message.contains("/v1/embeddings"), "{message}");
    assert!(message.contains(MODEL), "{message}");
}

#[tokio::test]
async fn an_openai_error_body_is_reported_with_its_message() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/embeddings"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "error": {
                "message": "Incorrect API key provided: sk-wrong.",
                "type": "invalid_request_error",
                "param": null,
                "code": "invalid_api_key"
            }
        })))
        .expect(1)
        .mount(&server)
        .await;
    let embedder = OpenAiEmbedder::connect(config_for(&server))
        .await
        .expect("valid config");

    let error = embedder
        .embed_query("hello")
        .await
        .expect_err("the key is wrong");

    let message = error.to_string();
    assert!(message.contains("401"), "{message}");
    assert!(message.contains("Incorrect API key provided"), "{message}");
}

#[tokio::test]
async fn a_vector_of_the_wrong_dimension_is_rejected() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/embeddings"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(embeddings_body(&[(0, vec![1.0, 0.0])])),
        )
        .mount(&server)
        .await;
    let embedder = OpenAiEmbedder::connect(config_for(&server))
        .await
        .expect("valid config");

    let error = embedder
        .embed_query("hello")
        .await
        .expect_err("2 dimensions instead of 3");

    assert!(
        error.to_string().contains("has 2 dimensions, expected 3"),
        "{error}"
    );
}

#[tokio::test]
async fn a_response_missing_an_index_is_rejected() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/embeddings"))
        .respond_with(ResponseTemplate::new(200).set_body_json(embeddings_body(&[
            (0, vec![1.0, 0.0, 0.0]),
            (0, vec![0.0, 1.0, 0.0]),
        ])))
        .mount(&server)
        .await;
    let embedder = OpenAiEmbedder::connect(config_for(&server))
        .await
        .expect("valid config");

    let error = embedder
        .embed_documents(vec!["a".into(), "b".into()])
        .await
        .expect_err("index 1 is missing");

    assert!(
        error.to_string().contains("index 0 appears twice"),
        "{error}"
    );
}

#[tokio::test]
async fn a_slow_server_hits_the_timeout() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/embeddings"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(embeddings_body(&[(0, vec![1.0, 0.0, 0.0])]))
                .set_delay(Duration::from_secs(5)),
        )
        .mount(&server)
        .await;
    let mut config = config_for(&server);
    config.timeout = Duration::from_millis(200);
    let embedder = OpenAiEmbedder::connect(config).await.expect("valid config");

    let error = embedder.embed_query("hello").await.expect_err("too slow");

    assert!(matches!(error, EmbedError::Remote(_)), "{error:?}");
    assert!(
        error.to_string().contains("no answer within 0.2 s"),
        "{error}"
    );
}

#[tokio::test]
async fn a_base_url_without_v1_is_rejected_before_any_request() {
    let config = OpenAiConfig::new("http://localhost:11434", "nomic-embed-text");

    let error = OpenAiEmbedder::connect(config).await.expect_err("no /v1");

    assert!(matches!(error, EmbedError::Load { .. }), "{error:?}");
    assert!(error.to_string().contains("must end in /v1"), "{error}");
}
