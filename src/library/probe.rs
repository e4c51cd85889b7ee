//! ffprobe: what a file contains (duration, container, codecs, audio and subtitle tracks),
//! and the decisions that follow from it (direct play, remux or transcode).

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::process::Command;

use super::naming::{normalize_lang, track_label};
use super::{LibraryError, confine};
use crate::playback::Media;
use crate::playback::media::FFPROBE_ARGS;
use crate::playback::media::{Stream, SubtitleKind};
use crate::playback::plan::MATROSKA_FILE_AUDIO;

/// What the scanner keeps about a file, stored as JSON in the database.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProbeInfo {
    pub format: String,
    /// Seconds.
    pub duration: f64,
    /// Seconds; the timestamp of the first frame (non-zero in MPEG-TS files).
    pub start_time: f64,
    pub bit_rate: Option<u64>,
    pub video: VideoTrack,
    pub audio: Vec<AudioTrack>,
    /// Text subtitle streams (image subtitles such as PGS cannot become WebVTT).
    pub subtitles: Vec<SubtitleTrack>,
    /// Image subtitle streams (PGS, VobSub, DVB): a browser cannot draw them, so they are
    /// offered burned into a transcode. Absent from rows scanned before they were listed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub image_subtitles: Vec<SubtitleTrack>,
    /// `moov` before `mdat` (an MP4 a browser can start playing before it has all of it).
    pub faststart: bool,
    /// Streams besides the first video, the audio and the subtitles (a second video, font
    /// attachments, data), which keep a Matroska file from counting as WebM. Rows scanned
    /// before it was recorded count as having some until the file is scanned again.
    #[serde(default = "unknown_streams")]
    pub other_streams: bool,
    /// `PROBE_VERSION` when the scan wrote it; 0 for rows from before the number existed. A
    /// scan probes again an unchanged file whose row is older than what this build records.
    #[serde(default)]
    pub version: u32,
}

/// What the scan records about a file, numbered: raised when a new field changes what a
/// stored row decides (2: `other_streams`, and the video's interlacing and rotation, which
/// direct play reads), so that the rows of an upgraded library are probed again once, at the
/// next scan.
pub const PROBE_VERSION: u32 = 2;

