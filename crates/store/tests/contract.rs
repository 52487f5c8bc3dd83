//! The `VectorStore` contract, run against every backend available on this machine:
//! qdrant-edge (embedded) always, and a real Qdrant server when `QDRANT_URL` names one (its gRPC
//! endpoint, e.g. `http://127.0.0.1:6334`; see DEVELOPERS.md). Without it the server's half
//! prints "skipped". Each test gets its own collection on the server, deleted afterwards.

use fathom_core::{
    ArticleId, Chunk, ChunkId, HybridQuery, IndexFingerprint, IndexedChunk, SparseVector,
    StoreError, VectorStore, WorkspaceId,
};
use fathom_store::testing::{qdrant_url, TestCollection};
use fathom_store::{EdgeStore, EdgeStoreConfig, FusionConfig, HybridFusion, QdrantStore};
use tempfile::TempDir;

const DIM: usize = 4;

struct Backend {
    name: &'static str,
    store: Box<dyn VectorStore>,
    _dir: Option<TempDir>,
    _collection: Option<TestCollection>,
}

fn fingerprint(dimension: usize) -> IndexFingerprint {
    IndexFingerprint {
        dense_model: Some("test-model".into()),
        dense_dimension: dimension,
        text_analysis: "bm25 test".into(),
    }
}

fn open_edge(dir: &std::path::Path) -> EdgeStore {
    open_edge_weighted(dir, 1.0, 1.0)
}

fn fusion(dense_weight: f32, bm25_weight: f32) -> FusionConfig {
    FusionConfig {
        // Weights only mean something to RRF; the other tests run the default fusion.
        fusion: if (dense_weight, bm25_weight) == (1.0, 1.0) {
            HybridFusion::default()
        } else {
            HybridFusion::Rrf
        },
        dense_weight,
        bm25_weight,
        ..Default::default()
    }
}

fn open_edge_weighted(dir: &std::path::Path, dense_weight: f32, bm25_weight: f32) -> EdgeStore {
    EdgeStore::open(
        dir,
        EdgeStoreConfig {
            dense_dimension: DIM,
            fusion: fusion(dense_weight, bm25_weight),
        },
    )
    .expect("edge store opens")
}

async fn backends() -> Vec<Backend> {
    weighted_backends(1.0, 1.0).await
}

/// Every backend, with these hybrid fusion weights.
async fn weighted_backends(dense_weight: f32, bm25_weight: f32) -> Vec<Backend> {
    let dir = TempDir::new().expect("temp dir");
    let store = open_edge_weighted(dir.path(), dense_weight, bm25_weight);
    let mut backends = vec![Backend {
        name: "qdrant-edge",
        store: Box::new(store),
        _dir: Some(dir),
        _collection: None,
    }];
    if let Some(url) = qdrant_url("vector store contract") {
        let collection = TestCollection::new(&url, "contract");
        let store = QdrantStore::open(
            &collection.config(),
            &fingerprint(DIM),
            fusion(dense_weight, bm25_weight),
        )
        .await
        .expect("the Qdrant server at QDRANT_URL opens a collection");
        backends.push(Backend {
            name: "qdrant-server",
            store: Box::new(store),
            _dir: None,
            _collection: Some(collection),
        });
    }
    backends
}

fn ws(name: &str) -> WorkspaceId {
    WorkspaceId::parse(name).unwrap()
}

/// A chunk whose dense vector points along `axis` and whose sparse vector holds `terms`.
fn point(
    workspace: &str,
    article: &str,
    position: u32,
    axis: usize,
    terms: &[u32],
) -> IndexedChunk {
    let workspace = ws(workspace);
    let article_id = ArticleId::parse(article).unwrap();
    let mut dense = vec![0.05; DIM];
    dense[axis] = 1.0;
    IndexedChunk {
        chunk: Chunk {
            id: ChunkId::derive(&workspace, &article_id, position),
            workspace,
            article_id,
            title: format!("{article} title"),
            url: Some(format!("https://help.example/{article}")),
            locale: Some(if article.ends_with("-fr") { "fr" } else { "en" }.to_string()),
            heading_path: vec!["Top".into(), format!("Section {position}")],
            position,
            text: format!("text of {article} #{position}"),
            token_count: 5,
            content_hash: "h".into(),
        },
        dense: Some(dense),
        sparse: SparseVector {
            indices: terms.to_vec(),
            values: vec![1.0; terms.len()],
        },
    }
}

