//! The rewriter over every public fixture (`tests/fixtures/hls/public/`, see `SOURCES.md`):
//! every URI that must be proxied is, each proxy URL decodes to the URI resolved by an
//! independent resolver (`Url::join`), and putting the original URIs back gives the original
//! bytes.

use std::collections::HashMap;

use sokoul::proxy::playlist::{RewriteContext, rewrite};
use sokoul::proxy::token::{CHILD_PREFIX, Kind, ProxyContext, Signer};
use url::Url;

const BASE: &str = "https://cdn.example/path/to/playlist.m3u8?token=TKN&parent-token=PT&foo=F";
const IMPORTED: &str = "token=IMP\n";

fn fixtures() -> Vec<(String, Vec<u8>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hls/public");
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "m3u8"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    assert!(out.len() >= 60, "the fixtures are in place");
    out
}

fn decode(signer: &Signer, proxy_url: &str) -> (String, Kind) {
    let full = Url::parse("http://sokoul/")
        .unwrap()
        .join(proxy_url)
        .unwrap();
    let q: Vec<(String, String)> = full.query_pairs().into_owned().collect();
    let p = |n: &str| q.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
    let v = signer
        .verify_kind(
            p("c").unwrap(),
            p("u").unwrap(),
            p("s").unwrap(),
            p("v"),
            p("k"),
            0,
        )
        .unwrap_or_else(|e| panic!("{proxy_url}: {e}"));
    (v.upstream, v.kind)
}

/// The test's own, deliberately naive, variable table: NAME/VALUE in order, IMPORT from
/// `IMPORTED`, QUERYPARAM from `BASE`.
fn variables(text: &str) -> HashMap<String, String> {
    let base = Url::parse(BASE).unwrap();
    let mut vars = HashMap::new();
    let quoted = |line: &str, name: &str| {
        let key = format!("{name}=\"");
        let i = line.find(&key)? + key.len();
        Some(line[i..i + line[i..].find('"')?].to_string())
    };
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("#EXT-X-DEFINE:") else {
            continue;
        };
        if let (Some(n), Some(v)) = (quoted(rest, "NAME"), quoted(rest, "VALUE")) {
            let v = substitute(&v, &vars).unwrap_or(v);
            vars.insert(n, v);
        } else if let Some(n) = quoted(rest, "IMPORT") {
            if let Some(v) = IMPORTED
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{n}=")))
            {
                vars.insert(n, v.to_string());
            }
        } else if let Some(n) = quoted(rest, "QUERYPARAM") {
            if let Some((_, v)) = base.query_pairs().find(|(k, _)| *k == n) {
                vars.insert(n, v.into_owned());
            }
        }
    }
    vars
}

fn substitute(s: &str, vars: &HashMap<String, String>) -> Option<String> {
    let mut out = s.to_string();
    while let Some(i) = out.find("{$") {
        let j = i + out[i..].find('}')?;
        let v = vars.get(&out[i + 2..j])?;
        out.replace_range(i..=j, v);
    }
    Some(out)
}

fn has_foreign_scheme(uri: &str) -> bool {
    match uri.split_once(':') {
        Some((scheme, _)) => {
            scheme
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
                && !scheme.eq_ignore_ascii_case("http")
                && !scheme.eq_ignore_ascii_case("https")
        }
        None => false,
    }
}

/// Splits a rewritten line into literal text and proxy URLs.
fn split_proxy_urls(line: &str) -> (Vec<&str>, Vec<&str>) {
    let mut literals = Vec::new();
    let mut urls = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find(CHILD_PREFIX) {
        literals.push(&rest[..i]);
        let tail = &rest[i..];
        let end = tail.find("&s=").expect("a tag") + 3 + 22;
        urls.push(&tail[..end]);
        rest = &tail[end..];
    }
    literals.push(rest);
    (literals, urls)
}

/// Attribute values named exactly `name`, as the test's simple scan finds them.
fn quoted_attr<'a>(line: &'a str, name: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    let key = format!("{name}=\"");
    let mut from = 0;
    while let Some(i) = line[from..].find(&key) {
        let at = from + i;
        let boundary = at > 0 && matches!(line.as_bytes()[at - 1], b':' | b',' | b' ');
        let start = at + key.len();
        let Some(len) = line[start..].find('"') else {
            break;
        };
        if boundary {
            out.push(&line[start..start + len]);
        }
        from = start + len;
    }
    out
}

/// What the specification says must be proxied on this (original) line.
fn must_rewrite(line: &str, vars: &HashMap<String, String>) -> Vec<String> {
    let proxiable = |uri: &str| {
        let uri = uri.trim();
        !uri.is_empty() && substitute(uri, vars).is_some_and(|u| !has_foreign_scheme(&u))
    };
    let trimmed = line.trim_end_matches('\r').trim_start_matches('\u{feff}');
    let mut out = Vec::new();
    if !trimmed.starts_with('#') {
        let t = trimmed.trim_matches([' ', '\t']);
        if !t.is_empty() && !t.starts_with('#') && proxiable(t) {
            out.push(t.to_string());
        }
        return out;
    }
    let tag = trimmed.split(':').next().unwrap();
    let names: &[&str] = match tag {
        "#EXT-X-KEY" | "#EXT-X-SESSION-KEY" => {
            let format = quoted_attr(trimmed, "KEYFORMAT");
            if format.first().is_some_and(|f| *f != "identity") {
                &[]
            } else {
                &["URI"]
            }
        }
        "#EXT-X-MAP"
        | "#EXT-X-MEDIA"
        | "#EXT-X-I-FRAME-STREAM-INF"
        | "#EXT-X-IMAGE-STREAM-INF"
        | "#EXT-X-SESSION-DATA"
        | "#EXT-X-PART"
        | "#EXT-X-PRELOAD-HINT"
        | "#EXT-X-RENDITION-REPORT" => &["URI"],
        "#EXT-X-CONTENT-STEERING" => &["SERVER-URI"],
        "#EXT-X-DATERANGE" if trimmed.contains("CLASS=\"com.apple.hls.interstitial\"") => {
            &["X-ASSET-URI", "X-ASSET-LIST"]
        }
        _ => &[],
    };
    for name in names {
        for v in quoted_attr(trimmed, name) {
            if proxiable(v) {
                out.push(v.to_string());
            }
        }
    }
    out
}

