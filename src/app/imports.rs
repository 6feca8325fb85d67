//! The app's side of the Imports place: runs the wizard's commands through the desk (preview,
//! dry run and import on a background thread, cancel, save report, undo) and watches the
//! background import and the wizard's file dialogs. While an import runs, other changes wait.

use std::path::{Path, PathBuf};

use super::{Stale, TokenDeskApp};
use crate::desk::import::{
    ImportError, ImportJob, ImportSource, ImportSummary, KeptReport, RunningImport, UndoJob,
    UndoneCounts, WindowImport, WindowRun, spawn_undo, spawn_window_import,
};
use crate::desk::jobs::{BackgroundJob, JobStatus};
use crate::ui::imports::{ImportCommand, PickTarget, PreviewView, RunOutcome, RunProgress};
use crate::ui::reports::ReportsCommand;
use crate::ui::{Command, Place, group_digits};

/// Background work of the Imports place.
#[derive(Default)]
pub(super) struct ImportJobs {
    running: Option<Running>,
    pick: Option<(PickTarget, BackgroundJob<Option<PathBuf>>)>,
    /// The whole report of the last run, kept for "Save report".
    report: Option<KeptReport>,
    undo: Option<(i64, UndoTask)>,
}

type UndoTask = BackgroundJob<Result<UndoneCounts, crate::desk::DeskError>>;

impl ImportJobs {
    /// Whether a run or a file dialog is still going.
    pub(super) fn is_busy(&self) -> bool {
        self.running.is_some() || self.pick.is_some() || self.undo.is_some()
    }
}

struct Running {
    import: RunningImport,
    dry_run: bool,
    file_name: String,
    credentials: Option<PathBuf>,
    is_cancelling: bool,
}

impl TokenDeskApp {
    /// Refuses a change while an import holds the database's write lock (it would only wait
    /// and fail); the clerk reads why. Returns whether `command` was refused.
    pub(super) fn refused_while_importing(&mut self, is_write: bool, command: &Command) -> bool {
        let is_change = is_write
            || matches!(
                command,
                Command::OpenDatabase { .. }
                    | Command::Import(ImportCommand::Undo(_))
                    // Both run in a write transaction on the window's desk.
                    | Command::Reports(
                        ReportsCommand::PreviewBulk { .. } | ReportsCommand::ApplyBulk { .. }
                    )
            );
        if !is_change {
            return false;
        }
        if self.imports.undo.is_some() {
            self.notify(
                true,
                "A batch is being undone, so changes wait a moment; try again when it is done.",
            );
            return true;
        }
        // A dry run holds the write lock too: it checks inside a transaction it rolls back.
        match &self.imports.running {
            Some(running) => {
                let what = if running.dry_run {
                    "A dry run"
                } else {
                    "An import"
                };
                self.notify(
                    true,
                    format!("{what} is running, so changes are paused; wait for it to finish or cancel it in Imports."),
                );
                true
            }
            None => false,
        }
    }

    pub(super) fn apply_import(&mut self, ctx: &egui::Context, command: ImportCommand) {
        match command {
            ImportCommand::Pick(target) => self.pick_import_path(ctx, target),
            ImportCommand::Preview(path) => self.preview_import(path),
            ImportCommand::Start {
                file,
                options,
                credentials,
            } => self.start_import(ctx, file, options, credentials),
            ImportCommand::Cancel => {
                if let Some(running) = &mut self.imports.running {
                    running.import.request_cancel();
                    running.is_cancelling = true;
                }
                self.show_progress();
            }
            ImportCommand::SaveReport(path) => match &self.imports.report {
                Some(report) => match report.save_to(&path) {
                    Ok(()) => self.notify(
                        false,
                        format!("The report was saved to {}.", path.display()),
                    ),
                    Err(err) => self.report(&err),
                },
                None => self.notify(
                    true,
                    "There is no report to save; run a dry run or an import first.",
                ),
            },
            ImportCommand::Undo(batch_id) => self.start_undo(ctx, batch_id),
        }
    }

