//! Handoff to a real django-helpdesk, end to end: `e2e/helpdesk/run.sh` starts django-helpdesk
//! (PyPI `django-helpdesk`, SQLite) on a loopback port and `fathom serve` talks to it. A customer
//! asks for a person; the ticket appears in django-helpdesk with the (redacted) transcript; the
//! customer's next message becomes a follow-up; an agent's follow-up posted through
//! django-helpdesk's REST API comes back over its follow-up webhook and the customer reads it;
//! resolving and closing the ticket resolve and close the conversation.
//!
//! django-helpdesk must be installable (`.ci/run` runs `e2e/helpdesk/run.sh install`); if it
//! cannot be started this test fails and says why.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{
    bearer, free_address, ingest, repo_root, request, serve_command, wait_until, write_articles,
    write_gateway_config, ServerGuard,
};
use serde_json::{json, Value};
use tempfile::TempDir;

const ADMIN_KEY: &str = "acme-admin-key-0123456789";
const WEBHOOK_TOKEN: &str = "dh-token-5b0e1c7a9f2d4e6b8a3c";
const FATHOM_PASSWORD: &str = "fathom-e2e-password-4821";
const AGENT_PASSWORD: &str = "agent-e2e-password-7310";
/// The first start installs django-helpdesk into ~/.cache/fathom (about 20 s, longer on a slow
/// network); later starts take a few seconds.
const HELPDESK_START_TIMEOUT: Duration = Duration::from_secs(300);

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// What `run.sh serve` prints before the server starts.
struct Helpdesk {
    address: SocketAddr,
    queue_id: u64,
    _process: ServerGuard,
}

impl Helpdesk {
    fn as_user(&self, user: &str, password: &str) -> String {
        format!("Basic {}", base64(format!("{user}:{password}").as_bytes()))
    }

    fn fathom(&self) -> String {
        self.as_user("fathom", FATHOM_PASSWORD)
    }

    fn agent(&self) -> String {
        self.as_user("agent", AGENT_PASSWORD)
    }

    fn api(&self, method: &str, path: &str, auth: &str, body: Option<&Value>) -> (u16, Value) {
        request(
            self.address,
            method,
            &format!("/helpdesk/api/{path}"),
            Some(auth),
            body,
        )
    }
}

fn start_helpdesk(dir: &Path, fathom_inbound_url: &str) -> Helpdesk {
    let address = free_address();
    let script = repo_root().join("e2e/helpdesk/run.sh");
    let log_path = dir.join("helpdesk.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut command = Command::new(&script);
    command
        .args(["serve", &address.port().to_string()])
        .env("HELPDESK_DATA_DIR", dir.join("helpdesk"))
        .env("FATHOM_WEBHOOK_URL", fathom_inbound_url)
        .env("FATHOM_HELPDESK_PASSWORD", FATHOM_PASSWORD)
        .env("AGENT_PASSWORD", AGENT_PASSWORD)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log);
    let mut process = ServerGuard::spawn_in_own_process_group("django-helpdesk", &mut command)
        .unwrap_or_else(|error| {
            panic!(
                "django-helpdesk could not be started: {} failed to run: {error}",
                script.display()
            )
        });
    let stdout = process.child().stdout.take().unwrap();
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = sender.send(line);
    });
    let fail = |why: String| -> ! {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(30).collect::<Vec<_>>();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        panic!(
            "django-helpdesk could not be started ({} serve): {why}\n--- its log ---\n{}\n\
             (CI installs it with `e2e/helpdesk/run.sh install`; it needs python3 >= 3.10 with venv and PyPI)",
            script.display(),
            tail.join("\n")
        )
    };
    let setup: Value = match receiver.recv_timeout(HELPDESK_START_TIMEOUT) {
        Ok(line) if !line.trim().is_empty() => serde_json::from_str(&line)
            .unwrap_or_else(|error| fail(format!("unreadable setup line {line:?}: {error}"))),
        Ok(_) => {
            let status = process.child().wait().ok();
            fail(format!("it exited before it was set up ({status:?})"))
        }
        Err(_) => fail(format!("not set up within {HELPDESK_START_TIMEOUT:?}")),
    };
    if let Err(why) = process.wait_until_listening(address) {
        fail(why);
    }
    Helpdesk {
        address,
        queue_id: setup["queue_id"]
            .as_u64()
            .expect("queue_id in the setup line"),
        _process: process,
    }
}

fn start_fathom(dir: &Path, address: SocketAddr, helpdesk: &Helpdesk) -> ServerGuard {
    start_fathom_via(dir, address, helpdesk.address, helpdesk.queue_id)
}

