//! Import batches: the list, and undo (R45).

use crate::desk::{Desk, DeskError};
use crate::domain::BatchRecord;
use crate::storage::{NewAuditEvent, UndoneCounts};

/// How many blocking records an undo refusal names before it says "and more".
const BLOCKERS_SHOWN: usize = 10;

impl Desk {
    /// Every import batch, newest first.
    pub fn batches(&self) -> Result<Vec<BatchRecord>, DeskError> {
        Ok(self.store.db().batches()?)
    }

    /// Removes a batch's tokens and the owners it created (R45), provided none of them changed
    /// state, was used or was linked since; otherwise refuses and names them.
    pub fn undo_batch(&mut self, batch_id: i64) -> Result<UndoneCounts, DeskError> {
        self.change(|tx, audit| {
            let batch = tx.batch_by_id(batch_id)?.ok_or_else(|| DeskError::not_found("import batch", &batch_id.to_string()))?;
            if let (Some(at), Some(by)) = (&batch.undone_at, &batch.undone_by) {
                return Err(DeskError::refused(format!("batch {batch_id} was already undone on {at} by {by}")));
            }
            let blockers = tx.batch_undo_blockers(batch_id, BLOCKERS_SHOWN + 1)?;
            if !blockers.is_empty() {
                let more = if blockers.len() > BLOCKERS_SHOWN { ", and more" } else { "" };
                let shown: Vec<&str> = blockers.iter().take(BLOCKERS_SHOWN).map(String::as_str).collect();
                return Err(DeskError::refused(format!(
                    "batch {batch_id} cannot be undone because its records changed since the import: {}{more}",
                    shown.join("; ")
                )));
            }
            let counts = tx.undo_batch(batch_id, audit.at, audit.clerk)?;
            tx.audit(&NewAuditEvent {
                at: audit.at,
                clerk: audit.clerk,
                action: "import.undo",
                record_kind: "batch",
                record_number: &batch_id.to_string(),
                details: format!(
                    "undid batch {batch_id} ({}): removed {} tokens, {} participants, {} accounts",
                    batch.file_name, counts.tokens, counts.participants, counts.accounts
                ),
                batch_id: Some(batch_id),
            })?;
            Ok(counts)
        })
    }
}
