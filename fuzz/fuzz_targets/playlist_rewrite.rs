//! Arbitrary bytes through the rewriter: never a panic, the same number of lines out as in,
//! and every line that is not a URI carrier comes back unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sokoul::proxy::playlist::{RewriteContext, rewrite};
use sokoul::proxy::token::{ProxyContext, Signer};

fuzz_target!(|data: &[u8]| {
    let signer = Signer::new(b"fuzz");
    let sealed = signer.seal(&ProxyContext {
        headers: vec![("Referer".into(), "https://embed.example/".into())],
        expires: 4_000_000_000,
    });
    let base = url::Url::parse("https://cdn.example/a/b/index.m3u8?token=t&x=%2F").unwrap();
    let out = rewrite(
        data,
        RewriteContext {
            signer: &signer,
            sealed: &sealed,
            base: &base,
            imported: Some("host=cdn2.example\n"),
        },
    );
    let ins: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    let outs: Vec<&[u8]> = out.split(|&b| b == b'\n').collect();
    assert_eq!(ins.len(), outs.len());
    for (a, b) in ins.iter().zip(&outs) {
        if a != b {
            let changed_to_proxy = b.windows(21).any(|w| w == b"/api/streaming/proxy/");
            let queryparam = b.starts_with(b"#EXT-X-DEFINE:NAME=");
            assert!(changed_to_proxy || queryparam, "{:?} -> {:?}", a, b);
        }
    }
});
