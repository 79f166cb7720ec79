//! What the kiosk and the desks promise, against a live server (issue 26): an overdue
//! dossier's honest wording and the desk's apology with a new date (once) and its letter;
//! a kiosk learning that staff answered its call; the duplicate-face warning resolved on
//! the right record; the receipt's time from the server's clock.

mod common;

use chrono::{Duration, Utc};
use common::{Client, Office};
use serde_json::json;

/// The kiosk's result for a dossier looked up on the keypad (last 4 ID digits).
fn kiosk_dossier(k: &Client, code: &str, digits: &str) -> serde_json::Value {
    let (s, v) = {
        let body = json!({"code": code, "id_digits": digits});
        k.post("/api/v1/kiosk/lookup", body)
    };
    assert_eq!(s, 200, "{v}");
    v["dossiers"][0].clone()
}

#[test]
fn an_overdue_dossier_apologises_and_the_desk_reschedules_it_once_with_a_letter() {
    let o = Office::start();
    let c = &o.clerk;
    let id = common::consented_applicant(c, "Phạm Thị Mai", "001188006789");
    let code = "000.00.17.H29-261101-0007";
    common::open_dossier(
        c,
        id,
        code,
        "Cấp giấy phép xây dựng",
        "2026-11-01 08:00",
        "2026-11-20",
    );
    let k = Client::with_bearer(&o.server.base, &o.kiosk_token);
    // Overdue, no new date: the office apologises and sends the citizen to the counter;
    // it never says to wait for a date that has passed.
    let d = kiosk_dossier(&k, code, "6789");
    assert_eq!(d["overdue"], true, "{d}");
    let next = d["next_action"].as_str().unwrap();
    assert!(!next.contains("chờ"), "{next}");
    assert!(
        next.contains("xin lỗi") && next.contains("hỏi cán bộ tại quầy"),
        "{next}"
    );
    assert!(
        d["next_action_en"].as_str().unwrap().contains("apologises"),
        "{d}"
    );
    // The desk lists it, with a proposed new date.
    let (s, list) = c.get("/api/v1/desk/overdue");
    assert_eq!(s, 200, "{list}");
    let item = list
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["code"] == code)
        .expect("listed")
        .clone();
    assert_eq!(item["apologised"], false, "{item}");
    assert_eq!(item["applicant"], "Phạm Thị Mai", "{item}");
    assert!(item["days_late"].as_i64().unwrap() >= 1, "{item}");
    // A kiosk or the integration cannot record it; a date not later is refused.
    let new_day = (Utc::now() + Duration::days(6))
        .format("%Y-%m-%d")
        .to_string();
    let body = json!({"new_due_at": new_day, "reason": "chờ ý kiến của Sở Xây dựng"});
    let (s, _) = k.post(&format!("/api/v1/dossiers/{code}/apology"), body.clone());
    assert_eq!(s, 403);
    let (s, v) = c.post(
        &format!("/api/v1/dossiers/{code}/apology"),
        json!({"new_due_at": "2026-11-19"}),
    );
    assert!(s == 409 || s == 400, "{s} {v}");
    // The letter does not exist before the apology.
    let (s, _) = c.get(&format!("/api/v1/dossiers/{code}/apology"));
    assert_eq!(s, 409);
    // One step: recorded, the dossier moved to the new date.
    let (s, v) = c.post(&format!("/api/v1/dossiers/{code}/apology"), body.clone());
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["moved_with_apology"], true, "{v}");
    assert_eq!(v["overdue"], false, "{v}");
    assert!(v["due_at"].as_str().unwrap().starts_with(&new_day), "{v}");
    // Once per dossier.
    let later = (Utc::now() + Duration::days(12))
        .format("%Y-%m-%d")
        .to_string();
    let (s, v) = c.post(
        &format!("/api/v1/dossiers/{code}/apology"),
        json!({"new_due_at": later}),
    );
    assert_eq!(s, 409, "{v}");
    // The letter, from its template, with the new date and the reason.
    let (s, html) = c.get(&format!("/api/v1/dossiers/{code}/apology"));
    assert_eq!(s, 200);
    let html = html.as_str().unwrap();
    let shown = new_day.split('-').rev().collect::<Vec<_>>().join("/");
    for want in [
        "Phiếu xin lỗi và hẹn lại ngày trả kết quả",
        "Phạm Thị Mai",
        "Cấp giấy phép xây dựng",
        "ngày 20/11/2026",
        &shown,
        "chờ ý kiến của Sở Xây dựng",
    ] {
        assert!(html.contains(want), "letter lacks {want}");
    }
    // The kiosk now says the new date, and the apology; read aloud in words.
    let d = kiosk_dossier(&k, code, "6789");
    let next = d["next_action"].as_str().unwrap();
    assert!(next.starts_with(&format!("Hẹn lại: {shown}")), "{next}");
    assert!(next.contains("xin lỗi"), "{next}");
    let said = d["say"].as_array().unwrap();
    assert!(
        said.iter()
            .any(|p| p.as_str().unwrap().starts_with("Hẹn lại: ngày ")),
        "{said:?}"
    );
    // Off the overdue list; both steps in the audit log.
    let (_, list) = c.get("/api/v1/desk/overdue");
    assert!(
        !list.as_array().unwrap().iter().any(|x| x["code"] == code),
        "{list}"
    );
    let actions = common::admin::audit_actions(&o.admin, &format!("subject={code}"));
    for a in ["dossier.status", "apology.print"] {
        assert!(actions.iter().any(|x| x == a), "{a} in {actions:?}");
    }
    // The phone's status page too.
    let (_, r) = c.get(&format!("/api/v1/dossiers/{code}"));
    assert_eq!(r["moved_with_apology"], true, "{r}");
}

