//! request → cache → plan → concurrent providers (each under its own timeout) → merge/rank →
//! cache. One failing provider never fails the request: its failure becomes an outcome.

pub mod breaker;
pub mod failing;
pub mod merge;
pub mod plan;
pub mod prefer;
pub mod rank;
pub mod singleflight;
pub mod tags;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::join_all;
use tracing::{Instrument, debug, info_span, warn};

use crate::cache::lock::{Claim, Lease, SharedFlight};
use crate::cache::{Cache, CacheKey, Scope, expiry, ttl_for};
use crate::clock::Clock;
use crate::config::{CacheSettings, ResilienceSettings};
use crate::metrics::{Metrics, OutcomeLabels};
use crate::models::{
    MediaInfo, MediaRequest, OutcomeStatus, ProviderOutcome, ProviderStreams, Resolution,
    StreamSource,
};
use crate::providers::{Provider, ProviderError, ProviderId};
use breaker::{Admission, Breaker};
use singleflight::SingleFlight;
use time::OffsetDateTime;

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ResolveError {
    #[error("unknown provider '{0}': expected one of {list}", list = provider_list())]
    UnknownProvider(String),
    #[error("the {0} provider is not enabled on this server")]
    ProviderDisabled(&'static str),
    #[error("the resolve failed unexpectedly")]
    Internal,
}

impl ResolveError {
    pub fn code(&self) -> &'static str {
        match self {
            ResolveError::UnknownProvider(_) => "unknown_provider",
            ResolveError::ProviderDisabled(_) => "provider_disabled",
            ResolveError::Internal => "internal",
        }
    }
}

/// `consumet, stremio, jellyfin, library`: the ids an unknown provider could have been.
fn provider_list() -> String {
    ProviderId::ALL.map(ProviderId::as_str).join(", ")
}

/// The resolver's answer: the resolution and whether it came from the cache.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub resolution: Arc<Resolution>,
    pub cached: bool,
}

pub struct Resolver {
    providers: Vec<Arc<dyn Provider>>,
    cache: Arc<dyn Cache>,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
    cache_settings: CacheSettings,
    provider_timeout: Duration,
    provider_order: Vec<String>,
    flights: SingleFlight<CacheKey, Resolved>,
    /// One per provider, in the order of `providers`.
    breakers: Vec<Breaker>,
    shared: Option<SharedParts>,
}

// Holds clients, caches or trait objects whose state says nothing useful in a log.
impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver").finish_non_exhaustive()
    }
}

/// Cross-instance single flight, when instances share a Redis.
pub struct SharedParts {
    pub flight: Arc<dyn SharedFlight>,
    /// Lifetime of the lock held while resolving.
    pub lock_ttl: Duration,
    /// Longest wait for another instance's answer before resolving here.
    pub lock_wait: Duration,
}

// Holds clients, caches or trait objects whose state says nothing useful in a log.
impl std::fmt::Debug for SharedParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedParts").finish_non_exhaustive()
    }
}

/// The longest pause between two looks at another instance's resolve: what a waiting
/// instance adds, at most, to the time that resolve takes.
const MAX_POLL: Duration = Duration::from_millis(100);

/// Whether this instance's flight leader asks the providers, and under which lock.
enum Coordination {
    Resolve(Option<Lease>),
    Answered(Resolved),
}

pub struct ResolverParts {
    pub providers: Vec<Arc<dyn Provider>>,
    pub cache: Arc<dyn Cache>,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<Metrics>,
    pub cache_settings: CacheSettings,
    pub provider_timeout: Duration,
    pub provider_order: Vec<String>,
    pub resilience: ResilienceSettings,
    pub shared: Option<SharedParts>,
}

// Holds clients, caches or trait objects whose state says nothing useful in a log.
impl std::fmt::Debug for ResolverParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResolverParts").finish_non_exhaustive()
    }
}

/// A fan-out's resolution, and when the earliest provider skipped by its breaker will be
/// probed (the resolution must not be cached beyond that).
struct FannedOut {
    resolution: Resolution,
    probe_at: Option<OffsetDateTime>,
}

