//! The HTTP service: serves the API of an opened `App` until Ctrl-C or SIGTERM. Plain HTTP is for loopback; LAN clients need HTTPS.

pub mod client;
pub mod listen;
pub mod stall;

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
    let _ = app.served_at.set(format!("http://{local}"));
    let limits = conn_limits(&app);
    // The certificate (generated or renewed if need be) is ready before anything is said.
    let acceptor = match app.config.tls.listen {
        Some(_) => Some(crate::tls::acceptor(&app.config)?),
        None => None,
    };
    spawn_retention(app.clone());
    App::keep_eligible(&app);
    tracing::info!(%local, "Hồ Sơ listening on http://{local}/");
    say!("Hồ Sơ listening on http://{local}/");
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    let https = match (app.config.tls.listen, acceptor) {
        (Some(tls_addr), Some(acceptor)) => {
            let l = tokio::net::TcpListener::bind(tls_addr)
                .await
                .map_err(|source| ServeError::Bind {
                    addr: tls_addr,
                    source,
                })?;
            say!("Hồ Sơ listening on https://{}/", l.local_addr()?);
            let router = crate::api::router_for(app.clone(), true);
            Some(tokio::spawn(listen::run(
                l,
                Some(acceptor),
                router,
                limits,
                stopped(),
            )))
        }
        _ => None,
    };
    let http = listen::run(
        listener,
        None,
        crate::api::router_for(app, false),
        limits,
        stopped(),
    );
    let signal = async move {
        shutdown().await;
        let _ = stop_tx.send(true);
    };
    tokio::join!(http, signal);
    if let Some(h) = https {
        let _ = h.await;
    }
    Ok(())
}

/// The connection limits from the configuration, kept below the process's file limit.
fn conn_limits(app: &App) -> listen::ConnLimits {
    let files = listen::raise_file_limit();
    let l = &app.config.limits;
    // Room for the database, models, logs and the other listener.
    let room = usize::try_from(files.saturating_sub(256) / 2).unwrap_or(usize::MAX);
    let total = l.max_connections.min(room).max(16);
    if total < l.max_connections {
        tracing::warn!(
            files,
            total,
            "connection cap lowered to fit the open-file limit"
        );
    }
    listen::ConnLimits {
        header_timeout: std::time::Duration::from_secs(l.header_timeout_seconds.max(1)),
        per_client: l.max_connections_per_client,
        total,
        write_timeout: std::time::Duration::from_secs(l.write_timeout_seconds.max(1)),
    }
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
                    &crate::auth::Principal::operator(crate::app::retention::RETENTION_JOB),
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
