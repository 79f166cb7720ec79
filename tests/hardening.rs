//! What an anonymous client must not be able to do to the service, against a real
//! `hoso serve` on loopback: exhaust its memory with sign-ins or small hostile images,
//! fill its disk through the audit log, hold its sockets with half-sent requests; and
//! that a consent withdrawal racing an enrolment never leaves face data behind.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{Client, Office, Server, PASSWORD};
use serde_json::json;

/// Samples a process's RSS every 20 ms until `stop`; returns the highest seen.
fn watch_rss(
    pid: u32,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<f64> {
    std::thread::spawn(move || {
        let mut peak: f64 = 0.0;
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            peak = peak.max(common::rss_mib(pid));
            std::thread::sleep(Duration::from_millis(20));
        }
        peak.max(common::rss_mib(pid))
    })
}

fn photo() -> Option<PathBuf> {
    let faces = common::faces_dir()?;
    Some(common::sorted_files(&faces.join("Barack_Obama"))[0].clone())
}

fn p95(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 * 0.95).ceil() as usize)
        .saturating_sub(1)
        .min(v.len() - 1)]
}

#[test]
fn a_sign_in_flood_keeps_memory_flat_and_the_kiosk_fast() {
    let Some(photo) = photo() else { return };
    let office = Office::start();
    let pid = office.server.child.id();
    let frame = std::fs::read(&photo).unwrap();
    let kiosk = Client::with_bearer(&office.server.base, &office.kiosk_token);
    // Warm up the models, then measure the kiosk alone.
    common::warm_kiosk(&kiosk, &frame, 3);
    let before = common::rss_mib(pid);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let peak = watch_rss(pid, stop.clone());
    let base = office.server.base.clone();
    let flood: Vec<_> = (0..128)
        .map(|i| {
            let base = base.clone();
            std::thread::spawn(move || {
                let c = Client::new(&base);
                let mut statuses = Vec::new();
                for round in 0..3 {
                    let (s, v) = c.post(
                        "/api/v1/auth/login",
                        json!({"username": format!("nobody{i}-{round}"), "password": "wrong password"}),
                    );
                    // 0: the connection was refused (over the per-client cap).
                    assert!([0, 401, 429, 503].contains(&s), "{s} {v}");
                    assert!(s == 0 || v["error"].is_string(), "{v}");
                    statuses.push(s);
                }
                statuses
            })
        })
        .collect();
    let mut times = Vec::new();
    let t0 = Instant::now();
    while times.len() < 15 || t0.elapsed() < Duration::from_secs(2) {
        let t = Instant::now();
        let (s, v) = kiosk.post_raw_with(
            "/api/v1/kiosk/frames",
            "image/jpeg",
            &frame,
            &[("X-Kiosk-Session", &format!("flood{}", times.len()))],
        );
        assert_eq!(s, 200, "{v}");
        times.push(t.elapsed().as_secs_f64());
        if times.len() >= 60 {
            break;
        }
    }
    let statuses: Vec<u16> = flood.into_iter().flat_map(|h| h.join().unwrap()).collect();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let peak = peak.join().unwrap();
    let after = common::rss_mib(pid);
    let kiosk_p95 = p95(times.clone());
    eprintln!(
        "sign-in flood: {} attempts ({} refused at once); server RSS {before:.0} → peak {peak:.0} → {after:.0} MiB; kiosk frames p95 {:.0} ms over {}",
        statuses.len(),
        statuses.iter().filter(|s| **s != 401).count(),
        kiosk_p95 * 1000.0,
        times.len()
    );
    assert!(peak < 600.0, "server RSS peaked at {peak:.0} MiB");
    assert!(
        kiosk_p95 < 0.5,
        "kiosk frames p95 {kiosk_p95:.2} s during the flood"
    );
    assert!(statuses.contains(&401), "some attempts were checked");
    // This client address is now made to wait, and told how long.
    let r = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent()
        .post(format!("{}/api/v1/auth/login", office.server.base))
        .send_json(json!({"username": "clerk1", "password": PASSWORD}))
        .unwrap();
    assert_eq!(r.status().as_u16(), 429);
    assert!(r.headers().get("retry-after").is_some());
}

