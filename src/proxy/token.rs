//! Signed, encrypted, expiring proxy URLs.
//!
//! A proxy URL is `/api/streaming/proxy?c=<context>&u=<upstream>&s=<tag>`. Nothing in it is
//! readable by the browser: upstream URLs carry credentials (Jellyfin's `ApiKey=`, a debrid
//! key in a Stremio addon's stream URL, a CDN token), and the browser must never see them.
//! - `c` seals the upstream headers, the minting provider and the expiry with
//!   ChaCha20-Poly1305, so the client can neither read nor alter them. Its nonce is derived
//!   from the plaintext, which makes sealing deterministic: one context always gives one `c`.
//! - `s` is a keyed BLAKE3 tag over `c`, the *plaintext* upstream URL, the optional `v`
//!   (EXT-X-DEFINE variables a media playlist imports, which may hold a query credential)
//!   and `k`, truncated to 128 bits.
//! - `u` (and `v`) are the upstream URL (and variables) encrypted with ChaCha20 under its
//!   own key, the nonce being the first 96 bits of `s`, base64url.
//!
//! This is SIV (synthetic IV, RFC 5297's construction with BLAKE3 as the PRF and ChaCha20
//! as the cipher): the tag is computed over the plaintext, then used as the nonce.
//! - It is deterministic on purpose: one upstream URI under one context always gives one
//!   proxy URL (players and caches key on URLs), and deterministic encryption leaks only
//!   equality of whole (context, URL) pairs, which the URL already showed.
//! - A random nonce would cost 24 bytes a URL and lose that determinism; an AEAD per URL
//!   (ChaCha20-Poly1305 with a derived nonce) would cost a Poly1305 pass and a second tag.
//! - Verification decrypts with the nonce from `s`, recomputes the tag over what came out and
//!   compares in constant time: any altered byte of `c`, `u`, `v`, `k` or `s` changes either
//!   the plaintext or the nonce, so the tag no longer matches. The keystream is XORed only
//!   (no padding, no parsing before the check), so a forged `u` teaches the client nothing.
//! - Two different URLs share a keystream only if their tags agree on the 96 bits that are
//!   the nonce: the birthday bound is 2^48 URLs per secret, some 10^7 days of rewriting a
//!   20,000-segment playlist 1,000 times a day. XChaCha20 would take the whole tag (2^64) for
//!   one more ChaCha block per URL, a third of the encryption's cost: measured, it made the
//!   20,000-segment rewrite about 30 % slower than before encryption, against the 10 ms budget.
//! - `v` is encrypted with the same keystream from 1 GiB on, far past any URL's length, so
//!   `u` and `v` never reuse a keystream byte.
//! - What remains visible: the length of the upstream URL, and the cosmetic child file name
//!   (`f.<extension>`, from a fixed list of media extensions: see [`CHILD_PREFIX`]).
//!
//! - `k=j` (optional, signed) marks a JSON document the proxy must rewrite (a content-steering
//!   manifest or an interstitial asset list): these cannot be recognised by their bytes alone.
//!   `k=t` marks a resolve answer's subtitle file, served as WebVTT (`proxy::relay`).
//!
//! Children minted while rewriting a playlist reuse the parent's `c` verbatim, so a playlist
//! seals once and pays one keyed hash and one short keystream per URI: this is what keeps a
//! 20,000-segment rewrite fast and every URL short. Nothing is stored server-side: any
//! instance with the same secret verifies any URL. URLs of the previous format (plain
//! base64url `u`) no longer verify: they are refused with 403 and expire within hours anyway.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chacha20::ChaCha20;
use chacha20::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

/// The route every proxy URL starts with.
pub const PROXY_PATH: &str = "/api/streaming/proxy";
/// How a rewritten document names a child: `/api/streaming/proxy/f.<extension>?c=…`. The
/// name is cosmetic and unsigned (the server ignores it), but players that judge a segment
/// by the extension of its URL path (ffmpeg's `allowed_segment_extensions`) need it. Only
/// the extension is kept, and only one of [`MEDIA_EXTENSIONS`]: an upstream file name can be
/// a token (`/hls/<token>.ts`, a debrid key as the last path segment).
pub const CHILD_PREFIX: &str = "/api/streaming/proxy/";
/// Version 2: `u` and `v` encrypted, the provider in the context.
const VERSION: u8 = 2;
const TAG_LEN: usize = 16;
const NONCE_LEN: usize = 12;
/// Where `v`'s keystream starts: past any URL a request line can hold (see the module doc).
const VARS_OFFSET: u64 = 1 << 30;
/// The extensions a child URL may show: what players and ffmpeg's HLS demuxer look for in
/// segment, playlist, key and subtitle URLs. Anything else is named plain `f`.
const MEDIA_EXTENSIONS: &[&str] = &[
    "m3u8", "m3u", "ts", "m2ts", "mts", "mp4", "m4s", "m4a", "m4v", "m4f", "cmfv", "cmfa", "cmft",
    "fmp4", "mp4a", "aac", "ac3", "ec3", "eac3", "mp3", "flac", "opus", "ogg", "oga", "webm",
    "mkv", "mov", "vtt", "webvtt", "srt", "ass", "ssa", "ttml", "dfxp", "json", "key", "bin",
    "jpg", "jpeg", "png", "webp",
];

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

