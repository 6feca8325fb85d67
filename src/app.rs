//! The eframe shell: draws through `ui`, then applies the clerk's commands through the `desk`.
//! Owns the open desk, the cached rows the panels draw, the background jobs and the notices.

mod imports;
mod reports;

use std::path::{Path, PathBuf};

use crate::desk::jobs::{BackgroundJob, JobStatus};
use crate::desk::views::{TokenIndex, TokenIndexRequest, token_index};
use crate::desk::{Desk, DeskError, OwnerFilter, TokenFilter, TokenSort};
use crate::domain::{OwnerKind, TokenState};
use crate::ui::{
    self, Command, Data, Dialog, Notice, PAGE_ROWS, Place, ShownSecrets, TokenDetail, UiState,
    ViewState,
};

/// Rows an owner list or the audit log shows at once; the search narrows them.
const LIST_ROWS: usize = 500;
/// Token pages kept in memory; the farthest from the last one fetched go first.
const CACHED_PAGES: usize = 40;

type IndexJob = BackgroundJob<Result<TokenIndex, DeskError>>;

/// Which cached rows must be read again before the next frame.
#[derive(Clone, Copy, Debug)]
struct Stale {
    tokens: bool,
    owners: bool,
    definitions: bool,
    audit: bool,
    details: bool,
}

impl Stale {
    const ALL: Self = Self {
        tokens: true,
        owners: true,
        definitions: true,
        audit: true,
        details: true,
    };
    const NONE: Self = Self {
        tokens: false,
        owners: false,
        definitions: false,
        audit: false,
        details: false,
    };
}

/// The whole application, as eframe runs it and as UI tests drive it.
pub struct TokenDeskApp {
    desk: Desk,
    view: ViewState,
    ui_state: UiState,
    data: Data,
    stale: Stale,
    index_job: Option<IndexJob>,
    pick_job: Option<BackgroundJob<Option<PathBuf>>>,
    reports: reports::ReportJobs,
    imports: imports::ImportJobs,
}

impl TokenDeskApp {
    /// An app over an open desk, with saved view preferences.
    pub fn new(desk: Desk, view: ViewState) -> Self {
        let mut app = Self {
            desk,
            view,
            ui_state: UiState::default(),
            data: Data::default(),
            stale: Stale::ALL,
            index_job: None,
            pick_job: None,
            reports: reports::ReportJobs::default(),
            imports: imports::ImportJobs::default(),
        };
        app.view.last_database = Some(app.desk.path().to_owned());
        app
    }

    /// The open desk (tests read the database through it).
    pub fn desk(&self) -> &Desk {
        &self.desk
    }

    /// The open desk for changes made outside the window; every cached list is read again.
    pub fn desk_mut(&mut self) -> &mut Desk {
        self.stale = Stale::ALL;
        &mut self.desk
    }

    /// The view preferences eframe saves.
    pub fn view(&self) -> &ViewState {
        &self.view
    }

    /// The rows the panels draw.
    pub fn data(&self) -> &Data {
        &self.data
    }

    /// Scrolls the Tokens table so that `row` shows, as *Go to first* / *Go to end* do.
    /// For benchmarks that drive the window headlessly.
    pub fn scroll_tokens_to_row(&mut self, row: usize) {
        self.ui_state.scroll_to_row = Some(row);
    }

    /// Whether background work (the token index, a file dialog) is still running.
    pub fn is_busy(&self) -> bool {
        self.index_job.is_some()
            || self.pick_job.is_some()
            || self.stale.tokens
            || self.reports.is_busy()
            || self.imports.is_busy()
    }

