//! Fetching from the upstream: the sealed headers, the client's few forwarded headers, and
//! a manual redirect loop that checks every hop against the SSRF guard.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use url::Url;

use super::ProxyError;
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

pub struct FetchRequest<'a> {
    pub url: Url,
    pub sealed_headers: &'a [(String, String)],
    pub client_headers: &'a HeaderMap,
    pub max_redirects: u8,
    pub first_byte_timeout: Duration,
}

pub struct Fetched {
    pub response: reqwest::Response,
    /// The URL that finally answered, after redirects: relative URIs resolve against it.
    pub url: Url,
}

pub async fn fetch(
    http: &reqwest::Client,
    guard: &Guard,
    req: FetchRequest<'_>,
) -> Result<Fetched, ProxyError> {
    let mut headers = HeaderMap::new();
    for (k, v) in req.sealed_headers {
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
        for value in req.client_headers.get_all(&name) {
            headers.append(name.clone(), value.clone());
        }
    }

    let mut url = req.url;
    let mut hops = 0u8;
    loop {
        guard.check_url(&url)?;
        let send = http.get(url.clone()).headers(headers.clone()).send();
        let response = match tokio::time::timeout(req.first_byte_timeout, send).await {
            Err(_) => return Err(ProxyError::Timeout),
            Ok(Err(e)) => return Err(classify(&e, &url)),
            Ok(Ok(r)) => r,
        };
        let status = response.status();
        let location = response
            .headers()
            .get(header::LOCATION)
            .and_then(|l| l.to_str().ok());
        if status.is_redirection() && status.as_u16() != 304 {
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
        }
        return Ok(Fetched { response, url });
    }
}

fn classify(e: &reqwest::Error, url: &Url) -> ProxyError {
    if is_refusal(e) {
        return ProxyError::Destination(crate::upstream::guard::GuardError::Forbidden(
            url.host_str().unwrap_or_default().to_string(),
        ));
    }
    if e.is_timeout() {
        return ProxyError::Timeout;
    }
    // Not `%e`: reqwest's own message names the whole URL, and its query may be a credential.
    tracing::info!(host = url.host_str(), error = %root_cause(e), "upstream unreachable");
    ProxyError::Unreachable
}

/// The innermost cause of a reqwest error (connection refused, DNS…), which never names the
/// URL; the error itself when it has no cause, with its URL stripped.
fn root_cause(e: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    if std::ptr::addr_eq(cause, e) {
        return if e.is_connect() {
            "connection failed".into()
        } else if e.is_body() || e.is_decode() {
            "bad response body".into()
        } else {
            "request failed".into()
        };
    }
    cause.to_string()
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