/// What a proxy URL carries besides the upstream URL: the headers to send upstream, the
/// provider whose source it is (its configured host is reachable through this URL and its
/// children only: see `Guard::check_url_for`) and the expiry (seconds since the Unix epoch).
/// Children inherit all three.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProxyContext {
    pub headers: Vec<(String, String)>,
    pub expires: u64,
    /// The provider id (`consumet`, `jellyfin`, `stremio`…), at most 254 bytes; `None` for a
    /// URL minted by a tool.
    pub provider: Option<String>,
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
    /// A side-loaded subtitle file of a resolve answer (SRT, WebVTT, ASS, in any encoding):
    /// served as UTF-8 WebVTT, the only format a `<track>` element reads.
    Subtitle,
}

impl Kind {
    fn param(self) -> Option<&'static str> {
        match self {
            Kind::Media => None,
            Kind::Json => Some("j"),
            Kind::Subtitle => Some("t"),
        }
    }

    fn from_param(k: Option<&str>) -> Result<Kind, TokenError> {
        match k {
            None => Ok(Kind::Media),
            Some("j") => Ok(Kind::Json),
            Some("t") => Ok(Kind::Subtitle),
            Some(_) => Err(TokenError::Malformed),
        }
    }
}

impl ProxyContext {
    /// The context of a URL minted for what `provider` found.
    pub fn for_provider(provider: &str, headers: &[(String, String)], expires: u64) -> Self {
        ProxyContext {
            headers: headers.to_vec(),
            expires,
            provider: Some(provider.to_string()),
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
    url_key: [u8; 32],
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
            mac_key: derive("sokoul 2026 proxy url tag v2"),
            url_key: derive("sokoul 2026 proxy url encryption v2"),
        }
    }

