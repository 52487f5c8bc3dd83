//! Checks on the customer's input, run before retrieval or any model sees it.
//!
//! - [`limits`](InputLimits): refuse messages and histories too large to handle.
//! - [`pii`](Redactor): replace emails, phone numbers, card numbers, IBANs and secrets with
//!   numbered placeholders (`[EMAIL_1]`) before text reaches a log or a model, and put the
//!   customer's own values back into the reply with [`restore`].
//! - [`injection`](detect_injection): spot attempts to override the bot's instructions.
//! - [`intent`](wants_human): explicit requests for a human, frustration, asking the same again.
//!
//! Everything here is pure and synchronous: plain functions over `&str`, cheap enough (linear
//! regex scans over at most a few thousand characters) to call on the request path.
//!
//! Order matters in one place: run [`detect_injection`] on the raw message, *before* redaction,
//! because redaction replaces long encoded blobs with `[SECRET_n]` and would hide an encoded
//! payload from the detector.

mod injection;
mod intent;
mod limits;
mod pii;
mod text;

pub use injection::{detect_injection, InjectionKind, InjectionSignal};
pub use intent::{
    frustration, is_repeated_question, wants_human, FrustrationKind, FrustrationSignal,
};
pub use limits::{check_limits, InputLimits, LimitError};
pub use pii::{redact, redact_for_log, restore, PiiEntity, PiiKind, Redacted, Redactor};
