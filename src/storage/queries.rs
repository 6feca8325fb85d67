//! Filtered, keyset-paged listings and searches. Never `OFFSET` deep into a table and never a
//! `LIKE` that scans: text search is a union of index range lookups, capped.

use rusqlite::types::Value;
use serde::{Deserialize, Serialize};

use super::owners::{ACCOUNT_SELECT, PARTICIPANT_SELECT, account_from_row, participant_from_row};
use super::tokens::{TOKEN_SELECT, owner_column, token_from_row};
use super::{Db, StoreError};
use crate::domain::{
    AccountRecord, AuditEvent, OwnerKind, ParticipantRecord, TokenRecord, TokenState,
    identifier_key,
};

/// The most matches one text search collects per kind of key; refine the search for more.
pub const SEARCH_CAP: usize = 10_000;

/// Which tokens a listing shows. The default shows all.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TokenFilter {
    /// Prefix of a token number, authentication code, identifier, or owner number or name.
    pub text: String,
    /// Empty means every state.
    pub states: Vec<TokenState>,
    pub definition_id: Option<i64>,
    pub participant_id: Option<i64>,
    pub account_id: Option<i64>,
    /// Tokens created at or after this RFC 3339 instant (or date).
    pub created_from: Option<String>,
    /// Tokens created before this RFC 3339 instant (or date).
    pub created_before: Option<String>,
    /// Tokens linked to no owner at all.
    pub unassigned_only: bool,
    /// Tokens not linked to an owner of this kind (R31's "add existing token").
    pub without_owner: Option<OwnerKind>,
    pub locked_only: bool,
    pub unlocked_only: bool,
    pub never_used_only: bool,
    /// Tokens last used before this instant, or never used.
    pub not_used_since: Option<String>,
}

/// Columns a token listing can be sorted by; each has an index.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenSort {
    #[default]
    Number,
    AuthenticationCode,
    State,
    Definition,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SortDirection {
    #[default]
    Ascending,
    Descending,
}

/// Where a page starts: just after the row with this sort key and id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenCursor {
    key: CursorKey,
    id: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum CursorKey {
    Integer(i64),
    Text(String),
}

impl TokenCursor {
    /// The cursor just after `token` in a listing sorted by `sort`.
    pub fn after(token: &TokenRecord, sort: TokenSort) -> Self {
        let key = match sort {
            TokenSort::Number => CursorKey::Integer(token.id),
            TokenSort::AuthenticationCode => CursorKey::Text(token.authentication_code.clone()),
            TokenSort::State => CursorKey::Text(token.state.as_str().to_owned()),
            TokenSort::Definition => CursorKey::Integer(token.definition_id),
        };
        Self { key, id: token.id }
    }

    fn key_value(&self) -> Value {
        match &self.key {
            CursorKey::Integer(value) => Value::Integer(*value),
            CursorKey::Text(value) => Value::Text(value.clone()),
        }
    }
}

impl TokenSort {
    fn column(self) -> &'static str {
        match self {
            Self::Number => "t.id",
            Self::AuthenticationCode => "t.authentication_code",
            Self::State => "t.state",
            Self::Definition => "t.definition_id",
        }
    }
}

/// The smallest string greater than every string starting with `prefix`.
fn prefix_end(prefix: &str) -> String {
    format!("{prefix}\u{10FFFF}")
}

/// SQL conditions and their parameters, built up from a filter.
#[derive(Default)]
pub(super) struct Conditions {
    clauses: Vec<String>,
    pub(super) values: Vec<Value>,
}

impl Conditions {
    pub(super) fn push(
        &mut self,
        clause: impl Into<String>,
        values: impl IntoIterator<Item = Value>,
    ) {
        self.clauses.push(clause.into());
        self.values.extend(values);
    }

    pub(super) fn sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.clauses.join(" AND "))
        }
    }
}

