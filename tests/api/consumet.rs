//! The Consumet provider against a fake instance: every documented answer and failure shape.

use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::fake_consumet::{self as fake, MOVIE_ID, REFERER, TV_ID};
use crate::helpers::{TestApp, spawn_app};

async fn app_with(consumet: &MockServer) -> TestApp {
    let uri = consumet.uri();
    spawn_app(move |s| s.consumet.url = Some(uri)).await
}

fn outcome(body: &Value) -> &Value {
    let outcomes = body["outcomes"].as_array().expect("outcomes");
    assert_eq!(outcomes.len(), 1, "{body}");
    &outcomes[0]
}

#[tokio::test]
async fn a_movie_resolves_to_ranked_hls_sources_with_their_referer() {
    let consumet = fake::start().await;
    fake::mount_info(
        &consumet,
        MOVIE_ID,
        "movie",
        ResponseTemplate::new(200).set_body_json(fake::movie_info()),
    )
    .await;
    Mock::given(method("GET"))
        .and(path("/meta/tmdb/watch/98446"))
        .and(query_param("id", "movie/watch-oppenheimer-98446"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fake::watch("m", None)))
        .expect(1)
        .mount(&consumet)
        .await;
    let app = app_with(&consumet).await;

    let body = app
        .get_json(&format!("/api/streaming/consumet/movie/{MOVIE_ID}"), 200)
        .await;

    assert_eq!(
        body["media"],
        json!({"media_type": "movie", "tmdb_id": MOVIE_ID, "title": "Oppenheimer"})
    );
    let qualities: Vec<&str> = body["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["quality"].as_str().unwrap())
        .collect();
    assert_eq!(
        qualities,
        ["auto", "1080p", "720p"],
        "master first, then by resolution"
    );
    let first = &body["sources"][0];
    assert_eq!(first["url"], "https://cdn.example/m/master.m3u8");
    assert_eq!(first["type"], "hls");
    assert_eq!(first["provider"], "consumet");
    assert_eq!(
        first["headers"]["Referer"], REFERER,
        "the Referer arrives unchanged"
    );
    assert!(
        first["proxy_url"]
            .as_str()
            .unwrap()
            .starts_with("/api/streaming/proxy?")
    );
    assert_eq!(
        body["subtitles"].as_array().unwrap().len(),
        1,
        "the thumbnails track is not a subtitle"
    );
    assert_eq!(body["subtitles"][0]["lang"], "English");
    assert_eq!(
        body["markers"]["intro"],
        json!({"start": 30.0, "end": 95.5})
    );
    assert_eq!(
        body["markers"]["outro"],
        json!({"start": 1302.0, "end": 1380.0})
    );
    let o = outcome(&body);
    assert_eq!(o["status"], "ok");
    assert_eq!(o["sources"], 3);
}

#[tokio::test]
async fn a_tv_episode_is_found_by_its_season_and_episode_fields() {
    let consumet = fake::start().await;
    fake::mount_info(
        &consumet,
        TV_ID,
        "tv",
        ResponseTemplate::new(200).set_body_json(fake::tv_info()),
    )
    .await;
    Mock::given(method("GET"))
        .and(path("/meta/tmdb/watch/1002"))
        .and(query_param("id", "tv/watch-breaking-bad-39506"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fake::watch("s1e2", None)))
        .expect(1)
        .mount(&consumet)
        .await;
    let app = app_with(&consumet).await;

    let body = app
        .get_json(
            &format!("/api/streaming/consumet/tv/{TV_ID}?season=1&episode=2"),
            200,
        )
        .await;

    assert_eq!(body["media"]["season"], 1);
    assert_eq!(body["media"]["episode"], 2);
    assert_eq!(
        body["sources"][0]["url"],
        "https://cdn.example/s1e2/master.m3u8"
    );
    assert_eq!(outcome(&body)["status"], "ok");
}

#[tokio::test]
async fn an_episode_without_a_provider_id_is_an_empty_outcome() {
    let consumet = fake::start().await;
    fake::mount_info(
        &consumet,
        TV_ID,
        "tv",
        ResponseTemplate::new(200).set_body_json(fake::tv_info()),
    )
    .await;
    let app = app_with(&consumet).await;

    let body = app
        .get_json(
            &format!("/api/streaming/resolve/tv/{TV_ID}?season=1&episode=3"),
            200,
        )
        .await;
    assert_eq!(body["sources"], json!([]));
    let o = outcome(&body);
    assert_eq!(o["status"], "empty");
    assert_eq!(o["code"], "consumet_episode_unmatched");

    let body = app
        .get_json(
            &format!("/api/streaming/resolve/tv/{TV_ID}?season=5&episode=1"),
            200,
        )
        .await;
    assert_eq!(outcome(&body)["code"], "consumet_episode_not_found");
}

#[tokio::test]
async fn empty_sources_on_every_server_is_an_empty_outcome() {
    let consumet = fake::start().await;
    fake::mount_info(
        &consumet,
        MOVIE_ID,
        "movie",
        ResponseTemplate::new(200).set_body_json(fake::movie_info()),
    )
    .await;
    fake::mount_watch(
        &consumet,
        "98446",
        ResponseTemplate::new(200).set_body_json(json!({"sources": [], "subtitles": []})),
    )
    .await;
    Mock::given(method("GET"))
        .and(path("/movies/himovies/servers"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!([{"name": "megacloud", "url": "x"}, {"name": "upcloud", "url": "y"}]),
        ))
        .mount(&consumet)
        .await;
    let app = app_with(&consumet).await;

    let body = app
        .get_json(&format!("/api/streaming/consumet/movie/{MOVIE_ID}"), 200)
        .await;
    let o = outcome(&body);
    assert_eq!(o["status"], "empty");
    assert_eq!(o["code"], "consumet_no_sources");
    assert!(o["message"].as_str().unwrap().contains("upcloud"), "{o}");
}

#[tokio::test]
async fn a_failing_default_server_falls_back_to_the_next_listed_server() {
    let consumet = fake::start().await;
    fake::mount_info(
        &consumet,
        MOVIE_ID,
        "movie",
        ResponseTemplate::new(200).set_body_json(fake::movie_info()),
    )
    .await;
    Mock::given(method("GET"))
        .and(path("/meta/tmdb/watch/98446"))
        .and(query_param_is_missing("server"))
        .respond_with(fake::watch_failed())
        .expect(1)
        .mount(&consumet)
        .await;
    Mock::given(method("GET"))
        .and(path("/meta/tmdb/watch/98446"))
        .and(query_param("server", "megacloud"))
        .respond_with(fake::watch_failed())
        .expect(1)
        .mount(&consumet)
        .await;
    Mock::given(method("GET"))
        .and(path("/meta/tmdb/watch/98446"))
        .and(query_param("server", "upcloud"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fake::watch("up", None)))
        .expect(1)
        .mount(&consumet)
        .await;
    Mock::given(method("GET"))
        .and(path("/movies/himovies/servers"))
        .and(query_param("episodeId", "98446"))
        .and(query_param("mediaId", "movie/watch-oppenheimer-98446"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!([{"name": "MegaCloud", "url": "a"}, {"name": "upcloud", "url": "b"}]),
        ))
        .mount(&consumet)
        .await;
    let app = app_with(&consumet).await;

    let body = app
        .get_json(&format!("/api/streaming/consumet/movie/{MOVIE_ID}"), 200)
        .await;
    assert_eq!(outcome(&body)["status"], "ok");
    assert_eq!(
        body["sources"][0]["url"],
        "https://cdn.example/up/master.m3u8"
    );
}

#[tokio::test]
async fn a_watch_failure_on_every_server_is_an_error_outcome() {
    let consumet = fake::start().await;
    fake::mount_info(
        &consumet,
        MOVIE_ID,
        "movie",
        ResponseTemplate::new(200).set_body_json(fake::movie_info()),
    )
    .await;
    fake::mount_watch(&consumet, "98446", fake::watch_failed()).await;
    // No servers route on this instance: the catch-all 404.
    let app = app_with(&consumet).await;

    let body = app
        .get_json(&format!("/api/streaming/consumet/movie/{MOVIE_ID}"), 200)
        .await;
    let o = outcome(&body);
    assert_eq!(o["status"], "error");
    assert_eq!(o["code"], "consumet_watch_failed");
}

#[tokio::test]
async fn fastify_500_answers_are_error_outcomes_with_their_cause() {
    let consumet = fake::start().await;
    fake::mount_info(
        &consumet,
        MOVIE_ID,
        "movie",
        fake::fastify_500("Request failed with status code 401"),
    )
    .await;
    fake::mount_info(
        &consumet,
        2,
        "movie",
        fake::fastify_500("Request failed with status code 404"),
    )
    .await;
    fake::mount_info(
        &consumet,
        3,
        "movie",
        fake::fastify_500("getaddrinfo ENOTFOUND himovies.sx"),
    )
    .await;
    let app = app_with(&consumet).await;

    let body = app
        .get_json(&format!("/api/streaming/consumet/movie/{MOVIE_ID}"), 200)
        .await;
    assert_eq!(outcome(&body)["status"], "error");
    assert_eq!(outcome(&body)["code"], "consumet_tmdb_key_rejected");
    let body = app.get_json("/api/streaming/consumet/movie/2", 200).await;
    assert_eq!(outcome(&body)["status"], "empty");
    assert_eq!(outcome(&body)["code"], "consumet_title_not_found");
    let body = app.get_json("/api/streaming/consumet/movie/3", 200).await;
    assert_eq!(outcome(&body)["code"], "consumet_upstream_unreachable");
}

#[tokio::test]
async fn a_consumet_that_never_answers_is_a_timeout_outcome_within_the_budget() {
    let consumet = fake::start().await;
    fake::mount_info(
        &consumet,
        MOVIE_ID,
        "movie",
        ResponseTemplate::new(200)
            .set_body_json(fake::movie_info())
            .set_delay(std::time::Duration::from_secs(30)),
    )
    .await;
    let uri = consumet.uri();
    let app = spawn_app(move |s| {
        s.consumet.url = Some(uri);
        s.resolve.provider_timeout = 0.5;
    })
    .await;

    let started = std::time::Instant::now();
    let body = app
        .get_json(&format!("/api/streaming/resolve/movie/{MOVIE_ID}"), 200)
        .await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    let o = outcome(&body);
    assert_eq!(o["status"], "timeout");
    assert_eq!(o["code"], "timeout");
}

#[tokio::test]
async fn a_body_that_is_not_json_is_an_error_outcome() {
    let consumet = fake::start().await;
    fake::mount_info(
        &consumet,
        MOVIE_ID,
        "movie",
        ResponseTemplate::new(200).set_body_raw("Welcome to consumet api!", "text/plain"),
    )
    .await;
    let app = app_with(&consumet).await;

    let body = app
        .get_json(&format!("/api/streaming/consumet/movie/{MOVIE_ID}"), 200)
        .await;
    assert_eq!(outcome(&body)["status"], "error");
    assert_eq!(outcome(&body)["code"], "consumet_invalid_response");
}

#[tokio::test]
async fn an_instance_in_demo_mode_is_named_as_such() {
    let consumet = fake::start().await;
    fake::mount_info(
        &consumet,
        MOVIE_ID,
        "movie",
        ResponseTemplate::new(302).insert_header("location", "/apidemo"),
    )
    .await;
    fake::mount_info(
        &consumet,
        2,
        "movie",
        ResponseTemplate::new(200).set_body_raw("<!DOCTYPE html><html>demo</html>", "text/html"),
    )
    .await;
    let app = app_with(&consumet).await;

    for id in [MOVIE_ID, 2] {
        let body = app
            .get_json(&format!("/api/streaming/consumet/movie/{id}"), 200)
            .await;
        assert_eq!(outcome(&body)["code"], "consumet_demo_mode", "{body}");
        assert!(
            outcome(&body)["message"]
                .as_str()
                .unwrap()
                .contains("NODE_ENV")
        );
    }
}

#[tokio::test]
async fn an_unreachable_instance_is_an_error_outcome_not_a_failed_request() {
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = spawn_app(move |s| s.consumet.url = Some(format!("http://127.0.0.1:{port}"))).await;

    let body = app
        .get_json(&format!("/api/streaming/resolve/movie/{MOVIE_ID}"), 200)
        .await;
    assert_eq!(outcome(&body)["status"], "error");
    assert_eq!(outcome(&body)["code"], "upstream_unreachable");
}

#[tokio::test]
async fn the_configured_provider_and_server_are_passed_to_consumet() {
    let consumet = fake::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/meta/tmdb/info/{MOVIE_ID}")))
        .and(query_param("provider", "FlixHQ"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fake::movie_info()))
        .expect(1)
        .mount(&consumet)
        .await;
    Mock::given(method("GET"))
        .and(path("/meta/tmdb/watch/98446"))
        .and(query_param("provider", "FlixHQ"))
        .and(query_param("server", "vidcloud"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fake::watch("f", None)))
        .expect(1)
        .mount(&consumet)
        .await;
    let uri = consumet.uri();
    let app = spawn_app(move |s| {
        s.consumet.url = Some(uri);
        s.consumet.provider = Some("FlixHQ".into());
        s.consumet.server = Some("vidcloud".into());
    })
    .await;

    let body = app
        .get_json(&format!("/api/streaming/consumet/movie/{MOVIE_ID}"), 200)
        .await;
    assert_eq!(outcome(&body)["status"], "ok");
}

#[tokio::test]
async fn a_url_quoted_by_consumet_reaches_the_answer_without_its_query() {
    // Consumet quotes its own upstream's failures, URL and key included (axios' messages),
    // and a redirect's Location may carry a token.
    const KEY: &str = "tmdbkey5a0e7c41";
    let consumet = fake::start().await;
    fake::mount_info(
        &consumet,
        MOVIE_ID,
        "movie",
        fake::fastify_500(&format!(
            "getaddrinfo ENOTFOUND https://api.themoviedb.org/3/movie/{MOVIE_ID}?api_key={KEY}"
        )),
    )
    .await;
    fake::mount_info(
        &consumet,
        2,
        "movie",
        fake::fastify_500(&format!("boom at http://internal.example/x?token={KEY}")),
    )
    .await;
    fake::mount_info(
        &consumet,
        3,
        "movie",
        ResponseTemplate::new(302).insert_header("location", format!("/apidemo?token={KEY}")),
    )
    .await;
    let app = app_with(&consumet).await;

    for (id, code) in [
        (MOVIE_ID, "consumet_upstream_unreachable"),
        (2, "consumet_internal_error"),
        (3, "consumet_demo_mode"),
    ] {
        let body = app
            .get_json(&format!("/api/streaming/consumet/movie/{id}"), 200)
            .await;
        let o = outcome(&body);
        assert_eq!(o["code"], code, "{body}");
        let message = o["message"].as_str().unwrap();
        assert!(!body.to_string().contains(KEY), "{body}");
        assert!(
            message.contains("?…") || message.contains("/apidemo"),
            "the message still says where: {message}"
        );
    }
}
