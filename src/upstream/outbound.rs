//! The outbound proxy (`upstream.proxy`): where a network lets Sokoul out only through an
//! HTTP or SOCKS5 proxy.
//!
//! The SSRF guard still decides on the destination. Sokoul resolves the name itself with the
//! guard's resolver, then asks the proxy for the checked address (`CONNECT 203.0.113.7:443`,
//! SOCKS5 with an IPv4/IPv6 address): a name that resolves differently at the proxy cannot
//! lead to a private address. TLS runs end to end through the tunnel with the original name
//! (SNI, certificate, `Host`), and plain `http://` upstreams are tunnelled the same way, so
//! the proxy never sees a name. `socks5h://` is the one exception, for networks where only
//! the proxy can resolve names: the name is sent and the guard relies on the proxy's resolver,
//! after refusing literal private addresses and names that are private by definition.
//!
//! The proxy's own address is the operator's choice and is not checked by the guard (it is
//! usually on the LAN or loopback). Its credentials live in [`Secret`]s and appear in no
//! `Debug`, log line or error.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderValue, Uri};
use base64::Engine as _;
use hyper_rustls::{HttpsConnector, MaybeHttpsStream};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::proxy::{SocksV5, Tunnel};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tower::ServiceExt;

use super::guard::Guard;
use crate::config::{Secret, UpstreamSettings};

/// A connection to the proxy: TLS for an `https://` proxy, plain TCP otherwise. Once the
/// tunnel is up it carries the upstream connection.
pub type ProxyStream = MaybeHttpsStream<TokioIo<TcpStream>>;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// HTTP `CONNECT`, over TCP or TLS to the proxy.
    Http,
    Https,
    /// SOCKS5 with the checked address.
    Socks5,
    /// SOCKS5 with the name: the proxy resolves it.
    Socks5h,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProxyConfigError {
    #[error("is not a URL")]
    Url,
    #[error("the scheme must be http, https, socks5 or socks5h")]
    Scheme,
    #[error("needs a host")]
    NoHost,
    #[error("must be the proxy's address only (no path or query)")]
    Path,
    #[error("'{0}' is not a host name or a '*.domain' pattern")]
    Rule(String),
}

impl ProxyConfigError {
    /// The setting at fault.
    pub fn key(&self) -> &'static str {
        match self {
            ProxyConfigError::Rule(_) => "upstream.proxy_only/proxy_bypass",
            _ => "upstream.proxy",
        }
    }
}

/// A host pattern: `name` (that host only) or `*.domain` (any host under the domain).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    Exact(String),
    /// The suffix with its leading dot (`.example.org`).
    Under(String),
}

impl Pattern {
    fn parse(rule: &str) -> Result<Self, ProxyConfigError> {
        let rule = rule.trim().trim_end_matches('.').to_ascii_lowercase();
        let bad = || ProxyConfigError::Rule(rule.clone());
        let (under, name) = match rule.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, rule.as_str()),
        };
        let name = name.trim_start_matches('[').trim_end_matches(']');
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'));
        match (valid, under) {
            (false, _) => Err(bad()),
            (true, true) => Ok(Pattern::Under(format!(".{name}"))),
            (true, false) => Ok(Pattern::Exact(name.to_string())),
        }
    }

    fn matches(&self, host: &str) -> bool {
        match self {
            Pattern::Exact(name) => host == name,
            Pattern::Under(suffix) => host.ends_with(suffix.as_str()),
        }
    }
}

/// Which hosts go through the proxy: `proxy_bypass` wins, then `proxy_only` when it is set,
/// else every host.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    only: Vec<Pattern>,
    bypass: Vec<Pattern>,
}

impl Rules {
    pub fn proxied(&self, host: &str) -> bool {
        let host = normalise(host);
        if self.bypass.iter().any(|p| p.matches(&host)) {
            return false;
        }
        self.only.is_empty() || self.only.iter().any(|p| p.matches(&host))
    }
}

