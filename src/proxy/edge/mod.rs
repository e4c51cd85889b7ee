//! The proxy as an edge (issue 17): one upstream fetch serves every viewer of an object.
//!
//! - `tiers`: the bounded cache of segments, keys, init sections and VOD playlists (memory,
//!   then disk), keyed by the upstream URL and the sealed header context (`key`).
//! - `fill`: the fetch of an object nobody has cached, shared by every request for it while
//!   it runs, each reading the bytes as they arrive; a broken body is resumed with `Range`.
//! - `policy`: which answers may be shared and kept (HTTP's shared-cache rules, live
//!   playlists never, nothing past the signed URL's expiry).
//! - `ranges`: a client's `Range` served from a cached body.
//!
//! `proxy::relay` asks [`Edge::lane`] whether a request may go through the edge at all, then
//! [`Edge::answer`] for its upstream answer instead of fetching it itself.

pub mod ahead;
pub mod fill;
pub mod keeper;
pub mod key;
pub mod policy;
pub mod ranges;
pub mod resume;
pub mod tiers;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, header};
use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::oneshot;
use url::Url;

use super::ProxyError;
use super::client::{FillError, ProxyClient, UpstreamResponse};
use super::sniff::{Sniff, sniff};
use super::token::{Kind, Verified};
use super::upstream::Fetched;
use crate::clock::Clock;
use crate::config::{ProxySettings, Settings};
use crate::metrics::Metrics;
use crate::upstream::guard::Guard;
use fill::{Fill, Head, Interest, Resumable, SharedHead};
use key::Key;
use tiers::{Budgets, Entry, EntryKind, Meta, Tiers};

const MIB: u64 = 1024 * 1024;

/// The shared cache and the fetches in flight; `Edge::disabled` when `proxy.cache_memory_mb`
/// is 0 (every request then fetches on its own, as before).
#[derive(Debug, Clone)]
pub struct Edge {
    inner: Option<Arc<Inner>>,
    /// Resumes relayed bodies, cache or not; `None` only for `Edge::disabled`.
    fetcher: Option<Arc<resume::Fetcher>>,
}

#[derive(Debug)]
struct Inner {
    fetcher: Arc<resume::Fetcher>,
    tiers: Tiers,
    ahead: ahead::ReadAhead,
    fills: Mutex<HashMap<Key, Arc<Fill>>>,
    /// Documents being rewritten to be kept: one rewrite each.
    keeping: Mutex<std::collections::HashSet<Key>>,
    metrics: Arc<Metrics>,
    clock: Arc<dyn Clock>,
    settings: ProxySettings,
}

/// What the edge is built from.
#[derive(Debug)]
pub struct EdgeParts<'a> {
    pub settings: &'a Settings,
    pub http: ProxyClient,
    pub guard: Arc<Guard>,
    pub metrics: Arc<Metrics>,
    pub clock: Arc<dyn Clock>,
}

/// A request the edge may serve: its keys and what its own upstream fetch would send.
#[derive(Debug, Clone)]
pub struct Lane {
    object: Key,
    document: Key,
    /// The signed URL's expiry: nothing fetched for it is served past it.
    expires: u64,
    /// The client's `Range`, served from a cached body (a miss with a Range is relayed).
    range: Option<HeaderValue>,
    url: Url,
    provider: Option<String>,
    headers: Vec<(String, String)>,
    client: IpAddr,
}

impl Lane {
    fn who(&self) -> resume::Who<'_> {
        resume::Who {
            provider: self.provider.as_deref(),
            headers: &self.headers,
            client: self.client,
        }
    }
}

/// Where and until when a rewritten document may be kept.
#[derive(Debug, Clone, Copy)]
pub struct Keep {
    pub key: Key,
    pub expires: u64,
}

/// The edge's answer to a request.
#[derive(Debug)]
pub enum EdgeAnswer {
    /// From the cache or a shared fetch; `keep` says whether its rewrite may be kept.
    Ready {
        response: UpstreamResponse,
        url: Url,
        keep: Option<Keep>,
    },
    /// This request's own fetch, which turned out not to be shareable.
    Direct(Fetched),
    /// Not shareable and fetched for another request: this one fetches on its own.
    Alone,
}

