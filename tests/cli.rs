//! The `hoso` binary end to end: eval, compare, bench, the health endpoint of a running
//! server, and the errors a user sees when the setup is incomplete.

mod common;

use std::path::Path;

fn run(args: &[&str]) -> (bool, String, String) {
    let out = common::bin().args(args).output().expect("run hoso");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// A small face folder made of links into the shared set (nothing is copied).
fn subset(faces: &Path, ids: &[&str]) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    for id in ids {
        std::os::unix::fs::symlink(faces.join(id), tmp.path().join(id)).unwrap();
    }
    std::os::unix::fs::symlink(faces.join("_spoof"), tmp.path().join("_spoof")).unwrap();
    tmp
}

#[test]
fn eval_json_reports_every_scorer() {
    let faces = faces_or_skip!();
    let ids = [
        "John_Salley",
        "John_Savage",
        "John_Schneider",
        "nuaa_0001",
        "nuaa_0002",
        "bbt_amy",
        "deepface_p01",
    ];
    let dir = subset(&faces, &ids);
    let images: usize = ids
        .iter()
        .map(|i| std::fs::read_dir(faces.join(i)).unwrap().count())
        .sum();
    // Both recognition profiles: fr_feature alone (default), dlib + faceres fused.
    for (profile, kiosk, scorers) in [
        ("fr_feature", "fr_feature", &["fr_feature", "fused"][..]),
        ("open-weights", "fused", &["dlib", "faceres", "fused"][..]),
    ] {
        let (ok, out, err) = run(&[
            "--profile",
            profile,
            "eval",
            "--faces",
            dir.path().to_str().unwrap(),
            "--enrol",
            "2",
            "--json",
        ]);
        assert!(ok, "{err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["images"], images);
        assert_eq!(v["identities"], ids.len());
        assert_eq!(v["failed_to_detect"], 0);
        assert_eq!(v["kiosk_scorer"], kiosk);
        for s in scorers {
            let x = &v["scores"][s];
            for k in ["0.01", "0.001", "0.0001"] {
                let t = x["tar_at_far"][k].as_f64().unwrap();
                assert!((0.0..=1.0).contains(&t), "{s} {k} {t}");
            }
            assert!(x["eer"].as_f64().unwrap() < 0.2, "{s}: {x}");
            assert!(x["threshold_at_far_0.001"].is_number());
            assert!(
                x["fnir_at_fpir"]["0.01"].is_number() && x["fnir_at_fpir"]["0.001"].is_number()
            );
            assert!(x["rank1"].as_f64().unwrap() > 0.8, "{s}: {x}");
        }
        if profile == "fr_feature" {
            let tar = v["scores"]["fr_feature"]["tar_at_far"]["0.001"]
                .as_f64()
                .unwrap();
            assert!(tar >= 0.99, "fr_feature TAR@1e-3 {tar}");
        }
    }
    let (ok, _, err) = run(&[
        "--profile",
        "nope",
        "eval",
        "--faces",
        dir.path().to_str().unwrap(),
    ]);
    assert!(
        !ok && err.contains("no recognition profile \"nope\""),
        "{err}"
    );
}

#[test]
fn eval_kiosk_replays_visits_through_the_frames_use_case() {
    let faces = faces_or_skip!();
    let ids = [
        "Barack_Obama",
        "John_Salley",
        "nuaa_0001",
        "bbt_amy",
        "deepface_p01",
        "Joe_Biden",
    ];
    let dir = subset(&faces, &ids);
    let (ok, out, err) = run(&[
        "eval",
        "--kiosk",
        "--faces",
        dir.path().to_str().unwrap(),
        "--frames",
        "10",
        "--json",
    ]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["profile"], "fr_feature");
    assert_eq!(v["enrolled_identities"], 3, "{v}");
    assert!(v["mated_visits"].as_u64().unwrap() >= 5, "{v}");
    assert!(v["non_mated_visits"].as_u64().unwrap() >= 10, "{v}");
    assert_eq!(v["fpir"], 0.0, "{v}");
    assert_eq!(v["wrong_person"], 0, "{v}");
    assert!(v["fnir"].as_f64().unwrap() <= 0.2, "{v}");
    // A match needs two good frames of evidence; strangers are told once, after ten.
    assert!(v["frames_to_match"]["mean"].as_f64().unwrap() >= 2.0, "{v}");
    assert_eq!(v["frames_to_no_match"]["p50"], 10.0, "{v}");
    assert!(v["ms_per_frame"]["p50"].as_f64().unwrap() > 0.0);
}

#[test]
fn faces_compare_prints_quality_and_decisions() {
    let faces = faces_or_skip!();
    let obama = faces.join("Barack_Obama/obama.jpg");
    let obama2 = faces.join("Barack_Obama/obama2.jpg");
    let biden = faces.join("Joe_Biden/biden.jpg");
    let (ok, out, err) = run(&[
        "faces",
        "compare",
        obama.to_str().unwrap(),
        obama2.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("inter-eye") && out.contains("yaw"), "{out}");
    let fused = out
        .lines()
        .find(|l| l.trim_start().starts_with("fused:"))
        .unwrap();
    assert!(fused.contains("same person"), "{out}");
    let (ok, out, _) = run(&[
        "faces",
        "compare",
        obama.to_str().unwrap(),
        biden.to_str().unwrap(),
    ]);
    assert!(ok);
    for s in ["fr_feature:", "fused:"] {
        let l = out.lines().find(|l| l.trim_start().starts_with(s)).unwrap();
        assert!(l.contains("different people"), "{out}");
    }
    let noface = faces.join("_noface/scream.jpg");
    let (ok, _, err) = run(&[
        "faces",
        "compare",
        obama.to_str().unwrap(),
        noface.to_str().unwrap(),
    ]);
    assert!(!ok && err.contains("no face found"), "{err}");
}

#[test]
fn missing_or_wrong_onnxruntime_gives_one_clear_error() {
    let faces = faces_or_skip!();
    let img = faces.join("Barack_Obama/obama.jpg");
    let img = img.to_str().unwrap();
    let out = common::bin()
        .env("ORT_DYLIB_PATH", "/nonexistent/libonnxruntime.so.1.31.1")
        .args(["faces", "compare", img, img])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("ONNX Runtime library") && err.contains("scripts/setup.sh"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    let bogus = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(bogus.path(), b"not a shared library").unwrap();
    let out = common::bin()
        .env("ORT_DYLIB_PATH", bogus.path())
        .args(["faces", "compare", img, img])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("cannot load ONNX Runtime"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bench_reports_stages_and_search() {
    let faces = faces_or_skip!();
    let img = faces.join("nuaa_0001/0001_00_00_01_0.jpg");
    let img = if img.exists() {
        img
    } else {
        let mut v: Vec<_> = std::fs::read_dir(faces.join("nuaa_0001"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        v.sort();
        v.remove(0)
    };
    let (ok, out, err) = run(&[
        "bench",
        "--json",
        "--iterations",
        "5",
        "--max-gallery",
        "10000",
        "--image",
        img.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    for s in [
        "decode",
        "detect",
        "quality",
        "align_fr_feature",
        "embed_fr_feature",
        "passive_fr_liveness",
    ] {
        assert!(v["stages"][s]["p95_ms"].as_f64().unwrap() > 0.0, "{s}: {v}");
    }
    assert!(v["pipeline"]["p50_ms"].as_f64().unwrap() > 0.0);
    assert!(v["search"]["10000"]["p50_ms"].as_f64().unwrap() > 0.0);
    assert!(v["throughput_fps"]["sequential"].as_f64().unwrap() > 0.0);
    assert!(v["peak_rss_mb"].as_f64().unwrap() > 10.0);
    for k in ["1", "2", "4"] {
        let c = &v["concurrent"][k];
        assert!(c["frames_per_s"].as_f64().unwrap() > 0.0, "{k}: {v}");
        assert!(c["latency"]["p95_ms"].as_f64().unwrap() > 0.0, "{k}: {v}");
    }
    // A server's start with that many templates in the store: all of them loaded.
    assert_eq!(v["gallery_load"]["templates"], 10000, "{v}");
    assert!(v["gallery_load"]["open_s"].as_f64().unwrap() > 0.0);
}

#[test]
fn server_answers_health_on_loopback() {
    let s = common::Server::start(&[]);
    let mut res = ureq::get(format!("{}/healthz", s.base))
        .call()
        .expect("healthz");
    assert_eq!(res.status(), 200);
    let v: serde_json::Value = res.body_mut().read_json().unwrap();
    assert_eq!(v["status"], "ok");
    assert_eq!(v["embedders"], serde_json::json!(["fr_feature"]));
    assert_eq!(v["profile"], "fr_feature");
    assert_eq!(v["calibrated"], true);
    assert_eq!(v["liveness_mode"], "passive+active");
    assert_eq!(v["passive_liveness"], "fr_liveness");
    let mut page = ureq::get(format!("{}/", s.base)).call().unwrap();
    assert!(page.body_mut().read_to_string().unwrap().contains("Hồ Sơ"));
    let missing = ureq::get(format!("{}/nope", s.base)).call();
    assert!(matches!(missing, Err(ureq::Error::StatusCode(404))));
}

#[test]
fn serve_refuses_plain_http_off_loopback() {
    let data = tempfile::tempdir().unwrap();
    let (ok, _, err) = run(&[
        "serve",
        "--listen",
        "0.0.0.0:0",
        "--data-dir",
        data.path().to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(err.contains("only loopback"), "{err}");
}

#[test]
fn https_for_lan_clients_with_a_self_signed_certificate() {
    use std::io::{BufRead, BufReader};
    let data = tempfile::tempdir().unwrap();
    common::add_user(data.path(), "clerk", "clerk1");
    let mut child = common::serve_lan(data.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let http = lines.next().unwrap().unwrap();
    let https = lines.next().unwrap().unwrap();
    assert!(
        http.contains("http://127.0.0.1:") && https.contains("https://127.0.0.1:"),
        "{http} / {https}"
    );
    let base = https
        .split("https://")
        .nth(1)
        .unwrap()
        .trim()
        .trim_end_matches('/')
        .to_string();
    let cert_pem =
        std::fs::read(data.path().join("tls/cert.pem")).expect("self-signed certificate generated");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.path().join("tls/key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let cert = ureq::tls::Certificate::from_pem(&cert_pem).unwrap();
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::new_with_certs(&[cert]))
        .build();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .tls_config(tls)
        .http_status_as_error(false)
        .build()
        .into();
    let url = format!("https://localhost:{}", base.rsplit(':').next().unwrap());
    let mut res = agent
        .get(format!("{url}/healthz"))
        .call()
        .expect("HTTPS health");
    assert_eq!(res.status(), 200);
    assert!(res.body_mut().read_to_string().unwrap().contains("\"ok\""));
    let res = agent
        .post(format!("{url}/api/v1/auth/login"))
        .send_json(serde_json::json!({"username": "clerk1", "password": common::PASSWORD}))
        .unwrap();
    let cookie = res
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        cookie.contains("Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    // An untrusting client refuses the self-signed certificate.
    let plain: ureq::Agent = ureq::Agent::config_builder().build().into();
    assert!(plain.get(format!("{url}/healthz")).call().is_err());
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn server_camera_missing_is_a_clear_startup_error() {
    let data = tempfile::tempdir().unwrap();
    for (spec, device) in [("0", "/dev/video0"), ("/dev/video7", "/dev/video7")] {
        if std::path::Path::new(device).exists() {
            eprintln!("SKIPPED for {device}: this machine has that camera");
            continue;
        }
        let (ok, _, err) = run(&[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--camera",
            spec,
            "--camera-kiosk",
            "Sảnh 1",
            "--data-dir",
            data.path().to_str().unwrap(),
        ]);
        assert!(!ok, "started without a camera");
        assert!(
            err.contains(device) && err.contains("cannot be opened"),
            "{err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
    let (ok, _, err) = run(&[
        "serve",
        "--camera",
        "front door",
        "--camera-kiosk",
        "Sảnh 1",
        "--data-dir",
        data.path().to_str().unwrap(),
    ]);
    assert!(!ok && err.contains("not a camera index"), "{err}");
}

#[test]
fn kiosk_events_stream_is_for_kiosks() {
    let o = common::Office::start();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let url = format!("{}/api/v1/kiosk/events", o.server.base);
    let res = agent
        .get(&url)
        .header("Authorization", format!("Bearer {}", o.kiosk_token))
        .call()
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    drop(res);
    let res = agent
        .get(&url)
        .header("Authorization", format!("Bearer {}", o.integration_token))
        .call()
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(agent.get(&url).call().unwrap().status(), 401);
}

#[test]
fn eval_pad_reports_attacks_and_the_kiosk_policy() {
    let faces = faces_or_skip!();
    let out = common::bin()
        .args(["eval-pad", "--faces"])
        .arg(&faces)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["attacks"]["print"], 29, "{}", v["attacks"]);
    assert_eq!(v["attacks"]["screen"], 1);
    assert_eq!(
        v["bona_fide"], 224,
        "the Silent-Face live sample counts as bona fide"
    );
    assert!(v["no_face"].as_array().unwrap().is_empty());
    let policy = v["policy"].as_str().unwrap();
    assert!(
        policy.contains("Active") && policy.contains("head turns"),
        "{policy}"
    );
    // Poses are reported: the turned photos the challenge test relies on.
    let yaw = |f: &str| {
        v["presentations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["file"] == f)
            .unwrap()["yaw"]
            .as_f64()
            .unwrap()
    };
    assert!(yaw("Barack_Obama/obama1.jpg") > 12.0 && yaw("Barack_Obama/obama2.jpg") < -12.0);
}
