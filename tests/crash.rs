//! Kill -9 in the middle of enrolments and of CSV imports, 20 times each: after every
//! restart the database is intact, every template belongs to a consented applicant and
//! decrypts, nothing is half-written, and the audit chain holds.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{cli, Client, Server, PASSWORD};
use hoso::crypto::Keys;
use serde_json::json;

const ROUNDS: usize = 20;

/// A pseudo-random delay in [0, max) from the clock (no RNG crate needed).
fn jitter(max: Duration, round: usize) -> Duration {
    let n = Instant::now().elapsed().as_nanos() as u64
        ^ (round as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let x = n
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407)
        >> 33;
    max.mul_f64((x % 10_000) as f64 / 10_000.0)
}

fn check_consistent(dir: &Path) -> (i64, i64) {
    if common::pg().is_none() {
        let c = rusqlite::Connection::open(dir.join("hoso.sqlite3")).unwrap();
        let ok: String = c
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(ok, "ok");
    }
    let count = |sql: &str| -> i64 { common::db_query(dir, sql)[0][0].parse().unwrap() };
    let orphans = count(
        "SELECT COUNT(*) FROM templates t WHERE NOT EXISTS (SELECT 1 FROM applicants a WHERE a.id = t.applicant_id)
           OR NOT EXISTS (SELECT 1 FROM consents c WHERE c.applicant_id = t.applicant_id AND c.withdrawn_at IS NULL)",
    );
    assert_eq!(orphans, 0, "templates without applicant or consent");
    let keys = Keys::open_or_create(dir).unwrap();
    let rows: Vec<(i64, Vec<u8>)> =
        common::db_query(dir, "SELECT applicant_id, sealed FROM templates")
            .into_iter()
            .map(|r| (r[0].parse().unwrap(), hex::decode(&r[1]).unwrap()))
            .collect();
    for (a, s) in &rows {
        let k = keys
            .existing_applicant_key(*a)
            .expect("key of a stored template");
        let t = hoso::crypto::open(&k, s, format!("template:{a}").as_bytes())
            .expect("template decrypts");
        assert_eq!(t.len() % 4, 0);
    }
    let enrolled = count("SELECT COUNT(*) FROM audit WHERE action = 'face.enrol'");
    assert_eq!(
        enrolled,
        rows.len() as i64,
        "every stored template has its audit entry and vice versa"
    );
    let events = count("SELECT COUNT(*) FROM dossier_events");
    assert!(cli(dir, &["audit", "verify"], "").contains("intact"));
    (rows.len() as i64, events)
}

#[test]
fn kill_during_enrolment() {
    let faces = faces_or_skip!();
    let data = tempfile::tempdir().unwrap();
    let dir = data.path();
    common::add_user(dir, "clerk", "clerk1");
    let mut server = Server::start_at(dir, &[]);
    let c = Client::login(&server.base, "clerk1", PASSWORD);
    let id = common::consented_applicant(&c, "Lý Thị Hồng", "001099012345");
    let img = std::fs::read(faces.join("deepface_p01/img1.jpg")).unwrap();
    // How long one enrolment takes here, to aim the kills inside it.
    let t = Instant::now();
    assert_eq!(
        c.post_raw(
            &format!("/api/v1/applicants/{id}/faces"),
            "image/jpeg",
            &img
        )
        .0,
        201
    );
    let span = t.elapsed() + Duration::from_millis(20);
    let mut completed = 1;
    for round in 0..ROUNDS {
        let (base, cookie, csrf) = (server.base.clone(), c.cookie.clone(), c.csrf.clone());
        let body = img.clone();
        let req = std::thread::spawn(move || {
            let mut k = Client::new(&base);
            (k.cookie, k.csrf) = (cookie, csrf);
            k.post_raw(
                &format!("/api/v1/applicants/{id}/faces"),
                "image/jpeg",
                &body,
            )
            .0
        });
        std::thread::sleep(jitter(span, round));
        server.kill9();
        if req.join().unwrap() == 201 {
            completed += 1;
        }
        server = Server::start_at(dir, &[]);
        let (templates, _) = check_consistent(dir);

        assert!(templates >= completed, "an acknowledged enrolment was lost");
    }
    let c = Client::login(&server.base, "clerk1", PASSWORD);
    assert_eq!(
        c.get("/healthz").1["gallery_templates"],
        check_consistent(dir).0,
        "gallery reloaded every template"
    );
}

