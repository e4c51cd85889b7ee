//! `/api/streaming/resolve/…` and `/api/streaming/{provider}/…`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use utoipa::IntoParams;
use utoipa::openapi::schema::{Object, ObjectBuilder, Type};

use super::extract::{EpisodeQuery, Title, TitlePath};
use super::present::{Signing, present};
use super::responses::{Internal, TitleErrors};
use crate::cache::{CacheKey, Scope};
use crate::error::{ApiError, ErrorBody};
use crate::models::{MediaRequest, MediaType, ResolveResponse};
use crate::providers::ProviderId;
use crate::resolve::prefer::{self, Wanted};
use crate::startup::AppState;

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
        .enum_values(Some(ProviderId::ALL.map(ProviderId::as_str)))
        .build()
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
    params(TitlePath, EpisodeQuery),
    responses(
        (status = 200, description = "Ranked sources, subtitles, markers and one outcome per provider", body = ResolveResponse),
        TitleErrors,
    )
)]
pub async fn resolve_all(
    State(state): State<AppState>,
    Title(request): Title,
) -> Result<Response, ApiError> {
    resolve(state, Scope::All, request).await
}

/// Resolve a title with one provider.
///
/// The same answer as the resolve of every provider, from one provider by id.
#[utoipa::path(
    get,
    path = "/api/streaming/{provider}/{media_type}/{tmdb_id}",
    operation_id = "resolve_with_provider",
    params(ProviderPath, EpisodeQuery),
    responses(
        (status = 200, description = "Ranked sources, subtitles, markers and the provider's outcome", body = ResolveResponse),
        (status = 400, description = "Bad input: `unknown_provider`, `unknown_media_type`, `invalid_tmdb_id`, \
            `missing_episode`, `invalid_episode`, `unexpected_episode`, `invalid_query`", body = ErrorBody),
        (status = 404, description = "`provider_disabled`: this server does not configure that provider", body = ErrorBody),
        Internal,
    )
)]
pub async fn resolve_one(
    State(state): State<AppState>,
    // Extracted first: `unknown_provider` and `provider_disabled` win over a bad title.
    ProviderScope(scope): ProviderScope,
    Title(request): Title,
) -> Result<Response, ApiError> {
    resolve(state, scope, request).await
}

/// The `{provider}` segment, judged against this server's providers: an unknown id is 400
/// `unknown_provider` (not a path error), a known one not configured here 404
/// `provider_disabled`.
#[derive(Debug)]
pub struct ProviderScope(pub Scope);

impl FromRequestParts<AppState> for ProviderScope {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        #[derive(Deserialize)]
        struct Raw {
            provider: String,
        }
        let Path(raw) = Path::<Raw>::from_request_parts(parts, state).await?;
        Ok(ProviderScope(state.resolver.scope(&raw.provider)?))
    }
}

async fn resolve(
    state: AppState,
    scope: Scope,
    request: MediaRequest,
) -> Result<Response, ApiError> {
    let mut resolved = state.resolver.resolve(request, scope.clone()).await?;
    // After the cache: the cached answer is every viewer's, the order by language is this one's.
    let wanted = wanted_languages(&state, request).await?;
    let mut reordered = false;
    if wanted != Wanted::Nothing {
        let mut streams = resolved.resolution.streams.clone();
        if prefer::prefer(&mut streams, &wanted) {
            Arc::make_mut(&mut resolved.resolution).streams = streams;
            reordered = true;
        }
    }
    let now = state.clock.unix();
    let signing = Signing {
        proxy: &state.signer,
        security: Some(&state.security),
    };
    if resolved.cached {
        let mut key = CacheKey { scope, request }.to_string();
        if reordered {
            key = format!("{key}|{wanted:?}");
        }
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

/// The viewer's audio wish for this title: the series' last choice for an episode, else the
/// preferences.
async fn wanted_languages(state: &AppState, request: MediaRequest) -> Result<Wanted, ApiError> {
    let prefs = state.store.language_preferences().await?;
    let series = match request.media_type() {
        MediaType::Tv => {
            state
                .store
                .series_language_choice(request.tmdb_id())
                .await?
        }
        MediaType::Movie => None,
    };
    Ok(Wanted::of(&prefs, series.as_ref()))
}
