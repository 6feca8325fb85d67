//! The single integration-test binary. Each file is a module; add new ones here.

// Helpers outside #[test] functions may unwrap too: a failure is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod architecture;
mod cli_life;
mod crash;
mod desk_definitions;
mod desk_owners;
mod desk_tokens;
mod export;
mod hardening;
mod import;
mod secrets;
mod storage_files;
mod ui_imports;
mod ui_reports;
mod ui_snapshots;
mod ui_support;
mod ui_window;
