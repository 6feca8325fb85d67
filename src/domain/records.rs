//! Read models: what a token, owner, definition, audit event or batch looks like to a clerk.
//! Plain data, filled by `storage` and drawn by `ui`; never holds a secret or a hash.

use serde::Serialize;

use super::{AccountState, DefinitionSettings, ParticipantState, TokenState};

/// A token as the clerk sees it (SPEC §2; JSON keys are the field names).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TokenRecord {
    #[serde(skip)]
    pub id: i64,
    pub number: String,
    #[serde(skip)]
    pub definition_id: i64,
    pub definition: String,
    pub state: TokenState,
    pub authentication_code: String,
    pub identifier: Option<String>,
    pub has_pass_code: bool,
    #[serde(skip)]
    pub participant_id: Option<i64>,
    pub participant_number: Option<String>,
    pub participant_name: Option<String>,
    #[serde(skip)]
    pub participant_state: Option<ParticipantState>,
    #[serde(skip)]
    pub account_id: Option<i64>,
    pub account_number: Option<String>,
    pub account_name: Option<String>,
    #[serde(skip)]
    pub account_state: Option<AccountState>,
    pub failed_attempts: u32,
    pub locked: bool,
    pub verified_at: Option<String>,
    pub verification_expires_at: Option<String>,
    pub last_used_at: Option<String>,
    pub import_batch: Option<i64>,
    pub created_at: String,
    pub created_by: String,
    pub updated_at: String,
    pub updated_by: String,
}

impl TokenRecord {
    pub fn is_linked(&self) -> bool {
        self.participant_number.is_some() || self.account_number.is_some()
    }
}

/// A definition with all its settings.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DefinitionRecord {
    #[serde(skip)]
    pub id: i64,
    pub number: String,
    pub name: String,
    pub code: String,
    pub description: String,
    pub is_effective: bool,
    pub settings: DefinitionSettings,
    pub created_at: String,
    pub created_by: String,
    pub updated_at: String,
    pub updated_by: String,
}

/// A rewards participant.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ParticipantRecord {
    #[serde(skip)]
    pub id: i64,
    pub number: String,
    pub name: String,
    #[serde(skip)]
    pub account_id: i64,
    pub account_number: String,
    pub account_name: String,
    pub state: ParticipantState,
    pub signed_up_on: String,
    pub token_count: u32,
    pub created_at: String,
    pub created_by: String,
}

/// An account receivable.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AccountRecord {
    #[serde(skip)]
    pub id: i64,
    pub number: String,
    pub name: String,
    pub state: AccountState,
    pub token_count: u32,
    pub participant_count: u32,
    pub created_at: String,
    pub created_by: String,
}

/// One entry of the append-only audit log. Never holds a secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditEvent {
    pub id: i64,
    pub at: String,
    pub clerk: String,
    pub action: String,
    pub record_kind: String,
    pub record_number: String,
    pub details: String,
    pub batch_id: Option<i64>,
}

/// One CSV import run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BatchRecord {
    pub id: i64,
    pub file_name: String,
    pub file_sha256: String,
    pub mode: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub created: u64,
    pub unchanged: u64,
    pub rejected: u64,
    pub clerk: String,
    pub undone_at: Option<String>,
    pub undone_by: Option<String>,
}
