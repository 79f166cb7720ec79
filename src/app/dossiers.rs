//! Dossiers: registration at intake (with the receipt's lookup token), status events from
//! clerks and the one-stop software, the CSV import (all rows or none), and the views the
//! receipt and the kiosk show.

use crate::store::audit::{Action, AuditedTx};
use chrono::Datelike;
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde::Serialize;
use serde_json::json;

use super::offices::sees;
use super::{App, AppError};
use crate::applicant::ApplicantId;
use crate::auth::{Principal, Role};
use crate::crypto::{random_token, sha256_hex};
use crate::dossier::{self, Status};
use crate::store::{dossiers as sql, now, DossierRow, NewDossier, NewEvent, StoreError};

/// Vietnam's offset (no daylight saving).
pub fn vn() -> FixedOffset {
    FixedOffset::east_opt(7 * 3600).expect("valid offset")
}

/// Unix seconds `t` in Vietnam time, formatted with `fmt` (chrono's strftime); empty when
/// out of range.
pub fn vn_format(t: i64, fmt: &str) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|t| t.with_timezone(&vn()).format(fmt).to_string())
        .unwrap_or_default()
}

/// Years a dossier time may fall in (anything else is a typo or an attack on sorting).
pub const YEARS: std::ops::RangeInclusive<i32> = 1990..=2100;

/// RFC 3339, or `YYYY-MM-DD HH:MM[:SS]` / `YYYY-MM-DD` in Vietnam time, in [`YEARS`].
pub fn parse_time(s: &str) -> Result<DateTime<Utc>, AppError> {
    let t = parse_any_time(s.trim())?;
    if !YEARS.contains(&t.with_timezone(&vn()).year()) {
        return Err(AppError::unusable(
            None,
            format!(
                "time {:?} is outside the years {}–{}",
                s.trim(),
                YEARS.start(),
                YEARS.end()
            ),
        ));
    }
    Ok(t)
}

fn parse_any_time(s: &str) -> Result<DateTime<Utc>, AppError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    for f in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(n) = NaiveDateTime::parse_from_str(s, f) {
            if let Some(t) = vn().from_local_datetime(&n).single() {
                return Ok(t.with_timezone(&Utc));
            }
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        if let Some(t) = d
            .and_hms_opt(17, 0, 0)
            .and_then(|n| vn().from_local_datetime(&n).single())
        {
            return Ok(t.with_timezone(&Utc));
        }
    }
    Err(AppError::unusable(
        None,
        format!("time {s:?} is not RFC 3339 (2026-11-22T09:30:00+07:00) or YYYY-MM-DD[ HH:MM]"),
    ))
}

fn ts(t: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(t, 0).single().unwrap_or_default()
}

/// One step of a dossier's history.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TimelineStep {
    /// Status code 1–10 (DESIGN.md §2).
    pub status: u8,
    pub status_text: &'static str,
    pub status_text_en: &'static str,
    pub at: String,
    pub note: Option<String>,
    pub agency: Option<String>,
}

/// A dossier as shown to a person (receipt, clerk, kiosk). No personal data.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DossierView {
    /// The dossier code, e.g. `000.00.17.H29-261110-0002`.
    pub code: String,
    pub procedure: String,
    pub status: u8,
    pub status_text: &'static str,
    pub status_text_en: &'static str,
    pub received_at: String,
    pub due_at: String,
    pub overdue: bool,
    pub moved_with_apology: bool,
    pub closed: bool,
    pub agency: Option<String>,
    pub timeline: Vec<TimelineStep>,
    /// The receiving office (where results are returned).
    #[serde(skip)]
    pub office_id: i64,
}

