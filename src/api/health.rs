//! Liveness, readiness and Prometheus metrics.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use futures::future::join_all;
use serde::Serialize;
use utoipa::ToSchema;

use crate::providers::ProviderHealth;
use crate::startup::AppState;

/// `GET /healthz`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Liveness {
    /// Always `ok`: an answer at all is the signal.
    #[schema(example = "ok")]
    pub status: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReadyStatus {
    Ok,
    Degraded,
}

/// `GET /readyz`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    pub status: ReadyStatus,
    pub cache: CacheCheck,
    /// One entry per enabled provider, by id.
    pub providers: BTreeMap<String, ProviderReadiness>,
}

/// A provider's own health check and its circuit breaker.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderReadiness {
    #[serde(flatten)]
    pub health: ProviderHealth,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub circuit: Option<crate::resolve::breaker::Snapshot>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CacheCheck {
    /// `memory` or `redis`.
    pub backend: &'static str,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub message: Option<String>,
}

/// Liveness: the process answers.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "healthz",
    responses((status = 200, description = "The process answers", body = Liveness))
)]
pub async fn healthz() -> Json<Liveness> {
    Json(Liveness { status: "ok" })
}

/// Readiness: the cache and every provider, checked now.
///
/// Always 200 while the process can serve: a failing dependency (Redis, a provider) makes the
/// status `degraded`, not 503, because resolves still work without it, and a load balancer
/// that pulled every instance because a shared dependency blinked would take the service down.
#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "readyz",
    responses((status = 200, description = "`ok`, or `degraded` with what failed", body = Readiness))
)]
pub async fn readyz(State(state): State<AppState>) -> Json<Readiness> {
    let cache = state.resolver.cache();
    let backend = cache.backend();
    let failure = match tokio::time::timeout(Duration::from_secs(1), cache.ping()).await {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(_) => Some("no answer within 1 s".into()),
    };
    let cache_check = CacheCheck {
        backend,
        ok: failure.is_none(),
        message: failure,
    };
    let resolver = &state.resolver;
    let providers = join_all(resolver.providers().iter().map(|p| async move {
        let id = p.manifest().id;
        let health = match tokio::time::timeout(Duration::from_secs(2), p.health()).await {
            Ok(h) => h,
            Err(_) => ProviderHealth {
                ok: false,
                message: Some("no answer within 2 s".into()),
            },
        };
        let circuit = resolver.breaker(id).map(|b| b.snapshot());
        (id.to_string(), ProviderReadiness { health, circuit })
    }))
    .await;
    // A provider skipped by its breaker degrades the instance even if it answers a health
    // check: resolves do not ask it.
    let all_ok = cache_check.ok
        && providers
            .iter()
            .all(|(_, p)| p.health.ok && p.circuit.as_ref().is_none_or(|c| c.state == "closed"));
    Json(Readiness {
        status: if all_ok {
            ReadyStatus::Ok
        } else {
            ReadyStatus::Degraded
        },
        cache: cache_check,
        providers: providers.into_iter().collect(),
    })
}

/// Prometheus metrics.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "get_metrics",
    responses(
        (status = 200, description = "Prometheus text exposition format", content_type = "text/plain; version=0.0.4", body = String),
        (status = 401, description = "`unauthorized`: only with `accounts.metrics_admin_only`, once the server has accounts or a token", body = crate::error::ErrorBody),
        (status = 403, description = "`admin_only`: a member's session, with `accounts.metrics_admin_only`", body = crate::error::ErrorBody),
    )
)]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
