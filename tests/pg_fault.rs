//! PostgreSQL restarted under two servers during a 60 s run of intake writes and kiosk
//! frames on both: requests during the outage are refused with 503
//! `database_unavailable` (nothing half-saved) and only then, every acknowledged write is
//! there afterwards, both servers recover by themselves, and the audit chain is intact.
//! Runs in the tests' PostgreSQL pass (`HOSO_TEST_PG`, `HOSO_TEST_PG_DIR`); on SQLite it
//! says it is skipped.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::pair::start_pair;
use common::Client;
use serde_json::json;

/// How long the run lasts, and when in it the database restarts.
const RUN: Duration = Duration::from_secs(60);
const RESTART_AT: Duration = Duration::from_secs(20);

/// (when, status, error code) of each request a worker made.
type Log = Vec<(Duration, u16, String)>;

fn worker(
    stop: Arc<AtomicBool>,
    t0: Instant,
    mut step: impl FnMut(usize) -> (u16, serde_json::Value) + Send + 'static,
) -> std::thread::JoinHandle<(Log, Vec<i64>)> {
    std::thread::spawn(move || {
        let (mut log, mut acked) = (Vec::new(), Vec::new());
        let mut n = 0;
        while !stop.load(Ordering::Relaxed) {
            n += 1;
            let (s, v) = step(n);
            if s == 201 {
                acked.push(v["id"].as_i64().unwrap_or_default());
            }
            log.push((
                t0.elapsed(),
                s,
                v["error"].as_str().unwrap_or_default().to_string(),
            ));
            std::thread::sleep(Duration::from_millis(50));
        }
        (log, acked)
    })
}

#[test]
fn a_database_restart_under_two_servers_loses_no_acknowledged_write() {
    let faces = faces_or_skip!();
    let (Some(base), Ok(cluster)) = (common::pg(), std::env::var("HOSO_TEST_PG_DIR")) else {
        eprintln!("skipped on SQLite: this test restarts the PostgreSQL cluster");
        return;
    };
    let p = start_pair(&base, "");
    // Somebody to recognise, enrolled on A.
    let setup = Client::login(&p.a.base, "clerk1", common::PASSWORD);
    common::pair::enrolled(
        &setup,
        300,
        &[
            faces.join("deepface_p01/img1.jpg"),
            faces.join("deepface_p01/img2.jpg"),
        ],
    );
    let frame = std::fs::read(faces.join("deepface_p01/img5.jpg")).unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let t0 = Instant::now();
    let mut workers = Vec::new();
    for (s, base) in [("a", &p.a.base), ("b", &p.b.base)] {
        let clerk = Client::login(base, "clerk1", common::PASSWORD);
        let prefix = if s == "a" { 4 } else { 5 };
        workers.push((
            format!("intake on {s}"),
            worker(stop.clone(), t0, move |n| {
                clerk.post(
                    "/api/v1/applicants",
                    json!({"full_name": "Lê Văn Bền", "id_number": format!("00109{prefix}{n:06}")}),
                )
            }),
        ));
        let kiosk = Client::with_bearer(base, &p.kiosk_token);
        let frame = frame.clone();
        workers.push((
            format!("kiosk on {s}"),
            worker(stop.clone(), t0, move |n| {
                let session = format!("{s}{}", n / 6);
                let (st, v) = kiosk.post_raw_with(
                    "/api/v1/kiosk/frames",
                    "image/jpeg",
                    &frame,
                    &[("X-Kiosk-Session", session.as_str())],
                );
                (if st == 200 { 299 } else { st }, v)
            }),
        ));
    }
    std::thread::sleep(RESTART_AT);
    let down = t0.elapsed();
    let st = std::process::Command::new(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/pg-cluster.sh"),
    )
    .args(["restart", &cluster])
    .status()
    .expect("pg-cluster.sh");
    assert!(st.success(), "restart");
    let up = t0.elapsed();
    std::thread::sleep(RUN.saturating_sub(t0.elapsed()));
    stop.store(true, Ordering::Relaxed);

    let clerk = Client::login(&p.b.base, "clerk1", common::PASSWORD);
    // Errors only while the database was away (and the seconds a pool takes to notice).
    let outage = down.saturating_sub(Duration::from_millis(500))..up + Duration::from_secs(5);
    for (name, w) in workers {
        let (log, acked) = w.join().unwrap();
        let refused: Vec<_> = log.iter().filter(|(_, s, _)| *s >= 400).collect();
        for (t, s, e) in &refused {
            assert_eq!(
                (*s, e.as_str()),
                (503, "database_unavailable"),
                "{name}: only 'unavailable' during the outage"
            );
            assert!(
                outage.contains(t),
                "{name}: refused at {t:?}, outside {outage:?}"
            );
        }
        let after = log
            .iter()
            .filter(|(t, s, _)| *s < 400 && *t > up + Duration::from_secs(5))
            .count();
        assert!(after > 0, "{name} never recovered by itself");
        for a in &acked {
            let (s, v) = clerk.get(&format!("/api/v1/applicants/{a}"));
            assert_eq!(s, 200, "{name}: acknowledged applicant {a} lost: {v}");
        }
        eprintln!(
            "{name}: {} requests, {} refused (503) between {:?} and {:?}, {} writes acknowledged, 0 lost",
            log.len(),
            refused.len(),
            refused.first().map(|r| r.0),
            refused.last().map(|r| r.0),
            acked.len()
        );
    }
    eprintln!("PostgreSQL down at {down:?}, back at {up:?}");
    // The audit chain of both servers' writes is whole.
    let out = common::bin()
        .args(["audit", "verify", "--data-dir"])
        .arg(&p.a.dir)
        .args(["--database", &p.main_url])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("intact"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
