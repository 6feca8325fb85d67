//! The Imports place: a wizard over one CSV file (choose it, preview it, set the options, dry
//! run, import with progress and Cancel, save the report) and the batch history with undo
//! (SPEC §7, §10). Draws and pushes [`ImportCommand`]s; the app runs them.

use std::path::{Path, PathBuf};

use super::{Command, Data, Dialog, Place, UiState, group_digits};
use crate::desk::import::{
    ColumnUse, ImportOptions, ImportSummary, REJECTED_KEPT, ReportRow, WizardPreview,
};
use crate::domain::BatchRecord;

/// Which path a file dialog fills in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PickTarget {
    ImportFile,
    Credentials,
    Report,
}

/// What the clerk asks of the Imports place.
#[derive(Debug)]
pub enum ImportCommand {
    /// Opens a file dialog (on a worker thread) for one of the wizard's paths.
    Pick(PickTarget),
    /// Reads the start of a file: delimiter, columns, first rows.
    Preview(PathBuf),
    /// Starts a dry run or an import on a background thread.
    Start {
        file: PathBuf,
        options: ImportOptions,
        credentials: Option<PathBuf>,
    },
    Cancel,
    /// Copies the last run's report to a file.
    SaveReport(PathBuf),
    /// Undoes a batch (R45), after the clerk confirmed.
    Undo(i64),
}

/// The wizard's drafts, kept while the window is open.
#[derive(Debug, Default)]
pub struct ImportWizard {
    pub path: String,
    pub create_owners: bool,
    pub skip_invalid: bool,
    pub allow_repeat: bool,
    pub credentials_path: String,
    pub report_path: String,
}

impl ImportWizard {
    fn options(&self, dry_run: bool) -> ImportOptions {
        ImportOptions {
            dry_run,
            skip_invalid: self.skip_invalid,
            create_owners: self.create_owners,
            allow_repeat: self.allow_repeat,
        }
    }
}

/// The preview of a file, or why there is none.
#[derive(Debug)]
pub struct PreviewView {
    pub path: PathBuf,
    pub preview: Result<WizardPreview, String>,
}

/// A dry run or import in progress.
#[derive(Clone, Debug, Default)]
pub struct RunProgress {
    pub dry_run: bool,
    pub file_name: String,
    pub rows: u64,
    pub done_bytes: u64,
    pub total_bytes: u64,
    pub elapsed_secs: f64,
    pub is_cancelling: bool,
}

impl RunProgress {
    /// The share of the file read, 0 to 1.
    fn fraction(&self) -> f64 {
        if self.total_bytes == 0 {
            0.0
        } else {
            self.done_bytes as f64 / self.total_bytes as f64
        }
    }
}

/// How the last dry run or import ended.
#[derive(Debug)]
pub struct RunOutcome {
    pub dry_run: bool,
    pub file_name: String,
    /// One or two sentences on what happened.
    pub headline: String,
    pub is_error: bool,
    pub summary: Option<ImportSummary>,
    /// The first rejected rows, in line order.
    pub rejected: Vec<ReportRow>,
    /// Whether the whole report can be saved.
    pub has_report: bool,
}

/// What the app read for the Imports place.
#[derive(Debug, Default)]
pub struct ImportsData {
    pub preview: Option<PreviewView>,
    pub running: Option<RunProgress>,
    pub outcome: Option<RunOutcome>,
    pub batches: Vec<BatchRecord>,
    /// False until the batch list was read (again) for this database.
    pub batches_loaded: bool,
    /// The path a file dialog is open for.
    pub picking: Option<PickTarget>,
    /// The batch being undone.
    pub undoing: Option<i64>,
}

impl ImportsData {
    /// Whether a dry run or import is running.
    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }
}

/// What the other places show while an import runs: they stay readable, changes wait.
pub fn running_banner_ui(ui: &mut egui::Ui, place: Place, data: &Data) {
    let Some(running) = &data.imports.running else {
        return;
    };
    if place == Place::Imports {
        return;
    }
    let what = if running.dry_run {
        "A dry run"
    } else {
        "An import"
    };
    egui::Frame::group(ui.style()).show(ui, |ui| {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label(format!(
                "{what} of {} is running ({} rows so far): changes are paused until it finishes or is cancelled in Imports; you can still look things up.",
                running.file_name,
                group_digits(running.rows)
            ));
        });
    });
    ui.add_space(4.0);
}

