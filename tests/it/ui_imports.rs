//! The Imports wizard driven by label, as a clerk would: kittest, no GPU, never a real file
//! dialog (paths are typed).

use std::path::{Path, PathBuf};

use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT as _, Queryable as _};
use tokendesk::TokenDeskApp;
use tokendesk::desk::{Credentials, TokenFilter};
use tokendesk::domain::{Alphabet, CredentialRule, DefinitionSettings, Secret};

use crate::support::use_definition;
use crate::ui_support::{app_on_new_database, click, go_to, settle, type_into};

/// A harness tall enough to show the whole wizard without scrolling.
fn tall_harness(app: TokenDeskApp) -> Harness<'static, TokenDeskApp> {
    Harness::builder()
        .with_size(egui::vec2(1400.0, 2000.0))
        .with_max_steps(16)
        .build_ui_state(|ui, app: &mut TokenDeskApp| app.show(ui), app)
}

fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn tokens(harness: &Harness<'static, TokenDeskApp>) -> u64 {
    harness
        .state()
        .desk()
        .count_tokens(&TokenFilter::default())
        .unwrap()
}

fn is_disabled(harness: &Harness<'static, TokenDeskApp>, label: &str) -> bool {
    harness.get_by_label(label).accesskit_node().is_disabled()
}

/// Opens Imports, types `path` and previews it.
fn preview(harness: &mut Harness<'static, TokenDeskApp>, path: &Path) {
    go_to(harness, "Imports");
    type_into(harness, "CSV file", &path.display().to_string());
    click(harness, "Preview");
}

const OWNERS_CSV: &str = "account_number,account_name,identifier,pass_code,created_at\n\
ACR-1,Acme Ltd,ada@example.com,4711,\n\
ACR-1,Acme Ltd,alan@example.com,12,\n\
,,,,2026-01-01T00:00:00Z\n";

#[test]
fn ctrl_i_opens_imports_and_the_preview_shows_delimiter_and_columns() {
    let (app, dir) = app_on_new_database();
    let mut harness = tall_harness(app);
    settle(&mut harness);
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::I);
    settle(&mut harness);
    harness.get_by_label("1. Choose the file");

    let path = write_file(
        dir.path(),
        "semicolons.csv",
        "identifier;passcode;created_at\nada@example.com;4711;2026-01-01\n",
    );
    type_into(&mut harness, "CSV file", &path.display().to_string());
    click(&mut harness, "Preview");
    harness.get_by_label("Delimiter: semicolon (;)");
    harness.get_by_label("identifier: known");
    harness.get_by_label("created_at: ignored");
    harness.get_by_label("passcode: unknown column");
    harness.get_by_label_contains("names an unknown column \"passcode\"");
    harness.get_by_label("ada@example.com");
    // A misspelt pass-code column holds clear pass codes all the same: they are masked.
    assert!(harness.query_by_label("4711").is_none());
    assert!(is_disabled(&harness, "Dry run"));
    assert!(is_disabled(&harness, "Import"));

    // Pass codes in the file are never shown, not even in the preview.
    let path = write_file(dir.path(), "owners.csv", OWNERS_CSV);
    harness
        .get_by_role_and_label(egui::accesskit::Role::TextInput, "CSV file")
        .click();
    harness.run_steps(2);
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    harness
        .get_by_role_and_label(egui::accesskit::Role::TextInput, "CSV file")
        .type_text(&path.display().to_string());
    harness.run_steps(2);
    click(&mut harness, "Preview");
    harness.get_by_label("Delimiter: comma (,)");
    harness.get_by_label("pass_code: known");
    assert!(harness.query_by_label("4711").is_none());
    assert!(!is_disabled(&harness, "Dry run"));
}