/// Bytes of the database and its WAL (of the PostgreSQL database when the tests run there).
fn db_bytes(dir: &Path) -> u64 {
    if common::pg().is_some() {
        return common::db_query(dir, "SELECT pg_database_size(current_database())")[0][0]
            .parse()
            .unwrap();
    }
    ["hoso.sqlite3", "hoso.sqlite3-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(dir.join(f)).ok())
        .map(|m| m.len())
        .sum()
}

#[test]
fn failed_sign_ins_cannot_fill_the_disk() {
    let office = Office::start();
    let dir = office.server.dir.clone();
    let before = db_bytes(&dir);
    let base = office.server.base.clone();
    let huge = "u".repeat(256 * 1024);
    let workers: Vec<_> = (0..8)
        .map(|w| {
            let (base, huge) = (base.clone(), huge.clone());
            std::thread::spawn(move || {
                let c = Client::new(&base);
                for i in 0..250 {
                    let (s, v) = c.post(
                        "/api/v1/auth/login",
                        json!({"username": format!("{huge}{w}-{i}"), "password": "x"}),
                    );
                    // Refused before the body is read (0: closed while we were sending).
                    assert!(s == 413 || s == 0, "{s} {v}");
                    if s == 413 {
                        assert_eq!(v["error"], "too_large", "{v}");
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    // Repeated small failures on one account: counted, not written one by one.
    let c = Client::new(&base);
    let mut throttled = 0;
    for _ in 0..40 {
        let (s, v) = c.post(
            "/api/v1/auth/login",
            json!({"username": "=HYPERLINK(\"http://evil\",\"x\")", "password": "wrong password"}),
        );
        if s == 429 {
            throttled += 1;
            assert_eq!(v["error"], "too_many_requests");
        } else {
            assert_eq!(s, 401, "{v}");
        }
    }
    assert!(
        throttled > 20,
        "growing delays after repeated failures ({throttled} of 40)"
    );
    let grown = db_bytes(&dir).saturating_sub(before);
    eprintln!("2 000 sign-ins with 256 KB usernames + 40 failures: database grew {grown} bytes");
    assert!(grown < 5 << 20, "database grew {grown} bytes");
    let (s, log) = office
        .admin
        .get("/api/v1/admin/audit?action=login.failed&limit=1000");
    assert_eq!(s, 200);
    let entries = log["entries"]
        .as_array()
        .or(log.as_array())
        .cloned()
        .unwrap_or_default();
    assert!(
        (1..=5).contains(&entries.len()),
        "failed sign-ins audited by count: {} entries",
        entries.len()
    );
    // The audit CSV never starts a cell with a formula.
    let (s, csv) = office
        .admin
        .get("/api/v1/admin/audit?action=login.failed&format=csv");
    assert_eq!(s, 200);
    let csv = csv.as_str().unwrap().to_string();
    assert!(csv.contains("'=HYPERLINK"), "{csv}");
    for line in csv.lines() {
        for cell in line.split(',') {
            assert!(
                !cell.trim_start_matches('"').starts_with(['=', '+', '@']),
                "formula cell {cell:?} in {line}"
            );
        }
    }
}

/// `hoso serve` with the open-file limit systemd gives a service by default (soft 1024).
fn serve_with_file_limit(data: &Path, config: &str) -> (std::process::Child, String, String) {
    use std::io::BufRead;
    use std::os::unix::process::CommandExt;
    let conf = data.join("config.toml");
    std::fs::write(&conf, config).unwrap();
    let mut cmd = common::serve_lan(data);
    cmd.arg("--config")
        .arg(&conf)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    // SAFETY: setrlimit is async-signal-safe and only changes the child's own limit.
    unsafe {
        cmd.pre_exec(|| {
            let mut l = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut l);
            l.rlim_cur = 1024;
            l.rlim_max = l.rlim_max.max(4096);
            libc::setrlimit(libc::RLIMIT_NOFILE, &l);
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let http = lines.next().unwrap().unwrap();
    let https = lines.next().unwrap().unwrap();
    let addr = |l: &str, scheme: &str| {
        l.split(scheme)
            .nth(1)
            .unwrap()
            .trim()
            .trim_end_matches('/')
            .to_string()
    };
    (child, addr(&http, "http://"), addr(&https, "https://"))
}

/// Connects from another loopback address (another client, as the service sees it).
fn connect_from(src: &str, to: &str) -> Option<TcpStream> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    rt.block_on(async {
        let s = tokio::net::TcpSocket::new_v4().ok()?;
        s.bind(format!("{src}:0").parse().ok()?).ok()?;
        let stream = tokio::time::timeout(Duration::from_secs(2), s.connect(to.parse().ok()?))
            .await
            .ok()?
            .ok()?;
        stream.into_std().ok()
    })
}

fn healthz_time(url: &str, agent: &ureq::Agent) -> Option<Duration> {
    let t = Instant::now();
    let r = agent.get(format!("{url}/healthz")).call().ok()?;
    (r.status().as_u16() == 200).then(|| t.elapsed())
}

#[test]
fn half_open_connections_cannot_take_the_service_down() {
    // Room for 1 000 sockets of our own.
    unsafe {
        let mut l = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut l);
        l.rlim_cur = l.rlim_max.min(8192);
        libc::setrlimit(libc::RLIMIT_NOFILE, &l);
    }
    let data = tempfile::tempdir().unwrap();
    let (mut child, http, https) =
        serve_with_file_limit(data.path(), "[limits]\nheader_timeout_seconds = 3\n");
    let mut held = Vec::new();
    for i in 0..1000 {
        let to = if i % 2 == 0 { &http } else { &https };
        if let Some(mut s) = connect_from("127.0.0.2", to) {
            // Half a request (or half a TLS hello): never finished.
            let _ = s.write_all(if i % 2 == 0 {
                b"GET / HTTP/1.1\r\nHost: x\r\n"
            } else {
                b"\x16\x03\x01"
            });
            held.push(s);
        }
    }
    let plain = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(1)))
        .http_status_as_error(false)
        .build()
        .new_agent();
    let tls = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(1)))
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .disable_verification(true)
                .build(),
        )
        .build()
        .new_agent();
    let t_http = healthz_time(&format!("http://{http}"), &plain);
    let t_https = healthz_time(&format!("https://{https}"), &tls);
    eprintln!(
        "with {} half-open connections: /healthz {t_http:?} (HTTP), {t_https:?} (HTTPS)",
        held.len()
    );
    assert!(held.len() >= 900, "only {} connections opened", held.len());
    assert!(
        t_http.is_some_and(|t| t < Duration::from_secs(1)),
        "HTTP /healthz {t_http:?}"
    );
    assert!(
        t_https.is_some_and(|t| t < Duration::from_secs(1)),
        "HTTPS /healthz {t_https:?}"
    );
    // The service closes what it kept once the header time is up.
    std::thread::sleep(Duration::from_secs(5));
    let closed = held
        .iter_mut()
        .map(|s| {
            s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
            let mut b = Vec::new();
            // End of stream (perhaps after a last word) or a reset: closed.
            match s.read_to_end(&mut b) {
                Ok(_) => true,
                Err(e) => !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ),
            }
        })
        .filter(|c| *c)
        .count();
    assert!(
        closed >= held.len() * 9 / 10,
        "{closed} of {} closed after the header timeout",
        held.len()
    );
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn a_withdrawal_racing_an_enrolment_never_leaves_face_data() {
    let Some(photo) = photo() else { return };
    let office = Office::start();
    let frame = std::fs::read(&photo).unwrap();
    let keys = office.server.dir.join("keys/applicants");
    let mut enrolled_then_purged = 0;
    for trial in 0..60 {
        let id = common::consented_applicant(
            &office.clerk,
            "Người Đua",
            &format!("0010990{:05}", 20_000 + trial),
        );
        let enrol = {
            let (base, cookie, csrf, frame) = (
                office.clerk.base.clone(),
                office.clerk.cookie.clone(),
                office.clerk.csrf.clone(),
                frame.clone(),
            );
            std::thread::spawn(move || {
                let mut c = Client::new(&base);
                c.cookie = cookie;
                c.csrf = csrf;
                c.post_raw(
                    &format!("/api/v1/applicants/{id}/faces"),
                    "image/jpeg",
                    &frame,
                )
                .0
            })
        };
        std::thread::sleep(Duration::from_millis((trial % 12) * 40));
        let (s, v) = office
            .clerk
            .delete(&format!("/api/v1/applicants/{id}/consent"));
        assert_eq!(s, 200, "{v}");
        let enrolled = enrol.join().unwrap();
        assert!(
            enrolled == 201 || enrolled == 403,
            "enrolment answered {enrolled}"
        );
        if enrolled == 201 {
            enrolled_then_purged += 1;
        }
        let templates = common::sealed_templates(&office.server.dir.join("hoso.sqlite3"), id);
        let key = keys.join(format!("{id}.key"));
        assert!(
            templates.is_empty() && !key.exists(),
            "trial {trial}: consent withdrawn but {} templates, key file {}",
            templates.len(),
            key.exists()
        );
        let (_, a) = office.clerk.get(&format!("/api/v1/applicants/{id}"));
        assert_eq!(a["templates"].as_i64().unwrap_or(0), 0, "{a}");
    }
    eprintln!("60 races: {enrolled_then_purged} enrolments finished first and were purged");
}

/// A 16-bit RGBA PNG: 8 bytes a pixel, a few hundred KB on disk.
fn deep_png() -> Vec<u8> {
    let img = image::ImageBuffer::<image::Rgba<u16>, _>::new(6000, 6000);
    let mut out = Vec::new();
    image::DynamicImage::ImageRgba16(img)
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

/// A blank, large photo (no face): small as a JPEG, 36 megapixels decoded.
fn blank_jpeg() -> Vec<u8> {
    let img = image::RgbImage::from_pixel(7000, 5200, image::Rgb([236, 236, 236]));
    common::jpeg(&img)
}

#[test]
fn small_hostile_images_cannot_take_memory() {
    let Some(photo) = photo() else { return };
    let office = Office::start();
    let pid = office.server.child.id();
    let id = common::consented_applicant(&office.clerk, "Người Ảnh", "001099020999");
    // Warm up: one real enrolment.
    common::enrol_faces(&office.clerk, id, &[photo]);
    let before = common::rss_mib(pid);
    let (png, blank) = (deep_png(), blank_jpeg());
    eprintln!(
        "hostile images: PNG {} KB, blank JPEG {} KB",
        png.len() / 1024,
        blank.len() / 1024
    );
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let peak = watch_rss(pid, stop.clone());
    let senders: Vec<_> = (0..8)
        .map(|i| {
            let body = if i % 2 == 0 {
                png.clone()
            } else {
                blank.clone()
            };
            let (base, cookie, csrf) = (
                office.clerk.base.clone(),
                office.clerk.cookie.clone(),
                office.clerk.csrf.clone(),
            );
            std::thread::spawn(move || {
                let mut c = Client::new(&base);
                c.cookie = cookie;
                c.csrf = csrf;
                let ct = if i % 2 == 0 {
                    "image/png"
                } else {
                    "image/jpeg"
                };
                let (s, v) = c.post_raw(&format!("/api/v1/applicants/{id}/faces"), ct, &body);
                assert_eq!(s, 422, "{v}");
                v["error"].as_str().unwrap_or("").to_string()
            })
        })
        .collect();
    let codes: Vec<String> = senders.into_iter().map(|h| h.join().unwrap()).collect();
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let peak = peak.join().unwrap();
    let after = common::rss_mib(pid);
    eprintln!("8 hostile images at once: RSS {before:.0} → peak {peak:.0} → {after:.0} MiB; answers {codes:?}");
    assert!(
        codes.iter().all(|c| c == "bad_image" || c == "no_face"),
        "{codes:?}"
    );
    // Transient: at most one decode per core, each within the 128 MiB budget (the JPEG
    // decoder's own output buffer and the image's make two of them).
    assert!(peak - before < 620.0, "peak grew {:.0} MiB", peak - before);
    assert!(
        after - before < 200.0,
        "RSS grew {:.0} MiB and stayed",
        after - before
    );
}

#[test]
fn every_response_carries_the_security_headers_and_errors_are_json() {
    let office = Office::start();
    let c = Client::new(&office.server.base);
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    for path in ["/", "/kiosk/", "/clerk/", "/admin/", "/healthz", "/nowhere"] {
        let r = agent
            .get(format!("{}{path}", office.server.base))
            .call()
            .unwrap();
        let h = r.headers();
        let csp = h
            .get("content-security-policy")
            .map(|v| v.to_str().unwrap().to_string());
        assert!(
            csp.as_deref().is_some_and(
                |v| v.contains("default-src 'self'") && v.contains("frame-ancestors 'none'")
            ),
            "{path}: {csp:?}"
        );
        assert_eq!(h.get("x-frame-options").unwrap(), "DENY", "{path}");
        assert_eq!(h.get("referrer-policy").unwrap(), "same-origin", "{path}");
        // Plain HTTP is loopback only: no HSTS there.
        assert!(h.get("strict-transport-security").is_none(), "{path}");
    }
    // Errors the framework makes are in the API's JSON shape.
    let (s, v) = c.get("/api/v1/applicants/not-a-number");
    assert!(s == 400 || s == 401, "{s}");
    assert!(v["error"].is_string() && v["message"].is_string(), "{v}");
    let r = agent
        .delete(format!("{}/healthz", office.server.base))
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 405);
    assert!(r
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let (s, v) = office.admin.get("/api/v1/admin/audit?limit=many");
    assert_eq!(s, 400, "{v}");
    assert!(v["error"].is_string(), "{v}");
    let (s, v) = office.clerk.post(
        "/api/v1/auth/login",
        json!({"username": "x".repeat(5000), "password": "y"}),
    );
    assert_eq!((s, v["error"].as_str()), (413, Some("too_large")), "{v}");
}

#[test]
fn data_directory_and_database_are_private_outside_systemd() {
    sqlite_only!("it checks the SQLite file's permission bits");
    use std::os::unix::fs::PermissionsExt;
    let data = tempfile::tempdir().unwrap();
    std::fs::set_permissions(data.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let server = Server::start_at(data.path(), &[]);
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(data.path()), 0o700);
    assert_eq!(mode(&data.path().join("hoso.sqlite3")), 0o600);
    drop(server);
}

#[test]
fn deactivated_accounts_take_as_long_to_refuse_as_wrong_passwords() {
    let data = tempfile::tempdir().unwrap();
    common::add_user(data.path(), "admin", "admin1");
    common::add_user(data.path(), "clerk", "gone1");
    let conf = data.path().join("config.toml");
    std::fs::write(
        &conf,
        "[limits]\nlogin_free_failures_per_client = 1000\nlogin_free_failures_per_user = 1000\n",
    )
    .unwrap();
    let server = Server::start_at(data.path(), &["--config", conf.to_str().unwrap()]);
    let admin = Client::login(&server.base, "admin1", PASSWORD);
    let (_, users) = admin.get("/api/v1/admin/users");
    let gone = users
        .as_array()
        .or(users["users"].as_array())
        .unwrap()
        .iter()
        .find(|u| u["username"] == "gone1")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let (s, v) = admin.post(
        &format!("/api/v1/admin/users/{gone}"),
        json!({"active": false}),
    );
    assert_eq!(s, 200, "{v}");
    let c = Client::new(&server.base);
    // The three kinds of refusal take turns, round after round, so that whatever else the
    // machine does (the file's other tests) weighs on each alike; medians of 11 rounds.
    let kinds = [
        ("gone1", PASSWORD),
        ("admin1", "wrong password!"),
        ("nobody", "wrong password!"),
    ];
    let mut times = [(); 3].map(|_| Vec::new());
    for round in 0..11 {
        for k in 0..3 {
            let (user, pw) = kinds[(k + round) % 3];
            let t0 = Instant::now();
            let (s, _) = c.post(
                "/api/v1/auth/login",
                json!({"username": user, "password": pw}),
            );
            assert_eq!(s, 401);
            times[(k + round) % 3].push(t0.elapsed().as_secs_f64());
        }
    }
    let [deactivated, wrong, unknown] = times.map(|mut t| {
        t.sort_by(f64::total_cmp);
        t[t.len() / 2]
    });
    eprintln!(
        "refusal medians: deactivated {:.1} ms, wrong password {:.1} ms, unknown {:.1} ms",
        deactivated * 1e3,
        wrong * 1e3,
        unknown * 1e3
    );
    for t in [deactivated, unknown] {
        assert!(t > wrong * 0.5 && t < wrong * 2.0, "{t} vs {wrong}");
    }
}