impl Edge {
    pub fn new(parts: EdgeParts<'_>) -> std::io::Result<Edge> {
        let settings = &parts.settings.proxy;
        let fetcher = Arc::new(resume::Fetcher {
            http: parts.http,
            guard: parts.guard,
            metrics: parts.metrics.clone(),
            settings: settings.clone(),
        });
        if settings.cache_memory_mb == 0 {
            return Ok(Edge {
                inner: None,
                fetcher: Some(fetcher),
            });
        }
        let budgets = Budgets {
            memory: settings.cache_memory_mb * MIB,
            disk: settings.cache_disk_mb * MIB,
        };
        let dir = parts.settings.data_dir.join("proxy-cache");
        let tiers = Tiers::new(budgets, &dir, parts.clock.clone(), parts.metrics.clone())?;
        Ok(Edge {
            inner: Some(Arc::new(Inner {
                fetcher: fetcher.clone(),
                tiers,
                ahead: ahead::ReadAhead::new(settings.read_ahead),
                fills: Mutex::new(HashMap::new()),
                keeping: Mutex::default(),
                metrics: parts.metrics,
                clock: parts.clock,
                settings: settings.clone(),
            })),
            fetcher: Some(fetcher),
        })
    }

    /// How a body relayed to this request alone is resumed if it breaks, when it can be.
    pub fn direct_resume(
        &self,
        verified: &Verified,
        url: &Url,
        client: IpAddr,
        response: &UpstreamResponse,
    ) -> Option<resume::DirectResume> {
        let fetcher = self.fetcher.as_ref()?;
        if fetcher.settings.resume_attempts == 0 || !response.is_direct() {
            return None;
        }
        let resumable = Resumable::of(response.status(), response.headers())?;
        Some(resume::DirectResume {
            fetcher: fetcher.clone(),
            url: url.clone(),
            provider: verified.context.provider.clone(),
            headers: verified.context.headers.clone(),
            client,
            resumable,
        })
    }

    pub fn disabled() -> Edge {
        Edge {
            inner: None,
            fetcher: None,
        }
    }

    /// Whether the edge may answer this request: a media URL (JSON and subtitle documents
    /// are rare and rewritten per request), without LL-HLS directives (a blocking reload is
    /// live by definition), without the client's validators (which ask the upstream's
    /// opinion, not ours).
    pub fn lane(
        &self,
        verified: &Verified,
        url: &Url,
        client: IpAddr,
        headers: &HeaderMap,
    ) -> Option<Lane> {
        self.inner.as_ref()?;
        let validators = [
            header::IF_RANGE,
            header::IF_NONE_MATCH,
            header::IF_MODIFIED_SINCE,
        ];
        if verified.kind != Kind::Media
            || url.as_str() != verified.upstream
            || validators.iter().any(|h| headers.contains_key(h))
        {
            return None;
        }
        let context = &verified.context;
        let object = Key::object(url.as_str(), context.provider.as_deref(), &context.headers);
        Some(Lane {
            object,
            document: Key::document(&object, verified.sealed.as_str(), verified.vars.as_deref()),
            expires: context.expires,
            range: headers.get(header::RANGE).cloned(),
            url: url.clone(),
            provider: context.provider.clone(),
            headers: context.headers.clone(),
            client,
        })
    }

    /// The rewritten document kept for this request's URL and context, if any.
    pub async fn document(&self, lane: &Lane) -> Option<Entry> {
        let inner = self.inner.as_ref()?;
        let (entry, tier) = inner.tiers.get(&lane.document).await?;
        inner
            .metrics
            .edge
            .lookup("document", &format!("hit_{tier}"));
        Some(entry)
    }

