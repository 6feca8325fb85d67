//! One pass over the rows of an import, inside its transaction: each row checked, queued while
//! its secrets are hashed, and written in file order.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher as _, RandomState};

use super::hashing::{HashDone, HashJob, HashPool};
use super::key_filter::KeyFilter;
use super::source::{self, Columns, shorten};
use super::{
    CredentialRow, Flow, ImportError, ImportOptions, ImportOutput, ImportSummary, Mode, NOT_HASHED,
    ReportRow, RowOutcome, WINDOW_ROWS,
};
use crate::desk::tokens::{
    PassCodePlan, TokenDraft, check_draft, check_new_links_counting, generate_unique,
    verification_code,
};
use crate::desk::{CheckedDraft, DeskError};
use crate::domain::owner::parse_name;
use crate::domain::rules::looks_like_spreadsheet_damage;
use crate::domain::{
    AccountRecord, AccountState, CredentialKind, DefinitionRecord, OwnerKind, ParticipantRecord,
    ParticipantState, Secret, TokenRecord, TokenState, identifier_key,
};
use crate::storage::{BatchCounts, ImportStatements, NewAuditEvent, NewToken, StoreError, Tx};

/// A token decided but not yet written: it waits in the window for its hashes.
pub(super) struct PendingToken {
    line: u64,
    authentication_code: String,
    is_code_generated: bool,
    identifier: Option<String>,
    participant_id: Option<i64>,
    account_id: Option<i64>,
    state: TokenState,
    /// Generated secrets, to go to the credentials sink once.
    generated_pass_code: Option<Secret>,
    verification_code: Option<Secret>,
    /// Hashes of the pass code (if any) and the verification code (if any), in that order.
    hashes: Option<Vec<String>>,
    has_pass_code: bool,
}

pub(super) enum Entry {
    Done(ReportRow),
    Token(Box<PendingToken>),
}

/// What a row comes to.
pub(super) enum Verdict {
    Rejected(String),
    Unchanged(Box<TokenRecord>),
    Accepted(Box<PendingToken>, Vec<Secret>),
}

/// One pass over the rows, inside the import's transaction.
pub(super) struct Pass<'p, 't, 'c, 'o> {
    pub(super) tx: &'t Tx<'c>,
    pub(super) definition: &'p DefinitionRecord,
    pub(super) mode: Mode,
    pub(super) options: ImportOptions,
    pub(super) batch_id: i64,
    pub(super) at: &'p str,
    pub(super) clerk: &'p str,
    pub(super) expires_at: String,
    pub(super) first_number: u64,
    pub(super) next_number: u64,
    /// Keyed hashing for the fingerprints below; a fingerprint hit is confirmed in the database.
    pub(super) fingerprints: RandomState,
    /// Fingerprint of each authentication code of the file so far → its line.
    pub(super) auth_lines: HashMap<u64, u64>,
    /// Fingerprint of each identifier key of the file so far → its line.
    pub(super) identifier_lines: HashMap<u64, u64>,
    /// Tokens per owner that wait in the window (R32's maximum counts them too).
    pub(super) pending_by_owner: HashMap<(OwnerKind, i64), u32>,
    /// Keys that existed before the import, for large files (`None`: always ask the database).
    pub(super) existing_keys: Option<KeyFilter>,
    /// Participant and account numbers in the database, for large files that name owners
    /// (`None`: always ask the database). The owners this import creates are added.
    pub(super) existing_participants: Option<KeyFilter>,
    pub(super) existing_accounts: Option<KeyFilter>,
    /// The statements run for every row, prepared once.
    pub(super) statements: ImportStatements<'c>,
    pub(super) window: VecDeque<Entry>,
    pub(super) head_ticket: u64,
    pub(super) counts: BatchCounts,
    pub(super) generated_secrets: u64,
    pub(super) output: &'p mut ImportOutput<'o>,
}

#[derive(Clone, Copy)]
enum KeyKind {
    AuthenticationCode,
    Identifier,
}

/// A field: trimmed, with one leading `'` before `=`, `+`, `-` or `@` removed (the export guard, R61).
fn clean(value: &str) -> &str {
    crate::desk::export::unguard_cell(value.trim())
}

