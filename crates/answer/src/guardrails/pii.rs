//! PII redaction: emails, phone numbers, payment card numbers, IBANs, national ID numbers and
//! secrets are replaced with numbered placeholders (`[EMAIL_1]`, `[PHONE_1]`, `[CARD_1]`,
//! `[IBAN_1]`, `[ID_1]`, `[SECRET_1]`)
//! before text is logged or sent to a model; [`restore`] puts the customer's own values back
//! where a reply echoes a placeholder.
//!
//! Guarantees:
//! - the same value gets the same placeholder, numbered per kind in order of first appearance;
//! - `restore(&redacted.text, &redacted.entities)` gives back the input exactly, even when the
//!   input already contains placeholder-looking text (those numbers are skipped) — a property
//!   test;
//! - redacting redacted text changes nothing — a property test, and true by construction:
//!   [`Redactor::redact`] repeats detection until a pass finds nothing.
//!
//! Detection is deliberately validated rather than shape-only: card numbers must pass the Luhn
//! check, IBANs the mod-97 check, so order numbers and references are left alone. Phone numbers
//! are the fuzziest kind; see [`looks_like_phone`] for the exact rules.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use super::text::fixed_regex;

mod national_id;
use national_id::{confirm_national_id, NATIONAL_ID};

/// What kind of personal or secret data a span of text holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PiiKind {
    Email,
    Phone,
    CardNumber,
    Iban,
    /// API keys, access tokens, webhook secrets, JWTs and other long random tokens.
    Secret,
    /// National identity and tax numbers (DNI, codice fiscale, NIR, CPF, resident ID, SSN, …),
    /// confirmed by their country's check.
    NationalId,
}

impl PiiKind {
    pub const ALL: [PiiKind; 6] = [
        PiiKind::Email,
        PiiKind::Phone,
        PiiKind::CardNumber,
        PiiKind::Iban,
        PiiKind::Secret,
        PiiKind::NationalId,
    ];

    /// The word inside this kind's placeholders: `EMAIL` in `[EMAIL_1]`.
    pub fn placeholder_tag(self) -> &'static str {
        match self {
            PiiKind::Email => "EMAIL",
            PiiKind::Phone => "PHONE",
            PiiKind::CardNumber => "CARD",
            PiiKind::Iban => "IBAN",
            PiiKind::Secret => "SECRET",
            PiiKind::NationalId => "ID",
        }
    }

    fn index(self) -> usize {
        match self {
            PiiKind::Email => 0,
            PiiKind::Phone => 1,
            PiiKind::CardNumber => 2,
            PiiKind::Iban => 3,
            PiiKind::Secret => 4,
            PiiKind::NationalId => 5,
        }
    }
}

/// One redacted value and the placeholder that stands for it.
///
/// `original` is the customer's data: keep entities only as long as the conversation needs them
/// to [`restore`] a reply, and never log them. `Debug` prints the placeholder, not the value.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PiiEntity {
    pub kind: PiiKind,
    pub placeholder: String,
    pub original: String,
}

impl fmt::Debug for PiiEntity {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("PiiEntity")
            .field("kind", &self.kind)
            .field("placeholder", &self.placeholder)
            .field(
                "original",
                &format_args!("<{} chars>", self.original.chars().count()),
            )
            .finish()
    }
}

/// Text with its PII replaced by placeholders, and one entity per distinct placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redacted {
    pub text: String,
    pub entities: Vec<PiiEntity>,
}

/// Redacts PII, remembering what it replaced, so several texts of one conversation (history
/// turns, then the latest message) share placeholders: the same email is `[EMAIL_1]` in all of
/// them, and one [`Redactor::restore`] serves the whole conversation.
///
/// Values are matched exactly: `4111 1111 1111 1111` and `4111111111111111` are the same card
/// but get different placeholders, so that restoring gives back what the customer typed.
///
/// Restoring is exact for text redacted in one call. Across calls, a later text that literally
/// contains an already-used placeholder (`[EMAIL_1]`) gets that placeholder restored too.
pub struct Redactor {
    enabled: [bool; 6],
    entities: Vec<PiiEntity>,
    entity_by_value: HashMap<(PiiKind, String), usize>,
    last_number: [u64; 6],
    /// Placeholder-looking text found in the input: never handed out, so restoring cannot
    /// confuse the customer's literal `[EMAIL_1]` with a redacted value.
    reserved: HashSet<String>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let enabled: Vec<PiiKind> = PiiKind::ALL
            .into_iter()
            .filter(|kind| self.enabled[kind.index()])
            .collect();
        formatter
            .debug_struct("Redactor")
            .field("kinds", &enabled)
            .field("entities", &self.entities.len())
            .finish()
    }
}

