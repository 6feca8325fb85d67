//! Bulk CSV import of participant tokens (SPEC §7): a synchronous, "sans-thread" core that the
//! command line calls directly and the window runs on a background thread.
//!
//! Shape of one import:
//! 1. [`source::inspect`] reads the file once: SHA-256 (R42), UTF-8 line by line, delimiter.
//! 2. One IMMEDIATE transaction (R43) holds the whole import. Rows are streamed: each is checked
//!    (spreadsheet damage, duplicates in the file and the database, R41, [`check_draft`], owners),
//!    then queued in a small window while worker threads hash its secrets; the writer inserts
//!    the head of the window in line order. Only fingerprints of the file's keys are kept, so
//!    memory does not grow with the length of the rows (P6).
//! 3. By default the first rejected row dooms the import: the transaction is rolled back and the
//!    file is checked once more without writing, to report every row (`would_create` for the
//!    valid ones). With `skip_invalid` the valid rows are applied. A dry run is the same check
//!    pass, rolled back at the end.

mod batches;
mod hashing;
mod job;
mod preview;
mod sinks;
mod source;

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher as _, RandomState};
use std::io::Read as _;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};

pub use crate::storage::UndoneCounts;
pub use job::{
    ImportJob, ImportRun, KeptReport, REJECTED_KEPT, RunningImport, UndoJob, spawn_import,
    spawn_undo,
};
pub use preview::{
    ColumnUse, ImportPreview, PREVIEW_ROWS, PreviewColumn, PreviewRow, preview_source,
};
pub use sinks::{
    CREDENTIALS_HEADER, CredentialRow, CredentialsSink, CsvFile, MemoryCredentials, MemoryReport,
    REPORT_HEADER, ReportRow, ReportSink, RowOutcome,
};
pub use source::ImportSource;

use self::hashing::{HashDone, HashJob, HashPool};
use self::source::{Columns, shorten};
use super::tokens::{
    PassCodePlan, TokenDraft, check_draft, check_new_links_counting, generate_unique,
    verification_code,
};
use super::{Desk, DeskError, timestamp};
use crate::domain::owner::parse_name;
use crate::domain::rules::looks_like_spreadsheet_damage;
use crate::domain::{
    AccountRecord, AccountState, CredentialKind, DefinitionRecord, HashError, OwnerKind,
    ParticipantRecord, ParticipantState, Secret, SecretHasher, TokenRecord, TokenState,
    identifier_key,
};
use crate::storage::{BatchCounts, NewAuditEvent, NewBatch, NewToken, Store, StoreError, Tx};

/// The page cache during an import, in KiB: large enough for the randomly written index of a
/// million authentication codes, small enough to keep the whole process under P6's 200 MB.
const IMPORT_CACHE_KIB: i64 = 64 * 1024;
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
    store.set_cache_kib(IMPORT_CACHE_KIB)?;
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
    let outcome = store.write(|tx| {
        let summary = run_pass(tx, hasher, request, output, facts, first)?;
        match first {
            Mode::Apply => Ok(summary),
            Mode::Check => Err(Flow::RolledBack(summary)),
        }
    });
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
    let generates_secrets = preview::generates_secrets(&definition);
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

/// A token decided but not yet written: it waits in the window for its hashes.
struct PendingToken {
    line: u64,
    authentication_code: String,
    is_code_generated: bool,
    identifier: Option<String>,
    participant_id: Option<i64>,
    account_id: Option<i64>,
    state: TokenState,
    /// Generated secrets, to go to the credentials sink once.
    generated_pass_code: Option<Secret>,
    verification_code: Option<Secret>,
    /// Hashes of the pass code (if any) and the verification code (if any), in that order.
    hashes: Option<Vec<String>>,
    has_pass_code: bool,
}

enum Entry {
    Done(ReportRow),
    Token(Box<PendingToken>),
}

/// What a row comes to.
enum Verdict {
    Rejected(String),
    Unchanged(Box<TokenRecord>),
    Accepted(Box<PendingToken>, Vec<Secret>),
}

