//! The playback engine wired into the library, over HTTP, with real ffmpeg on the files the
//! playback tests generate (`tests/playback/fixtures.rs`): what a browser's profile changes in
//! the playlists and in the segments it is served, checked with ffprobe.

use std::path::Path;

use serde_json::Value;

use crate::helpers::TestApp;
use crate::library::{library_app, library_settings};

#[allow(dead_code)]
#[path = "../playback/fixtures.rs"]
pub(crate) mod fixtures;

use fixtures::Fixture;

/// Debian's Chromium, as `capabilities.ts` measures it (`docs/playback.md`).
const CHROMIUM: &str = "1:avc,av1,av1_10,vp9,vp9p2,aac,mp3,opus,flac,mp4,webm,mkv";

/// A library holding `fixtures`, each as a film `[tmdbid-<id>]`; returns the app, scanned.
pub(crate) async fn library_of(root: &Path, fixtures: &[(Fixture, u32)]) -> TestApp {
    for (f, id) in fixtures {
        let src = f.path();
        let ext = src.extension().unwrap().to_str().unwrap();
        let dest = film_path(root, *id, ext);
        std::fs::hard_link(src, &dest)
            .or_else(|_| std::fs::copy(src, &dest).map(|_| ()))
            .unwrap();
    }
    scanned_library(root, fixtures.len()).await
}

/// Where film `id` goes in the library at `root` (its folder created).
fn film_path(root: &Path, id: u32, ext: &str) -> std::path::PathBuf {
    let dest = root.join(format!("{id}/Film (2020) [tmdbid-{id}].{ext}"));
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    dest
}

/// The app over the library at `root`, scanned: `films` were added.
async fn scanned_library(root: &Path, films: usize) -> TestApp {
    scanned_library_with(root, films, |_| {}).await
}

/// [`scanned_library`], with `more` settings.
async fn scanned_library_with(
    root: &Path,
    films: usize,
    more: impl FnOnce(&mut sokoul::config::Settings) + Send + 'static,
) -> TestApp {
    // The background jobs (markers, thumbnails) run ffmpeg on the same files: off here, where
    // the ffmpeg processes counted are the packager's.
    let root_dir = root.to_path_buf();
    let app = crate::helpers::spawn_app(move |s| {
        library_settings(s, root_dir);
        s.library.thumbnails = false;
        s.library.detect_markers = false;
        more(s);
    })
    .await;
    let scan = app.scan().await;
    assert_eq!(scan["added"], films, "{scan}");
    app
}

/// The film's HLS base URL (`/api/media/<id>/hls`), from the resolve answer.
pub(crate) async fn hls_base(app: &TestApp, tmdb: u32) -> String {
    let body = app
        .get_json(&format!("/api/streaming/library/movie/{tmdb}"), 200)
        .await;
    let url = body["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["type"] == "hls")
        .and_then(|s| s["url"].as_str())
        .unwrap_or_else(|| panic!("an HLS source: {body}"))
        .to_string();
    url.trim_end_matches("/master.m3u8").to_string()
}

/// `?profile=…` or nothing.
fn q(profile: Option<&str>) -> String {
    profile.map(|p| format!("?profile={p}")).unwrap_or_default()
}

/// The first segment of a rendition as one playable file (the init segment first for fMP4),
/// fetched as a player does: the URIs the playlists name, their queries included.
pub(crate) async fn first_segment(
    app: &TestApp,
    base: &str,
    variant: &str,
    profile: Option<&str>,
) -> Vec<u8> {
    first_seconds(app, base, variant, profile, f64::MIN_POSITIVE).await
}

/// The first segments of a rendition, as one playable file, up to at least `seconds` of film:
/// a transcode starts with a 1 s segment (`ffmpeg::RAMP`), too few frames for `idet`'s verdict.
pub(crate) async fn first_seconds(
    app: &TestApp,
    base: &str,
    variant: &str,
    profile: Option<&str>,
    seconds: f64,
) -> Vec<u8> {
    let playlist = app
        .text(&format!("{base}/{variant}/index.m3u8{}", q(profile)))
        .await;
    let mut out = Vec::new();
    if let Some(rest) = playlist.split("#EXT-X-MAP:URI=\"").nth(1) {
        let init = rest.split('"').next().unwrap();
        out.extend(app.bytes(&format!("{base}/{variant}/{init}")).await);
    }
    let mut total = 0.0;
    for (duration, uri) in crate::library::segments_of(&playlist) {
        if total >= seconds {
            break;
        }
        total += duration;
        out.extend(app.bytes(&format!("{base}/{variant}/{uri}")).await);
    }
    out
}

/// ffprobe's first stream of a segment's bytes (the video, or the audio if none).
pub(crate) fn stream_of(bytes: &[u8]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("segment");
    std::fs::write(&path, bytes).unwrap();
    let path = path.to_str().unwrap();
    let video = fixtures::first_video_stream(path);
    if video.is_null() {
        fixtures::first_stream(path, "a:0")
    } else {
        video
    }
}

/// ffmpeg's `idet` over a segment's bytes: (interlaced, progressive) frames.
fn idet(bytes: &[u8]) -> (u64, u64) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("segment.ts");
    std::fs::write(&path, bytes).unwrap();
    fixtures::idet(path.to_str().unwrap())
}

