//! Replay of recorded traffic: every customer message that got a bot reply in the conversation
//! store goes through the engine again, with the same history, and the new outcome is compared
//! with the recorded one. There are no gold labels: the recorded outcome is the baseline, and the
//! customer's 👍/👎 on a reply is the only judgement of it.
//!
//! [`cases_from_activity`] and [`summarise`] are pure; [`replay_cases`] runs the engine.

use std::collections::{BTreeMap, BTreeSet};

use fathom_answer::guardrails::InputLimits;
use fathom_answer::AnswerEngine;
use fathom_conversations::{
    ConversationActivity, DecisionRecord, MessageRole, Rating, StoredMessage,
};
use fathom_core::{Citation, Conversation, Decision, DecisionKind, Reason};
use serde::Serialize;

/// Version of the replay JSON's shape; bumped when a key changes meaning.
pub const REPLAY_REPORT_VERSION: u32 = 1;

/// What the bot did with one message: decision, reason, confidence and cited articles.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    pub decision: DecisionKind,
    pub reason: Reason,
    pub confidence: f32,
    /// Cited article ids, in citation order.
    pub cited: Vec<String>,
}

impl Outcome {
    pub fn recorded(record: &DecisionRecord) -> Self {
        Self {
            decision: record.kind,
            reason: record.reason,
            confidence: record.confidence,
            cited: cited(&record.citations),
        }
    }

    pub fn of(decision: &Decision) -> Self {
        Self {
            decision: decision.decision,
            reason: decision.reason,
            confidence: decision.confidence,
            cited: cited(&decision.citations),
        }
    }

    fn cited_set(&self) -> BTreeSet<&str> {
        self.cited.iter().map(String::as_str).collect()
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}, {:.3}, [{}])",
            decision_name(self.decision),
            self.reason,
            self.confidence,
            self.cited.join(", ")
        )
    }
}

fn cited(citations: &[Citation]) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for citation in citations {
        let id = citation.article_id.to_string();
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    ids
}

pub fn decision_name(kind: DecisionKind) -> &'static str {
    match kind {
        DecisionKind::Answer => "answer",
        DecisionKind::Clarify => "clarify",
        DecisionKind::Handoff => "handoff",
    }
}

/// One recorded customer message with the bot's recorded reply, ready to go through the engine.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayCase {
    pub conversation_id: String,
    /// `seq` of the customer's message in the store.
    pub message_seq: i64,
    /// `seq` of the bot's reply.
    pub reply_seq: i64,
    pub created_at_ms: i64,
    /// What the engine sees: the transcript before the message, within the engine's input
    /// limits, and the message (as the gateway builds it).
    pub input: Conversation,
    pub recorded: Outcome,
    /// The customer's latest rating of this reply, if any.
    pub rating: Option<Rating>,
}

/// Every customer message answered by a bot reply (the message right after it, carrying a
/// decision), oldest conversation first, each with its rating. A rating names the bot message it
/// rates; one that does not (a rating of the conversation) counts for the latest bot reply before
/// it. The latest rating of a reply wins.
pub fn cases_from_activity(
    activity: &[ConversationActivity],
    limits: &InputLimits,
) -> Vec<ReplayCase> {
    let mut conversations: Vec<&ConversationActivity> = activity.iter().collect();
    conversations.sort_by_key(|a| (a.conversation.created_at_ms, a.conversation.id));
    let mut cases = Vec::new();
    for activity in conversations {
        let ratings = ratings_by_reply(activity);
        let messages = &activity.messages;
        for (index, pair) in messages.windows(2).enumerate() {
            let (message, reply) = (&pair[0], &pair[1]);
            let Some(record) = reply.decision.as_ref() else {
                continue;
            };
            if message.role != MessageRole::Customer || reply.role != MessageRole::Bot {
                continue;
            }
            cases.push(ReplayCase {
                conversation_id: activity.conversation.id.to_string(),
                message_seq: message.seq,
                reply_seq: reply.seq,
                created_at_ms: message.created_at_ms,
                input: engine_input(limits, activity, &messages[..index], &message.text),
                recorded: Outcome::recorded(record),
                rating: ratings.get(&reply.seq).copied(),
            });
        }
    }
    cases
}

