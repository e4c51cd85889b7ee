//! `/api/media/{file_id}/**`: a library file played by the browser. Direct play with Range
//! requests, HLS packaged on demand, subtitles as WebVTT (ASS/SSA also as is). `{file_id}` is
//! the store's id, never a path, so nothing outside the library can be reached.

use axum::body::Body;
use axum::extract::{Path, RawQuery, Request, State};
use axum::response::Response;
use tower::ServiceExt;
use tower_http::services::ServeFile;

use super::extract::FileId;
use super::library::library;
use super::responses::{
    FfmpegErrors, HlsPartAnswers, HlsPartPath, Internal, MasterAnswers, ProfileQuery,
};
use super::with_type;
use crate::error::{ApiError, ErrorBody};
use crate::library::package::{BURN_PARAM, BurnIn, Packager, Part, Variant};
use crate::models::SubtitleFormat;
use crate::playback::ClientProfile;
use crate::playback::profile::QUERY_PARAM;
use crate::startup::AppState;
use crate::store::media::MediaFile;

pub(super) async fn file_of(state: &AppState, FileId(id): FileId) -> Result<MediaFile, ApiError> {
    Ok(library(state)?.file(id).await?)
}

/// The client's profile (`profile=` in the query), when it sent one; `None` means the
/// conservative default. 400 `invalid_client_profile` when it cannot be read.
pub(super) fn client_profile(query: Option<&str>) -> Result<Option<ClientProfile>, ApiError> {
    let Some(wire) = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == QUERY_PARAM)
        .map(|(_, v)| v)
    else {
        return Ok(None);
    };
    Ok(Some(ClientProfile::parse(&wire)?))
}

/// The image subtitle to burn in (`burn=` in the query, a track of `file`'s subtitles list),
/// when asked for. 400 `invalid_burn_subtitle` when it names none.
pub(super) fn burn_choice(
    query: Option<&str>,
    file: &MediaFile,
) -> Result<Option<BurnIn>, ApiError> {
    url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == BURN_PARAM)
        .map(|(_, track)| BurnIn::of(file, &track).map_err(ApiError::from))
        .transpose()
}

/// The file itself, for direct play, with Range requests.
///
/// `file_id` comes from the `url` of a library source in a resolve answer.
#[utoipa::path(
    get,
    path = "/api/media/{file_id}/file",
    operation_id = "get_media_file",
    params(("file_id" = u64, Path, minimum = 1, description = "A library file id")),
    responses(
        (status = 200, description = "The whole file, with its own type (`video/mp4`…)", content(("video/*"))),
        (status = 206, description = "The requested range", content(("video/*"))),
        (status = 404, description = "`media_not_found` (also when the file now links outside the library), or `library_disabled`", body = ErrorBody),
        (status = 416, description = "Range not satisfiable"),
        (status = 422, description = "`unreadable_media`: the file is a playlist, refused", body = ErrorBody),
        Internal,
    )
)]
pub async fn file(
    State(state): State<AppState>,
    id: FileId,
    request: Request,
) -> Result<Response, ApiError> {
    let file = file_of(&state, id).await?;
    // Checked at every request: since the scan, the file may have been replaced by a link out
    // of the library.
    let path = crate::library::confine::media_input(
        library(&state)?.roots(),
        &file.path,
        &file.probe.format,
    )?;
    let response = ServeFile::new(&path)
        .oneshot(request)
        .await
        .map_err(|e| ApiError::internal_while("reading a library file", e))?;
    Ok(response.map(Body::new))
}

/// The HLS master playlist of a library file, packaged on demand.
///
/// Remuxed when the codecs play in browsers, transcoded to H.264/AAC otherwise; every audio
/// track is a rendition. The playlist is full-length, so the player can seek anywhere.
#[utoipa::path(
    get,
    path = "/api/media/{file_id}/hls/master.m3u8",
    operation_id = "get_hls_master",
    params(
        ("file_id" = u64, Path, minimum = 1, description = "A library file id"),
        ("profile" = Option<String>, Query, description = "What the browser decodes (`docs/playback.md`), e.g. `1:avc,av1,vp9,aac,opus,mp4,webm`; carried into every URI of the playlist. Without it: H.264 8-bit + AAC"),
        ("burn" = Option<String>, Query, description = "An image subtitle to burn into the picture (a transcode), as the subtitles list names it (`burn_in`, e.g. `i0`); carried into every URI of the playlist"),
    ),
    responses(
        MasterAnswers,
        (status = 404, description = "`media_not_found`, or `library_disabled`", body = ErrorBody),
        (status = 422, description = "`unreadable_media`", body = ErrorBody),
        (status = 500, description = "`packaging_failed`, `internal`", body = ErrorBody),
        FfmpegErrors,
    )
)]
pub async fn master(
    State(state): State<AppState>,
    id: FileId,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let profile = client_profile(query.as_deref())?;
    let file = file_of(&state, id).await?;
    let burn = burn_choice(query.as_deref(), &file)?;
    master_playlist(&library(&state)?.packager, &file, profile, burn).await
}

/// The master playlist of `file` as `packager` packages it for `profile`, with `burn` drawn
/// on the picture (a library file, or a remote one: `api::playback`).
pub(super) async fn master_playlist(
    packager: &Packager,
    file: &MediaFile,
    profile: Option<ClientProfile>,
    burn: Option<BurnIn>,
) -> Result<Response, ApiError> {
    let text = packager
        .master_playlist(file, profile.as_ref(), burn.as_ref())
        .await?;
    Ok(with_type(text, "application/vnd.apple.mpegurl", "no-cache"))
}

