//! Shared set-up: a desk on a real SQLite file with cheap hashing, and small data builders.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use tokendesk::desk::{DefinitionDraft, Desk, TokenDraft};
use tokendesk::domain::{DefinitionSettings, Secret, SecretHasher};
use tokendesk::storage::Store;

/// A desk on a temporary database file; the folder goes when this is dropped.
pub struct TestDesk {
    pub desk: Desk,
    pub dir: tempfile::TempDir,
    /// Seconds added to the real clock; tests move time forward with [`TestDesk::advance_hours`].
    pub offset_secs: Arc<AtomicI64>,
}

impl TestDesk {
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("desk.sqlite3")
    }

    pub fn advance_hours(&self, hours: i64) {
        self.offset_secs.fetch_add(hours * 3600, Ordering::SeqCst);
    }
}

impl std::ops::Deref for TestDesk {
    type Target = Desk;
    fn deref(&self) -> &Desk {
        &self.desk
    }
}

impl std::ops::DerefMut for TestDesk {
    fn deref_mut(&mut self) -> &mut Desk {
        &mut self.desk
    }
}

pub fn fresh_desk() -> TestDesk {
    let dir = tempfile::tempdir().expect("temporary folder");
    let store = Store::open(&dir.path().join("desk.sqlite3")).expect("new database");
    let mut desk = Desk::new(store, SecretHasher::cheap_for_tests(), "clerk");
    let offset_secs = Arc::new(AtomicI64::new(0));
    let offset = Arc::clone(&offset_secs);
    desk.set_clock(Arc::new(move || {
        chrono::Utc::now() + chrono::Duration::seconds(offset.load(Ordering::SeqCst))
    }));
    TestDesk {
        desk,
        dir,
        offset_secs,
    }
}

/// Creates a definition with `settings` and makes it Effective.
pub fn use_definition(desk: &mut Desk, name: &str, settings: DefinitionSettings) {
    let draft = DefinitionDraft {
        name: name.to_owned(),
        settings,
        ..DefinitionDraft::default()
    };
    let created = desk.create_definition(&draft).expect("definition is valid");
    desk.activate_definition(&created.code).expect("activates");
}

/// An account "Northwind" with participant "Ada Lovelace"; returns (account, participant) numbers.
pub fn account_with_participant(desk: &mut Desk) -> (String, String) {
    let account = desk.create_account("Northwind").expect("account");
    let participant = desk
        .create_participant("Ada Lovelace", &account.number)
        .expect("participant");
    (account.number, participant.number)
}

pub fn draft_for_participant(participant: &str) -> TokenDraft {
    TokenDraft {
        participant_number: Some(participant.to_owned()),
        ..TokenDraft::default()
    }
}

pub fn with_login(mut draft: TokenDraft, identifier: &str, pass_code: &str) -> TokenDraft {
    draft.identifier = Some(identifier.to_owned());
    draft.pass_code = Some(Secret::new(pass_code));
    draft
}

/// Whether any of the database's files (main, WAL, shared memory) contains `needle`.
pub fn database_files_contain(db: &Path, needle: &[u8]) -> bool {
    ["", "-wal", "-shm", "-journal"].iter().any(|suffix| {
        let path = PathBuf::from(format!("{}{suffix}", db.display()));
        std::fs::read(&path).is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle))
    })
}
