//! The app's side of the Reports place and of every export: starts the background jobs
//! (summary, worklist pages, exports, the save dialog), polls them, and runs bulk actions.

use std::path::PathBuf;

use super::TokenDeskApp;
use crate::desk::audit_export::spawn_audit_export;
use crate::desk::export::{ExportJob, ExportOptions, ExportSummary, ExportTarget, spawn_export};
use crate::desk::jobs::{BackgroundJob, JobStatus};
use crate::desk::reports::{
    SummaryReport, Worklist, WorklistPage, spawn_summary, spawn_worklist_page,
};
use crate::desk::{DeskError, TokenCursor, describe_io_error};
use crate::domain::ParticipantRecord;
use crate::ui::Place;
use crate::ui::reports::{ExportSource, ReportsCommand, WORKLIST_PAGE_ROWS};

type Job<T> = BackgroundJob<Result<T, DeskError>>;

/// Background work and paging state of the Reports place.
#[derive(Default)]
pub(super) struct ReportJobs {
    summary: Option<Job<SummaryReport>>,
    page: Option<Job<WorklistPage>>,
    /// The page the running page job fetches.
    page_wanted: usize,
    export: Option<Job<ExportSummary>>,
    export_path: Option<PathBuf>,
    pick: Option<BackgroundJob<Option<PathBuf>>>,
    /// Where each page of the shown token worklist starts.
    page_starts: Vec<Option<TokenCursor>>,
    /// Where each page of participants without an Effective token starts (id before it).
    participant_starts: Vec<i64>,
    /// Whether the Reports place was shown last frame (arriving there refreshes it).
    was_shown: bool,
}

impl ReportJobs {
    /// Whether any report work is still running.
    pub(super) fn is_busy(&self) -> bool {
        self.summary.is_some()
            || self.page.is_some()
            || self.export.is_some()
            || self.pick.is_some()
    }
}

impl TokenDeskApp {
    /// Collects finished report work; refreshes the Reports place when the clerk arrives there.
    pub(super) fn poll_reports(&mut self, ctx: &egui::Context) {
        let is_shown = self.view.place == Place::Reports;
        if is_shown && !self.reports.was_shown {
            self.start_summary(ctx);
            if let Some(worklist) = self.data.reports.worklist {
                self.open_worklist(ctx, worklist);
            }
        }
        self.reports.was_shown = is_shown;
        self.poll_summary();
        self.poll_page();
        self.poll_export();
        self.poll_pick();
    }

    /// Applies one command of the Reports place or the export dialog.
    pub(super) fn apply_reports(&mut self, ctx: &egui::Context, command: ReportsCommand) {
        match command {
            ReportsCommand::RefreshSummary => self.start_summary(ctx),
            ReportsCommand::OpenWorklist(worklist) => {
                self.data.reports.bulk = None;
                self.data.reports.bulk_error = None;
                self.open_worklist(ctx, worklist);
            }
            ReportsCommand::NextPage => {
                let page = self.data.reports.page + 1;
                if self.data.reports.has_next_page {
                    self.fetch_worklist_page(ctx, page);
                }
            }
            ReportsCommand::PreviousPage => {
                if let Some(page) = self.data.reports.page.checked_sub(1) {
                    self.fetch_worklist_page(ctx, page);
                }
            }
            ReportsCommand::OpenExport(source) => {
                if self.reports.export.is_none() {
                    self.data.reports.export = crate::ui::reports::ExportStatus::default();
                    self.ui_state.reports.export_path.clear();
                }
                self.data.notice = None;
                self.ui_state.reports.export_open = Some(source);
            }
            ReportsCommand::BrowseExportPath => self.browse_export_path(ctx),
            ReportsCommand::StartExport {
                source,
                path,
                excel_bom,
            } => self.start_export(ctx, source, path, excel_bom),
            ReportsCommand::ClearBulk => {
                self.data.reports.bulk = None;
                self.data.reports.bulk_error = None;
            }
            ReportsCommand::CancelExport => {
                if let Some(job) = &self.reports.export {
                    job.request_cancel();
                }
            }
            ReportsCommand::PreviewBulk {
                action,
                text,
                reason,
            } => match self.desk.preview_bulk(action, &text, &reason) {
                Ok(report) => {
                    self.data.reports.bulk_error = None;
                    self.data.reports.bulk = Some(report);
                }
                Err(err) => self.bulk_refused(&err),
            },
            ReportsCommand::ApplyBulk {
                action,
                text,
                reason,
            } => match self.desk.apply_bulk(action, &text, &reason) {
                Ok(report) => {
                    // The bulk panel shows the outcome and the refusals.
                    self.data.reports.bulk_error = None;
                    self.data.reports.bulk = Some(report);
                    self.ui_state.reports.selected.clear();
                    self.ui_state.reports.bulk_text.clear();
                    self.ui_state.reports.bulk_reason.clear();
                    self.stale = super::Stale::ALL;
                    self.start_summary(ctx);
                    if let Some(worklist) = self.data.reports.worklist {
                        self.refresh_worklist(ctx, worklist);
                    }
                }
                Err(err) => self.bulk_refused(&err),
            },
        }
    }

