//! Rules about token credentials that do not depend on a definition: normalisation for uniqueness.

use super::rules;

/// An authentication code as stored and compared: surrounding spaces trimmed (R4).
pub fn normalize_auth_code(typed: &str) -> String {
    typed.trim().to_owned()
}

/// The key identifiers are compared by (R5): trimmed and lower-cased; phone numbers also lose
/// spaces, dashes, dots and parentheses (a leading `+` is kept).
///
/// Whether a value is a phone number is decided from the value itself, not from the definition,
/// so that tokens of different definitions compare the same way.
pub fn identifier_key(identifier: &str) -> String {
    let trimmed = identifier.trim();
    match rules::phone_digits(trimmed) {
        Some(phone) => phone,
        None => trimmed.to_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r4_auth_codes_are_trimmed_but_case_sensitive() {
        assert_eq!(normalize_auth_code("  AbC1 "), "AbC1");
    }

    #[test]
    fn r5_identifiers_compare_case_and_space_insensitively() {
        assert_eq!(
            identifier_key("  Ada@Example.COM "),
            identifier_key("ada@example.com")
        );
        assert_eq!(
            identifier_key("+1 (555) 010-9999"),
            identifier_key("+1.555.010.9999")
        );
        assert_ne!(
            identifier_key("+15550109999"),
            identifier_key("15550109999")
        );
    }

    #[test]
    fn r5_identifier_key_is_idempotent() {
        for value in ["  Ada ", "+1 555 0100 999", "ÄBC", "x"] {
            let once = identifier_key(value);
            assert_eq!(identifier_key(&once), once);
        }
    }

    proptest::proptest! {
        /// R5: normalising twice changes nothing, and case or surrounding spaces never matter.
        #[test]
        fn identifier_key_is_idempotent_for_any_text(text in "\\PC{0,40}") {
            let once = identifier_key(&text);
            proptest::prop_assert_eq!(identifier_key(&once), once.clone());
            proptest::prop_assert_eq!(identifier_key(&format!("  {} ", text.to_uppercase())), identifier_key(&text.to_uppercase()));
        }
    }
}
