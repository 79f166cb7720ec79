//! Sign-in and sign-out for clerks and admins: an HttpOnly, SameSite=Strict session
//! cookie, and a CSRF token the page sends back as `X-CSRF-Token`.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;

use super::{ApiJson, ApiResult, AppState, Caller, SESSION_COOKIE};
use crate::app::AppError;

/// A clerk's or admin's sign-in.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct LoginBody {
    #[schema(pattern = "^[A-Za-z0-9._-]{1,40}$")]
    username: String,
    #[schema(max_length = 64)]
    password: String,
}

/// A session opened (its cookie `hoso_session` is set).
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct SignedIn {
    /// Sent back as `X-CSRF-Token` with every request that changes something.
    csrf_token: String,
    role: crate::auth::Role,
}

/// Who the session is.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Me {
    role: crate::auth::Role,
    name: String,
    /// The account's office (none: every office of the province).
    office: Option<i64>,
    /// Whether the account acts for the whole province.
    province: bool,
}

/// A sign-in needs far less than this; larger bodies are refused before they are read.
pub const LOGIN_BODY_LIMIT: usize = 4096;

/// `POST /api/v1/auth/login`: opens a session (rate-limited per address and account).
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "session",
    request_body = LoginBody,
    security(()),
    responses((status = 200, description = "Signed in; the session cookie is set", body = SignedIn,
            headers(("Set-Cookie" = String, description = "`hoso_session`, HttpOnly, SameSite=Strict"))),
        (status = 401, description = "Wrong user name or password", body = super::ErrorBody)))]
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
        Json(SignedIn {
            csrf_token: l.csrf_token,
            role: l.role,
        }),
    ))
}

/// `POST /api/v1/auth/logout`: ends the session.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "session",
    security(("session" = [], "csrf" = [])),
    responses((status = 200, description = "Signed out; the cookie is cleared", body = super::kiosk::Done)))]
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
    Ok((
        [(header::SET_COOKIE, clear)],
        Json(super::kiosk::Done { ok: true }),
    ))
}

/// `GET /api/v1/auth/me`: who is signed in.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "session",
    security(("session" = [])),
    responses((status = 200, description = "The account", body = Me)))]
pub async fn me(caller: Caller) -> ApiResult<impl IntoResponse> {
    let p = caller
        .0
        .as_ref()
        .ok_or(super::ApiError(AppError::Unauthorized))?;
    Ok(Json(Me {
        role: p.role,
        name: p.name.clone(),
        office: p.office,
        province: p.is_province(),
    }))
}