    /// Draws one frame and applies what the clerk asked for. Public so UI tests drive it.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        self.poll_jobs();
        self.poll_reports(&ctx);
        self.poll_imports(&ctx);
        self.refresh_stale(&ctx);
        let mut commands = Vec::new();
        let dialog_before = std::mem::discriminant(&self.ui_state.dialog);
        ui::root_ui(
            ui,
            &mut self.view,
            &mut self.ui_state,
            &self.data,
            &mut commands,
        );
        // A dialog just opened starts without the last notice, which was about something else.
        if std::mem::discriminant(&self.ui_state.dialog) != dialog_before
            && !matches!(self.ui_state.dialog, Dialog::None | Dialog::Secrets)
        {
            self.data.notice = None;
        }
        let had_commands = !commands.is_empty();
        for command in commands {
            self.apply(&ctx, command);
        }
        // Generated secrets are shown once: gone as soon as their dialog closes.
        if !matches!(self.ui_state.dialog, Dialog::Secrets) {
            self.data.secrets = None;
        }
        if had_commands {
            self.refresh_stale(&ctx);
            ctx.request_repaint();
        }
    }

    fn notify(&mut self, is_error: bool, text: impl Into<String>) {
        self.data.notice = Some(Notice {
            is_error,
            text: text.into(),
        });
    }

    fn report(&mut self, err: &DeskError) {
        let text = err.sentence();
        log::info!("refused: {text}");
        self.notify(true, text);
    }

    fn token_filter(&self) -> TokenFilter {
        TokenFilter {
            text: self.view.token_search.trim().to_owned(),
            states: self.view.token_state.into_iter().collect(),
            definition_id: self.view.token_definition,
            ..TokenFilter::default()
        }
    }

    fn poll_jobs(&mut self) {
        if let Some(job) = &mut self.index_job {
            match job.poll() {
                JobStatus::Running(_) => {}
                JobStatus::Finished(result) => {
                    self.index_job = None;
                    self.data.tokens.is_indexing = false;
                    match result {
                        Ok(index) => self.data.tokens.index = Some(index),
                        Err(err) => self.report(&err),
                    }
                }
                JobStatus::Crashed => {
                    self.index_job = None;
                    self.data.tokens.is_indexing = false;
                    self.notify(
                        true,
                        "Counting the tokens stopped unexpectedly; change the filter to try again.",
                    );
                }
            }
        }
        if let Some(job) = &mut self.pick_job {
            match job.poll() {
                JobStatus::Running(_) => {}
                JobStatus::Finished(picked) => {
                    self.pick_job = None;
                    self.data.is_picking_file = false;
                    match (picked, &mut self.ui_state.dialog) {
                        (Some(picked), Dialog::Database { path, .. }) => {
                            *path = picked.display().to_string();
                        }
                        (None, Dialog::Database { .. }) => {
                            self.notify(
                                false,
                                "No file was chosen; you can type the path instead.",
                            );
                        }
                        _ => {}
                    }
                }
                JobStatus::Crashed => {
                    self.pick_job = None;
                    self.data.is_picking_file = false;
                    self.notify(
                        true,
                        "The file dialog is not available here; type the path instead.",
                    );
                }
            }
        }
    }

    fn refresh_stale(&mut self, ctx: &egui::Context) {
        let stale = std::mem::replace(&mut self.stale, Stale::NONE);
        self.data.database = self.desk.path().display().to_string();
        self.data.clerk = self.desk.clerk().to_owned();
        if stale.definitions || stale.tokens {
            match self.desk.token_count() {
                Ok(count) => self.data.total_tokens = count,
                Err(err) => self.report(&err),
            }
        }
        if stale.definitions {
            self.refresh_definitions();
        }
        if stale.tokens {
            self.restart_token_list(ctx);
        }
        // Owner tables are read when their place is shown, so a start on Tokens reads none.
        match self.view.place {
            Place::Participants | Place::Accounts if stale.owners => {
                self.refresh_owners(OwnerKind::Participant);
                self.refresh_owners(OwnerKind::Account);
            }
            _ => self.stale.owners |= stale.owners,
        }
        if stale.details {
            self.refresh_details();
        }
        if stale.audit && self.view.place == Place::AuditLog {
            self.refresh_audit(i64::MAX);
        } else {
            self.stale.audit |= stale.audit;
        }
    }

    fn refresh_definitions(&mut self) {
        let result = self.desk.definitions().and_then(|definitions| {
            let usage = definitions
                .iter()
                .map(|definition| Ok((definition.id, self.desk.definition_usage(definition.id)?)))
                .collect::<Result<_, DeskError>>()?;
            Ok((definitions, usage))
        });
        match result {
            Ok((definitions, usage)) => {
                self.data.definitions = definitions;
                self.data.definition_usage = usage;
            }
            Err(err) => self.report(&err),
        }
    }

    /// Starts over: the first page at once, the count and page anchors on a background thread.
    fn restart_token_list(&mut self, ctx: &egui::Context) {
        self.index_job = None;
        self.data.tokens = ui::TokenRows::default();
        let request = TokenIndexRequest {
            filter: self.token_filter(),
            sort: self.view.token_sort,
            direction: self.view.token_direction,
            stride: PAGE_ROWS,
        };
        self.fetch_page(0);
        if !self.desk.has_file() {
            match self.desk.token_index(&request) {
                Ok(index) => self.data.tokens.index = Some(index),
                Err(err) => self.report(&err),
            }
            return;
        }
        let path = self.desk.path().to_owned();
        let wake_ctx = ctx.clone();
        let spawned = BackgroundJob::spawn(
            "token-index",
            move || wake_ctx.request_repaint(),
            move |job| token_index(&path, &request, &|| job.is_cancel_requested()),
        );
        match spawned {
            Ok(job) => {
                self.index_job = Some(job);
                self.data.tokens.is_indexing = true;
            }
            Err(err) => self.notify(
                true,
                format!(
                    "Could not start counting the tokens: {}.",
                    crate::desk::describe_io_error(&err)
                ),
            ),
        }
    }

    fn fetch_page(&mut self, page: usize) {
        let rows = &mut self.data.tokens;
        if rows.pages.contains_key(&page) {
            return;
        }
        let cursor = match (page, &rows.index) {
            (0, _) => None,
            (_, Some(index)) => match index.anchors.get(page) {
                Some(anchor) => anchor.clone(),
                None => return,
            },
            (_, None) => return,
        };
        let filter = self.token_filter();
        match self.desk.list_tokens(
            &filter,
            self.view.token_sort,
            self.view.token_direction,
            cursor.as_ref(),
            PAGE_ROWS,
        ) {
            Ok(tokens) => cache_page(&mut self.data.tokens.pages, page, tokens),
            Err(err) => self.report(&err),
        }
    }

    fn owner_filter(&self, kind: OwnerKind) -> OwnerFilter {
        let text = match kind {
            OwnerKind::Participant => &self.view.participant_search,
            OwnerKind::Account => &self.view.account_search,
        };
        OwnerFilter {
            text: text.trim().to_owned(),
            ..OwnerFilter::default()
        }
    }

    /// Starts an owner table over: its count and page anchors (an id-only pass), then page 0.
    fn refresh_owners(&mut self, kind: OwnerKind) {
        let filter = self.owner_filter(kind);
        let result = self
            .desk
            .count_owners(kind, &filter)
            .and_then(|count| Ok((count, self.desk.owner_anchors(kind, &filter, PAGE_ROWS)?)));
        match result {
            Ok((count, anchors)) => {
                match kind {
                    OwnerKind::Participant => {
                        self.data.participants = ui::OwnerRows {
                            count,
                            anchors,
                            ..Default::default()
                        };
                    }
                    OwnerKind::Account => {
                        self.data.accounts = ui::OwnerRows {
                            count,
                            anchors,
                            ..Default::default()
                        };
                    }
                }
                self.fetch_owner_page(kind, 0);
            }
            Err(err) => self.report(&err),
        }
    }

    fn fetch_owner_page(&mut self, kind: OwnerKind, page: usize) {
        let filter = self.owner_filter(kind);
        match kind {
            OwnerKind::Participant => {
                let rows = &self.data.participants;
                let Some(&after_id) = rows
                    .anchors
                    .get(page)
                    .filter(|_| !rows.pages.contains_key(&page))
                else {
                    return;
                };
                match self.desk.list_participants(&filter, after_id, PAGE_ROWS) {
                    Ok(page_rows) => cache_page(&mut self.data.participants.pages, page, page_rows),
                    Err(err) => self.report(&err),
                }
            }
            OwnerKind::Account => {
                let rows = &self.data.accounts;
                let Some(&after_id) = rows
                    .anchors
                    .get(page)
                    .filter(|_| !rows.pages.contains_key(&page))
                else {
                    return;
                };
                match self.desk.list_accounts(&filter, after_id, PAGE_ROWS) {
                    Ok(page_rows) => cache_page(&mut self.data.accounts.pages, page, page_rows),
                    Err(err) => self.report(&err),
                }
            }
        }
    }

    fn refresh_details(&mut self) {
        if let Some(number) = self
            .data
            .selected_token
            .as_ref()
            .map(|detail| detail.token.number.clone())
        {
            let refusal = self
                .data
                .selected_token
                .as_mut()
                .and_then(|detail| detail.refusal.take());
            self.select_token(&number);
            if let Some(detail) = &mut self.data.selected_token {
                detail.refusal = refusal;
            }
        }
        if let Some(number) = self
            .data
            .selected_participant
            .as_ref()
            .map(|(p, _)| p.number.clone())
        {
            self.select_participant(&number);
        }
        if let Some(number) = self
            .data
            .selected_account
            .as_ref()
            .map(|(a, ..)| a.number.clone())
        {
            self.select_account(&number);
        }
    }

    fn select_token(&mut self, number: &str) {
        let result = self
            .desk
            .token(number)
            .and_then(|token| Ok((self.desk.token_history(&token.number)?, token)));
        match result {
            Ok((history, token)) => {
                let is_same = self
                    .data
                    .selected_token
                    .as_ref()
                    .is_some_and(|d| d.token.number == token.number);
                if !is_same {
                    self.ui_state.reason.clear();
                    self.ui_state.typed_secret.clear();
                }
                self.data.selected_token = Some(TokenDetail {
                    token,
                    history,
                    refusal: None,
                });
            }
            Err(DeskError::NotFound(_)) => self.data.selected_token = None,
            Err(err) => self.report(&err),
        }
    }

    fn select_participant(&mut self, number: &str) {
        let result = self
            .desk
            .participant(number)
            .and_then(|p| Ok((self.desk.tokens_of(OwnerKind::Participant, p.id)?, p)));
        match result {
            Ok((tokens, participant)) => {
                self.data.selected_participant = Some((participant, tokens));
            }
            Err(err) => self.report(&err),
        }
    }

    fn select_account(&mut self, number: &str) {
        let result = self.desk.account(number).and_then(|a| {
            Ok((
                self.desk.tokens_of(OwnerKind::Account, a.id)?,
                self.desk.participants_of_account(a.id)?,
                a,
            ))
        });
        match result {
            Ok((tokens, participants, account)) => {
                self.data.selected_account = Some((account, tokens, participants));
            }
            Err(err) => self.report(&err),
        }
    }

    fn refresh_audit(&mut self, before_id: i64) {
        match self
            .desk
            .audit_events(&self.view.audit_filter, before_id, LIST_ROWS)
        {
            Ok(events) => {
                self.data.audit_has_more = events.len() == LIST_ROWS;
                if before_id == i64::MAX {
                    self.data.audit = events;
                } else {
                    self.data.audit.extend(events);
                }
            }
            Err(err) => self.report(&err),
        }
    }

    /// Applies one command; a write marks every cached list stale.
    fn apply(&mut self, ctx: &egui::Context, command: Command) {
        let is_write = matches!(
            command,
            Command::CreateToken(_)
                | Command::SetTokenState { .. }
                | Command::DeleteToken(_)
                | Command::ResetPassCode { .. }
                | Command::VerifyToken { .. }
                | Command::ReissueVerificationCode(_)
                | Command::UnlockToken { .. }
                | Command::CheckCredentials(_)
                | Command::AddTokenToOwner { .. }
                | Command::RemoveTokenFromOwner { .. }
                | Command::CreateAccount(_)
                | Command::SetAccountState { .. }
                | Command::CreateParticipant { .. }
                | Command::TerminateParticipant(_)
                | Command::CreateDefinition(_)
                | Command::EditDefinition { .. }
                | Command::ActivateDefinition(_)
                | Command::DeleteDefinition(_)
        );
        if self.refused_while_importing(is_write, &command) {
            return;
        }
        if is_write {
            self.stale = Stale::ALL;
        }
        match command {
            Command::Navigate(place) => self.view.place = place,
            Command::TokenListChanged => self.stale.tokens = true,
            Command::FetchTokenPage(page) => self.fetch_page(page),
            Command::FetchOwnerPage(kind, page) => self.fetch_owner_page(kind, page),
            Command::SelectToken(number) => self.select_token(&number),
            Command::CloseTokenDetail => self.data.selected_token = None,
            Command::DismissNotice => {
                self.data.notice = None;
                self.data.check_outcome = None;
            }
            Command::OwnersChanged(kind) => self.refresh_owners(kind),
            Command::SelectParticipant(number) => self.select_participant(&number),
            Command::SelectAccount(number) => self.select_account(&number),
            Command::AuditChanged => self.stale.audit = true,
            Command::LoadOlderAudit => {
                let before = self.data.audit.last().map_or(i64::MAX, |event| event.id);
                self.refresh_audit(before);
            }
            Command::SearchEligibleTokens { kind, text } => {
                let filter = TokenFilter {
                    text: text.trim().to_owned(),
                    states: vec![TokenState::Effective],
                    unlocked_only: true,
                    without_owner: Some(kind),
                    ..TokenFilter::default()
                };
                match self.desk.list_tokens(
                    &filter,
                    TokenSort::Number,
                    crate::desk::SortDirection::Ascending,
                    None,
                    50,
                ) {
                    Ok(tokens) => self.data.eligible_tokens = tokens,
                    Err(err) => self.report(&err),
                }
            }
            Command::PickDatabaseFile { create } => self.pick_database_file(ctx, create),
            Command::OpenDatabase { path, create } => self.open_database(&path, create),
            Command::Reports(command) => self.apply_reports(ctx, command),
            Command::Import(command) => self.apply_import(ctx, command),
            command => self.apply_write(command),
        }
    }

    fn apply_write(&mut self, command: Command) {
        let outcome: Result<String, DeskError> = match command {
            Command::CreateToken(draft) => self.desk.create_token(&draft).map(|created| {
                let token = &created.token;
                let mut lines = vec![
                    ("Token number".to_owned(), token.number.clone()),
                    ("Authentication code".to_owned(), token.authentication_code.clone()),
                ];
                if let Some(identifier) = &token.identifier {
                    lines.push(("Identifier".to_owned(), identifier.clone()));
                }
                if let Some(pass_code) = &created.pass_code {
                    lines.push(("Pass code".to_owned(), pass_code.expose().to_owned()));
                }
                if let Some(code) = &created.verification_code {
                    lines.push(("Verification code".to_owned(), code.expose().to_owned()));
                }
                self.data.secrets = Some(ShownSecrets { title: format!("Token {} created", token.number), lines });
                self.ui_state.dialog = Dialog::Secrets;
                format!("Token {} created ({}).", token.number, token.state.label())
            }),
            Command::SetTokenState { number, target, reason } => match self.desk.set_token_state(&number, target, &reason) {
                Ok(token) => {
                    self.ui_state.reason.clear();
                    Ok(format!("Token {} is now {}.", token.number, token.state.label()))
                }
                Err(err @ DeskError::Lifecycle(_)) => {
                    // The detail pane shows the refusal next to its way out; no second copy on top.
                    if let Some(detail) = self.data.selected_token.as_mut().filter(|d| d.token.number == number) {
                        detail.refusal = Some(err.sentence());
                        self.data.notice = None;
                        return;
                    }
                    Err(err)
                }
                Err(err) => Err(err),
            },
            Command::DeleteToken(number) => self.desk.delete_token(&number).map(|()| {
                self.data.selected_token = None;
                format!("Token {number} deleted.")
            }),
            Command::ResetPassCode { number, typed } => self.desk.reset_pass_code(&number, typed).map(|generated| {
                self.ui_state.typed_secret.clear();
                if let Some(secret) = generated {
                    self.data.secrets = Some(ShownSecrets {
                        title: format!("New pass code for {number}"),
                        lines: vec![("Pass code".to_owned(), secret.expose().to_owned())],
                    });
                    self.ui_state.dialog = Dialog::Secrets;
                }
                format!("The pass code of token {number} was reset.")
            }),
            Command::VerifyToken { number, code } => {
                self.ui_state.typed_secret.clear();
                self.desk.verify_token(&number, &code).map(|token| format!("Token {} verified; it is now Effective.", token.number))
            }
            Command::ReissueVerificationCode(number) => self.desk.reissue_verification_code(&number).map(|code| {
                self.data.secrets = Some(ShownSecrets {
                    title: format!("New verification code for {number}"),
                    lines: vec![("Verification code".to_owned(), code.expose().to_owned())],
                });
                self.ui_state.dialog = Dialog::Secrets;
                format!("A new verification code was issued for token {number}; the old one no longer works.")
            }),
            Command::UnlockToken { number, reason } => self.desk.unlock_token(&number, &reason).map(|token| {
                self.ui_state.reason.clear();
                format!("Token {} unlocked.", token.number)
            }),
            Command::CheckCredentials(credentials) => {
                let outcome = match self.desk.authenticate(&credentials) {
                    Ok(token) => {
                        let owners = [token.participant_name.as_deref(), token.account_name.as_deref()]
                            .into_iter()
                            .flatten()
                            .collect::<Vec<_>>()
                            .join(", ");
                        let owners = if owners.is_empty() { "no owner".to_owned() } else { owners };
                        Notice { is_error: false, text: format!("Authenticated: token {} ({owners}).", token.number) }
                    }
                    Err(err) => Notice { is_error: true, text: format!("Not authenticated: {}", err.sentence()) },
                };
                self.data.check_outcome = Some(outcome);
                return;
            }
            Command::AddTokenToOwner { kind, owner, token } => self.desk.add_token_to_owner(kind, &owner, &token).map(|token| {
                self.ui_state.dialog = Dialog::None;
                format!("Token {} added to {} {owner}.", token.number, kind.label())
            }),
            Command::RemoveTokenFromOwner { kind, owner, token } => self.desk.remove_token_from_owner(kind, &owner, &token).map(|token| {
                if let Some(detail) = &mut self.data.selected_token {
                    detail.refusal = None;
                }
                format!("Token {} removed from {} {owner}; it is {}.", token.number, kind.label(), token.state.label())
            }),
            Command::CreateAccount(name) => self.desk.create_account(&name).map(|account| {
                self.ui_state.dialog = Dialog::None;
                self.data.selected_account = None;
                self.select_account(&account.number);
                format!("Account {} created.", account.number)
            }),
            Command::SetAccountState { number, target } => {
                self.desk.set_account_state(&number, target).map(|account| format!("Account {} is now {}.", account.number, account.state.label()))
            }
            Command::CreateParticipant { name, account } => self.desk.create_participant(&name, &account).map(|participant| {
                self.ui_state.dialog = Dialog::None;
                self.view.place = Place::Participants;
                self.select_participant(&participant.number);
                format!("Participant {} created.", participant.number)
            }),
            Command::TerminateParticipant(number) => {
                self.desk.terminate_participant(&number).map(|p| format!("Participant {} terminated; its tokens are unchanged.", p.number))
            }
            Command::CreateDefinition(draft) => self.desk.create_definition(&draft).map(|definition| {
                self.ui_state.definition_editor.close();
                format!("Definition {} created; it is Not Effective until you activate it.", definition.code)
            }),
            Command::EditDefinition { code, draft } => self.desk.edit_definition(&code, &draft).map(|definition| {
                self.ui_state.definition_editor.close();
                format!("Definition {} saved.", definition.code)
            }),
            Command::ActivateDefinition(code) => {
                self.desk.activate_definition(&code).map(|d| format!("Definition {} is now Effective; new tokens follow it.", d.code))
            }
            Command::DeleteDefinition(code) => self.desk.delete_definition(&code).map(|()| format!("Definition {code} deleted.")),
            _ => return,
        };
        match outcome {
            Ok(text) => self.notify(false, text),
            Err(err) => self.report(&err),
        }
    }

    fn pick_database_file(&mut self, ctx: &egui::Context, create: bool) {
        if self.pick_job.is_some() {
            return;
        }
        let wake_ctx = ctx.clone();
        let start = self.desk.path().parent().map(Path::to_owned);
        let spawned = BackgroundJob::spawn(
            "file-dialog",
            move || wake_ctx.request_repaint(),
            move |_| {
                let mut dialog = rfd::FileDialog::new()
                    .add_filter("Token Desk database", &["sqlite3", "sqlite", "db"]);
                if let Some(start) = start {
                    dialog = dialog.set_directory(start);
                }
                if create {
                    dialog.set_file_name("tokendesk.sqlite3").save_file()
                } else {
                    dialog.pick_file()
                }
            },
        );
        match spawned {
            Ok(job) => {
                self.pick_job = Some(job);
                self.data.is_picking_file = true;
            }
            Err(_) => self.notify(
                true,
                "The file dialog is not available here; type the path instead.",
            ),
        }
    }

    fn open_database(&mut self, path: &Path, create: bool) {
        if create && path.exists() {
            self.notify(
                true,
                format!(
                    "{} already exists; choose Open database to use it.",
                    path.display()
                ),
            );
            return;
        }
        if !create && !path.is_file() {
            self.notify(
                true,
                format!("There is no database file at {}.", path.display()),
            );
            return;
        }
        let clerk = self.desk.clerk().to_owned();
        match Desk::open(path, &clerk) {
            Ok(desk) => {
                self.desk = desk;
                self.index_job = None;
                self.reports = reports::ReportJobs::default();
                self.data = Data::default();
                self.ui_state = UiState::default();
                self.view.token_definition = None;
                self.view.last_database = Some(path.to_owned());
                self.stale = Stale::ALL;
                let verb = if create { "Created" } else { "Opened" };
                self.notify(false, format!("{verb} {}.", path.display()));
            }
            Err(err) => self.report(&err),
        }
    }
}