/// `fathom serve` handing off to the django-helpdesk at `helpdesk_address` (or a proxy in front
/// of it); its config and data stay in `dir`, so it can be started again on them.
fn start_fathom_via(
    dir: &Path,
    address: SocketAddr,
    helpdesk_address: SocketAddr,
    queue_id: u64,
) -> ServerGuard {
    let articles = dir.join("articles");
    write_articles(
        &articles,
        &[(
            "password.md",
            "---\nid: reset-password\ntitle: Reset your password\nurl: https://help.example/reset-password\n---\n\n# Reset your password\n\nClick Forgot password on the sign-in page; the reset link is valid for 60 minutes.\n",
        )],
    );
    let data = dir.join("data");
    ingest(&data, "acme", &articles);
    // Written to `dir/gateway.toml`, where [`restart_fathom`] reads it.
    write_gateway_config(
        dir,
        &format!(
            r#"[outbox]
initial_backoff = 0.2
max_backoff = 1
poll_interval = 0.2
lease = 2

[workspaces.acme]
admin_key = "{ADMIN_KEY}"

[workspaces.acme.django_helpdesk]
base_url = "http://{}/helpdesk"
queue_id = {}
username = "fathom"
password = "{FATHOM_PASSWORD}"
webhook_token = "{WEBHOOK_TOKEN}"
"#,
            helpdesk_address, queue_id
        ),
    );
    restart_fathom(dir, address)
}

/// `fathom serve` on the data and config [`start_fathom_via`] left in `dir`.
fn restart_fathom(dir: &Path, address: SocketAddr) -> ServerGuard {
    let (data, config) = (dir.join("data"), dir.join("gateway.toml"));
    let log = dir.join("fathom.log");
    let mut command = serve_command(&data, &config, address);
    command.env("FATHOM_LOG", "info").stderr(
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap(),
    );
    let mut process = ServerGuard::spawn_in_own_process_group("fathom serve", &mut command)
        .expect("fathom serve starts");
    process.wait_for_listener(address, &log);
    process
}

fn transcript(gateway: SocketAddr, conversation: &str, token: &str) -> Value {
    let (status, body) = request(
        gateway,
        "GET",
        &format!("/v1/conversations/{conversation}"),
        Some(&bearer(token)),
        None,
    );
    assert_eq!(status, 200, "{body}");
    body
}

