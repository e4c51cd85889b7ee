//! Relaying a body that is not rewritten: streamed chunk by chunk with backpressure, never
//! buffered whole, with an idle timeout between chunks. Dropping the response (the client
//! went away) drops the upstream response, which closes the upstream connection.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use futures::Stream;
use tokio::time::{Instant, Sleep};

use super::client::UpstreamResponse;
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
pub fn add_common_headers(headers: &mut HeaderMap) {
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("Content-Length, Content-Range, Accept-Ranges"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
}

pub fn copy_allowed(from: &HeaderMap, to: &mut HeaderMap, names: &[HeaderName]) {
    for name in names {
        if let Some(v) = from.get(name) {
            to.insert(name.clone(), v.clone());
        }
    }
}

/// The upstream body as a stream that times out when idle and keeps the metrics.
pub struct RelayBody<S> {
    inner: S,
    first: Option<Bytes>,
    idle: Duration,
    last_chunk: Instant,
    timer: Pin<Box<Sleep>>,
    relayed: u64,
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
            metrics,
        }
    }
}

impl<S> Drop for RelayBody<S> {
    fn drop(&mut self) {
        self.metrics.proxy_active.dec();
        self.metrics.proxy_bytes.inc_by(self.relayed);
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
) -> Response {
    let status = StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::OK);
    let mut headers = HeaderMap::new();
    copy_allowed(response.headers(), &mut headers, &RELAYED_RESPONSE_HEADERS);
    add_common_headers(&mut headers);
    let body = RelayBody::new(response.into_stream(), first, idle, metrics);
    let mut out = Response::new(Body::from_stream(body));
    *out.status_mut() = status;
    *out.headers_mut() = headers;
    out
}
