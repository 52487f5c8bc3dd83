//! The Zendesk adapter against a **contract stub** of Zendesk Support (`zendesk_stub`): no
//! Zendesk runs here, so the stub answers the Tickets API calls with the shapes Zendesk's API
//! reference documents and builds the event webhooks Zendesk sends, signed as Zendesk signs
//! them. Handoff, relay (customer → ticket, agent → customer) and resolve, 429 with
//! `Retry-After`, and a lost create answer that must not open a second ticket.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{
    fast_outbox, spawn_app, Created, Options, TestApp, ZENDESK_API_TOKEN, ZENDESK_EMAIL,
    ZENDESK_SECRET,
};
use crate::zendesk_stub::{
    now_timestamp, signature_headers, spawn_zendesk_stub, ZendeskStub, API_AGENT_ID,
};

async fn app_with_zendesk() -> (TestApp, ZendeskStub) {
    let zendesk = spawn_zendesk_stub(ZENDESK_EMAIL, ZENDESK_API_TOKEN).await;
    let app = spawn_app(Options {
        zendesk_url: Some(zendesk.url.clone()),
        ..Options::default()
    })
    .await;
    (app, zendesk)
}

/// A customer who gave their e-mail, asking for a person.
async fn handed_off(app: &TestApp) -> Created {
    let response = app
        .client
        .post(app.url("/v1/conversations"))
        .json(&json!({"workspace": "acme", "customer": {"name": "Ada Lovelace", "plan": "annual", "extra": {"email": "ada@example.com"}}}))
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    let conversation = Created {
        id: body["conversation_id"].as_str().unwrap().to_string(),
        token: body["customer_token"].as_str().unwrap().to_string(),
    };
    let reply = app
        .send_json(&conversation, "I want to talk to a person about my invoice")
        .await;
    assert_eq!(reply["state"], "handed_off", "{reply}");
    conversation
}

/// Post a Zendesk event webhook, signed with the webhook's signing secret.
async fn zendesk_event(app: &TestApp, body: &Value, secret: &str) -> reqwest::Response {
    let text = body.to_string();
    let mut request = app.client.post(app.url("/v1/helpdesk/zendesk/events"));
    for (name, value) in signature_headers(secret, &now_timestamp(), &text) {
        request = request.header(name, value);
    }
    request.body(text).send().await.unwrap()
}

/// Handoff: a ticket whose first comment is an internal note with the transcript, the customer
/// as requester, `external_id` = the conversation id, and the configured group and tags.
#[tokio::test]
async fn a_handoff_opens_one_ticket_with_the_transcript_as_an_internal_note() {
    let (app, zendesk) = app_with_zendesk().await;

    let conversation = handed_off(&app).await;

    let tickets = zendesk
        .wait_for("the handoff ticket", |t| t.len() == 1)
        .await;
    let ticket = &tickets[0];
    assert_eq!(
        ticket.external_id.as_deref(),
        Some(conversation.id.as_str())
    );
    assert_eq!(ticket.group_id, Some(360_123));
    assert!(
        ticket.tags.contains(&"fathom".to_string()),
        "{:?}",
        ticket.tags
    );
    assert!(
        ticket.tags.iter().any(|t| t.starts_with("fathom_")),
        "the reason is a tag: {:?}",
        ticket.tags
    );
    assert!(ticket
        .subject
        .starts_with("Chat: I want to talk to a person"));
    let note = &ticket.comments[0];
    assert!(!note.public, "the transcript is an internal note");
    assert!(
        note.body
            .contains("Customer: I want to talk to a person about my invoice"),
        "{}",
        note.body
    );
    assert!(note.body.contains(&conversation.id), "{}", note.body);
    let requester = zendesk.user(ticket.requester_id).unwrap();
    assert_eq!(requester.email.as_deref(), Some("ada@example.com"));
    assert_eq!(requester.name, "Ada Lovelace");
    let calls = zendesk.calls();
    assert_eq!(
        calls[0].method, "GET",
        "looked up by external_id first: {calls:#?}"
    );
    assert_eq!(
        calls[0].query.as_deref(),
        Some(format!("external_id={}", conversation.id).as_str())
    );
    app.wait_for_outbox("the handoff delivered", |events| {
        events.len() == 1 && events[0]["status"] == "delivered"
    })
    .await;
}

