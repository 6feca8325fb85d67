//! The clerk's use cases (the service layer). No egui, no SQL text.
//!
//! Every method that changes something runs as one transaction and writes an audit event with
//! the clerk. Errors are typed ([`DeskError`]); their `Display` is one sentence a clerk can act on.

pub mod audit_export;
pub mod bulk;
mod definitions;
pub mod demo;
mod error;
pub mod export;
pub mod import;
pub mod jobs;
pub mod output;
mod owners;
pub mod reports;
mod tokens;
pub mod views;

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};

pub use definitions::{DefinitionDraft, DefinitionExport, sample_values};
pub use error::{AuthFailure, DeskError, describe_io_error, sentence as error_sentence};
pub use tokens::{CheckedDraft, CreatedToken, Credentials, PassCodePlan, TokenDraft, check_draft};

use crate::domain::{AuditEvent, SecretHasher};
use crate::storage::{AuditFilter, NewAuditEvent, Store, StoreError, Tx};

pub use crate::storage::{OwnerFilter, SortDirection, TokenCursor, TokenFilter, TokenSort};

/// Where "now" comes from; tests move it forward to expire verification codes.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The clerk's desk: an open database, the hasher, and who is working.
pub struct Desk {
    store: Store,
    hasher: SecretHasher,
    clerk: String,
    clock: Clock,
}

impl Desk {
    /// Opens (or creates) the database at `path` for `clerk`, with production hashing.
    pub fn open(path: &Path, clerk: &str) -> Result<Self, DeskError> {
        Ok(Self::new(
            Store::open(path)?,
            SecretHasher::default(),
            clerk,
        ))
    }

    pub fn new(store: Store, hasher: SecretHasher, clerk: &str) -> Self {
        Self {
            store,
            hasher,
            clerk: clerk.to_owned(),
            clock: Arc::new(Utc::now),
        }
    }

    pub fn set_clock(&mut self, clock: Clock) {
        self.clock = clock;
    }

    /// The clock, for background jobs that open their own desk on the same database.
    pub fn clock(&self) -> Clock {
        Arc::clone(&self.clock)
    }

    pub fn clerk(&self) -> &str {
        &self.clerk
    }

    pub fn hasher(&self) -> &SecretHasher {
        &self.hasher
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn store_mut(&mut self) -> &mut Store {
        &mut self.store
    }

    pub fn path(&self) -> &Path {
        self.store.path()
    }

    /// The current instant.
    pub fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }

    /// The current instant as stored: RFC 3339 in UTC, to the second.
    pub fn now_text(&self) -> String {
        timestamp(self.now())
    }

    /// Total number of tokens, for the status bar.
    pub fn token_count(&self) -> Result<u64, DeskError> {
        Ok(self.store.db().count_all_tokens()?)
    }

    /// Audit events, newest first, below `before_id`.
    pub fn audit_events(
        &self,
        filter: &AuditFilter,
        before_id: i64,
        limit: usize,
    ) -> Result<Vec<AuditEvent>, DeskError> {
        Ok(self.store.db().audit_events(filter, before_id, limit)?)
    }

    /// Runs `work` in one transaction with an [`Audit`] helper for this clerk and instant.
    fn change<T>(
        &mut self,
        work: impl FnOnce(&Tx<'_>, &Audit<'_>) -> Result<T, DeskError>,
    ) -> Result<T, DeskError> {
        let at = self.now_text();
        let clerk = self.clerk.clone();
        self.store.write(|tx| {
            work(
                tx,
                &Audit {
                    at: &at,
                    clerk: &clerk,
                },
            )
        })
    }
}

/// Writes audit events for one change: same clerk, same instant.
pub struct Audit<'a> {
    pub at: &'a str,
    pub clerk: &'a str,
}

impl Audit<'_> {
    /// Appends `action` about `record_kind` `record_number` with `details` (never a secret).
    pub fn record(
        &self,
        tx: &Tx<'_>,
        action: &str,
        record_kind: &str,
        record_number: &str,
        details: impl Into<String>,
    ) -> Result<(), StoreError> {
        tx.audit(&NewAuditEvent {
            at: self.at,
            clerk: self.clerk,
            action,
            record_kind,
            record_number,
            details: details.into(),
            batch_id: None,
        })
    }
}

/// RFC 3339 in UTC, to the second, as every timestamp is stored (SPEC §8).
pub fn timestamp(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The clerk's name: `--clerk`, else the operating-system login name.
pub fn default_clerk() -> String {
    ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|name| {
            std::env::var(name)
                .ok()
                .filter(|value| !value.trim().is_empty())
        })
        .unwrap_or_else(|| "clerk".to_owned())
}

/// Where the database lives unless `--db` or `TOKENDESK_DB` says otherwise.
pub fn default_database_path() -> std::path::PathBuf {
    directories::ProjectDirs::from("", "", "tokendesk")
        .map(|dirs| dirs.data_dir().join("tokendesk.sqlite3"))
        .unwrap_or_else(|| std::path::PathBuf::from("tokendesk.sqlite3"))
}
