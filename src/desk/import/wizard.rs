//! What the window's import wizard needs on top of [`preview`](super::preview) and
//! [`ImportJob`]: how each header column will be read, whether a credentials file is needed
//! (R44), a background run that counts rows and keeps the whole report in a private temporary
//! file for "Save report", and undo on a background thread. The import itself is the command
//! line's: [`ImportJob::run_with`].

use std::fs::File;
use std::io::{Seek as _, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::source::{Column, Columns, ImportSource};
use super::{
    CsvFile, ImportError, ImportJob, ImportProgress, ImportResult, generates_secrets, preview,
};
use crate::desk::jobs::{BackgroundJob, JobStatus, Progress};
use crate::desk::output::OutputFile;
use crate::desk::{Desk, DeskError, describe_io_error};
use crate::domain::SecretHasher;
use crate::storage::{Store, UndoneCounts};

/// Data rows a wizard preview shows.
pub const PREVIEW_ROWS: usize = 8;
/// Characters of one cell shown in a preview.
const PREVIEW_CELL_CHARS: usize = 60;

/// How the import reads a header column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnUse {
    /// A column the import uses (SPEC §7.1).
    Known,
    /// A column of the token export that the import reads past (R40).
    Ignored,
    /// A name the import does not know: it stops the import before any row is applied (R40).
    Unknown,
    /// A column without a name, or a name used twice: it stops the import too.
    Invalid,
}

/// One column of the header row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WizardColumn {
    /// The name as the file spells it (trimmed, shortened).
    pub name: String,
    pub column_use: ColumnUse,
}

/// The start of a file as the wizard shows it, before anything is checked against the database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WizardPreview {
    /// The file name recorded with a batch.
    pub file_name: String,
    pub total_bytes: u64,
    pub delimiter: char,
    pub columns: Vec<WizardColumn>,
    /// `(line, cells)` of the first rows; cells shortened, pass codes masked.
    pub rows: Vec<(u64, Vec<String>)>,
    /// Whether the file has rows beyond those shown.
    pub has_more_rows: bool,
    /// Why the import would stop at the header, as a sentence; nothing can be imported while set.
    pub problem: Option<String>,
    /// The alternative code of the Effective definition, which the rows will follow.
    pub definition_code: String,
    /// Whether the import can generate pass codes or verification codes, so a credentials file
    /// must be chosen before it starts (R44).
    pub generates_secrets: bool,
}

impl WizardPreview {
    /// The delimiter as a clerk names it.
    pub fn delimiter_name(&self) -> &'static str {
        match self.delimiter {
            ';' => "semicolon (;)",
            '\t' => "TAB",
            _ => "comma (,)",
        }
    }
}

impl Desk {
    /// Previews `file` for the window's import wizard: delimiter, how each column is read,
    /// the first rows, and whether the Effective definition will generate secrets.
    pub fn import_preview(&self, file: &Path) -> Result<WizardPreview, ImportError> {
        let definition = self.effective_definition()?;
        let source = ImportSource::File(file);
        let total_bytes = std::fs::metadata(file)
            .map_err(|err| ImportError::io(file, &err))?
            .len();
        let mut seen = preview(source, PREVIEW_ROWS + 1)?;
        let has_more_rows = seen.rows.len() > PREVIEW_ROWS;
        seen.rows.truncate(PREVIEW_ROWS);
        let header = csv::StringRecord::from(seen.columns.clone());
        let (problem, generates) = match Columns::from_header(&header) {
            Ok(columns) => (None, generates_secrets(&definition.settings, &columns)),
            Err(ImportError::UnknownColumn(name)) => (
                Some(format!(
                    "The header row names an unknown column \"{name}\": the import would stop before applying any row. The first line must name the columns (participant_number, participant_name, account_number, account_name, identifier, pass_code, authentication_code, state); check the spelling."
                )),
                false,
            ),
            Err(err) => (Some(err.sentence()), false),
        };
        let is_secret: Vec<bool> = seen.columns.iter().map(|name| looks_secret(name)).collect();
        let rows = seen
            .rows
            .into_iter()
            .map(|(line, cells)| {
                let cells = cells
                    .iter()
                    .enumerate()
                    .map(|(index, cell)| {
                        if is_secret.get(index).copied().unwrap_or(false) && !cell.trim().is_empty()
                        {
                            "****".to_owned()
                        } else {
                            shorten(cell.trim())
                        }
                    })
                    .collect();
                (line, cells)
            })
            .collect();
        Ok(WizardPreview {
            file_name: source.name(),
            total_bytes,
            delimiter: seen.delimiter,
            columns: wizard_columns(&seen.columns),
            rows,
            has_more_rows,
            problem,
            definition_code: definition.code,
            generates_secrets: generates,
        })
    }
}

