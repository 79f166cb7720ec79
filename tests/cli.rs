//! The `hoso` server binary end to end: the health endpoint of a running server, plain HTTP
//! refused off loopback, HTTPS for the LAN, the kiosk event stream, and the errors a user
//! sees when the setup is incomplete. The commands that work on the models and photos alone
//! (eval, compare, bench) are in `tests/evals.rs`.

mod common;

use common::run_hoso as run;

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
