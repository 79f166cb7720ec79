//! Intake routes: applicants, consent (grant, withdraw = purge), face enrolment.

use crate::store::audit::Action;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;

use super::{blocking, ApiError, ApiJson, ApiResult, AppState, Caller, STAFF};
use crate::app::AppError;
use crate::applicant::ApplicantId;
use crate::consent::PURPOSE;

/// A new applicant, as the clerk types them from the citizen's card.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApplicantBody {
    /// The full name as on the card (letters, spaces, `-`, `'`, `.`; 2–100 characters once
    /// spaces are collapsed).
    #[schema(min_length = 2, max_length = 400, example = "Nguyễn Văn An")]
    full_name: String,
    /// The 12-digit CCCD number (its first three digits a province code).
    #[schema(pattern = r"^\s*[0-9](\s*[0-9]){11}\s*$", example = "001203004567")]
    id_number: String,
    /// A Vietnamese phone number (9–11 digits, or +84…).
    #[schema(nullable, max_length = 40, example = "0912345678")]
    phone: Option<String>,
}

/// A record created: its id.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Created {
    pub id: i64,
}

/// `POST /api/v1/applicants`: a new applicant (staff; audited).
#[utoipa::path(post, path = "/api/v1/applicants", tag = "intake",
    request_body = NewApplicantBody,
    security(("session" = [], "csrf" = [])),
    responses((status = 201, description = "Created", body = Created)))]
pub async fn create_applicant(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(b): ApiJson<NewApplicantBody>,
) -> ApiResult<impl IntoResponse> {
    let p = caller.require(STAFF)?.clone();
    let id =
        blocking(move || app.create_applicant(&p, &b.full_name, &b.id_number, b.phone.as_deref()))
            .await?;
    Ok((axum::http::StatusCode::CREATED, Json(Created { id: id.0 })))
}

/// One person as the desk sees them (dossiers, consent, templates described, never shown).
#[utoipa::path(get, path = "/api/v1/applicants/{id}", tag = "intake",
    params(("id" = i64, Path, description = "The applicant")),
    security(("session" = [])),
    responses((status = 200, description = "The person", body = crate::app::desk::Person)))]
pub async fn get_applicant(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<impl IntoResponse> {
    let p = caller.require(STAFF)?.clone();
    Ok(Json(
        blocking(move || app.person(&p, ApplicantId(id))).await?,
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// A CCCD number, a phone number, a dossier code or part of a name.
    #[param(max_length = 200)]
    q: Option<String>,
}

/// `GET /api/v1/applicants?q=`: a returning citizen by CCCD, phone, dossier code or name.
#[utoipa::path(get, path = "/api/v1/applicants", tag = "intake",
    params(SearchQuery),
    security(("session" = [])),
    responses((status = 200, description = "The people found (at most 20)", body = Vec<crate::app::desk::Found>)))]
pub async fn search(
    State(app): State<AppState>,
    caller: Caller,
    axum::extract::Query(q): axum::extract::Query<SearchQuery>,
) -> ApiResult<impl IntoResponse> {
    let p = caller.require(STAFF)?.clone();
    super::check::max_chars("q", q.q.as_deref(), 200)?;
    let q = q.q.unwrap_or_default();
    Ok(Json(blocking(move || app.search_applicants(&p, &q)).await?))
}

/// Templates of the applicant, by id.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateIds {
    #[schema(min_items = 1, max_items = 100)]
    templates: Vec<i64>,
}

/// How many templates were deleted.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct TemplatesDeleted {
    templates_deleted: usize,
}

/// Discards templates just taken (after a duplicate-face warning).
#[utoipa::path(post, path = "/api/v1/applicants/{id}/faces/discard", tag = "intake",
    params(("id" = i64, Path, description = "The applicant")),
    request_body = TemplateIds,
    security(("session" = [], "csrf" = [])),
    responses((status = 200, description = "Deleted", body = TemplatesDeleted)))]
pub async fn discard_faces(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<TemplateIds>,
) -> ApiResult<impl IntoResponse> {
    drop_faces(app, caller, id, b, Action::FaceDiscard).await
}

/// Ends a re-enrolment: every template but the new ones is deleted.
#[utoipa::path(post, path = "/api/v1/applicants/{id}/faces/replace", tag = "intake",
    params(("id" = i64, Path, description = "The applicant")),
    request_body = TemplateIds,
    security(("session" = [], "csrf" = [])),
    responses((status = 200, description = "Deleted", body = TemplatesDeleted)))]
