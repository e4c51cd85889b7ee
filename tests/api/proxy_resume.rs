//! Resuming a segment whose upstream connection broke halfway (issue 17): a raw-TCP origin
//! (as in `fault_server`) sends half of a segment, resets the connection when the test says,
//! and then answers a `Range` + `If-Range` request as a CDN would, or not at all.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

use crate::helpers::{TestApp, spawn_app};

const LEN: usize = 400_000;
const HALF: usize = LEN / 2;
const ETAG: &str = "\"r1\"";

fn body() -> Vec<u8> {
    (0..LEN)
        .map(|i| {
            if i % 188 == 0 {
                0x47
            } else {
                (i * 13 % 251) as u8
            }
        })
        .collect()
}

/// How the origin answers once its first answer broke.
#[derive(Clone, Copy, PartialEq)]
enum Then {
    /// A 206 of the rest, same validator.
    Resumes,
    /// The representation changed: `If-Range` fails, the whole new body comes back.
    Changed,
}

struct Origin {
    base: String,
    requests: Arc<Mutex<Vec<String>>>,
    release: Arc<Notify>,
}

async fn start_origin(ranges: bool, then: Then) -> Origin {
    start_origin_with(ranges, then, false).await
}

/// `cookie`: every answer sets a cookie, so the proxy relays it to one client, unshared.
async fn start_origin_with(ranges: bool, then: Then, cookie: bool) -> Origin {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(Mutex::new(Vec::new()));
    let release = Arc::new(Notify::new());
    let (log, gate) = (requests.clone(), release.clone());
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let (log, gate) = (log.clone(), gate.clone());
            tokio::spawn(answer(
                socket,
                log,
                gate,
                Kind {
                    ranges,
                    then,
                    cookie,
                },
            ));
        }
    });
    Origin {
        base,
        requests,
        release,
    }
}

async fn read_head(socket: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = socket.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        head.extend_from_slice(&buf[..n]);
    }
    String::from_utf8(head).ok()
}

fn head(status: &str, headers: &[(&str, String)]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status}\r\nConnection: close\r\nContent-Type: video/mp2t\r\n");
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    out.into_bytes()
}

#[derive(Clone, Copy)]
struct Kind {
    ranges: bool,
    then: Then,
    cookie: bool,
}

async fn answer(
    mut socket: TcpStream,
    log: Arc<Mutex<Vec<String>>>,
    release: Arc<Notify>,
    kind: Kind,
) {
    let Kind {
        ranges,
        then,
        cookie,
    } = kind;
    let Some(request) = read_head(&mut socket).await else {
        return;
    };
    let first = log.lock().unwrap().is_empty();
    log.lock().unwrap().push(request.to_ascii_lowercase());
    let body = body();
    let mut validators = vec![("ETag", ETAG.to_string())];
    if ranges {
        validators.push(("Accept-Ranges", "bytes".to_string()));
    }
    if cookie {
        validators.push(("Set-Cookie", "session=1".to_string()));
    }
    // `bytes=a-` or `bytes=a-b`.
    let range = request.lines().find_map(|l| {
        let spec = l
            .to_ascii_lowercase()
            .strip_prefix("range: bytes=")?
            .trim()
            .to_string();
        let (a, b) = spec.split_once('-')?;
        let a: usize = a.parse().ok()?;
        Some((a, b.parse::<usize>().map_or(LEN - 1, |b| b.min(LEN - 1))))
    });
    let partial = |a: usize, b: usize, bytes: &[u8]| {
        let extra = [
            ("Content-Length", (b + 1 - a).to_string()),
            ("Content-Range", format!("bytes {a}-{b}/{LEN}")),
        ];
        let mut out = head("206 Partial Content", &[&validators[..], &extra].concat());
        out.extend_from_slice(bytes);
        out
    };
    let mut out;
    if first {
        out = match range {
            Some((a, b)) => partial(a, b, &body[a..a + (b + 1 - a) / 2]),
            None => {
                let length = [("Content-Length", LEN.to_string())];
                let mut out = head("200 OK", &[&validators[..], &length].concat());
                out.extend_from_slice(&body[..HALF]);
                out
            }
        };
        let _ = socket.write_all(&out).await;
        release.notified().await;
        // A zero linger makes the close a TCP reset.
        #[allow(deprecated)]
        let _ = socket.set_linger(Some(Duration::ZERO));
        return;
    }
    match (range, then) {
        (Some((a, b)), Then::Resumes) => out = partial(a, b, &body[a..=b]),
        _ => {
            let changed = [
                ("ETag", "\"r2\"".to_string()),
                ("Content-Length", LEN.to_string()),
            ];
            out = head("200 OK", &changed);
            out.extend(body.iter().map(|b| b ^ 0xff));
        }
    }
    let _ = socket.write_all(&out).await;
    let _ = socket.shutdown().await;
}

