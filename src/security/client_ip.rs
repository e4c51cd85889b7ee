//! Who the client is, for the rate limit: the TCP peer, or, when the peer is a reverse proxy
//! the operator trusts, the address that proxy put in `X-Forwarded-For`. A header from anyone
//! else is ignored: any client can write one.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request};
use ipnet::IpNet;

/// `10.0.0.0/8`, `fd00::/8`, or a single address.
pub fn parse_net(entry: &str) -> Option<IpNet> {
    let entry = entry.trim();
    entry
        .parse::<IpNet>()
        .ok()
        .or_else(|| entry.parse::<IpAddr>().ok().map(IpNet::from))
}

#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Entries were validated with the settings; an invalid one cannot get here.
    pub fn from_settings(entries: &[String]) -> Self {
        TrustedProxies(entries.iter().filter_map(|e| parse_net(e)).collect())
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client of a request: its peer address unless that is a trusted proxy, in which case
    /// `X-Forwarded-For` is read from the right (the entry our proxy appended) and the first
    /// address that is not itself a trusted proxy is the client.
    pub fn client_ip<B>(&self, request: &Request<B>) -> IpAddr {
        // Without a peer (a router driven without the server loop) everyone shares one bucket.
        let peer = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| canonical(addr.ip()))
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        if self.0.is_empty() || !self.trusts(peer) {
            return peer;
        }
        self.forwarded_client(peer, request.headers())
    }

    /// [`Self::client_ip`] for an extractor, which sees the request's parts.
    pub fn client_ip_of(&self, parts: &axum::http::request::Parts) -> IpAddr {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| canonical(addr.ip()))
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        if self.0.is_empty() || !self.trusts(peer) {
            return peer;
        }
        self.forwarded_client(peer, &parts.headers)
    }

    /// Whether the browser reached us over HTTPS: the request's own scheme, or the last
    /// `X-Forwarded-Proto` of a trusted proxy (anyone else's is ignored). Decides the
    /// session cookie's `Secure`.
    pub fn is_https<B>(&self, request: &Request<B>) -> bool {
        if request.uri().scheme_str() == Some("https") {
            return true;
        }
        let peer = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| canonical(addr.ip()));
        if !peer.is_some_and(|p| self.trusts(p)) {
            return false;
        }
        request
            .headers()
            .get_all("x-forwarded-proto")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .next_back()
            .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"))
    }

    fn forwarded_client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let entries: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .collect();
        let mut client = peer;
        for entry in entries.iter().rev() {
            // An unreadable entry ends the chain: what is left of it cannot be trusted.
            let Some(ip) = parse_forwarded(entry) else {
                break;
            };
            client = ip;
            if !self.trusts(ip) {
                break;
            }
        }
        client
    }
}

/// `203.0.113.7`, `203.0.113.7:4711`, `2001:db8::1` or `[2001:db8::1]:4711`.
fn parse_forwarded(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .map(canonical)
}

/// An IPv4 client reaching a dual-stack socket shows up as `::ffff:a.b.c.d`.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(peer: &str, xff: &[&str]) -> Request<()> {
        let mut builder = Request::builder();
        for v in xff {
            builder = builder.header("x-forwarded-for", *v);
        }
        let mut r = builder.body(()).unwrap();
        r.extensions_mut()
            .insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
        r
    }

    fn trusted(entries: &[&str]) -> TrustedProxies {
        TrustedProxies::from_settings(&entries.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_header_is_ignored_unless_the_peer_is_a_trusted_proxy() {
        let none = trusted(&[]);
        assert_eq!(
            none.client_ip(&request("198.51.100.9:5000", &["203.0.113.7"])),
            ip("198.51.100.9")
        );
        let lan = trusted(&["10.0.0.0/8"]);
        assert_eq!(
            lan.client_ip(&request("198.51.100.9:5000", &["203.0.113.7"])),
            ip("198.51.100.9"),
            "a client outside the trusted range cannot choose its address"
        );
        assert_eq!(
            lan.client_ip(&request("10.0.0.2:5000", &["203.0.113.7"])),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn the_rightmost_untrusted_entry_is_the_client() {
        let t = trusted(&["10.0.0.2", "10.0.0.3"]);
        // The client forged the first entry; our two proxies appended the rest.
        let r = request("10.0.0.2:1", &["1.2.3.4, 203.0.113.7", "10.0.0.3"]);
        assert_eq!(t.client_ip(&r), ip("203.0.113.7"));
        // Ports and brackets are tolerated; an unreadable entry stops the walk.
        let r = request("10.0.0.2:1", &["[2001:db8::5]:443"]);
        assert_eq!(t.client_ip(&r), ip("2001:db8::5"));
        let r = request("10.0.0.2:1", &["203.0.113.7, garbage"]);
        assert_eq!(t.client_ip(&r), ip("10.0.0.2"));
        // No header: the proxy itself.
        assert_eq!(t.client_ip(&request("10.0.0.2:1", &[])), ip("10.0.0.2"));
    }

    #[test]
    fn mapped_ipv4_peers_match_ipv4_ranges() {
        let t = trusted(&["127.0.0.1"]);
        let r = request("[::ffff:127.0.0.1]:80", &["203.0.113.7"]);
        assert_eq!(t.client_ip(&r), ip("203.0.113.7"));
    }

    #[test]
    fn settings_entries_parse_as_addresses_or_cidrs() {
        assert!(parse_net("127.0.0.1").is_some());
        assert!(parse_net("fd00::/8").is_some());
        assert!(parse_net("proxy.local").is_none());
    }
}
