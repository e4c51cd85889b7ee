//! Provider health end to end: retries of a provider's GETs and the circuit breaker, against a
//! fake Consumet (docs/resilience.md).

use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::fake_consumet::{self as fake, MOVIE_ID};
use crate::helpers::{TestApp, spawn_app};

fn outcome(body: &Value) -> &Value {
    let outcomes = body["outcomes"].as_array().expect("outcomes");
    assert_eq!(outcomes.len(), 1, "{body}");
    &outcomes[0]
}

async fn info_requests(consumet: &MockServer) -> usize {
    consumet
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path().starts_with("/meta/tmdb/info/"))
        .count()
}

async fn mount_working_movie(consumet: &MockServer) {
    fake::mount_info(
        consumet,
        MOVIE_ID,
        "movie",
        ResponseTemplate::new(200).set_body_json(fake::movie_info()),
    )
    .await;
    fake::mount_watch(
        consumet,
        "98446",
        ResponseTemplate::new(200).set_body_json(fake::watch("m", None)),
    )
    .await;
}

async fn consumet_app(
    consumet: &MockServer,
    configure: impl FnOnce(&mut sokoul::config::Settings),
) -> TestApp {
    let uri = consumet.uri();
    spawn_app(move |s| {
        s.consumet.url = Some(uri);
        s.resilience.retry_initial_backoff = 0.05;
        s.resilience.retry_max_backoff = 0.2;
        configure(s);
    })
    .await
}

#[tokio::test]
async fn a_503_then_a_200_from_consumet_is_a_success_after_two_requests() {
    let consumet = fake::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/meta/tmdb/info/{MOVIE_ID}")))
        .respond_with(ResponseTemplate::new(503).set_body_string("Service Unavailable"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&consumet)
        .await;
    mount_working_movie(&consumet).await;
    let app = consumet_app(&consumet, |_| {}).await;

    let body = app
        .get_json(&format!("/api/streaming/consumet/movie/{MOVIE_ID}"), 200)
        .await;

    assert_eq!(outcome(&body)["status"], "ok", "{body}");
    assert_eq!(info_requests(&consumet).await, 2);
}

#[tokio::test]
async fn a_404_from_consumet_is_not_retried() {
    let consumet = fake::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_json(serde_json::json!({"message": "", "error": "page not found"})),
        )
        .mount(&consumet)
        .await;
    let app = consumet_app(&consumet, |_| {}).await;

    let body = app
        .get_json(&format!("/api/streaming/consumet/movie/{MOVIE_ID}"), 200)
        .await;

    assert_eq!(outcome(&body)["code"], "consumet_route_not_found");
    assert_eq!(info_requests(&consumet).await, 1);
}

#[tokio::test]
async fn a_consumet_that_always_answers_503_is_given_up_before_the_provider_deadline() {
    let consumet = fake::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503).set_body_string("Service Unavailable"))
        .mount(&consumet)
        .await;
    let app = consumet_app(&consumet, |s| {
        s.resolve.provider_timeout = 2.0;
        s.resilience.retry_attempts = 10;
        s.resilience.retry_initial_backoff = 0.4;
        s.resilience.retry_max_backoff = 5.0;
    })
    .await;

    let body = app
        .get_json(&format!("/api/streaming/consumet/movie/{MOVIE_ID}"), 200)
        .await;

    // Given up with the upstream's own answer, not cut off by the resolver's timeout.
    let o = outcome(&body);
    assert_eq!(o["status"], "error", "{body}");
    assert_eq!(o["code"], "consumet_unavailable");
    let n = info_requests(&consumet).await;
    assert!((2..10).contains(&n), "{n} attempts");
}

async fn resolve_consumet(app: &TestApp) -> Value {
    let body = app
        .get_json(&format!("/api/streaming/consumet/movie/{MOVIE_ID}"), 200)
        .await;
    outcome(&body).clone()
}

