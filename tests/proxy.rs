//! The reference layout of `deploy/nginx/hoso.conf`, run: nginx over HTTPS in front of two
//! `hoso serve` on one PostgreSQL. Through it the clerk, admin and kiosk pages load, a clerk
//! signs in (the cookie marked `Secure`, since nginx says the request came over HTTPS),
//! enrols a face, and a kiosk recognises the person; sign-in lockouts count the client
//! nginx names, not nginx. Runs in the tests' PostgreSQL pass; needs nginx
//! (`scripts/setup.sh --tests`), and under CI a missing nginx fails.

mod common;

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use common::pair::start_pair;
use common::Client;
use serde_json::json;

/// nginx in a process group of its own. Stopped with SIGTERM (its master then stops the
/// workers), and the group killed if it lingers: a worker left behind would hold the test
/// run's output open.
struct Nginx(Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        let pid = self.0.id() as i32;
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(5) {
            if matches!(self.0.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        unsafe { libc::killpg(pid, libc::SIGKILL) };
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// nginx with the reference site config, its upstreams pointed at `a` and `b`; returns
/// it and its HTTPS base URL.
fn nginx(dir: &Path, a: &str, b: &str) -> (Nginx, String) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    std::fs::write(dir.join("cert.pem"), cert.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), cert.signing_key.serialize_pem()).unwrap();
    let (https, http) = (free_port(), free_port());
    let site = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/nginx/hoso.conf"),
    )
    .unwrap();
    let d = dir.display();
    let site = site
        .replace("127.0.0.1:8081", a.trim_start_matches("http://"))
        .replace("127.0.0.1:8082", b.trim_start_matches("http://"))
        .replace("listen 443 ssl", &format!("listen 127.0.0.1:{https} ssl"))
        .replace("listen 80;", &format!("listen 127.0.0.1:{http};"))
        .replace("/etc/ssl/hoso/fullchain.pem", &format!("{d}/cert.pem"))
        .replace("/etc/ssl/hoso/privkey.pem", &format!("{d}/key.pem"));
    assert!(site.contains(&format!("127.0.0.1:{https} ssl")), "{site}");
    // As root the workers would run as nobody, who cannot write the temp dir.
    let user = if unsafe { libc::geteuid() } == 0 {
        "user root;"
    } else {
        ""
    };
    let conf = format!(
        "{user}\ndaemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
         events {{ worker_connections 256; }}\n\
         http {{\n access_log {d}/access.log;\n client_body_temp_path {d}/body;\n proxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fastcgi;\n uwsgi_temp_path {d}/uwsgi;\n scgi_temp_path {d}/scgi;\n{site}\n}}\n"
    );
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    let child = Command::new("nginx")
        .args(["-p", &d.to_string(), "-c", &format!("{d}/nginx.conf")])
        .process_group(0)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(dir.join("stderr.log")).unwrap())
        .spawn()
        .expect("nginx");
    let n = Nginx(child);
    let t0 = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", https)).is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "nginx did not start: {}",
            std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (n, format!("https://127.0.0.1:{https}"))
}

fn nginx_present() -> bool {
    Command::new("nginx").arg("-v").output().is_ok()
}

/// A sign-in through nginx claiming to come from `client`.
fn sign_in_from(base: &str, client: &str, user: &str, password: &str) -> u16 {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .disable_verification(true)
                .build(),
        )
        .build()
        .into();
    agent
        .post(format!("{base}/api/v1/auth/login"))
        .header("X-Forwarded-For", client)
        .send_json(json!({"username": user, "password": password}))
        .map(|r| {
            if r.status() == 200 {
                let cookie = r.headers().get("set-cookie").and_then(|v| v.to_str().ok());
                assert!(
                    cookie.is_some_and(|c| c.contains("; Secure")),
                    "the session cookie through HTTPS must be Secure: {cookie:?}"
                );
            }
            r.status().as_u16()
        })
        .unwrap_or(0)
}

#[test]
fn the_reference_layout_serves_every_page_over_https() {
    let faces = faces_or_skip!();
    let base = pg_or_skip!("the reference layout runs two servers on PostgreSQL");
    if !nginx_present() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "nginx is missing (scripts/setup.sh --tests installs it)"
        );
        eprintln!("skipped: nginx is not installed (scripts/setup.sh --tests)");
        return;
    }
    let p = start_pair(
        &base,
        "[limits]\ntrusted_proxies = [\"127.0.0.1/32\"]\nmax_connections_per_client = 0\n\
         login_free_failures_per_client = 3\n",
    );
    let dir = tempfile::tempdir().unwrap();
    let (_nginx, front) = nginx(dir.path(), &p.a.base, &p.b.base);

    // The pages.
    let anon = Client::new(&front);
    for page in ["/clerk/", "/kiosk/", "/healthz"] {
        let (s, v) = anon.get(page);
        assert_eq!(s, 200, "{page} through nginx: {v}");
    }
    // A clerk signs in (the session cookie is checked to be Secure in `sign_in_from`).
    assert_eq!(
        sign_in_from(&front, "198.51.100.20", "clerk1", common::PASSWORD),
        200
    );
    let clerk = Client::login(&front, "clerk1", common::PASSWORD);
    assert!(clerk.cookie.is_some());
    common::pair::enrolled(
        &clerk,
        100,
        &[
            faces.join("deepface_p01/img1.jpg"),
            faces.join("deepface_p01/img2.jpg"),
        ],
    );
    // A kiosk through nginx recognises the person (whichever server its token hashes to).
    let kiosk = Client::with_bearer(&front, &p.kiosk_token);
    let t0 = Instant::now();
    let mut seen = false;
    while !seen && t0.elapsed() < Duration::from_secs(10) {
        let (v, _) = common::visit(
            &kiosk,
            &format!("p{}", t0.elapsed().as_millis()),
            &faces.join("deepface_p01/img5.jpg"),
            1,
            12,
        );
        seen = common::recognised(&v);
    }
    assert!(seen, "the kiosk behind nginx never recognised the person");

    // Lockouts count the client nginx names: one citizen's failures do not lock out
    // another who comes through the same proxy.
    for i in 0..4 {
        let s = sign_in_from(
            &front,
            "203.0.113.7",
            &format!("nobody{i}"),
            "wrong-password",
        );
        assert!(s == 401 || s == 429, "{s}");
    }
    assert_eq!(
        sign_in_from(&front, "203.0.113.7", "clerk1", common::PASSWORD),
        429,
        "the failing client waits"
    );
    assert_eq!(
        sign_in_from(&front, "198.51.100.9", "clerk1", common::PASSWORD),
        200,
        "another client through the same proxy is not held back"
    );
}
