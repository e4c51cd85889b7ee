//! A misbehaving upstream on loopback, written on a raw `TcpListener` so every byte and its
//! timing is under the test's control (a framework would answer correctly for us).
//!
//! Every answer closes its connection, so the proxy never keeps a pooled connection to it:
//! once a fault is over, `open_connections()` must fall back to 0. A connection still open
//! then is one the proxy forgot to close.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// The size `/reset` and `/stall-body` announce; they send far less.
pub(crate) const ANNOUNCED: usize = 1_000_000;
/// What `/reset` sends before waiting for `release_reset()`.
pub(crate) const BEFORE_RESET: usize = 100_000;
/// What `/stall-body` sends before going silent.
pub(crate) const BEFORE_STALL: usize = 64 * 1024;
/// What `/huge-playlist` would send if it were read to the end.
pub(crate) const HUGE: u64 = 100 * 1024 * 1024;
/// What `/wide-playlist` sends: under the 16 MiB input cap, but every one of its 2-byte lines
/// is a URI that would grow into a proxy URL of about 250 bytes.
pub(crate) const WIDE: u64 = 15 * 1024 * 1024;
/// The gap between two bytes of the slow-loris routes.
pub(crate) const DRIBBLE: Duration = Duration::from_millis(100);

/// A valid segment-like body: MPEG-TS sync bytes, so it is never taken for a playlist.
pub(crate) fn segment() -> Vec<u8> {
    (0..188 * 100u32)
        .map(|i| if i % 188 == 0 { 0x47 } else { (i % 251) as u8 })
        .collect()
}

/// Segments of `/long-playlist.m3u8`, as in the audit of issue 12: a 2.4 MB playlist that
/// rewrites to 20 MB (every URI of about 10 bytes becomes a proxy URL of about 160).
pub(crate) const LONG_SEGMENTS: usize = 120_000;

/// The body of `/long-playlist.m3u8`, built once.
pub(crate) fn long_playlist() -> &'static [u8] {
    static PLAYLIST: OnceLock<Vec<u8>> = OnceLock::new();
    PLAYLIST.get_or_init(|| {
        use std::io::Write;
        let mut out = b"#EXTM3U\n#EXT-X-TARGETDURATION:4\n".to_vec();
        for i in 0..LONG_SEGMENTS {
            write!(out, "#EXTINF:4,\n{i}.ts\n").unwrap();
        }
        out.extend_from_slice(b"#EXT-X-ENDLIST\n");
        out
    })
}

pub(crate) const BAD_UTF8_PLAYLIST: &[u8] =
    b"#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\xff\xfe caf\xe9\nseg\xff.ts\n#EXTINF:4,\nok.ts\n#EXT-X-ENDLIST\n";

/// About 1 GiB of zeros in about 1 MiB of gzip: 64 concatenated gzip members of 16 MiB each
/// (a gzip stream may hold several members; a decoder inflates them all).
pub(crate) fn gzip_bomb() -> &'static [u8] {
    static BOMB: OnceLock<Vec<u8>> = OnceLock::new();
    BOMB.get_or_init(|| {
        use std::io::Write;
        let mut member = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 1024 * 1024];
        for _ in 0..16 {
            member.write_all(&zeros).unwrap();
        }
        let member = member.finish().unwrap();
        member.repeat(64)
    })
}

/// Inflated size of [`gzip_bomb`].
pub(crate) const BOMB_INFLATED: u64 = 64 * 16 * 1024 * 1024;

#[derive(Default)]
struct Shared {
    open: AtomicUsize,
    heads: Mutex<Vec<String>>,
    burst: AtomicBool,
    written: AtomicU64,
    release: Notify,
}

pub(crate) struct FaultServer {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
}

struct Open(Arc<Shared>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::SeqCst);
    }
}

impl FaultServer {
    pub(crate) async fn start() -> FaultServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared::default());
        let accept = shared.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                accept.open.fetch_add(1, Ordering::SeqCst);
                let open = Open(accept.clone());
                tokio::spawn(async move {
                    let shared = open.0.clone();
                    handle(socket, &shared).await;
                    drop(open);
                });
            }
        });
        FaultServer { addr, shared }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Connections accepted and not yet closed by either side.
    pub(crate) fn open_connections(&self) -> usize {
        self.shared.open.load(Ordering::SeqCst)
    }

    /// The request heads received, in order.
    pub(crate) fn requests(&self) -> Vec<String> {
        self.shared.heads.lock().unwrap().clone()
    }

    /// While on, `/burst` answers 503.
    pub(crate) fn set_burst(&self, on: bool) {
        self.shared.burst.store(on, Ordering::SeqCst);
    }

    /// Body bytes the `/huge-*` routes managed to write.
    pub(crate) fn written(&self) -> u64 {
        self.shared.written.load(Ordering::SeqCst)
    }

    /// Lets the `/reset` route reset its connection.
    pub(crate) fn release_reset(&self) {
        self.shared.release.notify_one();
    }
}

