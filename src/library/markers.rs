//! Intro and credits of the library's series. Episodes of a season share their opening music
//! and their end credits; their audio, fingerprinted with Chromaprint (ffmpeg's `chromaprint`
//! muxer), shows it: two episodes' fingerprints line up, at some offset, over the span they
//! share. Each episode keeps the longest span it shares with another episode of its season, at
//! its start (the intro) and at its end (the credits). Chapters named like an intro or credits
//! win over the fingerprints. Results are stored with the file's size and mtime, so a rescan
//! computes nothing again; a background job runs after each scan, one at a time, niced.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::process::Command;

use super::{LibraryError, confine};
use crate::models::{Markers, MediaType, Range};
use crate::playback::media::{Chapter, Media};
use crate::store::Store;
use crate::store::markers::{MarkerSource, StoredMarkers};
use crate::store::media::MediaFile;

/// Seconds per fingerprint item: Chromaprint's default algorithm resamples to 11025 Hz and
/// emits one item per 4096-sample frame taken every third of a frame (1365.33 samples).
pub const ITEM_SECONDS: f64 = 4096.0 / 3.0 / 11025.0;

/// Two items "match" when they differ in at most this many of their 32 bits. Two unrelated
/// items do so with probability sum(C(32,k), k ≤ 6) / 2^32 ≈ 0.03 %, while the same audio
/// decoded from two encodes differs in a bit or two (intro-skipper uses the same bound).
const MAX_BIT_DIFF: u32 = 6;

/// A run of matches may skip this many non-matching items (≈ 1 s): an encoder glitch or a
/// sound effect over the music does not cut the intro in two.
const MAX_GAP_ITEMS: usize = 8;

/// Shorter shared spans are not intros: a jingle or a logo sting is not worth a button, and
/// short runs are where chance matches live.
const MIN_SPAN_SECONDS: f64 = 8.0;

/// Chromaprint item `i` is computed from frames `i..i+16` (its widest filter), so items whose
/// window reaches past the end of the shared audio no longer match: the matching run ends
/// early by about that much. Measured on the generated seasons of the tests (runs ended 1.7 to
/// 2.0 s early); added back to the end of every span.
const END_LAG_SECONDS: f64 = 1.8;

/// Items whose frames start a little before the shared audio already match (a frame is
/// 0.37 s long and the filters smooth over neighbours): runs started 0.46 to 0.53 s early on
/// the generated seasons of the tests; taken off the start of every span.
const START_LEAD_SECONDS: f64 = 0.5;

/// Ceiling for one ffmpeg fingerprint run: decoding 5 minutes of audio takes a second or two;
/// a file that hangs the demuxer must not stall the job.
const FINGERPRINT_TIMEOUT: Duration = Duration::from_secs(120);

/// The longest run of matching items between `a` and `b` at any offset between them, as
/// `(start in a, start in b, length)` in items, when at least `min_items` long.
pub fn align(a: &[u32], b: &[u32], min_items: usize) -> Option<(usize, usize, usize)> {
    let mut best: Option<(usize, usize, usize)> = None;
    if a.is_empty() || b.is_empty() {
        return None;
    }
    // shift = index in a − index in b.
    let shifts = -(b.len() as isize - 1)..=(a.len() as isize - 1);
    for shift in shifts {
        let i0 = shift.max(0) as usize;
        let j0 = (-shift).max(0) as usize;
        let n = (a.len() - i0).min(b.len() - j0);
        if n < min_items.max(1) || best.is_some_and(|(_, _, len)| n <= len) {
            continue;
        }
        let mut run_start: Option<usize> = None;
        let mut last_match = 0usize;
        let close = |start: usize, last: usize, best: &mut Option<(usize, usize, usize)>| {
            let len = last - start + 1;
            if len >= min_items && best.is_none_or(|(_, _, l)| len > l) {
                *best = Some((i0 + start, j0 + start, len));
            }
        };
        for k in 0..n {
            if (a[i0 + k] ^ b[j0 + k]).count_ones() <= MAX_BIT_DIFF {
                match run_start {
                    Some(_) if k - last_match <= MAX_GAP_ITEMS + 1 => {}
                    Some(s) => {
                        close(s, last_match, &mut best);
                        run_start = Some(k);
                    }
                    None => run_start = Some(k),
                }
                last_match = k;
            }
        }
        if let Some(s) = run_start {
            close(s, last_match, &mut best);
        }
    }
    best
}

