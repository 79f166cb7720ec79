//! Shared test helpers: where the real face photos are, one face engine per test binary,
//! and a `hoso` server on 127.0.0.1 with a temp data dir.
#![allow(dead_code)]

pub mod admin;
pub mod browser;
pub mod kiosk;
pub mod pair;

#[allow(unused_imports)]
pub use admin::*;
#[allow(unused_imports)]
pub use kiosk::*;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use hoso::config::Config;
use hoso::vision::FaceEngine;

/// The labelled face set: `HOSO_TEST_FACES`, else `../shared/faces`. Under CI a missing set
/// fails the test; elsewhere the caller skips with the reason printed.
pub fn faces_dir() -> Option<PathBuf> {
    shared_set("HOSO_TEST_FACES", "faces", "MANIFEST.csv", "face set")
}

/// The distractor set (one East Asian adult per folder): `HOSO_TEST_DISTRACTORS`, else
/// `../shared/distractors`, found and missed like the face set.
pub fn distractors_dir() -> Option<PathBuf> {
    shared_set(
        "HOSO_TEST_DISTRACTORS",
        "distractors",
        "SHA256SUMS",
        "distractor set",
    )
}

/// A data set of `../shared/` (or the folder `var` names), recognised by its `marker` file.
fn shared_set(var: &str, folder: &str, marker: &str, what: &str) -> Option<PathBuf> {
    let dir = std::env::var_os(var).map_or_else(
        || {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../shared")
                .join(folder)
        },
        PathBuf::from,
    );
    if dir.join(marker).is_file() {
        return Some(dir);
    }
    let msg = format!(
        "{what} not found at {} (set {var} to the shared/{folder} folder)",
        dir.display()
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{msg}: required under CI");
    }
    eprintln!("SKIPPED: {msg}");
    None
}

/// Skips the calling test (returns) when the face set is absent outside CI.
#[macro_export]
macro_rules! faces_or_skip {
    () => {
        match common::faces_dir() {
            Some(d) => d,
            None => return,
        }
    };
}

/// The PostgreSQL cluster's URL for a test that needs one; on the SQLite pass the test
/// says why it is skipped and returns.
#[macro_export]
macro_rules! pg_or_skip {
    ($why:literal) => {
        match common::pg() {
            Some(url) => url,
            None => {
                eprintln!(concat!("skipped on SQLite: ", $why));
                return;
            }
        }
    };
}

/// The PostgreSQL cluster the tests run against (`HOSO_TEST_PG`, a server URL without a
/// database, set by `scripts/test.sh` for its second pass), or None: SQLite.
pub fn pg() -> Option<String> {
    std::env::var("HOSO_TEST_PG").ok().filter(|s| !s.is_empty())
}

/// `--database URL` for a data directory when the tests run on PostgreSQL: each data
/// directory gets a database of its own, created on first use. Nothing on SQLite.
pub fn db_args(dir: &std::path::Path) -> Vec<String> {
    use sha2::Digest;
    let Some(base) = pg() else {
        return Vec::new();
    };
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let digest = sha2::Sha256::digest(dir.to_string_lossy().as_bytes());
    let name = format!("t{}", hex::encode(&digest[..10]));
    static MADE: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut made = MADE.lock().unwrap_or_else(|p| p.into_inner());
    if !made.contains(&name) {
        let out = Command::new("psql")
            .arg(format!("{base}/postgres"))
            .args(["-qAt", "-c"])
            .arg(format!(
                "SELECT 1 FROM pg_database WHERE datname = '{name}'"
            ))
            .output()
            .expect("psql");
        if String::from_utf8_lossy(&out.stdout).trim() != "1" {
            let st = Command::new("psql")
                .arg(format!("{base}/postgres"))
                .args(["-q", "-c"])
                .arg(format!("CREATE DATABASE {name}"))
                .status()
                .expect("psql");
            assert!(st.success(), "creating database {name}");
        }
        made.push(name.clone());
    }
    vec!["--database".into(), format!("{base}/{name}")]
}

