//! Everything the bot says or tells a model, as files: the LLM prompts (`*.prompt.md`) and the
//! bot's own sentences (`replies/*.md`: handoff notices, clarifying-question frames, the offer of
//! a person…). Defaults are compiled in from the repository's `prompts/` folder; a deployer
//! overrides any file by putting one of the same name in the prompts directory.
//!
//! **Locales.** A file under `<dir>/<locale>/` (e.g. `prompts/de/replies/handoff.md`,
//! `prompts/pt-BR/persona.prompt.md`) is used for messages in that locale. A message's locale
//! falls back per file: `pt-BR` → `pt` → the default (top-level) file, so a partial translation
//! still reads whole. Locale tags are compared case-insensitively, `_` and `-` alike.
//! `prompts/README.md` lists the files.

use std::collections::BTreeMap;
use std::path::Path;

/// The prompt and reply files the engine knows, relative to the prompts folder.
pub mod files {
    pub const PERSONA: &str = "persona.prompt.md";
    pub const GUIDANCE: &str = "guidance.prompt.md";
    pub const ANSWER_FORMAT: &str = "answer_format.prompt.md";
    pub const CITATIONS: &str = "citations.prompt.md";
    pub const REWRITE: &str = "rewrite.prompt.md";
    pub const JUDGE: &str = "judge.prompt.md";
    /// Translates a query into the articles' language (`{language}`: its English name).
    pub const TRANSLATE: &str = "translate.prompt.md";
}

macro_rules! builtin {
    ($name:literal) => {
        ($name, include_str!(concat!("../../../prompts/", $name)))
    };
}

/// The compiled-in default (top-level) files.
const BUILTIN: &[(&str, &str)] = &[
    builtin!("persona.prompt.md"),
    builtin!("guidance.prompt.md"),
    builtin!("answer_format.prompt.md"),
    builtin!("citations.prompt.md"),
    builtin!("rewrite.prompt.md"),
    builtin!("judge.prompt.md"),
    builtin!("translate.prompt.md"),
    builtin!("replies/handoff.md"),
    builtin!("replies/no_content.md"),
    builtin!("replies/retrieval_unavailable.md"),
    builtin!("replies/injection.md"),
    builtin!("replies/blocked.md"),
    builtin!("replies/offer_human.md"),
    builtin!("replies/accept_offer.md"),
    builtin!("replies/empty.md"),
    builtin!("replies/too_long.md"),
    builtin!("replies/clarify_open.md"),
    builtin!("replies/clarify_one.md"),
    builtin!("replies/clarify_two.md"),
    builtin!("replies/clarify_three.md"),
    builtin!("replies/locale_fallback.md"),
    builtin!("replies/source.md"),
];

/// `(file, text)` of `prompts/<locale>/<file>`.
macro_rules! builtin_in {
    ($locale:literal, $name:literal) => {
        (
            $name,
            include_str!(concat!("../../../prompts/", $locale, "/", $name)),
        )
    };
}

/// Every reply file of a locale that translates them all.
macro_rules! replies_in {
    ($locale:literal) => {
        &[
            builtin_in!($locale, "replies/handoff.md"),
            builtin_in!($locale, "replies/no_content.md"),
            builtin_in!($locale, "replies/retrieval_unavailable.md"),
            builtin_in!($locale, "replies/injection.md"),
            builtin_in!($locale, "replies/blocked.md"),
            builtin_in!($locale, "replies/offer_human.md"),
            builtin_in!($locale, "replies/accept_offer.md"),
            builtin_in!($locale, "replies/empty.md"),
            builtin_in!($locale, "replies/too_long.md"),
            builtin_in!($locale, "replies/clarify_open.md"),
            builtin_in!($locale, "replies/clarify_one.md"),
            builtin_in!($locale, "replies/clarify_two.md"),
            builtin_in!($locale, "replies/clarify_three.md"),
            builtin_in!($locale, "replies/locale_fallback.md"),
            builtin_in!($locale, "replies/source.md"),
        ]
    };
}

