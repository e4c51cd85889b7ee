//! Signed media URLs: what `<img>`, `<video>` and hls.js load from the library when the API
//! needs a token. They cannot send `Authorization`, so the server appends a short-lived
//! `st=<expiry>.<tag>` to the URLs it hands out (resolve sources and subtitles, posters,
//! episode stills).
//!
//! A token covers one scope, not one URL: `/api/media/{file_id}/` (the file, its HLS
//! playlists and segments, its subtitles) or one picture (a poster, an episode's still). That is what lets the relative URIs
//! of a library playlist work: the playlist is served with the token appended to each of them
//! (`carry_into_playlist`). The key is derived from both the signing secret and the API
//! token, so changing `SOKOUL_API_TOKEN` revokes every media URL given out before.
//!
//! A token handed to a browser session is bound to it (issue 16): `st=<expiry>.s<session>.<tag>`,
//! where `<session>` is the start of the session's hash (`accounts::session::short`, 11
//! base64url characters) and the tag covers it. Checking it is the session check's own memo
//! (`Accounts::session_by_short`), so it dies with the session (logout, "Se déconnecter
//! partout", a disabled account) at no database read per segment. Tokens handed to
//! `SOKOUL_API_TOKEN` stay unbound (`<expiry>.<tag>`): rotating the token revokes them.

use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;

use crate::error::ApiError;

/// The query parameter carrying the token.
pub const PARAM: &str = "st";
const TAG_LEN: usize = 16;
/// Library playlists are a few KiB to a few hundred KiB (a three-hour film in 6 s segments
/// is ~40 KiB); anything larger is not ours and is passed on untouched.
const MAX_PLAYLIST_BYTES: usize = 4 * 1024 * 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MediaUrlError {
    #[error("the media URL's token is malformed")]
    Malformed,
    #[error("the media URL's token does not match this resource")]
    BadSignature,
    #[error("the media URL has expired; reload the page")]
    Expired,
    #[error("the session this media URL was given to has ended; log in again")]
    Revoked,
}

/// Who a media token was handed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Binding {
    /// `SOKOUL_API_TOKEN`: valid until it expires or the token changes.
    Unbound,
    /// A browser session, by the start of its hash: valid while the session lives.
    Session([u8; 8]),
}

/// Marks a session binding in the token, and in what the tag covers (a scope starts with `/`).
const SESSION_MARK: u8 = b's';

impl MediaUrlError {
    pub fn code(&self) -> &'static str {
        match self {
            MediaUrlError::Malformed => "media_url_malformed",
            MediaUrlError::BadSignature => "media_url_invalid",
            MediaUrlError::Expired => "media_url_expired",
            MediaUrlError::Revoked => "media_url_revoked",
        }
    }

    /// 401 for a revoked session (logging in again helps), 403 for the rest.
    pub fn status(&self) -> axum::http::StatusCode {
        match self {
            MediaUrlError::Revoked => axum::http::StatusCode::UNAUTHORIZED,
            _ => axum::http::StatusCode::FORBIDDEN,
        }
    }
}

#[derive(Debug)]
pub struct MediaUrls {
    key: [u8; 32],
}

impl MediaUrls {
    pub fn new(secret: &[u8], api_token: &str) -> Self {
        let base = blake3::derive_key("sokoul 2026 media url v1", secret);
        MediaUrls {
            key: *blake3::keyed_hash(&base, api_token.as_bytes()).as_bytes(),
        }
    }

