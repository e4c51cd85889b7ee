//! Things served next to the video: subtitles as WebVTT (sidecars converted in Rust, embedded
//! streams extracted by ffmpeg), ASS/SSA tracks also as they are (for the player's libass
//! renderer), and poster and episode frames grabbed from the files. All are cached on disk under the
//! file's fingerprint, so a replaced file never serves a stale copy.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use tokio::process::Command;

use super::naming::{Sidecar, track_label};
use super::{Library, LibraryError, confine, probe, subtitles};
use crate::models::{MediaType, SubtitleFormat};
use crate::store::media::MediaFile;

/// Extracting a subtitle stream reads the whole file; a poster or a still needs one frame.
const SUBTITLE_TIMEOUT: Duration = Duration::from_secs(300);
const POSTER_TIMEOUT: Duration = Duration::from_secs(30);
/// A season page asks for every visible episode's frame at once (6 to 8 rows on a desktop).
/// Each grab took 0.34-0.45 s on a 90 s 640x360 demo episode (2 shared cores); two at a time
/// keep the other cores for playback, and the rest wait their turn.
pub(super) const FRAME_SLOTS: usize = 2;

/// A subtitle track of a file, as the resolve answer and the player list it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SubtitleEntry {
    /// `s0`, `s1`… for embedded streams, `x0`, `x1`… for sidecar files.
    pub track: String,
    pub lang: String,
    pub label: String,
    pub default: bool,
    pub forced: bool,
    /// ASS/SSA: also served as is (`{track}.ass`), styles and positions kept.
    pub ass: bool,
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
            ass: s.format == "ass",
            image: false,
        })
        .collect();
    out.extend(embedded("s", &file.probe.subtitles, false));
    out.extend(embedded(
        IMAGE_TRACK_PREFIX,
        &file.probe.image_subtitles,
        true,
    ));
    out
}

/// Embedded streams as entries named `{prefix}0`, `{prefix}1`…
fn embedded<'a>(
    prefix: &'a str,
    tracks: &'a [probe::SubtitleTrack],
    image: bool,
) -> impl Iterator<Item = SubtitleEntry> + 'a {
    tracks.iter().enumerate().map(move |(i, s)| SubtitleEntry {
        track: format!("{prefix}{i}"),
        lang: s.lang.clone(),
        label: track_label(&s.lang, s.title.as_deref(), s.forced, s.sdh),
        default: false,
        forced: s.forced,
        ass: !image && is_ass_codec(&s.codec),
        image,
    })
}

/// Image subtitle tracks are `i0`, `i1`…: numbered apart from the text ones (`s0`…) so that
/// listing them changed no existing track's name.
pub const IMAGE_TRACK_PREFIX: &str = "i";

/// The `file.probe.image_subtitles` entry named `track` (`i0`, `i1`…), if any.
pub fn image_subtitle<'a>(file: &'a MediaFile, track: &str) -> Option<&'a probe::SubtitleTrack> {
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

/// ffprobe's names for SubStation Alpha streams.
fn is_ass_codec(codec: &str) -> bool {
    matches!(codec, "ass" | "ssa")
}

/// The embedded text stream named `id` (`s0`, `s1`…) of `file` that can be served as
/// `format`; a remote file has no sidecars, so this is all it offers.
pub(super) fn embedded_track<'a>(
    file: &'a MediaFile,
    id: &str,
    format: SubtitleFormat,
) -> Result<&'a probe::SubtitleTrack, LibraryError> {
    match Track::find(file, id, format)? {
        Track::Embedded(stream) => Ok(stream),
        Track::Sidecar(_) => Err(sidecar_missing(id)),
    }
}

/// ffmpeg's output options for one subtitle stream written to stdout as `format`.
pub(super) fn output_args(format: SubtitleFormat) -> &'static [&'static str] {
    match format {
        SubtitleFormat::Vtt => &["-c:s", "webvtt", "-f", "webvtt"],
        SubtitleFormat::Ass => &["-c:s", "copy", "-f", "ass"],
    }
}

