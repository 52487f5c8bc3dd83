//! The outbox worker: delivers the events the store holds to each workspace's webhook endpoint,
//! signed per Standard Webhooks. Failures are retried with exponential backoff and jitter
//! (honouring `Retry-After`); an event still undelivered after `give_up_after` goes to the dead
//! letters; a `410 Gone` disables the endpoint. The `webhook-id` is the event's id on every attempt,
//! so a receiver that deduplicates by it sees each event once.

use std::sync::Arc;
use std::time::Duration;

use fathom_conversations::{now_ms, OutboxEvent, OutboxStore, Pruned, StoreError};
use futures::StreamExt;
use http::StatusCode;
use rand::Rng;
use tokio::sync::{watch, Notify};

use crate::config::{GatewayConfig, OutboxConfig};
use crate::helpdesk::Delivery;
use crate::state::AppState;
use crate::telemetry;

/// Events taken per claim.
const BATCH: usize = 32;

/// The longest `Retry-After` honoured; a receiver asking for more is retried after this.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone)]
pub struct OutboxWorker {
    store: Arc<dyn OutboxStore>,
    config: Arc<GatewayConfig>,
    wake: Arc<Notify>,
    http: reqwest::Client,
    state: AppState,
}

/// What one attempt came to.
#[derive(Debug, PartialEq)]
pub enum Attempt {
    Delivered,
    /// The endpoint answered `410 Gone`: it is disabled, and nothing more is sent to it.
    Gone,
    /// Retried later (after `retry_after` at least, if the endpoint asked).
    Failed {
        error: String,
        retry_after: Option<Duration>,
    },
    /// Cannot ever succeed (a malformed event, a helpdesk no longer configured): dead-lettered
    /// at once.
    Abandoned(String),
}

impl Attempt {
    pub(crate) fn store_failed(error: fathom_conversations::StoreError) -> Self {
        Self::Failed {
            error: format!("conversation store: {error}"),
            retry_after: None,
        }
    }

    pub(crate) async fn from_response(result: Result<reqwest::Response, reqwest::Error>) -> Self {
        match result {
            Ok(response) if response.status().is_success() => Self::Delivered,
            Ok(response) if response.status() == StatusCode::GONE => Self::Gone,
            Ok(response) => Self::Failed {
                error: format!("endpoint answered {}", response.status()),
                retry_after: retry_after(response.headers()),
            },
            Err(error) => Self::Failed {
                error: format!("request failed: {error}"),
                retry_after: None,
            },
        }
    }

    /// `None` if delivered, the attempt otherwise.
    pub(crate) fn failure(self) -> Option<Self> {
        match self {
            Self::Delivered => None,
            other => Some(other),
        }
    }
}

