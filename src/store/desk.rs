//! SQL for the clerk desk's returning citizens: finding a person (phone hash, name), their
//! templates as the desk and the admin see them (never the templates themselves), and
//! replacing or discarding templates.

use super::db::{Conn, Tx};
use crate::p;

use super::StoreError;

/// One stored template, described (no template data).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct TemplateInfo {
    pub id: i64,
    pub model: String,
    pub quality: f64,
    pub created_at: i64,
    /// The staff member who enrolled it (display name, else username), when known.
    pub enrolled_by: Option<String>,
}

/// Applicants with this phone number's keyed hash.
pub fn by_phone_hash(c: &Conn, hash: &str, scope: Option<i64>) -> Result<Vec<i64>, StoreError> {
    let mut st = c.prepare(&format!(
        "SELECT id FROM applicants a WHERE phone_hash = ?1 AND {} ORDER BY id DESC",
        super::offices::applicant_in_scope(2)
    ))?;
    let rows = st.query_map(p![hash, scope], |r| r.get(0))?;
    rows.collect::<Result<_, _>>()
}

/// The id and name of every applicant of office `scope` (None: all), newest first (the name
/// search folds them in Rust).
pub fn names(c: &Conn, scope: Option<i64>) -> Result<Vec<(i64, String)>, StoreError> {
    let mut st = c.prepare(&format!(
        "SELECT id, full_name FROM applicants a WHERE {} ORDER BY id DESC",
        super::offices::applicant_in_scope(1)
    ))?;
    let rows = st.query_map(p![scope], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect::<Result<_, _>>()
}

/// Applicants with a phone number but no phone hash yet (rows from before migration 6):
/// (id, sealed phone, ID number hash).
pub fn phones_without_hash(c: &Conn) -> Result<Vec<(i64, Vec<u8>, String)>, StoreError> {
    let mut st = c.prepare(
        "SELECT id, phone_enc, id_number_hash FROM applicants
         WHERE phone_enc IS NOT NULL AND phone_hash IS NULL",
    )?;
    let rows = st.query_map(p![], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    rows.collect::<Result<_, _>>()
}

pub fn set_phone_hash(tx: &Tx, id: i64, hash: Option<&str>) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE applicants SET phone_hash = ?2 WHERE id = ?1",
        p![id, hash],
    )?;
    Ok(())
}

/// Records that the kiosk recognised the applicant at `at`.
pub fn mark_recognised(tx: &Tx, id: i64, at: i64) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE applicants SET last_recognised_at = ?2 WHERE id = ?1",
        p![id, at],
    )?;
    Ok(())
}

/// When the kiosk last recognised the applicant.
pub fn last_recognised(c: &Conn, id: i64) -> Result<Option<i64>, StoreError> {
    use super::db::OptionalRow;
    Ok(c.query_row(
        "SELECT last_recognised_at FROM applicants WHERE id = ?1",
        p![id],
        |r| r.get(0),
    )
    .optional()?
    .flatten())
}

/// Who enrolled a template.
pub fn set_enrolled_by(tx: &Tx, template: i64, user: Option<i64>) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE templates SET enrolled_by = ?2 WHERE id = ?1",
        p![template, user],
    )?;
    Ok(())
}

/// The applicant's templates, oldest first.
pub fn templates_of(c: &Conn, applicant: i64) -> Result<Vec<TemplateInfo>, StoreError> {
    let mut st = c.prepare(
        "SELECT t.id, t.model, t.quality, t.created_at, COALESCE(u.display_name, u.username)
         FROM templates t LEFT JOIN users u ON u.id = t.enrolled_by
         WHERE t.applicant_id = ?1 ORDER BY t.id",
    )?;
    let rows = st.query_map(p![applicant], |r| {
        Ok(TemplateInfo {
            id: r.get(0)?,
            model: r.get(1)?,
            quality: r.get(2)?,
            created_at: r.get(3)?,
            enrolled_by: r.get(4)?,
        })
    })?;
    rows.collect::<Result<_, _>>()
}

/// Deletes the applicant's templates named in `ids` (`keep == false`) or all but those
/// (`keep == true`); returns the ids deleted.
pub fn delete_templates(
    tx: &Tx,
    applicant: i64,
    ids: &[i64],
    keep: bool,
) -> Result<Vec<i64>, StoreError> {
    let mut st = tx.prepare("SELECT id FROM templates WHERE applicant_id = ?1")?;
    let all: Vec<i64> = st
        .query_map(p![applicant], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    if keep && ids.iter().any(|id| !all.contains(id)) {
        // Keeping templates the person does not have would delete every one they do have.
        return Err(StoreError::NotFound(
            "a template of this applicant to keep".into(),
        ));
    }
    let doomed: Vec<i64> = all
        .into_iter()
        .filter(|id| ids.contains(id) != keep)
        .collect();
    for id in &doomed {
        tx.execute("DELETE FROM templates WHERE id = ?1", p![id])?;
    }
    if !doomed.is_empty() {
        super::feed::note(tx, applicant, super::now())?;
    }
    Ok(doomed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeping_templates_a_person_does_not_have_deletes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(dir.path(), [7; 32]).unwrap();
        let ids = store
            .tx(|tx| {
                let a = tx.insert(
                    "INSERT INTO applicants (full_name, id_number_enc, id_number_hash, created_at)
                     VALUES ('A', ?1, 'h', 0)",
                    p![[0u8]],
                )?;
                let mut t = Vec::new();
                for _ in 0..3 {
                    t.push(crate::store::people::insert_template(
                        tx, a, "m", b"s", 1.0, 0,
                    )?);
                }
                Ok((a, t))
            })
            .unwrap();
        let (a, t) = ids;
        let r = store.tx(|tx| delete_templates(tx, a, &[9999], true));
        assert!(matches!(r, Err(StoreError::NotFound(_))));
        let kept = store
            .tx(|tx| delete_templates(tx, a, &[t[2]], true))
            .unwrap();
        assert_eq!(kept, vec![t[0], t[1]]);
        let gone = store
            .tx(|tx| delete_templates(tx, a, &[t[2]], false))
            .unwrap();
        assert_eq!(gone, vec![t[2]]);
    }
}
