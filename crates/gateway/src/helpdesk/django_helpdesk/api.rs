//! django-helpdesk's REST API (`{base_url}/api/`, Django REST Framework), as Fathom's staff API
//! user calls it:
//!
//! - `POST tickets/` `{"queue", "title", "description", "priority"}`: the handoff ticket;
//! - `POST followups/` `{"ticket", "comment", "public", "new_status"?}`: the customer's later
//!   messages, and "resolved" when the customer marks the conversation solved;
//! - `GET tickets/?page=…&page_size=…`: the tickets oldest first (`Ticket.Meta.ordering = ("id",)`,
//!   `ConservativePagination`), read newest first to find a ticket whose id was never recorded.
//!
//! **The crash window.** A ticket is created, then its id is linked to the conversation. A crash
//! between the two used to leave the handoff event to be retried and a second ticket opened. The
//! API has no filter but `status` (`TicketViewSet.get_queryset`), so the retry pages through the
//! newest tickets, newest first, looking for the marker line every description ends with
//! ([`super::ticket::marker`]), and stops at tickets older than the event (their first
//! follow-up, "Ticket Opened", dates them). Only a retry looks: the first attempt cannot have
//! created anything.

use fathom_conversations::{ConversationId, HelpdeskLinks, OutboxEvent};
use fathom_core::WorkspaceId;
use serde::Deserialize;
use serde_json::Value;

use super::{DjangoHelpdeskConfig, NAME, STATUS_RESOLVED};
use crate::handoff::events::{HANDOFF, MESSAGE, RESOLVED};
use crate::helpdesk::ticket::{describe, linked_ticket, marker, ticket_title};
use crate::outbox::Attempt;

/// Tickets read per page when looking for a lost ticket.
const LOOKUP_PAGE_SIZE: u64 = 50;
/// At most this many pages are read (the newest 1,000 tickets).
const LOOKUP_MAX_PAGES: u64 = 20;
/// Clock difference tolerated between Fathom and django-helpdesk when dating tickets.
const CLOCK_SKEW_MS: i64 = 10 * 60 * 1000;

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
    let (conversation, ticket) = match linked_ticket(links, NAME, event).await {
        Ok(found) => found,
        Err(attempt) => return attempt,
    };
    match (event.event_type.as_str(), ticket) {
        (HANDOFF, None) => handoff(http, links, helpdesk, event, conversation, data).await,
        // Handed off again (it was given back to the bot in between): the same ticket.
        (HANDOFF, Some(ticket)) => {
            let comment = format!("Handed off again by Fathom.\n\n{}", describe(data));
            post_followup(http, helpdesk, &ticket, &comment, None).await
        }
        (MESSAGE, Some(ticket)) => {
            let text = data["message"]["text"].as_str().unwrap_or_default();
            post_followup(http, helpdesk, &ticket, &format!("Customer: {text}"), None).await
        }
        (RESOLVED, Some(ticket)) => {
            let comment = "The customer marked the conversation solved in Fathom.";
            post_followup(http, helpdesk, &ticket, comment, Some(STATUS_RESOLVED)).await
        }
        // A conversation never handed off has no ticket: nothing to tell django-helpdesk.
        (RESOLVED, None) => Attempt::Delivered,
        // Events of a conversation go out in order, so its ticket exists unless the handoff
        // itself was dead-lettered; retry (and give up like any other delivery).
        (MESSAGE, None) => failed("no django-helpdesk ticket for this conversation"),
        (other, _) => {
            tracing::debug!(event_type = other, "event not sent to django-helpdesk");
            Attempt::Delivered
        }
    }
}

/// The handoff ticket: found again if an earlier attempt created it, created otherwise; then
/// linked to the conversation.
async fn handoff(
    http: &reqwest::Client,
    links: &dyn HelpdeskLinks,
    helpdesk: &DjangoHelpdeskConfig,
    event: &OutboxEvent,
    conversation: ConversationId,
    data: &Value,
) -> Attempt {
    let found = if event.attempts > 1 {
        match find_ticket(
            http,
            helpdesk,
            &conversation.to_string(),
            event.created_at_ms,
        )
        .await
        {
            Ok(found) => found,
            Err(attempt) => return attempt,
        }
    } else {
        None
    };
    let ticket = match found {
        Some(ticket) => {
            tracing::info!(ticket, conversation_id = %conversation, "found the ticket an interrupted attempt created");
            ticket
        }
        None => match create_ticket(http, helpdesk, data).await {
            Ok(ticket) => ticket,
            Err(attempt) => return attempt,
        },
    };
    link(links, &event.workspace, conversation, ticket).await
}

