//! LLM mode: prompts from `prompts/`, the evidence quoted with ids, structured (JSON) output
//! giving the decision, the answer and the cited chunk ids, and streaming of the answer text.

use async_trait::async_trait;
use fathom_core::{AnswerEvent, Citation, DecisionKind, Role, SearchHit, TokenUsage, Turn};
use serde::Deserialize;
use tokio::sync::mpsc;

use crate::guardrails::detect_injection;
use crate::llm::{ChatMessage, JsonReply, LlmError, OpenAiChat};
use crate::prompts::Prompts;

/// What a model produced for one conversation turn.
#[derive(Debug, Clone, PartialEq)]
pub struct Generated {
    pub decision: DecisionKind,
    pub answer: String,
    pub citations: Vec<Citation>,
    pub usage: TokenUsage,
}

/// The model-backed steps of the pipeline. The engine works without one (extractive mode).
#[async_trait]
pub trait Generator: Send + Sync {
    /// A standalone search query for the latest message.
    async fn rewrite_query(
        &self,
        history: &[Turn],
        message: &str,
    ) -> Result<(String, TokenUsage), LlmError>;
    /// Decide and answer from the evidence. Answer text is streamed to `tokens` as it arrives.
    async fn answer(
        &self,
        history: &[Turn],
        message: &str,
        hits: &[SearchHit],
        tokens: Option<mpsc::Sender<AnswerEvent>>,
    ) -> Result<Generated, LlmError>;
    /// An LLM judge of whether `answer` is supported by `sources`; `None` when not configured.
    async fn judge_support(
        &self,
        answer: &str,
        sources: &str,
    ) -> Option<Result<(bool, TokenUsage), LlmError>>;
    /// `query` translated into `language` (its English name, "German"), for a help center
    /// written in another language than the customer's: one model call. `None` when this
    /// generator does not translate.
    async fn translate_query(
        &self,
        query: &str,
        language: &str,
    ) -> Option<Result<(String, TokenUsage), LlmError>> {
        let _ = (query, language);
        None
    }
}

/// How many tokens of sources an answer prompt quotes by default: with the system prompt, eight
/// turns of history and the reply, this fits a 4,096-token context window.
pub const DEFAULT_SOURCE_TOKENS: usize = 2000;

/// The user message for answering: the evidence, quoted as data with short ids, then the
/// conversation. Chunks that read like instructions to an assistant are dropped: articles are
/// data, never instructions. Sources go in best first while their token counts fit
/// `source_tokens` (the first always goes in): a model with a small context window gets fewer
/// sources rather than an error.
pub fn render_answer_prompt(
    history: &[Turn],
    message: &str,
    hits: &[SearchHit],
    source_tokens: usize,
) -> (String, Vec<String>) {
    let mut ids = Vec::new();
    let mut used = 0usize;
    let mut out = String::from("<sources>\n");
    for hit in hits {
        if detect_injection(&hit.chunk.text).is_some() {
            continue;
        }
        used += hit.chunk.token_count as usize;
        if !ids.is_empty() && used > source_tokens {
            break;
        }
        let id = format!("S{}", ids.len() + 1);
        out.push_str(&format!(
            "<source id=\"{id}\" title=\"{}\" section=\"{}\">\n{}\n</source>\n",
            escape(&hit.chunk.title),
            escape(&hit.chunk.heading_path_display()),
            hit.chunk.text.trim()
        ));
        ids.push(hit.chunk.id.to_string());
    }
    out.push_str("</sources>\n\n<conversation>\n");
    for turn in history.iter().rev().take(8).rev() {
        let who = match turn.role {
            Role::Customer => "customer",
            Role::Agent => "agent",
        };
        out.push_str(&format!("{who}: {}\n", turn.text.trim()));
    }
    out.push_str(&format!("customer: {}\n</conversation>\n", message.trim()));
    (out, ids)
}

fn escape(s: &str) -> String {
    s.replace('"', "'").replace('<', "(").replace('>', ")")
}

/// The structured reply we ask the model for.
#[derive(Debug, Deserialize)]
struct AnswerReply {
    decision: String,
    #[serde(default)]
    answer: String,
    #[serde(default)]
    citations: Vec<serde_json::Value>,
}

