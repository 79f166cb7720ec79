//! Offices as tenants (DESIGN.md §9) on one server: a kiosk of office A never matches a
//! person whose only open dossier is at office B (unless `kiosk.scope = "province"`), and
//! the role × office matrix — clerks, office admins, a province admin, kiosks and
//! integration tokens each see and change their own office's records only.

mod common;

use std::path::Path;

use common::{cli, decide, Client, Server, OFFICE_B, PASSWORD, RECOGNITION_ONLY};
use serde_json::{json, Value};

const CODE_A: &str = "000.00.17.H29-261120-0001";
const CODE_B: &str = "000.00.18.H29-261120-0001";

use common::issue_token as token;

/// A consented applicant with two enrolled photos and one open dossier `code`.
fn person(c: &Client, name: &str, id_number: &str, photos: &[&Path], code: &str) -> i64 {
    let id = common::consented_applicant(c, name, id_number);
    for p in photos {
        let (s, v) = c.post_raw(
            &format!("/api/v1/applicants/{id}/faces"),
            "image/jpeg",
            &std::fs::read(p).unwrap(),
        );
        assert_eq!(s, 201, "{}: {v}", p.display());
    }
    common::open_dossier(
        c,
        id,
        code,
        "Cấp bản sao trích lục",
        "2026-11-20 08:00",
        "2026-12-05",
    );
    id
}

fn ids(v: &Value, key: &str) -> Vec<Value> {
    v.as_array()
        .unwrap_or_else(|| panic!("a list: {v}"))
        .iter()
        .map(|x| x[key].clone())
        .collect()
}

fn admin_b_client(base: &str) -> Client {
    Client::login(base, "admin_b", PASSWORD)
}

