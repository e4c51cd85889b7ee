//! File and folder names → what a file is (protocols.md §4.6, Jellyfin's convention):
//! `Title (Year) [tmdbid-603]` on the folder or the file, `Show [tmdbid-1396]/Season 01/Show S01E02.mkv`,
//! `S01E01-E02` multi-episode files, and sidecar subtitles `Name.lang[.flags].srt|vtt|ass`.
//! Pure functions, so the whole convention is tested without touching a disk.

use crate::models::MediaType;

/// Extensions the scanner treats as video files.
pub const VIDEO_EXTENSIONS: &[&str] = &[
    "mkv", "mp4", "m4v", "mov", "avi", "webm", "ts", "m2ts", "mts", "wmv", "mpg", "mpeg", "flv",
    "ogv",
];

/// Extensions of sidecar subtitles.
pub const SUBTITLE_EXTENSIONS: &[&str] = &["srt", "vtt", "ass", "ssa"];

pub fn is_video(name: &str) -> bool {
    extension(name).is_some_and(|e| VIDEO_EXTENSIONS.contains(&e.as_str()))
}

fn extension(name: &str) -> Option<String> {
    let (_, ext) = name.rsplit_once('.')?;
    Some(ext.to_ascii_lowercase())
}

/// What a file name says about its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub media_type: MediaType,
    pub tmdb_id: u32,
    /// The film's or the show's title.
    pub title: String,
    pub year: Option<u16>,
    /// `(season, first episode, last episode)` for an episode; last = first unless multi-episode.
    pub episode: Option<(u32, u32, u32)>,
    /// The part of an episode file name after `SxxEyy`, if any.
    pub episode_title: Option<String>,
}

/// Why a file could not be identified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error(
        "no TMDB id in the file or folder names: name the folder or the file like 'Title (Year) [tmdbid-603]'"
    )]
    NoTmdbId,
}

/// Identifies a video file from its path components below a library root: the folders from
/// the outermost to the innermost, then the file name.
///
/// The TMDB id is looked for in the folders first, innermost first (a show's id is on the show
/// folder, the file may carry an episode id), then in the file name. A file is an episode when
/// its name has `SxxEyy`, or `Eyy`/`Episode yy` inside a `Season NN` folder.
pub fn identify(folders: &[&str], file_name: &str) -> Result<Identity, NameError> {
    let stem = file_name
        .rsplit_once('.')
        .map(|(s, _)| s)
        .unwrap_or(file_name);
    let season_folder = folders.last().and_then(|f| season_folder_number(f));
    let episode = episode_numbers(stem).or_else(|| {
        let season = season_folder?;
        bare_episode_number(stem).map(|(first, last)| (season, first, last))
    });

    let mut found = None;
    for (i, folder) in folders.iter().enumerate().rev() {
        if let Some(id) = tmdb_id(folder) {
            found = Some((id, Some(i)));
            break;
        }
    }
    if found.is_none() {
        found = tmdb_id(stem).map(|id| (id, None));
    }
    let Some((tmdb_id, id_folder)) = found else {
        return Err(NameError::NoTmdbId);
    };

    match episode {
        Some((season, first, last)) => {
            // The show's name: the folder that carries the id, else the folder above `Season NN`,
            // else the part of the file name before `SxxEyy`.
            let show_folder = id_folder.or_else(|| {
                let n = folders.len();
                match (season_folder, n) {
                    (Some(_), n) if n >= 2 => Some(n - 2),
                    (None, n) if n >= 1 => Some(n - 1),
                    _ => None,
                }
            });
            let (title, year) = match show_folder {
                Some(i) => title_and_year(folders[i]),
                None => title_and_year(before_episode_marker(stem)),
            };
            Ok(Identity {
                media_type: MediaType::Tv,
                tmdb_id,
                title,
                year,
                episode: Some((season, first, last)),
                episode_title: episode_title(stem),
            })
        }
        None => {
            let source = match id_folder {
                Some(i) => folders[i],
                None => stem,
            };
            let (title, year) = title_and_year(source);
            Ok(Identity {
                media_type: MediaType::Movie,
                tmdb_id,
                title,
                year,
                episode: None,
                episode_title: None,
            })
        }
    }
}

