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

use crate::accounts::Caller;
use crate::config::Settings;
use media_url::Binding;

/// The security state shared by the middleware, built once at startup.
pub struct Security {
    /// Signs and verifies media URLs (used once the API needs a credential).
    pub media_urls: media_url::MediaUrls,
    /// Whether `SOKOUL_API_TOKEN` is set: a caller without an account is then that token.
    api_token: bool,
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
            media_urls: media_url::MediaUrls::new(
                secret,
                settings.api_token.as_ref().map_or("", |t| t.expose()),
            ),
            api_token: settings.api_token.is_some(),
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
    /// must load it: with a media token bound as [`Security::binding`] says, unchanged for
    /// `None`.
    pub fn media_url(&self, path: &str, expires: u64, binding: Option<Binding>) -> String {
        match binding {
            Some(binding) => self.media_urls.sign(path, expires, binding),
            None => path.to_owned(),
        }
    }

    /// What the media tokens handed to `caller` are bound to:
    /// - a browser session: that session, so they die with it;
    /// - `SOKOUL_API_TOKEN`: nothing (rotating the token revokes them);
    /// - a personal API token: no token at all, the URLs stay plain. Its scripts send their
    ///   `Authorization` to the media routes too, and a plain URL cannot outlive a revoked
    ///   token, where a signed one would live out its `url_ttl`;
    /// - nobody (a server without accounts nor token): no token either, none is needed.
    pub fn binding(&self, caller: Option<&Caller>) -> Option<Binding> {
        match caller?.account.as_deref() {
            Some(row) if !caller?.by_token => Some(Binding::Session(
                crate::accounts::session::short(&row.id_hash),
            )),
            Some(_) => None,
            None => self.api_token.then_some(Binding::Unbound),
        }
    }
}

impl std::fmt::Debug for Security {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Security")
            .field("api_token", &self.api_token)
            .field("rate_limit", &self.rate_limit.is_some())
            .finish_non_exhaustive()
    }
}
