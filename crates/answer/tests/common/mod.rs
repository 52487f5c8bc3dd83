//! The fixture the answer-engine tests share: a few articles synced into a real qdrant-edge
//! store in a temp dir (BM25 only, so the tests stay fast), and conversations about them.
//! Each test crate uses part of it.
#![allow(dead_code)]

use std::sync::Arc;

use fathom_core::{
    Conversation, CustomerAttributes, Role, SparseEmbedder, Turn, VectorStore, WorkspaceId,
};
use fathom_embed::Bm25Embedder;
use fathom_ingest::sync::{sync_folder, SyncBackends, SyncOptions};
use fathom_retrieve::{Retriever, RetrieverConfig};
use fathom_store::{EdgeStore, EdgeStoreConfig, FileSyncState};
use tempfile::TempDir;

pub struct Fixture {
    pub retriever: Retriever,
    pub store: Arc<dyn VectorStore>,
    pub sparse: Arc<dyn SparseEmbedder>,
    pub workspace: WorkspaceId,
    /// Declared last so it is dropped last: the store flushes into it when dropped.
    _dir: TempDir,
}

/// `articles`: (file name, Markdown text) pairs, synced into workspace `acme`.
pub async fn fixture(articles: &[(&str, &str)]) -> Fixture {
    let dir = TempDir::new().unwrap();
    let source = dir.path().join("articles");
    std::fs::create_dir_all(&source).unwrap();
    for (name, text) in articles {
        std::fs::write(source.join(name), text).unwrap();
    }
    let store: Arc<dyn VectorStore> =
        Arc::new(EdgeStore::open(&dir.path().join("qdrant"), EdgeStoreConfig::default()).unwrap());
    let sparse: Arc<dyn SparseEmbedder> = Arc::new(Bm25Embedder::default());
    let workspace = WorkspaceId::parse("acme").unwrap();
    let backends = SyncBackends {
        store: store.clone(),
        state: Arc::new(FileSyncState::new(dir.path().join("workspaces"))),
        dense: None,
        sparse: sparse.clone(),
    };
    let options = SyncOptions::new(workspace.clone());
    let report = sync_folder(&source, &backends, &options, &|_| {})
        .await
        .unwrap();
    assert!(report.failed.is_empty(), "{report:?}");
    let retriever = Retriever::new(
        store.clone(),
        None,
        sparse.clone(),
        RetrieverConfig::default(),
    );
    Fixture {
        _dir: dir,
        retriever,
        store,
        sparse,
        workspace,
    }
}

pub fn conversation(fixture: &Fixture, history: &[(Role, &str)], message: &str) -> Conversation {
    let history = history
        .iter()
        .map(|(role, text)| Turn {
            role: *role,
            text: text.to_string(),
            awaiting: None,
        })
        .collect();
    conversation_of(fixture, history, message)
}

#[allow(dead_code)] // not every test binary uses it
/// A conversation with whole turns (e.g. a bot turn with what it awaits).
pub fn conversation_of(fixture: &Fixture, history: Vec<Turn>, message: &str) -> Conversation {
    Conversation {
        workspace: fixture.workspace.clone(),
        history,
        message: message.into(),
        customer: CustomerAttributes::default(),
    }
}
