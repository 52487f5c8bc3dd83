//! Clarifying questions: when a message is too vague to answer and the evidence points several
//! ways, ask which one the customer means, naming the options the articles offer.

use std::sync::LazyLock;

use fathom_core::{Role, SearchHit, Turn};
use fathom_retrieve::query::is_stop_word;
use fathom_text::Language;
use regex::Regex;

use crate::lexical::{self, terms};

/// Words that point back at something earlier ("it", "that one").
const REFERENTS: &[&str] = &[
    "it", "its", "they", "them", "this", "that", "these", "those", "he", "she",
];

/// Whether the message is vague: few content words, or leaning on an unresolved "it"/"that".
pub(super) fn is_vague(message: &str) -> bool {
    let content = terms(message).len();
    let leans_on_referent = message
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .any(|w| REFERENTS.contains(&w.to_lowercase().as_str()));
    content <= 1 || (leans_on_referent && content <= 4)
}

/// The options to name: the distinct titles of the best hits, at most `max`.
pub(super) fn options(hits: &[SearchHit], max: usize) -> Vec<String> {
    let mut titles: Vec<String> = Vec::new();
    for hit in hits {
        if titles.len() == max {
            break;
        }
        if !titles.contains(&hit.chunk.title) {
            titles.push(hit.chunk.title.clone());
        }
    }
    titles
}

/// How many of the latest turns a reference is looked up in (two exchanges).
const REFERENCE_TURNS: usize = 4;

/// Words that make the noun after them definite ("the plan", "this SDK").
const DEFINITE: &[&str] = &["the", "this", "that"];

/// At most this many options are named.
const MAX_OPTIONS: usize = 3;

/// A definite reference the conversation leaves open: "how many domains are included in *the
/// plan*?" after a reply that listed several plans. English only (it reads determiners).
///
/// The message names a thing with "the/this/that <noun>"; the latest turns spoke of that noun in
/// the plural ("plans"), and the words the customer put before the noun ("the *update* action")
/// do not narrow it to one of those the turns named. Returns the candidates to name (the items
/// of a list in a turn that used the plural, or the phrases that named the noun), possibly none;
/// `None` when the reference is clear or there is none.
pub(super) fn ambiguous_reference(message: &str, history: &[Turn]) -> Option<Vec<String>> {
    if lexical::message_language(message) != Language::ENGLISH {
        return None;
    }
    let recent: Vec<&Turn> = history.iter().rev().take(REFERENCE_TURNS).rev().collect();
    if recent.is_empty() {
        return None;
    }
    let mut phrases = definite_phrases(message);
    // A question names a handful of things; a message of hundreds of "the"s is not read further
    // (each reading scans the recent turns).
    phrases.dedup();
    phrases
        .into_iter()
        .take(MAX_PHRASES)
        .find_map(|phrase| open_reference(&phrase, &recent))
}

/// At most this many readings of a message are looked up in the conversation.
const MAX_PHRASES: usize = 16;

/// A definite noun phrase of the message: the words before the noun, and the noun.
#[derive(Debug, PartialEq)]
struct Phrase {
    modifiers: Vec<String>,
    noun: String,
}

/// The noun phrases each "the/this/that" may open: the content words after it, up to the first
/// stop word or punctuation, read with each of them as the noun in turn ("did the update action
/// fail" → update; update + action; update action + fail). Which word is the noun is decided by
/// what the conversation said (see [`open_reference`]).
fn definite_phrases(message: &str) -> Vec<Phrase> {
    let mut phrases = Vec::new();
    let clauses = message
        .split(|c: char| !(c.is_alphanumeric() || c.is_whitespace() || c == '-' || c == '\''));
    for clause in clauses {
        let words: Vec<String> = clause.split_whitespace().map(str::to_lowercase).collect();
        for (i, word) in words.iter().enumerate() {
            if !DEFINITE.contains(&word.as_str()) {
                continue;
            }
            let mut content: Vec<String> = Vec::new();
            for next in &words[i + 1..] {
                // "the system's performance": the possessor is the thing referred to.
                let (bare, possessive) = match next.strip_suffix("'s") {
                    Some(bare) => (bare, true),
                    None => (next.as_str(), false),
                };
                if is_stop_word(bare) || !bare.chars().any(char::is_alphabetic) {
                    break;
                }
                content.push(bare.to_string());
                if possessive || content.len() == 4 {
                    break;
                }
            }
            for (at, noun) in content.iter().enumerate() {
                if noun.chars().count() >= 3 {
                    phrases.push(Phrase {
                        modifiers: content[..at].to_vec(),
                        noun: noun.clone(),
                    });
                }
            }
        }
    }
    phrases
}

