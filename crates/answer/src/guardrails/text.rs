//! Small text helpers shared by the guardrail detectors.

use regex::Regex;

/// Compiles one of this module's fixed patterns. Only ever called on string literals from this
/// crate inside a `LazyLock`, never on input, and every pattern is exercised by the unit tests.
pub(crate) fn fixed_regex(pattern: &str) -> Regex {
    match Regex::new(pattern) {
        Ok(regex) => regex,
        Err(error) => panic!("built-in guardrail pattern does not compile: {error}"),
    }
}

/// The form phrase detectors match against: lower case, typographic quotes made plain,
/// zero-width characters and Markdown emphasis (`*`, `` ` ``) removed, runs of spaces and tabs
/// collapsed to one space. Line breaks are kept, so line-anchored patterns still work.
pub(crate) fn normalize_for_matching(text: &str) -> String {
    let mut normalized = String::with_capacity(text.len());
    let mut previous_was_space = false;
    for character in text.chars() {
        let mapped = match character {
            '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}' | '*'
            | '`' => continue,
            '\u{2018}' | '\u{2019}' | '\u{02BC}' => '\'',
            '\u{201C}' | '\u{201D}' => '"',
            '\n' => '\n',
            other if other.is_whitespace() => ' ',
            other => other,
        };
        if mapped == ' ' {
            if previous_was_space {
                continue;
            }
            previous_was_space = true;
            normalized.push(' ');
            continue;
        }
        previous_was_space = false;
        normalized.extend(mapped.to_lowercase());
    }
    normalized
}

/// At most `max_chars` characters of `text`, trimmed, with `…` when cut.
pub(crate) fn snippet(text: &str, max_chars: usize) -> String {
    let trimmed = text.trim();
    match trimmed.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &trimmed[..cut]),
        None => trimmed.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizing_lowercases_collapses_spaces_and_drops_zero_width_and_emphasis() {
        let normalized = normalize_for_matching("**IGNORE**\u{200B}  all\tPrevious\nRules’");
        assert_eq!(normalized, "ignore all previous\nrules'");
    }

    #[test]
    fn snippet_cuts_long_text_on_a_character_boundary() {
        assert_eq!(snippet("  héllo wörld  ", 5), "héllo…");
        assert_eq!(snippet("short", 10), "short");
    }
}
