//! Stremio addons (`protocols.md` §3): TMDB id → addon video id → `/stream/{type}/{id}.json`.
//!
//! Each configured manifest is fetched once an hour. An addon is asked only when its manifest
//! says it serves `stream` for this type and id prefix (stremio-core's
//! `Manifest::is_resource_supported`). Most addons key on IMDb ids (`tt…`, from TMDB); some
//! on `tmdb:{id}`. `url` streams become sources with their `proxyHeaders`; torrents, YouTube
//! ids, external links and files a browser cannot play are skipped and counted. Addons
//! serving `subtitles` are asked alongside (`subtitles`).

mod subtitles;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::future::join_all;
use serde_json::Value;
use tracing::{debug, instrument, warn};
use url::Url;

use super::container::{Play, by_extension, extension};
use super::{Provider, ProviderError, ProviderHealth, ProviderId, ProviderManifest};
use crate::library::Library;
use crate::models::{
    ExtractedStream, MediaRequest, MediaType, ProviderStreams, StreamKind, StreamSource, Subtitle,
};
use crate::resolve::merge::{merge, push_subtitle};
use crate::resolve::rank;
use crate::tmdb::{Tmdb, TmdbError};
use crate::upstream::json::{JsonClient, quote};
use crate::upstream::retry::RetryPolicy;

const ID: &str = ProviderId::Stremio.as_str();
/// Stream lists of big torrent addons run to a few hundred KiB.
const MAX_BODY: usize = 4 * 1024 * 1024;
/// Manifests change when an addon is updated: an hour is what Stremio itself tolerates.
const MANIFEST_TTL: Duration = Duration::from_secs(3600);
/// A manifest fetch gets at most this much of the budget.
const MANIFEST_BUDGET: Duration = Duration::from_secs(5);
/// The SDK answers `{redirect}` with a 307; a chain longer than this is a loop.
const MAX_REDIRECTS: usize = 3;
const MAX_LABEL: usize = 200;

static MANIFEST: ProviderManifest = ProviderManifest {
    id: ID,
    media_types: &[MediaType::Movie, MediaType::Tv],
};

/// One configured addon: its manifest URL and the base its resources hang from.
#[derive(Debug, Clone)]
struct Addon {
    manifest_url: Url,
}

impl Addon {
    fn parse(raw: &str) -> Result<Self, ProviderError> {
        let bad = |why: &str| {
            ProviderError::config(
                "stremio_bad_addon_url",
                format!("Stremio addon '{raw}' {why}"),
            )
        };
        let url =
            Url::parse(raw.trim()).map_err(|e| bad(&format!("is not a URL: {e}")).caused_by(e))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad("is not an http(s) URL"));
        }
        if !url.path().ends_with("/manifest.json") {
            return Err(bad(
                "must end in /manifest.json (legacy /stremio/v1 addons are not supported)",
            ));
        }
        Ok(Addon { manifest_url: url })
    }

    /// `…/{config}/manifest.json` → `…/{config}/stream/{type}/{id}.json`: whatever precedes
    /// `manifest.json` (a configured addon's settings) is kept, and so is the query.
    fn stream_url(&self, kind: &str, video_id: &str) -> Url {
        self.resource_url("stream", kind, video_id)
    }

    /// `…/{config}/{resource}/{type}/{id}.json`, as [`Addon::stream_url`].
    fn resource_url(&self, resource: &str, kind: &str, video_id: &str) -> Url {
        let mut url = self.manifest_url.clone();
        let prefix = url
            .path()
            .strip_suffix("manifest.json")
            .expect("checked in Addon::parse")
            .to_string();
        url.set_path(&format!(
            "{prefix}{resource}/{}/{}.json",
            encode_component(kind),
            encode_component(video_id)
        ));
        url
    }
}