/// One subtitle track of a file, found from its id.
enum Track<'a> {
    Sidecar(&'a Sidecar),
    Embedded(&'a probe::SubtitleTrack),
}

impl<'a> Track<'a> {
    /// Track `id` (`x0`, `s1`…) of `file`, when it exists and can be served as `format`.
    fn find(file: &'a MediaFile, id: &str, format: SubtitleFormat) -> Result<Self, LibraryError> {
        let missing =
            || LibraryError::not_found("subtitle_not_found", format!("no subtitle track '{id}'"));
        let (kind, n) = id.split_at(1.min(id.len()));
        let n: usize = n.parse().map_err(|_| missing())?;
        let track = match kind {
            "x" => Track::Sidecar(file.sidecars.get(n).ok_or_else(missing)?),
            "s" => Track::Embedded(file.probe.subtitles.get(n).ok_or_else(missing)?),
            "i" if image_subtitle(file, id).is_some() => {
                return Err(LibraryError::not_found(
                    "subtitle_not_found",
                    format!(
                        "'{id}' is an image subtitle: it is burned into the HLS stream (burn={id})"
                    ),
                ));
            }
            _ => return Err(missing()),
        };
        let is_ass = match track {
            Track::Sidecar(s) => s.format == "ass",
            Track::Embedded(s) => is_ass_codec(&s.codec),
        };
        if format == SubtitleFormat::Ass && !is_ass {
            return Err(LibraryError::not_found(
                "subtitle_not_found",
                format!("subtitle track '{id}' is not ASS/SSA; it is served as .vtt"),
            ));
        }
        Ok(track)
    }
}

impl Library {
    /// The WebVTT text of subtitle `track` (`x0`, `s1`…) of `file`.
    pub async fn subtitle_vtt(
        &self,
        file: &MediaFile,
        track: &str,
    ) -> Result<String, LibraryError> {
        self.subtitle(file, track, SubtitleFormat::Vtt).await
    }

    /// Subtitle `track` of `file` as `format`: WebVTT for any text track, or an ASS/SSA track
    /// as is (styles, `\pos`, `\an8`… kept for a libass renderer in the player).
    pub async fn subtitle(
        &self,
        file: &MediaFile,
        track: &str,
        format: SubtitleFormat,
    ) -> Result<String, LibraryError> {
        let dir = file.path.parent();
        match (Track::find(file, track, format)?, format) {
            (Track::Embedded(stream), _) => self.embedded_subtitle(file, stream, format).await,
            (Track::Sidecar(sidecar), SubtitleFormat::Vtt) => {
                let dir = dir.ok_or_else(|| sidecar_missing(track))?;
                self.sidecar_vtt(file, &dir.join(&sidecar.file_name), &sidecar.format)
                    .await
            }
            // Read as it is at every request: opening and decoding it is the whole cost,
            // which a cached copy would pay too.
            (Track::Sidecar(sidecar), SubtitleFormat::Ass) => {
                let dir = dir.ok_or_else(|| sidecar_missing(track))?;
                let (opened, _) = self
                    .open_sidecar(file, &dir.join(&sidecar.file_name))
                    .await?;
                let max = self.config().max_subtitle_bytes;
                tokio::task::spawn_blocking(move || confine::read_capped(opened, max))
                    .await
                    .map_err(|_| LibraryError::Internal("the subtitle reader panicked".into()))?
                    .map(|bytes| subtitles::decode(&bytes))
                    .map_err(|e| sidecar_refused(file, e))
            }
        }
    }

    /// An embedded text stream extracted by ffmpeg (converted to WebVTT, or an ASS/SSA stream
    /// copied as is), kept in `data_dir/subtitles/` under the file's fingerprint. The output is
    /// refused past `max_subtitle_bytes`, like a sidecar: it is held whole in memory.
    async fn embedded_subtitle(
        &self,
        file: &MediaFile,
        stream: &probe::SubtitleTrack,
        format: SubtitleFormat,
    ) -> Result<String, LibraryError> {
        let cache = self.data_dir().join("subtitles").join(format!(
            "{}-{}-{}.{}",
            file.id,
            file.fingerprint(),
            stream.index,
            format.extension()
        ));
        if let Ok(text) = tokio::fs::read_to_string(&cache).await {
            return Ok(text);
        }
        let input = confine::media_input(self.roots(), &file.path, &file.probe.format)?;
        let codec = output_args(format);
        let mut command = Command::new(&self.config().ffmpeg);
        command
            .args(["-hide_banner", "-nostdin", "-loglevel", "error"])
            .args(confine::input_args(&file.probe.format))
            .arg("-i")
            .arg(&input)
            .args(["-map", &format!("0:{}", stream.index)])
            .args(codec)
            .arg("-");
        let max = self.config().max_subtitle_bytes;
        let bytes = tokio::time::timeout(SUBTITLE_TIMEOUT, run_capped(command, max))
            .await
            .map_err(|_| LibraryError::Timeout("extracting the subtitle took too long".into()))??;
        let text = String::from_utf8_lossy(&bytes).to_string();
        write_atomically(&cache, text.as_bytes()).await;
        Ok(text)
    }

    /// A sidecar opened confined to the library ([`confine::open_regular`]), refused past
    /// `max_subtitle_bytes`.
    async fn open_sidecar(
        &self,
        file: &MediaFile,
        path: &Path,
    ) -> Result<(std::fs::File, std::fs::Metadata), LibraryError> {
        let max = self.config().max_subtitle_bytes;
        let roots = self.roots().to_vec();
        let at = path.to_path_buf();
        let (opened, meta) =
            tokio::task::spawn_blocking(move || confine::open_regular(&roots, &at))
                .await
                .map_err(|_| LibraryError::Internal("the subtitle reader panicked".into()))?
                .map_err(|e| sidecar_refused(file, e))?;
        if meta.len() > max {
            return Err(sidecar_refused(
                file,
                confine::Refusal::TooLarge {
                    size: meta.len(),
                    max,
                },
            ));
        }
        Ok((opened, meta))
    }

    /// A sidecar subtitle as WebVTT, converted once: the result is kept in
    /// `data_dir/subtitles/` under the sidecar's path, size and mtime, so a changed file is
    /// converted again and an unchanged one is never read again.
    async fn sidecar_vtt(
        &self,
        file: &MediaFile,
        path: &Path,
        format: &str,
    ) -> Result<String, LibraryError> {
        let (opened, meta) = self.open_sidecar(file, path).await?;
        let max = self.config().max_subtitle_bytes;
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
        .map_err(|e| sidecar_refused(file, e))?;
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
        let name = format!("{media_type}-{tmdb_id}-{}.jpg", file.fingerprint());
        self.frame(file, "posters", &name).await
    }

    /// A JPEG frame of one episode (10% into its file, past most cold opens' black), cached
    /// on disk like the posters.
    pub async fn still(
        &self,
        tmdb_id: u32,
        season: u32,
        episode: u32,
    ) -> Result<PathBuf, LibraryError> {
        let files = self.store().episode_files(tmdb_id, season, episode).await?;
        let file = files.first().ok_or_else(|| {
            LibraryError::not_found(
                "episode_not_found",
                format!("no episode S{season:02}E{episode:02} of tv {tmdb_id} in the library"),
            )
        })?;
        // The file's fingerprint, not the episode: the two halves of an `E01-E02` file share it.
        let name = format!("tv-{tmdb_id}-{}.jpg", file.fingerprint());
        self.frame(file, "stills", &name).await
    }

    /// `{data_dir}/{folder}/{name}`, grabbed by ffmpeg at 10% of the file (at most 5 min in)
    /// unless already there.
    async fn frame(
        &self,
        file: &MediaFile,
        folder: &str,
        name: &str,
    ) -> Result<PathBuf, LibraryError> {
        let path = self.data_dir().join(folder).join(name);
        if tokio::fs::metadata(&path).await.is_ok() {
            return Ok(path);
        }
        let _slot = self
            .frame_slots
            .acquire()
            .await
            .map_err(|_| LibraryError::Internal("the frame slots are closed".into()))?;
        // Another request for the same frame may have grabbed it while this one waited.
        if tokio::fs::metadata(&path).await.is_ok() {
            return Ok(path);
        }
        let dir = path.parent().expect("frame path has a parent");
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| LibraryError::Internal(format!("cannot create {folder}/: {e}")))?;
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
            .map_err(|_| LibraryError::Timeout("grabbing a frame took too long".into()))?
            .map_err(|e| LibraryError::Tool(format!("cannot run ffmpeg: {e}")))?;
        if !out.status.success() || tokio::fs::metadata(&tmp).await.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(LibraryError::Package(
                "ffmpeg could not grab a frame".into(),
            ));
        }
        tokio::fs::rename(&tmp, &path)
            .await
            .map_err(|e| LibraryError::Internal(format!("cannot store the frame: {e}")))?;
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

fn sidecar_missing(track: &str) -> LibraryError {
    LibraryError::not_found("subtitle_not_found", format!("no subtitle track '{track}'"))
}

/// A sidecar that cannot be served. The reason stays in the log: the client only learns
/// that there is no such track.
fn sidecar_refused(file: &MediaFile, e: confine::Refusal) -> LibraryError {
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
}

/// Runs ffmpeg writing one subtitle stream to stdout, reading at most `max` bytes of it: a
/// longer output is refused (and ffmpeg killed) instead of being held in memory.
async fn run_capped(command: Command, max: u64) -> Result<Vec<u8>, LibraryError> {
    capture_capped(command, max).await?.map_err(|stderr| {
        LibraryError::Package(format!(
            "ffmpeg cannot extract the subtitle: {}",
            stderr.lines().next().unwrap_or("")
        ))
    })
}

/// [`run_capped`], with ffmpeg's error lines when it failed (`Err`), for the caller to read.
pub(super) async fn capture_capped(
    mut command: Command,
    max: u64,
) -> Result<Result<Vec<u8>, String>, LibraryError> {
    use tokio::io::AsyncReadExt;
    let mut child = command
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        // At `-loglevel error` a few lines: they fit the pipe's buffer, so stdout is read
        // first without ffmpeg blocking on stderr.
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| LibraryError::Tool(format!("cannot run ffmpeg: {e}")))?;
    let mut out = Vec::new();
    let stdout = child.stdout.take().expect("stdout is piped");
    let read = stdout.take(max + 1).read_to_end(&mut out).await;
    read.map_err(|e| LibraryError::Internal(format!("cannot read ffmpeg's output: {e}")))?;
    if out.len() as u64 > max {
        tracing::warn!(
            max,
            "embedded subtitle refused: over library.max_subtitle_bytes"
        );
        return Err(LibraryError::not_found(
            "subtitle_not_found",
            "the subtitle stream is refused: over library.max_subtitle_bytes",
        ));
    }
    let mut err = Vec::new();
    if let Some(mut stderr) = child.stderr.take() {
        let _ = stderr.read_to_end(&mut err).await;
    }
    let status = child
        .wait()
        .await
        .map_err(|e| LibraryError::Tool(format!("cannot run ffmpeg: {e}")))?;
    if !status.success() {
        return Ok(Err(String::from_utf8_lossy(&err).into_owned()));
    }
    Ok(Ok(out))
}

