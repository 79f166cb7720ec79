//! Offices stay sealed (DESIGN.md §9), route by route: every route of the router
//! (`hoso::api::routes::ROUTES`), every method, called by each kind of credential of office A
//! (its admin, a clerk, a kiosk, an integration token) against office B's records. A route
//! that names a record (`{id}`, `{code}`, `{other}`) must answer as if B's record did not
//! exist; any other route must not show B's people. Then the data-subject requests, searches,
//! forms and codes of issue 23, and what a province-wide admin and a clerk who sees the
//! citizen's ID card may still do.

mod common;

use std::io::{Read, Write};

use common::{Client, Server, OFFICE_B, PASSWORD, RECOGNITION_ONLY};
use serde_json::{json, Value};

const CODE_A: &str = "000.00.17.H29-261120-0001";
const CODE_B: &str = "000.00.18.H29-261120-0001";
const NAME_B: &str = "Phạm Thị Bình";
const ID_B: &str = "001090022222";
const PHONE_B: &str = "0909222222";

use common::issue_token as token;

/// Office B's records the sweep aims at.
struct Targets {
    applicant: i64,
    user: i64,
    device: i64,
    request: i64,
    call: i64,
    own_applicant: i64,
}

impl Targets {
    /// The route's path with its parameters naming office B's records.
    fn fill(&self, path: &str) -> String {
        let id = if path.starts_with("/api/v1/admin/users/") {
            self.user
        } else if path.starts_with("/api/v1/admin/devices/") {
            self.device
        } else if path.starts_with("/api/v1/admin/requests/") {
            self.request
        } else if path.starts_with("/api/v1/desk/help/") {
            self.call
        } else if path.contains("/duplicate/") {
            // Office A's own applicant, asking about B's as the "other" record.
            self.own_applicant
        } else {
            self.applicant
        };
        path.replace("{id}", &id.to_string())
            .replace("{other}", &self.applicant.to_string())
            .replace("{code}", CODE_B)
            .replace("{step}", "complete")
            .replace("{name}", "index.html")
    }
}

/// A well-formed body for the route, so that only the office rule can refuse it.
fn body_for(path: &str, consent_version: &str) -> Value {
    match path {
        p if p.ends_with("/faces/discard") || p.ends_with("/faces/replace") => {
            json!({"templates": [1]})
        }
        p if p.ends_with("/consent") => json!({"text_version": consent_version, "method": "tick"}),
        p if p.ends_with("/purge") => json!({"note": "x"}),
        p if p.starts_with("/api/v1/admin/users/") => json!({"active": false}),
        p if p.starts_with("/api/v1/admin/requests/") => json!({"note": "x"}),
        p if p.ends_with("/events") && p.starts_with("/api/v1/dossiers/") => {
            json!({"status": 4, "at": "2026-11-21 08:00"})
        }
        p if p.ends_with("/resolve") => json!({"choice": "use_existing"}),
        p if p.ends_with("/apology") => json!({"new_due_at": "2027-01-15"}),
        _ => json!({}),
    }
}

/// Status of a request whose answer may never end (an event stream): headers only.
fn status_only(c: &Client, method: &str, path: &str) -> u16 {
    let addr = c.base.trim_start_matches("http://").to_string();
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\n");
    if let Some(cookie) = &c.cookie {
        head += &format!("Cookie: {cookie}\r\n");
    }
    if let Some(csrf) = &c.csrf {
        head += &format!("X-CSRF-Token: {csrf}\r\n");
    }
    if let Some(b) = &c.bearer {
        head += &format!("Authorization: Bearer {b}\r\n");
    }
    s.write_all(format!("{head}\r\n").as_bytes()).unwrap();
    let mut buf = [0u8; 12];
    s.read_exact(&mut buf).unwrap();
    String::from_utf8_lossy(&buf[9..12]).parse().unwrap()
}

/// A query value, percent-encoded.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Whether an answer shows one of office B's people or records.
fn leaks(body: &Value) -> Option<&'static str> {
    let text = body.to_string();
    [
        NAME_B,
        "Bình",
        ID_B,
        PHONE_B,
        "clerk_b",
        "Sảnh B",
        "Bến Thành",
    ]
    .into_iter()
    .find(|m| text.contains(m))
}

