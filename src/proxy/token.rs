//! Signed, expiring proxy URLs.
//!
//! A proxy URL is `/api/streaming/proxy?c=<context>&u=<upstream>&s=<tag>`:
//! - `c` seals the upstream headers and the expiry with ChaCha20-Poly1305, so the client can
//!   neither read nor alter them. Its nonce is derived from the plaintext, which makes sealing
//!   deterministic: one (headers, expiry) pair always gives the same `c`.
//! - `u` is the resolved upstream URL, base64url, so no layer can decode it twice.
//! - `s` is a keyed BLAKE3 tag over `c`, `u` and the optional `v` (EXT-X-DEFINE variables a
//!   media playlist imports), truncated to 128 bits.
//!
//! - `k=j` (optional, signed) marks a JSON document the proxy must rewrite (a content-steering
//!   manifest or an interstitial asset list): these cannot be recognised by their bytes alone.
//!
//! Children minted while rewriting a playlist reuse the parent's `c` verbatim, so a playlist
//! seals once and pays one keyed hash per URI: this is what keeps a 20,000-segment rewrite fast
//! and every URL short. Nothing is stored server-side: any instance with the same secret
//! verifies any URL.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

/// The route every proxy URL starts with.
pub const PROXY_PATH: &str = "/api/streaming/proxy";
/// How a rewritten document names a child: `/api/streaming/proxy/<file name>?c=…`. The
/// name is cosmetic and unsigned (the server ignores it), but players that judge a segment
/// by the extension of its URL path (ffmpeg's `allowed_segment_extensions`) need it.
pub const CHILD_PREFIX: &str = "/api/streaming/proxy/";
const VERSION: u8 = 1;
const TAG_LEN: usize = 16;
const NONCE_LEN: usize = 12;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("the proxy URL is malformed")]
    Malformed,
    #[error("the proxy URL's signature does not match")]
    BadSignature,
    #[error("the proxy URL has expired")]
    Expired,
}

impl TokenError {
    pub fn code(&self) -> &'static str {
        match self {
            TokenError::Malformed => "proxy_url_malformed",
            TokenError::BadSignature => "proxy_url_invalid",
            TokenError::Expired => "proxy_url_expired",
        }
    }
}

/// What a proxy URL carries besides the upstream URL: the headers to send upstream and the
/// expiry (seconds since the Unix epoch). Children inherit both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyContext {
    pub headers: Vec<(String, String)>,
    pub expires: u64,
}

/// What the proxy must do with the upstream body besides relaying it. Playlists are
/// recognised by their content, so only JSON documents need a mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Kind {
    /// A playlist (sniffed) or anything else (streamed through).
    #[default]
    Media,
    /// A content-steering manifest or an interstitial asset list, rewritten as JSON.
    Json,
}

impl Kind {
    fn param(self) -> Option<&'static str> {
        match self {
            Kind::Media => None,
            Kind::Json => Some("j"),
        }
    }

    fn from_param(k: Option<&str>) -> Result<Kind, TokenError> {
        match k {
            None => Ok(Kind::Media),
            Some("j") => Ok(Kind::Json),
            Some(_) => Err(TokenError::Malformed),
        }
    }
}

/// A context sealed once, reused verbatim by every child URL of a playlist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedContext(String);

impl SealedContext {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A verified proxy request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub upstream: String,
    pub context: ProxyContext,
    pub sealed: SealedContext,
    /// Variables (`name=value` lines) imported from a multivariant playlist, if any.
    pub vars: Option<String>,
    pub kind: Kind,
}

#[derive(Clone)]
pub struct Signer {
    cipher: ChaCha20Poly1305,
    nonce_key: [u8; 32],
    mac_key: [u8; 32],
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer([keys redacted])")
    }
}

impl Signer {
    /// Derives independent keys for sealing, nonces and tags from the operator's secret.
    pub fn new(secret: &[u8]) -> Self {
        let derive = |label: &str| blake3::derive_key(label, secret);
        Signer {
            cipher: ChaCha20Poly1305::new(Key::from_slice(&derive(
                "sokoul 2026 proxy context encryption v1",
            ))),
            nonce_key: derive("sokoul 2026 proxy context nonce v1"),
            mac_key: derive("sokoul 2026 proxy url tag v1"),
        }
    }