/// `encodeURIComponent`, as stremio-core's `URI_COMPONENT_ENCODE_SET`: keeps
/// `A-Z a-z 0-9 - _ . ! ~ * ' ( )`, so `tt0903747:1:2` becomes `tt0903747%3A1%3A2`.
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The parts of a manifest that decide whom to ask.
#[derive(Debug, Clone, PartialEq)]
struct Manifest {
    name: String,
    types: Vec<String>,
    id_prefixes: Option<Vec<String>>,
    resources: Vec<Resource>,
    configuration_required: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Resource {
    Short(String),
    Full {
        name: String,
        types: Option<Vec<String>>,
        id_prefixes: Option<Vec<String>>,
    },
}

fn strings(v: Option<&Value>) -> Option<Vec<String>> {
    v?.as_array().map(|a| {
        a.iter()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect()
    })
}

impl Manifest {
    fn parse(json: &Value) -> Result<Self, String> {
        let resources = json
            .get("resources")
            .and_then(Value::as_array)
            .ok_or("it has no 'resources' list")?
            .iter()
            .filter_map(|r| match r {
                Value::String(s) => Some(Resource::Short(s.clone())),
                Value::Object(o) => Some(Resource::Full {
                    name: o.get("name")?.as_str()?.to_string(),
                    types: strings(o.get("types")),
                    id_prefixes: strings(o.get("idPrefixes")),
                }),
                _ => None,
            })
            .collect();
        Ok(Manifest {
            name: json
                .get("name")
                .and_then(Value::as_str)
                .or_else(|| json.get("id").and_then(Value::as_str))
                .ok_or("it has neither 'name' nor 'id'")?
                .to_string(),
            types: strings(json.get("types")).ok_or("it has no 'types' list")?,
            id_prefixes: strings(json.get("idPrefixes")),
            resources,
            configuration_required: json
                .pointer("/behaviorHints/configurationRequired")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        })
    }

    /// stremio-core's `Manifest::is_resource_supported`: a short resource uses the manifest's
    /// `types`/`idPrefixes`, a full one only its own (no `types` there: nothing matches; no
    /// `idPrefixes`: every id matches).
    fn supports(&self, resource: &str, kind: &str, id: &str) -> bool {
        let Some(r) = self.resources.iter().find(|r| match r {
            Resource::Short(n) | Resource::Full { name: n, .. } => n == resource,
        }) else {
            return false;
        };
        let (types, prefixes) = match r {
            Resource::Short(_) => (Some(&self.types), self.id_prefixes.as_ref()),
            Resource::Full {
                types, id_prefixes, ..
            } => (types.as_ref(), id_prefixes.as_ref()),
        };
        types.is_some_and(|t| t.iter().any(|t| t == kind))
            && prefixes.is_none_or(|p| p.iter().any(|p| id.starts_with(p.as_str())))
    }
}

#[derive(Debug)]
pub struct Stremio {
    client: JsonClient,
    addons: Vec<Addon>,
    manifests: moka::future::Cache<usize, Arc<Manifest>>,
    tmdb: Option<Arc<Tmdb>>,
    budget: Duration,
    /// Where a title's library file is found, to tell subtitle addons about it.
    library: Option<Arc<Library>>,
    hashes: moka::future::Cache<(i64, u64, i64), Option<String>>,
}

impl Stremio {
    pub fn new(
        http: reqwest::Client,
        addons: &[String],
        tmdb: Option<Arc<Tmdb>>,
        budget: Duration,
        retry: RetryPolicy,
    ) -> Result<Self, ProviderError> {
        let addons = addons
            .iter()
            .map(|a| Addon::parse(a))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Stremio {
            client: JsonClient::new(http, MAX_BODY).with_retry(retry),
            addons,
            manifests: moka::future::Cache::builder()
                .time_to_live(MANIFEST_TTL)
                .build(),
            tmdb,
            budget,
            library: None,
            hashes: subtitles::hash_cache(),
        })
    }

    /// Subtitle addons are then told the hash, size and name of a library title's file.
    pub fn with_library(mut self, library: Arc<Library>) -> Self {
        self.library = Some(library);
        self
    }

    async fn manifest(
        &self,
        index: usize,
        deadline: Instant,
    ) -> Result<Arc<Manifest>, ProviderError> {
        let addon = &self.addons[index];
        self.manifests
            .try_get_with(index, async {
                let deadline = deadline.min(Instant::now() + MANIFEST_BUDGET);
                let json = self.get_json(addon.manifest_url.clone(), deadline).await?;
                Manifest::parse(&json).map(Arc::new).map_err(|why| {
                    ProviderError::upstream(
                        "stremio_invalid_manifest",
                        format!(
                            "the manifest at {} is not usable: {why}",
                            host(&addon.manifest_url)
                        ),
                    )
                })
            })
            .await
            .map_err(|e: Arc<ProviderError>| (*e).clone())
    }

