//! The proxy's responses. A body that is not rewritten is relayed: streamed chunk by chunk
//! with backpressure, never buffered whole, with an idle timeout between chunks. Dropping the
//! response (the client went away) drops the upstream response, which closes the upstream
//! connection. A rewritten document gets its own type and the upstream's caching headers.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use tokio::time::{Instant, Sleep};

use super::client::UpstreamResponse;
use super::edge::resume::DirectResume;
use super::relay::Document;
use crate::metrics::Metrics;

/// Upstream response headers a player may need; everything else (cookies, server
/// fingerprints, the upstream's own CORS policy) stays behind.
pub const RELAYED_RESPONSE_HEADERS: [HeaderName; 8] = [
    header::CONTENT_TYPE,
    header::CONTENT_LENGTH,
    header::CONTENT_RANGE,
    header::ACCEPT_RANGES,
    header::ETAG,
    header::LAST_MODIFIED,
    header::CACHE_CONTROL,
    header::EXPIRES,
];

/// Headers on every proxy response: open CORS (the URL is the capability, not the origin),
/// and no way for upstream content to run as a page of Sokoul's origin.
const COMMON_HEADERS: [(HeaderName, &str); 4] = [
    (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
    (
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        "Content-Length, Content-Range, Accept-Ranges",
    ),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; sandbox",
    ),
];

pub fn add_common_headers(headers: &mut HeaderMap) {
    insert_static(headers, COMMON_HEADERS);
}

/// Sets each header of `pairs` to its fixed value.
pub fn insert_static<const N: usize>(
    headers: &mut HeaderMap,
    pairs: [(HeaderName, &'static str); N],
) {
    for (name, value) in pairs {
        headers.insert(name, HeaderValue::from_static(value));
    }
}

/// The content types a player needs from the proxy: HLS playlists, media segments and init
/// sections, text subtitles, JSON (content steering, asset lists), still images (image
/// playlists, thumbnails), and raw bytes (keys). Nothing a browser would run: the proxy
/// relays provider content on Sokoul's own origin, and a relayed `application/javascript`
/// would pass the dashboard's `script-src`.
const PLAYER_TYPES: &[&str] = &[
    "application/vnd.apple.mpegurl",
    "application/x-mpegurl",
    "audio/mpegurl",
    "audio/x-mpegurl",
    "video/mp2t",
    "video/mp4",
    "audio/mp4",
    "application/mp4",
    "video/iso.segment",
    "audio/aac",
    "audio/mpeg",
    "audio/ac3",
    "audio/eac3",
    "audio/flac",
    "audio/ogg",
    "audio/opus",
    "video/webm",
    "audio/webm",
    "video/x-matroska",
    "video/quicktime",
    "text/vtt",
    "text/plain",
    "application/x-subrip",
    "text/srt",
    "text/x-ssa",
    "text/x-ass",
    "application/ttml+xml",
    "application/json",
    "image/jpeg",
    "image/png",
    "image/webp",
    "application/octet-stream",
];

/// Replaces a relayed `Content-Type` the player does not need (or a missing one) with
/// `application/octet-stream`, which no browser runs or renders, `nosniff` being set.
pub fn only_player_types(headers: &mut HeaderMap) {
    let allowed = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().trim())
        .is_some_and(|essence| PLAYER_TYPES.iter().any(|t| t.eq_ignore_ascii_case(essence)));
    if !allowed {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
    }
}

pub fn copy_allowed(from: &HeaderMap, to: &mut HeaderMap, names: &[HeaderName]) {
    for name in names {
        if let Some(v) = from.get(name) {
            to.insert(name.clone(), v.clone());
        }
    }
}

/// The upstream body as a stream that times out when idle and keeps the metrics.
#[derive(Debug)]
pub struct RelayBody<S> {
    inner: S,
    first: Option<Bytes>,
    idle: Duration,
    last_chunk: Instant,
    timer: Pin<Box<Sleep>>,
    relayed: u64,
    /// Whether the bytes come over this response's own upstream connection (they are then
    /// upstream bytes too), not from the edge.
    direct: bool,
    metrics: Arc<Metrics>,
}

impl<S> RelayBody<S> {
    pub fn new(inner: S, first: Option<Bytes>, idle: Duration, metrics: Arc<Metrics>) -> Self {
        metrics.proxy_active.inc();
        let now = Instant::now();
        RelayBody {
            inner,
            first,
            idle,
            last_chunk: now,
            timer: Box::pin(tokio::time::sleep_until(now + idle)),
            relayed: 0,
            direct: false,
            metrics,
        }
    }
}

impl<S> Drop for RelayBody<S> {
    fn drop(&mut self) {
        self.metrics.proxy_active.dec();
        self.metrics.proxy_bytes.inc_by(self.relayed);
        if self.direct {
            self.metrics.edge.upstream_bytes.inc_by(self.relayed);
        }
    }
}

impl<S, E> Stream for RelayBody<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::error::Error + Send + Sync + 'static,
{
    type Item = std::io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Some(first) = this.first.take() {
            this.relayed += first.len() as u64;
            return Poll::Ready(Some(Ok(first)));
        }
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                // The timer is only moved when it fires: resetting it on every chunk would
                // cost a timer-wheel update per 16 KiB.
                this.last_chunk = Instant::now();
                this.relayed += chunk.len() as u64;
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(std::io::Error::other(e)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => loop {
                match this.timer.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(()) => {
                        let deadline = this.last_chunk + this.idle;
                        if Instant::now() >= deadline {
                            return Poll::Ready(Some(Err(std::io::Error::new(
                                std::io::ErrorKind::TimedOut,
                                "the upstream body stalled",
                            ))));
                        }
                        this.timer.as_mut().reset(deadline);
                    }
                }
            },
        }
    }
}

