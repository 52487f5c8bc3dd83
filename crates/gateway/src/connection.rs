//! One accepted connection, served within its limits:
//! - the header-read timeout: hyper's, for HTTP/1.1 (it counts from when the connection is
//!   ready for a request, so it also closes idle keep-alive connections);
//! - the idle timeout: a connection with no request in flight is closed, whatever its protocol
//!   (HTTP/2, or one that never says which); before its first request it gets only the
//!   header-read timeout;
//! - the body-read deadline: stamped on each request ([`BodyDeadline`]) and enforced where
//!   bodies are read ([`crate::json::read_body`]);
//! - the client's address ([`PeerAddr`]) for the per-client rate limits.
//!
//! The cap on open connections is the caller's: it holds a semaphore permit per connection,
//! and at the cap it asks the [`Quiet`] registry to close the connection that has been quiet
//! longest (no request in flight: idle keep-alive, or still sending its headers), so that a
//! crowd of slow or idle connections cannot keep a new client waiting.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpStream;
use tokio::sync::{watch, Notify};
use tokio::time::Instant;
use tower::ServiceExt;

use crate::clients::PeerAddr;
use crate::config::ConnectionLimits;
use crate::telemetry;

/// When the request's body must have arrived in full (a request extension).
#[derive(Debug, Clone, Copy)]
pub struct BodyDeadline(pub Instant);

/// How long an idle connection gets to finish closing politely (an HTTP/2 GOAWAY) before it
/// is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// Requests on one connection: how many are in flight (until their response body is done) and
/// how many have started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Activity {
    in_flight: usize,
    started: u64,
}

/// Decrements the in-flight count when the response body is done (or dropped).
struct InFlight(watch::Sender<Activity>);

impl InFlight {
    fn start(activity: &watch::Sender<Activity>) -> Self {
        activity.send_modify(|a| {
            a.in_flight += 1;
            a.started += 1;
        });
        Self(activity.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0
            .send_modify(|a| a.in_flight = a.in_flight.saturating_sub(1));
    }
}

/// The open connections, for closing the quietest one when a new client needs its place.
#[derive(Debug, Clone, Default)]
pub struct Quiet {
    open: Arc<Mutex<BTreeMap<u64, Registered>>>,
    next_id: Arc<AtomicU64>,
}

#[derive(Debug)]
struct Registered {
    activity: watch::Receiver<Activity>,
    /// When its last request ended (its start, before its first).
    quiet_since: Instant,
    evict: Arc<Notify>,
}

/// A connection's entry in [`Quiet`], removed when the connection ends.
struct Registration {
    quiet: Quiet,
    id: u64,
    evict: Arc<Notify>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.quiet.lock().remove(&self.id);
    }
}

impl Quiet {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Registered>> {
        self.open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn register(&self, activity: watch::Receiver<Activity>) -> Registration {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let evict = Arc::new(Notify::new());
        self.lock().insert(
            id,
            Registered {
                activity,
                quiet_since: Instant::now(),
                evict: Arc::clone(&evict),
            },
        );
        Registration {
            quiet: self.clone(),
            id,
            evict,
        }
    }

    /// Close the connection with no request in flight that has been quiet longest. False when
    /// every open connection is busy (its requests then finish, and new ones wait).
    pub fn close_quietest(&self) -> bool {
        let mut open = self.lock();
        for entry in open.values_mut() {
            if entry.activity.has_changed().unwrap_or(false) {
                let activity = *entry.activity.borrow_and_update();
                if activity.in_flight == 0 {
                    entry.quiet_since = Instant::now();
                }
            }
        }
        let quietest = open
            .iter()
            .filter(|(_, entry)| entry.activity.borrow().in_flight == 0)
            .min_by_key(|(id, entry)| (entry.quiet_since, **id))
            .map(|(id, _)| *id);
        let Some(id) = quietest else {
            return false;
        };
        if let Some(entry) = open.remove(&id) {
            entry.evict.notify_one();
        }
        true
    }
}

/// Serve `stream` until it ends, goes idle for too long, is closed to make room for a new one
/// (see [`Quiet`]), or `closing` turns true (graceful shutdown: requests in flight finish).
pub async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    router: axum::Router,
    limits: &ConnectionLimits,
    quiet: &Quiet,
    mut closing: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let (activity, watched) = watch::channel(Activity::default());
    let registration = quiet.register(watched.clone());
    let body_read_timeout = limits.body_read_timeout;
    let service = tower::service_fn(move |mut request: http::Request<Incoming>| {
        let in_flight = InFlight::start(&activity);
        request.extensions_mut().insert(PeerAddr(peer));
        request
            .extensions_mut()
            .insert(BodyDeadline(Instant::now() + body_read_timeout));
        let router = router.clone();
        async move {
            let response = router.oneshot(request.map(Body::new)).await?;
            Ok::<_, Infallible>(response.map(|body| {
                Body::new(body.map_frame(move |frame| {
                    let _still_in_flight = &in_flight;
                    frame
                }))
            }))
        }
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let connection = builder
        .serve_connection_with_upgrades(TokioIo::new(stream), TowerToHyperService::new(service));
    tokio::pin!(connection);
    metrics::gauge!(telemetry::CONNECTIONS_OPEN).increment(1.0);
    let reason = tokio::select! {
        result = connection.as_mut() => match result {
            Ok(()) => "ended",
            Err(error) => {
                tracing::debug!(%error, %peer, "connection ended with an error");
                let timed_out = error
                    .downcast_ref::<hyper::Error>()
                    .is_some_and(hyper::Error::is_timeout);
                if timed_out { "header_timeout" } else { "ended" }
            }
        },
        _ = closing.changed() => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
            "shutdown"
        }
        () = idle(watched, limits) => {
            tracing::debug!(%peer, "closing an idle connection");
            connection.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(CLOSE_GRACE, connection).await;
            "idle_timeout"
        }
        () = registration.evict.notified() => {
            // No request in flight: nothing is cut off by dropping it now.
            tracing::debug!(%peer, "closing a quiet connection to make room for a new one");
            "evicted"
        }
    };
    drop(registration);
    metrics::gauge!(telemetry::CONNECTIONS_OPEN).decrement(1.0);
    metrics::counter!(telemetry::CONNECTIONS_CLOSED, "reason" => reason).increment(1);
}

/// Completes once the connection has had no request in flight for its timeout: the idle
/// timeout, or the header-read timeout while it has not started a request yet.
async fn idle(mut watched: watch::Receiver<Activity>, limits: &ConnectionLimits) {
    loop {
        let quiet = watched
            .wait_for(|activity| activity.in_flight == 0)
            .await
            .map(|activity| *activity);
        // Err: the connection is gone, and ends on its own.
        let Ok(quiet) = quiet else {
            return std::future::pending().await;
        };
        let timeout = if quiet.started == 0 {
            limits.header_read_timeout
        } else {
            limits.idle_timeout
        };
        let woken = watched.wait_for(|activity| activity.started != quiet.started);
        if tokio::time::timeout(timeout, woken).await.is_err() {
            return;
        }
    }
}
