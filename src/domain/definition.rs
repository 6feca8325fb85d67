//! Access token definitions: how credentials are typed or generated, and which automations apply (SPEC §4).

use serde::{Deserialize, Serialize};

use super::ValidationError;
use super::random::{self, RandomSourceError};
use super::rules;

/// Which of a token's three credentials a rule is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CredentialKind {
    Identifier,
    PassCode,
    AuthenticationCode,
}

impl CredentialKind {
    /// The name a clerk reads in messages.
    pub fn label(self) -> &'static str {
        match self {
            Self::Identifier => "identifier",
            Self::PassCode => "pass code",
            Self::AuthenticationCode => "authentication code",
        }
    }

    /// The column name in CSV files and the key in JSON.
    pub fn column(self) -> &'static str {
        match self {
            Self::Identifier => "identifier",
            Self::PassCode => "pass_code",
            Self::AuthenticationCode => "authentication_code",
        }
    }
}

/// How a credential comes to be.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GenerationMethod {
    /// Typed by the clerk.
    #[default]
    None,
    /// The next value of a per-definition counter, zero-padded to `length`.
    Sequence,
    /// `length` characters drawn from the operating system's secure random source.
    Random,
}

/// The characters a random credential is drawn from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Alphabet {
    Digits,
    /// No 0/O and no 1/I/L, so a code read over the phone is not misheard.
    #[default]
    Unambiguous,
    Alphanumeric,
    Custom(String),
}

impl Alphabet {
    /// The characters, without repeats, in a stable order.
    pub fn characters(&self) -> Vec<char> {
        let text = match self {
            Self::Digits => "0123456789",
            Self::Unambiguous => "23456789ABCDEFGHJKMNPQRSTUVWXYZ",
            Self::Alphanumeric => "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
            Self::Custom(text) => text.as_str(),
        };
        let mut seen = Vec::new();
        for ch in text.chars() {
            if !seen.contains(&ch) {
                seen.push(ch);
            }
        }
        seen
    }

    pub fn label(&self) -> String {
        match self {
            Self::Digits => "digits".to_owned(),
            Self::Unambiguous => "unambiguous letters and digits".to_owned(),
            Self::Alphanumeric => "letters and digits".to_owned(),
            Self::Custom(text) => format!("the characters {text}"),
        }
    }
}

/// An optional check digit appended to generated values and verified on typed ones.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckDigit {
    #[default]
    None,
    Luhn,
}

/// What a typed credential must look like.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextFormat {
    #[default]
    FreeText,
    Email,
    /// An optional leading `+`, then 7–15 digits once spaces, dashes, dots and parentheses are removed.
    Phone,
    /// Digits only.
    Number,
}

impl TextFormat {
    pub fn label(self) -> &'static str {
        match self {
            Self::FreeText => "free text",
            Self::Email => "an e-mail address",
            Self::Phone => "a phone number",
            Self::Number => "digits only",
        }
    }
}

/// The rule for one credential (SPEC §4.1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CredentialRule {
    pub method: GenerationMethod,
    pub alphabet: Alphabet,
    pub prefix: String,
    /// Generated characters, not counting the prefix or the check digit.
    pub length: u32,
    pub check_digit: CheckDigit,
    pub format: TextFormat,
    pub min_length: u32,
    pub max_length: u32,
    pub min_letters: u32,
    pub min_digits: u32,
    pub min_other: u32,
}

impl Default for CredentialRule {
    fn default() -> Self {
        Self {
            method: GenerationMethod::None,
            alphabet: Alphabet::Unambiguous,
            prefix: String::new(),
            length: 12,
            check_digit: CheckDigit::None,
            format: TextFormat::FreeText,
            min_length: 1,
            max_length: 64,
            min_letters: 0,
            min_digits: 0,
            min_other: 0,
        }
    }
}

