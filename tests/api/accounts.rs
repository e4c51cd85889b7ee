//! Accounts (issue 16): the first run, logins, session cookies, their expiry and revocation,
//! the login throttle, and what a member may not do.

use serde_json::{Value, json};
use sokoul::accounts::Role;

use crate::helpers::{TestApp, spawn_app};

const PASSWORD: &str = "correct horse battery";

/// The `sokoul_session=…` pair of a response's `Set-Cookie`, and the whole header.
fn session_cookie(r: &reqwest::Response) -> (String, String) {
    let set = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with("sokoul_session="))
        .expect("a session cookie");
    let pair = set.split(';').next().unwrap().to_owned();
    (pair, set)
}

async fn post(app: &TestApp, path: &str, body: Value, cookie: Option<&str>) -> reqwest::Response {
    let mut r = app
        .client
        .post(format!("{}{path}", app.address))
        .json(&body);
    if let Some(c) = cookie {
        r = r.header("cookie", c);
    }
    r.send().await.unwrap()
}

async fn get(app: &TestApp, path: &str, cookie: &str) -> reqwest::Response {
    app.client
        .get(format!("{}{path}", app.address))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
}

async fn login(app: &TestApp, username: &str, password: &str) -> reqwest::Response {
    post(
        app,
        "/api/auth/login",
        json!({"username": username, "password": password}),
        None,
    )
    .await
}

/// Logs in, asserting success; returns the cookie pair.
async fn logged_in(app: &TestApp, username: &str) -> String {
    let r = login(app, username, PASSWORD).await;
    assert_eq!(r.status(), 200);
    session_cookie(&r).0
}

async fn add(app: &TestApp, username: &str, role: Role) {
    app.state
        .accounts
        .add(username, PASSWORD.into(), role)
        .await
        .unwrap();
}

