//! Participant and account use cases (SPEC §6, R33, R34).

use super::{Desk, DeskError};
use crate::domain::owner::parse_name;
use crate::domain::{
    AccountRecord, AccountState, OwnerKind, ParticipantRecord, ParticipantState, TokenRecord,
};
use crate::storage::OwnerFilter;

impl Desk {
    pub fn account(&self, number: &str) -> Result<AccountRecord, DeskError> {
        self.store
            .db()
            .account_by_number(number)?
            .ok_or_else(|| DeskError::not_found("account", number.trim()))
    }

    pub fn participant(&self, number: &str) -> Result<ParticipantRecord, DeskError> {
        self.store
            .db()
            .participant_by_number(number)?
            .ok_or_else(|| DeskError::not_found("participant", number.trim()))
    }

    /// The tokens linked to a participant or an account.
    pub fn tokens_of(&self, kind: OwnerKind, owner_id: i64) -> Result<Vec<TokenRecord>, DeskError> {
        Ok(self.store.db().tokens_of_owner(kind, owner_id)?)
    }

    pub fn participants_of_account(
        &self,
        account_id: i64,
    ) -> Result<Vec<ParticipantRecord>, DeskError> {
        Ok(self.store.db().participants_of_account(account_id)?)
    }

    pub fn list_participants(
        &self,
        filter: &OwnerFilter,
        after_id: i64,
        limit: usize,
    ) -> Result<Vec<ParticipantRecord>, DeskError> {
        Ok(self.store.db().list_participants(filter, after_id, limit)?)
    }

    pub fn list_accounts(
        &self,
        filter: &OwnerFilter,
        after_id: i64,
        limit: usize,
    ) -> Result<Vec<AccountRecord>, DeskError> {
        Ok(self.store.db().list_accounts(filter, after_id, limit)?)
    }

    pub fn count_owners(&self, kind: OwnerKind, filter: &OwnerFilter) -> Result<u64, DeskError> {
        Ok(self.store.db().count_owners(kind, filter)?)
    }

    pub fn create_account(&mut self, name: &str) -> Result<AccountRecord, DeskError> {
        let name = parse_name(name)?;
        self.change(|tx, audit| {
            let number = loop {
                let candidate = format!("ACR{:010}", tx.next_counter("account")?);
                if !tx.account_number_exists(&candidate)? {
                    break candidate;
                }
            };
            let id = tx.insert_account(&number, &name, None, audit.at, audit.clerk)?;
            audit.record(
                tx,
                "account.create",
                "account",
                &number,
                format!("created account {name}"),
            )?;
            tx.account_by_id(id)?
                .ok_or_else(|| DeskError::not_found("account", &number))
        })
    }

    /// Suspends, reactivates or terminates an account (R33). Terminated is final.
    pub fn set_account_state(
        &mut self,
        number: &str,
        target: AccountState,
    ) -> Result<AccountRecord, DeskError> {
        self.change(|tx, audit| {
            let account = tx
                .account_by_number(number)?
                .ok_or_else(|| DeskError::not_found("account", number.trim()))?;
            let allowed = match (account.state, target) {
                (AccountState::Terminated, _) => false,
                (AccountState::Active, AccountState::Suspended)
                | (AccountState::Suspended, AccountState::Active) => true,
                (_, AccountState::Terminated) => true,
                _ => false,
            };
            if !allowed {
                return Err(DeskError::refused(format!(
                    "account {} is {} and cannot become {}",
                    account.number,
                    account.state.label(),
                    target.label()
                )));
            }
            tx.set_account_state(account.id, target)?;
            let action = match target {
                AccountState::Active => "account.activate",
                AccountState::Suspended => "account.suspend",
                AccountState::Terminated => "account.terminate",
            };
            audit.record(
                tx,
                action,
                "account",
                &account.number,
                format!("{} → {}", account.state.as_str(), target.as_str()),
            )?;
            tx.account_by_id(account.id)?
                .ok_or_else(|| DeskError::not_found("account", number))
        })
    }

    /// Creates a participant of an account that is not terminated.
    pub fn create_participant(
        &mut self,
        name: &str,
        account_number: &str,
    ) -> Result<ParticipantRecord, DeskError> {
        let name = parse_name(name)?;
        self.change(|tx, audit| {
            let account = tx
                .account_by_number(account_number)?
                .ok_or_else(|| DeskError::not_found("account", account_number.trim()))?;
            if account.state == AccountState::Terminated {
                return Err(DeskError::refused(format!(
                    "account {} is terminated and gets no new participants",
                    account.number
                )));
            }
            let number = loop {
                let candidate = format!("RP{:010}", tx.next_counter("participant")?);
                if !tx.participant_number_exists(&candidate)? {
                    break candidate;
                }
            };
            let signed_up_on = audit.at.get(..10).unwrap_or(audit.at).to_owned();
            let id = tx.insert_participant(
                &number,
                &name,
                account.id,
                &signed_up_on,
                None,
                audit.at,
                audit.clerk,
            )?;
            audit.record(
                tx,
                "participant.create",
                "participant",
                &number,
                format!("created participant {name} of account {}", account.number),
            )?;
            tx.participant_by_id(id)?
                .ok_or_else(|| DeskError::not_found("participant", &number))
        })
    }

    /// Terminates a participant (R33). Its tokens are unchanged but become eligible for R20.
    pub fn terminate_participant(&mut self, number: &str) -> Result<ParticipantRecord, DeskError> {
        self.change(|tx, audit| {
            let participant = tx
                .participant_by_number(number)?
                .ok_or_else(|| DeskError::not_found("participant", number.trim()))?;
            if participant.state == ParticipantState::Terminated {
                return Err(DeskError::refused(format!(
                    "participant {} is already terminated",
                    participant.number
                )));
            }
            tx.set_participant_state(participant.id, ParticipantState::Terminated)?;
            audit.record(
                tx,
                "participant.terminate",
                "participant",
                &participant.number,
                "effective → terminated",
            )?;
            tx.participant_by_id(participant.id)?
                .ok_or_else(|| DeskError::not_found("participant", number))
        })
    }
}
