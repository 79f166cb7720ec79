//! SQL for clerk/admin accounts, browser sessions and device tokens.

use super::db::{Conn, DbResult, OptionalRow, Row, Tx};
use crate::p;

use super::{conflict, StoreError};

#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub role: String,
    pub active: bool,
    /// The account's office; None: every office (a province admin).
    pub office_id: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct SessionRow {
    pub user: UserRow,
    pub csrf_token: String,
    pub expires_at: i64,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct DeviceRow {
    pub id: i64,
    pub name: String,
    pub role: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    pub last_seen_at: Option<i64>,
    /// The kiosk's office; None: every office (a province-wide integration token).
    pub office_id: Option<i64>,
}

fn user(r: &Row) -> DbResult<UserRow> {
    Ok(UserRow {
        id: r.get(0)?,
        username: r.get(1)?,
        password_hash: r.get(2)?,
        role: r.get(3)?,
        active: r.get(4)?,
        office_id: r.get(5)?,
    })
}

pub(crate) const DEVICE_COLS: &str =
    "id, name, role, created_at, revoked_at, last_seen_at, office_id";

pub(crate) fn device(r: &Row) -> DbResult<DeviceRow> {
    Ok(DeviceRow {
        id: r.get(0)?,
        name: r.get(1)?,
        role: r.get(2)?,
        created_at: r.get(3)?,
        revoked_at: r.get(4)?,
        last_seen_at: r.get(5)?,
        office_id: r.get(6)?,
    })
}

const USER_COLS: &str = "id, username, password_hash, role, active, office_id";

pub fn insert_user(
    tx: &Tx,
    username: &str,
    hash: &str,
    role: &str,
    office: Option<i64>,
    now: i64,
) -> Result<i64, StoreError> {
    tx.insert(
        "INSERT INTO users (username, password_hash, role, created_at, office_id) VALUES (?1, ?2, ?3, ?4, ?5)",
        p![username, hash, role, now, office],
    )
    .map_err(conflict("user"))
}

pub fn user_by_name(c: &Conn, username: &str) -> Result<Option<UserRow>, StoreError> {
    c.query_row(
        &format!("SELECT {USER_COLS} FROM users WHERE username = ?1"),
        p![username],
        user,
    )
    .optional()
}

pub fn insert_session(
    tx: &Tx,
    id_hash: &str,
    user_id: i64,
    csrf: &str,
    now: i64,
    expires: i64,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        p![id_hash, user_id, csrf, now, expires],
    )?;
    tx.execute("DELETE FROM sessions WHERE expires_at < ?1", p![now])?;
    Ok(())
}

pub fn session(c: &Conn, id_hash: &str, now: i64) -> Result<Option<SessionRow>, StoreError> {
    c.query_row(
        "SELECT u.id, u.username, u.password_hash, u.role, u.active, u.office_id, s.csrf_token, s.expires_at
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.id_hash = ?1 AND s.expires_at > ?2 AND u.active = 1",
        p![id_hash, now],
        |r| {
            Ok(SessionRow {
                user: user(r)?,
                csrf_token: r.get(6)?,
                expires_at: r.get(7)?,
            })
        },
    )
    .optional()
}

pub fn delete_session(tx: &Tx, id_hash: &str) -> Result<(), StoreError> {
    tx.execute("DELETE FROM sessions WHERE id_hash = ?1", p![id_hash])?;
    Ok(())
}

pub fn insert_device(
    tx: &Tx,
    name: &str,
    role: &str,
    office: Option<i64>,
    token_hash: &str,
    now: i64,
) -> Result<i64, StoreError> {
    tx.insert(
        "INSERT INTO device_tokens (name, role, token_hash, created_at, office_id) VALUES (?1, ?2, ?3, ?4, ?5)",
        p![name, role, token_hash, now, office],
    )
    .map_err(conflict("device token"))
}

/// The active device for a token hash; records that it was seen.
/// Keeps a device's one-time setup code (its hash) with the device token sealed under it.
pub fn insert_pairing(
    tx: &Tx,
    code_hash: &str,
    device_id: i64,
    sealed_token: &[u8],
    expires_at: i64,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO device_pairings (code_hash, device_id, sealed_token, expires_at) VALUES (?1, ?2, ?3, ?4)",
        p![code_hash, device_id, sealed_token, expires_at],
    )?;
    Ok(())
}

/// Removes and returns (device id, sealed token) of an unexpired setup code of an active
/// device; expired codes are dropped on the way.
pub fn take_pairing(
    tx: &Tx,
    code_hash: &str,
    now: i64,
) -> Result<Option<(i64, Vec<u8>)>, StoreError> {
    tx.execute(
        "DELETE FROM device_pairings WHERE expires_at <= ?1",
        p![now],
    )?;
    let row = tx
        .query_row(
            "SELECT p.device_id, p.sealed_token FROM device_pairings p
             JOIN device_tokens d ON d.id = p.device_id AND d.revoked_at IS NULL
             WHERE p.code_hash = ?1",
            p![code_hash],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    tx.execute(
        "DELETE FROM device_pairings WHERE code_hash = ?1",
        p![code_hash],
    )?;
    Ok(row)
}

/// The active kiosk or integration device with this name.
pub fn device_by_name(c: &Conn, name: &str) -> Result<Option<DeviceRow>, StoreError> {
    c.query_row(
        &format!("SELECT {DEVICE_COLS} FROM device_tokens WHERE name = ?1 AND revoked_at IS NULL ORDER BY id DESC LIMIT 1"),
        p![name],
        device,
    )
    .optional()
}

pub fn device_by_token(
    c: &Conn,
    token_hash: &str,
    now: i64,
) -> Result<Option<DeviceRow>, StoreError> {
    let row = c
        .query_row(
            &format!("SELECT {DEVICE_COLS} FROM device_tokens WHERE token_hash = ?1 AND revoked_at IS NULL"),
            p![token_hash],
            device,
        )
        .optional()?;
    if let Some(d) = &row {
        c.execute(
            "UPDATE device_tokens SET last_seen_at = ?1 WHERE id = ?2 AND (last_seen_at IS NULL OR last_seen_at < ?1 - 60)",
            p![now, d.id],
        )?;
    }
    Ok(row)
}

/// Ends every browser session (after a restore: everyone signs in again).
pub fn end_all_sessions(tx: &Tx) -> Result<usize, StoreError> {
    tx.execute("DELETE FROM sessions", p![])
}