/// A pass code is never exported, so there is no guard of ours to undo: only SPEC §7.1's own
/// rule applies (one `'` before `=`, `+`, `-` or `@`), not the export's round trip of `''=`.
fn clean_pass_code(value: &str) -> &str {
    let value = value.trim();
    match value.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@']) => rest,
        _ => value,
    }
}

fn rejected(text: impl Into<String>) -> Result<Verdict, ImportError> {
    Ok(Verdict::Rejected(text.into()))
}

/// A refusal becomes a rejected row; database and hashing trouble stops the import.
fn verdict_of(err: DeskError) -> Result<Verdict, ImportError> {
    match err {
        DeskError::Store(_) | DeskError::Hash(_) | DeskError::File(_) => {
            Err(ImportError::Desk(err))
        }
        other => rejected(other.to_string()),
    }
}

/// Who owns a token, as a clerk reads it.
fn owners_of(token: &TokenRecord) -> String {
    match (&token.participant_number, &token.account_number) {
        (Some(p), Some(a)) => format!("participant {p} of account {a}"),
        (Some(p), None) => format!("participant {p}"),
        (None, Some(a)) => format!("account {a}"),
        (None, None) => "no owner".to_owned(),
    }
}

/// The values of one row, cleaned.
struct RowValues<'r> {
    authentication_code: &'r str,
    identifier: &'r str,
    pass_code: &'r str,
    participant_number: &'r str,
    participant_name: &'r str,
    account_number: &'r str,
    account_name: &'r str,
    state: &'r str,
}

impl<'r> RowValues<'r> {
    fn read(record: &'r csv::StringRecord, columns: &Columns) -> Self {
        let get = |index: Option<usize>| index.and_then(|i| record.get(i)).map_or("", clean);
        Self {
            authentication_code: get(columns.authentication_code),
            identifier: get(columns.identifier),
            pass_code: columns
                .pass_code
                .and_then(|i| record.get(i))
                .map_or("", clean_pass_code),
            participant_number: get(columns.participant_number),
            participant_name: get(columns.participant_name),
            account_number: get(columns.account_number),
            account_name: get(columns.account_name),
            state: get(columns.state),
        }
    }
}

fn optional(value: &str) -> Option<String> {
    (!value.is_empty()).then(|| value.to_owned())
}

/// A number the file brings for a new participant or account.
fn check_owner_number(label: &str, number: &str) -> Option<String> {
    if number.chars().count() > 40 || number.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Some(format!(
            "{label} {} must be at most 40 characters without spaces",
            shorten(number, 40)
        ));
    }
    None
}

impl Pass<'_, '_, '_, '_> {
    fn fingerprint(&self, kind: KeyKind, value: &str) -> u64 {
        self.fingerprints.hash_one((kind as u8, value))
    }

    fn lines(&mut self, kind: KeyKind) -> &mut HashMap<u64, u64> {
        match kind {
            KeyKind::AuthenticationCode => &mut self.auth_lines,
            KeyKind::Identifier => &mut self.identifier_lines,
        }
    }

    /// The earlier line of this file with the same key, if any. A fingerprint hit is confirmed
    /// in the database once every earlier row has been written.
    fn earlier_line(
        &mut self,
        kind: KeyKind,
        value: &str,
        pool: Option<&HashPool>,
    ) -> Result<Option<u64>, ImportError> {
        let fingerprint = self.fingerprint(kind, value);
        let Some(&line) = self.lines(kind).get(&fingerprint) else {
            return Ok(None);
        };
        self.pump(pool, true)?;
        let found = match kind {
            KeyKind::AuthenticationCode => self.tx.auth_code_exists(value)?,
            KeyKind::Identifier => self.tx.identifier_key_exists(value)?,
        };
        Ok(found.then_some(line))
    }

    /// Whether `key` may have existed before the import. Keys this import wrote are found by
    /// `earlier_line`, which runs first.
    fn may_exist(&self, key: &str) -> bool {
        KeyFilter::may_hold(self.existing_keys.as_ref(), key)
    }

