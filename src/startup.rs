//! Wiring: settings → shared state → router → listener, and a graceful shutdown that drains
//! requests in flight.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::trace::TraceLayer;

use crate::cache::Cache;
use crate::cache::layered::LayeredCache;
use crate::cache::lock::SharedFlight;
use crate::cache::memory::MemoryCache;
use crate::cache::redis::RedisCache;
use crate::clock::{Clock, SystemClock};
use crate::config::Settings;
use crate::error::{ApiError, panic_response};
use crate::library::Library;
use crate::metrics::{Metrics, RequestLabels, RouteLabels};
use crate::providers::Provider;
use crate::providers::consumet::Consumet;
use crate::providers::jellyfin::Jellyfin;
use crate::providers::library::LibraryProvider;
use crate::providers::stremio::Stremio;
use crate::proxy::token::Signer;
use crate::resolve::{Resolver, ResolverParts, SharedParts};
use crate::security::Security;
use crate::store::Store;
use crate::tmdb::Tmdb;
use crate::upstream::retry::RetryPolicy;
use crate::{api, secret, security, telemetry, upstream};

/// Everything a handler may need. One `Arc`, because axum clones the state for every
/// middleware layer and extractor of every request: cloning the fields one by one (a dozen
/// reference counts and the pooled HTTP client's own) cost about 10 % of a playlist request.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The fields behind [`AppState`].
#[derive(Debug)]
pub struct Shared {
    pub settings: Arc<Settings>,
    pub resolver: Arc<Resolver>,
    pub signer: Arc<Signer>,
    pub metrics: Arc<Metrics>,
    pub clock: Arc<dyn Clock>,
    pub http: reqwest::Client,
    /// The proxy's upstream client (capped buffers, per-host limit; see `proxy::client`).
    pub proxy_http: crate::proxy::client::ProxyClient,
    /// Sources the players reported failing (see `resolve::failing`).
    pub failing: Arc<crate::resolve::failing::FailingSources>,
    /// The proxy's shared cache and coalesced fetches (see `proxy::edge`).
    pub edge: crate::proxy::edge::Edge,
    /// Memory that playlist and JSON rewrites may hold at once (see `proxy::budget`).
    pub rewrite_budget: crate::proxy::budget::RewriteBudget,
    /// Rendered JSON of cache hits.
    pub rendered: Arc<api::present::RenderCache>,
    /// The SQLite store in the data dir (library, progress, accounts).
    pub store: Store,
    /// Accounts, sessions and the login throttle.
    pub accounts: Arc<crate::accounts::Accounts>,
    /// The local library, when enabled.
    pub library: Option<Arc<Library>>,
    /// TMDB metadata; `None` without `SOKOUL_TMDB_KEY`.
    pub tmdb: Option<Arc<Tmdb>>,
    /// The SSRF guard installed in `http`; the proxy also checks every URL and hop with it.
    pub guard: Arc<upstream::guard::Guard>,
    /// API token, media URLs, CSP, rate limit.
    pub security: Arc<Security>,
    /// The playback engine for remote files: the library's packager when the library is on
    /// (one `max_ffmpeg` bound and one segment cache for both), else one of its own.
    pub engine: crate::library::package::Packager,
    /// Where ffmpeg reaches our own proxy (`playback_loopback`); set once bound.
    pub loopback: std::sync::OnceLock<Option<SocketAddr>>,
}

/// Things tests replace.
#[derive(Debug, Default)]
pub struct Overrides {
    pub clock: Option<Arc<dyn Clock>>,
}

/// Accounts over the data dir's database; with Redis, sessions every instance checks.
fn start_accounts(
    settings: &Settings,
    store: &Store,
    clock: &Arc<dyn Clock>,
    shared: Option<(&Arc<RedisCache>, &[u8])>,
) -> Arc<crate::accounts::Accounts> {
    // The dummy hash of logins for unknown names, made now so the first such login is not
    // the slower one.
    tokio::task::spawn_blocking(crate::accounts::password::dummy);
    let accounts =
        crate::accounts::Accounts::new(store.clone(), clock.clone(), settings.accounts.clone());
    Arc::new(match shared {
        Some((redis, secret)) => accounts.sharing(crate::accounts::shared::SharedSessions::new(
            redis.clone(),
            secret,
        )),
        None => accounts,
    })
}