    pub fn seal(&self, ctx: &ProxyContext) -> SealedContext {
        let plain = encode_context(ctx);
        let nonce_full = blake3::keyed_hash(&self.nonce_key, &plain);
        let nonce = Nonce::from_slice(&nonce_full.as_bytes()[..NONCE_LEN]);
        let sealed = self
            .cipher
            .encrypt(nonce, plain.as_slice())
            .expect("ChaCha20-Poly1305 encryption of an in-memory buffer cannot fail");
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(nonce);
        out.extend_from_slice(&sealed);
        SealedContext(B64.encode(out))
    }

    pub fn open(&self, sealed: &str) -> Result<ProxyContext, TokenError> {
        let raw = B64
            .decode(sealed.as_bytes())
            .map_err(|_| TokenError::Malformed)?;
        if raw.len() < NONCE_LEN + 16 {
            return Err(TokenError::Malformed);
        }
        let (nonce, body) = raw.split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), body)
            .map_err(|_| TokenError::BadSignature)?;
        decode_context(&plain).ok_or(TokenError::Malformed)
    }

    /// The tag's hash state after `[VERSION] c \0`: every child of a playlist shares it.
    fn tag_prefix(&self, sealed: &str) -> blake3::Hasher {
        let mut h = blake3::Hasher::new_keyed(&self.mac_key);
        h.update(&[VERSION]);
        h.update(sealed.as_bytes());
        h.update(b"\0");
        h
    }

    fn tag(
        &self,
        sealed: &str,
        upstream_b64: &str,
        vars_b64: Option<&str>,
        kind: Kind,
    ) -> [u8; TAG_LEN] {
        finish_tag(self.tag_prefix(sealed), upstream_b64, vars_b64, kind)
    }

    /// A writer for the children of one playlist: hashing the shared prefix once makes each
    /// child cost a hash of its own URL only (the 20,000-segment budget is 0.5 µs a URL).
    pub fn child_writer<'a>(&'a self, sealed: &'a SealedContext) -> ChildWriter<'a> {
        ChildWriter {
            sealed,
            prefix: self.tag_prefix(&sealed.0),
            b64: String::with_capacity(256),
        }
    }

    /// Appends the proxy URL for `upstream` under an already sealed context to `out`.
    /// `upstream` must be absolute; `vars` are imported EXT-X-DEFINE variables.
    pub fn write_url(
        &self,
        out: &mut String,
        sealed: &SealedContext,
        upstream: &str,
        vars: Option<&str>,
    ) {
        out.push_str(PROXY_PATH);
        self.write_query(out, sealed, upstream, vars, Kind::Media);
    }

    /// Appends a child URL for a rewritten playlist or JSON document, named after the
    /// upstream file (see [`CHILD_PREFIX`]).
    pub fn write_child(
        &self,
        out: &mut String,
        sealed: &SealedContext,
        upstream: &str,
        vars: Option<&str>,
        kind: Kind,
    ) {
        out.push_str(CHILD_PREFIX);
        push_file_name(out, upstream);
        self.write_query(out, sealed, upstream, vars, kind);
    }

    fn write_query(
        &self,
        out: &mut String,
        sealed: &SealedContext,
        upstream: &str,
        vars: Option<&str>,
        kind: Kind,
    ) {
        let u = B64.encode(upstream.as_bytes());
        let v = vars.map(|v| B64.encode(v.as_bytes()));
        let tag = self.tag(&sealed.0, &u, v.as_deref(), kind);
        push_query(out, &sealed.0, &u, v.as_deref(), kind, &tag);
    }

    /// Mints a top-level proxy URL (a resolved source or subtitle).
    pub fn mint(&self, upstream: &str, headers: &[(String, String)], expires: u64) -> String {
        let sealed = self.seal(&ProxyContext {
            headers: headers.to_vec(),
            expires,
        });
        let mut out = String::new();
        self.write_url(&mut out, &sealed, upstream, None);
        out
    }

    /// Checks a proxy URL's `c`, `u`, `s` (and `v`) parameters at time `now` (Unix seconds).
    pub fn verify(
        &self,
        c: &str,
        u: &str,
        s: &str,
        v: Option<&str>,
        now: u64,
    ) -> Result<Verified, TokenError> {
        self.verify_kind(c, u, s, v, None, now)
    }

    /// [`Signer::verify`] for a URL that may carry a `k` (kind) parameter.
    pub fn verify_kind(
        &self,
        c: &str,
        u: &str,
        s: &str,
        v: Option<&str>,
        k: Option<&str>,
        now: u64,
    ) -> Result<Verified, TokenError> {
        let kind = Kind::from_param(k)?;
        let given = B64
            .decode(s.as_bytes())
            .map_err(|_| TokenError::Malformed)?;
        if given.len() != TAG_LEN {
            return Err(TokenError::Malformed);
        }
        let expected = self.tag(c, u, v, kind);
        // Constant-time comparison: a timing oracle on the tag would let a client forge one.
        let diff = expected
            .iter()
            .zip(&given)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if diff != 0 {
            return Err(TokenError::BadSignature);
        }
        let context = self.open(c)?;
        if now >= context.expires {
            return Err(TokenError::Expired);
        }
        let upstream = String::from_utf8(
            B64.decode(u.as_bytes())
                .map_err(|_| TokenError::Malformed)?,
        )
        .map_err(|_| TokenError::Malformed)?;
        let vars = match v {
            Some(v) => Some(
                String::from_utf8(
                    B64.decode(v.as_bytes())
                        .map_err(|_| TokenError::Malformed)?,
                )
                .map_err(|_| TokenError::Malformed)?,
            ),
            None => None,
        };
        Ok(Verified {
            upstream,
            context,
            sealed: SealedContext(c.to_string()),
            vars,
            kind,
        })
    }
}