/// Lower case, no trailing dot, no IPv6 brackets: how patterns and the guard write hosts.
fn normalise(host: &str) -> String {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

/// `upstream.*`, parsed and checked.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    pub kind: Kind,
    /// `http(s)://host:port` of the proxy, without credentials.
    address: Uri,
    credentials: Option<(Secret, Secret)>,
    pub rules: Rules,
}

impl ProxyConfig {
    /// `None` when no proxy is configured. Errors never quote the URL (it may hold a password).
    pub fn parse(settings: &UpstreamSettings) -> Result<Option<Self>, ProxyConfigError> {
        // Rules are checked even without a proxy: a typo shows before the proxy is turned on.
        let patterns = |rules: &[String]| -> Result<Vec<Pattern>, ProxyConfigError> {
            rules.iter().map(|r| Pattern::parse(r)).collect()
        };
        let rules = Rules {
            only: patterns(&settings.proxy_only)?,
            bypass: patterns(&settings.proxy_bypass)?,
        };
        let Some(raw) = &settings.proxy else {
            return Ok(None);
        };
        let url = url::Url::parse(raw.expose().trim()).map_err(|_| ProxyConfigError::Url)?;
        let (kind, default_port) = match url.scheme() {
            "http" => (Kind::Http, 80),
            "https" => (Kind::Https, 443),
            "socks5" => (Kind::Socks5, 1080),
            "socks5h" => (Kind::Socks5h, 1080),
            _ => return Err(ProxyConfigError::Scheme),
        };
        let host = url.host_str().ok_or(ProxyConfigError::NoHost)?;
        if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
            return Err(ProxyConfigError::Path);
        }
        let scheme = if kind == Kind::Https { "https" } else { "http" };
        let port = url.port().unwrap_or(default_port);
        let address = format!("{scheme}://{host}:{port}")
            .parse()
            .map_err(|_| ProxyConfigError::NoHost)?;
        let decode =
            |s: &str| Secret::new(percent_encoding::percent_decode_str(s).decode_utf8_lossy());
        let credentials = (!url.username().is_empty())
            .then(|| (decode(url.username()), decode(url.password().unwrap_or(""))));
        Ok(Some(ProxyConfig {
            kind,
            address,
            credentials,
            rules,
        }))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DialError {
    /// The guard refused the destination, or its name did not resolve: nothing was sent to
    /// the proxy. The source is the guard's `ResolveRefused` when it refused.
    #[error("the destination cannot be reached")]
    Destination(#[source] BoxError),
    /// The proxy refused the tunnel, failed it, or could not be reached. The cause names no
    /// credential (hyper-util's tunnel and SOCKS errors are fixed texts).
    #[error("the outbound proxy did not open the tunnel")]
    Proxy(#[source] BoxError),
    /// An I/O `TimedOut`, as a direct connect timeout is: callers map both to 504.
    #[error("the outbound proxy did not open the tunnel in time")]
    Timeout(#[source] std::io::Error),
}

/// Where to open a tunnel to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An address the guard already checked (reqwest resolved it with the guarded resolver).
    Checked(SocketAddr),
    /// A name or literal still to be checked (and resolved, except with `socks5h`).
    Host(String, u16),
}

/// Opens tunnels through the configured proxy.
#[derive(Clone)]
pub struct Outbound {
    config: ProxyConfig,
    guard: Arc<Guard>,
    connector: HttpsConnector<HttpConnector>,
    /// The whole dial: the proxy's TCP (and TLS) connection and its handshake.
    timeout: Duration,
}

// Holds the connector, whose state says nothing useful in a log; the config is redacted.
impl std::fmt::Debug for Outbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbound")
            .field("kind", &self.config.kind)
            .field("address", &self.config.address)
            .finish_non_exhaustive()
    }
}

impl Outbound {
    /// `None` when no proxy is configured (the settings were validated at load).
    pub fn from_settings(
        settings: &crate::config::Settings,
        guard: Arc<Guard>,
    ) -> anyhow::Result<Option<Arc<Self>>> {
        let Some(config) = ProxyConfig::parse(&settings.upstream)? else {
            return Ok(None);
        };
        let timeout = Duration::from_secs_f64(settings.proxy.connect_timeout.max(0.001));
        Ok(Some(Arc::new(Outbound::new(config, guard, timeout)?)))
    }

