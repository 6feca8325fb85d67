//! Export of the audit log (SPEC §10 "Audit log: filterable, exportable") to CSV.
//!
//! Audit details never hold secrets (by design of every use case), so every column can leave.
//! The export is itself audited with its row count and SHA-256, like the token export (R62).

use std::io::Write;
use std::path::PathBuf;

use super::export::{
    ExportOptions, ExportProgress, ExportSummary, HashingWriter, bom_note, csv_write_error,
    flush_csv, write_guarded_row,
};
use super::jobs::{BackgroundJob, Progress};
use super::views::AuditFilter;
use super::{Desk, DeskError, describe_io_error};

/// The columns of the audit log export, in order.
pub const AUDIT_EXPORT_COLUMNS: [&str; 7] = [
    "id",
    "at",
    "clerk",
    "action",
    "record_kind",
    "record_number",
    "details",
];

/// Events read per page while exporting.
const AUDIT_PAGE_ROWS: usize = 2_000;

impl Desk {
    /// Writes the audit events `filter` shows, newest first, as CSV to `out`, then audits the
    /// export with the filter, the row count and the SHA-256 of the output.
    pub fn export_audit_events(
        &mut self,
        filter: &AuditFilter,
        options: ExportOptions,
        out: &mut dyn Write,
        progress: &mut dyn FnMut(ExportProgress),
        should_stop: &dyn Fn() -> bool,
    ) -> Result<ExportSummary, DeskError> {
        let mut sink = HashingWriter::new(out);
        let mut rows = 0u64;
        let mut was_cancelled = false;
        let written = (|| -> Result<(), DeskError> {
            sink.start(options)?;
            let mut writer = csv::WriterBuilder::new().from_writer(&mut sink);
            writer
                .write_record(AUDIT_EXPORT_COLUMNS)
                .map_err(csv_write_error)?;
            let mut before_id = i64::MAX;
            loop {
                if should_stop() {
                    was_cancelled = true;
                    break;
                }
                let page = self.audit_events(filter, before_id, AUDIT_PAGE_ROWS)?;
                let Some(last) = page.last() else { break };
                before_id = last.id;
                for event in &page {
                    let id = event.id.to_string();
                    let cells = [
                        id.as_str(),
                        &event.at,
                        &event.clerk,
                        &event.action,
                        &event.record_kind,
                        &event.record_number,
                        &event.details,
                    ];
                    write_guarded_row(&mut writer, &cells)?;
                    rows += 1;
                }
                progress(ExportProgress {
                    rows_written: rows,
                    rows_scanned: rows,
                    total_rows: 0,
                });
                if page.len() < AUDIT_PAGE_ROWS {
                    break;
                }
            }
            flush_csv(&mut writer)
        })();
        let (bytes, sha256) = sink.finish();
        let outcome = super::export::outcome_word(&written, was_cancelled);
        let details = format!(
            "export of audit events {outcome}; filter {}; {rows} rows; sha256 {sha256}{}",
            describe_audit_filter(filter),
            bom_note(options)
        );
        self.change(|tx, audit| Ok(audit.record(tx, "export.audit", "export", "", details)?))?;
        written?;
        Ok(ExportSummary {
            rows,
            bytes,
            sha256,
            was_cancelled,
        })
    }
}

/// The filter in a few words for the audit event.
fn describe_audit_filter(filter: &AuditFilter) -> String {
    let mut parts = Vec::new();
    if let Some(record) = &filter.record_number {
        parts.push(format!("record {record}"));
    }
    if !filter.action_prefix.is_empty() {
        parts.push(format!("action {}*", filter.action_prefix));
    }
    if let Some(clerk) = &filter.clerk {
        parts.push(format!("clerk {clerk}"));
    }
    if parts.is_empty() {
        "none".to_owned()
    } else {
        parts.join(", ")
    }
}

/// Exports the audit events `filter` shows to `out_path` on a background thread named
/// `audit-export`, over its own connection; a partial file is removed on failure or cancel.
pub fn spawn_audit_export(
    database: PathBuf,
    clerk: String,
    filter: AuditFilter,
    options: ExportOptions,
    out_path: PathBuf,
    wake: impl Fn() + Send + 'static,
) -> std::io::Result<BackgroundJob<Result<ExportSummary, DeskError>>> {
    BackgroundJob::spawn("audit-export", wake, move |context| {
        let mut desk = Desk::open(&database, &clerk)?;
        let file = std::fs::File::create(&out_path).map_err(|err| {
            DeskError::File(format!(
                "{}: {}",
                out_path.display(),
                describe_io_error(&err)
            ))
        })?;
        let mut out = std::io::BufWriter::new(file);
        let mut progress = |p: ExportProgress| {
            context.report(Progress {
                done: p.rows_written,
                total: p.total_rows,
            });
        };
        let should_stop = || context.is_cancel_requested();
        let result =
            desk.export_audit_events(&filter, options, &mut out, &mut progress, &should_stop);
        let flushed = out.flush();
        drop(out);
        let result = result.and_then(|summary| {
            flushed.map_err(|err| {
                DeskError::File(format!(
                    "{}: {}",
                    out_path.display(),
                    describe_io_error(&err)
                ))
            })?;
            Ok(summary)
        });
        if !matches!(&result, Ok(summary) if !summary.was_cancelled) {
            std::fs::remove_file(&out_path).ok();
        }
        result
    })
}
