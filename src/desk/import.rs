//! Bulk CSV import of participant tokens (SPEC §7): a synchronous, "sans-thread" core that the
//! command line calls directly and the window runs on a background thread.
//!
//! Shape of one import:
//! 1. `source::inspect` reads the file once: SHA-256 (R42), UTF-8 line by line, delimiter.
//! 2. One IMMEDIATE transaction (R43) holds the whole import. Rows are streamed: each is checked
//!    (spreadsheet damage, duplicates in the file and the database, R41,
//!    [`check_draft`](crate::desk::check_draft), owners) in `pass`, then queued in a small
//!    window while worker threads hash its secrets; the writer inserts the head of the window in
//!    line order. Only fingerprints of the file's keys are kept, so memory does not grow with
//!    the length of the rows (P6).
//! 3. By default the first rejected row dooms the import: the transaction is rolled back and the
//!    file is checked once more without writing, to report every row (`would_create` for the
//!    valid ones). With `skip_invalid` the valid rows are applied. A dry run is the same check
//!    pass, rolled back at the end.

mod batches;
mod hashing;
mod job;
mod key_filter;
mod pass;
mod preview;
mod sinks;
mod source;
mod wizard;

use std::collections::{HashMap, VecDeque};
use std::hash::RandomState;
use std::io::Read as _;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};

pub use crate::storage::UndoneCounts;
pub use job::{ImportJob, ImportResult, REJECTED_KEPT, spawn_import};
pub use preview::{ImportPreview, preview};
pub use sinks::{
    CREDENTIALS_HEADER, CredentialRow, CredentialsSink, CsvFile, MemoryCredentials, MemoryReport,
    REPORT_HEADER, ReportRow, ReportSink, RowOutcome,
};
pub use source::ImportSource;
pub use wizard::{
    ColumnUse, KeptReport, PREVIEW_ROWS, RunningImport, UndoJob, WindowImport, WindowRun,
    WizardColumn, WizardPreview, spawn_undo, spawn_window_import,
};

use self::hashing::HashPool;
use self::key_filter::KeyFilter;
use self::pass::Pass;
use self::source::Columns;
use super::{Desk, DeskError, timestamp};
use crate::domain::{DefinitionSettings, HashError, OwnerKind, SecretHasher};
use crate::storage::{
    BatchCounts, Db, DeferredIndexes, NewBatch, OwnerFilter, Store, StoreError, Tx,
};

/// The page cache during an import, in KiB: large enough for the randomly written index of a
/// million authentication codes, small enough to keep the whole process under P6's 200 MB.
const IMPORT_CACHE_KIB: i64 = 64 * 1024;
/// The page cache of an import that hashes pass codes or verification codes, in KiB.
const HASHING_CACHE_KIB: i64 = 16 * 1024;
/// The most rows the duplicate tables are sized for up front (larger files grow them).
const PRESIZED_ROWS: u64 = 4_000_000;
/// SQLite's default page cache, restored afterwards.
const DEFAULT_CACHE_KIB: i64 = 2000;
/// Rows decided but not yet written (waiting for their hashes).
const WINDOW_ROWS: usize = 2048;
/// Progress is reported every this many rows, or after this long, whichever comes first; the
/// cancel flag is read before every row.
const PROGRESS_EVERY_ROWS: u64 = 512;
const PROGRESS_INTERVAL: std::time::Duration = std::time::Duration::from_millis(100);
/// Stored instead of a hash in a pass that is rolled back anyway (dry run, reporting pass).
const NOT_HASHED: &str = "$not-hashed$";

/// How an import behaves (SPEC §7.3, §9).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// Check everything and report; change nothing.
    pub dry_run: bool,
    /// Apply the valid rows even when others are rejected.
    pub skip_invalid: bool,
    /// Create participants and accounts the file names but the database does not know.
    pub create_owners: bool,
    /// Import a file whose SHA-256 matches an earlier batch (R42).
    pub allow_repeat: bool,
}

