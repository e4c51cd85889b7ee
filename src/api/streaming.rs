//! `/api/streaming/resolve/…` and `/api/streaming/{provider}/…`.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::present::{Signing, present};
use crate::cache::CacheKey;
use crate::error::ApiError;
use crate::models::MediaRequest;
use crate::resolve::ResolveError;
use crate::startup::AppState;

/// `season` and `episode` arrive as text so that a bad value gets our own clear error.
#[derive(Debug, Deserialize)]
pub struct EpisodeQuery {
    season: Option<String>,
    episode: Option<String>,
}

impl From<ResolveError> for ApiError {
    fn from(e: ResolveError) -> Self {
        match e {
            ResolveError::UnknownProvider(_) => ApiError::bad_request(e.code(), e.to_string()),
            ResolveError::ProviderDisabled(_) => ApiError::not_found(e.code(), e.to_string()),
            ResolveError::Internal => ApiError::internal(e.to_string()),
        }
    }
}

/// Validates the path and query of a route about one title (resolve, progress).
pub fn request(
    media_type: &str,
    tmdb_id: &str,
    query: Result<Query<EpisodeQuery>, QueryRejection>,
) -> Result<MediaRequest, ApiError> {
    let Query(q) = query?;
    Ok(MediaRequest::parse(
        media_type,
        tmdb_id,
        q.season.as_deref(),
        q.episode.as_deref(),
    )?)
}

/// Every enabled provider, concurrently.
pub async fn resolve_all(
    State(state): State<AppState>,
    Path((media_type, tmdb_id)): Path<(String, String)>,
    query: Result<Query<EpisodeQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    resolve(state, "resolve", &media_type, &tmdb_id, query).await
}

/// One provider by id (`consumet`, `stremio`, `jellyfin`, `library`).
pub async fn resolve_one(
    State(state): State<AppState>,
    Path((provider, media_type, tmdb_id)): Path<(String, String, String)>,
    query: Result<Query<EpisodeQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    resolve(state, &provider, &media_type, &tmdb_id, query).await
}

async fn resolve(
    state: AppState,
    provider: &str,
    media_type: &str,
    tmdb_id: &str,
    query: Result<Query<EpisodeQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let scope = state.resolver.scope(provider)?;
    let request = request(media_type, tmdb_id, query)?;
    let resolved = state.resolver.resolve(request, scope.clone()).await?;
    let now = state.clock.unix();
    let signing = Signing {
        proxy: &state.signer,
        security: Some(&state.security),
    };
    if resolved.cached {
        let key = CacheKey { scope, request }.to_string();
        let body = state.rendered.get_or_render(
            &key,
            &resolved.resolution,
            signing,
            now,
            state.settings.proxy.url_ttl,
        );
        return Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response());
    }
    Ok(Json(present(
        &resolved.resolution,
        false,
        signing,
        now + state.settings.proxy.url_ttl,
    ))
    .into_response())
}
