//! [`QdrantStore`]: chunks in one collection of a Qdrant server, shared by every workspace.

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use fathom_core::{
    ArticleId, ChunkId, HybridQuery, IndexFingerprint, IndexedChunk, PointPage, SearchHit,
    StoreError, VectorStore, WorkspaceId,
};
use qdrant_client::qdrant::{
    point_id::PointIdOptions, vector_output, with_payload_selector::SelectorOptions, Condition,
    CountPointsBuilder, CreateCollectionBuilder, CreateFieldIndexCollectionBuilder,
    DeletePointsBuilder, Distance, FieldType, Filter, Fusion, HnswConfigDiffBuilder,
    KeywordIndexParamsBuilder, Modifier, NamedVectors, PayloadIncludeSelector, PointId,
    PointStruct, PrefetchQueryBuilder, Query, QueryPointsBuilder, RetrievedPoint, Rrf, ScoredPoint,
    ScrollPointsBuilder, SparseVectorParamsBuilder, SparseVectorsConfigBuilder,
    UpsertPointsBuilder, Value, Vector, VectorInput, VectorParamsBuilder, VectorsConfigBuilder,
    VectorsOutput, VectorsSelector,
};

use super::{CallError, Connection, QdrantConfig};
use crate::{
    check_dimension, chunk_payload, cosine, in_rank_order, payload_chunk, FusionConfig,
    HybridFusion, BM25_VECTOR, DENSE_VECTOR, KEYWORD_FIELDS,
};

/// Key of the collection metadata entry holding the [`IndexFingerprint`].
const FINGERPRINT_KEY: &str = "fathom_index";

/// A Qdrant server collection holding every workspace's chunks.
#[derive(Debug, Clone)]
pub struct QdrantStore {
    connection: Connection,
    collection: String,
    dense_dimension: usize,
    fusion: FusionConfig,
    upsert_batch: usize,
}

impl QdrantStore {
    /// Connect, create the collection (with its payload indexes and fingerprint) when it is
    /// missing, and check the fingerprint of an existing one: a mismatch is
    /// [`StoreError::FingerprintMismatch`], so a misconfigured process refuses to start.
    pub async fn open(
        config: &QdrantConfig,
        fingerprint: &IndexFingerprint,
        fusion: FusionConfig,
    ) -> Result<Self, StoreError> {
        let connection = Connection::open(config).map_err(|e| StoreError::Open {
            path: config.url.clone(),
            reason: e.reason,
        })?;
        let store = Self {
            connection,
            collection: config.collection.clone(),
            dense_dimension: fingerprint.dense_dimension,
            fusion,
            upsert_batch: config.upsert_batch.max(1),
        };
        store.ensure_collection(fingerprint).await?;
        Ok(store)
    }

    pub fn collection(&self) -> &str {
        &self.collection
    }

