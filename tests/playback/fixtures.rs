//! Real media for the playback tests, generated with the machine's ffmpeg (Debian 12's 5.1)
//! and dvdauthor's `spumux`, never fetched. Each file is a few seconds at low resolution
//! (the 4K one 2 s at 12 fps), made on first use and kept for later runs (see `RECIPES`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{LazyLock, OnceLock};

use sokoul::playback::Media;
use sokoul::playback::media::{FFPROBE_ARGS, moov_before_mdat};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fixture {
    /// H.264 + two AC-3 tracks (French 5.1 default "VF 5.1", English stereo "VO"), chapters.
    H264Ac3MultiAudio,
    /// HEVC Main10, HDR10 (x265 `hdr10`, mastering display, BT.2020/PQ) + E-AC-3 5.1 in a
    /// faststart MP4.
    HevcMain10Hdr10,
    /// AV1 (SVT-AV1) + Opus in Matroska.
    Av1OpusMkv,
    /// VP9 profile 0 + Opus in WebM.
    Vp9OpusWebm,
    /// MPEG-2 in MPEG-TS with woven fields (50p → 25i, top field first) + MP2.
    Mpeg2InterlacedTs,
    /// Xvid (MPEG-4 Part 2) + MP3 in AVI.
    XvidMp3Avi,
    /// A phone recording: HEVC + AAC, 320x180 with a 90° display matrix, `moov` at the end.
    PhonePortraitRotated,
    /// H.264 High 10 + AAC + an ASS track with a positioned, coloured sign.
    H264Hi10pAss,
    /// HEVC 3840x2160, no audio.
    Hevc4k,
    /// A two-hour film: 64x36 H.264 at 1 fps (a keyframe every 10 s) + DTS 5.1. The DTS
    /// track is 10 s long: ffmpeg's DTS encoder runs at about 7x real time here, so two hours
    /// of it would take minutes; the container still reports a 2 h film.
    DtsLongFilm,
    /// H.264 + TrueHD 5.1 in Matroska.
    TrueHd,
    /// H.264 + AC-3 + a DVD (VobSub) subtitle made by spumux from a PNG.
    MkvImageSubtitle,
}

pub(crate) const ALL: [Fixture; 12] = [
    Fixture::H264Ac3MultiAudio,
    Fixture::HevcMain10Hdr10,
    Fixture::Av1OpusMkv,
    Fixture::Vp9OpusWebm,
    Fixture::Mpeg2InterlacedTs,
    Fixture::XvidMp3Avi,
    Fixture::PhonePortraitRotated,
    Fixture::H264Hi10pAss,
    Fixture::Hevc4k,
    Fixture::DtsLongFilm,
    Fixture::TrueHd,
    Fixture::MkvImageSubtitle,
];

const FIVE_ONE: &str = "pan=5.1|FL=c0|FR=c0|FC=c0|LFE=c0|BL=c0|BR=c0";
const STEREO: &str = "pan=stereo|c0=c0|c1=c0";
const SMALL: &str = "testsrc2=size=320x180:rate=25";

/// Bump when a recipe below changes: the files are kept between runs in cargo's test temp
/// dir (`target/tmp`), so only the first run on a machine pays for generating them.
const RECIPES: u32 = 1;

static DIR: LazyLock<PathBuf> = LazyLock::new(|| {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("playback-media-v{RECIPES}"));
    std::fs::create_dir_all(&dir).expect("fixture dir");
    dir
});
static CELLS: [OnceLock<PathBuf>; 12] = [const { OnceLock::new() }; 12];

