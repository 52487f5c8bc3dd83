//! An OpenAI-compatible chat model (OpenAI, vLLM, Ollama, llama.cpp's server…) through
//! async-openai. Retries 429 and 5xx with exponential backoff, honouring `Retry-After`
//! (async-openai's `OpenAIRetryLayer`), and bounds every call with a timeout.

use std::time::Duration;

use async_openai::config::OpenAIConfig;
use async_openai::middleware::retry::OpenAIRetryLayer;
use async_openai::middleware::ReqwestService;
use async_openai::types::chat::{
    ChatCompletionRequestAssistantMessage, ChatCompletionRequestMessage,
    ChatCompletionRequestSystemMessage, ChatCompletionRequestUserMessage,
    ChatCompletionStreamOptions, CreateChatCompletionRequest, ResponseFormat,
    ResponseFormatJsonSchema,
};
use async_openai::Client;
use fathom_core::TokenUsage;
use futures::StreamExt;
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("invalid model configuration: {0}")]
    Config(String),
    #[error("the model did not answer within {0:?}")]
    Timeout(Duration),
    #[error("the model endpoint failed: {0}")]
    Unavailable(String),
    #[error("the model's reply could not be used: {0}")]
    BadReply(String),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LlmConfig {
    /// Base URL including `/v1`, e.g. `https://api.openai.com/v1` or `http://127.0.0.1:8080/v1`.
    pub base_url: String,
    pub model: String,
    #[serde(skip_serializing)]
    pub api_key: Option<String>,
    /// Whole-call timeout, retries included.
    pub timeout: Duration,
    /// Retries on 429 and 5xx after the first attempt.
    pub max_retries: usize,
    pub max_tokens: u32,
    pub temperature: f32,
    /// Ask for `response_format: json_object` (some servers do not support it).
    pub json_mode: bool,
    /// With `json_mode`, send the reply's JSON Schema (`response_format: json_schema`, strict)
    /// instead of `json_object`. OpenAI (gpt-4o-mini and later), vLLM, Ollama and llama.cpp's
    /// server support it; servers that constrain decoding to the schema (llama.cpp, vLLM) then
    /// always return the expected fields, which small models otherwise often miss.
    #[serde(default)]
    pub json_schema: bool,
}

impl LlmConfig {
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            model: model.into(),
            api_key: None,
            timeout: Duration::from_secs(30),
            max_retries: 2,
            max_tokens: 400,
            temperature: 0.1,
            json_mode: true,
            json_schema: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatRole {
    System,
    User,
    Assistant,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChatMessage {
    pub role: ChatRole,
    pub content: String,
}

impl ChatMessage {
    pub fn system(content: impl Into<String>) -> Self {
        Self {
            role: ChatRole::System,
            content: content.into(),
        }
    }
    pub fn user(content: impl Into<String>) -> Self {
        Self {
            role: ChatRole::User,
            content: content.into(),
        }
    }
    pub fn assistant(content: impl Into<String>) -> Self {
        Self {
            role: ChatRole::Assistant,
            content: content.into(),
        }
    }
}

/// The JSON a reply must be: a name and a JSON Schema. Sent as `response_format: json_schema`
/// when the config's `json_schema` is on, otherwise as `json_object` (the prompt then describes
/// the shape).
#[derive(Debug, Clone, PartialEq)]
pub struct JsonReply {
    /// a-z, A-Z, 0-9, `_` and `-`, at most 64 characters.
    pub name: &'static str,
    pub schema: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChatOutput {
    pub content: String,
    pub usage: TokenUsage,
}

#[derive(Clone)]
pub struct OpenAiChat {
    client: Client<OpenAIConfig>,
    config: LlmConfig,
}

impl std::fmt::Debug for OpenAiChat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiChat")
            .field("base_url", &self.config.base_url)
            .field("model", &self.config.model)
            .finish()
    }
}

impl OpenAiChat {
    pub fn new(config: LlmConfig) -> Result<Self, LlmError> {
        let base = config.base_url.trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) || !base.ends_with("/v1")
        {
            return Err(LlmError::Config(format!(
                "base URL {:?} must be an http(s) URL ending in /v1, e.g. http://127.0.0.1:8080/v1",
                config.base_url
            )));
        }
        let mut openai = OpenAIConfig::new().with_api_base(base);
        // Servers without auth still get a header; OpenAI itself needs the real key.
        openai = openai.with_api_key(config.api_key.clone().unwrap_or_else(|| "none".into()));
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(config.timeout)
            .build()
            .map_err(|e| LlmError::Config(format!("http client: {e}")))?;
        let service = tower::ServiceBuilder::new()
            .layer(OpenAIRetryLayer::new(config.max_retries))
            .service(ReqwestService::new(http.clone()));
        let client = Client::build(http, openai).with_http_service(service);
        Ok(Self { client, config })
    }

    pub fn config(&self) -> &LlmConfig {
        &self.config
    }

