//! The Chatwoot Agent Bot adapter, fed the event bodies and headers Chatwoot's own code builds
//! (see `chatwoot_payloads` for which source file each follows), against a fake Chatwoot REST
//! API that records every call. Every event `AgentBotListener` sends is covered: applied, or
//! deliberately ignored.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::chatwoot_payloads::{
    chatwoot_signature, conversation_event, message_event, signed_headers, unsigned_headers,
    webwidget_triggered, Assignee, Author, Conversation, Message,
};
use crate::helpers::{
    now_secs, spawn_app, spawn_fake_chatwoot, FakeChatwoot, Options, TestApp, ACME_ADMIN_KEY,
    CHATWOOT_ACCOUNT, CHATWOOT_INBOX, CHATWOOT_SECRET, CHATWOOT_TOKEN, CHATWOOT_URL_TOKEN,
    GLOBEX_ADMIN_KEY, GLOBEX_CHATWOOT_INBOX, GLOBEX_CHATWOOT_SECRET,
};

fn conversation(display_id: u64, status: &'static str) -> Conversation {
    Conversation::new(CHATWOOT_ACCOUNT, CHATWOOT_INBOX, display_id, status)
}

/// Post a body the way Chatwoot's `Webhooks::Trigger` does, signed with the bot's secret.
async fn deliver(app: &TestApp, body: &Value) -> reqwest::Response {
    let delivery_id = uuid::Uuid::new_v4().to_string();
    deliver_as(app, body, &delivery_id).await
}

async fn deliver_as(app: &TestApp, body: &Value, delivery_id: &str) -> reqwest::Response {
    deliver_signed(app, body, delivery_id, CHATWOOT_SECRET).await
}

/// As another bot (another installation's) signs it.
async fn deliver_signed_with(app: &TestApp, body: &Value, secret: &str) -> reqwest::Response {
    let delivery_id = uuid::Uuid::new_v4().to_string();
    deliver_signed(app, body, &delivery_id, secret).await
}

async fn deliver_signed(
    app: &TestApp,
    body: &Value,
    delivery_id: &str,
    secret: &str,
) -> reqwest::Response {
    let text = body.to_string();
    let mut request = app.client.post(app.url("/v1/helpdesk/chatwoot/events"));
    for (name, value) in signed_headers(secret, delivery_id, now_secs(), &text) {
        request = request.header(name, value);
    }
    request.body(text).send().await.unwrap()
}

async fn status_of(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    (status, response.json().await.unwrap())
}

async fn app_with_chatwoot() -> (TestApp, FakeChatwoot) {
    let chatwoot = spawn_fake_chatwoot().await;
    let app = spawn_app(Options {
        chatwoot_url: Some(chatwoot.url.clone()),
        ..Options::default()
    })
    .await;
    (app, chatwoot)
}

async fn fathom_state(app: &TestApp) -> Value {
    let listed = app
        .admin_json("/v1/admin/conversations", ACME_ADMIN_KEY)
        .await;
    listed["conversations"][0]["state"].clone()
}

fn paths(chatwoot: &FakeChatwoot) -> Vec<String> {
    chatwoot.calls().into_iter().map(|c| c.path).collect()
}

