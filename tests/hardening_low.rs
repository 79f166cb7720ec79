//! The smaller hardening items, each against a real server: dates in sane years, the
//! consent register searchable by dossier code, literal audit filters, a dated and
//! renewed self-signed certificate, ID numbers bound to their row, kiosk setup codes
//! instead of tokens on command lines, and a retention preview that writes nothing.

mod common;

use std::path::Path;

use common::{Client, Office, Server};
use serde_json::json;

const CODE: &str = "000.00.17.H29-261120-0001";

fn dossier(code: &str, id: i64, received: &str, due: &str) -> serde_json::Value {
    json!({"code": code, "applicant_id": id, "procedure": "Cấp giấy phép xây dựng",
           "received_at": received, "due_at": due})
}

#[test]
fn dates_outside_sane_years_are_refused() {
    let office = Office::start();
    let id = common::consented_applicant(&office.clerk, "Người Ngày", "001099030001");
    for bad in ["0000-01-01", "-0001-01-01", "19999-01-01", "1899-12-31"] {
        let (s, v) = office
            .clerk
            .post("/api/v1/dossiers", dossier(CODE, id, bad, "2026-12-04"));
        assert_eq!((s, &v["field"]), (422, &json!("received_at")), "{bad}: {v}");
        let (s, v) = office
            .clerk
            .post("/api/v1/dossiers", dossier(CODE, id, "2026-11-20", bad));
        assert_eq!((s, &v["field"]), (422, &json!("due_at")), "{bad}: {v}");
    }
    let (s, v) = office.clerk.post(
        "/api/v1/dossiers",
        dossier(CODE, id, "2026-11-20 09:00", "2026-12-04"),
    );
    assert_eq!(s, 201, "{v}");
    // The consent register finds the person by that dossier code (and by CCCD).
    for q in [CODE, "001099030001"] {
        let (s, v) = office.admin.get(&format!("/api/v1/admin/consents?q={q}"));
        assert_eq!(s, 200, "{q}: {v}");
        assert_eq!(v.as_array().map(Vec::len), Some(1), "{q}: {v}");
    }
    let (s, v) = office
        .admin
        .get("/api/v1/admin/consents?q=000.00.17.H29-261120-0999");
    assert_eq!((s, v.as_array().map(Vec::len)), (200, Some(0)), "{v}");
}

#[test]
fn audit_filters_match_literally_and_previews_write_nothing() {
    let office = Office::start();
    common::consented_applicant(&office.clerk, "Người Lọc", "001099030002");
    let count = |filter: &str| {
        let (s, v) = office
            .admin
            .get(&format!("/api/v1/admin/audit?limit=1000{filter}"));
        assert_eq!(s, 200, "{v}");
        v.as_array().map_or(0, Vec::len)
    };
    assert!(count("&action=consent.grant") >= 1);
    assert_eq!(count("&action=consent_grant"), 0, "_ is not a wildcard");
    assert_eq!(count("&action=consent%25"), 0, "% is not a wildcard");
    assert!(
        count("&action=consent.") >= 1,
        "a trailing dot selects a family"
    );
    let before = count("");
    for _ in 0..3 {
        let (s, v) = office.admin.get("/api/v1/admin/retention");
        assert_eq!(s, 200, "{v}");
    }
    assert_eq!(
        count(""),
        before,
        "GET /admin/retention wrote to the audit log"
    );
}

