//! The Jellyfin provider against a fake server that reproduces Jellyfin's routes, fields and
//! quirks (every item for an unknown filter, fields only when asked, 401, 404).

use serde_json::{Value, json};
use wiremock::{MockServer, ResponseTemplate};

use crate::fake_jellyfin::{self as fake, API_KEY, FakeJellyfin, Segments, Trickplay};
use crate::fake_tmdb;
use crate::helpers::{TestApp, spawn_app};
use sokoul::cache::Scope;
use sokoul::models::{MediaRequest, StreamSource};

async fn app(
    jellyfin: &MockServer,
    tmdb: Option<&MockServer>,
    api_key: &str,
    user_id: Option<&str>,
) -> TestApp {
    let url = jellyfin.uri();
    let api_key = api_key.to_string();
    let user_id = user_id.map(String::from);
    let tmdb = tmdb.map(fake_tmdb::base_url);
    spawn_app(move |s| {
        s.jellyfin.url = Some(url);
        s.jellyfin.api_key = Some(sokoul::config::Secret::new(api_key));
        s.jellyfin.user_id = user_id;
        if let Some(base) = tmdb {
            s.tmdb.base_url = base;
            s.tmdb.key = Some(sokoul::config::Secret::new(fake_tmdb::KEY));
        }
    })
    .await
}

async fn tmdb_fake() -> MockServer {
    let tmdb = fake_tmdb::start().await;
    fake_tmdb::mount_catalogue(&tmdb).await;
    fake_tmdb::mount(
        &tmdb,
        "/3/movie/604",
        ResponseTemplate::new(200)
            .set_body_json(json!({"title": "The Matrix Reloaded", "imdb_id": "tt0234215"})),
    )
    .await;
    fake_tmdb::mount(
        &tmdb,
        "/3/movie/194",
        ResponseTemplate::new(200).set_body_json(
            json!({"title": "Le Fabuleux Destin d'Amélie Poulain", "imdb_id": "tt0211915"}),
        ),
    )
    .await;
    tmdb
}

fn only_outcome(body: &Value) -> &Value {
    let outcomes = body["outcomes"].as_array().expect("outcomes");
    assert_eq!(outcomes.len(), 1, "{body}");
    &outcomes[0]
}

/// The upstream URLs as the proxy will get them (the JSON only has redacted copies).
async fn upstream_urls(app: &TestApp, request: MediaRequest) -> Vec<url::Url> {
    let resolved = app
        .state
        .resolver
        .resolve(request, Scope::One("jellyfin"))
        .await
        .unwrap();
    resolved
        .resolution
        .streams
        .iter()
        .map(|s| match &s.source {
            StreamSource::Remote { url, .. } => url.clone(),
            StreamSource::Local { .. } => panic!("Jellyfin sources are remote"),
        })
        .collect()
}

