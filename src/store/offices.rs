//! SQL for offices (tenants, DESIGN.md §9): the offices of a deployment, and which office a
//! person's records belong to. A scope of `None` is the whole province (every office).

use super::db::{Conn, DbResult, OptionalRow, Row, Tx};
use crate::p;

use super::{conflict, StoreError};

/// The office every single-office database migrated into (migration 7).
pub const DEFAULT_OFFICE: i64 = 1;

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct OfficeRow {
    pub id: i64,
    pub code: String,
    /// Empty for the default office: the configured `[office]` name.
    pub name: String,
    pub address: String,
    pub return_place: String,
    pub code_prefix: String,
}

const COLS: &str = "id, code, name, address, return_place, code_prefix";

fn office(r: &Row) -> DbResult<OfficeRow> {
    Ok(OfficeRow {
        id: r.get(0)?,
        code: r.get(1)?,
        name: r.get(2)?,
        address: r.get(3)?,
        return_place: r.get(4)?,
        code_prefix: r.get(5)?,
    })
}

pub struct NewOffice<'a> {
    pub code: &'a str,
    pub name: &'a str,
    pub address: &'a str,
    pub return_place: &'a str,
    pub code_prefix: &'a str,
}

pub fn insert(tx: &Tx, o: &NewOffice, now: i64) -> Result<i64, StoreError> {
    tx.insert(
        "INSERT INTO offices (code, name, address, return_place, code_prefix, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        p![
            o.code,
            o.name,
            o.address,
            o.return_place,
            o.code_prefix,
            now
        ],
    )
    .map_err(conflict("office"))
}

/// The offices in `scope` (all of them for `None`), by id.
pub fn list(c: &Conn, scope: Option<i64>) -> Result<Vec<OfficeRow>, StoreError> {
    let mut st = c.prepare(&format!(
        "SELECT {COLS} FROM offices WHERE CAST(?1 AS BIGINT) IS NULL OR id = ?1 ORDER BY id"
    ))?;
    let rows = st.query_map(p![scope], office)?;
    rows.collect::<Result<_, _>>()
}

pub fn by_id(c: &Conn, id: i64) -> Result<Option<OfficeRow>, StoreError> {
    c.query_row(
        &format!("SELECT {COLS} FROM offices WHERE id = ?1"),
        p![id],
        office,
    )
    .optional()
}

pub fn by_code(c: &Conn, code: &str) -> Result<Option<OfficeRow>, StoreError> {
    c.query_row(
        &format!("SELECT {COLS} FROM offices WHERE code = ?1"),
        p![code],
        office,
    )
    .optional()
}

/// SQL true when applicant `a.id` belongs to the office in parameter `?{n}` (NULL: any):
/// a dossier there, or registered by one of its clerks.
pub fn applicant_in_scope(n: usize) -> String {
    format!(
        "(CAST(?{n} AS BIGINT) IS NULL
          OR EXISTS (SELECT 1 FROM dossiers od WHERE od.applicant_id = a.id AND od.office_id = ?{n})
          OR EXISTS (SELECT 1 FROM users ou WHERE ou.id = a.created_by AND ou.office_id = ?{n})
          OR EXISTS (SELECT 1 FROM applicant_offices ao WHERE ao.applicant_id = a.id AND ao.office_id = ?{n}))"
    )
}

/// Whether applicant `id` belongs to `scope` (always, for the province).
pub fn applicant_in(c: &Conn, id: i64, scope: Option<i64>) -> Result<bool, StoreError> {
    c.query_row(
        &format!(
            "SELECT EXISTS (SELECT 1 FROM applicants a WHERE a.id = ?1 AND {})",
            applicant_in_scope(2)
        ),
        p![id, scope],
        |r| r.get(0),
    )
}

