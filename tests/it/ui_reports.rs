//! The Reports place, worklists, bulk actions and exports from the window (SPEC §8, §10),
//! driven by label with kittest: no GPU, and never a real file dialog (paths are typed).

use egui_kittest::kittest::Queryable as _;
use tokendesk::TokenDeskApp;
use tokendesk::desk::{Credentials, TokenDraft};
use tokendesk::domain::{Secret, TokenState};

use crate::ui_support::{app_on_new_database, click, go_to, harness, settle, type_into};

/// Token numbers of the small known data set.
struct Known {
    /// Effective, with participant "Ada Lovelace" and account "Northwind".
    linked: String,
    /// Effective, no owner.
    free_a: String,
    free_b: String,
    /// Effective, no owner, locked by five wrong pass codes.
    locked: String,
    /// Not Effective, no owner.
    inactive: String,
}

/// Five tokens of the default definition; participant "Grace Hopper" holds none.
fn known(app: &mut TokenDeskApp) -> Known {
    let desk = app.desk_mut();
    let account = desk.create_account("Northwind").unwrap().number;
    let ada = desk
        .create_participant("Ada Lovelace", &account)
        .unwrap()
        .number;
    desk.create_participant("Grace Hopper", &account).unwrap();
    let mut create = |draft: TokenDraft| desk.create_token(&draft).unwrap().token.number;
    let linked = create(TokenDraft {
        participant_number: Some(ada),
        account_number: Some(account),
        ..TokenDraft::default()
    });
    let free_a = create(TokenDraft::default());
    let free_b = create(TokenDraft::default());
    let locked = create(TokenDraft {
        identifier: Some("locked.user".to_owned()),
        pass_code: Some(Secret::new("615243789")),
        ..TokenDraft::default()
    });
    let inactive = create(TokenDraft {
        state: Some(TokenState::NotEffective),
        ..TokenDraft::default()
    });
    for _ in 0..5 {
        let wrong = Credentials::Identifier {
            identifier: "locked.user".to_owned(),
            pass_code: Secret::new("000000"),
        };
        assert!(desk.authenticate(&wrong).is_err());
    }
    assert!(desk.token(&locked).unwrap().locked);
    Known {
        linked,
        free_a,
        free_b,
        locked,
        inactive,
    }
}

fn is_shown(harness: &egui_kittest::Harness<'static, TokenDeskApp>, label: &str) -> bool {
    harness.query_all_by_label(label).next().is_some()
}

fn open_reports() -> (
    egui_kittest::Harness<'static, TokenDeskApp>,
    Known,
    tempfile::TempDir,
) {
    let (mut app, dir) = app_on_new_database();
    let known = known(&mut app);
    let mut harness = harness(app);
    settle(&mut harness);
    go_to(&mut harness, "Reports");
    (harness, known, dir)
}

/// Clicks the multi-line field labelled `label` and types `text` into it.
fn type_lines(harness: &mut egui_kittest::Harness<'static, TokenDeskApp>, label: &str, text: &str) {
    let role = egui::accesskit::Role::MultilineTextInput;
    harness.get_by_role_and_label(role, label).click();
    harness.run_steps(2);
    harness.get_by_role_and_label(role, label).type_text(text);
    harness.run_steps(2);
}

/// Parses a CSV file written by an export into its header and rows.
fn read_csv(path: &std::path::Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    let rows = reader
        .records()
        .map(|record| record.unwrap().iter().map(str::to_owned).collect())
        .collect();
    (header, rows)
}

#[test]
fn summary_shows_the_numbers_of_the_known_data_set() {
    let (harness, _k, _dir) = open_reports();
    for line in [
        "Tokens: 5",
        "Pending verification: 0",
        "Locked: 1",
        "Participants with an Effective token: 1",
        "Participants without an Effective token: 1",
        "Accounts with an Effective token: 1",
        "Accounts without an Effective token: 0",
    ] {
        harness.get_by_label(line);
    }
    // Tokens by definition and state: the default definition has 4 Effective, 1 Not Effective.
    let report = harness.state().data().reports.summary.clone().unwrap();
    let cells: Vec<(TokenState, u64)> = report
        .by_definition_and_state
        .iter()
        .map(|cell| (cell.state, cell.count))
        .collect();
    assert_eq!(
        cells,
        [(TokenState::Effective, 4), (TokenState::NotEffective, 1)]
    );
    let code = &report.by_definition_and_state[0].definition_code;
    let name = &report.by_definition_and_state[0].definition_name;
    assert!(
        is_shown(&harness, &format!("{code} ({name})")),
        "the definition's row is drawn"
    );
    assert_eq!(report.created_per_month.len(), 1);
    assert_eq!(report.created_per_month[0].count, 5);
}

