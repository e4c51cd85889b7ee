//! Subtitles from Stremio addons: the real `stremio-addon-sdk` addon of `tests/stremio-addon`
//! serves `subtitles` only (as OpenSubtitles v3 does), a French SRT in Windows-1252 and an
//! English one in UTF-8, from its own server.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use serde_json::{Value, json};
use sokoul::library::demo::Synth;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{TestApp, spawn_app};
use crate::library::{library_settings, place};
use crate::stremio::{REFERER, hls_origin};
use crate::stremio_addon::SdkAddon;
use crate::styled_subtitles::get;

/// What the French SRT says, once decoded: `œ` and `€` are where Windows-1252 and Latin-1
/// differ.
const FRENCH_VTT: &str = "WEBVTT\n\n00:00:00.000 --> 00:00:30.000\nÇa démarre à l'été\nUne œuvre à 5 €\n\n00:00:30.000 --> 00:01:00.000\nDéjà fini\n\n";
const ENGLISH_VTT: &str = "WEBVTT\n\n00:00:00.000 --> 00:01:00.000\nA naïve café in Zürich\n\n";
const ADDON: &str = "Sokoul Test Subtitles";

async fn app(addons: Vec<String>) -> TestApp {
    spawn_app(move |s| s.stremio.addons = addons).await
}

/// The answer's subtitles the addon gave (not the stream's own nor the library's).
fn addon_subtitles(body: &Value) -> Vec<&Value> {
    body["subtitles"]
        .as_array()
        .expect("subtitles")
        .iter()
        .filter(|s| s["label"].as_str().is_some_and(|l| l.ends_with(ADDON)))
        .collect()
}

/// Fetches a subtitle's `proxy_url` as the player does: status, type, text.
async fn track(app: &TestApp, sub: &Value) -> (u16, String, String) {
    get(app, sub["proxy_url"].as_str().expect("proxy_url")).await
}

#[tokio::test]
async fn addon_subtitles_join_the_answer_and_play_as_webvtt_with_their_accents() {
    let origin = hls_origin().await;
    let addon = SdkAddon::start(&origin.uri(), REFERER).await;
    let app = app(vec![addon.tmdb(), addon.subs()]).await;

    let body = app.get_json("/api/streaming/stremio/movie/603", 200).await;

    assert!(!body["sources"].as_array().unwrap().is_empty(), "{body}");
    let subs = addon_subtitles(&body);
    let shown: Vec<_> = subs
        .iter()
        .map(|s| (s["lang"].as_str().unwrap(), s["label"].as_str().unwrap()))
        .collect();
    assert_eq!(
        shown,
        [
            ("fr", "Français · Sokoul Test Subtitles"),
            ("en", "English · Sokoul Test Subtitles"),
        ],
        "ISO 639-2 from the addon, as the library's tracks: {body}"
    );
    assert!(subs.iter().all(|s| s["provider"] == "stremio"));
    for (sub, expected) in subs.iter().zip([FRENCH_VTT, ENGLISH_VTT]) {
        let (status, content_type, text) = track(&app, sub).await;
        assert_eq!(status, 200, "{text}");
        assert_eq!(content_type, "text/vtt; charset=utf-8");
        assert_eq!(text, expected);
    }
    let asked = addon.subtitle_requests().await;
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(asked[0]["id"], "tmdb:603");
    assert_eq!(
        asked[0]["extra"],
        serde_json::json!({}),
        "no file to describe for a remote title"
    );
}

/// The OpenSubtitles hash as the wiki's reference code computes it, written again here so the
/// test does not check the server against itself.
fn reference_hash(path: &Path) -> (String, u64) {
    let mut file = std::fs::File::open(path).unwrap();
    let size = file.metadata().unwrap().len();
    assert!(
        size >= 131_072,
        "the test film must be large enough to have a hash: {size} bytes"
    );
    let mut sum = size;
    for offset in [0, size - 65_536] {
        let mut chunk = vec![0u8; 65_536];
        file.seek(SeekFrom::Start(offset)).unwrap();
        file.read_exact(&mut chunk).unwrap();
        for word in chunk.chunks(8) {
            sum = sum.wrapping_add(u64::from_le_bytes(word.try_into().unwrap()));
        }
    }
    (format!("{sum:016x}"), size)
}

