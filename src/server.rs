//! The HTTP service: serves the API of an opened `App` until Ctrl-C or SIGTERM. Plain HTTP is for loopback; LAN clients need HTTPS.

use std::sync::Arc;

use crate::app::App;

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

/// Serves until shutdown.
pub async fn serve(app: Arc<App>) -> Result<(), ServeError> {
    let addr = app.config.listen;
    if !addr.ip().is_loopback() {
        return Err(ServeError::NotLoopback(addr));
    }
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    let local = listener.local_addr()?;
    tracing::info!(%local, "Hồ Sơ listening on http://{local}/");
    println!("Hồ Sơ listening on http://{local}/");
    axum::serve(listener, crate::api::router(app))
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