#[tokio::test]
async fn a_film_plays_directly_and_as_an_h264_hls_transcode_with_the_key_kept_out_of_the_json() {
    let (jellyfin, fake) = FakeJellyfin::start(0).await;
    let tmdb = tmdb_fake().await;
    let app = app(&jellyfin, Some(&tmdb), API_KEY, None).await;

    let body = app.get_json("/api/streaming/jellyfin/movie/603", 200).await;

    let sources = body["sources"].as_array().unwrap();
    assert_eq!(sources.len(), 2, "{body}");
    let direct = &sources[0];
    assert_eq!(direct["type"], "mp4", "an H.264/AAC mp4 plays as it is");
    assert_eq!(direct["quality"], "1080p", "1920×800 is a 1080p film");
    assert_eq!(
        direct["url"],
        format!(
            "{}/Videos/{id}/stream?static=true&MediaSourceId={id}&ApiKey=%5Bredacted%5D",
            jellyfin.uri(),
            id = fake::MATRIX_ID
        )
    );
    let hls = &sources[1];
    assert_eq!(hls["type"], "hls");
    assert_eq!(hls["label"], "Jellyfin · The Matrix · H.264/AAC");
    let hls_url = url::Url::parse(hls["url"].as_str().unwrap()).unwrap();
    assert_eq!(
        hls_url.path(),
        format!("/Videos/{}/master.m3u8", fake::MATRIX_ID)
    );
    let q: std::collections::HashMap<_, _> = hls_url.query_pairs().into_owned().collect();
    assert_eq!(q["MediaSourceId"], fake::MATRIX_ID);
    assert_eq!(
        (q["VideoCodec"].as_str(), q["AudioCodec"].as_str()),
        ("h264", "aac")
    );
    for source in sources {
        assert_eq!(source["headers"]["Authorization"], "[redacted]");
        assert!(source["proxy_url"].is_string(), "the key needs our proxy");
    }
    assert!(
        !body.to_string().contains(API_KEY),
        "the API key never reaches the browser"
    );
    let subtitles = body["subtitles"].as_array().unwrap();
    assert_eq!(subtitles.len(), 1, "the image-based PGS track is left out");
    assert_eq!(subtitles[0]["lang"], "eng");
    assert_eq!(subtitles[0]["label"], "English - SUBRIP");
    assert!(
        subtitles[0]["url"]
            .as_str()
            .unwrap()
            .ends_with("/Subtitles/2/Stream.vtt?ApiKey=%5Bredacted%5D")
    );
    assert_eq!(only_outcome(&body)["status"], "ok");

    // The item came from a title search, matched on ProviderIds (Reloaded is listed first).
    let queries = fake.item_queries();
    assert_eq!(queries.len(), 1, "{queries:?}");
    assert!(
        queries[0].contains("SearchTerm=The+Matrix"),
        "{}",
        queries[0]
    );
    assert!(
        queries[0].contains(&format!("userId={}", fake::ADMIN_ID)),
        "the admin user found via /Users"
    );
    // Never the legacy `api_key` (refused by Jellyfin 12 by default).
    for r in jellyfin.received_requests().await.unwrap() {
        assert!(
            !r.url.query().unwrap_or("").contains("api_key="),
            "{}",
            r.url
        );
    }
}

#[tokio::test]
async fn the_hls_chain_authenticates_through_the_api_key_in_the_query() {
    let (jellyfin, _fake) = FakeJellyfin::start(0).await;
    let tmdb = tmdb_fake().await;
    let app = app(&jellyfin, Some(&tmdb), API_KEY, None).await;

    let urls = upstream_urls(&app, MediaRequest::movie(603)).await;
    let master = urls
        .iter()
        .find(|u| u.path().ends_with("master.m3u8"))
        .unwrap();

    // No header at all: the query alone must carry the whole chain, as Jellyfin copies it
    // into the variant and segment URIs.
    let client = reqwest::Client::new();
    let body = client
        .get(master.clone())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let variant = body
        .lines()
        .find(|l| l.starts_with("main.m3u8?"))
        .expect(&body);
    assert!(variant.contains(&format!("ApiKey={API_KEY}")));
    let variant = master.join(variant).unwrap();
    let media = client.get(variant).send().await.unwrap();
    assert_eq!(media.status(), 200);
}

#[tokio::test]
async fn items_are_matched_on_their_tmdb_id_because_an_unknown_filter_returns_every_item() {
    let (jellyfin, _fake) = FakeJellyfin::start(0).await;
    // The trap: Jellyfin ignores AnyProviderIdEquals and answers with the whole library.
    let everything: Value = reqwest::Client::new()
        .get(format!(
            "{}/Items?AnyProviderIdEquals=tmdb.604&Recursive=true",
            jellyfin.uri()
        ))
        .header("Authorization", format!("MediaBrowser Token=\"{API_KEY}\""))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(everything["Items"].as_array().unwrap().len() > 1);
    let tmdb = tmdb_fake().await;
    let app = app(&jellyfin, Some(&tmdb), API_KEY, None).await;

    let body = app.get_json("/api/streaming/jellyfin/movie/604", 200).await;

    let sources = body["sources"].as_array().unwrap();
    assert_eq!(
        sources.len(),
        1,
        "an HEVC/DTS mkv is transcoded only: {body}"
    );
    assert_eq!(sources[0]["type"], "hls");
    assert_eq!(sources[0]["quality"], "2160p");
    assert!(
        sources[0]["url"]
            .as_str()
            .unwrap()
            .contains(fake::RELOADED_ID)
    );
}

