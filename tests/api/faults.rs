//! The fault-injection suite (docs/resilience.md): a loopback upstream that misbehaves in
//! one precise way per test, reached through the proxy (and, for Consumet, the resolver).
//! Each fault must give its documented error, and afterwards the process must be healthy:
//! `/healthz` answers, memory stayed bounded, and no task, upstream connection or file
//! descriptor outlives the fault.
//!
//! The tests run one at a time (`SERIAL`): the file-descriptor count and the peak memory are
//! per process, and the faults themselves are timing-sensitive on a busy machine.

use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::Mutex;

use crate::fault_server::{self as fault, FaultServer};
use crate::helpers::{TestApp, spawn_app};

/// Also taken by other modules' tests that hold hundreds of descriptors (edge's connection
/// flood), which would skew the descriptor counts checked here.
pub(crate) static SERIAL: Mutex<()> = Mutex::const_new(());

/// Generous: only a hang, not slowness, may fail a test. (30 s was not enough for twenty
/// readers of a 2.4 MB playlist in a debug build on a machine running three other builds.)
const PATIENCE: Duration = Duration::from_secs(90);
/// Tasks are counted on the test's own runtime: exact. Descriptors are per process, and
/// other tests running at the same time open some: the precise check is on the sockets of
/// this test's ports ([`socket_fds`]), the process-wide count only catches bulk leaks.
const TASK_SLACK: usize = 0;
const FD_SLACK: usize = 64;
/// Far above what the app needs, far below what buffering a 100 MB playlist or inflating the
/// 1 GiB bomb would take.
const HWM_GROWTH_LIMIT: u64 = 64 * 1024 * 1024;

struct Baseline {
    tasks: usize,
    fds: usize,
}

/// A client that keeps no idle connection to the app, so connection tasks end with their
/// request and the task count means something.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn get(app: &TestApp, path: &str) -> reqwest::Response {
    client()
        .get(format!("{}{path}", app.address))
        .send()
        .await
        .expect("the app answers")
}

fn mint(app: &TestApp, upstream: &str) -> String {
    app.state
        .signer
        .mint(upstream, &[], app.state.clock.unix() + 3600)
}

async fn proxied(app: &TestApp, server: &FaultServer, path: &str) -> reqwest::Response {
    get(app, &mint(app, &server.url(path))).await
}

async fn error_of(r: reqwest::Response) -> (u16, String) {
    let (status, code, _) = error_message(r).await;
    (status, code)
}

async fn error_message(r: reqwest::Response) -> (u16, String, String) {
    let status = r.status().as_u16();
    let body: Value = r.json().await.expect("a JSON error body");
    let field = |name: &str| body["error"][name].as_str().unwrap().to_string();
    (status, field("code"), field("message"))
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Descriptors of TCP sockets (any state but LISTEN) with one end on one of `ports`: the
/// test client's and the app's connections, the proxy's connections to the upstream.
fn socket_fds(ports: &[u16]) -> usize {
    let mut inodes = std::collections::HashSet::new();
    for table in ["/proc/self/net/tcp", "/proc/self/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 10 || f[3] == "0A" {
                continue;
            }
            let port = |addr: &str| {
                addr.rsplit(':')
                    .next()
                    .and_then(|p| u16::from_str_radix(p, 16).ok())
            };
            let ours = [f[1], f[2]]
                .iter()
                .any(|a| port(a).is_some_and(|p| ports.contains(&p)));
            if ours && f[9] != "0" {
                inodes.insert(format!("socket:[{}]", f[9]));
            }
        }
    }
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|target| inodes.contains(target.to_string_lossy().as_ref()))
        .count()
}

fn ports(app: &TestApp, server: &FaultServer) -> [u16; 2] {
    let app_port = app.address.rsplit(':').next().unwrap().parse().unwrap();
    [app_port, server.addr.port()]
}

fn tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

/// Peak resident memory of the process, bytes.
fn vm_hwm() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb * 1024
}

