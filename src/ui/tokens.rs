//! The Tokens place: filter bar, a virtual table fed page by page, the detail pane, and the
//! New token and Check credentials dialogs.

use egui_extras::{Column, TableBuilder};

use super::{
    Command, Data, Dialog, TokenDetail, UiState, ViewState, labelled_secret, labelled_text, modal,
    non_blank,
};
use crate::desk::{Credentials, SortDirection, TokenDraft, TokenSort, check_draft};
use crate::domain::{
    AccountState, CredentialKind, OwnerKind, ParticipantState, Secret, TokenRecord, TokenState,
};

/// Rows per fetched page; also the stride of the token index.
pub const PAGE_ROWS: usize = 100;

const ROW_HEIGHT: f32 = 22.0;

/// The colour of good news: Effective tokens, a successful check.
pub const EFFECTIVE_GREEN: egui::Color32 = egui::Color32::from_rgb(0x2e, 0x9e, 0x4f);

/// The Tokens place: filter bar, table and detail pane.
pub fn tokens_ui(
    ui: &mut egui::Ui,
    view: &mut ViewState,
    state: &mut UiState,
    data: &Data,
    commands: &mut Vec<Command>,
) {
    filter_bar_ui(ui, view, state, data, commands);
    ui.separator();
    if let Some(detail) = &data.selected_token {
        egui::Panel::right("token-detail")
            .default_size(380.0)
            .min_size(320.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical()
                    .id_salt("detail-scroll")
                    .show(ui, |ui| detail_ui(ui, detail, state, data, commands));
            });
    }
    egui::CentralPanel::default().show(ui, |ui| {
        egui::ScrollArea::horizontal()
            .id_salt("token-table-h")
            .show(ui, |ui| table_ui(ui, view, state, data, commands));
    });
}

fn filter_bar_ui(
    ui: &mut egui::Ui,
    view: &mut ViewState,
    state: &mut UiState,
    data: &Data,
    commands: &mut Vec<Command>,
) {
    let mut changed = false;
    ui.horizontal(|ui| {
        let label = ui.label("Search");
        let search = ui.add(
            egui::TextEdit::singleline(&mut view.token_search)
                .hint_text("number, code, identifier or owner")
                .desired_width(240.0),
        );
        let search = search.labelled_by(label.id);
        if state.focus_search {
            search.request_focus();
            state.focus_search = false;
        }
        changed |= search.changed();
        let state_text = view.token_state.map_or("All states", TokenState::label);
        let label = ui.label("State");
        egui::ComboBox::from_id_salt("state-filter")
            .selected_text(state_text)
            .show_ui(ui, |ui| {
                changed |= ui
                    .selectable_value(&mut view.token_state, None, "All states")
                    .changed();
                for option in TokenState::ALL {
                    changed |= ui
                        .selectable_value(&mut view.token_state, Some(option), option.label())
                        .changed();
                }
            })
            .response
            .labelled_by(label.id);
        let definition_text = view
            .token_definition
            .and_then(|id| data.definitions.iter().find(|d| d.id == id))
            .map_or_else(|| "All definitions".to_owned(), |d| d.name.clone());
        let label = ui.label("Definition");
        egui::ComboBox::from_id_salt("definition-filter")
            .selected_text(definition_text)
            .show_ui(ui, |ui| {
                changed |= ui
                    .selectable_value(&mut view.token_definition, None, "All definitions")
                    .changed();
                for definition in &data.definitions {
                    changed |= ui
                        .selectable_value(
                            &mut view.token_definition,
                            Some(definition.id),
                            &definition.name,
                        )
                        .changed();
                }
            })
            .response
            .labelled_by(label.id);
        ui.separator();
        if ui.button("New token…").on_hover_text("Ctrl+N").clicked() {
            state.dialog = Dialog::NewToken(NewTokenForm::default());
        }
        if ui.button("Check credentials…").clicked() {
            state.dialog = Dialog::CheckCredentials(CheckForm::default());
        }
        super::reports::export_button_ui(ui, super::reports::ExportSource::TokensFilter, commands);
    });
    ui.horizontal(|ui| {
        let rows = &data.tokens;
        let shown = if rows.index.is_some() {
            super::group_digits(rows.row_count() as u64)
        } else {
            "…".to_owned()
        };
        ui.label(format!("{shown} tokens shown"));
        if rows.is_indexing {
            ui.spinner();
        }
        if ui.small_button("Go to first").clicked() {
            state.scroll_to_row = Some(0);
        }
        if ui.small_button("Go to end").clicked() {
            state.scroll_to_row = Some(rows.row_count().saturating_sub(1));
        }
    });
    if changed {
        commands.push(Command::TokenListChanged);
    }
}

