//! For tests of this crate and the ones above it: the Qdrant server that `QDRANT_URL` names, and
//! throwaway collections on it. Without that variable the Qdrant-server tests print that they
//! were skipped (no registry ships the server; DEVELOPERS.md says how to get one).

use crate::QdrantConfig;

/// `QDRANT_URL` (the server's gRPC endpoint), or `None` after printing that `what` was skipped.
pub fn qdrant_url(what: &str) -> Option<String> {
    match std::env::var("QDRANT_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!(
                "skipped: {what} on a Qdrant server (set QDRANT_URL to run it; see DEVELOPERS.md)"
            );
            None
        }
    }
}

/// A uniquely named collection (and its `_sync` companion) on the server, deleted on drop.
pub struct TestCollection {
    url: String,
    pub name: String,
}

impl TestCollection {
    pub fn new(url: &str, purpose: &str) -> Self {
        Self {
            url: url.to_string(),
            name: format!("test_{purpose}_{}", uuid::Uuid::new_v4().simple()),
        }
    }

    pub fn config(&self) -> QdrantConfig {
        let mut config = QdrantConfig::new(self.url.clone());
        config.collection = self.name.clone();
        config.api_key = std::env::var("QDRANT_API_KEY").ok();
        config
    }
}

impl Drop for TestCollection {
    fn drop(&mut self) {
        let config = self.config();
        // Drop runs inside the test's runtime: delete from a thread with a runtime of its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                let Ok(client) = qdrant_client::Qdrant::from_url(&config.url)
                    .api_key(config.api_key.clone())
                    .skip_compatibility_check()
                    .build()
                else {
                    return;
                };
                for name in [config.collection.clone(), config.sync_collection()] {
                    let _ = client.delete_collection(name).await;
                }
            });
        })
        .join();
    }
}
