//! `GET /api/streaming/proxy?c=…&u=…&s=…[&v=…][&k=j]`: the HLS proxy's HTTP edge.
//!
//! Order: parse → verify the signature and expiry → SSRF guard → fetch (every redirect hop
//! checked) → rewrite a playlist or a steering/asset-list JSON, or stream anything else.

use axum::body::Body;
use axum::extract::{RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use std::net::IpAddr;
use url::Url;
use utoipa::IntoParams;

use crate::error::{ApiError, ErrorBody};
use crate::metrics::ProxyLabels;
use crate::proxy::ProxyError;
use crate::proxy::budget::{Reservation, RewriteBudget};
use crate::proxy::client::UpstreamResponse;
use crate::proxy::json::{MAX_JSON_BYTES, rewrite_json};
use crate::proxy::playlist::{RewriteContext, RewriteError};
use crate::proxy::segment::{add_common_headers, only_player_types, relay};
use crate::proxy::streamed::{self, OUTPUT_WINDOW, Owned, held};
use crate::proxy::token::{Kind, PROXY_PATH, TokenError, Verified};
use crate::proxy::upstream::{FetchRequest, fetch, with_directives, without_directives};
use crate::security::rate_limit::bucket_key;
use crate::startup::AppState;

/// The signed parameters and the player's delivery directives, from the raw query.
#[derive(Debug, Default)]
struct ProxyQuery {
    c: Option<String>,
    u: Option<String>,
    s: Option<String>,
    v: Option<String>,
    k: Option<String>,
    /// `_HLS_msn`, `_HLS_part`, `_HLS_skip`, `_HLS_report`, `_HLS_pathway`, `_HLS_throughput`:
    /// they go upstream and nowhere else.
    directives: Vec<(String, String)>,
}

fn parse_query(raw: Option<&str>) -> ProxyQuery {
    let mut q = ProxyQuery::default();
    for (k, v) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        let slot = match k.as_ref() {
            "c" => &mut q.c,
            "u" => &mut q.u,
            "s" => &mut q.s,
            "v" => &mut q.v,
            "k" => &mut q.k,
            name if name.starts_with("_HLS_") => {
                q.directives.push((name.to_string(), v.into_owned()));
                continue;
            }
            _ => continue,
        };
        // A repeated signed parameter is an attempt to confuse: keep the first, the
        // signature decides.
        if slot.is_none() {
            *slot = Some(v.into_owned());
        }
    }
    q
}

/// Keeps well-formed directives; `_HLS_report` names a rewritten (proxy) URI and is mapped
/// back to the upstream URI it stands for, or dropped.
fn upstream_directives(
    state: &AppState,
    directives: Vec<(String, String)>,
) -> Vec<(String, String)> {
    let digits = |v: &str| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit());
    directives
        .into_iter()
        .filter_map(|(k, v)| {
            let ok = match k.as_str() {
                "_HLS_msn" | "_HLS_part" => digits(&v),
                "_HLS_throughput" => {
                    !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit() || b == b'.')
                }
                "_HLS_skip" => v == "YES" || v == "v2",
                "_HLS_pathway" => {
                    !v.is_empty()
                        && v.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
                }
                "_HLS_report" => {
                    return map_report_back(state, &v).map(|up| (k, up));
                }
                _ => false,
            };
            ok.then_some((k, v))
        })
        .collect()
}

fn map_report_back(state: &AppState, report: &str) -> Option<String> {
    let base = Url::parse("http://sokoul.invalid")
        .ok()?
        .join(PROXY_PATH)
        .ok()?;
    let full = base.join(report).ok()?;
    let q = parse_query(full.query());
    let verified = state
        .signer
        .verify_kind(
            q.c.as_deref()?,
            q.u.as_deref()?,
            q.s.as_deref()?,
            q.v.as_deref(),
            q.k.as_deref(),
            state.clock.unix(),
        )
        .ok()?;
    Some(verified.upstream)
}

