//! The cache's two tiers, both moka caches weighed in bytes (LRU within TinyLFU admission):
//! entries live in memory; what memory evicts for room goes to files in
//! `data_dir/proxy-cache`, whose own evictions delete them. The file tier's index is in
//! memory, so the directory is emptied at every start rather than trusted.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use bytes::Bytes;
use moka::notification::RemovalCause;
use moka::sync::Cache;
use url::Url;

use super::key::Key;
use crate::clock::Clock;
use crate::metrics::Metrics;

/// What an entry holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A segment, an init section, a key: any body relayed unchanged.
    Segment,
    /// A VOD or multivariant playlist as the upstream sent it.
    Playlist,
    /// A playlist rewritten for one sealed context.
    Document,
}

impl EntryKind {
    pub fn label(self) -> &'static str {
        match self {
            EntryKind::Segment => "segment",
            EntryKind::Playlist => "playlist",
            EntryKind::Document => "document",
        }
    }
}

/// Everything about an entry but its bytes.
#[derive(Debug)]
pub struct Meta {
    pub kind: EntryKind,
    /// The upstream's headers (relayed through the same allowlist as a live answer), or a
    /// document's type and caching headers.
    pub headers: HeaderMap,
    /// The URL that answered, after redirects: a playlist's URIs resolve against it.
    pub url: Url,
    /// Unix seconds: the signed URL's expiry, or sooner if the upstream said so.
    pub expires: u64,
    /// Fetched by read-ahead and not asked for yet.
    pub prefetched: AtomicBool,
}

impl Meta {
    /// Counts a read-ahead entry as used (a viewer asked) or wasted (it left unasked), once.
    pub fn settle_read_ahead(&self, metrics: &Metrics, result: &str) {
        if self.prefetched.swap(false, Ordering::Relaxed) {
            metrics.edge.read_ahead(result);
        }
    }
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub meta: Arc<Meta>,
    pub body: Bytes,
}

#[derive(Debug, Clone)]
struct OnDisk {
    meta: Arc<Meta>,
    len: u64,
}

/// Per-entry lifetime: until the entry's expiry by the application's clock.
struct UntilExpiry(Arc<dyn Clock>);

impl UntilExpiry {
    fn left(&self, meta: &Meta) -> Option<Duration> {
        Some(Duration::from_secs(
            meta.expires.saturating_sub(self.0.unix()),
        ))
    }
}

impl moka::Expiry<Key, Entry> for UntilExpiry {
    fn expire_after_create(&self, _: &Key, value: &Entry, _: Instant) -> Option<Duration> {
        self.left(&value.meta)
    }
}

impl moka::Expiry<Key, OnDisk> for UntilExpiry {
    fn expire_after_create(&self, _: &Key, value: &OnDisk, _: Instant) -> Option<Duration> {
        self.left(&value.meta)
    }
}

/// Bookkeeping an entry costs besides its body (its headers, URL, key and moka's node).
const OVERHEAD: u64 = 1024;

fn weight(len: u64) -> u32 {
    u32::try_from(len + OVERHEAD).unwrap_or(u32::MAX)
}

#[derive(Debug)]
pub struct Tiers {
    memory: Cache<Key, Entry>,
    disk: Option<Arc<DiskTier>>,
    clock: Arc<dyn Clock>,
}

#[derive(Debug)]
struct DiskTier {
    dir: PathBuf,
    index: Cache<Key, OnDisk>,
}

/// How big each tier may grow, bytes (0: no such tier).
#[derive(Debug, Clone, Copy)]
pub struct Budgets {
    pub memory: u64,
    pub disk: u64,
}