pub(crate) fn mode_of(master: &str) -> &str {
    master
        .split("DATA-ID=\"com.sokoul.playback.mode\",VALUE=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_else(|| panic!("the master playlist names its mode: {master}"))
}

#[tokio::test]
async fn av1_and_vp9_with_opus_reach_chromium_without_reencoding_and_h264_without_a_profile() {
    let root = tempfile::tempdir().unwrap();
    let app = library_of(
        root.path(),
        &[(Fixture::Av1OpusMkv, 1001), (Fixture::Vp9OpusWebm, 1002)],
    )
    .await;
    for (tmdb, codec) in [(1001, "av1"), (1002, "vp9")] {
        let base = hls_base(&app, tmdb).await;
        let master = app
            .text(&format!("{base}/master.m3u8{}", q(Some(CHROMIUM))))
            .await;
        assert_eq!(mode_of(&master), "direct_stream", "{master}");
        assert!(
            master.contains(&format!("v/index.m3u8?profile={CHROMIUM}")),
            "the profile is carried into the child URIs: {master}"
        );
        let video = first_segment(&app, &base, "v", Some(CHROMIUM)).await;
        assert_eq!(
            stream_of(&video)["codec_name"],
            codec,
            "copied, not re-encoded"
        );
        let audio = first_segment(&app, &base, "a0", Some(CHROMIUM)).await;
        assert_eq!(stream_of(&audio)["codec_name"], "opus");

        // The same file, the same URLs, no profile: the conservative default.
        let master = app.text(&format!("{base}/master.m3u8")).await;
        assert_eq!(mode_of(&master), "transcode", "{master}");
        assert!(!master.contains("profile="), "{master}");
        let video = first_segment(&app, &base, "v", None).await;
        assert_eq!(stream_of(&video)["codec_name"], "h264");
        let audio = first_segment(&app, &base, "a0", None).await;
        assert_eq!(stream_of(&audio)["codec_name"], "aac");
    }
}

#[tokio::test]
async fn webm_codecs_are_offered_first_as_the_file_itself_with_the_type_it_is_served_with() {
    let root = tempfile::tempdir().unwrap();
    // A web rip as people keep them: H.264 + AAC in Matroska, with a SubRip track.
    let rip = film_path(root.path(), 1014, "mkv");
    let srt = root.path().join("fr.srt");
    std::fs::write(&srt, "1\n00:00:00,500 --> 00:00:01,500\nBonjour\n\n").unwrap();
    fixtures::ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x180:rate=24:duration=2",
        "-f",
        "lavfi",
        "-i",
        "sine=duration=2",
        "-i",
        srt.to_str().unwrap(),
        "-map",
        "0",
        "-map",
        "1",
        "-map",
        "2",
        "-c:v",
        "libx264",
        "-profile:v",
        "high",
        "-level",
        "3.1",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-c:s",
        "srt",
        rip.to_str().unwrap(),
    ]);
    std::fs::remove_file(&srt).unwrap();
    // A TV recording kept as MKV: H.264 coded as fields, top first.
    let recording = film_path(root.path(), 1015, "mkv");
    fixtures::ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x180:rate=50:duration=2",
        "-f",
        "lavfi",
        "-i",
        "sine=duration=2",
        "-vf",
        "tinterlace=interleave_top,fieldorder=tff",
        "-c:v",
        "libx264",
        "-flags",
        "+ildct+ilme",
        "-x264opts",
        "tff=1",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        recording.to_str().unwrap(),
    ]);
    for (f, id) in [
        (Fixture::Av1OpusMkv, 1011),
        (Fixture::Vp9OpusWebm, 1012),
        (Fixture::H264Ac3MultiAudio, 1013),
    ] {
        let ext = f.path().extension().unwrap().to_str().unwrap().to_owned();
        std::fs::copy(f.path(), film_path(root.path(), id, &ext)).unwrap();
    }
    let app = scanned_library(root.path(), 5).await;
    for (tmdb, container, codecs) in [
        (1011, "video/x-matroska", "av01.0.08M.08, opus"),
        (1012, "video/webm", "vp09.00.41.08, opus"),
        // Its type names H.264, which only a Matroska demuxer (Chromium's) says yes to.
        (1014, "video/x-matroska", "avc1.64001F, mp4a.40.2"),
    ] {
        let body = app
            .get_json(&format!("/api/streaming/resolve/movie/{tmdb}"), 200)
            .await;
        let sources = body["sources"].as_array().unwrap();
        let kinds: Vec<&str> = sources
            .iter()
            .map(|s| s["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            ["mp4", "hls"],
            "the file, then its packaging: {body}"
        );
        let mime = format!("{container}; codecs=\"{codecs}\"");
        assert_eq!(sources[0]["mime"], mime.as_str(), "{body}");
        assert!(sources[1].get("mime").is_none(), "{body}");

        // What the browser was told is what it gets: the same type, and Range for seeking.
        let file = app
            .client
            .get(format!(
                "{}{}",
                app.address,
                sources[0]["url"].as_str().unwrap()
            ))
            .header("Range", "bytes=0-1023")
            .send()
            .await
            .unwrap();
        assert_eq!(file.status(), 206);
        assert_eq!(file.headers()["content-type"], container);
        assert_eq!(file.bytes().await.unwrap().len(), 1024);
    }
    // AC-3 and a second audio track: a <video> would play it silent or with one language; the
    // interlaced recording, combed.
    for tmdb in [1013, 1015] {
        let body = app
            .get_json(&format!("/api/streaming/resolve/movie/{tmdb}"), 200)
            .await;
        let kinds: Vec<&str> = body["sources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["type"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["hls"], "{tmdb}: {body}");
    }
}

/// Video frames in a segment's bytes, its init segment first for fMP4 (ffprobe counting packets).
fn video_frames(bytes: &[u8]) -> u64 {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("segment");
    std::fs::write(&path, bytes).unwrap();
    let out = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-count_packets"])
        .args(["-show_entries", "stream=nb_read_packets", "-of", "csv=p=0"])
        .arg(&path)
        .output()
        .expect("run ffprobe");
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

#[tokio::test]
async fn a_transcode_grows_its_first_segments_and_ffmpeg_cuts_where_the_playlist_says() {
    let root = tempfile::tempdir().unwrap();
    let file = film_path(root.path(), 5010, "avi");
    // 16 s of MPEG-4 Part 2 (no browser decodes it) at 25 fps, one keyframe in 12 s: the
    // encoder's own keyframes are nowhere near the engine's cuts.
    fixtures::ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=160x90:rate=25",
        "-f",
        "lavfi",
        "-i",
        "sine=r=44100",
        "-t",
        "16",
        "-c:v",
        "mpeg4",
        "-g",
        "300",
        "-c:a",
        "libmp3lame",
        file.to_str().unwrap(),
    ]);
    let root_dir = root.path().to_path_buf();
    let app = crate::helpers::spawn_app(move |s| {
        library_settings(s, root_dir);
        // The default segment length: the ramp matters when segments are long.
        s.library.segment_seconds = 6.0;
        s.library.thumbnails = false;
        s.library.detect_markers = false;
    })
    .await;
    assert_eq!(app.scan().await["added"], 1);
    let base = hls_base(&app, 5010).await;
    let playlist = app
        .text(&format!("{base}/v/index.m3u8{}", q(Some(CHROMIUM))))
        .await;
    let segments = crate::library::segments_of(&playlist);
    let lengths: Vec<f64> = segments.iter().map(|(d, _)| *d).collect();
    // The last one ends with the file (its container says 16.04 s).
    assert_eq!(lengths[..5], [1.0, 1.0, 2.0, 4.0, 6.0], "{playlist}");
    assert_eq!(lengths.len(), 6, "{playlist}");
    // What ffmpeg wrote is what the playlist promised, frame for frame, one job from 0.
    let init = match playlist.split("#EXT-X-MAP:URI=\"").nth(1) {
        Some(rest) => {
            let uri = rest.split('"').next().unwrap();
            app.bytes(&format!("{base}/v/{uri}")).await
        }
        None => Vec::new(),
    };
    for (seconds, uri) in &segments {
        let mut bytes = init.clone();
        bytes.extend(app.bytes(&format!("{base}/v/{uri}")).await);
        let frames = video_frames(&bytes) as f64;
        assert!(
            (frames - seconds * 25.0).abs() <= 1.0,
            "{uri}: {frames} frames for {seconds} s"
        );
    }
}