#[tokio::test]
async fn a_title_the_search_misses_is_found_in_the_paged_library_index_which_is_then_cached() {
    let (jellyfin, fake) = FakeJellyfin::start(1200).await;
    let tmdb = tmdb_fake().await;
    let app = app(&jellyfin, Some(&tmdb), API_KEY, None).await;

    let body = app.get_json("/api/streaming/jellyfin/movie/194", 200).await;

    assert!(
        body["sources"][0]["url"]
            .as_str()
            .unwrap()
            .contains(fake::AMELIE_ID),
        "{body}"
    );
    let pages = |queries: &[String]| queries.iter().filter(|q| q.contains("StartIndex=")).count();
    assert_eq!(pages(&fake.item_queries()), 3, "1205 items in pages of 500");

    let body = app.get_json("/api/streaming/jellyfin/movie/605", 200).await;
    let outcome = only_outcome(&body);
    assert_eq!(outcome["status"], "empty");
    assert_eq!(outcome["code"], "jellyfin_not_in_library");
    assert_eq!(
        pages(&fake.item_queries()),
        3,
        "the index is not rebuilt for each title"
    );
}

#[tokio::test]
async fn without_tmdb_the_library_index_still_finds_the_film() {
    let (jellyfin, _fake) = FakeJellyfin::start(0).await;
    let app = app(&jellyfin, None, API_KEY, None).await;

    let body = app.get_json("/api/streaming/jellyfin/movie/603", 200).await;

    assert_eq!(body["sources"].as_array().unwrap().len(), 2, "{body}");
    assert_eq!(
        body["media"]["title"], "The Matrix",
        "the library's own title"
    );
}

#[tokio::test]
async fn an_episode_is_found_through_its_series_and_a_two_part_file_serves_both_numbers() {
    let (jellyfin, _fake) = FakeJellyfin::start(0).await;
    let tmdb = tmdb_fake().await;
    let app = app(&jellyfin, Some(&tmdb), API_KEY, Some(fake::ADMIN_ID)).await;

    let body = app
        .get_json("/api/streaming/jellyfin/tv/1396?season=1&episode=2", 200)
        .await;
    let sources = body["sources"].as_array().unwrap();
    assert_eq!(sources.len(), 1, "an AC-3 mkv is transcoded only: {body}");
    assert!(
        sources[0]["url"]
            .as_str()
            .unwrap()
            .contains(fake::S01E02_ID)
    );
    assert_eq!(sources[0]["quality"], "720p");
    assert_eq!(body["media"]["title"], "Breaking Bad");

    let body = app
        .get_json("/api/streaming/jellyfin/tv/1396?season=2&episode=2", 200)
        .await;
    assert!(
        body["sources"][0]["url"]
            .as_str()
            .unwrap()
            .contains(fake::S02E01_ID),
        "S02E01-E02 holds episode 2: {body}"
    );
    let requests = jellyfin.received_requests().await.unwrap();
    assert!(requests.iter().any(|r| r.url.path()
        == format!("/Shows/{}/Episodes", fake::BREAKING_BAD_ID)
        && r.url.query().unwrap().contains("season=2")),);
    assert!(
        !requests.iter().any(|r| r.url.path() == "/Users"),
        "a configured user id is used as is"
    );
}

#[tokio::test]
async fn a_missing_episode_and_a_missing_film_are_empty_outcomes() {
    let (jellyfin, _fake) = FakeJellyfin::start(0).await;
    let tmdb = tmdb_fake().await;
    let app = app(&jellyfin, Some(&tmdb), API_KEY, None).await;

    let body = app
        .get_json("/api/streaming/jellyfin/tv/1396?season=5&episode=1", 200)
        .await;
    let outcome = only_outcome(&body);
    assert_eq!(outcome["status"], "empty");
    assert_eq!(outcome["code"], "jellyfin_episode_not_found");

    let body = app.get_json("/api/streaming/jellyfin/movie/550", 200).await;
    assert_eq!(only_outcome(&body)["code"], "jellyfin_not_in_library");
}

#[tokio::test]
async fn a_rejected_api_key_is_an_error_outcome_and_readyz_says_so() {
    let (jellyfin, _fake) = FakeJellyfin::start(0).await;
    let app = app(&jellyfin, None, "wrong-key", None).await;

    let body = app.get_json("/api/streaming/jellyfin/movie/603", 200).await;
    let outcome = only_outcome(&body);
    assert_eq!(outcome["status"], "error");
    assert_eq!(outcome["code"], "jellyfin_unauthorized");
    assert!(!body.to_string().contains("wrong-key"));

    let ready = app.get_json("/readyz", 200).await;
    assert_eq!(ready["status"], "degraded");
    assert_eq!(ready["providers"]["jellyfin"]["ok"], false);
    assert!(
        ready["providers"]["jellyfin"]["message"]
            .as_str()
            .unwrap()
            .contains("SOKOUL_JELLYFIN_API_KEY")
    );
}

