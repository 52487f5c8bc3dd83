//! Intent signals in the customer's own words: an explicit request for a human, frustration,
//! and asking the same question again. Each one is a reason the engine may hand off.

use std::collections::HashSet;
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use super::text::{fixed_regex, normalize_for_matching, snippet};

// ---------------------------------------------------------------------------------------------
// Wants a human

/// Whether the customer explicitly asks for a person: "can I talk to a human", "connect me to
/// support staff", "real person", "operator". Mentions of people, agents or humans that are not
/// a request ("how do I add a person to my team", "agent settings", "the human resources
/// module", "can customers chat with an agent?") do not count, nor do negated requests ("I don't
/// need a human").
pub fn wants_human(text: &str) -> bool {
    let normalized = normalize_for_matching(text);
    if JUST_ASKING_FOR_A_HUMAN.is_match(normalized.trim()) {
        return true;
    }
    if ASK_FOR_HUMAN.find_iter(&normalized).any(|found| {
        let before = &normalized[..found.start()];
        !NEGATED.is_match(before) && !SOMEONE_ELSE_ASKS.is_match(before)
    }) {
        return true;
    }
    JUST_ASKING_FOR_A_HUMAN_ELSEWHERE.is_match(normalized.trim())
        || ASK_FOR_HUMAN_ELSEWHERE
            .find_iter(&normalized)
            .any(|found| !NEGATED_ELSEWHERE.is_match(&normalized[..found.start()]))
}

/// The whole message is the request, in German, Spanish, French, Portuguese, Italian, Dutch,
/// Chinese or Japanese: "Mitarbeiter bitte", "un agente", "人工客服".
static JUST_ASKING_FOR_A_HUMAN_ELSEWHERE: LazyLock<Regex> = LazyLock::new(|| {
    fixed_regex(
        r"(?x)^\W*(?:
            (?:einen?\s+)?(?:mensch(?:en)?|mitarbeiter(?:in)?|kundendienst|kundenservice|berater(?:in)?)(?:\s+bitte)?
          | (?:un\s+|una\s+)?(?:humano|agente|asesor(?:a)?|operador(?:a)?|persona\s+real)(?:\s+por\s+favor)?
          | (?:un\s+|une\s+)?(?:humain|conseill(?:er|ère)|opérat(?:eur|rice)|agent)(?:\s+s'il\s+vous\s+pla[iî]t|\s+svp)?
          | (?:um\s+|uma\s+)?(?:atendente|humano|pessoa\s+real)(?:\s+por\s+favor)?
          | (?:un\s+)?(?:operatore|operatrice|umano)(?:\s+per\s+favore)?
          | (?:een\s+)?(?:medewerker|mens)(?:\s+graag|\s+alstublieft|\s+aub)?
          | 人工(?:客服|服务)?|真人(?:客服)?|转人工
          | オペレーター|担当者|有人(?:対応|チャット)?
        )\W*$",
    )
});

