//! Where conversations live: each workspace's conversations, their messages with the bot's
//! decisions (reason, confidence, citations, evidence ids), the customers' feedback, and the
//! **outbox**: events for the helpdesk, written in the same transaction as the change they
//! report and delivered later by the gateway's worker.
//!
//! The storage contract is split by job, one small trait each:
//! - [`ConversationStore`]: conversations, their transcripts and atomic [`Change`]s;
//! - [`ConversationReports`]: what the admin API and the support-lead console read (counts,
//!   recent activity with transcripts and feedback); the analytics over it live with the console;
//! - [`OutboxStore`]: claiming, retrying and settling the events for the helpdesk;
//! - [`HelpdeskLinks`]: which conversation in another system is which of ours.
//!
//! A backend implements all four; [`Stores`] hands each caller the part it needs. [`SqliteStore`]
//! is the embedded default (WAL mode, one writer and a pool of readers on tokio's blocking pool).
//! The traits speak in whole changes rather than SQL so that every backend drops in without
//! touching callers; the shared contract tests (`tests/contract.rs`) run against every backend
//! available. Each backend's schema is versioned ([`migrate`]).

mod changes;
mod database;
pub mod migrate;
mod model;
mod postgres;
mod rows;
mod sqlite;
#[doc(hidden)]
pub mod testing;
pub mod transfer;

use std::sync::Arc;

use async_trait::async_trait;
use fathom_core::{CustomerAttributes, WorkspaceId};

pub use changes::{ChangeFeed, ChangeNotice};
pub use database::Database;
pub use model::{
    Applied, Change, ConversationActivity, ConversationId, ConversationState, DecisionRecord,
    FeedbackRecord, ListQuery, MessageRole, NewEvent, NewFeedback, NewMessage, OutboxEvent,
    OutboxStatus, Pruned, Rating, StoredConversation, StoredMessage, TokenHash, WorkspaceStats,
};
pub use postgres::{PostgresOptions, PostgresStore, PostgresTlsError};
pub use sqlite::SqliteStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("conversation {0} not found")]
    NotFound(ConversationId),
    #[error("conversation {id} is {actual}, expected one of {expected:?}")]
    StateConflict {
        id: ConversationId,
        actual: ConversationState,
        expected: Vec<ConversationState>,
    },
    #[error("outbox event {0} not found")]
    EventNotFound(String),
    #[error("conversation store at {path} could not be opened: {reason}")]
    Open { path: String, reason: String },
    /// The database's schema cannot be brought to what this build expects (see [`migrate`]).
    #[error("conversation store schema: {0}")]
    Schema(#[from] migrate::SchemaError),
    /// The Postgres URL's TLS settings cannot be used, or the server's certificate fails them.
    #[error("conversation store tls: {0}")]
    Tls(#[from] PostgresTlsError),
    #[error("conversation store operation {operation} failed: {reason}")]
    Backend {
        operation: &'static str,
        reason: String,
    },
}

impl StoreError {
    /// A stable, machine-readable code for logs and API errors.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound(_) => "conversation_not_found",
            Self::StateConflict { .. } => "state_conflict",
            Self::EventNotFound(_) => "outbox_event_not_found",
            Self::Open { .. } => "store_unavailable",
            Self::Schema(error) => error.code(),
            Self::Tls(error) => error.code(),
            Self::Backend { .. } => "store_error",
        }
    }
}

/// Every workspace's conversations. Every read that a tenant can trigger is scoped to a
/// workspace; ids from another workspace behave exactly like ids that do not exist.
#[async_trait]
pub trait ConversationStore: Send + Sync + std::fmt::Debug {
    async fn create(
        &self,
        workspace: &WorkspaceId,
        customer: CustomerAttributes,
        token_hash: TokenHash,
    ) -> Result<StoredConversation, StoreError>;

    /// The conversation if it exists in this workspace.
    async fn get(
        &self,
        workspace: &WorkspaceId,
        id: ConversationId,
    ) -> Result<Option<StoredConversation>, StoreError>;

    /// The conversation if `token_hash` is its customer's token.
    async fn get_for_customer(
        &self,
        id: ConversationId,
        token_hash: &TokenHash,
    ) -> Result<Option<StoredConversation>, StoreError>;

    /// The transcript, oldest first. Not scoped: callers look the conversation up with
    /// [`ConversationStore::get`] or [`ConversationStore::get_for_customer`] first.
    async fn messages(&self, id: ConversationId) -> Result<Vec<StoredMessage>, StoreError>;

    /// Apply a change atomically: messages, state, feedback and outbox events together. Changes
    /// to one conversation are serialised, also across processes sharing the database.
    async fn apply(
        &self,
        workspace: &WorkspaceId,
        id: ConversationId,
        change: Change,
    ) -> Result<Applied, StoreError>;

    /// Newest first.
    async fn list(
        &self,
        workspace: &WorkspaceId,
        query: ListQuery,
    ) -> Result<Vec<StoredConversation>, StoreError>;

    /// Cheap liveness check of the backend.
    async fn ping(&self) -> Result<(), StoreError>;

