//! SQLite persistence: the only module that contains SQL.
//!
//! [`Store`] owns the connection. Reads go through [`Db`]; writes only through [`Tx`], which
//! exists only inside [`Store::write`], so every use case is one transaction.

mod import;
mod migrations;
pub use migrations::latest_version;
mod owners;
mod queries;
mod reports;
mod tokens;

use std::fs::OpenOptions;
use std::io::Read as _;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

pub use import::{BatchCounts, DeferredIndexes, ImportStatements, NewBatch, UndoneCounts};
pub use owners::DefinitionValues;
pub use queries::{AuditFilter, OwnerFilter, SortDirection, TokenCursor, TokenFilter, TokenSort};
pub use reports::{DefinitionStateCount, OwnerCoverage};
pub use tokens::{NewToken, TokenSecrets};

/// Marks a file as a Token Desk database (`PRAGMA application_id`, "TkDs").
pub const APPLICATION_ID: i32 = 0x546B_4473;

/// How long a write waits for another process holding the database before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// What can go wrong in the database, sorted into cases a caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path} is not a Token Desk database; it was left untouched")]
    Foreign { path: String },
    #[error(
        "{path} was written by a newer version of Token Desk (schema {found}, this version knows {known}); it was left untouched"
    )]
    SchemaTooNew {
        path: String,
        found: u32,
        known: u32,
    },
    #[error("the database is damaged ({0}); restore it from a copy")]
    Damaged(String),
    #[error("the database is busy: another program has held it for more than {} seconds; close that program or try again", BUSY_TIMEOUT.as_secs())]
    Busy,
    #[error("the database is read-only; check the file's permissions or open another file")]
    ReadOnly,
    #[error("the disk is full; free some space and try again (nothing was changed)")]
    DiskFull,
    #[error("another {0} already exists")]
    Duplicate(String),
    #[error("the database file could not be read or written: {0}")]
    Io(String),
    #[error("database error: {0}")]
    Sqlite(rusqlite::Error),
}

impl From<rusqlite::Error> for StoreError {
    fn from(err: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode as C;
        let Some(code) = err.sqlite_error_code() else {
            return Self::Sqlite(err);
        };
        match code {
            C::DatabaseBusy | C::DatabaseLocked => Self::Busy,
            C::ReadOnly => Self::ReadOnly,
            C::DiskFull => Self::DiskFull,
            C::NotADatabase => Self::Foreign {
                path: String::from("the file"),
            },
            C::DatabaseCorrupt => Self::Damaged(err.to_string()),
            C::CannotOpen | C::SystemIoFailure | C::PermissionDenied => Self::Io(err.to_string()),
            C::ConstraintViolation if err.to_string().contains("UNIQUE") => {
                Self::Duplicate(unique_violation_subject(&err.to_string()))
            }
            _ => Self::Sqlite(err),
        }
    }
}

/// Names what a UNIQUE failure is about, e.g. "token with this authentication code".
fn unique_violation_subject(message: &str) -> String {
    let column = message.rsplit(':').next().unwrap_or("").trim();
    match column {
        "tokens.authentication_code" => "token with this authentication code",
        "tokens.identifier_key" => "token with this identifier",
        "tokens.number" => "token with this number",
        "definitions.name" => "definition with this name",
        "definitions.code" => "definition with this code",
        "participants.number" => "participant with this number",
        "accounts.number" => "account with this number",
        _ => "record with the same key",
    }
    .to_owned()
}

