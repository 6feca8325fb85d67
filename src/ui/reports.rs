//! The Reports place (SPEC §8, §10): the summary with charts, the worklists with paged tables,
//! exports and bulk actions; and the export dialog every place opens with Ctrl+E.
//!
//! Like every panel it only draws and pushes [`Command::Reports`]; the app runs the work.

use std::collections::BTreeSet;
use std::path::PathBuf;

use egui_extras::{Column, TableBuilder};

use super::{Command, Data, Place, UiState, ViewState, group_digits, modal};
use crate::desk::bulk::{BulkAction, BulkOutcome, BulkReport};
use crate::desk::reports::{SummaryReport, Worklist, WorklistItem};
use crate::domain::{OwnerKind, ParticipantRecord, TokenState};

/// Rows of a worklist page.
pub const WORKLIST_PAGE_ROWS: usize = 100;

/// Which part of the Reports place is shown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Section {
    #[default]
    Summary,
    Worklist(Worklist),
    /// A bulk action on a typed or pasted list, with every action.
    BulkList,
}

/// What an export writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportSource {
    /// The tokens the Tokens panel's filter shows.
    TokensFilter,
    /// The summary report.
    Summary,
    /// A worklist, whole (not only the page shown).
    Worklist(Worklist),
    /// The audit events the Audit log's filter shows.
    AuditLog,
}

impl ExportSource {
    /// What the dialog's title says is exported.
    pub fn title(self) -> String {
        match self {
            Self::TokensFilter => "Export the tokens the filter shows".to_owned(),
            Self::Summary => "Export the summary report".to_owned(),
            Self::Worklist(worklist) => format!("Export the worklist \"{}\"", worklist.title()),
            Self::AuditLog => "Export the audit events the filter shows".to_owned(),
        }
    }

    /// The file name the save dialog proposes.
    pub fn file_name(self) -> &'static str {
        match self {
            Self::TokensFilter => "tokens.csv",
            Self::Summary => "summary.csv",
            Self::Worklist(_) => "worklist.csv",
            Self::AuditLog => "audit-log.csv",
        }
    }
}

/// Every intent of the Reports place and the export dialog.
#[derive(Debug)]
pub enum ReportsCommand {
    /// Computes the summary again (in the background).
    RefreshSummary,
    /// Shows a worklist from its first page.
    OpenWorklist(Worklist),
    NextPage,
    PreviousPage,
    /// Opens the export dialog for `source`.
    OpenExport(ExportSource),
    /// Asks for the export file with the system's save dialog, on a worker thread.
    BrowseExportPath,
    /// Writes `source` to `path` in the background.
    StartExport {
        source: ExportSource,
        path: PathBuf,
        excel_bom: bool,
    },
    CancelExport,
    /// Forgets the last bulk preview or result.
    ClearBulk,
    /// Shows what a bulk action would do, changing nothing.
    PreviewBulk {
        action: BulkAction,
        text: String,
        reason: String,
    },
    /// Runs a bulk action.
    ApplyBulk {
        action: BulkAction,
        text: String,
        reason: String,
    },
}

/// A running or finished export, as the dialog shows it.
#[derive(Clone, Debug, Default)]
pub struct ExportStatus {
    pub is_running: bool,
    pub rows_done: u64,
    pub rows_total: u64,
    /// The sentence shown once it ended (written, cancelled or failed).
    pub outcome: Option<String>,
    pub is_error: bool,
}

/// What the app read for the Reports place.
#[derive(Debug, Default)]
pub struct ReportsData {
    pub summary: Option<SummaryReport>,
    pub is_summarising: bool,
    /// The worklist the page below belongs to.
    pub worklist: Option<Worklist>,
    /// Entries of the worklist; `None` until known (the R7 list cannot be counted cheaply).
    pub worklist_count: Option<u64>,
    pub items: Vec<WorklistItem>,
    pub participants: Vec<ParticipantRecord>,
    /// Page shown, from 0.
    pub page: usize,
    pub has_next_page: bool,
    pub is_loading_page: bool,
    pub export: ExportStatus,
    pub is_picking_path: bool,
    /// The last bulk preview or result.
    pub bulk: Option<BulkReport>,
    /// Why the last preview or apply was refused as a whole (e.g. no reason).
    pub bulk_error: Option<String>,
}

