//! No secret, token or signed URL in the logs: the real binary, logging at debug level, is
//! sent requests carrying every kind of credential it handles (the API token, proxy URLs and
//! their `c`/`s`/`u`, a Jellyfin API key, a TMDB key, a CDN token and cookie inside a proxied
//! source, a media token), including failures that log errors; its stderr must hold none.

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::fake_jellyfin::{API_KEY, FakeJellyfin};
use crate::fake_tmdb;

const API_TOKEN: &str = "api-token-8d1f9c7e2b";
const SECRET: &str = "signing-secret-5e0a7c3d91f2b4a6";
const CDN_TOKEN: &str = "cdntoken4c9e1a";
const CDN_COOKIE: &str = "session=cookie7f3b2d";
const WRONG_TOKEN: &str = "not-the-token-3b7a9c2e";
const CONSUMET_KEY: &str = "consumetupstreamkey6d2f";

/// Kills the server when the test ends, passed or not.
pub(crate) struct Server {
    child: Child,
    pub(crate) log: Arc<Mutex<String>>,
    pub(crate) address: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The real binary with `envs`, its stderr (the log) captured.
pub(crate) fn start(envs: &[(&str, String)]) -> Server {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sokoul"));
    command
        .arg("serve")
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        command.env(k, v);
    }
    let mut child = command.spawn().expect("the sokoul binary starts");
    let (log, address) = crate::helpers::serve_log(&mut child);
    Server {
        child,
        log,
        address: format!("http://{address}"),
    }
}

/// The values of a proxy URL's query parameters.
fn params(url: &str) -> Vec<String> {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
    url::form_urlencoded::parse(query.as_bytes())
        .map(|(_, v)| v.into_owned())
        .filter(|v| v.len() >= 8)
        .collect()
}