/// One pass over the rows, inside the import's transaction.
struct Pass<'p, 't, 'c, 'o> {
    tx: &'t Tx<'c>,
    definition: &'p DefinitionRecord,
    mode: Mode,
    options: ImportOptions,
    batch_id: i64,
    at: &'p str,
    clerk: &'p str,
    expires_at: String,
    first_number: u64,
    next_number: u64,
    /// Keyed hashing for the fingerprints below; a fingerprint hit is confirmed in the database.
    fingerprints: RandomState,
    /// Fingerprint of each authentication code of the file so far → its line.
    auth_lines: HashMap<u64, u64>,
    /// Fingerprint of each identifier key of the file so far → its line.
    identifier_lines: HashMap<u64, u64>,
    /// Tokens per owner that wait in the window (R32's maximum counts them too).
    pending_by_owner: HashMap<(OwnerKind, i64), u32>,
    window: VecDeque<Entry>,
    head_ticket: u64,
    counts: BatchCounts,
    generated_secrets: u64,
    output: &'p mut ImportOutput<'o>,
}

#[derive(Clone, Copy)]
enum KeyKind {
    AuthenticationCode,
    Identifier,
}

/// A field: trimmed, with one leading `'` before `=`, `+`, `-` or `@` removed (the export guard, R61).
fn clean(value: &str) -> &str {
    let value = value.trim();
    match value.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@']) => rest,
        _ => value,
    }
}

fn rejected(text: impl Into<String>) -> Result<Verdict, ImportError> {
    Ok(Verdict::Rejected(text.into()))
}

/// A refusal becomes a rejected row; database and hashing trouble stops the import.
fn verdict_of(err: DeskError) -> Result<Verdict, ImportError> {
    match err {
        DeskError::Store(_) | DeskError::Hash(_) | DeskError::File(_) => {
            Err(ImportError::Desk(err))
        }
        other => rejected(other.to_string()),
    }
}

/// Who owns a token, as a clerk reads it.
fn owners_of(token: &TokenRecord) -> String {
    match (&token.participant_number, &token.account_number) {
        (Some(p), Some(a)) => format!("participant {p} of account {a}"),
        (Some(p), None) => format!("participant {p}"),
        (None, Some(a)) => format!("account {a}"),
        (None, None) => "no owner".to_owned(),
    }
}

/// The values of one row, cleaned.
struct RowValues<'r> {
    authentication_code: &'r str,
    identifier: &'r str,
    pass_code: &'r str,
    participant_number: &'r str,
    participant_name: &'r str,
    account_number: &'r str,
    account_name: &'r str,
    state: &'r str,
}

impl<'r> RowValues<'r> {
    fn read(record: &'r csv::StringRecord, columns: &Columns) -> Self {
        let get = |index: Option<usize>| index.and_then(|i| record.get(i)).map_or("", clean);
        Self {
            authentication_code: get(columns.authentication_code),
            identifier: get(columns.identifier),
            pass_code: get(columns.pass_code),
            participant_number: get(columns.participant_number),
            participant_name: get(columns.participant_name),
            account_number: get(columns.account_number),
            account_name: get(columns.account_name),
            state: get(columns.state),
        }
    }
}

fn optional(value: &str) -> Option<String> {
    (!value.is_empty()).then(|| value.to_owned())
}

/// A number the file brings for a new participant or account.
fn check_owner_number(label: &str, number: &str) -> Option<String> {
    if number.chars().count() > 40 || number.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Some(format!(
            "{label} {} must be at most 40 characters without spaces",
            shorten(number, 40)
        ));
    }
    None
}

impl Pass<'_, '_, '_, '_> {
    fn fingerprint(&self, kind: KeyKind, value: &str) -> u64 {
        self.fingerprints.hash_one((kind as u8, value))
    }

    fn lines(&mut self, kind: KeyKind) -> &mut HashMap<u64, u64> {
        match kind {
            KeyKind::AuthenticationCode => &mut self.auth_lines,
            KeyKind::Identifier => &mut self.identifier_lines,
        }
    }

