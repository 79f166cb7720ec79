//! The store: the only module that speaks SQL. By default one SQLite file (WAL, foreign
//! keys, secure_delete) in the data directory; with `database.url`, a PostgreSQL database
//! shared by the deployment's servers (`pg`). Versioned migrations, and typed functions for
//! every read and write (`db` is how they speak to either); writes that belong together run
//! in one transaction.

pub mod action;
pub mod admin;
pub mod audit;
pub mod db;
pub mod desk;
pub mod dossiers;
pub mod feed;
pub mod help;
pub mod keydb;
pub mod listen;
pub mod locks;
pub mod misses;
pub mod offices;
pub mod people;
pub mod pg;
pub mod reports;
pub mod requests;
mod schema;
pub mod stats;
pub mod users;
pub mod value;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use rusqlite::Connection;

use crate::p;
pub use db::{Conn, Dialect, OptionalRow, Row, Tx};

pub use audit::{AuditEntry, AuditRecord};
pub use dossiers::{DossierRow, EventRow, NewDossier, NewEvent};
pub use people::{ApplicantRow, ConsentRow, NewApplicant, NewConsent, TemplateRow};
pub use users::{DeviceRow, SessionRow, UserRow};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("database error: {}", pg::describe(.0))]
    Pg(#[from] postgres::Error),
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error("no row")]
    NoRow,
    #[error("column {index}: expected {expected}, found {found}")]
    Column {
        index: usize,
        expected: &'static str,
        found: &'static str,
    },
    #[error("{0}")]
    Unsupported(&'static str),
    #[error("database file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0} already exists")]
    Conflict(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error(
        "database schema version {found} is newer than this program knows ({known}); upgrade hoso"
    )]
    TooNew { found: i64, known: i64 },
}

impl StoreError {
    /// True when the disk is full or read-only: the request can be retried later and
    /// nothing was written.
    pub fn is_disk_full(&self) -> bool {
        use postgres::error::SqlState;
        match self {
            StoreError::Sql(rusqlite::Error::SqliteFailure(e, _)) => {
                e.code == rusqlite::ErrorCode::DiskFull || e.code == rusqlite::ErrorCode::ReadOnly
            }
            StoreError::Pg(e) => {
                e.code() == Some(&SqlState::DISK_FULL)
                    || e.code() == Some(&SqlState::READ_ONLY_SQL_TRANSACTION)
            }
            _ => false,
        }
    }

    /// True when the database cannot be reached (pool exhausted or server down): nothing
    /// was written, the request may be retried.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Unavailable(_) => true,
            StoreError::Pg(e) => {
                use std::error::Error;
                e.is_closed()
                    || e.source().is_some_and(|s| s.is::<std::io::Error>())
                    || e.code().is_some_and(|c| {
                        c.code().starts_with("08") // connection exception
                            || *c == postgres::error::SqlState::ADMIN_SHUTDOWN
                            || *c == postgres::error::SqlState::CRASH_SHUTDOWN
                            || *c == postgres::error::SqlState::CANNOT_CONNECT_NOW
                    })
            }
            _ => false,
        }
    }

    fn is_unique_violation(&self) -> bool {
        match self {
            StoreError::Sql(rusqlite::Error::SqliteFailure(f, _)) => {
                f.code == rusqlite::ErrorCode::ConstraintViolation
            }
            StoreError::Pg(e) => e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION),
            _ => false,
        }
    }
}

/// Maps a UNIQUE violation to `Conflict(what)`.
pub(crate) fn conflict(what: &str) -> impl FnOnce(StoreError) -> StoreError + '_ {
    move |e| {
        if e.is_unique_violation() {
            StoreError::Conflict(what.to_string())
        } else {
            e
        }
    }
}

/// Where the data lives.
enum Backend {
    /// One connection to the data directory's SQLite file, taken in turn.
    Lite(Mutex<Connection>),
    /// A pool of connections to a PostgreSQL database.
    Pg(pg::Pool),
}

pub struct Store {
    backend: Backend,
    /// PostgreSQL: the pool advisory locks are held on (`locks`).
    locks: Option<pg::Pool>,
    path: PathBuf,
    audit_key: [u8; 32],
}