/// Compiled-in localised files: `(locale, [(file, text)])`. A locale's translation goes here
/// (with `include_str!` of `prompts/<locale>/<file>`) so that it ships in the binary.
const BUILTIN_LOCALISED: &[(&str, &[(&str, &str)])] = &[
    ("de", replies_in!("de")),
    ("es", replies_in!("es")),
    ("fr", replies_in!("fr")),
    ("it", replies_in!("it")),
    ("ja", replies_in!("ja")),
    ("nl", replies_in!("nl")),
    ("pt", replies_in!("pt")),
    ("zh", replies_in!("zh")),
];

/// A locale tag in the one form the library compares: lower case, `-` separated.
fn normalise_locale(locale: &str) -> String {
    locale.trim().replace('_', "-").to_ascii_lowercase()
}

/// `pt-br` → [`pt-br`, `pt`]: the locales to try, most specific first (the default comes last,
/// implicitly).
fn locale_chain(locale: &str) -> Vec<String> {
    let locale = normalise_locale(locale);
    let mut chain = Vec::new();
    let mut current = locale.as_str();
    while !current.is_empty() {
        chain.push(current.to_string());
        match current.rfind('-') {
            Some(cut) => current = &current[..cut],
            None => break,
        }
    }
    chain
}

#[derive(Debug, thiserror::Error)]
#[error("reading the prompt file {path}: {source}")]
pub struct PromptError {
    pub path: String,
    #[source]
    pub source: std::io::Error,
}

/// Every known file, for the default locale and each locale that has any, with the per-file
/// fallback to the default.
#[derive(Debug, Clone)]
pub struct PromptLibrary {
    /// file → text, for the default locale (every known file is here).
    default: BTreeMap<String, String>,
    /// normalised locale → file → text.
    localised: BTreeMap<String, BTreeMap<String, String>>,
}

impl Default for PromptLibrary {
    fn default() -> Self {
        Self::builtin()
    }
}

impl PromptLibrary {
    /// The compiled-in files.
    pub fn builtin() -> Self {
        let default = BUILTIN
            .iter()
            .map(|(name, text)| (name.to_string(), text.to_string()))
            .collect();
        let mut localised: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for (locale, files) in BUILTIN_LOCALISED {
            let texts = localised.entry(normalise_locale(locale)).or_default();
            for (name, text) in *files {
                texts.insert(name.to_string(), text.to_string());
            }
        }
        Self { default, localised }
    }

    /// The compiled-in files, overridden by whichever known files exist in `dir` (the default
    /// locale) and in its locale folders (`dir/<locale>/…`). A missing `dir` is not an error:
    /// the defaults serve.
    pub fn load(dir: &Path) -> Result<Self, PromptError> {
        let mut library = Self::builtin();
        let names: Vec<String> = library.default.keys().cloned().collect();
        for name in &names {
            if let Some(text) = read_if_present(&dir.join(name))? {
                library.default.insert(name.clone(), text);
            }
        }
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(library),
            Err(source) => {
                return Err(PromptError {
                    path: dir.display().to_string(),
                    source,
                })
            }
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Some(folder) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            // `replies/` holds default files; any other folder is a locale.
            if !path.is_dir() || folder == "replies" || !looks_like_locale(folder) {
                continue;
            }
            for name in &names {
                if let Some(text) = read_if_present(&path.join(name))? {
                    library
                        .localised
                        .entry(normalise_locale(folder))
                        .or_default()
                        .insert(name.clone(), text);
                }
            }
        }
        Ok(library)
    }

    /// The text of `file` for a message in `locale` (`None`: the default), falling back per file
    /// to the language and then to the default. Unknown files are empty.
    pub fn get(&self, locale: Option<&str>, file: &str) -> &str {
        if let Some(locale) = locale {
            for candidate in locale_chain(locale) {
                if let Some(text) = self.localised.get(&candidate).and_then(|m| m.get(file)) {
                    return text;
                }
            }
        }
        self.default.get(file).map_or("", String::as_str)
    }

    /// Locales with at least one file of their own.
    pub fn locales(&self) -> impl Iterator<Item = &str> {
        self.localised.keys().map(String::as_str)
    }
}

