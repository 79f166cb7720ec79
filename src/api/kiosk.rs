//! Kiosk routes (kiosk device token only): camera frames and the keypad lookup.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;

use super::{blocking, ApiError, ApiJson, ApiResult, AppState, Caller};
use crate::app::AppError;
use crate::auth::Role;

pub async fn frame(
    State(app): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<impl IntoResponse> {
    let p = caller.require(&[Role::Kiosk])?.clone();
    let body = body.map_err(|r| ApiError(AppError::TooLarge(r.body_text())))?;
    let session = headers
        .get("x-kiosk-session")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let a = app.clone();
    Ok(Json(
        blocking(move || a.kiosk_frame(&p, &session, &body)).await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LookupBody {
    code: String,
    id_digits: String,
}

pub async fn lookup(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(b): ApiJson<LookupBody>,
) -> ApiResult<impl IntoResponse> {
    let p = caller.require(&[Role::Kiosk])?.clone();
    let a = app.clone();
    Ok(Json(
        blocking(move || a.kiosk_lookup(&p, &b.code, &b.id_digits)).await?,
    ))
}
