//! Checks the layering that ARCHITECTURE.md promises. A crude text search, but it catches the
//! mistakes that matter.

use std::path::{Path, PathBuf};

#[test]
fn domain_knows_nothing_about_outer_layers() {
    check_layer(
        "domain",
        &[
            "egui",
            "eframe",
            "rusqlite",
            "csv::",
            "std::thread",
            "std::fs",
            "crate::app",
            "crate::desk",
            "crate::storage",
            "crate::ui",
            "crate::cli",
        ],
    );
}

#[test]
fn storage_knows_only_the_domain() {
    check_layer(
        "storage",
        &[
            "egui",
            "eframe",
            "crate::app",
            "crate::desk",
            "crate::ui",
            "crate::cli",
        ],
    );
}

#[test]
fn desk_does_not_draw() {
    check_layer(
        "desk",
        &["egui", "eframe", "crate::app", "crate::ui", "crate::cli"],
    );
}

#[test]
fn ui_does_no_io() {
    check_layer(
        "ui",
        &[
            "rusqlite",
            "crate::storage",
            "std::fs",
            "std::thread",
            "crate::app",
            "crate::cli",
        ],
    );
}

#[test]
fn only_storage_contains_sql() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for layer in ["domain", "desk", "ui", "app", "cli"] {
        for path in rust_files(&src.join(format!("{layer}.rs")), &src.join(layer)) {
            let text = code_without_comments(&std::fs::read_to_string(&path).unwrap());
            for sql in [
                "SELECT ",
                "INSERT INTO",
                "UPDATE tokens",
                "DELETE FROM",
                "CREATE TABLE",
            ] {
                assert!(
                    !text.contains(sql),
                    "{} contains SQL ({sql}); move it to storage",
                    path.display()
                );
            }
        }
    }
}

#[test]
fn every_test_file_is_part_of_the_test_binary() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it");
    let main = std::fs::read_to_string(dir.join("main.rs")).unwrap();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        if path.extension().is_some_and(|e| e == "rs") && stem != "main" {
            assert!(
                main.contains(&format!("mod {stem};")),
                "tests/it/{stem}.rs is not listed in tests/it/main.rs"
            );
        }
    }
}

/// Fails if `src/<layer>.rs` or any file under `src/<layer>/` mentions one of `forbidden`.
#[track_caller]
fn check_layer(layer: &str, forbidden: &[&str]) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for path in rust_files(&src.join(format!("{layer}.rs")), &src.join(layer)) {
        let text = code_without_comments(&std::fs::read_to_string(&path).unwrap());
        for word in forbidden {
            assert!(
                !text.contains(word),
                "{} mentions `{word}`; see ARCHITECTURE.md",
                path.display()
            );
        }
    }
}

/// The source without `//` comments, so that prose may name what code must not use.
fn code_without_comments(text: &str) -> String {
    text.lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn rust_files(root_file: &Path, dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = [root_file.to_owned()]
        .into_iter()
        .filter(|f| f.exists())
        .collect();
    let mut dirs = vec![dir.to_owned()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for path in entries.map(|entry| entry.unwrap().path()) {
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                files.push(path);
            }
        }
    }
    files
}
