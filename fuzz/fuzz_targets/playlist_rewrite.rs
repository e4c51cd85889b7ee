//! The playlist rewriter on arbitrary bytes and an arbitrary base URL.
//!
//! Input: `base \0 imported \0 playlist` (the base is parsed as a URL, or joined onto a
//! default one so that mutations of a relative reference still give varied URLs), or a
//! bare playlist rewritten against a fixed base: the seeds are real playlists.
//!
//! What must hold, whatever the bytes:
//! - no panic, and the same output for the same input (rewriting is a pure function);
//! - the same output when rewritten in pieces (`RewriteState::fill`, as the proxy streams
//!   it), each piece ending after a line feed;
//! - the same lines, with the same terminators;
//! - a line changes only if it carries a URI (a URI line or a URI-carrying tag), and then
//!   only the URI bytes are replaced, by child proxy URLs that verify under the playlist's
//!   key and carry the playlist's headers and expiry;
//! - behind an http(s) base, every child points to an http(s) URL, and a URI line's child
//!   points exactly where RFC 3986 resolution says (the rewriter's fast path for plain
//!   relative names agrees with the URL parser); every such line is proxied, none skipped.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use sokoul::proxy::playlist::{RewriteContext, RewriteError, RewriteState, resolve, rewrite};
use sokoul::proxy::token::{CHILD_PREFIX, ProxyContext, SealedContext, Signer, Verified};
use url::Url;

const DEFAULT_BASE: &str = "https://cdn.example/a/b/index.m3u8?token=t&x=%2F";
const DEFAULT_IMPORTED: &str = "host=cdn2.example\n";

/// The tags whose lines may change (`docs/proxy.md`); every other comment is kept.
const URI_TAGS: &[&str] = &[
    "#EXT-X-KEY:",
    "#EXT-X-SESSION-KEY:",
    "#EXT-X-MAP:",
    "#EXT-X-PART:",
    "#EXT-X-PRELOAD-HINT:",
    "#EXT-X-SESSION-DATA:",
    "#EXT-X-MEDIA:",
    "#EXT-X-I-FRAME-STREAM-INF:",
    "#EXT-X-IMAGE-STREAM-INF:",
    "#EXT-X-RENDITION-REPORT:",
    "#EXT-X-CONTENT-STEERING:",
    "#EXT-X-DATERANGE:",
    "#EXT-X-PREFETCH:",
    "#EXT-X-TWITCH-PREFETCH:",
];

struct Keys {
    signer: Signer,
    context: ProxyContext,
    sealed: SealedContext,
    default_base: Url,
}

static KEYS: LazyLock<Keys> = LazyLock::new(|| {
    let signer = Signer::new(b"fuzz");
    let context = ProxyContext {
        headers: vec![("Referer".into(), "https://embed.example/".into())],
        expires: 4_000_000_000,
        provider: None,
    };
    let sealed = signer.seal(&context);
    Keys {
        signer,
        context,
        sealed,
        default_base: Url::parse(DEFAULT_BASE).expect("the default base is a URL"),
    }
});

fn split_input(data: &[u8]) -> (Url, Option<&str>, &[u8]) {
    let keys = &*KEYS;
    let mut parts = data.splitn(3, |&b| b == 0);
    let (Some(base), Some(imported), Some(playlist)) = (parts.next(), parts.next(), parts.next())
    else {
        return (keys.default_base.clone(), Some(DEFAULT_IMPORTED), data);
    };
    let base = std::str::from_utf8(base)
        .ok()
        .and_then(|b| Url::parse(b).or_else(|_| keys.default_base.join(b)).ok())
        .unwrap_or_else(|| keys.default_base.clone());
    (base, std::str::from_utf8(imported).ok(), playlist)
}

