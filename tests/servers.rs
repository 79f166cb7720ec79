//! Two `hoso serve` on one PostgreSQL database and one key database (DESIGN.md §9): a face
//! enrolled on one server is matched by a kiosk on the other within 2 s; a withdrawal on
//! the second stops the first from matching within 2 s; with the servers' notification
//! connections killed the periodic check still brings a change across; `kill -9` of one
//! server leaves the other serving and no half-written record. Runs in the tests'
//! PostgreSQL pass; on SQLite it says it is skipped.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{Client, Server};
use serde_json::json;

use common::pair::{enrolled, psql, start_pair, CHECK_S};

/// Visits of `photo` on kiosk `k` until one's outcome is `want` (recognised or not);
/// returns when the visit that showed it began, or None after `within`.
fn first_visit(k: &Client, photo: &Path, want: bool, within: Duration) -> Option<Duration> {
    let t0 = Instant::now();
    let mut n = 0;
    while t0.elapsed() < within {
        n += 1;
        let began = t0.elapsed();
        let (v, _) = common::visit(
            k,
            &format!("v{n}-{}", t0.elapsed().as_nanos()),
            photo,
            n,
            12,
        );
        if common::recognised(&v) == want {
            return Some(began);
        }
    }
    None
}

/// How many keys of applicant `id` the key database at `url` holds.
fn key_rows(url: &str, id: i64) -> String {
    psql(
        url,
        &format!("SELECT COUNT(*) FROM applicant_keys WHERE applicant_id = {id}"),
    )
}

fn photos(faces: &Path, who: &str, names: &[&str]) -> Vec<PathBuf> {
    names.iter().map(|n| faces.join(who).join(n)).collect()
}

#[test]
fn an_enrolment_or_withdrawal_on_one_server_reaches_the_other() {
    let faces = faces_or_skip!();
    let base = pg_or_skip!("two servers share a PostgreSQL database");
    let p = start_pair(&base, "");
    let clerk_a = Client::login(&p.a.base, "clerk1", common::PASSWORD);
    let clerk_b = Client::login(&p.b.base, "clerk1", common::PASSWORD);
    let kiosk_a = Client::with_bearer(&p.a.base, &p.kiosk_token);
    let kiosk_b = Client::with_bearer(&p.b.base, &p.kiosk_token);
    let probe = faces.join("deepface_p01/img5.jpg");

    // Enrolled on A → matched on B within 2 s.
    let id = enrolled(
        &clerk_a,
        1,
        &photos(&faces, "deepface_p01", &["img1.jpg", "img2.jpg"]),
    );
    let at = first_visit(&kiosk_b, &probe, true, Duration::from_secs(10));
    eprintln!("enrolled on A, first matching visit on B began after {at:?}");
    assert!(
        at.is_some_and(|t| t <= Duration::from_secs(2)),
        "B matched the person enrolled on A after {at:?}"
    );
    // The key is in the key database, not in either server's data directory.
    assert_eq!(key_rows(&p.keys_url, id), "1");
    for s in [&p.a, &p.b] {
        assert!(
            common::sorted_files(&s.dir.join("keys/applicants")).is_empty(),
            "no key file beside a server"
        );
    }

    // Withdrawn on B → A stops matching within 2 s; the key row is gone.
    assert!(common::recognised(
        &common::visit(&kiosk_a, "before", &probe, 99, 12).0
    ));
    let (s, v) = clerk_b.delete(&format!("/api/v1/applicants/{id}/consent"));
    assert_eq!(s, 200, "{v}");
    let at = first_visit(&kiosk_a, &probe, false, Duration::from_secs(10));
    eprintln!("withdrawn on B, first unmatched visit on A began after {at:?}");
    assert!(
        at.is_some_and(|t| t <= Duration::from_secs(2)),
        "A still matched a person withdrawn on B after {at:?}"
    );
    assert_eq!(key_rows(&p.keys_url, id), "0");
    assert!(!common::recognised(
        &common::visit(&kiosk_b, "after", &probe, 7, 12).0
    ));

    // Notification connections killed: the periodic check brings the next enrolment
    // across within the check interval.
    let killed = psql(
        &p.main_url,
        "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity
         WHERE application_name = 'hoso-listen' AND datname = current_database()",
    );
    assert_eq!(
        killed, "2",
        "each server listens on a connection of its own"
    );
    let id2 = enrolled(
        &clerk_b,
        2,
        &photos(&faces, "deepface_p02", &["img3.jpg", "img12.jpg"]),
    );
    let at = first_visit(
        &kiosk_a,
        &faces.join("deepface_p02/img53.jpg"),
        true,
        Duration::from_secs(CHECK_S + 10),
    );
    eprintln!("listeners killed, enrolled on B, first matching visit on A began after {at:?}");
    assert!(
        at.is_some_and(|t| t <= Duration::from_secs(CHECK_S + 1)),
        "A matched after {at:?} (check interval {CHECK_S} s)"
    );
    // The listeners are back.
    std::thread::sleep(Duration::from_secs(CHECK_S + 1));
    assert_eq!(
        psql(
            &p.main_url,
            "SELECT COUNT(*) FROM pg_stat_activity
             WHERE application_name = 'hoso-listen' AND datname = current_database()"
        ),
        "2"
    );
    let _ = id2;
}

