//! The per-workspace sync manifest: what was ingested from where, with which hashes.
//!
//! It is what makes re-syncs incremental (unchanged files are not even parsed) and what makes an
//! interrupted sync converge: before touching the store for a batch of articles, their ids are
//! written to `in_flight`; a later run re-processes (or deletes) whatever is still listed there.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use fathom_core::{ArticleId, WorkspaceId};
use serde::{Deserialize, Serialize};

pub const MANIFEST_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("manifest {path} could not be read: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("manifest {path} could not be written: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

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
        }
    }

    /// Load the manifest at `path`. A missing file is an empty manifest. An unreadable one
    /// (corrupt, or another version) is also treated as empty, with a warning: the sync then
    /// re-indexes everything, which is slow but always correct.
    pub fn load(path: &Path, workspace: &WorkspaceId) -> Result<Option<Self>, ManifestError> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(ManifestError::Read {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        match serde_json::from_slice::<Self>(&bytes) {
            Ok(manifest)
                if manifest.version == MANIFEST_VERSION && &manifest.workspace == workspace =>
            {
                Ok(Some(manifest))
            }
            Ok(_) => {
                tracing::warn!(path = %path.display(), "manifest is for another version or workspace; re-indexing everything");
                Ok(None)
            }
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "manifest is unreadable; re-indexing everything");
                Ok(None)
            }
        }
    }

    /// Write atomically: a temporary file in the same directory, fsynced, then renamed.
    pub fn save(&self, path: &Path) -> Result<(), ManifestError> {
        let write_error = |source| ManifestError::Write {
            path: path.to_path_buf(),
            source,
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(write_error)?;
        let tmp = path.with_extension("json.tmp");
        let bytes = serde_json::to_vec(self).map_err(|e| write_error(std::io::Error::other(e)))?;
        let mut file = std::fs::File::create(&tmp).map_err(write_error)?;
        file.write_all(&bytes).map_err(write_error)?;
        file.sync_all().map_err(write_error)?;
        std::fs::rename(&tmp, path).map_err(write_error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_manifest_loads_back_equal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ws/manifest.json");
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
        manifest.save(&path).unwrap();
        assert_eq!(Manifest::load(&path, &ws).unwrap(), Some(manifest));
    }

    #[test]
    fn a_corrupt_manifest_loads_as_none_instead_of_failing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("manifest.json");
        std::fs::write(&path, b"{not json").unwrap();
        let ws = WorkspaceId::parse("acme").unwrap();
        assert_eq!(Manifest::load(&path, &ws).unwrap(), None);
    }
}
