//! The one outbound HTTP client, shared by every provider and the proxy.
//!
//! Redirects are never followed automatically: the proxy follows them itself so it can
//! check every hop and resolve playlist URIs against the final URL, and a provider that gets
//! a redirect (a Consumet instance in DEMO mode) reports it instead of parsing HTML.

pub mod body;
pub mod connector;
pub mod guard;
pub mod json;
pub mod outbound;
pub mod retry;
pub mod socks_relay;

use std::sync::Arc;
use std::time::Duration;

use crate::config::Settings;
use guard::{Guard, GuardedResolver};

pub const USER_AGENT: &str = concat!("sokoul/", env!("CARGO_PKG_VERSION"));

/// The client resolves names through the SSRF guard, so no request (proxy or provider) can
/// connect to a private address the guard did not allow. With `upstream.proxy`, the hosts its
/// rules name go through the loopback relay of [`socks_relay`], which asks the proxy for the
/// checked address. Must run inside the Tokio runtime (the relay is a task).
pub fn build_client(settings: &Settings, guard: Arc<Guard>) -> anyhow::Result<reqwest::Client> {
    let outbound = outbound::Outbound::from_settings(settings, guard.clone())?;
    let mut builder = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(Arc::new(GuardedResolver::new(guard)))
        // An HTTP(S)_PROXY from the environment would resolve names on its side, out of the
        // guard's reach.
        .no_proxy();
    if let Some(outbound) = outbound {
        let relay = socks_relay::spawn(outbound.clone())?;
        builder = builder.proxy(reqwest::Proxy::custom(move |url| {
            let host = url.host_str()?;
            outbound.routes(host).then(|| relay.clone())
        }));
    }
    Ok(builder
        .connect_timeout(Duration::from_secs_f64(settings.proxy.connect_timeout))
        .pool_idle_timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(64)
        .tcp_nodelay(true)
        .build()?)
}

/// `path` (relative, no leading `/`) under a provider's configured base URL, which always ends
/// in `/` (so a base with a path prefix, `https://host/consumet/`, keeps it), plus a query.
pub fn endpoint(base: &url::Url, path: &str, query: &[(&str, &str)]) -> url::Url {
    let mut url = base.join(path).expect("a relative path joins a base URL");
    if !query.is_empty() {
        url.query_pairs_mut().extend_pairs(query);
    }
    url
}

#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("the body is larger than the limit")]
    TooLarge,
    #[error("the body stopped arriving")]
    Timeout(#[source] Option<reqwest::Error>),
    /// Stored `without_url()`: the URL's query may be a credential (Jellyfin's `ApiKey`).
    #[error("the body broke off")]
    Io(#[source] reqwest::Error),
}

/// Reads a whole body, refusing more than `max` bytes: an upstream cannot make us buffer an
/// unbounded answer (see [`body::read_bounded`], which the proxy's documents use too).
pub async fn read_body_limited(
    mut response: reqwest::Response,
    max: usize,
) -> Result<bytes::Bytes, BodyError> {
    let limits = body::Limits {
        max: max as u64,
        idle: None,
        total: None,
    };
    let empty = bytes::BytesMut::new();
    match body::read_bounded(&mut response, empty, limits, &mut body::Unmetered).await {
        Ok(body) => Ok(body),
        Err(body::ReadError::TooLarge(_)) => Err(BodyError::TooLarge),
        Err(body::ReadError::Timeout) => Err(BodyError::Timeout(None)),
        // reqwest's message names the URL, whose query may be a credential (Jellyfin's
        // ApiKey), and this text reaches logs and JSON errors.
        Err(body::ReadError::Source(e)) if e.is_timeout() => {
            Err(BodyError::Timeout(Some(e.without_url())))
        }
        Err(body::ReadError::Source(e)) => Err(BodyError::Io(e.without_url())),
        Err(body::ReadError::Allowance(never)) => match never {},
    }
}