/// The child proxy URLs in an output line that verify, with their byte ranges.
fn children(line: &[u8]) -> Vec<(usize, usize, Verified)> {
    let keys = &*KEYS;
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(i) = memmem(&line[from..], CHILD_PREFIX.as_bytes()) {
        let start = from + i;
        let len = line[start..]
            .iter()
            .position(|&b| !(b.is_ascii_alphanumeric() || b"/._-?&=".contains(&b)))
            .unwrap_or(line.len() - start);
        let end = start + len;
        from = start + 1;
        let Ok(text) = std::str::from_utf8(&line[start..end]) else {
            continue;
        };
        let Some((_, query)) = text.split_once('?') else {
            continue;
        };
        let q: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        let p = |n: &str| q.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
        let (Some(c), Some(u), Some(s)) = (p("c"), p("u"), p("s")) else {
            continue;
        };
        if let Ok(v) = keys.signer.verify_kind(c, u, s, p("v"), p("k"), 0) {
            found.push((start, end, v));
            from = end;
        }
    }
    found
}

fn memmem(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn is_web(url: &Url) -> bool {
    matches!(url.scheme(), "http" | "https") && url.host().is_some()
}

fn check_line(index: usize, a: &[u8], b: &[u8], base: &Url) {
    let keys = &*KEYS;
    let (a, b) = match (a.strip_suffix(b"\r"), b.strip_suffix(b"\r")) {
        (Some(a), Some(b)) => (a, b),
        (None, None) => (a, b),
        _ => panic!("line {index}: terminator changed: {a:?} -> {b:?}"),
    };
    let (a, b) = match (index, a.strip_prefix(b"\xEF\xBB\xBF")) {
        (0, Some(rest)) => (
            rest,
            b.strip_prefix(b"\xEF\xBB\xBF")
                .unwrap_or_else(|| panic!("the BOM was lost: {b:?}")),
        ),
        _ => (a, b),
    };
    let Ok(text) = std::str::from_utf8(a) else {
        assert_eq!(a, b, "line {index}: a line that is not UTF-8 changed");
        return;
    };
    // Any whitespace around a URI line, as the rewriter and hls.js read it.
    let trimmed = text.trim_matches(char::is_whitespace);
    let is_uri_line = !text.starts_with('#') && !trimmed.is_empty() && !trimmed.starts_with('#');
    if a == b {
        // Only a URI the player could not fetch over HTTP, or one naming an undefined
        // variable, stays as it is.
        if is_uri_line && is_web(base) && !trimmed.contains("{$") {
            assert!(
                resolve(base, trimmed).is_none(),
                "line {index}: a fetchable URI was not proxied: {text:?}"
            );
        }
        return;
    }

    if let Some(list) = text.strip_prefix("#EXT-X-DEFINE:") {
        // A QUERYPARAM definition becomes an explicit one with the upstream's value.
        let out = std::str::from_utf8(b).expect("the replacement definition is UTF-8");
        let rest = out
            .strip_prefix("#EXT-X-DEFINE:NAME=\"")
            .unwrap_or_else(|| panic!("unexpected define: {text:?} -> {out:?}"));
        let (name, rest) = rest.split_once('"').expect("a quoted NAME");
        let value = rest
            .strip_prefix(",VALUE=\"")
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or_else(|| panic!("unexpected define: {text:?} -> {out:?}"));
        assert!(
            list.contains(&format!("QUERYPARAM=\"{name}\"")),
            "{text:?} -> {out:?}"
        );
        let upstream = base.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v);
        assert_eq!(upstream.as_deref(), Some(value), "{text:?} -> {out:?}");
        return;
    }

    if text.starts_with('#') {
        let tag = text.find(':').map_or(text, |i| &text[..=i]);
        assert!(
            URI_TAGS.contains(&tag),
            "line {index}: a comment that carries no URI changed: {text:?}"
        );
    } else {
        assert!(is_uri_line, "line {index}: a blank line changed: {text:?}");
    }

    let kids = children(b);
    assert!(
        !kids.is_empty(),
        "line {index}: changed without gaining a verifiable proxy URL: {text:?} -> {:?}",
        String::from_utf8_lossy(b)
    );
    // Every byte outside the new URLs is the input's, in order.
    let mut pieces = Vec::with_capacity(kids.len() + 1);
    let mut at = 0;
    for (start, end, _) in &kids {
        pieces.push(&b[at..*start]);
        at = *end;
    }
    pieces.push(&b[at..]);
    let (first, last) = (pieces[0], pieces[pieces.len() - 1]);
    assert!(
        a.starts_with(first) && a.ends_with(last) && first.len() + last.len() <= a.len(),
        "line {index}: bytes around the URI changed: {text:?} -> {:?}",
        String::from_utf8_lossy(b)
    );
    let mut pos = first.len();
    for piece in &pieces[1..pieces.len() - 1] {
        let found = memmem(&a[pos..a.len() - last.len()], piece).unwrap_or_else(|| {
            panic!(
                "line {index}: bytes between URIs changed: {text:?} -> {:?}",
                String::from_utf8_lossy(b)
            )
        });
        pos += found + piece.len();
    }

    for (_, _, v) in &kids {
        assert_eq!(v.context, keys.context, "a child carries other headers");
        assert_eq!(v.sealed, keys.sealed, "a child was sealed again");
        if is_web(base) {
            let up = Url::parse(&v.upstream)
                .unwrap_or_else(|e| panic!("child upstream {:?} is not a URL: {e}", v.upstream));
            assert!(
                is_web(&up),
                "child upstream {:?} is not http(s)",
                v.upstream
            );
            assert_eq!(
                up.fragment(),
                None,
                "a fragment goes upstream: {:?}",
                v.upstream
            );
        }
    }

    // With one URL in the line, the replaced bytes are exactly the URI as written.
    if let [(_, _, v)] = kids.as_slice() {
        if is_web(base) {
            let raw = std::str::from_utf8(&a[first.len()..a.len() - last.len()])
                .expect("a UTF-8 slice of a UTF-8 line at ASCII boundaries");
            let uri = raw.trim_matches([' ', '\t']);
            if !uri.contains("{$") {
                let expected = resolve(base, uri).map(String::from);
                assert_eq!(
                    Some(v.upstream.as_str()),
                    expected.as_deref(),
                    "line {index}: {uri:?} against {base} was proxied to the wrong place"
                );
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let keys = &*KEYS;
    let (base, imported, playlist) = split_input(data);
    let ctx = RewriteContext {
        signer: &keys.signer,
        sealed: &keys.sealed,
        base: &base,
        imported,
        max_output: usize::MAX,
    };
    let out = match rewrite(playlist, ctx) {
        Ok(out) => out,
        // Without an output limit, only too many EXT-X-DEFINE bytes can stop a rewrite.
        Err(e) => {
            assert_eq!(e, RewriteError::TooManyVariables);
            return;
        }
    };
    assert!(
        Ok(&out) == rewrite(playlist, ctx).as_ref(),
        "rewriting is not deterministic"
    );
    let at_least = 1 + data.len() % 257;
    let mut state = RewriteState::new(playlist, ctx);
    let mut pieces = Vec::with_capacity(out.len());
    loop {
        let before = pieces.len();
        let done = state
            .fill(playlist, ctx, &mut pieces, at_least)
            .expect("the whole rewrite succeeded");
        if done {
            break;
        }
        assert!(pieces.len() - before >= at_least, "a short piece");
        assert!(pieces.ends_with(b"\n"), "a piece ends inside a line");
    }
    assert!(pieces == out, "the rewrite in pieces differs from the whole one");

    let ins: Vec<&[u8]> = playlist.split(|&b| b == b'\n').collect();
    let outs: Vec<&[u8]> = out.split(|&b| b == b'\n').collect();
    assert_eq!(ins.len(), outs.len(), "the number of lines changed");
    for (i, (a, b)) in ins.iter().zip(&outs).enumerate() {
        check_line(i, a, b, &base);
    }
});
