//! Intake routes: applicants, consent (grant, withdraw = purge), face enrolment.

use crate::store::audit::Action;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::{blocking, ApiError, ApiJson, ApiResult, AppState, Caller, STAFF};
use crate::app::AppError;
use crate::applicant::ApplicantId;
use crate::consent::PURPOSE;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewApplicantBody {
    full_name: String,
    id_number: String,
    phone: Option<String>,
}

pub async fn create_applicant(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(b): ApiJson<NewApplicantBody>,
) -> ApiResult<impl IntoResponse> {
    let p = caller.require(STAFF)?.clone();
    let id =
        blocking(move || app.create_applicant(&p, &b.full_name, &b.id_number, b.phone.as_deref()))
            .await?;
    Ok((axum::http::StatusCode::CREATED, Json(json!({"id": id}))))
}

/// One person as the desk sees them (dossiers, consent, templates described, never shown).
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

#[derive(Deserialize)]
pub struct SearchQuery {
    q: Option<String>,
}

/// `GET /api/v1/applicants?q=`: a returning citizen by CCCD, phone, dossier code or name.
pub async fn search(
    State(app): State<AppState>,
    caller: Caller,
    axum::extract::Query(q): axum::extract::Query<SearchQuery>,
) -> ApiResult<impl IntoResponse> {
    let p = caller.require(STAFF)?.clone();
    let q = q.q.unwrap_or_default();
    Ok(Json(blocking(move || app.search_applicants(&p, &q)).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateIds {
    templates: Vec<i64>,
}

/// Discards templates just taken (after a duplicate-face warning).
pub async fn discard_faces(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<TemplateIds>,
) -> ApiResult<impl IntoResponse> {
    drop_faces(app, caller, id, b, Action::FaceDiscard).await
}

/// Ends a re-enrolment: every template but the new ones is deleted.
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
) -> ApiResult<Json<serde_json::Value>> {
    let p = caller.require(STAFF)?.clone();
    let n = blocking(move || app.drop_templates(&p, ApplicantId(id), &b.templates, action)).await?;
    Ok(Json(json!({"templates_deleted": n})))
}

/// The other record of a duplicate-face warning, masked (audited).
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
    Ok(Json(json!({"applicant": next})))
}

pub async fn consent_text(
    State(app): State<AppState>,
    caller: Caller,
) -> ApiResult<impl IntoResponse> {
    caller.require(STAFF)?;
    Ok(Json(json!({
        "purpose": PURPOSE,
        "version": app.consent.version,
        "sha256": app.consent.sha256,
        "text": app.consent.body,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentBody {
    text_version: String,
    method: String,
}

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
        Json(json!({"consent_id": cid, "purpose": PURPOSE})),
    ))
}

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
    Ok(Json(json!({"withdrawn": true, "templates_purged": purged})))
}

/// Live quality feedback for the desk camera: nothing is stored.
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
pub async fn consent_form(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<impl IntoResponse> {
    let p = caller.require(STAFF)?.clone();
    let html = blocking(move || app.consent_form_html(&p, ApplicantId(id))).await?;
    Ok(axum::response::Html(html))
}