fn circuit_gauge(metrics: &str, state: &str) -> Option<i64> {
    let prefix =
        format!("sokoul_provider_circuit_state{{provider=\"consumet\",state=\"{state}\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map(|v| v.trim().parse().unwrap())
}

#[tokio::test]
async fn a_failing_provider_is_skipped_after_the_threshold_then_probed_and_closed() {
    let consumet = fake::start().await;
    // An instance in DEMO mode answers HTML: a failure every time.
    Mock::given(method("GET"))
        .and(path(format!("/meta/tmdb/info/{MOVIE_ID}")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw("<!DOCTYPE html><html>demo</html>", "text/html"),
        )
        .mount(&consumet)
        .await;
    let app = consumet_app(&consumet, |s| {
        s.resilience.breaker_threshold = 2;
        s.resilience.breaker_cooldown_min = 30.0;
        s.resilience.breaker_cooldown_max = 120.0;
    })
    .await;

    for _ in 0..2 {
        assert_eq!(resolve_consumet(&app).await["code"], "consumet_demo_mode");
    }
    assert_eq!(info_requests(&consumet).await, 2);

    // Open: skipped without a request, with a message that says until when and why.
    let skipped = resolve_consumet(&app).await;
    assert_eq!(skipped["status"], "error");
    assert_eq!(skipped["code"], "provider_circuit_open");
    let message = skipped["message"].as_str().unwrap();
    assert!(
        message.contains("failed 2 times in a row") && message.contains("skipped until "),
        "{message}"
    );
    assert!(
        message.contains("NODE_ENV"),
        "names the last failure: {message}"
    );
    assert_eq!(info_requests(&consumet).await, 2, "no request while open");

    let ready = app.get_json("/readyz", 200).await;
    assert_eq!(ready["status"], "degraded");
    assert_eq!(ready["providers"]["consumet"]["circuit"]["state"], "open");
    assert_eq!(
        ready["providers"]["consumet"]["circuit"]["consecutive_failures"],
        2
    );
    assert!(ready["providers"]["consumet"]["circuit"]["until"].is_string());
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert_eq!(circuit_gauge(&metrics, "open"), Some(1), "{metrics}");
    assert_eq!(circuit_gauge(&metrics, "closed"), Some(0));

    // The cool-down ends; the instance was fixed meanwhile: the probe succeeds and closes.
    consumet.reset().await;
    mount_working_movie(&consumet).await;
    app.clock.advance(31);
    let probed = resolve_consumet(&app).await;
    assert_eq!(probed["status"], "ok", "{probed}");
    let ready = app.get_json("/readyz", 200).await;
    assert_eq!(ready["providers"]["consumet"]["circuit"]["state"], "closed");
    assert_eq!(ready["status"], "ok", "{ready}");
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert_eq!(circuit_gauge(&metrics, "closed"), Some(1));
}

#[tokio::test]
async fn a_failed_probe_reopens_for_a_longer_cool_down() {
    let consumet = fake::start().await;
    Mock::given(method("GET"))
        .respond_with(fake::fastify_500("boom"))
        .mount(&consumet)
        .await;
    let app = consumet_app(&consumet, |s| {
        s.resilience.breaker_threshold = 1;
        s.resilience.breaker_cooldown_min = 30.0;
        s.resilience.breaker_cooldown_max = 600.0;
    })
    .await;

    assert_eq!(
        resolve_consumet(&app).await["code"],
        "consumet_internal_error"
    );
    assert_eq!(
        resolve_consumet(&app).await["code"],
        "provider_circuit_open"
    );
    app.clock.advance(31);
    // The probe goes through and fails: open again, now for 60 s.
    assert_eq!(
        resolve_consumet(&app).await["code"],
        "consumet_internal_error"
    );
    app.clock.advance(45);
    assert_eq!(
        resolve_consumet(&app).await["code"],
        "provider_circuit_open"
    );
    app.clock.advance(16);
    assert_eq!(
        resolve_consumet(&app).await["code"],
        "consumet_internal_error"
    );
    assert_eq!(info_requests(&consumet).await, 3);
}

#[tokio::test]
async fn nothing_found_is_not_a_failure() {
    let consumet = fake::start().await;
    // Consumet's provider site has no match: `empty`, however often.
    fake::mount_info(
        &consumet,
        MOVIE_ID,
        "movie",
        ResponseTemplate::new(200).set_body_json(serde_json::json!({"id": "", "title": "X"})),
    )
    .await;
    let app = consumet_app(&consumet, |s| {
        s.resilience.breaker_threshold = 1;
        s.cache.negative_ttl = 1;
    })
    .await;

    for _ in 0..3 {
        let o = resolve_consumet(&app).await;
        assert_eq!(o["status"], "empty", "{o}");
        app.clock.advance(2);
    }
    let ready = app.get_json("/readyz", 200).await;
    assert_eq!(ready["providers"]["consumet"]["circuit"]["state"], "closed");
}

/// A Stremio addon taking `tmdb:` ids that always has one source.
async fn working_addon() -> MockServer {
    let addon = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/manifest.json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "id": "org.example.ok", "version": "0.1.0", "name": "Ok", "resources": ["stream"],
            "types": ["movie"], "idPrefixes": ["tmdb:"], "catalogs": []
        })))
        .mount(&addon)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/stream/movie/tmdb%3A{MOVIE_ID}.json")))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "streams": [{"url": "https://cdn.example/ok/master.m3u8", "name": "Ok"}]
        })))
        .mount(&addon)
        .await;
    addon
}

#[tokio::test]
async fn a_resolution_with_a_skipped_provider_is_cached_only_until_its_probe() {
    let consumet = fake::start().await;
    Mock::given(method("GET"))
        .respond_with(fake::fastify_500("boom"))
        .mount(&consumet)
        .await;
    let addon = working_addon().await;
    let manifest = format!("{}/manifest.json", addon.uri());
    let app = consumet_app(&consumet, move |s| {
        s.stremio.addons = vec![manifest];
        s.resilience.breaker_threshold = 1;
        s.resilience.breaker_cooldown_min = 10.0;
        // A failed provider shortens the TTL to this; the probe must come sooner.
        s.cache.negative_ttl = 45;
    })
    .await;
    let url = format!("/api/streaming/resolve/movie/{MOVIE_ID}");
    let code = |body: &Value| {
        body["outcomes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["provider"] == "consumet")
            .map(|o| o["code"].as_str().unwrap().to_string())
            .unwrap()
    };

    // Consumet alone fails and opens its breaker; then the full resolve skips it: a
    // resolution with a source, cached.
    assert_eq!(
        resolve_consumet(&app).await["code"],
        "consumet_internal_error"
    );
    let skipped = app.get_json(&url, 200).await;
    assert_eq!(skipped["cached"], false);
    assert_eq!(code(&skipped), "provider_circuit_open");
    assert_eq!(skipped["sources"].as_array().unwrap().len(), 1);
    assert_eq!(app.get_json(&url, 200).await["cached"], true);
    // Once the cool-down is over the provider is probed, not hidden behind the cache.
    app.clock.advance(11);
    let probed = app.get_json(&url, 200).await;
    assert_eq!(probed["cached"], false);
    assert_eq!(code(&probed), "consumet_internal_error");
    assert_eq!(info_requests(&consumet).await, 2);
}
