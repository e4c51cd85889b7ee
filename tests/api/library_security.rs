//! The library against someone who can write into a library folder (issue 12, findings 2, 4,
//! 6, 7 and 13): links out of the library, playlists named like videos, symlink loops, huge
//! subtitles, hostile track metadata, and absolute paths in problem reports.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use sokoul::library::demo::Synth;

use crate::helpers::{TestApp, spawn_app};
use crate::library::{library_app, media, place};

/// What must never appear in an answer: the planted secret, `/etc/passwd`'s first line and
/// any environment variable (`/proc/self/environ` holds `PATH=` and the server's secrets).
const LEAKS: &[&str] = &["SECRET-CONTENT", "root:x:0:0", "PATH="];

fn assert_no_leak(what: &str, body: &[u8]) {
    let text = String::from_utf8_lossy(body);
    for needle in LEAKS {
        assert!(!text.contains(needle), "{what} leaks {needle}: {text}");
    }
}

fn link(target: impl AsRef<Path>, at: impl AsRef<Path>) {
    std::os::unix::fs::symlink(target, at).unwrap();
}

/// `/api/media/{id}` of a title's first source.
async fn media_base(app: &TestApp, title: &str) -> String {
    let body = app
        .get_json(&format!("/api/streaming/library/{title}"), 200)
        .await;
    let url = body["sources"][0]["url"]
        .as_str()
        .unwrap_or_else(|| panic!("{title} has a source: {body}"));
    let end = url.find("/hls/").or_else(|| url.find("/file")).unwrap();
    url[..end].to_string()
}

/// GET, returning the status and the body, which must be JSON with an error code unless 200.
async fn fetch(app: &TestApp, path: &str) -> (u16, Vec<u8>) {
    let r = app.get(path).await;
    let status = r.status().as_u16();
    let body = r.bytes().await.unwrap().to_vec();
    if status != 200 {
        let v: Value = serde_json::from_slice(&body)
            .unwrap_or_else(|e| panic!("{path} → {status}, not JSON ({e})"));
        assert!(v["error"]["code"].is_string(), "{path} → {status}: {v}");
    }
    (status, body)
}