/// A media playlist (`{variant}/index.m3u8`) or a segment (`{variant}/{n}.ts`, or
/// `{variant}/{n}.m4s` after `{variant}/init.mp4` for fMP4).
///
/// Names come from the master playlist; segments are packaged when first asked for, for the
/// client's `profile`.
#[utoipa::path(
    get,
    path = "/api/media/{file_id}/hls/{variant}/{name}",
    operation_id = "get_hls_media",
    params(
        ("file_id" = u64, Path, minimum = 1, description = "A library file id"),
        HlsPartPath,
        ProfileQuery,
    ),
    responses(
        HlsPartAnswers,
        (status = 404, description = "`media_not_found`, `track_not_found`, `segment_not_found`, or `library_disabled`", body = ErrorBody),
        (status = 422, description = "`unreadable_media`", body = ErrorBody),
        (status = 500, description = "`packaging_failed`, `internal`", body = ErrorBody),
        FfmpegErrors,
    )
)]
pub async fn hls(
    State(state): State<AppState>,
    id: FileId,
    Path((_, variant, name)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let profile = client_profile(query.as_deref())?;
    let file = file_of(&state, id).await?;
    let burn = burn_choice(query.as_deref(), &file)?;
    let choice = (profile, burn);
    rendition(&library(&state)?.packager, &file, &variant, &name, choice).await
}

/// A media playlist or a segment of `file` as `packager` packages it for a profile and a
/// subtitle burned in (a library file, or a remote one: `api::playback`).
pub(super) async fn rendition(
    packager: &Packager,
    file: &MediaFile,
    variant: &str,
    name: &str,
    (profile, burn): (Option<ClientProfile>, Option<BurnIn>),
) -> Result<Response, ApiError> {
    let variant = Variant::parse(variant)
        .ok_or_else(|| ApiError::not_found("track_not_found", "no such HLS variant"))?;
    if name == "index.m3u8" {
        let text = packager
            .media_playlist(file, variant, profile.as_ref(), burn.as_ref())
            .await?;
        return Ok(with_type(text, "application/vnd.apple.mpegurl", "no-cache"));
    }
    let part = Part::parse(name)
        .ok_or_else(|| ApiError::not_found("segment_not_found", "no such HLS segment"))?;
    let path = packager
        .segment(
            file,
            variant,
            part,
            &profile.unwrap_or_default(),
            burn.as_ref(),
        )
        .await?;
    let f = tokio::fs::File::open(&path)
        .await
        .map_err(|_| ApiError::not_found("segment_not_found", "the segment was evicted; retry"))?;
    // A finished segment: its length is known, and the player's loader can show progress.
    let len = f.metadata().await.ok().map(|m| m.len());
    // Each read of a tokio file is one trip to the blocking pool: ReaderStream's default 4 KiB
    // made a 4.8 MB copied 1080p segment 1,200 trips, 245 ms to send on a busy 2-core machine
    // (bench-playback trace); 256 KiB makes it 19.
    let body = Body::from_stream(tokio_util::io::ReaderStream::with_capacity(
        f,
        SEGMENT_READ_CHUNK,
    ));
    let mut response = with_type(body, part.content_type(), "no-cache");
    if let Some(len) = len {
        response
            .headers_mut()
            .insert(axum::http::header::CONTENT_LENGTH, len.into());
    }
    Ok(response)
}

/// Bytes read from a segment file per trip to the blocking pool, and the size of a body chunk.
const SEGMENT_READ_CHUNK: usize = 256 * 1024;

/// A subtitle track as WebVTT, or an ASS/SSA track as is.
///
/// `{track}.vtt`: `x0`, `x1`… for sidecar files, `s0`, `s1`… for embedded text streams (SRT and
/// ASS are converted). `{track}.ass`: a track the resolve answer lists with `format: "ass"`,
/// unconverted, so that a libass renderer keeps its styles and positions.
#[utoipa::path(
    get,
    path = "/api/media/{file_id}/subtitles/{track}",
    operation_id = "get_subtitle",
    params(
        ("file_id" = u64, Path, minimum = 1, description = "A library file id"),
        ("track" = String, Path, description = "`x0.vtt`, `s0.vtt`…, or `s0.ass` for an ASS/SSA track", example = "x0.vtt"),
    ),
    responses(
        (status = 200, description = "WebVTT (`.vtt`) or ASS/SSA (`.ass`)", content(
            (String = "text/vtt; charset=utf-8"),
            (String = "text/x-ssa; charset=utf-8"),
        )),
        (status = 404, description = "`media_not_found`, `subtitle_not_found` (also: `.ass` of a track that is not ASS/SSA, a track over `library.max_subtitle_bytes`), or `library_disabled`", body = ErrorBody),
        Internal,
        FfmpegErrors,
    )
)]
pub async fn subtitle(
    State(state): State<AppState>,
    id: FileId,
    Path((_, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let file = file_of(&state, id).await?;
    let (track, format) = SubtitleFormat::split(&name).ok_or_else(|| {
        ApiError::not_found("subtitle_not_found", "subtitles are served as .vtt or .ass")
    })?;
    let text = library(&state)?.subtitle(&file, track, format).await?;
    let content_type = match format {
        SubtitleFormat::Vtt => "text/vtt; charset=utf-8",
        SubtitleFormat::Ass => "text/x-ssa; charset=utf-8",
    };
    Ok(with_type(text, content_type, "no-cache"))
}
