//! Everything drawn. Reads the data the app cached, pushes [`Command`]s; never holds a store
//! and never calls the database: the app applies the commands after drawing.

mod audit;
mod definitions;
pub mod imports;
mod owners;
pub mod reports;
mod tokens;

use std::collections::HashMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::desk::views::{AuditFilter, TokenIndex};
use crate::desk::{Credentials, DefinitionDraft, SortDirection, TokenDraft, TokenSort};
use crate::domain::{
    AccountRecord, AccountState, AuditEvent, DefinitionRecord, OwnerKind, ParticipantRecord,
    Secret, TokenRecord, TokenState,
};

pub use tokens::PAGE_ROWS;

/// The places of the left navigation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Place {
    #[default]
    Tokens,
    Participants,
    Accounts,
    Definitions,
    Imports,
    Reports,
    AuditLog,
}

impl Place {
    /// The places in navigation order.
    pub const ALL: [Self; 7] = [
        Self::Tokens,
        Self::Participants,
        Self::Accounts,
        Self::Definitions,
        Self::Imports,
        Self::Reports,
        Self::AuditLog,
    ];

    /// The name in the navigation.
    pub fn label(self) -> &'static str {
        match self {
            Self::Tokens => "Tokens",
            Self::Participants => "Participants",
            Self::Accounts => "Accounts",
            Self::Definitions => "Definitions",
            Self::Imports => "Imports",
            Self::Reports => "Reports",
            Self::AuditLog => "Audit log",
        }
    }
}

/// What eframe saves between runs: view preferences only, never clerk data.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ViewState {
    pub place: Place,
    /// Free text is not saved: it may hold a customer's identifier or code.
    #[serde(skip)]
    pub token_search: String,
    pub token_state: Option<TokenState>,
    pub token_definition: Option<i64>,
    pub token_sort: TokenSort,
    pub token_direction: SortDirection,
    #[serde(skip)]
    pub participant_search: String,
    #[serde(skip)]
    pub account_search: String,
    #[serde(skip)]
    pub audit_filter: AuditFilter,
    pub last_database: Option<PathBuf>,
}

/// A message for the clerk: one sentence, good or bad news.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    pub is_error: bool,
    pub text: String,
}

/// Secrets just generated, shown once with copy buttons.
#[derive(Clone, Debug)]
pub struct ShownSecrets {
    pub title: String,
    pub lines: Vec<(String, String)>,
}

/// The selected token with its history.
#[derive(Clone, Debug)]
pub struct TokenDetail {
    pub token: TokenRecord,
    pub history: Vec<AuditEvent>,
    /// R20's refusal, when the clerk just tried to deactivate a linked token.
    pub refusal: Option<String>,
}

/// The token table: the index (count and page anchors) and the pages fetched so far.
#[derive(Debug, Default)]
pub struct TokenRows {
    pub index: Option<TokenIndex>,
    pub is_indexing: bool,
    pub pages: HashMap<usize, Vec<TokenRecord>>,
}

impl TokenRows {
    /// Rows the table shows: the full count once known, else the first page.
    pub fn row_count(&self) -> usize {
        match &self.index {
            Some(index) => usize::try_from(index.count).unwrap_or(usize::MAX),
            None => self.pages.get(&0).map_or(0, Vec::len),
        }
    }

    /// The row at `index`, if its page is cached.
    pub fn row(&self, index: usize) -> Option<&TokenRecord> {
        self.pages
            .get(&(index / PAGE_ROWS))
            .and_then(|page| page.get(index % PAGE_ROWS))
    }
}

/// An owner table: how many rows, where each page starts, and the pages fetched so far.
#[derive(Debug)]
pub struct OwnerRows<R> {
    pub count: u64,
    /// Element `k` is the id just before row `k × PAGE_ROWS`.
    pub anchors: Vec<i64>,
    pub pages: HashMap<usize, Vec<R>>,
}

impl<R> Default for OwnerRows<R> {
    fn default() -> Self {
        Self {
            count: 0,
            anchors: Vec::new(),
            pages: HashMap::new(),
        }
    }
}

