//! Bulk actions on a pasted list of tokens (SPEC §8 worklists): set state, unlock, remove from
//! owner. Each item goes through exactly the rules and writes of the single action.
//!
//! Preview and apply run the same code: every item inside its own savepoint of one transaction,
//! so a refused item leaves no trace and later items see the effect of earlier ones (e.g. the
//! last token of an owner). The preview then rolls the whole transaction back.

use std::collections::HashMap;

use serde::Serialize;

use super::tokens::required_reason;
use super::{Audit, Desk, DeskError};
use crate::domain::{OwnerKind, TokenRecord, TokenState, identifier_key, normalize_auth_code};
use crate::storage::{StoreError, Tx};

/// What to do with every listed token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BulkAction {
    /// Make Effective or Not Effective (R20, R22), as [`Desk::set_token_state`].
    SetState(TokenState),
    /// Unlock (R51), as [`Desk::unlock_token`].
    Unlock,
    /// Remove from its participant or account (R31, R32, R24), as [`Desk::remove_token_from_owner`].
    RemoveFromOwner(OwnerKind),
}

impl BulkAction {
    /// What the clerk reads, e.g. "set state to not_effective".
    pub fn label(self) -> String {
        match self {
            Self::SetState(state) => format!("set state to {}", state.as_str()),
            Self::Unlock => "unlock".to_owned(),
            Self::RemoveFromOwner(kind) => format!("remove from {}", kind.label()),
        }
    }
}

/// What happened (or would happen) to one listed line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", content = "message", rename_all = "snake_case")]
pub enum BulkOutcome {
    /// The action succeeds (in a preview: would succeed).
    Succeeds,
    /// The action is refused; the sentence says why, as the single action would.
    Refused(String),
}

/// One non-empty line of the pasted list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BulkItem {
    /// Line of the pasted text, from 1.
    pub line: usize,
    /// The line as pasted, trimmed: a token number, authentication code or identifier.
    pub input: String,
    /// The token the line names, if one was found.
    pub token_number: Option<String>,
    /// The token's state after the action (in a preview: what it would be).
    pub state_after: Option<TokenState>,
    pub outcome: BulkOutcome,
}

/// A bulk action's preview or result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BulkReport {
    pub action: BulkAction,
    /// `false` for a preview: nothing was changed.
    pub is_applied: bool,
    pub items: Vec<BulkItem>,
}

impl BulkReport {
    pub fn succeeded(&self) -> usize {
        self.items
            .iter()
            .filter(|item| item.outcome == BulkOutcome::Succeeds)
            .count()
    }

    pub fn refused(&self) -> usize {
        self.items.len() - self.succeeded()
    }

    /// The refused items, for the list the clerk gets after applying.
    pub fn refusals(&self) -> impl Iterator<Item = &BulkItem> {
        self.items
            .iter()
            .filter(|item| item.outcome != BulkOutcome::Succeeds)
    }
}

/// How a preview leaves [`crate::storage::Store::write`]: by an error, so nothing is committed.
enum PreviewEnd {
    RolledBack(Vec<BulkItem>),
    Failed(DeskError),
}

impl From<StoreError> for PreviewEnd {
    fn from(err: StoreError) -> Self {
        Self::Failed(DeskError::Store(err))
    }
}

/// Finds the token a pasted line names: a token number, else an authentication code, else an
/// identifier (compared as R5 compares them).
fn resolve(tx: &Tx<'_>, input: &str) -> Result<TokenRecord, DeskError> {
    if let Some(token) = tx.token_by_number(input)? {
        return Ok(token);
    }
    if let Some(token) = tx.token_by_auth_code(&normalize_auth_code(input))? {
        return Ok(token);
    }
    if let Some(token) = tx.token_by_identifier_key(&identifier_key(input))? {
        return Ok(token);
    }
    Err(DeskError::NotFound(format!(
        "no token has the number, authentication code or identifier {input}"
    )))
}

/// Whether an error refuses one item (listed) or stops the whole run (the database failed).
fn is_fatal(err: &DeskError) -> bool {
    matches!(err, DeskError::Store(_) | DeskError::Hash(_))
}