/// The signed parameters, for the documentation only: the handler reads the raw query.
#[derive(Debug, serde::Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SignedQuery {
    /// Sealed context (headers, expiry).
    pub c: String,
    /// The upstream URL, encrypted.
    pub u: String,
    /// Signature.
    pub s: String,
    /// Variables of a rewritten playlist (`EXT-X-DEFINE`), when any.
    pub v: Option<String>,
    /// `j` for a JSON document (content steering, interstitials).
    pub k: Option<String>,
}

/// Relay a remote source with the headers it needs.
///
/// Only the server mints these URLs (see `proxy_url` in resolve answers): each is signed and
/// expiring, and its query format is internal. Playlists come back rewritten so that every URI
/// a player fetches returns through the proxy; everything else streams through unchanged, with
/// Range support. LL-HLS delivery directives (`_HLS_msn`, `_HLS_part`, `_HLS_skip`…) are
/// passed upstream. Needs no bearer token: the signature is the authorization.
#[utoipa::path(
    get,
    path = "/api/streaming/proxy",
    operation_id = "proxy",
    tag = "proxy",
    params(SignedQuery),
    responses(
        (status = 200, description = "The upstream body: a rewritten playlist or JSON document, or the bytes unchanged", content(
            ("application/vnd.apple.mpegurl"),
            ("application/json"),
            ("application/octet-stream"),
        )),
        (status = 206, description = "A byte range of the upstream body (the request sent `Range`)"),
        (status = 304, description = "Not modified (the request sent a validator)"),
        (status = 403, description = "`proxy_url_malformed`, `proxy_url_invalid`, `proxy_url_expired`, `destination_not_allowed`, \
            or `upstream_forbidden` (the upstream answered 403: the player switches source)", body = ErrorBody),
        (status = 404, description = "`upstream_not_found`: the upstream answered 404", body = ErrorBody),
        (status = 410, description = "`upstream_gone`: the upstream answered 410", body = ErrorBody),
        (status = 416, description = "Range not satisfiable, as the upstream said"),
        (status = 502, description = "`upstream_unreachable`, `upstream_error`, `too_many_redirects`, `playlist_too_large`, \
            `upstream_invalid_json`, `upstream_body_error`", body = ErrorBody),
        (status = 503, description = "`upstream_busy`: too many requests in flight to the upstream host, or too many \
            playlists being rewritten at once (`proxy.rewrite_memory_budget`)", body = ErrorBody),
        (status = 504, description = "`upstream_timeout`", body = ErrorBody),
    ),
    security(())
)]
pub async fn proxy(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    request: Request,
) -> Response {
    // The client as the rate limit sees it: one share of a host's slots per address (/64).
    let client = bucket_key(state.security.trusted_proxies.client_ip(&request));
    match handle(&state, raw.as_deref(), request.headers(), client).await {
        Ok((kind, mut response)) => {
            count(&state, kind, response.status());
            // Relayed or rewritten, a body keeps its upstream type only if a player needs it.
            only_player_types(response.headers_mut());
            response
        }
        Err(e) => {
            let e = ApiError::from(e);
            count(&state, "error", e.status);
            let mut response = e.into_response();
            add_common_headers(response.headers_mut());
            response
        }
    }
}

fn count(state: &AppState, kind: &str, status: StatusCode) {
    state
        .metrics
        .proxy_responses
        .get_or_create(&ProxyLabels {
            kind: kind.to_string(),
            status: status.as_u16(),
        })
        .inc();
}