    /// Collects file dialog results and the running import's progress or result, and reads
    /// the batch list when the Imports place shows it.
    pub(super) fn poll_imports(&mut self, ctx: &egui::Context) {
        if let Some((target, job)) = &mut self.imports.pick {
            let target = *target;
            match job.poll() {
                JobStatus::Running(_) => {}
                JobStatus::Finished(picked) => {
                    self.imports.pick = None;
                    self.data.imports.picking = None;
                    match picked {
                        Some(path) => self.take_picked(ctx, target, path),
                        None => {
                            self.notify(
                                false,
                                "No file was chosen; you can type the path instead.",
                            );
                        }
                    }
                }
                JobStatus::Crashed => {
                    self.imports.pick = None;
                    self.data.imports.picking = None;
                    self.notify(
                        true,
                        "The file dialog is not available here; type the path instead.",
                    );
                }
            }
        }
        if let Some(running) = &mut self.imports.running {
            match running.import.poll() {
                JobStatus::Running(_) => self.show_progress(),
                JobStatus::Finished(run) => {
                    let dry_run = running.dry_run;
                    let file_name = running.file_name.clone();
                    let credentials = running.credentials.take();
                    self.imports.running = None;
                    self.data.imports.running = None;
                    self.finish_run(dry_run, file_name, credentials.as_deref(), run);
                }
                JobStatus::Crashed => {
                    let dry_run = running.dry_run;
                    let file_name = running.file_name.clone();
                    self.imports.running = None;
                    self.data.imports.running = None;
                    self.data.imports.outcome = Some(RunOutcome {
                        dry_run,
                        file_name,
                        headline: "The import stopped unexpectedly; nothing was imported."
                            .to_owned(),
                        is_error: true,
                        summary: None,
                        rejected: Vec::new(),
                        has_report: false,
                    });
                }
            }
        }
        self.poll_undo();
        if self.view.place == Place::Imports && !self.data.imports.batches_loaded {
            self.data.imports.batches_loaded = true;
            match self.desk.batches() {
                Ok(batches) => self.data.imports.batches = batches,
                Err(err) => self.report(&err),
            }
        }
    }

    fn start_undo(&mut self, ctx: &egui::Context, batch_id: i64) {
        if self.imports.undo.is_some() {
            return;
        }
        if !self.desk.has_file() {
            let result = self.desk.undo_batch(batch_id);
            self.finish_undo(batch_id, result);
            return;
        }
        let job = UndoJob {
            database: self.desk.path().to_owned(),
            clerk: self.desk.clerk().to_owned(),
            hasher: self.desk.hasher().clone(),
            batch_id,
        };
        let wake_ctx = ctx.clone();
        match spawn_undo(job, move || wake_ctx.request_repaint()) {
            Ok(task) => {
                self.imports.undo = Some((batch_id, task));
                self.data.imports.undoing = Some(batch_id);
            }
            Err(err) => self.notify(
                true,
                format!(
                    "The undo could not start: {}.",
                    crate::desk::describe_io_error(&err)
                ),
            ),
        }
    }

    fn poll_undo(&mut self) {
        let Some((batch_id, task)) = &mut self.imports.undo else {
            return;
        };
        let batch_id = *batch_id;
        let result = match task.poll() {
            JobStatus::Running(_) => return,
            JobStatus::Finished(result) => Some(result),
            JobStatus::Crashed => None,
        };
        self.imports.undo = None;
        self.data.imports.undoing = None;
        match result {
            Some(result) => self.finish_undo(batch_id, result),
            None => self.notify(
                true,
                format!("Undoing batch {batch_id} stopped unexpectedly; nothing was removed."),
            ),
        }
    }

    fn finish_undo(&mut self, batch_id: i64, result: Result<UndoneCounts, crate::desk::DeskError>) {
        match result {
            Ok(counts) => {
                self.stale = Stale::ALL;
                self.notify(
                    false,
                    format!(
                        "Batch {batch_id} undone: removed {} tokens, {} participants and {} accounts.",
                        group_digits(counts.tokens),
                        group_digits(counts.participants),
                        group_digits(counts.accounts)
                    ),
                );
            }
            Err(err) => self.report(&err),
        }
        self.data.imports.batches_loaded = false;
    }