impl Default for Redactor {
    fn default() -> Self {
        Self::new()
    }
}

impl Redactor {
    /// A redactor for every [`PiiKind`].
    pub fn new() -> Self {
        Self::for_kinds(&PiiKind::ALL)
    }

    /// A redactor that only looks for the given kinds.
    pub fn for_kinds(kinds: &[PiiKind]) -> Self {
        let mut enabled = [false; 6];
        for kind in kinds {
            enabled[kind.index()] = true;
        }
        Self {
            enabled,
            entities: Vec::new(),
            entity_by_value: HashMap::new(),
            last_number: [0; 6],
            reserved: HashSet::new(),
        }
    }

    /// Replaces every PII value in `text` with its placeholder.
    ///
    /// Runs detection again over its own output until nothing new is found, so that a value
    /// hidden behind a neighbour in the first pass (the second of two IBANs written back to
    /// back) is still caught, and so that redacting the result again finds nothing.
    pub fn redact(&mut self, text: &str) -> String {
        for placeholder in PLACEHOLDER.find_iter(text) {
            self.reserved.insert(placeholder.as_str().to_owned());
        }
        let entities_before = self.entities.len();
        let mut current = text.to_owned();
        loop {
            let found = self.find_pii(&current);
            if found.is_empty() {
                break;
            }
            let mut replaced = String::with_capacity(current.len());
            let mut copied_up_to = 0;
            for Found { kind, range } in found {
                replaced.push_str(&current[copied_up_to..range.start]);
                replaced.push_str(self.placeholder_for(kind, &current[range.clone()]));
                copied_up_to = range.end;
            }
            replaced.push_str(&current[copied_up_to..]);
            current = replaced;
        }
        let new_entities = self.entities.len() - entities_before;
        if new_entities > 0 {
            tracing::debug!(new_entities, "redacted pii");
        }
        current
    }

    /// Everything redacted so far, one entity per placeholder, in order of first appearance.
    pub fn entities(&self) -> &[PiiEntity] {
        &self.entities
    }

    pub fn into_entities(self) -> Vec<PiiEntity> {
        self.entities
    }

    /// Puts back the original of every placeholder this redactor handed out.
    pub fn restore(&self, text: &str) -> String {
        restore(text, &self.entities)
    }

    fn placeholder_for(&mut self, kind: PiiKind, original: &str) -> &str {
        let key = (kind, original.to_owned());
        let index = match self.entity_by_value.get(&key) {
            Some(&index) => index,
            None => {
                let placeholder = loop {
                    let number = &mut self.last_number[kind.index()];
                    *number += 1;
                    let candidate = format!("[{}_{}]", kind.placeholder_tag(), number);
                    if !self.reserved.contains(&candidate) {
                        break candidate;
                    }
                };
                self.entities.push(PiiEntity {
                    kind,
                    placeholder,
                    original: key.1.clone(),
                });
                let index = self.entities.len() - 1;
                self.entity_by_value.insert(key, index);
                index
            }
        };
        &self.entities[index].placeholder
    }

