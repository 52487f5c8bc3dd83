//! A **contract stub** of Zendesk Support: no Zendesk runs here (it is a paid SaaS), so this
//! answers the Tickets API calls Fathom makes with the shapes Zendesk's API reference documents
//! (developer.zendesk.com → Ticketing → Tickets; Webhooks → Ticket events), and builds the event
//! webhooks Zendesk sends, signed as its "Verifying webhook authenticity" page says:
//!
//! - `GET /api/v2/tickets?external_id=…` → `{"tickets": [...], "next_page": null,
//!   "previous_page": null, "count": n}` (List Tickets, filtered by external id);
//! - `POST /api/v2/tickets` `{"ticket": {...}}` → `201 {"ticket": {...}, "audit": {...}}`; a
//!   `requester` with an e-mail is found or created as an end user; `comment.body` is required
//!   (`422 RecordInvalid` otherwise);
//! - `GET /api/v2/tickets/{id}` → `{"ticket": {...}}` (`404 RecordNotFound`);
//! - `PUT /api/v2/tickets/{id}` `{"ticket": {"comment"?, "status"?}}` → `{"ticket", "audit"}`; a
//!   closed ticket takes no update (`422`);
//! - HTTP Basic `{email}/token:{api_token}` (`401 Couldn't authenticate you` otherwise);
//! - scripted `429 Too Many Requests` with `Retry-After`, and a create that never answers (the
//!   ticket exists, the response never comes), to put a crash in the window between creating a
//!   ticket and recording its id.
//!
//! Shared by the gateway's API tests and the `fathom` binary's crash test (included by path).

#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use http::{HeaderMap, Method, StatusCode, Uri};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use serde_json::{json, Value};
use tokio::net::TcpListener;

/// Fathom's agent in the stub (the API user): staff.
pub const API_AGENT_ID: u64 = 900;
/// A human agent who answers tickets: staff.
pub const HUMAN_AGENT_ID: u64 = 555;
pub const ACCOUNT_ID: u64 = 22_129_848;

#[derive(Debug, Clone)]
pub struct Comment {
    pub id: u64,
    pub author_id: u64,
    pub body: String,
    pub public: bool,
}

#[derive(Debug, Clone)]
pub struct Ticket {
    pub id: u64,
    pub external_id: Option<String>,
    pub subject: String,
    pub status: String,
    pub requester_id: u64,
    pub submitter_id: u64,
    pub group_id: Option<u64>,
    pub tags: Vec<String>,
    pub comments: Vec<Comment>,
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: u64,
    pub name: String,
    pub email: Option<String>,
    pub staff: bool,
}

/// A request the stub received.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub body: Value,
    pub answered: u16,
}

#[derive(Debug, Default)]
pub struct StubState {
    pub tickets: Vec<Ticket>,
    pub users: Vec<User>,
    pub calls: Vec<Call>,
    /// The next requests answered `429` with this `Retry-After` (seconds), one per entry.
    pub throttle: VecDeque<u64>,
    /// The next ticket creation stores the ticket and never answers.
    pub hang_next_create: bool,
    next_id: u64,
}

impl StubState {
    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }
}

#[derive(Clone)]
pub struct ZendeskStub {
    pub url: String,
    pub email: String,
    pub api_token: String,
    pub state: Arc<Mutex<StubState>>,
}

fn zendesk_time() -> String {
    "2026-04-12T13:20:00Z".to_string()
}

fn error(status: StatusCode, body: Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response
        .headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    response
}

impl ZendeskStub {
    pub fn tickets(&self) -> Vec<Ticket> {
        self.state.lock().unwrap().tickets.clone()
    }

    pub fn calls(&self) -> Vec<Call> {
        self.state.lock().unwrap().calls.clone()
    }

    pub fn throttle(&self, retry_after: &[u64]) {
        self.state.lock().unwrap().throttle.extend(retry_after);
    }

    pub fn hang_next_create(&self) {
        self.state.lock().unwrap().hang_next_create = true;
    }

    pub fn user(&self, id: u64) -> Option<User> {
        self.state
            .lock()
            .unwrap()
            .users
            .iter()
            .find(|u| u.id == id)
            .cloned()
    }

