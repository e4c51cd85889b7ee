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
    /// The player asked for HLS (the library's playlists): direct play is not an option, so
    /// what would play as is is remuxed instead.
    pub hls: bool,
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
    TranscodeAac {
        channels: u32,
    },
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
    let target = quality_limits(media, display_h, profile, req, &mut why);
    if why.is_empty() {
        let mut reason = format!("video: copy — {} decoded by this browser", describe(s, v));
        if v.rotation != 0 {
            reason.push_str(&format!(
                ", rotation {}° kept in the track header",
                v.rotation
            ));
        }
        return VideoDecision {
            stream: s.index,
            action: VideoAction::Copy,
            reason,
        };
    }
    if let (Some(h), true) = (hdr, profile.hdr) {
        why.push(format!("{h:?} tone-mapped: the H.264 output is SDR"));
    }
    filters.extend(transcode_filters(v, burn, target));
    let out_h = target.unwrap_or(display_h);
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

/// The height to scale to when the viewer's choice (or the profile's `max=`) is below the
/// picture's, with the reasons a height or bitrate cap gives for re-encoding added to `why`.
fn quality_limits(
    media: &Media,
    display_h: u32,
    profile: &ClientProfile,
    req: &Request,
    why: &mut Vec<String>,
) -> Option<u32> {
    let chosen_h = [req.quality.height(), profile.max_height]
        .into_iter()
        .flatten()
        .min();
    let target = chosen_h.filter(|h| *h < display_h);
    if let Some(h) = target {
        why.push(format!(
            "{display_h} lines over the {h}p cap, scaled to {h}"
        ));
    }
    // A quality choice is a height and the bitrate that goes with it (`default_max_kbps`):
    // "720p" on a 720p file at 12 Mb/s must still fit a 4 Mb/s line. The file's overall rate
    // is what ffprobe knows for every container (Matroska has no per-stream rate).
    let cap = req
        .max_video_kbps
        .or(chosen_h.map(Quality::default_max_kbps));
    if let (Some(cap), Some(rate)) = (cap, media.bit_rate) {
        if u64::from(cap) * 1000 < rate {
            why.push(format!("{} kb/s over the {cap} kb/s cap", rate / 1000));
        }
    }
    target
}

/// The filters of a transcode after deinterlacing. Order matters: tone-map before anything is
/// drawn on the picture; burn subtitles at the source geometry they were authored for;
/// rotate; scale last so the height asked for is the height shown.
fn transcode_filters(
    v: &Video,
    burn: Option<(&Stream, SubtitleKind)>,
    target: Option<u32>,
) -> Vec<VideoFilter> {
    let mut filters = Vec::new();
    if let Some(h) = v.color.hdr() {
        // The output is 8-bit H.264 with BT.709 signalling, even for an HDR display: x264
        // here encodes no HDR metadata worth trusting, so SDR is the correct picture.
        filters.push(VideoFilter::Tonemap(h));
    }
    match burn {
        Some((sub, SubtitleKind::Image)) => {
            filters.push(VideoFilter::OverlayImageSubtitle(sub.index))
        }
        Some((sub, _)) => filters.push(VideoFilter::BurnTextSubtitle(sub.index)),
        None => {}
    }
    if v.rotation != 0 {
        filters.push(VideoFilter::Rotate(v.rotation));
    }
    if let Some(h) = target {
        filters.push(VideoFilter::ScaleToHeight(h));
    }
    filters
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
        reason: format!(
            "audio: transcode to {how} — {name} {channels} ch not decoded by this browser"
        ),
    }
}

/// Audio a browser's Matroska demuxer plays from a file beside H.264 (Debian's Chromium 156
/// answers "probably" for each; "" for AC-3, E-AC-3 and DTS). Also the library's rule for
/// offering an H.264 MKV as a file (`ProbeInfo::direct_mime`).
pub const MATROSKA_FILE_AUDIO: &[&str] = &["aac", "mp3", "flac", "opus", "vorbis"];