    /// One detection pass: every validated match of every enabled kind, then the non-overlapping
    /// ones, higher-priority kinds first, in text order. Placeholders already in the text are
    /// off limits.
    fn find_pii(&self, text: &str) -> Vec<Found> {
        let mut taken: Vec<Range<usize>> = PLACEHOLDER.find_iter(text).map(|m| m.range()).collect();
        let mut accepted = Vec::new();
        let mut confirmed = Vec::new();
        for detector in DETECTORS.iter() {
            if !self.enabled[detector.kind.index()] {
                continue;
            }
            confirmed.clear();
            for candidate in detector.pattern.find_iter(text) {
                (detector.confirm)(text, candidate.range(), &mut confirmed);
            }
            for range in confirmed.drain(..) {
                let overlaps = taken
                    .iter()
                    .any(|other| range.start < other.end && other.start < range.end);
                if overlaps || range.is_empty() {
                    continue;
                }
                taken.push(range.clone());
                accepted.push(Found {
                    kind: detector.kind,
                    range,
                });
            }
        }
        accepted.sort_by_key(|found| found.range.start);
        accepted
    }
}

/// Redacts `text` with a fresh [`Redactor`] for every kind.
pub fn redact(text: &str) -> Redacted {
    let mut redactor = Redactor::new();
    let text = redactor.redact(text);
    Redacted {
        text,
        entities: redactor.into_entities(),
    }
}

/// `text` with its PII replaced, for log lines and traces, where nothing will be restored.
pub fn redact_for_log(text: &str) -> String {
    Redactor::new().redact(text)
}

/// Replaces every placeholder of `entities` found in `text` with its original value; other
/// placeholder-looking text is left as it is.
pub fn restore(text: &str, entities: &[PiiEntity]) -> String {
    if entities.is_empty() {
        return text.to_owned();
    }
    let originals: HashMap<&str, &str> = entities
        .iter()
        .map(|entity| (entity.placeholder.as_str(), entity.original.as_str()))
        .collect();
    PLACEHOLDER
        .replace_all(text, |captures: &regex::Captures<'_>| {
            let placeholder = captures.get(0).map_or("", |m| m.as_str());
            originals
                .get(placeholder)
                .copied()
                .unwrap_or(placeholder)
                .to_owned()
        })
        .into_owned()
}

static PLACEHOLDER: LazyLock<Regex> =
    LazyLock::new(|| fixed_regex(r"\[(?:EMAIL|PHONE|CARD|IBAN|SECRET|ID)_[0-9]+\]"));

struct Found {
    kind: PiiKind,
    range: Range<usize>,
}

/// A candidate pattern, and the check that pushes what each candidate really holds: nothing,
/// the candidate, a narrower span, or (for a run of digit groups) several card numbers.
struct Detector {
    kind: PiiKind,
    pattern: &'static LazyLock<Regex>,
    confirm: fn(&str, Range<usize>, &mut Vec<Range<usize>>),
}

/// In priority order: when two matches overlap, the earlier detector wins. Well-known secret
/// formats are the most specific; the generic long-token rule is the least.
static DETECTORS: [Detector; 7] = [
    Detector {
        kind: PiiKind::Secret,
        pattern: &KNOWN_SECRET,
        confirm: confirm_known_secret,
    },
    Detector {
        kind: PiiKind::Email,
        pattern: &EMAIL,
        confirm: confirm_email,
    },
    Detector {
        kind: PiiKind::Iban,
        pattern: &IBAN,
        confirm: confirm_iban,
    },
    Detector {
        kind: PiiKind::NationalId,
        pattern: &NATIONAL_ID,
        confirm: confirm_national_id,
    },
    Detector {
        kind: PiiKind::CardNumber,
        pattern: &DIGIT_RUN,
        confirm: confirm_card,
    },
    Detector {
        kind: PiiKind::Phone,
        pattern: &PHONE,
        confirm: confirm_phone,
    },
    Detector {
        kind: PiiKind::Secret,
        pattern: &LONG_TOKEN,
        confirm: confirm_long_token,
    },
];

// ---------------------------------------------------------------------------------------------
// Boundaries

fn char_before(text: &str, index: usize) -> Option<char> {
    text.get(..index)
        .and_then(|before| before.chars().next_back())
}

fn char_after(text: &str, index: usize) -> Option<char> {
    text.get(index..).and_then(|after| after.chars().next())
}

fn is_word_char(character: char) -> bool {
    character.is_alphanumeric() || character == '_'
}

fn word_boundary_at(text: &str, range: &Range<usize>) -> bool {
    !char_before(text, range.start).is_some_and(is_word_char)
        && !char_after(text, range.end).is_some_and(is_word_char)
}

