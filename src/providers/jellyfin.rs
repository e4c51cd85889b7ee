//! Jellyfin (`protocols.md` §4): the user's own server. TMDB id → library item → HLS
//! transcode (H.264/AAC) and, for files a browser plays as they are, direct play.
//!
//! Jellyfin has no provider-id filter (an unknown query parameter is ignored and every item
//! comes back), so items are matched on `ProviderIds.Tmdb` here: first among the results of a
//! title search (the title comes from TMDB), then in a cached index of the whole library.
//! Every URL carries `ApiKey=` (Jellyfin copies the query into the variant and segment URLs,
//! so the whole HLS chain authenticates) and the `Authorization: MediaBrowser` header; both
//! are redacted from the JSON and travel only inside the encrypted proxy URL.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use reqwest::header::AUTHORIZATION;
use serde::Deserialize;
use serde_json::Value;
use tracing::{debug, info, instrument, warn};
use url::Url;

use super::container::Play;
use super::{Provider, ProviderError, ProviderHealth, ProviderId, ProviderManifest};
use crate::config::Secret;
use crate::models::{
    ExtractedStream, Markers, MediaRequest, MediaType, ProviderStreams, Range, RemoteThumbnails,
    StreamKind, StreamSource, Subtitle, TileGrid,
};
use crate::tmdb::Tmdb;
use crate::upstream::json::{BaseUrl, JsonClient};
use crate::upstream::retry::RetryPolicy;

const ID: &str = ProviderId::Jellyfin.as_str();
/// A page of the library index with `Fields=ProviderIds` is ~1 KiB per item.
const MAX_BODY: usize = 16 * 1024 * 1024;
const PAGE: usize = 500;
/// 100 pages of 500: a library larger than this is only searched by title.
const MAX_PAGES: usize = 100;
/// New items show up in Jellyfin after a scan; ten minutes of staleness is fine.
const INDEX_TTL: Duration = Duration::from_secs(600);
/// Several versions of one film (4K, 1080p…) are several media sources; offer a few.
const MAX_MEDIA_SOURCES: usize = 4;
/// A media segment is ~150 bytes of JSON and a file has a few: 256 KiB is over a thousand.
const SEGMENTS_MAX_BODY: usize = 256 * 1024;
/// Markers are a nicety the sources wait for: a server slow to give them costs at most this,
/// and never more than half of what is left of the budget, so the sources still arrive in time.
const SEGMENTS_TIMEOUT: Duration = Duration::from_secs(2);
/// Jellyfin's ticks are 100 ns (`protocols-addendum.md` §1).
const TICKS_PER_SECOND: i64 = 10_000_000;
/// A shorter segment is not worth a button (jellyfin-web ignores skips under 1 s too).
const MIN_SEGMENT_TICKS: i64 = TICKS_PER_SECOND;
/// Credits that end at the file's end may overshoot `RunTimeTicks` by a rounding: up to this
/// they are cut at the runtime, past it the segment is taken as describing another cut.
const RUNTIME_SLACK_TICKS: i64 = TICKS_PER_SECOND;
/// The trickplay width asked for: what seek-bar previews show (as library tiles, 320 px), the
/// largest at or under it, else the smallest there is.
const TRICKPLAY_WIDTH: u32 = 320;
/// At most this many thumbnails, as for library files: a 24-hour recording's trickplay is cut
/// there (later times show the last one) rather than thousands of signed URLs.
const MAX_TRICKPLAY_THUMBNAILS: u32 = crate::library::thumbnails::MAX_TILES;
/// At most this many sheets per source: 36 are 3600 thumbnails in Jellyfin's default 10x10
/// tiles; a server set to tiny tiles gets its trickplay cut at 40 sheets, each a signed URL
/// (~400 bytes) in every resolve answer.
const MAX_TRICKPLAY_SHEETS: u32 = 40;
/// Beyond these a field is taken as malformed: thumbnails are a few hundred pixels wide, and
/// a sheet of more than 100x100 of them would be a JPEG no browser decodes.
const MAX_TRICKPLAY_PIXELS: u32 = 4096;
const MAX_TRICKPLAY_TILES: u32 = 100;
/// The segment types that become markers (`Preview` and `Commercial` have no button).
const SEGMENT_TYPES: [(&str, &str); 3] = [
    ("includeSegmentTypes", "Intro"),
    ("includeSegmentTypes", "Outro"),
    ("includeSegmentTypes", "Recap"),
];

static MANIFEST: ProviderManifest = ProviderManifest {
    id: ID,
    media_types: &[MediaType::Movie, MediaType::Tv],
};

/// TMDB id → Jellyfin item id, per media type (movie and tv ids share one number space).
type Index = HashMap<(MediaType, u32), String>;

#[derive(Debug)]
pub struct Jellyfin {
    /// Sends the `Authorization` of API calls, which names this client in Jellyfin's
    /// dashboard.
    client: JsonClient,
    /// The same client under [`SEGMENTS_MAX_BODY`], for `/MediaSegments`.
    segments: JsonClient,
    base: BaseUrl,
    token: Secret,
    configured_user: Option<String>,
    found_user: tokio::sync::OnceCell<String>,
    index: moka::future::Cache<String, Arc<Index>>,
    tmdb: Option<Arc<Tmdb>>,
    budget: Duration,
}