    /// The earlier line of this file with the same key, if any. A fingerprint hit is confirmed
    /// in the database once every earlier row has been written.
    fn earlier_line(
        &mut self,
        kind: KeyKind,
        value: &str,
        pool: Option<&HashPool>,
    ) -> Result<Option<u64>, ImportError> {
        let fingerprint = self.fingerprint(kind, value);
        let Some(&line) = self.lines(kind).get(&fingerprint) else {
            return Ok(None);
        };
        self.pump(pool, true)?;
        let found = match kind {
            KeyKind::AuthenticationCode => self.tx.auth_code_exists(value)?,
            KeyKind::Identifier => self.tx.identifier_key_exists(value)?,
        };
        Ok(found.then_some(line))
    }

    fn remember(&mut self, kind: KeyKind, value: &str, line: u64) {
        let fingerprint = self.fingerprint(kind, value);
        self.lines(kind).entry(fingerprint).or_insert(line);
    }

    fn is_taken(&self, kind: KeyKind, value: &str) -> Result<bool, DeskError> {
        let in_file = match kind {
            KeyKind::AuthenticationCode => {
                self.auth_lines.contains_key(&self.fingerprint(kind, value))
            }
            KeyKind::Identifier => self
                .identifier_lines
                .contains_key(&self.fingerprint(kind, value)),
        };
        Ok(in_file
            || match kind {
                KeyKind::AuthenticationCode => self.tx.auth_code_exists(value)?,
                KeyKind::Identifier => self.tx.identifier_key_exists(value)?,
            })
    }

    /// Decides one row and queues what it comes to.
    fn take_row(
        &mut self,
        record: &csv::StringRecord,
        line: u64,
        columns: &Columns,
        pool: Option<&HashPool>,
    ) -> Result<(), Flow> {
        let verdict = self.check_row(record, line, columns, pool)?;
        let ticket = self.head_ticket + self.window.len() as u64;
        match verdict {
            Verdict::Rejected(message) => {
                self.counts.rejected += 1;
                if self.mode == Mode::Apply && !self.options.skip_invalid {
                    return Err(Flow::Doomed);
                }
                let code = shorten(
                    clean(
                        columns
                            .authentication_code
                            .and_then(|i| record.get(i))
                            .unwrap_or(""),
                    ),
                    64,
                );
                self.window.push_back(Entry::Done(ReportRow {
                    line,
                    outcome: RowOutcome::Rejected,
                    token_number: String::new(),
                    authentication_code: code,
                    message: super::error_sentence(&message),
                }));
            }
            Verdict::Unchanged(token) => {
                self.counts.unchanged += 1;
                self.window.push_back(Entry::Done(ReportRow {
                    line,
                    outcome: RowOutcome::Unchanged,
                    token_number: token.number,
                    authentication_code: token.authentication_code,
                    message: "Already in the database with the same owners and identifier."
                        .to_owned(),
                }));
            }
            Verdict::Accepted(mut token, secrets) => {
                self.counts.created += 1;
                for owner in [
                    token.participant_id.map(|id| (OwnerKind::Participant, id)),
                    token.account_id.map(|id| (OwnerKind::Account, id)),
                ]
                .into_iter()
                .flatten()
                {
                    *self.pending_by_owner.entry(owner).or_insert(0) += 1;
                }
                if secrets.is_empty() {
                    token.hashes = Some(Vec::new());
                } else if self.mode == Mode::Check {
                    token.hashes = Some(vec![NOT_HASHED.to_owned(); secrets.len()]);
                } else if let Some(pool) = pool {
                    if !pool.submit(HashJob { ticket, secrets }) {
                        return Err(
                            ImportError::Stopped("the hashing threads stopped".to_owned()).into(),
                        );
                    }
                } else {
                    return Err(
                        ImportError::Stopped("no hashing threads were started".to_owned()).into(),
                    );
                }
                self.window.push_back(Entry::Token(token));
            }
        }
        Ok(())
    }