/// Drafts of the Reports place and the export dialog; live only while the window is open.
#[derive(Debug)]
pub struct ReportsForm {
    pub section: Section,
    /// N of "not used for N days".
    pub days: u32,
    /// The export dialog's source while it is open.
    pub export_open: Option<ExportSource>,
    pub export_path: String,
    pub excel_bom: bool,
    /// Token numbers ticked in the worklist table.
    pub selected: BTreeSet<String>,
    /// Token numbers, authentication codes or identifiers typed or pasted, one per line.
    pub bulk_text: String,
    pub bulk_action: Option<BulkAction>,
    pub bulk_reason: String,
}

impl Default for ReportsForm {
    fn default() -> Self {
        Self {
            section: Section::Summary,
            days: 30,
            export_open: None,
            export_path: String::new(),
            excel_bom: false,
            selected: BTreeSet::new(),
            bulk_text: String::new(),
            bulk_action: None,
            bulk_reason: String::new(),
        }
    }
}

impl ReportsForm {
    /// The lines a bulk action runs on: the ticked rows, then the typed lines.
    pub fn bulk_input(&self) -> String {
        let mut lines: Vec<&str> = self.selected.iter().map(String::as_str).collect();
        lines.extend(
            self.bulk_text
                .lines()
                .map(str::trim)
                .filter(|line| !line.is_empty()),
        );
        lines.join("\n")
    }

    fn worklist_for(&self, worklist: Worklist) -> Worklist {
        match worklist {
            Worklist::NotUsedForDays(_) => Worklist::NotUsedForDays(self.days),
            other => other,
        }
    }
}

/// The Reports place.
pub fn reports_ui(
    ui: &mut egui::Ui,
    state: &mut UiState,
    data: &Data,
    commands: &mut Vec<Command>,
) {
    let form = &mut state.reports;
    ui.horizontal(|ui| {
        ui.heading("Reports");
        ui.separator();
        if ui
            .selectable_label(form.section == Section::Summary, "Summary")
            .clicked()
            && form.section != Section::Summary
        {
            form.section = Section::Summary;
        }
        if ui
            .selectable_label(form.section == Section::BulkList, "Bulk action on a list")
            .clicked()
            && form.section != Section::BulkList
        {
            form.section = Section::BulkList;
            form.selected.clear();
            commands.push(Command::Reports(ReportsCommand::ClearBulk));
        }
    });
    ui.horizontal_wrapped(|ui| {
        ui.label("Worklists:");
        for worklist in Worklist::ALL {
            let worklist = form.worklist_for(worklist);
            let is_shown = matches!(form.section, Section::Worklist(shown)
                if std::mem::discriminant(&shown) == std::mem::discriminant(&worklist));
            let title = match worklist {
                Worklist::NotUsedForDays(_) => "Not used for N days".to_owned(),
                Worklist::NotValidUnderEffectiveDefinition => "Not valid (R7)".to_owned(),
                other => other.title(),
            };
            if ui.selectable_label(is_shown, title).clicked() && !is_shown {
                form.section = Section::Worklist(worklist);
                form.selected.clear();
                form.bulk_action = worklist.bulk_actions().first().copied();
                commands.push(Command::Reports(ReportsCommand::OpenWorklist(worklist)));
            }
        }
    });
    ui.separator();
    match form.section {
        Section::Summary => summary_ui(ui, &data.reports, commands),
        Section::Worklist(worklist) => worklist_ui(ui, worklist, form, &data.reports, commands),
        Section::BulkList => {
            ui.strong("Bulk action on a list");
            ui.weak(
                "Type or paste token numbers, authentication codes or identifiers, one per line. \
                 Each token goes through the same rules as the single action, and every change \
                 is audited with your reason.",
            );
            ui.add_space(4.0);
            bulk_ui(ui, &ALL_BULK_ACTIONS, false, form, &data.reports, commands);
        }
    }
}

fn summary_ui(ui: &mut egui::Ui, data: &ReportsData, commands: &mut Vec<Command>) {
    ui.horizontal(|ui| {
        if ui
            .add_enabled(!data.is_summarising, egui::Button::new("Refresh summary"))
            .clicked()
        {
            commands.push(Command::Reports(ReportsCommand::RefreshSummary));
        }
        if ui.button("Export summary (CSV)…").clicked() {
            commands.push(Command::Reports(ReportsCommand::OpenExport(
                ExportSource::Summary,
            )));
        }
        if data.is_summarising {
            ui.spinner();
            ui.weak("Counting…");
        }
    });
    let Some(report) = &data.summary else {
        if !data.is_summarising {
            ui.weak("The summary has not been computed yet.");
        }
        return;
    };
    ui.weak(format!("Computed at {} (UTC)", report.generated_at));
    ui.add_space(4.0);
    egui::ScrollArea::vertical()
        .id_salt("summary-scroll")
        .show(ui, |ui| {
            ui.columns(2, |columns| {
                figures_ui(&mut columns[0], report);
                definition_table_ui(&mut columns[1], report);
            });
            ui.add_space(8.0);
            ui.columns(2, |columns| {
                state_chart_ui(&mut columns[0], report);
                month_chart_ui(&mut columns[1], report);
            });
        });
}