/// For each episode's fingerprint (of the same part of each episode: the opening or the
/// closing minutes), the longest span in seconds it shares with any other, if any.
pub fn shared_spans(prints: &[Vec<u32>]) -> Vec<Option<(f64, f64)>> {
    let min_items = (MIN_SPAN_SECONDS / ITEM_SECONDS).ceil() as usize;
    let mut best: Vec<Option<(usize, usize)>> = vec![None; prints.len()];
    let mut keep = |idx: usize, start: usize, len: usize| {
        if best[idx].is_none_or(|(_, l)| len > l) {
            best[idx] = Some((start, len));
        }
    };
    for x in 0..prints.len() {
        for y in x + 1..prints.len() {
            if let Some((sa, sb, len)) = align(&prints[x], &prints[y], min_items) {
                keep(x, sa, len);
                keep(y, sb, len);
            }
        }
    }
    best.into_iter()
        .zip(prints)
        .map(|(b, print)| {
            b.map(|(start, len)| {
                let start_s = if start == 0 {
                    0.0
                } else {
                    start as f64 * ITEM_SECONDS + START_LEAD_SECONDS
                };
                // A run to the last item goes to the end of the audio: Chromaprint emits no
                // item for the last frames, whose window would pass the end.
                let end_s = if start + len >= print.len() {
                    f64::INFINITY
                } else {
                    (start + len) as f64 * ITEM_SECONDS + END_LAG_SECONDS
                };
                (start_s, end_s)
            })
        })
        .collect()
}

/// Raw Chromaprint items of `seconds` of audio from `start`, decoded niced, first audio track.
/// `to_end`: the audio runs to the end of the file, and is padded with silence so Chromaprint
/// also emits the items of its last seconds (each item needs the frames after it): without
/// them 10 s of shared credits show as a run of under 8 s.
pub async fn fingerprint(
    ffmpeg: &str,
    path: &Path,
    format: &str,
    start: f64,
    seconds: f64,
    to_end: bool,
) -> Result<Vec<u32>, LibraryError> {
    let mut cmd = niced(ffmpeg);
    cmd.args(["-nostdin", "-v", "error", "-threads", "1"]);
    if start > 0.0 {
        cmd.args(["-ss", &format!("{start:.3}")]);
    }
    cmd.args(confine::input_args(format)).arg("-i").arg(path);
    if !to_end {
        cmd.args(["-t", &format!("{seconds:.3}")]);
    }
    cmd.args(["-map", "0:a:0", "-ac", "1"]);
    if to_end {
        cmd.args(["-af", "apad=pad_dur=3"]);
    }
    cmd.args(["-f", "chromaprint", "-fp_format", "raw", "-"]);
    let out = run(&mut cmd, ffmpeg, "fingerprinting took too long").await?;
    if !out.status.success() {
        // The path is the user's business, not the problem list's.
        let stderr = String::from_utf8_lossy(&out.stderr);
        let first = stderr.lines().next().unwrap_or("no error message");
        let first = first.replace(&path.display().to_string(), "file");
        let reason = format!("its audio cannot be fingerprinted: {}", first.trim());
        return Err(LibraryError::Probe(reason));
    }
    let items: Vec<u32> = out
        .stdout
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    if items.is_empty() {
        return Err(LibraryError::Probe(
            "its audio cannot be fingerprinted: no audio decoded".into(),
        ));
    }
    Ok(items)
}

/// Runs `cmd` (which starts `program`) with no input, killed past `FINGERPRINT_TIMEOUT`;
/// `slow` is the problem then.
async fn run(
    cmd: &mut Command,
    program: &str,
    slow: &str,
) -> Result<std::process::Output, LibraryError> {
    cmd.kill_on_drop(true).stdin(std::process::Stdio::null());
    match tokio::time::timeout(FINGERPRINT_TIMEOUT, cmd.output()).await {
        Err(_) => Err(LibraryError::Probe(slow.into())),
        Ok(out) => out.map_err(|e| LibraryError::Tool(format!("cannot run {program}: {e}"))),
    }
}

