//! Fitted models and their file: logistic regressions over named features, each with the data
//! and the command that produced it.
//!
//! A file holds several named models (`dense`: every feature; `lexical`: none of the dense
//! model's, for BM25-only retrieval; `foreign`: none of the dense model's either, for a message in
//! a language the dense model does not read). Each has a rerank (which retrieved chunk to answer
//! from) and an answer model (should we answer from it?), and the threshold the fit chose.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// One feature's term in a logistic model: `weight × (value − mean) / scale`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Term {
    pub feature: String,
    pub mean: f32,
    pub scale: f32,
    pub weight: f32,
}

/// `P(yes) = σ(bias + Σ terms)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Logistic {
    pub bias: f32,
    pub terms: Vec<Term>,
}

impl Logistic {
    /// The log-odds for the features `get` returns.
    pub fn logit(&self, get: impl Fn(&str) -> f32) -> f32 {
        self.bias
            + self
                .terms
                .iter()
                .map(|t| t.weight * (get(&t.feature) - t.mean) / t.scale)
                .sum::<f32>()
    }

    pub fn probability(&self, get: impl Fn(&str) -> f32) -> f32 {
        sigmoid(self.logit(get))
    }

    pub fn features(&self) -> impl Iterator<Item = &str> {
        self.terms.iter().map(|t| t.feature.as_str())
    }
}

pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// A rerank, an answer model and its threshold, fitted together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnswerModel {
    /// Over [`super::Candidate`] features: is this chunk from an article that answers?
    pub rerank: Logistic,
    /// Over [`super::CaseFeatures`]: is the reranked first chunk's article one that answers?
    pub answer: Logistic,
    /// Answer at or above this probability: the fit's choice (the highest resolution with
    /// false resolution ≤ the target on the training sets' handoff cases).
    pub threshold: f32,
    /// Values the turn's features must reach before the answer model is asked at all (below
    /// any, the confidence is 0): a guard where the fit's data is thin. The `foreign` model's
    /// weighs the rerank's margin over other articles, which sits at its cap in a help center of
    /// one or two articles; its floor on coverage keeps it from answering there from a chunk
    /// that holds few of the question's words.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub floors: BTreeMap<String, f32>,
}

impl AnswerModel {
    /// The probability that the reranked first chunk answers, 0 below any floor.
    pub fn confidence(&self, get: impl Fn(&str) -> f32) -> f32 {
        if self.floors.iter().any(|(name, floor)| get(name) < *floor) {
            return 0.0;
        }
        self.answer.probability(get)
    }
}

/// Where a fit came from: enough to reproduce it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// The eval sets (and their case counts) the fit saw.
    pub data: Vec<String>,
    pub date: String,
    pub command: String,
    #[serde(default)]
    pub note: String,
}

/// The weights file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelFile {
    pub version: u32,
    pub provenance: Provenance,
    pub models: BTreeMap<String, AnswerModel>,
}

/// The models shipped with Fathom (see `models/answerability.json` and its provenance).
const BUILTIN: &str = include_str!("../../models/answerability.json");

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("reading the answerability model {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the answerability model {path} is not a model file: {source}")]
    Parse {
        path: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("the answerability model {path} has no `{name}` model")]
    Missing { path: String, name: String },
}

impl ModelFile {
    pub const VERSION: u32 = 1;
    /// The model for hybrid retrieval (dense cosine available).
    pub const DENSE: &'static str = "dense";
    /// The model without dense features, for BM25-only retrieval.
    pub const LEXICAL: &'static str = "lexical";
    /// The model for hybrid retrieval when the message is in a language the dense model does not
    /// read: its cosine exists but says little, so no dense feature is read. Optional in a file
    /// (the lexical model stands in).
    pub const FOREIGN: &'static str = "foreign";
    /// The model for a first message (no conversation before it) judged with dense features:
    /// fitted on single-turn questions, which carry all their words themselves. Optional in a
    /// file (the dense model judges first messages too); its threshold is the dense model's, so
    /// one threshold (configured or calibrated) reads both.
    pub const FIRST_TURN: &'static str = "first_turn";

    /// Whether the model called `name` reads dense features.
    pub fn reads_dense(name: &str) -> bool {
        name == Self::DENSE || name == Self::FIRST_TURN
    }

    pub fn builtin() -> Self {
        serde_json::from_str(BUILTIN).expect("the built-in answerability model parses")
    }