fn figures_ui(ui: &mut egui::Ui, report: &SummaryReport) {
    ui.strong("Figures");
    egui::Grid::new("summary-figures")
        .num_columns(1)
        .striped(true)
        .show(ui, |ui| {
            let mut line = |label: &str, value: u64| {
                ui.label(format!("{label}: {}", group_digits(value)));
                ui.end_row();
            };
            line("Tokens", report.total_tokens);
            line("Pending verification", report.pending_verification);
            line("Locked", report.locked);
            line(
                "Participants with an Effective token",
                report.participants.with_effective_token,
            );
            line(
                "Participants without an Effective token",
                report.participants.without_effective_token,
            );
            line(
                "Accounts with an Effective token",
                report.accounts.with_effective_token,
            );
            line(
                "Accounts without an Effective token",
                report.accounts.without_effective_token,
            );
        });
}

/// Definition codes in the order they first appear.
fn definition_codes(report: &SummaryReport) -> Vec<&str> {
    let mut codes: Vec<&str> = Vec::new();
    for cell in &report.by_definition_and_state {
        if !codes.contains(&cell.definition_code.as_str()) {
            codes.push(&cell.definition_code);
        }
    }
    codes
}

fn count_of(report: &SummaryReport, code: &str, state: TokenState) -> u64 {
    report
        .by_definition_and_state
        .iter()
        .filter(|cell| cell.definition_code == code && cell.state == state)
        .map(|cell| cell.count)
        .sum()
}

fn definition_table_ui(ui: &mut egui::Ui, report: &SummaryReport) {
    ui.strong("Tokens by definition and state");
    egui::Grid::new("summary-by-definition")
        .num_columns(4)
        .striped(true)
        .show(ui, |ui| {
            ui.label("Definition");
            for state in TokenState::ALL {
                ui.label(state.label());
            }
            ui.end_row();
            for code in definition_codes(report) {
                let name = report
                    .by_definition_and_state
                    .iter()
                    .find(|cell| cell.definition_code == code)
                    .map_or("", |cell| cell.definition_name.as_str());
                ui.label(format!("{code} ({name})"));
                for state in TokenState::ALL {
                    let count = count_of(report, code, state);
                    ui.label(group_digits(count)).on_hover_text(format!(
                        "{code}, {}: {}",
                        state.label(),
                        group_digits(count)
                    ));
                }
                ui.end_row();
            }
        });
}

fn state_color(state: TokenState) -> egui::Color32 {
    match state {
        TokenState::Effective => egui::Color32::from_rgb(70, 150, 90),
        TokenState::NotEffective => egui::Color32::from_rgb(150, 150, 150),
        TokenState::PendingVerification => egui::Color32::from_rgb(220, 160, 50),
    }
}

fn state_chart_ui(ui: &mut egui::Ui, report: &SummaryReport) {
    use egui_plot::{Bar, BarChart, Corner, Legend, Plot};
    ui.strong("Tokens by definition and state");
    let codes: Vec<String> = definition_codes(report)
        .into_iter()
        .map(str::to_owned)
        .collect();
    let highest = report
        .by_definition_and_state
        .iter()
        .map(|cell| cell.count)
        .max()
        .unwrap_or(0);
    // One group per definition, one bar per state side by side, centred on the definition.
    let charts: Vec<BarChart> = TokenState::ALL
        .into_iter()
        .enumerate()
        .map(|(state_index, state)| {
            let offset = (state_index as f64 - 1.0) * 0.26;
            let bars = codes
                .iter()
                .enumerate()
                .map(|(index, code)| {
                    Bar::new(index as f64 + offset, count_of(report, code, state) as f64)
                        .name(format!("{code}, {}", state.label()))
                        .width(0.24)
                })
                .collect();
            BarChart::new(state.label(), bars).color(state_color(state))
        })
        .collect();
    let axis_codes = codes.clone();
    Plot::new("state-chart")
        .height(300.0)
        .legend(Legend::default().position(Corner::RightTop))
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .allow_boxed_zoom(false)
        .include_x(-0.6)
        .include_x(codes.len() as f64 - 0.4)
        .include_y(0.0)
        .include_y(highest as f64 * 1.25)
        .x_grid_spacer(category_marks)
        .x_axis_formatter(move |mark, _| label_at(&axis_codes, mark.value))
        .y_axis_formatter(|mark, _| count_axis_label(mark.value))
        .show(ui, |plot_ui| {
            for chart in charts {
                plot_ui.bar_chart(chart);
            }
        });
}

