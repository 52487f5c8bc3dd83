//! [`Application`]: binds its own listener (port 0 in tests), serves the router over HTTP/1.1
//! and HTTP/2, runs the outbox worker, and shuts down gracefully: stop accepting, let requests in
//! flight finish, deliver what the outbox has due, all within the grace period.

use std::future::Future;
use std::net::SocketAddr;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::config::GatewayConfig;
use crate::outbox::OutboxWorker;
use crate::routes::router;
use crate::state::{AppState, Dependencies};

#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    address: SocketAddr,
    state: AppState,
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
        })
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
        let worker = OutboxWorker::new(self.state.clone()).run(worker_stopped);
        let shutting_down = self.state.shutting_down.clone();
        let shutdown = async move {
            shutdown.await;
            // Live streams (SSE) end now, so they do not hold the drain up.
            shutting_down.send_replace(true);
        };
        let server = async move {
            serve(self.listener, router(self.state), shutdown, grace).await;
            let _ = stop_worker.send(true);
        };
        tokio::join!(server, worker);
        tracing::info!("gateway stopped");
        Ok(())
    }
}

async fn serve(
    listener: TcpListener,
    router: axum::Router,
    shutdown: impl Future<Output = ()> + Send,
    grace: std::time::Duration,
) {
    let (closing, closed) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _peer)) => stream,
                    Err(error) => {
                        // Out of file descriptors and the like: wait a little, keep serving.
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let service = TowerToHyperService::new(router.clone());
                let mut closed = closed.clone();
                connections.spawn(async move {
                    let builder = auto::Builder::new(TokioExecutor::new());
                    let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                    tokio::pin!(connection);
                    tokio::select! {
                        result = connection.as_mut() => {
                            if let Err(error) = result {
                                tracing::debug!(%error, "connection ended with an error");
                            }
                        }
                        _ = closed.changed() => {
                            connection.as_mut().graceful_shutdown();
                            let _ = connection.await;
                        }
                    }
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            () = &mut shutdown => break,
        }
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