/// Streams an upstream response through, with its allowlisted headers.
pub fn relay(
    response: UpstreamResponse,
    first: Option<Bytes>,
    idle: Duration,
    metrics: Arc<Metrics>,
    resume: Option<Box<DirectResume>>,
) -> Response {
    let status = StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::OK);
    let mut headers = HeaderMap::new();
    copy_allowed(response.headers(), &mut headers, &RELAYED_RESPONSE_HEADERS);
    add_common_headers(&mut headers);
    let direct = response.is_direct();
    let got = first.as_ref().map_or(0, |f| f.len() as u64);
    let stream = match resume {
        Some(resume) => resume.wrap(got, response.into_stream()),
        None => response.into_stream().boxed(),
    };
    let mut body = RelayBody::new(stream, first, idle, metrics);
    body.direct = direct;
    let mut out = Response::new(Body::from_stream(body));
    *out.status_mut() = status;
    *out.headers_mut() = headers;
    out
}

/// A rewritten document: its own type and length, the upstream's caching headers.
pub fn document(doc: Document) -> Response {
    let mut response = Response::new(doc.body);
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&doc.content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    h.extend(doc.caching);
    add_common_headers(h);
    if let Some(len) = doc.len {
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(value: Option<&str>) -> Option<String> {
        let mut h = HeaderMap::new();
        if let Some(v) = value {
            h.insert(header::CONTENT_TYPE, HeaderValue::from_str(v).unwrap());
        }
        only_player_types(&mut h);
        h.get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_string())
    }

    #[test]
    fn only_the_types_a_player_needs_are_relayed() {
        for kept in [
            "video/MP2T",
            "application/vnd.apple.mpegurl; charset=utf-8",
            "video/mp4",
            "text/vtt",
            "application/json",
            "application/octet-stream",
        ] {
            assert_eq!(typed(Some(kept)).as_deref(), Some(kept));
        }
        for replaced in [
            Some("application/javascript"),
            Some("text/javascript; charset=utf-8"),
            Some("text/html"),
            Some("image/svg+xml"),
            Some("application/xhtml+xml"),
            Some("text/css"),
            Some("application/wasm"),
            None,
        ] {
            assert_eq!(
                typed(replaced).as_deref(),
                Some("application/octet-stream"),
                "{replaced:?}"
            );
        }
    }
}
