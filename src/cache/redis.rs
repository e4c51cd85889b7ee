//! Redis, the tier every instance of a cluster shares: resolutions as JSON with an `EX` TTL,
//! and the lock that lets one instance resolve a cold title for all of them (`lock.rs`).
//!
//! Redis is an optimisation, never a dependency. Every operation has a time budget; an error
//! or a timeout takes Redis out of use for a back-off (`breaker.rs`) during which requests do
//! not touch it at all, and a background probe brings it back. The server may be down when
//! the instance starts: it starts anyway and connects when Redis answers.

use std::future::Future;
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, RedisResult};
use tracing::{debug, info, warn};

use super::breaker::{Breaker, Status};
use super::{Cache, CacheError, CacheKey, CacheResult};
use crate::config::Settings;
use crate::metrics::{Metrics, OpLabels, RedisOpLabels, TierLabels};
use crate::models::Resolution;

/// The part of the Redis key space an instance shares: instances share resolutions only when
/// they would have produced the same ones. Two instances with different providers (one with
/// the local library, one without; another Consumet; another ranking) must not serve each
/// other's answers, nor two versions whose stored format may differ during a rolling upgrade.
pub fn namespace(settings: &Settings) -> String {
    let mut parts = vec![format!("sokoul {}", env!("CARGO_PKG_VERSION"))];
    if settings.library.enabled {
        parts.push(format!("library {:?}", settings.library.paths));
    }
    let c = &settings.consumet;
    if let Some(url) = &c.url {
        parts.push(format!("consumet {url} {:?} {:?}", c.provider, c.server));
    }
    if !settings.stremio.addons.is_empty() {
        // Without a TMDB key only the addons that take TMDB ids are asked.
        let imdb = settings.tmdb.key.is_some();
        parts.push(format!("stremio {:?} {imdb}", settings.stremio.addons));
    }
    if let (Some(url), Some(_)) = (&settings.jellyfin.url, &settings.jellyfin.api_key) {
        parts.push(format!("jellyfin {url} {:?}", settings.jellyfin.user_id));
    }
    parts.push(format!("order {:?}", settings.resolve.provider_order));
    blake3::hash(parts.join("\n").as_bytes()).to_hex()[..8].to_string()
}

pub struct RedisCache {
    client: redis::Client,
    /// From [`namespace`]: part of every resolution and lock key.
    namespace: String,
    /// `None` until the first successful connection. A probe replaces it with a fresh one.
    conn: RwLock<Option<ConnectionManager>>,
    budget: Duration,
    breaker: Breaker,
    metrics: Arc<Metrics>,
}

// Holds clients, caches or trait objects whose state says nothing useful in a log.
impl std::fmt::Debug for RedisCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCache").finish_non_exhaustive()
    }
}

impl RedisCache {
    /// Connects to the server at `url` (waiting at most about a second) and starts the probe
    /// that reconnects after an outage. Fails only when `url` is not a Redis URL: an
    /// unreachable server is an outage to ride out, not a reason to refuse to start.
    pub async fn start(
        url: &str,
        namespace: String,
        budget: Duration,
        backoff_max: Duration,
        metrics: Arc<Metrics>,
    ) -> Result<Arc<Self>, CacheError> {
        let client = redis::Client::open(url)?;
        let cache = Arc::new(RedisCache {
            client,
            namespace,
            conn: RwLock::new(None),
            budget,
            breaker: Breaker::new(backoff_max),
            metrics,
        });
        match cache.connect().await {
            Ok(conn) => {
                cache.set_conn(conn);
                cache.set_up(true);
            }
            Err(e) => {
                let reason = e.to_string();
                cache.breaker.failed(Instant::now(), &reason);
                cache.set_up(false);
                warn!(error = %reason, "Redis is unreachable; serving from the in-process cache until it answers");
            }
        }
        tokio::spawn(probe_loop(Arc::downgrade(&cache)));
        Ok(cache)
    }

