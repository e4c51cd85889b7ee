//! The local-library provider: answers a resolve from the store (never probing or packaging
//! during a resolve). A browser-playable MP4 is offered for direct play first, with HLS as the
//! fallback; everything else as HLS packaged on demand. All URLs are paths on this server.

use std::sync::Arc;

use async_trait::async_trait;

use super::{Provider, ProviderError, ProviderHealth, ProviderId, ProviderManifest};
use crate::library::Library;
use crate::library::assets::subtitle_tracks;
use crate::models::{
    ExtractedStream, MediaRequest, MediaType, ProviderStreams, StreamKind, StreamSource, Subtitle,
};
use crate::store::StoreError;
use crate::store::media::MediaFile;

const ID: &str = ProviderId::Library.as_str();

static MANIFEST: ProviderManifest = ProviderManifest {
    id: ID,
    media_types: &[MediaType::Movie, MediaType::Tv],
};

#[derive(Debug)]
pub struct LibraryProvider {
    library: Arc<Library>,
}

impl LibraryProvider {
    pub fn new(library: Arc<Library>) -> Self {
        LibraryProvider { library }
    }

    /// The streams of `files`, each with its stored intro/credits when they are current.
    async fn streams_with_markers(&self, files: &[MediaFile]) -> ProviderStreams {
        let mut markers = Vec::with_capacity(files.len());
        for f in files {
            // A failed read only loses the markers: never the resolve.
            let m = match self
                .library
                .store()
                .markers_of(f.id, f.size, f.mtime_ns)
                .await
            {
                Ok(m) => m.map(|m| m.markers()).filter(|m| !m.is_empty()),
                Err(e) => {
                    tracing::warn!(error = %e, file_id = f.id, "cannot read stored markers");
                    None
                }
            };
            markers.push(m);
        }
        let mut out = Self::streams(files);
        for stream in &mut out.streams {
            if let StreamSource::Local { path } = &stream.source {
                let id = files
                    .iter()
                    .position(|f| path.starts_with(&format!("/api/media/{}/", f.id)));
                stream.markers = id.and_then(|i| markers[i].clone());
            }
        }
        // The answer's own `markers` (what players read before per-source ones): the first file's.
        out.markers = markers.first().cloned().flatten();
        out
    }

    fn streams(files: &[MediaFile]) -> ProviderStreams {
        let mut out = ProviderStreams {
            title: files
                .first()
                .map(|f| match (&f.episode_title, f.media_type) {
                    (Some(t), MediaType::Tv) => format!("{} – {t}", f.title),
                    _ => f.title.clone(),
                }),
            ..ProviderStreams::default()
        };
        for f in files {
            let first = out.streams.len();
            let remux = f.probe.remux_video();
            let height = if remux {
                f.probe.video.height
            } else {
                f.probe.video.height.min(1080)
            };
            // The same quality label on both sources keeps the MP4 ahead of its HLS fallback
            // in the ranking (a labelled HLS source is not treated as adaptive).
            let quality = (height > 0).then(|| format!("{height}p"));
            let name = f.path.file_name().map(|n| n.to_string_lossy().to_string());
            // Where the browser plays the file as it is (the player asks `canPlayType` with
            // `mime`), it comes first: no ffmpeg at all, and seeking is a Range request.
            if let Some(mime) = f.probe.direct_mime(&f.path) {
                out.streams.push(ExtractedStream {
                    mime: Some(mime),
                    ..local(
                        format!("/api/media/{}/file", f.id),
                        StreamKind::Mp4,
                        quality.clone(),
                        name.clone(),
                    )
                });
            }
            out.streams.push(local(
                format!("/api/media/{}/hls/master.m3u8", f.id),
                StreamKind::Hls,
                quality,
                // No "(transcoded)": whether it is depends on the browser (an AV1 file is
                // remuxed for Chromium, transcoded for a browser without AV1), and this answer
                // is every browser's; the master playlist names the mode it chose.
                name,
            ));
            let langs: Vec<String> = f.probe.audio.iter().map(|a| a.lang.clone()).collect();
            for s in &mut out.streams[first..] {
                s.audio_languages = langs.clone();
            }
        }
        // Subtitles are timed to one file: the first (best) one.
        if let Some(f) = files.first() {
            out.subtitles = subtitle_tracks(f)
                .into_iter()
                .map(|t| Subtitle {
                    source: StreamSource::Local {
                        path: match t.image {
                            true => format!("/api/media/{}/hls/master.m3u8?burn={}", f.id, t.track),
                            false => format!("/api/media/{}/subtitles/{}.vtt", f.id, t.track),
                        },
                    },
                    lang: t.lang,
                    label: Some(t.label),
                    provider: ID.to_string(),
                    ass: t
                        .ass
                        .then(|| format!("/api/media/{}/subtitles/{}.ass", f.id, t.track)),
                    burn_in: t.image.then_some(t.track),
                })
                .collect();
        }
        out
    }
}

/// The library's files of a title, best first (the first is the one its subtitles are timed
/// to, and the one subtitle addons are told about).
pub async fn files_for(
    library: &Library,
    req: &MediaRequest,
) -> Result<Vec<MediaFile>, StoreError> {
    let store = library.store();
    match req.season_episode() {
        None => store.files_of(MediaType::Movie, req.tmdb_id()).await,
        Some((season, episode)) => store.episode_files(req.tmdb_id(), season, episode).await,
    }
}

fn local(
    path: String,
    kind: StreamKind,
    quality: Option<String>,
    label: Option<String>,
) -> ExtractedStream {
    ExtractedStream {
        source: StreamSource::Local { path },
        kind,
        quality,
        provider: ID.to_string(),
        label,
        expires_at: None,
        markers: None,
        engine: false,
        audio_languages: Vec::new(),
        thumbnails: None,
        mime: None,
    }
}

fn store_error(e: StoreError) -> ProviderError {
    ProviderError::upstream("library_error", format!("the library database failed: {e}"))
        .caused_by(e)
}

/// `movie 603`, `tv 1396 S01E02`.
fn described(req: &MediaRequest) -> String {
    match req.season_episode() {
        None => format!("movie {}", req.tmdb_id()),
        Some((s, e)) => format!("tv {} S{s:02}E{e:02}", req.tmdb_id()),
    }
}

#[async_trait]
impl Provider for LibraryProvider {
    fn manifest(&self) -> &ProviderManifest {
        &MANIFEST
    }

    async fn resolve(&self, req: &MediaRequest) -> Result<ProviderStreams, ProviderError> {
        let files = files_for(&self.library, req).await.map_err(store_error)?;
        if files.is_empty() {
            return Err(ProviderError::not_found(
                "not_in_library",
                format!("{} is not in the library", described(req)),
            ));
        }
        Ok(self.streams_with_markers(&files).await)
    }

    async fn health(&self) -> ProviderHealth {
        let missing: Vec<String> = self
            .library
            .roots()
            .iter()
            .filter(|r| !r.is_dir())
            .map(|r| r.display().to_string())
            .collect();
        ProviderHealth {
            ok: missing.is_empty(),
            message: (!missing.is_empty())
                .then(|| format!("library folder missing: {}", missing.join(", "))),
        }
    }
}
