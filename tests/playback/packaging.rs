//! Plans run through the real ffmpeg with the engine's own arguments, for the first seconds
//! of a file, and the HLS output checked for what a viewer would see.

use std::path::{Path, PathBuf};
use std::process::Command;

use sokoul::playback::ffmpeg::{self, Input, Job, SegmentWindow};
use sokoul::playback::plan::{Mode, Plan, Request, SegmentFormat};
use sokoul::playback::{ClientProfile, plan};

use crate::chromium;
use crate::fixtures::{Fixture, ffmpeg_log, first_video_stream, idet, stdout_of};

/// Packages `f` for `profile` from `window` into a fresh directory; returns it.
fn package(
    f: Fixture,
    profile: &ClientProfile,
    req: &Request,
    window: SegmentWindow,
) -> (Plan, tempfile::TempDir) {
    let media = f.media();
    let plan = plan(&media, profile, req).unwrap();
    let out = tempfile::tempdir().unwrap();
    let input = Input::Local(f.path().to_path_buf());
    let args = ffmpeg::args(&Job {
        plan: &plan,
        media: &media,
        input: &input,
        window,
        out_dir: out.path(),
        threads: ffmpeg::default_threads(),
        preset: "veryfast",
        subtitle_file: None,
        format_whitelist: None,
    })
    .unwrap();
    // Generous: a few seconds of low-resolution video, on a loaded 2-core machine.
    let run = Command::new("timeout")
        .arg("120")
        .arg("ffmpeg")
        .args(&args)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "ffmpeg {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&run.stderr)
    );
    (plan, out)
}

fn segments(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut files: Vec<(u64, PathBuf)> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            let n = p.file_stem()?.to_str()?.parse().ok()?;
            (p.extension()? == ext).then_some((n, p))
        })
        .collect();
    files.sort();
    files.into_iter().map(|(_, p)| p).collect()
}

/// `init.mp4` and the media segments as one fragmented MP4, as a player appends them.
fn fmp4_concat(dir: &Path) -> String {
    let mut parts = vec![dir.join("init.mp4")];
    parts.extend(segments(dir, "m4s"));
    let list: Vec<String> = parts.iter().map(|p| p.display().to_string()).collect();
    format!("concat:{}", list.join("|"))
}

/// Luma statistics (8-bit) of the first frame, as decoded without any colour conversion.
struct Luma {
    mean: f64,
    /// The 90th percentile: where tone-mapping compresses the highlights.
    high: f64,
}

fn luma(input: &str) -> Luma {
    let log = ffmpeg_log(
        input,
        &[
            "-frames:v",
            "1",
            "-vf",
            "format=yuv420p,signalstats,metadata=print",
        ],
    );
    let stat = |key: &str| -> f64 {
        let line = log
            .lines()
            .find(|l| l.contains(&format!("lavfi.signalstats.{key}=")))
            .expect("signalstats");
        line.rsplit('=').next().unwrap().trim().parse().unwrap()
    };
    Luma {
        mean: stat("YAVG"),
        high: stat("YHIGH"),
    }
}

/// The MD5 of a stream's packets, copied (equal hashes: the very same coded frames).
fn packet_md5(input: &str, map: &str) -> String {
    let stdout = stdout_of(Command::new("ffmpeg").args([
        "-v", "error", "-i", input, "-map", map, "-c", "copy", "-f", "md5", "-",
    ]));
    String::from_utf8(stdout).unwrap()
}

#[test]
fn an_av1_opus_mkv_is_remuxed_into_fmp4_with_the_same_av1_frames() {
    let f = Fixture::Av1OpusMkv;
    let hls_only = ClientProfile {
        webm: false,
        matroska: false,
        ..chromium()
    };
    let (plan, dir) = package(f, &hls_only, &Request::default(), SegmentWindow::at(0, 0.0));
    assert_eq!(plan.mode, Mode::DirectStream);
    let init = std::fs::read(dir.path().join("init.mp4")).unwrap();
    let has = |needle: &[u8]| init.windows(needle.len()).any(|w| w == needle);
    assert!(has(b"av01"), "AV1 sample entry in the init segment");
    assert!(has(b"Opus"), "Opus sample entry in the init segment");
    let source = f.path().display().to_string();
    assert_eq!(
        packet_md5(&fmp4_concat(dir.path()), "0:v"),
        packet_md5(&source, "0:v"),
        "not re-encoded"
    );
}

#[test]
fn an_interlaced_recording_comes_out_progressive() {
    let f = Fixture::Mpeg2InterlacedTs;
    let (interlaced, _) = idet(&f.path().display().to_string());
    assert!(interlaced > 50, "the fixture itself reads as interlaced");
    let (plan, dir) = package(
        f,
        &chromium(),
        &Request::default(),
        SegmentWindow::at(0, 0.0),
    );
    assert_eq!(plan.segments, Some(SegmentFormat::Ts));
    let first = &segments(dir.path(), "ts")[0];
    let (interlaced, progressive) = idet(&first.display().to_string());
    assert!(
        progressive > 10 * interlaced.max(1),
        "idet: {interlaced} interlaced, {progressive} progressive"
    );
}