#[test]
fn summary_exports_to_a_typed_path() {
    let (mut harness, _k, dir) = open_reports();
    click(&mut harness, "Export summary (CSV)…");
    let path = dir.path().join("summary.csv");
    type_into(&mut harness, "Export file", path.to_str().unwrap());
    click(&mut harness, "Export");
    harness.get_by_label_contains("Exported");
    let (header, rows) = read_csv(&path);
    assert_eq!(header, ["section", "label", "state", "count"]);
    assert!(rows.contains(&vec![
        "total_tokens".to_owned(),
        String::new(),
        String::new(),
        "5".to_owned()
    ]));
    assert!(rows.contains(&vec![
        "locked".to_owned(),
        String::new(),
        String::new(),
        "1".to_owned()
    ]));
}

#[test]
fn worklists_list_the_right_tokens() {
    let (mut harness, k, _dir) = open_reports();
    click(&mut harness, "Locked tokens");
    harness.get_by_label("1 entry");
    assert!(is_shown(&harness, &k.locked));
    assert!(!is_shown(&harness, &k.free_a));

    click(&mut harness, "Unassigned tokens");
    harness.get_by_label("4 entries");
    for number in [&k.free_a, &k.free_b, &k.locked, &k.inactive] {
        assert!(is_shown(&harness, number), "{number} is unassigned");
    }
    assert!(!is_shown(&harness, &k.linked));

    click(&mut harness, "Participants without an Effective token");
    harness.get_by_label("Grace Hopper");
    assert!(!is_shown(&harness, "Ada Lovelace"));
}

#[test]
fn worklist_exports_every_row_to_a_typed_path_with_the_excel_option() {
    let (mut harness, k, dir) = open_reports();
    click(&mut harness, "Unassigned tokens");
    click(&mut harness, "Export worklist (CSV)…");
    let path = dir.path().join("unassigned.csv");
    type_into(&mut harness, "Export file", path.to_str().unwrap());
    click(
        &mut harness,
        "Excel-friendly (starts the file with a byte order mark)",
    );
    click(&mut harness, "Export");
    harness.get_by_label_contains("Exported 4 rows to");
    let bytes = std::fs::read(&path).unwrap();
    assert!(
        bytes.starts_with("\u{FEFF}".as_bytes()),
        "Excel option adds a BOM"
    );
    let text = String::from_utf8(bytes).unwrap();
    let text = text.trim_start_matches('\u{FEFF}');
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(&reader.headers().unwrap()[0], "token_number");
    let mut numbers: Vec<String> = reader
        .records()
        .map(|record| record.unwrap()[0].to_owned())
        .collect();
    numbers.sort();
    let mut expected = vec![k.free_a, k.free_b, k.locked, k.inactive];
    expected.sort();
    assert_eq!(numbers, expected);
    click(&mut harness, "Close");
    assert!(!is_shown(&harness, "Export file"));
}