/// `[tmdbid-603]`, `[tmdbid=603]`, `{tmdb-603}`, `(tmdbid-603)`, `[tmdb=603]`, any case.
pub fn tmdb_id(name: &str) -> Option<u32> {
    let lower = name.to_ascii_lowercase();
    let bytes = lower.as_bytes();
    for (open, close) in [(b'[', b']'), (b'{', b'}'), (b'(', b')')] {
        let mut from = 0;
        while let Some(pos) = bytes[from..].iter().position(|&b| b == open) {
            let start = from + pos + 1;
            from = start;
            let Some(len) = bytes[start..].iter().position(|&b| b == close) else {
                break;
            };
            let inner = lower[start..start + len].trim();
            let rest = inner
                .strip_prefix("tmdbid")
                .or_else(|| inner.strip_prefix("tmdb"));
            let Some(rest) = rest else { continue };
            let Some(digits) = rest.strip_prefix(['-', '=']) else {
                continue;
            };
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                if let Ok(id) = digits.parse::<u32>() {
                    if id > 0 {
                        return Some(id);
                    }
                }
            }
        }
    }
    None
}

/// `Season 01` → 1, `Season 00` and `Specials` → 0.
pub fn season_folder_number(name: &str) -> Option<u32> {
    let lower = name.trim().to_ascii_lowercase();
    if lower == "specials" {
        return Some(0);
    }
    let rest = lower
        .strip_prefix("season")?
        .trim_start_matches([' ', '_', '.']);
    if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    rest.parse().ok()
}

/// Finds `SxxEyy`, `SxxEyy-Ezz`, `SxxEyyEzz` or `SxxEyy-zz`; returns `(season, first, last)`.
fn episode_numbers(stem: &str) -> Option<(u32, u32, u32)> {
    episode_marker(stem).map(|m| (m.season, m.first, m.last))
}

struct Marker {
    season: u32,
    first: u32,
    last: u32,
    start: usize,
    end: usize,
}

fn episode_marker(stem: &str) -> Option<Marker> {
    let b = stem.as_bytes();
    for i in 0..b.len() {
        // A marker must not be glued to a preceding letter or digit ("CLASSIC01E02" is not one).
        let boundary = i == 0 || !b[i - 1].is_ascii_alphanumeric();
        if !boundary || !(b[i] == b'S' || b[i] == b's') {
            continue;
        }
        let Some((season, j)) = digits_at(b, i + 1) else {
            continue;
        };
        let mut k = j;
        if k < b.len() && matches!(b[k], b' ' | b'.' | b'_') {
            k += 1;
        }
        if !(k < b.len() && (b[k] == b'E' || b[k] == b'e')) {
            continue;
        }
        let Some((first, mut end)) = digits_at(b, k + 1) else {
            continue;
        };
        let mut last = first;
        // Further episodes: `-E02`, `E02`, `-02`.
        loop {
            let mut m = end;
            let dash = m < b.len() && b[m] == b'-';
            if dash {
                m += 1;
            }
            let e = m < b.len() && (b[m] == b'E' || b[m] == b'e');
            if e {
                m += 1;
            }
            if !(dash || e) {
                break;
            }
            match digits_at(b, m) {
                Some((n, next)) if n > last && n - last <= 20 => {
                    last = n;
                    end = next;
                }
                _ => break,
            }
        }
        if first >= 1 {
            return Some(Marker {
                season,
                first,
                last,
                start: i,
                end,
            });
        }
    }
    None
}

/// Inside a season folder: `E02`, `Episode 2`, `Ep02`.
fn bare_episode_number(stem: &str) -> Option<(u32, u32)> {
    let lower = stem.to_ascii_lowercase();
    let b = lower.as_bytes();
    for (i, _) in lower.match_indices('e') {
        let boundary = i == 0 || !b[i - 1].is_ascii_alphanumeric();
        if !boundary {
            continue;
        }
        let after = &lower[i..];
        let skip = if after.starts_with("episode") {
            7
        } else if after.starts_with("ep") {
            2
        } else {
            1
        };
        let mut k = i + skip;
        while k < b.len() && matches!(b[k], b' ' | b'.' | b'_') {
            k += 1;
        }
        if let Some((n, _)) = digits_at(b, k) {
            if n >= 1 {
                return Some((n, n));
            }
        }
    }
    None
}