impl Jellyfin {
    pub fn new(
        http: reqwest::Client,
        base_url: &str,
        token: Secret,
        user_id: Option<String>,
        tmdb: Option<Arc<Tmdb>>,
        budget: Duration,
        retry: RetryPolicy,
    ) -> Result<Self, ProviderError> {
        let base = BaseUrl::parse(base_url).map_err(|e| {
            ProviderError::config(
                "jellyfin_bad_url",
                format!("SOKOUL_JELLYFIN_URL '{base_url}' is not a URL: {e}"),
            )
            .caused_by(e)
        })?;
        let api_auth = format!(
            "MediaBrowser Client=\"Sokoul\", Device=\"Sokoul server\", DeviceId=\"sokoul\", Version=\"{}\", Token=\"{}\"",
            env!("CARGO_PKG_VERSION"),
            token.expose()
        );
        let client = JsonClient::new(http, MAX_BODY)
            .with_retry(retry)
            .with_header(AUTHORIZATION, &api_auth)
            .map_err(|e| {
                ProviderError::config(
                    "jellyfin_bad_api_key",
                    "SOKOUL_JELLYFIN_API_KEY holds characters an HTTP header cannot carry",
                )
                .caused_by(e)
            })?;
        Ok(Jellyfin {
            segments: client.clone().with_max_body(SEGMENTS_MAX_BODY),
            client,
            base,
            token,
            configured_user: user_id.filter(|u| !u.trim().is_empty()),
            found_user: tokio::sync::OnceCell::new(),
            index: moka::future::Cache::builder()
                .max_capacity(16)
                .time_to_live(INDEX_TTL)
                .build(),
            tmdb,
            budget,
        })
    }

    async fn get_json(
        &self,
        path: &str,
        query: &[(&str, &str)],
        deadline: Instant,
    ) -> Result<Value, ProviderError> {
        let answer = self
            .client
            .get(&self.base.join(path, query), deadline)
            .await
            .map_err(|e| ProviderError::transport("Jellyfin", "jellyfin_invalid_response", e))?;
        match answer.status.as_u16() {
            200..=299 => answer.json().map_err(|e| {
                ProviderError::upstream(
                    "jellyfin_invalid_response",
                    "Jellyfin answered with something that is not JSON: check SOKOUL_JELLYFIN_URL",
                )
                .caused_by(e)
            }),
            401 => Err(ProviderError::config(
                "jellyfin_unauthorized",
                "Jellyfin rejected SOKOUL_JELLYFIN_API_KEY (401)",
            )),
            403 => Err(ProviderError::config(
                "jellyfin_forbidden",
                format!("Jellyfin refused access to /{path} (403)"),
            )),
            404 => Err(ProviderError::not_found(
                "jellyfin_not_found",
                format!("Jellyfin has no /{path}"),
            )),
            s => Err(ProviderError::upstream(
                "jellyfin_unavailable",
                format!("Jellyfin answered HTTP {s}"),
            )),
        }
    }

    /// The configured user, or the first administrator (an API key has no user of its own,
    /// and item queries need one). Found once per process.
    async fn user_id(&self, deadline: Instant) -> Result<String, ProviderError> {
        if let Some(user) = &self.configured_user {
            return Ok(user.clone());
        }
        self.found_user
            .get_or_try_init(|| async {
                let users = self
                    .get_json("Users", &[], deadline)
                    .await
                    .map_err(|e| match e {
                        ProviderError::Config {
                            code: "jellyfin_forbidden",
                            ..
                        } => ProviderError::config(
                            "jellyfin_no_user",
                            "this Jellyfin token may not list users: set SOKOUL_JELLYFIN_USER_ID",
                        )
                        .caused_by(e),
                        other => other,
                    })?;
                let users = users.as_array().cloned().unwrap_or_default();
                let enabled =
                    |u: &&Value| u.pointer("/Policy/IsDisabled") != Some(&Value::Bool(true));
                let admin = users
                    .iter()
                    .filter(enabled)
                    .find(|u| u.pointer("/Policy/IsAdministrator") == Some(&Value::Bool(true)));
                admin
                    .or_else(|| users.iter().find(enabled))
                    .and_then(|u| u.get("Id")?.as_str())
                    .map(String::from)
                    .ok_or_else(|| {
                        ProviderError::config(
                            "jellyfin_no_user",
                            "Jellyfin lists no enabled user: set SOKOUL_JELLYFIN_USER_ID",
                        )
                    })
            })
            .await
            .cloned()
    }

    /// Title search, then the library index: the item whose `ProviderIds.Tmdb` is `tmdb_id`.
    async fn find(
        &self,
        media_type: MediaType,
        tmdb_id: u32,
        user: &str,
        deadline: Instant,
    ) -> Result<(Value, Option<String>), ProviderError> {
        let item_type = item_type(media_type);
        let title = match &self.tmdb {
            Some(tmdb) => match tmdb.title(media_type, tmdb_id, deadline).await {
                Ok(meta) => Some(meta.title.clone()),
                Err(e) => {
                    debug!(code = e.code(), "no TMDB title to search Jellyfin with");
                    None
                }
            },
            None => None,
        };
        if let Some(title) = &title {
            let found = self
                .get_json(
                    "Items",
                    &[
                        ("userId", user),
                        ("IncludeItemTypes", item_type),
                        ("Recursive", "true"),
                        ("HasTmdbId", "true"),
                        ("Fields", "ProviderIds,MediaSources,Trickplay"),
                        ("SearchTerm", title),
                        ("Limit", "50"),
                    ],
                    deadline,
                )
                .await?;
            if let Some(item) = items(&found).find(|i| tmdb_id_of(i) == Some(tmdb_id)) {
                return Ok((item.clone(), Some(title.clone())));
            }
            debug!("the title search missed; using the library index");
        }
        let index = self.library_index(user, deadline).await?;
        let Some(item_id) = index.get(&(media_type, tmdb_id)) else {
            return Err(ProviderError::not_found(
                "jellyfin_not_in_library",
                format!(
                    "this {} is not in the Jellyfin library",
                    media_type_word(media_type)
                ),
            ));
        };
        let found = self
            .get_json(
                "Items",
                &[
                    ("userId", user),
                    ("Ids", item_id),
                    ("Fields", "ProviderIds,MediaSources,Trickplay"),
                ],
                deadline,
            )
            .await?;
        match items(&found).find(|i| i.get("Id").and_then(Value::as_str) == Some(item_id)) {
            Some(item) => Ok((item.clone(), title)),
            None => {
                // Removed since the index was built.
                self.index.invalidate(user).await;
                Err(ProviderError::not_found(
                    "jellyfin_not_in_library",
                    format!(
                        "this {} is no longer in the Jellyfin library",
                        media_type_word(media_type)
                    ),
                ))
            }
        }
    }

