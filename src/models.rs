//! The data that flows through the resolve pipeline: what a request asks for, what a provider
//! extracts, and the JSON the player receives (`docs/contract` shapes).

use std::collections::BTreeMap;
use std::fmt;
use std::num::{NonZeroU32, NonZeroU64};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use ts_rs::TS;
use url::Url;
use utoipa::ToSchema;

/// TMDB's word for the kind of title. Movie and tv ids share one number space, so every key
/// that identifies a title carries this too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum MediaType {
    Movie,
    Tv,
}

impl MediaType {
    pub fn as_str(self) -> &'static str {
        match self {
            MediaType::Movie => "movie",
            MediaType::Tv => "tv",
        }
    }
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for MediaType {
    type Err = RequestError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "movie" => Ok(MediaType::Movie),
            "tv" => Ok(MediaType::Tv),
            other => Err(RequestError::UnknownMediaType(
                other.chars().take(32).collect(),
            )),
        }
    }
}

/// Why a resolve request is not valid. Every variant becomes a 400.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RequestError {
    #[error("unknown media type '{0}': expected 'movie' or 'tv'")]
    UnknownMediaType(String),
    #[error("invalid TMDB id '{0}': expected a positive whole number")]
    InvalidTmdbId(String),
    #[error("a tv request needs both 'season' (≥ 0) and 'episode' (≥ 1) query parameters")]
    MissingEpisode,
    #[error("a movie request takes no 'season' or 'episode' query parameter")]
    UnexpectedEpisode,
    #[error("invalid '{name}' value '{value}': expected a whole number {rule}")]
    InvalidNumber {
        name: &'static str,
        value: String,
        rule: &'static str,
    },
}

impl RequestError {
    pub fn code(&self) -> &'static str {
        match self {
            RequestError::UnknownMediaType(_) => "unknown_media_type",
            RequestError::InvalidTmdbId(_) => "invalid_tmdb_id",
            RequestError::MissingEpisode => "missing_episode",
            RequestError::UnexpectedEpisode => "unexpected_episode",
            RequestError::InvalidNumber { .. } => "invalid_episode",
        }
    }
}

/// A validated request: a movie, or one episode of a series. Only constructible through
/// [`MediaRequest::parse`] or the constructors, so every value in the pipeline is valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "media_type", rename_all = "lowercase")]
pub enum MediaRequest {
    Movie {
        tmdb_id: u32,
    },
    Tv {
        tmdb_id: u32,
        season: u32,
        episode: u32,
    },
}

impl MediaRequest {
    pub fn movie(tmdb_id: u32) -> Self {
        MediaRequest::Movie { tmdb_id }
    }

    pub fn episode(tmdb_id: u32, season: u32, episode: u32) -> Self {
        MediaRequest::Tv {
            tmdb_id,
            season,
            episode,
        }
    }

    /// Validates the raw path and query values of a resolve request.
    pub fn parse(
        media_type: &str,
        tmdb_id: &str,
        season: Option<&str>,
        episode: Option<&str>,
    ) -> Result<Self, RequestError> {
        let media_type: MediaType = media_type.parse()?;
        let tmdb_id = tmdb_id.parse::<TmdbId>()?.get();
        match media_type {
            MediaType::Movie => {
                if season.is_some() || episode.is_some() {
                    return Err(RequestError::UnexpectedEpisode);
                }
                Ok(MediaRequest::movie(tmdb_id))
            }
            MediaType::Tv => {
                let (Some(season), Some(episode)) = (season, episode) else {
                    return Err(RequestError::MissingEpisode);
                };
                let season = parse_season(season)?;
                let episode = parse_episode(episode)?;
                Ok(MediaRequest::episode(tmdb_id, season, episode))
            }
        }
    }

    pub fn media_type(&self) -> MediaType {
        match self {
            MediaRequest::Movie { .. } => MediaType::Movie,
            MediaRequest::Tv { .. } => MediaType::Tv,
        }
    }

