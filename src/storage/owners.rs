//! SQL for definitions, participants, accounts and import batches.

use rusqlite::{OptionalExtension as _, Row, params};

use super::{Db, StoreError, Tx};
use crate::domain::{
    AccountRecord, AccountState, BatchRecord, DefinitionRecord, DefinitionSettings,
    ParticipantRecord, ParticipantState,
};

const DEFINITION_SELECT: &str =
    "SELECT id, number, name, code, description, is_effective, settings,
    created_at, created_by, updated_at, updated_by FROM definitions";

fn definition_from_row(row: &Row<'_>) -> rusqlite::Result<DefinitionRecord> {
    let settings: String = row.get(6)?;
    let settings: DefinitionSettings = serde_json::from_str(&settings).map_err(|err| {
        rusqlite::Error::FromSqlConversionFailure(6, rusqlite::types::Type::Text, Box::new(err))
    })?;
    Ok(DefinitionRecord {
        id: row.get(0)?,
        number: row.get(1)?,
        name: row.get(2)?,
        code: row.get(3)?,
        description: row.get(4)?,
        is_effective: row.get(5)?,
        settings,
        created_at: row.get(7)?,
        created_by: row.get(8)?,
        updated_at: row.get(9)?,
        updated_by: row.get(10)?,
    })
}

pub(super) const PARTICIPANT_SELECT: &str =
    "SELECT p.id, p.number, p.name, p.account_id, a.number, a.name,
    p.state, p.signed_up_on, (SELECT count(*) FROM tokens t WHERE t.participant_id = p.id),
    p.created_at, p.created_by
    FROM participants p JOIN accounts a ON a.id = p.account_id";

pub(super) fn participant_from_row(row: &Row<'_>) -> rusqlite::Result<ParticipantRecord> {
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
        token_count: row.get(8)?,
        created_at: row.get(9)?,
        created_by: row.get(10)?,
    })
}

pub(super) const ACCOUNT_SELECT: &str = "SELECT a.id, a.number, a.name, a.state,
    (SELECT count(*) FROM tokens t WHERE t.account_id = a.id),
    (SELECT count(*) FROM participants p WHERE p.account_id = a.id),
    a.created_at, a.created_by FROM accounts a";

pub(super) fn account_from_row(row: &Row<'_>) -> rusqlite::Result<AccountRecord> {
    let state: String = row.get(3)?;
    Ok(AccountRecord {
        id: row.get(0)?,
        number: row.get(1)?,
        name: row.get(2)?,
        state: AccountState::parse(&state).unwrap_or(AccountState::Terminated),
        token_count: row.get(4)?,
        participant_count: row.get(5)?,
        created_at: row.get(6)?,
        created_by: row.get(7)?,
    })
}

const BATCH_SELECT: &str =
    "SELECT id, file_name, file_sha256, mode, started_at, finished_at, created, unchanged,
    rejected, clerk, undone_at, undone_by FROM import_batches";

fn batch_from_row(row: &Row<'_>) -> rusqlite::Result<BatchRecord> {
    Ok(BatchRecord {
        id: row.get(0)?,
        file_name: row.get(1)?,
        file_sha256: row.get(2)?,
        mode: row.get(3)?,
        started_at: row.get(4)?,
        finished_at: row.get(5)?,
        created: row.get(6)?,
        unchanged: row.get(7)?,
        rejected: row.get(8)?,
        clerk: row.get(9)?,
        undone_at: row.get(10)?,
        undone_by: row.get(11)?,
    })
}

/// `(number, name, created_at, created_by, import_batch_id)`; a new account is active.
pub(super) const INSERT_ACCOUNT: &str =
    "INSERT INTO accounts (number, name, state, created_at, created_by, import_batch_id)
     VALUES (?1, ?2, 'active', ?3, ?4, ?5)";

