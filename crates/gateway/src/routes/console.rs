//! The support-lead console: a static page (`/console`, with its script and stylesheet, embedded
//! in the binary) and the admin JSON it reads, behind the workspace's admin key like the rest of
//! the admin API:
//!
//! - `GET /v1/admin/console/summary`: the resolution rate (one definition,
//!   [`insights::outcome`]) with its Wilson interval, handoffs by reason,
//!   feedback with comments, and the recent conversations;
//! - `GET /v1/admin/console/questions`: handed-off and unanswered questions, grouped by shared
//!   terms;
//! - `GET /v1/admin/console/conversations/{id}`: a transcript with every decision's reason,
//!   confidence, citations and evidence, and the feedback;
//! - `GET /v1/admin/eval-reports` and `/v1/admin/eval-reports/{name}`: the HTML reports of
//!   `fathom eval --html` in `<data-dir>/eval-reports/<workspace>/`, newest first.
//!
//! The page holds no data: it asks for the key, keeps it in `sessionStorage` and sends it as
//! `Authorization: Bearer` with every call. It writes every value with `textContent`.

pub mod insights;

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use fathom_conversations::{
    now_ms, ConversationActivity, ConversationId, ConversationState, FeedbackRecord, MessageRole,
    Rating,
};
use fathom_core::{DecisionKind, WorkspaceId};
use http::{header, HeaderMap, HeaderValue, StatusCode};
use serde::{Deserialize, Serialize};

use crate::error::{json_response, ApiError, ApiResult};
use crate::path::PathParam;
use crate::routes::admin::authorize;
use crate::state::AppState;
use crate::views::ConversationView;
use insights::{
    Outcome, ResolutionPolicy, ResolutionSummary, GROUPING_METHOD, RESOLUTION_DEFINITION,
};

const CONSOLE_HTML: &str = include_str!("../../assets/console.html");
const CONSOLE_JS: &str = include_str!("../../assets/console.js");
const CONSOLE_CSS: &str = include_str!("../../assets/console.css");

/// Scripts and styles from this server only; eval reports open in a sandboxed `srcdoc` frame
/// (which inherits this policy), so their own `<style>` needs inline styles.
const CONSOLE_CSP: &str =
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
img-src 'self' data:; connect-src 'self'; frame-src 'self'; base-uri 'none'; form-action 'none'; \
frame-ancestors 'none'";

/// An eval report fetched on its own never runs scripts and loads nothing.
const REPORT_CSP: &str =
    "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'";

/// The most conversations one console view reads (a days window is cut there, and says so).
pub const MAX_CONVERSATIONS: usize = 5000;
/// Rows of lists sent to the page.
const MAX_LISTED: usize = 200;
const MAX_GROUPS: usize = 20;
const MAX_QUESTIONS_PER_GROUP: usize = 10;
const MAX_REPORT_BYTES: u64 = 32 * 1024 * 1024;
const PREVIEW_CHARS: usize = 280;

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CONSOLE_CSP),
            ),
            (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
        ],
        body,
    )
        .into_response()
}

/// `GET /console`: the page (no data in it; it asks for the admin key).
pub async fn console_page() -> Response {
    asset("text/html; charset=utf-8", CONSOLE_HTML)
}

/// `GET /console/console.js`
pub async fn console_js() -> Response {
    asset("text/javascript; charset=utf-8", CONSOLE_JS)
}

/// `GET /console/console.css`
pub async fn console_css() -> Response {
    asset("text/css; charset=utf-8", CONSOLE_CSS)
}

// --- the window a view covers --------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct WindowParams {
    days: Option<u32>,
    last: Option<usize>,
    quiet_hours: Option<u32>,
}

/// Which conversations a view covers: those of the last `days` days, or the `last` N.
#[derive(Debug, Clone, Serialize)]
pub struct WindowView {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last: Option<usize>,
    pub since_ms: i64,
    /// How long a customer must stay away after an answer for it to count as resolving.
    pub quiet_hours: u32,
    /// The window held more than [`MAX_CONVERSATIONS`]; only the newest were read.
    pub truncated: bool,
}

