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
    let body = body.map_err(super::body_error)?;
    let session = session_of(&headers);
    let presence = headers.get("x-kiosk-presence").is_some_and(|v| v == "1");
    let qr_only = headers.get("x-kiosk-mode").is_some_and(|v| v == "qr");
    let a = app.clone();
    Ok(Json(
        blocking(move || {
            if presence {
                a.kiosk_presence(&p, &body)
            } else if qr_only {
                a.kiosk_receipt_frame(&p, &session, &body)
            } else {
                a.kiosk_frame(&p, &session, &body)
            }
        })
        .await?,
    ))
}

/// The kiosk page's session (header `X-Kiosk-Session`; empty when absent).
fn session_of(headers: &HeaderMap) -> String {
    headers
        .get("x-kiosk-session")
        .and_then(|v| v.to_str().ok())
        .filter(|s| s.len() <= 100)
        .unwrap_or("")
        .to_string()
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
    headers: HeaderMap,
    ApiJson(b): ApiJson<LookupBody>,
) -> ApiResult<impl IntoResponse> {
    let p = caller.require(&[Role::Kiosk])?.clone();
    let session = session_of(&headers);
    let a = app.clone();
    Ok(Json(
        blocking(move || a.kiosk_lookup(&p, &session, &b.code, &b.id_digits)).await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfirmBody {
    /// The last 2 digits of the ID number; empty for "not me".
    id_digits: String,
}

/// `POST /api/v1/kiosk/confirm`: the answer to the second step the frames endpoint asked
/// for (`state: "confirm"`) in this kiosk page session.
pub async fn confirm(
    State(app): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(b): ApiJson<ConfirmBody>,
) -> ApiResult<impl IntoResponse> {
    let p = caller.require(&[Role::Kiosk])?.clone();
    let session = session_of(&headers);
    let a = app.clone();
    Ok(Json(
        blocking(move || a.kiosk_confirm(&p, &session, &b.id_digits)).await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RatingBody {
    score: i64,
}

/// One tap after a result: the citizen's rating of the service (1–5), kept per office.
pub async fn rate(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(b): ApiJson<RatingBody>,
) -> ApiResult<impl IntoResponse> {
    let p = caller.require(&[Role::Kiosk])?.clone();
    blocking(move || app.rate(&p, b.score)).await?;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(serde_json::json!({"ok": true})),
    ))
}

/// `GET /api/v1/kiosk/setup`: what the kiosk page needs of its office (keypad prefix).
pub async fn setup(State(app): State<AppState>, caller: Caller) -> ApiResult<impl IntoResponse> {
    let p = caller.require(&[Role::Kiosk])?.clone();
    Ok(Json(blocking(move || app.kiosk_setup(&p)).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpeechBody {
    lang: String,
    text: String,
}

/// `POST /api/v1/kiosk/speech`: one phrase of the result read aloud (WAV), synthesised on
/// this server by espeak-ng and cached per phrase.
pub async fn speech(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(b): ApiJson<SpeechBody>,
) -> ApiResult<impl IntoResponse> {
    let p = caller.require(&[Role::Kiosk])?.clone();
    let lang = crate::speech::Lang::parse(&b.lang)
        .ok_or_else(|| ApiError(AppError::Invalid("lang must be vi or en".into())))?;
    let audio = blocking(move || app.speak(&p, lang, &b.text)).await?;
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "audio/wav"),
            (axum::http::header::CACHE_CONTROL, "no-store"),
        ],
        Bytes::from_owner(Audio(audio)),
    ))
}

/// Cached audio handed to the response without a copy.
struct Audio(std::sync::Arc<Vec<u8>>);

impl AsRef<[u8]> for Audio {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PairBody {
    code: String,
}

/// A kiosk page spends its one-time setup code for its token.
pub async fn pair(
    State(app): State<AppState>,
    ApiJson(b): ApiJson<PairBody>,
) -> ApiResult<impl IntoResponse> {
    let token = super::blocking(move || app.pair(&b.code)).await?;
    Ok(Json(serde_json::json!({"token": token})))
}

/// Decisions of the server-side camera as server-sent events (`hoso serve --camera`), to
/// the kiosk device the camera serves only.
pub async fn events(State(app): State<AppState>, caller: Caller) -> ApiResult<impl IntoResponse> {
    let p = caller.require(&[Role::Kiosk])?;
    let slot = super::stream_slot(&app, p)?;
    let me = p.id;
    let rx = app.events.subscribe();
    let stream = futures_util::stream::unfold(rx, move |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok((device, _)) if device != me => continue,
                Ok((_, json)) => {
                    let ev = axum::response::sse::Event::default().data(json);
                    return Some((Ok::<_, std::convert::Infallible>(ev), rx));
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Ok(axum::response::sse::Sse::new(super::bounded(stream, slot))
        .keep_alive(axum::response::sse::KeepAlive::default()))
}
