//! The CLI beside a running `fathom serve`.
//!
//! The embedded index (qdrant-edge) admits one process, so while `fathom serve` holds a data dir
//! no other process can open it. Instead:
//!
//! - `fathom serve` records itself in the data dir ([`record`]): `server.json` (pid, address,
//!   the URL to reach it) and `server.token`, a per-run secret readable by its owner only;
//! - it serves the CLI's own commands ([`api`]) under `/v1/local/`, behind that token;
//! - `fathom search`, `ask`, `status` and `ingest` find the record (or `--server`) and go
//!   through the server ([`client`]), with the same output as when they open the index
//!   themselves: both paths run the same code, in one process or the other.

pub mod api;
pub mod client;
pub mod record;

pub use client::connect;
pub use record::ServerRecord;