fn table_ui(
    ui: &mut egui::Ui,
    view: &mut ViewState,
    state: &mut UiState,
    data: &Data,
    commands: &mut Vec<Command>,
) {
    let rows = &data.tokens;
    let selected = data
        .selected_token
        .as_ref()
        .map(|detail| detail.token.number.as_str());
    ui.style_mut().wrap_mode = Some(egui::TextWrapMode::Truncate);
    let mut builder = TableBuilder::new(ui)
        .id_salt("token-table")
        .striped(true)
        .resizable(true)
        .sense(egui::Sense::click())
        .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
        .column(Column::initial(110.0).at_least(90.0))
        .column(Column::initial(125.0).at_least(80.0))
        .column(Column::initial(120.0).at_least(60.0))
        .column(Column::initial(190.0).at_least(60.0).clip(true))
        .column(Column::initial(210.0).at_least(60.0).clip(true))
        .column(Column::initial(190.0).at_least(60.0).clip(true))
        .column(Column::remainder().at_least(80.0).clip(true));
    if let Some(row) = state.scroll_to_row.take() {
        builder = builder.scroll_to_row(row, Some(egui::Align::BOTTOM));
    }
    let mut wanted = Vec::new();
    builder
        .header(24.0, |mut header| {
            for (title, sort) in [
                ("Number", Some(TokenSort::Number)),
                ("Authentication code", Some(TokenSort::AuthenticationCode)),
                ("State", Some(TokenSort::State)),
                ("Identifier", None),
                ("Participant", None),
                ("Account", None),
                ("Definition", Some(TokenSort::Definition)),
            ] {
                header.col(|ui| match sort {
                    Some(sort) => sort_header_ui(ui, title, sort, view, commands),
                    None => {
                        ui.strong(title);
                    }
                });
            }
        })
        .body(|body| {
            body.rows(ROW_HEIGHT, rows.row_count(), |mut row| {
                let index = row.index();
                let Some(token) = rows.row(index) else {
                    let page = index / PAGE_ROWS;
                    if !wanted.contains(&page) {
                        wanted.push(page);
                    }
                    row.col(|ui| {
                        ui.weak("…");
                    });
                    return;
                };
                row.set_selected(selected == Some(token.number.as_str()));
                row.col(|ui| {
                    if ui
                        .selectable_label(selected == Some(token.number.as_str()), &token.number)
                        .clicked()
                    {
                        commands.push(Command::SelectToken(token.number.clone()));
                    }
                });
                row.col(|ui| {
                    ui.monospace(&token.authentication_code);
                });
                row.col(|ui| {
                    state_badge_ui(ui, token);
                });
                row.col(|ui| {
                    ui.label(token.identifier.as_deref().unwrap_or(""));
                });
                row.col(|ui| {
                    ui.label(owner_text(
                        token.participant_number.as_deref(),
                        token.participant_name.as_deref(),
                    ));
                });
                row.col(|ui| {
                    ui.label(owner_text(
                        token.account_number.as_deref(),
                        token.account_name.as_deref(),
                    ));
                });
                row.col(|ui| {
                    ui.label(&token.definition);
                });
                if row.response().clicked() {
                    commands.push(Command::SelectToken(token.number.clone()));
                }
            });
        });
    commands.extend(wanted.into_iter().map(Command::FetchTokenPage));
}

