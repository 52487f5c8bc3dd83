//! Sparse lexical vectors with qdrant-edge's own BM25, so the vectors Fathom stores match what
//! a Qdrant server's BM25 would produce (same tokenizer, stop words, stemmer and token hashing).
//!
//! Values are BM25 term-frequency weights only (documents) or 1.0 (queries). The inverse
//! document frequency is not in the vector: the store applies it at search time
//! (`Modifier::Idf` on the sparse vector), because it depends on the whole collection.

use fathom_core::{EmbedError, SparseEmbedder, SparseVector};
use qdrant_edge::bm25_embed::EdgeBm25;

pub use qdrant_edge::bm25_embed::EdgeBm25Config as Bm25Config;

/// BM25 sparse embedder: English stemming and stop words by default.
#[derive(Debug)]
pub struct Bm25Embedder {
    bm25: EdgeBm25,
}

impl Bm25Embedder {
    /// English tokenisation, stop words and Snowball stemming; k1 = 1.2, b = 0.75, average
    /// document length 256 tokens.
    pub fn english() -> Self {
        Self::new(english_config()).expect("the default English BM25 configuration is valid")
    }

    /// A custom configuration: another language, other BM25 parameters, custom stop words.
    pub fn new(config: Bm25Config) -> Result<Self, EmbedError> {
        let language = config.language.clone().unwrap_or_else(|| "english".into());
        let bm25 = EdgeBm25::new(config).map_err(|error| EmbedError::Load {
            path: format!("bm25 (language {language})"),
            reason: error.to_string(),
        })?;
        Ok(Self { bm25 })
    }
}

impl Default for Bm25Embedder {
    fn default() -> Self {
        Self::english()
    }
}

fn english_config() -> Bm25Config {
    Bm25Config {
        language: Some("english".into()),
        ..Bm25Config::default()
    }
}

impl SparseEmbedder for Bm25Embedder {
    fn embed_document(&self, text: &str) -> SparseVector {
        into_core(self.bm25.embed_document(text))
    }

    fn embed_query(&self, text: &str) -> SparseVector {
        into_core(self.bm25.embed_query(text))
    }
}

/// qdrant-edge already returns sorted, unique indices, as `fathom_core::SparseVector` requires.
fn into_core(vector: qdrant_edge::SparseVector) -> SparseVector {
    SparseVector {
        indices: vector.indices,
        values: vector.values,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_words_alone_produce_an_empty_vector() {
        let bm25 = Bm25Embedder::english();

        assert!(bm25.embed_document("the and of a is to").is_empty());
        assert!(bm25.embed_query("what is the").is_empty());
    }

    #[test]
    fn stemming_makes_inflections_share_an_index() {
        let bm25 = Bm25Embedder::english();

        let refunds = bm25.embed_query("refunds");
        let refunded = bm25.embed_query("refunded");

        assert_eq!(refunds.indices.len(), 1);
        assert_eq!(refunds.indices, refunded.indices);
    }

    #[test]
    fn document_and_query_share_indices_for_the_same_words() {
        let bm25 = Bm25Embedder::english();

        let document = bm25.embed_document("Refunds are issued within 14 days of the request.");
        let query = bm25.embed_query("how are refunds issued");

        assert!(query
            .indices
            .iter()
            .all(|index| document.indices.contains(index)));
        assert!(document.values.iter().all(|&value| value > 0.0));
    }

    #[test]
    fn indices_are_sorted_and_unique_with_one_value_each() {
        let bm25 = Bm25Embedder::english();

        let vector =
            bm25.embed_document("billing billing invoices refunds refunds refunds account");

        assert!(vector.indices.windows(2).all(|pair| pair[0] < pair[1]));
        assert_eq!(vector.indices.len(), vector.values.len());
    }

    #[test]
    fn unsupported_language_is_a_load_error() {
        let config = Bm25Config {
            language: Some("klingon".into()),
            ..Bm25Config::default()
        };

        let error = Bm25Embedder::new(config).expect_err("klingon is not supported");

        assert!(error.to_string().contains("klingon"), "{error}");
    }
}