/// A y-axis count: whole numbers only, with thousands grouped.
fn count_axis_label(value: f64) -> String {
    if value < 0.0 || (value - value.round()).abs() > 1e-6 {
        return String::new();
    }
    group_digits(value.round() as u64)
}

/// The label for a whole-number position on a category axis; nothing between categories, and
/// only every few categories when there are many (so labels never overlap).
fn label_at(labels: &[String], value: f64) -> String {
    if value < 0.0 || (value - value.round()).abs() > 1e-6 {
        return String::new();
    }
    let index = value.round() as usize;
    let every = labels.len().div_ceil(8).max(1);
    if !index.is_multiple_of(every) {
        return String::new();
    }
    labels.get(index).cloned().unwrap_or_default()
}

/// One grid mark per category (whole numbers), whatever the zoom.
fn category_marks(input: egui_plot::GridInput) -> Vec<egui_plot::GridMark> {
    let (low, high) = input.bounds;
    let first = low.ceil().max(0.0) as i64;
    let last = high.floor() as i64;
    let count = usize::try_from(last - first + 1).unwrap_or(0);
    // Labelled marks get a larger step, so the axis has room to draw their labels.
    let every = count.div_ceil(8).max(1) as i64;
    (first..=last)
        .map(|index| egui_plot::GridMark {
            value: index as f64,
            step_size: if index % every == 0 {
                (every as f64) * 2.0
            } else {
                1.0
            },
        })
        .collect()
}

fn month_chart_ui(ui: &mut egui::Ui, report: &SummaryReport) {
    use egui_plot::{Line, Plot, PlotPoints, Points};
    ui.strong("Tokens created per month");
    let months: Vec<String> = report
        .created_per_month
        .iter()
        .map(|month| month.month.clone())
        .collect();
    let points: Vec<[f64; 2]> = report
        .created_per_month
        .iter()
        .enumerate()
        .map(|(index, month)| [index as f64, month.count as f64])
        .collect();
    let highest = report
        .created_per_month
        .iter()
        .map(|month| month.count)
        .max()
        .unwrap_or(0);
    Plot::new("month-chart")
        .height(300.0)
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .allow_boxed_zoom(false)
        .include_x(-0.5)
        .include_x(months.len() as f64 - 0.5)
        .include_y(0.0)
        .include_y(highest as f64 * 1.15)
        .y_axis_formatter(|mark, _| count_axis_label(mark.value))
        .x_grid_spacer(category_marks)
        .x_axis_formatter(move |mark, _| label_at(&months, mark.value))
        .show(ui, |plot_ui| {
            let color = state_color(TokenState::Effective);
            plot_ui.line(
                Line::new("Tokens created", PlotPoints::from(points.clone()))
                    .color(color)
                    .width(2.0),
            );
            plot_ui.points(
                Points::new("Tokens created", PlotPoints::from(points))
                    .color(color)
                    .radius(3.5),
            );
        });
}

