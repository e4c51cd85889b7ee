//! The proxy-token verifier against forgery.
//!
//! Two genuine proxy URLs are minted from the input (a top-level URL or a playlist child,
//! with arbitrary upstream, headers, expiry, imported variables and kind), then the first
//! one's parameters are mutated: bits flipped, bytes inserted or removed, replaced by
//! arbitrary strings, spliced from the second URL, moved from one parameter into another
//! behind a separator, dropped. What must hold:
//! - nothing panics, whatever the strings;
//! - a genuine URL verifies before its expiry, with exactly what was minted, and is
//!   refused as expired from then on;
//! - a mutated URL is refused, or verifies to exactly what one of the two genuine URLs
//!   carries: no mutation yields another upstream, other headers, another expiry, other
//!   variables or another kind;
//! - a mutated context opens to a genuine context or not at all;
//! - the upstream URL is not readable in `u`: its base64url never decodes to the plaintext.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use sokoul::proxy::token::{Kind, Plain, ProxyContext, Signer, TokenError, Verified};

static SIGNER: LazyLock<Signer> = LazyLock::new(|| Signer::new(b"fuzz"));

#[derive(Arbitrary, Debug)]
struct Mint {
    upstream: String,
    headers: Vec<(String, String)>,
    expires: u64,
    provider: Option<String>,
    /// A playlist child (named after the upstream file, may carry `v` and `k`) or a
    /// top-level URL.
    child: bool,
    vars: Option<String>,
    json: bool,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Param {
    C,
    U,
    S,
    V,
    K,
}

#[derive(Arbitrary, Debug)]
enum Mutation {
    Flip {
        param: Param,
        at: u16,
        bit: u8,
    },
    Insert {
        param: Param,
        at: u16,
        byte: u8,
    },
    Remove {
        param: Param,
        at: u16,
    },
    Replace {
        param: Param,
        with: String,
    },
    /// Take the parameter from the second genuine URL.
    Splice {
        param: Param,
    },
    /// Append `sep` and the `from` parameter to `to`, and drop `from`: the tag hashes the
    /// parameters one after the other, so this probes for an ambiguous encoding.
    Move {
        from: Param,
        to: Param,
        sep: u8,
    },
    Drop {
        param: Param,
    },
}

#[derive(Arbitrary, Debug)]
struct Input {
    first: Mint,
    second: Mint,
    now: u64,
    mutations: Vec<Mutation>,
}

/// The query parameters of a proxy URL, as the handler hands them to the verifier.
#[derive(Debug, Clone, Default)]
struct Params([Option<String>; 5]);

impl Params {
    fn get(&self, p: Param) -> Option<&str> {
        self.0[p as usize].as_deref()
    }

    fn slot(&mut self, p: Param) -> &mut Option<String> {
        &mut self.0[p as usize]
    }

    fn verify(&self, now: u64) -> Result<Verified, TokenError> {
        SIGNER.verify_kind(
            self.get(Param::C).unwrap_or_default(),
            self.get(Param::U).unwrap_or_default(),
            self.get(Param::S).unwrap_or_default(),
            self.get(Param::V),
            self.get(Param::K),
            now,
        )
    }
}

fn mint(m: &Mint) -> Params {
    let ctx = ProxyContext {
        headers: m.headers.clone(),
        expires: m.expires,
        provider: m.provider.clone(),
    };
    let sealed = SIGNER.seal(&ctx);
    let mut url = String::new();
    if m.child {
        let kind = if m.json { Kind::Json } else { Kind::Media };
        let plain = Plain {
            upstream: &m.upstream,
            vars: m.vars.as_deref(),
            kind,
        };
        SIGNER.write_child(&mut url, &sealed, plain);
    } else {
        SIGNER.write_url(&mut url, &sealed, &m.upstream, None);
    }
    let (_, query) = url.split_once('?').expect("a proxy URL has a query");

    let mut params = Params::default();
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()).into_owned() {
        let p = match k.as_str() {
            "c" => Param::C,
            "u" => Param::U,
            "s" => Param::S,
            "v" => Param::V,
            "k" => Param::K,
            other => panic!("unexpected parameter {other:?} in {url}"),
        };
        assert!(
            params.slot(p).replace(v).is_none(),
            "duplicate {k} in {url}"
        );
    }
    // 16 bytes: the chance that a keystream leaves them all unchanged is 2^-128.
    if m.upstream.len() >= 16 {
        use base64::Engine;
        let u = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(params.get(Param::U).unwrap_or_default())
            .expect("u is base64url");
        assert_ne!(u, m.upstream.as_bytes(), "u is the plain upstream URL");
    }
    params
}

