//! The database file: creation, permissions, foreign and newer files, the append-only audit log.

use std::path::Path;

use tokendesk::desk::Desk;
use tokendesk::storage::{Store, StoreError};

fn open_error(path: &Path) -> String {
    match Store::open(path) {
        Ok(_) => panic!("{} should have been refused", path.display()),
        Err(err) => tokendesk::desk::DeskError::from(err).sentence(),
    }
}

#[test]
fn a_file_that_is_not_sqlite_is_refused_and_left_byte_for_byte_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    let content = b"these are a clerk's notes, not a database\n".repeat(200);
    std::fs::write(&path, &content).unwrap();
    let err = open_error(&path);
    assert!(
        err.contains("is not a Token Desk database") && err.contains("left untouched"),
        "{err}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), content);
    assert!(!dir.path().join("notes.txt-wal").exists());
}

#[test]
fn another_programs_sqlite_database_is_refused_and_left_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.sqlite3");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE recipes (name TEXT); INSERT INTO recipes VALUES ('bread');",
        )
        .unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    let err = open_error(&path);
    assert!(err.contains("is not a Token Desk database"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn a_database_from_a_newer_version_is_refused_and_left_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("desk.sqlite3");
    drop(Store::open(&path).unwrap());
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "journal_mode", "DELETE").unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    let err = open_error(&path);
    assert!(
        err.contains("newer version") && err.contains("schema 99"),
        "{err}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn a_folder_is_not_a_database() {
    let dir = tempfile::tempdir().unwrap();
    assert!(open_error(dir.path()).contains("not a Token Desk database"));
}

#[cfg(unix)]
#[test]
fn the_database_file_is_created_owner_only_in_a_new_folder() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new").join("folder").join("desk.sqlite3");
    let store = Store::open(&path).unwrap();
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    store.integrity_check().unwrap();
}

#[test]
fn reopening_keeps_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("desk.sqlite3");
    let mut desk = Desk::new(
        Store::open(&path).unwrap(),
        tokendesk::domain::SecretHasher::cheap_for_tests(),
        "clerk",
    );
    let number = desk.create_account("Northwind").unwrap().number;
    drop(desk);
    let desk = Desk::new(
        Store::open(&path).unwrap(),
        tokendesk::domain::SecretHasher::cheap_for_tests(),
        "clerk",
    );
    assert_eq!(desk.account(&number).unwrap().name, "Northwind");
    assert_eq!(
        desk.definitions().unwrap().len(),
        1,
        "the Standard definition is seeded only once"
    );
}

#[test]
fn the_audit_log_refuses_updates_and_deletions() {
    let mut desk = crate::support::fresh_desk();
    desk.create_account("Northwind").unwrap();
    for sql in [
        "UPDATE audit_events SET clerk = 'someone else'",
        "DELETE FROM audit_events",
    ] {
        let result: Result<usize, StoreError> =
            desk.store_mut().write(|tx| tx.execute_raw_for_tests(sql));
        let err = result.expect_err("the audit log is append-only");
        assert!(err.to_string().contains("append-only"), "{err}");
    }
    assert!(
        desk.audit_events(&Default::default(), i64::MAX, 10)
            .unwrap()
            .len()
            >= 2
    );
}

#[test]
fn r10_the_database_itself_refuses_a_second_effective_definition() {
    let mut desk = crate::support::fresh_desk();
    desk.create_definition(&tokendesk::desk::DefinitionDraft {
        name: "Gold".into(),
        ..Default::default()
    })
    .unwrap();
    let result: Result<usize, StoreError> = desk
        .store_mut()
        .write(|tx| tx.execute_raw_for_tests("UPDATE definitions SET is_effective = 1"));
    assert!(
        matches!(result, Err(StoreError::Duplicate(_))),
        "{result:?}"
    );
}