fn parse_window(query: Option<&str>) -> ApiResult<WindowParams> {
    let params: WindowParams = serde_urlencoded::from_str(query.unwrap_or(""))
        .map_err(|e| ApiError::bad_request("invalid_query", e.to_string()))?;
    if params.days.is_some() && params.last.is_some() {
        return Err(ApiError::bad_request(
            "invalid_query",
            "pass days or last, not both",
        ));
    }
    if params.days.is_some_and(|d| !(1..=365).contains(&d)) {
        return Err(ApiError::bad_request(
            "invalid_query",
            "days must be between 1 and 365",
        ));
    }
    if params
        .last
        .is_some_and(|n| !(1..=MAX_CONVERSATIONS).contains(&n))
    {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("last must be between 1 and {MAX_CONVERSATIONS}"),
        ));
    }
    if params.quiet_hours.is_some_and(|h| h > 720) {
        return Err(ApiError::bad_request(
            "invalid_query",
            "quiet_hours must be between 0 and 720",
        ));
    }
    Ok(params)
}

/// The workspace's conversations in the window asked for, newest first.
async fn load(
    state: &AppState,
    workspace: &WorkspaceId,
    query: Option<&str>,
) -> ApiResult<(Vec<ConversationActivity>, WindowView, i64)> {
    let params = parse_window(query)?;
    let now = now_ms();
    let days = match (params.days, params.last) {
        (None, None) => Some(7),
        (days, _) => days,
    };
    let since_ms = days.map_or(0, |d| now.saturating_sub(i64::from(d) * 24 * 3600 * 1000));
    let limit = params.last.unwrap_or(MAX_CONVERSATIONS);
    let activity = state.reports.activity(workspace, since_ms, limit).await?;
    let window = WindowView {
        days,
        last: params.last,
        since_ms,
        quiet_hours: params.quiet_hours.unwrap_or(24),
        truncated: params.last.is_none() && activity.len() >= MAX_CONVERSATIONS,
    };
    Ok((activity, window, now))
}

fn policy(window: &WindowView) -> ResolutionPolicy {
    ResolutionPolicy {
        quiet_window_ms: i64::from(window.quiet_hours) * 3600 * 1000,
    }
}

/// Tokenising and grouping can take more than a moment on a big window: off the async threads.
async fn off_the_runtime<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(ApiError::internal)
}

fn preview(text: &str) -> String {
    if text.chars().count() <= PREVIEW_CHARS {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(PREVIEW_CHARS - 1).collect();
    cut.push('…');
    cut
}

// --- summary ------------------------------------------------------------------------------

/// Why a handed-off conversation went to a person: the reason recorded at the handoff, else the
/// first handoff decision's, else `agent_took_over` (a person took it without a bot handoff).
pub fn handoff_reason(activity: &ConversationActivity) -> String {
    activity
        .conversation
        .handoff_reason
        .or_else(|| {
            activity
                .messages
                .iter()
                .filter_map(|m| m.decision.as_ref())
                .find(|d| d.kind == DecisionKind::Handoff)
                .map(|d| d.reason)
        })
        .map_or_else(|| "agent_took_over".to_string(), |r| r.as_str().to_string())
}

#[derive(Debug, Serialize)]
pub struct ConsoleSummary {
    pub workspace: String,
    pub generated_at_ms: i64,
    pub window: WindowView,
    /// How "resolved" is defined, word for word what [`insights::outcome`] does.
    pub definition: &'static str,
    pub resolution: ResolutionSummary,
    pub handoffs: HandoffCounts,
    pub feedback: FeedbackSummary,
    /// The newest conversations of the window (at most 200).
    pub conversations: Vec<ConversationRow>,
}

#[derive(Debug, Serialize)]
pub struct HandoffCounts {
    /// Conversations of the window handed off: the `handed_off` outcomes.
    pub total: u64,
    pub by_reason: BTreeMap<String, u64>,
}

#[derive(Debug, Serialize)]
pub struct FeedbackSummary {
    pub up: u64,
    pub down: u64,
    /// Feedback entries with a comment.
    pub comments: u64,
    /// Every rating or comment, newest first (at most 200).
    pub items: Vec<FeedbackItem>,
}

#[derive(Debug, Serialize)]
pub struct FeedbackItem {
    #[serde(flatten)]
    pub record: FeedbackRecord,
    /// The start of the bot message rated, if one was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rated_text: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ConversationRow {
    pub conversation_id: ConversationId,
    pub state: ConversationState,
    pub outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handoff_reason: Option<String>,
    pub created_at_ms: i64,
    /// The customer's first message (its start).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub question: Option<String>,
    pub messages: usize,
    /// The conversation's language (ISO 639-1): see [`conversation_language`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<&'static str>,
}

/// The language a conversation is held in: the one its customers' messages are written in
/// (detected over all of them together, when detection is sure of it), else the customer's
/// declared locale.
pub fn conversation_language(activity: &ConversationActivity) -> Option<&'static str> {
    let customer_text: Vec<&str> = activity
        .messages
        .iter()
        .filter(|m| m.role == MessageRole::Customer)
        .map(|m| m.text.as_str())
        .collect();
    let declared = activity.conversation.customer.locale.as_deref();
    fathom_text::language_of(&customer_text.join("\n"))
        .or_else(|| declared.and_then(fathom_text::Language::from_locale))
        .map(fathom_text::Language::code)
}

