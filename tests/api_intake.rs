//! The clerk's intake through the HTTP API of a real server (127.0.0.1, temp data dir):
//! applicant → consent → 3 faces → dossier → receipt → status events, and every way of
//! getting it wrong, each with its status code and message, changing nothing.

mod common;

use common::{Client, Office};
use serde_json::{json, Value};

const CODE: &str = "000.00.17.H29-261120-0001";

fn read(p: std::path::PathBuf) -> Vec<u8> {
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn new_applicant(c: &Client, name: &str, id: &str) -> i64 {
    let (s, v) = c.post(
        "/api/v1/applicants",
        json!({"full_name": name, "id_number": id, "phone": "0912345678"}),
    );
    assert_eq!(s, 201, "{v}");
    v["id"].as_i64().unwrap()
}

fn consent(c: &Client, id: i64) {
    let (_, t) = c.get("/api/v1/consent/text");
    let version = t["version"].as_str().unwrap().to_string();
    assert!(
        t["text"].as_str().unwrap().contains("nhạy cảm"),
        "the text says the data is sensitive"
    );
    let (s, v) = c.post(
        &format!("/api/v1/applicants/{id}/consent"),
        json!({"text_version": version, "method": "tick"}),
    );
    assert_eq!(s, 201, "{v}");
}

fn templates(c: &Client, id: i64) -> i64 {
    c.get(&format!("/api/v1/applicants/{id}")).1["templates"]
        .as_i64()
        .unwrap()
}

/// Decodes the QR code printed on a dossier's receipt.
fn receipt_qr(c: &Client, code: &str) -> String {
    let img = image::DynamicImage::ImageRgb8(common::receipt_qr_image(c, code)).to_luma8();
    let mut prep = rqrr::PreparedImage::prepare(img);
    let grids = prep.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code");
    grids[0].decode().unwrap().1
}

#[test]
fn whole_intake_then_status_events() {
    let faces = faces_or_skip!();
    let o = Office::start();
    let c = &o.clerk;
    let id = new_applicant(c, "Nguyễn Văn Thành", "001099012345");
    // The form is printed to be signed before the consent is recorded.
    let (s, draft) = c.get(&format!("/api/v1/applicants/{id}/consent/form"));
    assert_eq!(s, 200);
    let draft = draft.as_str().unwrap();
    assert!(
        draft.contains("Bản để ký")
            && draft.contains("chưa ghi nhận")
            && draft.contains("nhạy cảm"),
        "{draft}"
    );
    consent(c, id);
    for f in ["img1.jpg", "img2.jpg", "img4.jpg"] {
        let (s, v) = c.post_raw(
            &format!("/api/v1/applicants/{id}/faces"),
            "image/jpeg",
            &read(faces.join("deepface_p01").join(f)),
        );
        assert_eq!(s, 201, "{f}: {v}");
        assert!(v["quality"]["inter_eye_px"].as_f64().unwrap() > 20.0);
        assert!(v["possible_duplicate_of"].is_null(), "{v}");
    }
    assert_eq!(templates(c, id), 3);
    let (s, form) = c.get(&format!("/api/v1/applicants/{id}/consent/form"));
    assert_eq!(s, 200);
    let form = form.as_str().unwrap();
    assert!(
        form.contains("Nguyễn Văn Thành") && form.contains("…2345") && form.contains("nhạy cảm")
    );
    assert!(
        form.contains("2026-11-v1") && form.contains("clerk1") && !form.contains("001099012345")
    );

    // A second applicant whose face is the same person: the clerk is warned.
    let twin = new_applicant(c, "Trần Thị Hoa", "079203000123");
    consent(c, twin);
    let (s, v) = c.post_raw(
        &format!("/api/v1/applicants/{twin}/faces"),
        "image/jpeg",
        &read(faces.join("deepface_p01/img5.jpg")),
    );
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["possible_duplicate_of"], id, "{v}");
    // The clerk looks at the other record (masked, audited) and discards the frame taken.
    let twin_template = v["template_id"].as_i64().unwrap();
    let (s, other) = c.get(&format!("/api/v1/applicants/{twin}/duplicate/{id}"));
    assert_eq!(s, 200, "{other}");
    assert_eq!(other["display_name"], "Nguyễn V. T***", "{other}");
    assert!(!other.to_string().contains("Thành"), "{other}");
    let (s, d) = c.post(
        &format!("/api/v1/applicants/{twin}/faces/discard"),
        json!({"templates": [twin_template]}),
    );
    assert_eq!((s, &d["templates_deleted"]), (200, &json!(1)), "{d}");
    let (_, p) = c.get(&format!("/api/v1/applicants/{twin}"));
    assert_eq!(p["templates"], 0, "{p}");
    let actions = common::audit_actions(&o.admin, "action=face.");
    assert!(
        actions.iter().any(|a| a == "face.duplicate_view")
            && actions.iter().any(|a| a == "face.discard"),
        "{actions:?}"
    );
    // The receipt is signed with the clerk's display name.
    let clerk_id = common::admin_id(&o.admin, "users", "username", "clerk1");
    let (s, r) = o.admin.post(
        &format!("/api/v1/admin/users/{clerk_id}"),
        json!({"display_name": "Lê Thị Thu"}),
    );
    assert_eq!(s, 200, "{r}");

    let (s, v) = c.post(
        "/api/v1/dossiers",
        json!({"code": CODE, "applicant_id": id, "procedure": "Cấp giấy phép xây dựng", "received_at": "2026-11-20 09:00", "due_at": "2026-12-04",
               "documents": ["Đơn đề nghị cấp giấy phép xây dựng", "Bản vẽ thiết kế <A3>"]}),
    );
    assert_eq!(s, 201, "{v}");
    let token = v["lookup_token"].as_str().unwrap().to_string();
    assert_eq!(token.len(), 22, "128-bit token");
    let url = v["lookup_url"].as_str().unwrap().to_string();
    assert!(url.contains(CODE) && url.contains(&token) && !url.contains("001099012345"));

    let (s, html) = c.get(&format!("/api/v1/dossiers/{CODE}/receipt"));
    assert_eq!(s, 200);
    let html = html.as_str().unwrap();
    assert!(
        html.contains("Giấy tiếp nhận hồ sơ và hẹn trả kết quả")
            && html.contains("Nguyễn Văn Thành")
    );
    assert!(html.contains("Cấp giấy phép xây dựng") && !html.contains("001099012345"));
    // Form 01 of Circular 01/2018: dd/mm/yyyy dates, the documents, the clerk's name, and
    // how to look the dossier up at the kiosk.
    for want in [
        "09 giờ 00 phút, ngày 20/11/2026",
        "ngày 04/12/2026",
        "<li>Đơn đề nghị cấp giấy phép xây dựng</li>",
        "<li>Bản vẽ thiết kế &#60;A3&#62;</li>",
        "Lê Thị Thu",
        "4 số cuối thẻ căn cước",
        "/ui/print.js",
    ] {
        assert!(html.contains(want), "receipt lacks {want:?}");
    }
    assert_eq!(
        receipt_qr(c, CODE),
        url,
        "the receipt QR holds the lookup URL"
    );

    // Status events from the one-stop software.
    let i = Client::with_bearer(&o.server.base, &o.integration_token);
    let ev = |status: i64, at: &str| json!({"status": status, "at": at, "agency": "Phòng Quản lý đô thị"});
    let (s, v) = i.post(
        &format!("/api/v1/dossiers/{CODE}/events"),
        ev(4, "2026-11-21T08:00:00+07:00"),
    );
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["dossier"]["status"], 4);
    assert_eq!(v["dossier"]["status_text"], "Đang xử lý");
    // Re-delivery is idempotent.
    let (s, v) = i.post(
        &format!("/api/v1/dossiers/{CODE}/events"),
        ev(4, "2026-11-21T08:00:00+07:00"),
    );
    assert_eq!((s, &v["recorded"]), (200, &json!(false)));
    // Illegal transition: processing → returned.
    let (s, v) = i.post(
        &format!("/api/v1/dossiers/{CODE}/events"),
        ev(10, "2026-11-22T08:00:00+07:00"),
    );
    assert_eq!(s, 409, "{v}");
    assert!(v["message"].as_str().unwrap().contains("Đã trả kết quả"));
    // Apology: once.
    let late = json!({"status": 4, "at": "2026-12-03T08:00:00+07:00", "new_due_at": "2026-12-10"});
    assert_eq!(
        i.post(&format!("/api/v1/dossiers/{CODE}/events"), late).0,
        201
    );
    let again = json!({"status": 4, "at": "2026-12-09T08:00:00+07:00", "new_due_at": "2026-12-20"});
    let (s, v) = i.post(&format!("/api/v1/dossiers/{CODE}/events"), again);
    assert_eq!(s, 409, "{v}");
    let (_, d) = c.get(&format!("/api/v1/dossiers/{CODE}"));
    assert_eq!(d["moved_with_apology"], true);
    assert!(d["due_at"].as_str().unwrap().starts_with("2026-12-10"));
    assert_eq!(d["timeline"].as_array().unwrap().len(), 3, "{d}");
    // The integration token reads a dossier's status (no personal data), never registers one.
    let (s, d) = i.get(&format!("/api/v1/dossiers/{CODE}"));
    assert_eq!(s, 200, "{d}");
    assert!(
        d.get("applicant_id").is_none() && d.get("full_name").is_none(),
        "{d}"
    );
    let new = json!({"code": "000.00.17.H29-261120-0077", "applicant_id": 1, "procedure": "X", "received_at": "2026-11-20", "due_at": "2026-11-30"});
    assert_eq!(i.post("/api/v1/dossiers", new).0, 403);
}

