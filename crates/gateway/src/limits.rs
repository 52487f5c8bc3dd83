//! Rate limits: per client address (customer API requests per second, conversations started
//! per minute), per customer token (messages per minute) and per workspace (requests per
//! second). A client is limited first, so that one client's flood is refused before it uses up
//! its workspace's share. Exceeding one gives 429 with `Retry-After`.

use std::num::NonZeroU32;

use fathom_conversations::ConversationId;
use fathom_core::WorkspaceId;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::clients::ClientKey;
use crate::config::RateLimits;
use crate::error::ApiError;

pub struct Limiters {
    client: DefaultKeyedRateLimiter<ClientKey>,
    client_conversations: DefaultKeyedRateLimiter<ClientKey>,
    customer: DefaultKeyedRateLimiter<ConversationId>,
    workspace: DefaultKeyedRateLimiter<WorkspaceId>,
    clock: DefaultClock,
}

impl std::fmt::Debug for Limiters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiters").finish_non_exhaustive()
    }
}

impl Limiters {
    pub fn new(limits: &RateLimits) -> Self {
        let per_minute =
            NonZeroU32::new(limits.customer_per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
        let per_second =
            NonZeroU32::new(limits.workspace_per_second.max(1)).unwrap_or(NonZeroU32::MIN);
        let at_least_one = |n: u32| NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
        let client = Quota::per_second(at_least_one(limits.client_per_second))
            .allow_burst(at_least_one(limits.client_burst));
        let conversations = Quota::per_minute(at_least_one(limits.client_conversations_per_minute));
        Self {
            client: RateLimiter::keyed(client),
            client_conversations: RateLimiter::keyed(conversations),
            customer: RateLimiter::keyed(Quota::per_minute(per_minute)),
            workspace: RateLimiter::keyed(Quota::per_second(per_second)),
            clock: DefaultClock::default(),
        }
    }

    /// A client calls the customer API.
    pub fn client(&self, client: ClientKey) -> Result<(), ApiError> {
        self.client.check_key(&client).map_err(|not_until| {
            ApiError::rate_limited(
                self.wait_secs(&not_until),
                "too many requests from this address; slow down",
            )
        })
    }

    /// A client starts a conversation.
    pub fn client_conversation(&self, client: ClientKey) -> Result<(), ApiError> {
        self.client_conversations
            .check_key(&client)
            .map_err(|not_until| {
                ApiError::rate_limited(
                    self.wait_secs(&not_until),
                    "too many conversations started from this address; wait before starting another",
                )
            })
    }

    fn wait_secs(&self, not_until: &governor::NotUntil<<DefaultClock as Clock>::Instant>) -> u64 {
        not_until
            .wait_time_from(self.clock.now())
            .as_secs_f64()
            .ceil() as u64
    }

    /// A customer sends a message (the token is the conversation's, so its id is the key).
    pub fn customer(&self, id: ConversationId) -> Result<(), ApiError> {
        self.customer.check_key(&id).map_err(|not_until| {
            ApiError::rate_limited(
                self.wait_secs(&not_until),
                "too many messages in this conversation; wait before sending another",
            )
        })
    }

    pub fn workspace(&self, workspace: &WorkspaceId) -> Result<(), ApiError> {
        self.workspace.check_key(workspace).map_err(|not_until| {
            ApiError::rate_limited(
                self.wait_secs(&not_until),
                "too many requests for this workspace; slow down",
            )
        })
    }

    /// Forget keys whose limits have fully recovered (keeps memory bounded).
    pub fn forget_idle(&self) {
        self.client.retain_recent();
        self.client_conversations.retain_recent();
        self.customer.retain_recent();
        self.workspace.retain_recent();
    }
}