/// The app (proxy allowed to reach loopback, short timeouts) and the misbehaving upstream,
/// after one good request so that lazy initialisation is not counted as a leak.
async fn setup(
    configure: impl FnOnce(&mut sokoul::config::Settings),
) -> (TestApp, FaultServer, Baseline) {
    let server = FaultServer::start().await;
    let app = spawn_app(|s| {
        s.proxy.allow = vec!["127.0.0.1".into()];
        s.proxy.connect_timeout = 1.0;
        s.proxy.first_byte_timeout = 1.0;
        s.proxy.idle_timeout = 0.5;
        configure(s);
    })
    .await;
    let r = proxied(&app, &server, "/segment").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap(), fault::segment());
    let ports = ports(&app, &server);
    let started = Instant::now();
    while socket_fds(&ports) > 0 && started.elapsed() < PATIENCE {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let baseline = settle(&server, || Baseline {
        tasks: tasks(),
        fds: open_fds(),
    })
    .await;
    (app, server, baseline)
}

/// Waits for the upstream connections to close, then measures.
async fn settle<T>(server: &FaultServer, measure: impl Fn() -> T) -> T {
    let started = Instant::now();
    while server.open_connections() > 0 && started.elapsed() < PATIENCE {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    measure()
}

/// The process is still healthy after a fault: it serves, and within a settling period
/// every upstream connection is closed and the tasks and descriptors are back to baseline.
async fn assert_healthy(app: &TestApp, server: &FaultServer, baseline: &Baseline) {
    let r = get(app, "/healthz").await;
    assert_eq!(r.status(), 200);
    let r = proxied(app, server, "/segment").await;
    assert_eq!(r.status(), 200, "the proxy still relays");
    assert_eq!(r.bytes().await.unwrap(), fault::segment());
    let started = Instant::now();
    let ports = ports(app, server);
    let (mut open, mut now_tasks, mut fds, mut sockets);
    loop {
        open = server.open_connections();
        now_tasks = tasks();
        fds = open_fds();
        sockets = socket_fds(&ports);
        let settled = open == 0
            && sockets == 0
            && now_tasks <= baseline.tasks + TASK_SLACK
            && fds <= baseline.fds + FD_SLACK;
        if settled || started.elapsed() > PATIENCE {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(open, 0, "upstream connections left open by the proxy");
    assert_eq!(sockets, 0, "sockets of this test still open in the process");
    assert!(
        now_tasks <= baseline.tasks + TASK_SLACK,
        "leaked tasks: {now_tasks} alive, {} before the fault",
        baseline.tasks
    );
    assert!(
        fds <= baseline.fds + FD_SLACK,
        "leaked file descriptors: {fds} open, {} before the fault",
        baseline.fds
    );
    assert!(vm_hwm() < 1024 * 1024 * 1024, "peak memory {} B", vm_hwm());
}

/// Reads a streamed body to its end or its error, within `PATIENCE`.
async fn drain(mut r: reqwest::Response) -> (usize, Result<(), String>) {
    let mut got = 0;
    let read = tokio::time::timeout(PATIENCE, async {
        loop {
            match r.chunk().await {
                Ok(Some(c)) => got += c.len(),
                Ok(None) => return Ok(()),
                Err(e) => return Err(e.to_string()),
            }
        }
    })
    .await;
    match read {
        Ok(result) => (got, result),
        Err(_) => panic!("the body neither ended nor failed within {PATIENCE:?} ({got} bytes)"),
    }
}

#[tokio::test]
async fn a_reset_in_the_middle_of_a_segment_cuts_the_response_and_the_next_request_plays() {
    let _serial = SERIAL.lock().await;
    let (app, server, baseline) = setup(|_| {}).await;

    let mut r = proxied(&app, &server, "/reset").await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-length"],
        fault::ANNOUNCED.to_string(),
        "the upstream's length is relayed, so the client can tell the body is cut"
    );
    let first = r.chunk().await.unwrap().expect("the first bytes arrive");
    server.release_reset();
    let (rest, end) = drain(r).await;
    assert!(
        first.len() + rest <= fault::BEFORE_RESET,
        "{} bytes",
        first.len() + rest
    );
    assert!(
        end.is_err(),
        "the client sees an aborted body, not a clean end"
    );

    assert_healthy(&app, &server, &baseline).await;
}

#[tokio::test]
async fn a_reset_before_the_headers_is_a_502_upstream_unreachable() {
    let _serial = SERIAL.lock().await;
    let (app, server, baseline) = setup(|_| {}).await;

    let r = tokio::time::timeout(PATIENCE, proxied(&app, &server, "/reset-before-headers"))
        .await
        .unwrap();
    assert_eq!(error_of(r).await, (502, "upstream_unreachable".into()));

    assert_healthy(&app, &server, &baseline).await;
}

#[tokio::test]
async fn a_stall_before_the_headers_is_a_504_within_the_first_byte_timeout() {
    let _serial = SERIAL.lock().await;
    let (app, server, baseline) = setup(|s| s.proxy.first_byte_timeout = 1.0).await;

    let started = Instant::now();
    let r = tokio::time::timeout(PATIENCE, proxied(&app, &server, "/stall-headers"))
        .await
        .expect("the proxy gives up on its own");
    assert_eq!(error_of(r).await, (504, "upstream_timeout".into()));
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited the first-byte timeout"
    );

    assert_healthy(&app, &server, &baseline).await;
}

#[tokio::test]
async fn a_stall_in_the_middle_of_a_body_ends_it_after_the_idle_timeout() {
    let _serial = SERIAL.lock().await;
    let (app, server, baseline) = setup(|s| s.proxy.idle_timeout = 0.5).await;

    // A segment: the headers are out already, so the stream is cut.
    let r = proxied(&app, &server, "/stall-body").await;
    assert_eq!(r.status(), 200);
    let (got, end) = drain(r).await;
    assert_eq!(got, fault::BEFORE_STALL, "everything sent was relayed");
    assert!(end.is_err(), "then the body was aborted: {end:?}");

    // A playlist is read whole before it is answered: the stall is a 504.
    let r = tokio::time::timeout(PATIENCE, proxied(&app, &server, "/stall-playlist"))
        .await
        .unwrap();
    assert_eq!(error_of(r).await, (504, "upstream_timeout".into()));

    assert_healthy(&app, &server, &baseline).await;
}

#[tokio::test]
async fn bursts_of_5xx_are_502_upstream_error_and_the_process_keeps_serving() {
    let _serial = SERIAL.lock().await;
    let (app, server, baseline) = setup(|_| {}).await;
    let url = mint(&app, &server.url("/burst"));

    server.set_burst(true);
    let burst = futures::future::join_all((0..40).map(|_| async {
        let r = get(&app, &url).await;
        error_of(r).await
    }))
    .await;
    for answer in &burst {
        assert_eq!(answer, &(502, "upstream_error".to_string()));
    }
    // Concurrent requests for one object share one upstream fetch (issue 17), and its
    // retries; the failure is not kept.
    assert!(!server.requests().is_empty());

    server.set_burst(false);
    let r = get(&app, &url).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap(), fault::segment());

    assert_healthy(&app, &server, &baseline).await;
}

