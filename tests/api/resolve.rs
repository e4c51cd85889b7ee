//! The resolve route: input validation, caching on both backends, single flight, metrics,
//! health and graceful shutdown.

use std::time::Duration;

use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::fake_consumet::{self as fake, MOVIE_ID};
use crate::helpers::{TestApp, spawn_app};
use crate::redis_server::RedisServer;
use sokoul::clock::Clock;

fn assert_error(body: &Value, code: &str) {
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        !body["error"]["message"].as_str().unwrap_or("").is_empty(),
        "{body}"
    );
}

#[tokio::test]
async fn bad_input_gets_a_400_with_a_clear_code() {
    let consumet = fake::start().await;
    let uri = consumet.uri();
    let app = spawn_app(move |s| s.consumet.url = Some(uri)).await;
    let cases = [
        ("/api/streaming/resolve/anime/603", "unknown_media_type"),
        ("/api/streaming/resolve/movie/abc", "invalid_tmdb_id"),
        ("/api/streaming/resolve/movie/0", "invalid_tmdb_id"),
        ("/api/streaming/resolve/movie/-4", "invalid_tmdb_id"),
        (
            "/api/streaming/resolve/movie/99999999999",
            "invalid_tmdb_id",
        ),
        ("/api/streaming/resolve/tv/1396", "missing_episode"),
        ("/api/streaming/resolve/tv/1396?season=1", "missing_episode"),
        (
            "/api/streaming/resolve/tv/1396?season=1&episode=0",
            "invalid_episode",
        ),
        (
            "/api/streaming/resolve/tv/1396?season=x&episode=1",
            "invalid_episode",
        ),
        (
            "/api/streaming/resolve/movie/603?season=1&episode=1",
            "unexpected_episode",
        ),
        (
            "/api/streaming/nosuchprovider/movie/603",
            "unknown_provider",
        ),
    ];
    for (path, code) in cases {
        let body = app.get_json(path, 400).await;
        assert_error(&body, code);
    }
    // Nothing reached the upstream.
    assert!(consumet.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_provider_that_is_not_enabled_is_a_404_and_unknown_routes_are_json_404s() {
    let app = spawn_app(|_| {}).await;
    assert_error(
        &app.get_json("/api/streaming/jellyfin/movie/603", 404).await,
        "provider_disabled",
    );
    assert_error(&app.get_json("/api/nothing/here", 404).await, "not_found");
}

#[tokio::test]
async fn with_no_provider_the_answer_is_an_empty_200() {
    let app = spawn_app(|_| {}).await;
    let body = app.get_json("/api/streaming/resolve/movie/603", 200).await;
    assert_eq!(body["sources"], serde_json::json!([]));
    assert_eq!(body["outcomes"], serde_json::json!([]));
}

/// Mounts a Consumet that answers the movie with URLs expiring in `expires_in` seconds,
/// each route answering after `delay`.
async fn consumet_for_movie(expires_in: Option<i64>, delay: Duration) -> MockServer {
    let consumet = fake::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/meta/tmdb/info/{MOVIE_ID}")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(fake::movie_info())
                .set_delay(delay),
        )
        .mount(&consumet)
        .await;
    Mock::given(method("GET"))
        .and(path("/meta/tmdb/watch/98446"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(fake::watch("m", expires_in))
                .set_delay(delay),
        )
        .mount(&consumet)
        .await;
    consumet
}

async fn upstream_calls(server: &MockServer) -> usize {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path().starts_with("/meta/tmdb/info"))
        .count()
}

async fn app_on(consumet: &MockServer, redis: Option<&RedisServer>) -> TestApp {
    let uri = consumet.uri();
    let redis_url = redis.map(|r| r.url());
    spawn_app(move |s| {
        s.consumet.url = Some(uri);
        s.cache.redis_url = redis_url.map(sokoul::config::Secret::new);
    })
    .await
}

async fn a_repeated_request_is_served_from_the_cache(redis: Option<&RedisServer>) {
    let consumet = consumet_for_movie(Some(3600), Duration::ZERO).await;
    let app = app_on(&consumet, redis).await;
    let url = format!("/api/streaming/resolve/movie/{MOVIE_ID}");

    let first = app.get_json(&url, 200).await;
    let second = app.get_json(&url, 200).await;

    assert_eq!(first["cached"], false);
    assert_eq!(second["cached"], true);
    let urls = |b: &Value| -> Vec<String> {
        b["sources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["url"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(urls(&first), urls(&second));
    assert_eq!(
        first["sources"][0]["headers"],
        second["sources"][0]["headers"]
    );
    assert!(second["sources"][0]["proxy_url"].is_string());
    assert_eq!(upstream_calls(&consumet).await, 1);
    // The tv title with the same number is another cache entry.
    let _ = app
        .get_json(
            &format!("/api/streaming/resolve/tv/{MOVIE_ID}?season=1&episode=1"),
            200,
        )
        .await;
    assert_eq!(upstream_calls(&consumet).await, 2);
}

async fn an_entry_never_outlives_its_stream_urls(redis: Option<&RedisServer>) {
    let consumet = consumet_for_movie(Some(120), Duration::ZERO).await;
    let app = app_on(&consumet, redis).await;
    let url = format!("/api/streaming/resolve/movie/{MOVIE_ID}");

    let first = app.get_json(&url, 200).await;
    assert!(first["sources"][0]["expires_at"].is_string(), "{first}");
    app.clock.advance(60);
    assert_eq!(
        app.get_json(&url, 200).await["cached"],
        true,
        "still valid a minute later"
    );
    app.clock.advance(61);
    let after = app.get_json(&url, 200).await;
    assert_eq!(
        after["cached"], false,
        "the URLs have expired: resolve again"
    );
    assert_eq!(upstream_calls(&consumet).await, 2);
}

async fn fifty_concurrent_cold_requests_make_one_upstream_call(redis: Option<&RedisServer>) {
    let consumet = consumet_for_movie(Some(3600), Duration::from_millis(300)).await;
    let app = app_on(&consumet, redis).await;
    let url = format!("{}/api/streaming/resolve/movie/{MOVIE_ID}", app.address);

    let requests = (0..50).map(|_| {
        let client = app.client.clone();
        let url = url.clone();
        async move {
            client
                .get(url)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    });
    let bodies = futures::future::join_all(requests).await;

    assert!(
        bodies
            .iter()
            .all(|b| b["sources"].as_array().unwrap().len() == 3)
    );
    assert_eq!(upstream_calls(&consumet).await, 1);
}

#[tokio::test]
async fn memory_cache_serves_a_repeated_request() {
    a_repeated_request_is_served_from_the_cache(None).await;
}

#[tokio::test]
async fn redis_cache_serves_a_repeated_request() {
    let redis = RedisServer::start();
    a_repeated_request_is_served_from_the_cache(Some(&redis)).await;
}

#[tokio::test]
async fn memory_cache_entry_expires_with_its_urls() {
    an_entry_never_outlives_its_stream_urls(None).await;
}

#[tokio::test]
async fn redis_cache_entry_expires_with_its_urls() {
    let redis = RedisServer::start();
    an_entry_never_outlives_its_stream_urls(Some(&redis)).await;
}

#[tokio::test]
async fn memory_cache_single_flight() {
    fifty_concurrent_cold_requests_make_one_upstream_call(None).await;
}

#[tokio::test]
async fn redis_cache_single_flight() {
    let redis = RedisServer::start();
    fifty_concurrent_cold_requests_make_one_upstream_call(Some(&redis)).await;
}

#[tokio::test]
async fn nothing_found_is_cached_briefly_and_errors_are_not_cached() {
    let consumet = fake::start().await;
    fake::mount_info(
        &consumet,
        1,
        "movie",
        ResponseTemplate::new(200).set_body_json(serde_json::json!({"id": "", "title": "x"})),
    )
    .await;
    fake::mount_info(&consumet, 2, "movie", fake::fastify_500("boom")).await;
    let app = app_on(&consumet, None).await;

    for _ in 0..2 {
        app.get_json("/api/streaming/resolve/movie/1", 200).await;
        app.get_json("/api/streaming/resolve/movie/2", 200).await;
    }
    let calls = |id: u32| {
        let consumet = &consumet;
        async move {
            consumet
                .received_requests()
                .await
                .unwrap()
                .iter()
                .filter(|r| r.url.path() == format!("/meta/tmdb/info/{id}"))
                .count()
        }
    };
    assert_eq!(calls(1).await, 1, "'nothing found' is cached");
    assert_eq!(calls(2).await, 2, "an error is not cached");
    app.clock.advance(60);
    app.get_json("/api/streaming/resolve/movie/1", 200).await;
    assert_eq!(calls(1).await, 2, "…but only briefly");
}

#[tokio::test]
async fn metrics_count_requests_outcomes_and_cache_hits() {
    let consumet = consumet_for_movie(Some(3600), Duration::ZERO).await;
    let app = app_on(&consumet, None).await;
    let url = format!("/api/streaming/resolve/movie/{MOVIE_ID}");
    app.get_json(&url, 200).await;
    app.get_json(&url, 200).await;

    let text = app.get("/metrics").await.text().await.unwrap();
    assert!(
        text.contains(r#"sokoul_resolve_cache_total{result="hit"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"sokoul_resolve_cache_total{result="miss"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"sokoul_resolve_outcomes_total{provider="consumet",status="ok"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"sokoul_http_requests_total{route="/api/streaming/resolve/{media_type}/{tmdb_id}",method="GET",status="200"} 2"#),
        "{text}"
    );
    assert!(
        text.contains("sokoul_http_request_duration_seconds_bucket"),
        "{text}"
    );
}

#[tokio::test]
async fn health_and_readiness() {
    let redis = RedisServer::start();
    let consumet = consumet_for_movie(None, Duration::ZERO).await;
    Mock::given(method("GET"))
        .and(path("/"))
        .respond_with(ResponseTemplate::new(200).set_body_string("Welcome to consumet api!"))
        .mount(&consumet)
        .await;
    let app = app_on(&consumet, Some(&redis)).await;

    assert_eq!(app.get_json("/healthz", 200).await["status"], "ok");
    let ready = app.get_json("/readyz", 200).await;
    assert_eq!(ready["status"], "ok", "{ready}");
    assert_eq!(ready["cache"]["backend"], "redis");
    assert_eq!(ready["providers"]["consumet"]["ok"], true);
}

#[tokio::test]
async fn shutdown_drains_requests_in_flight() {
    let consumet = consumet_for_movie(None, Duration::from_millis(700)).await;
    let dir = tempfile::tempdir().unwrap();
    let mut settings = crate::helpers::test_settings(dir.path());
    settings.consumet.url = Some(consumet.uri());
    let app = sokoul::startup::Application::build(settings, Default::default())
        .await
        .unwrap();
    let address = format!("http://{}", app.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(
        async move {
            let _ = stopped.await;
        },
        Duration::from_secs(5),
    ));

    let in_flight = tokio::spawn(reqwest::get(format!(
        "{address}/api/streaming/resolve/movie/{MOVIE_ID}"
    )));
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.send(()).unwrap();

    let response = in_flight
        .await
        .unwrap()
        .expect("the request in flight completes");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["sources"].as_array().unwrap().len(), 3);
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("the server stops")
        .unwrap()
        .unwrap();
    assert!(
        reqwest::get(format!("{address}/healthz")).await.is_err(),
        "no longer accepting"
    );
}

#[tokio::test]
async fn proxy_urls_of_a_cached_answer_are_valid_and_carry_the_headers() {
    let consumet = consumet_for_movie(Some(3600), Duration::ZERO).await;
    let app = app_on(&consumet, None).await;
    let url = format!("/api/streaming/resolve/movie/{MOVIE_ID}");
    app.get_json(&url, 200).await;
    let cached = app.get_json(&url, 200).await;
    assert_eq!(cached["cached"], true);

    let proxy_url = cached["sources"][0]["proxy_url"].as_str().unwrap();
    let parsed = url::Url::parse(&format!("http://x{proxy_url}")).unwrap();
    let q: std::collections::HashMap<_, _> = parsed.query_pairs().into_owned().collect();
    let now = app.clock.now().unix_timestamp() as u64;
    let verified = app
        .state
        .signer
        .verify(&q["c"], &q["u"], &q["s"], None, now)
        .unwrap();
    assert_eq!(
        verified.upstream,
        cached["sources"][0]["url"].as_str().unwrap()
    );
    assert_eq!(
        verified.context.headers,
        vec![("Referer".to_string(), fake::REFERER.to_string())]
    );
    let ttl = app.state.settings.proxy.url_ttl;
    assert!(
        verified.context.expires + 60 >= now + ttl,
        "at most a minute shorter than url_ttl"
    );
}

#[tokio::test]
async fn the_dashboard_is_served_with_a_page_fallback_but_api_and_assets_404() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("_app/immutable")).unwrap();
    std::fs::write(
        dir.path().join("index.html"),
        "<!doctype html><title>Sokoul</title>",
    )
    .unwrap();
    std::fs::write(dir.path().join("_app/immutable/app.js"), "console.log(1)").unwrap();
    let dashboard = dir.path().to_path_buf();
    let app = spawn_app(move |s| s.dashboard_dir = dashboard).await;

    for page in ["/", "/watch/movie/603?x=1", "/title/tv/1396"] {
        let r = app.get(page).await;
        assert_eq!(r.status(), 200, "{page}");
        assert_eq!(r.headers()["cache-control"], "no-cache");
        assert!(r.text().await.unwrap().contains("<title>Sokoul"), "{page}");
    }
    let asset = app.get("/_app/immutable/app.js").await;
    assert_eq!(asset.status(), 200);
    assert!(
        asset.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    assert_error(
        &app.get_json("/_app/immutable/missing.js", 404).await,
        "not_found",
    );
    assert_error(&app.get_json("/api/streaming", 404).await, "not_found");
}
