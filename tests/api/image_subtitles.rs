//! Image subtitles (PGS, VobSub, DVB) of a library file, over HTTP with real ffmpeg: listed as
//! such in the resolve answer, and burned into the picture of the HLS stream when the viewer
//! picks one (`burn=`), through signed media URLs too. The file is the playback tests' MKV
//! whose DVD subpicture spumux made from a PNG: a bright bar across the bottom of a 720x480
//! picture, shown from 0.2 s to 2.8 s.

use std::process::Command;

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{TestApp, spawn_app};
use crate::library::library_settings;
use crate::playback::fixtures::Fixture;
use crate::playback::{hls_base, library_of};
use crate::remote_playback::{app_for, engine_source, media_origin_of};

const TMDB: u32 = 4242;
const TOKEN: &str = "image-subtitles-test-token";
/// The subpicture's bar (`tests/playback/fixtures.rs`): x 100–620, y 400–440.
const BAR: &str = "crop=520:40:100:400";

/// The mean luma of the subtitle bar's region in frame `n` of `bytes` (a segment, its init
/// segment first for fMP4), from ffmpeg's `signalstats`. By frame number, not time: every
/// frame goes through the filters, and the segments' clocks start at different offsets.
fn bar_luma(bytes: &[u8], n: u32) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("segment");
    std::fs::write(&path, bytes).unwrap();
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-loglevel", "error", "-i"])
        .arg(&path)
        .args(["-frames:v", "1", "-vf"])
        .arg(format!(
            "select=eq(n\\,{n}),{BAR},signalstats,metadata=print:file=-"
        ))
        .args(["-f", "null", "-"])
        .output()
        .expect("run ffmpeg");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("lavfi.signalstats.YAVG="))
        .unwrap_or_else(|| panic!("signalstats printed no YAVG: {text}"))
        .trim()
        .parse()
        .unwrap()
}

/// The URIs a playlist names, in order.
fn uris(playlist: &str) -> Vec<String> {
    playlist
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(String::from)
        .chain(
            playlist
                .split("URI=\"")
                .skip(1)
                .filter_map(|r| r.split('"').next().map(String::from)),
        )
        .collect()
}

/// The first video segment (with its init segment for fMP4) as a player fetches it: from the
/// master playlist at `master` (a path with its query), following the URIs it names.
async fn first_video_segment(app: &TestApp, master: &str) -> (String, Vec<u8>) {
    let base = master.split("master.m3u8").next().unwrap().to_string();
    let text = app.text(master).await;
    let variant = uris(&text)
        .into_iter()
        .find(|u| u.starts_with("v/"))
        .unwrap_or_else(|| panic!("a video variant: {text}"));
    let playlist = app.text(&format!("{base}{variant}")).await;
    let mut out = Vec::new();
    if let Some(rest) = playlist.split("#EXT-X-MAP:URI=\"").nth(1) {
        let init = rest.split('"').next().unwrap();
        out.extend(app.bytes(&format!("{base}v/{init}")).await);
    }
    let first = uris(&playlist).into_iter().next().unwrap();
    out.extend(app.bytes(&format!("{base}v/{first}")).await);
    (text, out)
}

/// A request with the API token, as the dashboard sends it.
async fn authed(app: &TestApp, method: Method, path: &str) -> reqwest::Response {
    let url = format!("{}{path}", app.address);
    let request = app.client.request(method, url).bearer_auth(TOKEN);
    request.send().await.expect("request reaches the app")
}

/// The resolve answer for the film.
async fn resolved(app: &TestApp) -> Value {
    app.get_json(&format!("/api/streaming/library/movie/{TMDB}"), 200)
        .await
}