fn worklist_ui(
    ui: &mut egui::Ui,
    worklist: Worklist,
    form: &mut ReportsForm,
    data: &ReportsData,
    commands: &mut Vec<Command>,
) {
    ui.strong(worklist.title());
    if let Some(note) = worklist.note() {
        ui.weak(note);
    }
    ui.horizontal(|ui| {
        if let Worklist::NotUsedForDays(_) = worklist {
            let label = ui.label("Days");
            let changed = ui
                .add(egui::DragValue::new(&mut form.days).range(1..=3650))
                .labelled_by(label.id)
                .changed();
            if changed {
                let worklist = Worklist::NotUsedForDays(form.days);
                form.section = Section::Worklist(worklist);
                form.selected.clear();
                commands.push(Command::Reports(ReportsCommand::OpenWorklist(worklist)));
            }
            ui.separator();
        }
        let count = match data.worklist_count {
            Some(1) => "1 entry".to_owned(),
            Some(count) => format!("{} entries", group_digits(count)),
            None => "Not counted ahead: this list checks every token page by page".to_owned(),
        };
        ui.label(count);
        ui.separator();
        if ui
            .add_enabled(data.page > 0, egui::Button::new("Previous page"))
            .clicked()
        {
            commands.push(Command::Reports(ReportsCommand::PreviousPage));
        }
        ui.label(format!("Page {}", data.page + 1));
        if ui
            .add_enabled(data.has_next_page, egui::Button::new("Next page"))
            .clicked()
        {
            commands.push(Command::Reports(ReportsCommand::NextPage));
        }
        if data.is_loading_page {
            ui.spinner();
        }
        ui.separator();
        if ui.button("Export worklist (CSV)…").clicked() {
            commands.push(Command::Reports(ReportsCommand::OpenExport(
                ExportSource::Worklist(worklist),
            )));
        }
    });
    let actions = worklist.bulk_actions();
    let is_current = data.worklist == Some(worklist);
    if !actions.is_empty() {
        egui::Panel::bottom("bulk-actions")
            .resizable(true)
            .default_size(270.0)
            .min_size(170.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical()
                    .id_salt("bulk-scroll")
                    .show(ui, |ui| bulk_ui(ui, actions, true, form, data, commands));
            });
    }
    egui::CentralPanel::default().show(ui, |ui| {
        if !is_current {
            ui.spinner();
            return;
        }
        if worklist.lists_tokens() {
            if !actions.is_empty() {
                ui.horizontal(|ui| {
                    if ui.small_button("Select all on page").clicked() {
                        for item in &data.items {
                            form.selected.insert(item.token.number.clone());
                        }
                    }
                    if ui.small_button("Clear selection").clicked() {
                        form.selected.clear();
                    }
                    ui.weak(format!("{} selected", form.selected.len()));
                });
            }
            egui::ScrollArea::horizontal()
                .id_salt("worklist-h")
                .show(ui, |ui| {
                    token_table_ui(ui, worklist, !actions.is_empty(), form, &data.items);
                });
        } else {
            participant_table_ui(ui, &data.participants);
        }
    });
}

fn token_table_ui(
    ui: &mut egui::Ui,
    worklist: Worklist,
    can_select: bool,
    form: &mut ReportsForm,
    items: &[WorklistItem],
) {
    if items.is_empty() {
        ui.weak("Nothing to do here: the worklist is empty.");
        return;
    }
    let extra = match worklist {
        Worklist::PendingVerification => Some("Code age"),
        Worklist::NotValidUnderEffectiveDefinition => Some("Problems"),
        _ => None,
    };
    let mut titles = vec!["Token"];
    titles.extend(extra);
    titles.extend([
        "Definition",
        "State",
        "Authentication code",
        "Identifier",
        "Participant",
        "Account",
        "Created",
        "Last used",
        "Locked",
    ]);
    ui.style_mut().wrap_mode = Some(egui::TextWrapMode::Truncate);
    let mut builder = TableBuilder::new(ui)
        .id_salt(("worklist-table", worklist.title()))
        .striped(true)
        .resizable(true)
        .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
        .column(Column::initial(135.0).at_least(110.0));
    if let Some(extra) = extra {
        let width = if extra == "Problems" { 320.0 } else { 120.0 };
        builder = builder.column(Column::initial(width).clip(true));
    }
    builder = builder
        .column(Column::initial(60.0))
        .column(Column::initial(140.0))
        .column(Column::initial(125.0).clip(true))
        .column(Column::initial(140.0).clip(true))
        .column(Column::initial(115.0).clip(true))
        .column(Column::initial(115.0).clip(true))
        .column(Column::initial(85.0))
        .column(Column::initial(85.0))
        .column(Column::remainder().at_least(50.0));
    builder
        .header(22.0, |mut header| {
            for title in &titles {
                header.col(|ui| {
                    ui.strong(*title);
                });
            }
        })
        .body(|body| {
            body.rows(22.0, items.len(), |mut row| {
                let Some(item) = items.get(row.index()) else {
                    return;
                };
                let token = &item.token;
                row.col(|ui| {
                    if can_select {
                        let mut ticked = form.selected.contains(&token.number);
                        if ui.checkbox(&mut ticked, &token.number).changed() {
                            if ticked {
                                form.selected.insert(token.number.clone());
                            } else {
                                form.selected.remove(&token.number);
                            }
                        }
                    } else {
                        ui.label(&token.number);
                    }
                });
                match worklist {
                    Worklist::PendingVerification => {
                        row.col(|ui| {
                            ui.label(code_age_text(item));
                        });
                    }
                    Worklist::NotValidUnderEffectiveDefinition => {
                        row.col(|ui| {
                            let text = item.problems.join("; ");
                            ui.label(&text).on_hover_text(&text);
                        });
                    }
                    _ => {}
                }
                row.col(|ui| {
                    ui.label(&token.definition);
                });
                row.col(|ui| {
                    ui.label(token.state.label());
                });
                row.col(|ui| {
                    ui.label(&token.authentication_code);
                });
                row.col(|ui| {
                    ui.label(token.identifier.as_deref().unwrap_or(""));
                });
                row.col(|ui| {
                    ui.label(token.participant_number.as_deref().unwrap_or(""));
                });
                row.col(|ui| {
                    ui.label(token.account_number.as_deref().unwrap_or(""));
                });
                row.col(|ui| {
                    ui.label(day_of(&token.created_at))
                        .on_hover_text(&token.created_at);
                });
                row.col(|ui| match &token.last_used_at {
                    Some(at) => {
                        ui.label(day_of(at)).on_hover_text(at);
                    }
                    None => {
                        ui.label("never");
                    }
                });
                row.col(|ui| {
                    ui.label(if token.locked { "yes" } else { "no" });
                });
            });
        });
}