    /// Wait (polling, async) until `check` holds for the tickets.
    pub async fn wait_for(&self, what: &str, check: impl Fn(&[Ticket]) -> bool) -> Vec<Ticket> {
        for _ in 0..300 {
            let tickets = self.tickets();
            if check(&tickets) {
                return tickets;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "timed out waiting for {what}; tickets: {:#?}",
            self.tickets()
        );
    }

    /// A human agent answers on the ticket: the comment, and the `ticket.comment_added` event
    /// webhook Zendesk sends for it.
    pub fn agent_comment(&self, ticket_id: u64, body: &str, public: bool) -> Value {
        let mut state = self.state.lock().unwrap();
        let id = state.next_id() + 9_876_540_000;
        let ticket = state
            .tickets
            .iter_mut()
            .find(|t| t.id == ticket_id)
            .expect("no such ticket");
        ticket.comments.push(Comment {
            id,
            author_id: HUMAN_AGENT_ID,
            body: body.to_string(),
            public,
        });
        if ticket.status == "new" {
            ticket.status = "open".into();
        }
        let ticket = ticket.clone();
        event_webhook(
            &ticket,
            "zen:event-type:ticket.comment_added",
            json!({"comment": {
                "id": id,
                "body": body,
                "is_public": public,
                "author": {"id": HUMAN_AGENT_ID, "is_staff": true, "name": "Dana Scully"}
            }}),
        )
    }

    /// An agent changes the ticket's status: the `ticket.status_changed` event webhook.
    pub fn set_status(&self, ticket_id: u64, status: &str) -> Value {
        let mut state = self.state.lock().unwrap();
        let ticket = state
            .tickets
            .iter_mut()
            .find(|t| t.id == ticket_id)
            .expect("no such ticket");
        let previous = std::mem::replace(&mut ticket.status, status.to_string());
        let ticket = ticket.clone();
        event_webhook(
            &ticket,
            "zen:event-type:ticket.status_changed",
            json!({"current": status.to_uppercase(), "previous": previous.to_uppercase()}),
        )
    }
}

/// A Zendesk event webhook body (`zendesk_event_version` 2022-11-06): `detail` is the ticket
/// (ids as strings, status upper-case), `event` the change.
pub fn event_webhook(ticket: &Ticket, event_type: &str, event: Value) -> Value {
    json!({
        "account_id": ACCOUNT_ID,
        "detail": {
            "actor_id": HUMAN_AGENT_ID.to_string(),
            "assignee_id": null,
            "brand_id": "360001",
            "created_at": zendesk_time(),
            "custom_status": "1",
            "description": ticket.comments.first().map(|c| c.body.clone()).unwrap_or_default(),
            "external_id": ticket.external_id,
            "form_id": "360002",
            "group_id": ticket.group_id.map(|g| g.to_string()),
            "id": ticket.id.to_string(),
            "is_public": ticket.comments.iter().any(|c| c.public),
            "organization_id": null,
            "priority": null,
            "requester_id": ticket.requester_id.to_string(),
            "status": ticket.status.to_uppercase(),
            "subject": ticket.subject,
            "submitter_id": ticket.submitter_id.to_string(),
            "tags": ticket.tags,
            "type": null,
            "updated_at": zendesk_time(),
            "via": {"channel": "api"}
        },
        "event": event,
        "id": format!("d4f5c389-8f4a-4c2e-a1b9-{:012x}", rand_suffix()),
        "subject": format!("zen:ticket:{}", ticket.id),
        "time": "2026-04-12T13:20:00.123456789Z",
        "type": event_type,
        "zendesk_event_version": "2022-11-06"
    })
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// `X-Zendesk-Webhook-Signature` and `-Timestamp` for a body, per Zendesk's page:
/// `base64(HMACSHA256(TIMESTAMP + BODY))`, computed here, not with the gateway's code.
pub fn signature_headers(secret: &str, timestamp: &str, body: &str) -> Vec<(String, String)> {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2_010::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(timestamp.as_bytes());
    mac.update(body.as_bytes());
    vec![
        ("content-type".into(), "application/json".into()),
        ("x-zendesk-webhook-id".into(), "01HXYZWEBHOOK".into()),
        (
            "x-zendesk-webhook-invocation-id".into(),
            rand_suffix().to_string(),
        ),
        (
            "x-zendesk-webhook-signature".into(),
            BASE64.encode(mac.finalize().into_bytes()),
        ),
        (
            "x-zendesk-webhook-signature-timestamp".into(),
            timestamp.to_string(),
        ),
    ]
}

/// Now, as Zendesk writes the signature timestamp (`2026-04-12T13:20:00Z`).
pub fn now_timestamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    // Civil from days (Howard Hinnant's algorithm), to avoid a date library in a test stub.
    let days = now.div_euclid(86_400);
    let secs = now.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

fn ticket_json(stub_url: &str, ticket: &Ticket) -> Value {
    json!({
        "url": format!("{stub_url}/api/v2/tickets/{}.json", ticket.id),
        "id": ticket.id,
        "external_id": ticket.external_id,
        "via": {"channel": "api", "source": {"from": {}, "to": {}, "rel": null}},
        "created_at": zendesk_time(),
        "updated_at": zendesk_time(),
        "type": null,
        "subject": ticket.subject,
        "raw_subject": ticket.subject,
        "description": ticket.comments.first().map(|c| c.body.clone()).unwrap_or_default(),
        "priority": null,
        "status": ticket.status,
        "recipient": null,
        "requester_id": ticket.requester_id,
        "submitter_id": ticket.submitter_id,
        "assignee_id": null,
        "organization_id": null,
        "group_id": ticket.group_id,
        "collaborator_ids": [],
        "follower_ids": [],
        "email_cc_ids": [],
        "forum_topic_id": null,
        "problem_id": null,
        "has_incidents": false,
        "is_public": ticket.comments.iter().any(|c| c.public),
        "due_at": null,
        "tags": ticket.tags,
        "custom_fields": [],
        "satisfaction_rating": null,
        "sharing_agreement_ids": [],
        "fields": [],
        "followup_ids": [],
        "brand_id": 360_001,
        "allow_channelback": false,
        "allow_attachments": true,
        "from_messaging_channel": false
    })
}

fn audit_json(ticket: &Ticket, author_id: u64) -> Value {
    json!({
        "id": ticket.comments.last().map_or(1, |c| c.id + 1),
        "ticket_id": ticket.id,
        "created_at": zendesk_time(),
        "author_id": author_id,
        "metadata": {"system": {}, "custom": {}},
        "events": ticket.comments.last().map(|c| json!([{
            "id": c.id, "type": "Comment", "author_id": c.author_id, "body": c.body,
            "public": c.public, "attachments": []
        }])).unwrap_or(json!([]))
    })
}

fn authorized(stub: &ZendeskStub, headers: &HeaderMap) -> bool {
    let expected = format!(
        "Basic {}",
        BASE64.encode(format!("{}/token:{}", stub.email, stub.api_token))
    );
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == expected)
}

fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(query?)
        .ok()?
        .into_iter()
        .find_map(|(key, value)| (key == name).then_some(value))
}