fn agent_messages(conversation: &Value) -> Vec<String> {
    conversation["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["role"] == "agent")
        .filter_map(|m| m["text"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn a_handoff_becomes_a_django_helpdesk_ticket_and_the_agents_follow_up_reaches_the_customer() {
    let dir = TempDir::new().unwrap();
    let gateway = free_address();
    let inbound =
        format!("http://{gateway}/v1/helpdesk/django-helpdesk/events?token={WEBHOOK_TOKEN}");
    let helpdesk = start_helpdesk(dir.path(), &inbound);
    let _fathom = start_fathom(dir.path(), gateway, &helpdesk);
    let log = || {
        let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap_or_default();
        format!(
            "--- fathom log ---\n{}\n--- django-helpdesk log ---\n{}",
            read("fathom.log"),
            read("helpdesk.log")
        )
    };

    // A customer talks to the bot, then asks for a person.
    let (status, created) = request(
        gateway,
        "POST",
        "/v1/conversations",
        None,
        Some(&json!({"workspace": "acme", "customer": {"name": "Ada"}})),
    );
    assert_eq!(status, 201, "{created}");
    let conversation = created["conversation_id"].as_str().unwrap().to_string();
    let token = created["customer_token"].as_str().unwrap().to_string();
    let say = |text: &str| {
        request(
            gateway,
            "POST",
            &format!("/v1/conversations/{conversation}/messages"),
            Some(&bearer(&token)),
            Some(&json!({ "text": text })),
        )
    };
    let (status, reply) = say("How do I reset my password?");
    assert_eq!(
        (status, reply["state"].as_str()),
        (200, Some("bot")),
        "{reply}"
    );
    let (status, reply) = say("I want to talk to a person, write to ada@example.com");
    assert_eq!(
        (status, reply["state"].as_str()),
        (200, Some("handed_off")),
        "{reply}"
    );

    // The ticket appears in django-helpdesk, carrying the transcript (redacted).
    let mut ticket = Value::Null;
    wait_until(
        "the handoff ticket in django-helpdesk",
        Duration::from_secs(30),
        &log,
        || {
            let (status, tickets) = helpdesk.api("GET", "tickets/", &helpdesk.fathom(), None);
            assert_eq!(status, 200, "listing tickets: {tickets}");
            ticket = tickets["results"][0].clone();
            !ticket.is_null()
        },
    );
    let ticket_id = ticket["id"].as_u64().unwrap();
    let description = ticket["description"].as_str().unwrap_or_default();
    assert_eq!(ticket["queue"].as_u64(), Some(helpdesk.queue_id));
    for expected in [
        "Customer: How do I reset my password?",
        "Customer: I want to talk to a person, write to [EMAIL_1]",
        "Bot: ",
        "Reason: ",
        "Summary: ",
        conversation.as_str(),
    ] {
        assert!(
            description.contains(expected),
            "{expected:?} missing from the ticket:\n{description}\n{}",
            log()
        );
    }
    assert!(
        !description.contains("ada@example.com"),
        "the e-mail address is redacted:\n{description}"
    );

    // While a person has it, the customer's messages become follow-ups on the ticket.
    let (status, accepted) = say("It is about my invoice too");
    assert_eq!(status, 202, "{accepted}");
    wait_until(
        "the customer's message as a follow-up",
        Duration::from_secs(30),
        &log,
        || {
            let (_, ticket) = helpdesk.api(
                "GET",
                &format!("tickets/{ticket_id}/"),
                &helpdesk.fathom(),
                None,
            );
            ticket["followup_set"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|f| f["comment"] == "Customer: It is about my invoice too")
        },
    );

    // The agent answers through django-helpdesk's API, which calls Fathom's webhook before it
    // answers. An internal note stays in the helpdesk; the public reply reaches the customer.
    let agent_follow_up = |comment: &str, public: bool, new_status: Option<u64>| {
        let mut body = json!({"ticket": ticket_id, "comment": comment, "public": public});
        if let Some(status) = new_status {
            body["new_status"] = status.into();
        }
        let (status, created) = helpdesk.api("POST", "followups/", &helpdesk.agent(), Some(&body));
        assert_eq!(status, 201, "posting {body}: {created}\n{}", log());
    };
    agent_follow_up("internal: check billing", false, None);
    agent_follow_up("Hi Ada, Dana here. I will reset it for you.", true, None);
    let seen = transcript(gateway, &conversation, &token);
    assert_eq!(
        agent_messages(&seen),
        vec!["Hi Ada, Dana here. I will reset it for you.".to_string()],
        "the webhook delivered the reply before django-helpdesk answered: {seen}"
    );
    assert_eq!(seen["state"], "human", "{seen}");

    // Resolving the ticket resolves the conversation; closing it closes it.
    agent_follow_up("Done: the password is reset.", true, Some(3));
    let seen = transcript(gateway, &conversation, &token);
    assert_eq!(seen["state"], "resolved", "{seen}");
    assert_eq!(
        agent_messages(&seen).last().map(String::as_str),
        Some("Done: the password is reset.")
    );
    agent_follow_up("", false, Some(4));
    let seen = transcript(gateway, &conversation, &token);
    assert_eq!(seen["state"], "closed", "{seen}");
    assert_eq!(agent_messages(&seen).len(), 2, "{seen}");

    // A wrong token is refused.
    let (status, refused) = request(
        gateway,
        "POST",
        "/v1/helpdesk/django-helpdesk/events?token=not-the-token-0000000000",
        None,
        Some(&json!({"ticket": {"id": ticket_id}})),
    );
    assert_eq!(
        (status, refused["code"].as_str()),
        (401, Some("invalid_webhook_signature"))
    );
}

/// A pass-through proxy in front of django-helpdesk that, once, lets a ticket creation reach
/// django-helpdesk and holds its answer forever: the ticket exists, and whoever asked never
/// learns its id.
struct HoldingProxy {
    address: SocketAddr,
    /// Turns true when the held creation has been answered by django-helpdesk.
    created: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

fn read_request(stream: &mut std::net::TcpStream) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut request = Vec::new();
    let mut buffer = [0u8; 8192];
    loop {
        let read = stream.read(&mut buffer).ok()?;
        if read == 0 {
            return None;
        }
        request.extend_from_slice(&buffer[..read]);
        let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&request[..end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        if request.len() >= end + 4 + length {
            return Some(request);
        }
    }
}

fn start_holding_proxy(helpdesk: SocketAddr) -> HoldingProxy {
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicBool, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let created = std::sync::Arc::new(AtomicBool::new(false));
    let held = std::sync::Arc::new(AtomicBool::new(false));
    let (created_flag, held_flag) = (created.clone(), held.clone());
    std::thread::spawn(move || {
        let mut parked = Vec::new();
        for stream in listener.incoming() {
            let Ok(mut client) = stream else { continue };
            let Some(request) = read_request(&mut client) else {
                continue;
            };
            let text = String::from_utf8_lossy(&request).into_owned();
            // One request per connection: django-helpdesk is asked to close it, and its answer
            // (which then says so) tells the client to close too.
            let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
            let mut lines: Vec<&str> = head
                .lines()
                .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
                .collect();
            lines.push("Connection: close");
            let forwarded = format!("{}\r\n\r\n{body}", lines.join("\r\n"));
            let mut upstream = std::net::TcpStream::connect(helpdesk).unwrap();
            upstream.write_all(forwarded.as_bytes()).unwrap();
            let mut response = Vec::new();
            let _ = upstream.read_to_end(&mut response);
            let creates_ticket = text.starts_with("POST /helpdesk/api/tickets/ ");
            if creates_ticket && !held_flag.swap(true, Ordering::SeqCst) {
                created_flag.store(true, Ordering::SeqCst);
                parked.push(client);
                continue;
            }
            let _ = client.write_all(&response);
        }
    });
    HoldingProxy { address, created }
}

/// A crash in the worst place: django-helpdesk has created the handoff ticket and `fathom serve`
/// is killed (SIGKILL) before the answer, and so the ticket's id, reaches it. Started again, it
/// delivers the handoff again and must find that ticket (by the marker line its description
/// ends with) rather than open a second one.
#[test]
fn a_sigkill_between_creating_a_django_helpdesk_ticket_and_recording_its_id_leaves_one_ticket() {
    use std::sync::atomic::Ordering;
    let dir = TempDir::new().unwrap();
    let gateway = free_address();
    let inbound =
        format!("http://{gateway}/v1/helpdesk/django-helpdesk/events?token={WEBHOOK_TOKEN}");
    let helpdesk = start_helpdesk(dir.path(), &inbound);
    // Another ticket in the queue first, so the lookup has to tell tickets apart.
    let (status, other) = helpdesk.api(
        "POST",
        "tickets/",
        &helpdesk.agent(),
        Some(&json!({"queue": helpdesk.queue_id, "title": "Printer on fire", "description": "Someone else's problem", "priority": 3})),
    );
    assert_eq!(status, 201, "{other}");
    let proxy = start_holding_proxy(helpdesk.address);
    let mut fathom = start_fathom_via(dir.path(), gateway, proxy.address, helpdesk.queue_id);
    let log = || {
        let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap_or_default();
        format!(
            "--- fathom log ---\n{}\n--- django-helpdesk log ---\n{}",
            read("fathom.log"),
            read("helpdesk.log")
        )
    };

    let (status, created) = request(
        gateway,
        "POST",
        "/v1/conversations",
        None,
        Some(&json!({"workspace": "acme", "customer": {"name": "Ada"}})),
    );
    assert_eq!(status, 201, "{created}");
    let conversation = created["conversation_id"].as_str().unwrap().to_string();
    let token = created["customer_token"].as_str().unwrap().to_string();
    let (_, reply) = request(
        gateway,
        "POST",
        &format!("/v1/conversations/{conversation}/messages"),
        Some(&bearer(&token)),
        Some(&json!({"text": "I want to talk to a person"})),
    );
    assert_eq!(reply["state"], "handed_off", "{reply}");
    wait_until(
        "django-helpdesk to create the ticket",
        Duration::from_secs(30),
        &log,
        || proxy.created.load(Ordering::SeqCst),
    );
    fathom.sigkill();

    let _restarted = restart_fathom(dir.path(), gateway);
    wait_until(
        "the handoff delivered after the restart",
        Duration::from_secs(60),
        &log,
        || {
            let (_, outbox) = request(
                gateway,
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
    let (status, tickets) = helpdesk.api("GET", "tickets/?page_size=100", &helpdesk.fathom(), None);
    assert_eq!(status, 200, "{tickets}");
    let ours: Vec<&Value> = tickets["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| {
            t["description"]
                .as_str()
                .is_some_and(|d| d.contains(&conversation))
        })
        .collect();
    assert_eq!(
        ours.len(),
        1,
        "exactly one ticket for the conversation: {tickets:#}\n{}",
        log()
    );

    // The id was recorded: the customer's next message is a follow-up on that ticket.
    let ticket_id = ours[0]["id"].as_u64().unwrap();
    request(
        gateway,
        "POST",
        &format!("/v1/conversations/{conversation}/messages"),
        Some(&bearer(&token)),
        Some(&json!({"text": "Still there?"})),
    );
    wait_until(
        "the customer's message as a follow-up on that ticket",
        Duration::from_secs(30),
        &log,
        || {
            let (_, ticket) = helpdesk.api(
                "GET",
                &format!("tickets/{ticket_id}/"),
                &helpdesk.fathom(),
                None,
            );
            ticket["followup_set"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|f| f["comment"] == "Customer: Still there?")
        },
    );
}
