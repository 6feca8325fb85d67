//! Token use cases: create, link, life cycle, secrets, authentication (SPEC §3, §5, §6).

use chrono::Duration;

use super::{Audit, Desk, DeskError, timestamp};
use crate::domain::definition::GenerationMethod;
use crate::domain::lifecycle::{LinkFacts, Transition, transition};
use crate::domain::{
    AccountRecord, AccountState, Alphabet, AuditEvent, CredentialKind, CredentialRule,
    DefinitionRecord, DefinitionSettings, OwnerKind, ParticipantRecord, ParticipantState, Secret,
    TokenAction, TokenRecord, TokenState, ValidationError, identifier_key, normalize_auth_code,
};
use crate::storage::{
    AuditFilter, NewToken, SortDirection, TokenCursor, TokenFilter, TokenSort, Tx,
};

/// What the clerk (or an import row) asks for when creating a token. Empty strings count as absent.
#[derive(Clone, Debug, Default)]
pub struct TokenDraft {
    pub participant_number: Option<String>,
    pub account_number: Option<String>,
    pub identifier: Option<String>,
    pub authentication_code: Option<String>,
    pub pass_code: Option<Secret>,
    /// Only imports set this; `None` means the default of §5.
    pub state: Option<TokenState>,
}

/// What happens to the pass code of a checked draft.
#[derive(Clone, Debug)]
pub enum PassCodePlan {
    None,
    Typed(Secret),
    Generate,
}

/// A draft that passed every rule of its definition that needs no database.
#[derive(Clone, Debug)]
pub struct CheckedDraft {
    /// Typed and valid, or `None` to generate.
    pub authentication_code: Option<String>,
    /// Typed and valid.
    pub identifier: Option<String>,
    pub generate_identifier: bool,
    pub pass_code: PassCodePlan,
    pub state: TokenState,
}

