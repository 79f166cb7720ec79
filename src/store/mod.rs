//! The store: the only module that speaks SQL. One SQLite file (WAL, foreign keys,
//! secure_delete) in the data directory, versioned migrations, and typed functions for
//! every read and write; writes that belong together run in one transaction.

pub mod action;
pub mod admin;
pub mod audit;
pub mod desk;
pub mod dossiers;
pub mod help;
pub mod misses;
pub mod offices;
pub mod people;
pub mod reports;
pub mod requests;
mod schema;
pub mod stats;
pub mod users;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, Transaction};

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
        matches!(self, StoreError::Sql(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::DiskFull || e.code == rusqlite::ErrorCode::ReadOnly)
    }
}

/// Maps a UNIQUE violation to `Conflict(what)`.
pub(crate) fn conflict(what: &str) -> impl FnOnce(rusqlite::Error) -> StoreError + '_ {
    move |e| match &e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            StoreError::Conflict(what.to_string())
        }
        _ => StoreError::Sql(e),
    }
}

pub struct Store {
    conn: Mutex<Connection>,
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
        let store = Self {
            conn: Mutex::new(conn),
            path,
            audit_key,
        };
        store.migrate()?;
        Ok(store)
    }

    /// The key of the audit chain, for `audit::append` inside a transaction.
    pub fn audit_key(&self) -> &[u8; 32] {
        &self.audit_key
    }

    /// Checks the audit chain (see `audit::verify`).
    pub fn verify_audit(&self) -> Result<Option<audit::Break>, StoreError> {
        audit::verify(&self.conn(), &self.audit_key)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn migrate(&self) -> Result<(), StoreError> {
        let mut c = self.conn();
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

    /// Runs `f` in one transaction: all of it is written, or none (an `Err` rolls back).
    pub fn tx<T>(
        &self,
        f: impl FnOnce(&Transaction) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
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
        f: impl FnOnce(&Transaction) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut c = self.conn();
        let tx = c.transaction().map_err(StoreError::from)?;
        let out = f(&tx)?;
        tx.commit().map_err(StoreError::from)?;
        Ok(out)
    }

    /// Read-only access.
    pub fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        f(&self.conn())
    }

    /// Moves every WAL page into the main file and truncates the WAL (after a purge, so no
    /// old page of a purged row lingers in the WAL).
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        self.conn()
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// A consistent copy of the database into `dest` (SQLite online backup).
    pub fn backup_to(&self, dest: &Path) -> Result<(), StoreError> {
        let c = self.conn();
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

/// Now as unix seconds.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Now as unix milliseconds (the miss counters' clock: they outlive the process).
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
