//! Dossier routes: registration, status, status events, and the printable receipt
//! (Giấy tiếp nhận hồ sơ và hẹn trả kết quả, A5) with its lookup QR code.

use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::{blocking, ApiJson, ApiResult, AppState, Caller, ErrorBody, STAFF};
use crate::app::dossiers::{DossierView, EventInput, ImportError, NewDossierInput, RowError};
use crate::applicant::ApplicantId;
use crate::auth::Role;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewDossierBody {
    code: String,
    applicant_id: i64,
    procedure: String,
    /// When it was received; absent: now, by the server's clock (the receipt's time is
    /// never a desk PC's).
    #[serde(default)]
    received_at: Option<String>,
    due_at: String,
    /// The documents received (names, as printed on the receipt).
    #[serde(default)]
    documents: Vec<String>,
    /// The receiving office's code (a province-wide admin's choice when there are several
    /// offices; absent: the caller's office).
    #[serde(default)]
    office: Option<String>,
}

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
        Json(
            json!({"code": code, "lookup_token": token, "lookup_url": app.lookup_url(&code, &token)}),
        ),
    ))
}

/// A dossier's status and history (no personal data).
#[utoipa::path(get, path = "/api/v1/dossiers/{code}", tag = "dossiers",
    params(("code" = String, Path, description = "Dossier code")),
    security(("bearer" = [])),
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
    params(("code" = String, Path, description = "Dossier code")),
    request_body = EventInput,
    security(("bearer" = [])),
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
    security(("bearer" = [])),
    responses(
        (status = 200, description = "All rows recorded or already present", body = ImportResult),
        (status = 400, description = "Bad header or rows; nothing recorded", body = ImportRejected),
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
        Err(ImportError::Rows(rows)) => (
            axum::http::StatusCode::BAD_REQUEST,
            Json(ImportRejected {
                error: "invalid",
                message: format!("{} row(s) have errors; nothing was imported", rows.len()),
                rows,
            }),
        )
            .into_response(),
        Err(ImportError::Header(h)) => {
            return Err(crate::app::AppError::Invalid(format!("CSV header: {h}")).into())
        }
        Err(ImportError::Store(s)) => return Err(crate::app::AppError::Internal(s).into()),
    })
}

/// A CSV import refused: the rows that are wrong (line numbers count the header as 1).
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ImportRejected {
    error: &'static str,
    message: String,
    rows: Vec<RowError>,
}

/// The printable receipt (form 01): rendered by the app, audited as `receipt.print`.
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
pub async fn overdue(State(app): State<AppState>, caller: Caller) -> ApiResult<impl IntoResponse> {
    let p = caller.require(STAFF)?.clone();
    Ok(Json(blocking(move || app.overdue_dossiers(&p)).await?))
}

/// Largest CSV import body (about 40 000 rows).
pub const IMPORT_LIMIT: usize = 4 * 1024 * 1024;

/// `POST /api/v1/dossiers/{code}/unlock`: a clerk unlocks a code the kiosks' keypads locked
/// (its misses on every kiosk forgotten; audited). `{unlocked: what was cleared, or null}`.
pub async fn unlock(
    State(app): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let p = caller.require(super::STAFF)?.clone();
    let cleared = super::blocking(move || app.unlock_code(&p, &code)).await?;
    Ok(Json(serde_json::json!({"unlocked": cleared})))
}