/// The resolve cache (in process, over Redis when configured) and, with Redis, what lets
/// instances share one resolve per title.
fn resolve_cache(
    settings: &Settings,
    redis: Option<Arc<RedisCache>>,
    clock: &Arc<dyn Clock>,
    metrics: &Arc<Metrics>,
) -> (Arc<dyn Cache>, Option<SharedParts>) {
    let shared = redis.clone().map(|redis| SharedParts {
        flight: redis as Arc<dyn SharedFlight>,
        lock_ttl: settings.lock_ttl(),
        lock_wait: settings.lock_wait(),
    });
    let cache: Arc<dyn Cache> = Arc::new(LayeredCache::new(
        MemoryCache::new(settings.cache.memory_capacity),
        redis,
        clock.clone(),
        metrics.clone(),
    ));
    (cache, shared)
}

impl AppState {
    pub async fn build(settings: Settings, overrides: Overrides) -> anyhow::Result<Self> {
        let settings = Arc::new(settings);
        let clock = overrides.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let metrics = Arc::new(Metrics::new());
        let guard = Arc::new(upstream::guard::Guard::from_settings(&settings));
        let http =
            upstream::build_client(&settings, guard.clone()).context("building the HTTP client")?;
        let proxy_http = crate::proxy::client::ProxyClient::new(&settings, guard.clone())
            .context("building the proxy's HTTP client")?;
        let secret = secret::load_or_create(
            settings.secret.as_ref().map(|s| s.expose()),
            &settings.data_dir,
        )
        .with_context(|| format!("reading the secret in {}", settings.data_dir.display()))?;
        let security = Arc::new(Security::new(&settings, &secret));
        let redis = start_redis(&settings, &metrics).await?;
        let failing = Arc::new(crate::resolve::failing::FailingSources::new(
            Duration::from_secs(settings.resolve.failing_ttl.max(1)),
            redis.clone(),
        ));
        let sessions_redis = redis.clone();
        let (cache, shared) = resolve_cache(&settings, redis, &clock, &metrics);
        let store = Store::open(&settings.data_dir.join("sokoul.db"))
            .with_context(|| format!("opening the database in {}", settings.data_dir.display()))?;
        let shared_sessions = sessions_redis.as_ref().map(|r| (r, &secret[..]));
        let accounts = start_accounts(&settings, &store, &clock, shared_sessions);
        let library = start_library(&settings, &store, &clock);
        let tmdb = tmdb_client(&settings, &http)?;
        let providers = build_providers(&settings, &http, library.as_ref(), tmdb.as_ref())?;
        tracing::info!(
            providers = ?providers.iter().map(|p| p.manifest().id).collect::<Vec<_>>(),
            cache = cache.backend(),
            "pipeline ready"
        );
        let resolver = Resolver::new(ResolverParts {
            providers,
            cache,
            clock: clock.clone(),
            metrics: metrics.clone(),
            cache_settings: settings.cache.clone(),
            provider_timeout: settings.provider_timeout(),
            provider_order: settings.resolve.provider_order.clone(),
            shared,
            resilience: settings.resilience.clone(),
        });
        let engine = playback_engine(&settings, library.as_ref(), &store);
        let edge = start_edge(crate::proxy::edge::EdgeParts {
            settings: &settings,
            http: proxy_http.clone(),
            guard: guard.clone(),
            metrics: metrics.clone(),
            clock: clock.clone(),
        })?;
        Ok(AppState(Arc::new(Shared {
            rewrite_budget: crate::proxy::budget::RewriteBudget::new(
                settings.proxy.rewrite_memory_budget,
            ),
            edge,
            failing,
            settings,
            resolver,
            signer: Arc::new(Signer::new(&secret)),
            metrics,
            clock,
            http,
            proxy_http,
            rendered: Arc::default(),
            store,
            accounts,
            library,
            tmdb,
            guard,
            security,
            engine,
            loopback: std::sync::OnceLock::new(),
        })))
    }
}

