//! The gateway: the HTTP service customers and helpdesks talk to.
//!
//! - customer chat API ([`routes::customer`]): conversations, messages answered by the
//!   [`fathom_answer::AnswerEngine`] (JSON or SSE), transcripts, feedback;
//! - the handoff ([`handoff`]): when the engine hands off, the conversation becomes `handed_off`,
//!   the bot falls silent, and `conversation.*` events go to the workspace's helpdesk through the
//!   durable outbox ([`outbox`]);
//! - the helpdesks ([`helpdesk`]: Standard Webhooks, Chatwoot, django-helpdesk, Zendesk), each
//!   behind the [`helpdesk::Helpdesk`] trait: outbound delivery, inbound webhooks
//!   ([`routes::helpdesk`]: agent replies, resolve, close, return to bot), and the mapping of
//!   their ids to Fathom's conversations;
//! - admin API per workspace ([`routes::admin`]); `/healthz`, `/readyz`, `/metrics`,
//!   `/openapi.json` ([`routes::ops`]).
//!
//! [`router`] builds the routes; [`Application`] binds a listener, serves them and runs the
//! outbox worker, with graceful shutdown.

pub mod clients;
pub mod config;
pub mod connection;
pub mod error;
pub mod handoff;
pub mod helpdesk;
pub mod json;
pub mod limits;
pub mod live;
pub mod outbox;
pub mod path;
pub mod routes;
pub mod signing;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod views;

pub use config::{
    AttributeLimits, ChatwootConfig, ClientAddresses, ConnectionLimits, DjangoHelpdeskConfig,
    GatewayConfig, OutboxConfig, RateLimits, Secret, WebhookEndpoint, WorkspaceConfig,
    ZendeskConfig,
};
pub use routes::router;
pub use signing::WebhookSecret;
pub use startup::Application;
pub use state::{AppState, Dependencies, Knowledge};
