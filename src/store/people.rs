//! SQL for applicants, their consents and their (sealed) face templates.

use super::db::{Conn, DbResult, OptionalRow, Row, Tx};
use crate::p;

use super::{conflict, StoreError};

pub struct NewApplicant<'a> {
    pub full_name: &'a str,
    pub id_number_enc: &'a [u8],
    pub id_number_hash: &'a str,
    pub phone_enc: Option<&'a [u8]>,
    /// Keyed hash of the phone number (desk search).
    pub phone_hash: Option<&'a str>,
    pub created_by: Option<i64>,
    pub now: i64,
}

#[derive(Debug, Clone)]
pub struct ApplicantRow {
    pub id: i64,
    pub full_name: String,
    pub id_number_enc: Vec<u8>,
    pub phone_enc: Option<Vec<u8>>,
    pub created_at: i64,
    pub biometrics_purged_at: Option<i64>,
    /// Keyed hash of the ID number (unique): what the encrypted fields are bound to.
    pub id_number_hash: String,
}

pub struct NewConsent<'a> {
    pub applicant_id: i64,
    pub purpose: &'a str,
    pub text_version: &'a str,
    pub text_sha256: &'a str,
    pub method: &'a str,
    pub by: i64,
    pub now: i64,
}

#[derive(Debug, Clone)]
pub struct ConsentRow {
    pub id: i64,
    pub applicant_id: i64,
    pub purpose: String,
    pub text_version: String,
    pub text_sha256: String,
    pub method: String,
    pub granted_at: i64,
    pub granted_by: String,
    pub withdrawn_at: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct TemplateRow {
    pub id: i64,
    pub applicant_id: i64,
    pub model: String,
    pub sealed: Vec<u8>,
    pub quality: f64,
}

pub fn insert_applicant(tx: &Tx, a: &NewApplicant) -> Result<i64, StoreError> {
    tx.insert(
        "INSERT INTO applicants (full_name, id_number_enc, id_number_hash, phone_enc, created_at, created_by, fields_bound, phone_hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7)",
        p![a.full_name, a.id_number_enc, a.id_number_hash, a.phone_enc, a.now, a.created_by, a.phone_hash],
    )
    .map_err(conflict("an applicant with this ID number"))
}

fn applicant_row(r: &Row) -> DbResult<ApplicantRow> {
    Ok(ApplicantRow {
        id: r.get(0)?,
        full_name: r.get(1)?,
        id_number_enc: r.get(2)?,
        phone_enc: r.get(3)?,
        created_at: r.get(4)?,
        biometrics_purged_at: r.get(5)?,
        id_number_hash: r.get(6)?,
    })
}

const APPLICANT_COLS: &str =
    "id, full_name, id_number_enc, phone_enc, created_at, biometrics_purged_at, id_number_hash";

/// Applicants whose encrypted fields were sealed before they were bound to their row.
pub fn unbound_applicants(c: &Conn) -> Result<Vec<ApplicantRow>, StoreError> {
    let mut st = c.prepare(&format!(
        "SELECT {APPLICANT_COLS} FROM applicants WHERE fields_bound = 0"
    ))?;
    let rows = st.query_map(p![], applicant_row)?;
    rows.collect::<Result<_, _>>()
}

/// Stores an applicant's re-sealed (row-bound) ID and phone numbers.
pub fn bind_fields(
    tx: &Tx,
    id: i64,
    id_number_enc: &[u8],
    phone_enc: Option<&[u8]>,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE applicants SET id_number_enc = ?2, phone_enc = ?3, fields_bound = 1 WHERE id = ?1",
        p![id, id_number_enc, phone_enc],
    )?;
    Ok(())
}

pub fn applicant(c: &Conn, id: i64) -> Result<Option<ApplicantRow>, StoreError> {
    c.query_row(
        &format!("SELECT {APPLICANT_COLS} FROM applicants WHERE id = ?1"),
        p![id],
        applicant_row,
    )
    .optional()
}

pub fn applicant_by_id_hash(c: &Conn, hash: &str) -> Result<Option<ApplicantRow>, StoreError> {
    c.query_row(
        &format!("SELECT {APPLICANT_COLS} FROM applicants WHERE id_number_hash = ?1"),
        p![hash],
        applicant_row,
    )
    .optional()
}

pub fn insert_consent(tx: &Tx, n: &NewConsent) -> Result<i64, StoreError> {
    tx.insert(
        "INSERT INTO consents (applicant_id, purpose, text_version, text_sha256, method, granted_at, granted_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        p![n.applicant_id, n.purpose, n.text_version, n.text_sha256, n.method, n.now, n.by],
    )
}

fn consent_row(r: &Row) -> DbResult<ConsentRow> {
    Ok(ConsentRow {
        id: r.get(0)?,
        applicant_id: r.get(1)?,
        purpose: r.get(2)?,
        text_version: r.get(3)?,
        text_sha256: r.get(4)?,
        method: r.get(5)?,
        granted_at: r.get(6)?,
        granted_by: r.get(7)?,
        withdrawn_at: r.get(8)?,
    })
}

const CONSENT_SELECT: &str =
    "SELECT c.id, c.applicant_id, c.purpose, c.text_version, c.text_sha256, c.method,
    c.granted_at, u.username, c.withdrawn_at FROM consents c JOIN users u ON u.id = c.granted_by";

