//! Fetching from the upstream: the sealed headers, the client's few forwarded headers, and
//! a manual redirect loop that checks every hop against the SSRF guard, and retries of
//! failures that happened before any byte was relayed.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use url::Url;

use tokio::time::Instant;

use super::ProxyError;
use super::client::{ProxyClient, SendError, UpstreamResponse};
use crate::metrics::Metrics;
use crate::upstream::guard::{Guard, is_refusal};

/// Client request headers that go upstream: ranges and validators, nothing that identifies
/// the client (cookies, origin, user agent).
pub const FORWARDED_REQUEST_HEADERS: [HeaderName; 4] = [
    header::RANGE,
    header::IF_RANGE,
    header::IF_NONE_MATCH,
    header::IF_MODIFIED_SINCE,
];

/// Sealed headers that would corrupt the request framing or fight the client's own.
fn is_reserved(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "host"
            | "content-length"
            | "transfer-encoding"
            | "connection"
            | "keep-alive"
            | "te"
            | "trailer"
            | "upgrade"
            | "proxy-connection"
            | "proxy-authorization"
            | "expect"
            | "range"
            | "if-range"
            | "if-none-match"
            | "if-modified-since"
            | "accept-encoding"
    )
}

#[derive(Debug)]
pub struct FetchRequest<'a> {
    pub url: Url,
    /// The provider the proxy URL was minted for: its configured host is reachable.
    pub provider: Option<&'a str>,
    /// Who asks (as the rate limit sees it): one client gets a share of a host's slots.
    pub client: std::net::IpAddr,
    pub sealed_headers: &'a [(String, String)],
    pub client_headers: &'a HeaderMap,
    pub max_redirects: u8,
    /// The whole fetch (slot wait, redirects, retries) ends by then with `Timeout`.
    pub first_byte_timeout: Duration,
    /// Extra attempts after a failure before any byte came back.
    pub retries: u8,
}

#[derive(Debug)]
pub struct Fetched {
    pub response: UpstreamResponse,
    /// The URL that finally answered, after redirects: relative URIs resolve against it.
    pub url: Url,
}

pub async fn fetch(
    http: &ProxyClient,
    guard: &Guard,
    metrics: &Metrics,
    req: FetchRequest<'_>,
) -> Result<Fetched, ProxyError> {
    let headers = upstream_headers(req.sealed_headers, req.client_headers);
    let deadline = Instant::now() + req.first_byte_timeout;
    let mut url = req.url;
    let mut hops = 0u8;
    let mut attempt = 0u8;
    loop {
        guard.check_url_for(&url, req.provider)?;
        let sent = http.get(&url, &headers, req.client, deadline);
        let failure = match tokio::time::timeout_at(deadline, sent).await {
            Err(_) => return Err(ProxyError::Timeout),
            Ok(Err(e @ SendError::Busy(_))) => {
                tracing::info!(error = %e, "upstream host at its concurrency limit");
                return Err(ProxyError::Busy(e));
            }
            Ok(Err(e @ SendError::Url(_))) => {
                tracing::info!(error = %e, "upstream URL cannot be sent");
                return Err(ProxyError::Unreachable(e));
            }
            Ok(Err(SendError::Client(e))) => classify(e, &url),
            Ok(Ok(response)) => {
                let status = response.status();
                if matches!(status.as_u16(), 502..=504) {
                    ProxyError::Status(status.as_u16())
                } else if status.is_redirection() && status.as_u16() != 304 {
                    let location = response
                        .headers()
                        .get(header::LOCATION)
                        .and_then(|l| l.to_str().ok());
                    let Some(next) = location.and_then(|l| url.join(l).ok()) else {
                        return Err(ProxyError::Status(status.as_u16()));
                    };
                    hops += 1;
                    if hops > req.max_redirects {
                        return Err(ProxyError::TooManyRedirects(req.max_redirects));
                    }
                    tracing::debug!(
                        from = url.host_str(),
                        to = next.host_str(),
                        "following an upstream redirect"
                    );
                    url = next;
                    continue;
                } else {
                    return Ok(Fetched { response, url });
                }
            }
        };
        // Only failures that happened before any byte was relayed reach here; a GET is
        // idempotent, so trying again is safe — but never past the client's deadline.
        let retryable = matches!(
            failure,
            ProxyError::Unreachable(_) | ProxyError::Status(502..=504)
        );
        let pause = backoff(attempt);
        if !retryable || attempt >= req.retries || Instant::now() + pause >= deadline {
            return Err(failure);
        }
        attempt += 1;
        metrics.proxy_retries.inc();
        tracing::debug!(host = url.host_str(), attempt, error = %failure, "retrying the upstream");
        tokio::time::sleep(pause).await;
    }
}