async fn link(
    links: &dyn HelpdeskLinks,
    workspace: &WorkspaceId,
    conversation: ConversationId,
    ticket: u64,
) -> Attempt {
    match links
        .link_external(workspace, NAME, &ticket.to_string(), conversation)
        .await
    {
        Ok(_) => {
            tracing::info!(ticket, conversation_id = %conversation, "django-helpdesk ticket linked");
            Attempt::Delivered
        }
        Err(error) => failed(format!("linking ticket {ticket}: {error}")),
    }
}

async fn create_ticket(
    http: &reqwest::Client,
    helpdesk: &DjangoHelpdeskConfig,
    data: &Value,
) -> Result<u64, Attempt> {
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
        other => return Err(Attempt::from_response(other).await),
    };
    let created: Value = response.json().await.map_err(|error| {
        failed(format!(
            "django-helpdesk answered an unreadable ticket: {error}"
        ))
    })?;
    created["id"]
        .as_u64()
        .ok_or_else(|| failed("django-helpdesk's answer has no ticket id"))
}

/// One page of `GET tickets/` (DRF's `PageNumberPagination`).
#[derive(Debug, Deserialize)]
struct TicketPage {
    count: u64,
    #[serde(default)]
    results: Vec<ListedTicket>,
}

#[derive(Debug, Deserialize)]
struct ListedTicket {
    id: u64,
    #[serde(default)]
    queue: Option<u64>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    followup_set: Vec<ListedFollowup>,
}

#[derive(Debug, Deserialize)]
struct ListedFollowup {
    #[serde(default)]
    date: Option<String>,
}

impl ListedTicket {
    /// When the ticket was opened: its earliest follow-up's date, in ms.
    fn opened_at_ms(&self) -> Option<i64> {
        self.followup_set
            .iter()
            .filter_map(|f| f.date.as_deref()?.parse::<jiff::Timestamp>().ok())
            .map(|t| t.as_millisecond())
            .min()
    }
}

async fn ticket_page(
    http: &reqwest::Client,
    helpdesk: &DjangoHelpdeskConfig,
    page: u64,
    page_size: u64,
) -> Result<TicketPage, Attempt> {
    let url = format!(
        "{}?page={page}&page_size={page_size}",
        api_url(helpdesk, "tickets")
    );
    let sent = authorized(http.get(url), helpdesk).send().await;
    match sent {
        Ok(response) if response.status().is_success() => response.json().await.map_err(|error| {
            failed(format!(
                "django-helpdesk's ticket list is unreadable: {error}"
            ))
        }),
        other => Err(Attempt::from_response(other).await),
    }
}

/// The ticket of this conversation in the configured queue, among those opened after the event
/// was written (less the clock skew allowed), newest first.
async fn find_ticket(
    http: &reqwest::Client,
    helpdesk: &DjangoHelpdeskConfig,
    conversation: &str,
    event_created_at_ms: i64,
) -> Result<Option<u64>, Attempt> {
    let wanted = marker(conversation);
    let count = ticket_page(http, helpdesk, 1, 1).await?.count;
    let last_page = count.div_ceil(LOOKUP_PAGE_SIZE);
    let not_before = event_created_at_ms - CLOCK_SKEW_MS;
    for page in (1..=last_page).rev().take(LOOKUP_MAX_PAGES as usize) {
        let tickets = ticket_page(http, helpdesk, page, LOOKUP_PAGE_SIZE)
            .await?
            .results;
        let mut all_older = !tickets.is_empty();
        for ticket in tickets.iter().rev() {
            let ours = ticket.queue.is_none_or(|q| q == helpdesk.queue_id)
                && ticket
                    .description
                    .as_deref()
                    .is_some_and(|d| d.contains(&wanted));
            if ours {
                return Ok(Some(ticket.id));
            }
            all_older &= ticket.opened_at_ms().is_some_and(|at| at < not_before);
        }
        if all_older {
            break;
        }
    }
    Ok(None)
}

async fn post_followup(
    http: &reqwest::Client,
    helpdesk: &DjangoHelpdeskConfig,
    ticket: &str,
    comment: &str,
    new_status: Option<u64>,
) -> Attempt {
    let Ok(ticket) = ticket.parse::<u64>() else {
        return Attempt::Abandoned(format!("linked ticket id {ticket:?} is not a number"));
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