#[test]
fn a_full_disk_refuses_the_change_with_one_sentence_and_keeps_the_data() {
    let mut desk = crate::support::fresh_desk();
    desk.create_account("Northwind").unwrap();
    let pages: u64 = desk.store().db().page_count().unwrap();
    desk.store().set_max_page_count(pages).unwrap();
    let long_name = "N".repeat(190);
    let mut failure = None;
    for _ in 0..500 {
        if let Err(err) = desk.create_account(&long_name) {
            failure = Some(err.sentence());
            break;
        }
    }
    let failure = failure.expect("the capped database fills up");
    assert_eq!(
        failure,
        "The disk is full; free some space and try again (nothing was changed)."
    );
    desk.store().integrity_check().unwrap();
    assert_eq!(desk.account("ACR0000000001").unwrap().name, "Northwind");
}

#[test]
fn a_database_locked_by_another_program_gives_a_clear_message() {
    let mut desk = crate::support::fresh_desk();
    let other = rusqlite::Connection::open(desk.path()).unwrap();
    other.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let err = desk.create_account("Northwind").unwrap_err().sentence();
    assert!(
        err.starts_with(
            "The database is busy: another program has held it for more than 5 seconds"
        ),
        "{err}"
    );
    other.execute_batch("ROLLBACK").unwrap();
    assert!(
        desk.create_account("Northwind").is_ok(),
        "works again once the other program lets go"
    );
}

/// Makes a file read-only even for root (`chattr +i`), or by permissions for other users;
/// undone when dropped so the temporary folder can be removed.
struct ReadOnlyFile(std::path::PathBuf);

impl ReadOnlyFile {
    fn new(path: &Path) -> Self {
        let immutable = std::process::Command::new("chattr")
            .arg("+i")
            .arg(path)
            .status()
            .is_ok_and(|s| s.success());
        if !immutable {
            let mut permissions = std::fs::metadata(path).unwrap().permissions();
            permissions.set_readonly(true);
            std::fs::set_permissions(path, permissions).unwrap();
        }
        Self(path.to_owned())
    }
}

impl Drop for ReadOnlyFile {
    fn drop(&mut self) {
        let _ = std::process::Command::new("chattr")
            .arg("-i")
            .arg(&self.0)
            .status();
    }
}

#[test]
fn a_read_only_database_gives_a_clear_message_and_stays_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("desk.sqlite3");
    let mut desk = Desk::new(
        Store::open(&path).unwrap(),
        tokendesk::domain::SecretHasher::cheap_for_tests(),
        "clerk",
    );
    desk.create_account("Northwind").unwrap();
    drop(desk);
    let before = std::fs::read(&path).unwrap();
    let _guard = ReadOnlyFile::new(&path);
    let message = match Store::open(&path) {
        Err(err) => tokendesk::desk::DeskError::from(err).sentence(),
        Ok(store) => {
            let mut desk = Desk::new(
                store,
                tokendesk::domain::SecretHasher::cheap_for_tests(),
                "clerk",
            );
            desk.create_account("Contoso").unwrap_err().sentence()
        }
    };
    assert!(message.contains("read-only"), "{message}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

/// A database written by the first schema: one account with a participant holding a token that
/// waits for verification, and its audit event.
fn first_schema_desk(path: &Path) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(include_str!(
        "../../src/storage/migrations/0001_initial.sql"
    ))
    .unwrap();
    conn.pragma_update(None, "application_id", tokendesk::storage::APPLICATION_ID)
        .unwrap();
    conn.pragma_update(None, "user_version", 1).unwrap();
    let settings =
        serde_json::to_string(&tokendesk::domain::DefinitionSettings::default()).unwrap();
    conn.execute(
        "INSERT INTO definitions (id, number, name, code, is_effective, settings, created_at, created_by, updated_at, updated_by)
         VALUES (1, 'ATD000001', 'Standard', 'STD', 1, ?1, '2026-01-01T00:00:00Z', 'system', '2026-01-01T00:00:00Z', 'system')",
        [settings],
    )
    .unwrap();
    conn.execute_batch(
        "INSERT INTO counters (name, value) VALUES ('definition', 1), ('token', 1), ('account', 1), ('participant', 1);
         INSERT INTO accounts (id, number, name, state, created_at, created_by)
             VALUES (1, 'AC0000000001', 'Lovelace Ltd', 'suspended', '2026-01-01T00:00:00Z', 'ada');
         INSERT INTO participants (id, number, name, account_id, state, signed_up_on, created_at, created_by)
             VALUES (1, 'RP0000000001', 'Ada Lovelace', 1, 'effective', '2026-01-01', '2026-01-01T00:00:00Z', 'ada');
         INSERT INTO tokens (id, number, definition_id, authentication_code, state, account_id, participant_id,
                             created_at, created_by, updated_at, updated_by)
             VALUES (1, 'AT0000000001', 1, 'CARD-0001', 'pending_verification', 1, 1,
                     '2026-01-01T00:00:00Z', 'ada', '2026-01-01T00:00:00Z', 'ada');
         INSERT INTO audit_events (at, clerk, action, record_kind, record_number)
             VALUES ('2026-01-01T00:00:00Z', 'ada', 'token.create', 'token', 'AT0000000001');",
    )
    .unwrap();
}

