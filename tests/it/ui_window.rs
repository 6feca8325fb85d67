//! The window driven by label, as a clerk would: kittest, no GPU.

use egui_kittest::kittest::Queryable as _;
use tokendesk::domain::TokenState;

use crate::ui_support::{app_on_new_database, click, go_to, harness, settle, type_into};

#[test]
fn navigation_shows_every_place_and_the_status_bar() {
    let (app, _dir) = app_on_new_database();
    let mut harness = harness(app);
    settle(&mut harness);
    harness.get_by_label_contains("Database: ");
    harness.get_by_label("0 tokens");
    harness.get_by_label("Clerk: clerk");
    for place in [
        "Participants",
        "Accounts",
        "Definitions",
        "Imports",
        "Reports",
        "Audit log",
        "Tokens",
    ] {
        go_to(&mut harness, place);
    }
    go_to(&mut harness, "Imports");
    harness.get_by_label("1. Choose the file");
}

#[test]
fn clerk_creates_a_definition_and_activates_it() {
    let (app, _dir) = app_on_new_database();
    let mut harness = harness(app);
    settle(&mut harness);
    go_to(&mut harness, "Definitions");
    click(&mut harness, "New definition…");
    type_into(&mut harness, "Definition name", "Gold Card");
    assert!(
        !harness
            .query_all_by_label_contains("Authentication code:")
            .collect::<Vec<_>>()
            .is_empty()
    );
    click(&mut harness, "Create definition");
    harness.get_by_label_contains("Definition GC created");
    click(&mut harness, "Activate GC");
    harness.get_by_label_contains("Definition GC is now Effective");
    assert_eq!(
        harness.state().desk().effective_definition().unwrap().code,
        "GC"
    );
}

#[test]
fn clerk_runs_a_token_through_owners_search_check_and_r20() {
    let (app, _dir) = app_on_new_database();
    let mut harness = harness(app);
    settle(&mut harness);

    go_to(&mut harness, "Accounts");
    click(&mut harness, "New account…");
    type_into(&mut harness, "Account name", "Acme Ltd");
    click(&mut harness, "Create account");
    harness.get_by_label("Account ACR0000000001 created.");

    go_to(&mut harness, "Participants");
    click(&mut harness, "New participant…");
    type_into(&mut harness, "Participant name", "Ada Lovelace");
    assert_eq!(
        harness
            .get_by_role_and_label(egui::accesskit::Role::TextInput, "Account number")
            .value()
            .as_deref(),
        Some("ACR0000000001")
    );
    click(&mut harness, "Create participant");
    harness.get_by_label("Participant RP0000000001 created.");

    click(&mut harness, "New token…");
    type_into(&mut harness, "Identifier", "ada@example.com");
    type_into(&mut harness, "Pass code", "1234");
    harness.get_by_label("Ready to create.");
    click(&mut harness, "Create token");
    harness.get_by_label("Token AT0000000001 created");
    let token = harness.state().desk().token("AT0000000001").unwrap();
    assert_eq!(token.participant_number.as_deref(), Some("RP0000000001"));
    assert!(
        harness
            .query_all_by_label(&token.authentication_code)
            .count()
            >= 1
    );
    harness.get_by_label("Copy authentication code");
    click(&mut harness, "Done");

    go_to(&mut harness, "Tokens");
    type_into(&mut harness, "Search", "ada@");
    settle(&mut harness);
    harness.get_by_label("1 tokens shown");
    click(&mut harness, "AT0000000001");
    harness.get_by_label("Token AT0000000001");

    // Check credentials (R50): a wrong code, then Esc, then the right code.
    click(&mut harness, "Check credentials…");
    type_into(&mut harness, "Authentication code", "NOSUCHCODE");
    click(&mut harness, "Check");
    harness.get_by_label_contains("Not authenticated");
    harness.key_press(egui::Key::Escape);
    settle(&mut harness);
    assert!(harness.query_by_label("Check").is_none());
    click(&mut harness, "Check credentials…");
    type_into(
        &mut harness,
        "Authentication code",
        &token.authentication_code,
    );
    click(&mut harness, "Check");
    harness.get_by_label("Authenticated: token AT0000000001 (Ada Lovelace, Acme Ltd).");
    click(&mut harness, "Close");

    // R20: the linked token cannot be deactivated; the refusal offers to remove the link.
    type_into(&mut harness, "Reason", "Card lost");
    click(&mut harness, "Make Not Effective");
    harness.get_by_label_contains("remove the token from");
    click(&mut harness, "Remove from participant RP0000000001");
    // The participant's account holds the token too (R30), so the token is still linked.
    harness
        .get_by_label("Token AT0000000001 removed from participant RP0000000001; it is Effective.");
    type_into(&mut harness, "Reason", "Card lost");
    click(&mut harness, "Make Not Effective");
    harness.get_by_label_contains("linked to account ACR0000000001");
    click(&mut harness, "Remove from account ACR0000000001");
    // R24: removing the last link deactivates the token.
    harness.get_by_label(
        "Token AT0000000001 removed from account ACR0000000001; it is Not Effective.",
    );
    let token = harness.state().desk().token("AT0000000001").unwrap();
    assert_eq!(token.state, TokenState::NotEffective);
    assert_eq!(token.participant_number, None);

    // Unlinked and Not Effective, the token may be deleted (R21), after a confirmation.
    click(&mut harness, "Delete token");
    click(&mut harness, "Delete");
    harness.get_by_label("Token AT0000000001 deleted.");
    assert!(harness.state().desk().token("AT0000000001").is_err());
}

