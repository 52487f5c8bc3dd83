//! Self-calibration: a workspace's answer threshold from its own articles, with no labelled
//! questions.
//!
//! Probes are made from the articles themselves:
//! - **answerable**: a section heading, and a sentence of the section, asked as they are; the
//!   probe is resolved when the engine would answer citing that article;
//! - **fact removed**: the same heading and sentence, judged as if the section they come from
//!   (and any other chunk holding them) did not exist, while the rest of the article stays: the
//!   help center covers the topic, not the fact, and answering is a false resolution;
//! - **another domain**: everyday questions no help center answers (cooking, travel, sports…).
//!
//! The threshold is the lowest at which both kinds of unanswerable probes keep false resolution
//! at or below the target; the curve on the probes is kept with it.

use std::collections::{BTreeMap, HashSet};

use fathom_answer::lexical::{sentences, terms};
use fathom_answer::AnswerEngine;
use fathom_core::{Chunk, Conversation, CustomerAttributes, WorkspaceId};
use serde::{Deserialize, Serialize};

/// Everyday questions from domains a help center does not cover.
pub const OTHER_DOMAIN: &[&str] = &[
    "How long should I boil an egg for a runny yolk?",
    "What is the capital of Australia?",
    "Who won the football world cup in 2014?",
    "How do I get red wine out of a carpet?",
    "What temperature should I bake bread at?",
    "How many calories are in a banana?",
    "When is the best time to plant tomatoes?",
    "How do I train my puppy to sit?",
    "What is the difference between a crocodile and an alligator?",
    "How far is the moon from the earth?",
    "Which vitamins are in spinach?",
    "How do I tie a bow tie?",
    "What should I pack for a week of hiking in the mountains?",
    "How do I remove rust from a bicycle chain?",
    "What year did the Berlin Wall fall?",
    "How do I make a sourdough starter?",
    "Why is the sky blue?",
    "How often should I water a cactus?",
    "What are the rules of cricket?",
    "How do I change a flat tyre on my car?",
    "Who painted the Mona Lisa?",
    "How do I knit a scarf for beginners?",
    "What is a good stretching routine after running?",
    "How do I get a visa to visit Japan?",
    "What is the best way to store fresh herbs?",
    "How many players are on a basketball team?",
    "How do I unclog a bathroom sink?",
    "What causes the northern lights?",
    "How do I descale a kettle with vinegar?",
    "Which wine goes well with salmon?",
];

/// What a probe is made of, and what answering it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeKind {
    /// A heading or sentence of an article: answering citing that article resolves it.
    Answerable,
    /// The same, with the chunks that hold it removed: answering is a false resolution.
    FactRemoved,
    /// A question from another domain: answering is a false resolution.
    OtherDomain,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    pub kind: ProbeKind,
    pub question: String,
    /// The article the question was made from (none for another domain).
    pub article: Option<String>,
    /// The chunk (section) it was made from.
    #[serde(skip)]
    pub chunk: Option<fathom_core::ChunkId>,
    /// The content terms the removed chunks hold (fact-removed probes only).
    #[serde(skip)]
    pub fact: Vec<String>,
}