fn finish_tag(
    mut h: blake3::Hasher,
    upstream_b64: &str,
    vars_b64: Option<&str>,
    kind: Kind,
) -> [u8; TAG_LEN] {
    h.update(upstream_b64.as_bytes());
    if let Some(v) = vars_b64 {
        h.update(b"\0");
        h.update(v.as_bytes());
    }
    // `\x01` cannot occur in base64url, so the kind cannot be confused with `v`.
    if let Some(k) = kind.param() {
        h.update(b"\x01");
        h.update(k.as_bytes());
    }
    let mut tag = [0u8; TAG_LEN];
    tag.copy_from_slice(&h.finalize().as_bytes()[..TAG_LEN]);
    tag
}

fn push_query(
    out: &mut String,
    sealed: &str,
    u: &str,
    v: Option<&str>,
    kind: Kind,
    tag: &[u8; TAG_LEN],
) {
    out.reserve(sealed.len() + u.len() + v.map_or(0, |v| v.len() + 3) + 40);
    out.push_str("?c=");
    out.push_str(sealed);
    out.push_str("&u=");
    out.push_str(u);
    if let Some(v) = v {
        out.push_str("&v=");
        out.push_str(v);
    }
    if let Some(k) = kind.param() {
        out.push_str("&k=");
        out.push_str(k);
    }
    out.push_str("&s=");
    B64.encode_string(tag, out);
}

/// Writes the child URLs of one playlist (see [`Signer::child_writer`]); the URLs are
/// identical to [`Signer::write_child`]'s.
pub struct ChildWriter<'a> {
    sealed: &'a SealedContext,
    prefix: blake3::Hasher,
    b64: String,
}

impl std::fmt::Debug for ChildWriter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChildWriter")
    }
}

impl ChildWriter<'_> {
    pub fn write(&mut self, out: &mut String, upstream: &str, vars: Option<&str>, kind: Kind) {
        out.push_str(CHILD_PREFIX);
        push_file_name(out, upstream);
        self.b64.clear();
        B64.encode_string(upstream.as_bytes(), &mut self.b64);
        let v = vars.map(|v| B64.encode(v.as_bytes()));
        let tag = finish_tag(self.prefix.clone(), &self.b64, v.as_deref(), kind);
        push_query(out, &self.sealed.0, &self.b64, v.as_deref(), kind, &tag);
    }
}

/// Whether a request path is a proxy URL (signed, so exempt from the API token).
pub fn is_proxy_path(path: &str) -> bool {
    path == PROXY_PATH
        || path
            .strip_prefix(CHILD_PREFIX)
            .is_some_and(|name| !name.is_empty() && !name.contains('/'))
}

/// The upstream's last path segment when it is short and plain, else `f.<extension>`, else `f`.
fn push_file_name(out: &mut String, upstream: &str) {
    let path = upstream.split(['?', '#']).next().unwrap_or_default();
    let last = path.rsplit('/').next().unwrap_or_default();
    let plain = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    };
    if !last.is_empty() && last.len() <= 48 && plain(last) && !last.starts_with('.') {
        out.push_str(last);
        return;
    }
    out.push('f');
    if let Some((_, ext)) = last.rsplit_once('.') {
        if !ext.is_empty() && ext.len() <= 6 && ext.bytes().all(|b| b.is_ascii_alphanumeric()) {
            out.push('.');
            out.push_str(ext);
        }
    }
}

