//! TMDB metadata (`protocols.md` §5): titles, years, posters, seasons and episodes, and the
//! IMDb id most Stremio addons need. Shared by the metadata API and the providers.
//!
//! A v3 key goes in the `api_key=` query; a read-access token (a JWT, `eyJ…`) goes in an
//! `Authorization: Bearer` header, which keeps it out of URLs. Answers are cached per
//! (media type, id): movie and tv ids share one number space. Failed requests are retried
//! by the shared policy (`upstream::retry`): a `429` after its `Retry-After` when that is
//! short and fits in the caller's deadline.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::AUTHORIZATION;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;

use crate::config::{Secret, TmdbSettings};
use crate::models::MediaType;
use crate::upstream::json::{BaseUrl, JsonClient, JsonError};
use crate::upstream::retry::{self, RetryPolicy};

const IMAGE_BASE: &str = "https://image.tmdb.org/t/p";
/// A season of a long-running soap is the largest answer we ask for; far below this.
const MAX_BODY: usize = 4 * 1024 * 1024;
/// Metadata changes rarely; new episodes appear at most daily.
const CACHE_TTL: Duration = Duration::from_secs(6 * 3600);
const CACHE_CAPACITY: u64 = 20_000;
/// Searches are typed letter by letter: many distinct queries, each soon stale.
const SEARCH_CACHE_CAPACITY: u64 = 2_000;
const SEARCH_CACHE_TTL: Duration = Duration::from_secs(600);

/// Why TMDB gave no metadata. `code()` is stable (API error codes, provider messages),
/// `status()` is the HTTP status of the metadata API's answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TmdbError {
    /// HTTP 401, TMDB `status_code` 7: the key or token is wrong.
    #[error("TMDB rejected the configured key (SOKOUL_TMDB_KEY)")]
    Unauthorized,
    /// HTTP 404, TMDB `status_code` 34 (or 6, invalid id).
    #[error("TMDB has no {0}")]
    NotFound(String),
    /// HTTP 429, TMDB `status_code` 25, still limited after the retries.
    #[error("TMDB is rate limiting this server")]
    RateLimited { retry_after: Option<u64> },
    /// Refused, reset, a name that does not resolve, an answer that broke off.
    #[error("cannot reach TMDB: {0}")]
    Unreachable(#[source] Arc<JsonError>),
    #[error("TMDB did not answer in time")]
    Timeout,
    /// Too large, not JSON, or JSON of another shape.
    #[error("TMDB's answer is not usable: {0}")]
    Invalid(#[source] Arc<JsonError>),
    #[error("TMDB answered HTTP {0}")]
    Unavailable(u16),
}

impl TmdbError {
    pub fn code(&self) -> &'static str {
        match self {
            TmdbError::Unauthorized => "tmdb_unauthorized",
            TmdbError::NotFound(_) => "tmdb_not_found",
            TmdbError::RateLimited { .. } => "tmdb_rate_limited",
            TmdbError::Unreachable(_) => "tmdb_unreachable",
            TmdbError::Timeout => "tmdb_timeout",
            TmdbError::Invalid(_) => "tmdb_invalid_response",
            TmdbError::Unavailable(_) => "tmdb_unavailable",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            TmdbError::NotFound(_) => StatusCode::NOT_FOUND,
            // TMDB asks us to slow down: so do we ask the client (with its Retry-After).
            TmdbError::RateLimited { .. } => StatusCode::SERVICE_UNAVAILABLE,
            TmdbError::Timeout => StatusCode::GATEWAY_TIMEOUT,
            TmdbError::Unauthorized
            | TmdbError::Unreachable(_)
            | TmdbError::Invalid(_)
            | TmdbError::Unavailable(_) => StatusCode::BAD_GATEWAY,
        }
    }
}

impl From<JsonError> for TmdbError {
    fn from(e: JsonError) -> Self {
        match e {
            JsonError::BudgetSpent | JsonError::Timeout(_) | JsonError::BodyTimeout(_) => {
                TmdbError::Timeout
            }
            JsonError::Unreachable { .. } | JsonError::BodyBroken { .. } => {
                TmdbError::Unreachable(Arc::new(e))
            }
            JsonError::TooLarge { .. } | JsonError::NotJson(_) => TmdbError::Invalid(Arc::new(e)),
        }
    }
}

