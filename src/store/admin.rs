//! SQL for the admin's desk: settings, account and device management, consent records, and
//! the retention job's candidates.

use std::sync::LazyLock;

use super::db::{Conn, DbResult, OptionalRow, Row, Tx};
use crate::dossier::sql as status;
use crate::p;

use super::offices::applicant_in_scope;
use super::users::{device, DeviceRow, DEVICE_COLS};
use super::StoreError;

pub fn setting(c: &Conn, key: &str) -> Result<Option<String>, StoreError> {
    c.query_row("SELECT value FROM settings WHERE key = ?1", p![key], |r| {
        r.get(0)
    })
    .optional()
}

pub fn set_setting(tx: &Tx, key: &str, value: &str, by: &str, now: i64) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO settings (key, value, updated_at, updated_by) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value,
             updated_at = excluded.updated_at, updated_by = excluded.updated_by",
        p![key, value, now, by],
    )?;
    Ok(())
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct UserInfo {
    pub id: i64,
    pub username: String,
    /// The name printed on receipts (None: the username is printed).
    pub display_name: Option<String>,
    pub role: String,
    pub active: bool,
    pub created_at: i64,
    pub last_login_at: Option<i64>,
    /// None: every office (a province admin).
    pub office_id: Option<i64>,
}

/// The accounts of office `scope` (None: all).
pub fn users(c: &Conn, scope: Option<i64>) -> Result<Vec<UserInfo>, StoreError> {
    let mut st = c.prepare(
        "SELECT u.id, u.username, u.role, u.active, u.created_at,
                (SELECT MAX(a.at) FROM audit a WHERE a.action = 'login' AND a.actor = 'user:' || u.id),
                u.display_name, u.office_id
         FROM users u WHERE CAST(?1 AS BIGINT) IS NULL OR u.office_id = ?1 ORDER BY u.username",
    )?;
    let rows = st.query_map(p![scope], |r| {
        Ok(UserInfo {
            id: r.get(0)?,
            username: r.get(1)?,
            role: r.get(2)?,
            active: r.get(3)?,
            created_at: r.get(4)?,
            last_login_at: r.get(5)?,
            display_name: r.get(6)?,
            office_id: r.get(7)?,
        })
    })?;
    rows.collect::<Result<_, _>>()
}

/// The name a staff member signs receipts with: the display name, else the username.
pub fn display_name(c: &Conn, id: i64) -> Result<Option<String>, StoreError> {
    c.query_row(
        "SELECT COALESCE(display_name, username) FROM users WHERE id = ?1",
        p![id],
        |r| r.get(0),
    )
    .optional()
}

/// Sets the name printed on receipts (None: the username).
pub fn set_display_name(tx: &Tx, id: i64, name: Option<&str>) -> Result<bool, StoreError> {
    Ok(tx.execute(
        "UPDATE users SET display_name = ?2 WHERE id = ?1",
        p![id, name],
    )? > 0)
}

/// Whether an account with this id exists in office `scope` (None: any office).
pub fn user_exists(c: &Conn, id: i64, scope: Option<i64>) -> Result<bool, StoreError> {
    c.query_row(
        "SELECT EXISTS(SELECT 1 FROM users WHERE id = ?1 AND (CAST(?2 AS BIGINT) IS NULL OR office_id = ?2))",
        p![id, scope],
        |r| r.get(0),
    )
}

/// Whether a device with this id exists in office `scope` (None: any office).
pub fn device_exists(c: &Conn, id: i64, scope: Option<i64>) -> Result<bool, StoreError> {
    c.query_row(
        "SELECT EXISTS(SELECT 1 FROM device_tokens WHERE id = ?1 AND (CAST(?2 AS BIGINT) IS NULL OR office_id = ?2))",
        p![id, scope],
        |r| r.get(0),
    )
}

/// Activates or deactivates an account; deactivation ends its sessions. False if unknown.
pub fn set_user_active(tx: &Tx, id: i64, active: bool) -> Result<bool, StoreError> {
    let n = tx.execute("UPDATE users SET active = ?1 WHERE id = ?2", p![active, id])?;
    if !active {
        tx.execute("DELETE FROM sessions WHERE user_id = ?1", p![id])?;
    }
    Ok(n > 0)
}

/// Replaces a password hash and ends the account's sessions. False if unknown.
pub fn set_password(tx: &Tx, id: i64, hash: &str) -> Result<bool, StoreError> {
    let n = tx.execute(
        "UPDATE users SET password_hash = ?1 WHERE id = ?2",
        p![hash, id],
    )?;
    tx.execute("DELETE FROM sessions WHERE user_id = ?1", p![id])?;
    Ok(n > 0)
}

/// Active admins other than `except` (the last admin may not be deactivated).
pub fn other_active_admins(c: &Conn, except: i64) -> Result<i64, StoreError> {
    c.query_row(
        "SELECT COUNT(*) FROM users WHERE role = 'admin' AND active = 1 AND id <> ?1",
        p![except],
        |r| r.get(0),
    )
}

/// The device tokens of office `scope` (None: all), active ones first.
pub fn devices(c: &Conn, scope: Option<i64>) -> Result<Vec<DeviceRow>, StoreError> {
    let mut st = c.prepare(&format!(
        "SELECT {DEVICE_COLS} FROM device_tokens WHERE CAST(?1 AS BIGINT) IS NULL OR office_id = ?1
         ORDER BY revoked_at IS NOT NULL, name"
    ))?;
    let rows = st.query_map(p![scope], device)?;
    rows.collect::<Result<_, _>>()
}