/// Why a credential could not be generated.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GenerationError {
    #[error(
        "the {kind} sequence is used up: every {length}-digit value has been issued; lengthen the code"
    )]
    SequenceExhausted { kind: &'static str, length: u32 },
    #[error(
        "no {kind} satisfying its own minimums could be generated; check the definition's rule"
    )]
    MinimumsUnreachable { kind: &'static str },
    #[error(transparent)]
    Random(#[from] RandomSourceError),
}

impl CredentialRule {
    /// A rule for a credential typed by the clerk.
    pub fn typed(format: TextFormat, min_length: u32, max_length: u32) -> Self {
        Self {
            format,
            min_length,
            max_length,
            ..Self::default()
        }
    }

    /// A rule for a random credential.
    pub fn random(alphabet: Alphabet, length: u32) -> Self {
        Self {
            method: GenerationMethod::Random,
            alphabet,
            length,
            ..Self::default()
        }
    }

    pub fn is_generated(&self) -> bool {
        self.method != GenerationMethod::None
    }

    /// Length of every generated value: prefix, generated characters and check digit.
    pub fn generated_length(&self) -> u32 {
        let prefix = u32::try_from(self.prefix.chars().count()).unwrap_or(u32::MAX);
        let check = u32::from(self.check_digit == CheckDigit::Luhn);
        prefix.saturating_add(self.length).saturating_add(check)
    }

    /// Checks that the rule itself makes sense, before a definition holding it is saved.
    pub fn check(&self, kind: CredentialKind) -> Result<(), ValidationError> {
        let field = format!("{} rule", kind.label());
        let problem = |text: String| Err(ValidationError::new(field.clone(), text));
        if self.min_length == 0 || self.min_length > self.max_length {
            return problem(format!(
                "needs a minimum length of at least 1 and no more than its maximum ({})",
                self.max_length
            ));
        }
        if self.max_length > 256 {
            return problem("allows at most 256 characters".to_owned());
        }
        if self.min_letters + self.min_digits + self.min_other > self.max_length {
            return problem(
                "asks for more letters, digits and other characters than its maximum length"
                    .to_owned(),
            );
        }
        if self.prefix.chars().any(char::is_control) || self.prefix != self.prefix.trim() {
            return problem(
                "has a prefix with spaces or control characters at its ends".to_owned(),
            );
        }
        if !self.is_generated() {
            return Ok(());
        }
        if self.length == 0 || self.length > 128 {
            return problem("needs a generated length between 1 and 128".to_owned());
        }
        let total = self.generated_length();
        if total < self.min_length || total > self.max_length {
            return problem(format!(
                "generates {total} characters, outside its own {}–{} length",
                self.min_length, self.max_length
            ));
        }
        let characters = self.alphabet.characters();
        if self.method == GenerationMethod::Random {
            if characters.len() < 2 {
                return problem("needs an alphabet of at least 2 different characters".to_owned());
            }
            if characters
                .iter()
                .any(|ch| ch.is_whitespace() || ch.is_control())
            {
                return problem("has spaces or control characters in its alphabet".to_owned());
            }
        }
        let digits_only = self.method == GenerationMethod::Sequence
            || characters.iter().all(char::is_ascii_digit);
        if self.check_digit == CheckDigit::Luhn && !(digits_only && rules::is_digits(&self.prefix))
        {
            return problem(
                "can have a Luhn check digit only when prefix and alphabet are digits".to_owned(),
            );
        }
        if self.method == GenerationMethod::Random {
            let pool = |test: fn(&char) -> bool| characters.iter().any(test);
            let unreachable = (self.min_letters > 0 && !pool(|c| c.is_alphabetic()))
                || (self.min_digits > 0 && !pool(char::is_ascii_digit))
                || (self.min_other > 0 && !pool(|c| !c.is_alphanumeric()))
                || self.min_letters + self.min_digits + self.min_other > self.length;
            if unreachable {
                return problem(
                    "asks for character classes its alphabet or length cannot provide".to_owned(),
                );
            }
        } else if self.min_letters > 0 || self.min_other > 0 {
            return problem(
                "generates digits only, so it cannot require letters or other characters"
                    .to_owned(),
            );
        }
        Ok(())
    }

    /// Checks a value the clerk typed (R6): generated credentials cannot be typed.
    pub fn validate_typed(&self, kind: CredentialKind, value: &str) -> Result<(), ValidationError> {
        let fail = |problem: String| Err(ValidationError::new(kind.label(), problem));
        if self.is_generated() {
            return fail("is generated on save; leave it empty".to_owned());
        }
        let length = u32::try_from(value.chars().count()).unwrap_or(u32::MAX);
        if length < self.min_length || length > self.max_length {
            return fail(if self.min_length == self.max_length {
                format!("must be exactly {} characters long", self.min_length)
            } else {
                format!(
                    "must be {}–{} characters long",
                    self.min_length, self.max_length
                )
            });
        }
        if let Some(problem) = rules::format_problem(self.format, value) {
            return fail(problem);
        }
        let count = |test: fn(char) -> bool| {
            u32::try_from(value.chars().filter(|&c| test(c)).count()).unwrap_or(0)
        };
        let checks = [
            (self.min_letters, count(char::is_alphabetic), "letter"),
            (self.min_digits, count(|c| c.is_ascii_digit()), "digit"),
            (
                self.min_other,
                count(|c| !c.is_alphanumeric()),
                "character that is neither letter nor digit",
            ),
        ];
        for (minimum, found, what) in checks {
            if found < minimum {
                let plural = if minimum == 1 { "" } else { "s" };
                return fail(format!("must contain at least {minimum} {what}{plural}"));
            }
        }
        if self.check_digit == CheckDigit::Luhn && !rules::luhn_is_valid(value) {
            return fail("has a wrong check digit; check it was copied correctly".to_owned());
        }
        Ok(())
    }

    /// Generates a value. `sequence_value` is the counter's next value (used by `Sequence` only).
    pub fn generate(
        &self,
        kind: CredentialKind,
        sequence_value: u64,
    ) -> Result<String, GenerationError> {
        match self.method {
            GenerationMethod::None | GenerationMethod::Sequence => {
                let width = self.length as usize;
                let body = format!("{sequence_value:0width$}");
                if body.len() > width {
                    return Err(GenerationError::SequenceExhausted {
                        kind: kind.label(),
                        length: self.length,
                    });
                }
                Ok(self.finish(body))
            }
            GenerationMethod::Random => {
                let characters = self.alphabet.characters();
                for _ in 0..1000 {
                    let body: String = random::indices(characters.len(), self.length as usize)?
                        .into_iter()
                        .map(|index| characters[index])
                        .collect();
                    let value = self.finish(body);
                    if self.meets_minimums(&value) {
                        return Ok(value);
                    }
                }
                Err(GenerationError::MinimumsUnreachable { kind: kind.label() })
            }
        }
    }

    fn finish(&self, body: String) -> String {
        let mut value = format!("{}{body}", self.prefix);
        if self.check_digit == CheckDigit::Luhn {
            value.push(rules::luhn_check_digit(&value));
        }
        value
    }

    fn meets_minimums(&self, value: &str) -> bool {
        let letters = value.chars().filter(|c| c.is_alphabetic()).count();
        let digits = value.chars().filter(char::is_ascii_digit).count();
        let other = value.chars().filter(|c| !c.is_alphanumeric()).count();
        letters >= self.min_letters as usize
            && digits >= self.min_digits as usize
            && other >= self.min_other as usize
    }

    /// How many different values the rule can generate, or `None` for typed credentials.
    pub fn capacity(&self) -> Option<f64> {
        let length = f64::from(self.length);
        match self.method {
            GenerationMethod::None => None,
            GenerationMethod::Sequence => Some(10f64.powf(length)),
            GenerationMethod::Random => {
                Some((self.alphabet.characters().len() as f64).powf(length))
            }
        }
    }

    /// One line for tooltips and `definition show`.
    pub fn describe(&self) -> String {
        let luhn = if self.check_digit == CheckDigit::Luhn {
            ", plus a Luhn check digit"
        } else {
            ""
        };
        let prefix = if self.prefix.is_empty() {
            String::new()
        } else {
            format!(" after the prefix {}", self.prefix)
        };
        match self.method {
            GenerationMethod::None => {
                let mut text = format!(
                    "Typed by the clerk: {}, {}–{} characters",
                    self.format.label(),
                    self.min_length,
                    self.max_length
                );
                for (minimum, what) in [
                    (self.min_letters, "letters"),
                    (self.min_digits, "digits"),
                    (self.min_other, "other characters"),
                ] {
                    if minimum > 0 {
                        text.push_str(&format!(", at least {minimum} {what}"));
                    }
                }
                if self.check_digit == CheckDigit::Luhn {
                    text.push_str(", ending in a Luhn check digit");
                }
                text
            }
            GenerationMethod::Sequence => {
                format!(
                    "Generated on save: the next number, {} digits{prefix}{luhn}",
                    self.length
                )
            }
            GenerationMethod::Random => format!(
                "Generated on save: {} random characters from {}{prefix}{luhn}",
                self.length,
                self.alphabet.label()
            ),
        }
    }
}

/// Owner settings for participants or for accounts (SPEC §4.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OwnerSettings {
    pub allow_create: bool,
    pub require_at_least_one: bool,
    /// 0 means no limit.
    pub max_tokens: u32,
}

