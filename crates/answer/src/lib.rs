//! The answer engine: from a customer's conversation to a decision — answer, ask a clarifying
//! question, or hand off to a human — with the reason, the evidence and the timings.
//!
//! The pipeline, one module a step:
//! - [`guardrails`]: checks on the customer's input before anything else sees it: size limits,
//!   PII redaction, prompt-injection detection and intent signals (wants a human, frustrated,
//!   asking again);
//! - query understanding and retrieval ([`fathom_retrieve`]);
//! - [`judge`]: is the evidence good enough to answer?
//! - [`extractive`] (the default) or [`generate`] + [`llm`] (any OpenAI-compatible model);
//! - [`support`]: output guardrails, every citation retrieved and every sentence supported;
//! - [`engine`]: the whole, as one `decide` call or a stream of events.

pub mod answerability;
pub mod engine;
pub mod extractive;
pub mod generate;
pub mod guardrails;
pub mod judge;
pub mod lexical;
pub mod llm;
pub mod prompts;
pub mod support;

pub use engine::{AnswerConfig, AnswerEngine, BlockedTopic, Inspection, Probed, RetrievalHealth};
pub use generate::{Generated, Generator, LlmGenerator, DEFAULT_SOURCE_TOKENS};
pub use judge::JudgeConfig;
pub use llm::{ChatMessage, LlmConfig, LlmError, OpenAiChat};
pub use prompts::{PromptLibrary, Prompts, Replies, Reply};
