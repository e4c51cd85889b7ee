//! A crowd of HLS viewers for `scripts/load-test.sh`: each one fetches a playlist through
//! the proxy, then its segments (the rewritten proxy URLs) at playback speed, as a player
//! does once its buffer is full: one segment per segment duration.
//!
//! `cargo run --release --example viewers -- --url URL [--viewers 500] [--seconds 120]
//!  [--pid PID] [--out FILE]`
//!
//! - Every viewer has its own HTTP client, hence its own kept-alive connection, like one
//!   browser each; viewers start at a random moment of the first segment duration so that
//!   their requests do not arrive in lockstep.
//! - Recorded: every request that fails (non-2xx status, transport error, a body shorter
//!   than its `Content-Length`), the time to the response headers (TTFB) and to the last byte
//!   of every segment, and segments that took longer than their own duration (a player
//!   without buffer would have stalled).
//! - With `--pid`, the server's resident memory (VmRSS sampled every second, VmHWM at the
//!   end), CPU time (utime + stime) and open file descriptors are read from `/proc`.
//!
//! Exits with status 1 when any request failed.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Parser;
use hdrhistogram::Histogram;
use rand::Rng;
use tokio::time::{Instant, sleep_until};
use url::Url;

#[derive(Parser, Debug)]
#[command(about = "HLS viewers at playback speed, for the proxy's load test")]
struct Args {
    /// Absolute URL of the (proxied) playlist every viewer plays.
    #[arg(long)]
    url: Url,
    #[arg(long, default_value_t = 500)]
    viewers: usize,
    /// How long each viewer plays.
    #[arg(long, default_value_t = 120)]
    seconds: u64,
    /// The server's process id, to report its memory and CPU.
    #[arg(long)]
    pid: Option<u32>,
    /// Also write the summary to this file.
    #[arg(long)]
    out: Option<std::path::PathBuf>,
}

/// Distinct error descriptions kept; more are counted as "other".
const MAX_ERROR_KINDS: usize = 32;

struct Stats {
    playlist_requests: u64,
    segment_requests: u64,
    errors: u64,
    error_kinds: BTreeMap<String, u64>,
    bytes: u64,
    late: u64,
    /// Microseconds.
    ttfb: Histogram<u64>,
    full: Histogram<u64>,
    playlist: Histogram<u64>,
}

impl Stats {
    fn new() -> Self {
        let h = || Histogram::new_with_bounds(1, 120_000_000, 3).expect("valid histogram bounds");
        Stats {
            playlist_requests: 0,
            segment_requests: 0,
            errors: 0,
            error_kinds: BTreeMap::new(),
            bytes: 0,
            late: 0,
            ttfb: h(),
            full: h(),
            playlist: h(),
        }
    }

    fn error(&mut self, kind: String) {
        self.errors += 1;
        let key =
            if self.error_kinds.len() < MAX_ERROR_KINDS || self.error_kinds.contains_key(&kind) {
                kind
            } else {
                "other".to_string()
            };
        *self.error_kinds.entry(key).or_default() += 1;
    }
}

type Shared = Arc<Mutex<Stats>>;

