//! Bad input gets a clear status and a stable code, never a 500 or an HTML page.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, Options};

async fn error_of(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let body: Value = response.json().await.expect("errors are JSON");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    (status, body)
}

#[tokio::test]
async fn malformed_json_is_400_invalid_json() {
    let app = spawn_app(Options::default()).await;

    let response = app
        .client
        .post(app.url("/v1/conversations"))
        .header("content-type", "application/json")
        .body("{\"workspace\": \"acme\",")
        .send()
        .await
        .unwrap();

    let (status, body) = error_of(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], "invalid_json");
}

#[tokio::test]
async fn unknown_or_missing_fields_are_400_invalid_request() {
    let app = spawn_app(Options::default()).await;
    let conversation = app.create_conversation("acme").await;

    for (path, body) in [
        (
            "/v1/conversations".to_string(),
            json!({"workspace": "acme", "colour": "red"}),
        ),
        ("/v1/conversations".to_string(), json!({"customer": {}})),
        (
            format!("/v1/conversations/{}/messages", conversation.id),
            json!({"txt": "hi"}),
        ),
        (
            format!("/v1/conversations/{}/messages", conversation.id),
            json!({"text": 42}),
        ),
    ] {
        let response = app
            .client
            .post(app.url(&path))
            .bearer_auth(&conversation.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let (status, error) = error_of(response).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(error["code"], "invalid_request", "{body}");
    }
}

#[tokio::test]
async fn a_body_that_is_not_json_is_415_and_an_oversized_one_413() {
    let app = spawn_app(Options {
        max_body_bytes: 1024,
        ..Options::default()
    })
    .await;
    let conversation = app.create_conversation("acme").await;

    let response = app
        .client
        .post(app.url("/v1/conversations"))
        .header("content-type", "text/plain")
        .body("workspace=acme")
        .send()
        .await
        .unwrap();
    let (status, body) = error_of(response).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Some("invalid_content_type")
        )
    );

    let response = app.send(&conversation, &"refund ".repeat(400)).await;
    let (status, body) = error_of(response).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large"))
    );
}

#[tokio::test]
async fn blank_messages_bad_workspaces_and_unknown_routes_have_their_own_codes() {
    let app = spawn_app(Options::default()).await;
    let conversation = app.create_conversation("acme").await;

    let (status, body) = error_of(app.send(&conversation, "   ").await).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_message"))
    );

    for (workspace, expected_status, code) in [
        ("Not A Slug", StatusCode::BAD_REQUEST, "invalid_workspace"),
        ("initech", StatusCode::NOT_FOUND, "workspace_not_found"),
    ] {
        let response = app
            .client
            .post(app.url("/v1/conversations"))
            .json(&json!({ "workspace": workspace }))
            .send()
            .await
            .unwrap();
        let (status, body) = error_of(response).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (expected_status, Some(code))
        );
    }

    let (status, body) = error_of(
        app.client
            .get(app.url("/v1/nothing-here"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let (status, body) = error_of(
        app.client
            .delete(app.url("/v1/conversations"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, Some("method_not_allowed"))
    );
}

#[tokio::test]
async fn too_many_messages_from_one_customer_get_429_with_retry_after() {
    let app = spawn_app(Options {
        customer_per_minute: 3,
        ..Options::default()
    })
    .await;
    let conversation = app.create_conversation("acme").await;
    let other = app.create_conversation("acme").await;

    for _ in 0..3 {
        assert_eq!(
            app.send(&conversation, "How do I reset my password?")
                .await
                .status(),
            StatusCode::OK
        );
    }
    let response = app.send(&conversation, "How do I reset my password?").await;

    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_eq!(
        response.json::<Value>().await.unwrap()["code"],
        "rate_limited"
    );
    assert_eq!(
        app.send(&other, "How do I reset my password?")
            .await
            .status(),
        StatusCode::OK,
        "another customer is not slowed down"
    );
    assert_eq!(
        app.transcript(&conversation).await["messages"]
            .as_array()
            .unwrap()
            .len(),
        6,
        "the refused message was not stored"
    );
}

#[tokio::test]
async fn a_busy_workspace_gets_429_while_other_workspaces_are_served() {
    let app = spawn_app(Options {
        workspace_per_second: 2,
        ..Options::default()
    })
    .await;
    let globex = app.create_conversation("globex").await;

    let mut statuses = Vec::new();
    for _ in 0..6 {
        let response = app
            .client
            .post(app.url("/v1/conversations"))
            .json(&json!({"workspace": "acme"}))
            .send()
            .await
            .unwrap();
        statuses.push(response.status());
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(response.headers().contains_key("retry-after"));
            assert_eq!(
                response.json::<Value>().await.unwrap()["code"],
                "rate_limited"
            );
        }
    }

    assert!(statuses.contains(&StatusCode::CREATED), "{statuses:?}");
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    let response = app
        .client
        .get(app.url(&format!("/v1/conversations/{}", globex.id)))
        .bearer_auth(&globex.token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "globex has its own budget"
    );
}