/// Keeps `rows` as page `page`, dropping the page farthest from it when the cache is full.
fn cache_page<R>(pages: &mut std::collections::HashMap<usize, Vec<R>>, page: usize, rows: Vec<R>) {
    if pages.len() >= CACHED_PAGES
        && let Some(farthest) = pages
            .keys()
            .copied()
            .max_by_key(|cached| cached.abs_diff(page))
    {
        pages.remove(&farthest);
    }
    pages.insert(page, rows);
}

impl eframe::App for TokenDeskApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.show(ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        // View preferences only; clerk data lives in the database.
        eframe::set_value(storage, eframe::APP_KEY, &self.view);
    }
}

/// Opens the window over the database at `db_path` for `clerk`. When `db_path` is the default
/// location and the window remembers another database, that one is opened instead.
pub fn run_window(db_path: PathBuf, clerk: String) -> Result<(), String> {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_inner_size([1280.0, 800.0])
            .with_min_inner_size([900.0, 560.0])
            .with_title("Token Desk"),
        ..Default::default()
    };
    // Fail before any window appears when the database cannot be opened.
    let first = Desk::open(&db_path, &clerk).map_err(|err| err.sentence())?;
    let is_default_path = db_path == crate::desk::default_database_path();
    eframe::run_native(
        "tokendesk",
        options,
        Box::new(move |cc| {
            cc.egui_ctx.set_theme(egui::ThemePreference::System);
            let view: ViewState = cc
                .storage
                .and_then(|storage| eframe::get_value(storage, eframe::APP_KEY))
                .unwrap_or_default();
            let remembered = view
                .last_database
                .clone()
                .filter(|last| is_default_path && last != &db_path && last.is_file());
            let desk = remembered
                .and_then(|last| Desk::open(&last, &clerk).ok())
                .unwrap_or(first);
            Ok(Box::new(TokenDeskApp::new(desk, view)))
        }),
    )
    .map_err(|err| format!("The window could not be opened: {err}."))
}