#[tokio::test]
async fn a_customer_message_in_a_pending_conversation_is_answered_through_the_outbox() {
    let (app, chatwoot) = app_with_chatwoot().await;
    let pending = conversation(7, "pending");
    let body = message_event(
        "message_created",
        &pending,
        &Message::incoming(501, "How do I reset my password?"),
    );

    let (status, outcome) = status_of(deliver(&app, &body).await).await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(outcome["status"], "queued", "{outcome}");
    let calls = chatwoot.wait_for_calls(1).await;
    assert_eq!(calls[0].path, "/api/v1/accounts/1/conversations/7/messages");
    assert_eq!(calls[0].token.as_deref(), Some(CHATWOOT_TOKEN));
    assert_eq!(calls[0].body["message_type"], "outgoing");
    assert_eq!(calls[0].body["private"], false);
    assert!(
        calls[0].body["content"]
            .as_str()
            .unwrap()
            .contains("Forgot password"),
        "{:#}",
        calls[0].body
    );
    let listed = app
        .admin_json("/v1/admin/conversations", ACME_ADMIN_KEY)
        .await;
    let stored = &listed["conversations"][0];
    assert_eq!(stored["customer"]["name"], "Grace Hopper");
    assert_eq!(stored["customer"]["extra"]["email"], "grace@example.com");
    assert_eq!(stored["customer"]["extra"]["chatwoot_conversation"], "1:7");

    let follow_up = message_event(
        "message_created",
        &pending,
        &Message::incoming(502, "how long is the link valid?"),
    );
    assert_eq!(
        status_of(deliver(&app, &follow_up).await).await.0,
        StatusCode::OK
    );
    chatwoot.wait_for_calls(2).await;
    let listed = app
        .admin_json("/v1/admin/conversations", ACME_ADMIN_KEY)
        .await;
    assert_eq!(
        listed["conversations"].as_array().unwrap().len(),
        1,
        "one Chatwoot conversation is one Fathom conversation"
    );
}