    fn check_row(
        &mut self,
        record: &csv::StringRecord,
        line: u64,
        columns: &Columns,
        pool: Option<&HashPool>,
    ) -> Result<Verdict, ImportError> {
        if record.len() != columns.count {
            return rejected(format!(
                "the line has {} fields but the header row has {}; check its delimiters and quotes",
                record.len(),
                columns.count
            ));
        }
        let row = RowValues::read(record, columns);
        let damaged = [
            ("authentication code", row.authentication_code),
            ("identifier", row.identifier),
            ("pass code", row.pass_code),
            ("participant number", row.participant_number),
            ("account number", row.account_number),
        ]
        .into_iter()
        .find(|(_, value)| looks_like_spreadsheet_damage(value));
        if let Some((label, _)) = damaged {
            return rejected(format!(
                "the {label} looks like a number a spreadsheet turned into scientific notation (such as 1.23E+11); format the column as Text in the spreadsheet, restore the values and save the file again"
            ));
        }
        let identifier_key = (!row.identifier.is_empty()).then(|| identifier_key(row.identifier));
        if !row.authentication_code.is_empty()
            && let Some(other) =
                self.earlier_line(KeyKind::AuthenticationCode, row.authentication_code, pool)?
        {
            return rejected(format!(
                "the authentication code is also on line {other} (R4)"
            ));
        }
        if let Some(key) = &identifier_key
            && let Some(other) = self.earlier_line(KeyKind::Identifier, key, pool)?
        {
            return rejected(format!(
                "the identifier is also on line {other}; identifiers are compared ignoring case and spaces (R5)"
            ));
        }
        if let Some(verdict) = self.existing_token(&row, identifier_key.as_deref(), line)? {
            return Ok(verdict);
        }
        let state = match row.state {
            "" => None,
            text => match TokenState::parse(text) {
                Some(TokenState::PendingVerification)
                    if self.definition.settings.verification.required =>
                {
                    None
                }
                Some(state @ (TokenState::Effective | TokenState::NotEffective)) => Some(state),
                _ => {
                    return rejected(format!(
                        "the state must be effective or not_effective, not {}",
                        shorten(text, 30)
                    ));
                }
            },
        };
        let draft = TokenDraft {
            participant_number: optional(row.participant_number),
            account_number: optional(row.account_number),
            identifier: optional(row.identifier),
            authentication_code: optional(row.authentication_code),
            pass_code: optional(row.pass_code).map(Secret::new),
            state,
        };
        let checked = match check_draft(&self.definition.settings, &draft) {
            Ok(checked) => checked,
            Err(problem) => return rejected(problem.to_string()),
        };
        let (participant, account) = match self.resolve_owners(&row)? {
            Ok(owners) => owners,
            Err(message) => return rejected(message),
        };
        self.accept(line, checked, participant, account)
    }