/// Every table, index and trigger with its SQL, as `sqlite_schema` has them.
fn schema_of(path: &Path) -> Vec<(String, String)> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut statement = conn
        .prepare("SELECT name, coalesce(sql, '') FROM sqlite_schema ORDER BY name")
        .unwrap();
    statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn a_database_of_the_first_schema_is_upgraded_keeping_every_record_and_a_copy() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("desk.sqlite3");
    first_schema_desk(&path);
    // A copy left by an earlier attempt (or a restored backup being upgraded again) must not
    // stop the database from opening: the new copy takes the next free name.
    std::fs::write(
        dir.path().join("desk.before-schema-2.sqlite3"),
        b"an older copy",
    )
    .unwrap();
    let desk = Desk::open(&path, "grace").unwrap();
    assert_eq!(
        desk.account("AC0000000001").unwrap().state,
        tokendesk::domain::AccountState::Suspended
    );
    let token = desk.token("AT0000000001").unwrap();
    assert_eq!(token.authentication_code, "CARD-0001");
    assert_eq!(
        token.state,
        tokendesk::domain::TokenState::PendingVerification
    );
    assert_eq!(token.participant_number.as_deref(), Some("RP0000000001"));
    assert_eq!(token.account_number.as_deref(), Some("AC0000000001"));
    assert_eq!(desk.token_history("AT0000000001").unwrap().len(), 1);
    drop(desk);
    let copy = dir.path().join("desk.before-schema-2-2.sqlite3");
    let copied_version: u32 = rusqlite::Connection::open(&copy)
        .unwrap()
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap();
    assert_eq!(copied_version, 1, "the copy is the database as it was");
    // The upgraded file has exactly the schema of a database created today.
    let fresh = dir.path().join("fresh.sqlite3");
    drop(Desk::open(&fresh, "grace").unwrap());
    assert_eq!(schema_of(&path), schema_of(&fresh));

    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: u32 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap();
    assert_eq!(version, tokendesk::storage::latest_version());
    // The rebuilt tables keep their constraints: a state outside §5 and a duplicate code are refused.
    let insert = |code: &str, state: &str| {
        conn.execute(
            "INSERT INTO tokens (number, definition_id, authentication_code, state, created_at, created_by, updated_at, updated_by)
             VALUES (?1, 1, ?1, ?2, 'now', 'grace', 'now', 'grace')",
            [code, state],
        )
    };
    assert!(insert("CARD-0002", "lost").is_err());
    assert!(insert("CARD-0001", "effective").is_err());
    assert!(insert("CARD-0002", "not_effective").is_ok());
    assert!(
        conn.execute("UPDATE accounts SET state = 'closed' WHERE id = 1", [])
            .is_err()
    );
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap();
    assert_eq!(check, "ok");
}