    fn show_progress(&mut self) {
        let Some(running) = &self.imports.running else {
            return;
        };
        let (done_bytes, total_bytes) = running.import.bytes();
        self.data.imports.running = Some(RunProgress {
            dry_run: running.dry_run,
            file_name: running.file_name.clone(),
            rows: running.import.rows(),
            done_bytes,
            total_bytes,
            elapsed_secs: running.import.elapsed().as_secs_f64(),
            is_cancelling: running.is_cancelling,
        });
    }

    fn take_picked(&mut self, ctx: &egui::Context, target: PickTarget, path: PathBuf) {
        let text = path.display().to_string();
        let wizard = &mut self.ui_state.imports;
        match target {
            PickTarget::ImportFile => {
                wizard.path = text;
                self.preview_import(path);
            }
            PickTarget::Credentials => wizard.credentials_path = text,
            PickTarget::Report => {
                wizard.report_path = text;
                self.apply_import(ctx, ImportCommand::SaveReport(path));
            }
        }
    }

    fn pick_import_path(&mut self, ctx: &egui::Context, target: PickTarget) {
        if self.imports.pick.is_some() {
            return;
        }
        let wizard = &self.ui_state.imports;
        let import_file = PathBuf::from(wizard.path.trim());
        let start = import_file
            .parent()
            .filter(|dir| dir.is_dir())
            .map(Path::to_owned);
        let stem = import_file
            .file_stem()
            .map_or_else(|| "import".to_owned(), |s| s.to_string_lossy().into_owned());
        let wake_ctx = ctx.clone();
        let spawned = BackgroundJob::spawn(
            "file-dialog",
            move || wake_ctx.request_repaint(),
            move |_| {
                let mut dialog = rfd::FileDialog::new();
                if let Some(start) = start {
                    dialog = dialog.set_directory(start);
                }
                match target {
                    PickTarget::ImportFile => dialog
                        .add_filter("CSV file", &["csv", "txt", "tsv"])
                        .pick_file(),
                    PickTarget::Credentials => dialog
                        .add_filter("CSV file", &["csv"])
                        .set_file_name(format!("{stem}-credentials.csv"))
                        .save_file(),
                    PickTarget::Report => dialog
                        .add_filter("CSV file", &["csv"])
                        .set_file_name(format!("{stem}-report.csv"))
                        .save_file(),
                }
            },
        );
        match spawned {
            Ok(job) => {
                self.imports.pick = Some((target, job));
                self.data.imports.picking = Some(target);
            }
            Err(_) => self.notify(
                true,
                "The file dialog is not available here; type the path instead.",
            ),
        }
    }

    fn preview_import(&mut self, path: PathBuf) {
        let preview = self
            .desk
            .import_preview(&path)
            .map_err(|err| err.sentence());
        self.data.imports.preview = Some(PreviewView { path, preview });
        // Results of another file (or of this file before it changed) no longer apply.
        self.data.imports.outcome = None;
        self.imports.report = None;
    }

