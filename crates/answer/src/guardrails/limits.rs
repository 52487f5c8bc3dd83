//! Size limits on what a customer can send: a bound on the work one request can cause and on
//! what reaches the model's context window.

use serde::{Deserialize, Serialize};

/// Maximum sizes, in characters (Unicode scalar values, `str::chars().count()`), not bytes.
/// Deserializes from a partial settings table: missing fields keep their defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct InputLimits {
    /// The customer's latest message. Default 4000.
    pub max_message_chars: usize,
    /// Earlier turns (customer and agent) sent along with it. Default 50.
    pub max_history_turns: usize,
    /// Any one earlier turn; agent replies with citations run longer than questions. Default 8000.
    pub max_turn_chars: usize,
}

impl Default for InputLimits {
    fn default() -> Self {
        Self {
            max_message_chars: 4000,
            max_history_turns: 50,
            max_turn_chars: 8000,
        }
    }
}

/// Why an input was refused. Messages say what was too large, by how much, and which setting
/// holds the limit; [`LimitError::code`] is the stable machine-readable form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    #[error("message is empty")]
    EmptyMessage,
    #[error(
        "message is {actual_chars} characters long, over the limit of {max_chars} (max_message_chars)"
    )]
    MessageTooLong {
        actual_chars: usize,
        max_chars: usize,
    },
    #[error("history has {actual_turns} turns, over the limit of {max_turns} (max_history_turns)")]
    TooManyHistoryTurns {
        actual_turns: usize,
        max_turns: usize,
    },
    #[error(
        "history turn {turn_index} (counting from 0, oldest first) is {actual_chars} characters long, over the limit of {max_chars} (max_turn_chars)"
    )]
    HistoryTurnTooLong {
        turn_index: usize,
        actual_chars: usize,
        max_chars: usize,
    },
}

impl LimitError {
    /// Stable, machine-readable: for API error bodies and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            LimitError::EmptyMessage => "empty_message",
            LimitError::MessageTooLong { .. } => "message_too_long",
            LimitError::TooManyHistoryTurns { .. } => "too_many_history_turns",
            LimitError::HistoryTurnTooLong { .. } => "history_turn_too_long",
        }
    }
}

/// Checks the latest message and the earlier turns against `limits`; the first problem found
/// wins, in this order: empty message (only whitespace), message too long, too many turns, a
/// turn too long.
///
/// `history` is the text of each earlier turn, oldest first — typically
/// `conversation.history.iter().map(|turn| turn.text.as_str())`. Taking the texts rather than
/// their lengths keeps every caller counting characters the same way.
pub fn check_limits<'a>(
    limits: &InputLimits,
    message: &str,
    history: impl IntoIterator<Item = &'a str>,
) -> Result<(), LimitError> {
    if message.trim().is_empty() {
        return Err(LimitError::EmptyMessage);
    }
    let message_chars = message.chars().count();
    if message_chars > limits.max_message_chars {
        return Err(LimitError::MessageTooLong {
            actual_chars: message_chars,
            max_chars: limits.max_message_chars,
        });
    }
    let mut turn_count = 0;
    let mut first_long_turn = None;
    for (turn_index, turn) in history.into_iter().enumerate() {
        turn_count += 1;
        if first_long_turn.is_some() {
            continue;
        }
        let actual_chars = turn.chars().count();
        if actual_chars > limits.max_turn_chars {
            first_long_turn = Some(LimitError::HistoryTurnTooLong {
                turn_index,
                actual_chars,
                max_chars: limits.max_turn_chars,
            });
        }
    }
    if turn_count > limits.max_history_turns {
        return Err(LimitError::TooManyHistoryTurns {
            actual_turns: turn_count,
            max_turns: limits.max_history_turns,
        });
    }
    first_long_turn.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chars(count: usize) -> String {
        "é".repeat(count)
    }

    #[test]
    fn a_normal_message_and_history_pass() {
        let history = ["How do I reset my password?", "Go to Settings > Account."];

        let checked = check_limits(&InputLimits::default(), "Thanks, and my email?", history);

        assert_eq!(checked, Ok(()));
    }

    #[test]
    fn limits_are_counted_in_characters_not_bytes() {
        let message = chars(4000);
        assert_eq!(message.len(), 8000);

        assert_eq!(check_limits(&InputLimits::default(), &message, []), Ok(()));
    }

    #[test]
    fn a_message_over_the_limit_is_refused_with_its_size_and_the_setting() {
        let error = check_limits(&InputLimits::default(), &chars(4001), []).unwrap_err();

        assert_eq!(
            error,
            LimitError::MessageTooLong {
                actual_chars: 4001,
                max_chars: 4000
            }
        );
        assert_eq!(
            error.to_string(),
            "message is 4001 characters long, over the limit of 4000 (max_message_chars)"
        );
        assert_eq!(error.code(), "message_too_long");
    }

    #[test]
    fn an_empty_or_blank_message_is_refused() {
        let error = check_limits(&InputLimits::default(), " \n\t", []).unwrap_err();

        assert_eq!(error, LimitError::EmptyMessage);
        assert_eq!(error.code(), "empty_message");
    }

    #[test]
    fn too_many_history_turns_are_refused_even_when_one_is_also_too_long() {
        let long_turn = chars(8001);
        let mut history = vec!["hi"; 50];
        history.push(&long_turn);

        let error = check_limits(&InputLimits::default(), "hello", history).unwrap_err();

        assert_eq!(
            error.to_string(),
            "history has 51 turns, over the limit of 50 (max_history_turns)"
        );
        assert_eq!(error.code(), "too_many_history_turns");
    }

    #[test]
    fn the_first_history_turn_over_the_limit_is_named() {
        let long_turn = chars(8001);
        let history = ["hi", long_turn.as_str(), long_turn.as_str()];

        let error = check_limits(&InputLimits::default(), "hello", history).unwrap_err();

        assert_eq!(
            error,
            LimitError::HistoryTurnTooLong {
                turn_index: 1,
                actual_chars: 8001,
                max_chars: 8000
            }
        );
        assert_eq!(
            error.to_string(),
            "history turn 1 (counting from 0, oldest first) is 8001 characters long, over the limit of 8000 (max_turn_chars)"
        );
    }

    #[test]
    fn custom_limits_apply() {
        let limits = InputLimits {
            max_message_chars: 10,
            ..InputLimits::default()
        };

        assert!(check_limits(&limits, "0123456789", []).is_ok());
        assert!(check_limits(&limits, "0123456789a", []).is_err());
    }
}