/// Everything the console's first screen shows, from the window's conversations (newest first).
pub fn summarize(
    workspace: &WorkspaceId,
    activity: &[ConversationActivity],
    window: WindowView,
    now_ms: i64,
) -> ConsoleSummary {
    let policy = policy(&window);
    let outcomes: Vec<Outcome> = activity
        .iter()
        .map(|a| insights::outcome(a, now_ms, policy))
        .collect();
    let mut by_reason: BTreeMap<String, u64> = BTreeMap::new();
    for (a, outcome) in activity.iter().zip(&outcomes) {
        if *outcome == Outcome::HandedOff {
            *by_reason.entry(handoff_reason(a)).or_default() += 1;
        }
    }
    let mut items: Vec<FeedbackItem> = activity
        .iter()
        .flat_map(|a| {
            // A bare "this solved it" is a confirmation, not feedback to read.
            a.feedback
                .iter()
                .filter(|record| record.rating.is_some() || record.comment.is_some())
                .map(|record| FeedbackItem {
                    rated_text: record.message_seq.and_then(|seq| {
                        a.messages
                            .iter()
                            .find(|m| m.seq == seq)
                            .map(|m| preview(&m.text))
                    }),
                    record: record.clone(),
                })
        })
        .collect();
    items.sort_by_key(|item| std::cmp::Reverse(item.record.created_at_ms));
    let count = |rating: Rating| {
        items
            .iter()
            .filter(|i| i.record.rating == Some(rating))
            .count() as u64
    };
    let feedback = FeedbackSummary {
        up: count(Rating::Up),
        down: count(Rating::Down),
        comments: items.iter().filter(|i| i.record.comment.is_some()).count() as u64,
        items: items.into_iter().take(MAX_LISTED).collect(),
    };
    let conversations = activity
        .iter()
        .zip(&outcomes)
        .take(MAX_LISTED)
        .map(|(a, &outcome)| ConversationRow {
            conversation_id: a.conversation.id,
            state: a.conversation.state,
            outcome,
            handoff_reason: (outcome == Outcome::HandedOff).then(|| handoff_reason(a)),
            created_at_ms: a.conversation.created_at_ms,
            question: a
                .messages
                .iter()
                .find(|m| m.role == MessageRole::Customer)
                .map(|m| preview(&m.text)),
            messages: a.messages.len(),
            language: conversation_language(a),
        })
        .collect();
    ConsoleSummary {
        workspace: workspace.to_string(),
        generated_at_ms: now_ms,
        window,
        definition: RESOLUTION_DEFINITION,
        resolution: insights::summarize(outcomes),
        handoffs: HandoffCounts {
            total: by_reason.values().sum(),
            by_reason,
        },
        feedback,
        conversations,
    }
}

