//! Facts about the request's sender that the server's middleware works out once and every
//! server function reads from the request's extensions.

use std::net::IpAddr;

/// The client's IP address: the peer's, or the `X-Forwarded-For` one when the peer is a
/// configured trusted proxy. Used for rate limits and the audit log; never logged with
/// personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// The client IP of the request being handled by a server function.
pub fn client_ip() -> Option<IpAddr> {
    let parts = leptos::prelude::use_context::<http::request::Parts>()?;
    parts.extensions.get::<ClientIp>().map(|c| c.0)
}

/// The request's `User-Agent`, cut short.
pub fn user_agent() -> Option<String> {
    let parts = leptos::prelude::use_context::<http::request::Parts>()?;
    let ua = parts.headers.get(http::header::USER_AGENT)?.to_str().ok()?;
    Some(ua.chars().take(300).collect())
}

/// Picks the client address: the nearest `X-Forwarded-For` hop that is not itself a trusted
/// proxy, when the peer is trusted; else the peer.
pub fn resolve_client_ip(
    peer: IpAddr,
    forwarded_for: Option<&str>,
    trusted: &[ipnet::IpNet],
) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let Some(header) = forwarded_for else {
        return peer;
    };
    header
        .rsplit(',')
        .filter_map(|hop| hop.trim().parse::<IpAddr>().ok())
        .find(|ip| !is_trusted(ip))
        .unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
        let trusted: Vec<ipnet::IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        assert_eq!(
            resolve_client_ip(ip("203.0.113.9"), Some("1.2.3.4"), &trusted),
            ip("203.0.113.9")
        );
        assert_eq!(
            resolve_client_ip(ip("10.0.0.2"), Some("1.2.3.4"), &trusted),
            ip("1.2.3.4")
        );
        assert_eq!(
            resolve_client_ip(ip("10.0.0.2"), Some("6.6.6.6, 1.2.3.4, 10.0.0.7"), &trusted),
            ip("1.2.3.4"),
            "a client cannot spoof by prepending hops"
        );
        assert_eq!(
            resolve_client_ip(ip("10.0.0.2"), Some("garbage"), &trusted),
            ip("10.0.0.2")
        );
    }
}