    /// Every film and series with a TMDB id, paged, cached for [`INDEX_TTL`].
    async fn library_index(
        &self,
        user: &str,
        deadline: Instant,
    ) -> Result<Arc<Index>, ProviderError> {
        self.index
            .try_get_with(user.to_string(), async {
                let mut index = Index::new();
                for page in 0..MAX_PAGES {
                    let start = (page * PAGE).to_string();
                    let limit = PAGE.to_string();
                    let json = self
                        .get_json(
                            "Items",
                            &[
                                ("userId", user),
                                ("IncludeItemTypes", "Movie,Series"),
                                ("Recursive", "true"),
                                ("HasTmdbId", "true"),
                                ("Fields", "ProviderIds"),
                                ("EnableImages", "false"),
                                ("EnableUserData", "false"),
                                ("StartIndex", &start),
                                ("Limit", &limit),
                            ],
                            deadline,
                        )
                        .await?;
                    let mut count = 0;
                    for item in items(&json) {
                        count += 1;
                        let kind = match item.get("Type").and_then(Value::as_str) {
                            Some("Movie") => MediaType::Movie,
                            Some("Series") => MediaType::Tv,
                            _ => continue,
                        };
                        if let (Some(tmdb), Some(id)) =
                            (tmdb_id_of(item), item.get("Id").and_then(Value::as_str))
                        {
                            index.entry((kind, tmdb)).or_insert_with(|| id.to_string());
                        }
                    }
                    let total = json
                        .get("TotalRecordCount")
                        .and_then(Value::as_u64)
                        .unwrap_or(0) as usize;
                    if count < PAGE || (page + 1) * PAGE >= total {
                        debug!(
                            items = index.len(),
                            pages = page + 1,
                            "Jellyfin library indexed"
                        );
                        return Ok(Arc::new(index));
                    }
                }
                warn!(
                    pages = MAX_PAGES,
                    "the Jellyfin library is larger than the index; the rest is only found by title"
                );
                Ok(Arc::new(index))
            })
            .await
            .map_err(|e: Arc<ProviderError>| (*e).clone())
    }

    /// The episode of a series found in the library, matched on its `IndexNumber` (a
    /// double episode spans `IndexNumber..=IndexNumberEnd`).
    async fn episode(
        &self,
        series: &Value,
        season: u32,
        episode: u32,
        user: &str,
        deadline: Instant,
    ) -> Result<ProviderStreams, ProviderError> {
        let series_id = series.get("Id").and_then(Value::as_str).ok_or_else(|| {
            ProviderError::upstream("jellyfin_invalid_response", "a Jellyfin item has no Id")
        })?;
        let season_text = season.to_string();
        let episodes = self
            .get_json(
                &format!("Shows/{series_id}/Episodes"),
                &[
                    ("season", &season_text),
                    ("userId", user),
                    ("Fields", "ProviderIds,MediaSources,Trickplay"),
                ],
                deadline,
            )
            .await
            .map_err(|e| match e {
                ProviderError::NotFound { .. } => ProviderError::not_found(
                    "jellyfin_not_in_library",
                    "the series is no longer in the Jellyfin library",
                ),
                other => other,
            })?;
        let Some(found) = items(&episodes).find(|e| {
            let first = e.get("IndexNumber").and_then(Value::as_u64);
            let last = e.get("IndexNumberEnd").and_then(Value::as_u64).or(first);
            matches!((first, last), (Some(a), Some(b)) if (a..=b).contains(&u64::from(episode)))
        }) else {
            return Err(ProviderError::not_found(
                "jellyfin_episode_not_found",
                format!(
                    "the Jellyfin library has no season {season} episode {episode} of this series"
                ),
            ));
        };
        self.streams(found, item_name(series), deadline).await
    }

    /// The sources of one item: direct play for what a browser plays as is, and an
    /// H.264/AAC HLS transcode for every media source, each with its media segments' markers.
    async fn streams(
        &self,
        item: &Value,
        title: Option<String>,
        deadline: Instant,
    ) -> Result<ProviderStreams, ProviderError> {
        let item_id = item.get("Id").and_then(Value::as_str).ok_or_else(|| {
            ProviderError::upstream("jellyfin_invalid_response", "a Jellyfin item has no Id")
        })?;
        let sources: Vec<&Value> = item
            .get("MediaSources")
            .and_then(Value::as_array)
            .map(|a| a.iter().take(MAX_MEDIA_SOURCES).collect())
            .unwrap_or_default();
        if sources.is_empty() {
            return Err(ProviderError::not_found(
                "jellyfin_no_media_source",
                "the Jellyfin item has no playable file (is it a virtual or missing item?)",
            ));
        }
        let found = Found {
            item_id,
            name: item_name(item).unwrap_or_else(|| "Jellyfin".into()),
            headers: BTreeMap::from([(
                "Authorization".to_string(),
                format!("MediaBrowser Token=\"{}\"", self.token.expose()),
            )]),
            // One id for the transcodes of this answer: Jellyfin keys transcoding jobs on it.
            play_session: format!("{:032x}", rand::random::<u128>()),
            versions: sources.len(),
        };
        let markers = self.markers(item, &sources, deadline).await;
        // Per source only: a top-level copy would hide another provider's (Consumet's) from its
        // own sources, as the player reads the top level only when no source of a provider
        // has its own.
        let mut out = ProviderStreams {
            title,
            ..Default::default()
        };
        for (n, ms) in sources.iter().enumerate() {
            let media = MediaSource::read(ms, item_id);
            let mut streams = self.source_streams(&found, ms, &media);
            let thumbnails = self.thumbnails(item, &found, &media);
            for stream in &mut streams {
                stream.markers = markers[n].clone();
                stream.thumbnails = thumbnails.clone();
            }
            out.streams.extend(streams);
            // Subtitles of the first version only: the others are usually the same tracks.
            if n == 0 {
                out.subtitles = self.subtitles(&found, &media);
            }
        }
        if out.streams.is_empty() {
            out.skipped = sources.len() as u32;
        }
        Ok(out)
    }