fn problem_reason(problems: &Value, needle: &str) -> String {
    problems
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["path"].as_str().unwrap().contains(needle))
        .unwrap_or_else(|| panic!("{needle} is reported: {problems}"))["reason"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn links_out_of_the_library_are_never_served_and_links_within_it_still_play() {
    let outside = tempfile::tempdir().unwrap();
    let o = outside.path();
    std::fs::write(
        o.join("secret.srt"),
        "1\n00:00:01,000 --> 00:00:02,000\nSECRET-CONTENT\n",
    )
    .unwrap();
    place(
        o,
        "elsewhere/Other (2019) [tmdbid-610].mkv",
        Synth::H264AacMkv,
    );
    place(o, "outside.mkv", Synth::H264AacMkv);

    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let film = place(r, "Film (2020) [tmdbid-603]/Film.mkv", Synth::H264AacMkv);
    let dir = film.parent().unwrap();
    link("/proc/self/environ", dir.join("Film.en.vtt"));
    link("/etc/passwd", dir.join("Film.fr.srt"));
    link(o.join("secret.srt"), dir.join("Film.de.srt"));
    link(o.join("secret.srt"), dir.join("poster.jpg"));
    // A video and a folder linked from outside.
    link(
        o.join("outside.mkv"),
        r.join("Linked (2021) [tmdbid-604].mkv"),
    );
    link(o.join("elsewhere"), r.join("Elsewhere"));
    // Links that stay inside the library: a video and its subtitle kept in a hidden folder
    // (never scanned itself), linked under a proper name.
    place(r, ".stash/real.mkv", Synth::H264AacMkv);
    std::fs::write(
        r.join(".stash/kept.srt"),
        "1\n00:00:01,000 --> 00:00:02,000\nStill here\n",
    )
    .unwrap();
    std::fs::create_dir(r.join("Kept (2022) [tmdbid-605]")).unwrap();
    link(
        "../.stash/real.mkv",
        r.join("Kept (2022) [tmdbid-605]/Kept.mkv"),
    );
    link(
        "../.stash/kept.srt",
        r.join("Kept (2022) [tmdbid-605]/Kept.en.srt"),
    );

    let app = library_app(r).await;
    let summary = app.scan().await;
    assert_no_leak("the scan summary", summary.to_string().as_bytes());
    assert_eq!(summary["added"], 2, "603 and 605 only: {summary}");
    let failed = &summary["failed"];
    for name in [
        "Film.en.vtt",
        "Film.fr.srt",
        "Film.de.srt",
        "Linked (2021)",
        "Elsewhere",
    ] {
        let reason = problem_reason(failed, name);
        assert!(reason.contains("outside the library"), "{name}: {reason}");
    }

    // None of the linked sidecars is offered, and asking for them by number gets a JSON 404.
    let resolve = app.get_json("/api/streaming/library/movie/603", 200).await;
    assert_eq!(resolve["subtitles"], serde_json::json!([]), "{resolve}");
    assert_no_leak("the resolve answer", resolve.to_string().as_bytes());
    let base = media_base(&app, "movie/603").await;
    for track in ["x0", "x1", "x2", "x3"] {
        let (status, body) = fetch(&app, &format!("{base}/subtitles/{track}.vtt")).await;
        assert_eq!(status, 404, "{track}");
        assert_no_leak(track, &body);
    }
    // The poster is a frame of the film, not the linked `poster.jpg`.
    let (status, body) = fetch(&app, "/api/library/poster/movie/603").await;
    assert_eq!(status, 200);
    assert_eq!(&body[..2], &[0xFF, 0xD8]);
    assert_no_leak("the poster", &body);
    // The video linked from outside is not in the library at all.
    let (status, _) = fetch(&app, "/api/library/poster/movie/604").await;
    assert_eq!(status, 404);
    let (status, _) = fetch(&app, "/api/library/items/movie/610").await;
    assert_eq!(status, 404);
    let problems = app.get_json("/api/library/problems", 200).await;
    assert_no_leak("the problems", problems.to_string().as_bytes());

    // The linked title inside the library plays, with its linked subtitle.
    let kept = media_base(&app, "movie/605").await;
    let segment = app.bytes(&format!("{kept}/hls/v/0.ts")).await;
    assert!(
        segment.len() > 1000 && segment[0] == 0x47,
        "an MPEG-TS segment"
    );
    let vtt = app.text(&format!("{kept}/subtitles/x0.vtt")).await;
    assert!(vtt.contains("Still here"), "{vtt}");

    // A file replaced by a link out after the scan is refused when it is asked for.
    std::fs::remove_file(&film).unwrap();
    link(o.join("secret.srt"), &film);
    let (status, body) = fetch(&app, &format!("{base}/file")).await;
    assert_eq!(status, 404);
    assert_no_leak("the direct-play file", &body);
}

/// `Name.ts` holding an HLS playlist of `target`.
fn playlist(at: &Path, target: &Path) {
    std::fs::create_dir_all(at.parent().unwrap()).unwrap();
    std::fs::write(
        at,
        format!(
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:12\n#EXTINF:12.0,\n{}\n#EXT-X-ENDLIST\n",
            target.display()
        ),
    )
    .unwrap();
}

#[tokio::test]
async fn a_playlist_named_like_a_video_is_refused_at_the_scan_and_at_playback() {
    // The target: a real MPEG-TS video outside the library.
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("private.ts");
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(media(Synth::H264AacMkv))
        .args(["-map", "0", "-c", "copy", "-f", "mpegts"])
        .arg(&target)
        .status()
        .unwrap();
    assert!(status.success());

    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    playlist(&r.join("Sneaky (2020) [tmdbid-606]/Sneaky.ts"), &target);
    // `ffconcat` of a file beside it (`part.dat` is no video name, so it is not scanned).
    place(r, "Cat (2020) [tmdbid-607]/part.dat", Synth::H264AacMkv);
    std::fs::write(
        r.join("Cat (2020) [tmdbid-607]/Cat.mkv"),
        "ffconcat version 1.0\nfile part.dat\n",
    )
    .unwrap();
    let heat = place(r, "Heat (1995) [tmdbid-949]/Heat.mkv", Synth::H264AacMkv);

    let app = library_app(r).await;
    let summary = app.scan().await;
    assert_eq!(summary["added"], 1, "only Heat: {summary}");
    let reason = problem_reason(&summary["failed"], "Sneaky.ts");
    assert!(
        reason.contains("refused") && reason.contains("hls"),
        "{reason}"
    );
    let reason = problem_reason(&summary["failed"], "Cat.mkv");
    assert!(
        reason.contains("refused") && reason.contains("concat"),
        "{reason}"
    );
    let problems = app.get_json("/api/library/problems", 200).await;
    problem_reason(&problems["problems"], "Sneaky.ts");
    let body = app.get_json("/api/streaming/library/movie/606", 200).await;
    assert_eq!(body["outcomes"][0]["code"], "not_in_library", "{body}");

    // A video swapped for a playlist after the scan: ffmpeg only accepts the demuxer the scan
    // found (Matroska), so nothing is packaged from the playlist's target.
    let base = media_base(&app, "movie/949").await;
    std::fs::remove_file(&heat).unwrap();
    playlist(&heat, &target);
    let (status, body) = fetch(&app, &format!("{base}/hls/v/0.ts")).await;
    assert_ne!(status, 200, "{}", String::from_utf8_lossy(&body));
}

#[tokio::test]
async fn symlink_loops_end_the_scan_promptly_with_each_file_indexed_once() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    place(r, "Film (2020) [tmdbid-603].mkv", Synth::H264AacMkv);
    link(".", r.join("a"));
    link(".", r.join("b"));
    // A folder reachable twice, through a link beside it.
    place(
        r,
        "Shows/Show (2010) [tmdbid-100]/Season 01/Show S01E01.mkv",
        Synth::H264AacMkv,
    );
    link("Shows", r.join("Also Shows"));

    let app = library_app(r).await;
    // Generous for a loaded machine; the fixed walk takes milliseconds, the old one never ended.
    let summary = tokio::time::timeout(Duration::from_secs(60), app.scan())
        .await
        .expect("the scan ends");
    assert_eq!(summary["added"], 2, "{summary}");
    assert_eq!(summary["failed"], serde_json::json!([]), "{summary}");
    assert_eq!(
        app.state
            .library
            .as_ref()
            .unwrap()
            .store()
            .all_files()
            .await
            .unwrap()
            .len(),
        2
    );
}

