//! Seek thumbnails of library files: what the seek bar shows under the pointer. A background
//! job (after each scan, one file at a time, ffmpeg niced) decodes only the keyframes of each
//! file, keeps one picture every `interval` seconds, and tiles them into JPEG sheets of
//! `COLUMNS` x `ROWS` in `data_dir/thumbnails/{file_id}/`. The player reads a WebVTT index whose
//! cues point into the sheets (`0.jpg#xywh=320,0,320,180`), the form video.js, Shaka, Vidstack
//! and JW Player read. Sheets are reused while the file's size and mtime are unchanged; a file
//! ffmpeg cannot decode gets none, and a problem in the library's problem list.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::{Notify, watch};

use super::{Library, LibraryConfig, LibraryError, confine};
use crate::store::Store;
use crate::store::media::MediaFile;
use crate::store::thumbnails::StoredThumbnails;

/// Tiles per sheet row and per sheet column: 100 tiles of 320x180 make a 3200x1800 JPEG of
/// 300–500 KB, one request for 16 minutes of a film at the default interval.
pub const COLUMNS: u32 = 10;
pub const ROWS: u32 = 10;
/// About what seek bar previews show (Netflix, YouTube: 256–320 px); a 2x display still gets
/// a sharp picture at 160 CSS px.
pub const TILE_WIDTH: u32 = 320;
/// A portrait video would make tall tiles; beyond this height it is scaled to fit instead.
const MAX_TILE_HEIGHT: u32 = 320;
/// At most this many tiles per file (36 sheets): a 24-hour recording gets a longer interval
/// rather than 8640 tiles.
pub const MAX_TILES: u32 = 3600;
/// Problems written by the job start with this, so a later success can clear them.
pub const PROBLEM_PREFIX: &str = "no seek thumbnails";

/// Where each tile of a file's sheets is, in time and in pixels.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Layout {
    /// Seconds between two tiles; tile `n` shows the last keyframe at or before `n * interval`.
    pub interval: f64,
    /// Seconds: the file's duration, which the last cue ends at.
    pub duration: f64,
    pub tile_width: u32,
    pub tile_height: u32,
    pub columns: u32,
    pub rows: u32,
    pub tiles: u32,
}

/// One tile: its sheet and its rectangle there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tile {
    pub sheet: u32,
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

impl Layout {
    /// The layout for a video of `duration` seconds and `width`x`height` pixels, or `None` when
    /// there is nothing to show (no duration, no picture size).
    pub fn for_video(duration: f64, width: u32, height: u32, interval: f64) -> Option<Layout> {
        if !(duration.is_finite() && duration > 0.0 && width > 0 && height > 0) {
            return None;
        }
        let interval = interval.max(duration / f64::from(MAX_TILES));
        let (mut w, mut h) = (
            TILE_WIDTH,
            f64::from(TILE_WIDTH) * f64::from(height) / f64::from(width),
        );
        if h > f64::from(MAX_TILE_HEIGHT) {
            w = (f64::from(w) * f64::from(MAX_TILE_HEIGHT) / h) as u32;
            h = f64::from(MAX_TILE_HEIGHT);
        }
        // Even sizes: the JPEG encoder's 4:2:0 chroma needs them.
        let even = |v: f64| ((v / 2.0).round() as u32).max(1) * 2;
        Some(Layout {
            interval,
            duration,
            tile_width: even(f64::from(w)),
            tile_height: even(h),
            columns: COLUMNS,
            rows: ROWS,
            tiles: ((duration / interval).ceil() as u32).clamp(1, MAX_TILES),
        })
    }

    pub fn per_sheet(&self) -> u32 {
        self.columns * self.rows
    }

    pub fn sheets(&self) -> u32 {
        self.tiles.div_ceil(self.per_sheet())
    }

    /// Tile number `n`, when the layout has it.
    pub fn tile(&self, n: u32) -> Option<Tile> {
        if n >= self.tiles {
            return None;
        }
        let within = n % self.per_sheet();
        Some(Tile {
            sheet: n / self.per_sheet(),
            x: (within % self.columns) * self.tile_width,
            y: (within / self.columns) * self.tile_height,
            w: self.tile_width,
            h: self.tile_height,
        })
    }