    /// R41: a row whose code or identifier is already in the database is `unchanged` when the
    /// token has the same owners and identifier, and rejected as a conflict otherwise.
    fn existing_token(
        &mut self,
        row: &RowValues<'_>,
        identifier_key: Option<&str>,
        line: u64,
    ) -> Result<Option<Verdict>, ImportError> {
        // The cheap existence checks first: most rows of a big import are new.
        let by_code = match row.authentication_code {
            "" => None,
            code if self.tx.auth_code_exists(code)? => self.tx.token_by_auth_code(code)?,
            _ => None,
        };
        let by_identifier = match identifier_key {
            Some(key) if self.tx.identifier_key_exists(key)? => {
                self.tx.token_by_identifier_key(key)?
            }
            _ => None,
        };
        let token = match (by_code, by_identifier) {
            (None, None) => return Ok(None),
            (Some(by_code), Some(by_identifier)) if by_code.id != by_identifier.id => {
                return Ok(Some(Verdict::Rejected(format!(
                    "the authentication code belongs to token {} and the identifier to token {} (R4, R5)",
                    by_code.number, by_identifier.number
                ))));
            }
            (Some(token), _) => token,
            (None, Some(token)) if row.authentication_code.is_empty() => token,
            (None, Some(token)) => {
                return Ok(Some(Verdict::Rejected(format!(
                    "the identifier already belongs to token {} of {}, which has another authentication code (R5)",
                    token.number,
                    owners_of(&token)
                ))));
            }
        };
        let same = token.participant_number.as_deref()
            == optional(row.participant_number).as_deref()
            && token.account_number.as_deref() == optional(row.account_number).as_deref()
            && token
                .identifier
                .as_deref()
                .map(crate::domain::identifier_key)
                .as_deref()
                == identifier_key;
        if !same {
            let what = if row.authentication_code.is_empty() {
                "identifier"
            } else {
                "authentication code"
            };
            return Ok(Some(Verdict::Rejected(format!(
                "the {what} already belongs to token {} of {}{}, with other owners or another identifier (R41)",
                token.number,
                owners_of(&token),
                token
                    .identifier
                    .as_ref()
                    .map_or(String::new(), |_| " with an identifier".to_owned())
            ))));
        }
        self.remember(
            KeyKind::AuthenticationCode,
            &token.authentication_code,
            line,
        );
        if let Some(key) = identifier_key {
            self.remember(KeyKind::Identifier, key, line);
        }
        Ok(Some(Verdict::Unchanged(Box::new(token))))
    }

    /// Finds the row's owners, or plans new ones with `create_owners`. `Ok(Err(message))`
    /// rejects the row.
    #[allow(clippy::type_complexity)]
    fn resolve_owners(
        &self,
        row: &RowValues<'_>,
    ) -> Result<
        Result<
            (
                Option<Owner<ParticipantRecord>>,
                Option<Owner<AccountRecord>>,
            ),
            String,
        >,
        ImportError,
    > {
        let account = match row.account_number {
            "" => None,
            number => match self.tx.account_by_number_uncounted(number)? {
                Some(account) => Some(Owner::Existing(account)),
                None if !self.options.create_owners => {
                    return Ok(Err(format!(
                        "there is no account {number}; allow creating owners (--create-owners) with an account_name to create it"
                    )));
                }
                None => {
                    if let Some(problem) = check_owner_number("account number", number) {
                        return Ok(Err(problem));
                    }
                    let name = match parse_name(row.account_name) {
                        Ok(name) => name,
                        Err(_) if row.account_name.is_empty() => {
                            return Ok(Err(format!(
                                "account {number} is new, so it needs an account_name to be created"
                            )));
                        }
                        Err(problem) => {
                            return Ok(Err(format!("the account_name {}", problem.problem)));
                        }
                    };
                    Some(Owner::New(planned_account(number, &name)))
                }
            },
        };
        let participant = match row.participant_number {
            "" => None,
            number => match self.tx.participant_by_number_uncounted(number)? {
                Some(participant) => Some(Owner::Existing(participant)),
                None if !self.options.create_owners => {
                    return Ok(Err(format!(
                        "there is no participant {number}; allow creating owners (--create-owners) with a participant_name and an account_number to create it"
                    )));
                }
                None => {
                    if let Some(problem) = check_owner_number("participant number", number) {
                        return Ok(Err(problem));
                    }
                    let name = match parse_name(row.participant_name) {
                        Ok(name) => name,
                        Err(_) if row.participant_name.is_empty() => {
                            return Ok(Err(format!(
                                "participant {number} is new, so it needs a participant_name to be created"
                            )));
                        }
                        Err(problem) => {
                            return Ok(Err(format!("the participant_name {}", problem.problem)));
                        }
                    };
                    let Some(account) = &account else {
                        return Ok(Err(format!(
                            "participant {number} is new, so it needs the account_number of the account it belongs to"
                        )));
                    };
                    let account = account.record();
                    if account.state == AccountState::Terminated {
                        return Ok(Err(format!(
                            "account {} is terminated and gets no new participants (R34)",
                            account.number
                        )));
                    }
                    Some(Owner::New(planned_participant(number, &name, account)))
                }
            },
        };
        Ok(Ok((participant, account)))
    }

