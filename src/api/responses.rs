//! Error answers that several routes share, described once for the OpenAPI document
//! (`responses(…, Internal)` in a route's `#[utoipa::path]`).

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::{IntoParams, IntoResponses, ToResponse};

use crate::error::ErrorBody;

/// The 400 answers of every route that takes `{media_type}/{tmdb_id}[?season&episode]`.
pub const BAD_TITLE: &str = "Bad input: `unknown_media_type`, `invalid_tmdb_id`, \
    `missing_episode`, `invalid_episode`, `unexpected_episode`, `invalid_query`";

/// 500 `internal`: the detail is in the server's log, never in the answer.
#[derive(Debug, IntoResponses)]
pub enum Internal {
    #[response(status = 500, description = "`internal`")]
    Internal(ErrorBody),
}

/// A film or an episode that is not one (400), or the server failing (500).
#[derive(Debug, IntoResponses)]
pub enum TitleErrors {
    #[response(status = 400, description = BAD_TITLE)]
    BadTitle(ErrorBody),
    #[response(status = 500, description = "`internal`")]
    Internal(ErrorBody),
}

/// The library's list routes: disabled (404) or failing (500).
#[derive(Debug, IntoResponses)]
pub enum LibraryErrors {
    #[response(
        status = 404,
        description = "`library_disabled`: the local library is disabled (library.enabled = false)"
    )]
    Disabled(ErrorBody),
    #[response(status = 500, description = "`internal`")]
    Internal(ErrorBody),
}

/// What ffmpeg's limits answer: every slot busy or no ffmpeg (503), too slow (504).
#[derive(Debug, IntoResponses)]
pub enum FfmpegErrors {
    #[response(status = 503, description = "`ffmpeg_busy`, `ffmpeg_unavailable`")]
    Unavailable(ErrorBody),
    #[response(status = 504, description = "`packaging_timeout`")]
    Timeout(ErrorBody),
}

/// TMDB's answers when it is not configured, has no such title, fails, limits or is slow.
#[derive(Debug, IntoResponses)]
pub enum TmdbErrors {
    #[response(
        status = 404,
        description = "`metadata_unavailable` (no SOKOUL_TMDB_KEY), or `tmdb_not_found`"
    )]
    NotFound(ErrorBody),
    #[response(
        status = 502,
        description = "`tmdb_unauthorized`, `tmdb_unreachable`, `tmdb_invalid_response`, `tmdb_unavailable`"
    )]
    Upstream(ErrorBody),
    #[response(
        status = 503,
        description = "`tmdb_rate_limited`: TMDB asks to slow down",
        headers(("Retry-After" = u32, description = "Seconds, when TMDB said"))
    )]
    RateLimited(ErrorBody),
    #[response(status = 504, description = "`tmdb_timeout`")]
    Timeout(ErrorBody),
}

/// `{variant}/{name}`: a media playlist or a segment the playback engine serves, for a library
/// file or a remote one alike.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct HlsPartPath {
    /// A variant or audio rendition named by the master playlist
    pub variant: String,
    /// `index.m3u8`, `{n}.ts`, `init.mp4` or `{n}.m4s`
    #[param(example = "index.m3u8")]
    pub name: String,
}

/// The profile a media playlist or segment was asked with.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProfileQuery {
    /// What the browser decodes, as the master playlist carried it
    pub profile: Option<String>,
    /// The image subtitle burned in, as the master playlist carried it
    pub burn: Option<String>,
}

/// A media playlist, or a segment in the format the plan chose (TS, or fMP4 with its init).
#[derive(Debug, ToResponse)]
#[response(description = "The playlist or the segment")]
pub enum HlsPartBody {
    Playlist(#[content("application/vnd.apple.mpegurl")] String),
    Ts(
        #[content("video/mp2t")]
        #[to_schema]
        Bytes,
    ),
    Mp4(
        #[content("video/mp4")]
        #[to_schema]
        Bytes,
    ),
}

/// A segment's bytes: `string` of `format: binary` in the document.
#[derive(Debug)]
pub struct Bytes;

impl utoipa::PartialSchema for Bytes {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .into()
    }
}

impl utoipa::ToSchema for Bytes {}

/// What every playlist-or-segment route answers when it goes well, or with a bad profile.
#[derive(Debug, IntoResponses)]
pub enum HlsPartAnswers {
    #[response(status = 200)]
    Part(#[to_response] HlsPartBody),
    #[response(
        status = 400,
        description = "`invalid_client_profile`, `invalid_burn_subtitle`"
    )]
    BadProfile(ErrorBody),
}

/// `{source}`: a remote file sealed into a resolve answer's `proxy_url`.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct SealedSourcePath {
    /// The sealed source from a resolve answer's `proxy_url`
    pub source: String,
}

/// A master playlist, or a bad profile.
#[derive(Debug, IntoResponses)]
pub enum MasterAnswers {
    #[response(
        status = 200,
        description = "The master playlist",
        content_type = "application/vnd.apple.mpegurl"
    )]
    Master(String),
    #[response(
        status = 400,
        description = "`invalid_client_profile`, `invalid_burn_subtitle`"
    )]
    BadProfile(ErrorBody),
}

/// What a sealed remote source answers when its seal or its origin fails.
#[derive(Debug, IntoResponses)]
pub enum SealedSourceErrors {
    #[response(
        status = 403,
        description = "`proxy_url_malformed`, `proxy_url_invalid`, `proxy_url_expired`"
    )]
    BadSeal(ErrorBody),
    #[response(
        status = 502,
        description = "`remote_unreadable`: the origin refused the file (404, 403…) or it is not a video"
    )]
    Unreadable(ErrorBody),
}
