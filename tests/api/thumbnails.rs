//! Seek thumbnails of library files (issue 15, items 4 and 6): a film whose picture changes
//! colour every 10 s, made by ffmpeg, gets sheets covering its whole duration, served behind a
//! signed media URL, whose tile for a time shows that time's colour; a file ffmpeg cannot
//! decode gets no sheets and a problem.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use reqwest::Method;
use serde_json::Value;
use sokoul::config::Settings;

use crate::helpers::{TestApp, spawn_app};
use crate::library::{library_app, library_settings};

const TOKEN: &str = "thumbnails test token";
/// 23 segments of 10 s, one colour each; thumbnails every 2 s: 115 tiles over 2 sheets.
const SEGMENTS: usize = 23;
const INTERVAL: f64 = 2.0;
const FILM: &str = "Colours (2020) [tmdbid-777]/Colours (2020).mp4";

fn colour(i: usize) -> [u8; 3] {
    [
        (i * 97 % 256) as u8,
        ((i * 53 + 80) % 256) as u8,
        ((i * 181 + 30) % 256) as u8,
    ]
}

/// The film: H.264 in a faststart MP4 (direct play), a keyframe every second.
fn make_film(out: &Path) {
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let mut graph = String::new();
    for i in 0..SEGMENTS {
        let [r, g, b] = colour(i);
        graph.push_str(&format!(
            "color=c=0x{r:02x}{g:02x}{b:02x}:s=640x360:r=10:d=10[v{i}];"
        ));
    }
    for i in 0..SEGMENTS {
        graph.push_str(&format!("[v{i}]"));
    }
    graph.push_str(&format!("concat=n={SEGMENTS}:v=1:a=0[out]"));
    let status = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-filter_complex",
        ])
        .arg(&graph)
        .args(["-map", "[out]", "-c:v", "libx264", "-preset", "ultrafast"])
        .args(["-g", "10", "-pix_fmt", "yuv420p", "-movflags", "+faststart"])
        .arg(out)
        .status()
        .expect("ffmpeg runs");
    assert!(status.success(), "ffmpeg made {}", out.display());
}

/// The library of `root`, with more settings.
async fn app_with(root: &Path, configure: impl FnOnce(&mut Settings)) -> TestApp {
    let library = root.to_path_buf();
    spawn_app(move |s| {
        library_settings(s, library);
        configure(s);
    })
    .await
}

/// Waits, generously (ffmpeg runs niced on a loaded machine), for `n` passes of the job.
async fn passes(app: &TestApp, n: u64) {
    let mut rx = app.state.library.as_ref().unwrap().thumbnails.subscribe();
    tokio::time::timeout(Duration::from_secs(300), rx.wait_for(|p| *p >= n))
        .await
        .expect("the thumbnails job finishes")
        .unwrap();
}

struct Cue {
    start: f64,
    end: f64,
    url: String,
    rect: [usize; 4],
}

fn seconds(ts: &str) -> f64 {
    let parts: Vec<f64> = ts.split(':').map(|p| p.parse().unwrap()).collect();
    parts.iter().fold(0.0, |acc, p| acc * 60.0 + p)
}

/// The cues of a WebVTT thumbnails track, checking its shape on the way.
fn cues(vtt: &str) -> Vec<Cue> {
    let mut blocks = vtt.split("\n\n");
    assert_eq!(blocks.next(), Some("WEBVTT"), "{vtt}");
    blocks
        .map(|block| {
            let lines: Vec<&str> = block.trim_end().lines().collect();
            assert_eq!(
                lines.len(),
                2,
                "a cue is a timing line and a URL: {block:?}"
            );
            let (start, end) = lines[0].split_once(" --> ").expect("a timing line");
            let (url, rect) = lines[1].split_once("#xywh=").expect("a media fragment");
            let rect: Vec<usize> = rect.split(',').map(|v| v.parse().unwrap()).collect();
            Cue {
                start: seconds(start),
                end: seconds(end),
                url: url.to_string(),
                rect: rect.try_into().unwrap(),
            }
        })
        .collect()
}

/// A JPEG decoded by ffmpeg: (width, RGB bytes).
fn decode(jpeg: &[u8], width: usize) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sheet.jpg");
    std::fs::write(&path, jpeg).unwrap();
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&path)
        .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .output()
        .expect("ffmpeg runs");
    assert!(out.status.success() && out.stdout.len() % (width * 3) == 0);
    out.stdout
}

/// Mean colour of a rectangle, 8 px inside its edges (JPEG blurs across tile borders).
fn mean(rgb: &[u8], width: usize, [x, y, w, h]: [usize; 4]) -> [f64; 3] {
    let mut sum = [0.0; 3];
    let mut n = 0.0;
    for row in y + 8..y + h - 8 {
        for col in x + 8..x + w - 8 {
            let at = (row * width + col) * 3;
            for c in 0..3 {
                sum[c] += f64::from(rgb[at + c]);
            }
            n += 1.0;
        }
    }
    sum.map(|s| s / n)
}