    /// Owner rules, new owners, generated credentials; queues the token.
    fn accept(
        &mut self,
        line: u64,
        checked: super::CheckedDraft,
        participant: Option<Owner<ParticipantRecord>>,
        account: Option<Owner<AccountRecord>>,
    ) -> Result<Verdict, ImportError> {
        let tx = self.tx;
        let settings = &self.definition.settings;
        let pending = &self.pending_by_owner;
        let counting = |kind: OwnerKind, id: i64| pending.get(&(kind, id)).copied().unwrap_or(0);
        let links = check_new_links_counting(
            tx,
            settings,
            participant.as_ref().map(Owner::record),
            account.as_ref().map(Owner::record),
            true,
            &counting,
        );
        if let Err(err) = links {
            return verdict_of(err);
        }
        let definition = self.definition;
        let (authentication_code, is_code_generated) = match checked.authentication_code {
            Some(code) => (code, false),
            None => {
                let code = generate_unique(
                    tx,
                    definition,
                    CredentialKind::AuthenticationCode,
                    |value| self.is_taken(KeyKind::AuthenticationCode, value),
                );
                match code {
                    Ok(code) => (code, true),
                    Err(err) => return verdict_of(err),
                }
            }
        };
        let identifier = match (checked.identifier, checked.generate_identifier) {
            (Some(typed), _) => Some(typed),
            (None, true) => {
                let generated =
                    generate_unique(tx, definition, CredentialKind::Identifier, |value| {
                        self.is_taken(KeyKind::Identifier, &identifier_key(value))
                    });
                match generated {
                    Ok(value) => Some(value),
                    Err(err) => return verdict_of(err),
                }
            }
            (None, false) => None,
        };
        let mut secrets = Vec::new();
        let mut generated_pass_code = None;
        match checked.pass_code {
            PassCodePlan::None => {}
            PassCodePlan::Typed(typed) => secrets.push(typed),
            PassCodePlan::Generate => {
                let generated = match generate_unique(
                    tx,
                    definition,
                    CredentialKind::PassCode,
                    |_| Ok(false),
                ) {
                    Ok(value) => Secret::new(value),
                    Err(err) => return verdict_of(err),
                };
                secrets.push(generated.clone());
                generated_pass_code = Some(generated);
            }
        }
        let has_pass_code = !secrets.is_empty();
        let verification = if checked.state == TokenState::PendingVerification {
            let code = verification_code(settings).map_err(ImportError::Desk)?;
            secrets.push(code.clone());
            Some(code)
        } else {
            None
        };
        if self.mode == Mode::Apply
            && (generated_pass_code.is_some() || verification.is_some())
            && self.output.credentials.is_none()
        {
            return Err(ImportError::NeedsCredentials);
        }
        // Owners are created last, once nothing can reject the row any more.
        let account_id = match &account {
            Some(Owner::Existing(account)) => Some(account.id),
            Some(Owner::New(account)) => Some(tx.insert_account(
                &account.number,
                &account.name,
                Some(self.batch_id),
                self.at,
                self.clerk,
            )?),
            None => None,
        };
        let participant_id = match &participant {
            Some(Owner::Existing(participant)) => Some(participant.id),
            Some(Owner::New(participant)) => {
                let owner_account = account_id.unwrap_or(participant.account_id);
                let signed_up_on = self.at.get(..10).unwrap_or(self.at);
                Some(tx.insert_participant(
                    &participant.number,
                    &participant.name,
                    owner_account,
                    signed_up_on,
                    Some(self.batch_id),
                    self.at,
                    self.clerk,
                )?)
            }
            None => None,
        };
        self.remember(KeyKind::AuthenticationCode, &authentication_code, line);
        if let Some(identifier) = &identifier {
            self.remember(KeyKind::Identifier, &identifier_key(identifier), line);
        }
        let token = PendingToken {
            line,
            authentication_code,
            is_code_generated,
            identifier,
            participant_id,
            account_id,
            state: checked.state,
            generated_pass_code,
            verification_code: verification,
            hashes: None,
            has_pass_code,
        };
        Ok(Verdict::Accepted(Box::new(token), secrets))
    }

