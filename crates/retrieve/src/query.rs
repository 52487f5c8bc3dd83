//! Query understanding without a model: turn the latest message of a conversation into a query
//! that stands on its own, by carrying the earlier topic's terms into follow-ups such as
//! "and for the annual plan?". (With an LLM configured, the answer engine rewrites instead.)

use fathom_core::{Role, Turn};
use serde::{Deserialize, Serialize};

/// How much of the history is carried into the query. Chosen on ../shared/evals (see
/// evals/README.md): carrying the previous customer turn helps follow-ups most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ContextCarry {
    /// The latest message alone.
    None,
    /// Plus the previous customer turn.
    #[default]
    LastCustomerTurn,
    /// Plus the previous customer turn and the agent's reply to it.
    LastExchange,
    /// Plus every earlier customer turn.
    AllCustomerTurns,
}

impl std::str::FromStr for ContextCarry {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "none" => Ok(Self::None),
            "last_customer_turn" => Ok(Self::LastCustomerTurn),
            "last_exchange" => Ok(Self::LastExchange),
            "all_customer_turns" => Ok(Self::AllCustomerTurns),
            other => Err(format!(
                "unknown context carry {other:?}: use none, last_customer_turn, last_exchange or all_customer_turns"
            )),
        }
    }
}

/// Words that carry no topic.
const STOP_WORDS: &[&str] = &[
    "a", "an", "the", "and", "or", "but", "if", "then", "so", "of", "to", "in", "on", "for",
    "with", "at", "by", "from", "about", "as", "into", "is", "are", "was", "were", "be", "been",
    "being", "do", "does", "did", "have", "has", "had", "can", "could", "should", "would", "will",
    "shall", "may", "might", "must", "i", "me", "my", "we", "our", "you", "your", "it", "its",
    "they", "them", "their", "this", "that", "these", "those", "there", "here", "what", "which",
    "who", "whom", "how", "when", "where", "why", "not", "no", "yes", "please", "thanks", "thank",
    "ok", "okay", "also", "just", "any", "some", "all", "more", "most", "other", "such", "only",
    "own", "same", "than", "too", "very", "s", "t", "don", "now", "tell", "know", "want", "need",
    "like", "get", "use", "using", "used",
];

pub fn is_stop_word(word: &str) -> bool {
    STOP_WORDS.contains(&word)
}

/// Lower-cased words of `text` that carry meaning.
pub fn content_terms(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .filter(|w| !is_stop_word(w))
        .collect()
}

/// The query to search for the latest `message`, given the earlier turns.
pub fn standalone_query(history: &[Turn], message: &str, carry: ContextCarry) -> String {
    let customer_turns: Vec<&Turn> = history
        .iter()
        .filter(|t| t.role == Role::Customer)
        .collect();
    let mut parts: Vec<&str> = vec![message];
    match carry {
        ContextCarry::None => {}
        ContextCarry::LastCustomerTurn => {
            parts.extend(customer_turns.last().map(|t| t.text.as_str()));
        }
        ContextCarry::LastExchange => {
            if let Some(position) = history.iter().rposition(|t| t.role == Role::Customer) {
                parts.push(&history[position].text);
                parts.extend(history.get(position + 1).map(|t| t.text.as_str()));
            }
        }
        ContextCarry::AllCustomerTurns => {
            parts.extend(customer_turns.iter().rev().map(|t| t.text.as_str()));
        }
    }
    if parts.len() == 1 {
        return message.trim().to_string();
    }
    // Keep the message whole; from the context keep only topic words not already asked about.
    let mut seen: Vec<String> = content_terms(message);
    let mut carried = Vec::new();
    for part in &parts[1..] {
        for term in content_terms(part) {
            if !seen.contains(&term) {
                seen.push(term.clone());
                carried.push(term);
            }
        }
    }
    if carried.is_empty() {
        message.trim().to_string()
    } else {
        format!("{} {}", message.trim(), carried.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn(role: Role, text: &str) -> Turn {
        Turn {
            role,
            text: text.into(),
            awaiting: None,
        }
    }

    #[test]
    fn a_follow_up_carries_the_previous_topic() {
        let history = [
            turn(Role::Customer, "How do refunds work for monthly plans?"),
            turn(Role::Agent, "Monthly plans are not refunded."),
        ];
        let query = standalone_query(
            &history,
            "and for the annual plan?",
            ContextCarry::LastCustomerTurn,
        );
        assert!(query.starts_with("and for the annual plan?"));
        assert!(
            query.contains("refunds") && query.contains("monthly"),
            "{query}"
        );
        assert!(
            !query.contains("not refunded"),
            "agent text is not carried: {query}"
        );
    }

    #[test]
    fn without_history_the_message_is_the_query() {
        assert_eq!(
            standalone_query(&[], "  reset password ", ContextCarry::AllCustomerTurns),
            "reset password"
        );
    }

    #[test]
    fn terms_already_in_the_message_are_not_repeated() {
        let history = [turn(Role::Customer, "annual plan refund")];
        let query = standalone_query(
            &history,
            "annual plan refund?",
            ContextCarry::LastCustomerTurn,
        );
        assert_eq!(query, "annual plan refund?");
    }
}
