//! The HLS proxy end to end: a real origin on loopback that refuses requests without the
//! expected `Referer`, the real app in front of it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use tokio::sync::mpsc;
use url::Url;

use sokoul::proxy::token::CHILD_PREFIX;

use crate::helpers::{TestApp, spawn_app};

const REFERER: &str = "https://embed.example/";

/// One request as the origin saw it.
#[derive(Debug, Clone)]
struct Seen {
    path_and_query: String,
    headers: HeaderMap,
}

#[derive(Clone)]
struct OriginState {
    files: Arc<HashMap<String, (&'static str, Bytes)>>,
    log: Arc<Mutex<Vec<Seen>>>,
    /// Receives a message when the body of `/endless` is dropped (the connection closed).
    dropped: mpsc::UnboundedSender<()>,
}

struct Origin {
    addr: SocketAddr,
    log: Arc<Mutex<Vec<Seen>>>,
    dropped: mpsc::UnboundedReceiver<()>,
}

impl Origin {
    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    fn seen(&self) -> Vec<Seen> {
        self.log.lock().unwrap().clone()
    }
}

async fn start_origin(files: Vec<(&str, &'static str, Vec<u8>)>) -> Origin {
    let (tx, rx) = mpsc::unbounded_channel();
    let log = Arc::new(Mutex::new(Vec::new()));
    let state = OriginState {
        files: Arc::new(
            files
                .into_iter()
                .map(|(p, t, b)| (p.to_string(), (t, Bytes::from(b))))
                .collect(),
        ),
        log: log.clone(),
        dropped: tx,
    };
    let app = axum::Router::new().fallback(serve).with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Origin {
        addr,
        log,
        dropped: rx,
    }
}

struct NotifyOnDrop(mpsc::UnboundedSender<()>);

impl Drop for NotifyOnDrop {
    fn drop(&mut self) {
        let _ = self.0.send(());
    }
}

async fn serve(State(st): State<OriginState>, req: Request) -> Response {
    let mut path = req.uri().path().to_string();
    let query = req.uri().query().map(str::to_string);
    st.log.lock().unwrap().push(Seen {
        path_and_query: req.uri().to_string(),
        headers: req.headers().clone(),
    });
    if req
        .headers()
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        != Some(REFERER)
    {
        return (StatusCode::FORBIDDEN, "no hotlinking").into_response();
    }
    if let Some(rest) = path.strip_prefix("/redirect/") {
        let (n, target) = rest.split_once('/').unwrap();
        let n: u32 = n.parse().unwrap();
        let next = if n == 0 {
            format!("/{target}")
        } else {
            format!("/redirect/{}/{target}", n - 1)
        };
        return (StatusCode::FOUND, [(header::LOCATION, next)]).into_response();
    }
    if path == "/redirect-to" {
        let to = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .find(|(k, _)| k == "to")
            .unwrap()
            .1
            .into_owned();
        return (StatusCode::FOUND, [(header::LOCATION, to)]).into_response();
    }
    if let Some(rest) = path.strip_prefix("/flaky/") {
        // `/flaky/N/file`: 503 for the first N requests of this exact URL, then the file.
        let (n, target) = rest.split_once('/').unwrap();
        let n: usize = n.parse().unwrap();
        let uri = req.uri().to_string();
        let seen = st
            .log
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.path_and_query == uri)
            .count();
        if seen <= n {
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
        path = format!("/{target}");
    }
    if let Some(code) = path.strip_prefix("/status/") {
        return StatusCode::from_u16(code.parse().unwrap())
            .unwrap()
            .into_response();
    }
    if path == "/other-host.m3u8" {
        // Names a segment through another spelling of this origin's host.
        let host = req.headers()[header::HOST].to_str().unwrap();
        let port = host.rsplit(':').next().unwrap();
        let body = format!("#EXTM3U\n#EXTINF:1,\nhttp://localhost:{port}/hls/v1/seg1.m4s\n");
        return (
            [(header::CONTENT_TYPE, "application/vnd.apple.mpegurl")],
            body,
        )
            .into_response();
    }
    if path == "/slow" {
        tokio::time::sleep(Duration::from_secs(5)).await;
        return "late".into_response();
    }
    if path == "/endless" {
        let guard = NotifyOnDrop(st.dropped.clone());
        let chunk = Bytes::from(vec![0x47u8; 64 * 1024]);
        let stream = futures::stream::unfold((guard, chunk), |(g, c)| async move {
            tokio::time::sleep(Duration::from_millis(5)).await;
            Some((Ok::<_, std::io::Error>(c.clone()), (g, c)))
        });
        return (
            [(header::CONTENT_TYPE, "video/mp2t")],
            Body::from_stream(stream),
        )
            .into_response();
    }
    let Some((ctype, body)) = st.files.get(&path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let range = req
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.split_once('-'));
    let common = [
        (header::CONTENT_TYPE, ctype.to_string()),
        (header::ACCEPT_RANGES, "bytes".into()),
        (header::ETAG, "\"v1\"".into()),
    ];
    match range {
        Some((a, b)) => {
            let len = body.len() as u64;
            let start: u64 = a.parse().unwrap();
            let end: u64 = if b.is_empty() {
                len - 1
            } else {
                b.parse::<u64>().unwrap().min(len - 1)
            };
            (
                StatusCode::PARTIAL_CONTENT,
                common,
                [(header::CONTENT_RANGE, format!("bytes {start}-{end}/{len}"))],
                body.slice(start as usize..=end as usize),
            )
                .into_response()
        }
        None => (
            common,
            [(header::SET_COOKIE, "tracking=1".to_string())],
            body.clone(),
        )
            .into_response(),
    }
}

fn referer() -> Vec<(String, String)> {
    vec![("Referer".to_string(), REFERER.to_string())]
}

fn mint(app: &TestApp, upstream: &str) -> String {
    mint_with(app, upstream, &referer())
}

fn mint_with(app: &TestApp, upstream: &str, headers: &[(String, String)]) -> String {
    let expires = app.state.clock.unix() + 3600;
    app.state.signer.mint(upstream, headers, expires)
}

/// The proxy URLs in a rewritten document, in order, as paths on the app (resolved against
/// the document's own URL, as a player does).
fn children(parent: &str, playlist: &str) -> Vec<String> {
    let base = Url::parse(&format!("http://sokoul{parent}")).unwrap();
    let mut out = Vec::new();
    for line in playlist.lines() {
        let mut rest = line;
        while let Some(i) = rest.find(CHILD_PREFIX) {
            let tail = &rest[i..];
            let end = tail.find(['"', ',', ' ']).unwrap_or(tail.len());
            let u = base.join(&tail[..end]).unwrap();
            out.push(format!("{}?{}", u.path(), u.query().unwrap()));
            rest = &tail[end..];
        }
    }
    out
}

fn allow_loopback(s: &mut sokoul::config::Settings) {
    s.proxy.allow = vec!["127.0.0.1".into()];
}

async fn error_code(r: reqwest::Response) -> (u16, String) {
    let status = r.status().as_u16();
    let body: serde_json::Value = r.json().await.expect("a JSON error body");
    (status, body["error"]["code"].as_str().unwrap().to_string())
}

fn stream_files() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    vec![
        (
            "/hls/master.m3u8",
            "application/vnd.apple.mpegurl",
            b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000\nv1/index.m3u8\n".to_vec(),
        ),
        (
            "/hls/v1/index.m3u8",
            "application/x-mpegURL",
            b"#EXTM3U\r\n#EXT-X-TARGETDURATION:4\r\n#EXT-X-KEY:METHOD=AES-128,URI=\"../keys/k1.bin\",IV=0x01\r\n#EXT-X-MAP:URI=\"init.mp4\"\r\n#EXTINF:4,\r\nseg0.m4s\r\n#EXTINF:4,\r\n/hls/v1/seg1.m4s\r\n#EXT-X-ENDLIST".to_vec(),
        ),
        ("/hls/keys/k1.bin", "application/octet-stream", (0u8..16).collect()),
        ("/hls/v1/init.mp4", "video/mp4", b"\0\0\0\x18ftypiso6 init section".to_vec()),
        ("/hls/v1/seg0.m4s", "video/iso.segment", (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect()),
        ("/hls/v1/seg1.m4s", "video/iso.segment", (0..70_000u32).map(|i| (i % 13) as u8).collect()),
    ]
}

#[tokio::test]
async fn master_variant_key_init_and_segments_play_through_the_proxy_byte_for_byte() {
    let origin = start_origin(stream_files()).await;
    let app = spawn_app(allow_loopback).await;
    // The origin really refuses a client without the Referer.
    let direct = reqwest::get(origin.url("/hls/v1/seg0.m4s")).await.unwrap();
    assert_eq!(direct.status(), 403);

    let master_url = mint(&app, &origin.url("/hls/master.m3u8"));
    let r = app.get(&master_url).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/vnd.apple.mpegurl");
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    let master = r.text().await.unwrap();
    assert!(master.starts_with(
        "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000\n/api/streaming/proxy/f.m3u8?c="
    ));
    let variant_url = &children(&master_url, &master)[0];

    let media = app.get(variant_url).await.text().await.unwrap();
    assert!(
        media.contains("\r\n#EXTINF:4,\r\n") && media.ends_with("#EXT-X-ENDLIST"),
        "{media}"
    );
    let urls = children(variant_url, &media);
    assert_eq!(urls.len(), 4, "key, init, two segments: {media}");
    let files: HashMap<_, _> = stream_files().into_iter().map(|(p, _, b)| (p, b)).collect();
    for (url, path) in urls.iter().zip([
        "/hls/keys/k1.bin",
        "/hls/v1/init.mp4",
        "/hls/v1/seg0.m4s",
        "/hls/v1/seg1.m4s",
    ]) {
        let r = app.get(url).await;
        assert_eq!(r.status(), 200, "{path}");
        assert!(
            r.headers().get("set-cookie").is_none(),
            "upstream cookies stay upstream"
        );
        assert_eq!(r.headers()["etag"], "\"v1\"");
        let body = r.bytes().await.unwrap();
        assert_eq!(body.as_ref(), files[path].as_slice(), "{path}");
    }
    assert!(
        origin
            .seen()
            .iter()
            .all(|s| s.headers.get("referer").is_some_and(|v| v == REFERER)
                || s.path_and_query == "/hls/v1/seg0.m4s")
    );
}

#[tokio::test]
async fn a_range_request_gets_a_206_with_content_range_and_only_range_headers_go_upstream() {
    let origin = start_origin(stream_files()).await;
    let app = spawn_app(allow_loopback).await;
    let url = mint(&app, &origin.url("/hls/v1/seg0.m4s"));
    let r = app
        .client
        .get(format!("{}{}", app.address, url))
        .header("Range", "bytes=100-199")
        .header("Cookie", "session=browser-secret")
        .header("User-Agent", "browser")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.headers()["content-range"], "bytes 100-199/200000");
    assert_eq!(r.headers()["content-length"], "100");
    let body = r.bytes().await.unwrap();
    let expected: Vec<u8> = (100..200u32).map(|i| (i * 7 % 251) as u8).collect();
    assert_eq!(body.as_ref(), expected.as_slice());
    let seen = origin.seen().pop().unwrap();
    assert_eq!(seen.headers["range"], "bytes=100-199");
    assert!(seen.headers.get("cookie").is_none());
    assert_ne!(seen.headers["user-agent"], "browser");
}

#[tokio::test]
async fn a_playlist_asked_for_with_a_range_is_rewritten_whole() {
    let origin = start_origin(stream_files()).await;
    let app = spawn_app(allow_loopback).await;
    let url = mint(&app, &origin.url("/hls/master.m3u8"));
    for range in ["bytes=0-", "bytes=0-10", "bytes=5-"] {
        let r = app
            .client
            .get(format!("{}{}", app.address, url))
            .header("Range", range)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{range}");
        assert!(r.headers().get("content-range").is_none());
        let body = r.text().await.unwrap();
        assert_eq!(children(&url, &body).len(), 1, "{range}: {body}");
    }
}

#[tokio::test]
async fn the_source_headers_go_upstream_on_every_child_whatever_its_host() {
    let origin = start_origin(stream_files()).await;
    let app = spawn_app(allow_loopback).await;
    let headers = vec![
        ("Referer".to_string(), REFERER.to_string()),
        ("Cookie".to_string(), "cdn=1".to_string()),
        ("User-Agent".to_string(), "Special/1.0".to_string()),
    ];
    let url = mint_with(&app, &origin.url("/hls/v1/index.m3u8"), &headers);
    let media = app.get(&url).await.text().await.unwrap();
    for u in children(&url, &media) {
        assert_eq!(app.get(&u).await.status(), 200);
    }
    let url = mint_with(&app, &origin.url("/other-host.m3u8"), &headers);
    let other = app.get(&url).await.text().await.unwrap();
    let seg = &children(&url, &other)[0];
    assert_eq!(app.get(seg).await.status(), 200);
    let seen = origin.seen();
    assert_eq!(seen.len(), 7);
    assert_eq!(
        seen[6].headers["host"],
        format!("localhost:{}", origin.addr.port())
    );
    for s in seen {
        assert_eq!(s.headers["cookie"], "cdn=1");
        assert_eq!(s.headers["user-agent"], "Special/1.0");
    }
}

#[tokio::test]
async fn redirects_are_followed_and_children_resolve_against_the_final_url() {
    let origin = start_origin(stream_files()).await;
    let app = spawn_app(allow_loopback).await;
    let url = mint(&app, &origin.url("/redirect/2/hls/v1/index.m3u8"));
    let r = app.get(&url).await;
    assert_eq!(r.status(), 200);
    let media = r.text().await.unwrap();
    let seg = &children(&url, &media)[2];
    let body = app.get(seg).await.bytes().await.unwrap();
    assert_eq!(
        body.len(),
        200_000,
        "seg0.m4s resolved against /hls/v1/, not /redirect/"
    );
}

#[tokio::test]
async fn redirects_beyond_the_cap_fail_with_502() {
    let origin = start_origin(stream_files()).await;
    let app = spawn_app(|s| {
        allow_loopback(s);
        s.proxy.max_redirects = 2;
    })
    .await;
    let r = app
        .get(&mint(&app, &origin.url("/redirect/3/hls/master.m3u8")))
        .await;
    assert_eq!(error_code(r).await, (502, "too_many_redirects".into()));
}

#[tokio::test]
async fn forged_altered_and_expired_urls_are_refused_with_403() {
    let origin = start_origin(stream_files()).await;
    let app = spawn_app(allow_loopback).await;
    let url = mint(&app, &origin.url("/hls/master.m3u8"));
    let q: Vec<(String, String)> = Url::parse(&format!("http://x{url}"))
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    let p = |n: &str| q.iter().find(|(k, _)| k == n).unwrap().1.clone();
    use base64::Engine;
    let other_u =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(origin.url("/hls/keys/k1.bin"));
    let forged = sokoul::proxy::token::Signer::new(b"not the secret").mint(
        &origin.url("/hls/master.m3u8"),
        &referer(),
        app.state.clock.unix() + 60,
    );
    let cases = [
        (
            format!(
                "/api/streaming/proxy?c={}&u={}&s={}",
                p("c"),
                other_u,
                p("s")
            ),
            "proxy_url_invalid",
        ),
        (
            format!(
                "/api/streaming/proxy?c={}&u={}&s=AAAAAAAAAAAAAAAAAAAAAA",
                p("c"),
                p("u")
            ),
            "proxy_url_invalid",
        ),
        (
            format!("/api/streaming/proxy?c={}&u={}", p("c"), p("u")),
            "proxy_url_malformed",
        ),
        ("/api/streaming/proxy".to_string(), "proxy_url_malformed"),
        (forged, "proxy_url_invalid"),
    ];
    for (path, code) in cases {
        assert_eq!(
            error_code(app.get(&path).await).await,
            (403, code.to_string()),
            "{path}"
        );
    }
    assert_eq!(app.get(&url).await.status(), 200);
    app.clock.advance(3601);
    assert_eq!(
        error_code(app.get(&url).await).await,
        (403, "proxy_url_expired".into())
    );
    assert_eq!(
        origin.seen().len(),
        1,
        "refused URLs never reach the origin"
    );
}

#[tokio::test]
async fn loopback_private_and_mapped_addresses_are_refused_without_an_allow_entry() {
    let origin = start_origin(stream_files()).await;
    let app = spawn_app(|_| {}).await;
    let port = origin.addr.port();
    for target in [
        format!("http://127.0.0.1:{port}/hls/master.m3u8"),
        format!("http://localhost:{port}/hls/master.m3u8"),
        format!("http://[::ffff:127.0.0.1]:{port}/hls/master.m3u8"),
        format!("http://[::1]:{port}/hls/master.m3u8"),
        "http://169.254.169.254/latest/meta-data/".to_string(),
        "http://10.0.0.1/x.m3u8".to_string(),
        "http://metadata.google.internal/computeMetadata/v1/".to_string(),
        "file:///etc/passwd".to_string(),
    ] {
        let r = app.get(&mint(&app, &target)).await;
        assert_eq!(
            error_code(r).await,
            (403, "destination_not_allowed".into()),
            "{target}"
        );
    }
    assert!(origin.seen().is_empty(), "no request reached the origin");
}

#[tokio::test]
async fn a_redirect_to_a_private_address_is_refused() {
    let origin = start_origin(stream_files()).await;
    // Only the origin's exact address and port are allowed.
    let port = origin.addr.port();
    let app = spawn_app(move |s| s.proxy.allow = vec![format!("127.0.0.1:{port}")]).await;
    assert_eq!(
        app.get(&mint(&app, &origin.url("/hls/master.m3u8")))
            .await
            .status(),
        200
    );
    for to in [
        "http://169.254.169.254/latest/meta-data/".to_string(),
        format!("http://localhost:{port}/hls/master.m3u8"),
        "http://127.0.0.1:1/".to_string(),
    ] {
        let target = origin.url(&format!(
            "/redirect-to?to={}",
            url::form_urlencoded::byte_serialize(to.as_bytes()).collect::<String>()
        ));
        let r = app.get(&mint(&app, &target)).await;
        assert_eq!(
            error_code(r).await,
            (403, "destination_not_allowed".into()),
            "{to}"
        );
    }
}

#[tokio::test]
async fn upstream_refusals_keep_their_status_and_failures_become_502_or_504() {
    let origin = start_origin(stream_files()).await;
    let app = spawn_app(|s| {
        allow_loopback(s);
        s.proxy.first_byte_timeout = 0.3;
    })
    .await;
    for (path, expected) in [
        ("/status/403", (403, "upstream_forbidden")),
        ("/status/404", (404, "upstream_not_found")),
        ("/status/410", (410, "upstream_gone")),
        ("/status/500", (502, "upstream_error")),
        ("/status/429", (502, "upstream_error")),
        ("/slow", (504, "upstream_timeout")),
    ] {
        let r = app.get(&mint(&app, &origin.url(path))).await;
        assert_eq!(
            error_code(r).await,
            (expected.0, expected.1.to_string()),
            "{path}"
        );
    }
    // Nothing listens on port 1.
    let r = app.get(&mint(&app, "http://127.0.0.1:1/x.ts")).await;
    assert_eq!(error_code(r).await, (502, "upstream_unreachable".into()));
    // Without the source's Referer the origin refuses, and the player learns it as a 403.
    let r = app
        .get(&mint_with(&app, &origin.url("/hls/master.m3u8"), &[]))
        .await;
    assert_eq!(error_code(r).await, (403, "upstream_forbidden".into()));
}

#[tokio::test]
async fn failures_before_the_first_byte_are_retried_but_refusals_are_not() {
    let origin = start_origin(stream_files()).await;
    let app = spawn_app(|s| {
        allow_loopback(s);
        s.proxy.retries = 2;
    })
    .await;
    let count = |path: &str| {
        origin
            .seen()
            .iter()
            .filter(|s| s.path_and_query == path)
            .count()
    };
    // Two 503s, then the segment: the viewer sees only the segment.
    let r = app
        .get(&mint(&app, &origin.url("/flaky/2/hls/v1/seg1.m4s")))
        .await;
    assert_eq!(r.status(), 200);
    let expected: Vec<u8> = (0..70_000u32).map(|i| (i % 13) as u8).collect();
    assert_eq!(r.bytes().await.unwrap().as_ref(), &expected[..]);
    assert_eq!(count("/flaky/2/hls/v1/seg1.m4s"), 3);
    assert_eq!(app.state.metrics.proxy_retries.get(), 2);

    // Always 503: three attempts, then the failure.
    let r = app.get(&mint(&app, &origin.url("/status/503"))).await;
    assert_eq!(error_code(r).await, (502, "upstream_error".into()));
    assert_eq!(count("/status/503"), 3);

    // A refusal is an answer, not a fault: asked once.
    let r = app.get(&mint(&app, &origin.url("/status/404"))).await;
    assert_eq!(error_code(r).await, (404, "upstream_not_found".into()));
    assert_eq!(count("/status/404"), 1);
}

#[tokio::test]
async fn retries_never_run_past_the_first_byte_deadline() {
    let origin = start_origin(stream_files()).await;
    let app = spawn_app(|s| {
        allow_loopback(s);
        // Backoff starts at 50–150 ms: with a 60 ms deadline at most one retry fits.
        s.proxy.retries = 10;
        s.proxy.first_byte_timeout = 0.06;
    })
    .await;
    let r = app.get(&mint(&app, &origin.url("/status/502"))).await;
    // The origin's 502, or, on a loaded machine where the first attempt alone outlives the
    // 60 ms, the deadline's 504: either way the retries stop at the deadline, not at 10.
    let answer = error_code(r).await;
    assert!(
        answer == (502, "upstream_error".into()) || answer == (504, "upstream_timeout".into()),
        "{answer:?}"
    );
    let attempts = origin
        .seen()
        .iter()
        .filter(|s| s.path_and_query == "/status/502")
        .count();
    assert!(attempts <= 2, "{attempts} attempts");
    if answer.0 == 502 {
        assert!(attempts >= 1, "a 502 comes from the origin");
    }
}

#[tokio::test]
async fn a_host_at_its_concurrency_limit_makes_others_wait_then_fail_with_503() {
    let origin = start_origin(stream_files()).await;
    let app = spawn_app(|s| {
        allow_loopback(s);
        s.proxy.max_per_host = 1;
        s.proxy.first_byte_timeout = 0.5;
    })
    .await;
    // A stream in progress holds the host's only slot…
    let mut streaming = app.get(&mint(&app, &origin.url("/endless"))).await;
    assert_eq!(streaming.status(), 200);
    let _ = streaming.chunk().await.unwrap();
    // …so the next request to that host waits for it until the deadline.
    let r = app.get(&mint(&app, &origin.url("/hls/master.m3u8"))).await;
    assert_eq!(error_code(r).await, (503, "upstream_busy".into()));
    // A waiting request gets the slot as soon as it is freed.
    let waiting = {
        let url = format!(
            "{}{}",
            app.address,
            mint(&app, &origin.url("/hls/master.m3u8"))
        );
        let client = app.client.clone();
        tokio::spawn(async move { client.get(url).send().await.unwrap().status() })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(streaming);
    assert_eq!(waiting.await.unwrap(), 200);
}

#[tokio::test]
async fn one_client_cannot_take_every_slot_of_a_host_from_another_viewer() {
    let origin = start_origin(stream_files()).await;
    let app = spawn_app(|s| {
        allow_loopback(s);
        s.proxy.max_per_host = 2;
        s.proxy.first_byte_timeout = 1.0;
    })
    .await;
    // One client opens as many endless streams as it can: each that gets an answer holds
    // a slot to the host for as long as it is read.
    let url = mint(&app, &origin.url("/endless"));
    let greedy = (0..4).map(|_| app.get(&url));
    let mut held = Vec::new();
    for r in futures::future::join_all(greedy).await {
        if r.status() == 200 {
            held.push(r);
        } else {
            assert_eq!(error_code(r).await, (503, "upstream_busy".into()));
        }
    }
    assert!(!held.is_empty());
    // Another viewer (another address on loopback) still gets a slot to that host.
    let other = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .build()
        .unwrap();
    let r = other
        .get(format!(
            "{}{}",
            app.address,
            mint(&app, &origin.url("/hls/master.m3u8"))
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
    drop(held);
}

#[tokio::test]
async fn relayed_bodies_keep_only_the_content_types_a_player_needs() {
    let origin = start_origin(vec![
        (
            "/x.js",
            "application/javascript",
            b"alert(document.domain)".to_vec(),
        ),
        (
            "/x.html",
            "text/html",
            b"<script>alert(1)</script>".to_vec(),
        ),
        ("/x.svg", "image/svg+xml", b"<svg onload=alert(1)>".to_vec()),
        ("/seg.ts", "video/mp2t", vec![0x47; 188]),
        ("/sub.vtt", "text/vtt", b"WEBVTT\n".to_vec()),
        (
            "/p.m3u8",
            "application/vnd.apple.mpegurl",
            b"#EXTM3U\n#EXTINF:1,\ns.ts\n".to_vec(),
        ),
    ])
    .await;
    let app = spawn_app(allow_loopback).await;
    for (path, expected) in [
        ("/x.js", "application/octet-stream"),
        ("/x.html", "application/octet-stream"),
        ("/x.svg", "application/octet-stream"),
        ("/seg.ts", "video/mp2t"),
        ("/sub.vtt", "text/vtt"),
        ("/p.m3u8", "application/vnd.apple.mpegurl"),
    ] {
        let r = app.get(&mint(&app, &origin.url(path))).await;
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(r.headers()["content-type"], expected, "{path}");
        assert_eq!(r.headers()["x-content-type-options"], "nosniff", "{path}");
    }
}

#[tokio::test]
async fn a_playlist_over_the_cap_fails_with_502_instead_of_being_buffered() {
    let mut big = b"#EXTM3U\n".to_vec();
    while big.len() < 200_000 {
        big.extend_from_slice(b"#EXTINF:4,\nsegment.ts\n");
    }
    // Served as text/plain: recognised by its content, and too large all the same.
    let origin = start_origin(vec![("/big.txt", "text/plain", big)]).await;
    let app = spawn_app(|s| {
        allow_loopback(s);
        s.proxy.max_playlist_bytes = 100_000;
    })
    .await;
    let r = app.get(&mint(&app, &origin.url("/big.txt"))).await;
    assert_eq!(error_code(r).await, (502, "playlist_too_large".into()));
}

#[tokio::test]
async fn playlists_are_recognised_by_content_not_by_extension() {
    let origin = start_origin(vec![
        (
            "/a.txt",
            "text/plain",
            b"\xEF\xBB\xBF#EXTM3U\n#EXTINF:1,\ns.ts\n".to_vec(),
        ),
        (
            "/b.m3u8",
            "application/octet-stream",
            b"not a playlist\ns.ts\n".to_vec(),
        ),
    ])
    .await;
    let app = spawn_app(allow_loopback).await;
    let a = app.get(&mint(&app, &origin.url("/a.txt"))).await;
    assert_eq!(a.headers()["content-type"], "application/vnd.apple.mpegurl");
    let a = a.text().await.unwrap();
    assert!(
        a.starts_with("\u{feff}#EXTM3U\n#EXTINF:1,\n/api/streaming/proxy/f.ts?c="),
        "{a}"
    );
    let b = app
        .get(&mint(&app, &origin.url("/b.m3u8")))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(b, "not a playlist\ns.ts\n");
}

#[tokio::test]
async fn ll_hls_directives_go_upstream_and_never_into_child_urls() {
    let origin = start_origin(vec![(
        "/live/index.m3u8",
        "application/vnd.apple.mpegurl",
        b"#EXTM3U\n#EXT-X-PART:DURATION=1,URI=\"p1.mp4\"\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"p2.mp4\"\n".to_vec(),
    )])
    .await;
    let app = spawn_app(allow_loopback).await;
    let url = mint(
        &app,
        &format!("{}?tok=a%2Fb", origin.url("/live/index.m3u8")),
    );
    let with = format!(
        "{url}&_HLS_msn=12&_HLS_part=3&_HLS_skip=YES&_HLS_msn_evil=1&_HLS_pathway=bad%20id"
    );
    let playlist = app.get(&with).await.text().await.unwrap();
    let seen = origin.seen().pop().unwrap();
    assert_eq!(
        seen.path_and_query,
        "/live/index.m3u8?tok=a%2Fb&_HLS_msn=12&_HLS_part=3&_HLS_skip=YES"
    );
    assert!(!playlist.contains("_HLS_"));
    let kids = children(&url, &playlist);
    assert_eq!(kids.len(), 2);
    let again = app.get(&url).await.text().await.unwrap();
    assert_eq!(
        again, playlist,
        "directives change nothing in the rewritten URLs"
    );
}

#[tokio::test]
async fn a_steering_manifest_is_rewritten_as_json_with_its_own_directives() {
    let origin = start_origin(vec![
        (
            "/m.m3u8",
            "application/vnd.apple.mpegurl",
            b"#EXTM3U\n#EXT-X-CONTENT-STEERING:SERVER-URI=\"steer.json\",PATHWAY-ID=\"A\"\n"
                .to_vec(),
        ),
        (
            "/steer.json",
            "application/json",
            br#"{"VERSION":1,"TTL":10,"RELOAD-URI":"steer.json?n=2","PATHWAY-PRIORITY":["A"]}"#
                .to_vec(),
        ),
    ])
    .await;
    let app = spawn_app(allow_loopback).await;
    let url = mint(&app, &origin.url("/m.m3u8"));
    let master = app.get(&url).await.text().await.unwrap();
    let steer = &children(&url, &master)[0];
    let r = app
        .get(&format!("{steer}&_HLS_pathway=A&_HLS_throughput=5000000"))
        .await;
    assert_eq!(r.headers()["content-type"], "application/json");
    let json: serde_json::Value = r.json().await.unwrap();
    assert!(
        json["RELOAD-URI"]
            .as_str()
            .unwrap()
            .starts_with("/api/streaming/proxy/f.json?c=")
    );
    assert_eq!(
        origin.seen().pop().unwrap().path_and_query,
        "/steer.json?_HLS_pathway=A&_HLS_throughput=5000000"
    );
}

#[tokio::test]
async fn a_steering_manifest_over_1_mib_is_refused_before_it_is_parsed() {
    // Real steering manifests are a few hundred bytes; a JSON tree takes several times its
    // text in memory, so JSON documents have a cap of their own, far below the playlists'.
    let padding = "x".repeat(2 << 20);
    let origin = start_origin(vec![
        (
            "/m.m3u8",
            "application/vnd.apple.mpegurl",
            b"#EXTM3U\n#EXT-X-CONTENT-STEERING:SERVER-URI=\"steer.json\"\n".to_vec(),
        ),
        (
            "/steer.json",
            "application/json",
            format!(r#"{{"VERSION":1,"TTL":10,"PAD":"{padding}"}}"#).into_bytes(),
        ),
    ])
    .await;
    let app = spawn_app(allow_loopback).await;
    let url = mint(&app, &origin.url("/m.m3u8"));
    let master = app.get(&url).await.text().await.unwrap();
    let steer = &children(&url, &master)[0];
    let r = app.get(steer).await;
    assert_eq!(error_code(r).await, (502, "playlist_too_large".into()));
}

#[tokio::test]
async fn a_client_that_disconnects_cancels_the_upstream_request() {
    let mut origin = start_origin(vec![]).await;
    let app = spawn_app(allow_loopback).await;
    let url = mint(&app, &origin.url("/endless"));
    let mut r = app.get(&url).await;
    assert_eq!(r.status(), 200);
    // Read a little, then go away.
    let _ = r.chunk().await.unwrap();
    assert_eq!(app.state.metrics.proxy_active.get(), 1);
    drop(r);
    tokio::time::timeout(Duration::from_secs(10), origin.dropped.recv())
        .await
        .expect("the origin saw its response dropped");
    // The relay's own accounting is released with it.
    for _ in 0..100 {
        if app.state.metrics.proxy_active.get() == 0 {
            break;
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(app.state.metrics.proxy_active.get(), 0);
}

#[tokio::test]
async fn ffmpeg_reads_an_encrypted_stream_through_the_proxy() {
    if std::process::Command::new("ffmpeg")
        .arg("-version")
        .output()
        .is_err()
    {
        panic!("ffmpeg is required for this test");
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("enc.key"), b"0123456789abcdef").unwrap();
    std::fs::write(
        d.join("keyinfo"),
        format!("enc.key\n{}\n", d.join("enc.key").display()),
    )
    .unwrap();
    let status = tokio::process::Command::new("ffmpeg")
        .current_dir(d)
        .args(["-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i"])
        .arg("testsrc=duration=3:size=160x120:rate=25")
        .args(["-f", "lavfi", "-i", "sine=duration=3"])
        .args([
            "-c:v",
            "libx264",
            "-g",
            "25",
            "-c:a",
            "aac",
            "-f",
            "hls",
            "-hls_time",
            "1",
        ])
        .args(["-hls_playlist_type", "vod", "-hls_key_info_file", "keyinfo"])
        .args([
            "-master_pl_name",
            "master.m3u8",
            "-hls_segment_filename",
            "seg%d.ts",
            "index.m3u8",
        ])
        .status()
        .await
        .unwrap();
    assert!(status.success());
    let mut files = Vec::new();
    for entry in std::fs::read_dir(d).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        let ctype = if name.ends_with(".m3u8") {
            "application/vnd.apple.mpegurl"
        } else {
            "video/mp2t"
        };
        let path: &'static str = Box::leak(format!("/vod/{name}").into_boxed_str());
        files.push((path, ctype, std::fs::read(entry.path()).unwrap()));
    }
    let origin = start_origin(files).await;
    let app = spawn_app(allow_loopback).await;
    let url = format!(
        "{}{}",
        app.address,
        mint(&app, &origin.url("/vod/master.m3u8"))
    );
    let direct = d.join("direct.ts");
    let proxied = d.join("proxied.ts");
    let out = tokio::process::Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-i",
            &url,
            "-c",
            "copy",
            "-y",
        ])
        .arg(&proxied)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{:?}",
        String::from_utf8_lossy(&out.stderr),
        origin
            .seen()
            .iter()
            .map(|s| &s.path_and_query)
            .collect::<Vec<_>>()
    );
    let local = tokio::process::Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-allowed_extensions",
            "ALL",
            "-i",
        ])
        .arg(d.join("master.m3u8"))
        .args(["-c", "copy", "-y"])
        .arg(&direct)
        .output()
        .await
        .unwrap();
    assert!(
        local.status.success(),
        "{}",
        String::from_utf8_lossy(&local.stderr)
    );
    // Compare what ffprobe sees: packets per stream and their hashes.
    let probe = |path: std::path::PathBuf| async move {
        let o = tokio::process::Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-show_entries",
                "packet=stream_index,size,pts",
                "-of",
                "csv",
            ])
            .arg(path)
            .output()
            .await
            .unwrap();
        String::from_utf8(o.stdout).unwrap()
    };
    let (a, b) = (probe(direct).await, probe(proxied).await);
    assert!(a.lines().count() > 100, "{a}");
    assert_eq!(a, b, "the proxied stream has the origin's packets");
    assert!(
        origin
            .seen()
            .iter()
            .any(|s| s.path_and_query == "/vod/enc.key")
    );
}