async fn read_head(socket: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = socket.read(&mut buf).await.ok()?;
        if n == 0 || head.len() > 16 * 1024 {
            return None;
        }
        head.extend_from_slice(&buf[..n]);
    }
    String::from_utf8(head).ok()
}

/// Waits until the peer closes (or resets) the connection.
async fn until_closed(socket: &mut TcpStream) {
    let mut buf = [0u8; 1024];
    while let Ok(n) = socket.read(&mut buf).await {
        if n == 0 {
            break;
        }
    }
}

fn head(status: &str, headers: &[(&str, String)]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status}\r\nConnection: close\r\n");
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    out.into_bytes()
}

async fn answer(socket: &mut TcpStream, status: &str, content_type: &str, body: &[u8]) {
    let mut out = head(
        status,
        &[
            ("Content-Type", content_type.to_string()),
            ("Content-Length", body.len().to_string()),
        ],
    );
    out.extend_from_slice(body);
    let _ = socket.write_all(&out).await;
    let _ = socket.shutdown().await;
}

/// Writes one byte every [`DRIBBLE`] until the peer goes away.
async fn dribble(socket: &mut TcpStream, bytes: impl Iterator<Item = u8>) {
    for b in bytes {
        if socket.write_all(&[b]).await.is_err() {
            return;
        }
        tokio::time::sleep(DRIBBLE).await;
    }
}

/// Writes `lines` over and over up to `limit` bytes, counting what got through, until the
/// peer stops reading and goes away.
const M3U8: &str = "application/vnd.apple.mpegurl";

/// The lines `/huge-playlist` repeats.
const LINES: &[u8] = b"#EXTINF:4,\nsegment-000000.ts\n";

/// `#EXTM3U` and then `limit` bytes of `pattern`, announced in a Content-Length or not.
async fn flood_playlist(
    socket: &mut TcpStream,
    shared: &Shared,
    limit: u64,
    pattern: &[u8],
    declared: bool,
) {
    let length = (limit + 8).to_string();
    let mut headers = vec![("Content-Type", M3U8.into())];
    if declared {
        headers.push(("Content-Length", length));
    }
    let out = head("200 OK", &headers);
    if socket.write_all(&out).await.is_ok() && socket.write_all(b"#EXTM3U\n").await.is_ok() {
        flood(socket, shared, limit, pattern).await;
    }
}

async fn flood(socket: &mut TcpStream, shared: &Shared, limit: u64, pattern: &[u8]) {
    let chunk = pattern.repeat(64 * 1024 / pattern.len());
    let mut sent = 0u64;
    while sent < limit {
        let n = (limit - sent).min(chunk.len() as u64) as usize;
        if socket.write_all(&chunk[..n]).await.is_err() {
            return;
        }
        sent += n as u64;
        shared.written.fetch_add(n as u64, Ordering::SeqCst);
    }
}