fn with_stats<T>(stats: &Shared, f: impl FnOnce(&mut Stats) -> T) -> T {
    // A viewer that panicked while holding the lock leaves consistent counters behind.
    let mut guard = stats.lock().unwrap_or_else(|e| e.into_inner());
    f(&mut guard)
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

/// The error and its causes on one line: reqwest's own message rarely says what happened.
fn describe(e: &reqwest::Error) -> String {
    let mut out = if e.is_timeout() {
        "timeout".to_string()
    } else if e.is_connect() {
        "connect".to_string()
    } else if e.is_body() || e.is_decode() {
        "body".to_string()
    } else {
        "request".to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let _ = write!(out, ": {s}");
        source = s.source();
    }
    out
}

/// A media playlist: segment durations and absolute URLs, plus an init section if any.
struct Media {
    segments: Vec<(Duration, Url)>,
    init: Option<Url>,
}

fn parse_media(text: &str, base: &Url) -> Option<Media> {
    let mut segments = Vec::new();
    let mut init = None;
    let mut duration = None;
    for line in text.lines().map(str::trim) {
        if let Some(d) = line.strip_prefix("#EXTINF:") {
            let secs: f64 = d.split(',').next()?.trim().parse().ok()?;
            duration = Some(Duration::from_secs_f64(secs.max(0.0)));
        } else if let Some(attrs) = line.strip_prefix("#EXT-X-MAP:") {
            let uri = attrs.split("URI=\"").nth(1)?.split('"').next()?;
            init = Some(base.join(uri).ok()?);
        } else if !line.is_empty() && !line.starts_with('#') {
            segments.push((duration.take()?, base.join(line).ok()?));
        }
    }
    (!segments.is_empty()).then_some(Media { segments, init })
}

/// The first variant of a multivariant playlist, if it is one.
fn first_variant(text: &str, base: &Url) -> Option<Url> {
    let mut lines = text.lines().map(str::trim);
    lines.find(|l| l.starts_with("#EXT-X-STREAM-INF:"))?;
    let uri = lines.find(|l| !l.is_empty() && !l.starts_with('#'))?;
    base.join(uri).ok()
}

/// GETs a playlist, counting it; `None` on any failure (already counted).
async fn get_playlist(client: &reqwest::Client, url: &Url, stats: &Shared) -> Option<String> {
    let t0 = Instant::now();
    let result = async {
        let resp = client
            .get(url.clone())
            .send()
            .await
            .map_err(|e| describe(&e))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(format!("playlist status {}", status.as_u16()));
        }
        resp.text().await.map_err(|e| describe(&e))
    }
    .await;
    with_stats(stats, |s| {
        s.playlist_requests += 1;
        match result {
            Ok(text) => {
                let _ = s.playlist.record(micros(t0.elapsed()));
                Some(text)
            }
            Err(kind) => {
                s.error(kind);
                None
            }
        }
    })
}

/// Fetches the playlist (following one multivariant level) until it parses or time is up.
async fn load_media(
    client: &reqwest::Client,
    url: &Url,
    deadline: Instant,
    stats: &Shared,
) -> Option<Media> {
    while Instant::now() < deadline {
        if let Some(text) = get_playlist(client, url, stats).await {
            let media = match first_variant(&text, url) {
                Some(variant) => match get_playlist(client, &variant, stats).await {
                    Some(text) => parse_media(&text, &variant),
                    None => None,
                },
                None => parse_media(&text, url),
            };
            if media.is_some() {
                return media;
            }
            with_stats(stats, |s| s.error("playlist without segments".into()));
        }
        // A player retries after a moment.
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    None
}

/// GETs a segment to its last byte; the TTFB and total time on success.
async fn get_segment(
    client: &reqwest::Client,
    url: &Url,
) -> Result<(Duration, Duration, u64), String> {
    let t0 = Instant::now();
    let mut resp = client
        .get(url.clone())
        .send()
        .await
        .map_err(|e| describe(&e))?;
    let ttfb = t0.elapsed();
    let status = resp.status();
    if !status.is_success() {
        return Err(format!("segment status {}", status.as_u16()));
    }
    let announced = resp.content_length();
    let mut bytes = 0u64;
    while let Some(chunk) = resp.chunk().await.map_err(|e| describe(&e))? {
        bytes += chunk.len() as u64;
    }
    if announced.is_some_and(|n| n != bytes) {
        return Err(format!(
            "segment body of {bytes} bytes, Content-Length said {announced:?}"
        ));
    }
    Ok((ttfb, t0.elapsed(), bytes))
}

async fn viewer(url: Url, begin: Instant, deadline: Instant, stats: Shared) {
    let client = match reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(1)
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(10))
        // A request hanging this long is a failure, not a slow success.
        .timeout(Duration::from_secs(60))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            with_stats(&stats, |s| s.error(format!("client: {e}")));
            return;
        }
    };
    sleep_until(begin).await;
    let Some(media) = load_media(&client, &url, deadline, &stats).await else {
        return;
    };
    if let Some(init) = &media.init {
        if let Err(kind) = get_segment(&client, init).await {
            with_stats(&stats, |s| s.error(format!("init: {kind}")));
        }
    }
    // Playback starts now; segment i is due when the previous ones have played. A VOD
    // shorter than the run starts over.
    let mut due = Instant::now();
    for (duration, segment) in media.segments.iter().cycle() {
        if due >= deadline {
            break;
        }
        sleep_until(due).await;
        let result = get_segment(&client, segment).await;
        let finished = Instant::now();
        with_stats(&stats, |s| {
            s.segment_requests += 1;
            match result {
                Ok((ttfb, full, bytes)) => {
                    let _ = s.ttfb.record(micros(ttfb));
                    let _ = s.full.record(micros(full));
                    s.bytes += bytes;
                    if finished > due + *duration {
                        s.late += 1;
                    }
                }
                Err(kind) => s.error(kind),
            }
        });
        due += *duration;
    }
}

