//! Versioned migrations. Each entry runs once, in order, inside a transaction; the applied
//! version is kept in `PRAGMA user_version`. Never edit an applied migration: add one.

pub const MIGRATIONS: &[&str] = &[
    // 1: the initial schema.
    r#"
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('clerk', 'admin')),
    active        INTEGER NOT NULL DEFAULT 1,
    created_at    INTEGER NOT NULL
);
CREATE TABLE sessions (
    id_hash    TEXT PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE TABLE device_tokens (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('kiosk', 'integration')),
    token_hash   TEXT NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    revoked_at   INTEGER,
    last_seen_at INTEGER
);
CREATE TABLE applicants (
    id             INTEGER PRIMARY KEY,
    full_name      TEXT NOT NULL,
    id_number_enc  BLOB NOT NULL,
    id_number_hash TEXT NOT NULL UNIQUE,
    phone_enc      BLOB,
    created_at     INTEGER NOT NULL,
    created_by     INTEGER REFERENCES users(id),
    biometrics_purged_at INTEGER
);
CREATE TABLE consents (
    id            INTEGER PRIMARY KEY,
    applicant_id  INTEGER NOT NULL REFERENCES applicants(id),
    purpose       TEXT NOT NULL,
    text_version  TEXT NOT NULL,
    text_sha256   TEXT NOT NULL,
    method        TEXT NOT NULL CHECK (method IN ('tick', 'signature')),
    granted_at    INTEGER NOT NULL,
    granted_by    INTEGER NOT NULL REFERENCES users(id),
    withdrawn_at  INTEGER,
    withdrawn_by  INTEGER REFERENCES users(id),
    withdrawn_note TEXT
);
CREATE INDEX consents_applicant ON consents(applicant_id);
CREATE TABLE templates (
    id           INTEGER PRIMARY KEY,
    applicant_id INTEGER NOT NULL REFERENCES applicants(id),
    model        TEXT NOT NULL,
    sealed       BLOB NOT NULL,
    quality      REAL NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX templates_applicant ON templates(applicant_id);
CREATE TABLE dossiers (
    code              TEXT PRIMARY KEY,
    applicant_id      INTEGER NOT NULL REFERENCES applicants(id),
    procedure_name    TEXT NOT NULL,
    received_at       INTEGER NOT NULL,
    due_at            INTEGER NOT NULL,
    original_due_at   INTEGER NOT NULL,
    apology_used      INTEGER NOT NULL DEFAULT 0,
    status            INTEGER NOT NULL CHECK (status BETWEEN 1 AND 10),
    agency            TEXT,
    lookup_token_enc  BLOB NOT NULL,
    lookup_token_hash TEXT NOT NULL UNIQUE,
    created_by        INTEGER REFERENCES users(id),
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);
CREATE INDEX dossiers_applicant ON dossiers(applicant_id);
CREATE TABLE dossier_events (
    id           INTEGER PRIMARY KEY,
    dossier_code TEXT NOT NULL REFERENCES dossiers(code),
    status       INTEGER NOT NULL CHECK (status BETWEEN 1 AND 10),
    at           INTEGER NOT NULL,
    note         TEXT,
    agency       TEXT,
    new_due_at   INTEGER,
    actor        TEXT NOT NULL,
    recorded_at  INTEGER NOT NULL,
    UNIQUE (dossier_code, status, at)
);
CREATE TABLE audit (
    id        INTEGER PRIMARY KEY,
    at        INTEGER NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    subject   TEXT NOT NULL DEFAULT '',
    detail    TEXT NOT NULL DEFAULT '{}',
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
"#,
    // 2: service ratings from kiosks (no person, no dossier: only the score).
    r#"
CREATE TABLE ratings (
    id        INTEGER PRIMARY KEY,
    device_id INTEGER NOT NULL REFERENCES device_tokens(id),
    score     INTEGER NOT NULL CHECK (score BETWEEN 1 AND 5),
    at        INTEGER NOT NULL
);
"#,
    // 3: the admin's desk — kiosk look-ups for statistics (no person), data-subject
    // requests, admin settings, and the audit chain's head (so a deleted last entry shows).
    r#"
CREATE TABLE lookups (
    id         INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    device_id  INTEGER REFERENCES device_tokens(id),
    method     TEXT NOT NULL CHECK (method IN ('face', 'qr', 'keypad', 'none')),
    latency_ms INTEGER
);
CREATE INDEX lookups_at ON lookups(at);
CREATE TABLE dsr_requests (
    id              INTEGER PRIMARY KEY,
    applicant_id    INTEGER REFERENCES applicants(id),
    kind            TEXT NOT NULL CHECK (kind IN ('access', 'withdrawal', 'deletion')),
    channel         TEXT NOT NULL,
    received_at     INTEGER NOT NULL,
    ack_due_at      INTEGER NOT NULL,
    due_at          INTEGER NOT NULL,
    acknowledged_at INTEGER,
    completed_at    INTEGER,
    status          TEXT NOT NULL CHECK (status IN ('received', 'acknowledged', 'completed', 'rejected')),
    note            TEXT NOT NULL DEFAULT '',
    created_by      INTEGER REFERENCES users(id)
);
CREATE TABLE settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    updated_by TEXT NOT NULL
);
CREATE TABLE audit_head (
    one  INTEGER PRIMARY KEY CHECK (one = 1),
    id   INTEGER NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_subject ON audit(subject);
CREATE INDEX dossiers_status ON dossiers(status);
CREATE INDEX applicants_purged ON applicants(biometrics_purged_at);
"#,
    // Encrypted ID and phone numbers are bound to their row (the AEAD's associated data
    // names the row's ID-number hash); rows sealed before are re-sealed on open.
    r#"
ALTER TABLE applicants ADD COLUMN fields_bound INTEGER NOT NULL DEFAULT 0;
CREATE TABLE device_pairings (
    code_hash    TEXT PRIMARY KEY,
    device_id    INTEGER NOT NULL REFERENCES device_tokens(id),
    sealed_token BLOB NOT NULL,
    expires_at   INTEGER NOT NULL
);
"#,
    // 5: the kiosk keypad's miss counters (per dossier code, per kiosk; they survive a
    // restart) and the kiosks' "call staff" requests (counted, answered at the clerk desk).
    r#"
CREATE TABLE keypad_misses (
    key     TEXT PRIMARY KEY,
    count   INTEGER NOT NULL,
    last_ms INTEGER NOT NULL
);
CREATE INDEX keypad_misses_last ON keypad_misses(last_ms);
CREATE TABLE help_calls (
    id          INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    device_id   INTEGER REFERENCES device_tokens(id),
    answered_at INTEGER,
    answered_by INTEGER REFERENCES users(id)
);
CREATE INDEX help_calls_at ON help_calls(at);
"#,
    // 6: the desks of a real office day — find a returning citizen by phone (keyed hash,
    // like the ID number), when a person was last recognised, who enrolled each template,
    // and the documents received with a dossier (a JSON list of names), and a staff member's
    // name as printed on receipts.
    r#"
ALTER TABLE applicants ADD COLUMN phone_hash TEXT;
CREATE INDEX applicants_phone ON applicants(phone_hash);
ALTER TABLE applicants ADD COLUMN last_recognised_at INTEGER;
ALTER TABLE templates ADD COLUMN enrolled_by INTEGER REFERENCES users(id);
ALTER TABLE dossiers ADD COLUMN documents TEXT NOT NULL DEFAULT '[]';
ALTER TABLE users ADD COLUMN display_name TEXT;
"#,
    // 7: offices as tenants (DESIGN.md §9). Everything so far belongs to one default office
    // (id 1), whose empty name, address, return place and code prefix mean "as configured"
    // (`[office]`). Clerks and kiosks belong to an office; admins and integration tokens
    // with no office act for every office (the province), as existing ones did.
    r#"
CREATE TABLE offices (
    id           INTEGER PRIMARY KEY,
    code         TEXT NOT NULL UNIQUE,
    name         TEXT NOT NULL DEFAULT '',
    address      TEXT NOT NULL DEFAULT '',
    return_place TEXT NOT NULL DEFAULT '',
    code_prefix  TEXT NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL
);
INSERT INTO offices (id, code, created_at) VALUES (1, 'default', CAST(strftime('%s', 'now') AS INTEGER));
ALTER TABLE users ADD COLUMN office_id INTEGER REFERENCES offices(id);
UPDATE users SET office_id = 1 WHERE role = 'clerk';
ALTER TABLE device_tokens ADD COLUMN office_id INTEGER REFERENCES offices(id);
UPDATE device_tokens SET office_id = 1 WHERE role = 'kiosk';
ALTER TABLE dossiers ADD COLUMN office_id INTEGER NOT NULL DEFAULT 1;
CREATE INDEX dossiers_office ON dossiers(office_id, status);
ALTER TABLE dsr_requests ADD COLUMN office_id INTEGER REFERENCES offices(id);
"#,
    // 8: the miss counters serve sign-ins too (per client address and per username), so a
    // lockout outlives a restart and holds on every server of a deployment.
    r#"
ALTER TABLE keypad_misses RENAME TO misses;
"#,
    // 9: the gallery's change feed. Every enrolment, template deletion and purge adds a
    // row in the same transaction; every server re-reads the people named there (at once
    // on a PostgreSQL notification, and on a periodic check), so all galleries agree.
    r#"
CREATE TABLE gallery_changes (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    applicant_id INTEGER NOT NULL,
    at           INTEGER NOT NULL
);
CREATE INDEX gallery_changes_at ON gallery_changes(at);
"#,
    // 10: the offices a citizen came to in person. A clerk who finds a citizen of another
    // office by the full ID number on the card links them to the desk's office; the citizen
    // is then that office's too (with their registering office and their dossiers' offices).
    r#"
CREATE TABLE applicant_offices (
    applicant_id INTEGER NOT NULL REFERENCES applicants(id),
    office_id    INTEGER NOT NULL REFERENCES offices(id),
    since        INTEGER NOT NULL,
    PRIMARY KEY (applicant_id, office_id)
);
"#,
];
