//! Locks every server of a deployment respects: PostgreSQL session advisory locks, held on
//! a connection of a small pool of their own (a holder never waits for its own pool to do
//! the work it locked for) and released when the guard drops — or by the database itself
//! when the holding server dies. On SQLite (one server) there is nothing to take: the
//! process's own locks suffice.

use super::pg::{self, Pool};
use super::{Store, StoreError};

/// The kiosk keypad's miss counters: read, checked and written by one look-up at a time.
pub const KEYPAD: i64 = 7_418_600_003;

/// One applicant's biometric data (enrolment against withdrawal and purge).
pub fn person(applicant: i64) -> i64 {
    // The high half names the lock's kind; applicant ids stay below 2^40.
    (0x486F_i64 << 48) | (applicant & 0xFFFF_FFFF_FFFF)
}

/// A held lock (nothing on SQLite).
pub struct Held {
    conn: Option<r2d2::PooledConnection<pg::Manager>>,
    key: i64,
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(c) = self.conn.as_mut() {
            if let Err(e) = c
                .raw()
                .execute("SELECT pg_advisory_unlock($1)", &[&self.key])
            {
                tracing::warn!(error = %e, key = self.key, "releasing an advisory lock");
            }
        }
    }
}

/// The pool the locks are taken on (a few connections; waiting on a lock gives up after
/// 10 s as unavailable rather than hanging a request).
pub(super) fn pool(url: &str) -> Result<Pool, StoreError> {
    pg::pool_with(
        url,
        8,
        "hoso-locks",
        "-c client_min_messages=warning -c lock_timeout=10000",
    )
}

impl Store {
    /// Takes the deployment-wide lock `key`, waiting for another server that holds it.
    pub fn lock(&self, key: i64) -> Result<Held, StoreError> {
        // Only a PostgreSQL store has a lock pool.
        let Some(locks) = &self.locks else {
            return Ok(Held { conn: None, key });
        };
        let mut conn = locks
            .get()
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        conn.raw()
            .execute("SELECT pg_advisory_lock($1)", &[&key])
            .map_err(|e| {
                if e.code() == Some(&postgres::error::SqlState::LOCK_NOT_AVAILABLE) {
                    StoreError::Unavailable("a lock held by another server too long".into())
                } else {
                    StoreError::Pg(e)
                }
            })?;
        Ok(Held {
            conn: Some(conn),
            key,
        })
    }
}
