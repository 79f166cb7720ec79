//! `GET /tra-cuu?ma=<code>&t=<token>`: the receipt QR's link, for a citizen's phone. A
//! mobile-first page in Vietnamese (English beneath), with the one dossier and what to do
//! next; no sign-in. Unknown links get a page saying so, not an API error.

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::AppState;
use crate::app::forms::esc;
use crate::app::AppError;
use crate::server::listen::ClientAddr;

#[derive(Deserialize)]
pub struct Lookup {
    ma: Option<String>,
    t: Option<String>,
}

/// `2026-11-20T09:00:00+07:00` → `20/11/2026 09:00`.
fn local(rfc3339: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| t.format("%d/%m/%Y %H:%M").to_string())
        .unwrap_or_else(|_| rfc3339.to_string())
}

/// The page around a body: one head and style for every status page.
fn layout(title: &str, body: &str) -> String {
    format!(
        include_str!("../../templates/status-layout.html"),
        title = title,
        body = body
    )
}

fn missing(status: StatusCode, retry_after: Option<u64>) -> Response {
    let page = layout(
        "Không tìm thấy hồ sơ",
        include_str!("../../templates/status-missing.html"),
    );
    let mut r = (status, Html(page)).into_response();
    if let Some(s) = retry_after {
        r.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from(s));
    }
    r
}

pub async fn page(
    State(app): State<AppState>,
    client: Option<axum::Extension<ClientAddr>>,
    Query(q): Query<Lookup>,
) -> Response {
    let (Some(code), Some(token)) = (q.ma, q.t) else {
        return missing(StatusCode::NOT_FOUND, None);
    };
    let ip = ClientAddr::ip_of(client);
    let a = app.clone();
    let found = super::blocking(move || {
        let r = a.public_status(ip, &code, &token)?;
        // The dossier's own office, not the server's default one.
        let office = match r.dossiers.first() {
            Some(d) => a.office(d.view.office_id)?.name,
            None => a.config.office.name.clone(),
        };
        Ok((r, office))
    });
    let (r, office) = match found.await {
        Ok(r) => r,
        Err(super::ApiError(AppError::Throttled(s))) => {
            return missing(StatusCode::TOO_MANY_REQUESTS, Some(s))
        }
        Err(super::ApiError(AppError::NotFound(_))) => return missing(StatusCode::NOT_FOUND, None),
        Err(e) => return e.into_response(),
    };
    let Some(d) = r.dossiers.first() else {
        return missing(StatusCode::NOT_FOUND, None);
    };
    let v = &d.view;
    let timeline: String = v
        .timeline
        .iter()
        .map(|s| format!("<li>{} — {}</li>", local(&s.at), esc(s.status_text)))
        .collect();
    let late = if v.overdue {
        "<div class=\"late\">Quá hạn · Overdue</div>"
    } else {
        ""
    };
    let body = format!(
        include_str!("../../templates/status.html"),
        code = esc(&v.code),
        name = esc(&r.display_name),
        procedure = esc(&v.procedure),
        status = esc(v.status_text),
        status_en = esc(v.status_text_en),
        late = late,
        received = local(&v.received_at),
        due = local(&v.due_at),
        due_label = if v.moved_with_apology {
            "Hẹn lại · New appointment"
        } else {
            "Hẹn trả · Appointment"
        },
        next = esc(&d.next_action),
        next_en = esc(&d.next_action_en),
        timeline = timeline,
        office = esc(&office),
    );
    let page = layout(&format!("Tình trạng hồ sơ {}", esc(&v.code)), &body);
    (
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        Html(page),
    )
        .into_response()
}