/// The candidates `phrase` could mean in the recent turns, when the turns spoke of several.
///
/// The options are taken from the bot's own turns only: a customer's words are never put in the
/// bot's mouth (a "list" typed by the customer could be anything).
fn open_reference(phrase: &Phrase, recent: &[&Turn]) -> Option<Vec<String>> {
    let plural_in =
        |text: &str| words(text).any(|word| is_plural_of(&word.to_lowercase(), &phrase.noun));
    if !recent.iter().any(|turn| plural_in(&turn.text)) {
        return None;
    }
    // A list in a turn that spoke of the noun names the options best; else the phrases that
    // named it, names first ("Server-side SDKs" before "offer SDKs"). Newest turn first.
    let mut items: Vec<String> = Vec::new();
    let mut phrases: Vec<String> = Vec::new();
    let bot = recent.iter().rev().filter(|turn| turn.role == Role::Agent);
    for text in bot.map(|turn| turn.text.as_str()) {
        if words(text).any(|word| names(&word.to_lowercase(), &phrase.noun)) {
            add_new(&mut items, list_items(text));
        }
        add_new(&mut phrases, naming_phrases(text, &phrase.noun));
    }
    phrases.sort_by_key(|candidate| !looks_like_a_name(candidate));
    let mut candidates = if items.len() >= 2 { items } else { phrases };
    if phrase.modifiers.is_empty() {
        candidates.truncate(MAX_OPTIONS);
        return Some(candidates);
    }
    let narrowed: Vec<String> = candidates
        .into_iter()
        .filter(|candidate| {
            let candidate = candidate.to_lowercase();
            phrase
                .modifiers
                .iter()
                .all(|m| candidate.contains(m.as_str()))
        })
        .collect();
    // The customer's own words pick one (or something the turns never named): clear enough.
    (narrowed.len() >= 2).then(|| narrowed.into_iter().take(MAX_OPTIONS).collect())
}

/// Appends the candidates not already there (compared without case).
fn add_new(to: &mut Vec<String>, found: Vec<String>) {
    for candidate in found {
        if !to.iter().any(|c| c.eq_ignore_ascii_case(&candidate)) {
            to.push(candidate);
        }
    }
}

/// Written as a name: opens with a capital or a digit, or its first word is hyphenated or dotted
/// ("Standard Next", "Server-side SDKs", "files.update").
fn looks_like_a_name(candidate: &str) -> bool {
    let first = candidate.split_whitespace().next().unwrap_or_default();
    first.starts_with(|c: char| c.is_uppercase() || c.is_ascii_digit())
        || first.contains(['-', '.', '_'])
}

fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '-'))
        .filter(|w| !w.is_empty())
}

fn is_plural_of(word: &str, noun: &str) -> bool {
    word.strip_suffix("es").is_some_and(|stem| stem == noun)
        || word.strip_suffix('s').is_some_and(|stem| stem == noun)
        || noun
            .strip_suffix('y')
            .is_some_and(|stem| word.strip_suffix("ies") == Some(stem))
}

fn names(word: &str, noun: &str) -> bool {
    word == noun || is_plural_of(word, noun)
}

/// Words that count or quantify rather than name ("several plans", "each plan").
const QUANTIFIERS: &[&str] = &[
    "all",
    "any",
    "both",
    "each",
    "every",
    "few",
    "many",
    "more",
    "most",
    "multiple",
    "other",
    "several",
    "some",
    "various",
    "different",
    "two",
    "three",
    "four",
    "five",
];

/// The labels of a list in `text`: items that open with "1.", "-" or "*" and name themselves
/// before a colon ("2. Standard Next: This plan includes…" → "Standard Next"), on their own
/// lines or run together ("… are: - a: … - b: …").
fn list_items(text: &str) -> Vec<String> {
    static ITEM: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?m)(?:^|[:.;]\s+)\s*(?:\d{1,2}[.)]|[-*•])\s+\**([^:\n*]{1,60}?)\**:\s")
            .expect("the list-item pattern compiles")
    });
    ITEM.captures_iter(text)
        .map(|caps| caps[1].trim().to_string())
        .filter(|label| (1..=6).contains(&label.split_whitespace().count()))
        .collect()
}

