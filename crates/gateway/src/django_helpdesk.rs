//! django-helpdesk adapter (PyPI `django-helpdesk`, a Django helpdesk with a DRF REST API).
//!
//! Outbound, through the outbox like every other event (retried, in order per conversation):
//! - `conversation.handoff` creates a ticket (`POST {base_url}/api/tickets/`) in the configured
//!   queue whose description carries the bot's summary, the reason, the cited articles and the
//!   transcript (PII-redacted as configured); the ticket id is linked to the conversation;
//! - `conversation.message` (the customer writes while a person has the conversation) becomes a
//!   public follow-up on that ticket (`POST {base_url}/api/followups/`);
//! - `conversation.resolved` (the customer marked it solved) resolves the ticket with a follow-up.
//!
//! Inbound, `POST /v1/helpdesk/django-helpdesk/events?token=…`: django-helpdesk's follow-up
//! webhook (`HELPDESK_GET_FOLLOWUP_WEBHOOK_URLS`) posts `{"ticket": {…, "followup_set": […]},
//! "queue_slug", "followup_id"}` after every follow-up. It cannot sign, so the URL carries the
//! workspace's `webhook_token`. Every public follow-up written by someone other than the ticket's
//! opener (Fathom's API user) is an agent reply and reaches the customer once (deduplicated by
//! follow-up id, so one that a failed webhook missed arrives with the next); a ticket resolved,
//! closed or marked duplicate resolves or closes the conversation.

use fathom_conversations::{
    Change, ConversationId, ConversationState, HelpdeskLinks, NewMessage, OutboxEvent, StoreError,
};
use fathom_core::WorkspaceId;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::Value;

use crate::config::DjangoHelpdeskConfig;
use crate::error::{json_response, ApiError, ApiResult};
use crate::json::parse;
use crate::outbox::Attempt;
use crate::state::AppState;
use crate::telemetry;

/// The adapter's name in `/v1/helpdesk/{adapter}/events` and in the conversation links.
pub const ADAPTER: &str = "django-helpdesk";
/// Header that may carry the webhook token instead of the `token` query parameter.
pub const HEADER_TOKEN: &str = "x-fathom-token";

/// django-helpdesk's default ticket statuses.
const STATUS_RESOLVED: u64 = 3;
const STATUS_CLOSED: u64 = 4;
const STATUS_DUPLICATE: u64 = 5;

/// Ticket titles are at most 200 characters in django-helpdesk.
const TITLE_CHARS: usize = 120;

/// The transcript in a ticket keeps its latest lines up to this size. django-helpdesk's webhook
/// sends the whole ticket (the description twice: as the ticket's and as its first follow-up's),
/// and it must stay within the gateway's `max_body_bytes` (64 KiB by default).
const TRANSCRIPT_CHARS: usize = 12_000;

// ---------------------------------------------------------------------------------------------
// Outbound: outbox events → tickets and follow-ups
// ---------------------------------------------------------------------------------------------

fn api_url(helpdesk: &DjangoHelpdeskConfig, resource: &str) -> String {
    format!(
        "{}/api/{resource}/",
        helpdesk.base_url.trim_end_matches('/')
    )
}

fn authorized(
    request: reqwest::RequestBuilder,
    helpdesk: &DjangoHelpdeskConfig,
) -> reqwest::RequestBuilder {
    match (&helpdesk.api_token, &helpdesk.username) {
        (Some(token), _) => request.header(
            http::header::AUTHORIZATION,
            format!("Token {}", token.expose()),
        ),
        (None, Some(username)) => request.basic_auth(
            username,
            helpdesk.password.as_ref().map(|p| p.expose().to_string()),
        ),
        (None, None) => request,
    }
}

fn failed(error: impl Into<String>) -> Attempt {
    Attempt::Failed {
        error: error.into(),
        retry_after: None,
    }
}