/// Rows of a query on a data directory's database (its SQLite file, or its PostgreSQL
/// database when the tests run there), every value as text (NULL as "", blobs as hex).
pub fn db_query(dir: &std::path::Path, sql: &str) -> Vec<Vec<String>> {
    if pg().is_some() {
        let args = db_args(dir);
        let out = Command::new("psql")
            .arg(&args[1])
            .args(["-qAt", "-F", "\t", "-c", sql])
            .output()
            .expect("psql");
        assert!(out.status.success(), "psql {sql}: {out:?}");
        return String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| {
                l.split('\t')
                    .map(|v| v.strip_prefix("\\x").unwrap_or(v).to_string())
                    .collect()
            })
            .collect();
    }
    let c = rusqlite::Connection::open(dir.join("hoso.sqlite3")).unwrap();
    let mut st = c.prepare(sql).unwrap();
    let n = st.column_count();
    st.query_map([], |r| {
        (0..n)
            .map(|i| {
                Ok(match r.get_ref(i)? {
                    rusqlite::types::ValueRef::Null => String::new(),
                    rusqlite::types::ValueRef::Integer(v) => v.to_string(),
                    rusqlite::types::ValueRef::Real(v) => v.to_string(),
                    rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                    rusqlite::types::ValueRef::Blob(b) => hex::encode(b),
                })
            })
            .collect()
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

/// Skips the calling test (returns) on PostgreSQL, saying why: it examines the SQLite file
/// itself (bytes, permissions, file copies).
#[macro_export]
macro_rules! sqlite_only {
    ($why:expr) => {
        if common::pg().is_some() {
            eprintln!("skipped on PostgreSQL: {}", $why);
            return;
        }
    };
}

pub fn models_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models")
}

pub fn engine() -> &'static FaceEngine {
    static E: OnceLock<FaceEngine> = OnceLock::new();
    E.get_or_init(|| {
        let mut opts = Config::default().engine_options();
        opts.tuning_file = Some(tuning_file());
        FaceEngine::load(&models_dir(), &opts).unwrap_or_else(|e| panic!("face engine: {e}"))
    })
}

/// Runs `hoso` with these arguments: (success, stdout, stderr).
pub fn run_hoso(args: &[&str]) -> (bool, String, String) {
    let out = bin().args(args).output().expect("run hoso");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hoso"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c.env("RUST_LOG", "warn");
    c.env("HOSO_TUNING_FILE", tuning_file());
    c
}

/// One tuning cache for every server and engine of the suite: the optimisation levels are
/// timed once per machine, not at each of the hundreds of starts.
pub fn tuning_file() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("hoso-tuning.toml")
}

/// A running `hoso serve` on a free loopback port; killed on drop.
pub struct Server {
    pub child: Child,
    pub base: String,
    /// The data directory (removed on drop when the server owns it).
    pub dir: PathBuf,
    pub data: Option<tempfile::TempDir>,
}

impl Server {
    pub fn start(extra: &[&str]) -> Server {
        Self::start_in(tempfile::tempdir().expect("temp dir"), extra)
    }

    /// Starts on a data directory it then owns.
    pub fn start_in(data: tempfile::TempDir, extra: &[&str]) -> Server {
        let mut s = Self::start_at(data.path(), extra);
        s.data = Some(data);
        s
    }

    /// Starts on an existing data directory (e.g. again after a crash).
    pub fn start_at(dir: &std::path::Path, extra: &[&str]) -> Server {
        Self::start_on(dir, &db_args(dir), extra)
    }

    /// Starts on `dir` with the database arguments `db` (e.g. a database shared with
    /// another server) instead of the directory's own.
    pub fn start_on(dir: &std::path::Path, db: &[String], extra: &[&str]) -> Server {
        let mut child = bin()
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir)
            .args(db)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn hoso serve");
        let out = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(out)
            .read_line(&mut line)
            .expect("read listen line");
        let base = line
            .split("http://")
            .nth(1)
            .map(|s| format!("http://{}", s.trim().trim_end_matches('/')))
            .unwrap_or_else(|| panic!("server did not report its address: {line:?}"));
        Server {
            child,
            base,
            dir: dir.to_path_buf(),
            data: None,
        }
    }

    /// Kills the process with SIGKILL (no clean shutdown) and waits for it.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP client that keeps a session cookie and CSRF token, or a bearer token.
