//! What every handler can reach: the store, the answer engine, the workspaces' settings, the
//! limiters, the live hub and a way to wake the outbox worker.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use fathom_answer::AnswerEngine;
use fathom_conversations::{
    ConversationReports, ConversationStore, HelpdeskLinks, OutboxStore, Stores,
};
use fathom_core::WorkspaceId;
use fathom_ingest::sync::SyncBackends;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::sync::{watch, Notify};

use crate::clients::ClientResolver;
use crate::config::{GatewayConfig, WorkspaceConfig};
use crate::limits::Limiters;
use crate::live::LiveHub;

/// Where `POST /v1/admin/knowledge/sync` writes: the vector store, its sync state store (the
/// same manifests and leases `fathom ingest` uses) and the embedders. `/readyz` checks the
/// vector store too. `data_dir` is this gateway's own data folder (the console's eval reports),
/// wherever the index lives.
#[derive(Clone)]
pub struct Knowledge {
    pub backends: SyncBackends,
    pub data_dir: PathBuf,
}

impl std::fmt::Debug for Knowledge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Knowledge")
            .field("data_dir", &self.data_dir)
            .field("index", &self.backends.store.describe())
            .field("sync_state", &self.backends.state.describe())
            .finish_non_exhaustive()
    }
}

/// The components the gateway is built from; the caller chooses the backends.
#[derive(Debug, Clone)]
pub struct Dependencies {
    pub engine: Arc<AnswerEngine>,
    /// The conversation database, each part behind its trait.
    pub stores: Stores,
    pub knowledge: Option<Knowledge>,
}

#[derive(Debug, Clone)]
pub struct AppState(Arc<Inner>);

#[derive(Debug)]
pub struct Inner {
    pub store: Arc<dyn ConversationStore>,
    pub reports: Arc<dyn ConversationReports>,
    pub outbox: Arc<dyn OutboxStore>,
    pub links: Arc<dyn HelpdeskLinks>,
    pub engine: Arc<AnswerEngine>,
    pub config: Arc<GatewayConfig>,
    pub knowledge: Option<Knowledge>,
    pub limiters: Limiters,
    /// Finds a request's client address (for the per-client limits).
    pub clients: ClientResolver,
    pub live: LiveHub,
    pub outbox_wake: Arc<Notify>,
    pub metrics: PrometheusHandle,
    /// Turns true when the server starts shutting down: long-lived streams end then.
    pub shutting_down: watch::Sender<bool>,
    /// blake3(admin key) → workspace: keys are compared by hash, never as plain strings.
    admin_keys: HashMap<blake3::Hash, WorkspaceId>,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn new(config: GatewayConfig, dependencies: Dependencies) -> Self {
        let admin_keys = config
            .workspaces
            .iter()
            .map(|(workspace, settings)| {
                (
                    blake3::hash(settings.admin_key.expose().as_bytes()),
                    workspace.clone(),
                )
            })
            .collect();
        Self(Arc::new(Inner {
            store: dependencies.stores.conversations,
            reports: dependencies.stores.reports,
            outbox: dependencies.stores.outbox,
            links: dependencies.stores.links,
            engine: dependencies.engine,
            knowledge: dependencies.knowledge,
            limiters: Limiters::new(&config.rate_limits),
            clients: ClientResolver::new(&config.clients),
            config: Arc::new(config),
            live: LiveHub::default(),
            outbox_wake: Arc::new(Notify::new()),
            metrics: crate::telemetry::metrics_handle(),
            shutting_down: watch::Sender::new(false),
            admin_keys,
        }))
    }

    pub fn workspace(&self, workspace: &WorkspaceId) -> Option<&WorkspaceConfig> {
        self.config.workspaces.get(workspace)
    }

    /// The workspace whose admin key this is.
    pub fn workspace_for_admin_key(&self, key: &str) -> Option<&WorkspaceId> {
        self.admin_keys.get(&blake3::hash(key.as_bytes()))
    }
}