    /// Rewrites a playlist to be kept, in the background, unless it is live, too long, or
    /// already being rewritten for the same key.
    pub fn keep_rewrite(&self, job: keeper::KeepJob) {
        let Some(inner) = &self.inner else { return };
        if job.input.len() > keeper::MAX_KEPT_INPUT || policy::is_live_playlist(&job.input) {
            return;
        }
        let key = job.keep.key;
        if !inner
            .keeping
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key)
        {
            return;
        }
        let (edge, max) = (self.clone(), inner.max_object());
        tokio::spawn(async move {
            if let Some((body, job)) = keeper::rewrite(job, max).await {
                edge.keep_document(job.keep, body, job.headers, job.owned.base);
            }
            if let Some(inner) = &edge.inner {
                inner
                    .keeping
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&key);
            }
        });
    }

    /// Keeps a rewritten document: its bytes, type and caching headers.
    fn keep_document(&self, keep: Keep, body: Bytes, headers: HeaderMap, url: Url) {
        let Some(inner) = &self.inner else { return };
        inner.metrics.edge.lookup("document", "miss");
        let meta = Meta {
            kind: EntryKind::Document,
            headers,
            url,
            expires: keep.expires,
            prefetched: Default::default(),
        };
        let meta = Arc::new(meta);
        inner.tiers.insert(keep.key, Entry { meta, body });
    }

    /// The upstream answer for `lane`: from the cache, from a fetch already running, or from
    /// a new shared fetch.
    pub async fn answer(&self, lane: &Lane) -> Result<EdgeAnswer, ProxyError> {
        let Some(inner) = &self.inner else {
            return Ok(EdgeAnswer::Alone);
        };
        inner.read_ahead(lane);
        if let Some(ready) = inner.hit(lane).await {
            return Ok(ready);
        }
        if lane.range.is_some() {
            return Ok(EdgeAnswer::Alone);
        }
        let (interest, leader) = match inner.join_or_lead(lane) {
            Joined::Cached => return Ok(inner.hit(lane).await.unwrap_or(EdgeAnswer::Alone)),
            Joined::Waiter(interest) => {
                inner.metrics.edge.coalesced.inc();
                (interest, None)
            }
            Joined::Leader(interest, rx) => (interest, Some(rx)),
        };
        match interest.fill().head().await {
            Head::Shared(head) => Ok(EdgeAnswer::Ready {
                response: UpstreamResponse::shared(
                    head.status,
                    head.headers.clone(),
                    interest.reader(),
                ),
                url: head.url.clone(),
                keep: inner.keep(lane, head.expires),
            }),
            Head::Alone => match leader {
                Some(rx) => Ok(rx.await.map_or(EdgeAnswer::Alone, EdgeAnswer::Direct)),
                None => Ok(EdgeAnswer::Alone),
            },
            Head::Failed(e) => Err(ProxyError::Shared(e)),
            Head::Pending => unreachable!("Fill::head waits until the head is known"),
        }
    }

    /// Bytes held in memory and on disk.
    pub fn sizes(&self) -> (u64, u64) {
        self.inner.as_ref().map_or((0, 0), |i| i.tiers.sizes())
    }
}

enum Joined {
    /// The object was cached between the lookup and the join.
    Cached,
    Waiter(Interest),
    Leader(Interest, oneshot::Receiver<Fetched>),
}

impl Inner {
    fn max_object(&self) -> u64 {
        self.settings.cache_max_object_mb * MIB
    }

    fn keep(&self, lane: &Lane, expires: u64) -> Option<Keep> {
        (expires > self.clock.unix()).then_some(Keep {
            key: lane.document,
            expires: expires.min(lane.expires),
        })
    }

    async fn hit(&self, lane: &Lane) -> Option<EdgeAnswer> {
        let (entry, tier) = self.tiers.get(&lane.object).await?;
        self.metrics
            .edge
            .lookup(entry.meta.kind.label(), &format!("hit_{tier}"));
        entry.meta.settle_read_ahead(&self.metrics, "used");
        let keep = self.keep(lane, entry.meta.expires);
        Some(EdgeAnswer::Ready {
            url: entry.meta.url.clone(),
            response: ranges::respond(&entry, lane.range.as_ref()),
            keep,
        })
    }

