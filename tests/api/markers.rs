//! Intro and credits of the library's series: a season made by ffmpeg whose episodes share an
//! opening and an ending after cold opens of different lengths, detected in the background
//! after a scan and handed to the player with each source.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;
use sokoul::library::demo::{DEMO_ENDING, DEMO_OPENING, DemoEpisode, episode_args};

use crate::library::library_app;

const SHOW: &str = "Show (2020) [tmdbid-4242]";

/// (season, episode, cold open, story, with the opening)
const EPISODES: &[(u32, u32, f64, f64, bool)] = &[
    (1, 1, 4.0, 45.0, true),
    (1, 2, 9.5, 42.0, true),
    (1, 3, 13.0, 47.0, true),
    (1, 4, 10.0, 55.0, false),
    // Alone in its season, with no chapters: nothing to compare with.
    (3, 1, 6.0, 40.0, true),
];

/// Chapters of the chapter-marked episode (S02E01), milliseconds: they say where the opening
/// and ending are, unlike its audio (it has no opening music at all).
const CHAPTERS: &[(u64, u64, &str)] = &[
    (0, 20_000, "Prologue"),
    (20_000, 35_000, "Opening"),
    (35_000, 60_000, "Part A"),
    (60_000, 70_000, "Ending"),
];

fn name(season: u32, episode: u32) -> String {
    format!("{SHOW}/Season {season:02}/Show S{season:02}E{episode:02}.mkv")
}

/// The season, generated once per test run; each test hard-links it into its own library.
fn fixtures() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let make = |ep: DemoEpisode, out: &Path| {
            std::fs::create_dir_all(out.parent().unwrap()).unwrap();
            let status = Command::new("ffmpeg")
                .args(episode_args(ep, out))
                .status()
                .expect("ffmpeg runs");
            assert!(status.success(), "ffmpeg made {}", out.display());
        };
        // Numbers 1 to 6: distinct tunes (see `episode_args`).
        for (i, &(season, number, cold_open, story, with_opening)) in EPISODES.iter().enumerate() {
            let ep = DemoEpisode {
                number: i as u32 + 1,
                cold_open,
                story,
                with_opening,
            };
            make(ep, &dir.path().join(name(season, number)));
        }
        let plain = dir.path().join("plain.mkv");
        make(
            DemoEpisode {
                number: 6,
                cold_open: 20.0,
                story: 40.0,
                with_opening: false,
            },
            &plain,
        );
        let mut meta = String::from(";FFMETADATA1\n");
        for (start, end, title) in CHAPTERS {
            meta.push_str(&format!(
                "[CHAPTER]\nTIMEBASE=1/1000\nSTART={start}\nEND={end}\ntitle={title}\n"
            ));
        }
        let meta_path = dir.path().join("chapters.txt");
        std::fs::write(&meta_path, meta).unwrap();
        let out = dir.path().join(name(2, 1));
        std::fs::create_dir_all(out.parent().unwrap()).unwrap();
        let status = Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-y", "-i"])
            .arg(&plain)
            .arg("-i")
            .arg(&meta_path)
            .args(["-map", "0", "-map_chapters", "1", "-c", "copy"])
            .arg(&out)
            .status()
            .expect("ffmpeg runs");
        assert!(status.success(), "ffmpeg added chapters");
        dir
    })
    .path()
}

fn place_season(root: &Path) {
    let mut rels: Vec<String> = EPISODES.iter().map(|e| name(e.0, e.1)).collect();
    rels.push(name(2, 1));
    for rel in rels {
        let dest: PathBuf = root.join(&rel);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::hard_link(fixtures().join(&rel), &dest)
            .or_else(|_| std::fs::copy(fixtures().join(&rel), &dest).map(|_| ()))
            .unwrap();
    }
}

fn range(v: &Value) -> Option<(f64, f64)> {
    Some((v["start"].as_f64()?, v["end"].as_f64()?))
}

fn near(got: Option<(f64, f64)>, want: (f64, f64), what: &str) {
    let got = got.unwrap_or_else(|| panic!("{what}: none, expected {want:?}"));
    assert!(
        (got.0 - want.0).abs() <= 1.0 && (got.1 - want.1).abs() <= 1.0,
        "{what}: {got:?}, expected {want:?} ± 1 s"
    );
}

#[tokio::test]
async fn a_season_gets_its_intros_and_credits_and_a_chaptered_file_its_chapters() {
    let root = tempfile::tempdir().unwrap();
    place_season(root.path());
    let app = library_app(root.path()).await;
    let summary = app.scan().await;
    assert_eq!(summary["added"], 6, "{summary}");

    // Seasons are detected in order; the last one's problem says the job is done. Generous:
    // fingerprinting runs niced on a loaded machine.
    let deadline = std::time::Instant::now() + Duration::from_secs(180);
    let problems = loop {
        let p = app.get_json("/api/library/problems", 200).await;
        let list = p["problems"].as_array().unwrap().clone();
        if list
            .iter()
            .any(|x| x["path"].as_str().unwrap().contains("S03E01"))
        {
            break list;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "detection never finished: {p}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0]["path"], format!("{}", name(3, 1)));
    assert!(
        problems[0]["reason"]
            .as_str()
            .unwrap()
            .contains("no other episode of its season"),
        "{problems:?}"
    );

    for &(season, episode, cold_open, story, with_opening) in &EPISODES[..4] {
        let body = app
            .get_json(
                &format!("/api/streaming/library/tv/4242?season={season}&episode={episode}"),
                200,
            )
            .await;
        let what = format!("S{season:02}E{episode:02}");
        let sources = body["sources"].as_array().unwrap();
        assert!(!sources.is_empty(), "{body}");
        let opening = if with_opening { DEMO_OPENING } else { 0.0 };
        let ending = cold_open + opening + story;
        for source in sources {
            let m = &source["markers"];
            if with_opening {
                near(
                    range(&m["intro"]),
                    (cold_open, cold_open + DEMO_OPENING),
                    &format!("{what} intro"),
                );
            } else {
                assert!(m.get("intro").is_none(), "{what}: {body}");
            }
            near(
                range(&m["outro"]),
                (ending, ending + DEMO_ENDING),
                &format!("{what} credits"),
            );
        }
        // The answer's own markers are those of its first source.
        assert_eq!(body["markers"], sources[0]["markers"], "{body}");
    }

    let body = app
        .get_json("/api/streaming/library/tv/4242?season=2&episode=1", 200)
        .await;
    let m = &body["sources"][0]["markers"];
    assert_eq!(range(&m["intro"]), Some((20.0, 35.0)), "{body}");
    assert_eq!(range(&m["outro"]), Some((60.0, 70.0)), "{body}");

    let body = app
        .get_json("/api/streaming/library/tv/4242?season=3&episode=1", 200)
        .await;
    assert!(body["sources"][0].get("markers").is_none(), "{body}");
    assert!(body.get("markers").is_none(), "{body}");
}