#[tokio::test]
async fn no_credential_reaches_the_logs_at_debug_level() {
    let (jellyfin, _fake) = FakeJellyfin::start(0).await;
    let tmdb = fake_tmdb::start().await;
    fake_tmdb::mount_catalogue(&tmdb).await;
    // Consumet quotes its upstream's URL, key included, in its errors.
    let consumet = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/meta/tmdb/info/603"))
        .respond_with(ResponseTemplate::new(500).set_body_json(serde_json::json!({
            "statusCode": 500,
            "message": format!("getaddrinfo ENOTFOUND https://api.themoviedb.org/3/movie/603?api_key={CONSUMET_KEY}")
        })))
        .mount(&consumet)
        .await;
    let cdn = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v/master.m3u8"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            format!("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\nseg0.ts?token={CDN_TOKEN}\n#EXT-X-ENDLIST\n"),
            "application/vnd.apple.mpegurl",
        ))
        .mount(&cdn)
        .await;
    Mock::given(method("GET"))
        .and(path("/v/seg0.ts"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(vec![0x47u8; 188], "video/mp2t"))
        .mount(&cdn)
        .await;

    let data = tempfile::tempdir().unwrap();
    let empty_library = tempfile::tempdir().unwrap();
    let server = start(&[
        ("SOKOUL_BIND", "127.0.0.1:0".into()),
        ("SOKOUL_DATA_DIR", data.path().display().to_string()),
        ("SOKOUL_LIBRARY", empty_library.path().display().to_string()),
        ("SOKOUL_SECRET", SECRET.into()),
        ("SOKOUL_API_TOKEN", API_TOKEN.into()),
        ("SOKOUL_JELLYFIN_URL", jellyfin.uri()),
        ("SOKOUL_CONSUMET_URL", consumet.uri()),
        ("SOKOUL_JELLYFIN_API_KEY", API_KEY.into()),
        ("SOKOUL_TMDB_KEY", fake_tmdb::KEY.into()),
        ("SOKOUL_TMDB_URL", fake_tmdb::base_url(&tmdb)),
        ("SOKOUL_PROXY_ALLOW", "127.0.0.1".into()),
        ("SOKOUL_LOG", "debug".into()),
    ]);
    let client = reqwest::Client::new();
    let base = server.address.clone();
    let get = |path: String, token: Option<&str>| {
        let mut request = client.get(format!("{base}{path}"));
        if let Some(t) = token {
            request = request.bearer_auth(t);
        }
        request.send()
    };

    // Every secret string that must stay out of the logs, completed as URLs are seen.
    let mut secrets: Vec<String> = [
        API_TOKEN,
        SECRET,
        API_KEY,
        fake_tmdb::KEY,
        CDN_TOKEN,
        CDN_COOKIE,
        CONSUMET_KEY,
    ]
    .map(String::from)
    .to_vec();

    // Resolves (Jellyfin with its key, TMDB with its key) and metadata.
    let mut proxy_urls = Vec::new();
    for path in [
        "/api/streaming/resolve/movie/603",
        "/api/streaming/jellyfin/tv/1396?season=1&episode=2",
    ] {
        let r = get(path.into(), Some(API_TOKEN)).await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let body: Value = r.json().await.unwrap();
        for list in ["sources", "subtitles"] {
            for s in body[list].as_array().unwrap() {
                if let Some(p) = s["proxy_url"].as_str() {
                    proxy_urls.push(p.to_owned());
                }
            }
        }
    }
    assert!(
        !proxy_urls.is_empty(),
        "Jellyfin sources come with proxy URLs"
    );
    let r = get("/api/metadata/movie/603".into(), Some(API_TOKEN))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // A source needing a cookie, with a CDN token in its URL, and an unreachable one that
    // makes the proxy log an error.
    let signer = sokoul::proxy::token::Signer::new(SECRET.as_bytes());
    let expires = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    let cookie = vec![("Cookie".to_string(), CDN_COOKIE.to_string())];
    proxy_urls.push(signer.mint(
        &format!("{}/v/master.m3u8?token={CDN_TOKEN}", cdn.uri()),
        &cookie,
        expires,
    ));
    proxy_urls.push(signer.mint(
        &format!("http://127.0.0.1:9/gone.m3u8?api_key={API_KEY}"),
        &cookie,
        expires,
    ));

    // Every proxy URL as a player fetches it (no header), plus the children of playlists.
    let mut fetched = 0;
    let mut queue = proxy_urls.clone();
    while let Some(url) = queue.pop() {
        secrets.extend(params(&url));
        let r = get(url.clone(), None).await.unwrap();
        fetched += 1;
        let is_playlist = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("mpegurl"));
        let text = r.text().await.unwrap_or_default();
        if is_playlist && fetched < 20 {
            queue.extend(
                text.lines()
                    .filter(|l| l.starts_with("/api/streaming/proxy"))
                    .map(String::from),
            );
        }
    }

    // Failures: a wrong token, a forged media token, a bad body.
    let r = get("/api/progress".into(), Some(WRONG_TOKEN))
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    secrets.push(WRONG_TOKEN.into());
    // Refused before any handler (issue 12): a rebound host name, a cross-site state change.
    let r = client
        .get(format!("{base}/api/library/items"))
        .header("host", "rebind.attacker.example")
        .bearer_auth(API_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 421);
    let r = client
        .post(format!("{base}/api/library/scan"))
        .header("sec-fetch-site", "cross-site")
        .bearer_auth(API_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = get(
        "/api/media/1/file?st=99999999999.forgedmediatoken0".into(),
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 403);
    secrets.push("forgedmediatoken0".into());
    let r = client
        .put(format!("{base}/api/progress/movie/603"))
        .bearer_auth(API_TOKEN)
        .body("{not json")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // The log is written asynchronously: wait until the last request shows up.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !server
        .log
        .lock()
        .unwrap()
        .contains("/api/progress/{media_type}/{tmdb_id}")
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let log = server.log.lock().unwrap().clone();
    if std::env::var_os("SHOW_LOG").is_some() {
        eprintln!("{log}");
    }
    // The log did record the requests (so the check below is not vacuous).
    assert!(log.contains("/api/streaming/proxy"), "{log}");
    assert!(log.contains("upstream unreachable"), "{log}");
    assert!(log.contains("DEBUG"), "{log}");
    // A wrong token is logged (issue 12, finding 10), without the token.
    assert!(log.contains("wrong API token"), "{log}");
    for secret in &secrets {
        assert!(
            !log.contains(secret.as_str()),
            "'{secret}' is in the log:\n{}",
            log.lines()
                .filter(|l| l.contains(secret.as_str()))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    for word in ["api_key=", "ApiKey=", "Bearer ", "token="] {
        assert!(!log.contains(word), "'{word}' is in the log:\n{log}");
    }
}
