//! `upstream.proxy` against real forward proxies started by the tests: Debian's `tinyproxy`
//! (HTTP CONNECT, with Basic authentication) and `microsocks` (SOCKS5 with a password). The
//! real binary runs at debug level; the proxies' own logs say which destinations they were
//! asked for.
//!
//! What holds: provider requests and proxied segments go through the proxy, which is asked for
//! the address Sokoul resolved and checked (`CONNECT 127.0.0.1:port` for a provider configured
//! as `localhost`), never for the name; a name that resolves to a private address the guard
//! does not allow is refused without reaching the proxy; the per-domain rules send the other
//! hosts direct; the proxy's credentials appear in no log line.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::log_secrets::{Server, start};

const SECRET: &str = "outbound-proxy-test-secret-4f1c9a";
const PROXY_USER: &str = "proxyuser7d2a";
const PROXY_PASS: &str = "proxypass9c4e1b";
const SEGMENT: &[u8] = &[0x47; 188];

/// A forward proxy process, killed when the test ends; `log` reads what it recorded.
struct ForwardProxy {
    child: Child,
    port: u16,
    log: Box<dyn Fn() -> String + Send>,
    _dir: tempfile::TempDir,
}

impl Drop for ForwardProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_listening(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the proxy listens on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// tinyproxy with Basic authentication, logging each request line (`CONNECT host:port`).
fn tinyproxy() -> ForwardProxy {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let log_path = dir.path().join("tinyproxy.log");
    // As root, tinyproxy drops to `User`: its log directory must be writable by that user.
    let root = Command::new("id").arg("-u").output().unwrap().stdout == b"0\n";
    if root {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    let config = format!(
        "Port {port}\nListen 127.0.0.1\nTimeout 60\nLogFile \"{}\"\nLogLevel Connect\n\
         MaxClients 100\nAllow 127.0.0.1\nBasicAuth {PROXY_USER} {PROXY_PASS}\n{}",
        log_path.display(),
        if root {
            "User nobody\nGroup nogroup\n"
        } else {
            ""
        },
    );
    let config_path = dir.path().join("tinyproxy.conf");
    std::fs::write(&config_path, config).unwrap();
    let child = Command::new("tinyproxy")
        .arg("-d")
        .arg("-c")
        .arg(&config_path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("tinyproxy is installed (scripts/setup-debian.sh test)");
    wait_listening(port);
    ForwardProxy {
        child,
        port,
        log: Box::new(move || std::fs::read_to_string(&log_path).unwrap_or_default()),
        _dir: dir,
    }
}

/// microsocks with a password; it logs `client[n] ip: connected to host:port` per tunnel on
/// stderr.
fn microsocks() -> ForwardProxy {
    let port = free_port();
    let mut child = Command::new("microsocks")
        .args(["-i", "127.0.0.1", "-p", &port.to_string()])
        .args(["-u", PROXY_USER, "-P", PROXY_PASS])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("microsocks is installed (scripts/setup-debian.sh test)");
    let stderr = child.stderr.take().unwrap();
    let log = Arc::new(Mutex::new(String::new()));
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            sink.lock().unwrap().push_str(&(line + "\n"));
        }
    });
    wait_listening(port);
    ForwardProxy {
        child,
        port,
        log: Box::new(move || log.lock().unwrap().clone()),
        _dir: tempfile::tempdir().unwrap(),
    }
}