#[test]
fn bad_requests_get_clear_errors_and_change_nothing() {
    let faces = faces_or_skip!();
    let o = Office::start();
    let c = &o.clerk;
    // Bad ID numbers and names.
    // Not 12 digits: not the documented shape (400); a province code that does not exist
    // or an empty name: the right shape, unusable content (422).
    for (name, idn, status, code) in [
        ("Lê Văn A", "12345", 400, "invalid"),
        ("Lê Văn A", "003099012345", 422, "unusable"),
        ("", "001099012345", 422, "unusable"),
    ] {
        let (s, v) = c.post(
            "/api/v1/applicants",
            json!({"full_name": name, "id_number": idn}),
        );
        assert_eq!(s, status, "{v}");
        assert_eq!(v["error"], code);
    }
    let id = new_applicant(c, "Phạm Minh Đức", "001099012345");
    let (s, v) = c.post(
        "/api/v1/applicants",
        json!({"full_name": "Người Khác", "id_number": "001099012345"}),
    );
    assert_eq!(s, 409, "same ID number twice: {v}");
    // Malformed JSON and unknown fields.
    let (s, v) = c.post_raw(
        "/api/v1/applicants",
        "application/json",
        b"{\"full_name\": ",
    );
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid")), "{v}");
    let (s, _) = c.post(
        "/api/v1/applicants",
        json!({"full_name": "A B", "id_number": "001099012346", "admin": true}),
    );
    assert_eq!(s, 400);

    // Faces without consent: 403, nothing stored.
    let face = read(faces.join("deepface_p01/img1.jpg"));
    let (s, v) = c.post_raw(
        &format!("/api/v1/applicants/{id}/faces"),
        "image/jpeg",
        &face,
    );
    assert_eq!(s, 403, "{v}");
    consent(c, id);
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("corrupt", face[..face.len() / 2].to_vec(), 422, "bad_image"),
        ("not an image", b"%PDF-1.7".to_vec(), 422, "bad_image"),
        (
            "no face",
            read(faces.join("_noface/scream.jpg")),
            422,
            "no_face",
        ),
        (
            "two people",
            read(faces.join("_multi/two_people.jpg")),
            422,
            "many_faces",
        ),
        ("huge", vec![0xFF; 21 * 1024 * 1024], 413, "too_large"),
    ];
    for (what, body, status, code) in cases {
        // An over-limit upload may see the connection closed before the answer: retry on a
        // fresh connection.
        let (s, v) = (0..5)
            .map(|_| {
                let mut fresh = Client::new(&o.server.base);
                (fresh.cookie, fresh.csrf) = (c.cookie.clone(), c.csrf.clone());
                fresh.post_raw(
                    &format!("/api/v1/applicants/{id}/faces"),
                    "image/jpeg",
                    &body,
                )
            })
            .find(|r| r.0 != 0)
            .expect("an answer");
        assert_eq!(s, status, "{what}: {v}");
        if !code.is_empty() {
            assert_eq!(v["error"], code, "{what}: {v}");
            assert!(!v["message"].as_str().unwrap().is_empty());
        }
    }
    assert_eq!(templates(c, id), 0, "nothing was stored");
    assert_eq!(
        c.post_raw("/api/v1/applicants/999/faces", "image/jpeg", &face)
            .0,
        404
    );

    // Dossiers: bad code, bad dates, unknown applicant.
    let d = |code: &str, applicant: i64, due: &str| json!({"code": code, "applicant_id": applicant, "procedure": "Đăng ký khai sinh", "received_at": "2026-11-20", "due_at": due});
    let (s, v) = c.post("/api/v1/dossiers", d("HS-1", id, "2026-11-25"));
    assert_eq!(s, 400);
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("000.00.17.H29-231031-0001"),
        "{v}"
    );
    // Due before received: dates of the right shape that cannot be (422).
    assert_eq!(c.post("/api/v1/dossiers", d(CODE, id, "2026-11-01")).0, 422);
    assert_eq!(
        c.post("/api/v1/dossiers", d(CODE, 999, "2026-11-25")).0,
        404
    );
    assert_eq!(c.post("/api/v1/dossiers", d(CODE, id, "2026-11-25")).0, 201);
    assert_eq!(c.post("/api/v1/dossiers", d(CODE, id, "2026-11-25")).0, 409);
    let i = Client::with_bearer(&o.server.base, &o.integration_token);
    let (s, v) = i.post(
        &format!("/api/v1/dossiers/{CODE}/events"),
        json!({"status": 11, "at": "2026-11-21"}),
    );
    assert_eq!(s, 400, "{v}");
    let (s, _) = i.post(
        "/api/v1/dossiers/000.00.17.H29-261120-0099/events",
        json!({"status": 4, "at": "2026-11-21"}),
    );
    assert_eq!(s, 404);
    let (_, dv) = c.get(&format!("/api/v1/dossiers/{CODE}"));
    assert_eq!(dv["status"], 2, "nothing changed");

    // Wrong and missing credentials.
    let wrong = Client::with_bearer(&o.server.base, "not-a-token");
    assert_eq!(
        wrong
            .post(
                &format!("/api/v1/dossiers/{CODE}/events"),
                json!({"status": 4, "at": "2026-11-21"})
            )
            .0,
        401
    );
    let anon = Client::new(&o.server.base);
    assert_eq!(
        anon.post(
            "/api/v1/applicants",
            json!({"full_name": "A B", "id_number": "001099012346"})
        )
        .0,
        401
    );
    let mut no_csrf = Client::login(&o.server.base, "clerk1", common::PASSWORD);
    no_csrf.csrf = Some("forged".into());
    let (s, v) = no_csrf.post(
        "/api/v1/applicants",
        json!({"full_name": "A B", "id_number": "001099012346"}),
    );
    assert_eq!(s, 403, "{v}");
    let (s, _) = anon.post(
        "/api/v1/auth/login",
        json!({"username": "clerk1", "password": "wrong-password"}),
    );
    assert_eq!(s, 401);
}