    /// GET + JSON, following the SDK's 307 `{redirect}` answers and mapping its errors.
    async fn get_json(&self, mut url: Url, deadline: Instant) -> Result<Value, ProviderError> {
        for _ in 0..=MAX_REDIRECTS {
            let who = host(&url);
            let answer = self
                .client
                .get(&url, deadline)
                .await
                .map_err(|e| ProviderError::transport(&who, "stremio_invalid_response", e))?;
            if answer.status.is_redirection() {
                let next = answer
                    .location()
                    .and_then(|l| url.join(l).ok())
                    .filter(|u| matches!(u.scheme(), "http" | "https"))
                    .ok_or_else(|| {
                        ProviderError::upstream(
                            "stremio_addon_bad_redirect",
                            format!("{who} redirected without a usable Location"),
                        )
                    })?;
                debug!(from = %who, to = %host(&next), "following an addon redirect");
                url = next;
                continue;
            }
            if !answer.status.is_success() {
                let json = answer.json::<Value>().ok();
                return Err(classify(answer.status.as_u16(), json.as_ref(), &url));
            }
            return answer
                .json()
                .map_err(|e| ProviderError::transport(&who, "stremio_invalid_response", e));
        }
        Err(ProviderError::upstream(
            "stremio_addon_bad_redirect",
            format!("more than {MAX_REDIRECTS} redirects from the addon"),
        ))
    }

    /// The IMDb id when some addon could use one; TMDB's failure is kept to explain why an
    /// IMDb-only addon was not asked.
    async fn imdb_id(
        &self,
        req: &MediaRequest,
        deadline: Instant,
    ) -> (Option<String>, Option<String>, Result<(), TmdbError>) {
        let Some(tmdb) = &self.tmdb else {
            return (None, None, Ok(()));
        };
        match tmdb.title(req.media_type(), req.tmdb_id(), deadline).await {
            Ok(meta) => (meta.imdb_id.clone(), Some(meta.title.clone()), Ok(())),
            Err(e) => {
                warn!(code = e.code(), error = %e, "no IMDb id from TMDB for the Stremio addons");
                (None, None, Err(e))
            }
        }
    }

    /// Why no addon gave an answer: their failures, else an IMDb id we could not get, else
    /// addons that need configuring, else none serving this title.
    fn why_nothing(
        &self,
        plan: AddonPlan,
        tmdb_result: Result<(), TmdbError>,
        kind: &str,
    ) -> ProviderError {
        if !plan.failures.is_empty() {
            return combine(plan.failures);
        }
        if plan.wanted_imdb {
            return match tmdb_result {
                Err(e) => ProviderError::upstream(
                    e.code(),
                    format!("the Stremio addons need an IMDb id and TMDB failed: {e}"),
                )
                .caused_by(e),
                Ok(()) if self.tmdb.is_none() => ProviderError::not_found(
                    "stremio_needs_imdb_id",
                    "the Stremio addons key on IMDb ids: set SOKOUL_TMDB_KEY so that TMDB can provide them",
                ),
                Ok(()) => ProviderError::not_found(
                    "stremio_needs_imdb_id",
                    "TMDB knows no IMDb id for this title, and the Stremio addons key on IMDb ids",
                ),
            };
        }
        if !plan.unconfigured.is_empty() {
            return ProviderError::config(
                "stremio_addon_needs_configuration",
                format!(
                    "{} must be configured first: install it in Stremio's configuration page and use the manifest URL it gives (the configuration is part of that URL)",
                    plan.unconfigured.join(", ")
                ),
            );
        }
        ProviderError::not_found(
            "stremio_no_addon_for_title",
            format!("no configured Stremio addon serves {kind} streams for these ids"),
        )
    }
}

impl Stremio {
    /// Every planned stream request, at once; each answer with the addon's name.
    async fn streams(
        &self,
        plan: &AddonPlan,
        kind: &str,
        deadline: Instant,
    ) -> Vec<(String, Result<ProviderStreams, ProviderError>)> {
        join_all(plan.asks.iter().map(|ask| async move {
            let url = self.addons[ask.addon].stream_url(kind, &ask.video_id);
            let found = self.get_json(url, deadline).await.and_then(|json| {
                match json.get("streams").and_then(Value::as_array) {
                    Some(items) => Ok(map_streams(items, &ask.manifest.name)),
                    None => Err(ProviderError::upstream(
                        "stremio_invalid_response",
                        format!("{} answered without a 'streams' list", ask.manifest.name),
                    )),
                }
            });
            (ask.manifest.name.clone(), found)
        }))
        .await
    }
}

