//! Rate limits: per customer token (messages per minute) and per workspace (requests per
//! second). Exceeding one gives 429 with `Retry-After`.

use std::num::NonZeroU32;

use fathom_conversations::ConversationId;
use fathom_core::WorkspaceId;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::RateLimits;
use crate::error::ApiError;

pub struct Limiters {
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
        Self {
            customer: RateLimiter::keyed(Quota::per_minute(per_minute)),
            workspace: RateLimiter::keyed(Quota::per_second(per_second)),
            clock: DefaultClock::default(),
        }
    }

    /// A customer sends a message (the token is the conversation's, so its id is the key).
    pub fn customer(&self, id: ConversationId) -> Result<(), ApiError> {
        self.customer.check_key(&id).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            ApiError::rate_limited(
                wait.as_secs_f64().ceil() as u64,
                "too many messages in this conversation; wait before sending another",
            )
        })
    }

    pub fn workspace(&self, workspace: &WorkspaceId) -> Result<(), ApiError> {
        self.workspace.check_key(workspace).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            ApiError::rate_limited(
                wait.as_secs_f64().ceil() as u64,
                "too many requests for this workspace; slow down",
            )
        })
    }

    /// Forget keys whose limits have fully recovered (keeps memory bounded).
    pub fn forget_idle(&self) {
        self.customer.retain_recent();
        self.workspace.retain_recent();
    }
}
