//! Admin routes (`/api/v1/admin/…`, admin sessions only; `/metrics` also for integration
//! tokens): settings, accounts, devices, the consent register and purges, data-subject
//! requests and their export, retention, backups, the audit viewer and statistics.

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::{blocking, ApiError, ApiJson, ApiResult, AppState, Caller};
use crate::app::admin::Settings;
use crate::app::requests::NewRequest;
use crate::app::retention::PurgeReason;
use crate::app::AppError;
use crate::applicant::ApplicantId;
use crate::auth::{Principal, Role};
use crate::store::audit::Filter;

const ADMIN: &[Role] = &[Role::Admin];

fn admin(caller: &Caller) -> ApiResult<Principal> {
    caller.require(ADMIN).cloned()
}

/// An admin who acts for every office (settings, retention, backups, the whole audit chain).
fn province_admin(caller: &Caller) -> Result<Principal, ApiError> {
    let p = admin(caller)?;
    crate::app::offices::province_only(&p)?;
    Ok(p)
}

pub async fn get_settings(
    State(app): State<AppState>,
    caller: Caller,
) -> ApiResult<impl IntoResponse> {
    let p = admin(&caller)?;
    Ok(Json(
        blocking(move || Ok(app.settings_view(p.office))).await?,
    ))
}

pub async fn put_settings(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(s): ApiJson<Settings>,
) -> ApiResult<impl IntoResponse> {
    let p = province_admin(&caller)?;
    Ok(Json(blocking(move || app.update_settings(&p, s)).await?))
}

