//! Copying a workspace's index between stores (`fathom migrate-index`): everything arrives once,
//! a copy that fails midway resumes where it stopped, and an occupied target is not overwritten
//! by accident. Both sides are the real embedded engine (the copy is written against the
//! `VectorStore` trait; the Qdrant server side is tested in crates/fathom/tests/cli.rs).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use fathom_core::{
    ArticleId, ChunkId, HybridQuery, IndexedChunk, PointPage, SearchHit, StoreError, VectorStore,
    WorkspaceId,
};
use fathom_embed::Bm25Embedder;
use fathom_ingest::copy::{copy_workspace, CopyError, CopyOptions, IndexSide};
use fathom_ingest::manifest::Manifest;
use fathom_ingest::sync::{sync_folder, SyncBackends, SyncOptions};
use fathom_ingest::ChunkerConfig;
use fathom_store::{EdgeStore, EdgeStoreConfig, FileSyncState};
use tempfile::TempDir;

fn side(dir: &std::path::Path) -> IndexSide {
    IndexSide {
        store: Arc::new(EdgeStore::open(&dir.join("qdrant"), EdgeStoreConfig::default()).unwrap()),
        state: Arc::new(FileSyncState::new(dir.join("workspaces"))),
    }
}

fn backends(side: &IndexSide) -> SyncBackends {
    SyncBackends {
        store: Arc::clone(&side.store),
        state: Arc::clone(&side.state),
        dense: None,
        sparse: Arc::new(Bm25Embedder::english()),
    }
}

fn acme() -> WorkspaceId {
    WorkspaceId::parse("acme").unwrap()
}

/// A source index of 12 articles, 3 sections each, synced into `acme`.
async fn seeded_source(dir: &std::path::Path) -> IndexSide {
    let articles = dir.join("articles");
    std::fs::create_dir_all(&articles).unwrap();
    for i in 0..12 {
        let body: String = (0..3)
            .map(|s| {
                format!(
                    "## Part {s}\n\nStep {s} of guide {i}: open settings and choose billing.\n\n"
                )
            })
            .collect();
        std::fs::write(
            articles.join(format!("guide-{i}.md")),
            format!("---\nid: guide-{i}\ntitle: Guide {i}\n---\n\n{body}"),
        )
        .unwrap();
    }
    let source = side(&dir.join("source"));
    sync_folder(
        &articles,
        &backends(&source),
        &SyncOptions::new(acme()),
        &|_| {},
    )
    .await
    .unwrap();
    source
}

fn options(source: &IndexSide, replace: bool) -> CopyOptions {
    CopyOptions {
        workspace: acme(),
        fingerprint: backends(source).fingerprint(&ChunkerConfig::default()),
        page_size: 5,
        replace,
        holder: "copy test".into(),
        lease_ttl: Duration::from_secs(60),
    }
}

/// A target that fails every upsert after the first `ok` ones, like a server going away.
#[derive(Debug)]
struct FailingAfter {
    inner: Arc<dyn VectorStore>,
    ok: usize,
    calls: AtomicUsize,
}

