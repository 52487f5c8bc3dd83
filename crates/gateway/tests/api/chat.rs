use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, sse_events, Options, ACME_ADMIN_KEY};

#[tokio::test]
async fn starting_a_conversation_returns_an_id_and_a_token_whose_hash_only_is_stored() {
    let app = spawn_app(Options::default()).await;

    let conversation = app.create_conversation("acme").await;

    assert!(conversation.token.starts_with("fct_") && conversation.token.len() > 40);
    let transcript = app.transcript(&conversation).await;
    assert_eq!(transcript["state"], "bot");
    assert_eq!(transcript["customer"]["name"], "Ada Lovelace");
    assert_eq!(transcript["messages"], json!([]));
    let database = std::fs::read(&app.database).unwrap_or_default();
    let wal = std::fs::read(app.database.with_extension("sqlite-wal")).unwrap_or_default();
    let needle = conversation.token.as_bytes();
    for bytes in [&database, &wal] {
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "the token itself is never written to disk"
        );
    }
}

#[tokio::test]
async fn a_question_the_articles_answer_gets_a_cited_reply_that_is_stored() {
    let app = spawn_app(Options::default()).await;
    let conversation = app.create_conversation("acme").await;

    let response = app
        .send(&conversation, "How do I get a refund for my annual plan?")
        .await;

    assert_eq!(response.status(), StatusCode::OK);
    let outcome: Value = response.json().await.unwrap();
    let reply = &outcome["reply"];
    assert_eq!(reply["role"], "bot");
    assert_eq!(reply["decision"], "answer", "{outcome:#}");
    assert_eq!(reply["reason"], "answered");
    assert_eq!(reply["citations"][0]["article_id"], "billing-refunds");
    assert!(reply["confidence"].as_f64().unwrap() > 0.0);
    assert!(reply["text"].as_str().unwrap().contains("prorated"));
    assert_eq!(outcome["state"], "bot");

    let transcript = app.transcript(&conversation).await;
    let messages = transcript["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0]["role"], "customer");
    assert_eq!(
        messages[0]["text"],
        "How do I get a refund for my annual plan?"
    );
    assert_eq!(messages[1]["text"], reply["text"]);
}

#[tokio::test]
async fn a_follow_up_question_is_answered_with_the_conversation_as_context() {
    let app = spawn_app(Options::default()).await;
    let conversation = app.create_conversation("acme").await;
    app.send(&conversation, "I forgot my password").await;

    let outcome = app
        .send_json(&conversation, "how long is the reset link valid?")
        .await;

    assert_eq!(
        outcome["reply"]["citations"][0]["article_id"], "account-reset-password",
        "{outcome:#}"
    );
    assert_eq!(
        app.transcript(&conversation).await["messages"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
}

#[tokio::test]
async fn a_reply_streams_over_sse_and_ends_with_the_stored_reply() {
    let app = spawn_app(Options::default()).await;
    let conversation = app.create_conversation("acme").await;

    let response = app
        .client
        .post(app.url(&format!("/v1/conversations/{}/messages", conversation.id)))
        .bearer_auth(&conversation.token)
        .header("accept", "text/event-stream")
        .json(&json!({"text": "How do I reset my password?"}))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let events = sse_events(&response.text().await.unwrap());
    let names: Vec<&str> = events.iter().map(|(name, _)| name.as_str()).collect();
    assert!(names.contains(&"step"), "{names:?}");
    assert_eq!(
        names.last(),
        Some(&"reply"),
        "the stored reply comes last: {names:?}"
    );
    let outcome: Value = serde_json::from_str(&events.last().unwrap().1).unwrap();
    assert_eq!(
        outcome["reply"]["citations"][0]["article_id"],
        "account-reset-password"
    );
    let transcript = app.transcript(&conversation).await;
    assert_eq!(transcript["messages"][1]["text"], outcome["reply"]["text"]);
}

#[tokio::test]
async fn this_solved_it_marks_the_conversation_resolved_and_counts_for_the_bot() {
    let app = spawn_app(Options::default()).await;
    let conversation = app.create_conversation("acme").await;
    let outcome = app
        .send_json(&conversation, "How do I reset my password?")
        .await;

    let response = app
        .client
        .post(app.url(&format!("/v1/conversations/{}/feedback", conversation.id)))
        .bearer_auth(&conversation.token)
        .json(&json!({"rating": "up", "message_seq": outcome["reply"]["seq"], "comment": "thanks!", "resolved": true}))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap()["state"], "resolved");
    assert_eq!(app.transcript(&conversation).await["state"], "resolved");
    let stats = app.admin_json("/v1/admin/stats", ACME_ADMIN_KEY).await;
    assert_eq!(stats["resolved_by_bot"], 1, "{stats:#}");
    assert_eq!(stats["feedback_up"], 1);
    assert_eq!(stats["resolution_rate"], 1.0);
}

#[tokio::test]
async fn feedback_on_a_message_that_is_not_the_bots_is_refused() {
    let app = spawn_app(Options::default()).await;
    let conversation = app.create_conversation("acme").await;
    let outcome = app
        .send_json(&conversation, "How do I reset my password?")
        .await;

    for body in [
        json!({"rating": "up", "message_seq": outcome["message"]["seq"]}),
        json!({"rating": "down", "message_seq": 999_999}),
        json!({}),
    ] {
        let response = app
            .client
            .post(app.url(&format!("/v1/conversations/{}/feedback", conversation.id)))
            .bearer_auth(&conversation.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(
            response.json::<Value>().await.unwrap()["code"],
            "invalid_feedback"
        );
    }
}

#[tokio::test]
async fn a_long_conversation_goes_on_being_answered() {
    let app = spawn_app(Options::default()).await;
    let conversation = app.create_conversation("acme").await;
    let questions = [
        "How do I reset my password?",
        "How do I get a refund for my annual plan?",
    ];

    for turn in 0..30 {
        app.send(&conversation, questions[turn % 2]).await;
    }
    let outcome = app
        .send_json(&conversation, "How do I reset my password?")
        .await;

    assert_eq!(
        outcome["reply"]["decision"], "answer",
        "60 earlier turns are trimmed to what the engine reads, not refused: {outcome:#}"
    );
    assert_eq!(
        app.transcript(&conversation).await["messages"]
            .as_array()
            .unwrap()
            .len(),
        62
    );
}
