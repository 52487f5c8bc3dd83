//! Incremental sync of one folder into one workspace: scan → diff against the manifest →
//! chunk → embed → store. Unchanged files cost a read and a hash; changed articles have their
//! old chunks replaced; articles gone from the source are deleted.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fathom_core::{
    Article, ArticleId, Chunk, Embedder, IndexedChunk, SparseEmbedder, StoreError, SyncStateError,
    SyncStateStore, VectorStore, WorkspaceId,
};
use serde::{Deserialize, Serialize};

use crate::chunk::{chunk_article, ChunkerConfig};
use crate::lease::LeaseGuard;
use crate::manifest::{ArticleEntry, FileEntry, Manifest};
use crate::sources::{is_supported, parse_source, SourceLimits};

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("source folder {path} cannot be read: {reason}")]
    SourceDir { path: PathBuf, reason: String },
    #[error(transparent)]
    State(#[from] SyncStateError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("embedding failed while indexing {articles}: {source}")]
    Embed {
        articles: String,
        source: fathom_core::EmbedError,
    },
}

impl SyncError {
    /// A stable machine-readable code, for API error bodies and `--json` output.
    pub fn code(&self) -> &'static str {
        match self {
            Self::SourceDir { .. } => "source_unreadable",
            Self::State(error) => error.code(),
            Self::Store(error) => error.code(),
            Self::Embed { .. } => "embedding_failed",
        }
    }
}

/// Settings of one sync run.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    pub workspace: WorkspaceId,
    pub chunker: ChunkerConfig,
    pub limits: SourceLimits,
    /// Chunks embedded and written per batch.
    pub batch_size: usize,
    /// Who is syncing, for the message a concurrent run gets (see [`crate::lease_holder`]).
    pub holder: String,
    /// How long the workspace's lease lasts without renewal; renewed every third of it while
    /// the sync runs, so only a crashed run lets it run out.
    pub lease_ttl: Duration,
}

impl SyncOptions {
    /// Default chunking, limits and batches, held as "fathom sync" by this process.
    pub fn new(workspace: WorkspaceId) -> Self {
        Self {
            workspace,
            chunker: ChunkerConfig::default(),
            limits: SourceLimits::default(),
            batch_size: 64,
            holder: crate::lease_holder("fathom sync"),
            lease_ttl: Duration::from_secs(60),
        }
    }
}

/// A file (or one article in it) that could not be ingested.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncFailure {
    pub path: String,
    pub reason: String,
}

/// What a sync did. Printed by `fathom ingest`, as JSON with `--json` (also what a running
/// `fathom serve` sends back when the CLI hands it the sync).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SyncReport {
    pub workspace: String,
    pub files_scanned: usize,
    pub added: Vec<ArticleId>,
    pub updated: Vec<ArticleId>,
    pub unchanged: usize,
    pub deleted: Vec<ArticleId>,
    pub failed: Vec<SyncFailure>,
    pub chunks_written: usize,
    pub duration_ms: u64,
}

/// Progress as the sync goes, for a progress bar.
#[derive(Debug, Clone, Copy)]
pub enum SyncEvent {
    /// The diff is done: this many articles will be (re-)indexed, in this many chunks.
    Planned { articles: usize, chunks: usize },
    /// A batch of chunks was written.
    Indexed { chunks: usize },
}

/// The backends a sync writes through.
#[derive(Clone)]
pub struct SyncBackends {
    pub store: Arc<dyn VectorStore>,
    /// Where each workspace's manifest and lease live (with the index).
    pub state: Arc<dyn SyncStateStore>,
    /// `None` for a BM25-only index.
    pub dense: Option<Arc<dyn Embedder>>,
    pub sparse: Arc<dyn SparseEmbedder>,
}

impl SyncBackends {
    /// Identifies everything that shapes the stored chunks and vectors (the manifest's
    /// fingerprint: when it changes, every article is re-indexed).
    pub fn fingerprint(&self, chunker: &ChunkerConfig) -> String {
        let dense = self.dense.as_ref().map_or("none", |d| d.model_id());
        format!(
            "chunker:{}/{};dense:{dense};sparse:{}",
            chunker.max_tokens,
            chunker.overlap_tokens,
            self.sparse.analysis_id()
        )
    }
}

/// An article read from the source, with its hash.
struct Scanned {
    article: Article,
    hash: String,
}

/// The outcome of scanning the folder and diffing against the manifest.
#[derive(Default)]
struct Plan {
    files: BTreeMap<String, FileEntry>,
    /// Articles to (re-)index.
    to_index: Vec<Scanned>,
    /// Every article id the source still has (including ones whose file failed this time).
    present: BTreeSet<ArticleId>,
    unchanged: usize,
    failed: Vec<SyncFailure>,
    files_scanned: usize,
}

