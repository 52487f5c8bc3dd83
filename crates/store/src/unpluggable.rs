//! A store behind a switch, for tests and failure drills: while unplugged, every call fails as a
//! Qdrant server's client does when the server is down; plugged back in, calls reach the real
//! store again. The embedded store cannot be unplugged for real, and "the index cannot be
//! searched" must be testable end to end (`retrieval_unavailable`, `/readyz`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use fathom_core::{
    ArticleId, ChunkId, HybridQuery, IndexedChunk, PointPage, SearchHit, StoreError, VectorStore,
    WorkspaceId,
};

#[derive(Debug)]
pub struct Unpluggable {
    inner: Arc<dyn VectorStore>,
    unplugged: AtomicBool,
}

impl Unpluggable {
    /// `inner`, plugged in.
    pub fn new(inner: Arc<dyn VectorStore>) -> Self {
        Self {
            inner,
            unplugged: AtomicBool::new(false),
        }
    }

    pub fn unplug(&self) {
        self.unplugged.store(true, Ordering::SeqCst);
    }

    pub fn plug_in(&self) {
        self.unplugged.store(false, Ordering::SeqCst);
    }

    fn reachable(&self, operation: &'static str) -> Result<(), StoreError> {
        if self.unplugged.load(Ordering::SeqCst) {
            return Err(StoreError::Operation {
                operation,
                reason: "connection refused (unplugged)".into(),
            });
        }
        Ok(())
    }
}

#[async_trait]
impl VectorStore for Unpluggable {
    async fn upsert(&self, points: Vec<IndexedChunk>) -> Result<(), StoreError> {
        self.reachable("upsert")?;
        self.inner.upsert(points).await
    }

    async fn delete_articles(
        &self,
        workspace: &WorkspaceId,
        articles: &[ArticleId],
    ) -> Result<(), StoreError> {
        self.reachable("delete")?;
        self.inner.delete_articles(workspace, articles).await
    }

    async fn article_ids(&self, workspace: &WorkspaceId) -> Result<Vec<ArticleId>, StoreError> {
        self.reachable("scroll")?;
        self.inner.article_ids(workspace).await
    }

    async fn count(&self, workspace: &WorkspaceId) -> Result<usize, StoreError> {
        self.reachable("count")?;
        self.inner.count(workspace).await
    }

    async fn query(&self, query: HybridQuery) -> Result<Vec<SearchHit>, StoreError> {
        self.reachable("query")?;
        self.inner.query(query).await
    }

    async fn scroll(
        &self,
        workspace: &WorkspaceId,
        from: Option<ChunkId>,
        limit: usize,
    ) -> Result<PointPage, StoreError> {
        self.reachable("scroll")?;
        self.inner.scroll(workspace, from, limit).await
    }

    async fn flush(&self) -> Result<(), StoreError> {
        self.reachable("flush")?;
        self.inner.flush().await
    }

    async fn health(&self) -> Result<(), StoreError> {
        self.reachable("health")?;
        self.inner.health().await
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }
}