#[tokio::test]
async fn a_slow_loris_upstream_cannot_hold_the_headers_past_the_first_byte_timeout() {
    let _serial = SERIAL.lock().await;
    let (app, server, baseline) = setup(|s| {
        s.proxy.first_byte_timeout = 1.0;
        // Each byte comes well within the idle timeout: only a total deadline can end it.
        s.proxy.idle_timeout = 0.5;
    })
    .await;

    // The status line and headers, one byte every 100 ms: about 9 s in all.
    let r = tokio::time::timeout(PATIENCE, proxied(&app, &server, "/slow-headers"))
        .await
        .expect("the proxy gives up on its own");
    assert_eq!(error_of(r).await, (504, "upstream_timeout".into()));

    assert_healthy(&app, &server, &baseline).await;
}

#[tokio::test]
async fn a_slow_loris_playlist_is_cut_by_a_total_deadline() {
    let _serial = SERIAL.lock().await;
    let (app, server, baseline) = setup(|s| {
        s.proxy.first_byte_timeout = 1.0;
        s.proxy.idle_timeout = 0.5;
    })
    .await;

    // `#EXTM3U` then a byte every 100 ms: 16 MiB would take 19 days.
    let r = tokio::time::timeout(PATIENCE, proxied(&app, &server, "/slow-playlist"))
        .await
        .expect("a total deadline ends the playlist read");
    assert_eq!(error_of(r).await, (504, "upstream_timeout".into()));

    assert_healthy(&app, &server, &baseline).await;
}