/// Sync `root` into the workspace, holding the workspace's lease throughout: a second sync of
/// the same workspace (from this machine or another) fails with [`SyncStateError::Held`]
/// naming this one, instead of interleaving its writes.
pub async fn sync_folder(
    root: &Path,
    backends: &SyncBackends,
    options: &SyncOptions,
    on_event: &(dyn Fn(SyncEvent) + Send + Sync),
) -> Result<SyncReport, SyncError> {
    let lease = LeaseGuard::acquire(
        Arc::clone(&backends.state),
        &options.workspace,
        &options.holder,
        options.lease_ttl,
    )
    .await?;
    let result = sync_leased(root, backends, options, &lease, on_event).await;
    lease.release().await;
    result
}

async fn sync_leased(
    root: &Path,
    backends: &SyncBackends,
    options: &SyncOptions,
    lease: &LeaseGuard,
    on_event: &(dyn Fn(SyncEvent) + Send + Sync),
) -> Result<SyncReport, SyncError> {
    let started = Instant::now();
    let fingerprint = backends.fingerprint(&options.chunker);
    let previous = Manifest::load(&*backends.state, &options.workspace).await?;
    let mut manifest = match previous {
        Some(m) if m.fingerprint == fingerprint => m,
        Some(mut m) => {
            // Same workspace, other chunker or model: everything must be re-indexed.
            m.fingerprint = fingerprint;
            m.files.clear();
            m.in_flight.extend(m.articles.keys().cloned());
            m.articles.iter_mut().for_each(|(_, a)| a.hash.clear());
            m
        }
        None => {
            // No (usable) manifest: anything already in the store for this workspace is suspect.
            let mut m = Manifest::empty(options.workspace.clone(), fingerprint);
            m.in_flight
                .extend(backends.store.article_ids(&options.workspace).await?);
            m
        }
    };

    let root_for_errors = root.to_path_buf();
    let plan = {
        let root = root.to_path_buf();
        let manifest = manifest.clone();
        let limits = options.limits;
        tokio::task::spawn_blocking(move || scan(&root, &manifest, &limits))
            .await
            .map_err(|e| SyncError::SourceDir {
                path: root_for_errors,
                reason: format!("scan task failed: {e}"),
            })??
    };

    let mut report = SyncReport {
        workspace: options.workspace.to_string(),
        files_scanned: plan.files_scanned,
        unchanged: plan.unchanged,
        failed: plan.failed,
        ..Default::default()
    };

    // Deleted: known before (or half-written) and not in the source any more.
    let gone: Vec<ArticleId> = manifest
        .articles
        .keys()
        .chain(manifest.in_flight.iter())
        .filter(|id| !plan.present.contains(*id))
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();

    // Articles that may have chunks in the store now; the others need no delete before their
    // first upsert (a delete is a filtered scan, and most of a first sync is new articles).
    let maybe_stored: HashSet<ArticleId> = manifest
        .articles
        .keys()
        .chain(manifest.in_flight.iter())
        .cloned()
        .collect();

    // Journal first: every article this run may touch is listed as in flight before the store
    // changes, and stays listed until a flush has made its new state durable. A run killed at
    // any point leaves a manifest from which the next run converges.
    manifest.in_flight.extend(
        gone.iter()
            .chain(plan.to_index.iter().map(|s| &s.article.id))
            .cloned(),
    );
    manifest.files = plan.files;
    lease.save(&manifest.encode()).await?;

    if !gone.is_empty() {
        backends
            .store
            .delete_articles(&options.workspace, &gone)
            .await?;
        for id in &gone {
            manifest.articles.remove(id);
        }
        report.deleted = gone.clone();
    }

    let mut checkpoint = Checkpoint {
        last: Instant::now(),
        done: gone,
        maybe_stored,
        lease,
    };
    let planned_chunks = index_articles(
        plan.to_index,
        backends,
        options,
        &mut manifest,
        &mut report,
        &mut checkpoint,
        on_event,
    )
    .await?;
    report.chunks_written = planned_chunks;
    checkpoint.save(backends, &mut manifest).await?;

    if !manifest.in_flight.is_empty() {
        // Everything in flight was either re-indexed or deleted above; what remains are ids
        // the store reported that the source still has but which were not re-indexed because
        // their file failed to parse this time. Keep them listed so a later run fixes them.
        tracing::warn!(
            count = manifest.in_flight.len(),
            "articles remain in flight"
        );
    }
    report.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    Ok(report)
}