fn present(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// Checks a draft against a definition's credential rules (R1–R3, R6). Pure: the window calls it
/// as the clerk types, and the import calls it for every row.
pub fn check_draft(
    settings: &DefinitionSettings,
    draft: &TokenDraft,
) -> Result<CheckedDraft, ValidationError> {
    let identifier = present(draft.identifier.as_deref());
    let pass_code = draft.pass_code.as_ref().filter(|p| !p.expose().is_empty());
    let auth_code = present(draft.authentication_code.as_deref()).map(normalize_auth_code);
    match &auth_code {
        Some(code) => settings
            .authentication_code
            .validate_typed(CredentialKind::AuthenticationCode, code)?,
        // R1: generated on save only when the definition says how.
        None if !settings.authentication_code.is_generated() => {
            return Err(ValidationError::new(
                "authentication code",
                "is required: this definition does not generate it",
            ));
        }
        None => {}
    }
    if let Some(identifier) = identifier {
        settings
            .identifier
            .validate_typed(CredentialKind::Identifier, identifier)?;
    }
    if let Some(pass_code) = pass_code {
        settings
            .pass_code
            .validate_typed(CredentialKind::PassCode, pass_code.expose())?;
    }
    let identifier_generated = settings.identifier.is_generated();
    let pass_code_generated = settings.pass_code.is_generated();
    let wants_pair = !settings.allow_without_identifier_and_pass_code
        || identifier.is_some()
        || pass_code.is_some()
        || (identifier_generated && pass_code_generated);
    if wants_pair && identifier.is_none() && !identifier_generated {
        let problem = if pass_code.is_some() {
            "is required with a pass code"
        } else {
            "and pass code are required by this definition"
        };
        return Err(ValidationError::new("identifier", problem));
    }
    let pass_code = match (wants_pair, pass_code) {
        (false, _) => PassCodePlan::None,
        (true, Some(typed)) => PassCodePlan::Typed(typed.clone()),
        (true, None) if pass_code_generated => PassCodePlan::Generate,
        (true, None) => {
            return Err(ValidationError::new(
                "pass code",
                "is required: an identifier always needs a pass code",
            ));
        }
    };
    let state = match draft.state {
        None if settings.verification.required => TokenState::PendingVerification,
        None | Some(TokenState::Effective) if !settings.verification.required => {
            TokenState::Effective
        }
        Some(TokenState::NotEffective) => TokenState::NotEffective,
        Some(other) => {
            return Err(ValidationError::new(
                "state",
                format!(
                    "cannot be {} for a new token of a definition that requires verification",
                    other.as_str()
                ),
            ));
        }
        None => TokenState::Effective,
    };
    Ok(CheckedDraft {
        authentication_code: auth_code,
        identifier: identifier.map(str::to_owned),
        generate_identifier: wants_pair && identifier_generated,
        pass_code,
        state,
    })
}

/// A token just created, with the secrets generated for it, to be shown once.
#[derive(Debug)]
pub struct CreatedToken {
    pub token: TokenRecord,
    pub pass_code: Option<Secret>,
    pub verification_code: Option<Secret>,
}

/// Generates a value for `rule` that `is_taken` does not know yet, retrying on collisions.
pub fn generate_unique(
    tx: &Tx<'_>,
    definition: &DefinitionRecord,
    kind: CredentialKind,
    mut is_taken: impl FnMut(&str) -> Result<bool, DeskError>,
) -> Result<String, DeskError> {
    let rule = definition.settings.rule(kind);
    let counter = format!("definition:{}:{}", definition.id, kind.column());
    for _ in 0..64 {
        let sequence = if rule.method == GenerationMethod::Sequence {
            tx.next_counter(&counter)?
        } else {
            0
        };
        let value = rule.generate(kind, sequence)?;
        if !is_taken(&value)? {
            return Ok(value);
        }
    }
    Err(DeskError::refused(format!(
        "no free {} could be generated for definition {}: the code space is too crowded; lengthen the {} in the definition",
        kind.label(),
        definition.code,
        kind.label()
    )))
}

/// Generates a verification code (digits, R52).
pub(crate) fn verification_code(settings: &DefinitionSettings) -> Result<Secret, DeskError> {
    let rule = CredentialRule::random(Alphabet::Digits, settings.verification.code_length);
    Ok(Secret::new(rule.generate(CredentialKind::PassCode, 0)?))
}

/// How the clerk names an owner in messages.
fn owner_name(kind: OwnerKind, number: &str) -> String {
    format!("{} {number}", kind.label())
}

/// R30, R32 (max tokens), R34 and `allow_create` for a token about to be linked.
pub fn check_new_links(
    tx: &Tx<'_>,
    settings: &DefinitionSettings,
    participant: Option<&ParticipantRecord>,
    account: Option<&AccountRecord>,
    is_creation: bool,
) -> Result<(), DeskError> {
    check_new_links_counting(tx, settings, participant, account, is_creation, &|_, _| 0)
}

/// [`check_new_links`] for a bulk job whose tokens reach the database a little later:
/// `pending(kind, owner_id)` counts the owner's tokens that are decided but not yet written.
pub fn check_new_links_counting(
    tx: &Tx<'_>,
    settings: &DefinitionSettings,
    participant: Option<&ParticipantRecord>,
    account: Option<&AccountRecord>,
    is_creation: bool,
    pending: &dyn Fn(OwnerKind, i64) -> u32,
) -> Result<(), DeskError> {
    if let (Some(participant), Some(account)) = (participant, account)
        && participant.account_id != account.id
    {
        return Err(DeskError::refused(format!(
            "participant {} belongs to account {}, not to account {} (R30)",
            participant.number, participant.account_number, account.number
        )));
    }
    let owners = [
        participant.map(|p| {
            (
                OwnerKind::Participant,
                p.id,
                p.number.as_str(),
                p.state == ParticipantState::Terminated,
            )
        }),
        account.map(|a| {
            (
                OwnerKind::Account,
                a.id,
                a.number.as_str(),
                a.state == AccountState::Terminated,
            )
        }),
    ];
    for (kind, id, number, is_terminated) in owners.into_iter().flatten() {
        let name = owner_name(kind, number);
        if is_terminated {
            return Err(DeskError::refused(format!(
                "{name} is terminated and gets no new tokens (R34)"
            )));
        }
        let owner_settings = settings.owner_settings(kind);
        if is_creation && !owner_settings.allow_create {
            return Err(DeskError::refused(format!(
                "the definition does not allow creating tokens for a {}",
                kind.label()
            )));
        }
        if owner_settings.max_tokens == 0 {
            // No limit: counting an owner's tokens for every imported row would be wasted work.
            continue;
        }
        let held = tx
            .count_tokens_of_owner(kind, id)?
            .saturating_add(pending(kind, id));
        if held >= owner_settings.max_tokens {
            return Err(DeskError::refused(format!(
                "{name} already holds {held} tokens, the most the definition allows (R32)"
            )));
        }
    }
    Ok(())
}

/// The facts R20 and R21 need.
fn link_facts(token: &TokenRecord) -> LinkFacts {
    let participant = token
        .participant_number
        .as_ref()
        .filter(|_| token.participant_state != Some(ParticipantState::Terminated))
        .map(|n| owner_name(OwnerKind::Participant, n));
    let account = token
        .account_number
        .as_ref()
        .filter(|_| token.account_state != Some(AccountState::Terminated))
        .map(|n| owner_name(OwnerKind::Account, n));
    LinkFacts {
        active_owner: participant.or(account),
        is_linked: token.is_linked(),
    }
}

/// Credentials presented for authentication (R50).
#[derive(Clone, Debug)]
pub enum Credentials {
    AuthenticationCode(String),
    Identifier {
        identifier: String,
        pass_code: Secret,
    },
}

/// What a use case does after the transaction: succeed, or report a failure that was still recorded.
enum Attempt<T> {
    Succeeded(T),
    Failed(super::AuthFailure),
}

impl Desk {
    pub(super) fn token_in(tx: &Tx<'_>, number: &str) -> Result<TokenRecord, DeskError> {
        tx.token_by_number(number)?
            .ok_or_else(|| DeskError::not_found("token", number.trim()))
    }

    pub fn token(&self, number: &str) -> Result<TokenRecord, DeskError> {
        self.store
            .db()
            .token_by_number(number)?
            .ok_or_else(|| DeskError::not_found("token", number.trim()))
    }

    /// The token's history from the audit log, newest first.
    pub fn token_history(&self, number: &str) -> Result<Vec<AuditEvent>, DeskError> {
        let filter = AuditFilter {
            record_number: Some(number.to_owned()),
            ..AuditFilter::default()
        };
        Ok(self.store.db().audit_events(&filter, i64::MAX, 500)?)
    }

    pub fn list_tokens(
        &self,
        filter: &TokenFilter,
        sort: TokenSort,
        direction: SortDirection,
        after: Option<&TokenCursor>,
        limit: usize,
    ) -> Result<Vec<TokenRecord>, DeskError> {
        Ok(self
            .store
            .db()
            .list_tokens(filter, sort, direction, after, limit)?)
    }

    pub fn count_tokens(&self, filter: &TokenFilter) -> Result<u64, DeskError> {
        Ok(self.store.db().count_tokens(filter)?)
    }

    /// Creates a token under the Effective definition (R11), standalone or for its owners.
    pub fn create_token(&mut self, draft: &TokenDraft) -> Result<CreatedToken, DeskError> {
        let hasher = self.hasher.clone();
        let valid_hours = i64::from(
            self.effective_definition()?
                .settings
                .verification
                .valid_hours,
        );
        let expires_at = timestamp(self.now() + Duration::hours(valid_hours));
        self.change(|tx, audit| {
            let definition = tx.effective_definition()?.ok_or_else(|| {
                DeskError::refused("there is no Effective definition; activate one first")
            })?;
            let settings = &definition.settings;
            let checked = check_draft(settings, draft)?;
            let participant = match present(draft.participant_number.as_deref()) {
                Some(number) => Some(
                    tx.participant_by_number(number)?
                        .ok_or_else(|| DeskError::not_found("participant", number))?,
                ),
                None => None,
            };
            let account = match present(draft.account_number.as_deref()) {
                Some(number) => Some(
                    tx.account_by_number(number)?
                        .ok_or_else(|| DeskError::not_found("account", number))?,
                ),
                None => None,
            };
            check_new_links(tx, settings, participant.as_ref(), account.as_ref(), true)?;

            let authentication_code = match checked.authentication_code {
                Some(code) if tx.auth_code_exists(&code)? => {
                    return Err(DeskError::refused(
                        "another token already has this authentication code (R4)",
                    ));
                }
                Some(code) => code,
                None => {
                    generate_unique(tx, &definition, CredentialKind::AuthenticationCode, |v| {
                        Ok(tx.auth_code_exists(v)?)
                    })?
                }
            };
            let identifier = match (checked.identifier, checked.generate_identifier) {
                (Some(typed), _) => {
                    if tx.identifier_key_exists(&identifier_key(&typed))? {
                        return Err(DeskError::refused(
                            "another token already has this identifier (R5)",
                        ));
                    }
                    Some(typed)
                }
                (None, true) => Some(generate_unique(
                    tx,
                    &definition,
                    CredentialKind::Identifier,
                    |v| Ok(tx.identifier_key_exists(&identifier_key(v))?),
                )?),
                (None, false) => None,
            };
            let (pass_code_hash, shown_pass_code) = match checked.pass_code {
                PassCodePlan::None => (None, None),
                PassCodePlan::Typed(typed) => (Some(hasher.hash(&typed)?), None),
                PassCodePlan::Generate => {
                    let generated = Secret::new(generate_unique(
                        tx,
                        &definition,
                        CredentialKind::PassCode,
                        |_| Ok(false),
                    )?);
                    (Some(hasher.hash(&generated)?), Some(generated))
                }
            };
            let verification = if checked.state == TokenState::PendingVerification {
                let code = verification_code(settings)?;
                Some((hasher.hash(&code)?, code))
            } else {
                None
            };
            let number = format!("AT{:010}", tx.next_counter("token")?);
            let key = identifier.as_deref().map(identifier_key);
            let id = tx.insert_token(&NewToken {
                number: &number,
                definition_id: definition.id,
                authentication_code: &authentication_code,
                identifier: identifier.as_deref(),
                identifier_key: key.as_deref(),
                pass_code_hash: pass_code_hash.as_deref(),
                verification_code_hash: verification.as_ref().map(|(hash, _)| hash.as_str()),
                verification_expires_at: verification.as_ref().map(|_| expires_at.as_str()),
                state: checked.state,
                participant_id: participant.as_ref().map(|p| p.id),
                account_id: account.as_ref().map(|a| a.id),
                import_batch_id: None,
                at: audit.at,
                by: audit.clerk,
            })?;
            let owners: Vec<String> = [
                participant.map(|p| owner_name(OwnerKind::Participant, &p.number)),
                account.map(|a| owner_name(OwnerKind::Account, &a.number)),
            ]
            .into_iter()
            .flatten()
            .collect();
            let details = format!(
                "created under {} as {}{}",
                definition.code,
                checked.state.as_str(),
                if owners.is_empty() {
                    String::new()
                } else {
                    format!(" for {}", owners.join(" and "))
                }
            );
            audit.record(tx, "token.create", "token", &number, details)?;
            let token = tx
                .token_by_id(id)?
                .ok_or_else(|| DeskError::not_found("token", &number))?;
            Ok(CreatedToken {
                token,
                pass_code: shown_pass_code,
                verification_code: verification.map(|(_, code)| code),
            })
        })
    }

    /// Links an existing token to an owner (R31): only Effective, unlocked tokens not linked to
    /// another owner of that kind.
    pub fn add_token_to_owner(
        &mut self,
        kind: OwnerKind,
        owner_number: &str,
        token_number: &str,
    ) -> Result<TokenRecord, DeskError> {
        self.change(|tx, audit| {
            let token = Self::token_in(tx, token_number)?;
            require_effective_unlocked(&token, "be added to an owner")?;
            let definition = tx
                .definition_by_id(token.definition_id)?
                .ok_or_else(|| DeskError::not_found("definition", &token.definition))?;
            let (participant, account) = match kind {
                OwnerKind::Participant => {
                    if let Some(current) = &token.participant_number {
                        return Err(DeskError::refused(format!(
                            "token {} already belongs to participant {current}",
                            token.number
                        )));
                    }
                    let participant = tx
                        .participant_by_number(owner_number)?
                        .ok_or_else(|| DeskError::not_found("participant", owner_number))?;
                    let account = match token.account_id {
                        Some(id) => tx.account_by_id(id)?,
                        None => None,
                    };
                    (Some(participant), account)
                }
                OwnerKind::Account => {
                    if let Some(current) = &token.account_number {
                        return Err(DeskError::refused(format!(
                            "token {} already belongs to account {current}",
                            token.number
                        )));
                    }
                    let account = tx
                        .account_by_number(owner_number)?
                        .ok_or_else(|| DeskError::not_found("account", owner_number))?;
                    let participant = match token.participant_id {
                        Some(id) => tx.participant_by_id(id)?,
                        None => None,
                    };
                    (participant, Some(account))
                }
            };
            let (checked_participant, checked_account) = match kind {
                OwnerKind::Participant => (participant.as_ref(), None),
                OwnerKind::Account => (None, account.as_ref()),
            };
            check_new_links(
                tx,
                &definition.settings,
                checked_participant,
                checked_account,
                false,
            )?;
            if let (Some(participant), Some(account)) = (&participant, &account)
                && participant.account_id != account.id
            {
                return Err(DeskError::refused(format!(
                    "participant {} belongs to account {}, not to account {} (R30)",
                    participant.number, participant.account_number, account.number
                )));
            }
            let owner_id = match kind {
                OwnerKind::Participant => participant.as_ref().map(|p| p.id),
                OwnerKind::Account => account.as_ref().map(|a| a.id),
            };
            tx.set_token_owner(token.id, kind, owner_id, audit.at, audit.clerk)?;
            let owner = owner_name(kind, owner_number.trim());
            audit.record(
                tx,
                "token.link",
                "token",
                &token.number,
                format!("added to {owner}"),
            )?;
            Ok(tx.token_by_id(token.id)?.unwrap_or(token))
        })
    }

    /// Removes a token from an owner (R31); the last link of an Effective token may deactivate it (R24).
    pub fn remove_token_from_owner(
        &mut self,
        kind: OwnerKind,
        owner_number: &str,
        token_number: &str,
    ) -> Result<TokenRecord, DeskError> {
        self.change(|tx, audit| {
            Self::remove_token_from_owner_in(tx, audit, kind, owner_number, token_number, None)
        })
    }

    /// The rules and writes of [`Desk::remove_token_from_owner`] inside a caller's transaction;
    /// bulk actions reuse them and record the clerk's `reason`.
    pub(super) fn remove_token_from_owner_in(
        tx: &Tx<'_>,
        audit: &Audit<'_>,
        kind: OwnerKind,
        owner_number: &str,
        token_number: &str,
        reason: Option<&str>,
    ) -> Result<TokenRecord, DeskError> {
        let token = Self::token_in(tx, token_number)?;
        let owner_number = owner_number.trim();
        let (linked_number, owner_id) = match kind {
            OwnerKind::Participant => (token.participant_number.as_deref(), token.participant_id),
            OwnerKind::Account => (token.account_number.as_deref(), token.account_id),
        };
        let owner = owner_name(kind, owner_number);
        let Some(owner_id) = owner_id.filter(|_| linked_number == Some(owner_number)) else {
            return Err(DeskError::refused(format!(
                "token {} does not belong to {owner}",
                token.number
            )));
        };
        let definition = tx
            .definition_by_id(token.definition_id)?
            .ok_or_else(|| DeskError::not_found("definition", &token.definition))?;
        let settings = &definition.settings;
        if settings.owner_settings(kind).require_at_least_one
            && tx.count_tokens_of_owner(kind, owner_id)? <= 1
        {
            return Err(DeskError::refused(format!(
                "token {} is the last token of {owner}, which must keep at least one (R32)",
                token.number
            )));
        }
        tx.set_token_owner(token.id, kind, None, audit.at, audit.clerk)?;
        audit.record(
            tx,
            "token.unlink",
            "token",
            &token.number,
            match reason {
                Some(reason) => format!("removed from {owner}: {reason}"),
                None => format!("removed from {owner}"),
            },
        )?;
        let other_link = match kind {
            OwnerKind::Participant => token.account_id,
            OwnerKind::Account => token.participant_id,
        };
        if other_link.is_none()
            && token.state == TokenState::Effective
            && settings.deactivate_on_last_unlink
        {
            let facts = LinkFacts::default();
            if let Transition::To(state) =
                transition(token.state, TokenAction::DeactivateOnLastUnlink, &facts)?
            {
                tx.set_token_state(token.id, state, audit.at, audit.clerk)?;
                audit.record(
                    tx,
                    "token.state",
                    "token",
                    &token.number,
                    "effective → not_effective: last owner link removed (R24)",
                )?;
            }
        }
        Ok(tx.token_by_id(token.id)?.unwrap_or(token))
    }

    /// Makes a token Effective or Not Effective, with a reason (R20, R22).
    pub fn set_token_state(
        &mut self,
        number: &str,
        target: TokenState,
        reason: &str,
    ) -> Result<TokenRecord, DeskError> {
        let reason = required_reason(reason)?;
        self.change(|tx, audit| Self::set_token_state_in(tx, audit, number, target, reason))
    }

    /// The rules and writes of [`Desk::set_token_state`] inside a caller's transaction.
    pub(super) fn set_token_state_in(
        tx: &Tx<'_>,
        audit: &Audit<'_>,
        number: &str,
        target: TokenState,
        reason: &str,
    ) -> Result<TokenRecord, DeskError> {
        let reason = required_reason(reason)?;
        let token = Self::token_in(tx, number)?;
        let action = match target {
            TokenState::NotEffective => TokenAction::Deactivate,
            TokenState::Effective => TokenAction::Activate,
            TokenState::PendingVerification => {
                return Err(DeskError::refused(
                    "a token becomes Pending Verification only when it is created",
                ));
            }
        };
        if let Transition::To(state) = transition(token.state, action, &link_facts(&token))? {
            tx.set_token_state(token.id, state, audit.at, audit.clerk)?;
            let details = format!("{} → {}: {reason}", token.state.as_str(), state.as_str());
            audit.record(tx, "token.state", "token", &token.number, details)?;
        }
        Ok(tx.token_by_id(token.id)?.unwrap_or(token))
    }

    /// Deletes a Not Effective token with no owner links (R21). Its audit events stay.
    pub fn delete_token(&mut self, number: &str) -> Result<(), DeskError> {
        self.change(|tx, audit| {
            let token = Self::token_in(tx, number)?;
            transition(token.state, TokenAction::Delete, &link_facts(&token))?;
            tx.delete_token(token.id)?;
            audit.record(
                tx,
                "token.delete",
                "token",
                &token.number,
                format!(
                    "deleted; authentication code was {} characters",
                    token.authentication_code.chars().count()
                ),
            )?;
            Ok(())
        })
    }

    /// Resets the pass code of an Effective token (R53): the typed one, or a generated one,
    /// which is returned to be shown once.
    pub fn reset_pass_code(
        &mut self,
        number: &str,
        typed: Option<Secret>,
    ) -> Result<Option<Secret>, DeskError> {
        let hasher = self.hasher.clone();
        self.change(|tx, audit| {
            let token = Self::token_in(tx, number)?;
            require_effective_unlocked(&token, "have their pass code reset")?;
            if token.identifier.is_none() {
                return Err(DeskError::refused(format!(
                    "token {} has no identifier, so it has no pass code",
                    token.number
                )));
            }
            let definition = tx
                .definition_by_id(token.definition_id)?
                .ok_or_else(|| DeskError::not_found("definition", &token.definition))?;
            let rule = &definition.settings.pass_code;
            let (secret, shown) = match typed.filter(|t| !t.expose().is_empty()) {
                Some(typed) => {
                    rule.validate_typed(CredentialKind::PassCode, typed.expose())?;
                    (typed, None)
                }
                None if rule.is_generated() => {
                    let generated = Secret::new(generate_unique(
                        tx,
                        &definition,
                        CredentialKind::PassCode,
                        |_| Ok(false),
                    )?);
                    (generated.clone(), Some(generated))
                }
                None => {
                    return Err(ValidationError::new(
                        "pass code",
                        "is typed by the clerk under this definition; enter the new one",
                    )
                    .into());
                }
            };
            tx.set_pass_code_hash(token.id, &hasher.hash(&secret)?, audit.at, audit.clerk)?;
            let how = if shown.is_some() {
                "generated"
            } else {
                "set by the clerk"
            };
            audit.record(
                tx,
                "token.reset_pass_code",
                "token",
                &token.number,
                format!("pass code {how}"),
            )?;
            Ok(shown)
        })
    }

    /// Unlocks a locked token, with a reason (R51).
    pub fn unlock_token(&mut self, number: &str, reason: &str) -> Result<TokenRecord, DeskError> {
        let reason = required_reason(reason)?;
        self.change(|tx, audit| Self::unlock_token_in(tx, audit, number, reason))
    }

    /// The rules and writes of [`Desk::unlock_token`] inside a caller's transaction.
    pub(super) fn unlock_token_in(
        tx: &Tx<'_>,
        audit: &Audit<'_>,
        number: &str,
        reason: &str,
    ) -> Result<TokenRecord, DeskError> {
        let reason = required_reason(reason)?;
        let token = Self::token_in(tx, number)?;
        if !token.locked {
            return Err(DeskError::refused(format!(
                "token {} is not locked",
                token.number
            )));
        }
        tx.set_failed_attempts(token.id, 0, false, audit.at, audit.clerk)?;
        audit.record(
            tx,
            "token.unlock",
            "token",
            &token.number,
            format!(
                "unlocked after {} failed attempts: {reason}",
                token.failed_attempts
            ),
        )?;
        Ok(tx.token_by_id(token.id)?.unwrap_or(token))
    }

    /// Issues a new verification code for a Pending Verification token; the old one stops working.
    pub fn reissue_verification_code(&mut self, number: &str) -> Result<Secret, DeskError> {
        let hasher = self.hasher.clone();
        let now = self.now();
        self.change(|tx, audit| {
            let token = Self::token_in(tx, number)?;
            transition(
                token.state,
                TokenAction::ReissueVerification,
                &link_facts(&token),
            )?;
            if token.locked {
                return Err(DeskError::refused(format!(
                    "token {} is locked; unlock it first",
                    token.number
                )));
            }
            let definition = tx
                .definition_by_id(token.definition_id)?
                .ok_or_else(|| DeskError::not_found("definition", &token.definition))?;
            let code = verification_code(&definition.settings)?;
            let expires = timestamp(
                now + Duration::hours(i64::from(definition.settings.verification.valid_hours)),
            );
            tx.set_verification_code(
                token.id,
                &hasher.hash(&code)?,
                &expires,
                audit.at,
                audit.clerk,
            )?;
            audit.record(
                tx,
                "token.reissue_verification",
                "token",
                &token.number,
                format!("new verification code, valid until {expires}"),
            )?;
            Ok(code)
        })
    }

    /// Verifies a Pending Verification token with its code (R52); wrong codes count as failed attempts.
    pub fn verify_token(&mut self, number: &str, code: &Secret) -> Result<TokenRecord, DeskError> {
        let hasher = self.hasher.clone();
        let now = self.now_text();
        let attempt = self.change(|tx, audit| {
            let token = Self::token_in(tx, number)?;
            transition(token.state, TokenAction::Verify, &link_facts(&token))?;
            let record = |outcome: &str| {
                audit.record(
                    tx,
                    "token.verify",
                    "token",
                    &token.number,
                    outcome.to_owned(),
                )
            };
            if token.locked {
                record("refused: locked")?;
                return Ok(Attempt::Failed(super::AuthFailure::Locked));
            }
            let secrets = tx.token_secrets(token.id)?;
            let (Some(hash), Some(expires)) = (
                secrets.verification_code_hash,
                secrets.verification_expires_at,
            ) else {
                return Err(DeskError::refused(format!(
                    "token {} has no verification code; issue one",
                    token.number
                )));
            };
            if expires <= now {
                record("refused: code expired")?;
                return Ok(Attempt::Failed(super::AuthFailure::VerificationExpired));
            }
            if !hasher.matches(code, &hash)? {
                let failure = Self::count_failure(tx, audit, &token, true)?;
                return Ok(Attempt::Failed(failure));
            }
            tx.mark_token_verified(token.id, audit.at, audit.clerk)?;
            record("verified")?;
            Ok(Attempt::Succeeded(
                tx.token_by_id(token.id)?.unwrap_or(token),
            ))
        })?;
        match attempt {
            Attempt::Succeeded(token) => Ok(token),
            Attempt::Failed(failure) => Err(DeskError::AuthenticationFailed(failure)),
        }
    }

    /// Records a wrong secret: counts it, locks at the threshold (R51), audits the outcome (R54).
    fn count_failure(
        tx: &Tx<'_>,
        audit: &Audit<'_>,
        token: &TokenRecord,
        is_verification: bool,
    ) -> Result<super::AuthFailure, DeskError> {
        let definition = tx.definition_by_id(token.definition_id)?;
        let threshold = definition.map_or(5, |d| d.settings.lockout_threshold);
        let failed = token.failed_attempts.saturating_add(1);
        let locks = threshold > 0 && failed >= threshold;
        tx.set_failed_attempts(token.id, failed, locks, audit.at, audit.clerk)?;
        let (action, what) = if is_verification {
            ("token.verify", "verification code")
        } else {
            ("token.authenticate", "pass code")
        };
        let outcome = if locks {
            format!("failed: wrong {what}; token locked after {failed} attempts")
        } else {
            format!("failed: wrong {what} ({failed} failed attempts)")
        };
        audit.record(tx, action, "token", &token.number, outcome)?;
        let attempts_left = (threshold > 0).then(|| threshold - failed);
        Ok(match (locks, is_verification) {
            (true, _) => super::AuthFailure::NowLocked,
            (false, true) => super::AuthFailure::WrongVerificationCode { attempts_left },
            (false, false) => super::AuthFailure::WrongPassCode { attempts_left },
        })
    }

    /// Authenticates a customer (R50): by authentication code, or by identifier and pass code.
    /// Only Effective, unlocked tokens succeed (R23); every attempt is audited (R54).
    pub fn authenticate(&mut self, credentials: &Credentials) -> Result<TokenRecord, DeskError> {
        let hasher = self.hasher.clone();
        let attempt = self.change(|tx, audit| {
            let found = match credentials {
                Credentials::AuthenticationCode(code) => {
                    tx.token_by_auth_code(&normalize_auth_code(code))?
                }
                Credentials::Identifier {
                    identifier,
                    pass_code,
                } => {
                    let found = tx.token_by_identifier_key(&identifier_key(identifier))?;
                    if found.is_none() {
                        // As slow as a real check, so identifiers cannot be probed by timing.
                        hasher.waste_one_verification(pass_code);
                    }
                    found
                }
            };
            let Some(token) = found else {
                let (failure, what) = match credentials {
                    Credentials::AuthenticationCode(_) => (
                        super::AuthFailure::UnknownAuthCode,
                        "unknown authentication code",
                    ),
                    Credentials::Identifier { .. } => {
                        (super::AuthFailure::UnknownIdentifier, "unknown identifier")
                    }
                };
                audit.record(
                    tx,
                    "token.authenticate",
                    "token",
                    "",
                    format!("failed: {what}"),
                )?;
                return Ok(Attempt::Failed(failure));
            };
            let refuse = |failure: super::AuthFailure,
                          outcome: &str|
             -> Result<Attempt<TokenRecord>, DeskError> {
                audit.record(
                    tx,
                    "token.authenticate",
                    "token",
                    &token.number,
                    format!("refused: {outcome}"),
                )?;
                Ok(Attempt::Failed(failure))
            };
            if token.locked {
                return refuse(super::AuthFailure::Locked, "locked");
            }
            if token.state != TokenState::Effective {
                return refuse(
                    super::AuthFailure::NotEffective {
                        state: token.state.label(),
                    },
                    token.state.as_str(),
                );
            }
            if let Credentials::Identifier { pass_code, .. } = credentials {
                let Some(hash) = tx.token_secrets(token.id)?.pass_code_hash else {
                    return refuse(
                        super::AuthFailure::WrongPassCode {
                            attempts_left: None,
                        },
                        "no pass code set",
                    );
                };
                if !hasher.matches(pass_code, &hash)? {
                    return Ok(Attempt::Failed(Self::count_failure(
                        tx, audit, &token, false,
                    )?));
                }
                if hasher.is_weaker_than_current(&hash) {
                    tx.set_pass_code_hash(
                        token.id,
                        &hasher.hash(pass_code)?,
                        audit.at,
                        audit.clerk,
                    )?;
                }
            }
            tx.mark_token_used(token.id, audit.at, audit.clerk)?;
            let how = match credentials {
                Credentials::AuthenticationCode(_) => "by authentication code",
                Credentials::Identifier { .. } => "by identifier and pass code",
            };
            audit.record(
                tx,
                "token.authenticate",
                "token",
                &token.number,
                format!("succeeded {how}"),
            )?;
            Ok(Attempt::Succeeded(
                tx.token_by_id(token.id)?.unwrap_or(token),
            ))
        })?;
        match attempt {
            Attempt::Succeeded(token) => Ok(token),
            Attempt::Failed(failure) => Err(DeskError::AuthenticationFailed(failure)),
        }
    }
}

/// A reason is required for clerk state changes and unlocks (R22, R51).
pub(super) fn required_reason(reason: &str) -> Result<&str, DeskError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(ValidationError::new("reason", "is required").into());
    }
    Ok(reason)
}

/// R23: only Effective, unlocked tokens may `purpose` (e.g. "be added to an owner").
fn require_effective_unlocked(token: &TokenRecord, purpose: &str) -> Result<(), DeskError> {
    if token.state == TokenState::Effective && !token.locked {
        return Ok(());
    }
    Err(DeskError::refused(format!(
        "token {} is {}{}; only Effective, unlocked tokens can {purpose} (R23)",
        token.number,
        token.state.label(),
        if token.locked { " and locked" } else { "" }
    )))
}