/// The proxy with a file name, as in rewritten playlists.
///
/// Children of a rewritten document are named after the upstream file's extension
/// (`/api/streaming/proxy/f.ts?c=…`) because some players judge a segment by its extension.
/// The name is cosmetic and unsigned; everything else is the plain proxy route.
#[utoipa::path(
    get,
    path = "/api/streaming/proxy/{name}",
    operation_id = "proxy_named",
    tag = "proxy",
    params(("name" = String, Path, description = "Cosmetic file name, ignored"), SignedQuery),
    responses(
        (status = 200, description = "As the plain proxy route", content(
            ("application/vnd.apple.mpegurl"),
            ("application/json"),
            ("application/octet-stream"),
        )),
        (status = 206, description = "A byte range of the upstream body"),
        (status = 304, description = "Not modified"),
        (status = 403, description = "As the plain proxy route", body = ErrorBody),
        (status = 404, description = "`upstream_not_found`", body = ErrorBody),
        (status = 410, description = "`upstream_gone`", body = ErrorBody),
        (status = 416, description = "Range not satisfiable"),
        (status = 502, description = "As the plain proxy route", body = ErrorBody),
        (status = 504, description = "`upstream_timeout`", body = ErrorBody),
    ),
    security(())
)]
pub async fn proxy_named(state: State<AppState>, raw: RawQuery, request: Request) -> Response {
    proxy(state, raw, request).await
}

/// CORS preflight of the proxy: a player on another origin may send `Range`.
#[utoipa::path(
    options,
    path = "/api/streaming/proxy",
    operation_id = "proxy_preflight",
    tag = "proxy",
    responses((status = 204, description = "Allowed methods and headers")),
    security(())
)]
pub async fn preflight() -> Response {
    preflight_response()
}

/// CORS preflight of the named proxy route.
#[utoipa::path(
    options,
    path = "/api/streaming/proxy/{name}",
    operation_id = "proxy_named_preflight",
    tag = "proxy",
    params(("name" = String, Path, description = "Cosmetic file name, ignored")),
    responses((status = 204, description = "Allowed methods and headers")),
    security(())
)]
pub async fn preflight_named() -> Response {
    preflight_response()
}

fn preflight_response() -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let h = response.headers_mut();
    add_common_headers(h);
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, HEAD, OPTIONS"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("Range, If-Range, If-None-Match, If-Modified-Since"),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    response
}