impl<R> OwnerRows<R> {
    /// Rows the filter shows.
    pub fn row_count(&self) -> usize {
        usize::try_from(self.count).unwrap_or(usize::MAX)
    }

    /// The row at `index`, if its page is cached.
    pub fn row(&self, index: usize) -> Option<&R> {
        self.pages
            .get(&(index / PAGE_ROWS))
            .and_then(|page| page.get(index % PAGE_ROWS))
    }
}

/// What the app read from the database for the panels to draw.
#[derive(Default)]
pub struct Data {
    pub database: String,
    pub clerk: String,
    pub total_tokens: u64,
    pub tokens: TokenRows,
    pub selected_token: Option<TokenDetail>,
    pub definitions: Vec<DefinitionRecord>,
    pub definition_usage: HashMap<i64, u64>,
    pub participants: OwnerRows<ParticipantRecord>,
    pub accounts: OwnerRows<AccountRecord>,
    pub selected_participant: Option<(ParticipantRecord, Vec<TokenRecord>)>,
    pub selected_account: Option<(AccountRecord, Vec<TokenRecord>, Vec<ParticipantRecord>)>,
    pub eligible_tokens: Vec<TokenRecord>,
    pub audit: Vec<AuditEvent>,
    pub audit_has_more: bool,
    pub notice: Option<Notice>,
    pub secrets: Option<ShownSecrets>,
    pub check_outcome: Option<Notice>,
    pub is_picking_file: bool,
    pub reports: reports::ReportsData,
    pub imports: imports::ImportsData,
}

impl Data {
    /// The definition new tokens follow (R11).
    pub fn effective_definition(&self) -> Option<&DefinitionRecord> {
        self.definitions
            .iter()
            .find(|definition| definition.is_effective)
    }
}

/// Every intent the clerk can raise. The app applies them after drawing.
#[derive(Debug)]
pub enum Command {
    Navigate(Place),
    TokenListChanged,
    FetchTokenPage(usize),
    FetchOwnerPage(OwnerKind, usize),
    SelectToken(String),
    CloseTokenDetail,
    CreateToken(TokenDraft),
    SetTokenState {
        number: String,
        target: TokenState,
        reason: String,
    },
    DeleteToken(String),
    ResetPassCode {
        number: String,
        typed: Option<Secret>,
    },
    VerifyToken {
        number: String,
        code: Secret,
    },
    ReissueVerificationCode(String),
    UnlockToken {
        number: String,
        reason: String,
    },
    CheckCredentials(Credentials),
    AddTokenToOwner {
        kind: OwnerKind,
        owner: String,
        token: String,
    },
    RemoveTokenFromOwner {
        kind: OwnerKind,
        owner: String,
        token: String,
    },
    SearchEligibleTokens {
        kind: OwnerKind,
        text: String,
    },
    OwnersChanged(OwnerKind),
    SelectParticipant(String),
    SelectAccount(String),
    CreateAccount(String),
    SetAccountState {
        number: String,
        target: AccountState,
    },
    CreateParticipant {
        name: String,
        account: String,
    },
    TerminateParticipant(String),
    CreateDefinition(DefinitionDraft),
    EditDefinition {
        code: String,
        draft: DefinitionDraft,
    },
    ActivateDefinition(String),
    DeleteDefinition(String),
    AuditChanged,
    LoadOlderAudit,
    PickDatabaseFile {
        create: bool,
    },
    OpenDatabase {
        path: PathBuf,
        create: bool,
    },
    DismissNotice,
    Reports(reports::ReportsCommand),
    Import(imports::ImportCommand),
}

/// The open dialog, if any. Only one at a time; Esc closes it without saving.
#[derive(Debug, Default)]
pub enum Dialog {
    #[default]
    None,
    NewToken(tokens::NewTokenForm),
    CheckCredentials(tokens::CheckForm),
    AddExistingToken {
        kind: OwnerKind,
        owner: String,
        search: String,
    },
    NewAccount {
        name: String,
    },
    NewParticipant {
        name: String,
        account: String,
    },
    Database {
        path: String,
        create: bool,
    },
    Secrets,
    /// A destructive action waiting for the clerk's confirmation.
    Confirm {
        question: String,
        action: String,
        command: Option<Box<Command>>,
    },
}