#[test]
fn role_matrix() {
    let o = Office::start();
    let base = o.server.base.clone();
    let id = new_applicant(&o.clerk, "Đỗ Thị Lan", "001099012345");
    assert_eq!(
        o.clerk.post("/api/v1/dossiers", json!({"code": CODE, "applicant_id": id, "procedure": "X", "received_at": "2026-11-20", "due_at": "2026-11-30"})).0,
        201
    );
    let callers: Vec<(&str, Client)> = vec![
        ("none", Client::new(&base)),
        ("clerk", Client::login(&base, "clerk1", common::PASSWORD)),
        ("admin", Client::login(&base, "admin1", common::PASSWORD)),
        ("kiosk", Client::with_bearer(&base, &o.kiosk_token)),
        (
            "integration",
            Client::with_bearer(&base, &o.integration_token),
        ),
    ];
    // (method, path, body, roles allowed). Allowed callers must not get 401/403; others must.
    let staff = ["clerk", "admin"];
    let admin = ["admin"];
    let routes: Vec<(&str, String, Value, Vec<&str>)> = vec![
        (
            "GET",
            "/api/v1/auth/me".into(),
            Value::Null,
            vec!["clerk", "admin", "kiosk", "integration"],
        ),
        (
            "GET",
            "/api/v1/consent/text".into(),
            Value::Null,
            staff.to_vec(),
        ),
        (
            "POST",
            "/api/v1/applicants".into(),
            json!({"full_name": "X Y", "id_number": "bad"}),
            staff.to_vec(),
        ),
        (
            "GET",
            format!("/api/v1/applicants/{id}"),
            Value::Null,
            staff.to_vec(),
        ),
        (
            "POST",
            format!("/api/v1/applicants/{id}/consent"),
            json!({"text_version": "x", "method": "tick"}),
            staff.to_vec(),
        ),
        (
            "DELETE",
            "/api/v1/applicants/999999/consent".into(),
            Value::Null,
            staff.to_vec(),
        ),
        (
            "POST",
            "/api/v1/applicants/999999/faces".into(),
            Value::Null,
            staff.to_vec(),
        ),
        (
            "POST",
            "/api/v1/dossiers".into(),
            json!({"code": "bad", "applicant_id": id, "procedure": "X", "received_at": "x", "due_at": "y"}),
            staff.to_vec(),
        ),
        (
            "GET",
            format!("/api/v1/dossiers/{CODE}"),
            Value::Null,
            vec!["clerk", "admin", "integration"],
        ),
        (
            "GET",
            format!("/api/v1/dossiers/{CODE}/receipt"),
            Value::Null,
            staff.to_vec(),
        ),
        (
            "POST",
            format!("/api/v1/dossiers/{CODE}/events"),
            json!({"status": 99, "at": "2026-11-21"}),
            vec!["clerk", "admin", "integration"],
        ),
        // Admin routes: bodies that change nothing for an allowed caller.
        (
            "GET",
            "/api/v1/admin/settings".into(),
            Value::Null,
            admin.to_vec(),
        ),
        (
            "PUT",
            "/api/v1/admin/settings".into(),
            json!({"retention_grace_days": 0, "kiosk_threshold": null, "kiosk_margin": null}),
            admin.to_vec(),
        ),
        (
            "GET",
            "/api/v1/admin/users".into(),
            Value::Null,
            admin.to_vec(),
        ),
        (
            "POST",
            "/api/v1/admin/users".into(),
            json!({"username": "x", "password": "short", "role": "clerk"}),
            admin.to_vec(),
        ),
        (
            "POST",
            "/api/v1/admin/users/999999".into(),
            json!({"active": true}),
            admin.to_vec(),
        ),
        (
            "GET",
            "/api/v1/admin/devices".into(),
            Value::Null,
            admin.to_vec(),
        ),
        (
            "POST",
            "/api/v1/admin/devices".into(),
            json!({"role": "kiosk", "name": ""}),
            admin.to_vec(),
        ),
        (
            "DELETE",
            "/api/v1/admin/devices/999999".into(),
            Value::Null,
            admin.to_vec(),
        ),
        (
            "GET",
            "/api/v1/admin/consents".into(),
            Value::Null,
            admin.to_vec(),
        ),
        (
            "POST",
            "/api/v1/admin/applicants/999999/purge".into(),
            json!({"note": ""}),
            admin.to_vec(),
        ),
        (
            "GET",
            "/api/v1/admin/requests".into(),
            Value::Null,
            admin.to_vec(),
        ),
        (
            "POST",
            "/api/v1/admin/requests".into(),
            json!({"applicant_id": id, "kind": "bad"}),
            admin.to_vec(),
        ),
        (
            "GET",
            "/api/v1/admin/requests/999999/export".into(),
            Value::Null,
            admin.to_vec(),
        ),
        (
            "POST",
            "/api/v1/admin/requests/999999/acknowledge".into(),
            json!({"note": ""}),
            admin.to_vec(),
        ),
        (
            "GET",
            "/api/v1/admin/retention".into(),
            Value::Null,
            admin.to_vec(),
        ),
        (
            "POST",
            "/api/v1/admin/retention".into(),
            json!({"dry_run": true}),
            admin.to_vec(),
        ),
        (
            "GET",
            "/api/v1/admin/backups".into(),
            Value::Null,
            admin.to_vec(),
        ),
        (
            "POST",
            "/api/v1/admin/backups".into(),
            json!(null),
            admin.to_vec(),
        ),
        (
            "GET",
            "/api/v1/admin/audit".into(),
            Value::Null,
            admin.to_vec(),
        ),
        (
            "GET",
            "/api/v1/admin/audit?format=csv".into(),
            Value::Null,
            admin.to_vec(),
        ),
        (
            "GET",
            "/api/v1/admin/audit/verify".into(),
            Value::Null,
            admin.to_vec(),
        ),
        (
            "GET",
            "/api/v1/admin/stats".into(),
            Value::Null,
            admin.to_vec(),
        ),
        (
            "GET",
            "/metrics".into(),
            Value::Null,
            vec!["admin", "integration"],
        ),
        (
            "POST",
            "/api/v1/auth/logout".into(),
            Value::Null,
            staff.to_vec(),
        ),
    ];
    let mut failures = Vec::new();
    for (method, path, body, allowed) in &routes {
        for (who, c) in &callers {
            if *path == "/api/v1/auth/logout" && staff.contains(who) {
                continue; // would end the session the rest of the matrix uses
            }
            let (s, v) = match *method {
                "GET" => c.get(path),
                "DELETE" => c.delete(path),
                "PUT" => c.put_json(path, body.clone()),
                _ if body.is_null() => c.post_raw(path, "image/jpeg", b"x"),
                _ => c.post(path, body.clone()),
            };
            let denied = s == 401 || s == 403;
            let want_denied = !allowed.contains(who);
            if denied != want_denied || (*who == "none" && want_denied && s != 401) {
                failures.push(format!("{method} {path} as {who}: {s} {v}"));
            }
        }
    }
    assert!(failures.is_empty(), "role matrix:\n{}", failures.join("\n"));
    assert_eq!(Client::new(&base).get("/healthz").0, 200);
}

/// Issue 26: a clerk finds a returning citizen by any part of a dossier code, as read off the
/// receipt ("261206-0006"), in any case.
#[test]
fn a_returning_citizen_is_found_by_part_of_a_dossier_code() {
    let o = Office::start();
    let id = common::consented_applicant(&o.clerk, "Trần Thị Mai", "001090055555");
    common::open_dossier(
        &o.clerk,
        id,
        "000.00.17.H29-261206-0006",
        "Cấp bản sao trích lục",
        "2026-12-06 08:00",
        "2026-12-20",
    );
    for q in ["261206-0006", "h29-261206", "000.00.17.H29-261206-0006"] {
        let (s, found) = o.clerk.get(&format!("/api/v1/applicants?q={q}"));
        assert_eq!(s, 200);
        assert_eq!(found[0]["id"], id, "{q}: {found}");
    }
    assert_eq!(o.clerk.get("/api/v1/applicants?q=261206-0007").1, json!([]));
}