/// Bot reply seq → the latest rating that applies to it.
fn ratings_by_reply(activity: &ConversationActivity) -> BTreeMap<i64, Rating> {
    let mut ratings = BTreeMap::new();
    let mut feedback: Vec<_> = activity.feedback.iter().collect();
    feedback.sort_by_key(|f| f.created_at_ms);
    for f in feedback {
        let Some(rating) = f.rating else { continue };
        let target = f.message_seq.or_else(|| {
            activity
                .messages
                .iter()
                .filter(|m| m.role == MessageRole::Bot && m.created_at_ms <= f.created_at_ms)
                .map(|m| m.seq)
                .max()
        });
        if let Some(seq) = target {
            ratings.insert(seq, rating);
        }
    }
    ratings
}

/// The engine's input for a message, built the way the gateway builds it
/// ([`fathom_conversations::StoredConversation::engine_input`] with the engine's limits).
fn engine_input(
    limits: &InputLimits,
    activity: &ConversationActivity,
    history: &[StoredMessage],
    text: &str,
) -> Conversation {
    activity.conversation.engine_input(
        history,
        text,
        limits.max_history_turns,
        limits.max_turn_chars,
    )
}

/// One replayed message: what was recorded, what the engine does now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplayRow {
    pub conversation_id: String,
    pub message_seq: i64,
    pub reply_seq: i64,
    pub created_at_ms: i64,
    pub question: String,
    pub history_turns: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rating: Option<Rating>,
    pub then: Outcome,
    pub now: Outcome,
    /// The decision differs (e.g. answer → handoff).
    pub flipped: bool,
    /// Same decision, different set of cited articles.
    pub citations_changed: bool,
}

/// Compare a recorded case with the engine's outcome now.
pub fn row(case: &ReplayCase, now: Outcome) -> ReplayRow {
    let flipped = case.recorded.decision != now.decision;
    let citations_changed = !flipped && case.recorded.cited_set() != now.cited_set();
    ReplayRow {
        conversation_id: case.conversation_id.clone(),
        message_seq: case.message_seq,
        reply_seq: case.reply_seq,
        created_at_ms: case.created_at_ms,
        question: case.input.message.clone(),
        history_turns: case.input.history.len(),
        rating: case.rating,
        then: case.recorded.clone(),
        now,
        flipped,
        citations_changed,
    }
}

/// Run every case through the engine and compare.
pub async fn replay_cases(
    engine: &AnswerEngine,
    cases: &[ReplayCase],
    on_case: &(dyn Fn() + Send + Sync),
) -> Vec<ReplayRow> {
    let mut rows = Vec::with_capacity(cases.len());
    for case in cases {
        let decision = engine.decide(&case.input).await;
        rows.push(row(case, Outcome::of(&decision)));
        on_case();
    }
    rows
}

/// What the customers' ratings say about the change.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FeedbackSummary {
    /// 👍-rated replies that were answers.
    pub up_rated_answers: usize,
    /// Of those, still answered now, citing the same articles.
    pub up_still_same_articles: usize,
    /// 👎-rated replies (any decision).
    pub down_rated: usize,
    /// Of those, a different decision or different cited articles now.
    pub down_changed: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplayReport {
    pub report_version: u32,
    pub workspace: String,
    pub mode: String,
    pub threshold: f32,
    pub conversations: usize,
    /// Messages replayed (customer messages that got a bot reply).
    pub messages: usize,
    /// Decision → count, as recorded (every decision present, 0 included).
    pub decisions_then: BTreeMap<String, usize>,
    /// Decision → count, now.
    pub decisions_now: BTreeMap<String, usize>,
    /// `"answer→handoff"` → count, flipped messages only.
    pub transitions: BTreeMap<String, usize>,
    pub flipped: usize,
    /// Messages with the same decision but different cited articles.
    pub citations_changed: usize,
    pub feedback: FeedbackSummary,
    pub rows: Vec<ReplayRow>,
}

impl ReplayReport {
    pub fn flips(&self) -> impl Iterator<Item = &ReplayRow> {
        self.rows.iter().filter(|r| r.flipped)
    }

