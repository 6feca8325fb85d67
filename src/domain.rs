//! The vocabulary and rules of Token Desk. No I/O, no egui, no SQL, no threads.
//!
//! Everything here is a pure function of its inputs, except that code generation and hashing
//! draw from the operating system's secure random source.

pub mod definition;
pub mod lifecycle;
pub mod owner;
pub mod random;
pub mod records;
pub mod rules;
pub mod secret;
pub mod token;

pub use definition::{
    Alphabet, CheckDigit, CredentialKind, CredentialRule, DefinitionSettings, GenerationMethod,
    OwnerSettings, TextFormat, VerificationSettings,
};
pub use lifecycle::{LifecycleError, TokenAction, TokenState};
pub use owner::{AccountState, OwnerKind, ParticipantState};
pub use records::{
    AccountRecord, AuditEvent, BatchRecord, DefinitionRecord, ParticipantRecord, TokenRecord,
};
pub use secret::{HashError, Secret, SecretHasher};
pub use token::{identifier_key, normalize_auth_code};

/// A clerk-input problem with one field, written so the clerk can fix it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field} {problem}")]
pub struct ValidationError {
    /// What the clerk calls the field, e.g. "identifier" or "pass code".
    pub field: String,
    /// The rest of the sentence, e.g. "must be 4–12 characters long".
    pub problem: String,
}

impl ValidationError {
    pub fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            problem: problem.into(),
        }
    }
}
