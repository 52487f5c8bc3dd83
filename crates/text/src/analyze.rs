//! Words → index terms: stop words out, Latin diacritics folded, Snowball stem.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use rust_stemmers::Stemmer;
use unicode_normalization::UnicodeNormalization;

use crate::{segment::words, Language};

/// Names everything that shapes the terms (segmenters, stop lists, stemmers, folding). An index
/// stores it in its fingerprint: when it changes, the next sync re-indexes.
pub const ANALYSIS_VERSION: &str = "fathom-text-1";

pub(crate) static STOP_WORDS: LazyLock<HashMap<Language, HashSet<&'static str>>> =
    LazyLock::new(|| {
        Language::all()
            .filter_map(|language| {
                let list = stop_words::lookup(language.code())
                    .or_else(|| stop_words::lookup(language_alias(language)))?;
                Some((language, list.iter().copied().collect()))
            })
            .collect()
    });

/// The stop-word lists name Norwegian `no`.
fn language_alias(language: Language) -> &'static str {
    match language.code() {
        "nb" => "no",
        code => code,
    }
}

/// Is `word` (lower-cased) a stop word of `language`?
pub fn is_stop_word(word: &str, language: Language) -> bool {
    STOP_WORDS
        .get(&language)
        .is_some_and(|stops| stops.contains(word))
}

/// The text's index terms, in order (repeats kept, for term frequencies and phrases). `language`
/// chooses stop words, stemmer and segmenter; `None` keeps every word, unstemmed.
pub fn analyze(text: &str, language: Option<Language>) -> Vec<String> {
    let stemmer = language.and_then(Language::stemmer).map(Stemmer::create);
    words(text, language)
        .into_iter()
        .filter(|word| keeps(word, language))
        // Folded before stemming, so "información" and "informacion" reach the stemmer as the
        // same string (a stemmer's accented suffixes would otherwise split them).
        .map(|word| {
            let folded = fold(&word);
            match &stemmer {
                Some(stemmer) => stemmer.stem(&folded).into_owned(),
                None => folded,
            }
        })
        .collect()
}

fn keeps(word: &str, language: Option<Language>) -> bool {
    let mut chars = word.chars();
    let first = chars.next();
    let single = chars.next().is_none();
    // One Latin/Cyrillic/Greek letter is not a term ("s" of "it's"); a digit, a CJK character or
    // a syllable is.
    if single && first.is_some_and(|c| c.is_alphabetic() && u32::from(c) < 0x0800) {
        return false;
    }
    // Stop lists spell words with or without their accents ("cómo" is listed as "como").
    !language.is_some_and(|language| {
        is_stop_word(word, language) || (!word.is_ascii() && is_stop_word(&fold(word), language))
    })
}

/// Strip the combining diacritics of the Latin, Greek and Cyrillic block (U+0300–U+036F) only:
/// "información" and "informacion" meet, while the vowel signs of Indic or Thai script, which
/// are letters there, stay.
fn fold(term: &str) -> String {
    if term.is_ascii() {
        return term.to_string();
    }
    let folded: String = term
        .nfd()
        .filter(|c| !matches!(u32::from(*c), 0x0300..=0x036F))
        .nfc()
        .collect();
    if folded.is_empty() {
        term.to_string()
    } else {
        folded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lang(code: &str) -> Option<Language> {
        Language::from_locale(code)
    }

    #[test]
    fn german_inflections_share_a_stem_and_stop_words_go() {
        let terms = analyze("Die Rückerstattungen werden erstattet", lang("de"));
        assert_eq!(terms.len(), 2, "{terms:?}");
        assert_eq!(
            analyze("Rückerstattung", lang("de")),
            analyze("Rückerstattungen", lang("de"))
        );
    }

    #[test]
    fn spanish_terms_meet_with_or_without_accents() {
        assert_eq!(
            analyze("información", lang("es")),
            analyze("informacion", lang("es"))
        );
        assert_eq!(analyze("¿Cómo puedo pagar?", lang("es")), ["pued", "pag"]);
    }

    #[test]
    fn chinese_stop_words_go_and_words_stay() {
        let terms = analyze("我的密码在哪里", lang("zh"));
        assert!(terms.contains(&"密码".to_string()), "{terms:?}");
        assert!(!terms.contains(&"的".to_string()), "{terms:?}");
    }

    #[test]
    fn without_a_language_every_word_stays_unstemmed() {
        assert_eq!(analyze("The refunds", None), ["the", "refunds"]);
    }

    #[test]
    fn indic_vowel_signs_are_not_folded_away() {
        assert_eq!(analyze("हिन्दी", None), ["हिन्दी"]);
    }
}