/// Deliver one of the workspace's `conversation.*` events to django-helpdesk.
pub(crate) async fn deliver(
    http: &reqwest::Client,
    links: &dyn HelpdeskLinks,
    helpdesk: &DjangoHelpdeskConfig,
    event: &OutboxEvent,
) -> Attempt {
    let data = &event.payload["data"];
    let Some(conversation) = data["conversation_id"]
        .as_str()
        .and_then(ConversationId::parse)
    else {
        return failed("malformed event: no conversation_id");
    };
    let ticket = match links
        .external_id_of(&event.workspace, ADAPTER, conversation)
        .await
    {
        Ok(ticket) => ticket,
        Err(error) => return failed(format!("conversation store: {error}")),
    };
    match (event.event_type.as_str(), ticket) {
        (crate::events::HANDOFF, None) => {
            create_ticket(http, links, helpdesk, &event.workspace, conversation, data).await
        }
        // Handed off again (it was given back to the bot in between): the same ticket.
        (crate::events::HANDOFF, Some(ticket)) => {
            let comment = format!("Handed off again by Fathom.\n\n{}", describe(data));
            post_followup(http, helpdesk, &ticket, &comment, None).await
        }
        (crate::events::MESSAGE, Some(ticket)) => {
            let text = data["message"]["text"].as_str().unwrap_or_default();
            post_followup(http, helpdesk, &ticket, &format!("Customer: {text}"), None).await
        }
        (crate::events::RESOLVED, Some(ticket)) => {
            let comment = "The customer marked the conversation solved in Fathom.";
            post_followup(http, helpdesk, &ticket, comment, Some(STATUS_RESOLVED)).await
        }
        // A conversation never handed off has no ticket: nothing to tell django-helpdesk.
        (crate::events::RESOLVED, None) => Attempt::Delivered,
        // Events of a conversation go out in order, so its ticket exists unless the handoff
        // itself was dead-lettered; retry (and give up like any other delivery).
        (crate::events::MESSAGE, None) => failed("no django-helpdesk ticket for this conversation"),
        (other, _) => {
            tracing::debug!(event_type = other, "event not sent to django-helpdesk");
            Attempt::Delivered
        }
    }
}

async fn create_ticket(
    http: &reqwest::Client,
    links: &dyn HelpdeskLinks,
    helpdesk: &DjangoHelpdeskConfig,
    workspace: &WorkspaceId,
    conversation: ConversationId,
    data: &Value,
) -> Attempt {
    let body = serde_json::json!({
        "queue": helpdesk.queue_id,
        "title": ticket_title(data),
        "description": describe(data),
        "priority": helpdesk.priority,
    });
    let sent = authorized(http.post(api_url(helpdesk, "tickets")), helpdesk)
        .json(&body)
        .send()
        .await;
    let response = match sent {
        Ok(response) if response.status().is_success() => response,
        other => return Attempt::from_response(other).await,
    };
    let created: Value = match response.json().await {
        Ok(created) => created,
        Err(error) => {
            return failed(format!(
                "django-helpdesk answered an unreadable ticket: {error}"
            ))
        }
    };
    let Some(ticket) = created["id"].as_u64() else {
        return failed("django-helpdesk's answer has no ticket id");
    };
    // Between the POST and this link a crash would create a second ticket on the retry: the
    // API offers nothing to look a ticket up by, and the window is one local write.
    match links
        .link_external(workspace, ADAPTER, &ticket.to_string(), conversation)
        .await
    {
        Ok(_) => {
            tracing::info!(ticket, conversation_id = %conversation, "django-helpdesk ticket created");
            Attempt::Delivered
        }
        Err(error) => failed(format!("linking ticket {ticket}: {error}")),
    }
}

