//! PostgreSQL restarted under a server taking writes: requests during the outage are
//! refused with 503 `database_unavailable` (nothing half-saved), every acknowledged write is
//! there afterwards, the audit chain is intact, and the server recovers by itself. Runs in
//! the tests' PostgreSQL pass (`HOSO_TEST_PG`, `HOSO_TEST_PG_DIR`); on SQLite it says it is
//! skipped.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{cli, Office};
use serde_json::json;

#[test]
fn a_database_restart_loses_no_acknowledged_write() {
    let (Some(_), Ok(cluster)) = (common::pg(), std::env::var("HOSO_TEST_PG_DIR")) else {
        eprintln!("skipped on SQLite: this test restarts the PostgreSQL cluster");
        return;
    };
    let o = Office::start();
    let stop = Arc::new(AtomicBool::new(false));
    let base = o.server.base.clone();
    let clerk = common::Client::login(&base, "clerk1", common::PASSWORD);
    let t0 = Instant::now();
    let writer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut out = Vec::new();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let id_number = format!("0010995{n:05}");
                let (s, v) = clerk.post(
                    "/api/v1/applicants",
                    json!({"full_name": "Lê Văn Bền", "id_number": id_number}),
                );
                out.push((t0.elapsed(), s, v));
                std::thread::sleep(Duration::from_millis(50));
            }
            (clerk, out)
        })
    };
    std::thread::sleep(Duration::from_secs(2));
    let down = Instant::now();
    let st = std::process::Command::new(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/pg-cluster.sh"),
    )
    .args(["restart", &cluster])
    .status()
    .expect("pg-cluster.sh");
    assert!(st.success(), "restart");
    let restart = down.elapsed();
    std::thread::sleep(Duration::from_secs(6));
    stop.store(true, Ordering::Relaxed);
    let (clerk, out) = writer.join().unwrap();

    let refused: Vec<_> = out.iter().filter(|(_, s, _)| *s != 201).collect();
    for (_, s, v) in &refused {
        assert_eq!(*s, 503, "only 'unavailable' during the outage: {v}");
        assert_eq!(v["error"], "database_unavailable", "{v}");
    }
    let acknowledged: Vec<i64> = out
        .iter()
        .filter(|(_, s, _)| *s == 201)
        .map(|(_, _, v)| v["id"].as_i64().unwrap())
        .collect();
    for id in &acknowledged {
        let (s, v) = clerk.get(&format!("/api/v1/applicants/{id}"));
        assert_eq!(s, 200, "acknowledged applicant {id} lost: {v}");
    }
    let restarted_at = down.duration_since(t0) + restart;
    let after = out
        .iter()
        .filter(|(t, s, _)| *s == 201 && *t > restarted_at + Duration::from_secs(1))
        .count();
    assert!(after > 0, "the server never recovered by itself");
    let first_after = out
        .iter()
        .find(|(t, s, _)| *s == 201 && *t > restarted_at)
        .map(|(t, _, _)| t.saturating_sub(restarted_at));
    eprintln!(
        "PostgreSQL restart took {restart:?}; {} writes acknowledged, {} refused (503), \
         0 lost; first acknowledged write {first_after:?} after the restart",
        acknowledged.len(),
        refused.len()
    );
    assert!(cli(&o.server.dir, &["audit", "verify"], "").contains("intact"));
}