/// `de`, `pt-BR`, `zh_Hant`: a BCP 47-ish tag (letters and digits in short parts).
fn looks_like_locale(name: &str) -> bool {
    let mut parts = name.split(['-', '_']);
    parts.next().is_some_and(|language| {
        (2..=3).contains(&language.len()) && language.chars().all(|c| c.is_ascii_alphabetic())
    }) && parts.all(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

fn read_if_present(path: &Path) -> Result<Option<String>, PromptError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(PromptError {
            path: path.display().to_string(),
            source,
        }),
    }
}

/// The LLM prompts for one locale.
#[derive(Debug, Clone)]
pub struct Prompts {
    pub persona: String,
    pub guidance: String,
    pub answer_format: String,
    pub citations: String,
    pub rewrite: String,
    pub judge: String,
    /// Translates a query into the articles' language (`{language}` is replaced by its name).
    pub translate: String,
}

impl Default for Prompts {
    fn default() -> Self {
        Self::from_library(&PromptLibrary::builtin(), None)
    }
}

impl Prompts {
    pub fn from_library(library: &PromptLibrary, locale: Option<&str>) -> Self {
        let take = |file: &str| library.get(locale, file).to_string();
        Self {
            persona: take(files::PERSONA),
            guidance: take(files::GUIDANCE),
            answer_format: take(files::ANSWER_FORMAT),
            citations: take(files::CITATIONS),
            rewrite: take(files::REWRITE),
            judge: take(files::JUDGE),
            translate: take(files::TRANSLATE),
        }
    }

    /// Defaults, overridden by whichever files exist in `dir`.
    pub fn load(dir: &Path) -> Result<Self, PromptError> {
        Ok(Self::from_library(&PromptLibrary::load(dir)?, None))
    }

    /// The system prompt for answering.
    pub fn answer_system(&self) -> String {
        [
            &self.persona,
            &self.guidance,
            &self.answer_format,
            &self.citations,
        ]
        .iter()
        .map(|s| s.trim())
        .collect::<Vec<_>>()
        .join("\n\n")
    }
}

/// A sentence the bot says in its own words (not quoted from an article).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// Handing the conversation to a person.
    Handoff,
    /// Nothing in the help center answers the question.
    NoContent,
    /// The help center cannot be searched right now.
    RetrievalUnavailable,
    /// The message tried to change the bot's instructions.
    Injection,
    /// A topic the business answers only in person.
    Blocked,
    /// Offering a person to a frustrated customer.
    OfferHuman,
    /// An empty message.
    Empty,
    /// A message too long to read.
    TooLong,
    /// A clarifying question without options to name.
    ClarifyOpen,
    /// Before an answer quoted from an article in another language than the customer's.
    LocaleFallback,
}

impl Reply {
    fn file(self) -> &'static str {
        match self {
            Self::Handoff => "replies/handoff.md",
            Self::NoContent => "replies/no_content.md",
            Self::RetrievalUnavailable => "replies/retrieval_unavailable.md",
            Self::Injection => "replies/injection.md",
            Self::Blocked => "replies/blocked.md",
            Self::OfferHuman => "replies/offer_human.md",
            Self::Empty => "replies/empty.md",
            Self::TooLong => "replies/too_long.md",
            Self::ClarifyOpen => "replies/clarify_open.md",
            Self::LocaleFallback => "replies/locale_fallback.md",
        }
    }
}

/// The bot's own sentences, chosen per message locale.
#[derive(Debug, Clone, Default)]
pub struct Replies {
    library: PromptLibrary,
}

