//! Error answers that several routes share, described once for the OpenAPI document
//! (`responses(…, Internal)` in a route's `#[utoipa::path]`).

use utoipa::IntoResponses;

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
