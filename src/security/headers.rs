//! Security headers on every response, and the dashboard's Content-Security-Policy.
//!
//! The CSP allows scripts from the dashboard's own script path (`/_app/`, where SvelteKit puts
//! them) plus the SHA-256 of each inline `<script>` of the dashboard's `index.html`, computed here from the file the server actually serves (rather
//! than with SvelteKit's `kit.csp`): the policy then lives in a header, where
//! `frame-ancestors` works (it is ignored in a `<meta>` tag), in one place with the other
//! headers, and it follows a rebuilt dashboard without a restart (the hashes are recomputed
//! when `index.html` changes). No `'unsafe-inline'` for scripts.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::SystemTime;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::startup::AppState;

/// Everything but the script sources. Each source, and why:
/// - `script-src <host>/_app/`: not `'self'`, which cannot carry a path: the same origin
///   relays provider content (the proxy), and a relayed script must never be the dashboard's.
///   The proxy also serves only player types (`only_player_types`), so this is the second
///   wall. The source is built per request from `Host`, without a scheme so that it matches
///   both `http:` and an `https:` reverse proxy in front (which must pass `Host` through);
/// - `worker-src 'self' blob:`: hls.js's transmuxing worker. The dashboard loads it from our
///   origin (`workerPath`); `blob:` is how hls.js starts it when the worker is bundled in.
/// - `media-src 'self' blob:`: MediaSource object URLs (hls.js) and direct-play files;
/// - `img-src … https://image.tmdb.org`: TMDB posters (`data:`: small inlined assets);
/// - `connect-src 'self'`: the API and the proxy; remote media always comes through the proxy;
/// - `style-src 'unsafe-inline'`: Svelte writes `style` attributes and transitions insert
///   `<style>` elements at run time; styles cannot run code.
const POLICY_HEAD: &str = "default-src 'self'; script-src";
/// Where SvelteKit puts the dashboard's scripts.
const SCRIPT_PATH: &str = "/_app/";
const POLICY_TAIL: &str = "; worker-src 'self' blob:; media-src 'self' blob:; \
    img-src 'self' data: https://image.tmdb.org; connect-src 'self'; \
    style-src 'self' 'unsafe-inline'; font-src 'self'; object-src 'none'; base-uri 'none'; \
    form-action 'self'; frame-ancestors 'none'";

/// Adds the headers every response gets (outermost, so errors and caught panics get them too)
/// and the dashboard's CSP on HTML responses.
pub fn apply(router: Router<AppState>, state: &AppState) -> Router<AppState> {
    let always = |name: HeaderName, value: &'static str| {
        SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
    };
    router
        .layer(middleware::from_fn_with_state(state.clone(), dashboard_csp))
        .layer(always(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        // Nothing the dashboard loads needs a referrer (TMDB images do not check it), and the
        // proxy sets the Referer upstreams need itself.
        .layer(always(header::REFERRER_POLICY, "no-referrer"))
        .layer(always(header::X_FRAME_OPTIONS, "DENY"))
        .layer(always(
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ))
}

/// The dashboard's policy on HTML responses. Media, JSON and playlists get none: a policy on
/// a video opened in its own tab would block the video itself. A policy already set is kept:
/// the proxy sandboxes whatever it relays (`default-src 'none'; sandbox`), and relayed HTML
/// must never run with the dashboard's rights.
async fn dashboard_csp(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| request.uri().authority().map(|a| a.as_str()))
        .map(str::to_owned);
    let mut response = next.run(request).await;
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if is_html
        && !response
            .headers()
            .contains_key(header::CONTENT_SECURITY_POLICY)
    {
        let policy = state.security.csp.header(host.as_deref()).await;
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    response
}

/// The policy for the dashboard's `index.html`, recomputed when the file changes.
pub struct DashboardCsp {
    index: PathBuf,
    cached: Mutex<Option<Cached>>,
}

// Holds clients, caches or trait objects whose state says nothing useful in a log.
impl std::fmt::Debug for DashboardCsp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DashboardCsp").finish_non_exhaustive()
    }
}

struct Cached {
    modified: Option<SystemTime>,
    len: u64,
    hashes: Vec<String>,
}

impl DashboardCsp {
    pub fn new(index: PathBuf) -> Self {
        DashboardCsp {
            index,
            cached: Mutex::new(None),
        }
    }

    /// The policy for a page requested with this `Host`.
    pub async fn header(&self, host: Option<&str>) -> HeaderValue {
        let hashes = self.hashes().await;
        HeaderValue::from_str(&policy(host, &hashes)).expect("the policy is ASCII")
    }

