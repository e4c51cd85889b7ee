//! Consumet (a self-hosted `api.consumet.org` instance): TMDB id → provider ids → HLS sources.
//!
//! `/meta/tmdb/info/{tmdb}` gives the provider's media id (`id`, not the TMDB id) and, for a
//! movie, `episodeId`; a tv episode's id is in `seasons[].episodes[]`. Then
//! `/meta/tmdb/watch/{episodeId}?id={mediaId}` gives the sources and the `Referer` they need.
//! The default server is often the broken one, so when watch fails or is empty the other
//! servers listed by `/movies/{provider}/servers` are tried in turn within the time budget.
//! Every failure shape the real server produces maps to its own outcome code.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value;
use tracing::{debug, instrument};
use url::Url;

use super::container::{Play, by_extension, extension};
use super::{Provider, ProviderError, ProviderHealth, ProviderId, ProviderManifest};
use crate::config::ConsumetSettings;
use crate::models::{
    ExtractedStream, Markers, MediaRequest, MediaType, ProviderStreams, Range, StreamKind,
    StreamSource, Subtitle,
};
use crate::upstream::json::{Answer, BaseUrl, JsonClient, JsonError, quote};
use crate::upstream::retry::RetryPolicy;

const ID: &str = ProviderId::Consumet.as_str();
/// `/meta/tmdb/info` for a long show carries every season's episodes, `similar[]`… but never
/// megabytes: anything bigger is not a Consumet answer.
const MAX_BODY: usize = 8 * 1024 * 1024;
/// The movie provider Consumet uses when `provider=` is absent (HiMovies since 2025-06).
const DEFAULT_PROVIDER: &str = "himovies";
/// Don't start another server attempt with less time than this left.
const MIN_ATTEMPT: Duration = Duration::from_millis(750);

static MANIFEST: ProviderManifest = ProviderManifest {
    id: ID,
    media_types: &[MediaType::Movie, MediaType::Tv],
};

#[derive(Debug)]
pub struct Consumet {
    client: JsonClient,
    base: BaseUrl,
    provider: Option<String>,
    server: Option<String>,
    budget: Duration,
}

#[derive(Debug, Deserialize)]
struct Info {
    id: Option<String>,
    #[serde(rename = "episodeId")]
    episode_id: Option<Value>,
    title: Option<String>,
    #[serde(default)]
    seasons: Vec<Season>,
}

#[derive(Debug, Deserialize)]
struct Season {
    season: Option<u32>,
    #[serde(default)]
    episodes: Option<Vec<Episode>>,
}

#[derive(Debug, Deserialize)]
struct Episode {
    id: Option<Value>,
    season: Option<u32>,
    episode: Option<u32>,
}

#[derive(Debug, Deserialize)]
struct Watch {
    #[serde(default)]
    headers: BTreeMap<String, Value>,
    #[serde(default)]
    sources: Vec<Value>,
    #[serde(default)]
    subtitles: Vec<Value>,
    intro: Option<Interval>,
    outro: Option<Interval>,
}

#[derive(Debug, Deserialize)]
struct Interval {
    start: Option<f64>,
    end: Option<f64>,
}

#[derive(Debug, Deserialize)]
struct Server {
    name: Option<String>,
}

