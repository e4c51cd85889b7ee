//! When does a signed stream URL stop working? CDNs put the answer in the URL in a handful of
//! well-known forms; a cached resolution must never outlive the earliest of them.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use time::OffsetDateTime;
use time::format_description::well_known::Iso8601;
use url::Url;

/// Plausible Unix timestamps (2001-09-09 .. 2286-11-20): keeps a short `e=3` or an unrelated
/// number from being read as an expiry.
const MIN_UNIX: i64 = 1_000_000_000;
const MAX_UNIX: i64 = 9_999_999_999;

/// The earliest expiry stated in `url`, if it states one.
pub fn url_expiry(url: &Url) -> Option<OffsetDateTime> {
    let mut earliest: Option<i64> = None;
    let mut note = |t: Option<i64>| {
        if let Some(t) = t {
            earliest = Some(earliest.map_or(t, |e| e.min(t)));
        }
    };
    let mut amz_date = None;
    let mut amz_expires = None;
    for (name, value) in url.query_pairs() {
        let lower = name.to_ascii_lowercase();
        match lower.as_str() {
            "expires" | "exp" | "e" | "expiry" | "expire" | "expiration" | "validto" => {
                note(unix_value(&value))
            }
            "x-amz-date" => amz_date = parse_amz_date(&value),
            "x-amz-expires" => amz_expires = value.parse::<i64>().ok(),
            // Akamai tokens: `hdnts=st=…~exp=1700000000~acl=…~hmac=…`.
            "hdnts" | "hdntl" | "__token__" | "token" => note(akamai_exp(&value)),
            _ => {}
        }
        if looks_like_jwt(&value) {
            note(jwt_exp(&value));
        }
    }
    if let (Some(date), Some(secs)) = (amz_date, amz_expires) {
        note(Some(date + secs));
    }
    // Tokens also travel in path segments (`/hdnts=exp=…~acl=…/`, `/<jwt>/index.m3u8`).
    if let Some(segments) = url.path_segments() {
        for seg in segments {
            if seg.contains("exp=") {
                note(akamai_exp(seg));
            } else if looks_like_jwt(seg) {
                note(jwt_exp(seg));
            }
        }
    }
    earliest.and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
}

fn unix_value(v: &str) -> Option<i64> {
    if !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: i64 = v.parse().ok()?;
    let secs = if v.len() == 13 { n / 1000 } else { n };
    (MIN_UNIX..=MAX_UNIX).contains(&secs).then_some(secs)
}

fn akamai_exp(v: &str) -> Option<i64> {
    // The first field may carry the token's own name: `hdntl=exp=…`.
    v.split(['~', '&', '/', ','])
        .find_map(|part| {
            part.strip_prefix("exp=")
                .or_else(|| part.split_once('=')?.1.strip_prefix("exp="))
        })
        .and_then(unix_value)
}

fn parse_amz_date(v: &str) -> Option<i64> {
    // `20261123T120000Z`, the ISO 8601 basic format SigV4 uses.
    OffsetDateTime::parse(v, &Iso8601::DEFAULT)
        .ok()
        .map(|d| d.unix_timestamp())
}

fn looks_like_jwt(v: &str) -> bool {
    v.len() > 20
        && v.starts_with("eyJ")
        && v.split('.').count() == 3
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'='))
}

fn jwt_exp(v: &str) -> Option<i64> {
    let payload = v.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let json: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let exp = json.get("exp")?.as_i64()?;
    (MIN_UNIX..=MAX_UNIX).contains(&exp).then_some(exp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exp(url: &str) -> Option<i64> {
        url_expiry(&Url::parse(url).unwrap()).map(|t| t.unix_timestamp())
    }

    #[test]
    fn plain_expiry_parameters() {
        assert_eq!(
            exp("https://c/x.m3u8?expires=1900000000&sig=ab"),
            Some(1_900_000_000)
        );
        assert_eq!(
            exp("https://c/x.m3u8?Expires=1900000000"),
            Some(1_900_000_000)
        );
        assert_eq!(exp("https://c/x.m3u8?e=1900000000"), Some(1_900_000_000));
        assert_eq!(
            exp("https://c/x.m3u8?exp=1900000000000"),
            Some(1_900_000_000),
            "milliseconds"
        );
        assert_eq!(
            exp("https://c/x.m3u8?e=3&exp=abc"),
            None,
            "implausible values are ignored"
        );
        assert_eq!(exp("https://c/x.m3u8"), None);
    }

    #[test]
    fn the_earliest_of_several_wins() {
        assert_eq!(
            exp("https://c/x.m3u8?expires=1900000500&hdnts=st%3D1%7Eexp%3D1900000100%7Eacl%3D%2F*"),
            Some(1_900_000_100)
        );
    }

    #[test]
    fn s3_presigned_urls() {
        assert_eq!(
            exp(
                "https://b.s3.amazonaws.com/k?X-Amz-Date=20261123T120000Z&X-Amz-Expires=3600&X-Amz-Signature=f"
            ),
            Some(
                OffsetDateTime::parse(
                    "2026-11-23T13:00:00Z",
                    &time::format_description::well_known::Rfc3339
                )
                .unwrap()
                .unix_timestamp()
            )
        );
    }

    #[test]
    fn akamai_tokens_in_query_and_path() {
        assert_eq!(
            exp("https://c/x.m3u8?hdnts=exp=1900000000~acl=/*~hmac=ab"),
            Some(1_900_000_000)
        );
        assert_eq!(
            exp("https://c/hdntl=exp=1900000001~acl=%2f*~hmac=cd/x.m3u8"),
            Some(1_900_000_001)
        );
    }

    #[test]
    fn jwt_exp_claims() {
        let payload = URL_SAFE_NO_PAD.encode(br#"{"sub":"x","exp":1900000002}"#);
        let jwt = format!("eyJhbGciOiJIUzI1NiJ9.{payload}.c2ln");
        assert_eq!(
            exp(&format!("https://c/x.m3u8?token={jwt}")),
            Some(1_900_000_002)
        );
        assert_eq!(exp(&format!("https://c/{jwt}/x.m3u8")), Some(1_900_000_002));
    }
}
