//! Scale-out on Redis (docs/scaling.md): two or three instances of the real application share
//! one real `redis-server`. A resolution cached by one is a hit on the others; concurrent cold
//! resolves across instances make one upstream call; a proxy URL signed by one plays on
//! another; Redis may stop, hang or be missing at start-up without the service failing.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

use sokoul::cache::layered::LayeredCache;
use sokoul::cache::lock::{Claim, SharedFlight};
use sokoul::cache::memory::MemoryCache;
use sokoul::cache::redis::RedisCache;
use sokoul::cache::{Cache, CacheKey, Scope};
use sokoul::clock::SystemClock;
use sokoul::config::{Secret, Settings};
use sokoul::metrics::Metrics;
use sokoul::models::{
    ExtractedStream, MediaInfo, MediaRequest, Resolution, StreamKind, StreamSource,
};

use crate::fake_consumet as fake;
use crate::helpers::{TestApp, spawn_app};
use crate::redis_server::RedisServer;

const SECRET: &str = "the cluster's shared secret";

/// A Consumet answering every movie id after `delay`. Each watch answer carries a new tag
/// (`v1`, `v2`…) in its URLs, so a fresh resolve is told apart from a cached one.
async fn consumet(delay: Duration) -> MockServer {
    let server = fake::start().await;
    Mock::given(method("GET"))
        .and(path_regex(r"^/meta/tmdb/info/\d+$"))
        .respond_with(move |req: &wiremock::Request| {
            let id = req.url.path().rsplit('/').next().unwrap_or("0").to_string();
            ResponseTemplate::new(200)
                .set_body_json(json!({
                    "id": format!("movie/watch-title-{id}"),
                    "title": format!("Title {id}"),
                    "episodeId": id,
                    "type": "Movie",
                }))
                .set_delay(delay)
        })
        .mount(&server)
        .await;
    let answers = AtomicUsize::new(0);
    Mock::given(method("GET"))
        .and(path_regex(r"^/meta/tmdb/watch/\d+$"))
        .respond_with(move |_: &wiremock::Request| {
            let n = answers.fetch_add(1, Ordering::SeqCst) + 1;
            ResponseTemplate::new(200).set_body_json(fake::watch(&format!("v{n}"), Some(3600)))
        })
        .mount(&server)
        .await;
    server
}

/// How many times the providers were asked about `id`.
async fn upstream_calls(consumet: &MockServer, id: u32) -> usize {
    let info = format!("/meta/tmdb/info/{id}");
    consumet
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == info)
        .count()
}

/// One instance of the cluster. A generous budget keeps a busy test machine from taking
/// Redis out of use by accident; a short back-off brings it back quickly after an outage.
async fn instance(
    consumet: &MockServer,
    redis: &RedisServer,
    secret: &str,
    tweak: impl FnOnce(&mut Settings),
) -> TestApp {
    let consumet = consumet.uri();
    let redis = redis.url();
    let secret = secret.to_string();
    spawn_app(move |s| {
        s.consumet.url = Some(consumet);
        s.cache.redis_url = Some(Secret::new(redis));
        s.secret = Some(Secret::new(secret));
        s.cache.redis_budget = 1.0;
        s.cache.redis_backoff_max = 0.3;
        s.proxy.allow = vec!["127.0.0.1".into()];
        tweak(s);
    })
    .await
}

async fn resolve(app: &TestApp, id: u32) -> Value {
    let url = format!("/api/streaming/resolve/movie/{id}");
    // Generous: only here so that a hang fails the test instead of blocking it.
    tokio::time::timeout(Duration::from_secs(30), app.get_json(&url, 200))
        .await
        .unwrap_or_else(|_| panic!("GET {url} did not answer within 30 s"))
}

fn source_urls(body: &Value) -> Vec<String> {
    body["sources"]
        .as_array()
        .unwrap_or_else(|| panic!("no sources: {body}"))
        .iter()
        .map(|s| s["url"].as_str().unwrap().to_string())
        .collect()
}