#[test]
fn locked_token_is_unlocked_with_a_reason() {
    let (mut app, _dir) = app_on_new_database();
    let desk = app.desk_mut();
    let draft = tokendesk::desk::TokenDraft {
        identifier: Some("linus".to_owned()),
        pass_code: Some(tokendesk::domain::Secret::new("1234")),
        ..Default::default()
    };
    let created = desk.create_token(&draft).unwrap();
    for _ in 0..5 {
        let wrong = tokendesk::desk::Credentials::Identifier {
            identifier: "linus".to_owned(),
            pass_code: tokendesk::domain::Secret::new("0000"),
        };
        assert!(desk.authenticate(&wrong).is_err());
    }
    assert!(desk.token(&created.token.number).unwrap().locked);
    let mut harness = harness(app);
    settle(&mut harness);
    click(&mut harness, &created.token.number);
    harness.get_by_label("Effective (locked)");
    type_into(&mut harness, "Reason", "Customer called, identity checked");
    click(&mut harness, "Unlock");
    harness.get_by_label(&format!("Token {} unlocked.", created.token.number));
    assert!(
        !harness
            .state()
            .desk()
            .token(&created.token.number)
            .unwrap()
            .locked
    );
}

#[test]
fn saved_view_state_leaves_out_free_text() {
    let view = tokendesk::ui::ViewState {
        place: tokendesk::ui::Place::Accounts,
        token_search: "ada@example.com".to_owned(),
        token_state: Some(TokenState::Effective),
        ..Default::default()
    };
    let saved = serde_json::to_string(&view).unwrap();
    assert!(!saved.contains("ada@example.com"));
    let restored: tokendesk::ui::ViewState = serde_json::from_str(&saved).unwrap();
    assert_eq!(restored.place, tokendesk::ui::Place::Accounts);
    assert_eq!(restored.token_state, Some(TokenState::Effective));
}

#[test]
fn participant_screen_removes_a_token_and_it_becomes_not_effective() {
    let (mut app, _dir) = app_on_new_database();
    let desk = app.desk_mut();
    let account = desk.create_account("Acme Ltd").unwrap();
    let participant = desk
        .create_participant("Ada Lovelace", &account.number)
        .unwrap();
    let draft = tokendesk::desk::TokenDraft {
        participant_number: Some(participant.number.clone()),
        ..Default::default()
    };
    let created = desk.create_token(&draft).unwrap();
    let mut harness = harness(app);
    settle(&mut harness);
    go_to(&mut harness, "Participants");
    click(&mut harness, &participant.number);
    harness.get_by_label("Tokens (1)");
    click(&mut harness, &format!("Remove {}", created.token.number));
    harness.get_by_label("Tokens (0)");
    let token = harness.state().desk().token(&created.token.number).unwrap();
    assert_eq!(token.state, TokenState::NotEffective);

    // The token is no longer Effective, so Add existing token does not offer it.
    click(&mut harness, "Add existing token…");
    harness.get_by_label("No eligible token matches.");
}

#[test]
fn esc_closes_the_new_token_dialog_without_saving() {
    let (app, _dir) = app_on_new_database();
    let mut harness = harness(app);
    settle(&mut harness);
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::N);
    settle(&mut harness);
    type_into(&mut harness, "Identifier", "someone");
    harness.get_by_label("Create token");
    harness.key_press(egui::Key::Escape);
    settle(&mut harness);
    assert!(harness.query_by_label("Create token").is_none());
    assert_eq!(harness.state().desk().token_count().unwrap(), 0);
}

#[test]
fn new_token_dialog_validates_as_the_clerk_types() {
    let (app, _dir) = app_on_new_database();
    let mut harness = harness(app);
    settle(&mut harness);
    click(&mut harness, "New token…");
    type_into(&mut harness, "Identifier", "ada");
    harness.get_by_label_contains("Pass code is required");
    type_into(&mut harness, "Pass code", "12ab");
    harness.get_by_label("Pass code must be digits only.");
    assert!(harness.query_by_label("Ready to create.").is_none());
}