    /// The markers of each media source, asked together under a share of the budget.
    async fn markers(
        &self,
        item: &Value,
        sources: &[&Value],
        deadline: Instant,
    ) -> Vec<Option<Markers>> {
        let now = Instant::now();
        let deadline = now + SEGMENTS_TIMEOUT.min(deadline.saturating_duration_since(now) / 2);
        let item_id = item.get("Id").and_then(Value::as_str).unwrap_or_default();
        futures::future::join_all(sources.iter().map(|ms| {
            let runtime = [ms, &item]
                .iter()
                .find_map(|v| v.get("RunTimeTicks").and_then(Value::as_i64));
            self.segment_markers(ms, MediaSource::read(ms, item_id).id, runtime, deadline)
        }))
        .await
    }

    /// The markers of one media source from `/MediaSegments/{id}` (10.10+; the id is the
    /// media source's, as jellyfin-web asks). Never an error: an older server (404), a slow
    /// one or a bad body only means no markers, with the reason in one log line.
    async fn segment_markers(
        &self,
        ms: &Value,
        id: &str,
        runtime: Option<i64>,
        deadline: Instant,
    ) -> Option<Markers> {
        // 10.10+ says when a file has none; older servers send no such field.
        if ms.get("HasSegments") == Some(&Value::Bool(false)) {
            return None;
        }
        let url = self
            .base
            .join(&format!("MediaSegments/{id}"), &SEGMENT_TYPES);
        let answer = match self.segments.get(&url, deadline).await {
            Ok(answer) => answer,
            Err(e) => {
                info!(media_source = id, error = %e, "no Jellyfin markers: /MediaSegments failed");
                return None;
            }
        };
        if !answer.status.is_success() {
            // 404 is the usual case: a server older than 10.10 has no such route.
            debug!(
                media_source = id,
                status = answer.status.as_u16(),
                "no Jellyfin markers: /MediaSegments is not there (server older than 10.10?)"
            );
            return None;
        }
        match answer.json::<SegmentList>() {
            Ok(list) => Some(markers_of_segments(&list.items, runtime)).filter(|m| !m.is_empty()),
            Err(e) => {
                info!(media_source = id, error = %e, "no Jellyfin markers: /MediaSegments answered an unreadable body");
                None
            }
        }
    }

    /// Direct play when a browser can, and the HLS transcode unless Jellyfin refuses it.
    fn source_streams(
        &self,
        found: &Found,
        ms: &Value,
        media: &MediaSource,
    ) -> Vec<ExtractedStream> {
        let (item_id, ms_id) = (found.item_id, media.id);
        let version = ms
            .get("Name")
            .and_then(Value::as_str)
            .filter(|v| found.versions > 1 && !v.is_empty())
            .map(|v| format!(" ({v})"))
            .unwrap_or_default();
        let quality = media.video.and_then(quality);
        let stream = |url: Url, kind: StreamKind, what: &str| {
            let mut s =
                ExtractedStream::remote(ID, url, kind, quality.clone(), found.headers.clone());
            s.label = Some(format!("Jellyfin · {}{version} · {what}", found.name));
            s
        };
        let mut out = Vec::new();
        let original = || {
            self.base.join(
                &format!("Videos/{item_id}/stream"),
                &[
                    ("static", "true"),
                    ("MediaSourceId", ms_id),
                    ("ApiKey", self.token.expose()),
                ],
            )
        };
        match original_file(ms, media.video, media.audio) {
            Some(Play::Browser(kind)) => out.push(stream(original(), kind, "direct play")),
            Some(Play::Engine) => {
                let mut s = stream(original(), StreamKind::Hls, "original file");
                s.engine = true;
                out.push(s);
            }
            _ => {}
        }
        if transcodes(ms) {
            let url = self.base.join(
                &format!("Videos/{item_id}/master.m3u8"),
                &[
                    ("MediaSourceId", ms_id),
                    ("VideoCodec", "h264"),
                    ("AudioCodec", "aac"),
                    ("TranscodingMaxAudioChannels", "2"),
                    ("SegmentContainer", "ts"),
                    ("DeviceId", "sokoul"),
                    ("PlaySessionId", &found.play_session),
                    ("ApiKey", self.token.expose()),
                ],
            );
            out.push(stream(url, StreamKind::Hls, "H.264/AAC"));
        }
        out
    }

    /// The seek thumbnails of a media source from the item's `Trickplay` field (10.9+;
    /// `protocols-addendum.md` §2): the sheets of one width, fetched like the video (the API
    /// key in the URL, the `Authorization` header, both sealed in the proxy URL). None when the
    /// server has made none, or says something unreadable (then with a log line).
    fn thumbnails(
        &self,
        item: &Value,
        found: &Found,
        media: &MediaSource,
    ) -> Option<RemoteThumbnails> {
        let (width, grid) = match trickplay_grid(item.get("Trickplay"), media.id) {
            Ok(Some(found)) => found,
            Ok(None) => return None,
            Err(reason) => {
                info!(media_source = media.id, %reason, "no Jellyfin seek thumbnails");
                return None;
            }
        };
        let sheets = (0..grid.count.div_ceil(grid.columns * grid.rows))
            .map(|index| {
                self.base.join(
                    &format!("Videos/{}/Trickplay/{width}/{index}.jpg", found.item_id),
                    &[("MediaSourceId", media.id), ("ApiKey", self.token.expose())],
                )
            })
            .collect();
        Some(RemoteThumbnails { sheets, grid })
    }

    /// The text subtitle tracks of a media source, as WebVTT.
    fn subtitles(&self, found: &Found, media: &MediaSource) -> Vec<Subtitle> {
        let text_tracks = media.streams.iter().filter(|s| {
            s.get("Type").and_then(Value::as_str) == Some("Subtitle")
                && s.get("IsTextSubtitleStream") == Some(&Value::Bool(true))
        });
        text_tracks
            .filter_map(|sub| {
                let index = sub.get("Index").and_then(Value::as_u64)?;
                let url = self.base.join(
                    &format!(
                        "Videos/{}/{}/Subtitles/{index}/Stream.vtt",
                        found.item_id, media.id
                    ),
                    &[("ApiKey", self.token.expose())],
                );
                let lang = sub
                    .get("Language")
                    .and_then(Value::as_str)
                    .filter(|l| !l.is_empty())
                    .unwrap_or("und")
                    .to_string();
                let label = ["DisplayTitle", "Title"]
                    .iter()
                    .find_map(|k| {
                        sub.get(*k)
                            .and_then(Value::as_str)
                            .filter(|t| !t.is_empty())
                    })
                    .unwrap_or(&lang)
                    .to_string();
                Some(Subtitle {
                    source: StreamSource::Remote {
                        url,
                        headers: found.headers.clone(),
                    },
                    lang,
                    label: Some(label),
                    provider: ID.into(),
                    burn_in: None,
                    ass: None,
                })
            })
            .collect()
    }
}

