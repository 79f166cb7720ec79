//! The gallery's change feed (`gallery_changes`): one row per applicant whose templates
//! changed (enrolment, template deletion, purge), written in the transaction that changed
//! them. On PostgreSQL the same transaction notifies `hoso_gallery`, delivered to every
//! listening server when it commits. Servers follow the feed by id; a row names a person
//! to re-read, so applying one twice is harmless.

use std::time::Duration;

use super::db::{Conn, Dialect, Tx};
use super::people::TemplateRow;
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

/// The applicant's templates while their consent for `purpose` runs (none otherwise).
pub fn templates_of(
    c: &Conn,
    purpose: &str,
    applicant: i64,
) -> Result<Vec<TemplateRow>, StoreError> {
    c.query_map(
        "SELECT t.id, t.applicant_id, t.model, t.sealed, t.quality FROM templates t
         WHERE t.applicant_id = ?2 AND EXISTS (SELECT 1 FROM consents c
               WHERE c.applicant_id = t.applicant_id AND c.purpose = ?1 AND c.withdrawn_at IS NULL)
         ORDER BY t.id",
        p![purpose, applicant],
        |r| {
            Ok(TemplateRow {
                id: r.get(0)?,
                applicant_id: r.get(1)?,
                model: r.get(2)?,
                sealed: r.get(3)?,
                quality: r.get(4)?,
            })
        },
    )
}

/// Listens for `CHANNEL` on a connection of its own (`hoso-listen` in `pg_stat_activity`)
/// and calls `changed` after every burst of notifications, after each (re)connection
/// (what was sent meanwhile is lost) and every `quiet` without any. A dropped connection is
/// logged and opened again after `retry`. Returns when `changed` returns false.
pub fn listen(url: &str, quiet: Duration, retry: Duration, mut changed: impl FnMut(&str) -> bool) {
    let config = match url.parse::<postgres::Config>() {
        Ok(mut c) => {
            c.application_name("hoso-listen");
            c.connect_timeout(Duration::from_secs(3));
            c
        }
        Err(e) => {
            tracing::error!(error = %e, "the gallery listener cannot parse database.url");
            return;
        }
    };
    loop {
        match config.connect(postgres::NoTls) {
            Ok(mut client) => match client.batch_execute(&format!("LISTEN {CHANNEL}")) {
                Ok(()) => {
                    if !changed("connected") {
                        return;
                    }
                    match follow(&mut client, quiet, &mut changed) {
                        Ok(()) => return,
                        Err(e) => tracing::warn!(error = %e, "gallery listener connection lost"),
                    }
                }
                Err(e) => tracing::warn!(error = %e, "gallery listener: LISTEN failed"),
            },
            Err(e) => tracing::warn!(error = %e, "gallery listener cannot connect"),
        }
        if !changed("check") {
            return;
        }
        std::thread::sleep(retry);
    }
}

/// Waits for notifications on a listening client: Ok when `changed` asks to stop, the
/// reason when the connection is lost.
fn follow(
    client: &mut postgres::Client,
    quiet: Duration,
    changed: &mut impl FnMut(&str) -> bool,
) -> Result<(), String> {
    use postgres::fallible_iterator::FallibleIterator;
    loop {
        let mut n = client.notifications();
        let got = n
            .timeout_iter(quiet)
            .next()
            .map_err(|e| super::pg::describe(&e))?
            .is_some();
        // A burst of notifications is one re-read.
        while n
            .iter()
            .next()
            .map_err(|e| super::pg::describe(&e))?
            .is_some()
        {}
        drop(n);
        if client.is_closed() {
            return Err("connection closed".into());
        }
        if !changed(if got { "notification" } else { "check" }) {
            return Ok(());
        }
    }
}