/// A number stands alone: not glued to a word, not the tail of a price or a decimal
/// (`$`, `1.`, `1,`), not followed by a decimal part, a time or a percentage.
fn number_boundary_at(text: &str, range: &Range<usize>) -> bool {
    number_may_start_at(text, range.start) && number_may_end_at(text, range.end)
}

fn number_may_start_at(text: &str, start: usize) -> bool {
    let Some(before) = char_before(text, start) else {
        return true;
    };
    if is_word_char(before) || "$€£¥#+%".contains(before) {
        return false;
    }
    let before_that = char_before(text, start - before.len_utf8());
    !(".,:/-".contains(before) && before_that.is_some_and(|c| c.is_ascii_digit()))
}

fn number_may_end_at(text: &str, end: usize) -> bool {
    let Some(after) = char_after(text, end) else {
        return true;
    };
    if is_word_char(after) || "%€$".contains(after) {
        return false;
    }
    let after_that = char_after(text, end + after.len_utf8());
    !(".,:/-".contains(after) && after_that.is_some_and(|c| c.is_ascii_digit()))
}

// ---------------------------------------------------------------------------------------------
// Secrets

static KNOWN_SECRET: LazyLock<Regex> = LazyLock::new(|| {
    fixed_regex(concat!(
        r"sk-(?:proj-|ant-|live-|test-)?[A-Za-z0-9_\-]{20,}",
        r"|(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{10,}",
        r"|gh[pousr]_[A-Za-z0-9]{30,}",
        r"|github_pat_[A-Za-z0-9_]{22,}",
        r"|glpat-[A-Za-z0-9_\-]{20,}",
        r"|(?:AKIA|ASIA)[0-9A-Z]{16}",
        r"|AIza[0-9A-Za-z_\-]{35}",
        r"|xox[abposr]-[A-Za-z0-9\-]{10,}",
        r"|eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*",
        r"|whsec_[A-Za-z0-9+/=]{16,}",
    ))
});

/// A known prefix inside a longer word (`task-…` holds `sk-…`) is not a key.
fn confirm_known_secret(text: &str, range: Range<usize>, confirmed: &mut Vec<Range<usize>>) {
    if word_boundary_at(text, &range) {
        confirmed.push(range);
    }
}

/// Any run of token characters at least 32 long; [`looks_random`] decides.
static LONG_TOKEN: LazyLock<Regex> = LazyLock::new(|| fixed_regex(r"[A-Za-z0-9_\-+/=]{32,}"));

static UUID: LazyLock<Regex> = LazyLock::new(|| {
    fixed_regex(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
});

fn confirm_long_token(text: &str, range: Range<usize>, confirmed: &mut Vec<Range<usize>>) {
    let token = &text[range.clone()];
    // UUIDs identify orders, requests and accounts; support needs to see them.
    if !UUID.is_match(token) && looks_random(token) {
        confirmed.push(range);
    }
}

/// A long token mixing letters and digits that reads as random rather than as words:
/// hex digests and keys, or tokens whose letters are mostly consonants or whose characters
/// keep switching between lower case, upper case and digits. Identifiers built from words
/// (`invoice_2026_09_14_customer_statement`, `getUserAccountBalance2024`) fail both tests.
fn looks_random(token: &str) -> bool {
    let alphanumeric: Vec<char> = token.chars().filter(char::is_ascii_alphanumeric).collect();
    let digits = alphanumeric.iter().filter(|c| c.is_ascii_digit()).count();
    let letters = alphanumeric.len() - digits;
    if digits < 2 || letters < 2 {
        return false;
    }
    if alphanumeric.iter().all(char::is_ascii_hexdigit) && alphanumeric.len() >= 32 {
        return true;
    }
    let vowels = alphanumeric
        .iter()
        .filter(|c| "aeiouAEIOU".contains(**c))
        .count();
    let vowel_share = vowels as f64 / letters as f64;
    let class = |c: &char| {
        if c.is_ascii_digit() {
            0
        } else if c.is_ascii_uppercase() {
            1
        } else {
            2
        }
    };
    let switches = alphanumeric
        .windows(2)
        .filter(|pair| class(&pair[0]) != class(&pair[1]))
        .count();
    let switch_share = switches as f64 / (alphanumeric.len() - 1) as f64;
    vowel_share <= 0.3 || switch_share >= 0.45
}

// ---------------------------------------------------------------------------------------------
// Emails

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    fixed_regex(
        r"[A-Za-z0-9._%+\-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}",
    )
});

