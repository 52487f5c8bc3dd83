//! The gateway over real HTTP on loopback: real answer engine (extractive, BM25), real SQLite,
//! real webhook receiver. One binary, a module per feature.

mod admin;
mod chat;
mod chatwoot;
mod chatwoot_payloads;
mod console;
mod django_helpdesk;
mod errors;
mod handoff;
mod helpers;
mod hostile;
mod inbound;
mod isolation;
mod ops;
mod restart;
mod zendesk;
#[path = "../support/zendesk_stub.rs"]
mod zendesk_stub;
