//! The ffmpeg command for a plan: a pure argument builder, checked against ffmpeg 5.1
//! (Debian 12). One job packages one plan from a start segment onwards into HLS segments
//! (`<n>.m4s` + `init.mp4`, or `<n>.ts`) in a work directory; the engine writes the playlists
//! itself from the same segment boundaries (`SegmentWindow::boundary`).

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use url::Url;

use super::media::Media;
use super::plan::{AudioAction, Mode, Plan, SegmentFormat, VideoAction, VideoFilter};

/// Segments after a start or a seek: this many short ones, then the normal length, so the
/// first frame needs only a short segment encoded. Two because that is what ffmpeg 5.1's HLS
/// muxer does with `-hls_init_time` and `-hls_list_size 1` (measured: 2, 2, then
/// `hls_time`); with `-hls_list_size 0` it would keep every segment short.
pub const SHORT_SEGMENTS: u64 = 2;

/// A transcode started at 0 begins with segments growing to the normal length, each cut at a
/// keyframe the encoder is made to place there: the first frame needs 1 s of film encoded
/// (a 2 s 4K HEVC → 1080p segment takes 1.85 s of ffmpeg on 2 cores, 1 s 1.19 s), and no
/// segment is more than twice the film the player holds when it is asked for, so a transcode
/// barely faster than real time (4K: 1.4×) does not starve the player at the first 6 s one
/// (with 1, 1 then 6 s it would wait ~1.8 s at the 2 s mark). Lengths before `segment_seconds`.
pub const RAMP: [f64; 4] = [1.0, 1.0, 2.0, 4.0];

/// A stalled upstream (the loopback proxy waiting on a dead origin) ends the job instead of
/// holding its ffmpeg slot: the proxy's own retries take well under this.
const REMOTE_IO_TIMEOUT_US: u64 = 20_000_000;

#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// A file on this machine.
    Local(PathBuf),
    /// A remote file through the signed proxy on the loopback listener: ffmpeg never resolves
    /// or connects to a remote host itself, so every byte passes the SSRF guard.
    Proxied(Url),
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ArgsError {
    #[error("a direct-play plan needs no ffmpeg")]
    DirectPlay,
    #[error("ffmpeg may read remote files only through the loopback proxy")]
    NotLoopback,
    #[error("burning a text subtitle of a remote file needs it extracted first")]
    SubtitleNotExtracted,
    #[error("an ffmpeg command needs at least one output")]
    NoOutput,
    #[error("renditions packaged by one ffmpeg share their input and start, and one is the video")]
    NotTogether,
}

/// Where a job starts and how it cuts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SegmentWindow {
    /// The number of the first segment written (`-start_number`).
    pub start_segment: u64,
    /// Seconds from the start of the file (the player's timeline) where it begins.
    pub start: f64,
    /// Length of the first `SHORT_SEGMENTS` segments.
    pub short_seconds: f64,
    /// Length of every later segment.
    pub segment_seconds: f64,
    /// The job's first segments follow `RAMP` instead of `short_seconds` (a transcode from 0).
    pub ramp: bool,
}

impl SegmentWindow {
    pub fn at(start_segment: u64, start: f64) -> SegmentWindow {
        SegmentWindow {
            start_segment,
            start,
            short_seconds: 2.0,
            segment_seconds: 6.0,
            ramp: false,
        }
    }

    /// Start of the k-th segment of this job, on the file's timeline (exact for a transcode,
    /// where keyframes are forced there; for a copy the cut is the next source keyframe).
    pub fn boundary(&self, k: u64) -> f64 {
        if self.ramp {
            // Never longer than the normal length (a library set to 2 s segments: 1, 1, 2, 2…).
            let n = (k as usize).min(RAMP.len());
            let ramped: f64 = RAMP[..n].iter().map(|s| s.min(self.segment_seconds)).sum();
            return self.start + ramped + k.saturating_sub(n as u64) as f64 * self.segment_seconds;
        }
        let short = k.min(SHORT_SEGMENTS) as f64 * self.short_seconds;
        let long = k.saturating_sub(SHORT_SEGMENTS) as f64 * self.segment_seconds;
        self.start + short + long
    }
}

#[derive(Debug, Clone)]
pub struct Job<'a> {
    pub plan: &'a Plan,
    pub media: &'a Media,
    pub input: &'a Input,
    pub window: SegmentWindow,
    /// The work directory the segments and ffmpeg's (unused) playlist go to.
    pub out_dir: &'a Path,
    /// Decoder, filter and encoder threads; see `default_threads`.
    pub threads: usize,
    /// x264 preset (the library's `transcode_preset`).
    pub preset: &'a str,
    /// An extracted copy of the text subtitle to burn, required for a remote input.
    pub subtitle_file: Option<&'a Path>,
    /// For a local file: the only demuxer ffmpeg may use (ffprobe's `format_name`, as
    /// `library::confine::input_args` passes it), so a file replaced by a playlist after the
    /// probe is not followed. Ignored unless plain (`[A-Za-z0-9_,]`).
    pub format_whitelist: Option<&'a str>,
}

