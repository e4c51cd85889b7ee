//! No secret in any URL the browser sees, in any encoding (issue 12, findings 1 and 11).
//!
//! A resolve over a fake Jellyfin (its API key in every URL it hands out) and a Stremio addon
//! configured with a credential in its URL (as debrid addons are), whose stream URLs carry that
//! credential in their query; then every playlist the answer leads to, fetched through the
//! proxy as a player would, children included. Every URL seen is taken apart (path segments,
//! query names and values), each part decoded every way a curious client would (percent,
//! base64url, base64, and both in turn), and none may contain a configured secret.

use std::collections::BTreeSet;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::fake_jellyfin::{API_KEY, FakeJellyfin};
use crate::fake_tmdb::{self, MATRIX, MATRIX_IMDB};
use crate::helpers::{TestApp, spawn_app};

const API_TOKEN: &str = "api-token-7c1e9b3a5d2f";
/// The credential in the addon's configured URL and in the stream URLs it answers with.
const ADDON_CREDENTIAL: &str = "debridkey9f4e2a7c1b";

/// Every decoding of `part` worth trying, `part` included.
fn decodings(part: &str) -> Vec<String> {
    let mut out = vec![part.to_string()];
    let percent = percent_decode(part);
    for text in [part.to_string(), percent] {
        for engine in [&URL_SAFE_NO_PAD, &URL_SAFE, &STANDARD, &STANDARD_NO_PAD] {
            if let Ok(bytes) = engine.decode(text.trim_end_matches('=')) {
                out.push(String::from_utf8_lossy(&bytes).into_owned());
            }
            if let Ok(bytes) = engine.decode(&text) {
                out.push(String::from_utf8_lossy(&bytes).into_owned());
            }
        }
        out.push(text);
    }
    out
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Every path segment, query name and query value of a URL (absolute or a path), and the
/// URL itself, decoded every way.
fn visible_parts(url: &str) -> Vec<String> {
    let parsed = url::Url::parse(url)
        .or_else(|_| url::Url::parse("http://sokoul.invalid/").unwrap().join(url))
        .expect("a URL or a path");
    let mut parts = vec![url.to_string()];
    parts.extend(
        parsed
            .path_segments()
            .into_iter()
            .flatten()
            .map(String::from),
    );
    for pair in parsed.query().unwrap_or_default().split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        parts.push(k.to_string());
        parts.push(v.to_string());
    }
    parts.iter().flat_map(|p| decodings(p)).collect()
}

/// Every string in a JSON document.
fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
        Value::Object(o) => o.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

/// The URIs of a playlist: its URI lines and its `URI="…"` attributes.
fn playlist_uris(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() {
            continue;
        }
        if !line.starts_with('#') {
            out.push(line.to_string());
            continue;
        }
        let mut rest = line;
        while let Some(i) = rest.find("URI=\"") {
            let tail = &rest[i + 5..];
            let end = tail.find('"').unwrap_or(tail.len());
            out.push(tail[..end].to_string());
            rest = &tail[end..];
        }
    }
    out
}

/// A CDN whose playlists name their children with the addon's credential in the query.
async fn cdn() -> MockServer {
    let cdn = MockServer::start().await;
    let q = format!("token={ADDON_CREDENTIAL}");
    for (route, body) in [
        (
            "/v/master.m3u8",
            format!("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=2000000\n1080/index.m3u8?{q}\n"),
        ),
        (
            "/v/1080/index.m3u8",
            format!(
                "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-KEY:METHOD=AES-128,URI=\"key.bin?{q}\"\n\
                 #EXTINF:4,\nseg0.ts?{q}\n#EXT-X-ENDLIST\n"
            ),
        ),
    ] {
        Mock::given(method("GET"))
            .and(path(route))
            .respond_with(
                ResponseTemplate::new(200).set_body_raw(body, "application/vnd.apple.mpegurl"),
            )
            .mount(&cdn)
            .await;
    }
    cdn
}

/// A Stremio addon under a path holding its credential, answering with `streams`.
async fn addon(streams: Value) -> MockServer {
    let addon = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/{ADDON_CREDENTIAL}/manifest.json")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "org.example.debrid", "version": "1.0.0", "name": "Debrid",
            "description": "a fake", "resources": ["stream"], "types": ["movie"],
            "idPrefixes": ["tt"], "catalogs": []
        })))
        .mount(&addon)
        .await;
    Mock::given(method("GET"))
        .and(path(format!(
            "/{ADDON_CREDENTIAL}/stream/movie/{MATRIX_IMDB}.json"
        )))
        .respond_with(ResponseTemplate::new(200).set_body_json(streams))
        .mount(&addon)
        .await;
    addon
}

async fn app(
    jellyfin: &MockServer,
    tmdb: &MockServer,
    addon: &MockServer,
    allow: Vec<String>,
) -> TestApp {
    let jellyfin = jellyfin.uri();
    let tmdb = fake_tmdb::base_url(tmdb);
    let addon = format!("{}/{ADDON_CREDENTIAL}/manifest.json", addon.uri());
    spawn_app(move |s| {
        s.api_token = Some(sokoul::config::Secret::new(API_TOKEN));
        s.jellyfin.url = Some(jellyfin);
        s.jellyfin.api_key = Some(sokoul::config::Secret::new(API_KEY));
        s.tmdb.base_url = tmdb;
        s.tmdb.key = Some(sokoul::config::Secret::new(fake_tmdb::KEY));
        s.stremio.addons = vec![addon];
        s.proxy.allow = allow;
    })
    .await
}

