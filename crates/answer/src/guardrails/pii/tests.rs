use proptest::prelude::*;

use super::*;

fn kinds_found(text: &str) -> Vec<(PiiKind, String)> {
    redact(text)
        .entities
        .into_iter()
        .map(|entity| (entity.kind, entity.original))
        .collect()
}

fn assert_redacted_as(kind: PiiKind, value: &str) {
    let text = format!("here it is: {value}, thanks");
    let found = kinds_found(&text);
    assert_eq!(
        found,
        vec![(kind, value.to_owned())],
        "expected {value:?} to be redacted as {kind:?}"
    );
}

fn assert_nothing_redacted(text: &str) {
    let redacted = redact(text);
    assert_eq!(redacted.text, text, "expected {text:?} to be left alone");
}

// ---------------------------------------------------------------------------------------------
// Emails and placeholders

#[test]
fn an_email_is_replaced_with_a_numbered_placeholder() {
    let redacted = redact("Please reply to jane.doe+billing@example.co.uk today.");

    assert_eq!(redacted.text, "Please reply to [EMAIL_1] today.");
    assert_eq!(
        redacted.entities,
        vec![PiiEntity {
            kind: PiiKind::Email,
            placeholder: "[EMAIL_1]".into(),
            original: "jane.doe+billing@example.co.uk".into(),
        }]
    );
}

#[test]
fn the_same_value_gets_the_same_placeholder_and_each_kind_is_numbered_on_its_own() {
    let redacted =
        redact("a@example.com, b@example.com, card 4111 1111 1111 1111, again a@example.com");

    assert_eq!(
        redacted.text,
        "[EMAIL_1], [EMAIL_2], card [CARD_1], again [EMAIL_1]"
    );
    assert_eq!(redacted.entities.len(), 3);
}

#[test]
fn placeholder_looking_text_in_the_input_is_never_handed_out_again() {
    let text = "I typed [EMAIL_1] literally; my address is me@example.com";

    let redacted = redact(text);

    assert_eq!(
        redacted.text,
        "I typed [EMAIL_1] literally; my address is [EMAIL_2]"
    );
    assert_eq!(restore(&redacted.text, &redacted.entities), text);
}

#[test]
fn an_email_glued_to_more_letters_or_digits_is_not_an_email() {
    assert_nothing_redacted("weird token a@example.com4 here");
}

// ---------------------------------------------------------------------------------------------
// Card numbers

#[test]
fn luhn_valid_card_numbers_are_redacted_however_they_are_written() {
    for card in [
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "4111111111111111",
        "5555555555554444",
        "3782 822463 10005",
        "6011111111111117",
        "4222222222222",
    ] {
        assert_redacted_as(PiiKind::CardNumber, card);
    }
}

#[test]
fn numbers_that_fail_the_luhn_check_are_not_cards() {
    assert_nothing_redacted("Order 4111 1111 1111 1112 has not arrived");
    assert_nothing_redacted("My order number is 1234567890123.");
    assert_nothing_redacted("tracking 9876543210987654");
}

#[test]
fn a_card_followed_by_its_expiry_and_security_code_is_still_redacted() {
    let redacted = redact("card 4111 1111 1111 1111 12/28 cvv 123");
    assert_eq!(redacted.text, "card [CARD_1] 12/28 cvv 123");

    let redacted = redact("card 4111 1111 1111 1111 123");
    assert_eq!(redacted.text, "card [CARD_1] 123");
}

#[test]
fn a_card_preceded_by_another_number_is_still_redacted() {
    let redacted = redact("order 12345 4111 1111 1111 1111");
    assert_eq!(redacted.text, "order 12345 [CARD_1]");
}

#[test]
fn two_cards_written_one_after_the_other_are_both_redacted() {
    let redacted = redact("4111 1111 1111 1111 5555 5555 5555 4444");
    assert_eq!(redacted.text, "[CARD_1] [CARD_2]");
}

