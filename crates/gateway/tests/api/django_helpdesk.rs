//! The django-helpdesk adapter against a fake django-helpdesk API: handoffs become tickets and
//! customer messages follow-ups (through the outbox); its follow-up webhook, authenticated by the
//! token in the URL, brings agents' replies and ticket status back. The real django-helpdesk runs
//! in `crates/fathom/tests/helpdesk_e2e.rs`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use http::StatusCode;
use serde_json::{json, Value};
use tokio::net::TcpListener;

use crate::helpers::{
    serve, spawn_app, sse_events, Created, Options, TestApp, DJANGO_HELPDESK_PASSWORD,
    DJANGO_HELPDESK_QUEUE, DJANGO_HELPDESK_TOKEN,
};

const TICKET: u64 = 42;
/// django-helpdesk user ids: Fathom's API user opens the tickets, the agent answers them.
const FATHOM_USER: u64 = 1;
const AGENT_USER: u64 = 2;

#[derive(Debug, Clone)]
struct Call {
    path: String,
    authorization: Option<String>,
    body: Value,
}

#[derive(Clone, Default)]
struct FakeHelpdesk {
    url: String,
    calls: Arc<Mutex<Vec<Call>>>,
}

impl FakeHelpdesk {
    async fn wait_for_calls(&self, count: usize) -> Vec<Call> {
        for _ in 0..200 {
            let calls = self.calls.lock().unwrap().clone();
            if calls.len() >= count {
                return calls;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "timed out waiting for {count} django-helpdesk calls; got {:#?}",
            self.calls.lock().unwrap()
        );
    }
}

async fn helpdesk_api(
    State(fake): State<FakeHelpdesk>,
    uri: http::Uri,
    headers: http::HeaderMap,
    body: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    fake.calls.lock().unwrap().push(Call {
        path: uri.path().to_string(),
        authorization: headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        body: body.clone(),
    });
    let created = if uri.path().ends_with("/tickets/") {
        json!({"id": TICKET, "queue": body["queue"], "description": body["description"], "status": 1})
    } else {
        json!({"id": 100, "ticket": body["ticket"]})
    };
    (StatusCode::CREATED, created.to_string()).into_response()
}

async fn spawn_fake_helpdesk() -> FakeHelpdesk {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let fake = FakeHelpdesk {
        url: format!("http://{}/helpdesk", listener.local_addr().unwrap()),
        calls: Arc::default(),
    };
    let router = Router::new()
        .route("/helpdesk/api/{resource}/", post(helpdesk_api))
        .with_state(fake.clone());
    serve(listener, router);
    fake
}

async fn app_with_helpdesk() -> (TestApp, FakeHelpdesk) {
    let helpdesk = spawn_fake_helpdesk().await;
    let app = spawn_app(Options {
        django_helpdesk_url: Some(helpdesk.url.clone()),
        ..Options::default()
    })
    .await;
    (app, helpdesk)
}

async fn handed_off(app: &TestApp, helpdesk: &FakeHelpdesk) -> Created {
    let conversation = app.create_conversation("acme").await;
    let reply = app
        .send_json(
            &conversation,
            "I want to talk to a person, mail me at ada@example.com",
        )
        .await;
    assert_eq!(reply["state"], "handed_off", "{reply}");
    helpdesk.wait_for_calls(1).await;
    conversation
}

/// django-helpdesk's follow-up webhook body for ticket 42: the ticket with its follow-ups
/// (`(id, user, comment, public)`), its status, and the follow-up that triggered it.
fn webhook(status: u64, followups: &[(u64, u64, &str, bool)]) -> Value {
    let followup_set: Vec<Value> = followups
        .iter()
        .map(|(id, user, comment, public)| {
            json!({"id": id, "ticket": TICKET, "user": user, "title": "Comment", "comment": comment,
                   "public": public, "new_status": null, "date": "2026-11-28T06:00:00Z"})
        })
        .collect();
    json!({
        "ticket": {"id": TICKET, "queue": DJANGO_HELPDESK_QUEUE, "title": "Chat", "status": status,
                   "followup_set": followup_set},
        "queue_slug": "fathom",
        "followup_id": followups.last().map(|f| f.0),
    })
}

async fn post_webhook(app: &TestApp, token: Option<&str>, body: &Value) -> reqwest::Response {
    let path = match token {
        Some(token) => format!("/v1/helpdesk/django-helpdesk/events?token={token}"),
        None => "/v1/helpdesk/django-helpdesk/events".to_string(),
    };
    app.client
        .post(app.url(&path))
        .json(body)
        .send()
        .await
        .unwrap()
}

fn agent_texts(transcript: &Value) -> Vec<String> {
    transcript["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "agent")
        .map(|m| m["text"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_handoff_creates_a_ticket_with_the_redacted_transcript_and_later_messages_follow_it() {
    let (app, helpdesk) = app_with_helpdesk().await;

    let conversation = handed_off(&app, &helpdesk).await;
    let accepted = app.send(&conversation, "it is about my invoice").await;

    assert_eq!(accepted.status(), StatusCode::ACCEPTED);
    let calls = helpdesk.wait_for_calls(2).await;
    let ticket = &calls[0];
    assert_eq!(ticket.path, "/helpdesk/api/tickets/");
    let basic = format!(
        "Basic {}",
        base64_basic(&format!("fathom:{DJANGO_HELPDESK_PASSWORD}"))
    );
    assert_eq!(ticket.authorization.as_deref(), Some(basic.as_str()));
    assert_eq!(ticket.body["queue"], DJANGO_HELPDESK_QUEUE);
    let description = ticket.body["description"].as_str().unwrap();
    assert!(
        description.contains("Customer: I want to talk to a person, mail me at [EMAIL_1]"),
        "{description}"
    );
    assert!(
        description.contains("Reason: customer_requested_human"),
        "{description}"
    );
    assert!(description.contains(&conversation.id), "{description}");
    assert!(!description.contains("ada@example.com"), "{description}");
    assert_eq!(calls[1].path, "/helpdesk/api/followups/");
    assert_eq!(calls[1].body["ticket"], TICKET);
    assert_eq!(calls[1].body["comment"], "Customer: it is about my invoice");
    let outbox = app
        .wait_for_outbox("both events delivered", |events| {
            events.len() == 2 && events.iter().all(|e| e["status"] == "delivered")
        })
        .await;
    assert_eq!(
        outbox[0]["event_type"], "conversation.handoff",
        "{outbox:#?}"
    );
}

#[tokio::test]
async fn agent_follow_ups_reach_the_customer_once_and_a_closed_ticket_closes_the_conversation() {
    let (app, helpdesk) = app_with_helpdesk().await;
    let conversation = handed_off(&app, &helpdesk).await;
    let opened = (1, FATHOM_USER, "transcript…", true);
    let note = (2, AGENT_USER, "internal: check billing", false);
    let reply = (3, AGENT_USER, "Hi Ada, Dana here.", true);
    let from_fathom = (4, FATHOM_USER, "Customer: thanks", true);

    // The agent's public reply arrives; the ticket's opening and the internal note do not.
    let first = post_webhook(
        &app,
        Some(DJANGO_HELPDESK_TOKEN),
        &webhook(1, &[opened, note, reply]),
    )
    .await;
    assert_eq!(first.status(), StatusCode::OK);
    let transcript = app.transcript(&conversation).await;
    assert_eq!(agent_texts(&transcript), vec!["Hi Ada, Dana here."]);
    assert_eq!(transcript["state"], "human");

    // Fathom's own follow-up (the customer's message) and a redelivery change nothing.
    let again = post_webhook(
        &app,
        Some(DJANGO_HELPDESK_TOKEN),
        &webhook(1, &[opened, note, reply, from_fathom]),
    )
    .await;
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["status"], "duplicate", "{again}");
    assert_eq!(agent_texts(&app.transcript(&conversation).await).len(), 1);

    // Closing the ticket closes the conversation.
    let closed = post_webhook(
        &app,
        Some(DJANGO_HELPDESK_TOKEN),
        &webhook(
            4,
            &[opened, note, reply, from_fathom, (5, AGENT_USER, "", false)],
        ),
    )
    .await;
    let closed: Value = closed.json().await.unwrap();
    assert_eq!(closed["state"], "closed", "{closed}");
    assert_eq!(app.transcript(&conversation).await["state"], "closed");
}

#[tokio::test]
async fn a_resolved_ticket_resolves_the_conversation_and_the_live_stream_shows_it() {
    let (app, helpdesk) = app_with_helpdesk().await;
    let conversation = handed_off(&app, &helpdesk).await;
    let mut live = app
        .client
        .get(app.url(&format!("/v1/conversations/{}/events", conversation.id)))
        .bearer_auth(&conversation.token)
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), StatusCode::OK);

    let resolved = post_webhook(
        &app,
        Some(DJANGO_HELPDESK_TOKEN),
        &webhook(
            3,
            &[
                (1, FATHOM_USER, "transcript…", true),
                (2, AGENT_USER, "Refunded.", true),
            ],
        ),
    )
    .await;

    assert_eq!(resolved.status(), StatusCode::OK);
    let transcript = app.transcript(&conversation).await;
    assert_eq!(transcript["state"], "resolved");
    assert_eq!(agent_texts(&transcript), vec!["Refunded."]);
    let mut streamed = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(chunk) = live.chunk().await.unwrap() {
            streamed.push_str(&String::from_utf8_lossy(&chunk));
            if streamed.contains("Refunded.") && streamed.contains("resolved") {
                break;
            }
        }
    })
    .await;
    let events = sse_events(&streamed);
    assert!(
        events
            .iter()
            .any(|(name, data)| name == "message" && data.contains("Refunded.")),
        "{streamed}"
    );
    assert!(
        events
            .iter()
            .any(|(name, data)| name == "state" && data.contains("resolved")),
        "{streamed}"
    );
}

#[tokio::test]
async fn webhooks_without_the_right_token_are_refused_and_unknown_tickets_ignored() {
    let (app, _helpdesk) = app_with_helpdesk().await;
    let body = webhook(1, &[(1, AGENT_USER, "hello", true)]);

    let missing = post_webhook(&app, None, &body).await;
    let wrong = post_webhook(&app, Some("not-the-token-000000000000"), &body).await;
    let unknown = post_webhook(&app, Some(DJANGO_HELPDESK_TOKEN), &body).await;

    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
    let missing: Value = missing.json().await.unwrap();
    assert_eq!(missing["code"], "missing_webhook_signature");
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let wrong: Value = wrong.json().await.unwrap();
    assert_eq!(wrong["code"], "invalid_webhook_signature");
    assert_eq!(unknown.status(), StatusCode::OK);
    let unknown: Value = unknown.json().await.unwrap();
    assert_eq!(unknown["status"], "ignored", "{unknown}");
}

fn base64_basic(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}