    pub fn tmdb_id(&self) -> u32 {
        match *self {
            MediaRequest::Movie { tmdb_id } | MediaRequest::Tv { tmdb_id, .. } => tmdb_id,
        }
    }

    pub fn season_episode(&self) -> Option<(u32, u32)> {
        match *self {
            MediaRequest::Movie { .. } => None,
            MediaRequest::Tv {
                season, episode, ..
            } => Some((season, episode)),
        }
    }
}

impl fmt::Display for MediaRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MediaRequest::Movie { tmdb_id } => write!(f, "movie/{tmdb_id}"),
            MediaRequest::Tv {
                tmdb_id,
                season,
                episode,
            } => write!(f, "tv/{tmdb_id}/S{season:02}E{episode:02}"),
        }
    }
}

/// A TMDB id: a positive whole number. Movie and tv ids are separate number spaces, so a
/// `TmdbId` names a title only together with its [`MediaType`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TmdbId(NonZeroU32);

impl TmdbId {
    pub fn get(self) -> u32 {
        self.0.get()
    }
}

impl fmt::Display for TmdbId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::str::FromStr for TmdbId {
    type Err = RequestError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_positive(s)
            .and_then(|n| u32::try_from(n.get()).ok())
            .and_then(NonZeroU32::new)
            .map(TmdbId)
            .ok_or_else(|| RequestError::InvalidTmdbId(s.chars().take(32).collect()))
    }
}

/// A positive id written in plain ASCII digits: `u64::from_str` alone would also take `+7`.
pub fn parse_positive(s: &str) -> Option<NonZeroU64> {
    s.bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| s.parse::<NonZeroU64>().ok())
        .flatten()
}

/// A season number (0 holds the specials), from a path segment or a query value.
pub fn parse_season(value: &str) -> Result<u32, RequestError> {
    parse_number("season", value, 0, "≥ 0")
}

/// An episode number (from 1), from a path segment or a query value.
pub fn parse_episode(value: &str) -> Result<u32, RequestError> {
    parse_number("episode", value, 1, "≥ 1")
}

fn parse_number(
    name: &'static str,
    value: &str,
    min: u32,
    rule: &'static str,
) -> Result<u32, RequestError> {
    match value.parse::<u32>() {
        Ok(n) if n >= min && value.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
        _ => Err(RequestError::InvalidNumber {
            name,
            value: value.chars().take(32).collect(),
            rule,
        }),
    }
}

/// How the browser plays a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum StreamKind {
    /// An HLS playlist, played through hls.js.
    Hls,
    /// A file the browser plays directly with Range requests.
    Mp4,
}

/// Where a provider found a stream. Remote streams keep the headers their upstream needs;
/// local ones are served by this server and need neither headers nor the proxy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "origin", rename_all = "lowercase")]
pub enum StreamSource {
    /// An upstream URL, fetched through the proxy with `headers`.
    Remote {
        url: Url,
        #[serde(default)]
        headers: BTreeMap<String, String>,
    },
    /// A path on this server (the local library).
    Local { path: String },
}

/// One playable stream as a provider extracted it, before it is ranked and signed. This is
/// what the cache stores: the header propagation provider → `StreamSource.headers` →
/// `ExtractedStream` → JSON keeps every header the upstream asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExtractedStream {
    pub source: StreamSource,
    pub kind: StreamKind,
    /// Free text: `auto`, `1080p`, … (`auto` or absent on an adaptive master playlist).
    pub quality: Option<String>,
    pub provider: String,
    /// A human label (addon name, server name, file name).
    #[serde(default)]
    pub label: Option<String>,
    /// When the stream URL stops working, if the URL says so.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// Intro and credits of this very source (timings differ between cuts of a title).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub markers: Option<Markers>,
    /// A remote file the browser cannot play as it is (an MKV, an AVI, `notWebReady`): played
    /// through the playback engine (`/api/playback/r/…`), as HLS.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub engine: bool,
    /// Audio languages of the source's tracks where it lists them (a library file), for
    /// ranking by the viewer's languages; empty when unknown (then release tags count).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audio_languages: Vec<String>,
    /// Seek thumbnails of this very source, when its upstream has them (Jellyfin's trickplay).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnails: Option<RemoteThumbnails>,
    /// For a file played as it is: its type with codecs, which the player checks with
    /// `canPlayType` before trying it (a library WebM plays directly only where the browser
    /// says so). Absent: tried as before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime: Option<String>,
}