/// Ids are strings in Consumet's types, but numbers turn up: accept both.
fn id_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl Consumet {
    pub fn new(
        http: reqwest::Client,
        base_url: &str,
        settings: &ConsumetSettings,
        budget: Duration,
        retry: RetryPolicy,
    ) -> Result<Self, ProviderError> {
        let base = BaseUrl::parse(base_url).map_err(|e| {
            ProviderError::config(
                "consumet_bad_url",
                format!("SOKOUL_CONSUMET_URL '{base_url}' is not a URL: {e}"),
            )
            .caused_by(e)
        })?;
        Ok(Consumet {
            client: JsonClient::new(http, MAX_BODY).with_retry(retry),
            base,
            provider: settings.provider.clone().filter(|p| !p.is_empty()),
            server: settings.server.clone().filter(|s| !s.is_empty()),
            budget,
        })
    }

    /// GET + JSON decode, with every Consumet failure shape mapped to a code.
    async fn get_json(&self, url: Url, deadline: Instant) -> Result<Value, ProviderError> {
        let answer =
            self.client.get(&url, deadline).await.map_err(|e| {
                ProviderError::transport("Consumet", "consumet_invalid_response", e)
            })?;
        classify(&answer)
    }

    fn provider_param(&self) -> Vec<(&str, &str)> {
        self.provider
            .as_deref()
            .map(|p| vec![("provider", p)])
            .unwrap_or_default()
    }

    async fn info(
        &self,
        tmdb_id: u32,
        kind: &str,
        deadline: Instant,
    ) -> Result<Info, ProviderError> {
        let mut query = vec![("type", kind)];
        query.extend(self.provider_param());
        let url = self.base.join(&format!("meta/tmdb/info/{tmdb_id}"), &query);
        let json = self.get_json(url, deadline).await?;
        serde_json::from_value(json).map_err(|e| {
            ProviderError::upstream(
                "consumet_invalid_response",
                format!("Consumet's info answer has an unexpected shape: {e}"),
            )
            .caused_by(e)
        })
    }

    async fn watch(
        &self,
        episode_id: &str,
        media_id: &str,
        server: Option<&str>,
        deadline: Instant,
    ) -> Result<Watch, ProviderError> {
        let mut url = self.base.join("meta/tmdb/watch/", &[]);
        url.path_segments_mut()
            .expect("http URLs have path segments")
            .pop_if_empty()
            .push(episode_id);
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("id", media_id);
            if let Some(p) = &self.provider {
                q.append_pair("provider", p);
            }
            if let Some(s) = server {
                q.append_pair("server", s);
            }
        }
        let json = self.get_json(url, deadline).await?;
        serde_json::from_value(json).map_err(|e| {
            ProviderError::upstream(
                "consumet_invalid_response",
                format!("Consumet's watch answer has an unexpected shape: {e}"),
            )
            .caused_by(e)
        })
    }

    async fn servers(&self, episode_id: &str, media_id: &str, deadline: Instant) -> Vec<String> {
        let provider = self
            .provider
            .as_deref()
            .map(str::to_ascii_lowercase)
            .unwrap_or_else(|| DEFAULT_PROVIDER.into());
        let url = self.base.join(
            &format!("movies/{provider}/servers"),
            &[("episodeId", episode_id), ("mediaId", media_id)],
        );
        match self.get_json(url, deadline).await {
            Ok(json) => serde_json::from_value::<Vec<Server>>(json)
                .unwrap_or_default()
                .into_iter()
                .filter_map(|s| s.name)
                .map(|n| n.to_ascii_lowercase())
                .collect(),
            Err(e) => {
                debug!(error = %e, "listing Consumet servers failed");
                Vec::new()
            }
        }
    }

    /// Watch with the preferred (or default) server, then every other listed server, until
    /// one gives sources or the budget runs out.
    async fn streams(
        &self,
        episode_id: &str,
        media_id: &str,
        title: Option<String>,
        deadline: Instant,
    ) -> Result<ProviderStreams, ProviderError> {
        let first = self.server.as_deref();
        let first_error = match self.watch(episode_id, media_id, first, deadline).await {
            Ok(watch) => {
                let found = map_watch(watch, title.clone());
                if !found.streams.is_empty() {
                    return Ok(found);
                }
                no_sources(first)
            }
            Err(e @ (ProviderError::Timeout { .. } | ProviderError::Unreachable { .. })) => {
                return Err(e);
            }
            Err(
                e @ ProviderError::Upstream {
                    code: "consumet_demo_mode",
                    ..
                },
            ) => return Err(e),
            Err(e) => e,
        };
        let mut tried: Vec<String> = first.map(|s| vec![s.to_string()]).unwrap_or_default();
        let servers = self.servers(episode_id, media_id, deadline).await;
        for server in servers {
            if tried.contains(&server) {
                continue;
            }
            if deadline.saturating_duration_since(Instant::now()) < MIN_ATTEMPT {
                break;
            }
            debug!(server = %server, "trying another Consumet server");
            match self
                .watch(episode_id, media_id, Some(&server), deadline)
                .await
            {
                Ok(watch) => {
                    let found = map_watch(watch, title.clone());
                    if !found.streams.is_empty() {
                        return Ok(found);
                    }
                }
                Err(e) => debug!(server = %server, error = %e, "Consumet server failed"),
            }
            tried.push(server);
        }
        Err(match first_error {
            e @ (ProviderError::NotFound { .. } | ProviderError::Upstream { .. })
                if tried.len() > 1 =>
            {
                e.map_message(|m| format!("{m} (servers tried: {})", tried.join(", ")))
            }
            other => other,
        })
    }
}