    fn remember(&mut self, kind: KeyKind, value: &str, line: u64) {
        let fingerprint = self.fingerprint(kind, value);
        self.lines(kind).entry(fingerprint).or_insert(line);
    }

    fn is_taken(&self, kind: KeyKind, value: &str) -> Result<bool, DeskError> {
        let in_file = match kind {
            KeyKind::AuthenticationCode => {
                self.auth_lines.contains_key(&self.fingerprint(kind, value))
            }
            KeyKind::Identifier => self
                .identifier_lines
                .contains_key(&self.fingerprint(kind, value)),
        };
        Ok(in_file
            || match kind {
                KeyKind::AuthenticationCode => self.tx.auth_code_exists(value)?,
                KeyKind::Identifier => self.tx.identifier_key_exists(value)?,
            })
    }

    /// Decides one row and queues what it comes to.
    pub(super) fn take_row(
        &mut self,
        record: &csv::StringRecord,
        line: u64,
        columns: &Columns,
        pool: Option<&HashPool>,
    ) -> Result<(), Flow> {
        let verdict = self.check_row(record, line, columns, pool)?;
        let ticket = self.head_ticket + self.window.len() as u64;
        match verdict {
            Verdict::Rejected(message) => {
                self.counts.rejected += 1;
                if self.mode == Mode::Apply && !self.options.skip_invalid {
                    return Err(Flow::Doomed);
                }
                let code = shorten(
                    clean(
                        columns
                            .authentication_code
                            .and_then(|i| record.get(i))
                            .unwrap_or(""),
                    ),
                    64,
                );
                self.window.push_back(Entry::Done(ReportRow {
                    line,
                    outcome: RowOutcome::Rejected,
                    token_number: String::new(),
                    authentication_code: code,
                    message: crate::desk::error_sentence(&message),
                }));
            }
            Verdict::Unchanged(token) => {
                self.counts.unchanged += 1;
                let ignored_pass_code = columns
                    .pass_code
                    .and_then(|i| record.get(i))
                    .is_some_and(|value| !value.trim().is_empty());
                self.window.push_back(Entry::Done(ReportRow {
                    line,
                    outcome: RowOutcome::Unchanged,
                    token_number: token.number,
                    authentication_code: token.authentication_code,
                    message: if ignored_pass_code {
                        "Already in the database with the same owners and identifier; the pass code in the file was not used."
                    } else {
                        "Already in the database with the same owners and identifier."
                    }
                    .to_owned(),
                }));
            }
            Verdict::Accepted(mut token, secrets) => {
                self.counts.created += 1;
                for owner in [
                    token.participant_id.map(|id| (OwnerKind::Participant, id)),
                    token.account_id.map(|id| (OwnerKind::Account, id)),
                ]
                .into_iter()
                .flatten()
                {
                    *self.pending_by_owner.entry(owner).or_insert(0) += 1;
                }
                if secrets.is_empty() {
                    token.hashes = Some(Vec::new());
                } else if self.mode == Mode::Check {
                    token.hashes = Some(vec![NOT_HASHED.to_owned(); secrets.len()]);
                } else if let Some(pool) = pool {
                    if !pool.submit(HashJob { ticket, secrets }) {
                        return Err(
                            ImportError::Stopped("the hashing threads stopped".to_owned()).into(),
                        );
                    }
                } else {
                    return Err(
                        ImportError::Stopped("no hashing threads were started".to_owned()).into(),
                    );
                }
                self.window.push_back(Entry::Token(token));
            }
        }
        Ok(())
    }