/// Every core: a job is what a viewer is waiting for, the semaphore (`max_ffmpeg`) bounds
/// how many run, and x264's speed scales with threads up to far more cores than we have.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

pub fn args(job: &Job<'_>) -> Result<Vec<String>, ArgsError> {
    args_together(std::slice::from_ref(job))
}

/// One ffmpeg for several renditions of the same input from the same start (the video and the
/// default audio track of a film just resolved), each into its own work directory: one
/// process start instead of two, which is most of a remux's cost (`ffmpeg -version` alone is
/// 70 ms of CPU on Debian 12, mostly the dynamic loader binding 215 libraries; a copied
/// first segment 110 ms) at the moment the browser needs the same 2 cores for the page.
/// The input and its options are the first job's.
pub fn args_together(jobs: &[Job<'_>]) -> Result<Vec<String>, ArgsError> {
    let first = jobs.first().ok_or(ArgsError::NoOutput)?;
    let same_input = jobs
        .iter()
        .all(|j| j.input == first.input && j.window.start == first.window.start);
    if !same_input {
        return Err(ArgsError::NotTogether);
    }
    if jobs.iter().filter(|j| j.plan.video.is_some()).count() > 1 {
        // One `-filter_complex` per process, and the engine has one video rendition.
        return Err(ArgsError::NotTogether);
    }
    let mut a: Vec<String> = strs(&["-hide_banner", "-nostdin", "-loglevel", "error", "-y"]);
    let video_first = jobs
        .iter()
        .find(|j| j.plan.video.is_some())
        .unwrap_or(first);
    input_args(video_first, &mut a)?;
    for job in jobs {
        output_args(job, &mut a)?;
    }
    Ok(a)
}

/// The streams, codecs and HLS muxer of one output.
fn output_args(job: &Job<'_>, a: &mut Vec<String>) -> Result<(), ArgsError> {
    let plan = job.plan;
    let segments = match (plan.mode, plan.segments) {
        (Mode::DirectPlay, _) | (_, None) => return Err(ArgsError::DirectPlay),
        (_, Some(s)) => s,
    };
    if let Some(v) = &plan.video {
        video_args(job, v.stream, &v.action, a)?;
    }
    if let Some(au) = &plan.audio {
        a.extend(["-map".into(), format!("0:{}", au.stream)]);
        match au.action {
            AudioAction::Copy => a.extend(strs(&["-c:a", "copy"])),
            AudioAction::TranscodeAac { channels } => {
                // `-ac 2` uses libswresample's downmix matrix (centre and surrounds at -3 dB,
                // normalised so the sum never clips), not a plain channel drop.
                let rate = if channels > 2 { "384k" } else { "160k" };
                a.extend(strs(&["-c:a", "aac", "-ac"]));
                a.push(channels.to_string());
                a.extend(["-b:a".into(), rate.into()]);
            }
        }
    }
    a.extend(strs(&["-sn", "-dn", "-map_chapters", "-1"]));
    if job.window.start > 0.0 {
        // Input seeking restarts timestamps at 0; the segments must sit at their place on the
        // file's timeline so that segments of different jobs line up.
        a.extend([
            "-output_ts_offset".into(),
            format!("{:.3}", job.window.start),
        ]);
    }
    hls_args(job, segments, a);
    Ok(())
}

/// A remote input must be a plain `http://` URL on a loopback address (the proxy on our own
/// listener); anything else is refused before ffmpeg or ffprobe runs.
pub fn check_input(input: &Input) -> Result<(), ArgsError> {
    let Input::Proxied(url) = input else {
        return Ok(());
    };
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        _ => false,
    };
    if !loopback || url.scheme() != "http" {
        return Err(ArgsError::NotLoopback);
    }
    Ok(())
}

/// The input options of a remote file read through the loopback proxy (`check_input`): HTTP
/// only, and a stalled upstream ends ffmpeg.
pub fn proxied_input(input: &Input) -> Result<Vec<String>, ArgsError> {
    check_input(input)?;
    let mut a = strs(&["-protocol_whitelist", "http,tcp"]);
    a.extend(["-rw_timeout".into(), REMOTE_IO_TIMEOUT_US.to_string()]);
    Ok(a)
}