/// An open database whose schema is up to date.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Opens or creates the database file and migrates it to the latest schema.
    ///
    /// A file that is not a Token Desk database, or one from a newer version, is refused and
    /// left byte-for-byte untouched.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_created_at(path, chrono::Utc::now())
    }

    /// [`Store::open`], stamping what a new database is seeded with (R13) at `created_at`, so
    /// that image snapshots of a new database look the same on every run.
    pub fn open_created_at(
        path: &Path,
        created_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<Self, StoreError> {
        let shown = path.display().to_string();
        let foreign = || StoreError::Foreign {
            path: shown.clone(),
        };
        match std::fs::metadata(path) {
            Ok(meta) if !meta.is_file() => return Err(foreign()),
            Ok(meta) if meta.len() > 0 => {
                let mut header = [0u8; 16];
                let mut file =
                    std::fs::File::open(path).map_err(|e| StoreError::Io(e.to_string()))?;
                let is_sqlite =
                    file.read_exact(&mut header).is_ok() && &header == b"SQLite format 3\0";
                if !is_sqlite {
                    return Err(foreign());
                }
            }
            Ok(_) => {}
            Err(_) => create_owner_only(path)?,
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn =
            Connection::open_with_flags(path, flags).map_err(|err| {
                match StoreError::from(err) {
                    StoreError::Foreign { .. } => foreign(),
                    other => other,
                }
            })?;
        Self::prepare(conn, path.to_owned(), created_at)
    }

    /// A private in-memory database, for tests.
    pub fn open_in_memory() -> Result<Self, StoreError> {
        Self::prepare(
            Connection::open_in_memory()?,
            PathBuf::from(":memory:"),
            chrono::Utc::now(),
        )
    }

    fn prepare(
        mut conn: Connection,
        path: PathBuf,
        created_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<Self, StoreError> {
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // Listings, imports and use cases together use more statements than the default 16;
        // an evicted statement is parsed again, which dominated bulk imports.
        conn.set_prepared_statement_cache_capacity(256);
        // Plans must not depend on bound values: otherwise SQLite re-prepares a statement
        // whenever a parameter changes (STAT4, partial indexes), which dominated bulk imports.
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
            true,
        )?;
        let shown = path.display().to_string();
        migrations::check_identity(&conn, &shown)?;
        // Only now that the file is known to be ours may anything be written to it.
        if path.as_os_str() != ":memory:" {
            conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
            conn.pragma_update(None, "synchronous", "NORMAL")?;
        }
        migrations::run(&mut conn, &path, created_at)?;
        conn.pragma_update(None, "foreign_keys", true)?;
        Ok(Self { conn, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads, outside any write transaction.
    pub fn db(&self) -> Db<'_> {
        Db { conn: &self.conn }
    }

    /// Runs `work` in one IMMEDIATE transaction: committed if it returns `Ok`, rolled back otherwise.
    pub fn write<T, E: From<StoreError>>(
        &mut self,
        work: impl FnOnce(&Tx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(StoreError::from)?;
        let output = work(&Tx {
            db: Db { conn: &tx },
        })?;
        tx.commit().map_err(StoreError::from)?;
        Ok(output)
    }

    /// [`Store::write`] for a bulk load that writes mostly new pages: with a rollback journal
    /// instead of WAL, the new pages are written once, not to the WAL and then again into the
    /// database by the checkpoint. SQLite allows the switch only while no other connection has
    /// the file open; otherwise this is a plain `write` in WAL. WAL is restored afterwards (and
    /// by every open, should the program be killed in between); a kill mid-way leaves a hot
    /// journal that SQLite rolls back on the next open, as it does a WAL.
    pub fn write_as_bulk_load<T, E: From<StoreError>>(
        &mut self,
        work: impl FnOnce(&Tx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let journaled = self.path.as_os_str() != ":memory:" && self.set_journal_mode("DELETE");
        if journaled {
            // Without WAL, only FULL syncs make the commit durable on every file system.
            self.conn
                .pragma_update(None, "synchronous", "FULL")
                .map_err(StoreError::from)?;
        }
        let result = self.write(work);
        if journaled {
            // Best effort: if another program opened the file meanwhile, the next open that
            // has it alone switches back to WAL.
            self.set_journal_mode("WAL");
            self.conn.pragma_update(None, "synchronous", "NORMAL").ok();
        }
        result
    }

    /// Asks for a journal mode; whether the file is now in it.
    fn set_journal_mode(&self, mode: &str) -> bool {
        self.conn
            .query_row(&format!("PRAGMA journal_mode = {mode}"), [], |row| {
                row.get::<_, String>(0)
            })
            .is_ok_and(|now| now.eq_ignore_ascii_case(mode))
    }

    /// Sets the page cache for a bulk job, in KiB.
    pub fn set_cache_kib(&self, kib: i64) -> Result<(), StoreError> {
        self.conn.pragma_update(None, "cache_size", -kib)?;
        Ok(())
    }

    /// Caps the database at `pages` pages, so tests can run out of space on purpose.
    pub fn set_max_page_count(&self, pages: u64) -> Result<(), StoreError> {
        self.conn
            .query_row(&format!("PRAGMA max_page_count = {pages}"), [], |_| Ok(()))?;
        Ok(())
    }

    /// `PRAGMA integrity_check`; `Ok(())` when the file is sound.
    pub fn integrity_check(&self) -> Result<(), StoreError> {
        let verdict: String = self
            .conn
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))?;
        if verdict == "ok" {
            Ok(())
        } else {
            Err(StoreError::Damaged(verdict))
        }
    }
}

/// Creates an empty file that only its owner can read and write.
fn create_owner_only(path: &Path) -> Result<(), StoreError> {
    let io = |e: std::io::Error| StoreError::Io(format!("{}: {e}", path.display()));
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options.open(path).map_err(io)?;
    Ok(())
}

/// Read access to the database; every query lives on this type or on [`Tx`].
#[derive(Clone, Copy)]
pub struct Db<'c> {
    conn: &'c Connection,
}

/// Write access, only inside [`Store::write`]. Reads are available through `Deref`.
pub struct Tx<'c> {
    db: Db<'c>,
}

impl<'c> Deref for Tx<'c> {
    type Target = Db<'c>;
    fn deref(&self) -> &Db<'c> {
        &self.db
    }
}

