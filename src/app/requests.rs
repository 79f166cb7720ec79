//! Data-subject requests (access, withdrawal, deletion): logged with the received time and
//! the legal deadlines of Decree 356/2025 (acknowledge within 2 working days, complete
//! within 15 days), acknowledged and completed by an admin. Completing a withdrawal or
//! deletion purges the person's face data; an access request produces an export of what is
//! held about that person, and of no one else.

use crate::store::audit::Action;
use chrono::{Datelike, Duration, TimeZone, Weekday};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::dossiers::{vn, DossierView};
use super::retention::PurgeReason;
use super::{App, AppError};
use crate::applicant::ApplicantId;
use crate::auth::Principal;
use crate::request::{RequestKind, RequestStatus, Step};
use crate::store::{audit, dossiers as sql, now, people, requests};

/// A request as the admin registers it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRequest {
    /// The applicant's number, or their CCCD number.
    #[serde(default)]
    pub applicant_id: Option<i64>,
    #[serde(default)]
    #[schema(pattern = r"^\s*[0-9](\s*[0-9]){11}\s*$")]
    pub id_number: Option<String>,
    /// What the citizen asks: to see what is held, to withdraw consent, to delete.
    #[schema(pattern = "^(access|withdrawal|deletion)$")]
    pub kind: String,
    /// How it arrived: "desk", "letter", "email", "phone"…
    #[serde(default)]
    #[schema(max_length = 40)]
    pub channel: Option<String>,
    /// When it arrived (RFC 3339 or local time); default now.
    #[serde(default)]
    #[schema(max_length = 40)]
    pub received_at: Option<String>,
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub note: Option<String>,
}

/// A request with its deadlines judged at the time of asking.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RequestView {
    #[serde(flatten)]
    pub row: requests::RequestRow,
    pub ack_overdue: bool,
    pub overdue: bool,
}

/// End of the local day `n` working days (Mon–Fri) after `t`. Public holidays are not
/// known to the program: the deadline is the earliest it can be.
pub fn add_working_days(t: i64, n: u32) -> i64 {
    let mut d = vn()
        .timestamp_opt(t, 0)
        .single()
        .unwrap_or_default()
        .date_naive();
    let mut left = n;
    while left > 0 {
        d += Duration::days(1);
        if !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
            left -= 1;
        }
    }
    end_of_day(d)
}

/// End of the local day `n` calendar days after `t`.
pub fn add_days(t: i64, n: i64) -> i64 {
    let d = vn()
        .timestamp_opt(t, 0)
        .single()
        .unwrap_or_default()
        .date_naive();
    end_of_day(d + Duration::days(n))
}

fn end_of_day(d: chrono::NaiveDate) -> i64 {
    d.and_hms_opt(23, 59, 59)
        .and_then(|t| vn().from_local_datetime(&t).single())
        .map_or(0, |t| t.timestamp())
}