    /// The tile shown at `t` seconds.
    pub fn tile_at(&self, t: f64) -> Option<Tile> {
        if !(t.is_finite() && t >= 0.0 && t <= self.duration) {
            return None;
        }
        self.tile(((t / self.interval).floor() as u32).min(self.tiles - 1))
    }

    /// The WebVTT thumbnails track: one cue per tile, its text the sheet's URL (from
    /// `sheet_url(n)`) with the tile's rectangle as a media fragment.
    pub fn vtt(&self, sheet_url: impl Fn(u32) -> String) -> String {
        let mut out = String::from("WEBVTT\n");
        for n in 0..self.tiles {
            let Some(tile) = self.tile(n) else { break };
            let start = f64::from(n) * self.interval;
            let end = (start + self.interval).min(self.duration);
            let Tile { sheet, x, y, w, h } = tile;
            let _ = write!(
                out,
                "\n{} --> {}\n{}#xywh={x},{y},{w},{h}\n",
                timestamp(start),
                timestamp(end),
                sheet_url(sheet)
            );
        }
        out
    }

    /// The ffmpeg filter making the sheets from the keyframes: the last frame is repeated for a
    /// while (a video stream may end a little before the file's duration), one frame per
    /// interval is kept (the last one at or before each tick), exactly `tiles` of them, scaled
    /// and tiled.
    fn filter(&self) -> String {
        let ms = (self.interval * 1000.0).round().max(1.0) as u64;
        format!(
            "tpad=stop_mode=clone:stop_duration={pad},fps=fps=1000/{ms}:round=down,\
             trim=end_frame={tiles},scale={w}:{h},setsar=1,tile={c}x{r}",
            pad = (self.interval * 3.0).ceil() as u64,
            tiles = self.tiles,
            w = self.tile_width,
            h = self.tile_height,
            c = self.columns,
            r = self.rows,
        )
    }
}