#[test]
fn a_rotated_phone_video_is_transcoded_upright() {
    let (_, dir) = package(
        Fixture::PhonePortraitRotated,
        &chromium(),
        &Request::default(),
        SegmentWindow::at(0, 0.0),
    );
    let first = segments(dir.path(), "ts")[0].display().to_string();
    let v = first_video_stream(&first);
    assert_eq!(
        (&v["width"], &v["height"]),
        (&180.into(), &320.into()),
        "portrait"
    );
}

#[test]
fn hdr10_is_tone_mapped_to_bt709_for_an_sdr_browser() {
    let (_, dir) = package(
        Fixture::HevcMain10Hdr10,
        &chromium(),
        &Request::default(),
        SegmentWindow::at(0, 0.0),
    );
    let first = segments(dir.path(), "ts")[0].display().to_string();
    let v = first_video_stream(&first);
    let fields: Vec<&str> = [
        "codec_name",
        "profile",
        "pix_fmt",
        "color_transfer",
        "color_primaries",
    ]
    .iter()
    .map(|k| v[k].as_str().unwrap_or("missing"))
    .collect();
    assert_eq!(fields, ["h264", "High", "yuv420p", "bt709", "bt709"]);
    // Converted, not just relabelled: PQ code values shown as BT.709 keep their highlights,
    // whereas Hable tone-mapping (peak 1000 nits from the file's light-level metadata)
    // compresses them and darkens the picture. Measured on this test pattern with ffmpeg 5.1.9:
    // 90th percentile of luma 210 relabelled, 186 tone-mapped; mean 121 and 112.
    let source = luma(&Fixture::HevcMain10Hdr10.path().display().to_string());
    let mapped = luma(&first);
    assert!(
        mapped.high < source.high - 15.0 && mapped.mean < source.mean - 4.0,
        "luma 90th percentile {} / mean {} tone-mapped vs {} / {} as is",
        mapped.high,
        mapped.mean,
        source.high,
        source.mean
    );
}

#[test]
fn a_job_started_after_a_seek_writes_short_segments_numbered_from_there() {
    // A 2 h film copied from 1 h on: the first segment is numbered as asked and starts at
    // the seek point on the file's timeline.
    let f = Fixture::DtsLongFilm;
    let window = SegmentWindow::at(600, 3600.0);
    let (_, dir) = package(f, &chromium(), &Request::default(), window);
    let ts = segments(dir.path(), "ts");
    let first = ts.first().expect("segments");
    assert_eq!(first.file_name().unwrap(), "600.ts");
    let v = first_video_stream(&first.display().to_string());
    let start: f64 = v["start_time"].as_str().unwrap().parse().unwrap();
    assert!(
        (3599.0..3602.0).contains(&start),
        "first segment starts at {start}"
    );
}

/// The pixels (8-bit grey) of the region where the fixture's subpicture is drawn, one second in.
fn subpicture_region(input: &str) -> Vec<u8> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i", input, "-ss", "1", "-frames:v", "1"])
        .args([
            "-vf",
            "crop=480:30:120:405,format=gray",
            "-f",
            "rawvideo",
            "-",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn a_chosen_image_subtitle_is_burned_into_the_picture() {
    let f = Fixture::MkvImageSubtitle;
    let sub = f.media().subtitles().next().unwrap().0.index;
    let burn = Request {
        burn_subtitle: Some(sub),
        ..Request::default()
    };
    let (_, dir) = package(f, &chromium(), &burn, SegmentWindow::at(0, 0.0));
    let first = segments(dir.path(), "ts")[0].display().to_string();
    let spread = |px: &[u8]| px.iter().max().unwrap() - px.iter().min().unwrap();
    // The test pattern under the bar is busy; the burned bar is one flat colour.
    let source = subpicture_region(&f.path().display().to_string());
    let burned = subpicture_region(&first);
    assert!(
        spread(&source) > 60,
        "source region spread {}",
        spread(&source)
    );
    assert!(
        spread(&burned) < 30,
        "burned region spread {}",
        spread(&burned)
    );
}

/// 8-bit grey pixels of a region of the first frame.
fn region(input: &str, crop: &str) -> Vec<u8> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i", input, "-frames:v", "1"])
        .args([
            "-vf",
            &format!("crop={crop},format=gray"),
            "-f",
            "rawvideo",
            "-",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn a_styled_ass_sign_is_burned_at_its_position_on_request() {
    let f = Fixture::H264Hi10pAss;
    let sub = f.media().subtitles().next().unwrap().0.index;
    let (_, plain) = package(
        f,
        &chromium(),
        &Request::default(),
        SegmentWindow::at(0, 0.0),
    );
    let burn = Request {
        burn_subtitle: Some(sub),
        ..Request::default()
    };
    let (_, burned) = package(f, &chromium(), &burn, SegmentWindow::at(0, 0.0));
    let first = |dir: &Path| segments(dir, "ts")[0].display().to_string();
    // The sign is `\pos(40,30)` with top-left alignment: it is drawn right of and below that
    // point, and the bottom-centre line is not there.
    let changed = |crop: &str| {
        let a = region(&first(plain.path()), crop);
        let b = region(&first(burned.path()), crop);
        a.iter()
            .zip(&b)
            .filter(|(x, y)| x.abs_diff(**y) > 40)
            .count()
    };
    assert!(changed("140:20:40:30") > 100, "the sign at its position");
    assert_eq!(
        changed("40:20:260:30"),
        0,
        "nothing drawn elsewhere on that line"
    );
}