    fn tag(&self, scope: &str, expires: u64, binding: Binding) -> [u8; TAG_LEN] {
        let mut hasher = blake3::Hasher::new_keyed(&self.key);
        hasher.update(&expires.to_be_bytes());
        if let Binding::Session(short) = binding {
            hasher.update(&[SESSION_MARK]);
            hasher.update(&short);
        }
        hasher.update(scope.as_bytes());
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&hasher.finalize().as_bytes()[..TAG_LEN]);
        tag
    }

    /// `path` with `st=` appended; a path outside every scope is returned as it is (it needs
    /// the bearer token, and a token for it would grant nothing).
    pub fn sign(&self, path: &str, expires: u64, binding: Binding) -> String {
        let Some(scope) = scope(path.split('?').next().unwrap_or_default()) else {
            return path.to_owned();
        };
        let sep = if path.contains('?') { '&' } else { '?' };
        let tag = B64.encode(self.tag(scope, expires, binding));
        match binding {
            Binding::Unbound => format!("{path}{sep}{PARAM}={expires}.{tag}"),
            Binding::Session(short) => {
                let short = B64.encode(short);
                format!("{path}{sep}{PARAM}={expires}.s{short}.{tag}")
            }
        }
    }

    /// Checks a token against the request path (without its query) at `now`; says who it
    /// was handed to, which the caller checks is still there.
    pub fn verify(&self, path: &str, token: &str, now: u64) -> Result<Binding, MediaUrlError> {
        let scope = scope(path).ok_or(MediaUrlError::BadSignature)?;
        let (expires, rest) = token.split_once('.').ok_or(MediaUrlError::Malformed)?;
        let expires: u64 = expires.parse().map_err(|_| MediaUrlError::Malformed)?;
        let (binding, tag) = match rest.split_once('.') {
            None => (Binding::Unbound, rest),
            Some((bound, tag)) => (binding_of(bound)?, tag),
        };
        let tag = B64.decode(tag).map_err(|_| MediaUrlError::Malformed)?;
        if tag.len() != TAG_LEN {
            return Err(MediaUrlError::Malformed);
        }
        if !constant_time_eq(&tag, &self.tag(scope, expires, binding)) {
            return Err(MediaUrlError::BadSignature);
        }
        if expires <= now {
            return Err(MediaUrlError::Expired);
        }
        Ok(binding)
    }
}

/// `s<11 base64url characters>`: the session a token is bound to.
fn binding_of(bound: &str) -> Result<Binding, MediaUrlError> {
    let short = bound
        .strip_prefix(SESSION_MARK as char)
        .and_then(|b| B64.decode(b).ok())
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .ok_or(MediaUrlError::Malformed)?;
    Ok(Binding::Session(short))
}

/// What one token grants: every route of one library file, or one poster or episode still.
pub fn scope(path: &str) -> Option<&str> {
    if let Some(rest) = path.strip_prefix("/api/media/") {
        let id_len = rest.find('/')?;
        let id = &rest[..id_len];
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        // "/api/media/" + id + "/"
        return Some(&path[..11 + id_len + 1]);
    }
    // A poster (`{media_type}/{id}`) or an episode's still (`tv/{id}/{season}/{episode}`):
    // the token opens that one picture.
    let plain = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric());
    let (rest, parts) = match path.strip_prefix("/api/library/poster/") {
        Some(rest) => (rest, 2),
        None => (path.strip_prefix("/api/library/still/tv/")?, 3),
    };
    (rest.split('/').count() == parts && rest.split('/').all(plain)).then_some(path)
}

/// The `st` parameter of a query, if any. Tokens are `[0-9A-Za-z_.-]`, never percent-encoded.
pub fn token_in(query: Option<&str>) -> Option<&str> {
    query?
        .split('&')
        .find_map(|pair| pair.strip_prefix(PARAM)?.strip_prefix('='))
}

/// An expiry that stays the same for `step` seconds, so that the URLs of a poster (and the
/// browser's cached copy) stay the same for a while; still valid for at least `ttl - step`.
pub fn stable_expiry(now: u64, ttl: u64, step: u64) -> u64 {
    now - now % step.max(1) + ttl
}

/// A library playlist served under a media token: its URIs are relative and would lose the
/// token, so each one gets it appended. Other responses pass through untouched.
pub async fn carry_into_playlist(response: Response, token: &str) -> Response {
    let is_playlist = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("mpegurl"));
    if !is_playlist || !response.status().is_success() {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let too_large = axum::body::HttpBody::size_hint(&body)
        .upper()
        .is_none_or(|n| n > MAX_PLAYLIST_BYTES as u64);
    if too_large {
        return Response::from_parts(parts, body);
    }
    let Ok(bytes) = axum::body::to_bytes(body, MAX_PLAYLIST_BYTES).await else {
        return ApiError::internal("cannot read the playlist").into_response();
    };
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    let rewritten = append_to_uris(text, token);
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    Response::from_parts(parts, Body::from(rewritten))
}

