//! `/api/media/{file_id}/thumbnails…`: the seek thumbnails of a library file, a WebVTT index
//! whose cues point into JPEG sheets. Under the file's media scope, so one media token opens
//! both (`security::media_url`).

use axum::extract::{Path, RawQuery, State};
use axum::response::Response;

use super::extract::FileId;
use super::library::library;
use super::media::file_of;
use super::with_type;
use crate::error::{ApiError, ErrorBody};
use crate::security::media_url;
use crate::startup::AppState;

/// The WebVTT thumbnails track of a library file.
///
/// One cue per tile (every `library.thumbnails_interval` seconds, 10 by default): its text is
/// the sheet's URL, relative to this track's, with the tile's rectangle as a media fragment
/// (`thumbnails/0.jpg#xywh=320,0,320,180`). The media token this was loaded with is carried
/// into the sheet URLs. 404 until the background job has made the sheets, and for files it
/// could not make them of (see `/api/library/problems`).
#[utoipa::path(
    get,
    path = "/api/media/{file_id}/thumbnails.vtt",
    operation_id = "get_thumbnails_index",
    params(("file_id" = u64, Path, minimum = 1, description = "A library file id")),
    responses(
        (status = 200, description = "WebVTT", content_type = "text/vtt; charset=utf-8", body = String),
        (status = 404, description = "`media_not_found`, `thumbnails_not_found`, or `library_disabled`", body = ErrorBody),
        (status = 500, description = "`internal`", body = ErrorBody),
    )
)]
pub async fn index(
    State(state): State<AppState>,
    id: FileId,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let file = file_of(&state, id).await?;
    // Only a well-formed token is echoed into the cues: the rest of the query is the client's.
    let token = media_url::token_in(query.as_deref())
        .filter(|t| {
            t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
        })
        .map(|t| format!("{}={t}", media_url::PARAM));
    let text = library(&state)?
        .thumbnails_vtt(&file, token.as_deref())
        .await?;
    Ok(with_type(
        text,
        "text/vtt; charset=utf-8",
        "private, no-cache",
    ))
}

/// A JPEG sheet of seek thumbnails, named by the WebVTT track (`{n}.jpg`).
#[utoipa::path(
    get,
    path = "/api/media/{file_id}/thumbnails/{sheet}",
    operation_id = "get_thumbnail_sheet",
    params(
        ("file_id" = u64, Path, minimum = 1, description = "A library file id"),
        ("sheet" = String, Path, description = "`0.jpg`, `1.jpg`…", example = "0.jpg"),
    ),
    responses(
        (status = 200, description = "The sheet", content_type = "image/jpeg"),
        (status = 404, description = "`media_not_found`, `thumbnails_not_found`, or `library_disabled`", body = ErrorBody),
        (status = 500, description = "`internal`", body = ErrorBody),
    )
)]
pub async fn sheet(
    State(state): State<AppState>,
    id: FileId,
    Path((_, sheet)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let missing = || ApiError::not_found("thumbnails_not_found", "no such thumbnail sheet");
    let file = file_of(&state, id).await?;
    let n: u32 = sheet
        .strip_suffix(".jpg")
        .filter(|n| !n.is_empty() && n.len() < 6 && n.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|n| n.parse().ok())
        .ok_or_else(missing)?;
    let path = library(&state)?.thumbnail_sheet(&file, n).await?;
    // A rescan may have replaced the sheets in between: gone is "not found", not an error.
    let bytes = tokio::fs::read(&path).await.map_err(|_| missing())?;
    // Sheets change only with the file, and the track is fetched again on each load.
    Ok(with_type(bytes, "image/jpeg", "private, max-age=3600"))
}