    /// Connecting takes a TCP handshake and a couple of round trips: more than one operation's
    /// budget, but still bounded so that start-up and probes never hang on a black hole.
    fn connect_timeout(&self) -> Duration {
        self.budget.max(Duration::from_secs(1))
    }

    async fn connect(&self) -> Result<ConnectionManager, CacheError> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(self.connect_timeout())
            .set_response_timeout(self.budget)
            // The breaker paces reconnections; the manager's own retries would only hold
            // requests waiting on a reconnect future.
            .set_number_of_retries(0);
        let connecting = ConnectionManager::new_with_config(self.client.clone(), config);
        match tokio::time::timeout(self.connect_timeout(), connecting).await {
            Ok(result) => Ok(result?),
            Err(_) => Err(CacheError::Timeout(self.connect_timeout())),
        }
    }

    fn set_conn(&self, conn: ConnectionManager) {
        *self.conn.write().unwrap_or_else(|p| p.into_inner()) = Some(conn);
    }

    fn current(&self) -> Option<ConnectionManager> {
        self.conn.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set_up(&self, up: bool) {
        self.metrics
            .scale
            .tier_up
            .get_or_create(&TierLabels {
                tier: "redis".into(),
            })
            .set(i64::from(up));
    }

    /// `sokoul:v1:<namespace>:resolve:all:movie/603`.
    pub fn entry_key(&self, key: &CacheKey) -> String {
        format!(
            "sokoul:v1:{}:resolve:{}",
            self.namespace,
            key.scope_and_request()
        )
    }

    /// `sokoul:v1:<namespace>:lock:all:movie/603`.
    pub fn lock_key(&self, key: &CacheKey) -> String {
        format!(
            "sokoul:v1:{}:lock:{}",
            self.namespace,
            key.scope_and_request()
        )
    }

    /// Marks `names` (`sokoul:v1:failing:<fingerprint>`) for `ttl`: the sources the players
    /// reported failing (`resolve::failing`).
    pub async fn set_flag(&self, name: String, ttl: Duration) -> CacheResult {
        self.run("flag", |mut conn| async move {
            conn.set_ex::<_, _, ()>(name, 1u8, ttl.as_secs().max(1))
                .await
        })
        .await
    }

    /// Which of `names` are marked, in order.
    pub async fn flags(&self, names: Vec<String>) -> Result<Vec<bool>, CacheError> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let values: Vec<Option<u8>> = self
            .run("flags", |mut conn| async move {
                redis::cmd("MGET").arg(names).query_async(&mut conn).await
            })
            .await?;
        Ok(values.into_iter().map(|v| v.is_some()).collect())
    }

    /// Whether requests use Redis now.
    pub fn is_up(&self) -> bool {
        self.breaker.is_up()
    }

    /// The error an operation gets while Redis is out of use, saying for how long.
    fn unavailable(&self) -> CacheError {
        CacheError::Unavailable(match self.breaker.status(Instant::now()) {
            Status::Up => "not connected yet".into(),
            Status::Down {
                down_for,
                retry_in,
                reason,
            } => format!(
                "out of use for {:.0} s ({reason}); serving from the in-process cache, next attempt in {:.1} s",
                down_for.as_secs_f64(),
                retry_in.as_secs_f64()
            ),
        })
    }

    /// Runs one operation within the budget, or not at all while Redis is out of use. A
    /// failure takes Redis out of use (logged once per outage, not once per request).
    pub async fn run<T, F, Fut>(&self, op: &'static str, f: F) -> Result<T, CacheError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let conn = match self.current() {
            Some(conn) if self.breaker.is_up() => conn,
            _ => {
                self.metrics
                    .scale
                    .redis_fallbacks
                    .get_or_create(&OpLabels { op: op.into() })
                    .inc();
                return Err(self.unavailable());
            }
        };
        let (kind, error) = match tokio::time::timeout(self.budget, f(conn)).await {
            Ok(Ok(value)) => return Ok(value),
            // The connection's own response timeout is the budget too: whichever fires first.
            Ok(Err(e)) if e.is_timeout() => ("timeout", CacheError::Timeout(self.budget)),
            Ok(Err(e)) => ("error", CacheError::from(e)),
            Err(_) => ("timeout", CacheError::Timeout(self.budget)),
        };
        self.metrics
            .scale
            .redis_errors
            .get_or_create(&RedisOpLabels {
                op: op.into(),
                kind: kind.into(),
            })
            .inc();
        let reason = error.to_string();
        if self.breaker.failed(Instant::now(), &reason) {
            self.set_up(false);
            warn!(op, error = %reason, retry_in_ms = self.breaker.first_backoff().as_millis() as u64,
                "Redis failed; serving from the in-process cache until it answers again");
        }
        Err(error)
    }

    /// A fresh connection and a PING. Fresh because the old connection may sit on a socket
    /// that will never answer, which the connection manager would not replace by itself.
    async fn probe(&self) {
        let attempt = async {
            let mut conn = self.connect().await?;
            let ping = redis::cmd("PING");
            let pong =
                tokio::time::timeout(self.budget, ping.query_async::<String>(&mut conn)).await;
            match pong {
                Ok(pong) => pong.map(|_| conn).map_err(CacheError::from),
                Err(_) => Err(CacheError::Timeout(self.budget)),
            }
        };
        match attempt.await {
            Ok(conn) => {
                self.set_conn(conn);
                if let Some(down_for) = self.breaker.recovered(Instant::now()) {
                    self.set_up(true);
                    info!(
                        down_s = down_for.as_secs_f64(),
                        "Redis answers again; using it again"
                    );
                }
            }
            Err(e) => {
                let kind = if matches!(e, CacheError::Timeout(_)) {
                    "timeout"
                } else {
                    "error"
                };
                self.metrics
                    .scale
                    .redis_errors
                    .get_or_create(&RedisOpLabels {
                        op: "probe".into(),
                        kind: kind.into(),
                    })
                    .inc();
                self.breaker.probe_failed(Instant::now(), &e.to_string());
                debug!(error = %e, "Redis still unreachable");
            }
        }
    }
}