/// TMDB's client when a key is configured, with the resilience settings' retries.
fn tmdb_client(settings: &Settings, http: &reqwest::Client) -> anyhow::Result<Option<Arc<Tmdb>>> {
    Ok(Tmdb::from_settings(http.clone(), &settings.tmdb)
        .map_err(anyhow::Error::msg)
        .context("configuring TMDB")?
        .map(|t| Arc::new(t.with_retry(RetryPolicy::from_settings(&settings.resilience)))))
}

/// The proxy's shared segment cache, its disk tier emptied and ready in the data dir.
fn start_edge(
    parts: crate::proxy::edge::EdgeParts<'_>,
) -> anyhow::Result<crate::proxy::edge::Edge> {
    let dir = parts.settings.data_dir.display().to_string();
    crate::proxy::edge::Edge::new(parts)
        .with_context(|| format!("preparing the proxy cache in {dir}"))
}

/// The shared cache tier, when configured. Redis being down does not stop the start: the
/// in-process tier serves meanwhile.
async fn start_redis(
    settings: &Settings,
    metrics: &Arc<Metrics>,
) -> anyhow::Result<Option<Arc<RedisCache>>> {
    let Some(url) = &settings.cache.redis_url else {
        return Ok(None);
    };
    let redis = RedisCache::start(
        url.expose(),
        crate::cache::redis::namespace(settings),
        Duration::from_secs_f64(settings.cache.redis_budget),
        Duration::from_secs_f64(settings.cache.redis_backoff_max),
        metrics.clone(),
    )
    .await
    .context("SOKOUL_REDIS_URL is not a valid Redis URL")?;
    Ok(Some(redis))
}

/// The local library, when enabled, with its first scan and its folder watch started.
fn start_library(
    settings: &Settings,
    store: &Store,
    clock: &Arc<dyn Clock>,
) -> Option<Arc<Library>> {
    if !settings.library.enabled {
        return None;
    }
    let library = Library::with_store(settings, store.clone(), clock.clone());
    if settings.library.scan_on_start {
        let library = library.clone();
        tokio::spawn(async move {
            if let Err(e) = library.scan().await {
                tracing::warn!(error = %e, "library scan failed");
            }
        });
    }
    if settings.library.watch {
        crate::library::watch::spawn(&library);
    }
    Some(library)
}

fn build_providers(
    settings: &Settings,
    http: &reqwest::Client,
    library: Option<&Arc<Library>>,
    tmdb: Option<&Arc<Tmdb>>,
) -> anyhow::Result<Vec<Arc<dyn Provider>>> {
    let mut providers: Vec<Arc<dyn Provider>> = Vec::new();
    let retry = RetryPolicy::from_settings(&settings.resilience);
    if let Some(library) = library {
        providers.push(Arc::new(LibraryProvider::new(library.clone())));
    }
    if let Some(url) = &settings.consumet.url {
        providers.push(Arc::new(
            Consumet::new(
                http.clone(),
                url,
                &settings.consumet,
                settings.provider_timeout(),
                retry.clone(),
            )
            .context("configuring the Consumet provider")?,
        ));
    }
    if !settings.stremio.addons.is_empty() {
        providers.push(Arc::new(
            Stremio::new(
                http.clone(),
                &settings.stremio.addons,
                tmdb.cloned(),
                settings.provider_timeout(),
                retry.clone(),
            )
            .map(|s| match library {
                Some(library) => s.with_library(library.clone()),
                None => s,
            })
            .context("configuring the Stremio provider")?,
        ));
    }
    if let (Some(url), Some(api_key)) = (&settings.jellyfin.url, &settings.jellyfin.api_key) {
        providers.push(Arc::new(
            Jellyfin::new(
                http.clone(),
                url,
                api_key.clone(),
                settings.jellyfin.user_id.clone(),
                tmdb.cloned(),
                settings.provider_timeout(),
                retry.clone(),
            )
            .context("configuring the Jellyfin provider")?,
        ));
    }
    Ok(providers)
}