/// A film or a series, as the dashboard shows it (`GET /api/metadata/{media_type}/{id}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[ts(export)]
pub struct Metadata {
    pub media_type: MediaType,
    pub tmdb_id: u32,
    pub title: String,
    #[ts(optional)]
    #[schema(nullable = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub year: Option<i32>,
    #[ts(optional)]
    #[schema(nullable = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overview: Option<String>,
    #[ts(optional)]
    #[schema(nullable = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub poster_url: Option<String>,
    #[ts(optional)]
    #[schema(nullable = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backdrop_url: Option<String>,
    /// `tt…`, what most Stremio addons key their streams on.
    #[ts(optional)]
    #[schema(nullable = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub imdb_id: Option<String>,
    /// The original language (ISO 639-1, `en`): what "VOSTFR" plays.
    #[ts(optional)]
    #[schema(nullable = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original_language: Option<String>,
    /// Series only: the seasons, without their episodes (see the season route).
    #[ts(optional)]
    #[schema(nullable = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seasons: Option<Vec<SeasonSummary>>,
    /// In TMDB's order; the dashboard names the ones it knows by `id` in its own language.
    #[ts(optional)]
    #[schema(nullable = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub genres: Option<Vec<Genre>>,
    /// Minutes: a film's length, or a series' usual episode length.
    #[ts(optional)]
    #[schema(nullable = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime: Option<u32>,
    /// TMDB's average vote, out of 10; left out when nobody voted (TMDB then says 0).
    #[ts(optional)]
    #[schema(nullable = false, minimum = 0, maximum = 10)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rating: Option<f32>,
}

