//! `/api/playback/r/{source}/**`: a remote file (a Stremio addon's MKV, a `notWebReady`
//! stream) played through the playback engine as HLS.
//!
//! `{source}` is the sealed proxy URL the resolve answer minted (`c.u.s`, the three
//! base64url parts of `/api/streaming/proxy?c=…&u=…&s=…`): the upstream URL and its headers
//! stay encrypted, and the signature is the credential, as for the proxy itself. ffmpeg and
//! ffprobe never see the upstream: they read that very proxy URL on our loopback listener, so
//! every byte passes the SSRF guard, the injected headers, the per-host limit and the
//! retries, and a seek is a Range request through it.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;
use url::Url;
use utoipa::ToSchema;

use super::media::{burn_choice, client_profile, master_playlist, rendition};
use super::responses::{
    FfmpegErrors, HlsPartAnswers, HlsPartPath, MasterAnswers, ProfileQuery, SealedSourceErrors,
    SealedSourcePath,
};
use super::with_type;
use crate::error::{ApiError, ErrorBody};
use crate::library::assets::subtitle_tracks;
use crate::library::package::BURN_PARAM;
use crate::models::{SubtitleDto, SubtitleFormat};
use crate::proxy::token::PROXY_PATH;
use crate::startup::AppState;
use crate::store::media::MediaFile;

/// The route prefix of a remote engine source.
pub const PLAYBACK_PATH: &str = "/api/playback/r/";

/// The engine's master playlist URL for a minted proxy URL (`/api/streaming/proxy?c&u&s`);
/// `None` when it is not one.
pub fn engine_url(proxy_url: &str) -> Option<String> {
    let query = proxy_url.strip_prefix(PROXY_PATH)?.strip_prefix('?')?;
    let param = |name: &str| {
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    let (c, u, s) = (param("c")?, param("u")?, param("s")?);
    Some(format!("{PLAYBACK_PATH}{c}.{u}.{s}/master.m3u8"))
}

/// The remote file behind `source`, probed through the loopback proxy once.
pub(super) async fn remote_file(state: &AppState, source: &str) -> Result<MediaFile, ApiError> {
    Ok(remote_source(state, source).await?.0)
}

/// [`remote_file`], with the provider the source was minted for.
async fn remote_source(
    state: &AppState,
    source: &str,
) -> Result<(MediaFile, Option<String>), ApiError> {
    let mut parts = source.splitn(3, '.');
    let (Some(c), Some(u), Some(s)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(ApiError::forbidden(
            "proxy_url_malformed",
            "the playback source is malformed",
        ));
    };
    // Checked here so that a forged source costs no ffprobe; the proxy checks it again.
    let verified = state
        .signer
        .verify(c, u, s, None, state.clock.unix())
        .map_err(|e| ApiError::forbidden(e.code(), e.to_string()))?;
    let loopback = state.loopback.get().copied().flatten().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "remote_playback_unavailable",
            "the server listens on no loopback address, which the playback engine reads remote files through",
        )
    })?;
    let url = Url::parse(&format!("http://{loopback}{PROXY_PATH}?c={c}&u={u}&s={s}"))
        .map_err(|e| ApiError::internal(format!("cannot build the loopback URL: {e}")))?;
    // Names the source's cache folder and plans; the sealed text itself may be long.
    let key = blake3::hash(source.as_bytes()).to_hex()[..24].to_string();
    let file = state.engine.remote(&key, url).await?;
    Ok((file, verified.context.provider))
}

/// The HLS master playlist of a remote file, packaged by the playback engine.
///
/// The file is probed through our own proxy (at most a few MiB), then remuxed or transcoded
/// per rendition for the client's `profile`, as a library file is.
#[utoipa::path(
    get,
    path = "/api/playback/r/{source}/master.m3u8",
    operation_id = "get_remote_hls_master",
    params(
        SealedSourcePath,
        ("profile" = Option<String>, Query, description = "What the browser decodes (`docs/playback.md`); carried into every URI of the playlist. Without it: H.264 8-bit + AAC"),
        ("burn" = Option<String>, Query, description = "An embedded image subtitle to burn into the picture (`i0` for the file's first, …); carried into every URI of the playlist"),
    ),
    responses(
        MasterAnswers,
        SealedSourceErrors,
        (status = 422, description = "`unreadable_media`: no video, or no duration", body = ErrorBody),
        (status = 503, description = "`ffmpeg_unavailable`, `remote_playback_unavailable`", body = ErrorBody),
    )
)]
pub async fn master(
    State(state): State<AppState>,
    Path(source): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let profile = client_profile(query.as_deref())?;
    let file = remote_file(&state, &source).await?;
    let burn = burn_choice(query.as_deref(), &file)?;
    master_playlist(&state.engine, &file, profile, burn).await
}

