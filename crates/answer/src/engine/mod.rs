//! The pipeline, one small step at a time; any step may end the turn with a reply:
//!
//! 1. [`read_input`](AnswerEngine::read_input): size limits, then PII redaction;
//! 2. [`route_intent`](AnswerEngine::route_intent): a person asked for (or an offer accepted),
//!    prompt injection, a blocked topic, frustration or a repeated question;
//! 3. [`understand`](AnswerEngine::understand): the standalone query;
//! 4. [`retrieve`](AnswerEngine::retrieve): hybrid search (a broken index ends the turn as
//!    `retrieval_unavailable`, never as "nothing relevant"); with a model, a question in another
//!    language than the articles found is translated into theirs and searched again;
//! 5. [`weigh`](AnswerEngine::weigh): the judge's rerank and confidence; below the threshold,
//!    a clarifying question or a handoff;
//! 6. [`reply`](AnswerEngine::reply): the LLM's or the extractive answer, then the output
//!    guardrails (citations retrieved, every sentence supported).
//!
//! The bot's own sentences come from [`Replies`] (files in `prompts/replies/`), in the message's
//! locale: the customer's when known, else the language the customer writes in.

mod clarify;
mod config;
mod health;
mod outcome;

use std::sync::Arc;

use fathom_core::{
    AnswerEvent, Awaiting, Citation, Conversation, Decision, DecisionKind, Evidence, Reason, Role,
    SearchHit, Turn,
};
use fathom_retrieve::{standalone_query, RetrieveError, Retriever, SearchRequest, SearchResults};
use tokio::sync::mpsc;

pub use config::{AnswerConfig, BlockedTopic};
pub use health::RetrievalHealth;

use crate::answerability::{features, Asked, Candidate};
use crate::answerability::{Assessment, ModelFile};
use crate::extractive;
use crate::generate::{Generated, Generator};
use crate::guardrails::{self, PiiEntity};
use crate::judge::{judge, nothing_relevant};
use crate::lexical;
use crate::lexical::Language;
use crate::prompts::{Replies, Reply};
use crate::support::{unknown_citations, unsupported_sentences};
use outcome::{finish, Draft, Step, Trace};

pub struct AnswerEngine {
    retriever: Retriever,
    config: AnswerConfig,
    generator: Option<Arc<dyn Generator>>,
    replies: Replies,
    models: Arc<ModelFile>,
    health: Arc<RetrievalHealth>,
}

impl std::fmt::Debug for AnswerEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnswerEngine")
            .field("config", &self.config)
            .field("llm", &self.generator.is_some())
            .finish()
    }
}

/// The customer's turn after the input guardrails: PII replaced by placeholders, ready for
/// retrieval and models.
struct Input<'a> {
    conversation: &'a Conversation,
    history: Vec<Turn>,
    message: String,
    /// The customer's values behind the placeholders, restored into a model's reply.
    entities: Vec<PiiEntity>,
    /// The locale the bot replies in (see [`reply_locale`]).
    locale: Option<String>,
}

impl Input<'_> {
    fn locale(&self) -> Option<&str> {
        self.locale.as_deref()
    }

    fn earlier_customer(&self) -> Vec<&str> {
        self.history
            .iter()
            .filter(|t| t.role == Role::Customer)
            .map(|t| t.text.as_str())
            .collect()
    }

    /// What the bot's previous reply left open.
    fn awaiting(&self) -> Option<&Awaiting> {
        self.history
            .last()
            .filter(|t| t.role == Role::Agent)
            .and_then(|t| t.awaiting.as_ref())
    }

    fn offered_human_before(&self) -> bool {
        self.history
            .iter()
            .any(|t| t.role == Role::Agent && t.awaiting == Some(Awaiting::HumanOffer))
    }

    /// One or two lines for the human agent.
    fn summary(&self, reason: Reason) -> String {
        let clip = |s: &str| -> String {
            let s: String = s.chars().take(200).collect();
            s.replace('\n', " ")
        };
        match self.earlier_customer().last() {
            Some(previous) => format!(
                "Customer asks: \"{}\" (earlier: \"{}\"). Handed over: {reason}.",
                clip(&self.message),
                clip(previous)
            ),
            None => format!(
                "Customer asks: \"{}\". Handed over: {reason}.",
                clip(&self.message)
            ),
        }
    }

    /// A handoff, with the summary for the person who takes over.
    fn hand_off(&self, reason: Reason, text: String) -> Draft {
        Draft::new(DecisionKind::Handoff, reason, text).with_summary(self.summary(reason))
    }
}

