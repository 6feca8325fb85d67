//! SQL for access tokens.

use rusqlite::{OptionalExtension as _, Row, params};

use super::{Db, StoreError, Tx};
use crate::domain::{AccountState, ParticipantState, TokenRecord, TokenState};

/// The columns of [`TokenRecord`], joined with definition and owners. `queries.rs` appends to it.
pub(super) const TOKEN_SELECT: &str = "
    SELECT t.id, t.number, t.definition_id, d.code, t.state, t.authentication_code, t.identifier,
           t.pass_code_hash IS NOT NULL, t.participant_id, p.number, p.name, p.state,
           t.account_id, a.number, a.name, a.state, t.failed_attempts, t.locked, t.verified_at,
           t.verification_expires_at, t.last_used_at, t.import_batch_id,
           t.created_at, t.created_by, t.updated_at, t.updated_by
    FROM tokens t
    JOIN definitions d ON d.id = t.definition_id
    LEFT JOIN participants p ON p.id = t.participant_id
    LEFT JOIN accounts a ON a.id = t.account_id";

pub(super) fn token_from_row(row: &Row<'_>) -> rusqlite::Result<TokenRecord> {
    let state: String = row.get(4)?;
    let participant_state: Option<String> = row.get(11)?;
    let account_state: Option<String> = row.get(15)?;
    Ok(TokenRecord {
        id: row.get(0)?,
        number: row.get(1)?,
        definition_id: row.get(2)?,
        definition: row.get(3)?,
        state: TokenState::parse(&state).unwrap_or(TokenState::NotEffective),
        authentication_code: row.get(5)?,
        identifier: row.get(6)?,
        has_pass_code: row.get(7)?,
        participant_id: row.get(8)?,
        participant_number: row.get(9)?,
        participant_name: row.get(10)?,
        participant_state: participant_state
            .as_deref()
            .and_then(ParticipantState::parse),
        account_id: row.get(12)?,
        account_number: row.get(13)?,
        account_name: row.get(14)?,
        account_state: account_state.as_deref().and_then(AccountState::parse),
        failed_attempts: row.get(16)?,
        locked: row.get(17)?,
        verified_at: row.get(18)?,
        verification_expires_at: row.get(19)?,
        last_used_at: row.get(20)?,
        import_batch: row.get(21)?,
        created_at: row.get(22)?,
        created_by: row.get(23)?,
        updated_at: row.get(24)?,
        updated_by: row.get(25)?,
    })
}

/// The hashes of a token, for the few use cases that check a secret. Never shown.
#[derive(Clone, Debug, Default)]
pub struct TokenSecrets {
    pub pass_code_hash: Option<String>,
    pub verification_code_hash: Option<String>,
    pub verification_expires_at: Option<String>,
}

/// A token about to be inserted. Every value has already passed the domain rules.
#[derive(Clone, Debug)]
pub struct NewToken<'a> {
    pub number: &'a str,
    pub definition_id: i64,
    pub authentication_code: &'a str,
    pub identifier: Option<&'a str>,
    pub identifier_key: Option<&'a str>,
    pub pass_code_hash: Option<&'a str>,
    pub verification_code_hash: Option<&'a str>,
    pub verification_expires_at: Option<&'a str>,
    pub state: TokenState,
    pub participant_id: Option<i64>,
    pub account_id: Option<i64>,
    pub import_batch_id: Option<i64>,
    pub at: &'a str,
    pub by: &'a str,
}