fn digits_at(b: &[u8], start: usize) -> Option<(u32, usize)> {
    let mut end = start;
    while end < b.len() && b[end].is_ascii_digit() && end - start < 4 {
        end += 1;
    }
    if end == start {
        return None;
    }
    let n = std::str::from_utf8(&b[start..end]).ok()?.parse().ok()?;
    Some((n, end))
}

fn before_episode_marker(stem: &str) -> &str {
    match episode_marker(stem) {
        Some(m) => &stem[..m.start],
        None => stem,
    }
}

fn episode_title(stem: &str) -> Option<String> {
    let marker = episode_marker(stem)?;
    let rest = clean(strip_tags(&stem[marker.end..]));
    let rest = rest.trim_matches(|c: char| c == '-' || c.is_whitespace());
    (!rest.is_empty()).then(|| rest.to_string())
}

/// Removes `[…]` and `{…}` groups and `(tmdbid-…)`-style groups.
fn strip_tags(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut depth: Option<char> = None;
    let chars: Vec<char> = name.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match depth {
            Some(close) => {
                if c == close {
                    depth = None;
                }
            }
            None if c == '[' => depth = Some(']'),
            None if c == '{' => depth = Some('}'),
            None if c == '(' => {
                // Only id groups in parentheses are tags; `(1999)` is the year.
                let rest: String = chars[i + 1..]
                    .iter()
                    .collect::<String>()
                    .to_ascii_lowercase();
                if rest.starts_with("tmdb") || rest.starts_with("imdb") || rest.starts_with("tvdb")
                {
                    depth = Some(')');
                } else {
                    out.push(c);
                }
            }
            None => out.push(c),
        }
        i += 1;
    }
    out
}

/// Dots and underscores used as spaces become spaces; runs of spaces collapse.
fn clean(name: String) -> String {
    let spaced = if !name.trim().contains(' ') {
        name.replace(['.', '_'], " ")
    } else {
        name.replace('_', " ")
    };
    spaced.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `The Matrix (1999) [tmdbid-603]` → ("The Matrix", 1999); `Blade.Runner.2049.2017.1080p` →
/// ("Blade Runner 2049", 2017): the year is the last plausible year that is not the whole title.
pub fn title_and_year(name: &str) -> (String, Option<u16>) {
    let text = clean(strip_tags(name));
    // `(1999)` is unambiguous.
    if let Some(open) = text.rfind('(') {
        let inner = &text[open + 1..];
        if let Some(close) = inner.find(')') {
            if let Some(year) = year(&inner[..close]) {
                let title = text[..open].trim().trim_end_matches(['-', ' ']).to_string();
                if !title.is_empty() {
                    return (title, Some(year));
                }
            }
        }
    }
    let words: Vec<&str> = text.split(' ').collect();
    for i in (1..words.len()).rev() {
        if let Some(y) = year(words[i]) {
            let title = words[..i].join(" ");
            return (title.trim_end_matches(['-', ' ']).to_string(), Some(y));
        }
    }
    (text.trim().to_string(), None)
}

fn year(s: &str) -> Option<u16> {
    let s = s.trim();
    if s.len() != 4 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let y: u16 = s.parse().ok()?;
    (1888..=2100).contains(&y).then_some(y)
}

/// A sidecar subtitle: `Film.en.forced.srt` next to `Film.mkv`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Sidecar {
    pub file_name: String,
    /// ISO 639-1 when known (`en`), else what the name said, else `und`.
    pub lang: String,
    pub format: String,
    pub default: bool,
    pub forced: bool,
    pub sdh: bool,
}