impl Resolver {
    pub fn new(parts: ResolverParts) -> Arc<Self> {
        let breakers = parts
            .providers
            .iter()
            .map(|p| {
                Breaker::new(
                    p.manifest().id,
                    &parts.resilience,
                    parts.clock.clone(),
                    parts.metrics.clone(),
                )
            })
            .collect();
        Arc::new(Resolver {
            breakers,
            providers: parts.providers,
            cache: parts.cache,
            clock: parts.clock,
            metrics: parts.metrics,
            cache_settings: parts.cache_settings,
            provider_timeout: parts.provider_timeout,
            provider_order: parts.provider_order,
            flights: SingleFlight::default(),
            shared: parts.shared,
        })
    }

    pub fn providers(&self) -> &[Arc<dyn Provider>] {
        &self.providers
    }

    pub fn cache(&self) -> &Arc<dyn Cache> {
        &self.cache
    }

    /// The circuit breaker of an enabled provider.
    pub fn breaker(&self, provider: &str) -> Option<&Breaker> {
        self.providers
            .iter()
            .position(|p| p.manifest().id == provider)
            .and_then(|i| self.breakers.get(i))
    }

    /// Turns the `{provider}` path segment into a scope.
    pub fn scope(&self, provider: &str) -> Result<Scope, ResolveError> {
        if provider == "resolve" {
            return Ok(Scope::All);
        }
        let id = provider
            .parse::<ProviderId>()
            .map_err(|e| ResolveError::UnknownProvider(e.0))?
            .as_str();
        if self.providers.iter().any(|p| p.manifest().id == id) {
            Ok(Scope::One(id))
        } else {
            Err(ResolveError::ProviderDisabled(id))
        }
    }

    pub async fn resolve(
        self: &Arc<Self>,
        request: MediaRequest,
        scope: Scope,
    ) -> Result<Resolved, ResolveError> {
        self.resolve_with(request, scope, false).await
    }

    /// A resolve that asks the providers again whatever the cache holds (the player's
    /// "Réessayer" after a source failed), and stores the new answer for everyone.
    pub async fn resolve_fresh(
        self: &Arc<Self>,
        request: MediaRequest,
        scope: Scope,
    ) -> Result<Resolved, ResolveError> {
        self.resolve_with(request, scope, true).await
    }

    async fn resolve_with(
        self: &Arc<Self>,
        request: MediaRequest,
        scope: Scope,
        fresh: bool,
    ) -> Result<Resolved, ResolveError> {
        let key = CacheKey { scope, request };
        if !fresh && let Some(hit) = self.cached(&key).await {
            return Ok(hit);
        }
        let this = self.clone();
        let flight_key = key.clone();
        self.flights
            .run(flight_key, move || async move {
                // A flight that just finished may have filled the cache while we queued.
                if !fresh && let Some(hit) = this.cached(&key).await {
                    return hit;
                }
                // A fresh resolve must not take another instance's answer either: that is
                // the cached one it was asked to bypass.
                let lease = match fresh {
                    true => None,
                    false => match this.coordinate(&key).await {
                        Coordination::Resolve(lease) => lease,
                        Coordination::Answered(resolved) => return resolved,
                    },
                };
                this.metrics.cache_result(false);
                let FannedOut {
                    resolution,
                    probe_at,
                } = this.fan_out(&key).await;
                let resolution = Arc::new(resolution);
                let stored = this.store(&key, resolution.clone(), probe_at).await;
                if let (Some(shared), Some(lease)) = (&this.shared, lease) {
                    let uncached = (!stored).then_some(&*resolution);
                    shared.flight.release(lease, uncached).await;
                }
                Resolved {
                    resolution,
                    cached: false,
                }
            })
            .await
            .map_err(|e| {
                warn!(error = %e, "resolve task failed");
                ResolveError::Internal
            })
    }

    async fn cached(&self, key: &CacheKey) -> Option<Resolved> {
        match self.cache.get(key).await {
            Ok(Some(resolution)) if resolution.valid_until > self.clock.now() => {
                self.metrics.cache_result(true);
                Some(Resolved {
                    resolution,
                    cached: true,
                })
            }
            Ok(_) => None,
            Err(e) => {
                warn!(backend = self.cache.backend(), error = %e, "cache read failed; resolving without it");
                None
            }
        }
    }