impl Default for OwnerSettings {
    fn default() -> Self {
        Self {
            allow_create: true,
            require_at_least_one: false,
            max_tokens: 0,
        }
    }
}

/// Verification of new tokens (SPEC §6, R52).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct VerificationSettings {
    pub required: bool,
    pub code_length: u32,
    pub valid_hours: u32,
}

impl Default for VerificationSettings {
    fn default() -> Self {
        Self {
            required: false,
            code_length: 6,
            valid_hours: 72,
        }
    }
}

/// Every setting of a definition apart from its name, code and description.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DefinitionSettings {
    pub identifier: CredentialRule,
    pub pass_code: CredentialRule,
    pub authentication_code: CredentialRule,
    /// R3.
    pub allow_without_identifier_and_pass_code: bool,
    /// R24.
    pub deactivate_on_last_unlink: bool,
    pub participants: OwnerSettings,
    pub accounts: OwnerSettings,
    pub verification: VerificationSettings,
    /// Failed attempts that lock a token; 0 means never (R51).
    pub lockout_threshold: u32,
}

impl Default for DefinitionSettings {
    /// The settings of the `Standard` definition every new database starts with (R13).
    fn default() -> Self {
        Self {
            identifier: CredentialRule::typed(TextFormat::FreeText, 3, 64),
            pass_code: CredentialRule::typed(TextFormat::Number, 4, 12),
            authentication_code: CredentialRule::random(Alphabet::Unambiguous, 12),
            allow_without_identifier_and_pass_code: true,
            deactivate_on_last_unlink: true,
            participants: OwnerSettings::default(),
            accounts: OwnerSettings::default(),
            verification: VerificationSettings::default(),
            lockout_threshold: 5,
        }
    }
}

