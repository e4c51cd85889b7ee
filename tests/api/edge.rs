//! The server edge under abuse (issue 12, findings 3, 8, 9, 10 and 13's length caps): silent
//! and trickling connections under a low descriptor limit, host names a rebound DNS name
//! brings, cross-site state changes, guessed API tokens, and provider strings that forge log
//! lines or bloat answers. Where the process matters (its descriptor limit, its stderr) the
//! real binary runs; the rest uses `spawn_app`.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::spawn_app;

const TOKEN: &str = "edge-test-token-5c1e9a7b";

/// The binary, killed when the test ends, its stderr collected.
struct Server {
    child: Child,
    log: Arc<Mutex<String>>,
    address: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// `sokoul serve` on a free loopback port, with `envs`, through `sh -c` so that `shell`
    /// (e.g. `ulimit -n 256`) applies to it first.
    fn start(shell: &str, envs: &[(&str, String)]) -> Server {
        let data = tempfile::tempdir().unwrap().keep();
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(format!("{shell}\nexec \"$0\" serve"))
            .arg(env!("CARGO_BIN_EXE_sokoul"))
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1")
            .env("SOKOUL_BIND", "127.0.0.1:0")
            .env("SOKOUL_DATA_DIR", &data)
            .env("SOKOUL_LIBRARY", data.join("no-library"))
            .env("SOKOUL_DASHBOARD_DIR", data.join("no-dashboard"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in envs {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("sh starts");
        let (log, address) = crate::helpers::serve_log(&mut child);
        Server {
            child,
            log,
            address: address.parse().unwrap(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Waits (generously) until the log holds `needle`, and returns the log.
    async fn log_with(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let log = self.log.lock().unwrap().clone();
            if log.contains(needle) || Instant::now() > deadline {
                return log;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Reads until the peer closes (EOF or reset); `false` if it is still open after `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 512];
    tokio::time::timeout(within, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

#[tokio::test]
async fn silent_connections_beyond_the_descriptor_limit_are_closed_and_healthz_still_answers() {
    // The flood holds hundreds of this process's descriptors: not while the fault suite counts
    // them.
    let _serial = crate::faults::SERIAL.lock().await;
    // Hard and soft limit 256 (dash's `ulimit` sets both), so raising it changes nothing.
    let server = Server::start("ulimit -n 256", &[("SOKOUL_HEADER_TIMEOUT", "2".into())]);
    // More connections than descriptors. Once the kernel's accept queue is full, a connect
    // hangs: stop there (the old server got there, never closing any).
    let mut silent = Vec::new();
    for _ in 0..400 {
        match tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(server.address)).await
        {
            Ok(Ok(stream)) => silent.push(stream),
            _ => break,
        }
    }
    assert!(
        silent.len() > 256,
        "only {} connections opened",
        silent.len()
    );

    // Health probes as an orchestrator makes them: a fresh connection each, retried.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    let healthy = loop {
        match client.get(server.url("/healthz")).send().await {
            Ok(r) if r.status() == 200 => break true,
            _ if Instant::now() > deadline => break false,
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    };
    assert!(
        healthy,
        "/healthz never answered:\n{}",
        server.log.lock().unwrap()
    );

    // Every silent connection is closed by the server (none of them sent a byte).
    for (i, stream) in silent.iter_mut().enumerate() {
        assert!(
            closed_within(stream, Duration::from_secs(60)).await,
            "silent connection {i} is still open"
        );
    }
    // …and the server still serves real requests afterwards.
    let r = client
        .get(server.url("/api/progress"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let log = server.log.lock().unwrap().clone();
    assert!(log.contains("connection limit reached"), "{log}");
}

#[tokio::test]
async fn a_request_whose_headers_never_end_is_closed() {
    let app = spawn_app(|s| s.security.header_timeout = 1.0).await;
    let addr = app.address.trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(&addr).await.unwrap();
    stream
        .write_all(b"GET /api/progress HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        .await
        .unwrap();
    // hyper's own header timeout would close it after 30 s: the setting's 1 s is what holds.
    assert!(closed_within(&mut stream, Duration::from_secs(20)).await);
}

#[tokio::test]
async fn a_body_trickling_in_is_cut_with_408_after_the_body_deadline() {
    let app = spawn_app(|s| s.security.body_timeout = 1.0).await;
    let addr = app.address.trim_start_matches("http://").to_owned();
    let stream = TcpStream::connect(&addr).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    write
        .write_all(
            b"PUT /api/progress/movie/603 HTTP/1.1\r\nHost: 127.0.0.1\r\n\
              Content-Type: application/json\r\nContent-Length: 4000\r\n\r\n{",
        )
        .await
        .unwrap();
    // One byte every 200 ms: the whole body would take 13 minutes.
    let trickle = tokio::spawn(async move {
        for _ in 0..4000 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if write.write_all(b" ").await.is_err() {
                break;
            }
        }
    });
    let mut answer = Vec::new();
    let read_all = tokio::time::timeout(Duration::from_secs(60), async {
        let mut buf = [0u8; 1024];
        loop {
            match read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    trickle.abort();
    assert!(read_all.is_ok(), "the connection was not closed");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"request_timeout\""), "{answer}");
}

/// GET `path` with a `Host` header, raw (an HTTP client would write its own).
async fn get_with_host(address: &str, path: &str, host: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(address.trim_start_matches("http://"))
        .await
        .unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut answer))
        .await
        .expect("an answer")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not HTTP: {answer}"));
    (status, answer)
}

#[tokio::test]
async fn a_rebound_host_name_is_refused_and_local_names_are_answered() {
    let app = spawn_app(|_| {}).await;
    let port = app.address.rsplit(':').next().unwrap().to_owned();
    let (status, answer) = get_with_host(
        &app.address,
        "/api/progress",
        "rebind.attacker.example:8080",
    )
    .await;
    assert_eq!(status, 421, "{answer}");
    assert!(answer.contains("\"host_not_allowed\""), "{answer}");
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        "localhost".into(),
        format!("[::1]:{port}"),
    ] {
        let (status, answer) = get_with_host(&app.address, "/api/progress", &host).await;
        assert_eq!(status, 200, "Host: {host}: {answer}");
    }

    let app = spawn_app(|s| s.security.allowed_hosts = vec!["sokoul.example.org".into()]).await;
    let (status, _) = get_with_host(&app.address, "/healthz", "sokoul.example.org").await;
    assert_eq!(status, 200);
    let (status, _) = get_with_host(&app.address, "/healthz", "other.example.org").await;
    assert_eq!(status, 421);
}

#[tokio::test]
async fn a_cross_site_post_is_refused_and_a_same_origin_one_runs() {
    let library = tempfile::tempdir().unwrap();
    let root = library.path().to_path_buf();
    let app = spawn_app(move |s| {
        s.library.enabled = true;
        s.library.paths = vec![root];
        s.library.watch = false;
        s.library.scan_on_start = false;
    })
    .await;
    let own_origin = app.address.clone();
    let scan = |headers: Vec<(&'static str, String)>| {
        let mut request = app
            .client
            .post(format!("{}/api/library/scan", app.address))
            .header("content-type", "text/plain")
            .body("x");
        for (k, v) in headers {
            request = request.header(k, v);
        }
        request.send()
    };
    // A form or fetch() from another site, as current and as older browsers mark it.
    for headers in [
        vec![
            ("sec-fetch-site", "cross-site".to_string()),
            ("origin", "http://evil.example".into()),
        ],
        vec![("origin", "http://evil.example".to_string())],
        vec![("sec-fetch-site", "same-site".to_string())],
    ] {
        let r = scan(headers.clone()).await.unwrap();
        assert_eq!(r.status(), 403, "{headers:?}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "cross_site_request", "{headers:?}");
    }
    // The dashboard itself, and a script with no browser headers.
    for headers in [
        vec![
            ("sec-fetch-site", "same-origin".to_string()),
            ("origin", own_origin.clone()),
        ],
        vec![("origin", own_origin.clone())],
        vec![],
    ] {
        let r = scan(headers.clone()).await.unwrap();
        assert_eq!(r.status(), 200, "{headers:?}");
    }
}

#[tokio::test]
async fn a_short_api_token_is_refused_at_start_with_a_way_to_make_one() {
    let data = tempfile::tempdir().unwrap();
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_sokoul"))
        .arg("serve")
        .env("SOKOUL_API_TOKEN", "7")
        .env("SOKOUL_BIND", "127.0.0.1:0")
        .env("SOKOUL_DATA_DIR", data.path())
        .env("SOKOUL_LIBRARY", data.path().join("no-library"))
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("sokoul refuses to start instead of serving")
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("at least 16") && stderr.contains("openssl rand -hex 32"),
        "{stderr}"
    );
}

#[tokio::test]
async fn wrong_tokens_are_throttled_per_client_and_logged_without_the_token() {
    let server = Server::start("", &[("SOKOUL_API_TOKEN", TOKEN.into())]);
    let client = reqwest::Client::new();
    let attempt = |client: &reqwest::Client, token: &str| {
        client
            .get(server.url("/api/progress"))
            .bearer_auth(token)
            .send()
    };
    // Wrong tokens until the throttle answers: after the 10 of the burst (the refill, one per
    // 6 s, could add one on a very slow machine).
    let mut refused = 0;
    let r = loop {
        let r = attempt(&client, &format!("guess-{refused:04}-wrong"))
            .await
            .unwrap();
        if r.status() == 429 {
            break r;
        }
        assert_eq!(r.status(), 401, "guess {refused}");
        refused += 1;
        assert!(refused <= 20, "no throttle after {refused} wrong tokens");
    };
    assert!(refused >= 10, "throttled after {refused}");
    let retry_after: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=6).contains(&retry_after), "Retry-After: {retry_after}");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_many_attempts");
    // Throttled, the right token is not even checked for this client…
    assert_eq!(attempt(&client, TOKEN).await.unwrap().status(), 429);
    // …while another client (another loopback address) gets in.
    let other = reqwest::Client::builder()
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    assert_eq!(attempt(&other, TOKEN).await.unwrap().status(), 200);

    // The log is read by another thread: wait (generously) until every warning has arrived.
    let warnings = |log: &str| {
        log.lines()
            .filter(|l| l.contains("WARN") && l.contains("wrong API token"))
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut log = server.log_with("wrong API token").await;
    while warnings(&log) < refused && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        log = server.log.lock().unwrap().clone();
    }
    let warned = warnings(&log);
    assert_eq!(warned, refused, "one warning per wrong token:\n{log}");
    assert!(log.contains("client=127.0.0.1"), "{log}");
    for i in 0..=refused {
        let guess = format!("guess-{i:04}-wrong");
        assert!(!log.contains(&guess), "'{guess}' is in the log:\n{log}");
    }
    assert!(!log.contains(TOKEN), "{log}");
}

#[tokio::test]
async fn an_addon_name_with_newlines_and_escapes_cannot_forge_log_lines() {
    let name = "Evil\n2026-01-01T00:00:00.000000Z  INFO sokoul: forged line\x1b[31m";
    let addon = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/manifest.json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "org.example.evil", "version": "0.1.0", "name": name,
            "resources": ["stream"], "types": ["movie"], "idPrefixes": ["tmdb:"], "catalogs": []
        })))
        .mount(&addon)
        .await;
    Mock::given(method("GET"))
        .and(path_regex("^/stream/"))
        .respond_with(ResponseTemplate::new(500).set_body_string("boom\n\x1b[2J"))
        .mount(&addon)
        .await;
    let server = Server::start(
        "",
        &[
            (
                "SOKOUL_STREMIO_ADDONS",
                format!("{}/manifest.json", addon.uri()),
            ),
            ("SOKOUL_PROXY_ALLOW", "127.0.0.1".into()),
            ("SOKOUL_LOG", "debug".into()),
        ],
    );
    let r = reqwest::get(server.url("/api/streaming/stremio/movie/603"))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let log = server.log_with("a Stremio addon failed").await;
    assert!(log.contains("a Stremio addon failed"), "{log}");
    assert!(
        log.contains("Evil\\n2026"),
        "the name is shown, escaped:\n{log}"
    );
    assert!(!log.contains('\x1b'), "an ESC byte is in the log:\n{log}");
    for line in log.lines() {
        assert!(
            !line.starts_with("2026-01-01T00:00:00.000000Z"),
            "a forged line: {line}"
        );
    }
}

#[tokio::test]
async fn provider_strings_are_capped_before_they_reach_answers() {
    let huge = "A".repeat(100 * 1024);
    let addon = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/manifest.json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "org.example.big", "version": "0.1.0", "name": "Big",
            "resources": ["stream"], "types": ["movie"], "idPrefixes": ["tmdb:"], "catalogs": []
        })))
        .mount(&addon)
        .await;
    Mock::given(method("GET"))
        .and(path_regex("^/stream/"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"streams": [{
                "url": "https://cdn.example/big/master.m3u8",
                "name": huge, "title": huge,
                "subtitles": [{"url": "https://cdn.example/big/en.vtt", "lang": huge}]
            }]})),
        )
        .mount(&addon)
        .await;
    let addons = vec![format!("{}/manifest.json", addon.uri())];
    let app = spawn_app(move |s| s.stremio.addons = addons).await;

    let r = app.get("/api/streaming/stremio/movie/603").await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(
        text.len() < 8 * 1024,
        "a {} byte answer for 300 KB of provider strings",
        text.len()
    );
    let body: Value = serde_json::from_str(&text).unwrap();
    let label = body["sources"][0]["label"].as_str().unwrap();
    assert!(
        label.ends_with('…') && label.chars().count() <= 300,
        "{label}"
    );
    let lang = body["subtitles"][0]["lang"].as_str().unwrap();
    assert!(lang.ends_with('…') && lang.chars().count() <= 300, "{lang}");
}