pub struct Client {
    pub base: String,
    agent: ureq::Agent,
    pub cookie: Option<String>,
    pub csrf: Option<String>,
    pub bearer: Option<String>,
}

/// Status and body (JSON when it parses, else a string value).
pub type Reply = (u16, serde_json::Value);

impl Client {
    /// A client of `base`; over HTTPS it accepts the tests' self-signed certificates.
    pub fn new(base: &str) -> Client {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .tls_config(
                ureq::tls::TlsConfig::builder()
                    .disable_verification(base.starts_with("https://"))
                    .build(),
            )
            .build()
            .into();
        Client {
            base: base.to_string(),
            agent,
            cookie: None,
            csrf: None,
            bearer: None,
        }
    }

    pub fn with_bearer(base: &str, token: &str) -> Client {
        let mut c = Client::new(base);
        c.bearer = Some(token.to_string());
        c
    }

    /// Signs in; panics unless it succeeds.
    pub fn login(base: &str, user: &str, password: &str) -> Client {
        let mut c = Client::new(base);
        let mut res = c
            .agent
            .post(format!("{base}/api/v1/auth/login"))
            .send_json(serde_json::json!({"username": user, "password": password}))
            .unwrap();
        assert_eq!(res.status().as_u16(), 200, "login {user}");
        let cookie = res
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("hoso_session="))
            .expect("session cookie")
            .to_string();
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
            "{cookie}"
        );
        c.cookie = Some(cookie.split(';').next().unwrap().to_string());
        let v: serde_json::Value = res.body_mut().read_json().unwrap();
        c.csrf = Some(v["csrf_token"].as_str().unwrap().to_string());
        c
    }

    fn auth<B>(&self, mut r: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        if let Some(c) = &self.cookie {
            r = r.header("Cookie", c);
        }
        if let Some(t) = &self.csrf {
            r = r.header("X-CSRF-Token", t);
        }
        if let Some(b) = &self.bearer {
            r = r.header("Authorization", format!("Bearer {b}"));
        }
        r
    }

    fn reply(res: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Reply {
        let mut res = match res {
            Ok(r) => r,
            // The server may answer and close before a large upload is fully sent.
            Err(e) => return (0, serde_json::Value::String(e.to_string())),
        };
        let status = res.status().as_u16();
        let text = res
            .body_mut()
            .with_config()
            .limit(50 << 20)
            .read_to_string()
            .unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
        )
    }

    pub fn get(&self, path: &str) -> Reply {
        Self::reply(
            self.auth(self.agent.get(format!("{}{path}", self.base)))
                .call(),
        )
    }

    pub fn post(&self, path: &str, body: serde_json::Value) -> Reply {
        Self::reply(
            self.auth(self.agent.post(format!("{}{path}", self.base)))
                .send_json(body),
        )
    }

    pub fn post_raw(&self, path: &str, content_type: &str, body: &[u8]) -> Reply {
        Self::reply(
            self.auth(self.agent.post(format!("{}{path}", self.base)))
                .content_type(content_type)
                .send(body),
        )
    }

    pub fn post_raw_with(
        &self,
        path: &str,
        content_type: &str,
        body: &[u8],
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut r = self
            .auth(self.agent.post(format!("{}{path}", self.base)))
            .content_type(content_type);
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        Self::reply(r.send(body))
    }

    /// POSTs JSON and returns (status, content type, raw body) — for non-JSON answers.
    pub fn post_for_bytes(&self, path: &str, body: serde_json::Value) -> (u16, String, Vec<u8>) {
        let mut res = self
            .auth(self.agent.post(format!("{}{path}", self.base)))
            .send_json(body)
            .expect("request");
        let status = res.status().as_u16();
        let ct = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let bytes = res
            .body_mut()
            .with_config()
            .limit(50 << 20)
            .read_to_vec()
            .unwrap_or_default();
        (status, ct, bytes)
    }

    pub fn put_json(&self, path: &str, body: serde_json::Value) -> Reply {
        Self::reply(
            self.auth(self.agent.put(format!("{}{path}", self.base)))
                .send_json(body),
        )
    }

    pub fn delete(&self, path: &str) -> Reply {
        Self::reply(
            self.auth(self.agent.delete(format!("{}{path}", self.base)))
                .call(),
        )
    }
}

