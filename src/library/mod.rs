//! The local library: the user's own films and series, scanned into the store (`scan`),
//! packaged for the browser on demand (`package`), with subtitles as WebVTT and posters
//! grabbed from the files (`assets`). `providers::library` answers resolves from the store;
//! `api::library` and `api::media` serve the rest.

pub mod assets;
pub mod confine;
pub mod demo;
pub mod markers;
pub mod naming;
pub mod oshash;
pub mod package;
pub mod probe;
pub mod scan;
pub mod subtitles;
pub mod thumbnails;
pub mod watch;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use serde::Serialize;
use time::OffsetDateTime;
use ts_rs::TS;
use utoipa::ToSchema;

use crate::clock::{Clock, SystemClock};
use crate::config::{LibrarySettings, Settings};
use crate::models::MediaType;
use crate::store::media::{MediaFile, Problem, StoredProblem};
use crate::store::progress::Watched;
use crate::store::{Store, StoreError};

pub use scan::ScanSummary;

#[derive(Debug, Clone, thiserror::Error)]
pub enum LibraryError {
    /// One file cannot be read as media (reported as a scan problem, never fatal).
    #[error("{0}")]
    Probe(String),
    /// ffmpeg/ffprobe is missing or cannot start: nothing in the library can work.
    #[error("{0}")]
    Tool(String),
    #[error("the library's database failed")]
    Store(#[source] Arc<StoreError>),
    #[error("{message}")]
    NotFound { code: &'static str, message: String },
    /// Every ffmpeg slot is taken by someone actively watching.
    #[error("{0}")]
    Busy(String),
    /// A segment was not ready within the wait budget.
    #[error("{0}")]
    Timeout(String),
    /// ffmpeg failed while packaging.
    #[error("{0}")]
    Package(String),
    #[error("{0}")]
    Internal(String),
    /// A remote file the engine cannot read through the proxy (404, 403, not a video).
    #[error("{0}")]
    Remote(String),
}

impl From<StoreError> for LibraryError {
    fn from(e: StoreError) -> Self {
        LibraryError::Store(Arc::new(e))
    }
}

impl LibraryError {
    /// The stable code of the API's answer.
    pub fn code(&self) -> &'static str {
        match self {
            LibraryError::NotFound { code, .. } => code,
            LibraryError::Busy(_) => "ffmpeg_busy",
            LibraryError::Timeout(_) => "packaging_timeout",
            LibraryError::Tool(_) => "ffmpeg_unavailable",
            LibraryError::Package(_) => "packaging_failed",
            LibraryError::Probe(_) => "unreadable_media",
            LibraryError::Remote(_) => "remote_unreadable",
            LibraryError::Store(_) | LibraryError::Internal(_) => "internal",
        }
    }

    pub fn status(&self) -> axum::http::StatusCode {
        use axum::http::StatusCode;
        match self {
            LibraryError::NotFound { .. } => StatusCode::NOT_FOUND,
            // Both pass: a slot frees up, ffmpeg gets installed.
            LibraryError::Busy(_) | LibraryError::Tool(_) => StatusCode::SERVICE_UNAVAILABLE,
            LibraryError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            // The file, not the server, is at fault.
            LibraryError::Probe(_) => StatusCode::UNPROCESSABLE_ENTITY,
            // The remote file's server, not ours, is at fault.
            LibraryError::Remote(_) => StatusCode::BAD_GATEWAY,
            LibraryError::Package(_) | LibraryError::Store(_) | LibraryError::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        LibraryError::NotFound {
            code,
            message: message.into(),
        }
    }
}

/// The library's tunables: [`LibrarySettings`] with each number brought into the range the
/// library works with (0 ffmpeg slots would stall every play, 0 s segments would never end).
/// Read through `Deref`, so a new setting needs no copy here.
#[derive(Debug, Clone)]
pub struct LibraryConfig(LibrarySettings);

impl From<&LibrarySettings> for LibraryConfig {
    fn from(s: &LibrarySettings) -> Self {
        let mut c = s.clone();
        c.probe_concurrency = c.probe_concurrency.max(1);
        c.probe_timeout = c.probe_timeout.max(1.0);
        c.max_ffmpeg = c.max_ffmpeg.max(1);
        c.segment_seconds = c.segment_seconds.clamp(1.0, 30.0);
        c.idle_timeout = c.idle_timeout.max(1.0);
        c.segment_wait = c.segment_wait.max(1.0);
        LibraryConfig(c)
    }
}

impl std::ops::Deref for LibraryConfig {
    type Target = LibrarySettings;

    fn deref(&self) -> &LibrarySettings {
        &self.0
    }
}

impl LibraryConfig {
    /// The segment cache's size limit in bytes.
    pub fn cache_max_bytes(&self) -> u64 {
        self.cache_max_mb.saturating_mul(1024 * 1024)
    }
}

type SharedScan = Shared<BoxFuture<'static, Result<Arc<ScanSummary>, LibraryError>>>;

/// The library handle kept in `AppState`.
pub struct Library {
    store: Store,
    config: LibraryConfig,
    roots: Vec<PathBuf>,
    data_dir: PathBuf,
    running: tokio::sync::Mutex<Option<SharedScan>>,
    pub packager: package::Packager,
    /// Sidecar subtitles converted to WebVTT since the start (each is converted once, then
    /// served from `data_dir/subtitles/`).
    subtitle_conversions: std::sync::atomic::AtomicU64,
    /// Poster and still frame grabs running at once (`assets::FRAME_SLOTS`).
    frame_slots: tokio::sync::Semaphore,
    /// The intro/credits detection job (one at a time).
    pub markers: Arc<markers::Detector>,
    /// The seek thumbnails job (one file at a time).
    pub thumbnails: Arc<thumbnails::Thumbnailer>,
    /// Dates the files a scan sees for the first time ("recently added").
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Library {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Library")
            .field("roots", &self.roots)
            .finish()
    }
}

/// A title in the library listing.
// `required` on the `Option`s that serialize as `null` rather than being left out: the
// OpenAPI document then says what the JSON really holds.
#[derive(Debug, Clone, Serialize, PartialEq, TS, ToSchema)]
#[ts(export, rename = "LibraryItem")]
pub struct Item {
    pub media_type: MediaType,
    pub tmdb_id: u32,
    pub title: String,
    #[schema(required)]
    pub year: Option<u16>,
    #[schema(required)]
    pub poster_url: Option<String>,
    #[schema(required)]
    pub overview: Option<String>,
    /// When a library scan first saw the title; for a series, its newest episode, so a series
    /// that gains an episode comes first in "recently added" (as in Jellyfin and Plex).
    #[serde(with = "time::serde::rfc3339")]
    #[ts(type = "string")]
    pub added_at: OffsetDateTime,
    /// The requesting profile finished it: a film watched past 95 % of its duration, or every
    /// episode of a series (specials aside).
    pub watched: bool,
    /// Series only: how many of its episodes (specials aside) the profile has not finished.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    #[ts(optional)]
    pub unwatched_episodes: Option<u32>,
}

#[derive(Debug, Clone, Serialize, PartialEq, TS, ToSchema)]
#[ts(export, rename = "LibraryItemDetail")]
pub struct ItemDetail {
    #[serde(flatten)]
    pub item: Item,
    /// Seconds; films only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    #[ts(optional)]
    pub duration: Option<f64>,
    /// Series only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    #[ts(optional)]
    pub seasons: Option<Vec<SeasonDetail>>,
}

#[derive(Debug, Clone, Serialize, PartialEq, TS, ToSchema)]
#[ts(export, rename = "LibrarySeason")]
pub struct SeasonDetail {
    pub season: u32,
    pub episodes: Vec<EpisodeDetail>,
}

#[derive(Debug, Clone, Serialize, PartialEq, TS, ToSchema)]
#[ts(export, rename = "LibraryEpisode")]
pub struct EpisodeDetail {
    pub episode: u32,
    #[schema(required)]
    pub title: Option<String>,
    /// Seconds.
    pub duration: f64,
    /// A frame of the episode's file (`GET /api/library/still/tv/…`), signed like posters.
    pub still_url: String,
}

impl Library {
    /// Opens the store in the data dir. Library folders are made absolute so stored paths
    /// survive a restart from another working directory.
    pub fn open(settings: &Settings) -> Result<Arc<Library>, LibraryError> {
        let store = Store::open(&settings.data_dir.join("sokoul.db"))?;
        Ok(Library::with_store(settings, store, Arc::new(SystemClock)))
    }

    pub fn with_store(settings: &Settings, store: Store, clock: Arc<dyn Clock>) -> Arc<Library> {
        let config = LibraryConfig::from(&settings.library);
        let roots: Vec<PathBuf> = settings
            .library
            .paths
            .iter()
            .map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| absolute(p)))
            .collect();
        let packager = package::Packager::new(
            config.clone(),
            roots.clone(),
            settings.data_dir.join("hls-cache"),
            store.clone(),
        );
        Arc::new(Library {
            store,
            config,
            roots,
            data_dir: settings.data_dir.clone(),
            running: tokio::sync::Mutex::new(None),
            packager,
            subtitle_conversions: std::sync::atomic::AtomicU64::new(0),
            frame_slots: tokio::sync::Semaphore::new(assets::FRAME_SLOTS),
            markers: Arc::new(markers::Detector::default()),
            thumbnails: Arc::new(thumbnails::Thumbnailer::default()),
            clock,
        })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn config(&self) -> &LibraryConfig {
        &self.config
    }

    pub fn roots(&self) -> &[PathBuf] {
        &self.roots
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn subtitle_conversions(&self) -> u64 {
        self.subtitle_conversions
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Starts a scan, or joins the one already running, and returns its summary.
    pub async fn scan(&self) -> Result<Arc<ScanSummary>, LibraryError> {
        let fut = {
            let mut running = self.running.lock().await;
            match running.as_ref() {
                Some(f) if f.peek().is_none() => f.clone(),
                _ => {
                    let store = self.store.clone();
                    let config = self.config.clone();
                    let roots = self.roots.clone();
                    let detector = self.markers.clone();
                    let thumbnailer = self.thumbnails.clone();
                    let data_dir = self.data_dir.clone();
                    let at = self.clock.now().unix_timestamp();
                    // Spawned, so a client that disconnects does not abort the scan half-way.
                    let task = tokio::spawn(async move {
                        let summary = scan::scan(&store, &config, &roots, at).await.map(Arc::new);
                        // After the scan and apart from it: the summary never waits for it.
                        if summary.is_ok() && config.thumbnails {
                            thumbnailer.kick(
                                store.clone(),
                                config.clone(),
                                roots.clone(),
                                data_dir,
                            );
                        }
                        if summary.is_ok() && config.detect_markers {
                            detector.kick(store, markers::DetectConfig::from(&config), roots);
                        }
                        summary
                    });
                    let f = async move {
                        task.await
                            .map_err(|_| LibraryError::Internal("the scan task panicked".into()))?
                    }
                    .boxed()
                    .shared();
                    *running = Some(f.clone());
                    f
                }
            }
        };
        fut.await
    }

    pub async fn file(&self, id: i64) -> Result<MediaFile, LibraryError> {
        self.store.file(id).await?.ok_or_else(|| {
            LibraryError::not_found(
                "media_not_found",
                format!("no media file {id} in the library"),
            )
        })
    }

    /// Problems of the folders configured now (those of a folder just removed from the
    /// settings are dropped by the next scan), with paths relative to their folder.
    pub async fn problems(&self) -> Result<Vec<Problem>, LibraryError> {
        Ok(self
            .store
            .problems()
            .await?
            .iter()
            .chain(&self.store.thumbnail_problems().await?)
            .filter_map(|p| shown(&self.roots, p))
            .collect())
    }

    /// Every title, once, sorted by title, with what `profile` has watched of it.
    pub async fn items(&self, profile: i64) -> Result<Vec<Item>, LibraryError> {
        let files = self.store.all_files().await?;
        let finished = self.store.finished(profile).await?;
        let mut titles: Vec<(MediaType, u32)> = Vec::new();
        let mut by_title: HashMap<(MediaType, u32), Vec<MediaFile>> = HashMap::new();
        for f in files {
            let key = (f.media_type, f.tmdb_id);
            if !by_title.contains_key(&key) {
                titles.push(key);
            }
            by_title.entry(key).or_default().push(f);
        }
        let mut items: Vec<Item> = titles
            .iter()
            .map(|key| item_of(&by_title[key], &finished))
            .collect();
        items.sort_by(|a, b| {
            a.title
                .to_lowercase()
                .cmp(&b.title.to_lowercase())
                .then(a.tmdb_id.cmp(&b.tmdb_id))
        });
        Ok(items)
    }

    pub async fn item(
        &self,
        media_type: MediaType,
        tmdb_id: u32,
        profile: i64,
    ) -> Result<ItemDetail, LibraryError> {
        let files = self.store.files_of(media_type, tmdb_id).await?;
        let first = files.first().ok_or_else(|| {
            LibraryError::not_found(
                "item_not_found",
                format!("no {media_type} {tmdb_id} in the library"),
            )
        })?;
        let item = item_of(&files, &self.store.finished(profile).await?);
        Ok(match media_type {
            MediaType::Movie => ItemDetail {
                item,
                duration: Some(first.probe.duration),
                seasons: None,
            },
            MediaType::Tv => {
                let mut seasons: Vec<SeasonDetail> = Vec::new();
                for f in &files {
                    let (Some(season), Some(first_ep)) = (f.season, f.episode) else {
                        continue;
                    };
                    let last = f.episode_end.unwrap_or(first_ep).max(first_ep);
                    let idx = match seasons.iter().position(|s| s.season == season) {
                        Some(i) => i,
                        None => {
                            seasons.push(SeasonDetail {
                                season,
                                episodes: Vec::new(),
                            });
                            seasons.len() - 1
                        }
                    };
                    for episode in first_ep..=last {
                        let eps = &mut seasons[idx].episodes;
                        if !eps.iter().any(|e| e.episode == episode) {
                            eps.push(EpisodeDetail {
                                episode,
                                title: f.episode_title.clone(),
                                duration: f.probe.duration,
                                still_url: format!(
                                    "/api/library/still/tv/{tmdb_id}/{season}/{episode}"
                                ),
                            });
                        }
                    }
                }
                for s in &mut seasons {
                    s.episodes.sort_by_key(|e| e.episode);
                }
                seasons.sort_by_key(|s| s.season);
                ItemDetail {
                    item,
                    duration: None,
                    seasons: Some(seasons),
                }
            }
        })
    }
}

/// A title from its files (at least one), and what the profile finished of it.
fn item_of(files: &[MediaFile], finished: &HashSet<Watched>) -> Item {
    let f = &files[0];
    let added = files.iter().map(|f| f.added_at).max().unwrap_or(0);
    let (watched, unwatched_episodes) = match f.media_type {
        MediaType::Movie => (
            finished.contains(&(MediaType::Movie, f.tmdb_id, None)),
            None,
        ),
        MediaType::Tv => {
            let episodes: HashSet<(u32, u32)> = files
                .iter()
                .filter_map(|f| Some((f.season?, f.episode?, f.episode_end)))
                .filter(|(season, _, _)| *season > 0)
                .flat_map(|(s, first, last)| {
                    (first..=last.unwrap_or(first).max(first)).map(move |e| (s, e))
                })
                .collect();
            let left = episodes
                .iter()
                .filter(|&&e| !finished.contains(&(MediaType::Tv, f.tmdb_id, Some(e))))
                .count() as u32;
            (!episodes.is_empty() && left == 0, Some(left))
        }
    };
    Item {
        media_type: f.media_type,
        tmdb_id: f.tmdb_id,
        title: f.title.clone(),
        year: f.year,
        poster_url: Some(format!(
            "/api/library/poster/{}/{}",
            f.media_type, f.tmdb_id
        )),
        overview: None,
        added_at: OffsetDateTime::from_unix_timestamp(added).unwrap_or(OffsetDateTime::UNIX_EPOCH),
        watched,
        unwatched_episodes,
    }
}

/// A stored problem as clients see it: its path relative to its root, and the root's index;
/// `None` when its root is not configured any more.
pub(crate) fn shown(roots: &[PathBuf], p: &StoredProblem) -> Option<Problem> {
    let root = roots
        .iter()
        .position(|r| r.to_string_lossy() == p.root.as_str())?;
    let path = Path::new(&p.path);
    let relative = match path.strip_prefix(&roots[root]) {
        Ok(rel) if rel.as_os_str().is_empty() => ".".to_string(),
        Ok(rel) => rel.to_string_lossy().to_string(),
        // Every stored path lies under its root; should one not, its name alone is still
        // enough to find it and says nothing about the disk.
        Err(_) => path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default(),
    };
    Some(Problem {
        path: relative,
        root,
        reason: p.reason.clone(),
    })
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    }
}
