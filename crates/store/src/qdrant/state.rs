//! [`QdrantSyncState`]: each workspace's sync state and lease, in a companion collection on the
//! Qdrant server that holds the index (`<collection>_sync`, points without vectors).
//!
//! Per workspace:
//! - a **head** point: the lease (`lease_id`, `holder`, `expires_at_ms`) and which generation
//!   of the state is current (`generation`, `parts`);
//! - **part** points: the state's bytes, base64, in pieces of at most [`PART_BYTES`], keyed by
//!   generation.
//!
//! Taking the lease is a compare-and-set on the head: a payload update filtered on the head's
//! id *and* the lease id last seen, sent with strong write ordering, then read back. Saving
//! writes a new generation's parts first and then flips the head to it with the same filter on
//! our lease id, so a run that lost its lease can never make its state current, and a reader
//! never sees half a state. Expiry uses each machine's clock: keep them within a few seconds
//! (the default lease lasts a minute and is renewed every twenty seconds).

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use fathom_core::{unix_ms_now, Lease, LeaseInfo, SyncStateError, SyncStateStore, WorkspaceId};
use qdrant_client::qdrant::{
    Condition, CreateCollectionBuilder, CreateFieldIndexCollectionBuilder, DeletePointsBuilder,
    FieldType, Filter, GetPointsBuilder, PointId, PointStruct, SetPayloadPointsBuilder, UpdateMode,
    UpsertPointsBuilder, Value, Vectors, WriteOrdering, WriteOrderingType,
};
use uuid::Uuid;

use super::{CallError, Connection, QdrantConfig};

/// Largest piece of state in one point (before base64).
const PART_BYTES: usize = 1 << 20;
/// Parts per upsert request (a request stays well under the server's 32 MiB default limit).
const PARTS_PER_REQUEST: usize = 8;
/// `lease_id` of a head nobody holds.
const FREE: &str = "free";
const NAMESPACE: Uuid = Uuid::from_u128(0x8d2e_61f4_27c3_4b0a_a5d1_3e9c_7f60_b214);

/// Sync state and leases in `<collection>_sync` on the Qdrant server.
#[derive(Debug, Clone)]
pub struct QdrantSyncState {
    connection: Connection,
    collection: String,
}

/// What the head point says.
#[derive(Debug, Clone, Default)]
struct Head {
    lease_id: String,
    holder: String,
    expires_at_ms: u64,
    generation: String,
    parts: u64,
}

impl Head {
    fn held_at(&self, now_ms: u64) -> bool {
        self.lease_id != FREE && self.expires_at_ms > now_ms
    }
}

fn head_id(workspace: &WorkspaceId) -> PointId {
    let key = format!("head\u{1f}{workspace}");
    PointId::from(Uuid::new_v5(&NAMESPACE, key.as_bytes()).to_string())
}

fn part_id(workspace: &WorkspaceId, generation: &str, index: usize) -> PointId {
    let key = format!("part\u{1f}{workspace}\u{1f}{generation}\u{1f}{index}");
    PointId::from(Uuid::new_v5(&NAMESPACE, key.as_bytes()).to_string())
}

fn payload(json: serde_json::Value) -> HashMap<String, Value> {
    match json {
        serde_json::Value::Object(map) => map.into_iter().map(|(k, v)| (k, v.into())).collect(),
        _ => HashMap::new(),
    }
}

fn json_field(payload: &HashMap<String, Value>, key: &str) -> serde_json::Value {
    payload
        .get(key)
        .cloned()
        .map(serde_json::Value::from)
        .unwrap_or(serde_json::Value::Null)
}

fn no_vectors() -> Vectors {
    Vectors::from(HashMap::<String, qdrant_client::qdrant::Vector>::new())
}

fn ttl_ms(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX)
}

