//! Profiles (issue 16): what each profile watched stays its own, PINs are asked and throttled,
//! and upgrading a single-user database keeps every position it held.

use serde_json::{Value, json};
use sokoul::accounts::Role;

use crate::helpers::{TestApp, spawn_app, spawn_app_in};

const PASSWORD: &str = "correct horse battery";

/// A request with the session cookie (and JSON body, when given); returns status and body.
async fn call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    cookie: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut r = app
        .client
        .request(method, format!("{}{path}", app.address))
        .header("cookie", cookie);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn cookie_of(r: &reqwest::Response) -> String {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|v| v.starts_with("sokoul_session="))
        .expect("a session cookie")
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

async fn setup(app: &TestApp, username: &str) -> String {
    let r = app
        .client
        .post(format!("{}/api/auth/setup", app.address))
        .json(&json!({"username": username, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    cookie_of(&r)
}

async fn login(app: &TestApp, username: &str) -> String {
    let r = app
        .client
        .post(format!("{}/api/auth/login", app.address))
        .json(&json!({"username": username, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    cookie_of(&r)
}

async fn save(app: &TestApp, cookie: &str, title: &str, position: f64) {
    let (status, _) = call(
        app,
        reqwest::Method::PUT,
        &format!("/api/progress/{title}"),
        cookie,
        Some(json!({"position": position, "duration": 3000.0})),
    )
    .await;
    assert_eq!(status, 204);
}

/// The tmdb ids of the "continue watching" row the cookie's profile sees.
async fn watched(app: &TestApp, cookie: &str) -> Vec<u64> {
    let (status, body) = call(app, reqwest::Method::GET, "/api/progress", cookie, None).await;
    assert_eq!(status, 200, "{body}");
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["tmdb_id"].as_u64().unwrap())
        .collect()
}

async fn select(app: &TestApp, cookie: &str, id: &Value, pin: Option<&str>) -> (u16, Value) {
    let body = match pin {
        Some(p) => json!({"pin": p}),
        None => json!({}),
    };
    call(
        app,
        reqwest::Method::POST,
        &format!("/api/profiles/{id}/select"),
        cookie,
        Some(body),
    )
    .await
}

async fn add_profile(app: &TestApp, cookie: &str, body: Value) -> Value {
    let (status, profile) = call(
        app,
        reqwest::Method::POST,
        "/api/profiles",
        cookie,
        Some(body),
    )
    .await;
    assert_eq!(status, 201, "{profile}");
    profile
}

#[tokio::test]
async fn two_profiles_keep_their_own_progress_and_languages() {
    let app = spawn_app(|_| {}).await;
    let cookie = setup(&app, "alice").await;
    let (_, list) = call(&app, reqwest::Method::GET, "/api/profiles", &cookie, None).await;
    let first = list["items"][0].clone();
    assert_eq!(
        (first["name"].as_str(), first["current"].as_bool()),
        (Some("alice"), Some(true))
    );
    let lea = add_profile(&app, &cookie, json!({"name": "Léa", "colour": "#1E90FF"})).await;
    assert_eq!(lea["colour"], "#1e90ff");

    save(&app, &cookie, "movie/603", 600.0).await;
    assert_eq!(select(&app, &cookie, &lea["id"], None).await.0, 200);
    assert!(
        watched(&app, &cookie).await.is_empty(),
        "Léa watched nothing yet"
    );
    save(&app, &cookie, "tv/1396?season=1&episode=2", 50.0).await;
    let (_, vf) = call(
        &app,
        reqwest::Method::PUT,
        "/api/preferences/languages",
        &cookie,
        Some(json!({"mode": "vf", "audio": ["fr"], "subtitles": []})),
    )
    .await;
    assert_eq!(vf["mode"], "vf");
    assert_eq!(watched(&app, &cookie).await, vec![1396]);

    // Another browser of the same account starts on the first profile.
    let other = login(&app, "alice").await;
    assert_eq!(watched(&app, &other).await, vec![603]);
    let (_, langs) = call(
        &app,
        reqwest::Method::GET,
        "/api/preferences/languages",
        &other,
        None,
    )
    .await;
    assert_eq!(langs["mode"], "none");
    // The first browser stays on Léa.
    assert_eq!(watched(&app, &cookie).await, vec![1396]);
}

/// The interface language a profile picks follows it to another browser; the other profile
/// keeps the browser's (none stored); a tag that is not a language is refused.
#[tokio::test]
async fn each_profile_keeps_its_interface_language_across_browsers() {
    let app = spawn_app(|_| {}).await;
    let cookie = setup(&app, "alice").await;
    let lea = add_profile(&app, &cookie, json!({"name": "Léa"})).await;
    let path = format!("/api/profiles/{}", lea["id"]);
    let (status, changed) = call(
        &app,
        reqwest::Method::PATCH,
        &path,
        &cookie,
        Some(json!({"language": "EN-gb"})),
    )
    .await;
    assert_eq!(
        (status, &changed["language"]),
        (200, &json!("en-gb")),
        "{changed}"
    );

    let other = login(&app, "alice").await;
    let (_, list) = call(&app, reqwest::Method::GET, "/api/profiles", &other, None).await;
    let language_of = |name: &str| {
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .map(|p| p["language"].clone())
            .unwrap()
    };
    assert_eq!(
        language_of("Léa"),
        json!("en-gb"),
        "normalised like audio languages"
    );
    assert_eq!(language_of("alice"), Value::Null, "{list}");

    // Another change leaves the language alone; nonsense is refused and stores nothing.
    let (_, renamed) = call(
        &app,
        reqwest::Method::PATCH,
        &path,
        &other,
        Some(json!({"name": "Léa B."})),
    )
    .await;
    assert_eq!(renamed["language"], "en-gb");
    let (status, refused) = call(
        &app,
        reqwest::Method::PATCH,
        &path,
        &other,
        Some(json!({"language": "<script>"})),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(refused["error"]["code"], "invalid_interface_language");
    let (_, list) = call(&app, reqwest::Method::GET, "/api/profiles", &other, None).await;
    assert!(list.to_string().contains("\"en-gb\""), "{list}");
}

#[tokio::test]
async fn a_profile_pin_is_asked_and_wrong_pins_are_refused_then_throttled() {
    let app = spawn_app(|_| {}).await;
    let cookie = setup(&app, "alice").await;
    let kid = add_profile(&app, &cookie, json!({"name": "Parents", "pin": "2468"})).await;
    assert_eq!(kid["has_pin"], true);
    let (_, list) = call(&app, reqwest::Method::GET, "/api/profiles", &cookie, None).await;
    assert!(!list.to_string().contains("argon2"), "{list}");

    let (status, body) = select(&app, &cookie, &kid["id"], None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("pin_required"))
    );
    // Wrong PINs until the wait is 64 s, moving the clock past each shorter wait (from the
    // fifth failure on: 1 s, 2 s, 4 s …), so that the 429 below cannot expire on its own.
    for failure in 1..=11 {
        let (status, body) = select(&app, &cookie, &kid["id"], Some("1111")).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (403, Some("wrong_pin"))
        );
        if (5..11).contains(&failure) {
            app.clock.advance(1 << (failure - 5));
        }
    }
    // Held up: even the right PIN waits, as after wrong passwords.
    let r = app
        .client
        .post(format!("{}/api/profiles/{}/select", app.address, kid["id"]))
        .header("cookie", &cookie)
        .json(&json!({"pin": "2468"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    let wait: i64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=64).contains(&wait), "{wait}");
    app.clock.advance(wait);
    let (status, body) = select(&app, &cookie, &kid["id"], Some("2468")).await;
    assert_eq!((status, body["current"].as_bool()), (200, Some(true)));

    // From the first profile, the PIN profile cannot be changed or removed.
    let other = login(&app, "alice").await;
    let path = format!("/api/profiles/{}", kid["id"]);
    let (status, _) = call(
        &app,
        reqwest::Method::PATCH,
        &path,
        &other,
        Some(json!({"pin": ""})),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = call(&app, reqwest::Method::DELETE, &path, &other, None).await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn an_account_keeps_one_profile_and_sees_only_its_own() {
    let app = spawn_app(|_| {}).await;
    let alice = setup(&app, "alice").await;
    app.state
        .accounts
        .add("bob", PASSWORD.into(), Role::Member)
        .await
        .unwrap();
    let bob = login(&app, "bob").await;
    let (_, list) = call(&app, reqwest::Method::GET, "/api/profiles", &alice, None).await;
    let alices = &list["items"][0]["id"];
    let (status, body) = call(
        &app,
        reqwest::Method::DELETE,
        &format!("/api/profiles/{alices}"),
        &alice,
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("last_profile"))
    );
    // Bob can neither select nor delete Alice's profile.
    assert_eq!(select(&app, &bob, alices, None).await.0, 404);
    let (status, _) = call(
        &app,
        reqwest::Method::DELETE,
        &format!("/api/profiles/{alices}"),
        &bob,
        None,
    )
    .await;
    assert_eq!(status, 404);
    save(&app, &alice, "movie/603", 10.0).await;
    assert!(watched(&app, &bob).await.is_empty());
}

/// Writes a version-7 database (before profiles) with three positions, languages and a series
/// choice; `with_admin` adds the account of an upgrade from a server with accounts.
fn old_database(dir: &std::path::Path, with_admin: bool) {
    let conn = sokoul::store::Store::create_at_version(&dir.join("sokoul.db"), 7).unwrap();
    for (media_type, id, season, episode) in [
        ("movie", 603, -1, -1),
        ("tv", 1396, 1, 2),
        ("tv", 1396, 1, 3),
    ] {
        conn.execute(
            "INSERT INTO watch_progress VALUES (?1, ?2, ?3, ?4, 120.5, 3000, 1800000000000)",
            rusqlite::params![media_type, id, season, episode],
        )
        .unwrap();
    }
    conn.execute_batch(
        "INSERT INTO language_preferences VALUES ('default', 'vostfr', '[\"en\"]', '[\"fr\"]', 1);
         INSERT INTO series_language_choices VALUES ('default', 1396, 'en', 'off', 1);",
    )
    .unwrap();
    if with_admin {
        let hash = sokoul::accounts::password::hash(PASSWORD).unwrap();
        conn.execute(
            "INSERT INTO accounts (username, password_hash, role, created_at) VALUES ('alice', ?1, 'admin', 1)",
            [hash],
        )
        .unwrap();
    }
}

async fn assert_kept(app: &TestApp, cookie: &str) {
    let mut ids = watched(app, cookie).await;
    ids.sort();
    assert_eq!(ids, vec![603, 1396, 1396]);
    let (_, langs) = call(
        app,
        reqwest::Method::GET,
        "/api/preferences/languages",
        cookie,
        None,
    )
    .await;
    assert_eq!(langs["mode"], "vostfr");
    let (_, series) = call(
        app,
        reqwest::Method::GET,
        "/api/preferences/series/1396",
        cookie,
        None,
    )
    .await;
    assert_eq!(series["subtitles"], "off");
}

#[tokio::test]
async fn upgrading_with_an_admin_gives_it_every_position() {
    let dir = tempfile::tempdir().unwrap();
    old_database(dir.path(), true);
    let app = spawn_app_in(dir, |_| {}).await;
    let cookie = login(&app, "alice").await;
    assert_kept(&app, &cookie).await;
}

#[tokio::test]
async fn upgrading_without_accounts_keeps_every_position_for_the_first_admin() {
    let dir = tempfile::tempdir().unwrap();
    old_database(dir.path(), false);
    let app = spawn_app_in(dir, |_| {}).await;
    // No account yet (loopback, open): the single user still sees everything.
    assert_kept(&app, "").await;
    let admin = setup(&app, "alice").await;
    assert_kept(&app, &admin).await;
    // The next account starts empty.
    app.state
        .accounts
        .add("bob", PASSWORD.into(), Role::Member)
        .await
        .unwrap();
    let bob = login(&app, "bob").await;
    assert!(watched(&app, &bob).await.is_empty());
}