#[async_trait]
impl VectorStore for FailingAfter {
    async fn upsert(&self, points: Vec<IndexedChunk>) -> Result<(), StoreError> {
        if self.calls.fetch_add(1, Ordering::SeqCst) >= self.ok {
            return Err(StoreError::Unavailable {
                endpoint: "test".into(),
                operation: "upsert",
                reason: "connection refused".into(),
            });
        }
        self.inner.upsert(points).await
    }
    async fn delete_articles(&self, w: &WorkspaceId, a: &[ArticleId]) -> Result<(), StoreError> {
        self.inner.delete_articles(w, a).await
    }
    async fn article_ids(&self, w: &WorkspaceId) -> Result<Vec<ArticleId>, StoreError> {
        self.inner.article_ids(w).await
    }
    async fn count(&self, w: &WorkspaceId) -> Result<usize, StoreError> {
        self.inner.count(w).await
    }
    async fn query(&self, q: HybridQuery) -> Result<Vec<SearchHit>, StoreError> {
        self.inner.query(q).await
    }
    async fn scroll(
        &self,
        w: &WorkspaceId,
        from: Option<ChunkId>,
        limit: usize,
    ) -> Result<PointPage, StoreError> {
        self.inner.scroll(w, from, limit).await
    }
    async fn flush(&self) -> Result<(), StoreError> {
        self.inner.flush().await
    }
    async fn health(&self) -> Result<(), StoreError> {
        self.inner.health().await
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
}

#[tokio::test]
async fn a_copy_interrupted_midway_resumes_and_ends_with_the_same_index_and_manifest() {
    let dir = TempDir::new().unwrap();
    let source = seeded_source(dir.path()).await;
    let total = source.store.count(&acme()).await.unwrap();
    assert!(total >= 30, "{total} chunks");
    let target = side(&dir.path().join("target"));

    // The target fails after two pages.
    let flaky = IndexSide {
        store: Arc::new(FailingAfter {
            inner: Arc::clone(&target.store),
            ok: 2,
            calls: AtomicUsize::new(0),
        }),
        state: Arc::clone(&target.state),
    };
    let err = copy_workspace(&source, &flaky, &options(&source, false), &|_| {})
        .await
        .unwrap_err();
    assert_eq!(err.code(), "vector_store_unavailable", "{err}");
    let partial = Manifest::load(&*target.state, &acme())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(partial.copy.as_ref().unwrap().copied, 10);
    assert_eq!(
        partial.in_flight.len(),
        12,
        "all articles journaled until the copy completes"
    );

    let report = copy_workspace(&source, &target, &options(&source, false), &|_| {})
        .await
        .unwrap();

    assert_eq!(report.resumed_at, 10);
    assert_eq!(report.points, total);
    assert_eq!(target.store.count(&acme()).await.unwrap(), total);
    assert_eq!(
        target.store.article_ids(&acme()).await.unwrap(),
        source.store.article_ids(&acme()).await.unwrap()
    );
    let copied = Manifest::load(&*target.state, &acme())
        .await
        .unwrap()
        .unwrap();
    let original = Manifest::load(&*source.state, &acme())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        copied, original,
        "the target's manifest is the source's, copy finished"
    );

    // A sync against the target now finds nothing to do: nothing is re-embedded.
    let report = sync_folder(
        &dir.path().join("articles"),
        &backends(&target),
        &SyncOptions::new(acme()),
        &|_| {},
    )
    .await
    .unwrap();
    assert_eq!(
        (report.unchanged, report.chunks_written),
        (12, 0),
        "{report:?}"
    );
}

#[tokio::test]
async fn a_target_that_already_holds_the_workspace_is_only_overwritten_with_replace() {
    let dir = TempDir::new().unwrap();
    let source = seeded_source(dir.path()).await;
    let target = side(&dir.path().join("target"));
    copy_workspace(&source, &target, &options(&source, false), &|_| {})
        .await
        .unwrap();

    let err = copy_workspace(&source, &target, &options(&source, false), &|_| {})
        .await
        .unwrap_err();
    assert!(matches!(err, CopyError::TargetNotEmpty { .. }), "{err}");
    assert!(err.to_string().contains("--replace"), "{err}");

    let report = copy_workspace(&source, &target, &options(&source, true), &|_| {})
        .await
        .unwrap();
    assert_eq!(report.points, source.store.count(&acme()).await.unwrap());
    assert_eq!(target.store.count(&acme()).await.unwrap(), report.points);
}

#[tokio::test]
async fn a_source_indexed_with_another_model_is_refused() {
    let dir = TempDir::new().unwrap();
    let source = seeded_source(dir.path()).await;
    let target = side(&dir.path().join("target"));
    let mut other = options(&source, false);
    other.fingerprint = "chunker:400/50;dense:some-other-model;sparse:bm25".into();

    let err = copy_workspace(&source, &target, &other, &|_| {})
        .await
        .unwrap_err();

    assert_eq!(err.code(), "index_fingerprint_mismatch", "{err}");
    assert_eq!(target.store.count(&acme()).await.unwrap(), 0);
}
