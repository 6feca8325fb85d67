//! The summary report and the worklists of the Reports panel (SPEC §8, R7).
//!
//! The summary is a plain struct for the panel's charts and a CSV for the clerk. Worklists are
//! token filters where a filter can say it; the two that cannot (participants without an
//! Effective token, tokens not valid under the Effective definition) have their own listings.
//!
//! How the Reports panel uses this: [`spawn_summary`] for the charts; for each of
//! [`Worklist::ALL`], [`Desk::worklist_count`] and pages from [`Desk::worklist_page`] (or
//! [`spawn_worklist_page`]; participants come from [`Desk::participants_without_effective_token`]);
//! exports through [`super::export::spawn_export`]; bulk actions on the listed tokens through
//! [`Desk::preview_bulk`] then [`Desk::apply_bulk`] with their numbers, one per line.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::bulk::BulkAction;
use super::export::{
    ExportOptions, ExportProgress, ExportRun, ExportSummary, HashingWriter, bom_note,
    csv_write_error, flush_csv, write_guarded_row,
};
use super::jobs::BackgroundJob;
use super::{Desk, DeskError, timestamp};
use crate::domain::rules::luhn_is_valid;
use crate::domain::{
    CheckDigit, CredentialKind, CredentialRule, DefinitionRecord, DefinitionSettings,
    GenerationMethod, OwnerKind, ParticipantRecord, TokenRecord, TokenState,
};
use crate::storage::{
    DefinitionStateCount, OwnerCoverage, SortDirection, TokenCursor, TokenFilter, TokenSort,
};

/// The summary of SPEC §8, as the Reports panel charts it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SummaryReport {
    /// When it was computed (RFC 3339, UTC).
    pub generated_at: String,
    pub total_tokens: u64,
    /// Tokens by definition × state; combinations without tokens are left out.
    pub by_definition_and_state: Vec<DefinitionStateCount>,
    /// Participants that are not Terminated, with and without an Effective token.
    pub participants: OwnerCoverage,
    /// Accounts that are not Terminated, with and without an Effective token.
    pub accounts: OwnerCoverage,
    /// Tokens created per calendar month (UTC), oldest first.
    pub created_per_month: Vec<MonthCount>,
    pub pending_verification: u64,
    pub locked: u64,
}

/// Tokens created in one calendar month.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MonthCount {
    /// `YYYY-MM`.
    pub month: String,
    pub count: u64,
}

/// The header of the summary CSV: one line per number of the report.
pub const SUMMARY_COLUMNS: [&str; 4] = ["section", "label", "state", "count"];

impl SummaryReport {
    /// The report as CSV rows of [`SUMMARY_COLUMNS`], in the order of the struct's fields.
    pub fn csv_rows(&self) -> Vec<[String; 4]> {
        let row = |section: &str, label: &str, state: &str, count: u64| {
            [
                section.to_owned(),
                label.to_owned(),
                state.to_owned(),
                count.to_string(),
            ]
        };
        let mut rows = vec![row("total_tokens", "", "", self.total_tokens)];
        for cell in &self.by_definition_and_state {
            rows.push(row(
                "tokens_by_definition_and_state",
                &cell.definition_code,
                cell.state.as_str(),
                cell.count,
            ));
        }
        for (section, coverage) in [
            ("participants", &self.participants),
            ("accounts", &self.accounts),
        ] {
            rows.push(row(
                section,
                "with_effective_token",
                "",
                coverage.with_effective_token,
            ));
            rows.push(row(
                section,
                "without_effective_token",
                "",
                coverage.without_effective_token,
            ));
        }
        for month in &self.created_per_month {
            rows.push(row(
                "tokens_created_per_month",
                &month.month,
                "",
                month.count,
            ));
        }
        rows.push(row(
            "pending_verification",
            "",
            TokenState::PendingVerification.as_str(),
            self.pending_verification,
        ));
        rows.push(row("locked", "", "", self.locked));
        rows
    }