#[test]
fn kill_during_csv_import() {
    sqlite_only!("each round starts from a file copy of the SQLite database");
    let data = tempfile::tempdir().unwrap();
    let dir = data.path();
    common::add_user(dir, "clerk", "clerk1");
    let code = "000.00.17.H29-261120-0042";
    {
        let mut server = Server::start_at(dir, &[]);
        let c = Client::login(&server.base, "clerk1", PASSWORD);
        let (_, v) = c.post(
            "/api/v1/applicants",
            json!({"full_name": "Đinh Công Lý", "id_number": "001099012345"}),
        );
        let new = json!({"code": code, "applicant_id": v["id"], "procedure": "Đăng ký kinh doanh", "received_at": "2026-11-20", "due_at": "2026-12-20"});
        assert_eq!(c.post("/api/v1/dossiers", new).0, 201);
        server.kill9();
    }
    let rows = 3000;
    let mut csv = String::from("code,status,at,note\n");
    for i in 0..rows {
        csv.push_str(&format!(
            "{code},4,2026-11-21T{:02}:{:02}:00+07:00,bước {i}\n",
            8 + i / 60 % 12,
            i % 60
        ));
    }
    // Distinct times: 12 hours × 60 minutes = 720 slots per day; spread over days.
    let csv: String = csv
        .lines()
        .enumerate()
        .map(|(n, l)| {
            if n == 0 {
                l.to_string()
            } else {
                l.replace("2026-11-21", &format!("2026-11-{:02}", 21 + (n - 1) / 720))
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let file = dir.join("big.csv");
    std::fs::write(&file, csv).unwrap();
    // Each round imports into a fresh copy of the state before the import.
    let fresh = || {
        let d = tempfile::tempdir().unwrap();
        for f in ["hoso.sqlite3", "hoso.sqlite3-wal"] {
            let _ = std::fs::copy(dir.join(f), d.path().join(f));
        }
        common::copy_dir(&dir.join("keys"), &d.path().join("keys"));
        d
    };
    let import = |d: &Path| {
        common::bin()
            .args([
                "import-status",
                file.to_str().unwrap(),
                "--data-dir",
                d.to_str().unwrap(),
            ])
            .args(common::db_args(d))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let timing = fresh();
    let t = Instant::now();
    assert!(import(timing.path()).wait().unwrap().success());
    let span = t.elapsed();
    let (mut interrupted, mut finished) = (0, 0);
    for round in 0..ROUNDS {
        let d = fresh();
        let mut child = import(d.path());
        std::thread::sleep(jitter(span, round));
        let _ = child.kill();
        let status = child.wait().unwrap();
        let (_, events) = check_consistent(d.path());
        assert!(
            events == 1 || events == 1 + rows as i64,
            "half an import: {events} events"
        );
        if events == 1 {
            interrupted += 1
        } else {
            finished += 1
        }
        // Finishing the import afterwards gives exactly the whole file.
        if round % 5 == 0 {
            assert!(
                cli(d.path(), &["import-status", file.to_str().unwrap()], "").contains("imported")
            );
            assert_eq!(check_consistent(d.path()).1, 1 + rows as i64);
        }
        let _ = status;
    }
    eprintln!("CSV import: {interrupted} rounds killed before the commit, {finished} after");
    assert!(interrupted > 0, "no kill landed inside an import");
}
