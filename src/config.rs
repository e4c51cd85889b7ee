//! Typed settings, loaded in layers: built-in defaults < `sokoul.toml` < `SOKOUL_*` variables.
//!
//! The environment layer is a fixed table rather than a generic prefix mapping because the
//! contract fixes flat names (`SOKOUL_LIBRARY`, `SOKOUL_CACHE_MAX_TTL`…) for nested keys and
//! some of them are lists with their own separators.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// A secret string whose `Debug` never shows the value, so settings can be logged.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Listen address.
    pub bind: SocketAddr,
    /// SQLite database, generated secret, HLS packaging cache.
    pub data_dir: PathBuf,
    /// Key for signing proxy URLs; generated and stored in the data dir when unset.
    pub secret: Option<Secret>,
    /// When set, `/api/**` (except signed proxy URLs) requires `Authorization: Bearer <token>`.
    pub api_token: Option<Secret>,
    /// Lets the server listen on a non-loopback address without an API token.
    pub allow_public_without_token: bool,
    /// The built dashboard (SvelteKit `build/`).
    pub dashboard_dir: PathBuf,
    /// Log filter (tracing `EnvFilter` syntax).
    pub log: String,
    /// Log format: `pretty` or `json`.
    pub log_format: LogFormat,
    pub resolve: ResolveSettings,
    pub cache: CacheSettings,
    pub proxy: ProxySettings,
    pub library: LibrarySettings,
    pub consumet: ConsumetSettings,
    pub stremio: StremioSettings,
    pub jellyfin: JellyfinSettings,
    pub tmdb: TmdbSettings,
    pub resilience: ResilienceSettings,
    pub security: SecuritySettings,
    pub upstream: UpstreamSettings,
    pub accounts: AccountSettings,
}

/// Accounts and their browser sessions (`crate::accounts`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccountSettings {
    /// Seconds a session may go unused before it ends.
    pub session_idle_timeout: u64,
    /// Seconds a session lasts at most, however often it is used.
    pub session_lifetime: u64,
    /// `/metrics` for admins only (a session or the API token) once accounts or a token exist.
    pub metrics_admin_only: bool,
}

impl Default for AccountSettings {
    fn default() -> Self {
        AccountSettings {
            // A week away from the couch keeps you logged in; a lost phone's session ends on
            // its own within a month.
            session_idle_timeout: 7 * 24 * 3600,
            session_lifetime: 30 * 24 * 3600,
            // Prometheus scrapers rarely log in: open by default, as before accounts.
            metrics_admin_only: false,
        }
    }
}

/// The outbound proxy every upstream request goes through (see `crate::upstream::outbound`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UpstreamSettings {
    /// `http://[user:pass@]host:port`, `https://…`, `socks5://…` or `socks5h://…` (the proxy
    /// resolves names: the one case where the SSRF guard relies on the proxy's resolver).
    pub proxy: Option<Secret>,
    /// When set, only these hosts (`name` or `*.domain`) go through the proxy.
    pub proxy_only: Vec<String>,
    /// Hosts (`name` or `*.domain`) that go direct; wins over `proxy_only`.
    pub proxy_bypass: Vec<String>,
}