#[test]
fn tokens_table_scrolls_to_the_end_of_100_000_demo_tokens() {
    let (mut app, _dir) = app_on_new_database();
    app.desk_mut().fill_demo_data(100_000, 1_000).unwrap();
    let mut harness = harness(app);
    settle(&mut harness);
    harness.get_by_label("100,000 tokens shown");
    harness.get_by_label("AT0000000001");
    click(&mut harness, "Go to end");
    settle(&mut harness);
    harness.get_by_label("AT0000100000");
    harness.get_by_label("AT0000099999");
    assert!(harness.query_by_label("AT0000000001").is_none());
    let cached = harness.state().data().tokens.pages.len();
    assert!(
        cached <= 3,
        "only the visible pages are fetched, not {cached}"
    );
}

#[test]
fn sorting_by_number_descending_puts_the_newest_first() {
    let (mut app, _dir) = app_on_new_database();
    app.desk_mut().fill_demo_data(300, 20).unwrap();
    let mut harness = harness(app);
    settle(&mut harness);
    click(&mut harness, "Number (asc)");
    harness.get_by_label("Number (desc)");
    harness.get_by_label("AT0000000300");
    assert!(harness.query_by_label("AT0000000001").is_none());
}

#[test]
fn account_is_suspended_and_reactivated_and_the_audit_log_shows_it() {
    let (mut app, _dir) = app_on_new_database();
    let account = app.desk_mut().create_account("Acme Ltd").unwrap();
    let mut harness = harness(app);
    settle(&mut harness);
    go_to(&mut harness, "Accounts");
    click(&mut harness, &account.number);
    click(&mut harness, "Suspend account");
    harness.get_by_label(&format!("Account {} is now Suspended.", account.number));
    click(&mut harness, "Reactivate account");
    harness.get_by_label(&format!("Account {} is now Active.", account.number));
    go_to(&mut harness, "Audit log");
    type_into(&mut harness, "Action starts with", "account.");
    settle(&mut harness);
    assert!(harness.query_all_by_label("account.create").count() == 1);
    assert!(harness.query_all_by_label("definition.create").count() == 0);
}

#[test]
fn ctrl_f_goes_to_the_token_search() {
    let (app, _dir) = app_on_new_database();
    let mut harness = harness(app);
    settle(&mut harness);
    go_to(&mut harness, "Definitions");
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::F);
    settle(&mut harness);
    let search = harness.get_by_role_and_label(egui::accesskit::Role::TextInput, "Search");
    assert!(search.is_focused());
}

#[test]
fn open_database_takes_a_typed_path_and_refuses_a_missing_file() {
    let (app, dir) = app_on_new_database();
    let other = dir.path().join("other.sqlite3");
    let mut harness = harness(app);
    settle(&mut harness);

    click(&mut harness, "Database");
    click(&mut harness, "Open database…");
    type_into(&mut harness, "Database file", &other.display().to_string());
    click(&mut harness, "Open");
    harness.get_by_label(&format!(
        "There is no database file at {}.",
        other.display()
    ));

    harness.key_press(egui::Key::Escape);
    settle(&mut harness);
    click(&mut harness, "Database");
    click(&mut harness, "New database…");
    type_into(&mut harness, "Database file", &other.display().to_string());
    click(&mut harness, "Create");
    harness.get_by_label(&format!("Created {}.", other.display()));
    harness.get_by_label(&format!("Database: {}", other.display()));
    assert_eq!(harness.state().desk().path(), other.as_path());
}

#[test]
fn pending_token_is_verified_with_the_code_shown_once_and_its_pass_code_reset() {
    let (mut app, _dir) = app_on_new_database();
    let desk = app.desk_mut();
    let mut settings = tokendesk::domain::DefinitionSettings::default();
    settings.verification.required = true;
    let draft = tokendesk::desk::DefinitionDraft {
        name: "Verified Card".to_owned(),
        settings,
        ..Default::default()
    };
    let definition = desk.create_definition(&draft).unwrap();
    desk.activate_definition(&definition.code).unwrap();
    let mut harness = harness(app);
    settle(&mut harness);

    click(&mut harness, "New token…");
    type_into(&mut harness, "Identifier", "grace@example.com");
    type_into(&mut harness, "Pass code", "2468");
    click(&mut harness, "Create token");
    harness.get_by_label("Token AT0000000001 created (Pending Verification).");
    let code = {
        let secrets = harness.state().data().secrets.as_ref().unwrap();
        let (_, code) = secrets
            .lines
            .iter()
            .find(|(label, _)| label == "Verification code")
            .unwrap();
        code.clone()
    };
    harness.get_by_label("Copy verification code");
    click(&mut harness, "Done");
    assert!(
        harness.state().data().secrets.is_none(),
        "secrets are dropped once their dialog closes"
    );

    click(&mut harness, "AT0000000001");
    // A new code replaces the first one; it too is shown once.
    click(&mut harness, "Issue a new verification code");
    let new_code = {
        let secrets = harness.state().data().secrets.as_ref().unwrap();
        secrets.lines[0].1.clone()
    };
    click(&mut harness, "Done");
    type_into(&mut harness, "Verification code", &code);
    click(&mut harness, "Verify");
    harness.get_by_label_contains("the verification code is wrong");
    type_into(&mut harness, "Verification code", &new_code);
    click(&mut harness, "Verify");
    harness.get_by_label("Token AT0000000001 verified; it is now Effective.");

    type_into(&mut harness, "New pass code", "9753");
    click(&mut harness, "Set pass code");
    harness.get_by_label("The pass code of token AT0000000001 was reset.");
    click(&mut harness, "Check credentials…");
    click(&mut harness, "By identifier and pass code");
    type_into(&mut harness, "Identifier", "grace@example.com");
    type_into(&mut harness, "Pass code", "9753");
    click(&mut harness, "Check");
    harness.get_by_label("Authenticated: token AT0000000001 (no owner).");
}

