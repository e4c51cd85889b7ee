//! Ranking: an adaptive master playlist first (the player picks the rendition), then by
//! resolution, then by the configured provider order, keeping each provider's own order.

use crate::models::{ExtractedStream, StreamKind};

/// Height in pixels a quality label names (`1080p`, `720`, `4K`, `FHD`…), if any.
pub fn height(quality: Option<&str>) -> Option<u32> {
    let q = quality?.trim().to_ascii_lowercase();
    match q.as_str() {
        "4k" | "uhd" | "2160" => return Some(2160),
        "2k" | "1440" => return Some(1440),
        "fhd" | "full hd" => return Some(1080),
        "hd" => return Some(720),
        "sd" => return Some(480),
        _ => {}
    }
    // A bare number, or digits followed by `p`/`i` ("1080p", "Torrentio 720p HDR"); not
    // "x264" or "h265".
    let bytes = q.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric()) {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            let whole = start == 0 && i == bytes.len();
            let suffixed = matches!(bytes.get(i), Some(b'p' | b'i'))
                && !bytes.get(i + 1).is_some_and(|b| b.is_ascii_alphanumeric());
            if (whole || suffixed)
                && let Ok(h) = q[start..i].parse::<u32>()
                && (144..=4320).contains(&h)
            {
                return Some(h);
            }
        }
        i += 1;
    }
    None
}

/// An adaptive HLS master: `auto`/`default`/unlabelled HLS.
pub fn is_adaptive(stream: &ExtractedStream) -> bool {
    stream.kind == StreamKind::Hls
        && match stream.quality.as_deref().map(str::trim) {
            None | Some("") => true,
            Some(q) => matches!(
                q.to_ascii_lowercase().as_str(),
                "auto" | "default" | "adaptive" | "multi"
            ),
        }
}

/// Sorts `streams` best first. Stable, so equal streams keep the providers' order.
pub fn rank(streams: &mut [ExtractedStream], provider_order: &[String]) {
    let position = |p: &str| {
        provider_order
            .iter()
            .position(|x| x == p)
            .unwrap_or(usize::MAX)
    };
    streams.sort_by_key(|s| {
        (
            !is_adaptive(s),
            std::cmp::Reverse(height(s.quality.as_deref()).unwrap_or(0)),
            position(&s.provider),
        )
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(provider: &str, quality: Option<&str>, kind: StreamKind) -> ExtractedStream {
        ExtractedStream::remote(
            provider,
            url::Url::parse("https://c/x").unwrap(),
            kind,
            quality.map(String::from),
            Default::default(),
        )
    }

    #[test]
    fn heights_from_labels() {
        assert_eq!(height(Some("1080p")), Some(1080));
        assert_eq!(height(Some("720")), Some(720));
        assert_eq!(height(Some("4K")), Some(2160));
        assert_eq!(height(Some("Torrentio 1080p HDR")), Some(1080));
        assert_eq!(height(Some("auto")), None);
        assert_eq!(height(Some("x264")), None);
    }

    #[test]
    fn master_first_then_resolution_then_provider_order() {
        let order: Vec<String> = ["library", "consumet"].map(String::from).to_vec();
        let mut v = vec![
            s("consumet", Some("360p"), StreamKind::Hls),
            s("consumet", Some("1080p"), StreamKind::Hls),
            s("consumet", Some("720p"), StreamKind::Mp4),
            s("consumet", Some("auto"), StreamKind::Hls),
            s("library", Some("1080p"), StreamKind::Mp4),
        ];
        rank(&mut v, &order);
        let got: Vec<_> = v
            .iter()
            .map(|s| (s.provider.as_str(), s.quality.as_deref().unwrap()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("consumet", "auto"),
                ("library", "1080p"),
                ("consumet", "1080p"),
                ("consumet", "720p"),
                ("consumet", "360p"),
            ]
        );
    }
}
