//! The whole API against its own OpenAPI document, with Schemathesis (property-based: it
//! generates valid and invalid requests from the document and checks every answer with
//! `--checks all`): once per kind of credential, each on the operations that credential
//! may call, on a live server with a temp database (both database passes). 0 failures.
//!
//! Schemathesis is installed pinned in a venv by `scripts/setup.sh --tests`
//! (`.local/schemathesis`; or `HOSO_SCHEMATHESIS`). Its one setting beyond the defaults:
//! a schema-valid request may be answered 422, the document's status for content that
//! cannot be used (a CCCD whose province code does not exist, a date that does not, an
//! image with no face); 400 stays reserved for requests the document does not allow.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{Client, Office};

/// Examples per operation and phase (the coverage phase adds its boundary cases). The event
/// streams (`/api/v1/{desk,kiosk}/events`) stay open: each case reads them for 2 s.
const EXAMPLES: &str = "8";

fn schemathesis() -> Option<PathBuf> {
    let path = std::env::var_os("HOSO_SCHEMATHESIS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".local/schemathesis/bin/schemathesis")
        });
    if path.exists() {
        return Some(path);
    }
    let why = format!(
        "Schemathesis not found at {} (scripts/setup.sh --tests installs it)",
        path.display()
    );
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
    eprintln!("skipped: {why}");
    None
}

/// The `[auth.openapi]` section of a credential kind.
fn auth(kind: &str, o: &Office, session: Option<&Client>) -> String {
    match kind {
        "kiosk" => format!("[auth.openapi.kiosk]\nbearer = \"{}\"\n", o.kiosk_token),
        "integration" => format!(
            "[auth.openapi.integration]\nbearer = \"{}\"\n",
            o.integration_token
        ),
        "public" => String::new(),
        _ => {
            let c = session.expect("a session");
            let cookie = c.cookie.as_deref().unwrap_or_default();
            format!(
                "[auth.openapi.session]\napi_key = \"{}\"\n[auth.openapi.csrf]\napi_key = \"{}\"\n",
                cookie.trim_start_matches("hoso_session="),
                c.csrf.as_deref().unwrap_or_default()
            )
        }
    }
}

/// Runs Schemathesis with credential `kind` on the operations `filter` selects; panics
/// with its report unless it found nothing.
fn run(st: &PathBuf, o: &Office, kind: &str, session: Option<&Client>, filter: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("schemathesis.toml");
    let toml = format!(
        "[checks.positive_data_acceptance]\n\
         expected-statuses = [\"2xx\", \"3xx\", \"401\", \"403\", \"404\", \"409\", \"422\", \"429\", \"5xx\"]\n\
         [[operations]]\ninclude-path-regex = \"^/api/v1/(desk|kiosk)/events$\"\nrequest-timeout = 2\n{}",
        auth(kind, o, session)
    );
    std::fs::write(&conf, toml).unwrap();
    let out = Command::new(st)
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .arg("--config-file")
        .arg(&conf)
        .args(["run", &format!("{}/api/v1/openapi.json", o.server.base)])
        .args(["--checks", "all", "--max-examples", EXAMPLES, "--seed", "7"])
        // One worker: Hypothesis's lambda descriptions are not thread-safe (a runtime error
        // of the tool, not of the API, seen with two).
        .args(["--workers", "1", "--no-color", "--request-timeout", "30"])
        .args(filter)
        .output()
        .expect("run schemathesis");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let summary: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(" generated,") || l.contains("Selected:") || l.starts_with("====="))
        .collect();
    eprintln!("{kind}: {}", summary.join(" | "));
    assert!(
        out.status.success(),
        "Schemathesis ({kind}) found failures:\n{text}"
    );
    assert!(
        text.contains("Tested:"),
        "Schemathesis ({kind}) tested nothing:\n{text}"
    );
}

/// The staff operations (sessions), without sign-out (run last, on its own).
const STAFF_TAGS: [&str; 12] = [
    "--include-tag",
    "session",
    "--include-tag",
    "intake",
    "--include-tag",
    "dossiers",
    "--include-tag",
    "desk",
    "--include-tag",
    "admin",
    "--exclude-path",
    "/api/v1/auth/logout",
];

#[test]
fn the_api_keeps_its_document_for_every_kind_of_credential() {
    let Some(st) = schemathesis() else { return };
    let o = Office::start();
    run(&st, &o, "admin", Some(&o.admin), &STAFF_TAGS);
    run(&st, &o, "clerk", Some(&o.clerk), &STAFF_TAGS);
    run(&st, &o, "kiosk", None, &["--include-tag", "kiosk"]);
    run(
        &st,
        &o,
        "integration",
        None,
        &[
            "--include-path-regex",
            r"^(/api/v1/dossiers/(\{code\}|\{code\}/events|events\.csv)|/metrics)$",
        ],
    );
    // Public operations (no credential at all), and sign-out last: it ends the session.
    run(&st, &o, "public", None, &["--include-tag", "operations"]);
    run(
        &st,
        &o,
        "clerk",
        Some(&o.clerk),
        &["--include-path", "/api/v1/auth/logout"],
    );
}