    /// Writes the tokens at the head of the window whose hashes are ready, in line order. With
    /// `flush`, or when the window is full, waits for the hashing threads.
    fn pump(&mut self, pool: Option<&HashPool>, flush: bool) -> Result<(), ImportError> {
        if let Some(pool) = pool {
            while let Some(done) = pool.try_done() {
                self.take_hashes(done)?;
            }
        }
        loop {
            match self.window.front() {
                None => return Ok(()),
                Some(Entry::Token(token)) if token.hashes.is_none() => {
                    if !flush && self.window.len() < WINDOW_ROWS {
                        return Ok(());
                    }
                    let done = pool.and_then(HashPool::wait_done).ok_or_else(|| {
                        ImportError::Stopped("the hashing threads stopped".to_owned())
                    })?;
                    self.take_hashes(done)?;
                }
                Some(_) => {
                    let Some(entry) = self.window.pop_front() else {
                        return Ok(());
                    };
                    self.head_ticket += 1;
                    let row = match entry {
                        Entry::Done(row) => row,
                        Entry::Token(token) => self.write_token(*token)?,
                    };
                    self.output
                        .report
                        .row(&row)
                        .map_err(|err| ImportError::Output(err.to_string()))?;
                }
            }
        }
    }

    fn take_hashes(&mut self, done: HashDone) -> Result<(), ImportError> {
        let hashes = done.hashes?;
        let index =
            usize::try_from(done.ticket.saturating_sub(self.head_ticket)).unwrap_or(usize::MAX);
        if let Some(Entry::Token(token)) = self.window.get_mut(index) {
            token.hashes = Some(hashes);
        }
        Ok(())
    }

