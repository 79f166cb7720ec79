//! Shared test helpers: where the real face photos are, one face engine per test binary,
//! and a `hoso` server on 127.0.0.1 with a temp data dir.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use hoso::config::Config;
use hoso::vision::FaceEngine;

/// The labelled face set: `HOSO_TEST_FACES`, else `../shared/faces`. Under CI a missing set
/// fails the test; elsewhere the caller skips with the reason printed.
pub fn faces_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("HOSO_TEST_FACES").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/faces"),
        PathBuf::from,
    );
    if dir.join("MANIFEST.csv").is_file() {
        return Some(dir);
    }
    let msg = format!(
        "face set not found at {} (set HOSO_TEST_FACES to the shared/faces folder)",
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

pub fn models_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models")
}

pub fn engine() -> &'static FaceEngine {
    static E: OnceLock<FaceEngine> = OnceLock::new();
    E.get_or_init(|| {
        FaceEngine::load(&models_dir(), &Config::default().engine_options())
            .unwrap_or_else(|e| panic!("face engine: {e}"))
    })
}

pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hoso"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c.env("RUST_LOG", "warn");
    c
}

/// A running `hoso serve` on a free loopback port; killed on drop.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub data: tempfile::TempDir,
}

impl Server {
    pub fn start(extra: &[&str]) -> Server {
        let data = tempfile::tempdir().expect("temp dir");
        let mut child = bin()
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data.path())
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
        Server { child, base, data }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
