//! Hồ Sơ: a face-recognition dossier-status kiosk for one-stop-shop offices.
//!
//! `vision` finds and embeds faces, `score` turns embeddings into similarities and
//! decisions, `gallery` searches enrolled templates, `eval` and `bench` measure them.

pub mod bench;
pub mod config;
pub mod eval;
pub mod gallery;
pub mod score;
pub mod server;
pub mod vision;
