//! Dossier routes: registration, status, status events, and the printable receipt
//! (Giấy tiếp nhận hồ sơ và hẹn trả kết quả, A5) with its lookup QR code.

use crate::store::audit::Action;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::{ApiJson, ApiResult, AppState, Caller, STAFF};
use crate::app::dossiers::EventInput;
use crate::app::AppError;
use crate::applicant::ApplicantId;
use crate::auth::Role;
use crate::store::people;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewDossierBody {
    code: String,
    applicant_id: i64,
    procedure: String,
    received_at: String,
    due_at: String,
}

pub async fn create(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(b): ApiJson<NewDossierBody>,
) -> ApiResult<impl IntoResponse> {
    let p = caller.require(STAFF)?;
    let (code, token) = app.create_dossier(
        p,
        &b.code,
        ApplicantId(b.applicant_id),
        &b.procedure,
        &b.received_at,
        &b.due_at,
    )?;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(
            json!({"code": code, "lookup_token": token, "lookup_url": app.lookup_url(&code, &token)}),
        ),
    ))
}

pub async fn get(
    State(app): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
) -> ApiResult<impl IntoResponse> {
    caller.require(STAFF)?;
    let d = app.dossier(&code)?;
    Ok(Json(app.view(&d)?))
}

pub async fn add_event(
    State(app): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    ApiJson(ev): ApiJson<EventInput>,
) -> ApiResult<impl IntoResponse> {
    let p = caller.require(&[Role::Clerk, Role::Admin, Role::Integration])?;
    let recorded = app.add_event(p, &code, &ev)?;
    let d = app.dossier(&code)?;
    Ok((
        if recorded {
            axum::http::StatusCode::CREATED
        } else {
            axum::http::StatusCode::OK
        },
        Json(json!({"recorded": recorded, "dossier": app.view(&d)?})),
    ))
}

/// The QR code of `text` as a PNG data URI (prints sharp at 4 px a module).
fn qr_png_data_uri(text: &str) -> Result<String, AppError> {
    use base64::Engine;
    let code = qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::M)
        .map_err(|e| AppError::Internal(format!("QR code: {e}")))?;
    let img = code
        .render::<image::Luma<u8>>()
        .module_dimensions(6, 6)
        .quiet_zone(true)
        .build();
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|e| AppError::Internal(format!("QR image: {e}")))?;
    Ok(format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(png)
    ))
}

pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub async fn receipt(
    State(app): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let p = caller.require(STAFF)?;
    let d = app.dossier(&code)?;
    let a = app
        .store
        .read(|c| people::applicant(c, d.applicant_id))?
        .ok_or_else(|| AppError::NotFound(format!("applicant {}", d.applicant_id)))?;
    let token = app.lookup_token(&d)?;
    let url = app.lookup_url(&d.code, &token);
    let qr = qr_png_data_uri(&url)?;
    let v = app.view(&d)?;
    let o = &app.config.office;
    let date = |s: &str| s.get(..16).unwrap_or(s).replace('T', " ");
    app.audit(p, Action::ReceiptPrint, &d.code, json!({}))?;
    let html = format!(
        include_str!("../../templates/receipt.html"),
        office = esc(&o.name),
        address = esc(&o.address),
        code = esc(&d.code),
        applicant = esc(&a.full_name),
        procedure = esc(&d.procedure),
        received = esc(&date(&v.received_at)),
        due = esc(&date(&v.due_at)),
        place = esc(&o.return_place),
        clerk = esc(&p.name),
        qr = qr,
        url = esc(&url),
    );
    Ok(Html(html))
}
