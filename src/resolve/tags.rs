//! Audio-language facts from French release-name tags (`MULTi.VFF.1080p`, `VOSTFR`, …) in a
//! Stremio stream's name/description or a source label, for ranking by the viewer's languages
//! where a source does not list its tracks. Meanings and the rule: protocols-addendum.md §6.
//!
//! Word tokens instead of regexes: a tag only counts as a whole token (`Frenchie` is nothing,
//! `TRUEFRENCH` is one tag), and "not followed by `sub`" is a look at the next token, which the
//! `regex` crate (no look-around) could not express anyway.

/// Which French dub a release says it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrenchDub {
    /// `VFF`, `TRUEFRENCH`: dubbed in France.
    Vff,
    /// `VFQ`: dubbed in Quebec.
    Vfq,
    /// `VFI`: the international French version.
    Vfi,
    /// `VF2`: both dubs.
    Vf2,
    /// `VF`, `FRENCH`: a French dub of unstated origin.
    Vf,
}

/// What the tags of one release say about its audio and French subtitles.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReleaseTags {
    /// French audio, and which dub (the first tag met wins).
    pub french: Option<FrenchDub>,
    /// French subtitles (`VOSTFR`, `SUBFRENCH`, `FRENCH.SUBS`): the audio is the original.
    pub french_subs: bool,
    /// More than one audio track (`MULTi`).
    pub multi: bool,
    /// Original audio (`VO`, or implied by `VOSTFR`).
    pub original: bool,
}

impl ReleaseTags {
    pub fn is_empty(&self) -> bool {
        *self == ReleaseTags::default()
    }
}

/// Only this many bytes are read: release names are under 256 bytes and a Stremio description
/// puts them on its first lines; the cap bounds the work an addon's answer can ask for.
pub const MAX_INPUT: usize = 2048;

/// Audio-dub tags, compared case-insensitively with a whole token.
const DUBS: &[(&str, FrenchDub)] = &[
    ("VFF", FrenchDub::Vff),
    ("TRUEFRENCH", FrenchDub::Vff),
    ("VFQ", FrenchDub::Vfq),
    ("VFI", FrenchDub::Vfi),
    ("VF2", FrenchDub::Vf2),
    ("VF", FrenchDub::Vf),
    ("FRENCH", FrenchDub::Vf),
];

/// Tags naming French subtitles as one token.
const SUB_TAGS: &[&str] = &["SUBFR", "SUBFRA", "SUBFRENCH"];

/// What follows `VOST` (in the same token or the next one) when the subtitles are French.
const FR_SUFFIXES: &[&str] = &["FR", "FRE", "FRA", "FRENCH"];

/// One word of the input and where it ends, to tell `VOST-FR` from `VOST … FR`.
struct Token<'a> {
    text: &'a str,
    start: usize,
    end: usize,
}

fn tokens(input: &str) -> Vec<Token<'_>> {
    let mut cut = input.len().min(MAX_INPUT);
    while !input.is_char_boundary(cut) {
        cut -= 1;
    }
    let input = &input[..cut];
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in input.char_indices().chain([(cut, ' ')]) {
        match (c.is_alphanumeric(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push(Token {
                    text: &input[s..i],
                    start: s,
                    end: i,
                });
                start = None;
            }
            _ => {}
        }
    }
    out
}

/// `next` starts with `sub` and touches `t` or is one separator away (`FRENCH.SUBS`,
/// `MULTi-Sub`), as AIOStreams' `(?![ .\-_]?sub)`.
fn followed_by_sub(t: &Token<'_>, next: Option<&Token<'_>>) -> bool {
    next.is_some_and(|n| {
        n.start - t.end <= 1
            && n.text.len() >= 3
            && n.text.is_char_boundary(3)
            && n.text[..3].eq_ignore_ascii_case("sub")
    })
}

fn is_multi(text: &str) -> bool {
    // `MULTi`, and `MULTI3` (three tracks), as TRaSH's `(Multi)(\b|\d)`.
    text.len() >= 5
        && text.is_char_boundary(5)
        && text[..5].eq_ignore_ascii_case("MULTI")
        && text[5..].bytes().all(|b| b.is_ascii_digit())
}

/// `VOSTFR`, `VOSTFRE`, or `VOST` with `FR` as the next token (`VOST-FR`).
fn is_vostfr(text: &str, next: Option<&Token<'_>>) -> bool {
    if text.len() < 4 || !text.is_char_boundary(4) || !text[..4].eq_ignore_ascii_case("VOST") {
        return false;
    }
    let rest = &text[4..];
    let fr = |s: &str| FR_SUFFIXES.iter().any(|f| s.eq_ignore_ascii_case(f));
    if rest.is_empty() {
        next.is_some_and(|n| fr(n.text))
    } else {
        FR_SUFFIXES.iter().any(|f| {
            rest.len() >= f.len()
                && rest.is_char_boundary(rest.len() - f.len())
                && rest[rest.len() - f.len()..].eq_ignore_ascii_case(f)
        })
    }
}

