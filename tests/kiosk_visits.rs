//! The kiosk around a visit, against a real server: keypad guesses limited per dossier code
//! across kiosks and per kiosk (surviving a restart; a right look-up of another code never
//! resets them), "call staff" reaching a clerk desk's event stream within 2 s, read-aloud
//! audio made on the server, and office statistics that count visits, not frames.

mod common;

use std::time::{Duration, Instant};

use common::{Client, Office, Server};
use serde_json::json;

const CODE_A: &str = "000.00.17.H29-261120-0101";
const CODE_B: &str = "000.00.17.H29-261120-0102";
const CODE_C: &str = "000.00.17.H29-261120-0103";

/// An applicant with one dossier; the last 4 digits of their ID are `last4`.
fn dossier(c: &Client, name: &str, last4: &str, code: &str) {
    let id = common::consented_applicant(c, name, &format!("00109900{last4}"));
    common::open_dossier(
        c,
        id,
        code,
        "Cấp đổi giấy phép lái xe",
        "2026-11-20 08:00",
        "2026-12-10",
    );
}

fn lookup(k: &Client, code: &str, digits: &str) -> (u16, serde_json::Value) {
    k.post(
        "/api/v1/kiosk/lookup",
        json!({"code": code, "id_digits": digits}),
    )
}

#[test]
fn keypad_misses_lock_a_code_on_one_kiosk_everywhere_only_from_three_and_survive_a_restart() {
    let mut o = Office::start();
    let c = &o.clerk;
    dossier(c, "Phạm Văn An", "1111", CODE_A);
    dossier(c, "Đỗ Thị Bình", "2222", CODE_B);
    dossier(c, "Vũ Văn Cường", "3333", CODE_C);
    let kiosk = |name: &str| {
        let (_, dev) = o.admin.post(
            "/api/v1/admin/devices",
            json!({"role": "kiosk", "name": name}),
        );
        Client::with_bearer(&o.server.base, dev["token"].as_str().expect("token"))
    };
    let (k2, k3) = (kiosk("Sảnh 2"), kiosk("Sảnh 3"));
    let k1 = Client::with_bearer(&o.server.base, &o.kiosk_token);
    // The keypad pre-fills the office's code prefix.
    let (_, setup) = k1.get("/api/v1/kiosk/setup");
    assert_eq!(setup["code_prefix"], "000.00.17.H29-", "{setup}");
    // Five wrong tries on A at one kiosk lock A there, even with the right digits…
    for _ in 0..5 {
        assert_eq!(lookup(&k1, CODE_A, "0000").0, 404);
    }
    let (s, v) = lookup(&k1, CODE_A, "1111");
    assert_eq!((s, v["error"].as_str()), (429, Some("code_locked")), "{v}");
    // …not at the next kiosk: one kiosk (or one stolen token) cannot lock a citizen out.
    assert_eq!(lookup(&k2, CODE_A, "1111").0, 200);
    // The next citizen at the same kiosk, with another code, is served.
    let (s, v) = lookup(&k1, CODE_B, "2222");
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["dossiers"][0]["code"], CODE_B);
    // Misses of C at three kiosks lock C everywhere.
    for k in [&k1, &k2, &k3] {
        assert_eq!(lookup(k, CODE_C, "9999").0, 404);
    }
    assert_eq!(lookup(&k2, CODE_C, "3333").1["error"], "code_locked");
    // A badly typed entry is not a guess: refused, not counted.
    assert_eq!(lookup(&k2, CODE_B, "22").0, 400);
    // The counters survive a restart of the server.
    let data = o.server.data.take().expect("data dir");
    o.server.kill9();
    let conf = data.path().join("config.toml");
    let server = Server::start_at(data.path(), &["--config", conf.to_str().unwrap()]);
    let k1 = Client::with_bearer(&server.base, &o.kiosk_token);
    assert_eq!(lookup(&k1, CODE_A, "1111").1["error"], "code_locked");
    assert_eq!(lookup(&k1, CODE_C, "3333").1["error"], "code_locked");
    assert_eq!(lookup(&k1, CODE_B, "2222").0, 200);
    // The clerk sees the locked code on the person's page and unlocks it for its owner
    // (issue 26); the other locked code stays locked.
    let c = Client::login(&server.base, "clerk1", common::PASSWORD);
    let (_, found) = c.get(&format!("/api/v1/applicants?q={CODE_C}"));
    let (_, person) = c.get(&format!("/api/v1/applicants/{}", found[0]["id"]));
    let lock = &person["keypad_locks"][0];
    assert_eq!(
        (lock["code"].as_str(), lock["kiosks"].as_u64()),
        (Some(CODE_C), Some(3)),
        "{person}"
    );
    assert!(lock["locked_for_s"].as_u64().unwrap() > 0, "{lock}");
    let (s, v) = c.post(&format!("/api/v1/dossiers/{CODE_C}/unlock"), json!({}));
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["unlocked"]["misses"], 3);
    assert_eq!(lookup(&k1, CODE_C, "3333").0, 200, "unlocked at the desk");
    assert_eq!(lookup(&k1, CODE_A, "1111").1["error"], "code_locked");
    let admin = Client::login(&server.base, "admin1", common::PASSWORD);
    assert_eq!(
        common::audit_actions(&admin, "action=dossier.unlock").len(),
        1
    );
    drop(server);
    drop(data);
}

