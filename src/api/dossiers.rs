//! Dossier routes: registration, status, status events, and the printable receipt
//! (Giấy tiếp nhận hồ sơ và hẹn trả kết quả, A5) with its lookup QR code.

use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse};
use axum::Json;
use serde::Deserialize;

use super::{blocking, ApiJson, ApiResult, AppState, Caller, ErrorBody, STAFF};
use crate::app::dossiers::{DossierView, EventInput, ImportError, NewDossierInput, RowError};
use crate::applicant::ApplicantId;
use crate::auth::Role;

/// A dossier received at the desk.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDossierBody {
    /// The dossier code (the office's pattern).
    #[schema(
        pattern = r"^[0-9]{3}\.[0-9]{2}\.[0-9]{2}\.[A-Za-z][0-9]{2}-[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])-[0-9]{4}$",
        example = "000.00.17.H29-261110-0002"
    )]
    code: String,
    applicant_id: i64,
    /// The administrative procedure's name.
    #[schema(min_length = 1, max_length = 300)]
    procedure: String,
    /// When it was received; absent: now, by the server's clock (the receipt's time is
    /// never a desk PC's).
    #[serde(default)]
    #[schema(max_length = 40, example = "2026-11-10 09:00")]
    received_at: Option<String>,
    /// The appointment (RFC 3339 or Vietnam local `YYYY-MM-DD[ HH:MM[:SS]]`).
    #[schema(max_length = 40, example = "2026-11-24 16:00")]
    due_at: String,
    /// The documents received (names, as printed on the receipt).
    #[serde(default)]
    #[schema(max_items = 50)]
    documents: Vec<String>,
    /// The receiving office's code (a province-wide admin's choice when there are several
    /// offices; absent: the caller's office).
    #[serde(default)]
    office: Option<String>,
}

/// A dossier registered: its code and the receipt QR's look-up link.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct DossierCreated {
    code: String,
    lookup_token: String,
    lookup_url: String,
}

/// `POST /api/v1/dossiers`: registers a dossier for an applicant (staff; audited).
#[utoipa::path(post, path = "/api/v1/dossiers", tag = "dossiers",
    request_body = NewDossierBody,
    security(("session" = [], "csrf" = [])),
    responses((status = 201, description = "Registered", body = DossierCreated),
        (status = 409, description = "The code exists already", body = ErrorBody),
        (status = 422, description = "Dates that cannot be (a code's date, due before received …)", body = ErrorBody)))]
pub async fn create(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(b): ApiJson<NewDossierBody>,
) -> ApiResult<impl IntoResponse> {
    let p = caller.require(STAFF)?.clone();
    let a = app.clone();
    let office = b.office;
    let received = b.received_at.clone().unwrap_or_else(|| {
        crate::app::dossiers::vn_format(crate::store::now(), "%Y-%m-%d %H:%M:%S")
    });
    let (code, token) = blocking(move || {
        a.create_dossier(
            &p,
            NewDossierInput {
                code: &b.code,
                applicant_id: ApplicantId(b.applicant_id),
                procedure: &b.procedure,
                received_at: &received,
                due_at: &b.due_at,
                documents: &b.documents,
                office: office.as_deref(),
            },
        )
    })
    .await?;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(DossierCreated {
            lookup_url: app.lookup_url(&code, &token),
            code,
            lookup_token: token,
        }),
    ))
}

/// A dossier's status and history (no personal data).
#[utoipa::path(get, path = "/api/v1/dossiers/{code}", tag = "dossiers",
    params(("code" = String, Path, pattern = r"^[0-9]{3}\.[0-9]{2}\.[0-9]{2}\.[A-Za-z][0-9]{2}-[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])-[0-9]{4}$", description = "Dossier code (the office's pattern; letters in any case)")),
    security(("integration" = []), ("session" = [])),
    responses(
        (status = 200, description = "The dossier", body = DossierView),
        (status = 401, description = "No or unknown token", body = ErrorBody),
        (status = 404, description = "No such dossier", body = ErrorBody),
    ))]
pub async fn get(
    State(app): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let p = caller
        .require(&[Role::Clerk, Role::Admin, Role::Integration])?
        .clone();
    Ok(Json(
        blocking(move || app.view(&app.dossier(&p, &code)?)).await?,
    ))
}