    pub fn citation_changes(&self) -> impl Iterator<Item = &ReplayRow> {
        self.rows.iter().filter(|r| r.citations_changed)
    }
}

/// Counts, flips and what the ratings say, over the replayed rows.
pub fn summarise(
    workspace: &str,
    mode: &str,
    threshold: f32,
    rows: Vec<ReplayRow>,
) -> ReplayReport {
    let zero = || -> BTreeMap<String, usize> {
        [
            DecisionKind::Answer,
            DecisionKind::Clarify,
            DecisionKind::Handoff,
        ]
        .into_iter()
        .map(|d| (decision_name(d).to_string(), 0))
        .collect()
    };
    let (mut then, mut now) = (zero(), zero());
    let mut transitions = BTreeMap::new();
    let mut feedback = FeedbackSummary::default();
    for r in &rows {
        *then
            .entry(decision_name(r.then.decision).into())
            .or_default() += 1;
        *now.entry(decision_name(r.now.decision).into()).or_default() += 1;
        if r.flipped {
            let key = format!(
                "{}→{}",
                decision_name(r.then.decision),
                decision_name(r.now.decision)
            );
            *transitions.entry(key).or_default() += 1;
        }
        match r.rating {
            Some(Rating::Up) if r.then.decision == DecisionKind::Answer => {
                feedback.up_rated_answers += 1;
                if r.now.decision == DecisionKind::Answer && r.now.cited_set() == r.then.cited_set()
                {
                    feedback.up_still_same_articles += 1;
                }
            }
            Some(Rating::Down) => {
                feedback.down_rated += 1;
                if r.flipped || r.citations_changed {
                    feedback.down_changed += 1;
                }
            }
            _ => {}
        }
    }
    let conversations: BTreeSet<&str> = rows.iter().map(|r| r.conversation_id.as_str()).collect();
    ReplayReport {
        report_version: REPLAY_REPORT_VERSION,
        workspace: workspace.to_string(),
        mode: mode.to_string(),
        threshold,
        conversations: conversations.len(),
        messages: rows.len(),
        decisions_then: then,
        decisions_now: now,
        transitions,
        flipped: rows.iter().filter(|r| r.flipped).count(),
        citations_changed: rows.iter().filter(|r| r.citations_changed).count(),
        feedback,
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fathom_conversations::{
        ConversationId, ConversationState, FeedbackRecord, StoredConversation,
    };
    use fathom_core::Turn;
    use fathom_core::{ArticleId, CustomerAttributes, WorkspaceId};

    fn citation(article: &str) -> Citation {
        Citation {
            article_id: ArticleId::parse(article).unwrap(),
            title: article.to_string(),
            url: None,
            chunk_ids: vec![],
        }
    }

    fn record(kind: DecisionKind, reason: Reason, articles: &[&str]) -> DecisionRecord {
        DecisionRecord {
            kind,
            reason,
            confidence: 0.8,
            citations: articles.iter().map(|a| citation(a)).collect(),
            evidence_ids: vec![],
            summary: None,
            awaiting: None,
        }
    }

    fn message(
        seq: i64,
        role: MessageRole,
        text: &str,
        decision: Option<DecisionRecord>,
    ) -> StoredMessage {
        StoredMessage {
            seq,
            role,
            author: None,
            text: text.to_string(),
            decision,
            created_at_ms: seq * 1000,
        }
    }

    fn customer(seq: i64, text: &str) -> StoredMessage {
        message(seq, MessageRole::Customer, text, None)
    }

    fn bot(seq: i64, kind: DecisionKind, reason: Reason, articles: &[&str]) -> StoredMessage {
        message(
            seq,
            MessageRole::Bot,
            "reply",
            Some(record(kind, reason, articles)),
        )
    }

    fn conversation(created_at_ms: i64, messages: Vec<StoredMessage>) -> ConversationActivity {
        ConversationActivity {
            conversation: StoredConversation {
                id: ConversationId::random(),
                workspace: WorkspaceId::parse("acme").unwrap(),
                state: ConversationState::Bot,
                customer: CustomerAttributes::default(),
                handoff_reason: None,
                created_at_ms,
                updated_at_ms: created_at_ms,
            },
            messages,
            feedback: vec![],
        }
    }

    fn rate(activity: &mut ConversationActivity, seq: Option<i64>, rating: Rating, at_ms: i64) {
        activity.feedback.push(FeedbackRecord {
            conversation_id: activity.conversation.id,
            message_seq: seq,
            rating: Some(rating),
            comment: None,
            created_at_ms: at_ms,
        });
    }

    fn now(kind: DecisionKind, reason: Reason, articles: &[&str]) -> Outcome {
        Outcome {
            decision: kind,
            reason,
            confidence: 0.5,
            cited: articles.iter().map(|a| a.to_string()).collect(),
        }
    }

    #[test]
    fn only_customer_messages_with_a_bot_reply_are_cases_each_with_the_transcript_before_it() {
        let activity = conversation(
            0,
            vec![
                customer(1, "how do I reset my password?"),
                bot(2, DecisionKind::Answer, Reason::Answered, &["reset"]),
                customer(3, "and my email?"),
                bot(4, DecisionKind::Handoff, Reason::LowConfidence, &[]),
                // After the handoff: stored silently, then a person answers. Not cases.
                customer(5, "hello?"),
                message(6, MessageRole::Agent, "hi, Sam here", None),
            ],
        );

        let cases = cases_from_activity(&[activity], &InputLimits::default());

        assert_eq!(cases.len(), 2);
        assert_eq!(cases[0].input.message, "how do I reset my password?");
        assert!(cases[0].input.history.is_empty());
        assert_eq!(cases[0].recorded.cited, vec!["reset".to_string()]);
        assert_eq!(cases[1].input.message, "and my email?");
        assert_eq!(
            cases[1].input.history,
            vec![
                Turn::customer("how do I reset my password?"),
                Turn::agent("reply"),
            ]
        );
        assert_eq!((cases[1].message_seq, cases[1].reply_seq), (3, 4));
        assert_eq!(cases[1].recorded.decision, DecisionKind::Handoff);
    }

    #[test]
    fn history_is_cut_to_the_engine_limits_like_the_gateway_does() {
        let activity = conversation(
            0,
            vec![
                customer(1, "first question"),
                bot(2, DecisionKind::Clarify, Reason::NeedsClarification, &[]),
                customer(3, "second"),
                bot(4, DecisionKind::Answer, Reason::Answered, &["a"]),
            ],
        );
        let limits = InputLimits {
            max_history_turns: 1,
            max_turn_chars: 3,
            ..InputLimits::default()
        };

        let cases = cases_from_activity(&[activity], &limits);

        assert_eq!(cases[1].input.history, vec![Turn::agent("rep")]);
    }

    #[test]
    fn conversations_come_oldest_first_and_ratings_land_on_the_reply_they_rate() {
        let mut newer = conversation(
            2_000,
            vec![
                customer(10, "newer"),
                bot(11, DecisionKind::Answer, Reason::Answered, &["a"]),
                customer(12, "more"),
                bot(13, DecisionKind::Answer, Reason::Answered, &["b"]),
            ],
        );
        // Rated message 11 explicitly; a conversation rating after reply 13 counts for 13.
        rate(&mut newer, Some(11), Rating::Up, 20_000);
        rate(&mut newer, None, Rating::Down, 14_000);
        let mut older = conversation(
            1_000,
            vec![
                customer(1, "older"),
                bot(2, DecisionKind::Answer, Reason::Answered, &["a"]),
            ],
        );
        // The latest rating wins.
        rate(&mut older, Some(2), Rating::Up, 3_000);
        rate(&mut older, Some(2), Rating::Down, 4_000);

        let cases = cases_from_activity(&[newer, older], &InputLimits::default());

        let seen: Vec<(&str, Option<Rating>)> = cases
            .iter()
            .map(|c| (c.input.message.as_str(), c.rating))
            .collect();
        assert_eq!(
            seen,
            vec![
                ("older", Some(Rating::Down)),
                ("newer", Some(Rating::Up)),
                ("more", Some(Rating::Down)),
            ]
        );
    }

    #[test]
    fn a_flip_a_citation_change_and_an_unchanged_reply_are_told_apart() {
        let activity = conversation(
            0,
            vec![
                customer(1, "refund?"),
                bot(2, DecisionKind::Answer, Reason::Answered, &["refunds"]),
                customer(3, "invoice?"),
                bot(
                    4,
                    DecisionKind::Answer,
                    Reason::Answered,
                    &["billing", "invoices"],
                ),
                customer(5, "password?"),
                bot(6, DecisionKind::Answer, Reason::Answered, &["reset"]),
            ],
        );
        let cases = cases_from_activity(&[activity], &InputLimits::default());

        let flipped = row(
            &cases[0],
            now(DecisionKind::Handoff, Reason::NoRelevantContent, &[]),
        );
        let recited = row(
            &cases[1],
            now(DecisionKind::Answer, Reason::Answered, &["billing"]),
        );
        // Citation order does not matter, only the set of articles.
        let same = row(
            &cases[2],
            now(DecisionKind::Answer, Reason::Answered, &["reset"]),
        );

        assert!(flipped.flipped && !flipped.citations_changed);
        assert!(!recited.flipped && recited.citations_changed);
        assert!(!same.flipped && !same.citations_changed);
        let reordered = row(
            &cases[1],
            now(
                DecisionKind::Answer,
                Reason::Answered,
                &["invoices", "billing"],
            ),
        );
        assert!(!reordered.citations_changed);
    }

    #[test]
    fn the_summary_counts_decisions_transitions_and_what_the_ratings_say() {
        let mut activity = conversation(
            0,
            vec![
                customer(1, "a"),
                bot(2, DecisionKind::Answer, Reason::Answered, &["x"]),
                customer(3, "b"),
                bot(4, DecisionKind::Answer, Reason::Answered, &["y"]),
                customer(5, "c"),
                bot(6, DecisionKind::Answer, Reason::Answered, &["z"]),
                customer(7, "d"),
                bot(8, DecisionKind::Clarify, Reason::NeedsClarification, &[]),
            ],
        );
        rate(&mut activity, Some(2), Rating::Up, 100_000);
        rate(&mut activity, Some(4), Rating::Up, 100_000);
        rate(&mut activity, Some(6), Rating::Down, 100_000);
        rate(&mut activity, Some(8), Rating::Down, 100_000);
        let cases = cases_from_activity(&[activity], &InputLimits::default());
        let rows = vec![
            // 👍 answer, unchanged.
            row(
                &cases[0],
                now(DecisionKind::Answer, Reason::Answered, &["x"]),
            ),
            // 👍 answer, now handed off.
            row(
                &cases[1],
                now(DecisionKind::Handoff, Reason::LowConfidence, &[]),
            ),
            // 👎 answer, now citing another article.
            row(
                &cases[2],
                now(DecisionKind::Answer, Reason::Answered, &["w"]),
            ),
            // 👎 clarify, unchanged.
            row(
                &cases[3],
                now(DecisionKind::Clarify, Reason::NeedsClarification, &[]),
            ),
        ];

        let report = summarise("acme", "extractive", 0.625, rows);

        assert_eq!((report.conversations, report.messages), (1, 4));
        assert_eq!(report.decisions_then["answer"], 3);
        assert_eq!(report.decisions_then["clarify"], 1);
        assert_eq!(report.decisions_then["handoff"], 0);
        assert_eq!(report.decisions_now["answer"], 2);
        assert_eq!(report.decisions_now["handoff"], 1);
        assert_eq!(report.transitions.len(), 1);
        assert_eq!(report.transitions["answer→handoff"], 1);
        assert_eq!((report.flipped, report.citations_changed), (1, 1));
        assert_eq!(
            report.feedback,
            FeedbackSummary {
                up_rated_answers: 2,
                up_still_same_articles: 1,
                down_rated: 2,
                down_changed: 1,
            }
        );
        assert_eq!(report.flips().count(), 1);
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["rows"][1]["then"]["decision"], "answer");
        assert_eq!(json["rows"][1]["now"]["decision"], "handoff");
        assert_eq!(json["rows"][1]["now"]["reason"], "low_confidence");
        assert_eq!(json["rows"][0]["rating"], "up");
    }
}