#[test]
fn dry_run_counts_and_rejected_rows_then_import_creates_the_tokens() {
    let (app, dir) = app_on_new_database();
    let mut harness = tall_harness(app);
    settle(&mut harness);
    let path = write_file(dir.path(), "owners.csv", OWNERS_CSV);
    preview(&mut harness, &path);
    click(
        &mut harness,
        "Create participants and accounts the file names",
    );

    click(&mut harness, "Dry run");
    harness.get_by_label_contains("Dry run, nothing was changed");
    harness.get_by_label("Would create: 2");
    harness.get_by_label("Unchanged: 0");
    harness.get_by_label("Rejected: 1");
    harness.get_by_label("Rejected rows");
    harness.get_by_label("Pass code must be 4–12 characters long.");
    assert!(harness.query_all_by_label("3").count() >= 1);
    assert_eq!(tokens(&harness), 0);

    // The whole report can be saved.
    let report = dir.path().join("report.csv");
    type_into(&mut harness, "Report file", &report.display().to_string());
    click(&mut harness, "Save report");
    let text = std::fs::read_to_string(&report).unwrap();
    assert!(text.starts_with("line,outcome,token_number,authentication_code,message"));
    assert_eq!(
        text.lines().filter(|l| l.contains("would_create")).count(),
        2
    );
    assert_eq!(text.lines().filter(|l| l.contains(",rejected,")).count(), 1);
    // The report is kept for the clerk, not used up: saving it again gives the same file.
    // (Typing adds to the path in the field.)
    type_into(&mut harness, "Report file", "-again.csv");
    let again = dir.path().join("report.csv-again.csv");
    click(&mut harness, "Save report");
    assert_eq!(std::fs::read_to_string(&again).unwrap(), text);

    // Without skipping, the rejected row means nothing is applied.
    click(&mut harness, "Import");
    harness.get_by_label_contains("Nothing was imported because 1 row was rejected");
    assert_eq!(tokens(&harness), 0);

    click(&mut harness, "Skip invalid rows (import the valid ones)");
    click(&mut harness, "Import");
    harness.get_by_label_contains("Imported as batch");
    harness.get_by_label("Created: 2");
    assert_eq!(tokens(&harness), 2);
    let desk = harness.state().desk();
    let account = desk.account("ACR-1").unwrap();
    assert_eq!(account.name, "Acme Ltd");
    harness.get_by_label("owners.csv");
    harness.get_by_label("Undo batch 1");
    harness.get_by_label("2 tokens");
}

#[test]
fn generated_pass_codes_need_a_credentials_file_written_owner_only() {
    let (mut app, dir) = app_on_new_database();
    let settings = DefinitionSettings {
        pass_code: CredentialRule::random(Alphabet::Digits, 6),
        ..DefinitionSettings::default()
    };
    use_definition(app.desk_mut(), "Generated PIN", settings);
    let mut harness = tall_harness(app);
    settle(&mut harness);
    let path = write_file(
        dir.path(),
        "logins.csv",
        "identifier\nada@example.com\ngrace@example.com\n",
    );
    preview(&mut harness, &path);
    harness.get_by_label_contains("This import generates pass codes");
    assert!(is_disabled(&harness, "Import"));
    harness.get_by_label_contains("Choose a credentials file first");
    // A dry run writes no secrets, so it may run.
    click(&mut harness, "Dry run");
    harness.get_by_label("Would create: 2");

    let credentials = dir.path().join("credentials.csv");
    type_into(
        &mut harness,
        "Credentials file",
        &credentials.display().to_string(),
    );
    assert!(!is_disabled(&harness, "Import"));
    click(&mut harness, "Import");
    harness.get_by_label("Created: 2");
    harness.get_by_label_contains(&format!(
        "Generated secrets of 2 tokens are in {}",
        credentials.display()
    ));
    // The file now holds secrets: the next import must choose a new one.
    assert_eq!(
        harness
            .get_by_role_and_label(egui::accesskit::Role::TextInput, "Credentials file")
            .value()
            .as_deref(),
        Some("")
    );
    assert_eq!(tokens(&harness), 2);

    let text = std::fs::read_to_string(&credentials).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("token_number,authentication_code,identifier,pass_code,verification_code")
    );
    let first: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(first[2], "ada@example.com");
    assert_eq!(first[3].len(), 6);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&credentials)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // A credentials file that exists already is never overwritten.
    let more = write_file(dir.path(), "more.csv", "identifier\nalan@example.com\n");
    harness
        .get_by_role_and_label(egui::accesskit::Role::TextInput, "CSV file")
        .click();
    harness.run_steps(2);
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    harness
        .get_by_role_and_label(egui::accesskit::Role::TextInput, "CSV file")
        .type_text(&more.display().to_string());
    harness.run_steps(2);
    click(&mut harness, "Preview");
    type_into(
        &mut harness,
        "Credentials file",
        &credentials.display().to_string(),
    );
    click(&mut harness, "Import");
    harness.get_by_label_contains("already exists; choose a new file for the credentials");
    assert_eq!(tokens(&harness), 2);
    assert_eq!(std::fs::read_to_string(&credentials).unwrap(), text);
    harness
        .state_mut()
        .desk_mut()
        .authenticate(&Credentials::Identifier {
            identifier: "ada@example.com".to_owned(),
            pass_code: Secret::new(first[3].to_owned()),
        })
        .expect("the generated pass code from the credentials file works");
}

