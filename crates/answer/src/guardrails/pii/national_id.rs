//! National identity and tax numbers whose format differs by country. Each is confirmed by its
//! country's check digit or check letter; formats whose check passes too often by chance (a
//! plain 9-digit number with a mod-11 digit) count only next to the number's name ("BSN",
//! "NIF").
//!
//! | country | number | check |
//! | --- | --- | --- |
//! | Spain | DNI `12345678Z`, NIE `X1234567L` | letter = table[n mod 23] |
//! | Italy | codice fiscale `RSSMRA85T10A562S` | odd/even table, mod 26 |
//! | France | NIR `1 85 05 78 006 084 91` | key = 97 − (n mod 97) |
//! | Brazil | CPF `123.456.789-09` | two mod-11 digits |
//! | China | resident ID `11010519491231002X` | ISO 7064 MOD 11-2, birth date |
//! | United States | SSN `123-45-6789` | dashed format, no 000/666/9xx area |
//! | United Kingdom | National Insurance `AB 12 34 56 C` | prefix and suffix letters |
//! | Netherlands | BSN (named) | 11-proef |
//! | Portugal | NIF (named) | mod 11 |

use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

use super::{char_after, char_before, is_word_char};
use crate::guardrails::text::fixed_regex;

/// Candidates, one alternative per written format (longest first); the check decides.
pub(super) static NATIONAL_ID: LazyLock<Regex> = LazyLock::new(|| {
    fixed_regex(
        r"(?x)
          \b[0-9]{17}[0-9Xx]\b
        | \b[A-Za-z]{6}[0-9LMNP-Vlmnp-v]{2}[A-Za-z][0-9LMNP-Vlmnp-v]{2}[A-Za-z][0-9LMNP-Vlmnp-v]{3}[A-Za-z]\b
        | \b[12](?:\ ?[0-9]){14}\b
        | \b[0-9]{3}\.[0-9]{3}\.[0-9]{3}-[0-9]{2}\b
        | \b[0-9]{3}-[0-9]{2}-[0-9]{4}\b
        | \b[A-Za-z]{2}\ ?[0-9]{2}\ ?[0-9]{2}\ ?[0-9]{2}\ ?[A-Da-d]\b
        | \b[XYZxyz]?[0-9]{7,8}-?[A-Za-z]\b
        | \b[0-9]{9}\b
        ",
    )
});

pub(super) fn confirm_national_id(
    text: &str,
    range: Range<usize>,
    confirmed: &mut Vec<Range<usize>>,
) {
    if char_before(text, range.start).is_some_and(is_word_char)
        || char_after(text, range.end).is_some_and(is_word_char)
    {
        return;
    }
    if is_national_id(&text[range.clone()], &text[..range.start]) {
        confirmed.push(range);
    }
}

fn is_national_id(written: &str, context_before: &str) -> bool {
    let compact: String = written
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    spanish_dni_or_nie(&compact)
        || italian_codice_fiscale(&compact)
        || french_nir(&compact)
        || brazilian_cpf(written, &compact)
        || chinese_resident_id(&compact)
        || us_ssn(written)
        || uk_national_insurance(&compact)
        || (named(context_before, &["bsn", "burgerservicenummer"]) && dutch_bsn(&compact))
        || (named(context_before, &["nif", "contribuinte"]) && portuguese_nif(&compact))
}

/// The number's name in the few words before it.
fn named(context_before: &str, names: &[&str]) -> bool {
    let tail: String = context_before
        .chars()
        .rev()
        .take(40)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<String>()
        .to_lowercase();
    names.iter().any(|name| tail.contains(name))
}

fn digits(compact: &str) -> Option<Vec<u32>> {
    compact.chars().map(|c| c.to_digit(10)).collect()
}

fn spanish_dni_or_nie(compact: &str) -> bool {
    const LETTERS: &[u8; 23] = b"TRWAGMYFPDXBNJZSQVHLCKE";
    if compact.len() != 9 {
        return false;
    }
    let (body, letter) = compact.split_at(8);
    let number = match body.as_bytes()[0] {
        b'X' => format!("0{}", &body[1..]),
        b'Y' => format!("1{}", &body[1..]),
        b'Z' => format!("2{}", &body[1..]),
        _ => body.to_string(),
    };
    let Ok(value) = number.parse::<u32>() else {
        return false;
    };
    letter.as_bytes()[0] == LETTERS[(value % 23) as usize]
}

fn italian_codice_fiscale(compact: &str) -> bool {
    const ODD: [u32; 36] = [
        1, 0, 5, 7, 9, 13, 15, 17, 19, 21, // 0-9
        1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24,
        23, // A-Z
    ];
    let bytes = compact.as_bytes();
    if bytes.len() != 16 {
        return false;
    }
    let shape = bytes.iter().enumerate().all(|(index, byte)| match index {
        0..=5 | 8 | 11 | 15 => byte.is_ascii_uppercase(),
        // Digits, or the letters that replace them for homonyms (omocodia).
        _ => byte.is_ascii_digit() || b"LMNPQRSTUV".contains(byte),
    });
    if !shape {
        return false;
    }
    let value = |byte: u8| -> usize {
        if byte.is_ascii_digit() {
            usize::from(byte - b'0')
        } else {
            usize::from(byte - b'A') + 10
        }
    };
    let sum: u32 = bytes[..15]
        .iter()
        .enumerate()
        .map(|(index, &byte)| {
            if index % 2 == 0 {
                ODD[value(byte)]
            } else if byte.is_ascii_digit() {
                u32::from(byte - b'0')
            } else {
                u32::from(byte - b'A')
            }
        })
        .sum();
    u32::from(bytes[15] - b'A') == sum % 26
}