/// A status event to record (from a clerk, the one-stop software, or a CSV row).
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"status": 4, "at": "2026-11-30T09:05:00+07:00", "note": "Chuyển phòng Tài nguyên và Môi trường", "agency": "Phòng TN&MT"}))]
pub struct EventInput {
    /// Status code 1–10 (DESIGN.md §2): 1 received … 10 returned.
    #[schema(minimum = 1, maximum = 10)]
    pub status: i64,
    /// When it happened: RFC 3339 (`2026-11-30T09:05:00+07:00`), or `YYYY-MM-DD HH:MM[:SS]`
    /// / `YYYY-MM-DD` in Vietnam time; years 1990–2100.
    pub at: String,
    pub note: Option<String>,
    /// The agency handling the dossier at this step.
    pub agency: Option<String>,
    /// A new appointment date (the apology letter's new date, once per dossier), same
    /// formats as `at`.
    pub new_due_at: Option<String>,
}

/// A dossier to register, as the desk or the one-stop software gives it.
#[derive(Debug, Clone, Copy)]
pub struct NewDossierInput<'a> {
    pub code: &'a str,
    pub applicant_id: ApplicantId,
    pub procedure: &'a str,
    pub received_at: &'a str,
    pub due_at: &'a str,
    /// The documents received (names, as printed on the receipt).
    pub documents: &'a [String],
    /// The receiving office's code, for a province-wide caller when there are several
    /// offices (None: the caller's office).
    pub office: Option<&'a str>,
}

impl App {
    /// Registers a dossier; returns its code and the receipt's lookup token.
    pub fn create_dossier(
        &self,
        by: &Principal,
        input: NewDossierInput,
    ) -> Result<(String, String), AppError> {
        let NewDossierInput {
            code,
            applicant_id,
            procedure,
            received_at,
            due_at,
            documents,
            office,
        } = input;
        let office_id = self
            .office_for_new(by, Role::Clerk, office)?
            .ok_or_else(|| AppError::unusable(Some("office"), "a dossier belongs to one office"))?;
        let documents = documents_json(documents)?;
        let code = self
            .codes
            .check(code)
            .map_err(|e| AppError::from(e).at_field("code"))?;
        self.code_of_office(&code, office_id)?;
        let procedure = procedure.trim();
        if procedure.is_empty() || procedure.chars().count() > 300 {
            return Err(AppError::field(
                "procedure",
                "procedure name is required (at most 300 characters)",
            ));
        }
        let (received, due) = appointment(received_at, due_at)?;
        self.applicant(by, applicant_id)?;
        let token = random_token()?;
        let token_enc = self
            .keys
            .seal_field(token.as_bytes(), &format!("lookup:{code}"))?;
        let t = now();
        self.store.audited(&by.actor, t, |tx| {
            sql::insert_dossier(
                tx,
                &NewDossier {
                    code: &code,
                    applicant_id: applicant_id.0,
                    procedure,
                    received_at: received.timestamp(),
                    due_at: due.timestamp(),
                    status: dossier::Status::Received.code(),
                    lookup_token_enc: &token_enc,
                    lookup_token_hash: &sha256_hex(token.as_bytes()),
                    created_by: by.user_id(),
                    documents: &documents,
                    office_id,
                    actor: &by.actor,
                    now: t,
                },
            )?;
            tx.record(
                Action::DossierCreate,
                &code,
                json!({"applicant": applicant_id, "office": office_id}),
            )?;
            Ok(())
        })?;
        self.dossiers_changed();
        Ok((code, token))
    }

    /// Refuses a new code of `office` numbered for another office: one that starts with
    /// another office's prefix, or (when `office` has a prefix) not with its own. The answer
    /// depends on the code alone, never on whether another office holds it.
    fn code_of_office(&self, code: &str, office: i64) -> Result<(), AppError> {
        let all = self.offices(&Principal::operator("codes"))?;
        let own = all
            .iter()
            .find(|o| o.id == office)
            .map(|o| o.code_prefix.to_ascii_uppercase())
            .unwrap_or_default();
        let others = all.iter().filter(|o| o.id != office).any(|o| {
            let p = o.code_prefix.to_ascii_uppercase();
            !p.is_empty() && code.starts_with(&p) && p.len() > own.len()
        });
        if others || !code.starts_with(&own) {
            return Err(AppError::field(
                "code",
                if own.is_empty() {
                    "this code is numbered for another office".to_string()
                } else {
                    format!("a dossier code of this office starts with {own}")
                },
            ));
        }
        Ok(())
    }

