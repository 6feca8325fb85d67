//! The Participants and Accounts places: a searchable list, the selected owner's details and
//! its tokens section (New token, Add existing token, Remove token).

use super::tokens::{NewTokenForm, state_badge_ui};
use super::{
    Command, Data, Dialog, PAGE_ROWS, UiState, ViewState, group_digits, labelled_text, modal,
};
use crate::domain::{AccountState, OwnerKind, ParticipantState, TokenRecord};

pub fn participants_ui(
    ui: &mut egui::Ui,
    view: &mut ViewState,
    state: &mut UiState,
    data: &Data,
    commands: &mut Vec<Command>,
) {
    ui.horizontal(|ui| {
        if labelled_text(ui, "Search participants", &mut view.participant_search).changed() {
            commands.push(Command::OwnersChanged(OwnerKind::Participant));
        }
        if ui.button("New participant…").clicked() {
            let account = data
                .selected_account
                .as_ref()
                .map(|(account, ..)| account.number.clone())
                .unwrap_or_default();
            state.dialog = Dialog::NewParticipant {
                name: String::new(),
                account,
            };
        }
    });
    shown_line(ui, data.participants.count);
    ui.separator();
    let selected = data
        .selected_participant
        .as_ref()
        .map(|(p, _)| p.number.as_str());
    egui::Panel::right("participant-detail")
        .default_size(460.0)
        .min_size(360.0)
        .show(ui, |ui| {
            egui::ScrollArea::vertical()
                .id_salt("participant-detail-scroll")
                .show(ui, |ui| {
                    let Some((participant, tokens)) = &data.selected_participant else {
                        ui.weak("Select a participant to see its details and tokens.");
                        return;
                    };
                    ui.heading(format!("{} ({})", participant.name, participant.number));
                    egui::Grid::new("participant-facts")
                        .num_columns(2)
                        .striped(true)
                        .show(ui, |ui| {
                            for (name, value) in [
                                ("State", participant.state.label().to_owned()),
                                (
                                    "Account",
                                    format!(
                                        "{} ({})",
                                        participant.account_name, participant.account_number
                                    ),
                                ),
                                ("Signed up on", participant.signed_up_on.clone()),
                                (
                                    "Created",
                                    format!(
                                        "{} by {}",
                                        participant.created_at, participant.created_by
                                    ),
                                ),
                            ] {
                                ui.label(name);
                                ui.label(value);
                                ui.end_row();
                            }
                        });
                    let is_effective = participant.state == ParticipantState::Effective;
                    if is_effective && ui.button("Terminate participant").clicked() {
                        commands.push(Command::TerminateParticipant(participant.number.clone()));
                    }
                    ui.add_space(8.0);
                    let allow_create = data
                        .effective_definition()
                        .is_some_and(|d| d.settings.participants.allow_create);
                    tokens_section_ui(
                        ui,
                        OwnerKind::Participant,
                        &participant.number,
                        tokens,
                        is_effective && allow_create,
                        state,
                        commands,
                        || {
                            NewTokenForm::for_participant(
                                &participant.number,
                                &participant.account_number,
                            )
                        },
                    );
                });
        });
    egui::CentralPanel::default().show(ui, |ui| {
        let rows = &data.participants;
        let mut wanted = Vec::new();
        owner_table(
            ui,
            "participant-table",
            &["Number", "Name", "Account", "State", "Tokens"],
        )
        .body(|body| {
            body.rows(ROW_HEIGHT, rows.row_count(), |mut row| {
                let index = row.index();
                let Some(participant) = rows.row(index) else {
                    push_once(&mut wanted, index / PAGE_ROWS);
                    row.col(|ui| {
                        ui.weak("…");
                    });
                    return;
                };
                let is_selected = selected == Some(participant.number.as_str());
                row.set_selected(is_selected);
                row.col(|ui| {
                    if ui
                        .selectable_label(is_selected, &participant.number)
                        .clicked()
                    {
                        commands.push(Command::SelectParticipant(participant.number.clone()));
                    }
                });
                row.col(|ui| {
                    ui.label(&participant.name);
                });
                row.col(|ui| {
                    ui.label(format!(
                        "{} ({})",
                        participant.account_name, participant.account_number
                    ));
                });
                row.col(|ui| {
                    ui.label(participant.state.label());
                });
                row.col(|ui| {
                    ui.label(participant.token_count.to_string());
                });
                if row.response().clicked() {
                    commands.push(Command::SelectParticipant(participant.number.clone()));
                }
            });
        });
        commands.extend(
            wanted
                .into_iter()
                .map(|page| Command::FetchOwnerPage(OwnerKind::Participant, page)),
        );
    });
}

