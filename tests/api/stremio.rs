//! The Stremio provider against a real addon built with the official `stremio-addon-sdk`
//! (started with node on loopback), whose streams point at a loopback HLS origin that refuses
//! requests without the addon's `Referer`; and against wiremock addons for exact request
//! shapes and failures.

use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::fake_tmdb::{self, MATRIX};
use crate::helpers::{TestApp, spawn_app};
use crate::stremio_addon::SdkAddon;

pub(crate) const REFERER: &str = "https://player.sokoul-test.example/embed/42";
pub(crate) const MASTER: &str =
    "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=2000000,RESOLUTION=1920x1080\n1080/index.m3u8\n";

/// A loopback HLS origin: playlists, segments and subtitles only with the right `Referer`,
/// 403 otherwise (as CDNs behind embed pages do).
pub(crate) async fn hls_origin() -> MockServer {
    let origin = MockServer::start().await;
    for (route, body, content_type) in [
        (
            "/matrix/master.m3u8",
            MASTER,
            "application/vnd.apple.mpegurl",
        ),
        (
            "/matrix/1080/index.m3u8",
            "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4.0,\nseg0.ts\n#EXT-X-ENDLIST\n",
            "application/vnd.apple.mpegurl",
        ),
        (
            "/matrix/en.vtt",
            "WEBVTT\n\n00:00.000 --> 00:01.000\nWake up, Neo.\n",
            "text/vtt",
        ),
        (
            "/bb/s01e02/master.m3u8",
            MASTER,
            "application/vnd.apple.mpegurl",
        ),
    ] {
        Mock::given(method("GET"))
            .and(path(route))
            .and(header("Referer", REFERER))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("Content-Type", content_type)
                    .set_body_string(body),
            )
            .mount(&origin)
            .await;
    }
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(403).set_body_string("Forbidden: hotlinking"))
        .with_priority(u8::MAX)
        .mount(&origin)
        .await;
    origin
}

/// What the player does with a source, minus the proxy: fetch the upstream URL with the
/// headers the source lists. The origin refuses it without them.
/// (Subtitles carry no `headers` in the JSON: pass their video's.)
pub(crate) async fn assert_plays_with_headers(url: &Value, headers: &Value, expected_prefix: &str) {
    let client = reqwest::Client::new();
    let url = url.as_str().unwrap();
    let bare = client.get(url).send().await.unwrap();
    assert_eq!(bare.status(), 403, "the origin needs the addon's headers");
    let mut request = client.get(url);
    for (name, value) in headers.as_object().unwrap() {
        request = request.header(name, value.as_str().unwrap());
    }
    let body = request.send().await.unwrap().text().await.unwrap();
    assert!(body.starts_with(expected_prefix), "{body}");
}