    fn write_token(&mut self, token: PendingToken) -> Result<ReportRow, ImportError> {
        let number = format!("AT{:010}", self.next_number);
        self.next_number += 1;
        let hashes = token.hashes.unwrap_or_default();
        let mut hashes = hashes.iter().map(String::as_str);
        let pass_code_hash = if token.has_pass_code {
            hashes.next()
        } else {
            None
        };
        let verification_code_hash = if token.verification_code.is_some() {
            hashes.next()
        } else {
            None
        };
        let key = token.identifier.as_deref().map(identifier_key);
        self.tx.insert_token(&NewToken {
            number: &number,
            definition_id: self.definition.id,
            authentication_code: &token.authentication_code,
            identifier: token.identifier.as_deref(),
            identifier_key: key.as_deref(),
            pass_code_hash,
            verification_code_hash,
            verification_expires_at: verification_code_hash.map(|_| self.expires_at.as_str()),
            state: token.state,
            participant_id: token.participant_id,
            account_id: token.account_id,
            import_batch_id: Some(self.batch_id),
            at: self.at,
            by: self.clerk,
        })?;
        for owner in [
            token.participant_id.map(|id| (OwnerKind::Participant, id)),
            token.account_id.map(|id| (OwnerKind::Account, id)),
        ]
        .into_iter()
        .flatten()
        {
            // Entries go when they reach zero: the map holds only owners waiting in the window.
            if let Some(count) = self.pending_by_owner.get_mut(&owner) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    self.pending_by_owner.remove(&owner);
                }
            }
        }
        let has_secrets = token.generated_pass_code.is_some() || token.verification_code.is_some();
        let mut message = Vec::new();
        if token.generated_pass_code.is_some() {
            message.push("pass code generated");
        }
        if token.verification_code.is_some() {
            message.push("verification code issued");
        }
        if self.mode == Mode::Apply && has_secrets {
            let credentials = self
                .output
                .credentials
                .as_deref_mut()
                .ok_or(ImportError::NeedsCredentials)?;
            credentials
                .row(&CredentialRow {
                    token_number: &number,
                    authentication_code: &token.authentication_code,
                    identifier: token.identifier.as_deref(),
                    pass_code: token.generated_pass_code.as_ref(),
                    verification_code: token.verification_code.as_ref(),
                })
                .map_err(|err| ImportError::Output(err.to_string()))?;
            self.generated_secrets += 1;
        }
        let message = if message.is_empty() {
            String::new()
        } else if self.mode == Mode::Apply {
            super::error_sentence(&format!(
                "{}; see the credentials file",
                message.join(" and ")
            ))
        } else {
            super::error_sentence(
                &message
                    .join(" and ")
                    .replace("generated", "would be generated")
                    .replace("issued", "would be issued"),
            )
        };
        Ok(match self.mode {
            Mode::Apply => ReportRow {
                line: token.line,
                outcome: RowOutcome::Created,
                token_number: number,
                authentication_code: token.authentication_code,
                message,
            },
            Mode::Check => ReportRow {
                line: token.line,
                outcome: RowOutcome::WouldCreate,
                token_number: String::new(),
                authentication_code: if token.is_code_generated {
                    String::new()
                } else {
                    token.authentication_code
                },
                message,
            },
        })
    }

    /// Counts, batch record, one audit event for the batch, and the sinks made durable.
    fn finish(self, facts: &source::FileFacts) -> Result<ImportSummary, Flow> {
        let used = self.next_number - self.first_number;
        if used > 0 {
            self.tx.advance_counter("token", used)?;
        }
        let output_error = |err: std::io::Error| Flow::Failed(ImportError::Output(err.to_string()));
        self.output.report.finish().map_err(output_error)?;
        let applied = self.mode == Mode::Apply;
        if applied {
            if let Some(credentials) = self.output.credentials.as_deref_mut() {
                credentials.finish().map_err(output_error)?;
            }
            self.tx.finish_batch(self.batch_id, self.counts, self.at)?;
            self.tx.audit(&NewAuditEvent {
                at: self.at,
                clerk: self.clerk,
                action: "import.batch",
                record_kind: "batch",
                record_number: &self.batch_id.to_string(),
                details: format!(
                    "imported under {}: {} created, {} unchanged, {} rejected ({}; file SHA-256 {})",
                    self.definition.code,
                    self.counts.created,
                    self.counts.unchanged,
                    self.counts.rejected,
                    self.options.mode(),
                    facts.sha256
                ),
                batch_id: Some(self.batch_id),
            })?;
        }
        Ok(ImportSummary {
            batch_id: applied.then_some(self.batch_id),
            applied,
            dry_run: self.options.dry_run,
            created: self.counts.created,
            unchanged: self.counts.unchanged,
            rejected: self.counts.rejected,
            generated_secrets: self.generated_secrets,
            sha256: facts.sha256.clone(),
            delimiter: char::from(facts.delimiter),
        })
    }
}

/// An owner a row names: on file already, or to be created by this import.
enum Owner<T> {
    Existing(T),
    New(T),
}

impl<T> Owner<T> {
    fn record(&self) -> &T {
        match self {
            Self::Existing(record) | Self::New(record) => record,
        }
    }
}

/// Stands for an account the import will create; its id is never looked up.
fn planned_account(number: &str, name: &str) -> AccountRecord {
    AccountRecord {
        id: -1,
        number: number.to_owned(),
        name: name.to_owned(),
        state: AccountState::Active,
        token_count: 0,
        participant_count: 0,
        created_at: String::new(),
        created_by: String::new(),
    }
}

/// Stands for a participant the import will create, of `account` (R30 holds by construction).
fn planned_participant(number: &str, name: &str, account: &AccountRecord) -> ParticipantRecord {
    ParticipantRecord {
        id: -2,
        number: number.to_owned(),
        name: name.to_owned(),
        account_id: account.id,
        account_number: account.number.clone(),
        account_name: account.name.clone(),
        state: ParticipantState::Effective,
        signed_up_on: String::new(),
        token_count: 0,
        created_at: String::new(),
        created_by: String::new(),
    }
}
