//! One upstream fetch shared by every request for the same object while it runs.
//!
//! Hand-written rather than moka's `get_with`/`entry().or_insert_with` (which do coalesce
//! concurrent initialisations): those hand the value to the waiters only once it is whole, and
//! a viewer must get a segment's bytes as they arrive, not 4 MB later. So the fill keeps the
//! chunks it has received; each reader walks them from the first and waits on a `watch` for
//! the next. The fetch runs in its own task: a reader that goes away (a viewer seeking or
//! closing the tab) drops its stream and nothing else. It ends by itself (complete, or broken
//! beyond `proxy.resume_attempts`, or idle past `proxy.idle_timeout`), or when the last
//! request interested in it has gone: nobody is left to pay the upstream's bytes for, and a
//! lone viewer's disconnect still closes the upstream connection as it did before the edge.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::{Notify, watch};
use url::Url;

use crate::proxy::ProxyError;
use crate::proxy::client::{BodyError, FillError, SharedStream};

/// What the fetch learned before its body.
#[derive(Debug, Clone, Default)]
pub enum Head {
    #[default]
    Pending,
    /// Shared: every waiter reads the body.
    Shared(Arc<SharedHead>),
    /// Not to be shared (a cookie, `private`, too long…): the leader gets the answer itself,
    /// the other waiters fetch on their own.
    Alone,
    /// No answer to pass on: each waiter gets the error.
    Failed(Arc<ProxyError>),
}

#[derive(Debug)]
pub struct SharedHead {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub url: Url,
    /// Unix seconds after which the body may not be served from the cache.
    pub expires: u64,
}

#[derive(Debug, Default)]
struct Progress {
    head: Head,
    chunks: Vec<Bytes>,
    end: Option<Result<(), FillError>>,
}

#[derive(Debug)]
pub struct Fill {
    progress: Mutex<Progress>,
    changed: watch::Sender<()>,
    /// Requests waiting for the head or reading the body ([`Interest`]s alive).
    interested: AtomicUsize,
    /// Woken when `interested` falls to 0.
    abandoned: Notify,
    /// Started by read-ahead, and no viewer has joined it yet.
    pub prefetch: AtomicBool,
}

/// One request's interest in a fill: while any is alive, the fetch goes on.
#[derive(Debug)]
pub struct Interest(Arc<Fill>);

impl Drop for Interest {
    fn drop(&mut self) {
        if self.0.interested.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.abandoned.notify_one();
        }
    }
}

impl Interest {
    pub fn fill(&self) -> &Arc<Fill> {
        &self.0
    }

    /// The body from its first byte, each chunk as soon as the fetch has it; the interest
    /// lasts as long as the stream.
    pub fn reader(self) -> SharedStream {
        let rx = self.0.changed.subscribe();
        futures::stream::unfold(
            (self, rx, 0usize, false),
            |(me, mut rx, i, done)| async move {
                if done {
                    return None;
                }
                loop {
                    rx.borrow_and_update();
                    match me.0.chunk(i) {
                        Some(Ok(Some(chunk))) => return Some((Ok(chunk), (me, rx, i + 1, false))),
                        Some(Ok(None)) => return None,
                        Some(Err(e)) => return Some((Err(e), (me, rx, i, true))),
                        None => {
                            let _ = rx.changed().await;
                        }
                    }
                }
            },
        )
        .boxed()
    }
}

impl Fill {
    pub fn new() -> Arc<Fill> {
        Arc::new(Fill {
            progress: Mutex::new(Progress::default()),
            changed: watch::Sender::new(()),
            interested: AtomicUsize::new(0),
            abandoned: Notify::new(),
            prefetch: AtomicBool::new(false),
        })
    }

    /// A new interest: taken under the edge's lock of fetches in flight, which is also where
    /// an abandoned fill leaves it, so a request never joins a fill on its way out.
    pub fn interest(self: &Arc<Self>) -> Interest {
        self.interested.fetch_add(1, Ordering::SeqCst);
        Interest(self.clone())
    }

    pub fn is_abandoned(&self) -> bool {
        self.interested.load(Ordering::SeqCst) == 0
    }

    /// Resolves when the last interest may have gone (check [`Fill::is_abandoned`]).
    pub async fn abandoned(&self) {
        self.abandoned.notified().await;
    }

