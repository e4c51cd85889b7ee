//! The proxy's own upstream HTTP client.
//!
//! Providers share the reqwest client in `crate::upstream`; the relay path does not, for one
//! reason: memory. reqwest does not expose hyper's HTTP/1 read-buffer cap, which defaults to
//! about 400 KiB per connection and grows to it under a fast upstream, so 64 concurrent
//! segment streams cost 25 MiB of buffers alone. This client is hyper-util's pooled client
//! with the cap at 256 KiB, HTTP/2 windows sized for streaming rather than bulk download, the
//! same SSRF-guarded resolver, and a per-host limit on requests in flight, of which one
//! client may hold at most half.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, Request, StatusCode, Uri, header};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use http_body_util::{BodyDataStream, BodyExt, Empty};
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use url::Url;

use crate::config::Settings;
use crate::upstream::USER_AGENT;
use crate::upstream::body::Chunks;
use crate::upstream::connector::OutboundConnector;
use crate::upstream::guard::{Guard, GuardedHyperResolver};
use crate::upstream::outbound::Outbound;

/// Measured with `scripts/bench-proxy.sh` (64 × 4 MB streams, 2 cores): hyper's default
/// (~400 KiB, what reqwest uses) peaked at 63–75 MiB; 64 KiB at 30 MiB but cost 1.33 × nginx's
/// CPU per GB (four times the reads); 256 KiB peaks at 55 MiB at 1.12 × nginx's CPU per GB.
const READ_BUFFER_CAP: usize = 256 * 1024;

type Connector = HttpsConnector<OutboundConnector>;

#[derive(Clone)]
pub struct ProxyClient {
    client: Client<Connector, Empty<Bytes>>,
    hosts: Arc<HostLimits>,
}

// Holds clients, caches or trait objects whose state says nothing useful in a log.
impl std::fmt::Debug for ProxyClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyClient").finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("the URL cannot be sent: {0}")]
    Url(String),
    #[error("too many requests in flight to {0}")]
    Busy(String),
    #[error(transparent)]
    Client(#[from] hyper_util::client::legacy::Error),
}

impl ProxyClient {
    /// Connects direct through the guarded resolver, or through `upstream.proxy` for the
    /// hosts its rules send there.
    pub fn new(all: &Settings, guard: Arc<Guard>) -> anyhow::Result<Self> {
        let settings = &all.proxy;
        let outbound = Outbound::from_settings(all, guard.clone())?;
        let mut http = HttpConnector::new_with_resolver(GuardedHyperResolver::new(guard));
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(Duration::from_secs_f64(
            settings.connect_timeout.max(0.001),
        )));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())?
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(OutboundConnector::new(http, outbound));
        let client = Client::builder(TokioExecutor::new())
            .timer(TokioTimer::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(64)
            .http1_max_buf_size(READ_BUFFER_CAP)
            // The defaults (2 MiB per stream, 5 MiB per connection) let a CDN push megabytes
            // ahead of a slow viewer; a few hundred KiB keeps a segment flowing at line rate.
            .http2_initial_stream_window_size(256 * 1024)
            .http2_initial_connection_window_size(1024 * 1024)
            .build(https);
        Ok(ProxyClient {
            client,
            hosts: Arc::new(HostLimits::new(settings.max_per_host)),
        })
    }

    /// One GET for `client`, waiting until `deadline` at most for a free slot to the URL's
    /// host. The slot is held until the response (and its body) is dropped.
    ///
    /// A deadline rather than a duration: the caller times the whole request out at the same
    /// instant, and a slot wait must end on that very tick with `Busy` (503), not lose the race
    /// to the caller's timer and surface as a timeout (504), as it did on a loaded machine.
    pub async fn get(
        &self,
        url: &Url,
        headers: &HeaderMap,
        client: IpAddr,
        deadline: tokio::time::Instant,
    ) -> Result<UpstreamResponse, SendError> {
        let uri = to_uri(url)?;
        let host = format!(
            "{}:{}",
            url.host_str().unwrap_or_default(),
            url.port_or_known_default().unwrap_or_default()
        );
        let permit = self.hosts.acquire_until(&host, client, deadline).await?;
        let mut request = Request::get(uri)
            .body(Empty::new())
            .map_err(|e| SendError::Url(e.to_string()))?;
        *request.headers_mut() = headers.clone();
        let h = request.headers_mut();
        if !h.contains_key(header::USER_AGENT) {
            h.insert(
                header::USER_AGENT,
                header::HeaderValue::from_static(USER_AGENT),
            );
        }
        if !h.contains_key(header::ACCEPT) {
            h.insert(header::ACCEPT, header::HeaderValue::from_static("*/*"));
        }
        let response = self.client.request(request).await?;
        let (parts, body) = response.into_parts();
        Ok(UpstreamResponse {
            status: parts.status,
            headers: parts.headers,
            body: Source::Upstream(body),
            _permit: permit,
        })
    }
}

