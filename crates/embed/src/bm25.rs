//! Sparse lexical vectors in any language: BM25 term weights over `fathom-text`'s analysis
//! (detected or declared language, word segmentation for Chinese and Japanese, stop words and
//! Snowball stemming), with each term hashed to a stable 32-bit index.
//!
//! Values are BM25 term-frequency weights only (documents) or 1.0 (queries). The inverse
//! document frequency is not in the vector: the store applies it at search time
//! (`Modifier::Idf` on the sparse vector), because it depends on the whole collection.
//!
//! A query is analysed in the language it is written in, and also in the language its customer
//! declared when that differs, so a short question the detector misreads still meets the
//! articles' stems.

use std::collections::BTreeMap;

use fathom_core::{SparseEmbedder, SparseVector};
use fathom_text::{analyze, Language, ANALYSIS_VERSION};

/// BM25 parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Bm25Config {
    /// Term-frequency saturation (1.2).
    pub k1: f32,
    /// Document length normalisation, 0 = none, 1 = full (0.75).
    pub b: f32,
    /// Expected average document length in terms (256).
    pub avg_len: f32,
}

impl Default for Bm25Config {
    fn default() -> Self {
        Self {
            k1: 1.2,
            b: 0.75,
            avg_len: 256.0,
        }
    }
}

/// BM25 sparse embedder for every language `fathom-text` analyses.
#[derive(Debug)]
pub struct Bm25Embedder {
    config: Bm25Config,
    id: String,
}

impl Default for Bm25Embedder {
    fn default() -> Self {
        Self::new(Bm25Config::default())
    }
}

impl Bm25Embedder {
    pub fn new(config: Bm25Config) -> Self {
        let id = format!(
            "bm25/{ANALYSIS_VERSION}/k1={}/b={}/avg={}",
            config.k1, config.b, config.avg_len
        );
        Self { config, id }
    }

    fn document_vector(&self, terms: Vec<String>) -> SparseVector {
        let length = terms.len() as f32;
        let mut frequencies: BTreeMap<u32, f32> = BTreeMap::new();
        for term in &terms {
            *frequencies.entry(term_index(term)).or_default() += 1.0;
        }
        let Bm25Config { k1, b, avg_len } = self.config;
        let norm = k1 * (1.0 - b + b * length / avg_len.max(1.0));
        let (indices, values) = frequencies
            .into_iter()
            .map(|(index, tf)| (index, tf * (k1 + 1.0) / (tf + norm)))
            .unzip();
        SparseVector { indices, values }
    }
}

/// FNV-1a: stable across builds and platforms (the index outlives the binary).
fn term_index(term: &str) -> u32 {
    term.bytes().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    })
}

fn query_vector(terms: impl IntoIterator<Item = String>) -> SparseVector {
    let mut indices: Vec<u32> = terms.into_iter().map(|t| term_index(&t)).collect();
    indices.sort_unstable();
    indices.dedup();
    let values = vec![1.0; indices.len()];
    SparseVector { indices, values }
}

impl SparseEmbedder for Bm25Embedder {
    fn embed_document(&self, text: &str) -> SparseVector {
        self.embed_document_in(text, None)
    }

    fn embed_document_in(&self, text: &str, locale: Option<&str>) -> SparseVector {
        let language = fathom_text::resolve(locale, text);
        self.document_vector(analyze(text, language))
    }

    fn embed_query(&self, text: &str) -> SparseVector {
        self.embed_query_in(text, None)
    }

    fn embed_query_in(&self, text: &str, locale: Option<&str>) -> SparseVector {
        let detected = fathom_text::detect(text).map(|d| d.language);
        let declared = locale.and_then(Language::from_locale);
        let mut languages = vec![detected];
        if declared.is_some() && declared != detected {
            languages.push(declared);
        }
        query_vector(
            languages
                .into_iter()
                .flat_map(|language| analyze(text, language)),
        )
    }

    fn analysis_id(&self) -> &str {
        &self.id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bm25() -> Bm25Embedder {
        Bm25Embedder::default()
    }

    #[test]
    fn stop_words_alone_produce_an_empty_vector() {
        assert!(bm25()
            .embed_document_in("the and of a is to", Some("en"))
            .is_empty());
        assert!(bm25().embed_query_in("what is the", Some("en")).is_empty());
    }

    #[test]
    fn stemming_makes_inflections_share_an_index() {
        let refunds = bm25().embed_query_in("refunds", Some("en"));
        let refunded = bm25().embed_query_in("refunded", Some("en"));

        assert_eq!(refunds.indices.len(), 1);
        assert_eq!(refunds.indices, refunded.indices);
    }

    #[test]
    fn document_and_query_share_indices_for_the_same_words() {
        let document = bm25().embed_document("Refunds are issued within 14 days of the request.");
        let query = bm25().embed_query("how are refunds issued");

        assert!(query
            .indices
            .iter()
            .all(|index| document.indices.contains(index)));
        assert!(document.values.iter().all(|&value| value > 0.0));
    }

    #[test]
    fn german_and_chinese_queries_meet_their_documents() {
        let german = bm25().embed_document_in(
            "Rückerstattungen werden innerhalb von 14 Tagen ausgezahlt.",
            Some("de-DE"),
        );
        let query = bm25().embed_query("Wann wird meine Rückerstattung ausgezahlt?");
        let shared = query
            .indices
            .iter()
            .filter(|i| german.indices.contains(i))
            .count();
        assert!(shared >= 2, "{query:?} vs {german:?}");

        let chinese = bm25().embed_document_in("退款将在十四天内退回到您的账户。", Some("zh"));
        let query = bm25().embed_query("退款什么时候到账户？");
        assert!(query.indices.iter().any(|i| chinese.indices.contains(i)));
    }

    #[test]
    fn the_declared_locale_adds_its_analysis_to_the_query() {
        let detected_only = bm25().embed_query("Passwort");
        let with_locale = bm25().embed_query_in("Passwort", Some("de"));
        assert!(detected_only
            .indices
            .iter()
            .all(|i| with_locale.indices.contains(i)));
    }

    #[test]
    fn indices_are_sorted_and_unique_with_one_value_each() {
        let vector =
            bm25().embed_document("billing billing invoices refunds refunds refunds account");

        assert!(vector.indices.windows(2).all(|pair| pair[0] < pair[1]));
        assert_eq!(vector.indices.len(), vector.values.len());
    }

    #[test]
    fn repeated_terms_weigh_more_but_saturate() {
        let vector = bm25().embed_document_in("refund refund refund account", Some("en"));
        let refund = term_index("refund");
        let account = term_index("account");
        let weight =
            |index| vector.values[vector.indices.iter().position(|&i| i == index).unwrap()];
        assert!(weight(refund) > weight(account));
        assert!(weight(refund) < 3.0 * weight(account));
    }

    #[test]
    fn the_analysis_is_named_for_the_index_fingerprint() {
        assert!(bm25().analysis_id().contains(ANALYSIS_VERSION));
    }
}