impl Db<'_> {
    fn token_where(
        &self,
        condition: &str,
        value: &dyn rusqlite::ToSql,
    ) -> Result<Option<TokenRecord>, StoreError> {
        let sql = format!("{TOKEN_SELECT} WHERE {condition}");
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_row([value], token_from_row)
            .optional()?)
    }

    pub fn token_by_id(&self, id: i64) -> Result<Option<TokenRecord>, StoreError> {
        self.token_where("t.id = ?1", &id)
    }

    pub fn token_by_number(&self, number: &str) -> Result<Option<TokenRecord>, StoreError> {
        self.token_where("t.number = ?1", &number.trim().to_ascii_uppercase())
    }

    pub fn token_by_auth_code(&self, code: &str) -> Result<Option<TokenRecord>, StoreError> {
        self.token_where("t.authentication_code = ?1", &code)
    }

    pub fn token_by_identifier_key(&self, key: &str) -> Result<Option<TokenRecord>, StoreError> {
        self.token_where("t.identifier_key = ?1", &key)
    }

    pub fn token_secrets(&self, id: i64) -> Result<TokenSecrets, StoreError> {
        let secrets = self
            .conn
            .prepare_cached(
                "SELECT pass_code_hash, verification_code_hash, verification_expires_at FROM tokens WHERE id = ?1",
            )?
            .query_row([id], |row| {
                Ok(TokenSecrets {
                    pass_code_hash: row.get(0)?,
                    verification_code_hash: row.get(1)?,
                    verification_expires_at: row.get(2)?,
                })
            })
            .optional()?;
        Ok(secrets.unwrap_or_default())
    }

    /// Tokens linked to a participant (`column` = participant) or an account.
    pub fn tokens_of_owner(
        &self,
        kind: crate::domain::OwnerKind,
        owner_id: i64,
    ) -> Result<Vec<TokenRecord>, StoreError> {
        let column = owner_column(kind);
        let sql = format!("{TOKEN_SELECT} WHERE t.{column} = ?1 ORDER BY t.id");
        let mut statement = self.conn.prepare_cached(&sql)?;
        let rows = statement.query_map([owner_id], token_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn count_tokens_of_owner(
        &self,
        kind: crate::domain::OwnerKind,
        owner_id: i64,
    ) -> Result<u32, StoreError> {
        let sql = format!(
            "SELECT count(*) FROM tokens WHERE {} = ?1",
            owner_column(kind)
        );
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_row([owner_id], |row| row.get(0))?)
    }

    pub fn auth_code_exists(&self, code: &str) -> Result<bool, StoreError> {
        let mut statement = self
            .conn
            .prepare_cached("SELECT 1 FROM tokens WHERE authentication_code = ?1")?;
        Ok(statement.exists([code])?)
    }

    pub fn identifier_key_exists(&self, key: &str) -> Result<bool, StoreError> {
        let mut statement = self
            .conn
            .prepare_cached("SELECT 1 FROM tokens WHERE identifier_key = ?1")?;
        Ok(statement.exists([key])?)
    }

    pub fn count_all_tokens(&self) -> Result<u64, StoreError> {
        // max(id) is instant; count(*) is exact. The status bar wants exact, and the tokens
        // table's smallest index makes this a quick scan.
        Ok(self
            .conn
            .prepare_cached("SELECT count(*) FROM tokens")?
            .query_row([], |row| row.get(0))?)
    }

    /// Calls `visit` with every token's authentication code and identifier key (bulk imports
    /// build a filter of existing keys from them).
    pub fn each_token_key(
        &self,
        visit: &mut dyn FnMut(&str, Option<&str>),
    ) -> Result<(), StoreError> {
        let mut statement = self
            .conn
            .prepare("SELECT authentication_code, identifier_key FROM tokens")?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            let code = row.get_ref(0)?.as_str().unwrap_or_default();
            let key = row.get_ref(1)?.as_str_or_null().unwrap_or_default();
            visit(code, key);
        }
        Ok(())
    }

    /// Pages in the database file.
    pub fn page_count(&self) -> Result<u64, StoreError> {
        Ok(self
            .conn
            .query_row("PRAGMA page_count", [], |row| row.get(0))?)
    }

    pub fn count_tokens_of_definition(&self, definition_id: i64) -> Result<u64, StoreError> {
        let mut statement = self
            .conn
            .prepare_cached("SELECT count(*) FROM tokens WHERE definition_id = ?1")?;
        Ok(statement.query_row([definition_id], |row| row.get(0))?)
    }
}

pub(super) fn owner_column(kind: crate::domain::OwnerKind) -> &'static str {
    match kind {
        crate::domain::OwnerKind::Participant => "participant_id",
        crate::domain::OwnerKind::Account => "account_id",
    }
}