#[tokio::test]
async fn a_rotated_phone_video_is_upright_an_interlaced_one_progressive_and_hdr10_sdr() {
    let root = tempfile::tempdir().unwrap();
    let app = library_of(
        root.path(),
        &[
            (Fixture::PhonePortraitRotated, 2001),
            (Fixture::Mpeg2InterlacedTs, 2002),
            (Fixture::HevcMain10Hdr10, 2003),
        ],
    )
    .await;

    let base = hls_base(&app, 2001).await;
    let master = app
        .text(&format!("{base}/master.m3u8{}", q(Some(CHROMIUM))))
        .await;
    assert!(master.contains("RESOLUTION=180x320"), "{master}");
    let v = stream_of(&first_segment(&app, &base, "v", Some(CHROMIUM)).await);
    assert_eq!(
        (v["width"].as_u64(), v["height"].as_u64()),
        (Some(180), Some(320))
    );

    let base = hls_base(&app, 2002).await;
    let source = std::fs::read(Fixture::Mpeg2InterlacedTs.path()).unwrap();
    let (interlaced, _) = idet(&source);
    assert!(interlaced > 50, "the file itself reads as interlaced");
    let segment = first_seconds(&app, &base, "v", Some(CHROMIUM), 2.0).await;
    let (interlaced, progressive) = idet(&segment);
    // idet calls a few frames of a clean progressive picture interlaced (as it does in
    // tests/playback); a combed picture is the other way round.
    assert!(
        progressive > 10 * interlaced.max(1),
        "idet: {interlaced} interlaced, {progressive} progressive frames"
    );

    let base = hls_base(&app, 2003).await;
    let v = stream_of(&first_segment(&app, &base, "v", Some(CHROMIUM)).await);
    assert_eq!(v["codec_name"], "h264");
    assert_eq!(v["color_transfer"], "bt709", "{v}");
}

#[tokio::test]
async fn a_bad_profile_is_a_400_with_the_api_error_shape() {
    let root = tempfile::tempdir().unwrap();
    let app = library_of(root.path(), &[(Fixture::Vp9OpusWebm, 3001)]).await;
    let base = hls_base(&app, 3001).await;
    for path in [
        format!("{base}/master.m3u8?profile=avc,aac"),
        format!("{base}/v/index.m3u8?profile=2:avc"),
        format!("{base}/v/0.ts?profile=1:AVC"),
        format!("{base}/a0/init.mp4?profile={}", "1:avc,".repeat(60)),
    ] {
        let body = app.get_json(&path, 400).await;
        assert_eq!(
            body["error"]["code"], "invalid_client_profile",
            "{path}: {body}"
        );
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("profile")
        );
    }
    // Percent-encoded, as `URLSearchParams` writes it, is the same profile.
    let master = app
        .text(&format!(
            "{base}/master.m3u8?profile={}",
            CHROMIUM.replace(':', "%3A").replace(',', "%2C")
        ))
        .await;
    assert_eq!(mode_of(&master), "direct_stream");
}