async fn handle(
    state: &AppState,
    raw: Option<&str>,
    client_headers: &HeaderMap,
    client: IpAddr,
) -> Result<(&'static str, Response), ProxyError> {
    let q = parse_query(raw);
    let (Some(c), Some(u), Some(s)) = (&q.c, &q.u, &q.s) else {
        return Err(TokenError::Malformed.into());
    };
    let verified: Verified =
        state
            .signer
            .verify_kind(c, u, s, q.v.as_deref(), q.k.as_deref(), state.clock.unix())?;
    let upstream = Url::parse(&verified.upstream).map_err(|_| TokenError::Malformed)?;
    let directives = upstream_directives(state, q.directives);
    let settings = &state.settings.proxy;
    let fetched = fetch(
        &state.proxy_http,
        &state.guard,
        &state.metrics,
        FetchRequest {
            url: with_directives(&upstream, &directives),
            provider: verified.context.provider.as_deref(),
            client,
            sealed_headers: &verified.context.headers,
            client_headers,
            max_redirects: settings.max_redirects,
            first_byte_timeout: secs(settings.first_byte_timeout),
            retries: settings.retries,
        },
    )
    .await?;
    let mut response = fetched.response;
    let status = response.status().as_u16();
    if !(200..300).contains(&status) && status != 304 && status != 416 {
        tracing::info!(host = fetched.url.host_str(), status, "upstream refused");
        return Err(ProxyError::Status(status));
    }
    // We never send Accept-Encoding: a compressed answer is one the player could not use
    // (the relayed headers never include Content-Encoding) and that we will not inflate.
    if let Some(encoding) = response
        .headers()
        .get(header::CONTENT_ENCODING)
        .filter(|v| !v.as_bytes().eq_ignore_ascii_case(b"identity"))
    {
        tracing::info!(
            host = fetched.url.host_str(),
            encoding = ?encoding,
            "upstream answered in an encoding nobody asked for"
        );
        return Err(ProxyError::Encoding);
    }
    let idle = secs(settings.idle_timeout);
    let max = settings.max_playlist_bytes;
    // A document (playlist, steering JSON) is read whole before anything is sent: besides
    // the idle timeout between chunks, the whole read has a deadline, or an upstream sending
    // one byte at a time would hold the request for days.
    let doc_deadline = secs(settings.first_byte_timeout);
    let base = without_directives(&fetched.url);
    let ctx = |imported| RewriteContext {
        signer: &state.signer,
        sealed: &verified.sealed,
        base: &base,
        imported,
        max_output: usize::try_from(settings.max_rewritten_bytes).unwrap_or(usize::MAX),
    };

    // A playlist asked for with a Range (ffmpeg sends `bytes=0-`) is still rewritten, whole:
    // a partial playlist cannot be rewritten, and ignoring a Range is always allowed.
    let starts_at_zero = status == 206
        && response
            .headers()
            .get(header::CONTENT_RANGE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("bytes 0-"));
    let whole = status == 200 || (starts_at_zero && complete_range(&response));

    if status != 200 && status != 206 {
        // 204, 304, 416…: nothing to rewrite.
        return Ok((
            "segment",
            relay(response, None, idle, state.metrics.clone()),
        ));
    }
    if verified.kind == Kind::Json {
        if !whole {
            response = refetch_whole(state, &verified, &fetched.url, client).await?;
        }
        let max = max.min(MAX_JSON_BYTES);
        let mut reserve = Reserve::new(&state.rewrite_budget, secs(settings.first_byte_timeout));
        let body = read_bounded(
            &mut response,
            BytesMut::new(),
            max,
            idle,
            doc_deadline,
            &mut reserve,
        )
        .await?;
        let ctx = ctx(None);
        let out = rewrite_json(&body, ctx).map_err(|_| ProxyError::InvalidJson)?;
        if out.len() > ctx.max_output {
            return Err(RewriteError::OutputTooLarge(ctx.max_output).into());
        }
        drop(body);
        // Documents of at most 1 MiB: rewritten whole, then held within the budget until sent.
        reserve.to(out.capacity() as u64).await?;
        let out = Body::from(held(out, reserve.held));
        return Ok(("json", document(out, "application/json", &response)));
    }

    // Sniff the first bytes: an extension or a wrong Content-Type proves nothing. A range
    // that does not start at 0 cannot be sniffed; a declared playlist is refetched whole.
    let declared = declared_playlist(&response);
    let sniffable =
        (status == 200 || starts_at_zero) && response.content_length().is_none_or(|n| n >= 7);
    let mut head = BytesMut::new();
    let is_playlist = declared
        || (sniffable
            && loop {
                match sniff(&head) {
                    Sniff::Playlist => break true,
                    Sniff::Other => break false,
                    Sniff::NeedMore => {}
                }
                match next_chunk(&mut response, idle).await? {
                    Some(chunk) => head.extend_from_slice(&chunk),
                    None => break matches!(sniff(&head), Sniff::Playlist),
                }
            });
    if !is_playlist {
        let first = (!head.is_empty()).then(|| head.freeze());
        return Ok((
            "segment",
            relay(response, first, idle, state.metrics.clone()),
        ));
    }
    if !whole {
        response = refetch_whole(state, &verified, &fetched.url, client).await?;
        head.clear();
    }
    let mut reserve = Reserve::new(&state.rewrite_budget, secs(settings.first_byte_timeout));
    let body = read_bounded(&mut response, head, max, idle, doc_deadline, &mut reserve).await?;
    let owned = Owned {
        signer: state.signer.clone(),
        sealed: verified.sealed.clone(),
        base,
        imported: verified.vars.clone(),
        max_output: usize::try_from(settings.max_rewritten_bytes).unwrap_or(usize::MAX),
    };
    let out = streamed::rewrite(owned, body, reserve.held, idle)
        .await
        .inspect_err(|e| {
            tracing::info!(host = fetched.url.host_str(), error = %e, "playlist not rewritten");
        })?;
    state.metrics.proxy_bytes.inc_by(out.len);
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|t| t.to_ascii_lowercase().contains("mpegurl"))
        .unwrap_or("application/vnd.apple.mpegurl")
        .to_string();
    let mut doc = document(out.body, &content_type, &response);
    doc.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(out.len));
    Ok(("playlist", doc))
}

