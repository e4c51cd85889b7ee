//! request → cache → plan → concurrent providers (each under its own timeout) → merge/rank →
//! cache. One failing provider never fails the request: its failure becomes an outcome.

pub mod breaker;
pub mod rank;
pub mod singleflight;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::join_all;
use tracing::{Instrument, debug, info_span, warn};

use crate::cache::{Cache, CacheKey, Scope, expiry, ttl_for};
use crate::clock::Clock;
use crate::config::{CacheSettings, ResilienceSettings};
use crate::metrics::{Metrics, OutcomeLabels};
use crate::models::{
    MediaInfo, MediaRequest, OutcomeStatus, ProviderOutcome, ProviderStreams, Resolution,
    StreamSource,
};
use crate::providers::{PROVIDER_IDS, Provider, ProviderError};
use breaker::{Admission, Breaker};
use singleflight::SingleFlight;
use time::OffsetDateTime;

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ResolveError {
    #[error("unknown provider '{0}': expected one of consumet, stremio, jellyfin, library")]
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
        let id = PROVIDER_IDS
            .iter()
            .find(|id| **id == provider)
            .ok_or_else(|| ResolveError::UnknownProvider(provider.chars().take(32).collect()))?;
        if self.providers.iter().any(|p| p.manifest().id == *id) {
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
        let key = CacheKey { scope, request };
        if let Some(hit) = self.cached(&key).await {
            return Ok(hit);
        }
        let this = self.clone();
        let flight_key = key.clone();
        self.flights
            .run(flight_key, move || async move {
                // A flight that just finished may have filled the cache while we queued.
                if let Some(hit) = this.cached(&key).await {
                    return hit;
                }
                this.metrics.cache_result(false);
                let FannedOut {
                    resolution,
                    probe_at,
                } = this.fan_out(&key).await;
                let resolution = Arc::new(resolution);
                this.store(&key, resolution.clone(), probe_at).await;
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

    async fn store(
        &self,
        key: &CacheKey,
        resolution: Arc<Resolution>,
        probe_at: Option<OffsetDateTime>,
    ) {
        let now = self.clock.now();
        let Some(mut ttl) = ttl_for(&resolution, now, &self.cache_settings) else {
            return;
        };
        // A skipped provider is an error outcome, so the TTL is already short; it must also
        // end when the provider may be probed, or the cache would hide its recovery.
        if let Some(probe_at) = probe_at {
            let left = (probe_at - now).whole_seconds();
            if left <= 0 {
                return;
            }
            ttl = ttl.min(Duration::from_secs(left as u64));
        }
        let mut stored = (*resolution).clone();
        stored.valid_until = now + ttl;
        if let Err(e) = self.cache.put(key, Arc::new(stored), ttl).await {
            warn!(backend = self.cache.backend(), error = %e, "cache write failed");
        }
    }

    async fn fan_out(&self, key: &CacheKey) -> FannedOut {
        let request = key.request;
        let planned: Vec<_> = self
            .providers
            .iter()
            .zip(&self.breakers)
            .filter(|(p, _)| match &key.scope {
                Scope::All => true,
                Scope::One(id) => p.manifest().id == *id,
            })
            .filter(|(p, _)| p.manifest().supports(&request))
            .collect();
        let timeout = self.provider_timeout;
        let calls = planned.into_iter().map(|(provider, breaker)| {
            let id = provider.manifest().id;
            let span = info_span!("provider", provider = id, request = %request);
            async move {
                let started = Instant::now();
                let permit = match breaker.admit() {
                    Admission::Go(permit) => permit,
                    Admission::Skip(skipped) => {
                        let error =
                            ProviderError::upstream(breaker::CIRCUIT_OPEN, skipped.message());
                        return (id, started.elapsed(), Err(error), Some(skipped));
                    }
                };
                let result = match tokio::time::timeout(timeout, provider.resolve(&request)).await {
                    Ok(r) => r,
                    Err(_) => Err(ProviderError::Timeout(format!(
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
                (id, started.elapsed(), result, None)
            }
            .instrument(span)
        });
        let results = join_all(calls).await;
        let probe_at = results
            .iter()
            .filter_map(|(_, _, _, skipped)| skipped.as_ref())
            .map(|s| s.until.unwrap_or_else(|| self.clock.now()))
            .min();

        let mut streams = Vec::new();
        let mut subtitles = Vec::new();
        let mut markers = None;
        let mut title = None;
        let mut outcomes = Vec::with_capacity(results.len());
        for (id, elapsed, result, _) in results {
            let outcome = outcome(id, elapsed, &result);
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
            outcomes.push(outcome);
            if let Ok(found) = result {
                title = title.or(found.title);
                if markers.is_none()
                    && found.markers.as_ref().is_some_and(|m| !m.is_empty())
                    && !found.streams.is_empty()
                {
                    markers = found.markers;
                }
                streams.extend(found.streams);
                for sub in found.subtitles {
                    if !subtitles
                        .iter()
                        .any(|s: &crate::models::Subtitle| s.source == sub.source)
                    {
                        subtitles.push(sub);
                    }
                }
            }
        }
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
                media: MediaInfo::from_request(&request, title),
                streams,
                subtitles,
                markers,
                outcomes,
                valid_until: self.clock.now(),
            },
            probe_at,
        }
    }
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
                ProviderError::Timeout(_) => OutcomeStatus::Timeout,
                _ => OutcomeStatus::Error,
            };
            o.code = Some(e.code().to_string());
            o.message = Some(e.to_string());
        }
    }
    o
}
