//! A per-client token bucket on resolves: each one may fan out to every provider, so a client
//! looping on them costs the upstreams far more than it costs us. The proxy is not limited:
//! a playing video makes a request every few seconds and must never be cut off.

use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota};

use crate::config::SecuritySettings;
use crate::error::ApiError;
use crate::startup::AppState;

/// The route templates limited (`api::routes`).
pub const LIMITED_ROUTES: [&str; 3] = [
    "/api/streaming/resolve/{media_type}/{tmdb_id}",
    "/api/streaming/{provider}/{media_type}/{tmdb_id}",
    "/api/streaming/report",
];

/// Clients tracked at once. Beyond it the least recently seen lose their bucket, which only
/// ever gives them a fresh (full) one: memory stays bounded under a flood of addresses.
const MAX_CLIENTS: u64 = 65_536;

#[derive(Debug)]
pub struct ResolveLimiter {
    quota: Quota,
    clock: DefaultClock,
    buckets: moka::sync::Cache<IpAddr, Arc<DefaultDirectRateLimiter>>,
}

impl ResolveLimiter {
    /// `None` when the limit is off.
    pub fn from_settings(s: &SecuritySettings) -> Option<Self> {
        if s.rate_limit_per_second <= 0.0 {
            return None;
        }
        let quota = Quota::with_period(Duration::from_secs_f64(1.0 / s.rate_limit_per_second))?
            .allow_burst(NonZeroU32::new(s.rate_limit_burst)?);
        Some(Self::with_quota(quota))
    }

    fn with_quota(quota: Quota) -> Self {
        // A bucket left alone this long is full again, the same as a new one: forget it.
        let idle = quota.burst_size_replenished_in() + Duration::from_secs(1);
        ResolveLimiter {
            quota,
            clock: DefaultClock::default(),
            buckets: moka::sync::Cache::builder()
                .max_capacity(MAX_CLIENTS)
                .time_to_idle(idle)
                .build(),
        }
    }

    /// One request per `period` per client, after a burst of `burst`.
    pub fn every(period: Duration, burst: u32) -> Self {
        let quota = Quota::with_period(period)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN));
        Self::with_quota(quota)
    }

    /// `Err(wait)` when the client has used its burst and must wait.
    pub fn check(&self, client: IpAddr) -> Result<(), Duration> {
        let bucket = self.buckets.get_with(bucket_key(client), || {
            Arc::new(DefaultDirectRateLimiter::direct_with_clock(
                self.quota,
                self.clock.clone(),
            ))
        });
        bucket
            .check()
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }
}

/// An IPv6 host usually has a whole /64 to pick addresses from: one bucket per /64. The
/// auth failure throttle and the proxy's per-client share of a host's slots count clients the
/// same way.
pub(crate) fn bucket_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(prefix))
        }
        v4 => v4,
    }
}

pub async fn limit_resolves(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let Some(limiter) = &state.security.rate_limit else {
        return next.run(request).await;
    };
    let limited = request
        .extensions()
        .get::<MatchedPath>()
        .is_some_and(|p| LIMITED_ROUTES.contains(&p.as_str()));
    if !limited {
        return next.run(request).await;
    }
    let client = state.security.trusted_proxies.client_ip(&request);
    match limiter.check(client) {
        Ok(()) => next.run(request).await,
        Err(wait) => {
            let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
            tracing::debug!(%client, retry_after = seconds, "resolve rate limit reached");
            let mut response = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("too many resolves from this client; retry in {seconds} s"),
            )
            .into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(per_second: f64, burst: u32) -> Option<ResolveLimiter> {
        ResolveLimiter::from_settings(&SecuritySettings {
            rate_limit_per_second: per_second,
            rate_limit_burst: burst,
            ..SecuritySettings::default()
        })
    }

    #[test]
    fn the_burst_passes_then_the_client_waits_for_the_refill() {
        // One token per 100 s: no refill can happen while the test runs.
        let l = limiter(0.01, 3).unwrap();
        let a: IpAddr = "203.0.113.7".parse().unwrap();
        for _ in 0..3 {
            assert!(l.check(a).is_ok());
        }
        let wait = l.check(a).unwrap_err();
        assert!(
            wait > Duration::from_secs(90) && wait <= Duration::from_secs(100),
            "{wait:?}"
        );
        assert!(l.check("203.0.113.8".parse().unwrap()).is_ok());
    }

    #[test]
    fn ipv6_clients_share_a_bucket_per_64() {
        let l = limiter(0.01, 1).unwrap();
        assert!(l.check("2001:db8:1:2::1".parse().unwrap()).is_ok());
        assert!(l.check("2001:db8:1:2:ffff::9".parse().unwrap()).is_err());
        assert!(l.check("2001:db8:1:3::1".parse().unwrap()).is_ok());
    }

    #[test]
    fn zero_turns_the_limit_off() {
        assert!(limiter(0.0, 40).is_none());
    }
}
