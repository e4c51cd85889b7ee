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
use serde_json::Value;
use tracing::{debug, instrument, warn};
use url::Url;

use super::{Provider, ProviderError, ProviderHealth, ProviderId, ProviderManifest};
use crate::config::Secret;
use crate::models::{
    ExtractedStream, MediaRequest, MediaType, ProviderStreams, StreamKind, StreamSource, Subtitle,
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
                        ("Fields", "ProviderIds,MediaSources"),
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
                    ("Fields", "ProviderIds,MediaSources"),
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
                    ("Fields", "ProviderIds,MediaSources"),
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
        self.streams(found, item_name(series))
    }

    /// The sources of one item: direct play for what a browser plays as is, and an
    /// H.264/AAC HLS transcode for every media source.
    fn streams(
        &self,
        item: &Value,
        title: Option<String>,
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
        let mut out = ProviderStreams {
            title,
            ..Default::default()
        };
        for (n, ms) in sources.iter().enumerate() {
            let media = MediaSource::read(ms, item_id);
            out.streams.extend(self.source_streams(&found, ms, &media));
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
        if direct_playable(ms, media.video, media.audio) {
            let url = self.base.join(
                &format!("Videos/{item_id}/stream"),
                &[
                    ("static", "true"),
                    ("MediaSourceId", ms_id),
                    ("ApiKey", self.token.expose()),
                ],
            );
            out.push(stream(url, StreamKind::Mp4, "direct play"));
        }
        if ms.get("SupportsTranscoding") != Some(&Value::Bool(false)) {
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
    let is_file = ms
        .get("Protocol")
        .and_then(Value::as_str)
        .is_none_or(|p| p.eq_ignore_ascii_case("file"));
    let video_ok =
        codec(video).is_some_and(|c| matches!(c.as_str(), "h264" | "avc" | "vp9" | "vp8" | "av1"));
    let audio_ok = audio.is_none()
        || codec(audio)
            .is_some_and(|c| matches!(c.as_str(), "aac" | "mp3" | "opus" | "vorbis" | "flac"));
    let allowed = ms.get("SupportsDirectStream") != Some(&Value::Bool(false))
        || ms.get("SupportsDirectPlay") == Some(&Value::Bool(true));
    container_ok && is_file && video_ok && audio_ok && allowed
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
            None => self.streams(&item, item_name(&item)),
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
