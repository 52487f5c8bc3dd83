//! Eval sets (a folder of `articles/*.md` plus `cases.jsonl`, see `evals/README.md`) and the
//! metrics computed over them.

pub mod decisions;
pub mod retrieval;
pub mod set;

pub use retrieval::{evaluate_retrieval, RetrievalCaseResult, RetrievalMetrics};
pub use set::{Case, EvalSet, Expected, SetError};