#[test]
fn a_kiosk_learns_that_staff_answered_its_call_and_no_other_kiosk_can_ask() {
    let o = Office::start();
    let k = Client::with_bearer(&o.server.base, &o.kiosk_token);
    let (s, call) = k.post("/api/v1/kiosk/help", json!({}));
    assert_eq!(s, 201, "{call}");
    let id = call["id"].as_i64().unwrap();
    let (s, v) = k.get(&format!("/api/v1/kiosk/help/{id}"));
    assert_eq!(s, 200, "{v}");
    assert!(v["answered_at"].is_null(), "{v}");
    let other = common::issue_token(&o.server.dir, "kiosk", "Sảnh 2", None);
    let k2 = Client::with_bearer(&o.server.base, &other);
    let (s, _) = k2.get(&format!("/api/v1/kiosk/help/{id}"));
    assert_eq!(s, 404);
    let (s, _) = o.clerk.get(&format!("/api/v1/kiosk/help/{id}"));
    assert_eq!(s, 403);
    let (s, v) = o
        .clerk
        .post(&format!("/api/v1/desk/help/{id}/answer"), json!({}));
    assert_eq!(s, 200, "{v}");
    let (_, v) = k.get(&format!("/api/v1/kiosk/help/{id}"));
    assert!(v["answered_at"].as_i64().is_some(), "{v}");
}

#[test]
fn the_receipt_s_time_is_the_server_s_clock_in_vietnam_time() {
    let o = Office::start();
    let c = &o.clerk;
    let id = common::consented_applicant(c, "Lê Văn Tám", "001077001234");
    let code = "000.00.17.H29-261206-0001";
    let due = (Utc::now() + Duration::days(10))
        .format("%Y-%m-%d")
        .to_string();
    let before = Utc::now();
    let (s, v) = c.post(
        "/api/v1/dossiers",
        json!({"code": code, "applicant_id": id, "procedure": "Chứng thực bản sao", "due_at": due}),
    );
    assert_eq!(s, 201, "{v}");
    let (_, d) = c.get(&format!("/api/v1/dossiers/{code}"));
    let received = chrono::DateTime::parse_from_rfc3339(d["received_at"].as_str().unwrap())
        .unwrap_or_else(|e| panic!("{d}: {e}"));
    assert_eq!(received.offset().local_minus_utc(), 7 * 3600, "{d}");
    let lag = received.with_timezone(&Utc) - before;
    assert!(
        lag.num_seconds().abs() <= 5,
        "received {received}, asked at {before}"
    );
}

