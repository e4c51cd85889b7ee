//! Text subtitles embedded in a remote file: a real `stremio-addon-sdk` addon lists a Matroska
//! film (generated here: H.264, French and English AAC, an English SRT track, a French ASS
//! track with accents and a German SRT track ffmpeg cannot convert) on the origin of the
//! remote engine tests, which demands the addon's `Referer`. The engine lists the tracks once
//! it has probed the file, and extracts each with ffmpeg reading our own proxy.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::Ordering;

use crate::helpers::TestApp;
use crate::playback::ffmpeg_children_reading;
use crate::remote_playback::{
    GONE, HALFWAY, SERVE, app_for, assert_only_proxied_ranges, engine_source, media_origin_at,
};
use crate::styled_subtitles::get as body_of;

const ENGLISH: &str = "Hello from the English track";
const FRENCH: &str = "Où est la bibliothèque ? Déjà vu, garçon";

/// The film, made once per target dir.
fn film() -> PathBuf {
    static FILM: OnceLock<PathBuf> = OnceLock::new();
    FILM.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("remote-subtitles-v1");
        let film = dir.join("film.mkv");
        if !film.exists() {
            std::fs::create_dir_all(&dir).unwrap();
            make_film(&dir, &film);
        }
        film
    })
    .clone()
}

fn make_film(dir: &Path, out: &Path) {
    let srt = format!("1\n00:00:01,000 --> 00:00:02,500\n{ENGLISH}\n\n");
    std::fs::write(dir.join("en.srt"), srt).unwrap();
    let ass = format!(
        "[Script Info]\nScriptType: v4.00+\nPlayResX: 320\nPlayResY: 180\n\n[V4+ Styles]\n\
         Format: Name, Fontname, Fontsize, PrimaryColour, Alignment\n\
         Style: Default,Liberation Sans,20,&H00FFFFFF,2\n\n[Events]\n\
         Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n\
         Dialogue: 0,0:00:01.00,0:00:02.50,Default,,0,0,0,,{{\\an8}}{FRENCH}\n"
    );
    std::fs::write(dir.join("fr.ass"), ass).unwrap();
    // One cue longer than ffmpeg's 1 MiB subtitle buffer: stored as is (copied), but the
    // WebVTT encoder refuses it ("Buffer too small for ASS event").
    let huge = format!(
        "1\n00:00:01,000 --> 00:00:02,000\nkurz\n\n2\n00:00:03,000 --> 00:00:04,000\n{}\n",
        "x".repeat(1_100_000)
    );
    std::fs::write(dir.join("de.srt"), huge).unwrap();
    let tmp = dir.join(".film.mkv");
    let status = Command::new("ffmpeg")
        .current_dir(dir)
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg("testsrc2=size=320x180:rate=25")
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"])
        .args(["-f", "lavfi", "-i", "sine=frequency=660:sample_rate=48000"])
        .args(["-i", "en.srt", "-i", "fr.ass", "-i", "de.srt", "-t", "6"])
        .args(["-map", "0:v", "-map", "1:a", "-map", "2:a"])
        .args(["-map", "3", "-map", "4", "-map", "5"])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "25",
            "-c:a",
            "aac",
        ])
        .args(["-c:s:0", "srt", "-c:s:1", "ass", "-c:s:2", "copy"])
        .args([
            "-metadata:s:a:0",
            "language=fre",
            "-metadata:s:a:1",
            "language=eng",
        ])
        .args([
            "-metadata:s:s:0",
            "language=eng",
            "-metadata:s:s:1",
            "language=fre",
        ])
        .args(["-metadata:s:s:2", "language=ger", "-f", "matroska"])
        .arg(&tmp)
        .status()
        .unwrap();
    assert!(status.success(), "ffmpeg made the film");
    std::fs::rename(&tmp, out).unwrap();
}

/// The app with the addon listing the film (tmdb 550) on a fresh origin; the engine source's
/// base URL (its master playlist requested: the file is probed), the origin's log and fault
/// switch.
async fn played() -> (
    TestApp,
    crate::stremio_addon::SdkAddon,
    String,
    std::sync::Arc<std::sync::Mutex<Vec<crate::remote_playback::Seen>>>,
    std::sync::Arc<std::sync::atomic::AtomicU8>,
) {
    let film = tokio::task::spawn_blocking(film).await.unwrap();
    let (media, log, fault) = media_origin_at(film).await;
    let (app, addon) = app_for(&media).await;
    let master_url = engine_source(&app, 550).await;
    let master = app.text(&master_url).await;
    assert!(master.starts_with("#EXTM3U"), "{master}");
    let base = master_url.trim_end_matches("/master.m3u8").to_string();
    (app, addon, base, log, fault)
}

/// ffmpeg processes reading this app's own loopback proxy (others' tests run theirs beside).
fn ffmpeg_left(app: &TestApp) -> usize {
    let port = app.address.rsplit(':').next().unwrap();
    ffmpeg_children_reading(&format!(":{port}/api/streaming/proxy"))
}

