//! The viewer's languages in the ranking. The resolve answer is cached for every viewer, so
//! this runs at answer time, after the cache: within each quality bucket of the ranked list
//! (same adaptive flag and height), sources whose audio matches come first; the order never
//! changes across buckets, and equal sources keep their order.

use super::rank::{height, is_adaptive};
use super::tags::{ReleaseTags, classify};
use crate::models::ExtractedStream;
use crate::store::languages::{LanguageMode, LanguagePreferences, SeriesLanguageChoice};

/// The audio a viewer wants, as the ranking reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wanted {
    /// No preference: the ranking is left as it is.
    Nothing,
    /// French audio (VF).
    French,
    /// The original audio with French subtitles (VOSTFR).
    OriginalWithFrenchSubs,
    /// These audio languages, most wanted first.
    Audio(Vec<String>),
}

impl Wanted {
    /// What to rank by: a series' last audio choice wins over the mode, the mode over the
    /// ordered list.
    pub fn of(prefs: &LanguagePreferences, series: Option<&SeriesLanguageChoice>) -> Self {
        if let Some(audio) = series.and_then(|c| c.audio.clone()) {
            return Wanted::Audio(vec![audio]);
        }
        match prefs.mode {
            LanguageMode::Vf => Wanted::French,
            LanguageMode::Vostfr => Wanted::OriginalWithFrenchSubs,
            LanguageMode::None => Wanted::Nothing,
            LanguageMode::Forced | LanguageMode::Custom if prefs.audio.is_empty() => {
                Wanted::Nothing
            }
            LanguageMode::Forced | LanguageMode::Custom => Wanted::Audio(prefs.audio.clone()),
        }
    }
}

/// Tags from the stream's label and quality text (a Stremio name · description, a file name).
fn release_tags(s: &ExtractedStream) -> ReleaseTags {
    let mut tags = classify(s.label.as_deref().unwrap_or(""));
    let q = classify(s.quality.as_deref().unwrap_or(""));
    tags.french = tags.french.or(q.french);
    tags.french_subs |= q.french_subs;
    tags.multi |= q.multi;
    tags.original |= q.original;
    tags
}

fn is_french(lang: &str) -> bool {
    lang == "fr" || lang.starts_with("fr-")
}

/// Higher is a better match. Track languages, where the source lists them, beat tags.
fn score(s: &ExtractedStream, wanted: &Wanted) -> usize {
    let tracks = &s.audio_languages;
    let tags = release_tags(s);
    match wanted {
        Wanted::Nothing => 0,
        Wanted::French if !tracks.is_empty() => {
            usize::from(tracks.iter().any(|l| is_french(l))) * 3
        }
        Wanted::French if tags.french.is_some() => 3,
        Wanted::French => usize::from(tags.multi) * 2,
        Wanted::OriginalWithFrenchSubs if tags.french_subs => 3,
        Wanted::OriginalWithFrenchSubs if !tracks.is_empty() => {
            usize::from(tracks.iter().any(|l| !is_french(l) && l != "und")) * 2
        }
        // MULTi carries the original next to the dub; an untagged release is likely the
        // original; a French-only release is the one thing not wanted.
        Wanted::OriginalWithFrenchSubs if tags.multi => 2,
        Wanted::OriginalWithFrenchSubs => usize::from(tags.french.is_none()),
        Wanted::Audio(list) => {
            let from_tags;
            let langs: &[String] = if tracks.is_empty() {
                from_tags = tags
                    .french
                    .map(|_| vec!["fr".to_string()])
                    .unwrap_or_default();
                &from_tags
            } else {
                tracks
            };
            list.iter()
                .position(|want| {
                    langs
                        .iter()
                        .any(|l| l == want || l.split('-').next() == Some(want))
                })
                .map_or(0, |i| list.len() - i)
        }
    }
}