/// The day of an RFC 3339 timestamp (`2026-03-01T10:00:00Z` -> `2026-03-01`).
fn day_of(at: &str) -> &str {
    at.get(..10).unwrap_or(at)
}

fn code_age_text(item: &WorklistItem) -> String {
    let age = match item.code_age_hours {
        Some(hours) if hours >= 48 => format!("{} days", hours / 24),
        Some(hours) if hours >= 0 => format!("{hours} h"),
        // No issue time, or an expiry beyond the definition's validity (e.g. demo data).
        Some(_) | None => "unknown".to_owned(),
    };
    if item.is_code_expired {
        format!("{age} (expired)")
    } else {
        age
    }
}

fn participant_table_ui(ui: &mut egui::Ui, participants: &[ParticipantRecord]) {
    if participants.is_empty() {
        ui.weak("Nothing to do here: every participant holds an Effective token.");
        return;
    }
    ui.style_mut().wrap_mode = Some(egui::TextWrapMode::Truncate);
    TableBuilder::new(ui)
        .id_salt("worklist-participants")
        .striped(true)
        .resizable(true)
        .column(Column::initial(140.0))
        .column(Column::initial(200.0).clip(true))
        .column(Column::initial(140.0))
        .column(Column::initial(200.0).clip(true))
        .column(Column::initial(110.0))
        .column(Column::initial(110.0))
        .column(Column::remainder())
        .header(22.0, |mut header| {
            for title in [
                "Participant",
                "Name",
                "Account",
                "Account name",
                "State",
                "Signed up",
                "Tokens",
            ] {
                header.col(|ui| {
                    ui.strong(title);
                });
            }
        })
        .body(|body| {
            body.rows(20.0, participants.len(), |mut row| {
                let Some(p) = participants.get(row.index()) else {
                    return;
                };
                row.col(|ui| {
                    ui.label(&p.number);
                });
                row.col(|ui| {
                    ui.label(&p.name);
                });
                row.col(|ui| {
                    ui.label(&p.account_number);
                });
                row.col(|ui| {
                    ui.label(&p.account_name);
                });
                row.col(|ui| {
                    ui.label(p.state.label());
                });
                row.col(|ui| {
                    ui.label(&p.signed_up_on);
                });
                row.col(|ui| {
                    ui.label(p.token_count.to_string());
                });
            });
        });
}

fn action_label(action: BulkAction) -> String {
    match action {
        BulkAction::SetState(state) => format!("Set state to {}", state.label()),
        BulkAction::Unlock => "Unlock".to_owned(),
        BulkAction::RemoveFromOwner(kind) => format!("Remove from {}", kind.label()),
    }
}

/// Every bulk action, for lists the clerk types.
const ALL_BULK_ACTIONS: [BulkAction; 5] = [
    BulkAction::SetState(TokenState::NotEffective),
    BulkAction::SetState(TokenState::Effective),
    BulkAction::Unlock,
    BulkAction::RemoveFromOwner(OwnerKind::Participant),
    BulkAction::RemoveFromOwner(OwnerKind::Account),
];

