//! Word-level helpers shared by the answerability judge, the extractive answerer and the support
//! check: normalised content terms in the language of the customer's message.
//!
//! English keeps its tuned path (stop words, chat and request words, a light suffix stemmer);
//! every other language goes through `fathom-text` (stop words, Snowball stemming, word
//! segmentation for Chinese and Japanese). Both sides of a comparison (the message and a chunk)
//! must be read in the same language: take it once with [`message_language`] and pass it to
//! [`terms_in`].

use std::collections::HashSet;

use fathom_retrieve::query::is_stop_word;
pub use fathom_text::Language;

/// Words of chat that say how the customer asks, not what about ("I meant…", "is it possible
/// to…", "sorry, I'm confused"): a help article never contains them, so counting them would
/// make a follow-up look less covered than the same question asked plainly.
const CHAT_WORDS: &[&str] = &[
    "meant",
    "mean",
    "means",
    "oops",
    "sorry",
    "pls",
    "plz",
    "hi",
    "hello",
    "hey",
    "confused",
    "bit",
    "little",
    "wondering",
    "wonder",
    "ask",
    "asking",
    "asked",
    "question",
    "questions",
    "understand",
    "sure",
    "really",
    "actually",
    "possible",
    "able",
    "kind",
    "let",
    "see",
    "say",
    "said",
    "told",
    "think",
    "guess",
    "something",
    "anything",
    "way",
    "still",
    "again",
    "though",
    "else",
    "great",
    "cool",
    "perfect",
    "got",
];

/// Words that say what kind of help is wanted rather than with what: "how do I *fix* the
/// *issue* with…", "where do I *find*…", "how do I *set*…". Articles state the fix or the setting
/// itself ("The TV won't turn on: …"), so these rarely appear in the passage that answers.
const REQUEST_WORDS: &[&str] = &[
    "fix",
    "fixed",
    "issue",
    "issues",
    "problem",
    "problems",
    "trouble",
    "configure",
    "set",
    "find",
    "help",
];

/// The language to read `message` (and what it is compared with) in: the detected one when
/// detection is sure of it, English otherwise (a short English question misread as another
/// language would lose its English stop words).
pub fn message_language(message: &str) -> Language {
    fathom_text::language_of(message).unwrap_or(Language::ENGLISH)
}

/// The language to read `message` in once retrieval has found `hits`: the detected one when
/// detection is sure of it; else the language the best hits are written in (the top three that
/// declare a locale agree on it), since a short question is most likely in its help center's
/// language ("Was versteht man unter Kulturimperialismus?" is too short for the detector, and
/// read as English it loses its German stems and gets an English model's cosine); else English.
pub fn reading_language(message: &str, hits: &[fathom_core::SearchHit]) -> Language {
    fathom_text::language_of(message)
        .or_else(|| hits_language(hits))
        .unwrap_or(Language::ENGLISH)
}

/// The language all of the top three hits that declare a locale agree on.
fn hits_language(hits: &[fathom_core::SearchHit]) -> Option<Language> {
    let mut languages = hits
        .iter()
        .take(3)
        .filter_map(|hit| hit.chunk.locale.as_deref().and_then(Language::from_locale));
    let first = languages.next()?;
    languages.all(|language| language == first).then_some(first)
}

/// The language the best hits are written in, when it is not the message's: all of the top
/// three hits that declare a locale agree on it. `None` when they are in the message's language,
/// disagree, or declare none.
pub fn other_articles_language(message: &str, hits: &[fathom_core::SearchHit]) -> Option<Language> {
    let asked = message_language(message);
    hits_language(hits).filter(|&language| language != asked)
}

/// Content terms of `text` read in `language`, in order.
pub fn terms_in(text: &str, language: Language) -> Vec<String> {
    if language == Language::ENGLISH {
        english_terms(text)
    } else {
        fathom_text::analyze(text, Some(language))
    }
}

pub fn term_set_in(text: &str, language: Language) -> HashSet<String> {
    terms_in(text, language).into_iter().collect()
}

