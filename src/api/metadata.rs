//! `/api/metadata/…`: TMDB metadata for the dashboard. Without a TMDB key these answer 404
//! `metadata_unavailable`, and the dashboard falls back to the library's own metadata.

use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::extract::{LanguageParam, MetadataLanguage, SeasonPath, TitlePath};
use super::responses::TmdbErrors;
use crate::error::{ApiError, ErrorBody};
use crate::startup::AppState;
use crate::tmdb::{Metadata, Season, Tmdb, TmdbError};

/// A metadata request waits at most this long for TMDB (one 429 wait included).
const BUDGET: Duration = Duration::from_secs(10);

fn tmdb(state: &AppState) -> Result<&Tmdb, ApiError> {
    state.tmdb.as_deref().ok_or_else(|| {
        ApiError::not_found(
            "metadata_unavailable",
            "TMDB metadata is not configured on this server (set SOKOUL_TMDB_KEY)",
        )
    })
}

/// A rate-limited answer tells the client when to come back.
fn with_retry_after(e: TmdbError) -> Response {
    let retry = match &e {
        TmdbError::RateLimited { retry_after } => *retry_after,
        _ => None,
    };
    let mut response = ApiError::from(e).into_response();
    if let Some(secs) = retry {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

/// A film's or a series' TMDB metadata.
///
/// Title, overview, poster, backdrop, IMDb id, genres, runtime and rating; for a series its
/// seasons (without episodes).
/// Without `SOKOUL_TMDB_KEY`, 404 `metadata_unavailable`.
#[utoipa::path(
    get,
    path = "/api/metadata/{media_type}/{tmdb_id}",
    operation_id = "get_metadata",
    params(TitlePath, LanguageParam),
    responses(
        (status = 200, description = "The title", body = Metadata),
        (status = 400, description = "`unknown_media_type`, `invalid_tmdb_id`, `invalid_metadata_language`", body = ErrorBody),
        TmdbErrors,
    )
)]
pub async fn title(
    State(state): State<AppState>,
    title: TitlePath,
    MetadataLanguage(language): MetadataLanguage,
) -> Result<Response, ApiError> {
    let (media_type, id) = (title.media_type, title.tmdb_id.get());
    let tmdb = tmdb(&state)?;
    let deadline = Instant::now() + BUDGET;
    match tmdb
        .title_in(media_type, id, language.as_ref(), deadline)
        .await
    {
        Ok(meta) => Ok(Json(meta.as_ref()).into_response()),
        Err(e) => Ok(with_retry_after(e)),
    }
}

/// One season of a series, with its episodes.
#[utoipa::path(
    get,
    path = "/api/metadata/tv/{tmdb_id}/season/{season}",
    operation_id = "get_season_metadata",
    params(
        ("tmdb_id" = u32, Path, minimum = 1, description = "The series' TMDB id"),
        ("season" = u32, Path, minimum = 0, description = "0 holds the specials"),
        LanguageParam,
    ),
    responses(
        (status = 200, description = "The season", body = Season),
        (status = 400, description = "`invalid_tmdb_id`, `invalid_episode`, `invalid_metadata_language`", body = ErrorBody),
        TmdbErrors,
    )
)]
pub async fn season(
    State(state): State<AppState>,
    SeasonPath { tmdb_id, season }: SeasonPath,
    MetadataLanguage(language): MetadataLanguage,
) -> Result<Response, ApiError> {
    let tmdb = tmdb(&state)?;
    match tmdb
        .season_in(
            tmdb_id.get(),
            season,
            language.as_ref(),
            Instant::now() + BUDGET,
        )
        .await
    {
        Ok(s) => Ok(Json(s.as_ref()).into_response()),
        Err(e) => Ok(with_retry_after(e)),
    }
}