/// The language facts the tags of `text` state.
pub fn classify(text: &str) -> ReleaseTags {
    let words = tokens(text);
    let mut tags = ReleaseTags::default();
    for (i, t) in words.iter().enumerate() {
        let next = words.get(i + 1);
        let w = t.text;
        if is_vostfr(w, next) || SUB_TAGS.iter().any(|s| w.eq_ignore_ascii_case(s)) {
            tags.french_subs = true;
            tags.original = true;
        } else if w.eq_ignore_ascii_case("VO") {
            tags.original = true;
        } else if is_multi(w) {
            tags.multi |= !followed_by_sub(t, next);
        } else if let Some((_, dub)) = DUBS.iter().find(|(tag, _)| w.eq_ignore_ascii_case(tag)) {
            if !followed_by_sub(t, next) {
                tags.french = tags.french.or(Some(*dub));
            } else if *dub == FrenchDub::Vf {
                // `FRENCH.SUBS`: French subtitles, not a dub.
                tags.french_subs = true;
            }
        }
    }
    tags
}

#[cfg(test)]
mod tests {
    use super::*;
    use FrenchDub::*;

    fn t(french: Option<FrenchDub>, subs: bool, multi: bool, original: bool) -> ReleaseTags {
        ReleaseTags {
            french,
            french_subs: subs,
            multi,
            original,
        }
    }

    #[test]
    fn release_names_give_their_audio_languages() {
        let cases: &[(&str, ReleaseTags)] = &[
            (
                "Dune.Part.Two.2024.MULTi.VFF.2160p.WEB-DL.DV.HDR.H265-FW",
                t(Some(Vff), false, true, false),
            ),
            (
                "Oppenheimer.2023.TRUEFRENCH.1080p.BluRay.x264-LOST",
                t(Some(Vff), false, false, false),
            ),
            (
                "Les.Boys.1997.VFQ.720p.WEB.H264",
                t(Some(Vfq), false, false, false),
            ),
            (
                "Movie.2021.MULTi.VF2.1080p.BluRay",
                t(Some(Vf2), false, true, false),
            ),
            ("Movie 2020 VFI 1080p", t(Some(Vfi), false, false, false)),
            (
                "Torrentio 1080p · The.Matrix.1999.FRENCH.1080p.BluRay",
                t(Some(Vf), false, false, false),
            ),
            ("[VF] Film (2019) 720p", t(Some(Vf), false, false, false)),
            (
                "Shogun.S01E01.VOSTFR.1080p.WEB.H264-NoTag",
                t(None, true, false, true),
            ),
            ("Show S02E03 VOST-FR 720p", t(None, true, false, true)),
            ("Anime.Ep12.VOSTFRE.1080p", t(None, true, false, true)),
            (
                "Movie.2022.SUBFRENCH.1080p.WEBRip",
                t(None, true, false, false).with_original(),
            ),
            (
                "Movie.2022.1080p.WEB.FRENCH.SUBS",
                t(None, true, false, false),
            ),
            ("Movie.2022.MULTi-Subs.1080p", t(None, false, false, false)),
            ("Movie.2022.MULTI3.1080p", t(None, false, true, false)),
            ("Movie.2022.MULTi.VO.1080p", t(None, false, true, true)),
            ("Frenchie.2021.1080p.WEB", ReleaseTags::default()),
            ("Vostok.1999.VFX.Making.Of", ReleaseTags::default()),
            (
                "The French Dispatch 2021 1080p",
                t(Some(Vf), false, false, false),
            ),
            ("Movie.2020.1080p.x264-GRP", ReleaseTags::default()),
            ("", ReleaseTags::default()),
        ];
        for (name, want) in cases {
            assert_eq!(classify(name), *want, "{name}");
        }
    }

    impl ReleaseTags {
        fn with_original(mut self) -> Self {
            self.original = true;
            self
        }
    }

    #[test]
    fn only_the_first_bytes_are_read_and_a_cut_never_splits_a_character() {
        let long = format!("{}VFF", "é".repeat(MAX_INPUT / 2));
        assert!(classify(&long).is_empty(), "a tag past the cap is not read");
        let near = format!("VFF {}", "é".repeat(MAX_INPUT));
        assert_eq!(classify(&near).french, Some(Vff));
    }
}