#[tokio::test]
async fn max_480_in_the_profile_serves_a_1080p_file_in_480_line_segments() {
    let root = tempfile::tempdir().unwrap();
    // 1080p at 2 Mb/s: within every cap but the height's.
    let film = film_path(root.path(), 4001, "mkv");
    let mut args: Vec<&str> =
        "-f lavfi -i testsrc2=size=1920x1080:rate=24 -f lavfi -i sine=r=48000 \
         -t 2 -c:v libx264 -preset ultrafast -b:v 2M -c:a aac"
            .split_whitespace()
            .collect();
    args.push(film.to_str().unwrap());
    fixtures::ffmpeg(&args);
    let app = scanned_library(root.path(), 1).await;
    let base = hls_base(&app, 4001).await;

    let original = app
        .text(&format!("{base}/master.m3u8{}", q(Some(CHROMIUM))))
        .await;
    assert_eq!(mode_of(&original), "direct_stream", "{original}");
    let v = stream_of(&first_segment(&app, &base, "v", Some(CHROMIUM)).await);
    assert_eq!(v["height"], 1080, "{v}");

    let at_480 = format!("{CHROMIUM},max=480");
    let master = app
        .text(&format!("{base}/master.m3u8{}", q(Some(&at_480))))
        .await;
    assert_eq!(mode_of(&master), "transcode", "{master}");
    assert!(master.contains("RESOLUTION=854x480"), "{master}");
    let v = stream_of(&first_segment(&app, &base, "v", Some(&at_480)).await);
    assert_eq!(v["codec_name"], "h264");
    assert_eq!(
        (v["width"].as_u64(), v["height"].as_u64()),
        (Some(854), Some(480)),
        "{v}"
    );
}

/// ffmpeg processes this test process started whose command line names `needle`.
pub(crate) fn ffmpeg_children_reading(needle: &str) -> usize {
    let mut n = 0;
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let children = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        for pid in children.split_whitespace() {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline);
            if cmdline.contains("ffmpeg") && cmdline.contains(needle) {
                n += 1;
            }
        }
    }
    n
}

#[tokio::test]
async fn a_file_corrupted_after_the_scan_is_a_clear_error_and_runs_no_ffmpeg() {
    let root = tempfile::tempdir().unwrap();
    let app = library_of(root.path(), &[(Fixture::Av1OpusMkv, 4001)]).await;
    let base = hls_base(&app, 4001).await;
    // Replaced in place (a new inode, not the shared fixture): garbage with a Matroska name.
    let path = root.path().join("4001/Film (2020) [tmdbid-4001].mkv");
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, vec![0x5a; 64 * 1024]).unwrap();
    for url in [
        format!("{base}/master.m3u8{}", q(Some(CHROMIUM))),
        format!("{base}/v/0.m4s{}", q(Some(CHROMIUM))),
        format!("{base}/v/0.ts"),
    ] {
        let body = app.get_json(&url, 422).await;
        assert_eq!(body["error"]["code"], "unreadable_media", "{url}: {body}");
    }
    assert_eq!(
        ffmpeg_children_reading(&root.path().display().to_string()),
        0
    );
}

/// The first video packet's time and the number of video packets in an fMP4 segment.
fn first_pts_and_frames(init: &[u8], segment: &[u8]) -> (f64, usize) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("segment.mp4");
    std::fs::write(&path, [init, segment].concat()).unwrap();
    let out = fixtures::stdout_of(
        std::process::Command::new("ffprobe")
            .args(["-v", "error", "-select_streams", "v:0"])
            .args(["-show_entries", "packet=pts_time", "-of", "csv=p=0"])
            .arg(&path),
    );
    let times: Vec<f64> = String::from_utf8(out)
        .unwrap()
        .lines()
        .filter_map(|l| l.trim().trim_end_matches(',').parse().ok())
        .collect();
    (
        times.iter().copied().fold(f64::INFINITY, f64::min),
        times.len(),
    )
}

#[tokio::test]
async fn a_remuxed_segment_asked_for_first_far_into_the_file_sits_at_its_playlist_place() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("5001");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("Film (2020) [tmdbid-5001].webm");
    // 9 s, a keyframe every second (25 frames), so the 2 s segments are cut on real keyframes.
    fixtures::ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x180:rate=25",
        "-f",
        "lavfi",
        "-i",
        "sine=r=48000",
        "-t",
        "9",
        "-c:v",
        "libvpx-vp9",
        "-deadline",
        "realtime",
        "-cpu-used",
        "8",
        "-b:v",
        "300k",
        "-g",
        "25",
        "-c:a",
        "libopus",
        "-ac",
        "2",
        file.to_str().unwrap(),
    ]);
    let app = library_app(root.path()).await;
    assert_eq!(app.scan().await["added"], 1);
    let base = hls_base(&app, 5001).await;
    let p = q(Some(CHROMIUM));
    let playlist = app.text(&format!("{base}/v/index.m3u8{p}")).await;
    let durations = crate::library::extinf(&playlist);
    assert!(durations.len() >= 4, "{playlist}");
    let far = durations.len() - 2;

    // The seek first (a job started there), then the start (another job).
    let far_bytes = app.bytes(&format!("{base}/v/{far}.m4s{p}")).await;
    let init = app.bytes(&format!("{base}/v/init.mp4{p}")).await;
    let first = app.bytes(&format!("{base}/v/0.m4s{p}")).await;
    let (far_start, far_frames) = first_pts_and_frames(&init, &far_bytes);
    let (start, _) = first_pts_and_frames(&init, &first);
    let expected: f64 = durations[..far].iter().sum();
    assert!(
        (far_start - start - expected).abs() < 0.05,
        "segment {far} starts at {} s on the file's clock, the playlist says {expected} s",
        far_start - start
    );
    assert_eq!(
        far_frames,
        (durations[far] * 25.0).round() as usize,
        "segment {far} holds its own frames, no more"
    );
}