#[tokio::test]
async fn a_healthy_server_is_ready() {
    let (jellyfin, _fake) = FakeJellyfin::start(0).await;
    let app = app(&jellyfin, None, API_KEY, None).await;
    let ready = app.get_json("/readyz", 200).await;
    assert_eq!(ready["providers"]["jellyfin"]["ok"], true, "{ready}");
}

#[tokio::test]
async fn an_unreachable_server_is_an_error_outcome() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = spawn_app(move |s| {
        s.jellyfin.url = Some(format!("http://127.0.0.1:{port}"));
        s.jellyfin.api_key = Some(sokoul::config::Secret::new(API_KEY));
    })
    .await;

    let body = app.get_json("/api/streaming/jellyfin/movie/603", 200).await;
    let outcome = only_outcome(&body);
    assert_eq!(outcome["status"], "error");
    assert_eq!(outcome["code"], "upstream_unreachable");
}

async fn segment_requests(jellyfin: &MockServer) -> Vec<wiremock::Request> {
    let requests = jellyfin.received_requests().await.unwrap();
    requests
        .into_iter()
        .filter(|r| r.url.path().starts_with("/MediaSegments/"))
        .collect()
}

/// `path` resolved against a fake set up by `setup` (`what` names that), which is always an
/// `ok` outcome; the fake server and the app are returned for their requests.
async fn resolved_against(
    setup: impl FnOnce(&FakeJellyfin),
    what: String,
    path: &str,
) -> (MockServer, TestApp, Value) {
    let (jellyfin, fake) = FakeJellyfin::start(0).await;
    setup(&fake);
    let tmdb = tmdb_fake().await;
    let app = app(&jellyfin, Some(&tmdb), API_KEY, None).await;
    let body = app.get_json(path, 200).await;
    assert_eq!(only_outcome(&body)["status"], "ok", "{what}: {body}");
    (jellyfin, app, body)
}

/// `path` resolved against a fake whose `/MediaSegments` answers as `segments` says, which
/// is always an `ok` outcome; the fake is returned for its requests.
async fn resolved_with(segments: Segments, path: &str) -> (MockServer, Value) {
    let setup = |fake: &FakeJellyfin| fake.set_segments(segments);
    let (jellyfin, _app, body) = resolved_against(setup, format!("{segments:?}"), path).await;
    (jellyfin, body)
}

const MATRIX: &str = "/api/streaming/jellyfin/movie/603";

#[tokio::test]
async fn media_segments_give_each_jellyfin_source_its_recap_intro_and_credits_in_seconds() {
    let path = "/api/streaming/jellyfin/tv/1396?season=1&episode=2";
    let (jellyfin, body) = resolved_with(Segments::Served, path).await;

    assert_eq!(
        body["sources"][0]["markers"],
        json!({"recap": {"start": 0.0, "end": 30.0},
               "intro": {"start": 60.0, "end": 95.5},
               "outro": {"start": 8000.0, "end": 8160.0}}),
        "Recap, Intro and Outro (the credits); the Commercial is not asked for: {body}"
    );
    assert!(
        body.get("markers").is_none(),
        "per source only, so Consumet's top-level markers keep reaching its own sources: {body}"
    );
    let asked = segment_requests(&jellyfin).await;
    assert_eq!(asked.len(), 1, "one request per media source");
    assert_eq!(
        asked[0].url.path(),
        format!("/MediaSegments/{}", fake::S01E02_ID)
    );
    assert_eq!(
        asked[0].url.query(),
        Some("includeSegmentTypes=Intro&includeSegmentTypes=Outro&includeSegmentTypes=Recap")
    );
}

#[tokio::test]
async fn a_segment_under_a_second_is_no_marker_and_both_sources_of_a_file_share_its_markers() {
    let (_jellyfin, body) = resolved_with(Segments::Served, MATRIX).await;

    let sources = body["sources"].as_array().unwrap();
    assert_eq!(sources.len(), 2, "{body}");
    for source in sources {
        assert_eq!(
            source["markers"],
            json!({"outro": {"start": 7900.0, "end": 8100.0}}),
            "the 0.4 s intro is dropped: {body}"
        );
    }
}