pub(super) fn token_conditions(filter: &TokenFilter) -> Conditions {
    let mut conditions = Conditions::default();
    let text = filter.text.trim();
    if !text.is_empty() {
        let range = |column: &str, collate: &str| {
            format!(
                "SELECT id FROM (SELECT id FROM tokens WHERE {column} {collate} >= ? AND {column} {collate} < ? LIMIT {SEARCH_CAP})"
            )
        };
        let owner_range = |table: &str, column: &str, collate: &str, link: &str| {
            format!(
                "SELECT id FROM (SELECT t2.id FROM {table} o JOIN tokens t2 ON t2.{link} = o.id
                 WHERE o.{column} {collate} >= ? AND o.{column} {collate} < ? LIMIT {SEARCH_CAP})"
            )
        };
        let branches = [
            range("number", ""),
            range("authentication_code", ""),
            range("identifier_key", ""),
            owner_range("participants", "number", "", "participant_id"),
            owner_range("participants", "name", "COLLATE NOCASE", "participant_id"),
            owner_range("accounts", "number", "", "account_id"),
            owner_range("accounts", "name", "COLLATE NOCASE", "account_id"),
        ];
        let upper = text.to_uppercase();
        let key = identifier_key(text);
        let prefixes = [
            upper.as_str(),
            text,
            key.as_str(),
            &upper,
            text,
            &upper,
            text,
        ];
        let values = prefixes
            .iter()
            .flat_map(|p| [Value::Text((*p).to_owned()), Value::Text(prefix_end(p))]);
        conditions.push(
            format!("t.id IN ({})", branches.join(" UNION ")),
            values.collect::<Vec<_>>(),
        );
    }
    if !filter.states.is_empty() {
        let marks = vec!["?"; filter.states.len()].join(", ");
        conditions.push(
            format!("t.state IN ({marks})"),
            filter
                .states
                .iter()
                .map(|s| Value::Text(s.as_str().to_owned()))
                .collect::<Vec<_>>(),
        );
    }
    let optional_ids = [
        ("t.definition_id = ?", filter.definition_id),
        ("t.participant_id = ?", filter.participant_id),
        ("t.account_id = ?", filter.account_id),
    ];
    for (clause, id) in optional_ids {
        if let Some(id) = id {
            conditions.push(clause, [Value::Integer(id)]);
        }
    }
    if let Some(from) = &filter.created_from {
        conditions.push("t.created_at >= ?", [Value::Text(from.clone())]);
    }
    if let Some(before) = &filter.created_before {
        conditions.push("t.created_at < ?", [Value::Text(before.clone())]);
    }
    if filter.unassigned_only {
        conditions.push("t.participant_id IS NULL AND t.account_id IS NULL", []);
    }
    if let Some(kind) = filter.without_owner {
        conditions.push(format!("t.{} IS NULL", owner_column(kind)), []);
    }
    if filter.locked_only {
        conditions.push("t.locked = 1", []);
    }
    if filter.unlocked_only {
        conditions.push("t.locked = 0", []);
    }
    if filter.never_used_only {
        conditions.push("t.last_used_at IS NULL", []);
    }
    if let Some(since) = &filter.not_used_since {
        conditions.push(
            "(t.last_used_at IS NULL OR t.last_used_at < ?)",
            [Value::Text(since.clone())],
        );
    }
    conditions
}