/// Stremio's name for a media type.
fn stremio_type(media_type: MediaType) -> &'static str {
    match media_type {
        MediaType::Movie => "movie",
        MediaType::Tv => "series",
    }
}

/// Whom to ask, decided from the manifests before any stream request (stremio-core's
/// `AggrRequest::plan`), and what to say about the addons left out.
#[derive(Debug, Default)]
struct AddonPlan {
    asks: Vec<Ask>,
    /// Addons whose manifest failed, by host, with why.
    failures: Vec<(String, ProviderError)>,
    /// Names of addons that must be configured before they serve anything.
    unconfigured: Vec<String>,
    /// Some addon would have taken an IMDb id, and there is none.
    wanted_imdb: bool,
}

#[derive(Debug)]
struct Ask {
    addon: usize,
    manifest: Arc<Manifest>,
    video_id: String,
}

fn plan(
    addons: &[Addon],
    manifests: Vec<Result<Arc<Manifest>, ProviderError>>,
    req: &MediaRequest,
    imdb: Option<&str>,
) -> AddonPlan {
    let kind = stremio_type(req.media_type());
    let ids = video_ids(req, imdb);
    let mut plan = AddonPlan::default();
    for (addon, manifest) in manifests.into_iter().enumerate() {
        let manifest = match manifest {
            Ok(m) => m,
            Err(e) => {
                plan.failures.push((host(&addons[addon].manifest_url), e));
                continue;
            }
        };
        if manifest.configuration_required {
            warn!(addon = %manifest.name, "the addon needs configuring first: use the manifest URL of a configured install");
            plan.unconfigured.push(manifest.name.clone());
            continue;
        }
        match ids.iter().find(|id| manifest.supports("stream", kind, id)) {
            Some(id) => plan.asks.push(Ask {
                addon,
                manifest,
                video_id: id.clone(),
            }),
            None => {
                // Would it have taken an IMDb id we could not get?
                let probe = match req.season_episode() {
                    Some((s, e)) => format!("tt0000000:{s}:{e}"),
                    None => "tt0000000".to_string(),
                };
                plan.wanted_imdb |= imdb.is_none() && manifest.supports("stream", kind, &probe);
            }
        }
    }
    plan
}

/// The ids to offer, in preference order: IMDb (what most addons and Cinemeta use), then
/// `tmdb:`.
fn video_ids(req: &MediaRequest, imdb: Option<&str>) -> Vec<String> {
    let tmdb = format!("tmdb:{}", req.tmdb_id());
    let with_episode = |base: &str| match req.season_episode() {
        Some((s, e)) => format!("{base}:{s}:{e}"),
        None => base.to_string(),
    };
    imdb.map(with_episode)
        .into_iter()
        .chain(std::iter::once(with_episode(&tmdb)))
        .collect()
}

/// One error for all failed addons: the only one, or a summary naming each.
fn combine(mut failures: Vec<(String, ProviderError)>) -> ProviderError {
    if failures.len() == 1 {
        let (name, e) = failures.pop().expect("one failure");
        return with_name(&name, e);
    }
    let code = failures[0].1.code();
    let same = failures.iter().all(|(_, e)| e.code() == code);
    let message = failures
        .iter()
        .map(|(n, e)| format!("{n}: {e}"))
        .collect::<Vec<_>>()
        .join("; ");
    if same && let Some((_, ProviderError::Timeout { .. })) = failures.first() {
        return ProviderError::timeout(message);
    }
    if same && let Some((_, ProviderError::Unreachable { .. })) = failures.first() {
        return ProviderError::unreachable(message);
    }
    ProviderError::upstream(if same { code } else { "stremio_addons_failed" }, message)
}

fn with_name(name: &str, e: ProviderError) -> ProviderError {
    e.map_message(|m| {
        if m.contains(name) {
            m
        } else {
            format!("{name}: {m}")
        }
    })
}