fn confirm_email(text: &str, range: Range<usize>, confirmed: &mut Vec<Range<usize>>) {
    let glued_after = char_after(text, range.end).is_some_and(|c| is_word_char(c) || c == '-');
    if !glued_after {
        confirmed.push(range);
    }
}

// ---------------------------------------------------------------------------------------------
// Card numbers

/// Digits, optionally single spaces or dashes between them: every number-like run.
static DIGIT_RUN: LazyLock<Regex> = LazyLock::new(|| fixed_regex(r"[0-9](?:[ \-]?[0-9])*"));

/// Every card number in a run of digit groups, scanning left to right and preferring the longest
/// card at each start, so a card followed by its expiry or security code
/// (`4111 1111 1111 1111 12/28`, `… 1111 123`), preceded by another number, or followed by a
/// second card is still found. A card inside the run must be cut from it at spaces.
fn confirm_card(text: &str, run: Range<usize>, confirmed: &mut Vec<Range<usize>>) {
    let groups: Vec<Range<usize>> = DIGIT_GROUP
        .find_iter(&text[run.clone()])
        .map(|group| run.start + group.start()..run.start + group.end())
        .collect();
    let starts_cleanly = |group: &Range<usize>| {
        if group.start == run.start {
            number_may_start_at(text, group.start)
        } else {
            text[..group.start].ends_with(' ')
        }
    };
    let ends_cleanly = |group: &Range<usize>| {
        if group.end == run.end {
            number_may_end_at(text, group.end)
        } else {
            text[group.end..].starts_with(' ')
        }
    };
    let mut first = 0;
    while first < groups.len() {
        // Every group has at least one digit, so no card spans more than 19 groups.
        let longest = (groups.len() - first).min(MAX_CARD_DIGITS);
        let card = (1..=longest).rev().find_map(|length| {
            let window = &groups[first..first + length];
            let (start, end) = (window.first()?, window.last()?);
            (starts_cleanly(start) && ends_cleanly(end) && is_card_number(text, window))
                .then_some((start.start..end.end, length))
        });
        match card {
            Some((range, length)) => {
                confirmed.push(range);
                first += length;
            }
            None => first += 1,
        }
    }
}

static DIGIT_GROUP: LazyLock<Regex> = LazyLock::new(|| fixed_regex(r"[0-9]+"));

const MAX_CARD_DIGITS: usize = 19;

fn is_card_number(text: &str, groups: &[Range<usize>]) -> bool {
    let lengths: Vec<usize> = groups.iter().map(|group| group.len()).collect();
    let digit_count: usize = lengths.iter().sum();
    if !(13..=MAX_CARD_DIGITS).contains(&digit_count) || !is_card_grouping(&lengths) {
        return false;
    }
    let digits: Vec<u32> = groups
        .iter()
        .flat_map(|group| text[group.clone()].chars())
        .filter_map(|c| c.to_digit(10))
        .collect();
    digits.windows(2).any(|pair| pair[0] != pair[1]) && passes_luhn(&digits)
}

/// Unbroken, in fours (the last group shorter), or American Express / Diners style 4-6-5, 4-6-4.
fn is_card_grouping(lengths: &[usize]) -> bool {
    matches!(lengths, [4, 6, 4] | [4, 6, 5]) || is_unbroken_or_in_fours(lengths)
}

/// One group, or groups of four with a shorter last one: how cards and IBANs are written.
fn is_unbroken_or_in_fours(lengths: &[usize]) -> bool {
    match lengths {
        [] => false,
        [_] => true,
        [init @ .., last] => init.iter().all(|&length| length == 4) && (1..=4).contains(last),
    }
}

