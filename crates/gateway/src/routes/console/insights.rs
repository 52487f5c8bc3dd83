//! What a support lead reads off the store: whether each conversation was **resolved**, the
//! resolution rate with its Wilson interval, and questions grouped by the terms they share.
//!
//! Pure functions over [`ConversationActivity`] (a conversation with its transcript and feedback,
//! as [`fathom_conversations::ConversationReports::activity`] returns it), so every rule is unit-tested here and the
//! console only displays the result.

use std::collections::{BTreeMap, HashSet};

use fathom_core::DecisionKind;
use serde::Serialize;

use fathom_conversations::{
    ConversationActivity, ConversationState, MessageRole, Rating, StoredMessage,
};

/// The definition the console prints next to the rate; keep it in step with [`outcome`].
pub const RESOLUTION_DEFINITION: &str = "A conversation counts as resolved when the bot answered \
(at least one reply with decision \"answer\"), it was never handed off, and the customer either \
confirmed (\"this solved it\" or a thumbs-up as their latest rating) or did not come back and did \
not ask for a human within the quiet window after the bot's last answer. It counts as unresolved \
when it was handed off (for any reason, including the customer asking for a person), when the \
customer's latest rating is a thumbs-down without a confirmation, when the customer wrote again \
after the last answer and got no further answer, or when the bot never answered and the quiet \
window has passed. Conversations still inside the quiet window are pending, and conversations \
without any customer message are ignored: neither is in the rate. \
Rate = resolved / (resolved + unresolved); the interval is the 95% Wilson score interval.";

/// How long a customer must stay silent after an answer for the answer to count as resolving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResolutionPolicy {
    pub quiet_window_ms: i64,
}

impl Default for ResolutionPolicy {
    fn default() -> Self {
        Self {
            quiet_window_ms: 24 * 3600 * 1000,
        }
    }
}

/// What became of one conversation, as far as the resolution rate is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Resolved: the customer said so ("this solved it", or a thumbs-up as latest rating).
    Confirmed,
    /// Resolved: answered, and the customer stayed away for the whole quiet window.
    Quiet,
    /// Unresolved: handed off to a person (whatever the reason).
    HandedOff,
    /// Unresolved: the customer's latest rating is a thumbs-down.
    Rejected,
    /// Unresolved: the customer wrote again after the last answer and got no further answer.
    CameBack,
    /// Unresolved: the bot never answered (only clarifying questions) and the window passed.
    NotAnswered,
    /// Not counted yet: still inside the quiet window.
    Pending,
    /// Not counted: the customer never wrote.
    NoQuestion,
}

impl Outcome {
    pub const ALL: [Self; 8] = [
        Self::Confirmed,
        Self::Quiet,
        Self::HandedOff,
        Self::Rejected,
        Self::CameBack,
        Self::NotAnswered,
        Self::Pending,
        Self::NoQuestion,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confirmed => "confirmed",
            Self::Quiet => "quiet",
            Self::HandedOff => "handed_off",
            Self::Rejected => "rejected",
            Self::CameBack => "came_back",
            Self::NotAnswered => "not_answered",
            Self::Pending => "pending",
            Self::NoQuestion => "no_question",
        }
    }

    /// `Some(true)` resolved, `Some(false)` unresolved, `None` left out of the rate.
    pub fn resolved(self) -> Option<bool> {
        match self {
            Self::Confirmed | Self::Quiet => Some(true),
            Self::HandedOff | Self::Rejected | Self::CameBack | Self::NotAnswered => Some(false),
            Self::Pending | Self::NoQuestion => None,
        }
    }
}

fn is_answer(message: &StoredMessage) -> bool {
    message.role == MessageRole::Bot
        && message
            .decision
            .as_ref()
            .is_some_and(|d| d.kind == DecisionKind::Answer)
}

fn was_handed_off(activity: &ConversationActivity) -> bool {
    activity.conversation.handoff_reason.is_some()
        || matches!(
            activity.conversation.state,
            ConversationState::HandedOff | ConversationState::Human
        )
        || activity.messages.iter().any(|m| {
            m.decision
                .as_ref()
                .is_some_and(|d| d.kind == DecisionKind::Handoff)
        })
}