/// `GET /v1/admin/console/summary`
#[utoipa::path(
    get, path = "/v1/admin/console/summary", tag = "admin",
    params(
        ("days" = Option<u32>, Query, description = "conversations of the last N days (1–365; default 7)"),
        ("last" = Option<usize>, Query, description = "or the last N conversations (1–5000)"),
        ("quiet_hours" = Option<u32>, Query, description = "quiet window after an answer, 0–720 hours (default 24)"),
    ),
    security(("admin_key" = [])),
    responses(
        (status = 200, description = "resolution rate with its definition and 95% Wilson interval, outcomes, handoffs by reason, feedback with comments, recent conversations", body = Object),
        (status = 400, body = crate::error::ErrorBody, description = "invalid_query"),
        (status = 401, body = crate::error::ErrorBody, description = "missing_authorization, invalid_api_key"),
    )
)]
pub async fn summary(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let workspace = authorize(&state, &headers)?;
    let (activity, window, now) = load(&state, &workspace, query.as_deref()).await?;
    let summary = off_the_runtime(move || summarize(&workspace, &activity, window, now)).await?;
    Ok(json_response(StatusCode::OK, &summary))
}

// --- questions ----------------------------------------------------------------------------

/// A customer message the bot did not answer: it handed off or asked to clarify instead.
#[derive(Debug, Clone, Serialize)]
pub struct UnansweredQuestion {
    pub conversation_id: ConversationId,
    pub seq: i64,
    pub text: String,
    /// `handoff` or `clarify`.
    pub decision: DecisionKind,
    pub reason: String,
    pub created_at_ms: i64,
    /// The conversation's language: questions group only with questions in the same one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<&'static str>,
}

#[derive(Debug, Serialize)]
pub struct QuestionGroupView {
    /// The language every question of the group is read in: its conversation's, else the one
    /// the answer judge reads the question in (English when detection is unsure).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<&'static str>,
    pub terms: Vec<String>,
    pub count: usize,
    /// The first ten, oldest first.
    pub questions: Vec<UnansweredQuestion>,
}

#[derive(Debug, Serialize)]
pub struct QuestionsView {
    pub window: WindowView,
    pub method: &'static str,
    /// Every unanswered or handed-off question of the window.
    pub questions: usize,
    /// The twenty largest groups.
    pub groups: Vec<QuestionGroupView>,
}

/// Every customer message that a bot message other than an answer replied to, oldest first.
pub fn unanswered_questions(activity: &[ConversationActivity]) -> Vec<UnansweredQuestion> {
    let mut questions = Vec::new();
    for a in activity.iter().rev() {
        let language = conversation_language(a);
        for (index, message) in a.messages.iter().enumerate() {
            let Some(decision) = message
                .decision
                .as_ref()
                .filter(|d| message.role == MessageRole::Bot && d.kind != DecisionKind::Answer)
            else {
                continue;
            };
            let asked = a.messages[..index]
                .iter()
                .rev()
                .take_while(|m| m.role != MessageRole::Bot)
                .find(|m| m.role == MessageRole::Customer);
            if let Some(asked) = asked {
                questions.push(UnansweredQuestion {
                    conversation_id: a.conversation.id,
                    seq: asked.seq,
                    text: preview(&asked.text),
                    decision: decision.kind,
                    reason: decision.reason.as_str().to_string(),
                    created_at_ms: asked.created_at_ms,
                    language,
                });
            }
        }
    }
    questions.sort_by_key(|q| (q.created_at_ms, q.seq));
    questions
}