pub(crate) fn passes_luhn(digits: &[u32]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(position, &digit)| {
            if position % 2 == 1 {
                let doubled = digit * 2;
                if doubled > 9 {
                    doubled - 9
                } else {
                    doubled
                }
            } else {
                digit
            }
        })
        .sum();
    sum % 10 == 0
}

// ---------------------------------------------------------------------------------------------
// IBANs

/// Country code, check digits, then 11 to 30 letters or digits, spaces allowed between them.
static IBAN: LazyLock<Regex> =
    LazyLock::new(|| fixed_regex(r"[A-Za-z]{2}[0-9]{2}(?: ?[A-Za-z0-9]){11,30}"));

/// Countries that issue IBANs (the SWIFT registry).
const IBAN_COUNTRIES: &[&str] = &[
    "AD", "AE", "AL", "AT", "AZ", "BA", "BE", "BG", "BH", "BI", "BR", "BY", "CH", "CR", "CY", "CZ",
    "DE", "DJ", "DK", "DO", "DZ", "EE", "EG", "ES", "FI", "FK", "FO", "FR", "GB", "GE", "GI", "GL",
    "GR", "GT", "HN", "HR", "HU", "IE", "IL", "IQ", "IS", "IT", "JO", "KW", "KZ", "LB", "LC", "LI",
    "LT", "LU", "LV", "LY", "MC", "MD", "ME", "MK", "MN", "MR", "MT", "MU", "NI", "NL", "NO", "OM",
    "PK", "PL", "PS", "PT", "QA", "RO", "RS", "RU", "SA", "SC", "SD", "SE", "SI", "SK", "SM", "SO",
    "ST", "SV", "TL", "TN", "TR", "UA", "VA", "VG", "XK", "YE",
];

/// The longest prefix of the candidate (ending at a group break) that is a valid IBAN, so
/// `DE89 3704 0044 0532 0130 00 and` still yields the IBAN without ` and`.
fn confirm_iban(text: &str, range: Range<usize>, confirmed: &mut Vec<Range<usize>>) {
    if char_before(text, range.start).is_some_and(is_word_char) {
        return;
    }
    let candidate = &text[range.clone()];
    let mut ends: Vec<usize> = candidate.match_indices(' ').map(|(at, _)| at).collect();
    ends.push(candidate.len());
    let longest_valid = ends.into_iter().rev().find_map(|end| {
        let prefix = range.start..range.start + end;
        let valid = !char_after(text, prefix.end).is_some_and(is_word_char)
            && is_valid_iban(&text[prefix.clone()]);
        valid.then_some(prefix)
    });
    confirmed.extend(longest_valid);
}

fn is_valid_iban(written: &str) -> bool {
    let group_lengths: Vec<usize> = written.split(' ').map(str::len).collect();
    let compact: String = written
        .chars()
        .filter(|c| *c != ' ')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    is_unbroken_or_in_fours(&group_lengths)
        && (15..=34).contains(&compact.len())
        && compact
            .get(..2)
            .is_some_and(|country| IBAN_COUNTRIES.contains(&country))
        && iban_mod_97(&compact) == Some(1)
}

/// The ISO 13616 check: move the first four characters to the end, read letters as 10..=35,
/// take the number modulo 97. `None` for characters that cannot appear in an IBAN.
pub(crate) fn iban_mod_97(compact_upper: &str) -> Option<u32> {
    let (head, tail) = (compact_upper.get(..4)?, compact_upper.get(4..)?);
    tail.chars()
        .chain(head.chars())
        .try_fold(0u32, |remainder, character| {
            let value = character.to_digit(36)?;
            let scale = if value >= 10 { 100 } else { 10 };
            Some((remainder * scale + value) % 97)
        })
}

// ---------------------------------------------------------------------------------------------
// Phone numbers

/// Optional `+country` code, optional `(0)`, optional `(area)`, then digit groups separated by
/// single spaces, dots, dashes or slashes.
static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    fixed_regex(
        r"(?:\+[0-9]{1,3}[ .\-]?)?(?:\(0\)[ .\-]?)?(?:\([0-9]{1,5}\)[ .\-]?)?[0-9]+(?:[ .\-/][0-9]+)*",
    )
});

