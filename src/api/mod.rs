//! The HTTP edge: thin handlers that validate input, call the pipeline and render JSON.

pub mod health;
pub mod present;
pub mod proxy;
pub mod streaming;

use axum::Router;
use axum::routing::get;

use crate::startup::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route(
            crate::proxy::token::PROXY_PATH,
            get(proxy::proxy).options(proxy::preflight),
        )
        // Child URLs carry a cosmetic file name: `/api/streaming/proxy/seg1.ts?c=…`.
        .route(
            "/api/streaming/proxy/{name}",
            get(proxy::proxy).options(proxy::preflight),
        )
        .route(
            "/api/streaming/resolve/{media_type}/{tmdb_id}",
            get(streaming::resolve_all),
        )
        .route(
            "/api/streaming/{provider}/{media_type}/{tmdb_id}",
            get(streaming::resolve_one),
        )
}
