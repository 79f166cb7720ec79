//! The API's OpenAPI 3.1 document (`GET /api/v1/openapi.json`), generated from the
//! handlers' and types' annotations: every `/api/v1` route (plus `/healthz` and `/metrics`)
//! with its credentials (a staff session with its CSRF header, a kiosk's token, an
//! integration token), its request and answer schemas, and every status it can answer.
//! The reference page that renders it is `/api/docs` (see `api::docs`).

use std::sync::OnceLock;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use super::{admin, desk, dossiers, intake, kiosk, session, AppState};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Hồ Sơ API",
        description = "The dossier-status kiosk's HTTP API: intake and desks (staff sessions), \
            the lobby kiosks (kiosk tokens), administration (admin sessions), and the office's \
            one-stop software (integration tokens).\n\n\
            **Credentials.** A clerk or admin signs in with `POST /api/v1/auth/login`: the \
            answer sets the `hoso_session` cookie and gives a `csrf_token`, sent back as \
            `X-CSRF-Token` with every request that changes something. Kiosks and integrations \
            send `Authorization: Bearer <token>` (tokens are issued by an admin: Quản trị → \
            Thiết bị). A wrong token is 401; a right one without the role is 403.\n\n\
            **Errors** are JSON: `{\"error\": code, \"message\": text, \"field\"?: name}`. 400: \
            the request does not match this document; 422: it does, but its content cannot be \
            used (an image without a usable face, a date that does not exist, a CCCD whose \
            province code does not); 429 and 503 carry `Retry-After`.\n\n\
            Times are unix seconds in answers; in requests RFC 3339 or Vietnam local time.",
    ),
    paths(
        super::healthz, super::demo_guide, document, admin::metrics,
        session::login, session::logout, session::me,
        intake::consent_text, intake::search, intake::create_applicant, intake::get_applicant,
        intake::grant_consent, intake::withdraw_consent, intake::consent_form,
        intake::check_face, intake::enrol_face, intake::discard_faces, intake::replace_faces,
        intake::duplicate, intake::resolve_duplicate,
        dossiers::create, dossiers::get, dossiers::add_event, dossiers::import,
        dossiers::receipt, dossiers::apologise, dossiers::apology_letter, dossiers::unlock,
        dossiers::overdue,
        desk::events, desk::answer,
        kiosk::pair, kiosk::setup, kiosk::frame, kiosk::lookup, kiosk::confirm, kiosk::rate,
        kiosk::speech, kiosk::events, desk::call, desk::call_status,
        admin::get_settings, admin::put_settings, admin::list_users, admin::create_user,
        admin::update_user, admin::list_devices, admin::issue_device, admin::revoke_device,
        admin::list_offices, admin::create_office, admin::consents, admin::reveal,
        admin::purge, admin::qr, admin::list_requests, admin::create_request,
        admin::request_export, admin::advance_request, admin::retention_preview,
        admin::retention_run, admin::list_backups, admin::create_backup, admin::audit,
        admin::audit_verify, admin::stats,
    ),
    components(schemas(super::ErrorBody)),
    modifiers(&Credentials, &Errors),
    tags(
        (name = "session", description = "Sign-in and sign-out of clerks and admins"),
        (name = "intake", description = "Applicants, consent and face enrolment at the desk"),
        (name = "dossiers", description = "Dossiers, their status events and printables"),
        (name = "desk", description = "The clerk desk's live lists"),
        (name = "kiosk", description = "The lobby kiosk (kiosk tokens)"),
        (name = "admin", description = "Administration (admin sessions)"),
        (name = "operations", description = "Health, monitoring and this document"),
    )
)]
pub struct ApiDoc;

/// The four credentials the operations name.
struct Credentials;

impl Modify for Credentials {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let c = doc.components.get_or_insert_with(Default::default);
        let bearer = |what: &str| {
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(what))
                    .build(),
            )
        };
        c.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                super::SESSION_COOKIE,
                "A clerk's or admin's session (POST /api/v1/auth/login)",
            ))),
        );
        c.add_security_scheme(
            "csrf",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-CSRF-Token",
                "The session's csrf_token, with every request that changes something",
            ))),
        );
        c.add_security_scheme("kiosk", bearer("A kiosk's token (from its setup code)"));
        c.add_security_scheme(
            "integration",
            bearer("An integration token of the one-stop software"),
        );
    }
}

/// The errors every operation can answer, added where the operation does not describe
/// them itself: 400 when it takes input, 401/403 when it needs credentials, 404 when its
/// path names a record, 409 when it changes something, 422 when its input's content
/// cannot be used, 408/413 when it takes a body, and the server's own 429/500/503/507.
struct Errors;

impl Modify for Errors {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        for item in doc.paths.paths.values_mut() {
            let ops = [
                ("get", item.get.as_mut()),
                ("put", item.put.as_mut()),
                ("post", item.post.as_mut()),
                ("delete", item.delete.as_mut()),
            ];
            for (method, op) in ops {
                if let Some(op) = op {
                    add_errors(method, op);
                }
            }
        }
    }
}