impl Dialog {
    /// Asks `question` before running `command` with a button labelled `action`.
    pub fn confirm(
        question: impl Into<String>,
        action: impl Into<String>,
        command: Command,
    ) -> Self {
        Self::Confirm {
            question: question.into(),
            action: action.into(),
            command: Some(Box::new(command)),
        }
    }
}

/// Drafts and selections that live only while the window is open.
#[derive(Debug, Default)]
pub struct UiState {
    pub dialog: Dialog,
    /// The reason typed for a state change or unlock.
    pub reason: String,
    /// A new pass code or a verification code, cleared once used.
    pub typed_secret: String,
    pub scroll_to_row: Option<usize>,
    pub definition_editor: definitions::Editor,
    pub focus_search: bool,
    pub reports: reports::ReportsForm,
    pub imports: imports::ImportWizard,
}

/// Draws the whole window: menu, navigation, status bar, notice and the current place.
pub fn root_ui(
    ui: &mut egui::Ui,
    view: &mut ViewState,
    state: &mut UiState,
    data: &Data,
    commands: &mut Vec<Command>,
) {
    shortcuts(ui.ctx(), view, state, data, commands);
    egui::Panel::top("menu").show(ui, |ui| menu_ui(ui, view.place, state, data, commands));
    egui::Panel::bottom("status").show(ui, |ui| status_ui(ui, data));
    egui::Panel::left("navigation")
        .resizable(false)
        .exact_size(150.0)
        .show(ui, |ui| {
            ui.add_space(6.0);
            for place in Place::ALL {
                if ui
                    .selectable_label(view.place == place, place.label())
                    .clicked()
                    && view.place != place
                {
                    view.place = place;
                    commands.push(Command::Navigate(place));
                }
            }
        });
    egui::CentralPanel::default().show(ui, |ui| {
        // While a dialog is open, the notice shows inside it instead.
        if matches!(state.dialog, Dialog::None) {
            notice_ui(ui, data.notice.as_ref(), commands);
        }
        imports::running_banner_ui(ui, view.place, data);
        match view.place {
            Place::Tokens => tokens::tokens_ui(ui, view, state, data, commands),
            Place::Participants => owners::participants_ui(ui, view, state, data, commands),
            Place::Accounts => owners::accounts_ui(ui, view, state, data, commands),
            Place::Definitions => definitions::definitions_ui(ui, state, data, commands),
            Place::Imports => imports::imports_ui(ui, state, data, commands),
            Place::Reports => reports::reports_ui(ui, state, data, commands),
            Place::AuditLog => audit::audit_ui(ui, view, data, commands),
        }
    });
    dialogs_ui(ui, state, data, commands);
    reports::export_ui(ui, view, state, data, commands);
}

fn shortcuts(
    ctx: &egui::Context,
    view: &mut ViewState,
    state: &mut UiState,
    data: &Data,
    commands: &mut Vec<Command>,
) {
    let find = egui::KeyboardShortcut::new(egui::Modifiers::COMMAND, egui::Key::F);
    let new = egui::KeyboardShortcut::new(egui::Modifiers::COMMAND, egui::Key::N);
    let import = egui::KeyboardShortcut::new(egui::Modifiers::COMMAND, egui::Key::I);
    if ctx.input_mut(|input| input.consume_shortcut(&import)) && view.place != Place::Imports {
        view.place = Place::Imports;
        commands.push(Command::Navigate(Place::Imports));
    }
    if ctx.input_mut(|input| input.consume_shortcut(&find)) {
        if view.place != Place::Tokens {
            view.place = Place::Tokens;
            commands.push(Command::Navigate(Place::Tokens));
        }
        state.focus_search = true;
    }
    if ctx.input_mut(|input| input.consume_shortcut(&new)) && matches!(state.dialog, Dialog::None) {
        state.dialog = Dialog::NewToken(tokens::NewTokenForm::for_place(view.place, data));
    }
}

