//! The accept loop both listeners share (plain HTTP on loopback, HTTPS on the LAN): a cap
//! on open connections per client address and in all, a time limit on the TLS handshake
//! and on request headers (which also closes idle keep-alive connections), the client's
//! address for the handlers, and graceful shutdown. Idle or half-sent connections can
//! therefore never hold the service's sockets and file descriptors.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

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

/// The caller's address, as the accept loop saw it (an extension on every request).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub SocketAddr);

impl ClientAddr {
    /// The caller's IP address; 0.0.0.0 for a request that did not come through the accept
    /// loop (all of those then share one set of limits).
    pub fn ip_of(c: Option<axum::Extension<ClientAddr>>) -> IpAddr {
        c.map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0 .0.ip())
    }
}

/// The client of a request that came through trusted proxies: `X-Forwarded-For` read
/// from the right (each proxy appends the address it saw), skipping trusted hops; the
/// first untrusted address is the client. A peer that is not trusted is the client itself,
/// whatever it claims.
pub fn forwarded_client(peer: IpAddr, forwarded: Option<&str>, trusted: &[ipnet::IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut client = peer;
    for hop in forwarded.unwrap_or_default().rsplit(',') {
        match hop.trim().parse::<IpAddr>() {
            Ok(ip) if is_trusted(&ip) => client = ip,
            Ok(ip) => return ip,
            Err(_) => return client,
        }
    }
    client
}

/// Middleware behind trusted proxies (`limits.trusted_proxies`): the request's
/// `ClientAddr` becomes the forwarded client, and `X-Forwarded-Proto: https` from a
/// trusted proxy marks it as arrived over HTTPS (cookies then carry `Secure`).
pub async fn behind_proxies(
    axum::extract::State(trusted): axum::extract::State<Arc<Vec<ipnet::IpNet>>>,
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    if let Some(c) = req.extensions().get::<ClientAddr>().copied() {
        let peer = c.0.ip();
        if trusted.iter().any(|n| n.contains(&peer)) {
            let header = |name: &str| {
                req.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            let ip = forwarded_client(peer, header("x-forwarded-for").as_deref(), &trusted);
            let https =
                header("x-forwarded-proto").is_some_and(|p| p.eq_ignore_ascii_case("https"));
            req.extensions_mut()
                .insert(ClientAddr(SocketAddr::new(ip, c.0.port())));
            if https {
                req.extensions_mut().insert(crate::api::Https(true));
            }
        }
    }
    next.run(req).await
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
    fn the_client_behind_trusted_proxies_is_the_first_untrusted_hop() {
        let trusted: Vec<ipnet::IpNet> = vec![
            "127.0.0.1/32".parse().unwrap(),
            "10.0.0.0/8".parse().unwrap(),
        ];
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let f = |peer, xff| forwarded_client(ip(peer), xff, &trusted);
        assert_eq!(f("127.0.0.1", Some("203.0.113.7")), ip("203.0.113.7"));
        // A forged left part is ignored: the proxy's own append is what counts.
        assert_eq!(
            f("127.0.0.1", Some("1.2.3.4, 203.0.113.7")),
            ip("203.0.113.7")
        );
        assert_eq!(
            f("127.0.0.1", Some("198.51.100.2, 10.1.2.3")),
            ip("198.51.100.2")
        );
        // An untrusted peer is the client, whatever it claims.
        assert_eq!(f("192.0.2.9", Some("203.0.113.7")), ip("192.0.2.9"));
        // Nothing forwarded, or garbage: the last trusted address.
        assert_eq!(f("127.0.0.1", None), ip("127.0.0.1"));
        assert_eq!(f("127.0.0.1", Some("nonsense")), ip("127.0.0.1"));
    }

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