#[test]
fn call_staff_reaches_the_clerk_desk_within_two_seconds_and_is_counted() {
    let o = Office::start();
    let k = Client::with_bearer(&o.server.base, &o.kiosk_token);
    let events = common::sse(&o.clerk, "/api/v1/desk/events");
    std::thread::sleep(Duration::from_millis(300));
    let t = Instant::now();
    let (s, call) = k.post("/api/v1/kiosk/help", json!({}));
    assert_eq!(s, 201, "{call}");
    let (at, ev) = events
        .recv_timeout(Duration::from_secs(2))
        .expect("event within 2 s");
    let ms = at.duration_since(t).as_millis();
    println!("call staff → clerk desk event in {ms} ms");
    assert_eq!(
        (ev["type"].as_str(), ev["call"]["kiosk"].as_str()),
        (Some("help"), Some("Sảnh 1")),
        "{ev}"
    );
    // A second tap while waiting is the same request.
    let (_, again) = k.post("/api/v1/kiosk/help", json!({}));
    assert_eq!(again["id"], call["id"]);
    // A desk opened later sees what still waits.
    let late = common::sse(&o.admin, "/api/v1/desk/events");
    let (_, ev) = late
        .recv_timeout(Duration::from_secs(2))
        .expect("waiting request");
    assert_eq!(ev["call"]["id"], call["id"]);
    // The clerk answers; every desk hears it.
    let id = call["id"].as_i64().unwrap();
    let (s, v) = o
        .clerk
        .post(&format!("/api/v1/desk/help/{id}/answer"), json!({}));
    assert_eq!(s, 200, "{v}");
    let (_, ev) = events
        .recv_timeout(Duration::from_secs(2))
        .expect("answered event");
    assert_eq!(ev["type"], "answered");
    // Only kiosks call, only staff answer; both audited and counted.
    assert_eq!(o.clerk.post("/api/v1/kiosk/help", json!({})).0, 403);
    assert_eq!(
        k.post(&format!("/api/v1/desk/help/{id}/answer"), json!({}))
            .0,
        403
    );
    let (_, st) = o.admin.get("/api/v1/admin/stats?days=1");
    assert_eq!(
        (st["help_calls"].as_i64(), st["help_answered"].as_i64()),
        (Some(1), Some(1)),
        "{st}"
    );
    let (_, audit) = o.admin.get("/api/v1/admin/audit?action=kiosk.help_call");
    assert!(audit.to_string().contains("kiosk.help_call"), "{audit}");
}