/// The sum of the samples of `/metrics` whose name and labels start with `prefix` (e.g.
/// `sokoul_resolve_lock_total{result="acquired"`), leaving out those containing `except`.
async fn metric(app: &TestApp, prefix: &str, except: Option<&str>) -> f64 {
    let text = app.get("/metrics").await.text().await.unwrap();
    text.lines()
        .filter(|l| l.starts_with(prefix) && !except.is_some_and(|e| l.contains(e)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Redis operations that requests made and that failed (the background probe left out).
async fn request_errors(app: &TestApp) -> f64 {
    metric(app, "sokoul_redis_errors_total{", Some(r#"op="probe""#)).await
}

async fn wait_until_redis_is_used(app: &TestApp) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = app.get_json("/readyz", 200).await;
        if ready["cache"]["ok"] == true {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "Redis not used again within 30 s: {ready}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn assert_redis_out_of_use(app: &TestApp) {
    let ready = app.get_json("/readyz", 200).await;
    assert_eq!(ready["status"], "degraded", "{ready}");
    assert_eq!(ready["cache"]["backend"], "redis", "{ready}");
    assert_eq!(ready["cache"]["ok"], false, "{ready}");
    let message = ready["cache"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("in-process cache"), "{ready}");
    assert_eq!(
        metric(app, r#"sokoul_cache_tier_up{tier="redis"}"#, None).await,
        0.0
    );
}

#[tokio::test]
async fn a_resolution_cached_by_one_instance_is_a_hit_on_another() {
    let redis = RedisServer::start();
    let consumet = consumet(Duration::ZERO).await;
    let a = instance(&consumet, &redis, SECRET, |_| {}).await;
    let b = instance(&consumet, &redis, SECRET, |_| {}).await;

    let first = resolve(&a, 101).await;
    let on_b = resolve(&b, 101).await;
    let again_on_b = resolve(&b, 101).await;

    assert_eq!(first["cached"], false);
    assert_eq!(on_b["cached"], true, "{on_b}");
    assert_eq!(again_on_b["cached"], true);
    assert_eq!(source_urls(&first), source_urls(&on_b));
    assert_eq!(
        on_b["sources"][0]["headers"],
        first["sources"][0]["headers"]
    );
    assert_eq!(upstream_calls(&consumet, 101).await, 1);
    // B's first hit came from Redis, the next one from its own memory.
    assert_eq!(
        metric(&b, r#"sokoul_cache_tier_hits_total{tier="redis"}"#, None).await,
        1.0
    );
    assert!(metric(&b, r#"sokoul_cache_tier_hits_total{tier="memory"}"#, None).await >= 1.0);
    assert_eq!(
        metric(&b, r#"sokoul_cache_tier_up{tier="redis"}"#, None).await,
        1.0
    );
}

/// B's rendered-JSON cache is keyed by the stored resolution: when A replaces an expired
/// entry, B serves the new one, not bytes it rendered for the old one.
#[tokio::test]
async fn an_entry_replaced_by_one_instance_is_the_one_the_other_serves() {
    let redis = RedisServer::start();
    let consumet = consumet(Duration::ZERO).await;
    let a = instance(&consumet, &redis, SECRET, |_| {}).await;
    let b = instance(&consumet, &redis, SECRET, |_| {}).await;

    let v1 = resolve(&a, 102).await;
    assert_eq!(resolve(&b, 102).await["cached"], true);
    assert!(source_urls(&v1)[0].contains("/v1/"), "{v1}");
    // Past max_ttl on both clocks: the entry is too old everywhere.
    a.clock.advance(901);
    b.clock.advance(901);
    let v2 = resolve(&a, 102).await;
    assert_eq!(v2["cached"], false);
    assert!(source_urls(&v2)[0].contains("/v2/"), "{v2}");
    let on_b = resolve(&b, 102).await;
    assert_eq!(on_b["cached"], true, "{on_b}");
    assert_eq!(source_urls(&on_b), source_urls(&v2));
    assert_eq!(upstream_calls(&consumet, 102).await, 2);
}

#[tokio::test]
async fn instances_that_would_resolve_differently_do_not_share_answers() {
    let redis = RedisServer::start();
    let consumet = consumet(Duration::ZERO).await;
    let a = instance(&consumet, &redis, SECRET, |_| {}).await;
    let other_ranking = instance(&consumet, &redis, SECRET, |s| {
        s.resolve.provider_order.reverse();
    })
    .await;

    resolve(&a, 103).await;
    assert_eq!(resolve(&other_ranking, 103).await["cached"], false);
    assert_eq!(upstream_calls(&consumet, 103).await, 2);
}

#[tokio::test]
async fn concurrent_cold_resolves_on_two_instances_make_one_upstream_call() {
    let redis = RedisServer::start();
    // Slow enough that every request arrives while the first resolve is still running.
    let consumet = consumet(Duration::from_millis(1500)).await;
    let a = instance(&consumet, &redis, SECRET, |_| {}).await;
    let b = instance(&consumet, &redis, SECRET, |_| {}).await;

    let requests = (0..40).map(|i| {
        let app = if i % 2 == 0 { &a } else { &b };
        resolve(app, 201)
    });
    let bodies = futures::future::join_all(requests).await;

    assert_eq!(upstream_calls(&consumet, 201).await, 1);
    let expected = source_urls(&bodies[0]);
    assert_eq!(expected.len(), 3);
    for body in &bodies {
        assert_eq!(source_urls(body), expected);
    }
    // One instance took the lock; the other one's flight waited for its answer.
    let lock = |result: &'static str| {
        let (a, b) = (&a, &b);
        async move {
            let prefix = format!(r#"sokoul_resolve_lock_total{{result="{result}"}}"#);
            metric(a, &prefix, None).await + metric(b, &prefix, None).await
        }
    };
    assert_eq!(lock("acquired").await, 1.0);
    assert_eq!(lock("waited").await, 1.0);
    assert_eq!(lock("timed_out").await, 0.0);
}

/// Errors are not cached, yet an instance waiting on another's resolve gets its answer rather
/// than asking the providers a second time; a later request asks again.
#[tokio::test]
async fn an_answer_that_is_not_cached_is_shared_with_waiting_instances_only() {
    let redis = RedisServer::start();
    let consumet = consumet(Duration::ZERO).await;
    Mock::given(method("GET"))
        .and(path("/meta/tmdb/info/13"))
        .respond_with(fake::fastify_500("boom").set_delay(Duration::from_millis(1500)))
        .with_priority(1)
        .mount(&consumet)
        .await;
    let a = instance(&consumet, &redis, SECRET, |_| {}).await;
    let b = instance(&consumet, &redis, SECRET, |_| {}).await;

    let requests = (0..10).map(|i| resolve(if i % 2 == 0 { &a } else { &b }, 13));
    for body in futures::future::join_all(requests).await {
        assert_eq!(body["sources"], json!([]), "{body}");
        assert_eq!(body["outcomes"][0]["status"], "error", "{body}");
        assert_eq!(body["cached"], false);
    }
    assert_eq!(upstream_calls(&consumet, 13).await, 1);

    let later = resolve(&b, 13).await;
    assert_eq!(later["outcomes"][0]["status"], "error");
    assert_eq!(
        upstream_calls(&consumet, 13).await,
        2,
        "errors are not cached"
    );
}

/// A loopback CDN that refuses requests without the `Referer` the source needs.
async fn origin() -> (String, Arc<std::sync::Mutex<Vec<Option<String>>>>) {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let app = axum::Router::new().fallback(move |req: Request| {
        let log = log.clone();
        async move {
            let referer = req
                .headers()
                .get(header::REFERER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            log.lock().unwrap().push(referer.clone());
            if referer.as_deref() != Some(fake::REFERER) {
                return (StatusCode::FORBIDDEN, "no hotlinking").into_response();
            }
            let playlist = |body: &'static str| -> Response {
                (
                    [(header::CONTENT_TYPE, "application/vnd.apple.mpegurl")],
                    body,
                )
                    .into_response()
            };
            match req.uri().path() {
                "/hls/master.m3u8" => {
                    playlist("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000\nv1/index.m3u8\n")
                }
                "/hls/v1/index.m3u8" => playlist(
                    "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\nseg0.ts\n#EXT-X-ENDLIST\n",
                ),
                "/hls/v1/seg0.ts" => {
                    ([(header::CONTENT_TYPE, "video/mp2t")], segment()).into_response()
                }
                _ => StatusCode::NOT_FOUND.into_response(),
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), seen)
}

fn segment() -> Vec<u8> {
    (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect()
}

/// The URIs a player would fetch from a rewritten playlist served at `parent`.
fn children(parent: &str, playlist: &str) -> Vec<String> {
    let base = url::Url::parse(&format!("http://sokoul{parent}")).unwrap();
    playlist
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let u = base.join(l).unwrap();
            format!("{}?{}", u.path(), u.query().unwrap_or_default())
        })
        .collect()
}

#[tokio::test]
async fn a_proxy_url_signed_by_one_instance_plays_on_another_with_the_same_secret() {
    let redis = RedisServer::start();
    let (origin, seen) = origin().await;
    let consumet = consumet(Duration::ZERO).await;
    Mock::given(method("GET"))
        .and(path("/meta/tmdb/watch/501"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "headers": {"Referer": fake::REFERER},
            "sources": [{"url": format!("{origin}/hls/master.m3u8"), "quality": "auto", "isM3U8": true}],
        })))
        .with_priority(1)
        .mount(&consumet)
        .await;
    let a = instance(&consumet, &redis, SECRET, |_| {}).await;
    let b = instance(&consumet, &redis, SECRET, |_| {}).await;
    let other = instance(&consumet, &redis, "another cluster's secret", |_| {}).await;

    let body = resolve(&a, 501).await;
    let master_url = body["sources"][0]["proxy_url"]
        .as_str()
        .unwrap()
        .to_string();

    let master = b.get(&master_url).await;
    assert_eq!(master.status(), 200);
    let master = master.text().await.unwrap();
    let variant_url = children(&master_url, &master)
        .pop()
        .unwrap_or_else(|| panic!("no variant in {master}"));
    assert!(variant_url.starts_with("/api/streaming/proxy"), "{master}");
    let media = b.get(&variant_url).await;
    assert_eq!(media.status(), 200);
    let media = media.text().await.unwrap();
    let segment_url = children(&variant_url, &media).pop().unwrap();
    let played = b.get(&segment_url).await;
    assert_eq!(played.status(), 200);
    assert_eq!(played.bytes().await.unwrap().as_ref(), segment().as_slice());
    assert!(
        seen.lock()
            .unwrap()
            .iter()
            .all(|r| r.as_deref() == Some(fake::REFERER)),
        "every request reached the CDN with the source's Referer"
    );

    // An instance with another secret refuses it, in JSON, without reaching the CDN.
    let requests_before = seen.lock().unwrap().len();
    let refused = other.get(&master_url).await;
    assert_eq!(refused.status(), 403);
    let error: Value = refused.json().await.unwrap();
    assert_eq!(error["error"]["code"], "proxy_url_invalid", "{error}");
    assert_eq!(seen.lock().unwrap().len(), requests_before);
    // The shared cache holds resolutions, not signed URLs: that instance's own are valid.
    let its_own = resolve(&other, 501).await;
    assert_eq!(its_own["cached"], true);
    let its_url = its_own["sources"][0]["proxy_url"].as_str().unwrap();
    assert_eq!(other.get(its_url).await.status(), 200);
}

#[tokio::test]
async fn redis_stopped_in_the_middle_of_a_run_then_restarted() {
    let mut redis = RedisServer::start();
    let consumet = consumet(Duration::ZERO).await;
    let a = instance(&consumet, &redis, SECRET, |_| {}).await;
    let b = instance(&consumet, &redis, SECRET, |_| {}).await;
    resolve(&a, 301).await;
    assert_eq!(resolve(&b, 301).await["cached"], true);

    redis.stop();
    for id in 302..=311 {
        let body = resolve(&a, id).await;
        assert_eq!(body["cached"], false);
        assert_eq!(source_urls(&body).len(), 3, "{body}");
    }
    for id in 302..=311 {
        assert_eq!(resolve(&a, id).await["cached"], true, "in-process tier");
    }
    assert_eq!(resolve(&a, 301).await["cached"], true);
    assert_eq!(
        resolve(&b, 301).await["cached"],
        true,
        "kept in B's memory from its Redis hit"
    );
    assert_eq!(resolve(&b, 302).await["cached"], false, "nothing to share");
    // One failed operation took Redis out of use; every later one skipped it instead of
    // spending its budget.
    assert_eq!(request_errors(&a).await, 1.0);
    assert!(metric(&a, "sokoul_redis_fallbacks_total{", None).await >= 20.0);
    assert!(
        metric(
            &a,
            r#"sokoul_resolve_lock_total{result="unavailable"}"#,
            None
        )
        .await
            >= 10.0
    );
    assert_redis_out_of_use(&a).await;
    assert_redis_out_of_use(&b).await;

    redis.spawn();
    wait_until_redis_is_used(&a).await;
    wait_until_redis_is_used(&b).await;
    // A value written after the restart is seen by the other instance: Redis is shared again.
    assert_eq!(resolve(&a, 320).await["cached"], false);
    assert_eq!(resolve(&b, 320).await["cached"], true);
    assert_eq!(upstream_calls(&consumet, 320).await, 1);
    assert_eq!(
        metric(&a, r#"sokoul_cache_tier_up{tier="redis"}"#, None).await,
        1.0
    );
}

#[tokio::test]
async fn a_hanging_redis_costs_one_budget_then_is_skipped_until_it_answers() {
    let redis = RedisServer::start();
    let consumet = consumet(Duration::ZERO).await;
    let a = instance(&consumet, &redis, SECRET, |s| {
        s.cache.redis_budget = 0.3;
        s.cache.redis_backoff_max = 1.0;
    })
    .await;
    resolve(&a, 401).await;

    redis.pause();
    for id in 402..=411 {
        assert_eq!(resolve(&a, id).await["cached"], false);
    }
    assert_eq!(
        metric(
            &a,
            r#"sokoul_redis_errors_total{op="get",kind="timeout"}"#,
            None
        )
        .await,
        1.0
    );
    assert_eq!(request_errors(&a).await, 1.0);
    assert!(metric(&a, "sokoul_redis_fallbacks_total{", None).await >= 30.0);
    assert_redis_out_of_use(&a).await;

    redis.resume();
    wait_until_redis_is_used(&a).await;
    assert_eq!(resolve(&a, 420).await["cached"], false);
    let stored = redis_keys(&redis, "sokoul:v1:*:resolve:all:movie/420").await;
    assert_eq!(stored.len(), 1, "written to Redis again");
}

async fn redis_keys(redis: &RedisServer, pattern: &str) -> Vec<String> {
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("KEYS")
        .arg(pattern)
        .query_async(&mut conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn an_instance_starts_while_redis_is_down_and_uses_it_once_it_answers() {
    let mut redis = RedisServer::not_started();
    let consumet = consumet(Duration::ZERO).await;
    let a = instance(&consumet, &redis, SECRET, |_| {}).await;
    let b = instance(&consumet, &redis, SECRET, |_| {}).await;
    assert_redis_out_of_use(&a).await;
    assert_eq!(resolve(&a, 601).await["cached"], false);
    assert_eq!(resolve(&a, 601).await["cached"], true);

    redis.spawn();
    wait_until_redis_is_used(&a).await;
    wait_until_redis_is_used(&b).await;
    assert_eq!(resolve(&a, 602).await["cached"], false);
    assert_eq!(resolve(&b, 602).await["cached"], true);
    assert_eq!(upstream_calls(&consumet, 602).await, 1);
}

/// The lock itself, through the library API, on a real Redis.
mod lock {
    use super::*;

    async fn tier(redis: &RedisServer) -> Arc<RedisCache> {
        RedisCache::start(
            &redis.url(),
            "test".into(),
            Duration::from_secs(1),
            Duration::from_millis(300),
            Arc::new(Metrics::new()),
        )
        .await
        .unwrap()
    }

    fn key(id: u32) -> CacheKey {
        CacheKey {
            scope: Scope::All,
            request: MediaRequest::movie(id),
        }
    }

    fn resolution(id: u32) -> Resolution {
        Resolution {
            media: MediaInfo::from_request(&MediaRequest::movie(id), Some(format!("T{id}"))),
            streams: vec![],
            subtitles: vec![],
            markers: None,
            outcomes: vec![],
            valid_until: time::OffsetDateTime::now_utc() + time::Duration::hours(1),
        }
    }

    const TTL: Duration = Duration::from_secs(10);

    #[tokio::test]
    async fn one_holder_at_a_time_and_release_frees_the_lock() {
        let redis = RedisServer::start();
        let (a, b) = (tier(&redis).await, tier(&redis).await);
        let Claim::Leader(lease) = a.claim(&key(1), None, TTL).await else {
            panic!("the first claim takes the lock");
        };
        match b.claim(&key(1), None, TTL).await {
            Claim::Busy(holder) => assert_eq!(holder, lease.token()),
            other => panic!("expected Busy, got {other:?}"),
        }
        assert!(
            matches!(b.claim(&key(2), None, TTL).await, Claim::Leader(_)),
            "per title"
        );
        a.release(lease, None).await;
        assert!(matches!(
            b.claim(&key(1), None, TTL).await,
            Claim::Leader(_)
        ));
    }

    #[tokio::test]
    async fn an_expired_lease_never_releases_the_next_holders_lock() {
        let redis = RedisServer::start();
        let (a, b) = (tier(&redis).await, tier(&redis).await);
        let Claim::Leader(stale) = a.claim(&key(1), None, Duration::from_millis(100)).await else {
            panic!("lock");
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        let Claim::Leader(current) = b.claim(&key(1), None, TTL).await else {
            panic!("the expired lock is free");
        };
        a.release(stale, None).await;
        match a.claim(&key(1), None, TTL).await {
            Claim::Busy(holder) => assert_eq!(holder, current.token()),
            other => panic!("b still holds it, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_claim_returns_the_cached_answer_or_the_awaited_holders_answer() {
        let redis = RedisServer::start();
        let (a, b) = (tier(&redis).await, tier(&redis).await);
        a.put(&key(1), Arc::new(resolution(1)), Duration::from_secs(60))
            .await
            .unwrap();
        match b.claim(&key(1), None, TTL).await {
            Claim::Done { resolution, cached } => {
                assert!(cached);
                assert_eq!(resolution.media.title.as_deref(), Some("T1"));
            }
            other => panic!("expected the cached answer, got {other:?}"),
        }

        let Claim::Leader(lease) = a.claim(&key(2), None, TTL).await else {
            panic!("lock");
        };
        let Claim::Busy(holder) = b.claim(&key(2), None, TTL).await else {
            panic!("busy");
        };
        a.release(lease, Some(&resolution(2))).await;
        match b.claim(&key(2), Some(&holder), TTL).await {
            Claim::Done { resolution, cached } => {
                assert!(!cached);
                assert_eq!(resolution.media.title.as_deref(), Some("T2"));
            }
            other => panic!("expected the holder's answer, got {other:?}"),
        }
        // Someone who did not wait on that resolve resolves anew.
        assert!(matches!(
            a.claim(&key(2), None, TTL).await,
            Claim::Leader(_)
        ));
    }

    /// A resolution naming files of an instance's library (whose ids that instance chose).
    fn local_resolution(id: u32) -> Resolution {
        let mut r = resolution(id);
        r.streams.push(ExtractedStream {
            source: StreamSource::Local {
                path: "/api/media/7/file".into(),
            },
            kind: StreamKind::Mp4,
            quality: None,
            provider: "library".into(),
            label: None,
            expires_at: None,
            markers: None,
            engine: false,
            audio_languages: Vec::new(),
            thumbnails: None,
            mime: None,
        });
        r
    }

    #[tokio::test]
    async fn files_of_an_instances_library_are_never_shared() {
        let redis = RedisServer::start();
        let (a, b) = (tier(&redis).await, tier(&redis).await);
        let layered = LayeredCache::new(
            MemoryCache::new(100),
            Some(a.clone()),
            Arc::new(SystemClock),
            Arc::new(Metrics::new()),
        );
        let ttl = Duration::from_secs(60);
        layered
            .put(&key(1), Arc::new(local_resolution(1)), ttl)
            .await
            .unwrap();
        layered
            .put(&key(2), Arc::new(resolution(2)), ttl)
            .await
            .unwrap();
        assert!(
            layered.get(&key(1)).await.unwrap().is_some(),
            "kept in memory"
        );
        assert!(b.get(&key(1)).await.unwrap().is_none(), "not in Redis");
        assert!(
            b.get(&key(2)).await.unwrap().is_some(),
            "remote sources are shared"
        );

        // Nor published to the instances waiting on its resolve.
        let Claim::Leader(lease) = a.claim(&key(3), None, TTL).await else {
            panic!("lock");
        };
        let Claim::Busy(holder) = b.claim(&key(3), None, TTL).await else {
            panic!("busy");
        };
        a.release(lease, Some(&local_resolution(3))).await;
        assert!(matches!(
            b.claim(&key(3), Some(&holder), TTL).await,
            Claim::Leader(_)
        ));
    }

    #[tokio::test]
    async fn without_redis_a_claim_is_unavailable_at_once() {
        let redis = RedisServer::not_started();
        let a = tier(&redis).await;
        assert!(!a.is_up());
        assert!(matches!(
            a.claim(&key(1), None, TTL).await,
            Claim::Unavailable
        ));
        assert!(a.get(&key(1)).await.is_err());
    }
}

async fn report(app: &TestApp, proxy_url: &str, stage: &str) -> reqwest::Response {
    app.client
        .post(format!("{}/api/streaming/report", app.address))
        .json(&json!({"proxy_url": proxy_url, "stage": stage, "code": "fragLoadError"}))
        .send()
        .await
        .unwrap()
}

fn proxy_urls(body: &Value) -> Vec<String> {
    body["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["proxy_url"].as_str().unwrap().to_string())
        .collect()
}

/// Issue 17: a source a player reports failing leaves the next cached answer and ranks last
/// in a fresh one, on every instance of the cluster.
#[tokio::test]
async fn a_reported_source_leaves_cached_answers_and_ranks_last_in_fresh_ones_on_every_instance() {
    let redis = RedisServer::start();
    let consumet = consumet(Duration::ZERO).await;
    let a = instance(&consumet, &redis, SECRET, |_| {}).await;
    let b = instance(&consumet, &redis, SECRET, |_| {}).await;
    let first = resolve(&a, 301).await;
    let urls = source_urls(&first);
    assert_eq!(urls.len(), 3, "{first}");

    let r = report(&a, &proxy_urls(&first)[0], "manifest").await;
    assert_eq!(r.status(), 202);
    let answer: Value = r.json().await.unwrap();
    assert_eq!(answer["failing_for"], 300);

    for app in [&a, &b] {
        let cached = resolve(app, 301).await;
        assert_eq!(cached["cached"], true);
        assert_eq!(source_urls(&cached), urls[1..].to_vec(), "{cached}");
    }
    // A fresh resolve asks the provider again (new URLs, tagged v2) and ranks the reported
    // source last, on the other instance too.
    let fresh = b
        .get_json("/api/streaming/resolve/movie/301?fresh=1", 200)
        .await;
    assert_eq!(fresh["cached"], false, "{fresh}");
    assert_eq!(upstream_calls(&consumet, 301).await, 2);
    let fresh_urls = source_urls(&fresh);
    assert_eq!(fresh_urls.len(), 3);
    assert!(
        fresh_urls.iter().all(|u| u.contains("/v2/")),
        "{fresh_urls:?}"
    );
    // B's next answer is the fresh one, from its cache; a report to A leaves it out there.
    let r = report(&a, &proxy_urls(&fresh)[1], "segment").await;
    assert_eq!(r.status(), 202);
    let cached = resolve(&b, 301).await;
    assert_eq!(cached["cached"], true);
    let mut expected = fresh_urls.clone();
    expected.remove(1);
    assert_eq!(source_urls(&cached), expected);
    assert_eq!(
        metric(&a, r#"sokoul_source_reports_total{stage="segment"}"#, None).await,
        1.0
    );
}

#[tokio::test]
async fn a_fresh_resolve_ranks_a_reported_source_last() {
    let redis = RedisServer::start();
    // Every watch answer is the same (v1): the reported source comes back, last.
    let consumet = fake::start().await;
    Mock::given(method("GET"))
        .and(path_regex(r"^/meta/tmdb/info/\d+$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "movie/watch-title-302", "title": "Title 302", "episodeId": "302", "type": "Movie",
        })))
        .mount(&consumet)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(r"^/meta/tmdb/watch/\d+$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fake::watch("v1", Some(3600))))
        .mount(&consumet)
        .await;
    let a = instance(&consumet, &redis, SECRET, |_| {}).await;
    let b = instance(&consumet, &redis, SECRET, |_| {}).await;
    let first = resolve(&a, 302).await;
    let urls = source_urls(&first);
    assert_eq!(
        report(&a, &proxy_urls(&first)[0], "decode").await.status(),
        202
    );
    for app in [&b, &a] {
        let fresh = app
            .get_json("/api/streaming/resolve/movie/302?fresh=1", 200)
            .await;
        assert_eq!(fresh["cached"], false);
        let got = source_urls(&fresh);
        assert_eq!(got.last().unwrap(), &urls[0], "{got:?}");
        assert_eq!(got[..2], urls[1..]);
    }
}

#[tokio::test]
async fn a_report_must_name_a_url_this_server_signed() {
    let redis = RedisServer::start();
    let consumet = consumet(Duration::ZERO).await;
    let a = instance(&consumet, &redis, SECRET, |_| {}).await;
    let other = instance(&consumet, &redis, "another cluster's secret", |_| {}).await;
    let first = resolve(&other, 303).await;
    // Signed by another secret: refused, and nothing is demoted.
    let foreign = &proxy_urls(&first)[0];
    let r = report(&a, foreign, "manifest").await;
    assert_eq!(r.status(), 403);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "proxy_url_invalid");
    for (url, code) in [
        ("https://cdn.example/v1/720/index.m3u8", "invalid_report"),
        ("/api/streaming/proxy?c=a&u=b&s=c", "proxy_url_malformed"),
    ] {
        let r = report(&a, url, "manifest").await;
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], code, "{url}: {status} {body}");
    }
    let r = report(&a, &proxy_urls(&resolve(&a, 303).await)[0], "sideways").await;
    assert_eq!(r.status(), 422);
    assert_eq!(source_urls(&resolve(&a, 303).await).len(), 3);
}
