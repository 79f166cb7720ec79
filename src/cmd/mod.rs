//! The `hoso` subcommands, one function each; `main.rs` parses the command line and
//! calls them. Errors become `anyhow` here, at the binary's edge.

pub mod data;
pub mod measure;
pub mod serve;

use anyhow::{Context, Result};

use hoso::config::Config;
use hoso::vision::FaceEngine;

pub fn load_engine(c: &Config) -> Result<FaceEngine> {
    let dir = c.models_dir();
    FaceEngine::load(&dir, &c.engine_options())
        .with_context(|| format!("loading the face engine from {}", dir.display()))
}

/// Opens the application (database, keys, models and gallery).
fn open_app(config: Config) -> Result<hoso::app::App> {
    let engine = load_engine(&config)?;
    Ok(hoso::app::App::open(config, engine, false)?)
}
