//! Local dense embeddings: a BERT-family sentence-transformers model (all-MiniLM-L6-v2 by default)
//! run in-process on the CPU with candle.
//!
//! The pipeline matches sentence-transformers: word-piece tokenisation truncated to
//! `max_seq_len`, the BERT encoder, mean pooling over the text's tokens, L2 normalisation.
//!
//! How it uses the machine (numbers in the README's performance section):
//! - one forward pass runs at a time, on the model's own thread pool (one thread per core), and
//!   uses every thread inside: matrix multiplications, attention (text by text) and the
//!   element-wise kernels are split over the pool. A lone question gets every core, and many
//!   questions at once never oversubscribe them or pile up temporary buffers;
//! - questions are batched dynamically (`batcher`): those that arrive while a pass runs share
//!   the next one, and a full queue is refused with [`EmbedError::Overloaded`];
//! - documents are sorted by length and packed into passes of about `batch_tokens` word-pieces;
//!   the encoder never pads, so mixed lengths cost nothing extra;
//! - everything runs off the async runtime.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;
use candle_core::{DType, Device};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::Config as BertConfig;
use fathom_core::{EmbedError, Embedder};
use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use batcher::QueryBatcher;
pub use batcher::QueryBatching;
use encoder::BertEncoder;

mod batcher;
mod encoder;

/// The files a model directory must hold.
const WEIGHTS_FILE: &str = "model.safetensors";
const TOKENIZER_FILE: &str = "tokenizer.json";
const CONFIG_FILE: &str = "config.json";

/// How to fix a missing or broken model directory.
const FETCH_HINT: &str =
    "run scripts/fetch-model.sh to download all-MiniLM-L6-v2 (FATHOM_MODEL_DIR picks the directory)";

/// Fewer word-pieces than this leaves no room for text next to `[CLS]` and `[SEP]`.
const MIN_SEQ_LEN: usize = 4;

/// Settings for [`MiniLmEmbedder`]. `MiniLmConfig::new(dir)` gives the defaults that match
/// sentence-transformers' all-MiniLM-L6-v2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MiniLmConfig {
    /// Directory holding `model.safetensors`, `tokenizer.json` and `config.json`.
    pub model_dir: PathBuf,
    /// Word-pieces per text, `[CLS]` and `[SEP]` included; longer texts are truncated.
    /// Default 256, sentence-transformers' `max_seq_length` for all-MiniLM-L6-v2.
    pub max_seq_len: usize,
    /// Word-pieces per forward pass when embedding documents (a text longer than this still
    /// gets a pass of its own). Default 4,096: 16 full-length chunks, about 30 MB of
    /// activations.
    pub batch_tokens: usize,
    /// Threads of the model's pool; every forward pass uses all of them.
    /// Default: the number of cores (`std::thread::available_parallelism`).
    pub threads: usize,
    /// How questions (`embed_query`) are batched and queued.
    pub query_batching: QueryBatching,
}

impl MiniLmConfig {
    pub const DEFAULT_MAX_SEQ_LEN: usize = 256;
    pub const DEFAULT_BATCH_TOKENS: usize = 4096;

    pub fn new(model_dir: impl Into<PathBuf>) -> Self {
        Self {
            model_dir: model_dir.into(),
            max_seq_len: Self::DEFAULT_MAX_SEQ_LEN,
            batch_tokens: Self::DEFAULT_BATCH_TOKENS,
            threads: default_threads(),
            query_batching: QueryBatching::default(),
        }
    }

    /// The id [`MiniLmEmbedder`] reports for this model, `minilm:<directory name>`, known
    /// without loading anything.
    pub fn model_id(&self) -> String {
        let dir_name = self.model_dir.file_name().map_or_else(
            || self.model_dir.display().to_string(),
            |name| name.to_string_lossy().into_owned(),
        );
        format!("minilm:{dir_name}")
    }
}

fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// A sentence-transformers BERT model (all-MiniLM-L6-v2 by default) run in-process with candle.
///
/// Cheap to clone: clones share the loaded weights, the thread pool and the query queue.
#[derive(Clone)]
pub struct MiniLmEmbedder {
    model: Arc<LoadedModel>,
    queries: Arc<QueryBatcher>,
    model_id: String,
    languages: Option<Vec<String>>,
}