/// Asking for a person in German, Spanish, French, Portuguese, Italian, Dutch, Chinese and
/// Japanese. A product question about agents ("Wie füge ich einen Mitarbeiter hinzu?") names
/// no talking to one and does not match.
static ASK_FOR_HUMAN_ELSEWHERE: LazyLock<Regex> = LazyLock::new(|| {
    fixed_regex(
        r"(?x)
        # German: mit einem Menschen sprechen, zu einem Mitarbeiter verbinden, verbinden Sie mich
          \b(?:mit|zu|an)\s+(?:einem\s+|einer\s+|einen\s+|dem\s+|der\s+|ihrem\s+|ihrer\s+)?(?:echten\s+|richtigen\s+|menschlichen\s+|lebenden\s+)?
            (?:menschen|mensch|mitarbeiter(?:in)?|person|berater(?:in)?|support(?:-?mitarbeiter)?|kundendienst|kundenservice|ansprechpartner(?:in)?)
            \s+(?:sprechen|reden|chatten|schreiben|verbinden|verbunden|weiterleiten|durchstellen)\b
        | \b(?:verbinden|leiten|stellen)\s+sie\s+mich\s+(?:bitte\s+)?(?:mit|zu|an|weiter|durch)\b
        | \b(?:echte[nrm]?|richtige[nrm]?)\s+(?:menschen|mensch|person|mitarbeiter(?:in)?)\b
        # Spanish: hablar con una persona, pásame con un agente
        | \b(?:hablar|chatear|comunicarme|contactar|conversar)\s+(?:con|a)\s+(?:un|una|el|la|alguna?|algún|algun|un\s+ser)?\s*
            (?:persona|humano|agente|asesor(?:a)?|operador(?:a)?|representante|alguien|empleado|encargado|atención\s+al\s+cliente|soporte)\b
        | \b(?:p[aá]same|comun[ií]came|comun[ií]queme|transfi[eé]reme|con[eé]ctame|con[eé]cteme)\s+(?:con|a)\b
        | \b(?:persona\s+real|agente\s+humano|ser\s+humano)\b
        # French: parler à un conseiller, mettez-moi en relation avec
        | \b(?:parler|discuter|échanger|m'adresser)\s+(?:à|avec)\s+(?:quelqu'un\b|(?:un\s+|une\s+|le\s+|la\s+|l')?(?:vrai(?:e)?\s+|véritable\s+)?
            (?:humain|personne|agent|conseill(?:er|ère)|opérat(?:eur|rice)|représentant|employé|service\s+client|support)\b)
        | \b(?:mettez|mets|passez|passe|transférez|transfère)[- ]moi\s+(?:en\s+relation\s+)?(?:avec|à)\b
        | \b(?:vraie?\s+personne|personne\s+réelle|vrai\s+humain|être\s+humain)\b
        # Portuguese: falar com um atendente
        | \b(?:falar|conversar)\s+com\s+(?:algu[eé]m\b|(?:um\s+|uma\s+|o\s+|a\s+)?(?:atendente|humano|pessoa|agente|representante|operador|funcionário|funcionario|ser\s+humano)\b)
        | \b(?:pessoa\s+real|atendente\s+humano|atendimento\s+humano)\b
        # Italian: parlare con un operatore
        | \b(?:parlare|chattare|mettermi\s+in\s+contatto)\s+con\s+(?:qualcuno\b|(?:un\s+|una\s+|un'|l'|il\s+|la\s+)?(?:operatore|operatrice|persona|umano|agente|consulente|assistenza)\b)
        | \b(?:persona\s+reale|operatore\s+umano)\b
        # Dutch: met een medewerker spreken, spreken met iemand
        | \bmet\s+(?:iemand|(?:een\s+|de\s+)?(?:echte\s+)?(?:medewerker|mens|persoon))\s+(?:spreken|praten|chatten)\b
        | \b(?:spreken|praten|chatten)\s+met\s+(?:iemand|(?:een\s+|de\s+)?(?:echte\s+)?(?:medewerker|mens|persoon))\b
        | \bechte\s+(?:mens|persoon|medewerker)\b
        # Chinese: 转人工, 联系客服, 和真人聊天
        | (?:转|转接|接通|联系|找|要|请)(?:一下)?(?:人工|真人|客服|工作人员|服务人员)
        | 人工客服|人工服务|真人客服
        | [和跟与](?:真人|人工|客服|工作人员)(?:说话|聊天|交谈|沟通)
        # Japanese: オペレーターと話したい, 担当者につないで
        | (?:オペレーター|担当者|人間|スタッフ|有人)(?:と|に)(?:話|つな|繋|代わ|相談|替わ)
        | 有人(?:対応|チャット)
        ",
    )
});

/// A negation just before the request, in the same languages: "ich will nicht mit einem
/// Menschen sprechen", "no quiero hablar con…", "不需要人工".
static NEGATED_ELSEWHERE: LazyLock<Regex> = LazyLock::new(|| {
    fixed_regex(
        r"(?:\b(?:nicht|kein\w*|no|sin|sans|pas|não|nao|sem|non|senza|niet|geen|zonder)\s+(?:\S+\s+){0,3}|(?:不|别|無|无需|不用|不要|不需要)\S{0,3})$",
    )
});

/// A whole message that is only the request: "human", "agent please", "operator!".
static JUST_ASKING_FOR_A_HUMAN: LazyLock<Regex> = LazyLock::new(|| {
    fixed_regex(
        r"^\W*(?:an?\s+)?(?:human|agent|operator|representative|rep|person|real\s+person|live\s+agent|customer\s+service)(?:\s+(?:please|pls|plz|now))?\W*$",
    )
});

static ASK_FOR_HUMAN: LazyLock<Regex> = LazyLock::new(|| {
    fixed_regex(
        r"(?x)
        \b(?:talk|speak|chat|talking|speaking|chatting)\s+(?:to|with)\s+
            (?:a\s+|an\s+|the\s+|some\s+|your\s+|one\s+of\s+your\s+)?(?:real\s+|actual\s+|live\s+|human\s+)?
            (?:human|person|agent|representative|rep|operator|someone|somebody|anyone|anybody|staff
              |employee|manager|supervisor|customer\s+(?:service|support|care)|support\s+(?:team|staff)
              |team\s+member|being)\b
        | \b(?:connect|transfer|put|escalate|forward|pass|hand)\s+(?:me|us|this|my\s+(?:case|ticket|issue|request|chat))
            \s+(?:over\s+)?(?:to|through\s+to|with)\s+(?:a\s+|an\s+|the\s+|some\s+|your\s+)?(?:real\s+|actual\s+|live\s+|human\s+)?
            (?:human|person|agent|representative|rep|operator|someone|somebody|staff|employee|manager
              |supervisor|support|customer\s+service)\b
        | \b(?:get|give|find)\s+me\s+(?:a\s+|an\s+|the\s+|some\s+)?(?:real\s+|actual\s+|live\s+)?
            (?:human|person|agent|representative|operator|manager|supervisor)\b
        | \b(?:real|actual|live)\s+(?:person|human|agent|operator|representative)\b
        | \bhuman\s+(?:agent|being|support|representative|operator)\b
        | \b(?:i|we)\s+(?:want|need|would\s+like|'d\s+like|wanna|demand|request|insist\s+on)\s+
            (?:to\s+(?:talk|speak|chat)\s+(?:to|with)\s+)?(?:a\s+|an\s+|some\s+)?
            (?:human|person|agent|operator|representative|manager|supervisor)\s*
            (?:please|now|asap|right\s+now|immediately)?\s*(?:[.!?,]|$)
        | \bis\s+(?:there|this)\s+(?:a\s+)?(?:human|real\s+person|person|anyone|anybody|someone|somebody)
            \s+(?:there|i\s+can|to\s+talk|to\s+speak|available|on\s+the\s+line|reading)
        | \b(?:contact|reach|call)\s+(?:a\s+|an\s+|the\s+|your\s+|some\s+)?(?:customer\s+service\s+|support\s+)?
            (?:representative|agent|human|person|operator|manager|supervisor|staff|support\s+team)\b
        ",
    )
});

/// "I don't need to talk to a human", "without speaking to an agent".
static NEGATED: LazyLock<Regex> = LazyLock::new(|| {
    fixed_regex(
        r"\b(?:don't|do\s+not|doesn't|does\s+not|no\s+need|never|without|rather\s+than|instead\s+of)\s+(?:\w+\s+){0,3}$",
    )
});

/// "Can customers chat with an agent?": a question about the product, not a request.
static SOMEONE_ELSE_ASKS: LazyLock<Regex> = LazyLock::new(|| {
    fixed_regex(
        r"\b(?:customers?|users?|visitors?|clients?|they|members?|employees?|agents?|people|buyers|shoppers|callers)\s+(?:\w+\s+){0,3}$",
    )
});

// ---------------------------------------------------------------------------------------------
// Frustration

/// How the customer showed frustration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FrustrationKind {
    /// "This is useless", "not helpful", "waste of time", "ridiculous", "wtf".
    NegativePhrase,
    /// "Still doesn't work", "nothing works", "already tried that".
    StillNotWorking,
    /// "I already told you", "for the third time".
    AlreadySaid,
    /// Four or more words in a row in capitals.
    Shouting,
    /// "!!!", "?!?!".
    ExclamationRun,
}

/// What gave the frustration away, with the text that matched (at most 120 characters).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrustrationSignal {
    pub kind: FrustrationKind,
    pub evidence: String,
}