impl Db<'_> {
    /// One page of tokens after `after` (or from the start), in the order of `sort`.
    pub fn list_tokens(
        &self,
        filter: &TokenFilter,
        sort: TokenSort,
        direction: SortDirection,
        after: Option<&TokenCursor>,
        limit: usize,
    ) -> Result<Vec<TokenRecord>, StoreError> {
        let mut conditions = token_conditions(filter);
        let column = sort.column();
        let (compare, order) = match direction {
            SortDirection::Ascending => (">", "ASC"),
            SortDirection::Descending => ("<", "DESC"),
        };
        if let Some(cursor) = after {
            if sort == TokenSort::Number {
                conditions.push(format!("t.id {compare} ?"), [Value::Integer(cursor.id)]);
            } else {
                conditions.push(
                    format!("({column}, t.id) {compare} (?, ?)"),
                    [cursor.key_value(), Value::Integer(cursor.id)],
                );
            }
        }
        let order_by = if sort == TokenSort::Number {
            format!("t.id {order}")
        } else {
            format!("{column} {order}, t.id {order}")
        };
        let sql = format!(
            "{TOKEN_SELECT}{} ORDER BY {order_by} LIMIT {limit}",
            conditions.sql()
        );
        let mut statement = self.conn.prepare_cached(&sql)?;
        let rows = statement.query_map(
            rusqlite::params_from_iter(conditions.values.iter()),
            token_from_row,
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// How many tokens the filter shows.
    pub fn count_tokens(&self, filter: &TokenFilter) -> Result<u64, StoreError> {
        let conditions = token_conditions(filter);
        let sql = format!("SELECT count(*) FROM tokens t{}", conditions.sql());
        let mut statement = self.conn.prepare_cached(&sql)?;
        Ok(statement.query_row(
            rusqlite::params_from_iter(conditions.values.iter()),
            |row| row.get(0),
        )?)
    }

    /// Page anchors of a listing (element `k` is the cursor before row `k × stride`; `None` for
    /// the first row) and the number of rows the filter shows, from one ordered pass (a separate
    /// count would read every row once more). The count is only complete when `should_stop`
    /// did not stop the pass. Meant for a background thread.
    pub fn counted_token_anchors(
        &self,
        filter: &TokenFilter,
        sort: TokenSort,
        direction: SortDirection,
        stride: usize,
        should_stop: &dyn Fn() -> bool,
    ) -> Result<(Vec<Option<TokenCursor>>, u64), StoreError> {
        let conditions = token_conditions(filter);
        let column = sort.column();
        let order = if direction == SortDirection::Ascending {
            "ASC"
        } else {
            "DESC"
        };
        let sql = format!(
            "SELECT {column}, t.id FROM tokens t{} ORDER BY {column} {order}, t.id {order}",
            conditions.sql()
        );
        let mut statement = self.conn.prepare(&sql)?;
        let mut rows = statement.query(rusqlite::params_from_iter(conditions.values.iter()))?;
        let stride = stride.max(1);
        let mut anchors = vec![None];
        let mut position = 0usize;
        while let Some(row) = rows.next()? {
            position += 1;
            if position.is_multiple_of(stride) {
                if should_stop() {
                    break;
                }
                let key = match row.get::<_, Value>(0)? {
                    Value::Integer(value) => CursorKey::Integer(value),
                    Value::Text(value) => CursorKey::Text(value),
                    _ => CursorKey::Integer(0),
                };
                anchors.push(Some(TokenCursor {
                    key,
                    id: row.get(1)?,
                }));
            }
        }
        Ok((anchors, position as u64))
    }
}

/// Which participants or accounts a listing shows.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OwnerFilter {
    /// Prefix of the number or the name (case-insensitive).
    pub text: String,
    /// Participants of this account only.
    pub account_id: Option<i64>,
}

fn owner_conditions(filter: &OwnerFilter, alias: &str) -> Conditions {
    let mut conditions = Conditions::default();
    let text = filter.text.trim();
    if !text.is_empty() {
        let upper = text.to_uppercase();
        conditions.push(
            format!("({alias}.number >= ? AND {alias}.number < ? OR {alias}.name COLLATE NOCASE >= ? AND {alias}.name COLLATE NOCASE < ?)"),
            [Value::Text(upper.clone()), Value::Text(prefix_end(&upper)), Value::Text(text.to_owned()), Value::Text(prefix_end(text))],
        );
    }
    if let Some(account_id) = filter.account_id.filter(|_| alias == "p") {
        conditions.push("p.account_id = ?", [Value::Integer(account_id)]);
    }
    conditions
}

