//! The proxy as an edge (issue 17): a counting origin on loopback, the real app in front.
//! Every assertion is about what the upstream saw (how many requests) and what the viewers
//! got (the exact bytes), never about timings.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use tokio::sync::Semaphore;
use url::Url;

use sokoul::proxy::token::CHILD_PREFIX;

use crate::helpers::{TestApp, spawn_app};

const SEGMENTS: usize = 6;

/// A segment's bytes: distinct per index, MPEG-TS-like so that it is never sniffed as a playlist.
fn segment(i: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|j| {
            if j % 188 == 0 {
                0x47
            } else {
                ((j * 31 + i * 7) % 251) as u8
            }
        })
        .collect()
}

fn vod_playlist() -> Vec<u8> {
    let mut out = String::from("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:4\n");
    out.push_str("#EXT-X-KEY:METHOD=AES-128,URI=\"key.bin\"\n");
    for i in 0..SEGMENTS {
        out.push_str(&format!("#EXTINF:4,\nseg{i}.ts\n"));
    }
    out.push_str("#EXT-X-ENDLIST\n");
    out.into_bytes()
}

#[derive(Clone, Default)]
struct Counts(Arc<Mutex<HashMap<String, usize>>>);

impl Counts {
    fn of(&self, path: &str) -> usize {
        self.0.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

#[derive(Clone)]
struct OriginState {
    counts: Counts,
    /// `/gated.ts` sends its first half, then waits for a permit before the second.
    gate: Arc<Semaphore>,
}

struct Origin {
    base: String,
    counts: Counts,
    gate: Arc<Semaphore>,
}

async fn start_origin() -> Origin {
    let counts = Counts::default();
    let gate = Arc::new(Semaphore::new(0));
    let state = OriginState {
        counts: counts.clone(),
        gate: gate.clone(),
    };
    let app = axum::Router::new().fallback(serve).with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Origin { base, counts, gate }
}

const GATED_LEN: usize = 512 * 1024;

async fn serve(State(st): State<OriginState>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    *st.counts.0.lock().unwrap().entry(path.clone()).or_default() += 1;
    let ts = [(header::CONTENT_TYPE, "video/mp2t")];
    let m3u8 = [(header::CONTENT_TYPE, "application/vnd.apple.mpegurl")];
    match path.as_str() {
        "/vod/index.m3u8" => (m3u8, vod_playlist()).into_response(),
        "/vod/key.bin" => (0u8..16).collect::<Vec<u8>>().into_response(),
        "/live.m3u8" => (
            m3u8,
            "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\nlive0.ts\n",
        )
            .into_response(),
        "/private.ts" => (
            ts,
            [(header::CACHE_CONTROL, "private, max-age=60")],
            segment(1, 4096),
        )
            .into_response(),
        "/cookie.ts" => (ts, [(header::SET_COOKIE, "session=1")], segment(2, 4096)).into_response(),
        // Answers with the Referer it was sent: what a per-credential upstream does.
        "/whoami.ts" => {
            let referer = req.headers().get(header::REFERER).cloned();
            let body = referer.map(|r| r.as_bytes().to_vec()).unwrap_or_default();
            (ts, body).into_response()
        }
        "/gated.ts" => gated(&st),
        _ => match path
            .strip_prefix("/vod/seg")
            .and_then(|p| p.strip_suffix(".ts"))
        {
            Some(i) => (ts, segment(i.parse().unwrap(), 300_000)).into_response(),
            None => match path.strip_prefix("/many/") {
                Some(i) => (ts, segment(i.parse().unwrap(), 200_000)).into_response(),
                None => StatusCode::NOT_FOUND.into_response(),
            },
        },
    }
}

fn gated(st: &OriginState) -> Response {
    let body = Bytes::from(segment(9, GATED_LEN));
    let (first, second) = (body.slice(..GATED_LEN / 2), body.slice(GATED_LEN / 2..));
    let gate = st.gate.clone();
    let stream = futures::stream::unfold(0u8, move |step| {
        let (first, second, gate) = (first.clone(), second.clone(), gate.clone());
        async move {
            match step {
                0 => Some((Ok::<_, std::io::Error>(first), 1)),
                1 => {
                    gate.acquire().await.unwrap().forget();
                    Some((Ok(second), 2))
                }
                _ => None,
            }
        }
    });
    let mut response = Response::new(Body::from_stream(stream));
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("video/mp2t"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(GATED_LEN));
    response
}

fn allow_loopback(s: &mut sokoul::config::Settings) {
    s.proxy.allow = vec!["127.0.0.1".into()];
}

fn mint(app: &TestApp, upstream: &str, referer: &str) -> String {
    let headers = [("Referer".to_string(), referer.to_string())];
    app.state
        .signer
        .mint(upstream, &headers, app.state.clock.unix() + 3600)
}

/// The proxy URLs of a rewritten playlist, as paths on the app.
fn children(parent: &str, playlist: &str) -> Vec<String> {
    let base = Url::parse(&format!("http://sokoul{parent}")).unwrap();
    let mut out = Vec::new();
    for line in playlist.lines() {
        let Some(i) = line.find(CHILD_PREFIX) else {
            continue;
        };
        let tail = &line[i..];
        let end = tail.find(['"', ',', ' ']).unwrap_or(tail.len());
        let u = base.join(&tail[..end]).unwrap();
        out.push(format!("{}?{}", u.path(), u.query().unwrap()));
    }
    out
}

async fn bytes_of(app: &TestApp, path: &str) -> Bytes {
    let r = app.get(path).await;
    assert_eq!(r.status(), 200, "{path}");
    r.bytes().await.unwrap()
}

/// One viewer: the playlist, then the key and every segment in order, all compared.
async fn watch(app: &TestApp, playlist_url: &str) -> String {
    let playlist = String::from_utf8(bytes_of(app, playlist_url).await.to_vec()).unwrap();
    let children = children(playlist_url, &playlist);
    assert_eq!(children.len(), SEGMENTS + 1, "{playlist}");
    assert_eq!(
        bytes_of(app, &children[0]).await,
        (0u8..16).collect::<Vec<_>>()
    );
    for (i, child) in children[1..].iter().enumerate() {
        assert_eq!(
            bytes_of(app, child).await,
            segment(i, 300_000),
            "segment {i}"
        );
    }
    playlist
}

#[tokio::test]
async fn twenty_concurrent_viewers_cost_the_upstream_one_request_per_object() {
    let origin = start_origin().await;
    let app = Arc::new(spawn_app(allow_loopback).await);
    let url = mint(
        &app,
        &format!("{}/vod/index.m3u8", origin.base),
        "https://a/",
    );
    let viewers = (0..20).map(|_| {
        let (app, url) = (app.clone(), url.clone());
        tokio::spawn(async move { watch(&app, &url).await })
    });
    let playlists = futures::future::join_all(viewers).await;
    let first = playlists[0].as_ref().unwrap();
    for p in &playlists {
        assert_eq!(
            p.as_ref().unwrap(),
            first,
            "every viewer gets the same playlist"
        );
    }
    assert_eq!(origin.counts.of("/vod/index.m3u8"), 1);
    assert_eq!(origin.counts.of("/vod/key.bin"), 1);
    for i in 0..SEGMENTS {
        assert_eq!(
            origin.counts.of(&format!("/vod/seg{i}.ts")),
            1,
            "segment {i}"
        );
    }
    // A later viewer is served from the cache, the rewritten playlist included.
    watch(&app, &url).await;
    assert_eq!(origin.counts.of("/vod/index.m3u8"), 1);
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("sokoul_proxy_coalesced_waiters_total"),
        "{metrics}"
    );
    assert!(
        metrics
            .contains("sokoul_proxy_cache_lookups_total{kind=\"document\",result=\"hit_memory\"}"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_viewer_that_disconnects_mid_segment_leaves_the_others_whole() {
    let origin = start_origin().await;
    let app = spawn_app(allow_loopback).await;
    let url = mint(&app, &format!("{}/gated.ts", origin.base), "https://a/");
    let mut leaving = app.get(&url).await;
    let mut staying = app.get(&url).await;
    assert_eq!(
        (leaving.status().as_u16(), staying.status().as_u16()),
        (200, 200)
    );
    // Both got bytes of the first half, from one upstream request.
    assert!(!leaving.chunk().await.unwrap().unwrap().is_empty());
    let mut got = staying.chunk().await.unwrap().unwrap().to_vec();
    drop(leaving);
    origin.gate.add_permits(1);
    while let Some(chunk) = staying.chunk().await.unwrap() {
        got.extend_from_slice(&chunk);
    }
    assert_eq!(got, segment(9, GATED_LEN));
    assert_eq!(origin.counts.of("/gated.ts"), 1);
    // And the completed body was kept.
    assert_eq!(bytes_of(&app, &url).await, segment(9, GATED_LEN));
    assert_eq!(origin.counts.of("/gated.ts"), 1);
}

#[tokio::test]
async fn two_header_contexts_never_share_an_entry() {
    let origin = start_origin().await;
    let app = spawn_app(allow_loopback).await;
    let upstream = format!("{}/whoami.ts", origin.base);
    for _ in 0..2 {
        for who in ["https://alice.example/", "https://bob.example/"] {
            let got = bytes_of(&app, &mint(&app, &upstream, who)).await;
            assert_eq!(got, who.as_bytes());
        }
    }
    assert_eq!(origin.counts.of("/whoami.ts"), 2);
}

#[tokio::test]
async fn private_cookie_and_live_answers_are_fetched_every_time() {
    let origin = start_origin().await;
    let app = spawn_app(allow_loopback).await;
    for path in ["/private.ts", "/cookie.ts", "/live.m3u8"] {
        let url = mint(&app, &format!("{}{path}", origin.base), "https://a/");
        let first = bytes_of(&app, &url).await;
        assert_eq!(bytes_of(&app, &url).await, first);
        assert_eq!(origin.counts.of(path), 2, "{path}");
    }
}

#[tokio::test]
async fn a_range_is_served_from_the_cached_body() {
    let origin = start_origin().await;
    let app = spawn_app(allow_loopback).await;
    let url = mint(&app, &format!("{}/vod/seg3.ts", origin.base), "https://a/");
    let whole = bytes_of(&app, &url).await;
    let get = |range: &'static str| {
        let request = app.client.get(format!("{}{url}", app.address));
        request.header(header::RANGE, range).send()
    };
    let r = get("bytes=1000-1999").await.unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.headers()[header::CONTENT_RANGE], "bytes 1000-1999/300000");
    assert_eq!(r.bytes().await.unwrap(), whole.slice(1000..2000));
    let r = get("bytes=-100").await.unwrap();
    assert_eq!(r.bytes().await.unwrap(), whole.slice(299_900..));
    let r = get("bytes=300000-").await.unwrap();
    assert_eq!(r.status(), 416);
    assert_eq!(r.headers()[header::CONTENT_RANGE], "bytes */300000");
    assert_eq!(origin.counts.of("/vod/seg3.ts"), 1);
}

#[tokio::test]
async fn nothing_is_served_from_the_cache_past_the_signed_urls_expiry() {
    let origin = start_origin().await;
    let app = spawn_app(allow_loopback).await;
    let upstream = format!("{}/vod/seg1.ts", origin.base);
    let short = [("Referer".to_string(), "https://a/".to_string())];
    let url = app
        .state
        .signer
        .mint(&upstream, &short, app.state.clock.unix() + 60);
    bytes_of(&app, &url).await;
    bytes_of(&app, &url).await;
    assert_eq!(origin.counts.of("/vod/seg1.ts"), 1);
    app.clock.advance(120);
    // A fresh URL for the same object and context: the entry died with the first URL.
    assert_eq!(
        bytes_of(&app, &mint(&app, &upstream, "https://a/")).await,
        segment(1, 300_000)
    );
    assert_eq!(origin.counts.of("/vod/seg1.ts"), 2);
}

#[tokio::test]
async fn the_cache_stays_within_its_size_limits_under_a_stream_of_distinct_segments() {
    let origin = start_origin().await;
    let app = spawn_app(|s| {
        allow_loopback(s);
        s.proxy.cache_memory_mb = 1;
        s.proxy.cache_disk_mb = 2;
    })
    .await;
    let mib = 1024 * 1024;
    for i in 0..40 {
        let url = mint(&app, &format!("{}/many/{i}", origin.base), "https://a/");
        assert_eq!(bytes_of(&app, &url).await, segment(i, 200_000));
        let (memory, disk) = app.state.edge.sizes();
        assert!(
            memory <= mib && disk <= 2 * mib,
            "after {i}: {memory} B, {disk} B"
        );
    }
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("sokoul_proxy_cache_evictions_total{kind=\"segment\",tier=\"memory\"}"),
        "{metrics}"
    );
    // Whatever was evicted is fetched again, whole.
    let url = mint(&app, &format!("{}/many/0", origin.base), "https://a/");
    assert_eq!(bytes_of(&app, &url).await, segment(0, 200_000));
}

/// Waits (generously: the machine may be loaded) until `done`, then says whether it came.
async fn eventually(done: impl Fn() -> bool) -> bool {
    for _ in 0..1000 {
        if done() {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    done()
}

#[tokio::test]
async fn asking_for_a_segment_reads_the_next_two_ahead() {
    let origin = start_origin().await;
    let app = spawn_app(allow_loopback).await;
    let url = mint(
        &app,
        &format!("{}/vod/index.m3u8", origin.base),
        "https://a/",
    );
    let playlist = String::from_utf8(bytes_of(&app, &url).await.to_vec()).unwrap();
    let children = children(&url, &playlist);
    assert_eq!(bytes_of(&app, &children[1]).await, segment(0, 300_000));
    let ahead = || origin.counts.of("/vod/seg1.ts") == 1 && origin.counts.of("/vod/seg2.ts") == 1;
    assert!(
        eventually(ahead).await,
        "segments 1 and 2 were fetched ahead"
    );
    assert_eq!(
        origin.counts.of("/vod/seg3.ts"),
        0,
        "no further than proxy.read_ahead"
    );
    // The viewer's next segment is the one read ahead.
    assert_eq!(bytes_of(&app, &children[2]).await, segment(1, 300_000));
    assert_eq!(origin.counts.of("/vod/seg1.ts"), 1);
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("sokoul_proxy_read_ahead_total{result=\"used\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn what_memory_evicts_is_served_from_disk() {
    let origin = start_origin().await;
    let app = spawn_app(|s| {
        allow_loopback(s);
        s.proxy.cache_memory_mb = 1;
        s.proxy.cache_disk_mb = 8;
        s.proxy.read_ahead = 0;
    })
    .await;
    let url = |i: usize| mint(&app, &format!("{}/many/{i}", origin.base), "https://a/");
    for i in 0..12 {
        assert_eq!(bytes_of(&app, &url(i)).await, segment(i, 200_000));
    }
    // Written off the async threads: wait until the disk tier holds what memory gave up.
    let spilled = || app.state.edge.sizes().1 >= 6 * 200_000;
    assert!(eventually(spilled).await, "{:?}", app.state.edge.sizes());
    for i in 0..12 {
        assert_eq!(bytes_of(&app, &url(i)).await, segment(i, 200_000), "{i}");
        assert_eq!(origin.counts.of(&format!("/many/{i}")), 1, "{i}");
    }
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("sokoul_proxy_cache_lookups_total{kind=\"segment\",result=\"hit_disk\"}"),
        "{metrics}"
    );
}