impl OutboxWorker {
    pub fn new(state: AppState) -> Self {
        let http = reqwest::Client::builder()
            .timeout(state.config.outbox.request_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("fathom-gateway/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Self {
            store: Arc::clone(&state.outbox),
            config: Arc::clone(&state.config),
            wake: Arc::clone(&state.outbox_wake),
            http,
            state,
        }
    }

    /// Deliver until `stop` turns true, then deliver what is due (within the grace period) and
    /// return.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut next_prune = tokio::time::Instant::now();
        loop {
            if *stop.borrow() {
                break;
            }
            if tokio::time::Instant::now() >= next_prune {
                if let Err(error) = self.prune().await {
                    tracing::error!(%error, "pruning the outbox failed");
                }
                next_prune = tokio::time::Instant::now() + self.config.outbox.prune_interval;
            }
            let delivered_a_full_batch = match self.pass().await {
                Ok(count) => count == BATCH,
                Err(error) => {
                    tracing::error!(%error, "outbox pass failed");
                    false
                }
            };
            self.state.limiters.forget_idle();
            if delivered_a_full_batch {
                continue;
            }
            let sleep = self.until_next_due().await;
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(sleep) => {}
                _ = stop.changed() => {}
            }
        }
        let drain = async {
            while let Ok(count) = self.pass().await {
                if count == 0 {
                    break;
                }
            }
        };
        if tokio::time::timeout(self.config.shutdown_grace, drain)
            .await
            .is_err()
        {
            tracing::warn!("outbox drain cut short by the shutdown grace period");
        }
    }

    /// Delete delivered events and inbound delivery ids past their keep windows.
    pub async fn prune(&self) -> Result<Pruned, StoreError> {
        let now = now_ms();
        let before = |keep: Duration| now.saturating_sub(keep.as_millis() as i64);
        let pruned = self
            .store
            .prune(
                before(self.config.outbox.keep_delivered),
                before(self.config.outbox.keep_inbound_ids),
            )
            .await?;
        if pruned != Pruned::default() {
            tracing::info!(
                delivered_events = pruned.delivered_events,
                inbound_ids = pruned.inbound_ids,
                "pruned delivered events and inbound ids"
            );
        }
        Ok(pruned)
    }

    async fn until_next_due(&self) -> Duration {
        let poll = self.config.outbox.poll_interval;
        match self.store.next_due_at().await {
            Ok(Some(due)) => Duration::from_millis((due - now_ms()).max(0) as u64).min(poll),
            _ => poll,
        }
    }

    /// Claim what is due and deliver it; returns how many events were attempted.
    pub async fn pass(&self) -> Result<usize, fathom_conversations::StoreError> {
        let lease_ms = self.config.outbox.lease.as_millis() as i64;
        let events = self.store.claim_due(now_ms(), lease_ms, BATCH).await?;
        let count = events.len();
        futures::stream::iter(events)
            .for_each_concurrent(self.config.outbox.concurrency, |event| async move {
                if let Err(error) = self.deliver(event).await {
                    tracing::error!(%error, "recording a delivery outcome failed");
                }
            })
            .await;
        Ok(count)
    }

    #[tracing::instrument(skip_all, fields(event_id = %event.id, event_type = %event.event_type, workspace = %event.workspace, attempt = event.attempts))]
    async fn deliver(&self, event: OutboxEvent) -> Result<(), fathom_conversations::StoreError> {
        let Some(workspace) = self.config.workspaces.get(&event.workspace) else {
            return self
                .store
                .mark_dead(&event.id, "the workspace is no longer configured")
                .await;
        };
        let outcome = if event.event_type == crate::handoff::TURN_EVENT {
            // A customer message a helpdesk delivered: answered here, not in its request.
            crate::handoff::turn::answer_queued(&self.state, &event).await
        } else {
            let Some(helpdesk) = crate::helpdesk::destination(workspace, &event.event_type) else {
                return self
                    .store
                    .mark_dead(&event.id, "no helpdesk configured takes this event")
                    .await;
            };
            let url = helpdesk.endpoint(workspace).to_string();
            if self.store.endpoint_disabled(&event.workspace, &url).await? {
                metrics::counter!(telemetry::WEBHOOK_FAILURES, "reason" => "endpoint_disabled")
                    .increment(1);
                return self
                    .store
                    .mark_dead(&event.id, "endpoint disabled after it answered 410 Gone")
                    .await;
            }
            let delivery = Delivery {
                http: &self.http,
                links: self.state.links.as_ref(),
                workspace_id: &event.workspace,
                workspace,
            };
            match helpdesk.deliver(&delivery, &event).await {
                Attempt::Gone => {
                    metrics::counter!(telemetry::WEBHOOK_FAILURES, "reason" => "gone").increment(1);
                    tracing::warn!(%url, "endpoint answered 410 Gone; disabling it");
                    self.store
                        .disable_endpoint(&event.workspace, &url, "410 Gone")
                        .await?;
                    return self
                        .store
                        .mark_dead(&event.id, "endpoint answered 410 Gone")
                        .await;
                }
                other => other,
            }
        };
        match outcome {
            Attempt::Delivered => {
                metrics::counter!(telemetry::WEBHOOK_DELIVERIES, "event_type" => event.event_type.clone())
                    .increment(1);
                tracing::info!("webhook delivered");
                self.store.mark_delivered(&event.id, now_ms()).await
            }
            // Handled above; a turn never answers 410.
            Attempt::Gone => {
                self.store
                    .mark_dead(&event.id, "endpoint answered 410 Gone")
                    .await
            }
            Attempt::Abandoned(why) => {
                metrics::counter!(telemetry::WEBHOOK_FAILURES, "reason" => "dead_letter")
                    .increment(1);
                tracing::warn!(%why, "event cannot be delivered; moved to the dead letters");
                self.store.mark_dead(&event.id, &why).await
            }
            Attempt::Failed { error, retry_after } => {
                metrics::counter!(telemetry::WEBHOOK_FAILURES, "reason" => "retryable")
                    .increment(1);
                let delay = next_delay(&self.config.outbox, event.attempts, retry_after);
                let next_attempt_at = now_ms() + delay.as_millis() as i64;
                let give_up_at =
                    event.created_at_ms + self.config.outbox.give_up_after.as_millis() as i64;
                if next_attempt_at > give_up_at {
                    metrics::counter!(telemetry::WEBHOOK_FAILURES, "reason" => "dead_letter")
                        .increment(1);
                    tracing::warn!(%error, "webhook undeliverable; moved to the dead letters");
                    return self
                        .store
                        .mark_dead(&event.id, &format!("gave up: {error}"))
                        .await;
                }
                tracing::info!(%error, retry_in_ms = delay.as_millis() as u64, "webhook delivery failed; will retry");
                self.store
                    .schedule_retry(&event.id, next_attempt_at, &error)
                    .await
            }
        }
    }
}