    async fn hashes(&self) -> Vec<String> {
        let meta = tokio::fs::metadata(&self.index).await.ok();
        let stamp = meta.as_ref().map(|m| (m.modified().ok(), m.len()));
        if let Some((modified, len)) = stamp {
            let cached = self.cached.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(c) = cached
                .as_ref()
                .filter(|c| c.modified == modified && c.len == len)
            {
                return c.hashes.clone();
            }
        }
        let html = tokio::fs::read_to_string(&self.index)
            .await
            .unwrap_or_default();
        let hashes = inline_script_hashes(&html);
        if let Some((modified, len)) = stamp {
            *self.cached.lock().unwrap_or_else(|e| e.into_inner()) = Some(Cached {
                modified,
                len,
                hashes: hashes.clone(),
            });
        }
        hashes
    }
}

/// `<host>/_app/` when `Host` is a name or an IPv4 address with an optional port (what a CSP
/// host-source can express), else `'self'`: a browser always sends such a `Host`, except for
/// an IPv6 literal, which CSP sources cannot name.
fn script_source(host: Option<&str>) -> String {
    let valid = host.filter(|h| {
        !h.is_empty()
            && h.len() <= 255
            && h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':'))
            && h.split(':').count() <= 2
    });
    match valid {
        Some(h) => format!("{}{SCRIPT_PATH}", h.to_ascii_lowercase()),
        None => "'self'".to_string(),
    }
}

/// The full policy for a page requested with `host`, allowing the given `'sha256-…'` sources.
pub fn policy(host: Option<&str>, script_hashes: &[String]) -> String {
    let mut p = String::from(POLICY_HEAD);
    p.push(' ');
    p.push_str(&script_source(host));
    for h in script_hashes {
        p.push(' ');
        p.push_str(h);
    }
    p.push_str(POLICY_TAIL);
    p
}

/// `'sha256-<base64>'` of the content of every inline `<script>` (one without `src`).
pub fn inline_script_hashes(html: &str) -> Vec<String> {
    // ASCII lowercasing keeps byte offsets, so positions found in `lower` index `html`.
    let lower = html.to_ascii_lowercase();
    let mut hashes = Vec::new();
    let mut at = 0;
    while let Some(found) = lower[at..].find("<script") {
        let tag_start = at + found;
        let Some(tag_len) = lower[tag_start..].find('>') else {
            break;
        };
        let tag = &lower[tag_start..tag_start + tag_len];
        let content_start = tag_start + tag_len + 1;
        let Some(content_len) = lower[content_start..].find("</script") else {
            break;
        };
        let has_src = tag
            .split(|c: char| c.is_ascii_whitespace())
            .any(|attr| attr == "src" || attr.starts_with("src="));
        if !has_src {
            let content = &html[content_start..content_start + content_len];
            let digest = Sha256::digest(content.as_bytes());
            hashes.push(format!("'sha256-{}'", STANDARD.encode(digest)));
        }
        at = content_start + content_len;
    }
    hashes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_scripts_are_hashed_and_external_ones_skipped() {
        let html = "<html><head><script type=\"module\" src=\"/_app/x.js\"></script>\
            <link rel=\"modulepreload\" href=\"/_app/y.js\"></head><body>\
            <SCRIPT>\n\t\t\t\tconsole.log('hi');\n\t\t\t</SCRIPT>\
            <script>a()</script></body></html>";
        let hashes = inline_script_hashes(html);
        let expect = |s: &str| format!("'sha256-{}'", STANDARD.encode(Sha256::digest(s)));
        assert_eq!(
            hashes,
            vec![
                expect("\n\t\t\t\tconsole.log('hi');\n\t\t\t"),
                expect("a()")
            ]
        );
    }

    #[test]
    fn the_policy_lets_hls_js_start_its_worker_and_blocks_framing() {
        let p = policy(Some("127.0.0.1:8080"), &["'sha256-abc'".into()]);
        assert!(
            p.starts_with("default-src 'self'; script-src 127.0.0.1:8080/_app/ 'sha256-abc'; "),
            "{p}"
        );
        assert!(p.contains("worker-src 'self' blob:"));
        assert!(p.contains("frame-ancestors 'none'"));
        assert!(!p.contains("script-src 'self' 'unsafe-inline'"));
    }

    #[test]
    fn scripts_are_trusted_from_the_app_path_not_the_whole_origin() {
        let script_src = |host| {
            let p = policy(host, &[]);
            p.split(';')
                .find_map(|d| d.trim().strip_prefix("script-src ").map(String::from))
                .unwrap()
        };
        assert_eq!(script_src(Some("Sokoul.lan:8080")), "sokoul.lan:8080/_app/");
        assert_eq!(script_src(Some("localhost")), "localhost/_app/");
        // A Host that could inject sources or directives, or that CSP cannot express.
        for host in [
            Some("evil.example; script-src *"),
            Some("a b"),
            Some("[::1]:8080"),
            Some(""),
            None,
        ] {
            assert_eq!(script_src(host), "'self'", "{host:?}");
        }
    }
}