/// Links applicant `id` to `office` (a citizen who came to that office's desk); returns
/// whether the link is new.
pub fn link_applicant(tx: &Tx, id: i64, office: i64, now: i64) -> Result<bool, StoreError> {
    Ok(tx.execute(
        "INSERT INTO applicant_offices (applicant_id, office_id, since) VALUES (?1, ?2, ?3)
         ON CONFLICT DO NOTHING",
        p![id, office, now],
    )? > 0)
}

/// SQL true when `column` (a device id) is a device of the office in parameter `?{n}`
/// (NULL: any).
pub fn device_in_scope(column: &str, n: usize) -> String {
    format!("(CAST(?{n} AS BIGINT) IS NULL OR {column} IN (SELECT id FROM device_tokens WHERE office_id = ?{n}))")
}

/// SQL true when the audit entry's actor (`a.actor`) is a user or device of the office in
/// parameter `?{n}` (NULL: any).
pub fn actor_in_scope(n: usize) -> String {
    format!(
        "(CAST(?{n} AS BIGINT) IS NULL
          OR a.actor IN (SELECT 'user:' || id FROM users WHERE office_id = ?{n})
          OR a.actor IN (SELECT 'device:' || id FROM device_tokens WHERE office_id = ?{n}))"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A single-office database of schema 6 migrates into the default office: its clerks
    /// and kiosks belong to it, its admins and integration tokens act for every office, and
    /// its dossiers are the default office's.
    #[test]
    fn a_single_office_database_migrates_into_the_default_office() {
        let dir = tempfile::tempdir().unwrap();
        {
            let c = rusqlite::Connection::open(dir.path().join("hoso.sqlite3")).unwrap();
            for sql in &super::super::schema::MIGRATIONS[..6] {
                c.execute_batch(sql).unwrap();
            }
            c.pragma_update(None, "user_version", 6).unwrap();
            c.execute_batch(
                "INSERT INTO users (id, username, password_hash, role, created_at)
                     VALUES (1, 'admin1', 'x', 'admin', 0), (2, 'clerk1', 'x', 'clerk', 0);
                 INSERT INTO device_tokens (id, name, role, token_hash, created_at)
                     VALUES (1, 'Sảnh 1', 'kiosk', 'h1', 0), (2, 'Một cửa', 'integration', 'h2', 0);
                 INSERT INTO applicants (id, full_name, id_number_enc, id_number_hash, created_at, created_by)
                     VALUES (1, 'A', x'00', 'idh', 0, 2);
                 INSERT INTO dossiers (code, applicant_id, procedure_name, received_at, due_at,
                     original_due_at, status, lookup_token_enc, lookup_token_hash, created_at, updated_at)
                     VALUES ('000.00.17.H29-261120-0001', 1, 'P', 0, 1, 1, 2, x'00', 'th', 0, 0);",
            )
            .unwrap();
        }
        let store = crate::store::Store::open(dir.path(), [7; 32]).unwrap();
        store
            .read(|c| {
                let office =
                    |sql: &str| -> Option<i64> { c.query_row(sql, p![], |r| r.get(0)).unwrap() };
                assert_eq!(office("SELECT office_id FROM users WHERE id = 1"), None);
                assert_eq!(office("SELECT office_id FROM users WHERE id = 2"), Some(1));
                assert_eq!(
                    office("SELECT office_id FROM device_tokens WHERE id = 1"),
                    Some(1)
                );
                assert_eq!(
                    office("SELECT office_id FROM device_tokens WHERE id = 2"),
                    None
                );
                assert_eq!(
                    office("SELECT office_id FROM dossiers"),
                    Some(DEFAULT_OFFICE)
                );
                let all = list(c, None)?;
                assert_eq!(all.len(), 1);
                assert_eq!(
                    (all[0].id, all[0].code.as_str(), all[0].name.as_str()),
                    (1, "default", "")
                );
                assert!(applicant_in(c, 1, Some(1))? && !applicant_in(c, 1, Some(2))?);
                assert!(applicant_in(c, 1, None)?);
                Ok(())
            })
            .unwrap();
    }
}
