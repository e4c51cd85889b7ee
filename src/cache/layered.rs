//! The cache the resolver uses: an in-process tier that is always there, and Redis as the
//! tier shared by the instances of a cluster when one is configured.
//!
//! Reads try this instance's memory first (no round trip for a hot title), then Redis; a
//! Redis hit is kept in memory for what is left of its life, so it never outlives the
//! earliest expiry of its stream URLs. Writes go to both, except resolutions naming files of
//! this instance's library, which stay in its memory. While Redis is out of use the
//! memory tier alone answers, and errors are not reported per request: the Redis tier logs
//! an outage once and counts every bypassed operation in the metrics.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tracing::{debug, warn};

use super::memory::MemoryCache;
use super::redis::RedisCache;
use super::{Cache, CacheError, CacheKey, CacheResult};
use crate::clock::Clock;
use crate::metrics::{Metrics, TierLabels};
use crate::models::{Resolution, StreamSource};

#[derive(Debug)]
pub struct LayeredCache {
    memory: MemoryCache,
    shared: Option<Arc<RedisCache>>,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
}

impl LayeredCache {
    pub fn new(
        memory: MemoryCache,
        shared: Option<Arc<RedisCache>>,
        clock: Arc<dyn Clock>,
        metrics: Arc<Metrics>,
    ) -> Self {
        LayeredCache {
            memory,
            shared,
            clock,
            metrics,
        }
    }

    pub fn shared(&self) -> Option<&Arc<RedisCache>> {
        self.shared.as_ref()
    }

    fn hit(&self, tier: &str) {
        self.metrics
            .scale
            .tier_hits
            .get_or_create(&TierLabels { tier: tier.into() })
            .inc();
    }
}

/// Logs what the shared tier's own accounting does not: a value that cannot be decoded or
/// encoded is a data problem, worth a warning each time; outages are logged by the tier.
fn note(op: &str, e: &CacheError) {
    match e {
        CacheError::Decode(_) => warn!(op, error = %e, "shared cache value unusable"),
        _ => debug!(op, error = %e, "shared cache not used"),
    }
}

/// Whether a resolution names files of this instance's library: their ids are this
/// instance's (each one numbers the files it scans), meaningless on another.
pub fn is_instance_local(resolution: &Resolution) -> bool {
    let local = |s: &StreamSource| matches!(s, StreamSource::Local { .. });
    resolution.streams.iter().any(|s| local(&s.source))
        || resolution.subtitles.iter().any(|s| local(&s.source))
}

#[async_trait]
impl Cache for LayeredCache {
    async fn get(&self, key: &CacheKey) -> Result<Option<Arc<Resolution>>, CacheError> {
        // An entry too old for the clock (a test clock, or this instance's clock ahead of
        // the writer's) may have a fresher replacement in Redis.
        if let Some(hit) = self.memory.get(key).await?
            && hit.valid_until > self.clock.now()
        {
            self.hit("memory");
            return Ok(Some(hit));
        }
        let Some(shared) = &self.shared else {
            return Ok(None);
        };
        match shared.get(key).await {
            Ok(Some(hit)) => {
                self.hit("redis");
                let left = hit.valid_until - self.clock.now();
                if left.is_positive() {
                    let left = Duration::try_from(left).unwrap_or(Duration::ZERO);
                    self.memory.put(key, hit.clone(), left).await?;
                }
                Ok(Some(hit))
            }
            Ok(None) => Ok(None),
            Err(e) => {
                note("get", &e);
                Ok(None)
            }
        }
    }

    async fn put(&self, key: &CacheKey, value: Arc<Resolution>, ttl: Duration) -> CacheResult {
        self.memory.put(key, value.clone(), ttl).await?;
        if let Some(shared) = &self.shared
            && !is_instance_local(&value)
            && let Err(e) = shared.put(key, value, ttl).await
        {
            note("put", &e);
        }
        Ok(())
    }

    fn backend(&self) -> &'static str {
        match &self.shared {
            Some(shared) => shared.backend(),
            None => self.memory.backend(),
        }
    }

    async fn ping(&self) -> Result<(), CacheError> {
        match &self.shared {
            Some(shared) => shared.ping().await,
            None => Ok(()),
        }
    }
}
