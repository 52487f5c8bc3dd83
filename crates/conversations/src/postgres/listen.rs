//! One connection outside the pool that `LISTEN`s for every gateway's committed changes and
//! hands them to the store's [`ChangeFeed`]. If the connection drops, it reconnects with backoff
//! and announces [`ChangeNotice::Missed`], so followers re-read what they follow.

use std::time::Duration;

use tokio::sync::watch;
use tokio_postgres::AsyncMessage;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::{describe, CHANGES_CHANNEL};
use crate::model::ConversationId;
use crate::{ChangeFeed, ChangeNotice};

const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The listening task; it stops when the last clone of the store is dropped.
#[derive(Debug)]
pub(super) struct Listener(tokio::task::JoinHandle<()>);

impl Drop for Listener {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Listener {
    /// Start listening; the receiver turns true once `LISTEN` took effect the first time.
    pub(super) fn start(
        config: tokio_postgres::Config,
        tls: MakeRustlsConnect,
        feed: ChangeFeed,
    ) -> (Self, watch::Receiver<bool>) {
        let (listening, ready) = watch::channel(false);
        (
            Self(tokio::spawn(listen_forever(config, tls, feed, listening))),
            ready,
        )
    }
}

async fn listen_forever(
    config: tokio_postgres::Config,
    tls: MakeRustlsConnect,
    feed: ChangeFeed,
    listening: watch::Sender<bool>,
) {
    let mut backoff = Duration::from_millis(250);
    loop {
        match listen_once(&config, &tls, &feed, &listening).await {
            Ok(()) => {
                tracing::warn!("the change listener's connection closed; reconnecting");
                backoff = Duration::from_millis(250);
                tokio::time::sleep(backoff).await;
            }
            Err(reason) => {
                tracing::warn!(%reason, retry_in_ms = backoff.as_millis() as u64, "the change listener is not connected");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Listen until the connection ends (`Ok`) or fails to start (`Err`).
async fn listen_once(
    config: &tokio_postgres::Config,
    tls: &MakeRustlsConnect,
    feed: &ChangeFeed,
    listening: &watch::Sender<bool>,
) -> Result<(), String> {
    let (client, mut connection) = config
        .connect(tls.clone())
        .await
        .map_err(|error| describe(&error))?;
    let forward = feed.clone();
    // The connection's messages (notifications among them) only flow while it is polled.
    let driver = tokio::spawn(async move {
        while let Some(message) =
            std::future::poll_fn(|context| connection.poll_message(context)).await
        {
            match message {
                Ok(AsyncMessage::Notification(notification)) => {
                    match ConversationId::parse(notification.payload()) {
                        Some(id) => forward.announce(ChangeNotice::Changed(id)),
                        None => tracing::warn!(
                            payload = notification.payload(),
                            "ignored a change notice that is not a conversation id"
                        ),
                    }
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(reason = %describe(&error), "the change listener's connection failed");
                    break;
                }
            }
        }
    });
    if let Err(error) = client
        .batch_execute(&format!("LISTEN {CHANGES_CHANNEL}"))
        .await
    {
        driver.abort();
        return Err(describe(&error));
    }
    // Anything committed before LISTEN took effect was not heard.
    listening.send_replace(true);
    feed.announce(ChangeNotice::Missed);
    let _ = driver.await;
    drop(client);
    Ok(())
}