impl ExtractedStream {
    pub fn remote(
        provider: &str,
        url: Url,
        kind: StreamKind,
        quality: Option<String>,
        headers: BTreeMap<String, String>,
    ) -> Self {
        ExtractedStream {
            source: StreamSource::Remote { url, headers },
            kind,
            quality,
            provider: provider.to_string(),
            label: None,
            expires_at: None,
            markers: None,
            engine: false,
            audio_languages: Vec::new(),
            thumbnails: None,
            mime: None,
        }
    }

    pub fn headers(&self) -> Option<&BTreeMap<String, String>> {
        match &self.source {
            StreamSource::Remote { headers, .. } => Some(headers),
            StreamSource::Local { .. } => None,
        }
    }
}

/// A subtitle track as a provider found it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subtitle {
    pub source: StreamSource,
    /// Language code or free text (Consumet gives labels such as "English").
    pub lang: String,
    pub label: Option<String>,
    pub provider: String,
    /// An image subtitle of a library file (`i0`…), which only burning draws; `source` is
    /// then the file's HLS master playlist with it burned in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burn_in: Option<String>,
    /// A library track that is ASS/SSA: the path serving it as is, styles and positions kept.
    /// `source` stays its WebVTT. Defaulted so cache entries written before it still read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ass: Option<String>,
}

/// What a subtitle track is written in, as the player receives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum SubtitleFormat {
    /// WebVTT only.
    Vtt,
    /// Styled ASS/SSA, served as is at `ass_url` for a libass renderer; `url` is its WebVTT
    /// (styles and positions flattened), the fallback.
    Ass,
}

impl SubtitleFormat {
    /// The track id and format of a subtitle file name: `s0.ass` → (`s0`, Ass).
    pub fn split(name: &str) -> Option<(&str, SubtitleFormat)> {
        if let Some(track) = name.strip_suffix(".vtt") {
            return Some((track, SubtitleFormat::Vtt));
        }
        name.strip_suffix(".ass")
            .map(|track| (track, SubtitleFormat::Ass))
    }

    pub fn extension(self) -> &'static str {
        match self {
            SubtitleFormat::Vtt => "vtt",
            SubtitleFormat::Ass => "ass",
        }
    }
}

