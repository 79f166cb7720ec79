//! HTTP API (axum): routes, the caller extractor (session cookie + CSRF, or a device's
//! bearer token), the role checks, and JSON errors. Handlers only translate HTTP to the
//! use cases in `app`.

pub mod admin;
pub mod check;
pub mod desk;
pub mod dossiers;
pub mod errors;
pub mod intake;
pub mod kiosk;
pub mod openapi;
pub mod routes;
pub mod session;
pub mod status;
pub mod ui;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::{Json, Router};
use serde_json::json;

use crate::app::{App, AppError};
use crate::auth::{Principal, Role};

pub type AppState = Arc<App>;

pub const SESSION_COOKIE: &str = "hoso_session";

/// An error as the API returns it: `{"error": code, "message": text}`.
pub struct ApiError(pub AppError);

/// The body of every error answer.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A stable code: `invalid`, `unauthorized`, `forbidden`, `not_found`, `conflict`,
    /// `too_large`, `rate_limited`, `unavailable`, `internal` ….
    error: &'static str,
    /// What went wrong, in English, for a developer or a log.
    message: String,
    /// The request field at fault, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'static str>,
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        ApiError(e)
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        ApiError(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        // A full queue (503 busy) is the server defending itself, not a failure: a flood
        // of them must not flood the log.
        if status.is_server_error() && !matches!(self.0, AppError::Busy) {
            tracing::error!(error = %self.0, "request failed");
        }
        let message = match &self.0 {
            AppError::Internal(_) => "internal error; see the server log".to_string(),
            e => e.to_string(),
        };
        let body = ErrorBody {
            error: self.0.code(),
            message,
            field: self.0.field_name(),
        };
        let mut r = (status, Json(body)).into_response();
        if let Some(s) = self.0.retry_after() {
            r.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(s));
        }
        r
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// JSON body whose rejections (malformed JSON, wrong fields, wrong content type) come out
/// as our JSON errors. A whole number written as a float (`3.0`) is an integer, as JSON
/// Schema (and so the OpenAPI document) says.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let parsed = Json::<serde_json::Value>::from_request(req, state)
            .await
            .map(|Json(mut v)| {
                if !v.is_object() {
                    // Every body of this API is one object (serde would take an array too).
                    return Err(serde::de::Error::custom("the body must be a JSON object"));
                }
                whole_numbers(&mut v);
                serde_json::from_value::<T>(v)
            });
        match parsed {
            Ok(Ok(v)) => Ok(ApiJson(v)),
            Ok(Err(e)) => Err(ApiError(AppError::Invalid(format!(
                "bad JSON body: Failed to deserialize the JSON body into the target type: {e}"
            )))),
            Err(r) if timed_out(&r) => Err(ApiError(AppError::TimedOut)),
            Err(r) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(ApiError(
                AppError::TooLarge(format!("request body too large: {}", r.body_text())),
            )),
            Err(r) => Err(ApiError(AppError::Invalid(format!(
                "bad JSON body: {}",
                r.body_text()
            )))),
        }
    }
}

/// Turns every float with no fractional part (within ±2^53) into an integer, in place.
fn whole_numbers(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Number(n) if !(n.is_i64() || n.is_u64()) => {
            if let Some(f) = n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() <= 9.0e15) {
                *v = Value::from(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(whole_numbers),
        Value::Object(fields) => fields.values_mut().for_each(whole_numbers),
        _ => {}
    }
}

/// Whether a body rejection is the body timeout's (`limits.body_timeout_seconds`), which
/// the API answers 408, not 400.
pub fn timed_out(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if err.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        cur = err.source();
    }
    false
}

/// A raw body that did not arrive whole: too slow (408) or too large (413).
pub fn body_error(r: axum::extract::rejection::BytesRejection) -> ApiError {
    ApiError(if timed_out(&r) {
        AppError::TimedOut
    } else {
        AppError::TooLarge(r.body_text())
    })
}

/// The authenticated caller, if any.
pub struct Caller(pub Option<Principal>);

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(auth) = parts.headers.get(header::AUTHORIZATION) {
            let token = auth
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .ok_or(ApiError(AppError::Unauthorized))?;
            // A wrong token is an error, not an anonymous call. The store is read on the
            // blocking pool: a flood of requests must not stall the async workers.
            let (a, token) = (app.clone(), token.to_string());
            return match blocking(move || a.device_principal(&token)).await? {
                Some(p) => Ok(Caller(Some(p))),
                None => Err(ApiError(AppError::Unauthorized)),
            };
        }
        let Some(session) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Ok(Caller(None));
        };
        let a = app.clone();
        let Some((p, csrf)) = blocking(move || a.session_principal(&session)).await? else {
            return Ok(Caller(None));
        };
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if !safe {
            let sent = parts
                .headers
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok());
            if sent != Some(csrf.as_str()) {
                return Err(ApiError(AppError::Forbidden(
                    "missing or wrong X-CSRF-Token".into(),
                )));
            }
        }
        Ok(Caller(Some(p)))
    }
}

