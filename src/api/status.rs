//! `GET /tra-cuu?ma=<code>&t=<token>`: the receipt QR's link, for a citizen's phone. A
//! mobile-first page in Vietnamese (English beneath), with the one dossier and what to do
//! next; no sign-in. Unknown links get a page saying so, not an API error.

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::AppState;
use crate::app::html::{render, StatusMissing, StatusPage};
use crate::app::AppError;
use crate::server::client::ClientAddr;

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

fn missing(status: StatusCode, retry_after: Option<u64>) -> Response {
    let page = match render(&StatusMissing) {
        Ok(p) => p,
        Err(e) => return super::ApiError(e).into_response(),
    };
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
    let page = render(&StatusPage {
        code: &v.code,
        name: &r.display_name,
        procedure: &v.procedure,
        status: v.status_text,
        status_en: v.status_text_en,
        overdue: v.overdue,
        received: local(&v.received_at),
        due: local(&v.due_at),
        due_label: if v.moved_with_apology {
            "Hẹn lại · New appointment"
        } else {
            "Hẹn trả · Appointment"
        },
        next: &d.next_action,
        next_en: &d.next_action_en,
        timeline: v
            .timeline
            .iter()
            .map(|s| (local(&s.at), s.status_text))
            .collect(),
        office: &office,
    });
    let page = match page {
        Ok(p) => p,
        Err(e) => return super::ApiError(e).into_response(),
    };
    (
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        Html(page),
    )
        .into_response()
}