fn query(workspace: &str, dense_axis: Option<usize>, terms: Option<&[u32]>) -> HybridQuery {
    HybridQuery {
        workspace: ws(workspace),
        locale: None,
        dense: dense_axis.map(|axis| {
            let mut v = vec![0.0; DIM];
            v[axis] = 1.0;
            v
        }),
        sparse: terms.map(|t| SparseVector {
            indices: t.to_vec(),
            values: vec![1.0; t.len()],
        }),
        limit: 10,
        prefetch_limit: 20,
    }
}

async fn seed(store: &dyn VectorStore) {
    store
        .upsert(vec![
            point("acme", "refunds", 0, 0, &[1, 2]),
            point("acme", "refunds", 1, 0, &[2, 3]),
            point("acme", "invoices", 0, 1, &[4, 5]),
            point("acme", "passwords", 0, 2, &[6]),
            point("acme", "passwords-fr", 0, 2, &[6]),
            point("globex", "refunds", 0, 0, &[1, 2]),
        ])
        .await
        .unwrap();
}

fn article_ids(hits: &[fathom_core::SearchHit]) -> Vec<&str> {
    hits.iter().map(|h| h.chunk.article_id.as_str()).collect()
}

#[tokio::test]
async fn dense_query_ranks_the_nearest_chunk_first() {
    for backend in backends().await {
        seed(&*backend.store).await;
        let hits = backend
            .store
            .query(query("acme", Some(1), None))
            .await
            .unwrap();
        assert_eq!(article_ids(&hits)[0], "invoices", "{}", backend.name);
    }
}

#[tokio::test]
async fn bm25_query_finds_chunks_sharing_terms_and_only_those() {
    for backend in backends().await {
        seed(&*backend.store).await;
        let hits = backend
            .store
            .query(query("acme", None, Some(&[3])))
            .await
            .unwrap();
        assert_eq!(article_ids(&hits), vec!["refunds"], "{}", backend.name);
        assert_eq!(hits[0].chunk.position, 1);
    }
}

/// Equal scores come back in one order on every backend, whatever order the points were
/// written in: article id, then position. Each engine would otherwise return ties in its own
/// storage order (insertion order on edge, segment order on a server).
#[tokio::test]
async fn equal_scores_are_ordered_by_article_then_position_on_every_backend() {
    for backend in backends().await {
        // The same section copied into three articles, written in reverse order, and in two
        // batches so that a server may keep them in different segments.
        for article in ["zebra", "mango", "apple"] {
            backend
                .store
                .upsert(vec![
                    point("acme", article, 1, 3, &[7, 8]),
                    point("acme", article, 0, 3, &[7, 8]),
                ])
                .await
                .unwrap();
        }
        let expected = vec!["apple", "apple", "mango", "mango", "zebra", "zebra"];
        for (mode, q) in [
            ("bm25", query("acme", None, Some(&[7]))),
            ("dense", query("acme", Some(3), None)),
        ] {
            let hits = backend.store.query(q).await.unwrap();
            assert_eq!(article_ids(&hits), expected, "{} {mode}", backend.name);
            let positions: Vec<u32> = hits.iter().map(|h| h.chunk.position).collect();
            assert_eq!(positions, vec![0, 1, 0, 1, 0, 1], "{} {mode}", backend.name);
        }
    }
}

#[tokio::test]
async fn hybrid_query_fuses_both_halves() {
    for backend in backends().await {
        seed(&*backend.store).await;
        // Dense points at passwords, BM25 at invoices: both must come back, fused.
        let hits = backend
            .store
            .query(query("acme", Some(2), Some(&[4, 5])))
            .await
            .unwrap();
        let ids = article_ids(&hits);
        assert!(ids.contains(&"invoices"), "{}: {ids:?}", backend.name);
        assert!(ids.contains(&"passwords"), "{}: {ids:?}", backend.name);
        let passwords = hits
            .iter()
            .find(|h| h.chunk.article_id.as_str() == "passwords")
            .unwrap();
        let invoices = hits
            .iter()
            .find(|h| h.chunk.article_id.as_str() == "invoices")
            .unwrap();
        let (p, i) = (
            passwords.dense_score.unwrap(),
            invoices.dense_score.unwrap(),
        );
        assert!(
            p > 0.9 && i < 0.2,
            "{}: cosine to the dense query: passwords {p}, invoices {i}",
            backend.name
        );
        let scores: Vec<f32> = hits.iter().map(|h| h.score).collect();
        assert!(
            scores.windows(2).all(|w| w[0] >= w[1]),
            "sorted by fused score"
        );
    }
}