async fn get(app: &TestApp, path: &str, token: bool) -> reqwest::Response {
    let mut request = app.client.get(format!("{}{path}", app.address));
    if token {
        request = request.bearer_auth(API_TOKEN);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn no_configured_secret_is_readable_in_any_url_the_browser_sees() {
    let (jellyfin, _fake) = FakeJellyfin::start(0).await;
    let tmdb = fake_tmdb::start().await;
    fake_tmdb::mount_catalogue(&tmdb).await;
    let cdn = cdn().await;
    let addon = addon(json!({"streams": [{
        "url": format!("{}/v/master.m3u8?token={ADDON_CREDENTIAL}", cdn.uri()),
        "name": "Debrid\n1080p"
    }]}))
    .await;
    let app = app(&jellyfin, &tmdb, &addon, vec![cdn.address().to_string()]).await;

    let r = get(
        &app,
        &format!("/api/streaming/resolve/movie/{MATRIX}"),
        true,
    )
    .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let mut visible = Vec::new();
    strings(&body, &mut visible);
    let providers: BTreeSet<&str> = body["sources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["provider"].as_str())
        .collect();
    assert!(
        providers.contains("jellyfin") && providers.contains("stremio"),
        "{body}"
    );

    // Every proxy URL, then every URI of every playlist it leads to, as a player fetches them.
    let mut queue: Vec<String> = visible
        .iter()
        .filter(|s| s.starts_with("/api/streaming/proxy"))
        .cloned()
        .collect();
    let mut playlists = 0;
    let mut fetched = 0;
    while let Some(url) = queue.pop() {
        fetched += 1;
        assert!(fetched < 100, "the playlists lead to too many URLs");
        let r = get(&app, &url, false).await;
        let is_playlist = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("mpegurl"));
        if !is_playlist {
            continue;
        }
        playlists += 1;
        for uri in playlist_uris(&r.text().await.unwrap()) {
            visible.push(uri.clone());
            if uri.starts_with("/api/streaming/proxy") {
                queue.push(uri);
            }
        }
    }
    // Jellyfin's master and media playlists, the CDN's master and media playlists.
    assert!(playlists >= 4, "only {playlists} playlists were rewritten");

    let secrets = [API_KEY, fake_tmdb::KEY, API_TOKEN, ADDON_CREDENTIAL];
    for url in &visible {
        for part in visible_parts(url) {
            for secret in secrets {
                assert!(
                    !part.contains(secret),
                    "{secret} is readable in {url} (as {part:?})"
                );
            }
        }
    }
}

/// The code and status of a proxy answer that must be a refusal.
async fn refusal(r: reqwest::Response) -> (u16, String) {
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap();
    (
        status,
        body["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

#[tokio::test]
async fn a_source_of_one_provider_cannot_reach_another_providers_host_directly_or_by_redirect() {
    let (jellyfin, _fake) = FakeJellyfin::start(0).await;
    let tmdb = fake_tmdb::start().await;
    fake_tmdb::mount_catalogue(&tmdb).await;
    // An allowed origin that redirects into Jellyfin.
    let redirector = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path_regex("^/to-jellyfin"))
        .respond_with(
            ResponseTemplate::new(302)
                .insert_header("Location", format!("{}/System/Info", jellyfin.uri())),
        )
        .mount(&redirector)
        .await;
    let addon = addon(json!({"streams": [
        {"url": format!("{}/System/Info?direct.m3u8", jellyfin.uri()), "name": "A\n1080p"},
        {"url": format!("{}/to-jellyfin/x.m3u8", redirector.uri()), "name": "B\n720p"}
    ]}))
    .await;
    let app = app(
        &jellyfin,
        &tmdb,
        &addon,
        vec![redirector.address().to_string()],
    )
    .await;

    let body: Value = get(
        &app,
        &format!("/api/streaming/resolve/movie/{MATRIX}"),
        true,
    )
    .await
    .json()
    .await
    .unwrap();
    let sources = body["sources"].as_array().unwrap();
    let by = |provider: &str| -> Vec<String> {
        sources
            .iter()
            .filter(|s| s["provider"] == provider)
            .map(|s| s["proxy_url"].as_str().unwrap().to_string())
            .collect()
    };
    let (stremio, own) = (by("stremio"), by("jellyfin"));
    assert_eq!(stremio.len(), 2, "{body}");
    let before = jellyfin.received_requests().await.unwrap().len();
    for url in &stremio {
        assert_eq!(
            refusal(get(&app, url, false).await).await,
            (403, "destination_not_allowed".into()),
            "{url}"
        );
    }
    let after = jellyfin.received_requests().await.unwrap();
    assert_eq!(after.len(), before, "the proxy reached Jellyfin: {after:?}");
    // The guard gives a private address the same answer.
    let private = app.state.signer.mint(
        "http://10.0.0.1/x.m3u8",
        &[],
        sokoul::clock::Clock::unix(&*app.state.clock) + 600,
    );
    assert_eq!(
        refusal(get(&app, &private, false).await).await,
        (403, "destination_not_allowed".into())
    );
    // Jellyfin's own sources still play through the proxy.
    assert!(!own.is_empty(), "{body}");
    for url in &own {
        assert_eq!(get(&app, url, false).await.status(), 200, "{url}");
    }
}