/// Groups within one language: each question's terms are read in its conversation's language,
/// else in the one the answer judge reads it in (stemmed German with German, segmented Chinese
/// with Chinese), and a group never mixes languages. Largest groups first, across languages.
pub fn group_questions(questions: Vec<UnansweredQuestion>) -> Vec<QuestionGroupView> {
    let mut by_language: BTreeMap<
        Option<&'static str>,
        Vec<(UnansweredQuestion, HashSet<String>)>,
    > = BTreeMap::new();
    for question in questions {
        let language = question
            .language
            .and_then(fathom_answer::lexical::Language::from_locale)
            .unwrap_or_else(|| fathom_answer::lexical::message_language(&question.text));
        let terms = fathom_answer::lexical::term_set_in(&question.text, language);
        by_language
            .entry(Some(language.code()))
            .or_default()
            .push((question, terms));
    }
    let mut groups: Vec<(
        Option<&'static str>,
        insights::QuestionGroup<UnansweredQuestion>,
    )> = by_language
        .into_iter()
        .flat_map(|(language, items)| {
            insights::group_by_shared_terms(items)
                .into_iter()
                .map(move |group| (language, group))
        })
        .collect();
    // Stable: equal sizes keep their language's order.
    groups.sort_by_key(|(_, group)| std::cmp::Reverse(group.members.len()));
    groups
        .into_iter()
        .take(MAX_GROUPS)
        .map(|(language, group)| QuestionGroupView {
            language,
            terms: group.terms,
            count: group.members.len(),
            questions: group
                .members
                .into_iter()
                .take(MAX_QUESTIONS_PER_GROUP)
                .collect(),
        })
        .collect()
}

/// `GET /v1/admin/console/questions`
#[utoipa::path(
    get, path = "/v1/admin/console/questions", tag = "admin",
    params(
        ("days" = Option<u32>, Query, description = "conversations of the last N days (1–365; default 7)"),
        ("last" = Option<usize>, Query, description = "or the last N conversations (1–5000)"),
    ),
    security(("admin_key" = [])),
    responses(
        (status = 200, description = "handed-off and unanswered questions grouped by shared terms, largest group first, with the method", body = Object),
        (status = 400, body = crate::error::ErrorBody, description = "invalid_query"),
        (status = 401, body = crate::error::ErrorBody, description = "missing_authorization, invalid_api_key"),
    )
)]
pub async fn questions(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let workspace = authorize(&state, &headers)?;
    let (activity, window, _) = load(&state, &workspace, query.as_deref()).await?;
    let view = off_the_runtime(move || {
        let questions = unanswered_questions(&activity);
        QuestionsView {
            window,
            method: GROUPING_METHOD,
            questions: questions.len(),
            groups: group_questions(questions),
        }
    })
    .await?;
    Ok(json_response(StatusCode::OK, &view))
}

// --- one transcript -----------------------------------------------------------------------

#[derive(Debug, Serialize)]
pub struct TranscriptView {
    #[serde(flatten)]
    pub conversation: ConversationView,
    /// As the resolution rate counts it (quiet window `quiet_hours`, default 24).
    pub outcome: Outcome,
    /// Oldest first, each bot message with its decision: kind, reason, confidence, citations
    /// (with chunk ids), evidence ids, summary.
    pub transcript: Vec<fathom_conversations::StoredMessage>,
    pub feedback: Vec<FeedbackRecord>,
}

/// `GET /v1/admin/console/conversations/{id}`
#[utoipa::path(
    get, path = "/v1/admin/console/conversations/{id}", tag = "admin",
    params(
        ("id" = String, Path, description = "conversation id"),
        ("quiet_hours" = Option<u32>, Query, description = "quiet window for the outcome, 0–720 hours (default 24)"),
    ),
    security(("admin_key" = [])),
    responses(
        (status = 200, description = "the conversation, its outcome, every message with the bot's decision, reason, confidence, citations and evidence ids, and its feedback", body = Object),
        (status = 400, body = crate::error::ErrorBody, description = "invalid_query, invalid_path"),
        (status = 404, body = crate::error::ErrorBody, description = "conversation_not_found"),
    )
)]
pub async fn transcript(
    State(state): State<AppState>,
    headers: HeaderMap,
    PathParam(id): PathParam,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let workspace = authorize(&state, &headers)?;
    let params = parse_window(query.as_deref())?;
    let policy = ResolutionPolicy {
        quiet_window_ms: i64::from(params.quiet_hours.unwrap_or(24)) * 3600 * 1000,
    };
    let id = ConversationId::parse(&id).ok_or_else(ApiError::conversation_not_found)?;
    let conversation = state
        .store
        .get(&workspace, id)
        .await?
        .ok_or_else(ApiError::conversation_not_found)?;
    let messages = state.store.messages(id).await?;
    let feedback = state.reports.feedback(id).await?;
    let activity = ConversationActivity {
        conversation,
        messages,
        feedback,
    };
    let outcome = insights::outcome(&activity, now_ms(), policy);
    Ok(json_response(
        StatusCode::OK,
        &TranscriptView {
            conversation: ConversationView::new(&activity.conversation, None),
            outcome,
            transcript: activity.messages,
            feedback: activity.feedback,
        },
    ))
}