async fn handle(mut socket: TcpStream, shared: &Shared) {
    let Some(request) = read_head(&mut socket).await else {
        return;
    };
    let path = request
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .split('?')
        .next()
        .unwrap_or("/")
        .to_string();
    shared.heads.lock().unwrap().push(request);
    const TS: &str = "video/mp2t";
    match path.as_str() {
        "/segment" => answer(&mut socket, "200 OK", TS, &segment()).await,
        "/playlist.m3u8" => {
            answer(
                &mut socket,
                "200 OK",
                M3U8,
                b"#EXTM3U\n#EXTINF:4,\nok.ts\n#EXT-X-ENDLIST\n",
            )
            .await
        }
        "/reset" => {
            let mut out = head(
                "200 OK",
                &[
                    ("Content-Type", TS.into()),
                    ("Content-Length", ANNOUNCED.to_string()),
                ],
            );
            out.extend(segment().into_iter().cycle().take(BEFORE_RESET));
            if socket.write_all(&out).await.is_err() {
                return;
            }
            shared.release.notified().await;
            // A zero linger makes the close a TCP reset; it never blocks.
            #[allow(deprecated)]
            let _ = socket.set_linger(Some(Duration::ZERO));
        }
        "/reset-before-headers" => {
            #[allow(deprecated)]
            let _ = socket.set_linger(Some(Duration::ZERO));
        }
        "/stall-headers" => until_closed(&mut socket).await,
        "/stall-body" => {
            let mut out = head(
                "200 OK",
                &[
                    ("Content-Type", TS.into()),
                    ("Content-Length", ANNOUNCED.to_string()),
                ],
            );
            out.extend(segment().into_iter().cycle().take(BEFORE_STALL));
            if socket.write_all(&out).await.is_ok() {
                until_closed(&mut socket).await;
            }
        }
        "/stall-playlist" => {
            let mut out = head(
                "200 OK",
                &[
                    ("Content-Type", M3U8.into()),
                    ("Content-Length", "1000".into()),
                ],
            );
            out.extend_from_slice(b"#EXTM3U\n#EXTINF:4,\n");
            if socket.write_all(&out).await.is_ok() {
                until_closed(&mut socket).await;
            }
        }
        "/burst" => {
            if shared.burst.load(Ordering::SeqCst) {
                answer(
                    &mut socket,
                    "503 Service Unavailable",
                    "text/plain",
                    b"overloaded",
                )
                .await
            } else {
                answer(&mut socket, "200 OK", TS, &segment()).await
            }
        }
        "/slow-headers" => {
            let mut all = head(
                "200 OK",
                &[
                    ("Content-Type", TS.into()),
                    ("Content-Length", "188".into()),
                ],
            );
            all.extend_from_slice(&segment()[..188]);
            dribble(&mut socket, all.into_iter()).await;
        }
        "/slow-playlist" => {
            let out = head("200 OK", &[("Content-Type", M3U8.into())]);
            if socket.write_all(&out).await.is_ok() {
                let body = b"#EXTM3U\n"
                    .iter()
                    .copied()
                    .chain(b"#EXTINF:4,\nsegment.ts\n".iter().copied().cycle());
                dribble(&mut socket, body).await;
            }
        }
        "/slow-segment" => {
            let out = head("200 OK", &[("Content-Type", TS.into())]);
            if socket.write_all(&out).await.is_ok() {
                dribble(&mut socket, segment().into_iter().cycle()).await;
            }
        }
        // No length: the body ends when the connection closes.
        "/huge-playlist" => flood_playlist(&mut socket, shared, HUGE, LINES, false).await,
        "/huge-playlist-declared" => flood_playlist(&mut socket, shared, HUGE, LINES, true).await,
        "/wide-playlist" => flood_playlist(&mut socket, shared, WIDE, b"a\n", true).await,
        "/loop" => {
            let out = head(
                "302 Found",
                &[("Location", "/loop".into()), ("Content-Length", "0".into())],
            );
            let _ = socket.write_all(&out).await;
        }
        "/gzip-bomb.ts" | "/gzip-bomb.m3u8" => {
            let bomb = gzip_bomb();
            let content_type = if path.ends_with(".m3u8") { M3U8 } else { TS };
            let mut out = head(
                "200 OK",
                &[
                    ("Content-Type", content_type.into()),
                    ("Content-Encoding", "gzip".into()),
                    ("Content-Length", bomb.len().to_string()),
                ],
            );
            out.extend_from_slice(bomb);
            let _ = socket.write_all(&out).await;
        }
        "/bad-utf8.m3u8" => answer(&mut socket, "200 OK", M3U8, BAD_UTF8_PLAYLIST).await,
        "/long-playlist.m3u8" => {
            // Written from the shared copy: twenty connections must not cost twenty copies.
            let body = long_playlist();
            let out = head(
                "200 OK",
                &[
                    ("Content-Type", M3U8.into()),
                    ("Content-Length", body.len().to_string()),
                ],
            );
            if socket.write_all(&out).await.is_ok() && socket.write_all(body).await.is_ok() {
                let _ = socket.shutdown().await;
            }
        }
        p if p.starts_with("/html/") => answer(
            &mut socket,
            "200 OK",
            "text/html; charset=utf-8",
            b"<!DOCTYPE html><html><head><title>Consumet</title></head><body>demo</body></html>",
        )
        .await,
        p if p.starts_with("/html-502/") => {
            answer(
                &mut socket,
                "502 Bad Gateway",
                "text/html",
                b"<html><body><h1>502 Bad Gateway</h1>nginx</body></html>",
            )
            .await
        }
        _ => answer(&mut socket, "404 Not Found", "text/plain", b"no such fault").await,
    }
}