/// `(number, name, account_id, signed_up_on, created_at, created_by, import_batch_id)`.
pub(super) const INSERT_PARTICIPANT: &str =
    "INSERT INTO participants (number, name, account_id, state, signed_up_on, created_at, created_by, import_batch_id)
     VALUES (?1, ?2, ?3, 'effective', ?4, ?5, ?6, ?7)";

impl Db<'_> {
    /// The one row `sql` finds, if any, mapped by `map`.
    fn one<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        map: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Option<T>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(sql)?
            .query_row(params, map)
            .optional()?)
    }

    pub fn definitions(&self) -> Result<Vec<DefinitionRecord>, StoreError> {
        let mut statement = self
            .conn
            .prepare_cached(&format!("{DEFINITION_SELECT} ORDER BY id"))?;
        let rows = statement.query_map([], definition_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn definition_by_code(&self, code: &str) -> Result<Option<DefinitionRecord>, StoreError> {
        self.one(
            &format!("{DEFINITION_SELECT} WHERE code = ?1 OR number = upper(?1)"),
            [code.trim()],
            definition_from_row,
        )
    }

    pub fn definition_by_id(&self, id: i64) -> Result<Option<DefinitionRecord>, StoreError> {
        self.one(
            &format!("{DEFINITION_SELECT} WHERE id = ?1"),
            [id],
            definition_from_row,
        )
    }

    pub fn effective_definition(&self) -> Result<Option<DefinitionRecord>, StoreError> {
        self.one(
            &format!("{DEFINITION_SELECT} WHERE is_effective = 1"),
            [],
            definition_from_row,
        )
    }

    pub fn participant_by_number(
        &self,
        number: &str,
    ) -> Result<Option<ParticipantRecord>, StoreError> {
        self.one(
            &format!("{PARTICIPANT_SELECT} WHERE p.number = ?1"),
            [number.trim()],
            participant_from_row,
        )
    }

    pub fn participant_by_id(&self, id: i64) -> Result<Option<ParticipantRecord>, StoreError> {
        self.one(
            &format!("{PARTICIPANT_SELECT} WHERE p.id = ?1"),
            [id],
            participant_from_row,
        )
    }

    pub fn account_by_number(&self, number: &str) -> Result<Option<AccountRecord>, StoreError> {
        self.one(
            &format!("{ACCOUNT_SELECT} WHERE a.number = ?1"),
            [number.trim()],
            account_from_row,
        )
    }

    pub fn account_by_id(&self, id: i64) -> Result<Option<AccountRecord>, StoreError> {
        self.one(
            &format!("{ACCOUNT_SELECT} WHERE a.id = ?1"),
            [id],
            account_from_row,
        )
    }

    pub fn participants_of_account(
        &self,
        account_id: i64,
    ) -> Result<Vec<ParticipantRecord>, StoreError> {
        let sql = format!("{PARTICIPANT_SELECT} WHERE p.account_id = ?1 ORDER BY p.id");
        let mut statement = self.conn.prepare_cached(&sql)?;
        let rows = statement.query_map([account_id], participant_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn participant_number_exists(&self, number: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM participants WHERE number = ?1")?
            .exists([number])?)
    }

    pub fn account_number_exists(&self, number: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM accounts WHERE number = ?1")?
            .exists([number])?)
    }

    pub fn batches(&self) -> Result<Vec<BatchRecord>, StoreError> {
        let mut statement = self
            .conn
            .prepare_cached(&format!("{BATCH_SELECT} ORDER BY id DESC"))?;
        let rows = statement.query_map([], batch_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn batch_by_id(&self, id: i64) -> Result<Option<BatchRecord>, StoreError> {
        self.one(
            &format!("{BATCH_SELECT} WHERE id = ?1"),
            [id],
            batch_from_row,
        )
    }

    /// Earlier, not undone batches of a file with this SHA-256 (R42).
    pub fn batch_by_sha256(&self, sha256: &str) -> Result<Option<BatchRecord>, StoreError> {
        let sql = format!(
            "{BATCH_SELECT} WHERE file_sha256 = ?1 AND undone_at IS NULL ORDER BY id DESC LIMIT 1"
        );
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_row([sha256], batch_from_row)
            .optional()?)
    }
}

/// A definition about to be inserted or updated.
#[derive(Clone, Debug)]
pub struct DefinitionValues<'a> {
    pub name: &'a str,
    pub code: &'a str,
    pub description: &'a str,
    pub settings: &'a DefinitionSettings,
}

impl Tx<'_> {
    pub fn insert_definition(
        &self,
        number: &str,
        values: &DefinitionValues<'_>,
        at: &str,
        by: &str,
    ) -> Result<i64, StoreError> {
        let settings =
            serde_json::to_string(values.settings).map_err(|e| StoreError::Io(e.to_string()))?;
        self.conn().execute(
            "INSERT INTO definitions (number, name, code, description, is_effective, settings, created_at, created_by, updated_at, updated_by)
             VALUES (?1, ?2, ?3, ?4, 0, ?5, ?6, ?7, ?6, ?7)",
            params![number, values.name, values.code, values.description, settings, at, by],
        )?;
        Ok(self.conn().last_insert_rowid())
    }

    pub fn update_definition(
        &self,
        id: i64,
        values: &DefinitionValues<'_>,
        at: &str,
        by: &str,
    ) -> Result<(), StoreError> {
        let settings =
            serde_json::to_string(values.settings).map_err(|e| StoreError::Io(e.to_string()))?;
        self.conn().execute(
            "UPDATE definitions SET name = ?1, code = ?2, description = ?3, settings = ?4, updated_at = ?5, updated_by = ?6 WHERE id = ?7",
            params![values.name, values.code, values.description, settings, at, by, id],
        )?;
        Ok(())
    }

    /// Makes `id` the one Effective definition (R10), in this transaction.
    pub fn make_definition_effective(&self, id: i64, at: &str, by: &str) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE definitions SET is_effective = 0, updated_at = ?1, updated_by = ?2 WHERE is_effective = 1 AND id <> ?3",
            params![at, by, id],
        )?;
        self.conn().execute(
            "UPDATE definitions SET is_effective = 1, updated_at = ?1, updated_by = ?2 WHERE id = ?3",
            params![at, by, id],
        )?;
        Ok(())
    }

    pub fn delete_definition(&self, id: i64) -> Result<(), StoreError> {
        self.conn()
            .execute("DELETE FROM definitions WHERE id = ?1", [id])?;
        Ok(())
    }

    pub fn insert_account(
        &self,
        number: &str,
        name: &str,
        batch: Option<i64>,
        at: &str,
        by: &str,
    ) -> Result<i64, StoreError> {
        self.conn()
            .prepare_cached(INSERT_ACCOUNT)?
            .execute(params![number, name, at, by, batch])?;
        Ok(self.conn().last_insert_rowid())
    }

    pub fn set_account_state(&self, id: i64, state: AccountState) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE accounts SET state = ?1 WHERE id = ?2",
            params![state.as_str(), id],
        )?;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub fn insert_participant(
        &self,
        number: &str,
        name: &str,
        account_id: i64,
        signed_up_on: &str,
        batch: Option<i64>,
        at: &str,
        by: &str,
    ) -> Result<i64, StoreError> {
        self.conn()
            .prepare_cached(INSERT_PARTICIPANT)?
            .execute(params![
                number,
                name,
                account_id,
                signed_up_on,
                at,
                by,
                batch
            ])?;
        Ok(self.conn().last_insert_rowid())
    }

    pub fn set_participant_state(
        &self,
        id: i64,
        state: ParticipantState,
    ) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE participants SET state = ?1 WHERE id = ?2",
            params![state.as_str(), id],
        )?;
        Ok(())
    }
}