fn menu_ui(
    ui: &mut egui::Ui,
    place: Place,
    state: &mut UiState,
    data: &Data,
    commands: &mut Vec<Command>,
) {
    egui::MenuBar::new().ui(ui, |ui| {
        // While an import or dry run holds the database, changes wait (the banner says why).
        if data.imports.is_running() {
            ui.disable();
        }
        ui.menu_button("Database", |ui| {
            if ui.button("Open database…").clicked() {
                state.dialog = Dialog::Database {
                    path: String::new(),
                    create: false,
                };
            }
            if ui.button("New database…").clicked() {
                state.dialog = Dialog::Database {
                    path: String::new(),
                    create: true,
                };
            }
        });
        ui.menu_button("Actions", |ui| {
            if ui.button("New token…").on_hover_text("Ctrl+N").clicked() {
                state.dialog = Dialog::NewToken(tokens::NewTokenForm::for_place(place, data));
            }
            if ui.button("Check credentials…").clicked() {
                state.dialog = Dialog::CheckCredentials(tokens::CheckForm::default());
                commands.push(Command::DismissNotice);
            }
        });
    });
}

fn status_ui(ui: &mut egui::Ui, data: &Data) {
    ui.horizontal(|ui| {
        ui.label(format!("Database: {}", data.database));
        ui.separator();
        ui.label(format!("{} tokens", group_digits(data.total_tokens)));
        ui.separator();
        ui.label(format!("Clerk: {}", data.clerk));
    });
}

fn notice_ui(ui: &mut egui::Ui, notice: Option<&Notice>, commands: &mut Vec<Command>) {
    let Some(notice) = notice else { return };
    let color = if notice.is_error {
        ui.visuals().error_fg_color
    } else {
        ui.visuals().strong_text_color()
    };
    egui::Frame::group(ui.style()).show(ui, |ui| {
        ui.horizontal(|ui| {
            ui.label(egui::RichText::new(&notice.text).color(color));
            if ui.small_button("Dismiss").clicked() {
                commands.push(Command::DismissNotice);
            }
        });
    });
    ui.add_space(4.0);
}

