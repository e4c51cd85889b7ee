//! The HTTP edge: thin handlers that validate input, call the pipeline and render JSON.

pub mod auth;
pub mod extract;
pub mod health;
pub mod library;
pub mod media;
pub mod metadata;
pub mod openapi;
pub mod playback;
pub mod preferences;
pub mod present;
pub mod profiles;
pub mod progress;
pub mod proxy;
pub mod responses;
pub mod search;
pub mod streaming;
pub mod thumbnails;
pub mod tokens;
pub mod users;
pub mod warm;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::startup::AppState;

pub fn routes() -> Router<AppState> {
    documented_routes().split_for_parts().0
}

/// Every route with its OpenAPI description. A route is registered from its handler's
/// `#[utoipa::path]` (method and path included), so the router and `/api/openapi.json` cannot
/// disagree; never add a plain `.route(…)` here (a test reads this file to make sure).
pub fn documented_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(health::metrics))
        .routes(routes!(openapi::document))
        // Accounts and sessions (docs/security.md).
        .routes(routes!(auth::state))
        .routes(routes!(auth::setup))
        .routes(routes!(auth::login))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::sessions, auth::end_sessions))
        .routes(routes!(users::list, users::create))
        .routes(routes!(users::update, users::delete))
        .routes(routes!(tokens::list, tokens::create))
        .routes(routes!(tokens::delete))
        .routes(routes!(proxy::proxy, proxy::preflight))
        // Child URLs carry a cosmetic file name: `/api/streaming/proxy/f.ts?c=…` (the extension only).
        .routes(routes!(proxy::proxy_named, proxy::preflight_named))
        .routes(routes!(streaming::resolve_all))
        .routes(routes!(streaming::resolve_one))
        .routes(routes!(streaming::report))
        // Local library (docs/library.md).
        .routes(routes!(library::items))
        .routes(routes!(library::item))
        .routes(routes!(library::scan))
        .routes(routes!(library::problems))
        .routes(routes!(library::poster))
        .routes(routes!(library::still))
        .routes(routes!(media::file))
        .routes(routes!(media::master))
        .routes(routes!(media::hls))
        .routes(routes!(media::subtitle))
        .routes(routes!(thumbnails::index))
        .routes(routes!(thumbnails::sheet))
        // Remote files through the playback engine (docs/playback.md).
        .routes(routes!(playback::master))
        .routes(routes!(playback::hls))
        .routes(routes!(playback::subtitles))
        .routes(routes!(playback::subtitle))
        // Who watches (profiles) and what they watched.
        .routes(routes!(profiles::list, profiles::create))
        .routes(routes!(profiles::update, profiles::delete))
        .routes(routes!(profiles::select))
        .routes(routes!(progress::list))
        .routes(routes!(progress::get, progress::put, progress::delete))
        // The viewer's languages.
        .routes(routes!(
            preferences::get_languages,
            preferences::put_languages
        ))
        .routes(routes!(preferences::get_series, preferences::put_series))
        // TMDB metadata (docs/providers.md).
        .routes(routes!(metadata::title))
        .routes(routes!(metadata::season))
        .routes(routes!(search::search))
}

/// A body with its content type and cache policy (media, playlists, subtitles, posters).
pub(crate) fn with_type(
    body: impl Into<Body>,
    content_type: &'static str,
    cache: &'static str,
) -> Response {
    let mut response = body.into().into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}
