//! The gallery's change feed (`gallery_changes`): one row per applicant whose templates
//! changed (enrolment, template deletion, purge), written in the transaction that changed
//! them. On PostgreSQL the same transaction notifies `hoso_gallery`, delivered to every
//! listening server when it commits. Servers follow the feed by id; a row names a person
//! to re-read, so applying one twice is harmless.

use super::db::{Conn, Dialect, Tx};
use super::StoreError;
use crate::p;

/// The notification channel servers listen on.
pub const CHANNEL: &str = "hoso_gallery";

/// Records that `applicant`'s templates changed (inside the changing transaction).
pub fn note(tx: &Tx, applicant: i64, now: i64) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO gallery_changes (applicant_id, at) VALUES (?1, ?2)",
        p![applicant, now],
    )?;
    if tx.dialect() == Dialect::Postgres {
        tx.query_row("SELECT pg_notify(?1, '')", p![CHANNEL], |_| Ok(()))?;
    }
    Ok(())
}

/// Changes after `after`, oldest first: (change id, applicant).
pub fn since(c: &Conn, after: i64) -> Result<Vec<(i64, i64)>, StoreError> {
    c.query_map(
        "SELECT id, applicant_id FROM gallery_changes WHERE id > ?1 ORDER BY id LIMIT 10000",
        p![after],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// The highest change id recorded before `before` (0: none): where a server starting now
/// begins to follow, so that changes of the last moments are applied again.
pub fn start_mark(c: &Conn, before: i64) -> Result<i64, StoreError> {
    c.query_row(
        "SELECT COALESCE(MAX(id), 0) FROM gallery_changes WHERE at < ?1",
        p![before],
        |r| r.get(0),
    )
}

/// Forgets changes older than `before` (a server away longer reloads its gallery).
pub fn prune(tx: &Tx, before: i64) -> Result<usize, StoreError> {
    tx.execute("DELETE FROM gallery_changes WHERE at < ?1", p![before])
}