#[test]
fn bulk_preview_shows_eligible_and_refused_then_apply_changes_the_eligible_ones() {
    let (mut harness, k, _dir) = open_reports();
    click(&mut harness, "Unassigned tokens");
    // One ticked row and two typed lines: one already Not Effective, one unknown.
    click(&mut harness, &k.free_a);
    harness.get_by_label("1 selected");
    type_lines(
        &mut harness,
        "Token numbers, authentication codes or identifiers (one per line)",
        &format!("{}\nno-such-token", k.inactive),
    );

    // The reason is required: nothing is previewed or changed without one.
    click(&mut harness, "Preview");
    harness.get_by_label("Reason is required.");
    assert!(harness.state().data().reports.bulk.is_none());
    click(&mut harness, "Apply");
    assert_eq!(
        harness.state().desk().token(&k.free_a).unwrap().state,
        TokenState::Effective
    );

    type_into(&mut harness, "Reason", "cards returned");
    click(&mut harness, "Preview");
    harness.get_by_label_contains("1 would succeed, 2 refused");
    assert_eq!(harness.query_all_by_label_contains("Refused: ").count(), 2);
    harness.get_by_label_contains("No token has");
    harness.get_by_label_contains("cannot be made Not Effective");
    assert_eq!(
        harness.state().desk().token(&k.free_a).unwrap().state,
        TokenState::Effective,
        "a preview changes nothing"
    );

    click(&mut harness, "Apply");
    harness.get_by_label_contains("1 changed, 2 refused");
    assert_eq!(
        harness.query_all_by_label_contains("Refused: ").count(),
        2,
        "the refusals stay listed after applying"
    );
    let desk = harness.state().desk();
    assert_eq!(
        desk.token(&k.free_a).unwrap().state,
        TokenState::NotEffective
    );
    assert_eq!(desk.token(&k.free_b).unwrap().state, TokenState::Effective);
    let history = desk.token_history(&k.free_a).unwrap();
    assert_eq!(history[0].action, "token.state");
    assert!(history[0].details.ends_with("cards returned"));
}

#[test]
fn locked_worklist_unlocks_the_selected_page() {
    let (mut harness, k, _dir) = open_reports();
    click(&mut harness, "Locked tokens");
    click(&mut harness, "Unlock");
    click(&mut harness, "Select all on page");
    harness.get_by_label("1 selected");
    type_into(&mut harness, "Reason", "customer called");
    click(&mut harness, "Apply");
    harness.get_by_label_contains("1 changed, 0 refused");
    assert!(!harness.state().desk().token(&k.locked).unwrap().locked);
    harness.get_by_label("0 entries");
}

#[test]
fn ctrl_e_exports_what_the_tokens_filter_shows() {
    let (app, dir) = app_on_new_database();
    let mut app = app;
    let k = known(&mut app);
    let mut harness = harness(app);
    settle(&mut harness);
    type_into(&mut harness, "Search", &k.inactive);
    settle(&mut harness);
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::E);
    settle(&mut harness);
    harness.get_by_label("Export the tokens the filter shows");
    harness.get_by_label("1 token matches the filter.");
    let path = dir.path().join("tokens.csv");
    type_into(&mut harness, "Export file", path.to_str().unwrap());
    click(&mut harness, "Export");
    harness.get_by_label_contains("Exported 1 row to");
    let (header, rows) = read_csv(&path);
    assert_eq!(header.len(), 15);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][0], k.inactive);
    assert_eq!(rows[0][2], "not_effective");
}

#[test]
fn audit_log_exports_the_filtered_events() {
    let (mut app, dir) = app_on_new_database();
    let k = known(&mut app);
    let mut harness = harness(app);
    settle(&mut harness);
    go_to(&mut harness, "Audit log");
    type_into(&mut harness, "Record number", &k.locked);
    settle(&mut harness);
    click(&mut harness, "Export…");
    let path = dir.path().join("audit.csv");
    type_into(&mut harness, "Export file", path.to_str().unwrap());
    click(&mut harness, "Export");
    harness.get_by_label_contains("Exported");
    let (header, rows) = read_csv(&path);
    assert_eq!(
        header,
        [
            "id",
            "at",
            "clerk",
            "action",
            "record_kind",
            "record_number",
            "details"
        ]
    );
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|row| row[5] == k.locked), "{rows:?}");
    assert!(rows.iter().any(|row| row[3] == "token.create"), "{rows:?}");
    // The export itself is audited.
    let events = harness
        .state()
        .desk()
        .audit_events(&Default::default(), i64::MAX, 5)
        .unwrap();
    assert_eq!(events[0].action, "export.audit");
    assert!(events[0].details.contains(&format!("record {}", k.locked)));
}

#[test]
fn worklist_pages_forward_and_back() {
    let (mut app, _dir) = app_on_new_database();
    let numbers: Vec<String> = (0..105)
        .map(|_| {
            app.desk_mut()
                .create_token(&TokenDraft::default())
                .unwrap()
                .token
                .number
        })
        .collect();
    let mut harness = harness(app);
    settle(&mut harness);
    go_to(&mut harness, "Reports");
    click(&mut harness, "Unassigned tokens");
    harness.get_by_label("105 entries");
    harness.get_by_label("Page 1");
    assert!(is_shown(&harness, &numbers[0]));
    click(&mut harness, "Next page");
    harness.get_by_label("Page 2");
    assert_eq!(harness.state().data().reports.items.len(), 5);
    assert!(is_shown(&harness, &numbers[104]));
    assert!(!is_shown(&harness, &numbers[0]));
    click(&mut harness, "Previous page");
    harness.get_by_label("Page 1");
    assert!(is_shown(&harness, &numbers[0]));
}

