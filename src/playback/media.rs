//! The probed file as the playback engine sees it: every stream with what decides how it
//! plays (codec, profile, bit depth, interlacing, rotation, HDR signalling, channels,
//! subtitle kind), parsed from `ffprobe -show_format -show_streams -show_chapters -of json`.
//!
//! Parsing is tolerant: ffprobe omits fields it does not know for a stream, and a missing
//! field becomes "unknown" (`None`) rather than an error; only output that is not ffprobe
//! JSON at all is refused.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};

use serde::Deserialize;

/// The arguments that produce the JSON `Media::from_ffprobe_json` reads (before the input).
pub const FFPROBE_ARGS: &[&str] = &[
    "-v",
    "error",
    "-show_format",
    "-show_streams",
    "-show_chapters",
    "-of",
    "json",
];

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("unreadable ffprobe output: {0}")]
pub struct MediaError(String);

#[derive(Debug, Clone, PartialEq)]
pub struct Media {
    /// ffprobe's `format_name`, e.g. `matroska,webm` or `mov,mp4,m4a,3gp,3g2,mj2`.
    pub format_name: String,
    /// Seconds; `None` for a live or truncated input.
    pub duration: Option<f64>,
    /// Seconds; the first timestamp (non-zero in MPEG-TS).
    pub start_time: f64,
    pub bit_rate: Option<u64>,
    pub streams: Vec<Stream>,
    pub chapters: Vec<Chapter>,
    /// For MP4/MOV: `moov` before `mdat` (a browser starts playing from the first bytes).
    /// ffprobe does not say; the caller fills it from `moov_before_mdat`.
    pub faststart: Option<bool>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Stream {
    /// ffprobe's absolute stream index (`-map 0:N`).
    pub index: u32,
    /// ffprobe's `codec_name`, e.g. `h264`, `hevc`, `ac3`, `hdmv_pgs_subtitle`.
    pub codec: String,
    /// ffprobe's `profile`, e.g. `High 10`, `Main 10`, `Profile 2`.
    pub profile: Option<String>,
    pub language: Option<String>,
    pub title: Option<String>,
    pub default: bool,
    pub forced: bool,
    /// Subtitles for the deaf and hard of hearing (SDH).
    pub hearing_impaired: bool,
    /// Seconds, when the stream says (a container without a duration of its own).
    pub duration: Option<f64>,
    pub kind: StreamKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StreamKind {
    Video(Video),
    Audio(Audio),
    Subtitle(Subtitle),
    /// Data, attachments (fonts), cover art and anything else that is not played.
    Other,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Video {
    pub width: u32,
    pub height: u32,
    pub pix_fmt: Option<String>,
    pub bit_depth: u8,
    pub field_order: FieldOrder,
    /// Clockwise degrees (0, 90, 180, 270) the picture must turn to be upright.
    pub rotation: u16,
    pub color: Color,
    pub frame_rate: Option<f64>,
    pub level: Option<i32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldOrder {
    Progressive,
    /// Top field first, coded and displayed (`tt`).
    TopFirst,
    /// Bottom field first (`bb`).
    BottomFirst,
    /// Top coded first, bottom displayed first (`tb`).
    TopCodedBottomFirst,
    /// Bottom coded first, top displayed first (`bt`).
    BottomCodedTopFirst,
    Unknown,
}

impl FieldOrder {
    fn parse(s: Option<&str>) -> FieldOrder {
        match s {
            Some("progressive") => FieldOrder::Progressive,
            Some("tt") => FieldOrder::TopFirst,
            Some("bb") => FieldOrder::BottomFirst,
            Some("tb") => FieldOrder::TopCodedBottomFirst,
            Some("bt") => FieldOrder::BottomCodedTopFirst,
            _ => FieldOrder::Unknown,
        }
    }

    pub fn is_interlaced(self) -> bool {
        !matches!(self, FieldOrder::Progressive | FieldOrder::Unknown)
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Color {
    pub transfer: Option<String>,
    pub primaries: Option<String>,
    pub space: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hdr {
    /// PQ transfer (SMPTE ST 2084), as HDR10 and HDR10+ use.
    Hdr10,
    /// Hybrid log-gamma (ARIB STD-B67), as broadcast HDR uses.
    Hlg,
}

impl Color {
    /// The transfer function decides: a PQ or HLG picture shown as SDR looks washed out.
    /// BT.2020 primaries with an SDR transfer (some UHD broadcasts) need no tone mapping.
    pub fn hdr(&self) -> Option<Hdr> {
        match self.transfer.as_deref() {
            Some("smpte2084") => Some(Hdr::Hdr10),
            Some("arib-std-b67") => Some(Hdr::Hlg),
            _ => None,
        }
    }

    pub fn wide_gamut(&self) -> bool {
        self.primaries.as_deref() == Some("bt2020")
    }
}

impl Video {
    /// The size as shown, after rotation.
    pub fn display_size(&self) -> (u32, u32) {
        if self.rotation % 180 == 90 {
            (self.height, self.width)
        } else {
            (self.width, self.height)
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Audio {
    pub channels: u32,
    pub channel_layout: Option<String>,
    pub sample_rate: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubtitleKind {
    /// subrip, webvtt, mov_text: plain text, becomes WebVTT.
    Text,
    /// ASS/SSA: text with styles, positions and effects.
    Ass,
    /// PGS, VobSub, DVB: bitmaps no browser renders.
    Image,
    Unknown,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Subtitle {
    pub kind: SubtitleKind,
    /// ASS/SSA is treated as styled: ffprobe does not show its events, and flattening a
    /// styled track (signs, karaoke, positions) to WebVTT loses more than rendering a plain
    /// one with libass costs.
    pub styled: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Chapter {
    pub start: f64,
    pub end: f64,
    pub title: Option<String>,
}

impl Media {
    pub fn from_ffprobe_json(json: &[u8]) -> Result<Media, MediaError> {
        let raw: Raw = serde_json::from_slice(json).map_err(|e| MediaError(e.to_string()))?;
        let format = raw.format.unwrap_or_default();
        Ok(Media {
            format_name: format.format_name.unwrap_or_default(),
            duration: num(&format.duration).filter(|d| d.is_finite() && *d > 0.0),
            start_time: num(&format.start_time).unwrap_or(0.0),
            bit_rate: format.bit_rate.as_deref().and_then(|b| b.parse().ok()),
            streams: raw.streams.into_iter().map(Stream::from_raw).collect(),
            chapters: raw
                .chapters
                .into_iter()
                .map(|c| Chapter {
                    start: num(&c.start_time).unwrap_or(0.0),
                    end: num(&c.end_time).unwrap_or(0.0),
                    title: c.tags.get("title").cloned(),
                })
                .collect(),
            faststart: None,
        })
    }

    /// The picture: the first video stream that is not cover art.
    pub fn video(&self) -> Option<(&Stream, &Video)> {
        self.streams.iter().find_map(|s| match &s.kind {
            StreamKind::Video(v) => Some((s, v)),
            _ => None,
        })
    }

    pub fn audio(&self) -> impl Iterator<Item = (&Stream, &Audio)> {
        self.streams.iter().filter_map(|s| match &s.kind {
            StreamKind::Audio(a) => Some((s, a)),
            _ => None,
        })
    }

    pub fn subtitles(&self) -> impl Iterator<Item = (&Stream, &Subtitle)> {
        self.streams.iter().filter_map(|s| match &s.kind {
            StreamKind::Subtitle(t) => Some((s, t)),
            _ => None,
        })
    }

    pub fn stream(&self, index: u32) -> Option<&Stream> {
        self.streams.iter().find(|s| s.index == index)
    }

    pub fn is_mp4(&self) -> bool {
        self.format_name
            .split(',')
            .any(|f| f == "mp4" || f == "mov")
    }

    pub fn is_matroska(&self) -> bool {
        self.format_name.split(',').any(|f| f == "matroska")
    }
}

impl Stream {
    fn from_raw(s: RawStream) -> Stream {
        let flag = |k: &str| s.disposition.get(k).copied().unwrap_or(0) != 0;
        let (default, forced) = (flag("default"), flag("forced"));
        let codec = s.codec_name.clone().unwrap_or_default();
        let profile = known(s.profile.clone());
        let kind = match s.codec_type.as_deref() {
            Some("video") if !flag("attached_pic") => StreamKind::Video(Video {
                width: s.width.unwrap_or(0),
                height: s.height.unwrap_or(0),
                bit_depth: bit_depth(s.bits_per_raw_sample.as_deref(), s.pix_fmt.as_deref()),
                pix_fmt: s.pix_fmt.clone(),
                field_order: FieldOrder::parse(s.field_order.as_deref()),
                rotation: rotation(&s),
                color: Color {
                    transfer: known(s.color_transfer.clone()),
                    primaries: known(s.color_primaries.clone()),
                    space: known(s.color_space.clone()),
                },
                frame_rate: rate(s.avg_frame_rate.as_deref())
                    .or_else(|| rate(s.r_frame_rate.as_deref())),
                level: s.level,
            }),
            Some("audio") => StreamKind::Audio(Audio {
                channels: s.channels.unwrap_or(2),
                channel_layout: s.channel_layout.clone(),
                sample_rate: s.sample_rate.as_deref().and_then(|r| r.parse().ok()),
            }),
            Some("subtitle") => {
                let kind = subtitle_kind(&codec);
                StreamKind::Subtitle(Subtitle {
                    kind,
                    styled: kind == SubtitleKind::Ass,
                })
            }
            _ => StreamKind::Other,
        };
        Stream {
            index: s.index,
            codec,
            profile,
            language: s.tags.get("language").filter(|l| *l != "und").cloned(),
            title: s.tags.get("title").cloned(),
            default,
            forced,
            hearing_impaired: flag("hearing_impaired"),
            duration: num(&s.duration),
            kind,
        }
    }
}

fn subtitle_kind(codec: &str) -> SubtitleKind {
    match codec {
        "subrip" | "srt" | "webvtt" | "mov_text" | "text" => SubtitleKind::Text,
        "ass" | "ssa" => SubtitleKind::Ass,
        "hdmv_pgs_subtitle" | "dvd_subtitle" | "dvb_subtitle" | "xsub" => SubtitleKind::Image,
        _ => SubtitleKind::Unknown,
    }
}

fn num(s: &Option<String>) -> Option<f64> {
    s.as_deref().and_then(|s| s.parse::<f64>().ok())
}

fn known(s: Option<String>) -> Option<String> {
    s.filter(|v| v != "unknown" && v != "reserved")
}

/// `30000/1001` → 29.97; `0/0` (ffprobe's "unknown") → None.
fn rate(s: Option<&str>) -> Option<f64> {
    let (n, d) = s?.split_once('/')?;
    let (n, d) = (n.parse::<f64>().ok()?, d.parse::<f64>().ok()?);
    (n > 0.0 && d > 0.0).then(|| n / d)
}

/// `bits_per_raw_sample` when the decoder reports it, else the pixel format's depth
/// (`yuv420p10le` → 10); 8 when neither says.
fn bit_depth(raw: Option<&str>, pix_fmt: Option<&str>) -> u8 {
    if let Some(b) = raw.and_then(|b| b.parse::<u8>().ok()).filter(|b| *b > 0) {
        return b;
    }
    let Some(fmt) = pix_fmt else { return 8 };
    let fmt = fmt.trim_end_matches("le").trim_end_matches("be");
    let digits: String = fmt
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_digit())
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    // `yuv420p10` ends in its depth; `yuv420p` ends in the `p` of planar, `nv12`/`rgb24` are 8-bit.
    match digits.parse::<u8>() {
        Ok(d @ 9..=16)
            if fmt.len() > digits.len() && fmt.as_bytes()[fmt.len() - digits.len() - 1] == b'p' =>
        {
            d
        }
        _ => 8,
    }
}

/// Clockwise degrees to turn the picture upright. ffprobe reports the display matrix's
/// `rotation` counter-clockwise (as `av_display_rotation_get` does); older files and older
/// ffprobe versions carry a `rotate` tag instead, in clockwise degrees.
fn rotation(s: &RawStream) -> u16 {
    let ccw = s
        .side_data_list
        .iter()
        .find(|d| d.side_data_type.as_deref() == Some("Display Matrix"))
        .and_then(|d| d.rotation);
    let cw = match ccw {
        Some(r) => -r,
        None => s
            .tags
            .get("rotate")
            .and_then(|r| r.parse::<f64>().ok())
            .unwrap_or(0.0),
    };
    // Quarter turns only: a matrix with another angle is a broken file, not a real recording.
    let quarter = ((cw / 90.0).round() as i64).rem_euclid(4);
    (quarter * 90) as u16
}

/// Whether an MP4/MOV has its `moov` box before `mdat`, from the top-level box headers
/// (reads at most 64 headers, 16 bytes each).
pub fn moov_before_mdat<R: Read + Seek>(mut r: R) -> std::io::Result<bool> {
    let len = r.seek(SeekFrom::End(0))?;
    let mut pos = 0u64;
    for _ in 0..64 {
        if pos + 8 > len {
            return Ok(false);
        }
        r.seek(SeekFrom::Start(pos))?;
        let mut header = [0u8; 16];
        r.read_exact(&mut header[..8])?;
        let size32 = u64::from(u32::from_be_bytes([
            header[0], header[1], header[2], header[3],
        ]));
        let size = match size32 {
            0 => len - pos,
            1 => {
                r.read_exact(&mut header[8..16])?;
                u64::from_be_bytes(header[8..16].try_into().expect("8 bytes"))
            }
            n => n,
        };
        match &header[4..8] {
            b"moov" => return Ok(true),
            b"mdat" => return Ok(false),
            _ => {}
        }
        if size < 8 {
            return Ok(false);
        }
        pos += size;
    }
    Ok(false)
}

#[derive(Deserialize)]
struct Raw {
    #[serde(default)]
    streams: Vec<RawStream>,
    format: Option<RawFormat>,
    #[serde(default)]
    chapters: Vec<RawChapter>,
}

#[derive(Deserialize, Default)]
struct RawFormat {
    format_name: Option<String>,
    duration: Option<String>,
    start_time: Option<String>,
    bit_rate: Option<String>,
}

#[derive(Deserialize)]
struct RawChapter {
    start_time: Option<String>,
    end_time: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct RawStream {
    index: u32,
    codec_type: Option<String>,
    codec_name: Option<String>,
    profile: Option<String>,
    pix_fmt: Option<String>,
    bits_per_raw_sample: Option<String>,
    width: Option<u32>,
    height: Option<u32>,
    level: Option<i32>,
    field_order: Option<String>,
    color_transfer: Option<String>,
    color_primaries: Option<String>,
    color_space: Option<String>,
    avg_frame_rate: Option<String>,
    r_frame_rate: Option<String>,
    channels: Option<u32>,
    channel_layout: Option<String>,
    sample_rate: Option<String>,
    duration: Option<String>,
    #[serde(default)]
    side_data_list: Vec<RawSideData>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    #[serde(default)]
    disposition: BTreeMap<String, i64>,
}

#[derive(Deserialize)]
struct RawSideData {
    side_data_type: Option<String>,
    rotation: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Media {
        let path = format!(
            "{}/tests/fixtures/ffprobe/{name}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let json = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        Media::from_ffprobe_json(&json).unwrap()
    }

    #[test]
    fn pixel_formats_give_their_bit_depth() {
        assert_eq!(bit_depth(None, Some("yuv420p")), 8);
        assert_eq!(bit_depth(None, Some("yuvj420p")), 8);
        assert_eq!(bit_depth(None, Some("yuv420p10le")), 10);
        assert_eq!(bit_depth(None, Some("yuv422p12be")), 12);
        assert_eq!(bit_depth(None, Some("nv12")), 8);
        assert_eq!(bit_depth(None, Some("rgb24")), 8);
        assert_eq!(bit_depth(None, None), 8);
        assert_eq!(bit_depth(Some("10"), Some("yuv420p")), 10);
    }

    #[test]
    fn frame_rates_are_fractions() {
        assert!((rate(Some("30000/1001")).unwrap() - 29.97).abs() < 0.01);
        assert_eq!(rate(Some("0/0")), None);
        assert_eq!(rate(Some("25")), None);
    }

    #[test]
    fn missing_fields_are_unknown_not_errors() {
        let m = Media::from_ffprobe_json(
            br#"{"streams":[{"index":0,"codec_type":"video"},{"index":1}]}"#,
        )
        .unwrap();
        let (_, v) = m.video().unwrap();
        assert_eq!((v.width, v.bit_depth, v.rotation), (0, 8, 0));
        assert_eq!(v.field_order, FieldOrder::Unknown);
        assert_eq!(m.duration, None);
        assert_eq!(m.streams[1].kind, StreamKind::Other);
        assert!(Media::from_ffprobe_json(b"not json").is_err());
    }

    #[test]
    fn a_rotate_tag_is_read_when_there_is_no_display_matrix() {
        let m = Media::from_ffprobe_json(
            br#"{"streams":[{"index":0,"codec_type":"video","width":1920,"height":1080,"tags":{"rotate":"90"}}]}"#,
        )
        .unwrap();
        let (_, v) = m.video().unwrap();
        assert_eq!(v.rotation, 90);
        assert_eq!(v.display_size(), (1080, 1920));
    }

    #[test]
    fn cover_art_is_not_the_picture() {
        let m = Media::from_ffprobe_json(
            br#"{"streams":[{"index":0,"codec_type":"video","codec_name":"mjpeg","disposition":{"attached_pic":1}},
                {"index":1,"codec_type":"video","codec_name":"h264"}]}"#,
        )
        .unwrap();
        assert_eq!(m.video().unwrap().0.index, 1);
    }

    #[test]
    fn moov_position_is_read_from_box_headers() {
        let boxed = |kind: &[u8; 4], len: u32| {
            let mut b = len.to_be_bytes().to_vec();
            b.extend_from_slice(kind);
            b.resize(len as usize, 0);
            b
        };
        let fast = [boxed(b"ftyp", 16), boxed(b"moov", 24), boxed(b"mdat", 32)].concat();
        let slow = [boxed(b"ftyp", 16), boxed(b"mdat", 32), boxed(b"moov", 24)].concat();
        assert!(moov_before_mdat(std::io::Cursor::new(fast)).unwrap());
        assert!(!moov_before_mdat(std::io::Cursor::new(slow)).unwrap());
    }

    #[test]
    fn mkv_with_several_audio_tracks() {
        let m = fixture("h264_ac3_multi_audio");
        assert!(m.is_matroska());
        let audio: Vec<_> = m.audio().collect();
        assert_eq!(audio.len(), 2);
        assert_eq!(audio[0].0.codec, "ac3");
        assert_eq!(audio[0].0.language.as_deref(), Some("fre"));
        assert_eq!(audio[0].0.title.as_deref(), Some("VF 5.1"));
        assert_eq!(audio[0].1.channels, 6);
        assert!(audio[0].0.default);
        assert_eq!(audio[1].0.language.as_deref(), Some("eng"));
        assert!(!audio[1].0.default);
        assert_eq!(m.chapters.len(), 2);
    }

    #[test]
    fn hdr10_main10() {
        let m = fixture("hevc_main10_hdr10");
        let (s, v) = m.video().unwrap();
        assert_eq!(s.codec, "hevc");
        assert_eq!(s.profile.as_deref(), Some("Main 10"));
        assert_eq!(v.bit_depth, 10);
        assert_eq!(v.color.hdr(), Some(Hdr::Hdr10));
        assert!(v.color.wide_gamut());
    }

    #[test]
    fn interlaced_mpeg2() {
        let m = fixture("mpeg2_interlaced_ts");
        let (s, v) = m.video().unwrap();
        assert_eq!(s.codec, "mpeg2video");
        assert!(v.field_order.is_interlaced(), "{:?}", v.field_order);
        assert!(m.start_time > 0.0, "MPEG-TS starts late");
    }

    #[test]
    fn portrait_phone_video() {
        let m = fixture("phone_portrait_rotated");
        let (_, v) = m.video().unwrap();
        assert_eq!((v.width, v.height), (320, 180));
        assert_eq!(v.rotation % 180, 90);
        let (w, h) = v.display_size();
        assert!(h > w);
        assert!(m.is_mp4());
    }

    #[test]
    fn hi10p_with_styled_ass() {
        let m = fixture("h264_hi10p_ass");
        let (s, v) = m.video().unwrap();
        assert_eq!(s.profile.as_deref(), Some("High 10"));
        assert_eq!(v.bit_depth, 10);
        let (_, sub) = m.subtitles().next().unwrap();
        assert_eq!(sub.kind, SubtitleKind::Ass);
        assert!(sub.styled);
    }

    #[test]
    fn image_subtitles() {
        let m = fixture("mkv_image_subtitle");
        let (s, sub) = m.subtitles().next().unwrap();
        assert_eq!(s.codec, "dvd_subtitle");
        assert_eq!(sub.kind, SubtitleKind::Image);
    }

    #[test]
    fn dts_film_and_truehd() {
        let m = fixture("dts_long_film");
        assert!(m.duration.unwrap() > 3600.0);
        assert_eq!(m.audio().next().unwrap().0.codec, "dts");
        let m = fixture("truehd");
        let (s, a) = m.audio().next().unwrap();
        assert_eq!(s.codec, "truehd");
        assert_eq!(a.channels, 6);
    }

    #[test]
    fn av1_vp9_xvid_4k() {
        assert_eq!(fixture("av1_opus_mkv").video().unwrap().0.codec, "av1");
        let vp9 = fixture("vp9_opus_webm");
        assert_eq!(vp9.video().unwrap().0.profile.as_deref(), Some("Profile 0"));
        let xvid = fixture("xvid_mp3_avi");
        assert_eq!(xvid.video().unwrap().0.codec, "mpeg4");
        assert_eq!(xvid.format_name, "avi");
        let uhd = fixture("hevc_4k");
        assert_eq!(uhd.video().unwrap().1.height, 2160);
    }
}
