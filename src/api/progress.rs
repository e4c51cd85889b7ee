//! `/api/progress/**`: save and read watch positions (resume, "continue watching").

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use utoipa::{IntoParams, ToSchema};

use super::extract::{ApiJson, EpisodeQuery, Title, TitlePath};
use super::profiles::Viewer;
use super::responses::{Internal, TitleErrors};
use crate::error::{ApiError, ErrorBody};
use crate::models::MediaType;
use crate::startup::AppState;
use crate::store::progress::ProgressEntry;

#[derive(Debug, Deserialize, TS, ToSchema)]
#[ts(export)]
pub struct ProgressUpdate {
    /// Seconds from the start.
    pub position: f64,
    /// Length of the video, seconds.
    pub duration: f64,
}

#[derive(Debug, Serialize, TS, ToSchema)]
#[ts(export)]
pub struct ProgressList {
    pub items: Vec<ProgressEntry>,
}

/// `GET /api/progress?media_type=tv&tmdb_id=1396`: one title's positions, all of them.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProgressFilter {
    /// With `tmdb_id`: only this title's positions (every episode of a series), not the 50
    /// most recent.
    pub media_type: Option<MediaType>,
    /// With `media_type`.
    pub tmdb_id: Option<u32>,
}

/// The profile's most recent positions, newest first (the "continue watching" row), or every
/// position of one title (which episodes of a series were watched).
#[utoipa::path(
    get,
    path = "/api/progress",
    operation_id = "list_progress",
    params(ProgressFilter),
    responses(
        (status = 200, description = "Up to 50 saved positions, newest first; with a title, all of its own", body = ProgressList),
        (status = 400, description = "`invalid_query`: not a query string, or only one of `media_type` and `tmdb_id`", body = ErrorBody),
        Internal,
    )
)]
pub async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    filter: Result<Query<ProgressFilter>, QueryRejection>,
) -> Result<Json<ProgressList>, ApiError> {
    let Query(filter) = filter?;
    let items = match (filter.media_type, filter.tmdb_id) {
        (None, None) => state.store.recent_progress(viewer.profile, 50).await?,
        (Some(kind), Some(id)) => state.store.title_progress(viewer.profile, kind, id).await?,
        _ => {
            return Err(ApiError::bad_request(
                "invalid_query",
                "media_type and tmdb_id go together",
            ));
        }
    };
    Ok(Json(ProgressList { items }))
}

/// The saved position of a film or an episode.
#[utoipa::path(
    get,
    path = "/api/progress/{media_type}/{tmdb_id}",
    operation_id = "get_progress",
    params(TitlePath, EpisodeQuery),
    responses(
        (status = 200, description = "The saved position", body = ProgressEntry),
        (status = 404, description = "`no_progress`: nothing saved yet", body = ErrorBody),
        TitleErrors,
    )
)]
pub async fn get(
    State(state): State<AppState>,
    viewer: Viewer,
    Title(req): Title,
) -> Result<Json<ProgressEntry>, ApiError> {
    state
        .store
        .progress(viewer.profile, req)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("no_progress", format!("no saved position for {req}")))
}

/// Save the position of a film or an episode.
///
/// Kept in SQLite, so it survives restarts; the dashboard saves every 10 s while playing.
#[utoipa::path(
    put,
    path = "/api/progress/{media_type}/{tmdb_id}",
    operation_id = "save_progress",
    params(TitlePath, EpisodeQuery),
    request_body = ProgressUpdate,
    responses(
        (status = 204, description = "Saved"),
        (status = 400, description = "`invalid_position` (not finite, negative, or duration 0), `invalid_body` (not JSON), \
            or a bad title: `unknown_media_type`, `invalid_tmdb_id`, `missing_episode`, `invalid_episode`, \
            `unexpected_episode`, `invalid_query`", body = ErrorBody),
        (status = 413, description = "`invalid_body`: the body is over 2 MB", body = ErrorBody),
        (status = 415, description = "`invalid_body`: the body is not `application/json`", body = ErrorBody),
        (status = 422, description = "`invalid_body`: JSON without a numeric `position` and `duration`", body = ErrorBody),
        Internal,
    )
)]
pub async fn put(
    State(state): State<AppState>,
    viewer: Viewer,
    Title(req): Title,
    ApiJson(update): ApiJson<ProgressUpdate>,
) -> Result<StatusCode, ApiError> {
    let valid = |x: f64| (0.0..1.0e7).contains(&x);
    if !valid(update.position) || !valid(update.duration) || update.duration == 0.0 {
        return Err(ApiError::bad_request(
            "invalid_position",
            "position and duration must be finite numbers of seconds, duration above 0",
        ));
    }
    state
        .store
        .save_progress(
            viewer.profile,
            req,
            update.position,
            update.duration,
            state.clock.now(),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Forget the position of a film or an episode.
#[utoipa::path(
    delete,
    path = "/api/progress/{media_type}/{tmdb_id}",
    operation_id = "delete_progress",
    params(TitlePath, EpisodeQuery),
    responses(
        (status = 204, description = "Forgotten"),
        (status = 404, description = "`no_progress`: nothing was saved", body = ErrorBody),
        TitleErrors,
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    viewer: Viewer,
    Title(req): Title,
) -> Result<StatusCode, ApiError> {
    if state.store.delete_progress(viewer.profile, req).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(
            "no_progress",
            format!("no saved position for {req}"),
        ))
    }
}