/// Input options and the input itself: a local file held to the `file` protocol (and its
/// demuxer), or the loopback proxy only.
fn input_args(job: &Job<'_>, a: &mut Vec<String>) -> Result<(), ArgsError> {
    let input = match job.input {
        Input::Local(path) => {
            // Only the `file` protocol, as `library::confine::input_args`: no `concat:`,
            // `subfile:` or network protocol a crafted file could name.
            a.extend(strs(&["-protocol_whitelist", "file"]));
            let plain = |f: &str| {
                !f.is_empty()
                    && f.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b',')
            };
            if let Some(format) = job.format_whitelist.filter(|f| plain(f)) {
                a.extend(["-format_whitelist".into(), format.to_string()]);
            }
            // `file:` so a name starting with '-' or holding ':' is never read as an option or
            // another protocol.
            format!("file:{}", path.display())
        }
        Input::Proxied(url) => {
            a.extend(proxied_input(job.input)?);
            url.to_string()
        }
    };
    a.extend(["-threads".into(), job.threads.max(1).to_string()]);
    let transcode_video = job
        .plan
        .video
        .as_ref()
        .is_some_and(|v| matches!(v.action, VideoAction::TranscodeH264 { .. }));
    if transcode_video {
        // Rotation is applied by our own `transpose`, in a known place in the filter chain.
        a.push("-noautorotate".into());
    }
    if job.window.start > 0.0 {
        // Before `-i`: the demuxer seeks (a Range request for a remote file) instead of
        // decoding everything up to the start.
        a.extend(["-ss".into(), format!("{:.3}", job.window.start)]);
    }
    a.extend(["-i".into(), input]);
    Ok(())
}

/// The video stream: copied, or filtered and encoded to H.264 with keyframes on the
/// segment boundaries.
fn video_args(
    job: &Job<'_>,
    stream: u32,
    action: &VideoAction,
    a: &mut Vec<String>,
) -> Result<(), ArgsError> {
    let (filters, max_kbps) = match action {
        VideoAction::Copy => {
            a.extend(["-map".into(), format!("0:{stream}")]);
            a.extend(strs(&["-c:v", "copy"]));
            return Ok(());
        }
        VideoAction::TranscodeH264 { filters, max_kbps } => (filters, max_kbps),
    };
    let threads = job.threads.max(1).to_string();
    let graph = filter_graph(job, stream, filters)?;
    a.extend(["-filter_complex_threads".into(), threads.clone()]);
    a.extend(["-filter_complex".into(), graph]);
    a.extend(strs(&["-map", "[v]"]));
    a.extend(strs(&["-c:v", "libx264", "-preset"]));
    a.push(job.preset.into());
    a.extend(strs(&["-profile:v", "high", "-crf", "23"]));
    a.extend(["-maxrate".into(), format!("{max_kbps}k")]);
    a.extend(["-bufsize".into(), format!("{}k", max_kbps * 2)]);
    // Keyframes exactly at the segment boundaries and nowhere else, so every segment starts
    // with one and the playlist's durations are true.
    a.extend(strs(&["-sc_threshold", "0"]));
    a.extend(["-force_key_frames".into(), keyframe_expr(&job.window)]);
    if filters.iter().any(|f| matches!(f, VideoFilter::Tonemap(_))) {
        a.extend(strs(&[
            "-color_primaries",
            "bt709",
            "-color_trc",
            "bt709",
            "-colorspace",
            "bt709",
        ]));
    }
    a.extend(["-threads".into(), threads]);
    Ok(())
}

/// The HLS muxer: short segments first, numbered from the job's start, into the work folder.
fn hls_args(job: &Job<'_>, segments: SegmentFormat, a: &mut Vec<String>) {
    let dir = job.out_dir;
    // A copied stream seeks to the demuxer's seek point before the start (Matroska: the
    // cluster's); what lies before the start is dropped, so the job's first segment begins
    // at the keyframe it was started at, as the engine's playlist says.
    a.extend(strs(&["-copypriorss", "0"]));
    a.extend(strs(&["-f", "hls"]));
    if job.window.ramp {
        // The muxer cuts at the first keyframe after each multiple of `-hls_time`; with the
        // ramp's shortest step, every forced keyframe (none other: `-sc_threshold 0`) is a cut.
        a.extend(["-hls_time".into(), secs(RAMP[0])]);
    } else if job.window.short_seconds < job.window.segment_seconds {
        // Only when shorter: ffmpeg 5.1 with `-hls_init_time` equal to `-hls_time` cuts a
        // copied stream at every keyframe after the first two segments (measured).
        a.extend(["-hls_init_time".into(), secs(job.window.short_seconds)]);
    }
    if !job.window.ramp {
        a.extend(["-hls_time".into(), secs(job.window.segment_seconds)]);
    }
    a.extend(strs(&["-hls_list_size", "1"]));
    a.extend(["-start_number".into(), job.window.start_segment.to_string()]);
    // Segments appear under their final name only once complete.
    a.extend(strs(&["-hls_flags", "independent_segments+temp_file"]));
    match segments {
        SegmentFormat::Fmp4 => {
            a.extend(strs(&["-hls_segment_type", "fmp4"]));
            a.extend(strs(&["-hls_fmp4_init_filename", "init.mp4"]));
            // Fragment times (`tfdt`) on the file's timeline rather than from the job's start,
            // and the same init segment whichever job wrote it (checked with ffmpeg 5.1): a
            // job started by a seek continues the segments of another.
            a.extend(strs(&["-hls_segment_options", "movflags=+frag_discont"]));
            a.extend([
                "-hls_segment_filename".into(),
                dir.join("%d.m4s").display().to_string(),
            ]);
        }
        SegmentFormat::Ts => {
            a.extend(strs(&["-hls_segment_type", "mpegts"]));
            // Every rendition is an output of its own (an HLS muxer with an MPEG-TS muxer in
            // it), and by default each moves its first timestamp up to 0 when it is negative,
            // which the first frames of a video with B-frames always are: a copied 1080p H.264
            // came out 62 ms later than its audio, for the whole film, and a seek's job (whose
            // timestamps are not negative) 62 ms earlier than the start's (checked with ffmpeg
            // 5.1). Not moved, the timestamps are the file's plus the MPEG-TS muxer's own 1.4 s,
            // which keeps a B-frame delay positive, in every output alike.
            a.extend(strs(&[
                "-avoid_negative_ts",
                "disabled",
                "-hls_segment_options",
                "avoid_negative_ts=disabled",
            ]));
            a.extend([
                "-hls_segment_filename".into(),
                dir.join("%d.ts").display().to_string(),
            ]);
        }
    }
    a.push(dir.join("ffmpeg.m3u8").display().to_string());
}

