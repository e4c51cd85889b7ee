//! Who may use `/api/**`: a logged-in account (the `sokoul_session` cookie, checked against the
//! server-side sessions of `crate::accounts`), `SOKOUL_API_TOKEN` as
//! `Authorization: Bearer` (an admin, so that scripts written before accounts keep working),
//! a personal API token as `Authorization: Bearer` (its account, `accounts::tokens`),
//! or a library media URL carrying a valid media token (`media_url`; one bound to a session
//! is valid while that session lives). Signed proxy URLs need
//! none of these: their signature is the credential. A server with neither accounts nor a
//! token is open (it only listens on loopback then, or its operator opted out: `startup`).
//!
//! Members are refused the admin routes ([`admin_only`]) with 403 `admin_only`.
//!
//! Wrong tokens are throttled per client (`FailureThrottle`) and logged at `warn`, without the
//! token: a client may get 10 wrong, then one more every 6 s; a throttled client gets 429
//! `too_many_attempts` for every `Authorization` it sends, right or wrong, so that guessing
//! faster does not even tell it when it got the token right.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::media_url::{self, Binding, MediaUrlError};
use crate::accounts::{Caller, Role, session};
use crate::config::Secret;
use crate::error::ApiError;
use crate::startup::AppState;

const METRICS: &str = "/metrics";

/// Routes for admins only: accounts, library scans, the API document.
pub fn admin_only(method: &Method, path: &str) -> bool {
    (method == Method::POST && path == "/api/library/scan")
        || path == "/api/openapi.json"
        || path.starts_with("/api/auth/users")
}

pub async fn require_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    // One rule for the middleware and the OpenAPI document's security requirements.
    let path = request.uri().path();
    let metrics = path == METRICS && state.settings.accounts.metrics_admin_only;
    if !metrics && !crate::api::openapi::needs_token(path) {
        return next.run(request).await;
    }
    let locked = match locked(&state).await {
        Ok(locked) => locked,
        Err(e) => return e.into_response(),
    };
    if !locked {
        return admit(Caller::unnamed_admin(), request, next).await;
    }
    let client = state.security.trusted_proxies.client_ip(&request);
    let path = request.uri().path().to_owned();
    match bearer_caller(&state, request.headers(), client, &path).await {
        Ok(Some(caller)) => return admit(caller, request, next).await,
        Ok(None) => {}
        Err(response) => return response,
    }
    let cookie = session::from_headers(request.headers());
    match session_caller(&state, cookie).await {
        Ok(Some(caller)) => return admit(caller, request, next).await,
        Ok(None) => {}
        Err(e) => return e.into_response(),
    }
    let path = request.uri().path();
    if let Some(given) = media_url::token_in(request.uri().query()) {
        let urls = &state.security.media_urls;
        let checked = match urls.verify(path, given, state.clock.unix()) {
            Ok(binding) => still_bound(&state, binding).await,
            Err(e) => Err(e.into()),
        };
        return match checked {
            Ok(()) => {
                let given = given.to_owned();
                let response = next.run(request).await;
                media_url::carry_into_playlist(response, &given).await
            }
            Err(e) => e.into_response(),
        };
    }
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "log in, or send 'Authorization: Bearer <SOKOUL_API_TOKEN>'",
    )
    .into_response()
}

/// The caller an `Authorization` header names: `SOKOUL_API_TOKEN` (an admin) or a personal
/// token (its account). A wrong one counts against the client (`Err` once it is throttled).
/// Only bearer values count when the server has no `SOKOUL_API_TOKEN`: a proxy's `Basic`
/// credentials are not guesses.
async fn bearer_caller(
    state: &AppState,
    headers: &HeaderMap,
    client: IpAddr,
    path: &str,
) -> Result<Option<Caller>, Response> {
    let given = bearer(headers).map(str::to_owned);
    let any = headers.contains_key(header::AUTHORIZATION);
    if !any || (state.settings.api_token.is_none() && given.is_none()) {
        return Ok(None);
    }
    if let Err(wait) = state.security.auth_failures.admit(client) {
        return Err(too_many_attempts(wait));
    }
    let Some(given) = given else {
        state.security.auth_failures.failed(client);
        return Ok(None);
    };
    if let Some(token) = &state.settings.api_token
        && token_matches(&given, token)
    {
        return Ok(Some(Caller::unnamed_admin()));
    }
    match state.accounts.token_caller(&given).await {
        Ok(Some(row)) => {
            return Ok(Some(Caller {
                role: Role::parse(&row.role).unwrap_or(Role::Member),
                account: Some(row),
                by_token: true,
            }));
        }
        Ok(None) => {}
        Err(e) => return Err(ApiError::from(e).into_response()),
    }
    state.security.auth_failures.failed(client);
    // The path only: a query may hold a signed credential.
    tracing::warn!(%client, path, "wrong API token");
    Ok(None)
}

/// The account of the request's session cookie, when it names a live session.
async fn session_caller(
    state: &AppState,
    cookie: Option<String>,
) -> Result<Option<Caller>, ApiError> {
    let Some(id) = cookie else {
        return Ok(None);
    };
    Ok(state.accounts.session(&id).await?.map(|row| Caller {
        role: Role::parse(&row.role).unwrap_or(Role::Member),
        account: Some(row),
        by_token: false,
    }))
}