/// The shortest API token accepted. 16 random hex digits are 64 bits: with the failure
/// throttle (10 guesses, then one per 6 s per client) a guess takes longer than the universe
/// has existed; a word or a PIN falls to a dictionary in minutes.
pub const MIN_API_TOKEN_CHARS: usize = 16;

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResolveSettings {
    /// Time budget of one provider within a resolve, in seconds.
    pub provider_timeout: f64,
    /// Provider ids in tie-break order when two sources rank equally.
    pub provider_order: Vec<String>,
    /// Seconds a source the player reported failing (`POST /api/streaming/report`) is left
    /// out of cached answers and ranked last in fresh ones.
    pub failing_ttl: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheSettings {
    /// Upper bound, seconds, for a cached resolution.
    pub max_ttl: u64,
    /// How long "nothing found" is remembered, seconds.
    pub negative_ttl: u64,
    /// Removed from a stream URL's own expiry before it is used as a TTL, seconds.
    pub expiry_margin: u64,
    /// Shared cache for several instances; unset = in-process cache.
    pub redis_url: Option<Secret>,
    /// Entries kept by the in-process cache (also the near tier in front of Redis).
    pub memory_capacity: u64,
    /// Time budget of one Redis operation, seconds; past it the instance serves from its
    /// in-process cache and leaves Redis alone for a back-off.
    pub redis_budget: f64,
    /// Longest back-off, seconds, between two attempts to reach an unavailable Redis (the
    /// first waits 1 s, or this when shorter, and each failed attempt doubles it).
    pub redis_backoff_max: f64,
    /// Lifetime of the cross-instance lock held while one instance resolves a title, seconds;
    /// unset = the provider timeout plus 5 s (a resolve never takes longer than that).
    pub lock_ttl: Option<f64>,
    /// How long an instance waits for another one's resolve of the same title before
    /// resolving it itself, seconds; unset = the lock's lifetime.
    pub lock_wait: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProxySettings {
    /// Hosts (`host[:port]`) or CIDRs the proxy may reach although they are private/loopback.
    pub allow: Vec<String>,
    /// Lifetime of a signed proxy URL, seconds.
    pub url_ttl: u64,
    /// A playlist larger than this fails with 502 instead of being buffered.
    pub max_playlist_bytes: u64,
    /// A playlist whose rewritten form would be larger than this fails with 502: every URI
    /// grows into a proxy URL of about 250 bytes, so the input cap alone does not bound it.
    pub max_rewritten_bytes: u64,
    /// Memory all playlist and JSON rewrites may hold at once, bytes: each reserves its input
    /// and its output in flight; past the budget a request waits for it until the first-byte
    /// deadline, then fails with 503.
    pub rewrite_memory_budget: u64,
    /// Seconds to establish an upstream connection.
    pub connect_timeout: f64,
    /// Seconds until the upstream's response headers.
    pub first_byte_timeout: f64,
    /// Seconds without a body byte before the relay gives up.
    pub idle_timeout: f64,
    /// Redirect hops followed (each one checked against the SSRF guard).
    pub max_redirects: u8,
    /// Upstream requests in flight to one host (`host:port`) at once; more wait for a slot
    /// until the first-byte deadline, then fail with 503.
    pub max_per_host: usize,
    /// Extra attempts for a fetch that failed before any byte was relayed (connection
    /// refused or reset, 502/503/504), with backoff, within the first-byte deadline.
    pub retries: u8,
    /// The shared segment cache's memory tier, MiB: segments, keys, init sections and VOD
    /// playlists fetched through the proxy, shared by every viewer (`proxy::edge`). 0 turns
    /// the cache and the coalescing of concurrent fetches off.
    pub cache_memory_mb: u64,
    /// Its on-disk tier in `data_dir/proxy-cache`, MiB, which takes what the memory tier
    /// evicts; emptied at every start. 0: memory only.
    pub cache_disk_mb: u64,
    /// A body larger than this (by its `Content-Length`) is relayed, never cached or shared,
    /// MiB: a film served whole is not a segment.
    pub cache_max_object_mb: u64,
    /// Reconnections with `Range` and `If-Range` after an upstream body broke off midway,
    /// per response; 0 ends the response as before.
    pub resume_attempts: u8,
    /// Segments of a VOD playlist fetched into the cache ahead of a viewer asking for one
    /// (the next N after it), in the background; 0 turns read-ahead off.
    pub read_ahead: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LibrarySettings {
    /// Media folders of the local-library provider.
    pub paths: Vec<PathBuf>,
    /// Turns the local-library provider, its routes and its scans on.
    pub enabled: bool,
    /// The ffmpeg program (packaging, subtitles, posters, demo library).
    pub ffmpeg: String,
    /// The ffprobe program (scans).
    pub ffprobe: String,
    /// ffprobe processes run at once during a scan.
    pub probe_concurrency: usize,
    /// Seconds one ffprobe run may take before the file is reported as unreadable.
    pub probe_timeout: f64,
    /// ffmpeg packaging processes run at once (each playing stream uses one for video and
    /// one for its audio track while packaging).
    pub max_ffmpeg: usize,
    /// HLS segment length, seconds (remuxed segments end on the first keyframe after it).
    pub segment_seconds: f64,
    /// Seconds without a request after which a packaging process is stopped.
    pub idle_timeout: f64,
    /// Seconds a segment request waits for ffmpeg before failing with 504.
    pub segment_wait: f64,
    /// Size limit of the HLS segment cache in `data_dir/hls-cache`, MiB (least recently used first out).
    pub cache_max_mb: u64,
    /// x264 preset when transcoding (`ultrafast` … `medium`): speed against size.
    pub transcode_preset: String,
    /// A sidecar subtitle file larger than this is refused (a scan problem), bytes: it is read
    /// whole and converted in memory.
    pub max_subtitle_bytes: u64,
    /// Rescan when files change (inotify; a 5-minute periodic rescan if watching fails).
    pub watch: bool,
    /// Scan in the background when the server starts (incremental, so cheap after the first).
    pub scan_on_start: bool,
    /// Find the intro and credits of series episodes after each scan (background, niced).
    pub detect_markers: bool,
    /// Seconds of audio fingerprinted at the start and at the end of each episode.
    pub markers_window: f64,
    /// Make seek thumbnail sheets of library files after each scan (background, niced).
    pub thumbnails: bool,
    /// Seconds between two seek thumbnails.
    pub thumbnails_interval: f64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsumetSettings {
    /// Base URL of a Consumet API instance; enables the Consumet provider.
    pub url: Option<String>,
    /// Movie provider name passed as `provider=` (Consumet's own default when unset).
    pub provider: Option<String>,
    /// Server tried first (`server=`); the others are tried in turn when it fails.
    pub server: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StremioSettings {
    /// Addon manifest URLs; enables the Stremio provider.
    pub addons: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JellyfinSettings {
    pub url: Option<String>,
    pub api_key: Option<Secret>,
    /// The user whose library is searched (needed with an admin API key).
    pub user_id: Option<String>,
}

/// Provider health: the per-provider circuit breaker and the retries of providers' GETs.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResilienceSettings {
    /// Consecutive failed resolves (error or timeout) after which a provider is skipped;
    /// 0 turns the breaker off.
    pub breaker_threshold: u32,
    /// First cool-down of an open breaker, seconds; doubled after each failed probe.
    pub breaker_cooldown_min: f64,
    /// Longest cool-down, seconds.
    pub breaker_cooldown_max: f64,
    /// Attempts of one idempotent provider request; 1 = no retry.
    pub retry_attempts: u32,
    /// Backoff before the first retry, seconds; doubled for each further one (with jitter).
    pub retry_initial_backoff: f64,
    /// Longest backoff between two attempts, seconds.
    pub retry_max_backoff: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TmdbSettings {
    /// TMDB v3 key or read-access token.
    pub key: Option<Secret>,
    pub base_url: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecuritySettings {
    /// Resolves per second each client may make, refilled continuously; 0 disables the limit.
    pub rate_limit_per_second: f64,
    /// Resolves a client may make at once before the per-second rate applies.
    pub rate_limit_burst: u32,
    /// Reverse proxies (IPs or CIDRs) whose `X-Forwarded-For` names the real client.
    pub trusted_proxies: Vec<String>,
    /// Largest request body accepted, bytes (413 beyond).
    pub max_body_bytes: u64,
    /// Longest request target (path and query) accepted, bytes (414 beyond).
    pub max_uri_bytes: usize,
    /// Host names (`name` or `name:port`) the server answers to besides IP addresses and
    /// `localhost`; `*` accepts any. Other `Host` headers get 421 (DNS rebinding).
    pub allowed_hosts: Vec<String>,
    /// Seconds from accepting a connection to the end of its first request's headers (and
    /// between two requests on a kept-alive connection); the connection is closed after.
    pub header_timeout: f64,
    /// Seconds to receive a whole request body; 408 after.
    pub body_timeout: f64,
    /// Seconds a response may wait for the client to accept a single byte; the connection is
    /// closed after (nginx's `send_timeout`).
    pub send_timeout: f64,
    /// Client connections served at once (also capped at half the open-file limit); a few
    /// beyond it only get `/healthz` and 503, more are closed at once.
    pub max_connections: usize,
}

impl Default for SecuritySettings {
    fn default() -> Self {
        SecuritySettings {
            // A household: a few players and a dashboard browsing titles never come close,
            // while a script hammering resolves (each one can fan out to every provider) does.
            rate_limit_per_second: 10.0,
            rate_limit_burst: 40,
            trusted_proxies: Vec::new(),
            // The largest body the API takes is a watch-progress update (a few dozen bytes).
            max_body_bytes: 64 * 1024,
            // Signed proxy URLs carry sealed headers (cookies) and long CDN URLs: a few KiB.
            max_uri_bytes: 16 * 1024,
            allowed_hosts: Vec::new(),
            // hyper's own default; a browser sends its headers in the first packet.
            header_timeout: 30.0,
            // The largest body is 64 KiB: 30 s is about 2 KiB/s, slower than any real client.
            body_timeout: 30.0,
            // nginx's default `send_timeout`: a player that paused reads again long before.
            send_timeout: 60.0,
            // A household's players and dashboards use a few dozen; a proxy in front of several
            // instances a few hundred.
            max_connections: 4096,
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            bind: "127.0.0.1:8080".parse().expect("valid default address"),
            data_dir: PathBuf::from("./data"),
            secret: None,
            api_token: None,
            allow_public_without_token: false,
            dashboard_dir: PathBuf::from("dashboard/build"),
            log: "info".into(),
            log_format: LogFormat::Pretty,
            resolve: ResolveSettings::default(),
            cache: CacheSettings::default(),
            proxy: ProxySettings::default(),
            library: LibrarySettings::default(),
            consumet: ConsumetSettings::default(),
            stremio: StremioSettings::default(),
            jellyfin: JellyfinSettings::default(),
            tmdb: TmdbSettings::default(),
            security: SecuritySettings::default(),
            resilience: ResilienceSettings::default(),
            upstream: UpstreamSettings::default(),
            accounts: AccountSettings::default(),
        }
    }
}

impl Default for ResilienceSettings {
    fn default() -> Self {
        ResilienceSettings {
            breaker_threshold: 5,
            breaker_cooldown_min: 30.0,
            breaker_cooldown_max: 600.0,
            retry_attempts: 3,
            retry_initial_backoff: 0.2,
            retry_max_backoff: 2.0,
        }
    }
}

impl Default for ResolveSettings {
    fn default() -> Self {
        ResolveSettings {
            // Consumet's tv info makes one TMDB call per season, sequentially: be generous.
            provider_timeout: 15.0,
            provider_order: ["library", "jellyfin", "stremio", "consumet"]
                .map(String::from)
                .to_vec(),
            // Long enough for every viewer's next resolve to skip it, short enough that a
            // CDN's passing hiccup does not bury a good source.
            failing_ttl: 300,
        }
    }
}

impl Default for CacheSettings {
    fn default() -> Self {
        CacheSettings {
            max_ttl: 900,
            negative_ttl: 45,
            expiry_margin: 30,
            redis_url: None,
            memory_capacity: 10_000,
            redis_budget: 0.25,
            redis_backoff_max: 30.0,
            lock_ttl: None,
            lock_wait: None,
        }
    }
}

impl Default for ProxySettings {
    fn default() -> Self {
        ProxySettings {
            allow: Vec::new(),
            url_ttl: 6 * 3600,
            max_playlist_bytes: 16 * 1024 * 1024,
            // About 120,000 segments; a day of 1-second segments rewrites to about 22 MB.
            max_rewritten_bytes: 32 * 1024 * 1024,
            // About 24 readers of a 120,000-segment playlist (2.4 MB) at once, or a thousand of
            // a 120-segment one; the process idles near 50 MiB.
            rewrite_memory_budget: 64 * 1024 * 1024,
            connect_timeout: 5.0,
            // LL-HLS blocking reloads hold the request for several target durations.
            first_byte_timeout: 20.0,
            idle_timeout: 30.0,
            max_redirects: 5,
            max_per_host: 128,
            retries: 2,
            // A home server: 64 MiB holds ~30 s of a 1080p stream for every viewer of it;
            // 1 GiB on disk an hour and a half of it.
            cache_memory_mb: 64,
            cache_disk_mb: 1024,
            // The largest HLS segments seen (10 s of 4K at 12 Mb/s) are about 15 MB.
            cache_max_object_mb: 16,
            resume_attempts: 2,
            read_ahead: 2,
        }
    }
}

impl Default for LibrarySettings {
    fn default() -> Self {
        LibrarySettings {
            paths: vec![PathBuf::from("./media")],
            enabled: true,
            ffmpeg: "ffmpeg".into(),
            ffprobe: "ffprobe".into(),
            probe_concurrency: 4,
            probe_timeout: 30.0,
            max_ffmpeg: 4,
            segment_seconds: 6.0,
            idle_timeout: 30.0,
            segment_wait: 30.0,
            cache_max_mb: 4096,
            // Real time with margin on a small machine: `veryfast` needs ~5 s of 2 cores to
            // encode a 6 s 1080p segment, so playback would stall; `ultrafast` takes ~3 s.
            transcode_preset: "ultrafast".into(),
            // An SRT of a 3-hour film is about 200 KB, a dense ASS with styling a few times
            // that: 4 MiB leaves room for any real subtitle and bounds what one request reads.
            max_subtitle_bytes: 4 * 1024 * 1024,
            watch: true,
            scan_on_start: true,
            detect_markers: true,
            // Intros start within the first minutes (after a cold open) and credits roll in the
            // last ones; 5 minutes of audio is ~2400 fingerprint items, a second of CPU.
            markers_window: 300.0,
            thumbnails: true,
            // What the seek bar of Netflix-like players shows: a picture every 10 s is 720
            // tiles for a 2-hour film, 8 sheets of 100, about 3 MB of JPEG.
            thumbnails_interval: 10.0,
        }
    }
}

impl Default for TmdbSettings {
    fn default() -> Self {
        TmdbSettings {
            key: None,
            base_url: "https://api.themoviedb.org/3".into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {source}")]
    Parse {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error("invalid {var}='{value}': {reason}")]
    Env {
        var: &'static str,
        value: String,
        reason: String,
    },
    #[error("invalid setting {key}: {reason}")]
    Invalid { key: &'static str, reason: String },
}

/// The environment variables this program reads, and the setting each one sets.
pub const ENV_VARS: &[(&str, &str)] = &[
    ("SOKOUL_CONFIG", "path of the TOML config file"),
    ("SOKOUL_BIND", "bind"),
    ("SOKOUL_DATA_DIR", "data_dir"),
    ("SOKOUL_SECRET", "secret"),
    ("SOKOUL_API_TOKEN", "api_token"),
    (
        "SOKOUL_ALLOW_PUBLIC_WITHOUT_TOKEN",
        "allow_public_without_token",
    ),
    ("SOKOUL_DASHBOARD_DIR", "dashboard_dir"),
    ("SOKOUL_LOG", "log"),
    ("SOKOUL_LOG_FORMAT", "log_format"),
    ("SOKOUL_LIBRARY", "library.paths (':'-separated)"),
    ("SOKOUL_CONSUMET_URL", "consumet.url"),
    ("SOKOUL_CONSUMET_PROVIDER", "consumet.provider"),
    ("SOKOUL_CONSUMET_SERVER", "consumet.server"),
    ("SOKOUL_STREMIO_ADDONS", "stremio.addons (','-separated)"),
    ("SOKOUL_JELLYFIN_URL", "jellyfin.url"),
    ("SOKOUL_JELLYFIN_API_KEY", "jellyfin.api_key"),
    ("SOKOUL_JELLYFIN_USER_ID", "jellyfin.user_id"),
    ("SOKOUL_TMDB_KEY", "tmdb.key"),
    ("SOKOUL_TMDB_URL", "tmdb.base_url"),
    ("SOKOUL_REDIS_URL", "cache.redis_url"),
    ("SOKOUL_CACHE_MAX_TTL", "cache.max_ttl"),
    ("SOKOUL_PROXY_ALLOW", "proxy.allow (','-separated)"),
    ("SOKOUL_PROXY_CACHE_MEMORY_MB", "proxy.cache_memory_mb"),
    ("SOKOUL_PROXY_CACHE_DISK_MB", "proxy.cache_disk_mb"),
    ("SOKOUL_PROXY_RESUME_ATTEMPTS", "proxy.resume_attempts"),
    ("SOKOUL_PROXY_READ_AHEAD", "proxy.read_ahead"),
    ("SOKOUL_PROVIDER_TIMEOUT", "resolve.provider_timeout"),
    ("SOKOUL_FAILING_TTL", "resolve.failing_ttl"),
    (
        "SOKOUL_RATE_LIMIT_PER_SECOND",
        "security.rate_limit_per_second (0 disables)",
    ),
    ("SOKOUL_RATE_LIMIT_BURST", "security.rate_limit_burst"),
    (
        "SOKOUL_TRUSTED_PROXIES",
        "security.trusted_proxies (','-separated)",
    ),
    (
        "SOKOUL_ALLOWED_HOSTS",
        "security.allowed_hosts (','-separated)",
    ),
    ("SOKOUL_HEADER_TIMEOUT", "security.header_timeout"),
    ("SOKOUL_BODY_TIMEOUT", "security.body_timeout"),
    ("SOKOUL_SEND_TIMEOUT", "security.send_timeout"),
    ("SOKOUL_MAX_CONNECTIONS", "security.max_connections"),
    (
        "SOKOUL_SESSION_IDLE_TIMEOUT",
        "accounts.session_idle_timeout (seconds)",
    ),
    (
        "SOKOUL_SESSION_LIFETIME",
        "accounts.session_lifetime (seconds)",
    ),
    ("SOKOUL_UPSTREAM_PROXY", "upstream.proxy"),
    (
        "SOKOUL_UPSTREAM_PROXY_ONLY",
        "upstream.proxy_only (','-separated)",
    ),
    (
        "SOKOUL_UPSTREAM_PROXY_BYPASS",
        "upstream.proxy_bypass (','-separated)",
    ),
];

impl Settings {
    /// Loads the settings from the process environment and the config file it names.
    pub fn load(config_path: Option<&Path>) -> Result<(Settings, Vec<String>), ConfigError> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        Settings::load_from(config_path, &env)
    }

    /// Loads the settings from an explicit environment. Returns warnings (unknown variables).
    pub fn load_from(
        config_path: Option<&Path>,
        env: &[(String, String)],
    ) -> Result<(Settings, Vec<String>), ConfigError> {
        let get = |name: &str| {
            env.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .filter(|v| !v.is_empty())
        };
        let path = config_path
            .map(Path::to_path_buf)
            .or_else(|| get("SOKOUL_CONFIG").map(PathBuf::from));
        let mut settings = match &path {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.clone(),
                    source,
                })?;
                toml::from_str(&text).map_err(|source| ConfigError::Parse {
                    path: path.clone(),
                    source: Box::new(source),
                })?
            }
            None => Settings::default(),
        };
        settings.apply_env(&get)?;
        settings.validate()?;
        let warnings = env
            .iter()
            .filter(|(k, _)| k.starts_with("SOKOUL_") && !ENV_VARS.iter().any(|(n, _)| n == k))
            .map(|(k, _)| format!("unknown environment variable {k} is ignored"))
            .collect();
        Ok((settings, warnings))
    }

    fn apply_env(&mut self, get: &dyn Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        let env = Env(get);
        env.parsed("SOKOUL_BIND", &mut self.bind)?;
        env.path("SOKOUL_DATA_DIR", &mut self.data_dir);
        env.secret("SOKOUL_SECRET", &mut self.secret);
        env.secret("SOKOUL_API_TOKEN", &mut self.api_token);
        if let Some(v) = get("SOKOUL_ALLOW_PUBLIC_WITHOUT_TOKEN") {
            self.allow_public_without_token = parse_bool("SOKOUL_ALLOW_PUBLIC_WITHOUT_TOKEN", v)?;
        }
        env.path("SOKOUL_DASHBOARD_DIR", &mut self.dashboard_dir);
        env.text("SOKOUL_LOG", &mut self.log);
        if let Some(v) = get("SOKOUL_LOG_FORMAT") {
            self.log_format = match v.as_str() {
                "json" => LogFormat::Json,
                "pretty" => LogFormat::Pretty,
                _ => {
                    return Err(ConfigError::Env {
                        var: "SOKOUL_LOG_FORMAT",
                        value: v,
                        reason: "expected 'pretty' or 'json'".into(),
                    });
                }
            };
        }
        if let Some(v) = get("SOKOUL_LIBRARY") {
            self.library.paths = list(&v, ':').into_iter().map(PathBuf::from).collect();
        }
        self.apply_provider_env(&env);
        env.secret("SOKOUL_REDIS_URL", &mut self.cache.redis_url);
        env.parsed("SOKOUL_CACHE_MAX_TTL", &mut self.cache.max_ttl)?;
        env.list("SOKOUL_PROXY_ALLOW", ',', &mut self.proxy.allow);
        self.apply_proxy_env(&env)?;
        env.secret("SOKOUL_UPSTREAM_PROXY", &mut self.upstream.proxy);
        env.list(
            "SOKOUL_UPSTREAM_PROXY_ONLY",
            ',',
            &mut self.upstream.proxy_only,
        );
        env.list(
            "SOKOUL_UPSTREAM_PROXY_BYPASS",
            ',',
            &mut self.upstream.proxy_bypass,
        );
        env.parsed(
            "SOKOUL_PROVIDER_TIMEOUT",
            &mut self.resolve.provider_timeout,
        )?;
        env.parsed("SOKOUL_FAILING_TTL", &mut self.resolve.failing_ttl)?;
        env.parsed(
            "SOKOUL_SESSION_IDLE_TIMEOUT",
            &mut self.accounts.session_idle_timeout,
        )?;
        env.parsed(
            "SOKOUL_SESSION_LIFETIME",
            &mut self.accounts.session_lifetime,
        )?;
        self.apply_security_env(&env)
    }

    fn apply_proxy_env(&mut self, env: &Env<'_>) -> Result<(), ConfigError> {
        let proxy = &mut self.proxy;
        env.parsed("SOKOUL_PROXY_CACHE_MEMORY_MB", &mut proxy.cache_memory_mb)?;
        env.parsed("SOKOUL_PROXY_CACHE_DISK_MB", &mut proxy.cache_disk_mb)?;
        env.parsed("SOKOUL_PROXY_RESUME_ATTEMPTS", &mut proxy.resume_attempts)?;
        env.parsed("SOKOUL_PROXY_READ_AHEAD", &mut proxy.read_ahead)
    }

    fn apply_provider_env(&mut self, env: &Env<'_>) {
        env.optional("SOKOUL_CONSUMET_URL", &mut self.consumet.url);
        env.optional("SOKOUL_CONSUMET_PROVIDER", &mut self.consumet.provider);
        env.optional("SOKOUL_CONSUMET_SERVER", &mut self.consumet.server);
        env.list("SOKOUL_STREMIO_ADDONS", ',', &mut self.stremio.addons);
        env.optional("SOKOUL_JELLYFIN_URL", &mut self.jellyfin.url);
        env.secret("SOKOUL_JELLYFIN_API_KEY", &mut self.jellyfin.api_key);
        env.optional("SOKOUL_JELLYFIN_USER_ID", &mut self.jellyfin.user_id);
        env.secret("SOKOUL_TMDB_KEY", &mut self.tmdb.key);
        env.text("SOKOUL_TMDB_URL", &mut self.tmdb.base_url);
    }

    fn apply_security_env(&mut self, env: &Env<'_>) -> Result<(), ConfigError> {
        let security = &mut self.security;
        env.parsed(
            "SOKOUL_RATE_LIMIT_PER_SECOND",
            &mut security.rate_limit_per_second,
        )?;
        env.parsed("SOKOUL_RATE_LIMIT_BURST", &mut security.rate_limit_burst)?;
        env.list("SOKOUL_TRUSTED_PROXIES", ',', &mut security.trusted_proxies);
        env.list("SOKOUL_ALLOWED_HOSTS", ',', &mut security.allowed_hosts);
        env.parsed("SOKOUL_HEADER_TIMEOUT", &mut security.header_timeout)?;
        env.parsed("SOKOUL_BODY_TIMEOUT", &mut security.body_timeout)?;
        env.parsed("SOKOUL_SEND_TIMEOUT", &mut security.send_timeout)?;
        env.parsed("SOKOUL_MAX_CONNECTIONS", &mut security.max_connections)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        self.validate_cache()?;
        if !(self.resolve.provider_timeout > 0.0 && self.resolve.provider_timeout <= 300.0) {
            return invalid(
                "resolve.provider_timeout",
                "must be between 0 and 300 seconds",
            );
        }
        self.resilience.validate()?;
        self.validate_proxy()?;
        // The reason never quotes the URL: it may hold the proxy's password.
        crate::upstream::outbound::ProxyConfig::parse(&self.upstream).map_err(|e| {
            ConfigError::Invalid {
                key: e.key(),
                reason: e.to_string(),
            }
        })?;
        for (key, value) in [
            ("consumet.url", &self.consumet.url),
            ("jellyfin.url", &self.jellyfin.url),
        ] {
            if let Some(v) = value {
                check_http_url(key, v)?;
            }
        }
        for addon in &self.stremio.addons {
            check_http_url("stremio.addons", addon)?;
        }
        self.validate_library()?;
        self.validate_security()?;
        self.validate_accounts()?;
        if self.jellyfin.url.is_some() && self.jellyfin.api_key.is_none() {
            return invalid(
                "jellyfin.api_key",
                "SOKOUL_JELLYFIN_URL is set but SOKOUL_JELLYFIN_API_KEY is not",
            );
        }
        Ok(())
    }

    fn validate_cache(&self) -> Result<(), ConfigError> {
        if self.cache.max_ttl == 0 {
            return invalid("cache.max_ttl", "must be at least 1 second");
        }
        if !(self.cache.redis_budget > 0.0 && self.cache.redis_budget <= 10.0) {
            return invalid("cache.redis_budget", "must be between 0 and 10 seconds");
        }
        if !(self.cache.redis_backoff_max > 0.0 && self.cache.redis_backoff_max <= 3600.0) {
            return invalid(
                "cache.redis_backoff_max",
                "must be between 0 and 3600 seconds",
            );
        }
        for (key, value) in [
            ("cache.lock_ttl", self.cache.lock_ttl),
            ("cache.lock_wait", self.cache.lock_wait),
        ] {
            if value.is_some_and(|v| !(v > 0.0 && v <= 600.0)) {
                return invalid(key, "must be between 0 and 600 seconds");
            }
        }
        Ok(())
    }

    fn validate_proxy(&self) -> Result<(), ConfigError> {
        if self.proxy.max_playlist_bytes < 1024 {
            return invalid("proxy.max_playlist_bytes", "must be at least 1024");
        }
        // Rewriting only makes a playlist longer: a smaller output cap would refuse every
        // playlist that passed the input cap.
        if self.proxy.max_rewritten_bytes < self.proxy.max_playlist_bytes {
            return invalid(
                "proxy.max_rewritten_bytes",
                "must be at least proxy.max_playlist_bytes",
            );
        }
        // A playlist the input cap admits must fit in the budget, or it could never be served.
        if self.proxy.rewrite_memory_budget < self.proxy.max_playlist_bytes {
            return invalid(
                "proxy.rewrite_memory_budget",
                "must be at least proxy.max_playlist_bytes",
            );
        }
        // The cache weighs an entry in a u32 of bytes; a segment past 1 GiB is a film.
        if !(1..=1024).contains(&self.proxy.cache_max_object_mb) {
            return invalid("proxy.cache_max_object_mb", "must be between 1 and 1024");
        }
        // A minute of 4-second segments: past that, read-ahead is a download.
        if self.proxy.read_ahead > 16 {
            return invalid("proxy.read_ahead", "must be at most 16");
        }
        Ok(())
    }

    fn validate_library(&self) -> Result<(), ConfigError> {
        // Converting a subtitle holds it about three times in memory; 64 MiB is already 100
        // times any real one.
        if !(1024..=64 * 1024 * 1024).contains(&self.library.max_subtitle_bytes) {
            return invalid(
                "library.max_subtitle_bytes",
                "must be between 1024 and 67108864 (64 MiB)",
            );
        }
        // Under a minute cannot hold a cold open and an intro; past 20 minutes the search
        // covers most of an episode, costs more CPU and finds shared scenes that are not intros.
        if !(60.0..=1200.0).contains(&self.library.markers_window) {
            return invalid(
                "library.markers_window",
                "must be between 60 and 1200 seconds",
            );
        }
        self.validate_thumbnails()?;
        Ok(())
    }

    fn validate_thumbnails(&self) -> Result<(), ConfigError> {
        // Under 2 s a 2-hour film makes 3600+ tiles (and decodes nearly every keyframe); past
        // a minute the seek bar preview no longer tells scenes apart.
        let interval = self.library.thumbnails_interval;
        if (2.0..=60.0).contains(&interval) {
            return Ok(());
        }
        Err(ConfigError::Invalid {
            key: "library.thumbnails_interval",
            reason: "must be between 2 and 60 seconds".into(),
        })
    }

    fn validate_accounts(&self) -> Result<(), ConfigError> {
        let a = &self.accounts;
        if !(60..=366 * 24 * 3600).contains(&a.session_lifetime) {
            return invalid(
                "accounts.session_lifetime",
                "must be between 60 seconds and a year",
            );
        }
        if !(60..=a.session_lifetime).contains(&a.session_idle_timeout) {
            return invalid(
                "accounts.session_idle_timeout",
                "must be between 60 seconds and accounts.session_lifetime",
            );
        }
        Ok(())
    }

    fn validate_security(&self) -> Result<(), ConfigError> {
        let s = &self.security;
        if !(s.rate_limit_per_second >= 0.0 && s.rate_limit_per_second <= 1_000_000.0) {
            return invalid(
                "security.rate_limit_per_second",
                "must be between 0 (no limit) and 1000000",
            );
        }
        if s.rate_limit_per_second > 0.0 && s.rate_limit_burst == 0 {
            return invalid(
                "security.rate_limit_burst",
                "must be at least 1 when the rate limit is on",
            );
        }
        for entry in &s.trusted_proxies {
            if crate::security::client_ip::parse_net(entry).is_none() {
                return invalid(
                    "security.trusted_proxies",
                    format!("'{entry}' is neither an IP address nor a CIDR"),
                );
            }
        }
        if s.max_body_bytes == 0 {
            return invalid("security.max_body_bytes", "must be at least 1");
        }
        // The dashboard's own routes and a minimal proxy URL must always fit.
        if s.max_uri_bytes < 1024 {
            return invalid("security.max_uri_bytes", "must be at least 1024");
        }
        for entry in &s.allowed_hosts {
            if crate::security::host::HostPattern::parse(entry).is_none() {
                return invalid(
                    "security.allowed_hosts",
                    format!("'{entry}' is not a host name, host:port or '*'"),
                );
            }
        }
        for (key, value) in [
            ("security.header_timeout", s.header_timeout),
            ("security.body_timeout", s.body_timeout),
            ("security.send_timeout", s.send_timeout),
        ] {
            if !(value > 0.0 && value <= 3600.0) {
                return invalid(key, "must be between 0 and 3600 seconds");
            }
        }
        if s.max_connections == 0 {
            return invalid("security.max_connections", "must be at least 1");
        }
        if let Some(token) = &self.api_token {
            let chars = token.expose().chars().count();
            if chars < MIN_API_TOKEN_CHARS {
                return invalid(
                    "api_token",
                    format!(
                        "SOKOUL_API_TOKEN has {chars} characters; at least {MIN_API_TOKEN_CHARS} are required \
                         so that it cannot be guessed. Generate one with `openssl rand -hex 32`"
                    ),
                );
            }
        }
        Ok(())
    }

    pub fn provider_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.resolve.provider_timeout)
    }

    /// The cross-instance resolve lock's lifetime: long enough for a whole resolve (every
    /// provider runs under `provider_timeout`, concurrently) so a slow one is not resolved
    /// twice, short enough that a crashed holder blocks nobody for long.
    pub fn lock_ttl(&self) -> Duration {
        self.cache
            .lock_ttl
            .map(Duration::from_secs_f64)
            .unwrap_or_else(|| self.provider_timeout() + Duration::from_secs(5))
    }

    pub fn lock_wait(&self) -> Duration {
        self.cache
            .lock_wait
            .map(Duration::from_secs_f64)
            .unwrap_or_else(|| self.lock_ttl())
    }

    /// Hosts (`host` or `host:port`) of the configured providers, which the proxy may reach
    /// even when they are private: the operator chose them.
    /// The configured providers' `host:port`s, each with the id of the provider that owns it
    /// (the id its sources carry): a proxy URL minted for that provider may reach it.
    pub fn provider_hosts(&self) -> Vec<(&'static str, String)> {
        // TMDB only when a key enables it: a self-hosted TMDB mirror may be on the LAN.
        let tmdb = self.tmdb.key.as_ref().map(|_| &self.tmdb.base_url);
        let urls = (self.consumet.url.iter().map(|u| ("consumet", u)))
            .chain(self.jellyfin.url.iter().map(|u| ("jellyfin", u)))
            .chain(self.stremio.addons.iter().map(|u| ("stremio", u)))
            .chain(tmdb.map(|u| ("tmdb", u)));
        urls.filter_map(|(owner, u)| Some((owner, url::Url::parse(u).ok()?)))
            .filter_map(|(owner, u)| {
                let host = u.host_str()?.to_string();
                Some((
                    owner,
                    match u.port_or_known_default() {
                        Some(port) => format!("{host}:{port}"),
                        None => host,
                    },
                ))
            })
            .collect()
    }
}

impl ResilienceSettings {
    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, reason: &str| {
            Err(ConfigError::Invalid {
                key,
                reason: reason.into(),
            })
        };
        let r = self;
        if !(r.breaker_cooldown_min > 0.0 && r.breaker_cooldown_min <= 86_400.0) {
            return invalid(
                "resilience.breaker_cooldown_min",
                "must be between 0 and 86400 seconds",
            );
        }
        if !(r.breaker_cooldown_max >= r.breaker_cooldown_min && r.breaker_cooldown_max <= 86_400.0)
        {
            return invalid(
                "resilience.breaker_cooldown_max",
                "must be at least breaker_cooldown_min and at most 86400 seconds",
            );
        }
        if !(1..=10).contains(&r.retry_attempts) {
            return invalid("resilience.retry_attempts", "must be between 1 and 10");
        }
        if !(r.retry_initial_backoff >= 0.0 && r.retry_initial_backoff <= 60.0) {
            return invalid(
                "resilience.retry_initial_backoff",
                "must be between 0 and 60 seconds",
            );
        }
        if !(r.retry_max_backoff >= r.retry_initial_backoff && r.retry_max_backoff <= 60.0) {
            return invalid(
                "resilience.retry_max_backoff",
                "must be at least retry_initial_backoff and at most 60 seconds",
            );
        }
        Ok(())
    }

    pub fn breaker_cooldown_min(&self) -> Duration {
        Duration::from_secs_f64(self.breaker_cooldown_min)
    }

    pub fn breaker_cooldown_max(&self) -> Duration {
        Duration::from_secs_f64(self.breaker_cooldown_max)
    }
}

/// The `SOKOUL_*` variables, each written into its setting when it is set.
struct Env<'a>(&'a dyn Fn(&str) -> Option<String>);

impl Env<'_> {
    fn text(&self, var: &str, slot: &mut String) {
        if let Some(v) = (self.0)(var) {
            *slot = v;
        }
    }

    fn optional(&self, var: &str, slot: &mut Option<String>) {
        if let Some(v) = (self.0)(var) {
            *slot = Some(v);
        }
    }

    fn secret(&self, var: &str, slot: &mut Option<Secret>) {
        if let Some(v) = (self.0)(var) {
            *slot = Some(Secret(v));
        }
    }

    fn path(&self, var: &str, slot: &mut PathBuf) {
        if let Some(v) = (self.0)(var) {
            *slot = v.into();
        }
    }

    fn list(&self, var: &str, sep: char, slot: &mut Vec<String>) {
        if let Some(v) = (self.0)(var) {
            *slot = list(&v, sep);
        }
    }

    fn parsed<T: std::str::FromStr>(
        &self,
        var: &'static str,
        slot: &mut T,
    ) -> Result<(), ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        if let Some(value) = (self.0)(var) {
            *slot = value.trim().parse::<T>().map_err(|e| ConfigError::Env {
                var,
                reason: e.to_string(),
                value,
            })?;
        }
        Ok(())
    }
}