    /// A dossier `by` may see (another office's is "not found", as if it did not exist).
    pub fn dossier(&self, by: &Principal, code: &str) -> Result<DossierRow, AppError> {
        let code = self.codes.check(code).map_err(AppError::from)?;
        self.store
            .read(|c| sql::dossier(c, &code))?
            .filter(|d| sees(by, d.office_id))
            .ok_or_else(|| AppError::NotFound(format!("dossier {code}")))
    }

    /// The receipt's lookup token (decrypted) for reprinting.
    pub fn lookup_token(&self, d: &DossierRow) -> Result<String, AppError> {
        let t = self
            .keys
            .open_field(&d.lookup_token_enc, &format!("lookup:{}", d.code))?;
        String::from_utf8(t).map_err(|_| AppError::Internal("damaged lookup token".into()))
    }

    /// The URL encoded in the receipt's QR code: the configured public address; in the demo
    /// with none configured, the address the demo is actually served at (a phone or the
    /// kiosk on this machine opens it).
    pub fn lookup_url(&self, code: &str, token: &str) -> String {
        let configured = &self.config.office.public_url;
        let base = match self.served_at.get() {
            Some(served)
                if self.demo
                    && *configured == crate::config::OfficeConfig::default().public_url =>
            {
                served
            }
            _ => configured,
        };
        format!(
            "{}/tra-cuu?ma={}&t={}",
            base.trim_end_matches('/'),
            code,
            token
        )
    }

    /// Records one status event. Returns false when it was already recorded (idempotent).
    pub fn add_event(&self, by: &Principal, code: &str, ev: &EventInput) -> Result<bool, AppError> {
        let code = self.codes.check(code).map_err(AppError::from)?;
        let t = now();
        let r = self
            .store
            .audited_with(&by.actor, t, |tx| apply_event(tx, &code, ev, by.office))
            .map_err(|e| match e {
                EventError::App(a) => a,
                EventError::Store(s) => s.into(),
            });
        self.dossiers_changed();
        r
    }

    pub fn view(&self, d: &DossierRow) -> Result<DossierView, AppError> {
        let events = self.store.read(|c| sql::events(c, &d.code))?;
        let st = Status::stored(d.status);
        let fmt = |t: i64| ts(t).with_timezone(&vn()).to_rfc3339();
        Ok(DossierView {
            code: d.code.clone(),
            procedure: d.procedure.clone(),
            status: d.status,
            status_text: st.text_vi(),
            status_text_en: st.text_en(),
            received_at: fmt(d.received_at),
            due_at: fmt(d.due_at),
            overdue: dossier::is_overdue(st, ts(d.due_at), Utc::now()),
            moved_with_apology: d.apology_used,
            closed: st.is_closed(),
            agency: d.agency.clone(),
            timeline: events
                .into_iter()
                .map(|e| TimelineStep {
                    status: e.status,
                    status_text: Status::stored(e.status).text_vi(),
                    status_text_en: Status::stored(e.status).text_en(),
                    at: fmt(e.at),
                    note: e.note,
                    agency: e.agency,
                })
                .collect(),
            office_id: d.office_id,
        })
    }

    /// Imports status events from CSV; see [`import_csv`].
    pub fn import_csv(&self, by: &Principal, data: &[u8]) -> Result<(usize, usize), ImportError> {
        let r = import_csv(&self.store, &self.codes, &by.actor, by.office, data);
        self.dossiers_changed();
        r
    }
}

