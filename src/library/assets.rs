//! Things served next to the video: subtitles as WebVTT (sidecars converted in Rust, embedded
//! streams extracted by ffmpeg) and a poster frame grabbed from the file. Both are cached on
//! disk under the file's fingerprint, so a replaced file never serves a stale copy.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use tokio::process::Command;

use super::naming::track_label;
use super::probe::SubtitleTrack;
use super::subtitles;
use super::{Library, LibraryError, confine};
use crate::models::MediaType;
use crate::store::media::MediaFile;

/// Extracting a subtitle stream reads the whole file; a poster needs one frame.
const SUBTITLE_TIMEOUT: Duration = Duration::from_secs(300);
const POSTER_TIMEOUT: Duration = Duration::from_secs(30);

/// A subtitle track of a file, as the resolve answer and the player list it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SubtitleEntry {
    /// `s0`, `s1`… for embedded streams, `x0`, `x1`… for sidecar files.
    pub track: String,
    pub lang: String,
    pub label: String,
    pub default: bool,
    pub forced: bool,
    /// An image subtitle (`i0`, `i1`…): drawn only by burning it into the picture, which the
    /// HLS playlists do when given it as `burn=`.
    pub image: bool,
}

/// Every subtitle of `file`: sidecars first (the user added them on purpose), then embedded
/// text streams, then embedded image streams.
pub fn subtitle_tracks(file: &MediaFile) -> Vec<SubtitleEntry> {
    let mut out: Vec<SubtitleEntry> = file
        .sidecars
        .iter()
        .enumerate()
        .map(|(i, s)| SubtitleEntry {
            track: format!("x{i}"),
            lang: s.lang.clone(),
            label: track_label(&s.lang, None, s.forced, s.sdh),
            default: s.default,
            forced: s.forced,
            image: false,
        })
        .collect();
    let embedded = |prefix: &str, image: bool, tracks: &[SubtitleTrack]| {
        let prefix = prefix.to_string();
        tracks
            .iter()
            .enumerate()
            .map(move |(i, s)| SubtitleEntry {
                track: format!("{prefix}{i}"),
                lang: s.lang.clone(),
                label: track_label(&s.lang, s.title.as_deref(), s.forced, s.sdh),
                default: false,
                forced: s.forced,
                image,
            })
            .collect::<Vec<_>>()
    };
    out.extend(embedded("s", false, &file.probe.subtitles));
    out.extend(embedded(
        IMAGE_TRACK_PREFIX,
        true,
        &file.probe.image_subtitles,
    ));
    out
}

/// Image subtitle tracks are `i0`, `i1`…: numbered apart from the text ones (`s0`…) so that
/// listing them changed no existing track's name.
pub const IMAGE_TRACK_PREFIX: &str = "i";

/// The `file.probe.image_subtitles` entry named `track` (`i0`, `i1`…), if any.
pub fn image_subtitle<'a>(file: &'a MediaFile, track: &str) -> Option<&'a SubtitleTrack> {
    let n = track.strip_prefix(IMAGE_TRACK_PREFIX)?;
    // Plain digits only: `+1` or `01` would name the same track twice.
    if n.is_empty() || n.len() > 3 || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if n.len() > 1 && n.starts_with('0') {
        return None;
    }
    file.probe.image_subtitles.get(n.parse::<usize>().ok()?)
}

impl Library {
    /// The WebVTT text of subtitle `track` (`x0`, `s1`…) of `file`.
    pub async fn subtitle_vtt(
        &self,
        file: &MediaFile,
        track: &str,
    ) -> Result<String, LibraryError> {
        let missing = || {
            LibraryError::not_found("subtitle_not_found", format!("no subtitle track '{track}'"))
        };
        let (kind, n) = track.split_at(1.min(track.len()));
        let n: usize = n.parse().map_err(|_| missing())?;
        match kind {
            "x" => {
                let sidecar = file.sidecars.get(n).ok_or_else(missing)?;
                let dir = file.path.parent().ok_or_else(missing)?;
                self.sidecar_vtt(file, &dir.join(&sidecar.file_name), &sidecar.format)
                    .await
            }
            "s" => {
                let stream = file.probe.subtitles.get(n).ok_or_else(missing)?;
                let cache = self.data_dir().join("subtitles").join(format!(
                    "{}-{}-{}.vtt",
                    file.id,
                    file.fingerprint(),
                    stream.index
                ));
                if let Ok(text) = tokio::fs::read_to_string(&cache).await {
                    return Ok(text);
                }
                let input = confine::media_input(self.roots(), &file.path, &file.probe.format)?;
                let out = Command::new(&self.config().ffmpeg)
                    .args(["-hide_banner", "-nostdin", "-loglevel", "error"])
                    .args(confine::input_args(&file.probe.format))
                    .arg("-i")
                    .arg(&input)
                    .args([
                        "-map",
                        &format!("0:{}", stream.index),
                        "-c:s",
                        "webvtt",
                        "-f",
                        "webvtt",
                        "-",
                    ])
                    .stdin(std::process::Stdio::null())
                    .kill_on_drop(true)
                    .output();
                let out = tokio::time::timeout(SUBTITLE_TIMEOUT, out)
                    .await
                    .map_err(|_| {
                        LibraryError::Timeout("extracting the subtitle took too long".into())
                    })?
                    .map_err(|e| LibraryError::Tool(format!("cannot run ffmpeg: {e}")))?;
                if !out.status.success() {
                    return Err(LibraryError::Package(format!(
                        "ffmpeg cannot extract the subtitle: {}",
                        String::from_utf8_lossy(&out.stderr)
                            .lines()
                            .next()
                            .unwrap_or("")
                    )));
                }
                let text = String::from_utf8_lossy(&out.stdout).to_string();
                write_atomically(&cache, text.as_bytes()).await;
                Ok(text)
            }
            "i" if image_subtitle(file, track).is_some() => Err(LibraryError::not_found(
                "subtitle_not_found",
                format!(
                    "'{track}' is an image subtitle: it is burned into the HLS stream (burn={track})"
                ),
            )),
            _ => Err(missing()),
        }
    }

