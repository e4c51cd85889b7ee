//! The playback decision, made before any I/O: given the probed file, what the client
//! decodes and what the viewer asked for, play the file as it is (direct play), remux it
//! into HLS (direct stream), or re-encode only the streams the client cannot use
//! (transcode). Video and audio are decided separately, each with a reason for logs and UI.

use super::media::{FieldOrder, Hdr, Media, Stream, StreamKind, SubtitleKind, Video};
use super::profile::ClientProfile;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Quality {
    #[default]
    Original,
    P1080,
    P720,
    P480,
}

impl Quality {
    pub fn height(self) -> Option<u32> {
        match self {
            Quality::Original => None,
            Quality::P1080 => Some(1080),
            Quality::P720 => Some(720),
            Quality::P480 => Some(480),
        }
    }

    /// Peak video bitrate (kb/s) of an H.264 rendition at this height: about what streaming
    /// services send at these heights; `Original` caps a re-encode at a 4K-worthy 20 Mb/s.
    pub fn default_max_kbps(height: u32) -> u32 {
        match height {
            0..=480 => 1_500,
            481..=720 => 4_000,
            721..=1080 => 8_000,
            _ => 20_000,
        }
    }
}

/// What the viewer asked for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Request {
    /// The audio stream (ffprobe index); `None`: the file's default track, else the first.
    pub audio: Option<u32>,
    /// A subtitle stream (ffprobe index) to burn into the picture.
    pub burn_subtitle: Option<u32>,
    pub quality: Quality,
    /// The viewer's cap on the video bitrate, kb/s.
    pub max_video_kbps: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The file itself, with Range requests.
    DirectPlay,
    /// Remuxed into HLS, nothing re-encoded.
    DirectStream,
    /// HLS with at least one stream re-encoded.
    Transcode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentFormat {
    /// MPEG-TS: what the library produces today for H.264 + AAC.
    Ts,
    /// CMAF/fMP4 with an `EXT-X-MAP` init segment: every other codec hls.js plays.
    Fmp4,
}

#[derive(Debug, Clone, PartialEq)]
pub enum VideoFilter {
    /// `bwdif`: motion-adaptive deinterlacing, one frame per frame.
    Deinterlace,
    /// `zscale` + `tonemap`: PQ/HLG BT.2020 → SDR BT.709.
    Tonemap(Hdr),
    /// Burn an image subtitle (ffprobe index) with `overlay`.
    OverlayImageSubtitle(u32),
    /// Burn a text/ASS subtitle (ffprobe index) with libass (`subtitles`).
    BurnTextSubtitle(u32),
    /// Turn the picture upright: clockwise degrees (90, 180, 270), with `transpose`.
    Rotate(u16),
    /// Scale to this height, width following the aspect ratio.
    ScaleToHeight(u32),
}