/// Reorders the ranked `streams` by `wanted` inside each quality bucket; true when anything
/// moved.
pub fn prefer(streams: &mut [ExtractedStream], wanted: &Wanted) -> bool {
    if *wanted == Wanted::Nothing {
        return false;
    }
    let bucket = |s: &ExtractedStream| (is_adaptive(s), height(s.quality.as_deref()));
    let mut moved = false;
    let mut start = 0;
    while start < streams.len() {
        let key = bucket(&streams[start]);
        let len = streams[start..]
            .iter()
            .take_while(|s| bucket(s) == key)
            .count();
        let run = &mut streams[start..start + len];
        let scores: Vec<usize> = run.iter().map(|s| score(s, wanted)).collect();
        if scores.windows(2).any(|w| w[0] < w[1]) {
            run.sort_by_cached_key(|s| std::cmp::Reverse(score(s, wanted)));
            moved = true;
        }
        start += len;
    }
    moved
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::StreamKind;

    fn s(label: &str, quality: &str) -> ExtractedStream {
        let mut s = ExtractedStream::remote(
            "stremio",
            url::Url::parse("https://c/x.mp4").unwrap(),
            StreamKind::Mp4,
            Some(quality.into()),
            Default::default(),
        );
        s.label = Some(label.into());
        s
    }

    fn labels(v: &[ExtractedStream]) -> Vec<&str> {
        v.iter().map(|s| s.label.as_deref().unwrap()).collect()
    }

    fn listing() -> Vec<ExtractedStream> {
        vec![
            s("Addon · Movie.2160p.MULTi.VFF", "2160p"),
            s("Addon · Movie.1080p.x264", "1080p"),
            s("Addon · Movie.1080p.VOSTFR", "1080p"),
            s("Addon · Movie.1080p.MULTi.VFF", "1080p"),
            s("Addon · Movie.720p.VOSTFR", "720p"),
        ]
    }

    #[test]
    fn the_wanted_audio_leads_its_quality_bucket_and_never_crosses_buckets() {
        let mut v = listing();
        assert!(prefer(&mut v, &Wanted::French));
        assert_eq!(
            labels(&v),
            [
                "Addon · Movie.2160p.MULTi.VFF",
                "Addon · Movie.1080p.MULTi.VFF",
                "Addon · Movie.1080p.x264",
                "Addon · Movie.1080p.VOSTFR",
                "Addon · Movie.720p.VOSTFR",
            ]
        );
        let mut v = listing();
        assert!(prefer(&mut v, &Wanted::OriginalWithFrenchSubs));
        assert_eq!(labels(&v)[1], "Addon · Movie.1080p.VOSTFR");
        assert_eq!(labels(&v)[4], "Addon · Movie.720p.VOSTFR");
        let mut v = listing();
        assert!(!prefer(&mut v, &Wanted::Nothing));
        assert_eq!(labels(&v), labels(&listing()));
    }

    #[test]
    fn track_languages_beat_tags_and_the_series_choice_beats_the_mode() {
        let mut a = s("Film.VFF.mkv", "1080p");
        a.audio_languages = vec!["en".into()];
        let mut b = s("Film.mkv", "1080p");
        b.audio_languages = vec!["en".into(), "fr".into()];
        let mut v = vec![a, b];
        assert!(prefer(&mut v, &Wanted::French));
        assert_eq!(labels(&v)[0], "Film.mkv");

        let prefs = LanguagePreferences {
            mode: LanguageMode::Vf,
            ..Default::default()
        };
        let choice = SeriesLanguageChoice {
            tmdb_id: 1,
            audio: Some("en".into()),
            subtitles: None,
            updated_at: time::OffsetDateTime::UNIX_EPOCH,
        };
        assert_eq!(Wanted::of(&prefs, None), Wanted::French);
        assert_eq!(
            Wanted::of(&prefs, Some(&choice)),
            Wanted::Audio(vec!["en".into()])
        );
    }
}
