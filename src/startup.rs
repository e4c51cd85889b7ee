//! Wiring: settings → shared state → router → listener, and a graceful shutdown that drains
//! requests in flight.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::Router;
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::trace::TraceLayer;

use crate::cache::Cache;
use crate::cache::memory::MemoryCache;
use crate::cache::redis::RedisCache;
use crate::clock::{Clock, SystemClock};
use crate::config::Settings;
use crate::error::{ApiError, panic_response};
use crate::metrics::{Metrics, RequestLabels, RouteLabels};
use crate::providers::Provider;
use crate::providers::consumet::Consumet;
use crate::proxy::token::Signer;
use crate::resolve::{Resolver, ResolverParts};
use crate::{api, secret, telemetry, upstream};

/// Everything a handler may need, cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub resolver: Arc<Resolver>,
    pub signer: Arc<Signer>,
    pub metrics: Arc<Metrics>,
    pub clock: Arc<dyn Clock>,
    pub http: reqwest::Client,
    /// The SSRF guard installed in `http`; the proxy also checks every URL and hop with it.
    pub guard: Arc<upstream::guard::Guard>,
}

/// Things tests replace.
#[derive(Default)]
pub struct Overrides {
    pub clock: Option<Arc<dyn Clock>>,
}

impl AppState {
    pub async fn build(settings: Settings, overrides: Overrides) -> anyhow::Result<Self> {
        let settings = Arc::new(settings);
        let clock = overrides.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let metrics = Arc::new(Metrics::new());
        let guard = Arc::new(upstream::guard::Guard::from_settings(&settings));
        let http =
            upstream::build_client(&settings, guard.clone()).context("building the HTTP client")?;
        let secret = secret::load_or_create(
            settings.secret.as_ref().map(|s| s.expose()),
            &settings.data_dir,
        )
        .with_context(|| format!("reading the secret in {}", settings.data_dir.display()))?;
        let signer = Arc::new(Signer::new(&secret));
        let cache: Arc<dyn Cache> = match &settings.cache.redis_url {
            Some(url) => Arc::new(
                RedisCache::connect(url.expose())
                    .await
                    .context("connecting to Redis (SOKOUL_REDIS_URL)")?,
            ),
            None => Arc::new(MemoryCache::new(settings.cache.memory_capacity)),
        };
        let providers = build_providers(&settings, &http)?;
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
        });
        Ok(AppState {
            settings,
            resolver,
            signer,
            metrics,
            clock,
            http,
            guard,
        })
    }
}

fn build_providers(
    settings: &Settings,
    http: &reqwest::Client,
) -> anyhow::Result<Vec<Arc<dyn Provider>>> {
    let mut providers: Vec<Arc<dyn Provider>> = Vec::new();
    if let Some(url) = &settings.consumet.url {
        providers.push(Arc::new(
            Consumet::new(
                http.clone(),
                url,
                &settings.consumet,
                settings.provider_timeout(),
            )
            .context("configuring the Consumet provider")?,
        ));
    }
    Ok(providers)
}

pub fn router(state: AppState) -> Router {
    let dashboard = &state.settings.dashboard_dir;
    let index = dashboard.join("index.html");
    let spa = Spa {
        files: ServeDir::new(dashboard)
            .append_index_html_on_directories(true)
            .fallback(ServeFile::new(&index)),
        index,
    };
    api::routes()
        .fallback_service(Router::new().fallback(fallback).with_state(spa))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            record_metrics,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), require_token))
        .layer(TraceLayer::new_for_http().make_span_with(telemetry::request_span::<Body>))
        .layer(CatchPanicLayer::custom(panic_response))
        .with_state(state)
}

#[derive(Clone)]
struct Spa {
    files: ServeDir<ServeFile>,
    index: std::path::PathBuf,
}

/// API and asset paths get real 404s; every other path is a page of the SPA.
async fn fallback(State(spa): State<Spa>, request: Request) -> Response {
    let path = request.uri().path();
    if path.starts_with("/api/") || path == "/api" || path.starts_with("/_app/") {
        return ApiError::route_not_found().into_response();
    }
    if !spa.index.is_file() {
        return ApiError::not_found(
            "dashboard_not_built",
            "the dashboard is not built: run `npm ci && npm run build` in dashboard/",
        )
        .into_response();
    }
    match tower::ServiceExt::oneshot(spa.files, request).await {
        Ok(response) => response.map(Body::new),
        Err(never) => match never {},
    }
}

/// `SOKOUL_API_TOKEN`: every `/api/**` route but the signed proxy needs the bearer token.
async fn require_token(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(token) = &state.settings.api_token else {
        return next.run(request).await;
    };
    let path = request.uri().path();
    if !path.starts_with("/api/") || crate::proxy::token::is_proxy_path(path) {
        return next.run(request).await;
    }
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        Some(given) if constant_time_eq(given.as_bytes(), token.expose().as_bytes()) => {
            next.run(request).await
        }
        _ => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "this server requires 'Authorization: Bearer <SOKOUL_API_TOKEN>'",
        )
        .into_response(),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
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

/// A bound, ready-to-run server.
pub struct Application {
    listener: TcpListener,
    router: Router,
    state: AppState,
}

impl Application {
    /// Binds `settings.bind` (port 0 picks a free port) and builds the state.
    pub async fn build(settings: Settings, overrides: Overrides) -> anyhow::Result<Self> {
        check_exposure(&settings)?;
        let listener = TcpListener::bind(settings.bind)
            .await
            .with_context(|| format!("binding {}", settings.bind))?;
        let state = AppState::build(settings, overrides).await?;
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
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut drain_rx = stop_rx.clone();
        let serve = axum::serve(self.listener, self.router).with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("shutting down: draining requests in flight");
            let _ = stop_tx.send(true);
        });
        tokio::select! {
            r = serve => r,
            _ = async move {
                let _ = drain_rx.wait_for(|stopped| *stopped).await;
                tokio::time::sleep(drain).await;
            } => {
                tracing::warn!(seconds = drain.as_secs(), "drain period over; closing remaining connections");
                Ok(())
            }
        }
    }
}

/// Refuses to listen beyond loopback without an API token unless the operator opted out.
fn check_exposure(settings: &Settings) -> anyhow::Result<()> {
    if !settings.bind.ip().is_loopback()
        && settings.api_token.is_none()
        && !settings.allow_public_without_token
    {
        anyhow::bail!(
            "refusing to listen on {} without SOKOUL_API_TOKEN: anyone who can reach this address could use the server. \
             Set SOKOUL_API_TOKEN, bind to 127.0.0.1, or set SOKOUL_ALLOW_PUBLIC_WITHOUT_TOKEN=true if a trusted front end guards it.",
            settings.bind
        );
    }
    Ok(())
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
