//! The Audit log place: newest events first, filtered by record, action prefix and clerk.

use super::{Command, Data, ViewState, labelled_text};

/// The Audit log place.
pub fn audit_ui(ui: &mut egui::Ui, view: &mut ViewState, data: &Data, commands: &mut Vec<Command>) {
    ui.heading("Audit log");
    let filter = &mut view.audit_filter;
    let mut record = filter.record_number.clone().unwrap_or_default();
    let mut clerk = filter.clerk.clone().unwrap_or_default();
    let mut changed = false;
    ui.horizontal(|ui| {
        changed |= labelled_text(ui, "Record number", &mut record).changed();
        changed |= labelled_text(ui, "Action starts with", &mut filter.action_prefix).changed();
        changed |= labelled_text(ui, "Clerk", &mut clerk).changed();
    });
    if changed {
        filter.record_number = super::non_blank(&record);
        filter.clerk = super::non_blank(&clerk);
        commands.push(Command::AuditChanged);
    }
    ui.horizontal(|ui| {
        ui.weak(format!(
            "{} events, newest first",
            super::group_digits(data.audit.len() as u64)
        ));
        if data.audit_has_more && ui.small_button("Load older events").clicked() {
            commands.push(Command::LoadOlderAudit);
        }
        super::reports::export_button_ui(ui, super::reports::ExportSource::AuditLog, commands);
    });
    ui.separator();
    ui.style_mut().wrap_mode = Some(egui::TextWrapMode::Truncate);
    egui_extras::TableBuilder::new(ui)
        .id_salt("audit-table")
        .striped(true)
        .resizable(true)
        .column(egui_extras::Column::initial(170.0))
        .column(egui_extras::Column::initial(90.0))
        .column(egui_extras::Column::initial(170.0))
        .column(egui_extras::Column::initial(130.0))
        .column(egui_extras::Column::remainder())
        .header(22.0, |mut header| {
            for title in ["When (UTC)", "Clerk", "Action", "Record", "Details"] {
                header.col(|ui| {
                    ui.strong(title);
                });
            }
        })
        .body(|body| {
            body.rows(20.0, data.audit.len(), |mut row| {
                let Some(event) = data.audit.get(row.index()) else {
                    return;
                };
                row.col(|ui| {
                    ui.label(&event.at);
                });
                row.col(|ui| {
                    ui.label(&event.clerk);
                });
                row.col(|ui| {
                    ui.label(&event.action);
                });
                row.col(|ui| {
                    ui.label(format!("{} {}", event.record_kind, event.record_number));
                });
                row.col(|ui| {
                    ui.label(super::drawable(&event.details));
                });
            });
        });
}