/// `HH:MM:SS.mmm`, as WebVTT wants (hours always present: players accept both).
fn timestamp(seconds: f64) -> String {
    let ms = (seconds.max(0.0) * 1000.0).round() as u64;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

/// The sheets' directory of file `id`.
fn dir_of(data_dir: &Path, id: i64) -> PathBuf {
    data_dir.join("thumbnails").join(id.to_string())
}

fn sheet_name(n: u32) -> String {
    format!("{n}.jpg")
}

/// Ceiling for one file: keyframe decoding of a 2-hour 1080p film takes about half a minute
/// of CPU (docs/benchmarks.md), and niced on a busy machine several times that. Past this the
/// file is treated as undecodable rather than holding the job forever.
fn time_limit(duration: f64) -> Duration {
    Duration::from_secs_f64(120.0 + duration.max(0.0) / 4.0)
}

/// A damaged file makes ffmpeg log an error per packet (megabytes for a film): the first
/// lines say why, the rest is drained unread.
const MAX_STDERR_BYTES: u64 = 16 * 1024;

/// Runs `cmd` with no input or output, killed past `limit`: its exit status, and the start of
/// its stderr. `Err(None)` when it took too long.
async fn run_capped(
    cmd: &mut tokio::process::Command,
    limit: Duration,
) -> Result<(std::process::ExitStatus, String), Option<std::io::Error>> {
    use std::process::Stdio;
    use tokio::io::AsyncReadExt;
    cmd.kill_on_drop(true)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(Some)?;
    let mut stderr = child.stderr.take().expect("piped");
    let run = async {
        let mut head = Vec::new();
        let _ = (&mut stderr)
            .take(MAX_STDERR_BYTES)
            .read_to_end(&mut head)
            .await;
        let _ = tokio::io::copy(&mut stderr, &mut tokio::io::sink()).await;
        let status = child.wait().await?;
        Ok((status, String::from_utf8_lossy(&head).into_owned()))
    };
    match tokio::time::timeout(limit, run).await {
        Err(_) => Err(None),
        Ok(r) => r.map_err(Some),
    }
}

/// Why a file has no sheets: the file itself (stored as its problem), or ffmpeg that cannot
/// start (nothing is stored: every file would get the same problem until it changes).
#[derive(Debug, thiserror::Error)]
enum Failed {
    #[error("{0}")]
    File(String),
    #[error(transparent)]
    Tool(#[from] LibraryError),
}

impl From<String> for Failed {
    fn from(reason: String) -> Self {
        Failed::File(reason)
    }
}

impl From<&str> for Failed {
    fn from(reason: &str) -> Self {
        Failed::File(reason.into())
    }
}

/// Makes the sheets of one file into `out` (created empty). Returns why not, when not.
async fn make_sheets(
    ffmpeg: &str,
    input: &Path,
    file: &MediaFile,
    layout: &Layout,
    out: &Path,
) -> Result<(), Failed> {
    let mut cmd = super::markers::niced(ffmpeg);
    cmd.args(["-nostdin", "-v", "error", "-threads", "1"]);
    // Only keyframes reach the filters: the rest of the picture is never decoded.
    cmd.args(["-skip_frame", "nokey"]);
    cmd.args(confine::input_args(&file.probe.format))
        .arg("-i")
        .arg(input);
    cmd.args([
        "-map",
        &format!("0:{}", file.probe.video.index),
        "-an",
        "-sn",
        "-dn",
    ]);
    cmd.args(["-vf", &layout.filter(), "-q:v", "5", "-f", "image2"]);
    cmd.args(["-start_number", "0"]).arg(out.join("%d.jpg"));
    let (status, stderr) = run_capped(&mut cmd, time_limit(layout.duration))
        .await
        .map_err(|e| match e {
            None => Failed::from("ffmpeg took too long; the file may be damaged"),
            Some(e) => Failed::Tool(LibraryError::Tool(format!("cannot run {ffmpeg}: {e}"))),
        })?;
    let made = (0..layout.sheets())
        .take_while(|&n| out.join(sheet_name(n)).is_file())
        .count() as u32;
    if status.success() && made == layout.sheets() {
        return Ok(());
    }
    // nice(1) exits 126/127 when it cannot start the program: ffmpeg is missing, not the file
    // at fault.
    if matches!(status.code(), Some(126 | 127)) {
        let reason = format!("cannot run {ffmpeg}: {}", stderr.trim());
        return Err(Failed::Tool(LibraryError::Tool(reason)));
    }
    // The path is the user's business, not the problem list's; `[h264 @ 0x55…]` neither.
    let first = stderr.lines().next().unwrap_or("").trim();
    let first = match first.split_once("] ") {
        Some((prefix, rest)) if prefix.starts_with('[') => rest,
        _ => first,
    };
    let first = first.replace(&input.display().to_string(), "file");
    Err(Failed::File(if first.is_empty() {
        format!(
            "ffmpeg decoded too little of its picture ({made} of {} sheets)",
            layout.sheets()
        )
    } else {
        format!("ffmpeg cannot decode its picture: {first}")
    }))
}

/// The result of one file: its layout, or why it has none.
async fn thumbnail_file(
    config: &LibraryConfig,
    roots: &[PathBuf],
    data_dir: &Path,
    file: &MediaFile,
) -> Result<Layout, Failed> {
    let video = &file.probe.video;
    let layout = Layout::for_video(
        file.probe.duration,
        video.width,
        video.height,
        config.thumbnails_interval,
    )
    .ok_or("its duration or picture size is unknown")?;
    let input =
        confine::media_input(roots, &file.path, &file.probe.format).map_err(|e| e.to_string())?;
    // Made aside and renamed into place: a sheet set is whole or absent, whatever stops the job.
    let final_dir = dir_of(data_dir, file.id);
    let tmp = final_dir.with_extension("tmp");
    let io = |e: std::io::Error| Failed::File(format!("cannot write its sheets: {e}"));
    let _ = tokio::fs::remove_dir_all(&tmp).await;
    tokio::fs::create_dir_all(&tmp).await.map_err(io)?;
    let made = make_sheets(&config.ffmpeg, &input, file, &layout, &tmp).await;
    if let Err(e) = made {
        let _ = tokio::fs::remove_dir_all(&tmp).await;
        return Err(e);
    }
    let _ = tokio::fs::remove_dir_all(&final_dir).await;
    tokio::fs::rename(&tmp, &final_dir).await.map_err(io)?;
    Ok(layout)
}

/// Sheets of files no longer in the library, and half-made ones, are deleted.
async fn remove_orphans(data_dir: &Path, ids: &HashSet<i64>) {
    let Ok(mut entries) = tokio::fs::read_dir(data_dir.join("thumbnails")).await else {
        return;
    };
    while let Ok(Some(entry)) = entries.next_entry().await {
        let name = entry.file_name();
        let keep = name
            .to_str()
            .and_then(|n| n.parse::<i64>().ok())
            .is_some_and(|id| ids.contains(&id));
        if !keep {
            let _ = tokio::fs::remove_dir_all(entry.path()).await;
        }
    }
}

/// One pass over the library: every file without a result for its current size, mtime and
/// interval is done, one at a time. Returns how many were done.
pub async fn thumbnail_library(
    store: &Store,
    config: &LibraryConfig,
    roots: &[PathBuf],
    data_dir: &Path,
) -> Result<usize, LibraryError> {
    let files = store.all_files().await?;
    let stored = store.all_thumbnails().await?;
    remove_orphans(data_dir, &files.iter().map(|f| f.id).collect()).await;
    let mut done = 0;
    for file in files {
        // A stored problem stands until the file changes; an unreadable stored layout does not.
        let current = stored.get(&file.id).is_some_and(|s| {
            s.size == file.size
                && s.mtime_ns == file.mtime_ns
                && s.interval == config.thumbnails_interval
                && s.outcome
                    .as_ref()
                    .err()
                    .is_none_or(|p| p.starts_with(PROBLEM_PREFIX))
        });
        if current {
            continue;
        }
        let outcome = match thumbnail_file(config, roots, data_dir, &file).await {
            Ok(layout) => Ok(layout),
            Err(Failed::Tool(e)) => return Err(e),
            Err(Failed::File(reason)) => {
                tracing::warn!(file = %file.path.display(), %reason, "no seek thumbnails");
                Err(format!("{PROBLEM_PREFIX}: {reason}"))
            }
        };
        let result = StoredThumbnails {
            size: file.size,
            mtime_ns: file.mtime_ns,
            interval: config.thumbnails_interval,
            outcome,
        };
        store.save_thumbnails(file.id, result).await?;
        done += 1;
    }
    Ok(done)
}

/// The background job: one worker, started on the first kick; kicks while it works coalesce
/// into one more pass.
#[derive(Debug, Default)]
pub struct Thumbnailer {
    wake: Arc<Notify>,
    started: OnceLock<()>,
    /// Passes finished since the start (tests wait on it).
    passes: OnceLock<watch::Sender<u64>>,
}

impl Thumbnailer {
    fn passes(&self) -> &watch::Sender<u64> {
        self.passes.get_or_init(|| watch::channel(0).0)
    }

    /// Asks for a pass over the library, in the background.
    pub fn kick(
        &self,
        store: Store,
        config: LibraryConfig,
        roots: Vec<PathBuf>,
        data_dir: PathBuf,
    ) {
        let passes = self.passes().clone();
        let wake = self.wake.clone();
        self.started.get_or_init(|| {
            tokio::spawn(async move {
                loop {
                    wake.notified().await;
                    match thumbnail_library(&store, &config, &roots, &data_dir).await {
                        Ok(n) => tracing::info!(files = n, "seek thumbnails done"),
                        Err(e) => tracing::warn!(error = %e, "seek thumbnails failed"),
                    }
                    passes.send_modify(|n| *n += 1);
                }
            });
        });
        // A permit is stored when the worker is busy: it makes one more pass afterwards.
        self.wake.notify_one();
    }

    /// A receiver of the number of passes finished.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.passes().subscribe()
    }
}

impl Library {
    /// The stored layout of `file`'s sheets, when they were made for the file as it is now.
    async fn current_thumbnails(&self, file: &MediaFile) -> Result<Layout, LibraryError> {
        let missing =
            || LibraryError::not_found("thumbnails_not_found", "this file has no seek thumbnails");
        let stored = self
            .store()
            .thumbnails_of(file.id)
            .await?
            .ok_or_else(missing)?;
        if stored.size != file.size || stored.mtime_ns != file.mtime_ns {
            return Err(missing());
        }
        stored.outcome.map_err(|_| missing())
    }

    /// The WebVTT thumbnails track of `file`; its sheet URLs are relative to the track's own
    /// (`/api/media/{id}/thumbnails.vtt`), with `query` (the media token) appended.
    pub async fn thumbnails_vtt(
        &self,
        file: &MediaFile,
        query: Option<&str>,
    ) -> Result<String, LibraryError> {
        let layout = self.current_thumbnails(file).await?;
        let query = query.map(|q| format!("?{q}")).unwrap_or_default();
        Ok(layout.vtt(|n| format!("thumbnails/{}{query}", sheet_name(n))))
    }

    /// The path of sheet `n` of `file`.
    pub async fn thumbnail_sheet(&self, file: &MediaFile, n: u32) -> Result<PathBuf, LibraryError> {
        let layout = self.current_thumbnails(file).await?;
        if n >= layout.sheets() {
            return Err(LibraryError::not_found(
                "thumbnails_not_found",
                "no such thumbnail sheet",
            ));
        }
        Ok(dir_of(self.data_dir(), file.id).join(sheet_name(n)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn film() -> Layout {
        // 2 h 05 min of 1920x1080.
        Layout::for_video(7500.0, 1920, 1080, 10.0).unwrap()
    }

    #[test]
    fn tiles_cover_the_whole_duration_in_sheets_of_a_hundred() {
        let l = film();
        assert_eq!((l.tile_width, l.tile_height), (320, 180));
        assert_eq!((l.tiles, l.sheets()), (750, 8));
        assert_eq!(
            l.tile_at(0.0),
            Some(Tile {
                sheet: 0,
                x: 0,
                y: 0,
                w: 320,
                h: 180
            })
        );
        assert_eq!(l.tile_at(9.99), l.tile(0));
        assert_eq!(
            l.tile_at(10.0),
            Some(Tile {
                sheet: 0,
                x: 320,
                y: 0,
                w: 320,
                h: 180
            })
        );
        // Tile 123: sheet 1, row 2, column 3.
        assert_eq!(
            l.tile_at(1235.0),
            Some(Tile {
                sheet: 1,
                x: 960,
                y: 360,
                w: 320,
                h: 180
            })
        );
        assert_eq!(l.tile_at(7500.0), l.tile(749));
        assert_eq!(l.tile(749).unwrap().sheet, 7);
        assert_eq!(l.tile_at(7500.1), None);
        assert_eq!(l.tile_at(-1.0), None);
        assert_eq!(l.tile(750), None);
    }

    #[test]
    fn odd_shapes_and_lengths_stay_bounded() {
        // Portrait: scaled to fit the height bound; sizes even.
        let p = Layout::for_video(60.0, 1080, 1920, 10.0).unwrap();
        assert_eq!((p.tile_width, p.tile_height), (180, 320));
        // Anamorphic-ish odd sizes round to even.
        let o = Layout::for_video(5.0, 720, 405, 10.0).unwrap();
        assert_eq!((o.tile_width, o.tile_height, o.tiles), (320, 180, 1));
        // A day-long recording gets a longer interval, not more tiles.
        let day = Layout::for_video(86_400.0, 1280, 720, 10.0).unwrap();
        assert_eq!((day.tiles, day.interval), (MAX_TILES, 24.0));
        assert_eq!(Layout::for_video(0.0, 1280, 720, 10.0), None);
        assert_eq!(Layout::for_video(f64::NAN, 1280, 720, 10.0), None);
        assert_eq!(Layout::for_video(60.0, 0, 0, 10.0), None);
    }

    #[test]
    fn the_webvtt_index_has_one_cue_per_tile_ending_at_the_duration() {
        let l = Layout::for_video(25.0, 640, 360, 10.0).unwrap();
        let vtt = l.vtt(|n| format!("thumbnails/{n}.jpg?st=1.x"));
        assert_eq!(
            vtt,
            "WEBVTT\n\
             \n00:00:00.000 --> 00:00:10.000\nthumbnails/0.jpg?st=1.x#xywh=0,0,320,180\n\
             \n00:00:10.000 --> 00:00:20.000\nthumbnails/0.jpg?st=1.x#xywh=320,0,320,180\n\
             \n00:00:20.000 --> 00:00:25.000\nthumbnails/0.jpg?st=1.x#xywh=640,0,320,180\n"
        );
        assert_eq!(timestamp(3723.4567), "01:02:03.457");
    }

    #[test]
    fn the_filter_keeps_exactly_one_frame_per_tile() {
        let f = film().filter();
        assert_eq!(
            f,
            "tpad=stop_mode=clone:stop_duration=30,fps=fps=1000/10000:round=down,\
             trim=end_frame=750,scale=320:180,setsar=1,tile=10x10"
        );
    }
}
