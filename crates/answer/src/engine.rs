//! The pipeline: input guardrails → query understanding → retrieval → answerability → reply
//! (LLM or extractive) → output guardrails → decision.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use fathom_core::{
    AnswerEvent, Citation, Conversation, Decision, DecisionKind, Evidence, Reason, Role, SearchHit,
    TokenUsage, WorkspaceId,
};
use fathom_retrieve::{standalone_query, ContextCarry, Retriever, SearchRequest};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::extractive;
use crate::generate::{Generated, Generator};
use crate::guardrails::{self, InputLimits};
use crate::judge::{judge, JudgeConfig, Judgement};
use crate::support::{unknown_citations, unsupported_sentences};

/// A topic the bot must not answer (legal, medical…): matching messages are handed off.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BlockedTopic {
    pub name: String,
    /// Lower-case words or phrases; a message containing any of them (as whole words) matches.
    pub phrases: Vec<String>,
}

impl BlockedTopic {
    pub fn defaults() -> Vec<Self> {
        let topic = |name: &str, phrases: &[&str]| Self {
            name: name.into(),
            phrases: phrases.iter().map(|p| p.to_string()).collect(),
        };
        vec![
            topic(
                "legal",
                &[
                    "lawsuit",
                    "sue you",
                    "suing",
                    "my lawyer",
                    "attorney",
                    "legal action",
                    "court order",
                    "subpoena",
                ],
            ),
            topic(
                "medical",
                &[
                    "diagnosis",
                    "diagnose",
                    "symptoms",
                    "medication",
                    "prescription",
                    "medical advice",
                ],
            ),
        ]
    }

    fn matches(&self, lower_message: &str) -> bool {
        self.phrases
            .iter()
            .any(|phrase| contains_phrase(lower_message, phrase))
    }
}