#[tokio::test]
async fn a_remote_mkv_lists_its_text_subtitles_and_serves_them_as_webvtt_through_the_proxy() {
    let (app, _addon, base, log, _) = played().await;

    let listed = app.get_json(&format!("{base}/subtitles"), 200).await;
    let subs = listed["subtitles"].as_array().unwrap();
    let langs: Vec<&str> = subs.iter().map(|s| s["lang"].as_str().unwrap()).collect();
    assert_eq!(langs, ["en", "fr", "de"], "{listed}");
    assert_eq!(
        subs[0]["url"],
        format!("{base}/subtitles/s0.vtt"),
        "{listed}"
    );
    assert_eq!(subs[0]["format"], "vtt", "{listed}");
    assert_eq!(subs[0]["provider"], "stremio", "{listed}");
    assert_eq!(subs[1]["format"], "ass", "{listed}");
    assert_eq!(subs[1]["ass_url"], format!("{base}/subtitles/s1.ass"));

    let (status, kind, english) = body_of(&app, &format!("{base}/subtitles/s0.vtt")).await;
    assert_eq!(
        (status, kind.as_str()),
        (200, "text/vtt; charset=utf-8"),
        "{english}"
    );
    assert!(english.starts_with("WEBVTT"), "{english}");
    assert!(english.contains(ENGLISH), "{english}");
    let (status, _, french) = body_of(&app, &format!("{base}/subtitles/s1.vtt")).await;
    assert_eq!(status, 200, "{french}");
    assert!(french.starts_with("WEBVTT"), "{french}");
    assert!(french.contains(FRENCH), "accents intact: {french}");
    // Styled: the ASS as it is in the file, its `\an8` (top of the picture) kept.
    let (status, kind, styled) = body_of(&app, &format!("{base}/subtitles/s1.ass")).await;
    assert_eq!(
        (status, kind.as_str()),
        (200, "text/x-ssa; charset=utf-8"),
        "{styled}"
    );
    assert!(styled.contains(&format!("{{\\an8}}{FRENCH}")), "{styled}");

    let seen = log.lock().unwrap().clone();
    assert!(seen.len() >= 3, "probe and two extractions: {seen:?}");
    assert_only_proxied_ranges(&seen);
    assert_eq!(ffmpeg_left(&app), 0);
}

#[tokio::test]
async fn a_remote_file_s_audio_tracks_are_all_renditions_of_its_master_playlist() {
    let (app, _addon, base, _, _) = played().await;
    let master = app.text(&format!("{base}/master.m3u8")).await;
    let audio: Vec<&str> = master
        .lines()
        .filter(|l| l.starts_with("#EXT-X-MEDIA:TYPE=AUDIO"))
        .collect();
    assert_eq!(audio.len(), 2, "{master}");
    assert!(audio[0].contains("LANGUAGE=\"fr\""), "{master}");
    assert!(audio[1].contains("LANGUAGE=\"en\""), "{master}");
}

#[tokio::test]
async fn a_remote_subtitle_ffmpeg_cannot_convert_is_a_clear_422_and_leaves_no_ffmpeg() {
    let (app, _addon, base, _, _) = played().await;

    let body = app.get_json(&format!("{base}/subtitles/s2.vtt"), 422).await;
    assert_eq!(body["error"]["code"], "unreadable_media", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("'s2'"), "{body}");
    assert!(!message.contains("/api/streaming/proxy"), "{body}");
    assert_eq!(ffmpeg_left(&app), 0);

    // The other tracks are unaffected.
    let (status, _, english) = body_of(&app, &format!("{base}/subtitles/s0.vtt")).await;
    assert_eq!(status, 200, "{english}");
    assert!(english.contains(ENGLISH), "{english}");
}

#[tokio::test]
async fn an_origin_that_fails_during_extraction_is_a_502_leaves_no_ffmpeg_and_spares_the_video() {
    let (app, _addon, base, _, fault) = played().await;

    for (mode, track) in [(GONE, "s0"), (HALFWAY, "s1")] {
        fault.store(mode, Ordering::SeqCst);
        let url = format!("{base}/subtitles/{track}.vtt");
        let body = app.get_json(&url, 502).await;
        assert_eq!(body["error"]["code"], "remote_unreadable", "{url}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(!message.contains("/api/streaming/proxy"), "{body}");
        assert_eq!(ffmpeg_left(&app), 0, "mode {mode}");
    }

    // Back online: the failures were not kept, and the video plays.
    fault.store(SERVE, Ordering::SeqCst);
    let (status, _, french) = body_of(&app, &format!("{base}/subtitles/s1.vtt")).await;
    assert_eq!(status, 200, "{french}");
    assert!(french.contains(FRENCH), "{french}");
    let r = app.get(&format!("{base}/v/0.ts")).await;
    assert_eq!(r.status().as_u16(), 200);
}

#[tokio::test]
async fn unknown_and_image_tracks_of_a_remote_file_are_404s_and_a_forged_source_is_403() {
    let (app, _addon, base, _, _) = played().await;
    for track in ["s9.vtt", "s0.ass", "s0.srt", "x0.vtt"] {
        let body = app
            .get_json(&format!("{base}/subtitles/{track}"), 404)
            .await;
        assert_eq!(
            body["error"]["code"], "subtitle_not_found",
            "{track}: {body}"
        );
    }
    let forged = base.replacen("/api/playback/r/", "/api/playback/r/A", 1);
    let body = app
        .get_json(&format!("{forged}/subtitles/s0.vtt"), 403)
        .await;
    assert!(
        body["error"]["code"]
            .as_str()
            .unwrap()
            .starts_with("proxy_url_"),
        "{body}"
    );
    assert_eq!(ffmpeg_left(&app), 0);
}
