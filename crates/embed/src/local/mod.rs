//! Local dense embeddings: a BERT-family sentence-transformers model (all-MiniLM-L6-v2 by default)
//! run in-process on the CPU with candle.
//!
//! The pipeline matches sentence-transformers: word-piece tokenisation truncated to
//! `max_seq_len`, the BERT encoder, mean pooling over the attention mask, L2 normalisation.
//!
//! Speed on CPU comes from three things, measured on a 2-core machine (see the crate README of
//! numbers in `benches/embed.rs`):
//! - texts are sorted by token count before batching, so a batch pads to a similar length;
//! - a call's batches are spread over `threads` OS threads (data parallelism: candle's own
//!   intra-op threading barely helps these small matrices);
//! - everything runs on blocking threads, never on the async runtime.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::Config as BertConfig;
use fathom_core::{EmbedError, Embedder};
use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use encoder::BertEncoder;

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
    /// Texts per forward pass. Default 16.
    pub batch_size: usize,
    /// OS threads one call may use, each running the model on its own share of the batches.
    /// Default: the number of cores (`std::thread::available_parallelism`).
    pub threads: usize,
}

impl MiniLmConfig {
    pub const DEFAULT_MAX_SEQ_LEN: usize = 256;
    pub const DEFAULT_BATCH_SIZE: usize = 16;

    pub fn new(model_dir: impl Into<PathBuf>) -> Self {
        Self {
            model_dir: model_dir.into(),
            max_seq_len: Self::DEFAULT_MAX_SEQ_LEN,
            batch_size: Self::DEFAULT_BATCH_SIZE,
            threads: default_threads(),
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
/// Cheap to clone: clones share the loaded weights.
#[derive(Clone)]
pub struct MiniLmEmbedder {
    model: Arc<LoadedModel>,
    model_id: String,
}

impl std::fmt::Debug for MiniLmEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MiniLmEmbedder")
            .field("model_id", &self.model_id)
            .field("model_dir", &self.model.model_dir)
            .field("dimension", &self.model.dimension)
            .field("max_seq_len", &self.model.max_seq_len)
            .field("batch_size", &self.model.batch_size)
            .field("threads", &self.model.threads)
            .finish_non_exhaustive()
    }
}

impl MiniLmEmbedder {
    /// Loads the model from `config.model_dir`. Blocking (reads ~90 MB); call it at start-up or
    /// from `spawn_blocking`.
    pub fn load(config: MiniLmConfig) -> Result<Self, EmbedError> {
        let model_id = config.model_id();
        let model = LoadedModel::load(config)?;
        Ok(Self {
            model_id,
            model: Arc::new(model),
        })
    }

    /// Embeds on the calling thread (plus `threads - 1` helpers). For synchronous callers such
    /// as command-line tools; async code should use [`Embedder::embed_documents`].
    pub fn embed_blocking(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.model.embed(texts)
    }

    async fn embed_off_runtime(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let model = Arc::clone(&self.model);
        tokio::task::spawn_blocking(move || model.embed(&texts))
            .await
            .map_err(|join_error| {
                EmbedError::Inference(format!("embedding worker thread failed: {join_error}"))
            })?
    }
}

#[async_trait]
impl Embedder for MiniLmEmbedder {
    fn model_id(&self) -> &str {
        &self.model_id
    }

    fn dimension(&self) -> usize {
        self.model.dimension
    }

    async fn embed_documents(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.embed_off_runtime(texts).await
    }

    async fn embed_query(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        let mut vectors = self.embed_off_runtime(vec![text.to_owned()]).await?;
        vectors.pop().ok_or_else(|| {
            EmbedError::Inference("the model returned no vector for the query".into())
        })
    }
}

/// Weights, tokenizer and settings; shared by every thread that embeds.
struct LoadedModel {
    encoder: BertEncoder,
    tokenizer: Tokenizer,
    device: Device,
    model_dir: PathBuf,
    dimension: usize,
    max_seq_len: usize,
    batch_size: usize,
    threads: usize,
    pad_id: u32,
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
            batch_size,
            threads,
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
        if batch_size == 0 {
            return Err(load_error("batch_size must be at least 1".into()));
        }
        if threads == 0 {
            return Err(load_error("threads must be at least 1".into()));
        }

        let bert_config = read_bert_config(&model_dir.join(CONFIG_FILE)).map_err(load_error)?;
        if max_seq_len < MIN_SEQ_LEN || max_seq_len > bert_config.max_position_embeddings {
            return Err(load_error(format!(
                "max_seq_len {max_seq_len} is out of range: this model accepts {MIN_SEQ_LEN} to {} word-pieces",
                bert_config.max_position_embeddings
            )));
        }
        let pad_id = u32::try_from(bert_config.pad_token_id).map_err(|_| {
            load_error(format!(
                "{CONFIG_FILE}: pad_token_id {} is too large",
                bert_config.pad_token_id
            ))
        })?;

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

        tracing::info!(
            model_dir = %model_dir.display(),
            dimension = bert_config.hidden_size,
            max_seq_len,
            batch_size,
            threads,
            "loaded local embedding model"
        );
        Ok(Self {
            encoder,
            tokenizer,
            device,
            model_dir,
            dimension: bert_config.hidden_size,
            max_seq_len,
            batch_size,
            threads,
            pad_id,
        })
    }