/// An ffprobe that writes a line to `log` each time it runs, then runs the real one.
fn counting_ffprobe(dir: &Path, log: &Path) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let script = dir.join("ffprobe-counting");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho run >> '{}'\nexec ffprobe \"$@\"\n",
            log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

fn runs(log: &Path) -> usize {
    std::fs::read_to_string(log).map_or(0, |s| s.lines().count())
}

#[tokio::test]
async fn a_copied_film_starts_with_a_2_s_segment_and_pressing_play_runs_no_second_ffprobe() {
    let root = tempfile::tempdir().unwrap();
    let tools = tempfile::tempdir().unwrap();
    let log = tools.path().join("ffprobe.log");
    let ffprobe = counting_ffprobe(tools.path(), &log);
    let file = film_path(root.path(), 5002, "mkv");
    // 20 s of H.264 with a keyframe every second (as a web release cut at every scene), AAC.
    fixtures::ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x180:rate=25",
        "-f",
        "lavfi",
        "-i",
        "sine=r=48000",
        "-t",
        "20",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-g",
        "25",
        "-c:a",
        "aac",
        file.to_str().unwrap(),
    ]);
    let root_dir = root.path().to_path_buf();
    let app = crate::helpers::spawn_app(move |s| {
        library_settings(s, root_dir);
        // The default segment length: the fast start matters when segments are long.
        s.library.segment_seconds = 6.0;
        s.library.ffprobe = ffprobe.display().to_string();
        s.library.thumbnails = false;
        s.library.detect_markers = false;
    })
    .await;
    assert_eq!(app.scan().await["added"], 1);
    let scanned = runs(&log);
    assert!(scanned > 0, "the scan runs ffprobe");

    let base = hls_base(&app, 5002).await;
    let p = q(Some(CHROMIUM));
    let master = app.text(&format!("{base}/master.m3u8{p}")).await;
    assert_eq!(mode_of(&master), "direct_stream", "{master}");
    assert_eq!(
        runs(&log),
        scanned,
        "the master playlist is planned from the scan's probe"
    );
    let playlist = app.text(&format!("{base}/v/index.m3u8{p}")).await;
    let durations = crate::library::extinf(&playlist);
    assert_eq!(
        durations
            .iter()
            .map(|d| d.round() as u32)
            .collect::<Vec<_>>(),
        vec![2, 2, 4, 6, 6],
        "{playlist}"
    );
    // Fetched in order, as hls.js does: every segment holds what the playlist says, at its place.
    // H.264 and AAC are remuxed into MPEG-TS segments, which need no init segment.
    assert!(playlist.contains("\n0.ts"), "{playlist}");
    let mut at = None;
    let mut expected = 0.0;
    for (i, d) in durations.iter().enumerate() {
        let bytes = app.bytes(&format!("{base}/v/{i}.ts{p}")).await;
        let (start, frames) = first_pts_and_frames(&[], &bytes);
        let origin = *at.get_or_insert(start);
        assert!(
            (start - origin - expected).abs() < 0.05,
            "segment {i} starts at {} s, the playlist says {expected} s",
            start - origin
        );
        // (The first segment also covers the file's start offset, 21 ms of AAC priming here.)
        assert!(
            (frames as f64 - d * 25.0).abs() <= 1.0,
            "segment {i} holds {frames} frames: {playlist}"
        );
        expected += d;
    }
}

#[tokio::test]
async fn a_vp9_film_copied_for_chromium_is_planned_from_the_scan_alone() {
    // Its keyframes are listed by the scan, as an H.264 film's are: before, the first play
    // listed them (an ffprobe reading the whole packet index) before its first segment.
    let root = tempfile::tempdir().unwrap();
    let tools = tempfile::tempdir().unwrap();
    let log = tools.path().join("ffprobe.log");
    let ffprobe = counting_ffprobe(tools.path(), &log);
    let file = film_path(root.path(), 5003, "webm");
    fixtures::ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x180:rate=25",
        "-f",
        "lavfi",
        "-i",
        "sine=r=48000",
        "-t",
        "8",
        "-c:v",
        "libvpx-vp9",
        "-deadline",
        "realtime",
        "-cpu-used",
        "8",
        "-b:v",
        "300k",
        "-g",
        "25",
        "-c:a",
        "libopus",
        "-ac",
        "2",
        file.to_str().unwrap(),
    ]);
    let root_dir = root.path().to_path_buf();
    let app = crate::helpers::spawn_app(move |s| {
        library_settings(s, root_dir);
        s.library.ffprobe = ffprobe.display().to_string();
        s.library.thumbnails = false;
        s.library.detect_markers = false;
    })
    .await;
    assert_eq!(app.scan().await["added"], 1);
    let scanned = runs(&log);

    let base = hls_base(&app, 5003).await;
    let p = q(Some(CHROMIUM));
    let master = app.text(&format!("{base}/master.m3u8{p}")).await;
    assert_eq!(mode_of(&master), "direct_stream", "{master}");
    let playlist = app.text(&format!("{base}/v/index.m3u8{p}")).await;
    let first = app.bytes(&format!("{base}/v/0.m4s{p}")).await;
    assert!(
        !first.is_empty() && playlist.contains("0.m4s"),
        "{playlist}"
    );
    assert_eq!(
        runs(&log),
        scanned,
        "no ffprobe between pressing play and the first segment"
    );
}

