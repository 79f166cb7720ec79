//! The clerk desk's returning citizens: find a registered person (CCCD, phone, dossier
//! code or name), see them as the desk needs to (their dossiers, consent, and their face
//! templates described — count, when, by whom, quality, profile, last recognised — never the
//! templates), replace their templates after a re-enrolment, discard templates just taken
//! (a duplicate-face warning), and view the other record of a duplicate, masked. Every
//! change and every duplicate view is audited.

use serde::Serialize;
use serde_json::json;

use super::offices::sees;
use super::{App, AppError};
use crate::applicant::{self, last_digits, masked_name, ApplicantId};
use crate::auth::Principal;
use crate::consent::PURPOSE;
use crate::store::audit::Action;
use crate::store::desk::{self as sql, TemplateInfo};
use crate::store::now;
use crate::store::{dossiers as dsql, people};

/// Search results are capped: a name common in the office asks for a longer query.
const MAX_RESULTS: usize = 20;

/// One person a desk search found.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Found {
    pub id: ApplicantId,
    pub full_name: String,
    /// The last four digits of the ID number (to confirm with the person's card).
    pub id_last4: String,
    pub consent: bool,
    pub templates: usize,
    pub dossiers: usize,
}

/// A person as the desk (and the admin) sees them.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Person {
    pub id: ApplicantId,
    pub full_name: String,
    pub display_name: String,
    pub id_last4: String,
    pub consent: Option<serde_json::Value>,
    pub consent_history: Vec<serde_json::Value>,
    pub templates: usize,
    pub templates_active: usize,
    /// Enrolled with another recognition profile only: re-enrol for the kiosk to work.
    pub needs_reenrolment: bool,
    pub template_info: Vec<TemplateInfo>,
    /// The recognition profile running now (templates of other profiles are not used).
    pub model_profile: String,
    pub last_recognised_at: Option<i64>,
    pub biometrics_purged_at: Option<i64>,
    pub dossiers: Vec<super::dossiers::DossierView>,
    /// The person's dossier codes that kiosks' keypads missed lately (a clerk may unlock).
    pub keypad_locks: Vec<super::unlock::CodeLock>,
}

/// The other record of a duplicate-face warning, masked.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OtherRecord {
    pub id: ApplicantId,
    pub display_name: String,
    pub id_last2: String,
    pub registered_at: i64,
    pub dossiers: usize,
}

