//! Embedders: text → vectors, the step between chunks and the vector store.
//!
//! Three backends implement `fathom_core`'s traits:
//! - [`MiniLmEmbedder`] (dense, the default): a sentence-transformers BERT model such as
//!   all-MiniLM-L6-v2, run in-process on the CPU with candle. Needs a model directory; fetch
//!   one with `scripts/fetch-model.sh`.
//! - [`OpenAiEmbedder`] (dense): any OpenAI-compatible `/v1/embeddings` endpoint.
//! - [`Bm25Embedder`] (sparse): BM25 over `fathom-text`'s analysis in any language, for the lexical half
//!   of hybrid search.
//!
//! Dense embedders keep CPU work and network waits off the async runtime's worker threads.

mod bm25;
mod local;
mod openai;

pub use bm25::{Bm25Config, Bm25Embedder};
pub use local::{model_languages, MiniLmConfig, MiniLmEmbedder, QueryBatching};
pub use openai::{OpenAiConfig, OpenAiEmbedder};
