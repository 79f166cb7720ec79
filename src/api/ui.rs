//! The static pages (clerk desk, locales), embedded in the binary: no build step, works
//! offline on the LAN.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

/// (path, content type, bytes) of every embedded file.
const FILES: &[(&str, &str, &str)] = &[
    (
        "kiosk/index.html",
        "text/html; charset=utf-8",
        include_str!("../../kiosk-ui/kiosk/index.html"),
    ),
    (
        "kiosk/kiosk.js",
        "text/javascript; charset=utf-8",
        include_str!("../../kiosk-ui/kiosk/kiosk.js"),
    ),
    (
        "kiosk/kiosk.css",
        "text/css; charset=utf-8",
        include_str!("../../kiosk-ui/kiosk/kiosk.css"),
    ),
    (
        "clerk/index.html",
        "text/html; charset=utf-8",
        include_str!("../../kiosk-ui/clerk/index.html"),
    ),
    (
        "clerk/clerk.js",
        "text/javascript; charset=utf-8",
        include_str!("../../kiosk-ui/clerk/clerk.js"),
    ),
    (
        "clerk/overdue.js",
        "text/javascript; charset=utf-8",
        include_str!("../../kiosk-ui/clerk/overdue.js"),
    ),
    (
        "clerk/clerk.css",
        "text/css; charset=utf-8",
        include_str!("../../kiosk-ui/clerk/clerk.css"),
    ),
    (
        "admin/index.html",
        "text/html; charset=utf-8",
        include_str!("../../kiosk-ui/admin/index.html"),
    ),
    (
        "admin/charts.js",
        "text/javascript; charset=utf-8",
        include_str!("../../kiosk-ui/admin/charts.js"),
    ),
    (
        "admin/audit.js",
        "text/javascript; charset=utf-8",
        include_str!("../../kiosk-ui/admin/audit.js"),
    ),
    (
        "admin/admin.js",
        "text/javascript; charset=utf-8",
        include_str!("../../kiosk-ui/admin/admin.js"),
    ),
    (
        "admin/admin.css",
        "text/css; charset=utf-8",
        include_str!("../../kiosk-ui/admin/admin.css"),
    ),
    (
        "ui/home.js",
        "text/javascript; charset=utf-8",
        include_str!("../../kiosk-ui/home.js"),
    ),
    (
        "ui/print.js",
        "text/javascript; charset=utf-8",
        include_str!("../../kiosk-ui/print.js"),
    ),
    (
        "ui/staff.js",
        "text/javascript; charset=utf-8",
        include_str!("../../kiosk-ui/staff.js"),
    ),
    (
        "api-docs/index.html",
        "text/html; charset=utf-8",
        include_str!("../../kiosk-ui/api-docs/index.html"),
    ),
    (
        "api-docs/docs.js",
        "text/javascript; charset=utf-8",
        include_str!("../../kiosk-ui/api-docs/docs.js"),
    ),
    (
        "api-docs/swagger-ui-bundle.js",
        "text/javascript; charset=utf-8",
        include_str!("../../kiosk-ui/api-docs/swagger-ui-bundle.js"),
    ),
    (
        "api-docs/swagger-ui.css",
        "text/css; charset=utf-8",
        include_str!("../../kiosk-ui/api-docs/swagger-ui.css"),
    ),
    (
        "locales/vi.json",
        "application/json; charset=utf-8",
        include_str!("../../kiosk-ui/locales/vi.json"),
    ),
    (
        "locales/en.json",
        "application/json; charset=utf-8",
        include_str!("../../kiosk-ui/locales/en.json"),
    ),
];

fn file(path: &str) -> Response {
    match FILES.iter().find(|(p, _, _)| *p == path) {
        Some((_, ct, body)) => (
            [
                (header::CONTENT_TYPE, *ct),
                (header::CACHE_CONTROL, "no-cache"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            *body,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

pub async fn clerk_index() -> Response {
    file("clerk/index.html")
}

pub async fn clerk_asset(Path(name): Path<String>) -> Response {
    file(&format!("clerk/{name}"))
}

pub async fn kiosk_index() -> Response {
    file("kiosk/index.html")
}

pub async fn kiosk_asset(Path(name): Path<String>) -> Response {
    file(&format!("kiosk/{name}"))
}

pub async fn locale(Path(name): Path<String>) -> Response {
    file(&format!("locales/{name}"))
}

pub async fn admin_index() -> Response {
    file("admin/index.html")
}

pub async fn admin_asset(Path(name): Path<String>) -> Response {
    file(&format!("admin/{name}"))
}

/// `GET /api/docs`: the API reference (Swagger UI, vendored, over `/api/v1/openapi.json`).
pub async fn api_docs_index() -> Response {
    file("api-docs/index.html")
}

pub async fn api_docs_asset(Path(name): Path<String>) -> Response {
    file(&format!("api-docs/{name}"))
}

pub async fn shared_asset(Path(name): Path<String>) -> Response {
    file(&format!("ui/{name}"))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    fn keys(json: &str) -> BTreeSet<String> {
        let v: serde_json::Value = serde_json::from_str(json).expect("locale file is JSON");
        v.as_object()
            .expect("locale file is one object")
            .iter()
            .map(|(k, v)| {
                assert!(
                    v.as_str().is_some_and(|s| !s.trim().is_empty()),
                    "{k} is empty"
                );
                k.clone()
            })
            .collect()
    }

    #[test]
    fn vietnamese_and_english_have_the_same_keys() {
        let vi = keys(include_str!("../../kiosk-ui/locales/vi.json"));
        let en = keys(include_str!("../../kiosk-ui/locales/en.json"));
        let only_vi: Vec<_> = vi.difference(&en).collect();
        let only_en: Vec<_> = en.difference(&vi).collect();
        assert!(
            only_vi.is_empty() && only_en.is_empty(),
            "only in vi.json: {only_vi:?}; only in en.json: {only_en:?}"
        );
    }

    #[test]
    fn every_audit_action_reads_as_a_sentence() {
        let vi = keys(include_str!("../../kiosk-ui/locales/vi.json"));
        let missing: Vec<_> = crate::store::audit::Action::ALL
            .iter()
            .map(|a| format!("audit.{}", a.code()))
            .filter(|k| !vi.contains(k))
            .collect();
        assert!(missing.is_empty(), "no sentence for {missing:?}");
    }
}
