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

/// `POST /api/v1/kiosk/frames`: one camera frame of a kiosk page session; the kiosk's
/// decision so far (searching, hold still, turn your head, matched with the result, no match,
/// the second step's question …).
#[utoipa::path(post, path = "/api/v1/kiosk/frames", tag = "kiosk",
    params(
        ("X-Kiosk-Session" = String, Header, min_length = 1, max_length = 100,
            description = "The kiosk page's session (a random id it keeps until reloaded)"),
        ("X-Kiosk-Presence" = Option<String>, Header, nullable = false, pattern = "^[01]$",
            description = "`1`: only whether someone is still in front of the kiosk"),
        ("X-Kiosk-Mode" = Option<String>, Header, nullable = false, pattern = "^(face|qr)$",
            description = "`qr`: read a receipt's QR code only, no face"),
    ),
    request_body(content = Vec<u8>, content_type = "image/jpeg", description = "A JPEG, PNG or WebP frame"),
    security(("kiosk" = [])),
    responses((status = 200, description = "The kiosk's decision", body = crate::app::kiosk::FrameReply),
        (status = 422, description = "Not an image this server can read", body = super::ErrorBody)))]
pub async fn frame(
    State(app): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<impl IntoResponse> {
    let p = caller.require(&[Role::Kiosk])?.clone();
    let body = body.map_err(super::body_error)?;
    let session = session_of(&headers, true)?;
    let presence = flag(&headers, "x-kiosk-presence", &["0", "1"])? == Some("1");
    let qr_only = flag(&headers, "x-kiosk-mode", &["face", "qr"])? == Some("qr");
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

/// The kiosk page's session (header `X-Kiosk-Session`, at most 100 characters; empty when
/// absent, 400 when absent and `required`).
fn session_of(headers: &HeaderMap, required: bool) -> ApiResult<String> {
    let bad = || {
        ApiError(AppError::field(
            "X-Kiosk-Session",
            "X-Kiosk-Session must be 1 to 100 visible ASCII characters",
        ))
    };
    match headers.get("x-kiosk-session") {
        None if required => Err(bad()),
        None => Ok(String::new()),
        Some(v) => {
            let s = v.to_str().map_err(|_| bad())?;
            if s.is_empty() || s.len() > 100 {
                return Err(bad());
            }
            Ok(s.to_string())
        }
    }
}

/// A header with a closed set of values: None when absent, 400 when another value.
fn flag<'h>(
    headers: &'h HeaderMap,
    name: &'static str,
    allowed: &[&str],
) -> ApiResult<Option<&'h str>> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => match v.to_str().ok().filter(|s| allowed.contains(s)) {
            Some(s) => Ok(Some(s)),
            None => Err(ApiError(AppError::field(
                name,
                "a header value this API does not know",
            ))),
        },
    }
}

/// The keypad fallback: a dossier code and the last 4 digits of the applicant's ID number.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LookupBody {
    /// The dossier code as typed (a code of another shape is simply not found).
    #[schema(max_length = 100, example = "000.00.17.H29-261110-0002")]
    code: String,
    /// The last 4 digits of the ID number.
    #[schema(pattern = r"^\s*[0-9]{4}\s*$", example = "4567")]
    id_digits: String,
}

/// `POST /api/v1/kiosk/lookup`: the keypad look-up (misses counted per code and kiosk; a
/// code missed too often is locked for a while, 429 `code_locked`).
#[utoipa::path(post, path = "/api/v1/kiosk/lookup", tag = "kiosk",
    params(("X-Kiosk-Session" = Option<String>, Header, nullable = false, min_length = 1, max_length = 100,
        description = "The kiosk page's session")),
    request_body = LookupBody,
    security(("kiosk" = [])),
    responses((status = 200, description = "The applicant's dossiers", body = crate::app::kiosk::KioskResult),
        (status = 404, description = "No dossier with this code and these digits", body = super::ErrorBody)))]
pub async fn lookup(
    State(app): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(b): ApiJson<LookupBody>,
) -> ApiResult<impl IntoResponse> {
    let p = caller.require(&[Role::Kiosk])?.clone();
    let session = session_of(&headers, false)?;
    if b.code.chars().count() > 100 {
        return Err(AppError::field("code", "code: at most 100 characters").into());
    }
    let a = app.clone();
    Ok(Json(
        blocking(move || a.kiosk_lookup(&p, &session, &b.code, &b.id_digits)).await?,
    ))
}

/// The answer to the kiosk's second step.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmBody {
    /// The last 2 digits of the ID number; empty for "not me".
    #[schema(pattern = r"^\s*([0-9]{2})?\s*$", example = "67")]
    id_digits: String,
}

/// `POST /api/v1/kiosk/confirm`: the answer to the second step the frames endpoint asked
/// for (`state: "confirm"`) in this kiosk page session.
#[utoipa::path(post, path = "/api/v1/kiosk/confirm", tag = "kiosk",
    params(("X-Kiosk-Session" = String, Header, min_length = 1, max_length = 100,
        description = "The kiosk page's session")),
    request_body = ConfirmBody,
    security(("kiosk" = [])),
    responses((status = 200, description = "The kiosk's decision", body = crate::app::kiosk::FrameReply),
        (status = 409, description = "No question waits in this session", body = super::ErrorBody)))]