/// Strong signs that the customer is losing patience. Plain problem reports ("the restart
/// didn't help, what next?") are not frustration; "this is useless" and "STILL NOT WORKING" are.
pub fn frustration(text: &str) -> Option<FrustrationSignal> {
    let normalized = normalize_for_matching(text);
    let phrase = [
        (FrustrationKind::NegativePhrase, &*NEGATIVE_PHRASE),
        (FrustrationKind::StillNotWorking, &*STILL_NOT_WORKING),
        (FrustrationKind::AlreadySaid, &*ALREADY_SAID),
    ]
    .into_iter()
    .find_map(|(kind, pattern)| {
        pattern.find(&normalized).map(|found| FrustrationSignal {
            kind,
            evidence: snippet(found.as_str(), EVIDENCE_CHARS),
        })
    });
    phrase
        .or_else(|| {
            shouting(text).map(|evidence| FrustrationSignal {
                kind: FrustrationKind::Shouting,
                evidence: snippet(&evidence, EVIDENCE_CHARS),
            })
        })
        .or_else(|| {
            EXCLAMATION_RUN.find(text).map(|found| FrustrationSignal {
                kind: FrustrationKind::ExclamationRun,
                evidence: found.as_str().to_owned(),
            })
        })
}

const EVIDENCE_CHARS: usize = 120;