#[test]
fn the_self_signed_certificate_lasts_about_two_years_and_is_renewed() {
    let data = tempfile::tempdir().unwrap();
    let start = |dir: &Path| Server::start_at(dir, &["--tls-listen", "127.0.0.1:0"]);
    let server = start(data.path());
    drop(server);
    let cert = data.path().join("tls/cert.pem");
    // (not before, not after) as unix times.
    let validity = |p: &Path| {
        let bytes = std::fs::read(p).unwrap();
        let (_, pem) = x509_parser::pem::parse_x509_pem(&bytes).unwrap();
        let cert = pem.parse_x509().unwrap();
        let v = cert.validity();
        (v.not_before.timestamp(), v.not_after.timestamp())
    };
    let (from, to) = validity(&cert);
    let now = time_now();
    let days = |a: i64, b: i64| (b - a) / 86_400;
    assert!(days(from, now) <= 2, "valid from {from}");
    let span = days(from, to);
    assert!(
        (700..=800).contains(&span),
        "valid {span} days: {from} → {to}"
    );
    // A certificate written long ago is renewed on the next start.
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(720 * 86_400);
    std::fs::File::options()
        .write(true)
        .open(&cert)
        .unwrap()
        .set_modified(old)
        .unwrap();
    let first = std::fs::read(&cert).unwrap();
    drop(start(data.path()));
    assert_ne!(std::fs::read(&cert).unwrap(), first, "not renewed");
    let (from2, _) = validity(&cert);
    assert!(days(from2, now) <= 2);
}

fn time_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
fn id_numbers_are_bound_to_their_row() {
    sqlite_only!("the attack swaps ciphertexts inside the SQLite file");
    let office = Office::start();
    let a = common::consented_applicant(&office.clerk, "Người Một", "001099030011");
    let b = common::consented_applicant(&office.clerk, "Người Hai", "001099030022");
    let form = |id: i64| {
        office
            .clerk
            .get(&format!("/api/v1/applicants/{id}/consent/form"))
    };
    let (s, v) = form(a);
    assert_eq!(s, 200);
    assert!(
        v.as_str().unwrap().contains("0011"),
        "last digits shown: {v}"
    );
    // Copy B's encrypted ID number into A's row: it must not open there.
    let db = rusqlite::Connection::open(office.server.dir.join("hoso.sqlite3")).unwrap();
    let sealed = |id: i64| -> Vec<u8> {
        db.query_row(
            "SELECT id_number_enc FROM applicants WHERE id = ?1",
            [id],
            |r| r.get(0),
        )
        .unwrap()
    };
    let (a_enc, b_enc) = (sealed(a), sealed(b));
    db.execute(
        "UPDATE applicants SET id_number_enc = ?1 WHERE id = ?2",
        rusqlite::params![b_enc, a],
    )
    .unwrap();
    let (s, v) = form(a);
    assert_ne!(s, 200, "a copied ciphertext opened in another row: {v}");
    assert!(!v.to_string().contains("0022"), "{v}");
    // Restored, it opens again.
    db.execute(
        "UPDATE applicants SET id_number_enc = ?1 WHERE id = ?2",
        rusqlite::params![a_enc, a],
    )
    .unwrap();
    assert_eq!(form(a).0, 200);
}