/// What `/proc` says about the server.
#[derive(Debug, Default, Clone, Copy)]
struct Proc {
    rss_kib: u64,
    hwm_kib: u64,
    cpu_secs: f64,
    fds: u64,
}

fn read_proc(pid: u32) -> Option<Proc> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name (which may contain spaces): utime and
    // stime are the 14th and 15th fields of the line, the 12th and 13th after it.
    let after = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count() as u64);
    Some(Proc {
        rss_kib: field("VmRSS:"),
        hwm_kib: field("VmHWM:"),
        // USER_HZ is 100 on every Linux configuration this runs on.
        cpu_secs: ticks as f64 / 100.0,
        fds,
    })
}

fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let stats: Shared = Arc::new(Mutex::new(Stats::new()));

    // One look at the playlist first (not counted): the segment duration spreads the start
    // of the viewers, and a wrong URL fails here rather than as 500 errors.
    let probe_stats: Shared = Arc::new(Mutex::new(Stats::new()));
    let probe = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("an HTTP client without TLS configuration builds");
    let far = Instant::now() + Duration::from_secs(10);
    let Some(media) = load_media(&probe, &args.url, far, &probe_stats).await else {
        let kinds = with_stats(&probe_stats, |s| format!("{:?}", s.error_kinds));
        eprintln!("the playlist at {} cannot be played: {kinds}", args.url);
        std::process::exit(2);
    };
    let spread = media.segments[0].0.max(Duration::from_millis(1));
    eprintln!(
        "{} viewers for {} s; {} segments of about {:.1} s",
        args.viewers,
        args.seconds,
        media.segments.len(),
        spread.as_secs_f64()
    );

    let before = args.pid.and_then(read_proc);
    let load_start = load_average();
    let start = Instant::now();
    let deadline = start + Duration::from_secs(args.seconds);

    // Samples the server once a second: peak RSS and descriptors, the machine's load.
    let sampling = Arc::new(Mutex::new((Proc::default(), Vec::<f64>::new())));
    let sampler = {
        let sampling = sampling.clone();
        let pid = args.pid;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                let now = pid.and_then(read_proc);
                let mut g = sampling.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(p) = now {
                    g.0.rss_kib = g.0.rss_kib.max(p.rss_kib);
                    g.0.fds = g.0.fds.max(p.fds);
                }
                g.1.push(load_average());
            }
        })
    };

    let mut viewers = tokio::task::JoinSet::new();
    {
        let mut rng = rand::thread_rng();
        for _ in 0..args.viewers {
            let offset = Duration::from_micros(rng.gen_range(0..micros(spread)));
            viewers.spawn(viewer(
                args.url.clone(),
                start + offset,
                deadline,
                stats.clone(),
            ));
        }
    }
    let mut panicked = 0;
    while let Some(done) = viewers.join_next().await {
        if done.is_err() {
            panicked += 1;
        }
    }
    let elapsed = start.elapsed();
    sampler.abort();
    let after = args.pid.and_then(read_proc);
    let (peak, loads) = {
        let g = sampling.lock().unwrap_or_else(|e| e.into_inner());
        (g.0, g.1.clone())
    };

    let s = stats.lock().unwrap_or_else(|e| e.into_inner());
    let secs = elapsed.as_secs_f64();
    let mut out = String::new();
    let _ = writeln!(out, "viewers:               {}", args.viewers);
    let _ = writeln!(
        out,
        "duration:              {secs:.1} s (playing for {} s)",
        args.seconds
    );
    let _ = writeln!(
        out,
        "requests:              {} ({} playlists, {} segments)",
        s.playlist_requests + s.segment_requests,
        s.playlist_requests,
        s.segment_requests
    );
    let _ = writeln!(out, "errors:                {}", s.errors + panicked);
    for (kind, n) in &s.error_kinds {
        let _ = writeln!(out, "  {n:>8} × {kind}");
    }
    if panicked > 0 {
        let _ = writeln!(out, "  {panicked:>8} × viewer task panicked");
    }
    let _ = writeln!(
        out,
        "segment TTFB:          p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms",
        ms(s.ttfb.value_at_quantile(0.5)),
        ms(s.ttfb.value_at_quantile(0.9)),
        ms(s.ttfb.value_at_quantile(0.99)),
        ms(s.ttfb.value_at_quantile(0.999)),
        ms(s.ttfb.max())
    );
    let _ = writeln!(
        out,
        "segment, last byte:    p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms(s.full.value_at_quantile(0.5)),
        ms(s.full.value_at_quantile(0.99)),
        ms(s.full.max())
    );
    let _ = writeln!(
        out,
        "playlist:              p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms(s.playlist.value_at_quantile(0.5)),
        ms(s.playlist.value_at_quantile(0.99)),
        ms(s.playlist.max())
    );
    let _ = writeln!(out, "segments slower than their duration: {}", s.late);
    let _ = writeln!(
        out,
        "bytes:                 {:.3} GB ({:.1} MB/s, {:.1} Mbit/s per viewer)",
        s.bytes as f64 / 1e9,
        s.bytes as f64 / 1e6 / secs,
        s.bytes as f64 * 8.0 / 1e6 / secs / args.viewers.max(1) as f64
    );
    if let (Some(b), Some(a)) = (before, after) {
        let cpu = a.cpu_secs - b.cpu_secs;
        let _ = writeln!(
            out,
            "server RSS:            {:.1} MiB before, {:.1} MiB peak sampled, {:.1} MiB after, VmHWM {:.1} MiB",
            b.rss_kib as f64 / 1024.0,
            peak.rss_kib as f64 / 1024.0,
            a.rss_kib as f64 / 1024.0,
            a.hwm_kib as f64 / 1024.0
        );
        let _ = writeln!(
            out,
            "server CPU:            {cpu:.2} s ({:.1} % of one core; {:.3} s per GB)",
            cpu / secs * 100.0,
            cpu / (s.bytes as f64 / 1e9).max(1e-9)
        );
        let _ = writeln!(
            out,
            "server descriptors:    {} before, {} peak sampled",
            b.fds, peak.fds
        );
    }
    let max_load = loads.iter().copied().fold(f64::NAN, f64::max);
    let mean_load = loads.iter().sum::<f64>() / loads.len().max(1) as f64;
    let _ = writeln!(
        out,
        "load average (1 min):  {load_start:.2} at start, {mean_load:.2} mean, {max_load:.2} max, {:.2} at end ({} cores)",
        load_average(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    if let Some(me) = read_proc(std::process::id()) {
        let _ = writeln!(
            out,
            "load generator CPU:    {:.2} s ({:.1} % of one core)",
            me.cpu_secs,
            me.cpu_secs / secs * 100.0
        );
    }
    print!("{out}");
    if let Some(path) = &args.out {
        if let Err(e) = std::fs::write(path, &out) {
            eprintln!("cannot write {}: {e}", path.display());
        }
    }
    if s.errors + panicked > 0 {
        std::process::exit(1);
    }
}