static NEGATIVE_PHRASE: LazyLock<Regex> = LazyLock::new(|| {
    fixed_regex(
        r"(?x)
        \b(?:this|that|it|you|this\s+bot|this\s+chat|your\s+(?:answers?|replies|bot|service|support|app|product))
            (?:'s|'re|\s+is|\s+are|\s+was|\s+were)?\s+(?:so\s+|completely\s+|totally\s+|utterly\s+|absolutely\s+|really\s+|pretty\s+|fucking\s+)?
            (?:useless|pointless|worthless|garbage|rubbish|trash|pathetic|a\s+joke|hopeless)\b
        | \b(?:not|isn't|wasn't|aren't|weren't)\s+(?:very\s+|at\s+all\s+|really\s+)?helpful\b
        | \bunhelpful\b
        | \byou(?:'re|\s+are)\s+not\s+(?:helping|listening|understanding)\b
        | \bare\s+you\s+(?:even\s+)?(?:listening|reading|serious|kidding\s+me)\b
        | \bwaste\s+of\s+(?:my\s+)?time\b
        | \b(?:ridiculous|terrible|awful|horrible|unacceptable|wtf|ffs|frustrating|frustrated|infuriating)\b
        | \bworst\s+(?:service|support|experience|bot|company|app|product|customer\s+service)\b
        | \b(?:fed\s+up|sick\s+(?:and\s+tired\s+)?of)\b
        | \b(?:bullshit|crap|goddamn|fuck\w*|shit\w*)\b
        ",
    )
});

static STILL_NOT_WORKING: LazyLock<Regex> = LazyLock::new(|| {
    fixed_regex(
        r"(?x)
        \bstill\s+(?:doesn't|does\s+not|don't|do\s+not|isn't|is\s+not|not|won't|can't|cannot|can\s+not|didn't|broken|failing|fails
            |the\s+same\s+(?:problem|issue|error)|no\s+(?:luck|sound|picture|signal|change))\b
        | \b(?:doesn't|does\s+not|isn't|is\s+not)\s+work(?:ing)?\s+(?:either|again)\b
        | \bnothing\s+(?:works|worked|is\s+working|has\s+worked|helps|helped)\b
        | \balready\s+(?:tried|did|done)\s+(?:that|this|it|everything|all\s+of\s+(?:that|this|them))\b
        | \b(?:tried|done)\s+(?:that|this|it|everything)\s+(?:already|twice|three\s+times)\b
        ",
    )
});

static ALREADY_SAID: LazyLock<Regex> = LazyLock::new(|| {
    fixed_regex(
        r"(?x)
        \bi\s+(?:already|just)\s+(?:told|said|explained|asked|mentioned|answered|gave)\b
        | \bas\s+i\s+(?:already\s+)?(?:said|told\s+you|mentioned|explained)\b
        | \bi\s+(?:said|told\s+you)\s+(?:already|before|twice)\b
        | \bfor\s+the\s+(?:second|third|fourth|fifth|last|[0-9]+(?:st|nd|rd|th))\s+time\b
        | \bhow\s+many\s+times\s+(?:do|must|should|have)\b
        | \b(?:again\s+and\s+again|over\s+and\s+over)\b
        | \bread\s+my\s+(?:message|question)\b
        ",
    )
});

static EXCLAMATION_RUN: LazyLock<Regex> =
    LazyLock::new(|| fixed_regex(r"!{3,}|(?:\?+!+|!+\?+){2,}"));

/// Short everyday words: a run of capitals containing some is shouting, a run without any is
/// a row of acronyms ("TV HDMI ARC CEC").
const COMMON_WORDS: &[&str] = &[
    "I", "A", "AM", "IS", "ARE", "WAS", "THE", "THIS", "THAT", "IT", "ITS", "NOT", "NO", "WHY",
    "WHAT", "HOW", "WHEN", "YOU", "YOUR", "MY", "ME", "WE", "DO", "DOES", "DONT", "DON'T", "CANT",
    "CAN'T", "WONT", "WON'T", "AND", "OR", "BUT", "TO", "OF", "IN", "ON", "FOR", "WITH", "STILL",
    "NEED", "WANT", "PLEASE", "HELP", "NOW", "JUST", "SO", "WORK", "WORKS", "WORKING", "STOP",
    "GET", "FIX", "ALREADY", "AGAIN", "HAVE", "HAS", "CAN", "WILL", "ANY", "ALL", "EVER",
];

/// The first run of four or more words in capitals that contains everyday words. Words
/// without letters ("2", "!!!") neither extend nor break a run.
fn shouting(text: &str) -> Option<String> {
    let mut run: Vec<&str> = Vec::new();
    for word in text.split_whitespace() {
        let letters = || bare_word(word).chars().filter(|c| c.is_alphabetic());
        if letters().next().is_none() {
            continue;
        }
        if letters().all(char::is_uppercase) {
            run.push(word);
            continue;
        }
        if is_shouting(&run) {
            return Some(run.join(" "));
        }
        run.clear();
    }
    is_shouting(&run).then(|| run.join(" "))
}

fn is_shouting(run: &[&str]) -> bool {
    let everyday = run
        .iter()
        .filter(|word| COMMON_WORDS.contains(&bare_word(word)))
        .count();
    run.len() >= 4 && everyday >= 2
}

fn bare_word(word: &str) -> &str {
    word.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'')
}

