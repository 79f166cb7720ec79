//! Sign-in and sign-out for clerks and admins: an HttpOnly, SameSite=Strict session
//! cookie, and a CSRF token the page sends back as `X-CSRF-Token`.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::{ApiJson, ApiResult, AppState, Caller, SESSION_COOKIE};
use crate::app::AppError;

#[derive(Deserialize)]
pub struct LoginBody {
    username: String,
    password: String,
}

/// A sign-in needs far less than this; larger bodies are refused before they are read.
pub const LOGIN_BODY_LIMIT: usize = 1024;

pub async fn login(
    State(app): State<AppState>,
    axum::Extension(https): axum::Extension<super::Https>,
    client: Option<axum::Extension<crate::server::client::ClientAddr>>,
    ApiJson(b): ApiJson<LoginBody>,
) -> ApiResult<impl IntoResponse> {
    let ip = crate::server::client::ClientAddr::ip_of(client);
    let l = app.sign_in(ip, b.username, b.password).await?;
    let secure = if https.0 { "; Secure" } else { "" };
    let cookie = format!(
        "{SESSION_COOKIE}={}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{secure}",
        l.session, l.max_age_s
    );
    Ok((
        [(header::SET_COOKIE, cookie)],
        Json(json!({"csrf_token": l.csrf_token, "role": l.role})),
    ))
}

pub async fn logout(
    State(app): State<AppState>,
    headers: axum::http::HeaderMap,
    caller: Caller,
) -> ApiResult<impl IntoResponse> {
    caller.require(super::STAFF)?;
    if let Some(s) = super::cookie(&headers, SESSION_COOKIE) {
        super::blocking(move || app.logout(&s)).await?;
    }
    let clear = format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    Ok(([(header::SET_COOKIE, clear)], Json(json!({"ok": true}))))
}

pub async fn me(caller: Caller) -> ApiResult<impl IntoResponse> {
    let p = caller
        .0
        .as_ref()
        .ok_or(super::ApiError(AppError::Unauthorized))?;
    Ok(Json(
        json!({"role": p.role, "name": p.name, "office": p.office, "province": p.is_province()}),
    ))
}
