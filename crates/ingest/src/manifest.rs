//! The per-workspace sync manifest: what was ingested from where, with which hashes. It is
//! stored by a [`SyncStateStore`] (files beside the embedded index, or the Qdrant server), so
//! every machine that writes the index sees it.
//!
//! It is what makes re-syncs incremental (unchanged files are not even parsed) and what makes an
//! interrupted sync converge: before touching the store for a batch of articles, their ids are
//! written to `in_flight`; a later run re-processes (or deletes) whatever is still listed there.

use std::collections::{BTreeMap, BTreeSet};

use fathom_core::{ArticleId, ChunkId, SyncStateError, SyncStateStore, WorkspaceId};
use serde::{Deserialize, Serialize};

pub const MANIFEST_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileEntry {
    /// blake3 of the file's bytes.
    pub hash: String,
    pub articles: Vec<ArticleId>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArticleEntry {
    /// blake3 of the article's content and metadata.
    pub hash: String,
    /// Source file, relative to the ingested folder, with `/` separators.
    pub path: String,
    pub title: String,
    pub chunks: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u32,
    pub workspace: WorkspaceId,
    /// Chunker settings and embedder ids. When it changes, every article is re-indexed.
    pub fingerprint: String,
    pub files: BTreeMap<String, FileEntry>,
    pub articles: BTreeMap<ArticleId, ArticleEntry>,
    /// Articles whose chunks may be half-written in the store.
    #[serde(default)]
    pub in_flight: BTreeSet<ArticleId>,
    /// A copy of this workspace's index under way (`fathom migrate-index`), so an interrupted
    /// copy resumes where it stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy: Option<CopyProgress>,
}

/// How far a copy of a workspace's index from another store has got.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CopyProgress {
    /// The store copied from (its description).
    pub source: String,
    /// The first point not copied yet; `None` before the first page.
    pub next: Option<ChunkId>,
    /// Points copied so far.
    pub copied: usize,
}

impl Manifest {
    pub fn empty(workspace: WorkspaceId, fingerprint: String) -> Self {
        Self {
            version: MANIFEST_VERSION,
            workspace,
            fingerprint,
            files: BTreeMap::new(),
            articles: BTreeMap::new(),
            in_flight: BTreeSet::new(),
            copy: None,
        }
    }

    /// Read a manifest from its stored bytes. One that does not parse (corrupt, or another
    /// version) or belongs to another workspace reads as `None`, with a warning: the sync then
    /// re-indexes everything, which is slow but always correct.
    pub fn decode(bytes: &[u8], workspace: &WorkspaceId) -> Option<Self> {
        match serde_json::from_slice::<Self>(bytes) {
            Ok(manifest)
                if manifest.version == MANIFEST_VERSION && &manifest.workspace == workspace =>
            {
                Some(manifest)
            }
            Ok(_) => {
                tracing::warn!(%workspace, "sync manifest is for another version or workspace; re-indexing everything");
                None
            }
            Err(error) => {
                tracing::warn!(%workspace, %error, "sync manifest is unreadable; re-indexing everything");
                None
            }
        }
    }

    /// The bytes to store.
    pub fn encode(&self) -> Vec<u8> {
        // Plain data with string keys: serialising cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Load a workspace's manifest from its sync state store.
    pub async fn load(
        state: &dyn SyncStateStore,
        workspace: &WorkspaceId,
    ) -> Result<Option<Self>, SyncStateError> {
        Ok(state
            .load(workspace)
            .await?
            .and_then(|bytes| Self::decode(&bytes, workspace)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_encoded_manifest_decodes_back_equal() {
        let ws = WorkspaceId::parse("acme").unwrap();
        let mut manifest = Manifest::empty(ws.clone(), "fp".into());
        let id = ArticleId::parse("a").unwrap();
        manifest.articles.insert(
            id.clone(),
            ArticleEntry {
                hash: "h".into(),
                path: "a.md".into(),
                title: "A".into(),
                chunks: 2,
            },
        );
        manifest.in_flight.insert(id);
        assert_eq!(Manifest::decode(&manifest.encode(), &ws), Some(manifest));
    }

    #[test]
    fn a_corrupt_manifest_decodes_as_none_instead_of_failing() {
        let ws = WorkspaceId::parse("acme").unwrap();
        assert_eq!(Manifest::decode(b"{not json", &ws), None);
    }

    #[test]
    fn another_workspaces_manifest_decodes_as_none() {
        let acme = WorkspaceId::parse("acme").unwrap();
        let globex = WorkspaceId::parse("globex").unwrap();
        let bytes = Manifest::empty(acme, "fp".into()).encode();
        assert_eq!(Manifest::decode(&bytes, &globex), None);
    }
}