/// Fetches a signed `proxy_url` through the app and returns the status and body.
pub(crate) async fn fetch_through_proxy(app: &TestApp, proxy_url: &str) -> (u16, String) {
    let response = app.get(proxy_url).await;
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn tmdb_fake() -> MockServer {
    let tmdb = fake_tmdb::start().await;
    fake_tmdb::mount_catalogue(&tmdb).await;
    tmdb
}

async fn app(addons: Vec<String>, tmdb: Option<&MockServer>, origin: &MockServer) -> TestApp {
    let tmdb = tmdb.map(fake_tmdb::base_url);
    let origin_host = origin.address().to_string();
    spawn_app(move |s| {
        s.stremio.addons = addons;
        if let Some(base) = tmdb {
            s.tmdb.base_url = base;
            s.tmdb.key = Some(sokoul::config::Secret::new(fake_tmdb::KEY));
        }
        // The HLS origin is on loopback: the proxy may reach it because the operator says so.
        s.proxy.allow = vec![origin_host];
    })
    .await
}

fn only_outcome(body: &Value) -> &Value {
    let outcomes = body["outcomes"].as_array().expect("outcomes");
    assert_eq!(outcomes.len(), 1, "{body}");
    &outcomes[0]
}

#[tokio::test]
async fn a_film_from_a_real_sdk_addon_resolves_to_its_hls_and_mp4_streams_with_their_referer() {
    let origin = hls_origin().await;
    let addon = SdkAddon::start(&origin.uri(), REFERER).await;
    let tmdb = tmdb_fake().await;
    let app = app(vec![addon.imdb_configured()], Some(&tmdb), &origin).await;

    let body = app
        .get_json(&format!("/api/streaming/stremio/movie/{MATRIX}"), 200)
        .await;

    assert_eq!(body["media"]["title"], "The Matrix", "title from TMDB");
    let sources = body["sources"].as_array().unwrap();
    // Since issue 14 the 4k mkv is a playback-engine source too, ranked first by its height.
    assert_eq!(sources.len(), 3, "{body}");
    let mkv = &sources[0];
    assert_eq!(mkv["type"], "hls");
    assert!(
        mkv["proxy_url"]
            .as_str()
            .unwrap()
            .starts_with("/api/playback/r/"),
        "{mkv}"
    );
    let hls = &sources[1];
    assert_eq!(hls["url"], format!("{}/matrix/master.m3u8", origin.uri()));
    assert_eq!(hls["type"], "hls");
    assert_eq!(hls["quality"], "1080p");
    assert_eq!(hls["provider"], "stremio");
    assert_eq!(
        hls["label"],
        "Sokoul Test 1080p · The.Matrix.1999.1080p.WEB"
    );
    assert_eq!(hls["headers"], json!({"Referer": REFERER}));
    assert!(
        hls["proxy_url"]
            .as_str()
            .unwrap()
            .starts_with("/api/streaming/proxy?"),
        "a header-needing stream goes through our proxy"
    );
    // `notWebReady`: what Stremio's streaming server probes and transcodes, the engine here.
    let mp4 = &sources[2];
    assert_eq!(mp4["type"], "hls");
    assert!(
        mp4["proxy_url"]
            .as_str()
            .unwrap()
            .starts_with("/api/playback/r/")
    );
    assert_eq!(mp4["quality"], "720p");
    assert_eq!(body["subtitles"].as_array().unwrap().len(), 1);
    let sub = &body["subtitles"][0];
    assert_eq!(sub["url"], format!("{}/matrix/en.vtt", origin.uri()));
    assert_eq!(sub["lang"], "eng");
    assert!(sub["proxy_url"].is_string());
    let outcome = only_outcome(&body);
    assert_eq!(outcome["status"], "ok");
    assert_eq!(outcome["sources"], 3);
    assert_eq!(
        outcome["skipped"], 3,
        "the YouTube trailer, the torrent and the external link"
    );

    assert_plays_with_headers(&hls["url"], &hls["headers"], "#EXTM3U").await;
    assert_plays_with_headers(&sub["url"], &hls["headers"], "WEBVTT").await;

    // What the player does: everything through our proxy, which adds the Referer.
    let (status, master) = fetch_through_proxy(&app, hls["proxy_url"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{master}");
    let variant = master
        .lines()
        .find(|l| !l.starts_with('#') && !l.trim().is_empty())
        .expect("a variant line");
    assert!(
        variant.starts_with("/api/streaming/proxy"),
        "rewritten: {master}"
    );
    let (status, media) = fetch_through_proxy(&app, variant).await;
    assert_eq!(status, 200, "{media}");
    assert!(media.contains("#EXTINF:4.0,"), "{media}");
    let (status, vtt) = fetch_through_proxy(&app, sub["proxy_url"].as_str().unwrap()).await;
    assert_eq!((status, vtt.starts_with("WEBVTT")), (200, true), "{vtt}");
}

#[tokio::test]
async fn an_episode_is_asked_for_with_its_imdb_episode_id() {
    let origin = hls_origin().await;
    let addon = SdkAddon::start(&origin.uri(), REFERER).await;
    let tmdb = tmdb_fake().await;
    let app = app(vec![addon.imdb_configured()], Some(&tmdb), &origin).await;

    let body = app
        .get_json("/api/streaming/stremio/tv/1396?season=1&episode=2", 200)
        .await;

    assert_eq!(body["media"]["title"], "Breaking Bad");
    assert_eq!(
        body["sources"][0]["url"],
        format!("{}/bb/s01e02/master.m3u8", origin.uri())
    );
    assert_eq!(only_outcome(&body)["status"], "ok");
    let source = &body["sources"][0];
    assert_plays_with_headers(&source["url"], &source["headers"], "#EXTM3U").await;
}

#[tokio::test]
async fn an_addon_that_needs_configuring_says_so_instead_of_being_asked() {
    let origin = hls_origin().await;
    let addon = SdkAddon::start(&origin.uri(), REFERER).await;
    let tmdb = tmdb_fake().await;
    let app = app(vec![addon.imdb_unconfigured()], Some(&tmdb), &origin).await;

    let body = app
        .get_json(&format!("/api/streaming/stremio/movie/{MATRIX}"), 200)
        .await;

    let outcome = only_outcome(&body);
    assert_eq!(outcome["status"], "error");
    assert_eq!(outcome["code"], "stremio_addon_needs_configuration");
    assert!(
        outcome["message"]
            .as_str()
            .unwrap()
            .contains("Sokoul Test (IMDb)")
    );
}

#[tokio::test]
async fn without_tmdb_an_addon_keyed_on_tmdb_ids_still_answers() {
    let origin = hls_origin().await;
    let addon = SdkAddon::start(&origin.uri(), REFERER).await;
    let app = app(vec![addon.imdb_configured(), addon.tmdb()], None, &origin).await;

    let body = app
        .get_json("/api/streaming/stremio/tv/1396?season=1&episode=2", 200)
        .await;

    let sources = body["sources"].as_array().unwrap();
    assert_eq!(sources.len(), 1, "only the tmdb: addon could be asked");
    assert_eq!(
        sources[0]["label"],
        "Sokoul TMDB 720p · Breaking Bad S01E02"
    );
    assert_eq!(only_outcome(&body)["status"], "ok");
}

#[tokio::test]
async fn without_tmdb_an_imdb_only_addon_is_an_empty_outcome_that_says_why() {
    let origin = hls_origin().await;
    let addon = SdkAddon::start(&origin.uri(), REFERER).await;
    let app = app(vec![addon.imdb_configured()], None, &origin).await;

    let body = app
        .get_json(&format!("/api/streaming/stremio/movie/{MATRIX}"), 200)
        .await;

    let outcome = only_outcome(&body);
    assert_eq!(outcome["status"], "empty");
    assert_eq!(outcome["code"], "stremio_needs_imdb_id");
    assert!(
        outcome["message"]
            .as_str()
            .unwrap()
            .contains("SOKOUL_TMDB_KEY")
    );
}

#[tokio::test]
async fn the_sdk_s_307_redirect_is_followed() {
    let origin = hls_origin().await;
    let addon = SdkAddon::start(&origin.uri(), REFERER).await;
    let app = app(vec![addon.tmdb()], None, &origin).await;

    let body = app.get_json("/api/streaming/stremio/movie/604", 200).await;

    assert_eq!(
        body["sources"][0]["url"],
        format!("{}/matrix/master.m3u8", origin.uri()),
        "tmdb:604 redirects to tmdb:603's streams"
    );
    assert_eq!(only_outcome(&body)["status"], "ok");
}

#[tokio::test]
async fn a_failing_addon_handler_is_an_error_outcome_with_the_sdk_s_code() {
    let origin = hls_origin().await;
    let addon = SdkAddon::start(&origin.uri(), REFERER).await;
    let tmdb = tmdb_fake().await;
    fake_tmdb::mount(
        &tmdb,
        "/3/movie/550",
        ResponseTemplate::new(200)
            .set_body_json(json!({"id": 550, "title": "Fight Club", "imdb_id": "tt0137523"})),
    )
    .await;
    let app = app(vec![addon.imdb_configured()], Some(&tmdb), &origin).await;

    let body = app.get_json("/api/streaming/stremio/movie/550", 200).await;

    assert_eq!(body["sources"], json!([]));
    let outcome = only_outcome(&body);
    assert_eq!(outcome["status"], "error");
    assert_eq!(outcome["code"], "stremio_addon_handler_error");
}

// --- wiremock addons: exact request shapes and failures -------------------------------

fn manifest(types: &[&str], prefixes: &[&str]) -> Value {
    json!({
        "id": "org.example.wiremock", "version": "0.1.0", "name": "Wiremock Addon",
        "description": "a fake", "resources": ["stream"], "types": types,
        "idPrefixes": prefixes, "catalogs": []
    })
}

fn streams() -> Value {
    json!({"streams": [{"url": "https://cdn.example/w/master.m3u8", "name": "W\n1080p"}]})
}

#[tokio::test]
async fn a_configured_addon_is_asked_with_percent_encoded_ids_under_its_own_path_and_its_manifest_is_cached()
 {
    let addon = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/cfg-abc123/manifest.json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(manifest(&["series"], &["tt"])))
        .expect(1)
        .mount(&addon)
        .await;
    for episode in [2, 3] {
        Mock::given(method("GET"))
            .and(path(format!(
                "/cfg-abc123/stream/series/tt0903747%3A1%3A{episode}.json"
            )))
            .respond_with(ResponseTemplate::new(200).set_body_json(streams()))
            .expect(1)
            .mount(&addon)
            .await;
    }
    let tmdb = tmdb_fake().await;
    let origin = hls_origin().await;
    let app = app(
        vec![format!("{}/cfg-abc123/manifest.json", addon.uri())],
        Some(&tmdb),
        &origin,
    )
    .await;

    for episode in [2, 3] {
        let body = app
            .get_json(
                &format!("/api/streaming/stremio/tv/1396?season=1&episode={episode}"),
                200,
            )
            .await;
        assert_eq!(only_outcome(&body)["status"], "ok", "{body}");
    }
    // The `expect(1)`s (one manifest fetch for two resolves) are checked when `addon` drops.
}

#[tokio::test]
async fn an_addon_whose_manifest_does_not_serve_the_type_is_not_asked() {
    let addon = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/manifest.json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(manifest(&["movie"], &["tt"])))
        .mount(&addon)
        .await;
    Mock::given(method("GET"))
        .and(path("/stream/series/tt0903747%3A1%3A2.json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(streams()))
        .expect(0)
        .mount(&addon)
        .await;
    let tmdb = tmdb_fake().await;
    let origin = hls_origin().await;
    let app = app(
        vec![format!("{}/manifest.json", addon.uri())],
        Some(&tmdb),
        &origin,
    )
    .await;

    let body = app
        .get_json("/api/streaming/stremio/tv/1396?season=1&episode=2", 200)
        .await;

    let outcome = only_outcome(&body);
    assert_eq!(outcome["status"], "empty");
    assert_eq!(outcome["code"], "stremio_no_addon_for_title");
}

#[tokio::test]
async fn one_addon_down_does_not_hide_another_s_streams() {
    let good = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/manifest.json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(manifest(&["movie"], &["tt"])))
        .mount(&good)
        .await;
    Mock::given(method("GET"))
        .and(path("/stream/movie/tt0133093.json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"streams": [
            {"url": "https://cdn.example/w/master.m3u8", "name": "W\n1080p"},
            {"name": "invalid: no source"},
            42
        ]})))
        .mount(&good)
        .await;
    let broken = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/manifest.json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(manifest(&["movie"], &["tt"])))
        .mount(&broken)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(502).set_body_string("Bad Gateway"))
        .with_priority(u8::MAX)
        .mount(&broken)
        .await;
    let tmdb = tmdb_fake().await;
    let origin = hls_origin().await;
    let app = app(
        vec![
            format!("{}/manifest.json", broken.uri()),
            format!("{}/manifest.json", good.uri()),
        ],
        Some(&tmdb),
        &origin,
    )
    .await;

    let body = app
        .get_json(&format!("/api/streaming/stremio/movie/{MATRIX}"), 200)
        .await;

    assert_eq!(body["sources"].as_array().unwrap().len(), 1, "{body}");
    assert_eq!(only_outcome(&body)["status"], "ok");
}

#[tokio::test]
async fn an_unreachable_addon_is_an_error_outcome_and_not_ready() {
    // A port nothing listens on: bind, note the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let origin = hls_origin().await;
    let tmdb = tmdb_fake().await;
    let app = app(
        vec![format!("http://127.0.0.1:{port}/manifest.json")],
        Some(&tmdb),
        &origin,
    )
    .await;

    let body = app
        .get_json(&format!("/api/streaming/stremio/movie/{MATRIX}"), 200)
        .await;
    let outcome = only_outcome(&body);
    assert_eq!(outcome["status"], "error");
    assert_eq!(outcome["code"], "upstream_unreachable");

    let ready = app.get_json("/readyz", 200).await;
    assert_eq!(ready["status"], "degraded");
    assert_eq!(ready["providers"]["stremio"]["ok"], false);
}
