//! Two `hoso serve` on one PostgreSQL database and one key database, the way an operator
//! sets them up (README "Many offices"): the deployment key copied, a clerk and a kiosk
//! made once, the liveness challenge off (recognition alone).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;

use super::Server;

/// Seconds between the servers' checks of the change feed in these tests.
pub const CHECK_S: u64 = 3;

/// Two servers sharing one main database and one key database.
pub struct Pair {
    pub a: Server,
    pub b: Server,
    pub main_url: String,
    pub keys_url: String,
    pub kiosk_token: String,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

pub fn psql(url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .arg(url)
        .args(["-qAt", "-c", sql])
        .output()
        .expect("psql");
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

pub fn start_pair(base: &str, extra_config: &str) -> Pair {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let main = super::db_args(da.path());
    let main_url = main[1].clone();
    let keys_name = format!("{}_keys", main_url.rsplit('/').next().unwrap());
    if psql(
        &format!("{base}/postgres"),
        &format!("SELECT 1 FROM pg_database WHERE datname = '{keys_name}'"),
    ) != "1"
    {
        psql(
            &format!("{base}/postgres"),
            &format!("CREATE DATABASE {keys_name}"),
        );
    }
    let keys_url = format!("{base}/{keys_name}");
    let config = format!(
        "[liveness]\nmode = \"off\"\n[database]\nkeys_url = \"{keys_url}\"\ncheck_interval_s = {CHECK_S}\n{extra_config}"
    );
    for d in [da.path(), db.path()] {
        std::fs::write(d.join("config.toml"), &config).unwrap();
    }
    let conf = |d: &Path| d.join("config.toml").to_string_lossy().into_owned();
    let cli = |args: &[&str]| {
        let mut c = super::bin();
        c.args(args)
            .args(["--data-dir", da.path().to_str().unwrap()])
            .args(["--config", &conf(da.path())])
            .args(&main);
        super::run_with_stdin(c, &format!("{}\n", super::PASSWORD))
    };
    for (role, name) in [("clerk", "clerk1"), ("admin", "admin1")] {
        cli(&["admin", "create-user", "--role", role, "--username", name]);
    }
    let kiosk_token = cli(&super::KIOSK_TOKEN_ARGS).trim().to_string();
    // The operator copies the deployment key to every server (README).
    std::fs::create_dir_all(db.path().join("keys")).unwrap();
    std::fs::copy(
        da.path().join("keys/deployment.key"),
        db.path().join("keys/deployment.key"),
    )
    .unwrap();
    let a = Server::start_on(da.path(), &main, &["--config", &conf(da.path())]);
    let b = Server::start_on(db.path(), &main, &["--config", &conf(db.path())]);
    Pair {
        a,
        b,
        main_url,
        keys_url,
        kiosk_token,
        _dirs: (da, db),
    }
}

/// Registers a consented applicant with an open dossier and enrols `photos` on `c`.
pub fn enrolled(c: &super::Client, n: usize, photos: &[PathBuf]) -> i64 {
    let id = super::consented_applicant(c, "Người Thử Hai Máy", &format!("0010991{n:05}"));
    super::enrol_faces(c, id, photos);
    let (s, v) = c.post(
        "/api/v1/dossiers",
        json!({"code": format!("000.00.17.H29-261201-{n:04}"), "applicant_id": id,
               "procedure": "Cấp bản sao trích lục", "received_at": "2026-12-01 08:00", "due_at": "2026-12-10"}),
    );
    assert_eq!(s, 201, "{v}");
    id
}
