//! The HTTP edge: thin handlers that validate input, call the pipeline and render JSON.

pub mod health;
pub mod metadata;
pub mod present;
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
            "/api/streaming/resolve/{media_type}/{tmdb_id}",
            get(streaming::resolve_all),
        )
        .route(
            "/api/streaming/{provider}/{media_type}/{tmdb_id}",
            get(streaming::resolve_one),
        )
        .route("/api/metadata/{media_type}/{tmdb_id}", get(metadata::title))
        .route(
            "/api/metadata/tv/{tmdb_id}/season/{season}",
            get(metadata::season),
        )
}
