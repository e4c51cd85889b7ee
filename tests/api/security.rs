//! Security at the edge: the API token (and what gets past it without the header: signed proxy
//! URLs, media URLs for `<img>`/`<video>`/hls.js), security headers and the dashboard's CSP,
//! request size limits, the per-client resolve rate limit.

use std::time::Duration;

use serde_json::Value;
use sokoul::library::demo::Synth;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{TestApp, spawn_app};
use crate::library::place;

const TOKEN: &str = "correct horse battery staple";

impl TestApp {
    async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut request = self.client.get(format!("{}{}", self.address, path));
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        request.send().await.expect("request reaches the app")
    }

    async fn get_authed(&self, path: &str) -> reqwest::Response {
        self.get_with(path, &[("Authorization", &format!("Bearer {TOKEN}"))])
            .await
    }
}

/// Status and JSON error code of a response that must be a contract error.
async fn error_of(r: reqwest::Response) -> (u16, String) {
    let status = r.status().as_u16();
    let body: Value = r.json().await.expect("a JSON error body");
    let code = body["error"]["code"]
        .as_str()
        .expect("error.code")
        .to_owned();
    assert!(body["error"]["message"].is_string(), "{body}");
    (status, code)
}

/// A one-file origin for the proxy, on loopback (allowed explicitly).
async fn origin() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/clip.mp4"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(b"not really a video".to_vec(), "video/mp4"),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/page.html"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            b"<script>alert(document.domain)</script>".to_vec(),
            "text/html",
        ))
        .mount(&server)
        .await;
    server
}

fn mint_proxy_url(app: &TestApp, upstream: &str) -> String {
    let expires = sokoul::clock::Clock::unix(&*app.state.clock) + 600;
    app.state.signer.mint(upstream, &[], expires)
}

#[tokio::test]
async fn the_api_needs_the_token_and_signed_proxy_urls_do_not() {
    let origin = origin().await;
    let app = spawn_app(|s| {
        s.api_token = Some(sokoul::config::Secret::new(TOKEN));
        s.proxy.allow = vec!["127.0.0.1".into()];
    })
    .await;

    for path in ["/api/progress", "/api/streaming/resolve/movie/603"] {
        assert_eq!(
            error_of(app.get(path).await).await,
            (401, "unauthorized".into()),
            "{path} without a token"
        );
        let wrong = app
            .get_with(path, &[("Authorization", "Bearer correct horse")])
            .await;
        assert_eq!(error_of(wrong).await, (401, "unauthorized".into()));
        assert_eq!(app.get_authed(path).await.status(), 200, "{path}");
    }
    // The scheme is case-insensitive.
    let lower = app
        .get_with(
            "/api/progress",
            &[("Authorization", &format!("bearer {TOKEN}"))],
        )
        .await;
    assert_eq!(lower.status(), 200);
    // Operations and the dashboard's files are outside /api.
    assert_eq!(app.get("/healthz").await.status(), 200);

    // The proxy URL's signature is its credential: a <video> can load it with no header.
    let proxied = mint_proxy_url(&app, &format!("{}/clip.mp4", origin.uri()));
    let r = app.get(&proxied).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"not really a video");
    // …but a forged one is still refused.
    let forged = proxied.replacen("s=", "s=A", 1);
    assert_eq!(error_of(app.get(&forged).await).await.0, 403);
}

