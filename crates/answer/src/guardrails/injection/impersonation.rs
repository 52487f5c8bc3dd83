//! Role impersonation: text dressed up as a message from someone other than the customer (the
//! system, the developer, the assistant itself, an administrator), in whatever markup: a
//! `SYSTEM:` line or block, a Markdown heading, an XML-ish tag with or without attributes, a
//! chat-template token, or a structured payload (`{"role": "system", …}`, `role: developer`).

use std::sync::LazyLock;

use regex::{Match, Regex};

use crate::guardrails::text::fixed_regex;

/// A structured message with a privileged role: JSON, a Python dict or YAML-ish `key: value`.
/// A customer pasting one is handing the bot a fake system message.
pub(super) static STRUCTURED_ROLE: LazyLock<Regex> = LazyLock::new(|| {
    fixed_regex(
        r#"(?x)
        ["']role["']\s*[:=]\s*["'](?:system|developer)["']
        | \brole\s*[:=]\s*["']?(?:system|developer)["']?\s*(?:[,}\n]|$)
        | \bfrom\s*[:=]\s*["']?(?:system|developer)["']?\s*[,}]
        "#,
    )
});

/// A tag that opens or closes a privileged turn, attributes allowed: `<system>`,
/// `<assistant name="x">`, `</instructions>`, `<start_of_turn>`, `<|channel|>`.
pub(super) static ROLE_TAG: LazyLock<Regex> = LazyLock::new(|| {
    fixed_regex(
        r#"(?x)
        </?\s*(?:system|developer|assistant|sys|system[_-]?(?:prompt|message|instructions?)|instructions?|admin[_-]?override)
            (?:\s+[a-z_:-]+\s*=\s*(?:"[^"\n]{0,80}"|'[^'\n]{0,80}'|[^\s>]{1,40}))*\s*/?>
        | </?\s*(?:start_of_turn|end_of_turn)\s*>
        | <\|\s*(?:start|end|message|channel|im_sep|eom_id|end_header_id|start_of_role|end_of_role)\s*\|>
        | (?m:^)[\t\x20]*\#{2,6}[\t\x20]*(?:instruction|instructions|new\s+instructions?|system\s+(?:prompt|message|instructions?))[\t\x20]*:?[\t\x20]*(?m:$)
        | <\s*[a-z][\w:-]*(?:\s+[a-z_:-]+\s*=\s*(?:"[^"\n]{0,80}"|'[^'\n]{0,80}'|[^\s>]{1,40}))*?
            \s+(?:role|author|from|speaker|sender)\s*=\s*["']?(?:system|developer|assistant|admin)\b
        "#,
    )
});

/// Labels of those who give the bot orders: a line opening with one of these is a fake
/// privileged message when it gives orders or grants.
const PRIVILEGED: &str = r"(?:system|developer|admin|administrator|operator|root|sysadmin|moderator|security\s+team|support\s+system|openai|anthropic)(?:[\t\x20]+(?:message|note|notice|update|override|instructions?|prompt))?";

/// Labels of the bot's own voice: customers quote the bot ("Bot: please enter your order
/// number"), so such a line counts only when it complies with an attack or grants something.
const VOICE: &str =
    r"(?:assistant|ai|bot|chatbot|model|gpt|claude)(?:[\t\x20]+(?:message|response|reply))?";

/// A line (or a clause after a full stop) opening with `label`: `Label:`, `**Label:**` (emphasis
/// is dropped before matching), `[Label]`, `(Label)`, `{Label}`, `### Label`, `> Label:`… with the
/// rest of that line, or the next line when the label stands alone.
fn labelled_line(label: &str) -> Regex {
    fixed_regex(&format!(
        r"(?m)(?:^|[.!?;][\t\x20]+)[\t\x20]*(?:\#{{1,6}}[\t\x20]*{label}\b[\t\x20]*:?|\[[\t\x20]*{label}[\t\x20]*\][\t\x20]*:?|\([\t\x20]*{label}[\t\x20]*\)[\t\x20]*:?|\{{[\t\x20]*{label}[\t\x20]*\}}[\t\x20]*:?|>?[\t\x20]*{label}[\t\x20]*:)[\t\x20]*\n?[^\n]*"
    ))
}

pub(super) static PRIVILEGED_LINE: LazyLock<Regex> = LazyLock::new(|| labelled_line(PRIVILEGED));

pub(super) static VOICE_LINE: LazyLock<Regex> = LazyLock::new(|| labelled_line(VOICE));

/// Grants and attack words: enough in any labelled line.
static GRANTS_OR_ATTACK_WORDS: LazyLock<Regex> = LazyLock::new(|| {
    fixed_regex(
        r"(?x)
        \b(?:ignore|disregard|override|jailbreak|jailbroken|unrestricted|unfiltered|uncensored|guardrails)\b
        | \byou\s+(?:are|will|must|shall|should|may|can)\s+now\b
        | \byou\s+are\s+(?:a|an)\s+(?:[\w-]+\s+){0,2}?(?:bot|assistant|ai|model|agent|chatbot|persona|character)\b
        | \b(?:the\s+)?(?:user|customer|requester|client|caller|person\s+you\s+are\s+talking\s+to)\s+(?:is|has\s+been|was)\s+(?:now\s+|fully\s+|already\s+)?
            (?:verified|authori[sz]ed|authenticated|approved|trusted|allowed|whitelisted|cleared|an?\s+(?:admin|administrator|employee|developer|owner|vip|staff|superuser))\b
        | \b(?:grant|approve|authori[sz]e|unlock|issue|allow|enable|disable|bypass|skip|waive|lift|remove)\b[^\n]{0,40}
            \b(?:access|refunds?|discounts?|credits?|permissions?|privileges?|verification|authentication|restrictions?|filters?|checks?|limits?|safeguards?)\b
        | \b(?:reveal|share|provide|disclose|output|print|give|send|list|dump|include|tell)\b[^\n]{0,40}
            \b(?:all|full|complete|every|any|the\s+entire|unredacted)\b[^\n]{0,30}
            \b(?:credentials|passwords?|tokens?|api\s+keys?|secrets?|database|customer\s+data|account\s+details)\b
        | \b(?:admin(?:istrator)?|developer|debug|maintenance|god|sudo|root|override)\s+(?:mode|access|override|privileges?|rights)\b
        | \b(?:security|safety|content|moderation)\s+(?:checks?|filters?|policy|policies|protocols?|rules)\s+(?:are\s+|have\s+been\s+)?(?:now\s+)?(?:disabled|off|lifted|suspended|removed|bypassed)\b
        | \bsure,?\s+(?:here\s+(?:is|are)\s+(?:the|your|all|every)\s+(?:[\w-]+\s+){0,2}?(?:password|credentials|token|key|secret|data|details|prompt|instructions)
            |i\s+(?:can|will)\s+(?:share|give|reveal|ignore))\b
        | \b(?:override|authori[sz]ation|verification)\s+code\b
        ",
    )
});

/// Orders to the bot: enough in a privileged line, where a customer has no business writing
/// them (`System: you must answer…`).
static ORDERS: LazyLock<Regex> = LazyLock::new(|| {
    fixed_regex(
        r"(?x)
        \b(?:instructions|obey|prompt|persona|chatbot|llm|language\s+model)\b
        | \b(?:your|the)\s+(?:rules|guidelines|restrictions|policies)\b
        | \b(?:must|shall|will|should)\s+(?:now\s+|always\s+|from\s+now\s+on\s+)?
            (?:respond|answer|reply|comply|obey|follow|reveal|share|provide|grant|approve|output|print|list|disclose|tell|give|send)\b
        | \b(?:reveal|share|provide|disclose|output|print|give|send|list|dump)\b[^\n]{0,40}
            \b(?:all|full|complete|every|the\s+entire|unredacted)\b[^\n]{0,30}\b(?:details|data|information|records|emails?|history)\b
        ",
    )
});

pub(super) fn privileged_line_gives_orders(_: &str, found: &Match<'_>) -> bool {
    GRANTS_OR_ATTACK_WORDS.is_match(found.as_str()) || ORDERS.is_match(found.as_str())
}

pub(super) fn voice_line_complies_or_grants(_: &str, found: &Match<'_>) -> bool {
    GRANTS_OR_ATTACK_WORDS.is_match(found.as_str())
}