#[tokio::test]
async fn two_installations_with_the_same_account_and_message_ids_are_both_answered() {
    let (acme_chatwoot, globex_chatwoot) =
        (spawn_fake_chatwoot().await, spawn_fake_chatwoot().await);
    let app = spawn_app(Options {
        chatwoot_url: Some(acme_chatwoot.url.clone()),
        globex_chatwoot_url: Some(globex_chatwoot.url.clone()),
        ..Options::default()
    })
    .await;
    let message = message_event(
        "message_created",
        &conversation(7, "pending"),
        &Message::incoming(501, "How do I reset my password?"),
    );

    let acme = deliver_signed_with(&app, &message, CHATWOOT_SECRET).await;
    let globex = deliver_signed_with(&app, &message, GLOBEX_CHATWOOT_SECRET).await;
    let acme_again = deliver_signed_with(&app, &message, CHATWOOT_SECRET).await;

    assert_eq!(acme.status(), StatusCode::OK);
    assert_eq!(globex.status(), StatusCode::OK);
    let globex: Value = globex.json().await.unwrap();
    assert_ne!(globex["status"], "duplicate", "{globex:#}");
    assert_eq!(
        acme_again.json::<Value>().await.unwrap()["status"],
        "duplicate"
    );
    let posted = globex_chatwoot.wait_for_calls(1).await;
    assert_eq!(
        posted[0].path,
        "/api/v1/accounts/1/conversations/7/messages"
    );
    assert_eq!(
        posted[0].token.as_deref(),
        Some("globex-chatwoot-bot-token")
    );
    assert_eq!(acme_chatwoot.wait_for_calls(1).await.len(), 1);
    let listed = app
        .admin_json("/v1/admin/conversations", GLOBEX_ADMIN_KEY)
        .await;
    assert_eq!(listed["conversations"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn an_open_conversation_is_the_bots_only_while_it_is_assigned_to_the_bot() {
    let (app, chatwoot) = app_with_chatwoot().await;
    let open = conversation(8, "open");

    let (_, not_ours) = status_of(
        deliver(
            &app,
            &message_event("message_created", &open, &Message::incoming(601, "Hello?")),
        )
        .await,
    )
    .await;
    assert_eq!(not_ours["status"], "ignored", "{not_ours}");

    let assigned = open.assigned_to(Assignee::Bot);
    let (_, ours) = status_of(
        deliver(
            &app,
            &message_event(
                "message_created",
                &assigned,
                &Message::incoming(602, "How do I reset my password?"),
            ),
        )
        .await,
    )
    .await;
    assert_eq!(ours["status"], "queued", "{ours}");
    let calls = chatwoot.wait_for_calls(1).await;
    assert_eq!(calls[0].path, "/api/v1/accounts/1/conversations/8/messages");
}

#[tokio::test]
async fn a_handoff_posts_the_bots_message_before_opening_and_releases_the_bots_assignment() {
    let (app, chatwoot) = app_with_chatwoot().await;
    let assigned = conversation(9, "open").assigned_to(Assignee::Bot);

    deliver(
        &app,
        &message_event(
            "message_created",
            &assigned,
            &Message::incoming(701, "I want to talk to a human"),
        ),
    )
    .await;

    let calls = chatwoot.wait_for_calls(3).await;
    let paths: Vec<&str> = calls.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/api/v1/accounts/1/conversations/9/messages",
            "/api/v1/accounts/1/conversations/9/toggle_status",
            "/api/v1/accounts/1/conversations/9/assignments",
        ]
    );
    assert!(calls[0].body["content"]
        .as_str()
        .unwrap()
        .contains("person will follow up"));
    assert_eq!(calls[1].body, json!({"status": "open"}));
    assert_eq!(calls[2].body, json!({"assignee_id": null}));
    assert_eq!(fathom_state(&app).await, "handed_off");

    // Chatwoot tells the bot about the opening Fathom asked for: expected, not a takeover.
    let opened = assigned.with_status("open").assigned_to(Assignee::Nobody);
    for event in [
        conversation_event("conversation_opened", &opened, &[]),
        conversation_event(
            "conversation_status_changed",
            &opened,
            &[("status", json!("pending"), json!("open"))],
        ),
    ] {
        let (status, outcome) = status_of(deliver(&app, &event).await).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(outcome["status"], "ignored", "{outcome}");
        assert!(
            outcome["why"].as_str().unwrap().contains("expected"),
            "{outcome}"
        );
    }
    assert_eq!(fathom_state(&app).await, "handed_off");
}

#[tokio::test]
async fn a_pending_conversations_handoff_only_opens_it() {
    let (app, chatwoot) = app_with_chatwoot().await;
    deliver(
        &app,
        &message_event(
            "message_created",
            &conversation(10, "pending"),
            &Message::incoming(801, "Can I speak to an agent please"),
        ),
    )
    .await;
    chatwoot.wait_for_calls(2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        paths(&chatwoot),
        [
            "/api/v1/accounts/1/conversations/10/messages",
            "/api/v1/accounts/1/conversations/10/toggle_status"
        ],
        "nothing to release: the conversation was not assigned to the bot"
    );
}

/// The four conversation events carry the conversation at the top level (`id` = display id,
/// no `conversation` key).
#[tokio::test]
async fn conversation_status_events_at_the_top_level_are_applied() {
    let (app, chatwoot) = app_with_chatwoot().await;
    let pending = conversation(11, "pending");
    deliver(
        &app,
        &message_event(
            "message_created",
            &pending,
            &Message::incoming(901, "How do I reset my password?"),
        ),
    )
    .await;
    chatwoot.wait_for_calls(1).await;

    // An agent takes the conversation over from the bot.
    let taken = pending.with_status("open").assigned_to(Assignee::Agent);
    let (_, outcome) = status_of(
        deliver(
            &app,
            &conversation_event(
                "conversation_updated",
                &taken,
                &[("assignee_id", Value::Null, json!(7))],
            ),
        )
        .await,
    )
    .await;
    assert_eq!(
        (outcome["status"].clone(), outcome["state"].clone()),
        (json!("applied"), json!("human")),
        "{outcome}"
    );

    // Given back to the bot.
    let back = pending.with_status("pending");
    let (_, outcome) = status_of(
        deliver(
            &app,
            &conversation_event(
                "conversation_status_changed",
                &back,
                &[("status", json!("open"), json!("pending"))],
            ),
        )
        .await,
    )
    .await;
    assert_eq!(outcome["state"], "bot", "{outcome}");

    // Snoozed: nothing changes.
    let snoozed = pending.with_status("snoozed");
    let (_, outcome) = status_of(
        deliver(
            &app,
            &conversation_event(
                "conversation_status_changed",
                &snoozed,
                &[("status", json!("pending"), json!("snoozed"))],
            ),
        )
        .await,
    )
    .await;
    assert_eq!(outcome["status"], "ignored", "{outcome}");
    assert_eq!(fathom_state(&app).await, "bot");

    // Resolved in Chatwoot: both events it sends for it.
    let resolved = pending.with_status("resolved");
    let (_, outcome) = status_of(
        deliver(
            &app,
            &conversation_event("conversation_resolved", &resolved, &[]),
        )
        .await,
    )
    .await;
    assert_eq!(outcome["state"], "resolved", "{outcome}");
    let (_, outcome) = status_of(
        deliver(
            &app,
            &conversation_event(
                "conversation_status_changed",
                &resolved,
                &[("status", json!("pending"), json!("resolved"))],
            ),
        )
        .await,
    )
    .await;
    assert_eq!(outcome["state"], "resolved", "{outcome}");

    // Attribute changes (labels, priority) and a bare conversation_updated are not applied.
    let (_, outcome) = status_of(
        deliver(
            &app,
            &conversation_event(
                "conversation_updated",
                &resolved,
                &[("label_list", json!([]), json!(["billing"]))],
            ),
        )
        .await,
    )
    .await;
    assert_eq!(outcome["status"], "ignored", "{outcome}");
    let (_, outcome) = status_of(
        deliver(
            &app,
            &conversation_event("conversation_updated", &resolved, &[]),
        )
        .await,
    )
    .await;
    assert_eq!(outcome["status"], "ignored", "{outcome}");
    assert_eq!(fathom_state(&app).await, "resolved");
}

#[tokio::test]
async fn an_agent_opening_a_conversation_the_bot_had_takes_it_over() {
    let (app, chatwoot) = app_with_chatwoot().await;
    let pending = conversation(12, "pending");
    deliver(
        &app,
        &message_event(
            "message_created",
            &pending,
            &Message::incoming(1001, "How do I reset my password?"),
        ),
    )
    .await;
    chatwoot.wait_for_calls(1).await;

    let (_, outcome) = status_of(
        deliver(
            &app,
            &conversation_event("conversation_opened", &pending.with_status("open"), &[]),
        )
        .await,
    )
    .await;

    assert_eq!(outcome["state"], "human", "{outcome}");
}

#[tokio::test]
async fn agent_replies_are_kept_while_private_notes_and_the_bots_own_messages_are_ignored() {
    let (app, chatwoot) = app_with_chatwoot().await;
    let pending = conversation(13, "pending");
    deliver(
        &app,
        &message_event(
            "message_created",
            &pending,
            &Message::incoming(1101, "How do I reset my password?"),
        ),
    )
    .await;
    chatwoot.wait_for_calls(1).await;
    let open = pending.with_status("open").assigned_to(Assignee::Agent);

    let (_, echo) = status_of(
        deliver(
            &app,
            &message_event(
                "message_created",
                &pending,
                &Message::outgoing(
                    1102,
                    "Click Forgot password on the sign-in page.",
                    Author::Bot,
                ),
            ),
        )
        .await,
    )
    .await;
    let (_, note) = status_of(
        deliver(
            &app,
            &message_event(
                "message_created",
                &open,
                &Message::note(1103, "VIP customer, be nice"),
            ),
        )
        .await,
    )
    .await;
    let (_, reply) = status_of(
        deliver(
            &app,
            &message_event(
                "message_created",
                &open,
                &Message::outgoing(1104, "Hi Grace, Dana here. Let me check.", Author::Agent),
            ),
        )
        .await,
    )
    .await;
    let (_, edit) = status_of(
        deliver(
            &app,
            &message_event(
                "message_updated",
                &open,
                &Message::outgoing(1104, "Hi Grace, Dana here. Checking.", Author::Agent),
            ),
        )
        .await,
    )
    .await;

    assert_eq!(echo["status"], "ignored", "{echo}");
    assert_eq!(note["status"], "ignored", "{note}");
    assert_eq!(edit["status"], "ignored", "{edit}");
    assert_eq!(reply["status"], "applied", "{reply}");
    assert_eq!(reply["state"], "human", "{reply}");
    let listed = app
        .admin_json("/v1/admin/conversations", ACME_ADMIN_KEY)
        .await;
    let id = listed["conversations"][0]["conversation_id"]
        .as_str()
        .unwrap()
        .to_string();
    let detail = app
        .admin_json(&format!("/v1/admin/conversations/{id}"), ACME_ADMIN_KEY)
        .await;
    let texts: Vec<&str> = detail["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert!(
        texts.contains(&"Hi Grace, Dana here. Let me check."),
        "{texts:?}"
    );
    assert!(!texts.iter().any(|t| t.contains("VIP")), "{texts:?}");

    // The customer writes while the agent has it: kept, not answered.
    let (_, kept) = status_of(
        deliver(
            &app,
            &message_event(
                "message_created",
                &open,
                &Message::incoming(1105, "thanks!"),
            ),
        )
        .await,
    )
    .await;
    assert_eq!(kept["status"], "applied", "{kept}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(chatwoot.calls().len(), 1, "the bot stayed silent");
}

#[tokio::test]
async fn events_the_bot_does_not_act_on_are_answered_200_and_ignored() {
    let (app, chatwoot) = app_with_chatwoot().await;
    let open = conversation(14, "open");
    for body in [
        webwidget_triggered(&open),
        json!({"event": "contact_updated", "id": 42, "name": "Grace Hopper", "account": {"id": 1}}),
        conversation_event("conversation_resolved", &open.with_status("resolved"), &[]),
        message_event(
            "message_created",
            &open,
            &Message::outgoing(
                1201,
                "An agent writes in a conversation the bot never had",
                Author::Agent,
            ),
        ),
    ] {
        let (status, outcome) = status_of(deliver(&app, &body).await).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(outcome["status"], "ignored", "{body} → {outcome}");
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(chatwoot.calls().is_empty(), "{:#?}", chatwoot.calls());
}

#[tokio::test]
async fn unsigned_forged_or_stale_events_are_rejected_naming_chatwoots_header() {
    let (app, chatwoot) = app_with_chatwoot().await;
    let body = message_event(
        "message_created",
        &conversation(15, "pending"),
        &Message::incoming(1301, "How do I reset my password?"),
    );
    let text = body.to_string();
    let post = |headers: Vec<(String, String)>| {
        let mut request = app.client.post(app.url("/v1/helpdesk/chatwoot/events"));
        for (name, value) in headers {
            request = request.header(name, value);
        }
        request.body(text.clone()).send()
    };

    let unsigned = post(unsigned_headers()).await.unwrap();
    let forged = post(signed_headers("not-the-secret", "d-1", now_secs(), &text))
        .await
        .unwrap();
    let stale = post(signed_headers(
        CHATWOOT_SECRET,
        "d-2",
        now_secs() - 600,
        &text,
    ))
    .await
    .unwrap();

    let (status, error) = status_of(unsigned).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error["code"], "missing_webhook_signature");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("X-Chatwoot-Signature"),
        "{error}"
    );
    let (status, error) = status_of(forged).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error["code"], "invalid_webhook_signature");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("X-Chatwoot-Signature"),
        "{error}"
    );
    let (status, error) = status_of(stale).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error["code"], "invalid_webhook_timestamp");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(chatwoot.calls().is_empty());
}