    pub fn load(path: &Path) -> Result<Self, ModelError> {
        let text = std::fs::read_to_string(path).map_err(|source| ModelError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let file: Self = serde_json::from_str(&text).map_err(|source| ModelError::Parse {
            path: path.display().to_string(),
            source,
        })?;
        for name in [Self::DENSE, Self::LEXICAL] {
            if !file.models.contains_key(name) {
                return Err(ModelError::Missing {
                    path: path.display().to_string(),
                    name: name.into(),
                });
            }
        }
        Ok(file)
    }

    /// This file for a dense embedder its `dense` model was not fitted on: another model's
    /// cosines live on another scale (E5's sit around 0.8 where MiniLM's sit around 0.3), so
    /// reading them with these weights answers far too often. Every message is judged as one in
    /// a language the dense model does not read (the `foreign` model, else the lexical one).
    pub fn without_dense(mut self) -> Self {
        let stand_in = self.model(Self::FOREIGN).clone();
        self.models.insert(Self::DENSE.to_string(), stand_in);
        self.models.remove(Self::FIRST_TURN);
        self.provenance.note.push_str(
            " [dense model replaced by the foreign one: the configured embedder is not the one it was fitted on]",
        );
        self
    }

    /// The model called `name`, else the lexical one (every file has both).
    pub fn model(&self, name: &str) -> &AnswerModel {
        self.models
            .get(name)
            .or_else(|| self.models.get(Self::LEXICAL))
            .or_else(|| self.models.values().next())
            .expect("a model file holds at least one model")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_file_has_a_dense_and_a_lexical_model_and_the_lexical_reads_no_dense_feature() {
        let file = ModelFile::builtin();
        assert_eq!(file.version, ModelFile::VERSION);
        assert!(!file.provenance.command.is_empty());
        for name in [ModelFile::LEXICAL, ModelFile::FOREIGN] {
            assert!(file.models.contains_key(name), "{name}");
            let model = file.model(name);
            for feature in model.rerank.features().chain(model.answer.features()) {
                assert!(
                    !super::super::is_dense_feature(feature),
                    "{name}: {feature}"
                );
            }
        }
        assert!(file.models.contains_key(ModelFile::DENSE));
    }

    #[test]
    fn the_builtin_foreign_model_answers_a_covered_clear_winner_and_reads_no_cosine() {
        let file = ModelFile::builtin();
        let foreign = file.model(ModelFile::FOREIGN);
        let answers = |coverage: f32, margin: f32| {
            let features = |name: &str| match name {
                "top_coverage" | "top_idf_coverage" => coverage,
                "top_phrase" => coverage / 2.0,
                "rerank_margin" => margin,
                // A cosine the model must not read: high, so reading it would show.
                _ => 0.9,
            };
            foreign.confidence(features) >= foreign.threshold
        };
        // The question's words all in one chunk, well ahead of any other article: answer.
        assert!(answers(1.0, 4.0));
        // Half the words, and another article as good: a person.
        assert!(!answers(0.5, 0.0));
        // A chunk far ahead of every other article (or the only article there is) but holding
        // few of the question's words: under the coverage floor.
        assert!(!answers(0.3, 5.0));
        for feature in foreign.answer.features() {
            assert!(!super::super::is_dense_feature(feature), "{feature}");
        }
        assert!(
            file.provenance.data.iter().any(|d| d.contains("xquad-de")
                && d.contains("xquad-es")
                && d.contains("xquad-zh")),
            "the provenance names the sets the model was fitted on"
        );
    }

    #[test]
    fn without_dense_judges_every_message_without_a_dense_feature() {
        let file = ModelFile::builtin().without_dense();
        let dense = file.model(ModelFile::DENSE);
        assert_eq!(dense, file.model(ModelFile::FOREIGN));
        for feature in dense.rerank.features().chain(dense.answer.features()) {
            assert!(!super::super::is_dense_feature(feature), "{feature}");
        }
    }

    #[test]
    fn a_file_without_a_foreign_model_judges_foreign_messages_with_the_lexical_one() {
        let mut file = ModelFile::builtin();
        file.models.remove(ModelFile::FOREIGN);
        assert_eq!(
            file.model(ModelFile::FOREIGN),
            file.model(ModelFile::LEXICAL)
        );
    }

    #[test]
    fn probability_follows_the_weights() {
        let model = Logistic {
            bias: 0.0,
            terms: vec![Term {
                feature: "x".into(),
                mean: 1.0,
                scale: 2.0,
                weight: 1.0,
            }],
        };
        assert_eq!(model.probability(|_| 1.0), 0.5);
        assert!(model.probability(|_| 3.0) > 0.7);
        assert!(model.probability(|_| -1.0) < 0.3);
    }
}