/// Chunk, embed and write the given articles in batches, updating the manifest as each batch
/// lands. Returns the number of chunks written.
async fn index_articles(
    articles: Vec<Scanned>,
    backends: &SyncBackends,
    options: &SyncOptions,
    manifest: &mut Manifest,
    report: &mut SyncReport,
    checkpoint: &mut Checkpoint<'_>,
    on_event: &(dyn Fn(SyncEvent) + Send + Sync),
) -> Result<usize, SyncError> {
    if articles.is_empty() {
        return Ok(0);
    }
    let workspace = options.workspace.clone();
    let chunker = options.chunker;
    // Chunking is CPU work: keep it off the async runtime.
    let chunked: Vec<(Scanned, Vec<Chunk>)> = tokio::task::spawn_blocking(move || {
        articles
            .into_iter()
            .map(|scanned| {
                let chunks = chunk_article(&workspace, &scanned.article, &chunker);
                (scanned, chunks)
            })
            .collect()
    })
    .await
    .map_err(|e| {
        SyncError::Store(StoreError::Operation {
            operation: "chunk",
            reason: e.to_string(),
        })
    })?;
    let total_chunks: usize = chunked.iter().map(|(_, c)| c.len()).sum();
    on_event(SyncEvent::Planned {
        articles: chunked.len(),
        chunks: total_chunks,
    });

    let mut batch: Vec<(Scanned, Vec<Chunk>)> = Vec::new();
    let mut batch_chunks = 0;
    let mut written = 0;
    let mut pending = chunked.into_iter().peekable();
    while let Some(item) = pending.next() {
        batch_chunks += item.1.len();
        batch.push(item);
        let flush_now = batch_chunks >= options.batch_size || pending.peek().is_none();
        if !flush_now {
            continue;
        }
        let current = std::mem::take(&mut batch);
        batch_chunks = 0;
        written += write_batch(current, backends, options, manifest, report, checkpoint).await?;
        on_event(SyncEvent::Indexed { chunks: written });
    }
    Ok(written)
}

async fn write_batch(
    batch: Vec<(Scanned, Vec<Chunk>)>,
    backends: &SyncBackends,
    options: &SyncOptions,
    manifest: &mut Manifest,
    report: &mut SyncReport,
    checkpoint: &mut Checkpoint<'_>,
) -> Result<usize, SyncError> {
    // Every id here was journaled as in flight by `sync_folder` before any write.
    let ids: Vec<ArticleId> = batch.iter().map(|(s, _)| s.article.id.clone()).collect();

    let chunks: Vec<Chunk> = batch.iter().flat_map(|(_, c)| c.iter().cloned()).collect();
    let texts: Vec<String> = chunks.iter().map(Chunk::text_for_embedding).collect();
    let dense = match &backends.dense {
        Some(embedder) => Some(embedder.embed_documents(texts.clone()).await.map_err(
            |source| {
                SyncError::Embed {
                    articles: ids
                        .iter()
                        .map(ArticleId::as_str)
                        .collect::<Vec<_>>()
                        .join(", "),
                    source,
                }
            },
        )?),
        None => None,
    };
    let sparse_embedder = Arc::clone(&backends.sparse);
    let locales: Vec<Option<String>> = chunks.iter().map(|c| c.locale.clone()).collect();
    let sparse = tokio::task::spawn_blocking(move || {
        texts
            .iter()
            .zip(&locales)
            .map(|(text, locale)| sparse_embedder.embed_document_in(text, locale.as_deref()))
            .collect::<Vec<_>>()
    })
    .await
    .map_err(|e| {
        SyncError::Store(StoreError::Operation {
            operation: "bm25",
            reason: e.to_string(),
        })
    })?;
    let mut dense = dense.map(Vec::into_iter);
    let points: Vec<IndexedChunk> = chunks
        .into_iter()
        .zip(sparse)
        .map(|(chunk, sparse)| IndexedChunk {
            chunk,
            dense: dense.as_mut().and_then(Iterator::next),
            sparse,
        })
        .collect();
    let written = points.len();

    let stale: Vec<ArticleId> = ids
        .iter()
        .filter(|id| checkpoint.maybe_stored.contains(*id))
        .cloned()
        .collect();
    if !stale.is_empty() {
        backends
            .store
            .delete_articles(&options.workspace, &stale)
            .await?;
    }
    backends.store.upsert(points).await?;

    for (scanned, chunks) in batch {
        let id = scanned.article.id.clone();
        let entry = ArticleEntry {
            hash: scanned.hash,
            path: path_key(&scanned.article.source_path),
            title: scanned.article.title,
            chunks: u32::try_from(chunks.len()).unwrap_or(u32::MAX),
        };
        if manifest.articles.insert(id.clone(), entry).is_some() {
            report.updated.push(id.clone());
        } else {
            report.added.push(id.clone());
        }
        checkpoint.done.push(id);
    }
    // The manifest is saved at the end anyway; a checkpoint now and then bounds the work an
    // interrupted run has to redo.
    if checkpoint.last.elapsed() > CHECKPOINT_EVERY {
        checkpoint.save(backends, manifest).await?;
    }
    Ok(written)
}