pub async fn list_users(
    State(app): State<AppState>,
    caller: Caller,
) -> ApiResult<impl IntoResponse> {
    let p = admin(&caller)?;
    Ok(Json(blocking(move || app.list_users(&p)).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    username: String,
    password: String,
    role: String,
    /// The name printed on receipts ("Nguyễn Thị Lan"); the username when absent.
    #[serde(default)]
    display_name: Option<String>,
    /// The office's code ("" = every office, for an admin); absent: the creator's office.
    #[serde(default)]
    office: Option<String>,
}

pub async fn create_user(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(u): ApiJson<NewUser>,
) -> ApiResult<impl IntoResponse> {
    let p = admin(&caller)?;
    let role = Role::parse(&u.role)
        .filter(|r| r.is_person())
        .ok_or_else(|| AppError::Invalid("role must be clerk or admin".into()))?;
    let id = blocking(move || {
        let id = app.create_user(&p, &u.username, &u.password, role, u.office.as_deref())?;
        if let Some(name) = u.display_name.as_deref() {
            app.set_display_name(&p, id, Some(name))?;
        }
        Ok::<_, AppError>(id)
    })
    .await?;
    Ok((axum::http::StatusCode::CREATED, Json(json!({"id": id}))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserChange {
    #[serde(default)]
    active: Option<bool>,
    #[serde(default)]
    password: Option<String>,
    /// The name printed on receipts; an empty string prints the username again.
    #[serde(default)]
    display_name: Option<String>,
}

pub async fn update_user(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    ApiJson(c): ApiJson<UserChange>,
) -> ApiResult<impl IntoResponse> {
    let p = admin(&caller)?;
    blocking(move || {
        if c.active.is_some() || c.password.is_some() {
            app.update_user(&p, id, c.active, c.password.as_deref())?;
        }
        if let Some(name) = c.display_name.as_deref() {
            app.set_display_name(&p, id, Some(name))?;
        }
        Ok::<_, AppError>(())
    })
    .await?;
    Ok(Json(json!({"ok": true})))
}

pub async fn list_devices(
    State(app): State<AppState>,
    caller: Caller,
) -> ApiResult<impl IntoResponse> {
    let p = admin(&caller)?;
    Ok(Json(blocking(move || app.list_devices(&p)).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewDevice {
    role: String,
    name: String,
    /// The office's code ("" = every office, for an integration token); absent: the
    /// creator's office.
    #[serde(default)]
    office: Option<String>,
}

pub async fn issue_device(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(d): ApiJson<NewDevice>,
) -> ApiResult<impl IntoResponse> {
    let p = admin(&caller)?;
    let (id, token, setup_code) = blocking(move || {
        let role = crate::app::admin::device_role(&d.role)?;
        let (id, token) = app.issue_device(&p, role, &d.name, d.office.as_deref())?;
        // A kiosk is set up with a one-time code, never with its token on a command line.
        let setup_code = if role == Role::Kiosk {
            Some(app.setup_code(id, &token)?)
        } else {
            None
        };
        Ok((id, token, setup_code))
    })
    .await?;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(json!({"id": id, "token": token, "setup_code": setup_code})),
    ))
}

pub async fn revoke_device(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<impl IntoResponse> {
    let p = admin(&caller)?;
    blocking(move || app.revoke_device(&p, id)).await?;
    Ok(Json(json!({"ok": true})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentQuery {
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    limit: Option<i64>,
}

pub async fn consents(
    State(app): State<AppState>,
    caller: Caller,
    Query(q): Query<ConsentQuery>,
) -> ApiResult<impl IntoResponse> {
    let p = admin(&caller)?;
    Ok(Json(
        blocking(move || app.consent_register(&p, q.q.as_deref(), q.limit.unwrap_or(100))).await?,
    ))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct NoteBody {
    #[serde(default)]
    note: String,
}

/// An admin purge: the person's face data is destroyed and their consent ended.
pub async fn purge(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<NoteBody>,
) -> ApiResult<impl IntoResponse> {
    let p = admin(&caller)?;
    let n = blocking(move || {
        app.purge(
            &p,
            ApplicantId(id),
            PurgeReason::Admin,
            &b.note,
            crate::store::now(),
        )
    })
    .await?;
    Ok(Json(json!({"templates_purged": n})))
}

pub async fn list_requests(
    State(app): State<AppState>,
    caller: Caller,
) -> ApiResult<impl IntoResponse> {
    let p = admin(&caller)?;
    Ok(Json(blocking(move || app.list_requests(&p)).await?))
}

pub async fn create_request(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(r): ApiJson<NewRequest>,
) -> ApiResult<impl IntoResponse> {
    let p = admin(&caller)?;
    let v = blocking(move || app.create_request(&p, &r)).await?;
    Ok((axum::http::StatusCode::CREATED, Json(v)))
}

pub async fn advance_request(
    State(app): State<AppState>,
    caller: Caller,
    Path((id, step)): Path<(i64, String)>,
    ApiJson(b): ApiJson<NoteBody>,
) -> ApiResult<impl IntoResponse> {
    let p = admin(&caller)?;
    let v = blocking(move || app.advance_request(&p, id, &step, &b.note)).await?;
    Ok(Json(v))
}

/// The printable export of what is held about the request's applicant.
pub async fn request_export(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<impl IntoResponse> {
    let p = admin(&caller)?;
    let (a, by) = (app.clone(), p.clone());
    let e = blocking(move || {
        let r = a.request(&by, id)?;
        let applicant = r
            .row
            .applicant_id
            .ok_or_else(|| AppError::NotFound("the request's applicant".into()))?;
        a.subject_export(&by, ApplicantId(applicant))
    })
    .await?;
    let html = crate::app::html::render(&crate::app::html::SubjectExportPage {
        office: &app.config.office.name,
        request: id,
        generated: crate::app::dossiers::vn_format(crate::store::now(), "%Y-%m-%d %H:%M"),
        admin: &p.name,
        e: &e,
    })?;
    Ok(Html(html))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionBody {
    #[serde(default)]
    dry_run: bool,
}

pub async fn retention_preview(
    State(app): State<AppState>,
    caller: Caller,
) -> ApiResult<impl IntoResponse> {
    let p = province_admin(&caller)?;
    let r = blocking(move || app.retention_run(&p, crate::store::now(), true)).await?;
    Ok(Json(r))
}

pub async fn retention_run(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(b): ApiJson<RetentionBody>,
) -> ApiResult<impl IntoResponse> {
    let p = province_admin(&caller)?;
    let r = blocking(move || app.retention_run(&p, crate::store::now(), b.dry_run)).await?;
    Ok(Json(r))
}

pub async fn list_backups(
    State(app): State<AppState>,
    caller: Caller,
) -> ApiResult<impl IntoResponse> {
    province_admin(&caller)?;
    let list: Vec<_> = crate::backup::list(&app.config.backup_dir())
        .into_iter()
        .rev()
        .map(|(p, at, bytes)| {
            json!({"file": p.file_name().map(|n| n.to_string_lossy().into_owned()), "at": at, "bytes": bytes})
        })
        .collect();
    Ok(Json(
        json!({"dir": app.config.backup_dir(), "backups": list}),
    ))
}

pub async fn create_backup(
    State(app): State<AppState>,
    caller: Caller,
) -> ApiResult<impl IntoResponse> {
    let p = province_admin(&caller)?;
    let r = blocking(move || app.backup_now(&p)).await?;
    Ok((axum::http::StatusCode::CREATED, Json(r)))
}

/// The viewer's query string (the filter, and `format=csv` for an export).
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct AuditQuery {
    actor: Option<String>,
    action: Option<String>,
    subject: Option<String>,
    from: Option<i64>,
    to: Option<i64>,
    before: Option<i64>,
    limit: Option<i64>,
    format: Option<String>,
}

impl AuditQuery {
    fn filter(&self) -> Filter {
        let s = |v: &Option<String>| v.clone().filter(|v| !v.trim().is_empty());
        Filter {
            actor: s(&self.actor),
            action: s(&self.action),
            subject: s(&self.subject),
            from: self.from,
            to: self.to,
            before: self.before,
            limit: self.limit,
        }
    }
}

pub async fn audit(
    State(app): State<AppState>,
    caller: Caller,
    Query(q): Query<AuditQuery>,
) -> ApiResult<axum::response::Response> {
    let p = admin(&caller)?;
    let filter = q.filter();
    if q.format.as_deref() == Some("csv") {
        let csv = blocking(move || app.audit_export(&p, &filter)).await?;
        return Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"hoso-audit.csv\"",
                ),
            ],
            csv,
        )
            .into_response());
    }
    Ok(Json(blocking(move || app.audit_search(&p, &filter)).await?).into_response())
}

pub async fn audit_verify(
    State(app): State<AppState>,
    caller: Caller,
) -> ApiResult<impl IntoResponse> {
    province_admin(&caller)?;
    let a = app.clone();
    let broken = blocking(move || Ok(a.store.verify_audit()?)).await?;
    Ok(Json(json!({"intact": broken.is_none(), "broken": broken})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatsQuery {
    #[serde(default)]
    days: Option<i64>,
    /// `csv`: look-ups per kiosk and day as a spreadsheet.
    #[serde(default)]
    format: Option<String>,
}

pub async fn stats(
    State(app): State<AppState>,
    caller: Caller,
    Query(q): Query<StatsQuery>,
) -> ApiResult<impl IntoResponse> {
    let p = admin(&caller)?;
    let days = q.days.unwrap_or(30);
    if q.format.as_deref() == Some("csv") {
        let csv = blocking(move || app.stats_csv(&p, days)).await?;
        return Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"hoso-lookups-by-kiosk.csv\"",
                ),
            ],
            csv,
        )
            .into_response());
    }
    let a = app.clone();
    let (stats, kiosks) = blocking(move || Ok((a.stats(&p, days)?, a.list_devices(&p)?))).await?;
    let mut v = serde_json::to_value(stats).map_err(|e| AppError::Internal(e.to_string()))?;
    v["kiosk_decisions_since_start"] = json!(app.decision_counts());
    v["kiosks"] = json!(kiosks);
    Ok(Json(v).into_response())
}

/// `POST /api/v1/admin/applicants/{id}/reveal`: the full name, for an admin (audited).
pub async fn reveal(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<impl IntoResponse> {
    let p = admin(&caller)?;
    let name = blocking(move || app.reveal_name(&p, ApplicantId(id))).await?;
    Ok(Json(json!({"full_name": name})))
}

#[derive(Deserialize)]
pub struct QrQuery {
    text: String,
}

/// `GET /api/v1/admin/qr?text=`: a QR code (PNG) of a short text, for the admin page (a
/// kiosk's setup link); drawn here so the page needs nothing from outside.
pub async fn qr(caller: Caller, Query(q): Query<QrQuery>) -> ApiResult<impl IntoResponse> {
    admin(&caller)?;
    if q.text.is_empty() || q.text.len() > 512 {
        return Err(AppError::field("text", "1 to 512 characters").into());
    }
    let png = blocking(move || crate::app::forms::qr_png(&q.text)).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/png"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        png,
    ))
}

/// Prometheus text format; for an admin session or an integration token (monitoring).
#[utoipa::path(get, path = "/metrics", tag = "operations",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "OpenMetrics text", body = String, content_type = "application/openmetrics-text"),
        (status = 401, description = "No or unknown token", body = super::ErrorBody),
    ))]
pub async fn metrics(State(app): State<AppState>, caller: Caller) -> ApiResult<impl IntoResponse> {
    let p = caller.require(&[Role::Admin, Role::Integration])?;
    crate::app::offices::province_only(p)?;
    let text = blocking(move || app.metrics_text()).await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    ))
}

/// `GET /api/v1/admin/offices`: the admin's office, or every office for a province admin.
pub async fn list_offices(
    State(app): State<AppState>,
    caller: Caller,
) -> ApiResult<impl IntoResponse> {
    let p = caller.require(crate::api::STAFF)?.clone();
    Ok(Json(blocking(move || app.offices(&p)).await?))
}

/// `POST /api/v1/admin/offices`: a new office (province admins only; audited).
pub async fn create_office(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(o): ApiJson<crate::app::offices::OfficeInput>,
) -> ApiResult<impl IntoResponse> {
    let p = province_admin(&caller)?;
    let id = blocking(move || app.create_office(&p, &o)).await?;
    Ok((axum::http::StatusCode::CREATED, Json(json!({"id": id}))))
}
