//! Languages by ISO 639-1 code, parsed from a locale (`de-DE`, `pt_BR`, `zh-Hant`) or detected
//! from the text itself (whatlang: trigram models for 69 languages, scripts for the rest).

use std::fmt;

use rust_stemmers::Algorithm;
use whatlang::Lang;

/// A language the analysis knows: its ISO 639-1 code, whatlang's model for it and its Snowball
/// stemmer if one exists.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Language {
    index: u8,
}

struct Entry {
    code: &'static str,
    whatlang: Lang,
    stemmer: Option<Algorithm>,
}

const fn entry(code: &'static str, whatlang: Lang, stemmer: Option<Algorithm>) -> Entry {
    Entry {
        code,
        whatlang,
        stemmer,
    }
}

/// Every language whatlang detects, by ISO 639-1 code (639-3 where 639-1 has none).
static TABLE: &[Entry] = &[
    entry("en", Lang::Eng, Some(Algorithm::English)),
    entry("de", Lang::Deu, Some(Algorithm::German)),
    entry("es", Lang::Spa, Some(Algorithm::Spanish)),
    entry("fr", Lang::Fra, Some(Algorithm::French)),
    entry("pt", Lang::Por, Some(Algorithm::Portuguese)),
    entry("it", Lang::Ita, Some(Algorithm::Italian)),
    entry("nl", Lang::Nld, Some(Algorithm::Dutch)),
    entry("zh", Lang::Cmn, None),
    entry("ja", Lang::Jpn, None),
    entry("ko", Lang::Kor, None),
    entry("ru", Lang::Rus, Some(Algorithm::Russian)),
    entry("ar", Lang::Ara, Some(Algorithm::Arabic)),
    entry("da", Lang::Dan, Some(Algorithm::Danish)),
    entry("sv", Lang::Swe, Some(Algorithm::Swedish)),
    entry("nb", Lang::Nob, Some(Algorithm::Norwegian)),
    entry("fi", Lang::Fin, Some(Algorithm::Finnish)),
    entry("hu", Lang::Hun, Some(Algorithm::Hungarian)),
    entry("ro", Lang::Ron, Some(Algorithm::Romanian)),
    entry("tr", Lang::Tur, Some(Algorithm::Turkish)),
    entry("el", Lang::Ell, Some(Algorithm::Greek)),
    entry("ta", Lang::Tam, Some(Algorithm::Tamil)),
    entry("pl", Lang::Pol, None),
    entry("cs", Lang::Ces, None),
    entry("sk", Lang::Slk, None),
    entry("sl", Lang::Slv, None),
    entry("hr", Lang::Hrv, None),
    entry("sr", Lang::Srp, None),
    entry("bg", Lang::Bul, None),
    entry("mk", Lang::Mkd, None),
    entry("uk", Lang::Ukr, None),
    entry("be", Lang::Bel, None),
    entry("lt", Lang::Lit, None),
    entry("lv", Lang::Lav, None),
    entry("et", Lang::Est, None),
    entry("ca", Lang::Cat, None),
    entry("la", Lang::Lat, None),
    entry("eo", Lang::Epo, None),
    entry("af", Lang::Afr, None),
    entry("id", Lang::Ind, None),
    entry("jv", Lang::Jav, None),
    entry("tl", Lang::Tgl, None),
    entry("vi", Lang::Vie, None),
    entry("th", Lang::Tha, None),
    entry("km", Lang::Khm, None),
    entry("my", Lang::Mya, None),
    entry("he", Lang::Heb, None),
    entry("yi", Lang::Yid, None),
    entry("fa", Lang::Pes, None),
    entry("ur", Lang::Urd, None),
    entry("hi", Lang::Hin, None),
    entry("bn", Lang::Ben, None),
    entry("mr", Lang::Mar, None),
    entry("ne", Lang::Nep, None),
    entry("gu", Lang::Guj, None),
    entry("pa", Lang::Pan, None),
    entry("or", Lang::Ori, None),
    entry("te", Lang::Tel, None),
    entry("kn", Lang::Kan, None),
    entry("ml", Lang::Mal, None),
    entry("si", Lang::Sin, None),
    entry("ka", Lang::Kat, None),
    entry("hy", Lang::Hye, None),
    entry("am", Lang::Amh, None),
    entry("az", Lang::Aze, None),
    entry("uz", Lang::Uzb, None),
    entry("tk", Lang::Tuk, None),
    entry("ak", Lang::Aka, None),
    entry("zu", Lang::Zul, None),
    entry("sn", Lang::Sna, None),
];