#[test]
fn a_run_of_one_repeated_digit_is_not_a_card() {
    assert_nothing_redacted("0000 0000 0000 0000");
}

#[test]
fn digits_after_a_plus_sign_are_a_phone_number_not_a_card() {
    let found = kinds_found("call +4111111111111");
    assert_eq!(found, vec![(PiiKind::Phone, "+4111111111111".to_owned())]);
}

// ---------------------------------------------------------------------------------------------
// IBANs

#[test]
fn ibans_with_valid_check_digits_are_redacted_compact_or_in_groups_of_four() {
    for iban in [
        "DE89 3704 0044 0532 0130 00",
        "GB82 WEST 1234 5698 7654 32",
        "FR14 2004 1010 0505 0001 3M02 606",
        "NL91ABNA0417164300",
        "CH93 0076 2011 6238 5295 7",
        "gb82 west 1234 5698 7654 32",
    ] {
        assert_redacted_as(PiiKind::Iban, iban);
    }
}

#[test]
fn an_iban_is_found_even_when_words_follow_it() {
    let redacted = redact("IBAN DE89 3704 0044 0532 0130 00 and the rest");
    assert_eq!(redacted.text, "IBAN [IBAN_1] and the rest");
}

#[test]
fn an_iban_with_wrong_check_digits_is_not_redacted_as_an_iban() {
    let found = kinds_found("IBAN DE89 3704 0044 0532 0130 01 please");
    assert!(
        found.iter().all(|(kind, _)| *kind != PiiKind::Iban),
        "{found:?}"
    );
}

#[test]
fn two_ibans_written_back_to_back_are_both_redacted() {
    let redacted = redact("DE89 3704 0044 0532 0130 00 GB82 WEST 1234 5698 7654 32");
    assert_eq!(redacted.text, "[IBAN_1] [IBAN_2]");
}

#[test]
fn an_iban_followed_by_a_card_number_gets_both_redacted() {
    let redacted = redact("DE89 3704 0044 0532 0130 00 4111 1111 1111 1111");
    assert_eq!(redacted.text, "[IBAN_1] [CARD_1]");
}

// ---------------------------------------------------------------------------------------------
// Phone numbers

#[test]
fn international_and_common_national_phone_numbers_are_redacted() {
    for phone in [
        "+1 (555) 123-4567",
        "+1-555-123-4567",
        "+44 20 7946 0958",
        "+44 (0)20 7946 0958",
        "+33 6 12 34 56 78",
        "+4915112345678",
        "020 7946 0958",
        "(555) 123-4567",
        "555-123-4567",
        "1-800-555-0199",
        "555.123.4567",
        "5551234567",
        "06 12 34 56 78",
        "06.12.34.56.78",
        "0612345678",
        "612 34 56 78",
        "0049 151 12345678",
    ] {
        assert_redacted_as(PiiKind::Phone, phone);
    }
}

#[test]
fn dates_times_versions_prices_and_short_references_are_not_phone_numbers() {
    for text in [
        "It shipped on 2026-09-14 at 10:30.",
        "Renewal date 14/09/2026, invoice 2026-09-14 2026-10-14.",
        "I run version 10.0.19041.1234 of the app, v1.2.3 of the plugin.",
        "The server is 192.168.100.200.",
        "I was charged $1,234,567.89 and then 123 456 789,00 €.",
        "Order #123456789 and order 12345678.",
        "Order 123456789 was split into 3 parcels.",
        "It took 1757808000 seconds.",
        "Call me between 9-17 on weekdays.",
    ] {
        assert_nothing_redacted(text);
    }
}

// ---------------------------------------------------------------------------------------------
// Secrets

#[test]
fn well_known_key_and_token_formats_are_redacted_as_secrets() {
    for secret in [
        "sk-proj-abc123DEF456ghi789JKL012mno345",
        "sk_live_51H8xYzAbCdEfGhIjKlMnOp",
        "pk_live_51H8xYzAbCdEfGhIjKlMnOp",
        "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123456789",
        "AKIAIOSFODNN7EXAMPLE",
        "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    ] {
        assert_redacted_as(PiiKind::Secret, secret);
    }
}

