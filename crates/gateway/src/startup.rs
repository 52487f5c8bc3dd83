//! [`Application`]: binds its own listener (port 0 in tests), serves the router over HTTP/1.1
//! and HTTP/2 (each connection within its timeouts, see [`crate::connection`], and at most
//! `connections.max_connections` at once), runs the outbox worker, and shuts down gracefully:
//! stop accepting, let requests in flight finish, deliver what the outbox has due, all within
//! the grace period.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use crate::config::{ConnectionLimits, GatewayConfig};
use crate::outbox::OutboxWorker;
use crate::routes::router;
use crate::state::{AppState, Dependencies};

#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    address: SocketAddr,
    state: AppState,
    /// Routes the embedding program serves beside the gateway's (see [`Application::merge_routes`]).
    extra_routes: Option<axum::Router>,
}

impl Application {
    /// Bind `config.addr` and assemble the service; nothing is served until
    /// [`Application::run_until_stopped`].
    pub async fn build(config: GatewayConfig, dependencies: Dependencies) -> std::io::Result<Self> {
        let listener = TcpListener::bind(config.addr).await?;
        let address = listener.local_addr()?;
        let state = AppState::new(config, dependencies);
        Ok(Self {
            listener,
            address,
            state,
            extra_routes: None,
        })
    }

    /// Serve `routes` too, on the same listener (`fathom serve` adds the local CLI's API this
    /// way). They get none of the gateway's layers (CORS, body limit, metrics): they bring
    /// their own, and their paths must not clash with the gateway's.
    pub fn merge_routes(mut self, routes: axum::Router) -> Self {
        self.extra_routes = Some(match self.extra_routes.take() {
            Some(existing) => existing.merge(routes),
            None => routes,
        });
        self
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serve until `shutdown` completes, then shut down gracefully. Dropping the returned
    /// future instead stops everything at once (connections and deliveries in flight too).
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> std::io::Result<()> {
        let grace = self.state.config.shutdown_grace;
        let (stop_worker, worker_stopped) = watch::channel(false);
        let live = crate::live::follow_changes(self.state.clone(), worker_stopped.clone());
        let worker = OutboxWorker::new(self.state.clone()).run(worker_stopped);
        let shutting_down = self.state.shutting_down.clone();
        let shutdown = async move {
            shutdown.await;
            // Live streams (SSE) end now, so they do not hold the drain up.
            shutting_down.send_replace(true);
        };
        let limits = self.state.config.connections.clone();
        let server = async move {
            let mut routes = router(self.state);
            if let Some(extra) = self.extra_routes {
                routes = routes.merge(extra);
            }
            serve(self.listener, routes, limits, shutdown, grace).await;
            let _ = stop_worker.send(true);
        };
        tokio::join!(server, worker, live);
        tracing::info!("gateway stopped");
        Ok(())
    }
}

async fn serve(
    listener: TcpListener,
    router: axum::Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send,
    grace: std::time::Duration,
) {
    let (closing, closed) = watch::channel(false);
    let mut connections = JoinSet::new();
    let max_connections = connection_cap(limits.max_connections);
    let slots = Arc::new(Semaphore::new(max_connections));
    let limits = Arc::new(limits);
    let quiet = crate::connection::Quiet::default();
    let mut warned_busy = false;
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: wait a little, keep serving.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            () = &mut shutdown => break,
        };
        let slot = match Arc::clone(&slots).try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                // At the cap (the open-file limit keeps RESERVED_FILES spare for this one):
                // the connection quiet longest makes room. When every connection has a
                // request in flight, the new one waits for one of them to end.
                let made_room = quiet.close_quietest();
                if !made_room && !warned_busy {
                    tracing::warn!(
                        max_connections,
                        "connection limit reached with every connection busy: new connections wait"
                    );
                }
                warned_busy = !made_room;
                let slot = tokio::select! {
                    slot = Arc::clone(&slots).acquire_owned() => slot,
                    () = &mut shutdown => break,
                };
                let Ok(slot) = slot else { break };
                slot
            }
        };
        let router = router.clone();
        let limits = Arc::clone(&limits);
        let closed = closed.clone();
        let quiet = quiet.clone();
        connections.spawn(async move {
            crate::connection::serve(stream, peer, router, &limits, &quiet, closed).await;
            drop(slot);
        });
    }
    drop(listener);
    tracing::info!(
        open_connections = connections.len(),
        "shutting down: draining requests"
    );
    let _ = closing.send(true);
    let drained = tokio::time::timeout(grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!("requests still running after the grace period were cut off");
    }
}

/// Open files the process keeps for itself (the stores, the model, logs) beside connections.
const RESERVED_FILES: u64 = 256;

/// The configured connection cap, lowered to what the open-file limit leaves room for. The soft
/// limit is raised to the hard one first (as Go and many servers do at start-up).
fn connection_cap(configured: usize) -> usize {
    let files = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(files) => files,
        Err(error) => {
            tracing::debug!(%error, "cannot read the open-file limit");
            return configured;
        }
    };
    let room = usize::try_from(files.saturating_sub(RESERVED_FILES).max(files / 2))
        .unwrap_or(usize::MAX)
        .max(1);
    if room < configured {
        tracing::warn!(
            configured,
            open_file_limit = files,
            max_connections = room,
            "connection cap lowered to fit the open-file limit (raise `ulimit -n` for more)"
        );
        return room;
    }
    tracing::info!(
        max_connections = configured,
        open_file_limit = files,
        "connection cap"
    );
    configured
}

/// Completes on Ctrl-C or SIGTERM: the signal for a graceful shutdown.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutdown signal received");
}
