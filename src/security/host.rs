//! Which `Host` the server answers to, and which state changes it accepts from a browser.
//!
//! DNS rebinding: a page on `http://rebind.attacker.example:8080` whose name the attacker
//! re-points at 127.0.0.1 reaches a loopback-bound server as "same origin" and reads its
//! answers. Its requests still carry `Host: rebind.attacker.example:8080`, so only known
//! names are answered (421 `host_not_allowed` otherwise):
//! - any IP address: an origin that is an address cannot be re-pointed, so a page on it is
//!   either ours or on another machine (whose requests never reach us with that `Host`);
//! - `localhost` and `*.localhost`: browsers resolve them to loopback themselves (RFC 6761);
//! - the names in `security.allowed_hosts` (`name` for any port, `name:port` for one), or
//!   `*` for any (a front end that checks names itself).
//!
//! The port is not compared for the built-in names: behind a port mapping (`docker -p 9000:8080`,
//! Vite's dev proxy) the browser's port is not ours, and the port cannot be rebound anyway.
//!
//! Cross-site requests (CSRF): a page elsewhere can make the browser send a `POST` with a
//! `text/plain` body (no CORS preflight) and, without an API token, start a scan. State
//! changes are refused (403 `cross_site_request`) when the browser says they come from another
//! site, as Go's `http.CrossOriginProtection` does: `Sec-Fetch-Site` when sent (every current
//! browser), else an `Origin` that does not name the request's own `Host`. `same-site` is
//! refused too: a sibling subdomain or another port on the same machine is another
//! application. A request with neither header is not from a browser, and is let through.

use std::net::IpAddr;

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::startup::AppState;

/// One `security.allowed_hosts` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    Any,
    /// A lowercase name, and the port it must come with (any when `None`).
    Name(String, Option<u16>),
}

impl HostPattern {
    pub fn parse(entry: &str) -> Option<Self> {
        let entry = entry.trim();
        if entry == "*" {
            return Some(HostPattern::Any);
        }
        let (name, port) = split_host(entry)?;
        let valid = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
        valid.then_some(HostPattern::Name(name, port))
    }
}

/// `name[:port]` (or `[v6]:port`) → lowercase name without a trailing dot, and the port.
/// `None` when the port is not a number.
fn split_host(authority: &str) -> Option<(String, Option<u16>)> {
    let (name, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (v6, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return None,
        };
        (v6, port)
    } else {
        match authority.rsplit_once(':') {
            // Two colons and no brackets: a bare IPv6 address.
            Some((name, _)) if name.contains(':') => (authority, None),
            Some((name, port)) => (name, Some(port)),
            None => (authority, None),
        }
    };
    let port = match port {
        Some(p) => Some(p.parse::<u16>().ok()?),
        None => None,
    };
    Some((name.trim_end_matches('.').to_ascii_lowercase(), port))
}

#[derive(Debug, Clone, Default)]
pub struct AllowedHosts(Vec<HostPattern>);

impl AllowedHosts {
    /// Entries were validated with the settings.
    pub fn from_settings(entries: &[String]) -> Self {
        AllowedHosts(
            entries
                .iter()
                .filter_map(|e| HostPattern::parse(e))
                .collect(),
        )
    }

