//! Secrets never leak: after creating and importing tokens with known pass codes and
//! verification codes, and running every export, report and log at debug level, none of those
//! secrets is found in the database files, the WAL, any output file or the captured logs.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

struct Run {
    dir: tempfile::TempDir,
    /// Everything the commands wrote to standard error at debug level, and their ordinary output.
    logs: String,
}

impl Run {
    fn db(&self) -> PathBuf {
        self.dir.path().join("desk.sqlite3")
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs a command at debug log level; its output joins the searched logs unless `keep_out`.
    fn run(&mut self, args: &[&str], stdin: &str, keep_out: bool) -> String {
        let output = Command::new(env!("CARGO_BIN_EXE_tokendesk"))
            .args(["--db", self.db().to_str().unwrap(), "--clerk", "auditor"])
            .args(args)
            .env("RUST_LOG", "debug")
            .env_remove("TOKENDESK_DB")
            .write_stdin(stdin)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        self.logs.push_str(&String::from_utf8_lossy(&output.stderr));
        if !keep_out {
            self.logs.push_str(&stdout);
        }
        assert!(
            output.status.code().is_some_and(|c| c <= 1),
            "{args:?}: {stdout} {}",
            self.logs
        );
        stdout
    }
}

fn json_field(stdout: &str, field: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(stdout).unwrap();
    value[field]
        .as_str()
        .unwrap_or_else(|| panic!("no {field} in {stdout}"))
        .to_owned()
}

fn files_containing(dir: &Path, needle: &str, skip: &[PathBuf]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if skip.contains(&path) || !path.is_file() {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        if bytes
            .windows(needle.len())
            .any(|window| window == needle.as_bytes())
        {
            found.push(path);
        }
    }
    found
}

#[test]
fn no_secret_is_found_in_the_database_outputs_or_logs() {
    let mut run = Run {
        dir: tempfile::tempdir().unwrap(),
        logs: String::new(),
    };
    let mut secrets: Vec<String> = Vec::new();

    // Typed pass codes, by hand and by import (Standard definition: 4–12 digits).
    let typed = "86420975";
    secrets.push(typed.to_owned());
    run.run(
        &[
            "token",
            "create",
            "--identifier",
            "typed@example.com",
            "--pass-code-stdin",
        ],
        &format!("{typed}\n"),
        false,
    );
    let csv = run.path("typed.csv");
    std::fs::write(
        &csv,
        "identifier,pass_code\nfirst@example.com,91827364\nsecond@example.com,55443322\n",
    )
    .unwrap();
    secrets.extend(["91827364".to_owned(), "55443322".to_owned()]);
    let report = run.path("typed-report.csv");
    run.run(
        &[
            "import",
            csv.to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
        ],
        "",
        false,
    );

    // A definition that generates pass codes and requires 12-digit verification codes.
    let definition = run.path("generated.json");
    std::fs::write(
        &definition,
        r#"{"name": "Generated secrets", "code": "GEN", "settings": {
            "pass_code": {"method": "random", "alphabet": "alphanumeric", "length": 16, "min_length": 16, "max_length": 16},
            "verification": {"required": true, "code_length": 12, "valid_hours": 72}}}"#,
    )
    .unwrap();
    run.run(
        &["definition", "add", definition.to_str().unwrap()],
        "",
        false,
    );
    run.run(&["definition", "activate", "GEN"], "", false);
    let created = run.run(
        &["token", "create", "--identifier", "generated@example.com"],
        "",
        true,
    );
    let generated_pass_code = json_field(&created, "pass_code");
    let verification_code = json_field(&created, "verification_code");
    let number = json_field(&created, "number");
    secrets.extend([generated_pass_code.clone(), verification_code.clone()]);

    let csv = run.path("generated.csv");
    std::fs::write(&csv, "identifier\nbulk1@example.com\nbulk2@example.com\n").unwrap();
    let credentials = run.path("credentials.csv");
    let report = run.path("generated-report.csv");
    run.run(
        &[
            "import",
            csv.to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
            "--credentials",
            credentials.to_str().unwrap(),
        ],
        "",
        false,
    );
    let mut reader = csv::Reader::from_path(&credentials).unwrap();
    for record in reader.records() {
        let record = record.unwrap();
        secrets.extend([record[3].to_owned(), record[4].to_owned()]);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&credentials)
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
        assert_eq!(
            std::fs::metadata(run.db()).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    // Use them: wrong and right attempts, verification, reissue, reset.
    run.run(&["token", "verify", &number], "000000000000\n", false);
    run.run(
        &["token", "verify", &number],
        &format!("{verification_code}\n"),
        false,
    );
    run.run(
        &["authenticate", "--identifier", "generated@example.com"],
        &format!("{generated_pass_code}\n"),
        false,
    );
    run.run(
        &["authenticate", "--identifier", "typed@example.com"],
        "11112222\n",
        false,
    );
    run.run(
        &["authenticate", "--identifier", "typed@example.com"],
        &format!("{typed}\n"),
        false,
    );
    run.run(
        &["authenticate", "--identifier", "nobody@example.com"],
        &format!("{typed}\n"),
        false,
    );

    // Every export, report and listing.
    for (args, name) in [
        (vec!["export", "tokens"], "tokens.csv"),
        (vec!["export", "tokens", "--excel"], "tokens-excel.csv"),
        (vec!["report", "summary"], "summary.csv"),
        (vec!["definition", "export"], "definitions.json"),
    ] {
        let out = run.path(name);
        let mut args = args.clone();
        args.extend(["--out", out.to_str().unwrap()]);
        run.run(&args, "", false);
        assert!(out.exists(), "{name} was written");
    }
    for args in [
        vec!["batch", "list"],
        vec!["token", "history", &number],
        vec!["token", "show", &number],
        vec!["definition", "list"],
    ] {
        run.run(&args, "", false);
    }

    assert!(secrets.len() >= 9, "{secrets:?}");
    // The clerk's own input file and the credentials file hold secrets by design.
    let allowed = [credentials.clone(), run.path("typed.csv")];
    for secret in &secrets {
        assert!(
            secret.len() >= 8,
            "secrets are long enough to search for: {secret:?}"
        );
        assert!(
            !run.logs.contains(secret.as_str()),
            "a secret appears in the logs"
        );
        let found = files_containing(run.dir.path(), secret, &allowed);
        assert!(found.is_empty(), "a secret appears in {found:?}");
    }
}