#[tokio::test]
async fn library_media_plays_from_signed_urls_without_the_header() {
    let root = tempfile::tempdir().unwrap();
    let film = place(
        root.path(),
        "The Matrix (1999) [tmdbid-603]/The Matrix (1999).mp4",
        Synth::H264AacMp4,
    );
    std::fs::write(
        film.with_file_name("The Matrix (1999).en.srt"),
        "1\n00:00:01,000 --> 00:00:02,000\nWake up\n",
    )
    .unwrap();
    let library = root.path().to_path_buf();
    let app = spawn_app(move |s| {
        s.api_token = Some(sokoul::config::Secret::new(TOKEN));
        s.library.enabled = true;
        s.library.paths = vec![library];
        s.library.watch = false;
        s.library.scan_on_start = false;
        s.library.segment_seconds = 2.0;
    })
    .await;
    let scan = app
        .client
        .post(format!("{}/api/library/scan", app.address))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(scan.status(), 200);

    let resolved: Value = app
        .get_authed("/api/streaming/library/movie/603")
        .await
        .json()
        .await
        .unwrap();
    let file = resolved["sources"][0]["url"].as_str().unwrap().to_owned();
    let master = resolved["sources"][1]["url"].as_str().unwrap().to_owned();
    let subtitle = resolved["subtitles"][0]["url"].as_str().unwrap().to_owned();
    assert!(file.contains("/file?st="), "{resolved}");

    // Direct play, as <video src> does it: no header, Range requests work.
    let r = app.get_with(&file, &[("Range", "bytes=0-99")]).await;
    assert_eq!(r.status(), 206);
    assert_eq!(r.bytes().await.unwrap().len(), 100);
    let bare = file.split('?').next().unwrap();
    assert_eq!(
        error_of(app.get(bare).await).await,
        (401, "unauthorized".into())
    );
    // One character of the tag changed (the first: every bit of it counts, unlike the last's).
    let dot = file.rfind('.').unwrap();
    let first = file.as_bytes()[dot + 1];
    let mut tampered = file.clone();
    tampered.replace_range(dot + 1..dot + 2, if first == b'A' { "B" } else { "A" });
    assert_eq!(
        error_of(app.get(&tampered).await).await,
        (403, "media_url_invalid".into())
    );
    // A token opens its own file only, and never the rest of the API.
    let st = file.split_once("st=").unwrap().1;
    let other = format!("/api/media/999/file?st={st}");
    assert_eq!(error_of(app.get(&other).await).await.0, 403);
    let progress = format!("/api/progress?st={st}");
    assert_eq!(error_of(app.get(&progress).await).await.0, 403);

    // HLS as hls.js does it: the playlists' relative URIs carry the token onwards.
    let r = app.get(&master).await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(text.contains(&format!("v/index.m3u8?st={st}")), "{text}");
    let base = master.split("master.m3u8").next().unwrap();
    let variant = format!("{base}v/index.m3u8?st={st}");
    let media = app.get(&variant).await.text().await.unwrap();
    let first_segment = media
        .lines()
        .find(|l| !l.starts_with('#') && !l.is_empty())
        .expect("a segment URI");
    assert_eq!(first_segment, format!("0.ts?st={st}"));
    let r = app.get(&format!("{base}v/{first_segment}")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "video/mp2t");
    assert!(!r.bytes().await.unwrap().is_empty());

    // Subtitles (<track> or fetch) and posters (<img>).
    let r = app.get(&subtitle).await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().starts_with("WEBVTT"));
    let items: Value = app
        .get_authed("/api/library/items")
        .await
        .json()
        .await
        .unwrap();
    let poster = items["items"][0]["poster_url"].as_str().unwrap().to_owned();
    assert!(
        poster.starts_with("/api/library/poster/movie/603?st="),
        "{items}"
    );
    let r = app.get(&poster).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    // The header's search shows the same posters: they must load there too.
    let found: Value = app
        .get_authed("/api/search?q=matrix")
        .await
        .json()
        .await
        .unwrap();
    let hit = found["library"][0]["poster_url"].as_str().unwrap();
    assert!(hit.contains("?st="), "{found}");
    assert_eq!(app.get(hit).await.status(), 200);

    // Media URLs live as long as proxy URLs.
    app.clock
        .advance(app.state.settings.proxy.url_ttl as i64 + 120);
    assert_eq!(
        error_of(app.get(&file).await).await,
        (403, "media_url_expired".into())
    );
}