    fn check_row(
        &mut self,
        record: &csv::StringRecord,
        line: u64,
        columns: &Columns,
        pool: Option<&HashPool>,
    ) -> Result<Verdict, ImportError> {
        if record.len() != columns.count {
            return rejected(format!(
                "the line has {} fields but the header row has {}; check its delimiters and quotes",
                record.len(),
                columns.count
            ));
        }
        let row = RowValues::read(record, columns);
        let damaged = [
            ("authentication code", row.authentication_code),
            ("identifier", row.identifier),
            ("pass code", row.pass_code),
            ("participant number", row.participant_number),
            ("account number", row.account_number),
        ]
        .into_iter()
        .find(|(_, value)| looks_like_spreadsheet_damage(value));
        if let Some((label, _)) = damaged {
            return rejected(format!(
                "the {label} looks like a number a spreadsheet turned into scientific notation (such as 1.23E+11); format the column as Text in the spreadsheet, restore the values and save the file again"
            ));
        }
        let identifier_key = (!row.identifier.is_empty()).then(|| identifier_key(row.identifier));
        if !row.authentication_code.is_empty()
            && let Some(other) =
                self.earlier_line(KeyKind::AuthenticationCode, row.authentication_code, pool)?
        {
            return rejected(format!(
                "the authentication code is also on line {other} (R4)"
            ));
        }
        if let Some(key) = &identifier_key
            && let Some(other) = self.earlier_line(KeyKind::Identifier, key, pool)?
        {
            return rejected(format!(
                "the identifier is also on line {other}; identifiers are compared ignoring case and surrounding spaces (R5)"
            ));
        }
        if let Some(verdict) = self.existing_token(&row, identifier_key.as_deref(), line)? {
            return Ok(verdict);
        }
        let state = match row.state {
            "" => None,
            text => match TokenState::parse(text) {
                Some(TokenState::PendingVerification)
                    if self.definition.settings.verification.required =>
                {
                    None
                }
                Some(state @ (TokenState::Effective | TokenState::NotEffective)) => Some(state),
                _ => {
                    return rejected(format!(
                        "the state must be effective or not_effective, not {}",
                        shorten(text, 30)
                    ));
                }
            },
        };
        let draft = TokenDraft {
            participant_number: optional(row.participant_number),
            account_number: optional(row.account_number),
            identifier: optional(row.identifier),
            authentication_code: optional(row.authentication_code),
            pass_code: optional(row.pass_code).map(Secret::new),
            state,
        };
        let checked = match check_draft(&self.definition.settings, &draft) {
            Ok(checked) => checked,
            Err(problem) => return rejected(problem.to_string()),
        };
        let (participant, account) = match self.resolve_owners(&row)? {
            Ok(owners) => owners,
            Err(message) => return rejected(message),
        };
        self.accept(line, checked, participant, account)
    }

    /// R41: a row whose code or identifier is already in the database is `unchanged` when the
    /// token has the same owners and identifier, and rejected as a conflict otherwise.
    fn existing_token(
        &mut self,
        row: &RowValues<'_>,
        identifier_key: Option<&str>,
        line: u64,
    ) -> Result<Option<Verdict>, ImportError> {
        // The cheap existence checks first: most rows of a big import are new.
        let by_code = match row.authentication_code {
            "" => None,
            code if self.may_exist(code) && self.tx.auth_code_exists(code)? => {
                self.tx.token_by_auth_code(code)?
            }
            _ => None,
        };
        let by_identifier = match identifier_key {
            Some(key) if self.may_exist(key) && self.tx.identifier_key_exists(key)? => {
                self.tx.token_by_identifier_key(key)?
            }
            _ => None,
        };
        let token = match (by_code, by_identifier) {
            (None, None) => return Ok(None),
            (Some(by_code), Some(by_identifier)) if by_code.id != by_identifier.id => {
                return Ok(Some(Verdict::Rejected(format!(
                    "the authentication code belongs to token {} and the identifier to token {} (R4, R5)",
                    by_code.number, by_identifier.number
                ))));
            }
            (Some(token), _) => token,
            (None, Some(token)) if row.authentication_code.is_empty() => token,
            (None, Some(token)) => {
                return Ok(Some(Verdict::Rejected(format!(
                    "the identifier already belongs to token {} of {}, which has another authentication code (R5)",
                    token.number,
                    owners_of(&token)
                ))));
            }
        };
        let same = token.participant_number.as_deref()
            == optional(row.participant_number).as_deref()
            && token.account_number.as_deref() == optional(row.account_number).as_deref()
            && token
                .identifier
                .as_deref()
                .map(crate::domain::identifier_key)
                .as_deref()
                == identifier_key;
        if !same {
            let what = if row.authentication_code.is_empty() {
                "identifier"
            } else {
                "authentication code"
            };
            return Ok(Some(Verdict::Rejected(format!(
                "the {what} already belongs to token {} of {}{}, with other owners or another identifier (R41)",
                token.number,
                owners_of(&token),
                token
                    .identifier
                    .as_ref()
                    .map_or(String::new(), |_| " with an identifier".to_owned())
            ))));
        }
        self.remember(
            KeyKind::AuthenticationCode,
            &token.authentication_code,
            line,
        );
        if let Some(key) = identifier_key {
            self.remember(KeyKind::Identifier, key, line);
        }
        Ok(Some(Verdict::Unchanged(Box::new(token))))
    }

