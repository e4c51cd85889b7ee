//! Sources the players reported failing (issue 17): known to every instance for a short time
//! (`resolve.failing_ttl`), in Redis when configured (so a report to one instance demotes the
//! source on all), else in this process. A cached answer leaves them out; a fresh one ranks
//! them last (they may work again, and a last resort beats nothing).
//!
//! A source is named by a fingerprint of its provider and upstream URL, the same whether it
//! comes from a verified report (the proxy URL the player was given) or from a resolution.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use crate::cache::redis::RedisCache;
use crate::models::{ExtractedStream, StreamSource};

#[derive(Debug)]
pub struct FailingSources {
    memory: moka::sync::Cache<String, ()>,
    redis: Option<Arc<RedisCache>>,
    ttl: Duration,
}

/// `provider` and `upstream` hashed: what a report and a resolution agree on, and nothing a
/// Redis reader could turn back into a URL (which may carry a credential).
pub fn fingerprint(provider: Option<&str>, upstream: &str) -> String {
    let mut h = blake3::Hasher::new();
    h.update(b"sokoul failing source v1\0");
    h.update(provider.unwrap_or("").as_bytes());
    h.update(b"\0");
    h.update(upstream.as_bytes());
    h.finalize().to_hex()[..32].to_string()
}

/// A stream's fingerprint; a library file is never reported (it has no proxy URL).
pub fn of_stream(stream: &ExtractedStream) -> Option<String> {
    match &stream.source {
        StreamSource::Remote { url, .. } => Some(fingerprint(Some(&stream.provider), url.as_str())),
        StreamSource::Local { .. } => None,
    }
}

impl FailingSources {
    pub fn new(ttl: Duration, redis: Option<Arc<RedisCache>>) -> FailingSources {
        FailingSources {
            // Reports are rate-limited per client; this bounds what a flood of them can hold.
            memory: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(ttl)
                .build(),
            redis,
            ttl,
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Marks a source failing here and, when there is one, in Redis for every instance.
    pub async fn mark(&self, fingerprint: String) {
        if let Some(redis) = &self.redis
            && let Err(e) = redis.set_flag(key(&fingerprint), self.ttl).await
        {
            tracing::info!(error = %e, "failing source kept in this instance only");
        }
        self.memory.insert(fingerprint, ());
    }

    /// Which of `fingerprints` are failing: reported here, or to any instance through Redis.
    pub async fn failing(&self, fingerprints: &[String]) -> HashSet<String> {
        let mut out: HashSet<String> = fingerprints
            .iter()
            .filter(|f| self.memory.contains_key(*f))
            .cloned()
            .collect();
        if let Some(redis) = &self.redis {
            let names = fingerprints.iter().map(|f| key(f)).collect();
            if let Ok(flags) = redis.flags(names).await {
                let marked = fingerprints.iter().zip(flags).filter(|(_, on)| *on);
                out.extend(marked.map(|(f, _)| f.clone()));
            }
        }
        out
    }
}

fn key(fingerprint: &str) -> String {
    format!("sokoul:v1:failing:{fingerprint}")
}