/// The JSON Schema of [`AnswerReply`], for servers that constrain output to a schema. Citations
/// are limited to the ids of the sources given (`S1`…), so a constrained model cannot invent
/// one, and to as many as there are sources, so it cannot repeat them without end.
pub fn answer_reply_schema(source_count: usize) -> JsonReply {
    let labels: Vec<String> = (1..=source_count).map(|n| format!("S{n}")).collect();
    let citations = if labels.is_empty() {
        serde_json::json!({"type": "array", "items": {"type": "string"}, "maxItems": 0})
    } else {
        serde_json::json!({
            "type": "array",
            "items": {"type": "string", "enum": labels},
            "maxItems": source_count
        })
    };
    JsonReply {
        name: "support_decision",
        schema: serde_json::json!({
            "type": "object",
            "properties": {
                "decision": {"type": "string", "enum": ["answer", "clarify", "handoff"]},
                "answer": {"type": "string"},
                "citations": citations
            },
            "required": ["decision", "answer", "citations"],
            "additionalProperties": false
        }),
    }
}

fn judge_reply_schema() -> JsonReply {
    JsonReply {
        name: "support_verdict",
        schema: serde_json::json!({
            "type": "object",
            "properties": {"supported": {"type": "boolean"}},
            "required": ["supported"],
            "additionalProperties": false
        }),
    }
}

/// Parse a model's JSON reply; tolerant of code fences and text around the object.
pub fn parse_answer_reply(
    content: &str,
    ids: &[String],
    hits: &[SearchHit],
) -> Result<(DecisionKind, String, Vec<Citation>), LlmError> {
    let start = content.find('{');
    let end = content.rfind('}');
    let json = match (start, end) {
        (Some(s), Some(e)) if e > s => &content[s..=e],
        _ => {
            return Err(LlmError::BadReply(format!(
                "no JSON object in the reply: {}",
                clip(content)
            )))
        }
    };
    let reply: AnswerReply = serde_json::from_str(json).map_err(|e| {
        LlmError::BadReply(format!(
            "reply is not the expected JSON ({e}): {}",
            clip(content)
        ))
    })?;
    let decision = match reply.decision.trim().to_lowercase().as_str() {
        "answer" => DecisionKind::Answer,
        "clarify" => DecisionKind::Clarify,
        "handoff" | "hand_off" | "hand off" => DecisionKind::Handoff,
        other => return Err(LlmError::BadReply(format!("unknown decision {other:?}"))),
    };
    // Map "S2" (or a bare 2) back to chunk ids; unknown ids are kept as-is so the citation
    // check can reject them.
    let mut citations: Vec<Citation> = Vec::new();
    for cited in reply.citations {
        let label = match &cited {
            serde_json::Value::String(s) => s
                .trim()
                .trim_start_matches(['[', 'S', 's'])
                .trim_end_matches(']')
                .to_string(),
            serde_json::Value::Number(n) => n.to_string(),
            _ => continue,
        };
        let Some(chunk_id) = label
            .parse::<usize>()
            .ok()
            .and_then(|n| n.checked_sub(1))
            .and_then(|i| ids.get(i))
        else {
            // A citation that names no source: give it an id that matches no chunk.
            citations.push(Citation {
                article_id: fathom_core::ArticleId::parse("unknown")
                    .unwrap_or_else(|_| unreachable!()),
                title: String::new(),
                url: None,
                chunk_ids: vec![fathom_core::ChunkId(uuid_nil())],
            });
            continue;
        };
        let Some(hit) = hits.iter().find(|h| &h.chunk.id.to_string() == chunk_id) else {
            continue;
        };
        match citations
            .iter_mut()
            .find(|c| c.article_id == hit.chunk.article_id)
        {
            Some(existing) => {
                if !existing.chunk_ids.contains(&hit.chunk.id) {
                    existing.chunk_ids.push(hit.chunk.id);
                }
            }
            None => citations.push(Citation {
                article_id: hit.chunk.article_id.clone(),
                title: hit.chunk.title.clone(),
                url: hit.chunk.url.clone(),
                chunk_ids: vec![hit.chunk.id],
            }),
        }
    }
    Ok((decision, reply.answer.trim().to_string(), citations))
}

fn uuid_nil() -> uuid::Uuid {
    uuid::Uuid::nil()
}

fn clip(s: &str) -> String {
    s.chars().take(200).collect()
}

/// Pulls the value of the `"answer"` string field out of a JSON object as it streams in, so
/// the customer sees the answer's text, not JSON.
#[derive(Debug, Default)]
pub struct AnswerFieldStreamer {
    buffer: String,
    /// Byte offset in `buffer` where the answer's string value starts, once found.
    start: Option<usize>,
    emitted: usize,
    done: bool,
}

