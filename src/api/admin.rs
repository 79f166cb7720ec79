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

/// `GET /api/v1/admin/settings`: retention and the kiosk's operating point.
#[utoipa::path(get, path = "/api/v1/admin/settings", tag = "admin",
    security(("session" = [])),
    responses((status = 200, description = "The settings and the calibrated operating point", body = crate::app::admin::SettingsView)))]
pub async fn get_settings(
    State(app): State<AppState>,
    caller: Caller,
) -> ApiResult<impl IntoResponse> {
    let p = admin(&caller)?;
    Ok(Json(
        blocking(move || Ok(app.settings_view(p.office))).await?,
    ))
}

/// `PUT /api/v1/admin/settings`: a province admin changes them (audited).
#[utoipa::path(put, path = "/api/v1/admin/settings", tag = "admin",
    request_body = Settings,
    security(("session" = [], "csrf" = [])),
    responses((status = 200, description = "Saved", body = crate::app::admin::SettingsView)))]
pub async fn put_settings(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(s): ApiJson<Settings>,
) -> ApiResult<impl IntoResponse> {
    let p = province_admin(&caller)?;
    Ok(Json(blocking(move || app.update_settings(&p, s)).await?))
}

/// `GET /api/v1/admin/users`: the accounts the admin manages.
#[utoipa::path(get, path = "/api/v1/admin/users", tag = "admin",
    security(("session" = [])),
    responses((status = 200, description = "The accounts", body = Vec<crate::store::admin::UserInfo>)))]
pub async fn list_users(
    State(app): State<AppState>,
    caller: Caller,
) -> ApiResult<impl IntoResponse> {
    let p = admin(&caller)?;
    Ok(Json(blocking(move || app.list_users(&p)).await?))
}

/// A new clerk or admin account.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    #[schema(pattern = "^[A-Za-z0-9._-]{3,40}$")]
    username: String,
    /// 10 to 64 characters.
    #[schema(min_length = 10, max_length = 64)]
    password: String,
    #[schema(pattern = "^(clerk|admin)$")]
    role: String,
    /// The name printed on receipts ("Nguyễn Thị Lan"); the username when absent.
    #[serde(default)]
    #[schema(max_length = 100)]
    display_name: Option<String>,
    /// The office's code ("" = every office, for an admin); absent: the creator's office.
    #[serde(default)]
    #[schema(max_length = 40)]
    office: Option<String>,
}

/// `POST /api/v1/admin/users`: a new account (audited).
#[utoipa::path(post, path = "/api/v1/admin/users", tag = "admin",
    request_body = NewUser,
    security(("session" = [], "csrf" = [])),
    responses((status = 201, description = "Created", body = super::intake::Created),
        (status = 409, description = "The user name is taken", body = super::ErrorBody)))]
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
    Ok((
        axum::http::StatusCode::CREATED,
        Json(super::intake::Created { id }),
    ))
}

/// A change to an account: deactivate or reactivate, a new password, the printed name.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserChange {
    #[serde(default)]
    active: Option<bool>,
    /// 10 to 64 characters.
    #[serde(default)]
    #[schema(min_length = 10, max_length = 64)]
    password: Option<String>,
    /// The name printed on receipts; an empty string prints the username again.
    #[serde(default)]
    #[schema(max_length = 100)]
    display_name: Option<String>,
}

/// `POST /api/v1/admin/users/{id}`: changes an account (audited).
#[utoipa::path(post, path = "/api/v1/admin/users/{id}", tag = "admin",
    params(("id" = i64, Path, description = "The record")),
    request_body = UserChange,
    security(("session" = [], "csrf" = [])),
    responses((status = 200, description = "Changed", body = super::kiosk::Done)))]
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
    Ok(Json(super::kiosk::Done { ok: true }))
}

/// `GET /api/v1/admin/devices`: kiosks and integration tokens, with when each was last seen.
#[utoipa::path(get, path = "/api/v1/admin/devices", tag = "admin",
    security(("session" = [])),
    responses((status = 200, description = "The kiosks and integration tokens", body = Vec<crate::app::admin::DeviceView>)))]
pub async fn list_devices(
    State(app): State<AppState>,
    caller: Caller,
) -> ApiResult<impl IntoResponse> {
    let p = admin(&caller)?;
    Ok(Json(blocking(move || app.list_devices(&p)).await?))
}

/// A new kiosk or integration token.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDevice {
    #[schema(pattern = "^(kiosk|integration)$")]
    role: String,
    #[schema(min_length = 1, max_length = 100)]
    name: String,
    /// The office's code ("" = every office, for an integration token); absent: the
    /// creator's office.
    #[serde(default)]
    #[schema(max_length = 40)]
    office: Option<String>,
}