/// `program` run at the lowest CPU priority through `nice(1)` when the system has it (the
/// crate forbids `unsafe`, so no `setpriority` here): detection must never slow playback.
pub(super) fn niced(program: &str) -> Command {
    static NICE: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    let nice = NICE.get_or_init(|| {
        ["/usr/bin/nice", "/bin/nice"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
    });
    match nice {
        Some(nice) => {
            let mut cmd = Command::new(nice);
            cmd.args(["-n", "19", program]);
            cmd
        }
        None => Command::new(program),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChapterKind {
    Intro,
    Credits,
}

/// What a chapter title says, by its words: `Opening`, `OP`, `Intro`, `Générique` (de
/// début) are intros; `Credits`, `Ending`, `ED`, `Outro`, `Générique de fin` are credits.
fn chapter_kind(title: &str) -> Option<ChapterKind> {
    let t = title.to_lowercase();
    let words: Vec<&str> = t
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let has = |w: &str| words.contains(&w);
    // "Opening credits" is an intro, "générique de fin" the credits: the end words first.
    if t.contains("générique de fin") || t.contains("generique de fin") {
        return Some(ChapterKind::Credits);
    }
    if has("intro") || has("opening") || has("op") || has("générique") || has("generique") {
        return Some(ChapterKind::Intro);
    }
    if has("credits") || has("ending") || has("ed") || has("outro") {
        return Some(ChapterKind::Credits);
    }
    None
}

/// Intro and credits from the file's chapters, the first of each kind.
pub async fn chapter_markers(
    ffprobe: &str,
    path: &Path,
    format: &str,
) -> Result<Markers, LibraryError> {
    let mut cmd = Command::new(ffprobe);
    cmd.args(["-v", "error", "-print_format", "json", "-show_chapters"])
        .args(confine::input_args(format))
        .arg(path);
    let out = run(&mut cmd, ffprobe, "ffprobe took too long to list chapters").await?;
    if !out.status.success() {
        return Err(LibraryError::Probe(
            "ffprobe cannot list its chapters".into(),
        ));
    }
    let media =
        Media::from_ffprobe_json(&out.stdout).map_err(|e| LibraryError::Probe(e.to_string()))?;
    Ok(markers_of_chapters(&media.chapters))
}

fn markers_of_chapters(chapters: &[Chapter]) -> Markers {
    let mut markers = Markers::default();
    for c in chapters {
        let title = c.title.as_deref().unwrap_or("");
        let (start, end) = (c.start, c.end);
        if !(start.is_finite() && end.is_finite() && end > start) {
            continue;
        }
        let range = Range { start, end };
        match chapter_kind(title) {
            Some(ChapterKind::Intro) if markers.intro.is_none() => markers.intro = Some(range),
            Some(ChapterKind::Credits) if markers.outro.is_none() => markers.outro = Some(range),
            _ => {}
        }
    }
    markers
}

/// Tunables of the detection job.
#[derive(Debug, Clone)]
pub struct DetectConfig {
    pub ffmpeg: String,
    pub ffprobe: String,
    /// Seconds of audio fingerprinted at each end of an episode.
    pub window: f64,
}

impl From<&super::LibraryConfig> for DetectConfig {
    fn from(c: &super::LibraryConfig) -> Self {
        DetectConfig {
            ffmpeg: c.ffmpeg.clone(),
            ffprobe: c.ffprobe.clone(),
            window: c.markers_window,
        }
    }
}

/// What detection found for one file.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub file: MediaFile,
    pub markers: StoredMarkers,
    /// Why nothing could be found, for the problems list.
    pub problem: Option<String>,
}

/// The part of an episode searched for each marker: the opening `window` seconds but at most
/// the first half (the credits of a short episode must not pass for its intro), and likewise
/// the closing part.
fn search_window(duration: f64, window: f64) -> f64 {
    window.min(duration / 2.0).max(0.0)
}

/// What one episode gives to its season's detection: the fingerprints of its two ends, its
/// chapters' markers, and why something is missing.
#[derive(Debug, Default)]
struct Sampled {
    head: Option<Vec<u32>>,
    tail: Option<Vec<u32>>,
    chapters: Markers,
    problem: Option<String>,
}

/// Detects the markers of one season's episodes.
pub async fn detect_season(
    config: &DetectConfig,
    roots: &[PathBuf],
    files: &[MediaFile],
) -> Vec<Found> {
    let mut sampled = Vec::with_capacity(files.len());
    for f in files {
        sampled.push(sample(config, roots, f).await);
    }
    season_markers(config.window, files, &sampled)
}

/// Reads one episode's chapters and fingerprints its opening and closing `window`.
async fn sample(config: &DetectConfig, roots: &[PathBuf], f: &MediaFile) -> Sampled {
    let mut out = Sampled::default();
    let path = match confine::media_input(roots, &f.path, &f.probe.format) {
        Ok(path) => path,
        Err(e) => {
            out.problem = Some(e.to_string());
            return out;
        }
    };
    out.chapters = chapter_markers(&config.ffprobe, &path, &f.probe.format)
        .await
        .unwrap_or_default();
    let window = search_window(f.probe.duration, config.window);
    if f.probe.audio.is_empty() {
        out.problem = Some("it has no audio track to fingerprint".into());
    } else if window < MIN_SPAN_SECONDS {
        out.problem = Some("it is too short to hold an intro".into());
    } else if let Err(e) = fingerprint_ends(config, &path, f, window, &mut out).await {
        out.problem = Some(e.to_string());
    }
    out
}

/// The head first: when the tail fails, the head still takes part in the intros' comparison.
async fn fingerprint_ends(
    config: &DetectConfig,
    path: &Path,
    f: &MediaFile,
    window: f64,
    out: &mut Sampled,
) -> Result<(), LibraryError> {
    let fmt = &f.probe.format;
    out.head = Some(fingerprint(&config.ffmpeg, path, fmt, 0.0, window, false).await?);
    let from = (f.probe.duration - window).max(0.0);
    out.tail = Some(fingerprint(&config.ffmpeg, path, fmt, from, window, true).await?);
    Ok(())
}

/// `shared_spans` over the episodes that were fingerprinted; indexes map back to `prints`.
fn spans_of(prints: &[Option<Vec<u32>>]) -> Vec<Option<(f64, f64)>> {
    let present: Vec<usize> = (0..prints.len()).filter(|&i| prints[i].is_some()).collect();
    let list: Vec<Vec<u32>> = present
        .iter()
        .map(|&i| prints[i].clone().unwrap_or_default())
        .collect();
    let found = shared_spans(&list);
    let mut out = vec![None; prints.len()];
    for (k, &i) in present.iter().enumerate() {
        out[i] = found[k];
    }
    out
}

/// Seconds from an episode's start to its end, when found.
type Span = Option<(f64, f64)>;

/// The most of its search window a shared span may cover. Episodes that match over nearly all
/// of it are the same there from end to end (two copies of one file, or the demo's synthetic
/// episodes): what they share is not an intro, and skipping it would skip the episode.
const MAX_WINDOW_SHARE: f64 = 0.8;

/// Keeps the intro and credits spans an episode can really have: each under
/// [`MAX_WINDOW_SHARE`] of `window`, and the intro over before the credits begin (times from
/// the episode's start). Says whether a span was dropped.
fn within_reason(intro: Span, credits: Span, window: f64) -> (Span, Span, bool) {
    let fits = |span: &(f64, f64)| span.1 - span.0 < MAX_WINDOW_SHARE * window;
    let (i, c) = (intro.filter(fits), credits.filter(fits));
    let (i, c) = match (i, c) {
        (Some(i), Some(c)) if i.1 > c.0 => (None, None),
        kept => kept,
    };
    let dropped = i.is_none() && intro.is_some() || c.is_none() && credits.is_some();
    (i, c, dropped)
}

/// Each episode's markers from its season's samples (`sampled[i]` is `files[i]`'s).
fn season_markers(window: f64, files: &[MediaFile], sampled: &[Sampled]) -> Vec<Found> {
    let heads: Vec<Option<Vec<u32>>> = sampled.iter().map(|s| s.head.clone()).collect();
    let tails: Vec<Option<Vec<u32>>> = sampled.iter().map(|s| s.tail.clone()).collect();
    let intros = spans_of(&heads);
    let credits = spans_of(&tails);
    let fingerprinted = heads.iter().filter(|h| h.is_some()).count();
    let mut out = Vec::with_capacity(files.len());
    for (i, (f, sample)) in files.iter().zip(sampled).enumerate() {
        let searched = search_window(f.probe.duration, window);
        let from = (f.probe.duration - searched).max(0.0);
        let (intro, credit, dropped) = within_reason(
            intros[i].map(|(s, e)| (s, e.min(f.probe.duration))),
            credits[i].map(|(s, e)| (from + s, (from + e).min(f.probe.duration))),
            searched,
        );
        let mut m = StoredMarkers {
            size: f.size,
            mtime_ns: f.mtime_ns,
            intro: intro.map(|(start, end)| Range { start, end }),
            credits: credit.map(|(start, end)| Range { start, end }),
            confidence: 0.0,
            source: MarkerSource::Fingerprint,
        };
        // Agreement: the share of the season's other episodes it could be compared with.
        if (m.intro.is_some() || m.credits.is_some()) && fingerprinted > 1 {
            m.confidence = 1.0 - 1.0 / fingerprinted as f64;
        }
        prefer_chapters(&mut m, &sample.chapters);
        let mut problem = sample.problem.clone();
        if problem.is_none() && fingerprinted < 2 && m.source != MarkerSource::Chapters {
            problem = Some("no other episode of its season to compare with".into());
        }
        if problem.is_none() && dropped && m.source != MarkerSource::Chapters {
            problem = Some("it sounds the same as another episode throughout".into());
        }
        if let Some(p) = &problem {
            tracing::info!(file = %f.path.display(), reason = %p, "no intro/credits markers");
        }
        out.push(Found {
            file: f.clone(),
            markers: m,
            problem: problem.map(|p| format!("no intro/credits markers: {p}")),
        });
    }
    out
}

/// Chapters named like an intro or credits are the author's word: they win over fingerprints.
fn prefer_chapters(m: &mut StoredMarkers, chapters: &Markers) {
    if chapters.intro.is_none() && chapters.outro.is_none() {
        return;
    }
    m.source = MarkerSource::Chapters;
    m.confidence = 1.0;
    if chapters.intro.is_some() {
        m.intro = chapters.intro;
    }
    if chapters.outro.is_some() {
        m.credits = chapters.outro;
    }
}

/// Runs detection over the whole library: each season with a file whose stored result is
/// missing or stale is detected again. Seasons are independent, so a crash mid-way loses one.
pub async fn detect_library(
    store: &Store,
    config: &DetectConfig,
    roots: &[PathBuf],
) -> Result<usize, LibraryError> {
    let files = store.all_files().await?;
    let stored = store.all_markers().await?;
    let mut seasons: BTreeMap<(u32, u32), Vec<MediaFile>> = BTreeMap::new();
    for f in files {
        if let (MediaType::Tv, Some(season)) = (f.media_type, f.season) {
            seasons.entry((f.tmdb_id, season)).or_default().push(f);
        }
    }
    let mut detected = 0;
    for ((tmdb_id, season), mut files) in seasons {
        let stale = files.iter().any(|f| {
            stored
                .get(&f.id)
                .is_none_or(|m| m.size != f.size || m.mtime_ns != f.mtime_ns)
        });
        if !stale {
            continue;
        }
        files.sort_by_key(|f| (f.episode, f.id));
        let found = detect_season(config, roots, &files).await;
        detected += found.len();
        store.save_markers(found).await?;
        tracing::info!(tmdb_id, season, "intro/credits detection done");
    }
    Ok(detected)
}

/// One detection at a time; a scan that ends while one runs asks for another pass.
#[derive(Debug, Default)]
pub struct Detector {
    running: AtomicBool,
    again: AtomicBool,
}

impl Detector {
    /// Starts the job in the background unless one is running (which will then run again).
    pub fn kick(
        self: &std::sync::Arc<Self>,
        store: Store,
        config: DetectConfig,
        roots: Vec<PathBuf>,
    ) {
        self.again.store(true, Ordering::SeqCst);
        if self.running.swap(true, Ordering::SeqCst) {
            return;
        }
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                while me.again.swap(false, Ordering::SeqCst) {
                    match detect_library(&store, &config, &roots).await {
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "intro/credits detection failed"),
                    }
                }
                me.running.store(false, Ordering::SeqCst);
                // A kick between the last check and the release would be lost: take it over.
                if !me.again.load(Ordering::SeqCst) || me.running.swap(true, Ordering::SeqCst) {
                    break;
                }
            }
        });
    }

    pub fn is_running(&self) -> bool {
        self.running.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(seed: u64, n: usize) -> Vec<u32> {
        // xorshift: unrelated items, reproducible.
        let mut x = seed.max(1);
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u32
            })
            .collect()
    }

    #[test]
    fn align_finds_the_shared_run_at_any_offset_despite_flipped_bits() {
        let shared = noise(7, 120);
        let mut a = noise(1, 40);
        a.extend(&shared);
        a.extend(noise(2, 50));
        let mut b = noise(3, 90);
        // Two bits off everywhere and one item fully different: still one run.
        b.extend(
            shared
                .iter()
                .enumerate()
                .map(|(i, x)| if i == 60 { !x } else { x ^ 0b101 }),
        );
        b.extend(noise(4, 30));
        let (sa, sb, len) = align(&a, &b, 50).unwrap();
        assert_eq!((sa, sb, len), (40, 90, 120));
        assert_eq!(align(&noise(5, 300), &noise(6, 300), 20), None);
    }

    #[test]
    fn shared_spans_keep_each_episodes_best_match_and_none_for_the_odd_one() {
        let intro = noise(9, 121);
        let ep = |seed: u64, cold: usize, with: bool| {
            let mut v = noise(seed, cold);
            if with {
                v.extend(&intro);
            }
            v.extend(noise(seed + 100, 200));
            v
        };
        let prints = vec![ep(1, 10, true), ep(2, 50, true), ep(3, 30, false)];
        let spans = shared_spans(&prints);
        let (s0, e0) = spans[0].unwrap();
        assert!((s0 - (10.0 * ITEM_SECONDS + START_LEAD_SECONDS)).abs() < 1e-9);
        assert!((e0 - (131.0 * ITEM_SECONDS + END_LAG_SECONDS)).abs() < 1e-9);
        let mut tails = vec![ep(1, 10, false), ep(2, 50, false), ep(3, 30, false)];
        for t in &mut tails {
            t.extend(&intro);
        }
        assert!(
            shared_spans(&tails)
                .iter()
                .all(|s| s.unwrap().1 == f64::INFINITY)
        );
        assert!((spans[1].unwrap().0 - (50.0 * ITEM_SECONDS + START_LEAD_SECONDS)).abs() < 1e-9);
        assert_eq!(spans[2], None);
    }

    use crate::library::demo::{DEMO_ENDING, DEMO_OPENING, DemoEpisode, episode_args};
    use crate::library::probe::ProbeInfo;

    /// The demo season: (episode, cold open, story, with an opening).
    const SEASON: &[(u32, f64, f64, bool)] = &[
        (1, 4.0, 45.0, true),
        (2, 9.5, 42.0, true),
        (3, 13.0, 47.0, true),
        (4, 10.0, 55.0, false),
    ];

    /// Generated once per test run (each episode takes ffmpeg about a second).
    fn season_dir() -> &'static Path {
        static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
        DIR.get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            for &(number, cold_open, story, with_opening) in SEASON {
                let ep = DemoEpisode {
                    number,
                    cold_open,
                    story,
                    with_opening,
                };
                let out = dir.path().join(format!("Show S01E{number:02}.mkv"));
                let status = std::process::Command::new("ffmpeg")
                    .args(episode_args(ep, &out))
                    .status()
                    .expect("ffmpeg runs");
                assert!(status.success(), "ffmpeg made episode {number}");
            }
            dir
        })
        .path()
    }

    async fn season_files() -> (Vec<PathBuf>, Vec<MediaFile>) {
        let root = std::fs::canonicalize(season_dir()).unwrap();
        let mut files = Vec::new();
        for &(number, ..) in SEASON {
            let path = root.join(format!("Show S01E{number:02}.mkv"));
            let probe = super::super::probe::probe("ffprobe", &path, Duration::from_secs(60))
                .await
                .unwrap();
            files.push(episode(number, &root, probe.info));
        }
        (vec![root], files)
    }

    fn config() -> DetectConfig {
        DetectConfig {
            ffmpeg: "ffmpeg".into(),
            ffprobe: "ffprobe".into(),
            window: 300.0,
        }
    }

    #[tokio::test]
    async fn a_generated_season_gets_its_intros_and_credits_within_a_second() {
        let (roots, files) = season_files().await;
        let found = detect_season(&config(), &roots, &files).await;
        for (f, &(number, cold_open, story, with_opening)) in found.iter().zip(SEASON) {
            let m = &f.markers;
            eprintln!("E{number}: {:?} {:?} {:?}", m.intro, m.credits, f.problem);
            assert_eq!(f.problem, None, "E{number}");
            if with_opening {
                let intro = m
                    .intro
                    .as_ref()
                    .unwrap_or_else(|| panic!("E{number}: no intro"));
                assert!(
                    (intro.start - cold_open).abs() <= 1.0,
                    "E{number}: {intro:?}"
                );
                assert!(
                    (intro.end - (cold_open + DEMO_OPENING)).abs() <= 1.0,
                    "E{number}: {intro:?}"
                );
            } else {
                assert_eq!(m.intro, None, "E{number}");
            }
            let opening = if with_opening { DEMO_OPENING } else { 0.0 };
            let ending = cold_open + opening + story;
            let credits = m
                .credits
                .as_ref()
                .unwrap_or_else(|| panic!("E{number}: no credits"));
            assert!(
                (credits.start - ending).abs() <= 1.0,
                "E{number}: {credits:?}"
            );
            assert!(
                (credits.end - (ending + DEMO_ENDING)).abs() <= 1.0,
                "E{number}: {credits:?}"
            );
        }
    }

    #[test]
    fn ffprobe_chapters_give_the_first_intro_and_credits_and_skip_empty_ones() {
        let json = br#"{"chapters":[
            {"id":0,"start_time":"0.000000","end_time":"0.000000","tags":{"title":"Intro"}},
            {"id":1,"start_time":"5.000000","end_time":"95.500000","tags":{"title":"Opening"}},
            {"id":2,"start_time":"95.500000","end_time":"1300.000000","tags":{"title":"Chapter 2"}},
            {"id":3,"start_time":"1300.000000","end_time":"1390.000000","tags":{"title":"Ending"}},
            {"id":4,"start_time":"1390.000000","end_time":"1400.000000","tags":{"title":"Credits"}}
        ]}"#;
        let media = Media::from_ffprobe_json(json).unwrap();
        let m = markers_of_chapters(&media.chapters);
        let range = |start, end| Some(Range { start, end });
        assert_eq!(m.intro, range(5.0, 95.5));
        assert_eq!(m.outro, range(1300.0, 1390.0));
    }

    fn episode(number: u32, root: &Path, probe: ProbeInfo) -> MediaFile {
        MediaFile {
            id: i64::from(number),
            path: root.join(format!("Show S01E{number:02}.mkv")),
            root: root.to_path_buf(),
            size: 1,
            mtime_ns: 1,
            media_type: MediaType::Tv,
            tmdb_id: 1,
            title: "Show".into(),
            year: None,
            season: Some(1),
            episode: Some(number),
            episode_end: None,
            episode_title: None,
            probe,
            sidecars: Vec::new(),
            added_at: 0,
        }
    }

    #[test]
    fn spans_filling_their_window_or_crossing_each_other_are_not_markers() {
        // A 90 s opening and 60 s of credits in 300 s windows: kept.
        let (i, c, dropped) = within_reason(Some((5.0, 95.0)), Some((1300.0, 1360.0)), 300.0);
        assert_eq!(
            (i, c, dropped),
            (Some((5.0, 95.0)), Some((1300.0, 1360.0)), false)
        );
        // Matching over the whole window: the same audio, not an intro.
        let (i, c, dropped) = within_reason(Some((0.5, 299.0)), Some((1300.0, 1360.0)), 300.0);
        assert_eq!((i, c, dropped), (None, Some((1300.0, 1360.0)), true));
        // An intro still running when the credits start: neither can be trusted.
        let (i, c, dropped) = within_reason(Some((0.5, 40.0)), Some((35.0, 60.0)), 60.0);
        assert_eq!((i, c, dropped), (None, None, true));
    }

    #[test]
    fn two_episodes_that_sound_the_same_throughout_get_no_markers_and_say_why() {
        // Like the demo series: two 60 s episodes made of the same tone.
        let head = noise(11, (30.0 / ITEM_SECONDS) as usize);
        let tail = noise(12, (30.0 / ITEM_SECONDS) as usize);
        let sampled = || Sampled {
            head: Some(head.clone()),
            tail: Some(tail.clone()),
            ..Sampled::default()
        };
        let probe = ProbeInfo {
            duration: 60.0,
            ..ProbeInfo::default()
        };
        let files = [1, 2].map(|n| episode(n, Path::new("/lib"), probe.clone()));

        let found = season_markers(300.0, &files, &[sampled(), sampled()]);

        for f in &found {
            assert_eq!((f.markers.intro, f.markers.credits), (None, None));
            assert_eq!(
                f.problem.as_deref(),
                Some("no intro/credits markers: it sounds the same as another episode throughout")
            );
        }
    }

    #[test]
    fn a_season_shares_its_intro_and_chapters_win_over_fingerprints() {
        let intro = noise(9, 121);
        let print = |seed: u64| {
            let mut v = noise(seed, 10);
            v.extend(&intro);
            v.extend(noise(seed + 100, 200));
            v
        };
        let sampled = |seed: u64| Sampled {
            head: Some(print(seed)),
            tail: Some(noise(seed + 50, 300)),
            ..Sampled::default()
        };
        let chaptered = Sampled {
            chapters: Markers {
                intro: Some(Range {
                    start: 1.0,
                    end: 2.0,
                }),
                outro: None,
                recap: None,
            },
            problem: Some("it has no audio track to fingerprint".into()),
            ..Sampled::default()
        };
        let probe = ProbeInfo {
            duration: 600.0,
            ..ProbeInfo::default()
        };
        let files = [1, 2, 3].map(|n| episode(n, Path::new("/lib"), probe.clone()));

        let found = season_markers(300.0, &files, &[sampled(1), sampled(2), chaptered]);

        for f in &found[..2] {
            let intro = f.markers.intro.unwrap();
            assert!((intro.start - (10.0 * ITEM_SECONDS + START_LEAD_SECONDS)).abs() < 1e-9);
            assert_eq!(f.markers.credits, None);
            assert_eq!(f.markers.source, MarkerSource::Fingerprint);
            assert!((f.markers.confidence - 0.5).abs() < 1e-9);
            assert_eq!(f.problem, None);
        }
        let m = &found[2].markers;
        assert_eq!((m.source, m.confidence), (MarkerSource::Chapters, 1.0));
        assert_eq!(m.intro.unwrap().end, 2.0);
        assert_eq!(
            found[2].problem.as_deref(),
            Some("no intro/credits markers: it has no audio track to fingerprint")
        );

        let alone = season_markers(300.0, &files[..1], &[sampled(1)]);
        assert_eq!(alone[0].markers.intro, None);
        assert_eq!(
            alone[0].problem.as_deref(),
            Some("no intro/credits markers: no other episode of its season to compare with")
        );
    }

    #[test]
    fn chapter_titles_in_english_and_french_name_intros_and_credits() {
        for t in ["Opening", "OP", "Intro", "Générique", "Opening Credits"] {
            assert!(chapter_kind(t).is_some(), "{t}");
        }
        assert_eq!(chapter_kind("Opening"), Some(ChapterKind::Intro));
        assert_eq!(chapter_kind("Générique de fin"), Some(ChapterKind::Credits));
        assert_eq!(chapter_kind("Ending"), Some(ChapterKind::Credits));
        assert_eq!(chapter_kind("ED"), Some(ChapterKind::Credits));
        assert_eq!(chapter_kind("Chapter 2"), None);
        assert_eq!(chapter_kind("Operation"), None);
    }
}
