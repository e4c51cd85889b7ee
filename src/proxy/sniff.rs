//! Classifying an upstream answer: a document to rewrite (playlist, steering JSON) or a
//! stream to relay. An extension or a wrong Content-Type proves nothing, so a body that may
//! be a playlist is recognised by its first bytes.

use super::range::Part;
use super::token::Kind;

/// The signature of an HLS playlist.
const MAGIC: &[u8] = b"#EXTM3U";
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// What the proxy does with an answer, decided from its headers before any body byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Relayed byte for byte.
    Stream,
    /// A JSON document (the signed `k=j`): rewritten.
    Json,
    /// A subtitle file (the signed `k=t`): converted to WebVTT.
    Subtitle,
    /// Declared a playlist: rewritten.
    Playlist,
    /// Decided by its first bytes ([`sniff`]).
    Sniff,
}

pub fn classify(
    kind: Kind,
    part: Part,
    content_type: Option<&str>,
    content_length: Option<u64>,
) -> Class {
    if part == Part::NoBody {
        return Class::Stream;
    }
    match kind {
        Kind::Json => return Class::Json,
        Kind::Subtitle => return Class::Subtitle,
        Kind::Media => {}
    }
    if content_type.is_some_and(is_playlist_type) {
        return Class::Playlist;
    }
    // A range that does not start at 0 cannot be sniffed, nor can a body shorter than the
    // signature be a playlist.
    let sniffable =
        part.from_first_byte() && content_length.is_none_or(|n| n >= MAGIC.len() as u64);
    if sniffable {
        Class::Sniff
    } else {
        Class::Stream
    }
}

/// `application/vnd.apple.mpegurl`, `audio/x-mpegurl` and their kin.
pub fn is_playlist_type(content_type: &str) -> bool {
    content_type.to_ascii_lowercase().contains("mpegurl")
}

#[derive(Debug, PartialEq, Eq)]
pub enum Sniff {
    Playlist,
    Other,
    NeedMore,
}

/// `#EXTM3U` after an optional BOM and blank lines (some playlists start with a newline).
pub fn sniff(head: &[u8]) -> Sniff {
    let rest = head.strip_prefix(BOM).unwrap_or(head);
    if head.len() < BOM.len() && BOM.starts_with(head) {
        return Sniff::NeedMore;
    }
    let start = rest
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        .unwrap_or(rest.len());
    if start > 64 {
        return Sniff::Other;
    }
    let rest = &rest[start..];
    if rest.len() >= MAGIC.len() {
        if rest.starts_with(MAGIC) {
            Sniff::Playlist
        } else {
            Sniff::Other
        }
    } else if MAGIC.starts_with(rest) {
        Sniff::NeedMore
    } else {
        Sniff::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn playlists_are_recognised_by_their_first_bytes() {
        for head in [
            &b"#EXTM3U\n"[..],
            b"\xEF\xBB\xBF#EXTM3U",
            b"\n\r\n#EXTM3U\n#EXT",
        ] {
            assert_eq!(sniff(head), Sniff::Playlist, "{head:?}");
        }
        for head in [
            &b"\x47\x40\x11"[..],
            b"\0\0\0\x18ftyp",
            b"#EXTINF",
            b"<html>",
            b"\xEF\xBB\xBFx",
        ] {
            assert_eq!(sniff(head), Sniff::Other, "{head:?}");
        }
        for head in [&b""[..], b"\xEF", b"\xEF\xBB\xBF", b"#EXT", b"\n\n"] {
            assert_eq!(sniff(head), Sniff::NeedMore, "{head:?}");
        }
    }

    #[test]
    fn a_json_url_or_a_declared_playlist_is_rewritten_without_sniffing() {
        let m3u8 = Some("application/vnd.apple.mpegurl");
        assert_eq!(classify(Kind::Json, Part::Whole, m3u8, None), Class::Json);
        assert_eq!(
            classify(Kind::Json, Part::Middle, None, None),
            Class::Json,
            "refetched whole, then rewritten"
        );
        for part in [Part::Whole, Part::Start, Part::Middle] {
            assert_eq!(classify(Kind::Media, part, m3u8, None), Class::Playlist);
        }
        assert_eq!(
            classify(Kind::Media, Part::Whole, Some("Audio/X-MpegURL"), Some(3)),
            Class::Playlist
        );
    }

    #[test]
    fn other_answers_are_sniffed_when_their_first_bytes_are_there_and_relayed_otherwise() {
        let ts = Some("video/mp2t");
        assert_eq!(classify(Kind::Media, Part::Whole, ts, None), Class::Sniff);
        assert_eq!(
            classify(Kind::Media, Part::Start, None, Some(7)),
            Class::Sniff
        );
        // Too short to hold `#EXTM3U`, or a range from the middle: relayed unread.
        assert_eq!(
            classify(Kind::Media, Part::Whole, ts, Some(6)),
            Class::Stream
        );
        assert_eq!(classify(Kind::Media, Part::Middle, ts, None), Class::Stream);
        // Nothing to classify (a 304), even for a JSON URL or a declared playlist.
        let m3u8 = Some("application/x-mpegurl");
        assert_eq!(
            classify(Kind::Json, Part::NoBody, m3u8, None),
            Class::Stream
        );
        assert_eq!(
            classify(Kind::Media, Part::NoBody, m3u8, None),
            Class::Stream
        );
    }
}