impl Db<'_> {
    /// A page of participants with ids greater than `after_id`, in id order.
    pub fn list_participants(
        &self,
        filter: &OwnerFilter,
        after_id: i64,
        limit: usize,
    ) -> Result<Vec<ParticipantRecord>, StoreError> {
        let mut conditions = owner_conditions(filter, "p");
        conditions.push("p.id > ?", [Value::Integer(after_id)]);
        let sql = format!(
            "{PARTICIPANT_SELECT}{} ORDER BY p.id LIMIT {limit}",
            conditions.sql()
        );
        let mut statement = self.conn.prepare_cached(&sql)?;
        let rows = statement.query_map(
            rusqlite::params_from_iter(conditions.values.iter()),
            participant_from_row,
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// A page of accounts with ids greater than `after_id`, in id order.
    pub fn list_accounts(
        &self,
        filter: &OwnerFilter,
        after_id: i64,
        limit: usize,
    ) -> Result<Vec<AccountRecord>, StoreError> {
        let mut conditions = owner_conditions(filter, "a");
        conditions.push("a.id > ?", [Value::Integer(after_id)]);
        let sql = format!(
            "{ACCOUNT_SELECT}{} ORDER BY a.id LIMIT {limit}",
            conditions.sql()
        );
        let mut statement = self.conn.prepare_cached(&sql)?;
        let rows = statement.query_map(
            rusqlite::params_from_iter(conditions.values.iter()),
            account_from_row,
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn count_owners(&self, kind: OwnerKind, filter: &OwnerFilter) -> Result<u64, StoreError> {
        let (table, alias) = owner_table(kind);
        let conditions = owner_conditions(filter, alias);
        let sql = format!("SELECT count(*) FROM {table} {alias}{}", conditions.sql());
        let mut statement = self.conn.prepare_cached(&sql)?;
        Ok(statement.query_row(
            rusqlite::params_from_iter(conditions.values.iter()),
            |row| row.get(0),
        )?)
    }

    /// Ids to jump into an owner listing: element `k` is the id just before row `k × stride`.
    pub fn owner_anchors(
        &self,
        kind: OwnerKind,
        filter: &OwnerFilter,
        stride: usize,
    ) -> Result<Vec<i64>, StoreError> {
        let (table, alias) = owner_table(kind);
        let conditions = owner_conditions(filter, alias);
        let sql = format!(
            "SELECT {alias}.id FROM {table} {alias}{} ORDER BY {alias}.id",
            conditions.sql()
        );
        let mut statement = self.conn.prepare(&sql)?;
        let mut rows = statement.query(rusqlite::params_from_iter(conditions.values.iter()))?;
        let stride = stride.max(1);
        let (mut anchors, mut position) = (vec![0], 0usize);
        while let Some(row) = rows.next()? {
            position += 1;
            if position.is_multiple_of(stride) {
                anchors.push(row.get(0)?);
            }
        }
        Ok(anchors)
    }
}

pub(super) fn owner_table(kind: OwnerKind) -> (&'static str, &'static str) {
    match kind {
        OwnerKind::Participant => ("participants", "p"),
        OwnerKind::Account => ("accounts", "a"),
    }
}

/// Which audit events a listing shows.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuditFilter {
    /// Exact record number (a token's history), if set.
    pub record_number: Option<String>,
    /// Prefix of the action, e.g. `token.` or `token.authenticate`.
    pub action_prefix: String,
    /// Exact clerk name, if set.
    pub clerk: Option<String>,
}

impl Db<'_> {
    /// Newest first: events with ids below `before_id` (`i64::MAX` for the newest).
    pub fn audit_events(
        &self,
        filter: &AuditFilter,
        before_id: i64,
        limit: usize,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let mut conditions = Conditions::default();
        conditions.push("id < ?", [Value::Integer(before_id)]);
        if let Some(number) = &filter.record_number {
            conditions.push(
                "record_number = ?",
                [Value::Text(number.trim().to_uppercase())],
            );
        }
        let prefix = filter.action_prefix.trim();
        if !prefix.is_empty() {
            conditions.push(
                "action >= ? AND action < ?",
                [
                    Value::Text(prefix.to_owned()),
                    Value::Text(prefix_end(prefix)),
                ],
            );
        }
        if let Some(clerk) = &filter.clerk {
            conditions.push("clerk = ?", [Value::Text(clerk.clone())]);
        }
        let sql = format!(
            "SELECT id, at, clerk, action, record_kind, record_number, details, batch_id FROM audit_events{} ORDER BY id DESC LIMIT {limit}",
            conditions.sql()
        );
        let mut statement = self.conn.prepare_cached(&sql)?;
        let rows = statement.query_map(
            rusqlite::params_from_iter(conditions.values.iter()),
            |row| {
                Ok(AuditEvent {
                    id: row.get(0)?,
                    at: row.get(1)?,
                    clerk: row.get(2)?,
                    action: row.get(3)?,
                    record_kind: row.get(4)?,
                    record_number: row.get(5)?,
                    details: row.get(6)?,
                    batch_id: row.get(7)?,
                })
            },
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
