//! Token export to CSV (SPEC §8, R60–R62): fixed columns with no secret among them, a guard
//! against spreadsheet formulas, streamed in keyset pages, and audited with its SHA-256.
//!
//! The export is a plain synchronous function with a progress callback and a cancel check, so the
//! window can run it on a named background thread over its own connection.

use std::borrow::Cow;
use std::io::Write;
use std::path::PathBuf;

use sha2::{Digest as _, Sha256};

use super::jobs::{BackgroundJob, JobContext, Progress};
use super::{Desk, DeskError, describe_io_error};
use crate::domain::TokenRecord;
use crate::storage::{SortDirection, TokenCursor, TokenFilter, TokenSort};

/// The columns of the token export, in order (SPEC §8). There is deliberately no column for a
/// pass code, a hash or a verification code (R60), and the token import knows every one of them.
pub const TOKEN_EXPORT_COLUMNS: [&str; 15] = [
    "token_number",
    "definition",
    "state",
    "authentication_code",
    "identifier",
    "participant_number",
    "participant_name",
    "account_number",
    "account_name",
    "created_at",
    "created_by",
    "verified_at",
    "last_used_at",
    "locked",
    "import_batch",
];

/// Rows fetched per keyset page: memory stays bounded whatever the size of the database.
const PAGE_ROWS: usize = 2_000;

/// UTF-8 byte order mark: makes Excel read the file as UTF-8.
const BOM: &[u8] = "\u{FEFF}".as_bytes();

/// How the file is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExportOptions {
    /// *Excel-friendly*: start the file with a UTF-8 byte order mark (R61).
    pub excel_bom: bool,
}

/// How far an export has come; reported after every page.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExportProgress {
    pub rows_written: u64,
    /// Tokens read so far (more than `rows_written` when a worklist drops some).
    pub rows_scanned: u64,
    /// Tokens the filter shows, counted at the start.
    pub total_rows: u64,
}

impl ExportProgress {
    /// Done so far, from 0.0 to 1.0.
    pub fn fraction(&self) -> f32 {
        if self.total_rows == 0 {
            1.0
        } else {
            (self.rows_scanned as f64 / self.total_rows as f64).min(1.0) as f32
        }
    }
}

/// What an export wrote; the same facts are in its audit event (R62).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportSummary {
    /// Data rows, not counting the header.
    pub rows: u64,
    pub bytes: u64,
    /// SHA-256 of every byte written, BOM included, as lower-case hex.
    pub sha256: String,
    /// The clerk cancelled: the output holds only the first `rows` rows.
    pub was_cancelled: bool,
}

/// Guards one cell against spreadsheet formula injection (R61): a cell beginning with `=`, `+`,
/// `-`, `@`, TAB or CR gets a leading `'`. The import removes one `'` before `=`, `+`, `-` or
/// `@` (SPEC §7.1), so guarded values come back as they were. (Identifiers and names cannot hold
/// TAB or CR; the guard covers them anyway.)
pub fn guard_cell(value: &str) -> Cow<'_, str> {
    // A value that itself begins with quotes before a formula character gets one more quote,
    // so that `unguard_cell` gives back every value, those too.
    if formula_after_quotes(value) || value.starts_with(['\t', '\r']) {
        Cow::Owned(format!("'{value}"))
    } else {
        Cow::Borrowed(value)
    }
}

/// Whether `value`, once any leading `'` are skipped, begins with `=`, `+`, `-` or `@`.
fn formula_after_quotes(value: &str) -> bool {
    value
        .trim_start_matches('\'')
        .starts_with(['=', '+', '-', '@'])
}

/// Undoes [`guard_cell`] for a value read from a CSV file (SPEC §7.1): one leading `'` is
/// removed before `=`, `+`, `-` or `@` (or before more quotes and then one of them).
pub fn unguard_cell(value: &str) -> &str {
    match value.strip_prefix('\'') {
        Some(rest) if formula_after_quotes(rest) => rest,
        _ => value,
    }
}