#[tokio::test]
async fn episode_stills_carry_a_media_token_that_opens_that_still_only() {
    let root = tempfile::tempdir().unwrap();
    for name in ["Show S01E01.mkv", "Show S01E02.mkv"] {
        crate::library::place(
            root.path(),
            &format!("Show (2010) [tmdbid-100]/Season 01/{name}"),
            sokoul::library::demo::Synth::H264AacMkv,
        );
    }
    let library = root.path().to_path_buf();
    let app = spawn_app(move |s| {
        s.api_token = Some(sokoul::config::Secret::new(TOKEN));
        crate::library::library_settings(s, library);
    })
    .await;
    let scan = app
        .client
        .post(format!("{}/api/library/scan", app.address))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(scan.status(), 200);

    let show: Value = app
        .get_authed("/api/library/items/tv/100")
        .await
        .json()
        .await
        .unwrap();
    let still = show["seasons"][0]["episodes"][0]["still_url"]
        .as_str()
        .unwrap();
    assert!(
        still.starts_with("/api/library/still/tv/100/1/1?st="),
        "{show}"
    );
    // As <img> loads it: no header.
    let r = app.get(still).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    let bare = still.split('?').next().unwrap();
    assert_eq!(
        error_of(app.get(bare).await).await,
        (401, "unauthorized".into())
    );
    let st = still.split_once("st=").unwrap().1;
    for other in [
        "/api/library/still/tv/100/1/2",
        "/api/library/poster/tv/100",
        "/api/library/items/tv/100",
    ] {
        let r = app.get(&format!("{other}?st={st}")).await;
        assert_eq!(error_of(r).await.0, 403, "{other}");
    }
}

#[tokio::test]
async fn without_a_token_or_an_account_media_urls_are_plain_paths() {
    let app = spawn_app(|_| {}).await;
    let anyone = sokoul::accounts::Caller::unnamed_admin();
    let binding = app.state.security.binding(Some(&anyone));
    assert_eq!(binding, None);
    assert_eq!(
        app.state
            .security
            .media_url("/api/media/1/file", 5, binding),
        "/api/media/1/file"
    );
}