    /// Embeds `texts`, returning one unit-length vector per text in input order.
    fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let started = Instant::now();

        let mut tokenized = self.tokenize(texts)?;
        // Longest first: batches pad to similar lengths, and the slowest batches start first so
        // the threads finish together.
        if std::env::var_os("FATHOM_EXPERIMENT_NO_SORT").is_none() {
            tokenized.sort_by_key(|text| std::cmp::Reverse(text.ids.len()));
        } // EXPERIMENT-REMOVE
        let token_count: usize = tokenized.iter().map(|text| text.ids.len()).sum();

        // Small calls are split so every thread gets work: 16 texts on 2 threads → 2 × 8.
        let per_batch = self
            .batch_size
            .min(texts.len().div_ceil(self.threads))
            .max(1);
        let batches: Vec<&[TokenizedText]> = tokenized.chunks(per_batch).collect();
        let batch_vectors = self.run_batches(&batches)?;

        let mut vectors = vec![Vec::new(); texts.len()];
        for (batch, batch_result) in batches.iter().zip(batch_vectors) {
            for (text, vector) in batch.iter().zip(batch_result) {
                vectors[text.position] = vector;
            }
        }

        tracing::debug!(
            text_count = texts.len(),
            token_count,
            batch_count = batches.len(),
            latency_ms = started.elapsed().as_millis() as u64,
            "embedded texts locally"
        );
        Ok(vectors)
    }

    fn tokenize(&self, texts: &[String]) -> Result<Vec<TokenizedText>, EmbedError> {
        texts
            .iter()
            .enumerate()
            .map(|(position, text)| {
                let encoding =
                    self.tokenizer
                        .encode_fast(text.as_str(), true)
                        .map_err(|error| {
                            EmbedError::Inference(format!(
                                "tokenizing text {position} failed: {error}"
                            ))
                        })?;
                Ok(TokenizedText {
                    position,
                    ids: encoding.get_ids().to_vec(),
                })
            })
            .collect()
    }

    /// Runs every batch, on up to `self.threads` threads that take batches in order from a
    /// shared counter. Returns the vectors batch by batch.
    fn run_batches(&self, batches: &[&[TokenizedText]]) -> Result<Vec<Vec<Vec<f32>>>, EmbedError> {
        let thread_count = self.threads.min(batches.len());
        if thread_count <= 1 {
            return batches.iter().map(|batch| self.forward(batch)).collect();
        }

        let next_batch = AtomicUsize::new(0);
        let work = || {
            let mut finished = Vec::new();
            loop {
                let index = next_batch.fetch_add(1, Ordering::Relaxed);
                let Some(batch) = batches.get(index) else {
                    return finished;
                };
                finished.push((index, self.forward(batch)));
            }
        };
        let finished = std::thread::scope(|scope| {
            let helpers: Vec<_> = (1..thread_count).map(|_| scope.spawn(work)).collect();
            let mut finished = work();
            for helper in helpers {
                let helper_finished = helper.join().map_err(|_| {
                    EmbedError::Inference("an embedding worker thread panicked".into())
                })?;
                finished.extend(helper_finished);
            }
            Ok::<_, EmbedError>(finished)
        })?;

        let mut results: Vec<Option<Vec<Vec<f32>>>> = vec![None; batches.len()];
        for (index, outcome) in finished {
            results[index] = Some(outcome?);
        }
        results
            .into_iter()
            .enumerate()
            .map(|(index, vectors)| {
                vectors.ok_or_else(|| {
                    EmbedError::Inference(format!("embedding batch {index} was never run"))
                })
            })
            .collect()
    }

    /// One forward pass: pads the batch to its longest text, runs BERT, mean-pools over real
    /// tokens and L2-normalises.
    fn forward(&self, batch: &[TokenizedText]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let inference_error = |error: candle_core::Error| {
            EmbedError::Inference(format!("model forward pass failed: {error}"))
        };
        let lengths: Vec<usize> = batch.iter().map(|text| text.ids.len()).collect();
        let seq_len = lengths.iter().copied().max().unwrap_or(0);

        let mut input_ids = Vec::with_capacity(batch.len() * seq_len);
        for text in batch {
            input_ids.extend_from_slice(&text.ids);
            input_ids.extend(std::iter::repeat_n(self.pad_id, seq_len - text.ids.len()));
        }
        let input_ids = Tensor::from_vec(input_ids, (batch.len(), seq_len), &self.device)
            .map_err(inference_error)?;

        let hidden_states = self
            .encoder
            .forward(&input_ids, &lengths)
            .and_then(|hidden| hidden.flatten_all())
            .and_then(|hidden| hidden.to_vec1::<f32>())
            .map_err(inference_error)?;
        lengths
            .iter()
            .enumerate()
            .map(|(row, &length)| {
                let text_start = row * seq_len * self.dimension;
                hidden_states
                    .get(text_start..text_start + length * self.dimension)
                    .map(|tokens| mean_pool_and_normalize(tokens, self.dimension))
                    .ok_or_else(|| {
                        EmbedError::Inference(format!(
                            "the encoder returned {} values for {} texts of {seq_len} tokens",
                            hidden_states.len(),
                            batch.len()
                        ))
                    })
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
