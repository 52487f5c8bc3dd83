//! A crash in the worst place: `fathom serve` hands a conversation off to Zendesk, Zendesk creates
//! the ticket, and the server is killed with SIGKILL before the answer (and so the ticket's id)
//! reaches it. Started again on the same data, it delivers the handoff again and must find that
//! ticket by its `external_id` rather than open a second one.
//!
//! Zendesk is a **contract stub** (`crates/gateway/tests/support/zendesk_stub.rs`): no Zendesk
//! runs here. It answers the Tickets API with the shapes Zendesk documents, and holds the answer
//! to the ticket creation forever, which puts the kill exactly between "created" and "recorded".

mod common;

#[path = "../../gateway/tests/support/zendesk_stub.rs"]
mod zendesk_stub;

use std::time::Duration;

use common::{
    bearer, free_address, ingest, request, spawn_server, wait_until, write_articles,
    write_gateway_config,
};
use serde_json::{json, Value};
use tempfile::TempDir;

const ADMIN_KEY: &str = "acme-admin-key-0123456789";
const EMAIL: &str = "fathom@acme.example";
const API_TOKEN: &str = "zendesk-api-token-0123456789";

#[test]
fn a_sigkill_between_creating_a_ticket_and_recording_its_id_leaves_one_ticket() {
    let zendesk = zendesk_stub::spawn_zendesk_stub_in_background(EMAIL, API_TOKEN);
    zendesk.hang_next_create();
    let dir = TempDir::new().unwrap();
    let data = dir.path().join("data");
    let articles = dir.path().join("articles");
    write_articles(
        &articles,
        &[(
            "password.md",
            "---\nid: reset-password\ntitle: Reset your password\n---\n\n# Reset your password\n\nClick Forgot password on the sign-in page.\n",
        )],
    );
    ingest(&data, "acme", &articles);
    let config = write_gateway_config(
        dir.path(),
        &format!(
            r#"
[outbox]
initial_backoff = 0.2
max_backoff = 1
request_timeout = 60
lease = 2
poll_interval = 0.2

[workspaces.acme]
admin_key = "{ADMIN_KEY}"

[workspaces.acme.zendesk]
base_url = "{}"
email = "{EMAIL}"
api_token = "{API_TOKEN}"
webhook_secret = "zendesk-signing-secret-0123456789"
"#,
            zendesk.url
        ),
    );
    let address = free_address();
    let log = dir.path().join("serve.log");
    let mut server = spawn_server(&data, &config, address, &log);
    let logs = || std::fs::read_to_string(dir.path().join("serve.log")).unwrap_or_default();

    let (status, created) = request(
        address,
        "POST",
        "/v1/conversations",
        None,
        Some(
            &json!({"workspace": "acme", "customer": {"name": "Ada Lovelace", "extra": {"email": "ada@example.com"}}}),
        ),
    );
    assert_eq!(status, 201, "{created}");
    let id = created["conversation_id"].as_str().unwrap().to_string();
    let token = created["customer_token"].as_str().unwrap().to_string();
    let (_, reply) = request(
        address,
        "POST",
        &format!("/v1/conversations/{id}/messages"),
        Some(&bearer(&token)),
        Some(&json!({"text": "I want to talk to a person"})),
    );
    assert_eq!(reply["state"], "handed_off", "{reply}");

    wait_until(
        "Zendesk to create the ticket",
        Duration::from_secs(30),
        &logs,
        || zendesk.tickets().len() == 1,
    );
    // The ticket exists; its answer is held: kill the server before it hears back.
    server.sigkill();
    assert_eq!(zendesk.tickets().len(), 1);

    let mut restarted = spawn_server(&data, &config, address, &log);
    wait_until(
        "the handoff delivered after the restart",
        Duration::from_secs(60),
        &logs,
        || {
            let (_, outbox) = request(
                address,
                "GET",
                "/v1/admin/outbox",
                Some(&bearer(ADMIN_KEY)),
                None,
            );
            outbox["events"]
                .as_array()
                .is_some_and(|events| events.len() == 1 && events[0]["status"] == "delivered")
        },
    );
    let tickets = zendesk.tickets();
    assert_eq!(tickets.len(), 1, "exactly one ticket: {tickets:#?}");
    assert_eq!(tickets[0].external_id.as_deref(), Some(id.as_str()));
    let creates = zendesk
        .calls()
        .iter()
        .filter(|c| c.method == "POST")
        .count();
    assert_eq!(
        creates, 1,
        "the retry looked the ticket up instead of creating one"
    );

    // The id was recorded on the retry: the customer's next message lands on that ticket.
    request(
        address,
        "POST",
        &format!("/v1/conversations/{id}/messages"),
        Some(&bearer(&token)),
        Some(&json!({"text": "Still there?"})),
    );
    wait_until(
        "the customer's comment on the ticket",
        Duration::from_secs(30),
        &logs,
        || zendesk.tickets()[0].comments.len() == 2,
    );
    let outbox: Value = request(
        address,
        "GET",
        "/v1/admin/outbox",
        Some(&bearer(ADMIN_KEY)),
        None,
    )
    .1;
    assert!(
        outbox["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["status"] != "dead"),
        "{outbox:#}"
    );
    restarted.sigkill();
}
