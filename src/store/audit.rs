//! SQL for the audit log: append-only rows chained by hash (each row's hash covers the
//! previous row's hash), so an edited, deleted or reordered row breaks the chain.

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use sha2::{Digest, Sha256};

use super::StoreError;

/// What to log.
pub struct AuditEntry<'a> {
    pub actor: &'a str,
    pub action: &'a str,
    pub subject: &'a str,
    pub detail: serde_json::Value,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct AuditRecord {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub detail: String,
}

pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The hash of one row given the previous hash.
pub fn row_hash(
    prev: &str,
    id: i64,
    at: i64,
    actor: &str,
    action: &str,
    subject: &str,
    detail: &str,
) -> String {
    let mut h = Sha256::new();
    for part in [
        prev,
        &id.to_string(),
        &at.to_string(),
        actor,
        action,
        subject,
        detail,
    ] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

pub fn append(tx: &Transaction, e: &AuditEntry, now: i64) -> Result<i64, StoreError> {
    let (last_id, prev): (i64, String) = tx
        .query_row(
            "SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?
        .unwrap_or((0, GENESIS.to_string()));
    let id = last_id + 1;
    let detail = e.detail.to_string();
    let hash = row_hash(&prev, id, now, e.actor, e.action, e.subject, &detail);
    tx.execute(
        "INSERT INTO audit (id, at, actor, action, subject, detail, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![id, now, e.actor, e.action, e.subject, detail, prev, hash],
    )?;
    Ok(id)
}

/// Recent entries, newest first, optionally only one action.
pub fn recent(
    c: &Connection,
    action: Option<&str>,
    limit: i64,
) -> Result<Vec<AuditRecord>, StoreError> {
    let mut st = c.prepare(
        "SELECT id, at, actor, action, subject, detail FROM audit
         WHERE (?1 IS NULL OR action = ?1) ORDER BY id DESC LIMIT ?2",
    )?;
    let rows = st.query_map(params![action, limit], |r| {
        Ok(AuditRecord {
            id: r.get(0)?,
            at: r.get(1)?,
            actor: r.get(2)?,
            action: r.get(3)?,
            subject: r.get(4)?,
            detail: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Walks the chain; returns the id of the first bad row, or None when intact.
pub fn verify(c: &Connection) -> Result<Option<i64>, StoreError> {
    let mut st = c.prepare(
        "SELECT id, at, actor, action, subject, detail, prev_hash, hash FROM audit ORDER BY id",
    )?;
    let mut rows = st.query([])?;
    let mut prev = GENESIS.to_string();
    let mut expect_id = 1;
    while let Some(r) = rows.next()? {
        let id: i64 = r.get(0)?;
        let (at, actor, action, subject, detail): (i64, String, String, String, String) =
            (r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?);
        let (p, h): (String, String) = (r.get(6)?, r.get(7)?);
        if id != expect_id
            || p != prev
            || h != row_hash(&prev, id, at, &actor, &action, &subject, &detail)
        {
            return Ok(Some(expect_id.min(id)));
        }
        prev = h;
        expect_id += 1;
    }
    Ok(None)
}