/// The direct-play container, if the client plays this one from a plain `<video src>`.
/// ffprobe names Matroska and WebM alike (`matroska,webm`); one holding only WebM codecs is
/// what browsers' WebM demuxers accept, and a browser with a Matroska demuxer (Chromium's
/// `canPlayType('video/x-matroska; codecs="avc1…, mp4a.40.2"')`) also takes H.264 with AAC,
/// MP3 or FLAC there. Whether the client decodes each stream is the streams' own decision.
fn direct_container(media: &Media, profile: &ClientProfile) -> Result<&'static str, String> {
    if media.is_mp4() {
        return if profile.mp4 {
            Ok("MP4")
        } else {
            Err("MP4 not played directly".into())
        };
    }
    if media.is_matroska() {
        // MP4's track header turns a phone video in the browser; nothing in Matroska is known
        // to (ffmpeg reads a rotation there; a browser may not), so such a file goes to HLS,
        // where the engine turns it.
        if media.video().is_some_and(|(_, v)| v.rotation != 0) {
            return Err("a turned picture in Matroska is not played directly".into());
        }
        let webm_codecs = media.streams.iter().all(|s| match &s.kind {
            StreamKind::Video(_) => matches!(s.codec.as_str(), "vp8" | "vp9" | "av1"),
            StreamKind::Audio(_) => matches!(s.codec.as_str(), "opus" | "vorbis"),
            StreamKind::Subtitle(_) => s.codec == "webvtt",
            StreamKind::Other => false,
        });
        // Text subtitle tracks are ignored by Chromium's Matroska demuxer (checked with SubRip
        // and ASS beside H.264 + AAC) and shown by the player from their WebVTT extraction.
        let matroska_codecs = media.streams.iter().all(|s| match &s.kind {
            StreamKind::Video(_) => matches!(s.codec.as_str(), "h264" | "vp8" | "vp9" | "av1"),
            StreamKind::Audio(_) => MATROSKA_FILE_AUDIO.contains(&s.codec.as_str()),
            StreamKind::Subtitle(sub) => matches!(sub.kind, SubtitleKind::Text | SubtitleKind::Ass),
            StreamKind::Other => false,
        });
        return match (webm_codecs, matroska_codecs) {
            (true, _) if profile.webm || profile.matroska => Ok("WebM"),
            (true, _) => Err("WebM not played directly by this browser".into()),
            (false, true) if profile.matroska => Ok("Matroska"),
            (false, true) => Err("Matroska not played directly by this browser".into()),
            (false, false) => Err(
                "Matroska holding a codec, an image subtitle or an attachment that no browser plays from a file".into(),
            ),
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
    let first_audio = audio_tracks.first().map(|(s, _)| s.index);
    let other_audio = selected_audio.is_some_and(|(s, _)| Some(s.index) != first_audio);
    let video_ref = video.as_ref().map(|(v, d)| (*v, d));
    let (mode, container_reason) =
        container_mode(media, profile, req, video_ref, audio.as_ref(), other_audio);
    let (mode, video, container_reason) = match video {
        Some((v, d)) => {
            let (mode, d, reason) = rotate_for_hls(v, d, mode, container_reason, req);
            (mode, Some(d), reason)
        }
        None => (mode, None, container_reason),
    };
    let segments =
        (mode != Mode::DirectPlay).then(|| output_segments(media, video.as_ref(), audio.as_ref()));
    Ok(Plan {
        mode,
        segments,
        video,
        audio,
        subtitles: subtitle_offers(media),
        container_reason,
    })
}

fn subtitle_offers(media: &Media) -> Vec<SubtitleOffer> {
    media
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
        .collect()
}

/// Direct play, direct stream or transcode, from the streams' decisions and the container.
/// `other_audio`: the chosen audio track is not the file's first.
fn container_mode(
    media: &Media,
    profile: &ClientProfile,
    req: &Request,
    video: Option<(&Video, &VideoDecision)>,
    audio: Option<&AudioDecision>,
    other_audio: bool,
) -> (Mode, String) {
    let video_copied = video.is_none_or(|(_, d)| d.action == VideoAction::Copy);
    let audio_copied = audio.is_none_or(|d| d.action == AudioAction::Copy);
    let rotated_copy = video.is_some_and(|(v, d)| d.action == VideoAction::Copy && v.rotation != 0);
    if !(video_copied && audio_copied) {
        return (
            Mode::Transcode,
            "container: HLS around the transcoded streams".to_string(),
        );
    }
    match direct_container(media, profile) {
        Err(why) => (Mode::DirectStream, format!("container: remux — {why}")),
        Ok(_) if req.hls => (
            Mode::DirectStream,
            "container: remux — HLS asked for".to_string(),
        ),
        // A browser plays only the first audio track of a file; another choice needs HLS.
        Ok(_) if other_audio => (
            Mode::DirectStream,
            "container: remux — the browser plays only a file's first audio track".into(),
        ),
        Ok("MP4") if media.faststart == Some(false) && !rotated_copy => (
            Mode::DirectStream,
            "container: remux — moov at the end, the browser would fetch the file's end before the first frame".into(),
        ),
        // ffmpeg 5.1's HLS muxer drops the display matrix of a copied stream, so a remux
        // would lie the video down; one Range request for `moov` is cheaper.
        Ok("MP4") if media.faststart == Some(false) => (
            Mode::DirectPlay,
            "container: direct play — moov at the end, but a remux would lose the rotation".into(),
        ),
        Ok(name) => (Mode::DirectPlay, format!("container: direct play — {name}")),
    }
}

/// ffmpeg 5.1's HLS muxer drops a copied stream's display matrix (checked: the init segment
/// of a remuxed rotated MP4 has none), so any HLS mode re-encodes a rotated picture upright
/// rather than lie it down.
fn rotate_for_hls(
    v: &Video,
    d: VideoDecision,
    mode: Mode,
    container_reason: String,
    req: &Request,
) -> (Mode, VideoDecision, String) {
    if mode == Mode::DirectPlay || v.rotation == 0 || d.action != VideoAction::Copy {
        return (mode, d, container_reason);
    }
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
        d,
        "container: HLS around the transcoded streams".to_string(),
    )
}

