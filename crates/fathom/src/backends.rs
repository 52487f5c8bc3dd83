//! Builds the configured backends (vector store, embedders) from the settings.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use async_trait::async_trait;
use fathom_answer::answerability::ModelFile;
use fathom_answer::{
    AnswerConfig, AnswerEngine, Generator, LlmConfig, LlmGenerator, OpenAiChat, PromptLibrary,
    Prompts, Replies,
};
use fathom_core::{
    EmbedError, Embedder, IndexFingerprint, SparseEmbedder, StoreError, SyncStateStore,
    VectorStore, WorkspaceId,
};
use fathom_embed::{Bm25Embedder, MiniLmConfig, MiniLmEmbedder, OpenAiConfig, OpenAiEmbedder};
use fathom_evals::calibrate::Calibration;
use fathom_ingest::sync::{SyncBackends, SyncOptions};
use fathom_retrieve::{Retriever, RetrieverConfig};
use fathom_store::{
    EdgeStore, EdgeStoreConfig, FileSyncState, FusionConfig, QdrantStore, QdrantSyncState,
};
use tokio::sync::OnceCell;

use crate::running::ServerRecord;
use crate::settings::{EmbedderKind, FusionArg, Settings, VectorStoreKind};

pub struct Backends {
    pub store: Arc<dyn VectorStore>,
    pub state: Arc<dyn SyncStateStore>,
    pub dense: Option<Arc<dyn Embedder>>,
    pub sparse: Arc<dyn SparseEmbedder>,
    pub sync: SyncBackends,
}

impl Backends {
    pub async fn open(settings: &Settings) -> anyhow::Result<Self> {
        let dense = dense_embedder(settings).await?;
        let sparse: Arc<dyn SparseEmbedder> = Arc::new(Bm25Embedder::default());
        let fingerprint = IndexFingerprint {
            dense_model: dense.as_ref().map(|d| d.model_id().to_string()),
            dense_dimension: dense.as_ref().map_or(384, |d| d.dimension()),
            text_analysis: sparse.analysis_id().to_string(),
        };
        let (store, state) = open_index(settings, &fingerprint).await?;
        let sync = SyncBackends {
            store: Arc::clone(&store),
            state: Arc::clone(&state),
            dense: dense.clone(),
            sparse: Arc::clone(&sparse),
        };
        Ok(Self {
            store,
            state,
            dense,
            sparse,
            sync,
        })
    }

    pub fn sync_options(&self, workspace: &WorkspaceId, purpose: &str) -> SyncOptions {
        SyncOptions {
            holder: fathom_ingest::lease_holder(purpose),
            ..SyncOptions::new(workspace.clone())
        }
    }

    /// The answer engine: extractive by default, LLM-backed when a chat endpoint is configured.
    pub fn answer_engine(&self, settings: &Settings) -> anyhow::Result<AnswerEngine> {
        let mut config = AnswerConfig::default();
        if let Some(min) = settings.min_confidence {
            anyhow::ensure!(
                (0.0..=1.0).contains(&min),
                "--min-confidence must be within 0..1, got {min}"
            );
            config.judge.min_confidence = Some(min);
        }
        // The bot's sentences and the model's prompts: built in, overridden by the deployer's files.
        let library = PromptLibrary::load(&settings.prompts_dir)
            .with_context(|| format!("loading prompts from {}", settings.prompts_dir.display()))?;
        let generator = match &settings.llm_base_url {
            None => None,
            Some(base_url) => {
                let mut llm = LlmConfig::new(base_url.clone(), settings.llm_model.clone());
                llm.api_key = settings.llm_api_key.clone();
                llm.timeout = std::time::Duration::from_secs(settings.llm_timeout_secs);
                llm.json_mode = settings.llm_json_mode;
                llm.json_schema = settings.llm_json_schema;
                let chat = OpenAiChat::new(llm)?;
                let prompts = Prompts::from_library(&library, None);
                Some(Arc::new(
                    LlmGenerator::new(chat, prompts, settings.llm_judge)
                        .with_source_tokens(settings.llm_source_tokens),
                ) as Arc<dyn Generator>)
            }
        };
        let mut engine = AnswerEngine::new(self.retriever(), config, generator)
            .with_replies(Replies::new(library));
        if let Some(path) = &settings.answerability_model {
            engine = engine.with_models(ModelFile::load(path)?);
        } else if settings.embedder == EmbedderKind::Openai {
            // The built-in dense model reads MiniLM's cosines; a remote model's are on another
            // scale. Judge without them unless a file fitted on this embedder is given.
            tracing::warn!(
                "the built-in answerability model was fitted on all-MiniLM-L6-v2: with --embedder openai \
                 the judge reads no dense score; give --answerability-model a file fitted on this \
                 embedder (`fathom answerability fit`) to use it"
            );
            engine = engine.with_models(ModelFile::builtin().without_dense());
        }
        let calibrated = calibrations(settings, engine.model_name());
        Ok(engine.with_workspace_calibration(calibrated))
    }