#[test]
fn read_aloud_is_audio_made_on_the_server_of_what_the_kiosk_showed() {
    let o = Office::start();
    let k = Client::with_bearer(&o.server.base, &o.kiosk_token);
    let say = |lang: &str, text: &str| {
        k.post_for_bytes("/api/v1/kiosk/speech", json!({"lang": lang, "text": text}))
    };
    // Nothing shown yet: only the greeting may be read.
    let (s, _, _) = say("vi", "Được tiếp nhận.");
    assert_eq!(s, 422);
    let (s, ct, _) = say("vi", "Xin chào ông/bà.");
    assert_eq!((s, ct.as_str()), (200, "audio/wav"));
    // A result shown (the keypad): its phrases, in both languages.
    dossier(&o.clerk, "Phạm Văn An", "1111", CODE_A);
    let (s, v) = lookup(&k, CODE_A, "1111");
    assert_eq!(s, 200, "{v}");
    let d = &v["dossiers"][0];
    let phrases: Vec<String> = d["say"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect();
    assert_eq!(phrases.len(), 4, "{d}");
    assert_eq!(phrases[0], "Cấp đổi giấy phép lái xe.");
    assert_eq!(phrases[2], "Hẹn trả kết quả: ngày 10 tháng 12 năm 2026.");
    assert_eq!(d["say_en"][2], "Result due: 10 December 2026.");
    assert!(!d.to_string().contains("An."), "no name is read");
    let t = Instant::now();
    let (s, ct, wav) = say("vi", &phrases[3]);
    let first = t.elapsed();
    assert_eq!(
        (s, ct.as_str()),
        (200, "audio/wav"),
        "{}",
        String::from_utf8_lossy(&wav)
    );
    assert!(wav.starts_with(b"RIFF") && &wav[8..12] == b"WAVE");
    // 16-bit mono at 22 050 Hz: more than two seconds of speech.
    let seconds = (wav.len() - 44) as f64 / 44_100.0;
    assert!(seconds > 2.0, "{seconds:.1} s of audio");
    let t = Instant::now();
    let (_, _, again) = say("vi", &phrases[3]);
    println!(
        "speech: {seconds:.1} s of audio, first {first:?}, cached {:?}",
        t.elapsed()
    );
    assert_eq!(again, wav);
    let en = d["say_en"][1].as_str().unwrap();
    let (s, _, audio) = say("en", en);
    assert!(s == 200 && audio.starts_with(b"RIFF"), "{en}");
    // Anything else is refused before the engine runs; bad requests are clear.
    assert_eq!(
        say("en", &phrases[3]).0,
        422,
        "a phrase in the other language"
    );
    assert_eq!(say("vi", "Mời ông/bà đến quầy số 9.").0, 422);
    assert_eq!(
        k.post("/api/v1/kiosk/speech", json!({"lang": "fr", "text": "x"}))
            .0,
        400
    );
    assert_eq!(say("vi", &"a".repeat(5000)).0, 400);
    // Another kiosk was not shown this result.
    let (_, dev) = o.admin.post(
        "/api/v1/admin/devices",
        json!({"role": "kiosk", "name": "Sảnh 2"}),
    );
    let k2 = Client::with_bearer(&o.server.base, dev["token"].as_str().unwrap());
    assert_eq!(
        k2.post(
            "/api/v1/kiosk/speech",
            json!({"lang": "vi", "text": phrases[3]})
        )
        .0,
        422
    );
    assert_eq!(
        o.clerk
            .post("/api/v1/kiosk/speech", json!({"lang": "vi", "text": "x"}))
            .0,
        403
    );
}

#[test]
fn statistics_of_a_scripted_morning_count_visits() {
    let faces = faces_or_skip!();
    let o = Office::start_with(common::RECOGNITION_ONLY);
    let c = &o.clerk;
    let k = Client::with_bearer(&o.server.base, &o.kiosk_token);
    let p = |id: &str, f: &str| faces.join(id).join(f);
    let people = [
        (
            "Nguyễn Văn Thành",
            "deepface_p01",
            ["img1.jpg", "img2.jpg"],
            "img5.jpg",
        ),
        (
            "Trần Thị Bích",
            "deepface_p02",
            ["img12.jpg", "img3.jpg"],
            "img53.jpg",
        ),
        (
            "Lê Văn Cường",
            "deepface_p03",
            ["img48.jpg", "img49.jpg"],
            "img50.jpg",
        ),
    ];
    for (i, (name, dir, enrol, _)) in people.iter().enumerate() {
        let id = common::consented_applicant(c, name, &format!("0010990000{i:02}"));
        common::enrol_faces(c, id, &[p(dir, enrol[0]), p(dir, enrol[1])]);
        let code = format!("000.00.17.H29-261120-02{i:02}");
        common::open_dossier(
            c,
            id,
            &code,
            "Đăng ký khai sinh",
            "2026-11-20 08:00",
            "2026-12-10",
        );
    }
    let mut session = 0;
    let mut next = || {
        session += 1;
        format!("morning-{session}")
    };
    // Six face visits: each person comes twice.
    for round in 0..2 {
        for (name, dir, _, probe) in &people {
            let v = common::decide(&k, &next(), &std::fs::read(p(dir, probe)).unwrap());
            assert!(common::recognised(&v), "{name}, round {round}: {v}");
        }
    }
    // Two receipt QR visits.
    for code in ["000.00.17.H29-261120-0200", "000.00.17.H29-261120-0201"] {
        let qr = common::receipt_qr_image(c, code);
        let mut frame = image::RgbImage::from_pixel(640, 480, image::Rgb([200, 200, 200]));
        image::imageops::overlay(&mut frame, &qr, 160, 60);
        let (s, v) = k.post_raw_with(
            "/api/v1/kiosk/frames",
            "image/jpeg",
            &common::jpeg(&frame),
            &[("X-Kiosk-Session", &next())],
        );
        assert_eq!((s, v["via"].as_str()), (200, Some("qr")), "{v}");
    }
    // One keypad visit.
    assert_eq!(lookup(&k, "000.00.17.H29-261120-0202", "0002").0, 200);
    // One stranger who stands in front of the kiosk for 45 s, as the page sends frames:
    // the visit until it is decided, then the receipt frames of the fallback screen.
    let stranger = std::fs::read(p("Barack_Obama", "obama.jpg")).unwrap();
    let s = next();
    let started = Instant::now();
    let v = common::decide(&k, &s, &stranger);
    assert_eq!(v["state"], "no_match", "{v}");
    let mut frames = 0;
    while started.elapsed() < Duration::from_secs(45) {
        let (st, v) = k.post_raw_with(
            "/api/v1/kiosk/frames",
            "image/jpeg",
            &stranger,
            &[("X-Kiosk-Session", &s), ("X-Kiosk-Mode", "qr")],
        );
        assert_eq!((st, v["state"].as_str()), (200, Some("hold_still")), "{v}");
        frames += 1;
        std::thread::sleep(Duration::from_millis(400));
    }
    let (_, st) = o.admin.get("/api/v1/admin/stats?days=1");
    let t = &st["totals"];
    println!("scripted morning ({frames} fallback frames from the stranger): {t}");
    assert_eq!(
        (
            &t["face"],
            &t["qr"],
            &t["keypad"],
            &t["unresolved"],
            &st["total"]
        ),
        (&json!(6), &json!(2), &json!(1), &json!(1), &json!(10)),
        "{st}"
    );
}