/// Parses `name` as a sidecar of the video whose stem is `video_stem`.
pub fn sidecar(video_stem: &str, name: &str) -> Option<Sidecar> {
    let ext = extension(name)?;
    if !SUBTITLE_EXTENSIONS.contains(&ext.as_str()) {
        return None;
    }
    let rest = name.strip_prefix(video_stem)?;
    let middle = &rest[..rest.len() - ext.len() - 1];
    if !(middle.is_empty() || middle.starts_with('.')) {
        return None;
    }
    let tokens: Vec<String> = middle
        .split('.')
        .filter(|t| !t.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    let (mut default, mut forced, mut sdh) = (false, false, false);
    let mut lang = None;
    for t in &tokens {
        match t.as_str() {
            "default" => default = true,
            "forced" | "foreign" => forced = true,
            "sdh" | "cc" => sdh = true,
            // `hi` alone means Hindi; after a language it means hearing impaired.
            "hi" if lang.is_some() => sdh = true,
            other => {
                if lang.is_none()
                    && other.len() <= 3
                    && other.bytes().all(|b| b.is_ascii_alphabetic())
                {
                    lang = Some(other.to_string());
                } else if lang.is_none() {
                    lang = language_from_name(other);
                }
            }
        }
    }
    Some(Sidecar {
        file_name: name.to_string(),
        lang: lang
            .map(|l| normalize_lang(&l))
            .unwrap_or_else(|| "und".into()),
        format: if ext == "ssa" { "ass".into() } else { ext },
        default,
        forced,
        sdh,
    })
}

const LANGUAGES: &[(&str, &str, &[&str], &str)] = &[
    // (639-1, 639-2/B, other 639-2 forms and names, native name)
    ("en", "eng", &["english"], "English"),
    ("fr", "fre", &["fra", "french", "francais"], "Français"),
    ("es", "spa", &["spanish", "espanol"], "Español"),
    ("de", "ger", &["deu", "german", "deutsch"], "Deutsch"),
    ("it", "ita", &["italian"], "Italiano"),
    ("pt", "por", &["portuguese"], "Português"),
    ("nl", "dut", &["nld", "dutch"], "Nederlands"),
    ("ru", "rus", &["russian"], "Русский"),
    ("ja", "jpn", &["japanese"], "日本語"),
    ("zh", "chi", &["zho", "chinese"], "中文"),
    ("ko", "kor", &["korean"], "한국어"),
    ("ar", "ara", &["arabic"], "العربية"),
    ("hi", "hin", &["hindi"], "हिन्दी"),
    ("sv", "swe", &["swedish"], "Svenska"),
    ("da", "dan", &["danish"], "Dansk"),
    ("no", "nor", &["nob", "nno", "norwegian"], "Norsk"),
    ("fi", "fin", &["finnish"], "Suomi"),
    ("pl", "pol", &["polish"], "Polski"),
    ("tr", "tur", &["turkish"], "Türkçe"),
    ("el", "gre", &["ell", "greek"], "Ελληνικά"),
    ("he", "heb", &["hebrew"], "עברית"),
    ("cs", "cze", &["ces", "czech"], "Čeština"),
    ("hu", "hun", &["hungarian"], "Magyar"),
    ("ro", "rum", &["ron", "romanian"], "Română"),
    ("uk", "ukr", &["ukrainian"], "Українська"),
];

fn language_from_name(name: &str) -> Option<String> {
    LANGUAGES
        .iter()
        .find(|(_, _, others, _)| others.contains(&name))
        .map(|(code, ..)| code.to_string())
}

/// ISO 639-2 (`eng`, `fre`, `fra`) or 639-1 → 639-1 when known; lowercased otherwise.
pub fn normalize_lang(code: &str) -> String {
    let c = code.trim().to_ascii_lowercase();
    LANGUAGES
        .iter()
        .find(|(one, two, others, _)| *one == c || *two == c || others.contains(&c.as_str()))
        .map(|(one, ..)| one.to_string())
        .unwrap_or(if c.is_empty() { "und".into() } else { c })
}

/// A human label: the language's own name, plus the flags (`Français (forced)`).
pub fn track_label(lang: &str, title: Option<&str>, forced: bool, sdh: bool) -> String {
    let base = LANGUAGES
        .iter()
        .find(|(one, ..)| *one == lang)
        .map(|(.., native)| native.to_string())
        .unwrap_or_else(|| {
            if lang == "und" {
                "Unknown".to_string()
            } else {
                lang.to_string()
            }
        });
    let mut flags = Vec::new();
    if forced {
        flags.push("forced");
    }
    if sdh {
        flags.push("SDH");
    }
    let mut label = match title.map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) if !t.eq_ignore_ascii_case(&base) => format!("{base} – {t}"),
        _ => base,
    };
    if !flags.is_empty() {
        label = format!("{label} ({})", flags.join(", "));
    }
    label
}

