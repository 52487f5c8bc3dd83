//! Three `fathom serve` processes on one Postgres database, each with its own copy of the index,
//! as behind a load balancer: a conversation started on one goes on through the others; a
//! customer following a conversation live on gateway A sees the agent's reply that the helpdesk
//! posted to gateway B; and with the helpdesk down, one gateway is SIGKILLed holding leased
//! events, yet after the helpdesk comes back every handoff event arrives exactly once, signed.
//!
//! Needs a Postgres server (`FATHOM_TEST_DATABASE_URL`, which scripts/test.sh sets to a
//! throwaway cluster); says it was skipped without one.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use common::{
    bearer, copy_dir, free_address, ingest, request, serve_command, spawn_receiver, wait_until,
    write_articles, write_gateway_config, ServerGuard, SECRET,
};
use fathom_gateway::WebhookSecret;
use serde_json::{json, Value};
use tempfile::TempDir;

const ADMIN_KEY: &str = "acme-admin-key-0123456789";
const INBOUND_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

/// `fathom serve` on `data` with conversations in the Postgres `database`.
fn spawn_gateway(
    data: &Path,
    config: &Path,
    database: &str,
    address: SocketAddr,
    log: &Path,
) -> ServerGuard {
    let mut command = serve_command(data, config, address);
    command
        .arg("--database")
        .arg(database)
        .stderr(std::fs::File::create(log).unwrap());
    let mut server = ServerGuard::spawn("fathom serve", &mut command).expect("fathom serve starts");
    server.wait_for_listener(address, log);
    server
}

fn create_conversation(gateway: SocketAddr) -> (String, String) {
    let (status, created) = request(
        gateway,
        "POST",
        "/v1/conversations",
        None,
        Some(&json!({"workspace": "acme"})),
    );
    assert_eq!(status, 201, "{created}");
    (
        created["conversation_id"].as_str().unwrap().to_string(),
        created["customer_token"].as_str().unwrap().to_string(),
    )
}

fn say(gateway: SocketAddr, id: &str, token: &str, text: &str) -> (u16, Value) {
    request(
        gateway,
        "POST",
        &format!("/v1/conversations/{id}/messages"),
        Some(&bearer(token)),
        Some(&json!({ "text": text })),
    )
}

