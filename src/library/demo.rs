//! `sokoul demo-library DIR`: a small, legal library made by ffmpeg from synthetic sources
//! (`testsrc2` pictures, `sine` tones), named by the convention, so a fresh machine has
//! something to play: a direct-play MP4, an HEVC/AC-3 MKV that must be transcoded (two audio
//! languages), and a two-episode series, with English and French sidecar subtitles.
//!
//! The TMDB ids are the project's usual examples (603, 604, 1396), so the README's URLs work;
//! the content is test patterns, whatever TMDB says those ids are.

use std::path::{Path, PathBuf};

use tokio::process::Command;

use super::LibraryError;

/// Size and length of the generated videos.
#[derive(Debug, Clone, Copy)]
pub struct DemoOptions {
    pub seconds: u32,
    pub width: u32,
    pub height: u32,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            seconds: 30,
            width: 640,
            height: 360,
        }
    }
}

/// One synthetic video: the encoder settings decide which playback path it exercises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Synth {
    /// H.264 + AAC in MP4 with `moov` first: direct play.
    H264AacMp4,
    /// H.264 + AAC in MKV: remuxed to HLS without re-encoding.
    H264AacMkv,
    /// HEVC + AC-3 (English) + E-AC-3 (French) in MKV: transcoded.
    HevcAc3Mkv,
}

/// The ffmpeg arguments that write `kind` to `out`.
pub fn synth_args(kind: Synth, options: DemoOptions, out: &Path) -> Vec<String> {
    let mut a: Vec<String> = ["-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
        .map(String::from)
        .to_vec();
    a.extend(synth_inputs(kind, options));
    a.extend(synth_codecs(kind).into_iter().map(String::from));
    a.push(out.to_string_lossy().to_string());
    a
}

/// The lavfi sources: a test picture and a tone, and a second tone for a second audio track.
fn synth_inputs(kind: Synth, options: DemoOptions) -> Vec<String> {
    let DemoOptions {
        seconds,
        width,
        height,
    } = options;
    let mut sources = vec![
        format!("testsrc2=size={width}x{height}:rate=25:duration={seconds}"),
        format!("sine=frequency=440:sample_rate=48000:duration={seconds}"),
    ];
    if kind == Synth::HevcAc3Mkv {
        sources.push(format!(
            "sine=frequency=660:sample_rate=48000:duration={seconds}"
        ));
    }
    sources
        .into_iter()
        .flat_map(|s| ["-f".into(), "lavfi".into(), "-i".into(), s])
        .collect()
}

/// H.264 + AAC, one English track: plays directly from MP4, is remuxed from MKV.
const H264_AAC: &[&str] = &[
    "-map",
    "0:v",
    "-map",
    "1:a",
    "-c:v",
    "libx264",
    "-preset",
    "veryfast",
    "-pix_fmt",
    "yuv420p",
    "-g",
    "50",
    "-c:a",
    "aac",
    "-b:a",
    "96k",
    "-metadata:s:a:0",
    "language=eng",
];

/// HEVC + AC-3 (English) + E-AC-3 (French): no browser plays either, so it is transcoded.
const HEVC_AC3: &[&str] = &[
    "-map",
    "0:v",
    "-map",
    "1:a",
    "-map",
    "2:a",
    "-c:v",
    "libx265",
    "-preset",
    "ultrafast",
    "-x265-params",
    "log-level=error",
    "-pix_fmt",
    "yuv420p",
    "-c:a:0",
    "ac3",
    "-c:a:1",
    "eac3",
    "-b:a",
    "192k",
    "-ac",
    "2",
    "-metadata:s:a:0",
    "language=eng",
    "-metadata:s:a:1",
    "language=fre",
];

/// The mapping and encoder settings that decide which playback path the file exercises.
fn synth_codecs(kind: Synth) -> Vec<&'static str> {
    match kind {
        // `moov` first, so a browser starts playing from the first bytes.
        Synth::H264AacMp4 => [H264_AAC, &["-movflags", "+faststart"]].concat(),
        Synth::H264AacMkv => H264_AAC.to_vec(),
        Synth::HevcAc3Mkv => HEVC_AC3.to_vec(),
    }
}