#[derive(Debug, Clone, PartialEq)]
pub enum VideoAction {
    Copy,
    /// Re-encode to 8-bit H.264 (the one codec every browser decodes).
    TranscodeH264 {
        filters: Vec<VideoFilter>,
        max_kbps: u32,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct VideoDecision {
    pub stream: u32,
    pub action: VideoAction,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioAction {
    Copy,
    /// Re-encode to AAC with this many channels (2: ffmpeg's `-ac 2` downmix; 6: 5.1).
    TranscodeAac { channels: u32 },
}

#[derive(Debug, Clone, PartialEq)]
pub struct AudioDecision {
    pub stream: u32,
    pub action: AudioAction,
    pub reason: String,
}

/// How a subtitle track reaches the viewer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubtitleDelivery {
    /// Extracted and converted to WebVTT.
    WebVtt,
    /// Extracted as ASS for a libass renderer in the player (JASSUB), styles kept;
    /// burned in when asked.
    Ass,
    /// Only by burning it into a transcode when chosen.
    BurnIn,
    /// An unknown subtitle codec: not offered.
    None,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SubtitleOffer {
    pub stream: u32,
    pub delivery: SubtitleDelivery,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub mode: Mode,
    /// For HLS modes; `None` for direct play.
    pub segments: Option<SegmentFormat>,
    pub video: Option<VideoDecision>,
    pub audio: Option<AudioDecision>,
    pub subtitles: Vec<SubtitleOffer>,
    /// Why the mode (for the container), e.g. "container: Matroska is not played directly".
    pub container_reason: String,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    #[error("the file has no video or audio stream that can be played")]
    NoPlayableStream,
    #[error("stream {0} is not an audio track of this file")]
    NoSuchAudio(u32),
    #[error("stream {0} is not a subtitle track of this file")]
    NoSuchSubtitle(u32),
}

impl PlanError {
    pub fn code(&self) -> &'static str {
        match self {
            PlanError::NoPlayableStream => "no_playable_stream",
            PlanError::NoSuchAudio(_) => "unknown_audio_track",
            PlanError::NoSuchSubtitle(_) => "unknown_subtitle_track",
        }
    }
}

impl Plan {
    /// One line for logs and the player's "why is this transcoding" tooltip.
    pub fn summary(&self) -> String {
        let mut parts = vec![format!("{:?}", self.mode), self.container_reason.clone()];
        if let Some(v) = &self.video {
            parts.push(v.reason.clone());
        }
        if let Some(a) = &self.audio {
            parts.push(a.reason.clone());
        }
        parts.join("; ")
    }
}

/// Whether the client decodes this video stream as it is, or why not.
fn video_decodable(s: &Stream, v: &Video, p: &ClientProfile) -> Result<(), String> {
    let profile = s.profile.as_deref().unwrap_or("");
    let ten = v.bit_depth > 8;
    let (ok, name) = match s.codec.as_str() {
        "h264" => {
            // High 4:2:2 / 4:4:4 and anything above 10 bits: no browser decodes them.
            let exotic = profile.contains("4:2:2") || profile.contains("4:4:4") || v.bit_depth > 10;
            if ten || profile.starts_with("High 10") {
                (!exotic && p.h264_10bit, "H.264 High 10 (Hi10P)")
            } else {
                (!exotic && p.h264, "H.264")
            }
        }
        "hevc" => match (profile, ten) {
            ("Main", false) => (p.hevc, "HEVC Main"),
            ("Main 10", _) | ("Main", true) => (p.hevc_10bit, "HEVC Main10"),
            _ => (false, "HEVC range extensions"),
        },
        "av1" => {
            if profile != "Main" && !profile.is_empty() {
                (false, "AV1 High/Professional")
            } else if ten {
                (p.av1_10bit, "AV1 10-bit")
            } else {
                (p.av1, "AV1")
            }
        }
        "vp9" => match profile {
            "Profile 0" | "" if !ten => (p.vp9, "VP9 profile 0"),
            "Profile 2" | "" => (p.vp9_profile2, "VP9 profile 2"),
            _ => (false, "VP9 4:4:4 profiles"),
        },
        "mpeg2video" => (false, "MPEG-2"),
        "mpeg4" => (false, "MPEG-4 Part 2 (Xvid/DivX)"),
        "vc1" | "wmv3" => (false, "VC-1"),
        other => return Err(format!("{other} not decoded by browsers")),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("{name} not decoded by this browser"))
    }
}

fn audio_decodable(s: &Stream, channels: u32, p: &ClientProfile) -> bool {
    match s.codec.as_str() {
        "aac" => p.aac && (channels <= 2 || p.aac_multichannel),
        "mp3" => p.mp3,
        "opus" => p.opus,
        "flac" => p.flac,
        "ac3" => p.ac3,
        "eac3" => p.eac3,
        _ => false,
    }
}

fn codec_name(codec: &str) -> String {
    match codec {
        "aac" => "AAC",
        "mp3" => "MP3",
        "opus" => "Opus",
        "flac" => "FLAC",
        "ac3" => "AC-3",
        "eac3" => "E-AC-3",
        "dts" => "DTS",
        "truehd" => "TrueHD",
        "vorbis" => "Vorbis",
        other => other,
    }
    .to_string()
}

fn decide_video(
    media: &Media,
    s: &Stream,
    v: &Video,
    profile: &ClientProfile,
    req: &Request,
    burn: Option<(&Stream, SubtitleKind)>,
) -> VideoDecision {
    let mut why: Vec<String> = Vec::new();
    let mut filters = Vec::new();
    if let Err(e) = video_decodable(s, v, profile) {
        why.push(e);
    }
    if v.field_order.is_interlaced() {
        // A remuxed interlaced picture reaches the browser combed: it does not deinterlace.
        why.push(format!("interlaced ({})", field_order_name(v.field_order)));
        filters.push(VideoFilter::Deinterlace);
    }
    let hdr = v.color.hdr();
    if let Some(h) = hdr {
        if !profile.hdr {
            why.push(format!("{h:?} on an SDR display"));
        }
    }
    match burn {
        Some((sub, SubtitleKind::Image)) => {
            why.push(format!("burning image subtitle {}", sub.index));
        }
        Some((sub, _)) => why.push(format!("burning subtitle {} on request", sub.index)),
        None => {}
    }
    let (_, display_h) = v.display_size();
    let target = [req.quality.height(), profile.max_height]
        .into_iter()
        .flatten()
        .min()
        .filter(|h| *h < display_h);
    if let Some(h) = target {
        why.push(format!("{display_h} lines scaled to {h}"));
    }
    if let (Some(cap), Some(rate)) = (req.max_video_kbps, media.bit_rate) {
        if u64::from(cap) * 1000 < rate {
            why.push(format!("{} kb/s over the {cap} kb/s cap", rate / 1000));
        }
    }
    if why.is_empty() {
        let mut reason = format!("video: copy — {} decoded by this browser", describe(s, v));
        if v.rotation != 0 {
            reason.push_str(&format!(", rotation {}° kept in the track header", v.rotation));
        }
        return VideoDecision {
            stream: s.index,
            action: VideoAction::Copy,
            reason,
        };
    }
    // Order matters: deinterlace on the source fields; tone-map before anything is drawn on
    // the picture; burn subtitles at the source geometry they were authored for; rotate;
    // scale last so the height asked for is the height shown.
    if let Some(h) = hdr {
        // The output is 8-bit H.264 with BT.709 signalling, even for an HDR display:
        // x264 here encodes no HDR metadata worth trusting, so SDR is the correct picture.
        filters.push(VideoFilter::Tonemap(h));
        if profile.hdr {
            why.push(format!("{h:?} tone-mapped: the H.264 output is SDR"));
        }
    }
    match burn {
        Some((sub, SubtitleKind::Image)) => filters.push(VideoFilter::OverlayImageSubtitle(sub.index)),
        Some((sub, _)) => filters.push(VideoFilter::BurnTextSubtitle(sub.index)),
        None => {}
    }
    if v.rotation != 0 {
        filters.push(VideoFilter::Rotate(v.rotation));
    }
    let out_h = target.unwrap_or(display_h);
    if let Some(h) = target {
        filters.push(VideoFilter::ScaleToHeight(h));
    }
    let max_kbps = [Some(Quality::default_max_kbps(out_h)), req.max_video_kbps]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(Quality::default_max_kbps(out_h));
    VideoDecision {
        stream: s.index,
        action: VideoAction::TranscodeH264 { filters, max_kbps },
        reason: format!("video: transcode to H.264 — {}", why.join(", ")),
    }
}

fn describe(s: &Stream, v: &Video) -> String {
    let name = match s.codec.as_str() {
        "h264" => "H.264",
        "hevc" => "HEVC",
        "av1" => "AV1",
        "vp9" => "VP9",
        other => other,
    };
    let hdr = v.color.hdr().map(|h| format!(" {h:?}")).unwrap_or_default();
    format!("{name} {}-bit{hdr}", v.bit_depth)
}

fn field_order_name(f: FieldOrder) -> &'static str {
    match f {
        FieldOrder::TopFirst => "top field first",
        FieldOrder::BottomFirst => "bottom field first",
        FieldOrder::TopCodedBottomFirst | FieldOrder::BottomCodedTopFirst => "mixed field order",
        FieldOrder::Progressive | FieldOrder::Unknown => "progressive",
    }
}

