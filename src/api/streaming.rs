//! `/api/streaming/resolve/…` and `/api/streaming/{provider}/…`.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use utoipa::IntoParams;
use utoipa::openapi::schema::{Object, ObjectBuilder, Type};

use super::openapi::TitlePath;
use super::present::{Signing, present};
use crate::cache::CacheKey;
use crate::error::{ApiError, ErrorBody};
use crate::models::{MediaRequest, MediaType, ResolveResponse};
use crate::providers::PROVIDER_IDS;
use crate::resolve::ResolveError;
use crate::startup::AppState;

/// `season` and `episode` arrive as text so that a bad value gets our own clear error.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EpisodeQuery {
    /// `tv` only, and then required: the season (0 holds the specials).
    #[param(value_type = Option<u32>, minimum = 0)]
    season: Option<String>,
    /// `tv` only, and then required: the episode within the season.
    #[param(value_type = Option<u32>, minimum = 1)]
    episode: Option<String>,
}

/// `{provider}/{media_type}/{tmdb_id}`: the resolve route of one provider.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ProviderPath {
    /// A provider id; 404 `provider_disabled` when this server does not configure it.
    #[param(schema_with = provider_ids)]
    pub provider: String,
    /// `movie` or `tv`.
    pub media_type: MediaType,
    /// The TMDB id (movie and tv ids are separate number spaces).
    #[param(minimum = 1, example = 603)]
    pub tmdb_id: u32,
}

fn provider_ids() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(PROVIDER_IDS.iter().copied()))
        .build()
}

/// The 400 answers of every route that takes `{media_type}/{tmdb_id}[?season&episode]`.
pub const BAD_TITLE: &str = "Bad input: `unknown_media_type`, `invalid_tmdb_id`, \
    `missing_episode`, `invalid_episode`, `unexpected_episode`, `invalid_query`";

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

/// Resolve a title with every enabled provider.
///
/// Providers are asked concurrently, each under its own time budget; one failing never fails
/// the request. The answer is 200 also when nothing was found: `outcomes` has one entry per
/// provider asked. Sources are ranked best first; remote ones carry a signed `proxy_url`,
/// which the player uses whenever it is present.
#[utoipa::path(
    get,
    path = "/api/streaming/resolve/{media_type}/{tmdb_id}",
    operation_id = "resolve",
    tag = "resolve",
    params(TitlePath, EpisodeQuery),
    responses(
        (status = 200, description = "Ranked sources, subtitles, markers and one outcome per provider", body = ResolveResponse),
        (status = 400, description = BAD_TITLE, body = ErrorBody),
        (status = 500, description = "`internal`", body = ErrorBody),
    )
)]
pub async fn resolve_all(
    State(state): State<AppState>,
    Path((media_type, tmdb_id)): Path<(String, String)>,
    query: Result<Query<EpisodeQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    resolve(state, "resolve", &media_type, &tmdb_id, query).await
}

/// Resolve a title with one provider.
///
/// The same answer as the resolve of every provider, from one provider by id.
#[utoipa::path(
    get,
    path = "/api/streaming/{provider}/{media_type}/{tmdb_id}",
    operation_id = "resolve_with_provider",
    tag = "resolve",
    params(ProviderPath, EpisodeQuery),
    responses(
        (status = 200, description = "Ranked sources, subtitles, markers and the provider's outcome", body = ResolveResponse),
        (status = 400, description = "Bad input: `unknown_provider`, `unknown_media_type`, `invalid_tmdb_id`, \
            `missing_episode`, `invalid_episode`, `unexpected_episode`, `invalid_query`", body = ErrorBody),
        (status = 404, description = "`provider_disabled`: this server does not configure that provider", body = ErrorBody),
        (status = 500, description = "`internal`", body = ErrorBody),
    )
)]
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