/// The Imports place.
pub fn imports_ui(
    ui: &mut egui::Ui,
    state: &mut UiState,
    data: &Data,
    commands: &mut Vec<Command>,
) {
    ui.heading("Imports");
    ui.label("Import participant tokens from a CSV file: choose it, check the preview, try a dry run, then import. An import is applied whole or not at all.");
    ui.add_space(4.0);
    egui::ScrollArea::vertical()
        .id_salt("imports-page")
        .auto_shrink([false, false])
        .show(ui, |ui| {
            let imports = &data.imports;
            let wizard = &mut state.imports;
            section_ui(ui, "1. Choose the file", |ui| {
                file_ui(ui, wizard, imports, commands);
            });
            section_ui(ui, "2. Options", |ui| {
                options_ui(ui, wizard, imports, commands);
            });
            section_ui(ui, "3. Check and import", |ui| {
                run_ui(ui, wizard, imports, commands);
            });
            section_ui(ui, "Batch history", |ui| {
                if let Some(dialog) = batches_ui(ui, imports) {
                    state.dialog = dialog;
                }
            });
        });
}

fn section_ui(ui: &mut egui::Ui, title: &str, content: impl FnOnce(&mut egui::Ui)) {
    egui::Frame::group(ui.style()).show(ui, |ui| {
        ui.set_width(ui.available_width());
        ui.strong(title);
        ui.add_space(2.0);
        content(ui);
    });
    ui.add_space(6.0);
}

/// A label and a wide path field named by it; returns whether Enter was pressed in it.
fn path_field(
    ui: &mut egui::Ui,
    label: &str,
    value: &mut String,
    hint: &str,
    enabled: bool,
) -> bool {
    let label = ui.label(label);
    let response = ui
        .add_enabled(
            enabled,
            egui::TextEdit::singleline(value)
                .desired_width(460.0)
                .hint_text(hint),
        )
        .labelled_by(label.id);
    response.lost_focus() && ui.input(|input| input.key_pressed(egui::Key::Enter))
}

fn file_ui(
    ui: &mut egui::Ui,
    wizard: &mut ImportWizard,
    imports: &ImportsData,
    commands: &mut Vec<Command>,
) {
    let is_running = imports.is_running();
    let path = PathBuf::from(wizard.path.trim());
    ui.horizontal(|ui| {
        let entered = path_field(
            ui,
            "CSV file",
            &mut wizard.path,
            "/path/to/tokens.csv",
            !is_running,
        );
        let can_browse = !is_running && imports.picking.is_none();
        if ui
            .add_enabled(can_browse, egui::Button::new("Browse…"))
            .on_disabled_hover_text("A file dialog is open, or an import is running.")
            .clicked()
        {
            commands.push(Command::Import(ImportCommand::Pick(PickTarget::ImportFile)));
        }
        if imports.picking == Some(PickTarget::ImportFile) {
            ui.spinner();
        }
        let can_preview = !is_running && !wizard.path.trim().is_empty();
        if (ui
            .add_enabled(can_preview, egui::Button::new("Preview"))
            .on_disabled_hover_text("Type or choose a file first.")
            .clicked()
            || (entered && can_preview))
            && !wizard.path.trim().is_empty()
        {
            commands.push(Command::Import(ImportCommand::Preview(PathBuf::from(
                wizard.path.trim(),
            ))));
        }
    });
    let Some(view) = &imports.preview else {
        ui.weak("Type the path of a CSV file (UTF-8, a header row, delimiter comma, semicolon or TAB) and press Preview, or browse for it.");
        return;
    };
    if view.path != path {
        ui.weak("The path changed since the preview; press Preview to read the new file.");
        return;
    }
    match &view.preview {
        Err(sentence) => {
            ui.colored_label(ui.visuals().error_fg_color, sentence);
        }
        Ok(preview) => preview_ui(ui, preview),
    }
}