    /// Chunks indexed for `workspace`.
    pub async fn store_count(&self, workspace: &WorkspaceId) -> anyhow::Result<usize> {
        Ok(self.store.count(workspace).await?)
    }

    pub fn retriever(&self) -> Retriever {
        Retriever::new(
            Arc::clone(&self.store),
            self.dense.clone(),
            Arc::clone(&self.sparse),
            RetrieverConfig::default(),
        )
    }
}

/// The thresholds `fathom calibrate` stored for each workspace of the data directory, for the
/// model the engine judges with (a calibration of another model does not apply).
fn calibrations(settings: &Settings, model: &str) -> Vec<(WorkspaceId, f32)> {
    let Ok(entries) = std::fs::read_dir(settings.data_dir.join("workspaces")) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let workspace = WorkspaceId::parse(entry.file_name().to_str()?).ok()?;
            let path = settings.calibration_path(&workspace);
            let text = std::fs::read_to_string(&path).ok()?;
            match serde_json::from_str::<Calibration>(&text) {
                Ok(calibration) if calibration.model == model => {
                    Some((workspace, calibration.threshold))
                }
                Ok(_) => None,
                Err(error) => {
                    tracing::warn!(path = %path.display(), %error, "unreadable calibration ignored");
                    None
                }
            }
        })
        .collect()
}

/// Why the index did not open, and what to do: never "delete your data" unless the index
/// really was built for another embedding model.
pub(crate) fn store_open_error(settings: &Settings, error: StoreError) -> anyhow::Error {
    let dir = settings.store_dir();
    match &error {
        StoreError::InUse { .. } => match ServerRecord::read(&settings.data_dir) {
            Some(server) => anyhow::anyhow!(
                "the index in {} is held by `fathom serve` ({}). `fathom search`, `ask`, `status` and \
                 `ingest` go through it when they can reach it (or name it with --server URL); \
                 other commands need the index to themselves: stop the server first (Ctrl-C in its \
                 terminal, or `kill {}`), or use another --data-dir. Nothing needs deleting.",
                dir.display(),
                server.describe(),
                server.pid
            ),
            None => anyhow::anyhow!(
                "the index in {} is in use by another fathom process (a `fathom serve`, or an \
                 `ingest` still running, on the same --data-dir): wait for it or stop it, then try \
                 again. Nothing needs deleting.",
                dir.display()
            ),
        },
        StoreError::DimensionMismatch { expected, actual } => anyhow::anyhow!(
            "the index in {} holds {expected}-dimensional vectors and the embedder makes {actual}: \
             use the embedding model it was built with, or rebuild it for this one: delete {} and \
             {} (the index and its sync manifests; conversations stay) and run `fathom ingest` again",
            dir.display(),
            dir.display(),
            settings.sync_state_dir().display()
        ),
        _ => anyhow::Error::new(error).context(format!("opening the vector index in {}", dir.display())),
    }
}

/// The fusion settings, shared by both vector stores.
pub fn fusion(settings: &Settings) -> FusionConfig {
    FusionConfig {
        fusion: match settings.fusion {
            FusionArg::Rrf => fathom_store::HybridFusion::Rrf,
            FusionArg::Dbsf => fathom_store::HybridFusion::Dbsf,
        },
        rrf_k: settings.fusion_rrf_k,
        dense_weight: settings.fusion_dense_weight,
        bm25_weight: 1.0,
    }
}

/// The vector index and its sync state, as `--vector-store` says.
async fn open_index(
    settings: &Settings,
    fingerprint: &IndexFingerprint,
) -> anyhow::Result<(Arc<dyn VectorStore>, Arc<dyn SyncStateStore>)> {
    match settings.vector_store {
        VectorStoreKind::Edge => {
            let store_dir = settings.store_dir();
            let store = EdgeStore::open(
                &store_dir,
                EdgeStoreConfig {
                    dense_dimension: fingerprint.dense_dimension,
                    fusion: fusion(settings),
                },
            )
            .map_err(|error| store_open_error(settings, error))?;
            let state = FileSyncState::new(settings.sync_state_dir());
            Ok((Arc::new(store), Arc::new(state)))
        }
        VectorStoreKind::Qdrant => {
            let config = settings.qdrant()?;
            let store = QdrantStore::open(&config, fingerprint, fusion(settings))
                .await
                .with_context(|| {
                    format!(
                        "opening the Qdrant collection {} at {}",
                        config.collection, config.url
                    )
                })?;
            let state = QdrantSyncState::open(&config)
                .await
                .with_context(|| format!("opening the sync state in Qdrant at {}", config.url))?;
            Ok((Arc::new(store), Arc::new(state)))
        }
    }
}