impl ImportOptions {
    /// The mode recorded with the batch, e.g. `all_or_nothing,create_owners`.
    pub fn mode(&self) -> String {
        let mut parts = vec![if self.skip_invalid {
            "skip_invalid"
        } else {
            "all_or_nothing"
        }];
        if self.create_owners {
            parts.push("create_owners");
        }
        if self.allow_repeat {
            parts.push("allow_repeat");
        }
        parts.join(",")
    }
}

/// How far an import has come. Bytes let the window show a percentage without counting rows first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportProgress {
    pub rows: u64,
    pub done_bytes: u64,
    pub total_bytes: u64,
}

/// What an import did (or, when not applied, would have done).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// The batch, when the import was applied.
    pub batch_id: Option<i64>,
    pub applied: bool,
    pub dry_run: bool,
    /// Rows created (or that would be created when not applied).
    pub created: u64,
    pub unchanged: u64,
    pub rejected: u64,
    /// Created tokens whose generated secrets went to the credentials sink.
    pub generated_secrets: u64,
    pub sha256: String,
    pub delimiter: char,
}

/// Why an import stopped before applying anything. Rejected rows are not errors: they are
/// reported per row and counted in [`ImportSummary`].
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{path}: {reason}")]
    Io { path: String, reason: String },
    #[error(
        "line {line} is not valid UTF-8 text, so nothing was imported; save the file as UTF-8 (in a spreadsheet: \"CSV UTF-8\") and import it again"
    )]
    NotUtf8 { line: u64 },
    #[error("the file is empty; it needs a header row naming the columns")]
    Empty,
    #[error(
        "the header row names an unknown column \"{0}\", so nothing was imported; the first line must name the columns (participant_number, participant_name, account_number, account_name, identifier, pass_code, authentication_code, state); check the spelling"
    )]
    UnknownColumn(String),
    #[error("{0}")]
    Header(String),
    #[error("line {line} could not be read as CSV ({reason}); nothing was imported")]
    Csv { line: u64, reason: String },
    #[error(
        "this file was already imported as batch {batch_id} on {at}, so nothing was imported; allow a repeated import (--allow-repeat) to import it again"
    )]
    Repeated { batch_id: i64, at: String },
    #[error(
        "this import generates pass codes or verification codes, but there is no credentials file to write them to; choose one (--credentials FILE) so the secrets are not lost"
    )]
    NeedsCredentials,
    #[error("the import was cancelled; nothing was changed")]
    Cancelled,
    #[error("the report or credentials file could not be written ({0}); nothing was imported")]
    Output(String),
    #[error(
        "the file changed while it was being imported, so nothing was imported; import it again"
    )]
    Changed,
    #[error("the import stopped unexpectedly ({0}); nothing was imported")]
    Stopped(String),
    #[error("{0}")]
    Desk(#[from] DeskError),
}

impl ImportError {
    pub(crate) fn io(path: &std::path::Path, err: &std::io::Error) -> Self {
        Self::Io {
            path: path.display().to_string(),
            reason: super::describe_io_error(err),
        }
    }

    /// The exit status of the command line: 3 for file or database trouble, 1 for a refusal.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Io { .. } | Self::Output(_) | Self::Stopped(_) => 3,
            Self::Desk(err) => err.exit_code(),
            _ => 1,
        }
    }

    /// The message as a sentence.
    pub fn sentence(&self) -> String {
        super::error_sentence(&self.to_string())
    }
}

impl From<StoreError> for ImportError {
    fn from(err: StoreError) -> Self {
        Self::Desk(DeskError::Store(err))
    }
}

impl From<HashError> for ImportError {
    fn from(err: HashError) -> Self {
        Self::Desk(DeskError::Hash(err))
    }
}

/// What the import reads from and writes to.
pub struct ImportRequest<'a> {
    pub source: ImportSource<'a>,
    pub options: ImportOptions,
    pub clerk: &'a str,
    pub now: DateTime<Utc>,
}

/// Where results go, and how the caller watches and cancels.
pub struct ImportOutput<'a> {
    pub report: &'a mut dyn ReportSink,
    /// Required when the import generates secrets (R44); unused by a dry run.
    pub credentials: Option<&'a mut dyn CredentialsSink>,
    pub progress: &'a mut dyn FnMut(ImportProgress),
    pub is_cancelled: &'a dyn Fn() -> bool,
}