/// A device issued: its token (shown once) and, for a kiosk, its one-time setup code.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct DeviceIssued {
    id: i64,
    token: String,
    setup_code: Option<String>,
}

/// `POST /api/v1/admin/devices`: a new kiosk or integration token (audited).
#[utoipa::path(post, path = "/api/v1/admin/devices", tag = "admin",
    request_body = NewDevice,
    security(("session" = [], "csrf" = [])),
    responses((status = 201, description = "Issued", body = DeviceIssued)))]
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
        Json(DeviceIssued {
            id,
            token,
            setup_code,
        }),
    ))
}

/// `DELETE /api/v1/admin/devices/{id}`: the token stops working now (audited).
#[utoipa::path(delete, path = "/api/v1/admin/devices/{id}", tag = "admin",
    params(("id" = i64, Path, description = "The record")),
    security(("session" = [], "csrf" = [])),
    responses((status = 200, description = "Revoked", body = super::kiosk::Done)))]
pub async fn revoke_device(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<impl IntoResponse> {
    let p = admin(&caller)?;
    blocking(move || app.revoke_device(&p, id)).await?;
    Ok(Json(super::kiosk::Done { ok: true }))
}

/// The consent register's filter.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ConsentQuery {
    /// A name, CCCD or phone to look for.
    #[serde(default)]
    #[param(max_length = 200)]
    q: Option<String>,
    /// At most this many entries (default 100).
    #[serde(default)]
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
}

/// `GET /api/v1/admin/consents`: the consent register (masked; audited).
#[utoipa::path(get, path = "/api/v1/admin/consents", tag = "admin",
    params(ConsentQuery),
    security(("session" = [])),
    responses((status = 200, description = "Consents, newest first", body = Vec<crate::app::admin::ConsentEntry>)))]
pub async fn consents(
    State(app): State<AppState>,
    caller: Caller,
    Query(q): Query<ConsentQuery>,
) -> ApiResult<impl IntoResponse> {
    let p = admin(&caller)?;
    super::check::max_chars("q", q.q.as_deref(), 200)?;
    super::check::within("limit", q.limit, 1, 1000)?;
    Ok(Json(
        blocking(move || app.consent_register(&p, q.q.as_deref(), q.limit.unwrap_or(100))).await?,
    ))
}

/// Why, in a few words (kept in the audit log).
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteBody {
    #[serde(default)]
    #[schema(max_length = 1000)]
    note: String,
}

/// How many templates were destroyed.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Purged {
    templates_purged: usize,
}

/// An admin purge: the person's face data is destroyed and their consent ended.
#[utoipa::path(post, path = "/api/v1/admin/applicants/{id}/purge", tag = "admin",
    params(("id" = i64, Path, description = "The applicant")),
    request_body = NoteBody,
    security(("session" = [], "csrf" = [])),
    responses((status = 200, description = "Purged", body = Purged)))]
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
    Ok(Json(Purged {
        templates_purged: n,
    }))
}

/// `GET /api/v1/admin/requests`: data-subject requests (access, correction, deletion …).
#[utoipa::path(get, path = "/api/v1/admin/requests", tag = "admin",
    security(("session" = [])),
    responses((status = 200, description = "The requests, with their deadlines", body = Vec<crate::app::requests::RequestView>)))]
pub async fn list_requests(
    State(app): State<AppState>,
    caller: Caller,
) -> ApiResult<impl IntoResponse> {
    let p = admin(&caller)?;
    Ok(Json(blocking(move || app.list_requests(&p)).await?))
}

/// `POST /api/v1/admin/requests`: registers a data-subject request (audited).
#[utoipa::path(post, path = "/api/v1/admin/requests", tag = "admin",
    request_body = NewRequest,
    security(("session" = [], "csrf" = [])),
    responses((status = 201, description = "Registered", body = crate::app::requests::RequestView)))]
pub async fn create_request(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(r): ApiJson<NewRequest>,
) -> ApiResult<impl IntoResponse> {
    let p = admin(&caller)?;
    let v = blocking(move || app.create_request(&p, &r)).await?;
    Ok((axum::http::StatusCode::CREATED, Json(v)))
}

