//! HLS packaging of library files on demand, decided by the playback engine.
//!
//! For each file and client profile, `playback::plan` decides what every rendition needs (the
//! video, and each audio track): copied as it is (direct stream) or re-encoded, and in MPEG-TS
//! or CMAF/fMP4 segments; `playback::ffmpeg::args` builds the command. What stays here is what
//! the engine leaves to its caller: the probe cache, the segment boundaries the playlists
//! announce, the jobs (one ffmpeg per rendition from a start segment), the segment cache,
//! seeking, idle reaping and the `max_ffmpeg` bound.
//!
//! The playlists are computed before any ffmpeg runs, so the player sees the whole duration at
//! once and can seek anywhere. Segment boundaries, on the file's timeline (seconds from its
//! start):
//! - a copied video: real keyframes, chosen the way ffmpeg's HLS muxer cuts (the first
//!   keyframe at or after `n × segment_seconds`, one cut per keyframe at most), so a job that
//!   starts at 0 writes exactly the announced segments;
//! - a transcoded video, and every audio rendition: two short segments (fast start), then every
//!   `segment_seconds`; a transcode forces its keyframes exactly there.
//!
//! A request far from what the running job is producing restarts it there (a seek); a job
//! nobody asked anything for `idle_timeout` seconds is killed; a semaphore bounds the ffmpeg
//! processes; finished segments are kept in `data_dir/hls-cache/<file>/<profile>/<rendition>/`
//! under an LRU size limit.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio::process::Command;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use super::naming::{hls_language, hls_name};
use super::{LibraryConfig, LibraryError, assets, confine, probe, scan};
use crate::models::SubtitleFormat;
use crate::playback::ffmpeg::{self, Input, RAMP, SHORT_SEGMENTS, SegmentWindow};
use crate::playback::media::Video;
use crate::playback::plan::{AudioAction, Mode, SegmentFormat, VideoAction, VideoFilter};
use crate::playback::{self, ClientProfile, Media, Plan, Request};
use crate::store::Store;
use crate::store::media::MediaFile;

/// A request for a segment this many segments beyond what the job has produced waits for the
/// job rather than restarting it: hls.js asks sequentially, a seek jumps much further.
const AHEAD: i64 = 3;
/// `-ss` is printed with 3 decimals: a copy job starts this far before its keyframe, so that
/// the keyframe is the first packet kept (`-copypriorss 0` drops what precedes the start).
const EPS: f64 = 0.001;
/// The time after a job's first packet at which ffmpeg 5.1's HLS muxer (`-hls_list_size 1`,
/// `-hls_init_time short` when `short < segment`) makes its n-th cut (n ≥ 1), at the next
/// keyframe: `short` and `2 × short`, then `short + (n − 2) × segment` once its one-entry list
/// has filled (hlsenc.c's `init_list_dur + after_init_list_dur`). Measured on a film with a
/// keyframe every second, `-hls_init_time 2 -hls_time 6`: cuts at 2, 4, 8, 14, 20 s.
fn muxer_cut(n: usize, short: f64, segment: f64) -> f64 {
    if short >= segment {
        return n as f64 * segment;
    }
    match n {
        0 => 0.0,
        1 => short,
        2 => 2.0 * short,
        n => short + (n - 2) as f64 * segment,
    }
}

/// The short segments after the start (see `ffmpeg::SHORT_SEGMENTS`), when `segment_seconds`
/// is longer: the first frame needs only 2 s encoded.
const SHORT_SECONDS: f64 = 2.0;
/// The same for a copied video, cut at its first keyframe at or after it: just under 2 s,
/// because a "2 s" GOP often puts its keyframes a frame short of 2 s (x264 `-g 48` at 24 fps
/// on grainy film: every 47 frames, 1.958 s), which at 2.0 made the first segment 3.9 s long,
/// twice the bytes to read, write and send before the first frame (`docs/benchmarks.md`,
/// 2026-12-05). A film with a keyframe every second is still cut at 2, 4 and 8 s, where its
/// audio renditions are.
const COPY_SHORT_SECONDS: f64 = 1.9;
/// A transcode is at most 1080 lines high: 2 cores cannot encode 4K in real time. A client
/// that decodes the codec gets the 4K picture copied.
const MAX_TRANSCODE_HEIGHT: u32 = 1080;
/// Plans kept in memory. The profile and burn come from the client, so the map is bounded; the
/// least recently used goes (a plan is recomputed from the cached probe in microseconds).
const MAX_PLANS: u64 = 512;
/// Names the way segments are cut, in the cache folders: segments cut another way (before
/// copied videos started with short segments, `s2`) are never served under today's playlists,
/// and the least recently used eviction removes them.
const SEGMENT_LAYOUT: &str = "s2";
/// Idle time after which a job may be stopped to free a slot for another viewer.
const STEAL_AFTER_MS: u64 = 2_000;

/// A rendition, as the master playlist names it: `v` (the video) or `aN` (audio track N).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Variant {
    Video,
    Audio(usize),
}

impl Variant {
    pub fn parse(s: &str) -> Option<Variant> {
        match s {
            "v" => Some(Variant::Video),
            _ => {
                let n = s.strip_prefix('a')?;
                if n.is_empty() || n.len() > 3 || !n.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                n.parse().ok().map(Variant::Audio)
            }
        }
    }

    pub fn name(&self) -> String {
        match self {
            Variant::Video => "v".into(),
            Variant::Audio(n) => format!("a{n}"),
        }
    }
}

/// A file inside a rendition's folder, as named by its media playlist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// `init.mp4`: the fMP4 initialization segment (`EXT-X-MAP`).
    Init,
    /// `<n>.ts` or `<n>.m4s`.
    Segment(usize, SegmentFormat),
}

impl Part {
    pub fn parse(name: &str) -> Option<Part> {
        if name == "init.mp4" {
            return Some(Part::Init);
        }
        let (n, format) = match name.strip_suffix(".ts") {
            Some(n) => (n, SegmentFormat::Ts),
            None => (name.strip_suffix(".m4s")?, SegmentFormat::Fmp4),
        };
        if n.is_empty() || n.len() >= 8 || !n.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(Part::Segment(n.parse().ok()?, format))
    }

    pub fn content_type(&self) -> &'static str {
        match self {
            Part::Segment(_, SegmentFormat::Ts) => "video/mp2t",
            _ => "video/mp4",
        }
    }
}

fn extension(format: SegmentFormat) -> &'static str {
    match format {
        SegmentFormat::Ts => "ts",
        SegmentFormat::Fmp4 => "m4s",
    }
}

/// Segment boundaries on the file's timeline (seconds from its start).
#[derive(Debug, Clone, PartialEq)]
pub struct Timeline {
    pub starts: Vec<f64>,
    pub end: f64,
    /// The first `SHORT_SEGMENTS` segments' length (the fast start).
    short: f64,
    segment: f64,
    /// Boundaries are the source's keyframes (a copied video).
    keyframed: bool,
    /// A transcoded video's growing first segments (`ffmpeg::RAMP`).
    ramp: bool,
}

impl Timeline {
    /// `SHORT_SEGMENTS` segments of `short`, then every `segment`, up to `end`.
    pub fn grid(end: f64, short: f64, segment: f64) -> Timeline {
        Timeline::from_window(
            end,
            SegmentWindow {
                start_segment: 0,
                start: 0.0,
                short_seconds: short.min(segment),
                segment_seconds: segment,
                ramp: false,
            },
        )
    }

    /// A transcoded video: segments growing as `ffmpeg::RAMP` says, then every `segment`.
    pub fn ramp(end: f64, segment: f64) -> Timeline {
        Timeline::from_window(
            end,
            SegmentWindow {
                start_segment: 0,
                start: 0.0,
                short_seconds: segment,
                segment_seconds: segment,
                ramp: true,
            },
        )
    }

    fn from_window(end: f64, window: SegmentWindow) -> Timeline {
        let mut starts = vec![0.0];
        for k in 1.. {
            let t = window.boundary(k);
            if t >= end - 0.5 {
                break;
            }
            starts.push(t);
        }
        Timeline {
            starts,
            end,
            short: window.short_seconds,
            segment: window.segment_seconds,
            keyframed: false,
            ramp: window.ramp,
        }
    }

    /// Where ffmpeg's HLS muxer cuts a copied stream started at 0: at the first keyframe at or
    /// after the n-th cut's time (`muxer_cut`), at most one cut per keyframe. `keyframes` are
    /// on the file's timeline. With `short` under `segment` the first segments are short where
    /// the keyframes allow it (a film with a keyframe every 2 s starts with a 2 s segment
    /// instead of a 6 s one).
    pub fn keyframes(end: f64, keyframes: &[f64], short: f64, segment: f64) -> Timeline {
        let short = short.min(segment);
        let mut starts = vec![0.0];
        for &k in keyframes {
            let cut = muxer_cut(starts.len(), short, segment);
            if k > starts[starts.len() - 1] && k >= cut - EPS && k < end - 0.5 {
                starts.push(k);
            }
        }
        Timeline {
            starts,
            end,
            short,
            segment,
            keyframed: true,
            ramp: false,
        }
    }

    /// Segments only a job started at 0 writes as announced: the short ones, and for a copy
    /// the one after them, whose end the muxer places from the short ones (`muxer_cut`).
    fn fast_start(&self) -> usize {
        if self.ramp {
            return RAMP.len();
        }
        match (self.keyframed, self.short < self.segment) {
            (true, true) => SHORT_SEGMENTS as usize + 1,
            (true, false) => 1,
            (false, _) => SHORT_SEGMENTS as usize,
        }
    }