    /// Chunk `i`: `Ok(None)` past the end of a complete body, `None` while it is awaited.
    fn chunk(&self, i: usize) -> Option<Result<Option<Bytes>, BodyError>> {
        let p = self.progress.lock().unwrap_or_else(|e| e.into_inner());
        match (p.chunks.get(i), &p.end) {
            (Some(chunk), _) => Some(Ok(Some(chunk.clone()))),
            (None, Some(Ok(()))) => Some(Ok(None)),
            (None, Some(Err(e))) => Some(Err(BodyError::Shared(e.clone()))),
            (None, None) => None,
        }
    }

    fn update(&self, f: impl FnOnce(&mut Progress)) {
        f(&mut self.progress.lock().unwrap_or_else(|e| e.into_inner()));
        self.changed.send_modify(|_| {});
    }

    pub fn set_head(&self, head: Head) {
        self.update(|p| p.head = head);
    }

    pub fn push(&self, chunk: Bytes) {
        self.update(|p| p.chunks.push(chunk));
    }

    pub fn end(&self, end: Result<(), FillError>) {
        self.update(|p| p.end = Some(end));
    }

    /// The received bytes, once the body is complete, as one buffer (the chunks hyper hands
    /// over may share its larger read buffers, which a cache weighing them would not see).
    pub fn body(&self) -> Bytes {
        let p = self.progress.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::with_capacity(p.chunks.iter().map(Bytes::len).sum());
        for chunk in &p.chunks {
            out.extend_from_slice(chunk);
        }
        Bytes::from(out)
    }

    /// Waits for the head.
    pub async fn head(&self) -> Head {
        let mut rx = self.changed.subscribe();
        loop {
            rx.borrow_and_update();
            let head = self
                .progress
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .head
                .clone();
            if !matches!(head, Head::Pending) {
                return head;
            }
            // The sender lives in `self`: it cannot be dropped while we wait.
            let _ = rx.changed().await;
        }
    }
}

/// What a broken body may be resumed with: the bytes it covers, a validator, and the
/// server's word that it serves ranges (RFC 9110 §13.1.5, §14): `Accept-Ranges: bytes` on a
/// 200, or the 206 itself.
#[derive(Debug, Clone)]
pub struct Resumable {
    /// First and last byte of the representation the answer carries (inclusive).
    pub start: u64,
    pub end: u64,
    /// The representation's length as `Content-Range` writes it (`*` if unknown).
    pub total: String,
    pub validator: HeaderValue,
}

impl Resumable {
    pub fn of(status: StatusCode, headers: &HeaderMap) -> Option<Resumable> {
        let text = |name| {
            headers
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
        };
        let (start, end, total) = match status {
            StatusCode::OK => {
                let ranges =
                    text(header::ACCEPT_RANGES).is_some_and(|v| v.eq_ignore_ascii_case("bytes"));
                let length: u64 = text(header::CONTENT_LENGTH)?.trim().parse().ok()?;
                (ranges && length > 0).then_some((0, length - 1, length.to_string()))?
            }
            StatusCode::PARTIAL_CONTENT => {
                let range = text(header::CONTENT_RANGE)?.strip_prefix("bytes ")?;
                let (span, total) = range.split_once('/')?;
                let (a, b) = span.split_once('-')?;
                (a.parse().ok()?, b.parse().ok()?, total.to_string())
            }
            _ => return None,
        };
        // A weak ETag may not be used with If-Range (§13.1.5): Last-Modified instead.
        let validator = headers
            .get(header::ETAG)
            .filter(|e| !e.as_bytes().starts_with(b"W/"))
            .or_else(|| headers.get(header::LAST_MODIFIED))?
            .clone();
        (start <= end).then_some(Resumable {
            start,
            end,
            total,
            validator,
        })
    }

    /// The request headers of the rest after `got` bytes of the body.
    pub fn request(&self, got: u64) -> HeaderMap {
        let mut h = HeaderMap::new();
        let range = format!("bytes={}-{}", self.start + got, self.end);
        if let Ok(range) = HeaderValue::from_str(&range) {
            h.insert(header::RANGE, range);
        }
        h.insert(header::IF_RANGE, self.validator.clone());
        h
    }

