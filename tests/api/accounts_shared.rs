//! Sessions seen by every instance of a cluster (one real `redis-server`), and media tokens
//! that die with the session they were handed to (issue 16, Deliver 2 and 7).

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sokoul::accounts::Role;
use sokoul::config::Secret;
use sokoul::library::demo::Synth;

use crate::helpers::{TestApp, spawn_app};
use crate::library::{library_settings, place};
use crate::redis_server::RedisServer;

const PASSWORD: &str = "correct horse battery";

async fn add(app: &TestApp, username: &str) {
    app.state
        .accounts
        .add(username, PASSWORD.into(), Role::Member)
        .await
        .unwrap();
}

/// Logs in; the `sokoul_session=…` pair of the answer's cookie.
async fn logged_in(app: &TestApp, username: &str) -> String {
    let r = app
        .client
        .post(format!("{}/api/auth/login", app.address))
        .json(&json!({"username": username, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "login on {}", app.address);
    let set = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    set.split(';').next().unwrap().to_owned()
}

async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    cookie: Option<&str>,
) -> reqwest::Response {
    let mut r = app.client.request(method, format!("{}{path}", app.address));
    if let Some(cookie) = cookie {
        r = r.header("cookie", cookie);
    }
    r.send().await.unwrap()
}

async fn error_code(r: reqwest::Response) -> String {
    let body: Value = r.json().await.unwrap();
    body["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// One instance: its own data dir, the cluster's Redis and secret (`test_settings`' one).
async fn instance(redis: &RedisServer) -> TestApp {
    let url = redis.url();
    spawn_app(move |s| {
        s.cache.redis_url = Some(Secret::new(url));
        // A loaded test machine must not take Redis out of use by accident.
        s.cache.redis_budget = 2.0;
        s.cache.redis_backoff_max = 0.3;
    })
    .await
}

/// GETs `path` on `app` with `cookie` until it answers `status`, for up to `within`.
async fn until_status(app: &TestApp, path: &str, cookie: &str, status: u16, within: Duration) {
    let start = Instant::now();
    loop {
        let got = send(app, reqwest::Method::GET, path, Some(cookie)).await;
        if got.status() == status {
            return;
        }
        assert!(
            start.elapsed() < within,
            "{path} still answers {} after {within:?}",
            got.status()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_session_opened_on_one_instance_works_on_another_until_it_is_revoked() {
    let mut redis = RedisServer::start();
    let a = instance(&redis).await;
    let b = instance(&redis).await;
    add(&a, "alice").await;
    // B holds no account itself, yet it asks for a login: A's accounts exist.
    let r = send(&b, reqwest::Method::GET, "/api/auth/sessions", None).await;
    assert_eq!(r.status(), 401);

    let cookie = logged_in(&a, "alice").await;
    let r = send(
        &b,
        reqwest::Method::GET,
        "/api/auth/sessions",
        Some(&cookie),
    )
    .await;
    assert_eq!(r.status(), 200);
    let listed: Value = r.json().await.unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed["items"][0]["current"], true, "{listed}");

    // "Se déconnecter partout" on A: B stops accepting the cookie within seconds.
    let r = send(
        &a,
        reqwest::Method::DELETE,
        "/api/auth/sessions",
        Some(&cookie),
    )
    .await;
    assert_eq!(r.status(), 200);
    let r = send(
        &a,
        reqwest::Method::GET,
        "/api/auth/sessions",
        Some(&cookie),
    )
    .await;
    assert_eq!(r.status(), 401);
    until_status(
        &b,
        "/api/auth/sessions",
        &cookie,
        401,
        Duration::from_secs(10),
    )
    .await;

    // A new login works on both.
    let fresh = logged_in(&a, "alice").await;
    let r = send(&b, reqwest::Method::GET, "/api/auth/sessions", Some(&fresh)).await;
    assert_eq!(r.status(), 200);

    // Without Redis no session is opened: the others could not check it (fail closed).
    redis.stop();
    let r = a
        .client
        .post(format!("{}/api/auth/login", a.address))
        .json(&json!({"username": "alice", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(error_code(r).await, "session_store_unavailable");
}

/// The direct-play URL of the film, as the library's resolve hands it to `cookie`'s session.
async fn film_url(app: &TestApp, cookie: &str) -> String {
    let path = "/api/streaming/library/movie/603";
    let r = send(app, reqwest::Method::GET, path, Some(cookie)).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let url = body["sources"][0]["url"].as_str().unwrap().to_owned();
    assert!(url.ends_with("/file") || url.contains("/file?"), "{body}");
    url
}

/// What a `<video>` element or a cast device sends: the URL and a `Range`, no cookie.
async fn play(app: &TestApp, url: &str) -> reqwest::Response {
    app.client
        .get(format!("{}{url}", app.address))
        .header("Range", "bytes=0-99")
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_media_url_dies_with_the_session_it_was_handed_to_and_no_other() {
    let root = tempfile::tempdir().unwrap();
    let film = "The Matrix (1999) [tmdbid-603]/The Matrix (1999).mp4";
    place(root.path(), film, Synth::H264AacMp4);
    let library = root.path().to_path_buf();
    let app = spawn_app(move |s| library_settings(s, library)).await;
    app.scan().await;
    add(&app, "alice").await;
    let first = logged_in(&app, "alice").await;
    let second = logged_in(&app, "alice").await;

    let url = film_url(&app, &first).await;
    assert!(url.contains("st="), "{url}");
    // The second resolve is a cache hit: its rendered answer must not carry the first's token.
    let other = film_url(&app, &second).await;
    assert_ne!(url, other);
    for u in [&url, &other] {
        let r = play(&app, u).await;
        assert_eq!(r.status(), 206, "{u}");
        assert_eq!(r.bytes().await.unwrap().len(), 100);
    }

    let r = send(
        &app,
        reqwest::Method::POST,
        "/api/auth/logout",
        Some(&first),
    )
    .await;
    assert_eq!(r.status(), 204);
    let r = play(&app, &url).await;
    assert_eq!(r.status(), 401);
    assert_eq!(error_code(r).await, "media_url_revoked");
    // The other session's URL still plays, and a token cannot be moved onto another file.
    assert_eq!(play(&app, &other).await.status(), 206);
    let moved = other.replacen("/api/media/", "/api/media/9", 1);
    assert_eq!(play(&app, &moved).await.status(), 403);
}