pub async fn confirm(
    State(app): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(b): ApiJson<ConfirmBody>,
) -> ApiResult<impl IntoResponse> {
    let p = caller.require(&[Role::Kiosk])?.clone();
    let session = session_of(&headers, true)?;
    let a = app.clone();
    Ok(Json(
        blocking(move || a.kiosk_confirm(&p, &session, &b.id_digits)).await?,
    ))
}

/// A citizen's rating.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RatingBody {
    #[schema(minimum = 1, maximum = 5)]
    score: i64,
}

/// An answer with nothing more to say.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Done {
    pub ok: bool,
}

/// One tap after a result: the citizen's rating of the service (1–5), kept per office.
#[utoipa::path(post, path = "/api/v1/kiosk/rating", tag = "kiosk",
    request_body = RatingBody,
    security(("kiosk" = [])),
    responses((status = 201, description = "Recorded", body = Done),
        (status = 409, description = "No result to rate (a visit is rated once)", body = super::ErrorBody)))]
pub async fn rate(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(b): ApiJson<RatingBody>,
) -> ApiResult<impl IntoResponse> {
    let p = caller.require(&[Role::Kiosk])?.clone();
    blocking(move || app.rate(&p, b.score)).await?;
    Ok((axum::http::StatusCode::CREATED, Json(Done { ok: true })))
}

/// What a kiosk page needs of its office.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct KioskSetup {
    /// What the keypad fills in (the office's codes' common start, e.g. `000.00.17.H29-`).
    pub code_prefix: String,
    /// How long a result stays on screen with nobody in front of the kiosk.
    pub inactivity_seconds: u64,
}

/// `GET /api/v1/kiosk/setup`: what the kiosk page needs of its office (keypad prefix).
#[utoipa::path(get, path = "/api/v1/kiosk/setup", tag = "kiosk",
    security(("kiosk" = [])),
    responses((status = 200, description = "The office's kiosk settings", body = KioskSetup)))]
pub async fn setup(State(app): State<AppState>, caller: Caller) -> ApiResult<impl IntoResponse> {
    let p = caller.require(&[Role::Kiosk])?.clone();
    Ok(Json(blocking(move || app.kiosk_setup(&p)).await?))
}

/// A phrase to read aloud.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SpeechBody {
    #[schema(pattern = "^(vi|en)$")]
    lang: String,
    /// The greeting or a phrase of the result this kiosk was shown (1–400 characters, no
    /// control characters but spaces).
    #[schema(
        min_length = 1,
        max_length = 400,
        pattern = r"^[^\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f]*$"
    )]
    text: String,
}

/// `POST /api/v1/kiosk/speech`: one phrase of the result read aloud (WAV), synthesised on
/// this server by espeak-ng and cached per phrase.
#[utoipa::path(post, path = "/api/v1/kiosk/speech", tag = "kiosk",
    request_body = SpeechBody,
    security(("kiosk" = [])),
    responses((status = 200, description = "The phrase spoken", body = Vec<u8>, content_type = "audio/wav"),
        (status = 422, description = "Not a phrase this kiosk was shown (`not_speakable`)", body = super::ErrorBody)))]
pub async fn speech(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(b): ApiJson<SpeechBody>,
) -> ApiResult<impl IntoResponse> {
    let p = caller.require(&[Role::Kiosk])?.clone();
    let lang = crate::speech::Lang::parse(&b.lang)
        .ok_or_else(|| ApiError(AppError::Invalid("lang must be vi or en".into())))?;
    if b.text.is_empty() || b.text.chars().count() > crate::speech::MAX_PHRASE {
        return Err(AppError::from(crate::speech::SpeechError::BadPhrase).into());
    }
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

/// A kiosk's one-time setup code.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PairBody {
    #[schema(max_length = 64)]
    code: String,
}

/// A kiosk's token.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Paired {
    /// Sent as `Authorization: Bearer <token>` from now on.
    token: String,
}

/// A kiosk page spends its one-time setup code for its token.
#[utoipa::path(post, path = "/api/v1/kiosk/pair", tag = "kiosk",
    request_body = PairBody,
    security(()),
    responses((status = 200, description = "The kiosk's token", body = Paired),
        (status = 403, description = "Setup code unknown, used or expired", body = super::ErrorBody)))]
pub async fn pair(
    State(app): State<AppState>,
    ApiJson(b): ApiJson<PairBody>,
) -> ApiResult<impl IntoResponse> {
    let token = super::blocking(move || app.pair(&b.code)).await?;
    Ok(Json(Paired { token }))
}

/// Decisions of the server-side camera as server-sent events (`hoso serve --camera`), to
/// the kiosk device the camera serves only.
#[utoipa::path(get, path = "/api/v1/kiosk/events", tag = "kiosk",
    security(("kiosk" = [])),
    responses((status = 200, description = "Server-sent events, each a kiosk decision (JSON)", body = String, content_type = "text/event-stream")))]
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