#[test]
fn a_key_after_an_equals_sign_is_still_redacted() {
    let redacted = redact("api_key=sk_live_51H8xYzAbCdEfGhIjKlMnOp");
    assert_eq!(redacted.text, "api_key=[SECRET_1]");
}

#[test]
fn long_random_tokens_are_secrets() {
    for token in [
        "Xk9fQ2mZp7LwR4tYb8NcV3hJd6GsE1aU",
        "3f786850e387550fdab836ed7e6dc881de23001b",
        "q8N2vL5xT1zR7mK4pW9sD3fG6hJ0bC2n",
    ] {
        assert_redacted_as(PiiKind::Secret, token);
    }
}

#[test]
fn uuids_urls_word_identifiers_and_key_prefixes_inside_words_are_not_secrets() {
    for text in [
        "request id 550e8400-e29b-41d4-a716-446655440000",
        "file invoice_2026_09_14_customer_account_statement.pdf",
        "the method getUserAccountBalanceForCustomerId2024 fails",
        "see https://docs.example.com/articles/how-to-reset-your-password-in-2-steps",
        "ThisIsAVeryLongWordWithoutAnyDigitsAtAllReally",
        "our task-management-dashboard-for-teams-2024 board",
    ] {
        assert_nothing_redacted(text);
    }
}

// ---------------------------------------------------------------------------------------------
// Restoring, redactors, logging

#[test]
fn restore_puts_the_originals_back_where_a_reply_echoes_placeholders() {
    let redacted = redact("My email is jane@example.com and my card 4111 1111 1111 1111");
    let reply = "We sent the receipt to [EMAIL_1] for the card [CARD_1].";

    let restored = restore(reply, &redacted.entities);

    assert_eq!(
        restored,
        "We sent the receipt to jane@example.com for the card 4111 1111 1111 1111."
    );
}

#[test]
fn restore_leaves_placeholders_it_does_not_know_alone() {
    let redacted = redact("jane@example.com");
    assert_eq!(
        restore("[EMAIL_1] and [EMAIL_7] and [PHONE_1]", &redacted.entities),
        "jane@example.com and [EMAIL_7] and [PHONE_1]"
    );
}

#[test]
fn one_redactor_keeps_placeholders_consistent_across_a_conversation() {
    let mut redactor = Redactor::new();

    let first_turn = redactor.redact("I'm jane@example.com");
    let second_turn = redactor.redact("Did you email jane@example.com or bob@example.com?");

    assert_eq!(first_turn, "I'm [EMAIL_1]");
    assert_eq!(second_turn, "Did you email [EMAIL_1] or [EMAIL_2]?");
    assert_eq!(
        redactor.restore("Sent to [EMAIL_2]."),
        "Sent to bob@example.com."
    );
}

#[test]
fn a_redactor_for_some_kinds_leaves_the_other_kinds_alone() {
    let mut redactor = Redactor::for_kinds(&[PiiKind::CardNumber, PiiKind::Secret]);

    let redacted = redactor.redact("jane@example.com paid with 4111 1111 1111 1111");

    assert_eq!(redacted, "jane@example.com paid with [CARD_1]");
}

#[test]
fn redact_for_log_gives_only_the_redacted_text() {
    assert_eq!(
        redact_for_log("call +44 20 7946 0958 or mail a@b.io"),
        "call [PHONE_1] or mail [EMAIL_1]"
    );
}

#[test]
fn debug_output_shows_placeholders_but_never_the_original_values() {
    let redacted = redact("jane@example.com");
    let mut redactor = Redactor::new();
    redactor.redact("jane@example.com");

    let debug = format!("{redacted:?} {redactor:?}");

    assert!(!debug.contains("jane"), "{debug}");
    assert!(debug.contains("[EMAIL_1]"), "{debug}");
}