/// Resident memory of this process (the test and the app in it), bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb * 1024
}

#[tokio::test]
async fn a_huge_subtitle_is_refused_and_a_normal_one_is_converted_once() {
    let root = tempfile::tempdir().unwrap();
    let film = place(
        root.path(),
        "Film (2020) [tmdbid-603]/Film.mkv",
        Synth::H264AacMkv,
    );
    // 300 MB without writing 300 MB: a sparse file (the size is what the cap looks at; reading
    // it whole is what the old code did, at 1.2 GiB per request).
    let huge = std::fs::File::create(film.with_file_name("Film.en.srt")).unwrap();
    huge.set_len(300 * 1024 * 1024).unwrap();
    drop(huge);
    let normal = film.with_file_name("Film.fr.srt");
    std::fs::write(&normal, "1\n00:00:01,000 --> 00:00:02,000\nBonjour\n").unwrap();

    let app = library_app(root.path()).await;
    let before = rss();
    let summary = app.scan().await;
    let reason = problem_reason(&summary["failed"], "Film.en.srt");
    assert!(reason.contains("max_subtitle_bytes"), "{reason}");
    let resolve = app.get_json("/api/streaming/library/movie/603", 200).await;
    let subs = resolve["subtitles"].as_array().unwrap();
    assert_eq!(subs.len(), 1, "only the French one: {resolve}");
    assert_eq!(subs[0]["lang"], "fr");

    let base = media_base(&app, "movie/603").await;
    let first = app.text(&format!("{base}/subtitles/x0.vtt")).await;
    assert_eq!(
        first,
        "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nBonjour\n\n"
    );
    let (status, _) = fetch(&app, &format!("{base}/subtitles/x1.vtt")).await;
    assert_eq!(status, 404);
    // Nothing read the 300 MB: the process grew by far less (other tests share it, hence the
    // margin; reading and converting the file needs over 600 MiB).
    let grown = rss().saturating_sub(before);
    assert!(grown < 256 * 1024 * 1024, "grew by {} MiB", grown >> 20);

    let library = app.state.library.as_ref().unwrap();
    assert_eq!(library.subtitle_conversions(), 1);
    let again = app.text(&format!("{base}/subtitles/x0.vtt")).await;
    assert_eq!(again, first);
    assert_eq!(library.subtitle_conversions(), 1, "served from the cache");
    // A changed file is converted again.
    std::fs::write(
        &normal,
        "1\n00:00:01,000 --> 00:00:02,000\nBonsoir tout le monde\n",
    )
    .unwrap();
    let changed = app.text(&format!("{base}/subtitles/x0.vtt")).await;
    assert!(changed.contains("Bonsoir"), "{changed}");
    assert_eq!(library.subtitle_conversions(), 2);
}

