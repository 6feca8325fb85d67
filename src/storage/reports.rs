//! SQL for the summary report, the owner worklists and bulk actions (SPEC §8).
//!
//! Token exports read keyset pages of plain text cells (bounded memory, no per-row records);
//! the rest are aggregate counts and the one savepoint helper bulk actions need.

use rusqlite::types::Value;
use serde::Serialize;

use super::owners::{PARTICIPANT_SELECT, participant_from_row};
use super::queries::token_conditions;
use super::{Db, Store, StoreError, Tx};
use crate::domain::{ParticipantRecord, TokenState};
use crate::storage::TokenFilter;

/// The cells of the token export (SPEC §8), in its column order, after the token id. There is no
/// pass-code, hash or verification-code column to select (R60).
const EXPORT_SELECT: &str = "
    SELECT t.id, t.number, d.code, t.state, t.authentication_code, t.identifier,
           p.number, p.name, a.number, a.name, t.created_at, t.created_by,
           t.verified_at, t.last_used_at, t.locked, t.import_batch_id
    FROM tokens t
    JOIN definitions d ON d.id = t.definition_id
    LEFT JOIN participants p ON p.id = t.participant_id
    LEFT JOIN accounts a ON a.id = t.account_id";

/// Number of cells of one exported token.
pub const EXPORT_CELLS: usize = 15;

/// Tokens of one definition in one state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DefinitionStateCount {
    pub definition_code: String,
    pub definition_name: String,
    pub state: TokenState,
    pub count: u64,
}

/// How many owners hold at least one Effective token, and how many hold none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct OwnerCoverage {
    pub with_effective_token: u64,
    pub without_effective_token: u64,
}

/// Owners that are not Terminated, with and without an Effective token.
const PARTICIPANT_COVERAGE: &str = "
    SELECT coalesce(sum(has_token), 0), coalesce(sum(1 - has_token), 0) FROM (
        SELECT EXISTS (SELECT 1 FROM tokens t WHERE t.participant_id = p.id AND t.state = 'effective') AS has_token
        FROM participants p WHERE p.state <> 'terminated')";
const ACCOUNT_COVERAGE: &str = "
    SELECT coalesce(sum(has_token), 0), coalesce(sum(1 - has_token), 0) FROM (
        SELECT EXISTS (SELECT 1 FROM tokens t WHERE t.account_id = a.id AND t.state = 'effective') AS has_token
        FROM accounts a WHERE a.state <> 'terminated')";

