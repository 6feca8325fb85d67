//! Small text rules shared by credentials: formats, the Luhn check digit, phone numbers.

use super::TextFormat;

pub fn is_digits(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_digit())
}

/// The digit that makes `digits` + it pass the Luhn check. `digits` must be ASCII digits.
pub fn luhn_check_digit(digits: &str) -> char {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(position, byte)| {
            let digit = u32::from(byte.wrapping_sub(b'0') % 10);
            if position % 2 == 0 {
                let doubled = digit * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                digit
            }
        })
        .sum();
    char::from(b'0' + u8::try_from((10 - sum % 10) % 10).unwrap_or(0))
}

/// Whether the last digit of `value` is the Luhn check digit of the others.
pub fn luhn_is_valid(value: &str) -> bool {
    if value.len() < 2 || !is_digits(value) {
        return false;
    }
    let (body, check) = value.split_at(value.len() - 1);
    check.starts_with(luhn_check_digit(body))
}

/// The phone number with spaces, dashes, dots and parentheses removed, if it is one (R5).
pub fn phone_digits(value: &str) -> Option<String> {
    let stripped: String = value
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect();
    let digits = stripped.strip_prefix('+').unwrap_or(&stripped);
    let is_phone = (7..=15).contains(&digits.len()) && is_digits(digits);
    is_phone.then_some(stripped)
}

/// What is wrong with `value` for `format`, as the end of a sentence, or `None`.
pub fn format_problem(format: TextFormat, value: &str) -> Option<String> {
    if value.chars().any(char::is_control) {
        return Some("must not contain tabs, line breaks or other control characters".to_owned());
    }
    match format {
        TextFormat::FreeText => None,
        TextFormat::Number => (!is_digits(value)).then(|| "must be digits only".to_owned()),
        TextFormat::Phone => phone_digits(value)
            .is_none()
            .then(|| "must be a phone number: an optional +, then 7–15 digits".to_owned()),
        TextFormat::Email => {
            let valid = match value.split_once('@') {
                Some((local, domain)) => {
                    !local.is_empty()
                        && !domain.contains('@')
                        && domain.contains('.')
                        && !domain.starts_with('.')
                        && !domain.ends_with('.')
                        && !value.contains(char::is_whitespace)
                }
                None => false,
            };
            (!valid).then(|| "must be an e-mail address such as name@example.com".to_owned())
        }
    }
}

/// Scientific notation left behind by a spreadsheet, e.g. `1.23E+11` (SPEC §7.1).
pub fn looks_like_spreadsheet_damage(value: &str) -> bool {
    let upper = value.to_ascii_uppercase();
    let Some((mantissa, exponent)) = upper.split_once('E') else {
        return false;
    };
    let exponent = exponent
        .strip_prefix('+')
        .or_else(|| exponent.strip_prefix('-'))
        .unwrap_or(exponent);
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    !whole.is_empty()
        && is_digits(whole)
        && is_digits(fraction)
        && !exponent.is_empty()
        && is_digits(exponent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_known_values() {
        assert_eq!(luhn_check_digit("7992739871"), '3');
        assert!(luhn_is_valid("79927398713"));
        assert!(!luhn_is_valid("79927398714"));
        assert!(luhn_is_valid("4539578763621486"));
        assert!(!luhn_is_valid("12a"));
    }

    #[test]
    fn phone_format_allows_separators_and_a_plus() {
        assert_eq!(
            phone_digits("+1 (555) 010-9999").as_deref(),
            Some("+15550109999")
        );
        assert_eq!(phone_digits("555.0100").as_deref(), Some("5550100"));
        assert!(phone_digits("12345").is_none());
        assert!(phone_digits("call me").is_none());
    }

    #[test]
    fn email_format() {
        assert!(format_problem(TextFormat::Email, "ada@example.com").is_none());
        for bad in [
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a b@example.com",
            "a@b@c.d",
        ] {
            assert!(format_problem(TextFormat::Email, bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn spreadsheet_damage_is_recognised() {
        for damaged in ["1.23E+11", "4.5e7", "1E+15"] {
            assert!(looks_like_spreadsheet_damage(damaged), "{damaged}");
        }
        for fine in ["ABCE12", "E123", "123", "1.5"] {
            assert!(!looks_like_spreadsheet_damage(fine), "{fine}");
        }
    }
}