    /// Joins the fetch running for the object, or starts it. Under the lock, the cache is
    /// looked at again: a fetch stores its entry before it leaves the map, so a request finds
    /// one or the other and never fetches a second time.
    fn join_or_lead(self: &Arc<Self>, lane: &Lane) -> Joined {
        let mut fills = self.fills.lock().unwrap_or_else(|e| e.into_inner());
        if self.tiers.contains(&lane.object) {
            return Joined::Cached;
        }
        if let Some(fill) = fills.get(&lane.object) {
            if fill
                .prefetch
                .swap(false, std::sync::atomic::Ordering::Relaxed)
            {
                self.metrics.edge.read_ahead("used");
            }
            return Joined::Waiter(fill.interest());
        }
        let fill = Fill::new();
        let interest = fill.interest();
        fills.insert(lane.object, fill.clone());
        let (tx, rx) = oneshot::channel();
        tokio::spawn(self.clone().run(fill, lane.clone(), tx));
        Joined::Leader(interest, rx)
    }

    /// Starts fetching the segments after this one, if it is one of a playlist the edge knows,
    /// as far as free read-ahead slots allow.
    fn read_ahead(self: &Arc<Self>, lane: &Lane) {
        for next in self.ahead.next(&lane.object, self.clock.unix()) {
            let Some(slot) = self.ahead.slot() else {
                return;
            };
            self.prefetch(next, slot);
        }
    }

    /// One read-ahead fetch, unless the object is cached or being fetched. It reads its own
    /// fill to the end (so that it is not abandoned), holding its slot meanwhile.
    fn prefetch(self: &Arc<Self>, lane: Lane, slot: tokio::sync::OwnedSemaphorePermit) {
        let interest = {
            let mut fills = self.fills.lock().unwrap_or_else(|e| e.into_inner());
            if self.tiers.contains(&lane.object) || fills.contains_key(&lane.object) {
                return;
            }
            let fill = Fill::new();
            fill.prefetch
                .store(true, std::sync::atomic::Ordering::Relaxed);
            let interest = fill.interest();
            fills.insert(lane.object, fill.clone());
            let (tx, _) = oneshot::channel();
            tokio::spawn(self.clone().run(fill, lane, tx));
            interest
        };
        self.metrics.edge.read_ahead("started");
        tokio::spawn(async move {
            let _slot = slot;
            interest.reader().for_each(|_| std::future::ready(())).await;
        });
    }

    /// Forgets a fill nobody is interested in any more; false if someone joined meanwhile.
    fn abandon(&self, key: &Key, fill: &Arc<Fill>) -> bool {
        let mut fills = self.fills.lock().unwrap_or_else(|e| e.into_inner());
        if !fill.is_abandoned() {
            return false;
        }
        if fills.get(key).is_some_and(|f| Arc::ptr_eq(f, fill)) {
            fills.remove(key);
        }
        true
    }

    /// Stores the entry (if any), then forgets the fetch.
    fn finish(&self, key: &Key, fill: &Arc<Fill>, entry: Option<Entry>) {
        let mut fills = self.fills.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = entry {
            self.tiers.insert(*key, entry);
        }
        if fills.get(key).is_some_and(|f| Arc::ptr_eq(f, fill)) {
            fills.remove(key);
        }
    }