#[test]
fn the_duplicate_face_warning_is_resolved_on_the_right_record() {
    let faces = faces_or_skip!();
    let o = Office::start();
    let c = &o.clerk;
    let p = |f: &str| faces.join("deepface_p01").join(f);
    // Already registered and enrolled.
    let a = common::consented_applicant(c, "Trần Thị Thu Hà", "001099012345");
    common::enrol_faces(c, a, &[p("img1.jpg"), p("img2.jpg")]);
    // Registered again with a typo in the ID: the face warns.
    let again = |name: &str, idn: &str| {
        let b = common::consented_applicant(c, name, idn);
        let (s, v) = c.post_raw(
            &format!("/api/v1/applicants/{b}/faces"),
            "image/jpeg",
            &std::fs::read(p("img5.jpg")).unwrap(),
        );
        assert_eq!(s, 201, "{v}");
        assert_eq!(v["possible_duplicate_of"], a, "{v}");
        b
    };
    let resolve = |b: i64, other: i64, body: serde_json::Value| {
        c.post(
            &format!("/api/v1/applicants/{b}/duplicate/{other}/resolve"),
            body,
        )
    };
    let b = again("Trần Thị Thu Hà", "001099012354");
    // Keeping it needs a reason; a warning that was not raised cannot be resolved.
    let (s, v) = resolve(b, a, json!({"choice": "keep", "reason": ""}));
    assert!(s == 422 && v["field"] == "reason", "{s} {v}");
    let (s, _) = resolve(a, b, json!({"choice": "use_existing"}));
    assert_eq!(s, 404);
    // Same person: the existing record opens; the new one's consent and face are gone.
    let (s, v) = resolve(b, a, json!({"choice": "use_existing"}));
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["applicant"], a, "{v}");
    let (_, pb) = c.get(&format!("/api/v1/applicants/{b}"));
    assert!(pb["consent"].is_null(), "{pb}");
    assert_eq!(pb["templates"], 0, "{pb}");
    assert!(pb["biometrics_purged_at"].as_i64().is_some(), "{pb}");
    let (_, pa) = c.get(&format!("/api/v1/applicants/{a}"));
    assert_eq!(pa["templates"], 2, "{pa}");
    // Discarded: the same.
    let d = again("Trần Thị Thu Hà", "001099012399");
    let (s, v) = resolve(d, a, json!({"choice": "discard"}));
    assert_eq!(s, 200, "{v}");
    assert!(v["applicant"].is_null(), "{v}");
    let (_, pd) = c.get(&format!("/api/v1/applicants/{d}"));
    assert_eq!(pd["templates"], 0, "{pd}");
    // Different people (a twin): kept, with the reason in the audit log.
    let e = again("Trần Thị Thu Hằng", "001099077777");
    let (s, v) = resolve(
        e,
        a,
        json!({"choice": "keep", "reason": "chị em sinh đôi, đã đối chiếu CCCD"}),
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["applicant"], e, "{v}");
    let (_, pe) = c.get(&format!("/api/v1/applicants/{e}"));
    assert_eq!(pe["templates"], 1, "{pe}");
    assert!(!pe["consent"].is_null(), "{pe}");
    let actions = common::admin::audit_actions(&o.admin, "action=face.duplicate_resolve");
    assert_eq!(actions.len(), 3, "{actions:?}");
}