#[tokio::test]
async fn hybrid_weights_favour_the_named_half() {
    // Dense points at passwords, BM25 at invoices. With one candidate per half, each half
    // contributes only its favourite, and the heavier half's favourite comes first. (Qdrant's
    // weighted RRF scores rank r as 1 / (r / weight + k - 1): a weight stretches or compresses
    // that half's ranks; it does not multiply its score.)
    for (dense_weight, bm25_weight, expected_first) in
        [(3.0, 1.0, "passwords"), (1.0, 3.0, "invoices")]
    {
        for backend in weighted_backends(dense_weight, bm25_weight).await {
            seed(&*backend.store).await;
            let mut one_each = query("acme", Some(2), Some(&[4, 5]));
            one_each.limit = 1;
            one_each.prefetch_limit = 1;
            one_each.locale = Some("en".into()); // passwords-fr ties with passwords
            let hits = backend.store.query(one_each).await.unwrap();
            assert_eq!(
                article_ids(&hits),
                vec![expected_first],
                "{}: dense weight {dense_weight}, bm25 weight {bm25_weight}",
                backend.name
            );
        }
    }
}

#[tokio::test]
async fn queries_never_cross_workspaces() {
    for backend in backends().await {
        seed(&*backend.store).await;
        let hits = backend
            .store
            .query(query("globex", Some(2), Some(&[4, 5, 6])))
            .await
            .unwrap();
        assert!(
            hits.iter().all(|h| h.chunk.workspace.as_str() == "globex"),
            "{}",
            backend.name
        );
        let hits = backend
            .store
            .query(query("initech", Some(0), Some(&[1])))
            .await
            .unwrap();
        assert!(
            hits.is_empty(),
            "{}: unknown workspace sees nothing",
            backend.name
        );
    }
}

#[tokio::test]
async fn locale_filter_keeps_only_that_locale() {
    for backend in backends().await {
        seed(&*backend.store).await;
        let mut q = query("acme", Some(2), Some(&[6]));
        q.locale = Some("fr".into());
        let hits = backend.store.query(q).await.unwrap();
        assert_eq!(article_ids(&hits), vec!["passwords-fr"], "{}", backend.name);
    }
}

#[tokio::test]
async fn upserting_the_same_chunk_id_overwrites_it() {
    for backend in backends().await {
        seed(&*backend.store).await;
        let mut changed = point("acme", "invoices", 0, 1, &[9]);
        changed.chunk.text = "new text".into();
        backend.store.upsert(vec![changed]).await.unwrap();
        assert_eq!(
            backend.store.count(&ws("acme")).await.unwrap(),
            5,
            "{}",
            backend.name
        );
        let hits = backend
            .store
            .query(query("acme", None, Some(&[9])))
            .await
            .unwrap();
        assert_eq!(hits[0].chunk.text, "new text");
    }
}

#[tokio::test]
async fn deleting_articles_removes_all_their_chunks_in_that_workspace_only() {
    for backend in backends().await {
        seed(&*backend.store).await;
        let refunds = ArticleId::parse("refunds").unwrap();
        backend
            .store
            .delete_articles(&ws("acme"), &[refunds])
            .await
            .unwrap();
        let acme = backend.store.article_ids(&ws("acme")).await.unwrap();
        let acme: Vec<&str> = acme.iter().map(ArticleId::as_str).collect();
        assert_eq!(
            acme,
            vec!["invoices", "passwords", "passwords-fr"],
            "{}",
            backend.name
        );
        assert_eq!(
            backend.store.count(&ws("globex")).await.unwrap(),
            1,
            "other tenant untouched"
        );
    }
}

#[tokio::test]
async fn a_query_with_no_usable_vector_returns_nothing() {
    for backend in backends().await {
        seed(&*backend.store).await;
        let hits = backend
            .store
            .query(query("acme", None, Some(&[])))
            .await
            .unwrap();
        assert!(hits.is_empty(), "{}", backend.name);
    }
}

#[tokio::test]
async fn a_dense_vector_of_the_wrong_dimension_is_rejected() {
    for backend in backends().await {
        let mut bad = point("acme", "x", 0, 0, &[1]);
        bad.dense = Some(vec![1.0; DIM + 1]);
        let err = backend.store.upsert(vec![bad]).await.unwrap_err();
        assert!(
            err.to_string().contains("dimension"),
            "{}: {err}",
            backend.name
        );
    }
}