// --- eval reports ---------------------------------------------------------------------------

/// Where a workspace's eval reports live: `<data-dir>/eval-reports/<workspace>/`.
pub fn eval_reports_dir(state: &AppState, workspace: &WorkspaceId) -> Option<PathBuf> {
    state.knowledge.as_ref().map(|knowledge| {
        knowledge
            .data_dir
            .join("eval-reports")
            .join(workspace.as_str())
    })
}

/// A report's file name: `A-Z a-z 0-9 . _ -` only, not hidden, ending in `.html` or `.htm`. No
/// separator can pass, so a name never leaves the folder.
pub fn is_report_name(name: &str) -> bool {
    (1..=200).contains(&name.len())
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        && (name.ends_with(".html") || name.ends_with(".htm"))
}

#[derive(Debug, Serialize)]
pub struct EvalReportList {
    /// Where the reports are read from, relative to the data folder.
    pub folder: String,
    /// Newest first.
    pub reports: Vec<EvalReportEntry>,
}

#[derive(Debug, Serialize)]
pub struct EvalReportEntry {
    pub name: String,
    pub bytes: u64,
    pub modified_at_ms: i64,
}

fn list_reports(folder: &std::path::Path) -> std::io::Result<Vec<EvalReportEntry>> {
    let entries = match std::fs::read_dir(folder) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(error) => return Err(error),
    };
    let mut reports = Vec::new();
    for entry in entries {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        // Regular files only: `file_type` does not follow symlinks, so none can point outside.
        if !is_report_name(&name) || !entry.file_type()?.is_file() {
            continue;
        }
        let metadata = entry.metadata()?;
        let modified_at_ms = metadata
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_millis() as i64);
        reports.push(EvalReportEntry {
            name,
            bytes: metadata.len(),
            modified_at_ms,
        });
    }
    reports.sort_by(|a, b| {
        b.modified_at_ms
            .cmp(&a.modified_at_ms)
            .then_with(|| b.name.cmp(&a.name))
    });
    Ok(reports)
}

/// `GET /v1/admin/eval-reports`
#[utoipa::path(
    get, path = "/v1/admin/eval-reports", tag = "admin",
    security(("admin_key" = [])),
    responses(
        (status = 200, description = "the HTML reports of `fathom eval --html` in <data-dir>/eval-reports/<workspace>/, newest first", body = Object),
        (status = 401, body = crate::error::ErrorBody, description = "missing_authorization, invalid_api_key"),
    )
)]
pub async fn eval_reports(State(state): State<AppState>, headers: HeaderMap) -> ApiResult {
    let workspace = authorize(&state, &headers)?;
    let folder = format!("eval-reports/{workspace}");
    let Some(dir) = eval_reports_dir(&state, &workspace) else {
        return Ok(json_response(
            StatusCode::OK,
            &EvalReportList {
                folder,
                reports: vec![],
            },
        ));
    };
    let reports = off_the_runtime(move || list_reports(&dir))
        .await?
        .map_err(ApiError::internal)?;
    Ok(json_response(
        StatusCode::OK,
        &EvalReportList { folder, reports },
    ))
}

fn report_not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "report_not_found",
        "no eval report with this name in this workspace",
    )
}