impl DefinitionSettings {
    pub fn rule(&self, kind: CredentialKind) -> &CredentialRule {
        match kind {
            CredentialKind::Identifier => &self.identifier,
            CredentialKind::PassCode => &self.pass_code,
            CredentialKind::AuthenticationCode => &self.authentication_code,
        }
    }

    pub fn owner_settings(&self, kind: super::OwnerKind) -> &OwnerSettings {
        match kind {
            super::OwnerKind::Participant => &self.participants,
            super::OwnerKind::Account => &self.accounts,
        }
    }

    /// Checks every rule before the definition is saved.
    pub fn check(&self) -> Result<(), ValidationError> {
        for kind in [
            CredentialKind::Identifier,
            CredentialKind::PassCode,
            CredentialKind::AuthenticationCode,
        ] {
            self.rule(kind).check(kind)?;
        }
        if self.identifier.is_generated()
            && !self.pass_code.is_generated()
            && self.allow_without_identifier_and_pass_code
        {
            // Allowed: the identifier is generated whenever a pass code is typed.
        }
        if self.verification.required && !(4..=12).contains(&self.verification.code_length) {
            return Err(ValidationError::new(
                "verification code",
                "must be 4–12 digits long",
            ));
        }
        if self.verification.required && self.verification.valid_hours == 0 {
            return Err(ValidationError::new(
                "verification code",
                "must stay valid for at least 1 hour",
            ));
        }
        Ok(())
    }
}

