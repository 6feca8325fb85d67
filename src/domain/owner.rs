//! Owners of tokens: rewards participants and accounts receivable (SPEC §2, §6).

use serde::{Deserialize, Serialize};

/// The two kinds of owner a token can be linked to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OwnerKind {
    Participant,
    Account,
}

impl OwnerKind {
    pub fn label(self) -> &'static str {
        match self {
            Self::Participant => "participant",
            Self::Account => "account",
        }
    }
}

/// State of a rewards participant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParticipantState {
    Effective,
    Terminated,
}

/// State of an account receivable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountState {
    Active,
    Suspended,
    Terminated,
}

macro_rules! snake_names {
    ($ty:ty { $($variant:ident => $name:literal / $label:literal),* $(,)? }) => {
        impl $ty {
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $name),* }
            }
            pub fn label(self) -> &'static str {
                match self { $(Self::$variant => $label),* }
            }
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($name => Some(Self::$variant),)* _ => None }
            }
        }
    };
}

snake_names!(ParticipantState { Effective => "effective" / "Effective", Terminated => "terminated" / "Terminated" });
snake_names!(AccountState {
    Active => "active" / "Active",
    Suspended => "suspended" / "Suspended",
    Terminated => "terminated" / "Terminated",
});

/// A name for a participant or account: trimmed, not empty, at most 200 characters.
pub fn parse_name(typed: &str) -> Result<String, super::ValidationError> {
    let name = typed.trim();
    if name.is_empty() {
        return Err(super::ValidationError::new("name", "must not be empty"));
    }
    if name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(super::ValidationError::new(
            "name",
            "must be at most 200 characters on one line",
        ));
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_required() {
        assert_eq!(parse_name("  Ada ").unwrap(), "Ada");
        assert!(parse_name("  ").is_err());
        assert!(parse_name("a\nb").is_err());
    }

    #[test]
    fn states_round_trip() {
        assert_eq!(
            AccountState::parse(AccountState::Suspended.as_str()),
            Some(AccountState::Suspended)
        );
        assert_eq!(
            ParticipantState::parse("terminated"),
            Some(ParticipantState::Terminated)
        );
        assert_eq!(AccountState::parse("closed"), None);
    }
}
