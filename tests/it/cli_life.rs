//! The built binary through a token's whole life (SPEC §9), and its exit statuses.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

/// A distinctive pass code, searched for in the database files afterwards.
const PASS_CODE: &str = "73519246";

struct Cli {
    dir: tempfile::TempDir,
}

impl Cli {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn db(&self) -> PathBuf {
        self.dir.path().join("desk.sqlite3")
    }

    fn command(&self, args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tokendesk"));
        command
            .args(["--db", self.db().to_str().unwrap(), "--clerk", "tester"])
            .args(args);
        command.env_remove("TOKENDESK_DB");
        if let Some(input) = stdin {
            command.write_stdin(input);
        }
        let output = command.output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(
            !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
            "{stderr}"
        );
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr,
        )
    }

    #[track_caller]
    fn json(&self, args: &[&str], stdin: Option<&str>) -> Value {
        let (code, stdout, stderr) = self.command(args, stdin);
        assert_eq!(code, 0, "{args:?} failed: {stderr}");
        serde_json::from_str(&stdout)
            .unwrap_or_else(|err| panic!("{args:?} printed no JSON ({err}): {stdout}"))
    }

    /// Runs a command that must fail with `status`; returns its one-sentence message.
    #[track_caller]
    fn fails(&self, args: &[&str], stdin: Option<&str>, status: i32) -> String {
        let (code, stdout, stderr) = self.command(args, stdin);
        assert_eq!(code, status, "{args:?}: {stdout} {stderr}");
        stderr
    }
}

fn contains_bytes(path: &Path, needle: &[u8]) -> bool {
    ["", "-wal", "-shm"].iter().any(|suffix| {
        std::fs::read(format!("{}{suffix}", path.display()))
            .is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle))
    })
}

#[test]
fn a_tokens_whole_life_on_the_command_line() {
    let cli = Cli::new();
    let account = cli.json(&["account", "create", "--name", "Northwind"], None);
    assert_eq!(account["number"], "ACR0000000001");
    let participant = cli.json(
        &[
            "participant",
            "create",
            "--name",
            "Ada Lovelace",
            "--account",
            "ACR0000000001",
        ],
        None,
    );
    assert_eq!(participant["number"], "RP0000000001");

    let token = cli.json(
        &[
            "token",
            "create",
            "--participant",
            "RP0000000001",
            "--identifier",
            " Ada@Example.com ",
            "--pass-code-stdin",
        ],
        Some(&format!("{PASS_CODE}\n")),
    );
    assert_eq!(token["number"], "AT0000000001");
    assert_eq!(token["identifier"], "Ada@Example.com");
    assert_eq!(token["created_by"], "tester");
    assert!(
        token.get("pass_code").is_none(),
        "a typed pass code is never echoed"
    );
    let auth_code = token["authentication_code"].as_str().unwrap().to_owned();

    // R50: by identifier, case- and space-insensitively, and by code.
    let found = cli.json(
        &["authenticate", "--identifier", "  ADA@example.COM"],
        Some(PASS_CODE),
    );
    assert_eq!(found["participant_number"], "RP0000000001");
    let found = cli.json(&["authenticate", "--auth-code", &auth_code], None);
    assert_eq!(found["number"], "AT0000000001");

    // R51: five wrong pass codes lock the token; even the right one is then refused.
    for _ in 0..4 {
        let message = cli.fails(
            &["authenticate", "--identifier", "ada@example.com"],
            Some("1111"),
            1,
        );
        assert!(message.contains("pass code is wrong"), "{message}");
    }
    let message = cli.fails(
        &["authenticate", "--identifier", "ada@example.com"],
        Some("1111"),
        1,
    );
    assert!(message.contains("now locked"), "{message}");
    let message = cli.fails(
        &["authenticate", "--identifier", "ada@example.com"],
        Some(PASS_CODE),
        1,
    );
    assert!(message.contains("locked"), "{message}");
    let unlocked = cli.json(
        &[
            "token",
            "unlock",
            "AT0000000001",
            "--reason",
            "customer called",
        ],
        None,
    );
    assert_eq!(unlocked["locked"], false);
    cli.json(
        &["authenticate", "--identifier", "ada@example.com"],
        Some(PASS_CODE),
    );

    // R20: refused deactivation names the owner.
    let message = cli.fails(
        &[
            "token",
            "set-state",
            "AT0000000001",
            "not_effective",
            "--reason",
            "lost",
        ],
        None,
        1,
    );
    assert!(
        message.contains("remove the token from participant RP0000000001"),
        "{message}"
    );

    // R24: removal from the last owner deactivates it; R21: then it can be deleted.
    let removed = cli.json(
        &[
            "participant",
            "remove-token",
            "RP0000000001",
            "AT0000000001",
        ],
        None,
    );
    assert_eq!(removed["state"], "not_effective");
    let (code, _, _) = cli.command(&["token", "delete", "AT0000000001"], None);
    assert_eq!(code, 0);
    let message = cli.fails(&["token", "show", "AT0000000001"], None, 1);
    assert!(
        message.contains("There is no token AT0000000001."),
        "{message}"
    );

    // R8: the typed pass code never reached the database files in any form we can find.
    assert!(!contains_bytes(&cli.db(), PASS_CODE.as_bytes()));
    let history = cli.json(&["token", "history", "AT0000000001"], None);
    let history = history.to_string();
    assert!(history.contains("token.delete") && !history.contains(PASS_CODE));
}

#[test]
fn usage_errors_exit_2_and_file_errors_exit_3_with_one_sentence() {
    let cli = Cli::new();
    cli.fails(
        &[
            "token",
            "set-state",
            "AT0000000001",
            "bogus",
            "--reason",
            "r",
        ],
        None,
        2,
    );
    cli.fails(&["token", "frobnicate"], None, 2);
    cli.fails(&["authenticate"], None, 2);
    let message = cli.fails(&["authenticate", "--identifier", "ada"], Some(""), 2);
    assert!(message.contains("No pass code was given"), "{message}");

    std::fs::write(cli.db(), b"not a database at all").unwrap();
    let message = cli.fails(&["account", "create", "--name", "X"], None, 3);
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(
        message.contains("is not a Token Desk database; it was left untouched."),
        "{message}"
    );
    assert_eq!(std::fs::read(cli.db()).unwrap(), b"not a database at all");

    let missing = cli.dir.path().join("missing.json");
    std::fs::remove_file(cli.db()).unwrap();
    let message = cli.fails(&["definition", "add", missing.to_str().unwrap()], None, 3);
    assert!(message.contains("does not exist"), "{message}");
}

#[test]
fn definitions_and_demo_data_from_the_command_line() {
    let cli = Cli::new();
    let definitions = cli.json(&["definition", "list"], None);
    assert_eq!(definitions[0]["code"], "STD");
    let file = cli.dir.path().join("gold.json");
    std::fs::write(
        &file,
        r#"{"name": "Gold card", "settings": {"lockout_threshold": 3}}"#,
    )
    .unwrap();
    let added = cli.json(&["definition", "add", file.to_str().unwrap()], None);
    assert_eq!(added[0]["code"], "GC");
    assert_eq!(cli.command(&["definition", "activate", "GC"], None).0, 0);
    assert_eq!(
        cli.json(&["definition", "show", "GC"], None)["is_effective"],
        true
    );
    let (code, _, stderr) = cli.command(
        &["demo-data", "--tokens", "300", "--participants", "20"],
        None,
    );
    assert_eq!(code, 0, "{stderr}");
    let shown = cli.json(&["participant", "show", "RP0000000003"], None);
    assert_eq!(shown["tokens"].as_array().unwrap().len(), 1);
}