    fn request(
        &self,
        messages: &[ChatMessage],
        json: Option<&JsonReply>,
        stream: bool,
    ) -> CreateChatCompletionRequest {
        let messages = messages
            .iter()
            .map(|m| match m.role {
                ChatRole::System => ChatCompletionRequestMessage::System(
                    ChatCompletionRequestSystemMessage::from(m.content.as_str()),
                ),
                ChatRole::User => ChatCompletionRequestMessage::User(
                    ChatCompletionRequestUserMessage::from(m.content.as_str()),
                ),
                ChatRole::Assistant => ChatCompletionRequestMessage::Assistant(
                    ChatCompletionRequestAssistantMessage::from(m.content.as_str()),
                ),
            })
            .collect();
        CreateChatCompletionRequest {
            model: self.config.model.clone(),
            messages,
            max_completion_tokens: Some(self.config.max_tokens),
            temperature: Some(self.config.temperature),
            response_format: json.filter(|_| self.config.json_mode).map(|reply| {
                if self.config.json_schema {
                    ResponseFormat::JsonSchema {
                        json_schema: ResponseFormatJsonSchema {
                            description: None,
                            name: reply.name.to_string(),
                            schema: reply.schema.clone(),
                            strict: Some(true),
                        },
                    }
                } else {
                    ResponseFormat::JsonObject
                }
            }),
            stream: stream.then_some(true),
            stream_options: stream.then_some(ChatCompletionStreamOptions {
                include_usage: Some(true),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// One completion, JSON when `json` says which. With `on_delta`, the reply streams and each
    /// piece of text is passed on as it arrives.
    pub async fn complete(
        &self,
        messages: &[ChatMessage],
        json: Option<&JsonReply>,
        mut on_delta: Option<&mut (dyn FnMut(&str) + Send)>,
    ) -> Result<ChatOutput, LlmError> {
        let timeout = self.config.timeout;
        let call = async {
            if let Some(on_delta) = on_delta.as_mut() {
                let mut stream = self
                    .client
                    .chat()
                    .create_stream(self.request(messages, json, true))
                    .await
                    .map_err(unavailable)?;
                let mut content = String::new();
                let mut usage = TokenUsage::default();
                while let Some(chunk) = stream.next().await {
                    let chunk = chunk.map_err(unavailable)?;
                    if let Some(u) = chunk.usage {
                        usage = TokenUsage {
                            prompt_tokens: u.prompt_tokens,
                            completion_tokens: u.completion_tokens,
                        };
                    }
                    for choice in chunk.choices {
                        if let Some(delta) = choice.delta.content {
                            on_delta(&delta);
                            content.push_str(&delta);
                        }
                    }
                }
                Ok(ChatOutput { content, usage })
            } else {
                let response = self
                    .client
                    .chat()
                    .create(self.request(messages, json, false))
                    .await
                    .map_err(unavailable)?;
                let usage = response
                    .usage
                    .map_or_else(TokenUsage::default, |u| TokenUsage {
                        prompt_tokens: u.prompt_tokens,
                        completion_tokens: u.completion_tokens,
                    });
                let content = response
                    .choices
                    .into_iter()
                    .next()
                    .and_then(|c| c.message.content)
                    .ok_or_else(|| LlmError::BadReply("the reply has no message content".into()))?;
                Ok(ChatOutput { content, usage })
            }
        };
        tokio::time::timeout(timeout, call)
            .await
            .map_err(|_| LlmError::Timeout(timeout))?
    }
}

fn unavailable(error: async_openai::error::OpenAIError) -> LlmError {
    match error {
        async_openai::error::OpenAIError::JSONDeserialize(e, content) => {
            // An error body the client could not read as OpenAI's (llama.cpp sends
            // `"code": 400` as a number): the endpoint refused the request, say why.
            if let Some(refusal) = error_body_message(&content) {
                return LlmError::Unavailable(refusal);
            }
            let content: String = content.chars().take(200).collect();
            LlmError::BadReply(format!("malformed response ({e}): {content}"))
        }
        other => LlmError::Unavailable(other.to_string()),
    }
}

/// `{"error": {"message": …, "type": …}}` → "message (type)".
fn error_body_message(body: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(body).ok()?;
    let error = value.get("error")?;
    let message = error.get("message")?.as_str()?;
    Some(match error.get("type").and_then(|t| t.as_str()) {
        Some(kind) => format!("{message} ({kind})"),
        None => message.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request_body(json_schema: bool, json: Option<&JsonReply>) -> serde_json::Value {
        let mut config = LlmConfig::new("http://127.0.0.1:8080/v1", "m");
        config.json_schema = json_schema;
        let chat = OpenAiChat::new(config).unwrap();
        serde_json::to_value(chat.request(&[ChatMessage::user("hi")], json, false)).unwrap()
    }

    #[test]
    fn an_error_body_with_a_numeric_code_is_reported_by_its_message() {
        let body = r#"{"error":{"code":400,"message":"request (4103 tokens) exceeds the available context size (4096 tokens)","type":"exceed_context_size_error"}}"#;
        let parse_error = serde_json::from_str::<String>("400").unwrap_err();
        let error = unavailable(async_openai::error::OpenAIError::JSONDeserialize(
            parse_error,
            body.to_string(),
        ));
        assert!(matches!(error, LlmError::Unavailable(_)), "{error:?}");
        let text = error.to_string();
        assert!(
            text.contains("exceeds the available context size")
                && text.contains("exceed_context_size_error")
                && !text.contains("malformed"),
            "{text}"
        );
        // A reply that is not an error body stays a bad reply.
        let parse_error = serde_json::from_str::<String>("1").unwrap_err();
        let garbage = unavailable(async_openai::error::OpenAIError::JSONDeserialize(
            parse_error,
            "{not json".to_string(),
        ));
        assert!(matches!(garbage, LlmError::BadReply(_)), "{garbage:?}");
    }

    #[test]
    fn json_replies_ask_for_json_object_by_default_and_for_the_schema_when_configured() {
        let reply = JsonReply {
            name: "verdict",
            schema: serde_json::json!({"type": "object"}),
        };
        assert_eq!(
            request_body(false, Some(&reply))["response_format"],
            serde_json::json!({"type": "json_object"})
        );
        assert_eq!(
            request_body(true, Some(&reply))["response_format"],
            serde_json::json!({"type": "json_schema", "json_schema": {
                "name": "verdict", "schema": {"type": "object"}, "strict": true}})
        );
        assert!(request_body(true, None).get("response_format").is_none());
    }
}