fn preview_ui(ui: &mut egui::Ui, preview: &WizardPreview) {
    ui.horizontal_wrapped(|ui| {
        ui.label(format!("Delimiter: {}", preview.delimiter_name()));
        ui.separator();
        ui.label(format!(
            "{}, {}",
            preview.file_name,
            size_text(preview.total_bytes)
        ));
        ui.separator();
        ui.label(format!(
            "Rows follow the Effective definition {}",
            preview.definition_code
        ));
    });
    ui.horizontal_wrapped(|ui| {
        ui.spacing_mut().item_spacing.x = 16.0;
        ui.label("Columns:");
        for column in &preview.columns {
            let name = if column.name.is_empty() {
                "(no name)"
            } else {
                column.name.as_str()
            };
            let (text, color) = match column.column_use {
                ColumnUse::Known => (format!("{name}: known"), ui.visuals().strong_text_color()),
                ColumnUse::Ignored => (format!("{name}: ignored"), ui.visuals().weak_text_color()),
                ColumnUse::Unknown => (
                    format!("{name}: unknown column"),
                    ui.visuals().error_fg_color,
                ),
                ColumnUse::Invalid => (format!("{name}: not usable"), ui.visuals().error_fg_color),
            };
            ui.add(
                egui::Label::new(egui::RichText::new(text).color(color))
                    .wrap_mode(egui::TextWrapMode::Extend),
            );
        }
    });
    if let Some(problem) = &preview.problem {
        ui.colored_label(ui.visuals().error_fg_color, problem);
    }
    ui.add_space(4.0);
    if preview.rows.is_empty() {
        ui.weak("The file has a header row but no data rows.");
        return;
    }
    egui::ScrollArea::horizontal()
        .id_salt("import-preview-scroll")
        .show(ui, |ui| {
            ui.style_mut().wrap_mode = Some(egui::TextWrapMode::Truncate);
            egui::Grid::new("import-preview")
                .striped(true)
                .min_col_width(40.0)
                .max_col_width(220.0)
                .show(ui, |ui| {
                    ui.strong("Line");
                    for column in &preview.columns {
                        ui.strong(&column.name);
                    }
                    ui.end_row();
                    for (line, cells) in &preview.rows {
                        ui.weak(line.to_string());
                        for index in 0..preview.columns.len().max(cells.len()) {
                            ui.label(cells.get(index).map_or("", String::as_str));
                        }
                        ui.end_row();
                    }
                });
        });
    if preview.has_more_rows {
        ui.weak(format!(
            "The first {} rows are shown; the dry run and the import read them all.",
            preview.rows.len()
        ));
    }
}

fn options_ui(
    ui: &mut egui::Ui,
    wizard: &mut ImportWizard,
    imports: &ImportsData,
    commands: &mut Vec<Command>,
) {
    let is_running = imports.is_running();
    ui.add_enabled_ui(!is_running, |ui| {
        ui.checkbox(
            &mut wizard.create_owners,
            "Create participants and accounts the file names",
        )
        .on_hover_text("Unknown participant and account numbers are rejected unless this is ticked; new owners need their names in the file.");
        ui.checkbox(
            &mut wizard.skip_invalid,
            "Skip invalid rows (import the valid ones)",
        )
        .on_hover_text("Without this, one rejected row means nothing is imported.");
        ui.checkbox(
            &mut wizard.allow_repeat,
            "Allow a file that was imported before",
        )
        .on_hover_text("A file with the same contents as an earlier batch is refused unless this is ticked; its rows then come out unchanged.");
    });
    let generates_secrets = current_preview(wizard, imports).is_some_and(|p| p.generates_secrets);
    if !generates_secrets {
        return;
    }
    ui.add_space(4.0);
    ui.label("This import generates pass codes or verification codes. They are written once to a credentials file readable only by you, and can never be shown again: choose a new file for them before importing.");
    ui.horizontal(|ui| {
        path_field(
            ui,
            "Credentials file",
            &mut wizard.credentials_path,
            "/path/to/new-credentials.csv",
            !is_running,
        );
        if ui
            .add_enabled(
                !is_running && imports.picking.is_none(),
                egui::Button::new("Choose…"),
            )
            .clicked()
        {
            commands.push(Command::Import(ImportCommand::Pick(
                PickTarget::Credentials,
            )));
        }
        if imports.picking == Some(PickTarget::Credentials) {
            ui.spinner();
        }
    });
}

