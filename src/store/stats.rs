//! SQL for office statistics: kiosk look-ups (how each visit was resolved, and how long it
//! took — never who), ratings, and dossiers on time versus overdue.

use super::db::{Conn, Tx};
use crate::p;

use super::offices::{applicant_in_scope, device_in_scope};
use super::StoreError;

/// Vietnam is UTC+7 all year: days are counted in local time.
pub(crate) const LOCAL_OFFSET_S: i64 = 7 * 3600;

/// Records one kiosk visit's outcome; returns its row id.
pub fn insert_lookup(
    tx: &Tx,
    at: i64,
    device_id: Option<i64>,
    method: &str,
    latency_ms: Option<i64>,
) -> Result<i64, StoreError> {
    tx.insert(
        "INSERT INTO lookups (at, device_id, method, latency_ms) VALUES (?1, ?2, ?3, ?4)",
        p![at, device_id, method, latency_ms],
    )
}

/// A visit first left unresolved and then resolved by a fallback.
pub fn resolve_lookup(
    tx: &Tx,
    id: i64,
    method: &str,
    latency_ms: Option<i64>,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE lookups SET method = ?1, latency_ms = ?2 WHERE id = ?3 AND method = 'none'",
        p![method, latency_ms, id],
    )?;
    Ok(())
}

#[derive(Debug, Clone, Default, serde::Serialize, utoipa::ToSchema)]
pub struct Day {
    /// Local date, YYYY-MM-DD.
    pub day: String,
    pub face: i64,
    pub qr: i64,
    pub keypad: i64,
    pub unresolved: i64,
}

/// Look-ups per local day since `from` (unix seconds) at the kiosks of office `scope`
/// (None: all), oldest first.
pub fn lookups_per_day(c: &Conn, from: i64, scope: Option<i64>) -> Result<Vec<Day>, StoreError> {
    let mut st = c.prepare(&format!(
        "SELECT {} AS day,
                COUNT(CASE WHEN method = 'face' THEN 1 END), COUNT(CASE WHEN method = 'qr' THEN 1 END),
                COUNT(CASE WHEN method = 'keypad' THEN 1 END), COUNT(CASE WHEN method = 'none' THEN 1 END)
         FROM lookups WHERE at >= ?1 AND {} GROUP BY day ORDER BY day",
        c.dialect().day("at + ?2"),
        device_in_scope("device_id", 3)
    ))?;
    let rows = st.query_map(p![from, LOCAL_OFFSET_S, scope], |r| {
        Ok(Day {
            day: r.get(0)?,
            face: r.get(1)?,
            qr: r.get(2)?,
            keypad: r.get(3)?,
            unresolved: r.get(4)?,
        })
    })?;
    rows.collect::<Result<_, _>>()
}

/// Latencies (ms) of resolved look-ups since `from`, by method, sorted ascending.
pub fn latencies(
    c: &Conn,
    from: i64,
    method: &str,
    scope: Option<i64>,
) -> Result<Vec<i64>, StoreError> {
    let mut st = c.prepare(&format!(
        "SELECT latency_ms FROM lookups WHERE at >= ?1 AND method = ?2
             AND latency_ms IS NOT NULL AND {} ORDER BY latency_ms",
        device_in_scope("device_id", 3)
    ))?;
    let rows = st.query_map(p![from, method, scope], |r| r.get(0))?;
    rows.collect::<Result<_, _>>()
}

/// Ratings since `from`: count per score 1..=5.
pub fn ratings(c: &Conn, from: i64, scope: Option<i64>) -> Result<[i64; 5], StoreError> {
    let mut st = c.prepare(&format!(
        "SELECT score, COUNT(*) FROM ratings WHERE at >= ?1 AND {} GROUP BY score",
        device_in_scope("device_id", 2)
    ))?;
    let mut out = [0i64; 5];
    let rows = st.query_map(p![from, scope], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
    })?;
    for r in rows {
        let (s, n) = r?;
        if (1..=5).contains(&s) {
            out[(s - 1) as usize] = n;
        }
    }
    Ok(out)
}

/// Dossiers by timeliness (the figure offices are ranked on). Finished = result ready or
/// returned (status 9/10) — on time when finished by the original appointment (a moved
/// appointment with an apology still counts late); open = not finished and not closed
/// otherwise — overdue when past the current appointment.
#[derive(Debug, Clone, Default, serde::Serialize, utoipa::ToSchema)]
pub struct Timeliness {
    pub finished_on_time: i64,
    pub finished_late: i64,
    pub open_on_time: i64,
    pub open_overdue: i64,
}

pub fn timeliness(c: &Conn, now: i64, scope: Option<i64>) -> Result<Timeliness, StoreError> {
    c.query_row(
        &format!(
            "SELECT
            COUNT(CASE WHEN status IN ({finished}) AND finished <= original_due_at THEN 1 END),
            COUNT(CASE WHEN status IN ({finished}) AND finished > original_due_at THEN 1 END),
            COUNT(CASE WHEN status IN ({running}) AND ?1 <= due_at THEN 1 END),
            COUNT(CASE WHEN status IN ({running}) AND ?1 > due_at THEN 1 END)
         FROM (SELECT d.status, d.due_at, d.original_due_at,
                 COALESCE((SELECT MIN(e.at) FROM dossier_events e
                           WHERE e.dossier_code = d.code AND e.status IN ({finished})), d.updated_at) AS finished
               FROM dossiers d WHERE CAST(?2 AS BIGINT) IS NULL OR d.office_id = ?2) AS t",
            finished = *crate::dossier::sql::FINISHED,
            running = *crate::dossier::sql::CLOCK_RUNNING
        ),
        p![now, scope],
        |r| {
            Ok(Timeliness {
                finished_on_time: r.get(0)?,
                finished_late: r.get(1)?,
                open_on_time: r.get(2)?,
                open_overdue: r.get(3)?,
            })
        },
    )
}

/// Applicants with a running consent, and of those with templates.
pub fn consented(c: &Conn, purpose: &str, scope: Option<i64>) -> Result<(i64, i64), StoreError> {
    c.query_row(
        &format!(
            "SELECT COUNT(*), COUNT(CASE WHEN EXISTS (SELECT 1 FROM templates t WHERE t.applicant_id = x.applicant_id) THEN 1 END)
             FROM (SELECT DISTINCT k.applicant_id FROM consents k JOIN applicants a ON a.id = k.applicant_id
                   WHERE k.purpose = ?1 AND k.withdrawn_at IS NULL AND {}) x",
            applicant_in_scope(2)
        ),
        p![purpose, scope],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}
