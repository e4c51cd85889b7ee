//! Folder walk → name parser → ffprobe → store. Incremental: a file whose size and mtime did
//! not change is neither probed nor rewritten, so a rescan of an unchanged library costs one
//! directory walk and one query. A file that cannot be identified or read becomes a problem
//! with its reason; it never stops the scan.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, UNIX_EPOCH};

use futures::StreamExt;
use serde::Serialize;

use super::confine;
use super::naming::{self, Sidecar};
use super::probe::{self, ProbeInfo};
use super::{LibraryConfig, LibraryError};
use crate::store::Store;
use crate::store::media::{
    MediaFile, NewFile, NewProblem, Problem, ScanChanges, Seen, SeenFile, SeenIndex, StoredProblem,
};

/// What a scan did, as `POST /api/library/scan` and `sokoul scan` report it.
#[derive(Debug, Clone, Default, Serialize, PartialEq, utoipa::ToSchema)]
pub struct ScanSummary {
    pub added: u32,
    pub updated: u32,
    pub removed: u32,
    pub unchanged: u32,
    /// Every file that could not be identified or read, with the reason.
    pub failed: Vec<Problem>,
    /// Files ffprobe was run on during this scan.
    pub probed: u32,
    pub elapsed_ms: u64,
}

/// A video file found by the walk.
#[derive(Debug)]
struct Found {
    path: PathBuf,
    root: PathBuf,
    folders: Vec<String>,
    file_name: String,
    seen: Seen,
    sidecars: Vec<Sidecar>,
}

#[derive(Debug, Default)]
struct Walk {
    found: Vec<Found>,
    problems: Vec<NewProblem>,
    /// Roots that could not be listed at all: their stored files are kept (a disk that is not
    /// mounted right now should not empty the library).
    unreadable_roots: HashSet<String>,
    /// Folders already walked, by `(device, inode)`: a link back to a folder being walked
    /// (`a -> .`) or to one already walked is not entered again.
    visited: HashSet<(u64, u64)>,
    /// Videos already found, by canonical path: one reachable by two paths is indexed once.
    videos: HashSet<PathBuf>,
}

/// Deeper than any sane library. Loops are stopped by `Walk::visited`; this bounds a chain of
/// distinct links (each to a deeper folder) as well.
const MAX_DEPTH: usize = 24;

fn walk(roots: &[PathBuf], max_subtitle_bytes: u64) -> Walk {
    let mut out = Walk::default();
    for root in roots {
        let root_s = root.to_string_lossy().to_string();
        match std::fs::read_dir(root).and_then(|_| std::fs::metadata(root)) {
            Ok(meta) => {
                out.visited.insert((meta.dev(), meta.ino()));
                let ctx = Context {
                    roots,
                    root,
                    max_subtitle_bytes,
                };
                walk_dir(&ctx, root, &mut Vec::new(), 0, &mut out);
            }
            Err(e) => {
                out.unreadable_roots.insert(root_s.clone());
                out.problems.push(NewProblem {
                    path: root_s.clone(),
                    root: root_s,
                    seen: None,
                    reason: format!("cannot read the library folder: {}", io_reason(&e)),
                });
            }
        }
    }
    // A sidecar shared by two videos (`Film.mkv`, `Film.mp4`) is reported once.
    let mut reported = HashSet::new();
    out.problems.retain(|p| reported.insert(p.path.clone()));
    out
}

struct Context<'a> {
    roots: &'a [PathBuf],
    root: &'a Path,
    max_subtitle_bytes: u64,
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "it does not exist".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

impl Context<'_> {
    /// Records a problem found by the walk: the file itself could not be stat'ed or used.
    fn problem(&self, out: &mut Walk, path: &Path, reason: String) {
        out.problems.push(NewProblem {
            path: path.to_string_lossy().to_string(),
            root: self.root.to_string_lossy().to_string(),
            seen: None,
            reason,
        })
    }
}