#[test]
fn the_mod_97_check_accepts_a_known_iban_and_rejects_a_changed_one() {
    assert_eq!(iban_mod_97("DE89370400440532013000"), Some(1));
    assert_ne!(iban_mod_97("DE89370400440532013001"), Some(1));
    assert_eq!(iban_mod_97("DE8"), None);
}

// ---------------------------------------------------------------------------------------------
// Properties

fn luhn_check_digit(body: &[u32]) -> u32 {
    (0..10)
        .find(|&check| {
            let mut digits = body.to_vec();
            digits.push(check);
            passes_luhn(&digits)
        })
        .unwrap_or(0)
}

fn in_groups_of_four(compact: &str, separator: &str) -> String {
    compact
        .as_bytes()
        .chunks(4)
        .map(|chunk| String::from_utf8_lossy(chunk).into_owned())
        .collect::<Vec<_>>()
        .join(separator)
}

fn digits_to_string(digits: &[u32]) -> String {
    digits
        .iter()
        .filter_map(|&digit| char::from_digit(digit, 10))
        .collect()
}

/// Luhn-valid numbers of 13 to 19 digits, unbroken or in fours with spaces or dashes.
fn card_number() -> impl Strategy<Value = String> {
    (
        3u32..=6,
        prop::collection::vec(0u32..10, 11..=17),
        prop::sample::select(vec!["", " ", "-"]),
    )
        .prop_filter_map(
            "one repeated digit is not a card",
            |(first, rest, separator)| {
                let mut digits = vec![first];
                digits.extend(rest);
                digits.push(luhn_check_digit(&digits));
                let compact = digits_to_string(&digits);
                let repeated = digits.windows(2).all(|pair| pair[0] == pair[1]);
                (!repeated).then(|| in_groups_of_four(&compact, separator))
            },
        )
}

/// Valid IBANs: a country, a random BBAN of that country's length, computed check digits.
fn iban() -> impl Strategy<Value = String> {
    let countries = vec![("DE", 18), ("GB", 18), ("FR", 23), ("NL", 14), ("MT", 27)];
    (
        prop::sample::select(countries),
        prop::collection::vec(
            prop::sample::select(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ".to_vec()),
            27,
        ),
        any::<bool>(),
    )
        .prop_map(|((country, length), alphabet_bytes, spaced)| {
            let bban: String = alphabet_bytes
                .iter()
                .take(length)
                .map(|&b| b as char)
                .collect();
            let remainder = iban_mod_97(&format!("{country}00{bban}")).unwrap_or(0);
            let compact = format!("{country}{:02}{bban}", 98 - remainder);
            if spaced {
                in_groups_of_four(&compact, " ")
            } else {
                compact
            }
        })
}

fn email() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9]{0,8}(\\.[a-z0-9]{1,6})?@[a-z][a-z0-9]{1,8}\\.(com|org|io|co\\.uk|de)"
}

fn filler() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "hello",
        "my",
        "order",
        "#12345",
        "2026-09-14",
        "v1.2.3",
        "$19.99",
        "please",
        "refund",
        "card",
        "is",
        "12",
        "at",
        "10:30",
        ":",
        "(",
        ")",
        ",",
        ".",
        "[EMAIL_1]",
        "[CARD_2]",
        "ünïcödé",
        "—",
    ])
    .prop_map(str::to_owned)
}

#[derive(Debug, Clone)]
enum Piece {
    Filler(String),
    Card(String),
    Email(String),
    Iban(String),
}

fn text_with_pii() -> impl Strategy<Value = (String, Vec<String>)> {
    let piece = prop_oneof![
        3 => filler().prop_map(Piece::Filler),
        1 => card_number().prop_map(Piece::Card),
        1 => email().prop_map(Piece::Email),
        1 => iban().prop_map(Piece::Iban),
    ];
    prop::collection::vec(piece, 1..12).prop_map(|pieces| {
        let mut values = Vec::new();
        let words: Vec<String> = pieces
            .into_iter()
            .map(|piece| match piece {
                Piece::Filler(word) => word,
                Piece::Card(value) | Piece::Email(value) | Piece::Iban(value) => {
                    values.push(value.clone());
                    value
                }
            })
            .collect();
        (words.join(" "), values)
    })
}

