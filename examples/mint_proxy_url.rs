//! Prints a signed proxy URL, for `scripts/bench-proxy.sh`:
//! `SOKOUL_SECRET=… cargo run --release --example mint_proxy_url -- <upstream URL> ['Name: value'…]`.
//! The URL is valid for a day and carries the given upstream headers.

use sokoul::proxy::token::Signer;

fn main() {
    let secret = std::env::var("SOKOUL_SECRET").expect("SOKOUL_SECRET must be set");
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((upstream, headers)) = args.split_first() else {
        eprintln!("usage: mint_proxy_url <upstream URL> ['Name: value'…]");
        std::process::exit(2);
    };
    let headers: Vec<(String, String)> = headers
        .iter()
        .filter_map(|h| h.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let signer = Signer::new(secret.as_bytes());
    println!("{}", signer.mint(upstream, &headers, now + 86_400));
}