pub fn router(state: AppState) -> Router {
    let dashboard = &state.settings.dashboard_dir;
    let index = dashboard.join("index.html");
    let spa = Spa {
        assets: ServeDir::new(dashboard),
        files: ServeDir::new(dashboard)
            .append_index_html_on_directories(true)
            .fallback(ServeFile::new(&index)),
        index,
    };
    let max_body = usize::try_from(state.settings.security.max_body_bytes).unwrap_or(usize::MAX);
    let app = api::routes()
        .fallback_service(Router::new().fallback(fallback).with_state(spa))
        // Inside record_metrics, so that 429s are counted.
        .layer(middleware::from_fn_with_state(
            state.clone(),
            security::rate_limit::limit_resolves,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            record_metrics,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            security::require_token,
        ))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            security::limits::limit_body_time,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            security::limits::limit_requests,
        ))
        // Before the token: a rebound name learns nothing, not even that a token is needed.
        .layer(middleware::from_fn_with_state(
            state.clone(),
            security::host::check_host_and_origin,
        ))
        .layer(TraceLayer::new_for_http().make_span_with(telemetry::request_span::<Body>))
        .layer(CatchPanicLayer::custom(panic_response))
        // Outermost: every error answer, a panic's included, is logged here once.
        .layer(middleware::from_fn(crate::error::log_errors));
    security::headers::apply(app, &state).with_state(state)
}

#[derive(Clone)]
struct Spa {
    /// Build assets: a missing one is a real 404, never the page.
    assets: ServeDir,
    /// Pages: any path without a file gets index.html.
    files: ServeDir<ServeFile>,
    index: std::path::PathBuf,
}

/// API and asset paths get real 404s; every other path is a page of the SPA.
async fn fallback(State(spa): State<Spa>, request: Request) -> Response {
    let path = request.uri().path();
    if path.starts_with("/api/") || path == "/api" {
        return ApiError::route_not_found().into_response();
    }
    if !spa.index.is_file() {
        return ApiError::not_found(
            "dashboard_not_built",
            "the dashboard is not built: run `npm ci && npm run build` in dashboard/",
        )
        .into_response();
    }
    // Vite fingerprints everything under _app/immutable; index.html must be revalidated so a
    // new build is picked up at once.
    let cache_control = if path.starts_with("/_app/immutable/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let served = if path.starts_with("/_app/") {
        match tower::ServiceExt::oneshot(spa.assets, request).await {
            Ok(r) if r.status() == StatusCode::NOT_FOUND => {
                return ApiError::not_found("not_found", "no such asset").into_response();
            }
            other => other.map(|r| r.map(Body::new)),
        }
    } else {
        tower::ServiceExt::oneshot(spa.files, request)
            .await
            .map(|r| r.map(Body::new))
    };
    match served {
        Ok(response) => {
            let mut response = response;
            if response.status().is_success() {
                response.headers_mut().insert(
                    header::CACHE_CONTROL,
                    axum::http::HeaderValue::from_static(cache_control),
                );
            }
            response
        }
        Err(never) => match never {},
    }
}

async fn record_metrics(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "fallback".to_owned());
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    state
        .metrics
        .http_latency
        .get_or_create(&RouteLabels {
            route: route.clone(),
        })
        .observe(started.elapsed().as_secs_f64());
    state
        .metrics
        .http_requests
        .get_or_create(&RequestLabels {
            route,
            method,
            status: response.status().as_u16(),
        })
        .inc();
    response
}