/// `GET /v1/admin/eval-reports/{name}`: the report itself, as HTML that can run nothing.
#[utoipa::path(
    get, path = "/v1/admin/eval-reports/{name}", tag = "admin",
    params(("name" = String, Path, description = "a file name from the list, e.g. `2026-11-28-ibmcloud.html`")),
    security(("admin_key" = [])),
    responses(
        (status = 200, description = "the report (text/html, sandboxed by its Content-Security-Policy)", content_type = "text/html"),
        (status = 404, body = crate::error::ErrorBody, description = "report_not_found"),
    )
)]
pub async fn eval_report(
    State(state): State<AppState>,
    headers: HeaderMap,
    PathParam(name): PathParam,
) -> ApiResult {
    let workspace = authorize(&state, &headers)?;
    if !is_report_name(&name) {
        return Err(report_not_found());
    }
    let dir = eval_reports_dir(&state, &workspace).ok_or_else(report_not_found)?;
    let path = dir.join(&name);
    let read = off_the_runtime(move || -> std::io::Result<Option<Vec<u8>>> {
        // `symlink_metadata`: a link is not a report, wherever it points.
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.is_file() && m.len() <= MAX_REPORT_BYTES => std::fs::read(&path).map(Some),
            Ok(_) => Ok(None),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        }
    })
    .await?
    .map_err(ApiError::internal)?;
    let bytes = read.ok_or_else(report_not_found)?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(REPORT_CSP),
            ),
        ],
        Body::from(bytes),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use fathom_conversations::{DecisionRecord, StoredConversation, StoredMessage};
    use fathom_core::{CustomerAttributes, Reason};

    use super::*;

    #[test]
    fn report_names_never_leave_the_folder() {
        for good in ["report.html", "2026-11-28_ibmcloud.v2.htm", "a..html"] {
            assert!(is_report_name(good), "{good}");
        }
        for bad in [
            "../secret.html",
            "..%2fsecret.html",
            "sub/report.html",
            "sub\\report.html",
            ".hidden.html",
            "report.json",
            "report.html\0",
            "",
            "rapport-é.html",
        ] {
            assert!(!is_report_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn the_page_writes_no_untrusted_text_as_html_and_loads_nothing_from_elsewhere() {
        for forbidden in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
        ] {
            assert!(
                !CONSOLE_JS.contains(forbidden),
                "console.js uses {forbidden}"
            );
        }
        for asset in [CONSOLE_HTML, CONSOLE_JS, CONSOLE_CSS] {
            // The SVG namespace of the inline icons is a name, not something fetched.
            let asset = asset.replace("http://www.w3.org/2000/svg", "");
            assert!(!asset.contains("http://") && !asset.contains("https://"));
        }
        assert!(CONSOLE_HTML.contains(r#"<script src="/console/console.js" defer></script>"#));
        assert!(CONSOLE_JS.contains("sessionStorage"));
        assert!(CONSOLE_JS.contains(r#"frame.setAttribute("sandbox", "")"#));
    }

    fn message(
        seq: i64,
        role: MessageRole,
        text: &str,
        kind: Option<DecisionKind>,
    ) -> StoredMessage {
        StoredMessage {
            seq,
            role,
            author: None,
            text: text.into(),
            decision: kind.map(|kind| DecisionRecord {
                kind,
                reason: match kind {
                    DecisionKind::Answer => Reason::Answered,
                    DecisionKind::Clarify => Reason::NeedsClarification,
                    DecisionKind::Handoff => Reason::NoRelevantContent,
                },
                confidence: 0.5,
                citations: vec![],
                evidence_ids: vec![],
                summary: None,
                awaiting: None,
            }),
            created_at_ms: seq,
        }
    }

    fn conversation(messages: Vec<StoredMessage>) -> ConversationActivity {
        ConversationActivity {
            conversation: StoredConversation {
                id: ConversationId::random(),
                workspace: WorkspaceId::parse("acme").unwrap(),
                state: ConversationState::Bot,
                customer: CustomerAttributes::default(),
                handoff_reason: None,
                created_at_ms: 0,
                updated_at_ms: 0,
            },
            messages,
            feedback: vec![],
        }
    }

    #[test]
    fn only_questions_the_bot_did_not_answer_are_collected_and_similar_ones_group() {
        use DecisionKind::{Answer, Clarify, Handoff};
        use MessageRole::{Bot, Customer};
        let newer = conversation(vec![
            message(
                10,
                Customer,
                "Does the Kubernetes operator run on ARM64 nodes?",
                None,
            ),
            message(11, Bot, "A person will follow up.", Some(Handoff)),
        ]);
        let older = conversation(vec![
            message(1, Customer, "How do I reset my password?", None),
            message(2, Bot, "Click Forgot password.", Some(Answer)),
            message(3, Customer, "kubernetes operators on arm64?", None),
            message(4, Bot, "Which product?", Some(Clarify)),
        ]);

        let questions = unanswered_questions(&[newer, older]);
        let groups = group_questions(questions.clone());

        let texts: Vec<&str> = questions.iter().map(|q| q.text.as_str()).collect();
        assert_eq!(
            texts,
            vec![
                "kubernetes operators on arm64?",
                "Does the Kubernetes operator run on ARM64 nodes?"
            ]
        );
        assert_eq!(questions[0].decision, Clarify);
        assert_eq!(questions[1].reason, "no_relevant_content");
        assert_eq!(groups.len(), 1, "{groups:?}");
        assert_eq!(groups[0].count, 2);
        // Stemmed: "operators" and "operator" are one term.
        for term in ["operator", "arm64"] {
            assert!(groups[0].terms.contains(&term.to_string()), "{groups:?}");
        }
    }

    #[test]
    fn questions_group_within_their_language_and_carry_it() {
        use DecisionKind::Handoff;
        use MessageRole::{Bot, Customer};
        let asked = |text: &str| {
            conversation(vec![
                message(1, Customer, text, None),
                message(2, Bot, "…", Some(Handoff)),
            ])
        };
        let questions = unanswered_questions(&[
            asked("Wie kann ich meine Rechnungen als PDF herunterladen?"),
            asked("Wo kann ich die Rechnung als PDF herunterladen?"),
            asked("How can I download my invoices as PDF files?"),
            asked("如何下载PDF格式的发票？"),
            asked("我在哪里可以下载发票的PDF？"),
        ]);
        let groups = group_questions(questions);

        let summary: Vec<(Option<&str>, usize)> =
            groups.iter().map(|g| (g.language, g.count)).collect();
        assert_eq!(summary.len(), 3, "{groups:?}");
        assert!(summary.contains(&(Some("de"), 2)), "{summary:?}");
        assert!(summary.contains(&(Some("zh"), 2)), "{summary:?}");
        assert!(summary.contains(&(Some("en"), 1)), "{summary:?}");
        assert!(groups
            .iter()
            .all(|g| g.questions.iter().all(|q| q.language == g.language)));
        // A conversation whose language detection cannot tell is read (and grouped) as English.
        let english = groups.iter().find(|g| g.language == Some("en")).unwrap();
        let unsure = UnansweredQuestion {
            language: None,
            text: "kubernetes operators on arm64?".into(),
            ..english.questions[0].clone()
        };
        assert_eq!(group_questions(vec![unsure])[0].language, Some("en"));
    }

    #[test]
    fn handoffs_by_reason_add_up_to_the_handed_off_outcomes() {
        use MessageRole::{Bot, Customer};
        let by_bot = conversation(vec![
            message(1, Customer, "ARM64?", None),
            message(
                2,
                Bot,
                "A person will follow up.",
                Some(DecisionKind::Handoff),
            ),
        ]);
        let mut by_agent = conversation(vec![message(3, Customer, "hello", None)]);
        by_agent.conversation.state = ConversationState::Human;
        let answered = conversation(vec![
            message(4, Customer, "reset password", None),
            message(5, Bot, "Click Forgot password.", Some(DecisionKind::Answer)),
        ]);
        let window = WindowView {
            days: Some(7),
            last: None,
            since_ms: 0,
            quiet_hours: 0,
            truncated: false,
        };

        let summary = summarize(
            &WorkspaceId::parse("acme").unwrap(),
            &[by_bot, by_agent, answered],
            window,
            1_000,
        );

        assert_eq!(summary.handoffs.total, 2);
        assert_eq!(summary.handoffs.by_reason["no_relevant_content"], 1);
        assert_eq!(summary.handoffs.by_reason["agent_took_over"], 1);
        assert_eq!(summary.resolution.by_outcome["handed_off"], 2);
        assert_eq!(summary.resolution.by_outcome["quiet"], 1);
        assert_eq!(summary.conversations.len(), 3);
    }
}
