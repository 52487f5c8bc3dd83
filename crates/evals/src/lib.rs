//! Eval sets (a folder of `articles/*.md` plus `cases.jsonl`, see `evals/README.md`) and the
//! metrics computed over them: retrieval quality, the answer engine's decisions (resolution,
//! false resolution, clarification, handoff, answer overlap, latency, cost) and the reports
//! (JSON, HTML, comparison with a baseline), and the replay of recorded conversations against
//! the engine as it is now ([`replay`]).

pub mod calibrate;
pub mod compare;
pub mod decisions;
pub mod fit;
pub mod html;
pub mod overlap;
pub mod replay;
pub mod retrieval;
pub mod set;

pub use compare::{compare, Comparison};
pub use decisions::{Pricing, Rate, Report};
pub use retrieval::{evaluate_retrieval, RetrievalCaseResult, RetrievalMetrics};
pub use set::{Case, EvalSet, Expected, SetError};