#[tokio::test]
async fn every_response_has_security_headers_and_the_dashboard_a_csp() {
    let origin = origin().await;
    let dashboard = tempfile::tempdir().unwrap();
    let boot = "\n\t\t\t{\n\t\t\t\t__sveltekit_x = { base: \"\" };\n\t\t\t}\n\t\t";
    let index = dashboard.path().join("index.html");
    std::fs::write(
        &index,
        format!("<!doctype html><html><head><script type=\"module\" src=\"/_app/a.js\"></script></head><body><script>{boot}</script></body></html>"),
    )
    .unwrap();
    let dir = dashboard.path().to_path_buf();
    let app = spawn_app(move |s| {
        s.dashboard_dir = dir;
        s.proxy.allow = vec!["127.0.0.1".into()];
    })
    .await;

    let proxied = mint_proxy_url(&app, &format!("{}/clip.mp4", origin.uri()));
    for path in ["/", "/healthz", "/api/progress", "/api/nothing", &proxied] {
        let r = app.get(path).await;
        let h = r.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert_eq!(h["cross-origin-opener-policy"], "same-origin", "{path}");
    }
    // The proxy keeps its CORS headers and its own sandboxing policy, also for relayed HTML,
    // which must never get the dashboard's.
    let r = app.get(&proxied).await;
    assert!(
        r.headers().contains_key("access-control-allow-origin"),
        "{:?}",
        r.headers()
    );
    let html = mint_proxy_url(&app, &format!("{}/page.html", origin.uri()));
    let r = app.get(&html).await;
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("sandbox") && !csp.contains("script-src"),
        "{csp}"
    );
    // JSON gets no policy (nor would a video opened in a tab, which one would block).
    let r = app.get("/api/progress").await;
    assert!(!r.headers().contains_key("content-security-policy"));

    use base64::Engine;
    use sha2::Digest;
    let hash = |s: &str| {
        format!(
            "'sha256-{}'",
            base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(s))
        )
    };
    for page in ["/", "/watch/movie/603"] {
        let r = app.get(page).await;
        assert_eq!(r.status(), 200);
        let csp = r.headers()["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("worker-src 'self' blob:"), "{csp}");
        assert!(csp.contains("media-src 'self' blob:"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        // Scripts from the dashboard's own path, not from the whole origin, which also
        // relays provider content through the proxy.
        let host = app.address.trim_start_matches("http://");
        assert!(
            csp.contains(&format!("script-src {host}/_app/ {}", hash(boot))),
            "{csp}"
        );
        let scripts = csp
            .split(';')
            .find(|d| d.trim_start().starts_with("script-src"))
            .unwrap();
        assert!(!scripts.contains("unsafe"), "{scripts}");
        assert!(!scripts.contains("'self'"), "{scripts}");
    }
    // A rebuilt dashboard gets the hashes of its new scripts without a restart.
    let rebuilt = "window.rebuilt = true;";
    std::fs::write(
        &index,
        format!("<!doctype html><html><body><script>{rebuilt}</script></body></html>"),
    )
    .unwrap();
    let r = app.get("/").await;
    let csp = r.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains(&hash(rebuilt)), "{csp}");
    assert!(!csp.contains(&hash(boot)), "{csp}");
}

#[tokio::test]
async fn oversized_bodies_and_request_targets_get_json_errors() {
    let app = spawn_app(|s| {
        s.security.max_body_bytes = 1024;
        s.security.max_uri_bytes = 2048;
    })
    .await;
    let url = format!("{}/api/progress/movie/603", app.address);
    let small = app
        .client
        .put(&url)
        .json(&serde_json::json!({"position": 12.0, "duration": 100.0}))
        .send()
        .await
        .unwrap();
    assert_eq!(small.status(), 204);

    // Announced with Content-Length: refused before the body is read.
    let padding = "x".repeat(4096);
    let big = format!("{{\"position\": 1, \"duration\": 2, \"pad\": \"{padding}\"}}");
    let r = app
        .client
        .put(&url)
        .header("content-type", "application/json")
        .body(big.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(r).await, (413, "payload_too_large".into()));

    // Chunked, with no length: cut while reading.
    let chunks: Vec<Result<String, std::io::Error>> = big
        .as_bytes()
        .chunks(512)
        .map(|c| Ok(String::from_utf8(c.to_vec()).unwrap()))
        .collect();
    let r = app
        .client
        .put(&url)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(r).await, (413, "payload_too_large".into()));

    let long = format!("/api/progress?pad={}", "y".repeat(3000));
    assert_eq!(
        error_of(app.get(&long).await).await,
        (414, "uri_too_long".into())
    );
    let long_proxy = format!("/api/streaming/proxy?c={}", "z".repeat(3000));
    assert_eq!(error_of(app.get(&long_proxy).await).await.0, 414);
}

/// Headers beyond the server's 64 KiB connection buffer: a 431 status line and a closed
/// connection, not a hang.
#[tokio::test]
async fn oversized_headers_get_431_and_a_closed_connection() {
    let app = spawn_app(|_| {}).await;
    let addr = app.address.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let request = format!(
        "GET /api/progress HTTP/1.1\r\nHost: {addr}\r\nX-Big: {}\r\n\r\n",
        "a".repeat(70 * 1024)
    );
    // The server may stop reading (and close) before everything is written.
    let _ = stream.write_all(request.as_bytes()).await;
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(30), async {
        let mut buf = [0u8; 1024];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the server closed the connection");
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 431"),
        "got {:?}",
        answer.lines().next()
    );
}

/// One resolve from `client` (an `X-Forwarded-For` value, when given).
async fn resolve(app: &TestApp, path: &str, client: Option<&str>) -> reqwest::Response {
    match client {
        Some(ip) => app.get_with(path, &[("X-Forwarded-For", ip)]).await,
        None => app.get(path).await,
    }
}

