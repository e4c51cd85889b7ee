//! Styled ASS/SSA subtitles served as they are (`{track}.ass`), so the player's libass renderer
//! keeps their styles and positions, on an MKV with an embedded ASS stream made by ffmpeg.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::helpers::{TestApp, spawn_app};
use crate::library::library_settings;

/// A style that is big, yellow (`&H0000FFFF`: ASS colours are AABBGGRR) and top-centred
/// (alignment 8), and events that position themselves: what WebVTT flattens away.
const HEADER: &str = "[Script Info]\nScriptType: v4.00+\nPlayResX: 320\nPlayResY: 180\n\n\
[V4+ Styles]\nFormat: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, \
BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, \
Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding\n\
Style: Default,Arial,16,&H00FFFFFF,&H000000FF,&H00000000,&H00000000,0,0,0,0,100,100,0,0,1,1,0,2,10,10,10,1\n\
Style: Sign,Arial,40,&H0000FFFF,&H000000FF,&H00000000,&H00000000,-1,0,0,0,100,100,0,0,1,2,0,8,10,10,10,1\n\n\
[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n\
Dialogue: 0,0:00:00.00,0:00:04.00,Sign,,0,0,0,,{\\an8}TOP SIGN\n\
Dialogue: 0,0:00:01.00,0:00:03.00,Default,,0,0,0,,{\\pos(160,150)}Placed line\n";

/// An H.264 MKV with `ass` as its first subtitle stream (`s0`) and an SRT as its second (`s1`).
fn styled_mkv(dir: &Path, ass: &str) -> PathBuf {
    let ass_path = dir.join("in.ass");
    let srt_path = dir.join("in.srt");
    std::fs::write(&ass_path, ass).unwrap();
    std::fs::write(&srt_path, "1\n00:00:01,000 --> 00:00:02,000\nPlain\n").unwrap();
    let out = dir.join("styled.mkv");
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args([
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=320x180:rate=10:duration=4",
        ])
        .arg("-i")
        .arg(&ass_path)
        .arg("-i")
        .arg(&srt_path)
        .args(["-map", "0", "-map", "1", "-map", "2", "-c:v", "libx264"])
        .args(["-preset", "ultrafast", "-c:s", "copy"])
        .args([
            "-metadata:s:s:0",
            "language=eng",
            "-metadata:s:s:1",
            "language=fra",
        ])
        .arg(&out)
        .status()
        .expect("ffmpeg runs");
    assert!(status.success(), "ffmpeg made the styled MKV");
    out
}

/// A library holding `mkv` as a film (tmdb 603), with `sidecar` next to it as `Film.en.ass`.
async fn styled_app(
    root: &Path,
    mkv: &Path,
    sidecar: Option<&str>,
    max_subtitle_bytes: u64,
) -> TestApp {
    let film = root.join("Film (2020) [tmdbid-603]/Film.mkv");
    std::fs::create_dir_all(film.parent().unwrap()).unwrap();
    std::fs::copy(mkv, &film).unwrap();
    if let Some(text) = sidecar {
        std::fs::write(film.with_file_name("Film.en.ass"), text).unwrap();
    }
    let root = root.to_path_buf();
    let app = spawn_app(move |s| {
        library_settings(s, root);
        s.library.max_subtitle_bytes = max_subtitle_bytes;
    })
    .await;
    let summary = app.scan().await;
    assert_eq!(summary["added"], 1, "{summary}");
    app
}

/// Status, content type and body of a GET.
pub(crate) async fn get(app: &TestApp, path: &str) -> (u16, String, String) {
    let r = app.get(path).await;
    let status = r.status().as_u16();
    let content_type = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, content_type, r.text().await.unwrap())
}

