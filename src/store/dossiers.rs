//! SQL for dossiers and their status events.

use super::db::{Conn, DbResult, OptionalRow, Row, Tx};
use crate::dossier::sql as status;
use crate::p;

use super::{conflict, StoreError};

pub struct NewDossier<'a> {
    pub code: &'a str,
    pub applicant_id: i64,
    pub procedure: &'a str,
    pub received_at: i64,
    pub due_at: i64,
    pub status: u8,
    pub lookup_token_enc: &'a [u8],
    pub lookup_token_hash: &'a str,
    pub created_by: Option<i64>,
    /// The documents received (a JSON list of names).
    pub documents: &'a str,
    /// The office that received it.
    pub office_id: i64,
    /// Who registered it, as the audit log names them (the first event's actor).
    pub actor: &'a str,
    pub now: i64,
}

#[derive(Debug, Clone)]
pub struct DossierRow {
    pub code: String,
    pub applicant_id: i64,
    pub procedure: String,
    pub received_at: i64,
    pub due_at: i64,
    pub original_due_at: i64,
    pub apology_used: bool,
    pub status: u8,
    pub agency: Option<String>,
    pub lookup_token_enc: Vec<u8>,
    pub created_at: i64,
    pub updated_at: i64,
    /// The documents received, as listed on the receipt.
    pub documents: Vec<String>,
    /// The staff member who received it.
    pub created_by: Option<i64>,
    /// The office that received it.
    pub office_id: i64,
}

pub struct NewEvent<'a> {
    pub code: &'a str,
    pub status: u8,
    pub at: i64,
    pub note: Option<&'a str>,
    pub agency: Option<&'a str>,
    pub new_due_at: Option<i64>,
    pub actor: &'a str,
    pub now: i64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct EventRow {
    pub status: u8,
    pub at: i64,
    pub note: Option<String>,
    pub agency: Option<String>,
    pub new_due_at: Option<i64>,
}

pub fn insert_dossier(tx: &Tx, d: &NewDossier) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO dossiers (code, applicant_id, procedure_name, received_at, due_at, original_due_at, status,
                               lookup_token_enc, lookup_token_hash, created_by, created_at, updated_at, documents, office_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7, ?8, ?9, ?10, ?10, ?11, ?12)",
        p![
            d.code,
            d.applicant_id,
            d.procedure,
            d.received_at,
            d.due_at,
            d.status,
            d.lookup_token_enc,
            d.lookup_token_hash,
            d.created_by,
            d.now,
            d.documents,
            d.office_id
        ],
    )
    .map_err(conflict("a dossier with this code"))?;
    tx.execute(
        "INSERT INTO dossier_events (dossier_code, status, at, actor, recorded_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        p![d.code, d.status, d.received_at, d.actor, d.now],
    )?;
    Ok(())
}

const COLS: &str = "code, applicant_id, procedure_name, received_at, due_at, original_due_at, apology_used, status,
    agency, lookup_token_enc, created_at, updated_at, documents, created_by, office_id";

fn row(r: &Row) -> DbResult<DossierRow> {
    Ok(DossierRow {
        code: r.get(0)?,
        applicant_id: r.get(1)?,
        procedure: r.get(2)?,
        received_at: r.get(3)?,
        due_at: r.get(4)?,
        original_due_at: r.get(5)?,
        apology_used: r.get(6)?,
        status: r.get(7)?,
        agency: r.get(8)?,
        lookup_token_enc: r.get(9)?,
        created_at: r.get(10)?,
        updated_at: r.get(11)?,
        documents: serde_json::from_str::<Vec<String>>(&r.get::<_, String>(12)?)
            .unwrap_or_default(),
        created_by: r.get(13)?,
        office_id: r.get(14)?,
    })
}

pub fn dossier(c: &Conn, code: &str) -> Result<Option<DossierRow>, StoreError> {
    c.query_row(
        &format!("SELECT {COLS} FROM dossiers WHERE code = ?1"),
        p![code],
        row,
    )
    .optional()
}