#[tokio::test]
async fn an_hevc_film_copied_for_safari_keeps_the_keyframes_its_first_play_listed() {
    // HEVC is copied only where it decodes (Safari, Edge): the scan leaves its keyframes to
    // the first such play, which keeps them for the next start (a restart included).
    let root = tempfile::tempdir().unwrap();
    let file = film_path(root.path(), 5004, "mkv");
    fixtures::ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x180:rate=25",
        "-f",
        "lavfi",
        "-i",
        "sine=r=48000",
        "-t",
        "6",
        "-c:v",
        "libx265",
        "-preset",
        "ultrafast",
        "-x265-params",
        "log-level=error:keyint=25",
        "-c:a",
        "aac",
        file.to_str().unwrap(),
    ]);
    let app = library_app(root.path()).await;
    assert_eq!(app.scan().await["added"], 1);
    let db = rusqlite::Connection::open(app.data_dir.path().join("sokoul.db")).unwrap();
    let stored = || -> i64 {
        db.query_row(
            "SELECT COALESCE(SUM(length(times)) / 8, 0) FROM media_keyframes",
            [],
            |r| r.get(0),
        )
        .unwrap()
    };
    assert_eq!(stored(), 0, "the scan lists no HEVC keyframes");

    let base = hls_base(&app, 5004).await;
    let p = q(Some("1:avc,hevc,aac,mp4"));
    let master = app.text(&format!("{base}/master.m3u8{p}")).await;
    assert_eq!(mode_of(&master), "direct_stream", "{master}");
    app.text(&format!("{base}/v/index.m3u8{p}")).await;
    assert_eq!(stored(), 6, "one keyframe a second, kept");
}

/// A 6 s 320×180 H.264 MKV (a keyframe a second) with one AC-3 track per tone, `default` the
/// default one: copied video and a transcoded audio for Chromium, in two seconds of ffmpeg.
fn six_second_h264_mkv(file: &Path, tones: &[u32], default: usize, audio_codec: &str) {
    let mut args: Vec<String> = ["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25"]
        .map(String::from)
        .to_vec();
    for tone in tones {
        args.extend(["-f", "lavfi", "-i"].map(String::from));
        args.push(format!("sine=r=48000:f={tone}"));
    }
    args.extend(["-t", "6"].map(String::from));
    for input in 0..=tones.len() {
        args.extend(["-map".to_string(), input.to_string()]);
    }
    args.extend(
        [
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "25",
            "-c:a",
            audio_codec,
        ]
        .map(String::from),
    );
    for n in 0..tones.len() {
        let disposition = if n == default { "default" } else { "0" };
        args.extend([format!("-disposition:a:{n}"), disposition.to_string()]);
    }
    args.push(file.to_str().unwrap().to_string());
    fixtures::ffmpeg(&args.iter().map(String::as_str).collect::<Vec<_>>());
}

/// A film whose keyframes come a frame before every 2 s (x264 `-g 47` at 24 fps: what `-g 48`
/// gives on grainy film), with B-frames and two AAC tracks (so Chromium gets it remuxed).
fn gop_a_frame_short_of_2_s_mkv(file: &Path, seconds: u32) {
    let seconds = seconds.to_string();
    let mut args: Vec<&str> = "-f lavfi -i testsrc2=size=320x180:rate=24 \
        -f lavfi -i sine=r=48000:f=440 -f lavfi -i sine=r=48000:f=660 -t"
        .split_whitespace()
        .collect();
    args.push(&seconds);
    args.extend(
        "-map 0 -map 1 -map 2 -c:v libx264 -preset veryfast -g 47 -c:a aac".split_whitespace(),
    );
    args.push(file.to_str().unwrap());
    fixtures::ffmpeg(&args);
}

/// The default segment length, with its short segments first (the tests' library has 2 s
/// segments, which have none).
fn six_second_segments(s: &mut sokoul::config::Settings) {
    s.library.segment_seconds = 6.0;
}

/// The first packet's presentation time of each stream ffprobe sees in `path`, in file order
/// of the streams.
fn first_pts(path: &Path) -> Vec<f64> {
    let out = fixtures::stdout_of(
        std::process::Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-show_entries",
                "packet=stream_index,pts_time",
            ])
            .args(["-of", "csv=p=0"])
            .arg(path),
    );
    let mut firsts: Vec<(usize, f64)> = Vec::new();
    for line in String::from_utf8_lossy(&out).lines() {
        let mut cols = line.split(',');
        let (Some(index), Some(pts)) = (cols.next(), cols.next()) else {
            continue;
        };
        let (Ok(index), Ok(pts)) = (index.parse::<usize>(), pts.parse::<f64>()) else {
            continue;
        };
        if !firsts.iter().any(|(i, _)| *i == index) {
            firsts.push((index, pts));
        }
    }
    firsts.sort_by_key(|(i, _)| *i);
    firsts.into_iter().map(|(_, pts)| pts).collect()
}