/// The SDK's answers: `404 {"err":"not found"}` (no handler: usually a base URL that lost
/// its configuration path), `500 {"err":"handler error"}`.
fn classify(status: u16, json: Option<&Value>, url: &Url) -> ProviderError {
    // The addon's text may quote a URL with its user's keys: never verbatim.
    let err = quote(
        json.and_then(|j| j.get("err"))
            .and_then(Value::as_str)
            .unwrap_or(""),
    );
    let who = host(url);
    match status {
        404 => ProviderError::upstream(
            "stremio_addon_not_found",
            format!(
                "{who} has no such resource (404 {err:?}): check the addon URL and its configuration"
            ),
        ),
        500 if err == "handler error" => ProviderError::upstream(
            "stremio_addon_handler_error",
            format!("{who}'s handler failed (500 \"handler error\")"),
        ),
        s => ProviderError::upstream(
            "stremio_addon_unavailable",
            format!("{who} answered HTTP {s}"),
        ),
    }
}

/// An addon is named by its host in messages: the path may hold its configuration (keys).
fn host(url: &Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        _ => "the addon".into(),
    }
}

/// What one stream item is to a browser.
#[derive(Debug, PartialEq)]
enum Item {
    Playable(Box<ExtractedStream>, Vec<Subtitle>),
    /// A real source a browser cannot play (torrent, YouTube, external link, mkv…).
    Unplayable,
    /// Not a stream at all; dropped like stremio-core's `VecSkipError` does.
    Invalid,
}

fn map_streams(items: &[Value], addon: &str) -> ProviderStreams {
    let mut out = ProviderStreams::default();
    for item in items {
        match map_stream(item, addon) {
            Item::Playable(stream, subs) => {
                out.streams.push(*stream);
                for sub in subs {
                    push_subtitle(&mut out.subtitles, sub);
                }
            }
            Item::Unplayable => out.skipped += 1,
            Item::Invalid => debug!(addon, "dropping an invalid stream item"),
        }
    }
    out
}

/// Sources a `url`-less item may have instead (all unplayable in a browser).
const OTHER_SOURCES: &[&str] = &[
    "ytId",
    "infoHash",
    "externalUrl",
    "rarUrls",
    "zipUrls",
    "7zipUrls",
    "tgzUrls",
    "tarUrls",
    "nzbUrl",
    "playerFrameUrl",
    "androidTvUrl",
    "tizenUrl",
    "webosUrl",
];

