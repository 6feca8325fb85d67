//! Schema migrations, counted in `PRAGMA user_version`. Append-only: never edit a shipped step.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, TransactionBehavior};

use super::{APPLICATION_ID, StoreError};
use crate::domain::DefinitionSettings;

/// Step `n` takes the schema from version `n` to `n + 1`.
const STEPS: &[&str] = &[
    include_str!("migrations/0001_initial.sql"),
    include_str!("migrations/0002_state_checks.sql"),
];

/// The schema version this build writes.
pub fn latest_version() -> u32 {
    u32::try_from(STEPS.len()).unwrap_or(u32::MAX)
}

/// Refuses a foreign file or a newer schema before anything is written to it.
pub(super) fn check_identity(conn: &Connection, path: &str) -> Result<(), StoreError> {
    let foreign = || StoreError::Foreign {
        path: path.to_owned(),
    };
    let read = |sql: &str| conn.query_row(sql, [], |row| row.get::<_, i64>(0));
    let application_id =
        read("PRAGMA application_id").map_err(|err| match StoreError::from(err) {
            StoreError::Foreign { .. } => foreign(),
            other => other,
        })?;
    let tables = read("SELECT count(*) FROM sqlite_master")?;
    let is_empty = application_id == 0 && tables == 0;
    if application_id != i64::from(APPLICATION_ID) && !is_empty {
        return Err(foreign());
    }
    let found = u32::try_from(read("PRAGMA user_version")?).unwrap_or(u32::MAX);
    if found > latest_version() {
        return Err(StoreError::SchemaTooNew {
            path: path.to_owned(),
            found,
            known: latest_version(),
        });
    }
    Ok(())
}

/// Brings the schema up to date in one transaction; a new database also gets the `Standard`
/// definition (R13). Before upgrading an existing database, a copy is kept beside it.
pub(super) fn run(
    conn: &mut Connection,
    path: &Path,
    created_at: chrono::DateTime<chrono::Utc>,
) -> Result<(), StoreError> {
    let read_version =
        |conn: &Connection| conn.query_row("PRAGMA user_version", [], |row| row.get::<_, u32>(0));
    let known = latest_version();
    let found = read_version(conn)?;
    if found == known {
        return Ok(());
    }
    if found > 0 && path.as_os_str() != ":memory:" {
        let backup = free_backup_path(path, known);
        conn.execute("VACUUM INTO ?1", [backup.display().to_string()])?;
    }
    // A step may rebuild a table, which SQLite allows only with foreign keys off; the check
    // below makes sure every reference still holds before the step is committed.
    conn.pragma_update(None, "foreign_keys", false)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Another program may have upgraded the file meanwhile: only the write lock tells.
    let found = read_version(&tx)?;
    if found == known {
        return Ok(());
    }
    for step in STEPS.iter().skip(found as usize) {
        tx.execute_batch(step)?;
    }
    let broken: i64 = tx.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |row| {
        row.get(0)
    })?;
    if broken > 0 {
        return Err(StoreError::Damaged(format!(
            "{broken} rows refer to records that do not exist"
        )));
    }
    if found == 0 {
        tx.pragma_update(None, "application_id", APPLICATION_ID)?;
        seed_standard_definition(&tx, created_at)?;
    }
    tx.pragma_update(None, "user_version", known)?;
    tx.commit()?;
    Ok(())
}

/// `desk.before-schema-2.sqlite3` beside `desk.sqlite3`, or `….before-schema-2-2.sqlite3` (and
/// so on) when a copy from an earlier attempt is already there: `VACUUM INTO` never overwrites,
/// and an old copy must not stop the database from opening.
fn free_backup_path(path: &Path, version: u32) -> PathBuf {
    let candidate = |attempt: u32| match attempt {
        1 => path.with_extension(format!("before-schema-{version}.sqlite3")),
        n => path.with_extension(format!("before-schema-{version}-{n}.sqlite3")),
    };
    (1..1000)
        .map(candidate)
        .find(|backup| !backup.exists())
        .unwrap_or_else(|| candidate(1000))
}

fn seed_standard_definition(
    tx: &Connection,
    created_at: chrono::DateTime<chrono::Utc>,
) -> Result<(), StoreError> {
    let now = created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let settings = serde_json::to_string(&DefinitionSettings::default())
        .map_err(|err| StoreError::Io(err.to_string()))?;
    tx.execute(
        "INSERT INTO definitions (number, name, code, description, is_effective, settings,
                                  created_at, created_by, updated_at, updated_by)
         VALUES ('ATD000001', 'Standard', 'STD', 'The definition every new desk starts with.', 1, ?1,
                 ?2, 'system', ?2, 'system')",
        rusqlite::params![settings, now],
    )?;
    tx.execute(
        "INSERT INTO counters (name, value) VALUES ('definition', 1)",
        [],
    )?;
    tx.execute(
        "INSERT INTO audit_events (at, clerk, action, record_kind, record_number, details)
         VALUES (?1, 'system', 'definition.create', 'definition', 'ATD000001', 'Standard definition of a new database')",
        [now],
    )?;
    Ok(())
}