/// The one definition of "resolved" (see [`RESOLUTION_DEFINITION`]), at time `now_ms`.
pub fn outcome(activity: &ConversationActivity, now_ms: i64, policy: ResolutionPolicy) -> Outcome {
    if was_handed_off(activity) {
        return Outcome::HandedOff;
    }
    let messages = &activity.messages;
    if !messages.iter().any(|m| m.role == MessageRole::Customer) {
        return Outcome::NoQuestion;
    }
    let window_passed_since = |at_ms: i64| now_ms.saturating_sub(at_ms) >= policy.quiet_window_ms;
    let last_activity_ms = messages
        .last()
        .map_or(activity.conversation.updated_at_ms, |m| m.created_at_ms);
    let Some(last_answer) = messages.iter().rev().find(|m| is_answer(m)) else {
        return if window_passed_since(last_activity_ms) {
            Outcome::NotAnswered
        } else {
            Outcome::Pending
        };
    };
    if activity.conversation.state == ConversationState::Resolved {
        return Outcome::Confirmed;
    }
    match activity.feedback.iter().rev().find_map(|f| f.rating) {
        Some(Rating::Down) => return Outcome::Rejected,
        Some(Rating::Up) => return Outcome::Confirmed,
        None => {}
    }
    let came_back = messages
        .iter()
        .any(|m| m.role == MessageRole::Customer && m.seq > last_answer.seq);
    match (came_back, window_passed_since(last_activity_ms)) {
        (true, true) => Outcome::CameBack,
        (false, true) => Outcome::Quiet,
        (_, false) => Outcome::Pending,
    }
}

/// The 95% Wilson score interval of `successes` out of `trials`; `None` without trials.
pub fn wilson_interval(successes: u64, trials: u64) -> Option<(f64, f64)> {
    if trials == 0 {
        return None;
    }
    const Z: f64 = 1.959_963_984_540_054;
    let n = trials as f64;
    let p = successes.min(trials) as f64 / n;
    let z2 = Z * Z;
    let centre = p + z2 / (2.0 * n);
    let spread = Z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    let denominator = 1.0 + z2 / n;
    Some((
        ((centre - spread) / denominator).max(0.0),
        ((centre + spread) / denominator).min(1.0),
    ))
}

/// The resolution rate over some conversations.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResolutionSummary {
    /// Every conversation looked at.
    pub conversations: u64,
    pub resolved: u64,
    pub unresolved: u64,
    /// Pending and without a question: not in the rate.
    pub not_counted: u64,
    /// `resolved / (resolved + unresolved)`; `None` when nothing is decided yet.
    pub rate: Option<f64>,
    /// 95% Wilson interval of the rate.
    pub rate_low: Option<f64>,
    pub rate_high: Option<f64>,
    /// Every [`Outcome`] with its count (zeros included).
    pub by_outcome: BTreeMap<&'static str, u64>,
}

pub fn summarize(outcomes: impl IntoIterator<Item = Outcome>) -> ResolutionSummary {
    let mut by_outcome: BTreeMap<&'static str, u64> =
        Outcome::ALL.iter().map(|o| (o.as_str(), 0)).collect();
    let (mut conversations, mut resolved, mut unresolved) = (0, 0, 0);
    for outcome in outcomes {
        conversations += 1;
        *by_outcome.entry(outcome.as_str()).or_default() += 1;
        match outcome.resolved() {
            Some(true) => resolved += 1,
            Some(false) => unresolved += 1,
            None => {}
        }
    }
    let decided = resolved + unresolved;
    let interval = wilson_interval(resolved, decided);
    ResolutionSummary {
        conversations,
        resolved,
        unresolved,
        not_counted: conversations - decided,
        rate: (decided > 0).then(|| resolved as f64 / decided as f64),
        rate_low: interval.map(|(low, _)| low),
        rate_high: interval.map(|(_, high)| high),
        by_outcome,
    }
}

/// The method [`group_by_shared_terms`] implements, for the console to print.
pub const GROUPING_METHOD: &str = "Each question is reduced to its content terms (lower-cased, \
stop words removed, common English endings stripped: \"refunds\", \"refunded\" → \"refund\"). \
Questions are taken oldest first; each joins the existing group whose first question shares the \
most terms with it, if their Jaccard similarity (shared terms / all terms of the two) is at least \
1/3, and otherwise starts a new group. Groups are listed largest first; a group's label is the \
terms that at least half of its questions contain.";

/// Smallest Jaccard similarity with a group's first question for a question to join the group.
pub const MIN_GROUP_JACCARD: f64 = 1.0 / 3.0;

