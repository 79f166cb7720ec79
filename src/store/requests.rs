//! SQL for data-subject requests (access, withdrawal, deletion) and their deadlines.

use super::db::{Conn, DbResult, OptionalRow, Row, Tx};
use crate::p;

use super::StoreError;
use crate::request::{RequestKind, RequestStatus};

pub struct NewRequest<'a> {
    pub applicant_id: i64,
    pub kind: RequestKind,
    pub channel: &'a str,
    pub received_at: i64,
    pub ack_due_at: i64,
    pub due_at: i64,
    pub note: &'a str,
    pub created_by: Option<i64>,
    /// The office whose admin received it (None: a province admin).
    pub office_id: Option<i64>,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct RequestRow {
    pub id: i64,
    pub applicant_id: Option<i64>,
    pub kind: RequestKind,
    pub channel: String,
    pub received_at: i64,
    pub ack_due_at: i64,
    pub due_at: i64,
    pub acknowledged_at: Option<i64>,
    pub completed_at: Option<i64>,
    pub status: RequestStatus,
    pub note: String,
}

const SELECT: &str = "SELECT id, applicant_id, kind, channel, received_at, ack_due_at, due_at,
    acknowledged_at, completed_at, status, note FROM dsr_requests";

/// A column holding one of an enum's names.
fn named<T>(r: &Row, i: usize, parse: fn(&str) -> Option<T>) -> DbResult<T> {
    let s: String = r.get(i)?;
    parse(&s).ok_or(StoreError::Column {
        index: i,
        expected: "a known name",
        found: "an unknown name",
    })
}

fn row(r: &Row) -> DbResult<RequestRow> {
    Ok(RequestRow {
        id: r.get(0)?,
        applicant_id: r.get(1)?,
        kind: named(r, 2, RequestKind::parse)?,
        channel: r.get(3)?,
        received_at: r.get(4)?,
        ack_due_at: r.get(5)?,
        due_at: r.get(6)?,
        acknowledged_at: r.get(7)?,
        completed_at: r.get(8)?,
        status: named(r, 9, RequestStatus::parse)?,
        note: r.get(10)?,
    })
}

pub fn insert(tx: &Tx, n: &NewRequest) -> Result<i64, StoreError> {
    tx.insert(
        "INSERT INTO dsr_requests (applicant_id, kind, channel, received_at, ack_due_at, due_at,
             status, note, created_by, office_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'received', ?7, ?8, ?9)",
        p![
            n.applicant_id,
            n.kind.as_str(),
            n.channel,
            n.received_at,
            n.ack_due_at,
            n.due_at,
            n.note,
            n.created_by,
            n.office_id
        ],
    )
}

/// Request `id` if it is of office `scope` (None: any).
pub fn get(c: &Conn, id: i64, scope: Option<i64>) -> Result<Option<RequestRow>, StoreError> {
    c.query_row(
        &format!("{SELECT} WHERE id = ?1 AND (CAST(?2 AS BIGINT) IS NULL OR office_id = ?2)"),
        p![id, scope],
        row,
    )
    .optional()
}

/// Open requests first (by deadline), then the latest closed ones; of office `scope`
/// (None: all).
pub fn list(c: &Conn, limit: i64, scope: Option<i64>) -> Result<Vec<RequestRow>, StoreError> {
    let mut st = c.prepare(&format!(
        "{SELECT} WHERE CAST(?2 AS BIGINT) IS NULL OR office_id = ?2
         ORDER BY status IN ('completed', 'rejected'), due_at, id DESC LIMIT ?1"
    ))?;
    let rows = st.query_map(p![limit, scope], row)?;
    rows.collect::<Result<_, _>>()
}

/// Requests of one applicant received by office `scope` (None: all).
pub fn of_applicant(
    c: &Conn,
    applicant_id: i64,
    scope: Option<i64>,
) -> Result<Vec<RequestRow>, StoreError> {
    let mut st = c.prepare(&format!(
        "{SELECT} WHERE applicant_id = ?1 AND (CAST(?2 AS BIGINT) IS NULL OR office_id = ?2)
         ORDER BY id"
    ))?;
    let rows = st.query_map(p![applicant_id, scope], row)?;
    rows.collect::<Result<_, _>>()
}

pub fn set_status(
    tx: &Tx,
    id: i64,
    status: RequestStatus,
    note: &str,
    now: i64,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE dsr_requests SET status = ?1,
             acknowledged_at = COALESCE(acknowledged_at, ?2),
             completed_at = CASE WHEN ?1 IN ('completed', 'rejected') THEN ?2 ELSE completed_at END,
             note = CASE WHEN ?3 = '' THEN note WHEN note = '' THEN ?3 ELSE note || '
' || ?3 END
         WHERE id = ?4",
        p![status.as_str(), now, note, id],
    )?;
    Ok(())
}

/// (open, of which past a deadline) at `now`.
pub fn open_counts(c: &Conn, now: i64, scope: Option<i64>) -> Result<(i64, i64), StoreError> {
    c.query_row(
        "SELECT COUNT(*),
                COUNT(CASE WHEN now_late THEN 1 END)
         FROM (SELECT (?1 > due_at OR (acknowledged_at IS NULL AND ?1 > ack_due_at)) AS now_late
               FROM dsr_requests WHERE status IN ('received', 'acknowledged')
                 AND (CAST(?2 AS BIGINT) IS NULL OR office_id = ?2)) AS r",
        p![now, scope],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}