/// Appends `st=token` to every relative URI of a playlist: URI lines and `URI="…"` attributes.
/// Absolute URIs are left alone: the token must never travel to another host.
pub fn append_to_uris(playlist: &str, token: &str) -> String {
    let with_token = |uri: &str| -> String {
        if uri.is_empty() || uri.contains("://") || uri.starts_with("//") {
            return uri.to_owned();
        }
        let sep = if uri.contains('?') { '&' } else { '?' };
        format!("{uri}{sep}{PARAM}={token}")
    };
    let mut out = String::with_capacity(playlist.len() + playlist.len() / 4);
    for line in playlist.split_inclusive('\n') {
        let (content, newline) = match line.strip_suffix("\r\n") {
            Some(c) => (c, "\r\n"),
            None => match line.strip_suffix('\n') {
                Some(c) => (c, "\n"),
                None => (line, ""),
            },
        };
        if content.starts_with('#') {
            let mut rest = content;
            while let Some(at) = rest.find("URI=\"") {
                let start = at + 5;
                out.push_str(&rest[..start]);
                rest = &rest[start..];
                let end = rest.find('"').unwrap_or(rest.len());
                out.push_str(&with_token(&rest[..end]));
                rest = &rest[end..];
            }
            out.push_str(rest);
        } else if content.trim().is_empty() {
            out.push_str(content);
        } else {
            out.push_str(&with_token(content.trim()));
        }
        out.push_str(newline);
    }
    out
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls() -> MediaUrls {
        MediaUrls::new(b"a test secret of some length", "the api token")
    }

    fn token_of(url: &str) -> &str {
        token_in(url.split_once('?').map(|(_, q)| q)).unwrap()
    }

    #[test]
    fn a_token_opens_every_route_of_its_file_and_nothing_else() {
        let u = urls();
        let signed = u.sign("/api/media/12/hls/master.m3u8", 2_000, Binding::Unbound);
        let st = token_of(&signed);
        for path in [
            "/api/media/12/hls/master.m3u8",
            "/api/media/12/hls/v/index.m3u8",
            "/api/media/12/hls/a0/3.ts",
            "/api/media/12/file",
            "/api/media/12/subtitles/x0.vtt",
        ] {
            assert_eq!(u.verify(path, st, 1_000), Ok(Binding::Unbound), "{path}");
        }
        for path in [
            "/api/media/13/file",
            "/api/media/123/file",
            "/api/library/poster/movie/12",
            "/api/progress",
        ] {
            assert_eq!(
                u.verify(path, st, 1_000),
                Err(MediaUrlError::BadSignature),
                "{path}"
            );
        }
    }

    #[test]
    fn a_poster_token_opens_that_poster_only() {
        let u = urls();
        let signed = u.sign("/api/library/poster/movie/603", 2_000, Binding::Unbound);
        let st = token_of(&signed);
        assert_eq!(
            u.verify("/api/library/poster/movie/603", st, 1_000),
            Ok(Binding::Unbound)
        );
        assert!(
            u.verify("/api/library/poster/movie/604", st, 1_000)
                .is_err()
        );
        assert!(u.verify("/api/library/poster/tv/603", st, 1_000).is_err());
    }

    #[test]
    fn a_still_token_opens_that_episode_still_only() {
        let u = urls();
        let still = "/api/library/still/tv/1396/1/2";
        let st = token_of(&u.sign(still, 2_000, Binding::Unbound)).to_owned();
        assert_eq!(u.verify(still, &st, 1_000), Ok(Binding::Unbound));
        for other in [
            "/api/library/still/tv/1396/1/3",
            "/api/library/still/tv/1396/1",
            "/api/library/still/tv/1396/1/2/x",
            "/api/library/poster/tv/1396",
        ] {
            assert!(u.verify(other, &st, 1_000).is_err(), "{other}");
        }
        assert_eq!(scope("/api/library/still/movie/1/1/2"), None, "series only");
    }

    #[test]
    fn expired_altered_and_foreign_tokens_are_refused() {
        let u = urls();
        let st = token_of(&u.sign("/api/media/1/file", 2_000, Binding::Unbound)).to_owned();
        assert_eq!(
            u.verify("/api/media/1/file", &st, 2_000),
            Err(MediaUrlError::Expired)
        );
        let later = st.replacen("2000", "9000", 1);
        assert_eq!(
            u.verify("/api/media/1/file", &later, 1_000),
            Err(MediaUrlError::BadSignature)
        );
        for bad in ["", "2000", "x.y", "2000.!!", "2000.AAAA"] {
            assert_eq!(
                u.verify("/api/media/1/file", bad, 1_000),
                Err(MediaUrlError::Malformed),
                "{bad}"
            );
        }
        // Another API token (or another secret) signs differently: rotating the token revokes.
        let other = MediaUrls::new(b"a test secret of some length", "a new api token");
        assert_eq!(
            other.verify("/api/media/1/file", &st, 1_000),
            Err(MediaUrlError::BadSignature)
        );
    }

    #[test]
    fn a_session_token_names_its_session_and_cannot_be_moved_to_another() {
        let u = urls();
        let mine = Binding::Session(*b"\x01session");
        let signed = u.sign("/api/media/4/hls/master.m3u8", 2_000, mine);
        let st = token_of(&signed);
        assert_eq!(st.len(), "2000.s".len() + 11 + 1 + 22, "{st}");
        assert_eq!(u.verify("/api/media/4/file", st, 1_000), Ok(mine));
        // Another session's handle, or none, under the same tag: refused.
        let theirs = format!("2000.s{}.{}", B64.encode(*b"\x02session"), &st[18..]);
        assert_eq!(
            u.verify("/api/media/4/file", &theirs, 1_000),
            Err(MediaUrlError::BadSignature)
        );
        let unbound = format!("2000.{}", &st[18..]);
        assert_eq!(
            u.verify("/api/media/4/file", &unbound, 1_000),
            Err(MediaUrlError::BadSignature)
        );
        assert_eq!(
            u.verify("/api/media/4/file", "2000.sAAAA.AAAA", 1_000),
            Err(MediaUrlError::Malformed)
        );
    }

    #[test]
    fn paths_outside_any_scope_are_not_signed() {
        let u = urls();
        assert_eq!(
            u.sign("/api/progress", 5, Binding::Unbound),
            "/api/progress"
        );
        assert_eq!(
            u.sign("/api/media/x/file", 5, Binding::Unbound),
            "/api/media/x/file"
        );
        assert!(
            u.sign("/api/media/7/file?a=1", 5, Binding::Unbound)
                .starts_with("/api/media/7/file?a=1&st=5.")
        );
    }

    #[test]
    fn playlists_carry_the_token_into_relative_uris_only() {
        let master = "#EXTM3U\n\
            #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",NAME=\"fr\",URI=\"a0/index.m3u8\"\n\
            #EXT-X-STREAM-INF:BANDWIDTH=1,AUDIO=\"audio\"\n\
            v/index.m3u8\n\
            #EXT-X-KEY:METHOD=AES-128,URI=\"https://keys.example/k?x=1\"\n\
            https://cdn.example/seg.ts\n\
            \n\
            1.ts?x=2\r\n";
        let out = append_to_uris(master, "9.abc");
        assert_eq!(
            out,
            "#EXTM3U\n\
            #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",NAME=\"fr\",URI=\"a0/index.m3u8?st=9.abc\"\n\
            #EXT-X-STREAM-INF:BANDWIDTH=1,AUDIO=\"audio\"\n\
            v/index.m3u8?st=9.abc\n\
            #EXT-X-KEY:METHOD=AES-128,URI=\"https://keys.example/k?x=1\"\n\
            https://cdn.example/seg.ts\n\
            \n\
            1.ts?x=2&st=9.abc\r\n"
        );
    }

    #[test]
    fn token_in_finds_the_parameter_among_others() {
        assert_eq!(token_in(Some("a=1&st=5.x&b=2")), Some("5.x"));
        assert_eq!(token_in(Some("sta=1")), None);
        assert_eq!(token_in(None), None);
    }

    #[test]
    fn stable_expiry_changes_once_per_step() {
        assert_eq!(stable_expiry(3_600, 100, 3_600), 3_700);
        assert_eq!(stable_expiry(7_199, 100, 3_600), 3_700);
        assert_eq!(stable_expiry(7_200, 100, 3_600), 7_300);
    }
}