/// `url` and `http` disagree on a few characters a URL may keep in its query (`|`, `{`, `}`,
/// `^`, a backtick); those are percent-encoded, which servers read the same.
fn to_uri(url: &Url) -> Result<Uri, SendError> {
    if let Ok(uri) = url.as_str().parse::<Uri>() {
        return Ok(uri);
    }
    let mut s = String::with_capacity(url.as_str().len() + 8);
    for c in url.as_str().chars() {
        match c {
            '|' | '{' | '}' | '^' | '`' | '"' | '<' | '>' | '\\' => {
                s.push_str(&format!("%{:02X}", c as u32))
            }
            c => s.push(c),
        }
    }
    s.parse::<Uri>().map_err(|e| SendError::Url(format!("{e}")))
}

/// An upstream answer: status and headers, and the body read chunk by chunk.
pub struct UpstreamResponse {
    status: StatusCode,
    headers: HeaderMap,
    body: Source,
    _permit: Option<Slot>,
}

/// Where an answer's bytes come from: this request's own upstream connection, or an upstream
/// fetch shared with other viewers, or the cache (`proxy::edge`).
enum Source {
    Upstream(Incoming),
    Shared(SharedStream),
}

/// The bytes of a shared fetch or of a cache entry, as they arrive.
pub type SharedStream = futures::stream::BoxStream<'static, Result<Bytes, BodyError>>;

/// A body that ended before its end.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error(transparent)]
    Upstream(#[from] hyper::Error),
    /// The shared fetch this answer reads broke off (its own cause was logged once).
    #[error("the shared upstream fetch ended early: {0}")]
    Shared(FillError),
}

/// How a shared fetch ended early, told to each of its readers.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FillError {
    #[error("the upstream body stalled")]
    Stalled,
    #[error("{0}")]
    Broken(Arc<str>),
}

impl std::fmt::Debug for UpstreamResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamResponse")
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

impl UpstreamResponse {
    /// An answer whose bytes come from a shared fetch or the cache.
    pub fn shared(status: StatusCode, headers: HeaderMap, body: SharedStream) -> Self {
        UpstreamResponse {
            status,
            headers,
            body: Source::Shared(body),
            _permit: None,
        }
    }

