//! Crash consistency: the process is killed (SIGKILL) at many moments during imports and exports.
//! Afterwards the database passes `PRAGMA integrity_check`, every import batch is wholly present
//! or wholly absent, the audit log has one event per batch, and an export file is either absent
//! or complete (never half a file).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const ROWS_PER_IMPORT: usize = 20_000;

struct Desk {
    dir: tempfile::TempDir,
}

impl Desk {
    fn db(&self) -> PathBuf {
        self.dir.path().join("desk.sqlite3")
    }

    fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tokendesk"));
        command
            .arg("--db")
            .arg(self.db())
            .args(["--clerk", "crash"])
            .env_remove("TOKENDESK_DB");
        command.stdout(Stdio::null()).stderr(Stdio::null());
        command
    }

    fn run(&self, args: &[&str]) {
        assert!(
            self.command().args(args).status().unwrap().success(),
            "{args:?}"
        );
    }
}

/// Delays in milliseconds from a fixed linear congruential sequence: varied, but the same on
/// every run, so a failure can be reproduced.
fn delays(count: usize) -> Vec<u64> {
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    (0..count)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) % 1_200
        })
        .collect()
}

fn token_count(db: &Path) -> i64 {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row("SELECT count(*) FROM tokens", [], |row| row.get(0))
        .unwrap()
}

/// Checks the database after a kill; returns the number of batches.
fn check_consistent(db: &Path) -> i64 {
    let store = tokendesk::storage::Store::open(db).expect("the database opens after a crash");
    store
        .integrity_check()
        .expect("PRAGMA integrity_check is ok");
    drop(store);
    let conn = rusqlite::Connection::open(db).unwrap();
    let query = |sql: &str| conn.query_row(sql, [], |row| row.get::<_, i64>(0)).unwrap();
    let partial = query(
        "SELECT count(*) FROM import_batches b
         WHERE b.created <> (SELECT count(*) FROM tokens t WHERE t.import_batch_id = b.id)",
    );
    assert_eq!(partial, 0, "every batch is wholly present");
    let orphans = query(
        "SELECT count(*) FROM tokens WHERE import_batch_id IS NOT NULL AND import_batch_id NOT IN (SELECT id FROM import_batches)",
    );
    assert_eq!(orphans, 0, "no token of an absent batch");
    // A large import builds some token indexes after its rows; a kill must not lose them.
    assert_eq!(
        query("SELECT count(*) FROM pragma_index_list('tokens')"),
        8,
        "the tokens table keeps every index"
    );
    let batches = query("SELECT count(*) FROM import_batches");
    let audited =
        query("SELECT count(DISTINCT batch_id) FROM audit_events WHERE action = 'import.batch'");
    assert_eq!(audited, batches, "the audit log agrees with the batches");
    batches
}

#[test]
fn killed_imports_and_exports_leave_a_consistent_database() {
    let desk = Desk {
        dir: tempfile::tempdir().unwrap(),
    };
    let definition = desk.dir.path().join("cards.json");
    std::fs::write(&definition, r#"{"name": "Cards", "settings": {"authentication_code": {"method": "none", "min_length": 1, "max_length": 64}}}"#).unwrap();
    desk.run(&["definition", "add", definition.to_str().unwrap()]);
    desk.run(&["definition", "activate", "C"]);
    desk.run(&["demo-data", "--tokens", "5000", "--participants", "500"]);

    let mut killed_imports = 0;
    for (round, delay) in delays(10).into_iter().enumerate() {
        let is_import = round % 2 == 0;
        let before = token_count(&desk.db());
        let export = desk.dir.path().join(format!("export-{round}.csv"));
        let mut child = if is_import {
            let csv = desk.dir.path().join(format!("cards-{round}.csv"));
            let mut text = String::from("authentication_code\n");
            for n in 0..ROWS_PER_IMPORT {
                text.push_str(&format!("R{round}C{n:07}\n"));
            }
            std::fs::write(&csv, text).unwrap();
            desk.command().arg("import").arg(&csv).spawn().unwrap()
        } else {
            desk.command()
                .args(["export", "tokens", "--out"])
                .arg(&export)
                .spawn()
                .unwrap()
        };
        std::thread::sleep(Duration::from_millis(delay));
        let finished = child.try_wait().unwrap().is_some();
        child.kill().ok();
        child.wait().unwrap();
        check_consistent(&desk.db());
        let after = token_count(&desk.db());
        if is_import {
            assert!(
                after == before || after == before + ROWS_PER_IMPORT as i64,
                "{before} -> {after}"
            );
            killed_imports += usize::from(after == before && !finished);
        } else {
            assert_eq!(after, before);
            if let Ok(text) = std::fs::read_to_string(&export) {
                assert_eq!(
                    text.lines().count() as i64,
                    before + 1,
                    "an export file is complete"
                );
            }
        }
    }
    assert!(
        killed_imports > 0,
        "at least one import was killed part-way"
    );
    // After all that, an import still works and the batches still add up.
    let csv = desk.dir.path().join("final.csv");
    std::fs::write(&csv, "authentication_code\nFINAL0001\nFINAL0002\n").unwrap();
    desk.run(&["import", csv.to_str().unwrap()]);
    check_consistent(&desk.db());
}

fn query(db: &Path, sql: &str) -> i64 {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row(sql, [], |row| row.get(0)).unwrap()
}

#[test]
fn killed_bulk_actions_are_wholly_applied_or_not_at_all() {
    let desk = Desk {
        dir: tempfile::tempdir().unwrap(),
    };
    desk.run(&["demo-data", "--tokens", "20000", "--participants", "2000"]);
    let list: String = (1..=20_000).map(|n| format!("AT{n:010}\n")).collect();
    let not_effective = "SELECT count(*) FROM tokens WHERE state = 'not_effective'";
    let mut killed = 0;
    for (round, delay) in delays(8).into_iter().enumerate() {
        let (action, eligible_sql) = if round % 2 == 0 {
            (
                "not-effective",
                "SELECT count(*) FROM tokens WHERE state = 'effective' AND participant_id IS NULL AND account_id IS NULL",
            )
        } else {
            ("effective", not_effective)
        };
        let before = query(&desk.db(), not_effective);
        let eligible = query(&desk.db(), eligible_sql);
        let events_before = query(
            &desk.db(),
            "SELECT count(*) FROM audit_events WHERE action = 'token.state'",
        );
        let mut child = desk
            .command()
            .args(["bulk", action, "--reason", "crash test"])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        {
            use std::io::Write as _;
            let mut stdin = child.stdin.take().unwrap();
            stdin.write_all(list.as_bytes()).ok();
        }
        std::thread::sleep(Duration::from_millis(delay / 2));
        let finished = child.try_wait().unwrap().is_some();
        child.kill().ok();
        child.wait().unwrap();
        let store = tokendesk::storage::Store::open(&desk.db()).unwrap();
        store.integrity_check().unwrap();
        drop(store);
        let after = query(&desk.db(), not_effective);
        let changed = (after - before).abs();
        assert!(
            changed == 0 || changed == eligible,
            "round {round}: {changed} of {eligible} changed"
        );
        let events = query(
            &desk.db(),
            "SELECT count(*) FROM audit_events WHERE action = 'token.state'",
        ) - events_before;
        assert_eq!(
            events, changed,
            "one audit event per changed token, no more, no less"
        );
        killed += usize::from(changed == 0 && !finished);
    }
    assert!(killed > 0, "at least one bulk action was killed part-way");
}
