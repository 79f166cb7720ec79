//! The integration API's OpenAPI document (`GET /api/v1/openapi.json`), generated from the
//! handlers' and types' annotations, for the one-stop software vendors who integrate: dossier
//! status and history, status events one by one or as CSV, health and metrics.

use axum::response::IntoResponse;
use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{admin, dossiers, ErrorBody};
use crate::app::dossiers::{DossierView, EventInput, RowError, TimelineStep};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Hồ Sơ — integration API",
        description = "For the office's one-stop software: read a dossier's status and \
            history and record status events (one by one, or a CSV file). Authenticate with an \
            integration token issued by an admin (Quản trị → Thiết bị → Tích hợp), sent as \
            `Authorization: Bearer <token>`. Times are RFC 3339 or Vietnam local time. Errors \
            are JSON: `{\"error\": code, \"message\": text}`.",
    ),
    paths(dossiers::get, dossiers::add_event, dossiers::import, admin::metrics, super::healthz),
    components(schemas(
        DossierView,
        TimelineStep,
        EventInput,
        RowError,
        ErrorBody,
        dossiers::EventRecorded,
        dossiers::ImportResult,
        dossiers::ImportRejected
    )),
    modifiers(&BearerToken),
    tags(
        (name = "dossiers", description = "Dossier status and status events"),
        (name = "operations", description = "Health and monitoring"),
    )
)]
pub struct IntegrationApi;

/// The `bearer` security scheme the paths refer to.
struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        doc.components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "bearer",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .description(Some("An integration token (or an admin's for /metrics)"))
                        .build(),
                ),
            );
    }
}

/// `GET /api/v1/openapi.json`: public (it describes the API, not data).
pub async fn document() -> impl IntoResponse {
    Json(IntegrationApi::openapi())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_path_has_a_response_and_the_schemas_resolve() {
        let doc = IntegrationApi::openapi();
        let json = serde_json::to_value(&doc).unwrap();
        let paths = json["paths"].as_object().unwrap();
        for p in [
            "/api/v1/dossiers/{code}",
            "/api/v1/dossiers/{code}/events",
            "/api/v1/dossiers/events.csv",
            "/metrics",
            "/healthz",
        ] {
            assert!(paths.contains_key(p), "{p} missing");
        }
        let schemas = json["components"]["schemas"].as_object().unwrap();
        let text = json.to_string();
        for r in text.split("\"#/components/schemas/").skip(1) {
            let name = &r[..r.find('"').unwrap()];
            assert!(schemas.contains_key(name), "dangling $ref {name}");
        }
        assert!(json["components"]["securitySchemes"]["bearer"].is_object());
    }
}