/// What a genuine URL must verify to: the headers the context format can carry (names up
/// to 255 bytes, values up to 65,535, at most 255 of them) and provider (up to 254 bytes),
/// the rest verbatim.
fn expected(m: &Mint) -> (String, ProxyContext, Option<String>, Kind) {
    let headers = m
        .headers
        .iter()
        .filter(|(k, v)| k.len() <= 255 && v.len() <= 65_535)
        .take(255)
        .cloned()
        .collect();
    let (vars, kind) = match (m.child, m.json) {
        (false, _) => (None, Kind::Media),
        (true, false) => (m.vars.clone(), Kind::Media),
        (true, true) => (m.vars.clone(), Kind::Json),
    };
    let ctx = ProxyContext {
        headers,
        expires: m.expires,
        // The context format drops a provider id of 255 bytes or more.
        provider: m.provider.clone().filter(|p| p.len() < 255),
    };
    (m.upstream.clone(), ctx, vars, kind)
}

fn check_genuine(m: &Mint, params: &Params, now: u64) -> Option<Verified> {
    let (upstream, context, vars, kind) = expected(m);
    match params.verify(now) {
        Ok(v) => {
            assert!(now < m.expires, "an expired URL verified: {m:?} at {now}");
            assert_eq!(v.upstream, upstream);
            assert_eq!(v.context, context);
            assert_eq!(v.vars, vars);
            assert_eq!(v.kind, kind);
            Some(v)
        }
        Err(e) => {
            assert!(now >= m.expires, "a genuine URL was refused ({e:?}): {m:?}");
            assert_eq!(e, TokenError::Expired, "{m:?}");
            None
        }
    }
}

fn edit(s: &mut Option<String>, f: impl FnOnce(&mut Vec<u8>)) {
    let mut bytes = s.take().unwrap_or_default().into_bytes();
    f(&mut bytes);
    *s = Some(String::from_utf8_lossy(&bytes).into_owned());
}

fn apply(params: &mut Params, other: &Params, m: &Mutation) {
    match *m {
        Mutation::Flip { param, at, bit } => edit(params.slot(param), |b| {
            if !b.is_empty() {
                let i = at as usize % b.len();
                b[i] ^= 1 << (bit % 8);
            }
        }),
        Mutation::Insert { param, at, byte } => edit(params.slot(param), |b| {
            let i = at as usize % (b.len() + 1);
            b.insert(i, byte);
        }),
        Mutation::Remove { param, at } => edit(params.slot(param), |b| {
            if !b.is_empty() {
                let i = at as usize % b.len();
                b.remove(i);
            }
        }),
        Mutation::Replace { param, ref with } => *params.slot(param) = Some(with.clone()),
        Mutation::Splice { param } => *params.slot(param) = other.get(param).map(String::from),
        Mutation::Move { from, to, sep } => {
            let moved = params.slot(from).take().unwrap_or_default();
            edit(params.slot(to), |b| {
                b.push(sep);
                b.extend_from_slice(moved.as_bytes());
            });
        }
        Mutation::Drop { param } => *params.slot(param) = None,
    }
}

fuzz_target!(|input: Input| {
    let first = mint(&input.first);
    let second = mint(&input.second);
    let genuine: Vec<Verified> = [(&input.first, &first), (&input.second, &second)]
        .into_iter()
        .filter_map(|(m, p)| check_genuine(m, p, input.now))
        .collect();
    assert_eq!(
        first.verify(input.first.expires).map(|v| v.upstream),
        Err(TokenError::Expired),
        "a URL verified at its expiry"
    );

    let mut forged = first.clone();
    for m in &input.mutations {
        apply(&mut forged, &second, m);
    }
    if let Ok(v) = forged.verify(input.now) {
        assert!(
            genuine.contains(&v),
            "a mutated URL verified to something never minted: {v:?} from {forged:?}"
        );
    }
    if let Some(c) = forged.get(Param::C) {
        if let Ok(ctx) = SIGNER.open(c) {
            assert!(
                [&input.first, &input.second]
                    .iter()
                    .any(|m| expected(m).1 == ctx),
                "a mutated context opened to something never sealed: {ctx:?}"
            );
        }
    }
});