impl QdrantSyncState {
    /// Connect and create the companion collection when it is missing.
    pub async fn open(config: &QdrantConfig) -> Result<Self, fathom_core::StoreError> {
        let connection = Connection::open(config).map_err(|e| fathom_core::StoreError::Open {
            path: config.url.clone(),
            reason: e.reason,
        })?;
        let state = Self {
            connection,
            collection: config.sync_collection(),
        };
        state.ensure_collection().await.map_err(|e| {
            if e.unavailable {
                fathom_core::StoreError::Unavailable {
                    endpoint: config.url.clone(),
                    operation: "open sync state",
                    reason: e.reason,
                }
            } else {
                fathom_core::StoreError::Open {
                    path: format!("{} collection {}", config.url, state.collection),
                    reason: e.reason,
                }
            }
        })?;
        Ok(state)
    }

    async fn ensure_collection(&self) -> Result<(), CallError> {
        let name = self.collection.clone();
        let exists = self.connection.collection_exists(&name).await?;
        if exists {
            return Ok(());
        }
        let request = CreateCollectionBuilder::new(&self.collection)
            .timeout(self.connection.timeout_secs())
            .build();
        let created = self.connection.create_collection(request).await;
        if let Err(error) = created {
            // Created by another process meanwhile?
            let exists = self.connection.collection_exists(&name).await?;
            if !exists {
                return Err(error);
            }
        }
        for field in ["workspace", "kind", "generation"] {
            let request =
                CreateFieldIndexCollectionBuilder::new(&self.collection, field, FieldType::Keyword)
                    .wait(true)
                    .build();
            self.connection.create_field_index(request).await?;
        }
        Ok(())
    }

    fn error(
        &self,
        workspace: &WorkspaceId,
        operation: &'static str,
    ) -> impl Fn(CallError) -> SyncStateError {
        let workspace = workspace.clone();
        let place = format!("{} ({})", self.collection, self.connection.endpoint);
        move |e| SyncStateError::Backend {
            workspace: workspace.clone(),
            operation,
            reason: format!("{place}: {}", e.reason),
        }
    }

    async fn read_head(&self, workspace: &WorkspaceId) -> Result<Option<Head>, SyncStateError> {
        let request = GetPointsBuilder::new(&self.collection, vec![head_id(workspace)])
            .with_payload(true)
            .with_vectors(false)
            .timeout(self.connection.timeout_secs())
            .build();
        let response = self
            .connection
            .get_points(request)
            .await
            .map_err(self.error(workspace, "read"))?;
        Ok(response.result.into_iter().next().map(|point| {
            let p = &point.payload;
            Head {
                lease_id: json_field(p, "lease_id")
                    .as_str()
                    .unwrap_or(FREE)
                    .to_string(),
                holder: json_field(p, "holder").as_str().unwrap_or("").to_string(),
                expires_at_ms: json_field(p, "expires_at_ms").as_u64().unwrap_or(0),
                generation: json_field(p, "generation")
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                parts: json_field(p, "parts").as_u64().unwrap_or(0),
            }
        }))
    }

    /// Set fields of the head if its lease id is still `expected_lease`. Whether it applied is
    /// learnt by reading the head back.
    async fn update_head_if(
        &self,
        workspace: &WorkspaceId,
        expected_lease: &str,
        fields: serde_json::Value,
        operation: &'static str,
    ) -> Result<(), SyncStateError> {
        let filter = Filter::must([
            Condition::has_id([head_id(workspace)]),
            Condition::matches("lease_id", expected_lease.to_string()),
        ]);
        let request = SetPayloadPointsBuilder::new(&self.collection, payload(fields))
            .points_selector(filter)
            .wait(true)
            .ordering(WriteOrdering {
                r#type: WriteOrderingType::Strong as i32,
            })
            .timeout(self.connection.timeout_secs())
            .build();
        self.connection
            .set_payload(request)
            .await
            .map_err(self.error(workspace, operation))?;
        Ok(())
    }

    fn held_error(workspace: &WorkspaceId, head: &Head, now_ms: u64) -> SyncStateError {
        SyncStateError::Held {
            workspace: workspace.clone(),
            holder: head.holder.clone(),
            expires_in_secs: Some(head.expires_at_ms.saturating_sub(now_ms).div_ceil(1000)),
        }
    }

