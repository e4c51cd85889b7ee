//! `/api/progress/**`: save and read watch positions (resume, "continue watching").

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::streaming::{EpisodeQuery, request};
use crate::error::ApiError;
use crate::startup::AppState;
use crate::store::StoreError;
use crate::store::progress::ProgressEntry;

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::internal(format!("the database failed: {e}"))
    }
}

#[derive(Debug, Deserialize, TS)]
#[ts(export)]
pub struct ProgressUpdate {
    /// Seconds from the start.
    pub position: f64,
    /// Length of the video, seconds.
    pub duration: f64,
}

#[derive(Debug, Serialize, TS)]
#[ts(export)]
pub struct ProgressList {
    pub items: Vec<ProgressEntry>,
}

/// The most recent positions, newest first (the "continue watching" row).
pub async fn list(State(state): State<AppState>) -> Result<Json<ProgressList>, ApiError> {
    Ok(Json(ProgressList {
        items: state.store.recent_progress(50).await?,
    }))
}

pub async fn get(
    State(state): State<AppState>,
    Path((media_type, tmdb_id)): Path<(String, String)>,
    query: Result<Query<EpisodeQuery>, QueryRejection>,
) -> Result<Json<ProgressEntry>, ApiError> {
    let req = request(&media_type, &tmdb_id, query)?;
    state
        .store
        .progress(req)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("no_progress", format!("no saved position for {req}")))
}

pub async fn put(
    State(state): State<AppState>,
    Path((media_type, tmdb_id)): Path<(String, String)>,
    query: Result<Query<EpisodeQuery>, QueryRejection>,
    body: Result<Json<ProgressUpdate>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let req = request(&media_type, &tmdb_id, query)?;
    let Json(update) = body?;
    let valid = |x: f64| (0.0..1.0e7).contains(&x);
    if !valid(update.position) || !valid(update.duration) || update.duration == 0.0 {
        return Err(ApiError::bad_request(
            "invalid_position",
            "position and duration must be finite numbers of seconds, duration above 0",
        ));
    }
    state
        .store
        .save_progress(req, update.position, update.duration, state.clock.now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn delete(
    State(state): State<AppState>,
    Path((media_type, tmdb_id)): Path<(String, String)>,
    query: Result<Query<EpisodeQuery>, QueryRejection>,
) -> Result<StatusCode, ApiError> {
    let req = request(&media_type, &tmdb_id, query)?;
    if state.store.delete_progress(req).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(
            "no_progress",
            format!("no saved position for {req}"),
        ))
    }
}