/// Imports status events from CSV (`code,status,at,note,agency,new_due_at`, header
/// required). Every row is checked in one transaction; any error rolls all back. Needs only
/// the store (no face models). Returns (applied, already present).
pub fn import_csv(
    store: &crate::store::Store,
    codes: &crate::dossier::CodeFormat,
    actor: &str,
    scope: Option<i64>,
    data: &[u8],
) -> Result<(usize, usize), ImportError> {
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(data);
    let headers = rdr
        .headers()
        .map_err(|e| ImportError::Header(e.to_string()))?
        .clone();
    for need in ["code", "status", "at"] {
        if !headers.iter().any(|h| h == need) {
            return Err(ImportError::Header(format!("missing column {need:?}")));
        }
    }
    let cols = Columns::of(&headers);
    let t = now();
    let mut errors = Vec::new();
    let mut applied = 0;
    let mut dup = 0;
    let res = store.audited_with(actor, t, |tx| {
        for (i, rec) in rdr.records().enumerate() {
            let line = i + 2;
            let rec = match rec {
                Ok(r) => r,
                Err(e) => {
                    errors.push(RowError {
                        line,
                        message: e.to_string(),
                    });
                    continue;
                }
            };
            let (code, ev) = match cols.row(&rec, codes) {
                Ok(row) => row,
                Err(message) => {
                    errors.push(RowError { line, message });
                    continue;
                }
            };
            match apply_event(tx, &code, &ev, scope) {
                Ok(true) => applied += 1,
                Ok(false) => dup += 1,
                Err(EventError::App(e)) => errors.push(RowError {
                    line,
                    message: e.to_string(),
                }),
                Err(EventError::Store(e)) => return Err(Abort::Store(e)),
            }
        }
        if !errors.is_empty() {
            // Roll back: nothing of a file with errors is imported.
            return Err(Abort::Rows);
        }
        tx.record(
            Action::StatusImport,
            "csv",
            json!({"applied": applied, "duplicates": dup}),
        )?;
        Ok::<(), Abort>(())
    });
    match res {
        Ok(()) => Ok((applied, dup)),
        Err(Abort::Rows) => Err(ImportError::Rows(errors)),
        Err(Abort::Store(e)) => Err(ImportError::Store(e.to_string())),
    }
}

/// The documents listed on a receipt, trimmed, as stored (a JSON list).
fn documents_json(documents: &[String]) -> Result<String, AppError> {
    let documents: Vec<&str> = documents
        .iter()
        .map(|d| d.trim())
        .filter(|d| !d.is_empty())
        .collect();
    if documents.len() > 30 || documents.iter().any(|d| d.chars().count() > 200) {
        return Err(AppError::field(
            "documents",
            "at most 30 documents, each at most 200 characters",
        ));
    }
    Ok(serde_json::to_string(&documents).unwrap_or_else(|_| "[]".into()))
}

/// When a dossier was received and is due, the appointment after the receipt.
fn appointment(
    received_at: &str,
    due_at: &str,
) -> Result<(DateTime<Utc>, DateTime<Utc>), AppError> {
    let received = parse_time(received_at).map_err(|e| e.at_field("received_at"))?;
    let due = parse_time(due_at).map_err(|e| e.at_field("due_at"))?;
    if due <= received {
        return Err(AppError::from(dossier::DossierError::DueBeforeReceived).at_field("due_at"));
    }
    Ok((received, due))
}

/// Where a status CSV keeps each field (header names; `code`, `status`, `at` required).
struct Columns {
    code: usize,
    status: usize,
    at: usize,
    note: Option<usize>,
    agency: Option<usize>,
    due: Option<usize>,
}

impl Columns {
    fn of(headers: &csv::StringRecord) -> Self {
        let col = |name: &str| headers.iter().position(|h| h == name);
        Self {
            code: col("code").unwrap_or(0),
            status: col("status").unwrap_or(1),
            at: col("at").unwrap_or(2),
            note: col("note"),
            agency: col("agency"),
            due: col("new_due_at"),
        }
    }