impl Replies {
    pub fn new(library: PromptLibrary) -> Self {
        Self { library }
    }

    pub fn library(&self) -> &PromptLibrary {
        &self.library
    }

    /// The sentence in `locale` (or its fallback).
    pub fn text(&self, locale: Option<&str>, reply: Reply) -> String {
        self.library.get(locale, reply.file()).trim().to_string()
    }

    /// A clarifying question naming up to three options (article titles or sections); the open
    /// question when there are none. Each count has its own whole sentence, so a translation can
    /// get its grammar right.
    pub fn clarify(&self, locale: Option<&str>, options: &[&str]) -> String {
        let (file, slots): (&str, &[&str]) = match options.len() {
            0 => return self.text(locale, Reply::ClarifyOpen),
            1 => ("replies/clarify_one.md", &["{first}"]),
            2 => ("replies/clarify_two.md", &["{first}", "{second}"]),
            _ => (
                "replies/clarify_three.md",
                &["{first}", "{second}", "{third}"],
            ),
        };
        let mut text = self.library.get(locale, file).trim().to_string();
        for (slot, option) in slots.iter().zip(options) {
            text = text.replace(slot, option);
        }
        text
    }

    /// The line that names an extractive answer's article ("Source: {source}"), in `locale`.
    pub fn source_line(&self, locale: Option<&str>, source: &str) -> String {
        self.library
            .get(locale, "replies/source.md")
            .trim()
            .replace("{source}", source)
    }

