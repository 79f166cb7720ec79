//! SQL for the kiosks' "call staff" requests: when, which kiosk, when answered and by whom.
//! Never who was standing at the kiosk.

use super::db::{Conn, DbResult, OptionalRow, Row, Tx};
use crate::p;
use serde::Serialize;

use super::StoreError;

/// One request, as the clerk desk shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HelpCall {
    pub id: i64,
    pub at: i64,
    pub kiosk: String,
    pub answered_at: Option<i64>,
    /// The kiosk's office (only that office's desks are told).
    #[serde(skip)]
    pub office_id: Option<i64>,
}

/// Records a request from kiosk `device_id`; returns its id.
pub fn insert(tx: &Tx, at: i64, device_id: i64) -> Result<i64, StoreError> {
    tx.insert(
        "INSERT INTO help_calls (at, device_id) VALUES (?1, ?2)",
        p![at, device_id],
    )
}

/// The kiosk's unanswered request made at or after `since`, if any.
pub fn open_of(c: &Conn, device_id: i64, since: i64) -> Result<Option<i64>, StoreError> {
    c.query_row(
        "SELECT id FROM help_calls WHERE device_id = ?1 AND at >= ?2 AND answered_at IS NULL
         ORDER BY id DESC LIMIT 1",
        p![device_id, since],
        |r| r.get(0),
    )
    .optional()
}

/// Marks a request answered; false when it was already answered or does not exist.
pub fn answer(tx: &Tx, id: i64, by: i64, at: i64) -> Result<bool, StoreError> {
    Ok(tx.execute(
        "UPDATE help_calls SET answered_at = ?1, answered_by = ?2 WHERE id = ?3 AND answered_at IS NULL",
        p![at, by, id],
    )? == 1)
}

/// One request with its kiosk's name.
pub fn get(c: &Conn, id: i64) -> Result<Option<HelpCall>, StoreError> {
    c.query_row(
        "SELECT h.id, h.at, COALESCE(d.name, ''), h.answered_at, d.office_id FROM help_calls h
         LEFT JOIN device_tokens d ON d.id = h.device_id WHERE h.id = ?1",
        p![id],
        row,
    )
    .optional()
}

/// Request `id` if kiosk `device_id` made it.
pub fn get_of(c: &Conn, id: i64, device_id: i64) -> Result<Option<HelpCall>, StoreError> {
    c.query_row(
        "SELECT h.id, h.at, COALESCE(d.name, ''), h.answered_at, d.office_id FROM help_calls h
         LEFT JOIN device_tokens d ON d.id = h.device_id WHERE h.id = ?1 AND h.device_id = ?2",
        p![id, device_id],
        row,
    )
    .optional()
}

/// Unanswered requests made at or after `since` at the kiosks of office `scope` (None:
/// all), oldest first.
pub fn open(c: &Conn, since: i64, scope: Option<i64>) -> Result<Vec<HelpCall>, StoreError> {
    let mut st = c.prepare(
        "SELECT h.id, h.at, COALESCE(d.name, ''), h.answered_at, d.office_id FROM help_calls h
         LEFT JOIN device_tokens d ON d.id = h.device_id
         WHERE h.at >= ?1 AND h.answered_at IS NULL AND (CAST(?2 AS BIGINT) IS NULL OR d.office_id = ?2)
         ORDER BY h.id",
    )?;
    let rows = st.query_map(p![since, scope], row)?;
    rows.collect::<Result<_, _>>()
}

/// (requests, answered requests) made at or after `from` at the kiosks of office `scope`.
pub fn counts(c: &Conn, from: i64, scope: Option<i64>) -> Result<(i64, i64), StoreError> {
    c.query_row(
        &format!(
            "SELECT COUNT(*), COUNT(answered_at) FROM help_calls WHERE at >= ?1 AND {}",
            super::offices::device_in_scope("device_id", 2)
        ),
        p![from, scope],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

fn row(r: &Row) -> DbResult<HelpCall> {
    Ok(HelpCall {
        id: r.get(0)?,
        at: r.get(1)?,
        kiosk: r.get(2)?,
        answered_at: r.get(3)?,
        office_id: r.get(4)?,
    })
}
