//! `cargo bench --bench accounts`: what accounts cost. A login is one Argon2id verification at
//! the chosen parameters (OWASP: 19 MiB, 2 passes, 1 lane); every request with a session cookie
//! pays for reading the cookie and checking the session (SHA-256 of the id, the in-memory
//! memo, the expiry arithmetic), which is what a session adds to a cached resolve.

use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, header};
use criterion::{Criterion, criterion_group, criterion_main};
use sokoul::accounts::{Accounts, Role, password, session};
use sokoul::clock::SystemClock;
use sokoul::config::AccountSettings;
use sokoul::store::Store;

fn argon2(c: &mut Criterion) {
    let mut group = c.benchmark_group("argon2id");
    group.sample_size(20);
    let stored = password::hash("correct horse battery").unwrap();
    group.bench_function("hash (new password)", |b| {
        b.iter(|| password::hash("correct horse battery").unwrap())
    });
    group.bench_function("verify (login)", |b| {
        b.iter(|| password::verify("correct horse battery", &stored))
    });
    group.finish();
}

fn session_check(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let accounts = Arc::new(Accounts::new(
        Store::in_memory().unwrap(),
        Arc::new(SystemClock),
        AccountSettings::default(),
    ));
    let id = rt.block_on(async {
        accounts
            .add("alice", "correct horse battery".into(), Role::Member)
            .await
            .unwrap();
        let opened = accounts
            .login(
                "alice",
                "correct horse battery".into(),
                "127.0.0.1".parse().unwrap(),
                None,
            )
            .await
            .unwrap();
        opened.id
    });
    let mut headers = HeaderMap::new();
    let cookie = format!("theme=dark; {}={id}", session::COOKIE);
    headers.insert(header::COOKIE, HeaderValue::from_str(&cookie).unwrap());
    c.bench_function("session check (cookie to account, memo hit)", |b| {
        b.to_async(&rt).iter(|| async {
            let id = session::from_headers(&headers).unwrap();
            accounts.session(&id).await.unwrap().unwrap()
        })
    });
}

criterion_group!(benches, argon2, session_check);
criterion_main!(benches);