/// A tv episode's id, from the `seasons[].episodes[]` of the info answer.
fn episode_id(info: &Info, season: u32, episode: u32) -> Result<String, ProviderError> {
    if info.seasons.is_empty() {
        return Err(no_match());
    }
    let found = info
        .seasons
        .iter()
        .flat_map(|s| {
            s.episodes
                .iter()
                .flatten()
                .map(move |e| (e.season.or(s.season), e))
        })
        .find(|(s, e)| *s == Some(season) && e.episode == Some(episode))
        .map(|(_, e)| e);
    let Some(ep) = found else {
        return Err(ProviderError::not_found(
            "consumet_episode_not_found",
            format!("Consumet lists no season {season} episode {episode} for this series"),
        ));
    };
    ep.id.as_ref().and_then(id_string).ok_or_else(|| {
        ProviderError::not_found(
            "consumet_episode_unmatched",
            format!("Consumet's provider site has no match for season {season} episode {episode}"),
        )
    })
}

fn no_match() -> ProviderError {
    ProviderError::not_found(
        "consumet_no_match",
        "Consumet's provider site has no match for this title",
    )
}

fn no_sources(server: Option<&str>) -> ProviderError {
    ProviderError::not_found(
        "consumet_no_sources",
        match server {
            Some(s) => format!("Consumet returned no sources (server {s})"),
            None => "Consumet returned no sources".to_string(),
        },
    )
}

fn demo_mode(what: &str) -> ProviderError {
    ProviderError::upstream(
        "consumet_demo_mode",
        format!(
            "Consumet answered with {what} instead of JSON: the instance is probably in NODE_ENV=DEMO; set NODE_ENV=PROD"
        ),
    )
}

/// Redirects and HTML pages (an instance in DEMO mode), bodies that are not JSON, then the
/// error answers of [`classify_error`].
fn classify(answer: &Answer) -> Result<Value, ProviderError> {
    let status = answer.status;
    if status.is_redirection() {
        let location = answer.location_shown().unwrap_or_else(|| "?".into());
        return Err(demo_mode(&format!("a redirect to {location}")));
    }
    if answer.looks_html() && status.is_success() {
        return Err(demo_mode("an HTML page"));
    }
    let json: Value = answer.json().map_err(|e| {
        let (code, message) = if status.is_success() {
            ("consumet_invalid_response", "with a body that is not JSON")
        } else {
            ("consumet_unavailable", "without a JSON body")
        };
        ProviderError::upstream(code, format!("Consumet answered {status} {message}")).caused_by(e)
    })?;
    if status.is_success() {
        return Ok(json);
    }
    Err(classify_error(status, &json))
}

/// Maps Consumet's non-2xx JSON answers (`protocols.md` §1.7) to outcome codes.
fn classify_error(status: reqwest::StatusCode, json: &Value) -> ProviderError {
    // Consumet's text may quote its own upstream's URL, key included: never verbatim.
    let text = quote(json.get("message").and_then(Value::as_str).unwrap_or(""));
    match status.as_u16() {
        // The catch-all route: wrong base URL, or an instance without /meta/tmdb.
        404 if json.get("error").and_then(Value::as_str) == Some("page not found") => {
            ProviderError::upstream(
                "consumet_route_not_found",
                "Consumet does not know this route: check SOKOUL_CONSUMET_URL and the instance's version",
            )
        }
        // The watch route's failure: a serialized Error, `{"message":{}}`.
        404 => ProviderError::upstream(
            "consumet_watch_failed",
            "Consumet could not extract sources from the provider site",
        ),
        400 => ProviderError::upstream(
            "consumet_bad_request",
            format!("Consumet rejected the request: {text}"),
        ),
        500 if text.contains("status code 404") => ProviderError::not_found(
            "consumet_title_not_found",
            "TMDB does not know this id (through Consumet)",
        ),
        500 if text.contains("status code 401") => ProviderError::upstream(
            "consumet_tmdb_key_rejected",
            "TMDB rejected the Consumet instance's key (set a valid v3 TMDB_KEY on the instance)",
        ),
        500 if text.contains("ENOTFOUND")
            || text.contains("ECONNREFUSED")
            || text.contains("ETIMEDOUT") =>
        {
            ProviderError::upstream(
                "consumet_upstream_unreachable",
                format!("Consumet cannot reach its upstream: {text}"),
            )
        }
        500 if text.contains("Cannot read properties of undefined") => no_match(),
        500 => ProviderError::upstream(
            "consumet_internal_error",
            if text.is_empty() {
                "Consumet failed with an internal error".to_string()
            } else {
                format!("Consumet failed: {text}")
            },
        ),
        _ => ProviderError::upstream(
            "consumet_unavailable",
            format!("Consumet answered HTTP {}", status.as_u16()),
        ),
    }
}