    /// Whether the bytes come over this answer's own upstream connection.
    pub fn is_direct(&self) -> bool {
        matches!(self.body, Source::Upstream(_))
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    pub fn content_length(&self) -> Option<u64> {
        self.headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
    }

    /// The next data chunk; `None` at the end (trailers are skipped).
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, BodyError> {
        match &mut self.body {
            Source::Upstream(body) => {
                while let Some(frame) = body.frame().await {
                    if let Ok(data) = frame?.into_data() {
                        return Ok(Some(data));
                    }
                }
                Ok(None)
            }
            Source::Shared(stream) => stream.next().await.transpose(),
        }
    }

    /// The body as a stream; the host slot goes with it.
    pub fn into_stream(self) -> Holding<BodyStream> {
        let inner = match self.body {
            Source::Upstream(body) => BodyStream::Upstream(body.into_data_stream()),
            Source::Shared(stream) => BodyStream::Shared(stream),
        };
        Holding {
            inner,
            _keep: self._permit,
        }
    }

    /// The status, the headers and the body, for a reader that keeps them apart (the shared
    /// fetch of `proxy::edge`); the host slot goes with the body.
    pub fn into_parts(self) -> (StatusCode, HeaderMap, Holding<BodyStream>) {
        let (status, headers) = (self.status, self.headers.clone());
        (status, headers, self.into_stream())
    }
}

/// An answer's body as a stream of data chunks, whatever its source.
pub enum BodyStream {
    Upstream(BodyDataStream<Incoming>),
    Shared(SharedStream),
}

impl std::fmt::Debug for BodyStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BodyStream::Upstream(_) => "BodyStream::Upstream",
            BodyStream::Shared(_) => "BodyStream::Shared",
        })
    }
}

impl Stream for BodyStream {
    type Item = Result<Bytes, BodyError>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        match &mut *self {
            BodyStream::Upstream(s) => std::pin::Pin::new(s)
                .poll_next(cx)
                .map(|o| o.map(|r| r.map_err(BodyError::from))),
            BodyStream::Shared(s) => s.as_mut().poll_next(cx),
        }
    }
}

/// A playlist or JSON document is read whole by the one bounded read.
impl Chunks for UpstreamResponse {
    type Error = BodyError;

    fn content_length(&self) -> Option<u64> {
        UpstreamResponse::content_length(self)
    }

    fn chunk(&mut self) -> impl Future<Output = Result<Option<Bytes>, BodyError>> + Send {
        UpstreamResponse::chunk(self)
    }
}

/// A stream that keeps something alive (a host slot) as long as it is.
#[derive(Debug)]
pub struct Holding<S> {
    inner: S,
    _keep: Option<Slot>,
}

impl<S: Stream + Unpin> Stream for Holding<S> {
    type Item = S::Item;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<S::Item>> {
        std::pin::Pin::new(&mut self.inner).poll_next(cx)
    }
}

/// A slot to a host, and the client's share of that host it counts against.
#[derive(Debug)]
pub struct Slot {
    _host: OwnedSemaphorePermit,
    _client: OwnedSemaphorePermit,
}

/// One semaphore per upstream host, created on first use, and one per (host, client): a
/// client gets at most half of a host's slots (at least one), so one viewer's hundreds of slow
/// requests cannot starve another viewer of that host. A client waits for its own share
/// before it takes a host slot, so its queue never holds slots others could use. Idle entries
/// are dropped when a map grows, so a long-running server that met many hosts and clients does
/// not keep them all.
struct HostLimits {
    max: usize,
    per_client: usize,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
    clients: Mutex<HashMap<(String, IpAddr), Arc<Semaphore>>>,
}

const PRUNE_ABOVE: usize = 1024;

impl HostLimits {
    fn new(max: usize) -> Self {
        HostLimits {
            max,
            per_client: (max / 2).max(1),
            hosts: Mutex::new(HashMap::new()),
            clients: Mutex::new(HashMap::new()),
        }
    }

    fn semaphore<K: std::hash::Hash + Eq + Clone>(
        map: &Mutex<HashMap<K, Arc<Semaphore>>>,
        key: &K,
        permits: usize,
    ) -> Arc<Semaphore> {
        let mut map = map.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > PRUNE_ABOVE {
            map.retain(|_, s| Arc::strong_count(s) > 1 || s.available_permits() < permits);
        }
        map.entry(key.clone())
            .or_insert_with(|| Arc::new(Semaphore::new(permits)))
            .clone()
    }

    #[cfg(test)]
    async fn acquire(
        &self,
        host: &str,
        client: IpAddr,
        wait: Duration,
    ) -> Result<Option<Slot>, SendError> {
        self.acquire_until(host, client, tokio::time::Instant::now() + wait)
            .await
    }