/// Exponential backoff with jitter: attempt n waits a random time between half and all of
/// `initial × 2^(n-1)` (capped), or at least what `Retry-After` asked for (up to an hour).
fn next_delay(config: &OutboxConfig, attempts: u32, retry_after: Option<Duration>) -> Duration {
    let exponent = attempts.saturating_sub(1).min(30);
    let full = config
        .initial_backoff
        .saturating_mul(1u32 << exponent)
        .min(config.max_backoff);
    let jittered = full.mul_f64(rand::rng().random_range(0.5..=1.0));
    match retry_after {
        Some(asked) => jittered.max(asked.min(MAX_RETRY_AFTER)),
        None => jittered,
    }
}

/// `Retry-After` as seconds or as an HTTP date.
fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    let value = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(
        date.duration_since(std::time::SystemTime::now())
            .unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_with_jitter_and_a_cap() {
        let config = OutboxConfig {
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            ..OutboxConfig::default()
        };
        for attempt in 1..=10u32 {
            let full = Duration::from_secs(1u64 << (attempt - 1)).min(Duration::from_secs(60));
            let delay = next_delay(&config, attempt, None);
            assert!(
                delay >= full / 2 && delay <= full,
                "attempt {attempt}: {delay:?}"
            );
        }
    }

    #[test]
    fn retry_after_is_honoured_but_capped() {
        let config = OutboxConfig {
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_secs(30),
            ..OutboxConfig::default()
        };
        let delay = next_delay(&config, 1, Some(Duration::from_secs(7)));
        assert_eq!(delay, Duration::from_secs(7));
        let delay = next_delay(&config, 1, Some(Duration::from_secs(7200)));
        assert_eq!(delay, MAX_RETRY_AFTER);
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::RETRY_AFTER, "12".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(12)));
        let later = std::time::SystemTime::now() + Duration::from_secs(120);
        headers.insert(
            http::header::RETRY_AFTER,
            httpdate::fmt_http_date(later).parse().unwrap(),
        );
        let parsed = retry_after(&headers).unwrap();
        assert!(parsed > Duration::from_secs(100) && parsed <= Duration::from_secs(120));
        headers.insert(http::header::RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&headers), None);
    }
}