impl std::fmt::Debug for MiniLmEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MiniLmEmbedder")
            .field("model_id", &self.model_id)
            .field("model_dir", &self.model.model_dir)
            .field("dimension", &self.model.dimension)
            .field("max_seq_len", &self.model.max_seq_len)
            .field("batch_tokens", &self.model.batch_tokens)
            .field("threads", &self.model.pool.current_num_threads())
            .finish_non_exhaustive()
    }
}

impl MiniLmEmbedder {
    /// Loads the model from `config.model_dir` and starts its threads. Blocking (reads
    /// ~90 MB); call it at start-up or from `spawn_blocking`.
    pub fn load(config: MiniLmConfig) -> Result<Self, EmbedError> {
        let model_id = config.model_id();
        let languages = model_languages(&config.model_dir);
        let query_batching = config.query_batching;
        let model = Arc::new(LoadedModel::load(config)?);
        let queries = QueryBatcher::start(Arc::clone(&model), query_batching)?;
        Ok(Self {
            model_id,
            model,
            queries: Arc::new(queries),
            languages,
        })
    }

    /// Embeds on the model's thread pool, blocking the calling thread. For synchronous
    /// callers such as command-line tools; async code should use [`Embedder::embed_documents`].
    pub fn embed_blocking(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.model.embed_documents(texts)
    }
}

#[async_trait]
impl Embedder for MiniLmEmbedder {
    fn model_id(&self) -> &str {
        &self.model_id
    }

    fn languages(&self) -> Option<&[String]> {
        self.languages.as_deref()
    }

    fn dimension(&self) -> usize {
        self.model.dimension
    }

    async fn embed_documents(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let model = Arc::clone(&self.model);
        tokio::task::spawn_blocking(move || model.embed_documents(&texts))
            .await
            .map_err(|join_error| {
                EmbedError::Inference(format!("embedding worker thread failed: {join_error}"))
            })?
    }

    async fn embed_query(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        self.queries.embed(text.to_owned()).await
    }
}

/// Weights, tokenizer, thread pool and settings; shared by every caller.
struct LoadedModel {
    encoder: BertEncoder,
    tokenizer: Tokenizer,
    model_dir: PathBuf,
    dimension: usize,
    max_seq_len: usize,
    batch_tokens: usize,
    /// Runs the forward passes; its threads are the only ones doing model arithmetic.
    pool: rayon::ThreadPool,
    /// Held for the length of one forward pass: one pass at a time, each using the whole
    /// pool, so passes never compete for cores and only one pass's activations exist.
    compute: Mutex<()>,
}

/// One text after tokenisation, remembering where its vector goes.
struct TokenizedText {
    position: usize,
    ids: Vec<u32>,
}

impl LoadedModel {
    fn load(config: MiniLmConfig) -> Result<Self, EmbedError> {
        let MiniLmConfig {
            model_dir,
            max_seq_len,
            batch_tokens,
            threads,
            query_batching,
        } = config;
        let load_error = |reason: String| EmbedError::Load {
            path: model_dir.display().to_string(),
            reason,
        };

        let missing: Vec<&str> = [WEIGHTS_FILE, TOKENIZER_FILE, CONFIG_FILE]
            .into_iter()
            .filter(|file| !model_dir.join(file).is_file())
            .collect();
        if !missing.is_empty() {
            return Err(load_error(format!(
                "missing {}; {FETCH_HINT}",
                missing.join(", ")
            )));
        }
        if batch_tokens == 0 {
            return Err(load_error("batch_tokens must be at least 1".into()));
        }
        if threads == 0 {
            return Err(load_error("threads must be at least 1".into()));
        }
        if query_batching.max_batch == 0 || query_batching.queue_capacity == 0 {
            return Err(load_error(
                "query_batching needs max_batch and queue_capacity of at least 1".into(),
            ));
        }

        let bert_config = read_bert_config(&model_dir.join(CONFIG_FILE)).map_err(load_error)?;
        if max_seq_len < MIN_SEQ_LEN || max_seq_len > bert_config.max_position_embeddings {
            return Err(load_error(format!(
                "max_seq_len {max_seq_len} is out of range: this model accepts {MIN_SEQ_LEN} to {} word-pieces",
                bert_config.max_position_embeddings
            )));
        }
        let tokenizer =
            read_tokenizer(&model_dir.join(TOKENIZER_FILE), max_seq_len).map_err(load_error)?;

        let device = Device::Cpu;
        let weights_path = model_dir.join(WEIGHTS_FILE);
        let weights = std::fs::read(&weights_path)
            .map_err(|error| load_error(format!("cannot read {WEIGHTS_FILE}: {error}")))?;
        let var_builder = VarBuilder::from_buffered_safetensors(weights, DType::F32, &device)
            .map_err(|error| {
                load_error(format!(
                    "{WEIGHTS_FILE} is not a valid safetensors file: {error}; {FETCH_HINT}"
                ))
            })?;
        let encoder = BertEncoder::load(var_builder, &bert_config).map_err(|error| {
            load_error(format!(
                "{WEIGHTS_FILE} does not hold the BERT weights {CONFIG_FILE} describes: {error}"
            ))
        })?;

        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|index| format!("fathom-embed-{index}"))
            .build()
            .map_err(|error| load_error(format!("cannot start {threads} threads: {error}")))?;

