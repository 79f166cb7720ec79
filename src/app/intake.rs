//! The clerk's intake: registering an applicant, recording and withdrawing consent, and
//! enrolling face frames (decode → one face → quality gate → embed → seal → store →
//! gallery), with a warning when the face already matches someone else.

use crate::store::audit::Action;
use serde::Serialize;
use serde_json::json;

use super::{App, AppError};
use crate::applicant::{self, ApplicantId};
use crate::auth::Principal;
use crate::consent::PURPOSE;
use crate::crypto;
use crate::gallery::Query;
use crate::store::{now, people, NewApplicant, NewConsent};
use crate::vision::{decode, primary_face, DecodeError, Quality};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Enrolled {
    pub template_id: i64,
    pub quality: Quality,
    /// How many templates the applicant has now.
    pub templates: i64,
    /// Another applicant whose face this one matches (possible duplicate or look-alike).
    pub possible_duplicate_of: Option<ApplicantId>,
    pub duplicate_score: Option<f32>,
}

/// What the desk camera's current frame looks like.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FaceCheck {
    pub faces: usize,
    /// None when the frame would be enrolled; else a reason code the page translates.
    pub issue: Option<&'static str>,
    pub quality: Option<Quality>,
}

/// Why a frame would not be enrolled.
#[derive(Debug, Clone, Copy)]
enum Issue {
    NoFace,
    ManyFaces,
    /// The quality gate's reason code.
    Quality(&'static str),
}

impl Issue {
    /// The reason code the desk page translates.
    fn code(self) -> &'static str {
        match self {
            Issue::NoFace => "no_face",
            Issue::ManyFaces => "many_faces",
            Issue::Quality(c) => c,
        }
    }
}

/// One image as enrolment sees it.
struct Examined {
    img: image::RgbImage,
    faces: usize,
    face: Option<(crate::vision::Face, Quality)>,
    /// None when the image would be enrolled.
    issue: Option<Issue>,
}

/// Enrolment without a running consent.
fn no_consent() -> AppError {
    AppError::Forbidden(
        "no valid consent to face lookup: record the applicant's consent first".into(),
    )
}

impl App {
    /// What enrolment sees in one image; the desk's live check and enrolment both use it,
    /// so the check says exactly what enrolling that frame would do.
    fn examine(&self, image: &[u8]) -> Result<Examined, AppError> {
        let img =
            decode(image, &self.config.decode_limits()).map_err(|e| AppError::Unprocessable {
                code: "bad_image",
                message: match e {
                    DecodeError::TooManyBytes { .. }
                    | DecodeError::TooLarge { .. }
                    | DecodeError::TooMuchMemory { .. } => format!("image too large: {e}"),
                    other => other.to_string(),
                },
            })?;
        let faces = self
            .engine
            .detect_framed(&img, self.config.vision.enrol_min_face_px)?;
        let Some(face) = primary_face(&faces, img.width(), img.height()).copied() else {
            return Ok(Examined {
                img,
                faces: 0,
                face: None,
                issue: Some(Issue::NoFace),
            });
        };
        let q = self.engine.quality(&img, &face);
        // Another face of comparable size: we cannot tell whose face this is.
        let many = faces
            .iter()
            .filter(|f| f.width() >= 0.6 * face.width())
            .count()
            > 1;
        let issue = if many {
            Some(Issue::ManyFaces)
        } else {
            self.config
                .vision
                .quality
                .check(&q)
                .map(|i| Issue::Quality(i.code()))
        };
        Ok(Examined {
            img,
            faces: faces.len(),
            face: Some((face, q)),
            issue,
        })
    }

    /// The main face of an image that passed enrolment's checks, with its quality.
    fn enrolment_face(
        &self,
        image: &[u8],
    ) -> Result<(image::RgbImage, crate::vision::Face, Quality), AppError> {
        let e = self.examine(image)?;
        match (e.issue, e.face) {
            (None, Some((face, q))) => Ok((e.img, face, q)),
            (issue, _) => Err(match issue.unwrap_or(Issue::NoFace) {
                Issue::NoFace => AppError::Unprocessable {
                    code: "no_face",
                    message: "no face found in the image".into(),
                },
                Issue::ManyFaces => AppError::Unprocessable {
                    code: "many_faces",
                    message: "several faces in the image: only the applicant may be in the frame"
                        .into(),
                },
                Issue::Quality(code) => AppError::Unprocessable {
                    code: "low_quality",
                    message: format!("face quality too low ({code})"),
                },
            }),
        }
    }