pub fn accounts_ui(
    ui: &mut egui::Ui,
    view: &mut ViewState,
    state: &mut UiState,
    data: &Data,
    commands: &mut Vec<Command>,
) {
    ui.horizontal(|ui| {
        if labelled_text(ui, "Search accounts", &mut view.account_search).changed() {
            commands.push(Command::OwnersChanged(OwnerKind::Account));
        }
        if ui.button("New account…").clicked() {
            state.dialog = Dialog::NewAccount {
                name: String::new(),
            };
        }
    });
    shown_line(ui, data.accounts.count);
    ui.separator();
    let selected = data
        .selected_account
        .as_ref()
        .map(|(a, ..)| a.number.as_str());
    egui::Panel::right("account-detail")
        .default_size(460.0)
        .min_size(360.0)
        .show(ui, |ui| {
            egui::ScrollArea::vertical()
                .id_salt("account-detail-scroll")
                .show(ui, |ui| {
                    let Some((account, tokens, participants)) = &data.selected_account else {
                        ui.weak("Select an account to see its details and tokens.");
                        return;
                    };
                    ui.heading(format!("{} ({})", account.name, account.number));
                    ui.label(format!("State: {}", account.state.label()));
                    ui.label(format!(
                        "Created {} by {}",
                        account.created_at, account.created_by
                    ));
                    ui.horizontal(|ui| {
                        let number = &account.number;
                        if account.state == AccountState::Active
                            && ui.button("Suspend account").clicked()
                        {
                            commands.push(Command::SetAccountState {
                                number: number.clone(),
                                target: AccountState::Suspended,
                            });
                        }
                        if account.state == AccountState::Suspended
                            && ui.button("Reactivate account").clicked()
                        {
                            commands.push(Command::SetAccountState {
                                number: number.clone(),
                                target: AccountState::Active,
                            });
                        }
                        if account.state != AccountState::Terminated
                            && ui.button("Terminate account").clicked()
                        {
                            commands.push(Command::SetAccountState {
                                number: number.clone(),
                                target: AccountState::Terminated,
                            });
                        }
                    });
                    ui.add_space(8.0);
                    ui.strong(format!("Participants ({})", participants.len()));
                    for participant in participants {
                        ui.label(format!(
                            "{} {} — {}",
                            participant.number,
                            participant.name,
                            participant.state.label()
                        ));
                    }
                    if account.state != AccountState::Terminated
                        && ui.button("New participant in this account…").clicked()
                    {
                        state.dialog = Dialog::NewParticipant {
                            name: String::new(),
                            account: account.number.clone(),
                        };
                    }
                    ui.add_space(8.0);
                    let allow_create = data
                        .effective_definition()
                        .is_some_and(|d| d.settings.accounts.allow_create);
                    let can_create = allow_create && account.state != AccountState::Terminated;
                    tokens_section_ui(
                        ui,
                        OwnerKind::Account,
                        &account.number,
                        tokens,
                        can_create,
                        state,
                        commands,
                        || NewTokenForm::for_account(&account.number),
                    );
                });
        });
    egui::CentralPanel::default().show(ui, |ui| {
        let rows = &data.accounts;
        let mut wanted = Vec::new();
        owner_table(
            ui,
            "account-table",
            &["Number", "Name", "State", "Participants", "Tokens"],
        )
        .body(|body| {
            body.rows(ROW_HEIGHT, rows.row_count(), |mut row| {
                let index = row.index();
                let Some(account) = rows.row(index) else {
                    push_once(&mut wanted, index / PAGE_ROWS);
                    row.col(|ui| {
                        ui.weak("…");
                    });
                    return;
                };
                let is_selected = selected == Some(account.number.as_str());
                row.set_selected(is_selected);
                row.col(|ui| {
                    if ui.selectable_label(is_selected, &account.number).clicked() {
                        commands.push(Command::SelectAccount(account.number.clone()));
                    }
                });
                row.col(|ui| {
                    ui.label(&account.name);
                });
                row.col(|ui| {
                    ui.label(account.state.label());
                });
                row.col(|ui| {
                    ui.label(account.participant_count.to_string());
                });
                row.col(|ui| {
                    ui.label(account.token_count.to_string());
                });
                if row.response().clicked() {
                    commands.push(Command::SelectAccount(account.number.clone()));
                }
            });
        });
        commands.extend(
            wanted
                .into_iter()
                .map(|page| Command::FetchOwnerPage(OwnerKind::Account, page)),
        );
    });
}

const ROW_HEIGHT: f32 = 22.0;