/// Records a status event. Idempotent: the same (status, time) again is not recorded
/// twice (200 with `recorded: false`), so a retry after a lost response is safe.
#[utoipa::path(post, path = "/api/v1/dossiers/{code}/events", tag = "dossiers",
    params(("code" = String, Path, pattern = r"^[0-9]{3}\.[0-9]{2}\.[0-9]{2}\.[A-Za-z][0-9]{2}-[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])-[0-9]{4}$", description = "Dossier code (the office's pattern; letters in any case)")),
    request_body = EventInput,
    security(("integration" = []), ("session" = [], "csrf" = [])),
    responses(
        (status = 201, description = "Recorded", body = EventRecorded),
        (status = 200, description = "Already recorded before; nothing changed", body = EventRecorded),
        (status = 400, description = "Invalid event (status, time, order)", body = ErrorBody),
        (status = 401, description = "No or unknown token", body = ErrorBody),
        (status = 404, description = "No such dossier", body = ErrorBody),
        (status = 409, description = "Not allowed after the dossier's current status", body = ErrorBody),
    ))]
pub async fn add_event(
    State(app): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    ApiJson(ev): ApiJson<EventInput>,
) -> ApiResult<impl IntoResponse> {
    let p = caller
        .require(&[Role::Clerk, Role::Admin, Role::Integration])?
        .clone();
    let (recorded, view) = blocking(move || {
        let recorded = app.add_event(&p, &code, &ev)?;
        Ok((recorded, app.view(&app.dossier(&p, &code)?)?))
    })
    .await?;
    Ok((
        if recorded {
            axum::http::StatusCode::CREATED
        } else {
            axum::http::StatusCode::OK
        },
        Json(EventRecorded {
            recorded,
            dossier: view,
        }),
    ))
}

/// The answer to a status event.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct EventRecorded {
    /// False when the same event was recorded before.
    recorded: bool,
    dossier: DossierView,
}

/// The answer to a CSV import.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ImportResult {
    /// Rows recorded now.
    applied: usize,
    /// Rows recorded before (skipped).
    already_present: usize,
}

/// Imports status events as CSV (`code,status,at[,note,agency,new_due_at]`, header row
/// required; the same columns as `hoso import-status`): every row or none — a file with any
/// bad row records nothing and lists the bad rows.
#[utoipa::path(post, path = "/api/v1/dossiers/events.csv", tag = "dossiers",
    request_body(content = String, content_type = "text/csv",
        example = "code,status,at,note\n000.00.17.H29-261110-0002,4,2026-11-30 09:05,Chuyển phòng TN&MT\n"),
    security(("integration" = []), ("session" = [], "csrf" = [])),
    responses(
        (status = 200, description = "All rows recorded or already present", body = ImportResult),
        (status = 422, description = "Bad header or rows; nothing recorded", body = ImportRejected),
        (status = 401, description = "No or unknown token", body = ErrorBody),
    ))]
pub async fn import(
    State(app): State<AppState>,
    caller: Caller,
    body: axum::body::Bytes,
) -> ApiResult<axum::response::Response> {
    let p = caller.require(&[Role::Admin, Role::Integration])?.clone();
    let out = blocking(move || Ok(app.import_csv(&p, &body))).await?;
    Ok(match out {
        Ok((applied, already_present)) => Json(ImportResult {
            applied,
            already_present,
        })
        .into_response(),
        Err(ImportError::Rows(rows)) => rejected(
            format!("{} row(s) have errors; nothing was imported", rows.len()),
            rows,
        ),
        Err(ImportError::Header(h)) => rejected(format!("CSV header: {h}"), Vec::new()),
        Err(ImportError::Store(s)) => return Err(crate::app::AppError::Internal(s).into()),
    })
}

/// A CSV import refused: the rows that are wrong (line numbers count the header as 1;
/// none when the header itself is wrong).
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ImportRejected {
    /// `unusable`
    error: &'static str,
    message: String,
    rows: Vec<RowError>,
}

/// 422 with the import's faults: nothing was recorded.
fn rejected(message: String, rows: Vec<RowError>) -> axum::response::Response {
    (
        axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        Json(ImportRejected {
            error: "unusable",
            message,
            rows,
        }),
    )
        .into_response()
}

/// The printable receipt (form 01): rendered by the app, audited as `receipt.print`.
#[utoipa::path(get, path = "/api/v1/dossiers/{code}/receipt", tag = "dossiers",
    params(("code" = String, Path, pattern = r"^[0-9]{3}\.[0-9]{2}\.[0-9]{2}\.[A-Za-z][0-9]{2}-[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])-[0-9]{4}$", description = "Dossier code (the office's pattern; letters in any case)")),
    security(("session" = [])),
    responses((status = 200, description = "The printable receipt", body = String, content_type = "text/html")))]
