//! Live updates of a conversation (new messages, state changes) for the customer's SSE stream.
//! In-process only: a customer connected to another gateway replica sees them on its next GET.

use std::collections::HashMap;
use std::sync::Mutex;

use fathom_conversations::ConversationId;
use tokio::sync::broadcast;

use crate::views::LiveEvent;

#[derive(Debug, Default)]
pub struct LiveHub {
    channels: Mutex<HashMap<ConversationId, broadcast::Sender<LiveEvent>>>,
}

impl LiveHub {
    pub fn subscribe(&self, id: ConversationId) -> broadcast::Receiver<LiveEvent> {
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        channels
            .entry(id)
            .or_insert_with(|| broadcast::channel(64).0)
            .subscribe()
    }

    pub fn publish(&self, id: ConversationId, event: LiveEvent) {
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(sender) = channels.get(&id) {
            if sender.send(event).is_err() {
                // Nobody listens any more.
                channels.remove(&id);
            }
        }
    }
}