    fn find_account(&mut self, number: &str) -> Result<Option<AccountRecord>, StoreError> {
        let number = number.trim();
        if KeyFilter::may_hold(self.existing_accounts.as_ref(), number) {
            self.statements.account_by_number_uncounted(number)
        } else {
            Ok(None)
        }
    }

    fn find_participant(&mut self, number: &str) -> Result<Option<ParticipantRecord>, StoreError> {
        let number = number.trim();
        if KeyFilter::may_hold(self.existing_participants.as_ref(), number) {
            self.statements.participant_by_number_uncounted(number)
        } else {
            Ok(None)
        }
    }

    /// Finds the row's owners, or plans new ones with `create_owners`. `Ok(Err(message))`
    /// rejects the row.
    #[allow(clippy::type_complexity)]
    fn resolve_owners(
        &mut self,
        row: &RowValues<'_>,
    ) -> Result<
        Result<
            (
                Option<Owner<ParticipantRecord>>,
                Option<Owner<AccountRecord>>,
            ),
            String,
        >,
        ImportError,
    > {
        // No owner number on file is longer (imports keep theirs to 40 characters), and a long
        // value is not worth a database look-up or an echo in the report.
        for (label, number) in [
            ("participant number", row.participant_number),
            ("account number", row.account_number),
        ] {
            if let Some(problem) = check_owner_number(label, number) {
                return Ok(Err(problem));
            }
        }
        let account = match row.account_number {
            "" => None,
            number => match self.find_account(number)? {
                Some(account) => Some(Owner::Existing(account)),
                None if !self.options.create_owners => {
                    return Ok(Err(format!(
                        "there is no account {number}; allow creating owners (--create-owners) with an account_name to create it"
                    )));
                }
                None => {
                    if let Some(problem) = check_owner_number("account number", number) {
                        return Ok(Err(problem));
                    }
                    let name = match parse_name(row.account_name) {
                        Ok(name) => name,
                        Err(_) if row.account_name.is_empty() => {
                            return Ok(Err(format!(
                                "account {number} is new, so it needs an account_name to be created"
                            )));
                        }
                        Err(problem) => {
                            return Ok(Err(format!("the account_name {}", problem.problem)));
                        }
                    };
                    Some(Owner::New(planned_account(number, &name)))
                }
            },
        };
        let participant = match row.participant_number {
            "" => None,
            number => match self.find_participant(number)? {
                Some(participant) => Some(Owner::Existing(participant)),
                None if !self.options.create_owners => {
                    return Ok(Err(format!(
                        "there is no participant {number}; allow creating owners (--create-owners) with a participant_name and an account_number to create it"
                    )));
                }
                None => {
                    if let Some(problem) = check_owner_number("participant number", number) {
                        return Ok(Err(problem));
                    }
                    let name = match parse_name(row.participant_name) {
                        Ok(name) => name,
                        Err(_) if row.participant_name.is_empty() => {
                            return Ok(Err(format!(
                                "participant {number} is new, so it needs a participant_name to be created"
                            )));
                        }
                        Err(problem) => {
                            return Ok(Err(format!("the participant_name {}", problem.problem)));
                        }
                    };
                    let Some(account) = &account else {
                        return Ok(Err(format!(
                            "participant {number} is new, so it needs the account_number of the account it belongs to"
                        )));
                    };
                    let account = account.record();
                    if account.state == AccountState::Terminated {
                        return Ok(Err(format!(
                            "account {} is terminated and gets no new participants (R34)",
                            account.number
                        )));
                    }
                    Some(Owner::New(planned_participant(number, &name, account)))
                }
            },
        };
        Ok(Ok((participant, account)))
    }