    /// Writes the report as CSV (guarded like every export, R61; with a BOM for Excel if asked)
    /// and returns its size and SHA-256.
    pub fn write_csv(
        &self,
        options: ExportOptions,
        out: &mut dyn Write,
    ) -> Result<(u64, String), DeskError> {
        let mut sink = HashingWriter::new(out);
        {
            sink.start(options)?;
            let mut writer = csv::WriterBuilder::new().from_writer(&mut sink);
            writer
                .write_record(SUMMARY_COLUMNS)
                .map_err(csv_write_error)?;
            for row in self.csv_rows() {
                write_guarded_row(&mut writer, &row)?;
            }
            flush_csv(&mut writer)?;
        }
        Ok(sink.finish())
    }
}

/// The worklists of the Reports panel (SPEC §8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Worklist {
    /// Pending Verification tokens, with the age of their code.
    PendingVerification,
    /// Tokens linked to no owner.
    Unassigned,
    /// Participants (not Terminated) holding no Effective token. Lists participants, not tokens.
    ParticipantsWithoutEffectiveToken,
    Locked,
    NeverUsed,
    /// Tokens that exist for at least this many days and were not used in them.
    NotUsedForDays(u32),
    /// Tokens whose typed credentials no longer satisfy the Effective definition (R7).
    NotValidUnderEffectiveDefinition,
}

impl Worklist {
    /// The worklists in the order the panel shows them (30 days for "not used").
    pub const ALL: [Self; 7] = [
        Self::PendingVerification,
        Self::Unassigned,
        Self::ParticipantsWithoutEffectiveToken,
        Self::Locked,
        Self::NeverUsed,
        Self::NotUsedForDays(30),
        Self::NotValidUnderEffectiveDefinition,
    ];

    /// The title a clerk reads.
    pub fn title(self) -> String {
        match self {
            Self::PendingVerification => "Pending verification".to_owned(),
            Self::Unassigned => "Unassigned tokens".to_owned(),
            Self::ParticipantsWithoutEffectiveToken => {
                "Participants without an Effective token".to_owned()
            }
            Self::Locked => "Locked tokens".to_owned(),
            Self::NeverUsed => "Never used".to_owned(),
            Self::NotUsedForDays(days) => format!("Not used for {days} days"),
            Self::NotValidUnderEffectiveDefinition => {
                "Not valid under the Effective definition".to_owned()
            }
        }
    }

    /// A remark the panel shows under the title, if any.
    pub fn note(self) -> Option<&'static str> {
        match self {
            Self::NotValidUnderEffectiveDefinition => Some(
                "Identifiers and authentication codes are re-checked against the Effective \
                 definition's rules. Pass codes are stored only as hashes, so they cannot be \
                 re-checked.",
            ),
            Self::NotUsedForDays(_) => {
                Some("Tokens created within the period are not listed: they had no chance yet.")
            }
            _ => None,
        }
    }

    /// The bulk actions the panel offers on this worklist's tokens.
    pub fn bulk_actions(self) -> &'static [BulkAction] {
        const DEACTIVATE: BulkAction = BulkAction::SetState(TokenState::NotEffective);
        const UNLINK_PARTICIPANT: BulkAction = BulkAction::RemoveFromOwner(OwnerKind::Participant);
        const UNLINK_ACCOUNT: BulkAction = BulkAction::RemoveFromOwner(OwnerKind::Account);
        match self {
            Self::Locked => &[BulkAction::Unlock, DEACTIVATE],
            Self::Unassigned | Self::NotValidUnderEffectiveDefinition => &[DEACTIVATE],
            Self::NeverUsed | Self::NotUsedForDays(_) => {
                &[DEACTIVATE, UNLINK_PARTICIPANT, UNLINK_ACCOUNT]
            }
            // Pending tokens need a verification code, participants need a token: no bulk fix.
            Self::PendingVerification | Self::ParticipantsWithoutEffectiveToken => &[],
        }
    }

    /// Whether the list holds tokens (and so can be exported and acted on in bulk).
    pub fn lists_tokens(self) -> bool {
        self != Self::ParticipantsWithoutEffectiveToken
    }

    /// The token filter that shows this worklist, where a filter can say it.
    pub fn token_filter(self, now: DateTime<Utc>) -> Option<TokenFilter> {
        let filter = match self {
            Self::PendingVerification => TokenFilter {
                states: vec![TokenState::PendingVerification],
                ..TokenFilter::default()
            },
            Self::Unassigned => TokenFilter {
                unassigned_only: true,
                ..TokenFilter::default()
            },
            Self::Locked => TokenFilter {
                locked_only: true,
                ..TokenFilter::default()
            },
            Self::NeverUsed => TokenFilter {
                never_used_only: true,
                ..TokenFilter::default()
            },
            Self::NotUsedForDays(days) => {
                let since = timestamp(now - Duration::days(i64::from(days)));
                TokenFilter {
                    not_used_since: Some(since.clone()),
                    created_before: Some(since),
                    ..TokenFilter::default()
                }
            }
            Self::ParticipantsWithoutEffectiveToken | Self::NotValidUnderEffectiveDefinition => {
                return None;
            }
        };
        Some(filter)
    }
}