/// The judge's signals for one turn (see [`AnswerEngine::inspect`]).
#[derive(Debug, Clone, Default)]
pub struct Inspection {
    pub stopped: Option<Reason>,
    pub query: String,
    pub asked: Option<Asked>,
    /// The first retrieved chunks' signals, in retrieval order.
    pub candidates: Vec<Candidate>,
    /// Each candidate's article id.
    pub articles: Vec<String>,
}

/// A probe's outcome (see [`AnswerEngine::probe`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Probed {
    pub confidence: f32,
    /// The article an extractive answer would cite.
    pub article: String,
}

/// What the retrieve step found, and the words it found it with.
struct Retrieved {
    hits: Vec<SearchHit>,
    /// The query in the articles' language, when the first search found articles in another
    /// language than the message's and the model translated it (LLM mode): the hits are the
    /// translation's, and the judge reads it instead of the customer's words.
    translated: Option<String>,
}

impl Retrieved {
    /// What the judge reads: (the customer's words, the standalone query).
    fn asked<'a>(&'a self, message: &'a str, query: &'a str) -> (&'a str, &'a str) {
        match &self.translated {
            Some(translated) => (translated, translated),
            None => (message, query),
        }
    }
}

/// What retrieval found, in the judge's order (best first), and how sure the judge is.
struct Found {
    /// The query as searched (translated, in a cross-lingual turn).
    query: String,
    hits: Vec<SearchHit>,
    judgement: Assessment,
    /// The fitted model that judged (its threshold is the default).
    model: &'static str,
}

impl Found {
    fn evidence(&self) -> Vec<Evidence> {
        to_evidence(&self.hits)
    }