fn walk_dir(
    ctx: &Context<'_>,
    dir: &Path,
    folders: &mut Vec<String>,
    depth: usize,
    out: &mut Walk,
) {
    if depth > MAX_DEPTH {
        ctx.problem(out, dir, "folder nested too deeply (symlink loop?)".into());
        return;
    }
    let Some(names) = list_dir(ctx, dir, out) else {
        return;
    };
    let all_names: Vec<&str> = names.iter().map(|(n, _)| n.as_str()).collect();
    for (name, path) in &names {
        // `metadata` follows symlinks, so a linked folder or file is scanned like a real one.
        let Some(meta) = entry_metadata(ctx, name, path, out) else {
            continue;
        };
        if !(meta.is_dir() || naming::is_video(name)) {
            continue;
        }
        // Links are followed only to places inside a library folder.
        let canonical = match confine::resolve(ctx.roots, path) {
            Ok((canonical, _)) => canonical,
            Err(e) => {
                ctx.problem(out, path, format!("cannot read: {e}"));
                continue;
            }
        };
        if meta.is_dir() {
            if !out.visited.insert((meta.dev(), meta.ino())) {
                tracing::debug!(folder = %path.display(), "folder already scanned through another path");
                continue;
            }
            folders.push(name.clone());
            walk_dir(ctx, path, folders, depth + 1, out);
            folders.pop();
            continue;
        }
        if !meta.is_file() {
            let reason = "not a regular file (a pipe, socket or device)";
            ctx.problem(out, path, reason.into());
            continue;
        }
        if !out.videos.insert(canonical) {
            tracing::debug!(file = %path.display(), "file already found through another path");
            continue;
        }
        let sidecars = sidecars_of(ctx, dir, name, &all_names, out);
        out.found.push(Found {
            path: path.clone(),
            root: ctx.root.to_path_buf(),
            folders: folders.clone(),
            file_name: name.clone(),
            seen: seen_of(&meta),
            sidecars,
        });
    }
}

/// The folder's visible entries, sorted by name; `None` when it cannot be read at all.
fn list_dir(ctx: &Context<'_>, dir: &Path, out: &mut Walk) -> Option<Vec<(String, PathBuf)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => {
            ctx.problem(
                out,
                dir,
                format!("cannot read the folder: {}", io_reason(&e)),
            );
            return None;
        }
    };
    let mut names: Vec<(String, PathBuf)> = Vec::new();
    for entry in entries {
        match entry {
            Ok(entry) => {
                let name = entry.file_name().to_string_lossy().to_string();
                // Hidden files and folders (.trash, .DS_Store, ._AppleDouble) are not media.
                if !name.starts_with('.') {
                    names.push((name, entry.path()));
                }
            }
            Err(e) => {
                let reason = format!("cannot list the folder: {}", io_reason(&e));
                ctx.problem(out, dir, reason)
            }
        }
    }
    names.sort();
    Some(names)
}

/// The entry's metadata through links; a video or a link that cannot be followed is a problem.
fn entry_metadata(
    ctx: &Context<'_>,
    name: &str,
    path: &Path,
    out: &mut Walk,
) -> Option<std::fs::Metadata> {
    let e = match std::fs::metadata(path) {
        Ok(m) => return Some(m),
        Err(e) => e,
    };
    if naming::is_video(name) || std::fs::symlink_metadata(path).is_ok() {
        let why = if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
            format!("broken symbolic link: {}", io_reason(&e))
        } else {
            io_reason(&e)
        };
        ctx.problem(out, path, format!("cannot read: {why}"));
    }
    None
}

pub(crate) fn seen_of(meta: &std::fs::Metadata) -> Seen {
    let mtime_ns = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0);
    Seen {
        size: meta.len(),
        mtime_ns,
    }
}

/// The sidecar subtitles of video `name` among the folder's `all_names`; a refused one is a
/// problem.
fn sidecars_of(
    ctx: &Context<'_>,
    dir: &Path,
    name: &str,
    all_names: &[&str],
    out: &mut Walk,
) -> Vec<Sidecar> {
    let stem = name.rsplit_once('.').map(|(s, _)| s).unwrap_or(name);
    all_names
        .iter()
        .filter(|n| **n != name)
        .filter_map(|n| naming::sidecar(stem, n))
        .filter(|s| match check_sidecar(ctx, &dir.join(&s.file_name)) {
            Ok(()) => true,
            Err(reason) => {
                ctx.problem(out, &dir.join(&s.file_name), reason);
                false
            }
        })
        .collect()
}