/// A stable order that does not follow the folder's: FNV-1a of the article id.
fn spread(key: &str) -> u64 {
    key.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Probes from up to `articles` articles (one section each), plus the other-domain questions.
pub fn make_probes(chunks: &[Chunk], articles: usize) -> Vec<Probe> {
    let mut by_article: BTreeMap<&str, Vec<&Chunk>> = BTreeMap::new();
    for chunk in chunks {
        by_article
            .entry(chunk.article_id.as_str())
            .or_default()
            .push(chunk);
    }
    let mut order: Vec<&str> = by_article.keys().copied().collect();
    order.sort_by_key(|id| spread(id));
    let mut probes = Vec::new();
    for id in order.into_iter().take(articles) {
        let section = by_article[id]
            .iter()
            .max_by_key(|c| terms(&c.text).len())
            .copied();
        let Some(section) = section else { continue };
        let heading = section
            .heading_path
            .last()
            .cloned()
            .unwrap_or_else(|| section.title.clone());
        let sentence = sentences(&section.text)
            .into_iter()
            .filter(|s| (6..=30).contains(&s.split_whitespace().count()))
            .max_by_key(|s| terms(s).len())
            .map(str::to_string);
        for question in std::iter::once(heading).chain(sentence) {
            let fact = terms(&question);
            if fact.len() < 2 {
                continue;
            }
            probes.push(Probe {
                kind: ProbeKind::Answerable,
                question: question.clone(),
                article: Some(id.to_string()),
                chunk: Some(section.id),
                fact: vec![],
            });
            probes.push(Probe {
                kind: ProbeKind::FactRemoved,
                question,
                article: Some(id.to_string()),
                chunk: Some(section.id),
                fact,
            });
        }
    }
    probes.extend(OTHER_DOMAIN.iter().map(|q| Probe {
        kind: ProbeKind::OtherDomain,
        question: q.to_string(),
        article: None,
        chunk: None,
        fact: vec![],
    }));
    probes
}

/// Whether `chunk` holds the fact: it is the probe's section, or it contains 90% of the fact's
/// content terms (a near-duplicate section, in the same article or elsewhere).
fn holds(probe: &Probe, chunk: &Chunk) -> bool {
    if probe.chunk == Some(chunk.id) {
        return true;
    }
    let text: HashSet<String> = terms(&chunk.text_for_embedding()).into_iter().collect();
    let found = probe.fact.iter().filter(|t| text.contains(*t)).count();
    found as f32 >= 0.9 * probe.fact.len() as f32
}

/// One probe's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeResult {
    pub kind: ProbeKind,
    pub question: String,
    pub confidence: f32,
    /// For answerable probes: the engine's article is the probe's.
    pub right_article: bool,
}

/// Judge every probe with the engine.
pub async fn run_probes(
    engine: &AnswerEngine,
    workspace: &WorkspaceId,
    probes: &[Probe],
    on_probe: &(dyn Fn() + Send + Sync),
) -> Vec<ProbeResult> {
    let mut results = Vec::with_capacity(probes.len());
    for probe in probes {
        let conversation = Conversation {
            workspace: workspace.clone(),
            history: vec![],
            message: probe.question.clone(),
            customer: CustomerAttributes::default(),
        };
        let probed = match probe.kind {
            ProbeKind::FactRemoved => engine.probe(&conversation, |c| holds(probe, c)).await,
            _ => engine.probe(&conversation, |_| false).await,
        };
        results.push(ProbeResult {
            kind: probe.kind,
            question: probe.question.clone(),
            confidence: probed.as_ref().map_or(0.0, |p| p.confidence),
            right_article: probed.is_some_and(|p| probe.article.as_deref() == Some(&p.article)),
        });
        on_probe();
    }
    results
}

/// Resolution and false resolution on the probes at one threshold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ProbePoint {
    pub threshold: f32,
    pub resolution: f64,
    pub false_resolution_fact_removed: f64,
    pub false_resolution_other_domain: f64,
}

pub fn probe_point(results: &[ProbeResult], threshold: f32) -> ProbePoint {
    let rate = |kind: ProbeKind, counts: &dyn Fn(&ProbeResult) -> bool| {
        let of_kind: Vec<&ProbeResult> = results.iter().filter(|r| r.kind == kind).collect();
        if of_kind.is_empty() {
            return 0.0;
        }
        of_kind.iter().filter(|r| counts(r)).count() as f64 / of_kind.len() as f64
    };
    let answers = |r: &ProbeResult| r.confidence >= threshold;
    ProbePoint {
        threshold,
        resolution: rate(ProbeKind::Answerable, &|r| answers(r) && r.right_article),
        false_resolution_fact_removed: rate(ProbeKind::FactRemoved, &answers),
        false_resolution_other_domain: rate(ProbeKind::OtherDomain, &answers),
    }
}

