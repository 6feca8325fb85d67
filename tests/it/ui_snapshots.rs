//! Image snapshots of every place in the window on a small deterministic data set. They render
//! headlessly with wgpu on Mesa's software GL and run only with `--features snapshot`
//! (`.ci/run` does); `UPDATE_SNAPSHOTS=1` rewrites them under `tests/snapshots/`.
#![cfg(feature = "snapshot")]

use std::sync::Arc;

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use tokendesk::TokenDeskApp;
use tokendesk::desk::Desk;
use tokendesk::domain::SecretHasher;
use tokendesk::storage::Store;
use tokendesk::ui::ViewState;

use crate::ui_support::{go_to, settle};

/// An app whose clock stands still, over the same sample data every time, in a database whose
/// path (shown in the status bar) is the same on every machine.
fn sample_app() -> TokenDeskApp {
    let path = std::path::Path::new("target/snapshot-desk.sqlite3");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let fixed = chrono::DateTime::parse_from_rfc3339("2026-12-01T09:30:00Z")
        .unwrap()
        .to_utc();
    let store = Store::open_created_at(path, fixed).unwrap();
    let mut desk = Desk::new(store, SecretHasher::cheap_for_tests(), "maria");
    desk.set_clock(Arc::new(move || fixed));
    desk.fill_demo_data(60, 24).unwrap();
    TokenDeskApp::new(desk, ViewState::default())
}

fn snapshot_harness(app: TokenDeskApp) -> Harness<'static, TokenDeskApp> {
    Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .with_max_steps(16)
        .build_ui_state(|ui, app: &mut TokenDeskApp| app.show(ui), app)
}

#[test]
fn every_place_looks_as_it_did() {
    let mut harness = snapshot_harness(sample_app());
    settle(&mut harness);
    harness.snapshot("tokens");
    harness.get_by_label("AT0000000005").click();
    settle(&mut harness);
    harness.snapshot("token_detail");
    for (place, name) in [
        ("Participants", "participants"),
        ("Accounts", "accounts"),
        ("Definitions", "definitions"),
        ("Imports", "imports"),
        ("Reports", "reports"),
        ("Audit log", "audit_log"),
    ] {
        go_to(&mut harness, place);
        harness.snapshot(name);
    }
}