/// The sealed headers (but those that would corrupt the framing or fight the client's own),
/// then the client's ranges and validators.
fn upstream_headers(sealed: &[(String, String)], client: &HeaderMap) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (k, v) in sealed {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) else {
            continue;
        };
        if !is_reserved(&name) {
            headers.append(name, value);
        }
    }
    for name in FORWARDED_REQUEST_HEADERS {
        for value in client.get_all(&name) {
            headers.append(name.clone(), value.clone());
        }
    }
    headers
}

/// 100 ms, 200 ms, 400 ms… with ±50 % jitter so retries from many viewers do not line up.
fn backoff(attempt: u8) -> Duration {
    let base = 100u64 << attempt.min(6);
    let jitter = rand::random::<u64>() % base;
    Duration::from_millis(base / 2 + jitter)
}

fn classify(e: hyper_util::client::legacy::Error, url: &Url) -> ProxyError {
    if is_refusal(&e) {
        return ProxyError::Destination(crate::upstream::guard::GuardError::Forbidden(
            url.host_str().unwrap_or_default().to_string(),
        ));
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::TimedOut
        {
            return ProxyError::Timeout;
        }
        source = err.source();
    }
    // hyper-util's errors never name the URL (whose query may be a credential): `%e` is safe.
    tracing::info!(host = url.host_str(), error = %e, "upstream unreachable");
    ProxyError::Unreachable(SendError::Client(e))
}

/// Adds the LL-HLS and steering directives the player put on the proxy URL to the upstream
/// URL, without re-encoding the upstream's own query.
pub fn with_directives(url: &Url, directives: &[(String, String)]) -> Url {
    if directives.is_empty() {
        return url.clone();
    }
    let mut s = url.as_str().to_string();
    if let Some(i) = s.find('#') {
        s.truncate(i);
    }
    let mut sep = if url.query().is_some() { '&' } else { '?' };
    for (k, v) in directives {
        s.push(sep);
        sep = '&';
        s.push_str(k);
        s.push('=');
        s.extend(url::form_urlencoded::byte_serialize(v.as_bytes()));
    }
    Url::parse(&s).unwrap_or_else(|_| url.clone())
}

/// The URL children resolve against: the directives never leak into child URLs.
pub fn without_directives(url: &Url) -> Url {
    let Some(q) = url.query() else {
        return url.clone();
    };
    if !q.contains("_HLS_") {
        return url.clone();
    }
    let kept: Vec<&str> = q.split('&').filter(|p| !p.starts_with("_HLS_")).collect();
    let joined = kept.join("&");
    let mut out = url.clone();
    out.set_query((!joined.is_empty()).then_some(joined.as_str()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives_are_appended_and_stripped_without_touching_the_rest() {
        let u = Url::parse("https://cdn.example/live/i.m3u8?tok=a%2Fb+c").unwrap();
        let d = with_directives(
            &u,
            &[
                ("_HLS_msn".into(), "12".into()),
                ("_HLS_skip".into(), "YES".into()),
            ],
        );
        assert_eq!(
            d.as_str(),
            "https://cdn.example/live/i.m3u8?tok=a%2Fb+c&_HLS_msn=12&_HLS_skip=YES"
        );
        assert_eq!(without_directives(&d), u);
        let bare = Url::parse("https://cdn.example/i.m3u8").unwrap();
        let d = with_directives(&bare, &[("_HLS_part".into(), "1".into())]);
        assert_eq!(d.as_str(), "https://cdn.example/i.m3u8?_HLS_part=1");
        assert_eq!(without_directives(&d), bare);
    }
}