fn output_segments(
    media: &Media,
    video: Option<&VideoDecision>,
    audio: Option<&AudioDecision>,
) -> SegmentFormat {
    let video_out = video.map(|d| match d.action {
        VideoAction::Copy => media.stream(d.stream).map_or("", |s| s.codec.as_str()),
        VideoAction::TranscodeH264 { .. } => "h264",
    });
    let audio_out = audio.map(|d| match d.action {
        AudioAction::Copy => media.stream(d.stream).map_or("", |s| s.codec.as_str()),
        AudioAction::TranscodeAac { .. } => "aac",
    });
    segment_format(video_out, audio_out)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::playback::media::{Audio, Color, Subtitle};

    /// A stream with nothing but its index, codec and kind set.
    fn stream(index: u32, codec: &str, kind: StreamKind) -> Stream {
        Stream {
            index,
            codec: codec.into(),
            profile: None,
            language: None,
            title: None,
            default: false,
            forced: false,
            hearing_impaired: false,
            duration: None,
            kind,
        }
    }

    fn video(codec: &str, profile: &str, depth: u8, w: u32, h: u32) -> Stream {
        let picture = Video {
            width: w,
            height: h,
            pix_fmt: None,
            bit_depth: depth,
            field_order: FieldOrder::Progressive,
            rotation: 0,
            color: Color::default(),
            frame_rate: Some(25.0),
            level: None,
        };
        Stream {
            profile: (!profile.is_empty()).then(|| profile.into()),
            default: true,
            ..stream(0, codec, StreamKind::Video(picture))
        }
    }

    fn audio(index: u32, codec: &str, channels: u32) -> Stream {
        let sound = Audio {
            channels,
            channel_layout: None,
            sample_rate: Some(48_000),
        };
        stream(index, codec, StreamKind::Audio(sound))
    }

    fn subtitle(index: u32, codec: &str, kind: SubtitleKind) -> Stream {
        let styled = kind == SubtitleKind::Ass;
        stream(
            index,
            codec,
            StreamKind::Subtitle(Subtitle { kind, styled }),
        )
    }

    fn media(format: &str, streams: Vec<Stream>) -> Media {
        Media {
            format_name: format.into(),
            duration: Some(60.0),
            start_time: 0.0,
            bit_rate: Some(4_000_000),
            streams,
            chapters: vec![],
            faststart: format.contains("mp4").then_some(true),
        }
    }

    fn with_video(mut s: Stream, f: impl FnOnce(&mut Video)) -> Stream {
        if let StreamKind::Video(v) = &mut s.kind {
            f(v);
        }
        s
    }

    const MP4: &str = "mov,mp4,m4a,3gp,3g2,mj2";
    const MKV: &str = "matroska,webm";

    fn chromium() -> ClientProfile {
        ClientProfile::parse("1:avc,av1,av1_10,vp9,vp9p2,aac,mp3,opus,flac,mp4,webm").unwrap()
    }

    /// Chromium 156: Matroska with H.264 and AAC from a plain `<video src>`.
    fn mkv() -> ClientProfile {
        ClientProfile {
            matroska: true,
            ..chromium()
        }
    }

    fn safari_hdr() -> ClientProfile {
        ClientProfile::parse("1:avc,hevc,hevc10,aac,aac51,mp3,flac,ac3,eac3,mp4,hdr").unwrap()
    }

    #[derive(Debug, PartialEq)]
    enum V {
        Copy,
        Transcode,
    }

    fn v_of(p: &Plan) -> V {
        match p.video.as_ref().unwrap().action {
            VideoAction::Copy => V::Copy,
            VideoAction::TranscodeH264 { .. } => V::Transcode,
        }
    }

    // One row per case reads as the table it is.
    #[rustfmt::skip]
    #[test]
    fn decision_table() {
        use AudioAction::{Copy as ACopy, TranscodeAac};
        use Mode::*;
        let h264 = || video("h264", "High", 8, 1920, 1080);
        let cases: Vec<(&str, Media, ClientProfile, Mode, V, AudioAction)> = vec![
            ("h264/aac mp4: the file as is", media(MP4, vec![h264(), audio(1, "aac", 2)]), ClientProfile::default(), DirectPlay, V::Copy, ACopy),
            ("h264/aac mkv: remux", media(MKV, vec![h264(), audio(1, "aac", 2)]), ClientProfile::default(), DirectStream, V::Copy, ACopy),
            ("h264/mp3 mp4 on the default profile: mp3 → aac", media(MP4, vec![h264(), audio(1, "mp3", 2)]), ClientProfile::default(), Transcode, V::Copy, TranscodeAac { channels: 2 }),
            ("5.1 aac without multichannel: downmix", media(MP4, vec![h264(), audio(1, "aac", 6)]), chromium(), Transcode, V::Copy, TranscodeAac { channels: 2 }),
            ("5.1 aac with multichannel: copy", media(MP4, vec![h264(), audio(1, "aac", 6)]), safari_hdr(), DirectPlay, V::Copy, ACopy),
            ("eac3 5.1 where declared: copy", media(MKV, vec![h264(), audio(1, "eac3", 6)]), safari_hdr(), DirectStream, V::Copy, ACopy),
            ("7.1 truehd with 5.1 aac: 5.1", media(MKV, vec![h264(), audio(1, "truehd", 8)]), safari_hdr(), Transcode, V::Copy, TranscodeAac { channels: 6 }),
            ("hevc main in chromium", media(MP4, vec![video("hevc", "Main", 8, 1920, 1080), audio(1, "aac", 2)]), chromium(), Transcode, V::Transcode, ACopy),
            ("hevc main10 in safari", media(MP4, vec![video("hevc", "Main 10", 10, 1920, 1080), audio(1, "aac", 2)]), safari_hdr(), DirectPlay, V::Copy, ACopy),
            ("hevc rext nowhere", media(MP4, vec![video("hevc", "Rext", 8, 1920, 1080), audio(1, "aac", 2)]), safari_hdr(), Transcode, V::Transcode, ACopy),
            ("hi10p nowhere", media(MKV, vec![video("h264", "High 10", 10, 1920, 1080), audio(1, "aac", 2)]), safari_hdr(), Transcode, V::Transcode, ACopy),
            ("h264 4:4:4 nowhere", media(MKV, vec![video("h264", "High 4:4:4 Predictive", 8, 1920, 1080)]), chromium(), Transcode, V::Transcode, ACopy),
            ("av1 10-bit opus webm in chromium", media(MKV, vec![video("av1", "Main", 10, 1920, 1080), audio(1, "opus", 2)]), chromium(), DirectPlay, V::Copy, ACopy),
            ("av1 without av1_10", media(MKV, vec![video("av1", "Main", 10, 1920, 1080), audio(1, "opus", 2)]), ClientProfile { av1_10bit: false, ..chromium() }, Transcode, V::Transcode, ACopy),
            ("vp9 profile 2 in chromium", media(MKV, vec![video("vp9", "Profile 2", 10, 1920, 1080), audio(1, "opus", 2)]), chromium(), DirectPlay, V::Copy, ACopy),
            ("vp9 profile 1 nowhere", media(MKV, vec![video("vp9", "Profile 1", 8, 1920, 1080)]), chromium(), Transcode, V::Transcode, ACopy),
            ("av1 + flac in mkv: not webm, remux", media(MKV, vec![video("av1", "Main", 8, 1920, 1080), audio(1, "flac", 2)]), chromium(), DirectStream, V::Copy, ACopy),
            ("mpeg2 nowhere", media("mpegts", vec![video("mpeg2video", "Main", 8, 720, 576), audio(1, "mp2", 2)]), safari_hdr(), Transcode, V::Transcode, TranscodeAac { channels: 2 }),
            ("vc1 nowhere", media(MKV, vec![video("vc1", "Advanced", 8, 1920, 1080), audio(1, "ac3", 6)]), safari_hdr(), Transcode, V::Transcode, ACopy),
            ("mono pcm: mono aac", media(MKV, vec![h264(), audio(1, "pcm_s16le", 1)]), chromium(), Transcode, V::Copy, TranscodeAac { channels: 1 }),
            ("mp4 without faststart: remux", { let mut m = media(MP4, vec![h264(), audio(1, "aac", 2)]); m.faststart = Some(false); m }, chromium(), DirectStream, V::Copy, ACopy),
            ("avi h264: remux", media("avi", vec![h264(), audio(1, "mp3", 2)]), chromium(), DirectStream, V::Copy, ACopy),
            ("webm in a browser without webm: remux", media(MKV, vec![video("vp9", "Profile 0", 8, 1920, 1080), audio(1, "opus", 2)]), ClientProfile { webm: false, ..chromium() }, DirectStream, V::Copy, ACopy),
            ("h264/aac mkv where matroska plays: the file as is", media(MKV, vec![h264(), audio(1, "aac", 2)]), mkv(), DirectPlay, V::Copy, ACopy),
            ("av1 + flac mkv where matroska plays: the file as is", media(MKV, vec![video("av1", "Main", 8, 1920, 1080), audio(1, "flac", 2)]), mkv(), DirectPlay, V::Copy, ACopy),
            ("h264 + ac-3 mkv where matroska plays: audio to aac", media(MKV, vec![h264(), audio(1, "ac3", 6)]), mkv(), Transcode, V::Copy, TranscodeAac { channels: 2 }),
            ("h264 + dts mkv where matroska plays: audio to aac", media(MKV, vec![h264(), audio(1, "dts", 6)]), mkv(), Transcode, V::Copy, TranscodeAac { channels: 2 }),
            ("hi10p mkv where matroska plays: transcode", media(MKV, vec![video("h264", "High 10", 10, 1920, 1080), audio(1, "aac", 2)]), mkv(), Transcode, V::Transcode, ACopy),
            ("h264/aac + subrip mkv where matroska plays: the file as is", media(MKV, vec![h264(), audio(1, "aac", 2), subtitle(2, "subrip", SubtitleKind::Text)]), mkv(), DirectPlay, V::Copy, ACopy),
            ("rotated h264/aac mkv where matroska plays: turned by a transcode", media(MKV, vec![{ let mut v = h264(); if let StreamKind::Video(p) = &mut v.kind { p.rotation = 90; } v }, audio(1, "aac", 2)]), mkv(), Transcode, V::Transcode, ACopy),
            ("h264/aac + pgs mkv where matroska plays: remux", media(MKV, vec![h264(), audio(1, "aac", 2), subtitle(2, "hdmv_pgs_subtitle", SubtitleKind::Image)]), mkv(), DirectStream, V::Copy, ACopy),
            ("h264/ac-3 mkv in safari (decodes ac-3, no matroska): remux", media(MKV, vec![h264(), audio(1, "ac3", 6)]), safari_hdr(), DirectStream, V::Copy, ACopy),
        ];
        for (name, m, profile, mode, v, a) in cases {
            let p = plan(&m, &profile, &Request::default()).unwrap();
            assert_eq!(p.mode, mode, "{name}: {}", p.summary());
            assert_eq!(v_of(&p), v, "{name}: {}", p.summary());
            if m.audio().next().is_some() {
                assert_eq!(p.audio.as_ref().unwrap().action, a, "{name}: {}", p.summary());
            }
            assert_eq!(p.segments.is_none(), mode == DirectPlay, "{name}");
        }
    }

    fn filters(p: &Plan) -> Vec<VideoFilter> {
        match &p.video.as_ref().unwrap().action {
            VideoAction::TranscodeH264 { filters, .. } => filters.clone(),
            VideoAction::Copy => vec![],
        }
    }

    #[test]
    fn an_interlaced_picture_is_never_remuxed() {
        let v = with_video(video("h264", "High", 8, 1920, 1080), |v| {
            v.field_order = FieldOrder::BottomFirst
        });
        let p = plan(
            &media(MKV, vec![v, audio(1, "aac", 2)]),
            &chromium(),
            &Request::default(),
        )
        .unwrap();
        assert_eq!(p.mode, Mode::Transcode);
        assert_eq!(filters(&p), vec![VideoFilter::Deinterlace]);
        assert!(p.video.unwrap().reason.contains("bottom field first"));
    }

    #[test]
    fn hdr_is_kept_for_an_hdr_display_and_tone_mapped_otherwise() {
        let hdr = |transfer: &str| {
            with_video(video("hevc", "Main 10", 10, 3840, 2160), |v| {
                v.color.transfer = Some(transfer.into());
                v.color.primaries = Some("bt2020".into());
            })
        };
        let p = plan(
            &media(MP4, vec![hdr("smpte2084")]),
            &safari_hdr(),
            &Request::default(),
        )
        .unwrap();
        assert_eq!(p.mode, Mode::DirectPlay);
        let sdr_hevc = ClientProfile {
            hdr: false,
            ..safari_hdr()
        };
        let p = plan(
            &media(MP4, vec![hdr("arib-std-b67")]),
            &sdr_hevc,
            &Request::default(),
        )
        .unwrap();
        assert_eq!(filters(&p), vec![VideoFilter::Tonemap(Hdr::Hlg)]);
        assert!(p.video.unwrap().reason.contains("Hlg on an SDR display"));
        // Transcoded for another reason on an HDR display: the H.264 output is SDR, so still
        // tone-mapped rather than shown washed out.
        let req = Request {
            quality: Quality::P1080,
            ..Request::default()
        };
        let p = plan(&media(MP4, vec![hdr("smpte2084")]), &safari_hdr(), &req).unwrap();
        assert_eq!(
            filters(&p),
            vec![
                VideoFilter::Tonemap(Hdr::Hdr10),
                VideoFilter::ScaleToHeight(1080)
            ]
        );
    }

    #[test]
    fn filters_run_in_a_fixed_order() {
        let v = with_video(video("mpeg2video", "Main", 8, 720, 1280), |v| {
            v.field_order = FieldOrder::TopFirst;
            v.rotation = 90;
            v.color.transfer = Some("smpte2084".into());
        });
        let m = media(
            MKV,
            vec![v, subtitle(1, "dvd_subtitle", SubtitleKind::Image)],
        );
        let req = Request {
            burn_subtitle: Some(1),
            quality: Quality::P480,
            ..Request::default()
        };
        let p = plan(&m, &chromium(), &req).unwrap();
        assert_eq!(
            filters(&p),
            vec![
                VideoFilter::Deinterlace,
                VideoFilter::Tonemap(Hdr::Hdr10),
                VideoFilter::OverlayImageSubtitle(1),
                VideoFilter::Rotate(90),
                VideoFilter::ScaleToHeight(480),
            ]
        );
    }

    #[test]
    fn rotation_is_copied_only_when_the_file_itself_is_played() {
        let rotated = || with_video(video("h264", "High", 8, 1920, 1080), |v| v.rotation = 90);
        let p = plan(
            &media(MP4, vec![rotated(), audio(1, "aac", 2)]),
            &chromium(),
            &Request::default(),
        )
        .unwrap();
        assert_eq!(p.mode, Mode::DirectPlay);
        assert!(p.video.unwrap().reason.contains("rotation 90° kept"));
        // Remuxing into HLS would lose it: rotated by a transcode instead.
        let p = plan(
            &media(MKV, vec![rotated(), audio(1, "aac", 2)]),
            &chromium(),
            &Request::default(),
        )
        .unwrap();
        assert_eq!(p.mode, Mode::Transcode);
        assert_eq!(filters(&p), vec![VideoFilter::Rotate(90)]);
        let p = plan(
            &media(MP4, vec![rotated(), audio(1, "ac3", 2)]),
            &chromium(),
            &Request::default(),
        )
        .unwrap();
        assert_eq!(p.mode, Mode::Transcode, "an audio transcode is HLS too");
        assert_eq!(filters(&p), vec![VideoFilter::Rotate(90)]);
    }

    fn p_action(p: &Plan) -> VideoAction {
        p.video.as_ref().expect("a video decision").action.clone()
    }

    #[test]
    fn a_lower_quality_scales_and_caps_the_bitrate() {
        let m = media(
            MP4,
            vec![video("h264", "High", 8, 1920, 1080), audio(1, "aac", 2)],
        );
        let at = |quality, cap| {
            let req = Request {
                quality,
                max_video_kbps: cap,
                ..Request::default()
            };
            plan(&m, &chromium(), &req).unwrap()
        };
        assert_eq!(
            at(Quality::P1080, None).mode,
            Mode::DirectPlay,
            "already 1080p"
        );
        let transcode = |quality, cap| p_action(&at(quality, cap));
        assert_eq!(
            transcode(Quality::P720, None),
            VideoAction::TranscodeH264 {
                filters: vec![VideoFilter::ScaleToHeight(720)],
                max_kbps: 4_000
            }
        );
        assert_eq!(
            transcode(Quality::P480, Some(1_000)),
            VideoAction::TranscodeH264 {
                filters: vec![VideoFilter::ScaleToHeight(480)],
                max_kbps: 1_000
            }
        );
        // A cap under the file's 4 Mb/s re-encodes even at the original size.
        assert_eq!(
            transcode(Quality::Original, Some(2_000)),
            VideoAction::TranscodeH264 {
                filters: vec![],
                max_kbps: 2_000
            }
        );
        assert_eq!(at(Quality::Original, Some(10_000)).mode, Mode::DirectPlay);
        // The profile's own height cap.
        let small = ClientProfile {
            max_height: Some(720),
            ..chromium()
        };
        let p = plan(&m, &small, &Request::default()).unwrap();
        assert_eq!(filters(&p), vec![VideoFilter::ScaleToHeight(720)]);
    }

    #[test]
    fn a_quality_choice_is_a_height_with_its_bitrate_from_the_table() {
        // The documented table (docs/playback.md): 1080p 8 Mb/s, 720p 4 Mb/s, 480p 1.5 Mb/s.
        let table: Vec<u32> = [1080, 720, 480].map(Quality::default_max_kbps).to_vec();
        assert_eq!(table, vec![8_000, 4_000, 1_500]);
        let mut m = media(
            MKV,
            vec![video("h264", "High", 8, 1920, 1080), audio(1, "aac", 2)],
        );
        m.bit_rate = Some(12_000_000);
        let at = |m: &Media, max: Option<u32>| {
            let profile = ClientProfile {
                max_height: max,
                ..chromium()
            };
            let req = Request {
                hls: true,
                ..Request::default()
            };
            plan(m, &profile, &req).unwrap()
        };
        assert_eq!(at(&m, None).mode, Mode::DirectStream, "Original: no cap");
        let p = at(&m, Some(1080));
        assert_eq!(
            p_action(&p),
            VideoAction::TranscodeH264 {
                filters: vec![],
                max_kbps: 8_000
            },
            "1080 lines fit, 12 Mb/s does not"
        );
        assert!(
            p.video
                .unwrap()
                .reason
                .contains("12000 kb/s over the 8000 kb/s cap")
        );
        let p = at(&m, Some(480));
        assert_eq!(
            p_action(&p),
            VideoAction::TranscodeH264 {
                filters: vec![VideoFilter::ScaleToHeight(480)],
                max_kbps: 1_500
            }
        );
        let why = p.video.unwrap().reason;
        assert!(
            why.contains("1080 lines over the 480p cap, scaled to 480"),
            "{why}"
        );
        // A file already within both caps is not touched.
        m.bit_rate = Some(3_000_000);
        assert_eq!(at(&m, Some(720)).mode, Mode::Transcode, "1080 > 720 lines");
        assert_eq!(at(&m, Some(1080)).mode, Mode::DirectStream);
    }

    #[test]
    fn audio_track_choice() {
        let mut fr = audio(1, "aac", 2);
        fr.default = false;
        let mut en = audio(2, "aac", 2);
        en.default = true;
        let m = media(MP4, vec![video("h264", "High", 8, 1280, 720), fr, en]);
        let p = plan(&m, &chromium(), &Request::default()).unwrap();
        assert_eq!(p.audio.as_ref().unwrap().stream, 2, "the default track");
        assert_eq!(
            p.mode,
            Mode::DirectStream,
            "the browser would play the first track"
        );
        let with = |req: Request| plan(&m, &chromium(), &req);
        let p = with(Request {
            audio: Some(1),
            ..Request::default()
        })
        .unwrap();
        assert_eq!(p.mode, Mode::DirectPlay);
        let err = with(Request {
            audio: Some(0),
            ..Request::default()
        })
        .unwrap_err();
        assert_eq!(err.code(), "unknown_audio_track");
        let err = with(Request {
            burn_subtitle: Some(7),
            ..Request::default()
        })
        .unwrap_err();
        assert_eq!(err.code(), "unknown_subtitle_track");
    }

    #[test]
    fn subtitles_are_offered_by_kind() {
        let m = media(
            MKV,
            vec![
                video("h264", "High", 8, 1280, 720),
                subtitle(1, "subrip", SubtitleKind::Text),
                subtitle(2, "ass", SubtitleKind::Ass),
                subtitle(3, "hdmv_pgs_subtitle", SubtitleKind::Image),
                subtitle(4, "eia_608", SubtitleKind::Unknown),
            ],
        );
        let p = plan(&m, &chromium(), &Request::default()).unwrap();
        let kinds: Vec<_> = p.subtitles.iter().map(|s| s.delivery).collect();
        assert_eq!(
            kinds,
            [
                SubtitleDelivery::WebVtt,
                SubtitleDelivery::Ass,
                SubtitleDelivery::BurnIn,
                SubtitleDelivery::None
            ]
        );
        assert_eq!(
            p.mode,
            Mode::DirectStream,
            "offering subtitles changes nothing"
        );
        let p = plan(
            &m,
            &chromium(),
            &Request {
                burn_subtitle: Some(2),
                ..Request::default()
            },
        )
        .unwrap();
        assert_eq!(filters(&p), vec![VideoFilter::BurnTextSubtitle(2)]);
        assert!(p.video.unwrap().reason.contains("on request"));
    }

    #[test]
    fn audio_only_and_empty_files() {
        let p = plan(
            &media(MP4, vec![audio(0, "flac", 2)]),
            &chromium(),
            &Request::default(),
        )
        .unwrap();
        assert!(p.video.is_none());
        assert_eq!(p.mode, Mode::DirectPlay);
        let err = plan(
            &media(MKV, vec![subtitle(0, "subrip", SubtitleKind::Text)]),
            &chromium(),
            &Request::default(),
        )
        .unwrap_err();
        assert_eq!(err.code(), "no_playable_stream");
    }

    #[test]
    fn segments_are_ts_only_for_h264_with_aac() {
        use SegmentFormat::{Fmp4, Ts};
        let cases = [
            ("h264", "aac", 2, chromium(), Ts),
            ("h264", "ac3", 6, safari_hdr(), Fmp4),
            ("hevc", "aac", 2, safari_hdr(), Fmp4),
            ("av1", "flac", 2, chromium(), Fmp4),
            // Both transcoded for Chromium: H.264 + AAC, which stays in TS.
            ("hevc", "dts", 6, chromium(), Ts),
        ];
        for (v, a, channels, profile, want) in cases {
            let profile_name = if v == "h264" { "High" } else { "Main" };
            let streams = vec![video(v, profile_name, 8, 1280, 720), audio(1, a, channels)];
            let got = plan(&media(MKV, streams), &profile, &Request::default())
                .unwrap()
                .segments;
            assert_eq!(got, Some(want), "{v} + {a}");
        }
    }
}
