//! Liveness, readiness and Prometheus metrics.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use futures::future::join_all;
use serde_json::{Value, json};

use crate::startup::AppState;

pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Ready as long as the process can serve. A failing dependency (Redis, a provider) makes the
/// status `degraded`, not 503: resolves still work without it, and a load balancer that
/// pulled every instance because a shared dependency blinked would take the service down.
pub async fn readyz(State(state): State<AppState>) -> Json<Value> {
    let cache = state.resolver.cache();
    let cache_check = match tokio::time::timeout(Duration::from_secs(1), cache.ping()).await {
        Ok(Ok(())) => json!({"backend": cache.backend(), "ok": true}),
        Ok(Err(e)) => json!({"backend": cache.backend(), "ok": false, "message": e.to_string()}),
        Err(_) => {
            json!({"backend": cache.backend(), "ok": false, "message": "no answer within 1 s"})
        }
    };
    let resolver = &state.resolver;
    let providers = join_all(resolver.providers().iter().map(|p| async move {
        let id = p.manifest().id;
        let mut health = match tokio::time::timeout(Duration::from_secs(2), p.health()).await {
            Ok(h) => serde_json::to_value(h).unwrap_or(Value::Null),
            Err(_) => json!({"ok": false, "message": "no answer within 2 s"}),
        };
        if let (Some(breaker), Value::Object(map)) = (resolver.breaker(id), &mut health) {
            let circuit = serde_json::to_value(breaker.snapshot()).unwrap_or(Value::Null);
            map.insert("circuit".into(), circuit);
        }
        (id, health)
    }))
    .await;
    // A provider skipped by its breaker degrades the instance even if it answers a health
    // check: resolves do not ask it.
    let all_ok = cache_check["ok"] == true
        && providers
            .iter()
            .all(|(_, h)| h["ok"] == true && h["circuit"]["state"] == "closed");
    Json(json!({
        "status": if all_ok { "ok" } else { "degraded" },
        "cache": cache_check,
        "providers": providers
            .into_iter()
            .map(|(id, h)| (id.to_string(), h))
            .collect::<serde_json::Map<String, Value>>(),
    }))
}

pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