/// `POST /api/v1/admin/requests/{id}/{step}`: acknowledge, complete or reject (audited).
#[utoipa::path(post, path = "/api/v1/admin/requests/{id}/{step}", tag = "admin",
    params(("id" = i64, Path, description = "The request"),
        ("step" = String, Path, pattern = "^(acknowledge|complete|reject)$", description = "The next step")),
    request_body = NoteBody,
    security(("session" = [], "csrf" = [])),
    responses((status = 200, description = "The request now", body = crate::app::requests::RequestView),
        (status = 409, description = "Already at or past that step", body = super::ErrorBody)))]
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
#[utoipa::path(get, path = "/api/v1/admin/requests/{id}/export", tag = "admin",
    params(("id" = i64, Path, description = "The request")),
    security(("session" = [])),
    responses((status = 200, description = "The printable export", body = String, content_type = "text/html")))]
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

/// A retention run; `dry_run` only lists what would be purged.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetentionBody {
    #[serde(default)]
    dry_run: bool,
}

/// `GET /api/v1/admin/retention`: what is due for purging (province admins).
#[utoipa::path(get, path = "/api/v1/admin/retention", tag = "admin",
    security(("session" = [])),
    responses((status = 200, description = "What a run would purge now", body = crate::app::retention::RetentionReport)))]
pub async fn retention_preview(
    State(app): State<AppState>,
    caller: Caller,
) -> ApiResult<impl IntoResponse> {
    let p = province_admin(&caller)?;
    let r = blocking(move || app.retention_run(&p, crate::store::now(), true)).await?;
    Ok(Json(r))
}

/// `POST /api/v1/admin/retention`: purges what is due (province admins; audited).
#[utoipa::path(post, path = "/api/v1/admin/retention", tag = "admin",
    request_body = RetentionBody,
    security(("session" = [], "csrf" = [])),
    responses((status = 200, description = "What was purged", body = crate::app::retention::RetentionReport)))]
pub async fn retention_run(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(b): ApiJson<RetentionBody>,
) -> ApiResult<impl IntoResponse> {
    let p = province_admin(&caller)?;
    let r = blocking(move || app.retention_run(&p, crate::store::now(), b.dry_run)).await?;
    Ok(Json(r))
}

/// One backup file.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct BackupFile {
    file: Option<String>,
    /// When it was made (unix seconds).
    at: i64,
    bytes: u64,
}

/// The backups kept.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Backups {
    #[schema(value_type = String)]
    dir: std::path::PathBuf,
    backups: Vec<BackupFile>,
}

/// `GET /api/v1/admin/backups`: the backups kept, newest first (province admins).
#[utoipa::path(get, path = "/api/v1/admin/backups", tag = "admin",
    security(("session" = [])),
    responses((status = 200, description = "The backups", body = Backups)))]
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

/// `POST /api/v1/admin/backups`: a backup now (province admins; audited).
#[utoipa::path(post, path = "/api/v1/admin/backups", tag = "admin",
    security(("session" = [], "csrf" = [])),
    responses((status = 201, description = "Made", body = crate::app::retention::BackupDone)))]
pub async fn create_backup(
    State(app): State<AppState>,
    caller: Caller,
) -> ApiResult<impl IntoResponse> {
    let p = province_admin(&caller)?;
    let r = blocking(move || app.backup_now(&p)).await?;
    Ok((axum::http::StatusCode::CREATED, Json(r)))
}

/// The viewer's query string (the filter, and `format=csv` for an export).
#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default, deny_unknown_fields)]
pub struct AuditQuery {
    /// Who acted (`user:lan`, `device:3` …).
    #[param(max_length = 200)]
    actor: Option<String>,
    /// What was done (`face.enrol`, `consent.withdraw` …).
    #[param(max_length = 200)]
    action: Option<String>,
    /// About whom (`applicant:12` …).
    #[param(max_length = 200)]
    subject: Option<String>,
    /// From this time (unix seconds).
    from: Option<i64>,
    /// Until this time (unix seconds).
    to: Option<i64>,
    /// Entries before this sequence number (the next page).
    before: Option<i64>,
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
    /// `csv`: every matching entry as a spreadsheet.
    #[param(pattern = "^(json|csv)$")]
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

/// `GET /api/v1/admin/audit`: the audit log, filtered (audited).
#[utoipa::path(get, path = "/api/v1/admin/audit", tag = "admin",
    params(AuditQuery),
    security(("session" = [])),
    responses((status = 200, description = "Entries, newest first (or CSV with `format=csv`)",
        content((Vec<crate::store::audit::AuditRecord> = "application/json"), (String = "text/csv"))),))]
