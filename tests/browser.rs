//! Browser end-to-end tests: the real pages in Debian's headless Chromium with a fake
//! camera, driven by playwright-core scripts in tests/browser/. Screenshots are
//! kept in test-artifacts/.

mod common;

use std::path::{Path, PathBuf};

use common::browser::{artifacts, node, tooling, y4m};
use common::{Server, PASSWORD};

#[test]
fn clerk_desk_enrols_and_prints_a_receipt() {
    let faces = faces_or_skip!();
    if !tooling() {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    common::add_user(data.path(), "clerk", "clerk1");
    let video = data.path().join("face.y4m");
    y4m(&[&faces.join("deepface_p01/img2.jpg")], &video);
    let server = Server::start_at(data.path(), &[]);
    let art = artifacts();
    let (ok, out) = node(
        "clerk.mjs",
        &[
            &server.base,
            video.to_str().unwrap(),
            art.to_str().unwrap(),
            "clerk1",
            PASSWORD,
            "000.00.17.H29-261122-0005",
        ],
    );
    assert!(ok, "{out}");
    assert!(out.contains("OK clerk desk"), "{out}");
    assert!(art.join("clerk-receipt.png").exists());
}

/// Applicant with consent, two enrolment photos and one dossier; returns (id, display name).
fn seed_person(
    c: &common::Client,
    name: &str,
    idn: &str,
    photos: &[PathBuf],
    code: &str,
) -> (i64, String) {
    use serde_json::json;
    let id = common::consented_applicant(c, name, idn);
    common::enrol_faces(c, id, photos);
    let d = json!({"code": code, "applicant_id": id, "procedure": "Đăng ký hộ kinh doanh", "received_at": "2026-11-20 08:00", "due_at": "2026-12-10"});
    assert_eq!(c.post("/api/v1/dossiers", d).0, 201);
    (id, hoso::applicant::greeting_name(name))
}

#[test]
fn lobby_kiosk_face_fallbacks_qr_and_keypad() {
    use serde_json::json;
    let faces = faces_or_skip!();
    if !tooling() {
        return;
    }
    let o = common::Office::start_with(common::RECOGNITION_ONLY);
    let c = &o.clerk;
    let p = |id: &str, f: &str| faces.join(id).join(f);
    let (code_a, code_b, code_c) = (
        "000.00.17.H29-261120-0011",
        "000.00.17.H29-261120-0012",
        "000.00.17.H29-261120-0013",
    );
    let (_, name_a) = seed_person(
        c,
        "Nguyễn Văn Thành",
        "001099012345",
        &[p("deepface_p01", "img1.jpg"), p("deepface_p01", "img2.jpg")],
        code_a,
    );
    let i = common::Client::with_bearer(&o.server.base, &o.integration_token);
    assert_eq!(
        i.post(
            &format!("/api/v1/dossiers/{code_a}/events"),
            json!({"status": 5, "at": "2026-11-21 09:00", "note": "bản sao CCCD"})
        )
        .0,
        201
    );
    let (b, _) = seed_person(
        c,
        "Trần Thị Bích",
        "079203000123",
        &[
            p("deepface_p02", "img12.jpg"),
            p("deepface_p02", "img3.jpg"),
        ],
        code_b,
    );
    assert_eq!(c.delete(&format!("/api/v1/applicants/{b}/consent")).0, 200);
    seed_person(
        c,
        "Lê Văn Cường",
        "001099054321",
        &[
            p("deepface_p03", "img48.jpg"),
            p("deepface_p03", "img49.jpg"),
        ],
        code_c,
    );
    for (st, at) in [
        (4, "2026-11-21 08:00"),
        (9, "2026-11-22 08:00"),
        (10, "2026-11-23 08:00"),
    ] {
        assert_eq!(
            i.post(
                &format!("/api/v1/dossiers/{code_c}/events"),
                json!({"status": st, "at": at})
            )
            .0,
            201
        );
    }
    // The receipt QR of dossier A as a frame.
    let dir = o.server.dir.clone();
    let qr_png = dir.join("qr.png");
    let qr = common::receipt_qr_image(c, code_a);
    let mut frame = image::RgbImage::from_pixel(640, 480, image::Rgb([200, 200, 200]));
    image::imageops::overlay(&mut frame, &qr, 160, 60);
    frame.save(&qr_png).unwrap();

    let art = artifacts();
    let run = |photo: &Path, scenario: &[&str]| {
        let video = dir.join(format!(
            "{}.y4m",
            scenario.join("-").replace(['.', ' '], "_")
        ));
        y4m(&[photo], &video);
        let mut args = vec![
            o.server.base.as_str(),
            o.kiosk_token.as_str(),
            video.to_str().unwrap(),
            art.to_str().unwrap(),
        ];
        args.extend_from_slice(scenario);
        let (ok, out) = node("kiosk.mjs", &args);
        assert!(ok, "{scenario:?}: {out}");
        out
    };
    let out = run(&p("deepface_p01", "img5.jpg"), &["face", &name_a, code_a]);
    assert!(out.contains("Yêu cầu bổ sung"), "{out}");
    run(&p("Barack_Obama", "obama.jpg"), &["fallback", "stranger"]);
    run(&p("deepface_p02", "img53.jpg"), &["fallback", "withdrawn"]);
    run(&p("deepface_p03", "img50.jpg"), &["fallback", "closed"]);
    run(&qr_png, &["qr", code_a]);
    run(&p("_noface", "white.png"), &["keypad", code_a, "2345"]);
}

#[test]
fn admin_withdraws_consent_and_the_kiosk_forgets_the_face() {
    let faces = faces_or_skip!();
    if !tooling() {
        return;
    }
    let o = common::Office::start_with(common::RECOGNITION_ONLY);
    let p = |f: &str| faces.join("deepface_p01").join(f);
    let code = "000.00.17.H29-261120-0021";
    let (id, name) = seed_person(
        &o.clerk,
        "Phan Thị Hồng",
        "001099077777",
        &[p("img1.jpg"), p("img2.jpg")],
        code,
    );
    let art = artifacts();
    let video = o.server.dir.join("probe.y4m");
    y4m(&[&p("img5.jpg")], &video);
    let kiosk = |scenario: &[&str]| {
        let mut args = vec![
            o.server.base.as_str(),
            o.kiosk_token.as_str(),
            video.to_str().unwrap(),
            art.to_str().unwrap(),
        ];
        args.extend_from_slice(scenario);
        let (ok, out) = node("kiosk.mjs", &args);
        assert!(ok, "{scenario:?}: {out}");
    };
    // Before: the kiosk recognises her.
    kiosk(&["face", &name, code]);
    let (ok, out) = node(
        "admin.mjs",
        &[
            &o.server.base,
            art.to_str().unwrap(),
            "admin1",
            PASSWORD,
            &id.to_string(),
            "mat-khau-moi-2026",
            "Phan Thị Hồng",
        ],
    );
    assert!(ok && out.contains("OK admin withdrawal"), "{out}");
    // The clerk's new password works (the old session ended).
    assert_eq!(o.clerk.get("/api/v1/consent/text").0, 401);
    common::Client::login(&o.server.base, "clerk1", "mat-khau-moi-2026");
    // After: the same face in front of the kiosk gets the fallbacks, not her dossier.
    kiosk(&["fallback", "after-admin-withdrawal"]);
}

#[test]
fn printed_photo_attack_gets_the_fallback_not_a_dossier() {
    let faces = faces_or_skip!();
    if !tooling() {
        return;
    }
    // The shipped liveness defence (passive check over the visit, then the challenge), with a
    // short challenge so the test is quick.
    let o = common::Office::start_with("[liveness]\nseconds = 5\n");
    let photos = common::sorted_files(&faces.join("nuaa_0001"));
    seed_person(
        &o.clerk,
        "Đoàn Văn Hải",
        "001099066666",
        &photos[..2],
        "000.00.17.H29-261120-0031",
    );
    let attack = faces.join("_spoof/nuaa_0001/0001_00_00_01_251.jpg");
    let (ok, out) = kiosk_sees(&o, &[&attack], "attack", &[]);
    assert!(ok && out.contains("OK attack"), "{out}");
    // One visit: one audit entry, one unresolved look-up — however long the photo stays.
    let (_, log) = o
        .admin
        .get("/api/v1/admin/audit?action=kiosk.attack_suspected");
    assert_eq!(log.as_array().map(Vec::len), Some(1), "{log}");
    let (_, st) = o.admin.get("/api/v1/admin/stats?days=1");
    assert_eq!(st["totals"]["unresolved"], 1, "{st}");
}

/// Plays `photos` to the kiosk page's camera and runs a kiosk.mjs scenario.
fn kiosk_sees(
    o: &common::Office,
    photos: &[&Path],
    scenario: &str,
    args: &[&str],
) -> (bool, String) {
    kiosk_sees_as(o, &o.kiosk_token, photos, scenario, args)
}

/// `kiosk_sees` with the page opened by `auth`: a token, or `pair:<setup code>`.
fn kiosk_sees_as(
    o: &common::Office,
    auth: &str,
    photos: &[&Path],
    scenario: &str,
    args: &[&str],
) -> (bool, String) {
    let video = o.server.dir.join(format!("{scenario}.y4m"));
    y4m(photos, &video);
    let art = artifacts();
    let mut all = vec![
        o.server.base.as_str(),
        auth,
        video.to_str().unwrap(),
        art.to_str().unwrap(),
        scenario,
    ];
    all.extend_from_slice(args);
    node("kiosk.mjs", &all)
}

#[test]
fn live_person_reaches_the_result_without_a_challenge() {
    let faces = faces_or_skip!();
    if !tooling() {
        return;
    }
    // The shipped default: passive + active.
    let o = common::Office::start();
    let photos = common::sorted_files(&faces.join("nuaa_0002"));
    let code = "000.00.17.H29-261120-0032";
    let (_, name) = seed_person(&o.clerk, "Lê Thị Mai", "001099077777", &photos[..2], code);
    // The person's other live webcam frames, as a short video, to a kiosk set up the way
    // the appliance is: with its one-time setup code, never its token.
    let (s, dev) = o.admin.post(
        "/api/v1/admin/devices",
        serde_json::json!({"role": "kiosk", "name": "Sảnh 2"}),
    );
    assert_eq!(s, 201, "{dev}");
    let pair = format!("pair:{}", dev["setup_code"].as_str().unwrap());
    let rest: Vec<&Path> = photos[2..6].iter().map(PathBuf::as_path).collect();
    let (ok, out) = kiosk_sees_as(&o, &pair, &rest, "live", &[&name, code]);
    assert!(ok && out.contains("OK live"), "{out}");
}