/// The preview of the file in the path field, when it is current and readable.
fn current_preview<'d>(
    wizard: &ImportWizard,
    imports: &'d ImportsData,
) -> Option<&'d WizardPreview> {
    imports
        .preview
        .as_ref()
        .filter(|view| view.path == Path::new(wizard.path.trim()))
        .and_then(|view| view.preview.as_ref().ok())
}

/// Why the dry run (and the import) cannot start, if they cannot.
fn blocked_reason(wizard: &ImportWizard, imports: &ImportsData) -> Option<&'static str> {
    if imports.is_running() {
        return Some("A run is in progress; wait for it or cancel it.");
    }
    match current_preview(wizard, imports) {
        None => Some("Preview a file first."),
        Some(preview) if preview.problem.is_some() => {
            Some("The header row must be fixed first (see the preview).")
        }
        Some(_) => None,
    }
}

fn run_ui(
    ui: &mut egui::Ui,
    wizard: &mut ImportWizard,
    imports: &ImportsData,
    commands: &mut Vec<Command>,
) {
    let blocked = blocked_reason(wizard, imports);
    let needs_credentials = current_preview(wizard, imports).is_some_and(|p| p.generates_secrets)
        && wizard.credentials_path.trim().is_empty();
    let import_blocked = blocked.or(needs_credentials
        .then_some("Choose a credentials file first: this import generates secrets (R44)."));
    ui.horizontal(|ui| {
        let start = |dry_run: bool| {
            Command::Import(ImportCommand::Start {
                file: PathBuf::from(wizard.path.trim()),
                options: wizard.options(dry_run),
                credentials: super::non_blank(&wizard.credentials_path).map(PathBuf::from),
            })
        };
        if ui
            .add_enabled(blocked.is_none(), egui::Button::new("Dry run"))
            .on_hover_text("Checks every row against the database and reports what would happen; changes nothing.")
            .on_disabled_hover_text(blocked.unwrap_or_default())
            .clicked()
        {
            commands.push(start(true));
        }
        if ui
            .add_enabled(import_blocked.is_none(), egui::Button::new("Import"))
            .on_disabled_hover_text(import_blocked.unwrap_or_default())
            .clicked()
        {
            commands.push(start(false));
        }
        if let Some(reason) = import_blocked.filter(|_| !imports.is_running()) {
            ui.weak(reason);
        }
    });
    if let Some(running) = &imports.running {
        progress_ui(ui, running, commands);
    }
    if let Some(outcome) = &imports.outcome {
        outcome_ui(ui, wizard, imports, outcome, commands);
    }
}

fn progress_ui(ui: &mut egui::Ui, running: &RunProgress, commands: &mut Vec<Command>) {
    ui.add_space(4.0);
    let fraction = running.fraction();
    ui.add(
        egui::ProgressBar::new(fraction as f32)
            .show_percentage()
            .desired_width(ui.available_width().min(640.0)),
    );
    ui.horizontal(|ui| {
        ui.label(progress_text(running));
        if running.is_cancelling {
            ui.add_enabled(false, egui::Button::new("Cancelling…"));
        } else if ui
            .button("Cancel")
            .on_hover_text("Stops the run; nothing is applied, the database stays as it was.")
            .clicked()
        {
            commands.push(Command::Import(ImportCommand::Cancel));
        }
    });
}

/// "Importing cards.csv: 12,000 rows, 4,000 rows/s, about 3 s left". Once every row is read,
/// the last writes, the index builds of a large import and the commit still take a moment:
/// the line says so instead of "about 0 s left".
fn progress_text(running: &RunProgress) -> String {
    let fraction = running.fraction();
    let rate = if running.elapsed_secs > 0.0 {
        running.rows as f64 / running.elapsed_secs
    } else {
        0.0
    };
    let left = if running.total_bytes > 0 && fraction >= 1.0 {
        ", every row read; finishing…".to_owned()
    } else if fraction > 0.01 {
        format!(
            ", about {} left",
            duration_text(running.elapsed_secs * (1.0 - fraction) / fraction)
        )
    } else {
        String::new()
    };
    let what = if running.dry_run {
        "Dry run"
    } else {
        "Importing"
    };
    format!(
        "{what} {}: {} rows, {} rows/s{left}",
        running.file_name,
        group_digits(running.rows),
        group_digits(rate.round() as u64)
    )
}