#[test]
fn rows_sealed_before_the_binding_are_resealed_on_start() {
    sqlite_only!("it writes legacy rows into a SQLite file");
    let data = tempfile::tempdir().unwrap();
    common::add_user(data.path(), "clerk", "clerk1");
    let server = Server::start_at(data.path(), &[]);
    let clerk = Client::login(&server.base, "clerk1", common::PASSWORD);
    let id = common::consented_applicant(&clerk, "Người Cũ", "001099030033");
    drop(server);
    // Make the row look like one written by the previous release.
    let keys = hoso::crypto::Keys::open_existing(data.path()).unwrap();
    let legacy = keys.seal_field(b"001099030033", "id_number").unwrap();
    let db = rusqlite::Connection::open(data.path().join("hoso.sqlite3")).unwrap();
    db.execute(
        "UPDATE applicants SET id_number_enc = ?1, fields_bound = 0 WHERE id = ?2",
        rusqlite::params![legacy, id],
    )
    .unwrap();
    drop(db);
    let server = Server::start_at(data.path(), &[]);
    let clerk = Client::login(&server.base, "clerk1", common::PASSWORD);
    let (s, v) = clerk.get(&format!("/api/v1/applicants/{id}/consent/form"));
    assert_eq!(s, 200, "{v}");
    assert!(v.as_str().unwrap().contains("0033"));
    let db = rusqlite::Connection::open(data.path().join("hoso.sqlite3")).unwrap();
    let (bound, enc): (i64, Vec<u8>) = db
        .query_row(
            "SELECT fields_bound, id_number_enc FROM applicants WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(bound, 1);
    assert!(
        keys.open_field(&enc, "id_number").is_err(),
        "still the legacy sealing"
    );
}

#[test]
fn a_kiosk_is_set_up_with_a_one_time_code_not_its_token() {
    let office = Office::start();
    let (s, v) = office.admin.post(
        "/api/v1/admin/devices",
        json!({"role": "kiosk", "name": "Sảnh 2"}),
    );
    assert_eq!(s, 201, "{v}");
    let code = v["setup_code"].as_str().unwrap().to_string();
    let token = v["token"].as_str().unwrap().to_string();
    assert_ne!(code, token);
    let anon = Client::new(&office.server.base);
    let (s, v) = anon.post("/api/v1/kiosk/pair", json!({"code": code}));
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["token"], token.as_str());
    // The token works; the code does not work twice; an integration device has no code.
    let k = Client::with_bearer(&office.server.base, &token);
    let (s, v) = k.post("/api/v1/kiosk/rating", json!({"score": 5}));
    assert!(s != 401 && s != 403, "{s} {v}");
    let (s, v) = anon.post("/api/v1/kiosk/pair", json!({"code": code}));
    assert_eq!(s, 403, "{v}");
    let (_, v) = office.admin.post(
        "/api/v1/admin/devices",
        json!({"role": "integration", "name": "Phần mềm một cửa"}),
    );
    assert!(v["setup_code"].is_null(), "{v}");
    // The appliance's setup script refuses a token on its command line.
    let out = std::process::Command::new("sh")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kiosk/hoso-kiosk-setup"))
        .arg(format!("{}/kiosk/#token={token}", office.server.base))
        .output()
        .unwrap();
    assert!(!out.status.success());
}