#[tokio::test]
async fn a_slow_loris_segment_is_relayed_while_the_player_reads_and_released_when_it_leaves() {
    let _serial = SERIAL.lock().await;
    let (app, server, baseline) = setup(|s| s.proxy.idle_timeout = 0.5).await;

    let mut r = proxied(&app, &server, "/slow-segment").await;
    assert_eq!(r.status(), 200);
    // Three idle timeouts long: bytes keep coming, so the relay is not cut.
    let mut got = 0;
    let until = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < until {
        match tokio::time::timeout(PATIENCE, r.chunk()).await.unwrap() {
            Ok(Some(c)) => got += c.len(),
            other => panic!("the relay ended while bytes were flowing: {other:?}"),
        }
    }
    assert!(got >= 3, "{got} bytes");
    // The player gives up (hls.js has its own load timeouts): the upstream is released.
    drop(r);

    assert_healthy(&app, &server, &baseline).await;
}

#[tokio::test]
async fn a_100_mb_playlist_is_refused_with_502_without_being_buffered() {
    let _serial = SERIAL.lock().await;
    // The default cap, 16 MiB.
    let (app, server, baseline) = setup(|_| {}).await;
    let cap = app.state.settings.proxy.max_playlist_bytes;
    let hwm = vm_hwm();

    // Without a Content-Length: read up to the cap, then refused.
    let r = tokio::time::timeout(PATIENCE, proxied(&app, &server, "/huge-playlist"))
        .await
        .unwrap();
    assert_eq!(error_of(r).await, (502, "playlist_too_large".into()));
    let written = settle(&server, || server.written()).await;
    assert!(
        written < fault::HUGE / 2,
        "the proxy stopped reading near the cap: the upstream wrote {written} bytes"
    );
    // With a Content-Length: refused before reading the body.
    let before = server.written();
    let r = tokio::time::timeout(PATIENCE, proxied(&app, &server, "/huge-playlist-declared"))
        .await
        .unwrap();
    assert_eq!(error_of(r).await, (502, "playlist_too_large".into()));
    let written = settle(&server, || server.written()).await - before;
    assert!(written < cap, "{written} bytes read of a declared 100 MB");

    let grown = vm_hwm().saturating_sub(hwm);
    assert!(
        grown < HWM_GROWTH_LIMIT,
        "peak memory grew by {grown} B for a 100 MB playlist"
    );
    assert_healthy(&app, &server, &baseline).await;
}

#[tokio::test]
async fn a_playlist_that_would_rewrite_to_gigabytes_is_refused_with_502() {
    let _serial = SERIAL.lock().await;
    // The default caps: 16 MiB in, 32 MiB out.
    let (app, server, baseline) = setup(|_| {}).await;
    let hwm = vm_hwm();

    // 15 MiB of 2-byte URIs: 7.8 million proxy URLs, about 2 GB, if nothing stopped it.
    let r = tokio::time::timeout(PATIENCE, proxied(&app, &server, "/wide-playlist"))
        .await
        .unwrap();
    let (status, code, message) = error_message(r).await;
    assert_eq!((status, code.as_str()), (502, "playlist_too_large"));
    assert!(message.contains("rewritten"), "{message}");

    let grown = vm_hwm().saturating_sub(hwm);
    assert!(
        grown < HWM_GROWTH_LIMIT,
        "peak memory grew by {grown} B rewriting a {} B playlist",
        fault::WIDE
    );
    assert_healthy(&app, &server, &baseline).await;
}

fn memchr_count(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b == b'\n').count()
}

/// Resident memory of the process now, bytes.
fn vm_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb * 1024
}