/// A media playlist or a segment of a remote file (names from its master playlist).
#[utoipa::path(
    get,
    path = "/api/playback/r/{source}/{variant}/{name}",
    operation_id = "get_remote_hls_media",
    params(
        SealedSourcePath,
        HlsPartPath,
        ProfileQuery,
    ),
    responses(
        HlsPartAnswers,
        SealedSourceErrors,
        (status = 404, description = "`track_not_found`, `segment_not_found`, `source_expired`", body = ErrorBody),
        (status = 500, description = "`packaging_failed`, `internal`", body = ErrorBody),
        (status = 503, description = "`ffmpeg_busy`, `ffmpeg_unavailable`, `remote_playback_unavailable`", body = ErrorBody),
        (status = 504, description = "`packaging_timeout`", body = ErrorBody),
    )
)]
pub async fn hls(
    State(state): State<AppState>,
    Path((source, variant, name)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let profile = client_profile(query.as_deref())?;
    let file = remote_file(&state, &source).await?;
    let burn = burn_choice(query.as_deref(), &file)?;
    rendition(&state.engine, &file, &variant, &name, (profile, burn)).await
}

/// The subtitle tracks embedded in a remote file, as the resolve answer lists a library
/// file's.
#[derive(Debug, Serialize, ToSchema)]
pub struct RemoteSubtitles {
    /// Text tracks (`url` their WebVTT; `format: "ass"` with `ass_url` for a styled one), then
    /// image tracks (`burn_in`, `url` the master playlist with it burned in).
    pub subtitles: Vec<SubtitleDto>,
}

/// The subtitle tracks embedded in a remote file.
///
/// The resolve answer does not probe remote files (it would read a few MiB of each source
/// before answering), so the player asks here once it plays one; the file was probed for its
/// master playlist already.
#[utoipa::path(
    get,
    path = "/api/playback/r/{source}/subtitles",
    operation_id = "get_remote_subtitles",
    params(SealedSourcePath),
    responses(
        (status = 200, description = "The file's embedded subtitle tracks", body = RemoteSubtitles),
        SealedSourceErrors,
        (status = 404, description = "`source_expired`", body = ErrorBody),
        (status = 422, description = "`unreadable_media`: no video, or no duration", body = ErrorBody),
        (status = 503, description = "`ffmpeg_unavailable`, `remote_playback_unavailable`", body = ErrorBody),
    )
)]
pub async fn subtitles(
    State(state): State<AppState>,
    Path(source): Path<String>,
) -> Result<Json<RemoteSubtitles>, ApiError> {
    let (file, provider) = remote_source(&state, &source).await?;
    let base = format!("{PLAYBACK_PATH}{source}");
    let subtitles = subtitle_tracks(&file)
        .into_iter()
        .map(|t| SubtitleDto {
            url: match t.image {
                true => format!("{base}/master.m3u8?{BURN_PARAM}={}", t.track),
                false => format!("{base}/subtitles/{}.vtt", t.track),
            },
            proxy_url: None,
            lang: t.lang,
            label: t.label,
            provider: provider.clone().unwrap_or_default(),
            format: Some(match t.ass {
                true => SubtitleFormat::Ass,
                false => SubtitleFormat::Vtt,
            }),
            ass_url: t.ass.then(|| format!("{base}/subtitles/{}.ass", t.track)),
            burn_in: t.image.then_some(t.track),
        })
        .collect();
    Ok(Json(RemoteSubtitles { subtitles }))
}

/// An embedded text subtitle of a remote file as WebVTT, or an ASS/SSA track as is.
///
/// Extracted by ffmpeg reading the file through our own proxy (all of it: subtitles are
/// interleaved with the picture), within `library.max_subtitle_bytes`, then kept in memory.
#[utoipa::path(
    get,
    path = "/api/playback/r/{source}/subtitles/{track}",
    operation_id = "get_remote_subtitle",
    params(
        SealedSourcePath,
        ("track" = String, Path, description = "`s0.vtt`, `s1.vtt`…, or `s0.ass` for an ASS/SSA track", example = "s0.vtt"),
    ),
    responses(
        (status = 200, description = "WebVTT (`.vtt`) or ASS/SSA (`.ass`)", content(
            (String = "text/vtt; charset=utf-8"),
            (String = "text/x-ssa; charset=utf-8"),
        )),
        SealedSourceErrors,
        (status = 404, description = "`subtitle_not_found` (also: `.ass` of a track that is not ASS/SSA, an image track, a track over `library.max_subtitle_bytes`), `source_expired`", body = ErrorBody),
        (status = 422, description = "`unreadable_media`: ffmpeg cannot convert the track", body = ErrorBody),
        FfmpegErrors,
    )
)]
pub async fn subtitle(
    State(state): State<AppState>,
    Path((source, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (track, format) = SubtitleFormat::split(&name).ok_or_else(|| {
        ApiError::not_found("subtitle_not_found", "subtitles are served as .vtt or .ass")
    })?;
    let file = remote_file(&state, &source).await?;
    let text = state.engine.remote_subtitle(&file, track, format).await?;
    let content_type = match format {
        SubtitleFormat::Vtt => "text/vtt; charset=utf-8",
        SubtitleFormat::Ass => "text/x-ssa; charset=utf-8",
    };
    Ok(with_type(text.to_string(), content_type, "no-cache"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minted_proxy_url_becomes_an_engine_url_with_its_three_sealed_parts() {
        assert_eq!(
            engine_url("/api/streaming/proxy?c=AA-_&u=BB&s=CC").as_deref(),
            Some("/api/playback/r/AA-_.BB.CC/master.m3u8")
        );
        assert_eq!(engine_url("/api/streaming/proxy?c=AA&u=BB"), None);
        assert_eq!(engine_url("/api/media/1/file"), None);
    }
}