/// A language as an HLS `LANGUAGE` attribute: the shape of an RFC 5646 tag (a primary
/// subtag of 2–8 letters, then subtags of 1–8 letters or digits, 35 characters at most, which
/// covers every real tag), else `und`. The value comes from the file's tags, which whoever
/// made the file chose: anything else could close the quoted string.
pub fn hls_language(lang: &str) -> &str {
    let mut parts = lang.split('-');
    let primary = parts.next().unwrap_or("");
    let ok = lang.len() <= 35
        && (2..=8).contains(&primary.len())
        && primary.bytes().all(|b| b.is_ascii_alphabetic())
        && parts
            .all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()));
    if ok { lang } else { "und" }
}

/// A track name as an HLS `NAME` attribute: a quoted-string may hold neither a double quote
/// nor a line break (RFC 8216 §4.2), so control characters and `"` are dropped, and the name is
/// cut at 100 characters (a menu entry, not a text). An empty result becomes `Audio N`.
pub fn hls_name(name: &str, index: usize) -> String {
    let clean: String = name
        .chars()
        .filter(|c| !c.is_control() && *c != '"')
        .take(100)
        .collect();
    let clean = clean.trim();
    if clean.is_empty() {
        format!("Audio {}", index + 1)
    } else {
        clean.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hls_attributes_keep_real_values_and_drop_hostile_ones() {
        for good in ["en", "fr", "und", "pt-BR", "zh-Hant-TW", "es-419", "gsw"] {
            assert_eq!(hls_language(good), good);
        }
        for bad in [
            "e\"n",
            "",
            "e",
            "en\n#EXT",
            "en-",
            "-en",
            "en_US",
            "fr,",
            &"a".repeat(36),
        ] {
            assert_eq!(hls_language(bad), "und", "{bad:?}");
        }
        assert_eq!(hls_name("Français – VF", 0), "Français – VF");
        assert_eq!(
            hls_name("Evil\"\n#EXT-X-STREAM-INF:BANDWIDTH=1\r\nhttps://x/", 0),
            "Evil#EXT-X-STREAM-INF:BANDWIDTH=1https://x/"
        );
        assert_eq!(hls_name("\"\u{7}\n", 1), "Audio 2");
        assert_eq!(hls_name(&"é".repeat(300), 0).chars().count(), 100);
    }

    fn split(path: &str) -> (Vec<&str>, &str) {
        let mut parts: Vec<&str> = path.split('/').collect();
        let file = parts.pop().unwrap();
        (parts, file)
    }

    type Expected = Option<(
        MediaType,
        u32,
        Option<(u32, u32, u32)>,
        &'static str,
        Option<u16>,
    )>;

    /// Real-world names, as people actually lay out their folders, with what they must parse to.
    const NAMES: &[(&str, Expected)] = &[
        (
            "The Matrix (1999) [tmdbid-603]/The Matrix (1999) [tmdbid-603].mkv",
            Some((MediaType::Movie, 603, None, "The Matrix", Some(1999))),
        ),
        (
            "The Matrix (1999) [tmdbid-603]/The Matrix (1999).mkv",
            Some((MediaType::Movie, 603, None, "The Matrix", Some(1999))),
        ),
        (
            "The Matrix (1999) [tmdbid=603].mp4",
            Some((MediaType::Movie, 603, None, "The Matrix", Some(1999))),
        ),
        (
            "Movies/Best_Movie_Ever (1994) [tmdbid-680] [imdbid-tt0110912]/movie.mkv",
            Some((MediaType::Movie, 680, None, "Best Movie Ever", Some(1994))),
        ),
        (
            "Dune Part Two (2024) {tmdb-693134}/Dune Part Two (2024) {tmdb-693134}.mkv",
            Some((MediaType::Movie, 693134, None, "Dune Part Two", Some(2024))),
        ),
        (
            "Alien (1979) [TMDB-348].avi",
            Some((MediaType::Movie, 348, None, "Alien", Some(1979))),
        ),
        (
            "Heat (1995) (tmdbid-949)/Heat.mkv",
            Some((MediaType::Movie, 949, None, "Heat", Some(1995))),
        ),
        (
            "Blade Runner 2049 (2017) [tmdbid-335984]/Blade Runner 2049 (2017).mkv",
            Some((
                MediaType::Movie,
                335984,
                None,
                "Blade Runner 2049",
                Some(2017),
            )),
        ),
        (
            "2001 A Space Odyssey (1968) [tmdbid-62]/2001.mkv",
            Some((
                MediaType::Movie,
                62,
                None,
                "2001 A Space Odyssey",
                Some(1968),
            )),
        ),
        (
            "1917 (2019) [tmdbid-530915].mkv",
            Some((MediaType::Movie, 530915, None, "1917", Some(2019))),
        ),
        (
            "The.Matrix.Reloaded.2003.1080p.BluRay.x264 [tmdbid-604].mkv",
            Some((
                MediaType::Movie,
                604,
                None,
                "The Matrix Reloaded",
                Some(2003),
            )),
        ),
        (
            "Amélie (2001) [tmdbid-194]/Amélie.mkv",
            Some((MediaType::Movie, 194, None, "Amélie", Some(2001))),
        ),
        (
            "Breaking Bad (2008) [tmdbid-1396]/Season 01/Breaking Bad S01E02.mkv",
            Some((
                MediaType::Tv,
                1396,
                Some((1, 2, 2)),
                "Breaking Bad",
                Some(2008),
            )),
        ),
        (
            "Breaking Bad (2008) [tmdbid-1396]/Season 01/Breaking.Bad.S01E03.720p.HDTV.mkv",
            Some((
                MediaType::Tv,
                1396,
                Some((1, 3, 3)),
                "Breaking Bad",
                Some(2008),
            )),
        ),
        (
            "Breaking Bad (2008) [tmdbid-1396]/Season 00/Breaking Bad S00E01 - Minisodes.mkv",
            Some((
                MediaType::Tv,
                1396,
                Some((0, 1, 1)),
                "Breaking Bad",
                Some(2008),
            )),
        ),
        (
            "Game of Thrones [tmdbid-1399]/Season 02/Game of Thrones S02E01-E02.mkv",
            Some((
                MediaType::Tv,
                1399,
                Some((2, 1, 2)),
                "Game of Thrones",
                None,
            )),
        ),
        (
            "Game of Thrones [tmdbid-1399]/Season 02/Game of Thrones S02E03E04.mkv",
            Some((
                MediaType::Tv,
                1399,
                Some((2, 3, 4)),
                "Game of Thrones",
                None,
            )),
        ),
        (
            "Doctor Who (2005) {tmdb-57243}/Season 10/doctor.who.2005.s10e12.mkv",
            Some((
                MediaType::Tv,
                57243,
                Some((10, 12, 12)),
                "Doctor Who",
                Some(2005),
            )),
        ),
        (
            "The Office (US) (2005) [tmdbid-2316]/Season 03/Episode 7.mkv",
            Some((
                MediaType::Tv,
                2316,
                Some((3, 7, 7)),
                "The Office (US)",
                Some(2005),
            )),
        ),
        (
            "Friends (1994) [tmdbid-1668]/Specials/Friends S00E05.mkv",
            Some((MediaType::Tv, 1668, Some((0, 5, 5)), "Friends", Some(1994))),
        ),
        (
            "Show [tmdbid-100]/Show S01E02 Part 1.mkv",
            Some((MediaType::Tv, 100, Some((1, 2, 2)), "Show", None)),
        ),
        (
            "Severance.S02E01.Hello.Ms.Cobel [tmdbid-95396].mkv",
            Some((MediaType::Tv, 95396, Some((2, 1, 1)), "Severance", None)),
        ),
        // Unidentifiable: no id anywhere.
        ("The Matrix (1999)/The Matrix (1999).mkv", None),
        ("Breaking Bad/Season 01/Breaking Bad S01E01.mkv", None),
        ("random.mkv", None),
        // An IMDb id alone is not enough (we resolve by TMDB id).
        ("Heat (1995) [imdbid-tt0113277]/Heat.mkv", None),
        // Not an id: a title with brackets and digits.
        ("[2019] Concert [Live]/Concert.mkv", None),
    ];

    #[test]
    fn names_from_the_wild_parse_to_the_expected_ids() {
        assert!(NAMES.len() >= 20);
        for (path, expected) in NAMES {
            let (folders, file) = split(path);
            let got = identify(&folders, file);
            match expected {
                None => assert_eq!(got, Err(NameError::NoTmdbId), "{path}"),
                Some((media_type, id, episode, title, year)) => {
                    let got = got.unwrap_or_else(|e| panic!("{path}: {e}"));
                    assert_eq!(got.media_type, *media_type, "{path}");
                    assert_eq!(got.tmdb_id, *id, "{path}");
                    assert_eq!(got.episode, *episode, "{path}");
                    assert_eq!(got.title, *title, "{path}");
                    assert_eq!(got.year, *year, "{path}");
                }
            }
        }
    }

    #[test]
    fn episode_titles_come_after_the_marker() {
        let got = identify(
            &["Show [tmdbid-1]", "Season 01"],
            "Show S01E02 - The Cat's in the Bag.mkv",
        )
        .unwrap();
        assert_eq!(got.episode_title.as_deref(), Some("The Cat's in the Bag"));
        let got = identify(&["Show [tmdbid-1]", "Season 01"], "Show S01E02.mkv").unwrap();
        assert_eq!(got.episode_title, None);
    }

    #[test]
    fn tmdb_id_forms() {
        for (name, id) in [
            ("x [tmdbid-603]", Some(603)),
            ("x [TMDBID=603]", Some(603)),
            ("x {tmdb-603}", Some(603)),
            ("x [tmdb-603]", Some(603)),
            ("x (tmdbid-603)", Some(603)),
            ("x {Tmdb=603}", Some(603)),
            ("x [tmdbid-]", None),
            ("x [tmdbid-0]", None),
            ("x [tmdbid-60a]", None),
            ("x [imdbid-tt0133093]", None),
            ("x tmdbid-603", None),
        ] {
            assert_eq!(tmdb_id(name), id, "{name}");
        }
    }

    #[test]
    fn sidecars_carry_language_and_flags() {
        let s = sidecar("Film", "Film.en.srt").unwrap();
        assert_eq!(
            (
                s.lang.as_str(),
                s.format.as_str(),
                s.forced,
                s.sdh,
                s.default
            ),
            ("en", "srt", false, false, false)
        );
        let s = sidecar("Film", "Film.fre.forced.ass").unwrap();
        assert_eq!(
            (s.lang.as_str(), s.format.as_str(), s.forced),
            ("fr", "ass", true)
        );
        let s = sidecar("Film", "Film.en.sdh.srt").unwrap();
        assert!(s.sdh);
        let s = sidecar("Film", "Film.en.hi.srt").unwrap();
        assert_eq!((s.lang.as_str(), s.sdh), ("en", true));
        let s = sidecar("Film", "Film.hi.srt").unwrap();
        assert_eq!(
            (s.lang.as_str(), s.sdh),
            ("hi", false),
            "hi alone means Hindi"
        );
        let s = sidecar("Film", "Film.default.vtt").unwrap();
        assert_eq!((s.lang.as_str(), s.default), ("und", true));
        let s = sidecar("Film", "Film.French.srt").unwrap();
        assert_eq!(s.lang, "fr");
        assert!(
            sidecar("Film", "Film 2.en.srt").is_none(),
            "another film's subtitle"
        );
        assert!(sidecar("Film", "Film.en.txt").is_none());
    }

    #[test]
    fn labels_are_human() {
        assert_eq!(track_label("fr", None, true, false), "Français (forced)");
        assert_eq!(
            track_label("en", Some("Commentary"), false, false),
            "English – Commentary"
        );
        assert_eq!(track_label("en", None, false, true), "English (SDH)");
        assert_eq!(track_label("und", None, false, false), "Unknown");
        assert_eq!(normalize_lang("fra"), "fr");
        assert_eq!(normalize_lang("eng"), "en");
    }
}