/// Splits an attribute list (`A=1,B="x,y"`) into pairs; `None` when it is malformed.
fn attributes(list: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut rest = list;
    while !rest.is_empty() {
        let (name, after) = rest.split_once('=')?;
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_uppercase() || b == b'-') {
            return None;
        }
        let (value, after) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"')?;
            (&after[..end + 2], &quoted[end + 1..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        out.push((name.to_string(), value.to_string()));
        rest = match after.strip_prefix(',') {
            Some(r) => r,
            None if after.is_empty() => after,
            None => return None,
        };
    }
    Some(out)
}

#[tokio::test]
async fn hostile_audio_metadata_cannot_change_the_master_playlist() {
    let root = tempfile::tempdir().unwrap();
    let dest: PathBuf = root.path().join("Film (2020) [tmdbid-603]/Film.mkv");
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    let title = "Evil\"\n#EXT-X-STREAM-INF:BANDWIDTH=1\nhttps://evil.example/x.m3u8\n\"";
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(media(Synth::H264AacMkv))
        .args(["-map", "0", "-c", "copy"])
        .arg("-metadata:s:a:0")
        .arg(format!("title={title}"))
        .args(["-metadata:s:a:0", "language=e\"n"])
        .arg(&dest)
        .status()
        .unwrap();
    assert!(status.success());

    let app = library_app(root.path()).await;
    assert_eq!(app.scan().await["added"], 1);
    let base = media_base(&app, "movie/603").await;
    let master = app.text(&format!("{base}/hls/master.m3u8")).await;

    let lines: Vec<&str> = master.lines().collect();
    assert_eq!(lines[0], "#EXTM3U", "{master}");
    let uris: Vec<&&str> = lines.iter().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(uris, [&"v/index.m3u8"], "one variant: {master}");
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.starts_with("#EXT-X-STREAM-INF:"))
            .count(),
        1,
        "{master}"
    );
    let media: Vec<&&str> = lines
        .iter()
        .filter(|l| l.starts_with("#EXT-X-MEDIA:"))
        .collect();
    assert_eq!(media.len(), 1, "one audio rendition: {master}");
    for line in lines.iter().filter(|l| l.contains(':')) {
        let (tag, list) = line.split_once(':').unwrap();
        if tag == "#EXT-X-MEDIA" || tag == "#EXT-X-STREAM-INF" {
            let attrs = attributes(list).unwrap_or_else(|| panic!("{line} parses"));
            if tag == "#EXT-X-MEDIA" {
                let get = |k: &str| attrs.iter().find(|(n, _)| n == k).unwrap().1.clone();
                assert_eq!(get("LANGUAGE"), "\"und\"", "{line}");
                let name = get("NAME");
                let inner = &name[1..name.len() - 1];
                assert!(inner.contains("Evil") && !inner.contains('"'), "{line}");
                assert_eq!(get("URI"), "\"a0/index.m3u8\"");
            }
        }
    }
}

#[tokio::test]
async fn problems_name_their_library_folder_and_a_path_relative_to_it() {
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    place(first.path(), "Untitled/home video.mkv", Synth::H264AacMkv);
    link(
        second.path().join("gone.mkv"),
        second.path().join("Ghost (2020) [tmdbid-6].mkv"),
    );
    let roots = vec![first.path().to_path_buf(), second.path().to_path_buf()];
    let app = spawn_app(move |s| {
        s.library.enabled = true;
        s.library.paths = roots;
        s.library.watch = false;
        s.library.scan_on_start = false;
    })
    .await;
    let summary = app.scan().await;
    let problems = app.get_json("/api/library/problems", 200).await;
    for (what, list) in [
        ("scan", &summary["failed"]),
        ("problems", &problems["problems"]),
    ] {
        let text = list.to_string();
        for dir in [&first, &second] {
            let abs = std::fs::canonicalize(dir.path()).unwrap();
            assert!(!text.contains(&*abs.to_string_lossy()), "{what}: {text}");
            assert!(
                !text.contains(&*dir.path().to_string_lossy()),
                "{what}: {text}"
            );
        }
        let list = list.as_array().unwrap();
        assert_eq!(list.len(), 2, "{what}: {text}");
        let home = list.iter().find(|p| p["root"] == 0).unwrap();
        assert_eq!(home["path"], "Untitled/home video.mkv", "{what}: {text}");
        let ghost = list.iter().find(|p| p["root"] == 1).unwrap();
        assert_eq!(
            ghost["path"], "Ghost (2020) [tmdbid-6].mkv",
            "{what}: {text}"
        );
    }
}
