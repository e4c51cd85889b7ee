//! `cargo bench --bench accounts`: what accounts cost. A login is one Argon2id verification at
//! the chosen parameters (OWASP: 19 MiB, 2 passes, 1 lane); every request with a session cookie
//! pays for reading the cookie and checking the session (SHA-256 of the id, the in-memory
//! memo, the expiry arithmetic), which is what a session adds to a cached resolve; every
//! segment fetched with a media token bound to a session pays the token's tag and the same
//! memo.

use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, header};
use criterion::{Criterion, criterion_group, criterion_main};
use sokoul::accounts::{Accounts, Role, password, session};
use sokoul::clock::SystemClock;
use sokoul::config::AccountSettings;
use sokoul::security::media_url::{self, Binding, MediaUrls};
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
    media_token_check(c, &rt, &accounts, &id);
}

/// What a segment fetched with a session's media token pays before its handler: the token's
/// tag (keyed BLAKE3), then the session it is bound to, from the session check's memo.
fn media_token_check(
    c: &mut Criterion,
    rt: &tokio::runtime::Runtime,
    accounts: &Arc<Accounts>,
    id: &str,
) {
    let urls = MediaUrls::new(b"a bench secret of some length", "");
    let short = session::short(&session::hash(id));
    let path = "/api/media/12/hls/v/431.ts";
    let signed = urls.sign(path, u64::MAX / 2, Binding::Session(short));
    let query = signed.split_once('?').map(|(_, q)| q.to_owned());
    c.bench_function("bound media token check (tag, session memo hit)", |b| {
        b.to_async(rt).iter(|| async {
            let token = media_url::token_in(query.as_deref()).unwrap();
            let Binding::Session(short) = urls.verify(path, token, 1_000).unwrap() else {
                unreachable!("the token is bound")
            };
            accounts.session_by_short(&short).await.unwrap().unwrap()
        })
    });
}

criterion_group!(benches, argon2, session_check);
criterion_main!(benches);
