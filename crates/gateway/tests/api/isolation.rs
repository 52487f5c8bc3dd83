//! Only the customer token opens a conversation; workspaces never see each other.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, Options, ACME_ADMIN_KEY, GLOBEX_ADMIN_KEY};

#[tokio::test]
async fn a_wrong_token_an_unknown_id_and_another_workspaces_conversation_all_get_the_same_404() {
    let app = spawn_app(Options::default()).await;
    let acme = app.create_conversation("acme").await;
    let globex = app.create_conversation("globex").await;

    let attempts = [
        (acme.id.clone(), "fct_guessed".to_string()),
        (acme.id.clone(), globex.token.clone()),
        (uuid_like(), acme.token.clone()),
        ("not-a-uuid".to_string(), acme.token.clone()),
    ];
    let mut bodies = Vec::new();
    for (id, token) in &attempts {
        for request in [
            app.client.get(app.url(&format!("/v1/conversations/{id}"))),
            app.client
                .post(app.url(&format!("/v1/conversations/{id}/messages")))
                .json(&json!({"text": "hello"})),
        ] {
            let response = request.bearer_auth(token).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{id}");
            bodies.push(response.json::<Value>().await.unwrap());
        }
    }
    assert!(
        bodies.windows(2).all(|pair| pair[0] == pair[1]),
        "{bodies:#?}"
    );
    assert_eq!(bodies[0]["code"], "conversation_not_found");
    assert!(app.transcript(&acme).await["messages"]
        .as_array()
        .unwrap()
        .is_empty());
}

fn uuid_like() -> String {
    "2b1a3f4e-0000-4000-8000-000000000000".into()
}

#[tokio::test]
async fn a_request_without_a_token_is_401() {
    let app = spawn_app(Options::default()).await;
    let acme = app.create_conversation("acme").await;

    let response = app
        .client
        .get(app.url(&format!("/v1/conversations/{}", acme.id)))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.json::<Value>().await.unwrap()["code"],
        "missing_authorization"
    );
}

#[tokio::test]
async fn an_admin_key_sees_its_own_workspace_only() {
    let app = spawn_app(Options::default()).await;
    let acme = app.create_conversation("acme").await;
    let globex = app.create_conversation("globex").await;

    let listed = app
        .admin_json("/v1/admin/conversations", GLOBEX_ADMIN_KEY)
        .await;
    let ids: Vec<&str> = listed["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["conversation_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![globex.id.as_str()]);

    let response = app
        .admin_get(
            &format!("/v1/admin/conversations/{}", acme.id),
            GLOBEX_ADMIN_KEY,
        )
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = app
        .admin_get(
            &format!("/v1/admin/conversations/{}", acme.id),
            ACME_ADMIN_KEY,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);

    let response = app.admin_get("/v1/admin/stats", "not-a-key").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.json::<Value>().await.unwrap()["code"],
        "invalid_api_key"
    );
    let response = app.admin_get("/v1/admin/stats", &acme.token).await;
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "a customer token is no admin key"
    );
}