/// One token of a worklist, with what that worklist adds to it.
#[derive(Clone, Debug, PartialEq)]
pub struct WorklistItem {
    pub token: TokenRecord,
    /// Pending verification: when the current code was issued (RFC 3339).
    pub code_issued_at: Option<String>,
    /// Pending verification: whole hours since the code was issued.
    pub code_age_hours: Option<i64>,
    /// Pending verification: the code has expired; reissue one.
    pub is_code_expired: bool,
    /// Not valid under the Effective definition: each problem as a sentence fragment.
    pub problems: Vec<String>,
}

/// A page of a worklist; `next` continues it (`None` at the end).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WorklistPage {
    pub items: Vec<WorklistItem>,
    pub next: Option<TokenCursor>,
}

/// The columns of the export of participants without an Effective token.
pub const PARTICIPANT_WORKLIST_COLUMNS: [&str; 7] = [
    "participant_number",
    "participant_name",
    "account_number",
    "account_name",
    "state",
    "signed_up_on",
    "token_count",
];

impl WorklistPage {
    /// The page's token numbers, one per line: the input [`Desk::preview_bulk`] takes.
    pub fn bulk_input(&self) -> String {
        self.items
            .iter()
            .map(|item| item.token.number.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Rows read per step while looking for tokens that fail the Effective definition.
const SCAN_PAGE_ROWS: usize = 2_000;

/// What is wrong with a token's typed credentials under `settings` (R7), or nothing.
///
/// Identifier and authentication code are checked with the same rules as on creation; a
/// credential the definition generates is checked for the shape generation gives (prefix,
/// length, alphabet, check digit). Pass codes are hashed and cannot be checked.
pub fn credential_problems(settings: &DefinitionSettings, token: &TokenRecord) -> Vec<String> {
    let mut problems = Vec::new();
    match &token.identifier {
        Some(identifier) => {
            if let Some(problem) =
                credential_problem(&settings.identifier, CredentialKind::Identifier, identifier)
            {
                problems.push(problem);
            }
        }
        None if !settings.allow_without_identifier_and_pass_code => problems.push(
            "identifier and pass code are missing, and the definition requires them (R3)"
                .to_owned(),
        ),
        None => {}
    }
    if let Some(problem) = credential_problem(
        &settings.authentication_code,
        CredentialKind::AuthenticationCode,
        &token.authentication_code,
    ) {
        problems.push(problem);
    }
    problems
}

fn credential_problem(rule: &CredentialRule, kind: CredentialKind, value: &str) -> Option<String> {
    if !rule.is_generated() {
        return rule
            .validate_typed(kind, value)
            .err()
            .map(|err| err.to_string());
    }
    let label = kind.label();
    let Some(rest) = value.strip_prefix(rule.prefix.as_str()) else {
        return Some(format!(
            "{label} does not start with the prefix {} the definition generates",
            rule.prefix
        ));
    };
    let expected = rule.generated_length() as usize;
    let found = value.chars().count();
    if found != expected {
        return Some(format!(
            "{label} is {found} characters long; the definition generates {expected}"
        ));
    }
    let body: Vec<char> = rest.chars().collect();
    let body = match rule.check_digit {
        CheckDigit::Luhn => &body[..body.len().saturating_sub(1)],
        CheckDigit::None => &body[..],
    };
    let alphabet = match rule.method {
        GenerationMethod::Random => rule.alphabet.characters(),
        GenerationMethod::Sequence | GenerationMethod::None => ('0'..='9').collect(),
    };
    if body.iter().any(|ch| !alphabet.contains(ch)) {
        return Some(format!(
            "{label} has characters the definition does not generate ({})",
            rule.alphabet.label()
        ));
    }
    if rule.check_digit == CheckDigit::Luhn && !luhn_is_valid(value) {
        return Some(format!("{label} has a wrong check digit"));
    }
    None
}

/// When a pending code was issued: its expiry minus the validity of the token's definition.
fn code_issued_at(
    token: &TokenRecord,
    definition: Option<&DefinitionRecord>,
) -> Option<DateTime<Utc>> {
    let expires = DateTime::parse_from_rfc3339(token.verification_expires_at.as_deref()?).ok()?;
    let valid_hours = i64::from(definition?.settings.verification.valid_hours);
    Some(expires.with_timezone(&Utc) - Duration::hours(valid_hours))
}

impl Desk {
    /// Computes the summary report (SPEC §8).
    pub fn summary_report(&self) -> Result<SummaryReport, DeskError> {
        let db = self.store.db();
        let pending = TokenFilter {
            states: vec![TokenState::PendingVerification],
            ..TokenFilter::default()
        };
        Ok(SummaryReport {
            generated_at: self.now_text(),
            total_tokens: db.count_all_tokens()?,
            by_definition_and_state: db.token_counts_by_definition_and_state()?,
            participants: db.participant_coverage()?,
            accounts: db.account_coverage()?,
            created_per_month: db
                .tokens_created_per_month()?
                .into_iter()
                .map(|(month, count)| MonthCount { month, count })
                .collect(),
            pending_verification: db.count_tokens(&pending)?,
            locked: db.count_locked_tokens()?,
        })
    }

    /// Computes the summary report, writes it as CSV to `out` and audits it with its SHA-256.
    pub fn export_summary_report(
        &mut self,
        options: ExportOptions,
        out: &mut dyn Write,
    ) -> Result<SummaryReport, DeskError> {
        let report = self.summary_report()?;
        let (_, sha256) = report.write_csv(options, out)?;
        let details = format!(
            "summary report of {} tokens; sha256 {sha256}{}",
            report.total_tokens,
            bom_note(options)
        );
        self.change(|tx, audit| Ok(audit.record(tx, "export.summary", "export", "", details)?))?;
        Ok(report)
    }

    /// How many entries a worklist has; `None` where only a full scan could tell (R7 list).
    pub fn worklist_count(&self, worklist: Worklist) -> Result<Option<u64>, DeskError> {
        if worklist == Worklist::ParticipantsWithoutEffectiveToken {
            let coverage = self.store.db().participant_coverage()?;
            return Ok(Some(coverage.without_effective_token));
        }
        match worklist.token_filter(self.now()) {
            Some(filter) => Ok(Some(self.count_tokens(&filter)?)),
            None => Ok(None),
        }
    }

    /// A page of a token worklist, in token-number order, after `after`.
    ///
    /// The R7 list reads tokens until it has found `limit` invalid ones or reached the end; on
    /// a large database call it from a background thread.
    pub fn worklist_page(
        &self,
        worklist: Worklist,
        after: Option<&TokenCursor>,
        limit: usize,
    ) -> Result<WorklistPage, DeskError> {
        if worklist == Worklist::NotValidUnderEffectiveDefinition {
            return self.invalid_tokens_page(after, limit);
        }
        let Some(filter) = worklist.token_filter(self.now()) else {
            return Err(DeskError::refused(format!(
                "the worklist \"{}\" lists participants, not tokens",
                worklist.title()
            )));
        };
        let tokens = self.list_tokens(
            &filter,
            TokenSort::Number,
            SortDirection::Ascending,
            after,
            limit,
        )?;
        let next = (tokens.len() == limit)
            .then(|| {
                tokens
                    .last()
                    .map(|t| TokenCursor::after(t, TokenSort::Number))
            })
            .flatten();
        let definitions: HashMap<i64, DefinitionRecord> =
            if worklist == Worklist::PendingVerification {
                self.definitions()?.into_iter().map(|d| (d.id, d)).collect()
            } else {
                HashMap::new()
            };
        let now = self.now();
        let items = tokens
            .into_iter()
            .map(|token| {
                let issued = code_issued_at(&token, definitions.get(&token.definition_id));
                let is_code_expired = token
                    .verification_expires_at
                    .as_deref()
                    .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
                    .is_some_and(|expires| expires.with_timezone(&Utc) <= now);
                WorklistItem {
                    code_issued_at: issued.map(timestamp),
                    code_age_hours: issued.map(|at| (now - at).num_hours()),
                    is_code_expired,
                    problems: Vec::new(),
                    token,
                }
            })
            .collect();
        Ok(WorklistPage { items, next })
    }

    fn invalid_tokens_page(
        &self,
        after: Option<&TokenCursor>,
        limit: usize,
    ) -> Result<WorklistPage, DeskError> {
        let settings = self.effective_definition()?.settings;
        let mut cursor = after.cloned();
        let mut items = Vec::new();
        loop {
            let page = self.list_tokens(
                &TokenFilter::default(),
                TokenSort::Number,
                SortDirection::Ascending,
                cursor.as_ref(),
                SCAN_PAGE_ROWS,
            )?;
            let is_last_page = page.len() < SCAN_PAGE_ROWS;
            for token in page {
                cursor = Some(TokenCursor::after(&token, TokenSort::Number));
                let problems = credential_problems(&settings, &token);
                if !problems.is_empty() {
                    items.push(WorklistItem {
                        token,
                        code_issued_at: None,
                        code_age_hours: None,
                        is_code_expired: false,
                        problems,
                    });
                    if items.len() == limit {
                        return Ok(WorklistPage {
                            items,
                            next: cursor,
                        });
                    }
                }
            }
            if is_last_page {
                return Ok(WorklistPage { items, next: None });
            }
        }
    }

    /// A page of participants (not Terminated) that hold no Effective token, after `after_id`.
    pub fn participants_without_effective_token(
        &self,
        after_id: i64,
        limit: usize,
    ) -> Result<Vec<ParticipantRecord>, DeskError> {
        Ok(self
            .store
            .db()
            .participants_without_effective_token(after_id, limit)?)
    }

    /// Exports a token worklist with the columns of the token export, audited like it (R62).
    pub fn export_worklist(
        &mut self,
        worklist: Worklist,
        options: ExportOptions,
        out: &mut dyn Write,
        progress: &mut dyn FnMut(ExportProgress),
        should_stop: &dyn Fn() -> bool,
    ) -> Result<ExportSummary, DeskError> {
        let description = format!("tokens (worklist: {})", worklist.title());
        if worklist == Worklist::NotValidUnderEffectiveDefinition {
            let settings = self.effective_definition()?.settings;
            let keep = move |token: &TokenRecord| !credential_problems(&settings, token).is_empty();
            let filter = TokenFilter::default();
            let run = ExportRun {
                filter: &filter,
                keep: Some(&keep),
                progress,
                should_stop,
            };
            return self.export_run(&description, run, options, out);
        }
        let Some(filter) = worklist.token_filter(self.now()) else {
            return Err(DeskError::refused(format!(
                "the worklist \"{}\" lists participants, not tokens",
                worklist.title()
            )));
        };
        let run = ExportRun {
            filter: &filter,
            keep: None,
            progress,
            should_stop,
        };
        self.export_run(&description, run, options, out)
    }

    /// Exports the participants without an Effective token as CSV
    /// ([`PARTICIPANT_WORKLIST_COLUMNS`]), guarded and audited like the token export (R61, R62).
    pub fn export_participants_without_effective_token(
        &mut self,
        options: ExportOptions,
        out: &mut dyn Write,
        progress: &mut dyn FnMut(ExportProgress),
        should_stop: &dyn Fn() -> bool,
    ) -> Result<ExportSummary, DeskError> {
        let total_rows = self
            .store
            .db()
            .participant_coverage()?
            .without_effective_token;
        let mut sink = HashingWriter::new(out);
        let mut rows = 0u64;
        let mut was_cancelled = false;
        let written = (|| -> Result<(), DeskError> {
            sink.start(options)?;
            let mut writer = csv::WriterBuilder::new().from_writer(&mut sink);
            writer
                .write_record(PARTICIPANT_WORKLIST_COLUMNS)
                .map_err(csv_write_error)?;
            let mut after_id = 0;
            loop {
                if should_stop() {
                    was_cancelled = true;
                    break;
                }
                let page = self
                    .store
                    .db()
                    .participants_without_effective_token(after_id, SCAN_PAGE_ROWS)?;
                let Some(last) = page.last() else {
                    break;
                };
                after_id = last.id;
                for participant in &page {
                    let cells = [
                        participant.number.clone(),
                        participant.name.clone(),
                        participant.account_number.clone(),
                        participant.account_name.clone(),
                        participant.state.as_str().to_owned(),
                        participant.signed_up_on.clone(),
                        participant.token_count.to_string(),
                    ];
                    write_guarded_row(&mut writer, &cells)?;
                    rows += 1;
                }
                progress(ExportProgress {
                    rows_written: rows,
                    rows_scanned: rows,
                    total_rows,
                });
                if page.len() < SCAN_PAGE_ROWS {
                    break;
                }
            }
            flush_csv(&mut writer)
        })();
        let (bytes, sha256) = sink.finish();
        let outcome = super::export::outcome_word(&written, was_cancelled);
        let details = format!(
            "export of participants (worklist: {}) {outcome}; {rows} rows; sha256 {sha256}{}",
            Worklist::ParticipantsWithoutEffectiveToken.title(),
            bom_note(options)
        );
        self.change(|tx, audit| {
            Ok(audit.record(tx, "export.participants", "export", "", details)?)
        })?;
        written?;
        Ok(ExportSummary {
            rows,
            bytes,
            sha256,
            was_cancelled,
        })
    }
}

/// Computes the summary report on a background thread named `summary`, over its own connection
/// to `database` (a million tokens take a few seconds of counting).
pub fn spawn_summary(
    database: PathBuf,
    clerk: String,
    clock: super::Clock,
    wake: impl Fn() + Send + 'static,
) -> std::io::Result<BackgroundJob<Result<SummaryReport, DeskError>>> {
    BackgroundJob::spawn("summary", wake, move |_| {
        let mut desk = Desk::open(&database, &clerk)?;
        desk.set_clock(clock);
        desk.summary_report()
    })
}

/// Reads one page of a worklist on a background thread named `worklist`, over its own
/// connection to `database`; the R7 list may read the whole table to fill a page.
pub fn spawn_worklist_page(
    database: PathBuf,
    clerk: String,
    worklist: Worklist,
    after: Option<TokenCursor>,
    limit: usize,
    clock: super::Clock,
    wake: impl Fn() + Send + 'static,
) -> std::io::Result<BackgroundJob<Result<WorklistPage, DeskError>>> {
    BackgroundJob::spawn("worklist", wake, move |_| {
        let mut desk = Desk::open(&database, &clerk)?;
        desk.set_clock(clock);
        desk.worklist_page(worklist, after.as_ref(), limit)
    })
}