/// A date with a four-digit year, in either order: `2026-09-14`, `14/09/2026`, `14.09.2026`.
static DATE: LazyLock<Regex> = LazyLock::new(|| {
    fixed_regex(
        r"(?:19|20)[0-9]{2}[\-/.][0-9]{1,2}[\-/.][0-9]{1,2}|[0-9]{1,2}[\-/.][0-9]{1,2}[\-/.](?:19|20)[0-9]{2}",
    )
});

fn confirm_phone(text: &str, range: Range<usize>, confirmed: &mut Vec<Range<usize>>) {
    if number_boundary_at(text, &range) && looks_like_phone(&text[range.clone()]) {
        confirmed.push(range);
    }
}

/// Phone rules, conservative so that dates, versions, prices and references stay readable:
/// - international (`+CC …`): 9 to 15 digits in all;
/// - national, unbroken: 10 to 12 digits starting with a trunk `0` (`0612345678`), or exactly 10
///   starting with 2–9 (North American `5551234567`);
/// - national, grouped (`020 7946 0958`, `(555) 123-4567`, `612 34 56 78`): 9 to 12 digits,
///   starting with `0` or grouped 3-3-4, 1-3-3-4 or 3-2-2-2; `00` international prefix: up to 15;
/// - Chinese mobiles (`13812345678`, `138 1234 5678`) and Spanish or Portuguese 3-3-3 numbers
///   starting with 6–9 (`612 345 678`);
/// - dots only as the sole separator and in 3-3-4 or pairs (`555.123.4567`, `06.12.34.56.78`),
///   which rules out versions and IP addresses;
/// - nothing containing a date with a four-digit year.
fn looks_like_phone(candidate: &str) -> bool {
    if DATE.is_match(candidate) {
        return false;
    }
    let international = candidate.starts_with('+');
    let groups: Vec<&str> = candidate
        .split(|c: char| !c.is_ascii_digit())
        .filter(|group| !group.is_empty())
        .collect();
    let digit_count: usize = groups.iter().map(|group| group.len()).sum();
    let national_groups = if international {
        groups.get(1..).unwrap_or_default()
    } else {
        &groups[..]
    };
    let national_lengths: Vec<usize> = national_groups.iter().map(|group| group.len()).collect();

    if candidate.contains('.') {
        let only_dots = !candidate
            .trim_start_matches('+')
            .contains([' ', '-', '/', '(', ')']);
        let dotted_shape = national_lengths == [3, 3, 4]
            || (national_lengths.len() >= 4 && national_lengths.iter().all(|&length| length == 2));
        if !(only_dots && dotted_shape) {
            return false;
        }
    }

    if international {
        return (9..=15).contains(&digit_count);
    }
    let starts_with_trunk_zero = groups.first().is_some_and(|group| group.starts_with('0'));
    if groups.first().is_some_and(|group| group.starts_with("00")) {
        return (11..=15).contains(&digit_count);
    }
    if !(9..=12).contains(&digit_count) {
        return false;
    }
    // Chinese mobiles: 11 digits, 13x–19x, written whole or 3-4-4.
    let chinese_mobile = digit_count == 11
        && matches!(candidate.as_bytes(), [b'1', b'3'..=b'9', ..])
        && matches!(national_lengths.as_slice(), [11] | [3, 4, 4]);
    if groups.len() == 1 {
        let first = candidate.chars().next().unwrap_or('0');
        return (starts_with_trunk_zero && digit_count >= 10)
            || (digit_count == 10 && ('2'..='9').contains(&first))
            || chinese_mobile;
    }
    // Spanish and Portuguese numbers have no trunk zero and are grouped 3-3-3 (`612 345 678`).
    let iberian =
        national_lengths == [3, 3, 3] && matches!(candidate.as_bytes(), [b'6'..=b'9', ..]);
    starts_with_trunk_zero
        || chinese_mobile
        || iberian
        || matches!(
            national_lengths.as_slice(),
            [3, 3, 4] | [1, 3, 3, 4] | [3, 2, 2, 2]
        )
}

#[cfg(test)]
mod tests;
