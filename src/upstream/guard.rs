//! The SSRF guard: which addresses outbound requests may reach.
//!
//! Two checks, because reqwest only asks a resolver for names, never for IP literals:
//! - [`Guard::check_url`] before every request and every redirect hop (scheme, literal
//!   addresses, forbidden names);
//! - [`GuardedResolver`], installed on the shared client, resolves names and drops every
//!   forbidden address before hyper connects. The connection therefore goes to an address
//!   that was checked: there is no window for DNS rebinding between check and connect.
//!
//! The operator can open holes with `SOKOUL_PROXY_ALLOW` (CIDRs, `host` or `host:port`), and
//! the hosts of configured providers are allowed (the operator chose them): to the providers'
//! own clients always, and through the proxy only for URLs minted for that provider's sources
//! ([`Guard::check_url_for`]). Otherwise a source from one provider (or a redirect from it)
//! could reach another provider's host, say a LAN Jellyfin's, through the proxy.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

use crate::config::Settings;

/// Names of cloud metadata services, refused before any lookup. Names that resolve to
/// private addresses (`localhost`…) are refused by the resolver, after resolution.
const FORBIDDEN_NAMES: &[&str] = &[
    "metadata.google.internal",
    "metadata.goog",
    "metadata",
    "instance-data",
    "instance-data.ec2.internal",
];

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GuardError {
    #[error("only http and https URLs can be proxied")]
    Scheme,
    #[error("the URL has no host")]
    NoHost,
    #[error("{0} is a private, loopback or reserved destination")]
    Forbidden(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct AllowedHost {
    /// Lower-case name, or an IP literal in its canonical text form.
    host: String,
    port: Option<u16>,
}

#[derive(Debug, Default)]
pub struct Guard {
    nets: Vec<IpNet>,
    /// `SOKOUL_PROXY_ALLOW`'s names and `host:port`s, and every provider's host.
    hosts: Vec<AllowedHost>,
    /// The configured providers' hosts, each with the provider that owns it.
    providers: Vec<(String, AllowedHost)>,
}

impl Guard {
    /// `SOKOUL_PROXY_ALLOW` plus the configured providers' hosts.
    pub fn from_settings(settings: &Settings) -> Self {
        let mut guard = Guard::new(settings.proxy.allow.iter().cloned());
        let operator_hosts = guard.hosts.clone();
        for (owner, entry) in settings.provider_hosts() {
            let Some(host) = parse_host_port(&entry) else {
                continue;
            };
            // A host the operator allowed for everyone stays so.
            if !operator_hosts.contains(&host) {
                guard.providers.push((owner.to_string(), host.clone()));
            }
            guard.hosts.push(host);
        }
        guard
    }

    /// Entries are CIDRs (`10.0.0.0/8`), IPs (`127.0.0.1`, `[::1]:8080`) or names
    /// (`media.lan`, `media.lan:8096`). Unparseable entries are ignored with a warning.
    pub fn new(entries: impl IntoIterator<Item = String>) -> Self {
        let mut guard = Guard::default();
        for entry in entries {
            let entry = entry.trim();
            if entry.is_empty() {
                continue;
            }
            if let Ok(net) = entry.parse::<IpNet>() {
                guard.nets.push(net);
            } else if let Ok(ip) = entry.parse::<IpAddr>() {
                // An address without a port is a one-address network, so names that resolve
                // to it are allowed too.
                guard.nets.push(IpNet::from(ip));
            } else if let Some(h) = parse_host_port(entry) {
                guard.hosts.push(h);
            } else {
                tracing::warn!(entry, "ignoring an unparseable proxy allow entry");
            }
        }
        guard
    }

    /// A guard that allows everything: for tools and tests that must reach loopback.
    pub fn allow_all() -> Self {
        Guard {
            nets: vec!["0.0.0.0/0".parse().unwrap(), "::/0".parse().unwrap()],
            hosts: Vec::new(),
            providers: Vec::new(),
        }
    }

    fn host_allowed(&self, host: &str, port: Option<u16>) -> bool {
        self.hosts
            .iter()
            .any(|h| h.host == host && (h.port.is_none() || h.port == port))
    }

    /// Whether a name is allowlisted on some port: the resolver does not know the port.
    fn name_allowed_on_any_port(&self, name: &str) -> bool {
        self.hosts.iter().any(|h| h.host == name)
    }

    pub fn ip_allowed(&self, ip: IpAddr) -> bool {
        !is_forbidden(ip) || self.nets.iter().any(|n| n.contains(&ip))
    }

    /// Checks a URL before a request is sent (and before each redirect hop is followed).
    /// Names are checked again, after resolution, by [`GuardedResolver`].
    pub fn check_url(&self, url: &Url) -> Result<(), GuardError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(GuardError::Scheme);
        }
        let port = url.port_or_known_default();
        match url.host() {
            None => Err(GuardError::NoHost),
            Some(Host::Ipv4(v4)) => self.check_ip(IpAddr::V4(v4), port),
            Some(Host::Ipv6(v6)) => self.check_ip(IpAddr::V6(v6), port),
            Some(Host::Domain(name)) => {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                if self.host_allowed(&name, port) {
                    return Ok(());
                }
                // A name allowed on another port only: the resolver would let it through
                // (it never sees ports), so refuse it here.
                if self.name_allowed_on_any_port(&name) || is_forbidden_name(&name) {
                    return Err(GuardError::Forbidden(name));
                }
                Ok(())
            }
        }
    }

    /// [`Guard::check_url`] for a proxy URL minted for `provider`'s source: a configured
    /// provider's host is allowed only to its own provider's URLs (or when the operator's
    /// `SOKOUL_PROXY_ALLOW` names it); to any other it is refused as a private destination
    /// would be, whether it is on the LAN or not.
    pub fn check_url_for(&self, url: &Url, provider: Option<&str>) -> Result<(), GuardError> {
        if let Some(host) = url.host() {
            let (name, ip) = match host {
                Host::Domain(d) => (d.trim_end_matches('.').to_ascii_lowercase(), None),
                Host::Ipv4(ip) => (ip.to_string(), Some(IpAddr::V4(ip))),
                Host::Ipv6(ip) => (ip.to_string(), Some(IpAddr::V6(ip))),
            };
            // An address inside an operator's CIDR is named by SOKOUL_PROXY_ALLOW.
            let operator_net = ip.is_some_and(|ip| self.nets.iter().any(|n| n.contains(&ip)));
            let port = url.port_or_known_default();
            let matches = |h: &AllowedHost| h.host == name && (h.port.is_none() || h.port == port);
            let owners = || self.providers.iter().filter(|(_, h)| matches(h));
            if !operator_net
                && owners().next().is_some()
                && !owners().any(|(o, _)| Some(o.as_str()) == provider)
            {
                return Err(GuardError::Forbidden(name));
            }
        }
        self.check_url(url)
    }

    fn check_ip(&self, ip: IpAddr, port: Option<u16>) -> Result<(), GuardError> {
        if self.ip_allowed(ip) || self.host_allowed(&ip.to_string(), port) {
            Ok(())
        } else {
            Err(GuardError::Forbidden(ip.to_string()))
        }
    }
}