/// A time range in seconds, from the start of the video.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[ts(export)]
pub struct Range {
    pub start: f64,
    pub end: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[ts(export)]
pub struct Markers {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    #[schema(nullable = false)]
    pub intro: Option<Range>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    #[schema(nullable = false)]
    pub outro: Option<Range>,
    /// A "previously on" recap (Jellyfin's `Recap` segments). Defaulted so markers cached
    /// before it still read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    #[schema(nullable = false)]
    pub recap: Option<Range>,
}

impl Markers {
    pub fn is_empty(&self) -> bool {
        self.intro.is_none() && self.outro.is_none() && self.recap.is_none()
    }
}

/// Where each seek thumbnail is in a set of JPEG sheets: tile `n` (of `count`) shows the time
/// `n * interval` and sits in sheet `n / (columns * rows)` at column `n % columns`, row
/// `n / columns % rows`. Times past the last tile show the last one.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[ts(export)]
pub struct TileGrid {
    /// Seconds between two thumbnails.
    pub interval: f64,
    /// One thumbnail's size in pixels.
    pub width: u32,
    pub height: u32,
    /// Thumbnails per sheet row, per sheet column.
    pub columns: u32,
    pub rows: u32,
    /// Thumbnails in all.
    pub count: u32,
}

impl TileGrid {
    /// The thumbnail shown at `seconds`: its sheet, and its top-left corner in the sheet
    /// (`protocols-addendum.md` §2; a time past the last thumbnail shows the last one). The
    /// player does the same arithmetic (`dashboard/src/lib/player/thumbnails.ts`).
    pub fn tile_at(&self, seconds: f64) -> Option<(u32, u32, u32)> {
        let interval_ms = (self.interval * 1000.0).round();
        let per_sheet = self.columns * self.rows;
        if !(seconds.is_finite() && seconds >= 0.0 && interval_ms >= 1.0)
            || self.count == 0
            || per_sheet == 0
        {
            return None;
        }
        let n = ((seconds * 1000.0).floor() / interval_ms).floor();
        let n = (n.min(f64::from(u32::MAX)) as u32).min(self.count - 1);
        let k = n % per_sheet;
        Some((
            n / per_sheet,
            (k % self.columns) * self.width,
            (k / self.columns) * self.height,
        ))
    }
}

/// A remote source's seek thumbnails as a provider found them: the sheets' upstream URLs, in
/// order, fetched through the proxy with the source's own headers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoteThumbnails {
    pub sheets: Vec<Url>,
    pub grid: TileGrid,
}

/// A source's seek thumbnails as the player receives them: signed proxy URLs of the sheets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[ts(export)]
pub struct ThumbnailsDto {
    pub sheets: Vec<String>,
    pub grid: TileGrid,
}

/// What one provider found for one request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProviderStreams {
    pub streams: Vec<ExtractedStream>,
    pub subtitles: Vec<Subtitle>,
    pub markers: Option<Markers>,
    pub title: Option<String>,
    /// Items the provider saw but cannot offer to a browser (torrents, external links…).
    pub skipped: u32,
}

/// The longest title, label, quality or message a provider may give, in characters. A
/// release name with its tags is about 150; a 100 KB "title" would otherwise be cached,
/// rendered into every resolve answer and shown whole by the player.
pub const MAX_PROVIDER_TEXT: usize = 300;

/// Cuts `text` to `max` characters (on a character boundary), ending it with an ellipsis.
pub fn cap_text(text: &mut String, max: usize) {
    if let Some((cut, _)) = text.char_indices().nth(max.saturating_sub(1))
        && text[cut..].chars().nth(1).is_some()
    {
        text.truncate(cut);
        text.push('…');
    }
}

impl ProviderStreams {
    /// Caps every free text of a provider's answer (`MAX_PROVIDER_TEXT`): the resolver applies
    /// it to every provider, so none can make answers, logs or the cache huge.
    pub fn bounded(mut self) -> Self {
        let cap = |t: &mut Option<String>| {
            if let Some(t) = t {
                cap_text(t, MAX_PROVIDER_TEXT);
            }
        };
        cap(&mut self.title);
        for s in &mut self.streams {
            cap(&mut s.quality);
            cap(&mut s.label);
        }
        for s in &mut self.subtitles {
            cap_text(&mut s.lang, MAX_PROVIDER_TEXT);
            cap(&mut s.label);
        }
        self
    }
}

/// How a provider's part of a resolve ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum OutcomeStatus {
    Ok,
    Empty,
    Error,
    Timeout,
}

impl OutcomeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeStatus::Ok => "ok",
            OutcomeStatus::Empty => "empty",
            OutcomeStatus::Error => "error",
            OutcomeStatus::Timeout => "timeout",
        }
    }
}