    /// A draft carrying what was searched and found.
    fn draft(&self, draft: Draft) -> Draft {
        Draft {
            query: self.query.clone(),
            confidence: self.judgement.confidence,
            evidence: self.evidence(),
            ..draft
        }
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
            replies: Replies::default(),
            models: Arc::new(ModelFile::builtin()),
            health: Arc::new(RetrievalHealth::default()),
        }
    }

    /// The same engine speaking these sentences (e.g. loaded from the deployer's prompts folder).
    pub fn with_replies(mut self, replies: Replies) -> Self {
        self.replies = replies;
        self
    }

    /// The same engine judging with these fitted models (e.g. a file from `fathom answerability
    /// fit`).
    pub fn with_models(mut self, models: ModelFile) -> Self {
        self.models = Arc::new(models);
        self
    }

    pub fn config(&self) -> &AnswerConfig {
        &self.config
    }

    pub fn models(&self) -> &ModelFile {
        &self.models
    }

    /// The model this engine judges with: dense with a dense embedder, lexical without.
    pub fn model_name(&self) -> &'static str {
        match self.retriever.default_mode() {
            fathom_core::RetrievalMode::Bm25 => ModelFile::LEXICAL,
            _ => ModelFile::DENSE,
        }
    }

    /// The confidence `workspace`'s answers need: its own threshold, the configured one, or the
    /// one the model's fit chose.
    pub fn threshold(&self, workspace: &fathom_core::WorkspaceId) -> f32 {
        self.threshold_for(workspace, self.model_name())
    }

    /// The threshold the engine's model chose when it was fitted, whatever a workspace or a
    /// deployer set.
    pub fn model_threshold(&self) -> f32 {
        self.models.model(self.model_name()).threshold
    }

    /// The threshold a message in `language` is judged at: the engine's model's (see
    /// [`Self::threshold`]), or, for a language the dense model does not read, the `foreign`
    /// model's (a deployer's threshold still wins over either).
    pub fn threshold_in(&self, workspace: &fathom_core::WorkspaceId, language: Language) -> f32 {
        let model = self.model_name();
        let reads = crate::judge::dense_reads(self.retriever.dense_languages(), language);
        if model == ModelFile::DENSE && !reads {
            self.threshold_for(workspace, ModelFile::FOREIGN)
        } else {
            self.threshold_for(workspace, model)
        }
    }

    /// The same for a turn judged by `model`. A workspace's calibration was measured with the
    /// engine's model (`model_name`), and holds for `first_turn` too, which was fitted to answer
    /// at the dense model's threshold; a turn judged by another (`foreign`: a language the dense
    /// model does not read) keeps the deployer's threshold or its model's own.
    fn threshold_for(&self, workspace: &fathom_core::WorkspaceId, model: &str) -> f32 {
        let engines = self.model_name();
        let set = if model == engines
            || (engines == ModelFile::DENSE && model == ModelFile::FIRST_TURN)
        {
            self.config.min_confidence(workspace)
        } else {
            self.config.configured_min_confidence(workspace)
        };
        set.unwrap_or_else(|| self.models.model(model).threshold)
    }

    /// Whether retrieval works, for readiness checks.
    pub fn retrieval_health(&self) -> Arc<RetrievalHealth> {
        Arc::clone(&self.health)
    }

    /// Check retrieval now if it last failed: `Err` with the error while it still fails.
    pub async fn check_retrieval(&self) -> Result<(), String> {
        self.health.check(&self.retriever).await
    }

    /// The same engine with these workspaces' thresholds (e.g. from the gateway's config file).
    pub fn with_workspace_min_confidence(
        mut self,
        thresholds: impl IntoIterator<Item = (fathom_core::WorkspaceId, f32)>,
    ) -> Self {
        self.config.workspace_min_confidence.extend(thresholds);
        self
    }

    /// The same engine with these workspaces' calibrated thresholds (from `fathom calibrate`).
    pub fn with_workspace_calibration(
        mut self,
        thresholds: impl IntoIterator<Item = (fathom_core::WorkspaceId, f32)>,
    ) -> Self {
        self.config.workspace_calibrated.extend(thresholds);
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

    /// The judge's signals for the latest message, without deciding: what `fathom answerability
    /// dump` records to fit the models on. `stopped` is set when a guardrail would end the turn
    /// before retrieval (or retrieval failed).
    pub async fn inspect(&self, conversation: &Conversation) -> Inspection {
        let mut trace = Trace::new(None);
        let stopped = |draft: Box<Draft>| Inspection {
            stopped: Some(draft.reason),
            ..Inspection::default()
        };
        let input = match self.read_input(conversation) {
            Ok(input) => input,
            Err(draft) => return stopped(draft),
        };
        if let Err(draft) = self.route_intent(&input) {
            return stopped(draft);
        }
        let query = self.understand(&input, &mut trace).await;
        let retrieved = match self.retrieve(&input, &query, &mut trace).await {
            Ok(retrieved) => retrieved,
            Err(draft) => return stopped(draft),
        };
        let (message, searched) = retrieved.asked(&input.message, &query);
        let asked = Asked::among(message, searched, &retrieved.hits);
        let candidates =
            features::candidates(&asked, &retrieved.hits, self.config.judge.rerank_depth);
        let articles = retrieved
            .hits
            .iter()
            .take(candidates.len())
            .map(|h| h.chunk.article_id.to_string())
            .collect();
        Inspection {
            stopped: None,
            query: searched.to_string(),
            asked: Some(asked),
            candidates,
            articles,
        }
    }

    /// The confidence and the article an answer would cite for the latest message, judged as if
    /// the chunks `removed` picks did not exist (they are dropped from the evidence): what
    /// `fathom calibrate` measures on questions made from the workspace's own articles. `None`
    /// when the input is refused or nothing is left.
    pub async fn probe(
        &self,
        conversation: &Conversation,
        removed: impl Fn(&fathom_core::Chunk) -> bool,
    ) -> Option<Probed> {
        let mut trace = Trace::new(None);
        let input = self.read_input(conversation).ok()?;
        let query = self.understand(&input, &mut trace).await;
        let mut retrieved = self.retrieve(&input, &query, &mut trace).await.ok()?;
        retrieved.hits.retain(|h| !removed(&h.chunk));
        let (message, searched) = retrieved.asked(&input.message, &query);
        let (assessment, _) = judge(
            &self.config.judge,
            &self.models,
            message,
            searched,
            &retrieved.hits,
            self.retriever.dense_languages(),
        );
        let top = retrieved.hits.get(*assessment.order.first()?)?;
        Some(Probed {
            confidence: assessment.confidence,
            article: top.chunk.article_id.to_string(),
        })
    }

    #[tracing::instrument(skip_all, fields(workspace = %conversation.workspace))]
    async fn run(
        &self,
        conversation: &Conversation,
        events: Option<&mpsc::Sender<AnswerEvent>>,
    ) -> Decision {
        let mut trace = Trace::new(events);
        let draft = match self.steps(conversation, &mut trace).await {
            Ok(draft) => draft,
            Err(ended) => *ended,
        };
        finish(trace, draft).await
    }

    /// The turn, step by step; `?` is where a step ended it.
    async fn steps(&self, conversation: &Conversation, trace: &mut Trace<'_>) -> Step<Draft> {
        let started = trace.start("guardrails");
        let input = self.read_input(conversation)?;
        self.route_intent(&input)?;
        trace.time("guardrails", started);

        let query = self.understand(&input, trace).await;
        let retrieved = self.retrieve(&input, &query, trace).await?;
        let found = self.weigh(&input, query, retrieved, trace)?;
        Ok(self.reply(&input, found, trace).await)
    }

    /// Size limits on the raw input, then one redactor over the whole conversation (the same
    /// value gets the same placeholder everywhere).
    fn read_input<'a>(&self, conversation: &'a Conversation) -> Step<Input<'a>> {
        let locale = reply_locale(conversation);
        let history_texts = conversation.history.iter().map(|t| t.text.as_str());
        if let Err(error) =
            guardrails::check_limits(&self.config.limits, &conversation.message, history_texts)
        {
            tracing::info!(code = error.code(), %error, "input refused");
            let (reason, reply) = match error {
                guardrails::LimitError::EmptyMessage => (Reason::NeedsClarification, Reply::Empty),
                _ => (Reason::GuardrailInputTooLong, Reply::TooLong),
            };
            let text = self.replies.text(locale.as_deref(), reply);
            return Draft::new(DecisionKind::Clarify, reason, text).end();
        }
        let mut redactor = guardrails::Redactor::new();
        let history = conversation
            .history
            .iter()
            .map(|t| Turn {
                text: redactor.redact(&t.text),
                ..t.clone()
            })
            .collect();
        let message = redactor.redact(&conversation.message);
        Ok(Input {
            conversation,
            history,
            message,
            entities: redactor.into_entities(),
            locale,
        })
    }

    /// What the customer wants before what they ask: a person (asked for, or an offer accepted),
    /// to change the bot's instructions, a topic the business answers in person, or help after
    /// frustration or asking again (a person is offered once).
    fn route_intent(&self, input: &Input<'_>) -> Step<()> {
        let locale = input.locale();
        let say = |reply| self.replies.text(locale, reply);
        let accepts_offer = input.awaiting() == Some(&Awaiting::HumanOffer)
            && self.replies.accepts_offer(locale, &input.message);
        if accepts_offer || guardrails::wants_human(&input.message) {
            let reason = Reason::CustomerRequestedHuman;
            return input.hand_off(reason, say(Reply::Handoff)).end();
        }
        // On the raw message: redaction would hide an encoded payload.
        if guardrails::detect_injection(&input.conversation.message).is_some() {
            let text = say(Reply::Injection);
            return Draft::new(DecisionKind::Clarify, Reason::GuardrailInjection, text).end();
        }
        let lower = input.message.to_lowercase();
        if self.config.blocked_topics.iter().any(|t| t.matches(&lower)) {
            let reason = Reason::GuardrailBlockedTopic;
            return input.hand_off(reason, say(Reply::Blocked)).end();
        }
        if input.offered_human_before() {
            return Ok(());
        }
        let reason = if guardrails::frustration(&input.message).is_some() {
            Reason::CustomerFrustrated
        } else if guardrails::is_repeated_question(&input.message, &input.earlier_customer()) {
            Reason::RepeatedQuestion
        } else {
            return Ok(());
        };
        // An offer is a question to the customer, not yet a handoff.
        Draft::new(DecisionKind::Clarify, reason, say(Reply::OfferHuman))
            .with_summary(input.summary(reason))
            .awaiting(Awaiting::HumanOffer)
            .end()
    }

    /// The standalone search query: the model's rewrite when one is configured and there is
    /// history, otherwise the message with carried context.
    async fn understand(&self, input: &Input<'_>, trace: &mut Trace<'_>) -> String {
        let started = trace.start("rewrite");
        let carried = || standalone_query(&input.history, &input.message, self.config.carry);
        let query = match (&self.generator, input.history.is_empty()) {
            (Some(generator), false) => {
                match generator
                    .rewrite_query(&input.history, &input.message)
                    .await
                {
                    Ok((query, usage)) => {
                        trace.usage.add(usage);
                        query
                    }
                    Err(error) => {
                        tracing::warn!(%error, "query rewrite failed; carrying terms instead");
                        carried()
                    }
                }
            }
            _ => carried(),
        };
        trace.time("rewrite", started);
        query
    }

    /// Search the workspace's knowledge. A query with nothing to search for finds nothing; a
    /// store or embedder that fails ends the turn as `retrieval_unavailable`.
    async fn retrieve(
        &self,
        input: &Input<'_>,
        query: &str,
        trace: &mut Trace<'_>,
    ) -> Step<Retrieved> {
        let started = trace.start("retrieve");
        let workspace = &input.conversation.workspace;
        let result = self.search(input, query).await;
        trace.time("retrieve", started);
        let hits = match result {
            Ok(results) => {
                self.health.succeeded();
                results.hits
            }
            Err(RetrieveError::EmptyQuestion) => Vec::new(),
            Err(error) => {
                tracing::error!(%error, workspace = %workspace, "retrieval failed");
                self.health.failed(workspace, &error);
                let reason = Reason::RetrievalUnavailable;
                let text = self
                    .replies
                    .text(input.locale(), Reply::RetrievalUnavailable);
                let draft = input.hand_off(reason, text);
                return Draft {
                    query: query.to_string(),
                    ..draft
                }
                .end();
            }
        };
        Ok(self.cross_lingual(input, query, hits, trace).await)
    }

    async fn search(
        &self,
        input: &Input<'_>,
        question: &str,
    ) -> Result<SearchResults, RetrieveError> {
        self.retriever
            .search(SearchRequest {
                workspace: input.conversation.workspace.clone(),
                question: question.to_string(),
                locale: input.conversation.customer.locale.clone(),
                limit: self.config.retrieve_limit,
                mode: self.retriever.default_mode(),
            })
            .await
    }

    /// Cross-lingual: the best hits are in another language than the message. With a model,
    /// translate the query into theirs (one call) and search again; the judge then reads the
    /// translation. Without one (or when either call fails), the first hits stay: the judge
    /// reads the message in its own language against articles in another, finds little in
    /// common, and hands off.
    async fn cross_lingual(
        &self,
        input: &Input<'_>,
        query: &str,
        hits: Vec<SearchHit>,
        trace: &mut Trace<'_>,
    ) -> Retrieved {
        let first = |hits| Retrieved {
            hits,
            translated: None,
        };
        let (Some(generator), Some(language)) = (
            &self.generator,
            lexical::other_articles_language(&input.message, &hits),
        ) else {
            return first(hits);
        };
        let started = trace.start("translate");
        let translation = generator
            .translate_query(query, language.english_name())
            .await;
        trace.time("translate", started);
        let translated = match translation {
            Some(Ok((translated, usage))) => {
                trace.usage.add(usage);
                translated
            }
            Some(Err(error)) => {
                tracing::warn!(%error, "query translation failed; judging the first search");
                return first(hits);
            }
            None => return first(hits),
        };
        match self.search(input, &translated).await {
            Ok(results) => {
                tracing::debug!(%language, "query translated into the articles' language");
                Retrieved {
                    hits: results.hits,
                    translated: Some(translated),
                }
            }
            Err(error) => {
                tracing::warn!(%error, "search with the translated query failed");
                first(hits)
            }
        }
    }

    /// The judge's rerank and confidence. Below the workspace's threshold: a clarifying question
    /// when the message is vague or refers to one of several things the conversation named,
    /// otherwise a handoff.
    fn weigh(
        &self,
        input: &Input<'_>,
        query: String,
        retrieved: Retrieved,
        trace: &mut Trace<'_>,
    ) -> Step<Found> {
        let started = trace.start("judge");
        let (message, searched) = retrieved.asked(&input.message, &query);
        let (judgement, model) = judge(
            &self.config.judge,
            &self.models,
            message,
            searched,
            &retrieved.hits,
            self.retriever.dense_languages(),
        );
        let query = searched.to_string();
        let hits = retrieved.hits;
        // Moved into the judge's order, not cloned: `order` is a permutation of the indexes.
        let mut slots: Vec<Option<SearchHit>> = hits.into_iter().map(Some).collect();
        let hits = judgement
            .order
            .iter()
            .filter_map(|&i| slots[i].take())
            .collect();
        let found = Found {
            query,
            hits,
            judgement,
            model,
        };
        trace.time("judge", started);
        let threshold = self.threshold_for(&input.conversation.workspace, found.model);
        if found.judgement.confidence >= threshold {
            return Ok(found);
        }
        let locale = input.locale();
        let open = clarify::ambiguous_reference(&input.message, &input.history);
        if open.is_some() || clarify::is_vague(&input.message) {
            let options = match open {
                Some(named) if !named.is_empty() => named,
                _ => clarify::options(&found.hits, 2),
            };
            let names: Vec<&str> = options.iter().map(String::as_str).collect();
            let question = self.replies.clarify(locale, &names);
            let draft = Draft::new(DecisionKind::Clarify, Reason::NeedsClarification, question)
                .awaiting(Awaiting::Clarification { options });
            return found.draft(draft).end();
        }
        let reason = if nothing_relevant(&self.config.judge, &found.judgement, found.model) {
            Reason::NoRelevantContent
        } else {
            Reason::LowConfidence
        };
        let text = self.replies.text(locale, Reply::NoContent);
        found.draft(input.hand_off(reason, text)).end()
    }

    /// The answer: the model's when one is configured (falling back to the extractive one when
    /// it fails), else the extractive passage; either must pass the output guardrails.
    async fn reply(&self, input: &Input<'_>, found: Found, trace: &mut Trace<'_>) -> Draft {
        let started = trace.start("generate");
        let Some(generator) = &self.generator else {
            let draft = self.extractive_reply(input, &found).unwrap_or_else(|| {
                let text = self.replies.text(input.locale(), Reply::NoContent);
                input.hand_off(Reason::UnsupportedAnswer, text)
            });
            let draft = self.say_when_quoted_in_another_language(input, &found, draft);
            trace.time("generate", started);
            return found.draft(draft);
        };
        let tokens = trace.events().cloned();
        match generator
            .answer(&input.history, &input.message, &found.hits, tokens)
            .await
        {
            Ok(generated) => {
                trace.usage.add(generated.usage);
                trace.time("generate", started);
                let draft = self
                    .check_generated(generator.as_ref(), input, &found.hits, generated, trace)
                    .await;
                found.draft(Draft {
                    streamed: true,
                    ..draft
                })
            }
            Err(error) => {
                tracing::warn!(%error, "model unavailable; falling back to the extractive answer");
                trace.time("generate", started);
                trace.timings.insert("llm_fallback".into(), 1.0);
                let draft = self.extractive_reply(input, &found).unwrap_or_else(|| {
                    let text = self.replies.text(input.locale(), Reply::Handoff);
                    input.hand_off(Reason::LlmUnavailable, text)
                });
                found.draft(draft)
            }
        }
    }

    /// The best chunk's most relevant passage, cited, or a handoff when the support check finds
    /// a sentence its source does not hold; `None` when there is no passage to quote.
    /// An extractive answer quotes its article as written. When that article is in another
    /// language than the one the bot replies in (locale routing fell back to the workspace's
    /// other locales), say so first, in the customer's language.
    fn say_when_quoted_in_another_language(
        &self,
        input: &Input<'_>,
        found: &Found,
        mut draft: Draft,
    ) -> Draft {
        if draft.kind != DecisionKind::Answer {
            return draft;
        }
        let language = |locale: Option<&str>| locale.and_then(fathom_text::Language::from_locale);
        let Some(customer) = language(input.locale()) else {
            return draft;
        };
        let cited = draft.citations.first().and_then(|citation| {
            found
                .hits
                .iter()
                .find(|hit| hit.chunk.article_id == citation.article_id)
        });
        let Some(article) = cited.and_then(|hit| language(hit.chunk.locale.as_deref())) else {
            return draft;
        };
        if article != customer {
            let notice = self.replies.text(input.locale(), Reply::LocaleFallback);
            draft.answer = format!("{notice}\n\n{}", draft.answer);
        }
        draft
    }

    fn extractive_reply(&self, input: &Input<'_>, found: &Found) -> Option<Draft> {
        let (passage, source, citations) = extractive_answer(&found.hits, &found.query)?;
        if unsupported_sentences(&passage.text, &cited_text(&found.hits, &citations)).is_empty() {
            let line = self.replies.source_line(input.locale(), &source);
            return Some(Draft::answered(
                extractive::render(&passage, &line),
                citations,
            ));
        }
        let handoff = self.replies.text(input.locale(), Reply::NoContent);
        Some(input.hand_off(Reason::UnsupportedAnswer, handoff))
    }

    /// Output guardrails on a model's answer: citations must point at retrieved chunks and the
    /// answer must be supported by them. One regeneration, then a handoff.
    async fn check_generated(
        &self,
        generator: &dyn Generator,
        input: &Input<'_>,
        hits: &[SearchHit],
        mut generated: Generated,
        trace: &mut Trace<'_>,
    ) -> Draft {
        let locale = input.locale();
        for attempt in 0..2 {
            match generated.decision {
                DecisionKind::Handoff => {
                    let text = self.replies.text(locale, Reply::Handoff);
                    return input.hand_off(Reason::LowConfidence, text);
                }
                DecisionKind::Clarify => {
                    return Draft::new(
                        DecisionKind::Clarify,
                        Reason::NeedsClarification,
                        generated.answer,
                    )
                }
                DecisionKind::Answer => {}
            }
            if self
                .generated_is_supported(generator, &generated, hits, trace)
                .await
            {
                let text = guardrails::restore(&generated.answer, &input.entities);
                return Draft::answered(text, generated.citations);
            }
            if attempt == 0 {
                tracing::info!("answer not supported by its citations; regenerating once");
                match generator
                    .answer(&input.history, &input.message, hits, None)
                    .await
                {
                    Ok(again) => {
                        trace.usage.add(again.usage);
                        generated = again;
                    }
                    Err(_) => break,
                }
            }
        }
        let text = self.replies.text(locale, Reply::NoContent);
        input.hand_off(Reason::UnsupportedAnswer, text)
    }

    /// Every citation retrieved, and the answer supported by the cited text (the model's judge
    /// when configured, else the lexical check).
    async fn generated_is_supported(
        &self,
        generator: &dyn Generator,
        generated: &Generated,
        hits: &[SearchHit],
        trace: &mut Trace<'_>,
    ) -> bool {
        if generated.citations.is_empty()
            || !unknown_citations(&generated.citations, hits).is_empty()
        {
            return false;
        }
        let cited = cited_text(hits, &generated.citations);
        match generator.judge_support(&generated.answer, &cited).await {
            Some(Ok((verdict, usage))) => {
                trace.usage.add(usage);
                verdict
            }
            Some(Err(error)) => {
                tracing::warn!(%error, "support judge failed; using the lexical check");
                unsupported_sentences(&generated.answer, &cited).is_empty()
            }
            None => unsupported_sentences(&generated.answer, &cited).is_empty(),
        }
    }
}

