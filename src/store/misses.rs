//! SQL for the kiosk keypad's miss counters (`kiosk::keypad`): one row per key
//! (`code:<dossier code>` or `kiosk:<device id>`), forgotten when stale.

use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::StoreError;
use crate::kiosk::keypad::Misses;

/// The counter of `key`, if any.
pub fn get(c: &Connection, key: &str) -> Result<Option<Misses>, StoreError> {
    Ok(c.query_row(
        "SELECT count, last_ms FROM keypad_misses WHERE key = ?1",
        [key],
        |r| {
            Ok(Misses {
                count: r.get(0)?,
                last_ms: r.get(1)?,
            })
        },
    )
    .optional()?)
}

/// Stores the counter of `key`.
pub fn put(tx: &Transaction, key: &str, m: Misses) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO keypad_misses (key, count, last_ms) VALUES (?1, ?2, ?3)
         ON CONFLICT(key) DO UPDATE SET count = excluded.count, last_ms = excluded.last_ms",
        params![key, m.count, m.last_ms],
    )?;
    Ok(())
}

/// Forgets the counter of `key` (a right look-up of that code).
pub fn clear(tx: &Transaction, key: &str) -> Result<(), StoreError> {
    tx.execute("DELETE FROM keypad_misses WHERE key = ?1", [key])?;
    Ok(())
}

/// Forgets every counter whose latest miss is before `before_ms`.
pub fn prune(tx: &Transaction, before_ms: i64) -> Result<usize, StoreError> {
    Ok(tx.execute("DELETE FROM keypad_misses WHERE last_ms < ?1", [before_ms])?)
}
