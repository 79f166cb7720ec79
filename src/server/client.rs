//! Who a request came from: the client's address as the accept loop saw it, corrected
//! behind trusted proxies (`X-Forwarded-For`), and whether it arrived over HTTPS. Request
//! extensions the handlers read; below both the accept loop and the API.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// Marks requests that arrived over HTTPS (cookies then carry `Secure`).
#[derive(Clone, Copy)]
pub struct Https(pub bool);

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
                req.extensions_mut().insert(Https(true));
            }
        }
    }
    next.run(req).await
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
}