/// Connections beyond `max_connections` that are still served, with `/healthz` only (503 for
/// the rest), so that a flood of idle connections leaves the health check an answer. Beyond
/// these, a connection is closed as soon as it is accepted.
const BUSY_SLOTS: usize = 64;
/// How long a connection in a busy slot may take to send its request: a health probe sends
/// it at once, and short-lived slots are what keep some free under a flood.
const BUSY_HEADER_TIMEOUT: Duration = Duration::from_secs(2);

/// Answers on a connection beyond the cap: `/healthz` as usual, everything else 503
/// `server_busy`, and the connection closed after the answer.
async fn busy(request: Request, next: Next) -> Response {
    let mut response = if request.uri().path() == "/healthz" {
        next.run(request).await
    } else {
        let body = crate::error::ErrorBody {
            error: crate::error::ErrorDetail {
                code: "server_busy",
                message: "the server has too many connections open; retry shortly".into(),
            },
        };
        // Not an ApiError: it would log every refused request at warn, in a flood.
        let mut r = (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response();
        r.headers_mut().insert(
            header::RETRY_AFTER,
            axum::http::HeaderValue::from_static("1"),
        );
        r
    };
    response.headers_mut().insert(
        header::CONNECTION,
        axum::http::HeaderValue::from_static("close"),
    );
    response
}

/// The connections served at once: `max_connections`, but never more than half the
/// open-file limit, so that files, pipes and upstream connections always get descriptors.
/// The busy slots come from the other half (an eighth of the limit at most).
fn connection_slots(max_connections: usize) -> (usize, usize) {
    let nofile = rlimit::getrlimit(rlimit::Resource::NOFILE)
        .map(|(soft, _)| usize::try_from(soft).unwrap_or(usize::MAX))
        .unwrap_or(1024);
    let served = max_connections.min(nofile / 2).max(1);
    if served < max_connections {
        tracing::warn!(
            max_connections,
            open_file_limit = nofile,
            served,
            "the open-file limit allows fewer connections than security.max_connections"
        );
    }
    (served, BUSY_SLOTS.min(nofile / 8))
}

/// Warns about closed connections at most once per interval, with their count: a flood must
/// not become a flood of log lines.
struct RefusalLog {
    refused: u64,
    last: Option<Instant>,
}

impl RefusalLog {
    fn note(&mut self) {
        self.refused += 1;
        if self
            .last
            .is_none_or(|at| at.elapsed() >= Duration::from_secs(10))
        {
            tracing::warn!(
                refused = self.refused,
                "connection limit reached: closing new connections"
            );
            self.refused = 0;
            self.last = Some(Instant::now());
        }
    }
}

/// The playback engine for remote files: the library's packager when the library is on (one
/// `max_ffmpeg` bound and one segment cache for both), else one of its own.
fn playback_engine(
    settings: &Settings,
    library: Option<&Arc<Library>>,
    store: &Store,
) -> crate::library::package::Packager {
    match library {
        Some(l) => l.packager.clone(),
        None => crate::library::package::Packager::new(
            (&settings.library).into(),
            Vec::new(),
            settings.data_dir.join("hls-cache"),
            store.clone(),
        ),
    }
}

/// The address ffmpeg uses to read remote files through our own proxy: the bound port on
/// loopback. A server bound to one non-loopback address has no loopback listener: remote
/// files then cannot be packaged (`remote_playback_unavailable`).
pub fn playback_loopback(bound: SocketAddr) -> Option<SocketAddr> {
    let ip = bound.ip();
    let ip = match ip {
        std::net::IpAddr::V4(v4) if v4.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
        std::net::IpAddr::V6(v6) if v6.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
        _ if ip.is_loopback() => ip,
        _ => return None,
    };
    Some(SocketAddr::new(ip, bound.port()))
}

/// A bound, ready-to-run server.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    router: Router,
    state: AppState,
}