#[tokio::test]
async fn a_library_file_is_described_to_subtitle_addons_by_its_hash_size_and_name() {
    let origin = hls_origin().await;
    let addon = SdkAddon::start(&origin.uri(), REFERER).await;
    let root = tempfile::tempdir().unwrap();
    let film = place(
        root.path(),
        "The Matrix (1999) [tmdbid-603]/The Matrix (1999).mkv",
        Synth::H264AacMkv,
    );
    let (hash, size) = reference_hash(&film);
    let (dir, subs) = (root.path().to_path_buf(), addon.subs());
    let app = spawn_app(move |s| {
        library_settings(s, dir);
        s.stremio.addons = vec![subs];
    })
    .await;
    assert_eq!(app.scan().await["added"], 1);

    let body = app.get_json("/api/streaming/resolve/movie/603", 200).await;

    let asked = addon.subtitle_requests().await;
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(asked[0]["type"], "movie");
    assert_eq!(
        asked[0]["extra"],
        serde_json::json!({
            "videoHash": hash,
            "videoSize": size.to_string(),
            "filename": "The Matrix (1999).mkv",
        })
    );
    // Only a subtitle addon: the library's streams, the addon's subtitles beside them.
    assert_eq!(body["sources"][0]["provider"], "library", "{body}");
    let subs = addon_subtitles(&body);
    assert_eq!(subs.len(), 2, "{body}");
    let (status, _, text) = track(&app, subs[0]).await;
    assert_eq!((status, text.as_str()), (200, FRENCH_VTT));
    let stremio = body["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["provider"] == "stremio")
        .expect("a stremio outcome");
    assert_eq!(stremio["status"], "empty", "no stream from it: {stremio}");
}

#[tokio::test]
async fn a_failing_subtitle_addon_leaves_the_resolve_and_its_streams() {
    let origin = hls_origin().await;
    let addon = SdkAddon::start(&origin.uri(), REFERER).await;
    let app = app(vec![addon.tmdb(), addon.subs()]).await;

    // The subtitles handler throws for this episode: the SDK answers 500.
    let body = app
        .get_json("/api/streaming/stremio/tv/1396?season=1&episode=2", 200)
        .await;

    assert_eq!(
        addon.subtitle_requests().await[0]["id"],
        "tmdb:1396:1:2",
        "the addon was asked"
    );
    assert_eq!(body["sources"].as_array().unwrap().len(), 1, "{body}");
    assert_eq!(body["outcomes"][0]["status"], "ok", "{body}");
    assert!(addon_subtitles(&body).is_empty(), "{body}");
}

/// A subtitle addon answering with two files the proxy must refuse: 5 MiB of SRT (past
/// `MAX_SUBTITLE_BYTES`) and an HTML page.
async fn hostile_subtitle_addon() -> MockServer {
    let addon = MockServer::start().await;
    let manifest = json!({"id": "hostile", "name": "Hostile", "version": "1.0.0",
        "types": ["movie"], "idPrefixes": ["tmdb:"], "resources": ["subtitles"], "catalogs": []});
    let list = json!({"subtitles": [
        {"id": "big", "url": format!("{}/big.srt", addon.uri()), "lang": "eng"},
        {"id": "page", "url": format!("{}/page.srt", addon.uri()), "lang": "fre"},
    ]});
    let cue = "1\n00:00:01,000 --> 00:00:02,000\nfiller line of a huge file\n\n";
    let big = cue.repeat(5 * 1024 * 1024 / cue.len() + 1);
    let ok = |body: String| ResponseTemplate::new(200).set_body_string(body);
    let html = "<html><body>Not found</body></html>".to_string();
    let routes = [
        ("/manifest.json", ok(manifest.to_string())),
        ("/subtitles/movie/tmdb%3A603.json", ok(list.to_string())),
        ("/big.srt", ok(big)),
        ("/page.srt", ok(html)),
    ];
    serve(&addon, routes).await;
    addon
}

/// Each `(path, answer)` on a wiremock addon.
async fn serve<const N: usize>(addon: &MockServer, routes: [(&str, ResponseTemplate); N]) {
    for (route, answer) in routes {
        Mock::given(method("GET"))
            .and(path(route))
            .respond_with(answer)
            .mount(addon)
            .await;
    }
}

#[tokio::test]
async fn a_huge_or_unreadable_addon_subtitle_is_refused_by_the_proxy_with_a_code() {
    let addon = hostile_subtitle_addon().await;
    let app = app(vec![format!("{}/manifest.json", addon.uri())]).await;

    let body = app.get_json("/api/streaming/stremio/movie/603", 200).await;

    let subs = body["subtitles"].as_array().unwrap();
    assert_eq!(subs.len(), 2, "{body}");
    for (sub, (status, code)) in subs.iter().zip([
        (502, "playlist_too_large"),
        (502, "upstream_subtitle_unreadable"),
    ]) {
        let (got, _, text) = track(&app, sub).await;
        assert_eq!(got, status, "{text}");
        let error: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(error["error"]["code"], code, "{text}");
    }
}

#[tokio::test]
async fn a_hanging_subtitle_addon_stops_in_time_and_the_streams_are_kept() {
    // One addon serving both: its streams at once, its subtitles never within the budget.
    let addon = MockServer::start().await;
    let manifest = json!({"id": "slow", "name": "Slow subtitles", "version": "1.0.0",
        "types": ["movie"], "idPrefixes": ["tmdb:"], "resources": ["stream", "subtitles"],
        "catalogs": []});
    let streams =
        json!({"streams": [{"url": "https://cdn.example/slow/master.m3u8", "name": "Slow"}]});
    let ok = |body: Value| ResponseTemplate::new(200).set_body_json(body);
    let never = std::time::Duration::from_secs(60);
    let routes = [
        ("/manifest.json", ok(manifest)),
        ("/stream/movie/tmdb%3A603.json", ok(streams)),
        (
            "/subtitles/movie/tmdb%3A603.json",
            ok(json!({"subtitles": []})).set_delay(never),
        ),
    ];
    serve(&addon, routes).await;
    let app = app(vec![format!("{}/manifest.json", addon.uri())]).await;

    let body = app.get_json("/api/streaming/stremio/movie/603", 200).await;

    let asked = addon.received_requests().await.unwrap();
    assert!(
        asked
            .iter()
            .any(|r| r.url.path().starts_with("/subtitles/")),
        "the subtitles were asked for"
    );
    // The subtitle request ends at its own deadline (80 % of the budget), before the
    // resolver's timeout: the streams found beside it are kept.
    assert_eq!(body["outcomes"][0]["status"], "ok", "{body}");
    assert_eq!(body["sources"].as_array().unwrap().len(), 1, "{body}");
    assert_eq!(body["subtitles"], json!([]), "{body}");
}