#[test]
fn offices_keep_to_their_own_people_and_records() {
    let faces = faces_or_skip!();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let conf = data.join("config.toml");
    std::fs::write(&conf, RECOGNITION_ONLY).unwrap();
    common::create_office_b(
        data,
        &["--return-place", "Quầy số 3, UBND phường Bến Thành"],
    );
    let offices = cli(data, &["admin", "offices"], "");
    assert!(
        offices.contains("default\t1") && offices.contains(OFFICE_B),
        "{offices}"
    );
    // With two offices a clerk or a kiosk must say which.
    let (ok, _, err) = common::cli_result(
        data,
        &["admin", "issue-token", "--role", "kiosk", "--name", "x"],
    );
    assert!(!ok && err.contains("office"), "{err}");
    common::two_offices_staff(data);
    let kiosk_a = token(data, "kiosk", "Sảnh A", Some("default"));
    let kiosk_b = token(data, "kiosk", "Sảnh B", Some(OFFICE_B));
    let int_a = token(data, "integration", "Một cửa A", Some("default"));
    let int_all = token(data, "integration", "Một cửa tỉnh", None);
    let conf_arg = conf.to_str().unwrap().to_string();
    let server = Server::start_at(data, &["--config", &conf_arg]);
    let base = &server.base;
    let login = |u: &str| Client::login(base, u, PASSWORD);
    let (province, admin_a, clerk_a, clerk_b) = (
        login("province"),
        login("admin_a"),
        login("clerk_a"),
        login("clerk_b"),
    );

    // Each clerk registers a person at their own office.
    let f = |p: &str| faces.join(p);
    let pa = person(
        &clerk_a,
        "Lê Văn An",
        "001090011111",
        &[&f("deepface_p01/img1.jpg"), &f("deepface_p01/img2.jpg")],
        CODE_A,
    );
    let pb = person(
        &clerk_b,
        "Phạm Thị Bình",
        "001090022222",
        &[&f("deepface_p02/img12.jpg"), &f("deepface_p02/img3.jpg")],
        CODE_B,
    );
    let probe_a = std::fs::read(f("deepface_p01/img5.jpg")).unwrap();
    let probe_b = std::fs::read(f("deepface_p02/img53.jpg")).unwrap();

    // Kiosks search their own office's people only.
    let ka = Client::with_bearer(base, &kiosk_a);
    let kb = Client::with_bearer(base, &kiosk_b);
    assert!(common::recognised(&decide(&ka, "a-a", &probe_a)));
    assert_eq!(decide(&ka, "a-b", &probe_b)["state"], "no_match");
    assert!(common::recognised(&decide(&kb, "b-b", &probe_b)));
    assert_eq!(decide(&kb, "b-a", &probe_a)["state"], "no_match");
    assert_eq!(
        kb.get("/api/v1/kiosk/setup").1["code_prefix"],
        "000.00.18.H29-"
    );

    // Dossiers: another office's is "not found" for its clerks, admins and tokens.
    let dossier = |c: &Client, code: &str| c.get(&format!("/api/v1/dossiers/{code}")).0;
    assert_eq!(dossier(&clerk_a, CODE_A), 200);
    assert_eq!(dossier(&clerk_a, CODE_B), 404);
    assert_eq!(dossier(&clerk_b, CODE_A), 404);
    assert_eq!(dossier(&admin_a, CODE_B), 404);
    assert_eq!(dossier(&province, CODE_A), 200);
    assert_eq!(dossier(&province, CODE_B), 200);
    let ia = Client::with_bearer(base, &int_a);
    let iall = Client::with_bearer(base, &int_all);
    assert_eq!(dossier(&ia, CODE_B), 404);
    assert_eq!(dossier(&iall, CODE_B), 200);
    assert_eq!(
        clerk_a.get(&format!("/api/v1/dossiers/{CODE_B}/receipt")).0,
        404
    );
    let event = json!({"status": 4, "at": "2026-11-21 08:00"});
    assert_eq!(
        clerk_a
            .post(&format!("/api/v1/dossiers/{CODE_B}/events"), event.clone())
            .0,
        404
    );
    let (s, v) = ia.post_raw(
        "/api/v1/dossiers/events.csv",
        "text/csv",
        format!("code,status,at\n{CODE_B},4,2026-11-21 08:00\n").as_bytes(),
    );
    assert!(
        s == 422
            && v["rows"][0]["message"]
                .as_str()
                .unwrap()
                .contains("not found"),
        "{v}"
    );
    assert_eq!(
        iall.post(&format!("/api/v1/dossiers/{CODE_B}/events"), event)
            .0,
        201
    );
    // Office B's receipt names office B.
    let (s, receipt) = clerk_b.get(&format!("/api/v1/dossiers/{CODE_B}/receipt"));
    assert_eq!(s, 200);
    assert!(
        receipt.as_str().unwrap().contains("Bến Thành"),
        "the receipt names the receiving office"
    );

    // A clerk serves any citizen who shows their ID card (a procedure may be filed
    // anywhere: the full number links them to the desk's office) but sees only their
    // office's dossiers, and a dossier code of another office finds nobody.
    assert_eq!(clerk_a.get(&format!("/api/v1/applicants/{pb}")).0, 404);
    assert_eq!(
        clerk_a.get(&format!("/api/v1/applicants?q={CODE_B}")).1,
        json!([])
    );

    // Admins: their office's accounts, devices, people, statistics and audit entries.
    let users = |c: &Client| ids(&c.get("/api/v1/admin/users").1, "username");
    let ua = users(&admin_a);
    assert!(
        ua.contains(&json!("clerk_a")) && !ua.contains(&json!("clerk_b")),
        "{ua:?}"
    );
    assert!(!ua.contains(&json!("province")), "{ua:?}");
    assert!(users(&province).contains(&json!("clerk_b")));
    let devices = ids(&admin_a.get("/api/v1/admin/devices").1, "name");
    assert!(
        devices.contains(&json!("Sảnh A")) && !devices.contains(&json!("Sảnh B")),
        "{devices:?}"
    );
    let people = |c: &Client| ids(&c.get("/api/v1/admin/consents").1, "applicant_id");
    assert!(people(&admin_a).contains(&json!(pa)) && !people(&admin_a).contains(&json!(pb)));
    assert!(people(&province).contains(&json!(pb)));
    assert_eq!(
        admin_a.get(&format!("/api/v1/admin/consents?q={CODE_B}")).1,
        json!([])
    );
    assert_eq!(
        admin_a
            .post(&format!("/api/v1/admin/applicants/{pb}/reveal"), json!({}))
            .0,
        404
    );
    assert_eq!(
        admin_a
            .post(
                &format!("/api/v1/admin/applicants/{pb}/purge"),
                json!({"note": "x"})
            )
            .0,
        404
    );
    assert_eq!(admin_a.get(&format!("/api/v1/applicants/{pb}")).0, 404);
    let stats = |c: &Client| c.get("/api/v1/admin/stats").1;
    assert_eq!(stats(&admin_a)["total"], 2, "kiosk A's two visits");
    assert_eq!(stats(&province)["total"], 4);
    let clerk_b_id = common::admin_id(&province, "users", "username", "clerk_b");
    let actor_b = format!("user:{clerk_b_id}");
    let actors = |c: &Client| ids(&c.get("/api/v1/admin/audit?limit=1000").1, "actor");
    assert!(!actors(&admin_a).contains(&json!(actor_b)));
    assert!(actors(&province).contains(&json!(actor_b)));
    // …and cannot reach into office B or do what is the province's.
    assert_eq!(
        admin_a
            .post(
                &format!("/api/v1/admin/users/{clerk_b_id}"),
                json!({"active": false})
            )
            .0,
        404
    );
    let kiosk_b_id = common::admin_id(&province, "devices", "name", "Sảnh B");
    assert_eq!(
        admin_a
            .delete(&format!("/api/v1/admin/devices/{kiosk_b_id}"))
            .0,
        404
    );
    let (s, v) = admin_a.post(
        "/api/v1/admin/users",
        json!({"username": "clerk_a2", "password": PASSWORD, "role": "clerk", "office": OFFICE_B}),
    );
    assert_eq!(s, 403, "{v}");
    let (s, v) = admin_a.post(
        "/api/v1/admin/users",
        json!({"username": "clerk_a2", "password": PASSWORD, "role": "clerk"}),
    );
    assert_eq!(s, 201, "{v}");
    assert!(users(&admin_a).contains(&json!("clerk_a2")));
    for (path, body) in [
        ("/api/v1/admin/offices", json!({"code": "x", "name": "X"})),
        ("/api/v1/admin/backups", json!({})),
        ("/api/v1/admin/retention", json!({"dry_run": true})),
    ] {
        assert_eq!(admin_a.post(path, body).0, 403, "{path}");
    }
    assert_eq!(
        admin_a
            .put_json(
                "/api/v1/admin/settings",
                json!({"retention_grace_days": 30})
            )
            .0,
        403
    );
    assert_eq!(admin_a.get("/api/v1/admin/audit/verify").0, 403);
    assert_eq!(
        ids(&admin_a.get("/api/v1/admin/offices").1, "code"),
        vec![json!("default")]
    );
    assert_eq!(
        ids(&province.get("/api/v1/admin/offices").1, "code").len(),
        2
    );
    let (s, v) = province.post(
        "/api/v1/admin/offices",
        json!({"code": "tan-dinh", "name": "Bộ phận Một cửa phường Tân Định"}),
    );
    assert_eq!(s, 201, "{v}");
    // An office without a place of return names itself there, not the default office.
    let offices = province.get("/api/v1/admin/offices").1;
    let tan_dinh = offices
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["code"] == "tan-dinh")
        .unwrap();
    assert_eq!(tan_dinh["return_place"], "Bộ phận Một cửa phường Tân Định");

    // A kiosk call for staff reaches its own office's desks only.
    assert_eq!(kb.post("/api/v1/kiosk/help", json!({})).0, 201);
    let call = kb.post("/api/v1/kiosk/help", json!({})).1["id"].clone();
    assert_eq!(
        clerk_a
            .post(&format!("/api/v1/desk/help/{call}/answer"), json!({}))
            .0,
        404
    );
    assert_eq!(
        clerk_b
            .post(&format!("/api/v1/desk/help/{call}/answer"), json!({}))
            .0,
        200
    );

    // The admin page, in a browser: what an office's admin and the province admin see.
    if common::browser::tooling() {
        let art = common::browser::artifacts();
        let (ok, out) = common::browser::node(
            "offices.mjs",
            &[
                base,
                art.to_str().unwrap(),
                PASSWORD,
                "Bộ phận Một cửa phường Bến Thành",
            ],
        );
        assert!(ok && out.contains("OK offices"), "{out}");
        let kiosks = ids(&admin_b_client(base).get("/api/v1/admin/devices").1, "name");
        assert!(kiosks.contains(&json!("Sảnh B2")), "{kiosks:?}");
    }

    // (The clerk finds B's citizen by the full ID number, see above.)
    let found = clerk_a.get("/api/v1/applicants?q=001090022222").1;
    assert_eq!(found[0]["id"], pb, "{found}");
    let (s, v) = clerk_a.get(&format!("/api/v1/applicants/{pb}"));
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["dossiers"].as_array().unwrap().len(), 0, "{v}");

    // Province scope: every office's kiosks search every office's people.
    drop(server);
    std::fs::write(
        &conf,
        format!("{RECOGNITION_ONLY}[kiosk]\nscope = \"province\"\n"),
    )
    .unwrap();
    let server = Server::start_at(data, &["--config", &conf_arg]);
    let ka = Client::with_bearer(&server.base, &kiosk_a);
    assert!(common::recognised(&decide(&ka, "p-b", &probe_b)));
}
