//! Hardening at the HTTP edge (README, "Security"):
//!
//! - `auth`: a session cookie or `SOKOUL_API_TOKEN` on `/api/**`, member/admin roles, and the signed media URLs that let `<img>`,
//!   `<video>` and hls.js load library files, which cannot send an `Authorization` header;
//! - `headers`: security headers on every response and the dashboard's Content-Security-Policy;
//! - `limits`: request body and request target sizes;
//! - `rate_limit`: a per-client token bucket on resolves, keyed by `client_ip`;
//! - `host`: the `Host` names answered (DNS rebinding) and cross-site state changes refused;
//! - `send_timeout`: a client that accepts no byte of its response for a while is disconnected.

mod auth;
pub mod client_ip;
pub mod headers;
pub mod host;
pub mod limits;
pub mod media_url;
pub mod rate_limit;
pub mod send_timeout;

pub use auth::{FailureThrottle, admin_only, require_token};

use std::time::Duration;

use crate::config::Settings;

/// The security state shared by the middleware, built once at startup.
pub struct Security {
    /// Signs and verifies media URLs; `None` without an API token (nothing to get past).
    pub media_urls: Option<media_url::MediaUrls>,
    /// `None` when the limit is off (`rate_limit_per_second = 0`).
    pub rate_limit: Option<rate_limit::ResolveLimiter>,
    pub trusted_proxies: client_ip::TrustedProxies,
    pub csp: headers::DashboardCsp,
    pub allowed_hosts: host::AllowedHosts,
    /// Wrong API tokens per client.
    pub auth_failures: FailureThrottle,
    /// Resolves that bypass the cache (`?fresh=1`) per client: each asks every provider, so
    /// a player's "Réessayer" may, a script hammering it may not.
    pub fresh_limit: rate_limit::ResolveLimiter,
}

impl Security {
    /// `secret` is the proxy signing secret: media URLs verify on every instance that shares it.
    pub fn new(settings: &Settings, secret: &[u8]) -> Self {
        Security {
            media_urls: settings
                .api_token
                .as_ref()
                .map(|token| media_url::MediaUrls::new(secret, token.expose())),
            rate_limit: rate_limit::ResolveLimiter::from_settings(&settings.security),
            // Two at once (a double click), then one per 10 s.
            fresh_limit: rate_limit::ResolveLimiter::every(Duration::from_secs(10), 2),
            trusted_proxies: client_ip::TrustedProxies::from_settings(
                &settings.security.trusted_proxies,
            ),
            csp: headers::DashboardCsp::new(settings.dashboard_dir.join("index.html")),
            allowed_hosts: host::AllowedHosts::from_settings(&settings.security.allowed_hosts),
            auth_failures: FailureThrottle::default(),
        }
    }

    /// A same-origin library path (`/api/media/…`, `/api/library/poster/…`) as the browser
    /// must load it: with a media token when the API needs one, unchanged otherwise.
    pub fn media_url(&self, path: &str, expires: u64) -> String {
        match &self.media_urls {
            Some(urls) => urls.sign(path, expires),
            None => path.to_owned(),
        }
    }
}

impl std::fmt::Debug for Security {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Security")
            .field("media_urls", &self.media_urls.is_some())
            .field("rate_limit", &self.rate_limit.is_some())
            .finish_non_exhaustive()
    }
}