    fn start_import(
        &mut self,
        ctx: &egui::Context,
        file: PathBuf,
        options: crate::desk::import::ImportOptions,
        credentials: Option<PathBuf>,
    ) {
        if self.imports.running.is_some() {
            return;
        }
        if !self.desk.has_file() {
            self.notify(
                true,
                "Imports need a database file; open or create one first.",
            );
            return;
        }
        let needs_credentials = self
            .data
            .imports
            .preview
            .as_ref()
            .filter(|view| view.path == file)
            .and_then(|view| view.preview.as_ref().ok())
            .is_some_and(|preview| preview.generates_secrets);
        if !options.dry_run && needs_credentials && credentials.is_none() {
            self.notify(
                true,
                "This import generates pass codes or verification codes; choose a credentials file first so they are not lost.",
            );
            return;
        }
        let file_name = ImportSource::File(&file).name();
        let credentials_path = credentials.clone().filter(|_| !options.dry_run);
        let import = WindowImport {
            job: ImportJob {
                database: self.desk.path().to_owned(),
                clerk: self.desk.clerk().to_owned(),
                file,
                options,
                report: None,
                credentials,
            },
            hasher: self.desk.hasher().clone(),
        };
        let wake_ctx = ctx.clone();
        match spawn_window_import(import, move || wake_ctx.request_repaint()) {
            Ok(import) => {
                self.imports.report = None;
                self.data.imports.outcome = None;
                self.data.notice = None;
                self.imports.running = Some(Running {
                    import,
                    dry_run: options.dry_run,
                    file_name,
                    credentials: credentials_path,
                    is_cancelling: false,
                });
                self.show_progress();
            }
            Err(err) => self.notify(
                true,
                format!(
                    "The import could not start: {}.",
                    crate::desk::describe_io_error(&err)
                ),
            ),
        }
    }

    fn finish_run(
        &mut self,
        dry_run: bool,
        file_name: String,
        credentials: Option<&Path>,
        run: WindowRun,
    ) {
        let WindowRun { result, report, .. } = run;
        let has_report = report.is_some();
        self.imports.report = report;
        let (headline, is_error, summary, rejected) = match result {
            Ok(crate::desk::import::ImportResult { summary, rejected }) => {
                if summary.applied {
                    self.stale = Stale::ALL;
                    self.data.imports.batches_loaded = false;
                    // The file now holds secrets: the next import must choose a new one.
                    if credentials.is_some() {
                        self.ui_state.imports.credentials_path.clear();
                    }
                }
                let is_error = !summary.applied && !summary.dry_run;
                (
                    describe(&summary, credentials),
                    is_error,
                    Some(summary),
                    rejected,
                )
            }
            Err(err) => (error_sentence(&err), true, None, Vec::new()),
        };
        if self.view.place != Place::Imports {
            self.notify(is_error, headline.clone());
        }
        self.data.imports.outcome = Some(RunOutcome {
            dry_run,
            file_name,
            headline,
            is_error,
            summary,
            rejected,
            has_report,
        });
    }
}

/// One or two sentences on what a run did, in the window's words.
fn describe(summary: &ImportSummary, credentials: Option<&Path>) -> String {
    let created = if summary.applied {
        "created"
    } else {
        "would be created"
    };
    let counts = format!(
        "{} {created}, {} unchanged, {} rejected",
        group_digits(summary.created),
        group_digits(summary.unchanged),
        group_digits(summary.rejected)
    );
    if summary.dry_run {
        format!("Dry run, nothing was changed: {counts}.")
    } else if summary.applied {
        let batch = summary
            .batch_id
            .map_or(String::new(), |id| format!(" as batch {id}"));
        let secrets = if summary.generated_secrets > 0 {
            let place = credentials.map_or_else(
                || "the credentials file".to_owned(),
                |path| path.display().to_string(),
            );
            format!(
                " Generated secrets of {} tokens are in {place}; keep it safe.",
                group_digits(summary.generated_secrets)
            )
        } else {
            String::new()
        };
        format!("Imported{batch}: {counts}.{secrets}")
    } else {
        let rows = if summary.rejected == 1 {
            "1 row was rejected".to_owned()
        } else {
            format!("{} rows were rejected", group_digits(summary.rejected))
        };
        format!(
            "Nothing was imported because {rows} ({counts}); fix the file, or tick \"Skip invalid rows\" to import the valid rows."
        )
    }
}

/// An import error in the window's words (the core's mention command-line options).
fn error_sentence(err: &ImportError) -> String {
    match err {
        ImportError::Repeated { batch_id, at } => format!(
            "This file was already imported as batch {batch_id} on {at}, so nothing was imported; tick \"Allow a file that was imported before\" to import it again."
        ),
        ImportError::NeedsCredentials => "This import generates pass codes or verification codes, but no credentials file was chosen; choose one so the secrets are not lost.".to_owned(),
        _ => err.sentence(),
    }
}