/// Content terms of `text` in its own language.
pub fn terms(text: &str) -> Vec<String> {
    terms_in(text, message_language(text))
}

/// Lower-cased, lightly stemmed English content words ("refunds", "refunded" → "refund").
fn english_terms(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .filter(|w| {
            !is_stop_word(w)
                && !CHAT_WORDS.contains(&w.as_str())
                && !REQUEST_WORDS.contains(&w.as_str())
        })
        .map(|w| stem(&w))
        .collect()
}

pub fn term_set(text: &str) -> HashSet<String> {
    terms(text).into_iter().collect()
}

/// A deliberately small stemmer: strips common English inflections.
pub fn stem(word: &str) -> String {
    let w = word;
    for (suffix, min_len) in [
        ("ations", 4),
        ("ation", 4),
        ("ings", 4),
        ("ing", 4),
        ("ies", 3),
        ("ied", 3),
        ("ed", 4),
        ("es", 4),
        ("s", 3),
        ("ly", 4),
    ] {
        if let Some(stripped) = w.strip_suffix(suffix) {
            if stripped.chars().count() >= min_len {
                return match suffix {
                    "ies" | "ied" => format!("{stripped}y"),
                    _ => stripped.to_string(),
                };
            }
        }
    }
    w.to_string()
}

/// Fraction of `query` terms found in `text` (0 when the query has none).
pub fn coverage(query_terms: &HashSet<String>, text_terms: &HashSet<String>) -> f32 {
    if query_terms.is_empty() {
        return 0.0;
    }
    let found = query_terms
        .iter()
        .filter(|t| text_terms.contains(*t))
        .count();
    found as f32 / query_terms.len() as f32
}

/// Fraction of the query's adjacent term pairs ("turn off", "off screen") found adjacent, in the
/// same order, in `text`. A query with fewer than two terms has no pairs: its plain coverage
/// stands in, so a one-word question is neither rewarded nor punished.
pub fn phrase_coverage(query: &[String], text: &[String]) -> f32 {
    if query.len() < 2 {
        let text_terms: HashSet<String> = text.iter().cloned().collect();
        let query_terms: HashSet<String> = query.iter().cloned().collect();
        return coverage(&query_terms, &text_terms);
    }
    let text_pairs: HashSet<(&str, &str)> = text
        .windows(2)
        .map(|w| (w[0].as_str(), w[1].as_str()))
        .collect();
    let query_pairs: HashSet<(&str, &str)> = query
        .windows(2)
        .map(|w| (w[0].as_str(), w[1].as_str()))
        .collect();
    let found = query_pairs
        .iter()
        .filter(|p| text_pairs.contains(*p))
        .count();
    found as f32 / query_pairs.len() as f32
}

/// Split text into sentences (keeps list items and lines as their own units).
pub fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let mut start = 0;
        let bytes = line.as_bytes();
        for (i, c) in line.char_indices() {
            if matches!(c, '.' | '!' | '?') {
                let next = bytes.get(i + 1).copied();
                let sentence = line[start..=i].trim();
                // "1. Choose a plan": a list marker, not the end of a sentence.
                let list_marker = c == '.'
                    && sentence.len() > 1
                    && sentence[..sentence.len() - 1]
                        .bytes()
                        .all(|b| b.is_ascii_digit());
                if (next.is_none() || next == Some(b' ')) && !list_marker {
                    if !sentence.is_empty() {
                        out.push(sentence);
                    }
                    start = i + 1;
                }
            }
        }
        let rest = line[start..].trim();
        if !rest.is_empty() {
            out.push(rest);
        }
    }
    out
}