/// One provider's outcome, as the player shows it when nothing plays.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[ts(export)]
pub struct ProviderOutcome {
    pub provider: String,
    pub status: OutcomeStatus,
    /// Stable snake_case code for `empty`, `error` and `timeout`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    #[schema(nullable = false)]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    #[schema(nullable = false)]
    pub message: Option<String>,
    pub sources: u32,
    /// Items found that a browser cannot play (torrents, YouTube, external links).
    #[serde(default, skip_serializing_if = "is_zero")]
    #[ts(as = "Option<u32>", optional)]
    pub skipped: u32,
    #[ts(type = "number")]
    pub elapsed_ms: u64,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The title a response is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[ts(export)]
pub struct MediaInfo {
    pub media_type: MediaType,
    pub tmdb_id: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    #[schema(nullable = false)]
    pub season: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    #[schema(nullable = false)]
    pub episode: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    #[schema(nullable = false)]
    pub title: Option<String>,
}

impl MediaInfo {
    pub fn from_request(req: &MediaRequest, title: Option<String>) -> Self {
        let (season, episode) = match req.season_episode() {
            Some((s, e)) => (Some(s), Some(e)),
            None => (None, None),
        };
        MediaInfo {
            media_type: req.media_type(),
            tmdb_id: req.tmdb_id(),
            season,
            episode,
            title,
        }
    }
}

/// A merged, ranked resolution: what the resolver caches and what the API turns into JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resolution {
    pub media: MediaInfo,
    pub streams: Vec<ExtractedStream>,
    pub subtitles: Vec<Subtitle>,
    pub markers: Option<Markers>,
    pub outcomes: Vec<ProviderOutcome>,
    /// When this resolution stops being valid (earliest stream expiry, bounded by the cache).
    #[serde(with = "time::serde::rfc3339")]
    pub valid_until: OffsetDateTime,
}

/// A source as the player receives it (`sources[]` of the contract).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[ts(export)]
pub struct SourceDto {
    /// The upstream URL (credentials redacted) or a path on this server.
    pub url: String,
    /// Signed proxy URL; the player uses it whenever it is present.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    #[schema(nullable = false)]
    pub proxy_url: Option<String>,
    #[serde(rename = "type")]
    pub kind: StreamKind,
    pub quality: String,
    pub provider: String,
    /// What the upstream needs (credentials redacted).
    pub headers: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    #[schema(nullable = false)]
    pub label: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    #[ts(optional, type = "string")]
    #[schema(nullable = false)]
    pub expires_at: Option<OffsetDateTime>,
    /// Intro and credits of this source, when known (library files: detected or from their
    /// chapters). The top-level `markers` stays the first source's that has any.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    #[schema(nullable = false)]
    pub markers: Option<Markers>,
    /// Seek thumbnails of this source, when its upstream has them (Jellyfin's trickplay).
    /// Library files have a WebVTT track instead, next to their media
    /// (`/api/media/{id}/thumbnails.vtt`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    #[schema(nullable = false)]
    pub thumbnails: Option<ThumbnailsDto>,
    /// For a file (`type` `mp4`) played as it is: its type with codecs (RFC 6381), to ask the
    /// browser's `canPlayType` before trying it. A library Matroska/WebM file with WebM codecs
    /// comes first as such a file where the browser plays it, its HLS packaging after it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    #[schema(
        nullable = false,
        example = "video/x-matroska; codecs=\"av01.0.08M.08, opus\""
    )]
    pub mime: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[ts(export)]
pub struct SubtitleDto {
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    #[schema(nullable = false)]
    pub proxy_url: Option<String>,
    pub lang: String,
    pub label: String,
    pub provider: String,
    /// Set for an image subtitle (PGS, VobSub, DVB) of a library file, which a browser cannot
    /// draw: the track to pass as `burn=` to the file's HLS playlists, which then burn it into
    /// the picture. `url` is then that burned-in master playlist, not a subtitle file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    #[schema(nullable = false, example = "i0")]
    pub burn_in: Option<String>,
    /// `ass` for a styled ASS/SSA track (library files), `vtt` otherwise; absent in answers
    /// cached before it existed, which means `vtt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    #[schema(nullable = false)]
    pub format: Option<SubtitleFormat>,
    /// The ASS/SSA track as is, when `format` is `ass`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    #[schema(nullable = false)]
    pub ass_url: Option<String>,
}

