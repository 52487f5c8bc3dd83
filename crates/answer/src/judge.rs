//! The judge: which retrieved chunk to answer from, and how likely answering from it resolves
//! the question. Both come from the fitted models of [`crate::answerability`]; this module holds
//! what a deployer sets around them (depth, threshold) and picks the model for the turn: the
//! retrieval mode, and whether the dense model reads the message's language.

use fathom_core::SearchHit;
use serde::{Deserialize, Serialize};

use crate::answerability::{assess, Asked, Assessment, ModelFile};
use crate::lexical::Language;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JudgeConfig {
    /// How many of the retrieved chunks the rerank considers.
    pub rerank_depth: usize,
    /// Answer only at or above this confidence (a probability). `None`: the threshold the
    /// model's fit chose (or the workspace's own calibration, where the caller has one).
    #[serde(default)]
    pub min_confidence: Option<f32>,
    /// Below this cosine nothing retrieved is about the question at all (a handoff for
    /// `no_relevant_content` rather than `low_confidence`).
    pub min_relevance: f32,
}

impl Default for JudgeConfig {
    fn default() -> Self {
        Self {
            rerank_depth: 8,
            min_confidence: None,
            min_relevance: 0.25,
        }
    }
}

/// Whether a dense model trained for `dense_languages` (ISO 639-1 codes; `None`: any language)
/// reads `language`. A model that does not still returns a cosine, but one that says little.
pub fn dense_reads(dense_languages: Option<&[String]>, language: Language) -> bool {
    dense_languages.is_none_or(|languages| {
        languages
            .iter()
            .any(|code| Language::from_locale(code) == Some(language))
    })
}

/// Which fitted model judges: without dense cosines (BM25-only retrieval) the lexical one; with
/// them, the dense one when the dense model reads the message's language, else the foreign one,
/// which reads no dense feature (for MiniLM, whose vocabulary is English, every other language).
///
/// A first message (no history carried into the query) is judged by the file's `first_turn`
/// model where it has one: single-turn questions name everything they ask about, so how much of
/// them a chunk covers says more than in a follow-up, whose topic the history carries.
pub fn model_name(
    models: &ModelFile,
    asked: &Asked,
    hits: &[SearchHit],
    dense_languages: Option<&[String]>,
) -> &'static str {
    if !hits.iter().any(|h| h.dense_score.is_some()) {
        ModelFile::LEXICAL
    } else if dense_reads(dense_languages, asked.language()) {
        if !asked.history_used && models.models.contains_key(ModelFile::FIRST_TURN) {
            ModelFile::FIRST_TURN
        } else {
            ModelFile::DENSE
        }
    } else {
        ModelFile::FOREIGN
    }
}

/// Judge the hits for `message` (the customer's own words) and `query` (the standalone query),
/// both read in the message's language. `dense_languages` are the languages the dense model was
/// trained for (`Retriever::dense_languages`; `None`: any).
pub fn judge(
    config: &JudgeConfig,
    models: &ModelFile,
    message: &str,
    query: &str,
    hits: &[SearchHit],
    dense_languages: Option<&[String]>,
) -> (Assessment, &'static str) {
    let asked = Asked::among(message, query, hits);
    let name = model_name(models, &asked, hits, dense_languages);
    (
        assess(models.model(name), &asked, hits, config.rerank_depth),
        name,
    )
}