/// The QR code printed on a dossier's receipt (embedded there as a PNG data URI).
pub fn receipt_qr_image(c: &Client, code: &str) -> image::RgbImage {
    use base64::Engine;
    let (s, html) = c.get(&format!("/api/v1/dossiers/{code}/receipt"));
    assert_eq!(s, 200, "receipt of {code}");
    let html = html.as_str().expect("receipt page");
    let marker = "data:image/png;base64,";
    let start = html.find(marker).expect("QR image") + marker.len();
    let end = start + html[start..].find('"').expect("end of the QR image");
    let png = base64::engine::general_purpose::STANDARD
        .decode(&html[start..end])
        .expect("base64 PNG");
    image::load_from_memory(&png).expect("PNG").to_rgb8()
}

/// An office (reading `config`) where "Hoàng Văn Nam" holds the receipt of one dossier:
/// the office, the dossier's code and the receipt's QR code as printed.
pub fn office_with_a_receipt(config: &str) -> (Office, &'static str, image::RgbImage) {
    let o = Office::start_with(config);
    let id = consented_applicant(&o.clerk, "Hoàng Văn Nam", "001099004444");
    let code = "000.00.17.H29-261120-0401";
    open_dossier(
        &o.clerk,
        id,
        code,
        "Đăng ký kết hôn",
        "2026-11-20 08:00",
        "2026-12-10",
    );
    let qr = receipt_qr_image(&o.clerk, code);
    (o, code, qr)
}

/// Registers a dossier of `applicant`; panics unless it is created.
pub fn open_dossier(
    c: &Client,
    applicant: i64,
    code: &str,
    procedure: &str,
    received_at: &str,
    due_at: &str,
) {
    let d = serde_json::json!({"code": code, "applicant_id": applicant, "procedure": procedure, "received_at": received_at, "due_at": due_at});
    let (s, v) = c.post("/api/v1/dossiers", d);
    assert_eq!(s, 201, "dossier {code}: {v}");
}

/// Registers an applicant and records their consent (tick); returns the applicant id.
pub fn consented_applicant(c: &Client, full_name: &str, id_number: &str) -> i64 {
    let (s, v) = c.post(
        "/api/v1/applicants",
        serde_json::json!({"full_name": full_name, "id_number": id_number}),
    );
    assert_eq!(s, 201, "{full_name}: {v}");
    let id = v["id"].as_i64().unwrap();
    let version = c.get("/api/v1/consent/text").1["version"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, v) = c.post(
        &format!("/api/v1/applicants/{id}/consent"),
        serde_json::json!({"text_version": version, "method": "tick"}),
    );
    assert_eq!(s, 201, "{v}");
    id
}

/// Runs `hoso` with `--data-dir` and standard input; returns stdout, panicking on failure.
pub fn cli(data: &std::path::Path, args: &[&str], stdin: &str) -> String {
    let mut cmd = bin();
    cmd.args(args)
        .arg("--data-dir")
        .arg(data)
        .args(db_args(data));
    run_with_stdin(cmd, stdin)
}

pub const PASSWORD: &str = "correct-horse-battery";

/// The second office of the multi-office tests, its name and its dossier codes' prefix.
pub const OFFICE_B: &str = "ben-thanh";
pub const OFFICE_B_NAME: &str = "Bộ phận Một cửa phường Bến Thành";
pub const OFFICE_B_PREFIX: &str = "000.00.18.H29-";

