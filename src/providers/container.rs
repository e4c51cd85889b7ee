//! How a provider's single-file URL can be played, from its extension: by the browser, by the
//! playback engine (a container browsers do not play), or not at all. Shared by every provider
//! that lists progressive files (Stremio `url` streams, Consumet's `isM3U8: false` sources).

use crate::models::StreamKind;

/// How a stream can be played.
#[derive(Debug, PartialEq)]
pub(crate) enum Play {
    /// By the browser itself: HLS through hls.js, or a file with Range requests.
    Browser(StreamKind),
    /// A single file in a container browsers do not play (mkv, avi, ts…): by the playback
    /// engine, which reads it through the proxy and remuxes or transcodes it.
    Engine,
    /// Not by us (DASH, disc images, RealMedia).
    Nowhere,
}

/// What the extension `ext` (lower case, no dot) of a URL or file name says; `None` when it
/// says nothing.
pub(crate) fn by_extension(ext: &str) -> Option<Play> {
    Some(match ext {
        "m3u8" | "m3u" => Play::Browser(StreamKind::Hls),
        "mp4" | "m4v" | "webm" | "mov" => Play::Browser(StreamKind::Mp4),
        // The demuxers the engine allows (`probe::REMOTE_DEMUXERS`).
        "mkv" | "avi" | "wmv" | "flv" | "ts" | "m2ts" | "mts" | "divx" | "mpg" | "mpeg" => {
            Play::Engine
        }
        "mpd" | "iso" | "rmvb" => Play::Nowhere,
        _ => return None,
    })
}

/// The extension of the last segment of `path` (a URL path or a file name), lower case.
pub(crate) fn extension(path: &str) -> Option<String> {
    let last = path.rsplit('/').next().unwrap_or("");
    last.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_browsers_do_not_play_go_to_the_engine() {
        for path in ["/a/Film.MKV", "/b.avi", "/c/d.m2ts", "x.ts"] {
            let ext = extension(path).unwrap();
            assert_eq!(by_extension(&ext), Some(Play::Engine), "{path}");
        }
        assert_eq!(
            by_extension(&extension("/v.mp4").unwrap()),
            Some(Play::Browser(StreamKind::Mp4))
        );
        assert_eq!(by_extension("iso"), Some(Play::Nowhere));
        assert_eq!(extension("/dir.v1/file"), None);
        assert_eq!(by_extension("php"), None);
    }
}
