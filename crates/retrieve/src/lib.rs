//! Retrieval: turn a customer's question into a hybrid query (dense + BM25, fused with RRF by
//! the vector store), scoped to one workspace, and routed to the customer's locale when the
//! articles exist in it.

pub mod query;

use std::sync::Arc;
use std::time::Instant;

use fathom_core::{
    EmbedError, Embedder, HybridQuery, RetrievalMode, SearchHit, SparseEmbedder, StoreError,
    VectorStore, WorkspaceId,
};
use fathom_text::Language;
use serde::Serialize;

pub use query::{content_terms, standalone_query, ContextCarry};

#[derive(Debug, thiserror::Error)]
pub enum RetrieveError {
    #[error("the question is empty")]
    EmptyQuestion,
    #[error("dense retrieval was requested but no dense embedder is configured")]
    NoDenseEmbedder,
    #[error("embedding the question failed: {0}")]
    Embed(#[from] EmbedError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Clone)]
pub struct RetrieverConfig {
    /// Candidates each half fetches before fusion.
    pub prefetch_limit: usize,
}

impl Default for RetrieverConfig {
    fn default() -> Self {
        Self { prefetch_limit: 40 }
    }
}

#[derive(Debug, Clone)]
pub struct SearchRequest {
    pub workspace: WorkspaceId,
    pub question: String,
    /// The customer's locale: hits in its language come first, other locales only when it has
    /// none (see [`SearchResults::fallback_locale`]).
    pub locale: Option<String>,
    pub limit: usize,
    pub mode: RetrievalMode,
}

/// Hits and where the time went.
#[derive(Debug, Clone, Serialize)]
pub struct SearchResults {
    pub hits: Vec<SearchHit>,
    pub embed_ms: f64,
    pub query_ms: f64,
    /// The customer asked in a locale none of the relevant articles are written in: the hits
    /// are from these other locales (the workspace's own), and the reply should say so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback_locale: Option<String>,
}

/// Locale routing: the hits in the customer's language when there are any (the same article
/// often exists in several locales), otherwise all of them with the locale they fell back to.
/// Hits whose article declares no locale count as written in any language.
fn route_by_language(
    hits: Vec<SearchHit>,
    locale: Option<&str>,
    limit: usize,
) -> (Vec<SearchHit>, Option<String>) {
    let Some(wanted) = locale.and_then(Language::from_locale) else {
        return (hits.into_iter().take(limit).collect(), None);
    };
    let language_of = |hit: &SearchHit| hit.chunk.locale.as_deref().and_then(Language::from_locale);
    let (matching, other): (Vec<SearchHit>, Vec<SearchHit>) = hits
        .into_iter()
        .partition(|hit| language_of(hit).is_none_or(|language| language == wanted));
    if !matching.is_empty() {
        return (matching.into_iter().take(limit).collect(), None);
    }
    let fallback = other.first().and_then(|hit| hit.chunk.locale.clone());
    (other.into_iter().take(limit).collect(), fallback)
}

#[derive(Debug, Clone)]
pub struct Retriever {
    store: Arc<dyn VectorStore>,
    dense: Option<Arc<dyn Embedder>>,
    sparse: Arc<dyn SparseEmbedder>,
    config: RetrieverConfig,
}

impl Retriever {
    pub fn new(
        store: Arc<dyn VectorStore>,
        dense: Option<Arc<dyn Embedder>>,
        sparse: Arc<dyn SparseEmbedder>,
        config: RetrieverConfig,
    ) -> Self {
        Self {
            store,
            dense,
            sparse,
            config,
        }
    }

    /// The languages the dense model was trained for (`None`: many, or no dense model).
    pub fn dense_languages(&self) -> Option<&[String]> {
        self.dense.as_ref().and_then(|dense| dense.languages())
    }

    /// The mode used when the caller does not choose: hybrid when a dense embedder exists.
    pub fn default_mode(&self) -> RetrievalMode {
        if self.dense.is_some() {
            RetrievalMode::Hybrid
        } else {
            RetrievalMode::Bm25
        }
    }

    /// One cheap call to the vector store for `workspace` (a count): does it answer?
    pub async fn probe(&self, workspace: &WorkspaceId) -> Result<(), RetrieveError> {
        self.store.count(workspace).await?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(workspace = %request.workspace, mode = ?request.mode, limit = request.limit))]
    pub async fn search(&self, request: SearchRequest) -> Result<SearchResults, RetrieveError> {
        let question = request.question.trim();
        if question.is_empty() {
            return Err(RetrieveError::EmptyQuestion);
        }
        let started = Instant::now();
        let wants_dense = matches!(request.mode, RetrievalMode::Hybrid | RetrievalMode::Dense);
        let wants_sparse = matches!(request.mode, RetrievalMode::Hybrid | RetrievalMode::Bm25);
        let dense = match (wants_dense, &self.dense) {
            (true, Some(embedder)) => match embedder.embed_query(question).await {
                Ok(vector) => Some(vector),
                // Hybrid search still has BM25: a question answered from the lexical half
                // beats one refused while the embedder is saturated.
                Err(error @ EmbedError::Overloaded { .. })
                    if request.mode == RetrievalMode::Hybrid =>
                {
                    tracing::warn!(%error, "dense embedder overloaded: this question uses BM25 only");
                    None
                }
                Err(error) => return Err(error.into()),
            },
            (true, None) if request.mode == RetrievalMode::Dense => {
                return Err(RetrieveError::NoDenseEmbedder)
            }
            _ => None,
        };
        let sparse = wants_sparse.then(|| {
            self.sparse
                .embed_query_in(question, request.locale.as_deref())
        });
        let embed_ms = started.elapsed().as_secs_f64() * 1000.0;

        // The store is asked across locales, with room for the same articles in other
        // languages; routing then keeps the customer's.
        let started = Instant::now();
        let fetched = if request.locale.is_some() {
            request.limit * 3
        } else {
            request.limit
        };
        let hits = self
            .store
            .query(HybridQuery {
                workspace: request.workspace,
                locale: None,
                dense,
                sparse,
                limit: fetched,
                prefetch_limit: self.config.prefetch_limit.max(fetched),
            })
            .await?;
        let (hits, fallback_locale) =
            route_by_language(hits, request.locale.as_deref(), request.limit);
        let query_ms = started.elapsed().as_secs_f64() * 1000.0;
        tracing::debug!(
            hits = hits.len(),
            embed_ms,
            query_ms,
            ?fallback_locale,
            "retrieved"
        );
        Ok(SearchResults {
            hits,
            embed_ms,
            query_ms,
            fallback_locale,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fathom_core::{ArticleId, Chunk, ChunkId};

    fn hit(article: &str, locale: Option<&str>) -> SearchHit {
        let workspace = WorkspaceId::parse("default").unwrap();
        let article_id = ArticleId::try_from(article.to_string()).unwrap();
        SearchHit {
            chunk: Chunk {
                id: ChunkId::derive(&workspace, &article_id, 0),
                workspace,
                article_id,
                title: article.into(),
                url: None,
                locale: locale.map(str::to_string),
                heading_path: vec![],
                position: 0,
                text: String::new(),
                token_count: 1,
                content_hash: String::new(),
            },
            score: 1.0,
            dense_score: None,
            bm25_score: None,
        }
    }

    fn ids(hits: &[SearchHit]) -> Vec<&str> {
        hits.iter().map(|h| h.chunk.article_id.as_str()).collect()
    }

    #[test]
    fn the_customer_s_language_wins_when_the_article_exists_in_it() {
        let hits = vec![
            hit("en-1", Some("en")),
            hit("de-1", Some("de-DE")),
            hit("x", None),
        ];
        let (routed, fallback) = route_by_language(hits, Some("de"), 8);
        assert_eq!(ids(&routed), ["de-1", "x"]);
        assert_eq!(fallback, None);
    }

    #[test]
    fn without_articles_in_the_customer_s_language_the_others_are_kept_and_named() {
        let hits = vec![hit("en-1", Some("en")), hit("en-2", Some("en-US"))];
        let (routed, fallback) = route_by_language(hits, Some("ja-JP"), 1);
        assert_eq!(ids(&routed), ["en-1"]);
        assert_eq!(fallback.as_deref(), Some("en"));
    }

    #[test]
    fn no_customer_locale_keeps_the_retrieval_order() {
        let hits = vec![hit("en-1", Some("en")), hit("de-1", Some("de"))];
        let (routed, fallback) = route_by_language(hits, None, 8);
        assert_eq!(ids(&routed), ["en-1", "de-1"]);
        assert_eq!(fallback, None);
    }
}