/// The locale the bot replies in: the customer's when the widget or helpdesk declared one, else
/// the language detection reliably finds in the message, or, for a message too short to tell
/// ("ja bitte"), in everything the customer wrote so far. `None`: the default (English) files.
fn reply_locale(conversation: &Conversation) -> Option<String> {
    if let Some(locale) = &conversation.customer.locale {
        return Some(locale.clone());
    }
    // The opening of a text tells its language; a message over the size limit is read no further.
    let reliable = |text: &str| {
        let opening: String = text.chars().take(2_000).collect();
        fathom_text::detect(&opening)
            .filter(|detection| detection.reliable)
            .map(|detection| detection.language.code().to_string())
    };
    reliable(&conversation.message).or_else(|| {
        let customer: Vec<&str> = conversation
            .history
            .iter()
            .filter(|t| t.role == Role::Customer)
            .map(|t| t.text.as_str())
            .chain([conversation.message.as_str()])
            .collect();
        (customer.len() > 1)
            .then(|| reliable(&customer.join("\n")))
            .flatten()
    })
}

/// The best chunk's most relevant passage (the hits are in the judge's order), how to name its
/// article, and its citation; `None` when there is nothing to quote.
fn extractive_answer(
    hits: &[SearchHit],
    query: &str,
) -> Option<(extractive::Passage, String, Vec<Citation>)> {
    let best = hits.first()?;
    let passage = extractive::passage(best, query);
    if passage.text.trim().is_empty() {
        return None;
    }
    let source = extractive::source(&best.chunk.title, best.chunk.url.as_deref());
    let citations = std::iter::once(best)
        .chain(same_passage(hits, &passage.text))
        .map(|hit| Citation {
            article_id: hit.chunk.article_id.clone(),
            title: hit.chunk.title.clone(),
            url: hit.chunk.url.clone(),
            chunk_ids: vec![hit.chunk.id],
        })
        .collect();
    Some((passage, source, citations))
}