    pub fn len(&self) -> usize {
        self.starts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    pub fn duration_of(&self, i: usize) -> f64 {
        let next = self.starts.get(i + 1).copied().unwrap_or(self.end);
        (next - self.starts[i]).max(0.0)
    }

    /// Where a job serving segment `index` starts: at `index`, except inside the fast start,
    /// whose short segments only a job started at 0 writes.
    pub fn window(&self, index: usize) -> SegmentWindow {
        let start = if index < self.fast_start() { 0 } else { index };
        let eps = if self.keyframed && start > 0 {
            EPS
        } else {
            0.0
        };
        SegmentWindow {
            start_segment: start as u64,
            start: self.starts[start] - eps,
            short_seconds: if start == 0 { self.short } else { self.segment },
            segment_seconds: self.segment,
            ramp: self.ramp && start == 0,
        }
    }

    /// The VOD media playlist, complete from the first request; `query` (`?profile=…`) is
    /// appended to every URI.
    pub fn media_playlist(&self, format: SegmentFormat, query: &str) -> String {
        let target = (0..self.len())
            .map(|i| self.duration_of(i))
            .fold(0.0f64, f64::max)
            .ceil()
            .max(1.0) as u64;
        // fMP4 segments need version 6 for EXT-X-MAP in a playlist without I-frames only.
        let version = match format {
            SegmentFormat::Ts => 3,
            SegmentFormat::Fmp4 => 7,
        };
        let mut out = format!(
            "#EXTM3U\n#EXT-X-VERSION:{version}\n#EXT-X-TARGETDURATION:{target}\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n"
        );
        if format == SegmentFormat::Fmp4 {
            out.push_str(&format!("#EXT-X-MAP:URI=\"init.mp4{query}\"\n"));
        }
        let ext = extension(format);
        for i in 0..self.len() {
            out.push_str(&format!(
                "#EXTINF:{:.6},\n{i}.{ext}{query}\n",
                self.duration_of(i)
            ));
        }
        out.push_str("#EXT-X-ENDLIST\n");
        out
    }
}

/// One rendition as the engine planned it: the video, or one audio track, alone.
#[derive(Debug, Clone)]
struct Rendition {
    plan: Plan,
    timeline: Arc<Timeline>,
}

/// A file packaged for one client profile.
#[derive(Debug)]
pub struct Packaging {
    /// For the whole file (the video and the default audio track): what the master playlist
    /// announces in `EXT-X-SESSION-DATA` (`com.sokoul.playback.mode`).
    pub mode: Mode,
    /// The engine's reasons, for logs.
    pub summary: String,
    /// One format for every rendition: hls.js aligns alternate audio on the video's clock,
    /// and MPEG-TS timestamps are offset from fMP4 ones by the TS muxer's delay.
    pub format: SegmentFormat,
    video: Option<Rendition>,
    /// Indexed by the library's audio track number (`aN`).
    audio: Vec<Rendition>,
    codecs: String,
    resolution: Option<(u32, u32)>,
}

impl Packaging {
    fn rendition(&self, variant: Variant) -> Result<&Rendition, LibraryError> {
        match variant {
            Variant::Video => self.video.as_ref(),
            Variant::Audio(n) => self.audio.get(n),
        }
        .ok_or_else(|| {
            LibraryError::not_found(
                "track_not_found",
                format!("{} does not exist", variant.name()),
            )
        })
    }

    pub fn mode_name(&self) -> &'static str {
        match self.mode {
            Mode::DirectPlay => "direct_play",
            Mode::DirectStream => "direct_stream",
            Mode::Transcode => "transcode",
        }
    }
}

/// The engine's plan with only the video (`keep_audio` false) or only the audio.
fn alone(plan: &Plan, keep_audio: bool) -> Plan {
    let mut p = plan.clone();
    if keep_audio {
        p.video = None;
    } else {
        p.audio = None;
    }
    p.subtitles.clear();
    let copied = p
        .video
        .as_ref()
        .is_none_or(|v| v.action == VideoAction::Copy)
        && p.audio
            .as_ref()
            .is_none_or(|a| a.action == AudioAction::Copy);
    p.mode = if copied {
        Mode::DirectStream
    } else {
        Mode::Transcode
    };
    p
}

/// Caps a transcode's height at `MAX_TRANSCODE_HEIGHT` when nothing smaller was asked for.
fn cap_transcode_height(plan: &mut Plan, media: &Media) {
    let Some(decision) = plan.video.as_mut() else {
        return;
    };
    let Some((_, v)) = media.video() else { return };
    if let VideoAction::TranscodeH264 { filters, .. } = &mut decision.action {
        let scaled = filters
            .iter()
            .any(|f| matches!(f, VideoFilter::ScaleToHeight(_)));
        if !scaled && v.display_size().1 > MAX_TRANSCODE_HEIGHT {
            filters.push(VideoFilter::ScaleToHeight(MAX_TRANSCODE_HEIGHT));
        }
    }
}

/// The picture's size as sent: turned by `Rotate`, scaled by `ScaleToHeight`.
fn output_size(v: &Video, action: &VideoAction) -> (u32, u32) {
    let VideoAction::TranscodeH264 { filters, .. } = action else {
        return (v.width, v.height);
    };
    let (mut w, mut h) = (v.width, v.height);
    for f in filters {
        match f {
            VideoFilter::Rotate(90 | 270) => (w, h) = (h, w),
            VideoFilter::ScaleToHeight(target) if h > 0 => {
                // As ffmpeg's `scale=-2:<h>` rounds: to the nearest even width (1080p at 480
                // lines is 854 wide, not 852), so `RESOLUTION` says what the segments hold.
                let (w64, h64) = (u64::from(w), u64::from(h));
                w = ((w64 * u64::from(*target) + h64) / (2 * h64) * 2) as u32;
                h = *target;
            }
            _ => {}
        }
    }
    (w, h)
}

/// RFC 6381 codec strings for the master playlist's `CODECS` (hls.js checks them with
/// `MediaSource.isTypeSupported` before loading; the init segment then tells the exact one).
fn video_codec(file: &MediaFile, media: &Media, plan: &Plan) -> Option<String> {
    let d = plan.video.as_ref()?;
    if !matches!(d.action, VideoAction::Copy) {
        return Some("avc1.640028".into());
    }
    let (s, v) = media.video()?;
    let ten = v.bit_depth > 8;
    Some(match s.codec.as_str() {
        "hevc" if ten => "hvc1.2.4.L120.90".into(),
        "hevc" => "hvc1.1.6.L120.90".into(),
        "av1" => format!("av01.0.08M.{:02}", v.bit_depth.max(8)),
        "vp9" if ten => "vp09.02.40.10".into(),
        "vp9" => "vp09.00.40.08".into(),
        _ => file.probe.video.rfc6381(),
    })
}

fn audio_codec(media: &Media, plan: &Plan) -> Option<&'static str> {
    let d = plan.audio.as_ref()?;
    if !matches!(d.action, AudioAction::Copy) {
        return Some("mp4a.40.2");
    }
    Some(match media.stream(d.stream)?.codec.as_str() {
        "mp3" => "mp4a.40.34",
        "opus" => "opus",
        "flac" => "fLaC",
        "ac3" => "ac-3",
        "eac3" => "ec-3",
        _ => "mp4a.40.2",
    })
}

/// What a rendition's segments hold once packaged: H.264 and AAC go into MPEG-TS as before
/// the engine; anything else needs fMP4.
fn ts_compatible(media: &Media, plan: &Plan) -> bool {
    let video = plan.video.as_ref().is_none_or(|d| match d.action {
        VideoAction::TranscodeH264 { .. } => true,
        VideoAction::Copy => media.stream(d.stream).is_some_and(|s| s.codec == "h264"),
    });
    let audio = plan.audio.as_ref().is_none_or(|d| match d.action {
        AudioAction::TranscodeAac { .. } => true,
        AudioAction::Copy => media.stream(d.stream).is_some_and(|s| s.codec == "aac"),
    });
    video && audio
}

/// The video's timeline and the audio renditions' grid. A copied video is cut at its
/// `keyframes`; one whose keyframes are not listed (a remote file) cannot promise where the
/// muxer cuts a short segment: no fast start, for its audio either, which follows its grid.
fn timelines(
    end: f64,
    copied: bool,
    keyframes: Option<&[f64]>,
    segment: f64,
) -> (Arc<Timeline>, Arc<Timeline>) {
    let short = if copied && keyframes.is_none() {
        segment
    } else {
        SHORT_SECONDS
    };
    let grid = Arc::new(Timeline::grid(end, short, segment));
    // Segments of 2 s or less have no short ones to start with.
    let copy_short = if SHORT_SECONDS < segment {
        COPY_SHORT_SECONDS
    } else {
        segment
    };
    let video = match keyframes {
        Some(k) if copied => Arc::new(Timeline::keyframes(end, k, copy_short, segment)),
        _ if copied => grid.clone(),
        _ => Arc::new(Timeline::ramp(end, segment)),
    };
    (video, grid)
}