/// Whether a column's values are kept out of sight: pass codes, and unknown columns whose name
/// suggests a secret (a misspelt `passcode` holds clear pass codes all the same).
fn looks_secret(name: &str) -> bool {
    match Column::parse(name) {
        Some(column) => column == Column::PassCode,
        None => {
            let lower = name.to_lowercase();
            ["pass", "pin", "pwd", "secret", "code"]
                .iter()
                .any(|word| lower.contains(word))
        }
    }
}

fn shorten(text: &str) -> String {
    if text.chars().count() <= PREVIEW_CELL_CHARS {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(PREVIEW_CELL_CHARS).collect();
    cut.push('…');
    cut
}

fn wizard_columns(names: &[String]) -> Vec<WizardColumn> {
    let mut seen: Vec<String> = Vec::new();
    names
        .iter()
        .map(|raw| {
            let name = raw.trim();
            let lower = name.to_lowercase();
            let column_use = if name.is_empty() || seen.contains(&lower) {
                ColumnUse::Invalid
            } else {
                match Column::parse(name) {
                    Some(Column::Informational) => ColumnUse::Ignored,
                    Some(_) => ColumnUse::Known,
                    None => ColumnUse::Unknown,
                }
            };
            seen.push(lower);
            WizardColumn {
                name: shorten(name),
                column_use,
            }
        })
        .collect()
}

/// A window import: the command line's [`ImportJob`] (its `report` is chosen here) and the
/// desk's hasher.
#[derive(Clone, Debug)]
pub struct WindowImport {
    pub job: ImportJob,
    pub hasher: SecretHasher,
}

/// How a window import (or dry run) ended.
#[derive(Debug)]
pub struct WindowRun {
    pub result: Result<ImportResult, ImportError>,
    /// The whole report, when the run got as far as checking the rows.
    pub report: Option<KeptReport>,
    pub elapsed: Duration,
}

/// The report of a run, in an anonymous temporary file: it has no name, so nobody else can open
/// it, and it disappears with the program even when the program is killed.
#[derive(Debug)]
pub struct KeptReport {
    file: File,
    import_file: PathBuf,
}

impl KeptReport {
    /// Writes the report to `destination` (`line,outcome,token_number,authentication_code,message`),
    /// which appears only once complete.
    pub fn save_to(&self, destination: &Path) -> Result<(), DeskError> {
        if same_file(destination, &self.import_file) {
            return Err(DeskError::refused(
                "the report cannot replace the import file; choose another file name",
            ));
        }
        let mut out = OutputFile::create(destination)?;
        let copied = self.file.try_clone().and_then(|mut report| {
            report.seek(SeekFrom::Start(0))?;
            std::io::copy(&mut report, &mut out)
        });
        copied.map_err(|err| {
            DeskError::File(format!(
                "{}: {}",
                destination.display(),
                describe_io_error(&err)
            ))
        })?;
        out.commit()
    }
}

/// A background window import as the window watches it.
pub struct RunningImport {
    job: BackgroundJob<WindowRun>,
    rows: Arc<AtomicU64>,
    started: Instant,
    latest: Progress,
}

impl RunningImport {
    /// Collects progress and, once the thread has ended, the run.
    pub fn poll(&mut self) -> JobStatus<WindowRun> {
        let status = self.job.poll();
        if let JobStatus::Running(progress) = &status {
            self.latest = *progress;
        }
        status
    }

    /// Data rows read so far.
    pub fn rows(&self) -> u64 {
        self.rows.load(Ordering::Relaxed)
    }

    /// Bytes of the file read so far, and the file's size.
    pub fn bytes(&self) -> (u64, u64) {
        (self.latest.done, self.latest.total)
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Asks the import to stop; its transaction is rolled back, so nothing is applied (R43).
    pub fn request_cancel(&self) {
        self.job.request_cancel();
    }
}

/// Starts `import` on a background thread named `import` over its own connection; `wake`
/// runs after each progress report (the window passes its repaint request). A credentials
/// file that exists already is refused, so the secrets of an earlier import are never lost.
pub fn spawn_window_import(
    import: WindowImport,
    wake: impl Fn() + Send + 'static,
) -> std::io::Result<RunningImport> {
    let rows = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&rows);
    let started = Instant::now();
    let job = BackgroundJob::spawn("import", wake, move |context| {
        let WindowImport { mut job, hasher } = import;
        // The report goes to an anonymous file, not to a path. Without one the run still
        // works; only "Save report" is unavailable.
        job.report = None;
        let kept = tempfile::tempfile().ok();
        let sink = kept
            .as_ref()
            .and_then(|file| file.try_clone().ok())
            .and_then(|file| CsvFile::report_into(file).ok());
        let mut progress = |progress: ImportProgress| {
            counted.store(progress.rows, Ordering::Relaxed);
            context.report(Progress {
                done: progress.done_bytes,
                total: progress.total_bytes,
            });
        };
        let is_cancelled = || context.is_cancel_requested();
        let result = refuse_existing_credentials(&job).and_then(|()| {
            let mut desk = Desk::new(Store::open(&job.database)?, hasher, &job.clerk);
            job.run_reporting_to(&mut desk, sink, &mut progress, &is_cancelled)
        });
        let report = match (kept, &result) {
            (Some(file), Ok(_)) => Some(KeptReport {
                file,
                import_file: job.file.clone(),
            }),
            _ => None,
        };
        WindowRun {
            result,
            report,
            elapsed: started.elapsed(),
        }
    })?;
    Ok(RunningImport {
        job,
        rows,
        started,
        latest: Progress::default(),
    })
}

fn refuse_existing_credentials(job: &ImportJob) -> Result<(), ImportError> {
    match &job.credentials {
        Some(path) if !job.options.dry_run && path.exists() => Err(DeskError::refused(format!(
            "{} already exists; choose a new file for the credentials so the secrets it holds are not overwritten",
            path.display()
        ))
        .into()),
        _ => Ok(()),
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// What a background undo needs: its own connection to `database`.
#[derive(Clone, Debug)]
pub struct UndoJob {
    pub database: PathBuf,
    pub clerk: String,
    pub hasher: SecretHasher,
    pub batch_id: i64,
}

/// Starts [`Desk::undo_batch`] on a background thread named `undo`: a large batch takes a
/// while to remove, and the window stays responsive meanwhile.
pub fn spawn_undo(
    job: UndoJob,
    wake: impl Fn() + Send + 'static,
) -> std::io::Result<BackgroundJob<Result<UndoneCounts, DeskError>>> {
    BackgroundJob::spawn("undo", wake, move |_| {
        let mut desk = Desk::new(Store::open(&job.database)?, job.hasher, &job.clerk);
        desk.undo_batch(job.batch_id)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_uses_follow_the_header_rules() {
        let names: Vec<String> = ["identifier", "created_at", "passcode", "", "Identifier"]
            .iter()
            .map(|name| (*name).to_owned())
            .collect();
        let uses: Vec<ColumnUse> = wizard_columns(&names)
            .iter()
            .map(|column| column.column_use)
            .collect();
        assert_eq!(
            uses,
            [
                ColumnUse::Known,
                ColumnUse::Ignored,
                ColumnUse::Unknown,
                ColumnUse::Invalid,
                ColumnUse::Invalid
            ]
        );
    }

    #[test]
    fn pass_codes_and_secret_looking_unknown_columns_are_masked() {
        assert!(looks_secret("pass_code"));
        assert!(looks_secret("Passcode"));
        assert!(looks_secret("PIN"));
        assert!(!looks_secret("identifier"));
        assert!(!looks_secret("authentication_code"));
        assert!(!looks_secret("colour"));
    }

    #[test]
    fn long_cells_are_shortened() {
        assert_eq!(shorten("abc"), "abc");
        assert_eq!(
            shorten(&"x".repeat(70)).chars().count(),
            PREVIEW_CELL_CHARS + 1
        );
    }
}