pub(super) const INSERT_TOKEN: &str =
    "INSERT INTO tokens (number, definition_id, authentication_code, identifier, identifier_key,
        pass_code_hash, verification_code_hash, verification_expires_at, state, participant_id,
        account_id, import_batch_id, created_at, created_by, updated_at, updated_by)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?13, ?14)";

pub(super) fn insert_token_with(
    statement: &mut rusqlite::Statement<'_>,
    token: &NewToken<'_>,
) -> Result<(), StoreError> {
    statement.execute(params![
        token.number,
        token.definition_id,
        token.authentication_code,
        token.identifier,
        token.identifier_key,
        token.pass_code_hash,
        token.verification_code_hash,
        token.verification_expires_at,
        token.state.as_str(),
        token.participant_id,
        token.account_id,
        token.import_batch_id,
        token.at,
        token.by,
    ])?;
    Ok(())
}

impl Tx<'_> {
    pub fn insert_token(&self, token: &NewToken<'_>) -> Result<i64, StoreError> {
        let mut statement = self.conn().prepare_cached(INSERT_TOKEN)?;
        insert_token_with(&mut statement, token)?;
        Ok(self.conn().last_insert_rowid())
    }

    fn update_token(
        &self,
        id: i64,
        assignments: &str,
        values: &[&dyn rusqlite::ToSql],
        at: &str,
        by: &str,
    ) -> Result<(), StoreError> {
        let sql =
            format!("UPDATE tokens SET {assignments}, updated_at = ?, updated_by = ? WHERE id = ?");
        let mut all: Vec<&dyn rusqlite::ToSql> = values.to_vec();
        all.extend([&at as &dyn rusqlite::ToSql, &by, &id]);
        self.conn().prepare_cached(&sql)?.execute(all.as_slice())?;
        Ok(())
    }

    pub fn set_token_state(
        &self,
        id: i64,
        state: TokenState,
        at: &str,
        by: &str,
    ) -> Result<(), StoreError> {
        self.update_token(id, "state = ?", &[&state.as_str()], at, by)
    }

    /// Marks a token verified: Effective, with no verification code left.
    pub fn mark_token_verified(&self, id: i64, at: &str, by: &str) -> Result<(), StoreError> {
        self.update_token(
            id,
            "state = 'effective', verified_at = ?, verification_code_hash = NULL, verification_expires_at = NULL, failed_attempts = 0",
            &[&at],
            at,
            by,
        )
    }

    pub fn set_verification_code(
        &self,
        id: i64,
        hash: &str,
        expires_at: &str,
        at: &str,
        by: &str,
    ) -> Result<(), StoreError> {
        self.update_token(
            id,
            "verification_code_hash = ?, verification_expires_at = ?",
            &[&hash, &expires_at],
            at,
            by,
        )
    }

    pub fn set_pass_code_hash(
        &self,
        id: i64,
        hash: &str,
        at: &str,
        by: &str,
    ) -> Result<(), StoreError> {
        self.update_token(id, "pass_code_hash = ?", &[&hash], at, by)
    }

    /// Records a failed attempt; `locked` when the threshold was reached.
    pub fn set_failed_attempts(
        &self,
        id: i64,
        failed_attempts: u32,
        locked: bool,
        at: &str,
        by: &str,
    ) -> Result<(), StoreError> {
        self.update_token(
            id,
            "failed_attempts = ?, locked = ?",
            &[&failed_attempts, &locked],
            at,
            by,
        )
    }

    /// A successful authentication: counter reset, `last used at` stamped.
    pub fn mark_token_used(&self, id: i64, at: &str, by: &str) -> Result<(), StoreError> {
        self.update_token(id, "failed_attempts = 0, last_used_at = ?", &[&at], at, by)
    }

    pub fn set_token_owner(
        &self,
        id: i64,
        kind: crate::domain::OwnerKind,
        owner_id: Option<i64>,
        at: &str,
        by: &str,
    ) -> Result<(), StoreError> {
        let assignment = format!("{} = ?", owner_column(kind));
        self.update_token(id, &assignment, &[&owner_id], at, by)
    }

    pub fn delete_token(&self, id: i64) -> Result<(), StoreError> {
        self.conn()
            .prepare_cached("DELETE FROM tokens WHERE id = ?1")?
            .execute([id])?;
        Ok(())
    }
}