fn parse_host_port(entry: &str) -> Option<AllowedHost> {
    // Reuse the URL parser for IPv6 brackets, IDNA and port syntax.
    let url = Url::parse(&format!("http://{entry}")).ok()?;
    if url.path() != "/" || url.query().is_some() || !url.username().is_empty() {
        return None;
    }
    let host = match url.host()? {
        Host::Domain(d) => d.trim_end_matches('.').to_ascii_lowercase(),
        Host::Ipv4(ip) => ip.to_string(),
        Host::Ipv6(ip) => ip.to_string(),
    };
    Some(AllowedHost {
        host,
        port: url.port(),
    })
}

fn is_forbidden_name(name: &str) -> bool {
    FORBIDDEN_NAMES.contains(&name)
}

/// Whether an address is anything but a globally routable unicast address.
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_forbidden_v4(v4),
        IpAddr::V6(v6) => is_forbidden_v6(v6),
    }
}

fn is_forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_unspecified()
        || a == 0 // "this network"
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local() // 169.254/16, including the 169.254.169.254 metadata service
        || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments 192.0.0/24
        || (a == 192 && b == 0 && c == 2) // documentation
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113)
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast
        || (a == 198 && (b & 0xfe) == 18) // benchmarking 198.18/15
        || ip.is_multicast()
        || a >= 240 // reserved 240/4 and broadcast
}