/// Plans every rendition of `file` for `profile`, with `burn` drawn on the picture. `keyframes` (on the file's timeline) are
/// needed only when the video is copied; `None` then falls back to a grid, which the muxer
/// follows to the nearest keyframe.
fn package(
    file: &MediaFile,
    media: Arc<Media>,
    profile: &ClientProfile,
    burn: Option<&BurnIn>,
    keyframes: Option<&[f64]>,
    segment: f64,
) -> Result<Packaging, LibraryError> {
    let plan_for = |audio: Option<u32>| {
        let req = Request {
            audio,
            burn_subtitle: burn.map(|b| b.stream),
            hls: true,
            ..Request::default()
        };
        playback::plan(&media, profile, &req)
            .map(|mut p| {
                cap_transcode_height(&mut p, &media);
                p
            })
            .map_err(|e| LibraryError::Probe(e.to_string()))
    };
    let whole = plan_for(None)?;
    let mut audio_plans = Vec::with_capacity(file.probe.audio.len());
    for track in &file.probe.audio {
        audio_plans.push(alone(&plan_for(Some(track.index))?, true));
    }
    let video_plan = whole.video.is_some().then(|| alone(&whole, false));
    let end = media.duration.unwrap_or(file.probe.duration);
    let video_copied = video_plan
        .as_ref()
        .and_then(|p| p.video.as_ref())
        .is_some_and(|v| v.action == VideoAction::Copy);
    let (video_timeline, grid) = timelines(end, video_copied, keyframes, segment);
    let all_ts = video_plan
        .iter()
        .chain(&audio_plans)
        .all(|p| ts_compatible(&media, p));
    let format = if all_ts {
        SegmentFormat::Ts
    } else {
        SegmentFormat::Fmp4
    };
    let codecs = [
        video_codec(file, &media, &whole),
        audio_codec(&media, &whole).map(String::from),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(",");
    let resolution = whole
        .video
        .as_ref()
        .zip(media.video())
        .map(|(d, (_, v))| output_size(v, &d.action));
    let with_format = |mut plan: Plan, timeline: Arc<Timeline>| {
        plan.segments = Some(format);
        Rendition { plan, timeline }
    };
    Ok(Packaging {
        mode: whole.mode,
        summary: whole.summary(),
        format,
        video: video_plan.map(|p| with_format(p, video_timeline)),
        audio: audio_plans
            .into_iter()
            .map(|p| with_format(p, grid.clone()))
            .collect(),
        codecs,
        resolution,
    })
}

/// The master playlist: one video variant, every audio track as a selectable rendition;
/// `query` (`?profile=…`) is appended to every URI.
fn master_playlist(file: &MediaFile, pkg: &Packaging, query: &str) -> String {
    let p = &file.probe;
    let bandwidth = p.bit_rate.unwrap_or(4_000_000).clamp(200_000, 60_000_000) * 11 / 10;
    let mut out = String::from("#EXTM3U\n#EXT-X-VERSION:4\n#EXT-X-INDEPENDENT-SEGMENTS\n");
    out.push_str(&format!(
        "#EXT-X-SESSION-DATA:DATA-ID=\"com.sokoul.playback.mode\",VALUE=\"{}\"\n",
        pkg.mode_name()
    ));
    let default = p.audio.iter().position(|a| a.default).unwrap_or(0);
    let mut names: Vec<String> = Vec::new();
    for (n, a) in p.audio.iter().enumerate() {
        // Both come from the file's own tags: whoever made the file chose them.
        let lang = hls_language(&a.lang);
        let mut name = hls_name(&a.label(), n);
        let base = name.clone();
        let mut k = 2;
        while names.contains(&name) {
            name = format!("{base} {k}");
            k += 1;
        }
        names.push(name.clone());
        let default = if n == default { "YES" } else { "NO" };
        let channels = pkg
            .audio
            .get(n)
            .map_or(2, |r| channels_out(&r.plan, a.channels));
        out.push_str(&format!(
            "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",LANGUAGE=\"{lang}\",NAME=\"{name}\",DEFAULT={default},AUTOSELECT=YES,CHANNELS=\"{channels}\",URI=\"a{n}/index.m3u8{query}\"\n",
        ));
    }
    let resolution = pkg
        .resolution
        .map(|(w, h)| format!(",RESOLUTION={w}x{h}"))
        .unwrap_or_default();
    let audio = if p.audio.is_empty() {
        ""
    } else {
        ",AUDIO=\"audio\""
    };
    out.push_str(&format!(
        "#EXT-X-STREAM-INF:BANDWIDTH={bandwidth},CODECS=\"{}\"{resolution}{audio}\nv/index.m3u8{query}\n",
        pkg.codecs
    ));
    out
}

fn channels_out(plan: &Plan, source: u32) -> u32 {
    match plan.audio.as_ref().map(|a| a.action) {
        Some(AudioAction::TranscodeAac { channels }) => channels,
        _ => source.max(1),
    }
}

/// Where a packaging job is, one state at a time.
#[derive(Debug, Clone, PartialEq)]
enum JobState {
    /// ffmpeg runs; `done` is the highest segment promoted into the cache (start - 1 before
    /// the first).
    Running { done: i64 },
    /// ffmpeg ended: it finished the file, or it was stopped.
    Ended { done: i64 },
    /// ffmpeg failed: the last line it printed.
    Failed { done: i64, error: String },
}

#[derive(Debug)]
struct JobStatus {
    state: JobState,
    /// Milliseconds since the packager's epoch.
    last_request: u64,
}

#[derive(Debug)]
struct Job {
    start: i64,
    /// False for a rendition packaged by another job's ffmpeg (`Packager::start_together`):
    /// stopping it frees no ffmpeg slot.
    owns_process: bool,
    status: Mutex<JobStatus>,
    cancel: Notify,
    changed: Notify,
}

impl Job {
    /// A job just started at segment `start`, none of it done yet.
    fn started(start: i64, owns_process: bool, now: u64) -> Job {
        Job {
            start,
            owns_process,
            status: Mutex::new(JobStatus {
                state: JobState::Running { done: start - 1 },
                last_request: now,
            }),
            cancel: Notify::new(),
            changed: Notify::new(),
        }
    }

    fn state(&self) -> JobState {
        self.status.lock().expect("job lock").state.clone()
    }

    fn touch(&self, now: u64) {
        self.status.lock().expect("job lock").last_request = now;
    }

    fn idle_ms(&self, now: u64) -> u64 {
        now.saturating_sub(self.status.lock().expect("job lock").last_request)
    }

    fn running(&self) -> bool {
        matches!(self.state(), JobState::Running { .. })
    }
}

/// What a request for segment `i` does, given the job of its rendition.
#[derive(Debug, PartialEq)]
enum Step {
    /// The job will write it soon.
    Wait,
    /// Start a job at the segment (none, or the job is elsewhere, or it was evicted).
    Start,
    Fail(String),
    /// ffmpeg finished the file without it: the probe's duration was longer than the content.
    NoContent,
}

fn step(job: Option<(i64, &JobState)>, i: i64) -> Step {
    match job {
        Some((start, JobState::Running { done })) if start <= i && i <= done + 1 + AHEAD => {
            Step::Wait
        }
        Some((start, JobState::Ended { done } | JobState::Failed { done, .. }))
            if start <= i && *done >= i =>
        {
            // Produced, then evicted before we looked: package it again.
            Step::Start
        }
        Some((start, JobState::Failed { error, .. })) if start <= i => Step::Fail(error.clone()),
        Some((start, JobState::Ended { .. })) if start <= i => Step::NoContent,
        _ => Step::Start,
    }
}

/// Whether a new job takes the place of a running one for the same rendition (a seek) or
/// leaves it be (an early start, see `Packager::prestart`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Replace {
    Yes,
    No,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct JobKey {
    /// `<id>-<fingerprint>`: remote files all have id `REMOTE_ID`.
    file: String,
    /// `choice_key`: the profile, and the subtitle burned in.
    profile: String,
    variant: Variant,
}

/// A bounded map whose least recently used entry goes first (moka's default, TinyLFU, may
/// refuse a new key that was seen once: a source just resolved must always be kept).
fn lru_cache<K, V>(capacity: u64) -> moka::sync::Cache<K, V>
where
    K: std::hash::Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    moka::sync::Cache::builder()
        .max_capacity(capacity)
        .eviction_policy(moka::policy::EvictionPolicy::lru())
        .build()
}

/// The id of every remote file (library ids start at 1): its fingerprint tells them apart.
pub const REMOTE_ID: i64 = 0;
/// Remote files kept probed at once (a probe reads a few MiB through the proxy, and the keys
/// come from clients); past it the least recently played goes, so the 65th source never
/// ends the 64 others' sessions.
const MAX_REMOTES: u64 = 64;
/// Remote files' extracted subtitles kept in memory: a film's track is 50–200 KB of WebVTT,
/// so this holds a few hundred, and each is at most `max_subtitle_bytes`.
const REMOTE_SUBTITLE_CACHE_BYTES: u64 = 32 << 20;
/// Extracting a remote file's subtitle reads all of it through the proxy (Matroska interleaves
/// subtitles with the picture): 10 GB at 100 MB/s is under two minutes.
const REMOTE_SUBTITLE_TIMEOUT: Duration = Duration::from_secs(300);

/// Serves HLS for library files and remote files read through the loopback proxy. One per
/// process, shared by every request (clones share it).
#[derive(Clone)]
pub struct Packager {
    inner: Arc<Inner>,
}

// Holds clients, caches or trait objects whose state says nothing useful in a log.
impl std::fmt::Debug for Packager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Packager").finish_non_exhaustive()
    }
}

struct Inner {
    config: LibraryConfig,
    /// The library folders (canonical): a file is packaged only from inside them.
    roots: Vec<PathBuf>,
    cache_dir: PathBuf,
    store: Store,
    slots: Arc<Semaphore>,
    jobs: Mutex<HashMap<JobKey, Arc<Job>>>,
    /// Per file fingerprint (path, size, mtime): a changed file is probed again.
    probes: Mutex<HashMap<(i64, String), Arc<Probed>>>,
    /// Per file fingerprint and profile cache key; the least recently used goes first.
    plans: moka::sync::Cache<(i64, String, String), Arc<Packaging>>,
    lru: Mutex<Lru>,
    /// Remote files by their stand-in path (`remote/<key>`): the proxy URL ffmpeg reads and
    /// what ffprobe said through it.
    remotes: moka::sync::Cache<PathBuf, (url::Url, Arc<Probed>)>,
    /// One lock per remote file being probed: the watch page's early start (`warm`) and the
    /// player's master playlist arrive together, and a second ffprobe would read the same
    /// megabytes through the proxy again.
    probing: moka::sync::Cache<PathBuf, Arc<tokio::sync::Mutex<()>>>,
    /// Remote files' subtitles by fingerprint, stream and format, weighed in bytes: extracting
    /// one reads the whole file through the proxy, so a reload must not read it again.
    subtitles: moka::sync::Cache<(String, u32, &'static str), Arc<str>>,
    epoch: Instant,
}

/// What ffprobe said about a file, kept while it does not change.
struct Probed {
    media: Arc<Media>,
    /// The scan's view (a remote file has no row: its stand-in is rebuilt from this).
    info: probe::ProbeInfo,
    /// On the file's timeline; listed the first time a plan copies the video.
    keyframes: tokio::sync::OnceCell<Option<Vec<f64>>>,
}

#[derive(Default)]
struct Lru {
    entries: HashMap<PathBuf, (u64, u64)>,
    total: u64,
    clock: u64,
}

impl Lru {
    fn touch(&mut self, path: &Path) {
        self.clock += 1;
        if let Some(e) = self.entries.get_mut(path) {
            e.1 = self.clock;
        }
    }

    fn insert(&mut self, path: PathBuf, size: u64) {
        self.clock += 1;
        if let Some((old, _)) = self.entries.insert(path, (size, self.clock)) {
            self.total -= old;
        }
        self.total += size;
    }

    /// Drops the least recently used segments until the cache fits in `max`.
    fn evict(&mut self, max: u64) -> Vec<PathBuf> {
        let mut out = Vec::new();
        if self.total <= max {
            return out;
        }
        let mut by_age: Vec<(u64, PathBuf, u64)> = self
            .entries
            .iter()
            .map(|(p, (size, at))| (*at, p.clone(), *size))
            .collect();
        by_age.sort_by_key(|(at, ..)| *at);
        for (_, path, size) in by_age {
            if self.total <= max {
                break;
            }
            self.entries.remove(&path);
            self.total -= size;
            out.push(path);
        }
        out
    }
}

/// Segments from a previous run are still valid (their folder names carry the file's
/// fingerprint and the profile); half-written job folders are not. `depth` folders down
/// (file / profile / rendition) are the segments.
fn load_cache(lru: &mut Lru, dir: &Path, depth: usize) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with(".job-") {
            let _ = std::fs::remove_dir_all(&path);
        } else if depth > 0 {
            load_cache(lru, &path, depth - 1);
        } else if let Some(m) = entry.metadata().ok().filter(|m| m.is_file()) {
            lru.insert(path, m.len());
        }
    }
}

impl Packager {
    pub fn new(
        config: LibraryConfig,
        roots: Vec<PathBuf>,
        cache_dir: PathBuf,
        store: Store,
    ) -> Packager {
        let mut lru = Lru::default();
        load_cache(&mut lru, &cache_dir, 3);
        let inner = Arc::new(Inner {
            slots: Arc::new(Semaphore::new(config.max_ffmpeg)),
            config,
            roots,
            cache_dir,
            store,
            jobs: Mutex::new(HashMap::new()),
            probes: Mutex::new(HashMap::new()),
            plans: lru_cache(MAX_PLANS),
            lru: Mutex::new(lru),
            remotes: lru_cache(MAX_REMOTES),
            probing: lru_cache(MAX_REMOTES),
            subtitles: moka::sync::Cache::builder()
                .max_capacity(REMOTE_SUBTITLE_CACHE_BYTES)
                .weigher(|_, text: &Arc<str>| u32::try_from(text.len()).unwrap_or(u32::MAX))
                .build(),
            epoch: Instant::now(),
        });
        if tokio::runtime::Handle::try_current().is_ok() {
            tokio::spawn(reap_idle(Arc::downgrade(&inner)));
        }
        Packager { inner }
    }