fn map_stream(item: &Value, addon: &str) -> Item {
    let Some(obj) = item.as_object() else {
        return Item::Invalid;
    };
    let url = match obj.get("url") {
        Some(Value::String(u)) => match Url::parse(u.trim()) {
            Ok(u) => u,
            Err(_) => return Item::Invalid,
        },
        Some(_) => return Item::Invalid,
        None if OTHER_SOURCES.iter().any(|k| obj.contains_key(*k)) => return Item::Unplayable,
        None => return Item::Invalid,
    };
    // magnet:, rtmp:, ftp: … are real sources, but not for a browser.
    if !matches!(url.scheme(), "http" | "https") {
        return Item::Unplayable;
    }
    let hints = obj.get("behaviorHints");
    let response_type = hints
        .and_then(|h| h.pointer("/proxyHeaders/response"))
        .and_then(Value::as_object)
        .and_then(|r| {
            r.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
                .and_then(|(_, v)| v.as_str())
        });
    let filename = hints
        .and_then(|h| h.get("filename"))
        .and_then(Value::as_str);
    let not_web_ready = hints
        .and_then(|h| h.get("notWebReady"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    // What Stremio's own streaming server transcodes goes to the playback engine; a playlist
    // marked `notWebReady` is still a playlist (hls.js plays what the proxy relays).
    let (kind, engine) = match stream_kind(&url, response_type, filename) {
        Play::Browser(StreamKind::Mp4) if not_web_ready => (StreamKind::Hls, true),
        Play::Browser(kind) => (kind, false),
        Play::Engine => (StreamKind::Hls, true),
        Play::Nowhere => return Item::Unplayable,
    };
    let headers = request_headers(hints);
    let text = |k: &str| {
        obj.get(k)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    let name = text("name");
    // stremio-core reads the deprecated `title` as `description`.
    let description = text("description").or_else(|| text("title"));
    let quality = [name, description]
        .into_iter()
        .flatten()
        .find_map(|t| {
            rank::height(Some(t)).or_else(|| t.lines().find_map(|l| rank::height(Some(l))))
        })
        .map(|h| format!("{h}p"));
    let subtitles = obj
        .get("subtitles")
        .and_then(Value::as_array)
        .map(|subs| {
            subs.iter()
                .filter_map(|s| map_subtitle(s, &url, &headers))
                .collect()
        })
        .unwrap_or_default();
    let mut stream = ExtractedStream::remote(ID, url, kind, quality, headers);
    stream.engine = engine;
    stream.label = Some(label(name.unwrap_or(addon), description));
    Item::Playable(Box::new(stream), subtitles)
}

/// `behaviorHints.proxyHeaders.request`, without what is not a valid header.
fn request_headers(hints: Option<&Value>) -> BTreeMap<String, String> {
    hints
        .and_then(|h| h.pointer("/proxyHeaders/request"))
        .and_then(Value::as_object)
        .map(|r| {
            r.iter()
                .filter_map(|(k, v)| Some((k.trim().to_string(), v.as_str()?.trim().to_string())))
                .filter(|(k, v)| {
                    reqwest::header::HeaderName::from_bytes(k.as_bytes()).is_ok()
                        && reqwest::header::HeaderValue::from_str(v).is_ok()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A subtitle next to the video (same origin) needs the video's headers; elsewhere, none.
fn map_subtitle(sub: &Value, video: &Url, headers: &BTreeMap<String, String>) -> Option<Subtitle> {
    let sub_url = Url::parse(sub.get("url")?.as_str()?.trim()).ok()?;
    if !matches!(sub_url.scheme(), "http" | "https") {
        return None;
    }
    let lang = sub
        .get("lang")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .unwrap_or("und")
        .to_string();
    let headers = if sub_url.origin() == video.origin() {
        headers.clone()
    } else {
        BTreeMap::new()
    };
    Some(Subtitle {
        source: StreamSource::Remote {
            url: sub_url,
            headers,
        },
        label: Some(lang.clone()),
        lang,
        provider: ID.into(),
        burn_in: None,
        ass: None,
    })
}

/// HLS or a directly playable file, from the declared content type, then the URL's
/// extension, then `behaviorHints.filename`. A file container that browsers do not play goes
/// to the playback engine; DASH and disc images are skipped rather than offered to fail. An
/// unknown one is offered as direct play, as Stremio's own web player does.
fn stream_kind(url: &Url, content_type: Option<&str>, filename: Option<&str>) -> Play {
    if let Some(ct) = content_type {
        let ct = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match ct.as_str() {
            "application/vnd.apple.mpegurl"
            | "application/x-mpegurl"
            | "audio/mpegurl"
            | "audio/x-mpegurl" => return Play::Browser(StreamKind::Hls),
            "video/mp4" | "video/webm" | "video/quicktime" | "audio/mp4" => {
                return Play::Browser(StreamKind::Mp4);
            }
            "application/dash+xml" => return Play::Nowhere,
            other if other.starts_with("video/") => return Play::Engine,
            _ => {}
        }
    }
    [extension(url.path()), filename.and_then(extension)]
        .into_iter()
        .flatten()
        .find_map(|e| by_extension(&e))
        .unwrap_or(Play::Browser(StreamKind::Mp4))
}

/// `Torrentio\n4k` + `Movie.2160p.mkv\n👤 12` → `Torrentio 4k · Movie.2160p.mkv`.
fn label(name: &str, description: Option<&str>) -> String {
    let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut label = match description.and_then(|d| d.lines().map(str::trim).find(|l| !l.is_empty()))
    {
        Some(first) => format!("{name} · {first}"),
        None => name,
    };
    if label.chars().count() > MAX_LABEL {
        label = label.chars().take(MAX_LABEL - 1).collect::<String>() + "…";
    }
    label
}

#[async_trait]
impl Provider for Stremio {
    fn manifest(&self) -> &ProviderManifest {
        &MANIFEST
    }

    /// Every addon whose manifest serves this title, asked at once; their answers merged.
    #[instrument(skip(self), fields(request = %req), err(level = "debug"))]
    async fn resolve(&self, req: &MediaRequest) -> Result<ProviderStreams, ProviderError> {
        let started = Instant::now();
        let deadline = started + self.budget;
        let subtitles_deadline = subtitles::deadline(started, self.budget);
        let (manifests, (imdb, title, tmdb_result), extras) = tokio::join!(
            join_all((0..self.addons.len()).map(|i| self.manifest(i, deadline))),
            self.imdb_id(req, deadline),
            self.library_extras(req, subtitles_deadline),
        );
        let kind = stremio_type(req.media_type());
        let ids = video_ids(req, imdb.as_deref());
        let subtitle_asks = subtitles::plan(&manifests, kind, &ids);
        let mut plan = plan(&self.addons, manifests, req, imdb.as_deref());
        let (answers, found_subtitles) = tokio::join!(
            self.streams(&plan, kind, deadline),
            self.subtitles(subtitle_asks, kind, extras.as_ref(), subtitles_deadline),
        );

        let mut merged = ProviderStreams {
            title,
            ..Default::default()
        };
        let mut answered = 0;
        for (name, found) in answers {
            match found {
                Ok(found) => {
                    answered += 1;
                    merge(&mut merged, found);
                }
                Err(e) => plan.failures.push((name, e)),
            }
        }
        for (name, e) in &plan.failures {
            warn!(addon = %name, code = e.code(), error = %e, "a Stremio addon failed");
        }
        for sub in found_subtitles {
            push_subtitle(&mut merged.subtitles, sub);
        }
        // Subtitles alone (a library title with only subtitle addons) are an answer too.
        if answered > 0 || (plan.failures.is_empty() && !merged.subtitles.is_empty()) {
            return Ok(merged);
        }
        Err(self.why_nothing(plan, tmdb_result, kind))
    }

    /// Every manifest loads (from the cache when fresh).
    async fn health(&self) -> ProviderHealth {
        let deadline = Instant::now() + Duration::from_secs(2);
        let results = join_all((0..self.addons.len()).map(|i| self.manifest(i, deadline))).await;
        let failed: Vec<String> = results
            .iter()
            .zip(&self.addons)
            .filter_map(|(r, a)| {
                r.as_ref()
                    .err()
                    .map(|e| format!("{}: {e}", host(&a.manifest_url)))
            })
            .collect();
        ProviderHealth {
            ok: failed.is_empty(),
            message: (!failed.is_empty()).then(|| failed.join("; ")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_are_percent_encoded_like_encode_uri_component() {
        assert_eq!(encode_component("tt0903747:1:2"), "tt0903747%3A1%3A2");
        assert_eq!(encode_component("tmdb:603"), "tmdb%3A603");
        assert_eq!(encode_component("a b/c?d"), "a%20b%2Fc%3Fd");
        assert_eq!(encode_component("-_.!~*'()"), "-_.!~*'()");
    }

    #[test]
    fn a_configured_addon_keeps_its_path_before_manifest_json() {
        let addon =
            Addon::parse("https://addon.example/%7B%22k%22%3A1%7D/manifest.json?x=1").unwrap();
        assert_eq!(
            addon.stream_url("series", "tt0903747:1:2").as_str(),
            "https://addon.example/%7B%22k%22%3A1%7D/stream/series/tt0903747%3A1%3A2.json?x=1"
        );
        let plain = Addon::parse("http://127.0.0.1:7000/manifest.json").unwrap();
        assert_eq!(
            plain.stream_url("movie", "tmdb:603").as_str(),
            "http://127.0.0.1:7000/stream/movie/tmdb%3A603.json"
        );
        assert_eq!(
            Addon::parse("https://old.example/stremio/v1")
                .unwrap_err()
                .code(),
            "stremio_bad_addon_url"
        );
    }

    #[test]
    fn resources_types_and_id_prefixes_decide_whom_to_ask() {
        let m = Manifest::parse(&json!({
            "id": "a", "name": "A", "version": "1.0.0", "types": ["movie", "series"],
            "idPrefixes": ["tt"], "resources": ["stream", "meta"], "catalogs": []
        }))
        .unwrap();
        assert!(m.supports("stream", "movie", "tt0133093"));
        assert!(!m.supports("stream", "movie", "tmdb:603"));
        assert!(!m.supports("stream", "channel", "tt1"));
        assert!(!m.supports("subtitles", "movie", "tt1"));

        let full = Manifest::parse(&json!({
            "id": "b", "name": "B", "version": "1.0.0", "types": ["movie", "series"],
            "idPrefixes": ["tt"], "catalogs": [],
            "resources": [{"name": "stream", "types": ["movie"], "idPrefixes": ["tmdb:"]}]
        }))
        .unwrap();
        assert!(
            full.supports("stream", "movie", "tmdb:603"),
            "its own prefixes win"
        );
        assert!(!full.supports("stream", "movie", "tt0133093"));
        assert!(
            !full.supports("stream", "series", "tmdb:1:1:1"),
            "its own types win"
        );

        let open = Manifest::parse(&json!({
            "id": "c", "name": "C", "version": "1.0.0", "types": ["movie"], "catalogs": [],
            "resources": [{"name": "stream"}]
        }))
        .unwrap();
        assert!(
            !open.supports("stream", "movie", "tt1"),
            "a full resource without types serves nothing"
        );
    }

    #[test]
    fn episode_ids_are_imdb_first_then_tmdb() {
        let req = MediaRequest::episode(1396, 1, 2);
        assert_eq!(
            video_ids(&req, Some("tt0903747")),
            ["tt0903747:1:2", "tmdb:1396:1:2"]
        );
        assert_eq!(video_ids(&MediaRequest::movie(603), None), ["tmdb:603"]);
    }

    #[test]
    fn url_streams_become_sources_and_the_rest_is_counted_or_dropped() {
        let items = json!([
            {"url": "https://cdn.example/m/master.m3u8", "name": "Addon\n1080p",
             "description": "The.Matrix.1999.1080p\nseeds 12",
             "behaviorHints": {"notWebReady": true,
                 "proxyHeaders": {"request": {"Referer": "https://embed.example/", "Bad Name": "x"}}},
             "subtitles": [{"id": "1", "url": "https://cdn.example/m/en.vtt", "lang": "eng"},
                           {"id": "2", "url": "https://subs.example/fr.vtt", "lang": "fre"}]},
            {"url": "https://cdn.example/m/720.mp4", "title": "720p"},
            {"url": "https://cdn.example/m/file.mkv"},
            {"url": "https://cdn.example/stream/abc", "behaviorHints": {
                "proxyHeaders": {"response": {"Content-Type": "application/vnd.apple.mpegurl"}}}},
            {"ytId": "dQw4w9WgXcQ"},
            {"infoHash": "0123456789abcdef0123456789abcdef01234567", "fileIdx": 0},
            {"externalUrl": "https://www.netflix.com/title/1"},
            {"url": "magnet:?xt=urn:btih:0123"},
            {"name": "no source at all"},
            {"url": 42},
            "not an object"
        ]);
        let out = map_streams(items.as_array().unwrap(), "Test Addon");
        assert_eq!(out.streams.len(), 4);
        assert_eq!(out.skipped, 4, "YouTube, torrent, external link, magnet");
        let hls = &out.streams[0];
        assert_eq!(hls.kind, StreamKind::Hls);
        assert_eq!(hls.quality.as_deref(), Some("1080p"));
        assert_eq!(
            hls.label.as_deref(),
            Some("Addon 1080p · The.Matrix.1999.1080p")
        );
        let headers = hls.headers().unwrap();
        assert_eq!(
            headers.get("Referer").map(String::as_str),
            Some("https://embed.example/")
        );
        assert!(
            !headers.contains_key("Bad Name"),
            "invalid header names are dropped"
        );
        assert_eq!(out.streams[1].kind, StreamKind::Mp4);
        assert_eq!(out.streams[1].quality.as_deref(), Some("720p"));
        assert!(out.streams[2].engine, "the mkv goes to the playback engine");
        assert_eq!(out.streams[2].kind, StreamKind::Hls);
        assert_eq!(
            out.streams[3].kind,
            StreamKind::Hls,
            "declared content type"
        );
        assert_eq!(out.streams[3].label.as_deref(), Some("Test Addon"));
        assert!(!hls.engine && !out.streams[1].engine && !out.streams[3].engine);
        assert_eq!(out.subtitles.len(), 2);
        let sub_headers = |i: usize| match &out.subtitles[i].source {
            StreamSource::Remote { headers, .. } => headers.len(),
            StreamSource::Local { .. } => unreachable!(),
        };
        assert_eq!(sub_headers(0), 1, "same origin as the video: same headers");
        assert_eq!(sub_headers(1), 0, "another origin gets none");
    }

    #[test]
    fn sdk_errors_get_their_own_codes() {
        let url = Url::parse("http://127.0.0.1:7000/stream/movie/tt1.json").unwrap();
        assert_eq!(
            classify(404, Some(&json!({"err": "not found"})), &url).code(),
            "stremio_addon_not_found"
        );
        assert_eq!(
            classify(500, Some(&json!({"err": "handler error"})), &url).code(),
            "stremio_addon_handler_error"
        );
        assert_eq!(
            classify(502, None, &url).code(),
            "stremio_addon_unavailable"
        );
    }
}