/// The resolve response of the contract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[ts(export)]
pub struct ResolveResponse {
    pub media: MediaInfo,
    pub sources: Vec<SourceDto>,
    pub subtitles: Vec<SubtitleDto>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    #[schema(nullable = false)]
    pub markers: Option<Markers>,
    pub outcomes: Vec<ProviderOutcome>,
    /// Whether this answer came from the cache.
    pub cached: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subtitle_file_name_gives_its_track_and_format() {
        assert_eq!(
            SubtitleFormat::split("s0.ass"),
            Some(("s0", SubtitleFormat::Ass))
        );
        assert_eq!(
            SubtitleFormat::split("x1.vtt"),
            Some(("x1", SubtitleFormat::Vtt))
        );
        assert_eq!(SubtitleFormat::split("x1.srt"), None);
        assert_eq!(SubtitleFormat::split("x1"), None);
    }

    #[test]
    fn a_tmdb_id_is_positive_plain_digits_that_fit_u32() {
        assert_eq!("603".parse::<TmdbId>().map(TmdbId::get), Ok(603));
        assert_eq!("00603".parse::<TmdbId>().map(TmdbId::get), Ok(603));
        for bad in ["", "0", "-4", "+7", " 7", "abc", "4294967296"] {
            assert_eq!(
                bad.parse::<TmdbId>().unwrap_err().code(),
                "invalid_tmdb_id",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_movie_request_parses() {
        assert_eq!(
            MediaRequest::parse("movie", "603", None, None),
            Ok(MediaRequest::movie(603))
        );
    }

    #[test]
    fn a_tv_request_needs_season_and_episode() {
        assert_eq!(
            MediaRequest::parse("tv", "1396", Some("1"), Some("2")),
            Ok(MediaRequest::episode(1396, 1, 2))
        );
        assert_eq!(
            MediaRequest::parse("tv", "1396", Some("0"), Some("1")),
            Ok(MediaRequest::episode(1396, 0, 1)),
            "season 0 holds the specials"
        );
        assert_eq!(
            MediaRequest::parse("tv", "1396", Some("1"), None),
            Err(RequestError::MissingEpisode)
        );
        assert_eq!(
            MediaRequest::parse("tv", "1396", Some("1"), Some("0"))
                .unwrap_err()
                .code(),
            "invalid_episode"
        );
    }

    #[test]
    fn bad_ids_and_types_are_rejected() {
        for id in ["0", "-1", "abc", "", "+5", "99999999999", "1.5"] {
            assert_eq!(
                MediaRequest::parse("movie", id, None, None)
                    .unwrap_err()
                    .code(),
                "invalid_tmdb_id",
                "{id}"
            );
        }
        assert_eq!(
            MediaRequest::parse("anime", "1", None, None)
                .unwrap_err()
                .code(),
            "unknown_media_type"
        );
        assert_eq!(
            MediaRequest::parse("movie", "603", Some("1"), None),
            Err(RequestError::UnexpectedEpisode)
        );
    }
}

#[cfg(test)]
mod text_cap {
    use super::*;

    #[test]
    fn long_texts_are_cut_on_a_character_boundary_with_an_ellipsis() {
        let mut t = "é".repeat(1000);
        cap_text(&mut t, 300);
        assert_eq!(t.chars().count(), 300);
        assert!(t.ends_with("é…"));
        for short in ["", "1080p", &"x".repeat(300)] {
            let mut t = short.to_string();
            cap_text(&mut t, 300);
            assert_eq!(t, short, "{} characters are kept whole", short.len());
        }
        let mut t = "x".repeat(301);
        cap_text(&mut t, 300);
        assert_eq!(t, format!("{}…", "x".repeat(299)));
    }
}