/// The applicants of the dossiers of office `scope` (None: all) whose code contains `part`
/// (upper-case; `%` and `_` match literally), newest first, at most `limit`.
pub fn applicants_by_code_part(
    c: &Conn,
    part: &str,
    scope: Option<i64>,
    limit: i64,
) -> Result<Vec<i64>, StoreError> {
    let like = format!(
        "%{}%",
        part.replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    );
    let mut st = c.prepare(
        "SELECT applicant_id FROM dossiers
         WHERE code LIKE ?1 ESCAPE '\\' AND (CAST(?2 AS BIGINT) IS NULL OR office_id = ?2)
         ORDER BY received_at DESC, code DESC LIMIT ?3",
    )?;
    let rows = st.query_map(p![like, scope, limit], |r| r.get(0))?;
    rows.collect::<Result<_, _>>()
}

pub fn dossier_by_token_hash(c: &Conn, hash: &str) -> Result<Option<DossierRow>, StoreError> {
    c.query_row(
        &format!("SELECT {COLS} FROM dossiers WHERE lookup_token_hash = ?1"),
        p![hash],
        row,
    )
    .optional()
}

/// The open dossiers of office `scope` (None: all) past their appointment at `now` (the
/// clock not stopped: not refused, withdrawn, stopped, done or returned), longest overdue
/// first, at most `limit`.
pub fn overdue(
    c: &Conn,
    now: i64,
    scope: Option<i64>,
    limit: i64,
) -> Result<Vec<DossierRow>, StoreError> {
    let mut st = c.prepare(&format!(
        "SELECT {COLS} FROM dossiers
         WHERE due_at < ?1 AND status NOT IN ({stopped})
           AND (CAST(?2 AS BIGINT) IS NULL OR office_id = ?2)
         ORDER BY due_at, code LIMIT ?3",
        stopped = *status::CLOCK_STOPPED
    ))?;
    let rows = st.query_map(p![now, scope, limit], row)?;
    rows.collect::<Result<_, _>>()
}

/// The applicant's dossiers, newest first.
pub fn dossiers_of(c: &Conn, applicant_id: i64) -> Result<Vec<DossierRow>, StoreError> {
    let mut st = c.prepare(&format!(
        "SELECT {COLS} FROM dossiers WHERE applicant_id = ?1 ORDER BY received_at DESC, code DESC"
    ))?;
    let rows = st.query_map(p![applicant_id], row)?;
    rows.collect::<Result<_, _>>()
}

/// Records an event; returns false when the same (code, status, at) event was already
/// recorded (idempotent re-delivery), in which case nothing changes.
pub fn insert_event(tx: &Tx, e: &NewEvent) -> Result<bool, StoreError> {
    let n = tx.execute(
        "INSERT INTO dossier_events (dossier_code, status, at, note, agency, new_due_at, actor, recorded_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT DO NOTHING",
        p![e.code, e.status, e.at, e.note, e.agency, e.new_due_at, e.actor, e.now],
    )?;
    Ok(n == 1)
}

/// Whether this status event (dossier, status, time) is already recorded.
pub fn event_recorded(c: &Conn, code: &str, status: u8, at: i64) -> Result<bool, StoreError> {
    c.query_row(
        "SELECT EXISTS(SELECT 1 FROM dossier_events WHERE dossier_code = ?1 AND status = ?2 AND at = ?3)",
        p![code, status, at],
        |r| r.get(0),
    )
}

pub fn update_state(
    tx: &Tx,
    code: &str,
    status: u8,
    due_at: i64,
    apology_used: bool,
    agency: Option<&str>,
    now: i64,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE dossiers SET status = ?1, due_at = ?2, apology_used = ?3, agency = COALESCE(?4, agency), updated_at = ?5
         WHERE code = ?6",
        p![status, due_at, apology_used, agency, now, code],
    )?;
    Ok(())
}