#[test]
fn every_fixture_round_trips_and_every_uri_is_proxied_and_correctly_resolved() {
    let signer = Signer::new(b"fixtures");
    let sealed = signer.seal(&ProxyContext {
        headers: vec![("Referer".into(), "https://embed.example/".into())],
        expires: 4_000_000_000,
        provider: None,
    });
    let base = Url::parse(BASE).unwrap();
    let mut total = 0;
    for (name, input) in fixtures() {
        let out = rewrite(
            &input,
            RewriteContext {
                signer: &signer,
                sealed: &sealed,
                base: &base,
                imported: Some(IMPORTED),
                max_output: usize::MAX,
            },
        )
        .unwrap();
        let input = String::from_utf8(input).unwrap();
        let out = String::from_utf8(out).unwrap();
        let vars = variables(&input);
        let in_lines: Vec<&str> = input.split('\n').collect();
        let out_lines: Vec<&str> = out.split('\n').collect();
        assert_eq!(
            in_lines.len(),
            out_lines.len(),
            "{name}: lines are neither added nor removed"
        );
        for (n, (a, b)) in in_lines.iter().zip(&out_lines).enumerate() {
            let at = format!("{name}:{}", n + 1);
            let expected = must_rewrite(a, &vars);
            if let Some(q) = a.strip_prefix("#EXT-X-DEFINE:QUERYPARAM=\"") {
                // The documented exception: the value is defined explicitly.
                let q = &q[..q.find('"').unwrap()];
                let v = &vars[q];
                let eol = if a.ends_with('\r') { "\r" } else { "" };
                assert_eq!(
                    *b,
                    format!("#EXT-X-DEFINE:NAME=\"{q}\",VALUE=\"{v}\"{eol}"),
                    "{at}"
                );
                continue;
            }
            let (literals, urls) = split_proxy_urls(b);
            assert_eq!(urls.len(), expected.len(), "{at}: {a:?} → {b:?}");
            // Put the originals back: the literals must appear in the input in order, and
            // each gap between them is the original URI a proxy URL replaced.
            let mut pos = 0;
            assert!(a[pos..].starts_with(literals[0]), "{at}");
            pos += literals[0].len();
            for (i, url) in urls.iter().enumerate() {
                let lit = literals[i + 1];
                let end = if i + 1 == urls.len() && lit.is_empty() {
                    a.len()
                } else {
                    pos + 1
                        + a[pos + 1..]
                            .find(lit)
                            .unwrap_or_else(|| panic!("{at}: {lit:?}"))
                };
                let original = &a[pos..end];
                assert_eq!(original.trim_matches([' ', '\t']), expected[i], "{at}");
                let resolved = base
                    .join(
                        substitute(original.trim_matches([' ', '\t']), &vars)
                            .unwrap()
                            .as_str(),
                    )
                    .map(|mut u| {
                        u.set_fragment(None);
                        u.to_string()
                    })
                    .unwrap();
                let (upstream, kind) = decode(&signer, url);
                assert_eq!(upstream, resolved, "{at}: {original:?}");
                let json =
                    a[..pos].ends_with("SERVER-URI=\"") || a[..pos].ends_with("X-ASSET-LIST=\"");
                assert_eq!(kind == Kind::Json, json, "{at}");
                pos = end + lit.len();
                total += 1;
            }
            assert_eq!(pos, a.len(), "{at}: trailing bytes differ");
        }
    }
    assert!(total > 40_000, "{total} URIs checked");
}

#[test]
fn key_system_lines_in_every_fixture_come_back_byte_for_byte() {
    let signer = Signer::new(b"fixtures");
    let sealed = signer.seal(&ProxyContext {
        headers: vec![],
        expires: 1,
        provider: None,
    });
    let base = Url::parse("https://cdn.example/x/y.m3u8").unwrap();
    let mut checked = 0;
    for (name, input) in fixtures() {
        let out = rewrite(
            &input,
            RewriteContext {
                signer: &signer,
                sealed: &sealed,
                base: &base,
                imported: None,
                max_output: usize::MAX,
            },
        )
        .unwrap();
        let input = String::from_utf8(input).unwrap();
        let out = String::from_utf8(out).unwrap();
        for (a, b) in input.split('\n').zip(out.split('\n')) {
            let key = a.starts_with("#EXT-X-KEY:") || a.starts_with("#EXT-X-SESSION-KEY:");
            let foreign = a.contains("URI=\"skd:")
                || a.contains("URI=\"data:")
                || quoted_attr(a, "KEYFORMAT")
                    .first()
                    .is_some_and(|f| *f != "identity");
            if key && foreign {
                assert_eq!(a, b, "{name}");
                checked += 1;
            }
        }
    }
    assert!(checked >= 15, "{checked} key-system lines");
}