    pub fn new(config: ProxyConfig, guard: Arc<Guard>, timeout: Duration) -> anyhow::Result<Self> {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        // HTTP/1.1 only towards the proxy: a CONNECT tunnel is an HTTP/1.1 exchange.
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Ok(Outbound {
            config,
            guard,
            connector,
            timeout,
        })
    }

    pub fn kind(&self) -> Kind {
        self.config.kind
    }

    /// Whether requests to `host` go through the proxy (the per-domain rules).
    pub fn routes(&self, host: &str) -> bool {
        self.config.rules.proxied(host)
    }

    /// A tunnel to `target` through the proxy, within the connect timeout.
    pub async fn dial(&self, target: Target) -> Result<ProxyStream, DialError> {
        tokio::time::timeout(self.timeout, self.dial_unbounded(target))
            .await
            .map_err(|_| DialError::Timeout(std::io::ErrorKind::TimedOut.into()))?
    }

    async fn dial_unbounded(&self, target: Target) -> Result<ProxyStream, DialError> {
        let (host, port) = match target {
            Target::Checked(addr) => return self.handshake(addr.to_string()).await,
            Target::Host(host, port) => (normalise(&host), port),
        };
        if self.config.kind == Kind::Socks5h {
            self.guard
                .check_unresolved(&host)
                .map_err(|e| DialError::Destination(Box::new(e)))?;
            return self.handshake(format!("{host}:{port}")).await;
        }
        let addrs = self
            .guard
            .resolve_allowed(&host)
            .await
            .map_err(DialError::Destination)?;
        let mut last = None;
        for ip in addrs.into_iter().map(|a| a.ip()) {
            match self.handshake(SocketAddr::new(ip, port).to_string()).await {
                Ok(stream) => return Ok(stream),
                Err(e) => last = Some(e),
            }
        }
        Err(last.expect("resolve_allowed returns at least one address"))
    }