    /// A bulk action refused as a whole: the sentence goes next to its buttons.
    fn bulk_refused(&mut self, err: &DeskError) {
        let sentence = err.sentence();
        log::info!("bulk action refused: {sentence}");
        self.data.reports.bulk_error = Some(sentence);
    }

    fn wake(ctx: &egui::Context) -> impl Fn() + Send + 'static {
        let ctx = ctx.clone();
        move || ctx.request_repaint()
    }

    fn start_summary(&mut self, ctx: &egui::Context) {
        if !self.desk.has_file() {
            match self.desk.summary_report() {
                Ok(report) => self.data.reports.summary = Some(report),
                Err(err) => self.report(&err),
            }
            return;
        }
        let database = self.desk.path().to_owned();
        let clerk = self.desk.clerk().to_owned();
        match spawn_summary(database, clerk, self.desk.clock(), Self::wake(ctx)) {
            Ok(job) => {
                self.reports.summary = Some(job);
                self.data.reports.is_summarising = true;
            }
            Err(err) => self.notify(
                true,
                format!("Could not start the summary: {}.", describe_io_error(&err)),
            ),
        }
    }

    fn poll_summary(&mut self) {
        let Some(job) = &mut self.reports.summary else {
            return;
        };
        match job.poll() {
            JobStatus::Running(_) => {}
            JobStatus::Finished(result) => {
                self.reports.summary = None;
                self.data.reports.is_summarising = false;
                match result {
                    Ok(report) => self.data.reports.summary = Some(report),
                    Err(err) => self.report(&err),
                }
            }
            JobStatus::Crashed => {
                self.reports.summary = None;
                self.data.reports.is_summarising = false;
                self.notify(
                    true,
                    "The summary stopped unexpectedly; press Refresh summary to try again.",
                );
            }
        }
    }

    /// Shows `worklist` from its first page, with a fresh count.
    fn open_worklist(&mut self, ctx: &egui::Context, worklist: Worklist) {
        let reports = &mut self.data.reports;
        if reports.worklist != Some(worklist) {
            reports.items.clear();
            reports.participants.clear();
        }
        reports.worklist = Some(worklist);
        reports.page = 0;
        reports.has_next_page = false;
        self.reports.page_starts = vec![None];
        self.reports.participant_starts = vec![0];
        self.refresh_worklist(ctx, worklist);
    }

    /// Reads the count and the page shown again (after a change).
    fn refresh_worklist(&mut self, ctx: &egui::Context, worklist: Worklist) {
        match self.desk.worklist_count(worklist) {
            Ok(count) => self.data.reports.worklist_count = count,
            Err(err) => self.report(&err),
        }
        let page = self.data.reports.page;
        self.fetch_worklist_page(ctx, page);
    }

    fn fetch_worklist_page(&mut self, ctx: &egui::Context, page: usize) {
        let Some(worklist) = self.data.reports.worklist else {
            return;
        };
        if !worklist.lists_tokens() {
            let Some(&after_id) = self.reports.participant_starts.get(page) else {
                return;
            };
            match self
                .desk
                .participants_without_effective_token(after_id, WORKLIST_PAGE_ROWS)
            {
                Ok(participants) => self.show_participants(page, participants),
                Err(err) => self.report(&err),
            }
            return;
        }
        let Some(after) = self.reports.page_starts.get(page).cloned() else {
            return;
        };
        if !self.desk.has_file() {
            let result = self
                .desk
                .worklist_page(worklist, after.as_ref(), WORKLIST_PAGE_ROWS);
            self.show_page(page, result);
            return;
        }
        let database = self.desk.path().to_owned();
        let clerk = self.desk.clerk().to_owned();
        match spawn_worklist_page(
            database,
            clerk,
            worklist,
            after,
            WORKLIST_PAGE_ROWS,
            self.desk.clock(),
            Self::wake(ctx),
        ) {
            Ok(job) => {
                self.reports.page = Some(job);
                self.reports.page_wanted = page;
                self.data.reports.is_loading_page = true;
            }
            Err(err) => self.notify(
                true,
                format!("Could not read the worklist: {}.", describe_io_error(&err)),
            ),
        }
    }

    fn show_participants(&mut self, page: usize, participants: Vec<ParticipantRecord>) {
        let has_next = participants.len() == WORKLIST_PAGE_ROWS;
        if has_next && let Some(last) = participants.last() {
            self.reports.participant_starts.truncate(page + 1);
            self.reports.participant_starts.push(last.id);
        }
        let reports = &mut self.data.reports;
        reports.participants = participants;
        reports.page = page;
        reports.has_next_page = has_next;
    }

    fn show_page(&mut self, page: usize, result: Result<WorklistPage, DeskError>) {
        match result {
            Ok(found) => {
                let has_next = found.next.is_some();
                if has_next {
                    self.reports.page_starts.truncate(page + 1);
                    self.reports.page_starts.push(found.next);
                }
                let reports = &mut self.data.reports;
                // A list that cannot be counted ahead is counted once it fits on one page.
                if page == 0 && !has_next && reports.worklist_count.is_none() {
                    reports.worklist_count = Some(found.items.len() as u64);
                }
                reports.items = found.items;
                reports.page = page;
                reports.has_next_page = has_next;
            }
            Err(err) => self.report(&err),
        }
    }

    fn poll_page(&mut self) {
        let Some(job) = &mut self.reports.page else {
            return;
        };
        match job.poll() {
            JobStatus::Running(_) => {}
            JobStatus::Finished(result) => {
                self.reports.page = None;
                self.data.reports.is_loading_page = false;
                let page = self.reports.page_wanted;
                self.show_page(page, result);
            }
            JobStatus::Crashed => {
                self.reports.page = None;
                self.data.reports.is_loading_page = false;
                self.notify(
                    true,
                    "Reading the worklist stopped unexpectedly; open it again to retry.",
                );
            }
        }
    }

    fn start_export(
        &mut self,
        ctx: &egui::Context,
        source: ExportSource,
        path: PathBuf,
        excel_bom: bool,
    ) {
        if self.reports.export.is_some() {
            return;
        }
        if !self.desk.has_file() {
            self.notify(
                true,
                "An in-memory database cannot be exported from the window.",
            );
            return;
        }
        let database = self.desk.path().to_owned();
        let clerk = self.desk.clerk().to_owned();
        let options = ExportOptions { excel_bom };
        let target = match source {
            ExportSource::TokensFilter => ExportTarget::Tokens(self.token_filter()),
            ExportSource::Summary => ExportTarget::Summary,
            ExportSource::Worklist(worklist) => ExportTarget::Worklist(worklist),
            ExportSource::AuditLog => {
                let filter = self.view.audit_filter.clone();
                let spawned = spawn_audit_export(
                    database,
                    clerk,
                    filter,
                    options,
                    path.clone(),
                    Self::wake(ctx),
                );
                self.export_started(spawned, path);
                return;
            }
        };
        let job = ExportJob {
            database,
            clerk,
            target,
            options,
            out_path: path.clone(),
        };
        let spawned = spawn_export(job, Self::wake(ctx));
        self.export_started(spawned, path);
    }

    fn export_started(&mut self, spawned: std::io::Result<Job<ExportSummary>>, path: PathBuf) {
        let status = &mut self.data.reports.export;
        *status = crate::ui::reports::ExportStatus::default();
        match spawned {
            Ok(job) => {
                self.reports.export = Some(job);
                self.reports.export_path = Some(path);
                status.is_running = true;
            }
            Err(err) => {
                status.is_error = true;
                status.outcome = Some(format!(
                    "Could not start the export: {}.",
                    describe_io_error(&err)
                ));
            }
        }
    }

    fn poll_export(&mut self) {
        let Some(job) = &mut self.reports.export else {
            return;
        };
        let status = &mut self.data.reports.export;
        match job.poll() {
            JobStatus::Running(progress) => {
                status.rows_done = progress.done;
                status.rows_total = progress.total;
            }
            JobStatus::Finished(result) => {
                self.reports.export = None;
                status.is_running = false;
                let path = self
                    .reports
                    .export_path
                    .take()
                    .map(|path| path.display().to_string())
                    .unwrap_or_default();
                match result {
                    Ok(summary) if summary.was_cancelled => {
                        status.is_error = true;
                        status.outcome = Some("Export cancelled; no file was kept.".to_owned());
                    }
                    Ok(summary) => {
                        status.is_error = false;
                        let rows = if summary.rows == 1 { "row" } else { "rows" };
                        status.outcome = Some(format!(
                            "Exported {} {rows} to {path}.",
                            crate::ui::group_digits(summary.rows)
                        ));
                    }
                    Err(err) => {
                        status.is_error = true;
                        status.outcome = Some(format!("Export failed: {}", err.sentence()));
                    }
                }
                // The export wrote an audit event.
                self.stale.audit = true;
            }
            JobStatus::Crashed => {
                self.reports.export = None;
                status.is_running = false;
                status.is_error = true;
                status.outcome = Some("The export stopped unexpectedly.".to_owned());
            }
        }
    }

    fn browse_export_path(&mut self, ctx: &egui::Context) {
        if self.reports.pick.is_some() {
            return;
        }
        let file_name = self
            .ui_state
            .reports
            .export_open
            .map_or("tokens.csv", ExportSource::file_name);
        let start = self.desk.path().parent().map(std::path::Path::to_owned);
        let spawned = BackgroundJob::spawn("export-dialog", Self::wake(ctx), move |_| {
            let mut dialog = rfd::FileDialog::new()
                .add_filter("CSV file", &["csv"])
                .set_file_name(file_name);
            if let Some(start) = start {
                dialog = dialog.set_directory(start);
            }
            dialog.save_file()
        });
        match spawned {
            Ok(job) => {
                self.reports.pick = Some(job);
                self.data.reports.is_picking_path = true;
            }
            Err(_) => self.notify(
                true,
                "The file dialog is not available here; type the path instead.",
            ),
        }
    }

    fn poll_pick(&mut self) {
        let Some(job) = &mut self.reports.pick else {
            return;
        };
        match job.poll() {
            JobStatus::Running(_) => {}
            JobStatus::Finished(picked) => {
                self.reports.pick = None;
                self.data.reports.is_picking_path = false;
                match picked {
                    Some(path) => self.ui_state.reports.export_path = path.display().to_string(),
                    None => {
                        self.notify(false, "No file was chosen; you can type the path instead.");
                    }
                }
            }
            JobStatus::Crashed => {
                self.reports.pick = None;
                self.data.reports.is_picking_path = false;
                self.notify(
                    true,
                    "The file dialog is not available here; type the path instead.",
                );
            }
        }
    }
}