fn declared_playlist(response: &UpstreamResponse) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.to_ascii_lowercase().contains("mpegurl"))
}

/// Whether a 206's `Content-Range: bytes 0-E/T` covers the whole resource.
fn complete_range(response: &UpstreamResponse) -> bool {
    let Some(v) = response
        .headers()
        .get(header::CONTENT_RANGE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some((range, total)) = v.strip_prefix("bytes 0-").and_then(|r| r.split_once('/')) else {
        return false;
    };
    matches!((range.parse::<u64>(), total.parse::<u64>()), (Ok(end), Ok(total)) if end + 1 == total)
}

/// Fetches the final URL again without the client's Range and validators.
async fn refetch_whole(
    state: &AppState,
    verified: &Verified,
    url: &Url,
    client: IpAddr,
) -> Result<UpstreamResponse, ProxyError> {
    let settings = &state.settings.proxy;
    let fetched = fetch(
        &state.proxy_http,
        &state.guard,
        &state.metrics,
        FetchRequest {
            url: url.clone(),
            provider: verified.context.provider.as_deref(),
            client,
            sealed_headers: &verified.context.headers,
            client_headers: &HeaderMap::new(),
            max_redirects: settings.max_redirects,
            first_byte_timeout: secs(settings.first_byte_timeout),
            retries: settings.retries,
        },
    )
    .await?;
    let status = fetched.response.status().as_u16();
    if status != 200 {
        return Err(ProxyError::Status(status));
    }
    Ok(fetched.response)
}

fn secs(s: f64) -> std::time::Duration {
    std::time::Duration::from_secs_f64(s.max(0.001))
}

enum Sniff {
    Playlist,
    Other,
    NeedMore,
}

/// `#EXTM3U` after an optional BOM and blank lines (some playlists start with a newline).
fn sniff(head: &[u8]) -> Sniff {
    const MAGIC: &[u8] = b"#EXTM3U";
    let rest = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    if head.len() < 3 && b"\xEF\xBB\xBF".starts_with(head) {
        return Sniff::NeedMore;
    }
    let start = rest
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        .unwrap_or(rest.len());
    if start > 64 {
        return Sniff::Other;
    }
    let rest = &rest[start..];
    if rest.len() >= MAGIC.len() {
        if rest.starts_with(MAGIC) {
            Sniff::Playlist
        } else {
            Sniff::Other
        }
    } else if MAGIC.starts_with(rest) {
        Sniff::NeedMore
    } else {
        Sniff::Other
    }
}

async fn next_chunk(
    response: &mut UpstreamResponse,
    idle: std::time::Duration,
) -> Result<Option<Bytes>, ProxyError> {
    match tokio::time::timeout(idle, response.chunk()).await {
        Err(_) => Err(ProxyError::Timeout),
        Ok(Err(_)) => Err(ProxyError::Body),
        Ok(Ok(chunk)) => Ok(chunk),
    }
}

/// A document's share of the rewrite memory budget, grown as the document is read: what it
/// holds (its buffer's capacity) and [`OUTPUT_WINDOW`] for its output in flight.
struct Reserve<'a> {
    budget: &'a RewriteBudget,
    held: Reservation,
    /// Every wait for the budget ends by then.
    deadline: tokio::time::Instant,
}

impl<'a> Reserve<'a> {
    fn new(budget: &'a RewriteBudget, wait: std::time::Duration) -> Self {
        Reserve {
            budget,
            held: budget.none(),
            deadline: tokio::time::Instant::now() + wait,
        }
    }