#[tokio::test]
async fn scrolling_a_workspace_returns_every_point_with_its_vectors_once() {
    for backend in backends().await {
        seed(&*backend.store).await;
        let mut seen = Vec::new();
        let mut from = None;
        loop {
            let page = backend.store.scroll(&ws("acme"), from, 2).await.unwrap();
            assert!(page.points.len() <= 2, "{}", backend.name);
            seen.extend(page.points);
            match page.next {
                Some(next) => from = Some(next),
                None => break,
            }
        }
        assert_eq!(seen.len(), 5, "{}", backend.name);
        let mut ids: Vec<_> = seen.iter().map(|p| p.chunk.id).collect();
        ids.sort_by_key(|id| id.0);
        ids.dedup();
        assert_eq!(ids.len(), 5, "{}: no point twice", backend.name);
        let invoices = seen
            .iter()
            .find(|p| p.chunk.article_id.as_str() == "invoices")
            .unwrap();
        // A cosine collection keeps its vectors normalised: the same direction comes back.
        let dense = invoices.dense.as_ref().expect("dense vector comes back");
        let written = point("acme", "invoices", 0, 1, &[4, 5]).dense.unwrap();
        let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
        let dot: f32 = dense.iter().zip(&written).map(|(a, b)| a * b).sum();
        let cosine = dot / (norm(dense) * norm(&written));
        assert!(
            cosine > 0.9999,
            "{}: {dense:?} vs {written:?}",
            backend.name
        );
        assert_eq!(invoices.sparse.indices, vec![4, 5], "{}", backend.name);
        assert!(seen.iter().all(|p| p.chunk.workspace.as_str() == "acme"));
    }
}

#[tokio::test]
async fn the_health_check_passes_on_a_working_store() {
    for backend in backends().await {
        backend
            .store
            .health()
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", backend.name));
        assert!(!backend.store.describe().is_empty());
    }
}

#[tokio::test]
async fn edge_store_keeps_its_points_after_being_dropped_and_reopened() {
    let dir = TempDir::new().unwrap();
    {
        let store = open_edge(dir.path());
        seed(&store).await;
        store.flush().await.unwrap();
    }
    let reopened = open_edge(dir.path());
    assert_eq!(reopened.count(&ws("acme")).await.unwrap(), 5);
    let hits = reopened
        .query(query("acme", Some(1), Some(&[4])))
        .await
        .unwrap();
    assert_eq!(article_ids(&hits)[0], "invoices");
}

#[tokio::test]
async fn edge_store_refuses_to_reopen_with_another_dense_dimension() {
    let dir = TempDir::new().unwrap();
    drop(open_edge(dir.path()));
    let err = EdgeStore::open(
        dir.path(),
        EdgeStoreConfig {
            dense_dimension: 768,
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("384") || err.to_string().contains('4'),
        "{err}"
    );
}

/// The embedded engine admits one process: a second open of a held store says so with its own
/// error (the CLI turns it into "stop the server or go through it"), not a generic open failure.
#[tokio::test]
async fn edge_store_held_by_another_handle_is_reported_in_use() {
    let dir = TempDir::new().unwrap();
    let held = open_edge(dir.path());
    let err = EdgeStore::open(
        dir.path(),
        EdgeStoreConfig {
            dense_dimension: DIM,
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(
        matches!(err, fathom_core::StoreError::InUse { .. }),
        "{err:?}"
    );
    drop(held);
    open_edge(dir.path());
}

#[tokio::test]
async fn qdrant_server_refuses_a_collection_built_with_another_fingerprint() {
    let Some(url) = qdrant_url("fingerprint check") else {
        return;
    };
    let collection = TestCollection::new(&url, "fingerprint");
    let config = collection.config();
    drop(
        QdrantStore::open(&config, &fingerprint(DIM), FusionConfig::default())
            .await
            .unwrap(),
    );
    // Reopening with the same fingerprint works.
    QdrantStore::open(&config, &fingerprint(DIM), FusionConfig::default())
        .await
        .unwrap();
    let other = IndexFingerprint {
        text_analysis: "bm25 another language".into(),
        ..fingerprint(DIM)
    };
    let err = QdrantStore::open(&config, &other, FusionConfig::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::FingerprintMismatch { .. }),
        "{err}"
    );
    assert_eq!(err.code(), "index_fingerprint_mismatch");
    let message = err.to_string();
    assert!(
        message.contains("bm25 test") && message.contains("bm25 another language"),
        "{message}"
    );
}

#[tokio::test]
async fn qdrant_server_unreachable_is_a_clear_unavailable_error_after_retries() {
    // Nothing listens on port 9 (discard) on loopback: every attempt is refused.
    let mut config = fathom_store::QdrantConfig::new("http://127.0.0.1:9");
    config.timeout = std::time::Duration::from_secs(1);
    config.retries = 2;
    let started = std::time::Instant::now();
    let err = QdrantStore::open(&config, &fingerprint(DIM), FusionConfig::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "vector_store_unavailable", "{err}");
    assert!(err.to_string().contains("3 attempts"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}
