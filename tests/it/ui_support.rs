//! Set-up for window tests: an app on a temporary database file, a kittest harness around it,
//! and a bounded wait for the app's background work.

use egui_kittest::Harness;
use tokendesk::TokenDeskApp;
use tokendesk::desk::Desk;
use tokendesk::domain::SecretHasher;
use tokendesk::storage::Store;
use tokendesk::ui::ViewState;

/// An app over a new database file; keep the folder alive as long as the app.
pub fn app_on_new_database() -> (TokenDeskApp, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temporary folder");
    let store = Store::open(&dir.path().join("desk.sqlite3")).expect("new database");
    let desk = Desk::new(store, SecretHasher::cheap_for_tests(), "clerk");
    (TokenDeskApp::new(desk, ViewState::default()), dir)
}

/// A harness of window size that draws `app` with `TokenDeskApp::show`.
pub fn harness(app: TokenDeskApp) -> Harness<'static, TokenDeskApp> {
    Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .with_max_steps(16)
        .build_ui_state(|ui, app: &mut TokenDeskApp| app.show(ui), app)
}

/// Runs frames until the app's background work is done and the frame is stable, with an
/// upper bound so a stuck job fails the test instead of hanging it.
pub fn settle(harness: &mut Harness<'static, TokenDeskApp>) {
    for _ in 0..1000 {
        harness.run_steps(2);
        if !harness.state().is_busy() {
            harness.run_steps(3);
            if !harness.state().is_busy() {
                return;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    panic!("the window's background work did not finish");
}

/// Clicks the text field labelled `label` and types `text` into it.
pub fn type_into(harness: &mut Harness<'static, TokenDeskApp>, label: &str, text: &str) {
    use egui_kittest::kittest::Queryable as _;
    let input = if harness
        .query_by_role_and_label(egui::accesskit::Role::TextInput, label)
        .is_some()
    {
        egui::accesskit::Role::TextInput
    } else {
        egui::accesskit::Role::PasswordInput
    };
    harness.get_by_role_and_label(input, label).click();
    harness.run_steps(2);
    harness.get_by_role_and_label(input, label).type_text(text);
    harness.run_steps(2);
}

/// Clicks the widget labelled `label` and lets the app apply what it caused.
pub fn click(harness: &mut Harness<'static, TokenDeskApp>, label: &str) {
    use egui_kittest::kittest::Queryable as _;
    harness.get_by_label(label).click();
    settle(harness);
}

/// Goes to a place of the left navigation (drawn first, so the first match of its name).
pub fn go_to(harness: &mut Harness<'static, TokenDeskApp>, place: &str) {
    use egui_kittest::kittest::Queryable as _;
    harness
        .get_all_by_label(place)
        .next()
        .expect("a navigation entry")
        .click();
    settle(harness);
}