/// "Nguyễn Văn Đức" → "nguyen van duc": lower case, no diacritics, for name search.
pub fn fold(s: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    s.nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .map(|c| match c {
            'đ' | 'Đ' => 'd',
            c => c,
        })
        .flat_map(char::to_lowercase)
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

impl App {
    /// The phone number's keyed hash (separate from the ID number's by its prefix).
    pub(crate) fn phone_hash(&self, phone: &str) -> String {
        self.keys.id_hash(&format!("phone:{phone}"))
    }

    /// Hashes the phone numbers of rows registered before phone search existed.
    pub(crate) fn hash_legacy_phones(&self) -> Result<usize, AppError> {
        let rows = self.store.read(sql::phones_without_hash)?;
        for (id, sealed, id_hash) in &rows {
            let phone = self.open_text(sealed, &super::fields::aad("phone", id_hash))?;
            let h = self.phone_hash(&phone);
            self.store.tx(|tx| sql::set_phone_hash(tx, *id, Some(&h)))?;
        }
        Ok(rows.len())
    }

    /// Registered people matching `q`: a CCCD/CMND number, a phone number, a dossier code
    /// (of `by`'s office), or words of a name (with or without diacritics).
    pub fn search_applicants(&self, by: &Principal, q: &str) -> Result<Vec<Found>, AppError> {
        let q = q.trim();
        if q.chars().count() < 2 {
            return Ok(Vec::new());
        }
        let mut ids: Vec<i64> = Vec::new();
        let digits: String = q.chars().filter(|c| !c.is_whitespace()).collect();
        if applicant::validate_id_number(&digits).is_ok() {
            if let Some(a) = self.applicant_by_id_number(&digits)? {
                // The full number on the card: a clerk serves a citizen of any office.
                self.link_at_desk(by, a)?;
                ids.extend(self.applicant(by, a).ok().map(|r| r.id));
            }
        }
        if let Ok(p) = applicant::validate_phone(&digits) {
            let h = self.phone_hash(&p);
            ids.extend(self.store.read(|c| sql::by_phone_hash(c, &h, by.office))?);
        }
        if let Some(d) = self
            .store
            .read(|c| dsql::dossier(c, &q.to_uppercase()))?
            .filter(|d| sees(by, d.office_id))
        {
            ids.push(d.applicant_id);
        } else if looks_like_code_part(q) {
            // Part of a dossier code ("261206-0006"), as a citizen reads it off the receipt.
            let part = q.to_uppercase();
            ids.extend(self.store.read(|c| {
                dsql::applicants_by_code_part(c, &part, by.office, MAX_RESULTS as i64)
            })?);
        }
        if ids.is_empty() && !q.chars().all(|c| c.is_ascii_digit()) {
            let words: Vec<String> = fold(q).split(' ').map(str::to_string).collect();
            ids = self
                .store
                .read(|c| sql::names(c, by.office))?
                .into_iter()
                .filter(|(_, name)| {
                    let n = fold(name);
                    words
                        .iter()
                        .all(|w| n.split(' ').any(|p| p.starts_with(w.as_str())))
                })
                .map(|(id, _)| id)
                .take(MAX_RESULTS)
                .collect();
        }
        let mut seen = std::collections::HashSet::new();
        ids.retain(|id| seen.insert(*id));
        ids.into_iter()
            .filter_map(|id| self.found(by, id).transpose())
            .collect()
    }

    fn found(&self, by: &Principal, id: i64) -> Result<Option<Found>, AppError> {
        let (a, consent, templates, dossiers) = self.store.read(|c| {
            Ok((
                people::applicant(c, id)?,
                people::valid_consent(c, id, PURPOSE)?,
                people::template_count(c, id)?,
                dsql::dossiers_of(c, id)?,
            ))
        })?;
        let Some(a) = a else { return Ok(None) };
        Ok(Some(Found {
            id: ApplicantId(a.id),
            id_last4: last_digits(&self.id_number_of(&a)?, 4).to_string(),
            full_name: a.full_name,
            consent: consent.is_some(),
            templates: templates as usize,
            dossiers: dossiers.iter().filter(|d| sees(by, d.office_id)).count(),
        }))
    }

    /// One person as the desk sees them. A clerk serves any citizen (a procedure may be
    /// filed at any office) but sees the dossiers of their own office; an office's admin
    /// sees the people of their office only.
    pub fn person(&self, by: &Principal, id: ApplicantId) -> Result<Person, AppError> {
        let a = self.applicant(by, id)?;
        let (consents, info, last_seen, dossiers) = self.store.read(|c| {
            Ok((
                people::consents(c, id.0)?,
                sql::templates_of(c, id.0)?,
                sql::last_recognised(c, id.0)?,
                dsql::dossiers_of(c, id.0)?,
            ))
        })?;
        let active = info.iter().filter(|t| t.model == self.model_id).count();
        let running = consents
            .iter()
            .find(|c| c.withdrawn_at.is_none() && c.purpose == PURPOSE);
        Ok(Person {
            id,
            id_last4: last_digits(&self.id_number_of(&a)?, 4).to_string(),
            display_name: masked_name(&a.full_name),
            full_name: a.full_name,
            consent: running.map(|c| {
                json!({
                    "id": c.id, "text_version": c.text_version, "method": c.method,
                    "granted_at": c.granted_at, "granted_by": c.granted_by,
                })
            }),
            consent_history: consents
                .iter()
                .map(|c| {
                    json!({
                        "id": c.id, "text_version": c.text_version, "text_sha256": c.text_sha256,
                        "method": c.method, "granted_at": c.granted_at, "granted_by": c.granted_by,
                        "withdrawn_at": c.withdrawn_at,
                    })
                })
                .collect(),
            templates: info.len(),
            templates_active: active,
            needs_reenrolment: !info.is_empty() && active == 0 && running.is_some(),
            template_info: info,
            model_profile: self.model_id.clone(),
            last_recognised_at: last_seen,
            biometrics_purged_at: a.biometrics_purged_at,
            keypad_locks: dossiers
                .iter()
                .filter(|d| sees(by, d.office_id))
                .filter_map(|d| self.code_lock(&d.code).transpose())
                .collect::<Result<_, _>>()?,
            dossiers: dossiers
                .iter()
                .filter(|d| sees(by, d.office_id))
                .map(|d| self.view(d))
                .collect::<Result<_, _>>()?,
        })
    }

    /// Deletes the applicant's templates: those in `ids` (a discard after a duplicate-face
    /// warning, `Action::FaceDiscard`) or all but those (a re-enrolment's old templates,
    /// `Action::FaceReenrol`). Returns how many were deleted.
    pub fn drop_templates(
        &self,
        by: &Principal,
        id: ApplicantId,
        ids: &[i64],
        action: Action,
    ) -> Result<usize, AppError> {
        self.applicant(by, id)?;
        let keep = match action {
            Action::FaceReenrol => true,
            Action::FaceDiscard => false,
            _ => return Err(AppError::Internal("not a template action".into())),
        };
        if keep && ids.is_empty() {
            return Err(AppError::Invalid(
                "a re-enrolment keeps at least one new template".into(),
            ));
        }
        let _person = self.person_lock(id)?;
        let deleted = self.store.audited(&by.actor, now(), |tx| {
            let deleted = sql::delete_templates(tx, id.0, ids, keep)?;
            tx.record(
                action,
                &id.subject(),
                json!({"templates_deleted": deleted, "kept": if keep { ids } else { &[] }}),
            )?;
            Ok(deleted)
        })?;
        for t in &deleted {
            self.gallery.remove_template(*t as u64);
        }
        self.store.checkpoint()?;
        self.follow_after_commit("templates deleted");
        Ok(deleted.len())
    }

    /// The other record a duplicate-face warning named, masked (audited).
    pub fn duplicate_view(
        &self,
        by: &Principal,
        id: ApplicantId,
        other: ApplicantId,
    ) -> Result<OtherRecord, AppError> {
        self.applicant(by, id)?;
        // Another office's citizen is shown (masked) only when this person's enrolment named
        // them: the face match is what lets the clerk see that the record exists.
        let a = match self.applicant(by, other) {
            Ok(a) => a,
            Err(AppError::NotFound(_)) if self.enrolment_named(id, other)? => self
                .store
                .read(|c| people::applicant(c, other.0))?
                .ok_or_else(|| AppError::NotFound(format!("applicant {other}")))?,
            Err(e) => return Err(e),
        };
        let dossiers = self.store.read(|c| dsql::dossiers_of(c, other.0))?;
        self.audit(
            by,
            Action::DuplicateView,
            &other.subject(),
            json!({"from": id.subject()}),
        )?;
        Ok(OtherRecord {
            id: other,
            display_name: masked_name(&a.full_name),
            id_last2: last_digits(&self.id_number_of(&a)?, 2).to_string(),
            registered_at: a.created_at,
            dossiers: dossiers.len(),
        })
    }
}

impl App {
    /// Whether an enrolment of `id` warned that the face matches `other`.
    pub(crate) fn enrolment_named(
        &self,
        id: ApplicantId,
        other: ApplicantId,
    ) -> Result<bool, AppError> {
        let entries = self.store.read(|c| {
            crate::store::audit::search(
                c,
                &crate::store::audit::Filter {
                    action: Some(Action::FaceEnrol.code().into()),
                    subject: Some(id.subject()),
                    limit: Some(1000),
                    ..Default::default()
                },
                None,
            )
        })?;
        let named = other.gallery_key();
        Ok(entries.iter().any(|e| {
            serde_json::from_str::<serde_json::Value>(&e.detail)
                .ok()
                .and_then(|d| d["possible_duplicate_of"].as_u64())
                == Some(named)
        }))
    }
}

/// Whether `q` may be part of a dossier code: at least 6 characters of code characters
/// with a digit and a separator ("261206-0006", "H29-261206").
fn looks_like_code_part(q: &str) -> bool {
    q.len() >= 6
        && q.chars().any(|c| c.is_ascii_digit())
        && q.contains(['-', '.'])
        && q.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
}

#[cfg(test)]
mod tests {
    use super::{fold, looks_like_code_part};

    #[test]
    fn parts_of_codes_are_recognised() {
        assert!(looks_like_code_part("261206-0006"));
        assert!(looks_like_code_part("H29-261206"));
        assert!(!looks_like_code_part("0006"), "too short");
        assert!(!looks_like_code_part("Nguyễn-An"));
        assert!(!looks_like_code_part("0909222222"), "a phone number");
    }

    #[test]
    fn names_fold_for_search() {
        assert_eq!(fold("  Nguyễn Văn  Đức "), "nguyen van duc");
        assert_eq!(fold("TRẦN thị HẠNH"), "tran thi hanh");
    }
}