    /// The shared fetch, in its own task.
    async fn run(self: Arc<Self>, fill: Arc<Fill>, lane: Lane, leader: oneshot::Sender<Fetched>) {
        let who = lane.who();
        let fetched = match self
            .fetcher
            .fetch(who, lane.url.clone(), &HeaderMap::new())
            .await
        {
            Ok(fetched) => fetched,
            Err(e) => {
                self.finish(&lane.object, &fill, None);
                fill.set_head(Head::Failed(Arc::new(e)));
                fill.end(Err(FillError::Broken("no answer to share".into())));
                return;
            }
        };
        let response = &fetched.response;
        let shared = policy::shareable(response.status(), response.headers(), self.max_object());
        let limit = match shared {
            Ok(limit) => limit,
            Err(why) => {
                tracing::debug!(?why, "upstream answer relayed to its one requester");
                self.finish(&lane.object, &fill, None);
                fill.set_head(Head::Alone);
                fill.end(Err(FillError::Broken("not shared".into())));
                let _ = leader.send(fetched);
                return;
            }
        };
        let max_age = policy::max_age(response.headers());
        let now = self.clock.unix();
        let head = Arc::new(SharedHead {
            status: response.status(),
            headers: response.headers().clone(),
            url: fetched.url.clone(),
            expires: lane.expires.min(max_age.map_or(u64::MAX, |s| now + s)),
        });
        fill.set_head(Head::Shared(head.clone()));
        match self.body(&fill, &lane, fetched, limit).await {
            Ok(()) => {
                let prefetch = fill.prefetch.load(std::sync::atomic::Ordering::Relaxed);
                let entry = self.entry(&lane, &head, fill.body(), prefetch);
                self.finish(&lane.object, &fill, entry);
                fill.end(Ok(()));
            }
            Err(e) => {
                tracing::info!(host = head.url.host_str(), error = %e, "shared upstream body broke off");
                self.finish(&lane.object, &fill, None);
                fill.end(Err(e));
            }
        }
    }

    /// Reads the body into the fill, resuming it where it broke when the upstream allows.
    async fn body(
        &self,
        fill: &Arc<Fill>,
        lane: &Lane,
        fetched: Fetched,
        limit: u64,
    ) -> Result<(), FillError> {
        let resumable = Resumable::of(fetched.response.status(), fetched.response.headers());
        let (url, mut response) = (fetched.url, fetched.response);
        let idle = secs(self.settings.idle_timeout);
        let (mut got, mut attempts) = (0u64, 0u8);
        loop {
            let next = tokio::select! {
                next = tokio::time::timeout(idle, response.chunk()) => next,
                () = fill.abandoned() => {
                    if self.abandon(&lane.object, fill) {
                        return Err(FillError::Broken("every request for it went away".into()));
                    }
                    continue;
                }
            };
            match next.map_err(|_| FillError::Stalled)? {
                Ok(Some(chunk)) => {
                    got += chunk.len() as u64;
                    self.metrics.edge.upstream_bytes.inc_by(chunk.len() as u64);
                    // Readers see the bytes past the cap, so that a playlist's own bounded read
                    // refuses it with its own code.
                    fill.push(chunk);
                    if got > limit {
                        let message = format!("the upstream body passed {limit} bytes");
                        return Err(FillError::Broken(message.into()));
                    }
                }
                Ok(None) => return Ok(()),
                Err(e) => {
                    let broken = || FillError::Broken(e.to_string().into());
                    let Some(r) = &resumable else {
                        return Err(broken());
                    };
                    if attempts >= self.settings.resume_attempts {
                        return Err(broken());
                    }
                    attempts += 1;
                    // The broken answer's host slot is given back before the new request.
                    drop(response);
                    let rest = self.fetcher.resume(lane.who(), &url, r, got).await;
                    response = rest.ok_or_else(broken)?;
                    self.metrics.edge.resumes.inc();
                }
            }
        }
    }

    /// The cache entry of a complete body, unless it is a live playlist or already expired.
    fn entry(&self, lane: &Lane, head: &SharedHead, body: Bytes, prefetch: bool) -> Option<Entry> {
        let playlist = sniff(&body) == Sniff::Playlist;
        let kind = if playlist {
            EntryKind::Playlist
        } else {
            EntryKind::Segment
        };
        self.metrics.edge.lookup(kind.label(), "miss");
        if (playlist && policy::is_live_playlist(&body)) || head.expires <= self.clock.unix() {
            return None;
        }
        if playlist {
            self.ahead.index(lane, &head.url, &body);
        }
        let meta = Meta {
            kind,
            headers: head.headers.clone(),
            url: head.url.clone(),
            expires: head.expires,
            prefetched: prefetch.into(),
        };
        Some(Entry {
            meta: Arc::new(meta),
            body,
        })
    }
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.001))
}
