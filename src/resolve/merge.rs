//! Merging providers' answers into one: shared by the resolver (one answer per provider)
//! and the Stremio provider (one answer per addon), so both agree on what a merge keeps.

use crate::models::{ProviderStreams, Subtitle};

/// Adds `found` to `into`: its streams after those already there (ranking comes later and
/// is stable), its skipped count, the subtitles not already listed, the first title, and the
/// first markers that come with streams (markers of an answer without a source describe
/// nothing playable).
pub fn merge(into: &mut ProviderStreams, found: ProviderStreams) {
    if into.title.is_none() {
        into.title = found.title;
    }
    if into.markers.is_none()
        && found.markers.as_ref().is_some_and(|m| !m.is_empty())
        && !found.streams.is_empty()
    {
        into.markers = found.markers;
    }
    into.streams.extend(found.streams);
    into.skipped += found.skipped;
    for sub in found.subtitles {
        push_subtitle(&mut into.subtitles, sub);
    }
}

/// Adds `sub` unless a subtitle with the same source is listed (two addons, or two
/// versions of one file, often list the same track).
pub fn push_subtitle(subtitles: &mut Vec<Subtitle>, sub: Subtitle) {
    if !subtitles.iter().any(|s| s.source == sub.source) {
        subtitles.push(sub);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{ExtractedStream, Markers, Range, StreamKind, StreamSource};
    use std::collections::BTreeMap;
    use url::Url;

    fn stream(url: &str) -> ExtractedStream {
        let url = Url::parse(url).unwrap();
        ExtractedStream::remote("p", url, StreamKind::Hls, None, BTreeMap::new())
    }

    fn subtitle(url: &str) -> Subtitle {
        Subtitle {
            source: StreamSource::Remote {
                url: Url::parse(url).unwrap(),
                headers: BTreeMap::new(),
            },
            lang: "en".into(),
            label: None,
            provider: "p".into(),
            burn_in: None,
            ass: None,
        }
    }

    fn markers() -> Option<Markers> {
        Some(Markers {
            intro: Some(Range {
                start: 1.0,
                end: 2.0,
            }),
            outro: None,
            recap: None,
        })
    }

    #[test]
    fn answers_add_up_without_duplicate_subtitles() {
        let mut merged = ProviderStreams::default();
        merge(
            &mut merged,
            ProviderStreams {
                streams: vec![stream("https://a/1.m3u8")],
                subtitles: vec![subtitle("https://a/en.vtt")],
                skipped: 2,
                ..Default::default()
            },
        );
        merge(
            &mut merged,
            ProviderStreams {
                streams: vec![stream("https://b/1.m3u8")],
                subtitles: vec![subtitle("https://a/en.vtt"), subtitle("https://b/fr.vtt")],
                skipped: 1,
                title: Some("B".into()),
                ..Default::default()
            },
        );
        assert_eq!(merged.streams.len(), 2);
        assert_eq!(merged.subtitles.len(), 2);
        assert_eq!(merged.skipped, 3);
        assert_eq!(merged.title.as_deref(), Some("B"));
    }

    #[test]
    fn markers_come_from_the_first_answer_with_streams() {
        let mut merged = ProviderStreams::default();
        let no_streams = ProviderStreams {
            markers: markers(),
            ..Default::default()
        };
        merge(&mut merged, no_streams);
        assert_eq!(merged.markers, None);
        let with_streams = ProviderStreams {
            streams: vec![stream("https://a/1.m3u8")],
            markers: markers(),
            title: Some("A".into()),
            ..Default::default()
        };
        merge(&mut merged, with_streams);
        assert_eq!(merged.markers, markers());
    }
}