    /// Owner rules, new owners, generated credentials; queues the token.
    fn accept(
        &mut self,
        line: u64,
        checked: CheckedDraft,
        participant: Option<Owner<ParticipantRecord>>,
        account: Option<Owner<AccountRecord>>,
    ) -> Result<Verdict, ImportError> {
        let tx = self.tx;
        let settings = &self.definition.settings;
        let pending = &self.pending_by_owner;
        let counting = |kind: OwnerKind, id: i64| pending.get(&(kind, id)).copied().unwrap_or(0);
        let links = check_new_links_counting(
            tx,
            settings,
            participant.as_ref().map(Owner::record),
            account.as_ref().map(Owner::record),
            true,
            &counting,
        );
        if let Err(err) = links {
            return verdict_of(err);
        }
        let definition = self.definition;
        let (authentication_code, is_code_generated) = match checked.authentication_code {
            Some(code) => (code, false),
            None => {
                let code = generate_unique(
                    tx,
                    definition,
                    CredentialKind::AuthenticationCode,
                    |value| self.is_taken(KeyKind::AuthenticationCode, value),
                );
                match code {
                    Ok(code) => (code, true),
                    Err(err) => return verdict_of(err),
                }
            }
        };
        let identifier = match (checked.identifier, checked.generate_identifier) {
            (Some(typed), _) => Some(typed),
            (None, true) => {
                let generated =
                    generate_unique(tx, definition, CredentialKind::Identifier, |value| {
                        self.is_taken(KeyKind::Identifier, &identifier_key(value))
                    });
                match generated {
                    Ok(value) => Some(value),
                    Err(err) => return verdict_of(err),
                }
            }
            (None, false) => None,
        };
        let mut secrets = Vec::new();
        let mut generated_pass_code = None;
        match checked.pass_code {
            PassCodePlan::None => {}
            PassCodePlan::Typed(typed) => secrets.push(typed),
            PassCodePlan::Generate => {
                let generated = match generate_unique(
                    tx,
                    definition,
                    CredentialKind::PassCode,
                    |_| Ok(false),
                ) {
                    Ok(value) => Secret::new(value),
                    Err(err) => return verdict_of(err),
                };
                secrets.push(generated.clone());
                generated_pass_code = Some(generated);
            }
        }
        let has_pass_code = !secrets.is_empty();
        let verification = if checked.state == TokenState::PendingVerification {
            let code = verification_code(settings).map_err(ImportError::Desk)?;
            secrets.push(code.clone());
            Some(code)
        } else {
            None
        };
        if self.mode == Mode::Apply
            && (generated_pass_code.is_some() || verification.is_some())
            && self.output.credentials.is_none()
        {
            return Err(ImportError::NeedsCredentials);
        }
        // Owners are created last, once nothing can reject the row any more.
        let account_id = match &account {
            Some(Owner::Existing(account)) => Some(account.id),
            Some(Owner::New(account)) => {
                if let Some(filter) = &mut self.existing_accounts {
                    filter.insert(account.number.trim());
                }
                Some(
                    self.statements
                        .insert_account(&account.number, &account.name)?,
                )
            }
            None => None,
        };
        let participant_id = match &participant {
            Some(Owner::Existing(participant)) => Some(participant.id),
            Some(Owner::New(participant)) => {
                let owner_account = account_id.unwrap_or(participant.account_id);
                let signed_up_on = self.at.get(..10).unwrap_or(self.at);
                if let Some(filter) = &mut self.existing_participants {
                    filter.insert(participant.number.trim());
                }
                Some(self.statements.insert_participant(
                    &participant.number,
                    &participant.name,
                    owner_account,
                    signed_up_on,
                )?)
            }
            None => None,
        };
        self.remember(KeyKind::AuthenticationCode, &authentication_code, line);
        if let Some(identifier) = &identifier {
            self.remember(KeyKind::Identifier, &identifier_key(identifier), line);
        }
        let token = PendingToken {
            line,
            authentication_code,
            is_code_generated,
            identifier,
            participant_id,
            account_id,
            state: checked.state,
            generated_pass_code,
            verification_code: verification,
            hashes: None,
            has_pass_code,
        };
        Ok(Verdict::Accepted(Box::new(token), secrets))
    }