#[test]
fn cancel_leaves_the_database_as_it_was() {
    let (app, dir) = app_on_new_database();
    let mut harness = tall_harness(app);
    settle(&mut harness);
    // Large enough that the import is still running when the clerk gets to Cancel, even on a
    // busy machine running the other tests (300,000 rows once finished first).
    let mut text = String::from("state\n");
    text.push_str(&"effective\n".repeat(3_000_000));
    let path = write_file(dir.path(), "big.csv", &text);
    preview(&mut harness, &path);
    harness.get_by_label("state: known");
    harness.get_by_label("Import").click();
    harness.run_steps(2);
    // The run is in progress: the buttons wait, and Cancel is offered.
    assert!(harness.state().is_busy());
    assert!(is_disabled(&harness, "Dry run"));
    harness.get_by_label_contains("Importing big.csv: ");
    harness.get_by_label_contains(" rows/s");
    // The window stays responsive: other places show why changes wait.
    harness.get_all_by_label("Tokens").next().unwrap().click();
    harness.run_steps(2);
    harness.get_by_label_contains("changes are paused until it finishes or is cancelled");
    harness.get_all_by_label("Imports").next().unwrap().click();
    harness.run_steps(2);
    harness.get_by_label("Cancel").click();
    settle(&mut harness);
    harness.get_by_label("The import was cancelled; nothing was changed.");
    assert_eq!(tokens(&harness), 0);
    assert!(harness.state().desk().batches().unwrap().is_empty());
    harness.get_by_label("No imports yet.");
}

#[test]
fn undo_removes_the_batch_and_is_refused_after_a_token_was_used() {
    let (app, dir) = app_on_new_database();
    let mut harness = tall_harness(app);
    settle(&mut harness);
    let first = write_file(dir.path(), "first.csv", "state\neffective\neffective\n");
    preview(&mut harness, &first);
    click(&mut harness, "Import");
    harness.get_by_label("Created: 2");
    assert_eq!(tokens(&harness), 2);

    click(&mut harness, "Undo batch 1");
    click(&mut harness, "Undo the batch");
    harness.get_by_label_contains("Batch 1 undone: removed 2 tokens");
    assert_eq!(tokens(&harness), 0);
    harness.get_by_label_contains("undone ");

    // A second batch whose token has been used since cannot be undone.
    let second = write_file(dir.path(), "second.csv", "state\neffective\n");
    type_into(&mut harness, "CSV file", "");
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    harness
        .get_by_role_and_label(egui::accesskit::Role::TextInput, "CSV file")
        .type_text(&second.display().to_string());
    harness.run_steps(2);
    click(&mut harness, "Preview");
    click(&mut harness, "Import");
    harness.get_by_label("Created: 1");
    let code = {
        let desk = harness.state().desk();
        let batch = desk.batches().unwrap()[0].id;
        assert_eq!(batch, 2);
        let token = desk
            .list_tokens(
                &TokenFilter::default(),
                tokendesk::desk::TokenSort::Number,
                tokendesk::desk::SortDirection::Ascending,
                None,
                10,
            )
            .unwrap()
            .remove(0);
        token.authentication_code
    };
    harness
        .state_mut()
        .desk_mut()
        .authenticate(&Credentials::AuthenticationCode(code))
        .expect("the imported token authenticates");
    click(&mut harness, "Undo batch 2");
    click(&mut harness, "Undo the batch");
    harness.get_by_label_contains("Batch 2 cannot be undone");
    harness.get_by_label_contains("has been used");
    assert_eq!(tokens(&harness), 1);
}