/// Whether whoever a media token was handed to may still use it: its session lives (the
/// session check's memo, so no database read per segment), or it was `SOKOUL_API_TOKEN`'s.
async fn still_bound(state: &AppState, binding: Binding) -> Result<(), ApiError> {
    match binding {
        Binding::Unbound if state.settings.api_token.is_some() => Ok(()),
        // Only `SOKOUL_API_TOKEN` is handed unbound tokens.
        Binding::Unbound => Err(MediaUrlError::BadSignature.into()),
        Binding::Session(short) => match state.accounts.session_by_short(&short).await? {
            Some(_) => Ok(()),
            None => Err(MediaUrlError::Revoked.into()),
        },
    }
}

/// Whether the API needs a credential: once the server has a token or an account.
async fn locked(state: &AppState) -> Result<bool, ApiError> {
    match &state.settings.api_token {
        Some(_) => Ok(true),
        None => Ok(state.accounts.exist().await?),
    }
}

/// Runs the request as `caller`, unless it is a member asking for an admin route.
async fn admit(caller: Caller, mut request: Request, next: Next) -> Response {
    let path = request.uri().path();
    // `/metrics` only gets here when `accounts.metrics_admin_only` guards it.
    if caller.role != Role::Admin && (admin_only(request.method(), path) || path == METRICS) {
        return ApiError::forbidden("admin_only", "this needs an admin account").into_response();
    }
    request.extensions_mut().insert(caller);
    next.run(request).await
}

/// The value of `Authorization: Bearer <value>`; the scheme is case-insensitive
/// (RFC 9110 §11.1).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, given) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(given.trim())
}

/// Both sides are hashed before comparing, and BLAKE3's hash equality is constant-time, so
/// neither the token's bytes nor its length leak through timing.
fn token_matches(given: &str, token: &Secret) -> bool {
    blake3::hash(given.as_bytes()) == blake3::hash(token.expose().as_bytes())
}

fn too_many_attempts(wait: Duration) -> Response {
    let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
    let mut response = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_attempts",
        format!("too many wrong API tokens from this client; retry in {seconds} s"),
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

/// Wrong tokens a client may send before it is throttled.
const FAILURE_BURST: f64 = 10.0;
/// One more wrong token allowed per period: 14,400 guesses a day, against 16^16 tokens.
const FAILURE_PERIOD: Duration = Duration::from_secs(6);
/// Clients tracked at once; the least recently seen beyond it start afresh (bounded memory).
const MAX_CLIENTS: u64 = 65_536;

/// A token bucket per client (per /64 for IPv6) that only wrong tokens drain.
pub struct FailureThrottle {
    buckets: moka::sync::Cache<IpAddr, Arc<Mutex<Bucket>>>,
}

// Holds clients, caches or trait objects whose state says nothing useful in a log.
impl std::fmt::Debug for FailureThrottle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FailureThrottle").finish_non_exhaustive()
    }
}

struct Bucket {
    left: f64,
    at: Instant,
}

impl Bucket {
    fn refill(&mut self, now: Instant) {
        let earned = now.duration_since(self.at).as_secs_f64() / FAILURE_PERIOD.as_secs_f64();
        self.left = (self.left + earned).min(FAILURE_BURST);
        self.at = now;
    }
}

impl Default for FailureThrottle {
    fn default() -> Self {
        // A bucket left alone this long is full again, the same as a new one: forget it.
        let idle = FAILURE_PERIOD.mul_f64(FAILURE_BURST) + Duration::from_secs(1);
        FailureThrottle {
            buckets: moka::sync::Cache::builder()
                .max_capacity(MAX_CLIENTS)
                .time_to_idle(idle)
                .build(),
        }
    }
}

impl FailureThrottle {
    /// `Err(wait)` while the client has no wrong guess left.
    pub fn admit(&self, client: IpAddr) -> Result<(), Duration> {
        let Some(bucket) = self.buckets.get(&super::rate_limit::bucket_key(client)) else {
            return Ok(());
        };
        let mut b = bucket.lock().unwrap_or_else(|e| e.into_inner());
        b.refill(Instant::now());
        if b.left >= 1.0 {
            Ok(())
        } else {
            Err(FAILURE_PERIOD.mul_f64(1.0 - b.left))
        }
    }

    pub fn failed(&self, client: IpAddr) {
        let bucket = self
            .buckets
            .get_with(super::rate_limit::bucket_key(client), || {
                Arc::new(Mutex::new(Bucket {
                    left: FAILURE_BURST,
                    at: Instant::now(),
                }))
            });
        let mut b = bucket.lock().unwrap_or_else(|e| e.into_inner());
        b.refill(Instant::now());
        b.left = (b.left - 1.0).max(0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_wrong_tokens_then_the_client_waits() {
        let t = FailureThrottle::default();
        let a: IpAddr = "203.0.113.7".parse().unwrap();
        for _ in 0..10 {
            assert!(t.admit(a).is_ok());
            t.failed(a);
        }
        let wait = t.admit(a).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= FAILURE_PERIOD, "{wait:?}");
        assert!(t.admit("203.0.113.8".parse().unwrap()).is_ok());
        // One /64 is one client.
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        for _ in 0..10 {
            t.failed(v6);
        }
        assert!(t.admit("2001:db8::ffff".parse().unwrap()).is_err());
    }
}