    fn error(&self, operation: &'static str) -> impl Fn(CallError) -> StoreError + '_ {
        move |e| {
            if e.unavailable {
                StoreError::Unavailable {
                    endpoint: self.connection.endpoint.clone(),
                    operation,
                    reason: e.reason,
                }
            } else {
                StoreError::Operation {
                    operation,
                    reason: format!("collection {}: {}", self.collection, e.reason),
                }
            }
        }
    }

    async fn ensure_collection(&self, fingerprint: &IndexFingerprint) -> Result<(), StoreError> {
        let name = self.collection.clone();
        let exists = self
            .connection
            .collection_exists(&name)
            .await
            .map_err(self.error("open"))?;
        if !exists {
            if let Err(error) = self.create_collection(fingerprint).await {
                // Another process may have created it meanwhile: check it like any other.
                let created_meanwhile = self
                    .connection
                    .collection_exists(&name)
                    .await
                    .unwrap_or(false);
                if !created_meanwhile {
                    return Err(error);
                }
            }
        }
        let info = self
            .connection
            .send(name.clone(), |client, name| async move {
                client.collection_info(name).await
            })
            .await
            .map_err(self.error("open"))?
            .result
            .unwrap_or_default();
        let stored = info
            .config
            .as_ref()
            .and_then(|c| c.metadata.get(FINGERPRINT_KEY))
            .map(|value| serde_json::Value::from(value.clone()))
            .and_then(|json| serde_json::from_value::<IndexFingerprint>(json).ok());
        let mismatch = |stored: String| StoreError::FingerprintMismatch {
            index: format!("Qdrant collection {name} at {}", self.connection.endpoint),
            stored,
            configured: fingerprint.to_string(),
            hint: format!(
                "--qdrant-collection with a new name, then fathom ingest (or fathom \
                 migrate-index) for each workspace; {name} can be deleted afterwards"
            ),
        };
        match stored {
            Some(stored) if &stored == fingerprint => {}
            Some(stored) => return Err(mismatch(stored.to_string())),
            None => {
                return Err(mismatch(
                    "no Fathom fingerprint (the collection was not created by Fathom)".into(),
                ))
            }
        }
        for field in KEYWORD_FIELDS {
            if !info.payload_schema.contains_key(field) {
                self.create_keyword_index(field).await?;
            }
        }
        Ok(())
    }

    async fn create_collection(&self, fingerprint: &IndexFingerprint) -> Result<(), StoreError> {
        let mut vectors = VectorsConfigBuilder::default();
        vectors.add_named_vector_params(
            DENSE_VECTOR,
            VectorParamsBuilder::new(fingerprint.dense_dimension as u64, Distance::Cosine),
        );
        let mut sparse = SparseVectorsConfigBuilder::default();
        sparse.add_named_vector_params(
            BM25_VECTOR,
            SparseVectorParamsBuilder::default().modifier(Modifier::Idf as i32),
        );
        let fingerprint_json = serde_json::to_value(fingerprint).map_err(|e| StoreError::Open {
            path: self.connection.endpoint.clone(),
            reason: e.to_string(),
        })?;
        let metadata = HashMap::from([(FINGERPRINT_KEY.to_string(), fingerprint_json)]);
        let request = CreateCollectionBuilder::new(&self.collection)
            .vectors_config(vectors)
            .sparse_vectors_config(sparse)
            // Multitenancy: every query filters on one workspace, so build an HNSW graph per
            // tenant (payload_m) instead of one global graph (m = 0).
            .hnsw_config(HnswConfigDiffBuilder::default().m(0).payload_m(16))
            .metadata(metadata)
            .timeout(self.connection.timeout_secs())
            .build();
        self.connection
            .create_collection(request)
            .await
            .map_err(self.error("create collection"))?;
        tracing::info!(collection = %self.collection, "created the Qdrant collection");
        Ok(())
    }

    async fn create_keyword_index(&self, field: &'static str) -> Result<(), StoreError> {
        let mut request =
            CreateFieldIndexCollectionBuilder::new(&self.collection, field, FieldType::Keyword)
                .wait(true)
                .timeout(self.connection.timeout_secs());
        if field == "workspace" {
            // The tenant: Qdrant keeps each workspace's points together on disk.
            request =
                request.field_index_params(KeywordIndexParamsBuilder::default().is_tenant(true));
        }
        let request = request.build();
        self.connection
            .create_field_index(request)
            .await
            .map_err(self.error("create payload index"))?;
        Ok(())
    }
}

fn keyword(field: &str, value: &str) -> Condition {
    Condition::matches(field, value.to_string())
}

fn workspace_filter(workspace: &WorkspaceId, locale: Option<&str>) -> Filter {
    let mut must = vec![keyword("workspace", workspace.as_str())];
    if let Some(locale) = locale {
        must.push(keyword("locale", locale));
    }
    Filter::must(must)
}

fn uuid_of(id: Option<PointId>) -> Option<uuid::Uuid> {
    match id?.point_id_options? {
        PointIdOptions::Uuid(text) => uuid::Uuid::parse_str(&text).ok(),
        PointIdOptions::Num(_) => None,
    }
}

fn to_point(indexed: IndexedChunk) -> Result<PointStruct, StoreError> {
    let payload = chunk_payload(&indexed.chunk)?;
    let mut vectors = NamedVectors::default().add_vector(
        BM25_VECTOR,
        Vector::new_sparse(indexed.sparse.indices, indexed.sparse.values),
    );
    if let Some(dense) = indexed.dense {
        vectors = vectors.add_vector(DENSE_VECTOR, Vector::new_dense(dense));
    }
    Ok(PointStruct::new(
        indexed.chunk.id.0.to_string(),
        vectors,
        qdrant_client::Payload::from(payload),
    ))
}

fn json_payload(
    payload: HashMap<String, Value>,
) -> Option<serde_json::Map<String, serde_json::Value>> {
    if payload.is_empty() {
        return None;
    }
    Some(
        payload
            .into_iter()
            .map(|(key, value)| (key, serde_json::Value::from(value)))
            .collect(),
    )
}

/// The named dense and sparse vectors of a returned point.
fn vectors_of(vectors: Option<VectorsOutput>) -> (Option<Vec<f32>>, fathom_core::SparseVector) {
    let Some(vectors) = vectors else {
        return (None, Default::default());
    };
    let dense = match vectors.get_vector_by_name(DENSE_VECTOR) {
        Some(vector_output::Vector::Dense(dense)) => Some(dense.data),
        _ => None,
    };
    let sparse = match vectors.get_vector_by_name(BM25_VECTOR) {
        Some(vector_output::Vector::Sparse(sparse)) => fathom_core::SparseVector {
            indices: sparse.indices,
            values: sparse.values,
        },
        _ => Default::default(),
    };
    (dense, sparse)
}

fn to_hit(point: ScoredPoint, dense_query: Option<&[f32]>) -> Option<SearchHit> {
    let (dense, _) = vectors_of(point.vectors);
    let chunk = payload_chunk(&point.id, json_payload(point.payload))?;
    let dense_score = match (dense_query, dense) {
        (Some(query), Some(stored)) => Some(cosine(query, &stored)),
        _ => None,
    };
    Some(SearchHit {
        chunk,
        score: point.score,
        dense_score,
        bm25_score: None,
    })
}

fn to_indexed(point: RetrievedPoint) -> Option<IndexedChunk> {
    let (dense, sparse) = vectors_of(point.vectors);
    let chunk = payload_chunk(&point.id, json_payload(point.payload))?;
    Some(IndexedChunk {
        chunk,
        dense,
        sparse,
    })
}

#[async_trait]
impl VectorStore for QdrantStore {
    async fn upsert(&self, points: Vec<IndexedChunk>) -> Result<(), StoreError> {
        for point in &points {
            check_dimension(self.dense_dimension, point.dense.as_deref())?;
        }
        let points = points
            .into_iter()
            .map(to_point)
            .collect::<Result<Vec<_>, _>>()?;
        for batch in points.chunks(self.upsert_batch) {
            // `wait`: the call returns once the points are applied, so a sync records an
            // article as done only after the server has it.
            let request = UpsertPointsBuilder::new(&self.collection, batch.to_vec())
                .wait(true)
                .timeout(self.connection.timeout_secs())
                .build();
            self.connection
                .upsert_points(request)
                .await
                .map_err(self.error("upsert"))?;
        }
        Ok(())
    }

