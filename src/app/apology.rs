//! The office's apology for a late dossier (DESIGN §2, issue 26): the clerk desk lists the
//! office's overdue dossiers, records the apology and a new appointment date in one step
//! (once per dossier, a status event of the same status, audited), and prints the letter
//! "Phiếu xin lỗi và hẹn lại ngày trả kết quả" from a template like the receipt's.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::dossiers::{parse_time, vn_format, EventInput};
use super::requests::add_working_days;
use super::{App, AppError};
use crate::auth::Principal;
use crate::store::audit::Action;
use crate::store::dossiers as sql;
use crate::store::{now, people};

/// Overdue dossiers listed at most (the longest overdue first).
const LISTED: i64 = 200;
/// The new date the desk proposes: this many working days from today.
const PROPOSED_WORKING_DAYS: u32 = 3;
/// The note of the apology's event (the timeline says what happened).
const APOLOGY_NOTE: &str = "Phiếu xin lỗi và hẹn lại ngày trả kết quả";

/// One overdue dossier as the desk lists it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Overdue {
    pub code: String,
    pub procedure: String,
    pub applicant_id: i64,
    pub applicant: String,
    /// The appointment passed (Unix seconds) and by how many days.
    pub due_at: i64,
    pub days_late: i64,
    /// Whether the office already apologised (its one new date passed too).
    pub apologised: bool,
    /// The date the desk proposes for the new appointment (`YYYY-MM-DD`).
    pub proposed: String,
}

/// The apology as a clerk records it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApologyInput {
    /// The new appointment: `YYYY-MM-DD` (end of that day, Vietnam time) or a time.
    pub new_due_at: String,
    /// Why it is late, for the letter (optional, ≤ 300 characters).
    pub reason: Option<String>,
}

impl App {
    /// The overdue dossiers of `by`'s office (every office for a province admin).
    pub fn overdue_dossiers(&self, by: &Principal) -> Result<Vec<Overdue>, AppError> {
        let t = now();
        let proposed = vn_format(add_working_days(t, PROPOSED_WORKING_DAYS), "%Y-%m-%d");
        let rows = self.store.read(|c| sql::overdue(c, t, by.office, LISTED))?;
        rows.into_iter()
            .map(|d| {
                let a = self.store.read(|c| people::applicant(c, d.applicant_id))?;
                Ok(Overdue {
                    applicant: a.map(|a| a.full_name).unwrap_or_default(),
                    applicant_id: d.applicant_id,
                    days_late: (t - d.due_at).max(0) / 86_400,
                    apologised: d.apology_used,
                    proposed: proposed.clone(),
                    due_at: d.due_at,
                    procedure: d.procedure,
                    code: d.code,
                })
            })
            .collect()
    }

    /// Records the office's apology for dossier `code` and its new appointment: an event of
    /// the same status carrying the new date (at most once per dossier, later than the
    /// current one; `dossier.status` in the audit log with the new date).
    pub fn apologise(&self, by: &Principal, code: &str, a: &ApologyInput) -> Result<(), AppError> {
        let d = self.dossier(by, code)?;
        if d.apology_used {
            return Err(AppError::Conflict(
                "the office already apologised and set a new date for this dossier (once)".into(),
            ));
        }
        let reason = a.reason.as_deref().map(str::trim).filter(|r| !r.is_empty());
        if reason.is_some_and(|r| r.chars().count() > 300) {
            return Err(AppError::field("reason", "at most 300 characters"));
        }
        let day = a.new_due_at.trim();
        // A date alone is the end of that day: the citizen may come any time that day.
        let new_due = if day.len() == 10 {
            format!("{day} 23:59:59")
        } else {
            day.to_string()
        };
        parse_time(&new_due).map_err(|e| e.at_field("new_due_at"))?;
        let note = match reason {
            Some(r) => format!("{APOLOGY_NOTE}. Lý do: {r}"),
            None => APOLOGY_NOTE.to_string(),
        };
        let ev = EventInput {
            status: i64::from(d.status),
            at: vn_format(now(), "%Y-%m-%d %H:%M:%S"),
            note: Some(note),
            agency: None,
            new_due_at: Some(new_due),
        };
        let recorded = self.add_event(by, &d.code, &ev).map_err(|e| match e {
            e @ (AppError::Invalid(_) | AppError::Unusable { .. }) => e.at_field("new_due_at"),
            e => e,
        })?;
        if !recorded {
            // The same second as another event of this status: taken as a re-delivery.
            return Err(AppError::Conflict(
                "another change of this dossier was just recorded; try again".into(),
            ));
        }
        Ok(())
    }

    /// The apology letter of dossier `code` as HTML (409 before an apology was recorded),
    /// audited as `apology.print`.
    pub fn apology_letter_html(&self, by: &Principal, code: &str) -> Result<String, AppError> {
        let d = self.dossier(by, code)?;
        let events = self.store.read(|c| sql::events(c, &d.code))?;
        let Some(ev) = events.iter().rev().find(|e| e.new_due_at.is_some()) else {
            return Err(AppError::Conflict(
                "no apology and new date recorded for this dossier".into(),
            ));
        };
        let a = self
            .store
            .read(|c| people::applicant(c, d.applicant_id))?
            .ok_or_else(|| AppError::NotFound(format!("applicant {}", d.applicant_id)))?;
        let o = self.office(d.office_id)?;
        let reason = ev
            .note
            .as_deref()
            .and_then(|n| n.split_once("Lý do: "))
            .map(|(_, r)| r);
        self.audit(by, Action::ApologyPrint, &d.code, json!({}))?;
        super::html::render(&super::html::Apology {
            office: &o.name,
            address: &o.address,
            code: &d.code,
            applicant: &a.full_name,
            procedure: &d.procedure,
            received: vn_format(d.received_at, "%H giờ %M phút, ngày %d/%m/%Y"),
            old_due: vn_format(d.original_due_at, "ngày %d/%m/%Y"),
            new_due: vn_format(ev.new_due_at.unwrap_or(d.due_at), "ngày %d/%m/%Y"),
            written: vn_format(ev.at, "ngày %d tháng %m năm %Y"),
            place: &o.return_place,
            reason,
        })
    }
}
