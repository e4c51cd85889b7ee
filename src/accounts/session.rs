//! Session ids and the cookie that carries them. The id is 256 random bits; the server keeps
//! its SHA-256 only, so a copy of the database opens no session.

use axum::http::{HeaderMap, HeaderValue, header};
use base64::Engine;
use cookie::{Cookie, SameSite};
use sha2::{Digest, Sha256};

pub const COOKIE: &str = "sokoul_session";

/// A new random id, as the cookie carries it.
pub fn new_id() -> String {
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn hash(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

/// The start of a session's hash: what names it in lists, in Redis and in the media tokens
/// bound to it. It neither is nor yields the id, and 64 bits keep two live sessions apart.
pub fn short(hash: &[u8; 32]) -> [u8; 8] {
    let mut short = [0; 8];
    short.copy_from_slice(&hash[..8]);
    short
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A short public handle of a session (for lists and revoking one).
pub fn handle(hash: &[u8; 32]) -> String {
    hex(&short(hash))
}

/// The session id in a request's `Cookie` headers, if any.
pub fn from_headers(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == COOKIE)
        .map(|c| c.value().to_owned())
        // A forged giant value must not cost a hash of megabytes.
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

/// `HttpOnly` (no script reads it), `SameSite=Lax` (other sites' subrequests and forms do not
/// carry it), `Secure` when the browser reached us over HTTPS, `Max-Age` the session's
/// lifetime.
pub fn set_cookie(id: &str, lifetime_secs: u64, secure: bool) -> HeaderValue {
    let cookie = Cookie::build((COOKIE, id.to_owned()))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .max_age(time::Duration::seconds(lifetime_secs as i64))
        .build();
    HeaderValue::from_str(&cookie.to_string()).expect("a base64url id makes a valid header")
}

/// Tells the browser to forget the cookie.
pub fn clear_cookie(secure: bool) -> HeaderValue {
    let cookie = Cookie::build((COOKIE, ""))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .removal()
        .build();
    HeaderValue::from_str(&cookie.to_string()).expect("a fixed cookie makes a valid header")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_httponly_lax_and_secure_on_https() {
        let v = set_cookie("abc", 60, true);
        let s = v.to_str().unwrap();
        for part in [
            "sokoul_session=abc",
            "HttpOnly",
            "SameSite=Lax",
            "Secure",
            "Path=/",
            "Max-Age=60",
        ] {
            assert!(s.contains(part), "{s}");
        }
        assert!(
            !set_cookie("abc", 60, false)
                .to_str()
                .unwrap()
                .contains("Secure")
        );
    }

    #[test]
    fn the_id_is_found_among_other_cookies() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; sokoul_session=xyz; b=2"),
        );
        assert_eq!(from_headers(&h).as_deref(), Some("xyz"));
        assert_eq!(handle(&hash("xyz")).len(), 16);
        assert_ne!(new_id(), new_id());
    }
}