    /// Quality feedback for one frame; stores nothing.
    pub fn check_face(&self, image: &[u8]) -> Result<FaceCheck, AppError> {
        let e = self.examine(image)?;
        Ok(FaceCheck {
            faces: e.faces,
            issue: e.issue.map(Issue::code),
            quality: e.face.map(|(_, q)| q),
        })
    }

    pub fn create_applicant(
        &self,
        by: &Principal,
        full_name: &str,
        id_number: &str,
        phone: Option<&str>,
    ) -> Result<ApplicantId, AppError> {
        let name = applicant::normalise_name(full_name)?;
        let id = applicant::validate_id_number(id_number)?;
        let phone = phone
            .filter(|p| !p.trim().is_empty())
            .map(applicant::validate_phone)
            .transpose()?;
        let id_hash = self.keys.id_hash(&id);
        let (id_enc, phone_enc) = self.seal_applicant_fields(&id_hash, &id, phone.as_deref())?;
        let phone_hash = phone.as_deref().map(|p| self.phone_hash(p));
        // The registering office (a province-wide admin's registration belongs to the only
        // office when there is one; else to the offices of the dossiers opened for them).
        let office = match by.office {
            Some(o) => Some(o),
            None => match self.offices(by)?.as_slice() {
                [only] => Some(only.id),
                _ => None,
            },
        };
        let t = now();
        Ok(self.store.audited(&by.actor, t, |tx| {
            let aid = people::insert_applicant(
                tx,
                &NewApplicant {
                    full_name: &name,
                    id_number_enc: &id_enc,
                    id_number_hash: &id_hash,
                    phone_enc: phone_enc.as_deref(),
                    phone_hash: phone_hash.as_deref(),
                    created_by: by.user_id(),
                    now: t,
                },
            )?;
            if let Some(o) = office {
                crate::store::offices::link_applicant(tx, aid, o, t)?;
            }
            tx.record(
                Action::ApplicantCreate,
                &ApplicantId(aid).subject(),
                json!({}),
            )?;
            Ok(ApplicantId(aid))
        })?)
    }

    /// The applicant with this ID number, if registered (so a clerk does not register twice).
    pub fn applicant_by_id_number(&self, id_number: &str) -> Result<Option<ApplicantId>, AppError> {
        let id = applicant::validate_id_number(id_number)?;
        let h = self.keys.id_hash(&id);
        Ok(self
            .store
            .read(|c| people::applicant_by_id_hash(c, &h))?
            .map(|a| ApplicantId(a.id)))
    }

    pub fn record_consent(
        &self,
        by: &Principal,
        applicant_id: ApplicantId,
        text_version: &str,
        method: &str,
    ) -> Result<i64, AppError> {
        self.applicant(by, applicant_id)?;
        let granted_by = by.user_id().ok_or_else(|| {
            AppError::Forbidden("consent is recorded by a signed-in clerk or admin".into())
        })?;
        let method = self
            .consent
            .check(text_version, method)
            .map_err(|e| match e {
                crate::consent::ConsentError::BadMethod => AppError::Invalid(e.to_string()),
                e => AppError::Conflict(e.to_string()),
            })?
            .as_str();
        let t = now();
        Ok(self.store.audited(&by.actor, t, |tx| {
            if let Some(c) = people::valid_consent(tx, applicant_id.0, PURPOSE)? {
                return Ok(c.id);
            }
            let id = people::insert_consent(
                tx,
                &NewConsent {
                    applicant_id: applicant_id.0,
                    purpose: PURPOSE,
                    text_version: &self.consent.version,
                    text_sha256: &self.consent.sha256,
                    method,
                    by: granted_by,
                    now: t,
                },
            )?;
            tx.record(
                Action::ConsentGrant,
                &applicant_id.subject(),
                json!({"consent": id, "version": self.consent.version, "method": method}),
            )?;
            Ok(id)
        })?)
    }