/// What every source of one found item shares.
struct Found<'a> {
    item_id: &'a str,
    name: String,
    headers: BTreeMap<String, String>,
    play_session: String,
    /// Media sources offered (versions of one title: 4K, 1080p…).
    versions: usize,
}

/// One of an item's `MediaSources`: its id, its tracks, the video and the default audio.
struct MediaSource<'a> {
    id: &'a str,
    streams: &'a [Value],
    video: Option<&'a Value>,
    audio: Option<&'a Value>,
}

impl<'a> MediaSource<'a> {
    fn read(ms: &'a Value, item_id: &'a str) -> Self {
        let streams = ms
            .get("MediaStreams")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let of_type = |t: &str| {
            let t = t.to_string();
            streams
                .iter()
                .filter(move |s| s.get("Type").and_then(Value::as_str) == Some(t.as_str()))
        };
        MediaSource {
            id: ms.get("Id").and_then(Value::as_str).unwrap_or(item_id),
            streams,
            video: of_type("Video").next(),
            audio: of_type("Audio").max_by_key(|s| s.get("IsDefault") == Some(&Value::Bool(true))),
        }
    }
}

/// `QueryResult<MediaSegmentDto>` (`protocols-addendum.md` §1), only what markers need.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SegmentList {
    items: Vec<Segment>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Segment {
    /// A string (`JsonStringEnumConverter`); kept as one so a type added later is skipped,
    /// not a failed answer.
    #[serde(rename = "Type")]
    kind: String,
    start_ticks: i64,
    end_ticks: i64,
}

/// Intro, Outro (the credits) and Recap segments as markers in seconds, the first usable one
/// of each type (Jellyfin sorts them by start). A segment under 1 s, empty or reversed, or
/// beyond the runtime is left out.
fn markers_of_segments(segments: &[Segment], runtime_ticks: Option<i64>) -> Markers {
    let mut markers = Markers::default();
    for segment in segments {
        let slot = match segment.kind.as_str() {
            "Intro" => &mut markers.intro,
            "Outro" => &mut markers.outro,
            "Recap" => &mut markers.recap,
            _ => continue,
        };
        if slot.is_none() {
            *slot = segment_range(segment, runtime_ticks);
        }
    }
    markers
}

fn segment_range(segment: &Segment, runtime_ticks: Option<i64>) -> Option<Range> {
    let (start, mut end) = (segment.start_ticks, segment.end_ticks);
    if start < 0 || end <= start {
        return None;
    }
    if let Some(runtime) = runtime_ticks.filter(|r| *r > 0) {
        if start >= runtime || end > runtime.saturating_add(RUNTIME_SLACK_TICKS) {
            return None;
        }
        end = end.min(runtime);
    }
    let seconds = |ticks: i64| ticks as f64 / TICKS_PER_SECOND as f64;
    (end - start >= MIN_SEGMENT_TICKS).then(|| Range {
        start: seconds(start),
        end: seconds(end),
    })
}

/// One width's `TrickplayInfo` (`MediaBrowser.Model/Entities/TrickplayInfo.cs`).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TrickplayInfo {
    width: u32,
    height: u32,
    /// Thumbnails per row and per column of a sheet.
    tile_width: u32,
    tile_height: u32,
    thumbnail_count: u32,
    /// Milliseconds.
    interval: u32,
}

impl TrickplayInfo {
    fn grid(&self) -> Option<TileGrid> {
        let sizes = [self.width, self.height];
        let tiles = [self.tile_width, self.tile_height];
        let sane = sizes.iter().all(|v| (1..=MAX_TRICKPLAY_PIXELS).contains(v))
            && tiles.iter().all(|v| (1..=MAX_TRICKPLAY_TILES).contains(v))
            && self.thumbnail_count > 0
            && self.interval > 0;
        let per_sheet = self.tile_width * self.tile_height;
        sane.then(|| TileGrid {
            interval: f64::from(self.interval) / 1000.0,
            width: self.width,
            height: self.height,
            columns: self.tile_width,
            rows: self.tile_height,
            count: self
                .thumbnail_count
                .min(MAX_TRICKPLAY_THUMBNAILS)
                .min(MAX_TRICKPLAY_SHEETS * per_sheet),
        })
    }
}

/// The trickplay of media source `ms_id` in an item's `Trickplay` field (`{mediaSourceId:
/// {"<width>": TrickplayInfo}}`): the width to ask for and its grid. `Ok(None)` when there
/// is none (an older server, trickplay not made yet), `Err` when the field is unreadable.
fn trickplay_grid(field: Option<&Value>, ms_id: &str) -> Result<Option<(u32, TileGrid)>, String> {
    let Some(field) = field.filter(|f| !f.is_null()) else {
        return Ok(None);
    };
    let by_source = field
        .as_object()
        .ok_or("the Trickplay field is not an object")?;
    // Jellyfin writes ids as 32 hex digits; a dashed or upper-case copy is the same id.
    let plain = |id: &str| id.replace('-', "").to_ascii_lowercase();
    let Some((_, widths)) = by_source.iter().find(|(k, _)| plain(k) == plain(ms_id)) else {
        return Ok(None);
    };
    let widths = widths
        .as_object()
        .ok_or("the Trickplay of a media source is not an object")?;
    if widths.is_empty() {
        return Ok(None);
    }
    let usable: Vec<(u32, TileGrid)> = widths
        .iter()
        .filter_map(|(key, info)| {
            let info: TrickplayInfo = serde_json::from_value(info.clone()).ok()?;
            // The route takes the width of the key, which is the info's own.
            (key.parse() == Ok(info.width)).then_some(())?;
            Some((info.width, info.grid()?))
        })
        .collect();
    let at_most = usable
        .iter()
        .filter(|(w, _)| *w <= TRICKPLAY_WIDTH)
        .max_by_key(|(w, _)| *w);
    at_most
        .or_else(|| usable.iter().min_by_key(|(w, _)| *w))
        .copied()
        .map(Some)
        .ok_or_else(|| {
            format!(
                "no usable width in its Trickplay field ({} listed)",
                widths.len()
            )
        })
}

