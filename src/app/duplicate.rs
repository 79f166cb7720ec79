//! What the desk does after a duplicate-face warning (issue 26): the face just captured
//! resembles a person already enrolled, most likely the same citizen registered again (a
//! typo in the ID number). The clerk either opens the existing person (the dossier goes
//! there), keeps the new record with a reason written down, or discards the new record.
//! Opening the existing person or discarding removes the new record's consent, templates
//! and key at once (a purge); every choice is audited (`face.duplicate_resolve`).

use serde::Deserialize;
use serde_json::json;

use super::retention::PurgeReason;
use super::{App, AppError};
use crate::applicant::ApplicantId;
use crate::auth::Principal;
use crate::store::audit::Action;
use crate::store::now;

/// The clerk's answer to the warning.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", tag = "choice", deny_unknown_fields)]
pub enum DuplicateChoice {
    /// The same citizen: open the existing record; the new one's biometrics are removed.
    UseExisting,
    /// Two different people: keep the new record; why (checked papers …) is recorded.
    Keep {
        #[schema(min_length = 5, max_length = 300)]
        reason: String,
    },
    /// Neither: the new record's biometrics are removed and the desk starts again.
    Discard,
}

/// Shortest reason accepted for keeping a record the face says is a duplicate.
const MIN_REASON_CHARS: usize = 5;

impl App {
    /// Resolves the warning that enrolling `id` raised about `other`. Returns the person the
    /// desk goes on with: `other` (use existing), `id` (keep) or None (discard).
    pub fn resolve_duplicate(
        &self,
        by: &Principal,
        id: ApplicantId,
        other: ApplicantId,
        choice: &DuplicateChoice,
    ) -> Result<Option<ApplicantId>, AppError> {
        self.applicant(by, id)?;
        if !self.enrolment_named(id, other)? {
            return Err(AppError::NotFound(format!(
                "duplicate warning about {other}"
            )));
        }
        let detail = match choice {
            DuplicateChoice::Keep { reason } => {
                if reason.chars().count() > 300 {
                    return Err(AppError::field("reason", "reason: at most 300 characters"));
                }
                let reason = reason.trim();
                if reason.chars().count() < MIN_REASON_CHARS {
                    return Err(AppError::unusable(
                        Some("reason"),
                        "say why the two records are different people (5–300 characters)",
                    ));
                }
                json!({"choice": "keep", "other": other.subject(), "reason": reason})
            }
            DuplicateChoice::UseExisting => {
                json!({"choice": "use_existing", "other": other.subject()})
            }
            DuplicateChoice::Discard => json!({"choice": "discard", "other": other.subject()}),
        };
        if !matches!(choice, DuplicateChoice::Keep { .. }) {
            // The face matched: the citizen stands at this desk, so their record may be
            // opened here (another office's citizen is linked to this one, audited).
            if matches!(choice, DuplicateChoice::UseExisting) {
                self.link_at_desk(by, other)?;
                self.applicant(by, other)?;
            }
            self.purge(
                by,
                id,
                PurgeReason::Withdrawal,
                &format!("duplicate of {}", other.subject()),
                now(),
            )?;
        }
        self.audit(by, Action::DuplicateResolve, &id.subject(), detail)?;
        Ok(match choice {
            DuplicateChoice::UseExisting => Some(other),
            DuplicateChoice::Keep { .. } => Some(id),
            DuplicateChoice::Discard => None,
        })
    }
}