impl Caller {
    /// The principal, if its role is one of `roles`; 401 when anonymous, 403 otherwise.
    pub fn require(&self, roles: &[Role]) -> Result<&Principal, ApiError> {
        match &self.0 {
            None => Err(ApiError(AppError::Unauthorized)),
            Some(p) if roles.contains(&p.role) => Ok(p),
            Some(_) => Err(ApiError(AppError::Forbidden(
                "your role may not do this".into(),
            ))),
        }
    }
}

pub const STAFF: &[Role] = &[Role::Clerk, Role::Admin];

/// A slot for an event stream of `p` (429 when the caller or the office has too many open).
pub fn stream_slot(app: &App, p: &Principal) -> Result<crate::streams::Slot, ApiError> {
    app.streams
        .open(&p.actor, p.office)
        .ok_or(ApiError(AppError::Throttled(crate::streams::RETRY_S)))
}

/// An event stream that holds its slot while open and ends after its lifetime.
pub fn bounded<S: futures_util::Stream>(
    stream: S,
    slot: crate::streams::Slot,
) -> impl futures_util::Stream<Item = S::Item> {
    use futures_util::StreamExt;
    let end = tokio::time::sleep(crate::streams::LIFETIME);
    stream.take_until(end).map(move |item| {
        let _held = &slot;
        item
    })
}

/// Runs CPU-heavy work off the async threads.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, AppError> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError(AppError::Internal(format!("worker failed: {e}"))))?
        .map_err(ApiError)
}

pub use crate::server::client::Https;

/// What every page may load and do: only this server's scripts, no framing, no referrer
/// beyond the origin (receipt QR codes are PNG data URIs; camera frames are blobs).
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; \
     object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

pub fn router_for(app: AppState, https: bool) -> Router {
    use axum::http::HeaderValue;
    use tower_http::set_header::SetResponseHeaderLayer;
    let face_limit = app.config.vision.max_image_bytes + 64 * 1024;
    let body_timeout =
        std::time::Duration::from_secs(app.config.limits.body_timeout_seconds.max(1));
    let header = |name: header::HeaderName, value: &'static str| {
        SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
    };
    let hsts = https.then(|| header(header::STRICT_TRANSPORT_SECURITY, "max-age=31536000"));
    let limits = routes::Limits { face: face_limit };
    routes::ROUTES
        .iter()
        .fold(Router::new(), |r, route| {
            r.route(route.path, route.handlers(&limits))
        })
        .layer(DefaultBodyLimit::max(256 * 1024))
        .fallback(|| async { ApiError(AppError::NotFound("page".into())) })
        .layer(axum::middleware::from_fn(errors::json_errors))
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            body_timeout,
        ))
        .layer(header(header::CONTENT_SECURITY_POLICY, CSP))
        .layer(header(header::X_FRAME_OPTIONS, "DENY"))
        .layer(header(header::REFERRER_POLICY, "same-origin"))
        .layer(header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(tower::util::option_layer(hsts))
        .layer(axum::middleware::from_fn_with_state(
            std::sync::Arc::new(app.config.limits.trusted_proxies.clone()),
            crate::server::client::behind_proxies,
        ))
        .layer(axum::Extension(Https(https)))
        .with_state(app)
}

/// Liveness and what the server runs (models, calibration, gallery size); no token needed.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The server is up", body = Object)))]
pub(crate) async fn healthz(
    axum::extract::State(app): axum::extract::State<AppState>,
) -> impl IntoResponse {
    let m = &app.engine.manifest;
    Json(json!({
        "status": "ok",
        "demo": app.demo,
        "uptime_s": app.started.elapsed().as_secs(),
        "detector": m.detector.name,
        "embedders": m.embedders.iter().map(|e| &e.name).collect::<Vec<_>>(),
        "profile": m.profile,
        "kiosk_scorer": m.scorer.kiosk,
        "calibrated": app.visit_rule().threshold.is_finite(),
        "passive_liveness": m.liveness.as_ref().map(|l| &l.passive),
        "liveness_mode": app.config.liveness.mode,
        "gallery_templates": app.gallery.len(),
        "kiosks_seen": app.kiosk_health().len(),
    }))
}

/// Demo mode's guide for the start page (404 outside demo mode).
#[utoipa::path(get, path = "/api/v1/demo", tag = "operations",
    security(()),
    responses((status = 200, description = "The demo's accounts and sample dossiers", body = Object),
        (status = 404, description = "Not a demo server", body = ErrorBody)))]
pub(crate) async fn demo_guide(
    axum::extract::State(app): axum::extract::State<AppState>,
) -> ApiResult<impl IntoResponse> {
    let g = app
        .demo_guide
        .get()
        .ok_or_else(|| ApiError(AppError::NotFound("demo guide".into())))?;
    Ok(Json(g.clone()))
}

async fn index() -> Html<&'static str> {
    Html(include_str!("../../kiosk-ui/index.html"))
}