fn outcome_ui(
    ui: &mut egui::Ui,
    wizard: &mut ImportWizard,
    imports: &ImportsData,
    outcome: &RunOutcome,
    commands: &mut Vec<Command>,
) {
    ui.add_space(6.0);
    let color = if outcome.is_error {
        ui.visuals().error_fg_color
    } else {
        ui.visuals().strong_text_color()
    };
    ui.colored_label(color, &outcome.headline);
    if let Some(summary) = &outcome.summary {
        ui.horizontal(|ui| {
            let created = if summary.applied {
                "Created"
            } else {
                "Would create"
            };
            count_ui(ui, &format!("{created}: {}", group_digits(summary.created)));
            count_ui(
                ui,
                &format!("Unchanged: {}", group_digits(summary.unchanged)),
            );
            let rejected = format!("Rejected: {}", group_digits(summary.rejected));
            if summary.rejected > 0 {
                let color = ui.visuals().error_fg_color;
                egui::Frame::group(ui.style()).show(ui, |ui| {
                    ui.label(egui::RichText::new(rejected).strong().color(color));
                });
            } else {
                count_ui(ui, &rejected);
            }
        });
    }
    if !outcome.rejected.is_empty() {
        ui.add_space(4.0);
        ui.strong("Rejected rows");
        rejected_ui(ui, &outcome.rejected);
        let rejected_total = outcome.summary.as_ref().map_or(0, |s| s.rejected);
        if rejected_total > outcome.rejected.len() as u64 {
            ui.weak(format!(
                "Only the first {} rejected rows are shown; save the report to see them all.",
                group_digits(REJECTED_KEPT as u64)
            ));
        }
    }
    if outcome.has_report {
        ui.add_space(4.0);
        ui.horizontal(|ui| {
            path_field(
                ui,
                "Report file",
                &mut wizard.report_path,
                "/path/to/report.csv",
                true,
            );
            let can_pick = imports.picking.is_none();
            if ui
                .add_enabled(can_pick, egui::Button::new("Choose report file…"))
                .clicked()
            {
                commands.push(Command::Import(ImportCommand::Pick(PickTarget::Report)));
            }
            let path = wizard.report_path.trim();
            if ui
                .add_enabled(!path.is_empty(), egui::Button::new("Save report"))
                .on_hover_text("One line per data row: line, outcome, token number, authentication code, message.")
                .on_disabled_hover_text("Type or choose where to save the report.")
                .clicked()
            {
                commands.push(Command::Import(ImportCommand::SaveReport(PathBuf::from(
                    path,
                ))));
            }
        });
    }
}

fn count_ui(ui: &mut egui::Ui, text: &str) {
    egui::Frame::group(ui.style()).show(ui, |ui| {
        ui.strong(text);
    });
}

fn rejected_ui(ui: &mut egui::Ui, rows: &[ReportRow]) {
    // Generated codes are not in the file, so the column shows only when some row typed one.
    let has_codes = rows.iter().any(|row| !row.authentication_code.is_empty());
    ui.push_id("import-rejected", |ui| {
        ui.style_mut().wrap_mode = Some(egui::TextWrapMode::Truncate);
        let mut table = egui_extras::TableBuilder::new(ui)
            .id_salt("import-rejected-table")
            .striped(true)
            .resizable(true)
            .vscroll(true)
            .max_scroll_height(220.0)
            .auto_shrink([false, true])
            .column(egui_extras::Column::exact(60.0));
        if has_codes {
            table = table.column(egui_extras::Column::initial(150.0));
        }
        table
            .column(egui_extras::Column::remainder())
            .header(22.0, |mut header| {
                let titles: &[&str] = if has_codes {
                    &["Line", "Authentication code", "Message"]
                } else {
                    &["Line", "Message"]
                };
                for title in titles {
                    header.col(|ui| {
                        ui.strong(*title);
                    });
                }
            })
            .body(|body| {
                body.rows(20.0, rows.len(), |mut row| {
                    let Some(rejected) = rows.get(row.index()) else {
                        return;
                    };
                    row.col(|ui| {
                        ui.label(rejected.line.to_string());
                    });
                    if has_codes {
                        row.col(|ui| {
                            ui.monospace(&rejected.authentication_code);
                        });
                    }
                    row.col(|ui| {
                        ui.label(super::drawable(&rejected.message))
                            .on_hover_text(super::drawable(&rejected.message));
                    });
                });
            });
    });
}

