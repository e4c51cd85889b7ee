//! Which upstream answers may be shared and kept, as a shared HTTP cache decides (RFC 9111
//! §3), narrowed to what a player fetches: a whole `200` with a known, bounded length (or a
//! playlist, bounded by the playlist cap), never one the upstream marked `private`,
//! `no-store` or `no-cache`, never one that sets a cookie. Playlists are kept only when they
//! cannot change: a live or event playlist (it has `EXT-X-TARGETDURATION` but no
//! `EXT-X-ENDLIST`) is fetched again by every reload.

use axum::http::{HeaderMap, StatusCode, header};

use crate::proxy::sniff::is_playlist_type;

/// Why an answer is relayed to its one requester instead of being shared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotShared {
    Status,
    Private,
    SetsCookie,
    /// Longer than the largest cached object, or of unknown length and not a playlist.
    Size,
}

/// How many bytes a shared answer may bring (its length, or the cap of a playlist whose
/// length is unknown), or why it is not shared.
pub fn shareable(
    status: StatusCode,
    headers: &HeaderMap,
    max_object: u64,
) -> Result<u64, NotShared> {
    if status != StatusCode::OK {
        return Err(NotShared::Status);
    }
    if headers.contains_key(header::SET_COOKIE) {
        return Err(NotShared::SetsCookie);
    }
    if directives(headers).any(|d| matches!(d.0.as_str(), "private" | "no-store" | "no-cache")) {
        return Err(NotShared::Private);
    }
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let playlist = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(is_playlist_type);
    match length {
        Some(n) if n <= max_object => Ok(n),
        None if playlist => Ok(max_object),
        _ => Err(NotShared::Size),
    }
}

/// Seconds the upstream lets a shared cache keep the answer (`s-maxage`, else `max-age`), if
/// it says.
pub fn max_age(headers: &HeaderMap) -> Option<u64> {
    let (mut max_age, mut s_maxage) = (None, None);
    for (name, value) in directives(headers) {
        let secs = value.and_then(|v| v.trim_matches('"').parse::<u64>().ok());
        match name.as_str() {
            "max-age" => max_age = max_age.or(secs),
            "s-maxage" => s_maxage = s_maxage.or(secs),
            _ => {}
        }
    }
    s_maxage.or(max_age)
}

/// `Cache-Control` directives, lower-cased, with their values.
fn directives(headers: &HeaderMap) -> impl Iterator<Item = (String, Option<String>)> + '_ {
    headers
        .get_all(header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|d| {
            let (name, value) = match d.split_once('=') {
                Some((n, v)) => (n, Some(v.trim().to_string())),
                None => (d, None),
            };
            (name.trim().to_ascii_lowercase(), value)
        })
}

/// A playlist that may still change: a media playlist (`EXT-X-TARGETDURATION`) without
/// `EXT-X-ENDLIST` and not of type VOD. A multivariant playlist has no target duration.
pub fn is_live_playlist(body: &[u8]) -> bool {
    let has = |tag: &[u8]| memchr::memmem::find(body, tag).is_some();
    has(b"#EXT-X-TARGETDURATION") && !has(b"#EXT-X-ENDLIST") && !has(b"#EXT-X-PLAYLIST-TYPE:VOD")
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(k.clone(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    const LEN: header::HeaderName = header::CONTENT_LENGTH;

    #[test]
    fn only_a_whole_public_answer_of_known_bounded_length_is_shared() {
        let ok = headers(&[(LEN, "1000"), (header::CACHE_CONTROL, "public, max-age=60")]);
        assert_eq!(shareable(StatusCode::OK, &ok, 1000), Ok(1000));
        assert_eq!(
            shareable(StatusCode::PARTIAL_CONTENT, &ok, 1000),
            Err(NotShared::Status)
        );
        assert_eq!(shareable(StatusCode::OK, &ok, 999), Err(NotShared::Size));
        for private in ["private", "no-store", "No-Cache", "max-age=5, private"] {
            let h = headers(&[(LEN, "10"), (header::CACHE_CONTROL, private)]);
            assert_eq!(
                shareable(StatusCode::OK, &h, 1000),
                Err(NotShared::Private),
                "{private}"
            );
        }
        let cookie = headers(&[(LEN, "10"), (header::SET_COOKIE, "a=1")]);
        assert_eq!(
            shareable(StatusCode::OK, &cookie, 1000),
            Err(NotShared::SetsCookie)
        );
        // Of unknown length: only a playlist, bounded by the cap.
        let chunked = headers(&[(header::CONTENT_TYPE, "video/mp2t")]);
        assert_eq!(
            shareable(StatusCode::OK, &chunked, 1000),
            Err(NotShared::Size)
        );
        let playlist = headers(&[(header::CONTENT_TYPE, "application/x-mpegURL")]);
        assert_eq!(shareable(StatusCode::OK, &playlist, 1000), Ok(1000));
    }

    #[test]
    fn the_shared_lifetime_prefers_s_maxage() {
        let h = |v: &str| headers(&[(header::CACHE_CONTROL, v)]);
        assert_eq!(max_age(&h("public, max-age=60")), Some(60));
        assert_eq!(max_age(&h("max-age=60, s-maxage=5")), Some(5));
        assert_eq!(max_age(&h("max-age=\"30\"")), Some(30));
        assert_eq!(max_age(&h("public")), None);
        assert_eq!(max_age(&HeaderMap::new()), None);
    }

    #[test]
    fn a_media_playlist_without_an_end_is_live() {
        let live = b"#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\na.ts\n";
        let vod = b"#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\na.ts\n#EXT-X-ENDLIST\n";
        let typed = b"#EXTM3U\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-TARGETDURATION:4\na.ts\n";
        let event = b"#EXTM3U\n#EXT-X-PLAYLIST-TYPE:EVENT\n#EXT-X-TARGETDURATION:4\na.ts\n";
        let master = b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n";
        assert!(is_live_playlist(live));
        assert!(is_live_playlist(event));
        assert!(!is_live_playlist(vod));
        assert!(!is_live_playlist(typed));
        assert!(!is_live_playlist(master));
    }
}
