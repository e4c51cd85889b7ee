//! `/api/library/**`: what is in the local library, scans, problems, posters and episode
//! stills.

use std::sync::Arc;

use axum::Extension;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::extract::{EpisodePath, TitlePath};
use super::profiles::Viewer;
use super::responses::{FfmpegErrors, Internal, LibraryErrors};
use super::with_type;
use crate::accounts::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::library::{Item, ItemDetail, Library, ScanSummary};
use crate::models::MediaType;
use crate::security::media_url::Binding;
use crate::startup::AppState;
use crate::store::media::Problem;

/// The library handle, or a 404 when the operator disabled it.
pub fn library(state: &AppState) -> Result<&Arc<Library>, ApiError> {
    state.library.as_ref().ok_or_else(|| {
        ApiError::not_found(
            "library_disabled",
            "the local library is disabled (library.enabled = false)",
        )
    })
}

/// `GET /api/library/items`.
#[derive(Debug, Serialize, ts_rs::TS, ToSchema)]
#[ts(export, rename = "LibraryItemsResponse")]
pub struct ItemList {
    pub items: Vec<Item>,
}

/// `GET /api/library/problems`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemList {
    pub problems: Vec<Problem>,
}

/// The films and series of the local library, with what the requesting profile watched.
#[utoipa::path(
    get,
    path = "/api/library/items",
    operation_id = "list_library_items",
    responses(
        (status = 200, description = "Every title, films and series", body = ItemList),
        LibraryErrors,
    )
)]
pub async fn items(
    State(state): State<AppState>,
    viewer: Viewer,
    caller: Option<Extension<Caller>>,
) -> Result<Json<ItemList>, ApiError> {
    let mut items: Vec<Item> = library(&state)?.items(viewer.profile).await?;
    let binding = state.security.binding(caller.as_deref());
    for item in &mut items {
        sign_poster(&state, item, binding);
    }
    Ok(Json(ItemList { items }))
}

/// Posters are loaded by `<img>`, which cannot send the API token: their URLs carry a media
/// token instead (when the API needs one). The expiry moves once an hour, so a poster's URL,
/// and the browser's cached copy of it, stay the same meanwhile.
pub(super) fn sign_poster(state: &AppState, item: &mut Item, binding: Option<Binding>) {
    if let Some(url) = &item.poster_url {
        item.poster_url = Some(sign_picture(state, url, binding));
    }
}

fn sign_picture(state: &AppState, url: &str, binding: Option<Binding>) -> String {
    let expires = crate::security::media_url::stable_expiry(
        state.clock.unix(),
        state.settings.proxy.url_ttl,
        3600,
    );
    state.security.media_url(url, expires, binding)
}

/// A series' episode stills, signed as its poster is.
fn sign_stills(state: &AppState, detail: &mut ItemDetail, binding: Option<Binding>) {
    let episodes = detail
        .seasons
        .iter_mut()
        .flatten()
        .flat_map(|s| &mut s.episodes);
    for episode in episodes {
        episode.still_url = sign_picture(state, &episode.still_url, binding);
    }
}

/// One title of the library: a film's duration, or a series' seasons and episodes.
///
/// Each episode has the URL of a frame of its file (`still_url`, signed like posters).
#[utoipa::path(
    get,
    path = "/api/library/items/{media_type}/{tmdb_id}",
    operation_id = "get_library_item",
    params(TitlePath),
    responses(
        (status = 200, description = "The title", body = ItemDetail),
        (status = 400, description = "`unknown_media_type`, `invalid_tmdb_id`", body = ErrorBody),
        (status = 404, description = "`item_not_found`, or `library_disabled`", body = ErrorBody),
        Internal,
    )
)]
pub async fn item(
    State(state): State<AppState>,
    viewer: Viewer,
    caller: Option<Extension<Caller>>,
    title: TitlePath,
) -> Result<Json<ItemDetail>, ApiError> {
    let (kind, id) = (title.media_type, title.tmdb_id.get());
    let mut detail = library(&state)?.item(kind, id, viewer.profile).await?;
    let binding = state.security.binding(caller.as_deref());
    sign_poster(&state, &mut detail.item, binding);
    sign_stills(&state, &mut detail, binding);
    Ok(Json(detail))
}

