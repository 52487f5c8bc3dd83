//! Zendesk's Tickets API (`/api/v2`), as the agent Fathom acts as calls it (HTTP Basic,
//! `{email}/token:{api_token}`):
//!
//! - `GET /api/v2/tickets?external_id={conversation}`: "List Tickets" filtered by external id
//!   (`{"tickets": [...], "count", "next_page", "previous_page"}`), read straight from the
//!   tickets, unlike the search API, whose index lags;
//! - `POST /api/v2/tickets` `{"ticket": {"subject", "comment": {"body", "public": false},
//!   "requester": {"name", "email"}, "external_id", "tags", "group_id"}}` → `201 {"ticket"}`;
//! - `GET /api/v2/tickets/{id}` → `{"ticket"}` (its `requester_id` and `submitter_id`);
//! - `PUT /api/v2/tickets/{id}` `{"ticket": {"comment": {...}, "status"?}}` → `{"ticket",
//!   "audit"}`.
//!
//! A `429` (or `503`) carries `Retry-After`, which the outbox honours.

use fathom_conversations::{ConversationId, HelpdeskLinks, OutboxEvent};
use serde::Deserialize;
use serde_json::Value;

use super::{ZendeskConfig, NAME};
use crate::handoff::events::{HANDOFF, MESSAGE, RESOLVED};
use crate::helpdesk::ticket::{describe, linked_ticket, ticket_title};
use crate::outbox::Attempt;

fn failed(error: impl Into<String>) -> Attempt {
    Attempt::Failed {
        error: error.into(),
        retry_after: None,
    }
}

fn url(zendesk: &ZendeskConfig, path: &str) -> String {
    format!("{}/api/v2/{path}", zendesk.base_url.trim_end_matches('/'))
}

fn authorized(
    request: reqwest::RequestBuilder,
    zendesk: &ZendeskConfig,
) -> reqwest::RequestBuilder {
    request.basic_auth(
        format!("{}/token", zendesk.email),
        Some(zendesk.api_token.expose()),
    )
}

#[derive(Debug, Deserialize)]
struct Ticket {
    id: u64,
    #[serde(default)]
    requester_id: Option<u64>,
    #[serde(default)]
    submitter_id: Option<u64>,
    #[serde(default)]
    status: Option<String>,
}

#[derive(Debug, Deserialize)]
struct OneTicket {
    ticket: Ticket,
}

#[derive(Debug, Deserialize)]
struct TicketList {
    #[serde(default)]
    tickets: Vec<Ticket>,
}

/// Send a request and read its JSON body; a failure is the attempt to report.
async fn call<T: serde::de::DeserializeOwned>(
    request: reqwest::RequestBuilder,
) -> Result<T, Attempt> {
    match request.send().await {
        Ok(response) if response.status().is_success() => response
            .json()
            .await
            .map_err(|error| failed(format!("Zendesk answered an unreadable body: {error}"))),
        other => Err(Attempt::from_response(other).await),
    }
}

pub(crate) async fn deliver(
    http: &reqwest::Client,
    links: &dyn HelpdeskLinks,
    zendesk: &ZendeskConfig,
    event: &OutboxEvent,
) -> Attempt {
    let data = &event.payload["data"];
    let (conversation, linked) = match linked_ticket(links, NAME, event).await {
        Ok((conversation, ticket)) => (conversation, ticket.and_then(|id| id.parse::<u64>().ok())),
        Err(attempt) => return attempt,
    };
    let result = match (event.event_type.as_str(), linked) {
        (HANDOFF, None) => handoff(http, links, zendesk, event, conversation, data).await,
        (HANDOFF, Some(ticket)) => {
            // Handed off again (given back to the bot in between): the same ticket, reopened.
            let body = format!("Handed off again by Fathom.\n\n{}", describe(data));
            update(http, zendesk, ticket, note(&body), Some("open")).await
        }
        (MESSAGE, Some(ticket)) => {
            let text = data["message"]["text"].as_str().unwrap_or_default();
            customer_comment(http, zendesk, ticket, text).await
        }
        (RESOLVED, Some(ticket)) => {
            let body = "The customer marked the conversation solved in Fathom.";
            update(http, zendesk, ticket, note(body), Some("solved")).await
        }
        (RESOLVED, None) => Ok(()),
        // Events of a conversation go out in order: its ticket exists unless the handoff was
        // dead-lettered. Retry, and give up like any other delivery.
        (MESSAGE, None) => Err(failed("no Zendesk ticket for this conversation")),
        (other, _) => {
            tracing::debug!(event_type = other, "event not sent to Zendesk");
            Ok(())
        }
    };
    match result {
        Ok(()) => Attempt::Delivered,
        Err(attempt) => attempt,
    }
}