fn push_once(wanted: &mut Vec<usize>, page: usize) {
    if !wanted.contains(&page) {
        wanted.push(page);
    }
}

/// A striped, resizable table with `headings`; the first column holds the owner's number.
fn owner_table<'a>(ui: &'a mut egui::Ui, id: &str, headings: &[&str]) -> egui_extras::Table<'a> {
    ui.style_mut().wrap_mode = Some(egui::TextWrapMode::Truncate);
    let mut builder = egui_extras::TableBuilder::new(ui)
        .id_salt(id)
        .striped(true)
        .resizable(true)
        .sense(egui::Sense::click())
        .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
        .column(egui_extras::Column::initial(130.0).at_least(100.0));
    for _ in 1..headings.len() - 1 {
        builder = builder.column(
            egui_extras::Column::initial(190.0)
                .at_least(60.0)
                .clip(true),
        );
    }
    builder = builder.column(egui_extras::Column::remainder().at_least(50.0));
    builder.header(24.0, |mut header| {
        for heading in headings {
            header.col(|ui| {
                ui.strong(*heading);
            });
        }
    })
}

fn shown_line(ui: &mut egui::Ui, total: u64) {
    ui.weak(format!("{} shown", group_digits(total)));
}

#[allow(clippy::too_many_arguments)]
fn tokens_section_ui(
    ui: &mut egui::Ui,
    kind: OwnerKind,
    owner: &str,
    tokens: &[TokenRecord],
    can_create: bool,
    state: &mut UiState,
    commands: &mut Vec<Command>,
    new_form: impl FnOnce() -> NewTokenForm,
) {
    ui.strong(format!("Tokens ({})", tokens.len()));
    ui.horizontal(|ui| {
        if ui
            .add_enabled(can_create, egui::Button::new("New token…"))
            .on_disabled_hover_text(
                "The Effective definition or the owner's state does not allow new tokens here",
            )
            .clicked()
        {
            state.dialog = Dialog::NewToken(new_form());
        }
        if ui.button("Add existing token…").clicked() {
            state.dialog = Dialog::AddExistingToken {
                kind,
                owner: owner.to_owned(),
                search: String::new(),
            };
            commands.push(Command::SearchEligibleTokens {
                kind,
                text: String::new(),
            });
        }
    });
    egui::Grid::new(("owner-tokens", kind.label()))
        .num_columns(4)
        .striped(true)
        .show(ui, |ui| {
            for token in tokens {
                if ui.link(&token.number).clicked() {
                    commands.push(Command::SelectToken(token.number.clone()));
                    commands.push(Command::Navigate(super::Place::Tokens));
                }
                ui.monospace(&token.authentication_code);
                state_badge_ui(ui, token);
                if ui
                    .button(format!("Remove {}", token.number))
                    .on_hover_text("Remove the token from this owner")
                    .clicked()
                {
                    commands.push(Command::RemoveTokenFromOwner {
                        kind,
                        owner: owner.to_owned(),
                        token: token.number.clone(),
                    });
                }
                ui.end_row();
            }
        });
}

/// The Add existing token dialog: only Effective, unlocked tokens without an owner of this kind.
pub fn add_existing_dialog(
    ctx: &egui::Context,
    kind: OwnerKind,
    owner: &str,
    search: &mut String,
    data: &Data,
    commands: &mut Vec<Command>,
) -> bool {
    modal(
        ctx,
        "add-existing",
        &format!("Add an existing token to {owner}"),
        |ui| {
            ui.label(format!(
                "Only Effective, unlocked tokens without a {} are offered.",
                kind.label()
            ));
            if labelled_text(ui, "Search tokens", search).changed() {
                commands.push(Command::SearchEligibleTokens {
                    kind,
                    text: search.clone(),
                });
            }
            egui::ScrollArea::vertical()
                .max_height(300.0)
                .show(ui, |ui| {
                    egui::Grid::new("eligible")
                        .num_columns(3)
                        .striped(true)
                        .show(ui, |ui| {
                            for token in &data.eligible_tokens {
                                ui.label(&token.number);
                                ui.monospace(&token.authentication_code);
                                if ui.button(format!("Add {}", token.number)).clicked() {
                                    commands.push(Command::AddTokenToOwner {
                                        kind,
                                        owner: owner.to_owned(),
                                        token: token.number.clone(),
                                    });
                                }
                                ui.end_row();
                            }
                        });
                    if data.eligible_tokens.is_empty() {
                        ui.weak("No eligible token matches.");
                    }
                });
            ui.button("Close").clicked()
        },
    )
}
