//! Sparse lexical vectors in any language, for the lexical half of hybrid search.
//!
//! - **English** keeps qdrant-edge's own BM25: the vectors a Qdrant server's BM25 would produce
//!   (same tokenizer, stop words, stemmer and token hashing), and the analysis Fathom's English
//!   retrieval and its quality gates were measured with. (fathom-text's English analysis cost a
//!   case on ibmcloud-docs and four on tv-manual.)
//! - **Every other language**: BM25 term weights over `fathom-text`'s analysis (word
//!   segmentation for Chinese and Japanese, stop words, Snowball stemming), each term hashed
//!   (FNV-1a) to a stable 32-bit index.
//!
//! A document is read in its article's declared locale, else the language detection is sure of,
//! else English. A query is always read in English (an English question the detector misreads
//! still meets English articles exactly as before, and product names and numbers meet English
//! articles from any language), plus the language it is written in when detection is sure of it,
//! plus the language its customer declared.
//!
//! Values are BM25 term-frequency weights only (documents) or 1.0 (queries). The inverse
//! document frequency is not in the vector: the store applies it at search time
//! (`Modifier::Idf` on the sparse vector), because it depends on the whole collection.

use std::collections::BTreeMap;

use fathom_core::{EmbedError, SparseEmbedder, SparseVector};
use fathom_text::{analyze, language_of, Language, ANALYSIS_VERSION};
use ordered_float::NotNan;
use qdrant_edge::bm25_embed::{EdgeBm25, EdgeBm25Config};

/// BM25 parameters, the same for every language.
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

/// BM25 sparse embedder for every language `fathom-text` analyses; English on qdrant-edge's
/// analysis.
#[derive(Debug)]
pub struct Bm25Embedder {
    english: EdgeBm25,
    config: Bm25Config,
    id: String,
}

impl Default for Bm25Embedder {
    fn default() -> Self {
        Self::new(Bm25Config::default()).expect("the default BM25 parameters are valid")
    }
}

impl Bm25Embedder {
    /// The default embedder (every language; English on qdrant-edge's analysis). Kept under the
    /// name callers used when BM25 read English only.
    pub fn english() -> Self {
        Self::default()
    }

    /// An error when qdrant-edge rejects the parameters (`avg_len` of zero, a negative `k1`…).
    pub fn new(config: Bm25Config) -> Result<Self, EmbedError> {
        let invalid = |reason: String| EmbedError::Load {
            path: "bm25 parameters".into(),
            reason,
        };
        let number = |name: &str, value: f32| {
            NotNan::new(f64::from(value)).map_err(|_| invalid(format!("{name} is not a number")))
        };
        let english = EdgeBm25::new(EdgeBm25Config {
            k: number("k1", config.k1)?,
            b: number("b", config.b)?,
            avg_len: number("avg_len", config.avg_len)?,
            language: Some("english".into()),
            ..EdgeBm25Config::default()
        })
        .map_err(|error| invalid(error.to_string()))?;
        let id = format!(
            "bm25/en=qdrant-edge,other={ANALYSIS_VERSION}/k1={}/b={}/avg={}",
            config.k1, config.b, config.avg_len
        );
        Ok(Self {
            english,
            config,
            id,
        })
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

/// The language a document is indexed in: its declared locale's, else the one detection is sure
/// of, else English.
fn document_language(locale: Option<&str>, text: &str) -> Language {
    locale
        .and_then(Language::from_locale)
        .or_else(|| language_of(text))
        .unwrap_or(Language::ENGLISH)
}

/// FNV-1a: stable across builds and platforms (the index outlives the binary).
fn term_index(term: &str) -> u32 {
    term.bytes().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    })
}

impl SparseEmbedder for Bm25Embedder {
    fn embed_document(&self, text: &str) -> SparseVector {
        self.embed_document_in(text, None)
    }

    fn embed_document_in(&self, text: &str, locale: Option<&str>) -> SparseVector {
        match document_language(locale, text) {
            Language::ENGLISH => into_core(self.english.embed_document(text)),
            language => self.document_vector(analyze(text, Some(language))),
        }
    }

    fn embed_query(&self, text: &str) -> SparseVector {
        self.embed_query_in(text, None)
    }

