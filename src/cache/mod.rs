//! The resolution cache: one trait, two backends (in-process by default, Redis when several
//! instances share the load), and the TTL policy that keeps an entry from outliving its URLs.

pub mod breaker;
pub mod expiry;
pub mod layered;
pub mod lock;
pub mod memory;
pub mod redis;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::config::CacheSettings;
use crate::models::{MediaRequest, OutcomeStatus, Resolution};

/// Which providers a resolution covers: all enabled ones, or one by id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    All,
    One(&'static str),
}

/// A typed cache key. It includes the media type: TMDB movie and tv ids share one number
/// space, so `603` alone names two different titles.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    pub scope: Scope,
    pub request: MediaRequest,
}

impl CacheKey {
    /// `all:movie/603`: what the key names, without the namespace (other Redis keys, such as
    /// the resolve lock, name the same title).
    pub fn scope_and_request(&self) -> String {
        let scope = match &self.scope {
            Scope::All => "all",
            Scope::One(id) => id,
        };
        format!("{scope}:{}", self.request)
    }
}

impl fmt::Display for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sokoul:v1:resolve:{}", self.scope_and_request())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("redis: {0}")]
    Redis(#[from] ::redis::RedisError),
    #[error("cached value is not valid: {0}")]
    Decode(#[from] serde_json::Error),
    #[error("redis did not answer within {} ms", .0.as_millis())]
    Timeout(Duration),
    #[error("redis is {0}")]
    Unavailable(String),
}

impl CacheError {
    /// Cache failures never fail a resolve (the providers are asked instead); these name one
    /// where it is reported (`/readyz`, logs).
    pub fn code(&self) -> &'static str {
        match self {
            CacheError::Redis(_) | CacheError::Unavailable(_) => "cache_unavailable",
            CacheError::Decode(_) => "cache_invalid_value",
            CacheError::Timeout(_) => "cache_timeout",
        }
    }

    pub fn status(&self) -> axum::http::StatusCode {
        match self {
            CacheError::Timeout(_) => axum::http::StatusCode::GATEWAY_TIMEOUT,
            _ => axum::http::StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// What a cache operation gives: a failed one never fails a resolve.
pub type CacheResult<T = ()> = Result<T, CacheError>;

#[async_trait]
pub trait Cache: Send + Sync {
    /// The entry under `key`, if present. Callers still check `valid_until` against their clock.
    async fn get(&self, key: &CacheKey) -> Result<Option<Arc<Resolution>>, CacheError>;
    async fn put(&self, key: &CacheKey, value: Arc<Resolution>, ttl: Duration) -> CacheResult;
    /// `memory` or `redis`, for logs, metrics and `/readyz`.
    fn backend(&self) -> &'static str;
    async fn ping(&self) -> Result<(), CacheError>;
}

/// How long a resolution may be cached, or `None` when it must not be.
///
/// - Nothing found anywhere: the short negative TTL, unless a provider failed (errors are
///   not cached, so the next request asks again).
/// - Sources found: until the earliest stream URL expiry minus a safety margin, never longer
///   than `max_ttl`; shortened to the negative TTL when some provider failed, so a provider
///   that was briefly down is asked again soon.
pub fn ttl_for(
    resolution: &Resolution,
    now: OffsetDateTime,
    settings: &CacheSettings,
) -> Option<Duration> {
    let failed = resolution
        .outcomes
        .iter()
        .any(|o| matches!(o.status, OutcomeStatus::Error | OutcomeStatus::Timeout));
    let negative = Duration::from_secs(settings.negative_ttl.min(settings.max_ttl));
    if resolution.streams.is_empty() {
        return (!failed).then_some(negative);
    }
    let mut ttl = Duration::from_secs(settings.max_ttl);
    if failed {
        ttl = ttl.min(negative);
    }
    if let Some(earliest) = resolution.streams.iter().filter_map(|s| s.expires_at).min() {
        let left = (earliest - now).whole_seconds() - settings.expiry_margin as i64;
        if left <= 0 {
            return None;
        }
        ttl = ttl.min(Duration::from_secs(left as u64));
    }
    Some(ttl)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::*;

    fn resolution(
        expires_in: Option<i64>,
        statuses: &[OutcomeStatus],
        streams: usize,
    ) -> (Resolution, OffsetDateTime) {
        let now = OffsetDateTime::now_utc();
        let mut s = ExtractedStream::remote(
            "consumet",
            url::Url::parse("https://cdn/x.m3u8").unwrap(),
            StreamKind::Hls,
            None,
            Default::default(),
        );
        s.expires_at = expires_in.map(|e| now + time::Duration::seconds(e));
        let r = Resolution {
            media: MediaInfo::from_request(&MediaRequest::movie(1), None),
            streams: vec![s; streams],
            subtitles: vec![],
            markers: None,
            outcomes: statuses
                .iter()
                .map(|st| ProviderOutcome {
                    provider: "p".into(),
                    status: *st,
                    code: None,
                    message: None,
                    sources: 0,
                    skipped: 0,
                    elapsed_ms: 1,
                })
                .collect(),
            valid_until: now,
        };
        (r, now)
    }

    #[test]
    fn ttl_is_bounded_by_the_earliest_url_expiry_minus_margin() {
        let settings = CacheSettings::default();
        let (r, now) = resolution(Some(120), &[OutcomeStatus::Ok], 2);
        assert_eq!(ttl_for(&r, now, &settings), Some(Duration::from_secs(90)));
        let (r, now) = resolution(Some(10_000), &[OutcomeStatus::Ok], 1);
        assert_eq!(ttl_for(&r, now, &settings), Some(Duration::from_secs(900)));
        let (r, now) = resolution(Some(20), &[OutcomeStatus::Ok], 1);
        assert_eq!(
            ttl_for(&r, now, &settings),
            None,
            "too close to expiry to cache"
        );
    }

    #[test]
    fn empty_is_cached_briefly_and_errors_are_not_cached() {
        let settings = CacheSettings::default();
        let (r, now) = resolution(None, &[OutcomeStatus::Empty], 0);
        assert_eq!(ttl_for(&r, now, &settings), Some(Duration::from_secs(45)));
        let (r, now) = resolution(None, &[OutcomeStatus::Empty, OutcomeStatus::Error], 0);
        assert_eq!(ttl_for(&r, now, &settings), None);
        let (r, now) = resolution(None, &[OutcomeStatus::Ok, OutcomeStatus::Timeout], 1);
        assert_eq!(ttl_for(&r, now, &settings), Some(Duration::from_secs(45)));
    }

    #[test]
    fn keys_separate_movies_from_series_with_the_same_id() {
        let movie = CacheKey {
            scope: Scope::All,
            request: MediaRequest::movie(1396),
        };
        let tv = CacheKey {
            scope: Scope::All,
            request: MediaRequest::episode(1396, 1, 1),
        };
        assert_ne!(movie.to_string(), tv.to_string());
        assert_eq!(movie.to_string(), "sokoul:v1:resolve:all:movie/1396");
    }
}