impl Application {
    /// Builds the state and binds `settings.bind` (port 0 picks a free port). The exposure
    /// rule is checked once the database says whether accounts exist.
    pub async fn build(settings: Settings, overrides: Overrides) -> anyhow::Result<Self> {
        if check_exposure(&settings, false).is_err() {
            check_exposure(&settings, accounts_on_disk(&settings))?;
        }
        let listener = TcpListener::bind(settings.bind)
            .await
            .with_context(|| format!("binding {}", settings.bind))?;
        let state = AppState::build(settings, overrides).await?;
        let bound = listener.local_addr().context("reading the bound address")?;
        let _ = state.loopback.set(playback_loopback(bound));
        Ok(Application {
            listener,
            router: router(state.clone()),
            state,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then stops accepting and drains requests in flight
    /// for at most `drain` (long proxy streams are cut after that).
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
        drain: Duration,
    ) -> std::io::Result<()> {
        let security = &self.state.settings.security;
        let header_timeout = Duration::from_secs_f64(security.header_timeout);
        let send_timeout = Duration::from_secs_f64(security.send_timeout);
        let builder = http_builder(header_timeout);
        let mut slots = Slots::new(&self.router, security.max_connections, header_timeout);
        let graceful = GracefulShutdown::new();
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok(conn) => conn,
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                _ = &mut shutdown => break,
            };
            let Some(admitted) = slots.admit() else {
                // Closing at once frees the descriptor and tells the client to go away.
                drop(stream);
                continue;
            };
            let _ = stream.set_nodelay(true);
            // A client that stops reading would otherwise hold its response (and the rewrite
            // budget or proxy slot behind it) forever.
            let stream = security::send_timeout::SendTimeout::new(stream, send_timeout);
            serve_connection(&builder, &graceful, stream, peer, admitted);
        }
        drop(self.listener);
        tracing::info!("shutting down: draining requests in flight");
        tokio::select! {
            _ = graceful.shutdown() => {}
            _ = tokio::time::sleep(drain) => {
                tracing::warn!(seconds = drain.as_secs(), "drain period over; closing remaining connections");
            }
        }
        Ok(())
    }
}

/// hyper-util's server rather than `axum::serve`, for one setting axum does not expose: the
/// per-connection buffer cap. hyper's default (~400 KiB) lets every slow viewer of a relayed
/// segment hold that much; 64 KiB keeps 64 concurrent streams in a few MiB.
fn http_builder(header_timeout: Duration) -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .max_buf_size(64 * 1024)
        .timer(TokioTimer::new())
        // Headers of every request after the first (whose deadline is below), and the idle
        // time of a kept-alive connection: hyper starts it when it waits for a head.
        .header_read_timeout(header_timeout);
    builder
}

/// The connection slots: served ones, busy ones (`/healthz` only), and the refusals beyond.
struct Slots {
    served: Arc<tokio::sync::Semaphore>,
    busy: Arc<tokio::sync::Semaphore>,
    router: Router,
    busy_router: Router,
    header_timeout: Duration,
    refusals: RefusalLog,
}

/// A connection let in: its slot, the router that serves it, and the deadline of its first
/// request.
struct Admitted {
    permit: tokio::sync::OwnedSemaphorePermit,
    router: Router,
    first_request_deadline: Duration,
}

impl Slots {
    fn new(router: &Router, max_connections: usize, header_timeout: Duration) -> Self {
        let (served, busy_slots) = connection_slots(max_connections);
        Slots {
            served: Arc::new(tokio::sync::Semaphore::new(served)),
            busy: Arc::new(tokio::sync::Semaphore::new(busy_slots)),
            router: router.clone(),
            busy_router: router.clone().layer(middleware::from_fn(busy)),
            header_timeout,
            refusals: RefusalLog {
                refused: 0,
                last: None,
            },
        }
    }