/// `[version][expires u64 BE][count u8]([name len u8][name][value len u16 BE][value])*`
fn encode_context(ctx: &ProxyContext) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        16 + ctx
            .headers
            .iter()
            .map(|(k, v)| k.len() + v.len() + 3)
            .sum::<usize>(),
    );
    out.push(VERSION);
    out.extend_from_slice(&ctx.expires.to_be_bytes());
    let headers: Vec<_> = ctx
        .headers
        .iter()
        .filter(|(k, v)| k.len() <= u8::MAX as usize && v.len() <= u16::MAX as usize)
        .take(u8::MAX as usize)
        .collect();
    out.push(headers.len() as u8);
    for (k, v) in headers {
        out.push(k.len() as u8);
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(&(v.len() as u16).to_be_bytes());
        out.extend_from_slice(v.as_bytes());
    }
    out
}

fn decode_context(mut b: &[u8]) -> Option<ProxyContext> {
    fn take<'a>(b: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        if b.len() < n {
            return None;
        }
        let (head, rest) = b.split_at(n);
        *b = rest;
        Some(head)
    }
    if take(&mut b, 1)? != [VERSION] {
        return None;
    }
    let expires = u64::from_be_bytes(take(&mut b, 8)?.try_into().ok()?);
    let count = take(&mut b, 1)?[0];
    let mut headers = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let klen = take(&mut b, 1)?[0] as usize;
        let k = std::str::from_utf8(take(&mut b, klen)?).ok()?.to_string();
        let vlen = u16::from_be_bytes(take(&mut b, 2)?.try_into().ok()?) as usize;
        let v = std::str::from_utf8(take(&mut b, vlen)?).ok()?.to_string();
        headers.push((k, v));
    }
    b.is_empty().then_some(ProxyContext { headers, expires })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(url: &str) -> Vec<(String, String)> {
        url::Url::parse(&format!("http://x{url}"))
            .unwrap()
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    fn param<'a>(q: &'a [(String, String)], name: &str) -> Option<&'a str> {
        q.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn verify_url(signer: &Signer, url: &str, now: u64) -> Result<Verified, TokenError> {
        let q = query(url);
        signer.verify_kind(
            param(&q, "c").unwrap(),
            param(&q, "u").unwrap(),
            param(&q, "s").unwrap(),
            param(&q, "v"),
            param(&q, "k"),
            now,
        )
    }

    fn headers() -> Vec<(String, String)> {
        vec![("Referer".into(), "https://embed.example/e/1".into())]
    }

    #[test]
    fn a_minted_url_verifies_and_carries_url_and_headers() {
        let s = Signer::new(b"secret");
        let url = s.mint(
            "https://cdn.example/a b/master.m3u8?x=%2F",
            &headers(),
            2_000,
        );
        assert!(url.starts_with("/api/streaming/proxy?c="));
        let v = verify_url(&s, &url, 1_000).unwrap();
        assert_eq!(v.upstream, "https://cdn.example/a b/master.m3u8?x=%2F");
        assert_eq!(v.context.headers, headers());
        assert_eq!(v.context.expires, 2_000);
    }

    #[test]
    fn headers_are_not_readable_in_the_url() {
        let s = Signer::new(b"secret");
        let url = s.mint("https://cdn.example/x", &headers(), 2_000);
        assert!(!url.contains("embed"));
        assert!(!url.contains(&B64.encode("embed.example")));
    }

    #[test]
    fn expired_altered_and_foreign_urls_are_refused() {
        let s = Signer::new(b"secret");
        let url = s.mint("https://cdn.example/x", &headers(), 2_000);
        assert_eq!(verify_url(&s, &url, 2_000), Err(TokenError::Expired));
        let other = Signer::new(b"other secret");
        assert!(verify_url(&other, &url, 1_000).is_err());
        let q = query(&url);
        let forged_u = B64.encode("http://169.254.169.254/");
        let r = s.verify(
            param(&q, "c").unwrap(),
            &forged_u,
            param(&q, "s").unwrap(),
            None,
            1_000,
        );
        assert_eq!(r, Err(TokenError::BadSignature));
        // A context sealed for another URL cannot be spliced in either.
        let url2 = s.mint(
            "https://cdn.example/y",
            &[("Referer".into(), "https://evil/".into())],
            9_999,
        );
        let q2 = query(&url2);
        let r = s.verify(
            param(&q2, "c").unwrap(),
            param(&q, "u").unwrap(),
            param(&q, "s").unwrap(),
            None,
            1_000,
        );
        assert_eq!(r, Err(TokenError::BadSignature));
    }

    #[test]
    fn sealing_is_deterministic_so_one_uri_gives_one_proxy_url() {
        let s = Signer::new(b"secret");
        let a = s.mint("https://cdn.example/x", &headers(), 2_000);
        let b = s.mint("https://cdn.example/x", &headers(), 2_000);
        assert_eq!(a, b);
    }

    #[test]
    fn children_inherit_the_parent_context_and_imported_vars_are_signed() {
        let s = Signer::new(b"secret");
        let sealed = s.seal(&ProxyContext {
            headers: headers(),
            expires: 2_000,
        });
        let mut child = String::new();
        s.write_url(
            &mut child,
            &sealed,
            "https://other-host.example/seg1.ts",
            Some("host=a"),
        );
        let v = verify_url(&s, &child, 1_000).unwrap();
        assert_eq!(v.context.headers, headers());
        assert_eq!(v.vars.as_deref(), Some("host=a"));
        let q = query(&child);
        let r = s.verify(
            param(&q, "c").unwrap(),
            param(&q, "u").unwrap(),
            param(&q, "s").unwrap(),
            None,
            1_000,
        );
        assert_eq!(
            r,
            Err(TokenError::BadSignature),
            "dropping v breaks the tag"
        );
    }

    #[test]
    fn a_json_child_says_so_and_the_mark_cannot_be_removed_or_added() {
        let s = Signer::new(b"secret");
        let sealed = s.seal(&ProxyContext {
            headers: headers(),
            expires: 2_000,
        });
        let mut child = String::new();
        s.write_child(
            &mut child,
            &sealed,
            "https://cdn.example/steer.json",
            None,
            Kind::Json,
        );
        assert!(
            child.starts_with("/api/streaming/proxy/steer.json?c="),
            "{child}"
        );
        let v = verify_url(&s, &child, 1_000).unwrap();
        assert_eq!(v.kind, Kind::Json);
        let stripped = child.replace("&k=j", "");
        assert_eq!(
            verify_url(&s, &stripped, 1_000),
            Err(TokenError::BadSignature)
        );
        let mut media = String::new();
        s.write_child(
            &mut media,
            &sealed,
            "https://cdn.example/x",
            None,
            Kind::Media,
        );
        let marked = media.replace("&s=", "&k=j&s=");
        assert_eq!(
            verify_url(&s, &marked, 1_000),
            Err(TokenError::BadSignature)
        );
        let unknown = media.replace("&s=", "&k=x&s=");
        assert_eq!(verify_url(&s, &unknown, 1_000), Err(TokenError::Malformed));
    }

    #[test]
    fn the_child_writer_writes_the_same_urls_as_write_child() {
        let s = Signer::new(b"secret");
        let sealed = s.seal(&ProxyContext {
            headers: headers(),
            expires: 2_000,
        });
        let mut w = s.child_writer(&sealed);
        for (u, v, k) in [
            ("https://a.example/x.ts", None, Kind::Media),
            ("https://a.example/y.m3u8", Some("a=b\n"), Kind::Media),
            ("https://a.example/s.json", None, Kind::Json),
        ] {
            let (mut a, mut b) = (String::new(), String::new());
            s.write_child(&mut a, &sealed, u, v, k);
            w.write(&mut b, u, v, k);
            assert_eq!(a, b);
            assert!(verify_url(&s, &b, 1_000).is_ok());
        }
    }

    #[test]
    fn child_urls_are_named_after_the_upstream_file() {
        let name = |u: &str| {
            let mut out = String::new();
            push_file_name(&mut out, u);
            out
        };
        assert_eq!(name("https://c.example/a/seg-1_b.ts?x=/y.z"), "seg-1_b.ts");
        assert_eq!(name("https://c.example/a/seg%201.ts"), "f.ts");
        assert_eq!(name("https://c.example/a/"), "f");
        assert_eq!(name("https://c.example/.hidden"), "f.hidden");
        assert_eq!(
            name(&format!("https://c.example/{}.m4s", "x".repeat(60))),
            "f.m4s"
        );
    }

    #[test]
    fn garbage_never_panics() {
        let s = Signer::new(b"secret");
        for (c, u, t) in [
            ("", "", ""),
            ("!!", "??", "=="),
            ("AAAA", "AAAA", "AAAAAAAAAAAAAAAAAAAAAA"),
        ] {
            assert!(s.verify(c, u, t, None, 0).is_err());
        }
        assert!(s.open(&B64.encode([0u8; 40])).is_err());
    }
}