    async fn acquire_until(
        &self,
        host: &str,
        client: IpAddr,
        deadline: tokio::time::Instant,
    ) -> Result<Option<Slot>, SendError> {
        if self.max == 0 {
            return Ok(None);
        }
        let share = Self::semaphore(&self.clients, &(host.to_string(), client), self.per_client);
        let slots = Self::semaphore(&self.hosts, &host.to_string(), self.max);
        let take = |semaphore: Arc<Semaphore>| async move {
            if let Ok(permit) = semaphore.clone().try_acquire_owned() {
                return Some(permit);
            }
            tracing::debug!(host, "waiting for a free slot to the upstream host");
            match tokio::time::timeout_at(deadline, semaphore.acquire_owned()).await {
                Ok(Ok(permit)) => Some(permit),
                _ => None,
            }
        };
        let busy = || SendError::Busy(host.to_string());
        let client_permit = take(share).await.ok_or_else(busy)?;
        let host_permit = take(slots).await.ok_or_else(busy)?;
        Ok(Some(Slot {
            _host: host_permit,
            _client: client_permit,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_url_becomes_a_uri_with_the_same_query() {
        for q in ["sig=a|b{c}^d`e", "x=%7C&y=\\z", "t=a%2Fb+c"] {
            let url = Url::parse(&format!("https://cdn.example/a/seg.ts?{q}")).unwrap();
            let uri = to_uri(&url).unwrap();
            assert_eq!(uri.host(), Some("cdn.example"));
            let decode = |s: &str| {
                url::form_urlencoded::parse(s.as_bytes())
                    .into_owned()
                    .collect::<Vec<_>>()
            };
            assert_eq!(
                decode(uri.query().unwrap()),
                decode(url.query().unwrap()),
                "{q}"
            );
        }
    }

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, last])
    }

    #[tokio::test]
    async fn a_full_host_makes_the_next_request_wait_then_fail() {
        let limits = HostLimits::new(2);
        let a = limits
            .acquire("h:443", ip(1), Duration::from_millis(10))
            .await
            .unwrap();
        let _b = limits
            .acquire("h:443", ip(2), Duration::from_millis(10))
            .await
            .unwrap();
        let err = limits
            .acquire("h:443", ip(3), Duration::from_millis(20))
            .await
            .err()
            .unwrap();
        assert!(matches!(err, SendError::Busy(h) if h == "h:443"));
        // Another host is not affected.
        limits
            .acquire("other:443", ip(1), Duration::from_millis(10))
            .await
            .unwrap();
        // A released slot is handed to a waiter.
        let waiter = limits.acquire("h:443", ip(3), Duration::from_secs(5));
        drop(a);
        assert!(waiter.await.unwrap().is_some());
    }

    #[tokio::test]
    async fn one_client_gets_at_most_half_of_a_hosts_slots() {
        let limits = HostLimits::new(4);
        let mut held = Vec::new();
        for _ in 0..2 {
            held.push(
                limits
                    .acquire("h:443", ip(1), Duration::from_millis(10))
                    .await
                    .unwrap(),
            );
        }
        // The greedy client's third request waits for its own share…
        let third = limits
            .acquire("h:443", ip(1), Duration::from_millis(20))
            .await;
        assert!(matches!(third, Err(SendError::Busy(_))));
        // …while another client still finds the host's other half free.
        for _ in 0..2 {
            let slot = limits
                .acquire("h:443", ip(2), Duration::from_millis(10))
                .await
                .unwrap();
            assert!(slot.is_some());
            held.push(slot);
        }
        // The greedy client's share is per host.
        assert!(
            limits
                .acquire("other:443", ip(1), Duration::from_millis(10))
                .await
                .unwrap()
                .is_some()
        );
    }

    #[tokio::test]
    async fn zero_means_no_limit() {
        let limits = HostLimits::new(0);
        for _ in 0..1000 {
            assert!(
                limits
                    .acquire("h:80", ip(1), Duration::ZERO)
                    .await
                    .unwrap()
                    .is_none()
            );
        }
    }
}