/// An agent's reply, posted by the helpdesk to `gateway` as a signed Standard Webhook.
fn post_agent_reply(gateway: SocketAddr, conversation: &str, text: &str) -> u16 {
    let body = json!({
        "type": "agent.message",
        "workspace": "acme",
        "data": {"conversation_id": conversation, "text": text, "agent": {"name": "Dana"}},
    })
    .to_string();
    let id = format!("msg_{}", uuid_like());
    let timestamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let signature =
        WebhookSecret::parse(INBOUND_SECRET)
            .unwrap()
            .sign(&id, timestamp, body.as_bytes());
    let mut stream = TcpStream::connect(gateway).unwrap();
    write!(
        stream,
        "POST /v1/helpdesk/standard/events HTTP/1.1\r\nHost: {gateway}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nwebhook-id: {id}\r\nwebhook-timestamp: {timestamp}\r\n\
         webhook-signature: {signature}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut status_line = String::new();
    BufReader::new(stream).read_line(&mut status_line).unwrap();
    status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn uuid_like() -> String {
    format!(
        "{:x}{:x}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

/// A customer's SSE stream of a conversation, read line by line.
struct LiveStream(BufReader<TcpStream>);

impl LiveStream {
    fn open(gateway: SocketAddr, id: &str, token: &str) -> Self {
        let mut stream = TcpStream::connect(gateway).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        write!(
            stream,
            "GET /v1/conversations/{id}/events HTTP/1.1\r\nHost: {gateway}\r\n\
             Accept: text/event-stream\r\nAuthorization: Bearer {token}\r\n\r\n"
        )
        .unwrap();
        let mut reader = BufReader::new(stream);
        let mut status_line = String::new();
        reader.read_line(&mut status_line).unwrap();
        assert!(status_line.contains(" 200 "), "{status_line}");
        Self(reader)
    }

    /// The first `data:` line containing `needle`, within `timeout`.
    fn wait_for(&mut self, needle: &str, timeout: Duration) -> Option<String> {
        let started = Instant::now();
        let mut line = String::new();
        while started.elapsed() < timeout {
            line.clear();
            match self.0.read_line(&mut line) {
                Ok(0) => return None,
                Ok(_) if line.starts_with("data:") && line.contains(needle) => {
                    return Some(line.clone())
                }
                _ => {}
            }
        }
        None
    }
}

fn outbox(gateway: SocketAddr) -> Vec<(String, String, String, u64)> {
    let (_, outbox) = request(
        gateway,
        "GET",
        "/v1/admin/outbox",
        Some(&bearer(ADMIN_KEY)),
        None,
    );
    outbox["events"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|e| {
            (
                e["id"].as_str().unwrap_or_default().to_string(),
                e["event_type"].as_str().unwrap_or_default().to_string(),
                e["status"].as_str().unwrap_or_default().to_string(),
                e["attempts"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

#[test]
fn three_gateways_on_one_postgres_share_conversations_live_updates_and_the_outbox() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some(database) =
        runtime.block_on(fathom_conversations::testing::scratch_postgres("gateways"))
    else {
        return;
    };
    let dir = TempDir::new().unwrap();
    let articles = dir.path().join("articles");
    write_articles(
        &articles,
        &[(
            "password.md",
            "---\nid: reset-password\ntitle: Reset your password\n---\n\n# Reset your password\n\nClick Forgot password on the sign-in page; the link is valid for 60 minutes.\n",
        )],
    );
    // One index, copied: each gateway has its own, as on separate machines.
    let data_a = dir.path().join("data-a");
    ingest(&data_a, "acme", &articles);
    let data_b = dir.path().join("data-b");
    let data_c = dir.path().join("data-c");
    copy_dir(&data_a, &data_b);
    copy_dir(&data_a, &data_c);

    let helpdesk = free_address();
    let config = write_gateway_config(
        dir.path(),
        &format!(
            "[outbox]\ninitial_backoff = 0.2\nmax_backoff = 0.5\nlease = 3\npoll_interval = 0.2\n\n\
             [workspaces.acme]\nadmin_key = \"{ADMIN_KEY}\"\ninbound_secret = \"{INBOUND_SECRET}\"\n\n\
             [workspaces.acme.webhook]\nurl = \"http://{helpdesk}/hooks\"\nsecrets = [\"{SECRET}\"]\n"
        ),
    );
    let (a, b, c) = (free_address(), free_address(), free_address());
    let log = |name: &str| dir.path().join(format!("{name}.log"));
    let _gateway_a = spawn_gateway(&data_a, &config, &database, a, &log("a"));
    let _gateway_b = spawn_gateway(&data_b, &config, &database, b, &log("b"));
    let mut gateway_c = spawn_gateway(&data_c, &config, &database, c, &log("c"));
    let logs = || {
        ["a", "b", "c"]
            .iter()
            .map(|name| {
                format!(
                    "--- gateway {name} ---\n{}",
                    std::fs::read_to_string(log(name)).unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };

    // A conversation started on A goes on through B and is read back on C.
    let (id, token) = create_conversation(a);
    let (status, first) = say(a, &id, &token, "How do I reset my password?");
    assert_eq!(status, 200, "{first}");
    let (status, second) = say(b, &id, &token, "How long is the reset link valid?");
    assert_eq!(status, 200, "{second}");
    let (status, transcript) = request(
        c,
        "GET",
        &format!("/v1/conversations/{id}"),
        Some(&bearer(&token)),
        None,
    );
    assert_eq!(status, 200, "{transcript}");
    let texts: Vec<&str> = transcript["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "customer")
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        vec![
            "How do I reset my password?",
            "How long is the reset link valid?"
        ],
        "{transcript}"
    );

    // The customer follows the conversation live on A; the agent's reply reaches B.
    let mut live = LiveStream::open(a, &id, &token);
    assert_eq!(
        post_agent_reply(b, &id, "Hi, Dana here: I reset it for you."),
        200
    );
    let seen = live.wait_for("Dana here", Duration::from_secs(10));
    assert!(
        seen.is_some(),
        "the SSE subscriber on A saw the reply posted to B\n{}",
        logs()
    );

    // With the helpdesk down, three conversations hand off, one through each gateway.
    for gateway in [a, b, c] {
        let (id, token) = create_conversation(gateway);
        let (status, reply) = say(gateway, &id, &token, "I want to talk to a person");
        assert_eq!(
            (status, reply["state"].as_str()),
            (200, Some("handed_off")),
            "{reply}"
        );
    }
    let handoffs = |events: &[(String, String, String, u64)]| -> BTreeSet<String> {
        events
            .iter()
            .filter(|(_, kind, _, _)| kind == "conversation.handoff")
            .map(|(id, _, _, _)| id.clone())
            .collect()
    };
    wait_until(
        "every handoff event to have failed at least once",
        Duration::from_secs(20),
        &logs,
        || {
            let events = outbox(a);
            let tried = events
                .iter()
                .filter(|(_, kind, status, attempts)| {
                    kind == "conversation.handoff" && status == "pending" && *attempts >= 1
                })
                .count();
            tried == 3
        },
    );
    let written = handoffs(&outbox(a));
    assert_eq!(written.len(), 3);

    // C dies without a word (its leases run out), then the helpdesk comes up.
    gateway_c.sigkill();
    let received = spawn_receiver(TcpListener::bind(helpdesk).unwrap());
    wait_until(
        "every event to be delivered by the gateways still up",
        Duration::from_secs(40),
        &logs,
        || {
            outbox(b)
                .iter()
                .all(|(_, _, status, _)| status == "delivered")
        },
    );
    let received = received.lock().unwrap();
    let delivered: BTreeSet<String> = received.processed.iter().cloned().collect();
    assert!(
        written.is_subset(&delivered),
        "every handoff event arrived: {written:?} in {delivered:?}"
    );
    let mut ids: Vec<&String> = received.deliveries.iter().map(|(id, _)| id).collect();
    let total = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), total, "no event was sent twice");
    assert!(
        received.deliveries.iter().all(|(_, valid)| *valid),
        "every delivery was signed"
    );
}