/// Rescan the library folders now.
///
/// New and changed files are probed with ffprobe; a scan already running is joined, not
/// repeated. Files that cannot be used are listed in `failed`.
#[utoipa::path(
    post,
    path = "/api/library/scan",
    operation_id = "scan_library",
    responses(
        (status = 200, description = "What the scan did", body = ScanSummary),
        LibraryErrors,
        (status = 503, description = "`ffmpeg_unavailable`: ffprobe cannot run", body = ErrorBody),
    )
)]
pub async fn scan(State(state): State<AppState>) -> Result<Json<ScanSummary>, ApiError> {
    let summary = library(&state)?.scan().await?;
    Ok(Json((*summary).clone()))
}

/// Files of the library folders that could not be used, with the reason.
///
/// Each path is relative to its library folder, which `root` names by its index in
/// `library.paths`: the answer never shows where the server keeps its files.
#[utoipa::path(
    get,
    path = "/api/library/problems",
    operation_id = "list_library_problems",
    responses(
        (status = 200, description = "Every problem of the last scans", body = ProblemList),
        LibraryErrors,
    )
)]
pub async fn problems(State(state): State<AppState>) -> Result<Json<ProblemList>, ApiError> {
    let problems = library(&state)?.problems().await?;
    Ok(Json(ProblemList { problems }))
}

/// A title's poster.
///
/// With a TMDB key, a redirect to TMDB's poster; otherwise (or when TMDB has none) a frame
/// taken from the file.
#[utoipa::path(
    get,
    path = "/api/library/poster/{media_type}/{tmdb_id}",
    operation_id = "get_poster",
    params(TitlePath),
    responses(
        (status = 200, description = "A frame of the file", content(("image/jpeg"))),
        (status = 302, description = "TMDB's poster", headers(("Location" = String, description = "The poster's URL"))),
        (status = 400, description = "`unknown_media_type`, `invalid_tmdb_id`", body = ErrorBody),
        (status = 404, description = "`item_not_found`, or `library_disabled`", body = ErrorBody),
        (status = 500, description = "`internal`, `packaging_failed`", body = ErrorBody),
        FfmpegErrors,
    )
)]
pub async fn poster(State(state): State<AppState>, title: TitlePath) -> Result<Response, ApiError> {
    let (kind, id) = (title.media_type, title.tmdb_id.get());
    // With a TMDB key the real poster; without one (or when TMDB has none or fails) a frame
    // taken from the file, so the library always has a picture.
    if let Some(redirect) = tmdb_poster(&state, kind, id).await {
        return Ok(redirect);
    }
    let path = library(&state)?.poster(kind, id).await?;
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|e| ApiError::internal_while("reading the poster", e))?;
    Ok(with_type(bytes, "image/jpeg", POSTER_CACHE))
}

/// A frame of an episode's file, for its row on the series page.
///
/// Taken at 10% of the file (at most 5 minutes in), after most cold opens' black, and kept in
/// the data dir. The dashboard shows TMDB's still for episodes that are not in the library.
#[utoipa::path(
    get,
    path = "/api/library/still/tv/{tmdb_id}/{season}/{episode}",
    operation_id = "get_episode_still",
    params(EpisodePath),
    responses(
        (status = 200, description = "A frame of the episode's file", content(("image/jpeg"))),
        (status = 400, description = "`invalid_tmdb_id`, `invalid_episode`", body = ErrorBody),
        (status = 404, description = "`episode_not_found`, or `library_disabled`", body = ErrorBody),
        (status = 500, description = "`internal`, `packaging_failed`", body = ErrorBody),
        FfmpegErrors,
    )
)]
pub async fn still(State(state): State<AppState>, at: EpisodePath) -> Result<Response, ApiError> {
    let path = library(&state)?
        .still(at.tmdb_id.get(), at.season, at.episode)
        .await?;
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|e| ApiError::internal_while("reading the still", e))?;
    Ok(with_type(bytes, "image/jpeg", POSTER_CACHE))
}

/// Posters change rarely; a day in the browser's cache spares TMDB and ffmpeg.
const POSTER_CACHE: &str = "public, max-age=86400";

/// A redirect to TMDB's poster, when there is a key and TMDB has one (within 3 s).
async fn tmdb_poster(state: &AppState, kind: MediaType, id: u32) -> Option<Response> {
    let tmdb = state.tmdb.as_ref()?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    let meta = tmdb
        .title(kind, id, deadline)
        .await
        .inspect_err(|e| tracing::debug!(error = %e, "no TMDB poster; using a frame from the file"))
        .ok()?;
    let location = HeaderValue::from_str(meta.poster_url.as_deref()?).ok()?;
    let mut response = StatusCode::FOUND.into_response();
    let headers = response.headers_mut();
    headers.insert(header::LOCATION, location);
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(POSTER_CACHE),
    );
    Some(response)
}