/// Runs `action` on every listed line, each in its own savepoint.
fn run_items(
    tx: &Tx<'_>,
    audit: &Audit<'_>,
    action: BulkAction,
    text: &str,
    reason: &str,
) -> Result<Vec<BulkItem>, DeskError> {
    let mut items = Vec::new();
    let mut seen_on_line: HashMap<i64, usize> = HashMap::new();
    for (index, raw) in text.lines().enumerate() {
        let input = raw.trim();
        if input.is_empty() {
            continue;
        }
        let line = index + 1;
        let mut token_number = None;
        let result = tx.within_savepoint(|| {
            let token = resolve(tx, input)?;
            token_number = Some(token.number.clone());
            if let Some(first) = seen_on_line.get(&token.id) {
                return Err(DeskError::refused(format!(
                    "token {} is already listed on line {first}",
                    token.number
                )));
            }
            seen_on_line.insert(token.id, line);
            apply_one(tx, audit, action, &token, reason)
        });
        let (state_after, outcome) = match result {
            Ok(token) => (Some(token.state), BulkOutcome::Succeeds),
            Err(err) if is_fatal(&err) => return Err(err),
            Err(err) => (None, BulkOutcome::Refused(err.sentence())),
        };
        items.push(BulkItem {
            line,
            input: input.to_owned(),
            token_number,
            state_after,
            outcome,
        });
    }
    Ok(items)
}

/// One item: exactly the single action's rules and writes.
fn apply_one(
    tx: &Tx<'_>,
    audit: &Audit<'_>,
    action: BulkAction,
    token: &TokenRecord,
    reason: &str,
) -> Result<TokenRecord, DeskError> {
    match action {
        BulkAction::SetState(target) => {
            Desk::set_token_state_in(tx, audit, &token.number, target, reason)
        }
        BulkAction::Unlock => Desk::unlock_token_in(tx, audit, &token.number, reason),
        BulkAction::RemoveFromOwner(kind) => {
            let owner_number = match kind {
                OwnerKind::Participant => token.participant_number.as_deref(),
                OwnerKind::Account => token.account_number.as_deref(),
            };
            let Some(owner_number) = owner_number else {
                return Err(DeskError::refused(format!(
                    "token {} belongs to no {}",
                    token.number,
                    kind.label()
                )));
            };
            Desk::remove_token_from_owner_in(
                tx,
                audit,
                kind,
                owner_number,
                &token.number,
                Some(reason),
            )
        }
    }
}

impl Desk {
    /// Shows what [`Desk::apply_bulk`] would do with `text` (one token number, authentication
    /// code or identifier per line), changing nothing.
    pub fn preview_bulk(
        &mut self,
        action: BulkAction,
        text: &str,
        reason: &str,
    ) -> Result<BulkReport, DeskError> {
        let reason = required_reason(reason)?;
        let at = self.now_text();
        let clerk = self.clerk.clone();
        let outcome = self.store.write(|tx| -> Result<(), PreviewEnd> {
            let audit = Audit {
                at: &at,
                clerk: &clerk,
            };
            match run_items(tx, &audit, action, text, reason) {
                Ok(items) => Err(PreviewEnd::RolledBack(items)),
                Err(err) => Err(PreviewEnd::Failed(err)),
            }
        });
        match outcome {
            Err(PreviewEnd::RolledBack(items)) => Ok(BulkReport {
                action,
                is_applied: false,
                items,
            }),
            Err(PreviewEnd::Failed(err)) => Err(err),
            Ok(()) => Err(DeskError::refused("the preview ended unexpectedly")),
        }
    }

    /// Applies `action` to every token listed in `text`, with the clerk's `reason`: the
    /// eligible ones change (one audit event each, as the single action writes), the refused
    /// ones are listed with the sentence the single action gives. One transaction.
    pub fn apply_bulk(
        &mut self,
        action: BulkAction,
        text: &str,
        reason: &str,
    ) -> Result<BulkReport, DeskError> {
        let reason = required_reason(reason)?;
        let items = self.change(|tx, audit| {
            let items = run_items(tx, audit, action, text, reason)?;
            let succeeded = items
                .iter()
                .filter(|item| item.outcome == BulkOutcome::Succeeds)
                .count();
            let details = format!(
                "bulk {}: {succeeded} applied, {} refused: {reason}",
                action.label(),
                items.len() - succeeded
            );
            audit.record(tx, "bulk.apply", "bulk", "", details)?;
            Ok(items)
        })?;
        Ok(BulkReport {
            action,
            is_applied: true,
            items,
        })
    }
}