/// Everything held about one person, for an access request.
#[derive(Debug, Serialize)]
pub struct SubjectExport {
    pub applicant_id: i64,
    pub full_name: String,
    pub id_number: String,
    pub phone: Option<String>,
    pub registered_at: i64,
    pub consents: Vec<ExportConsent>,
    pub templates: i64,
    pub biometrics_purged_at: Option<i64>,
    pub dossiers: Vec<DossierView>,
    /// Audit entries about this person (kiosk matches, enrolments, consent changes…).
    pub activity: Vec<audit::AuditRecord>,
    pub requests: Vec<requests::RequestRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExportConsent {
    pub purpose: String,
    pub text_version: String,
    pub method: String,
    pub granted_at: i64,
    pub withdrawn_at: Option<i64>,
}

impl App {
    pub fn create_request(&self, by: &Principal, r: &NewRequest) -> Result<RequestView, AppError> {
        let kind = RequestKind::parse(&r.kind).ok_or_else(|| {
            AppError::Invalid("kind must be access, withdrawal or deletion".into())
        })?;
        let applicant_id = match (r.applicant_id, r.id_number.as_deref()) {
            (Some(id), _) => ApplicantId(id),
            (None, Some(n)) => self
                .applicant_by_id_number(n.trim())?
                .filter(|a| self.applicant(by, *a).is_ok())
                .ok_or_else(|| AppError::NotFound("applicant with this ID number".into()))?,
            (None, None) => return Err(AppError::unusable(None, "give applicant_id or id_number")),
        };
        self.applicant(by, applicant_id)?;
        let t = now();
        let received_at = match r.received_at.as_deref() {
            Some(s) => super::dossiers::parse_time(s)?.timestamp(),
            None => t,
        };
        if received_at > t + 300 {
            return Err(AppError::unusable(
                Some("received_at"),
                "received_at is in the future",
            ));
        }
        let channel = r.channel.as_deref().unwrap_or("desk").trim();
        let note = r.note.as_deref().unwrap_or("").trim();
        if channel.chars().count() > 40 || note.chars().count() > 2000 {
            return Err(AppError::Invalid("channel or note too long".into()));
        }
        let id = self.store.audited(&by.actor, t, |tx| {
            let id = requests::insert(
                tx,
                &requests::NewRequest {
                    applicant_id: applicant_id.0,
                    kind,
                    channel,
                    received_at,
                    ack_due_at: add_working_days(received_at, 2),
                    due_at: add_days(received_at, 15),
                    note,
                    created_by: by.user_id(),
                    office_id: by.office,
                },
            )?;
            tx.record(
                Action::RequestCreate,
                &applicant_id.subject(),
                json!({"request": id, "kind": r.kind, "channel": channel}),
            )?;
            Ok(id)
        })?;
        self.request(by, id)
    }

    /// Request `id`, if it is of `by`'s office (any, for the province).
    pub fn request(&self, by: &Principal, id: i64) -> Result<RequestView, AppError> {
        let row = self
            .store
            .read(|c| requests::get(c, id, by.office))?
            .ok_or_else(|| AppError::NotFound(format!("request {id}")))?;
        Ok(judge(row, now()))
    }

    /// The requests of `by`'s office (all, for the province).
    pub fn list_requests(&self, by: &Principal) -> Result<Vec<RequestView>, AppError> {
        let t = now();
        Ok(self
            .store
            .read(|c| requests::list(c, 500, by.office))?
            .into_iter()
            .map(|r| judge(r, t))
            .collect())
    }

    /// Moves a request on: "acknowledge", "complete" (a withdrawal or deletion purges the
    /// face data) or "reject" (a note saying why is required).
    pub fn advance_request(
        &self,
        by: &Principal,
        id: i64,
        step: &str,
        note: &str,
    ) -> Result<RequestView, AppError> {
        let r = self.request(by, id)?.row;
        let step = Step::parse(step).ok_or_else(|| {
            AppError::Invalid("step must be acknowledge, complete or reject".into())
        })?;
        if !r.status.is_open() {
            return Err(AppError::Conflict(format!(
                "request {id} is already {}",
                r.status.as_str()
            )));
        }
        let (status, action) = match step {
            Step::Acknowledge if r.status == RequestStatus::Received => {
                (RequestStatus::Acknowledged, Action::RequestAcknowledge)
            }
            Step::Acknowledge => return Err(AppError::Conflict("already acknowledged".into())),
            Step::Complete => (RequestStatus::Completed, Action::RequestComplete),
            Step::Reject if note.trim().is_empty() => {
                return Err(AppError::unusable(
                    Some("note"),
                    "say why the request is rejected",
                ))
            }
            Step::Reject => (RequestStatus::Rejected, Action::RequestReject),
        };
        let applicant = ApplicantId(r.applicant_id.unwrap_or_default());
        let t = now();
        if status == RequestStatus::Completed && r.kind.purges() {
            self.purge(
                by,
                applicant,
                PurgeReason::Request,
                &format!("request {id} ({})", r.kind.as_str()),
                t,
            )?;
        }
        self.store.audited(&by.actor, t, |tx| {
            requests::set_status(tx, id, status, note.trim(), t)?;
            tx.record(
                action,
                &applicant.subject(),
                json!({"request": id, "kind": r.kind}),
            )?;
            Ok(())
        })?;
        self.request(by, id)
    }