/// An internal note (agents only).
fn note(body: &str) -> Value {
    serde_json::json!({"body": body, "public": false})
}

/// The handoff ticket: the one an earlier attempt created (found by `external_id`), or a new one;
/// then linked to the conversation.
async fn handoff(
    http: &reqwest::Client,
    links: &dyn HelpdeskLinks,
    zendesk: &ZendeskConfig,
    event: &OutboxEvent,
    conversation: ConversationId,
    data: &Value,
) -> Result<(), Attempt> {
    // A conversation id is a UUID: nothing in it needs escaping in a query string.
    let listed: TicketList = call(authorized(
        http.get(format!(
            "{}?external_id={conversation}",
            url(zendesk, "tickets")
        )),
        zendesk,
    ))
    .await?;
    let ticket = match listed.tickets.iter().map(|t| t.id).min() {
        Some(existing) => {
            tracing::info!(ticket = existing, conversation_id = %conversation, "found the Zendesk ticket of an earlier attempt");
            existing
        }
        None => create(http, zendesk, conversation, data).await?,
    };
    links
        .link_external(&event.workspace, NAME, &ticket.to_string(), conversation)
        .await
        .map_err(|error| failed(format!("linking Zendesk ticket {ticket}: {error}")))?;
    tracing::info!(ticket, conversation_id = %conversation, "Zendesk ticket linked");
    Ok(())
}

async fn create(
    http: &reqwest::Client,
    zendesk: &ZendeskConfig,
    conversation: ConversationId,
    data: &Value,
) -> Result<u64, Attempt> {
    let customer = &data["customer"];
    let email = customer["extra"]["email"]
        .as_str()
        .filter(|e| e.contains('@'));
    let mut tags = zendesk.tags.clone();
    if let Some(reason) = data["reason"].as_str() {
        tags.push(format!("fathom_{reason}"));
    }
    let mut ticket = serde_json::json!({
        "subject": ticket_title(data),
        "comment": note(&describe(data)),
        "external_id": conversation.to_string(),
        "tags": tags,
    });
    // The customer is the requester when Fathom knows who they are; otherwise the ticket is
    // requested by Fathom's agent and the customer's name is in the note.
    if let Some(email) = email {
        let name = customer["name"].as_str().unwrap_or(email);
        ticket["requester"] = serde_json::json!({"name": name, "email": email});
    }
    if let Some(group) = zendesk.group_id {
        ticket["group_id"] = group.into();
    }
    let created: OneTicket = call(
        authorized(http.post(url(zendesk, "tickets")), zendesk)
            .json(&serde_json::json!({ "ticket": ticket })),
    )
    .await?;
    tracing::info!(ticket = created.ticket.id, conversation_id = %conversation, "Zendesk ticket created");
    Ok(created.ticket.id)
}

async fn update(
    http: &reqwest::Client,
    zendesk: &ZendeskConfig,
    ticket: u64,
    comment: Value,
    status: Option<&str>,
) -> Result<(), Attempt> {
    let mut body = serde_json::json!({ "comment": comment });
    if let Some(status) = status {
        body["status"] = status.into();
    }
    let _: Value = call(
        authorized(
            http.put(url(zendesk, &format!("tickets/{ticket}"))),
            zendesk,
        )
        .json(&serde_json::json!({ "ticket": body })),
    )
    .await?;
    Ok(())
}

/// The customer's message on the ticket: a public comment by the requester, so the agents see
/// it as the customer's and Zendesk does not e-mail it back to them. A ticket requested by
/// Fathom's own agent gets it as an internal note instead.
async fn customer_comment(
    http: &reqwest::Client,
    zendesk: &ZendeskConfig,
    ticket: u64,
    text: &str,
) -> Result<(), Attempt> {
    let shown: OneTicket = call(authorized(
        http.get(url(zendesk, &format!("tickets/{ticket}"))),
        zendesk,
    ))
    .await?;
    let shown = shown.ticket;
    if shown.status.as_deref() == Some("closed") {
        // A closed ticket takes no comments (Zendesk answers 422); the conversation goes on in
        // Fathom, and the agents see the message in its transcript.
        tracing::warn!(
            ticket,
            "the Zendesk ticket is closed; the customer's message stays in Fathom"
        );
        return Ok(());
    }
    let comment = match (shown.requester_id, shown.submitter_id) {
        (Some(requester), submitter) if Some(requester) != submitter => serde_json::json!({
            "body": text, "public": true, "author_id": requester
        }),
        _ => note(&format!("Customer: {text}")),
    };
    update(http, zendesk, ticket, comment, None).await
}
