//! The accept loop both listeners share (plain HTTP on loopback, HTTPS on the LAN): a cap
//! on open connections per client address and in all, a time limit on the TLS handshake
//! and on request headers (which also closes idle keep-alive connections), the client's
//! address for the handlers (`server::client`), and graceful shutdown. Idle or half-sent connections can
//! therefore never hold the service's sockets and file descriptors.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

use super::client::ClientAddr;
use super::stall::WriteTimeout;

/// Connection limits of one listener.
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    /// A client has this long to send a request's headers (and to start the next request
    /// on a kept-alive connection); also the TLS handshake's limit.
    pub header_timeout: Duration,
    /// Open connections per client address (0 = no cap).
    pub per_client: usize,
    /// Open connections in all.
    pub total: usize,
    /// How long a response may wait for a client that does not read it.
    pub write_timeout: Duration,
}

/// Open connections by client address.
#[derive(Default)]
struct Open {
    by_ip: HashMap<IpAddr, usize>,
    total: usize,
}

/// One counted connection; uncounted when dropped.
struct Slot {
    open: Arc<Mutex<Open>>,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut o = self.open.lock().unwrap_or_else(|p| p.into_inner());
        o.total = o.total.saturating_sub(1);
        if let Some(n) = o.by_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                o.by_ip.remove(&self.ip);
            }
        }
    }
}

/// Takes a slot for a connection from `ip`, or None when a cap is reached.
fn admit(open: &Arc<Mutex<Open>>, ip: IpAddr, limits: &ConnLimits) -> Option<Slot> {
    let mut o = open.lock().unwrap_or_else(|p| p.into_inner());
    let mine = o.by_ip.get(&ip).copied().unwrap_or(0);
    if o.total >= limits.total || (limits.per_client > 0 && mine >= limits.per_client) {
        return None;
    }
    o.total += 1;
    *o.by_ip.entry(ip).or_insert(0) += 1;
    Some(Slot {
        open: open.clone(),
        ip,
    })
}

/// Serves `router` on `listener` (through TLS when `tls` is set) until `stop` resolves,
/// then lets open requests finish for up to 5 seconds.
pub async fn run(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    router: axum::Router,
    limits: ConnLimits,
    stop: impl std::future::Future<Output = ()>,
) {
    let open = Arc::new(Mutex::new(Open::default()));
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let builder = Arc::new(builder);
    tokio::pin!(stop);
    let mut refused: u64 = 0;
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut stop => break,
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors or similar: wait instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let Some(slot) = admit(&open, peer.ip(), &limits) else {
            refused += 1;
            if refused.is_power_of_two() {
                tracing::warn!(client = %peer.ip(), refused, "connection cap reached; closing new connections");
            }
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let svc = router.clone().layer(axum::Extension(ClientAddr(peer)));
        let svc = hyper_util::service::TowerToHyperService::new(svc);
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let tls = tls.clone();
        let handshake = limits.header_timeout;
        let write_timeout = limits.write_timeout;
        tokio::spawn(async move {
            let _slot = slot;
            let result = match tls {
                None => {
                    let stream = WriteTimeout::new(stream, write_timeout);
                    let conn = builder.serve_connection(TokioIo::new(stream), svc);
                    watcher.watch(conn).await
                }
                Some(acceptor) => {
                    let Ok(Ok(stream)) =
                        tokio::time::timeout(handshake, acceptor.accept(stream)).await
                    else {
                        return;
                    };
                    let stream = WriteTimeout::new(stream, write_timeout);
                    let conn = builder.serve_connection(TokioIo::new(stream), svc);
                    watcher.watch(conn).await
                }
            };
            if let Err(e) = result {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {},
        _ = tokio::time::sleep(Duration::from_secs(5)) => {},
    }
}

/// Raises the soft limit on open files to the hard limit (systemd starts services at
/// 1024) and returns it, so the connection caps can be set below it.
pub fn raise_file_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 1024;
        }
        if lim.rlim_cur < lim.rlim_max {
            let want = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &want) == 0 {
                lim.rlim_cur = lim.rlim_max;
            }
        }
    }
    lim.rlim_cur
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_per_client_and_in_all() {
        let open = Arc::new(Mutex::new(Open::default()));
        let l = ConnLimits {
            header_timeout: Duration::from_secs(1),
            per_client: 2,
            total: 3,
            write_timeout: Duration::from_secs(1),
        };
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let s1 = admit(&open, a, &l).unwrap();
        let _s2 = admit(&open, a, &l).unwrap();
        assert!(admit(&open, a, &l).is_none(), "third from one client");
        let _s3 = admit(&open, b, &l).unwrap();
        assert!(admit(&open, b, &l).is_none(), "total reached");
        drop(s1);
        let _s4 = admit(&open, a, &l).expect("a closed slot is free again");
        let o = open.lock().unwrap();
        assert_eq!((o.total, o.by_ip[&a]), (3, 2));
    }
}