fn is_forbidden_v6(ip: Ipv6Addr) -> bool {
    let seg = ip.segments();
    if ip.is_unspecified() || ip.is_loopback() || ip.is_multicast() {
        return true;
    }
    // IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible (::a.b.c.d): no public server
    // publishes these, and they reach IPv4 hosts (loopback included) on dual-stack sockets.
    if seg[..5] == [0, 0, 0, 0, 0] && (seg[5] == 0xffff || seg[5] == 0) {
        return true;
    }
    // SIIT translated ::ffff:0:a.b.c.d
    if seg[..4] == [0, 0, 0, 0] && seg[4] == 0xffff && seg[5] == 0 {
        return true;
    }
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from(((hi as u32) << 16) | lo as u32);
    // NAT64 well-known prefix 64:ff9b::/96 and local-use 64:ff9b:1::/48: judge the IPv4 inside.
    if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_forbidden_v4(embedded(seg[6], seg[7]));
    }
    if seg[0] == 0x64 && seg[1] == 0xff9b && seg[2] == 1 {
        return true;
    }
    // 6to4 2002:a.b.c.d::/48
    if seg[0] == 0x2002 {
        return is_forbidden_v4(embedded(seg[1], seg[2]));
    }
    (seg[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (seg[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (seg[0] & 0xffc0) == 0xfec0 // site-local (deprecated) fec0::/10
        || (seg[0] == 0x2001 && seg[1] == 0x0db8) // documentation
        || (seg[0] == 0x2001 && seg[1] == 0) // Teredo: the IPv4 inside is obfuscated
        || (seg[0] == 0x2001 && seg[1] < 0x200) // other IETF protocol assignments 2001::/23
        || seg[..4] == [0x100, 0, 0, 0] // discard-only 100::/64
}

/// The shared client's DNS resolver: system resolution, then the guard's filter.
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    guard: Arc<Guard>,
}

impl GuardedResolver {
    pub fn new(guard: Arc<Guard>) -> Self {
        GuardedResolver { guard }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0} resolves only to private, loopback or reserved addresses")]
pub struct ResolveRefused(pub String);

impl Guard {
    /// System resolution, then the guard's filter: only the addresses it returns are ever
    /// connected to, so there is no window between the check and the connection.
    pub async fn resolve_allowed(
        &self,
        name: &str,
    ) -> Result<Vec<SocketAddr>, Box<dyn std::error::Error + Send + Sync>> {
        let host = name.trim_end_matches('.').to_ascii_lowercase();
        let resolved: Vec<SocketAddr> =
            tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
        // The port-specific part of a `host:port` entry was checked by `check_url`.
        let trusted = self.name_allowed_on_any_port(&host);
        let allowed: Vec<SocketAddr> = resolved
            .into_iter()
            .filter(|a| trusted || self.ip_allowed(a.ip()))
            .collect();
        if allowed.is_empty() {
            return Err(Box::new(ResolveRefused(host)));
        }
        Ok(allowed)
    }
}

impl Guard {
    /// For a `socks5h` proxy, which resolves names itself: refuses literal private addresses
    /// and names private by definition (`localhost`, `*.localhost`, cloud metadata) unless the
    /// operator allowed them. Anything else is left to the proxy's resolver.
    pub fn check_unresolved(&self, host: &str) -> Result<(), ResolveRefused> {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        if self.name_allowed_on_any_port(&host) {
            return Ok(());
        }
        let literal = host.trim_start_matches('[').trim_end_matches(']');
        let refused = match literal.parse::<IpAddr>() {
            Ok(ip) => !self.ip_allowed(ip),
            Err(_) => {
                is_forbidden_name(&host) || host == "localhost" || host.ends_with(".localhost")
            }
        };
        if refused {
            return Err(ResolveRefused(host));
        }
        Ok(())
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let guard = self.guard.clone();
        Box::pin(async move {
            let allowed = guard.resolve_allowed(name.as_str()).await?;
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

/// The same resolver for the proxy's hyper client (a tower service over hyper-util names).
#[derive(Debug, Clone)]
pub struct GuardedHyperResolver {
    guard: Arc<Guard>,
}

impl GuardedHyperResolver {
    pub fn new(guard: Arc<Guard>) -> Self {
        GuardedHyperResolver { guard }
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl tower::Service<hyper_util::client::legacy::connect::dns::Name> for GuardedHyperResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = BoxError;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, BoxError>> + Send>,
    >;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), BoxError>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: hyper_util::client::legacy::connect::dns::Name) -> Self::Future {
        let guard = self.guard.clone();
        Box::pin(async move { Ok(guard.resolve_allowed(name.as_str()).await?.into_iter()) })
    }
}

/// Whether an HTTP client error (anywhere in its source chain) is the guard refusing a name.
pub fn is_refusal(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(e) = current {
        if e.is::<ResolveRefused>() {
            return true;
        }
        current = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn socks5h_names_that_are_private_by_definition_are_refused() {
        let g = Guard::new(["10.0.0.0/8".to_string(), "media.lan:8096".to_string()]);
        for host in [
            "127.0.0.1",
            "[::1]",
            "::ffff:127.0.0.1",
            "169.254.169.254",
            "localhost",
            "LocalHost.",
            "app.localhost",
            "metadata.google.internal",
        ] {
            assert!(g.check_unresolved(host).is_err(), "{host}");
        }
        for host in [
            "cdn.example.com",
            "8.8.8.8",
            "10.1.2.3",
            "media.lan",
            "[2606:4700::1]",
        ] {
            assert!(g.check_unresolved(host).is_ok(), "{host}");
        }
    }

    #[test]
    fn private_and_special_addresses_are_forbidden() {
        for ip in [
            "127.0.0.1",
            "127.9.9.9",
            "0.0.0.0",
            "0.1.2.3",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "192.0.2.1",
            "198.18.0.1",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:8.8.8.8",
            "::127.0.0.1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::1",
            "2002:c0a8:101::1",
            "2001:db8::1",
            "fd00:ec2::254",
        ] {
            assert!(is_forbidden(ip.parse().unwrap()), "{ip} must be forbidden");
        }
    }

    #[test]
    fn public_addresses_are_allowed() {
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "100.63.255.255",
            "100.128.0.1",
            "172.32.0.1",
            "2606:4700:4700::1111",
            "2a00:1450:4007:80f::200e",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert!(!is_forbidden(ip.parse().unwrap()), "{ip} must be allowed");
        }
    }

    #[test]
    fn urls_with_literal_private_hosts_are_refused_unless_allowlisted() {
        let g = Guard::default();
        for u in [
            "http://127.0.0.1/x",
            "http://[::1]:8080/x",
            "http://[::ffff:127.0.0.1]/x",
            "http://169.254.169.254/latest/meta-data/",
            "http://2130706433/", // 127.0.0.1 written as one number: the URL parser normalises it
            "http://0x7f.1/",
            "http://metadata.google.internal/computeMetadata/v1/",
        ] {
            assert!(
                matches!(g.check_url(&url(u)), Err(GuardError::Forbidden(_))),
                "{u}"
            );
        }
        assert_eq!(
            g.check_url(&url("file:///etc/passwd")),
            Err(GuardError::Scheme)
        );
        assert_eq!(
            g.check_url(&url("ftp://example.com/")),
            Err(GuardError::Scheme)
        );
        assert!(g.check_url(&url("https://cdn.example.com/a.m3u8")).is_ok());
        assert!(g.check_url(&url("http://8.8.8.8/a.ts")).is_ok());
    }

    #[test]
    fn allow_entries_open_exactly_what_they_name() {
        let g = Guard::new(
            [
                "127.0.0.1",
                "10.0.0.0/8",
                "media.lan:8096",
                "[::1]:9000",
                "nonsense entry !",
            ]
            .map(String::from),
        );
        assert!(g.check_url(&url("http://127.0.0.1:1234/x")).is_ok());
        assert!(g.check_url(&url("http://10.9.8.7/x")).is_ok());
        assert!(g.check_url(&url("http://[::1]:9000/x")).is_ok());
        assert!(g.check_url(&url("http://[::1]:9001/x")).is_err());
        assert!(g.check_url(&url("http://media.lan:8096/x")).is_ok());
        assert!(g.check_url(&url("http://MEDIA.lan.:8096/x")).is_ok());
        assert!(g.check_url(&url("http://media.lan:22/x")).is_err());
        assert!(g.check_url(&url("http://192.168.0.1/x")).is_err());
        assert!(g.ip_allowed("10.1.1.1".parse().unwrap()));
        assert!(!g.ip_allowed("192.168.1.1".parse().unwrap()));
    }

    #[test]
    fn a_provider_host_is_reachable_only_through_its_own_providers_urls() {
        let mut settings = Settings::default();
        settings.consumet.url = Some("http://127.0.0.1:3000".into());
        settings.jellyfin.url = Some("http://jf.lan:8096/".into());
        settings.stremio.addons = vec!["http://127.0.0.1:7000/manifest.json".into()];
        settings.proxy.allow = vec!["127.0.0.1:7000".into(), "10.0.0.0/8".into()];
        settings.tmdb.key = Some(crate::config::Secret::new("k"));
        settings.tmdb.base_url = "http://10.1.1.1:8080/3".into();
        let g = Guard::from_settings(&settings);
        let jf = url("http://jf.lan:8096/Videos/1/stream");
        let consumet = url("http://127.0.0.1:3000/x.m3u8");
        assert!(g.check_url_for(&jf, Some("jellyfin")).is_ok());
        assert!(g.check_url_for(&consumet, Some("consumet")).is_ok());
        for (u, p) in [
            (&jf, Some("consumet")),
            (&jf, Some("stremio")),
            (&jf, None),
            (&consumet, Some("jellyfin")),
            (&consumet, None),
        ] {
            assert!(
                matches!(g.check_url_for(u, p), Err(GuardError::Forbidden(_))),
                "{u} for {p:?}"
            );
        }
        // Named by SOKOUL_PROXY_ALLOW: open to every URL.
        let addon = url("http://127.0.0.1:7000/stream.m3u8");
        assert!(g.check_url_for(&addon, Some("consumet")).is_ok());
        let tmdb = url("http://10.1.1.1:8080/3/movie/1");
        assert!(g.check_url_for(&tmdb, Some("consumet")).is_ok());
        // The providers' own clients still reach every provider.
        assert!(g.check_url(&jf).is_ok() && g.check_url(&consumet).is_ok());
    }

    #[tokio::test]
    async fn the_resolver_refuses_names_that_resolve_to_loopback() {
        let r = GuardedResolver::new(Arc::new(Guard::default()));
        let err = r
            .resolve("localhost".parse().unwrap())
            .await
            .err()
            .expect("refused");
        assert!(is_refusal(err.as_ref()), "{err}");
        let allowed = GuardedResolver::new(Arc::new(Guard::new(["localhost".to_string()])));
        let addrs: Vec<_> = allowed
            .resolve("localhost".parse().unwrap())
            .await
            .unwrap()
            .collect();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()) && !addrs.is_empty());
        let by_cidr = GuardedResolver::new(Arc::new(Guard::new(["127.0.0.0/8".to_string()])));
        assert!(by_cidr.resolve("localhost".parse().unwrap()).await.is_ok());
    }
}
