//! The source address of a request, as the audit log records it: the socket peer, or the
//! client named in `X-Forwarded-For` when (and only when) the peer is a trusted proxy.
//!
//! Anyone can send `X-Forwarded-For`; believing it from an untrusted peer would let a brute
//! force pick the address its `auth.failed` entries are filed under.

use std::net::IpAddr;

use crate::config::TrustedProxies;

/// The source address the edge resolved, carried to handlers as a request extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceIp(pub Option<IpAddr>);

/// The client address (IPv4-mapped IPv6, a dual-stack listener's view of an IPv4 peer, as
/// IPv4): walking `X-Forwarded-For` from the right (the hop nearest to us)
/// past trusted proxies, the first address that is not one; the peer when it is not trusted.
pub fn source_ip(
    peer: Option<IpAddr>,
    forwarded_for: Option<&str>,
    trusted: &TrustedProxies,
) -> Option<IpAddr> {
    let peer = peer.map(|ip| ip.to_canonical())?;
    if !trusted.contains(peer) {
        return Some(peer);
    }
    let mut client = peer;
    for hop in forwarded_for.unwrap_or("").rsplit(',') {
        let Ok(hop) = hop.trim().parse::<IpAddr>().map(|ip| ip.to_canonical()) else {
            // Garbage from a proxy's client: the last address we could trust stands.
            return Some(client);
        };
        client = hop;
        if !trusted.contains(hop) {
            return Some(hop);
        }
    }
    Some(client)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    #[test]
    fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
        let trusted = TrustedProxies::parse("10.0.0.0/8").unwrap();

        let direct = source_ip(ip("198.51.100.9"), Some("203.0.113.5"), &trusted);
        let proxied = source_ip(ip("10.1.2.3"), Some("203.0.113.5"), &trusted);
        let chained = source_ip(
            ip("10.1.2.3"),
            Some("192.0.2.1, 203.0.113.5, 10.9.9.9"),
            &trusted,
        );
        let nothing = source_ip(ip("10.1.2.3"), None, &trusted);
        let nobody = source_ip(
            ip("10.1.2.3"),
            Some("203.0.113.5"),
            &TrustedProxies::default(),
        );

        assert_eq!(direct, ip("198.51.100.9"));
        assert_eq!(proxied, ip("203.0.113.5"));
        assert_eq!(chained, ip("203.0.113.5"));
        assert_eq!(nothing, ip("10.1.2.3"));
        assert_eq!(nobody, ip("10.1.2.3"));
    }
}