#[test]
fn ctrl_e_on_the_reports_place_exports_the_worklist_shown() {
    let (mut harness, k, dir) = open_reports();
    click(&mut harness, "Locked tokens");
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::E);
    settle(&mut harness);
    harness.get_by_label("Export the worklist \"Locked tokens\"");
    let path = dir.path().join("locked.csv");
    type_into(&mut harness, "Export file", path.to_str().unwrap());
    click(&mut harness, "Export");
    harness.get_by_label_contains("Exported 1 row to");
    let (_, rows) = read_csv(&path);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][0], k.locked);
}

#[test]
fn pending_verification_worklist_shows_the_code_age() {
    let (mut app, _dir) = app_on_new_database();
    let mut settings = tokendesk::domain::DefinitionSettings::default();
    settings.verification.required = true;
    crate::support::use_definition(app.desk_mut(), "Verified", settings);
    let pending = app
        .desk_mut()
        .create_token(&TokenDraft::default())
        .unwrap()
        .token;
    assert_eq!(pending.state, TokenState::PendingVerification);
    let mut harness = harness(app);
    settle(&mut harness);
    go_to(&mut harness, "Reports");
    harness.get_by_label("Pending verification: 1");
    harness
        .get_all_by_label("Pending verification")
        .next()
        .unwrap()
        .click();
    settle(&mut harness);
    harness.get_by_label("1 entry");
    harness.get_by_label("Code age");
    assert!(is_shown(&harness, &pending.number));
    harness.get_by_label("0 h");
}

#[test]
fn bulk_action_on_a_typed_list_of_identifiers_and_numbers() {
    let (mut harness, k, _dir) = open_reports();
    click(&mut harness, "Bulk action on a list");
    click(&mut harness, "Unlock");
    type_lines(
        &mut harness,
        "Token numbers, authentication codes or identifiers (one per line)",
        &format!("locked.user\n{}", k.free_a),
    );
    type_into(&mut harness, "Reason", "customer called");
    click(&mut harness, "Preview");
    harness.get_by_label_contains("1 would succeed, 1 refused");
    harness.get_by_label_contains("is not locked");
    assert!(harness.state().desk().token(&k.locked).unwrap().locked);
    click(&mut harness, "Apply");
    harness.get_by_label_contains("1 changed, 1 refused");
    harness.get_by_label_contains("is not locked");
    assert!(!harness.state().desk().token(&k.locked).unwrap().locked);
}

#[test]
fn r7_worklist_lists_tokens_the_effective_definition_no_longer_accepts() {
    let (mut app, _dir) = app_on_new_database();
    let short = app
        .desk_mut()
        .create_token(&TokenDraft {
            identifier: Some("@home".to_owned()),
            pass_code: Some(Secret::new("918273645")),
            ..TokenDraft::default()
        })
        .unwrap()
        .token
        .number;
    let fine = app
        .desk_mut()
        .create_token(&TokenDraft {
            identifier: Some("ada@example.com".to_owned()),
            pass_code: Some(Secret::new("564738291")),
            ..TokenDraft::default()
        })
        .unwrap()
        .token
        .number;
    let settings = tokendesk::domain::DefinitionSettings {
        identifier: tokendesk::domain::CredentialRule::typed(
            tokendesk::domain::TextFormat::FreeText,
            6,
            64,
        ),
        ..Default::default()
    };
    crate::support::use_definition(app.desk_mut(), "Longer identifiers", settings);
    let mut harness = harness(app);
    settle(&mut harness);
    go_to(&mut harness, "Reports");
    click(&mut harness, "Not valid (R7)");
    harness.get_by_label("Problems");
    assert!(is_shown(&harness, &short));
    assert!(!is_shown(&harness, &fine));
    harness.get_by_label_contains("identifier must be 6");
    // Counted once the whole list fits on one page.
    harness.get_by_label("1 entry");
}