async fn post_followup(
    http: &reqwest::Client,
    helpdesk: &DjangoHelpdeskConfig,
    ticket: &str,
    comment: &str,
    new_status: Option<u64>,
) -> Attempt {
    let Ok(ticket) = ticket.parse::<u64>() else {
        return failed(format!("linked ticket id {ticket:?} is not a number"));
    };
    let mut body = serde_json::json!({"ticket": ticket, "comment": comment, "public": true});
    if let Some(status) = new_status {
        body["new_status"] = status.into();
    }
    let sent = authorized(http.post(api_url(helpdesk, "followups")), helpdesk)
        .json(&body)
        .send()
        .await;
    Attempt::from_response(sent).await
}

fn truncate(text: &str, chars: usize) -> String {
    let mut out: String = text.chars().take(chars).collect();
    if text.chars().count() > chars {
        out.push('…');
    }
    out
}

/// "Chat: <first customer message>" (already redacted in the event).
fn ticket_title(data: &Value) -> String {
    let first = data["transcript"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|line| line["role"] == "customer")
        .and_then(|line| line["text"].as_str())
        .unwrap_or("conversation handed off by Fathom");
    let one_line = first.split_whitespace().collect::<Vec<_>>().join(" ");
    format!("Chat: {}", truncate(&one_line, TITLE_CHARS))
}

/// Where the latest `lines` that fit in `budget` characters start (the last line always counts).
fn latest_within(lines: &[String], budget: usize) -> usize {
    let mut start = lines.len();
    let mut used = 0;
    while start > 0 {
        let size = lines[start - 1].chars().count();
        if start < lines.len() && used + size > budget {
            break;
        }
        used += size;
        start -= 1;
    }
    start
}

