//! SQL for the admin's charts and their CSV: look-ups per kiosk and day, dossiers finished
//! on time per week, ratings per kiosk (counts only — never who).

use super::db::Conn;
use crate::p;

use super::offices::device_in_scope;
use super::stats::LOCAL_OFFSET_S;
use super::StoreError;

/// Look-ups of one kiosk on one local day, by how they were resolved.
#[derive(Debug, Clone, Default, serde::Serialize, utoipa::ToSchema)]
pub struct KioskDay {
    pub day: String,
    /// The kiosk's name ("—" for look-ups without a device).
    pub kiosk: String,
    pub face: i64,
    pub qr: i64,
    pub keypad: i64,
    pub unresolved: i64,
}

/// Dossiers finished in one week (Monday's date), on time or late.
#[derive(Debug, Clone, Default, serde::Serialize, utoipa::ToSchema)]
pub struct Week {
    pub week: String,
    pub on_time: i64,
    pub late: i64,
}

/// Ratings of one kiosk: how many of each score 1–5.
#[derive(Debug, Clone, Default, serde::Serialize, utoipa::ToSchema)]
pub struct KioskRatings {
    pub kiosk: String,
    pub scores: [i64; 5],
}

pub fn lookups_per_kiosk_day(
    c: &Conn,
    from: i64,
    scope: Option<i64>,
) -> Result<Vec<KioskDay>, StoreError> {
    let mut st = c.prepare(&format!(
        "SELECT {} AS day, COALESCE(d.name, '—') AS kiosk,
                COUNT(CASE WHEN l.method = 'face' THEN 1 END), COUNT(CASE WHEN l.method = 'qr' THEN 1 END),
                COUNT(CASE WHEN l.method = 'keypad' THEN 1 END), COUNT(CASE WHEN l.method = 'none' THEN 1 END)
         FROM lookups l LEFT JOIN device_tokens d ON d.id = l.device_id
         WHERE l.at >= ?1 AND {} GROUP BY day, kiosk ORDER BY day, kiosk",
        c.dialect().day("l.at + ?2"),
        device_in_scope("l.device_id", 3)
    ))?;
    let rows = st.query_map(p![from, LOCAL_OFFSET_S, scope], |r| {
        Ok(KioskDay {
            day: r.get(0)?,
            kiosk: r.get(1)?,
            face: r.get(2)?,
            qr: r.get(3)?,
            keypad: r.get(4)?,
            unresolved: r.get(5)?,
        })
    })?;
    rows.collect::<Result<_, _>>()
}

/// Dossiers finished (first status 9 or 10) since `from`, per local week, oldest first; on
/// time when finished by the original appointment.
pub fn on_time_by_week(c: &Conn, from: i64, scope: Option<i64>) -> Result<Vec<Week>, StoreError> {
    let mut st = c.prepare(&format!(
        "SELECT {} AS week,
                COUNT(CASE WHEN finished <= original_due_at THEN 1 END),
                COUNT(CASE WHEN finished > original_due_at THEN 1 END)
         FROM (SELECT d.original_due_at,
                 (SELECT MIN(e.at) FROM dossier_events e
                  WHERE e.dossier_code = d.code AND e.status IN ({finished})) AS finished
               FROM dossiers d WHERE CAST(?3 AS BIGINT) IS NULL OR d.office_id = ?3) AS f
         WHERE finished IS NOT NULL AND finished >= ?1
         GROUP BY week ORDER BY week",
        c.dialect().week("finished + ?2"),
        finished = *crate::dossier::sql::FINISHED
    ))?;
    let rows = st.query_map(p![from, LOCAL_OFFSET_S, scope], |r| {
        Ok(Week {
            week: r.get(0)?,
            on_time: r.get(1)?,
            late: r.get(2)?,
        })
    })?;
    rows.collect::<Result<_, _>>()
}

pub fn ratings_per_kiosk(
    c: &Conn,
    from: i64,
    scope: Option<i64>,
) -> Result<Vec<KioskRatings>, StoreError> {
    let mut st = c.prepare(
        "SELECT d.name, r.score, COUNT(*) FROM ratings r JOIN device_tokens d ON d.id = r.device_id
         WHERE r.at >= ?1 AND (CAST(?2 AS BIGINT) IS NULL OR d.office_id = ?2) GROUP BY d.name, r.score ORDER BY d.name",
    )?;
    let mut out: Vec<KioskRatings> = Vec::new();
    let rows = st.query_map(p![from, scope], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })?;
    for row in rows {
        let (kiosk, score, n) = row?;
        if out.last().is_none_or(|k| k.kiosk != kiosk) {
            out.push(KioskRatings {
                kiosk,
                scores: [0; 5],
            });
        }
        if let (Some(k), Ok(i)) = (out.last_mut(), usize::try_from(score - 1)) {
            if let Some(slot) = k.scores.get_mut(i) {
                *slot = n;
            }
        }
    }
    Ok(out)
}

/// Look-ups per kiosk and day as CSV (for a spreadsheet).
pub fn kiosk_days_csv(rows: &[KioskDay]) -> Result<Vec<u8>, StoreError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let err = |e: csv::Error| StoreError::Conflict(format!("csv: {e}"));
    w.write_record([
        "day",
        "kiosk",
        "face",
        "qr",
        "keypad",
        "unresolved",
        "total",
    ])
    .map_err(err)?;
    for r in rows {
        let total = r.face + r.qr + r.keypad + r.unresolved;
        w.write_record([
            r.day.as_str(),
            &super::audit::spreadsheet_safe(&r.kiosk),
            &r.face.to_string(),
            &r.qr.to_string(),
            &r.keypad.to_string(),
            &r.unresolved.to_string(),
            &total.to_string(),
        ])
        .map_err(err)?;
    }
    w.into_inner()
        .map_err(|e| StoreError::Conflict(format!("csv: {e}")))
}