/// Revokes a device token; returns its name, or None when unknown or already revoked.
pub fn revoke_device(tx: &Tx, id: i64, now: i64) -> Result<Option<String>, StoreError> {
    let name: Option<String> = tx
        .query_row(
            "SELECT name FROM device_tokens WHERE id = ?1 AND revoked_at IS NULL",
            p![id],
            |r| r.get(0),
        )
        .optional()?;
    if name.is_some() {
        tx.execute(
            "UPDATE device_tokens SET revoked_at = ?1 WHERE id = ?2",
            p![now, id],
        )?;
    }
    Ok(name)
}

/// One applicant's consent and biometric state, for the admin's consent register (the full
/// name is never serialised: views carry a masked one).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ConsentRecord {
    pub applicant_id: i64,
    #[serde(skip)]
    pub full_name: String,
    pub consent_id: Option<i64>,
    pub text_version: Option<String>,
    pub method: Option<String>,
    pub granted_at: Option<i64>,
    pub withdrawn_at: Option<i64>,
    pub withdrawn_note: Option<String>,
    pub templates: i64,
    pub biometrics_purged_at: Option<i64>,
    pub open_dossiers: i64,
    /// Templates made by the running recognition profile (the others are never used).
    pub templates_active: i64,
}

/// The consent record's columns and joins (the open-dossier count from [`status::CLOSED`]).
static RECORD_SELECT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT a.id, a.full_name, c.id, c.text_version, c.method, c.granted_at,
        c.withdrawn_at, c.withdrawn_note,
        (SELECT COUNT(*) FROM templates t WHERE t.applicant_id = a.id),
        a.biometrics_purged_at,
        (SELECT COUNT(*) FROM dossiers d WHERE d.applicant_id = a.id AND d.status NOT IN ({closed})),
        (SELECT COUNT(*) FROM templates t WHERE t.applicant_id = a.id AND t.model = ?2)
    FROM applicants a
    LEFT JOIN consents c ON c.id = (SELECT MAX(id) FROM consents WHERE applicant_id = a.id)",
        closed = *status::CLOSED
    )
});

fn consent_record(r: &Row) -> DbResult<ConsentRecord> {
    Ok(ConsentRecord {
        applicant_id: r.get(0)?,
        full_name: r.get(1)?,
        consent_id: r.get(2)?,
        text_version: r.get(3)?,
        method: r.get(4)?,
        granted_at: r.get(5)?,
        withdrawn_at: r.get(6)?,
        withdrawn_note: r.get(7)?,
        templates: r.get(8)?,
        biometrics_purged_at: r.get(9)?,
        open_dossiers: r.get(10)?,
        templates_active: r.get(11)?,
    })
}

/// The latest consent of the most recently changed applicants of office `scope` (None: all;
/// newest first).
pub fn consent_records(
    c: &Conn,
    limit: i64,
    model: &str,
    scope: Option<i64>,
) -> Result<Vec<ConsentRecord>, StoreError> {
    let mut st = c.prepare(&format!(
        "{} WHERE {} ORDER BY {} DESC, a.id DESC LIMIT ?1",
        *RECORD_SELECT,
        applicant_in_scope(3),
        c.dialect().greatest(&[
            "COALESCE(c.withdrawn_at, 0)",
            "COALESCE(c.granted_at, 0)",
            "a.created_at"
        ])
    ))?;
    let rows = st.query_map(p![limit, model, scope], consent_record)?;
    rows.collect::<Result<_, _>>()
}

/// The consent record of one applicant of office `scope` (None: any).
pub fn consent_record_of(
    c: &Conn,
    id: i64,
    model: &str,
    scope: Option<i64>,
) -> Result<Option<ConsentRecord>, StoreError> {
    c.query_row(
        &format!(
            "{} WHERE a.id = ?1 AND {}",
            *RECORD_SELECT,
            applicant_in_scope(3)
        ),
        p![id, model, scope],
        consent_record,
    )
    .optional()
}

/// A person the retention job may purge: biometric data or a running consent, and no open
/// dossier. `closed_at` is when the last dossier closed (None: no dossier at all).
#[derive(Debug, Clone)]
pub struct RetentionCandidate {
    pub applicant_id: i64,
    pub full_name: String,
    pub created_at: i64,
    pub closed_at: Option<i64>,
}

pub fn retention_candidates(
    c: &Conn,
    purpose: &str,
) -> Result<Vec<RetentionCandidate>, StoreError> {
    let mut st = c.prepare(&format!(
        "SELECT a.id, a.full_name, a.created_at,
            (SELECT MAX(COALESCE(
                (SELECT MAX(e.at) FROM dossier_events e
                  WHERE e.dossier_code = d.code AND e.status IN ({closed})),
                d.updated_at))
             FROM dossiers d WHERE d.applicant_id = a.id)
         FROM applicants a
         WHERE (EXISTS (SELECT 1 FROM templates t WHERE t.applicant_id = a.id)
                OR EXISTS (SELECT 1 FROM consents c WHERE c.applicant_id = a.id
                           AND c.purpose = ?1 AND c.withdrawn_at IS NULL))
           AND NOT EXISTS (SELECT 1 FROM dossiers d WHERE d.applicant_id = a.id
                           AND d.status NOT IN ({closed}))
         ORDER BY a.id",
        closed = *status::CLOSED
    ))?;
    let rows = st.query_map(p![purpose], |r| {
        Ok(RetentionCandidate {
            applicant_id: r.get(0)?,
            full_name: r.get(1)?,
            created_at: r.get(2)?,
            closed_at: r.get(3)?,
        })
    })?;
    rows.collect::<Result<_, _>>()
}