    /// What is held about the applicant (their own data only). Audited.
    pub fn subject_export(
        &self,
        by: &Principal,
        applicant_id: ApplicantId,
    ) -> Result<SubjectExport, AppError> {
        let a = self.applicant(by, applicant_id)?;
        let subject = applicant_id.subject();
        let (consents, templates, dossiers, activity, reqs) = self.store.read(|c| {
            Ok((
                people::consents(c, applicant_id.0)?,
                people::template_count(c, applicant_id.0)?,
                sql::dossiers_of(c, applicant_id.0)?,
                audit::search(
                    c,
                    &audit::Filter {
                        subject: Some(subject.clone()),
                        limit: Some(10_000),
                        ..Default::default()
                    },
                    by.office,
                )?,
                requests::of_applicant(c, applicant_id.0, by.office)?,
            ))
        })?;
        // An office exports what it holds: its own dossiers and its own staff's and kiosks'
        // entries (the province's export holds everything).
        let dossiers: Vec<_> = dossiers
            .into_iter()
            .filter(|d| super::offices::sees(by, d.office_id))
            .collect();
        let mut activity = activity;
        // The person's dossiers' own entries (status changes, receipts) belong to them too.
        for d in &dossiers {
            activity.extend(self.store.read(|c| {
                audit::search(
                    c,
                    &audit::Filter {
                        subject: Some(d.code.clone()),
                        limit: Some(10_000),
                        ..Default::default()
                    },
                    by.office,
                )
            })?);
        }
        activity.sort_by_key(|e| e.id);
        let export = SubjectExport {
            applicant_id: applicant_id.0,
            full_name: a.full_name.clone(),
            id_number: self.id_number_of(&a).unwrap_or_default(),
            phone: self.phone_of(&a).ok().flatten(),
            registered_at: a.created_at,
            consents: consents
                .into_iter()
                .map(|c| ExportConsent {
                    purpose: c.purpose,
                    text_version: c.text_version,
                    method: c.method,
                    granted_at: c.granted_at,
                    withdrawn_at: c.withdrawn_at,
                })
                .collect(),
            templates,
            biometrics_purged_at: a.biometrics_purged_at,
            dossiers: dossiers
                .iter()
                .map(|d| self.view(d))
                .collect::<Result<_, _>>()?,
            activity,
            requests: reqs,
        };
        self.audit(by, Action::RequestExport, &subject, json!({}))?;
        Ok(export)
    }
}

fn judge(row: requests::RequestRow, t: i64) -> RequestView {
    let open = row.status.is_open();
    RequestView {
        ack_overdue: open && row.acknowledged_at.is_none() && t > row.ack_due_at,
        overdue: open && t > row.due_at,
        row,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp()
    }

    #[test]
    fn working_days_skip_the_weekend() {
        // Thursday 2026-11-19 10:00 → Monday 23:59:59 local.
        let due = add_working_days(at("2026-11-19T10:00:00+07:00"), 2);
        assert_eq!(due, at("2026-11-23T23:59:59+07:00"));
        // Friday evening → Tuesday.
        let due = add_working_days(at("2026-11-20T21:00:00+07:00"), 2);
        assert_eq!(due, at("2026-11-24T23:59:59+07:00"));
        // Late Sunday UTC is already Monday in Vietnam.
        let due = add_working_days(at("2026-11-22T18:00:00Z"), 2);
        assert_eq!(due, at("2026-11-25T23:59:59+07:00"));
    }

    #[test]
    fn fifteen_days_are_calendar_days() {
        let due = add_days(at("2026-11-19T10:00:00+07:00"), 15);
        assert_eq!(due, at("2026-12-04T23:59:59+07:00"));
    }
}