fn sort_header_ui(
    ui: &mut egui::Ui,
    title: &str,
    sort: TokenSort,
    view: &mut ViewState,
    commands: &mut Vec<Command>,
) {
    let arrow = match (view.token_sort == sort, view.token_direction) {
        (false, _) => "",
        (true, SortDirection::Ascending) => " (asc)",
        (true, SortDirection::Descending) => " (desc)",
    };
    let response = ui.add(
        egui::Button::new(egui::RichText::new(format!("{title}{arrow}")).strong()).frame(false),
    );
    if response
        .on_hover_text(format!("Sort by {}", title.to_lowercase()))
        .clicked()
    {
        if view.token_sort == sort {
            view.token_direction = match view.token_direction {
                SortDirection::Ascending => SortDirection::Descending,
                SortDirection::Descending => SortDirection::Ascending,
            };
        } else {
            view.token_sort = sort;
            view.token_direction = SortDirection::Ascending;
        }
        commands.push(Command::TokenListChanged);
    }
}

fn owner_text(number: Option<&str>, name: Option<&str>) -> String {
    match (number, name) {
        (Some(number), Some(name)) => format!("{name} ({number})"),
        (Some(number), None) => number.to_owned(),
        _ => String::new(),
    }
}

fn or_dash(text: String) -> String {
    if text.is_empty() {
        "—".to_owned()
    } else {
        text
    }
}

/// The token's state, coloured, with a lock sign when locked.
pub fn state_badge_ui(ui: &mut egui::Ui, token: &TokenRecord) {
    let color = match token.state {
        TokenState::Effective => EFFECTIVE_GREEN,
        TokenState::NotEffective => ui.visuals().weak_text_color(),
        TokenState::PendingVerification => egui::Color32::from_rgb(0xd0, 0x8c, 0x1a),
    };
    let text = if token.locked {
        format!("{} (locked)", token.state.label())
    } else {
        token.state.label().to_owned()
    };
    ui.label(egui::RichText::new(text).color(color));
}

