//! The window's import: [`ImportJob`] runs [`Desk::import_csv`] on a named background thread
//! over its own connection (the window's desk stays free to read), keeps the whole report in a
//! private temporary file for "Save report", and the first rejected rows for the wizard's grid.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::{
    CredentialsSink, CsvFile, ImportError, ImportOptions, ImportOutput, ImportProgress,
    ImportSource, ImportSummary, ReportRow, ReportSink, RowOutcome,
};
use crate::desk::jobs::{BackgroundJob, JobContext, JobStatus, Progress};
use crate::desk::{Desk, DeskError, describe_io_error};
use crate::domain::SecretHasher;
use crate::storage::{Store, UndoneCounts};

/// Rejected rows kept in memory for the wizard's grid; the report file has them all.
pub const REJECTED_KEPT: usize = 1000;

/// Everything a background import needs; it opens its own connection to `database`.
#[derive(Clone, Debug)]
pub struct ImportJob {
    pub database: PathBuf,
    pub clerk: String,
    pub hasher: SecretHasher,
    pub file: PathBuf,
    pub options: ImportOptions,
    /// Where generated secrets go (R44); a file that already exists is refused, so the secrets
    /// of an earlier import are never overwritten.
    pub credentials: Option<PathBuf>,
}

/// How a background import (or dry run) ended.
#[derive(Debug)]
pub struct ImportRun {
    pub result: Result<ImportSummary, ImportError>,
    /// The first [`REJECTED_KEPT`] rejected rows, in line order.
    pub rejected: Vec<ReportRow>,
    /// The whole report, when the run got as far as checking the rows.
    pub report: Option<KeptReport>,
    pub elapsed: Duration,
}

/// The report of a run in a temporary file readable by its owner only; removed when dropped.
#[derive(Debug)]
pub struct KeptReport {
    path: PathBuf,
    import_file: PathBuf,
    pub rows: u64,
}

impl KeptReport {
    /// Copies the report to `destination` (`line,outcome,token_number,authentication_code,message`).
    pub fn save_to(&self, destination: &Path) -> Result<(), DeskError> {
        if same_file(destination, &self.import_file) {
            return Err(DeskError::refused(
                "the report cannot replace the import file; choose another file name",
            ));
        }
        std::fs::copy(&self.path, destination).map_err(|err| {
            DeskError::File(format!(
                "{}: {}",
                destination.display(),
                describe_io_error(&err)
            ))
        })?;
        Ok(())
    }
}

impl Drop for KeptReport {
    fn drop(&mut self) {
        // Best effort: a leftover file in the temporary folder is readable by its owner only.
        std::fs::remove_file(&self.path).ok();
    }
}

/// A background import as the window watches it.
pub struct RunningImport {
    job: BackgroundJob<ImportRun>,
    rows: Arc<AtomicU64>,
    started: Instant,
    latest: Progress,
}

impl RunningImport {
    /// Collects progress and, once the thread has ended, the run.
    pub fn poll(&mut self) -> JobStatus<ImportRun> {
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

/// Starts `job` on a background thread named `import`; `wake` runs after each progress report
/// (the window passes its repaint request).
pub fn spawn_import(
    job: ImportJob,
    wake: impl Fn() + Send + 'static,
) -> std::io::Result<RunningImport> {
    let rows = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&rows);
    let started = Instant::now();
    let background =
        BackgroundJob::spawn("import", wake, move |context| job.run(context, &counted))?;
    Ok(RunningImport {
        job: background,
        rows,
        started,
        latest: Progress::default(),
    })
}

impl ImportJob {
    /// Runs the import on the calling thread, reporting bytes to `context` and rows to `rows`.
    pub fn run(&self, context: &JobContext, rows: &AtomicU64) -> ImportRun {
        let started = Instant::now();
        let mut report = WindowReport::new(&self.file);
        let result = self.run_into(&mut report, context, rows);
        let kept = if result.is_ok() {
            report.finish_kept()
        } else {
            None
        };
        ImportRun {
            result,
            rejected: std::mem::take(&mut report.rejected),
            report: kept,
            elapsed: started.elapsed(),
        }
    }