    /// A sidecar subtitle as WebVTT, converted once: the result is kept in
    /// `data_dir/subtitles/` under the sidecar's path, size and mtime, so a changed file is
    /// converted again and an unchanged one is never read again. The file is opened confined
    /// to the library ([`confine::open_regular`]) and refused past `max_subtitle_bytes`.
    async fn sidecar_vtt(
        &self,
        file: &MediaFile,
        path: &Path,
        format: &str,
    ) -> Result<String, LibraryError> {
        let refused = |e: confine::Refusal| {
            // The reason stays in the log: the client only learns that there is no such track.
            tracing::warn!(file = file.id, reason = %e, "sidecar subtitle refused");
            LibraryError::not_found(
                "subtitle_not_found",
                format!(
                    "the subtitle file is refused: {}",
                    match e {
                        confine::Refusal::TooLarge { .. } => "over library.max_subtitle_bytes",
                        confine::Refusal::Io(_) => "it cannot be read",
                        _ => "it is not a file inside the library",
                    }
                ),
            )
        };
        let max = self.config().max_subtitle_bytes;
        let roots = self.roots().to_vec();
        let at = path.to_path_buf();
        let (opened, meta) =
            tokio::task::spawn_blocking(move || confine::open_regular(&roots, &at))
                .await
                .map_err(|_| LibraryError::Internal("the subtitle reader panicked".into()))?
                .map_err(refused)?;
        if meta.len() > max {
            return Err(refused(confine::Refusal::TooLarge {
                size: meta.len(),
                max,
            }));
        }
        let mtime_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        let key = blake3::hash(
            format!("{}|{}|{}|{format}", path.display(), meta.len(), mtime_ns).as_bytes(),
        );
        let cache = self.data_dir().join("subtitles").join(format!(
            "{}-x-{}.vtt",
            file.id,
            &key.to_hex()[..16]
        ));
        if let Ok(text) = tokio::fs::read_to_string(&cache).await {
            return Ok(text);
        }
        let format = format.to_string();
        let text = tokio::task::spawn_blocking(move || {
            let bytes = confine::read_capped(opened, max)?;
            let text = subtitles::decode(&bytes);
            Ok::<_, confine::Refusal>(match format.as_str() {
                "srt" => subtitles::srt_to_vtt(&text),
                "ass" => subtitles::ass_to_vtt(&text),
                _ => subtitles::ensure_vtt(&text),
            })
        })
        .await
        .map_err(|_| LibraryError::Internal("the subtitle converter panicked".into()))?
        .map_err(refused)?;
        self.subtitle_conversions
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        write_atomically(&cache, text.as_bytes()).await;
        Ok(text)
    }

    /// A JPEG frame of the title (10% into the film or the first episode), cached on disk.
    pub async fn poster(
        &self,
        media_type: MediaType,
        tmdb_id: u32,
    ) -> Result<PathBuf, LibraryError> {
        let files = self.store().files_of(media_type, tmdb_id).await?;
        let file = files.first().ok_or_else(|| {
            LibraryError::not_found(
                "item_not_found",
                format!("no {media_type} {tmdb_id} in the library"),
            )
        })?;
        let path = self
            .data_dir()
            .join("posters")
            .join(format!("{media_type}-{tmdb_id}-{}.jpg", file.fingerprint()));
        if tokio::fs::metadata(&path).await.is_ok() {
            return Ok(path);
        }
        let dir = path.parent().expect("poster path has a parent");
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| LibraryError::Internal(format!("cannot create the poster folder: {e}")))?;
        let input = confine::media_input(self.roots(), &file.path, &file.probe.format)?;
        let tmp = dir.join(format!(".{}.jpg", rand::random::<u32>()));
        let at = (file.probe.duration * 0.1).min(300.0);
        let run = Command::new(&self.config().ffmpeg)
            .args([
                "-hide_banner",
                "-nostdin",
                "-loglevel",
                "error",
                "-y",
                "-ss",
                &format!("{at:.3}"),
            ])
            .args(confine::input_args(&file.probe.format))
            .arg("-i")
            .arg(&input)
            .args([
                "-frames:v",
                "1",
                "-vf",
                "scale=-2:'min(ih,480)'",
                "-q:v",
                "4",
                "-f",
                "image2",
            ])
            .arg(&tmp)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output();
        let out = tokio::time::timeout(POSTER_TIMEOUT, run)
            .await
            .map_err(|_| LibraryError::Timeout("grabbing a poster frame took too long".into()))?
            .map_err(|e| LibraryError::Tool(format!("cannot run ffmpeg: {e}")))?;
        if !out.status.success() || tokio::fs::metadata(&tmp).await.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(LibraryError::Package(
                "ffmpeg could not grab a poster frame".into(),
            ));
        }
        tokio::fs::rename(&tmp, &path)
            .await
            .map_err(|e| LibraryError::Internal(format!("cannot store the poster: {e}")))?;
        Ok(path)
    }
}

async fn write_atomically(path: &Path, bytes: &[u8]) {
    if let Some(dir) = path.parent() {
        let _ = tokio::fs::create_dir_all(dir).await;
        let tmp = dir.join(format!(".{}.tmp", rand::random::<u32>()));
        if tokio::fs::write(&tmp, bytes).await.is_ok()
            && tokio::fs::rename(&tmp, path).await.is_err()
        {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
    }
}