    fn embed_query_in(&self, text: &str, locale: Option<&str>) -> SparseVector {
        let mut indices = self.english.embed_query(text).indices;
        let mut others: Vec<Language> = Vec::new();
        for language in [language_of(text), locale.and_then(Language::from_locale)]
            .into_iter()
            .flatten()
        {
            if language != Language::ENGLISH && !others.contains(&language) {
                others.push(language);
            }
        }
        for language in others {
            indices.extend(
                analyze(text, Some(language))
                    .iter()
                    .map(|term| term_index(term)),
            );
        }
        indices.sort_unstable();
        indices.dedup();
        let values = vec![1.0; indices.len()];
        SparseVector { indices, values }
    }

    fn analysis_id(&self) -> &str {
        &self.id
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

    fn bm25() -> Bm25Embedder {
        Bm25Embedder::default()
    }

    /// qdrant-edge's English BM25 exactly as configured before other languages came.
    fn edge_english() -> EdgeBm25 {
        EdgeBm25::new(EdgeBm25Config {
            language: Some("english".into()),
            ..EdgeBm25Config::default()
        })
        .unwrap()
    }

    #[test]
    fn english_documents_and_queries_keep_qdrant_edge_s_english_vectors() {
        let edge = edge_english();
        let document = "Refunds are issued within 14 days of the request.";
        for locale in [None, Some("en"), Some("en-GB")] {
            assert_eq!(
                bm25().embed_document_in(document, locale),
                into_core(edge.embed_document(document)),
                "{locale:?}"
            );
        }
        // Short and long questions, some of which the detector reads as other languages.
        for query in [
            "refunds",
            "how are refunds issued",
            "How do I reset my password if I lost access to my email?",
            "Was the Norman conquest in 1066?",
        ] {
            let english = into_core(edge.embed_query(query));
            let vector = bm25().embed_query(query);
            assert!(
                english.indices.iter().all(|i| vector.indices.contains(i)),
                "{query}: {vector:?} lacks {english:?}"
            );
        }
        assert_eq!(
            bm25().embed_query("how are refunds issued"),
            into_core(edge.embed_query("how are refunds issued"))
        );
    }

    #[test]
    fn stop_words_alone_produce_an_empty_vector() {
        assert!(bm25()
            .embed_document_in("the and of a is to", Some("en"))
            .is_empty());
        assert!(bm25().embed_query_in("what is the", Some("en")).is_empty());
        assert!(bm25()
            .embed_document_in("und der die das ist", Some("de"))
            .is_empty());
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
        let document = bm25().embed_document_in("Passwort zurücksetzen", Some("de"));
        let detected_only = bm25().embed_query("Passwort");
        let with_locale = bm25().embed_query_in("Passwort", Some("de"));
        assert!(detected_only
            .indices
            .iter()
            .all(|i| with_locale.indices.contains(i)));
        assert!(with_locale
            .indices
            .iter()
            .any(|i| document.indices.contains(i)));
    }

    #[test]
    fn indices_are_sorted_and_unique_with_one_value_each() {
        for vector in [
            bm25().embed_document("billing billing invoices refunds refunds refunds account"),
            bm25().embed_document_in("Rechnung Rechnung Konto Erstattung", Some("de")),
            bm25().embed_query_in("Rechnung und Konto, invoice", Some("de")),
        ] {
            assert!(vector.indices.windows(2).all(|pair| pair[0] < pair[1]));
            assert_eq!(vector.indices.len(), vector.values.len());
        }
    }

    #[test]
    fn repeated_terms_weigh_more_but_saturate() {
        let vector = bm25().embed_document_in("Rechnung Rechnung Rechnung Konto", Some("de"));
        let index = |word: &str| term_index(&analyze(word, Language::from_locale("de"))[0]);
        let (invoice, account) = (index("Rechnung"), index("Konto"));
        let weight =
            |index| vector.values[vector.indices.iter().position(|&i| i == index).unwrap()];
        assert!(weight(invoice) > weight(account));
        assert!(weight(invoice) < 3.0 * weight(account));
    }

    #[test]
    fn invalid_parameters_are_a_load_error() {
        let config = Bm25Config {
            avg_len: 0.0,
            ..Bm25Config::default()
        };
        let error = Bm25Embedder::new(config).expect_err("avg_len 0 is rejected");
        assert!(error.to_string().contains("bm25"), "{error}");
    }

    #[test]
    fn the_analysis_is_named_for_the_index_fingerprint() {
        let id = bm25().analysis_id().to_string();
        assert!(
            id.contains(ANALYSIS_VERSION) && id.contains("qdrant-edge"),
            "{id}"
        );
    }
}
