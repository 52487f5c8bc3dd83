//! Words of a text in any script.
//!
//! - Scripts that put spaces between words: runs of letters, digits and combining marks (so a
//!   Devanagari vowel sign stays inside its word).
//! - Chinese (Han without kana): jieba's dictionary segmentation.
//! - Japanese: katakana runs are words; kanji runs become overlapping character pairs; hiragana
//!   inside a kanji or katakana run is grammar (particles, endings) and is dropped.
//! - Thai, Lao, Khmer, Myanmar and Hangul: overlapping character pairs, the standard fallback of
//!   search engines for scripts without a segmenter (Korean words carry their particles, so pairs
//!   match across inflections).

use std::sync::LazyLock;

use jieba_rs::Jieba;
use unicode_normalization::char::is_combining_mark;

use crate::Language;

static JIEBA: LazyLock<Jieba> = LazyLock::new(Jieba::new);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Part of a word in a script that separates words with spaces.
    Spaced,
    Han,
    Hiragana,
    Katakana,
    /// Thai, Lao, Khmer, Myanmar: no spaces, no segmenter here.
    Unspaced,
    Hangul,
    Separator,
}

fn class(c: char) -> Class {
    match u32::from(c) {
        0x3040..=0x309F => Class::Hiragana,
        0x30A0..=0x30FF | 0x31F0..=0x31FF | 0xFF66..=0xFF9F => Class::Katakana,
        0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F => Class::Han,
        0x0E00..=0x0EFF | 0x1780..=0x17FF | 0x1000..=0x109F => Class::Unspaced,
        0xAC00..=0xD7AF | 0x1100..=0x11FF | 0x3130..=0x318F => Class::Hangul,
        _ if c.is_alphanumeric() || is_combining_mark(c) => Class::Spaced,
        _ => Class::Separator,
    }
}

/// The text's words, in order, lower-cased. `language` chooses the segmenter for Han text
/// (Japanese or Chinese); without it, Han next to kana is read as Japanese.
pub fn words(text: &str, language: Option<Language>) -> Vec<String> {
    let japanese = match language {
        Some(language) => language.code() == "ja",
        None => text
            .chars()
            .any(|c| matches!(class(c), Class::Hiragana | Class::Katakana)),
    };
    let mut out = Vec::new();
    let mut run_start: Option<(usize, Class)> = None;
    for (index, c) in text
        .char_indices()
        .chain(std::iter::once((text.len(), ' ')))
    {
        let class = class(c);
        let run_group = group(class);
        if let Some((start, run_class)) = run_start {
            if group(run_class) == run_group {
                continue;
            }
            emit(&text[start..index], run_class, japanese, &mut out);
            run_start = None;
        }
        if class != Class::Separator {
            run_start = Some((index, class));
        }
    }
    out
}

/// Classes that form one run: a Japanese run mixes kanji and kana.
fn group(class: Class) -> u8 {
    match class {
        Class::Spaced => 1,
        Class::Han | Class::Hiragana | Class::Katakana => 2,
        Class::Unspaced => 3,
        Class::Hangul => 4,
        Class::Separator => 0,
    }
}

fn emit(run: &str, class: Class, japanese: bool, out: &mut Vec<String>) {
    match class {
        Class::Spaced => out.push(run.to_lowercase()),
        Class::Han | Class::Hiragana | Class::Katakana if japanese => japanese_words(run, out),
        Class::Han | Class::Hiragana | Class::Katakana => chinese_words(run, out),
        Class::Unspaced | Class::Hangul => pairs(run, out),
        Class::Separator => {}
    }
}

fn chinese_words(run: &str, out: &mut Vec<String>) {
    out.extend(
        JIEBA
            .cut(run, true)
            .into_iter()
            .filter(|word| word.chars().any(|c| class(c) != Class::Separator))
            .map(str::to_string),
    );
}

fn japanese_words(run: &str, out: &mut Vec<String>) {
    let chars: Vec<char> = run.chars().collect();
    let only_hiragana = chars.iter().all(|&c| class(c) == Class::Hiragana);
    let mut start = 0;
    while start < chars.len() {
        let script = class(chars[start]);
        let end = chars[start..]
            .iter()
            .position(|&c| class(c) != script)
            .map_or(chars.len(), |offset| start + offset);
        let piece: String = chars[start..end].iter().collect();
        match script {
            Class::Katakana => out.push(piece),
            Class::Hiragana if !only_hiragana => {}
            _ => pairs(&piece, out),
        }
        start = end;
    }
}

/// Overlapping character pairs; a single character stands alone.
fn pairs(run: &str, out: &mut Vec<String>) {
    let chars: Vec<char> = run.chars().collect();
    if chars.len() < 2 {
        out.push(run.to_string());
        return;
    }
    out.extend(chars.windows(2).map(|pair| pair.iter().collect::<String>()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spaced_scripts_split_on_punctuation_and_keep_marks_inside_words() {
        assert_eq!(
            words("Reset your PASSWORD, then sign-in.", None),
            ["reset", "your", "password", "then", "sign", "in"]
        );
        // "हिन्दी": the vowel sign and virama are combining marks, not separators.
        assert_eq!(words("हिन्दी भाषा", None), ["हिन्दी", "भाषा"]);
    }

    #[test]
    fn chinese_is_segmented_into_dictionary_words() {
        let zh = Language::from_locale("zh");
        let segmented = words("我想重置我的密码", zh);
        assert!(segmented.contains(&"密码".to_string()), "{segmented:?}");
        assert!(segmented.contains(&"重置".to_string()), "{segmented:?}");
    }

    #[test]
    fn japanese_keeps_katakana_words_and_pairs_kanji() {
        let segmented = words("パスワードを再設定する", None);
        assert_eq!(segmented, ["パスワード", "再設", "設定"]);
    }

    #[test]
    fn thai_and_hangul_become_character_pairs() {
        assert_eq!(words("สวัส", None), ["สว", "วั", "ัส"]);
        assert_eq!(words("비밀번호를", None), ["비밀", "밀번", "번호", "호를"]);
    }
}