fn image_subtitle(resolved: &Value) -> &Value {
    resolved["subtitles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["burn_in"].is_string())
        .unwrap_or_else(|| panic!("an image subtitle listed: {resolved}"))
}

#[tokio::test]
async fn an_image_subtitle_is_listed_and_burned_into_the_picture_when_chosen() {
    let root = tempfile::tempdir().unwrap();
    let app = library_of(root.path(), &[(Fixture::MkvImageSubtitle, TMDB)]).await;
    let resolved = resolved(&app).await;
    let sub = image_subtitle(&resolved);
    assert_eq!(sub["burn_in"], "i0", "{sub}");
    assert_eq!(sub["lang"], "fr", "{sub}");
    let master = sub["url"].as_str().unwrap();
    assert!(
        master.ends_with("/hls/master.m3u8?burn=i0"),
        "the url is the burned-in stream: {sub}"
    );
    let plain = master.split('?').next().unwrap();

    let (burned_master, burned) = first_video_segment(&app, master).await;
    let (_, unburned) = first_video_segment(&app, plain).await;

    // Every URI of the burned stream asks for the burn again; the plain one's do not.
    for uri in uris(&burned_master) {
        assert!(uri.ends_with("?burn=i0"), "{uri} in {burned_master}");
    }
    // The subpicture is on screen from 0.2 s to 2.8 s: at 1 s (frame 30 at 29.97 fps), a
    // bright bar where the test pattern's colours average mid-grey.
    let (with, without) = (bar_luma(&burned, 15), bar_luma(&unburned, 15));
    assert!(
        with > without + 60.0 && with > 200.0,
        "the bar's region: luma {with:.0} burned, {without:.0} without"
    );
}

#[tokio::test]
async fn a_burn_naming_no_image_subtitle_of_the_file_is_a_400_with_a_stable_code() {
    let root = tempfile::tempdir().unwrap();
    let app = library_of(root.path(), &[(Fixture::MkvImageSubtitle, TMDB)]).await;
    let hls = hls_base(&app, TMDB).await;
    // A text track's name, the next image track, spellings of `i0` that are not its name,
    // and garbage.
    for bad in [
        "s0",
        "x0",
        "i1",
        "i01",
        "I0",
        "i+0",
        "",
        "i0%00",
        &"i".repeat(300),
    ] {
        for path in ["master.m3u8", "v/index.m3u8", "v/0.ts"] {
            let body = app.get_json(&format!("{hls}/{path}?burn={bad}"), 400).await;
            assert_eq!(
                body["error"]["code"], "invalid_burn_subtitle",
                "{path}?burn={bad}: {body}"
            );
            let message = body["error"]["message"].as_str().unwrap();
            assert!(
                message.len() < 100,
                "the input is not echoed whole: {message}"
            );
        }
    }
    assert_eq!(
        crate::playback::ffmpeg_children_reading(&root.path().display().to_string()),
        0,
        "refused before any ffmpeg runs"
    );
}

#[tokio::test]
async fn a_burned_in_stream_plays_through_signed_media_urls() {
    let root = tempfile::tempdir().unwrap();
    let src = Fixture::MkvImageSubtitle.path();
    let dest = root.path().join(format!("Film (2020) [tmdbid-{TMDB}].mkv"));
    std::fs::copy(src, &dest).unwrap();
    let library = root.path().to_path_buf();
    let app = spawn_app(move |s| {
        library_settings(s, library);
        s.api_token = Some(sokoul::config::Secret::new(TOKEN));
        s.library.thumbnails = false;
        s.library.detect_markers = false;
    })
    .await;
    let scan = authed(&app, Method::POST, "/api/library/scan").await;
    assert_eq!(scan.status(), 200);
    let resolve = format!("/api/streaming/library/movie/{TMDB}");
    let resolved: Value = authed(&app, Method::GET, &resolve)
        .await
        .json()
        .await
        .unwrap();
    let master = image_subtitle(&resolved)["url"].as_str().unwrap();
    assert!(master.contains("?burn=i0&st="), "{master}");

    // No Authorization header: the token in the URL is the credential, as for hls.js.
    let (text, segment) = first_video_segment(&app, master).await;
    for uri in uris(&text) {
        assert!(uri.contains("?burn=i0&st="), "{uri} in {text}");
    }
    assert!(bar_luma(&segment, 15) > 200.0, "the subtitle is burned in");
}

#[tokio::test]
async fn a_remote_files_image_subtitle_is_burned_in_when_asked_for() {
    let (media, _log) = media_origin_of(Fixture::MkvImageSubtitle).await;
    let (app, _addon) = app_for(&media).await;
    let master = engine_source(&app, 550).await;

    let (text, segment) = first_video_segment(&app, &format!("{master}?burn=i0")).await;
    for uri in uris(&text) {
        assert!(uri.ends_with("?burn=i0"), "{uri} in {text}");
    }
    assert!(bar_luma(&segment, 15) > 200.0, "the subtitle is burned in");
    let body = app.get_json(&format!("{master}?burn=i1"), 400).await;
    assert_eq!(body["error"]["code"], "invalid_burn_subtitle", "{body}");
}