fn detail_ui(
    ui: &mut egui::Ui,
    detail: &TokenDetail,
    state: &mut UiState,
    data: &Data,
    commands: &mut Vec<Command>,
) {
    let token = &detail.token;
    ui.horizontal(|ui| {
        ui.heading(format!("Token {}", token.number));
        if ui.small_button("Close details").clicked() {
            commands.push(Command::CloseTokenDetail);
        }
    });
    egui::Grid::new("token-facts")
        .num_columns(2)
        .striped(true)
        .show(ui, |ui| {
            let mut fact = |name: &str, value: String| {
                ui.label(name);
                ui.label(value);
                ui.end_row();
            };
            fact("State", token.state.label().to_owned());
            fact("Authentication code", token.authentication_code.clone());
            fact(
                "Identifier",
                token.identifier.clone().unwrap_or_else(|| "—".to_owned()),
            );
            fact(
                "Pass code",
                if token.has_pass_code {
                    "set (never shown)".to_owned()
                } else {
                    "none".to_owned()
                },
            );
            fact("Definition", token.definition.clone());
            fact(
                "Participant",
                or_dash(owner_text(
                    token.participant_number.as_deref(),
                    token.participant_name.as_deref(),
                )),
            );
            fact(
                "Account",
                or_dash(owner_text(
                    token.account_number.as_deref(),
                    token.account_name.as_deref(),
                )),
            );
            fact(
                "Locked",
                if token.locked {
                    format!("yes, after {} failed attempts", token.failed_attempts)
                } else {
                    "no".to_owned()
                },
            );
            fact(
                "Last used",
                token
                    .last_used_at
                    .clone()
                    .unwrap_or_else(|| "never".to_owned()),
            );
            fact(
                "Created",
                format!("{} by {}", token.created_at, token.created_by),
            );
        });
    ui.add_space(8.0);
    ui.strong("Actions");
    ui.horizontal(|ui| {
        let label = ui.label("Reason");
        ui.add(
            egui::TextEdit::singleline(&mut state.reason)
                .hint_text("required for state changes and unlock"),
        )
        .labelled_by(label.id);
    });
    let has_reason = !state.reason.trim().is_empty();
    ui.horizontal_wrapped(|ui| {
        match token.state {
            TokenState::Effective => {
                if ui
                    .add_enabled(has_reason, egui::Button::new("Make Not Effective"))
                    .on_disabled_hover_text("Type a reason first")
                    .clicked()
                {
                    commands.push(Command::SetTokenState {
                        number: token.number.clone(),
                        target: TokenState::NotEffective,
                        reason: state.reason.clone(),
                    });
                }
            }
            TokenState::NotEffective => {
                if ui
                    .add_enabled(has_reason, egui::Button::new("Make Effective"))
                    .on_disabled_hover_text("Type a reason first")
                    .clicked()
                {
                    commands.push(Command::SetTokenState {
                        number: token.number.clone(),
                        target: TokenState::Effective,
                        reason: state.reason.clone(),
                    });
                }
                if ui
                    .add_enabled(!token.is_linked(), egui::Button::new("Delete token"))
                    .on_disabled_hover_text("Remove its owner links first (R21)")
                    .clicked()
                {
                    state.dialog = Dialog::confirm(
                        format!("Delete token {}? Its audit history stays.", token.number),
                        "Delete",
                        Command::DeleteToken(token.number.clone()),
                    );
                }
            }
            TokenState::PendingVerification => {}
        }
        if token.locked
            && ui
                .add_enabled(has_reason, egui::Button::new("Unlock"))
                .on_disabled_hover_text("Type a reason first")
                .clicked()
        {
            commands.push(Command::UnlockToken {
                number: token.number.clone(),
                reason: state.reason.clone(),
            });
        }
    });
    if let Some(refusal) = &detail.refusal {
        ui.colored_label(ui.visuals().error_fg_color, refusal);
        if let Some(number) = token
            .participant_number
            .as_ref()
            .filter(|_| token.participant_state != Some(ParticipantState::Terminated))
            && ui
                .button(format!("Remove from participant {number}"))
                .clicked()
        {
            commands.push(Command::RemoveTokenFromOwner {
                kind: OwnerKind::Participant,
                owner: number.clone(),
                token: token.number.clone(),
            });
        }
        if let Some(number) = token
            .account_number
            .as_ref()
            .filter(|_| token.account_state != Some(AccountState::Terminated))
            && ui.button(format!("Remove from account {number}")).clicked()
        {
            commands.push(Command::RemoveTokenFromOwner {
                kind: OwnerKind::Account,
                owner: number.clone(),
                token: token.number.clone(),
            });
        }
    }
    ui.add_space(6.0);
    match token.state {
        TokenState::Effective => {
            let generated = data
                .effective_definition()
                .is_some_and(|d| d.settings.pass_code.is_generated());
            ui.strong("Pass code");
            if !generated {
                labelled_secret(ui, "New pass code", &mut state.typed_secret);
            }
            ui.horizontal(|ui| {
                if !generated
                    && ui
                        .add_enabled(
                            !state.typed_secret.is_empty(),
                            egui::Button::new("Set pass code"),
                        )
                        .clicked()
                {
                    commands.push(Command::ResetPassCode {
                        number: token.number.clone(),
                        typed: Some(Secret::new(state.typed_secret.clone())),
                    });
                }
                if generated && ui.button("Generate new pass code").clicked() {
                    commands.push(Command::ResetPassCode {
                        number: token.number.clone(),
                        typed: None,
                    });
                }
            });
        }
        TokenState::PendingVerification => {
            ui.strong("Verification");
            labelled_secret(ui, "Verification code", &mut state.typed_secret);
            ui.horizontal(|ui| {
                if ui
                    .add_enabled(!state.typed_secret.is_empty(), egui::Button::new("Verify"))
                    .clicked()
                {
                    commands.push(Command::VerifyToken {
                        number: token.number.clone(),
                        code: Secret::new(state.typed_secret.clone()),
                    });
                }
                if ui.button("Issue a new verification code").clicked() {
                    commands.push(Command::ReissueVerificationCode(token.number.clone()));
                }
            });
        }
        TokenState::NotEffective => {}
    }
    ui.add_space(8.0);
    ui.strong("History");
    if detail.history.is_empty() {
        ui.weak("No events recorded for this token yet.");
    }
    egui::Grid::new("token-history")
        .num_columns(3)
        .striped(true)
        .show(ui, |ui| {
            for event in &detail.history {
                ui.label(&event.at);
                ui.label(format!("{} ({})", event.action, event.clerk));
                ui.label(super::drawable(&event.details));
                ui.end_row();
            }
        });
}