        tracing::info!(
            model_dir = %model_dir.display(),
            dimension = bert_config.hidden_size,
            max_seq_len,
            batch_tokens,
            threads,
            query_max_batch = query_batching.max_batch,
            query_queue_capacity = query_batching.queue_capacity,
            "loaded local embedding model"
        );
        Ok(Self {
            encoder,
            tokenizer,
            model_dir,
            dimension: bert_config.hidden_size,
            max_seq_len,
            batch_tokens,
            pool,
            compute: Mutex::new(()),
        })
    }

    /// Embeds `texts` in one forward pass (the query batcher's unit of work), one
    /// unit-length vector per text in input order.
    fn embed_pass(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let started = Instant::now();
        let tokenized = texts
            .iter()
            .enumerate()
            .map(|(position, text)| self.tokenize(position, text))
            .collect::<Result<Vec<_>, _>>()?;
        let refs: Vec<&TokenizedText> = tokenized.iter().collect();
        let vectors = self.forward(&refs)?;
        tracing::debug!(
            text_count = texts.len(),
            latency_ms = started.elapsed().as_secs_f64() * 1000.0,
            "embedded queries locally"
        );
        Ok(vectors)
    }

    /// Embeds `texts` in passes of about `batch_tokens` word-pieces, longest texts first, one
    /// unit-length vector per text in input order.
    fn embed_documents(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let started = Instant::now();
        let mut tokenized = texts
            .iter()
            .enumerate()
            .map(|(position, text)| self.tokenize(position, text))
            .collect::<Result<Vec<_>, _>>()?;
        // Similar lengths together keep attention's per-text work even across the pool.
        tokenized.sort_by_key(|text| std::cmp::Reverse(text.ids.len()));
        let token_count: usize = tokenized.iter().map(|text| text.ids.len()).sum();

        let mut vectors = vec![Vec::new(); texts.len()];
        let mut pass_count = 0;
        let mut pass: Vec<&TokenizedText> = Vec::new();
        let mut pass_tokens = 0;
        for (index, text) in tokenized.iter().enumerate() {
            pass.push(text);
            pass_tokens += text.ids.len();
            let next_fits = tokenized
                .get(index + 1)
                .is_some_and(|next| pass_tokens + next.ids.len() <= self.batch_tokens);
            if next_fits {
                continue;
            }
            for (text, vector) in pass.iter().zip(self.forward(&pass)?) {
                vectors[text.position] = vector;
            }
            pass_count += 1;
            pass.clear();
            pass_tokens = 0;
        }

        tracing::debug!(
            text_count = texts.len(),
            token_count,
            pass_count,
            latency_ms = started.elapsed().as_secs_f64() * 1000.0,
            "embedded documents locally"
        );
        Ok(vectors)
    }

    fn tokenize(&self, position: usize, text: &str) -> Result<TokenizedText, EmbedError> {
        let encoding = self.tokenizer.encode_fast(text, true).map_err(|error| {
            EmbedError::Inference(format!("tokenizing text {position} failed: {error}"))
        })?;
        Ok(TokenizedText {
            position,
            ids: encoding.get_ids().to_vec(),
        })
    }

    /// One forward pass on the pool, waiting for any other pass to finish first: BERT over the
    /// packed texts, then mean pooling over each text's tokens and L2 normalisation.
    fn forward(&self, texts: &[&TokenizedText]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let inference_error = |error: candle_core::Error| {
            EmbedError::Inference(format!("model forward pass failed: {error}"))
        };
        let ids: Vec<&[u32]> = texts.iter().map(|text| text.ids.as_slice()).collect();
        let hidden_states = {
            // A poisoned lock only means another pass panicked; the weights are read-only.
            let _one_pass_at_a_time = self
                .compute
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            self.pool
                .install(|| {
                    self.encoder
                        .forward(&ids)
                        .and_then(|hidden| hidden.flatten_all())
                        .and_then(|hidden| hidden.to_vec1::<f32>())
                })
                .map_err(inference_error)?
        };
        let mut start = 0;
        texts
            .iter()
            .map(|text| {
                let end = start + text.ids.len() * self.dimension;
                let tokens = hidden_states.get(start..end).ok_or_else(|| {
                    EmbedError::Inference(format!(
                        "the encoder returned {} values for {} texts",
                        hidden_states.len(),
                        texts.len()
                    ))
                })?;
                start = end;
                Ok(mean_pool_and_normalize(tokens, self.dimension))
            })
            .collect()
    }
}