#[test]
fn one_server_killed_the_other_serves_on() {
    let faces = faces_or_skip!();
    let base = pg_or_skip!("two servers share a PostgreSQL database");
    let mut p = start_pair(&base, "");
    let clerk_a = Client::login(&p.a.base, "clerk1", common::PASSWORD);
    let clerk_b = Client::login(&p.b.base, "clerk1", common::PASSWORD);
    let kiosk_b = Client::with_bearer(&p.b.base, &p.kiosk_token);
    let probe = faces.join("deepface_p01/img5.jpg");
    let id = enrolled(
        &clerk_a,
        1,
        &photos(&faces, "deepface_p01", &["img1.jpg", "img2.jpg"]),
    );
    // A enrols frames of a second person in a loop; it is killed in the middle.
    let other = common::consented_applicant(&clerk_a, "Người Đang Chụp", "001099100077");
    let frames = photos(
        &faces,
        "deepface_p02",
        &["img3.jpg", "img12.jpg", "img53.jpg"],
    );
    let writer = std::thread::spawn(move || {
        let mut acked = 0;
        for i in 0..200 {
            let (s, _) = clerk_a.post_raw(
                &format!("/api/v1/applicants/{other}/faces"),
                "image/jpeg",
                &std::fs::read(&frames[i % frames.len()]).unwrap(),
            );
            if s != 201 {
                break;
            }
            acked += 1;
        }
        acked
    });
    std::thread::sleep(Duration::from_millis(1500));
    p.a.kill9();
    let acked = writer.join().unwrap();
    // B keeps serving: kiosk matches and a clerk's writes.
    let (v, _) = common::visit(&kiosk_b, "after-kill", &probe, 3, 12);
    assert!(common::recognised(&v), "{v}");
    let third = common::consented_applicant(&clerk_b, "Người Sau", "001099100078");
    assert!(third > other);
    // Nothing half-written: every template of the person A was enrolling is whole (it
    // decrypts with the shared key) and audited; A's kill left no lock behind (B enrols
    // the same person at once).
    let rows = psql(
        &p.main_url,
        &format!("SELECT COUNT(*) FROM templates WHERE applicant_id = {other}"),
    );
    let stored: usize = rows.parse().unwrap();
    assert!(stored >= acked, "{acked} acknowledged, {stored} stored");
    let audited: usize = psql(
        &p.main_url,
        &format!("SELECT COUNT(*) FROM audit WHERE action = 'face.enrol' AND subject = 'applicant:{other}'"),
    )
    .parse()
    .unwrap();
    assert_eq!(audited, stored, "every stored template has its audit entry");
    let t0 = Instant::now();
    common::enrol_faces(
        &clerk_b,
        other,
        &photos(&faces, "deepface_p02", &["img54.jpg"]),
    );
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "a lock of the killed server held B back"
    );
    let out = common::bin()
        .args(["audit", "verify", "--data-dir"])
        .arg(&p.b.dir)
        .args(["--database", &p.main_url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "audit chain after kill -9: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = id;
}

#[test]
fn desk_calls_and_settings_on_one_server_hold_on_the_other() {
    let base = pg_or_skip!("two servers share a PostgreSQL database");
    let p = start_pair(&base, "");
    let clerk_a = Client::login(&p.a.base, "clerk1", common::PASSWORD);
    let desk_a = common::sse(&clerk_a, "/api/v1/desk/events");
    let clerk_b = Client::login(&p.b.base, "clerk1", common::PASSWORD);
    let desk_b = common::sse(&clerk_b, "/api/v1/desk/events");
    std::thread::sleep(Duration::from_millis(300));
    let kiosk_b = Client::with_bearer(&p.b.base, &p.kiosk_token);
    let t = Instant::now();
    let (s, call) = kiosk_b.post("/api/v1/kiosk/help", json!({}));
    assert_eq!(s, 201, "{call}");
    for (name, desk) in [("A", &desk_a), ("B", &desk_b)] {
        let (at, ev) = desk
            .recv_timeout(Duration::from_secs(2))
            .unwrap_or_else(|_| panic!("no call on the desk of {name} within 2 s"));
        eprintln!(
            "kiosk call on B → desk on {name} in {:?}",
            at.duration_since(t)
        );
        assert_eq!(ev["type"], "help", "{ev}");
        assert_eq!(ev["call"]["id"], call["id"], "{ev}");
    }
    // An admin's settings changed on B hold on A within 2 s.
    let admin_b = Client::login(&p.b.base, "admin1", common::PASSWORD);
    let (s, v) = admin_b.put_json(
        "/api/v1/admin/settings",
        json!({"retention_grace_days": 45, "kiosk_threshold": null, "kiosk_margin": null}),
    );
    assert_eq!(s, 200, "{v}");
    let admin_a = Client::login(&p.a.base, "admin1", common::PASSWORD);
    let t = Instant::now();
    while admin_a.get("/api/v1/admin/settings").1["retention_grace_days"] != 45 {
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "A kept the old settings"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Answered on A: B's desk hears it too, and nobody hears anything twice.
    let id = call["id"].as_i64().unwrap();
    let (s, v) = clerk_a.post(&format!("/api/v1/desk/help/{id}/answer"), json!({}));
    assert_eq!(s, 200, "{v}");
    for (name, desk) in [("A", &desk_a), ("B", &desk_b)] {
        let (_, ev) = desk
            .recv_timeout(Duration::from_secs(2))
            .unwrap_or_else(|_| panic!("no answer on the desk of {name} within 2 s"));
        assert_eq!(ev["type"], "answered", "{name}: {ev}");
        assert!(
            desk.recv_timeout(Duration::from_millis(500)).is_err(),
            "{name} heard a message twice"
        );
    }
}

#[test]
fn key_files_move_into_a_new_key_database_at_start() {
    let faces = faces_or_skip!();
    let base = pg_or_skip!("the key database is a PostgreSQL database");
    let data = tempfile::tempdir().unwrap();
    let dir = data.path();
    let conf = dir.join("config.toml");
    std::fs::write(&conf, common::RECOGNITION_ONLY).unwrap();
    let conf = conf.to_str().unwrap();
    common::add_user(dir, "clerk", "clerk1");
    let token = common::issue_kiosk_token(dir);
    // One server with its keys in files.
    let server = Server::start_at(dir, &["--config", conf]);
    let clerk = Client::login(&server.base, "clerk1", common::PASSWORD);
    let id = enrolled(
        &clerk,
        7,
        &photos(&faces, "deepface_p01", &["img1.jpg", "img2.jpg"]),
    );
    drop(server);
    let file = dir.join(format!("keys/applicants/{id}.key"));
    assert!(file.exists());
    // Started again with a key database: the file is moved in, the person still matched.
    let main = common::db_args(dir);
    let keys_name = format!("{}_k", main[1].rsplit('/').next().unwrap());
    psql(
        &format!("{base}/postgres"),
        &format!("CREATE DATABASE {keys_name}"),
    );
    let keys_url = format!("{base}/{keys_name}");
    let server = Server::start_on(
        dir,
        &[main, vec!["--keys-database".into(), keys_url.clone()]].concat(),
        &["--config", conf],
    );
    assert!(!file.exists(), "the key file stayed beside the server");
    assert_eq!(key_rows(&keys_url, id), "1");
    let kiosk = Client::with_bearer(&server.base, &token);
    let (v, _) = common::visit(&kiosk, "moved", &faces.join("deepface_p01/img5.jpg"), 1, 12);
    assert!(common::recognised(&v), "{v}");
    // The main database itself is refused as the key database.
    let out = common::bin()
        .args(["migrate", "--data-dir"])
        .arg(dir)
        .args([
            "--database",
            &common::db_args(dir)[1],
            "--keys-database",
            &common::db_args(dir)[1],
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("main database"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