/// The New token form; `owner` is set when it was opened from an owner's screen.
#[derive(Debug, Default)]
pub struct NewTokenForm {
    pub participant: String,
    pub account: String,
    pub identifier: String,
    pub authentication_code: String,
    pub pass_code: String,
    pub owner: Option<OwnerKind>,
}

impl NewTokenForm {
    /// The form for the place the clerk is in: for the selected participant or account there
    /// (if it may get new tokens), else a standalone token.
    pub fn for_place(place: super::Place, data: &Data) -> Self {
        match place {
            super::Place::Participants => match &data.selected_participant {
                Some((participant, _)) if participant.state == ParticipantState::Effective => {
                    Self::for_participant(&participant.number, &participant.account_number)
                }
                _ => Self::default(),
            },
            super::Place::Accounts => match &data.selected_account {
                Some((account, ..)) if account.state != AccountState::Terminated => {
                    Self::for_account(&account.number)
                }
                _ => Self::default(),
            },
            _ => Self::default(),
        }
    }

    /// A token for a participant (and its account, R30).
    pub fn for_participant(number: &str, account: &str) -> Self {
        Self {
            participant: number.to_owned(),
            account: account.to_owned(),
            owner: Some(OwnerKind::Participant),
            ..Self::default()
        }
    }

    /// A token for an account.
    pub fn for_account(number: &str) -> Self {
        Self {
            account: number.to_owned(),
            owner: Some(OwnerKind::Account),
            ..Self::default()
        }
    }

    fn draft(&self) -> TokenDraft {
        TokenDraft {
            participant_number: non_blank(&self.participant),
            account_number: non_blank(&self.account),
            identifier: non_blank(&self.identifier),
            authentication_code: non_blank(&self.authentication_code),
            pass_code: (!self.pass_code.is_empty()).then(|| Secret::new(self.pass_code.clone())),
            state: None,
        }
    }
}

