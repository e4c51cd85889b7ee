//! `spawn_app()`: the real server on a free loopback port with a fresh data dir.

use std::sync::Arc;
use std::time::Duration;

use sokoul::clock::OffsetClock;
use sokoul::config::Settings;
use sokoul::startup::{AppState, Application, Overrides};

pub(crate) struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub clock: Arc<OffsetClock>,
    #[allow(dead_code)]
    pub state: AppState,
    /// Kept alive for the app's lifetime.
    #[allow(dead_code)]
    pub data_dir: tempfile::TempDir,
}

/// Settings every test starts from: port 0, a temp data dir, no provider, a fixed secret.
pub(crate) fn test_settings(data_dir: &std::path::Path) -> Settings {
    let mut s = Settings {
        bind: "127.0.0.1:0".parse().unwrap(),
        data_dir: data_dir.to_path_buf(),
        secret: Some(sokoul::config::Secret::new(
            "test secret, not for production",
        )),
        dashboard_dir: data_dir.join("no-dashboard"),
        ..Settings::default()
    };
    s.library.enabled = false;
    s.library.paths = vec![];
    s.resolve.provider_timeout = 3.0;
    // Every test is one client hammering the API (fifty concurrent resolves…); the rate limit
    // has its own tests (security.rs), which turn it back on.
    s.security.rate_limit_per_second = 0.0;
    s
}

/// Starts the app with `configure` applied to the test settings.
pub(crate) async fn spawn_app(configure: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_in(tempfile::tempdir().expect("temp dir"), configure).await
}

/// Starts the app on a data dir that may hold a database already (upgrades).
pub(crate) async fn spawn_app_in(
    data_dir: tempfile::TempDir,
    configure: impl FnOnce(&mut Settings),
) -> TestApp {
    init_logs();
    let mut settings = test_settings(data_dir.path());
    configure(&mut settings);
    let clock = Arc::new(OffsetClock::default());
    let app = Application::build(
        settings,
        Overrides {
            clock: Some(clock.clone()),
        },
    )
    .await
    .expect("the app builds");
    let address = format!("http://{}", app.local_addr());
    let state = app.state().clone();
    tokio::spawn(app.run_until_stopped(std::future::pending(), Duration::from_secs(1)));
    TestApp {
        address,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        clock,
        state,
        data_dir,
    }
}

impl TestApp {
    pub(crate) async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{}", self.address, path))
            .send()
            .await
            .expect("request reaches the app")
    }

    /// GET, asserting the status, returning the JSON body.
    pub(crate) async fn get_json(&self, path: &str, status: u16) -> serde_json::Value {
        let r = self.get(path).await;
        let got = r.status().as_u16();
        let body = r.text().await.unwrap();
        assert_eq!(got, status, "GET {path} → {got}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: not JSON ({e}): {body}"))
    }
}

/// `TEST_LOG=1 cargo test` shows the app's logs.
fn init_logs() {
    if std::env::var_os("TEST_LOG").is_some() {
        sokoul::telemetry::init("debug", sokoul::config::LogFormat::Pretty);
    }
}

/// Collects a spawned `sokoul serve`'s stderr on a thread (the binary's log, read by tests that
/// check what it logs) and waits, generously, for its "listening on" line: returns the log so
/// far (still growing) and the address it listens on.
pub(crate) fn serve_log(
    child: &mut std::process::Child,
) -> (Arc<std::sync::Mutex<String>>, String) {
    use std::io::{BufRead, BufReader, Read};
    const LISTENING: &str = "listening on http://";
    let stderr = child.stderr.take().expect("stderr is piped");
    let log = Arc::new(std::sync::Mutex::new(String::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let sink = log.clone();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stderr);
        let mut line = String::new();
        let mut sent = false;
        while reader.read_line(&mut line).unwrap_or(0) > 0 {
            if !sent && let Some(at) = line.find(LISTENING) {
                let addr: String = line[at + LISTENING.len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':')
                    .collect();
                let _ = tx.send(addr);
                sent = true;
            }
            sink.lock().unwrap().push_str(&line);
            line.clear();
        }
        let mut rest = String::new();
        let _ = reader.read_to_string(&mut rest);
        sink.lock().unwrap().push_str(&rest);
    });
    let address = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("sokoul did not start: {}", log.lock().unwrap()));
    (log, address)
}