pub async fn replace_faces(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<TemplateIds>,
) -> ApiResult<impl IntoResponse> {
    drop_faces(app, caller, id, b, Action::FaceReenrol).await
}

async fn drop_faces(
    app: AppState,
    caller: Caller,
    id: i64,
    b: TemplateIds,
    action: Action,
) -> ApiResult<Json<TemplatesDeleted>> {
    let p = caller.require(STAFF)?.clone();
    if b.templates.is_empty() || b.templates.len() > 100 {
        return Err(AppError::field("templates", "templates: 1 to 100 template ids").into());
    }
    let n = blocking(move || app.drop_templates(&p, ApplicantId(id), &b.templates, action)).await?;
    Ok(Json(TemplatesDeleted {
        templates_deleted: n,
    }))
}

/// The other record of a duplicate-face warning, masked (audited).
#[utoipa::path(get, path = "/api/v1/applicants/{id}/duplicate/{other}", tag = "intake",
    params(("id" = i64, Path, description = "The applicant just enrolled"),
        ("other" = i64, Path, description = "The record the face resembles")),
    security(("session" = [])),
    responses((status = 200, description = "The other record, masked", body = crate::app::desk::OtherRecord)))]
pub async fn duplicate(
    State(app): State<AppState>,
    caller: Caller,
    Path((id, other)): Path<(i64, i64)>,
) -> ApiResult<impl IntoResponse> {
    let p = caller.require(STAFF)?.clone();
    Ok(Json(
        blocking(move || app.duplicate_view(&p, ApplicantId(id), ApplicantId(other))).await?,
    ))
}

/// `POST /api/v1/applicants/{id}/duplicate/{other}/resolve`: the clerk's answer to a
/// duplicate-face warning (`{"choice": "use_existing" | "discard"}` or `{"choice": "keep",
/// "reason": …}`); `{applicant: the person to go on with, or null}`.
#[utoipa::path(post, path = "/api/v1/applicants/{id}/duplicate/{other}/resolve", tag = "intake",
    params(("id" = i64, Path, description = "The applicant just enrolled"),
        ("other" = i64, Path, description = "The record the face resembles")),
    request_body = crate::app::duplicate::DuplicateChoice,
    security(("session" = [], "csrf" = [])),
    responses((status = 200, description = "The person to go on with", body = Resolved)))]
pub async fn resolve_duplicate(
    State(app): State<AppState>,
    caller: Caller,
    Path((id, other)): Path<(i64, i64)>,
    ApiJson(choice): ApiJson<crate::app::duplicate::DuplicateChoice>,
) -> ApiResult<impl IntoResponse> {
    let p = caller.require(STAFF)?.clone();
    let next =
        blocking(move || app.resolve_duplicate(&p, ApplicantId(id), ApplicantId(other), &choice))
            .await?;
    Ok(Json(Resolved {
        applicant: next.map(|a| a.0),
    }))
}

/// The person the desk goes on with after a duplicate-face warning (none: start again).
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Resolved {
    applicant: Option<i64>,
}

/// The consent text in force.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ConsentText {
    /// The one purpose consented to (`kiosk_lookup`).
    purpose: &'static str,
    version: String,
    /// SHA-256 of the text, hex.
    sha256: String,
    text: String,
}

/// `GET /api/v1/consent/text`: the text the citizen reads before consenting.
#[utoipa::path(get, path = "/api/v1/consent/text", tag = "intake",
    security(("session" = [])),
    responses((status = 200, description = "The text in force", body = ConsentText)))]
pub async fn consent_text(
    State(app): State<AppState>,
    caller: Caller,
) -> ApiResult<impl IntoResponse> {
    caller.require(STAFF)?;
    Ok(Json(ConsentText {
        purpose: PURPOSE,
        version: app.consent.version.clone(),
        sha256: app.consent.sha256.clone(),
        text: app.consent.body.clone(),
    }))
}

/// The citizen's consent as the clerk records it.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentBody {
    /// The version of the text the citizen read (`GET /api/v1/consent/text`).
    #[schema(max_length = 100)]
    text_version: String,
    /// How the citizen consented: a tick on the screen or a signed paper form.
    #[schema(pattern = "^(tick|signature)$")]
    method: String,
}

/// A consent recorded.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ConsentRecorded {
    consent_id: i64,
    purpose: &'static str,
}

/// Consent withdrawn: the face templates destroyed at once.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Withdrawn {
    withdrawn: bool,
    templates_purged: usize,
}