// ---------------------------------------------------------------------------------------------
// Repeated question

/// Whether the latest message asks what an earlier customer turn already asked: the sets of
/// content words (lower-cased, stop words dropped, plural `s` trimmed) overlap with a Jaccard
/// similarity of at least 0.7. Messages with fewer than three content words ("yes", "thanks",
/// "what about TVs?") are never counted as repeats.
pub fn is_repeated_question(latest: &str, earlier_customer_turns: &[&str]) -> bool {
    let latest_words = content_words(latest);
    if latest_words.len() < MIN_CONTENT_WORDS {
        return false;
    }
    earlier_customer_turns.iter().any(|earlier| {
        let earlier_words = content_words(earlier);
        let shared = latest_words.intersection(&earlier_words).count();
        let either = latest_words.union(&earlier_words).count();
        either > 0 && shared as f64 / either as f64 >= REPEAT_SIMILARITY
    })
}

const MIN_CONTENT_WORDS: usize = 3;
const REPEAT_SIMILARITY: f64 = 0.7;

fn content_words(text: &str) -> HashSet<String> {
    text.to_lowercase()
        .replace(['\'', '’'], "")
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty() && !STOP_WORDS.contains(word))
        .map(|word| match word.strip_suffix('s') {
            Some(stem) if stem.chars().count() >= 3 && !stem.ends_with('s') => stem.to_owned(),
            _ => word.to_owned(),
        })
        .collect()
}

const STOP_WORDS: &[&str] = &[
    "a", "about", "again", "also", "am", "an", "and", "any", "are", "as", "at", "be", "been",
    "but", "by", "can", "could", "did", "do", "does", "dont", "for", "from", "get", "got", "had",
    "has", "have", "hello", "help", "here", "hey", "hi", "how", "i", "if", "im", "in", "into",
    "is", "it", "its", "just", "know", "let", "may", "me", "might", "must", "my", "need", "no",
    "not", "of", "ok", "okay", "on", "or", "our", "please", "pls", "really", "shall", "should",
    "so", "some", "still", "tell", "thank", "thanks", "that", "the", "then", "there", "these",
    "this", "those", "to", "too", "up", "us", "very", "want", "was", "we", "were", "what", "when",
    "where", "which", "who", "why", "will", "with", "would", "yes", "you", "your",
];

#[cfg(test)]
mod tests;
