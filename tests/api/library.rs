//! The local library on real media made by ffmpeg: scan, resolve, direct play, HLS (remux and
//! transcode, checked with ffprobe and read back with ffmpeg), seeking, subtitles, problems.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;
use sokoul::library::demo::{DemoOptions, Synth, synth_args};

use crate::helpers::{TestApp, spawn_app};
use crate::playback::hls_base;

/// Short and tiny, but long enough for several 2-second segments.
const SECONDS: u32 = 12;
const SEGMENT: f64 = 2.0;

/// Generated once per test run and hard-linked into each test's library.
pub(crate) fn media(kind: Synth) -> PathBuf {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let dir = DIR.get_or_init(|| tempfile::tempdir().unwrap());
    let name = match kind {
        Synth::H264AacMp4 => "h264.mp4",
        Synth::H264AacMkv => "h264.mkv",
        Synth::HevcAc3Mkv => "hevc.mkv",
    };
    let path = dir.path().join(name);
    let _guard = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    if !path.exists() {
        let options = DemoOptions {
            seconds: SECONDS,
            width: 320,
            height: 180,
        };
        let tmp = dir.path().join(format!("tmp-{name}"));
        let status = Command::new("ffmpeg")
            .args(synth_args(kind, options, &tmp))
            .status()
            .expect("ffmpeg runs");
        assert!(status.success(), "ffmpeg generated {name}");
        std::fs::rename(&tmp, &path).unwrap();
    }
    path
}

/// Puts `kind` at `rel` inside `root`.
pub(crate) fn place(root: &Path, rel: &str, kind: Synth) -> PathBuf {
    let dest = root.join(rel);
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    std::fs::hard_link(media(kind), &dest)
        .or_else(|_| std::fs::copy(media(kind), &dest).map(|_| ()))
        .unwrap();
    dest
}

pub(crate) async fn library_app(root: &Path) -> TestApp {
    let root = root.to_path_buf();
    spawn_app(move |s| library_settings(s, root)).await
}

/// The library of `root` on, scanned only when a test asks.
pub(crate) fn library_settings(s: &mut sokoul::config::Settings, root: PathBuf) {
    s.library.enabled = true;
    s.library.paths = vec![root];
    s.library.watch = false;
    s.library.scan_on_start = false;
    s.library.segment_seconds = SEGMENT;
}

impl TestApp {
    pub(crate) async fn scan(&self) -> Value {
        let r = self
            .client
            .post(format!("{}/api/library/scan", self.address))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    pub(crate) async fn bytes(&self, path: &str) -> Vec<u8> {
        let r = self.get(path).await;
        assert_eq!(r.status(), 200, "GET {path}");
        r.bytes().await.unwrap().to_vec()
    }

    pub(crate) async fn text(&self, path: &str) -> String {
        String::from_utf8(self.bytes(path).await).unwrap()
    }
}

/// ffprobe's view of a file: (codec names, start_time, duration).
fn ffprobe(path: &Path) -> (Vec<String>, f64, f64) {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name:format=start_time,duration",
            "-of",
            "json",
        ])
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success(), "ffprobe reads {}", path.display());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let codecs = v["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["codec_name"].as_str().unwrap().to_string())
        .collect();
    let num = |k: &str| {
        v["format"][k]
            .as_str()
            .unwrap_or("0")
            .parse::<f64>()
            .unwrap()
    };
    (codecs, num("start_time"), num("duration"))
}