/// A TMDB genre: its id is stable across languages (28 is "Action"), its name is in TMDB's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[ts(export)]
pub struct Genre {
    pub id: u32,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[ts(export)]
pub struct SeasonSummary {
    /// 0 holds the specials.
    pub season: u32,
    pub name: String,
    pub episode_count: u32,
    #[ts(optional)]
    #[schema(nullable = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub air_date: Option<String>,
    #[ts(optional)]
    #[schema(nullable = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub poster_url: Option<String>,
}

/// One season with its episodes (`GET /api/metadata/tv/{id}/season/{n}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[ts(export)]
pub struct Season {
    pub tmdb_id: u32,
    pub season: u32,
    pub name: String,
    #[ts(optional)]
    #[schema(nullable = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overview: Option<String>,
    #[ts(optional)]
    #[schema(nullable = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub poster_url: Option<String>,
    pub episodes: Vec<Episode>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[ts(export)]
pub struct Episode {
    pub season: u32,
    pub episode: u32,
    pub name: String,
    #[ts(optional)]
    #[schema(nullable = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overview: Option<String>,
    #[ts(optional)]
    #[schema(nullable = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub air_date: Option<String>,
    #[ts(optional)]
    #[schema(nullable = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub still_url: Option<String>,
    /// Minutes.
    #[ts(optional)]
    #[schema(nullable = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime: Option<u32>,
}

/// A film or a series TMDB found for a search (`GET /api/search`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[ts(export)]
pub struct SearchHit {
    pub media_type: MediaType,
    pub tmdb_id: u32,
    pub title: String,
    #[ts(optional)]
    #[schema(nullable = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub year: Option<i32>,
    #[ts(optional)]
    #[schema(nullable = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub poster_url: Option<String>,
    #[ts(optional)]
    #[schema(nullable = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overview: Option<String>,
}

// TMDB's own shapes: only the fields we read, all optional so that a missing one never
// rejects the whole answer.
#[derive(Debug, Deserialize)]
struct RawTitle {
    title: Option<String>,
    name: Option<String>,
    release_date: Option<String>,
    first_air_date: Option<String>,
    overview: Option<String>,
    poster_path: Option<String>,
    backdrop_path: Option<String>,
    imdb_id: Option<String>,
    original_language: Option<String>,
    external_ids: Option<RawExternalIds>,
    seasons: Option<Vec<RawSeasonSummary>>,
    /// Films.
    runtime: Option<u32>,
    /// Series: TMDB lists the usual lengths, often just one.
    episode_run_time: Option<Vec<u32>>,
    genres: Option<Vec<RawGenre>>,
    vote_average: Option<f64>,
}

#[derive(Debug, Deserialize)]
struct RawGenre {
    id: Option<u32>,
    name: Option<String>,
}

/// `/search/multi`: films, series and people, each tagged with its `media_type`.
#[derive(Debug, Deserialize)]
struct RawSearch {
    #[serde(default)]
    results: Vec<RawSearchHit>,
}

#[derive(Debug, Deserialize)]
struct RawSearchHit {
    id: Option<u32>,
    media_type: Option<String>,
    #[serde(flatten)]
    title: RawTitle,
}

#[derive(Debug, Deserialize)]
struct RawExternalIds {
    imdb_id: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawSeasonSummary {
    season_number: Option<u32>,
    name: Option<String>,
    episode_count: Option<u32>,
    air_date: Option<String>,
    poster_path: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawSeason {
    season_number: Option<u32>,
    name: Option<String>,
    overview: Option<String>,
    poster_path: Option<String>,
    #[serde(default)]
    episodes: Vec<RawEpisode>,
}

#[derive(Debug, Deserialize)]
struct RawEpisode {
    season_number: Option<u32>,
    episode_number: Option<u32>,
    name: Option<String>,
    overview: Option<String>,
    air_date: Option<String>,
    still_path: Option<String>,
    runtime: Option<u32>,
}

enum Auth {
    /// A read-access token: `Authorization: Bearer …`, a header of the client.
    Bearer,
    /// A v3 key: `?api_key=…`.
    Query(Secret),
}

pub struct Tmdb {
    /// Sends the bearer token, when the key is one.
    client: JsonClient,
    base: BaseUrl,
    auth: Auth,
    /// Keyed by language too (`None`: TMDB's default, what the providers match titles with).
    titles: moka::future::Cache<(MediaType, u32, Option<Language>), Arc<Metadata>>,
    seasons: moka::future::Cache<(u32, u32, Option<Language>), Arc<Season>>,
    /// By folded query: typing the same words again (or another viewer) costs nothing.
    searches: moka::future::Cache<(String, Option<Language>), Arc<Vec<SearchHit>>>,
}

/// A language TMDB translates into, in its own form (`fr`, `pt-BR`): ISO 639-1, with an upper-case
/// region when there is one. Taken from the viewer's interface language.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Language(String);

impl Language {
    /// `None` for anything that is not `ll` or `ll-RR` (TMDB's `language` parameter).
    pub fn parse(tag: &str) -> Option<Language> {
        let tag = tag.trim();
        let (primary, region) = match tag.split_once('-') {
            Some((p, r)) => (p, Some(r)),
            None => (tag, None),
        };
        let letters = |s: &str| s.len() == 2 && s.bytes().all(|b| b.is_ascii_alphabetic());
        if !letters(primary) || region.is_some_and(|r| !letters(r)) {
            return None;
        }
        let mut out = primary.to_ascii_lowercase();
        if let Some(r) = region {
            out.push('-');
            out.push_str(&r.to_ascii_uppercase());
        }
        Some(Language(out))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Tmdb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tmdb")
            .field("base", &self.base.as_url().as_str())
            .finish()
    }
}

impl Tmdb {
    /// `None` without a key: metadata is then simply unavailable, nothing else breaks.
    pub fn from_settings(
        http: reqwest::Client,
        settings: &TmdbSettings,
    ) -> Result<Option<Self>, String> {
        let Some(key) = settings
            .key
            .as_ref()
            .filter(|k| !k.expose().trim().is_empty())
        else {
            return Ok(None);
        };
        // `join("movie/1")` must keep the `/3/` of the base.
        let base = BaseUrl::parse(&settings.base_url)
            .map_err(|e| format!("tmdb.base_url '{}' is not a URL: {e}", settings.base_url))?;
        let key = Secret::new(key.expose().trim());
        let mut client = JsonClient::new(http, MAX_BODY);
        let auth = if key.expose().starts_with("eyJ") {
            client = client
                .with_header(AUTHORIZATION, &format!("Bearer {}", key.expose()))
                .map_err(|_| "tmdb.key holds characters an HTTP header cannot carry")?;
            Auth::Bearer
        } else {
            Auth::Query(key)
        };
        Ok(Some(Tmdb {
            client,
            base,
            auth,
            titles: new_cache(),
            seasons: new_cache(),
            searches: moka::future::Cache::builder()
                .max_capacity(SEARCH_CACHE_CAPACITY)
                .time_to_live(SEARCH_CACHE_TTL)
                .build(),
        }))
    }

    /// How failed requests are retried (`[resilience]`).
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.client = self.client.with_retry(retry);
        self
    }

    /// The cheapest authenticated request, `/configuration`: reachable and the key accepted
    /// (`sokoul doctor`).
    pub async fn check(&self, deadline: Instant) -> Result<(), TmdbError> {
        self.get::<serde::de::IgnoredAny>("configuration", &[], deadline)
            .await
            .map(|_| ())
    }

    /// A film's or a series' metadata (series: with its season list), cached.
    pub async fn title(
        &self,
        media_type: MediaType,
        tmdb_id: u32,
        deadline: Instant,
    ) -> Result<Arc<Metadata>, TmdbError> {
        self.title_in(media_type, tmdb_id, None, deadline).await
    }

    /// The title translated into `language`. TMDB answers an untranslated overview with `""`:
    /// that one is taken from the default language (cached, the providers ask it anyway), as
    /// Jellyfin and Plex fall back rather than show no synopsis.
    pub async fn title_in(
        &self,
        media_type: MediaType,
        tmdb_id: u32,
        language: Option<&Language>,
        deadline: Instant,
    ) -> Result<Arc<Metadata>, TmdbError> {
        let translated = self
            .fetch_title(media_type, tmdb_id, language, deadline)
            .await?;
        if language.is_none() || translated.overview.is_some() {
            return Ok(translated);
        }
        let Ok(default) = self.fetch_title(media_type, tmdb_id, None, deadline).await else {
            return Ok(translated);
        };
        let mut merged = (*translated).clone();
        merged.overview.clone_from(&default.overview);
        Ok(Arc::new(merged))
    }

    async fn fetch_title(
        &self,
        media_type: MediaType,
        tmdb_id: u32,
        language: Option<&Language>,
        deadline: Instant,
    ) -> Result<Arc<Metadata>, TmdbError> {
        self.titles
            .try_get_with((media_type, tmdb_id, language.cloned()), async {
                let path = format!("{}/{tmdb_id}", media_type.as_str());
                let mut params = vec![("append_to_response", "external_ids")];
                params.extend(language.map(|l| ("language", l.as_str())));
                let raw: RawTitle = self.get(&path, &params, deadline).await?;
                Ok(Arc::new(map_title(media_type, tmdb_id, raw)))
            })
            .await
            .map_err(|e: Arc<TmdbError>| (*e).clone())
    }

    pub async fn season(
        &self,
        tmdb_id: u32,
        season: u32,
        deadline: Instant,
    ) -> Result<Arc<Season>, TmdbError> {
        self.season_in(tmdb_id, season, None, deadline).await
    }

    /// A season translated into `language`; episodes whose overview TMDB has not translated
    /// get the default language's, like [`Tmdb::title_in`].
    pub async fn season_in(
        &self,
        tmdb_id: u32,
        season: u32,
        language: Option<&Language>,
        deadline: Instant,
    ) -> Result<Arc<Season>, TmdbError> {
        let translated = self
            .fetch_season(tmdb_id, season, language, deadline)
            .await?;
        let untranslated =
            |s: &Season| s.overview.is_none() || s.episodes.iter().any(|e| e.overview.is_none());
        if language.is_none() || !untranslated(&translated) {
            return Ok(translated);
        }
        let Ok(default) = self.fetch_season(tmdb_id, season, None, deadline).await else {
            return Ok(translated);
        };
        Ok(Arc::new(fill_overviews(&translated, &default)))
    }

    async fn fetch_season(
        &self,
        tmdb_id: u32,
        season: u32,
        language: Option<&Language>,
        deadline: Instant,
    ) -> Result<Arc<Season>, TmdbError> {
        self.seasons
            .try_get_with((tmdb_id, season, language.cloned()), async {
                let params: Vec<(&str, &str)> = language
                    .map(|l| ("language", l.as_str()))
                    .into_iter()
                    .collect();
                let raw: RawSeason = self
                    .get(&format!("tv/{tmdb_id}/season/{season}"), &params, deadline)
                    .await?;
                Ok(Arc::new(map_season(tmdb_id, season, raw)))
            })
            .await
            .map_err(|e: Arc<TmdbError>| (*e).clone())
    }

    /// Films and series matching `query`, titled in `language` when given.
    pub async fn search(
        &self,
        query: &str,
        language: Option<&Language>,
        deadline: Instant,
    ) -> Result<Arc<Vec<SearchHit>>, TmdbError> {
        self.searches
            .try_get_with((query.to_string(), language.cloned()), async {
                let mut params = vec![("query", query), ("include_adult", "false"), ("page", "1")];
                params.extend(language.map(|l| ("language", l.as_str())));
                let raw: RawSearch = self.get("search/multi", &params, deadline).await?;
                Ok(Arc::new(
                    raw.results.into_iter().filter_map(map_hit).collect(),
                ))
            })
            .await
            .map_err(|e: Arc<TmdbError>| (*e).clone())
    }

    /// The IMDb id of a film or a series (a series' id, also for its episodes).
    pub async fn imdb_id(
        &self,
        media_type: MediaType,
        tmdb_id: u32,
        deadline: Instant,
    ) -> Result<Option<String>, TmdbError> {
        Ok(self
            .title(media_type, tmdb_id, deadline)
            .await?
            .imdb_id
            .clone())
    }

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
        deadline: Instant,
    ) -> Result<T, TmdbError> {
        let mut url = self.base.join(path, query);
        if let Auth::Query(key) = &self.auth {
            url.query_pairs_mut().append_pair("api_key", key.expose());
        }
        let answer = self.client.get(&url, deadline).await?;
        if answer.status.as_u16() == 429 {
            // Still limited after the retries, or asked to wait longer than fits.
            return Err(TmdbError::RateLimited {
                retry_after: retry::retry_after(&answer.headers).map(|w| w.as_secs()),
            });
        }
        if !answer.status.is_success() {
            return Err(classify(answer.status.as_u16(), &answer.body, path));
        }
        Ok(answer.json()?)
    }
}

/// TMDB's error bodies are `{"success":false,"status_code":N,"status_message":"…"}`; the
/// `status_code` is more precise than the HTTP status when present.
fn classify(http_status: u16, body: &[u8], path: &str) -> TmdbError {
    let code = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("status_code").and_then(Value::as_u64));
    match (http_status, code) {
        (_, Some(7)) | (401, _) => TmdbError::Unauthorized,
        (_, Some(34 | 6)) | (404, _) => TmdbError::NotFound(describe(path)),
        (_, Some(25)) => TmdbError::RateLimited { retry_after: None },
        (status, _) => TmdbError::Unavailable(status),
    }
}

fn new_cache<K, V>() -> moka::future::Cache<K, V>
where
    K: std::hash::Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    moka::future::Cache::builder()
        .max_capacity(CACHE_CAPACITY)
        .time_to_live(CACHE_TTL)
        .build()
}