    /// The file as ffprobe sees it now, probed once per fingerprint.
    async fn probed(&self, file: &MediaFile) -> Result<Arc<Probed>, LibraryError> {
        let key = (file.id, file.fingerprint());
        if file.id == REMOTE_ID {
            let remote = self
                .inner
                .remotes
                .get(&file.path)
                .ok_or_else(remote_expired)?;
            return Ok(remote.1);
        }
        if let Some(p) = self.inner.probes.lock().expect("probes lock").get(&key) {
            return Ok(p.clone());
        }
        let mut media = self.media_of(file).await?;
        if media.is_mp4() {
            media.faststart = Some(file.probe.faststart);
        }
        let probed = Arc::new(Probed {
            media: Arc::new(media),
            keyframes: tokio::sync::OnceCell::new(),
            info: file.probe.clone(),
        });
        let mut probes = self.inner.probes.lock().expect("probes lock");
        // A file's old fingerprints are of no use once it changed.
        probes.retain(|(id, _), _| *id != file.id);
        probes.insert(key, probed.clone());
        Ok(probed)
    }

    /// The engine's view of `file`: from the scan's ffprobe JSON while the file is as the scan
    /// saw it (a `stat`), else from ffprobe now, whose JSON is then kept for the next time.
    async fn media_of(&self, file: &MediaFile) -> Result<Media, LibraryError> {
        let unchanged = tokio::fs::metadata(&file.path)
            .await
            .ok()
            .map(|m| scan::seen_of(&m))
            .is_some_and(|seen| seen.size == file.size && seen.mtime_ns == file.mtime_ns);
        let store = &self.inner.store;
        if unchanged
            && let Ok(Some(json)) = store.probe_json(file.id, file.size, file.mtime_ns).await
        {
            match Media::from_ffprobe_json(&json) {
                Ok(media) => return Ok(media),
                Err(e) => tracing::warn!(
                    file = file.id,
                    "stored probe unreadable, probing again: {e}"
                ),
            }
        }
        let input = confine::media_input(&self.inner.roots, &file.path, &file.probe.format)?;
        let timeout = Duration::from_secs_f64(self.inner.config.probe_timeout);
        let (media, json) = probe::media(
            &self.inner.config.ffprobe,
            &input,
            &file.probe.format,
            timeout,
        )
        .await?;
        if unchanged
            && let Err(e) = store
                .put_probe_json(file.id, file.size, file.mtime_ns, json)
                .await
        {
            tracing::warn!(file = file.id, "cannot keep the probe: {e}");
        }
        Ok(media)
    }

    /// Keyframes of the video on the file's timeline: from the scan, else listed now
    /// (bounded like the scan's listing); `None` when they cannot be read.
    async fn keyframes(&self, file: &MediaFile, probed: &Probed) -> Option<Vec<f64>> {
        if file.id == REMOTE_ID {
            // Listing a remote file's keyframes reads all of it: the grid is used instead,
            // and the HLS muxer cuts at the first keyframe after each boundary.
            return None;
        }
        let list = async {
            if let Ok(Some(k)) = self.inner.store.keyframes(file.id).await {
                return Some(k);
            }
            let input =
                confine::media_input(&self.inner.roots, &file.path, &file.probe.format).ok()?;
            let timeout = Duration::from_secs_f64(self.inner.config.probe_timeout * 20.0);
            let (stream, _) = probed.media.video()?;
            let listed = probe::keyframes(
                &self.inner.config.ffprobe,
                &input,
                &file.probe.format,
                stream.index,
                timeout,
            )
            .await
            .ok()
            .filter(|k| !k.is_empty())?;
            let store = &self.inner.store;
            if let Err(e) = store
                .put_keyframes(file.id, file.size, file.mtime_ns, listed.clone())
                .await
            {
                tracing::warn!(file = file.id, "cannot keep the keyframes: {e}");
            }
            Some(listed)
        };
        let start = probed.media.start_time;
        probed
            .keyframes
            .get_or_init(|| list)
            .await
            .as_ref()
            .map(|k| k.iter().map(|t| t - start).collect())
    }

    /// The engine's decisions for `file` and `profile`, with the playlists' boundaries.
    pub async fn packaging(
        &self,
        file: &MediaFile,
        profile: &ClientProfile,
        burn: Option<&BurnIn>,
    ) -> Result<Arc<Packaging>, LibraryError> {
        let key = (file.id, file.fingerprint(), choice_key(profile, burn));
        // (A remote file's fingerprint is its own: id 0 is shared.)
        if let Some(p) = self.inner.plans.get(&key) {
            return Ok(p);
        }
        let probed = self.probed(file).await?;
        let segment = self.inner.config.segment_seconds;
        let mut pkg = package(file, probed.media.clone(), profile, burn, None, segment)?;
        let copied = pkg.video.as_ref().is_some_and(|r| {
            r.plan
                .video
                .as_ref()
                .is_some_and(|v| v.action == VideoAction::Copy)
        });
        if copied {
            if let Some(k) = self.keyframes(file, &probed).await {
                pkg = package(file, probed.media.clone(), profile, burn, Some(&k), segment)?;
            }
        }
        tracing::debug!(file = file.id, profile = %profile, "playback plan: {}", pkg.summary);
        let pkg = Arc::new(pkg);
        self.inner.plans.insert(key, pkg.clone());
        Ok(pkg)
    }

    /// The packaging for what the client asked: its profile (the default one without), and the
    /// image subtitle to burn in, if any.
    async fn chosen(
        &self,
        file: &MediaFile,
        profile: Option<&ClientProfile>,
        burn: Option<&BurnIn>,
    ) -> Result<Arc<Packaging>, LibraryError> {
        let profile = profile.copied().unwrap_or_default();
        self.packaging(file, &profile, burn).await
    }

    /// `profile`: the client's, when it sent one; it is then carried into every URI, as
    /// `burn` is.
    pub async fn master_playlist(
        &self,
        file: &MediaFile,
        profile: Option<&ClientProfile>,
        burn: Option<&BurnIn>,
    ) -> Result<String, LibraryError> {
        let pkg = self.chosen(file, profile, burn).await?;
        Ok(master_playlist(file, &pkg, &playlist_query(profile, burn)))
    }

    pub async fn media_playlist(
        &self,
        file: &MediaFile,
        variant: Variant,
        profile: Option<&ClientProfile>,
        burn: Option<&BurnIn>,
    ) -> Result<String, LibraryError> {
        let pkg = self.chosen(file, profile, burn).await?;
        let rendition = pkg.rendition(variant)?;
        let text = rendition
            .timeline
            .media_playlist(pkg.format, &playlist_query(profile, burn));
        let profile = profile.cloned().unwrap_or_default();
        self.prestart(file, vec![variant], profile, burn.cloned());
        Ok(text)
    }

    /// A remote file as the engine packages it: probed once through `url` (a signed proxy URL
    /// on the loopback listener), then known by `key` (a digest of the sealed source) with a
    /// stand-in `MediaFile` that every other method takes.
    pub async fn remote(&self, key: &str, url: url::Url) -> Result<MediaFile, LibraryError> {
        let path = PathBuf::from(format!("remote/{key}"));
        let mut file = remote_file(path.clone(), Default::default());
        if let Some((_, probed)) = self.inner.remotes.get(&path) {
            file.probe = probed.info.clone();
            return Ok(file);
        }
        let lock = self.inner.probing.get_with(path.clone(), Default::default);
        let _probing = lock.lock().await;
        if let Some((_, probed)) = self.inner.remotes.get(&path) {
            file.probe = probed.info.clone();
            return Ok(file);
        }
        // Refused before any ffprobe runs, like ffmpeg's arguments would refuse it.
        let probe_input = Input::Proxied(url.clone());
        ffmpeg::check_input(&probe_input).map_err(|e| LibraryError::Internal(e.to_string()))?;
        let timeout = Duration::from_secs_f64(self.inner.config.probe_timeout);
        let (info, media) = probe::remote(&self.inner.config.ffprobe, &url, timeout).await?;
        file.probe = info.clone();
        let probed = Arc::new(Probed {
            media: Arc::new(media),
            keyframes: tokio::sync::OnceCell::new(),
            info,
        });
        self.inner.remotes.insert(path.clone(), (url, probed));
        self.inner.probing.invalidate(&path);
        Ok(file)
    }

    /// Embedded text subtitle `track` (`s0`…) of a remote `file` as `format`, extracted by
    /// ffmpeg reading the loopback proxy (never the origin): an ffmpeg slot of `max_ffmpeg`,
    /// at most `max_subtitle_bytes` and `REMOTE_SUBTITLE_TIMEOUT`, killed past either or when
    /// the request is dropped (the viewer left), then kept in memory.
    pub async fn remote_subtitle(
        &self,
        file: &MediaFile,
        track: &str,
        format: SubtitleFormat,
    ) -> Result<Arc<str>, LibraryError> {
        let stream = assets::embedded_track(file, track, format)?;
        let key = (file.fingerprint(), stream.index, format.extension());
        if let Some(text) = self.inner.subtitles.get(&key) {
            return Ok(text);
        }
        let input = self.input_of(file)?;
        let Input::Proxied(url) = &input else {
            return Err(LibraryError::Internal("not a remote file".into()));
        };
        let options =
            ffmpeg::proxied_input(&input).map_err(|e| LibraryError::Internal(e.to_string()))?;
        let _slot = self.acquire_slot(None).await?;
        let mut command = Command::new(&self.inner.config.ffmpeg);
        // `-xerror`: an input that fails halfway ends ffmpeg with an error instead of a track
        // cut short that would look whole.
        command
            .args(["-hide_banner", "-nostdin", "-loglevel", "error", "-xerror"])
            .args(options)
            .args(["-format_whitelist", probe::REMOTE_DEMUXERS])
            .args(["-i", url.as_str()])
            .args(["-map", &format!("0:{}", stream.index)])
            .args(assets::output_args(format))
            .arg("-");
        let max = self.inner.config.max_subtitle_bytes;
        let bytes = tokio::time::timeout(
            REMOTE_SUBTITLE_TIMEOUT,
            assets::capture_capped(command, max),
        )
        .await
        .map_err(|_| LibraryError::Timeout("extracting the subtitle took too long".into()))??
        .map_err(|stderr| assets::remote_extraction_error(&stderr, track))?;
        let text: Arc<str> = String::from_utf8_lossy(&bytes).into();
        self.inner.subtitles.insert(key, text.clone());
        Ok(text)
    }

    /// What ffmpeg reads for `file`: a library file confined to its folders, or the proxy URL
    /// of a remote one.
    fn input_of(&self, file: &MediaFile) -> Result<Input, LibraryError> {
        if file.id == REMOTE_ID {
            return self
                .inner
                .remotes
                .get(&file.path)
                .map(|(url, _)| Input::Proxied(url))
                .ok_or_else(remote_expired);
        }
        confine::media_input(&self.inner.roots, &file.path, &file.probe.format).map(Input::Local)
    }

    /// How many ffmpeg packaging processes run now.
    pub fn running_jobs(&self) -> usize {
        self.inner
            .jobs
            .lock()
            .expect("jobs lock")
            .values()
            .filter(|j| j.owns_process && j.running())
            .count()
    }
}