#[tokio::test]
async fn the_first_run_creates_one_admin_then_the_api_needs_a_login() {
    let app = spawn_app(|_| {}).await;
    let state = app.get_json("/api/auth/state", 200).await;
    assert_eq!(state["setup_needed"], true);
    assert_eq!(state["user"], Value::Null);
    // No account yet, on loopback: the API is open as before.
    app.get_json("/api/progress", 200).await;

    let r = post(
        &app,
        "/api/auth/setup",
        json!({"username": "alice", "password": "short"}),
        None,
    )
    .await;
    assert_eq!(r.status(), 400);
    let r = post(
        &app,
        "/api/auth/setup",
        json!({"username": "alice", "password": PASSWORD}),
        None,
    )
    .await;
    assert_eq!(r.status(), 201);
    let (cookie, header) = session_cookie(&r);
    assert!(
        header.contains("HttpOnly") && header.contains("SameSite=Lax"),
        "{header}"
    );
    assert!(
        !header.contains("Secure"),
        "plain HTTP, no trusted proxy: {header}"
    );
    let body: Value = r.json().await.unwrap();
    assert_eq!(body, json!({"username": "alice", "role": "admin"}));
    assert!(
        !body
            .to_string()
            .contains(cookie.trim_start_matches("sokoul_session="))
    );

    // Locked now: nothing without the cookie, a second first run refused either way.
    let r = app.get("/api/progress").await;
    assert_eq!(r.status(), 401);
    let error: Value = r.json().await.unwrap();
    assert_eq!(error["error"]["code"], "unauthorized");
    assert_eq!(get(&app, "/api/progress", &cookie).await.status(), 200);
    let again = json!({"username": "mallory", "password": PASSWORD});
    assert_eq!(
        post(&app, "/api/auth/setup", again.clone(), None)
            .await
            .status(),
        401
    );
    let r = post(&app, "/api/auth/setup", again, Some(&cookie)).await;
    assert_eq!(r.status(), 409);
    let state: Value = get(&app, "/api/auth/state", &cookie)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(state["setup_needed"], false);
    assert_eq!(state["user"]["username"], "alice");
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_account_get_the_same_answer() {
    let app = spawn_app(|_| {}).await;
    add(&app, "alice", Role::Member).await;
    let wrong = login(&app, "alice", "not the password").await;
    let unknown = login(&app, "nobody", "not the password").await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(unknown.status(), wrong.status());
    assert!(wrong.headers().get("set-cookie").is_none());
    let (wrong, unknown): (Value, Value) =
        (wrong.json().await.unwrap(), unknown.json().await.unwrap());
    assert_eq!(wrong, unknown);
    assert_eq!(wrong["error"]["code"], "invalid_credentials");
    // Names compare without case.
    assert_eq!(login(&app, "ALICE", PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn logout_ends_the_session_and_clears_the_cookie() {
    let app = spawn_app(|_| {}).await;
    add(&app, "alice", Role::Member).await;
    let cookie = logged_in(&app, "alice").await;
    assert_eq!(get(&app, "/api/progress", &cookie).await.status(), 200);
    let r = post(&app, "/api/auth/logout", json!({}), Some(&cookie)).await;
    assert_eq!(r.status(), 204);
    let (_, cleared) = session_cookie(&r);
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    assert_eq!(get(&app, "/api/progress", &cookie).await.status(), 401);
    let state: Value = get(&app, "/api/auth/state", &cookie)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(state["user"], Value::Null);
}

/// Wrong passwords for `name` until the wait after the last one is at least 64 s, moving the
/// clock past each shorter wait instead of sleeping. Returns the status of every attempt.
/// (64 s: the 429 checked next cannot have expired on its own, however slow the machine.)
async fn fail_until_a_long_wait(app: &TestApp, name: &str) -> Vec<u16> {
    let mut statuses = Vec::new();
    for failure in 1..=11 {
        statuses.push(login(app, name, "guess").await.status().as_u16());
        // From the fifth failure on, the next attempt waits 1 s, then 2 s, 4 s …
        if (5..11).contains(&failure) {
            app.clock.advance(1 << (failure - 5));
        }
    }
    statuses
}

#[tokio::test]
async fn failed_logins_are_throttled_then_allowed_again() {
    let app = spawn_app(|_| {}).await;
    add(&app, "alice", Role::Member).await;
    let statuses = fail_until_a_long_wait(&app, "alice").await;
    assert_eq!(statuses, vec![401; 11]);
    // Even the right password waits: the answer must not tell a guesser it was right.
    let r = login(&app, "alice", PASSWORD).await;
    assert_eq!(r.status(), 429);
    let wait: i64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=64).contains(&wait), "{wait}");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_many_attempts");

    app.clock.advance(wait);
    assert_eq!(login(&app, "alice", PASSWORD).await.status(), 200);

    // A name that does not exist is throttled the same way, at the same count.
    let other = spawn_app(|_| {}).await;
    assert_eq!(fail_until_a_long_wait(&other, "ghost").await, statuses);
    assert_eq!(login(&other, "ghost", "guess").await.status(), 429);
}

#[tokio::test]
async fn sessions_end_after_the_idle_timeout_and_the_lifetime() {
    let app = spawn_app(|s| {
        s.accounts.session_idle_timeout = 600;
        s.accounts.session_lifetime = 1800;
    })
    .await;
    add(&app, "alice", Role::Member).await;
    let idle = logged_in(&app, "alice").await;
    app.clock.advance(601);
    assert_eq!(get(&app, "/api/progress", &idle).await.status(), 401);

    // Used every 5 minutes, it lives on, until its lifetime is over.
    let used = logged_in(&app, "alice").await;
    for _ in 0..5 {
        app.clock.advance(300);
        assert_eq!(get(&app, "/api/progress", &used).await.status(), 200);
    }
    app.clock.advance(300);
    assert_eq!(get(&app, "/api/progress", &used).await.status(), 401);
}

#[tokio::test]
async fn logging_out_everywhere_ends_every_session_of_the_account() {
    let app = spawn_app(|_| {}).await;
    add(&app, "alice", Role::Member).await;
    add(&app, "bob", Role::Member).await;
    let laptop = logged_in(&app, "alice").await;
    let phone = logged_in(&app, "alice").await;
    let bob = logged_in(&app, "bob").await;
    let list: Value = get(&app, "/api/auth/sessions", &laptop)
        .await
        .json()
        .await
        .unwrap();
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{list}");
    assert_eq!(items.iter().filter(|s| s["current"] == true).count(), 1);
    for s in items {
        let handle = s["id"].as_str().unwrap();
        assert!(!laptop.contains(handle) && !phone.contains(handle));
    }
    let r = app
        .client
        .delete(format!("{}/api/auth/sessions", app.address))
        .header("cookie", &phone)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["ended"], 2);
    assert_eq!(get(&app, "/api/progress", &laptop).await.status(), 401);
    assert_eq!(get(&app, "/api/progress", &phone).await.status(), 401);
    assert_eq!(get(&app, "/api/progress", &bob).await.status(), 200);
}

#[tokio::test]
async fn the_database_keeps_hashes_never_passwords_or_session_ids() {
    let app = spawn_app(|_| {}).await;
    add(&app, "alice", Role::Member).await;
    let cookie = logged_in(&app, "alice").await;
    let id = cookie.trim_start_matches("sokoul_session=").to_owned();
    let dump = app
        .state
        .store
        .call(|conn| {
            let hash: String =
                conn.query_row("SELECT password_hash FROM accounts", [], |r| r.get(0))?;
            let session: Vec<u8> =
                conn.query_row("SELECT id_hash FROM sessions", [], |r| r.get(0))?;
            Ok((hash, session))
        })
        .await
        .unwrap();
    assert!(
        dump.0.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{}",
        dump.0
    );
    assert!(!dump.0.contains(PASSWORD));
    assert_eq!(dump.1, sokoul::accounts::session::hash(&id));
}

#[tokio::test]
async fn a_cross_site_post_is_refused_before_it_touches_a_session() {
    let app = spawn_app(|_| {}).await;
    add(&app, "alice", Role::Member).await;
    let cookie = logged_in(&app, "alice").await;
    for path in ["/api/auth/logout", "/api/auth/login"] {
        let r = app
            .client
            .post(format!("{}{path}", app.address))
            .header("cookie", &cookie)
            .header("sec-fetch-site", "cross-site")
            .json(&json!({"username": "alice", "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{path}");
        assert!(r.headers().get("location").is_none());
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "cross_site_request");
    }
    assert_eq!(get(&app, "/api/progress", &cookie).await.status(), 200);
}

#[tokio::test]
async fn a_member_cannot_reach_the_admin_routes() {
    let app = spawn_app(|_| {}).await;
    add(&app, "admin", Role::Admin).await;
    add(&app, "kid", Role::Member).await;
    let kid = logged_in(&app, "kid").await;
    let admin = logged_in(&app, "admin").await;
    let r = get(&app, "/api/openapi.json", &kid).await;
    assert_eq!(r.status(), 403);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "admin_only"
    );
    let r = post(&app, "/api/library/scan", json!({}), Some(&kid)).await;
    assert_eq!(r.status(), 403);
    // Watching is every member's.
    assert_eq!(get(&app, "/api/progress", &kid).await.status(), 200);
    assert_eq!(get(&app, "/api/openapi.json", &admin).await.status(), 200);
}

#[tokio::test]
async fn the_api_token_still_works_as_an_admin_once_accounts_exist() {
    const TOKEN: &str = "0123456789abcdef-token";
    let app = spawn_app(|s| s.api_token = Some(sokoul::config::Secret::new(TOKEN))).await;
    let state = app.get_json("/api/auth/state", 200).await;
    assert_eq!(state["setup_needs_token"], true);
    // The first run needs the token on such a server.
    let creds = json!({"username": "alice", "password": PASSWORD});
    assert_eq!(
        post(&app, "/api/auth/setup", creds.clone(), None)
            .await
            .status(),
        401
    );
    let r = app
        .client
        .post(format!("{}/api/auth/setup", app.address))
        .bearer_auth(TOKEN)
        .json(&creds)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = app
        .client
        .get(format!("{}/api/openapi.json", app.address))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn the_cookie_is_secure_behind_a_trusted_https_proxy_only() {
    let app = spawn_app(|s| s.security.trusted_proxies = vec!["127.0.0.1".into()]).await;
    add(&app, "alice", Role::Member).await;
    let creds = json!({"username": "alice", "password": PASSWORD});
    let r = app
        .client
        .post(format!("{}/api/auth/login", app.address))
        .header("x-forwarded-proto", "https")
        .json(&creds)
        .send()
        .await
        .unwrap();
    assert!(session_cookie(&r).1.contains("Secure"));

    let untrusted = spawn_app(|_| {}).await;
    add(&untrusted, "alice", Role::Member).await;
    let r = untrusted
        .client
        .post(format!("{}/api/auth/login", untrusted.address))
        .header("x-forwarded-proto", "https")
        .json(&creds)
        .send()
        .await
        .unwrap();
    assert!(!session_cookie(&r).1.contains("Secure"));
}

#[tokio::test]
async fn an_account_lets_the_server_listen_beyond_loopback() {
    use sokoul::startup::{Application, Overrides};
    let data = tempfile::tempdir().unwrap();
    let mut settings = crate::helpers::test_settings(data.path());
    settings.bind = "0.0.0.0:0".parse().unwrap();
    assert!(
        Application::build(settings.clone(), Overrides::default())
            .await
            .is_err()
    );
    let store = sokoul::store::Store::open(&data.path().join("sokoul.db")).unwrap();
    let accounts = sokoul::accounts::Accounts::new(
        store,
        std::sync::Arc::new(sokoul::clock::SystemClock),
        settings.accounts.clone(),
    );
    accounts
        .add("alice", PASSWORD.into(), Role::Admin)
        .await
        .unwrap();
    assert!(
        Application::build(settings, Overrides::default())
            .await
            .is_ok()
    );
}

async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
    cookie: &str,
) -> reqwest::Response {
    let mut r = app
        .client
        .request(method, format!("{}{path}", app.address))
        .header("cookie", cookie);
    if let Some(body) = body {
        r = r.json(&body);
    }
    r.send().await.unwrap()
}

#[tokio::test]
async fn an_admin_creates_disables_resets_and_deletes_accounts() {
    use reqwest::Method;
    let app = spawn_app(|_| {}).await;
    add(&app, "admin", Role::Admin).await;
    let admin = logged_in(&app, "admin").await;
    let new = json!({"username": "kid", "password": PASSWORD, "role": "member"});
    let r = send(
        &app,
        Method::POST,
        "/api/auth/users",
        Some(new.clone()),
        &admin,
    )
    .await;
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    assert_eq!(
        (created["username"].as_str(), created["role"].as_str()),
        (Some("kid"), Some("member"))
    );
    let r = send(&app, Method::POST, "/api/auth/users", Some(new), &admin).await;
    assert_eq!(r.status(), 409);
    let list: Value = send(&app, Method::GET, "/api/auth/users", None, &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    assert!(!list.to_string().contains("argon2"), "{list}");

    // Disabling ends the kid's session and keeps them out.
    let kid = logged_in(&app, "kid").await;
    assert_eq!(
        send(&app, Method::GET, "/api/auth/users", None, &kid)
            .await
            .status(),
        403
    );
    let off = json!({"disabled": true});
    let r = send(&app, Method::PUT, "/api/auth/users/kid", Some(off), &admin).await;
    assert_eq!(r.status(), 200);
    assert_eq!(get(&app, "/api/progress", &kid).await.status(), 401);
    assert_eq!(login(&app, "kid", PASSWORD).await.status(), 401);

    // A reset password works once enabled again; the old one does not.
    let reset = json!({"disabled": false, "password": "a brand new one"});
    assert_eq!(
        send(
            &app,
            Method::PUT,
            "/api/auth/users/KID",
            Some(reset),
            &admin
        )
        .await
        .status(),
        200
    );
    assert_eq!(login(&app, "kid", PASSWORD).await.status(), 401);
    assert_eq!(login(&app, "kid", "a brand new one").await.status(), 200);

    // The last enabled admin stays.
    let demote = json!({"role": "member"});
    let r = send(
        &app,
        Method::PUT,
        "/api/auth/users/admin",
        Some(demote),
        &admin,
    )
    .await;
    assert_eq!(r.status(), 409);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "last_admin"
    );
    assert_eq!(
        send(&app, Method::DELETE, "/api/auth/users/admin", None, &admin)
            .await
            .status(),
        409
    );
    assert_eq!(
        send(&app, Method::DELETE, "/api/auth/users/kid", None, &admin)
            .await
            .status(),
        204
    );
    assert_eq!(
        send(&app, Method::DELETE, "/api/auth/users/kid", None, &admin)
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn metrics_can_be_kept_for_admins() {
    let app = spawn_app(|s| s.accounts.metrics_admin_only = true).await;
    // No account yet: nothing to log in with, so open as before.
    assert_eq!(app.get("/metrics").await.status(), 200);
    add(&app, "admin", Role::Admin).await;
    add(&app, "kid", Role::Member).await;
    assert_eq!(app.get("/metrics").await.status(), 401);
    let kid = logged_in(&app, "kid").await;
    assert_eq!(get(&app, "/metrics", &kid).await.status(), 403);
    let admin = logged_in(&app, "admin").await;
    assert_eq!(get(&app, "/metrics", &admin).await.status(), 200);
    // The health checks stay open.
    assert_eq!(app.get("/healthz").await.status(), 200);

    let open = spawn_app(|_| {}).await;
    add(&open, "admin", Role::Admin).await;
    assert_eq!(open.get("/metrics").await.status(), 200);
}
