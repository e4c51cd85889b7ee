//! Cross-instance single flight: when several instances get the same cold title at once, one
//! takes a Redis lock and asks the providers; the others wait for its answer.
//!
//! The lock is `SET lock:<key> <random token> NX PX <ttl>`, released by a compare-and-delete
//! script so that an instance whose lock expired never deletes the next holder's. Waiting is a
//! poll with a short back-off (a few round trips per second per waiting title and instance);
//! each poll is one script that returns the cached answer, or the answer the holder published
//! because it may not be cached (a provider failed and nothing was found), or takes the lock
//! when its holder is gone. Redis being slow or down never blocks a resolve: the caller then
//! resolves on its own.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use async_trait::async_trait;
use redis::Script;
use tracing::warn;

use super::CacheKey;
use super::layered::is_instance_local;
use super::redis::RedisCache;
use crate::models::Resolution;

/// How long the answer of an uncacheable resolve stays readable for the instances that
/// waited on it. Waiters poll several times a second, so a few seconds is plenty; a later
/// request never sees it (it is keyed by the holder's token, which only waiters know).
const SHARED_ANSWER_TTL: Duration = Duration::from_secs(5);

/// The outcome of one attempt to become the instance that resolves a title.
#[derive(Debug)]
pub enum Claim {
    /// This instance resolves; give the lease back with [`SharedFlight::release`].
    Leader(Lease),
    /// Another instance holds the lock (its token): poll again later with it.
    Busy(String),
    /// The answer is there: from the cache (`cached`), or the answer of the resolve waited on.
    Done {
        resolution: Arc<Resolution>,
        cached: bool,
    },
    /// Redis is out of use (or failed now): resolve without coordination.
    Unavailable,
}

/// A held lock.
#[derive(Debug)]
pub struct Lease {
    lock_key: String,
    token: String,
}

impl Lease {
    pub fn token(&self) -> &str {
        &self.token
    }
}

#[async_trait]
pub trait SharedFlight: Send + Sync {
    /// Returns the answer if there is one, else tries to take the lock for `ttl`.
    /// `waiting_on` is the token of the holder this instance waits for, if any.
    async fn claim(&self, key: &CacheKey, waiting_on: Option<&str>, ttl: Duration) -> Claim;

    /// Releases the lock if still held, first publishing `uncached` (an answer that was not
    /// written to the cache) for the instances waiting on it.
    async fn release(&self, lease: Lease, uncached: Option<&Resolution>);
}

fn answer_key(token: &str) -> String {
    format!("sokoul:v1:answer:{token}")
}

/// KEYS: the cache entry, the lock, the answer published by the awaited holder.
/// ARGV: our token, the lock's lifetime in ms.
static CLAIM: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local v = redis.call('GET', KEYS[1])
if v then return {'cached', v} end
v = redis.call('GET', KEYS[3])
if v then return {'shared', v} end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {'acquired'} end
return {'busy', redis.call('GET', KEYS[2]) or ''}
",
    )
});

/// KEYS: the lock, the answer key. ARGV: our token, the answer ('' for none), its TTL in ms.
static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if ARGV[2] ~= '' then redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3]) end
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
",
    )
});

fn new_token() -> String {
    format!("{:032x}", rand::random::<u128>())
}

#[async_trait]
impl SharedFlight for RedisCache {
    async fn claim(&self, key: &CacheKey, waiting_on: Option<&str>, ttl: Duration) -> Claim {
        let token = new_token();
        let cache_key = self.entry_key(key);
        let lock = self.lock_key(key);
        // Before the first poll there is no answer to look for: a key that never exists.
        let answer = answer_key(waiting_on.unwrap_or("none"));
        let ttl_ms = ttl.as_millis().max(1) as u64;
        let reply: Result<Vec<Vec<u8>>, _> = {
            let (lock, token) = (lock.clone(), token.clone());
            self.run("lock", move |mut conn| async move {
                CLAIM
                    .key(cache_key)
                    .key(lock)
                    .key(answer)
                    .arg(token)
                    .arg(ttl_ms)
                    .invoke_async(&mut conn)
                    .await
            })
            .await
        };
        let Ok(reply) = reply else {
            return Claim::Unavailable;
        };
        let decode = |bytes: &[u8]| match serde_json::from_slice::<Resolution>(bytes) {
            Ok(r) => Some(Arc::new(r)),
            Err(e) => {
                warn!(error = %e, "a resolution in Redis is not valid; resolving without it");
                None
            }
        };
        match reply.as_slice() {
            [tag] if tag == b"acquired" => Claim::Leader(Lease {
                lock_key: lock,
                token,
            }),
            [tag, holder] if tag == b"busy" => {
                Claim::Busy(String::from_utf8_lossy(holder).into_owned())
            }
            [tag, value] if tag == b"cached" || tag == b"shared" => match decode(value) {
                Some(resolution) => Claim::Done {
                    resolution,
                    cached: tag == b"cached",
                },
                None => Claim::Unavailable,
            },
            _ => {
                warn!("unexpected reply from the lock script; resolving without the lock");
                Claim::Unavailable
            }
        }
    }

    async fn release(&self, lease: Lease, uncached: Option<&Resolution>) {
        // Another instance's library numbers its files differently: it resolves by itself.
        let uncached = uncached.filter(|r| !is_instance_local(r));
        let answer = match uncached.map(serde_json::to_vec).transpose() {
            Ok(answer) => answer.unwrap_or_default(),
            Err(e) => {
                warn!(error = %e, "cannot encode the answer for waiting instances");
                Vec::new()
            }
        };
        let ttl_ms = SHARED_ANSWER_TTL.as_millis() as u64;
        let Lease { lock_key, token } = lease;
        // A failure is already counted and logged by `run`; the lock then expires by itself.
        let _ = self
            .run("unlock", move |mut conn| async move {
                RELEASE
                    .key(lock_key)
                    .key(answer_key(&token))
                    .arg(token)
                    .arg(answer)
                    .arg(ttl_ms)
                    .invoke_async::<i64>(&mut conn)
                    .await
            })
            .await;
    }
}