#[tokio::test]
async fn segments_that_cannot_be_had_cost_the_markers_and_nothing_else() {
    // An older server (404), a malformed body, an answer slower than markers may wait.
    for mode in [Segments::OldServer, Segments::Malformed, Segments::Slow] {
        let (jellyfin, body) = resolved_with(mode, MATRIX).await;

        let sources = body["sources"].as_array().unwrap();
        assert_eq!(sources.len(), 2, "{mode:?}: the same sources: {body}");
        assert!(
            sources.iter().all(|s| s.get("markers").is_none()) && body.get("markers").is_none(),
            "{mode:?}: {body}"
        );
        assert_eq!(
            segment_requests(&jellyfin).await.len(),
            1,
            "{mode:?}: asked once"
        );
    }
}

/// The Matrix resolved against a fake whose items say `trickplay` of it.
async fn matrix_with(trickplay: Trickplay) -> (MockServer, TestApp, Value) {
    let setup = |fake: &FakeJellyfin| fake.set_trickplay(trickplay);
    resolved_against(setup, format!("{trickplay:?}"), MATRIX).await
}

#[tokio::test]
async fn jellyfin_trickplay_gives_each_source_seek_thumbnails_fetched_through_the_proxy() {
    let (jellyfin, app, body) = matrix_with(Trickplay::Served).await;

    let sources = body["sources"].as_array().unwrap();
    assert_eq!(sources.len(), 2, "direct play and HLS: {body}");
    for source in sources {
        let thumbnails = &source["thumbnails"];
        assert_eq!(
            thumbnails["grid"],
            json!({"interval": 10.0, "width": 320, "height": 134, "columns": 10, "rows": 10,
                   "count": fake::TRICKPLAY_COUNT}),
            "the 320 px width, Interval in seconds: {body}"
        );
        let sheets = thumbnails["sheets"].as_array().unwrap();
        assert_eq!(
            sheets.len(),
            fake::TRICKPLAY_SHEETS,
            "816 thumbnails, 100 a sheet"
        );
        for sheet in sheets {
            let sheet = sheet.as_str().unwrap();
            assert!(sheet.starts_with("/api/streaming/proxy"), "{sheet}");
            assert!(
                !sheet.contains(API_KEY),
                "the API key stays sealed: {sheet}"
            );
        }
    }
    assert!(!body.to_string().contains(API_KEY));

    // The last sheet, as the seek bar loads it: through the proxy, to Jellyfin's tile route
    // with the key, back as the JPEG.
    let last = sources[1]["thumbnails"]["sheets"][fake::TRICKPLAY_SHEETS - 1]
        .as_str()
        .unwrap();
    let response = app.get(last).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/jpeg");
    assert_eq!(
        response.bytes().await.unwrap().as_ref(),
        fake::tile_sheet(),
        "the tile sheet, byte for byte"
    );
    let asked: Vec<wiremock::Request> = jellyfin
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path().contains("/Trickplay/"))
        .collect();
    assert_eq!(asked.len(), 1, "only the sheet fetched");
    assert_eq!(
        asked[0].url.path(),
        format!("/Videos/{}/Trickplay/320/8.jpg", fake::MATRIX_ID)
    );
    let query: Vec<(String, String)> = asked[0].url.query_pairs().into_owned().collect();
    assert!(
        query.contains(&("MediaSourceId".into(), fake::MATRIX_ID.into())),
        "{query:?}"
    );
    assert!(
        query.contains(&("ApiKey".into(), API_KEY.into())),
        "{query:?}"
    );
    assert_eq!(
        asked[0].headers["authorization"],
        format!("MediaBrowser Token=\"{API_KEY}\"").as_str()
    );
}

#[tokio::test]
async fn a_server_without_trickplay_or_with_a_malformed_field_gives_no_thumbnails_and_the_same_sources()
 {
    for mode in [Trickplay::OldServer, Trickplay::Malformed] {
        let (_jellyfin, _app, body) = matrix_with(mode).await;

        let sources = body["sources"].as_array().unwrap();
        assert_eq!(sources.len(), 2, "{mode:?}: {body}");
        assert!(
            sources.iter().all(|s| s.get("thumbnails").is_none()),
            "{mode:?}: {body}"
        );
    }
}
