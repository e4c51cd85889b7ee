//! A client's `Range` served from a cached body (RFC 9110 §14): one range gets a 206 with
//! its `Content-Range`; a range past the end gets a 416; anything else (several ranges, a
//! malformed header, a playlist, which is rewritten whole) gets the whole body, as a server
//! may always answer.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use bytes::Bytes;
use futures::StreamExt;

use super::tiers::{Entry, EntryKind};
use crate::proxy::client::UpstreamResponse;

/// Pieces a cached body is handed to the server in: a 16 MB segment is not one write.
const PIECE: usize = 256 * 1024;

#[derive(Debug, PartialEq, Eq)]
enum Want {
    Whole,
    /// First and last byte, inclusive.
    Part(u64, u64),
    Unsatisfiable,
}

fn want(range: Option<&HeaderValue>, len: u64) -> Want {
    let Some(spec) = range
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().strip_prefix("bytes="))
    else {
        return Want::Whole;
    };
    let Some((first, last)) = spec.split_once('-').filter(|_| !spec.contains(',')) else {
        return Want::Whole;
    };
    let number = |s: &str| s.trim().parse::<u64>().ok();
    match (first.trim().is_empty(), number(first), number(last)) {
        (true, _, Some(0)) => Want::Unsatisfiable,
        (true, _, Some(n)) if len > 0 => Want::Part(len.saturating_sub(n), len - 1),
        (true, _, Some(_)) => Want::Unsatisfiable,
        (false, Some(a), _) if a >= len => Want::Unsatisfiable,
        (false, Some(a), None) if last.trim().is_empty() => Want::Part(a, len - 1),
        (false, Some(a), Some(b)) if a <= b => Want::Part(a, b.min(len - 1)),
        _ => Want::Whole,
    }
}

/// The cached entry as an upstream answer to a request with `range`.
pub fn respond(entry: &Entry, range: Option<&HeaderValue>) -> UpstreamResponse {
    let len = entry.body.len() as u64;
    let mut headers = entry.meta.headers.clone();
    headers.remove(header::CONTENT_RANGE);
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    let range = range.filter(|_| entry.meta.kind == EntryKind::Segment);
    let (status, body) = match want(range, len) {
        Want::Whole => (StatusCode::OK, entry.body.clone()),
        Want::Part(a, b) => {
            let content_range = format!("bytes {a}-{b}/{len}");
            insert(&mut headers, header::CONTENT_RANGE, &content_range);
            let body = entry.body.slice(a as usize..=b as usize);
            (StatusCode::PARTIAL_CONTENT, body)
        }
        Want::Unsatisfiable => {
            insert(
                &mut headers,
                header::CONTENT_RANGE,
                &format!("bytes */{len}"),
            );
            (StatusCode::RANGE_NOT_SATISFIABLE, Bytes::new())
        }
    };
    insert(
        &mut headers,
        header::CONTENT_LENGTH,
        &body.len().to_string(),
    );
    UpstreamResponse::shared(status, headers, pieces(body))
}

fn insert(headers: &mut HeaderMap, name: header::HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}

fn pieces(body: Bytes) -> crate::proxy::client::SharedStream {
    let count = body.len().div_ceil(PIECE);
    futures::stream::iter((0..count).map(move |i| {
        let end = ((i + 1) * PIECE).min(body.len());
        Ok(body.slice(i * PIECE..end))
    }))
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(range: &str, len: u64) -> Want {
        want(Some(&HeaderValue::from_str(range).unwrap()), len)
    }

    #[test]
    fn one_range_is_a_part_past_the_end_is_unsatisfiable_the_rest_is_whole() {
        assert_eq!(want(None, 100), Want::Whole);
        assert_eq!(w("bytes=0-9", 100), Want::Part(0, 9));
        assert_eq!(w("bytes=90-", 100), Want::Part(90, 99));
        assert_eq!(w("bytes=50-1000", 100), Want::Part(50, 99));
        assert_eq!(w("bytes=-10", 100), Want::Part(90, 99));
        assert_eq!(w("bytes=-1000", 100), Want::Part(0, 99));
        assert_eq!(w("bytes=100-", 100), Want::Unsatisfiable);
        assert_eq!(w("bytes=-0", 100), Want::Unsatisfiable);
        assert_eq!(w("bytes=-5", 0), Want::Unsatisfiable);
        for whole in [
            "bytes=0-1,5-9",
            "bytes=9-1",
            "items=0-1",
            "bytes=x-1",
            "bytes=-",
        ] {
            assert_eq!(w(whole, 100), Want::Whole, "{whole}");
        }
    }
}
