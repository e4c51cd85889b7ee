//! `cargo bench --bench playlist_rewrite`: the rewriter alone, on playlists of the sizes the
//! proxy meets (120 and 20,000 segments) and the largest public fixture (80k lines), whole
//! and, for 20,000 segments, in the 64 KiB pieces the proxy streams.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sokoul::proxy::playlist::{RewriteContext, RewriteState, rewrite};
use sokoul::proxy::token::{ProxyContext, Signer};
use url::Url;

fn media_playlist(segments: usize) -> Vec<u8> {
    let mut s = String::from(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:0\n",
    );
    for i in 0..segments {
        s.push_str(&format!("#EXTINF:6.006,\nsegment_{i:05}.ts\n"));
    }
    s.push_str("#EXT-X-ENDLIST\n");
    s.into_bytes()
}

fn bench(c: &mut Criterion) {
    let signer = Signer::new(b"bench secret");
    let sealed = signer.seal(&ProxyContext {
        headers: vec![
            ("Referer".into(), "https://embed.example/e/12345".into()),
            (
                "User-Agent".into(),
                "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0".into(),
            ),
        ],
        expires: 4_000_000_000,
        provider: None,
    });
    let base = Url::parse("https://cdn.example.com/hls/movie/1080p/index.m3u8?token=abc").unwrap();
    let ctx = RewriteContext {
        signer: &signer,
        sealed: &sealed,
        base: &base,
        imported: None,
        max_output: usize::MAX,
    };
    let large = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/hls/public/grafov-media-large-80k-lines.m3u8"
    ))
    .unwrap();
    let mut group = c.benchmark_group("rewrite");
    for (name, input) in [
        ("120 segments", media_playlist(120)),
        ("20000 segments", media_playlist(20_000)),
        ("grafov 80k lines", large),
    ] {
        group.throughput(Throughput::Bytes(input.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| rewrite(std::hint::black_box(&input), ctx))
        });
    }
    // As `proxy::streamed` produces it: one reused 64 KiB buffer instead of the whole output.
    let input = media_playlist(20_000);
    group.throughput(Throughput::Bytes(input.len() as u64));
    group.bench_function("20000 segments in 64 KiB pieces", |b| {
        b.iter(|| {
            let input = std::hint::black_box(&input);
            let mut state = RewriteState::new(input, ctx);
            let mut piece = Vec::with_capacity(68 * 1024);
            let mut len = 0;
            loop {
                piece.clear();
                let done = state.fill(input, ctx, &mut piece, 64 * 1024).unwrap();
                len += piece.len();
                if done {
                    break len;
                }
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