fn strs(s: &[&str]) -> Vec<String> {
    s.iter().map(|s| s.to_string()).collect()
}

fn secs(s: f64) -> String {
    format!("{s:.3}")
}

/// `-force_key_frames`: times relative to the job's first frame (input seeking restarts the
/// clock; the offset is added at muxing). `n_forced` counts the keyframes already forced, the
/// first at 0.
fn keyframe_expr(w: &SegmentWindow) -> String {
    if w.ramp {
        // n_forced 0, 1, 2, 3 → 0, 1, 2, 4 (the ramp's starts), then every segment_seconds.
        let starts: Vec<f64> = (0..RAMP.len() as u64)
            .map(|k| w.boundary(k) - w.start)
            .collect();
        let n = RAMP.len();
        let table = starts
            .iter()
            .enumerate()
            .rev()
            .skip(1)
            .fold(format!("{}", starts[n - 1]), |inner, (i, t)| {
                format!("if(lt(n_forced,{}),{t},{inner})", i + 1)
            });
        let after = w.boundary(n as u64) - w.start;
        return format!(
            "expr:gte(t,if(lt(n_forced,{n}),{table},{after}+(n_forced-{n})*{}))",
            w.segment_seconds
        );
    }
    let short = w.short_seconds;
    let long = w.segment_seconds;
    let n = SHORT_SEGMENTS;
    format!(
        "expr:gte(t,if(lt(n_forced,{n}),n_forced*{short},{}+(n_forced-{n})*{long}))",
        n as f64 * short
    )
}

/// The `-filter_complex` graph, ending in `[v]`.
fn filter_graph(job: &Job<'_>, stream: u32, filters: &[VideoFilter]) -> Result<String, ArgsError> {
    let mut chain: Vec<String> = Vec::new();
    let mut prefix = format!("[0:{stream}]");
    for f in filters {
        match f {
            VideoFilter::Deinterlace => {
                // One frame per frame (not per field): the frame rate stays the source's.
                chain.push("bwdif=mode=send_frame:parity=auto:deint=all".into());
            }
            VideoFilter::Tonemap(_) => {
                // To linear light, tone-map in float RGB (hable keeps highlights), then BT.709.
                // `npl=100`: SDR reference white at 100 nits, as BT.2408 maps it.
                chain.extend(
                    [
                        "zscale=t=linear:npl=100",
                        "format=gbrpf32le",
                        "zscale=p=bt709",
                        "tonemap=tonemap=hable:desat=0",
                        "zscale=t=bt709:m=bt709:r=tv",
                        "format=yuv420p",
                    ]
                    .map(String::from),
                );
            }
            VideoFilter::OverlayImageSubtitle(sub) => {
                // ffmpeg turns the subtitle stream into a transparent video (sub2video) that
                // `overlay` draws on the picture; the chain continues after it.
                let body = if chain.is_empty() {
                    "null".to_string()
                } else {
                    chain.join(",")
                };
                prefix = format!("{prefix}{body}[base];[base][0:{sub}]overlay=eof_action=pass,");
                chain.clear();
            }
            VideoFilter::BurnTextSubtitle(sub) => {
                let (file, si) = match (job.subtitle_file, job.input) {
                    (Some(f), _) => (f.to_path_buf(), 0),
                    (None, Input::Local(p)) => {
                        let ordinal = job
                            .media
                            .subtitles()
                            .position(|(s, _)| s.index == *sub)
                            .unwrap_or(0);
                        (p.clone(), ordinal)
                    }
                    (None, Input::Proxied(_)) => return Err(ArgsError::SubtitleNotExtracted),
                };
                let path = escape_graph(&escape_value(&file.display().to_string()));
                let start = job.window.start;
                if start > 0.0 {
                    // libass draws by the frame's timestamp: put the file's clock back for it.
                    chain.push(format!("setpts=PTS+{start:.3}/TB"));
                }
                chain.push(format!("subtitles=filename={path}:si={si}"));
                if start > 0.0 {
                    chain.push(format!("setpts=PTS-{start:.3}/TB"));
                }
            }
            VideoFilter::Rotate(deg) => chain.push(
                match deg {
                    90 => "transpose=clock",
                    180 => "hflip,vflip",
                    270 => "transpose=cclock",
                    _ => "null",
                }
                .into(),
            ),
            VideoFilter::ScaleToHeight(h) => chain.push(format!("scale=-2:{h}")),
        }
    }
    // 8-bit 4:2:0: what H.264 High decodes everywhere (a 10-bit source would otherwise give
    // High 10, which no browser plays).
    chain.push("format=yuv420p".into());
    Ok(format!("{prefix}{}[v]", chain.join(",")))
}