/// Older or regional codes that name a language of the table.
const ALIASES: &[(&str, &str)] = &[
    ("no", "nb"),
    ("nn", "nb"),
    ("iw", "he"),
    ("in", "id"),
    ("ji", "yi"),
    ("fil", "tl"),
    ("cmn", "zh"),
    ("yue", "zh"),
    ("pes", "fa"),
];

impl Language {
    pub const ENGLISH: Language = Language { index: 0 };

    /// The language of a locale tag: `de`, `de-DE`, `pt_BR`, `zh-Hant-TW`, `ZH`, `deu`. `None` for
    /// a tag whose language the analysis does not know.
    pub fn from_locale(locale: &str) -> Option<Language> {
        let primary = locale
            .trim()
            .split(['-', '_', '.', '@'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        if primary.is_empty() {
            return None;
        }
        let code = ALIASES
            .iter()
            .find(|(alias, _)| *alias == primary)
            .map_or(primary.as_str(), |(_, code)| code);
        TABLE
            .iter()
            .position(|entry| entry.code == code || entry.whatlang.code() == code)
            .map(|index| Language { index: index as u8 })
    }

    fn from_whatlang(lang: Lang) -> Option<Language> {
        TABLE
            .iter()
            .position(|entry| entry.whatlang == lang)
            .map(|index| Language { index: index as u8 })
    }

    fn entry(self) -> &'static Entry {
        &TABLE[usize::from(self.index)]
    }

    /// ISO 639-1 code (`de`, `zh`).
    pub fn code(self) -> &'static str {
        self.entry().code
    }

    /// The language's own name for itself ("Deutsch", "普通话").
    pub fn native_name(self) -> &'static str {
        self.entry().whatlang.name()
    }

    /// Whether the language writes compounds as one word ("Bundesregierung" for "the federal
    /// government"), so that a word of a question may stand inside a longer word of the text:
    /// the Germanic languages but English, and the Finno-Ugric ones.
    pub fn compounds(self) -> bool {
        matches!(
            self.code(),
            "de" | "nl" | "da" | "sv" | "nb" | "nn" | "no" | "is" | "af" | "fi" | "et" | "hu"
        )
    }

    /// English name ("German").
    pub fn english_name(self) -> &'static str {
        self.entry().whatlang.eng_name()
    }

    pub(crate) fn stemmer(self) -> Option<Algorithm> {
        self.entry().stemmer
    }

    /// Every language the analysis knows.
    pub fn all() -> impl Iterator<Item = Language> {
        (0..TABLE.len()).map(|index| Language { index: index as u8 })
    }
}

impl fmt::Debug for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Language({})", self.code())
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// What detection found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    pub language: Language,
    /// 0..1, whatlang's confidence.
    pub confidence: f64,
    /// Long enough and clear enough to act on alone.
    pub reliable: bool,
}

/// Detect the language of `text`. `None` when the text has no letters or is in a language the
/// analysis does not know.
///
/// whatlang's trigrams decide long texts well and short ones poorly ("How do I reset my password
/// if I lost access to my email?" reads as Portuguese to it). Short texts are what customers
/// write, and their function words give them away: each language's stop words vote, and
/// whatlang's pick counts as one more vote.
pub fn detect(text: &str) -> Option<Detection> {
    let info = whatlang::detect(text)?;
    let trigram_pick = Language::from_whatlang(info.lang());
    let words = crate::segment::words(text, trigram_pick);
    let mut votes: Vec<(Language, f64)> = Language::all()
        .filter_map(|language| {
            let stops = crate::analyze::STOP_WORDS.get(&language)?;
            let hits = words.iter().filter(|w| stops.contains(w.as_str())).count() as f64;
            let trigram_vote = if Some(language) == trigram_pick {
                1.5
            } else {
                0.0
            };
            let score = hits + trigram_vote;
            (score > 0.0).then_some((language, score))
        })
        .collect();
    // Highest score first; ties go to whatlang's pick, then to the table's order.
    votes.sort_by(|a, b| {
        b.1.total_cmp(&a.1)
            .then_with(|| (Some(b.0) == trigram_pick).cmp(&(Some(a.0) == trigram_pick)))
    });
    let Some(&(language, best)) = votes.first() else {
        return Some(Detection {
            language: trigram_pick?,
            confidence: info.confidence(),
            reliable: info.is_reliable(),
        });
    };
    if Some(language) == trigram_pick {
        let second = votes.get(1).map_or(0.0, |v| v.1);
        return Some(Detection {
            language,
            confidence: info.confidence().max(1.0 - second / best),
            reliable: info.is_reliable() || best >= 2.0 * second.max(1.0),
        });
    }
    let second = votes.get(1).map_or(0.0, |v| v.1);
    Some(Detection {
        language,
        confidence: 1.0 - second / best,
        reliable: best >= 3.0 && best >= 2.0 * second,
    })
}