    /// Whether the server answers to `authority` (a `Host` header's value).
    pub fn allows(&self, authority: &str) -> bool {
        let Some((name, port)) = split_host(authority.trim()) else {
            return false;
        };
        if name.parse::<IpAddr>().is_ok() || name == "localhost" || name.ends_with(".localhost") {
            return true;
        }
        self.0.iter().any(|p| match p {
            HostPattern::Any => true,
            HostPattern::Name(n, want) => *n == name && (want.is_none() || *want == port),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

pub async fn check_host_and_origin(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    // HTTP/2 carries the authority in the URI; HTTP/1.1 in `Host` (always sent by browsers).
    let authority = request.uri().authority().map(|a| a.as_str()).or_else(|| {
        request
            .headers()
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
    });
    if let Some(authority) = authority
        && !state.security.allowed_hosts.allows(authority)
    {
        return ApiError::new(
            StatusCode::MISDIRECTED_REQUEST,
            "host_not_allowed",
            "this server does not answer to that host name: add it to SOKOUL_ALLOWED_HOSTS",
        )
        .into_response();
    }
    if !is_safe(request.method()) && is_cross_site(&request, authority) {
        return ApiError::forbidden(
            "cross_site_request",
            "state-changing requests from another site are refused",
        )
        .into_response();
    }
    next.run(request).await
}

fn is_safe(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

fn is_cross_site<B>(request: &axum::http::Request<B>, authority: Option<&str>) -> bool {
    let headers = request.headers();
    if let Some(site) = headers.get("sec-fetch-site") {
        // `none`: typed in the address bar or a bookmark, the user's own doing.
        return !matches!(site.as_bytes(), b"same-origin" | b"none");
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return false;
    };
    // "null" (a sandboxed frame, a redirect across origins) names no one we can trust.
    let Some(origin_authority) = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .map(|(_, rest)| rest)
    else {
        return true;
    };
    !authority.is_some_and(|a| a.eq_ignore_ascii_case(origin_authority))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(entries: &[&str]) -> AllowedHosts {
        AllowedHosts::from_settings(&entries.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn addresses_and_localhost_are_always_answered() {
        let none = allowed(&[]);
        for host in [
            "127.0.0.1:8080",
            "127.0.0.1",
            "[::1]:8080",
            "::1",
            "192.168.1.20:8080",
            "localhost:5173",
            "LOCALHOST",
            "app.localhost:8080",
            "localhost.:8080",
        ] {
            assert!(none.allows(host), "{host}");
        }
        for host in [
            "rebind.attacker.example:8080",
            "localhost.attacker.example",
            "127.0.0.1.nip.io",
            "nas.lan",
            "127.0.0.1:notaport",
            "",
        ] {
            assert!(!none.allows(host), "{host}");
        }
    }

    #[test]
    fn listed_names_are_answered_on_their_port() {
        let some = allowed(&["Sokoul.Example.org", "nas.lan:8080"]);
        assert!(some.allows("sokoul.example.org"));
        assert!(some.allows("sokoul.example.org:443"));
        assert!(some.allows("nas.lan:8080"));
        assert!(!some.allows("nas.lan:9090"));
        assert!(!some.allows("evil.example.org"));
        assert!(allowed(&["*"]).allows("anything.example"));
    }

    #[test]
    fn entries_must_be_host_names() {
        for good in ["*", "nas.lan", "nas.lan:8080", "my_host"] {
            assert!(HostPattern::parse(good).is_some(), "{good}");
        }
        for bad in ["http://nas.lan", "nas.lan/path", "nas.lan:port", "", "a b"] {
            assert!(HostPattern::parse(bad).is_none(), "{bad}");
        }
    }

    fn post(headers: &[(&str, &str)]) -> axum::http::Request<()> {
        let mut b = axum::http::Request::post("/api/library/scan");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap()
    }

    #[test]
    fn the_browser_says_where_a_request_comes_from() {
        let host = Some("127.0.0.1:8080");
        let cross = |h: &[(&str, &str)]| is_cross_site(&post(h), host);
        assert!(!cross(&[]), "not a browser");
        assert!(!cross(&[("sec-fetch-site", "same-origin")]));
        assert!(!cross(&[("sec-fetch-site", "none")]));
        assert!(cross(&[("sec-fetch-site", "cross-site")]));
        assert!(cross(&[("sec-fetch-site", "same-site")]));
        // Sec-Fetch-Site wins over Origin.
        assert!(cross(&[
            ("sec-fetch-site", "cross-site"),
            ("origin", "http://127.0.0.1:8080")
        ]));
        // Older browsers: the Origin must name this host.
        assert!(!cross(&[("origin", "http://127.0.0.1:8080")]));
        assert!(cross(&[("origin", "http://evil.example")]));
        assert!(cross(&[("origin", "http://127.0.0.1:9090")]));
        assert!(cross(&[("origin", "null")]));
    }
}
