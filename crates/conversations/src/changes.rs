//! Which conversations changed, as every process sharing the database hears it. A gateway
//! follows this feed to push live updates to the customers connected to it, whichever gateway
//! made the change: SQLite announces the changes of this process; Postgres announces every
//! gateway's through `LISTEN/NOTIFY`.

use tokio::sync::broadcast;

use crate::model::ConversationId;

/// Notices kept for a slow follower before it is told it missed some.
const CAPACITY: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeNotice {
    /// A change to this conversation was committed.
    Changed(ConversationId),
    /// Notices may have been lost (the listener reconnected, or the follower fell behind):
    /// re-read every conversation you follow.
    Missed,
}

#[derive(Debug, Clone)]
pub struct ChangeFeed(broadcast::Sender<ChangeNotice>);

impl Default for ChangeFeed {
    fn default() -> Self {
        Self(broadcast::channel(CAPACITY).0)
    }
}

impl ChangeFeed {
    pub fn subscribe(&self) -> broadcast::Receiver<ChangeNotice> {
        self.0.subscribe()
    }

    /// Tell the followers (nobody following is fine).
    pub fn announce(&self, notice: ChangeNotice) {
        let _ = self.0.send(notice);
    }
}
