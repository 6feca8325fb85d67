//! SQL for CSV import batches: the batch record, its counts, and undo (SPEC §7.3, R45).

use rusqlite::{OptionalExtension as _, params};

use super::{Db, StoreError, Tx};
use crate::domain::{AccountRecord, AccountState, ParticipantRecord, ParticipantState};

/// A batch about to be recorded at the start of an import.
#[derive(Clone, Debug)]
pub struct NewBatch<'a> {
    pub file_name: &'a str,
    pub file_sha256: &'a str,
    pub mode: &'a str,
    pub started_at: &'a str,
    pub clerk: &'a str,
}

/// How many rows of each outcome a batch had.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BatchCounts {
    pub created: u64,
    pub unchanged: u64,
    pub rejected: u64,
}

/// What an undo removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UndoneCounts {
    pub tokens: u64,
    pub participants: u64,
    pub accounts: u64,
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl Db<'_> {
    /// An account by number, without its token and participant counts (which cost a scan of
    /// its tokens): a bulk import looks one up for every row.
    pub fn account_by_number_uncounted(
        &self,
        number: &str,
    ) -> Result<Option<AccountRecord>, StoreError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT id, number, name, state, created_at, created_by FROM accounts WHERE number = ?1",
        )?;
        let account = statement
            .query_row([number.trim()], |row| {
                let state: String = row.get(3)?;
                Ok(AccountRecord {
                    id: row.get(0)?,
                    number: row.get(1)?,
                    name: row.get(2)?,
                    state: AccountState::parse(&state).unwrap_or(AccountState::Terminated),
                    token_count: 0,
                    participant_count: 0,
                    created_at: row.get(4)?,
                    created_by: row.get(5)?,
                })
            })
            .optional()?;
        Ok(account)
    }

    /// A participant by number, without its token count; see [`Db::account_by_number_uncounted`].
    pub fn participant_by_number_uncounted(
        &self,
        number: &str,
    ) -> Result<Option<ParticipantRecord>, StoreError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT p.id, p.number, p.name, p.account_id, a.number, a.name, p.state, p.signed_up_on,
                    p.created_at, p.created_by
             FROM participants p JOIN accounts a ON a.id = p.account_id WHERE p.number = ?1",
        )?;
        let participant = statement
            .query_row([number.trim()], |row| {
                let state: String = row.get(6)?;
                Ok(ParticipantRecord {
                    id: row.get(0)?,
                    number: row.get(1)?,
                    name: row.get(2)?,
                    account_id: row.get(3)?,
                    account_number: row.get(4)?,
                    account_name: row.get(5)?,
                    state: ParticipantState::parse(&state).unwrap_or(ParticipantState::Terminated),
                    signed_up_on: row.get(7)?,
                    token_count: 0,
                    created_at: row.get(8)?,
                    created_by: row.get(9)?,
                })
            })
            .optional()?;
        Ok(participant)
    }
}

impl Tx<'_> {
    pub fn insert_batch(&self, batch: &NewBatch<'_>) -> Result<i64, StoreError> {
        self.conn().execute(
            "INSERT INTO import_batches (file_name, file_sha256, mode, started_at, clerk) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![batch.file_name, batch.file_sha256, batch.mode, batch.started_at, batch.clerk],
        )?;
        Ok(self.conn().last_insert_rowid())
    }

    pub fn finish_batch(
        &self,
        id: i64,
        counts: BatchCounts,
        finished_at: &str,
    ) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE import_batches SET created = ?1, unchanged = ?2, rejected = ?3, finished_at = ?4 WHERE id = ?5",
            params![to_i64(counts.created), to_i64(counts.unchanged), to_i64(counts.rejected), finished_at, id],
        )?;
        Ok(())
    }

    /// Why a batch cannot be undone (R45), one short phrase per record, at most `limit` of them.
    ///
    /// A token counts as changed when it was used, updated, or has any audit event of its own:
    /// an import writes one event per batch, so every later change of a token shows up there.
    pub fn batch_undo_blockers(
        &self,
        batch_id: i64,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut statement = self.conn().prepare(
            "SELECT 'token ' || t.number || CASE
                    WHEN t.last_used_at IS NOT NULL THEN ' has been used'
                    WHEN EXISTS (SELECT 1 FROM audit_events e WHERE e.record_number = t.number
                                 AND e.record_kind = 'token' AND e.action = 'token.state') THEN ' has changed state'
                    WHEN EXISTS (SELECT 1 FROM audit_events e WHERE e.record_number = t.number
                                 AND e.record_kind = 'token' AND e.action IN ('token.link', 'token.unlink'))
                         THEN ' has been linked or unlinked'
                    ELSE ' has changed since the import' END
             FROM tokens t
             WHERE t.import_batch_id = ?1
               AND (t.last_used_at IS NOT NULL OR t.updated_at <> t.created_at OR t.failed_attempts > 0
                    OR EXISTS (SELECT 1 FROM audit_events e WHERE e.record_number = t.number AND e.record_kind = 'token'))
             UNION ALL
             SELECT 'participant ' || p.number || ' holds token ' || t.number || ', which is not from this import'
             FROM participants p JOIN tokens t ON t.participant_id = p.id
             WHERE p.import_batch_id = ?1 AND t.import_batch_id IS NOT ?1
             UNION ALL
             SELECT 'account ' || a.number || ' holds token ' || t.number || ', which is not from this import'
             FROM accounts a JOIN tokens t ON t.account_id = a.id
             WHERE a.import_batch_id = ?1 AND t.import_batch_id IS NOT ?1
             UNION ALL
             SELECT 'account ' || a.number || ' has participant ' || p.number || ', who is not from this import'
             FROM accounts a JOIN participants p ON p.account_id = a.id
             WHERE a.import_batch_id = ?1 AND p.import_batch_id IS NOT ?1
             UNION ALL
             SELECT 'participant ' || p.number || ' has changed since the import'
             FROM participants p
             WHERE p.import_batch_id = ?1 AND (p.state <> 'effective'
                OR EXISTS (SELECT 1 FROM audit_events e WHERE e.record_number = p.number AND e.record_kind = 'participant'))
             UNION ALL
             SELECT 'account ' || a.number || ' has changed since the import'
             FROM accounts a
             WHERE a.import_batch_id = ?1 AND (a.state <> 'active'
                OR EXISTS (SELECT 1 FROM audit_events e WHERE e.record_number = a.number AND e.record_kind = 'account'))
             LIMIT ?2",
        )?;
        let rows = statement.query_map(params![batch_id, limit], |row| row.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Removes the tokens and owners a batch created and marks it undone. Call only after
    /// [`Tx::batch_undo_blockers`] found nothing.
    pub fn undo_batch(
        &self,
        batch_id: i64,
        at: &str,
        by: &str,
    ) -> Result<UndoneCounts, StoreError> {
        let tokens = self
            .conn()
            .execute("DELETE FROM tokens WHERE import_batch_id = ?1", [batch_id])?;
        let participants = self.conn().execute(
            "DELETE FROM participants WHERE import_batch_id = ?1",
            [batch_id],
        )?;
        let accounts = self.conn().execute(
            "DELETE FROM accounts WHERE import_batch_id = ?1",
            [batch_id],
        )?;
        self.conn().execute(
            "UPDATE import_batches SET undone_at = ?1, undone_by = ?2 WHERE id = ?3",
            params![at, by, batch_id],
        )?;
        let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        Ok(UndoneCounts {
            tokens: count(tokens),
            participants: count(participants),
            accounts: count(accounts),
        })
    }
}