async fn dense_embedder(settings: &Settings) -> anyhow::Result<Option<Arc<dyn Embedder>>> {
    match settings.embedder {
        EmbedderKind::None => Ok(None),
        EmbedderKind::Minilm => {
            let mut config = MiniLmConfig::new(&settings.model_dir);
            if let Some(threads) = settings.embed_threads {
                config.threads = threads.max(1);
            }
            let (model_id, dimension) = probe_model_dir(&settings.model_dir)
                .with_context(|| model_hint(&settings.model_dir))?;
            Ok(Some(Arc::new(LazyEmbedder::new(
                model_id,
                dimension,
                fathom_embed::model_languages(&settings.model_dir),
                move || {
                    MiniLmEmbedder::load(config.clone()).map(|e| Arc::new(e) as Arc<dyn Embedder>)
                },
            ))))
        }
        EmbedderKind::Openai => {
            let base_url = settings
                .embed_base_url
                .clone()
                .context("--embedder openai needs --embed-base-url (or FATHOM_EMBED_BASE_URL)")?;
            let dimension = settings
                .embed_dimension
                .context("--embedder openai needs --embed-dimension (or FATHOM_EMBED_DIMENSION)")?;
            let mut config = OpenAiConfig::new(base_url, settings.embed_model.clone());
            config.api_key = settings.embed_api_key.clone();
            config.dimension = Some(dimension);
            config.query_model = settings.embed_query_model.clone();
            config.query_prefix = settings.embed_query_prefix.clone();
            config.document_prefix = settings.embed_document_prefix.clone();
            config.batch_size = settings.embed_batch_size;
            config.timeout = std::time::Duration::from_secs(settings.embed_timeout_secs);
            let embedder = OpenAiEmbedder::connect(config).await?;
            Ok(Some(Arc::new(embedder)))
        }
    }
}

/// The model id and dimension of a model folder, without loading the weights (that waits
/// until something is embedded). Same id as `MiniLmEmbedder::load` gives.
fn probe_model_dir(dir: &Path) -> anyhow::Result<(String, usize)> {
    for file in ["model.safetensors", "tokenizer.json", "config.json"] {
        anyhow::ensure!(
            dir.join(file).is_file(),
            "{} is missing",
            dir.join(file).display()
        );
    }
    let config_path = dir.join("config.json");
    let config: serde_json::Value = serde_json::from_slice(&std::fs::read(&config_path)?)
        .with_context(|| format!("{} is not JSON", config_path.display()))?;
    let dimension = config["hidden_size"]
        .as_u64()
        .with_context(|| format!("{} has no hidden_size", config_path.display()))?;
    let name = dir.file_name().map_or_else(
        || dir.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    Ok((format!("minilm:{name}"), dimension as usize))
}

fn model_hint(dir: &Path) -> String {
    format!(
        "loading the embedding model from {} (run scripts/fetch-model.sh, or use --embedder none for BM25 only)",
        dir.display()
    )
}

type Loader = Box<dyn Fn() -> Result<Arc<dyn Embedder>, EmbedError> + Send + Sync>;

/// Loads the model on first use, so commands that end up embedding nothing (an unchanged
/// re-sync) never pay for it.
pub struct LazyEmbedder {
    model_id: String,
    dimension: usize,
    /// Known before the model loads: the judge asks on every message.
    languages: Option<Vec<String>>,
    loader: Loader,
    inner: OnceCell<Arc<dyn Embedder>>,
}

impl std::fmt::Debug for LazyEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyEmbedder")
            .field("model_id", &self.model_id)
            .field("loaded", &self.inner.initialized())
            .finish()
    }
}

impl LazyEmbedder {
    pub fn new(
        model_id: String,
        dimension: usize,
        languages: Option<Vec<String>>,
        loader: impl Fn() -> Result<Arc<dyn Embedder>, EmbedError> + Send + Sync + 'static,
    ) -> Self {
        Self {
            model_id,
            dimension,
            languages,
            loader: Box::new(loader),
            inner: OnceCell::new(),
        }
    }

    async fn get(&self) -> Result<&Arc<dyn Embedder>, EmbedError> {
        self.inner
            .get_or_try_init(|| async { tokio::task::block_in_place(|| (self.loader)()) })
            .await
    }
}

#[async_trait]
impl Embedder for LazyEmbedder {
    fn model_id(&self) -> &str {
        &self.model_id
    }

    fn dimension(&self) -> usize {
        self.dimension
    }

    fn languages(&self) -> Option<&[String]> {
        self.languages.as_deref()
    }

    async fn embed_documents(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.get().await?.embed_documents(texts).await
    }

    async fn embed_query(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        self.get().await?.embed_query(text).await
    }
}