impl ForwardProxy {
    /// Waits (generously: a loaded machine) until the proxy's log holds `needle`.
    async fn wait_for(&self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !(self.log)().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "the proxy never logged {needle:?}; its log:\n{}",
                (self.log)()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A CDN with a one-segment playlist, and a Consumet instance (any answer will do: what
/// matters is how the request reached it).
async fn upstreams() -> (MockServer, MockServer) {
    let cdn = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v/master.m3u8"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\nseg0.ts\n#EXT-X-ENDLIST\n",
            "application/vnd.apple.mpegurl",
        ))
        .mount(&cdn)
        .await;
    Mock::given(method("GET"))
        .and(path("/v/seg0.ts"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(SEGMENT.to_vec(), "video/mp2t"))
        .mount(&cdn)
        .await;
    (cdn, MockServer::start().await)
}

/// Sokoul with Consumet at `localhost:<port>` (a name: the proxy must be asked for the
/// address) and the CDN's exact `127.0.0.1:<port>` allowed, so `localhost:<cdn port>` is not.
fn sokoul(cdn: &MockServer, consumet: &MockServer, extra: &[(&str, String)]) -> Server {
    let data = tempfile::tempdir().unwrap().keep();
    let library = tempfile::tempdir().unwrap().keep();
    let mut envs = vec![
        ("SOKOUL_BIND", "127.0.0.1:0".to_string()),
        ("SOKOUL_DATA_DIR", data.display().to_string()),
        ("SOKOUL_LIBRARY", library.display().to_string()),
        ("SOKOUL_SECRET", SECRET.into()),
        (
            "SOKOUL_CONSUMET_URL",
            format!("http://localhost:{}", consumet.address().port()),
        ),
        ("SOKOUL_PROXY_ALLOW", cdn.address().to_string()),
        ("SOKOUL_LOG", "debug".into()),
    ];
    envs.extend(extra.iter().cloned());
    start(&envs)
}

/// The upstreams, and Sokoul behind `proxy` (`scheme://user:pass@127.0.0.1:port`).
async fn behind(
    proxy: &ForwardProxy,
    scheme: &str,
    extra: &[(&str, String)],
) -> (MockServer, MockServer, Server) {
    let (cdn, consumet) = upstreams().await;
    let setting = format!(
        "{scheme}://{PROXY_USER}:{PROXY_PASS}@127.0.0.1:{}",
        proxy.port
    );
    let mut envs = vec![("SOKOUL_UPSTREAM_PROXY", setting)];
    envs.extend(extra.iter().cloned());
    let server = sokoul(&cdn, &consumet, &envs);
    (cdn, consumet, server)
}

fn proxy_url(target: &str) -> String {
    let expires = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    sokoul::proxy::token::Signer::new(SECRET.as_bytes()).mint(target, &[], expires)
}

/// Resolves a movie (Consumet is asked), then plays the CDN's playlist and its segment
/// through Sokoul's HLS proxy.
async fn resolve_and_play(server: &Server, cdn: &MockServer, consumet: &MockServer) {
    let client = reqwest::Client::new();
    let base = &server.address;
    let r = client
        .get(format!("{base}/api/streaming/resolve/movie/603"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        !consumet.received_requests().await.unwrap().is_empty(),
        "Consumet was reached"
    );
    let master = proxy_url(&format!("{}/v/master.m3u8", cdn.uri()));
    let playlist = client.get(format!("{base}{master}")).send().await.unwrap();
    assert_eq!(playlist.status(), 200);
    let text = playlist.text().await.unwrap();
    let segment = text
        .lines()
        .find(|l| l.starts_with("/api/streaming/proxy"))
        .expect("the segment's proxy URL");
    let r = client.get(format!("{base}{segment}")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().as_ref(), SEGMENT);
}

/// A segment on the CDN's port of `host`, which the guard refuses (403 with its code).
/// `localhost` resolves to 127.0.0.1, which only `127.0.0.1:<cdn port>` allows.
async fn assert_refused(server: &Server, host: &str, cdn: &MockServer) {
    let url = proxy_url(&format!("http://{host}:{}/v/seg0.ts", cdn.address().port()));
    let r = reqwest::get(format!("{}{url}", server.address))
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "destination_not_allowed");
}

fn assert_no_credentials(server: &Server) {
    let log = server.log.lock().unwrap().clone();
    assert!(
        log.contains("/api/streaming/proxy"),
        "the log recorded the requests"
    );
    for secret in [PROXY_USER, PROXY_PASS] {
        assert!(!log.contains(secret), "{secret} appears in the log");
    }
}

/// How a proxy's log names a tunnel: `{prefix}{address}{suffix}`.
struct Tunnels {
    prefix: &'static str,
    suffix: &'static str,
}

impl Tunnels {
    fn to(&self, authority: &str) -> String {
        format!("{}{authority}{}", self.prefix, self.suffix)
    }
}

/// One scenario for both proxies: a name the guard refuses, then a resolve (Consumet at
/// `localhost`) and a segment. The proxy must have been asked for the checked addresses only,
/// the resolve's first, and the log must hold no credential.
async fn the_guard_decides_and_the_proxy_gets_addresses(
    proxy: ForwardProxy,
    scheme: &str,
    tunnels: Tunnels,
) {
    let (cdn, consumet, server) = behind(&proxy, scheme, &[]).await;

    assert_refused(&server, "localhost", &cdn).await;
    resolve_and_play(&server, &cdn, &consumet).await;

    let to_consumet = tunnels.to(&format!("127.0.0.1:{}", consumet.address().port()));
    proxy.wait_for(&to_consumet).await;
    proxy
        .wait_for(&tunnels.to(&cdn.address().to_string()))
        .await;
    let log = (proxy.log)();
    let named = format!("{}localhost", tunnels.prefix);
    assert!(!log.contains(&named), "the proxy was given a name:\n{log}");
    // The refused request came first: had it reached the proxy, its tunnel would precede
    // the resolve's.
    let loopback = format!("{}127.0.0.1:", tunnels.prefix);
    let first = log.lines().find(|l| l.contains(&loopback)).unwrap();
    assert!(
        format!("{first}\n").contains(&to_consumet),
        "a request reached the proxy before the resolve's:\n{log}"
    );
    assert_no_credentials(&server);
}

/// tinyproxy's request line, and microsocks' report.
const CONNECT_LINE: Tunnels = Tunnels {
    prefix: "CONNECT ",
    suffix: " HTTP/1.1",
};
const SOCKS_LINE: Tunnels = Tunnels {
    prefix: "connected to ",
    suffix: "\n",
};

#[tokio::test]
async fn through_an_http_proxy_providers_and_segments_ask_for_the_checked_address() {
    the_guard_decides_and_the_proxy_gets_addresses(tinyproxy(), "http", CONNECT_LINE).await;
}

#[tokio::test]
async fn through_a_socks5_proxy_providers_and_segments_ask_for_the_checked_address() {
    the_guard_decides_and_the_proxy_gets_addresses(microsocks(), "socks5", SOCKS_LINE).await;
}

#[tokio::test]
async fn per_domain_rules_send_bypassed_hosts_direct() {
    let proxy = tinyproxy();
    // Both hosts are named by `proxy_only`; the bypass wins for the CDN.
    let rules = [
        ("SOKOUL_UPSTREAM_PROXY_ONLY", "localhost,127.0.0.1".into()),
        ("SOKOUL_UPSTREAM_PROXY_BYPASS", "127.0.0.1".into()),
    ];
    let (cdn, consumet, server) = behind(&proxy, "http", &rules).await;

    resolve_and_play(&server, &cdn, &consumet).await;

    proxy
        .wait_for(&format!("CONNECT 127.0.0.1:{} ", consumet.address().port()))
        .await;
    let log = (proxy.log)();
    assert!(
        !log.contains(&format!("CONNECT {} ", cdn.address())),
        "the bypassed CDN went through the proxy:\n{log}"
    );
    assert!(
        !cdn.received_requests().await.unwrap().is_empty(),
        "the CDN was reached directly"
    );
}

#[tokio::test]
async fn through_socks5h_the_proxy_resolves_names_and_literal_private_addresses_never_leave() {
    let proxy = microsocks();
    let (cdn, consumet, server) = behind(&proxy, "socks5h", &[]).await;

    assert_refused(&server, "127.0.0.2", &cdn).await;
    resolve_and_play(&server, &cdn, &consumet).await;

    // The documented exception: the provider's name goes to the proxy, which resolves it.
    let consumet_port = consumet.address().port();
    proxy
        .wait_for(&format!("connected to localhost:{consumet_port}\n"))
        .await;
    proxy
        .wait_for(&format!("connected to {}\n", cdn.address()))
        .await;
    let log = (proxy.log)();
    assert!(!log.contains("127.0.0.2"), "a refused literal left:\n{log}");
    assert_no_credentials(&server);
}
