//! The route table: every path the server answers and the handlers behind it. The router
//! is built from this table alone, so a test can walk every route (tests/office_matrix.rs:
//! each role of each office against another office's records) and a new route cannot be
//! forgotten there.

use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post, MethodRouter};

use super::{admin, desk, dossiers, intake, kiosk, openapi, session, status, ui, AppState};

/// What a route's handlers need to be built.
pub struct Limits {
    /// The largest face image a request may carry, in bytes.
    pub face: usize,
}

/// One path of the server and the handlers that answer it.
pub struct Route {
    pub path: &'static str,
    build: fn(&Limits) -> MethodRouter<AppState>,
}

impl Route {
    pub fn handlers(&self, limits: &Limits) -> MethodRouter<AppState> {
        (self.build)(limits)
    }
}

const fn r(path: &'static str, build: fn(&Limits) -> MethodRouter<AppState>) -> Route {
    Route { path, build }
}

/// Every route the server answers.
pub static ROUTES: &[Route] = &[
    r("/", |_| get(super::index)),
    r("/healthz", |_| get(super::healthz)),
    r("/api/v1/demo", |_| get(super::demo_guide)),
    r("/tra-cuu", |_| get(status::page)),
    r("/clerk", |_| get(ui::clerk_index)),
    r("/clerk/", |_| get(ui::clerk_index)),
    r("/clerk/{name}", |_| get(ui::clerk_asset)),
    r("/kiosk", |_| get(ui::kiosk_index)),
    r("/kiosk/", |_| get(ui::kiosk_index)),
    r("/kiosk/{name}", |_| get(ui::kiosk_asset)),
    r("/api/v1/kiosk/rating", |_| post(kiosk::rate)),
    r("/api/v1/kiosk/events", |_| get(kiosk::events)),
    r("/locales/{name}", |_| get(ui::locale)),
    r("/ui/{name}", |_| get(ui::shared_asset)),
    r("/api/v1/faces/check", |l| {
        post(intake::check_face).layer(DefaultBodyLimit::max(l.face))
    }),
    r("/api/v1/auth/login", |_| {
        post(session::login).layer(DefaultBodyLimit::max(session::LOGIN_BODY_LIMIT))
    }),
    r("/api/v1/auth/logout", |_| post(session::logout)),
    r("/api/v1/auth/me", |_| get(session::me)),
    r("/api/v1/consent/text", |_| get(intake::consent_text)),
    r("/api/v1/applicants", |_| {
        get(intake::search).post(intake::create_applicant)
    }),
    r("/api/v1/applicants/{id}/faces/discard", |_| {
        post(intake::discard_faces)
    }),
    r("/api/v1/applicants/{id}/faces/replace", |_| {
        post(intake::replace_faces)
    }),
    r("/api/v1/applicants/{id}/duplicate/{other}", |_| {
        get(intake::duplicate)
    }),
    r("/api/v1/applicants/{id}/duplicate/{other}/resolve", |_| {
        post(intake::resolve_duplicate)
    }),
    r("/api/v1/applicants/{id}", |_| get(intake::get_applicant)),
    r("/api/v1/applicants/{id}/consent", |_| {
        post(intake::grant_consent).delete(intake::withdraw_consent)
    }),
    r("/api/v1/applicants/{id}/consent/form", |_| {
        get(intake::consent_form)
    }),
    r("/api/v1/applicants/{id}/faces", |l| {
        post(intake::enrol_face).layer(DefaultBodyLimit::max(l.face))
    }),
    r("/api/v1/kiosk/frames", |l| {
        post(kiosk::frame).layer(DefaultBodyLimit::max(l.face))
    }),
    r("/api/v1/kiosk/lookup", |_| post(kiosk::lookup)),
    r("/api/v1/kiosk/confirm", |_| post(kiosk::confirm)),
    r("/api/v1/kiosk/help", |_| post(desk::call)),
    r("/api/v1/kiosk/help/{id}", |_| get(desk::call_status)),
    r("/api/v1/kiosk/speech", |_| post(kiosk::speech)),
    r("/api/v1/kiosk/setup", |_| get(kiosk::setup)),
    r("/api/v1/desk/events", |_| get(desk::events)),
    r("/api/v1/desk/help/{id}/answer", |_| post(desk::answer)),
    r("/api/v1/kiosk/pair", |_| {
        post(kiosk::pair).layer(DefaultBodyLimit::max(session::LOGIN_BODY_LIMIT))
    }),
    r("/admin", |_| get(ui::admin_index)),
    r("/admin/", |_| get(ui::admin_index)),
    r("/admin/{name}", |_| get(ui::admin_asset)),
    r("/metrics", |_| get(admin::metrics)),
    r("/api/v1/admin/settings", |_| {
        get(admin::get_settings).put(admin::put_settings)
    }),
    r("/api/v1/admin/users", |_| {
        get(admin::list_users).post(admin::create_user)
    }),
    r("/api/v1/admin/users/{id}", |_| post(admin::update_user)),
    r("/api/v1/admin/devices", |_| {
        get(admin::list_devices).post(admin::issue_device)
    }),
    r("/api/v1/admin/devices/{id}", |_| {
        delete(admin::revoke_device)
    }),
    r("/api/v1/admin/offices", |_| {
        get(admin::list_offices).post(admin::create_office)
    }),
    r("/api/v1/admin/consents", |_| get(admin::consents)),
    r("/api/v1/admin/applicants/{id}/reveal", |_| {
        post(admin::reveal)
    }),
    r("/api/v1/admin/qr", |_| get(admin::qr)),
    r("/api/v1/admin/applicants/{id}/purge", |_| {
        post(admin::purge)
    }),
    r("/api/v1/admin/requests", |_| {
        get(admin::list_requests).post(admin::create_request)
    }),
    r("/api/v1/admin/requests/{id}/export", |_| {
        get(admin::request_export)
    }),
    r("/api/v1/admin/requests/{id}/{step}", |_| {
        post(admin::advance_request)
    }),
    r("/api/v1/admin/retention", |_| {
        get(admin::retention_preview).post(admin::retention_run)
    }),
    r("/api/v1/admin/backups", |_| {
        get(admin::list_backups).post(admin::create_backup)
    }),
    r("/api/v1/admin/audit", |_| get(admin::audit)),
    r("/api/v1/admin/audit/verify", |_| get(admin::audit_verify)),
    r("/api/v1/admin/stats", |_| get(admin::stats)),
    r("/api/v1/openapi.json", |_| get(openapi::document)),
    r("/api/docs", |_| get(ui::api_docs_index)),
    r("/api/docs/{name}", |_| get(ui::api_docs_asset)),
    r("/api/v1/dossiers/events.csv", |_| {
        post(dossiers::import).layer(DefaultBodyLimit::max(dossiers::IMPORT_LIMIT))
    }),
    r("/api/v1/dossiers", |_| post(dossiers::create)),
    r("/api/v1/dossiers/{code}", |_| get(dossiers::get)),
    r("/api/v1/dossiers/{code}/receipt", |_| {
        get(dossiers::receipt)
    }),
    r("/api/v1/dossiers/{code}/events", |_| {
        post(dossiers::add_event)
    }),
    r("/api/v1/dossiers/{code}/unlock", |_| post(dossiers::unlock)),
    r("/api/v1/dossiers/{code}/apology", |_| {
        post(dossiers::apologise).get(dossiers::apology_letter)
    }),
    r("/api/v1/desk/overdue", |_| get(dossiers::overdue)),
];