/// What a failed extraction of a remote file's subtitle `track` means, from ffmpeg's error
/// lines: the origin (or the proxy in front of it) failed or stopped, a `502` the viewer may
/// retry; else the track itself cannot be converted, a `422`. ffmpeg names its input in its
/// messages, and that input is a signed proxy URL (a credential): only what follows the last
/// `": "` of a line is kept.
pub(super) fn remote_extraction_error(stderr: &str, track: &str) -> LibraryError {
    const IO: [&str; 7] = [
        "Server returned",
        "Stream ends prematurely",
        "I/O error",
        "Input/output error",
        "Connection refused",
        "Connection reset",
        "timed out",
    ];
    let why = |line: &str| {
        let tail = line.rsplit(": ").next().unwrap_or("").trim();
        match tail.contains("/api/") {
            true => "no error message".to_string(),
            false => tail.to_string(),
        }
    };
    let lines = || stderr.lines().filter(|l| !l.trim().is_empty());
    if let Some(line) = lines().find(|l| IO.iter().any(|m| l.contains(m))) {
        return LibraryError::Remote(format!("the remote file cannot be read: {}", why(line)));
    }
    let last = lines().next_back().unwrap_or("");
    LibraryError::Probe(format!(
        "ffmpeg cannot convert subtitle track '{track}': {}",
        why(last)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_origin_that_fails_during_extraction_is_a_bad_gateway_without_the_signed_url() {
        let stderr = "[http @ 0x1] Stream ends prematurely at 1000, should be 2000\n\
            http://127.0.0.1:9/api/streaming/proxy?c=a&u=b&s=c: Input/output error\n";
        let e = remote_extraction_error(stderr, "s0");
        assert_eq!(e.code(), "remote_unreadable");
        assert_eq!(e.status(), axum::http::StatusCode::BAD_GATEWAY);
        let e = remote_extraction_error(
            "http://127.0.0.1:9/api/streaming/proxy?c=a&u=b&s=c: Server returned 404 Not Found\n",
            "s0",
        );
        assert_eq!(
            e.to_string(),
            "the remote file cannot be read: Server returned 404 Not Found"
        );
        assert!(!e.to_string().contains("/api/"), "{e}");
    }

    #[test]
    fn a_track_ffmpeg_cannot_convert_is_the_file_s_fault() {
        let stderr = "[webvtt @ 0x1] Buffer too small for ASS event.\nSubtitle encoding failed\n";
        let e = remote_extraction_error(stderr, "s2");
        assert_eq!(e.code(), "unreadable_media");
        assert_eq!(
            e.to_string(),
            "ffmpeg cannot convert subtitle track 's2': Subtitle encoding failed"
        );
    }
}