fn decide_audio(s: &Stream, channels: u32, profile: &ClientProfile) -> AudioDecision {
    let name = codec_name(&s.codec);
    if audio_decodable(s, channels, profile) {
        return AudioDecision {
            stream: s.index,
            action: AudioAction::Copy,
            reason: format!("audio: copy — {name} {channels} ch decoded by this browser"),
        };
    }
    let (out, how) = if channels > 2 && profile.aac_multichannel {
        (6, "5.1 AAC")
    } else if channels > 2 {
        (2, "stereo AAC (downmix)")
    } else {
        (channels.max(1), "AAC")
    };
    AudioDecision {
        stream: s.index,
        action: AudioAction::TranscodeAac { channels: out },
        reason: format!("audio: transcode to {how} — {name} {channels} ch not decoded by this browser"),
    }
}

/// The direct-play container, if the client plays this one from a plain `<video src>`.
/// ffprobe names Matroska and WebM alike (`matroska,webm`); one holding only WebM codecs is
/// what browsers' WebM demuxers accept.
fn direct_container(media: &Media, profile: &ClientProfile) -> Result<&'static str, String> {
    if media.is_mp4() {
        return if profile.mp4 { Ok("MP4") } else { Err("MP4 not played directly".into()) };
    }
    if media.is_matroska() {
        let webm_codecs = media.streams.iter().all(|s| match &s.kind {
            StreamKind::Video(_) => matches!(s.codec.as_str(), "vp8" | "vp9" | "av1"),
            StreamKind::Audio(_) => matches!(s.codec.as_str(), "opus" | "vorbis"),
            StreamKind::Subtitle(_) => s.codec == "webvtt",
            StreamKind::Other => false,
        });
        return match (webm_codecs, profile.webm) {
            (true, true) => Ok("WebM"),
            (true, false) => Err("WebM not played directly by this browser".into()),
            (false, _) => Err("Matroska with non-WebM codecs is not played directly".into()),
        };
    }
    let name = media.format_name.split(',').next().unwrap_or("unknown");
    Err(format!("{name} is not played directly by browsers"))
}