/// A search hit for unit tests: one chunk of article `a-<score>`, in `locale` if given.
#[cfg(test)]
pub(crate) fn test_hit(
    text: &str,
    score: f32,
    dense: Option<f32>,
    locale: Option<&str>,
) -> fathom_core::SearchHit {
    use fathom_core::{ArticleId, Chunk, ChunkId, WorkspaceId};
    let workspace: WorkspaceId = "default".parse().unwrap();
    let article_id = ArticleId::try_from(format!("a-{score}")).unwrap();
    fathom_core::SearchHit {
        chunk: Chunk {
            id: ChunkId::derive(&workspace, &article_id, 0),
            workspace,
            article_id,
            title: "Title".into(),
            url: None,
            locale: locale.map(str::to_string),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inflections_share_a_stem() {
        assert_eq!(stem("refunds"), stem("refund"));
        assert_eq!(stem("refunded"), "refund");
        assert_eq!(stem("policies"), "policy");
        assert_eq!(stem("is"), "is");
    }

    #[test]
    fn chat_and_request_words_are_not_content() {
        assert_eq!(
            terms("Oops, I meant: how do I fix the weak signal issue?"),
            vec!["weak", "signal"]
        );
        assert_eq!(
            terms("Is it possible to find the recording list?"),
            vec!["record", "list"]
        );
    }

    #[test]
    fn phrase_coverage_counts_pairs_in_order() {
        let q = terms("turn off the screen saver");
        assert_eq!(q.len(), 4);
        let same = terms("To turn off the screen saver, open Settings.");
        let reversed = terms("Saver screen: off, turn.");
        let half = terms("Turn off the saver. The screen dims later.");
        assert_eq!(phrase_coverage(&q, &same), 1.0);
        assert_eq!(phrase_coverage(&q, &reversed), 0.0);
        assert!((phrase_coverage(&q, &half) - 1.0 / 3.0).abs() < 1e-6);
        // One term: plain coverage.
        assert_eq!(
            phrase_coverage(&terms("refunds"), &terms("refund policy")),
            1.0
        );
    }

    #[test]
    fn a_german_message_and_a_german_chunk_share_stemmed_terms() {
        let message = "Werden Rückerstattungen innerhalb von 14 Tagen ausgezahlt?";
        let language = message_language(message);
        assert_eq!(language.code(), "de");
        let asked = term_set_in(message, language);
        let chunk = term_set_in(
            "Die Rückerstattung wird innerhalb von 14 Tagen ausgezahlt.",
            language,
        );
        assert!(coverage(&asked, &chunk) >= 0.6, "{asked:?} vs {chunk:?}");
    }

    #[test]
    fn chinese_is_read_in_words_not_as_one_term() {
        let message = "退款需要多长时间才能到账？";
        let language = message_language(message);
        assert_eq!(language.code(), "zh");
        assert!(terms_in(message, language).len() >= 2);
    }

    #[test]
    fn a_short_unclear_message_is_read_as_english() {
        assert_eq!(message_language("ok"), Language::ENGLISH);
        assert_eq!(message_language("refunds"), Language::ENGLISH);
    }

    fn hit_in(locale: Option<&str>) -> fathom_core::SearchHit {
        test_hit("text", 1.0, None, locale)
    }

    #[test]
    fn a_message_too_short_to_detect_is_read_in_its_help_centers_language() {
        let short = "Was versteht man unter Kulturimperialismus?";
        assert_eq!(
            fathom_text::language_of(short),
            None,
            "the detector is unsure"
        );
        let german = vec![hit_in(Some("de")); 3];
        assert_eq!(reading_language(short, &german).code(), "de");
        // Hits that disagree, or declare nothing: English, as before.
        let mixed = vec![hit_in(Some("de")), hit_in(Some("fr"))];
        assert_eq!(reading_language(short, &mixed), Language::ENGLISH);
        assert_eq!(reading_language(short, &[hit_in(None)]), Language::ENGLISH);
        // A sure detection wins over the hits: a German customer on an English help center.
        let sure = "Werden Rückerstattungen innerhalb von 14 Tagen ausgezahlt?";
        let english = vec![hit_in(Some("en")); 3];
        assert_eq!(reading_language(sure, &english).code(), "de");
    }

    #[test]
    fn sentences_split_on_terminal_punctuation_and_lines() {
        let s = sentences("Open Settings. Click Billing!\n1. Choose a plan\nVersion 2.5 is out.");
        assert_eq!(
            s,
            vec![
                "Open Settings.",
                "Click Billing!",
                "1. Choose a plan",
                "Version 2.5 is out."
            ]
        );
    }
}