fn map_watch(watch: Watch, title: Option<String>) -> ProviderStreams {
    let headers: BTreeMap<String, String> = watch
        .headers
        .into_iter()
        .filter_map(|(k, v)| v.as_str().map(|v| (k, v.to_string())))
        .filter(|(k, v)| !k.is_empty() && !v.is_empty())
        .collect();
    let mut out = ProviderStreams {
        title,
        ..Default::default()
    };
    for item in &watch.sources {
        match map_source(item, &headers) {
            Some(stream) => out.streams.push(stream),
            None => out.skipped += 1,
        }
    }
    out.subtitles = watch
        .subtitles
        .iter()
        .filter_map(|sub| map_subtitle(sub, &headers))
        .collect();
    let range = |i: Option<Interval>| {
        let i = i?;
        let (start, end) = (i.start?, i.end?);
        (end > start && start >= 0.0).then_some(Range { start, end })
    };
    let markers = Markers {
        intro: range(watch.intro),
        outro: range(watch.outro),
        recap: None,
    };
    out.markers = (!markers.is_empty()).then_some(markers);
    out
}

fn http_url(item: &Value) -> Option<Url> {
    item.get("url")
        .and_then(Value::as_str)
        .and_then(|u| Url::parse(u).ok())
        .filter(|u| matches!(u.scheme(), "http" | "https"))
}

/// One of `sources[]`; `None` for what we cannot play (DASH, disc images) or no URL at all. A
/// file (`isM3U8: false`) in a container browsers do not play (MKV, AVI, TS…) goes to the
/// playback engine, as a Stremio `url` stream does.
fn map_source(item: &Value, headers: &BTreeMap<String, String>) -> Option<ExtractedStream> {
    let url = http_url(item)?;
    let is_dash = item.get("isDASH").and_then(Value::as_bool) == Some(true);
    let is_m3u8 = item.get("isM3U8").and_then(Value::as_bool);
    let path = url.path().to_ascii_lowercase();
    let file = extension(&path).and_then(|e| by_extension(&e));
    let mut engine = false;
    let kind = if is_dash || path.ends_with(".mpd") || file == Some(Play::Nowhere) {
        return None;
    } else if is_m3u8 == Some(true) || path.ends_with(".m3u8") {
        StreamKind::Hls
    } else if file == Some(Play::Engine) {
        engine = true;
        StreamKind::Hls
    } else if path.ends_with(".mp4") || is_m3u8 == Some(false) {
        StreamKind::Mp4
    } else {
        StreamKind::Hls
    };
    let quality = item
        .get("quality")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .map(String::from);
    let mut stream = ExtractedStream::remote(ID, url, kind, quality, headers.clone());
    stream.engine = engine;
    Some(stream)
}

fn map_subtitle(sub: &Value, headers: &BTreeMap<String, String>) -> Option<Subtitle> {
    let lang = sub
        .get("lang")
        .and_then(Value::as_str)
        .unwrap_or("Default")
        .trim();
    // VidCloud lists its seek-bar sprite sheet as a subtitle named "thumbnails".
    if lang.eq_ignore_ascii_case("thumbnails") {
        return None;
    }
    Some(Subtitle {
        source: StreamSource::Remote {
            url: http_url(sub)?,
            headers: headers.clone(),
        },
        lang: lang.to_string(),
        label: Some(lang.to_string()),
        provider: ID.into(),
        burn_in: None,
        ass: None,
    })
}

#[async_trait]
impl Provider for Consumet {
    fn manifest(&self) -> &ProviderManifest {
        &MANIFEST
    }

    /// `info.id` is the media id; a movie's `episodeId`, or a tv episode's id found in
    /// `seasons[].episodes[]` on its `season` and `episode` fields → watch.
    #[instrument(skip(self), fields(request = %req), err(level = "debug"))]
    async fn resolve(&self, req: &MediaRequest) -> Result<ProviderStreams, ProviderError> {
        let deadline = Instant::now() + self.budget;
        let kind = match req.media_type() {
            MediaType::Movie => "movie",
            MediaType::Tv => "tv",
        };
        let info = self.info(req.tmdb_id(), kind, deadline).await?;
        let media_id = info
            .id
            .clone()
            .filter(|s| !s.is_empty())
            .ok_or_else(no_match)?;
        let episode_id = match req.season_episode() {
            None => info
                .episode_id
                .as_ref()
                .and_then(id_string)
                .ok_or_else(no_match)?,
            Some((season, episode)) => episode_id(&info, season, episode)?,
        };
        self.streams(&episode_id, &media_id, info.title, deadline)
            .await
    }

