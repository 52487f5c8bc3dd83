//! Whether retrieval works: the engine records each search's outcome, and a readiness check asks
//! again (one cheap store call) while the last search failed, so a store that comes back makes
//! the service ready without waiting for a customer.

use std::sync::Mutex;

use fathom_core::WorkspaceId;
use fathom_retrieve::{RetrieveError, Retriever};

/// The last retrieval failure, if the last search failed.
#[derive(Debug, Default)]
pub struct RetrievalHealth {
    failing: Mutex<Option<Failure>>,
}

#[derive(Debug, Clone)]
struct Failure {
    workspace: WorkspaceId,
    error: String,
}

impl RetrievalHealth {
    pub(super) fn succeeded(&self) {
        if let Ok(mut failing) = self.failing.lock() {
            *failing = None;
        }
    }

    pub(super) fn failed(&self, workspace: &WorkspaceId, error: &RetrieveError) {
        if let Ok(mut failing) = self.failing.lock() {
            *failing = Some(Failure {
                workspace: workspace.clone(),
                error: error.to_string(),
            });
        }
    }

    /// The error of the last search, when it failed.
    pub fn last_error(&self) -> Option<String> {
        self.failing
            .lock()
            .ok()
            .and_then(|failing| failing.as_ref().map(|f| f.error.clone()))
    }

    /// `Ok` when the last search worked, or when the store answers again now.
    pub(super) async fn check(&self, retriever: &Retriever) -> Result<(), String> {
        let Some(failure) = self.failing.lock().ok().and_then(|f| f.clone()) else {
            return Ok(());
        };
        match retriever.probe(&failure.workspace).await {
            Ok(()) => {
                self.succeeded();
                Ok(())
            }
            Err(error) => {
                let error = error.to_string();
                tracing::warn!(%error, workspace = %failure.workspace, "retrieval still unavailable");
                Err(error)
            }
        }
    }
}