impl Tx<'_> {
    fn conn(&self) -> &Connection {
        self.db.conn
    }

    /// The next value of a named counter, starting at 1. Numbers are never reused.
    pub fn next_counter(&self, name: &str) -> Result<u64, StoreError> {
        self.advance_counter(name, 1)
    }

    /// Reserves `count` values of a counter and returns the first.
    pub fn advance_counter(&self, name: &str, count: u64) -> Result<u64, StoreError> {
        let count = i64::try_from(count).unwrap_or(i64::MAX);
        let last: i64 = self.conn().query_row(
            "INSERT INTO counters (name, value) VALUES (?1, ?2)
             ON CONFLICT (name) DO UPDATE SET value = value + ?2 RETURNING value",
            rusqlite::params![name, count],
            |row| row.get(0),
        )?;
        Ok(u64::try_from(last - count + 1).unwrap_or(1))
    }

    /// Appends an audit event. The database refuses to change or delete it afterwards.
    pub fn audit(&self, event: &NewAuditEvent<'_>) -> Result<(), StoreError> {
        self.conn()
            .prepare_cached(
                "INSERT INTO audit_events (at, clerk, action, record_kind, record_number, details, batch_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(rusqlite::params![
                event.at,
                event.clerk,
                event.action,
                event.record_kind,
                event.record_number,
                event.details,
                event.batch_id
            ])?;
        Ok(())
    }

    /// Runs raw SQL in this transaction. For tests of the database's own guards only.
    #[doc(hidden)]
    pub fn execute_raw_for_tests(&self, sql: &str) -> Result<usize, StoreError> {
        Ok(self.conn().execute(sql, [])?)
    }
}

/// An audit event about to be written.
#[derive(Clone, Debug)]
pub struct NewAuditEvent<'a> {
    pub at: &'a str,
    pub clerk: &'a str,
    pub action: &'a str,
    pub record_kind: &'a str,
    pub record_number: &'a str,
    pub details: String,
    pub batch_id: Option<i64>,
}