/// Averages `tokens` (consecutive vectors of `dimension` values) and scales the result to
/// unit length, as sentence-transformers' Pooling(mean) + Normalize do. Summing is enough:
/// dividing by the token count does not change the direction.
fn mean_pool_and_normalize(tokens: &[f32], dimension: usize) -> Vec<f32> {
    let mut pooled = vec![0.0f32; dimension];
    for token in tokens.chunks_exact(dimension) {
        for (sum, value) in pooled.iter_mut().zip(token) {
            *sum += value;
        }
    }
    // The floor is torch.nn.functional.normalize's epsilon, for an all-zero sum.
    let norm = pooled
        .iter()
        .map(|value| value * value)
        .sum::<f32>()
        .sqrt()
        .max(1e-12);
    pooled.iter_mut().for_each(|value| *value /= norm);
    pooled
}

/// The languages a BERT model can represent, judged by its vocabulary: English sentence models
/// (all-MiniLM-L6-v2 and most sentence-transformers) keep bert-base's ~30,000 English
/// word-pieces, which spell other scripts as unknown tokens; multilingual ones (mBERT's 119,547,
/// XLM-R's 250,002, LaBSE's 501,153) have several times more. `None`: many languages.
fn trained_languages(vocab_size: usize) -> Option<Vec<String>> {
    (vocab_size < 60_000).then(|| vec!["en".to_string()])
}

/// The languages the model in `model_dir` was trained for (see [`trained_languages`]), read from
/// its `config.json` without loading the weights: for wrappers that load the model lazily but
/// must answer [`Embedder::languages`](fathom_core::Embedder::languages) from the start.
pub fn model_languages(model_dir: &Path) -> Option<Vec<String>> {
    read_bert_config(&model_dir.join(CONFIG_FILE))
        .ok()
        .and_then(|bert| trained_languages(bert.vocab_size))
}

fn read_bert_config(path: &Path) -> Result<BertConfig, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("cannot read {CONFIG_FILE}: {error}"))?;
    serde_json::from_str(&text)
        .map_err(|error| format!("{CONFIG_FILE} is not a BERT config: {error}"))
}

/// Loads the tokenizer with our truncation and no padding: `tokenizer.json` files often carry
/// the training-time settings (all-MiniLM-L6-v2's pads everything to 128), and we pad per batch.
fn read_tokenizer(path: &Path, max_seq_len: usize) -> Result<Tokenizer, String> {
    let mut tokenizer = Tokenizer::from_file(path)
        .map_err(|error| format!("{TOKENIZER_FILE} cannot be parsed: {error}"))?;
    tokenizer.with_padding(None);
    tokenizer
        .with_truncation(Some(TruncationParams {
            max_length: max_seq_len,
            strategy: TruncationStrategy::LongestFirst,
            stride: 0,
            direction: TruncationDirection::Right,
        }))
        .map_err(|error| {
            format!("cannot truncate {TOKENIZER_FILE} to {max_seq_len} word-pieces: {error}")
        })?;
    Ok(tokenizer)
}