impl AnswerFieldStreamer {
    /// Feed a delta; returns newly available answer text.
    pub fn push(&mut self, delta: &str) -> String {
        if self.done {
            return String::new();
        }
        self.buffer.push_str(delta);
        if self.start.is_none() {
            let Some(key) = self.buffer.find("\"answer\"") else {
                return String::new();
            };
            let after_key = &self.buffer[key + 8..];
            let Some(colon) = after_key.find(':') else {
                return String::new();
            };
            let after_colon = &after_key[colon + 1..];
            let Some(quote) = after_colon.find('"') else {
                return String::new();
            };
            if !after_colon[..quote].trim().is_empty() {
                self.done = true;
                return String::new();
            }
            self.start = Some(key + 8 + colon + 1 + quote + 1);
        }
        let Some(start) = self.start else {
            return String::new();
        };
        let raw = &self.buffer[start..];
        let mut out = String::new();
        let mut chars = raw.char_indices().peekable();
        let mut consumed = 0;
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.done = true;
                    consumed = i + 1;
                    break;
                }
                '\\' => match chars.next() {
                    Some((j, e)) => {
                        out.push(match e {
                            'n' => '\n',
                            't' => '\t',
                            'r' => '\r',
                            other => other,
                        });
                        consumed = j + e.len_utf8();
                    }
                    // An escape split across deltas: wait for the rest.
                    None => break,
                },
                _ => {
                    out.push(c);
                    consumed = i + c.len_utf8();
                }
            }
        }
        let fresh: String = out.chars().skip(self.emitted).collect();
        self.emitted += fresh.chars().count();
        let _ = consumed;
        fresh
    }
}

/// The LLM-backed generator.
#[derive(Debug)]
pub struct LlmGenerator {
    chat: OpenAiChat,
    prompts: Prompts,
    /// Use the model to judge support (otherwise the lexical check).
    judge_with_llm: bool,
    /// Tokens of sources quoted in an answer prompt (see [`render_answer_prompt`]).
    source_tokens: usize,
}

impl LlmGenerator {
    pub fn new(chat: OpenAiChat, prompts: Prompts, judge_with_llm: bool) -> Self {
        Self {
            chat,
            prompts,
            judge_with_llm,
            source_tokens: DEFAULT_SOURCE_TOKENS,
        }
    }

    /// Quote at most this many tokens of sources (the best source always goes in).
    pub fn with_source_tokens(mut self, source_tokens: usize) -> Self {
        self.source_tokens = source_tokens;
        self
    }
}

#[derive(Debug, Deserialize)]
struct JudgeReply {
    supported: bool,
}

/// The first non-empty line of a model's reply, unquoted; an error when there is none or it is
/// too long to be a query.
fn one_line_query(content: &str) -> Result<String, LlmError> {
    let query = content
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
        .trim_matches('"')
        .to_string();
    if query.is_empty() || query.len() > 500 {
        return Err(LlmError::BadReply("empty or overlong query".into()));
    }
    Ok(query)
}

#[async_trait]
impl Generator for LlmGenerator {
    async fn translate_query(
        &self,
        query: &str,
        language: &str,
    ) -> Option<Result<(String, TokenUsage), LlmError>> {
        let system = self
            .prompts
            .translate
            .trim()
            .replace("{language}", language);
        let reply = self
            .chat
            .complete(
                &[
                    ChatMessage::system(system),
                    ChatMessage::user(query.trim().to_string()),
                ],
                None,
                None,
            )
            .await;
        Some(reply.and_then(|output| Ok((one_line_query(&output.content)?, output.usage))))
    }

    async fn rewrite_query(
        &self,
        history: &[Turn],
        message: &str,
    ) -> Result<(String, TokenUsage), LlmError> {
        let mut conversation = String::new();
        for turn in history.iter().rev().take(6).rev() {
            let who = if turn.role == Role::Customer {
                "customer"
            } else {
                "agent"
            };
            conversation.push_str(&format!("{who}: {}\n", turn.text.trim()));
        }
        conversation.push_str(&format!("customer: {}\n", message.trim()));
        let output = self
            .chat
            .complete(
                &[
                    ChatMessage::system(self.prompts.rewrite.trim()),
                    ChatMessage::user(conversation),
                ],
                None,
                None,
            )
            .await?;
        Ok((one_line_query(&output.content)?, output.usage))
    }