fn dialogs_ui(ui: &mut egui::Ui, state: &mut UiState, data: &Data, commands: &mut Vec<Command>) {
    let ctx = ui.ctx().clone();
    let close = match &mut state.dialog {
        Dialog::None => false,
        Dialog::NewToken(form) => tokens::new_token_dialog(&ctx, form, data, commands),
        Dialog::CheckCredentials(form) => tokens::check_dialog(&ctx, form, data, commands),
        Dialog::AddExistingToken {
            kind,
            owner,
            search,
        } => owners::add_existing_dialog(&ctx, *kind, owner, search, data, commands),
        Dialog::NewAccount { name } => modal(
            &ctx,
            "new-account",
            "New account",
            data.notice.as_ref(),
            |ui| {
                let mut close = false;
                labelled_text(ui, "Account name", name);
                ui.horizontal(|ui| {
                    if ui.button("Create account").clicked() {
                        commands.push(Command::CreateAccount(name.clone()));
                    }
                    close = ui.button("Cancel").clicked();
                });
                close
            },
        ),
        Dialog::NewParticipant { name, account } => modal(
            &ctx,
            "new-participant",
            "New participant",
            data.notice.as_ref(),
            |ui| {
                let mut close = false;
                labelled_text(ui, "Participant name", name);
                labelled_text(ui, "Account number", account);
                ui.horizontal(|ui| {
                    if ui.button("Create participant").clicked() {
                        commands.push(Command::CreateParticipant {
                            name: name.clone(),
                            account: account.clone(),
                        });
                    }
                    close = ui.button("Cancel").clicked();
                });
                close
            },
        ),
        Dialog::Database { path, create } => {
            let title = if *create {
                "New database"
            } else {
                "Open database"
            };
            let create = *create;
            modal(&ctx, "database", title, data.notice.as_ref(), |ui| {
                let mut close = false;
                ui.label("Type the path of the database file, or browse for it.");
                labelled_text(ui, "Database file", path);
                ui.horizontal(|ui| {
                    if ui
                        .add_enabled(!data.is_picking_file, egui::Button::new("Browse…"))
                        .clicked()
                    {
                        commands.push(Command::PickDatabaseFile { create });
                    }
                    if data.is_picking_file {
                        ui.spinner();
                    }
                    let action = if create { "Create" } else { "Open" };
                    if ui
                        .add_enabled(!path.trim().is_empty(), egui::Button::new(action))
                        .clicked()
                    {
                        commands.push(Command::OpenDatabase {
                            path: PathBuf::from(path.trim()),
                            create,
                        });
                    }
                    close = ui.button("Cancel").clicked();
                });
                close
            })
        }
        Dialog::Confirm {
            question,
            action,
            command,
        } => modal(
            &ctx,
            "confirm",
            "Please confirm",
            data.notice.as_ref(),
            |ui| {
                ui.label(question.as_str());
                let mut close = false;
                ui.horizontal(|ui| {
                    if ui.button(action.as_str()).clicked() {
                        commands.extend(command.take().map(|command| *command));
                        close = true;
                    }
                    close |= ui.button("Keep it").clicked();
                });
                close
            },
        ),
        Dialog::Secrets => match &data.secrets {
            Some(secrets) => modal(
                &ctx,
                "secrets",
                &secrets.title.clone(),
                data.notice.as_ref(),
                |ui| {
                    ui.label("Write these down or copy them now: they are shown only once.");
                    egui::Grid::new("secret-lines")
                        .num_columns(3)
                        .show(ui, |ui| {
                            for (label, value) in &secrets.lines {
                                ui.label(label);
                                ui.monospace(value);
                                if ui
                                    .button(format!("Copy {}", label.to_lowercase()))
                                    .clicked()
                                {
                                    ui.ctx().copy_text(value.clone());
                                }
                                ui.end_row();
                            }
                        });
                    ui.button("Done").clicked()
                },
            ),
            None => true,
        },
    };
    if close {
        state.dialog = Dialog::None;
    }
}

/// Shows a modal dialog titled `title`; returns whether it should close (Esc, backdrop or the content said so).
/// The current notice is repeated inside, so an error caused by the dialog is seen there.
pub fn modal(
    ctx: &egui::Context,
    id: &str,
    title: &str,
    notice: Option<&Notice>,
    content: impl FnOnce(&mut egui::Ui) -> bool,
) -> bool {
    let response = egui::Modal::new(egui::Id::unique(id)).show(ctx, |ui| {
        ui.set_max_width(860.0);
        ui.heading(title);
        ui.add_space(6.0);
        if let Some(notice) = notice {
            let color = if notice.is_error {
                ui.visuals().error_fg_color
            } else {
                ui.visuals().strong_text_color()
            };
            ui.colored_label(color, &notice.text);
        }
        content(ui)
    });
    response.inner || response.should_close()
}

/// A label and a single-line text field named by it (so tests and screen readers find it).
pub fn labelled_text(ui: &mut egui::Ui, label: &str, value: &mut String) -> egui::Response {
    ui.horizontal(|ui| {
        let label = ui.label(label);
        ui.text_edit_singleline(value).labelled_by(label.id)
    })
    .inner
}

/// Like [`labelled_text`], with the characters hidden.
pub fn labelled_secret(ui: &mut egui::Ui, label: &str, value: &mut String) -> egui::Response {
    ui.horizontal(|ui| {
        let label = ui.label(label);
        ui.add(egui::TextEdit::singleline(value).password(true))
            .labelled_by(label.id)
    })
    .inner
}

/// `1234567` → `1,234,567`.
pub fn group_digits(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// `Some("x")` for non-blank text, else `None`.
pub fn non_blank(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// Text from the database made drawable with the bundled fonts (they have no arrows).
pub fn drawable(text: &str) -> String {
    text.replace('→', "->").replace('←', "<-")
}