fn unknown_streams() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct VideoTrack {
    pub index: u32,
    pub codec: String,
    pub profile: Option<String>,
    pub pix_fmt: Option<String>,
    pub width: u32,
    pub height: u32,
    pub level: Option<i32>,
    /// Coded as fields (ffprobe's `field_order`): a browser would show it combed, so it is
    /// never played as it is (the engine deinterlaces it).
    #[serde(default)]
    pub interlaced: bool,
    /// Degrees of the display matrix or `rotate` tag. Only MP4's track header is known to
    /// turn the picture in a browser's own player.
    #[serde(default)]
    pub rotation: u16,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudioTrack {
    pub index: u32,
    pub codec: String,
    pub channels: u32,
    pub lang: String,
    pub title: Option<String>,
    pub default: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubtitleTrack {
    pub index: u32,
    pub codec: String,
    pub lang: String,
    pub title: Option<String>,
    pub forced: bool,
    pub sdh: bool,
}

impl AudioTrack {
    pub fn label(&self) -> String {
        track_label(&self.lang, self.title.as_deref(), false, false)
    }

    /// AAC goes into MPEG-TS segments unchanged; everything else becomes AAC stereo (cheap
    /// compared with video, and it avoids relying on MP3/Opus-in-TS support in players).
    pub fn copyable(&self) -> bool {
        self.codec == "aac"
    }
}

impl VideoTrack {
    /// 8-bit 4:2:0 H.264: what every browser decodes. 10-bit H.264 (Hi10P) is not.
    pub fn browser_playable(&self) -> bool {
        self.codec == "h264"
            && matches!(self.pix_fmt.as_deref(), Some("yuv420p" | "yuvj420p") | None)
    }

    /// A video the common browsers take as it is (8-bit H.264 everywhere; AV1 and VP9 in
    /// Chromium and Firefox), so its segments are likely copies cut at its keyframes, which
    /// the scan lists: listing them when the file is first played reads its whole packet
    /// index before the first segment can be planned. HEVC (copied only by Safari and Edge)
    /// is listed at its first copied play instead, and kept: a scan of a 4K HEVC library does
    /// not read every file twice for the browsers that transcode it anyway.
    pub fn may_be_copied(&self) -> bool {
        self.browser_playable() || matches!(self.codec.as_str(), "av1" | "vp9")
    }

    /// `avc1.PPCCLL` for the master playlist's `CODECS`, so hls.js knows what it gets.
    pub fn rfc6381(&self) -> String {
        let profile = match self.profile.as_deref().unwrap_or("High") {
            "Baseline" | "Constrained Baseline" => "42E0",
            "Main" => "4D40",
            _ => "6400",
        };
        let level = self.level.filter(|l| *l > 0 && *l < 100).unwrap_or(40);
        format!("avc1.{profile}{level:02X}")
    }
}

impl ProbeInfo {
    /// Direct play: an MP4 with H.264 and AAC/MP3 audio, `moov` first.
    pub fn direct_playable(&self, path: &Path) -> bool {
        matches!(extension(path).as_deref(), Some("mp4" | "m4v"))
            && self.format.contains("mp4")
            && self.faststart
            && self.video.browser_playable()
            && !self.video.interlaced
            && self
                .audio
                .iter()
                .all(|a| a.codec == "aac" || a.codec == "mp3")
    }

    /// The type a `<video src>` is asked about (`canPlayType`) before it plays this file as it
    /// is: the `Content-Type` the file route serves (by extension) with the codecs (RFC 6381).
    /// Every browser for a direct-play MP4; for Matroska and WebM holding only WebM codecs (the
    /// playback engine's own direct-play rule, `playback::plan`), the browsers that say so
    /// (Chromium, Firefox), which then need no ffmpeg at all, and seek by Range; for an MKV
    /// holding 8-bit H.264 with AAC, MP3, FLAC, Opus or Vorbis, a browser with a Matroska
    /// demuxer (Chromium 156 answers "probably" and plays it, text subtitle tracks included;
    /// Firefox and Safari answer "" and get the HLS packaging listed after it). Left to the
    /// engine's HLS: a second audio track (a `<video>` plays only the first, and the player's
    /// audio menu works on HLS renditions), 10-bit pictures (HDR may need tone mapping, which
    /// only a transcode does), image subtitles (burned in by a transcode when chosen) and
    /// attachments (fonts: the styled-subtitle renderer is fed by the engine); WebM also
    /// leaves text subtitles other than WebVTT there, which the WebM rule does not count as
    /// WebM.
    pub fn direct_mime(&self, path: &Path) -> Option<String> {
        if self.direct_playable(path) {
            let audio = self.audio.first().map(|a| match a.codec.as_str() {
                // Chromium answers "" for `mp4a.40.34` and "probably" for `mp3`.
                "mp3" => "mp3",
                _ => "mp4a.40.2",
            });
            return Some(mime("video/mp4", &self.video.rfc6381(), audio));
        }
        let container = match extension(path).as_deref() {
            Some("webm") => "video/webm",
            Some("mkv") => "video/x-matroska",
            _ => return None,
        };
        if !self.format.contains("matroska")
            || self.audio.len() > 1
            || !self.image_subtitles.is_empty()
            || self.other_streams
            || self.video.interlaced
            || self.video.rotation != 0
        {
            return None;
        }
        let eight_bit = matches!(self.video.pix_fmt.as_deref(), Some("yuv420p") | None);
        let level_5 = self.video.height > 1088;
        let webm_video = match self.video.codec.as_str() {
            "vp8" => "vp8".to_owned(),
            "vp9" if level_5 => "vp09.00.51.08".to_owned(),
            "vp9" => "vp09.00.41.08".to_owned(),
            "av1" if level_5 => "av01.0.12M.08".to_owned(),
            "av1" => "av01.0.08M.08".to_owned(),
            _ => String::new(),
        };
        let audio = self.audio.first().map(|a| a.codec.as_str());
        let webm_audio = audio.is_none_or(|a| matches!(a, "opus" | "vorbis"));
        let webvtt_only = self.subtitles.iter().all(|s| s.codec == "webvtt");
        if eight_bit && !webm_video.is_empty() && webm_audio && webvtt_only {
            return Some(mime(container, &webm_video, audio));
        }
        // Matroska beyond WebM: H.264 in an `.mkv`, whose type only a Matroska demuxer says
        // yes to. An AV1 file with a SubRip track would be asked about with the same type as
        // the WebM it is not, and a browser with only a WebM demuxer would say yes.
        if container != "video/x-matroska" || !self.video.browser_playable() {
            return None;
        }
        let video = self.video.rfc6381();
        let audio = match audio {
            None => None,
            Some(a) if !MATROSKA_FILE_AUDIO.contains(&a) => return None,
            Some("aac") => Some("mp4a.40.2"),
            Some(a) => Some(a),
        };
        Some(mime(container, &video, audio))
    }

    /// The HLS video stream is copied (remux) rather than re-encoded.
    pub fn remux_video(&self) -> bool {
        self.video.browser_playable()
    }
}

fn extension(path: &Path) -> Option<String> {
    path.extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
}

fn mime(container: &str, video: &str, audio: Option<&str>) -> String {
    match audio {
        Some(a) => format!("{container}; codecs=\"{video}, {a}\""),
        None => format!("{container}; codecs=\"{video}\""),
    }
}

const TEXT_SUBTITLE_CODECS: &[&str] =
    &["subrip", "srt", "ass", "ssa", "webvtt", "mov_text", "text"];

/// One ffprobe run of the scan: what the library keeps of it, and ffprobe's JSON itself, from
/// which the playback engine reads its own view when the file is played (no second run).
#[derive(Debug)]
pub struct FileProbe {
    pub info: ProbeInfo,
    pub json: Vec<u8>,
}

/// Runs ffprobe on one file. `timeout` bounds a file that hangs the demuxer (a FIFO, a
/// network mount gone away).
pub async fn probe(
    ffprobe: &str,
    path: &Path,
    timeout: Duration,
) -> Result<FileProbe, LibraryError> {
    let mut cmd = Command::new(ffprobe);
    cmd.args(FFPROBE_ARGS)
        .args(confine::input_args(""))
        .arg(path);
    let output = run_ffprobe(cmd, ffprobe, timeout).await?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let first = stderr
            .lines()
            .next()
            .unwrap_or("no error message")
            .replace(&path.display().to_string(), "file");
        return Err(LibraryError::Probe(format!(
            "ffprobe cannot read it: {}",
            first.trim()
        )));
    }
    let media = Media::from_ffprobe_json(&output.stdout)
        .map_err(|e| LibraryError::Probe(format!("unexpected ffprobe output: {e}")))?;
    // Before anything else about the file: a playlist's streams are those of other files.
    if let Some(demuxer) = confine::refused_demuxer(&media.format_name) {
        return Err(LibraryError::Probe(format!(
            "refused: ffprobe reads it as '{demuxer}', a list of other files rather than a video"
        )));
    }
    let mut info = from_media(&media)?;
    if info.format.contains("mp4") {
        info.faststart = moov_before_mdat(path).await.unwrap_or(false);
    }
    Ok(FileProbe {
        info,
        json: output.stdout,
    })
}

/// The playback engine's view of a file, and ffprobe's JSON it was read from (every stream with its profile, bit depth,
/// interlacing, rotation and HDR signalling), read with `playback::media::FFPROBE_ARGS`.
/// `input` is what `confine::media_input` returned, and `format` the demuxer the scan found,
/// so the probe is held to the same demuxer and protocol as ffmpeg; `timeout` bounds a file
/// that hangs the demuxer.
pub async fn media(
    ffprobe: &str,
    input: &Path,
    format: &str,
    timeout: Duration,
) -> Result<(Media, Vec<u8>), LibraryError> {
    let mut cmd = Command::new(ffprobe);
    cmd.args(confine::input_args(format))
        .args(FFPROBE_ARGS)
        .arg(input);
    let output = run_ffprobe(cmd, ffprobe, timeout).await?;
    if !output.status.success() {
        return Err(LibraryError::Probe(
            "ffprobe cannot read it any more; rescan the library".into(),
        ));
    }
    let media =
        Media::from_ffprobe_json(&output.stdout).map_err(|e| LibraryError::Probe(e.to_string()))?;
    Ok((media, output.stdout))
}

/// The demuxers a remote file may be read with: containers of one file. Never a playlist
/// (`hls`, `concat`, `dash`…), whose entries would make ffmpeg open further URLs on the
/// loopback listener. ffmpeg matches each name against a demuxer's list of names.
pub const REMOTE_DEMUXERS: &str = "matroska,webm,mov,mp4,avi,mpegts,asf,flv,mpeg,ogg";
/// A probe reads at most this much of a remote file (5 MiB: the header and first seconds of
/// a 1080p film; ffmpeg's default is 5 MB as well, written out so it cannot grow).
const REMOTE_PROBESIZE: &str = "5242880";
/// And analyses at most this many microseconds of it.
const REMOTE_ANALYZE_US: &str = "5000000";

/// ffprobe's arguments for a remote file: HTTP only (to the loopback proxy), container
/// demuxers only, bounded in bytes, media time and stalled I/O (15 s, under ffmpeg's 20 s).
fn remote_args(url: &url::Url) -> Vec<&str> {
    let mut a = vec!["-protocol_whitelist", "http,tcp"];
    a.extend(["-format_whitelist", REMOTE_DEMUXERS]);
    a.extend(["-probesize", REMOTE_PROBESIZE]);
    a.extend([
        "-analyzeduration",
        REMOTE_ANALYZE_US,
        "-rw_timeout",
        "15000000",
    ]);
    a.extend(FFPROBE_ARGS);
    a.push(url.as_str());
    a
}

/// [`probe`] and [`media`] at once, for a remote file read through the signed loopback proxy
/// (`url`): the HTTP protocol only, a container demuxer only, bounded in bytes and `timeout`.
pub async fn remote(
    ffprobe: &str,
    url: &url::Url,
    timeout: Duration,
) -> Result<(ProbeInfo, Media), LibraryError> {
    let mut cmd = Command::new(ffprobe);
    cmd.args(remote_args(url));
    let output = run_ffprobe(cmd, ffprobe, timeout).await?;
    if !output.status.success() {
        // ffprobe names the URL in its message: keep only what follows it.
        let stderr = String::from_utf8_lossy(&output.stderr);
        let line = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        let why = line
            .rsplit(": ")
            .next()
            .unwrap_or("no error message")
            .trim();
        return Err(LibraryError::Remote(format!(
            "the remote file cannot be read: {why}"
        )));
    }
    let media = Media::from_ffprobe_json(&output.stdout)
        .map_err(|e| LibraryError::Probe(format!("unexpected ffprobe output: {e}")))?;
    let info = from_media(&media)?;
    Ok((info, media))
}

/// Runs an ffprobe command to its end within `timeout` (killed past it).
async fn run_ffprobe(
    mut cmd: Command,
    ffprobe: &str,
    timeout: Duration,
) -> Result<std::process::Output, LibraryError> {
    cmd.kill_on_drop(true).stdin(std::process::Stdio::null());
    tokio::time::timeout(timeout, cmd.output())
        .await
        .map_err(|_| LibraryError::Probe(format!("ffprobe took more than {}s", timeout.as_secs())))?
        .map_err(|e| LibraryError::Tool(format!("cannot run {ffprobe}: {e}")))
}

/// What the scan keeps of the engine's view of a file (`playback::media`, the one reading of
/// ffprobe's JSON).
fn from_media(media: &Media) -> Result<ProbeInfo, LibraryError> {
    let (stream, video) = media
        .video()
        .ok_or_else(|| LibraryError::Probe("no video stream".into()))?;
    if media.format_name.is_empty() {
        return Err(LibraryError::Probe(
            "ffprobe found no container format".into(),
        ));
    }
    let duration = media
        .duration
        .or(stream.duration)
        .filter(|d| d.is_finite() && *d > 0.0)
        .ok_or_else(|| LibraryError::Probe("unknown duration".into()))?;
    let lang = |s: &Stream| normalize_lang(s.language.as_deref().unwrap_or("und"));
    let audio: Vec<AudioTrack> = media
        .audio()
        .map(|(s, a)| AudioTrack {
            index: s.index,
            codec: s.codec.clone(),
            channels: a.channels,
            lang: lang(s),
            title: s.title.clone(),
            default: s.default,
        })
        .collect();
    let track = |s: &Stream| SubtitleTrack {
        index: s.index,
        codec: s.codec.clone(),
        lang: lang(s),
        title: s.title.clone(),
        forced: s.forced,
        sdh: s.hearing_impaired,
    };
    let subtitles = media
        .subtitles()
        .filter(|(s, _)| TEXT_SUBTITLE_CODECS.contains(&s.codec.as_str()))
        .map(|(s, _)| track(s))
        .collect();
    let image_subtitles = media
        .subtitles()
        .filter(|(_, sub)| sub.kind == SubtitleKind::Image)
        .map(|(s, _)| track(s))
        .collect();
    Ok(ProbeInfo {
        format: media.format_name.clone(),
        duration,
        start_time: media.start_time,
        bit_rate: media.bit_rate,
        video: VideoTrack {
            index: stream.index,
            codec: stream.codec.clone(),
            profile: stream.profile.clone(),
            pix_fmt: video.pix_fmt.clone(),
            width: video.width,
            height: video.height,
            level: video.level,
            interlaced: video.field_order.is_interlaced(),
            rotation: video.rotation,
        },
        other_streams: media.streams.len() != 1 + audio.len() + media.subtitles().count(),
        audio,
        subtitles,
        image_subtitles,
        faststart: false,
        version: PROBE_VERSION,
    })
}

/// `moov` before `mdat` means the browser can start playing from the first bytes (ffmpeg's
/// `-movflags +faststart`). A few box headers are read, off the async threads.
async fn moov_before_mdat(path: &Path) -> std::io::Result<bool> {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || {
        let file = std::io::BufReader::new(std::fs::File::open(path)?);
        crate::playback::media::moov_before_mdat(file)
    })
    .await
    .map_err(std::io::Error::other)?
}

