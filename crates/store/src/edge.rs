//! The qdrant-edge backend. qdrant-edge is synchronous, so every call runs on the blocking pool.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use fathom_core::{
    ArticleId, ChunkId, HybridQuery, IndexedChunk, PointPage, SearchHit, StoreError, VectorStore,
    WorkspaceId,
};
use qdrant_edge::external::ordered_float::OrderedFloat;
use qdrant_edge::{
    Condition, CreateIndex, Distance, EdgeConfig, EdgeShard, EdgeSparseVectorParams,
    EdgeVectorParams, FieldCondition, FieldIndexOperations, Filter, Fusion, JsonPath, Match,
    Modifier, NamedQuery, PayloadFieldSchema, PayloadSchemaType, PointId, PointInsertOperations,
    PointOperations, PointStruct, Prefetch, QueryEnum, QueryRequest, ScoredPoint, ScoringQuery,
    ScrollRequest, SparseVector, UpdateOperation, ValueVariants, Vector, VectorInternal,
    VectorStructInternal, Vectors, WithPayloadInterface, WithVector,
};

use crate::{
    check_dimension, chunk_payload, cosine, in_rank_order, payload_chunk, FusionConfig,
    HybridFusion, BM25_VECTOR, DENSE_VECTOR, KEYWORD_FIELDS,
};

#[derive(Debug, Clone)]
pub struct EdgeStoreConfig {
    /// Dimension of the dense vectors (384 for all-MiniLM-L6-v2).
    pub dense_dimension: usize,
    pub fusion: FusionConfig,
}

impl Default for EdgeStoreConfig {
    fn default() -> Self {
        Self::new(384)
    }
}

impl EdgeStoreConfig {
    pub fn new(dense_dimension: usize) -> Self {
        Self {
            dense_dimension,
            fusion: FusionConfig::default(),
        }
    }
}

/// qdrant-edge shard in `dir`, shared by all workspaces (each point carries its workspace).
#[derive(Debug, Clone)]
pub struct EdgeStore {
    shard: Arc<EdgeShard>,
    /// Serialises writes, flushes and optimisation: `EdgeShard::flush` expects to take the WAL
    /// lock without waiting. Queries do not take it.
    write_lock: Arc<std::sync::Mutex<()>>,
    path: PathBuf,
    config: EdgeStoreConfig,
}