    /// Asks the proxy for `authority` (`203.0.113.7:443`, `[2001:db8::1]:443`, or a name with
    /// `socks5h`). hyper-util's tunnel caps the proxy's answer at 8 KiB and accepts only 200.
    async fn handshake(&self, authority: String) -> Result<ProxyStream, DialError> {
        let dst: Uri = format!("http://{authority}")
            .parse()
            .map_err(|e| DialError::Destination(Box::new(e)))?;
        let proxy = self.config.address.clone();
        let connector = self.connector.clone();
        let credentials = self.config.credentials.as_ref();
        let result = match self.config.kind {
            Kind::Http | Kind::Https => {
                let mut tunnel = Tunnel::new(proxy, connector);
                if let Some((user, pass)) = credentials {
                    tunnel = tunnel.with_auth(basic_auth(user, pass));
                }
                tunnel
                    .oneshot(dst)
                    .await
                    .map_err(|e| Box::new(e) as BoxError)
            }
            Kind::Socks5 | Kind::Socks5h => {
                let mut socks = SocksV5::new(proxy, connector).local_dns(false);
                if let Some((user, pass)) = credentials {
                    socks = socks.with_auth(user.expose().into(), pass.expose().into());
                }
                socks
                    .oneshot(dst)
                    .await
                    .map_err(|e| Box::new(e) as BoxError)
            }
        };
        result.map_err(DialError::Proxy)
    }
}

fn basic_auth(user: &Secret, pass: &Secret) -> HeaderValue {
    let token = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        user.expose(),
        pass.expose()
    ));
    let mut value =
        HeaderValue::from_str(&format!("Basic {token}")).expect("base64 is a valid header value");
    value.set_sensitive(true);
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(proxy: &str, only: &[&str], bypass: &[&str]) -> UpstreamSettings {
        UpstreamSettings {
            proxy: Some(Secret::new(proxy)),
            proxy_only: only.iter().map(|s| s.to_string()).collect(),
            proxy_bypass: bypass.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn parse(proxy: &str) -> Result<ProxyConfig, ProxyConfigError> {
        ProxyConfig::parse(&settings(proxy, &[], &[])).map(|c| c.unwrap())
    }

    #[test]
    fn each_scheme_parses_with_its_default_port_and_credentials() {
        let c = parse("http://us%40r:p%3Ass@proxy.lan:3128").unwrap();
        assert_eq!(c.kind, Kind::Http);
        assert_eq!(c.address, "http://proxy.lan:3128");
        let (user, pass) = c.credentials.unwrap();
        assert_eq!((user.expose(), pass.expose()), ("us@r", "p:ss"));
        assert_eq!(
            parse("https://proxy.lan").unwrap().address,
            "https://proxy.lan:443"
        );
        let socks = parse("socks5://10.0.0.1").unwrap();
        assert_eq!(
            (socks.kind, socks.address.port_u16()),
            (Kind::Socks5, Some(1080))
        );
        assert_eq!(parse("socks5h://[::1]:9050").unwrap().kind, Kind::Socks5h);
        assert!(parse("socks5://h:1").unwrap().credentials.is_none());
    }

    #[test]
    fn bad_proxy_urls_are_refused_without_quoting_them() {
        for (url, err) in [
            ("ftp://user:hunter2@h:21", ProxyConfigError::Scheme),
            ("socks4://user:hunter2@h:1080", ProxyConfigError::Scheme),
            ("hunter2", ProxyConfigError::Url),
            ("http://user:hunter2@h:3128/path", ProxyConfigError::Path),
        ] {
            let e = parse(url).unwrap_err();
            assert_eq!(e, err, "{url}");
            assert!(!e.to_string().contains("hunter2"));
            assert!(!format!("{e:?}").contains("hunter2"));
        }
        let c = parse("http://user:hunter2@h:3128").unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn bypass_wins_over_only_and_only_limits_the_proxy_to_its_hosts() {
        let all = ProxyConfig::parse(&settings("http://p:1", &[], &["*.lan", "cdn.example"]))
            .unwrap()
            .unwrap();
        assert!(all.rules.proxied("api.example.org"));
        assert!(!all.rules.proxied("media.lan"));
        assert!(!all.rules.proxied("CDN.example."));
        assert!(
            all.rules.proxied("lan"),
            "*.lan names hosts under lan, not lan itself"
        );
        let only = ProxyConfig::parse(&settings(
            "http://p:1",
            &["*.example.org", "203.0.113.7"],
            &["direct.example.org"],
        ))
        .unwrap()
        .unwrap();
        assert!(only.rules.proxied("a.b.example.org"));
        assert!(only.rules.proxied("203.0.113.7"));
        assert!(!only.rules.proxied("direct.example.org"));
        assert!(!only.rules.proxied("example.com"));
        assert!(!only.rules.proxied("badexample.org"));
    }

    #[test]
    fn rules_must_be_hosts_or_domain_patterns() {
        for rule in ["http://x.org", "x.org/path", "*", "a*.org", ""] {
            let e = ProxyConfig::parse(&settings("http://p:1", &[rule], &[])).unwrap_err();
            assert!(matches!(e, ProxyConfigError::Rule(_)), "{rule}");
        }
        assert!(
            ProxyConfig::parse(&UpstreamSettings::default())
                .unwrap()
                .is_none()
        );
    }
}