#[test]
fn every_route_keeps_another_office_s_records_out_of_reach() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let conf = data.join("config.toml");
    std::fs::write(&conf, RECOGNITION_ONLY).unwrap();
    common::create_office_b(data, &[]);
    common::two_offices_staff(data);
    let kiosk_a = token(data, "kiosk", "Sảnh A", Some("default"));
    let kiosk_b = token(data, "kiosk", "Sảnh B", Some(OFFICE_B));
    let int_a = token(data, "integration", "Một cửa A", Some("default"));
    let conf_arg = conf.to_str().unwrap().to_string();
    let server = Server::start_at(data, &["--config", &conf_arg]);
    let base = &server.base;
    let login = |u: &str| Client::login(base, u, PASSWORD);
    let (province, admin_a, admin_b, clerk_a, clerk_b) = (
        login("province"),
        login("admin_a"),
        login("admin_b"),
        login("clerk_a"),
        login("clerk_b"),
    );
    let version = clerk_a.get("/api/v1/consent/text").1["version"]
        .as_str()
        .unwrap()
        .to_string();

    // Office B: a consented citizen with a dossier, a data-subject request, a call for staff.
    let (s, v) = clerk_b.post(
        "/api/v1/applicants",
        json!({"full_name": NAME_B, "id_number": ID_B, "phone": PHONE_B}),
    );
    assert_eq!(s, 201, "{v}");
    let pb = v["id"].as_i64().unwrap();
    let (s, v) = clerk_b.post(
        &format!("/api/v1/applicants/{pb}/consent"),
        json!({"text_version": version, "method": "tick"}),
    );
    assert_eq!(s, 201, "{v}");
    common::open_dossier(
        &clerk_b,
        pb,
        CODE_B,
        "Cấp bản sao trích lục",
        "2026-11-20 08:00",
        "2026-12-05",
    );
    let (s, v) = admin_b.post(
        "/api/v1/admin/requests",
        json!({"applicant_id": pb, "kind": "access"}),
    );
    assert_eq!(s, 201, "{v}");
    let request_b = v["id"].as_i64().unwrap();
    let kb = Client::with_bearer(base, &kiosk_b);
    let (s, v) = kb.post("/api/v1/kiosk/help", json!({}));
    assert_eq!(s, 201, "{v}");
    let call_b = v["id"].as_i64().unwrap();
    // Office A: its own citizen.
    let pa = common::consented_applicant(&clerk_a, "Lê Văn An", "001090011111");
    common::open_dossier(
        &clerk_a,
        pa,
        CODE_A,
        "Cấp bản sao trích lục",
        "2026-11-20 08:00",
        "2026-12-05",
    );
    let targets = Targets {
        applicant: pb,
        user: common::admin_id(&province, "users", "username", "clerk_b"),
        device: common::admin_id(&province, "devices", "name", "Sảnh B"),
        request: request_b,
        call: call_b,
        own_applicant: pa,
    };

    // The sweep: every route × method × office A credential.
    let ka = Client::with_bearer(base, &kiosk_a);
    let ia = Client::with_bearer(base, &int_a);
    let callers = [
        ("admin A", &admin_a),
        ("clerk A", &clerk_a),
        ("kiosk A", &ka),
        ("integration A", &ia),
    ];
    let routes = hoso::api::routes::ROUTES;
    assert!(routes.len() >= 60, "the whole router: {}", routes.len());
    let mut failures = Vec::new();
    let mut calls = 0;
    for route in routes {
        let template = route.path;
        // Signing out would end the sweep's own session; it touches no record.
        if template == "/api/v1/auth/logout" {
            continue;
        }
        let names_record = ["{id}", "{code}", "{other}"]
            .iter()
            .any(|p| template.contains(p));
        let path = targets.fill(template);
        let stream = template.ends_with("/events") && !template.contains("{code}");
        for (who, c) in callers {
            for method in ["GET", "POST", "PUT", "DELETE"] {
                calls += 1;
                let once = || {
                    if stream {
                        (status_only(c, method, &path), Value::Null)
                    } else {
                        match method {
                            "GET" => c.get(&format!(
                                "{path}?q={}&subject=applicant:{pb}",
                                encode(NAME_B)
                            )),
                            "POST" => c.post(&path, body_for(template, &version)),
                            "PUT" => c.put_json(&path, body_for(template, &version)),
                            _ => c.delete(&path),
                        }
                    }
                };
                // Status 0 is the transport, not the server's answer: a pooled keep-alive
                // connection the server closed just as it was reused ("Peer disconnected",
                // seen once in 1 088 calls). Asked again on a new connection, it answers.
                let (mut status, mut body) = once();
                if status == 0 {
                    (status, body) = once();
                }
                let ok = (200..300).contains(&status);
                if names_record && !matches!(status, 401 | 403 | 404 | 405) {
                    failures.push(format!("{who} {method} {path} → {status} {body}"));
                } else if ok {
                    if let Some(m) = leaks(&body) {
                        failures.push(format!("{who} {method} {path} → {status} shows {m:?}"));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {calls} calls:\n{}",
        failures.len(),
        failures.join("\n")
    );

    // Issue 23's data-subject requests: office A cannot open one about B's citizen…
    for body in [
        json!({"id_number": ID_B, "kind": "access"}),
        json!({"applicant_id": pb, "kind": "deletion"}),
    ] {
        let (s, v) = admin_a.post("/api/v1/admin/requests", body);
        assert_eq!(s, 404, "{v}");
    }
    // …nor a dossier of B's numbering (refused for its code, whether it exists or not), nor
    // one for B's citizen.
    for code in [CODE_B, "000.00.18.H29-261120-0999"] {
        let (s, v) = clerk_a.post(
            "/api/v1/dossiers",
            json!({"code": code, "applicant_id": pa, "procedure": "x", "received_at": "2026-11-20 08:00", "due_at": "2026-12-05"}),
        );
        assert!(s == 400 && v["field"] == "code", "{code}: {s} {v}");
    }
    let (s, v) = clerk_a.post(
        "/api/v1/dossiers",
        json!({"code": "000.00.17.H29-261120-0002", "applicant_id": pb, "procedure": "x", "received_at": "2026-11-20 08:00", "due_at": "2026-12-05"}),
    );
    assert_eq!(s, 404, "{v}");
    assert_eq!(
        clerk_a.get(&format!("/api/v1/applicants?q={PHONE_B}")).1,
        json!([])
    );

    // B's records are untouched, and B's admin sees them.
    let (s, person) = clerk_b.get(&format!("/api/v1/applicants/{pb}"));
    assert_eq!(s, 200);
    assert!(
        person["consent"].is_object(),
        "consent still in force: {person}"
    );
    assert_eq!(person["dossiers"].as_array().unwrap().len(), 1);
    let (s, r) = admin_b.get(&format!("/api/v1/admin/requests/{request_b}/export"));
    assert_eq!(s, 200, "{r}");
    let requests = admin_b.get("/api/v1/admin/requests").1;
    assert_eq!(requests.as_array().unwrap().len(), 1, "{requests}");
    assert_eq!(requests[0]["status"], "received");
    assert_eq!(kb.get("/api/v1/kiosk/setup").0, 200, "kiosk B not revoked");
    let users = admin_b.get("/api/v1/admin/users").1;
    assert!(users.to_string().contains("clerk_b"));
    assert!(
        users
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["active"] != false),
        "{users}"
    );

    // A province-wide admin reaches every office.
    assert_eq!(province.get(&format!("/api/v1/applicants/{pb}")).0, 200);
    assert_eq!(
        province
            .get(&format!("/api/v1/admin/requests/{request_b}/export"))
            .0,
        200
    );

    // A citizen of B at office A's desk, with their ID card: the clerk finds them by the full
    // number (audited), and from then on they are office A's citizen too, without B's dossier.
    let found = clerk_a.get(&format!("/api/v1/applicants?q={ID_B}")).1;
    assert_eq!(found[0]["id"], pb, "{found}");
    assert_eq!(found[0]["dossiers"], 0, "{found}");
    let (s, person) = clerk_a.get(&format!("/api/v1/applicants/{pb}"));
    assert_eq!(s, 200);
    assert_eq!(person["dossiers"], json!([]));
    assert!(common::audit_actions(&admin_a, "action=applicant.link")
        .contains(&"applicant.link".to_string()));
    // An office admin cannot link by searching: only a clerk at the desk.
    let (s, v) = admin_b.get("/api/v1/applicants?q=001090011111");
    assert!(s == 200 && v == json!([]), "{v}");
    // Office A's access request about the linked citizen exports A's share only.
    let (s, v) = admin_a.post(
        "/api/v1/admin/requests",
        json!({"applicant_id": pb, "kind": "access"}),
    );
    assert_eq!(s, 201, "{v}");
    let (s, export) = admin_a.get(&format!("/api/v1/admin/requests/{}/export", v["id"]));
    assert_eq!(s, 200);
    let text = export.to_string();
    assert!(!text.contains(CODE_B), "B's dossier is not A's to export");
}
