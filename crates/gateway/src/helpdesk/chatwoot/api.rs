//! Chatwoot's REST API, as the Agent Bot calls it (`api_access_token` header):
//!
//! - `POST /api/v1/accounts/{account}/conversations/{display_id}/messages`
//!   `{"content", "message_type": "outgoing", "private": false}`: the bot's reply;
//! - `POST …/conversations/{display_id}/toggle_status` `{"status": "open"}`: the handoff, which
//!   puts the conversation in front of the agents;
//! - `POST …/conversations/{display_id}/assignments` `{"assignee_id": null}`: releases a
//!   conversation that was assigned to the bot, so it is no longer the bot's.
//!
//! Each outbox event is one step, retried on its own: a failed handoff never posts the reply a
//! second time.

use fathom_conversations::OutboxEvent;

use super::{ChatwootConfig, HANDOFF_EVENT, REPLY_EVENT};
use crate::outbox::Attempt;

fn conversation_url(chatwoot: &ChatwootConfig, payload: &serde_json::Value) -> Option<String> {
    let base = chatwoot.base_url.trim_end_matches('/');
    let account = payload["account_id"].as_u64()?;
    let conversation = payload["conversation_id"].as_u64()?;
    Some(format!(
        "{base}/api/v1/accounts/{account}/conversations/{conversation}"
    ))
}

async fn post(
    http: &reqwest::Client,
    chatwoot: &ChatwootConfig,
    url: String,
    body: serde_json::Value,
) -> Result<reqwest::Response, reqwest::Error> {
    http.post(url)
        .header("api_access_token", chatwoot.api_access_token.expose())
        .json(&body)
        .send()
        .await
}

pub(crate) async fn deliver(
    http: &reqwest::Client,
    chatwoot: &ChatwootConfig,
    event: &OutboxEvent,
) -> Attempt {
    let Some(conversation_url) = conversation_url(chatwoot, &event.payload) else {
        return Attempt::Abandoned(format!("malformed {} event", event.event_type));
    };
    match event.event_type.as_str() {
        REPLY_EVENT => {
            let body = serde_json::json!({
                "content": event.payload["content"],
                "message_type": "outgoing",
                "private": false,
            });
            Attempt::from_response(
                post(http, chatwoot, format!("{conversation_url}/messages"), body).await,
            )
            .await
        }
        HANDOFF_EVENT => {
            let opened = post(
                http,
                chatwoot,
                format!("{conversation_url}/toggle_status"),
                serde_json::json!({"status": "open"}),
            )
            .await;
            if let Some(failure) = Attempt::from_response(opened).await.failure() {
                return failure;
            }
            if event.payload["release_assignment"].as_bool() != Some(true) {
                return Attempt::Delivered;
            }
            let released = post(
                http,
                chatwoot,
                format!("{conversation_url}/assignments"),
                serde_json::json!({"assignee_id": null}),
            )
            .await;
            match released {
                // Opened is what matters; a Chatwoot that does not let the bot unassign itself
                // (an older release, a policy) leaves the open conversation assigned to the bot,
                // where any agent can take it.
                Ok(response)
                    if response.status().is_client_error()
                        && !matches!(response.status().as_u16(), 408 | 429) =>
                {
                    tracing::warn!(status = %response.status(), "chatwoot did not release the bot's assignment");
                    Attempt::Delivered
                }
                other => Attempt::from_response(other).await,
            }
        }
        other => Attempt::Abandoned(format!("{other} is not a Chatwoot event")),
    }
}
