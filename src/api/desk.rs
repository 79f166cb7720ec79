//! The kiosk's "call staff" button and the clerk desk's live list of those requests
//! (server-sent events: the requests still waiting on connect, then each new request and
//! each answer as it happens).

use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::IntoResponse;
use axum::Json;
use tokio::sync::broadcast::error::RecvError;

use super::{blocking, ApiResult, AppState, Caller, STAFF};
use crate::auth::Role;

/// `POST /api/v1/kiosk/help`: a citizen at the kiosk asks for staff.
#[utoipa::path(post, path = "/api/v1/kiosk/help", tag = "kiosk",
    security(("kiosk" = [])),
    responses((status = 201, description = "The request", body = crate::store::help::HelpCall)))]
pub async fn call(State(app): State<AppState>, caller: Caller) -> ApiResult<impl IntoResponse> {
    let p = caller.require(&[Role::Kiosk])?.clone();
    let call = blocking(move || app.call_staff(&p)).await?;
    Ok((axum::http::StatusCode::CREATED, Json(call)))
}

/// `GET /api/v1/kiosk/help/{id}`: the kiosk's own request, to say "staff are coming"
/// once a clerk answered it.
#[utoipa::path(get, path = "/api/v1/kiosk/help/{id}", tag = "kiosk",
    params(("id" = i64, Path, description = "The request")),
    security(("kiosk" = [])),
    responses((status = 200, description = "The request", body = crate::store::help::HelpCall)))]
pub async fn call_status(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<impl IntoResponse> {
    let p = caller.require(&[Role::Kiosk])?.clone();
    Ok(Json(blocking(move || app.my_help_call(&p, id)).await?))
}

/// `POST /api/v1/desk/help/{id}/answer`: a clerk goes to the kiosk.
#[utoipa::path(post, path = "/api/v1/desk/help/{id}/answer", tag = "desk",
    params(("id" = i64, Path, description = "The request")),
    security(("session" = [], "csrf" = [])),
    responses((status = 200, description = "The request, answered", body = crate::store::help::HelpCall)))]
pub async fn answer(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<impl IntoResponse> {
    let p = caller.require(STAFF)?.clone();
    Ok(Json(blocking(move || app.answer_help(&p, id)).await?))
}

/// `GET /api/v1/desk/events`: the requests waiting now, then new ones and answers.
#[utoipa::path(get, path = "/api/v1/desk/events", tag = "desk",
    security(("session" = [])),
    responses((status = 200, description = "Server-sent events: `{type: \"help\", call}` and answers", body = String, content_type = "text/event-stream")))]
pub async fn events(State(app): State<AppState>, caller: Caller) -> ApiResult<impl IntoResponse> {
    let p = caller.require(STAFF)?.clone();
    let slot = super::stream_slot(&app, &p)?;
    // Subscribe before reading what waits, so nothing falls between the two.
    let rx = app.help_events.subscribe();
    let (a, by) = (app.clone(), p.clone());
    let waiting = blocking(move || a.waiting_help(&by)).await?;
    let first: Vec<String> = waiting
        .iter()
        .map(|c| serde_json::json!({"type": "help", "call": c}).to_string())
        .collect();
    // Only the requests of this desk's office's kiosks (every office's for the province).
    let scope = p.office;
    let stream = futures_util::stream::unfold(
        (first.into_iter(), rx),
        move |(mut first, mut rx)| async move {
            if let Some(json) = first.next() {
                return Some((
                    Ok::<_, std::convert::Infallible>(Event::default().data(json)),
                    (first, rx),
                ));
            }
            loop {
                match rx.recv().await {
                    Ok((Some(office), _)) if scope.is_some_and(|mine| mine != office) => continue,
                    Ok((_, json)) => return Some((Ok(Event::default().data(json)), (first, rx))),
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return None,
                }
            }
        },
    );
    Ok(Sse::new(super::bounded(stream, slot)).keep_alive(KeepAlive::default()))
}
