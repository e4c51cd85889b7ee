//! `sokoul doctor`, run as the real binary with a controlled environment: each broken
//! prerequisite gives its own line and a non-zero exit; a sound setup exits 0; `--json`
//! parses; the language follows the locale; no URL path or query, no secret is printed.

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A sound setup: a temp data dir, a library folder with one film, no provider.
struct Setup {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Setup {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let film = dir.path().join("media/Film (2020) [tmdbid-603]");
        std::fs::create_dir_all(&film).unwrap();
        std::fs::write(film.join("Film (2020).mkv"), b"").unwrap();
        let mut setup = Setup {
            dir,
            env: Vec::new(),
        };
        let root = setup.dir.path().to_path_buf();
        setup.set("PATH", &std::env::var("PATH").unwrap_or_default());
        setup.set("LANG", "C.UTF-8");
        setup.set("SOKOUL_DATA_DIR", root.join("data").to_str().unwrap());
        setup.set("SOKOUL_LIBRARY", root.join("media").to_str().unwrap());
        setup.set(
            "SOKOUL_DASHBOARD_DIR",
            root.join("dashboard").to_str().unwrap(),
        );
        // A broken provider must fail fast; a sound one answers in milliseconds.
        setup.set("SOKOUL_PROVIDER_TIMEOUT", "10");
        setup
    }

    fn set(&mut self, key: &str, value: &str) -> &mut Self {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.into(), value.into()));
        self
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn run(&self, args: &[&str]) -> (i32, String) {
        run_doctor(&self.env, args)
    }

    fn json(&self) -> (i32, Value) {
        json(&self.env)
    }
}

/// Runs `sokoul doctor [args]` with only `env` (no SOKOUL_* of the machine running the tests
/// leaks in); returns the exit code and stdout.
fn run_doctor(env: &[(String, String)], args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sokoul"))
        .arg("doctor")
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("SOKOUL_LOG", "warn")
        .output()
        .expect("the sokoul binary runs");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let code = out.status.code().expect("doctor exits by itself");
    (code, stdout)
}

fn json(env: &[(String, String)]) -> (i32, Value) {
    let (code, stdout) = run_doctor(env, &["--json"]);
    let report: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("--json prints JSON ({e}): {stdout}"));
    (code, report)
}

fn line<'a>(stdout: &'a str, start: &str) -> &'a str {
    stdout
        .lines()
        .find(|l| l.starts_with(start))
        .unwrap_or_else(|| panic!("no line starting with {start:?} in:\n{stdout}"))
}

fn check<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id} in {report:#}"))
}

#[test]
fn a_sound_setup_passes_with_exit_0_and_its_json_parses() {
    let setup = Setup::new();
    let (code, stdout) = setup.run(&[]);
    assert_eq!(code, 0, "{stdout}");
    assert!(line(&stdout, "✓ ffmpeg ").contains("/ffmpeg)"), "{stdout}");
    assert!(line(&stdout, "✓ data dir").contains("free"), "{stdout}");
    assert!(
        line(&stdout, "✓ library folder").contains(": 1 video file(s)"),
        "{stdout}"
    );

    let (code, report) = setup.json();
    assert_eq!(code, 0);
    assert_eq!(report["ok"], true, "{report:#}");
    for c in report["checks"].as_array().unwrap() {
        assert!(
            ["ok", "warn"].contains(&c["status"].as_str().unwrap()),
            "{c}"
        );
        assert!(c["id"].is_string() && c["message"].is_string());
        assert!(c["hint"].is_null() || c["hint"].is_string());
    }
    assert_eq!(
        check(&report, "dashboard")["status"],
        "warn",
        "not built here"
    );
    assert!(
        check(&report, "secret")["message"]
            .as_str()
            .unwrap()
            .contains("not generated yet")
    );
    assert!(
        !setup.root().join("data").exists(),
        "the doctor only looks: it creates no data dir"
    );
}

#[test]
fn a_missing_ffmpeg_gives_its_line_and_a_non_zero_exit() {
    let mut setup = Setup::new();
    let empty = setup.root().join("bin");
    std::fs::create_dir(&empty).unwrap();
    setup.set("PATH", empty.to_str().unwrap());
    let (code, stdout) = setup.run(&[]);
    assert_ne!(code, 0, "{stdout}");
    assert!(
        line(&stdout, "✗ ffmpeg: 'ffmpeg' not found").contains("apt install ffmpeg"),
        "{stdout}"
    );
    line(&stdout, "✗ ffprobe: 'ffprobe' not found");
    let (_, report) = setup.json();
    assert_eq!(report["ok"], false);
    assert_eq!(check(&report, "ffmpeg")["status"], "fail");
    assert_eq!(
        check(&report, "data_dir")["status"],
        "ok",
        "only ffmpeg is wrong"
    );
}

#[test]
fn an_unwritable_data_dir_gives_its_line_and_a_non_zero_exit() {
    let mut setup = Setup::new();
    // The tests may run as root, which ignores permission bits: a data dir below a regular
    // file cannot be created by anyone.
    let file = setup.root().join("a-file");
    std::fs::write(&file, b"").unwrap();
    setup.set("SOKOUL_DATA_DIR", file.join("data").to_str().unwrap());
    let (code, stdout) = setup.run(&[]);
    assert_ne!(code, 0, "{stdout}");
    assert!(
        line(&stdout, "✗ data dir").contains("is not writable"),
        "{stdout}"
    );
    let (_, report) = setup.json();
    assert_eq!(check(&report, "data_dir")["status"], "fail");
    assert_eq!(
        check(&report, "ffmpeg")["status"],
        "ok",
        "only the data dir is wrong"
    );
}