    /// Writes the tokens at the head of the window whose hashes are ready, in line order. With
    /// `flush`, or when the window is full, waits for the hashing threads.
    pub(super) fn pump(&mut self, pool: Option<&HashPool>, flush: bool) -> Result<(), ImportError> {
        if let Some(pool) = pool {
            while let Some(done) = pool.try_done() {
                self.take_hashes(done)?;
            }
        }
        loop {
            match self.window.front() {
                None => return Ok(()),
                Some(Entry::Token(token)) if token.hashes.is_none() => {
                    if !flush && self.window.len() < WINDOW_ROWS {
                        return Ok(());
                    }
                    let done = pool.and_then(HashPool::wait_done).ok_or_else(|| {
                        ImportError::Stopped("the hashing threads stopped".to_owned())
                    })?;
                    self.take_hashes(done)?;
                }
                Some(_) => {
                    let Some(entry) = self.window.pop_front() else {
                        return Ok(());
                    };
                    self.head_ticket += 1;
                    let row = match entry {
                        Entry::Done(row) => row,
                        Entry::Token(token) => self.write_token(*token)?,
                    };
                    self.output
                        .report
                        .row(&row)
                        .map_err(|err| ImportError::Output(err.to_string()))?;
                }
            }
        }
    }

    fn take_hashes(&mut self, done: HashDone) -> Result<(), ImportError> {
        let hashes = done.hashes?;
        let index =
            usize::try_from(done.ticket.saturating_sub(self.head_ticket)).unwrap_or(usize::MAX);
        if let Some(Entry::Token(token)) = self.window.get_mut(index) {
            token.hashes = Some(hashes);
        }
        Ok(())
    }