/// Segment files of rendition `variant` in the engine's cache, anywhere under `dir`.
fn cached_segments(dir: &Path, variant: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(cached_segments(&path, variant));
        } else if path.parent().and_then(|p| p.file_name()) == Some(variant.as_ref()) {
            found.push(entry.file_name().to_string_lossy().to_string());
        }
    }
    found
}

#[tokio::test]
async fn the_first_segment_is_made_once_its_playlist_is_asked_before_the_player_asks_for_it() {
    let root = tempfile::tempdir().unwrap();
    let file = film_path(root.path(), 5005, "mkv");
    six_second_h264_mkv(&file, &[440], 0, "ac3");
    let app = library_app(root.path()).await;
    assert_eq!(app.scan().await["added"], 1);
    let base = hls_base(&app, 5005).await;
    let p = q(Some(CHROMIUM));
    app.text(&format!("{base}/master.m3u8{p}")).await;
    let cache = app.data_dir.path().join("hls-cache");
    assert!(cached_segments(&cache, "a0").is_empty());

    app.text(&format!("{base}/a0/index.m3u8{p}")).await;
    let started = std::time::Instant::now();
    while !cached_segments(&cache, "a0").contains(&"0.ts".to_string()) {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "no first audio segment was made after its playlist"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        cached_segments(&cache, "v").is_empty(),
        "only the rendition whose playlist was asked"
    );
    // What the player then fetches is that very segment.
    let bytes = app.bytes(&format!("{base}/a0/0.ts{p}")).await;
    assert!(bytes.len() > 188 && bytes[0] == 0x47, "an MPEG-TS segment");
}

