//! Dynamic batching of query embeddings, as inference servers do it.
//!
//! Every `embed_query` call puts its text on one bounded queue and waits. One worker thread
//! takes what is queued, up to `max_batch` texts (waiting at most `max_wait` for more when the
//! queue runs dry), embeds them in one forward pass on the model's thread pool, and replies to
//! each caller. So:
//! - under load, questions that arrive together share one pass over the weights, which is
//!   what a short query's cost is made of;
//! - one pass runs at a time, so memory stays flat however many conversations are open;
//! - when the queue is full, a caller gets [`EmbedError::Overloaded`] at once instead of
//!   waiting without bound.
//!
//! With one question at a time and `max_wait` zero, a question goes straight into a pass of
//! its own: batching costs a lone caller nothing.

use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fathom_core::EmbedError;
use tokio::sync::oneshot;

use super::LoadedModel;

/// How queries are batched. `Default` suits a 2-core machine serving a few hundred open
/// conversations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryBatching {
    /// Most queries embedded in one forward pass. Default 64.
    pub max_batch: usize,
    /// How long the worker waits for more queries once the queue is empty, before running a
    /// pass that is not full. Default zero: under load the queue fills while the previous
    /// pass runs, so waiting only adds latency.
    pub max_wait: Duration,
    /// Queries that may wait at once; one more is refused with [`EmbedError::Overloaded`].
    /// Default 1,024.
    pub queue_capacity: usize,
}

impl Default for QueryBatching {
    fn default() -> Self {
        Self {
            max_batch: 64,
            max_wait: Duration::ZERO,
            queue_capacity: 1024,
        }
    }
}

/// A query waiting for its vector.
struct Job {
    text: String,
    reply: oneshot::Sender<Result<Vec<f32>, EmbedError>>,
}

/// The callers' side of the queue. Dropping the last one stops the worker thread.
pub(super) struct QueryBatcher {
    queue: SyncSender<Job>,
    capacity: usize,
}

impl QueryBatcher {
    /// Starts the worker thread.
    pub(super) fn start(
        model: Arc<LoadedModel>,
        batching: QueryBatching,
    ) -> Result<Self, EmbedError> {
        let (queue, jobs) = sync_channel(batching.queue_capacity);
        std::thread::Builder::new()
            .name("fathom-embed-queries".into())
            .spawn(move || run_worker(&model, &jobs, batching))
            .map_err(|error| {
                EmbedError::Inference(format!("cannot start the query embedding thread: {error}"))
            })?;
        Ok(Self {
            queue,
            capacity: batching.queue_capacity,
        })
    }

    /// Queues `text` and waits for its vector; refuses at once when the queue is full.
    pub(super) async fn embed(&self, text: String) -> Result<Vec<f32>, EmbedError> {
        let (reply, vector) = oneshot::channel();
        match self.queue.try_send(Job { text, reply }) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                return Err(EmbedError::Overloaded {
                    queued: self.capacity,
                })
            }
            Err(TrySendError::Disconnected(_)) => {
                return Err(EmbedError::Inference(
                    "the query embedding thread has stopped".into(),
                ))
            }
        }
        vector.await.map_err(|_| {
            EmbedError::Inference("the query embedding thread dropped the query".into())
        })?
    }
}

fn run_worker(model: &LoadedModel, jobs: &Receiver<Job>, batching: QueryBatching) {
    while let Some(batch) = next_batch(jobs, batching) {
        // A caller that gave up (its request was cancelled) needs no vector.
        let batch: Vec<Job> = batch
            .into_iter()
            .filter(|job| !job.reply.is_closed())
            .collect();
        if batch.is_empty() {
            continue;
        }
        let texts: Vec<&str> = batch.iter().map(|job| job.text.as_str()).collect();
        match model.embed_pass(&texts) {
            Ok(vectors) => {
                for (job, vector) in batch.into_iter().zip(vectors) {
                    let _ = job.reply.send(Ok(vector));
                }
            }
            Err(error) => {
                let message = error.to_string();
                for job in batch {
                    let _ = job.reply.send(Err(EmbedError::Inference(message.clone())));
                }
            }
        }
    }
}

/// Blocks for the first job, then takes what is queued up to `max_batch`, waiting up to
/// `max_wait` for more. `None` once every sender is gone.
fn next_batch(jobs: &Receiver<Job>, batching: QueryBatching) -> Option<Vec<Job>> {
    let first = jobs.recv().ok()?;
    let mut batch = vec![first];
    let deadline = Instant::now() + batching.max_wait;
    while batch.len() < batching.max_batch {
        if let Ok(job) = jobs.try_recv() {
            batch.push(job);
            continue;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match jobs.recv_timeout(left) {
            Ok(job) => batch.push(job),
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
        }
    }
    Some(batch)
}
