//! SQL for miss counters: one row per key — the kiosk keypad's (`code:<dossier code>`,
//! `kiosk:<device id>`, see `kiosk::keypad`) and failed sign-ins' (`login-client:<address>`,
//! `login-user:<name>`, see `app::signin`) — forgotten when stale.

use super::db::{Conn, OptionalRow, Tx};
use crate::p;

use super::StoreError;
use crate::kiosk::keypad::{kiosks_key, CodeMisses, Misses};

/// The counter of `key`, if any.
pub fn get(c: &Conn, key: &str) -> Result<Option<Misses>, StoreError> {
    c.query_row(
        "SELECT count, last_ms FROM misses WHERE key = ?1",
        p![key],
        |r| {
            Ok(Misses {
                count: r.get(0)?,
                last_ms: r.get(1)?,
            })
        },
    )
    .optional()
}

/// Stores the counter of `key`.
pub fn put(tx: &Tx, key: &str, m: Misses) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO misses (key, count, last_ms) VALUES (?1, ?2, ?3)
         ON CONFLICT(key) DO UPDATE SET count = excluded.count, last_ms = excluded.last_ms",
        p![key, m.count, m.last_ms],
    )?;
    Ok(())
}

/// Stores a dossier code's pair of counters under its keys (`kiosk::keypad::code_keys`).
pub fn put_code(tx: &Tx, keys: &(String, String), m: CodeMisses) -> Result<(), StoreError> {
    put(tx, &keys.0, m.here)?;
    put(tx, &keys.1, m.kiosks)
}

/// Forgets the counter of `key` (a right look-up of that code).
pub fn clear(tx: &Tx, key: &str) -> Result<(), StoreError> {
    tx.execute("DELETE FROM misses WHERE key = ?1", p![key])?;
    Ok(())
}

/// The keypad counters of dossier `code`: the kiosks' count (`code:<code>`) and each
/// kiosk's misses (`code:<code>@kiosk:<id>`).
pub fn of_code(c: &Conn, code: &str) -> Result<Vec<(String, Misses)>, StoreError> {
    let mut st = c.prepare(
        "SELECT key, count, last_ms FROM misses WHERE key = ?1 OR substr(key, 1, length(?2)) = ?2",
    )?;
    let rows = st.query_map(
        p![kiosks_key(code), format!("{}@", kiosks_key(code))],
        |r| {
            Ok((
                r.get(0)?,
                Misses {
                    count: r.get(1)?,
                    last_ms: r.get(2)?,
                },
            ))
        },
    )?;
    rows.collect::<Result<_, _>>()
}

/// Forgets the keypad counters of dossier `code`; returns how many there were.
pub fn clear_code(tx: &Tx, code: &str) -> Result<usize, StoreError> {
    tx.execute(
        "DELETE FROM misses WHERE key = ?1 OR substr(key, 1, length(?2)) = ?2",
        p![kiosks_key(code), format!("{}@", kiosks_key(code))],
    )
}

/// Forgets every counter whose latest miss is before `before_ms`.
pub fn prune(tx: &Tx, before_ms: i64) -> Result<usize, StoreError> {
    tx.execute("DELETE FROM misses WHERE last_ms < ?1", p![before_ms])
}

/// Counts one more miss of `key` at `now_ms` in one statement (concurrent misses are all
/// counted); a counter whose latest miss is before `stale_before_ms` starts again at 1.
pub fn bump(tx: &Tx, key: &str, now_ms: i64, stale_before_ms: i64) -> Result<Misses, StoreError> {
    tx.query_row(
        "INSERT INTO misses (key, count, last_ms) VALUES (?1, 1, ?2)
         ON CONFLICT(key) DO UPDATE SET
             count = CASE WHEN misses.last_ms < ?3 THEN 1 ELSE misses.count + 1 END,
             last_ms = excluded.last_ms
         RETURNING count, last_ms",
        p![key, now_ms, stale_before_ms],
        |r| {
            Ok(Misses {
                count: r.get(0)?,
                last_ms: r.get(1)?,
            })
        },
    )
}