/// `movie/603` → "movie 603", `tv/1396/season/9` → "tv 1396 season 9".
fn describe(path: &str) -> String {
    path.replace('/', " ")
}

fn image(size: &str, path: Option<String>) -> Option<String> {
    let path = path.filter(|p| p.starts_with('/'))?;
    Some(format!("{IMAGE_BASE}/{size}{path}"))
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

fn year(date: Option<&str>) -> Option<i32> {
    date?.get(..4)?.parse().ok()
}

fn map_hit(hit: RawSearchHit) -> Option<SearchHit> {
    let media_type = match hit.media_type.as_deref()? {
        "movie" => MediaType::Movie,
        "tv" => MediaType::Tv,
        _ => return None,
    };
    let tmdb_id = hit.id.filter(|id| *id > 0)?;
    let meta = map_title(media_type, tmdb_id, hit.title);
    Some(SearchHit {
        media_type,
        tmdb_id,
        title: meta.title,
        year: meta.year,
        poster_url: meta.poster_url,
        overview: meta.overview,
    })
}

fn map_title(media_type: MediaType, tmdb_id: u32, raw: RawTitle) -> Metadata {
    let date = match media_type {
        MediaType::Movie => raw.release_date.as_deref(),
        MediaType::Tv => raw.first_air_date.as_deref(),
    };
    let imdb_id = non_empty(raw.imdb_id)
        .or_else(|| non_empty(raw.external_ids.and_then(|x| x.imdb_id)))
        .filter(|id| id.starts_with("tt"));
    let seasons = (media_type == MediaType::Tv).then(|| {
        raw.seasons
            .unwrap_or_default()
            .into_iter()
            .filter_map(|s| {
                let season = s.season_number?;
                Some(SeasonSummary {
                    season,
                    name: non_empty(s.name).unwrap_or_else(|| format!("Season {season}")),
                    episode_count: s.episode_count.unwrap_or(0),
                    air_date: non_empty(s.air_date),
                    poster_url: image("w342", s.poster_path),
                })
            })
            .collect()
    });
    Metadata {
        media_type,
        tmdb_id,
        title: non_empty(raw.title)
            .or_else(|| non_empty(raw.name))
            .unwrap_or_else(|| format!("{media_type} {tmdb_id}")),
        year: year(date),
        overview: non_empty(raw.overview),
        poster_url: image("w500", raw.poster_path),
        backdrop_url: image("w1280", raw.backdrop_path),
        imdb_id,
        original_language: non_empty(raw.original_language),
        seasons,
        genres: raw
            .genres
            .map(|g| g.into_iter().filter_map(genre).collect()),
        runtime: raw
            .runtime
            .or_else(|| raw.episode_run_time?.into_iter().find(|m| *m > 0))
            .filter(|m| *m > 0),
        rating: raw
            .vote_average
            .filter(|v| *v > 0.0 && *v <= 10.0)
            .map(|v| v as f32),
    }
}

fn genre(raw: RawGenre) -> Option<Genre> {
    Some(Genre {
        id: raw.id?,
        name: non_empty(raw.name)?,
    })
}

/// `translated` with the overviews TMDB left empty taken from `default` (matched by episode).
fn fill_overviews(translated: &Season, default: &Season) -> Season {
    let mut merged = translated.clone();
    if merged.overview.is_none() {
        merged.overview.clone_from(&default.overview);
    }
    for episode in merged.episodes.iter_mut().filter(|e| e.overview.is_none()) {
        episode.overview = default
            .episodes
            .iter()
            .find(|d| d.episode == episode.episode)
            .and_then(|d| d.overview.clone());
    }
    merged
}

fn map_season(tmdb_id: u32, season: u32, raw: RawSeason) -> Season {
    let number = raw.season_number.unwrap_or(season);
    Season {
        tmdb_id,
        season: number,
        name: non_empty(raw.name).unwrap_or_else(|| format!("Season {number}")),
        overview: non_empty(raw.overview),
        poster_url: image("w342", raw.poster_path),
        episodes: raw
            .episodes
            .into_iter()
            .filter_map(|e| {
                let episode = e.episode_number?;
                Some(Episode {
                    season: e.season_number.unwrap_or(number),
                    episode,
                    name: non_empty(e.name).unwrap_or_else(|| format!("Episode {episode}")),
                    overview: non_empty(e.overview),
                    air_date: non_empty(e.air_date),
                    still_url: image("w300", e.still_path),
                    runtime: e.runtime,
                })
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_movie_maps_to_title_year_images_and_imdb_id() {
        let raw: RawTitle = serde_json::from_value(json!({
            "id": 603, "title": "The Matrix", "release_date": "1999-03-30",
            "overview": "Set in the 22nd century…", "poster_path": "/p.jpg",
            "backdrop_path": "/b.jpg", "imdb_id": "tt0133093", "original_language": "en",
            "runtime": 136, "vote_average": 8.2,
            "genres": [{"id": 28, "name": "Action"}, {"id": 878, "name": ""}, {"name": "No id"}]
        }))
        .unwrap();
        let m = map_title(MediaType::Movie, 603, raw);
        assert_eq!(m.original_language.as_deref(), Some("en"));
        assert_eq!(m.title, "The Matrix");
        assert_eq!(m.year, Some(1999));
        assert_eq!(
            m.poster_url.as_deref(),
            Some("https://image.tmdb.org/t/p/w500/p.jpg")
        );
        assert_eq!(m.imdb_id.as_deref(), Some("tt0133093"));
        assert_eq!(m.seasons, None, "films have no seasons");
        assert_eq!(m.runtime, Some(136));
        assert_eq!(m.rating, Some(8.2));
        let action = Genre {
            id: 28,
            name: "Action".into(),
        };
        assert_eq!(
            m.genres,
            Some(vec![action]),
            "nameless or id-less genres are left out"
        );
    }

    #[test]
    fn a_series_takes_its_imdb_id_from_external_ids_and_lists_its_seasons() {
        let raw: RawTitle = serde_json::from_value(json!({
            "id": 1396, "name": "Breaking Bad", "first_air_date": "2008-01-20",
            "poster_path": null, "external_ids": {"imdb_id": "tt0903747", "tvdb_id": 81189},
            "episode_run_time": [0, 45, 47], "vote_average": 0.0,
            "seasons": [
                {"season_number": 0, "name": "Specials", "episode_count": 9},
                {"season_number": 1, "name": "Season 1", "episode_count": 7, "air_date": "2008-01-20"}
            ]
        }))
        .unwrap();
        let m = map_title(MediaType::Tv, 1396, raw);
        assert_eq!(m.title, "Breaking Bad");
        assert_eq!(m.year, Some(2008));
        assert_eq!(m.poster_url, None);
        assert_eq!(m.imdb_id.as_deref(), Some("tt0903747"));
        let seasons = m.seasons.unwrap();
        assert_eq!(seasons.len(), 2);
        assert_eq!((seasons[1].season, seasons[1].episode_count), (1, 7));
        assert_eq!(m.runtime, Some(45), "the first usual episode length");
        assert_eq!(m.rating, None, "0 is TMDB's 'no votes yet'");
        assert_eq!(m.genres, None);
    }

    #[test]
    fn an_empty_imdb_id_is_no_imdb_id() {
        let raw: RawTitle =
            serde_json::from_value(json!({"title": "Obscure", "imdb_id": ""})).unwrap();
        assert_eq!(map_title(MediaType::Movie, 1, raw).imdb_id, None);
    }

    #[test]
    fn error_bodies_map_to_stable_codes() {
        let body = |n: u32| {
            serde_json::to_vec(&json!({"success": false, "status_code": n, "status_message": "x"}))
                .unwrap()
        };
        assert_eq!(
            classify(401, &body(7), "movie/1").code(),
            "tmdb_unauthorized"
        );
        assert_eq!(classify(404, &body(34), "movie/1").code(), "tmdb_not_found");
        assert_eq!(classify(404, &body(6), "movie/1").code(), "tmdb_not_found");
        assert_eq!(
            classify(503, b"<html>", "movie/1").code(),
            "tmdb_unavailable"
        );
    }

    #[test]
    fn a_language_is_tmdbs_ll_or_ll_rr() {
        let parsed = |t: &str| Language::parse(t).map(|l| l.as_str().to_owned());
        assert_eq!(parsed("fr").as_deref(), Some("fr"));
        assert_eq!(parsed(" EN ").as_deref(), Some("en"));
        assert_eq!(parsed("pt-br").as_deref(), Some("pt-BR"));
        for bad in [
            "", "fra", "french", "fr-", "fr-FRA", "f\"", "zh-Hant", "fr_FR",
        ] {
            assert_eq!(parsed(bad), None, "{bad}");
        }
    }
}