    /// A served slot, else a busy one, else `None` (noted, for the rate-limited warning).
    fn admit(&mut self) -> Option<Admitted> {
        if let Ok(permit) = self.served.clone().try_acquire_owned() {
            return Some(Admitted {
                permit,
                router: self.router.clone(),
                first_request_deadline: self.header_timeout,
            });
        }
        if let Ok(permit) = self.busy.clone().try_acquire_owned() {
            return Some(Admitted {
                permit,
                router: self.busy_router.clone(),
                first_request_deadline: self.header_timeout.min(BUSY_HEADER_TIMEOUT),
            });
        }
        self.refusals.note();
        None
    }
}

/// Serves one connection on its own task, until it closes or the server drains.
fn serve_connection(
    builder: &Builder<TokioExecutor>,
    graceful: &GracefulShutdown,
    stream: security::send_timeout::SendTimeout<tokio::net::TcpStream>,
    peer: SocketAddr,
    admitted: Admitted,
) {
    let Admitted {
        permit,
        router,
        first_request_deadline,
    } = admitted;
    let first_request = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let seen = first_request.clone();
    // What `axum::serve` does for `ConnectInfo`: the rate limit keys on the peer.
    let service = TowerToHyperService::new(tower::ServiceExt::map_request(
        router,
        move |mut request: axum::http::Request<_>| {
            seen.store(true, std::sync::atomic::Ordering::Relaxed);
            request.extensions_mut().insert(ConnectInfo(peer));
            request
        },
    ));
    let connection = builder
        .serve_connection_with_upgrades(TokioIo::new(stream), service)
        .into_owned();
    let connection = graceful.watch(connection);
    tokio::spawn(async move {
        let _permit = permit;
        let mut connection = std::pin::pin!(connection);
        // hyper's header timeout only starts once the protocol is known, which takes the
        // first bytes: a connection that never sends one would stay forever. So the first
        // request must be read within the deadline from accept.
        tokio::select! {
            // A client resetting its connection is not the server's error.
            _ = connection.as_mut() => return,
            _ = tokio::time::sleep(first_request_deadline) => {}
        }
        if first_request.load(std::sync::atomic::Ordering::Relaxed) {
            let _ = connection.await;
        }
        // Otherwise dropping the connection closes it.
    });
}

/// Refuses to listen beyond loopback when nothing guards the API: no account, no API token,
/// and no explicit opt-out.
pub fn check_exposure(settings: &Settings, has_accounts: bool) -> anyhow::Result<()> {
    if !settings.bind.ip().is_loopback()
        && !has_accounts
        && settings.api_token.is_none()
        && !settings.allow_public_without_token
    {
        anyhow::bail!(
            "refusing to listen on {} without an account or SOKOUL_API_TOKEN: anyone who can reach this address could use the server. \
             Create an account with `sokoul user add NAME --admin`, set SOKOUL_API_TOKEN, bind to 127.0.0.1, \
             or set SOKOUL_ALLOW_PUBLIC_WITHOUT_TOKEN=true if a trusted front end guards it.",
            settings.bind
        );
    }
    Ok(())
}

/// Whether the database in the data dir holds an account, read without creating or
/// migrating anything (a missing or older database has none).
pub fn accounts_on_disk(settings: &Settings) -> bool {
    let path = settings.data_dir.join("sokoul.db");
    let Ok(conn) =
        rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return false;
    };
    conn.query_row("SELECT EXISTS (SELECT 1 FROM accounts)", [], |r| {
        r.get::<_, bool>(0)
    })
    .unwrap_or(false)
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ffmpeg_reads_our_proxy_on_loopback_and_nowhere_else() {
        let at = |s: &str| playback_loopback(s.parse().unwrap()).map(|a| a.to_string());
        assert_eq!(at("127.0.0.1:8080").as_deref(), Some("127.0.0.1:8080"));
        assert_eq!(at("0.0.0.0:8080").as_deref(), Some("127.0.0.1:8080"));
        assert_eq!(at("[::]:8080").as_deref(), Some("[::1]:8080"));
        assert_eq!(at("[::1]:9").as_deref(), Some("[::1]:9"));
        // One LAN address: there is no loopback listener to read through.
        assert_eq!(at("192.168.1.10:8080"), None);
    }
}
