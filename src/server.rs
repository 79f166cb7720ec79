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
        "refusing to serve plain HTTP on {0}: only loopback addresses may use HTTP; \
         LAN clients use HTTPS (set tls.listen, e.g. --tls-listen 0.0.0.0:8443)"
    )]
    NotLoopback(std::net::SocketAddr),
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
}

/// Serves until shutdown.
/// Prints a line on standard output, ignoring a closed pipe (a supervisor that stopped
/// reading must not take the service down).
macro_rules! say {
    ($($t:tt)*) => {{
        use std::io::Write;
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}

pub async fn serve(app: Arc<App>) -> Result<(), ServeError> {
    let addr = app.config.listen;
    if !addr.ip().is_loopback() {
        return Err(ServeError::NotLoopback(addr));
    }
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    let local = listener.local_addr()?;
    spawn_retention(app.clone());
    App::keep_eligible(&app);
    tracing::info!(%local, "Hồ Sơ listening on http://{local}/");
    say!("Hồ Sơ listening on http://{local}/");
    let https = match app.config.tls.listen {
        None => None,
        Some(tls_addr) => {
            crate::tls::init_crypto();
            let (cert, key) = crate::tls::cert_and_key(&app.config)?;
            let rustls = axum_server::tls_rustls::RustlsConfig::from_pem_file(&cert, &key)
                .await
                .map_err(|source| crate::tls::TlsError::Io {
                    path: cert.clone(),
                    source,
                })?;
            let std_listener =
                std::net::TcpListener::bind(tls_addr).map_err(|source| ServeError::Bind {
                    addr: tls_addr,
                    source,
                })?;
            std_listener.set_nonblocking(true)?;
            let local_tls = std_listener.local_addr()?;
            say!("Hồ Sơ listening on https://{local_tls}/");
            let handle = axum_server::Handle::new();
            let server = axum_server::from_tcp_rustls(std_listener, rustls)?
                .handle(handle.clone())
                .serve(crate::api::router_for(app.clone(), true).into_make_service());
            Some((server, handle))
        }
    };
    let http = axum::serve(listener, crate::api::router_for(app, false))
        .with_graceful_shutdown(shutdown());
    match https {
        None => http.await?,
        Some((server, handle)) => {
            let stop = async move {
                let r = http.await;
                handle.graceful_shutdown(Some(std::time::Duration::from_secs(5)));
                r
            };
            let (a, b) = tokio::join!(stop, server);
            a?;
            b?;
        }
    }
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

/// Runs the retention job now and then every `retention.interval_minutes` (0 = never).
fn spawn_retention(app: Arc<App>) {
    let minutes = app.config.retention.interval_minutes;
    if minutes == 0 {
        return;
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(minutes * 60));
        loop {
            tick.tick().await;
            let a = app.clone();
            let r = tokio::task::spawn_blocking(move || {
                a.retention_run(
                    crate::app::retention::RETENTION_JOB,
                    crate::store::now(),
                    false,
                )
            })
            .await;
            match r {
                Ok(Ok(r)) if !r.people.is_empty() || !r.backups.is_empty() => tracing::info!(
                    people = r.people.len(),
                    backups = r.backups.len(),
                    "retention purged"
                ),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "retention job failed"),
                Err(e) => tracing::error!(error = %e, "retention job panicked"),
            }
        }
    });
}