    /// Withdraws consent and purges the biometric data at once (see [`App::purge`]).
    /// Returns how many templates were purged.
    pub fn withdraw_consent(
        &self,
        by: &Principal,
        applicant_id: ApplicantId,
        note: &str,
    ) -> Result<usize, AppError> {
        self.purge(
            by,
            applicant_id,
            super::retention::PurgeReason::Withdrawal,
            note,
            now(),
        )
    }

    /// Refuses unless the applicant has a running consent to face lookup.
    fn require_consent(&self, applicant_id: ApplicantId) -> Result<(), AppError> {
        match self
            .store
            .read(|c| people::valid_consent(c, applicant_id.0, PURPOSE))?
        {
            Some(_) => Ok(()),
            None => Err(no_consent()),
        }
    }

    /// Enrols one frame of the applicant's face.
    pub fn enrol_face(
        &self,
        by: &Principal,
        applicant_id: ApplicantId,
        image: &[u8],
    ) -> Result<Enrolled, AppError> {
        self.applicant(by, applicant_id)?;
        self.require_consent(applicant_id)?;
        let (img, face, q) = self.enrolment_face(image)?;
        let template = self
            .engine
            .embed(&img, std::slice::from_ref(&face))?
            .pop()
            .ok_or_else(|| AppError::Internal("no embedding".into()))?;
        // Does the face match somebody else already enrolled?
        let top = self.gallery.search_filtered(
            &Query::new(self.gallery.segments(), &self.scorer, &template),
            |id| id != applicant_id.gallery_key(),
        );
        let dup = top
            .best
            .filter(|b| self.scorer.threshold_far_1e3.is_some_and(|t| b.score >= t));
        // From here to the gallery, a withdrawal of this person waits (and then removes
        // what was stored); consent is checked again inside the transaction that stores.
        let _person = self.person_lock(applicant_id)?;
        self.require_consent(applicant_id)?;
        let key = self.keys.applicant_key(applicant_id.0)?;
        let bytes: Vec<u8> = template.iter().flat_map(|v| v.to_le_bytes()).collect();
        let sealed = crypto::seal(&key, &bytes, applicant_id.template_aad().as_bytes())?;
        let t = now();
        let stored = self.store.audited(&by.actor, t, |tx| {
            if people::valid_consent(tx, applicant_id.0, PURPOSE)?.is_none() {
                return Ok(None);
            }
            let tid = people::insert_template(tx, applicant_id.0, &self.model_id, &sealed, f64::from(q.score), t)?;
            crate::store::desk::set_enrolled_by(tx, tid, by.user_id())?;
            tx.record(Action::FaceEnrol, &applicant_id.subject(), json!({"template": tid, "quality": q.score, "possible_duplicate_of": dup.map(|d| d.identity)}))?;
            Ok(Some((
                tid,
                people::template_count_for_model(tx, applicant_id.0, &self.model_id)?,
            )))
        })?;
        let Some((tid, count)) = stored else {
            // Withdrawn by another process meanwhile: leave no key behind either.
            if self
                .store
                .read(|c| people::template_count(c, applicant_id.0))?
                == 0
            {
                self.keys.destroy_applicant_key(applicant_id.0)?;
            }
            return Err(no_consent());
        };
        // Into the gallery through the feed, like any server's enrolment. The template is
        // stored whatever happens here: if the feed cannot be read now, it goes in directly
        // (the next look at the feed settles the person).
        if !self.follow_after_commit("enrolment") {
            self.gallery
                .add(applicant_id.gallery_key(), tid as u64, &template);
        }
        Ok(Enrolled {
            template_id: tid,
            quality: q,
            templates: count,
            possible_duplicate_of: dup.map(|d| ApplicantId::from_gallery(d.identity)),
            duplicate_score: dup.map(|d| d.score),
        })
    }
}