/// Keyframe timestamps (seconds, absolute) of the video stream, read from the packet index
/// without decoding. Remuxed HLS segments must start on keyframes, so the playlist is built
/// from these to be truthful. This reads the whole file once, like Jellyfin's keyframe
/// extraction; it runs during the scan, never during playback.
pub async fn keyframes(
    ffprobe: &str,
    path: &Path,
    format: &str,
    stream: u32,
    timeout: Duration,
) -> Result<Vec<f64>, LibraryError> {
    let mut cmd = Command::new(ffprobe);
    cmd.args(confine::input_args(format))
        .args(["-v", "error", "-select_streams"])
        .arg(stream.to_string())
        .args(["-show_entries", "packet=pts_time,flags", "-of", "csv=p=0"])
        .arg(path)
        .kill_on_drop(true)
        .stdin(std::process::Stdio::null());
    let output = tokio::time::timeout(timeout, cmd.output())
        .await
        .map_err(|_| LibraryError::Probe("reading keyframes took too long".into()))?
        .map_err(|e| LibraryError::Tool(format!("cannot run {ffprobe}: {e}")))?;
    if !output.status.success() {
        return Err(LibraryError::Probe(
            "ffprobe cannot list the keyframes".into(),
        ));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let mut frames: Vec<f64> = text
        .lines()
        .filter_map(|l| {
            let (pts, flags) = l.split_once(',')?;
            flags.starts_with('K').then(|| pts.parse::<f64>().ok())?
        })
        .collect();
    frames.sort_by(f64::total_cmp);
    frames.dedup();
    Ok(frames)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remote_probe_reads_http_only_with_container_demuxers_and_a_few_mib_at_most() {
        let url = url::Url::parse("http://127.0.0.1:8080/api/streaming/proxy?c=a&u=b&s=c").unwrap();
        let args = remote_args(&url);
        let after = |flag: &str| {
            let i = args.iter().position(|a| *a == flag).expect(flag);
            args[i + 1]
        };
        assert_eq!(after("-protocol_whitelist"), "http,tcp");
        let demuxers = after("-format_whitelist");
        for refused in ["hls", "concat", "dash", "image2", "tee"] {
            assert!(!demuxers.split(',').any(|d| d == refused), "{refused}");
        }
        assert!(after("-probesize").parse::<u64>().unwrap() <= 8 << 20);
        assert!(after("-analyzeduration").parse::<u64>().unwrap() <= 10_000_000);
        assert!(after("-rw_timeout").parse::<u64>().is_ok());
        assert_eq!(
            args.last().copied(),
            Some(url.as_str()),
            "the URL is the input"
        );
    }

    #[test]
    fn ffprobe_json_becomes_probe_info() {
        let json = r#"{"streams":[
            {"index":0,"codec_type":"video","codec_name":"hevc","profile":"Main","pix_fmt":"yuv420p","width":320,"height":180,"level":60},
            {"index":1,"codec_type":"audio","codec_name":"ac3","channels":6,"tags":{"language":"fre","title":"VF"},"disposition":{"default":1}},
            {"index":2,"codec_type":"subtitle","codec_name":"subrip","tags":{"language":"eng"},"disposition":{"forced":1}},
            {"index":3,"codec_type":"subtitle","codec_name":"hdmv_pgs_subtitle"}],
            "format":{"format_name":"matroska,webm","duration":"20.000000","start_time":"0.000000"}}"#;
        let info = from_media(&Media::from_ffprobe_json(json.as_bytes()).unwrap()).unwrap();
        assert_eq!(info.video.codec, "hevc");
        assert!(!info.remux_video());
        assert_eq!(info.audio[0].lang, "fr");
        assert_eq!(info.audio[0].label(), "Français – VF");
        assert!(!info.audio[0].copyable());
        assert_eq!(info.subtitles.len(), 1, "image subtitles are left out");
        assert!(info.subtitles[0].forced);
        assert_eq!(info.duration, 20.0);
    }

    fn probe_of(streams: &str, format: &str) -> ProbeInfo {
        let json = format!(
            r#"{{"streams":[{streams}],"format":{{"format_name":"{format}","duration":"60"}}}}"#
        );
        from_media(&Media::from_ffprobe_json(json.as_bytes()).unwrap()).unwrap()
    }

    const AV1: &str = r#"{"index":0,"codec_type":"video","codec_name":"av1","pix_fmt":"yuv420p","width":1280,"height":720}"#;
    const OPUS: &str = r#"{"index":1,"codec_type":"audio","codec_name":"opus","channels":2}"#;

    #[test]
    fn webm_codecs_in_matroska_are_offered_as_a_file_with_their_type() {
        let mkv = Path::new("/films/Film.mkv");
        let webm = Path::new("/films/Film.webm");
        let av1 = probe_of(&format!("{AV1},{OPUS}"), "matroska,webm");
        assert_eq!(
            av1.direct_mime(mkv).as_deref(),
            Some(r#"video/x-matroska; codecs="av01.0.08M.08, opus""#)
        );
        let vp9 = probe_of(
            r#"{"index":0,"codec_type":"video","codec_name":"vp9","pix_fmt":"yuv420p","width":3840,"height":2160},
               {"index":1,"codec_type":"audio","codec_name":"vorbis","channels":2}"#,
            "matroska,webm",
        );
        assert_eq!(
            vp9.direct_mime(webm).as_deref(),
            Some(r#"video/webm; codecs="vp09.00.51.08, vorbis""#)
        );
        // The extension is what the file route's Content-Type follows.
        assert_eq!(av1.direct_mime(Path::new("/films/Film.avi")), None);
    }

    const H264: &str = r#"{"index":0,"codec_type":"video","codec_name":"h264","profile":"High","pix_fmt":"yuv420p","width":1920,"height":1080,"level":40}"#;

    #[test]
    fn an_h264_mkv_is_offered_as_a_file_for_browsers_with_a_matroska_demuxer() {
        let mkv = Path::new("/films/Film.mkv");
        let srt = r#"{"index":2,"codec_type":"subtitle","codec_name":"subrip"}"#;
        for (audio, codec) in [
            ("aac", "mp4a.40.2"),
            ("mp3", "mp3"),
            ("flac", "flac"),
            ("opus", "opus"),
        ] {
            let a = OPUS.replace("opus", audio);
            // A SubRip track is no obstacle: Chromium plays the file and the player shows
            // the track from its WebVTT extraction.
            let info = probe_of(&format!("{H264},{a},{srt}"), "matroska,webm");
            assert_eq!(
                info.direct_mime(mkv),
                Some(format!(
                    r#"video/x-matroska; codecs="avc1.640028, {codec}""#
                )),
                "{audio}"
            );
        }
        let h264_ac3 = probe_of(
            &format!("{H264},{}", OPUS.replace("opus", "ac3")),
            "matroska,webm",
        );
        assert_eq!(h264_ac3.direct_mime(mkv), None, "AC-3 is for the engine");
        let hi10p = probe_of(
            &format!(
                "{},{}",
                H264.replace("yuv420p", "yuv420p10le"),
                OPUS.replace("opus", "aac")
            ),
            "matroska,webm",
        );
        assert_eq!(hi10p.direct_mime(mkv), None, "Hi10P is transcoded");
        let aac = OPUS.replace("opus", "aac");
        let in_webm = probe_of(&format!("{H264},{aac}"), "matroska,webm");
        assert_eq!(
            in_webm.direct_mime(Path::new("/films/Film.webm")),
            None,
            "H.264 is not WebM whatever the extension"
        );
        let pgs = r#"{"index":2,"codec_type":"subtitle","codec_name":"hdmv_pgs_subtitle"}"#;
        let with_pgs = probe_of(&format!("{H264},{aac},{pgs}"), "matroska,webm");
        assert_eq!(
            with_pgs.direct_mime(mkv),
            None,
            "an image subtitle is burned by the engine"
        );
    }

    #[test]
    fn interlaced_or_turned_pictures_are_not_offered_as_a_file() {
        let aac = OPUS.replace("opus", "aac");
        let mkv = Path::new("/films/Film.mkv");
        let tv = H264.replace(r#""level":40"#, r#""level":40,"field_order":"tt""#);
        let recording = probe_of(&format!("{tv},{aac}"), "matroska,webm");
        assert!(recording.video.interlaced);
        assert_eq!(
            recording.direct_mime(mkv),
            None,
            "a TV recording is deinterlaced"
        );
        let mut mp4 = probe_of(&format!("{tv},{aac}"), "mov,mp4,m4a,3gp,3g2,mj2");
        mp4.faststart = true;
        assert_eq!(
            mp4.direct_mime(Path::new("/films/Film.mp4")),
            None,
            "nor in MP4"
        );

        let phone = H264.replace(r#""level":40"#, r#""level":40,"tags":{"rotate":"90"}"#);
        let turned = probe_of(&format!("{phone},{aac}"), "matroska,webm");
        assert_eq!(turned.video.rotation, 90);
        assert_eq!(
            turned.direct_mime(mkv),
            None,
            "Matroska carries no matrix a browser applies"
        );
        let mut turned_mp4 = probe_of(&format!("{phone},{aac}"), "mov,mp4,m4a,3gp,3g2,mj2");
        turned_mp4.faststart = true;
        assert!(
            turned_mp4
                .direct_mime(Path::new("/films/Film.mp4"))
                .is_some(),
            "MP4's track header turns it in the browser"
        );
    }

    #[test]
    fn what_a_video_element_would_play_wrongly_stays_with_the_engine() {
        let mkv = Path::new("/films/Film.mkv");
        let second_audio = OPUS.replace("\"index\":1", "\"index\":2");
        for (why, streams) in [
            ("two audio tracks", format!("{AV1},{OPUS},{second_audio}")),
            (
                "a subrip subtitle",
                format!(
                    r#"{AV1},{OPUS},{{"index":2,"codec_type":"subtitle","codec_name":"subrip"}}"#
                ),
            ),
            (
                "a font attachment",
                format!(
                    r#"{AV1},{OPUS},{{"index":2,"codec_type":"attachment","codec_name":"ttf"}}"#
                ),
            ),
            (
                "10-bit",
                format!("{},{OPUS}", AV1.replace("yuv420p", "yuv420p10le")),
            ),
            ("hevc", format!("{},{OPUS}", AV1.replace("av1", "hevc"))),
            ("ac-3", format!("{AV1},{}", OPUS.replace("opus", "ac3"))),
        ] {
            assert_eq!(
                probe_of(&streams, "matroska,webm").direct_mime(mkv),
                None,
                "{why}"
            );
        }
        // A row stored before `other_streams` existed is not trusted with it.
        let mut old: ProbeInfo = serde_json::from_value(serde_json::json!({
            "format": "matroska,webm", "duration": 60.0, "start_time": 0.0, "bit_rate": null,
            "video": {"index": 0, "codec": "av1", "profile": null, "pix_fmt": "yuv420p",
                      "width": 1280, "height": 720, "level": null},
            "audio": [], "subtitles": [], "faststart": false
        }))
        .unwrap();
        assert_eq!(old.direct_mime(mkv), None);
        old.other_streams = false;
        assert!(old.direct_mime(mkv).is_some());
    }

    #[test]
    fn a_direct_play_mp4_names_its_codecs() {
        let mut mp4 = probe_of(
            r#"{"index":0,"codec_type":"video","codec_name":"h264","profile":"High","pix_fmt":"yuv420p","width":1920,"height":1080,"level":40},
               {"index":1,"codec_type":"audio","codec_name":"aac","channels":2}"#,
            "mov,mp4,m4a,3gp,3g2,mj2",
        );
        let path = Path::new("/films/Film.mp4");
        assert_eq!(mp4.direct_mime(path), None, "moov at the end");
        mp4.faststart = true;
        assert_eq!(
            mp4.direct_mime(path).as_deref(),
            Some(r#"video/mp4; codecs="avc1.640028, mp4a.40.2""#)
        );
    }

    #[test]
    fn a_file_without_video_is_a_problem() {
        let json = r#"{"streams":[{"index":0,"codec_type":"audio","codec_name":"mp3"}],"format":{"duration":"3"}}"#;
        let err = from_media(&Media::from_ffprobe_json(json.as_bytes()).unwrap()).unwrap_err();
        assert!(err.to_string().contains("no video stream"), "{err}");
    }

    #[test]
    fn codecs_strings() {
        let v = VideoTrack {
            index: 0,
            codec: "h264".into(),
            profile: Some("High".into()),
            pix_fmt: Some("yuv420p".into()),
            width: 1,
            height: 1,
            level: Some(31),
            ..VideoTrack::default()
        };
        assert_eq!(v.rfc6381(), "avc1.64001F");
        assert!(v.browser_playable());
        let ten_bit = VideoTrack {
            pix_fmt: Some("yuv420p10le".into()),
            ..v
        };
        assert!(!ten_bit.browser_playable());
    }
}