fn remote_expired() -> LibraryError {
    LibraryError::not_found(
        "source_expired",
        "this remote source is no longer known; resolve the title again",
    )
}

/// The stand-in library row of a remote file: id `REMOTE_ID`, and a path naming its key so
/// that `fingerprint()` (cache folders, plans) is the key's.
fn remote_file(path: PathBuf, probe: probe::ProbeInfo) -> MediaFile {
    MediaFile {
        id: REMOTE_ID,
        path,
        root: PathBuf::new(),
        size: 0,
        mtime_ns: 0,
        media_type: crate::models::MediaType::Movie,
        tmdb_id: 0,
        title: String::new(),
        year: None,
        season: None,
        episode: None,
        episode_end: None,
        episode_title: None,
        probe,
        sidecars: Vec::new(),
        added_at: 0,
    }
}

/// `?profile=<wire>&burn=<track>` for the URIs a playlist names, beside the `st` token the
/// auth layer appends (never inside it: one signed URL serves every profile and every burn).
fn playlist_query(profile: Option<&ClientProfile>, burn: Option<&BurnIn>) -> String {
    let profile = profile.map(|p| format!("{}={}", playback::profile::QUERY_PARAM, p.to_wire()));
    let burn = burn.map(|b| format!("{BURN_PARAM}={}", b.track));
    let pairs: Vec<String> = profile.into_iter().chain(burn).collect();
    match pairs.is_empty() {
        true => String::new(),
        false => format!("?{}", pairs.join("&")),
    }
}

/// The key of the caches that depend on what the viewer chose (plans, jobs, segments):
/// filename-safe, and the profile's own key when nothing is burned in, so that segments
/// packaged before burning existed stay valid.
fn choice_key(profile: &ClientProfile, burn: Option<&BurnIn>) -> String {
    match burn {
        Some(b) => format!("{}-burn{}", profile.cache_key(), b.stream),
        None => profile.cache_key(),
    }
}

/// The query parameter naming an image subtitle to burn into the picture (`burn=i0`).
pub const BURN_PARAM: &str = "burn";

/// An image subtitle (PGS, VobSub, DVB) burned into the picture of a transcode: browsers
/// cannot draw them. Named by the client as the subtitles list names it (`i0`…).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BurnIn {
    track: String,
    /// The ffprobe stream index.
    stream: u32,
}

/// `burn=` names no image subtitle of the file (a text track, an unknown one, garbage).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("burn={0:?} is not an image subtitle track of this file")]
pub struct BurnError(String);

impl BurnError {
    pub fn code(&self) -> &'static str {
        "invalid_burn_subtitle"
    }
}

impl BurnIn {
    /// The image subtitle of `file` named `track`.
    pub fn of(file: &MediaFile, track: &str) -> Result<BurnIn, BurnError> {
        match super::assets::image_subtitle(file, track) {
            Some(s) => Ok(BurnIn {
                track: track.to_string(),
                stream: s.index,
            }),
            // Echoed in the message, so cut short: the value comes from the client.
            None => Err(BurnError(track.chars().take(16).collect())),
        }
    }
}

/// One request for a part of a rendition: where it lives and which job makes it.
struct Wanted<'a> {
    file: &'a MediaFile,
    pkg: Arc<Packaging>,
    variant: Variant,
    key: JobKey,
    dir: PathBuf,
}