    /// The conversations changed by [`ConversationStore::apply`], in this process and (for a
    /// shared database) in every other process using the same database.
    fn changes(&self) -> ChangeFeed;
}

/// What the admin API and the support-lead console read. Each call is one consistent snapshot.
#[async_trait]
pub trait ConversationReports: Send + Sync + std::fmt::Debug {
    async fn stats(&self, workspace: &WorkspaceId) -> Result<WorkspaceStats, StoreError>;

    /// A conversation's feedback, oldest first. Not scoped, like [`ConversationStore::messages`].
    async fn feedback(&self, id: ConversationId) -> Result<Vec<FeedbackRecord>, StoreError>;

    /// The workspace's conversations created at or after `since_ms`, newest first, at most
    /// `limit`, each with its transcript and feedback (what the support-lead console reads).
    async fn activity(
        &self,
        workspace: &WorkspaceId,
        since_ms: i64,
        limit: usize,
    ) -> Result<Vec<ConversationActivity>, StoreError>;
}

/// The delivery side of the outbox (events are written by [`ConversationStore::apply`]).
/// Several deliverers may share one store: a claimed event is leased to one of them.
#[async_trait]
pub trait OutboxStore: Send + Sync + std::fmt::Debug {
    /// Take up to `limit` pending events due at `now_ms` for delivery: each counts an attempt and
    /// is hidden from other claims for `lease_ms` (if the deliverer dies, it comes back then).
    /// A conversation's events go out in order: one waits while an earlier one of the same
    /// conversation is still pending (delivered or dead ones no longer hold it back).
    async fn claim_due(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: usize,
    ) -> Result<Vec<OutboxEvent>, StoreError>;

    /// The earliest `next_attempt_at` of pending events, if any.
    async fn next_due_at(&self) -> Result<Option<i64>, StoreError>;

    async fn mark_delivered(&self, event_id: &str, now_ms: i64) -> Result<(), StoreError>;

    async fn schedule_retry(
        &self,
        event_id: &str,
        next_attempt_at_ms: i64,
        error: &str,
    ) -> Result<(), StoreError>;

    async fn mark_dead(&self, event_id: &str, error: &str) -> Result<(), StoreError>;

    /// A workspace's events, oldest first (for operators and tests).
    async fn outbox(&self, workspace: &WorkspaceId) -> Result<Vec<OutboxEvent>, StoreError>;

    /// Remember that an endpoint answered 410 Gone: nothing more is sent to it.
    async fn disable_endpoint(
        &self,
        workspace: &WorkspaceId,
        url: &str,
        reason: &str,
    ) -> Result<(), StoreError>;

    async fn endpoint_disabled(
        &self,
        workspace: &WorkspaceId,
        url: &str,
    ) -> Result<bool, StoreError>;

    /// Forget what no longer needs keeping: events delivered before `delivered_before_ms`, and
    /// inbound delivery ids received before `inbound_before_ms` (a sender retrying the same id
    /// after that would get through again, so keep them longer than any sender retries).
    /// Pending and dead events always stay.
    async fn prune(
        &self,
        delivered_before_ms: i64,
        inbound_before_ms: i64,
    ) -> Result<Pruned, StoreError>;
}

/// Conversations tied to their ids in a helpdesk (`source` = `chatwoot`, external id =
/// `<account>:<conversation>`).
#[async_trait]
pub trait HelpdeskLinks: Send + Sync + std::fmt::Debug {
    /// Tie a conversation to its id in another system. Returns the conversation already tied to
    /// it, if any: the first link wins, so two concurrent first messages end up in one
    /// conversation.
    async fn link_external(
        &self,
        workspace: &WorkspaceId,
        source: &str,
        external_id: &str,
        id: ConversationId,
    ) -> Result<ConversationId, StoreError>;

    async fn find_external(
        &self,
        workspace: &WorkspaceId,
        source: &str,
        external_id: &str,
    ) -> Result<Option<ConversationId>, StoreError>;

    /// The reverse of [`HelpdeskLinks::find_external`]: the id in `source` tied to this
    /// conversation (the first one linked, if several are).
    async fn external_id_of(
        &self,
        workspace: &WorkspaceId,
        source: &str,
        id: ConversationId,
    ) -> Result<Option<String>, StoreError>;
}

/// Everything one backend implements.
pub trait Backend: ConversationStore + ConversationReports + OutboxStore + HelpdeskLinks {}

impl<T: ConversationStore + ConversationReports + OutboxStore + HelpdeskLinks> Backend for T {}

/// One database, seen through the trait each caller needs.
#[derive(Debug, Clone)]
pub struct Stores {
    pub conversations: Arc<dyn ConversationStore>,
    pub reports: Arc<dyn ConversationReports>,
    pub outbox: Arc<dyn OutboxStore>,
    pub links: Arc<dyn HelpdeskLinks>,
}

impl Stores {
    pub fn new(backend: impl Backend + 'static) -> Self {
        let backend = Arc::new(backend);
        Self {
            conversations: backend.clone(),
            reports: backend.clone(),
            outbox: backend.clone(),
            links: backend,
        }
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