/// The cells of one exported token, in the order of [`TOKEN_EXPORT_COLUMNS`], before the guard.
pub fn token_export_cells(token: &TokenRecord) -> [Cow<'_, str>; 15] {
    fn text(value: &Option<String>) -> Cow<'_, str> {
        Cow::Borrowed(value.as_deref().unwrap_or(""))
    }
    [
        Cow::Borrowed(token.number.as_str()),
        Cow::Borrowed(token.definition.as_str()),
        Cow::Borrowed(token.state.as_str()),
        Cow::Borrowed(token.authentication_code.as_str()),
        text(&token.identifier),
        text(&token.participant_number),
        text(&token.participant_name),
        text(&token.account_number),
        text(&token.account_name),
        Cow::Borrowed(token.created_at.as_str()),
        Cow::Borrowed(token.created_by.as_str()),
        text(&token.verified_at),
        text(&token.last_used_at),
        Cow::Borrowed(if token.locked { "true" } else { "false" }),
        Cow::Owned(
            token
                .import_batch
                .map(|id| id.to_string())
                .unwrap_or_default(),
        ),
    ]
}

/// A writer that passes bytes on while counting them and computing their SHA-256.
pub(super) struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> HashingWriter<W> {
    pub(super) fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    /// Starts the file: the byte order mark when Excel-friendly (R61).
    pub(super) fn start(&mut self, options: ExportOptions) -> Result<(), DeskError> {
        if options.excel_bom {
            self.write_all(BOM)
                .map_err(|err| csv_write_error(csv::Error::from(err)))?;
        }
        Ok(())
    }

    /// Bytes written so far and their SHA-256 in lower-case hex.
    pub(super) fn finish(self) -> (u64, String) {
        (self.bytes, format!("{:x}", self.hasher.finalize()))
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.hasher.update(&buf[..written]);
        self.bytes += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// One sentence for a failed CSV write.
/// Writes one CSV row of `cells`, each through the formula guard (R61), without allocating.
pub(super) fn write_guarded_row<W: Write>(
    writer: &mut csv::Writer<W>,
    cells: &[impl AsRef<str>],
) -> Result<(), DeskError> {
    for cell in cells {
        writer
            .write_field(guard_cell(cell.as_ref()).as_bytes())
            .map_err(csv_write_error)?;
    }
    // An empty record ends the one the fields above started.
    writer.write_record(None::<&[u8]>).map_err(csv_write_error)
}

/// Flushes the CSV writer of an export.
pub(super) fn flush_csv<W: Write>(writer: &mut csv::Writer<W>) -> Result<(), DeskError> {
    writer
        .flush()
        .map_err(|err| csv_write_error(csv::Error::from(err)))
}

/// What an export's audit details add when the file starts with a byte order mark.
pub(super) fn bom_note(options: ExportOptions) -> &'static str {
    if options.excel_bom { "; with BOM" } else { "" }
}

pub(super) fn csv_write_error(err: csv::Error) -> DeskError {
    match err.into_kind() {
        csv::ErrorKind::Io(io) => DeskError::File(format!(
            "the export could not be written: {}",
            describe_io_error(&io)
        )),
        other => DeskError::File(format!("the export could not be written: {other:?}")),
    }
}

/// The filter as compact JSON, with only the fields that differ from "show everything".
pub fn describe_filter(filter: &TokenFilter) -> String {
    let full = serde_json::to_value(filter).unwrap_or_default();
    let everything = serde_json::to_value(TokenFilter::default()).unwrap_or_default();
    match (full, everything) {
        (serde_json::Value::Object(mut fields), serde_json::Value::Object(defaults)) => {
            fields.retain(|name, value| defaults.get(name) != Some(value));
            serde_json::Value::Object(fields).to_string()
        }
        (other, _) => other.to_string(),
    }
}

/// What the export loop needs besides the database: where to write and whom to tell.
pub(super) struct ExportRun<'a> {
    pub filter: &'a TokenFilter,
    /// Drops tokens the filter cannot express (the R7 worklist); `None` keeps every one.
    pub keep: Option<&'a dyn Fn(&TokenRecord) -> bool>,
    pub progress: &'a mut dyn FnMut(ExportProgress),
    pub should_stop: &'a dyn Fn() -> bool,
}

