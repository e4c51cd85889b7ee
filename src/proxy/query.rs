//! The proxy URL's query: the signed parameters (`c`, `u`, `s`, `v`, `k`) and the player's
//! LL-HLS and steering directives (`_HLS_*`), which go upstream and nowhere else.

use url::Url;

use super::token::{PROXY_PATH, Signer, TokenError, Verified};

/// The signed parameters and the player's delivery directives, from the raw query.
#[derive(Debug, Default)]
pub struct ProxyQuery {
    c: Option<String>,
    u: Option<String>,
    s: Option<String>,
    v: Option<String>,
    k: Option<String>,
    /// `_HLS_msn`, `_HLS_part`, `_HLS_skip`, `_HLS_report`, `_HLS_pathway`, `_HLS_throughput`.
    pub directives: Vec<(String, String)>,
}

impl ProxyQuery {
    pub fn parse(raw: Option<&str>) -> ProxyQuery {
        let mut q = ProxyQuery::default();
        for (k, v) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
            let slot = match k.as_ref() {
                "c" => &mut q.c,
                "u" => &mut q.u,
                "s" => &mut q.s,
                "v" => &mut q.v,
                "k" => &mut q.k,
                name if name.starts_with("_HLS_") => {
                    q.directives.push((name.to_string(), v.into_owned()));
                    continue;
                }
                _ => continue,
            };
            // A repeated signed parameter is an attempt to confuse: keep the first, the
            // signature decides.
            if slot.is_none() {
                *slot = Some(v.into_owned());
            }
        }
        q
    }

    /// Checks the signed parameters at time `now` (Unix seconds).
    pub fn verify(&self, signer: &Signer, now: u64) -> Result<Verified, TokenError> {
        let (Some(c), Some(u), Some(s)) = (&self.c, &self.u, &self.s) else {
            return Err(TokenError::Malformed);
        };
        signer.verify_kind(c, u, s, self.v.as_deref(), self.k.as_deref(), now)
    }
}

/// Keeps well-formed directives; `_HLS_report` names a rewritten (proxy) URI and is mapped
/// back to the upstream URI it stands for, or dropped.
pub fn upstream_directives(
    signer: &Signer,
    now: u64,
    directives: Vec<(String, String)>,
) -> Vec<(String, String)> {
    directives
        .into_iter()
        .filter_map(|(k, v)| {
            if k == "_HLS_report" {
                return map_report_back(signer, now, &v).map(|up| (k, up));
            }
            well_formed(&k, &v).then_some((k, v))
        })
        .collect()
}

fn well_formed(name: &str, value: &str) -> bool {
    let digits = !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit());
    match name {
        "_HLS_msn" | "_HLS_part" => digits,
        "_HLS_throughput" => {
            !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        }
        "_HLS_skip" => value == "YES" || value == "v2",
        "_HLS_pathway" => {
            !value.is_empty()
                && value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
        }
        _ => false,
    }
}

fn map_report_back(signer: &Signer, now: u64, report: &str) -> Option<String> {
    let base = Url::parse("http://sokoul.invalid")
        .ok()?
        .join(PROXY_PATH)
        .ok()?;
    let full = base.join(report).ok()?;
    let verified = ProxyQuery::parse(full.query()).verify(signer, now).ok()?;
    Some(verified.upstream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_keeps_the_first_signed_value_and_collects_directives() {
        let q = ProxyQuery::parse(Some("c=a&u=b&s=c&u=evil&_HLS_msn=3&_HLS_part=1&x=y"));
        assert_eq!(q.u.as_deref(), Some("b"));
        assert_eq!(q.directives.len(), 2);
    }

    #[test]
    fn only_well_formed_directives_and_genuine_reports_go_upstream() {
        let signer = Signer::new(b"k");
        let child = signer.mint("https://cdn.example/live/low.m3u8", &[], 100);
        let directives = [
            ("_HLS_msn", "12"),
            ("_HLS_part", "x1"),
            ("_HLS_skip", "v2"),
            ("_HLS_pathway", "CDN-A"),
            ("_HLS_pathway", "a b"),
            ("_HLS_report", child.as_str()),
            ("_HLS_report", "/api/streaming/proxy?c=a&u=b&s=c"),
            ("_HLS_other", "1"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        let kept = upstream_directives(&signer, 10, directives.to_vec());
        let kept: Vec<(&str, &str)> = kept.iter().map(|(k, v)| (&k[..], &v[..])).collect();
        assert_eq!(
            kept,
            [
                ("_HLS_msn", "12"),
                ("_HLS_skip", "v2"),
                ("_HLS_pathway", "CDN-A"),
                ("_HLS_report", "https://cdn.example/live/low.m3u8"),
            ]
        );
        // An expired report is dropped like a forged one.
        let late = upstream_directives(&signer, 100, directives[5..6].to_vec());
        assert!(late.is_empty());
    }
}