#[test]
fn an_unreachable_provider_gives_its_line_and_a_non_zero_exit() {
    // A loopback port nobody listens on (the provider's host is allowed by its being
    // configured, as the server allows it).
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let mut setup = Setup::new();
    setup.set("SOKOUL_CONSUMET_URL", &format!("http://127.0.0.1:{port}"));
    let (code, stdout) = setup.run(&[]);
    assert_ne!(code, 0, "{stdout}");
    let consumet = line(&stdout, "✗ Consumet");
    assert!(
        consumet.contains(&format!("http://127.0.0.1:{port} unreachable")),
        "{stdout}"
    );
    let (_, report) = setup.json();
    assert_eq!(check(&report, "provider.consumet")["status"], "fail");
}

#[tokio::test]
async fn a_reachable_addon_passes_without_its_path_or_the_secret_being_printed() {
    let addon = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/debrid-key-4f2a9c/manifest.json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "id": "org.example", "version": "1.0.0", "name": "Example",
            "resources": ["stream"], "types": ["movie"], "catalogs": []
        })))
        .expect(2)
        .mount(&addon)
        .await;
    let mut setup = Setup::new();
    setup
        .set(
            "SOKOUL_STREMIO_ADDONS",
            &format!("{}/debrid-key-4f2a9c/manifest.json", addon.uri()),
        )
        .set("SOKOUL_SECRET", "signing-secret-7d3e91a0b5c2f4e8a6d1");
    // The doctor blocks this thread while the fake addon answers on the runtime.
    let env = setup.env.clone();
    let (code, stdout) = tokio::task::spawn_blocking(move || run_doctor(&env, &[]))
        .await
        .unwrap();
    assert_eq!(code, 0, "{stdout}");
    assert!(
        line(&stdout, "✓ Stremio").contains(&format!("{} reachable", addon.uri())),
        "{stdout}"
    );
    line(&stdout, "✓ signing secret set by SOKOUL_SECRET");
    assert!(!stdout.contains("debrid-key"), "{stdout}");
    assert!(!stdout.contains("signing-secret-7d3e"), "{stdout}");
    let env = setup.env.clone();
    let (_, report) = tokio::task::spawn_blocking(move || json(&env))
        .await
        .unwrap();
    assert_eq!(check(&report, "provider.stremio.1")["status"], "ok");
}

#[test]
fn the_messages_are_french_under_a_french_locale() {
    let mut setup = Setup::new();
    let file = setup.root().join("a-file");
    std::fs::write(&file, b"").unwrap();
    setup
        .set("LANG", "fr_FR.UTF-8")
        .set("SOKOUL_DATA_DIR", file.join("data").to_str().unwrap());
    let (code, stdout) = setup.run(&[]);
    assert_ne!(code, 0);
    assert!(
        line(&stdout, "✗ le dossier de données").contains("n'est pas accessible en écriture"),
        "{stdout}"
    );
    assert!(
        stdout.contains("vérification(s) indispensable(s) en échec"),
        "{stdout}"
    );
    setup.set("LC_ALL", "C");
    let (_, stdout) = setup.run(&[]);
    line(&stdout, "✗ data dir");
}

#[test]
fn redis_is_pinged_and_a_stopped_one_fails() {
    let mut redis = crate::redis_server::RedisServer::start();
    let mut setup = Setup::new();
    // The server's 0.25 s per operation is tight for a loaded test machine; the check uses
    // whatever budget the config gives.
    let config = setup.root().join("sokoul.toml");
    std::fs::write(&config, "[cache]\nredis_budget = 5.0\n").unwrap();
    setup.set("SOKOUL_REDIS_URL", &redis.url());
    let config = config.to_str().unwrap();
    let (code, stdout) = setup.run(&["--config", config]);
    assert_eq!(code, 0, "{stdout}");
    line(&stdout, "✓ Redis answers PING");

    redis.stop();
    let (code, stdout) = setup.run(&["--config", config]);
    assert_ne!(code, 0, "{stdout}");
    line(&stdout, "✗ Redis unreachable");
}

#[tokio::test]
async fn a_refused_tmdb_key_fails_without_the_key_being_printed() {
    let tmdb = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/3/configuration"))
        .respond_with(ResponseTemplate::new(401).set_body_json(serde_json::json!({
            "status_code": 7, "status_message": "Invalid API key", "success": false
        })))
        .mount(&tmdb)
        .await;
    let mut setup = Setup::new();
    setup
        .set("SOKOUL_TMDB_URL", &format!("{}/3", tmdb.uri()))
        .set("SOKOUL_TMDB_KEY", "tmdb-key-91c3e7a2");
    let env = setup.env.clone();
    let (code, stdout) = tokio::task::spawn_blocking(move || run_doctor(&env, &[]))
        .await
        .unwrap();
    assert_ne!(code, 0, "{stdout}");
    assert!(
        line(&stdout, "✗ TMDB").contains("rejected the configured key"),
        "{stdout}"
    );
    assert!(!stdout.contains("tmdb-key-91c3"), "{stdout}");
    let requests = tmdb.received_requests().await.unwrap();
    assert!(
        requests
            .iter()
            .any(|r| r.url.query() == Some("api_key=tmdb-key-91c3e7a2")),
        "the check authenticates like the server does"
    );
}