    async fn delete_articles(
        &self,
        workspace: &WorkspaceId,
        articles: &[ArticleId],
    ) -> Result<(), StoreError> {
        if articles.is_empty() {
            return Ok(());
        }
        let ids: Vec<String> = articles.iter().map(|a| a.as_str().to_string()).collect();
        let filter = Filter::must([
            keyword("workspace", workspace.as_str()),
            Condition::matches("article_id", ids),
        ]);
        let request = DeletePointsBuilder::new(&self.collection)
            .points(filter)
            .wait(true)
            .timeout(self.connection.timeout_secs())
            .build();
        self.connection
            .delete_points(request)
            .await
            .map_err(self.error("delete"))?;
        Ok(())
    }

    async fn article_ids(&self, workspace: &WorkspaceId) -> Result<Vec<ArticleId>, StoreError> {
        let mut ids = BTreeSet::new();
        let mut offset: Option<PointId> = None;
        loop {
            let mut request = ScrollPointsBuilder::new(&self.collection)
                .filter(workspace_filter(workspace, None))
                .limit(4096)
                .with_payload(SelectorOptions::Include(PayloadIncludeSelector {
                    fields: vec!["article_id".into()],
                }))
                .with_vectors(false)
                .timeout(self.connection.timeout_secs());
            if let Some(offset) = offset.take() {
                request = request.offset(offset);
            }
            let request = request.build();
            let response = self
                .connection
                .scroll(request)
                .await
                .map_err(self.error("scroll"))?;
            ids.extend(response.result.into_iter().filter_map(|point| {
                let value = json_payload(point.payload)?.remove("article_id")?;
                ArticleId::parse(value.as_str()?).ok()
            }));
            match response.next_page_offset {
                Some(next) => offset = Some(next),
                None => break,
            }
        }
        Ok(ids.into_iter().collect())
    }

    async fn count(&self, workspace: &WorkspaceId) -> Result<usize, StoreError> {
        let request = CountPointsBuilder::new(&self.collection)
            .filter(workspace_filter(workspace, None))
            .exact(true)
            .timeout(self.connection.timeout_secs())
            .build();
        let response = self
            .connection
            .count(request)
            .await
            .map_err(self.error("count"))?;
        Ok(response.result.map_or(0, |r| r.count as usize))
    }

