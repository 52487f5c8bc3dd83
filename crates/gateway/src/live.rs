//! Live updates of a conversation (new messages, state changes) for the customer's SSE stream,
//! whichever gateway made the change. Handlers do not publish: the store announces every
//! committed change ([`fathom_conversations::ChangeNotice`]; on Postgres every gateway hears every
//! other's through `LISTEN/NOTIFY`), and [`follow_changes`] re-reads the conversations someone
//! here follows and publishes what is new since the last look: messages past the last seq
//! published, and the state when it changed. One task publishes, in store order, so a follower
//! never sees a message twice or out of order.

use std::collections::HashMap;
use std::sync::Mutex;

use fathom_conversations::{
    ChangeNotice, ConversationId, ConversationState, StoredConversation, StoredMessage,
};
use fathom_core::WorkspaceId;
use tokio::sync::{broadcast, watch};

use crate::state::AppState;
use crate::views::{LiveEvent, MessageView};

/// Events kept for a slow SSE client before it is told it lagged.
const CHANNEL_CAPACITY: usize = 64;

#[derive(Debug, Default)]
pub struct LiveHub {
    channels: Mutex<HashMap<ConversationId, Channel>>,
}

#[derive(Debug)]
struct Channel {
    sender: broadcast::Sender<LiveEvent>,
    workspace: WorkspaceId,
    /// The last message seq published (or already known when the first follower came).
    seen_seq: i64,
    state: ConversationState,
}

impl LiveHub {
    /// Follow a conversation from where the caller read it: `transcript` is what it has seen.
    pub fn subscribe(
        &self,
        conversation: &StoredConversation,
        transcript: &[StoredMessage],
    ) -> broadcast::Receiver<LiveEvent> {
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        channels
            .entry(conversation.id)
            .or_insert_with(|| Channel {
                sender: broadcast::channel(CHANNEL_CAPACITY).0,
                workspace: conversation.workspace.clone(),
                seen_seq: transcript.last().map_or(0, |m| m.seq),
                state: conversation.state,
            })
            .sender
            .subscribe()
    }

    /// The workspace of a conversation someone here follows; forgets channels nobody listens to.
    fn followed(&self, id: ConversationId) -> Option<WorkspaceId> {
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        let channel = channels.get(&id)?;
        if channel.sender.receiver_count() == 0 {
            channels.remove(&id);
            return None;
        }
        Some(channel.workspace.clone())
    }

    /// Every followed conversation (after a missed notice).
    fn all_followed(&self) -> Vec<ConversationId> {
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        channels.retain(|_, channel| channel.sender.receiver_count() > 0);
        channels.keys().copied().collect()
    }

    /// Publish what `conversation` and its `transcript` hold that the followers have not seen.
    fn catch_up(&self, conversation: &StoredConversation, transcript: &[StoredMessage]) {
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        let Some(channel) = channels.get_mut(&conversation.id) else {
            return;
        };
        let seen = channel.seen_seq;
        for message in transcript.iter().filter(|m| m.seq > seen) {
            let _ = channel.sender.send(LiveEvent::Message {
                message: MessageView::from(message),
            });
            channel.seen_seq = message.seq;
        }
        if conversation.state != channel.state {
            channel.state = conversation.state;
            let _ = channel.sender.send(LiveEvent::State {
                state: conversation.state,
            });
        }
    }

    fn forget(&self, id: ConversationId) {
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        channels.remove(&id);
    }
}

/// Publish every followed conversation's changes until `stop` turns true.
pub async fn follow_changes(state: AppState, mut stop: watch::Receiver<bool>) {
    let mut notices = state.store.changes().subscribe();
    loop {
        let notice = tokio::select! {
            notice = notices.recv() => notice,
            _ = stop.changed() => return,
        };
        match notice {
            Ok(ChangeNotice::Changed(id)) => refresh(&state, id).await,
            Ok(ChangeNotice::Missed) | Err(broadcast::error::RecvError::Lagged(_)) => {
                for id in state.live.all_followed() {
                    refresh(&state, id).await;
                }
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// Re-read one conversation if someone here follows it, and publish what is new.
async fn refresh(state: &AppState, id: ConversationId) {
    let Some(workspace) = state.live.followed(id) else {
        return;
    };
    let read = async {
        let conversation = state.store.get(&workspace, id).await?;
        let transcript = state.store.messages(id).await?;
        Ok::<_, fathom_conversations::StoreError>((conversation, transcript))
    };
    match read.await {
        Ok((Some(conversation), transcript)) => state.live.catch_up(&conversation, &transcript),
        Ok((None, _)) => state.live.forget(id),
        Err(error) => {
            tracing::warn!(%error, conversation_id = %id, "reading a changed conversation for its live followers failed")
        }
    }
}