#[tokio::test]
async fn sheets_cover_the_whole_film_and_each_tile_shows_the_picture_of_its_time() {
    let root = tempfile::tempdir().unwrap();
    make_film(&root.path().join(FILM));
    let app = app_with(root.path(), |s| {
        s.api_token = Some(sokoul::config::Secret::new(TOKEN));
        s.library.detect_markers = false;
        s.library.thumbnails_interval = INTERVAL;
    })
    .await;
    let authed = |method, path: &str| {
        app.client
            .request(method, format!("{}{path}", app.address))
            .bearer_auth(TOKEN)
            .send()
    };
    let scan = authed(Method::POST, "/api/library/scan").await.unwrap();
    assert_eq!(scan.status(), 200);
    passes(&app, 1).await;

    // The track's URL: the direct-play source's, same scope, same token.
    let resolve = authed(Method::GET, "/api/streaming/library/movie/777");
    let resolved: Value = resolve.await.unwrap().json().await.unwrap();
    let file = resolved["sources"][0]["url"].as_str().unwrap();
    let (base, query) = file.split_once("/file?").expect("a signed file URL");
    let track = format!("{base}/thumbnails.vtt?{query}");
    assert_eq!(
        app.get(&format!("{base}/thumbnails.vtt")).await.status(),
        401
    );
    let r = app.get(&track).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/vtt; charset=utf-8");
    let cues = cues(&r.text().await.unwrap());

    // Contiguous from 0 to the end of the film, one cue per 2 s.
    assert_eq!(cues.len(), 115);
    assert_eq!(cues[0].start, 0.0);
    assert_eq!(cues.last().unwrap().end, 230.0);
    assert!(cues.windows(2).all(|w| w[0].end == w[1].start));

    let mut sheets: Vec<(String, Vec<u8>)> = Vec::new();
    for cue in &cues {
        assert!(
            cue.url.starts_with("thumbnails/") && cue.url.contains("st="),
            "{}",
            cue.url
        );
        if !sheets.iter().any(|(u, _)| *u == cue.url) {
            // As a browser resolves it against the track's URL, with no Authorization header.
            let r = app.get(&format!("{base}/{}", cue.url)).await;
            assert_eq!(r.status(), 200, "{}", cue.url);
            assert_eq!(r.headers()["content-type"], "image/jpeg");
            let width = 10 * 320;
            sheets.push((cue.url.clone(), decode(&r.bytes().await.unwrap(), width)));
        }
        let (_, rgb) = sheets.iter().find(|(u, _)| *u == cue.url).unwrap();
        let t = (cue.start + cue.end) / 2.0;
        let want = colour((t / 10.0) as usize);
        let got = mean(rgb, 10 * 320, cue.rect);
        let off = (0..3)
            .map(|c| (got[c] - f64::from(want[c])).abs())
            .fold(0.0, f64::max);
        assert!(off < 20.0, "tile at {t} s: {got:?}, expected {want:?}");
    }
    assert_eq!(sheets.len(), 2);

    // A rescan of the unchanged file reuses its sheets.
    let sheet = app.data_dir.path().join("thumbnails/1/0.jpg");
    let made = std::fs::metadata(&sheet).unwrap().modified().unwrap();
    let rescan = authed(Method::POST, "/api/library/scan").await.unwrap();
    assert_eq!(rescan.status(), 200);
    passes(&app, 2).await;
    assert_eq!(std::fs::metadata(&sheet).unwrap().modified().unwrap(), made);
}

/// Processes whose command line mentions `needle`.
fn processes_mentioning(needle: &str) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| std::fs::read(e.ok()?.path().join("cmdline")).ok())
        .filter(|cmd| String::from_utf8_lossy(cmd).contains(needle))
        .count()
}

#[tokio::test]
async fn a_file_ffmpeg_cannot_decode_gets_no_thumbnails_and_a_problem() {
    let root = tempfile::tempdir().unwrap();
    let film = root.path().join(FILM);
    make_film(&film);
    // Its index intact (it probes and scans fine), its pictures zeroed.
    let mut bytes = std::fs::read(&film).unwrap();
    let mdat = bytes.windows(4).position(|w| w == b"mdat").unwrap();
    bytes[mdat + 4..].fill(0);
    std::fs::write(&film, bytes).unwrap();

    let app = library_app(root.path()).await;
    assert_eq!(app.scan().await["added"], 1);
    passes(&app, 1).await;

    let problems = app.get_json("/api/library/problems", 200).await;
    let list = problems["problems"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{problems}");
    assert_eq!(list[0]["path"], FILM);
    let reason = list[0]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("no seek thumbnails: ffmpeg cannot decode its picture"),
        "{reason}"
    );
    assert!(
        !reason.contains(&root.path().display().to_string()),
        "{reason}"
    );
    let r = app.get("/api/media/1/thumbnails.vtt").await;
    assert_eq!(r.status(), 404);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "thumbnails_not_found");
    assert_eq!(app.get("/api/media/1/thumbnails/0.jpg").await.status(), 404);
    let dir = app.data_dir.path().join("thumbnails");
    assert!(std::fs::read_dir(&dir).map_or(true, |mut d| d.next().is_none()));
    assert_eq!(processes_mentioning(&root.path().display().to_string()), 0);
}

#[tokio::test]
async fn an_ffmpeg_that_cannot_start_blames_no_file() {
    let root = tempfile::tempdir().unwrap();
    make_film(&root.path().join(FILM));
    let app = app_with(root.path(), |s| {
        s.library.ffmpeg = "/nonexistent/ffmpeg".into()
    })
    .await;
    assert_eq!(app.scan().await["added"], 1);
    passes(&app, 1).await;
    // Nothing stored: the next pass, with a working ffmpeg, would do the file.
    let problems = app.get_json("/api/library/problems", 200).await;
    assert_eq!(problems["problems"], serde_json::json!([]), "{problems}");
    assert_eq!(app.get("/api/media/1/thumbnails.vtt").await.status(), 404);
}
