//! The viewer's languages: preferences and per-series choices kept server-side, validated, and
//! applied to the ranking of a (cached) resolve answer within each quality.

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::fake_tmdb::{self, MATRIX};
use crate::helpers::{TestApp, spawn_app};

async fn put(app: &TestApp, path: &str, body: Value) -> (u16, Value) {
    let r = app
        .client
        .put(format!("{}{path}", app.address))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// A Stremio addon listing, in this order, an untagged 1080p, a VOSTFR 1080p, a MULTi VFF
/// 1080p and a VFF 720p release of The Matrix.
async fn addon() -> MockServer {
    let addon = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/manifest.json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "org.example.langs", "version": "0.1.0", "name": "Langs",
            "resources": ["stream"], "types": ["movie"], "idPrefixes": ["tt"], "catalogs": []
        })))
        .mount(&addon)
        .await;
    let stream = |file: &str| {
        json!({"url": format!("https://cdn.example/{file}.mp4"), "name": "Langs",
               "description": format!("{file}\n💾 2 GB")})
    };
    Mock::given(method("GET"))
        .and(path(format!(
            "/stream/movie/{}.json",
            fake_tmdb::MATRIX_IMDB
        )))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"streams": [
            stream("The.Matrix.1999.1080p.BluRay.x264"),
            stream("The.Matrix.1999.VOSTFR.1080p.WEB"),
            stream("The.Matrix.1999.MULTi.VFF.1080p.BluRay"),
            stream("The.Matrix.1999.VFF.720p.WEB"),
        ]})))
        .mount(&addon)
        .await;
    addon
}

async fn app(addon: &MockServer, tmdb: &MockServer) -> TestApp {
    let manifest = format!("{}/manifest.json", addon.uri());
    let tmdb = fake_tmdb::base_url(tmdb);
    spawn_app(move |s| {
        s.stremio.addons = vec![manifest];
        s.tmdb.base_url = tmdb;
        s.tmdb.key = Some(sokoul::config::Secret::new(fake_tmdb::KEY));
    })
    .await
}

/// The release names of the answer's sources, best first, and whether it was a cache hit.
async fn order(app: &TestApp) -> (Vec<String>, bool) {
    let body = app
        .get_json(&format!("/api/streaming/stremio/movie/{MATRIX}"), 200)
        .await;
    let names = body["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let label = s["label"].as_str().unwrap();
            label.trim_start_matches("Langs · ").to_string()
        })
        .collect();
    (names, body["cached"] == true)
}

#[tokio::test]
async fn the_release_in_the_viewers_language_leads_its_quality_even_from_the_cache() {
    let (addon, tmdb) = (addon().await, fake_tmdb::start().await);
    fake_tmdb::mount_catalogue(&tmdb).await;
    let app = app(&addon, &tmdb).await;

    let (unchanged, _) = order(&app).await;
    assert_eq!(
        unchanged,
        [
            "The.Matrix.1999.1080p.BluRay.x264",
            "The.Matrix.1999.VOSTFR.1080p.WEB",
            "The.Matrix.1999.MULTi.VFF.1080p.BluRay",
            "The.Matrix.1999.VFF.720p.WEB",
        ],
        "no preference: the ranking as it was"
    );

    let (status, saved) = put(&app, "/api/preferences/languages", json!({"mode": "vf"})).await;
    assert_eq!(status, 200, "{saved}");
    let (vf, cached) = order(&app).await;
    assert!(
        cached,
        "the answer comes from the cache; the order is the viewer's"
    );
    assert_eq!(vf[0], "The.Matrix.1999.MULTi.VFF.1080p.BluRay");
    assert_eq!(
        vf[3], "The.Matrix.1999.VFF.720p.WEB",
        "a French 720p never passes a 1080p"
    );

    put(
        &app,
        "/api/preferences/languages",
        json!({"mode": "vostfr"}),
    )
    .await;
    let (vostfr, _) = order(&app).await;
    assert_eq!(vostfr[0], "The.Matrix.1999.VOSTFR.1080p.WEB");

    put(&app, "/api/preferences/languages", json!({"mode": "none"})).await;
    assert_eq!(order(&app).await.0, unchanged);
}

#[tokio::test]
async fn preferences_and_series_choices_are_kept_and_normalised() {
    let app = spawn_app(|_| {}).await;
    let defaults = app.get_json("/api/preferences/languages", 200).await;
    assert_eq!(
        defaults,
        json!({"mode": "none", "audio": [], "subtitles": []})
    );
    let (status, saved) = put(
        &app,
        "/api/preferences/languages",
        json!({"mode": "custom", "audio": ["FRE", "en", "fr"], "subtitles": ["fr-CA"]}),
    )
    .await;
    assert_eq!(status, 200);
    let want = json!({"mode": "custom", "audio": ["fr", "en"], "subtitles": ["fr-CA"]});
    assert_eq!(saved, want);
    assert_eq!(app.get_json("/api/preferences/languages", 200).await, want);

    let none = app.get_json("/api/preferences/series/1396", 404).await;
    assert_eq!(none["error"]["code"], "no_series_choice");
    let (status, _) = put(
        &app,
        "/api/preferences/series/1396",
        json!({"audio": "fra"}),
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = put(
        &app,
        "/api/preferences/series/1396",
        json!({"subtitles": "off"}),
    )
    .await;
    assert_eq!(status, 204);
    let choice = app.get_json("/api/preferences/series/1396", 200).await;
    assert_eq!(
        (&choice["audio"], &choice["subtitles"], &choice["tmdb_id"]),
        (&json!("fr"), &json!("off"), &json!(1396)),
        "a subtitle choice keeps the audio picked before"
    );
}

#[tokio::test]
async fn bad_language_input_gets_a_clear_400() {
    let app = spawn_app(|_| {}).await;
    for (path, body, code) in [
        (
            "/api/preferences/languages",
            json!({"mode": "vf", "audio": ["<script>"]}),
            "invalid_languages",
        ),
        (
            "/api/preferences/languages",
            json!({"mode": "vf", "subtitles": vec!["en"; 9]}),
            "invalid_languages",
        ),
        (
            "/api/preferences/series/1396",
            json!({"audio": "english please"}),
            "invalid_languages",
        ),
        (
            "/api/preferences/series/1396",
            json!({}),
            "invalid_languages",
        ),
        (
            "/api/preferences/series/0",
            json!({"audio": "fr"}),
            "invalid_tmdb_id",
        ),
    ] {
        let (status, err) = put(&app, path, body.clone()).await;
        assert_eq!(
            (status, err["error"]["code"].as_str()),
            (400, Some(code)),
            "{body}"
        );
    }
    let (status, err) = put(&app, "/api/preferences/languages", json!({"mode": "loud"})).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (422, Some("invalid_body"))
    );
    assert_eq!(
        app.get_json("/api/preferences/languages", 200).await["mode"],
        "none",
        "nothing bad was saved"
    );
}