/// The language of a short text such as a customer's message, when detection is sure enough to
/// read it in that language: reliable, or fairly confident (≥ 0.5) on three words or more.
/// `None` for a word or two, which say too little ("refunds" reads as Danish to trigrams): the
/// caller keeps its default reading (English, for Fathom's tuned analysis).
pub fn language_of(text: &str) -> Option<Language> {
    detect(text)
        .filter(|detection| {
            detection.reliable
                || (detection.confidence >= 0.5 && text.split_whitespace().count() >= 3)
        })
        .map(|detection| detection.language)
}

/// The language of `text`: the declared `locale` when it names a known language (a help center
/// knows its articles' locale better than any detector), otherwise detection.
pub fn resolve(locale: Option<&str>, text: &str) -> Option<Language> {
    locale
        .and_then(Language::from_locale)
        .or_else(|| detect(text).map(|detection| detection.language))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locale_tags_name_their_language() {
        for (tag, code) in [
            ("de", "de"),
            ("de-DE", "de"),
            ("pt_BR", "pt"),
            ("zh-Hant-TW", "zh"),
            ("ZH", "zh"),
            ("deu", "de"),
            ("no", "nb"),
            ("fil", "tl"),
        ] {
            assert_eq!(
                Language::from_locale(tag).map(Language::code),
                Some(code),
                "{tag}"
            );
        }
        assert_eq!(Language::from_locale(""), None);
        assert_eq!(Language::from_locale("tlh"), None);
    }

    #[test]
    fn detection_names_common_languages() {
        for (text, code) in [
            (
                "How do I reset my password if I lost access to my email?",
                "en",
            ),
            (
                "Wie kann ich mein Passwort zurücksetzen, wenn ich keinen Zugriff mehr habe?",
                "de",
            ),
            (
                "¿Cómo puedo restablecer mi contraseña si perdí el acceso a mi correo?",
                "es",
            ),
            (
                "Comment puis-je réinitialiser mon mot de passe si j'ai perdu l'accès ?",
                "fr",
            ),
            ("如果我无法访问我的电子邮件，如何重置密码？", "zh"),
            (
                "メールにアクセスできない場合、パスワードをリセットするにはどうすればよいですか？",
                "ja",
            ),
            ("Как сбросить пароль, если я потерял доступ к почте?", "ru"),
        ] {
            let detection = detect(text).expect(text);
            assert_eq!(detection.language.code(), code, "{text}");
        }
    }

    #[test]
    fn an_english_word_or_two_is_not_read_as_another_language() {
        for text in ["refunds", "ok", "billing address"] {
            let language = language_of(text);
            assert!(language.is_none_or(|l| l == Language::ENGLISH), "{text}");
        }
        assert_eq!(
            language_of("Wie lange dauert eine Rückerstattung?").map(Language::code),
            Some("de")
        );
    }

    #[test]
    fn a_declared_locale_wins_over_detection() {
        let text = "Wie kann ich mein Passwort zurücksetzen?";
        assert_eq!(resolve(Some("nl-NL"), text).map(Language::code), Some("nl"));
        assert_eq!(resolve(None, text).map(Language::code), Some("de"));
        assert_eq!(resolve(Some("xx"), text).map(Language::code), Some("de"));
    }

    #[test]
    fn english_is_the_first_entry() {
        assert_eq!(Language::ENGLISH.code(), "en");
        assert!(Language::all().all(|l| Language::from_locale(l.code()) == Some(l)));
    }
}