fn contains_phrase(haystack: &str, phrase: &str) -> bool {
    haystack.match_indices(phrase).any(|(i, _)| {
        let before = haystack[..i].chars().next_back();
        let after = haystack[i + phrase.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AnswerConfig {
    pub carry: ContextCarry,
    /// Chunks retrieved per question.
    pub retrieve_limit: usize,
    pub judge: JudgeConfig,
    pub limits: InputLimits,
    pub blocked_topics: Vec<BlockedTopic>,
    /// Per-workspace answer thresholds, each calibrated with `fathom eval` on that business's own
    /// eval set; other workspaces use `judge.min_confidence`.
    #[serde(default)]
    pub workspace_min_confidence: BTreeMap<WorkspaceId, f32>,
}

impl Default for AnswerConfig {
    fn default() -> Self {
        Self {
            carry: ContextCarry::default(),
            retrieve_limit: 8,
            judge: JudgeConfig::default(),
            limits: InputLimits::default(),
            blocked_topics: BlockedTopic::defaults(),
            workspace_min_confidence: BTreeMap::new(),
        }
    }
}

impl AnswerConfig {
    /// The confidence a workspace's answers need.
    pub fn min_confidence(&self, workspace: &WorkspaceId) -> f32 {
        self.workspace_min_confidence
            .get(workspace)
            .copied()
            .unwrap_or(self.judge.min_confidence)
    }
}

/// Words the bot says. Kept together so a deployer can read them in one place.
mod say {
    pub const HANDOFF: &str =
        "I'm connecting you with a teammate who can help. A person will follow up here in this conversation.";
    pub const NO_CONTENT: &str =
        "I couldn't find this in our help center, so I'm passing you to a teammate. A person will follow up here in this conversation.";
    pub const INJECTION: &str =
        "I can only help with questions about our product and your account, and I can't change how I work. What can I help you with?";
    pub const BLOCKED: &str =
        "That's a question our team should answer personally, so I'm passing it to a teammate. A person will follow up here in this conversation.";
    pub const OFFER_HUMAN: &str =
        "I'm sorry this has been frustrating. Would you like me to connect you with a person from our team?";
    pub const EMPTY: &str = "What can I help you with?";
    pub const TOO_LONG: &str =
        "Your message is too long for me to read in one go. Could you shorten it to the main question?";
}

pub struct AnswerEngine {
    retriever: Retriever,
    config: AnswerConfig,
    generator: Option<Arc<dyn Generator>>,
}

impl std::fmt::Debug for AnswerEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnswerEngine")
            .field("config", &self.config)
            .field("llm", &self.generator.is_some())
            .finish()
    }
}

/// Things the pipeline learns on its way, folded into the decision at the end.
struct Trace {
    started: Instant,
    timings: BTreeMap<String, f64>,
    usage: TokenUsage,
}

impl Trace {
    fn new() -> Self {
        Self {
            started: Instant::now(),
            timings: BTreeMap::new(),
            usage: TokenUsage::default(),
        }
    }

    fn time(&mut self, step: &str, since: Instant) {
        self.timings
            .insert(step.to_string(), since.elapsed().as_secs_f64() * 1000.0);
    }
}

impl AnswerEngine {
    pub fn new(
        retriever: Retriever,
        config: AnswerConfig,
        generator: Option<Arc<dyn Generator>>,
    ) -> Self {
        Self {
            retriever,
            config,
            generator,
        }
    }

    pub fn config(&self) -> &AnswerConfig {
        &self.config
    }

    /// The same engine with these workspaces' thresholds (e.g. from the gateway's config file).
    pub fn with_workspace_min_confidence(
        mut self,
        thresholds: impl IntoIterator<Item = (WorkspaceId, f32)>,
    ) -> Self {
        self.config.workspace_min_confidence.extend(thresholds);
        self
    }

    /// Decide what to do with the conversation's latest message. Never fails: internal errors
    /// become a handoff with a reason, so the customer never sees an error.
    pub async fn decide(&self, conversation: &Conversation) -> Decision {
        self.run(conversation, None).await
    }

    /// The streaming form: step and token events, then the decision as the last event.
    /// Tokens are provisional: if an output guardrail rejects the streamed answer, the final
    /// decision's `answer` replaces it.
    pub fn decide_streaming(
        self: &Arc<Self>,
        conversation: Conversation,
    ) -> mpsc::Receiver<AnswerEvent> {
        let (sender, receiver) = mpsc::channel(64);
        let engine = Arc::clone(self);
        tokio::spawn(async move {
            let decision = engine.run(&conversation, Some(&sender)).await;
            let _ = sender
                .send(AnswerEvent::Decision {
                    decision: Box::new(decision),
                })
                .await;
        });
        receiver
    }

    #[tracing::instrument(skip_all, fields(workspace = %conversation.workspace))]
    async fn run(
        &self,
        conversation: &Conversation,
        events: Option<&mpsc::Sender<AnswerEvent>>,
    ) -> Decision {
        let mut trace = Trace::new();
        let step = |name: &str| {
            if let Some(events) = events {
                let _ = events.try_send(AnswerEvent::Step { name: name.into() });
            }
        };

        // 1. Input guardrails.
        let started = Instant::now();
        step("guardrails");
        let history_texts = conversation.history.iter().map(|t| t.text.as_str());
        if let Err(error) =
            guardrails::check_limits(&self.config.limits, &conversation.message, history_texts)
        {
            tracing::info!(code = error.code(), %error, "input refused");
            let (reason, text) = match error {
                guardrails::LimitError::EmptyMessage => (Reason::NeedsClarification, say::EMPTY),
                _ => (Reason::GuardrailInputTooLong, say::TOO_LONG),
            };
            return self
                .finish(
                    trace,
                    Draft {
                        kind: DecisionKind::Clarify,
                        reason,
                        answer: text.into(),
                        summary: None,
                        query: String::new(),
                        citations: vec![],
                        confidence: 0.0,
                        evidence: vec![],
                    },
                    events,
                )
                .await;
        }
        // One redactor for the whole conversation: the same value gets the same placeholder.
        let mut redactor = guardrails::Redactor::new();
        let history: Vec<fathom_core::Turn> = conversation
            .history
            .iter()
            .map(|t| fathom_core::Turn {
                role: t.role,
                text: redactor.redact(&t.text),
            })
            .collect();
        let message = redactor.redact(&conversation.message);
        let entities = redactor.into_entities();
        let earlier_customer: Vec<&str> = history
            .iter()
            .filter(|t| t.role == Role::Customer)
            .map(|t| t.text.as_str())
            .collect();
        let lower = message.to_lowercase();
        let pre_decision = if guardrails::wants_human(&message) || accepts_offer(&history, &lower) {
            Some((
                DecisionKind::Handoff,
                Reason::CustomerRequestedHuman,
                say::HANDOFF,
            ))
        } else if guardrails::detect_injection(&conversation.message).is_some() {
            Some((
                DecisionKind::Clarify,
                Reason::GuardrailInjection,
                say::INJECTION,
            ))
        } else if self.config.blocked_topics.iter().any(|t| t.matches(&lower)) {
            Some((
                DecisionKind::Handoff,
                Reason::GuardrailBlockedTopic,
                say::BLOCKED,
            ))
        } else if !already_offered(&history)
            && (guardrails::frustration(&message).is_some()
                || guardrails::is_repeated_question(&message, &earlier_customer))
        {
            let reason = if guardrails::frustration(&message).is_some() {
                Reason::CustomerFrustrated
            } else {
                Reason::RepeatedQuestion
            };
            Some((DecisionKind::Handoff, reason, say::OFFER_HUMAN))
        } else {
            None
        };
        trace.time("guardrails", started);
        if let Some((kind, reason, text)) = pre_decision {
            let summary = Some(summary(&message, &earlier_customer, reason));
            // An offer is a question to the customer, not yet a handoff.
            let kind = if text == say::OFFER_HUMAN {
                DecisionKind::Clarify
            } else {
                kind
            };
            return self
                .finish(
                    trace,
                    Draft {
                        kind,
                        reason,
                        answer: text.into(),
                        summary,
                        query: String::new(),
                        citations: vec![],
                        confidence: 0.0,
                        evidence: vec![],
                    },
                    events,
                )
                .await;
        }

        // 2. Query understanding.
        let started = Instant::now();
        step("rewrite");
        let query = match (&self.generator, history.is_empty()) {
            (Some(generator), false) => match generator.rewrite_query(&history, &message).await {
                Ok((query, usage)) => {
                    trace.usage.add(usage);
                    query
                }
                Err(error) => {
                    tracing::warn!(%error, "query rewrite failed; carrying terms instead");
                    standalone_query(&history, &message, self.config.carry)
                }
            },
            _ => standalone_query(&history, &message, self.config.carry),
        };
        trace.time("rewrite", started);

        // 3. Retrieve and judge.
        let started = Instant::now();
        step("retrieve");
        let mode = self.retriever.default_mode();
        let hits = match self
            .retriever
            .search(SearchRequest {
                workspace: conversation.workspace.clone(),
                question: query.clone(),
                locale: conversation.customer.locale.clone(),
                limit: self.config.retrieve_limit,
                mode,
            })
            .await
        {
            Ok(results) => results.hits,
            Err(error) => {
                tracing::error!(%error, "retrieval failed");
                Vec::new()
            }
        };
        trace.time("retrieve", started);
        let started = Instant::now();
        let judgement = judge(&self.config.judge, &message, &query, &hits);
        // The rest of the pipeline (answer, citations, evidence, the model's context) sees the
        // hits in the judge's order: best first.
        // (Moved, not cloned: `order` is a permutation of the hits' indexes.)
        let mut slots: Vec<Option<SearchHit>> = hits.into_iter().map(Some).collect();
        let hits: Vec<SearchHit> = judgement
            .order
            .iter()
            .filter_map(|&i| slots[i].take())
            .collect();
        let evidence = to_evidence(&hits);
        trace.time("judge", started);

        if judgement.confidence < self.config.min_confidence(&conversation.workspace) {
            let (kind, reason, text) = self.below_threshold(&message, &hits, &judgement);
            let summary = (kind == DecisionKind::Handoff)
                .then(|| summary(&message, &earlier_customer, reason));
            return self
                .finish(
                    trace,
                    Draft {
                        kind,
                        reason,
                        answer: text,
                        summary,
                        query,
                        citations: vec![],
                        confidence: judgement.confidence,
                        evidence,
                    },
                    events,
                )
                .await;
        }

        // 4. Answer.
        step("generate");
        let started = Instant::now();
        if let Some(generator) = &self.generator {
            let tokens = events.cloned();
            match generator.answer(&history, &message, &hits, tokens).await {
                Ok(generated) => {
                    trace.usage.add(generated.usage);
                    trace.time("generate", started);
                    let outcome = self
                        .check_generated(
                            generator.as_ref(),
                            &history,
                            &message,
                            &hits,
                            generated,
                            &mut trace,
                        )
                        .await;
                    let (kind, reason, text, citations) = outcome;
                    let summary = (kind == DecisionKind::Handoff)
                        .then(|| summary(&message, &earlier_customer, reason));
                    let text = guardrails::restore(&text, &entities);
                    return self
                        .finish(
                            trace,
                            Draft {
                                kind,
                                reason,
                                answer: text,
                                summary,
                                query,
                                citations,
                                confidence: judgement.confidence,
                                evidence,
                            },
                            None,
                        )
                        .await;
                }
                Err(error) => {
                    tracing::warn!(%error, "model unavailable; falling back to the extractive answer");
                    trace.time("generate", started);
                    // Fall through to the extractive answer, recording why.
                    let (text, citations) = self.extractive_answer(&hits, &query);
                    if text.is_empty() {
                        let summary =
                            Some(summary(&message, &earlier_customer, Reason::LlmUnavailable));
                        return self
                            .finish(
                                trace,
                                Draft {
                                    kind: DecisionKind::Handoff,
                                    reason: Reason::LlmUnavailable,
                                    answer: say::HANDOFF.into(),
                                    summary,
                                    query,
                                    citations: vec![],
                                    confidence: judgement.confidence,
                                    evidence,
                                },
                                events,
                            )
                            .await;
                    }
                    trace.timings.insert("llm_fallback".into(), 1.0);
                    let draft =
                        Draft::answered(text, query, citations, judgement.confidence, evidence);
                    return self.finish(trace, draft, events).await;
                }
            }
        }
        let (text, citations) = self.extractive_answer(&hits, &query);
        trace.time("generate", started);
        // 5. Output guardrail: even extractive text must be supported by what it cites.
        let cited_text = cited_text(hits.as_slice(), &citations);
        if text.is_empty() || !unsupported_sentences(&text, &cited_text).is_empty() {
            let summary = Some(summary(
                &message,
                &earlier_customer,
                Reason::UnsupportedAnswer,
            ));
            return self
                .finish(
                    trace,
                    Draft {
                        kind: DecisionKind::Handoff,
                        reason: Reason::UnsupportedAnswer,
                        answer: say::NO_CONTENT.into(),
                        summary,
                        query,
                        citations: vec![],
                        confidence: judgement.confidence,
                        evidence,
                    },
                    events,
                )
                .await;
        }
        let draft = Draft::answered(text, query, citations, judgement.confidence, evidence);
        self.finish(trace, draft, events).await
    }

    /// Low confidence: ask when the message is vague and the evidence points several ways,
    /// otherwise hand off.
    fn below_threshold(
        &self,
        message: &str,
        hits: &[SearchHit],
        judgement: &Judgement,
    ) -> (DecisionKind, Reason, String) {
        let nothing_relevant = judgement.dense.map_or(judgement.coverage == 0.0, |d| {
            d < self.config.judge.min_relevance
        });
        if let Some(question) = clarifying_question(message, hits) {
            return (DecisionKind::Clarify, Reason::NeedsClarification, question);
        }
        if nothing_relevant {
            (
                DecisionKind::Handoff,
                Reason::NoRelevantContent,
                say::NO_CONTENT.into(),
            )
        } else {
            (
                DecisionKind::Handoff,
                Reason::LowConfidence,
                say::NO_CONTENT.into(),
            )
        }
    }

    fn extractive_answer(&self, hits: &[SearchHit], query: &str) -> (String, Vec<Citation>) {
        // The hits are in the judge's order: the first is the best.
        let Some(best) = hits.first() else {
            return (String::new(), vec![]);
        };
        let passage = extractive::passage(best, query);
        if passage.text.trim().is_empty() {
            return (String::new(), vec![]);
        }
        let text = extractive::render(&passage, &best.chunk.title, best.chunk.url.as_deref());
        let citation = Citation {
            article_id: best.chunk.article_id.clone(),
            title: best.chunk.title.clone(),
            url: best.chunk.url.clone(),
            chunk_ids: vec![best.chunk.id],
        };
        (text, vec![citation])
    }

    /// Output guardrails on a model's answer: citations must point at retrieved chunks and the
    /// answer must be supported by them. One regeneration, then a handoff.
    async fn check_generated(
        &self,
        generator: &dyn Generator,
        history: &[fathom_core::Turn],
        message: &str,
        hits: &[SearchHit],
        mut generated: Generated,
        trace: &mut Trace,
    ) -> (DecisionKind, Reason, String, Vec<Citation>) {
        for attempt in 0..2 {
            match generated.decision {
                DecisionKind::Handoff => {
                    return (
                        DecisionKind::Handoff,
                        Reason::LowConfidence,
                        say::HANDOFF.into(),
                        vec![],
                    )
                }
                DecisionKind::Clarify => {
                    return (
                        DecisionKind::Clarify,
                        Reason::NeedsClarification,
                        generated.answer,
                        vec![],
                    )
                }
                DecisionKind::Answer => {}
            }
            let bad_citations = unknown_citations(&generated.citations, hits);
            let cited_text = cited_text(hits, &generated.citations);
            let supported = if generated.citations.is_empty() || !bad_citations.is_empty() {
                false
            } else {
                match generator
                    .judge_support(&generated.answer, &cited_text)
                    .await
                {
                    Some(Ok((verdict, usage))) => {
                        trace.usage.add(usage);
                        verdict
                    }
                    Some(Err(error)) => {
                        tracing::warn!(%error, "support judge failed; using the lexical check");
                        unsupported_sentences(&generated.answer, &cited_text).is_empty()
                    }
                    None => unsupported_sentences(&generated.answer, &cited_text).is_empty(),
                }
            };
            if supported {
                return (
                    DecisionKind::Answer,
                    Reason::Answered,
                    generated.answer,
                    generated.citations,
                );
            }
            if attempt == 0 {
                tracing::info!("answer not supported by its citations; regenerating once");
                match generator.answer(history, message, hits, None).await {
                    Ok(again) => {
                        trace.usage.add(again.usage);
                        generated = again;
                    }
                    Err(_) => break,
                }
            }
        }
        (
            DecisionKind::Handoff,
            Reason::UnsupportedAnswer,
            say::NO_CONTENT.into(),
            vec![],
        )
    }

    async fn finish(
        &self,
        mut trace: Trace,
        draft: Draft,
        events: Option<&mpsc::Sender<AnswerEvent>>,
    ) -> Decision {
        let Draft {
            kind: decision,
            reason,
            answer,
            summary,
            query,
            citations,
            confidence,
            evidence,
        } = draft;
        if let Some(events) = events {
            // Non-streamed replies (extractive, canned) still arrive as tokens, word by word.
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
        tracing::info!(decision = ?decision, reason = %reason, confidence, "decided");
        Decision {
            decision,
            reason,
            answer,
            citations,
            confidence,
            summary,
            query,
            evidence,
            usage: trace.usage,
            timings_ms: trace.timings,
        }
    }
}

/// A decision before the trace's token usage and timings are added to it.
struct Draft {
    kind: DecisionKind,
    reason: Reason,
    answer: String,
    summary: Option<String>,
    query: String,
    citations: Vec<Citation>,
    confidence: f32,
    evidence: Vec<Evidence>,
}

impl Draft {
    /// An answer with its citations.
    fn answered(
        answer: String,
        query: String,
        citations: Vec<Citation>,
        confidence: f32,
        evidence: Vec<Evidence>,
    ) -> Self {
        Self {
            kind: DecisionKind::Answer,
            reason: Reason::Answered,
            answer,
            summary: None,
            query,
            citations,
            confidence,
            evidence,
        }
    }
}

fn to_evidence(hits: &[SearchHit]) -> Vec<Evidence> {
    hits.iter()
        .map(|h| Evidence {
            chunk_id: h.chunk.id,
            article_id: h.chunk.article_id.to_string(),
            title: h.chunk.title.clone(),
            url: h.chunk.url.clone(),
            heading_path: h.chunk.heading_path.clone(),
            score: h.score,
            dense_score: h.dense_score,
            text: h.chunk.text.clone(),
        })
        .collect()
}

/// The text of the retrieved chunks the citations point at: what an answer must be supported by.
fn cited_text(hits: &[SearchHit], citations: &[Citation]) -> String {
    hits.iter()
        .filter(|h| citations.iter().any(|c| c.chunk_ids.contains(&h.chunk.id)))
        .map(|h| h.chunk.text.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Words that point back at something earlier ("it", "that one").
const REFERENTS: &[&str] = &[
    "it", "its", "they", "them", "this", "that", "these", "those", "he", "she",
];

/// A clarifying question when the message is vague (few content words, or leaning on an
/// unresolved "it"/"that") and the evidence is spread over several articles.
fn clarifying_question(message: &str, hits: &[SearchHit]) -> Option<String> {
    let words: Vec<String> = message
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let content = crate::lexical::terms(message).len();
    let leans_on_referent = words.iter().any(|w| REFERENTS.contains(&w.as_str()));
    let vague = content <= 1 || (leans_on_referent && content <= 4);
    if !vague {
        return None;
    }
    let mut titles: Vec<&str> = Vec::new();
    for hit in hits {
        if !titles.contains(&hit.chunk.title.as_str()) {
            titles.push(&hit.chunk.title);
        }
        if titles.len() == 2 {
            break;
        }
    }
    Some(match titles.as_slice() {
        [a, b] => format!("Could you tell me a bit more about what you mean? For example, is your question about \"{a}\" or \"{b}\"?"),
        [a] => format!("Could you tell me a bit more about what you mean? Is your question about \"{a}\"?"),
        _ => "Could you tell me a bit more about what you're trying to do?".to_string(),
    })
}

fn already_offered(history: &[fathom_core::Turn]) -> bool {
    history
        .iter()
        .any(|t| t.role == Role::Agent && t.text == say::OFFER_HUMAN)
}

/// "yes please" right after the bot offered a person.
fn accepts_offer(history: &[fathom_core::Turn], lower_message: &str) -> bool {
    let offered_last = history
        .last()
        .is_some_and(|t| t.role == Role::Agent && t.text == say::OFFER_HUMAN);
    let yes = [
        "yes",
        "yes please",
        "yeah",
        "yep",
        "sure",
        "please do",
        "ok",
        "okay",
        "y",
    ];
    offered_last && yes.contains(&lower_message.trim().trim_end_matches(['.', '!']))
}

/// One or two lines for the human agent.
fn summary(message: &str, earlier_customer: &[&str], reason: Reason) -> String {
    let clip = |s: &str| -> String {
        let s: String = s.chars().take(200).collect();
        s.replace('\n', " ")
    };
    match earlier_customer.last() {
        Some(previous) => format!(
            "Customer asks: \"{}\" (earlier: \"{}\"). Handed over: {reason}.",
            clip(message),
            clip(previous)
        ),
        None => format!(
            "Customer asks: \"{}\". Handed over: {reason}.",
            clip(message)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocked_phrases_match_whole_words_only() {
        let legal = &BlockedTopic::defaults()[0];
        assert!(legal.matches("i will sue you for this"));
        assert!(!legal.matches("pursue your goals"));
    }
}