/// Escapes an option value inside a filter description (`\`, `'`, `:`).
fn escape_value(s: &str) -> String {
    escape(s, "\\':")
}

/// Escapes a filter description inside a filtergraph (`\`, `'`, `[`, `]`, `,`, `;`).
fn escape_graph(s: &str) -> String {
    escape(s, "\\'[],;")
}

fn escape(s: &str, special: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if special.contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::playback::media::Hdr;
    use crate::playback::plan::{AudioDecision, VideoDecision};

    fn media() -> Media {
        Media::from_ffprobe_json(
            br#"{"streams":[{"index":0,"codec_type":"video","codec_name":"hevc"},
                {"index":1,"codec_type":"audio","codec_name":"ac3","channels":6},
                {"index":2,"codec_type":"subtitle","codec_name":"subrip"},
                {"index":3,"codec_type":"subtitle","codec_name":"ass"}],
                "format":{"format_name":"matroska,webm","duration":"60"}}"#,
        )
        .unwrap()
    }

    fn plan(video: VideoAction, audio: AudioAction, segments: SegmentFormat) -> Plan {
        Plan {
            mode: Mode::Transcode,
            segments: Some(segments),
            video: Some(VideoDecision {
                stream: 0,
                action: video,
                reason: String::new(),
            }),
            audio: Some(AudioDecision {
                stream: 1,
                action: audio,
                reason: String::new(),
            }),
            subtitles: vec![],
            container_reason: String::new(),
        }
    }

    fn build(plan: &Plan, input: &Input, window: SegmentWindow) -> Result<Vec<String>, ArgsError> {
        let m = media();
        args(&Job {
            plan,
            media: &m,
            input,
            window,
            out_dir: Path::new("/work/job"),
            threads: 2,
            preset: "veryfast",
            subtitle_file: None,
            format_whitelist: Some("matroska,webm"),
        })
    }

    fn value<'a>(a: &'a [String], flag: &str) -> Option<&'a str> {
        a.iter().position(|x| x == flag).map(|i| a[i + 1].as_str())
    }

    fn local() -> Input {
        Input::Local(PathBuf::from("/media/Film: part 1.mkv"))
    }

    #[test]
    fn a_remux_copies_into_fmp4_segments_with_an_init_segment() {
        let p = plan(VideoAction::Copy, AudioAction::Copy, SegmentFormat::Fmp4);
        let a = build(&p, &local(), SegmentWindow::at(0, 0.0)).unwrap();
        assert_eq!(value(&a, "-c:v"), Some("copy"));
        assert_eq!(value(&a, "-c:a"), Some("copy"));
        assert_eq!(value(&a, "-hls_segment_type"), Some("fmp4"));
        assert_eq!(value(&a, "-hls_fmp4_init_filename"), Some("init.mp4"));
        assert_eq!(value(&a, "-hls_segment_filename"), Some("/work/job/%d.m4s"));
        assert_eq!(value(&a, "-i"), Some("file:/media/Film: part 1.mkv"));
        assert_eq!(value(&a, "-protocol_whitelist"), Some("file"));
        assert_eq!(value(&a, "-format_whitelist"), Some("matroska,webm"));
        assert!(!a.contains(&"-ss".to_string()), "starts at the beginning");
        assert!(!a.contains(&"-noautorotate".to_string()));
        assert!(!a.contains(&"-filter_complex".to_string()));
        assert_eq!(value(&a, "-hls_init_time"), Some("2.000"));
        assert_eq!(value(&a, "-hls_time"), Some("6.000"));
        assert_eq!(value(&a, "-hls_list_size"), Some("1"), "see SHORT_SEGMENTS");
    }

    #[test]
    fn the_video_and_an_audio_track_are_packaged_by_one_ffmpeg_each_into_its_folder() {
        let m = media();
        let both = plan(
            VideoAction::TranscodeH264 {
                filters: vec![],
                max_kbps: 8000,
            },
            AudioAction::TranscodeAac { channels: 2 },
            SegmentFormat::Ts,
        );
        let video = Plan {
            audio: None,
            ..both.clone()
        };
        let audio = Plan {
            video: None,
            ..both.clone()
        };
        let input = local();
        let job = |plan, out_dir| Job {
            plan,
            media: &m,
            input: &input,
            window: SegmentWindow::at(0, 0.0),
            out_dir,
            threads: 2,
            preset: "veryfast",
            subtitle_file: None,
            format_whitelist: Some("matroska,webm"),
        };
        let (v_dir, a_dir) = (Path::new("/work/v"), Path::new("/work/a0"));
        // Listed audio first: the input options are still the video's.
        let a = args_together(&[job(&audio, a_dir), job(&video, v_dir)]).unwrap();
        let count = |flag: &str| a.iter().filter(|x| *x == flag).count();
        assert_eq!(count("-i"), 1, "one input read once: {a:?}");
        assert_eq!(count("-noautorotate"), 1, "the video's input option");
        assert_eq!(count("-f"), 2, "two HLS outputs");
        assert_eq!(count("-filter_complex"), 1);
        // Each output's options come before its own playlist, and only its streams.
        let at = |x: &str| a.iter().position(|y| y == x).unwrap();
        let a_out = at("/work/a0/ffmpeg.m3u8");
        let v_out = at("/work/v/ffmpeg.m3u8");
        assert!(at("-c:a") < a_out && a_out < at("-c:v") && at("-c:v") < v_out);
        assert!(
            a.contains(&"/work/a0/%d.ts".to_string()) && a.contains(&"/work/v/%d.ts".to_string())
        );
        assert_eq!(a.last().map(String::as_str), Some("/work/v/ffmpeg.m3u8"));

        // Renditions of different inputs or starts, or two videos, are never put together.
        let other = Input::Local(PathBuf::from("/media/Other.mkv"));
        let elsewhere = Job {
            input: &other,
            ..job(&audio, a_dir)
        };
        assert_eq!(
            args_together(&[job(&video, v_dir), elsewhere]),
            Err(ArgsError::NotTogether)
        );
        let later = Job {
            window: SegmentWindow::at(3, 8.0),
            ..job(&audio, a_dir)
        };
        assert_eq!(
            args_together(&[job(&video, v_dir), later]),
            Err(ArgsError::NotTogether)
        );
        assert_eq!(
            args_together(&[job(&video, v_dir), job(&video, a_dir)]),
            Err(ArgsError::NotTogether)
        );
        assert_eq!(args_together(&[]), Err(ArgsError::NoOutput));
    }

    #[test]
    fn a_remote_file_is_read_only_through_the_loopback_proxy() {
        let p = plan(VideoAction::Copy, AudioAction::Copy, SegmentFormat::Fmp4);
        let proxied =
            Input::Proxied(Url::parse("http://127.0.0.1:8080/api/proxy/file?t=abc").unwrap());
        let a = build(&p, &proxied, SegmentWindow::at(0, 0.0)).unwrap();
        assert_eq!(value(&a, "-protocol_whitelist"), Some("http,tcp"));
        assert_eq!(
            value(&a, "-i"),
            Some("http://127.0.0.1:8080/api/proxy/file?t=abc")
        );
        assert_eq!(value(&a, "-rw_timeout"), Some("20000000"));
        let v6 = Input::Proxied(Url::parse("http://[::1]:8080/p").unwrap());
        assert!(build(&p, &v6, SegmentWindow::at(0, 0.0)).is_ok());
        for url in [
            "http://cdn.example.com/film.mkv",
            "https://127.0.0.1/p",
            "http://10.0.0.5/p",
            "http://localhost.evil.com/p",
        ] {
            let input = Input::Proxied(Url::parse(url).unwrap());
            assert_eq!(
                build(&p, &input, SegmentWindow::at(0, 0.0)),
                Err(ArgsError::NotLoopback),
                "{url}"
            );
        }
    }

    #[test]
    fn a_seek_starts_at_its_time_with_its_segment_number() {
        let p = plan(VideoAction::Copy, AudioAction::Copy, SegmentFormat::Ts);
        let a = build(&p, &local(), SegmentWindow::at(40, 230.5)).unwrap();
        let ss = a.iter().position(|x| x == "-ss").unwrap();
        let i = a.iter().position(|x| x == "-i").unwrap();
        assert!(ss < i, "input seeking");
        assert_eq!(a[ss + 1], "230.500");
        assert_eq!(value(&a, "-output_ts_offset"), Some("230.500"));
        assert_eq!(value(&a, "-start_number"), Some("40"));
        assert_eq!(value(&a, "-hls_segment_type"), Some("mpegts"));
        assert_eq!(value(&a, "-hls_segment_filename"), Some("/work/job/%d.ts"));
    }

    #[test]
    fn ts_outputs_keep_the_files_timestamps_and_fmp4_outputs_their_edit_list() {
        for window in [SegmentWindow::at(0, 0.0), SegmentWindow::at(40, 230.5)] {
            let ts = plan(VideoAction::Copy, AudioAction::Copy, SegmentFormat::Ts);
            let a = build(&ts, &local(), window).unwrap();
            assert_eq!(value(&a, "-avoid_negative_ts"), Some("disabled"), "{a:?}");
            assert_eq!(
                value(&a, "-hls_segment_options"),
                Some("avoid_negative_ts=disabled"),
                "the MPEG-TS muxer inside the HLS one too"
            );
        }
        // fMP4: the muxer's shift is what its edit list undoes (Chromium applies it).
        let fmp4 = plan(VideoAction::Copy, AudioAction::Copy, SegmentFormat::Fmp4);
        let a = build(&fmp4, &local(), SegmentWindow::at(0, 0.0)).unwrap();
        assert_eq!(value(&a, "-avoid_negative_ts"), None);
    }

    #[test]
    fn a_ramped_transcode_cuts_at_1_2_4_8_then_every_segment() {
        let w = SegmentWindow {
            ramp: true,
            ..SegmentWindow::at(0, 0.0)
        };
        let b: Vec<f64> = (0..7).map(|k| w.boundary(k)).collect();
        assert_eq!(b, vec![0.0, 1.0, 2.0, 4.0, 8.0, 14.0, 20.0]);
        // Never longer than the normal length.
        let two = SegmentWindow {
            segment_seconds: 2.0,
            ..w
        };
        let b: Vec<f64> = (0..6).map(|k| two.boundary(k)).collect();
        assert_eq!(b, vec![0.0, 1.0, 2.0, 4.0, 6.0, 8.0]);
        assert_eq!(
            keyframe_expr(&w),
            "expr:gte(t,if(lt(n_forced,4),if(lt(n_forced,1),0,if(lt(n_forced,2),1,if(lt(n_forced,3),2,4))),8+(n_forced-4)*6))"
        );
    }

    #[test]
    fn segment_boundaries_are_short_then_normal() {
        let w = SegmentWindow::at(10, 100.0);
        let b: Vec<f64> = (0..5).map(|k| w.boundary(k)).collect();
        assert_eq!(b, vec![100.0, 102.0, 104.0, 110.0, 116.0]);
        assert_eq!(
            keyframe_expr(&w),
            "expr:gte(t,if(lt(n_forced,2),n_forced*2,4+(n_forced-2)*6))"
        );
    }

    #[test]
    fn a_transcode_has_every_filter_in_order_and_sdr_signalling() {
        let filters = vec![
            VideoFilter::Deinterlace,
            VideoFilter::Tonemap(Hdr::Hdr10),
            VideoFilter::Rotate(90),
            VideoFilter::ScaleToHeight(720),
        ];
        let p = plan(
            VideoAction::TranscodeH264 {
                filters,
                max_kbps: 4_000,
            },
            AudioAction::TranscodeAac { channels: 2 },
            SegmentFormat::Ts,
        );
        let a = build(&p, &local(), SegmentWindow::at(0, 0.0)).unwrap();
        let graph = value(&a, "-filter_complex").unwrap();
        assert_eq!(
            graph,
            "[0:0]bwdif=mode=send_frame:parity=auto:deint=all,zscale=t=linear:npl=100,format=gbrpf32le,\
             zscale=p=bt709,tonemap=tonemap=hable:desat=0,zscale=t=bt709:m=bt709:r=tv,format=yuv420p,\
             transpose=clock,scale=-2:720,format=yuv420p[v]"
        );
        assert!(
            a.contains(&"-noautorotate".to_string()),
            "no second rotation by ffmpeg"
        );
        assert_eq!(value(&a, "-map"), Some("[v]"));
        assert_eq!(value(&a, "-c:v"), Some("libx264"));
        assert_eq!(value(&a, "-preset"), Some("veryfast"));
        assert_eq!(value(&a, "-maxrate"), Some("4000k"));
        assert_eq!(value(&a, "-bufsize"), Some("8000k"));
        assert_eq!(value(&a, "-color_trc"), Some("bt709"));
        assert_eq!(value(&a, "-sc_threshold"), Some("0"));
        assert!(value(&a, "-force_key_frames").unwrap().starts_with("expr:"));
        assert_eq!(value(&a, "-threads"), Some("2"));
        assert_eq!(value(&a, "-filter_complex_threads"), Some("2"));
        assert_eq!(value(&a, "-c:a"), Some("aac"));
        assert_eq!(value(&a, "-ac"), Some("2"));
    }

    #[test]
    fn a_quality_choice_scales_and_caps_the_encoder_by_the_table() {
        use crate::playback::plan::{self, Request};
        use crate::playback::profile::ClientProfile;
        let m = Media::from_ffprobe_json(
            br#"{"streams":[{"index":0,"codec_type":"video","codec_name":"h264",
                "profile":"High","pix_fmt":"yuv420p","width":1920,"height":1080},
                {"index":1,"codec_type":"audio","codec_name":"aac","channels":2}],
                "format":{"format_name":"matroska,webm","duration":"60","bit_rate":"12000000"}}"#,
        )
        .unwrap();
        for (max, graph, maxrate, bufsize) in [
            // 1080 lines fit 1080p, 12 Mb/s does not: re-encoded at its own size.
            (1080, "[0:0]format=yuv420p[v]", "8000k", "16000k"),
            (720, "[0:0]scale=-2:720,format=yuv420p[v]", "4000k", "8000k"),
            (480, "[0:0]scale=-2:480,format=yuv420p[v]", "1500k", "3000k"),
        ] {
            let profile = ClientProfile {
                max_height: Some(max),
                ..ClientProfile::default()
            };
            let req = Request {
                hls: true,
                ..Request::default()
            };
            let p = plan::plan(&m, &profile, &req).unwrap();
            let a = args(&Job {
                plan: &p,
                media: &m,
                input: &local(),
                window: SegmentWindow::at(0, 0.0),
                out_dir: Path::new("/work/job"),
                threads: 2,
                preset: "veryfast",
                subtitle_file: None,
                format_whitelist: None,
            })
            .unwrap();
            assert_eq!(value(&a, "-filter_complex"), Some(graph), "max={max}");
            assert_eq!(value(&a, "-maxrate"), Some(maxrate), "max={max}");
            assert_eq!(value(&a, "-bufsize"), Some(bufsize), "max={max}");
        }
    }

    #[test]
    fn an_image_subtitle_is_overlaid_before_rotation_and_scaling() {
        let p = plan(
            VideoAction::TranscodeH264 {
                filters: vec![
                    VideoFilter::OverlayImageSubtitle(2),
                    VideoFilter::ScaleToHeight(480),
                ],
                max_kbps: 1_500,
            },
            AudioAction::TranscodeAac { channels: 6 },
            SegmentFormat::Ts,
        );
        let a = build(&p, &local(), SegmentWindow::at(0, 0.0)).unwrap();
        assert_eq!(
            value(&a, "-filter_complex").unwrap(),
            "[0:0]null[base];[base][0:2]overlay=eof_action=pass,scale=-2:480,format=yuv420p[v]"
        );
        assert_eq!(value(&a, "-ac"), Some("6"));
        assert_eq!(value(&a, "-b:a"), Some("384k"));
    }

    #[test]
    fn a_text_subtitle_is_burned_from_an_escaped_path_at_the_right_time() {
        let p = plan(
            VideoAction::TranscodeH264 {
                filters: vec![VideoFilter::BurnTextSubtitle(3)],
                max_kbps: 8_000,
            },
            AudioAction::Copy,
            SegmentFormat::Ts,
        );
        let a = build(&p, &local(), SegmentWindow::at(3, 12.0)).unwrap();
        assert_eq!(
            value(&a, "-filter_complex").unwrap(),
            r"[0:0]setpts=PTS+12.000/TB,subtitles=filename=/media/Film\\: part 1.mkv:si=1,setpts=PTS-12.000/TB,format=yuv420p[v]"
        );
        let remote = Input::Proxied(Url::parse("http://127.0.0.1:1/p").unwrap());
        assert_eq!(
            build(&p, &remote, SegmentWindow::at(0, 0.0)),
            Err(ArgsError::SubtitleNotExtracted)
        );
    }

    #[test]
    fn filter_values_are_escaped_twice() {
        assert_eq!(
            escape_graph(&escape_value("a'b:c,d[e];f\\g")),
            r"a\\\'b\\:c\,d\[e\]\;f\\\\g"
        );
    }

    #[test]
    fn direct_play_runs_no_ffmpeg() {
        let mut p = plan(VideoAction::Copy, AudioAction::Copy, SegmentFormat::Fmp4);
        p.mode = Mode::DirectPlay;
        p.segments = None;
        assert_eq!(
            build(&p, &local(), SegmentWindow::at(0, 0.0)),
            Err(ArgsError::DirectPlay)
        );
    }
}