/// Runs ffmpeg to write one synthetic video.
pub async fn synthesize(
    ffmpeg: &str,
    kind: Synth,
    options: DemoOptions,
    out: &Path,
) -> Result<(), LibraryError> {
    if let Some(dir) = out.parent() {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| LibraryError::Internal(format!("cannot create {}: {e}", dir.display())))?;
    }
    let output = Command::new(ffmpeg)
        .args(synth_args(kind, options, out))
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|e| LibraryError::Tool(format!("cannot run {ffmpeg}: {e}")))?;
    if !output.status.success() {
        return Err(LibraryError::Package(format!(
            "ffmpeg failed writing {}: {}",
            out.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(())
}

/// A small SRT file with one cue every few seconds.
pub fn sample_srt(lang: &str, seconds: u32) -> String {
    let text = if lang == "fr" { "Bonjour" } else { "Hello" };
    let mut out = String::new();
    for (n, start) in (0..seconds.saturating_sub(2)).step_by(5).enumerate() {
        out.push_str(&format!(
            "{}\n00:00:{:02},000 --> 00:00:{:02},500\n{text} {}\n\n",
            n + 1,
            start % 60,
            (start + 2) % 60,
            n + 1
        ));
    }
    out
}

/// Writes the demo library into `dir` and returns the files created.
pub async fn generate(
    ffmpeg: &str,
    dir: &Path,
    options: DemoOptions,
) -> Result<Vec<PathBuf>, LibraryError> {
    let film = dir.join("Movies/Sokoul Demo Direct Play (2024) [tmdbid-603]");
    let hevc = dir.join("Movies/Sokoul Demo Transcode (2024) [tmdbid-604]");
    let show = dir.join("Shows/Sokoul Demo Series (2024) [tmdbid-1396]/Season 01");
    let jobs = [
        (
            Synth::H264AacMp4,
            film.join("Sokoul Demo Direct Play (2024) [tmdbid-603].mp4"),
        ),
        (
            Synth::HevcAc3Mkv,
            hevc.join("Sokoul Demo Transcode (2024) [tmdbid-604].mkv"),
        ),
        (
            Synth::H264AacMkv,
            show.join("Sokoul Demo Series S01E01 - Pilot.mkv"),
        ),
        (
            Synth::H264AacMkv,
            show.join("Sokoul Demo Series S01E02 - The Next One.mkv"),
        ),
    ];
    let mut created = Vec::new();
    // Two at a time: the encoders are single-threaded enough at this size.
    for pair in jobs.chunks(2) {
        let runs = pair
            .iter()
            .map(|(kind, out)| synthesize(ffmpeg, *kind, options, out));
        for r in futures::future::join_all(runs).await {
            r?;
        }
        created.extend(pair.iter().map(|(_, p)| p.clone()));
    }
    for video in [&jobs[0].1, &jobs[2].1] {
        let stem = video
            .file_stem()
            .expect("named")
            .to_string_lossy()
            .to_string();
        for lang in ["en", "fr"] {
            let sub = video.with_file_name(format!("{stem}.{lang}.srt"));
            tokio::fs::write(&sub, sample_srt(lang, options.seconds))
                .await
                .map_err(|e| {
                    LibraryError::Internal(format!("cannot write {}: {e}", sub.display()))
                })?;
            created.push(sub);
        }
    }
    Ok(created)
}

/// One episode of a made-up season whose episodes share an opening and an ending, as intro
/// detection sees real series: a cold open of its own, the opening, its own story, the ending.
#[derive(Debug, Clone, Copy)]
pub struct DemoEpisode {
    /// Episode number: seeds its own noise, so no two episodes share anything else.
    pub number: u32,
    /// Seconds before the opening (or before the story when there is no opening).
    pub cold_open: f64,
    /// Seconds of story after the opening.
    pub story: f64,
    pub with_opening: bool,
}

/// Seconds of the shared opening and ending of [`episode_args`].
pub const DEMO_OPENING: f64 = 15.0;
pub const DEMO_ENDING: f64 = 10.0;

/// ffmpeg arguments writing `ep` to `out` (Matroska, 160×90 H.264 and AAC). The opening is a
/// melody of two voices whose notes change 3 and 5 times a second (silence or one steady
/// tone would match anything, or nothing, in a fingerprint); the ending is another melody;
/// cold open and story are tunes of their own, from the episode number. The opening also has its own
/// picture (a white box).
pub fn episode_args(ep: DemoEpisode, out: &Path) -> Vec<String> {
    let n = ep.number;
    let opening = if ep.with_opening { DEMO_OPENING } else { 0.0 };
    let total = ep.cold_open + opening + ep.story + DEMO_ENDING;
    let melody = |d: f64, a: u32, b: u32| {
        format!(
            "aevalsrc='0.4*sin(2*PI*t*({a}+55*mod(floor(t*3),7)))+0.3*sin(2*PI*t*({b}+61*mod(floor(t*5),5)))':s=44100:d={d}"
        )
    };
    // Noise would not do: its chroma is flat, so two noises fingerprint alike. Each tune has
    // its own notes and rhythm, from `k`.
    let own = |d: f64, k: u32| {
        let (f, r, m) = (150 + 41 * k, 2 + k % 5, 3 + k % 4);
        format!(
            "aevalsrc='0.5*sin(2*PI*t*({f}+{}*mod(floor(t*{r}),{m})))+0.2*sin(2*PI*t*{}*(1+0.5*mod(floor(t*{}),2)))':s=44100:d={d}",
            17 + k,
            700 + 29 * k,
            r + 1
        )
    };
    let mut parts = vec![own(ep.cold_open, n * 2)];
    if ep.with_opening {
        parts.push(melody(DEMO_OPENING, 220, 440));
    }
    parts.push(own(ep.story, n * 2 + 1));
    parts.push(melody(DEMO_ENDING, 330, 587));
    let mut graph = String::new();
    for (i, p) in parts.iter().enumerate() {
        graph.push_str(&format!("{p}[a{i}];"));
    }
    for i in 0..parts.len() {
        graph.push_str(&format!("[a{i}]"));
    }
    graph.push_str(&format!("concat=n={}:v=0:a=1[a];", parts.len()));
    let hue = (n * 67) % 256;
    graph.push_str(&format!(
        "color=c=0x{hue:02x}4080:s=160x90:r=10:d={total},drawbox=x=40:y=20:w=80:h=50:c=white:t=fill:enable='between(t,{},{})'[v]",
        ep.cold_open,
        ep.cold_open + opening
    ));
    [
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-y",
        "-filter_complex",
        &graph,
        "-map",
        "[v]",
        "-map",
        "[a]",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-b:a",
        "96k",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([out.display().to_string()])
    .collect()
}