/// The accounts of the multi-office tests: a province admin (`province`), and an admin and a
/// clerk of each office (`admin_a`, `clerk_a` of the default office; `admin_b`, `clerk_b`
/// of office B).
pub fn two_offices_staff(data: &std::path::Path) {
    add_user_in(data, "admin", "province", None);
    add_user_in(data, "admin", "admin_a", Some("default"));
    add_user_in(data, "admin", "admin_b", Some(OFFICE_B));
    add_user_in(data, "clerk", "clerk_a", Some("default"));
    add_user_in(data, "clerk", "clerk_b", Some(OFFICE_B));
}

/// Creates office B in `data` with the CLI (`extra`: more `create-office` arguments).
pub fn create_office_b(data: &std::path::Path, extra: &[&str]) {
    let mut args = vec![
        "admin",
        "create-office",
        "--code",
        OFFICE_B,
        "--name",
        OFFICE_B_NAME,
        "--code-prefix",
        OFFICE_B_PREFIX,
    ];
    args.extend(extra);
    cli(data, &args, "");
}

/// Creates an account with the CLI (password `PASSWORD`).
pub fn add_user(data: &std::path::Path, role: &str, username: &str) {
    add_user_in(data, role, username, None);
}

/// Creates an account of office `office` (its code; None: no `--office`) with the CLI.
pub fn add_user_in(data: &std::path::Path, role: &str, username: &str, office: Option<&str>) {
    let mut args = vec![
        "admin",
        "create-user",
        "--role",
        role,
        "--username",
        username,
    ];
    if let Some(o) = office {
        args.extend(["--office", o]);
    }
    cli(data, &args, PASSWORD);
}

/// Issues a device token of `role` named `name` (of office `office`, a code) with the CLI.
pub fn issue_token(data: &std::path::Path, role: &str, name: &str, office: Option<&str>) -> String {
    let mut args = vec!["admin", "issue-token", "--role", role, "--name", name];
    if let Some(o) = office {
        args.extend(["--office", o]);
    }
    cli(data, &args, "").trim().to_string()
}

/// The CLI arguments that issue the token of a kiosk named "Sảnh 1".
pub const KIOSK_TOKEN_ARGS: [&str; 6] = [
    "admin",
    "issue-token",
    "--role",
    "kiosk",
    "--name",
    "Sảnh 1",
];

/// Issues the token of a kiosk named "Sảnh 1" with the CLI.
pub fn issue_kiosk_token(data: &std::path::Path) -> String {
    cli(data, &KIOSK_TOKEN_ARGS, "").trim().to_string()
}

/// A server with an admin, a clerk, a kiosk token and an integration token.
pub struct Office {
    pub server: Server,
    pub admin: Client,
    pub clerk: Client,
    pub kiosk_token: String,
    pub integration_token: String,
}

/// A configuration with the kiosk's liveness challenge off: for tests of recognition
/// alone (an office never runs like this).
pub const RECOGNITION_ONLY: &str = "[liveness]\nmode = \"off\"\n";

impl Office {
    /// An office with the default configuration.
    pub fn start() -> Office {
        Self::start_with("")
    }

    /// An office whose server reads `config` (TOML).
    pub fn start_with(config: &str) -> Office {
        let data = tempfile::tempdir().expect("temp dir");
        let conf = data.path().join("config.toml");
        std::fs::write(&conf, config).unwrap();
        add_user(data.path(), "admin", "admin1");
        add_user(data.path(), "clerk", "clerk1");
        let kiosk_token = issue_kiosk_token(data.path());
        let integration_token = cli(
            data.path(),
            &[
                "admin",
                "issue-token",
                "--role",
                "integration",
                "--name",
                "Một cửa tỉnh",
            ],
            "",
        )
        .trim()
        .to_string();
        let server = Server::start_in(data, &["--config", conf.to_str().unwrap()]);
        let admin = Client::login(&server.base, "admin1", PASSWORD);
        let clerk = Client::login(&server.base, "clerk1", PASSWORD);
        Office {
            server,
            admin,
            clerk,
            kiosk_token,
            integration_token,
        }
    }
}