/// The ticket description: why the bot handed off, who the customer is, what was said.
pub fn describe(data: &Value) -> String {
    let mut out = String::from("Handed over by Fathom, the support assistant.\n\n");
    if let Some(summary) = data["summary"].as_str() {
        out.push_str(&format!("Summary: {summary}\n"));
    }
    if let Some(reason) = data["reason"].as_str() {
        out.push_str(&format!("Reason: {reason}"));
        if let Some(confidence) = data["confidence"].as_f64() {
            out.push_str(&format!(" (confidence {confidence:.2})"));
        }
        out.push('\n');
    }
    let customer = &data["customer"];
    let mut who = Vec::new();
    for field in ["name", "plan", "locale"] {
        if let Some(value) = customer[field].as_str() {
            who.push(format!("{field}: {value}"));
        }
    }
    if let Some(extra) = customer["extra"].as_object() {
        for (key, value) in extra {
            who.push(format!("{key}: {}", value.as_str().unwrap_or_default()));
        }
    }
    if !who.is_empty() {
        out.push_str(&format!("Customer: {}\n", who.join(", ")));
    }
    out.push_str("\nTranscript:\n");
    let lines: Vec<String> = data["transcript"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|line| {
            let role = match line["role"].as_str() {
                Some("customer") => "Customer".to_string(),
                Some("bot") => "Bot".to_string(),
                Some("agent") => match line["author"].as_str() {
                    Some(author) => format!("Agent ({author})"),
                    None => "Agent".to_string(),
                },
                _ => "?".to_string(),
            };
            format!("{role}: {}\n", line["text"].as_str().unwrap_or_default())
        })
        .collect();
    let first_kept = latest_within(&lines, TRANSCRIPT_CHARS);
    if first_kept > 0 {
        out.push_str(&format!(
            "[{first_kept} earlier messages left out; Fathom's admin API has them all]\n"
        ));
    }
    for line in &lines[first_kept..] {
        if line.chars().count() > TRANSCRIPT_CHARS {
            out.push_str(&truncate(line, TRANSCRIPT_CHARS));
            out.push('\n');
        } else {
            out.push_str(line);
        }
    }
    let cited: Vec<String> = data["cited_articles"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|article| {
            let title = article["title"].as_str().unwrap_or_default();
            match article["url"].as_str() {
                Some(url) => format!("- {title} ({url})"),
                None => format!("- {title}"),
            }
        })
        .collect();
    if !cited.is_empty() {
        out.push_str(&format!(
            "\nArticles the bot cited:\n{}\n",
            cited.join("\n")
        ));
    }
    if let Some(id) = data["conversation_id"].as_str() {
        out.push_str(&format!(
            "\nFathom conversation: {id}. Public follow-ups on this ticket reach the customer; resolving or closing it ends the conversation.\n"
        ));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Inbound: django-helpdesk's follow-up webhook → agent messages and state
// ---------------------------------------------------------------------------------------------

/// What Fathom reads of django-helpdesk's webhook body; everything else is ignored.
#[derive(Debug, Deserialize)]
struct FollowupWebhook {
    ticket: Ticket,
    #[serde(default)]
    followup_id: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct Ticket {
    id: u64,
    #[serde(default)]
    status: Option<u64>,
    #[serde(default)]
    followup_set: Vec<Followup>,
}

#[derive(Debug, Deserialize)]
struct Followup {
    id: u64,
    #[serde(default)]
    user: Option<u64>,
    #[serde(default)]
    comment: Option<String>,
    #[serde(default)]
    public: bool,
}

fn token_matches(given: &str, expected: &str) -> bool {
    // blake3's Hash compares in constant time.
    blake3::hash(given.as_bytes()) == blake3::hash(expected.as_bytes())
}

/// The `token` query parameter, or the `X-Fathom-Token` header.
fn presented_token<'a>(query: Option<&'a str>, headers: &'a HeaderMap) -> Option<String> {
    let from_query = query.and_then(|q| {
        serde_urlencoded::from_str::<Vec<(String, String)>>(q)
            .ok()?
            .into_iter()
            .find_map(|(key, value)| (key == "token").then_some(value))
    });
    from_query
        .or_else(|| {
            headers
                .get(HEADER_TOKEN)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        })
        .filter(|t| !t.is_empty())
}

fn reject(code: &'static str, message: &str) -> ApiError {
    metrics::counter!(telemetry::WEBHOOKS_RECEIVED, "outcome" => "rejected").increment(1);
    tracing::warn!(adapter = ADAPTER, code, "inbound webhook rejected");
    ApiError::unauthorized(code, message.to_string())
}

fn ignored(why: &str) -> ApiResult {
    Ok(json_response(
        StatusCode::OK,
        &serde_json::json!({"status": "ignored", "why": why}),
    ))
}

/// The follow-ups that are a person answering the customer, oldest first. Fathom opened the
/// ticket, so its first follow-up ("Ticket Opened") is Fathom's API user's; every other public
/// follow-up with text, up to the one that triggered the webhook, is an agent's reply.
fn agent_replies(webhook: &FollowupWebhook) -> Vec<&Followup> {
    let followups = &webhook.ticket.followup_set;
    let opener = followups.iter().min_by_key(|f| f.id).and_then(|f| f.user);
    let mut replies: Vec<&Followup> = followups
        .iter()
        .filter(|f| f.public && f.user.is_some() && f.user != opener)
        .filter(|f| f.comment.as_deref().is_some_and(|c| !c.trim().is_empty()))
        .filter(|f| webhook.followup_id.is_none_or(|latest| f.id <= latest))
        .collect();
    replies.sort_by_key(|f| f.id);
    replies
}

/// What a ticket status means for the conversation: resolved, or closed (closed, duplicate).
fn conversation_state_for(ticket_status: u64) -> Option<ConversationState> {
    match ticket_status {
        STATUS_RESOLVED => Some(ConversationState::Resolved),
        STATUS_CLOSED | STATUS_DUPLICATE => Some(ConversationState::Closed),
        _ => None,
    }
}

pub async fn inbound(
    state: AppState,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult {
    let Some(token) = presented_token(query, headers) else {
        return Err(reject(
            "missing_webhook_signature",
            "django-helpdesk webhooks must carry ?token=<webhook_token> (or X-Fathom-Token)",
        ));
    };
    let Some((workspace, _)) = state.config.workspaces.iter().find(|(_, settings)| {
        settings
            .django_helpdesk
            .as_ref()
            .is_some_and(|h| token_matches(&token, h.webhook_token.expose()))
    }) else {
        return Err(reject(
            "invalid_webhook_signature",
            "the token matches no workspace's django_helpdesk.webhook_token",
        ));
    };
    let webhook: FollowupWebhook = parse(body)?;
    let ticket = &webhook.ticket;
    let Some(id) = state
        .links
        .find_external(workspace, ADAPTER, &ticket.id.to_string())
        .await?
    else {
        return ignored("a ticket Fathom did not open");
    };
    let Some(before) = state.store.get(workspace, id).await? else {
        return ignored("the ticket's conversation is gone");
    };

    let mut applied_count = 0;
    let mut current = before.clone();
    for reply in agent_replies(&webhook) {
        let change = Change {
            messages: vec![NewMessage::agent(
                reply.comment.as_deref().unwrap_or_default().trim(),
                None,
            )],
            state: Some(ConversationState::Human),
            expect_states: vec![
                ConversationState::Bot,
                ConversationState::HandedOff,
                ConversationState::Human,
                ConversationState::Resolved,
            ],
            inbound_delivery: Some((
                ADAPTER.to_string(),
                format!("{workspace}:followup:{}", reply.id),
            )),
            ..Default::default()
        };
        match state.store.apply(workspace, id, change).await {
            Ok(applied) if applied.duplicate => {}
            Ok(applied) => {
                applied_count += 1;
                current = applied.conversation;
            }
            // A closed conversation takes no more messages; the ticket may go on without it.
            Err(StoreError::StateConflict { .. }) => break,
            Err(error) => return Err(error.into()),
        }
    }

    let target = ticket.status.and_then(conversation_state_for);
    if let Some(target) = target.filter(|t| *t != current.state) {
        let change = Change {
            state: Some(target),
            expect_states: vec![
                ConversationState::Bot,
                ConversationState::HandedOff,
                ConversationState::Human,
                ConversationState::Resolved,
            ],
            ..Default::default()
        };
        match state.store.apply(workspace, id, change).await {
            Ok(applied) => current = applied.conversation,
            Err(StoreError::StateConflict { .. }) => {}
            Err(error) => return Err(error.into()),
        }
    }
    let status = if applied_count > 0 || current.state != before.state {
        "applied"
    } else {
        "duplicate"
    };
    metrics::counter!(telemetry::WEBHOOKS_RECEIVED, "outcome" => status).increment(1);
    tracing::info!(
        workspace = %workspace,
        conversation_id = %id,
        ticket = ticket.id,
        followup_id = webhook.followup_id,
        agent_messages = applied_count,
        state = %current.state,
        "django-helpdesk follow-up"
    );
    Ok(json_response(
        StatusCode::OK,
        &serde_json::json!({"status": status, "state": current.state, "agent_messages": applied_count}),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_description_carries_summary_reason_customer_and_transcript() {
        let data = serde_json::json!({
            "conversation_id": "d3e07fdc-172a-47af-9d02-5e1e23006dd4",
            "customer": {"name": "Ada", "plan": "annual", "locale": null, "extra": {"account_id": "42"}},
            "transcript": [
                {"role": "customer", "text": "My invoice is wrong, email me at [EMAIL_1]", "at_ms": 1},
                {"role": "bot", "text": "A person will follow up here.", "at_ms": 2},
                {"role": "agent", "author": "Dana", "text": "On it.", "at_ms": 3}
            ],
            "summary": "Customer asks about an invoice.",
            "reason": "customer_requested_human",
            "confidence": 0.5,
            "cited_articles": [{"article_id": "inv", "title": "Invoices", "url": "https://help.example/inv"}]
        });
        let text = describe(&data);
        for expected in [
            "Summary: Customer asks about an invoice.",
            "Reason: customer_requested_human (confidence 0.50)",
            "Customer: name: Ada, plan: annual, account_id: 42",
            "Customer: My invoice is wrong, email me at [EMAIL_1]",
            "Bot: A person will follow up here.",
            "Agent (Dana): On it.",
            "- Invoices (https://help.example/inv)",
            "Fathom conversation: d3e07fdc-172a-47af-9d02-5e1e23006dd4",
        ] {
            assert!(
                text.contains(expected),
                "{expected:?} missing from:\n{text}"
            );
        }
        assert_eq!(
            ticket_title(&data),
            "Chat: My invoice is wrong, email me at [EMAIL_1]"
        );
    }

    fn webhook(
        followup_id: Option<u64>,
        followups: &[(u64, Option<u64>, &str, bool)],
    ) -> FollowupWebhook {
        FollowupWebhook {
            followup_id,
            ticket: Ticket {
                id: 7,
                status: Some(1),
                followup_set: followups
                    .iter()
                    .map(|(id, user, comment, public)| Followup {
                        id: *id,
                        user: *user,
                        comment: Some(comment.to_string()),
                        public: *public,
                    })
                    .collect(),
            },
        }
    }

    #[test]
    fn only_public_follow_ups_with_text_by_others_than_the_opener_are_agent_replies() {
        let followups = [
            (12, Some(2), "after the trigger", true),
            (9, Some(1), "Ticket Opened", true),
            (11, Some(2), "Second reply", true),
            (10, Some(2), "internal note", false),
            (13, None, "an e-mail", true),
            (14, Some(1), "Customer: hi", true),
            (15, Some(3), "  ", true),
            (16, Some(3), "First reply of another agent", true),
        ];

        let ids = |webhook: &FollowupWebhook| -> Vec<u64> {
            agent_replies(webhook).iter().map(|f| f.id).collect()
        };

        assert_eq!(ids(&webhook(Some(12), &followups)), vec![11, 12]);
        assert_eq!(ids(&webhook(None, &followups)), vec![11, 12, 16]);
        assert_eq!(conversation_state_for(3), Some(ConversationState::Resolved));
        assert_eq!(conversation_state_for(4), Some(ConversationState::Closed));
        assert_eq!(conversation_state_for(5), Some(ConversationState::Closed));
        assert_eq!(conversation_state_for(2), None);
    }

    #[test]
    fn the_token_comes_from_the_query_or_the_header() {
        let mut headers = HeaderMap::new();
        assert_eq!(
            presented_token(Some("a=1&token=s3cr%2Bt"), &headers).as_deref(),
            Some("s3cr+t")
        );
        assert_eq!(presented_token(Some("token="), &headers), None);
        headers.insert(HEADER_TOKEN, "from-header".parse().unwrap());
        assert_eq!(
            presented_token(None, &headers).as_deref(),
            Some("from-header")
        );
        assert!(token_matches("abc", "abc"));
        assert!(!token_matches("abc", "abd"));
    }

    #[test]
    fn a_long_transcript_keeps_its_latest_lines() {
        let transcript: Vec<Value> = (0..100)
            .map(|i| serde_json::json!({"role": "customer", "text": format!("message {i} {}", "x".repeat(500))}))
            .collect();
        let text = describe(&serde_json::json!({"transcript": transcript}));
        assert!(
            text.chars().count() < TRANSCRIPT_CHARS + 1_000,
            "{}",
            text.len()
        );
        assert!(text.contains("earlier messages left out"));
        assert!(text.contains("message 99 "));
        assert!(!text.contains("message 0 "));
    }

    #[test]
    fn long_first_messages_make_short_titles() {
        let data =
            serde_json::json!({"transcript": [{"role": "customer", "text": "x ".repeat(300)}]});
        let title = ticket_title(&data);
        assert!(title.chars().count() <= TITLE_CHARS + 7, "{title}");
        assert!(title.ends_with('…'));
    }
}
