//! The clerk and admin desks in headless Chromium at 1366×768 (a fake camera for the clerk):
//! returning citizens, re-enrolment, the duplicate-face warning (resolved on the registered
//! record), re-consent back to the person, the overdue list's apology in two taps and its
//! letter, the desk in English, consent printed before it is
//! recorded, the receipt, withdrawal at the desk (then the kiosk falls back), and every admin
//! tab. Screenshots in test-artifacts/desk-*.png.

mod common;

use common::browser::{artifacts, node, tooling, y4m};
use common::{decide, Client, Office, PASSWORD};
use serde_json::json;

#[test]
fn a_clerk_serves_a_returning_citizen_and_handles_faces() {
    let faces = faces_or_skip!();
    if !tooling() {
        return;
    }
    let o = Office::start_with(common::RECOGNITION_ONLY);
    let clerk_id = common::admin_id(&o.admin, "users", "username", "clerk1");
    let (s, v) = o.admin.post(
        &format!("/api/v1/admin/users/{clerk_id}"),
        json!({"display_name": "Nguyễn Thị Lan"}),
    );
    assert_eq!(s, 200, "{v}");
    // X registered on an earlier visit: consent, two photos, one dossier.
    let x = faces.join("deepface_p01");
    let xid = common::consented_applicant(&o.clerk, "Hoàng Văn Nam", "001099004401");
    common::enrol_faces(&o.clerk, xid, &[x.join("img1.jpg"), x.join("img4.jpg")]);
    common::open_dossier(
        &o.clerk,
        xid,
        "000.00.17.H29-261120-0001",
        "Đăng ký hộ kinh doanh",
        "2026-11-20 08:00",
        "2026-12-10",
    );
    let probe = std::fs::read(x.join("img5.jpg")).unwrap();
    let k = Client::with_bearer(&o.server.base, &o.kiosk_token);
    assert_eq!(decide(&k, "before", &probe)["state"], "matched");

    let video = o.server.dir.join("x.y4m");
    y4m(&[&x.join("img2.jpg")], &video);
    let art = artifacts();
    let (ok, out) = node(
        "desk.mjs",
        &[
            &o.server.base,
            video.to_str().unwrap(),
            art.to_str().unwrap(),
            "clerk1",
            PASSWORD,
            "001099004401",
            "000.00.17.H29-261130-0002",
            "001099004402",
        ],
    );
    assert!(ok, "{out}");
    assert!(out.contains("OK desk"), "{out}");

    // After the withdrawal at the desk the kiosk no longer recognises X.
    assert_ne!(decide(&k, "after", &probe)["state"], "matched");
    let (_, p) = o.clerk.get(&format!("/api/v1/applicants/{xid}"));
    assert!(p["consent"].is_null() && p["templates"] == 0, "{p}");
    // Every step is in the audit log.
    let actions = common::audit_actions(&o.admin, "limit=200");
    for want in [
        "face.reenrol",
        "face.duplicate_view",
        "face.duplicate_resolve",
        "consent.print",
        "consent.withdraw",
        "receipt.print",
    ] {
        assert!(
            actions.iter().any(|a| a == want),
            "{want} missing from {actions:?}"
        );
    }
    for name in [
        "desk-clerk-search",
        "desk-clerk-person",
        "desk-receipt",
        "desk-clerk-reenrolled",
        "desk-consent-form",
        "desk-clerk-duplicate",
        "desk-clerk-withdraw",
    ] {
        assert!(art.join(format!("{name}.png")).exists(), "{name}.png");
    }
}

#[test]
fn the_desk_apologises_in_two_taps_speaks_english_and_returns_after_re_consent() {
    let faces = faces_or_skip!();
    if !tooling() {
        return;
    }
    let o = Office::start_with(common::RECOGNITION_ONLY);
    // Y came before without consenting to face lookup; one dossier, in processing.
    let (s, v) = o.clerk.post(
        "/api/v1/applicants",
        json!({"full_name": "Đỗ Văn Hùng", "id_number": "001088003311"}),
    );
    assert_eq!(s, 201, "{v}");
    let y = v["id"].as_i64().unwrap();
    common::open_dossier(
        &o.clerk,
        y,
        "000.00.17.H29-261110-0021",
        "Đăng ký thường trú",
        "2026-11-10 08:00",
        "2026-11-24",
    );
    let overdue = "000.00.17.H29-261110-0021";
    let video = o.server.dir.join("y.y4m");
    y4m(&[&faces.join("deepface_p03").join("img47.jpg")], &video);
    let art = artifacts();
    let (ok, out) = node(
        "clerk_day.mjs",
        &[
            &o.server.base,
            video.to_str().unwrap(),
            art.to_str().unwrap(),
            "clerk1",
            PASSWORD,
            "001088003311",
            overdue,
        ],
    );
    assert!(ok && out.contains("OK clerk day"), "{out}");
    println!("{}", out.trim());
    let (_, p) = o.clerk.get(&format!("/api/v1/applicants/{y}"));
    assert!(!p["consent"].is_null() && p["templates"] == 3, "{p}");
}