pub async fn receipt(
    State(app): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let p = caller.require(STAFF)?.clone();
    Ok(Html(blocking(move || app.receipt_html(&p, &code)).await?))
}

/// `POST /api/v1/dossiers/{code}/apology`: the office apologises for a late dossier and
/// sets its new appointment (once per dossier; audited as a status event).
#[utoipa::path(post, path = "/api/v1/dossiers/{code}/apology", tag = "dossiers",
    params(("code" = String, Path, pattern = r"^[0-9]{3}\.[0-9]{2}\.[0-9]{2}\.[A-Za-z][0-9]{2}-[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])-[0-9]{4}$", description = "Dossier code (the office's pattern; letters in any case)")),
    request_body = crate::app::apology::ApologyInput,
    security(("session" = [], "csrf" = [])),
    responses((status = 201, description = "The dossier with its new appointment", body = DossierView),
        (status = 409, description = "Not late, closed, or apologised for already", body = ErrorBody),
        (status = 422, description = "A new appointment that cannot be", body = ErrorBody)))]
pub async fn apologise(
    State(app): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    ApiJson(b): ApiJson<crate::app::apology::ApologyInput>,
) -> ApiResult<impl IntoResponse> {
    let p = caller.require(STAFF)?.clone();
    let a = app.clone();
    let c = code.clone();
    blocking(move || a.apologise(&p, &c, &b)).await?;
    let p = caller.require(STAFF)?.clone();
    let view = blocking(move || {
        let d = app.dossier(&p, &code)?;
        app.view(&d)
    })
    .await?;
    Ok((axum::http::StatusCode::CREATED, Json(view)))
}

/// `GET /api/v1/dossiers/{code}/apology`: the printable apology letter (Phiếu xin lỗi và
/// hẹn lại ngày trả kết quả), audited as `apology.print`.
#[utoipa::path(get, path = "/api/v1/dossiers/{code}/apology", tag = "dossiers",
    params(("code" = String, Path, pattern = r"^[0-9]{3}\.[0-9]{2}\.[0-9]{2}\.[A-Za-z][0-9]{2}-[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])-[0-9]{4}$", description = "Dossier code (the office's pattern; letters in any case)")),
    security(("session" = [])),
    responses((status = 200, description = "The printable letter", body = String, content_type = "text/html")))]
pub async fn apology_letter(
    State(app): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let p = caller.require(STAFF)?.clone();
    Ok(Html(
        blocking(move || app.apology_letter_html(&p, &code)).await?,
    ))
}

/// `GET /api/v1/desk/overdue`: the office's overdue dossiers, longest overdue first.
#[utoipa::path(get, path = "/api/v1/desk/overdue", tag = "desk",
    security(("session" = [])),
    responses((status = 200, description = "Overdue dossiers", body = Vec<crate::app::apology::Overdue>)))]
pub async fn overdue(State(app): State<AppState>, caller: Caller) -> ApiResult<impl IntoResponse> {
    let p = caller.require(STAFF)?.clone();
    Ok(Json(blocking(move || app.overdue_dossiers(&p)).await?))
}

/// Largest CSV import body (about 40 000 rows).
pub const IMPORT_LIMIT: usize = 4 * 1024 * 1024;

/// `POST /api/v1/dossiers/{code}/unlock`: a clerk unlocks a code the kiosks' keypads locked
/// (its misses on every kiosk forgotten; audited). `{unlocked: what was cleared, or null}`.
#[utoipa::path(post, path = "/api/v1/dossiers/{code}/unlock", tag = "desk",
    params(("code" = String, Path, pattern = r"^[0-9]{3}\.[0-9]{2}\.[0-9]{2}\.[A-Za-z][0-9]{2}-[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])-[0-9]{4}$", description = "Dossier code (the office's pattern; letters in any case)")),
    security(("session" = [], "csrf" = [])),
    responses((status = 200, description = "What was cleared (none: it was not locked)", body = Unlocked)))]
pub async fn unlock(
    State(app): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let p = caller.require(super::STAFF)?.clone();
    let cleared = super::blocking(move || app.unlock_code(&p, &code)).await?;
    Ok(Json(Unlocked { unlocked: cleared }))
}

/// A code's keypad lock cleared.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Unlocked {
    unlocked: Option<crate::app::unlock::CodeLock>,
}
