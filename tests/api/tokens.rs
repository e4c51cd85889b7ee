//! Personal API tokens (issue 16): shown once, stored hashed, acting as their account, revoked.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sokoul::accounts::Role;

use crate::helpers::{TestApp, spawn_app};

const PASSWORD: &str = "correct horse battery";

async fn login(app: &TestApp, username: &str) -> String {
    let r = app
        .client
        .post(format!("{}/api/auth/login", app.address))
        .json(&json!({"username": username, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

async fn with_bearer(app: &TestApp, path: &str, token: &str) -> u16 {
    app.client
        .get(format!("{}{path}", app.address))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn create(app: &TestApp, cookie: &str, name: &str) -> Value {
    let r = app
        .client
        .post(format!("{}/api/tokens", app.address))
        .header("cookie", cookie)
        .json(&json!({ "name": name }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["cache-control"], "no-store");
    r.json().await.unwrap()
}

async fn list(app: &TestApp, cookie: &str) -> Value {
    app.client
        .get(format!("{}/api/tokens", app.address))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Every byte SQLite holds on disk for the data dir's database (main file and WAL).
fn database_bytes(app: &TestApp) -> Vec<u8> {
    let mut bytes = Vec::new();
    for name in ["sokoul.db", "sokoul.db-wal"] {
        if let Ok(b) = std::fs::read(app.data_dir.path().join(name)) {
            bytes.extend(b);
        }
    }
    bytes
}

#[tokio::test]
async fn a_token_is_shown_once_stored_hashed_and_acts_as_its_account_until_revoked() {
    let app = spawn_app(|_| {}).await;
    for (name, role) in [("alice", Role::Admin), ("bob", Role::Member)] {
        app.state
            .accounts
            .add(name, PASSWORD.into(), role)
            .await
            .unwrap();
    }
    let bob = login(&app, "bob").await;
    let created = create(&app, &bob, "backup script").await;
    let token = created["token"].as_str().unwrap().to_owned();
    assert!(
        token.starts_with("sokoul_pat_") && token.len() > 40,
        "{token}"
    );
    assert_eq!(created["last_used"], Value::Null);

    // Bob's script is Bob: his profile's progress, and no admin route.
    assert_eq!(with_bearer(&app, "/api/progress", &token).await, 200);
    assert_eq!(with_bearer(&app, "/api/auth/users", &token).await, 403);
    let listed = list(&app, &bob).await;
    assert!(!listed.to_string().contains(&token), "{listed}");
    assert_eq!(listed["items"][0]["name"], "backup script");
    assert!(listed["items"][0]["last_used"].is_string(), "{listed}");

    // At rest: its SHA-256, never the token.
    assert!(
        !database_bytes(&app)
            .windows(token.len())
            .any(|w| w == token.as_bytes())
    );
    let conn = rusqlite::Connection::open(app.data_dir.path().join("sokoul.db")).unwrap();
    let stored: Vec<u8> = conn
        .query_row("SELECT hash FROM api_tokens", [], |r| r.get(0))
        .unwrap();
    assert_eq!(stored, Sha256::digest(token.as_bytes()).to_vec());

    // Alice cannot revoke Bob's token; Bob can, and it opens nothing after.
    let alice = login(&app, "alice").await;
    let path = format!("{}/api/tokens/{}", app.address, created["id"]);
    let r = app
        .client
        .delete(&path)
        .header("cookie", &alice)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = app
        .client
        .delete(&path)
        .header("cookie", &bob)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(with_bearer(&app, "/api/progress", &token).await, 401);
    assert_eq!(list(&app, &bob).await["items"], json!([]));
}

#[tokio::test]
async fn the_server_token_keeps_working_beside_personal_tokens() {
    let app = spawn_app(|s| {
        s.api_token = Some(sokoul::config::Secret::new("the old shared token"));
    })
    .await;
    app.state
        .accounts
        .add("alice", PASSWORD.into(), Role::Admin)
        .await
        .unwrap();
    assert_eq!(
        with_bearer(&app, "/api/auth/users", "the old shared token").await,
        200
    );
    let alice = login(&app, "alice").await;
    let token = create(&app, &alice, "cron").await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(with_bearer(&app, "/api/auth/users", &token).await, 200);
    assert_eq!(
        with_bearer(&app, "/api/progress", "sokoul_pat_guess").await,
        401
    );
}