impl Tiers {
    pub fn new(
        budgets: Budgets,
        dir: &Path,
        clock: Arc<dyn Clock>,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<Tiers> {
        let disk = match budgets.disk {
            0 => None,
            bytes => Some(Arc::new(DiskTier::open(dir, bytes, &clock, &metrics)?)),
        };
        let spill = disk.clone();
        let evicted = metrics.clone();
        let memory = Cache::builder()
            .max_capacity(budgets.memory)
            .weigher(|_, e: &Entry| weight(e.body.len() as u64))
            .expire_after(UntilExpiry(clock.clone()))
            .eviction_listener(move |key: Arc<Key>, entry: Entry, cause| match cause {
                RemovalCause::Size => {
                    evicted.edge.evicted(entry.meta.kind.label(), "memory");
                    match &spill {
                        Some(disk) => disk.spill(*key, entry),
                        None => entry.meta.settle_read_ahead(&evicted, "wasted"),
                    }
                }
                RemovalCause::Expired => entry.meta.settle_read_ahead(&evicted, "wasted"),
                RemovalCause::Explicit | RemovalCause::Replaced => {}
            })
            .build();
        Ok(Tiers {
            memory,
            disk,
            clock,
        })
    }

    /// The entry, from memory or else from disk (then kept in memory again). An expired one
    /// is a miss even before moka drops it.
    pub async fn get(&self, key: &Key) -> Option<(Entry, &'static str)> {
        let now = self.clock.unix();
        if let Some(entry) = self.memory.get(key) {
            return (entry.meta.expires > now).then_some((entry, "memory"));
        }
        let disk = self.disk.as_ref()?;
        let entry = disk.read(key).await?;
        if entry.meta.expires <= now {
            return None;
        }
        self.memory.insert(*key, entry.clone());
        Some((entry, "disk"))
    }

    pub fn insert(&self, key: Key, entry: Entry) {
        self.memory.insert(key, entry);
    }

    pub fn contains(&self, key: &Key) -> bool {
        self.memory.contains_key(key)
    }

    /// Bytes held by each tier, after moka has applied every pending eviction.
    pub fn sizes(&self) -> (u64, u64) {
        self.memory.run_pending_tasks();
        let disk = self.disk.as_ref().map_or(0, |d| {
            d.index.run_pending_tasks();
            d.index.weighted_size()
        });
        (self.memory.weighted_size(), disk)
    }
}

impl DiskTier {
    fn open(
        dir: &Path,
        bytes: u64,
        clock: &Arc<dyn Clock>,
        metrics: &Arc<Metrics>,
    ) -> std::io::Result<DiskTier> {
        match std::fs::remove_dir_all(dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        std::fs::create_dir_all(dir)?;
        let files = dir.to_path_buf();
        let metrics = metrics.clone();
        let index = Cache::builder()
            .max_capacity(bytes)
            .weigher(|_, e: &OnDisk| weight(e.len))
            .expire_after(UntilExpiry(clock.clone()))
            .eviction_listener(move |key: Arc<Key>, entry: OnDisk, cause| {
                if cause == RemovalCause::Replaced {
                    return;
                }
                if cause == RemovalCause::Size {
                    metrics.edge.evicted(entry.meta.kind.label(), "disk");
                }
                entry.meta.settle_read_ahead(&metrics, "wasted");
                let _ = std::fs::remove_file(files.join(key.hex()));
            })
            .build();
        Ok(DiskTier {
            dir: dir.to_path_buf(),
            index,
        })
    }

    /// Writes an entry memory evicted, off the async threads; indexed once written.
    fn spill(self: &Arc<Self>, key: Key, entry: Entry) {
        if self.index.contains_key(&key) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let disk = self.clone();
        runtime.spawn_blocking(move || {
            let path = disk.dir.join(key.hex());
            let temp = disk.dir.join(format!("{}.part", key.hex()));
            let written =
                std::fs::write(&temp, &entry.body).and_then(|()| std::fs::rename(&temp, &path));
            match written {
                Ok(()) => disk.index.insert(
                    key,
                    OnDisk {
                        meta: entry.meta,
                        len: entry.body.len() as u64,
                    },
                ),
                Err(e) => {
                    let _ = std::fs::remove_file(&temp);
                    tracing::warn!(error = %e, "a proxy cache entry could not be written to disk");
                }
            }
        });
    }

    async fn read(&self, key: &Key) -> Option<Entry> {
        let on_disk = self.index.get(key)?;
        let body = tokio::fs::read(self.dir.join(key.hex())).await.ok()?;
        (body.len() as u64 == on_disk.len).then(|| Entry {
            meta: on_disk.meta,
            body: Bytes::from(body),
        })
    }
}