    async fn health(&self) -> ProviderHealth {
        let result = self
            .client
            .http()
            .get(self.base.as_url().clone())
            .timeout(Duration::from_secs(2))
            .send()
            .await;
        match result {
            Ok(r) if r.status().is_redirection() => ProviderHealth {
                ok: false,
                message: Some("Consumet redirects (NODE_ENV=DEMO?)".into()),
            },
            Ok(r) if r.status().is_server_error() => ProviderHealth {
                ok: false,
                message: Some(format!("Consumet answered HTTP {}", r.status().as_u16())),
            },
            Ok(_) => ProviderHealth {
                ok: true,
                message: None,
            },
            Err(e) => ProviderHealth {
                ok: false,
                message: Some(
                    ProviderError::transport("Consumet", "", JsonError::from_send(e)).to_string(),
                ),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_file_a_browser_cannot_play_goes_to_the_engine_and_an_mp4_plays_as_it_is() {
        let headers = BTreeMap::from([("Referer".to_string(), "https://p.example/".to_string())]);
        let source = |url: &str| json!({"url": url, "isM3U8": false, "quality": "1080p"});
        let mkv = map_source(&source("https://cdn.example/f/Film.1080p.MKV"), &headers).unwrap();
        assert!(mkv.engine, "an MKV goes to the playback engine");
        assert_eq!(mkv.kind, StreamKind::Hls);
        assert_eq!(mkv.headers().unwrap()["Referer"], "https://p.example/");
        let avi = map_source(&source("https://cdn.example/f/film.avi?t=1"), &headers).unwrap();
        assert!(avi.engine);
        let mp4 = map_source(&source("https://cdn.example/f/film.mp4"), &headers).unwrap();
        assert!(!mp4.engine);
        assert_eq!(mp4.kind, StreamKind::Mp4);
        let hls = json!({"url": "https://cdn.example/a/master.m3u8", "isM3U8": true});
        assert!(!map_source(&hls, &headers).unwrap().engine);
        assert!(map_source(&source("https://cdn.example/f/disc.iso"), &headers).is_none());
    }

    #[test]
    fn watch_answers_map_to_streams_headers_subtitles_and_markers() {
        let watch: Watch = serde_json::from_value(json!({
            "headers": {"Referer": "https://megacloud.blog/embed-2/e-1/abc?k=1"},
            "sources": [
                {"url": "https://cdn.example/a/master.m3u8", "isM3U8": true, "quality": "auto"},
                {"url": "https://cdn.example/a/1080/index.m3u8", "isM3U8": true, "quality": "1080p"},
                {"url": "https://cdn.example/a/manifest.mpd", "isDASH": true},
                {"url": "not a url"}
            ],
            "subtitles": [
                {"url": "https://cdn.example/subs/en.vtt", "lang": "English"},
                {"url": "https://cdn.example/thumbs.vtt", "lang": "thumbnails"}
            ],
            "intro": {"start": 30, "end": 95.5},
            "outro": {"start": 0, "end": 0}
        }))
        .unwrap();
        let out = map_watch(watch, Some("X".into()));
        assert_eq!(out.streams.len(), 2);
        assert_eq!(out.skipped, 2);
        assert_eq!(
            out.streams[0].headers().unwrap()["Referer"],
            "https://megacloud.blog/embed-2/e-1/abc?k=1"
        );
        assert_eq!(out.subtitles.len(), 1);
        assert_eq!(out.subtitles[0].lang, "English");
        let m = out.markers.unwrap();
        assert_eq!(
            m.intro,
            Some(Range {
                start: 30.0,
                end: 95.5
            })
        );
        assert_eq!(m.outro, None, "a 0–0 outro means none");
    }

    #[test]
    fn fastify_errors_get_their_own_codes() {
        let s = reqwest::StatusCode::INTERNAL_SERVER_ERROR;
        let fastify =
            |m: &str| json!({"statusCode": 500, "error": "Internal Server Error", "message": m});
        assert_eq!(
            classify_error(s, &fastify("Request failed with status code 401")).code(),
            "consumet_tmdb_key_rejected"
        );
        assert_eq!(
            classify_error(s, &fastify("Request failed with status code 404")).code(),
            "consumet_title_not_found"
        );
        assert_eq!(
            classify_error(s, &fastify("getaddrinfo ENOTFOUND himovies.sx")).code(),
            "consumet_upstream_unreachable"
        );
        assert_eq!(
            classify_error(s, &fastify("boom")).code(),
            "consumet_internal_error"
        );
        let nf = reqwest::StatusCode::NOT_FOUND;
        assert_eq!(
            classify_error(nf, &json!({"message": {}})).code(),
            "consumet_watch_failed"
        );
        assert_eq!(
            classify_error(nf, &json!({"message": "", "error": "page not found"})).code(),
            "consumet_route_not_found"
        );
    }
}