async fn handle(
    State(stub): State<ZendeskStub>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let path = uri.path().trim_end_matches(".json").to_string();
    let query = uri.query().map(str::to_string);
    let (response, hang) = answer(&stub, &method, &path, query.as_deref(), &headers, &body);
    stub.state.lock().unwrap().calls.push(Call {
        method: method.to_string(),
        path,
        query,
        body,
        answered: response.status().as_u16(),
    });
    if hang {
        // The ticket exists; the answer never comes.
        std::future::pending::<()>().await;
    }
    response
}

fn answer(
    stub: &ZendeskStub,
    method: &Method,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &Value,
) -> (Response, bool) {
    if !authorized(stub, headers) {
        return (
            error(
                StatusCode::UNAUTHORIZED,
                json!({"error": "Couldn't authenticate you"}),
            ),
            false,
        );
    }
    let mut state = stub.state.lock().unwrap();
    if let Some(seconds) = state.throttle.pop_front() {
        let mut response = error(
            StatusCode::TOO_MANY_REQUESTS,
            json!({"error": "APIRateLimitExceeded", "description": "Rate limit for ticket updates exceeded, please wait before updating this ticket again"}),
        );
        response
            .headers_mut()
            .insert("retry-after", seconds.to_string().parse().unwrap());
        return (response, false);
    }
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["api", "v2", "tickets"]) => {
            let wanted = query_param(query, "external_id");
            let tickets: Vec<Value> = state
                .tickets
                .iter()
                .filter(|t| wanted.is_none() || t.external_id == wanted)
                .map(|t| ticket_json(&stub.url, t))
                .collect();
            let count = tickets.len();
            (
                json_ok(
                    json!({"tickets": tickets, "next_page": null, "previous_page": null, "count": count}),
                ),
                false,
            )
        }
        ("POST", ["api", "v2", "tickets"]) => {
            let ticket = &body["ticket"];
            let Some(comment) = ticket["comment"]["body"].as_str().filter(|b| !b.is_empty()) else {
                return (
                    error(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        json!({"error": "RecordInvalid", "description": "Record validation errors", "details": {"base": [{"description": "Description: cannot be blank", "error": "BlankValue"}]}}),
                    ),
                    false,
                );
            };
            let requester_id = match ticket["requester"]["email"].as_str() {
                Some(email) => {
                    let existing = state
                        .users
                        .iter()
                        .find(|u| u.email.as_deref() == Some(email))
                        .map(|u| u.id);
                    match existing {
                        Some(id) => id,
                        None => {
                            let id = state.next_id() + 1000;
                            state.users.push(User {
                                id,
                                name: ticket["requester"]["name"]
                                    .as_str()
                                    .unwrap_or(email)
                                    .to_string(),
                                email: Some(email.to_string()),
                                staff: false,
                            });
                            id
                        }
                    }
                }
                None => API_AGENT_ID,
            };
            let id = state.next_id();
            let comment_id = state.next_id() + 9_876_500_000;
            let created = Ticket {
                id,
                external_id: ticket["external_id"].as_str().map(str::to_string),
                subject: ticket["subject"].as_str().unwrap_or_default().to_string(),
                status: "new".into(),
                requester_id,
                submitter_id: API_AGENT_ID,
                group_id: ticket["group_id"].as_u64(),
                tags: ticket["tags"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|t| t.as_str().map(str::to_string))
                    .collect(),
                comments: vec![Comment {
                    id: comment_id,
                    author_id: API_AGENT_ID,
                    body: comment.to_string(),
                    public: ticket["comment"]["public"].as_bool().unwrap_or(true),
                }],
            };
            state.tickets.push(created.clone());
            let hang = std::mem::take(&mut state.hang_next_create);
            let mut response = json_ok(json!({
                "ticket": ticket_json(&stub.url, &created),
                "audit": audit_json(&created, API_AGENT_ID)
            }));
            *response.status_mut() = StatusCode::CREATED;
            response.headers_mut().insert(
                "location",
                format!("{}/api/v2/tickets/{id}.json", stub.url)
                    .parse()
                    .unwrap(),
            );
            (response, hang)
        }
        ("GET", ["api", "v2", "tickets", id]) => match find(&state, id) {
            Some(ticket) => (
                json_ok(json!({"ticket": ticket_json(&stub.url, ticket)})),
                false,
            ),
            None => (not_found(), false),
        },
        ("PUT", ["api", "v2", "tickets", id]) => {
            let Some(index) = id
                .parse::<u64>()
                .ok()
                .and_then(|id| state.tickets.iter().position(|t| t.id == id))
            else {
                return (not_found(), false);
            };
            if state.tickets[index].status == "closed" {
                return (
                    error(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        json!({"error": "RecordInvalid", "description": "Record validation errors", "details": {"status": [{"description": "Status: closed prevents ticket update", "error": "ClosedPreventsUpdate"}]}}),
                    ),
                    false,
                );
            }
            let update = &body["ticket"];
            let comment_id = state.next_id() + 9_876_500_000;
            let ticket = &mut state.tickets[index];
            if let Some(comment) = update["comment"]["body"].as_str() {
                ticket.comments.push(Comment {
                    id: comment_id,
                    author_id: update["comment"]["author_id"]
                        .as_u64()
                        .unwrap_or(API_AGENT_ID),
                    body: comment.to_string(),
                    public: update["comment"]["public"].as_bool().unwrap_or(true),
                });
            }
            if let Some(status) = update["status"].as_str() {
                ticket.status = status.to_string();
            }
            let ticket = ticket.clone();
            (
                json_ok(json!({
                    "ticket": ticket_json(&stub.url, &ticket),
                    "audit": audit_json(&ticket, API_AGENT_ID)
                })),
                false,
            )
        }
        _ => (not_found(), false),
    }
}