/// Relay both ways and resolve: the customer's next message is a public comment by the
/// requester; an agent's public comment reaches the customer, an internal note does not;
/// "solved" resolves the conversation.
#[tokio::test]
async fn messages_are_relayed_both_ways_and_solving_the_ticket_resolves_the_conversation() {
    let (app, zendesk) = app_with_zendesk().await;
    let conversation = handed_off(&app).await;
    let tickets = zendesk.wait_for("the ticket", |t| t.len() == 1).await;
    let ticket_id = tickets[0].id;
    app.wait_for_outbox("the handoff delivered", |events| {
        events[0]["status"] == "delivered"
    })
    .await;

    let response = app
        .send(&conversation, "My invoice number is 2024-117")
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let tickets = zendesk
        .wait_for("the customer's comment", |t| t[0].comments.len() == 2)
        .await;
    let comment = &tickets[0].comments[1];
    assert!(comment.public);
    assert_eq!(
        comment.author_id, tickets[0].requester_id,
        "written as the customer"
    );
    assert_eq!(comment.body, "My invoice number is 2024-117");

    let note = zendesk.agent_comment(ticket_id, "Checking with finance, internal", false);
    let reply = zendesk.agent_comment(ticket_id, "Hi Ada, your refund is on its way.", true);
    let (note_outcome, reply_outcome) = (
        zendesk_event(&app, &note, ZENDESK_SECRET).await,
        zendesk_event(&app, &reply, ZENDESK_SECRET).await,
    );
    let note_outcome: Value = note_outcome.json().await.unwrap();
    assert_eq!(note_outcome["status"], "ignored", "{note_outcome}");
    let reply_outcome: Value = reply_outcome.json().await.unwrap();
    assert_eq!(reply_outcome["status"], "applied", "{reply_outcome}");
    assert_eq!(reply_outcome["state"], "human");
    let again: Value = zendesk_event(&app, &reply, ZENDESK_SECRET)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        again["status"], "duplicate",
        "Zendesk retried the same event"
    );
    let transcript = app.transcript(&conversation).await;
    let agent: Vec<&Value> = transcript["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "agent")
        .collect();
    assert_eq!(agent.len(), 1, "{transcript:#}");
    assert_eq!(agent[0]["text"], "Hi Ada, your refund is on its way.");
    assert_eq!(agent[0]["author"], "Dana Scully");

    // Fathom's own comments come back as events too: not relayed.
    let own = crate::zendesk_stub::event_webhook(
        &zendesk.tickets()[0],
        "zen:event-type:ticket.comment_added",
        json!({"comment": {"id": 1, "body": "Customer: hi", "is_public": true,
            "author": {"id": API_AGENT_ID, "is_staff": true, "name": "Fathom"}}}),
    );
    let own: Value = zendesk_event(&app, &own, ZENDESK_SECRET)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(own["status"], "ignored", "{own}");

    let pending = zendesk.set_status(ticket_id, "pending");
    let pending: Value = zendesk_event(&app, &pending, ZENDESK_SECRET)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(pending["status"], "ignored", "{pending}");
    let solved = zendesk.set_status(ticket_id, "solved");
    let solved: Value = zendesk_event(&app, &solved, ZENDESK_SECRET)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(solved["state"], "resolved", "{solved}");
    assert_eq!(app.transcript(&conversation).await["state"], "resolved");
    let closed = zendesk.set_status(ticket_id, "closed");
    let closed: Value = zendesk_event(&app, &closed, ZENDESK_SECRET)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(closed["state"], "closed", "{closed}");
}