/// Questions that share enough terms, with the terms that label them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuestionGroup<T> {
    /// Terms in at least half the members, most frequent first (ties alphabetical); at most 6.
    pub terms: Vec<String>,
    /// In the order given.
    pub members: Vec<T>,
}

/// `|a ∩ b| / |a ∪ b|`; 0 when both are empty (questions without content never group).
pub fn jaccard(a: &HashSet<String>, b: &HashSet<String>) -> f64 {
    let union = a.union(b).count();
    if union == 0 {
        return 0.0;
    }
    a.intersection(b).count() as f64 / union as f64
}

/// Group `items` (each with its content terms) as [`GROUPING_METHOD`] says: greedy, against each
/// group's first member, deterministic for a given order. Largest groups first; equal sizes keep
/// the order in which the groups started.
pub fn group_by_shared_terms<T>(items: Vec<(T, HashSet<String>)>) -> Vec<QuestionGroup<T>> {
    struct Building<T> {
        seed: HashSet<String>,
        members: Vec<(T, HashSet<String>)>,
    }
    let mut groups: Vec<Building<T>> = Vec::new();
    for (item, terms) in items {
        let best = groups
            .iter()
            .enumerate()
            .map(|(index, group)| (index, jaccard(&group.seed, &terms)))
            .filter(|&(_, similarity)| similarity >= MIN_GROUP_JACCARD)
            // The highest similarity; on ties the group that started first.
            .fold(None::<(usize, f64)>, |best, candidate| match best {
                Some((_, best_similarity)) if best_similarity >= candidate.1 => best,
                _ => Some(candidate),
            });
        match best {
            Some((index, _)) => groups[index].members.push((item, terms)),
            None => groups.push(Building {
                seed: terms.clone(),
                members: vec![(item, terms)],
            }),
        }
    }
    // A stable sort keeps equal-sized groups in the order they started.
    groups.sort_by_key(|group| std::cmp::Reverse(group.members.len()));
    groups
        .into_iter()
        .map(|group| {
            let mut frequency: BTreeMap<&String, usize> = BTreeMap::new();
            for (_, terms) in &group.members {
                for term in terms {
                    *frequency.entry(term).or_default() += 1;
                }
            }
            let half = group.members.len().div_ceil(2);
            let mut shared: Vec<(&String, usize)> =
                frequency.into_iter().filter(|&(_, n)| n >= half).collect();
            shared.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
            QuestionGroup {
                terms: shared
                    .into_iter()
                    .take(6)
                    .map(|(term, _)| term.clone())
                    .collect(),
                members: group.members.into_iter().map(|(item, _)| item).collect(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use fathom_core::{CustomerAttributes, Reason, WorkspaceId};

    use super::*;
    use fathom_conversations::{
        ConversationId, DecisionRecord, FeedbackRecord, StoredConversation,
    };

    const HOUR: i64 = 3600 * 1000;
    const NOW: i64 = 1_000 * HOUR;

    fn policy() -> ResolutionPolicy {
        ResolutionPolicy {
            quiet_window_ms: 24 * HOUR,
        }
    }

    fn conversation(state: ConversationState, handoff: Option<Reason>) -> StoredConversation {
        StoredConversation {
            id: ConversationId::random(),
            workspace: WorkspaceId::parse("acme").unwrap(),
            state,
            customer: CustomerAttributes::default(),
            handoff_reason: handoff,
            created_at_ms: 0,
            updated_at_ms: 0,
        }
    }

    fn customer(seq: i64, at_ms: i64) -> StoredMessage {
        StoredMessage {
            seq,
            role: MessageRole::Customer,
            author: None,
            text: "how do I get a refund?".into(),
            decision: None,
            created_at_ms: at_ms,
        }
    }

    fn bot(seq: i64, at_ms: i64, kind: DecisionKind, reason: Reason) -> StoredMessage {
        StoredMessage {
            seq,
            role: MessageRole::Bot,
            author: None,
            text: "…".into(),
            decision: Some(DecisionRecord {
                kind,
                reason,
                confidence: 0.8,
                citations: vec![],
                evidence_ids: vec![],
                summary: None,
                awaiting: None,
            }),
            created_at_ms: at_ms,
        }
    }

    fn answer(seq: i64, at_ms: i64) -> StoredMessage {
        bot(seq, at_ms, DecisionKind::Answer, Reason::Answered)
    }

    fn clarify(seq: i64, at_ms: i64) -> StoredMessage {
        bot(
            seq,
            at_ms,
            DecisionKind::Clarify,
            Reason::NeedsClarification,
        )
    }

    fn rating(rating: Rating, at_ms: i64) -> FeedbackRecord {
        FeedbackRecord {
            conversation_id: ConversationId::random(),
            message_seq: None,
            rating: Some(rating),
            comment: None,
            created_at_ms: at_ms,
        }
    }

    fn activity(
        state: ConversationState,
        messages: Vec<StoredMessage>,
        feedback: Vec<FeedbackRecord>,
    ) -> ConversationActivity {
        ConversationActivity {
            conversation: conversation(state, None),
            messages,
            feedback,
        }
    }

    fn answered_at(at_ms: i64) -> Vec<StoredMessage> {
        vec![customer(1, at_ms), answer(2, at_ms)]
    }

    #[test]
    fn an_answer_followed_by_a_quiet_window_counts_as_resolved() {
        let quiet = activity(ConversationState::Bot, answered_at(NOW - 25 * HOUR), vec![]);

        assert_eq!(outcome(&quiet, NOW, policy()), Outcome::Quiet);
        assert_eq!(Outcome::Quiet.resolved(), Some(true));
    }

    #[test]
    fn an_answer_still_inside_the_quiet_window_is_pending_and_not_counted() {
        let recent = activity(ConversationState::Bot, answered_at(NOW - 23 * HOUR), vec![]);

        assert_eq!(outcome(&recent, NOW, policy()), Outcome::Pending);
        assert_eq!(Outcome::Pending.resolved(), None);
    }

    #[test]
    fn a_customer_confirmation_or_thumbs_up_resolves_at_once() {
        let confirmed = activity(ConversationState::Resolved, answered_at(NOW), vec![]);
        let thumbs_up = activity(
            ConversationState::Bot,
            answered_at(NOW),
            vec![rating(Rating::Up, NOW)],
        );

        assert_eq!(outcome(&confirmed, NOW, policy()), Outcome::Confirmed);
        assert_eq!(outcome(&thumbs_up, NOW, policy()), Outcome::Confirmed);
    }

    #[test]
    fn the_latest_rating_wins_and_a_thumbs_down_is_unresolved_even_after_a_quiet_window() {
        let changed_mind = activity(
            ConversationState::Bot,
            answered_at(NOW - 48 * HOUR),
            vec![
                rating(Rating::Up, NOW - 47 * HOUR),
                rating(Rating::Down, NOW - 46 * HOUR),
            ],
        );

        assert_eq!(outcome(&changed_mind, NOW, policy()), Outcome::Rejected);
        assert_eq!(Outcome::Rejected.resolved(), Some(false));
    }

    #[test]
    fn a_handoff_is_unresolved_whatever_the_customer_said_afterwards() {
        let mut handed_off = activity(
            ConversationState::Resolved,
            vec![
                customer(1, 0),
                answer(2, 0),
                customer(3, 0),
                bot(4, 0, DecisionKind::Handoff, Reason::CustomerRequestedHuman),
            ],
            vec![rating(Rating::Up, 0)],
        );
        handed_off.conversation.handoff_reason = Some(Reason::CustomerRequestedHuman);
        let by_state_only = activity(ConversationState::Human, answered_at(0), vec![]);

        assert_eq!(outcome(&handed_off, NOW, policy()), Outcome::HandedOff);
        assert_eq!(outcome(&by_state_only, NOW, policy()), Outcome::HandedOff);
    }

    #[test]
    fn a_customer_who_wrote_again_and_got_no_answer_is_unresolved_once_the_window_passes() {
        let messages = |at: i64| {
            vec![
                customer(1, at),
                answer(2, at),
                customer(3, at + HOUR),
                clarify(4, at + HOUR),
            ]
        };
        let long_ago = activity(ConversationState::Bot, messages(NOW - 30 * HOUR), vec![]);
        let just_now = activity(ConversationState::Bot, messages(NOW - 2 * HOUR), vec![]);

        assert_eq!(outcome(&long_ago, NOW, policy()), Outcome::CameBack);
        assert_eq!(outcome(&just_now, NOW, policy()), Outcome::Pending);
    }

    #[test]
    fn a_later_answer_to_the_customers_follow_up_restarts_the_quiet_window() {
        let follow_up_answered = activity(
            ConversationState::Bot,
            vec![
                customer(1, NOW - 50 * HOUR),
                answer(2, NOW - 50 * HOUR),
                customer(3, NOW - 26 * HOUR),
                answer(4, NOW - 26 * HOUR),
            ],
            vec![],
        );

        assert_eq!(outcome(&follow_up_answered, NOW, policy()), Outcome::Quiet);
    }

    #[test]
    fn only_clarifications_are_not_answered_and_no_question_is_not_counted() {
        let clarified = activity(
            ConversationState::Bot,
            vec![customer(1, NOW - 30 * HOUR), clarify(2, NOW - 30 * HOUR)],
            vec![],
        );
        let silent = activity(ConversationState::Bot, vec![], vec![]);

        assert_eq!(outcome(&clarified, NOW, policy()), Outcome::NotAnswered);
        assert_eq!(outcome(&silent, NOW, policy()), Outcome::NoQuestion);
        assert_eq!(Outcome::NoQuestion.resolved(), None);
    }

    #[test]
    fn the_summary_rate_leaves_out_pending_conversations_and_carries_a_wilson_interval() {
        let outcomes = [
            Outcome::Confirmed,
            Outcome::Quiet,
            Outcome::Quiet,
            Outcome::HandedOff,
            Outcome::Pending,
            Outcome::NoQuestion,
        ];

        let summary = summarize(outcomes);

        assert_eq!(summary.conversations, 6);
        assert_eq!((summary.resolved, summary.unresolved), (3, 1));
        assert_eq!(summary.not_counted, 2);
        assert_eq!(summary.rate, Some(0.75));
        let (low, high) = (summary.rate_low.unwrap(), summary.rate_high.unwrap());
        assert!(low < 0.75 && 0.75 < high, "{low} {high}");
        assert_eq!(summary.by_outcome["quiet"], 2);
        assert_eq!(summary.by_outcome["rejected"], 0);
        assert_eq!(summary.by_outcome.len(), Outcome::ALL.len());
    }

    #[test]
    fn the_wilson_interval_matches_known_values_and_stays_inside_zero_and_one() {
        // 8 of 10: the textbook 95% Wilson interval is [0.490, 0.943].
        let (low, high) = wilson_interval(8, 10).unwrap();
        assert!(
            (low - 0.4902).abs() < 1e-3 && (high - 0.9433).abs() < 1e-3,
            "{low} {high}"
        );
        let (low, high) = wilson_interval(0, 5).unwrap();
        assert_eq!(low, 0.0);
        assert!(high > 0.4 && high < 0.5, "{high}");
        let (low, high) = wilson_interval(5, 5).unwrap();
        assert!(low > 0.5 && high <= 1.0);
        assert_eq!(wilson_interval(0, 0), None);
        assert_eq!(summarize([]).rate, None);
    }

    fn terms(words: &str) -> HashSet<String> {
        words.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn questions_sharing_enough_terms_group_together_largest_group_first() {
        let questions = vec![
            ("q1", terms("kubernetes operator arm64")),
            ("q2", terms("invoice vat number")),
            ("q3", terms("kubernetes operator frankfurt")),
            ("q4", terms("operator arm64 kubernetes node")),
            ("q5", terms("vat invoice")),
            ("q6", terms("parrot")),
        ];

        let groups = group_by_shared_terms(questions);

        let members: Vec<Vec<&str>> = groups.iter().map(|g| g.members.clone()).collect();
        assert_eq!(
            members,
            vec![vec!["q1", "q3", "q4"], vec!["q2", "q5"], vec!["q6"]]
        );
        assert_eq!(groups[0].terms, vec!["kubernetes", "operator", "arm64"]);
        assert_eq!(groups[1].terms, vec!["invoice", "vat", "number"]);
    }

    #[test]
    fn questions_below_the_threshold_or_without_terms_stay_apart() {
        // Jaccard 1/4 < 1/3.
        let questions = vec![
            ("a", terms("refund annual plan")),
            ("b", terms("refund monthly billing")),
            ("c", HashSet::new()),
            ("d", HashSet::new()),
        ];

        let groups = group_by_shared_terms(questions);

        assert_eq!(groups.len(), 4);
        assert!(groups.iter().all(|g| g.members.len() == 1));
        assert_eq!(jaccard(&terms("a b"), &terms("b c")), 1.0 / 3.0);
    }

    #[test]
    fn a_question_joins_the_most_similar_group() {
        let questions = vec![
            ("billing", terms("refund invoice")),
            ("password", terms("reset password")),
            ("both", terms("reset password invoice")),
        ];

        let groups = group_by_shared_terms(questions);

        assert_eq!(groups[0].members, vec!["password", "both"]);
    }
}