    /// One row's dossier code and event, or what is wrong with it.
    fn row(
        &self,
        rec: &csv::StringRecord,
        codes: &crate::dossier::CodeFormat,
    ) -> Result<(String, EventInput), String> {
        let get = |c: Option<usize>| {
            c.and_then(|c| rec.get(c))
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        let status = rec
            .get(self.status)
            .unwrap_or("")
            .parse::<i64>()
            .map_err(|_| "status must be a number from 1 to 10".to_string())?;
        let ev = EventInput {
            status,
            at: rec.get(self.at).unwrap_or("").to_string(),
            note: get(self.note),
            agency: get(self.agency),
            new_due_at: get(self.due),
        };
        let code = codes
            .check(rec.get(self.code).unwrap_or(""))
            .map_err(|e| e.to_string())?;
        Ok((code, ev))
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RowError {
    pub line: usize,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("CSV header: {0} (expected columns code,status,at[,note,agency,new_due_at])")]
    Header(String),
    #[error("{} row(s) have errors; nothing was imported", .0.len())]
    Rows(Vec<RowError>),
    #[error("database: {0}")]
    Store(String),
}

enum EventError {
    App(AppError),
    Store(StoreError),
}

impl From<StoreError> for EventError {
    fn from(e: StoreError) -> Self {
        EventError::Store(e)
    }
}

/// Why an import transaction was rolled back.
enum Abort {
    Rows,
    Store(StoreError),
}

impl From<StoreError> for Abort {
    fn from(e: StoreError) -> Self {
        Abort::Store(e)
    }
}

/// Validates and applies one event inside `tx`.
/// Records `ev` on dossier `code` if it is in `scope` (another office's is "not found").
fn apply_event(
    tx: &AuditedTx,
    code: &str,
    ev: &EventInput,
    scope: Option<i64>,
) -> Result<bool, EventError> {
    let (actor, t) = (tx.actor(), tx.at());
    let app = |e: AppError| EventError::App(e);
    let status = Status::new(ev.status).map_err(|e| app(AppError::Invalid(e.to_string())))?;
    let at = parse_time(&ev.at).map_err(app)?;
    let new_due = ev
        .new_due_at
        .as_deref()
        .map(parse_time)
        .transpose()
        .map_err(app)?;
    let d = sql::dossier(tx, code)?
        .filter(|d| scope.is_none_or(|o| o == d.office_id))
        .ok_or_else(|| app(AppError::NotFound(format!("dossier {code}"))))?;
    let note = ev.note.as_deref().map(str::trim).filter(|n| !n.is_empty());
    let agency = ev
        .agency
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    if note.is_some_and(|n| n.chars().count() > 500)
        || agency.is_some_and(|a| a.chars().count() > 200)
    {
        return Err(app(AppError::Invalid(
            "note (500) or agency (200 characters) too long".into(),
        )));
    }
    // Re-delivery of an event already recorded changes nothing.
    if sql::event_recorded(tx, code, status.code(), at.timestamp())? {
        return Ok(false);
    }
    let state = dossier::State {
        status: Status::stored(d.status),
        received_at: ts(d.received_at),
        due_at: ts(d.due_at),
        original_due_at: ts(d.original_due_at),
        apology_used: d.apology_used,
    };
    let ch = dossier::apply(&state, status, at, new_due)
        .map_err(|e| app(AppError::Conflict(e.to_string())))?;
    sql::insert_event(
        tx,
        &NewEvent {
            code,
            status: status.code(),
            at: at.timestamp(),
            note,
            agency,
            new_due_at: new_due.map(|d| d.timestamp()),
            actor,
            now: t,
        },
    )?;
    sql::update_state(
        tx,
        code,
        status.code(),
        ch.due_at.timestamp(),
        ch.apology_used,
        agency,
        t,
    )?;
    tx.record(
        Action::DossierStatus,
        code,
        json!({"from": d.status, "to": status.code(), "new_due_at": new_due.map(|d| d.timestamp())}),
    )?;
    Ok(true)
}