    async fn answer(
        &self,
        history: &[Turn],
        message: &str,
        hits: &[SearchHit],
        tokens: Option<mpsc::Sender<AnswerEvent>>,
    ) -> Result<Generated, LlmError> {
        let (prompt, ids) = render_answer_prompt(history, message, hits, self.source_tokens);
        let messages = [
            ChatMessage::system(self.prompts.answer_system()),
            ChatMessage::user(prompt),
        ];
        let schema = answer_reply_schema(ids.len());
        let output = match tokens {
            Some(sender) => {
                let mut streamer = AnswerFieldStreamer::default();
                let mut forward = |delta: &str| {
                    let text = streamer.push(delta);
                    if !text.is_empty() {
                        let _ = sender.try_send(AnswerEvent::Token { text });
                    }
                };
                self.chat
                    .complete(&messages, Some(&schema), Some(&mut forward))
                    .await?
            }
            None => self.chat.complete(&messages, Some(&schema), None).await?,
        };
        let (decision, answer, citations) = parse_answer_reply(&output.content, &ids, hits)?;
        Ok(Generated {
            decision,
            answer,
            citations,
            usage: output.usage,
        })
    }

    async fn judge_support(
        &self,
        answer: &str,
        sources: &str,
    ) -> Option<Result<(bool, TokenUsage), LlmError>> {
        if !self.judge_with_llm {
            return None;
        }
        let user = format!("<sources>\n{sources}\n</sources>\n\n<answer>\n{answer}\n</answer>");
        let result = self
            .chat
            .complete(
                &[
                    ChatMessage::system(self.prompts.judge.trim()),
                    ChatMessage::user(user),
                ],
                Some(&judge_reply_schema()),
                None,
            )
            .await
            .and_then(|output| {
                let content = output.content;
                let json = content
                    .find('{')
                    .zip(content.rfind('}'))
                    .map(|(s, e)| &content[s..=e])
                    .unwrap_or("");
                serde_json::from_str::<JudgeReply>(json)
                    .map(|r| (r.supported, output.usage))
                    .map_err(|e| LlmError::BadReply(format!("judge reply is not JSON ({e})")))
            });
        Some(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fathom_core::{ArticleId, Chunk, ChunkId, WorkspaceId};

    fn hit(article: &str, text: &str, token_count: u32) -> SearchHit {
        let workspace = WorkspaceId::default();
        let article_id = ArticleId::try_from(article.to_string()).unwrap();
        SearchHit {
            chunk: Chunk {
                id: ChunkId::derive(&workspace, &article_id, 0),
                workspace,
                article_id,
                title: article.into(),
                url: None,
                locale: None,
                heading_path: vec![],
                position: 0,
                text: text.into(),
                token_count,
                content_hash: String::new(),
            },
            score: 1.0,
            dense_score: None,
            bm25_score: None,
        }
    }

    #[test]
    fn sources_go_in_best_first_while_they_fit_the_token_budget() {
        let hits = vec![
            hit("first", "The best source.", 900),
            hit("second", "The second source.", 900),
            hit("third", "The third source.", 900),
        ];
        let (prompt, ids) = render_answer_prompt(&[], "question?", &hits, 2000);
        assert_eq!(ids.len(), 2);
        assert!(prompt.contains("The second source.") && !prompt.contains("The third source."));
        // The best source always goes in, however small the budget.
        let (prompt, ids) = render_answer_prompt(&[], "question?", &hits, 10);
        assert_eq!(ids, vec![hits[0].chunk.id.to_string()]);
        assert!(prompt.contains("The best source.") && prompt.contains("customer: question?"));
    }

    #[test]
    fn the_answer_schema_allows_only_the_given_source_ids_and_no_more_citations_than_sources() {
        let schema = answer_reply_schema(2).schema;
        let citations = &schema["properties"]["citations"];
        assert_eq!(citations["items"]["enum"], serde_json::json!(["S1", "S2"]));
        assert_eq!(citations["maxItems"], 2);
        assert_eq!(
            schema["required"],
            serde_json::json!(["decision", "answer", "citations"])
        );
        assert_eq!(schema["additionalProperties"], false);
        let no_sources = answer_reply_schema(0).schema;
        assert_eq!(no_sources["properties"]["citations"]["maxItems"], 0);
    }

    #[test]
    fn the_answer_field_streams_out_of_json_split_anywhere() {
        let json = r#"{"decision": "answer", "answer": "Go to \"Settings\".\nThen Billing.", "citations": ["S1"]}"#;
        for split in 1..json.len() {
            if !json.is_char_boundary(split) {
                continue;
            }
            let mut streamer = AnswerFieldStreamer::default();
            let mut out = streamer.push(&json[..split]);
            out.push_str(&streamer.push(&json[split..]));
            assert_eq!(
                out, "Go to \"Settings\".\nThen Billing.",
                "split at {split}"
            );
        }
    }
}
