//! SQL for CSV imports (SPEC §7): the per-row statements of a pass, the indexes a large import
//! builds after its rows, existing owner numbers for its filters, the batch record with its
//! counts, and undo (R45).

use rusqlite::{OptionalExtension as _, Statement, params};

use super::owners::{INSERT_ACCOUNT, INSERT_PARTICIPANT, account_from_row, participant_from_row};
use super::queries::owner_table;
use super::tokens::{INSERT_TOKEN, insert_token_with};
use super::{Db, NewToken, StoreError, Tx};
use crate::domain::{AccountRecord, OwnerKind, ParticipantRecord};

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
    /// Calls `visit` with the number of every participant or every account (bulk imports build
    /// a filter of existing numbers from them).
    pub fn each_owner_number(
        &self,
        kind: OwnerKind,
        visit: &mut dyn FnMut(&str),
    ) -> Result<(), StoreError> {
        let sql = format!("SELECT number FROM {}", owner_table(kind).0);
        let mut statement = self.conn.prepare(&sql)?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            visit(row.get_ref(0)?.as_str().unwrap_or_default());
        }
        Ok(())
    }
}

/// Which secondary indexes a bulk import builds after its rows instead of updating them row by
/// row: for an import that adds many rows to few, building an index once from sorted rows is
/// cheaper. Only indexes that nothing reads while an import runs may be deferred (R32 counts an
/// owner's tokens through the owner indexes of `tokens`, so those stay).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeferredIndexes {
    /// `tokens` by state, by definition and by batch.
    pub tokens: bool,
    /// Participants and accounts by name.
    pub owner_names: bool,
}

impl DeferredIndexes {
    fn names(self) -> impl Iterator<Item = &'static str> {
        const TOKENS: &[&str] = &["tokens_state", "tokens_definition", "tokens_batch"];
        const OWNER_NAMES: &[&str] = &["participants_name", "accounts_name"];
        (self.tokens.then_some(TOKENS).into_iter())
            .chain(self.owner_names.then_some(OWNER_NAMES))
            .flatten()
            .copied()
    }
}

impl Tx<'_> {
    /// Runs `work` with the `deferred` indexes dropped, and builds them again afterwards in the
    /// same transaction. If `work` fails, the caller's transaction rolls back, and the indexes
    /// with it.
    pub fn with_indexes_built_after<T, E: From<StoreError>>(
        &self,
        deferred: DeferredIndexes,
        work: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        let mut dropped = Vec::new();
        for name in deferred.names() {
            let sql: Option<String> = self
                .conn()
                .query_row(
                    "SELECT sql FROM sqlite_schema WHERE type = 'index' AND name = ?1",
                    [name],
                    |row| row.get(0),
                )
                .optional()
                .map_err(StoreError::from)?;
            if let Some(sql) = sql {
                self.conn()
                    .execute_batch(&format!("DROP INDEX {name}"))
                    .map_err(StoreError::from)?;
                dropped.push(sql);
            }
        }
        let output = work()?;
        for sql in dropped {
            self.conn().execute_batch(&sql).map_err(StoreError::from)?;
        }
        Ok(output)
    }
}

/// The statements a bulk import runs for every row, prepared once for the whole pass: looking
/// each one up in the statement cache, and returning it there, was a tenth of an import.
pub struct ImportStatements<'c> {
    conn: &'c rusqlite::Connection,
    batch_id: i64,
    at: &'c str,
    clerk: &'c str,
    insert_token: Statement<'c>,
    insert_account: Statement<'c>,
    insert_participant: Statement<'c>,
    account_by_number: Statement<'c>,
    participant_by_number: Statement<'c>,
}

impl<'c> Tx<'c> {
    /// The statements of an import that records owners as created by `clerk` at `at` in batch
    /// `batch_id`.
    pub fn import_statements(
        &self,
        batch_id: i64,
        at: &'c str,
        clerk: &'c str,
    ) -> Result<ImportStatements<'c>, StoreError> {
        let conn = self.db.conn;
        Ok(ImportStatements {
            conn,
            batch_id,
            at,
            clerk,
            insert_token: conn.prepare(INSERT_TOKEN)?,
            insert_account: conn.prepare(INSERT_ACCOUNT)?,
            insert_participant: conn.prepare(INSERT_PARTICIPANT)?,
            // The columns of `account_from_row` and `participant_from_row`, with 0 for the
            // counts.
            account_by_number: conn.prepare(
                "SELECT id, number, name, state, 0, 0, created_at, created_by
                 FROM accounts WHERE number = ?1",
            )?,
            participant_by_number: conn.prepare(
                "SELECT p.id, p.number, p.name, p.account_id, a.number, a.name, p.state,
                        p.signed_up_on, 0, p.created_at, p.created_by
                 FROM participants p JOIN accounts a ON a.id = p.account_id WHERE p.number = ?1",
            )?,
        })
    }
}

impl ImportStatements<'_> {
    pub fn insert_token(&mut self, token: &NewToken<'_>) -> Result<(), StoreError> {
        insert_token_with(&mut self.insert_token, token)
    }

    /// A new active account of the batch; its id.
    pub fn insert_account(&mut self, number: &str, name: &str) -> Result<i64, StoreError> {
        self.insert_account
            .execute(params![number, name, self.at, self.clerk, self.batch_id])?;
        Ok(self.conn.last_insert_rowid())
    }

    /// A new effective participant of the batch; its id.
    pub fn insert_participant(
        &mut self,
        number: &str,
        name: &str,
        account_id: i64,
        signed_up_on: &str,
    ) -> Result<i64, StoreError> {
        self.insert_participant.execute(params![
            number,
            name,
            account_id,
            signed_up_on,
            self.at,
            self.clerk,
            self.batch_id
        ])?;
        Ok(self.conn.last_insert_rowid())
    }

    /// An account by number, without its token and participant counts (which cost a scan of
    /// its tokens).
    pub fn account_by_number_uncounted(
        &mut self,
        number: &str,
    ) -> Result<Option<AccountRecord>, StoreError> {
        Ok(self
            .account_by_number
            .query_row([number.trim()], account_from_row)
            .optional()?)
    }

    /// A participant by number, without its token count.
    pub fn participant_by_number_uncounted(
        &mut self,
        number: &str,
    ) -> Result<Option<ParticipantRecord>, StoreError> {
        Ok(self
            .participant_by_number
            .query_row([number.trim()], participant_from_row)
            .optional()?)
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