fn find<'a>(state: &'a StubState, id: &str) -> Option<&'a Ticket> {
    let id: u64 = id.parse().ok()?;
    state.tickets.iter().find(|t| t.id == id)
}

fn json_ok(body: Value) -> Response {
    error(StatusCode::OK, body)
}

fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        json!({"error": "RecordNotFound", "description": "Not found"}),
    )
}

/// Start the stub on a fresh loopback port, in the current tokio runtime.
pub async fn spawn_zendesk_stub(email: &str, api_token: &str) -> ZendeskStub {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let stub = ZendeskStub {
        url: format!("http://{}", listener.local_addr().unwrap()),
        email: email.to_string(),
        api_token: api_token.to_string(),
        state: Arc::new(Mutex::new(StubState {
            users: vec![
                User {
                    id: API_AGENT_ID,
                    name: "Fathom".into(),
                    email: Some(email.to_string()),
                    staff: true,
                },
                User {
                    id: HUMAN_AGENT_ID,
                    name: "Dana Scully".into(),
                    email: Some("dana@acme.example".into()),
                    staff: true,
                },
            ],
            next_id: 100,
            ..Default::default()
        })),
    };
    let router = Router::new()
        .route("/{*path}", any(handle))
        .with_state(stub.clone());
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let service = TowerToHyperService::new(router.clone());
            tokio::spawn(async move {
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    stub
}

/// Start the stub on a runtime of its own (for tests without one); it lives as long as the
/// process.
pub fn spawn_zendesk_stub_in_background(email: &str, api_token: &str) -> ZendeskStub {
    let (sender, receiver) = std::sync::mpsc::channel();
    let (email, api_token) = (email.to_string(), api_token.to_string());
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            sender
                .send(spawn_zendesk_stub(&email, &api_token).await)
                .unwrap();
            std::future::pending::<()>().await;
        });
    });
    receiver.recv().unwrap()
}