    fn write_token(&mut self, token: PendingToken) -> Result<ReportRow, ImportError> {
        let number = format!("AT{:010}", self.next_number);
        self.next_number += 1;
        let hashes = token.hashes.unwrap_or_default();
        let mut hashes = hashes.iter().map(String::as_str);
        let pass_code_hash = if token.has_pass_code {
            hashes.next()
        } else {
            None
        };
        let verification_code_hash = if token.verification_code.is_some() {
            hashes.next()
        } else {
            None
        };
        let key = token.identifier.as_deref().map(identifier_key);
        self.statements.insert_token(&NewToken {
            number: &number,
            definition_id: self.definition.id,
            authentication_code: &token.authentication_code,
            identifier: token.identifier.as_deref(),
            identifier_key: key.as_deref(),
            pass_code_hash,
            verification_code_hash,
            verification_expires_at: verification_code_hash.map(|_| self.expires_at.as_str()),
            state: token.state,
            participant_id: token.participant_id,
            account_id: token.account_id,
            import_batch_id: Some(self.batch_id),
            at: self.at,
            by: self.clerk,
        })?;
        for owner in [
            token.participant_id.map(|id| (OwnerKind::Participant, id)),
            token.account_id.map(|id| (OwnerKind::Account, id)),
        ]
        .into_iter()
        .flatten()
        {
            // Entries go when they reach zero: the map holds only owners waiting in the window.
            if let Some(count) = self.pending_by_owner.get_mut(&owner) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    self.pending_by_owner.remove(&owner);
                }
            }
        }
        let has_secrets = token.generated_pass_code.is_some() || token.verification_code.is_some();
        let mut message = Vec::new();
        if token.generated_pass_code.is_some() {
            message.push("pass code generated");
        }
        if token.verification_code.is_some() {
            message.push("verification code issued");
        }
        if self.mode == Mode::Apply && has_secrets {
            let credentials = self
                .output
                .credentials
                .as_deref_mut()
                .ok_or(ImportError::NeedsCredentials)?;
            credentials
                .row(&CredentialRow {
                    token_number: &number,
                    authentication_code: &token.authentication_code,
                    identifier: token.identifier.as_deref(),
                    pass_code: token.generated_pass_code.as_ref(),
                    verification_code: token.verification_code.as_ref(),
                })
                .map_err(|err| ImportError::Output(err.to_string()))?;
            self.generated_secrets += 1;
        }
        let message = if message.is_empty() {
            String::new()
        } else if self.mode == Mode::Apply {
            crate::desk::error_sentence(&format!(
                "{}; see the credentials file",
                message.join(" and ")
            ))
        } else {
            crate::desk::error_sentence(
                &message
                    .join(" and ")
                    .replace("generated", "would be generated")
                    .replace("issued", "would be issued"),
            )
        };
        Ok(match self.mode {
            Mode::Apply => ReportRow {
                line: token.line,
                outcome: RowOutcome::Created,
                token_number: number,
                authentication_code: token.authentication_code,
                message,
            },
            Mode::Check => ReportRow {
                line: token.line,
                outcome: RowOutcome::WouldCreate,
                token_number: String::new(),
                authentication_code: if token.is_code_generated {
                    String::new()
                } else {
                    token.authentication_code
                },
                message,
            },
        })
    }

    /// Counts, batch record, one audit event for the batch, and the sinks made durable.
    pub(super) fn finish(self, facts: &source::FileFacts) -> Result<ImportSummary, Flow> {
        let used = self.next_number - self.first_number;
        if used > 0 {
            self.tx.advance_counter("token", used)?;
        }
        let output_error = |err: std::io::Error| Flow::Failed(ImportError::Output(err.to_string()));
        self.output.report.finish().map_err(output_error)?;
        let applied = self.mode == Mode::Apply;
        if applied {
            if let Some(credentials) = self.output.credentials.as_deref_mut() {
                credentials.finish().map_err(output_error)?;
            }
            self.tx.finish_batch(self.batch_id, self.counts, self.at)?;
            self.tx.audit(&NewAuditEvent {
                at: self.at,
                clerk: self.clerk,
                action: "import.batch",
                record_kind: "batch",
                record_number: &self.batch_id.to_string(),
                details: format!(
                    "imported under {}: {} created, {} unchanged, {} rejected ({}; file SHA-256 {})",
                    self.definition.code,
                    self.counts.created,
                    self.counts.unchanged,
                    self.counts.rejected,
                    self.options.mode(),
                    facts.sha256
                ),
                batch_id: Some(self.batch_id),
            })?;
        }
        Ok(ImportSummary {
            batch_id: applied.then_some(self.batch_id),
            applied,
            dry_run: self.options.dry_run,
            created: self.counts.created,
            unchanged: self.counts.unchanged,
            rejected: self.counts.rejected,
            generated_secrets: self.generated_secrets,
            sha256: facts.sha256.clone(),
            delimiter: char::from(facts.delimiter),
        })
    }
}

/// An owner a row names: on file already, or to be created by this import.
enum Owner<T> {
    Existing(T),
    New(T),
}

impl<T> Owner<T> {
    fn record(&self) -> &T {
        match self {
            Self::Existing(record) | Self::New(record) => record,
        }
    }
}

/// Stands for an account the import will create; its id is never looked up.
fn planned_account(number: &str, name: &str) -> AccountRecord {
    AccountRecord {
        id: -1,
        number: number.to_owned(),
        name: name.to_owned(),
        state: AccountState::Active,
        token_count: 0,
        participant_count: 0,
        created_at: String::new(),
        created_by: String::new(),
    }
}

/// Stands for a participant the import will create, of `account` (R30 holds by construction).
fn planned_participant(number: &str, name: &str, account: &AccountRecord) -> ParticipantRecord {
    ParticipantRecord {
        id: -2,
        number: number.to_owned(),
        name: name.to_owned(),
        account_id: account.id,
        account_number: account.number.clone(),
        account_name: account.name.clone(),
        state: ParticipantState::Effective,
        signed_up_on: String::new(),
        token_count: 0,
        created_at: String::new(),
        created_by: String::new(),
    }
}