    /// Other instances may be resolving the same title: take the lock, or wait for the
    /// holder's answer, or (Redis out of use, or waited too long) resolve without the lock.
    async fn coordinate(&self, key: &CacheKey) -> Coordination {
        let Some(shared) = &self.shared else {
            return Coordination::Resolve(None);
        };
        let lock = |result: &str| self.metrics.scale.lock_result(result);
        let deadline = Instant::now() + shared.lock_wait;
        let mut holder: Option<String> = None;
        let mut pause = Duration::from_millis(10);
        loop {
            match shared
                .flight
                .claim(key, holder.as_deref(), shared.lock_ttl)
                .await
            {
                Claim::Leader(lease) => {
                    lock("acquired");
                    return Coordination::Resolve(Some(lease));
                }
                Claim::Busy(token) => holder = Some(token),
                Claim::Done { resolution, cached } => {
                    // Our clock is ahead of the writer's: too old here, resolve anew.
                    if cached && resolution.valid_until <= self.clock.now() {
                        return Coordination::Resolve(None);
                    }
                    if holder.is_some() {
                        lock("waited");
                    }
                    if cached {
                        self.metrics.cache_result(true);
                    }
                    return Coordination::Answered(Resolved { resolution, cached });
                }
                Claim::Unavailable => {
                    lock("unavailable");
                    return Coordination::Resolve(None);
                }
            }
            if Instant::now() + pause > deadline {
                lock("timed_out");
                warn!(key = %key, wait_s = shared.lock_wait.as_secs_f64(),
                    "another instance's resolve did not finish in time; resolving here");
                return Coordination::Resolve(None);
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(MAX_POLL);
        }
    }

    /// Caches the resolution if its TTL policy allows; returns whether it did.
    async fn store(
        &self,
        key: &CacheKey,
        resolution: Arc<Resolution>,
        probe_at: Option<OffsetDateTime>,
    ) -> bool {
        let now = self.clock.now();
        let Some(mut ttl) = ttl_for(&resolution, now, &self.cache_settings) else {
            return false;
        };
        // A skipped provider is an error outcome, so the TTL is already short; it must also
        // end when the provider may be probed, or the cache would hide its recovery.
        if let Some(probe_at) = probe_at {
            let left = (probe_at - now).whole_seconds();
            if left <= 0 {
                return false;
            }
            ttl = ttl.min(Duration::from_secs(left as u64));
        }
        let mut stored = (*resolution).clone();
        stored.valid_until = now + ttl;
        if let Err(e) = self.cache.put(key, Arc::new(stored), ttl).await {
            warn!(backend = self.cache.backend(), error = %e, "cache write failed");
        }
        true
    }

    /// Asks the planned providers at once, then merges their answers and ranks the streams.
    async fn fan_out(&self, key: &CacheKey) -> FannedOut {
        let request = key.request;
        let manifests = self.providers.iter().map(|p| p.manifest());
        let planned = plan::plan(manifests, &key.scope, &request);
        let results = join_all(planned.into_iter().map(|i| self.ask(i, request))).await;
        let probe_at = results
            .iter()
            .filter_map(|asked| asked.skipped.as_ref())
            .map(|s| s.until.unwrap_or_else(|| self.clock.now()))
            .min();
        let mut merged = ProviderStreams::default();
        let mut outcomes = Vec::with_capacity(results.len());
        for asked in results {
            let outcome = outcome(asked.id, asked.elapsed, &asked.result);
            self.record(&outcome);
            outcomes.push(outcome);
            if let Ok(found) = asked.result {
                merge::merge(&mut merged, found);
            }
        }
        let mut streams = merged.streams;
        for stream in &mut streams {
            if stream.expires_at.is_none()
                && let StreamSource::Remote { url, .. } = &stream.source
            {
                stream.expires_at = expiry::url_expiry(url);
            }
        }
        rank::rank(&mut streams, &self.provider_order);
        FannedOut {
            resolution: Resolution {
                media: MediaInfo::from_request(&request, merged.title),
                streams,
                subtitles: merged.subtitles,
                markers: merged.markers,
                outcomes,
                valid_until: self.clock.now(),
            },
            probe_at,
        }
    }

    /// One provider, through its breaker and under the provider timeout.
    async fn ask(&self, index: usize, request: MediaRequest) -> Asked {
        let (provider, breaker) = (&self.providers[index], &self.breakers[index]);
        let id = provider.manifest().id;
        let timeout = self.provider_timeout;
        let span = info_span!("provider", provider = id, request = %request);
        async move {
            let started = Instant::now();
            let permit = match breaker.admit() {
                Admission::Go(permit) => permit,
                Admission::Skip(skipped) => {
                    let error = ProviderError::upstream(breaker::CIRCUIT_OPEN, skipped.message());
                    return Asked {
                        id,
                        elapsed: started.elapsed(),
                        result: Err(error),
                        skipped: Some(skipped),
                    };
                }
            };
            let result = match tokio::time::timeout(timeout, provider.resolve(&request)).await {
                Ok(r) => r.map(ProviderStreams::bounded),
                Err(_) => Err(ProviderError::timeout(format!(
                    "{id} did not answer within {:.1} s",
                    timeout.as_secs_f64()
                ))),
            };
            let failed = match &result {
                Ok(_) | Err(ProviderError::NotFound { .. }) => false,
                Err(e) => {
                    breaker.note_error(&e.to_string());
                    true
                }
            };
            permit.record(!failed);
            Asked {
                id,
                elapsed: started.elapsed(),
                result,
                skipped: None,
            }
        }
        .instrument(span)
        .await
    }

    /// Counts the outcome and logs it at the level it deserves.
    fn record(&self, outcome: &ProviderOutcome) {
        let id = outcome.provider.as_str();
        self.metrics
            .resolve_outcomes
            .get_or_create(&OutcomeLabels {
                provider: id.into(),
                status: outcome.status.as_str().into(),
            })
            .inc();
        match &outcome.status {
            OutcomeStatus::Ok | OutcomeStatus::Empty => {
                debug!(
                    provider = id,
                    status = outcome.status.as_str(),
                    sources = outcome.sources,
                    "provider answered"
                )
            }
            // The breaker logged its opening once; every skip is not news.
            _ if outcome.code.as_deref() == Some(breaker::CIRCUIT_OPEN) => {
                debug!(provider = id, "provider skipped: circuit open")
            }
            _ => {
                warn!(provider = id, status = outcome.status.as_str(), code = ?outcome.code, message = ?outcome.message, "provider failed")
            }
        }
    }
}

/// How asking one provider ended, and, when its breaker skipped it, until when.
struct Asked {
    id: &'static str,
    elapsed: Duration,
    result: Result<ProviderStreams, ProviderError>,
    skipped: Option<breaker::Skipped>,
}

fn outcome(
    provider: &str,
    elapsed: Duration,
    result: &Result<ProviderStreams, ProviderError>,
) -> ProviderOutcome {
    let mut o = ProviderOutcome {
        provider: provider.to_string(),
        status: OutcomeStatus::Ok,
        code: None,
        message: None,
        sources: 0,
        skipped: 0,
        elapsed_ms: elapsed.as_millis() as u64,
    };
    match result {
        Ok(found) if !found.streams.is_empty() => {
            o.sources = found.streams.len() as u32;
            o.skipped = found.skipped;
        }
        Ok(found) => {
            o.status = OutcomeStatus::Empty;
            o.skipped = found.skipped;
            o.code = Some("no_sources".into());
            o.message = Some(if found.skipped > 0 {
                format!(
                    "{provider} found {} stream(s), none playable in a browser",
                    found.skipped
                )
            } else {
                format!("{provider} found no playable source")
            });
        }
        Err(e) => {
            o.status = match e {
                ProviderError::NotFound { .. } => OutcomeStatus::Empty,
                ProviderError::Timeout { .. } => OutcomeStatus::Timeout,
                _ => OutcomeStatus::Error,
            };
            o.code = Some(e.code().to_string());
            // Error texts quote upstream answers.
            let mut message = e.to_string();
            crate::models::cap_text(&mut message, crate::models::MAX_PROVIDER_TEXT);
            o.message = Some(message);
        }
    }
    o
}