    /// Whether `message` accepts an offer ("yes please"), by the locale's list of accepting
    /// replies (one a line, compared without case and trailing punctuation).
    pub fn accepts_offer(&self, locale: Option<&str>, message: &str) -> bool {
        let said = message
            .trim()
            .trim_end_matches(['.', '!', '。', '！'])
            .trim()
            .to_lowercase();
        self.library
            .get(locale, "replies/accept_offer.md")
            .lines()
            .map(|line| line.trim().to_lowercase())
            .any(|yes| !yes.is_empty() && yes == said)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reply_has_a_builtin_sentence() {
        let replies = Replies::default();
        for reply in [
            Reply::Handoff,
            Reply::NoContent,
            Reply::RetrievalUnavailable,
            Reply::Injection,
            Reply::Blocked,
            Reply::OfferHuman,
            Reply::Empty,
            Reply::TooLong,
            Reply::ClarifyOpen,
            Reply::LocaleFallback,
        ] {
            assert!(!replies.text(None, reply).is_empty(), "{reply:?}");
        }
    }

    #[test]
    fn a_locale_falls_back_per_file_to_its_language_then_to_the_default() {
        // Swedish: no built-in translation, so every level comes from these files or the default.
        let dir = tempfile::TempDir::new().unwrap();
        std::fs::create_dir_all(dir.path().join("sv/replies")).unwrap();
        std::fs::create_dir_all(dir.path().join("sv-FI/replies")).unwrap();
        std::fs::write(
            dir.path().join("sv/replies/handoff.md"),
            "Jag hämtar någon från teamet.",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("sv/replies/empty.md"),
            "Vad kan jag hjälpa till med?",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("sv-FI/replies/empty.md"),
            "Hur kan jag hjälpa dig?",
        )
        .unwrap();
        let replies = Replies::new(PromptLibrary::load(dir.path()).unwrap());

        assert_eq!(
            replies.text(Some("sv_fi"), Reply::Empty),
            "Hur kan jag hjälpa dig?"
        );
        assert_eq!(
            replies.text(Some("sv-FI"), Reply::Handoff),
            "Jag hämtar någon från teamet."
        );
        assert_eq!(
            replies.text(Some("sv-SE"), Reply::Empty),
            "Vad kan jag hjälpa till med?"
        );
        assert_eq!(
            replies.text(Some("sv-FI"), Reply::Blocked),
            replies.text(None, Reply::Blocked),
            "an untranslated file falls back to the default"
        );
        assert_eq!(
            replies.text(Some("xx"), Reply::Empty),
            "What can I help you with?"
        );
        assert_eq!(
            replies.text(Some("pt-BR"), Reply::Blocked),
            PromptLibrary::builtin()
                .get(Some("pt"), "replies/blocked.md")
                .trim(),
            "a regional locale falls back to its language's built-in file"
        );
    }

    #[test]
    fn the_builtin_translations_cover_every_reply_in_eight_languages() {
        let library = PromptLibrary::builtin();
        let locales: Vec<&str> = library.locales().collect();
        assert_eq!(locales, ["de", "es", "fr", "it", "ja", "nl", "pt", "zh"]);
        let default_files: Vec<&String> = library
            .default
            .keys()
            .filter(|f| f.starts_with("replies/"))
            .collect();
        for locale in locales {
            for file in &default_files {
                let text = library.get(Some(locale), file);
                assert!(!text.trim().is_empty(), "{locale}/{file}");
                assert_ne!(
                    text,
                    library.get(None, file),
                    "{locale}/{file} is translated"
                );
            }
        }
        let replies = Replies::new(library);
        assert_ne!(
            replies.text(Some("de-AT"), Reply::Handoff),
            replies.text(None, Reply::Handoff)
        );
        let two = replies.clarify(Some("es"), &["Facturas", "Reembolsos"]);
        assert!(
            two.contains("Facturas") && two.contains("Reembolsos") && !two.contains('{'),
            "{two}"
        );
    }

    #[test]
    fn a_deployer_file_overrides_the_builtin_one() {
        let dir = tempfile::TempDir::new().unwrap();
        std::fs::create_dir_all(dir.path().join("replies")).unwrap();
        std::fs::write(
            dir.path().join("replies/handoff.md"),
            "Passing you to Sam.\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("persona.prompt.md"), "You are Acme's bot.").unwrap();
        let library = PromptLibrary::load(dir.path()).unwrap();

        assert_eq!(
            Replies::new(library.clone()).text(None, Reply::Handoff),
            "Passing you to Sam."
        );
        assert_eq!(
            Prompts::from_library(&library, None).persona,
            "You are Acme's bot."
        );
        assert!(
            library.locales().all(|l| l != "replies"),
            "`replies/` is not a locale"
        );
    }

    #[test]
    fn a_missing_prompts_folder_serves_the_defaults() {
        let library = PromptLibrary::load(Path::new("no/such/folder")).unwrap();
        assert_eq!(
            library.get(None, files::PERSONA),
            PromptLibrary::builtin().get(None, files::PERSONA)
        );
    }

    #[test]
    fn clarifying_questions_name_the_options_in_a_whole_sentence() {
        let replies = Replies::default();
        let two = replies.clarify(None, &["Billing", "Refunds"]);
        assert!(two.contains("\"Billing\" or \"Refunds\""), "{two}");
        let three = replies.clarify(None, &["A", "B", "C", "D"]);
        assert!(three.contains("\"A\", \"B\" or \"C\""), "{three}");
        assert!(!three.contains('{'), "{three}");
        assert_eq!(
            replies.clarify(None, &[]),
            replies.text(None, Reply::ClarifyOpen)
        );
    }

    #[test]
    fn yes_accepts_an_offer_in_the_messages_locale() {
        let dir = tempfile::TempDir::new().unwrap();
        std::fs::create_dir_all(dir.path().join("de/replies")).unwrap();
        std::fs::write(
            dir.path().join("de/replies/accept_offer.md"),
            "ja\nja bitte\n",
        )
        .unwrap();
        let replies = Replies::new(PromptLibrary::load(dir.path()).unwrap());
        assert!(replies.accepts_offer(None, "Yes please!"));
        assert!(replies.accepts_offer(Some("de-AT"), "Ja bitte."));
        assert!(!replies.accepts_offer(None, "yes, but how do refunds work?"));
    }
}