async fn error_code(app: &TestApp, path: &str) -> (u16, String) {
    let (status, _, body) = get(app, path).await;
    let body: Value = serde_json::from_str(&body).unwrap_or_else(|_| panic!("JSON: {body}"));
    (status, body["error"]["code"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn an_embedded_ass_track_is_listed_as_ass_and_served_with_its_styles_and_positions() {
    let tmp = tempfile::tempdir().unwrap();
    let mkv = styled_mkv(tmp.path(), HEADER);
    let root = tmp.path().join("library");
    let sidecar = HEADER.replace("TOP SIGN", "SIDECAR SIGN");
    let app = styled_app(&root, &mkv, Some(&sidecar), 4 * 1024 * 1024).await;

    let resolve = app.get_json("/api/streaming/library/movie/603", 200).await;
    let subs = resolve["subtitles"].as_array().unwrap();
    assert_eq!(subs.len(), 3, "the sidecar, the ASS and the SRT: {resolve}");
    let (sidecar_ass, embedded_ass, srt) = (&subs[0], &subs[1], &subs[2]);
    for ass in [sidecar_ass, embedded_ass] {
        assert_eq!(ass["format"], "ass", "{resolve}");
        assert!(
            ass["url"].as_str().unwrap().ends_with(".vtt"),
            "fallback: {ass}"
        );
    }
    assert!(
        embedded_ass["ass_url"]
            .as_str()
            .unwrap()
            .ends_with("/subtitles/s0.ass")
    );
    assert_eq!(srt["format"], "vtt", "{resolve}");
    assert!(srt.get("ass_url").is_none(), "{srt}");

    // The embedded stream comes back as ASS, styles and override tags intact.
    let url = embedded_ass["ass_url"].as_str().unwrap();
    let (status, content_type, ass) = get(&app, url).await;
    assert_eq!(status, 200, "{ass}");
    assert_eq!(content_type, "text/x-ssa; charset=utf-8");
    assert!(ass.contains("[V4+ Styles]"), "{ass}");
    assert!(
        ass.contains("Style: Sign,Arial,40,&H0000FFFF"),
        "the yellow top style: {ass}"
    );
    assert!(ass.contains("Sign,,0,0,0,,{\\an8}TOP SIGN"), "{ass}");
    assert!(ass.contains("{\\pos(160,150)}Placed line"), "{ass}");
    // Served again from the cache, the same text.
    assert_eq!(get(&app, url).await.2, ass);
    // Its WebVTT, the fallback, has the words and none of the styling.
    let (_, _, vtt) = get(&app, embedded_ass["url"].as_str().unwrap()).await;
    assert!(
        vtt.starts_with("WEBVTT") && vtt.contains("TOP SIGN"),
        "{vtt}"
    );
    assert!(!vtt.contains("\\pos"), "{vtt}");

    // The sidecar ASS is served exactly as written.
    let (status, _, text) = get(&app, sidecar_ass["ass_url"].as_str().unwrap()).await;
    assert_eq!((status, text.as_str()), (200, sidecar.as_str()));

    let base = url
        .trim_end_matches("/subtitles/s0.ass")
        .split('?')
        .next()
        .unwrap();
    for (path, code) in [
        (format!("{base}/subtitles/s1.ass"), "subtitle_not_found"), // an SRT track
        (format!("{base}/subtitles/s7.ass"), "subtitle_not_found"),
        (format!("{base}/subtitles/x5.ass"), "subtitle_not_found"),
        (format!("{base}/subtitles/s0.ssa"), "subtitle_not_found"),
        (
            "/api/media/9999/subtitles/s0.ass".to_owned(),
            "media_not_found",
        ),
    ] {
        assert_eq!(
            error_code(&app, &path).await,
            (404, code.to_owned()),
            "{path}"
        );
    }
}

#[tokio::test]
async fn an_embedded_ass_track_over_max_subtitle_bytes_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    // Well over the smallest limit allowed (1 KiB), well under the default.
    let long: String = (0..40)
        .map(|i| {
            format!(
                "Dialogue: 0,0:00:0{}.00,0:00:04.00,Default,,0,0,0,,Line {i}\n",
                i % 4
            )
        })
        .collect();
    let mkv = styled_mkv(tmp.path(), &format!("{HEADER}{long}"));
    let app = styled_app(&tmp.path().join("library"), &mkv, None, 1024).await;

    let resolve = app.get_json("/api/streaming/library/movie/603", 200).await;
    let (status, _, body) = get(&app, resolve["subtitles"][0]["ass_url"].as_str().unwrap()).await;
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "subtitle_not_found", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("max_subtitle_bytes"), "{message}");
}
