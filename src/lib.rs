//! Token Desk: a desk for the clerks who manage customer access tokens.
//!
//! Layers, outermost first: `app` (eframe shell) → `ui` (draws, emits commands) → `desk` (use
//! cases) → `storage` (all SQL) → `domain` (pure rules). See ARCHITECTURE.md.

pub mod app;
pub mod cli;
pub mod desk;
pub mod domain;
pub mod storage;
pub mod ui;

pub use app::{TokenDeskApp, run_window};