/// Whether nothing retrieved is about the question at all, by the signals `model` (the one that
/// judged) trusts: the dense cosine when it reads one, else the words.
pub fn nothing_relevant(config: &JudgeConfig, assessment: &Assessment, model: &str) -> bool {
    match &assessment.features {
        None => true,
        Some(features) if ModelFile::reads_dense(model) && features.get("dense_max") > 0.0 => {
            features.get("dense_max") < config.min_relevance
        }
        Some(features) => features.get("top_coverage") == 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hit on a chunk of article `a-<score>` (no declared locale).
    fn hit(text: &str, score: f32, dense: Option<f32>) -> SearchHit {
        crate::lexical::test_hit(text, score, dense, None)
    }

    fn run(question: &str, hits: &[SearchHit]) -> Assessment {
        judge(
            &JudgeConfig::default(),
            &ModelFile::builtin(),
            question,
            question,
            hits,
            None,
        )
        .0
    }

    #[test]
    fn the_phrase_match_outranks_a_slightly_better_retrieval_score() {
        // Same words, but only the second chunk has them in the asked order.
        let hits = vec![
            hit("Press power to turn the screen off and on.", 1.0, Some(0.6)),
            hit("To turn off the screen, press power.", 0.97, Some(0.6)),
        ];
        assert_eq!(run("how do I turn off the screen", &hits).order, vec![1, 0]);
    }

    #[test]
    fn a_much_better_retrieval_score_is_not_overturned_by_words_alone() {
        let hits = vec![
            hit(
                "Refunds are issued within 5 days of cancelling.",
                1.0,
                Some(0.7),
            ),
            hit("Cancel refunds cancel refunds.", 0.4, Some(0.3)),
        ];
        assert_eq!(
            run("when are refunds issued", &hits).order.first(),
            Some(&0)
        );
    }

    #[test]
    fn confidence_rises_with_coverage_and_closeness() {
        let question = "how long do refunds take";
        let confidence =
            |text: &str, dense: f32| run(question, &[hit(text, 1.0, Some(dense))]).confidence;
        let unrelated = confidence("Our office hours.", 0.2);
        let close = confidence("How long do refunds take? Five days.", 0.8);
        assert!(unrelated < close, "{unrelated} < {close}");
        let threshold = ModelFile::builtin().model(ModelFile::DENSE).threshold;
        assert!(close >= threshold, "{close} >= {threshold}");
        assert!(unrelated < threshold, "{unrelated} < {threshold}");
    }

    #[test]
    fn without_dense_scores_the_lexical_model_judges() {
        let lexical = hit("Refunds take five days.", 3.2, None);
        let (assessment, name) = judge(
            &JudgeConfig::default(),
            &ModelFile::builtin(),
            "refunds days",
            "refunds days",
            &[lexical],
            None,
        );
        assert_eq!(name, ModelFile::LEXICAL);
        assert!(assessment.confidence > 0.5);
    }

    /// `question` judged with a dense model that reads `dense_languages` (`None`: any).
    fn judged_with(
        dense_languages: Option<&[&str]>,
        question: &str,
        hits: &[SearchHit],
    ) -> (Assessment, &'static str) {
        let languages: Option<Vec<String>> =
            dense_languages.map(|l| l.iter().map(|c| c.to_string()).collect());
        judge(
            &JudgeConfig::default(),
            &ModelFile::builtin(),
            question,
            question,
            hits,
            languages.as_deref(),
        )
    }

    #[test]
    fn an_english_model_s_cosine_does_not_count_for_a_german_message() {
        let question = "Wie lange dauert eine Rückerstattung?";
        let judged = |dense: f32, languages: Option<&[&str]>| {
            let text = "Eine Rückerstattung dauert fünf Tage.";
            judged_with(languages, question, &[hit(text, 1.0, Some(dense))])
        };
        let (far, name) = judged(0.1, Some(&["en"]));
        let (close, _) = judged(0.9, Some(&["en"]));
        assert_eq!(name, ModelFile::FOREIGN);
        assert_eq!(far.confidence, close.confidence, "the cosine is not read");
        assert_eq!(judged(0.1, None).1, ModelFile::FIRST_TURN);
        let coverage = far.features.as_ref().unwrap().get("top_coverage");
        assert_eq!(far.confidence >= 0.5, coverage >= 0.62, "{coverage}");
    }

    #[test]
    fn a_foreign_message_with_nothing_in_common_is_nothing_relevant_whatever_the_cosine() {
        let question = "Wie lange dauert eine Rückerstattung?";
        let hits = [hit("Unsere Öffnungszeiten sind montags.", 1.0, Some(0.9))];
        let (assessment, name) = judged_with(Some(&["en"]), question, &hits);
        assert!(nothing_relevant(&JudgeConfig::default(), &assessment, name));
        assert!(!nothing_relevant(
            &JudgeConfig::default(),
            &assessment,
            ModelFile::DENSE
        ));
    }

    #[test]
    fn an_english_message_keeps_the_dense_models_of_an_english_embedder() {
        let hits = [hit("Refunds take five days.", 1.0, Some(0.7))];
        let (_, name) = judged_with(Some(&["en"]), "how long do refunds take", &hits);
        assert!(ModelFile::reads_dense(name), "{name}");
    }

    #[test]
    fn a_first_message_is_judged_by_the_first_turn_model_and_a_follow_up_by_the_dense_one() {
        let hits = [hit("Refunds take five days.", 1.0, Some(0.7))];
        let message = "how long do they take";
        let with = |models: &ModelFile, query: &str| {
            judge(&JudgeConfig::default(), models, message, query, &hits, None)
        };
        let shipped = ModelFile::builtin();
        let (first, name) = with(&shipped, message);
        assert_eq!(name, ModelFile::FIRST_TURN);
        let (follow_up, name) = with(&shipped, "refunds how long do they take");
        assert_eq!(name, ModelFile::DENSE);
        assert_ne!(first.confidence, follow_up.confidence);
        // A file without a first-turn model judges every message with the dense one.
        let mut without = shipped.clone();
        without.models.remove(ModelFile::FIRST_TURN);
        assert_eq!(with(&without, message).1, ModelFile::DENSE);
        // Nor does another embedder's file: its dense model is the foreign stand-in.
        assert_eq!(with(&shipped.without_dense(), message).1, ModelFile::DENSE);
    }

    #[test]
    fn hits_beyond_the_rerank_depth_keep_their_order() {
        let config = JudgeConfig {
            rerank_depth: 2,
            ..JudgeConfig::default()
        };
        let hits: Vec<SearchHit> = (0..4)
            .map(|i| hit("unrelated text", 1.0 - i as f32 * 0.1, Some(0.5)))
            .collect();
        let (assessment, _) = judge(
            &config,
            &ModelFile::builtin(),
            "refund",
            "refund",
            &hits,
            None,
        );
        assert_eq!(assessment.order.len(), 4);
        assert_eq!(&assessment.order[2..], &[2, 3]);
    }
}