fn bulk_ui(
    ui: &mut egui::Ui,
    actions: &[BulkAction],
    has_table: bool,
    form: &mut ReportsForm,
    data: &ReportsData,
    commands: &mut Vec<Command>,
) {
    ui.strong("Bulk action");
    if form
        .bulk_action
        .is_none_or(|chosen| !actions.contains(&chosen))
    {
        form.bulk_action = actions.first().copied();
    }
    ui.columns(2, |columns| {
        let ui = &mut columns[0];
        ui.horizontal_wrapped(|ui| {
            ui.label("Action:");
            for &action in actions {
                ui.radio_value(&mut form.bulk_action, Some(action), action_label(action));
            }
        });
        if has_table {
            // Always one line, so ticking a row does not move the fields below.
            ui.label(match form.selected.len() {
                0 => "No rows ticked in the table; tick some, or list tokens below.".to_owned(),
                1 => "1 row ticked in the table; add more below.".to_owned(),
                n => format!("{n} rows ticked in the table; add more below."),
            });
        }
        let label = ui.label("Token numbers, authentication codes or identifiers (one per line)");
        ui.add(
            egui::TextEdit::multiline(&mut form.bulk_text)
                .desired_rows(3)
                .desired_width(f32::INFINITY),
        )
        .labelled_by(label.id);
        let input = form.bulk_input();
        let ready = !input.is_empty();
        ui.horizontal_wrapped(|ui| {
            let label = ui.label("Reason");
            ui.add(egui::TextEdit::singleline(&mut form.bulk_reason).desired_width(200.0))
                .labelled_by(label.id);
            let Some(action) = form.bulk_action else {
                return;
            };
            if ui
                .add_enabled(ready, egui::Button::new("Preview"))
                .clicked()
            {
                commands.push(Command::Reports(ReportsCommand::PreviewBulk {
                    action,
                    text: input.clone(),
                    reason: form.bulk_reason.clone(),
                }));
            }
            if ui.add_enabled(ready, egui::Button::new("Apply")).clicked() {
                commands.push(Command::Reports(ReportsCommand::ApplyBulk {
                    action,
                    text: input.clone(),
                    reason: form.bulk_reason.clone(),
                }));
            }
            if let Some(error) = &data.bulk_error {
                ui.colored_label(ui.visuals().error_fg_color, error);
            } else if form.bulk_reason.trim().is_empty() {
                ui.weak("A reason is required.");
            }
        });
        bulk_report_ui(&mut columns[1], data.bulk.as_ref());
    });
}

fn bulk_report_ui(ui: &mut egui::Ui, report: Option<&BulkReport>) {
    let Some(report) = report else {
        ui.weak("Preview shows which tokens would change and which are refused, and why.");
        return;
    };
    let headline = if report.is_applied {
        format!(
            "Applied \"{}\": {} changed, {} refused.",
            action_label(report.action),
            report.succeeded(),
            report.refused()
        )
    } else {
        format!(
            "Preview of \"{}\": {} would succeed, {} refused. Nothing was changed.",
            action_label(report.action),
            report.succeeded(),
            report.refused()
        )
    };
    ui.strong(headline);
    for item in &report.items {
        ui.horizontal_wrapped(|ui| {
            ui.label(format!("Item {}", item.line));
            ui.monospace(item.token_number.as_deref().unwrap_or(&item.input));
            match &item.outcome {
                BulkOutcome::Succeeds => {
                    let state = item.state_after.map_or("", TokenState::label);
                    let verb = if report.is_applied {
                        "Done"
                    } else {
                        "Would succeed"
                    };
                    ui.label(format!("{verb}; state {state}"));
                }
                BulkOutcome::Refused(sentence) => {
                    ui.colored_label(ui.visuals().error_fg_color, format!("Refused: {sentence}"));
                }
            }
        });
    }
}