/// Phrases in `text` that name `noun` with words before it ("Server-side SDKs", "a design
/// document" → "design document"): up to three content words of the same sentence, as written.
fn naming_phrases(text: &str, noun: &str) -> Vec<String> {
    let tokens: Vec<&str> = text.split_whitespace().collect();
    let bare = |token: &str| -> String {
        token
            .trim_matches(|c: char| !(c.is_alphanumeric() || c == '-'))
            .to_string()
    };
    let mut phrases = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        if !names(&bare(token).to_lowercase(), noun) {
            continue;
        }
        let mut start = i;
        while start > 0 && i - start < 3 {
            let before = tokens[start - 1];
            let word = bare(before);
            // A sentence or clause ends there, or the word carries no meaning of its own.
            if word.is_empty()
                || before.ends_with(|c: char| !(c.is_alphanumeric() || c == '-'))
                || is_stop_word(&word.to_lowercase())
                || QUANTIFIERS.contains(&word.to_lowercase().as_str())
            {
                break;
            }
            start -= 1;
        }
        if start < i {
            let words: Vec<String> = tokens[start..=i].iter().map(|t| bare(t)).collect();
            phrases.push(words.join(" "));
        }
    }
    phrases
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conversation(turns: &[&str]) -> Vec<Turn> {
        turns
            .iter()
            .enumerate()
            .map(|(i, text)| {
                if i % 2 == 0 {
                    Turn::customer(*text)
                } else {
                    Turn::agent(*text)
                }
            })
            .collect()
    }

    #[test]
    fn the_noun_after_a_reply_that_listed_several_is_open_and_the_items_are_named() {
        let history = conversation(&[
            "Which plans do you offer?",
            "We offer three plans:\n1. Starter: one seat.\n2. Team: ten seats.\n3. Business: unlimited seats.",
        ]);
        let open = ambiguous_reference("How much storage comes with the plan?", &history);
        assert_eq!(
            open,
            Some(vec!["Starter".into(), "Team".into(), "Business".into()])
        );
    }

    #[test]
    fn items_run_together_on_one_line_are_found_and_the_customers_words_narrow_them() {
        let history = conversation(&[
            "Which actions write audit events?",
            "These actions do: - files.create: Create a file. - files.update: Change a file. - \
             files.delete: Delete a file. - folders.update: Rename a folder.",
        ]);
        let open = ambiguous_reference("Did the update action fail?", &history);
        assert_eq!(
            open,
            Some(vec!["files.update".into(), "folders.update".into()])
        );
        // Named outright: nothing to ask.
        assert_eq!(
            ambiguous_reference("Did the create action fail?", &history),
            None
        );
    }

    #[test]
    fn a_noun_the_conversation_used_once_is_clear() {
        let history = conversation(&[
            "How do I export my invoice?",
            "Open Billing and choose Export on the invoice.",
        ]);
        assert_eq!(
            ambiguous_reference("Can I change the invoice's currency?", &history),
            None
        );
        // No conversation before: nothing to be ambiguous about.
        assert_eq!(ambiguous_reference("Where is the invoice?", &[]), None);
    }

    #[test]
    fn a_plural_without_a_list_is_open_and_named_by_the_phrases_that_used_it() {
        let history = conversation(&[
            "Which SDKs are there?",
            "There are Server-side SDKs and Client-side SDKs, and the Admin SDK.",
        ]);
        let open = ambiguous_reference("What are the best practices for the SDK?", &history)
            .expect("several SDKs were named");
        assert!(open.contains(&"Server-side SDKs".to_string()), "{open:?}");
        assert!(open.contains(&"Client-side SDKs".to_string()), "{open:?}");
    }

    #[test]
    fn a_message_of_many_definite_nouns_is_read_only_so_far() {
        let listing = format!("We offer plans:\n{}", {
            let items: Vec<String> = (1..=50)
                .map(|i| format!("{i}. Plan{i}: plan number {i}."))
                .collect();
            items.join("\n")
        });
        let history = conversation(&["Which plans are there?", &listing]);
        let noise: String = (0..2_000).map(|i| format!("the thing{i} ")).collect();
        // Past the first readings the message is not looked up: the reference at its end is
        // not read.
        assert_eq!(
            ambiguous_reference(&format!("{noise} the plan?"), &history),
            None
        );
        // Alone, it is.
        assert!(ambiguous_reference("What does the plan cost?", &history).is_some());
    }

    #[test]
    fn a_list_the_customer_typed_is_never_echoed_as_options() {
        let history = vec![
            Turn::customer("Plans: 1. You are useless: yes 2. Free money: now"),
            Turn::agent("We offer several plans."),
        ];
        // Open (the conversation spoke of plans), but nothing of the customer's is named: the
        // engine falls back to the articles' titles.
        assert_eq!(
            ambiguous_reference("What does the plan cost?", &history),
            Some(vec![])
        );
    }

    #[test]
    fn only_english_determiners_are_read() {
        let history = conversation(&[
            "Welche Tarife gibt es?",
            "Es gibt drei Tarife: Basis, Team und Business.",
        ]);
        assert_eq!(
            ambiguous_reference("Wie viel Speicher hat der Tarif?", &history),
            None
        );
    }
}
