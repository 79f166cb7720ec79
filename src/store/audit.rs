//! SQL for the audit log: append-only rows chained by a keyed hash (HMAC-SHA256 with a key
//! derived from the deployment key, covering the previous row's hash), plus the chain's
//! head in its own row. An edited, deleted, inserted or reordered row breaks the chain, a
//! deleted last row disagrees with the head, and nobody without the key can re-chain.

use super::db::{Conn, DbResult, Dialect, OptionalRow, Row, Tx};
use crate::p;
use hmac::{Hmac, Mac};
use sha2::Sha256;

pub use super::action::Action;
use super::StoreError;

/// What to log.
pub struct AuditEntry<'a> {
    pub actor: &'a str,
    pub action: Action,
    pub subject: &'a str,
    pub detail: serde_json::Value,
}

/// A transaction whose changes are audited: one actor, one time, and [`AuditedTx::record`]
/// appends to the chain inside the same transaction (all of it is written, or none).
/// Dereferences to the transaction for the store's SQL functions.
pub struct AuditedTx<'a> {
    tx: &'a Tx<'a>,
    key: &'a [u8; 32],
    actor: &'a str,
    at: i64,
}

impl<'a> AuditedTx<'a> {
    pub fn new(tx: &'a Tx<'a>, key: &'a [u8; 32], actor: &'a str, at: i64) -> Self {
        Self { tx, key, actor, at }
    }

    /// Appends `action` on `subject` to the audit chain.
    pub fn record(
        &self,
        action: Action,
        subject: &str,
        detail: serde_json::Value,
    ) -> Result<i64, StoreError> {
        append(
            self.tx,
            self.key,
            &AuditEntry {
                actor: self.actor,
                action,
                subject,
                detail,
            },
            self.at,
        )
    }

    /// Who every entry of this transaction names.
    pub fn actor(&self) -> &str {
        self.actor
    }

    /// The time every entry of this transaction carries.
    pub fn at(&self) -> i64 {
        self.at
    }
}

impl<'a> std::ops::Deref for AuditedTx<'a> {
    type Target = Tx<'a>;

