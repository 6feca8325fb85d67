-- Token Desk schema, step 1. Append-only: never edit a shipped step; add 0002_… instead.

CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE definitions (
    id            INTEGER PRIMARY KEY,
    number        TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL UNIQUE COLLATE NOCASE,
    code          TEXT NOT NULL UNIQUE COLLATE NOCASE,
    description   TEXT NOT NULL DEFAULT '',
    is_effective  INTEGER NOT NULL DEFAULT 0 CHECK (is_effective IN (0, 1)),
    settings      TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    created_by    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    updated_by    TEXT NOT NULL
);
-- R10: at most one Effective definition, enforced by the database itself.
CREATE UNIQUE INDEX definitions_one_effective ON definitions (is_effective) WHERE is_effective = 1;

CREATE TABLE accounts (
    id          INTEGER PRIMARY KEY,
    number      TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('active', 'suspended', 'terminated')),
    created_at  TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    import_batch_id INTEGER REFERENCES import_batches (id)
);
CREATE INDEX accounts_name ON accounts (name COLLATE NOCASE);

CREATE TABLE participants (
    id           INTEGER PRIMARY KEY,
    number       TEXT NOT NULL UNIQUE,
    name         TEXT NOT NULL,
    account_id   INTEGER NOT NULL REFERENCES accounts (id),
    state        TEXT NOT NULL CHECK (state IN ('effective', 'terminated')),
    signed_up_on TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    import_batch_id INTEGER REFERENCES import_batches (id)
);
CREATE INDEX participants_account ON participants (account_id);
CREATE INDEX participants_name ON participants (name COLLATE NOCASE);

CREATE TABLE import_batches (
    id           INTEGER PRIMARY KEY,
    file_name    TEXT NOT NULL,
    file_sha256  TEXT NOT NULL,
    mode         TEXT NOT NULL,
    started_at   TEXT NOT NULL,
    finished_at  TEXT,
    created      INTEGER NOT NULL DEFAULT 0,
    unchanged    INTEGER NOT NULL DEFAULT 0,
    rejected     INTEGER NOT NULL DEFAULT 0,
    clerk        TEXT NOT NULL,
    undone_at    TEXT,
    undone_by    TEXT
);
CREATE INDEX import_batches_sha256 ON import_batches (file_sha256);

CREATE TABLE tokens (
    id                       INTEGER PRIMARY KEY,
    number                   TEXT NOT NULL UNIQUE,
    definition_id            INTEGER NOT NULL REFERENCES definitions (id),
    authentication_code      TEXT NOT NULL UNIQUE,            -- R4, stored trimmed
    identifier               TEXT,                            -- as entered, trimmed
    identifier_key           TEXT UNIQUE,                     -- R5, see domain::identifier_key
    pass_code_hash           TEXT,                            -- argon2id PHC string (R8)
    verification_code_hash   TEXT,
    verification_expires_at  TEXT,
    verified_at              TEXT,
    state                    TEXT NOT NULL CHECK (state IN ('effective', 'not_effective', 'pending_verification')),
    account_id               INTEGER REFERENCES accounts (id),
    participant_id           INTEGER REFERENCES participants (id),
    failed_attempts          INTEGER NOT NULL DEFAULT 0,
    locked                   INTEGER NOT NULL DEFAULT 0 CHECK (locked IN (0, 1)),
    last_used_at             TEXT,
    import_batch_id          INTEGER REFERENCES import_batches (id),
    created_at               TEXT NOT NULL,
    created_by               TEXT NOT NULL,
    updated_at               TEXT NOT NULL,
    updated_by               TEXT NOT NULL,
    CHECK (identifier IS NULL OR pass_code_hash IS NOT NULL),   -- R2
    CHECK ((identifier IS NULL) = (identifier_key IS NULL))
);
CREATE INDEX tokens_participant ON tokens (participant_id) WHERE participant_id IS NOT NULL;
CREATE INDEX tokens_account ON tokens (account_id) WHERE account_id IS NOT NULL;
CREATE INDEX tokens_state ON tokens (state, id);
CREATE INDEX tokens_definition ON tokens (definition_id, id);
CREATE INDEX tokens_batch ON tokens (import_batch_id) WHERE import_batch_id IS NOT NULL;

CREATE TABLE audit_events (
    id             INTEGER PRIMARY KEY,
    at             TEXT NOT NULL,
    clerk          TEXT NOT NULL,
    action         TEXT NOT NULL,
    record_kind    TEXT NOT NULL,
    record_number  TEXT NOT NULL,
    details        TEXT NOT NULL DEFAULT '',
    batch_id       INTEGER
);
CREATE INDEX audit_events_record ON audit_events (record_number, id);

-- The audit log is append-only: the database itself refuses changes and deletions.
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
