//! Hồ Sơ: a face-recognition dossier-status kiosk for one-stop-shop offices.
//!
//! `vision` finds and embeds faces, `score` turns embeddings into similarities and
//! decisions, `gallery` searches enrolled templates, `eval` and `bench` measure them.

pub mod api;
pub mod app;
pub mod applicant;
pub mod auth;
pub mod backup;
pub mod bench;
pub mod boot;
pub mod camera;
pub mod config;
pub mod consent;
pub mod crypto;
pub mod dossier;
pub mod eval;
pub mod gallery;
pub mod gate;
pub mod journal;
pub mod kiosk;
pub mod lock;
pub mod request;
pub mod score;
pub mod server;
pub mod speech;
pub mod store;
pub mod streams;
pub mod throttle;
pub mod tls;
pub mod vision;
