//! In-process cache (moka) with a TTL chosen per entry.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use moka::Expiry;
use moka::future::Cache as Moka;

use super::{Cache, CacheError, CacheKey, CacheResult};
use crate::models::Resolution;

#[derive(Clone)]
struct Entry {
    value: Arc<Resolution>,
    ttl: Duration,
}

struct PerEntryTtl;

impl Expiry<String, Entry> for PerEntryTtl {
    fn expire_after_create(&self, _: &String, entry: &Entry, _: Instant) -> Option<Duration> {
        Some(entry.ttl)
    }
    fn expire_after_update(
        &self,
        _: &String,
        entry: &Entry,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(entry.ttl)
    }
}

pub struct MemoryCache {
    inner: Moka<String, Entry>,
}

// Holds clients, caches or trait objects whose state says nothing useful in a log.
impl std::fmt::Debug for MemoryCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryCache").finish_non_exhaustive()
    }
}

impl MemoryCache {
    pub fn new(capacity: u64) -> Self {
        MemoryCache {
            inner: Moka::builder()
                .max_capacity(capacity)
                .expire_after(PerEntryTtl)
                .build(),
        }
    }
}

#[async_trait]
impl Cache for MemoryCache {
    async fn get(&self, key: &CacheKey) -> Result<Option<Arc<Resolution>>, CacheError> {
        Ok(self.inner.get(&key.to_string()).await.map(|e| e.value))
    }

    async fn put(&self, key: &CacheKey, value: Arc<Resolution>, ttl: Duration) -> CacheResult {
        self.inner
            .insert(key.to_string(), Entry { value, ttl })
            .await;
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "memory"
    }

    async fn ping(&self) -> Result<(), CacheError> {
        Ok(())
    }
}
