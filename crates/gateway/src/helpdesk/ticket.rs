//! What a handoff ticket says, for the helpdesks that open tickets (django-helpdesk, Zendesk): its
//! title and description (the bot's summary, the reason, the customer, the transcript, the cited
//! articles) and the marker line that names the Fathom conversation, by which a ticket whose id
//! was never recorded is found again.

use fathom_conversations::{ConversationId, HelpdeskLinks, OutboxEvent};
use serde_json::Value;

use crate::outbox::Attempt;

/// Ticket titles are at most 200 characters in django-helpdesk (Zendesk subjects: 150 shown).
const TITLE_CHARS: usize = 120;

/// The transcript in a ticket keeps its latest lines up to this size. django-helpdesk's webhook
/// sends the whole ticket (the description twice: as the ticket's and as its first follow-up's),
/// and it must stay within the gateway's `max_body_bytes` (64 KiB by default).
const TRANSCRIPT_CHARS: usize = 12_000;

/// The conversation a `conversation.*` event is about, and the id of the ticket `helpdesk`
/// linked to it, if one was recorded. `Err` is the attempt's outcome: a malformed event is
/// abandoned, a store failure retried.
pub(crate) async fn linked_ticket(
    links: &dyn HelpdeskLinks,
    helpdesk: &str,
    event: &OutboxEvent,
) -> Result<(ConversationId, Option<String>), Attempt> {
    let Some(conversation) = event.payload["data"]["conversation_id"]
        .as_str()
        .and_then(ConversationId::parse)
    else {
        return Err(Attempt::Abandoned(
            "malformed event: no conversation_id".into(),
        ));
    };
    match links
        .external_id_of(&event.workspace, helpdesk, conversation)
        .await
    {
        Ok(ticket) => Ok((conversation, ticket)),
        Err(error) => Err(Attempt::store_failed(error)),
    }
}

/// The line at the end of every description that names the conversation.
pub fn marker(conversation_id: &str) -> String {
    format!("Fathom conversation: {conversation_id}.")
}

fn truncate(text: &str, chars: usize) -> String {
    let mut out: String = text.chars().take(chars).collect();
    if text.chars().count() > chars {
        out.push('…');
    }
    out
}

/// "Chat: <first customer message>" (already redacted in the event).
pub fn ticket_title(data: &Value) -> String {
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
            "\n{} Public replies on this ticket reach the customer; solving or closing it ends the conversation.\n",
            marker(id)
        ));
    }
    out
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
