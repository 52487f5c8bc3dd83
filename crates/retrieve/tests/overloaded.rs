//! When the dense embedder refuses a question because its queue is full
//! (`EmbedError::Overloaded`), hybrid retrieval answers from BM25 alone; a dense-only search,
//! or any other embedding failure, is still an error.
//!
//! The vector store (qdrant-edge) and the BM25 embedder are the real ones. The dense embedder
//! is a stand-in: a saturated queue cannot be produced on demand with the real model, so
//! [`Saturated`] answers queries the way `LocalEmbedder` does when its queue is full.

use std::sync::Arc;

use async_trait::async_trait;
use fathom_core::{
    ArticleId, Chunk, ChunkId, EmbedError, Embedder, IndexedChunk, RetrievalMode, SparseEmbedder,
    VectorStore, WorkspaceId,
};
use fathom_embed::Bm25Embedder;
use fathom_retrieve::{RetrieveError, Retriever, RetrieverConfig, SearchRequest};
use fathom_store::{EdgeStore, EdgeStoreConfig};
use tempfile::TempDir;

const DIM: usize = 4;

/// Embeds documents (a fixed vector per text length, enough to index them) and refuses every
/// query with `failure`.
#[derive(Debug)]
struct Saturated {
    failure: fn() -> EmbedError,
}

#[async_trait]
impl Embedder for Saturated {
    fn model_id(&self) -> &str {
        "saturated-test-embedder"
    }

    fn dimension(&self) -> usize {
        DIM
    }

    async fn embed_documents(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, EmbedError> {
        Ok(texts
            .iter()
            .map(|text| {
                let mut vector = vec![0.1; DIM];
                vector[text.len() % DIM] = 1.0;
                vector
            })
            .collect())
    }

    async fn embed_query(&self, _text: &str) -> Result<Vec<f32>, EmbedError> {
        Err((self.failure)())
    }
}

fn overloaded() -> EmbedError {
    EmbedError::Overloaded { queued: 1024 }
}

fn broken() -> EmbedError {
    EmbedError::Inference("the model failed".into())
}

const ARTICLES: &[(&str, &str)] = &[
    (
        "billing-refunds",
        "Annual plans can be refunded on a prorated basis within 30 days of purchase.",
    ),
    (
        "account-reset-password",
        "If you forgot your password, click Forgot password on the sign-in page.",
    ),
    (
        "integrations-slack",
        "Connect Slack from Settings, Integrations, then choose the channel for alerts.",
    ),
];

struct Fixture {
    workspace: WorkspaceId,
    store: Arc<dyn VectorStore>,
    sparse: Arc<dyn SparseEmbedder>,
    _dir: TempDir,
}

async fn indexed() -> Fixture {
    let dir = TempDir::new().unwrap();
    let store: Arc<dyn VectorStore> = Arc::new(
        EdgeStore::open(
            dir.path(),
            EdgeStoreConfig {
                dense_dimension: DIM,
                ..Default::default()
            },
        )
        .unwrap(),
    );
    let sparse: Arc<dyn SparseEmbedder> = Arc::new(Bm25Embedder::english());
    let workspace = WorkspaceId::parse("acme").unwrap();
    let documents = Saturated {
        failure: overloaded,
    };
    let mut points = Vec::new();
    for (article, text) in ARTICLES {
        let article_id = ArticleId::parse(article).unwrap();
        let chunk = Chunk {
            id: ChunkId::derive(&workspace, &article_id, 0),
            workspace: workspace.clone(),
            article_id,
            title: article.replace('-', " "),
            url: None,
            locale: Some("en".into()),
            heading_path: vec![],
            position: 0,
            text: text.to_string(),
            token_count: 16,
            content_hash: "h".into(),
        };
        let text = chunk.text_for_embedding();
        let dense = documents
            .embed_documents(vec![text.clone()])
            .await
            .unwrap()
            .pop();
        points.push(IndexedChunk {
            dense,
            sparse: sparse.embed_document(&text),
            chunk,
        });
    }
    store.upsert(points).await.unwrap();
    store.flush().await.unwrap();
    Fixture {
        workspace,
        store,
        sparse,
        _dir: dir,
    }
}

fn retriever(fixture: &Fixture, failure: fn() -> EmbedError) -> Retriever {
    Retriever::new(
        fixture.store.clone(),
        Some(Arc::new(Saturated { failure })),
        fixture.sparse.clone(),
        RetrieverConfig::default(),
    )
}

fn request(fixture: &Fixture, mode: RetrievalMode) -> SearchRequest {
    SearchRequest {
        workspace: fixture.workspace.clone(),
        question: "how do I get a refund for my annual plan?".into(),
        locale: None,
        limit: 3,
        mode,
    }
}

#[tokio::test]
async fn hybrid_search_answers_from_bm25_when_the_embedder_is_overloaded() {
    let fixture = indexed().await;
    let retriever = retriever(&fixture, overloaded);

    let results = retriever
        .search(request(&fixture, RetrievalMode::Hybrid))
        .await
        .expect("an overloaded embedder does not fail a hybrid search");

    let first = results.hits.first().expect("BM25 finds the refund article");
    assert_eq!(first.chunk.article_id.as_str(), "billing-refunds");
    for hit in &results.hits {
        assert_eq!(hit.dense_score, None, "no dense half ran: {hit:?}");
    }
    let bm25 = retriever
        .search(request(&fixture, RetrievalMode::Bm25))
        .await
        .unwrap();
    assert_eq!(
        results.hits, bm25.hits,
        "the fallback is exactly the BM25 search"
    );
}

#[tokio::test]
async fn dense_search_reports_the_overload() {
    let fixture = indexed().await;
    let retriever = retriever(&fixture, overloaded);

    let error = retriever
        .search(request(&fixture, RetrievalMode::Dense))
        .await
        .expect_err("a dense-only search has nothing to fall back on");

    assert!(
        matches!(error, RetrieveError::Embed(EmbedError::Overloaded { .. })),
        "{error:?}"
    );
}

#[tokio::test]
async fn other_embedding_failures_are_not_masked_by_bm25() {
    let fixture = indexed().await;
    let retriever = retriever(&fixture, broken);

    let error = retriever
        .search(request(&fixture, RetrievalMode::Hybrid))
        .await
        .expect_err("a broken model is an error, not a quiet fallback");

    assert!(
        matches!(error, RetrieveError::Embed(EmbedError::Inference(_))),
        "{error:?}"
    );
}