/// Ctrl+E and the export dialog; drawn on every place.
pub fn export_ui(
    ui: &mut egui::Ui,
    view: &ViewState,
    state: &mut UiState,
    data: &Data,
    commands: &mut Vec<Command>,
) {
    let shortcut = egui::KeyboardShortcut::new(egui::Modifiers::COMMAND, egui::Key::E);
    if ui
        .ctx()
        .input_mut(|input| input.consume_shortcut(&shortcut))
        && state.reports.export_open.is_none()
        && let Some(source) = export_source_of(view.place, state.reports.section)
    {
        commands.push(Command::Reports(ReportsCommand::OpenExport(source)));
    }
    let Some(source) = state.reports.export_open else {
        return;
    };
    let form = &mut state.reports;
    let status = &data.reports.export;
    let close = modal(
        ui.ctx(),
        "export",
        &source.title(),
        data.notice.as_ref(),
        |ui| {
            ui.horizontal(|ui| {
                let label = ui.label("Export file");
                ui.add(
                    egui::TextEdit::singleline(&mut form.export_path)
                        .hint_text(format!("folder/{}", source.file_name()))
                        .desired_width(420.0),
                )
                .labelled_by(label.id);
            });
            ui.horizontal(|ui| {
                if ui
                    .add_enabled(
                        !data.reports.is_picking_path && !status.is_running,
                        egui::Button::new("Browse…"),
                    )
                    .clicked()
                {
                    commands.push(Command::Reports(ReportsCommand::BrowseExportPath));
                }
                if data.reports.is_picking_path {
                    ui.spinner();
                }
            });
            let rows = match source {
                ExportSource::TokensFilter => {
                    data.tokens.index.as_ref().map(|index| match index.count {
                        1 => "1 token matches the filter.".to_owned(),
                        n => format!("{} tokens match the filter.", group_digits(n)),
                    })
                }
                ExportSource::Worklist(worklist) if data.reports.worklist == Some(worklist) => data
                    .reports
                    .worklist_count
                    .map(|count| format!("{} entries in the worklist.", group_digits(count))),
                _ => None,
            };
            if let Some(rows) = rows {
                ui.label(rows);
            }
            ui.checkbox(
                &mut form.excel_bom,
                "Excel-friendly (starts the file with a byte order mark)",
            );
            ui.weak("Pass codes, hashes and verification codes are never exported.");
            let mut close = false;
            if status.is_running {
                let fraction = if status.rows_total == 0 {
                    0.0
                } else {
                    status.rows_done as f32 / status.rows_total as f32
                };
                let text = if status.rows_total == 0 {
                    format!("{} rows", group_digits(status.rows_done))
                } else {
                    format!(
                        "{} of {} rows",
                        group_digits(status.rows_done),
                        group_digits(status.rows_total)
                    )
                };
                ui.add(
                    egui::ProgressBar::new(fraction.min(1.0))
                        .desired_width(480.0)
                        .text(text),
                );
                if ui.button("Cancel export").clicked() {
                    commands.push(Command::Reports(ReportsCommand::CancelExport));
                }
            } else {
                if let Some(outcome) = &status.outcome {
                    let color = if status.is_error {
                        ui.visuals().error_fg_color
                    } else {
                        ui.visuals().strong_text_color()
                    };
                    ui.colored_label(color, outcome);
                }
                ui.horizontal(|ui| {
                    if ui
                        .add_enabled(
                            !form.export_path.trim().is_empty(),
                            egui::Button::new("Export"),
                        )
                        .clicked()
                    {
                        commands.push(Command::Reports(ReportsCommand::StartExport {
                            source,
                            path: PathBuf::from(form.export_path.trim()),
                            excel_bom: form.excel_bom,
                        }));
                    }
                    close = ui.button("Close").clicked();
                });
            }
            close
        },
    );
    // An export keeps running only while its dialog shows its progress.
    if close && !status.is_running {
        state.reports.export_open = None;
        // A notice from the dialog (e.g. no file chosen) was about the dialog.
        if data.notice.is_some() {
            commands.push(Command::DismissNotice);
        }
    }
}

/// What Ctrl+E exports on each place.
fn export_source_of(place: Place, section: Section) -> Option<ExportSource> {
    match place {
        Place::Tokens => Some(ExportSource::TokensFilter),
        Place::AuditLog => Some(ExportSource::AuditLog),
        Place::Reports => Some(match section {
            Section::Summary => ExportSource::Summary,
            Section::Worklist(worklist) => ExportSource::Worklist(worklist),
            Section::BulkList => return None,
        }),
        _ => None,
    }
}

/// A button that opens the export dialog for `source` (Tokens and Audit log panels).
pub fn export_button_ui(ui: &mut egui::Ui, source: ExportSource, commands: &mut Vec<Command>) {
    if ui
        .button("Export…")
        .on_hover_text("Ctrl+E: writes what the filter shows to a CSV file")
        .clicked()
    {
        commands.push(Command::Reports(ReportsCommand::OpenExport(source)));
    }
}