/// `readers` clients of `url` at once, each reading the first piece of its body and then
/// reading nothing more: the answers kept open, or the error of those refused.
async fn slow_readers(
    app: &TestApp,
    url: &str,
    readers: usize,
    patience: Duration,
) -> Vec<Result<reqwest::Response, (u16, String)>> {
    let read = futures::future::join_all((0..readers).map(|_| async {
        let mut r = get(app, url).await;
        if r.status() != 200 {
            return Err(error_of(r).await);
        }
        let first = r.chunk().await.unwrap().expect("a first piece");
        assert!(first.starts_with(b"#EXTM3U\n"), "{first:?}");
        Ok(r)
    }));
    tokio::time::timeout(patience, read)
        .await
        .expect("every reader was answered")
}

#[tokio::test]
async fn slow_readers_of_a_huge_playlist_are_held_to_the_rewrite_memory_budget() {
    let _serial = SERIAL.lock().await;
    // Two readers of the 2.4 MB playlist fit (each reserves its input and 256 KiB of output
    // in flight), three do not.
    const BUDGET: u64 = 6 * 1024 * 1024;
    const READERS: usize = 20;
    let (app, server, baseline) = setup(|s| {
        s.proxy.max_playlist_bytes = 4 * 1024 * 1024;
        s.proxy.rewrite_memory_budget = BUDGET;
        // The readers stall for as long as the test needs: the budget stays theirs.
        s.proxy.idle_timeout = PATIENCE.as_secs_f64();
    })
    .await;
    let playlist = fault::long_playlist();
    let url = mint(&app, &server.url("/long-playlist.m3u8"));
    let hwm = vm_hwm();

    let (held, refused): (Vec<_>, Vec<_>) = slow_readers(&app, &url, READERS, PATIENCE)
        .await
        .into_iter()
        .partition(Result::is_ok);
    // Before the budget, each reader held the whole 20 MB output.
    let grown = vm_hwm().saturating_sub(hwm);
    assert!(
        grown < HWM_GROWTH_LIMIT,
        "peak memory grew by {grown} B with {READERS} slow readers"
    );
    assert!(!held.is_empty(), "no reader was served");
    assert!(
        held.len() as u64 * playlist.len() as u64 <= BUDGET,
        "{} readers of {} B each within {BUDGET} B",
        held.len(),
        playlist.len()
    );
    for e in refused {
        assert_eq!(e.unwrap_err(), (503, "upstream_busy".to_string()));
    }
    assert!(app.state.rewrite_budget.in_use() <= BUDGET);

    // The readers leave: their budget is given back, whole, and a new reader is served.
    drop(held);
    let started = Instant::now();
    while app.state.rewrite_budget.in_use() > 0 && started.elapsed() < PATIENCE {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(app.state.rewrite_budget.in_use(), 0, "budget still held");
    let mut r = tokio::time::timeout(PATIENCE, get(&app, &url))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let length = r.content_length();
    let (mut got, mut lines, mut tail) = (0, 0, Vec::new());
    while let Some(piece) = tokio::time::timeout(PATIENCE, r.chunk())
        .await
        .unwrap()
        .unwrap()
    {
        got += piece.len();
        lines += memchr_count(&piece);
        tail = piece.to_vec();
    }
    assert_eq!(length, Some(got as u64));
    assert!(got > 5 * playlist.len(), "{got} B");
    assert_eq!(lines, memchr_count(playlist));
    assert!(tail.ends_with(b"\n#EXT-X-ENDLIST\n"));

    assert_healthy(&app, &server, &baseline).await;
    assert_eq!(app.state.rewrite_budget.in_use(), 0);
}

#[tokio::test]
async fn a_client_that_stops_reading_is_cut_after_the_send_timeout_and_frees_the_budget() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _serial = SERIAL.lock().await;
    let (app, server, baseline) = setup(|s| {
        s.proxy.max_playlist_bytes = 4 * 1024 * 1024;
        // Only the send timeout may end the response: the upstream side waits far longer
        // than the test.
        s.proxy.idle_timeout = 4.0 * PATIENCE.as_secs_f64();
        s.security.send_timeout = 2.0;
    })
    .await;
    let url = mint(&app, &server.url("/long-playlist.m3u8"));
    // A tiny receive window, and no read: the 20 MB rewrite stalls once the kernel buffers
    // are full, the client's socket staying open.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let addr: std::net::SocketAddr = app.address.trim_start_matches("http://").parse().unwrap();
    let mut stalled = socket.connect(addr).await.unwrap();
    stalled
        .write_all(format!("GET {url} HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await
        .unwrap();

    let started = Instant::now();
    while app.state.rewrite_budget.in_use() == 0 && started.elapsed() < PATIENCE {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        app.state.rewrite_budget.in_use() > 0,
        "the rewrite never started"
    );
    // The server gives up on the client and the response's budget comes back.
    let started = Instant::now();
    while app.state.rewrite_budget.in_use() > 0 && started.elapsed() < PATIENCE {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        app.state.rewrite_budget.in_use(),
        0,
        "a client that reads nothing still holds the rewrite budget"
    );
    // And the connection is closed: what the kernels buffered, then the end (or a reset).
    let mut sink = vec![0; 64 * 1024];
    let closed = tokio::time::timeout(PATIENCE, async {
        loop {
            match stalled.read(&mut sink).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the server kept the connection open");
    drop(stalled);

    assert_healthy(&app, &server, &baseline).await;
}

/// Not a test: the memory figures of issue 12 in this process. `SLOW_READERS=30 cargo test
/// --test api faults::memory_of_slow_readers -- --ignored --nocapture` prints the peak growth
/// with that many slow readers of the 120,000-segment playlist (default budget) and the
/// resident memory once they left.
#[tokio::test]
#[ignore]
async fn memory_of_slow_readers() {
    let _serial = SERIAL.lock().await;
    let readers: usize = std::env::var("SLOW_READERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    // Rewriting in a debug build is slow; readers past the default budget wait 10 s for it.
    let patience = Duration::from_secs(600);
    let (app, server, _) = setup(|s| {
        s.proxy.first_byte_timeout = 10.0;
        s.proxy.idle_timeout = patience.as_secs_f64();
    })
    .await;
    fault::long_playlist();
    let url = mint(&app, &server.url("/long-playlist.m3u8"));
    let (hwm, rss) = (vm_hwm(), vm_rss());
    let answers = slow_readers(&app, &url, readers, patience).await;
    let served = answers.iter().filter(|a| a.is_ok()).count();
    let peak = vm_hwm().saturating_sub(hwm);
    drop(answers);
    settle(&server, || ()).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = vm_rss();
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    eprintln!(
        "{readers} slow readers ({served} served): RSS {:.0} MiB before, peak growth {:.0} MiB, \
         RSS {:.0} MiB after they left",
        mib(rss),
        mib(peak),
        mib(after)
    );
}

#[tokio::test]
async fn a_redirect_loop_is_a_502_too_many_redirects() {
    let _serial = SERIAL.lock().await;
    let (app, server, baseline) = setup(|s| s.proxy.max_redirects = 5).await;
    let before = server.requests().len();

    let r = tokio::time::timeout(PATIENCE, proxied(&app, &server, "/loop"))
        .await
        .unwrap();
    assert_eq!(error_of(r).await, (502, "too_many_redirects".into()));
    assert_eq!(
        server.requests().len() - before,
        6,
        "the first request and 5 hops"
    );

    assert_healthy(&app, &server, &baseline).await;
}

#[tokio::test]
async fn a_gzip_bomb_is_never_inflated() {
    let _serial = SERIAL.lock().await;
    let bomb = fault::gzip_bomb();
    let (app, server, baseline) = setup(|_| {}).await;
    let hwm = vm_hwm();

    for path in ["/gzip-bomb.ts", "/gzip-bomb.m3u8"] {
        let r = tokio::time::timeout(PATIENCE, proxied(&app, &server, path))
            .await
            .unwrap();
        let (got, _) = drain(r).await;
        assert!(
            (got as u64) < fault::BOMB_INFLATED / 100 && got <= bomb.len() + 64 * 1024,
            "{path}: {got} bytes reached the client"
        );
    }
    for head in server.requests() {
        assert!(
            !head.to_ascii_lowercase().contains("accept-encoding"),
            "the proxy asked for an encoding: {head}"
        );
    }
    let grown = vm_hwm().saturating_sub(hwm);
    assert!(grown < HWM_GROWTH_LIMIT, "peak memory grew by {grown} B");

    assert_healthy(&app, &server, &baseline).await;
}

#[tokio::test]
async fn an_answer_in_an_encoding_the_proxy_did_not_ask_for_is_refused_with_502() {
    let _serial = SERIAL.lock().await;
    let (app, server, baseline) = setup(|_| {}).await;

    for path in ["/gzip-bomb.ts", "/gzip-bomb.m3u8"] {
        let r = tokio::time::timeout(PATIENCE, proxied(&app, &server, path))
            .await
            .unwrap();
        assert_eq!(
            error_of(r).await,
            (502, "upstream_encoding_unsupported".into()),
            "{path}"
        );
    }

    assert_healthy(&app, &server, &baseline).await;
}

#[tokio::test]
async fn a_playlist_with_invalid_utf8_is_rewritten_around_the_bad_bytes() {
    let _serial = SERIAL.lock().await;
    let (app, server, baseline) = setup(|_| {}).await;

    let r = proxied(&app, &server, "/bad-utf8.m3u8").await;
    assert_eq!(r.status(), 200);
    let body = r.bytes().await.unwrap();
    // Lines that are not UTF-8 are copied byte for byte (a player skips or rejects them);
    // every other line is rewritten as usual.
    let expected_prefix: &[u8] =
        b"#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\xff\xfe caf\xe9\nseg\xff.ts\n#EXTINF:4,\n/api/streaming/proxy/f.ts?c=";
    assert!(
        body.starts_with(expected_prefix),
        "{}",
        String::from_utf8_lossy(&body)
    );
    assert!(body.ends_with(b"\n#EXT-X-ENDLIST\n"));

    assert_healthy(&app, &server, &baseline).await;
}

#[tokio::test]
async fn a_consumet_answering_html_is_an_outcome_with_its_code_and_the_resolve_succeeds() {
    let _serial = SERIAL.lock().await;
    let server = FaultServer::start().await;
    for (base, code) in [
        // An instance in NODE_ENV=DEMO, or a web page where the API should be.
        ("/html/", "consumet_demo_mode"),
        // A reverse proxy's HTML error page: retried, then reported.
        ("/html-502/", "consumet_unavailable"),
    ] {
        let url = server.url(base);
        let app = spawn_app(move |s| {
            s.consumet.url = Some(url);
            s.resilience.retry_initial_backoff = 0.05;
        })
        .await;
        let baseline = Baseline {
            tasks: tasks(),
            fds: open_fds(),
        };
        let before = server.requests().len();

        let r = get(&app, "/api/streaming/resolve/movie/603").await;
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.unwrap();
        let outcome = &body["outcomes"][0];
        assert_eq!(outcome["provider"], "consumet");
        assert_eq!(outcome["status"], "error", "{body}");
        assert_eq!(outcome["code"], code, "{body}");
        let asked = server.requests().len() - before;
        match code {
            "consumet_demo_mode" => assert_eq!(asked, 1, "not retried"),
            _ => assert_eq!(asked, 3, "retried up to resilience.retry_attempts"),
        }

        let r = get(&app, "/healthz").await;
        assert_eq!(r.status(), 200);
        let ports = ports(&app, &server);
        let started = Instant::now();
        while (server.open_connections() > 0
            || socket_fds(&ports) > 0
            || tasks() > baseline.tasks + TASK_SLACK
            || open_fds() > baseline.fds + FD_SLACK)
            && started.elapsed() < PATIENCE
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(server.open_connections(), 0);
        assert_eq!(socket_fds(&ports), 0, "sockets left open");
        assert!(tasks() <= baseline.tasks + TASK_SLACK, "leaked tasks");
        assert!(open_fds() <= baseline.fds + FD_SLACK, "leaked descriptors");
    }
}