/// Default alternative code for a definition name: the upper-cased initials (`Gold Card` → `GC`).
pub fn default_code(name: &str) -> String {
    name.split_whitespace()
        .filter_map(|word| word.chars().next())
        .flat_map(char::to_uppercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_rule_kind() -> CredentialKind {
        CredentialKind::AuthenticationCode
    }

    #[test]
    fn r13_standard_settings() {
        let standard = DefinitionSettings::default();
        assert_eq!(standard.identifier.min_length, 3);
        assert_eq!(standard.pass_code.format, TextFormat::Number);
        assert_eq!(
            (standard.pass_code.min_length, standard.pass_code.max_length),
            (4, 12)
        );
        assert_eq!(
            standard.authentication_code.method,
            GenerationMethod::Random
        );
        assert_eq!(standard.authentication_code.length, 12);
        assert!(standard.allow_without_identifier_and_pass_code);
        assert!(standard.deactivate_on_last_unlink);
        assert!(!standard.verification.required);
        assert_eq!(standard.lockout_threshold, 5);
        assert!(standard.check().is_ok());
    }

    #[test]
    fn r6_generated_credentials_cannot_be_typed() {
        let rule = CredentialRule::random(Alphabet::Digits, 8);
        let err = rule
            .validate_typed(check_rule_kind(), "12345678")
            .unwrap_err();
        assert!(err.to_string().contains("generated on save"), "{err}");
    }

    #[test]
    fn typed_rules_name_what_is_wrong() {
        let pin = CredentialRule::typed(TextFormat::Number, 4, 12);
        let kind = CredentialKind::PassCode;
        assert!(pin.validate_typed(kind, "1234").is_ok());
        assert_eq!(
            pin.validate_typed(kind, "123").unwrap_err().to_string(),
            "pass code must be 4–12 characters long"
        );
        assert_eq!(
            pin.validate_typed(kind, "12a4").unwrap_err().to_string(),
            "pass code must be digits only"
        );
        let strong = CredentialRule {
            min_letters: 1,
            min_digits: 2,
            min_other: 1,
            ..CredentialRule::typed(TextFormat::FreeText, 8, 64)
        };
        assert!(
            strong
                .validate_typed(kind, "abcdefgh")
                .unwrap_err()
                .to_string()
                .contains("at least 2 digits")
        );
        assert!(
            strong
                .validate_typed(kind, "12345678")
                .unwrap_err()
                .to_string()
                .contains("at least 1 letter")
        );
        assert!(
            strong
                .validate_typed(kind, "abc12defg")
                .unwrap_err()
                .to_string()
                .contains("neither letter nor digit")
        );
        assert!(strong.validate_typed(kind, "abc12de!").is_ok());
    }

    #[test]
    fn typed_luhn_codes_are_verified() {
        let rule = CredentialRule {
            check_digit: CheckDigit::Luhn,
            ..CredentialRule::typed(TextFormat::Number, 2, 20)
        };
        assert!(
            rule.validate_typed(check_rule_kind(), "79927398713")
                .is_ok()
        );
        assert!(
            rule.validate_typed(check_rule_kind(), "79927398710")
                .unwrap_err()
                .to_string()
                .contains("check digit")
        );
    }

    #[test]
    fn sequences_are_zero_padded_prefixed_and_never_repeat() {
        let rule = CredentialRule {
            method: GenerationMethod::Sequence,
            prefix: "77".to_owned(),
            length: 6,
            check_digit: CheckDigit::Luhn,
            ..CredentialRule::default()
        };
        assert!(rule.check(check_rule_kind()).is_ok());
        let values: Vec<String> = (1..=500)
            .map(|n| rule.generate(check_rule_kind(), n).unwrap())
            .collect();
        assert_eq!(values[0].len(), 9);
        assert!(values[0].starts_with("77000001"));
        assert!(values.iter().all(|v| rules::luhn_is_valid(v)));
        let mut unique = values.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), values.len());
    }

    #[test]
    fn exhausted_sequence_fails_clearly() {
        let rule = CredentialRule {
            method: GenerationMethod::Sequence,
            length: 2,
            max_length: 64,
            ..CredentialRule::default()
        };
        let err = rule.generate(check_rule_kind(), 100).unwrap_err();
        assert!(err.to_string().contains("used up"), "{err}");
    }

    #[test]
    fn luhn_needs_a_digit_alphabet() {
        let rule = CredentialRule {
            check_digit: CheckDigit::Luhn,
            ..CredentialRule::random(Alphabet::Unambiguous, 8)
        };
        assert!(
            rule.check(check_rule_kind())
                .unwrap_err()
                .to_string()
                .contains("Luhn")
        );
    }

    #[test]
    fn generated_length_must_fit_the_rule_length() {
        let rule = CredentialRule {
            max_length: 10,
            ..CredentialRule::random(Alphabet::Digits, 12)
        };
        assert!(rule.check(check_rule_kind()).is_err());
    }

    #[test]
    fn capacity_of_random_and_sequence_rules() {
        assert_eq!(
            CredentialRule::random(Alphabet::Digits, 4).capacity(),
            Some(10_000.0)
        );
        assert_eq!(
            CredentialRule::typed(TextFormat::FreeText, 1, 64).capacity(),
            None
        );
    }

    #[test]
    fn default_code_is_the_initials() {
        assert_eq!(default_code("Gold card members"), "GCM");
        assert_eq!(default_code("standard"), "S");
    }

    #[test]
    fn settings_round_trip_through_json_and_fill_defaults() {
        let settings = DefinitionSettings::default();
        let json = serde_json::to_string(&settings).unwrap();
        assert_eq!(
            serde_json::from_str::<DefinitionSettings>(&json).unwrap(),
            settings
        );
        let partial: DefinitionSettings = serde_json::from_str(r#"{"lockout_threshold": 3, "authentication_code": {"method": "random", "alphabet": {"custom": "ABC"}, "length": 9}}"#).unwrap();
        assert_eq!(partial.lockout_threshold, 3);
        assert_eq!(
            partial.authentication_code.alphabet,
            Alphabet::Custom("ABC".to_owned())
        );
        assert_eq!(partial.pass_code, DefinitionSettings::default().pass_code);
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    fn alphabet() -> impl Strategy<Value = Alphabet> {
        prop_oneof![
            Just(Alphabet::Digits),
            Just(Alphabet::Unambiguous),
            Just(Alphabet::Alphanumeric),
            "[A-Za-z0-9#%&*]{2,12}".prop_map(Alphabet::Custom),
        ]
    }

    proptest! {
        /// Whatever a valid random rule generates satisfies that rule when checked as typed text.
        #[test]
        fn generated_values_satisfy_their_rule(
            alphabet in alphabet(),
            length in 1u32..24,
            prefix in "[0-9]{0,3}",
            luhn in any::<bool>(),
            min_digits in 0u32..3,
        ) {
            let check_digit = if luhn { CheckDigit::Luhn } else { CheckDigit::None };
            let rule = CredentialRule { prefix, check_digit, min_digits, ..CredentialRule::random(alphabet, length) };
            prop_assume!(rule.check(CredentialKind::AuthenticationCode).is_ok());
            let value = rule.generate(CredentialKind::AuthenticationCode, 0).unwrap();
            prop_assert_eq!(value.chars().count() as u32, rule.generated_length());
            let as_typed = CredentialRule { method: GenerationMethod::None, ..rule.clone() };
            prop_assert!(as_typed.validate_typed(CredentialKind::AuthenticationCode, &value).is_ok(), "{}", value);
            let characters = rule.alphabet.characters();
            let body: String = value.chars().skip(rule.prefix.chars().count()).take(length as usize).collect();
            prop_assert!(body.chars().all(|c| characters.contains(&c)));
        }

        /// Sequences are zero-padded, carry a valid check digit and never repeat.
        #[test]
        fn sequence_values_are_distinct_and_valid(start in 1u64..1_000_000, length in 7u32..10) {
            let rule = CredentialRule { method: GenerationMethod::Sequence, length, check_digit: CheckDigit::Luhn, ..CredentialRule::default() };
            let first = rule.generate(CredentialKind::AuthenticationCode, start).unwrap();
            let second = rule.generate(CredentialKind::AuthenticationCode, start + 1).unwrap();
            prop_assert_ne!(&first, &second);
            prop_assert!(rules::luhn_is_valid(&first) && rules::luhn_is_valid(&second));
            prop_assert_eq!(first.len() as u32, length + 1);
        }
    }
}