impl Desk {
    /// Imports a CSV file of tokens for this clerk (SPEC §7). See [`import_tokens`].
    pub fn import_csv(
        &mut self,
        source: ImportSource<'_>,
        options: ImportOptions,
        output: &mut ImportOutput<'_>,
    ) -> Result<ImportSummary, ImportError> {
        let clerk = self.clerk.clone();
        let request = ImportRequest {
            source,
            options,
            clerk: &clerk,
            now: self.now(),
        };
        import_tokens(&mut self.store, &self.hasher, &request, output)
    }
}

/// Imports a CSV file of tokens in one transaction (R43). Synchronous: run it on a background
/// thread for the window; `output.is_cancelled` is read every few hundred rows.
pub fn import_tokens(
    store: &mut Store,
    hasher: &SecretHasher,
    request: &ImportRequest<'_>,
    output: &mut ImportOutput<'_>,
) -> Result<ImportSummary, ImportError> {
    let facts = source::inspect(&request.source)?;
    // An import that hashes is bound by argon2 (tens of rows a second per core), and every
    // hashing thread holds its own argon2 memory: the page cache then gives way (P6).
    let hashes = facts.has_pass_codes
        || store
            .db()
            .effective_definition()?
            .is_some_and(|definition| {
                definition.settings.pass_code.is_generated()
                    || definition.settings.verification.required
            });
    store.set_cache_kib(if hashes {
        HASHING_CACHE_KIB
    } else {
        IMPORT_CACHE_KIB
    })?;
    let result = run_passes(store, hasher, request, output, &facts);
    store.set_cache_kib(DEFAULT_CACHE_KIB)?;
    if result.is_err() {
        // Nothing was applied, so rows reported so far and secrets written so far mean nothing.
        // A failure to empty them is secondary to the error being returned.
        let _ = output.report.restart();
        if let Some(credentials) = output.credentials.as_deref_mut() {
            let _ = credentials.restart();
        }
    }
    result
}

/// How a pass ends when it does not commit.
enum Flow {
    /// A check pass finished; everything it wrote is rolled back.
    RolledBack(ImportSummary),
    /// An applying pass met a rejected row without `skip_invalid`.
    Doomed,
    Failed(ImportError),
}

impl From<StoreError> for Flow {
    fn from(err: StoreError) -> Self {
        Self::Failed(err.into())
    }
}

impl From<ImportError> for Flow {
    fn from(err: ImportError) -> Self {
        Self::Failed(err)
    }
}

/// Whether a pass writes for real or only checks (and is rolled back).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Apply,
    Check,
}

fn run_passes(
    store: &mut Store,
    hasher: &SecretHasher,
    request: &ImportRequest<'_>,
    output: &mut ImportOutput<'_>,
    facts: &source::FileFacts,
) -> Result<ImportSummary, ImportError> {
    let first = if request.options.dry_run {
        Mode::Check
    } else {
        Mode::Apply
    };
    let deferred = indexes_built_after(&store.db(), facts, request.options)?;
    let pass = |tx: &Tx<'_>| {
        let summary = tx.with_indexes_built_after(deferred, || {
            run_pass(tx, hasher, request, output, facts, first)
        })?;
        match first {
            Mode::Apply => Ok(summary),
            Mode::Check => Err(Flow::RolledBack(summary)),
        }
    };
    // An import that at least doubles the tokens table writes mostly new pages: written once
    // through a rollback journal when nothing else has the file open (P1).
    let outcome = if deferred.tokens {
        store.write_as_bulk_load(pass)
    } else {
        store.write(pass)
    };
    match outcome {
        Ok(summary) => Ok(summary),
        Err(Flow::RolledBack(summary)) => Ok(summary),
        Err(Flow::Failed(err)) => Err(err),
        Err(Flow::Doomed) => {
            let restart = |err: std::io::Error| ImportError::Output(err.to_string());
            output.report.restart().map_err(restart)?;
            if let Some(credentials) = output.credentials.as_deref_mut() {
                credentials.restart().map_err(restart)?;
            }
            let outcome = store.write(|tx| {
                Err(Flow::RolledBack(run_pass(
                    tx,
                    hasher,
                    request,
                    output,
                    facts,
                    Mode::Check,
                )?))
            });
            match outcome {
                Ok(summary) | Err(Flow::RolledBack(summary)) => Ok(summary),
                Err(Flow::Failed(err)) => Err(err),
                Err(Flow::Doomed) => Err(ImportError::Cancelled),
            }
        }
    }
}

