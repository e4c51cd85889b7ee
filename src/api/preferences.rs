//! `/api/preferences/**`: the viewer's languages (audio, subtitles, VF/VOSTFR mode) and the
//! last audio/subtitle choice per series, kept server-side (store/languages.rs).

use axum::Json;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::Deserialize;
use ts_rs::TS;
use utoipa::{IntoParams, ToSchema};

use super::extract::ApiJson;
use super::profiles::Viewer;
use super::responses::Internal;
use crate::error::{ApiError, ErrorBody};
use crate::models::TmdbId;
use crate::startup::AppState;
use crate::store::languages::{
    InvalidLanguages, LanguagePreferences, SeriesLanguageChoice, language_tag, subtitle_choice,
};

/// The profile's language preferences (defaults, mode `none`, when never saved).
#[utoipa::path(
    get,
    path = "/api/preferences/languages",
    operation_id = "get_language_preferences",
    responses(
        (status = 200, description = "The preferences", body = LanguagePreferences),
        Internal,
    )
)]
pub async fn get_languages(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<Json<LanguagePreferences>, ApiError> {
    Ok(Json(
        state.store.language_preferences(viewer.profile).await?,
    ))
}

/// Save the viewer's language preferences.
///
/// Tags are normalised (`fre` → `fr`) and duplicates dropped; the answer is what was saved.
/// Resolve answers rank sources whose audio matches first within each quality.
#[utoipa::path(
    put,
    path = "/api/preferences/languages",
    operation_id = "save_language_preferences",
    request_body = LanguagePreferences,
    responses(
        (status = 200, description = "Saved; the normalised preferences", body = LanguagePreferences),
        (status = 400, description = "`invalid_languages` (not a language tag, or more than 8 in a list), \
            `invalid_body` (not JSON)", body = ErrorBody),
        (status = 413, description = "`invalid_body`: the body is over 2 MB", body = ErrorBody),
        (status = 415, description = "`invalid_body`: the body is not `application/json`", body = ErrorBody),
        (status = 422, description = "`invalid_body`: an unknown `mode` or lists that are not lists of text", body = ErrorBody),
        Internal,
    )
)]
pub async fn put_languages(
    State(state): State<AppState>,
    viewer: Viewer,
    ApiJson(prefs): ApiJson<LanguagePreferences>,
) -> Result<Json<LanguagePreferences>, ApiError> {
    let prefs = prefs.validated().map_err(invalid)?;
    state
        .store
        .save_language_preferences(viewer.profile, prefs.clone(), state.clock.now())
        .await?;
    Ok(Json(prefs))
}

fn invalid(e: InvalidLanguages) -> ApiError {
    ApiError::bad_request("invalid_languages", e.to_string())
}

/// `{tmdb_id}` of a series (a TV id).
#[derive(Debug, Clone, Copy, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct SeriesPath {
    /// The series' TMDB id.
    #[param(value_type = u32, minimum = 1, example = 1396)]
    pub tmdb_id: TmdbId,
}

impl<S: Send + Sync> FromRequestParts<S> for SeriesPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        #[derive(Deserialize)]
        struct Raw {
            tmdb_id: String,
        }
        let Path(raw) = Path::<Raw>::from_request_parts(parts, state).await?;
        Ok(SeriesPath {
            tmdb_id: raw.tmdb_id.parse()?,
        })
    }
}

/// The viewer's last audio and subtitle choice for a series.
#[utoipa::path(
    get,
    path = "/api/preferences/series/{tmdb_id}",
    operation_id = "get_series_languages",
    params(SeriesPath),
    responses(
        (status = 200, description = "The last choice", body = SeriesLanguageChoice),
        (status = 400, description = "`invalid_tmdb_id`", body = ErrorBody),
        (status = 404, description = "`no_series_choice`: nothing picked for this series yet", body = ErrorBody),
        Internal,
    )
)]
pub async fn get_series(
    State(state): State<AppState>,
    viewer: Viewer,
    SeriesPath { tmdb_id }: SeriesPath,
) -> Result<Json<SeriesLanguageChoice>, ApiError> {
    let id = tmdb_id.get();
    state
        .store
        .series_language_choice(viewer.profile, id)
        .await?
        .map(Json)
        .ok_or_else(|| {
            ApiError::not_found("no_series_choice", format!("nothing picked for tv {id}"))
        })
}

/// A choice made while watching: either field may be left out (or null) to keep the one saved.
#[derive(Debug, Deserialize, TS, ToSchema)]
#[ts(export)]
pub struct SeriesLanguageUpdate {
    /// An audio language tag.
    #[serde(default)]
    #[ts(optional)]
    pub audio: Option<String>,
    /// A subtitle language tag, or `off`.
    #[serde(default)]
    #[ts(optional)]
    pub subtitles: Option<String>,
}

/// Record the audio/subtitle choice the viewer made during an episode.
///
/// It wins over the preferences for the series' next episodes (ranking and the player).
#[utoipa::path(
    put,
    path = "/api/preferences/series/{tmdb_id}",
    operation_id = "save_series_languages",
    params(SeriesPath),
    request_body = SeriesLanguageUpdate,
    responses(
        (status = 204, description = "Saved"),
        (status = 400, description = "`invalid_languages` (not a language tag; `off` is accepted for subtitles, \
            or neither field given), `invalid_tmdb_id`, `invalid_body` (not JSON)", body = ErrorBody),
        (status = 413, description = "`invalid_body`: the body is over 2 MB", body = ErrorBody),
        (status = 415, description = "`invalid_body`: the body is not `application/json`", body = ErrorBody),
        (status = 422, description = "`invalid_body`: fields that are not text", body = ErrorBody),
        Internal,
    )
)]
pub async fn put_series(
    State(state): State<AppState>,
    viewer: Viewer,
    SeriesPath { tmdb_id }: SeriesPath,
    ApiJson(update): ApiJson<SeriesLanguageUpdate>,
) -> Result<StatusCode, ApiError> {
    let bad = |what: &str, v: &str| {
        invalid(InvalidLanguages(format!(
            "{what} {v:?} is not a language tag"
        )))
    };
    let audio = match update.audio.as_deref() {
        Some(a) => Some(language_tag(a).ok_or_else(|| bad("audio", a))?),
        None => None,
    };
    let subtitles = match update.subtitles.as_deref() {
        Some(s) => Some(subtitle_choice(s).ok_or_else(|| bad("subtitles", s))?),
        None => None,
    };
    if audio.is_none() && subtitles.is_none() {
        return Err(invalid(InvalidLanguages(
            "give `audio`, `subtitles` or both".into(),
        )));
    }
    state
        .store
        .save_series_language_choice(
            viewer.profile,
            tmdb_id.get(),
            audio,
            subtitles,
            state.clock.now(),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
