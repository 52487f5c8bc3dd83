//! The judge: which retrieved chunk to answer from, and how likely answering from it resolves
//! the question. Both come from the fitted models of [`crate::answerability`]; this module holds
//! what a deployer sets around them (depth, threshold) and picks the model for the retrieval mode.

use fathom_core::SearchHit;
use serde::{Deserialize, Serialize};

use crate::answerability::{assess, Asked, Assessment, ModelFile};

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

/// Which fitted model judges: the dense one when the hits carry dense cosines, else the lexical.
pub fn model_name(hits: &[SearchHit]) -> &'static str {
    if hits.iter().any(|h| h.dense_score.is_some()) {
        ModelFile::DENSE
    } else {
        ModelFile::LEXICAL
    }
}

/// Judge the hits for `message` (the customer's own words) and `query` (the standalone query).
pub fn judge(
    config: &JudgeConfig,
    models: &ModelFile,
    message: &str,
    query: &str,
    hits: &[SearchHit],
) -> (Assessment, &'static str) {
    let name = model_name(hits);
    let asked = Asked::new(message, query);
    (
        assess(models.model(name), &asked, hits, config.rerank_depth),
        name,
    )
}

/// Whether nothing retrieved is about the question at all.
pub fn nothing_relevant(config: &JudgeConfig, assessment: &Assessment) -> bool {
    match &assessment.features {
        None => true,
        Some(features) if features.get("dense_max") > 0.0 => {
            features.get("dense_max") < config.min_relevance
        }
        Some(features) => features.get("top_coverage") == 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fathom_core::{ArticleId, Chunk, ChunkId, WorkspaceId};

    fn hit(text: &str, score: f32, dense: Option<f32>) -> SearchHit {
        let workspace: WorkspaceId = "default".parse().unwrap();
        let article_id = ArticleId::try_from(format!("a-{score}")).unwrap();
        SearchHit {
            chunk: Chunk {
                id: ChunkId::derive(&workspace, &article_id, 0),
                workspace,
                article_id,
                title: "Title".into(),
                url: None,
                locale: None,
                heading_path: vec![],
                position: 0,
                text: text.into(),
                token_count: 10,
                content_hash: String::new(),
            },
            score,
            dense_score: dense,
            bm25_score: None,
        }
    }

    fn run(question: &str, hits: &[SearchHit]) -> Assessment {
        judge(
            &JudgeConfig::default(),
            &ModelFile::builtin(),
            question,
            question,
            hits,
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
        );
        assert_eq!(name, ModelFile::LEXICAL);
        assert!(assessment.confidence > 0.5);
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
        let (assessment, _) = judge(&config, &ModelFile::builtin(), "refund", "refund", &hits);
        assert_eq!(assessment.order.len(), 4);
        assert_eq!(&assessment.order[2..], &[2, 3]);
    }
}