/// Decodes a file completely; any decoder error fails.
fn decodes_cleanly(path: &Path) {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-xerror", "-i"])
        .arg(path)
        .args(["-f", "null", "-"])
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "ffmpeg reads {} back: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

pub(crate) fn extinf(playlist: &str) -> Vec<f64> {
    segments_of(playlist).into_iter().map(|(d, _)| d).collect()
}

/// A media playlist's segments: each `#EXTINF` duration with the URI that follows it.
pub(crate) fn segments_of(playlist: &str) -> Vec<(f64, String)> {
    let mut lines = playlist.lines();
    let mut out = Vec::new();
    while let Some(line) = lines.next() {
        if let Some(d) = line.strip_prefix("#EXTINF:") {
            let seconds = d.trim_end_matches(',').parse().unwrap();
            out.push((seconds, lines.next().unwrap_or_default().to_string()));
        }
    }
    out
}

/// Downloads every segment of a variant into one file.
async fn download_variant(app: &TestApp, base: &str, variant: &str, out: &Path) -> Vec<f64> {
    let playlist = app.text(&format!("{base}/{variant}/index.m3u8")).await;
    let durations = extinf(&playlist);
    let mut all = Vec::new();
    for i in 0..durations.len() {
        all.extend(app.bytes(&format!("{base}/{variant}/{i}.ts")).await);
    }
    std::fs::write(out, all).unwrap();
    durations
}

fn source_urls(resolve: &Value) -> Vec<(String, String)> {
    resolve["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["type"].as_str().unwrap().to_string(),
                s["url"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_browser_playable_mp4_resolves_to_direct_play_first_with_hls_as_fallback() {
    let root = tempfile::tempdir().unwrap();
    let film = place(
        root.path(),
        "The Matrix (1999) [tmdbid-603]/The Matrix (1999).mp4",
        Synth::H264AacMp4,
    );
    std::fs::write(
        film.with_file_name("The Matrix (1999).en.srt"),
        "1\n00:00:01,000 --> 00:00:02,000\nWake up\n",
    )
    .unwrap();
    std::fs::write(
        film.with_file_name("The Matrix (1999).fr.forced.srt"),
        "1\n00:00:01,000 --> 00:00:02,000\nRéveille-toi\n",
    )
    .unwrap();
    let app = library_app(root.path()).await;
    let summary = app.scan().await;
    assert_eq!(summary["added"], 1, "{summary}");

    let body = app.get_json("/api/streaming/library/movie/603", 200).await;
    let sources = source_urls(&body);
    assert_eq!(sources.len(), 2, "{body}");
    assert_eq!(sources[0].0, "mp4");
    assert!(sources[0].1.ends_with("/file"));
    assert_eq!(sources[1].0, "hls");
    assert_eq!(body["media"]["title"], "The Matrix");
    let subs = body["subtitles"].as_array().unwrap();
    assert_eq!(subs.len(), 2, "{body}");
    assert_eq!(subs[0]["lang"], "en");
    assert_eq!(subs[0]["label"], "English");
    assert_eq!(subs[1]["lang"], "fr");
    assert_eq!(subs[1]["label"], "Français (forced)");

    // Direct play: Range requests answered with 206, a range past the end with 416.
    let url = format!("{}{}", app.address, sources[0].1);
    let r = app
        .client
        .get(&url)
        .header("Range", "bytes=0-99")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.headers()["content-type"], "video/mp4");
    assert_eq!(r.bytes().await.unwrap().len(), 100);
    let r = app
        .client
        .get(&url)
        .header("Range", "bytes=999999999-")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 416);

    // The sidecar SRT comes back as WebVTT.
    let vtt = app.text(subs[0]["url"].as_str().unwrap()).await;
    assert_eq!(vtt, "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nWake up\n\n");
    let vtt = app.text(subs[1]["url"].as_str().unwrap()).await;
    assert!(vtt.contains("Réveille-toi"));
}

#[tokio::test]
async fn an_episode_resolves_to_hls_that_ffmpeg_reads_back_whole() {
    let root = tempfile::tempdir().unwrap();
    place(
        root.path(),
        "Breaking Bad (2008) [tmdbid-1396]/Season 01/Breaking Bad S01E01-E02.mkv",
        Synth::H264AacMkv,
    );
    place(
        root.path(),
        "Breaking Bad (2008) [tmdbid-1396]/Season 00/Breaking Bad S00E01.mkv",
        Synth::H264AacMkv,
    );
    let app = library_app(root.path()).await;
    assert_eq!(app.scan().await["added"], 2);

    // Episode 2 lives in the multi-episode file.
    let body = app
        .get_json("/api/streaming/library/tv/1396?season=1&episode=2", 200)
        .await;
    let sources = source_urls(&body);
    // H.264 + AAC in Matroska: the file for a browser with a Matroska demuxer, its type told,
    // then HLS for the others.
    let kinds: Vec<&str> = sources.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds, ["mp4", "hls"], "{body}");
    let mime = body["sources"][0]["mime"].as_str().unwrap();
    assert!(
        mime.starts_with("video/x-matroska; codecs=\"avc1.") && mime.ends_with(", mp4a.40.2\""),
        "{mime}"
    );
    let special = app
        .get_json("/api/streaming/library/tv/1396?season=0&episode=1", 200)
        .await;
    assert_eq!(special["outcomes"][0]["status"], "ok");
    let missing = app
        .get_json("/api/streaming/library/tv/1396?season=1&episode=3", 200)
        .await;
    assert_eq!(missing["outcomes"][0]["code"], "not_in_library");

    let master_url = &sources[1].1;
    let base = master_url.trim_end_matches("/master.m3u8");
    let master = app.text(master_url).await;
    assert!(
        master.contains(
            "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",LANGUAGE=\"en\",NAME=\"English\""
        ),
        "{master}"
    );
    assert!(master.contains("CODECS=\"avc1."), "{master}");

    let dir = tempfile::tempdir().unwrap();
    let video = dir.path().join("video.ts");
    let durations = download_variant(&app, base, "v", &video).await;
    let total: f64 = durations.iter().sum();
    assert!(
        (total - SECONDS as f64).abs() < 0.2,
        "the playlist covers the whole file: {total}"
    );
    let (codecs, _, duration) = ffprobe(&video);
    assert_eq!(codecs, ["h264"], "remuxed, not re-encoded");
    assert!(
        (duration - SECONDS as f64).abs() < 0.5,
        "video duration {duration}"
    );
    decodes_cleanly(&video);

    let audio = dir.path().join("audio.ts");
    download_variant(&app, base, "a0", &audio).await;
    let (codecs, _, duration) = ffprobe(&audio);
    assert_eq!(codecs, ["aac"]);
    assert!(
        (duration - SECONDS as f64).abs() < 0.5,
        "audio duration {duration}"
    );
    decodes_cleanly(&audio);

    // ffmpeg's own HLS client, through the master playlist, as a player would.
    let out = tokio::process::Command::new("ffmpeg")
        .args(["-v", "warning", "-xerror", "-i"])
        .arg(format!("{}{master_url}", app.address))
        .args(["-map", "0", "-f", "null", "-"])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "ffmpeg plays the master playlist: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn a_segment_far_into_the_file_can_be_requested_first() {
    let root = tempfile::tempdir().unwrap();
    place(
        root.path(),
        "Heat (1995) [tmdbid-949]/Heat.mkv",
        Synth::H264AacMkv,
    );
    let app = library_app(root.path()).await;
    app.scan().await;
    let base = hls_base(&app, 949).await;
    let playlist = app.text(&format!("{base}/v/index.m3u8")).await;
    let durations = extinf(&playlist);
    assert!(durations.len() >= 4);
    let far = durations.len() - 2;
    let dir = tempfile::tempdir().unwrap();

    // The seek first, then the start: each is cut at its playlist position.
    let far_path = dir.path().join("far.ts");
    std::fs::write(&far_path, app.bytes(&format!("{base}/v/{far}.ts")).await).unwrap();
    let first_path = dir.path().join("first.ts");
    let first = app.get(&format!("{base}/v/0.ts")).await;
    assert_eq!(first.status(), 200);
    // A finished segment says its length: the player's loader shows progress, and a cut
    // connection is seen as one.
    let length: usize = first.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let first = first.bytes().await.unwrap();
    assert_eq!(length, first.len());
    std::fs::write(&first_path, &first).unwrap();
    let (_, far_start, far_duration) = ffprobe(&far_path);
    let (_, first_start, _) = ffprobe(&first_path);
    let expected: f64 = durations[..far].iter().sum();
    assert!(
        (far_start - first_start - expected).abs() < 0.1,
        "segment {far} starts at {} s, playlist says {expected} s",
        far_start - first_start
    );
    assert!(
        (far_duration - durations[far]).abs() < 0.1,
        "{far_duration} vs {}",
        durations[far]
    );
    decodes_cleanly(&far_path);
    // The same for audio.
    let a = dir.path().join("a.ts");
    std::fs::write(&a, app.bytes(&format!("{base}/a0/{far}.ts")).await).unwrap();
    let (codecs, a_start, _) = ffprobe(&a);
    assert_eq!(codecs, ["aac"]);
    assert!(
        (a_start - far_start).abs() < 0.1,
        "audio {a_start} and video {far_start} line up"
    );
}

#[tokio::test]
async fn hevc_and_ac3_are_transcoded_to_h264_and_aac_with_every_audio_track() {
    let root = tempfile::tempdir().unwrap();
    place(
        root.path(),
        "Dune (2021) [tmdbid-438631]/Dune (2021).mkv",
        Synth::HevcAc3Mkv,
    );
    let app = library_app(root.path()).await;
    app.scan().await;
    let body = app
        .get_json("/api/streaming/library/movie/438631", 200)
        .await;
    let sources = source_urls(&body);
    assert_eq!(sources.len(), 1);
    assert_eq!(sources[0].0, "hls");
    let master = app.text(&sources[0].1).await;
    assert!(
        master.contains("CODECS=\"avc1.640028,mp4a.40.2\""),
        "{master}"
    );
    assert!(
        master.contains("LANGUAGE=\"en\",NAME=\"English\",DEFAULT=YES"),
        "{master}"
    );
    assert!(
        master.contains("LANGUAGE=\"fr\",NAME=\"Français\",DEFAULT=NO"),
        "{master}"
    );

    let base = sources[0].1.trim_end_matches("/master.m3u8");
    let dir = tempfile::tempdir().unwrap();
    let video = dir.path().join("v.ts");
    download_variant(&app, base, "v", &video).await;
    let (codecs, _, duration) = ffprobe(&video);
    assert_eq!(codecs, ["h264"]);
    assert!((duration - SECONDS as f64).abs() < 0.5, "{duration}");
    decodes_cleanly(&video);
    // The French E-AC-3 track, seek first.
    let seg = dir.path().join("a1.ts");
    std::fs::write(&seg, app.bytes(&format!("{base}/a1/3.ts")).await).unwrap();
    let (codecs, ..) = ffprobe(&seg);
    assert_eq!(codecs, ["aac"]);
    // Transcoded segments are cut exactly on the playlist's boundaries: 1 s, 1 s, then
    // `SEGMENT` (the ramp of `ffmpeg::RAMP`, never longer than the normal length).
    let playlist = app.text(&format!("{base}/v/index.m3u8")).await;
    let lengths = extinf(&playlist);
    assert_eq!(lengths[..4], [1.0, 1.0, SEGMENT, SEGMENT], "{playlist}");
    let v3 = dir.path().join("v3.ts");
    let v0 = dir.path().join("v0.ts");
    std::fs::write(&v3, app.bytes(&format!("{base}/v/3.ts")).await).unwrap();
    std::fs::write(&v0, app.bytes(&format!("{base}/v/0.ts")).await).unwrap();
    let (_, s3, d3) = ffprobe(&v3);
    let (_, s0, _) = ffprobe(&v0);
    assert!((s3 - s0 - (2.0 + SEGMENT)).abs() < 0.05, "{s3} - {s0}");
    assert!((d3 - SEGMENT).abs() < 0.05, "{d3}");
}

#[tokio::test]
async fn a_corrupt_file_and_unreadable_entries_are_reported_while_the_rest_is_scanned() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    place(
        r,
        "Alien (1979) [tmdbid-348]/Alien (1979).mkv",
        Synth::H264AacMkv,
    );
    // Corrupt: a video name over bytes that are not media.
    std::fs::create_dir_all(r.join("Broken (2020) [tmdbid-5]")).unwrap();
    std::fs::write(
        r.join("Broken (2020) [tmdbid-5]/Broken.mkv"),
        vec![0x42u8; 50_000],
    )
    .unwrap();
    // Truncated: a real file cut short (its index is gone).
    let whole = std::fs::read(media(Synth::H264AacMp4)).unwrap();
    std::fs::create_dir_all(r.join("Cut (2020) [tmdbid-8]")).unwrap();
    std::fs::write(r.join("Cut (2020) [tmdbid-8]/Cut.mp4"), &whole[..2000]).unwrap();
    // Unreadable, in ways that also fail for root (which ignores `chmod 000`): a folder that is
    // a dangling symlink, a video that is a dangling symlink, and a video that is a FIFO (it
    // would block ffprobe forever).
    std::os::unix::fs::symlink(r.join("nowhere"), r.join("Lost Folder (2001) [tmdbid-9]")).unwrap();
    std::os::unix::fs::symlink(r.join("gone.mkv"), r.join("Ghost (2020) [tmdbid-6].mkv")).unwrap();
    let fifo = r.join("Pipe (2020) [tmdbid-7].mkv");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    // No id.
    place(r, "Untitled/home video.mkv", Synth::H264AacMkv);

    let app = library_app(r).await;
    let summary = app.scan().await;
    assert_eq!(summary["added"], 1, "{summary}");
    let failed = summary["failed"].as_array().unwrap();
    let reason = |needle: &str| -> String {
        failed
            .iter()
            .find(|p| p["path"].as_str().unwrap().contains(needle))
            .unwrap_or_else(|| panic!("{needle} is reported: {summary}"))["reason"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(
        reason("Broken.mkv").contains("ffprobe cannot read it"),
        "{}",
        reason("Broken.mkv")
    );
    assert!(
        reason("Cut.mp4").contains("ffprobe"),
        "{}",
        reason("Cut.mp4")
    );
    assert!(reason("Lost Folder").contains("broken symbolic link"));
    assert!(reason("Ghost").contains("broken symbolic link"));
    assert!(reason("Pipe").contains("not a regular file"));
    assert!(reason("home video.mkv").contains("no TMDB id"));
    assert_eq!(failed.len(), 6, "{summary}");

    let problems = app.get_json("/api/library/problems", 200).await;
    assert_eq!(
        problems["problems"].as_array().unwrap().len(),
        6,
        "{problems}"
    );
    let ok = app.get_json("/api/streaming/library/movie/348", 200).await;
    assert_eq!(ok["outcomes"][0]["status"], "ok");

    // Broken files are not probed again while they do not change, but are still reported.
    let again = app.scan().await;
    assert_eq!(again["probed"], 0, "{again}");
    assert_eq!(again["failed"].as_array().unwrap().len(), 6, "{again}");
}

#[tokio::test]
async fn rescans_are_incremental_and_a_restart_needs_no_scan() {
    let root = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let r = root.path().to_path_buf();
    let film = place(&r, "Heat (1995) [tmdbid-949]/Heat.mkv", Synth::H264AacMkv);
    place(&r, "Alien (1979) [tmdbid-348].mp4", Synth::H264AacMp4);
    let configure = |r: PathBuf, data: PathBuf| {
        move |s: &mut sokoul::config::Settings| {
            s.library.enabled = true;
            s.library.paths = vec![r];
            s.library.watch = false;
            s.library.scan_on_start = false;
            s.data_dir = data;
        }
    };
    let app = spawn_app(configure(r.clone(), data.path().to_path_buf())).await;
    let first = app.scan().await;
    assert_eq!(
        (first["added"].as_u64(), first["probed"].as_u64()),
        (Some(2), Some(2)),
        "{first}"
    );
    let second = app.scan().await;
    assert_eq!(
        (second["unchanged"].as_u64(), second["probed"].as_u64()),
        (Some(2), Some(0)),
        "{second}"
    );

    // A new sidecar is picked up without probing the video again.
    std::fs::write(
        film.with_file_name("Heat.de.srt"),
        "1\n00:00:01,000 --> 00:00:02,000\nHallo\n",
    )
    .unwrap();
    let third = app.scan().await;
    assert_eq!(third["probed"], 0);
    let body = app.get_json("/api/streaming/library/movie/949", 200).await;
    assert_eq!(body["subtitles"][0]["label"], "Deutsch", "{body}");

    // Another process on the same data dir sees the library without scanning.
    let restarted = spawn_app(configure(r.clone(), data.path().to_path_buf())).await;
    let items = restarted.get_json("/api/library/items", 200).await;
    assert_eq!(items["items"].as_array().unwrap().len(), 2, "{items}");

    std::fs::remove_file(&film).unwrap();
    let fourth = app.scan().await;
    assert_eq!(fourth["removed"], 1, "{fourth}");
    // (The resolver may still hold the resolution in its cache; the library itself knows.)
    let gone = app.get_json("/api/library/items/movie/949", 404).await;
    assert_eq!(gone["error"]["code"], "item_not_found");
}

#[tokio::test]
async fn rows_scanned_by_an_older_build_are_probed_again_once() {
    let root = tempfile::tempdir().unwrap();
    place(
        root.path(),
        "Heat (1995) [tmdbid-949]/Heat.mkv",
        Synth::H264AacMkv,
    );
    let app = library_app(root.path()).await;
    assert_eq!(app.scan().await["probed"], 1);
    let kinds = |body: &Value| -> Vec<String> {
        source_urls(body)
            .into_iter()
            .map(|(kind, _)| kind)
            .collect()
    };
    let fresh = app.get_json("/api/streaming/library/movie/949", 200).await;
    assert_eq!(kinds(&fresh), ["mp4", "hls"], "{fresh}");

    // The row as a build before the probe's version and `other_streams` stored it.
    let db = rusqlite::Connection::open(app.data_dir.path().join("sokoul.db")).unwrap();
    let rows = db
        .execute(
            "UPDATE media_files SET probe = json_remove(probe, '$.version', '$.other_streams')",
            [],
        )
        .unwrap();
    assert_eq!(rows, 1);
    // `fresh`: the answer above is cached; the library is asked again.
    let old = app
        .get_json("/api/streaming/library/movie/949?fresh=1", 200)
        .await;
    assert_eq!(
        kinds(&old),
        ["hls"],
        "an old row is not trusted with direct play: {old}"
    );

    // The next scan probes the unchanged file again, once, and it plays as it is.
    let upgrade = app.scan().await;
    assert_eq!(
        (upgrade["probed"].as_u64(), upgrade["updated"].as_u64()),
        (Some(1), Some(1)),
        "{upgrade}"
    );
    let body = app
        .get_json("/api/streaming/library/movie/949?fresh=1", 200)
        .await;
    assert_eq!(kinds(&body), ["mp4", "hls"], "{body}");
    let after = app.scan().await;
    assert_eq!(
        (after["probed"].as_u64(), after["unchanged"].as_u64()),
        (Some(0), Some(1)),
        "{after}"
    );
}

#[tokio::test]
async fn library_items_list_titles_seasons_and_posters() {
    let root = tempfile::tempdir().unwrap();
    place(
        root.path(),
        "Heat (1995) [tmdbid-949]/Heat.mkv",
        Synth::H264AacMkv,
    );
    place(
        root.path(),
        "Show (2010) [tmdbid-100]/Season 01/Show S01E01 - Pilot.mkv",
        Synth::H264AacMkv,
    );
    place(
        root.path(),
        "Show (2010) [tmdbid-100]/Season 01/Show S01E02-E03.mkv",
        Synth::H264AacMkv,
    );
    let app = library_app(root.path()).await;
    app.scan().await;

    let items = app.get_json("/api/library/items", 200).await;
    let items = items["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["title"], "Heat");
    assert_eq!(items[0]["year"], 1995);
    assert_eq!(items[0]["poster_url"], "/api/library/poster/movie/949");
    assert_eq!(items[1]["media_type"], "tv");

    let movie = app.get_json("/api/library/items/movie/949", 200).await;
    assert!((movie["duration"].as_f64().unwrap() - SECONDS as f64).abs() < 0.5);
    let show = app.get_json("/api/library/items/tv/100", 200).await;
    let episodes = show["seasons"][0]["episodes"].as_array().unwrap();
    assert_eq!(episodes.len(), 3, "{show}");
    assert_eq!(episodes[0]["title"], "Pilot");

    let r = app.get("/api/library/poster/movie/949").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    assert_eq!(&r.bytes().await.unwrap()[..2], &[0xFF, 0xD8]);
    let cached = std::fs::read_dir(app.data_dir.path().join("posters"))
        .unwrap()
        .count();
    assert_eq!(cached, 1, "the poster frame is cached in the data dir");
    assert!(app.state.library.is_some());
}

#[tokio::test]
async fn each_library_episode_has_a_still_grabbed_from_its_file() {
    let root = tempfile::tempdir().unwrap();
    place(
        root.path(),
        "Show (2010) [tmdbid-100]/Season 01/Show S01E01 - Pilot.mkv",
        Synth::H264AacMkv,
    );
    place(
        root.path(),
        "Show (2010) [tmdbid-100]/Season 01/Show S01E02-E03.mkv",
        Synth::H264AacMkv,
    );
    let app = library_app(root.path()).await;
    app.scan().await;

    let show = app.get_json("/api/library/items/tv/100", 200).await;
    let episodes = show["seasons"][0]["episodes"].as_array().unwrap();
    let stills: Vec<&str> = episodes
        .iter()
        .map(|e| e["still_url"].as_str().unwrap())
        .collect();
    assert_eq!(
        stills,
        [
            "/api/library/still/tv/100/1/1",
            "/api/library/still/tv/100/1/2",
            "/api/library/still/tv/100/1/3"
        ],
        "without a token or an account the URLs are plain paths"
    );
    for still in &stills {
        let r = app.get(still).await;
        assert_eq!(r.status(), 200, "{still}");
        assert_eq!(r.headers()["content-type"], "image/jpeg");
        let jpeg = r.bytes().await.unwrap();
        assert_eq!(&jpeg[..2], &[0xFF, 0xD8], "{still}");
        assert_eq!(&jpeg[jpeg.len() - 2..], &[0xFF, 0xD9], "a whole JPEG");
    }
    // One frame per file: E02 and E03 share theirs.
    let cached = std::fs::read_dir(app.data_dir.path().join("stills"))
        .unwrap()
        .filter(|e| {
            !e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with('.')
        })
        .count();
    assert_eq!(cached, 2, "the frames are cached in the data dir");

    for (path, status, code) in [
        ("/api/library/still/tv/100/1/4", 404, "episode_not_found"),
        ("/api/library/still/tv/100/2/1", 404, "episode_not_found"),
        ("/api/library/still/tv/101/1/1", 404, "episode_not_found"),
        ("/api/library/still/tv/100/1/0", 400, "invalid_episode"),
        ("/api/library/still/tv/100/x/1", 400, "invalid_episode"),
        ("/api/library/still/tv/0/1/1", 400, "invalid_tmdb_id"),
    ] {
        let body = app.get_json(path, status).await;
        assert_eq!(body["error"]["code"], code, "{path}: {body}");
    }
}

#[tokio::test]
async fn unknown_titles_files_tracks_and_segments_are_json_404s() {
    let root = tempfile::tempdir().unwrap();
    place(
        root.path(),
        "Heat (1995) [tmdbid-949]/Heat.mkv",
        Synth::H264AacMkv,
    );
    let app = library_app(root.path()).await;
    app.scan().await;
    let base = hls_base(&app, 949).await;
    let base = base.as_str();
    for (path, code) in [
        ("/api/library/items/movie/1".to_string(), "item_not_found"),
        ("/api/library/poster/tv/949".to_string(), "item_not_found"),
        ("/api/media/9999/file".to_string(), "media_not_found"),
        (
            "/api/media/..%2F..%2Fetc%2Fpasswd/file".to_string(),
            "media_not_found",
        ),
        (format!("{base}/a7/index.m3u8"), "track_not_found"),
        (format!("{base}/x/index.m3u8"), "track_not_found"),
        (format!("{base}/v/9999.ts"), "segment_not_found"),
        (format!("{base}/v/..%2F0.ts"), "segment_not_found"),
        (
            format!("{}/subtitles/x0.vtt", base.trim_end_matches("/hls")),
            "subtitle_not_found",
        ),
    ] {
        let body = app.get_json(&path, 404).await;
        assert_eq!(body["error"]["code"], code, "{path}: {body}");
    }
    let disabled = spawn_app(|_| {}).await;
    let body = disabled.get_json("/api/library/items", 404).await;
    assert_eq!(body["error"]["code"], "library_disabled");
}

#[tokio::test]
async fn posters_come_from_tmdb_when_a_key_is_set_and_from_the_file_otherwise() {
    let root = tempfile::tempdir().unwrap();
    place(
        root.path(),
        "The Matrix (1999) [tmdbid-603]/The Matrix.mkv",
        Synth::H264AacMkv,
    );
    place(
        root.path(),
        "Home Movie (2020) [tmdbid-999999]/Home Movie.mkv",
        Synth::H264AacMkv,
    );
    let tmdb = crate::fake_tmdb::start().await;
    crate::fake_tmdb::mount_catalogue(&tmdb).await;
    let base = crate::fake_tmdb::base_url(&tmdb);
    let root_path = root.path().to_path_buf();
    let app = spawn_app(move |s| {
        s.library.enabled = true;
        s.library.paths = vec![root_path];
        s.library.watch = false;
        s.library.scan_on_start = false;
        s.tmdb.base_url = base;
        s.tmdb.key = Some(sokoul::config::Secret::new(crate::fake_tmdb::KEY));
    })
    .await;
    app.scan().await;

    let r = app.get("/api/library/poster/movie/603").await;
    assert_eq!(r.status(), 302);
    let location = r.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with("https://image.tmdb.org/t/p/")
            && location.ends_with("/f89U3ADr1oiB1s9GkdPOEpXUk5H.jpg"),
        "{location}"
    );

    // TMDB does not know this one: a frame from the file instead.
    let r = app.get("/api/library/poster/movie/999999").await;
    assert_eq!(r.status(), 200);
    assert_eq!(&r.bytes().await.unwrap()[..2], &[0xFF, 0xD8]);
}

fn added_at(item: &Value) -> time::OffsetDateTime {
    let text = item["added_at"].as_str().expect("added_at is a string");
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).unwrap()
}

async fn item_of(app: &TestApp, media_type: &str, tmdb_id: u32) -> Value {
    let items = app.get_json("/api/library/items", 200).await;
    items["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["media_type"] == media_type && i["tmdb_id"] == tmdb_id)
        .cloned()
        .unwrap_or_else(|| panic!("{media_type} {tmdb_id} in {items}"))
}

async fn finish(app: &TestApp, path: &str, position: f64) {
    let r = app
        .client
        .put(format!("{}{path}", app.address))
        .json(&serde_json::json!({"position": position, "duration": 12.0}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204, "PUT {path}");
}

#[tokio::test]
async fn titles_say_when_the_library_first_saw_them_and_a_changed_file_keeps_that_date() {
    let root = tempfile::tempdir().unwrap();
    let heat = place(
        root.path(),
        "Heat (1995) [tmdbid-949]/Heat.mkv",
        Synth::H264AacMkv,
    );
    let app = library_app(root.path()).await;
    app.scan().await;
    let heat_added = added_at(&item_of(&app, "movie", 949).await);

    // A day later a series arrives, and the film's file is replaced by another encode.
    app.clock.advance(86_400);
    place(
        root.path(),
        "Show (2010) [tmdbid-100]/Season 01/Show S01E01 - Pilot.mkv",
        Synth::H264AacMkv,
    );
    std::fs::remove_file(&heat).unwrap();
    place(
        root.path(),
        "Heat (1995) [tmdbid-949]/Heat.mkv",
        Synth::H264AacMp4,
    );
    let summary = app.scan().await;
    assert_eq!(summary["probed"], 2, "{summary}");

    let show_added = added_at(&item_of(&app, "tv", 100).await);
    assert!(
        show_added - heat_added >= time::Duration::hours(23),
        "the series is a day newer: {heat_added} then {show_added}"
    );
    assert_eq!(
        added_at(&item_of(&app, "movie", 949).await),
        heat_added,
        "a changed file is the same title, not a new one"
    );

    // A new episode brings its series up in "recently added".
    app.clock.advance(86_400);
    place(
        root.path(),
        "Show (2010) [tmdbid-100]/Season 01/Show S01E02.mkv",
        Synth::H264AacMkv,
    );
    app.scan().await;
    assert!(added_at(&item_of(&app, "tv", 100).await) - show_added >= time::Duration::hours(23));
    let detail = app.get_json("/api/library/items/tv/100", 200).await;
    assert_eq!(added_at(&detail), added_at(&item_of(&app, "tv", 100).await));
}

#[tokio::test]
async fn titles_say_what_the_viewer_watched_and_how_many_episodes_are_left() {
    let root = tempfile::tempdir().unwrap();
    place(
        root.path(),
        "Heat (1995) [tmdbid-949]/Heat.mkv",
        Synth::H264AacMkv,
    );
    for rel in [
        "Show (2010) [tmdbid-100]/Season 01/Show S01E01 - Pilot.mkv",
        "Show (2010) [tmdbid-100]/Season 01/Show S01E02-E03.mkv",
        "Show (2010) [tmdbid-100]/Specials/Show S00E01.mkv",
    ] {
        place(root.path(), rel, Synth::H264AacMkv);
    }
    let app = library_app(root.path()).await;
    app.scan().await;

    let (film, show) = (
        item_of(&app, "movie", 949).await,
        item_of(&app, "tv", 100).await,
    );
    assert_eq!(
        (&film["watched"], film.get("unwatched_episodes")),
        (&Value::Bool(false), None)
    );
    assert_eq!(
        (&show["watched"], &show["unwatched_episodes"]),
        (&Value::Bool(false), &3.into()),
        "specials aside"
    );

    // 95 % of a 12 s film is 11.4 s.
    finish(&app, "/api/progress/movie/949", 11.0).await;
    assert_eq!(item_of(&app, "movie", 949).await["watched"], false);
    finish(&app, "/api/progress/movie/949", 11.5).await;
    assert_eq!(item_of(&app, "movie", 949).await["watched"], true);
    let detail = app.get_json("/api/library/items/movie/949", 200).await;
    assert_eq!(detail["watched"], true);

    finish(&app, "/api/progress/tv/100?season=1&episode=1", 12.0).await;
    finish(&app, "/api/progress/tv/100?season=1&episode=2", 6.0).await;
    assert_eq!(item_of(&app, "tv", 100).await["unwatched_episodes"], 2);
    finish(&app, "/api/progress/tv/100?season=1&episode=2", 12.0).await;
    finish(&app, "/api/progress/tv/100?season=1&episode=3", 12.0).await;
    let show = item_of(&app, "tv", 100).await;
    assert_eq!(
        (&show["watched"], &show["unwatched_episodes"]),
        (&Value::Bool(true), &0.into()),
        "{show}"
    );

    // "Marquer comme non vu" forgets the position: the episode counts again.
    let r = app
        .client
        .delete(format!(
            "{}/api/progress/tv/100?season=1&episode=3",
            app.address
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let show = item_of(&app, "tv", 100).await;
    assert_eq!(
        (&show["watched"], &show["unwatched_episodes"]),
        (&Value::Bool(false), &1.into())
    );

    // One title's positions, all of them (the plain list keeps the 50 most recent).
    let mine = app
        .get_json("/api/progress?media_type=tv&tmdb_id=100", 200)
        .await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 2, "{mine}");
    let half = app.get_json("/api/progress?media_type=tv", 400).await;
    assert_eq!(half["error"]["code"], "invalid_query");
}