    /// The keystream that encrypts a URL's `u` (from 0) and `v` (from [`VARS_OFFSET`]).
    fn keystream(&self, tag: &[u8; TAG_LEN]) -> ChaCha20 {
        let nonce: [u8; NONCE_LEN] = tag[..NONCE_LEN].try_into().expect("a tag has 16 bytes");
        ChaCha20::new(&self.url_key.into(), &nonce.into())
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

    /// A writer for the children of one playlist: hashing the shared prefix once makes each
    /// child cost a hash and a keystream of its own URL only (the 20,000-segment budget is
    /// 0.5 µs a URL).
    pub fn child_writer<'a>(&'a self, sealed: &'a SealedContext) -> ChildWriter<'a> {
        ChildWriter {
            signer: self,
            sealed,
            prefix: self.tag_prefix(&sealed.0),
            buf: Vec::with_capacity(256),
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
        let plain = Plain {
            upstream,
            vars,
            kind: Kind::Media,
        };
        let tag = finish_tag(self.tag_prefix(&sealed.0), plain);
        push_query(self, out, sealed, plain, &tag, &mut Vec::new());
    }

    /// Appends a child URL for a rewritten playlist or JSON document, named after the
    /// upstream file (see [`CHILD_PREFIX`]).
    pub fn write_child(&self, out: &mut String, sealed: &SealedContext, plain: Plain<'_>) {
        out.push_str(CHILD_PREFIX);
        push_file_name(out, plain.upstream);
        let tag = finish_tag(self.tag_prefix(&sealed.0), plain);
        push_query(self, out, sealed, plain, &tag, &mut Vec::new());
    }

    /// Mints a top-level proxy URL (a resolved source or subtitle) bound to no provider: only
    /// public hosts and `SOKOUL_PROXY_ALLOW` are reachable through it.
    pub fn mint(&self, upstream: &str, headers: &[(String, String)], expires: u64) -> String {
        self.mint_context(
            upstream,
            &ProxyContext {
                headers: headers.to_vec(),
                expires,
                provider: None,
            },
            Kind::Media,
        )
    }

    /// Mints a top-level proxy URL for a source or subtitle `provider` found: that
    /// provider's configured host is reachable through it (and its children).
    pub fn mint_for(
        &self,
        provider: &str,
        upstream: &str,
        headers: &[(String, String)],
        expires: u64,
    ) -> String {
        let ctx = ProxyContext::for_provider(provider, headers, expires);
        self.mint_context(upstream, &ctx, Kind::Media)
    }

    /// A top-level proxy URL of any kind: `Kind::Subtitle` for a resolve answer's subtitle
    /// file (`k=t`), which the proxy serves as WebVTT whatever its format and encoding.
    pub fn mint_context(&self, upstream: &str, ctx: &ProxyContext, kind: Kind) -> String {
        let sealed = self.seal(ctx);
        let plain = Plain {
            upstream,
            vars: None,
            kind,
        };
        let mut out = String::from(PROXY_PATH);
        let tag = finish_tag(self.tag_prefix(&sealed.0), plain);
        push_query(self, &mut out, &sealed, plain, &tag, &mut Vec::new());
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
        let given: [u8; TAG_LEN] = B64
            .decode(s.as_bytes())
            .map_err(|_| TokenError::Malformed)?
            .try_into()
            .map_err(|_| TokenError::Malformed)?;
        let mut keystream = self.keystream(&given);
        let mut upstream = B64
            .decode(u.as_bytes())
            .map_err(|_| TokenError::Malformed)?;
        keystream.apply_keystream(&mut upstream);
        let mut vars = match v {
            Some(v) => {
                let mut vars = B64
                    .decode(v.as_bytes())
                    .map_err(|_| TokenError::Malformed)?;
                keystream.seek(VARS_OFFSET);
                keystream.apply_keystream(&mut vars);
                Some(vars)
            }
            None => None,
        };
        let expected = finish_tag_bytes(self.tag_prefix(c), &upstream, vars.as_deref(), kind);
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
        // Minted from `&str`s, so a genuine tag implies UTF-8; checked all the same.
        let upstream = String::from_utf8(upstream).map_err(|_| TokenError::Malformed)?;
        let vars = match vars.take() {
            Some(v) => Some(String::from_utf8(v).map_err(|_| TokenError::Malformed)?),
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

fn finish_tag(h: blake3::Hasher, plain: Plain<'_>) -> [u8; TAG_LEN] {
    finish_tag_bytes(
        h,
        plain.upstream.as_bytes(),
        plain.vars.map(str::as_bytes),
        plain.kind,
    )
}

/// The tag over the plaintext: each field length-prefixed (a URL may hold any byte), so no
/// two (u, v, k) triples hash the same input.
fn finish_tag_bytes(
    mut h: blake3::Hasher,
    upstream: &[u8],
    vars: Option<&[u8]>,
    kind: Kind,
) -> [u8; TAG_LEN] {
    h.update(&(upstream.len() as u64).to_le_bytes());
    h.update(upstream);
    match vars {
        Some(v) => {
            h.update(&[1]);
            h.update(&(v.len() as u64).to_le_bytes());
            h.update(v);
        }
        None => {
            h.update(&[0]);
        }
    }
    h.update(kind.param().unwrap_or_default().as_bytes());
    let mut tag = [0u8; TAG_LEN];
    tag.copy_from_slice(&h.finalize().as_bytes()[..TAG_LEN]);
    tag
}

/// What a proxy URL encrypts and signs besides its sealed context.
#[derive(Debug, Clone, Copy)]
pub struct Plain<'a> {
    /// The absolute upstream URL.
    pub upstream: &'a str,
    /// Imported EXT-X-DEFINE variables.
    pub vars: Option<&'a str>,
    pub kind: Kind,
}

/// Appends `?c=…&u=…[&v=…][&k=…]&s=…`, encrypting `upstream` and `vars` with the keystream
/// `tag` selects; `buf` is scratch space.
fn push_query(
    signer: &Signer,
    out: &mut String,
    sealed: &SealedContext,
    plain: Plain<'_>,
    tag: &[u8; TAG_LEN],
    buf: &mut Vec<u8>,
) {
    let Plain {
        upstream,
        vars,
        kind,
    } = plain;
    let b64_len = |n: usize| n.div_ceil(3) * 4;
    out.reserve(
        sealed.0.len() + b64_len(upstream.len()) + vars.map_or(0, |v| b64_len(v.len()) + 3) + 40,
    );
    let mut keystream = signer.keystream(tag);
    out.push_str("?c=");
    out.push_str(&sealed.0);
    out.push_str("&u=");
    buf.clear();
    buf.extend_from_slice(upstream.as_bytes());
    keystream.apply_keystream(buf);
    B64.encode_string(&buf, out);
    if let Some(v) = vars {
        out.push_str("&v=");
        buf.clear();
        buf.extend_from_slice(v.as_bytes());
        keystream.seek(VARS_OFFSET);
        keystream.apply_keystream(buf);
        B64.encode_string(&buf, out);
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
    signer: &'a Signer,
    sealed: &'a SealedContext,
    prefix: blake3::Hasher,
    buf: Vec<u8>,
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
        let plain = Plain {
            upstream,
            vars,
            kind,
        };
        let tag = finish_tag(self.prefix.clone(), plain);
        push_query(self.signer, out, self.sealed, plain, &tag, &mut self.buf);
    }
}

/// Whether a request path is a proxy URL (signed, so exempt from the API token).
pub fn is_proxy_path(path: &str) -> bool {
    path == PROXY_PATH
        || path
            .strip_prefix(CHILD_PREFIX)
            .is_some_and(|name| !name.is_empty() && !name.contains('/'))
}

/// `f.<extension>` when the upstream file has one of [`MEDIA_EXTENSIONS`], else `f`: never
/// anything else of the upstream path, which can be a credential.
fn push_file_name(out: &mut String, upstream: &str) {
    let path = upstream.split(['?', '#']).next().unwrap_or_default();
    let last = path.rsplit('/').next().unwrap_or_default();
    out.push('f');
    if let Some((_, ext)) = last.rsplit_once('.')
        && let Some(known) = MEDIA_EXTENSIONS
            .iter()
            .find(|known| known.eq_ignore_ascii_case(ext))
    {
        out.push('.');
        out.push_str(known);
    }
}

/// `[version][expires u64 BE][provider len + 1, or 0][provider][count u8]([name len u8][name]
/// [value len u16 BE][value])*`; a provider id of 255 bytes or more is dropped (none is).
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
    let provider = ctx
        .provider
        .as_deref()
        .filter(|p| p.len() < u8::MAX as usize);
    // 0: no provider; n: a provider id of n - 1 bytes.
    out.push(provider.map_or(0, |p| p.len() as u8 + 1));
    if let Some(p) = provider {
        out.extend_from_slice(p.as_bytes());
    }
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
    let provider = match take(&mut b, 1)?[0] {
        0 => None,
        n => Some(
            std::str::from_utf8(take(&mut b, n as usize - 1)?)
                .ok()?
                .to_string(),
        ),
    };
    let count = take(&mut b, 1)?[0];
    let mut headers = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let klen = take(&mut b, 1)?[0] as usize;
        let k = std::str::from_utf8(take(&mut b, klen)?).ok()?.to_string();
        let vlen = u16::from_be_bytes(take(&mut b, 2)?.try_into().ok()?) as usize;
        let v = std::str::from_utf8(take(&mut b, vlen)?).ok()?.to_string();
        headers.push((k, v));
    }
    b.is_empty().then_some(ProxyContext {
        headers,
        expires,
        provider,
    })
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

    /// `verify` at time 1,000 with no variables: what a URL whose `v` was dropped, or whose parts
    /// were swapped, is checked as.
    fn verify_parts(s: &Signer, c: &str, u: &str, sig: &str) -> Result<Verified, TokenError> {
        s.verify(c, u, sig, None, 1_000)
    }

    /// The child URL `write_child` gives for `upstream` under `sealed`.
    fn child_url(
        s: &Signer,
        sealed: &SealedContext,
        upstream: &str,
        vars: Option<&str>,
        kind: Kind,
    ) -> String {
        let mut out = String::new();
        s.write_child(
            &mut out,
            sealed,
            Plain {
                upstream,
                vars,
                kind,
            },
        );
        out
    }

    fn headers() -> Vec<(String, String)> {
        vec![("Referer".into(), "https://embed.example/e/1".into())]
    }

    /// The sealed context of a test parent URL: `headers()`, expiring at 2,000, minted by
    /// `provider`.
    fn sealed_for(s: &Signer, provider: Option<&str>) -> SealedContext {
        s.seal(&ProxyContext {
            headers: headers(),
            expires: 2_000,
            provider: provider.map(Into::into),
        })
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
        // Before encryption a URL's `u` was this: the old format no longer verifies.
        let old_u = B64.encode("https://cdn.example/x");
        assert_eq!(
            verify_parts(&s, param(&q, "c").unwrap(), &old_u, param(&q, "s").unwrap()),
            Err(TokenError::BadSignature)
        );
        let r = verify_parts(
            &s,
            param(&q, "c").unwrap(),
            &forged_u,
            param(&q, "s").unwrap(),
        );
        assert_eq!(r, Err(TokenError::BadSignature));
        // A context sealed for another URL cannot be spliced in either.
        let url2 = s.mint(
            "https://cdn.example/y",
            &[("Referer".into(), "https://evil/".into())],
            9_999,
        );
        let q2 = query(&url2);
        let r = verify_parts(
            &s,
            param(&q2, "c").unwrap(),
            param(&q, "u").unwrap(),
            param(&q, "s").unwrap(),
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
        let sealed = sealed_for(&s, None);
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
        let r = verify_parts(
            &s,
            param(&q, "c").unwrap(),
            param(&q, "u").unwrap(),
            param(&q, "s").unwrap(),
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
        let sealed = sealed_for(&s, None);
        let child = child_url(
            &s,
            &sealed,
            "https://cdn.example/steer.json",
            None,
            Kind::Json,
        );
        assert!(
            child.starts_with("/api/streaming/proxy/f.json?c="),
            "{child}"
        );
        let v = verify_url(&s, &child, 1_000).unwrap();
        assert_eq!(v.kind, Kind::Json);
        let stripped = child.replace("&k=j", "");
        assert_eq!(
            verify_url(&s, &stripped, 1_000),
            Err(TokenError::BadSignature)
        );
        let media = child_url(&s, &sealed, "https://cdn.example/x", None, Kind::Media);
        let marked = media.replace("&s=", "&k=j&s=");
        assert_eq!(
            verify_url(&s, &marked, 1_000),
            Err(TokenError::BadSignature)
        );
        let unknown = media.replace("&s=", "&k=x&s=");
        assert_eq!(verify_url(&s, &unknown, 1_000), Err(TokenError::Malformed));
    }

    #[test]
    fn a_subtitle_url_is_marked_and_the_mark_is_signed() {
        let s = Signer::new(b"secret");
        let ctx = ProxyContext::for_provider("stremio", &[], 2_000);
        let url = s.mint_context("https://subs.example/fr.srt", &ctx, Kind::Subtitle);
        assert!(url.starts_with("/api/streaming/proxy?c="), "{url}");
        let v = verify_url(&s, &url, 1_000).unwrap();
        assert_eq!(v.kind, Kind::Subtitle);
        assert_eq!(v.upstream, "https://subs.example/fr.srt");
        assert_eq!(v.context.provider.as_deref(), Some("stremio"));
        assert_eq!(
            verify_url(&s, &url.replace("&k=t", ""), 1_000),
            Err(TokenError::BadSignature),
            "a subtitle URL cannot be turned into a plain relay"
        );
    }

    #[test]
    fn the_child_writer_writes_the_same_urls_as_write_child() {
        let s = Signer::new(b"secret");
        let sealed = sealed_for(&s, None);
        let mut w = s.child_writer(&sealed);
        for (u, v, k) in [
            ("https://a.example/x.ts", None, Kind::Media),
            ("https://a.example/y.m3u8", Some("a=b\n"), Kind::Media),
            ("https://a.example/s.json", None, Kind::Json),
        ] {
            let (mut a, mut b) = (String::new(), String::new());
            s.write_child(
                &mut a,
                &sealed,
                Plain {
                    upstream: u,
                    vars: v,
                    kind: k,
                },
            );
            w.write(&mut b, u, v, k);
            assert_eq!(a, b);
            assert!(verify_url(&s, &b, 1_000).is_ok());
        }
    }

    #[test]
    fn child_urls_show_only_a_known_extension_of_the_upstream_file() {
        let name = |u: &str| {
            let mut out = String::new();
            push_file_name(&mut out, u);
            out
        };
        assert_eq!(name("https://c.example/a/seg-1_b.ts?x=/y.z"), "f.ts");
        assert_eq!(name("https://c.example/a/seg%201.TS"), "f.ts");
        assert_eq!(name("https://c.example/a/"), "f");
        assert_eq!(name("https://c.example/.hidden"), "f");
        assert_eq!(name("https://c.example/hls/0123456789abcdef"), "f");
        assert_eq!(name("https://c.example/hls/tok.abc123"), "f");
        assert_eq!(
            name(&format!("https://c.example/{}.m4s", "x".repeat(60))),
            "f.m4s"
        );
    }

    fn every_byte_changed(s: &str) -> Vec<String> {
        (0..s.len())
            .map(|i| {
                let mut b = s.as_bytes().to_vec();
                // Another base64url character, so the change reaches the decoder.
                b[i] = if b[i] == b'A' { b'B' } else { b'A' };
                String::from_utf8(b).unwrap()
            })
            .collect()
    }

    #[test]
    fn the_upstream_url_and_imported_vars_are_encrypted() {
        let s = Signer::new(b"secret");
        let upstream = "https://jf.local:8096/Videos/1/main.m3u8?ApiKey=0123456789abcdef";
        let url = s.mint(upstream, &headers(), 2_000);
        let sealed = sealed_for(&s, Some("jellyfin"));
        let mut child = String::new();
        s.child_writer(&sealed).write(
            &mut child,
            upstream,
            Some("key=0123456789abcdef\n"),
            Kind::Media,
        );
        for url in [&url, &child] {
            let q = query(url);
            let u = B64.decode(param(&q, "u").unwrap()).unwrap();
            assert_eq!(u.len(), upstream.len());
            let shown = format!("{url} {}", String::from_utf8_lossy(&u));
            for secret in ["0123456789abcdef", "jf.local", "ApiKey", "main.m3u8"] {
                assert!(!shown.contains(secret), "{secret} in {shown}");
            }
            if let Some(v) = param(&q, "v") {
                let v = B64.decode(v).unwrap();
                assert!(!String::from_utf8_lossy(&v).contains("0123456789abcdef"));
            }
            assert_eq!(verify_url(&s, url, 1_000).unwrap().upstream, upstream);
        }
        assert!(child.starts_with("/api/streaming/proxy/f.m3u8?"), "{child}");
    }

    #[test]
    fn changing_any_byte_of_c_u_v_or_s_is_refused() {
        let s = Signer::new(b"secret");
        let sealed = sealed_for(&s, Some("consumet"));
        let mut url = String::new();
        s.write_url(
            &mut url,
            &sealed,
            "https://cdn.example/a.m3u8?token=x",
            Some("a=b\n"),
        );
        let q = query(&url);
        let get = |n| param(&q, n).unwrap().to_string();
        let (c, u, v, t) = (get("c"), get("u"), get("v"), get("s"));
        assert!(s.verify(&c, &u, &t, Some(&v), 1_000).is_ok());
        for bad in every_byte_changed(&c) {
            assert!(s.verify(&bad, &u, &t, Some(&v), 1_000).is_err(), "c={bad}");
        }
        for bad in every_byte_changed(&u) {
            assert!(s.verify(&c, &bad, &t, Some(&v), 1_000).is_err(), "u={bad}");
        }
        for bad in every_byte_changed(&v) {
            assert!(s.verify(&c, &u, &t, Some(&bad), 1_000).is_err(), "v={bad}");
        }
        for bad in every_byte_changed(&t) {
            assert!(s.verify(&c, &u, &bad, Some(&v), 1_000).is_err(), "s={bad}");
        }
        // Swapping u and v, or truncating u, is refused too.
        assert!(s.verify(&c, &v, &t, Some(&u), 1_000).is_err());
        assert!(
            s.verify(&c, &u[..u.len() - 1], &t, Some(&v), 1_000)
                .is_err()
        );
    }

    #[test]
    fn the_context_carries_the_provider_and_children_keep_it() {
        let s = Signer::new(b"secret");
        let url = s.mint_for("consumet", "https://cdn.example/a.m3u8", &headers(), 2_000);
        let v = verify_url(&s, &url, 1_000).unwrap();
        assert_eq!(v.context.provider.as_deref(), Some("consumet"));
        let mut child = String::new();
        s.child_writer(&v.sealed)
            .write(&mut child, "https://cdn.example/b.ts", None, Kind::Media);
        let c = verify_url(&s, &child, 1_000).unwrap();
        assert_eq!(c.context.provider.as_deref(), Some("consumet"));
        let unbound = s.mint("https://cdn.example/a.m3u8", &headers(), 2_000);
        assert_eq!(
            verify_url(&s, &unbound, 1_000).unwrap().context.provider,
            None
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