pub async fn audit(
    State(app): State<AppState>,
    caller: Caller,
    Query(q): Query<AuditQuery>,
) -> ApiResult<axum::response::Response> {
    let p = admin(&caller)?;
    for (name, v) in [
        ("actor", &q.actor),
        ("action", &q.action),
        ("subject", &q.subject),
    ] {
        super::check::max_chars(name, v.as_deref(), 200)?;
    }
    super::check::within("limit", q.limit, 1, 1000)?;
    super::check::one_of("format", q.format.as_deref(), &["json", "csv"])?;
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

/// `GET /api/v1/admin/audit/verify`: checks the audit log's hash chain (province admins).
#[utoipa::path(get, path = "/api/v1/admin/audit/verify", tag = "admin",
    security(("session" = [])),
    responses((status = 200, description = "Whether the hash chain is intact", body = AuditIntegrity)))]
pub async fn audit_verify(
    State(app): State<AppState>,
    caller: Caller,
) -> ApiResult<impl IntoResponse> {
    province_admin(&caller)?;
    let a = app.clone();
    let broken = blocking(move || Ok(a.store.verify_audit()?)).await?;
    Ok(Json(AuditIntegrity {
        intact: broken.is_none(),
        broken,
    }))
}

/// The audit chain checked.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct AuditIntegrity {
    intact: bool,
    /// The first entry that is not what was written (none when intact).
    broken: Option<crate::store::audit::Break>,
}

/// The statistics' period and format.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StatsQuery {
    /// The last this many days (default 30).
    #[serde(default)]
    #[param(minimum = 1, maximum = 366)]
    days: Option<i64>,
    /// `csv`: look-ups per kiosk and day as a spreadsheet.
    #[serde(default)]
    #[param(pattern = "^(json|csv)$")]
    format: Option<String>,
}

/// `GET /api/v1/admin/stats`: look-ups, ratings, timeliness and kiosks.
#[utoipa::path(get, path = "/api/v1/admin/stats", tag = "admin",
    params(StatsQuery),
    security(("session" = [])),
    responses((status = 200, description = "The office's statistics (or look-ups per kiosk and day as CSV with `format=csv`)",
        content((Object = "application/json"), (String = "text/csv")))))]
pub async fn stats(
    State(app): State<AppState>,
    caller: Caller,
    Query(q): Query<StatsQuery>,
) -> ApiResult<impl IntoResponse> {
    let p = admin(&caller)?;
    super::check::within("days", q.days, 1, 366)?;
    super::check::one_of("format", q.format.as_deref(), &["json", "csv"])?;
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
#[utoipa::path(post, path = "/api/v1/admin/applicants/{id}/reveal", tag = "admin",
    params(("id" = i64, Path, description = "The applicant")),
    security(("session" = [], "csrf" = [])),
    responses((status = 200, description = "The full name", body = Revealed)))]
pub async fn reveal(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<impl IntoResponse> {
    let p = admin(&caller)?;
    let name = blocking(move || app.reveal_name(&p, ApplicantId(id))).await?;
    Ok(Json(Revealed { full_name: name }))
}

/// An applicant's full name, revealed.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Revealed {
    full_name: String,
}

/// The text to draw.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QrQuery {
    #[param(min_length = 1, max_length = 512)]
    text: String,
}

/// `GET /api/v1/admin/qr?text=`: a QR code (PNG) of a short text, for the admin page (a
/// kiosk's setup link); drawn here so the page needs nothing from outside.
#[utoipa::path(get, path = "/api/v1/admin/qr", tag = "admin",
    params(QrQuery),
    security(("session" = [])),
    responses((status = 200, description = "The QR code", body = Vec<u8>, content_type = "image/png")))]
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
    security(("integration" = []), ("session" = [])),
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
#[utoipa::path(get, path = "/api/v1/admin/offices", tag = "admin",
    security(("session" = [])),
    responses((status = 200, description = "The offices", body = Vec<crate::store::offices::OfficeRow>)))]
pub async fn list_offices(
    State(app): State<AppState>,
    caller: Caller,
) -> ApiResult<impl IntoResponse> {
    let p = caller.require(crate::api::STAFF)?.clone();
    Ok(Json(blocking(move || app.offices(&p)).await?))
}

/// `POST /api/v1/admin/offices`: a new office (province admins only; audited).
#[utoipa::path(post, path = "/api/v1/admin/offices", tag = "admin",
    request_body = crate::app::offices::OfficeInput,
    security(("session" = [], "csrf" = [])),
    responses((status = 201, description = "Created", body = super::intake::Created),
        (status = 409, description = "The office code is taken", body = super::ErrorBody)))]
pub async fn create_office(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(o): ApiJson<crate::app::offices::OfficeInput>,
) -> ApiResult<impl IntoResponse> {
    let p = province_admin(&caller)?;
    let id = blocking(move || app.create_office(&p, &o)).await?;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(super::intake::Created { id }),
    ))
}