fn mint(app: &TestApp, upstream: &str) -> String {
    let headers = [("Referer".to_string(), "https://embed.example/".to_string())];
    app.state
        .signer
        .mint(upstream, &headers, app.state.clock.unix() + 3600)
}

/// Reads the proxied segment: the first chunk, then the release of the reset, then the rest.
/// The bytes received, and whether the body ended cleanly.
async fn read_through_a_reset(app: &TestApp, origin: &Origin) -> (Vec<u8>, bool) {
    read_range_through_a_reset(app, origin, None).await
}

async fn read_range_through_a_reset(
    app: &TestApp,
    origin: &Origin,
    range: Option<&str>,
) -> (Vec<u8>, bool) {
    let url = mint(app, &format!("{}/seg.ts", origin.base));
    let mut request = app.client.get(format!("{}{url}", app.address));
    if let Some(range) = range {
        request = request.header("Range", range);
    }
    let mut r = request.send().await.unwrap();
    assert_eq!(r.status(), if range.is_some() { 206 } else { 200 });
    let mut got = r.chunk().await.unwrap().unwrap().to_vec();
    origin.release.notify_one();
    loop {
        match r.chunk().await {
            Ok(Some(chunk)) => got.extend_from_slice(&chunk),
            Ok(None) => return (got, true),
            Err(_) => return (got, false),
        }
    }
}

fn allow_loopback(s: &mut sokoul::config::Settings) {
    s.proxy.allow = vec!["127.0.0.1".into()];
}

#[tokio::test]
async fn a_segment_reset_halfway_is_resumed_with_range_and_arrives_exact() {
    let origin = start_origin(true, Then::Resumes).await;
    let app = spawn_app(allow_loopback).await;
    let (got, clean) = read_through_a_reset(&app, &origin).await;
    assert!(clean, "the response ended cleanly");
    assert_eq!(Sha256::digest(&got), Sha256::digest(body()));
    let requests = origin.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert!(requests[1].contains("range: bytes="), "{}", requests[1]);
    assert!(
        requests[1].contains(&format!("if-range: {ETAG}")),
        "{}",
        requests[1]
    );
    assert_eq!(app.state.metrics.edge.resumes.get(), 1);
}

#[tokio::test]
async fn without_range_support_the_response_ends_as_before() {
    let origin = start_origin(false, Then::Resumes).await;
    let app = spawn_app(allow_loopback).await;
    let (got, clean) = read_through_a_reset(&app, &origin).await;
    assert!(!clean, "the body was cut, not ended");
    assert!(got.len() < LEN && body().starts_with(&got));
    assert_eq!(origin.requests.lock().unwrap().len(), 1);
    assert_eq!(app.state.metrics.edge.resumes.get(), 0);
}

#[tokio::test]
async fn a_changed_validator_is_not_spliced_onto_the_old_bytes() {
    let origin = start_origin(true, Then::Changed).await;
    let app = spawn_app(allow_loopback).await;
    let (got, clean) = read_through_a_reset(&app, &origin).await;
    assert!(!clean, "the body was cut, not ended");
    assert!(got.len() < LEN && body().starts_with(&got));
    assert_eq!(origin.requests.lock().unwrap().len(), 2);
    assert_eq!(app.state.metrics.edge.resumes.get(), 0);
}

#[tokio::test]
async fn a_body_relayed_to_one_client_alone_is_resumed_too() {
    // A cookie: the answer is this client's alone, relayed without the shared cache.
    let origin = start_origin_with(true, Then::Resumes, true).await;
    let app = spawn_app(allow_loopback).await;
    let (got, clean) = read_through_a_reset(&app, &origin).await;
    assert!(clean, "the response ended cleanly");
    assert_eq!(Sha256::digest(&got), Sha256::digest(body()));
    assert_eq!(origin.requests.lock().unwrap().len(), 2);
    assert_eq!(app.state.metrics.edge.resumes.get(), 1);
}

#[tokio::test]
async fn a_clients_range_is_resumed_within_the_range() {
    let origin = start_origin(true, Then::Resumes).await;
    let app = spawn_app(allow_loopback).await;
    let range = "bytes=100000-299999";
    let (got, clean) = read_range_through_a_reset(&app, &origin, Some(range)).await;
    assert!(clean, "the response ended cleanly");
    assert_eq!(got, body()[100_000..300_000]);
    let requests = origin.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert!(requests[1].contains("-299999"), "{}", requests[1]);
    assert_eq!(app.state.metrics.edge.resumes.get(), 1);
}