/// A workspace's calibration, stored with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    pub version: u32,
    pub workspace: WorkspaceId,
    /// The answerability model the threshold is for (`dense`, `lexical`).
    pub model: String,
    pub threshold: f32,
    pub max_false_resolution: f64,
    /// Probes of each kind.
    pub probes: BTreeMap<ProbeKind, usize>,
    /// The probes' curve, every 0.025.
    pub curve: Vec<ProbePoint>,
    pub date: String,
}

impl Calibration {
    pub const VERSION: u32 = 1;
}

/// The lowest threshold at which both kinds of unanswerable probes keep false resolution at or
/// below `max` (1.0 when none does), with the curve.
pub fn choose_threshold(results: &[ProbeResult], max: f64) -> (f32, Vec<ProbePoint>) {
    let curve: Vec<ProbePoint> = (0..=40)
        .map(|i| probe_point(results, i as f32 / 40.0))
        .collect();
    let threshold = (0..=200)
        .map(|i| i as f32 / 200.0)
        .find(|&t| {
            let p = probe_point(results, t);
            p.false_resolution_fact_removed <= max && p.false_resolution_other_domain <= max
        })
        .unwrap_or(1.0);
    (threshold, curve)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fathom_core::{ArticleId, ChunkId};

    fn chunk(article: &str, heading: &str, text: &str) -> Chunk {
        let workspace = WorkspaceId::parse("acme").unwrap();
        let article_id = ArticleId::parse(article).unwrap();
        Chunk {
            id: ChunkId::derive(&workspace, &article_id, 0),
            workspace,
            article_id,
            title: "Title".into(),
            url: None,
            locale: None,
            heading_path: vec![heading.into()],
            position: 0,
            text: text.into(),
            token_count: 20,
            content_hash: String::new(),
        }
    }

    #[test]
    fn each_article_gives_answerable_and_fact_removed_probes_and_other_domains_are_added() {
        let chunks = vec![
            chunk(
                "refunds",
                "Annual plan refunds",
                "Annual plans can be refunded on a prorated basis within 30 days of purchase.",
            ),
            chunk(
                "password",
                "Reset your password",
                "Click Forgot password and we email you a reset link valid for 60 minutes.",
            ),
        ];
        let probes = make_probes(&chunks, 10);
        let count = |kind| probes.iter().filter(|p| p.kind == kind).count();
        assert_eq!(count(ProbeKind::Answerable), 4, "{probes:#?}");
        assert_eq!(count(ProbeKind::FactRemoved), 4);
        assert_eq!(count(ProbeKind::OtherDomain), OTHER_DOMAIN.len());
        let removed = probes
            .iter()
            .find(|p| p.kind == ProbeKind::FactRemoved && p.question.contains("prorated"))
            .unwrap();
        assert!(holds(removed, &chunks[0]));
        assert!(!holds(removed, &chunks[1]));
        // Another section of the same article stays: the topic is covered, the fact is not.
        let mut sibling = chunk(
            "refunds",
            "Monthly plans",
            "Monthly plans are not refunded.",
        );
        sibling.id = ChunkId::derive(&sibling.workspace, &sibling.article_id, 1);
        assert!(!holds(removed, &sibling));
    }

    #[test]
    fn the_threshold_is_the_lowest_that_keeps_both_unanswerable_kinds_safe() {
        let result = |kind, confidence| ProbeResult {
            kind,
            question: String::new(),
            confidence,
            right_article: true,
        };
        let mut results = vec![];
        for i in 0..10 {
            results.push(result(ProbeKind::Answerable, 0.5 + i as f32 / 20.0));
            results.push(result(ProbeKind::FactRemoved, i as f32 / 20.0));
            results.push(result(ProbeKind::OtherDomain, i as f32 / 40.0));
        }
        let (threshold, curve) = choose_threshold(&results, 0.1);
        // Fact-removed confidences reach 0.45: one of ten may be answered, so 0.45 is safe.
        assert!((threshold - 0.405).abs() < 0.01, "{threshold}");
        assert_eq!(curve.len(), 41);
        let at = probe_point(&results, threshold);
        assert!(at.false_resolution_fact_removed <= 0.1);
        assert_eq!(at.resolution, 1.0);
    }
}