    async fn query(&self, query: HybridQuery) -> Result<Vec<SearchHit>, StoreError> {
        check_dimension(self.dense_dimension, query.dense.as_deref())?;
        let filter = workspace_filter(&query.workspace, query.locale.as_deref());
        let prefetch_limit = query.prefetch_limit.max(query.limit) as u64;
        let dense_query = query.dense.clone();
        let dense = query
            .dense
            .map(|dense| (DENSE_VECTOR, VectorInput::new_dense(dense)));
        let sparse = query
            .sparse
            .filter(|sparse| !sparse.is_empty())
            .map(|sparse| {
                (
                    BM25_VECTOR,
                    VectorInput::new_sparse(sparse.indices, sparse.values),
                )
            });
        let with_vectors = dense.is_some();
        let mut request = QueryPointsBuilder::new(&self.collection)
            .filter(filter.clone())
            .limit(query.limit as u64)
            .with_payload(true)
            .timeout(self.connection.timeout_secs());
        request = if with_vectors {
            request.with_vectors(VectorsSelector {
                names: vec![DENSE_VECTOR.to_string()],
            })
        } else {
            request.with_vectors(false)
        };
        let request = match (dense, sparse) {
            (Some(dense), Some(sparse)) => {
                let prefetch = |(using, input): (&str, VectorInput)| {
                    PrefetchQueryBuilder::default()
                        .query(Query::new_nearest(input))
                        .using(using)
                        .filter(filter.clone())
                        .limit(prefetch_limit)
                };
                let fusion = match self.fusion.fusion {
                    HybridFusion::Rrf => Query::new_rrf(Rrf {
                        k: Some(u32::try_from(self.fusion.rrf_k).unwrap_or(u32::MAX)),
                        weights: vec![self.fusion.dense_weight, self.fusion.bm25_weight],
                    }),
                    HybridFusion::Dbsf => Query::new_fusion(Fusion::Dbsf),
                };
                request
                    .add_prefetch(prefetch(dense))
                    .add_prefetch(prefetch(sparse))
                    .query(fusion)
            }
            (Some((using, input)), None) | (None, Some((using, input))) => {
                request.query(Query::new_nearest(input)).using(using)
            }
            // Nothing to search with (e.g. a query made only of stop words, BM25-only).
            (None, None) => return Ok(Vec::new()),
        }
        .build();
        let response = self
            .connection
            .query(request)
            .await
            .map_err(self.error("query"))?;
        Ok(in_rank_order(
            response
                .result
                .into_iter()
                .filter_map(|point| to_hit(point, dense_query.as_deref()))
                .collect(),
        ))
    }

    async fn scroll(
        &self,
        workspace: &WorkspaceId,
        from: Option<ChunkId>,
        limit: usize,
    ) -> Result<PointPage, StoreError> {
        let mut request = ScrollPointsBuilder::new(&self.collection)
            .filter(workspace_filter(workspace, None))
            .limit(u32::try_from(limit.max(1)).unwrap_or(u32::MAX))
            .with_payload(true)
            .with_vectors(true)
            .timeout(self.connection.timeout_secs());
        if let Some(from) = from {
            request = request.offset(PointId::from(from.0.to_string()));
        }
        let request = request.build();
        let response = self
            .connection
            .scroll(request)
            .await
            .map_err(self.error("scroll"))?;
        Ok(PointPage {
            points: response.result.into_iter().filter_map(to_indexed).collect(),
            next: uuid_of(response.next_page_offset).map(ChunkId),
        })
    }

    /// Upserts and deletes are sent with `wait`, so they are applied (and in the server's
    /// write-ahead log) when they return: nothing is left to flush.
    async fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// One round trip: the server answers and the collection exists.
    async fn health(&self) -> Result<(), StoreError> {
        let name = self.collection.clone();
        let exists = self
            .connection
            .collection_exists(&name)
            .await
            .map_err(self.error("health check"))?;
        if exists {
            Ok(())
        } else {
            Err(StoreError::Operation {
                operation: "health check",
                reason: format!(
                    "collection {} does not exist on {}",
                    self.collection, self.connection.endpoint
                ),
            })
        }
    }

    fn describe(&self) -> String {
        format!(
            "Qdrant collection {} at {}",
            self.collection, self.connection.endpoint
        )
    }
}
