//! The HTTP service: builds the application state (face engine, config) and serves the
//! API until Ctrl-C or SIGTERM. Plain HTTP is for loopback; LAN clients need HTTPS.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::config::Config;
use crate::vision::FaceEngine;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("server failed: {0}")]
    Io(#[from] std::io::Error),
    #[error(
        "refusing to serve plain HTTP on {0}: only loopback addresses may use HTTP \
         (HTTPS for LAN clients comes with the intake desk)"
    )]
    NotLoopback(std::net::SocketAddr),
}

/// Shared state of every request.
pub struct AppState {
    pub config: Config,
    pub engine: FaceEngine,
    pub started: Instant,
    pub demo: bool,
}

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/healthz", get(healthz))
        .with_state(state)
}

async fn healthz(State(s): State<Arc<AppState>>) -> impl IntoResponse {
    let m = &s.engine.manifest;
    Json(json!({
        "status": "ok",
        "demo": s.demo,
        "uptime_s": s.started.elapsed().as_secs(),
        "detector": m.detector.name,
        "embedders": m.embedders.iter().map(|e| &e.name).collect::<Vec<_>>(),
        "kiosk_scorer": m.scorer.kiosk,
        "calibrated": m.scorer.fused.is_some(),
    }))
}

async fn index() -> Html<&'static str> {
    Html(include_str!("../kiosk-ui/index.html"))
}

/// Serves until shutdown.
pub async fn serve(state: Arc<AppState>) -> Result<(), ServeError> {
    let addr = state.config.listen;
    if !addr.ip().is_loopback() {
        return Err(ServeError::NotLoopback(addr));
    }
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    let local = listener.local_addr()?;
    tracing::info!(%local, "Hồ Sơ listening on http://{local}/");
    println!("Hồ Sơ listening on http://{local}/");
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown())
        .await?;
    Ok(())
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