/// Waits (60 s at most) until rendition `variant` has a segment in the engine's cache `dir`.
async fn until_cached(dir: &Path, variant: &str, what: &str) {
    let started = std::time::Instant::now();
    while cached_segments(dir, variant).is_empty() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "{what}: nothing of rendition {variant} was packaged"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_watch_pages_resolve_with_its_profile_starts_packaging_before_the_player_asks() {
    let root = tempfile::tempdir().unwrap();
    let file = film_path(root.path(), 5006, "mkv");
    // Two audio tracks, the second the file's default: the player starts with that one.
    six_second_h264_mkv(&file, &[440, 660], 1, "ac3");
    let app = library_app(root.path()).await;
    assert_eq!(app.scan().await["added"], 1);
    let cache = app.data_dir.path().join("hls-cache");

    // A resolve without a profile (a script, the next episode's prefetch) starts nothing.
    let plain = app.get_json("/api/streaming/resolve/movie/5006", 200).await;
    assert_eq!(
        plain["sources"][0]["type"], "hls",
        "an MKV is no direct play: {plain}"
    );
    let bad = app
        .get_json("/api/streaming/resolve/movie/5006?profile=9:avc", 400)
        .await;
    assert_eq!(bad["error"]["code"], "invalid_client_profile", "{bad}");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(
        cached_segments(&cache, "v").is_empty(),
        "nothing asked, nothing made"
    );

    let profiled = app
        .get_json(
            &format!("/api/streaming/resolve/movie/5006?profile={CHROMIUM}"),
            200,
        )
        .await;
    // (Compared without their queries: the media tokens are signed again every minute.)
    let urls = |answer: &Value| -> Vec<String> {
        let sources = answer["sources"].as_array().unwrap();
        sources
            .iter()
            .map(|s| {
                s["url"]
                    .as_str()
                    .unwrap()
                    .split('?')
                    .next()
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    assert_eq!(
        urls(&profiled),
        urls(&plain),
        "the profile never changes the answer"
    );
    // No playlist asked: the video and the default audio are being packaged already.
    until_cached(&cache, "v", "video").await;
    until_cached(&cache, "a1", "default audio").await;
    assert!(
        cached_segments(&cache, "a0").is_empty(),
        "only the default audio track"
    );

    // What the player then fetches with the same profile is that packaging.
    let base = hls_base(&app, 5006).await;
    let video = stream_of(&first_segment(&app, &base, "v", Some(CHROMIUM)).await);
    assert_eq!(video["codec_name"], "h264", "{video}");
    let audio = stream_of(&first_segment(&app, &base, "a1", Some(CHROMIUM)).await);
    assert_eq!(
        audio["codec_name"], "aac",
        "AC-3 is not in Chromium's profile: {audio}"
    );
}

#[tokio::test]
async fn an_early_start_packages_the_video_and_a_copied_audio_track_with_one_ffmpeg() {
    let root = tempfile::tempdir().unwrap();
    let file = film_path(root.path(), 5007, "mkv");
    six_second_h264_mkv(&file, &[440, 660], 1, "aac");
    // ffmpeg behind a wrapper that writes each command line down: the processes started.
    let bin = tempfile::tempdir().unwrap();
    let log = bin.path().join("runs.log");
    let wrapper = bin.path().join("ffmpeg");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\nexec ffmpeg \"$@\"\n",
            log.display()
        ),
    )
    .unwrap();
    let exec = <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o755);
    std::fs::set_permissions(&wrapper, exec).unwrap();
    let runs = || -> Vec<String> {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    };
    let ffmpeg = wrapper.display().to_string();
    let app = scanned_library_with(root.path(), 1, move |s| s.library.ffmpeg = ffmpeg).await;
    let cache = app.data_dir.path().join("hls-cache");

    app.get_json(
        &format!("/api/streaming/resolve/movie/5007?profile={CHROMIUM}"),
        200,
    )
    .await;
    until_cached(&cache, "v", "video").await;
    until_cached(&cache, "a1", "default audio").await;
    let started = runs();
    assert_eq!(started.len(), 1, "one ffmpeg for both: {started:?}");
    assert!(
        started[0].contains("/v/.job-0-") && started[0].contains("/a1/.job-0-"),
        "writing the video and the default audio track: {}",
        started[0]
    );

    // The player's requests find that packaging: both renditions, the audio as it was.
    let base = hls_base(&app, 5007).await;
    let video = stream_of(&first_segment(&app, &base, "v", Some(CHROMIUM)).await);
    assert_eq!(video["codec_name"], "h264", "{video}");
    let audio = stream_of(&first_segment(&app, &base, "a1", Some(CHROMIUM)).await);
    assert_eq!(audio["codec_name"], "aac", "{audio}");
    let whole = app
        .text(&format!("{base}/a1/index.m3u8?profile={CHROMIUM}"))
        .await;
    for (_, uri) in crate::library::segments_of(&whole) {
        assert!(
            !app.bytes(&format!("{base}/a1/{uri}")).await.is_empty(),
            "{uri}"
        );
    }
    assert_eq!(runs().len(), 1, "nothing packaged twice: {:?}", runs());
}

#[tokio::test]
async fn a_copied_video_whose_keyframes_come_just_before_2_s_starts_with_a_2_s_segment() {
    let root = tempfile::tempdir().unwrap();
    gop_a_frame_short_of_2_s_mkv(&film_path(root.path(), 5008, "mkv"), 10);
    let app = scanned_library_with(root.path(), 1, six_second_segments).await;
    let base = hls_base(&app, 5008).await;
    let playlist = app
        .text(&format!("{base}/v/index.m3u8?profile={CHROMIUM}"))
        .await;
    let segments = crate::library::segments_of(&playlist);
    let (announced, uri) = &segments[0];
    assert!(
        (1.9..2.0).contains(announced),
        "the keyframe at 1.958 s ends the first segment, not the one at 3.917 s: {playlist}"
    );
    // What ffmpeg wrote is what the playlist says: the video copied, cut there.
    let first = first_segment(&app, &base, "v", Some(CHROMIUM)).await;
    assert_eq!(stream_of(&first)["codec_name"], "h264");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(uri.split('?').next().unwrap());
    std::fs::write(&path, &first).unwrap();
    let frames = fixtures::stdout_of(
        std::process::Command::new("ffprobe")
            .args(["-v", "error", "-select_streams", "v:0", "-count_packets"])
            .args(["-show_entries", "stream=nb_read_packets", "-of", "csv=p=0"])
            .arg(&path),
    );
    assert_eq!(
        String::from_utf8_lossy(&frames).lines().next(),
        Some("47"),
        "one GOP in the first segment"
    );
}

/// Lip sync: every rendition keeps the file's timestamps (plus the MPEG-TS muxer's 1.4 s), so a
/// video with B-frames starts as much after its audio as in the file, and a seek's job writes
/// the same times as the start's.
#[tokio::test]
async fn a_remuxed_video_with_b_frames_stays_in_sync_with_its_audio() {
    let root = tempfile::tempdir().unwrap();
    let file = film_path(root.path(), 5009, "mkv");
    gop_a_frame_short_of_2_s_mkv(&file, 20);
    let source = first_pts(&file);
    let app = scanned_library_with(root.path(), 1, six_second_segments).await;
    let base = hls_base(&app, 5009).await;
    let dir = tempfile::tempdir().unwrap();
    let fetch = |name: &'static str| {
        let (app, base, dir) = (&app, &base, dir.path());
        async move {
            let path = dir.join(name.replace('/', "-"));
            let uri = format!("{base}/{name}?profile={CHROMIUM}");
            std::fs::write(&path, app.bytes(&uri).await).unwrap();
            first_pts(&path)[0]
        }
    };
    // A seek first, before any playlist: the video's segment 4 from a job started there.
    let sought = fetch("v/4.ts").await;
    let (video, audio) = (fetch("v/0.ts").await, fetch("a0/0.ts").await);
    let playlist = app
        .text(&format!("{base}/v/index.m3u8?profile={CHROMIUM}"))
        .await;
    let segments = crate::library::segments_of(&playlist);
    assert!(segments.len() >= 5, "{playlist}");
    let seek_start: f64 = segments[..4].iter().map(|(d, _)| d).sum();
    let delay = video - source[0];
    assert!(
        (delay - 1.4).abs() < 0.002,
        "the video keeps its times plus the muxer's 1.4 s: {video} for {}",
        source[0]
    );
    assert!(
        (audio - source[1] - delay).abs() < 0.002,
        "the audio moved as much as the video: {audio} for {}, video {video} for {}",
        source[1],
        source[0]
    );
    assert!(
        (sought - delay - seek_start).abs() < 0.002,
        "the seek's segment is where the start's job would have put it: {sought} for {seek_start}"
    );
}