    /// Whether `answer` is the same representation's rest after `got` bytes: a 206 whose
    /// `Content-Range` says exactly that and whose validator is unchanged.
    pub fn continues(&self, got: u64, status: StatusCode, headers: &HeaderMap) -> bool {
        let expected = format!("bytes {}-{}/{}", self.start + got, self.end, self.total);
        let same = |name| headers.get(name) == Some(&self.validator);
        status == StatusCode::PARTIAL_CONTENT
            && headers
                .get(header::CONTENT_RANGE)
                .is_some_and(|v| v.as_bytes() == expected.as_bytes())
            && (same(header::ETAG) || same(header::LAST_MODIFIED))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| (k.clone(), HeaderValue::from_str(v).unwrap()))
            .collect()
    }

    #[tokio::test]
    async fn a_late_reader_gets_every_byte_from_the_first_and_the_end() {
        let fill = Fill::new();
        fill.push(Bytes::from_static(b"ab"));
        let early = fill.interest().reader();
        fill.push(Bytes::from_static(b"cd"));
        let late = fill.interest().reader();
        fill.end(Ok(()));
        for reader in [early, late] {
            let got: Vec<Bytes> = reader.map(Result::unwrap).collect().await;
            assert_eq!(got.concat(), b"abcd");
        }
        let broken = Fill::new();
        broken.push(Bytes::from_static(b"ab"));
        broken.end(Err(FillError::Broken("reset".into())));
        let got: Vec<_> = broken.interest().reader().collect().await;
        assert_eq!(got.len(), 2);
        assert!(matches!(got[1], Err(BodyError::Shared(_))));
    }

    #[tokio::test]
    async fn the_fill_is_abandoned_only_when_its_last_interest_goes() {
        let fill = Fill::new();
        let (a, b) = (fill.interest(), fill.interest().reader());
        drop(a);
        assert!(!fill.is_abandoned());
        drop(b);
        assert!(fill.is_abandoned());
        // The wake-up is not lost although nobody was waiting when it was given.
        fill.abandoned().await;
    }

    #[test]
    fn only_a_ranged_body_of_known_length_and_strong_validator_resumes() {
        use header::{ACCEPT_RANGES as AR, CONTENT_LENGTH as CL, ETAG, LAST_MODIFIED as LM};
        let date = "Wed, 02 Dec 2026 10:00:00 GMT";
        let ok = StatusCode::OK;
        let r = Resumable::of(
            ok,
            &headers(&[(AR, "bytes"), (CL, "100"), (ETAG, "\"v1\"")]),
        )
        .unwrap();
        assert_eq!(r.request(40)[header::RANGE], "bytes=40-99");
        assert_eq!(r.request(40)[header::IF_RANGE], "\"v1\"");
        let weak = headers(&[(AR, "bytes"), (CL, "9"), (ETAG, "W/\"x\""), (LM, date)]);
        assert_eq!(Resumable::of(ok, &weak).unwrap().validator, date);
        assert!(Resumable::of(ok, &headers(&[(CL, "100"), (ETAG, "\"v1\"")])).is_none());
        assert!(Resumable::of(ok, &headers(&[(AR, "bytes"), (ETAG, "\"v1\"")])).is_none());
        assert!(Resumable::of(ok, &headers(&[(AR, "bytes"), (CL, "100")])).is_none());
        let rest =
            |range: &str, etag: &str| headers(&[(header::CONTENT_RANGE, range), (ETAG, etag)]);
        let partial = StatusCode::PARTIAL_CONTENT;
        assert!(r.continues(40, partial, &rest("bytes 40-99/100", "\"v1\"")));
        assert!(!r.continues(40, partial, &rest("bytes 40-99/100", "\"v2\"")));
        assert!(!r.continues(40, partial, &rest("bytes 0-99/100", "\"v1\"")));
        assert!(!r.continues(40, ok, &rest("bytes 40-99/100", "\"v1\"")));
        // A client's range: resumed within it.
        let part = Resumable::of(partial, &rest("bytes 1000-1999/5000", "\"v1\"")).unwrap();
        assert_eq!(part.request(300)[header::RANGE], "bytes=1300-1999");
        assert!(part.continues(300, partial, &rest("bytes 1300-1999/5000", "\"v1\"")));
    }
}