/// A separated list; blanks around and between the items are ignored.
fn list(value: &str, sep: char) -> Vec<String> {
    value
        .split(sep)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

fn invalid(key: &'static str, reason: impl Into<String>) -> Result<(), ConfigError> {
    Err(ConfigError::Invalid {
        key,
        reason: reason.into(),
    })
}

fn parse_bool(var: &'static str, value: String) -> Result<bool, ConfigError> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(ConfigError::Env {
            var,
            value,
            reason: "expected true or false".into(),
        }),
    }
}

fn check_http_url(key: &'static str, value: &str) -> Result<(), ConfigError> {
    match url::Url::parse(value) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(()),
        Ok(_) => Err(ConfigError::Invalid {
            key,
            reason: format!("'{value}' is not an http(s) URL"),
        }),
        Err(e) => Err(ConfigError::Invalid {
            key,
            reason: format!("'{value}': {e}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_match_the_contract() {
        let (s, warnings) = Settings::load_from(None, &[]).unwrap();
        assert_eq!(s.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(s.data_dir, PathBuf::from("./data"));
        assert_eq!(s.library.paths, vec![PathBuf::from("./media")]);
        assert_eq!(s.cache.max_ttl, 900);
        assert!(s.cache.redis_url.is_none() && s.consumet.url.is_none());
        assert!(warnings.is_empty());
    }

    #[test]
    fn environment_overrides_the_file_which_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sokoul.toml");
        std::fs::write(
            &path,
            "bind = \"127.0.0.1:9000\"\n[cache]\nmax_ttl = 600\n[consumet]\nurl = \"http://consumet:3000\"\n",
        )
        .unwrap();
        let (s, warnings) = Settings::load_from(
            Some(&path),
            &env(&[
                ("SOKOUL_CACHE_MAX_TTL", "120"),
                ("SOKOUL_LIBRARY", "/a:/b"),
                (
                    "SOKOUL_STREMIO_ADDONS",
                    "http://x/manifest.json, http://y/c/manifest.json",
                ),
                ("SOKOUL_TYPO", "1"),
            ]),
        )
        .unwrap();
        assert_eq!(s.bind.port(), 9000, "file beats default");
        assert_eq!(s.cache.max_ttl, 120, "env beats file");
        assert_eq!(s.consumet.url.as_deref(), Some("http://consumet:3000"));
        assert_eq!(
            s.library.paths,
            vec![PathBuf::from("/a"), PathBuf::from("/b")]
        );
        assert_eq!(s.stremio.addons.len(), 2);
        assert_eq!(
            warnings,
            vec!["unknown environment variable SOKOUL_TYPO is ignored"]
        );
    }

    #[test]
    fn bad_values_name_the_variable() {
        let err = Settings::load_from(None, &env(&[("SOKOUL_CACHE_MAX_TTL", "soon")])).unwrap_err();
        assert!(err.to_string().contains("SOKOUL_CACHE_MAX_TTL"), "{err}");
        let err =
            Settings::load_from(None, &env(&[("SOKOUL_CONSUMET_URL", "ftp://x")])).unwrap_err();
        assert!(err.to_string().contains("consumet.url"), "{err}");
    }

    #[test]
    fn the_rewritten_playlist_cap_cannot_be_below_the_input_cap() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sokoul.toml");
        std::fs::write(
            &path,
            "[proxy]\nmax_playlist_bytes = 1000000\nmax_rewritten_bytes = 999999\n",
        )
        .unwrap();
        let err = Settings::load_from(Some(&path), &[]).unwrap_err();
        assert!(
            err.to_string().contains("proxy.max_rewritten_bytes"),
            "{err}"
        );
        std::fs::write(&path, "[proxy]\nmax_playlist_bytes = 1000000\n").unwrap();
        let (s, _) = Settings::load_from(Some(&path), &[]).unwrap();
        assert_eq!(s.proxy.max_rewritten_bytes, 32 * 1024 * 1024);
    }

    #[test]
    fn the_proxy_cache_is_set_from_the_file_and_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sokoul.toml");
        std::fs::write(
            &path,
            "[proxy]\ncache_memory_mb = 8\ncache_disk_mb = 0\nresume_attempts = 1\n",
        )
        .unwrap();
        let env = [
            ("SOKOUL_PROXY_CACHE_DISK_MB", "100"),
            ("SOKOUL_PROXY_RESUME_ATTEMPTS", "0"),
            ("SOKOUL_PROXY_READ_AHEAD", "0"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        let (s, _) = Settings::load_from(Some(&path), &env).unwrap();
        let p = &s.proxy;
        assert_eq!(
            (p.cache_memory_mb, p.cache_disk_mb, p.resume_attempts),
            (8, 100, 0)
        );
        assert_eq!((p.cache_max_object_mb, p.read_ahead), (16, 0));
        std::fs::write(&path, "[proxy]\ncache_max_object_mb = 0\n").unwrap();
        let err = Settings::load_from(Some(&path), &[]).unwrap_err();
        assert!(
            err.to_string().contains("proxy.cache_max_object_mb"),
            "{err}"
        );
    }

    #[test]
    fn the_subtitle_size_cap_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sokoul.toml");
        for bad in ["0", "1023", "67108865"] {
            std::fs::write(&path, format!("[library]\nmax_subtitle_bytes = {bad}\n")).unwrap();
            let err = Settings::load_from(Some(&path), &[]).unwrap_err();
            assert!(
                err.to_string().contains("library.max_subtitle_bytes"),
                "{bad}: {err}"
            );
        }
        std::fs::write(&path, "[library]\nmax_subtitle_bytes = 1048576\n").unwrap();
        let (s, _) = Settings::load_from(Some(&path), &[]).unwrap();
        assert_eq!(s.library.max_subtitle_bytes, 1024 * 1024);
        let (s, _) = Settings::load_from(None, &[]).unwrap();
        assert_eq!(s.library.max_subtitle_bytes, 4 * 1024 * 1024);
    }

    #[test]
    fn the_rewrite_memory_budget_must_hold_the_largest_playlist() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sokoul.toml");
        let (s, _) = Settings::load_from(None, &[]).unwrap();
        assert_eq!(s.proxy.rewrite_memory_budget, 64 * 1024 * 1024);
        std::fs::write(
            &path,
            "[proxy]\nmax_playlist_bytes = 1000000\nrewrite_memory_budget = 999999\n",
        )
        .unwrap();
        let err = Settings::load_from(Some(&path), &[]).unwrap_err();
        assert!(
            err.to_string().contains("proxy.rewrite_memory_budget"),
            "{err}"
        );
        std::fs::write(
            &path,
            "[proxy]\nmax_playlist_bytes = 1000000\nrewrite_memory_budget = 8000000\n",
        )
        .unwrap();
        let (s, _) = Settings::load_from(Some(&path), &[]).unwrap();
        assert_eq!(s.proxy.rewrite_memory_budget, 8_000_000);
    }

    #[test]
    fn marker_detection_can_be_turned_off_and_its_window_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sokoul.toml");
        let (s, _) = Settings::load_from(None, &[]).unwrap();
        assert!(s.library.detect_markers);
        assert_eq!(s.library.markers_window, 300.0);
        std::fs::write(
            &path,
            "[library]\ndetect_markers = false\nmarkers_window = 120.0\n",
        )
        .unwrap();
        let (s, _) = Settings::load_from(Some(&path), &[]).unwrap();
        assert!(!s.library.detect_markers);
        assert_eq!(s.library.markers_window, 120.0);
        for bad in ["59.0", "1201.0", "nan"] {
            std::fs::write(&path, format!("[library]\nmarkers_window = {bad}\n")).unwrap();
            let err = Settings::load_from(Some(&path), &[]).unwrap_err();
            assert!(
                err.to_string().contains("library.markers_window"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn thumbnails_can_be_turned_off_and_their_interval_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let load = |toml: &str| {
            let path = dir.path().join("sokoul.toml");
            std::fs::write(&path, format!("[library]\n{toml}\n")).unwrap();
            Settings::load_from(Some(&path), &[]).map(|(s, _)| s.library)
        };
        let defaults = load("").unwrap();
        assert_eq!(
            (defaults.thumbnails, defaults.thumbnails_interval),
            (true, 10.0)
        );
        let set = load("thumbnails = false\nthumbnails_interval = 5.0").unwrap();
        assert_eq!((set.thumbnails, set.thumbnails_interval), (false, 5.0));
        for bad in ["1.9", "60.5", "nan"] {
            let err = load(&format!("thumbnails_interval = {bad}")).unwrap_err();
            let err = err.to_string();
            assert!(err.contains("library.thumbnails_interval"), "{bad}: {err}");
        }
    }

    #[test]
    fn unknown_file_keys_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sokoul.toml");
        std::fs::write(&path, "[cache]\nmax_tll = 5\n").unwrap();
        let err = Settings::load_from(Some(&path), &[]).unwrap_err();
        assert!(err.to_string().contains("max_tll"), "{err}");
    }

    #[test]
    fn the_resolve_lock_outlives_a_whole_resolve_unless_set() {
        let (mut s, _) =
            Settings::load_from(None, &env(&[("SOKOUL_PROVIDER_TIMEOUT", "30")])).unwrap();
        assert_eq!(s.lock_ttl(), Duration::from_secs(35));
        assert_eq!(s.lock_wait(), Duration::from_secs(35));
        s.cache.lock_ttl = Some(8.0);
        assert_eq!(s.lock_wait(), Duration::from_secs(8));
        s.cache.lock_wait = Some(2.5);
        assert_eq!(s.lock_wait(), Duration::from_millis(2500));

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sokoul.toml");
        std::fs::write(&path, "[cache]\nredis_budget = 0\n").unwrap();
        let err = Settings::load_from(Some(&path), &[]).unwrap_err();
        assert!(err.to_string().contains("cache.redis_budget"), "{err}");
    }

    #[test]
    fn a_short_api_token_is_refused_with_a_way_to_make_one() {
        let err = Settings::load_from(None, &env(&[("SOKOUL_API_TOKEN", "7")])).unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("api_token") && message.contains("openssl rand -hex 32"),
            "{message}"
        );
        assert!(
            !message.contains("'7'"),
            "the token is not echoed: {message}"
        );
        let long = "0123456789abcdef";
        let (s, _) = Settings::load_from(None, &env(&[("SOKOUL_API_TOKEN", long)])).unwrap();
        assert_eq!(s.api_token.unwrap().expose(), long);
    }

    #[test]
    fn edge_limits_are_read_from_the_environment_and_checked() {
        let (s, _) = Settings::load_from(
            None,
            &env(&[
                ("SOKOUL_ALLOWED_HOSTS", "sokoul.example.org, nas.lan:8080"),
                ("SOKOUL_HEADER_TIMEOUT", "2.5"),
                ("SOKOUL_BODY_TIMEOUT", "4"),
                ("SOKOUL_SEND_TIMEOUT", "7.5"),
                ("SOKOUL_MAX_CONNECTIONS", "100"),
            ]),
        )
        .unwrap();
        assert_eq!(
            s.security.allowed_hosts,
            ["sokoul.example.org", "nas.lan:8080"]
        );
        assert_eq!(s.security.header_timeout, 2.5);
        assert_eq!(s.security.body_timeout, 4.0);
        assert_eq!(s.security.send_timeout, 7.5);
        assert_eq!(s.security.max_connections, 100);
        for (var, value, key) in [
            (
                "SOKOUL_ALLOWED_HOSTS",
                "http://x.example/",
                "security.allowed_hosts",
            ),
            ("SOKOUL_HEADER_TIMEOUT", "0", "security.header_timeout"),
            ("SOKOUL_BODY_TIMEOUT", "-1", "security.body_timeout"),
            ("SOKOUL_SEND_TIMEOUT", "0", "security.send_timeout"),
            ("SOKOUL_MAX_CONNECTIONS", "0", "security.max_connections"),
            ("SOKOUL_SESSION_LIFETIME", "10", "accounts.session_lifetime"),
            (
                "SOKOUL_SESSION_IDLE_TIMEOUT",
                "99999999",
                "accounts.session_idle_timeout",
            ),
        ] {
            let err = Settings::load_from(None, &env(&[(var, value)])).unwrap_err();
            assert!(err.to_string().contains(key), "{var}={value}: {err}");
        }
    }

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let (s, _) = Settings::load_from(None, &env(&[("SOKOUL_SECRET", "hunter2")])).unwrap();
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn the_upstream_proxy_and_its_rules_load_from_the_environment_and_are_checked() {
        let (s, warnings) = Settings::load_from(
            None,
            &env(&[
                (
                    "SOKOUL_UPSTREAM_PROXY",
                    "socks5h://u:hunter2@proxy.lan:1080",
                ),
                ("SOKOUL_UPSTREAM_PROXY_ONLY", "*.example.org, cdn.example"),
                ("SOKOUL_UPSTREAM_PROXY_BYPASS", "direct.example.org"),
            ]),
        )
        .unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(
            s.upstream.proxy.as_ref().map(Secret::expose),
            Some("socks5h://u:hunter2@proxy.lan:1080")
        );
        assert_eq!(s.upstream.proxy_only, ["*.example.org", "cdn.example"]);
        assert_eq!(s.upstream.proxy_bypass, ["direct.example.org"]);
        assert!(!format!("{s:?}").contains("hunter2"));

        for (var, value) in [
            ("SOKOUL_UPSTREAM_PROXY", "ftp://u:hunter2@proxy.lan:21"),
            ("SOKOUL_UPSTREAM_PROXY_BYPASS", "http://hunter2.example/"),
        ] {
            let err = Settings::load_from(None, &env(&[(var, value)])).unwrap_err();
            assert!(err.to_string().contains("upstream.proxy"), "{err}");
            if var == "SOKOUL_UPSTREAM_PROXY" {
                assert!(!err.to_string().contains("hunter2"), "{err}");
            }
        }
    }
}

#[cfg(test)]
mod example_file {
    /// The committed example must stay loadable and equal to the defaults it documents.
    #[test]
    fn sokoul_example_toml_parses_to_the_defaults() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sokoul.example.toml");
        let (s, _) = super::Settings::load_from(Some(&path), &[]).unwrap();
        let d = super::Settings::default();
        assert_eq!(format!("{s:?}"), format!("{d:?}"));
    }
}