#[tokio::test]
async fn the_customer_marking_it_solved_in_fathom_solves_the_ticket() {
    let (app, zendesk) = app_with_zendesk().await;
    let conversation = handed_off(&app).await;
    zendesk.wait_for("the ticket", |t| t.len() == 1).await;

    let response = app
        .client
        .post(app.url(&format!("/v1/conversations/{}/feedback", conversation.id)))
        .bearer_auth(&conversation.token)
        .json(&json!({"resolved": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let tickets = zendesk
        .wait_for("the ticket solved", |t| t[0].status == "solved")
        .await;
    let last = tickets[0].comments.last().unwrap();
    assert!(!last.public, "an internal note says why");
}

#[tokio::test]
async fn a_429_is_retried_after_the_retry_after_zendesk_asks_for() {
    let (app, zendesk) = app_with_zendesk().await;
    zendesk.throttle(&[1]);
    let started = Instant::now();

    handed_off(&app).await;

    zendesk.wait_for("the ticket", |t| t.len() == 1).await;
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "retried after Retry-After (1 s), not the 50 ms backoff: {:?}",
        started.elapsed()
    );
    let throttled = zendesk.calls().iter().filter(|c| c.answered == 429).count();
    assert_eq!(throttled, 1);
    assert_eq!(zendesk.tickets().len(), 1);
}

/// The create succeeds in Zendesk but its answer never reaches Fathom (the request times out):
/// the retry finds the ticket by `external_id` instead of opening a second one. (The same with
/// a SIGKILL of the server: `crates/fathom/tests/zendesk_crash.rs`.)
#[tokio::test]
async fn a_lost_create_answer_never_opens_a_second_ticket() {
    let zendesk = spawn_zendesk_stub(ZENDESK_EMAIL, ZENDESK_API_TOKEN).await;
    zendesk.hang_next_create();
    let mut outbox = fast_outbox();
    outbox.request_timeout = Duration::from_millis(500);
    let app = spawn_app(Options {
        zendesk_url: Some(zendesk.url.clone()),
        outbox,
        ..Options::default()
    })
    .await;

    let conversation = handed_off(&app).await;

    app.wait_for_outbox("the handoff delivered on a retry", |events| {
        events.len() == 1 && events[0]["status"] == "delivered"
    })
    .await;
    let tickets = zendesk.tickets();
    assert_eq!(tickets.len(), 1, "{tickets:#?}");
    let creates = zendesk
        .calls()
        .iter()
        .filter(|c| c.method == "POST")
        .count();
    assert_eq!(creates, 1);

    // The link was recorded: the customer's next message lands on that ticket.
    app.send(&conversation, "Still there?").await;
    zendesk
        .wait_for("the comment on the one ticket", |t| {
            t[0].comments.len() == 2
        })
        .await;
}

#[tokio::test]
async fn unsigned_forged_and_stale_zendesk_webhooks_are_rejected() {
    let (app, zendesk) = app_with_zendesk().await;
    handed_off(&app).await;
    let tickets = zendesk.wait_for("the ticket", |t| t.len() == 1).await;
    let body = zendesk.agent_comment(tickets[0].id, "Hello from a forger", true);
    let text = body.to_string();

    let unsigned = app
        .client
        .post(app.url("/v1/helpdesk/zendesk/events"))
        .header("content-type", "application/json")
        .body(text.clone())
        .send()
        .await
        .unwrap();
    let forged = zendesk_event(&app, &body, "not-the-signing-secret-at-all").await;
    let mut stale = app.client.post(app.url("/v1/helpdesk/zendesk/events"));
    for (name, value) in signature_headers(ZENDESK_SECRET, "2021-07-25T10:00:00Z", &text) {
        stale = stale.header(name, value);
    }
    let stale = stale.body(text).send().await.unwrap();

    for (response, code) in [
        (unsigned, "missing_webhook_signature"),
        (forged, "invalid_webhook_signature"),
        (stale, "invalid_webhook_timestamp"),
    ] {
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{code}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["code"], code, "{error}");
    }
}