/// Sets `path`'s permission bits to `mode` (0700 for the data directory, 0600 for the
/// database): only the service's user may read them, whatever the umask was.
pub fn make_private(path: &Path, mode: u32) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

impl Store {
    /// Opens (creating if needed) `<data_dir>/hoso.sqlite3` and migrates it. `audit_key`
    /// chains the audit log (`Keys::audit_key`).
    pub fn open(data_dir: &Path, audit_key: [u8; 32]) -> Result<Self, StoreError> {
        let path = data_dir.join("hoso.sqlite3");
        let open_err = |source| StoreError::Open {
            path: path.clone(),
            source,
        };
        let conn = Connection::open(&path).map_err(open_err)?;
        for f in ["hoso.sqlite3", "hoso.sqlite3-wal", "hoso.sqlite3-shm"] {
            let p = data_dir.join(f);
            if p.exists() {
                make_private(&p, 0o600).map_err(|source| StoreError::Io {
                    path: p.clone(),
                    source,
                })?;
            }
        }
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = FULL;
             PRAGMA foreign_keys = ON;
             PRAGMA secure_delete = ON;
             PRAGMA busy_timeout = 5000;",
        )
        .map_err(open_err)?;
        conn.set_prepared_statement_cache_capacity(256);
        let store = Self {
            backend: Backend::Lite(Mutex::new(conn)),
            locks: None,
            path,
            audit_key,
        };
        store.migrate_lite()?;
        Ok(store)
    }

    /// Connects to the PostgreSQL database at `url` with a pool of `pool_size` connections
    /// and migrates it (once, under an advisory lock, however many servers start at once).
    pub fn open_postgres(
        url: &str,
        pool_size: u32,
        audit_key: [u8; 32],
    ) -> Result<Self, StoreError> {
        let store = Self {
            backend: Backend::Pg(pg::pool(url, pool_size)?),
            locks: Some(locks::pool(url)?),
            path: PathBuf::new(),
            audit_key,
        };
        store.migrate_pg()?;
        Ok(store)
    }

    /// The SQL the database speaks.
    pub fn dialect(&self) -> Dialect {
        match self.backend {
            Backend::Lite(_) => Dialect::Sqlite,
            Backend::Pg(_) => Dialect::Postgres,
        }
    }

    /// The key of the audit chain, for `audit::append` inside a transaction.
    pub fn audit_key(&self) -> &[u8; 32] {
        &self.audit_key
    }

    /// Checks the audit chain (see `audit::verify`).
    pub fn verify_audit(&self) -> Result<Option<audit::Break>, StoreError> {
        self.read(|c| audit::verify(c, &self.audit_key))
    }

    /// The SQLite file (empty on PostgreSQL).
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lite(m: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
        m.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn migrate_lite(&self) -> Result<(), StoreError> {
        let Backend::Lite(m) = &self.backend else {
            return Ok(());
        };
        let mut c = Self::lite(m);
        let version: i64 = c.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let known = schema::MIGRATIONS.len() as i64;
        if version > known {
            return Err(StoreError::TooNew {
                found: version,
                known,
            });
        }
        for (i, sql) in schema::MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = c.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
            tx.commit()?;
            tracing::info!(version = i + 1, "database migrated");
        }
        Ok(())
    }

    fn migrate_pg(&self) -> Result<(), StoreError> {
        let known = schema::MIGRATIONS.len() as i64;
        self.tx(|tx| {
            // One server migrates; the others wait here and then find nothing to do.
            tx.execute_batch(
                "SELECT pg_advisory_xact_lock(7418600001);
                 CREATE TABLE IF NOT EXISTS hoso_schema (version BIGINT NOT NULL)",
            )?;
            let version: i64 = tx
                .query_row("SELECT version FROM hoso_schema", p![], |r| r.get(0))
                .optional()?
                .unwrap_or(0);
            if version > known {
                return Err(StoreError::TooNew {
                    found: version,
                    known,
                });
            }
            for (i, sql) in schema::MIGRATIONS.iter().enumerate().skip(version as usize) {
                tx.execute_batch(&pg::translate_ddl(sql))?;
                tracing::info!(version = i + 1, "database migrated");
            }
            if version < known {
                // Rows inserted with explicit ids (the default office) move the sequences on.
                tx.execute_batch(
                    "SELECT setval(pg_get_serial_sequence('offices', 'id'), (SELECT MAX(id) FROM offices));
                     DELETE FROM hoso_schema",
                )?;
                tx.execute("INSERT INTO hoso_schema (version) VALUES (?1)", p![known])?;
            }
            Ok(())
        })
    }

    /// Runs `f` in one transaction: all of it is written, or none (an `Err` rolls back).
    pub fn tx<T>(&self, f: impl FnOnce(&Tx) -> Result<T, StoreError>) -> Result<T, StoreError> {
        self.tx_with(f)
    }

    /// Runs `f` in one transaction whose audit entries (see [`audit::AuditedTx`]) are
    /// written with it: all of it, or none.
    pub fn audited<T>(
        &self,
        actor: &str,
        at: i64,
        f: impl FnOnce(&audit::AuditedTx) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.audited_with(actor, at, f)
    }

    /// `audited` with the caller's own error type.
    pub fn audited_with<T, E: From<StoreError>>(
        &self,
        actor: &str,
        at: i64,
        f: impl FnOnce(&audit::AuditedTx) -> Result<T, E>,
    ) -> Result<T, E> {
        self.tx_with(|tx| f(&audit::AuditedTx::new(tx, &self.audit_key, actor, at)))
    }

    /// `tx` with the caller's own error type.
    pub fn tx_with<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&Tx) -> Result<T, E>,
    ) -> Result<T, E> {
        match &self.backend {
            Backend::Lite(m) => {
                let mut c = Self::lite(m);
                let tx = c.transaction().map_err(StoreError::from)?;
                let out = f(&Tx(Conn::Lite(&tx)))?;
                tx.commit().map_err(StoreError::from)?;
                Ok(out)
            }
            Backend::Pg(pool) => {
                let s = pg::Session::take(pool)?;
                let open = pg::Open::begin(&s)?;
                let out = f(&Tx(Conn::Pg(&s)))?;
                open.commit()?;
                Ok(out)
            }
        }
    }

    /// Read-only access.
    pub fn read<T>(&self, f: impl FnOnce(&Conn) -> Result<T, StoreError>) -> Result<T, StoreError> {
        match &self.backend {
            Backend::Lite(m) => f(&Conn::Lite(&Self::lite(m))),
            Backend::Pg(pool) => f(&Conn::Pg(&pg::Session::take(pool)?)),
        }
    }

    /// Moves every WAL page into the main file and truncates the WAL (after a purge, so no
    /// old page of a purged row lingers in the WAL). PostgreSQL recycles its WAL itself.
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        if let Backend::Lite(m) = &self.backend {
            Self::lite(m).query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        }
        Ok(())
    }

    /// A consistent copy of the database into `dest` (SQLite online backup). A PostgreSQL
    /// database is backed up with `pg_dump` (deploy/README.md).
    pub fn backup_to(&self, dest: &Path) -> Result<(), StoreError> {
        let Backend::Lite(m) = &self.backend else {
            return Err(StoreError::Unsupported(
                "a PostgreSQL database is backed up with pg_dump (deploy/README.md)",
            ));
        };
        let c = Self::lite(m);
        let mut out = Connection::open(dest)?;
        let b = rusqlite::backup::Backup::new(&c, &mut out)?;
        b.run_to_completion(256, std::time::Duration::from_millis(0), None)?;
        Ok(())
    }
}

/// SQLite's integrity check of a database file that is not open as a store (a backup being
/// restored): "ok", or what is wrong.
pub fn integrity_of(path: &Path) -> Result<String, StoreError> {
    let c = Connection::open(path)?;
    Ok(c.query_row("PRAGMA integrity_check", [], |r| r.get(0))?)
}

/// The schema version this program migrates to.
pub fn schema_version() -> usize {
    schema::MIGRATIONS.len()
}

/// Now as unix seconds.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Now as unix milliseconds (the miss counters' clock: they outlive the process).
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
