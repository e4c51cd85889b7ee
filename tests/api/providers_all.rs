//! One resolve that asks Consumet, a real Stremio addon (stremio-addon-sdk) and Jellyfin at
//! once. (The local-library provider is not in this branch yet; it joins this test when it
//! lands.)

use serde_json::Value;
use wiremock::{MockServer, ResponseTemplate};

use crate::fake_consumet;
use crate::fake_jellyfin::{API_KEY, FakeJellyfin};
use crate::fake_tmdb::{self, MATRIX};
use crate::helpers::{TestApp, spawn_app};
use crate::stremio::{REFERER, hls_origin};
use crate::stremio_addon::SdkAddon;

struct World {
    app: TestApp,
    _consumet: MockServer,
    _tmdb: MockServer,
    _origin: MockServer,
    _addon: SdkAddon,
    _jellyfin: Option<MockServer>,
}

/// Every provider up, except Jellyfin when `jellyfin_up` is false (a closed port).
async fn world(jellyfin_up: bool) -> World {
    let consumet = fake_consumet::start().await;
    fake_consumet::mount_info(
        &consumet,
        MATRIX,
        "movie",
        ResponseTemplate::new(200).set_body_json(fake_consumet::movie_info()),
    )
    .await;
    fake_consumet::mount_watch(
        &consumet,
        "98446",
        ResponseTemplate::new(200).set_body_json(fake_consumet::watch("c", None)),
    )
    .await;
    let tmdb = fake_tmdb::start().await;
    fake_tmdb::mount_catalogue(&tmdb).await;
    let origin = hls_origin().await;
    let addon = SdkAddon::start(&origin.uri(), REFERER).await;
    let (jellyfin, jellyfin_url) = if jellyfin_up {
        let (server, _) = FakeJellyfin::start(0).await;
        let url = server.uri();
        (Some(server), url)
    } else {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        (None, format!("http://127.0.0.1:{port}"))
    };
    let (consumet_url, tmdb_url, addon_url) = (
        consumet.uri(),
        fake_tmdb::base_url(&tmdb),
        addon.imdb_configured(),
    );
    let app = spawn_app(move |s| {
        s.consumet.url = Some(consumet_url);
        s.stremio.addons = vec![addon_url];
        s.jellyfin.url = Some(jellyfin_url);
        s.jellyfin.api_key = Some(sokoul::config::Secret::new(API_KEY));
        s.tmdb.base_url = tmdb_url;
        s.tmdb.key = Some(sokoul::config::Secret::new(fake_tmdb::KEY));
    })
    .await;
    World {
        app,
        _consumet: consumet,
        _tmdb: tmdb,
        _origin: origin,
        _addon: addon,
        _jellyfin: jellyfin,
    }
}

fn ranked(body: &Value) -> Vec<(String, String, String)> {
    body["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["provider"].as_str().unwrap().to_string(),
                s["quality"].as_str().unwrap().to_string(),
                s["type"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn outcome<'a>(body: &'a Value, provider: &str) -> &'a Value {
    body["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["provider"] == provider)
        .unwrap_or_else(|| panic!("no {provider} outcome: {body}"))
}

fn owned(v: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    v.iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect()
}

#[tokio::test]
async fn a_resolve_asks_consumet_stremio_and_jellyfin_at_once_and_ranks_all_their_sources() {
    let w = world(true).await;

    let body = w
        .app
        .get_json(&format!("/api/streaming/resolve/movie/{MATRIX}"), 200)
        .await;

    assert_eq!(
        ranked(&body),
        owned(&[
            // The adaptive master first, then by resolution, ties in provider order
            // (library, jellyfin, stremio, consumet), each provider's own order kept.
            // The addon's MKV and its `notWebReady` MP4 are playback-engine sources (HLS)
            // since issue 14.
            ("consumet", "auto", "hls"),
            ("stremio", "2160p", "hls"),
            ("jellyfin", "1080p", "mp4"),
            ("jellyfin", "1080p", "hls"),
            ("stremio", "1080p", "hls"),
            ("consumet", "1080p", "hls"),
            ("stremio", "720p", "hls"),
            ("consumet", "720p", "hls"),
        ])
    );
    for provider in ["consumet", "stremio", "jellyfin"] {
        assert_eq!(outcome(&body, provider)["status"], "ok", "{provider}");
    }
    // The mkv is no longer skipped: the playback engine plays it (issue 14).
    assert_eq!(outcome(&body, "stremio")["skipped"], 3);
    assert!(!body.to_string().contains(API_KEY));
}

#[tokio::test]
async fn with_jellyfin_down_the_others_sources_are_ranked_and_its_failure_is_an_outcome() {
    let w = world(false).await;

    let body = w
        .app
        .get_json(&format!("/api/streaming/resolve/movie/{MATRIX}"), 200)
        .await;

    assert_eq!(
        ranked(&body),
        owned(&[
            ("consumet", "auto", "hls"),
            ("stremio", "2160p", "hls"),
            ("stremio", "1080p", "hls"),
            ("consumet", "1080p", "hls"),
            ("stremio", "720p", "hls"),
            ("consumet", "720p", "hls"),
        ])
    );
    let jellyfin = outcome(&body, "jellyfin");
    assert_eq!(jellyfin["status"], "error");
    assert_eq!(jellyfin["code"], "upstream_unreachable");
    assert!(!jellyfin["message"].as_str().unwrap().is_empty());
    assert_eq!(outcome(&body, "consumet")["status"], "ok");
    assert_eq!(outcome(&body, "stremio")["status"], "ok");
    assert_eq!(body["outcomes"].as_array().unwrap().len(), 3);
}