fn items(json: &Value) -> impl Iterator<Item = &Value> {
    json.get("Items")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// `ProviderIds.Tmdb` is a string (`"603"`); the key's case is not guaranteed by plugins.
fn tmdb_id_of(item: &Value) -> Option<u32> {
    item.get("ProviderIds")?
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("tmdb"))?
        .1
        .as_str()?
        .trim()
        .parse()
        .ok()
}

fn item_name(item: &Value) -> Option<String> {
    item.get("Name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .map(String::from)
}

fn item_type(media_type: MediaType) -> &'static str {
    match media_type {
        MediaType::Movie => "Movie",
        MediaType::Tv => "Series",
    }
}

fn media_type_word(media_type: MediaType) -> &'static str {
    match media_type {
        MediaType::Movie => "film",
        MediaType::Tv => "series",
    }
}

/// A label from the frame width, which survives letterboxing (1920×800 is "1080p").
fn quality(video: &Value) -> Option<String> {
    let width = video.get("Width").and_then(Value::as_u64).unwrap_or(0);
    let height = video.get("Height").and_then(Value::as_u64).unwrap_or(0);
    let label = match (width, height) {
        (w, _) if w >= 3800 => 2160,
        (w, _) if w >= 2500 => 1440,
        (w, _) if w >= 1900 => 1080,
        (w, _) if w >= 1200 => 720,
        (_, h) if h > 0 => h,
        _ => return None,
    };
    Some(format!("{label}p"))
}

/// A file every current browser plays natively: an MP4/WebM container with H.264/VP9/AV1
/// video and AAC/MP3/Opus/Vorbis/FLAC audio. (HEVC, AC-3 or DTS, or mkv/avi containers, go
/// through the HLS transcode instead.)
/// Whether Jellyfin transcodes this media source (it says so unless told not to).
fn transcodes(ms: &Value) -> bool {
    ms.get("SupportsTranscoding") != Some(&Value::Bool(false))
}

/// How the original file (`Videos/{id}/stream?static=true`) is offered: as it is when a
/// browser plays it; through our playback engine when Jellyfin will not transcode it
/// (`SupportsTranscoding: false`) but serves the file; else not at all (Jellyfin's own HLS
/// transcode is offered instead).
fn original_file(ms: &Value, video: Option<&Value>, audio: Option<&Value>) -> Option<Play> {
    if direct_playable(ms, video, audio) {
        return Some(Play::Browser(StreamKind::Mp4));
    }
    (!transcodes(ms) && serves_file(ms)).then_some(Play::Engine)
}

/// The media source is a file Jellyfin lets a client read as it is.
fn serves_file(ms: &Value) -> bool {
    let is_file = ms
        .get("Protocol")
        .and_then(Value::as_str)
        .is_none_or(|p| p.eq_ignore_ascii_case("file"));
    let allowed = ms.get("SupportsDirectStream") != Some(&Value::Bool(false))
        || ms.get("SupportsDirectPlay") == Some(&Value::Bool(true));
    is_file && allowed
}

fn direct_playable(ms: &Value, video: Option<&Value>, audio: Option<&Value>) -> bool {
    let codec = |s: Option<&Value>| {
        s.and_then(|s| s.get("Codec"))
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase)
    };
    let container_ok = ms
        .get("Container")
        .and_then(Value::as_str)
        .map(|c| c.to_ascii_lowercase())
        .is_some_and(|c| {
            c.split(',')
                .any(|c| matches!(c.trim(), "mp4" | "m4v" | "webm"))
        });
    let video_ok =
        codec(video).is_some_and(|c| matches!(c.as_str(), "h264" | "avc" | "vp9" | "vp8" | "av1"));
    let audio_ok = audio.is_none()
        || codec(audio)
            .is_some_and(|c| matches!(c.as_str(), "aac" | "mp3" | "opus" | "vorbis" | "flac"));
    container_ok && serves_file(ms) && video_ok && audio_ok
}

#[async_trait]
impl Provider for Jellyfin {
    fn manifest(&self) -> &ProviderManifest {
        &MANIFEST
    }

    /// Title search or library index, then the media sources of the film or the episode.
    #[instrument(skip(self), fields(request = %req), err(level = "debug"))]
    async fn resolve(&self, req: &MediaRequest) -> Result<ProviderStreams, ProviderError> {
        let deadline = Instant::now() + self.budget;
        let user = self.user_id(deadline).await?;
        let (item, _) = self
            .find(req.media_type(), req.tmdb_id(), &user, deadline)
            .await?;
        match req.season_episode() {
            None => self.streams(&item, item_name(&item), deadline).await,
            Some((season, episode)) => self.episode(&item, season, episode, &user, deadline).await,
        }
    }