    fn run_into(
        &self,
        report: &mut WindowReport,
        context: &JobContext,
        rows: &AtomicU64,
    ) -> Result<ImportSummary, ImportError> {
        let credentials_path = self
            .credentials
            .as_deref()
            .filter(|_| !self.options.dry_run);
        if let Some(path) = credentials_path {
            if same_file(path, &self.file) {
                return Err(DeskError::refused(
                    "the credentials file cannot be the import file; choose another file name",
                )
                .into());
            }
            if path.exists() {
                return Err(DeskError::refused(format!(
                    "{} already exists; choose a new file for the credentials so the secrets it holds are not overwritten",
                    path.display()
                ))
                .into());
            }
        }
        let mut desk = Desk::new(
            Store::open(&self.database)?,
            self.hasher.clone(),
            &self.clerk,
        );
        let mut credentials_file = match credentials_path {
            Some(path) => {
                Some(CsvFile::create_credentials(path).map_err(|err| ImportError::io(path, &err))?)
            }
            None => None,
        };
        let mut progress = |progress: ImportProgress| {
            rows.store(progress.rows, Ordering::Relaxed);
            context.report(Progress {
                done: progress.done_bytes,
                total: progress.total_bytes,
            });
        };
        let is_cancelled = || context.is_cancel_requested();
        let result = {
            let mut output = ImportOutput {
                report,
                credentials: credentials_file
                    .as_mut()
                    .map(|file| file as &mut dyn CredentialsSink),
                progress: &mut progress,
                is_cancelled: &is_cancelled,
            };
            desk.import_csv(ImportSource::File(&self.file), self.options, &mut output)
        };
        drop(credentials_file);
        if let Some(path) = credentials_path
            && !matches!(&result, Ok(summary) if summary.applied)
        {
            // Nothing was applied, so the file holds no secret anyone needs; best effort.
            std::fs::remove_file(path).ok();
        }
        result
    }
}

/// The window's report sink: every row to a private temporary file, the first rejected rows
/// in memory.
struct WindowReport {
    file: Option<(PathBuf, CsvFile)>,
    import_file: PathBuf,
    rejected: Vec<ReportRow>,
    rows: u64,
}

impl WindowReport {
    fn new(import_file: &Path) -> Self {
        // Without a temporary file the run still works; only "Save report" is unavailable.
        let file = private_temp_file().ok().and_then(|path| {
            let file = CsvFile::create_report(&path).ok()?;
            Some((path, file))
        });
        Self {
            file,
            import_file: import_file.to_owned(),
            rejected: Vec::new(),
            rows: 0,
        }
    }

    fn finish_kept(&mut self) -> Option<KeptReport> {
        let (path, file) = self.file.take()?;
        drop(file);
        Some(KeptReport {
            path,
            import_file: self.import_file.clone(),
            rows: self.rows,
        })
    }
}

impl Drop for WindowReport {
    fn drop(&mut self) {
        if let Some((path, _)) = self.file.take() {
            std::fs::remove_file(path).ok();
        }
    }
}

impl ReportSink for WindowReport {
    fn restart(&mut self) -> std::io::Result<()> {
        self.rejected.clear();
        self.rows = 0;
        match &mut self.file {
            Some((_, file)) => ReportSink::restart(file),
            None => Ok(()),
        }
    }

    fn row(&mut self, row: &ReportRow) -> std::io::Result<()> {
        self.rows += 1;
        if row.outcome == RowOutcome::Rejected && self.rejected.len() < REJECTED_KEPT {
            self.rejected.push(row.clone());
        }
        match &mut self.file {
            Some((_, file)) => ReportSink::row(file, row),
            None => Ok(()),
        }
    }

    fn finish(&mut self) -> std::io::Result<()> {
        match &mut self.file {
            Some((_, file)) => ReportSink::finish(file),
            None => Ok(()),
        }
    }
}

/// Creates a new empty file in the temporary folder, readable by its owner only.
fn private_temp_file() -> std::io::Result<PathBuf> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir();
    loop {
        let number = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!(
            "tokendesk-report-{}-{number}.csv",
            std::process::id()
        ));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        match options.open(&path) {
            Ok(_) => return Ok(path),
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists && number < 10_000 => {}
            Err(err) => return Err(err),
        }
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