fn add_errors(method: &str, op: &mut Operation) {
    let secured = op
        .security
        .as_ref()
        .is_some_and(|s| !s.is_empty() && s.iter().any(|r| !is_empty_requirement(r)));
    let has_body = op.request_body.is_some();
    let has_input = has_body || op.parameters.as_ref().is_some_and(|p| !p.is_empty());
    let unsafe_method = !matches!(method, "get" | "head");
    let errors: [(&str, bool, &str); 12] = [
        ("400", has_input, "The request does not match this document"),
        ("401", secured, "No credentials, or unknown or expired ones"),
        (
            "403",
            secured,
            "The credentials' role may not do this (or the CSRF header is missing)",
        ),
        (
            "404",
            true,
            "No such record (or not this office's), or a page that is not there",
        ),
        (
            "409",
            unsafe_method && secured,
            "The record's state does not allow this now",
        ),
        (
            "422",
            has_input,
            "The request matches this document but its content cannot be used",
        ),
        ("408", has_body, "The body arrived too slowly"),
        ("413", has_body, "The body is too large"),
        ("429", true, "Too many requests; see Retry-After"),
        ("500", true, "A fault of the server (see its log)"),
        (
            "503",
            true,
            "Busy, or the database is unavailable; see Retry-After",
        ),
        (
            "507",
            secured,
            "The server's disk is full; nothing was changed",
        ),
    ];
    for (status, when, what) in errors {
        if when && !op.responses.responses.contains_key(status) {
            op.responses
                .responses
                .insert(status.to_string(), error(what));
        }
    }
}

fn is_empty_requirement(r: &utoipa::openapi::security::SecurityRequirement) -> bool {
    serde_json::to_value(r).is_ok_and(|v| v.as_object().is_some_and(|o| o.is_empty()))
}

fn error(what: &str) -> RefOr<Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(what)
            .content(
                "application/json",
                utoipa::openapi::ContentBuilder::new()
                    .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                        "ErrorBody",
                    ))))
                    .build(),
            )
            .build(),
    )
}

/// The document as served: the dossier-code pattern is the office's configured one.
pub fn served(code_pattern: &str) -> serde_json::Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    doc["info"]["version"] = env!("CARGO_PKG_VERSION").into();
    // A tagged enum's variants take no other field (serde's `deny_unknown_fields`).
    for v in doc["components"]["schemas"]["DuplicateChoice"]["oneOf"]
        .as_array_mut()
        .into_iter()
        .flatten()
    {
        v["additionalProperties"] = false.into();
    }
    if code_pattern != crate::dossier::DEFAULT_CODE_PATTERN {
        set_code_pattern(&mut doc, code_pattern);
    }
    doc
}

/// Every dossier-code parameter and property takes `pattern` (matched after trimming and
/// upper-casing, so letters in any case are accepted: the document says so).
fn set_code_pattern(doc: &mut serde_json::Value, pattern: &str) {
    let lenient = format!("(?i){pattern}");
    if let Some(paths) = doc["paths"].as_object_mut() {
        for item in paths.values_mut() {
            for op in item
                .as_object_mut()
                .into_iter()
                .flat_map(|o| o.values_mut())
            {
                for p in op["parameters"].as_array_mut().into_iter().flatten() {
                    if p["name"] == "code" && p["in"] == "path" {
                        p["schema"]["pattern"] = lenient.clone().into();
                    }
                }
            }
        }
    }
    let body = &mut doc["components"]["schemas"]["NewDossierBody"]["properties"]["code"];
    if body.is_object() {
        body["pattern"] = lenient.into();
    }
}

/// `GET /api/v1/openapi.json`: this document; public (it describes the API, not data).
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "operations",
    security(()),
    responses((status = 200, description = "This document", body = Object)))]
pub async fn document(State(app): State<AppState>) -> impl IntoResponse {
    static DOC: OnceLock<String> = OnceLock::new();
    let text = DOC.get_or_init(|| served(&app.config.office.code_pattern).to_string());
    ([(header::CONTENT_TYPE, "application/json")], text.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_answers_errors_and_the_schemas_resolve() {
        let json = served(crate::dossier::DEFAULT_CODE_PATTERN);
        assert!(json["openapi"].as_str().unwrap().starts_with("3.1"));
        let paths = json["paths"].as_object().unwrap();
        let schemas = json["components"]["schemas"].as_object().unwrap();
        let text = json.to_string();
        for r in text.split("\"#/components/schemas/").skip(1) {
            let name = &r[..r.find('"').unwrap()];
            assert!(schemas.contains_key(name), "dangling $ref {name}");
        }
        for (path, item) in paths {
            for (method, op) in item.as_object().unwrap() {
                let r = op["responses"].as_object().unwrap();
                assert!(r.contains_key("500"), "{method} {path}: no 500");
                if op["security"]
                    .as_array()
                    .is_some_and(|s| s.iter().any(|r| r != &serde_json::json!({})))
                {
                    assert!(
                        r.contains_key("401") && r.contains_key("403"),
                        "{method} {path}"
                    );
                }
            }
        }
        for s in ["session", "csrf", "kiosk", "integration"] {
            assert!(json["components"]["securitySchemes"][s].is_object(), "{s}");
        }
    }

    #[test]
    fn a_configured_code_pattern_is_the_documented_one() {
        let json = served(r"^HS-\d{6}$");
        let p = &json["paths"]["/api/v1/dossiers/{code}"]["get"]["parameters"][0];
        assert_eq!(p["schema"]["pattern"], r"(?i)^HS-\d{6}$");
        assert_eq!(
            json["components"]["schemas"]["NewDossierBody"]["properties"]["code"]["pattern"],
            r"(?i)^HS-\d{6}$"
        );
    }
}