    /// `/System/Info` needs a valid token, so this also catches a rejected API key.
    async fn health(&self) -> ProviderHealth {
        let deadline = Instant::now() + Duration::from_secs(2);
        match self.get_json("System/Info", &[], deadline).await {
            Ok(_) => ProviderHealth {
                ok: true,
                message: None,
            },
            Err(e) => ProviderHealth {
                ok: false,
                message: Some(e.to_string()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tmdb_ids_are_read_from_provider_ids_whatever_the_key_case() {
        assert_eq!(
            tmdb_id_of(&json!({"ProviderIds": {"Tmdb": "603", "Imdb": "tt0133093"}})),
            Some(603)
        );
        assert_eq!(
            tmdb_id_of(&json!({"ProviderIds": {"tmdb": " 42 "}})),
            Some(42)
        );
        assert_eq!(tmdb_id_of(&json!({"ProviderIds": {"Imdb": "tt1"}})), None);
        assert_eq!(tmdb_id_of(&json!({"Name": "no ids"})), None);
    }

    #[test]
    fn only_browser_friendly_files_are_played_directly() {
        let ms = |container: &str| json!({"Container": container, "Protocol": "File", "SupportsDirectPlay": true});
        let v = |c: &str| json!({"Type": "Video", "Codec": c});
        let a = |c: &str| json!({"Type": "Audio", "Codec": c});
        assert!(direct_playable(
            &ms("mov,mp4,m4a,3gp,3g2,mj2"),
            Some(&v("h264")),
            Some(&a("aac"))
        ));
        assert!(direct_playable(
            &ms("webm"),
            Some(&v("vp9")),
            Some(&a("opus"))
        ));
        assert!(
            !direct_playable(&ms("mkv"), Some(&v("h264")), Some(&a("aac"))),
            "mkv"
        );
        assert!(
            !direct_playable(&ms("mp4"), Some(&v("hevc")), Some(&a("aac"))),
            "HEVC"
        );
        assert!(
            !direct_playable(&ms("mp4"), Some(&v("h264")), Some(&a("ac3"))),
            "AC-3"
        );
    }

    #[test]
    fn a_file_jellyfin_will_not_transcode_goes_to_our_engine() {
        let ms = |container: &str, transcodes: bool| {
            json!({"Container": container, "Protocol": "File", "SupportsDirectPlay": true,
                   "SupportsTranscoding": transcodes})
        };
        let (v, a) = (json!({"Codec": "hevc"}), json!({"Codec": "ac3"}));
        assert_eq!(
            original_file(&ms("mkv", false), Some(&v), Some(&a)),
            Some(Play::Engine)
        );
        assert_eq!(
            original_file(&ms("mkv", true), Some(&v), Some(&a)),
            None,
            "Jellyfin's own transcode is offered instead"
        );
        let h264 = (json!({"Codec": "h264"}), json!({"Codec": "aac"}));
        assert_eq!(
            original_file(&ms("mp4", false), Some(&h264.0), Some(&h264.1)),
            Some(Play::Browser(StreamKind::Mp4))
        );
        let remote = json!({"Container": "mkv", "Protocol": "Http", "SupportsTranscoding": false});
        assert_eq!(original_file(&remote, Some(&v), Some(&a)), None);
    }

    fn segments(answer: Value) -> Vec<Segment> {
        serde_json::from_value::<SegmentList>(answer).unwrap().items
    }

    #[test]
    fn media_segments_become_markers_in_seconds_by_type() {
        let list = segments(json!({"Items": [
            {"Id": "a", "ItemId": "i", "Type": "Recap", "StartTicks": 0, "EndTicks": 300_000_000},
            {"Id": "b", "ItemId": "i", "Type": "Intro", "StartTicks": 600_000_000, "EndTicks": 955_000_000},
            {"Id": "c", "ItemId": "i", "Type": "Commercial", "StartTicks": 1_000_000_000, "EndTicks": 1_200_000_000},
            {"Id": "d", "ItemId": "i", "Type": "Outro", "StartTicks": 80_000_000_000i64, "EndTicks": 81_600_000_000i64},
            {"Id": "e", "ItemId": "i", "Type": "Intro", "StartTicks": 2_000_000_000, "EndTicks": 2_500_000_000i64}
        ], "TotalRecordCount": 5, "StartIndex": 0}));
        let m = markers_of_segments(&list, Some(81_600_000_000));
        assert_eq!(
            m.recap,
            Some(Range {
                start: 0.0,
                end: 30.0
            })
        );
        assert_eq!(
            m.intro,
            Some(Range {
                start: 60.0,
                end: 95.5
            }),
            "the first intro, not the later one"
        );
        assert_eq!(
            m.outro,
            Some(Range {
                start: 8000.0,
                end: 8160.0
            }),
            "Outro is the credits"
        );
    }

    #[test]
    fn short_empty_reversed_and_out_of_runtime_segments_are_left_out() {
        let seg = |kind: &str, start: i64, end: i64| Segment {
            kind: kind.into(),
            start_ticks: start,
            end_ticks: end,
        };
        let runtime = Some(100 * TICKS_PER_SECOND);
        let none = |s: Segment| markers_of_segments(&[s], runtime).is_empty();
        assert!(none(seg("Intro", 0, 9_999_999)), "under 1 s");
        assert!(none(seg("Intro", 50, 50)), "EndTicks = StartTicks");
        assert!(none(seg("Intro", 500_000_000, 100_000_000)), "reversed");
        assert!(none(seg("Intro", -10, 500_000_000)), "before the start");
        assert!(
            none(seg("Outro", 1_000_000_000, 1_100_000_000)),
            "starts at the runtime"
        );
        assert!(
            none(seg("Outro", 900_000_000, 1_200_000_000)),
            "ends 10 s past it"
        );
        assert!(none(seg("Preview", 0, 500_000_000)), "not a marker type");
        // Exactly 1 s counts; an end a rounding past the runtime is cut at it.
        assert_eq!(
            markers_of_segments(&[seg("Intro", 0, TICKS_PER_SECOND)], runtime).intro,
            Some(Range {
                start: 0.0,
                end: 1.0
            })
        );
        assert_eq!(
            markers_of_segments(&[seg("Outro", 900_000_000, 1_000_000_500)], runtime).outro,
            Some(Range {
                start: 90.0,
                end: 100.0
            })
        );
        // A runtime Jellyfin does not know does not drop anything.
        assert_eq!(
            markers_of_segments(&[seg("Outro", 900_000_000, 1_200_000_000)], None).outro,
            Some(Range {
                start: 90.0,
                end: 120.0
            })
        );
        // A short first intro does not hide a usable later one.
        let m = markers_of_segments(
            &[seg("Intro", 0, 100), seg("Intro", 0, 300_000_000)],
            runtime,
        );
        assert_eq!(
            m.intro,
            Some(Range {
                start: 0.0,
                end: 30.0
            })
        );
    }

    #[test]
    fn an_answer_without_items_or_with_a_bad_item_is_unreadable() {
        for bad in [
            json!({"TotalRecordCount": 0}),
            json!({"Items": "none"}),
            json!({"Items": [{"Type": "Intro", "StartTicks": "0", "EndTicks": 1}]}),
        ] {
            assert!(serde_json::from_value::<SegmentList>(bad).is_err());
        }
        assert!(segments(json!({"Items": [], "TotalRecordCount": 0, "StartIndex": 0})).is_empty());
    }

    /// A `Trickplay` field as `GET /Items/{id}` gives it: widths 320 and 640 of one source.
    fn trickplay() -> Value {
        let info = |w: u32, h: u32| {
            json!({"Width": w, "Height": h, "TileWidth": 10, "TileHeight": 10,
                   "ThumbnailCount": 735, "Interval": 10000, "Bandwidth": 1_000_000})
        };
        json!({"0a1b2c3d4e5f60718293a4b5c6d7e8f9": {"320": info(320, 134), "640": info(640, 268)}})
    }

    const MS: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";

    #[test]
    fn trickplay_tiles_follow_jellyfins_arithmetic_and_late_times_show_the_last_one() {
        let (width, grid) = trickplay_grid(Some(&trickplay()), MS).unwrap().unwrap();
        assert_eq!(width, 320);
        assert_eq!(
            (grid.interval, grid.width, grid.height),
            (10.0, 320, 134),
            "Interval is milliseconds"
        );
        // t → (sheet, x, y): n = floor(t / 10 s), 100 per sheet, 10 per row.
        let table: &[(f64, (u32, u32, u32))] = &[
            (0.0, (0, 0, 0)),
            (9.999, (0, 0, 0)),
            (10.0, (0, 320, 0)),
            (95.0, (0, 9 * 320, 0)),
            (100.0, (0, 0, 134)),
            (999.0, (0, 9 * 320, 9 * 134)),
            (1000.0, (1, 0, 0)),
            (7339.0, (7, 3 * 320, 3 * 134)),
            // Thumbnail 734 is the last (735 of them); later times are clamped to it.
            (7345.0, (7, 4 * 320, 3 * 134)),
            (7350.0, (7, 4 * 320, 3 * 134)),
            (99_999.0, (7, 4 * 320, 3 * 134)),
        ];
        for &(t, want) in table {
            assert_eq!(grid.tile_at(t), Some(want), "t = {t}");
        }
        assert_eq!(grid.tile_at(-1.0), None);
        assert_eq!(grid.tile_at(f64::NAN), None);
    }

    #[test]
    fn the_trickplay_width_is_the_largest_at_most_320_else_the_smallest() {
        let info = |w: u32| {
            json!({"Width": w, "Height": w / 2, "TileWidth": 10, "TileHeight": 10,
                   "ThumbnailCount": 10, "Interval": 1000})
        };
        let pick = |widths: &[u32]| {
            let map: serde_json::Map<String, Value> =
                widths.iter().map(|w| (w.to_string(), info(*w))).collect();
            trickplay_grid(Some(&json!({ MS: map })), MS)
                .unwrap()
                .map(|(w, _)| w)
        };
        assert_eq!(pick(&[160, 320, 640]), Some(320));
        assert_eq!(pick(&[160, 240, 480]), Some(240));
        assert_eq!(pick(&[480, 1280]), Some(480));
        // Ids are matched whatever their dashes or case.
        let dashed = json!({"0A1B2C3D-4E5F-6071-8293-A4B5C6D7E8F9": {"320": info(320)}});
        assert_eq!(trickplay_grid(Some(&dashed), MS).unwrap().unwrap().0, 320);
    }

    #[test]
    fn no_trickplay_is_none_and_a_malformed_one_is_a_reason() {
        for none in [
            None,
            Some(json!(null)),
            Some(json!({})),
            Some(json!({"ffffffffffffffffffffffffffffffff": {"320": {}}})),
            Some(json!({ MS: {} })),
        ] {
            assert_eq!(trickplay_grid(none.as_ref(), MS), Ok(None), "{none:?}");
        }
        let good = trickplay()[MS]["320"].clone();
        let with = |k: &str, v: Value| {
            let mut info = good.clone();
            info[k] = v;
            json!({ MS: {"320": info} })
        };
        for bad in [
            json!([]),
            json!({ MS: [] }),
            json!({ MS: {"320": "x"} }),
            json!({ MS: {"640": good.clone()} }),
            with("Interval", json!(0)),
            with("TileWidth", json!(0)),
            with("ThumbnailCount", json!(-1)),
            with("Width", json!(100_000)),
        ] {
            assert!(trickplay_grid(Some(&bad), MS).is_err(), "{bad}");
        }
        // A huge count is cut to what a seek bar needs, not refused.
        let (_, grid) = trickplay_grid(Some(&with("ThumbnailCount", json!(1_000_000))), MS)
            .unwrap()
            .unwrap();
        assert_eq!(grid.count, MAX_TRICKPLAY_THUMBNAILS);
        let tiny = json!({ MS: {"320": {"Width": 320, "Height": 180, "TileWidth": 1,
            "TileHeight": 1, "ThumbnailCount": 3000, "Interval": 10000}} });
        let (_, grid) = trickplay_grid(Some(&tiny), MS).unwrap().unwrap();
        assert_eq!(
            grid.count, MAX_TRICKPLAY_SHEETS,
            "one thumbnail per sheet: 40 sheets"
        );
    }

    #[test]
    fn quality_follows_the_frame_width() {
        assert_eq!(
            quality(&json!({"Width": 1920, "Height": 800})).as_deref(),
            Some("1080p")
        );
        assert_eq!(
            quality(&json!({"Width": 3840, "Height": 1600})).as_deref(),
            Some("2160p")
        );
        assert_eq!(
            quality(&json!({"Width": 640, "Height": 480})).as_deref(),
            Some("480p")
        );
        assert_eq!(quality(&json!({})), None);
    }
}