/// Whether the renditions of an early start are packaged by one ffmpeg: when the audio is
/// copied. One process start instead of two is most of a remux's cost on 2 cores busy with
/// the page (`ffmpeg::args_together`); the direct streams' first segments came ~100 ms sooner
/// and their first frames 50–110 ms sooner (bench-playback A/B, docs/benchmarks.md). An
/// audio transcode is not: ffmpeg 5.1 encodes it on the thread that also writes the video,
/// and the copied video's first segment came ~50 ms later (remux + AC-3 → AAC).
fn together(wanted: &[Wanted<'_>]) -> bool {
    wanted.len() > 1
        && wanted.iter().all(|w| {
            w.pkg.rendition(w.variant).is_ok_and(|r| {
                r.plan
                    .audio
                    .as_ref()
                    .is_none_or(|a| a.action == AudioAction::Copy)
            })
        })
}

impl Packager {
    /// The path of `part` of `variant`, packaging it first if needed.
    pub async fn segment(
        &self,
        file: &MediaFile,
        variant: Variant,
        part: Part,
        profile: &ClientProfile,
        burn: Option<&BurnIn>,
    ) -> Result<PathBuf, LibraryError> {
        let pkg = self.packaging(file, profile, burn).await?;
        let timeline = pkg.rendition(variant)?.timeline.clone();
        let not_found = |why: String| LibraryError::not_found("segment_not_found", why);
        let (name, index) = match part {
            Part::Init if pkg.format == SegmentFormat::Fmp4 => ("init.mp4".to_string(), None),
            Part::Init => return Err(not_found("MPEG-TS segments have no init segment".into())),
            Part::Segment(_, f) if f != pkg.format => {
                return Err(not_found(format!(
                    "this rendition's segments are .{}",
                    extension(pkg.format)
                )));
            }
            Part::Segment(i, _) if i >= timeline.len() => {
                return Err(not_found(format!(
                    "segment {i} is beyond the end ({} segments)",
                    timeline.len()
                )));
            }
            Part::Segment(i, f) => (format!("{i}.{}", extension(f)), Some(i)),
        };
        let wanted = self.wanted(file, pkg, variant, profile, burn);
        self.wait_for(&wanted, &name, index).await
    }

    fn wanted<'a>(
        &self,
        file: &'a MediaFile,
        pkg: Arc<Packaging>,
        variant: Variant,
        profile: &ClientProfile,
        burn: Option<&BurnIn>,
    ) -> Wanted<'a> {
        let folder = format!("{}-{}-{SEGMENT_LAYOUT}", file.id, file.fingerprint());
        let dir = self
            .inner
            .cache_dir
            .join(&folder)
            .join(choice_key(profile, burn))
            .join(variant.name());
        let key = JobKey {
            file: folder,
            profile: choice_key(profile, burn),
            variant,
        };
        Wanted {
            file,
            pkg,
            variant,
            key,
            dir,
        }
    }

    /// Starts `variants` from the start where nothing of them runs or is cached, without
    /// waiting: for a media playlist just asked for (hls.js asks for the first segment only
    /// after the playlists and its MediaSource set-up, measured in Chromium: 0.1 s after the
    /// playlist idle, 0.3 s on a busy machine) and for `warm`, time ffmpeg now spends starting.
    /// Renditions put `together` share one ffmpeg. A player resuming further in asks for
    /// another segment, which replaces these jobs as a seek would; these never replace a job.
    fn prestart(
        &self,
        file: &MediaFile,
        variants: Vec<Variant>,
        profile: ClientProfile,
        burn: Option<BurnIn>,
    ) {
        let (this, file) = (self.clone(), file.clone());
        tokio::spawn(async move {
            let Ok(pkg) = this.packaging(&file, &profile, burn.as_ref()).await else {
                return;
            };
            let first = format!("0.{}", extension(pkg.format));
            let wanted: Vec<Wanted<'_>> = variants
                .into_iter()
                .filter(|v| pkg.rendition(*v).is_ok())
                .map(|v| this.wanted(&file, pkg.clone(), v, &profile, burn.as_ref()))
                .filter(|w| this.job_of(&w.key).is_none() && !w.dir.join(&first).exists())
                .collect();
            let groups: Vec<&[Wanted<'_>]> = if together(&wanted) {
                vec![&wanted[..]]
            } else {
                wanted.chunks(1).collect()
            };
            for group in groups {
                if let Err(e) = this.start_together(group).await {
                    tracing::debug!(file = file.id, "no early start: {e}");
                }
            }
        });
    }

    /// Starts what a player is about to ask for, the video and the default audio rendition
    /// from the start, when the watch page resolves the title with its profile
    /// (`api::warm`). The page's scripts, hls.js and the MediaSource set-up take 0.3–0.6 s
    /// between the resolve's answer and the first segment request (bench-playback traces),
    /// time ffmpeg spends starting instead (`prestart`).
    pub fn warm(&self, file: &MediaFile, profile: ClientProfile) {
        let mut variants = vec![Variant::Video];
        if !file.probe.audio.is_empty() {
            let default = file.probe.audio.iter().position(|a| a.default).unwrap_or(0);
            variants.push(Variant::Audio(default));
        }
        self.prestart(file, variants, profile, None);
    }

    fn job_of(&self, key: &JobKey) -> Option<Arc<Job>> {
        self.inner.jobs.lock().expect("jobs lock").get(key).cloned()
    }

    /// Waits for `name` (segment `index`, or the init segment) to be in the cache, starting or
    /// restarting the rendition's job as needed, within `segment_wait`.
    async fn wait_for(
        &self,
        w: &Wanted<'_>,
        name: &str,
        index: Option<usize>,
    ) -> Result<PathBuf, LibraryError> {
        let path = w.dir.join(name);
        let deadline = Instant::now() + Duration::from_secs_f64(self.inner.config.segment_wait);
        loop {
            let job = self.job_of(&w.key);
            if tokio::fs::metadata(&path).await.is_ok() {
                self.inner.lru.lock().expect("lru lock").touch(&path);
                if let Some(job) = job {
                    job.touch(self.inner.now_ms());
                }
                return Ok(path);
            }
            // The init segment comes with whatever segment the running job writes first.
            let i = index.map_or_else(|| job.as_ref().map_or(0, |j| j.start), |i| i as i64);
            let state = job.as_ref().map(|j| (j.start, j.state()));
            let job = match step(state.as_ref().map(|(s, st)| (*s, st)), i) {
                Step::Wait => job.expect("a job to wait for"),
                Step::Start => self.start_job(w, i as usize).await?,
                Step::Fail(error) => {
                    self.inner.jobs.lock().expect("jobs lock").remove(&w.key);
                    return Err(LibraryError::Package(error));
                }
                Step::NoContent => {
                    return Err(LibraryError::not_found(
                        "segment_not_found",
                        format!("{name} has no content"),
                    ));
                }
            };
            job.touch(self.inner.now_ms());
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(LibraryError::Timeout(format!(
                    "{name} was not ready within {}s",
                    self.inner.config.segment_wait
                )));
            }
            // Woken when the job promotes a segment or exits; the timeout covers a missed wake.
            let _ = tokio::time::timeout(
                remaining.min(Duration::from_millis(100)),
                job.changed.notified(),
            )
            .await;
        }
    }

    /// Starts the rendition's job at segment `index` for a request, in place of a running job
    /// that is elsewhere (a seek: the old one is now useless).
    async fn start_job(&self, w: &Wanted<'_>, index: usize) -> Result<Arc<Job>, LibraryError> {
        if let Some(old) = self.inner.jobs.lock().expect("jobs lock").remove(&w.key) {
            old.cancel.notify_one();
        }
        let input = self.input_of(w.file)?;
        let permit = self.acquire_slot(Some(&w.key)).await?;
        // Another request for the same rendition may have started a job while we waited.
        if let Some(job) = self.job_of(&w.key) {
            if step(Some((job.start, &job.state())), index as i64) == Step::Wait {
                return Ok(job);
            }
        }
        let mut jobs = self.spawn(&[w], index, Replace::Yes, input, permit).await?;
        Ok(jobs.remove(0))
    }

    /// Starts the renditions `ws` (of one file and packaging, none of them running or cached)
    /// from the start, with one ffmpeg (`ffmpeg::args_together`). The first is the job that
    /// owns the process; see `Run::supervise` for what stopping either does.
    async fn start_together(&self, ws: &[Wanted<'_>]) -> Result<(), LibraryError> {
        let Some(first) = ws.first() else {
            return Ok(());
        };
        let input = self.input_of(first.file)?;
        let permit = self.acquire_slot(Some(&first.key)).await?;
        // A player's request may have started one while we waited for the slot: it wins.
        if ws.iter().any(|w| self.job_of(&w.key).is_some()) {
            return Ok(());
        }
        let refs: Vec<&Wanted<'_>> = ws.iter().collect();
        self.spawn(&refs, 0, Replace::No, input, permit).await?;
        Ok(())
    }

    /// One ffmpeg for `ws` from segment `index`, its jobs registered and supervised. With
    /// `Replace::No`, a job another request registered meanwhile wins: this ffmpeg is not
    /// started and the jobs found are returned (one per rendition for a single rendition).
    async fn spawn(
        &self,
        ws: &[&Wanted<'_>],
        index: usize,
        replace: Replace,
        input: Input,
        permit: OwnedSemaphorePermit,
    ) -> Result<Vec<Arc<Job>>, LibraryError> {
        let Some(lead) = ws.first() else {
            return Ok(Vec::new());
        };
        let probed = self.probed(lead.file).await?;
        let mut windows = Vec::with_capacity(ws.len());
        let mut folders = WorkFolders(Vec::with_capacity(ws.len()));
        for w in ws {
            let window = w.pkg.rendition(w.variant)?.timeline.window(index);
            let work = w.dir.join(format!(
                ".job-{}-{}",
                window.start_segment,
                rand::random::<u32>()
            ));
            tokio::fs::create_dir_all(&work).await.map_err(|e| {
                LibraryError::Internal(format!("cannot create the HLS work folder: {e}"))
            })?;
            folders.0.push(work);
            windows.push(window);
        }
        let args = self.command(ws, &windows, &folders.0, &probed.media, &input)?;
        // Dropped on any early return below: `child` first (which kills it), then the folders.
        let child = self.spawn_ffmpeg(&args)?;
        let started = match self.register(ws, &windows, replace) {
            Ok(started) => started,
            Err(theirs) => return Ok(theirs),
        };
        let runs = ws
            .iter()
            .zip(&started)
            .zip(folders.keep())
            .map(|((w, job), work)| Run {
                inner: self.inner.clone(),
                job: job.clone(),
                key: w.key.clone(),
                work,
                dir: w.dir.clone(),
                ext: extension(w.pkg.format),
            })
            .collect();
        tokio::spawn(Run::supervise(runs, child, permit));
        Ok(started)
    }

    /// The ffmpeg command writing each of `ws` from its window into its work folder.
    fn command(
        &self,
        ws: &[&Wanted<'_>],
        windows: &[ffmpeg::SegmentWindow],
        folders: &[PathBuf],
        media: &Media,
        input: &Input,
    ) -> Result<Vec<String>, LibraryError> {
        let mut jobs = Vec::with_capacity(ws.len());
        for ((w, window), work) in ws.iter().zip(windows).zip(folders) {
            jobs.push(ffmpeg::Job {
                plan: &w.pkg.rendition(w.variant)?.plan,
                media,
                input,
                window: *window,
                out_dir: work,
                threads: ffmpeg::default_threads(),
                preset: &self.inner.config.transcode_preset,
                subtitle_file: None,
                format_whitelist: Some(&w.file.probe.format),
            });
        }
        let args = ffmpeg::args_together(&jobs)
            .map_err(|e| LibraryError::Internal(format!("cannot build the ffmpeg command: {e}")))?;
        // A proxy URL is a credential (anyone holding it reads the remote file): not logged.
        let shown = match input {
            Input::Proxied(url) => args.join(" ").replace(url.as_str(), "<loopback proxy URL>"),
            Input::Local(_) => args.join(" "),
        };
        let variants: Vec<String> = ws.iter().map(|w| w.variant.name()).collect();
        let file = ws.first().map_or(0, |w| w.file.id);
        let start = windows.first().map_or(0, |w| w.start_segment);
        tracing::debug!(file, variants = %variants.join(","), start, "starting ffmpeg: {shown}");
        Ok(args)
    }

    /// Registers the jobs of a process just started, the first owning it. `Err` with the jobs
    /// found instead when `replace` is `No` and a player's request registered one meanwhile:
    /// it wins.
    fn register(
        &self,
        ws: &[&Wanted<'_>],
        windows: &[ffmpeg::SegmentWindow],
        replace: Replace,
    ) -> Result<Vec<Arc<Job>>, Vec<Arc<Job>>> {
        let mut jobs = self.inner.jobs.lock().expect("jobs lock");
        let theirs: Vec<Arc<Job>> = ws
            .iter()
            .filter_map(|w| jobs.get(&w.key).cloned())
            .collect();
        if replace == Replace::No && !theirs.is_empty() {
            return Err(theirs);
        }
        let now = self.inner.now_ms();
        let started: Vec<Arc<Job>> = windows
            .iter()
            .enumerate()
            .map(|(i, w)| Arc::new(Job::started(w.start_segment as i64, i == 0, now)))
            .collect();
        for (w, job) in ws.iter().zip(&started) {
            jobs.insert(w.key.clone(), job.clone());
        }
        Ok(started)
    }

    fn spawn_ffmpeg(&self, args: &[String]) -> Result<tokio::process::Child, LibraryError> {
        let ffmpeg = &self.inner.config.ffmpeg;
        Command::new(ffmpeg)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| LibraryError::Tool(format!("cannot run {ffmpeg}: {e}")))
    }

    /// A free ffmpeg slot. When none is free, the job idle the longest (whose viewer paused
    /// or left) is stopped to make room; then the wait is bounded.
    async fn acquire_slot(
        &self,
        for_key: Option<&JobKey>,
    ) -> Result<OwnedSemaphorePermit, LibraryError> {
        if let Ok(p) = self.inner.slots.clone().try_acquire_owned() {
            return Ok(p);
        }
        let now = self.inner.now_ms();
        let victim = {
            let jobs = self.inner.jobs.lock().expect("jobs lock");
            jobs.iter()
                .filter(|(k, j)| Some(*k) != for_key && j.owns_process && j.running())
                .map(|(k, j)| (k.clone(), j.clone(), j.idle_ms(now)))
                .filter(|(.., idle)| *idle >= STEAL_AFTER_MS)
                .max_by_key(|(.., idle)| *idle)
        };
        if let Some((k, job, _)) = victim {
            tracing::info!(
                file = %k.file,
                "stopping an idle packaging job to free an ffmpeg slot"
            );
            self.inner.jobs.lock().expect("jobs lock").remove(&k);
            job.cancel.notify_one();
        }
        let wait = Duration::from_secs_f64(self.inner.config.segment_wait.min(10.0));
        match tokio::time::timeout(wait, self.inner.slots.clone().acquire_owned()).await {
            Ok(Ok(p)) => Ok(p),
            _ => Err(LibraryError::Busy(format!(
                "all {} ffmpeg slots are busy; try again shortly",
                self.inner.config.max_ffmpeg
            ))),
        }
    }
}

impl Inner {
    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn add_to_cache(&self, path: PathBuf, size: u64) {
        let evicted = {
            let mut lru = self.lru.lock().expect("lru lock");
            lru.insert(path, size);
            lru.evict(self.config.cache_max_bytes())
        };
        for p in evicted {
            // Deleting a segment someone is downloading is fine on Unix: the open handle keeps it.
            let _ = std::fs::remove_file(p);
        }
    }
}

/// The work folders of a process being started: removed again unless it starts.
struct WorkFolders(Vec<PathBuf>);

impl WorkFolders {
    fn keep(mut self) -> Vec<PathBuf> {
        std::mem::take(&mut self.0)
    }
}

impl Drop for WorkFolders {
    fn drop(&mut self) {
        for work in &self.0 {
            let _ = std::fs::remove_dir_all(work);
        }
    }
}

/// One rendition an ffmpeg writes, and where its output goes.
struct Run {
    inner: Arc<Inner>,
    job: Arc<Job>,
    key: JobKey,
    /// ffmpeg's own folder for this rendition.
    work: PathBuf,
    /// The rendition's cache folder.
    dir: PathBuf,
    ext: &'static str,
}

impl Run {
    /// Watches one ffmpeg and the renditions it writes (`runs`, the first the process's own
    /// job): promotes finished segments into the cache, stops it on cancel, records how each
    /// ended, and frees its slot. Cancelling the first stops the process, and the others are
    /// forgotten so that their next request starts them again; cancelling another only stops
    /// promoting it (a viewer who chose another audio track), and its few segments are
    /// left in the work folder until the process ends.
    async fn supervise(
        mut runs: Vec<Run>,
        mut child: tokio::process::Child,
        permit: OwnedSemaphorePermit,
    ) {
        let stderr = child.stderr.take();
        let stderr_task = tokio::spawn(async move {
            let mut buf = Vec::new();
            if let Some(s) = stderr {
                // Bounded: an ffmpeg that loops on warnings must not grow our memory.
                let _ = s.take(64 * 1024).read_to_end(&mut buf).await;
            }
            String::from_utf8_lossy(&buf).to_string()
        });
        let mut left = Vec::new();
        let (status, cancelled) = Run::watch(&mut runs, &mut left, &mut child).await;
        let error = match status {
            _ if cancelled => None,
            Some(s) if s.success() => None,
            _ => {
                let err = stderr_task.await.unwrap_or_default();
                let line = err
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("ffmpeg failed")
                    .to_string();
                tracing::warn!(error = %line, "packaging failed");
                Some(format!("ffmpeg failed: {line}"))
            }
        };
        for (i, run) in runs.iter().enumerate() {
            let done = run.promote();
            if cancelled && i > 0 {
                // Stopped with the process it shared, not finished: the next request for it
                // finds no job and starts one.
                let mut jobs = run.inner.jobs.lock().expect("jobs lock");
                if jobs.get(&run.key).is_some_and(|j| Arc::ptr_eq(j, &run.job)) {
                    jobs.remove(&run.key);
                }
            }
            let _ = tokio::fs::remove_dir_all(&run.work).await;
            run.set(match &error {
                None => JobState::Ended { done },
                Some(error) => JobState::Failed {
                    done,
                    error: error.clone(),
                },
            });
        }
        for run in left {
            let _ = tokio::fs::remove_dir_all(&run.work).await;
        }
        drop(permit);
    }

    /// Until the process ends or its own job is cancelled (then it is killed): promotes every
    /// 30 ms, and moves a cancelled other rendition from `runs` to `left`.
    async fn watch(
        runs: &mut Vec<Run>,
        left: &mut Vec<Run>,
        child: &mut tokio::process::Child,
    ) -> (Option<std::process::ExitStatus>, bool) {
        let mut tick = tokio::time::interval(Duration::from_millis(30));
        loop {
            let detached = async {
                if runs.len() < 2 {
                    return std::future::pending().await;
                }
                let cancels = runs[1..].iter().map(|r| Box::pin(r.job.cancel.notified()));
                futures::future::select_all(cancels).await.1 + 1
            };
            tokio::select! {
                status = child.wait() => return (status.ok(), false),
                _ = runs[0].job.cancel.notified() => {
                    let _ = child.kill().await;
                    return (None, true);
                }
                i = detached => {
                    // Its folder stays until the process ends: ffmpeg still writes there.
                    let run = runs.remove(i);
                    run.set(JobState::Ended { done: run.promote() });
                    left.push(run);
                }
                _ = tick.tick() => {
                    for run in runs.iter() {
                        run.promote();
                    }
                }
            }
        }
    }

    fn set(&self, state: JobState) {
        self.job.status.lock().expect("job lock").state = state;
        self.job.changed.notify_waiters();
    }

    /// Moves finished segments (and the init segment) from the work folder into the cache;
    /// returns the highest promoted. `-hls_flags temp_file` gives a segment its name only
    /// once it is complete; the init segment is written before the first segment is named.
    fn promote(&self) -> i64 {
        let mut done = match self.job.state() {
            JobState::Running { done }
            | JobState::Ended { done }
            | JobState::Failed { done, .. } => done,
        };
        let mut moved = false;
        loop {
            let cur = self.work.join(format!("{}.{}", done + 1, self.ext));
            if !cur.exists() {
                break;
            }
            let init = self.work.join("init.mp4");
            if init.exists() {
                self.move_into_cache(&init, "init.mp4");
            }
            self.move_into_cache(&cur, &format!("{}.{}", done + 1, self.ext));
            done += 1;
            moved = true;
        }
        if moved {
            if let JobState::Running { done: d } =
                &mut self.job.status.lock().expect("job lock").state
            {
                *d = done;
            }
            self.job.changed.notify_waiters();
        }
        done
    }

    fn move_into_cache(&self, from: &Path, name: &str) {
        let dest = self.dir.join(name);
        if dest.exists() {
            let _ = std::fs::remove_file(from);
        } else if std::fs::rename(from, &dest).is_ok() {
            if let Ok(m) = std::fs::metadata(&dest) {
                self.inner.add_to_cache(dest, m.len());
            }
        }
    }
}

/// Kills jobs nobody asked anything of for `idle_timeout` and forgets exited ones.
async fn reap_idle(inner: Weak<Inner>) {
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let Some(inner) = inner.upgrade() else { return };
        let now = inner.now_ms();
        let idle_ms = (inner.config.idle_timeout * 1000.0) as u64;
        let mut jobs = inner.jobs.lock().expect("jobs lock");
        jobs.retain(|key, job| match job.state() {
            // Keep a failed job a little so its waiters can read the error.
            JobState::Failed { .. } => job.idle_ms(now) < 10_000,
            JobState::Ended { .. } => false,
            JobState::Running { .. } if job.idle_ms(now) > idle_ms => {
                tracing::debug!(file = %key.file, variant = %key.variant.name(), "stopping an idle packaging job");
                job.cancel.notify_one();
                false
            }
            JobState::Running { .. } => true,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in for one ffmpeg writing two renditions: a segment in each work folder every
    /// 40 ms (named once complete, as `-hls_flags temp_file` does), under the supervisor.
    struct Pair {
        packager: Packager,
        lead: Arc<Job>,
        follower: Arc<Job>,
        pid: u32,
        works: [PathBuf; 2],
        dirs: [PathBuf; 2],
        _dir: tempfile::TempDir,
    }

    fn key_of(variant: Variant) -> JobKey {
        JobKey {
            file: "1-f".into(),
            profile: "p".into(),
            variant,
        }
    }

    fn pair() -> Pair {
        let dir = tempfile::tempdir().unwrap();
        let settings = crate::config::LibrarySettings::default();
        let store = Store::in_memory().unwrap();
        let packager = Packager::new((&settings).into(), vec![], dir.path().join("c"), store);
        let inner = packager.inner.clone();
        let folders = |name: &str| {
            let d = dir.path().join("c").join(name);
            std::fs::create_dir_all(d.join(".job")).unwrap();
            (d.join(".job"), d)
        };
        let ((v_work, v_dir), (a_work, a_dir)) = (folders("v"), folders("a0"));
        let script = format!(
            "i=0; while :; do for d in '{}' '{}'; do : > \"$d/$i.tmp\" && mv \"$d/$i.tmp\" \"$d/$i.ts\"; done; i=$((i+1)); sleep 0.04; done",
            v_work.display(),
            a_work.display()
        );
        let child = Command::new("sh")
            .args(["-c", &script])
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let pid = child.id().unwrap();
        let permit = inner.slots.clone().try_acquire_owned().unwrap();
        let lead = Arc::new(Job::started(0, true, inner.now_ms()));
        let follower = Arc::new(Job::started(0, false, inner.now_ms()));
        let run = |job: &Arc<Job>, variant, work: &PathBuf, dir: &PathBuf| {
            inner
                .jobs
                .lock()
                .unwrap()
                .insert(key_of(variant), job.clone());
            Run {
                inner: inner.clone(),
                job: job.clone(),
                key: key_of(variant),
                work: work.clone(),
                dir: dir.clone(),
                ext: "ts",
            }
        };
        let runs = vec![
            run(&lead, Variant::Video, &v_work, &v_dir),
            run(&follower, Variant::Audio(0), &a_work, &a_dir),
        ];
        tokio::spawn(Run::supervise(runs, child, permit));
        Pair {
            packager,
            lead,
            follower,
            pid,
            works: [v_work, a_work],
            dirs: [v_dir, a_dir],
            _dir: dir,
        }
    }

    impl Pair {
        /// What the reaper and a seek do to a job: forget it, then cancel it.
        fn stop(&self, variant: Variant, job: &Job) {
            let jobs = &self.packager.inner.jobs;
            jobs.lock().unwrap().remove(&key_of(variant));
            job.cancel.notify_one();
        }
    }

    fn done_of(job: &Job) -> i64 {
        match job.state() {
            JobState::Running { done } | JobState::Ended { done } => done,
            JobState::Failed { done, .. } => done,
        }
    }

    async fn until(what: &str, mut f: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !f() {
            assert!(Instant::now() < deadline, "{what}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn alive(pid: u32) -> bool {
        Path::new(&format!("/proc/{pid}")).exists()
    }

    #[tokio::test]
    async fn a_rendition_left_by_its_viewer_stops_being_kept_while_the_shared_ffmpeg_goes_on() {
        let p = pair();
        until("both renditions promoted", || {
            done_of(&p.lead) >= 2 && done_of(&p.follower) >= 2
        })
        .await;
        // Another audio track chosen: the reaper forgets the idle one and cancels it.
        p.stop(Variant::Audio(0), &p.follower);
        until("the audio job ended", || !p.follower.running()).await;
        let (audio_done, video_done) = (done_of(&p.follower), done_of(&p.lead));
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(p.lead.running() && alive(p.pid), "the video goes on");
        assert!(done_of(&p.lead) > video_done, "and is still promoted");
        assert_eq!(done_of(&p.follower), audio_done, "the audio no longer is");
        assert!(!p.dirs[1].join(format!("{}.ts", audio_done + 2)).exists());
        // Its folder stays while the process writes into it (removing it would fail ffmpeg).
        assert!(p.works[1].exists());
        assert_eq!(p.packager.running_jobs(), 1, "one ffmpeg");

        // A seek away: the video's job is replaced, and the process goes with it.
        p.stop(Variant::Video, &p.lead);
        until("the process stopped", || !alive(p.pid)).await;
        until("both work folders removed", || {
            !p.works[0].exists() && !p.works[1].exists()
        })
        .await;
        until("the slot freed", || {
            p.packager.inner.slots.available_permits() == p.packager.inner.config.max_ffmpeg
        })
        .await;
    }

    #[tokio::test]
    async fn stopping_the_shared_ffmpeg_forgets_the_other_rendition_so_its_next_request_restarts_it()
     {
        let p = pair();
        until("both renditions promoted", || {
            done_of(&p.lead) >= 1 && done_of(&p.follower) >= 1
        })
        .await;
        p.stop(Variant::Video, &p.lead);
        until("the process stopped", || !alive(p.pid)).await;
        until("the audio job ended", || !p.follower.running()).await;
        assert!(
            matches!(p.follower.state(), JobState::Ended { .. }),
            "stopped, not failed: {:?}",
            p.follower.state()
        );
        assert!(
            p.packager.job_of(&key_of(Variant::Audio(0))).is_none(),
            "no job left for the audio: its next segment starts one"
        );
        assert_eq!(
            step(None, done_of(&p.follower) + 1),
            Step::Start,
            "and is not taken for the end of the film"
        );
        // A job a request started meanwhile for the same rendition is not forgotten with it.
        let q = pair();
        let theirs = Arc::new(Job::started(5, true, 0));
        q.packager
            .inner
            .jobs
            .lock()
            .unwrap()
            .insert(key_of(Variant::Audio(0)), theirs.clone());
        q.stop(Variant::Video, &q.lead);
        until("the process stopped", || !alive(q.pid)).await;
        until("the audio job ended", || !q.follower.running()).await;
        let kept = q.packager.job_of(&key_of(Variant::Audio(0)));
        assert!(kept.is_some_and(|j| Arc::ptr_eq(&j, &theirs)));
    }

    #[test]
    fn the_bounded_maps_drop_the_least_recently_used_and_always_keep_the_newest() {
        let cache = lru_cache::<u32, u32>(2);
        cache.insert(1, 1);
        cache.insert(2, 2);
        cache.run_pending_tasks();
        assert_eq!(cache.get(&1), Some(1));
        cache.insert(3, 3);
        cache.run_pending_tasks();
        assert_eq!(cache.get(&3), Some(3), "a source just resolved is kept");
        assert_eq!(cache.get(&1), Some(1), "the one played recently stays");
        assert_eq!(cache.get(&2), None);
    }

    #[test]
    fn the_playlist_covers_the_whole_duration() {
        let t = Timeline::grid(15.5, 6.0, 6.0);
        assert_eq!(t.starts, vec![0.0, 6.0, 12.0]);
        let m3u8 = t.media_playlist(SegmentFormat::Ts, "");
        assert!(m3u8.contains("#EXT-X-PLAYLIST-TYPE:VOD"));
        assert!(m3u8.contains("#EXTINF:3.500000,\n2.ts"));
        assert!(m3u8.ends_with("#EXT-X-ENDLIST\n"));
        assert!(m3u8.contains("#EXT-X-TARGETDURATION:6"));
    }

    #[test]
    fn a_transcode_starts_with_two_short_segments() {
        let t = Timeline::grid(30.0, 2.0, 6.0);
        assert_eq!(t.starts, vec![0.0, 2.0, 4.0, 10.0, 16.0, 22.0, 28.0]);
        // A seek into the fast start restarts from 0, whose job writes the short segments.
        assert_eq!(t.window(1).start_segment, 0);
        let w = t.window(3);
        assert_eq!((w.start_segment, w.start), (3, 10.0));
        assert_eq!(
            w.short_seconds, 6.0,
            "after a seek every segment is full length"
        );
    }

    #[test]
    fn a_transcoded_video_starts_with_segments_growing_to_the_normal_length() {
        let t = Timeline::ramp(30.0, 6.0);
        assert_eq!(t.starts, vec![0.0, 1.0, 2.0, 4.0, 8.0, 14.0, 20.0, 26.0]);
        // The growing segments are written only by the job started at 0.
        for index in 0..RAMP.len() {
            let w = t.window(index);
            assert_eq!((w.start_segment, w.ramp), (0, true), "segment {index}");
        }
        let w = t.window(4);
        assert_eq!((w.start_segment, w.start, w.ramp), (4, 8.0, false));
        assert_eq!(
            w.boundary(1),
            14.0,
            "after a seek every segment is full length"
        );
        let m3u8 = t.media_playlist(SegmentFormat::Ts, "");
        assert!(m3u8.contains("#EXTINF:1.000000,\n0.ts"), "{m3u8}");
        assert!(m3u8.contains("#EXT-X-TARGETDURATION:6"), "{m3u8}");
    }

    #[test]
    fn a_copied_video_is_cut_where_the_hls_muxer_cuts() {
        // Keyframes every 2.5 s, 6 s segments: cuts at the first keyframe at or after 6, 12, 18.
        let kf: Vec<f64> = (0..12).map(|i| i as f64 * 2.5).collect();
        let t = Timeline::keyframes(30.0, &kf, 6.0, 6.0);
        assert_eq!(t.starts, vec![0.0, 7.5, 12.5, 20.0, 25.0]);
        let w = t.window(2);
        assert_eq!(w.start_segment, 2);
        assert!(
            (w.start - 12.5 + EPS).abs() < 1e-9,
            "just before its keyframe"
        );
        assert_eq!(t.window(0).start, 0.0);
    }

    #[test]
    fn a_copied_video_starts_with_short_segments_where_its_keyframes_allow() {
        // A keyframe every second: the cuts ffmpeg 5.1 made with `-hls_init_time 2 -hls_time 6`.
        let every_second: Vec<f64> = (0..30).map(f64::from).collect();
        let t = Timeline::keyframes(30.0, &every_second, 2.0, 6.0);
        assert_eq!(t.starts, vec![0.0, 2.0, 4.0, 8.0, 14.0, 20.0, 26.0]);
        for index in 0..3 {
            let w = t.window(index);
            assert_eq!(
                (w.start_segment, w.short_seconds),
                (0, 2.0),
                "segment {index} is written by the job started at 0"
            );
        }
        let w = t.window(3);
        assert_eq!((w.start_segment, w.short_seconds), (3, 6.0));
        assert!((w.start - 8.0 + EPS).abs() < 1e-9);
        // Sparse keyframes: each cut waits for the next keyframe after its time.
        let kf: Vec<f64> = (0..12).map(|i| i as f64 * 2.5).collect();
        let t = Timeline::keyframes(30.0, &kf, 2.0, 6.0);
        assert_eq!(t.starts, vec![0.0, 2.5, 5.0, 10.0, 15.0, 20.0, 27.5]);
        // A keyframe every 10 s leaves nothing short to cut.
        let t = Timeline::keyframes(40.0, &[0.0, 10.0, 20.0, 30.0], 2.0, 6.0);
        assert_eq!(t.starts, vec![0.0, 10.0, 20.0, 30.0]);
    }

    #[test]
    fn a_2_s_gop_starts_with_a_2_s_segment_and_1_s_keyframes_are_cut_as_before() {
        // x264 `-g 48` at 24 fps on grainy film, copied into Matroska: a keyframe every 47 frames.
        let gop: Vec<f64> = (0..15).map(|i| 0.021 + f64::from(i) * 1.958_3).collect();
        let (video, audio) = timelines(30.0, true, Some(&gop), 6.0);
        assert_eq!(
            video.starts[..3],
            [0.0, gop[1], gop[2]],
            "{:?}",
            video.starts
        );
        assert!(video.duration_of(0) < 2.0);
        assert_eq!(audio.starts[..3], [0.0, 2.0, 4.0]);
        // A keyframe every second: cut where it was at 2.0 (the audio's first cuts, 2 and 4 s).
        let every_second: Vec<f64> = (0..30).map(f64::from).collect();
        let (video, _) = timelines(30.0, true, Some(&every_second), 6.0);
        let at_2 = Timeline::keyframes(30.0, &every_second, SHORT_SECONDS, 6.0);
        assert_eq!(video.starts, at_2.starts);
        assert_eq!(video.window(0).short_seconds, COPY_SHORT_SECONDS);
    }

    #[test]
    fn fmp4_playlists_name_their_init_segment_and_carry_the_profile() {
        let t = Timeline::grid(4.0, 2.0, 2.0);
        let m3u8 = t.media_playlist(SegmentFormat::Fmp4, "?profile=1:avc,av1");
        assert!(m3u8.contains("#EXT-X-VERSION:7\n"));
        assert!(m3u8.contains("#EXT-X-MAP:URI=\"init.mp4?profile=1:avc,av1\"\n"));
        assert!(m3u8.contains("\n0.m4s?profile=1:avc,av1\n"));
    }

    #[test]
    fn a_burn_is_carried_beside_the_profile_and_keys_caches_of_its_own() {
        let profile = ClientProfile::parse("1:avc,aac,mp4").unwrap();
        let burn = BurnIn {
            track: "i0".into(),
            stream: 3,
        };
        assert_eq!(playlist_query(None, None), "");
        assert_eq!(playlist_query(None, Some(&burn)), "?burn=i0");
        assert_eq!(
            playlist_query(Some(&profile), Some(&burn)),
            "?profile=1:avc,aac,mp4&burn=i0"
        );
        assert_eq!(
            choice_key(&profile, None),
            profile.cache_key(),
            "unburned segments packaged before keep their folder"
        );
        assert_ne!(choice_key(&profile, Some(&burn)), profile.cache_key());
    }

    #[test]
    fn variants_and_parts_parse() {
        assert_eq!(Variant::parse("v"), Some(Variant::Video));
        assert_eq!(Variant::parse("a2"), Some(Variant::Audio(2)));
        for bad in ["", "a", "x1", "a-1", "a1000", "../v"] {
            assert_eq!(Variant::parse(bad), None, "{bad}");
        }
        assert_eq!(Part::parse("init.mp4"), Some(Part::Init));
        assert_eq!(
            Part::parse("12.m4s"),
            Some(Part::Segment(12, SegmentFormat::Fmp4))
        );
        assert_eq!(
            Part::parse("3.ts"),
            Some(Part::Segment(3, SegmentFormat::Ts))
        );
        for bad in [
            "",
            ".ts",
            "x.ts",
            "12345678.ts",
            "1.mp4",
            "../0.ts",
            "-1.ts",
        ] {
            assert_eq!(Part::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_request_waits_starts_or_fails_by_the_jobs_state() {
        let running = JobState::Running { done: 4 };
        assert_eq!(step(None, 0), Step::Start);
        assert_eq!(step(Some((2, &running)), 3), Step::Wait);
        assert_eq!(step(Some((2, &running)), 5 + AHEAD), Step::Wait);
        assert_eq!(
            step(Some((2, &running)), 6 + AHEAD),
            Step::Start,
            "a seek ahead"
        );
        assert_eq!(step(Some((2, &running)), 1), Step::Start, "a seek back");
        let ended = JobState::Ended { done: 9 };
        assert_eq!(step(Some((0, &ended)), 5), Step::Start, "evicted since");
        assert_eq!(step(Some((0, &ended)), 10), Step::NoContent);
        let failed = JobState::Failed {
            done: 1,
            error: "ffmpeg failed: x".into(),
        };
        assert_eq!(
            step(Some((0, &failed)), 3),
            Step::Fail("ffmpeg failed: x".into())
        );
    }

    #[test]
    fn lru_evicts_the_oldest_first() {
        let mut lru = Lru::default();
        lru.insert("a".into(), 10);
        lru.insert("b".into(), 10);
        lru.insert("c".into(), 10);
        lru.touch(Path::new("a"));
        let gone = lru.evict(20);
        assert_eq!(gone, vec![PathBuf::from("b")]);
        assert_eq!(lru.total, 20);
    }

    fn uhd() -> Media {
        Media::from_ffprobe_json(
            br#"{"streams":[{"index":0,"codec_type":"video","codec_name":"hevc","profile":"Main",
                "width":3840,"height":2160,"pix_fmt":"yuv420p"},
                {"index":1,"codec_type":"audio","codec_name":"ac3","channels":6}],
                "format":{"format_name":"matroska,webm","duration":"60"}}"#,
        )
        .unwrap()
    }

    #[test]
    fn big_videos_are_scaled_to_1080_lines_when_transcoded_and_copied_as_they_are() {
        let media = uhd();
        let req = Request {
            hls: true,
            ..Request::default()
        };
        let mut plan = playback::plan(&media, &ClientProfile::default(), &req).unwrap();
        cap_transcode_height(&mut plan, &media);
        let (_, v) = media.video().unwrap();
        assert_eq!(output_size(v, &plan.video.unwrap().action), (1920, 1080));
        let hevc = ClientProfile::parse("1:avc,hevc,aac,ac3").unwrap();
        let mut plan = playback::plan(&media, &hevc, &req).unwrap();
        cap_transcode_height(&mut plan, &media);
        assert_eq!(output_size(v, &plan.video.unwrap().action), (3840, 2160));
    }

    #[test]
    fn a_scaled_width_is_rounded_as_ffmpeg_rounds_it() {
        // Measured with ffmpeg 5.1 `scale=-2:<h>` on these sources.
        for ((w, h), target, out) in [
            ((1920, 1080), 480, 854),
            ((1920, 1080), 720, 1280),
            ((3840, 2160), 1080, 1920),
            ((1440, 1080), 480, 640),
            ((720, 576), 480, 600),
        ] {
            let media = Media::from_ffprobe_json(
                format!(
                    r#"{{"streams":[{{"index":0,"codec_type":"video","codec_name":"h264",
                    "width":{w},"height":{h}}}],"format":{{"format_name":"matroska,webm"}}}}"#
                )
                .as_bytes(),
            )
            .unwrap();
            let (_, v) = media.video().unwrap();
            let action = VideoAction::TranscodeH264 {
                filters: vec![VideoFilter::ScaleToHeight(target)],
                max_kbps: 1_500,
            };
            assert_eq!(output_size(v, &action), (out, target), "{w}x{h} → {target}");
        }
    }
}