    async fn to(&mut self, bytes: u64) -> Result<(), ProxyError> {
        let wait = self
            .deadline
            .saturating_duration_since(tokio::time::Instant::now());
        self.budget
            .grow(&mut self.held, bytes + OUTPUT_WINDOW as u64, wait)
            .await
            .map_err(|_| {
                tracing::info!(bytes, "rewrite memory budget exhausted");
                ProxyError::RewriteBusy
            })
    }
}

/// Reads the rest of a document, refusing more than `max` bytes (an upstream cannot make the
/// proxy buffer an unbounded answer) or taking longer than `total` (time spent waiting for
/// the budget aside: that wait has its own deadline). The buffer grows only within `reserve`.
async fn read_bounded(
    response: &mut UpstreamResponse,
    mut buf: BytesMut,
    max: u64,
    idle: std::time::Duration,
    total: std::time::Duration,
    reserve: &mut Reserve<'_>,
) -> Result<Bytes, ProxyError> {
    if let Some(n) = response.content_length() {
        if n > max {
            return Err(ProxyError::PlaylistTooLarge(max));
        }
        let n = n.max(buf.len() as u64);
        reserve.to(n).await?;
        buf.reserve(n as usize - buf.len());
    } else {
        reserve.to(buf.capacity() as u64).await?;
    }
    let mut deadline = tokio::time::Instant::now() + total;
    loop {
        let chunk = match tokio::time::timeout_at(deadline, next_chunk(response, idle)).await {
            Err(_) => return Err(ProxyError::Timeout),
            Ok(chunk) => chunk?,
        };
        let Some(chunk) = chunk else {
            return Ok(buf.freeze());
        };
        let need = buf.len() + chunk.len();
        if need as u64 > max {
            return Err(ProxyError::PlaylistTooLarge(max));
        }
        if need > buf.capacity() {
            // What the buffer grows to (it doubles), reserved before it is allocated.
            let grown = need.max(2 * buf.capacity()).min(max as usize);
            let waited = tokio::time::Instant::now();
            reserve.to(grown as u64).await?;
            deadline += waited.elapsed();
            buf.reserve(grown - buf.len());
        }
        buf.extend_from_slice(&chunk);
    }
}

/// A rewritten document: its own type, the upstream's caching headers.
fn document(body: Body, content_type: &str, upstream: &UpstreamResponse) -> Response {
    let mut response = Response::new(body);
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    for name in [header::CACHE_CONTROL, header::EXPIRES] {
        if let Some(v) = upstream.headers().get(&name) {
            h.insert(name, v.clone());
        }
    }
    add_common_headers(h);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn playlists_are_recognised_by_their_first_bytes() {
        for head in [
            &b"#EXTM3U\n"[..],
            b"\xEF\xBB\xBF#EXTM3U",
            b"\n\r\n#EXTM3U\n#EXT",
        ] {
            assert!(matches!(sniff(head), Sniff::Playlist), "{head:?}");
        }
        for head in [
            &b"\x47\x40\x11"[..],
            b"\0\0\0\x18ftyp",
            b"#EXTINF",
            b"<html>",
            b"\xEF\xBB\xBFx",
        ] {
            assert!(matches!(sniff(head), Sniff::Other), "{head:?}");
        }
        for head in [&b""[..], b"\xEF", b"\xEF\xBB\xBF", b"#EXT", b"\n\n"] {
            assert!(matches!(sniff(head), Sniff::NeedMore), "{head:?}");
        }
    }

    #[test]
    fn the_query_keeps_the_first_signed_value_and_collects_directives() {
        let q = parse_query(Some("c=a&u=b&s=c&u=evil&_HLS_msn=3&_HLS_part=1&x=y"));
        assert_eq!(q.u.as_deref(), Some("b"));
        assert_eq!(q.directives.len(), 2);
    }
}