/// Any text at all: arbitrary strings, strings made of the characters PII is made of, and
/// realistic text with PII in it.
fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[A-Za-z0-9 +@._\\-()\\[\\]#$/:=]{0,80}",
        text_with_pii().prop_map(|(text, _)| text),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn redacted_text_contains_none_of_the_embedded_cards_emails_or_ibans(
        (text, values) in text_with_pii()
    ) {
        let redacted = redact(&text);
        for value in &values {
            prop_assert!(
                !redacted.text.contains(value.as_str()),
                "{value:?} leaked into {:?}", redacted.text
            );
        }
    }

    #[test]
    fn restoring_redacted_text_gives_back_the_input_exactly(text in any_text()) {
        let redacted = redact(&text);
        prop_assert_eq!(restore(&redacted.text, &redacted.entities), text);
    }

    #[test]
    fn digit_strings_failing_luhn_are_never_redacted_as_cards(
        mut digits in prop::collection::vec(0u32..10, 13..=19),
        grouped in any::<bool>(),
    ) {
        if passes_luhn(&digits) {
            if let Some(last) = digits.last_mut() {
                *last = (*last + 1) % 10;
            }
        }
        let compact = digits_to_string(&digits);
        let written = if grouped && digits.len() == 16 {
            in_groups_of_four(&compact, " ")
        } else {
            compact
        };
        let redacted = redact(&format!("my order number is {written} thanks"));
        prop_assert!(
            redacted.entities.iter().all(|entity| entity.kind != PiiKind::CardNumber),
            "{written:?} was redacted as a card: {:?}", redacted.text
        );
    }

    #[test]
    fn redacting_redacted_text_changes_nothing(text in any_text()) {
        let once = redact(&text);
        let twice = redact(&once.text);
        prop_assert_eq!(&twice.text, &once.text);
        prop_assert!(twice.entities.is_empty());
    }
}

#[test]
fn long_adversarial_inputs_are_redacted_without_blowing_up() {
    let inputs = [
        "1 ".repeat(4000),
        "4111 1111 1111 1111 ".repeat(400),
        "a@".repeat(4000),
        "DE89 ".repeat(1600),
        "+1 ".repeat(2600),
        "Ab1".repeat(2600),
    ];
    for input in inputs {
        let redacted = redact(&input);
        assert_eq!(restore(&redacted.text, &redacted.entities), input);
    }
}

#[test]
fn every_built_in_pattern_compiles() {
    for pattern in [
        &PLACEHOLDER,
        &KNOWN_SECRET,
        &LONG_TOKEN,
        &UUID,
        &EMAIL,
        &DIGIT_RUN,
        &DIGIT_GROUP,
        &IBAN,
        &PHONE,
        &DATE,
    ] {
        LazyLock::force(pattern);
    }
}

#[test]
fn country_formats_of_phones_and_national_ids_are_redacted() {
    let text = "Llámame al 612 345 678, mi DNI es 12345678Z. 我的手机 13812345678，身份证 11010519491231002X. \
                Codice fiscale RSSMRA85T10A562S, CPF 111.444.777-35.";
    let redacted = redact(text);
    for value in [
        "612 345 678",
        "12345678Z",
        "13812345678",
        "11010519491231002X",
        "RSSMRA85T10A562S",
        "111.444.777-35",
    ] {
        assert!(
            !redacted.text.contains(value),
            "{value} in {}",
            redacted.text
        );
    }
    assert!(redacted.text.contains("[ID_1]"), "{}", redacted.text);
    assert_eq!(restore(&redacted.text, &redacted.entities), text);
}

#[test]
fn numbers_that_fail_their_country_check_stay() {
    let text = "Pedido 12345678A, referencia 110105194912310021, ticket 123456789.";
    assert_eq!(redact(text).text, text);
}
