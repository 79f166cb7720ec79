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
use crate::applicant::masked_name;
use crate::applicant::ApplicantId;
use crate::consent::PURPOSE;
use crate::store::{dossiers as dsql, people};

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
    let p = caller.require(STAFF)?;
    let id = app.create_applicant(p, &b.full_name, &b.id_number, b.phone.as_deref())?;
    Ok((axum::http::StatusCode::CREATED, Json(json!({"id": id}))))
}

pub async fn get_applicant(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<impl IntoResponse> {
    caller.require(STAFF)?;
    let (a, consents, templates, active, dossiers) = app.store.read(|c| {
        Ok((
            people::applicant(c, id)?,
            people::consents(c, id)?,
            people::template_count(c, id)?,
            people::template_count_for_model(c, id, &app.model_id)?,
            dsql::dossiers_of(c, id)?,
        ))
    })?;
    let a = a.ok_or_else(|| ApiError(AppError::NotFound(format!("applicant {id}"))))?;
    let views = dossiers
        .iter()
        .map(|d| app.view(d))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(json!({
        "id": a.id,
        "full_name": a.full_name,
        "display_name": masked_name(&a.full_name),
        "consent": consents.iter().find(|c| c.withdrawn_at.is_none() && c.purpose == PURPOSE).map(|c| json!({
            "id": c.id, "text_version": c.text_version, "method": c.method, "granted_at": c.granted_at, "granted_by": c.granted_by,
        })),
        "consent_history": consents.iter().map(|c| json!({
            "id": c.id, "text_version": c.text_version, "text_sha256": c.text_sha256, "method": c.method,
            "granted_at": c.granted_at, "granted_by": c.granted_by, "withdrawn_at": c.withdrawn_at,
        })).collect::<Vec<_>>(),
        "templates": templates,
        "templates_active": active,
        // Enrolled with another recognition profile only: the kiosk cannot recognise the
        // person until the face is enrolled again.
        "needs_reenrolment": templates > 0 && active == 0
            && consents.iter().any(|c| c.withdrawn_at.is_none() && c.purpose == PURPOSE),
        "biometrics_purged_at": a.biometrics_purged_at,
        "dossiers": views,
    })))
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
    let p = caller.require(STAFF)?;
    let cid = app.record_consent(p, ApplicantId(id), &b.text_version, &b.method)?;
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
    let body = body.map_err(|r| ApiError(AppError::TooLarge(r.body_text())))?;
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
        ApiError(if r.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
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

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The printable consent form of the applicant's consent in force: the exact text shown,
/// who, when, which clerk, how, and the text's version and hash.
pub async fn consent_form(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<impl IntoResponse> {
    let p = caller.require(STAFF)?;
    let (a, c) = app.store.read(|c| {
        Ok((
            people::applicant(c, id)?,
            people::valid_consent(c, id, PURPOSE)?,
        ))
    })?;
    let a = a.ok_or_else(|| ApiError(AppError::NotFound(format!("applicant {id}"))))?;
    let c = c.ok_or_else(|| ApiError(AppError::NotFound(format!("consent of applicant {id}"))))?;
    let id_number = app.id_number_of(&a)?;
    let last4 = id_number
        .get(id_number.len().saturating_sub(4)..)
        .unwrap_or("");
    let when = chrono::DateTime::from_timestamp(c.granted_at, 0)
        .map(|t| {
            t.with_timezone(&crate::app::dossiers::vn())
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_default();
    let text = if c.text_version == app.consent.version {
        app.consent.body.clone()
    } else {
        format!(
            "(Văn bản phiên bản {} — sha256 {})",
            c.text_version, c.text_sha256
        )
    };
    app.audit(
        p,
        Action::ConsentPrint,
        &format!("applicant:{id}"),
        json!({"consent": c.id}),
    )?;
    Ok(axum::response::Html(format!(
        include_str!("../../templates/consent-form.html"),
        office = esc(&app.config.office.name),
        text = esc(&text),
        name = esc(&a.full_name),
        id_last4 = esc(last4),
        purpose = esc(PURPOSE),
        method = if c.method == "signature" {
            "Chữ ký / signature"
        } else {
            "Đánh dấu / tick"
        },
        granted_at = esc(&when),
        clerk = esc(&c.granted_by),
        version = esc(&c.text_version),
        consent_id = c.id,
        sha256 = esc(&c.text_sha256),
    )))
}