/// The applicant's consent for `purpose` that is in force, if any.
pub fn valid_consent(
    c: &Conn,
    applicant_id: i64,
    purpose: &str,
) -> Result<Option<ConsentRow>, StoreError> {
    c
        .query_row(
            &format!(
                "{CONSENT_SELECT} WHERE c.applicant_id = ?1 AND c.purpose = ?2 AND c.withdrawn_at IS NULL
                 ORDER BY c.id DESC LIMIT 1"
            ),
            p![applicant_id, purpose],
            consent_row,
        )
        .optional()
}

/// Every consent record of the applicant, newest first.
pub fn consents(c: &Conn, applicant_id: i64) -> Result<Vec<ConsentRow>, StoreError> {
    let mut st = c.prepare(&format!(
        "{CONSENT_SELECT} WHERE c.applicant_id = ?1 ORDER BY c.id DESC"
    ))?;
    let rows = st.query_map(p![applicant_id], consent_row)?;
    rows.collect::<Result<_, _>>()
}

/// Marks every open consent of the applicant for `purpose` withdrawn; returns how many.
pub fn withdraw_consents(
    tx: &Tx,
    applicant_id: i64,
    purpose: &str,
    by: Option<i64>,
    note: &str,
    now: i64,
) -> Result<usize, StoreError> {
    tx.execute(
        "UPDATE consents SET withdrawn_at = ?1, withdrawn_by = ?2, withdrawn_note = ?3
         WHERE applicant_id = ?4 AND purpose = ?5 AND withdrawn_at IS NULL",
        p![now, by, note, applicant_id, purpose],
    )
}

pub fn insert_template(
    tx: &Tx,
    applicant_id: i64,
    model: &str,
    sealed: &[u8],
    quality: f64,
    now: i64,
) -> Result<i64, StoreError> {
    let id = tx.insert(
        "INSERT INTO templates (applicant_id, model, sealed, quality, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        p![applicant_id, model, sealed, quality, now],
    )?;
    super::feed::note(tx, applicant_id, now)?;
    Ok(id)
}

/// Deletes the applicant's templates and marks the purge; returns how many were deleted.
pub fn purge_templates(tx: &Tx, applicant_id: i64, now: i64) -> Result<usize, StoreError> {
    let n = tx.execute(
        "DELETE FROM templates WHERE applicant_id = ?1",
        p![applicant_id],
    )?;
    tx.execute(
        "UPDATE applicants SET biometrics_purged_at = ?1 WHERE id = ?2",
        p![now, applicant_id],
    )?;
    super::feed::note(tx, applicant_id, now)?;
    Ok(n)
}

pub fn template_count(c: &Conn, applicant_id: i64) -> Result<i64, StoreError> {
    c.query_row(
        "SELECT COUNT(*) FROM templates WHERE applicant_id = ?1",
        p![applicant_id],
        |r| r.get(0),
    )
}

/// Templates of one applicant made by `model` (the running recognition profile).
pub fn template_count_for_model(
    c: &Conn,
    applicant_id: i64,
    model: &str,
) -> Result<i64, StoreError> {
    c.query_row(
        "SELECT COUNT(*) FROM templates WHERE applicant_id = ?1 AND model = ?2",
        p![applicant_id, model],
        |r| r.get(0),
    )
}

/// Gives templates labelled `from` the label `to` (returns how many).
pub fn relabel_templates(c: &Conn, from: &str, to: &str) -> Result<usize, StoreError> {
    c.execute(
        "UPDATE templates SET model = ?2 WHERE model = ?1",
        p![from, to],
    )
}

/// Templates of applicants with a valid consent for `purpose` (the gallery at start-up),
/// a page at a time: at most `limit` with an id above `after`, by id.
/// Refreshes PostgreSQL's statistics of the tables the gallery load reads: after a bulk
/// import, before autovacuum has looked, the planner would otherwise join every page the
/// slow way (100 k templates: 25 s instead of 2 s). SQLite plans by its indexes alone.
pub fn analyze_for_gallery(c: &Conn) -> Result<(), StoreError> {
    if c.dialect() == super::Dialect::Postgres {
        c.execute_batch("ANALYZE templates, consents")?;
    }
    Ok(())
}

pub fn consented_templates(
    c: &Conn,
    purpose: &str,
    after: i64,
    limit: i64,
) -> Result<Vec<TemplateRow>, StoreError> {
    let mut st = c.prepare(
        "SELECT t.id, t.applicant_id, t.model, t.sealed, t.quality FROM templates t
         WHERE t.id > ?2 AND EXISTS (SELECT 1 FROM consents c WHERE c.applicant_id = t.applicant_id
                       AND c.purpose = ?1 AND c.withdrawn_at IS NULL)
         ORDER BY t.id LIMIT ?3",
    )?;
    let rows = st.query_map(p![purpose, after, limit], template_row)?;
    rows.collect::<Result<_, _>>()
}

/// A `TemplateRow` from `id, applicant_id, model, sealed, quality`.
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
        template_row,
    )
}

pub fn template_row(r: &Row) -> Result<TemplateRow, StoreError> {
    Ok(TemplateRow {
        id: r.get(0)?,
        applicant_id: r.get(1)?,
        model: r.get(2)?,
        sealed: r.get(3)?,
        quality: r.get(4)?,
    })
}
