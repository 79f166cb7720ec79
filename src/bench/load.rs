//! The start of a server with a large gallery: `n` consented applicants, each with an open
//! dossier, a data key and one sealed template, in a temporary data directory; then the time
//! `App::open` takes to read, decrypt and index them (what a restart or a new server pays).
//! With `--database` the records go to that PostgreSQL database, which must be empty.

use std::time::Instant;

use serde::Serialize;

use super::{synthetic, BenchError};
use crate::app::App;
use crate::config::Config;
use crate::vision::FaceEngine;

/// Applicants seeded per transaction.
const PAGE: usize = 5_000;

#[derive(Debug, Clone, Serialize)]
pub struct GalleryLoad {
    pub templates: usize,
    /// Seconds to open the application (migrations, then the gallery), models already loaded.
    pub open_s: f64,
    /// Seconds it took to seed them (keys written and synced one by one).
    pub seed_s: f64,
}

fn err(e: impl std::fmt::Display) -> BenchError {
    BenchError::Image(e.to_string())
}

pub fn gallery_load(cfg: &Config, n: usize) -> Result<GalleryLoad, BenchError> {
    let tmp = std::env::temp_dir().join(format!("hoso-bench-load-{}", std::process::id()));
    let mut config = cfg.clone();
    config.data_dir = tmp.clone();
    let result = seed_and_open(cfg, config, n);
    let _ = std::fs::remove_dir_all(&tmp);
    result
}

fn seed_and_open(cfg: &Config, config: Config, n: usize) -> Result<GalleryLoad, BenchError> {
    let engine = FaceEngine::load(&cfg.models_dir(), &cfg.engine_options())?;
    let app = App::open(config.clone(), engine, false).map_err(err)?;
    let dims: usize = app.gallery.segments().iter().map(|s| s.dims).sum();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let started = Instant::now();
    let mut rnd = synthetic(0x6A_11_E2_71_0B_D3_5C_09);
    for first in (1..=n).step_by(PAGE) {
        let count = PAGE.min(n + 1 - first);
        let templates: Vec<Vec<u8>> = (0..count)
            .map(|_| (0..dims).flat_map(|_| rnd().to_le_bytes()).collect())
            .collect();
        app.seed_synthetic(first, count, Some(&templates), threads)
            .map_err(err)?;
    }
    let seed_s = started.elapsed().as_secs_f64();
    drop(app);
    let engine = FaceEngine::load(&cfg.models_dir(), &cfg.engine_options())?;
    let t = Instant::now();
    let app = App::open(config, engine, false).map_err(err)?;
    let open_s = t.elapsed().as_secs_f64();
    Ok(GalleryLoad {
        templates: app.gallery.len(),
        open_s,
        seed_s,
    })
}