    fn deref(&self) -> &Self::Target {
        self.tx
    }
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct AuditRecord {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub detail: String,
}

/// The advisory lock that serialises appends to the chain on PostgreSQL.
const AUDIT_CHAIN_LOCK: i64 = 7_418_600_002;

pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The keyed hash of one row given the previous row's hash.
pub fn row_hash(key: &[u8; 32], prev: &str, r: &AuditRecord) -> String {
    let mut h = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key size");
    for part in [
        prev,
        &r.id.to_string(),
        &r.at.to_string(),
        &r.actor,
        &r.action,
        &r.subject,
        &r.detail,
    ] {
        h.update(&(part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize().into_bytes())
}

pub fn append(tx: &Tx, key: &[u8; 32], e: &AuditEntry, now: i64) -> Result<i64, StoreError> {
    if tx.dialect() == Dialect::Postgres {
        // Servers sharing the database append one at a time: the lock is held until this
        // transaction ends, so the head read below is the one this entry follows.
        tx.execute_batch(&format!("SELECT pg_advisory_xact_lock({AUDIT_CHAIN_LOCK})"))?;
    }
    let (last_id, prev): (i64, String) = tx
        .query_row(
            "SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1",
            p![],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?
        .unwrap_or((0, GENESIS.to_string()));
    let rec = AuditRecord {
        id: last_id + 1,
        at: now,
        actor: e.actor.to_string(),
        action: e.action.code().to_string(),
        subject: e.subject.to_string(),
        detail: e.detail.to_string(),
    };
    let hash = row_hash(key, &prev, &rec);
    tx.execute(
        "INSERT INTO audit (id, at, actor, action, subject, detail, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        p![rec.id, now, rec.actor, rec.action, rec.subject, rec.detail, prev, hash],
    )?;
    tx.execute(
        "INSERT INTO audit_head (one, id, hash) VALUES (1, ?1, ?2)
         ON CONFLICT (one) DO UPDATE SET id = excluded.id, hash = excluded.hash",
        p![rec.id, hash],
    )?;
    Ok(rec.id)
}

/// Filters of the audit viewer; empty fields match everything.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(default)]
pub struct Filter {
    pub actor: Option<String>,
    /// An action, or a prefix ending in '.' ("kiosk." = every kiosk action).
    pub action: Option<String>,
    pub subject: Option<String>,
    pub from: Option<i64>,
    pub to: Option<i64>,
    /// Only entries older than this id (paging backwards).
    pub before: Option<i64>,
    pub limit: Option<i64>,
}

/// Maps a row of `SELECT id, at, actor, action, subject, detail …`.
pub fn record(r: &Row) -> DbResult<AuditRecord> {
    Ok(AuditRecord {
        id: r.get(0)?,
        at: r.get(1)?,
        actor: r.get(2)?,
        action: r.get(3)?,
        subject: r.get(4)?,
        detail: r.get(5)?,
    })
}

/// Entries matching the filter, newest first (at most `limit`, default 200, max 100 000),
/// of the staff and devices of office `scope` (None: everyone's).
pub fn search(c: &Conn, f: &Filter, scope: Option<i64>) -> Result<Vec<AuditRecord>, StoreError> {
    // `_` and `%` are LIKE wildcards: match them literally (escaped with `\`); a
    // trailing `.` selects a family ("face." → face.enrol, face.purge …).
    let action_like = f.action.as_deref().map(|a| {
        let literal = a
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        if a.ends_with('.') {
            format!("{literal}%")
        } else {
            literal
        }
    });
    let mut st = c.prepare(&format!(
        "SELECT id, at, actor, action, subject, detail FROM audit a
         WHERE (CAST(?1 AS TEXT) IS NULL OR actor = ?1) AND (CAST(?2 AS TEXT) IS NULL OR action LIKE ?2 ESCAPE '\\')
           AND (CAST(?3 AS TEXT) IS NULL OR subject = ?3) AND (CAST(?4 AS BIGINT) IS NULL OR at >= ?4)
           AND (CAST(?5 AS BIGINT) IS NULL OR at < ?5) AND (CAST(?6 AS BIGINT) IS NULL OR id < ?6) AND {}
         ORDER BY id DESC LIMIT ?7",
        super::offices::actor_in_scope(8)
    ))?;
    let limit = f.limit.unwrap_or(200).clamp(1, 100_000);
    let rows = st.query_map(
        p![
            f.actor,
            action_like,
            f.subject,
            f.from,
            f.to,
            f.before,
            limit,
            scope
        ],
        record,
    )?;
    rows.collect::<Result<_, _>>()
}

/// Recent entries, newest first, optionally only one action.
pub fn recent(c: &Conn, action: Option<&str>, limit: i64) -> Result<Vec<AuditRecord>, StoreError> {
    search(
        c,
        &Filter {
            action: action.map(str::to_string),
            limit: Some(limit),
            ..Filter::default()
        },
        None,
    )
}

/// When the newest entry was written (None: an empty log).
pub fn last_at(c: &Conn) -> Result<Option<i64>, StoreError> {
    c.query_row("SELECT MAX(at) FROM audit", p![], |r| r.get(0))
}

/// What `verify` found wrong.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Break {
    /// The first entry that is not what was written.
    pub entry: i64,
    pub reason: &'static str,
}

/// Walks the chain; returns the first bad entry, or None when the log is intact.
pub fn verify(c: &Conn, key: &[u8; 32]) -> Result<Option<Break>, StoreError> {
    let mut prev = GENESIS.to_string();
    let mut expect_id = 1;
    let mut after = 0i64;
    loop {
        // In pages, so a long log is never held in memory at once.
        let page = c.query_map(
            "SELECT id, at, actor, action, subject, detail, prev_hash, hash FROM audit
             WHERE id > ?1 ORDER BY id LIMIT 5000",
            p![after],
            |r| Ok((record(r)?, r.get::<_, String>(6)?, r.get::<_, String>(7)?)),
        )?;
        let Some(last) = page.last() else { break };
        after = last.0.id;
        for (rec, p, h) in page {
            let bad = |reason| {
                Ok(Some(Break {
                    entry: expect_id.min(rec.id),
                    reason,
                }))
            };
            if rec.id != expect_id {
                return bad("missing entry (deleted)");
            }
            if p != prev {
                return bad("does not follow the previous entry (deleted or reordered)");
            }
            if h != row_hash(key, &prev, &rec) {
                return bad("content does not match its hash (edited or swapped)");
            }
            prev = h;
            expect_id += 1;
        }
    }
    let head: Option<(i64, String)> = c
        .query_row("SELECT id, hash FROM audit_head", p![], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    match head {
        None if expect_id == 1 => Ok(None),
        Some((id, hash)) if id == expect_id - 1 && hash == prev => Ok(None),
        Some((id, _)) if id >= expect_id => Ok(Some(Break {
            entry: expect_id,
            reason: "missing entry at the end of the log (deleted)",
        })),
        _ => Ok(Some(Break {
            entry: (expect_id - 1).max(1),
            reason: "the log's head does not match its last entry",
        })),
    }
}

/// A cell a spreadsheet will not run as a formula: text starting with `=`, `+`, `-`,
/// `@`, a tab or a carriage return gets a leading apostrophe (OWASP's advice).
pub fn spreadsheet_safe(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

/// CSV of entries (header: id,at,time,actor,action,subject,detail).
pub fn to_csv(rows: &[AuditRecord]) -> Result<Vec<u8>, StoreError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let err = |e: csv::Error| StoreError::Conflict(format!("csv: {e}"));
    w.write_record(["id", "at", "time", "actor", "action", "subject", "detail"])
        .map_err(err)?;
    for r in rows {
        let time = chrono::DateTime::from_timestamp(r.at, 0)
            .map(|t| t.to_rfc3339())
            .unwrap_or_default();
        w.write_record([
            &r.id.to_string(),
            &r.at.to_string(),
            &time,
            &*spreadsheet_safe(&r.actor),
            &*spreadsheet_safe(&r.action),
            &*spreadsheet_safe(&r.subject),
            &*spreadsheet_safe(&r.detail),
        ])
        .map_err(err)?;
    }
    w.into_inner()
        .map_err(|e| StoreError::Conflict(format!("csv: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exported_cells_never_start_a_formula() {
        let rows = [AuditRecord {
            id: 1,
            at: 0,
            actor: "@SUM(1+1)".into(),
            action: "-2+3".into(),
            subject: "=HYPERLINK(\"http://x\",\"y\")".into(),
            detail: "+cmd".into(),
        }];
        let csv = String::from_utf8(to_csv(&rows).unwrap()).unwrap();
        let line = csv.lines().nth(1).unwrap();
        for cell in ["'@SUM(1+1)", "'-2+3", "'=HYPERLINK", "'+cmd"] {
            assert!(line.contains(cell), "{cell} in {line}");
        }
        assert_eq!(spreadsheet_safe("face.enrol"), "face.enrol");
    }
}
