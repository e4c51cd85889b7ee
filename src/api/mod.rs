//! The HTTP edge: thin handlers that validate input, call the pipeline and render JSON.

pub mod health;
pub mod library;
pub mod media;
pub mod metadata;
pub mod present;
pub mod progress;
pub mod proxy;
pub mod streaming;

use axum::Router;
use axum::routing::{get, post};

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
        // Local library (docs/library.md).
        .route("/api/library/items", get(library::items))
        .route(
            "/api/library/items/{media_type}/{tmdb_id}",
            get(library::item),
        )
        .route("/api/library/scan", post(library::scan))
        .route("/api/library/problems", get(library::problems))
        .route(
            "/api/library/poster/{media_type}/{tmdb_id}",
            get(library::poster),
        )
        .route("/api/media/{file_id}/file", get(media::file))
        .route("/api/media/{file_id}/hls/master.m3u8", get(media::master))
        .route("/api/media/{file_id}/hls/{variant}/{name}", get(media::hls))
        .route(
            "/api/media/{file_id}/subtitles/{track}",
            get(media::subtitle),
        )
        // Watch progress.
        .route("/api/progress", get(progress::list))
        .route(
            "/api/progress/{media_type}/{tmdb_id}",
            get(progress::get)
                .put(progress::put)
                .delete(progress::delete),
        )
        // TMDB metadata (docs/providers.md).
        .route("/api/metadata/{media_type}/{tmdb_id}", get(metadata::title))
        .route(
            "/api/metadata/tv/{tmdb_id}/season/{season}",
            get(metadata::season),
        )
}