/// At most this many other articles are cited for holding the quoted passage too.
const MAX_SAME_PASSAGE: usize = 3;

/// The other articles among `hits` (after the first) whose chunk holds `passage` word for word
/// (case and spacing aside): a manual's section repeated for each model, a how-to repeated for
/// each plan. An extractive answer quotes one chunk, but the passage applies wherever it is
/// written, so those articles are cited too (one chunk each, best first, at most
/// [`MAX_SAME_PASSAGE`]).
fn same_passage<'h>(hits: &'h [SearchHit], passage: &str) -> Vec<&'h SearchHit> {
    let normalise = |text: &str| {
        text.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    };
    let quoted = normalise(passage);
    let Some(best) = hits.first() else {
        return Vec::new();
    };
    let mut same: Vec<&SearchHit> = Vec::new();
    for hit in &hits[1..] {
        if same.len() == MAX_SAME_PASSAGE {
            break;
        }
        let cited = std::iter::once(best)
            .chain(same.iter().copied())
            .any(|c| c.chunk.article_id == hit.chunk.article_id);
        if !cited && normalise(&hit.chunk.text).contains(&quoted) {
            same.push(hit);
        }
    }
    same
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lexical::test_hit;

    #[test]
    fn an_extractive_answer_cites_every_article_that_holds_its_passage_word_for_word() {
        let passage = "Press the Ambient Mode button on the remote control.";
        let hits = vec![
            test_hit(
                &format!("## Ambient Mode\n\n{passage}"),
                1.0,
                Some(0.7),
                None,
            ),
            // The same passage, spaced and cased differently, in another model's section.
            test_hit(
                "Using Ambient Mode\n\npress the  Ambient Mode button\non the remote control.",
                0.9,
                Some(0.6),
                None,
            ),
            // Close, but not the same words: not cited.
            test_hit(
                "Press the Home button on the remote control.",
                0.8,
                Some(0.5),
                None,
            ),
        ];
        let (quoted, _, citations) = extractive_answer(&hits, "ambient mode remote").unwrap();
        assert!(
            quoted.text.contains("Press the Ambient Mode button"),
            "{}",
            quoted.text
        );
        let cited: Vec<&str> = citations.iter().map(|c| c.article_id.as_str()).collect();
        assert_eq!(cited, ["a-1", "a-0.9"]);
        // At most MAX_SAME_PASSAGE others, each article once.
        let copies: Vec<SearchHit> = (0..6)
            .map(|i| test_hit(passage, 1.0 - i as f32 * 0.1, Some(0.7), None))
            .collect();
        let (_, _, citations) = extractive_answer(&copies, "ambient mode remote").unwrap();
        assert_eq!(citations.len(), 1 + MAX_SAME_PASSAGE);
    }
}
