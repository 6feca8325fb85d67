//! An import with its files: the report and credentials files created, removed when they hold
//! nothing applied, and the first rejected rows kept for the window's grid. Runs on the calling
//! thread ([`ImportJob::run_with`], the command line) or on a background thread ([`spawn_import`]).

use std::path::PathBuf;

use super::{
    CredentialsSink, CsvFile, ImportError, ImportOptions, ImportOutput, ImportProgress,
    ImportSource, ImportSummary, ReportRow, ReportSink, RowOutcome,
};
use crate::desk::Desk;
use crate::desk::jobs::{BackgroundJob, JobContext, Progress};

/// How many rejected rows are kept in memory for the clerk to see.
pub const REJECTED_KEPT: usize = 1000;

/// Everything an import needs apart from the desk. Plain data, so it can move to a thread.
#[derive(Clone, Debug)]
pub struct ImportJob {
    /// The database, opened again by a background job (a connection stays on its thread).
    pub database: PathBuf,
    pub clerk: String,
    pub file: PathBuf,
    pub options: ImportOptions,
    /// Where the report goes (one line per data row), if anywhere.
    pub report: Option<PathBuf>,
    /// Where generated secrets go (R44). Not created by a dry run.
    pub credentials: Option<PathBuf>,
}

/// What an import did, with the first rejected rows.
#[derive(Clone, Debug)]
pub struct ImportResult {
    pub summary: ImportSummary,
    /// At most [`REJECTED_KEPT`] rejected rows, in file order.
    pub rejected: Vec<ReportRow>,
}

/// The report file (if any), plus the first rejected rows in memory.
struct KeptReport {
    file: Option<CsvFile>,
    rejected: Vec<ReportRow>,
}

impl ReportSink for KeptReport {
    fn restart(&mut self) -> std::io::Result<()> {
        self.rejected.clear();
        self.file.as_mut().map_or(Ok(()), ReportSink::restart)
    }

    fn row(&mut self, row: &ReportRow) -> std::io::Result<()> {
        if row.outcome == RowOutcome::Rejected && self.rejected.len() < REJECTED_KEPT {
            self.rejected.push(row.clone());
        }
        self.file
            .as_mut()
            .map_or(Ok(()), |file| ReportSink::row(file, row))
    }

    fn finish(&mut self) -> std::io::Result<()> {
        self.file.as_mut().map_or(Ok(()), ReportSink::finish)
    }
}

impl ImportJob {
    /// Runs the import on the calling thread with `desk`.
    pub fn run_with(
        &self,
        desk: &mut Desk,
        progress: &mut dyn FnMut(ImportProgress),
        is_cancelled: &dyn Fn() -> bool,
    ) -> Result<ImportResult, ImportError> {
        self.check_files()?;
        let report = match &self.report {
            Some(path) => {
                Some(CsvFile::create_report(path).map_err(|err| ImportError::io(path, &err))?)
            }
            None => None,
        };
        let result = self.run_reporting_to(desk, report, progress, is_cancelled);
        if result.is_err()
            && let Some(path) = &self.report
        {
            // Best effort: what it holds was not applied; the import's own outcome matters.
            std::fs::remove_file(path).ok();
        }
        result
    }

    /// [`ImportJob::run_with`] with the report going to `report`, a file opened by the caller
    /// (the window's is anonymous, so nothing is left behind if the program is killed).
    pub fn run_reporting_to(
        &self,
        desk: &mut Desk,
        report: Option<CsvFile>,
        progress: &mut dyn FnMut(ImportProgress),
        is_cancelled: &dyn Fn() -> bool,
    ) -> Result<ImportResult, ImportError> {
        self.check_files()?;
        let credentials_path = self.credentials.as_ref().filter(|_| !self.options.dry_run);
        let mut credentials_file = match credentials_path {
            Some(path) => {
                Some(CsvFile::create_credentials(path).map_err(|err| ImportError::io(path, &err))?)
            }
            None => None,
        };
        let mut report = KeptReport {
            file: report,
            rejected: Vec::new(),
        };
        let result = {
            let mut output = ImportOutput {
                report: &mut report,
                credentials: credentials_file
                    .as_mut()
                    .map(|file| file as &mut dyn CredentialsSink),
                progress,
                is_cancelled,
            };
            desk.import_csv(ImportSource::File(&self.file), self.options, &mut output)
        };
        drop(credentials_file);
        let KeptReport { file, rejected } = report;
        drop(file);
        let applied = result.as_ref().is_ok_and(|summary| summary.applied);
        if !applied && let Some(path) = credentials_path {
            // Best effort: the secrets it holds were not applied.
            std::fs::remove_file(path).ok();
        }
        result.map(|summary| ImportResult { summary, rejected })
    }

    /// The import file exists, and it, the report and the credentials file are three files.
    fn check_files(&self) -> Result<(), ImportError> {
        let outputs = [self.report.as_ref(), self.credentials.as_ref()];
        let same = |a: &PathBuf, b: &PathBuf| match (a.canonicalize(), b.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => a == b,
        };
        if outputs.iter().flatten().any(|out| same(out, &self.file))
            || matches!(outputs, [Some(r), Some(c)] if same(r, c))
        {
            return Err(ImportError::Header(
                "the import file, the report and the credentials file must be three different files"
                    .to_owned(),
            ));
        }
        std::fs::metadata(&self.file).map_err(|err| ImportError::io(&self.file, &err))?;
        Ok(())
    }

    /// Runs the import on the calling thread with its own desk, reporting to `context`
    /// (progress in bytes of the file).
    pub fn run(&self, context: &JobContext) -> Result<ImportResult, ImportError> {
        let mut desk = Desk::open(&self.database, &self.clerk)?;
        let mut progress = |p: ImportProgress| {
            context.report(Progress {
                done: p.done_bytes,
                total: p.total_bytes,
            });
        };
        let is_cancelled = || context.is_cancel_requested();
        self.run_with(&mut desk, &mut progress, &is_cancelled)
    }
}

/// Starts `job` on a background thread named `import`; `wake` runs after each progress report
/// (the window passes its repaint request). Cancelling rolls the whole import back (R43).
pub fn spawn_import(
    job: ImportJob,
    wake: impl Fn() + Send + 'static,
) -> std::io::Result<BackgroundJob<Result<ImportResult, ImportError>>> {
    BackgroundJob::spawn("import", wake, move |context| job.run(context))
}