    /// Delete parts of the workspace's state: those of every generation but `keep`, or (with
    /// `only`) those of that one generation.
    async fn delete_parts(
        &self,
        workspace: &WorkspaceId,
        generation: &str,
        only: bool,
    ) -> Result<(), SyncStateError> {
        let mut filter = Filter::must([
            Condition::matches("workspace", workspace.to_string()),
            Condition::matches("kind", "part".to_string()),
        ]);
        let this_generation = Condition::matches("generation", generation.to_string());
        if only {
            filter.must.push(this_generation);
        } else {
            filter.must_not.push(this_generation);
        }
        let request = DeletePointsBuilder::new(&self.collection)
            .points(filter)
            .wait(true)
            .timeout(self.connection.timeout_secs())
            .build();
        self.connection
            .delete_points(request)
            .await
            .map_err(self.error(workspace, "cleaned"))?;
        Ok(())
    }

    async fn read_parts(
        &self,
        workspace: &WorkspaceId,
        head: &Head,
    ) -> Result<Option<Vec<u8>>, SyncStateError> {
        let count = usize::try_from(head.parts).unwrap_or(0);
        let ids: Vec<PointId> = (0..count)
            .map(|i| part_id(workspace, &head.generation, i))
            .collect();
        let request = GetPointsBuilder::new(&self.collection, ids)
            .with_payload(true)
            .with_vectors(false)
            .timeout(self.connection.timeout_secs())
            .build();
        let response = self
            .connection
            .get_points(request)
            .await
            .map_err(self.error(workspace, "read"))?;
        let mut pieces: Vec<(u64, String)> = response
            .result
            .into_iter()
            .filter_map(|point| {
                let index = json_field(&point.payload, "index").as_u64()?;
                let data = json_field(&point.payload, "data").as_str()?.to_string();
                Some((index, data))
            })
            .collect();
        if pieces.len() != count {
            // The head moved on meanwhile and this generation's parts were deleted.
            return Ok(None);
        }
        pieces.sort_by_key(|(index, _)| *index);
        let mut bytes = Vec::new();
        for (_, data) in pieces {
            let piece = base64::engine::general_purpose::STANDARD
                .decode(data)
                .map_err(|e| SyncStateError::Backend {
                    workspace: workspace.clone(),
                    operation: "read",
                    reason: format!("a stored part is not base64: {e}"),
                })?;
            bytes.extend(piece);
        }
        Ok(Some(bytes))
    }
}

#[async_trait]
impl SyncStateStore for QdrantSyncState {
    async fn acquire(
        &self,
        workspace: &WorkspaceId,
        holder: &str,
        ttl: Duration,
    ) -> Result<Lease, SyncStateError> {
        let lease = Lease {
            workspace: workspace.clone(),
            id: Uuid::new_v4(),
            holder: holder.to_string(),
            expires_at_ms: unix_ms_now().saturating_add(ttl_ms(ttl)),
        };
        let fields = serde_json::json!({
            "lease_id": lease.id.to_string(),
            "holder": lease.holder,
            "expires_at_ms": lease.expires_at_ms,
        });
        let now = unix_ms_now();
        match self.read_head(workspace).await? {
            Some(head) if head.held_at(now) => return Err(Self::held_error(workspace, &head, now)),
            Some(head) => {
                self.update_head_if(workspace, &head.lease_id, fields, "locked")
                    .await?
            }
            None => {
                let mut first = fields;
                first["kind"] = "head".into();
                first["workspace"] = workspace.to_string().into();
                first["generation"] = "".into();
                first["parts"] = 0.into();
                let point = PointStruct::new(head_id(workspace), no_vectors(), payload(first));
                // Insert only: of two runs creating the head at once, the second changes nothing.
                let request = UpsertPointsBuilder::new(&self.collection, vec![point])
                    .update_mode(UpdateMode::InsertOnly)
                    .wait(true)
                    .ordering(WriteOrdering {
                        r#type: WriteOrderingType::Strong as i32,
                    })
                    .timeout(self.connection.timeout_secs())
                    .build();
                self.connection
                    .upsert_points(request)
                    .await
                    .map_err(self.error(workspace, "locked"))?;
            }
        }
        let head = self.read_head(workspace).await?.unwrap_or_default();
        if head.lease_id == lease.id.to_string() {
            Ok(lease)
        } else {
            Err(Self::held_error(workspace, &head, unix_ms_now()))
        }
    }