/// `POST /api/v1/applicants/{id}/consent`: records the citizen's consent to face look-up.
#[utoipa::path(post, path = "/api/v1/applicants/{id}/consent", tag = "intake",
    params(("id" = i64, Path, description = "The applicant")),
    request_body = ConsentBody,
    security(("session" = [], "csrf" = [])),
    responses((status = 201, description = "Recorded", body = ConsentRecorded)))]
pub async fn grant_consent(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<ConsentBody>,
) -> ApiResult<impl IntoResponse> {
    let p = caller.require(STAFF)?.clone();
    let cid = blocking(move || app.record_consent(&p, ApplicantId(id), &b.text_version, &b.method))
        .await?;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(ConsentRecorded {
            consent_id: cid,
            purpose: PURPOSE,
        }),
    ))
}

/// `DELETE /api/v1/applicants/{id}/consent`: the citizen withdraws; face data purged now.
#[utoipa::path(delete, path = "/api/v1/applicants/{id}/consent", tag = "intake",
    params(("id" = i64, Path, description = "The applicant")),
    security(("session" = [], "csrf" = [])),
    responses((status = 200, description = "Withdrawn and purged", body = Withdrawn)))]
pub async fn withdraw_consent(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<impl IntoResponse> {
    let p = caller.require(STAFF)?.clone();
    let a = app.clone();
    let note = if p.role == crate::auth::Role::Admin {
        "rút đồng ý (trang quản trị)"
    } else {
        "rút đồng ý tại quầy"
    };
    let purged = blocking(move || a.withdraw_consent(&p, ApplicantId(id), note)).await?;
    Ok(Json(Withdrawn {
        withdrawn: true,
        templates_purged: purged,
    }))
}

/// Live quality feedback for the desk camera: nothing is stored.
#[utoipa::path(post, path = "/api/v1/faces/check", tag = "intake",
    request_body(content = Vec<u8>, content_type = "image/jpeg", description = "A JPEG, PNG or WebP frame"),
    security(("session" = [], "csrf" = [])),
    responses((status = 200, description = "The frame's quality", body = crate::app::intake::FaceCheck)))]
pub async fn check_face(
    State(app): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<impl IntoResponse> {
    caller.require(STAFF)?;
    let body = body.map_err(super::body_error)?;
    let a = app.clone();
    Ok(Json(blocking(move || a.check_face(&body)).await?))
}

/// `POST /api/v1/applicants/{id}/faces`: one good frame of a consented applicant's face.
#[utoipa::path(post, path = "/api/v1/applicants/{id}/faces", tag = "intake",
    params(("id" = i64, Path, description = "The applicant")),
    request_body(content = Vec<u8>, content_type = "image/jpeg", description = "A JPEG, PNG or WebP photo"),
    security(("session" = [], "csrf" = [])),
    responses((status = 201, description = "Enrolled", body = crate::app::intake::Enrolled),
        (status = 422, description = "No usable face (none, several, too small, blurred …)", body = super::ErrorBody)))]
pub async fn enrol_face(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<impl IntoResponse> {
    let p = caller.require(STAFF)?.clone();
    let body = body.map_err(|r| {
        ApiError(if super::timed_out(&r) {
            AppError::TimedOut
        } else if r.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            AppError::TooLarge(format!(
                "image too large (limit {} bytes)",
                app.config.vision.max_image_bytes
            ))
        } else {
            AppError::Unprocessable {
                code: "bad_image",
                message: format!("image upload failed: {}", r.body_text()),
            }
        })
    })?;
    let a = app.clone();
    let e = blocking(move || a.enrol_face(&p, ApplicantId(id), &body)).await?;
    Ok((axum::http::StatusCode::CREATED, Json(e)))
}

/// The printable consent form. With a consent in force: the exact text shown, who, when,
/// which clerk, how, and the text's version and hash. Without one: the same form to be
/// signed *before* the clerk records the consent (the current text, the person, blank time
/// and signatures). Printing is audited either way.
#[utoipa::path(get, path = "/api/v1/applicants/{id}/consent/form", tag = "intake",
    params(("id" = i64, Path, description = "The applicant")),
    security(("session" = [])),
    responses((status = 200, description = "The printable form", body = String, content_type = "text/html")))]
pub async fn consent_form(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<impl IntoResponse> {
    let p = caller.require(STAFF)?.clone();
    let html = blocking(move || app.consent_form_html(&p, ApplicantId(id))).await?;
    Ok(axum::response::Html(html))
}