/// A sidecar is offered only when it is a regular file inside the library, under the size
/// cap; serving it checks all this again on the opened file.
fn check_sidecar(ctx: &Context<'_>, path: &Path) -> Result<(), String> {
    let refused = |e: confine::Refusal| format!("subtitle refused: {e}");
    let (canonical, _) = confine::resolve(ctx.roots, path).map_err(refused)?;
    let meta = std::fs::metadata(&canonical).map_err(|e| refused(e.into()))?;
    if !meta.is_file() {
        return Err(refused(confine::Refusal::NotRegular));
    }
    if meta.len() > ctx.max_subtitle_bytes {
        return Err(format!(
            "subtitle refused: {} bytes, over library.max_subtitle_bytes ({})",
            meta.len(),
            ctx.max_subtitle_bytes
        ));
    }
    Ok(())
}

/// A video the walk found and its name identified: probed when new or changed.
#[derive(Debug)]
struct Candidate {
    found: Found,
    identity: naming::Identity,
}

/// A candidate after ffprobe: what it holds or why it cannot be read, and the keyframes of a
/// video that will be remuxed.
#[derive(Debug)]
struct Probed {
    candidate: Candidate,
    probe: Result<probe::FileProbe, LibraryError>,
    keyframes: Option<Vec<f64>>,
}

/// The walk's videos sorted against the stored index, before any ffprobe run.
#[derive(Debug, Default)]
struct Classified {
    /// Every video the walk found, identified or not, by path.
    present: HashSet<String>,
    /// New or changed files.
    to_probe: Vec<Candidate>,
    unchanged: u32,
    /// Unchanged videos whose sidecar subtitles changed.
    sidecars: Vec<(String, Vec<Sidecar>)>,
    /// Videos whose names do not say what they are.
    problems: Vec<NewProblem>,
}

/// Scans `roots` into `store`: walk → classify → probe → reconcile. `at` (unix seconds) is
/// when the scan runs: the date added of the files it finds for the first time.
pub async fn scan(
    store: &Store,
    config: &LibraryConfig,
    roots: &[PathBuf],
    at: i64,
) -> Result<ScanSummary, LibraryError> {
    let started = Instant::now();
    let roots_owned = roots.to_vec();
    let max_subtitle_bytes = config.max_subtitle_bytes;
    let mut walk = tokio::task::spawn_blocking(move || walk(&roots_owned, max_subtitle_bytes))
        .await
        .map_err(|_| LibraryError::Internal("the folder walk panicked".into()))?;
    let index = store.seen().await?;
    let Classified {
        present,
        to_probe,
        unchanged,
        sidecars,
        problems,
    } = classify(std::mem::take(&mut walk.found), &index);
    let probed = probe_all(config, to_probe).await;
    let mut summary = ScanSummary {
        unchanged,
        ..ScanSummary::default()
    };
    let mut changes = ScanChanges {
        problems,
        sidecars,
        ..ScanChanges::default()
    };
    record_probes(probed, &index, &mut changes, &mut summary)?;
    sweep(&index, roots, &present, &walk, &mut changes, &mut summary);
    summary.failed = apply_and_report(store, roots, walk.problems, changes, at).await?;
    summary.elapsed_ms = started.elapsed().as_millis() as u64;
    log_summary(&summary);
    Ok(summary)
}

/// Sorts the walk's videos against `index`: an unchanged file is counted (its sidecars
/// updated when they changed), a file known to be broken and unchanged is left alone (not
/// worth another ffprobe run), a file whose name says nothing is a problem, and the rest is to
/// be probed.
fn classify(found: Vec<Found>, index: &SeenIndex) -> Classified {
    let mut out = Classified::default();
    for found in found {
        let key = found.path.to_string_lossy().to_string();
        out.present.insert(key.clone());
        let folders: Vec<&str> = found.folders.iter().map(String::as_str).collect();
        let identity = match naming::identify(&folders, &found.file_name) {
            Ok(id) => id,
            Err(e) => {
                out.problems.push(NewProblem {
                    path: key,
                    root: found.root.to_string_lossy().to_string(),
                    seen: Some(found.seen),
                    reason: e.to_string(),
                });
                continue;
            }
        };
        if let Some(stored) = index.files.get(&key) {
            // A row from an older build may lack what this one decides by: probed again.
            if stored.seen == found.seen && stored.probe_version >= probe::PROBE_VERSION {
                let sidecars_json = &stored.sidecars;
                out.unchanged += 1;
                let now = serde_json::to_string(&found.sidecars).unwrap_or_default();
                if now != *sidecars_json {
                    out.sidecars.push((key, found.sidecars));
                }
                continue;
            }
        } else if let Some((Some(seen), _)) = index.problems.get(&key) {
            // Known broken and unchanged: not worth another ffprobe run.
            if *seen == found.seen {
                continue;
            }
        }
        out.to_probe.push(Candidate { found, identity });
    }
    out
}