/// The indexes an import of `facts` builds after its rows: those of a table it at least
/// doubles. Measured, building an index costs about as much as updating it for two thirds as
/// many rows (P1).
fn indexes_built_after(
    db: &Db<'_>,
    facts: &source::FileFacts,
    options: ImportOptions,
) -> Result<DeferredIndexes, StoreError> {
    let rows = facts.lines.saturating_sub(1);
    if rows < key_filter::WORTHWHILE_ROWS {
        return Ok(DeferredIndexes::default());
    }
    let all = OwnerFilter::default();
    let owners = db
        .count_owners(OwnerKind::Participant, &all)?
        .max(db.count_owners(OwnerKind::Account, &all)?);
    Ok(DeferredIndexes {
        tokens: db.count_all_tokens()? <= rows / 2,
        owner_names: options.create_owners && owners <= rows / 2,
    })
}

fn run_pass(
    tx: &Tx<'_>,
    hasher: &SecretHasher,
    request: &ImportRequest<'_>,
    output: &mut ImportOutput<'_>,
    facts: &source::FileFacts,
    mode: Mode,
) -> Result<ImportSummary, Flow> {
    // The file's own problems come first: they are what the clerk must fix.
    let mut reader = source::csv_reader(&request.source, facts.delimiter)?;
    let mut record = csv::StringRecord::new();
    let header_found = reader
        .read_record(&mut record)
        .map_err(|err| csv_error(&err))?;
    if !header_found {
        return Err(ImportError::Empty.into());
    }
    if record.iter().all(|field| field.trim().is_empty()) {
        return Err(ImportError::Header(
            "the first line is blank; it must be the header row naming the columns".to_owned(),
        )
        .into());
    }
    let columns = Columns::from_header(&record)?;
    let options = request.options;
    let definition = tx.effective_definition()?.ok_or_else(|| {
        ImportError::from(DeskError::refused(
            "there is no Effective definition; activate one first",
        ))
    })?;
    if !options.allow_repeat
        && let Some(earlier) = tx.batch_by_sha256(&facts.sha256)?
    {
        return Err(ImportError::Repeated {
            batch_id: earlier.id,
            at: earlier.started_at,
        }
        .into());
    }
    let settings = &definition.settings;
    let generates_secrets = generates_secrets(settings, &columns);
    if mode == Mode::Apply && generates_secrets && output.credentials.is_none() {
        return Err(ImportError::NeedsCredentials.into());
    }
    let at = timestamp(request.now);
    let batch_id = tx.insert_batch(&NewBatch {
        file_name: &request.source.name(),
        file_sha256: &facts.sha256,
        mode: &options.mode(),
        started_at: &at,
        clerk: request.clerk,
    })?;
    let valid_hours = i64::from(settings.verification.valid_hours);
    let has_identifiers = columns.identifier.is_some() || settings.identifier.is_generated();
    let rows = facts.lines.saturating_sub(1);
    let large = rows >= key_filter::WORTHWHILE_ROWS;
    let mut pass = Pass {
        tx,
        definition: &definition,
        mode,
        options,
        batch_id,
        at: &at,
        clerk: request.clerk,
        expires_at: timestamp(request.now + Duration::hours(valid_hours)),
        first_number: tx.advance_counter("token", 0)?,
        next_number: 0,
        fingerprints: RandomState::new(),
        // Sized once from the line count: growing a table of a million entries would briefly
        // hold the old and the new one.
        auth_lines: HashMap::with_capacity(presized(facts.lines)),
        identifier_lines: HashMap::with_capacity(if has_identifiers {
            presized(facts.lines)
        } else {
            0
        }),
        pending_by_owner: HashMap::new(),
        existing_keys: if large {
            Some(KeyFilter::of_existing_keys(tx)?)
        } else {
            None
        },
        existing_participants: if large && columns.participant_number.is_some() {
            Some(KeyFilter::of_owner_numbers(
                tx,
                OwnerKind::Participant,
                rows,
            )?)
        } else {
            None
        },
        existing_accounts: if large && columns.account_number.is_some() {
            Some(KeyFilter::of_owner_numbers(tx, OwnerKind::Account, rows)?)
        } else {
            None
        },
        statements: tx.import_statements(batch_id, &at, request.clerk)?,
        window: VecDeque::new(),
        head_ticket: 0,
        counts: BatchCounts::default(),
        generated_secrets: 0,
        output,
    };
    pass.next_number = pass.first_number;
    let needs_hashing = mode == Mode::Apply && (columns.pass_code.is_some() || generates_secrets);
    std::thread::scope(|scope| -> Result<(), Flow> {
        let pool = if needs_hashing {
            Some(
                HashPool::start(scope, hasher, hashing::worker_count()).map_err(|err| {
                    ImportError::Stopped(format!("the hashing threads could not start: {err}"))
                })?,
            )
        } else {
            None
        };
        let mut rows = 0u64;
        let mut last_progress = Instant::now();
        let total_bytes = facts.total_bytes;
        loop {
            match reader.read_record(&mut record) {
                Ok(true) => {}
                Ok(false) => break,
                Err(err) => return Err(csv_error(&err).into()),
            }
            rows += 1;
            if (pass.output.is_cancelled)() {
                return Err(ImportError::Cancelled.into());
            }
            if rows.is_multiple_of(PROGRESS_EVERY_ROWS)
                || last_progress.elapsed() >= PROGRESS_INTERVAL
            {
                last_progress = Instant::now();
                let done_bytes = reader.position().byte();
                (pass.output.progress)(ImportProgress {
                    rows,
                    done_bytes,
                    total_bytes,
                });
            }
            let line = reader
                .get_ref()
                .line_at(record.position().map_or(0, csv::Position::byte));
            // Spreadsheets leave rows of bare delimiters below the data; like blank lines,
            // they are no rows at all (not tokens with every credential generated).
            if record.iter().all(|field| field.trim().is_empty()) {
                continue;
            }
            pass.take_row(&record, line, &columns, pool.as_ref())?;
            pass.pump(pool.as_ref(), false)?;
        }
        pass.pump(pool.as_ref(), true)?;
        // The rows must be the bytes whose SHA-256 R42 compares; a file saved again meanwhile is not.
        let mut rest = Vec::new();
        reader
            .get_mut()
            .read_to_end(&mut rest)
            .map_err(|err| request.source.io_error(&err))?;
        if reader.get_ref().sha256_hex() != facts.sha256 {
            return Err(ImportError::Changed.into());
        }
        (pass.output.progress)(ImportProgress {
            rows,
            done_bytes: total_bytes,
            total_bytes,
        });
        Ok(())
    })?;
    pass.finish(facts)
}

/// Whether importing a file with `columns` under `settings` can generate secrets, so a
/// credentials file is needed before it starts (R44). Generated pass codes come only with an
/// identifier (check_draft); verification codes with every new token that needs one.
fn generates_secrets(settings: &DefinitionSettings, columns: &Columns) -> bool {
    let pairs_possible = !settings.allow_without_identifier_and_pass_code
        || columns.identifier.is_some()
        || settings.identifier.is_generated();
    (settings.pass_code.is_generated() && pairs_possible) || settings.verification.required
}

/// Capacity for one entry per data row of a file with `lines` lines.
fn presized(lines: u64) -> usize {
    usize::try_from(lines.saturating_sub(1).min(PRESIZED_ROWS)).unwrap_or(0)
}

fn csv_error(err: &csv::Error) -> ImportError {
    let line = err.position().map_or(0, csv::Position::line);
    match err.kind() {
        csv::ErrorKind::Utf8 { .. } => ImportError::NotUtf8 { line },
        csv::ErrorKind::Io(io) => ImportError::Io {
            path: "the import file".to_owned(),
            reason: super::describe_io_error(io),
        },
        _ => ImportError::Csv {
            line,
            reason: err.to_string(),
        },
    }
}
