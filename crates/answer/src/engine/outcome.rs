//! How a turn ends: the [`Draft`] of a decision any step can produce, and the [`Trace`] of
//! timings, token usage and step events folded into it by [`finish`].

use std::collections::BTreeMap;
use std::time::Instant;

use fathom_core::{
    AnswerEvent, Awaiting, Citation, Decision, DecisionKind, Evidence, Reason, TokenUsage,
};
use tokio::sync::mpsc;

/// A step's result: carry on with `T`, or end the turn with this reply.
pub(super) type Step<T> = Result<T, Box<Draft>>;

/// A decision before the trace's token usage and timings are added to it.
#[derive(Debug)]
pub(super) struct Draft {
    pub kind: DecisionKind,
    pub reason: Reason,
    pub answer: String,
    pub summary: Option<String>,
    pub awaiting: Option<Awaiting>,
    pub query: String,
    pub citations: Vec<Citation>,
    pub confidence: f32,
    pub evidence: Vec<Evidence>,
    /// The answer's tokens already went out as they were generated.
    pub streamed: bool,
}

impl Draft {
    pub fn new(kind: DecisionKind, reason: Reason, answer: String) -> Self {
        Self {
            kind,
            reason,
            answer,
            summary: None,
            awaiting: None,
            query: String::new(),
            citations: vec![],
            confidence: 0.0,
            evidence: vec![],
            streamed: false,
        }
    }

    /// An answer with its citations.
    pub fn answered(answer: String, citations: Vec<Citation>) -> Self {
        Self {
            citations,
            ..Self::new(DecisionKind::Answer, Reason::Answered, answer)
        }
    }

    pub fn with_summary(mut self, summary: String) -> Self {
        self.summary = Some(summary);
        self
    }

    pub fn awaiting(mut self, awaiting: Awaiting) -> Self {
        self.awaiting = Some(awaiting);
        self
    }

    /// End the turn with this draft.
    pub fn end<T>(self) -> Step<T> {
        Err(Box::new(self))
    }
}

/// Things the pipeline learns on its way, folded into the decision at the end.
pub(super) struct Trace<'a> {
    started: Instant,
    pub timings: BTreeMap<String, f64>,
    pub usage: TokenUsage,
    events: Option<&'a mpsc::Sender<AnswerEvent>>,
}

impl<'a> Trace<'a> {
    pub fn new(events: Option<&'a mpsc::Sender<AnswerEvent>>) -> Self {
        Self {
            started: Instant::now(),
            timings: BTreeMap::new(),
            usage: TokenUsage::default(),
            events,
        }
    }

    /// Announce a step to a streaming client; the returned instant times it.
    pub fn start(&self, step: &str) -> Instant {
        if let Some(events) = self.events {
            let _ = events.try_send(AnswerEvent::Step { name: step.into() });
        }
        Instant::now()
    }

    pub fn time(&mut self, step: &str, since: Instant) {
        self.timings
            .insert(step.to_string(), since.elapsed().as_secs_f64() * 1000.0);
    }

    pub fn events(&self) -> Option<&'a mpsc::Sender<AnswerEvent>> {
        self.events
    }
}

/// The decision: the draft, its timings and usage; a reply that was not streamed as it was
/// generated (extractive, the bot's own sentences) still goes out as tokens, word by word.
pub(super) async fn finish(mut trace: Trace<'_>, draft: Draft) -> Decision {
    let Draft {
        kind,
        reason,
        answer,
        summary,
        awaiting,
        query,
        citations,
        confidence,
        evidence,
        streamed,
    } = draft;
    if let (Some(events), false) = (trace.events, streamed) {
        for piece in answer.split_inclusive(' ') {
            let _ = events
                .send(AnswerEvent::Token {
                    text: piece.to_string(),
                })
                .await;
        }
    }
    trace.timings.insert(
        "total".into(),
        trace.started.elapsed().as_secs_f64() * 1000.0,
    );
    tracing::info!(decision = ?kind, reason = %reason, confidence, "decided");
    Decision {
        decision: kind,
        reason,
        answer,
        citations,
        confidence,
        summary,
        awaiting,
        query,
        evidence,
        usage: trace.usage,
        timings_ms: trace.timings,
    }
}