fn french_nir(compact: &str) -> bool {
    let Some(d) = digits(compact) else {
        return false;
    };
    if d.len() != 15 || !matches!(d[0], 1 | 2) {
        return false;
    }
    let body = d[..13]
        .iter()
        .fold(0u64, |n, &digit| n * 10 + u64::from(digit));
    let key = u64::from(d[13] * 10 + d[14]);
    key == 97 - body % 97
}

fn brazilian_cpf(written: &str, compact: &str) -> bool {
    // Unformatted 11-digit runs are phone numbers as often as CPFs: only the written format.
    static CPF: LazyLock<Regex> =
        LazyLock::new(|| fixed_regex(r"^[0-9]{3}\.[0-9]{3}\.[0-9]{3}-[0-9]{2}$"));
    if !CPF.is_match(written) {
        return false;
    }
    let Some(d) = digits(compact) else {
        return false;
    };
    if d.iter().all(|&digit| digit == d[0]) {
        return false;
    }
    let check = |length: usize| -> u32 {
        let sum: u32 = d[..length]
            .iter()
            .enumerate()
            .map(|(index, &digit)| digit * (length as u32 + 1 - index as u32))
            .sum();
        match (sum * 10) % 11 {
            10 => 0,
            rest => rest,
        }
    };
    check(9) == d[9] && check(10) == d[10]
}

fn chinese_resident_id(compact: &str) -> bool {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    if compact.len() != 18 {
        return false;
    }
    let Some(d) = digits(&compact[..17]) else {
        return false;
    };
    let year = d[6] * 1000 + d[7] * 100 + d[8] * 10 + d[9];
    let month = d[10] * 10 + d[11];
    let day = d[12] * 10 + d[13];
    if !(1900..=2100).contains(&year) || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return false;
    }
    let sum: u32 = d
        .iter()
        .zip(WEIGHTS)
        .map(|(digit, weight)| digit * weight)
        .sum();
    compact.as_bytes()[17] == CHECK[(sum % 11) as usize]
}

fn us_ssn(written: &str) -> bool {
    static SSN: LazyLock<Regex> =
        LazyLock::new(|| fixed_regex(r"^([0-9]{3})-([0-9]{2})-([0-9]{4})$"));
    let Some(groups) = SSN.captures(written) else {
        return false;
    };
    let area = &groups[1];
    area != "000"
        && area != "666"
        && !area.starts_with('9')
        && &groups[2] != "00"
        && &groups[3] != "0000"
}

fn uk_national_insurance(compact: &str) -> bool {
    static NINO: LazyLock<Regex> =
        LazyLock::new(|| fixed_regex(r"^[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z][0-9]{6}[A-D]$"));
    NINO.is_match(compact)
        && !matches!(
            &compact[..2],
            "BG" | "GB" | "NK" | "KN" | "TN" | "NT" | "ZZ"
        )
}

fn dutch_bsn(compact: &str) -> bool {
    let Some(d) = digits(compact) else {
        return false;
    };
    if d.len() != 9 {
        return false;
    }
    let sum: i64 = d[..8]
        .iter()
        .enumerate()
        .map(|(index, &digit)| i64::from(digit) * (9 - index as i64))
        .sum::<i64>()
        - i64::from(d[8]);
    sum % 11 == 0 && sum != 0
}

fn portuguese_nif(compact: &str) -> bool {
    let Some(d) = digits(compact) else {
        return false;
    };
    if d.len() != 9 || !matches!(d[0], 1 | 2 | 3 | 5 | 6 | 8 | 9) {
        return false;
    }
    let sum: u32 = d[..8]
        .iter()
        .enumerate()
        .map(|(index, &digit)| digit * (9 - index as u32))
        .sum();
    let check = match 11 - sum % 11 {
        10 | 11 => 0,
        rest => rest,
    };
    check == d[8]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_numbers_of_each_country_pass_their_check() {
        for (written, context) in [
            ("12345678Z", ""),
            ("X1234567L", ""),
            ("RSSMRA85T10A562S", ""),
            ("1 85 05 78 006 084 91", ""),
            ("111.444.777-35", ""),
            ("11010519491231002X", ""),
            ("123-45-6789", ""),
            ("AB 12 34 56 C", ""),
            ("111222333", "mijn BSN is "),
            ("123456789", "o meu NIF é "),
        ] {
            assert!(is_national_id(written, context), "{written}");
        }
    }

    #[test]
    fn a_wrong_check_digit_or_a_missing_name_is_not_an_id() {
        for (written, context) in [
            ("12345678A", ""),
            ("RSSMRA85T10A562T", ""),
            ("1 85 05 78 006 084 92", ""),
            ("111.444.777-36", ""),
            ("11010519491231002", ""),
            ("110105194913310021", ""),
            ("666-45-6789", ""),
            ("111222333", "order number "),
            ("123456789", ""),
        ] {
            assert!(!is_national_id(written, context), "{written}");
        }
    }
}