    async fn renew(&self, lease: &Lease, ttl: Duration) -> Result<Lease, SyncStateError> {
        let renewed = Lease {
            expires_at_ms: unix_ms_now().saturating_add(ttl_ms(ttl)),
            ..lease.clone()
        };
        let id = lease.id.to_string();
        self.update_head_if(
            &lease.workspace,
            &id,
            serde_json::json!({"expires_at_ms": renewed.expires_at_ms}),
            "renewed",
        )
        .await?;
        match self.read_head(&lease.workspace).await? {
            Some(head) if head.lease_id == id => Ok(renewed),
            _ => Err(SyncStateError::Lost {
                workspace: lease.workspace.clone(),
            }),
        }
    }

    async fn release(&self, lease: &Lease) -> Result<(), SyncStateError> {
        self.update_head_if(
            &lease.workspace,
            &lease.id.to_string(),
            serde_json::json!({"lease_id": FREE, "holder": "", "expires_at_ms": 0}),
            "released",
        )
        .await
    }

    async fn holder(&self, workspace: &WorkspaceId) -> Result<Option<LeaseInfo>, SyncStateError> {
        let now = unix_ms_now();
        Ok(self
            .read_head(workspace)
            .await?
            .filter(|head| head.held_at(now))
            .map(|head| LeaseInfo {
                holder: head.holder,
                expires_at_ms: Some(head.expires_at_ms),
            }))
    }

    async fn load(&self, workspace: &WorkspaceId) -> Result<Option<Vec<u8>>, SyncStateError> {
        // A save may delete the generation being read; the second look finds the new one.
        for _ in 0..3 {
            let Some(head) = self.read_head(workspace).await? else {
                return Ok(None);
            };
            if head.generation.is_empty() {
                return Ok(None);
            }
            if let Some(bytes) = self.read_parts(workspace, &head).await? {
                return Ok(Some(bytes));
            }
        }
        Err(SyncStateError::Backend {
            workspace: workspace.clone(),
            operation: "read",
            reason: "the state kept changing while it was read".into(),
        })
    }

    async fn save(&self, lease: &Lease, state: Vec<u8>) -> Result<(), SyncStateError> {
        let workspace = &lease.workspace;
        let generation = Uuid::new_v4().to_string();
        let points: Vec<PointStruct> = state
            .chunks(PART_BYTES)
            .enumerate()
            .map(|(index, piece)| {
                let fields = serde_json::json!({
                    "kind": "part",
                    "workspace": workspace.to_string(),
                    "generation": generation,
                    "index": index,
                    "data": base64::engine::general_purpose::STANDARD.encode(piece),
                });
                PointStruct::new(
                    part_id(workspace, &generation, index),
                    no_vectors(),
                    payload(fields),
                )
            })
            .collect();
        let parts = points.len();
        for batch in points.chunks(PARTS_PER_REQUEST) {
            let request = UpsertPointsBuilder::new(&self.collection, batch.to_vec())
                .wait(true)
                .timeout(self.connection.timeout_secs())
                .build();
            self.connection
                .upsert_points(request)
                .await
                .map_err(self.error(workspace, "written"))?;
        }
        // The commit: the head points at the new generation, if we still hold the lease.
        let id = lease.id.to_string();
        self.update_head_if(
            workspace,
            &id,
            serde_json::json!({"generation": generation, "parts": parts}),
            "written",
        )
        .await?;
        let head = self.read_head(workspace).await?.unwrap_or_default();
        if head.lease_id != id || head.generation != generation {
            // Only our own parts: the run that holds the lease now may be writing its own.
            let _ = self.delete_parts(workspace, &generation, true).await;
            return Err(SyncStateError::Lost {
                workspace: workspace.clone(),
            });
        }
        // Older generations, and parts a run that lost its lease left behind.
        self.delete_parts(workspace, &generation, false).await
    }

    fn describe(&self) -> String {
        format!(
            "Qdrant collection {} at {}",
            self.collection, self.connection.endpoint
        )
    }
}