/// The batch list; returns the confirmation dialog when the clerk asks to undo one.
fn batches_ui(ui: &mut egui::Ui, imports: &ImportsData) -> Option<Dialog> {
    if imports.batches.is_empty() {
        ui.weak("No imports yet.");
        return None;
    }
    let mut dialog = None;
    let is_busy = imports.is_running() || imports.undoing.is_some();
    if let Some(batch_id) = imports.undoing {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label(format!("Undoing batch {batch_id}…"));
        });
    }
    egui::Grid::new("import-batches")
        .striped(true)
        .spacing([12.0, 4.0])
        .show(ui, |ui| {
            for title in [
                "Batch",
                "File",
                "Started (UTC)",
                "Clerk",
                "Created",
                "Unchanged",
                "Rejected",
                "Status",
                "",
            ] {
                ui.strong(title);
            }
            ui.end_row();
            for batch in &imports.batches {
                ui.label(batch.id.to_string());
                ui.label(&batch.file_name);
                ui.label(&batch.started_at);
                ui.label(&batch.clerk);
                ui.label(group_digits(batch.created));
                ui.label(group_digits(batch.unchanged));
                ui.label(group_digits(batch.rejected));
                match (&batch.undone_at, &batch.undone_by) {
                    (Some(at), Some(by)) => {
                        ui.weak(format!("undone {at} by {by}"));
                        ui.label("");
                    }
                    _ => {
                        ui.label("applied");
                        if ui
                            .add_enabled(!is_busy, egui::Button::new(format!("Undo batch {}", batch.id)))
                            .on_hover_text("Removes the batch's tokens and the owners it created, if none of them changed since.")
                            .on_disabled_hover_text("Wait for the running import or undo to finish.")
                            .clicked()
                        {
                            dialog = Some(Dialog::confirm(
                                format!(
                                    "Undo batch {} ({})? Its {} tokens and the participants and accounts it created are removed. Token numbers are not reused.",
                                    batch.id,
                                    batch.file_name,
                                    group_digits(batch.created)
                                ),
                                "Undo the batch",
                                Command::Import(ImportCommand::Undo(batch.id)),
                            ));
                        }
                    }
                }
                ui.end_row();
            }
        });
    dialog
}

/// `1.2 MB`, `830 KB`, `12 bytes`.
fn size_text(bytes: u64) -> String {
    match bytes {
        0..1_000 => format!("{bytes} bytes"),
        1_000..1_000_000 => format!("{:.0} KB", bytes as f64 / 1e3),
        _ => format!("{:.1} MB", bytes as f64 / 1e6),
    }
}

/// `45 s`, `3 min 20 s`.
fn duration_text(secs: f64) -> String {
    let secs = secs.max(0.0).round() as u64;
    if secs < 60 {
        format!("{secs} s")
    } else {
        format!("{} min {} s", secs / 60, secs % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(done_bytes: u64) -> RunProgress {
        RunProgress {
            dry_run: false,
            file_name: "cards.csv".to_owned(),
            rows: 12_000,
            done_bytes,
            total_bytes: 400,
            elapsed_secs: 3.0,
            is_cancelling: false,
        }
    }

    #[test]
    fn progress_says_time_left_then_finishing_once_every_row_is_read() {
        assert_eq!(
            progress_text(&progress(200)),
            "Importing cards.csv: 12,000 rows, 4,000 rows/s, about 3 s left"
        );
        assert_eq!(
            progress_text(&progress(400)),
            "Importing cards.csv: 12,000 rows, 4,000 rows/s, every row read; finishing…"
        );
    }
}