#[tokio::test]
async fn chatwoot_before_signing_is_accepted_with_the_url_token_only() {
    let chatwoot = spawn_fake_chatwoot().await;
    let app = spawn_app(Options {
        chatwoot_url: Some(chatwoot.url.clone()),
        chatwoot_unsigned: true,
        ..Options::default()
    })
    .await;
    let body = message_event(
        "message_created",
        &conversation(16, "pending"),
        &Message::incoming(1401, "How do I reset my password?"),
    )
    .to_string();
    let post = |query: &str| {
        let mut request = app
            .client
            .post(app.url(&format!("/v1/helpdesk/chatwoot/events{query}")));
        for (name, value) in unsigned_headers() {
            request = request.header(name, value);
        }
        request.body(body.clone()).send()
    };

    let (status, error) = status_of(
        post("?token=a-guess-of-the-token-000000000000")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{error}");
    let (status, error) = status_of(post("").await.unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{error}");
    let (status, outcome) =
        status_of(post(&format!("?token={CHATWOOT_URL_TOKEN}")).await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{outcome}");
    assert_eq!(outcome["status"], "queued");
    chatwoot.wait_for_calls(1).await;
}

#[tokio::test]
async fn a_redelivered_event_and_a_message_sent_twice_are_answered_once() {
    let (app, chatwoot) = app_with_chatwoot().await;
    let body = message_event(
        "message_created",
        &conversation(17, "pending"),
        &Message::incoming(1501, "How do I reset my password?"),
    );

    let (_, first) = status_of(deliver_as(&app, &body, "delivery-1").await).await;
    // Chatwoot's job retries a 429/500 with the same delivery id…
    let (_, retried) = status_of(deliver_as(&app, &body, "delivery-1").await).await;
    // …and a second bot of the inbox pointing at Fathom gets the message with another.
    let (_, second_bot) = status_of(deliver_as(&app, &body, "delivery-2").await).await;

    assert_eq!(first["status"], "queued");
    assert_eq!(retried["status"], "duplicate", "{retried}");
    assert_eq!(second_bot["status"], "duplicate", "{second_bot}");
    chatwoot.wait_for_calls(1).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(chatwoot.calls().len(), 1, "answered once");
}

#[tokio::test]
async fn one_bot_on_two_inboxes_of_one_account_answers_each_for_its_own_workspace() {
    let (acme_chatwoot, globex_chatwoot) =
        (spawn_fake_chatwoot().await, spawn_fake_chatwoot().await);
    let app = spawn_app(Options {
        chatwoot_url: Some(acme_chatwoot.url.clone()),
        globex_chatwoot_url: Some(globex_chatwoot.url.clone()),
        globex_shares_acmes_chatwoot_bot: true,
        ..Options::default()
    })
    .await;
    let question = Message::incoming(1601, "How do I reset my password?");
    let acme = conversation(18, "pending");
    let globex = Conversation::new(CHATWOOT_ACCOUNT, GLOBEX_CHATWOOT_INBOX, 19, "pending");
    let elsewhere = Conversation::new(CHATWOOT_ACCOUNT, 99, 20, "pending");

    let (_, for_acme) =
        status_of(deliver(&app, &message_event("message_created", &acme, &question)).await).await;
    let (_, for_globex) = status_of(
        deliver(
            &app,
            &message_event(
                "message_created",
                &globex,
                &Message::incoming(1602, "How do I reset my password?"),
            ),
        )
        .await,
    )
    .await;
    let (_, for_nobody) = status_of(
        deliver(
            &app,
            &message_event(
                "message_created",
                &elsewhere,
                &Message::incoming(1603, "Hello"),
            ),
        )
        .await,
    )
    .await;

    assert_eq!(for_acme["status"], "queued");
    assert_eq!(for_globex["status"], "queued");
    assert_eq!(for_nobody["status"], "ignored", "{for_nobody}");
    let posted = globex_chatwoot.wait_for_calls(1).await;
    assert_eq!(
        posted[0].path,
        "/api/v1/accounts/1/conversations/19/messages"
    );
    assert_eq!(
        posted[0].token.as_deref(),
        Some("globex-chatwoot-bot-token")
    );
    assert_eq!(
        acme_chatwoot.wait_for_calls(1).await[0].path,
        "/api/v1/accounts/1/conversations/18/messages"
    );
    let listed = app
        .admin_json("/v1/admin/conversations", GLOBEX_ADMIN_KEY)
        .await;
    assert_eq!(listed["conversations"].as_array().unwrap().len(), 1);
}

/// Chatwoot waits 5 s (`WEBHOOK_TIMEOUT`) and opens the conversation to the agents on a
/// timeout. With a model that takes 10 s, Fathom still answers the webhook at once, and the
/// reply arrives through the outbox when the model is done.
#[tokio::test]
async fn a_slow_model_never_makes_chatwoot_wait() {
    use fathom_answer::{
        AnswerConfig, AnswerEngine, Generator, LlmConfig, LlmGenerator, OpenAiChat, Prompts,
    };
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let model = MockServer::start().await;
    let completion = json!({
        "id": "chatcmpl-slow", "object": "chat.completion", "created": 1_776_000_000,
        "model": "slow-model",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant",
            "content": "{\"decision\": \"answer\", \"answer\": \"Click Forgot password on the sign-in page; the link is valid for 60 minutes.\", \"citations\": [\"S1\"]}"}}],
        "usage": {"prompt_tokens": 400, "completion_tokens": 30, "total_tokens": 430}
    });
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(completion)
                .set_delay(Duration::from_secs(10)),
        )
        .mount(&model)
        .await;
    let chatwoot = spawn_fake_chatwoot().await;
    let dir = std::sync::Arc::new(tempfile::TempDir::new().unwrap());
    let fixture = crate::helpers::knowledge(&dir).await;
    let mut llm = LlmConfig::new(format!("{}/v1", model.uri()), "slow-model");
    llm.timeout = Duration::from_secs(30);
    let generator: std::sync::Arc<dyn Generator> = std::sync::Arc::new(LlmGenerator::new(
        OpenAiChat::new(llm).unwrap(),
        Prompts::default(),
        false,
    ));
    let engine = AnswerEngine::new(
        fixture.retriever.clone(),
        AnswerConfig::default(),
        Some(generator),
    );
    let mut outbox = crate::helpers::fast_outbox();
    // The turn is leased for longer than the model takes.
    outbox.lease = Duration::from_secs(60);
    let app = spawn_app(Options {
        chatwoot_url: Some(chatwoot.url.clone()),
        engine: Some(std::sync::Arc::new(engine)),
        outbox,
        ..Options::default()
    })
    .await;
    let body = message_event(
        "message_created",
        &conversation(21, "pending"),
        &Message::incoming(1701, "How long is the password reset link valid?"),
    );

    let started = Instant::now();
    let (status, outcome) = status_of(deliver(&app, &body).await).await;
    let answered_in = started.elapsed();

    assert_eq!(status, StatusCode::OK);
    assert_eq!(outcome["status"], "queued", "{outcome}");
    assert!(
        answered_in < Duration::from_millis(200),
        "the webhook took {answered_in:?}"
    );
    let calls = chatwoot
        .wait_for_calls_within(1, Duration::from_secs(30))
        .await;
    assert!(started.elapsed() >= Duration::from_secs(10));
    assert_eq!(
        calls[0].path,
        "/api/v1/accounts/1/conversations/21/messages"
    );
    assert!(
        calls[0].body["content"]
            .as_str()
            .unwrap()
            .contains("60 minutes"),
        "{:#}",
        calls[0].body
    );
}

#[test]
fn the_fixtures_signature_is_chatwoots_formula() {
    // Python: "sha256=" + hmac.new(b"s3cret", b"1700000000." + body, sha256).hexdigest()
    assert_eq!(
        chatwoot_signature("s3cret", 1_700_000_000, r#"{"event":"message_created"}"#),
        "sha256=1148d6519d19bc982e21da3ea971b4d44137dd730a8f3176124ab2f419fe42fd"
    );
}