/// ffprobe on every candidate, `library.probe_concurrency` at a time.
async fn probe_all(config: &LibraryConfig, candidates: Vec<Candidate>) -> Vec<Probed> {
    let timeout = Duration::from_secs_f64(config.probe_timeout);
    let ffprobe = config.ffprobe.as_str();
    futures::stream::iter(candidates)
        .map(|candidate| probe_one(ffprobe, candidate, timeout))
        .buffer_unordered(config.probe_concurrency.max(1))
        .collect()
        .await
}

async fn probe_one(ffprobe: &str, candidate: Candidate, timeout: Duration) -> Probed {
    let path = &candidate.found.path;
    let probe = probe::probe(ffprobe, path, timeout).await;
    let keyframes = match &probe {
        Ok(p) if p.info.video.may_be_copied() => {
            // Generous: reading a large file's packet index is I/O-bound.
            let index = p.info.video.index;
            probe::keyframes(ffprobe, path, &p.info.format, index, timeout * 20)
                .await
                .ok()
                .filter(|k| !k.is_empty())
        }
        _ => None,
    };
    Probed {
        candidate,
        probe,
        keyframes,
    }
}

/// A probed file joins the library (added or updated); one ffprobe cannot read becomes a
/// problem and leaves the library if it was in it. ffprobe itself missing or broken stops the
/// scan: no file could be read, and storing that would empty the library.
fn record_probes(
    probed: Vec<Probed>,
    index: &SeenIndex,
    changes: &mut ScanChanges,
    summary: &mut ScanSummary,
) -> Result<(), LibraryError> {
    for Probed {
        candidate: Candidate { found, identity },
        probe,
        keyframes,
    } in probed
    {
        summary.probed += 1;
        let key = found.path.to_string_lossy().to_string();
        let known = index.files.contains_key(&key);
        match probe {
            Ok(probe::FileProbe { info, json }) => {
                if known {
                    summary.updated += 1;
                } else {
                    summary.added += 1;
                }
                let file = media_file(found, identity, info);
                changes.upserts.push(NewFile {
                    file,
                    keyframes,
                    ffprobe_json: Some(json),
                });
            }
            Err(e @ LibraryError::Tool(_)) => return Err(e),
            Err(e) => {
                if known {
                    summary.removed += 1;
                }
                changes.problems.push(NewProblem {
                    path: key,
                    root: found.root.to_string_lossy().to_string(),
                    seen: Some(found.seen),
                    reason: e.to_string(),
                });
            }
        }
    }
    Ok(())
}

fn media_file(found: Found, identity: naming::Identity, probe: ProbeInfo) -> MediaFile {
    let (season, episode, episode_end) = match identity.episode {
        Some((s, a, b)) => (Some(s), Some(a), Some(b)),
        None => (None, None, None),
    };
    MediaFile {
        id: 0,
        path: found.path,
        root: found.root,
        size: found.seen.size,
        mtime_ns: found.seen.mtime_ns,
        media_type: identity.media_type,
        tmdb_id: identity.tmdb_id,
        title: identity.title,
        year: identity.year,
        season,
        episode,
        episode_end,
        episode_title: identity.episode_title,
        probe,
        sidecars: found.sidecars,
        added_at: 0,
    }
}

/// Stored files the walk no longer finds leave the library, and stored problems that no longer
/// apply are cleared. A root that could not be listed keeps both (a disk that is not mounted
/// right now should not empty the library); a root no longer configured keeps neither.
fn sweep(
    index: &SeenIndex,
    roots: &[PathBuf],
    present: &HashSet<String>,
    walk: &Walk,
    changes: &mut ScanChanges,
    summary: &mut ScanSummary,
) {
    let roots_s: HashSet<String> = roots
        .iter()
        .map(|r| r.to_string_lossy().to_string())
        .collect();
    let keep = |root: &str| walk.unreadable_roots.contains(root);
    for (path, SeenFile { root, .. }) in &index.files {
        let gone = !roots_s.contains(root) || (!present.contains(path) && !keep(root));
        if gone {
            changes.removed.push(path.clone());
            summary.removed += 1;
        }
    }
    let problem_paths: HashSet<String> = walk
        .problems
        .iter()
        .chain(changes.problems.iter())
        .map(|p| p.path.clone())
        .collect();
    for (path, (_, root)) in &index.problems {
        let still_seen = present.contains(path) || problem_paths.contains(path);
        if !(still_seen || keep(root) && roots_s.contains(root)) {
            changes.cleared_problems.push(path.clone());
        }
    }
}