#[tokio::test]
async fn resolves_are_rate_limited_per_client_and_the_rest_is_not() {
    // One token per 100 s: nothing refills while the test runs, however slow the machine.
    let app = spawn_app(|s| {
        s.security.rate_limit_per_second = 0.01;
        s.security.rate_limit_burst = 3;
    })
    .await;
    let paths = [
        "/api/streaming/resolve/movie/603",
        "/api/streaming/library/movie/603",
        "/api/streaming/resolve/tv/1396?season=1&episode=2",
    ];
    for p in paths {
        let status = app.get(p).await.status();
        assert_ne!(status, 429, "{p} within the burst");
    }
    let r = app.get("/api/streaming/resolve/movie/604").await;
    let retry_after: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (1..=100).contains(&retry_after),
        "Retry-After: {retry_after}"
    );
    assert_eq!(error_of(r).await, (429, "rate_limited".into()));
    // The provider route too (same bucket), and a forged X-Forwarded-For from an untrusted
    // peer changes nothing.
    let r = resolve(
        &app,
        "/api/streaming/consumet/movie/603",
        Some("203.0.113.9"),
    )
    .await;
    assert_eq!(r.status(), 429);
    // Everything else is untouched: progress, health, the proxy (a forged URL gets its 403).
    assert_eq!(app.get("/api/progress").await.status(), 200);
    assert_eq!(app.get("/healthz").await.status(), 200);
    assert_eq!(
        app.get("/api/streaming/proxy?c=x&u=y&s=z").await.status(),
        403
    );
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains("status=\"429\""), "429s are counted");
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_bucket() {
    let app = spawn_app(|s| {
        s.security.rate_limit_per_second = 0.01;
        s.security.rate_limit_burst = 2;
        s.security.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    let path = "/api/streaming/resolve/movie/603";
    for _ in 0..2 {
        assert_eq!(resolve(&app, path, Some("203.0.113.1")).await.status(), 200);
    }
    assert_eq!(resolve(&app, path, Some("203.0.113.1")).await.status(), 429);
    // Another household behind the same proxy is unaffected.
    assert_eq!(resolve(&app, path, Some("203.0.113.2")).await.status(), 200);
    // A client cannot escape by prepending addresses: the proxy's own entry (rightmost) counts.
    let forged = resolve(&app, path, Some("198.51.100.7, 203.0.113.1")).await;
    assert_eq!(forged.status(), 429);
}

#[tokio::test]
async fn a_zero_rate_turns_the_limit_off() {
    let app = spawn_app(|s| {
        s.security.rate_limit_per_second = 0.0;
        s.security.rate_limit_burst = 1;
    })
    .await;
    for _ in 0..30 {
        assert_eq!(
            app.get("/api/streaming/resolve/movie/603").await.status(),
            200
        );
    }
}

#[tokio::test]
async fn listening_beyond_loopback_needs_a_token_or_an_explicit_opt_out() {
    use sokoul::startup::{Application, Overrides};
    let data = tempfile::tempdir().unwrap();
    let public = || {
        let mut s = crate::helpers::test_settings(data.path());
        s.bind = "0.0.0.0:0".parse().unwrap();
        s
    };
    let refused = Application::build(public(), Overrides::default())
        .await
        .expect_err("no token, no opt-out: refused");
    let message = format!("{refused:#}");
    assert!(
        message.contains("SOKOUL_API_TOKEN")
            && message.contains("SOKOUL_ALLOW_PUBLIC_WITHOUT_TOKEN=true"),
        "{message}"
    );

    let mut with_token = public();
    with_token.api_token = Some(sokoul::config::Secret::new(TOKEN));
    assert!(
        Application::build(with_token, Overrides::default())
            .await
            .is_ok()
    );
    let mut opted_out = public();
    opted_out.allow_public_without_token = true;
    assert!(
        Application::build(opted_out, Overrides::default())
            .await
            .is_ok()
    );
}