/// Draws the New token dialog; returns whether it should close.
pub fn new_token_dialog(
    ctx: &egui::Context,
    form: &mut NewTokenForm,
    data: &Data,
    commands: &mut Vec<Command>,
) -> bool {
    modal(ctx, "new-token", "New token", data.notice.as_ref(), |ui| {
        let Some(definition) = data.effective_definition() else {
            ui.label("There is no Effective definition; activate one in Definitions first.");
            return ui.button("Close").clicked();
        };
        ui.label(format!(
            "Governed by the Effective definition {} ({}). Each field shows its rule.",
            definition.name, definition.code
        ));
        ui.add_space(4.0);
        let settings = &definition.settings;
        egui::Grid::new("new-token-fields")
            .num_columns(2)
            .show(ui, |ui| {
                let owner_fixed = form.owner.is_some();
                let label = ui.label("Participant number");
                ui.add_enabled(
                    !owner_fixed,
                    egui::TextEdit::singleline(&mut form.participant),
                )
                .labelled_by(label.id);
                ui.end_row();
                let label = ui.label("Account number");
                ui.add_enabled(!owner_fixed, egui::TextEdit::singleline(&mut form.account))
                    .labelled_by(label.id);
                ui.end_row();
                for (kind, value, secret) in [
                    (CredentialKind::Identifier, &mut form.identifier, false),
                    (CredentialKind::PassCode, &mut form.pass_code, true),
                    (
                        CredentialKind::AuthenticationCode,
                        &mut form.authentication_code,
                        false,
                    ),
                ] {
                    let rule = settings.rule(kind);
                    let title = match kind {
                        CredentialKind::Identifier => "Identifier",
                        CredentialKind::PassCode => "Pass code",
                        CredentialKind::AuthenticationCode => "Authentication code",
                    };
                    let label = ui.label(title).on_hover_text(rule.describe());
                    let hint = if rule.is_generated() {
                        "generated on save"
                    } else if kind == CredentialKind::AuthenticationCode {
                        "empty: generate"
                    } else {
                        ""
                    };
                    let edit = egui::TextEdit::singleline(value)
                        .password(secret)
                        .hint_text(hint);
                    ui.add_enabled(!rule.is_generated(), edit)
                        .labelled_by(label.id)
                        .on_hover_text(rule.describe())
                        .on_disabled_hover_text(rule.describe());
                    ui.weak(rule.describe());
                    ui.end_row();
                }
            });
        let checked = check_draft(settings, &form.draft());
        match &checked {
            Ok(_) => {
                ui.colored_label(EFFECTIVE_GREEN, "Ready to create.");
            }
            Err(problem) => {
                ui.colored_label(
                    ui.visuals().error_fg_color,
                    crate::desk::error_sentence(&problem.to_string()),
                );
            }
        }
        let mut close = false;
        ui.horizontal(|ui| {
            if ui
                .add_enabled(checked.is_ok(), egui::Button::new("Create token"))
                .clicked()
            {
                commands.push(Command::CreateToken(form.draft()));
            }
            close = ui.button("Cancel").clicked();
        });
        close
    })
}

/// The Check credentials form (R50).
#[derive(Debug, Default)]
pub struct CheckForm {
    pub by_identifier: bool,
    pub authentication_code: String,
    pub identifier: String,
    pub pass_code: String,
}

/// Draws the Check credentials dialog; returns whether it should close.
pub fn check_dialog(
    ctx: &egui::Context,
    form: &mut CheckForm,
    data: &Data,
    commands: &mut Vec<Command>,
) -> bool {
    modal(
        ctx,
        "check-credentials",
        "Check credentials",
        data.notice.as_ref(),
        |ui| {
            ui.horizontal(|ui| {
                ui.radio_value(&mut form.by_identifier, false, "By authentication code");
                ui.radio_value(&mut form.by_identifier, true, "By identifier and pass code");
            });
            let ready = if form.by_identifier {
                labelled_text(ui, "Identifier", &mut form.identifier);
                labelled_secret(ui, "Pass code", &mut form.pass_code);
                !form.identifier.trim().is_empty() && !form.pass_code.is_empty()
            } else {
                labelled_text(ui, "Authentication code", &mut form.authentication_code);
                !form.authentication_code.trim().is_empty()
            };
            if let Some(outcome) = &data.check_outcome {
                let color = if outcome.is_error {
                    ui.visuals().error_fg_color
                } else {
                    EFFECTIVE_GREEN
                };
                ui.colored_label(color, &outcome.text);
            }
            let mut close = false;
            ui.horizontal(|ui| {
                if ui.add_enabled(ready, egui::Button::new("Check")).clicked() {
                    let credentials = if form.by_identifier {
                        Credentials::Identifier {
                            identifier: form.identifier.trim().to_owned(),
                            pass_code: Secret::new(form.pass_code.clone()),
                        }
                    } else {
                        Credentials::AuthenticationCode(form.authentication_code.trim().to_owned())
                    };
                    form.pass_code.clear();
                    commands.push(Command::CheckCredentials(credentials));
                }
                close = ui.button("Close").clicked();
            });
            close
        },
    )
}