/// Reads what a server-sent-events connection delivers within `wait`.
fn sse_received(stream: &mut std::net::TcpStream, wait: std::time::Duration) -> String {
    use std::io::Read;
    stream.set_read_timeout(Some(wait)).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let until = std::time::Instant::now() + wait;
    while std::time::Instant::now() < until {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

#[test]
fn the_server_cameras_decisions_reach_its_own_kiosk_only() {
    use std::io::Write;
    let data = tempfile::tempdir().unwrap();
    let config = hoso::config::Config {
        data_dir: data.path().to_path_buf(),
        ..Default::default()
    };
    let engine =
        hoso::vision::FaceEngine::load(&common::models_dir(), &config.engine_options()).unwrap();
    let app = std::sync::Arc::new(hoso::app::App::open(config, engine, false).unwrap());
    let cli = hoso::auth::Principal::operator("cli");
    let (mine, mine_token) = app
        .issue_token(&cli, hoso::auth::Role::Kiosk, "Sảnh 1", None)
        .unwrap();
    let (_, other_token) = app
        .issue_token(&cli, hoso::auth::Role::Kiosk, "Sảnh 2", None)
        .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let router = hoso::api::router_for(app.clone(), false);
    let limits = hoso::server::listen::ConnLimits {
        header_timeout: std::time::Duration::from_secs(10),
        per_client: 0,
        total: 64,
        write_timeout: std::time::Duration::from_secs(20),
    };
    rt.spawn(hoso::server::listen::run(
        listener,
        None,
        router,
        limits,
        std::future::pending(),
    ));
    let subscribe = |token: &str| {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        write!(
            s,
            "GET /api/v1/kiosk/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n"
        )
        .unwrap();
        let head = sse_received(&mut s, std::time::Duration::from_millis(500));
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        s
    };
    let (mut a, mut b) = (subscribe(&mine_token), subscribe(&other_token));
    app.events
        .send((mine, r#"{"state":"matched","note":"for Sảnh 1"}"#.into()))
        .unwrap();
    let to_a = sse_received(&mut a, std::time::Duration::from_secs(1));
    let to_b = sse_received(&mut b, std::time::Duration::from_secs(1));
    assert!(to_a.contains("for Sảnh 1"), "{to_a}");
    assert!(
        !to_b.contains("matched"),
        "another kiosk received it: {to_b}"
    );
}

/// Issue 15 (2): a flood of requests with made-up session cookies (each one a store read in
/// the caller check) runs on the blocking pool, so the async workers stay free and kiosk
/// frames keep their pace (before: the check took the store's lock on an async worker and
/// frames went from 0.1 s to 4.8 s). The flood and the other tests of this file share the
/// machine's cores with the server, so the pace is judged against the same kiosk's frames
/// just before the flood: p95 within five times theirs, clamped to 1–2 s. A blocked worker
/// pool shows as several seconds; 32 client threads sharing two cores with the server add
/// a few hundred milliseconds (measured 0.45–0.61 s against 0.12–0.18 s before).
#[test]
fn a_flood_of_bogus_sessions_does_not_stall_the_kiosk() {
    let Some(faces) = common::faces_dir() else {
        return;
    };
    let frame = std::fs::read(faces.join("deepface_p01/img5.jpg")).unwrap();
    let office = Office::start();
    let kiosk = Client::with_bearer(&office.server.base, &office.kiosk_token);
    common::warm_kiosk(&kiosk, &frame, 3);
    let frames = |label: &str, n: usize| -> f64 {
        let mut times = Vec::with_capacity(n);
        for i in 0..n {
            let t = std::time::Instant::now();
            let (s, v) = kiosk.post_raw_with(
                "/api/v1/kiosk/frames",
                "image/jpeg",
                &frame,
                &[("X-Kiosk-Session", &format!("bogus-{label}-{i}"))],
            );
            assert_eq!(s, 200, "{v}");
            times.push(t.elapsed().as_secs_f64());
        }
        times.sort_by(f64::total_cmp);
        times[(n * 95 / 100).min(n - 1)]
    };
    let quiet = frames("quiet", 10);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flood: Vec<_> = (0..32)
        .map(|i| {
            let (base, stop) = (office.server.base.clone(), stop.clone());
            std::thread::spawn(move || {
                let agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .build()
                    .new_agent();
                let mut n = 0u32;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let r = agent
                        .get(format!("{base}/api/v1/admin/stats"))
                        .header("Cookie", format!("hoso_session=bogus-{i}-{n}"))
                        .call();
                    if let Ok(r) = r {
                        assert_eq!(r.status().as_u16(), 401);
                    }
                    n += 1;
                }
                n
            })
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let p95 = frames("flood", 20);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let requests: u32 = flood.into_iter().map(|h| h.join().unwrap()).sum();
    eprintln!(
        "bogus-session flood: {requests} requests; kiosk frames p95 {:.0} ms (before it {:.0} ms)",
        p95 * 1000.0,
        quiet * 1000.0
    );
    assert!(requests > 100, "the flood ran ({requests} requests)");
    assert!(
        p95 < (5.0 * quiet).clamp(1.0, 2.0),
        "kiosk frames p95 {p95:.2} s during the flood, {quiet:.2} s before it"
    );
}

/// Failed sign-ins are counted in the database: a restart does not lift the wait, the
/// right password is refused until it is over, and the counters of others are untouched.
#[test]
fn a_sign_in_lockout_outlives_a_restart() {
    let mut office = Office::start();
    let base = office.server.base.clone();
    let c = Client::new(&base);
    let mut refused = None;
    for i in 0..8 {
        let (s, v) = c.post(
            "/api/v1/auth/login",
            json!({"username": "clerk1", "password": "wrong password"}),
        );
        if s == 429 {
            refused = Some(i);
            break;
        }
        assert_eq!(s, 401, "{v}");
    }
    assert_eq!(
        refused,
        Some(5),
        "5 free failures per username, then a wait"
    );
    let dir = office.server.dir.clone();
    office.server.kill9();
    let server = Server::start_at(&dir, &[]);
    let (s, v) = Client::new(&server.base).post(
        "/api/v1/auth/login",
        json!({"username": "clerk1", "password": common::PASSWORD}),
    );
    assert_eq!(s, 429, "still waiting after the restart: {v}");
    assert_eq!(v["error"], "too_many_requests");
    // Another account signs in as usual.
    Client::login(&server.base, "admin1", common::PASSWORD);
}