/// The files of a folder, in name order.
pub fn sorted_files(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

/// Runs `hoso` with `--data-dir`; returns (success, stdout, stderr).
pub fn cli_result(data: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = bin()
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .args(db_args(data))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The sealed template blobs of one applicant in a data directory's SQLite file (`db`), or
/// in its PostgreSQL database when the tests run there.
pub fn sealed_templates(db: &std::path::Path, applicant: i64) -> Vec<Vec<u8>> {
    if pg().is_some() {
        let args = db_args(db.parent().expect("data directory"));
        let out = Command::new("psql")
            .arg(&args[1])
            .args(["-qAt", "-c"])
            .arg(format!(
                "SELECT encode(sealed, 'hex') FROM templates WHERE applicant_id = {applicant}"
            ))
            .output()
            .expect("psql");
        assert!(out.status.success(), "psql: {out:?}");
        return String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| hex::decode(l.trim()).expect("hex"))
            .collect();
    }
    let c = rusqlite::Connection::open(db).unwrap();
    let mut st = c
        .prepare("SELECT sealed FROM templates WHERE applicant_id = ?1")
        .unwrap();
    st.query_map([applicant], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Whether a sealed template can still be opened with the applicant's key.
pub fn decrypts(keys: &hoso::crypto::Keys, applicant: i64, sealed: &[u8]) -> bool {
    keys.existing_applicant_key(applicant)
        .and_then(|k| hoso::crypto::open(&k, sealed, format!("template:{applicant}").as_bytes()))
        .is_ok()
}

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Every file below `dir` with its bytes.
pub fn all_files(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(all_files(&p));
        } else {
            out.push((p.display().to_string(), std::fs::read(&p).unwrap()));
        }
    }
    out
}

/// Copies a directory tree (a stopped server's data directory).
pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let dest = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_dir(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).unwrap();
        }
    }
}

/// Enrols each photo as a face of the applicant (each must be accepted).
pub fn enrol_faces(c: &Client, applicant: i64, photos: &[PathBuf]) {
    for p in photos {
        let (s, v) = c.post_raw(
            &format!("/api/v1/applicants/{applicant}/faces"),
            "image/jpeg",
            &std::fs::read(p).unwrap(),
        );
        assert_eq!(s, 201, "{}: {v}", p.display());
    }
}

/// Runs a prepared command with standard input; returns stdout, panicking on failure.
pub fn run_with_stdin(mut cmd: Command, stdin: &str) -> String {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Resident memory of a process, MiB (from /proc).
pub fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// `hoso serve` on free loopback ports for HTTP and HTTPS, on `data`.
pub fn serve_lan(data: &std::path::Path) -> Command {
    let mut c = bin();
    c.args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--tls-listen",
        "127.0.0.1:0",
        "--data-dir",
    ])
    .arg(data)
    .args(db_args(data));
    c
}

/// Reads server-sent events of `path` with the session of `c` on a thread; each `data:`
/// line goes to the channel with the time it arrived.
pub fn sse(
    c: &Client,
    path: &str,
) -> std::sync::mpsc::Receiver<(std::time::Instant, serde_json::Value)> {
    use std::io::{BufRead, Write};
    let addr = c.base.trim_start_matches("http://").to_string();
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nCookie: {}\r\nAccept: text/event-stream\r\n\r\n",
        c.cookie.as_deref().unwrap()
    )
    .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(s).lines() {
            let Ok(line) = line else { return };
            if let Some(d) = line.strip_prefix("data:") {
                if let Ok(v) = serde_json::from_str(d.trim()) {
                    if tx.send((std::time::Instant::now(), v)).is_err() {
                        return;
                    }
                }
            }
        }
    });
    rx
}