pub fn plan(media: &Media, profile: &ClientProfile, req: &Request) -> Result<Plan, PlanError> {
    let audio_tracks: Vec<_> = media.audio().collect();
    let selected_audio = match req.audio {
        Some(i) => Some(
            *audio_tracks
                .iter()
                .find(|(s, _)| s.index == i)
                .ok_or(PlanError::NoSuchAudio(i))?,
        ),
        None => audio_tracks
            .iter()
            .find(|(s, _)| s.default)
            .or_else(|| audio_tracks.first())
            .copied(),
    };
    let burn = match req.burn_subtitle {
        Some(i) => {
            let (s, sub) = media
                .subtitles()
                .find(|(s, _)| s.index == i)
                .ok_or(PlanError::NoSuchSubtitle(i))?;
            Some((s, sub.kind))
        }
        None => None,
    };
    let video = media
        .video()
        .map(|(s, v)| (v, decide_video(media, s, v, profile, req, burn)));
    let audio = selected_audio.map(|(s, a)| decide_audio(s, a.channels, profile));
    if video.is_none() && audio.is_none() {
        return Err(PlanError::NoPlayableStream);
    }
    let subtitles = media
        .subtitles()
        .map(|(s, sub)| SubtitleOffer {
            stream: s.index,
            delivery: match sub.kind {
                SubtitleKind::Text => SubtitleDelivery::WebVtt,
                SubtitleKind::Ass if sub.styled => SubtitleDelivery::Ass,
                SubtitleKind::Ass => SubtitleDelivery::WebVtt,
                SubtitleKind::Image => SubtitleDelivery::BurnIn,
                SubtitleKind::Unknown => SubtitleDelivery::None,
            },
        })
        .collect();

    let video_copied = video.as_ref().is_none_or(|(_, d)| d.action == VideoAction::Copy);
    let audio_copied = audio.as_ref().is_none_or(|d| d.action == AudioAction::Copy);
    let rotated_copy = video
        .as_ref()
        .is_some_and(|(v, d)| d.action == VideoAction::Copy && v.rotation != 0);

    let (mode, container_reason) = if !(video_copied && audio_copied) {
        (Mode::Transcode, "container: HLS around the transcoded streams".to_string())
    } else {
        match direct_container(media, profile) {
            Err(why) => (Mode::DirectStream, format!("container: remux — {why}")),
            Ok(name) => {
                // A browser plays only the first audio track of a file; another choice needs HLS.
                let first_audio = audio_tracks.first().map(|(s, _)| s.index);
                let other_audio = selected_audio.is_some_and(|(s, _)| Some(s.index) != first_audio);
                if other_audio {
                    (
                        Mode::DirectStream,
                        "container: remux — the browser plays only a file's first audio track".into(),
                    )
                } else if name == "MP4" && media.faststart == Some(false) && !rotated_copy {
                    (
                        Mode::DirectStream,
                        "container: remux — moov at the end, the browser would fetch the file's end before the first frame".into(),
                    )
                } else if name == "MP4" && media.faststart == Some(false) {
                    // ffmpeg 5.1's HLS muxer drops the display matrix of a copied stream, so
                    // a remux would lie the video down; one Range request for `moov` is cheaper.
                    (
                        Mode::DirectPlay,
                        "container: direct play — moov at the end, but a remux would lose the rotation".into(),
                    )
                } else {
                    (Mode::DirectPlay, format!("container: direct play — {name}"))
                }
            }
        }
    };
    // ffmpeg 5.1's HLS muxer drops a copied stream's display matrix (checked: the init
    // segment of a remuxed rotated MP4 has none), so any HLS mode re-encodes a rotated
    // picture upright rather than lie it down.
    let (mode, video, container_reason) = match video {
        Some((v, d)) if mode != Mode::DirectPlay && v.rotation != 0 && d.action == VideoAction::Copy => {
            let (_, out_h) = v.display_size();
            let d = VideoDecision {
                stream: d.stream,
                action: VideoAction::TranscodeH264 {
                    filters: vec![VideoFilter::Rotate(v.rotation)],
                    max_kbps: [Some(Quality::default_max_kbps(out_h)), req.max_video_kbps]
                        .into_iter()
                        .flatten()
                        .min()
                        .unwrap_or(Quality::default_max_kbps(out_h)),
                },
                reason: format!(
                    "video: transcode to H.264 — rotation {}° would be lost by a remux",
                    v.rotation
                ),
            };
            (
                Mode::Transcode,
                Some(d),
                "container: HLS around the transcoded streams".to_string(),
            )
        }
        other => (mode, other.map(|(_, d)| d), container_reason),
    };
    let segments = (mode != Mode::DirectPlay).then(|| {
        let video_out = video.as_ref().map(|d| match d.action {
            VideoAction::Copy => media.stream(d.stream).map_or("", |s| s.codec.as_str()),
            VideoAction::TranscodeH264 { .. } => "h264",
        });
        let audio_out = audio.as_ref().map(|d| match d.action {
            AudioAction::Copy => media.stream(d.stream).map_or("", |s| s.codec.as_str()),
            AudioAction::TranscodeAac { .. } => "aac",
        });
        segment_format(video_out, audio_out)
    });
    Ok(Plan {
        mode,
        segments,
        video,
        audio,
        subtitles,
        container_reason,
    })
}

/// MPEG-TS only where the library uses it today: H.264 out and AAC out. Everything else
/// (HEVC, AV1, VP9, Opus, FLAC, AC-3 copies) needs fMP4, the only segment format hls.js
/// feeds to MSE for those codecs.
fn segment_format(video_out: Option<&str>, audio_out: Option<&str>) -> SegmentFormat {
    if video_out.is_none_or(|c| c == "h264") && audio_out.is_none_or(|c| c == "aac") {
        SegmentFormat::Ts
    } else {
        SegmentFormat::Fmp4
    }
}