impl EdgeStore {
    /// Open the shard in `dir`, creating it when absent.
    ///
    /// Fails when an existing shard was built for another dense dimension: mixing embedding
    /// models in one index would return garbage, so the caller must re-ingest instead.
    pub fn open(dir: &Path, config: EdgeStoreConfig) -> Result<Self, StoreError> {
        let open_error = |reason: String| {
            // qdrant-edge locks its write-ahead log; a second process gets WouldBlock.
            if reason.contains("WouldBlock") {
                return StoreError::InUse {
                    path: dir.display().to_string(),
                };
            }
            StoreError::Open {
                path: dir.display().to_string(),
                reason,
            }
        };
        std::fs::create_dir_all(dir).map_err(|e| open_error(e.to_string()))?;
        let edge_config = EdgeConfig {
            vectors: HashMap::from([(
                DENSE_VECTOR.to_string(),
                EdgeVectorParams::builder(config.dense_dimension, Distance::Cosine).build(),
            )]),
            sparse_vectors: HashMap::from([(
                BM25_VECTOR.to_string(),
                EdgeSparseVectorParams {
                    modifier: Some(Modifier::Idf),
                    ..Default::default()
                },
            )]),
            ..Default::default()
        };
        let already_exists = dir.join("edge_config.json").exists();
        let shard = if already_exists {
            let shard = EdgeShard::load(dir, None).map_err(|e| open_error(e.to_string()))?;
            let stored_dimension = shard
                .config()
                .vectors
                .get(DENSE_VECTOR)
                .map(|params| params.size);
            if stored_dimension != Some(config.dense_dimension) {
                return Err(StoreError::DimensionMismatch {
                    expected: stored_dimension.unwrap_or(0),
                    actual: config.dense_dimension,
                });
            }
            shard
        } else {
            EdgeShard::new(dir, edge_config).map_err(|e| open_error(e.to_string()))?
        };
        ensure_keyword_indexes(&shard).map_err(open_error)?;
        Ok(Self {
            shard: Arc::new(shard),
            write_lock: Arc::default(),
            path: dir.to_path_buf(),
            config,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Merge segments and build indexes. Worth calling after a large sync.
    pub async fn optimize(&self) -> Result<(), StoreError> {
        self.blocking_write("optimize", |shard| shard.optimize().map(|_| ()))
            .await
    }

    /// Run a read on the blocking pool.
    async fn blocking<T, F>(&self, operation: &'static str, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&EdgeShard) -> qdrant_edge::OperationResult<T> + Send + 'static,
    {
        self.run_blocking(operation, false, work).await
    }

    /// Run a write (update, flush, optimise) on the blocking pool, one at a time.
    async fn blocking_write<T, F>(&self, operation: &'static str, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&EdgeShard) -> qdrant_edge::OperationResult<T> + Send + 'static,
    {
        self.run_blocking(operation, true, work).await
    }

    async fn run_blocking<T, F>(
        &self,
        operation: &'static str,
        exclusive: bool,
        work: F,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&EdgeShard) -> qdrant_edge::OperationResult<T> + Send + 'static,
    {
        let shard = Arc::clone(&self.shard);
        let write_lock = Arc::clone(&self.write_lock);
        tokio::task::spawn_blocking(move || {
            let _guard = exclusive.then(|| write_lock.lock().unwrap_or_else(|p| p.into_inner()));
            work(&shard)
        })
        .await
        .map_err(|e| StoreError::Operation {
            operation,
            reason: format!("blocking task failed: {e}"),
        })?
        .map_err(|e| StoreError::Operation {
            operation,
            reason: e.to_string(),
        })
    }
}

/// The path of one of our own payload fields (a plain name, which always parses).
fn field_path(field: &'static str) -> JsonPath {
    field
        .parse()
        .unwrap_or_else(|_| unreachable!("static field name {field}"))
}

/// Create the keyword indexes that are missing (a no-op on an index that has them).
fn ensure_keyword_indexes(shard: &EdgeShard) -> Result<(), String> {
    let existing = shard.info().payload_schema;
    for field in KEYWORD_FIELDS {
        let key = field_path(field);
        if existing.contains_key(&key) {
            continue;
        }
        shard
            .update(UpdateOperation::FieldIndexOperation(
                FieldIndexOperations::CreateIndex(CreateIndex {
                    field_name: key,
                    field_schema: Some(PayloadFieldSchema::FieldType(PayloadSchemaType::Keyword)),
                }),
            ))
            .map_err(|e| format!("cannot index the payload field {field}: {e}"))?;
    }
    Ok(())
}

fn keyword_condition(field: &'static str, value: &str) -> Condition {
    Condition::Field(FieldCondition::new_match(
        field_path(field),
        Match::new_value(ValueVariants::String(value.to_string())),
    ))
}

fn workspace_filter(workspace: &WorkspaceId, locale: Option<&str>) -> Filter {
    let mut must = vec![keyword_condition("workspace", workspace.as_str())];
    if let Some(locale) = locale {
        must.push(keyword_condition("locale", locale));
    }
    Filter {
        must: Some(must),
        ..Default::default()
    }
}

fn to_point(indexed: IndexedChunk) -> Result<PointStruct, StoreError> {
    let payload = serde_json::Value::Object(chunk_payload(&indexed.chunk)?);
    let sparse = Vector::from(
        SparseVector::new(indexed.sparse.indices, indexed.sparse.values).map_err(|e| {
            StoreError::Operation {
                operation: "upsert",
                reason: format!(
                    "chunk {} has an invalid sparse vector: {e}",
                    indexed.chunk.id
                ),
            }
        })?,
    );
    let mut vectors: Vec<(&str, Vector)> = vec![(BM25_VECTOR, sparse)];
    if let Some(dense) = indexed.dense {
        vectors.push((DENSE_VECTOR, Vector::new_dense(dense)));
    }
    Ok(PointStruct::new(
        PointId::Uuid(indexed.chunk.id.0),
        Vectors::new_named(vectors),
        payload,
    ))
}

/// The hit a stored point holds; `None` (logged, so a broken index is seen) when its payload is
/// missing or is not a chunk this version can read.
fn to_hit(point: ScoredPoint, dense_query: Option<&[f32]>) -> Option<SearchHit> {
    let chunk = payload_chunk(&point.id, point.payload.map(|payload| payload.0))?;
    // Hybrid scores are fused; the cosine to the query tells how close the chunk really is,
    // which is what answerability is judged on.
    let dense_score = match (dense_query, &point.vector) {
        (Some(query), Some(VectorStructInternal::Named(vectors))) => {
            match vectors.get(DENSE_VECTOR) {
                Some(VectorInternal::Dense(stored)) => Some(cosine(query, stored)),
                _ => None,
            }
        }
        _ => None,
    };
    Some(SearchHit {
        chunk,
        score: point.score,
        dense_score,
        bm25_score: None,
    })
}

/// A stored point back as the chunk and vectors it was written from.
fn to_indexed(record: qdrant_edge::Record) -> Option<IndexedChunk> {
    let chunk = payload_chunk(&record.id, record.payload.map(|payload| payload.0))?;
    let mut dense = None;
    let mut sparse = fathom_core::SparseVector::default();
    if let Some(VectorStructInternal::Named(mut vectors)) = record.vector {
        if let Some(VectorInternal::Dense(v)) = vectors.remove(DENSE_VECTOR) {
            dense = Some(v);
        }
        if let Some(VectorInternal::Sparse(v)) = vectors.remove(BM25_VECTOR) {
            sparse = fathom_core::SparseVector {
                indices: v.indices,
                values: v.values,
            };
        }
    }
    Some(IndexedChunk {
        chunk,
        dense,
        sparse,
    })
}

fn nearest(vector: VectorInternal, using: &str) -> Option<ScoringQuery> {
    Some(ScoringQuery::Vector(QueryEnum::Nearest(NamedQuery {
        query: vector,
        using: Some(using.to_string()),
    })))
}

#[async_trait]
impl VectorStore for EdgeStore {
    async fn upsert(&self, points: Vec<IndexedChunk>) -> Result<(), StoreError> {
        if points.is_empty() {
            return Ok(());
        }
        for point in &points {
            check_dimension(self.config.dense_dimension, point.dense.as_deref())?;
        }
        let points = points
            .into_iter()
            .map(|p| to_point(p).map(Into::into))
            .collect::<Result<Vec<_>, _>>()?;
        self.blocking_write("upsert", move |shard| {
            shard.update(UpdateOperation::PointOperation(
                PointOperations::UpsertPoints(PointInsertOperations::PointsList(points)),
            ))
        })
        .await
    }

    async fn delete_articles(
        &self,
        workspace: &WorkspaceId,
        articles: &[ArticleId],
    ) -> Result<(), StoreError> {
        if articles.is_empty() {
            return Ok(());
        }
        let mut filter = workspace_filter(workspace, None);
        filter.should = Some(
            articles
                .iter()
                .map(|a| keyword_condition("article_id", a.as_str()))
                .collect(),
        );
        self.blocking_write("delete", move |shard| {
            shard.update(UpdateOperation::PointOperation(
                PointOperations::DeletePointsByFilter(filter),
            ))
        })
        .await
    }

    async fn article_ids(&self, workspace: &WorkspaceId) -> Result<Vec<ArticleId>, StoreError> {
        let filter = workspace_filter(workspace, None);
        self.blocking("scroll", move |shard| {
            let article_field = field_path("article_id");
            let mut ids = BTreeSet::new();
            let mut offset = None;
            loop {
                let (records, next) = shard.scroll(ScrollRequest {
                    offset,
                    limit: Some(4096),
                    filter: Some(filter.clone()),
                    with_payload: Some(WithPayloadInterface::Fields(vec![article_field.clone()])),
                    with_vector: WithVector::Bool(false),
                    order_by: None,
                })?;
                ids.extend(records.into_iter().filter_map(|record| {
                    let value = record.payload?.0.remove("article_id")?;
                    ArticleId::parse(value.as_str()?).ok()
                }));
                match next {
                    Some(next) => offset = Some(next),
                    None => break,
                }
            }
            Ok(ids.into_iter().collect())
        })
        .await
    }

    async fn count(&self, workspace: &WorkspaceId) -> Result<usize, StoreError> {
        let filter = workspace_filter(workspace, None);
        self.blocking("count", move |shard| {
            shard.count(qdrant_edge::CountRequest {
                filter: Some(filter),
                exact: true,
            })
        })
        .await
    }

    async fn query(&self, query: HybridQuery) -> Result<Vec<SearchHit>, StoreError> {
        let filter = workspace_filter(&query.workspace, query.locale.as_deref());
        let prefetch_limit = query.prefetch_limit.max(query.limit);
        let dense_query = query.dense.clone();
        check_dimension(self.config.dense_dimension, query.dense.as_deref())?;
        let dense = query
            .dense
            .and_then(|dense| nearest(VectorInternal::from(dense), DENSE_VECTOR));
        let with_vector = if dense.is_some() {
            WithVector::Selector(vec![DENSE_VECTOR.to_string()])
        } else {
            WithVector::Bool(false)
        };
        let sparse = match query.sparse {
            Some(sparse) if !sparse.is_empty() => {
                let sparse = SparseVector::new(sparse.indices, sparse.values).map_err(|e| {
                    StoreError::Operation {
                        operation: "query",
                        reason: format!("invalid sparse query vector: {e}"),
                    }
                })?;
                nearest(VectorInternal::from(sparse), BM25_VECTOR)
            }
            _ => None,
        };
        let request = match (dense, sparse) {
            (Some(dense), Some(sparse)) => {
                let prefetch = |query| Prefetch {
                    prefetches: vec![],
                    query: Some(query),
                    limit: prefetch_limit,
                    params: None,
                    filter: Some(filter.clone()),
                    score_threshold: None,
                };
                QueryRequest {
                    prefetches: vec![prefetch(dense), prefetch(sparse)],
                    query: Some(ScoringQuery::Fusion(match self.config.fusion.fusion {
                        HybridFusion::Rrf => Fusion::Rrf {
                            k: self.config.fusion.rrf_k,
                            weights: Some(vec![
                                OrderedFloat(self.config.fusion.dense_weight),
                                OrderedFloat(self.config.fusion.bm25_weight),
                            ]),
                        },
                        HybridFusion::Dbsf => Fusion::Dbsf,
                    })),
                    filter: Some(filter.clone()),
                    score_threshold: None,
                    limit: query.limit,
                    offset: 0,
                    params: None,
                    with_vector,
                    with_payload: WithPayloadInterface::Bool(true),
                }
            }
            (Some(single), None) | (None, Some(single)) => QueryRequest {
                prefetches: vec![],
                query: Some(single),
                filter: Some(filter.clone()),
                score_threshold: None,
                limit: query.limit,
                offset: 0,
                params: None,
                with_vector,
                with_payload: WithPayloadInterface::Bool(true),
            },
            // Nothing to search with (e.g. a query made only of stop words, BM25-only).
            (None, None) => return Ok(Vec::new()),
        };
        let points = self
            .blocking("query", move |shard| shard.query(request))
            .await?;
        Ok(in_rank_order(
            points
                .into_iter()
                .filter_map(|p| to_hit(p, dense_query.as_deref()))
                .collect(),
        ))
    }

    async fn scroll(
        &self,
        workspace: &WorkspaceId,
        from: Option<ChunkId>,
        limit: usize,
    ) -> Result<PointPage, StoreError> {
        let filter = workspace_filter(workspace, None);
        let (records, next) = self
            .blocking("scroll", move |shard| {
                shard.scroll(ScrollRequest {
                    offset: from.map(|id| PointId::Uuid(id.0)),
                    limit: Some(limit.max(1)),
                    filter: Some(filter),
                    with_payload: Some(WithPayloadInterface::Bool(true)),
                    with_vector: WithVector::Bool(true),
                    order_by: None,
                })
            })
            .await?;
        Ok(PointPage {
            points: records.into_iter().filter_map(to_indexed).collect(),
            next: match next {
                Some(PointId::Uuid(uuid)) => Some(ChunkId(uuid)),
                _ => None,
            },
        })
    }

    async fn flush(&self) -> Result<(), StoreError> {
        self.blocking_write("flush", |shard| {
            shard.flush();
            Ok(())
        })
        .await
    }

    /// The shard is in this process: it answers if it can count (no disk I/O beyond memory
    /// maps).
    async fn health(&self) -> Result<(), StoreError> {
        self.blocking("health", |shard| {
            shard.count(qdrant_edge::CountRequest {
                filter: None,
                exact: false,
            })
        })
        .await
        .map(|_| ())
    }

    fn describe(&self) -> String {
        format!("qdrant-edge index in {}", self.path.display())
    }
}