impl Db<'_> {
    /// Token counts grouped by definition and state, in definition order.
    pub fn token_counts_by_definition_and_state(
        &self,
    ) -> Result<Vec<DefinitionStateCount>, StoreError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT d.code, d.name, c.state, c.n FROM
                (SELECT definition_id, state, count(*) AS n FROM tokens GROUP BY definition_id, state) c
             JOIN definitions d ON d.id = c.definition_id
             ORDER BY d.id, c.state",
        )?;
        let rows = statement.query_map([], |row| {
            let state: String = row.get(2)?;
            Ok(DefinitionStateCount {
                definition_code: row.get(0)?,
                definition_name: row.get(1)?,
                state: TokenState::parse(&state).unwrap_or(TokenState::NotEffective),
                count: row.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Participants that are not Terminated, with and without an Effective token.
    pub fn participant_coverage(&self) -> Result<OwnerCoverage, StoreError> {
        self.coverage(PARTICIPANT_COVERAGE)
    }

    /// Accounts that are not Terminated, with and without an Effective token.
    pub fn account_coverage(&self) -> Result<OwnerCoverage, StoreError> {
        self.coverage(ACCOUNT_COVERAGE)
    }

    fn coverage(&self, sql: &str) -> Result<OwnerCoverage, StoreError> {
        Ok(self.conn.prepare_cached(sql)?.query_row([], |row| {
            Ok(OwnerCoverage {
                with_effective_token: row.get(0)?,
                without_effective_token: row.get(1)?,
            })
        })?)
    }

    /// Tokens created per calendar month (`YYYY-MM`, UTC), oldest first.
    pub fn tokens_created_per_month(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT substr(created_at, 1, 7) AS month, count(*) FROM tokens GROUP BY month ORDER BY month",
        )?;
        let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// How many tokens are locked.
    pub fn count_locked_tokens(&self) -> Result<u64, StoreError> {
        let mut statement = self
            .conn
            .prepare_cached("SELECT count(*) FROM tokens WHERE locked = 1")?;
        Ok(statement.query_row([], |row| row.get(0))?)
    }

    /// A page of participants that are not Terminated and hold no Effective token, in id order,
    /// with ids greater than `after_id`.
    pub fn participants_without_effective_token(
        &self,
        after_id: i64,
        limit: usize,
    ) -> Result<Vec<ParticipantRecord>, StoreError> {
        let sql = format!(
            "{PARTICIPANT_SELECT} WHERE p.id > ?1 AND p.state <> 'terminated'
             AND NOT EXISTS (SELECT 1 FROM tokens t WHERE t.participant_id = p.id AND t.state = 'effective')
             ORDER BY p.id LIMIT {limit}"
        );
        let mut statement = self.conn.prepare_cached(&sql)?;
        let rows = statement.query_map([Value::Integer(after_id)], participant_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

impl Store {
    /// Runs `work` in one read transaction: every query in it sees the same snapshot, while
    /// other connections may go on writing (WAL). Not for use inside [`Store::write`].
    pub fn read_snapshot<T, E: From<StoreError>>(
        &self,
        work: impl FnOnce(Db<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        self.conn
            .execute_batch("BEGIN DEFERRED")
            .map_err(StoreError::from)?;
        let output = work(self.db());
        // Nothing was written; ending the transaction only releases the snapshot.
        let ended = self.conn.execute_batch("COMMIT").map_err(StoreError::from);
        let output = output?;
        ended?;
        Ok(output)
    }
}

impl Db<'_> {
    /// Calls `each` with the export cells of every token `filter` shows whose id is greater
    /// than `after_id`, at most `limit` of them, in id order. Returns the last id seen (`None`
    /// when there were none). Cells borrow from SQLite: nothing is allocated per row.
    pub fn export_token_page<E: From<StoreError>>(
        &self,
        filter: &TokenFilter,
        after_id: i64,
        limit: usize,
        each: &mut dyn FnMut(&[&str; EXPORT_CELLS]) -> Result<(), E>,
    ) -> Result<Option<i64>, E> {
        let mut conditions = token_conditions(filter);
        conditions.push("t.id > ?", [Value::Integer(after_id)]);
        let sql = format!(
            "{EXPORT_SELECT}{} ORDER BY t.id LIMIT {limit}",
            conditions.sql()
        );
        let mut statement = self.conn.prepare_cached(&sql).map_err(StoreError::from)?;
        let mut rows = statement
            .query(rusqlite::params_from_iter(conditions.values.iter()))
            .map_err(StoreError::from)?;
        let mut last_id = None;
        let mut batch = String::new();
        while let Some(row) = rows.next().map_err(StoreError::from)? {
            let text = |index: usize| -> Result<&str, StoreError> {
                Ok(row
                    .get_ref(index)?
                    .as_str_or_null()
                    .map_err(rusqlite::Error::from)?
                    .unwrap_or(""))
            };
            let locked: bool = row.get(14).map_err(StoreError::from)?;
            let batch_id: Option<i64> = row.get(15).map_err(StoreError::from)?;
            batch.clear();
            if let Some(id) = batch_id {
                batch.push_str(&id.to_string());
            }
            let cells = [
                text(1)?,
                text(2)?,
                text(3)?,
                text(4)?,
                text(5)?,
                text(6)?,
                text(7)?,
                text(8)?,
                text(9)?,
                text(10)?,
                text(11)?,
                text(12)?,
                text(13)?,
                if locked { "true" } else { "false" },
                batch.as_str(),
            ];
            each(&cells)?;
            last_id = Some(row.get(0).map_err(StoreError::from)?);
        }
        Ok(last_id)
    }
}

impl Tx<'_> {
    /// Runs `work` inside a savepoint of this transaction: its writes stay if it returns `Ok`
    /// and are undone if it returns `Err`, while the rest of the transaction goes on.
    pub fn within_savepoint<T, E: From<StoreError>>(
        &self,
        work: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        self.conn()
            .execute_batch("SAVEPOINT item")
            .map_err(StoreError::from)?;
        match work() {
            Ok(output) => {
                self.conn()
                    .execute_batch("RELEASE item")
                    .map_err(StoreError::from)?;
                Ok(output)
            }
            Err(err) => {
                self.conn()
                    .execute_batch("ROLLBACK TO item; RELEASE item")
                    .map_err(StoreError::from)?;
                Err(err)
            }
        }
    }
}