/// Stores `changes` and lists every problem of the library, sorted by path: this scan's, and
/// those of unchanged problem files, whose stored rows are kept and reported again.
async fn apply_and_report(
    store: &Store,
    roots: &[PathBuf],
    walk_problems: Vec<NewProblem>,
    mut changes: ScanChanges,
    at: i64,
) -> Result<Vec<Problem>, LibraryError> {
    let mut failed: Vec<StoredProblem> = walk_problems
        .iter()
        .chain(changes.problems.iter())
        .map(|p| StoredProblem {
            path: p.path.clone(),
            root: p.root.clone(),
            reason: p.reason.clone(),
        })
        .collect();
    changes.problems.extend(walk_problems);
    store.apply_scan(changes, at).await?;
    let reported: HashSet<String> = failed.iter().map(|p| p.path.clone()).collect();
    failed.extend(
        store
            .problems()
            .await?
            .into_iter()
            .filter(|p| !reported.contains(&p.path)),
    );
    failed.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(failed
        .iter()
        .filter_map(|p| super::shown(roots, p))
        .collect())
}

fn log_summary(summary: &ScanSummary) {
    let files = summary.added + summary.updated + summary.unchanged;
    tracing::info!(
        files,
        probed = summary.probed,
        added = summary.added,
        updated = summary.updated,
        removed = summary.removed,
        failed = summary.failed.len(),
        elapsed_ms = summary.elapsed_ms,
        "scan finished: {} files, {} probed, {} failed in {} ms",
        files,
        summary.probed,
        summary.failed.len(),
        summary.elapsed_ms
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &str = "/lib";
    const FILM: &str = "Film (2020) [tmdbid-603]";

    fn seen(size: u64) -> Seen {
        Seen { size, mtime_ns: 7 }
    }

    fn found(file_name: &str, size: u64, sidecars: Vec<Sidecar>) -> Found {
        Found {
            path: Path::new(ROOT).join(FILM).join(file_name),
            root: PathBuf::from(ROOT),
            folders: vec![FILM.into()],
            file_name: file_name.into(),
            seen: seen(size),
            sidecars,
        }
    }

    fn key(file_name: &str) -> String {
        format!("{ROOT}/{FILM}/{file_name}")
    }

    fn english() -> Sidecar {
        naming::sidecar("a", "a.en.srt").expect("a sidecar name")
    }

    fn row(size: u64, sidecars: String, root: &str) -> SeenFile {
        SeenFile {
            seen: seen(size),
            sidecars,
            root: root.into(),
            probe_version: probe::PROBE_VERSION,
        }
    }

    fn stored(index: &mut SeenIndex, file_name: &str, size: u64, sidecars: &[Sidecar]) {
        let json = serde_json::to_string(sidecars).unwrap();
        index.files.insert(key(file_name), row(size, json, ROOT));
    }

    #[test]
    fn classify_probes_only_new_or_changed_files_and_names_the_unidentified() {
        let mut index = SeenIndex::default();
        stored(&mut index, "same.mkv", 1, &[]);
        stored(&mut index, "subs.mkv", 1, &[]);
        stored(&mut index, "grown.mkv", 1, &[]);
        // Unchanged, but scanned by an older build that did not record everything.
        stored(&mut index, "older.mkv", 1, &[]);
        index
            .files
            .get_mut(&key("older.mkv"))
            .unwrap()
            .probe_version = probe::PROBE_VERSION - 1;
        index
            .problems
            .insert(key("broken.mkv"), (Some(seen(1)), ROOT.into()));
        let mut unnamed = found("x.mkv", 1, Vec::new());
        unnamed.folders.clear();
        unnamed.path = Path::new(ROOT).join("x.mkv");
        let walked = vec![
            found("same.mkv", 1, Vec::new()),
            found("subs.mkv", 1, vec![english()]),
            found("grown.mkv", 2, Vec::new()),
            found("older.mkv", 1, Vec::new()),
            found("new.mkv", 1, Vec::new()),
            found("broken.mkv", 1, Vec::new()),
            unnamed,
        ];

        let c = classify(walked, &index);

        let probed: Vec<&str> = c
            .to_probe
            .iter()
            .map(|p| p.found.file_name.as_str())
            .collect();
        assert_eq!(probed, ["grown.mkv", "older.mkv", "new.mkv"]);
        assert_eq!(c.to_probe[2].identity.tmdb_id, 603);
        assert_eq!(c.unchanged, 2);
        assert_eq!(c.sidecars, vec![(key("subs.mkv"), vec![english()])]);
        assert_eq!(c.problems.len(), 1);
        assert_eq!(c.problems[0].path, format!("{ROOT}/x.mkv"));
        assert_eq!(
            c.problems[0].seen,
            Some(seen(1)),
            "kept so it is not retried"
        );
        assert_eq!(c.present.len(), 7, "every video found counts as present");
    }

    fn probed(file_name: &str, probe: Result<ProbeInfo, LibraryError>) -> Probed {
        let found = found(file_name, 1, Vec::new());
        let identity = naming::identify(&[FILM], file_name).unwrap();
        Probed {
            candidate: Candidate { found, identity },
            probe: probe.map(|info| probe::FileProbe {
                info,
                json: Vec::new(),
            }),
            keyframes: None,
        }
    }

    #[test]
    fn an_unreadable_file_leaves_the_library_and_a_missing_ffprobe_stops_the_scan() {
        let mut index = SeenIndex::default();
        stored(&mut index, "old.mkv", 1, &[]);
        stored(&mut index, "bad.mkv", 1, &[]);
        let results = vec![
            probed("new.mkv", Ok(ProbeInfo::default())),
            probed("old.mkv", Ok(ProbeInfo::default())),
            probed(
                "bad.mkv",
                Err(LibraryError::Probe("no video stream".into())),
            ),
        ];
        let (mut changes, mut summary) = (ScanChanges::default(), ScanSummary::default());

        record_probes(results, &index, &mut changes, &mut summary).unwrap();

        assert_eq!(
            (
                summary.probed,
                summary.added,
                summary.updated,
                summary.removed
            ),
            (3, 1, 1, 1)
        );
        assert_eq!(changes.upserts.len(), 2);
        assert_eq!(changes.upserts[0].file.tmdb_id, 603);
        assert_eq!(changes.problems[0].path, key("bad.mkv"));
        assert_eq!(changes.problems[0].reason, "no video stream");

        let tool = vec![probed(
            "a.mkv",
            Err(LibraryError::Tool("no ffprobe".into())),
        )];
        let outcome = record_probes(tool, &index, &mut changes, &mut summary);
        assert!(matches!(outcome, Err(LibraryError::Tool(_))));
    }

    #[test]
    fn sweep_keeps_an_unreadable_roots_files_and_drops_an_unconfigured_roots() {
        let mut index = SeenIndex::default();
        let at = |root: &str, name: &str| format!("{root}/{name}");
        for (root, name) in [
            ("/a", "here"),
            ("/a", "gone"),
            ("/b", "offline"),
            ("/c", "old"),
        ] {
            index
                .files
                .insert(at(root, name), row(1, "[]".into(), root));
        }
        for (root, name) in [("/a", "fixed"), ("/a", "still"), ("/b", "offline-problem")] {
            index.problems.insert(at(root, name), (None, root.into()));
        }
        let roots = [PathBuf::from("/a"), PathBuf::from("/b")];
        let present = HashSet::from([at("/a", "here")]);
        let mut walk = Walk::default();
        walk.unreadable_roots.insert("/b".into());
        walk.problems.push(NewProblem {
            path: at("/a", "still"),
            root: "/a".into(),
            seen: None,
            reason: "permission denied".into(),
        });
        let (mut changes, mut summary) = (ScanChanges::default(), ScanSummary::default());

        sweep(&index, &roots, &present, &walk, &mut changes, &mut summary);

        changes.removed.sort();
        assert_eq!(changes.removed, [at("/a", "gone"), at("/c", "old")]);
        assert_eq!(summary.removed, 2);
        assert_eq!(changes.cleared_problems, [at("/a", "fixed")]);
    }
}
