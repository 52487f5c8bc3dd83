//! What a deployer configures: how much history to carry, how many chunks to retrieve, the judge,
//! input limits, blocked topics and per-workspace thresholds.

use std::collections::BTreeMap;

use fathom_core::WorkspaceId;
use fathom_retrieve::ContextCarry;
use serde::{Deserialize, Serialize};

use crate::guardrails::InputLimits;
use crate::judge::JudgeConfig;

/// A topic the bot must not answer (legal, medical…): matching messages are handed off.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BlockedTopic {
    pub name: String,
    /// Lower-case words or phrases; a message containing any of them (as whole words) matches.
    pub phrases: Vec<String>,
}

impl BlockedTopic {
    pub fn defaults() -> Vec<Self> {
        let topic = |name: &str, phrases: &[&str]| Self {
            name: name.into(),
            phrases: phrases.iter().map(|p| p.to_string()).collect(),
        };
        vec![
            topic(
                "legal",
                &[
                    "lawsuit",
                    "sue you",
                    "suing",
                    "my lawyer",
                    "attorney",
                    "legal action",
                    "court order",
                    "subpoena",
                ],
            ),
            topic(
                "medical",
                &[
                    "diagnosis",
                    "diagnose",
                    "symptoms",
                    "medication",
                    "prescription",
                    "medical advice",
                ],
            ),
        ]
    }

    pub(crate) fn matches(&self, lower_message: &str) -> bool {
        self.phrases
            .iter()
            .any(|phrase| contains_phrase(lower_message, phrase))
    }
}

fn contains_phrase(haystack: &str, phrase: &str) -> bool {
    haystack.match_indices(phrase).any(|(i, _)| {
        let before = haystack[..i].chars().next_back();
        let after = haystack[i + phrase.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AnswerConfig {
    pub carry: ContextCarry,
    /// Chunks retrieved per question.
    pub retrieve_limit: usize,
    pub judge: JudgeConfig,
    pub limits: InputLimits,
    pub blocked_topics: Vec<BlockedTopic>,
    /// Per-workspace answer thresholds (from `fathom calibrate`, or `fathom eval` on that
    /// business's own eval set); other workspaces use `judge.min_confidence`, else the model's.
    #[serde(default)]
    pub workspace_min_confidence: BTreeMap<WorkspaceId, f32>,
    /// Per-workspace thresholds from `fathom calibrate` (the workspace's own probes); any
    /// configured threshold above wins over them.
    #[serde(default)]
    pub workspace_calibrated: BTreeMap<WorkspaceId, f32>,
}

impl Default for AnswerConfig {
    fn default() -> Self {
        Self {
            carry: ContextCarry::default(),
            retrieve_limit: 8,
            judge: JudgeConfig::default(),
            limits: InputLimits::default(),
            blocked_topics: BlockedTopic::defaults(),
            workspace_min_confidence: BTreeMap::new(),
            workspace_calibrated: BTreeMap::new(),
        }
    }
}

impl AnswerConfig {
    /// The confidence a workspace's answers need, when set: the workspace's configured threshold,
    /// else the global one, else its calibration (`None`: the model's threshold).
    pub fn min_confidence(&self, workspace: &WorkspaceId) -> Option<f32> {
        self.configured_min_confidence(workspace)
            .or_else(|| self.workspace_calibrated.get(workspace).copied())
    }

    /// The threshold the deployer set for a workspace (its own, else the global one), without
    /// calibration: a calibrated threshold holds for the model it was measured with only.
    pub fn configured_min_confidence(&self, workspace: &WorkspaceId) -> Option<f32> {
        self.workspace_min_confidence
            .get(workspace)
            .copied()
            .or(self.judge.min_confidence)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocked_phrases_match_whole_words_only() {
        let legal = &BlockedTopic::defaults()[0];
        assert!(legal.matches("i will sue you for this"));
        assert!(!legal.matches("pursue your goals"));
    }
}