impl Desk {
    /// Writes the tokens `filter` shows as CSV to `out` (SPEC §8) and audits the export with the
    /// filter, the row count and the SHA-256 of the output (R62).
    ///
    /// `progress` hears after every page; `should_stop` is asked before every page, and a
    /// cancelled export ends with `was_cancelled` (and is audited as such, since rows left).
    pub fn export_tokens(
        &mut self,
        filter: &TokenFilter,
        options: ExportOptions,
        out: &mut dyn Write,
        progress: &mut dyn FnMut(ExportProgress),
        should_stop: &dyn Fn() -> bool,
    ) -> Result<ExportSummary, DeskError> {
        let run = ExportRun {
            filter,
            keep: None,
            progress,
            should_stop,
        };
        self.export_run("tokens", run, options, out)
    }

    /// The export behind every token export: pages, guard, hash, audit. `what` names the
    /// export in the audit event ("tokens", or a worklist).
    pub(super) fn export_run(
        &mut self,
        what: &str,
        run: ExportRun<'_>,
        options: ExportOptions,
        out: &mut dyn Write,
    ) -> Result<ExportSummary, DeskError> {
        let mut sink = HashingWriter::new(out);
        let mut rows = 0u64;
        let mut was_cancelled = false;
        // One snapshot: the count and every page agree even while the window keeps writing
        // through its own connection.
        let written = self.store.read_snapshot(|db| -> Result<(), DeskError> {
            let total_rows = db.count_tokens(run.filter)?;
            sink.start(options)?;
            let mut writer = csv::WriterBuilder::new().from_writer(&mut sink);
            writer
                .write_record(TOKEN_EXPORT_COLUMNS)
                .map_err(csv_write_error)?;
            let mut after_id = 0i64;
            let mut cursor: Option<TokenCursor> = None;
            let mut scanned = 0u64;
            loop {
                if (run.should_stop)() {
                    was_cancelled = true;
                    break;
                }
                let mut page_rows = 0usize;
                let mut write_cells = |cells: &[&str]| -> Result<(), DeskError> {
                    write_guarded_row(&mut writer, cells)?;
                    rows += 1;
                    Ok(())
                };
                let last_id = match run.keep {
                    // The usual case: cells straight from SQLite, nothing allocated per row.
                    None => db.export_token_page(
                        run.filter,
                        after_id,
                        PAGE_ROWS,
                        &mut |cells: &[&str; 15]| {
                            page_rows += 1;
                            write_cells(cells)
                        },
                    )?,
                    // A worklist the filter cannot express looks at whole token records.
                    Some(keep) => {
                        let page = db.list_tokens(
                            run.filter,
                            TokenSort::Number,
                            SortDirection::Ascending,
                            cursor.as_ref(),
                            PAGE_ROWS,
                        )?;
                        page_rows = page.len();
                        for token in page.iter().filter(|token| keep(token)) {
                            let cells = token_export_cells(token);
                            let cells: Vec<&str> = cells.iter().map(|cell| cell.as_ref()).collect();
                            write_cells(&cells)?;
                        }
                        cursor = page
                            .last()
                            .map(|token| TokenCursor::after(token, TokenSort::Number));
                        page.last().map(|token| token.id)
                    }
                };
                let Some(last_id) = last_id else {
                    break;
                };
                after_id = last_id;
                scanned += page_rows as u64;
                (run.progress)(ExportProgress {
                    rows_written: rows,
                    rows_scanned: scanned,
                    total_rows,
                });
                if page_rows < PAGE_ROWS {
                    break;
                }
            }
            writer.flush().map_err(|err| {
                DeskError::File(format!(
                    "the export could not be written: {}",
                    describe_io_error(&err)
                ))
            })
        });
        let (bytes, sha256) = sink.finish();
        let outcome = outcome_word(&written, was_cancelled);
        // The filter holds the definition's row id; the clerk reading the log knows its code.
        let definition = match run.filter.definition_id {
            Some(id) => match self.store.db().definition_by_id(id)? {
                Some(definition) => format!(" (definition {})", definition.code),
                None => String::new(),
            },
            None => String::new(),
        };
        let details = format!(
            "export of {what} {outcome}; filter {}{definition}; {rows} rows; sha256 {sha256}{}",
            describe_filter(run.filter),
            bom_note(options)
        );
        self.change(|tx, audit| Ok(audit.record(tx, "export.tokens", "export", "", details)?))?;
        written?;
        Ok(ExportSummary {
            rows,
            bytes,
            sha256,
            was_cancelled,
        })
    }
}