pub fn events(c: &Conn, code: &str) -> Result<Vec<EventRow>, StoreError> {
    let mut st = c.prepare(
        "SELECT status, at, note, agency, new_due_at FROM dossier_events WHERE dossier_code = ?1 ORDER BY at, id",
    )?;
    let rows = st.query_map(p![code], |r| {
        Ok(EventRow {
            status: r.get(0)?,
            at: r.get(1)?,
            note: r.get(2)?,
            agency: r.get(3)?,
            new_due_at: r.get(4)?,
        })
    })?;
    rows.collect::<Result<_, _>>()
}

/// Applicants with at least one open dossier and a running consent for `purpose` (the
/// only ones the kiosk may identify).
/// (applicant, office) for every open dossier of an applicant with a running consent.
pub fn applicants_with_open_dossiers(
    c: &Conn,
    purpose: &str,
) -> Result<Vec<(i64, i64)>, StoreError> {
    let mut st = c.prepare(&format!(
        "SELECT DISTINCT d.applicant_id, d.office_id FROM dossiers d WHERE d.status NOT IN ({closed})
           AND EXISTS (SELECT 1 FROM consents c WHERE c.applicant_id = d.applicant_id
                       AND c.purpose = ?1 AND c.withdrawn_at IS NULL)",
        closed = *status::CLOSED
    ))?;
    let rows = st.query_map(p![purpose], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect::<Result<_, _>>()
}

/// A citizen's service rating from a kiosk.
pub fn insert_rating(tx: &Tx, device_id: i64, score: i64, now: i64) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO ratings (device_id, score, at) VALUES (?1, ?2, ?3)",
        p![device_id, score, now],
    )?;
    Ok(())
}

/// Benchmarks only: `n` synthetic applicants (ids from `first`), each with consent for
/// `purpose` and one open dossier.
pub fn seed_synthetic(
    tx: &Tx,
    purpose: &str,
    first: i64,
    n: i64,
    now: i64,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO users (username, password_hash, role, created_at) VALUES ('bench', '!', 'clerk', ?1)
         ON CONFLICT DO NOTHING",
        p![now],
    )?;
    let clerk: i64 = tx.query_row("SELECT id FROM users WHERE username = 'bench'", p![], |r| {
        r.get(0)
    })?;
    let mut c = tx.prepare(
        "INSERT INTO consents (applicant_id, purpose, text_version, text_sha256, method, granted_at, granted_by)
         VALUES (?1, ?2, 'bench', '', 'tick', ?3, ?4)",
    )?;
    let mut a = tx.prepare(
        "INSERT INTO applicants (id, full_name, id_number_enc, id_number_hash, created_at, fields_bound)
         VALUES (?1, 'Người Thử', ?4, ?2, ?3, 1)",
    )?;
    let mut d = tx.prepare(
        "INSERT INTO dossiers (code, applicant_id, procedure_name, received_at, due_at, original_due_at, status,
                               lookup_token_enc, lookup_token_hash, created_at, updated_at)
         VALUES (?1, ?2, 'Thử', ?3, ?3, ?3, 4, ?4, ?1, ?3, ?3)",
    )?;
    for id in first..first + n {
        a.execute(p![id, format!("bench-{id}"), now, [0u8]])?;
        c.execute(p![id, purpose, now, clerk])?;
        d.execute(p![format!("BENCH-{id}"), id, now, [0u8]])?;
    }
    Ok(())
}

/// The code of the newest dossier, if any.
pub fn newest_code(c: &Conn, office: i64) -> Result<Option<String>, StoreError> {
    c.query_row(
        "SELECT code FROM dossiers WHERE office_id = ?1 ORDER BY created_at DESC, code DESC LIMIT 1",
        p![office],
        |r| r.get(0),
    )
    .optional()
}
