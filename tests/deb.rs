//! The Debian package on this machine, as an office IT person would use it: lintian finds no
//! error; `apt-get install ./hoso_….deb` creates the user, the private data directory, keys
//! and certificate; the unit files verify; the installed binary with the installed config
//! serves /healthz on loopback, enrols a face and identifies it (through the liveness
//! challenge) from ../shared/faces; `apt-get purge` removes every byte of data, said loudly.
//!
//! Needs root and the package: `scripts/test.sh` builds it and sets HOSO_DEB. Under CI a
//! missing package or root is a failure; elsewhere the test says why it is skipped.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{kiosk_frame as frame, Client};
use serde_json::{json, Value};

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

fn skip(why: &str) {
    if ci() {
        panic!("{why}");
    }
    eprintln!("SKIPPED: {why}");
}

fn run(cmd: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(cmd)
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// `hoso` as the service user with the installed configuration.
fn installed(args: &[&str], stdin: &str) -> String {
    let mut cmd = Command::new("runuser");
    cmd.args([
        "-u",
        "hoso",
        "--",
        "/usr/bin/hoso",
        "--config",
        "/etc/hoso/config.toml",
    ])
    .args(args);
    common::run_with_stdin(cmd, stdin)
}

struct Purge;

impl Drop for Purge {
    /// Never leave the package installed, even when an assertion failed.
    fn drop(&mut self) {
        let _ = Command::new("pkill").args(["-u", "hoso"]).status();
        let _ = Command::new("apt-get")
            .args(["purge", "-y", "-qq", "hoso"])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .output();
    }
}

#[test]
fn debian_package_installs_serves_identifies_and_purges() {
    let faces = faces_or_skip!();
    let Some(deb) = std::env::var_os("HOSO_DEB").map(PathBuf::from) else {
        return skip("HOSO_DEB is not set (scripts/test.sh builds the package and sets it)");
    };
    if !run("id", &["-u"]).1.trim().eq("0") {
        return skip("installing a package needs root");
    }
    let deb = deb.canonicalize().expect("the package file");

    // lintian: no errors (warnings are listed in the test output).
    let (_, lint) = run(
        "lintian",
        &["--no-tag-display-limit", deb.to_str().unwrap()],
    );
    eprintln!("lintian:\n{lint}");
    let errors: Vec<&str> = lint.lines().filter(|l| l.starts_with("E:")).collect();
    assert!(errors.is_empty(), "lintian errors:\n{}", errors.join("\n"));

    let _purge = Purge;
    let (ok, out) = run("apt-get", &["install", "-y", "-q", deb.to_str().unwrap()]);
    assert!(ok, "install:\n{out}");
    assert!(
        out.contains("Bước đầu tiên / First steps"),
        "first-run steps:\n{out}"
    );
    for f in [
        "/usr/bin/hoso",
        "/usr/lib/hoso/libonnxruntime.so.1.31.1",
        "/usr/share/hoso/models/manifest.toml",
        "/usr/share/hoso/models/faceres.onnx",
        "/usr/share/hoso/models/fr_feature.onnx",
        "/usr/share/hoso/models/fr_liveness.onnx",
        "/etc/hoso/config.toml",
        "/var/lib/hoso/keys/deployment.key",
        "/var/lib/hoso/tls/cert.pem",
        "/usr/share/doc/hoso/README.md",
        "/usr/share/doc/hoso/templates/dpia.vi.md",
        "/usr/sbin/hoso-kiosk-setup",
    ] {
        assert!(Path::new(f).exists(), "{f} missing");
    }
    let (_, st) = run("stat", &["-c", "%a %U", "/var/lib/hoso"]);
    assert_eq!(st.trim(), "700 hoso");
    let (ok, conffiles) = run(
        "dpkg-query",
        &["--showformat=${Conffiles}", "--show", "hoso"],
    );
    assert!(
        ok && conffiles.contains("/etc/hoso/config.toml"),
        "{conffiles}"
    );

    // The unit files, where systemd-analyze exists.
    if run("which", &["systemd-analyze"]).0 {
        let units = [
            "/lib/systemd/system/hoso.service",
            "/lib/systemd/system/hoso-retention.service",
            "/lib/systemd/system/hoso-retention.timer",
            "/lib/systemd/system/hoso-backup.service",
            "/lib/systemd/system/hoso-backup.timer",
        ];
        let (ok, out) = run("systemd-analyze", &[&["verify"][..], &units[..]].concat());
        assert!(
            ok && out.trim().is_empty(),
            "systemd-analyze verify:\n{out}"
        );
    } else {
        eprintln!("SKIPPED: systemd-analyze verify (systemd-analyze is not installed)");
    }

    // First run, as the guide says: accounts and a kiosk token with the installed binary.
    installed(
        &[
            "admin",
            "create-user",
            "--role",
            "clerk",
            "--username",
            "canbo1",
        ],
        common::PASSWORD,
    );
    let token = installed(
        &[
            "admin",
            "issue-token",
            "--role",
            "kiosk",
            "--name",
            "Kiosk sảnh 1",
        ],
        "",
    )
    .trim()
    .to_string();

    // The installed binary with the installed config, as the service runs it.
    let mut server = Command::new("runuser")
        .args([
            "-u",
            "hoso",
            "--",
            "/usr/bin/hoso",
            "--config",
            "/etc/hoso/config.toml",
            "serve",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut reader = BufReader::new(server.stdout.take().unwrap());
    reader.read_line(&mut line).unwrap();
    // Keep reading what the server prints (the HTTPS line) so it never writes to a closed pipe.
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    assert!(line.contains("http://127.0.0.1:8080"), "{line}");
    let base = "http://127.0.0.1:8080";
    let (s, h) = Client::new(base).get("/healthz");
    assert_eq!((s, h["status"].as_str()), (200, Some("ok")), "{h}");
    assert_eq!(h["calibrated"], true);

    let clerk = Client::login(base, "canbo1", common::PASSWORD);
    let ob = |f: &str| faces.join("Barack_Obama").join(f);
    let id = common::consented_applicant(&clerk, "Nguyễn Văn Ba", "001099040001");
    common::enrol_faces(&clerk, id, &[ob("obama.jpg"), ob("obama3.jpg")]);
    let code = "000.00.17.H29-261120-0401";
    let (s, v) = clerk.post(
        "/api/v1/dossiers",
        json!({"code": code, "applicant_id": id, "procedure": "Đăng ký kết hôn",
               "received_at": "2026-11-20 08:00", "due_at": "2026-12-01"}),
    );
    assert_eq!(s, 201, "{v}");
    // Identification through the kiosk API, with the shipped liveness defence: the passive
    // check over the visit, and the head-turn challenge when it is not confident.
    let k = Client::with_bearer(base, &token);
    let mut v = Value::Null;
    for _ in 0..12 {
        v = frame(&k, "deb", &ob("obama.jpg"));
        if v["state"] == "challenge" || v["state"] == "matched" {
            break;
        }
    }
    if v["state"] == "challenge" {
        let steps: Vec<String> = v["challenge"]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect();
        for (i, step) in steps.iter().enumerate() {
            if i > 0 {
                frame(&k, "deb", &ob("obama.jpg"));
            }
            let photo = if step == "left" {
                "obama1.jpg"
            } else {
                "obama2.jpg"
            };
            v = frame(&k, "deb", &ob(photo));
        }
    }
    assert_eq!(v["state"], "matched", "{v}");
    assert_eq!(v["result"]["dossiers"][0]["code"], code);
    // Stop it as systemd would (runuser's child runs as hoso).
    let _ = Command::new("pkill").args(["-TERM", "-u", "hoso"]).status();
    let _ = server.wait();
    for _ in 0..50 {
        if !run("pgrep", &["-u", "hoso"]).0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }

    // apt purge: everything goes, loudly.
    let (ok, out) = run("apt-get", &["purge", "-y", "-q", "hoso"]);
    assert!(ok, "purge:\n{out}");
    assert!(out.contains("PURGING /var/lib/hoso"), "{out}");
    assert!(
        !Path::new("/var/lib/hoso").exists(),
        "/var/lib/hoso is gone"
    );
    assert!(!Path::new("/usr/bin/hoso").exists());
    assert!(!Path::new("/etc/hoso/config.toml").exists());
    assert!(
        !run("getent", &["passwd", "hoso"]).0,
        "the system user is gone"
    );
}