/// Probes Redis while it is out of use, at the breaker's pace. Holds only a weak reference,
/// so it ends with the application.
async fn probe_loop(cache: Weak<RedisCache>) {
    loop {
        let wait = {
            let Some(cache) = cache.upgrade() else { return };
            cache
                .breaker
                .next_probe(Instant::now())
                .unwrap_or_else(|| cache.breaker.first_backoff())
        };
        tokio::time::sleep(wait).await;
        let Some(cache) = cache.upgrade() else { return };
        if cache.breaker.next_probe(Instant::now()) == Some(Duration::ZERO) {
            cache.probe().await;
        }
    }
}

#[async_trait]
impl Cache for RedisCache {
    async fn get(&self, key: &CacheKey) -> Result<Option<Arc<Resolution>>, CacheError> {
        let key = self.entry_key(key);
        let raw: Option<Vec<u8>> = self
            .run("get", |mut conn| async move { conn.get(key).await })
            .await?;
        match raw {
            Some(bytes) => Ok(Some(Arc::new(serde_json::from_slice(&bytes)?))),
            None => Ok(None),
        }
    }

    async fn put(&self, key: &CacheKey, value: Arc<Resolution>, ttl: Duration) -> CacheResult {
        let bytes = serde_json::to_vec(&*value)?;
        let key = self.entry_key(key);
        self.run("put", |mut conn| async move {
            conn.set_ex::<_, _, ()>(key, bytes, ttl.as_secs().max(1))
                .await
        })
        .await
    }

    fn backend(&self) -> &'static str {
        "redis"
    }

    async fn ping(&self) -> Result<(), CacheError> {
        self.run("ping", |mut conn| async move {
            redis::cmd("PING").query_async::<String>(&mut conn).await
        })
        .await
        .map(|_| ())
    }
}
