//! The real Stremio addon of `tests/stremio-addon/` (the official `stremio-addon-sdk` from
//! npm), started with `node` on loopback ports for one test.
//!
//! Its dependencies are installed with `npm ci` the first time a test needs them, when
//! `tests/stremio-addon/node_modules` is missing. Without `node` or `npm` the test fails with a
//! message saying so: it never skips silently.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::OnceCell;

/// The configuration of the IMDb addon, as a configured Stremio install puts it in the path.
pub(crate) const TOKEN: &str = "letmein";

pub(crate) struct SdkAddon {
    /// Kept so the process dies with the test (`kill_on_drop`, and its stdin closes).
    _child: Child,
    imdb: String,
    tmdb: String,
    subs: String,
}

fn addon_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/stremio-addon")
}

/// `npm ci` once per test run, only when `node_modules` is missing.
async fn ensure_installed() {
    static INSTALLED: OnceCell<()> = OnceCell::const_new();
    INSTALLED
        .get_or_init(|| async {
            let dir = addon_dir();
            if dir.join("node_modules/stremio-addon-sdk/package.json").is_file() {
                return;
            }
            let status = Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(&dir)
                .status()
                .await
                .unwrap_or_else(|e| {
                    panic!("the Stremio addon tests need npm (Node.js ≥ 18) to install stremio-addon-sdk: {e}")
                });
            assert!(
                status.success(),
                "`npm ci` in {} failed ({status}): the Stremio addon tests need stremio-addon-sdk from npm",
                dir.display()
            );
        })
        .await;
}

impl SdkAddon {
    /// Starts the addons; their streams point at `origin`, which wants `Referer: referer`.
    pub(crate) async fn start(origin: &str, referer: &str) -> SdkAddon {
        SdkAddon::start_with_media(origin, origin, referer).await
    }

    /// [`SdkAddon::start`] whose whole files (`tmdb:550`, `tmdb:551`) are on `media`.
    pub(crate) async fn start_with_media(origin: &str, media: &str, referer: &str) -> SdkAddon {
        ensure_installed().await;
        let mut child = Command::new("node")
            .arg("addon.js")
            .current_dir(addon_dir())
            .env("ORIGIN", origin)
            .env("MEDIA_ORIGIN", media)
            .env("REFERER", referer)
            .env("TOKEN", TOKEN)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("the Stremio addon tests need `node` (Node.js ≥ 18): {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        tokio::time::timeout(
            Duration::from_secs(30),
            BufReader::new(stdout).read_line(&mut line),
        )
        .await
        .expect("the addon prints its URLs within 30 s")
        .expect("reading the addon's stdout");
        let urls: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("addon.js printed {line:?} instead of its URLs: {e}"));
        SdkAddon {
            _child: child,
            imdb: urls["imdb"].as_str().expect("imdb URL").to_string(),
            tmdb: urls["tmdb"].as_str().expect("tmdb URL").to_string(),
            subs: urls["subs"].as_str().expect("subs URL").to_string(),
        }
    }

    /// The IMDb addon as a configured install: `/{"token":"letmein"}/manifest.json`, encoded.
    pub(crate) fn imdb_configured(&self) -> String {
        let config = format!("{{\"token\":\"{TOKEN}\"}}");
        let encoded: String = config
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        format!("{}/{encoded}/manifest.json", self.imdb)
    }

    /// The IMDb addon without its configuration (its manifest says `configurationRequired`).
    pub(crate) fn imdb_unconfigured(&self) -> String {
        format!("{}/manifest.json", self.imdb)
    }

    pub(crate) fn tmdb(&self) -> String {
        format!("{}/manifest.json", self.tmdb)
    }

    /// The subtitles-only addon (French SRT in Windows-1252, English in UTF-8).
    pub(crate) fn subs(&self) -> String {
        format!("{}/manifest.json", self.subs)
    }

    /// Every subtitles request the addon received: `{type, id, extra}`, as the SDK parsed them.
    pub(crate) async fn subtitle_requests(&self) -> Vec<serde_json::Value> {
        reqwest::get(format!("{}/requests.json", self.subs))
            .await
            .expect("the subtitles addon answers")
            .json()
            .await
            .expect("its request log is JSON")
    }
}