impl Fixture {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Fixture::H264Ac3MultiAudio => "h264_ac3_multi_audio",
            Fixture::HevcMain10Hdr10 => "hevc_main10_hdr10",
            Fixture::Av1OpusMkv => "av1_opus_mkv",
            Fixture::Vp9OpusWebm => "vp9_opus_webm",
            Fixture::Mpeg2InterlacedTs => "mpeg2_interlaced_ts",
            Fixture::XvidMp3Avi => "xvid_mp3_avi",
            Fixture::PhonePortraitRotated => "phone_portrait_rotated",
            Fixture::H264Hi10pAss => "h264_hi10p_ass",
            Fixture::Hevc4k => "hevc_4k",
            Fixture::DtsLongFilm => "dts_long_film",
            Fixture::TrueHd => "truehd",
            Fixture::MkvImageSubtitle => "mkv_image_subtitle",
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Fixture::HevcMain10Hdr10 | Fixture::PhonePortraitRotated => "mp4",
            Fixture::Vp9OpusWebm => "webm",
            Fixture::Mpeg2InterlacedTs => "ts",
            Fixture::XvidMp3Avi => "avi",
            _ => "mkv",
        }
    }

    /// The file, generated on first use.
    pub(crate) fn path(self) -> &'static Path {
        let i = ALL.iter().position(|f| *f == self).expect("listed");
        CELLS[i].get_or_init(|| {
            let file = format!("{}.{}", self.name(), self.extension());
            let path = DIR.join(&file);
            if !path.exists() {
                // Made in a directory of its own and renamed into place when complete, so a
                // run stopped halfway, or another test binary running at the same time, never
                // sees half a file.
                let work = tempfile::tempdir_in(&*DIR).expect("work dir");
                let tmp = work.path().join(&file);
                self.generate(&tmp);
                std::fs::rename(&tmp, &path).expect("move fixture into place");
            }
            path
        })
    }

    /// ffprobe's JSON for the file, as the engine would run it.
    pub(crate) fn ffprobe_json(self) -> Vec<u8> {
        let out = Command::new("ffprobe")
            .args(FFPROBE_ARGS)
            .arg(self.path())
            .output()
            .expect("run ffprobe");
        assert!(
            out.status.success(),
            "ffprobe {}: {}",
            self.name(),
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// The probed model, with `faststart` filled in for MP4 as the engine does.
    pub(crate) fn media(self) -> Media {
        let mut media = Media::from_ffprobe_json(&self.ffprobe_json()).expect("parse ffprobe");
        if media.is_mp4() {
            let file = std::fs::File::open(self.path()).expect("open");
            media.faststart = Some(moov_before_mdat(file).expect("read boxes"));
        }
        media
    }

    #[rustfmt::skip]
    fn generate(self, out: &Path) {
        let dir = out.parent().expect("dir");
        let o = out.to_str().expect("utf-8 path");
        match self {
            Fixture::H264Ac3MultiAudio => {
                let chapters = dir.join("chapters.txt");
                std::fs::write(
                    &chapters,
                    ";FFMETADATA1\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=1500\ntitle=Opening\n\
                     [CHAPTER]\nTIMEBASE=1/1000\nSTART=1500\nEND=3000\ntitle=End\n",
                )
                .expect("write chapters");
                ffmpeg(&[
                    "-f", "lavfi", "-i", SMALL,
                    "-f", "lavfi", "-i", "sine=f=440:r=48000",
                    "-f", "lavfi", "-i", "sine=f=660:r=48000",
                    "-f", "ffmetadata", "-i", chapters.to_str().expect("utf-8"),
                    "-t", "3", "-map", "0:v", "-map", "1:a", "-map", "2:a", "-map_chapters", "3",
                    "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "ac3",
                    "-filter:a:0", FIVE_ONE, "-filter:a:1", STEREO,
                    "-metadata:s:a:0", "language=fre", "-metadata:s:a:0", "title=VF 5.1",
                    "-disposition:a:0", "default",
                    "-metadata:s:a:1", "language=eng", "-metadata:s:a:1", "title=VO",
                    "-disposition:a:1", "0",
                    o,
                ]);
            }
            Fixture::HevcMain10Hdr10 => ffmpeg(&[
                "-f", "lavfi", "-i", SMALL, "-f", "lavfi", "-i", "sine=r=48000", "-t", "2",
                "-pix_fmt", "yuv420p10le", "-c:v", "libx265", "-preset", "ultrafast", "-tag:v", "hvc1",
                "-x265-params",
                "log-level=error:hdr10=1:colorprim=bt2020:transfer=smpte2084:colormatrix=bt2020nc:\
                 master-display=G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,1):max-cll=1000,400",
                "-color_primaries", "bt2020", "-color_trc", "smpte2084", "-colorspace", "bt2020nc",
                "-c:a", "eac3", "-filter:a", FIVE_ONE, "-movflags", "+faststart",
                o,
            ]),
            Fixture::Av1OpusMkv => ffmpeg(&[
                "-f", "lavfi", "-i", SMALL, "-f", "lavfi", "-i", "sine=r=48000", "-t", "2",
                "-c:v", "libsvtav1", "-preset", "12", "-c:a", "libopus", "-filter:a", STEREO,
                o,
            ]),
            Fixture::Vp9OpusWebm => ffmpeg(&[
                "-f", "lavfi", "-i", SMALL, "-f", "lavfi", "-i", "sine=r=48000", "-t", "2",
                "-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "300k",
                "-c:a", "libopus", "-filter:a", STEREO,
                o,
            ]),
            // 50 progressive frames a second woven into 25 interlaced ones: each frame's two
            // fields come from different instants, so the picture really combs on motion.
            Fixture::Mpeg2InterlacedTs => ffmpeg(&[
                "-f", "lavfi", "-i", "testsrc2=size=352x288:rate=50", "-f", "lavfi", "-i", "sine=r=48000",
                "-t", "3", "-vf", "tinterlace=interleave_top,setfield=tff",
                "-c:v", "mpeg2video", "-flags", "+ilme+ildct", "-top", "1", "-b:v", "2M", "-c:a", "mp2",
                o,
            ]),
            Fixture::XvidMp3Avi => ffmpeg(&[
                "-f", "lavfi", "-i", SMALL, "-f", "lavfi", "-i", "sine=r=44100", "-t", "2",
                "-c:v", "libxvid", "-vtag", "XVID", "-c:a", "libmp3lame", "-filter:a", STEREO,
                o,
            ]),
            Fixture::PhonePortraitRotated => {
                let plain = dir.join("phone_unrotated.mp4");
                let p = plain.to_str().expect("utf-8");
                ffmpeg(&[
                    "-f", "lavfi", "-i", SMALL, "-f", "lavfi", "-i", "sine=r=48000", "-t", "2",
                    "-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error",
                    "-tag:v", "hvc1", "-c:a", "aac", "-filter:a", STEREO,
                    p,
                ]);
                // ffmpeg 5.1 has no -display_rotation; on a stream copy the `rotate` tag becomes
                // the display matrix. No faststart: `moov` stays at the end, as phones write it.
                ffmpeg(&["-i", p, "-c", "copy", "-metadata:s:v:0", "rotate=90", o]);
            }
            Fixture::H264Hi10pAss => {
                let ass = dir.join("styled.ass");
                std::fs::write(&ass, STYLED_ASS).expect("write ass");
                ffmpeg(&[
                    "-f", "lavfi", "-i", SMALL, "-f", "lavfi", "-i", "sine=r=48000",
                    "-i", ass.to_str().expect("utf-8"), "-t", "2",
                    "-map", "0:v", "-map", "1:a", "-map", "2:s",
                    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p10le", "-profile:v", "high10",
                    "-c:a", "aac", "-filter:a", STEREO, "-c:s", "ass", "-metadata:s:s:0", "language=eng",
                    o,
                ]);
            }
            Fixture::Hevc4k => ffmpeg(&[
                "-f", "lavfi", "-i", "testsrc2=size=3840x2160:rate=12", "-t", "2",
                "-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error", "-b:v", "500k",
                o,
            ]),
            Fixture::DtsLongFilm => ffmpeg(&[
                "-f", "lavfi", "-i", "testsrc2=size=64x36:rate=1", "-f", "lavfi", "-i", "sine=r=48000",
                "-t", "7200", "-map", "0:v", "-map", "1:a",
                "-c:v", "libx264", "-preset", "ultrafast", "-g", "10",
                "-c:a", "dca", "-strict", "-2", "-filter:a", &format!("atrim=0:10,{FIVE_ONE}"),
                o,
            ]),
            Fixture::TrueHd => ffmpeg(&[
                "-f", "lavfi", "-i", SMALL, "-f", "lavfi", "-i", "sine=r=48000", "-t", "2",
                "-c:v", "libx264", "-preset", "ultrafast",
                "-c:a", "truehd", "-strict", "-2", "-filter:a", FIVE_ONE,
                o,
            ]),
            Fixture::MkvImageSubtitle => {
                // ffmpeg cannot draw text into bitmap subtitles; spumux muxes a PNG (a yellow
                // bar on black, black declared transparent) as a DVD subpicture into an
                // MPEG-PS at the DVD's own 720x480, which the subpicture's coordinates assume.
                let png = dir.join("subpicture.png");
                let base = dir.join("dvd_base.mpg");
                let with = dir.join("dvd_with_subs.mpg");
                let xml = dir.join("spumux.xml");
                ffmpeg(&[
                    "-f", "lavfi",
                    "-i", "color=c=black:s=720x480,drawbox=x=100:y=400:w=520:h=40:color=yellow:t=fill,format=rgb24",
                    "-frames:v", "1", png.to_str().expect("utf-8"),
                ]);
                ffmpeg(&[
                    "-f", "lavfi", "-i", "testsrc2=size=720x480:rate=30000/1001",
                    "-f", "lavfi", "-i", "sine=r=48000", "-t", "3", "-target", "ntsc-dvd",
                    base.to_str().expect("utf-8"),
                ]);
                std::fs::write(
                    &xml,
                    format!(
                        r#"<subpictures><stream><spu start="00:00:00.20" end="00:00:02.80" image="{}" transparent="000000" force="yes"/></stream></subpictures>"#,
                        png.display()
                    ),
                )
                .expect("write spumux xml");
                let status = Command::new("spumux")
                    .args(["-m", "dvd", "-s", "0"])
                    .arg(&xml)
                    .stdin(std::fs::File::open(&base).expect("open base"))
                    .stdout(std::fs::File::create(&with).expect("create"))
                    .stderr(std::process::Stdio::null())
                    .status()
                    .expect("spumux is missing: scripts/setup-debian.sh test installs dvdauthor");
                assert!(status.success(), "spumux failed");
                ffmpeg(&[
                    "-i", with.to_str().expect("utf-8"), "-map", "0:v", "-map", "0:a", "-map", "0:s",
                    "-c:v", "libx264", "-preset", "ultrafast",
                    "-c:a", "copy", "-c:s", "copy", "-metadata:s:s:0", "language=fre",
                    o,
                ]);
            }
        }
        assert!(out.exists(), "{} was not generated", self.name());
    }
}

const STYLED_ASS: &str = "[Script Info]
ScriptType: v4.00+
PlayResX: 320
PlayResY: 180

[V4+ Styles]
Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding
Style: Default,DejaVu Sans,20,&H00FFFFFF,&H000000FF,&H00000000,&H00000000,0,0,0,0,100,100,0,0,1,2,0,2,10,10,10,1
Style: Sign,DejaVu Sans,16,&H0000FFFF,&H000000FF,&H00000000,&H00000000,1,0,0,0,100,100,0,0,1,1,0,7,10,10,10,1

[Events]
Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text
Dialogue: 0,0:00:00.00,0:00:03.00,Sign,,0,0,0,,{\\pos(40,30)\\c&H0000FF&}TOP LEFT SIGN
Dialogue: 0,0:00:00.00,0:00:03.00,Default,,0,0,0,,Bottom line
";

/// Runs ffmpeg quietly; SVT-AV1 prints its banner unless told otherwise.
pub(crate) fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-loglevel", "error", "-y"])
        .args(args)
        .env("SVT_LOG", "1")
        .output()
        .expect("ffmpeg is missing: scripts/setup-debian.sh installs it");
    assert!(
        out.status.success(),
        "ffmpeg {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// ffprobe's description of the first video stream of `input` (a path).
pub(crate) fn first_video_stream(input: &str) -> serde_json::Value {
    first_stream(input, "v:0")
}

/// ffprobe's description of the first stream `select` picks (`v:0`, `a:0`) in `input`.
pub(crate) fn first_stream(input: &str, select: &str) -> serde_json::Value {
    let stdout = stdout_of(
        Command::new("ffprobe")
            .args(["-v", "error", "-select_streams", select])
            .args(["-show_streams", "-of", "json"])
            .arg(input),
    );
    let json: serde_json::Value = serde_json::from_slice(&stdout).unwrap();
    json["streams"][0].clone()
}

/// Runs a tool to its end; its standard output, once it succeeded.
pub(crate) fn stdout_of(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// ffmpeg's `idet` over a file: (interlaced frames, progressive frames), multi-frame detection.
pub(crate) fn idet(input: &str) -> (u64, u64) {
    let log = ffmpeg_log(input, &["-vf", "idet", "-an"]);
    let line = log
        .lines()
        .find(|l| l.contains("Multi frame detection"))
        .expect("idet summary");
    let count = |key: &str| -> u64 {
        let rest = &line[line.find(key).unwrap() + key.len()..];
        rest.split_whitespace().next().unwrap().parse().unwrap()
    };
    (count("TFF:") + count("BFF:"), count("Progressive:"))
}

/// ffmpeg's log (stderr) after decoding `input` with `args` into nothing: what filters such
/// as `idet` and `signalstats` print.
pub(crate) fn ffmpeg_log(input: &str, args: &[&str]) -> String {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-i", input])
        .args(args)
        .args(["-f", "null", "-"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stderr).to_string()
}