#[test]
fn participants_table_pages_through_many_owners() {
    let (mut app, _dir) = app_on_new_database();
    app.desk_mut().fill_demo_data(600, 600).unwrap();
    let mut harness = harness(app);
    settle(&mut harness);
    go_to(&mut harness, "Participants");
    harness.get_by_label_contains("600 shown");
    harness.get_by_label("RP0000000001");
    let pages = harness.state().data().participants.pages.len();
    assert!(pages <= 2, "only the visible pages are read, not {pages}");
}

#[test]
fn terminating_a_participant_asks_first_and_keep_it_changes_nothing() {
    let (mut app, _dir) = app_on_new_database();
    let desk = app.desk_mut();
    let account = desk.create_account("Acme Ltd").unwrap();
    let participant = desk
        .create_participant("Ada Lovelace", &account.number)
        .unwrap();
    let mut harness = harness(app);
    settle(&mut harness);
    go_to(&mut harness, "Participants");
    click(&mut harness, &participant.number);

    click(&mut harness, "Terminate participant");
    click(&mut harness, "Keep it");
    let state = harness
        .state()
        .desk()
        .participant(&participant.number)
        .unwrap()
        .state;
    assert_eq!(state, tokendesk::domain::ParticipantState::Effective);

    click(&mut harness, "Terminate participant");
    click(&mut harness, "Terminate");
    harness.get_by_label_contains("terminated; its tokens are unchanged");
    let state = harness
        .state()
        .desk()
        .participant(&participant.number)
        .unwrap()
        .state;
    assert_eq!(state, tokendesk::domain::ParticipantState::Terminated);
}

#[test]
fn ctrl_n_on_a_participant_prepares_a_token_for_it() {
    let (mut app, _dir) = app_on_new_database();
    let desk = app.desk_mut();
    let account = desk.create_account("Acme Ltd").unwrap();
    let participant = desk
        .create_participant("Ada Lovelace", &account.number)
        .unwrap();
    let mut harness = harness(app);
    settle(&mut harness);
    go_to(&mut harness, "Participants");
    click(&mut harness, &participant.number);
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::N);
    settle(&mut harness);
    let field =
        harness.get_by_role_and_label(egui::accesskit::Role::TextInput, "Participant number");
    assert_eq!(field.value().as_deref(), Some(participant.number.as_str()));
    click(&mut harness, "Create token");
    harness.get_by_label("Token AT0000000001 created");
    click(&mut harness, "Done");
    harness.get_by_label("Tokens (1)");
}

#[test]
fn add_existing_token_offers_only_eligible_tokens_and_links_one() {
    let (mut app, _dir) = app_on_new_database();
    let desk = app.desk_mut();
    let account = desk.create_account("Acme Ltd").unwrap();
    let participant = desk
        .create_participant("Ada Lovelace", &account.number)
        .unwrap();
    let free = desk.create_token(&Default::default()).unwrap().token;
    let retired = desk.create_token(&Default::default()).unwrap().token;
    desk.set_token_state(&retired.number, TokenState::NotEffective, "retired")
        .unwrap();
    let mut harness = harness(app);
    settle(&mut harness);
    go_to(&mut harness, "Participants");
    click(&mut harness, &participant.number);
    click(&mut harness, "Add existing token…");
    harness.get_by_label(&format!("Add {}", free.number));
    assert!(
        harness
            .query_by_label(&format!("Add {}", retired.number))
            .is_none()
    );
    click(&mut harness, &format!("Add {}", free.number));
    harness.get_by_label(&format!(
        "Token {} added to participant {}.",
        free.number, participant.number
    ));
    harness.get_by_label("Tokens (1)");
}