const CHECKPOINT_EVERY: Duration = Duration::from_secs(2);

/// Articles whose new state is written to the store but not yet known to be durable.
struct Checkpoint<'a> {
    last: Instant,
    done: Vec<ArticleId>,
    /// Articles that had (or may have had) chunks in the store when the run began.
    maybe_stored: HashSet<ArticleId>,
    lease: &'a LeaseGuard,
}

impl Checkpoint<'_> {
    /// Flush the store, then (and only then) take the finished articles out of the journal.
    async fn save(
        &mut self,
        backends: &SyncBackends,
        manifest: &mut Manifest,
    ) -> Result<(), SyncError> {
        backends.store.flush().await?;
        for id in self.done.drain(..) {
            manifest.in_flight.remove(&id);
        }
        self.lease.save(&manifest.encode()).await?;
        self.last = Instant::now();
        Ok(())
    }
}

/// Relative path with `/` separators, the manifest's key for a file.
fn path_key(path: &Path) -> String {
    path.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// An article without a declared `locale` gets the language detected in its title and opening
/// text (ISO 639-1, e.g. `de`) when detection is reliable; a locale from front matter or a
/// help-center export is kept as declared. Retrieval routes by it and BM25 analyses the article's
/// chunks in it (without one, BM25 reads each chunk in the language detection is sure of, else in
/// English).
fn with_language(mut article: Article) -> Article {
    if article.locale.is_none() {
        let opening: String = article.body.chars().take(2_000).collect();
        let sample = format!("{}\n{opening}", article.title);
        article.locale = fathom_text::detect(&sample)
            .filter(|detection| detection.reliable)
            .map(|detection| detection.language.code().to_string());
    }
    article
}

/// A stable hash of everything about an article that ends up in its chunks.
fn article_hash(article: &Article) -> String {
    let mut hasher = blake3::Hasher::new();
    for field in [
        article.id.as_str(),
        &article.title,
        article.url.as_deref().unwrap_or(""),
        article.locale.as_deref().unwrap_or(""),
        &article.tags.join("\u{1f}"),
        article.updated_at.as_deref().unwrap_or(""),
        match article.format {
            fathom_core::ArticleFormat::Markdown => "md",
            fathom_core::ArticleFormat::Html => "html",
        },
        &article.body,
    ] {
        hasher.update(field.as_bytes());
        hasher.update(&[0x1e]);
    }
    hasher.finalize().to_hex().to_string()
}

/// Every entry under `root` in sorted order, hidden files and folders left out.
fn source_walk(root: &Path) -> impl Iterator<Item = walkdir::Result<walkdir::DirEntry>> {
    walkdir::WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'))
}

/// Every chunk of the folder's articles, as a sync would index them (for tools that need the
/// knowledge's text, e.g. `fathom calibrate`); files that cannot be read or parsed are skipped
/// and listed.
pub fn folder_chunks(
    root: &Path,
    workspace: &WorkspaceId,
    chunker: &ChunkerConfig,
    limits: &SourceLimits,
) -> Result<(Vec<Chunk>, Vec<SyncFailure>), SyncError> {
    if !root.is_dir() {
        return Err(SyncError::SourceDir {
            path: root.to_path_buf(),
            reason: "not a directory".into(),
        });
    }
    let mut chunks = Vec::new();
    let mut failed = Vec::new();
    for entry in source_walk(root).flatten() {
        if !entry.file_type().is_file() || !is_supported(entry.path()) {
            continue;
        }
        let relative = entry.path().strip_prefix(root).unwrap_or(entry.path());
        let parsed = read_limited(entry.path(), limits)
            .and_then(|bytes| parse_source(relative, &bytes, limits).map_err(|e| e.to_string()));
        match parsed {
            Ok(articles) => {
                for article in &articles {
                    chunks.extend(chunk_article(workspace, article, chunker));
                }
            }
            Err(reason) => failed.push(SyncFailure {
                path: path_key(relative),
                reason,
            }),
        }
    }
    Ok((chunks, failed))
}

/// Walk the folder, read and hash each supported file, parse the ones that changed.
fn scan(root: &Path, manifest: &Manifest, limits: &SourceLimits) -> Result<Plan, SyncError> {
    let mut plan = Plan::default();
    if !root.is_dir() {
        return Err(SyncError::SourceDir {
            path: root.to_path_buf(),
            reason: "not a directory".into(),
        });
    }
    // Which file claimed each article id first (files are visited in sorted order).
    let mut claimed: HashMap<ArticleId, String> = HashMap::new();
    for entry in source_walk(root) {
        let entry = match entry {
            Ok(entry) => entry,
            Err(error) => {
                let path = error
                    .path()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| root.display().to_string());
                plan.failed.push(SyncFailure {
                    path,
                    reason: error.to_string(),
                });
                continue;
            }
        };
        if !entry.file_type().is_file() || !is_supported(entry.path()) {
            continue;
        }
        plan.files_scanned += 1;
        let relative = entry
            .path()
            .strip_prefix(root)
            .unwrap_or(entry.path())
            .to_path_buf();
        let key = path_key(&relative);
        let previous = manifest.files.get(&key);
        let previous_articles = || previous.map(|f| f.articles.clone()).unwrap_or_default();

        let bytes = match read_limited(entry.path(), limits) {
            Ok(bytes) => bytes,
            Err(reason) => {
                plan.failed.push(SyncFailure { path: key, reason });
                // Keep what an earlier version of this file put in the index.
                plan.present.extend(previous_articles());
                continue;
            }
        };
        let file_hash = blake3::hash(&bytes).to_hex().to_string();

        if let Some(previous) = previous.filter(|p| p.hash == file_hash) {
            // Unchanged file: no parsing, unless one of its articles is in flight.
            let needs_reindex = previous
                .articles
                .iter()
                .any(|id| manifest.in_flight.contains(id) || !manifest.articles.contains_key(id));
            if !needs_reindex {
                let mut kept = Vec::new();
                for id in &previous.articles {
                    if let Some(first) = claimed.get(id) {
                        plan.failed.push(duplicate_failure(id, first, &key));
                        continue;
                    }
                    claimed.insert(id.clone(), key.clone());
                    plan.present.insert(id.clone());
                    plan.unchanged += 1;
                    kept.push(id.clone());
                }
                plan.files.insert(
                    key,
                    FileEntry {
                        hash: file_hash,
                        articles: kept,
                    },
                );
                continue;
            }
        }

        let articles = match parse_source(&relative, &bytes, limits) {
            Ok(articles) => articles,
            Err(error) => {
                plan.failed.push(SyncFailure {
                    path: key,
                    reason: error.to_string(),
                });
                plan.present.extend(previous_articles());
                continue;
            }
        };
        let mut file_articles = Vec::new();
        for article in articles {
            if let Some(first) = claimed.get(&article.id) {
                plan.failed
                    .push(duplicate_failure(&article.id, first, &key));
                continue;
            }
            claimed.insert(article.id.clone(), key.clone());
            plan.present.insert(article.id.clone());
            file_articles.push(article.id.clone());
            let hash = article_hash(&article);
            let unchanged = manifest
                .articles
                .get(&article.id)
                .is_some_and(|known| known.hash == hash)
                && !manifest.in_flight.contains(&article.id);
            if unchanged {
                plan.unchanged += 1;
            } else {
                let article = with_language(article);
                plan.to_index.push(Scanned { article, hash });
            }
        }
        plan.files.insert(
            key,
            FileEntry {
                hash: file_hash,
                articles: file_articles,
            },
        );
    }
    Ok(plan)
}

fn duplicate_failure(id: &ArticleId, first: &str, second: &str) -> SyncFailure {
    SyncFailure {
        path: second.to_string(),
        reason: format!("article id {id:?} is used by both {first} and {second}; kept {first}"),
    }
}

/// Read a file, refusing ones over the size limit before reading them.
fn read_limited(path: &Path, limits: &SourceLimits) -> Result<Vec<u8>, String> {
    let metadata = std::fs::metadata(path).map_err(|e| format!("cannot read file: {e}"))?;
    if metadata.len() > limits.max_bytes as u64 {
        return Err(format!(
            "file is {} bytes, over the {} byte limit for one source file",
            metadata.len(),
            limits.max_bytes
        ));
    }
    std::fs::read(path).map_err(|e| format!("cannot read file: {e}"))
}