/// What a background export writes.
#[derive(Clone, Debug, PartialEq)]
pub enum ExportTarget {
    /// The tokens a filter shows (the Tokens panel's current filter).
    Tokens(TokenFilter),
    /// A worklist: tokens with the token columns, or the participants without an Effective token.
    Worklist(super::reports::Worklist),
    /// The summary report as CSV (with a BOM when the Excel-friendly option is on).
    Summary,
}

/// Everything a background export needs: it opens its own connection to `database`, so the
/// window's desk stays free.
#[derive(Clone, Debug)]
pub struct ExportJob {
    pub database: PathBuf,
    pub clerk: String,
    pub target: ExportTarget,
    pub options: ExportOptions,
    /// The file to write; a partial file is removed when the export fails or is cancelled.
    pub out_path: PathBuf,
}

impl ExportJob {
    /// Runs the export on the calling thread, reporting to `context`. [`spawn_export`] runs it
    /// on a named background thread.
    pub fn run(&self, context: &JobContext) -> Result<ExportSummary, DeskError> {
        let mut desk = Desk::open(&self.database, &self.clerk)?;
        let mut out = super::output::OutputFile::create(&self.out_path)?;
        let mut progress = |p: ExportProgress| {
            context.report(Progress {
                done: p.rows_scanned,
                total: p.total_rows,
            });
        };
        let should_stop = || context.is_cancel_requested();
        let result = match &self.target {
            ExportTarget::Tokens(filter) => {
                desk.export_tokens(filter, self.options, &mut out, &mut progress, &should_stop)
            }
            ExportTarget::Worklist(worklist) if !worklist.lists_tokens() => desk
                .export_participants_without_effective_token(
                    self.options,
                    &mut out,
                    &mut progress,
                    &should_stop,
                ),
            ExportTarget::Worklist(worklist) => desk.export_worklist(
                *worklist,
                self.options,
                &mut out,
                &mut progress,
                &should_stop,
            ),
            ExportTarget::Summary => {
                let mut sink = HashingWriter::new(&mut out);
                desk.export_summary_report(self.options, &mut sink)
                    .map(|report| {
                        let (bytes, sha256) = sink.finish();
                        ExportSummary {
                            rows: report.csv_rows().len() as u64,
                            bytes,
                            sha256,
                            was_cancelled: false,
                        }
                    })
            }
        };
        // A cancelled or failed export leaves nothing under the chosen name (and an older
        // file of that name untouched); a complete one is synced and moved into place.
        let result = match result {
            Ok(summary) if !summary.was_cancelled => out.commit().map(|()| summary),
            other => other,
        };
        result.map_err(|err| match err {
            DeskError::File(message) => {
                DeskError::File(format!("{}: {message}", self.out_path.display()))
            }
            other => other,
        })
    }
}

/// Starts `job` on a background thread named `export`; `wake` runs after each page (the window
/// passes its repaint request). Progress counts tokens read out of the filter's total.
pub fn spawn_export(
    job: ExportJob,
    wake: impl Fn() + Send + 'static,
) -> std::io::Result<BackgroundJob<Result<ExportSummary, DeskError>>> {
    BackgroundJob::spawn("export", wake, move |context| job.run(context))
}

/// How an export ended, as its audit event says it (R62): completed, cancelled or failed.
pub(super) fn outcome_word<E: std::fmt::Display>(
    written: &Result<(), E>,
    was_cancelled: bool,
) -> String {
    match (written, was_cancelled) {
        (Err(err), _) => format!("failed ({err})"),
        (Ok(()), true) => "cancelled".to_owned(),
        (Ok(()), false) => "completed".to_owned(),
    }
}
