//! The handoff, between the customer, the bot and the people behind a helpdesk:
//!
//! - [`turn`]: one turn (the customer's message and the bot's answer, or its handoff) stored with
//!   the events the helpdesk must hear about, in one transaction; turns a helpdesk delivered are
//!   answered by the outbox worker, never inside the helpdesk's request;
//! - [`events`]: the `conversation.*` events the helpdesk receives (handoff, message, resolved);
//! - [`inbound`]: what a helpdesk says happened (an agent replied, resolved, closed, gave the
//!   conversation back), in Fathom's terms, and applying it.
//!
//! Nothing here knows a helpdesk's wire format: that is [`crate::helpdesk`]'s job.

pub mod events;
pub mod inbound;
pub mod turn;

pub use inbound::{apply, Action, Inbound, Outcome, Reference};
pub use turn::{QueuedTurn, TURN_EVENT};
