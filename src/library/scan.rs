//! Folder walk → name parser → ffprobe → store. Incremental: a file whose size and mtime did
//! not change is neither probed nor rewritten, so a rescan of an unchanged library costs one
//! directory walk and one query. A file that cannot be identified or read becomes a problem
//! with its reason; it never stops the scan.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, UNIX_EPOCH};

use futures::StreamExt;
use serde::Serialize;

use super::naming::{self, Sidecar};
use super::{LibraryConfig, LibraryError};
use super::{confine, probe};
use crate::store::Store;
use crate::store::media::{
    MediaFile, NewFile, NewProblem, Problem, ScanChanges, Seen, StoredProblem,
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

fn walk_dir(
    ctx: &Context<'_>,
    dir: &Path,
    folders: &mut Vec<String>,
    depth: usize,
    out: &mut Walk,
) {
    let root_s = ctx.root.to_string_lossy().to_string();
    let problem = |out: &mut Walk, path: &Path, seen: Option<Seen>, reason: String| {
        out.problems.push(NewProblem {
            path: path.to_string_lossy().to_string(),
            root: root_s.clone(),
            seen,
            reason,
        })
    };
    if depth > MAX_DEPTH {
        problem(
            out,
            dir,
            None,
            "folder nested too deeply (symlink loop?)".into(),
        );
        return;
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => {
            problem(
                out,
                dir,
                None,
                format!("cannot read the folder: {}", io_reason(&e)),
            );
            return;
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
            Err(e) => problem(
                out,
                dir,
                None,
                format!("cannot list the folder: {}", io_reason(&e)),
            ),
        }
    }
    names.sort();
    let all_names: Vec<&str> = names.iter().map(|(n, _)| n.as_str()).collect();
    for (name, path) in &names {
        // `metadata` follows symlinks, so a linked folder or file is scanned like a real one.
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) => {
                if naming::is_video(name) || std::fs::symlink_metadata(path).is_ok() {
                    let why = if std::fs::symlink_metadata(path)
                        .is_ok_and(|m| m.file_type().is_symlink())
                    {
                        format!("broken symbolic link: {}", io_reason(&e))
                    } else {
                        io_reason(&e)
                    };
                    problem(out, path, None, format!("cannot read: {why}"));
                }
                continue;
            }
        };
        if !(meta.is_dir() || naming::is_video(name)) {
            continue;
        }
        // Links are followed only to places inside a library folder.
        let canonical = match confine::resolve(ctx.roots, path) {
            Ok((canonical, _)) => canonical,
            Err(e) => {
                problem(out, path, None, format!("cannot read: {e}"));
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
            problem(
                out,
                path,
                None,
                "not a regular file (a pipe, socket or device)".into(),
            );
            continue;
        }
        if !out.videos.insert(canonical) {
            tracing::debug!(file = %path.display(), "file already found through another path");
            continue;
        }
        let mtime_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(0);
        let stem = name.rsplit_once('.').map(|(s, _)| s).unwrap_or(name);
        let sidecars = all_names
            .iter()
            .filter(|n| *n != name)
            .filter_map(|n| naming::sidecar(stem, n))
            .filter(|s| match check_sidecar(ctx, &dir.join(&s.file_name)) {
                Ok(()) => true,
                Err(reason) => {
                    problem(out, &dir.join(&s.file_name), None, reason);
                    false
                }
            })
            .collect();
        out.found.push(Found {
            path: path.clone(),
            root: ctx.root.to_path_buf(),
            folders: folders.clone(),
            file_name: name.clone(),
            seen: Seen {
                size: meta.len(),
                mtime_ns,
            },
            sidecars,
        });
    }
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

/// Scans `roots` into `store`.
pub async fn scan(
    store: &Store,
    config: &LibraryConfig,
    roots: &[PathBuf],
) -> Result<ScanSummary, LibraryError> {
    let started = Instant::now();
    let roots_owned = roots.to_vec();
    let max_subtitle_bytes = config.max_subtitle_bytes;
    let walk = tokio::task::spawn_blocking(move || walk(&roots_owned, max_subtitle_bytes))
        .await
        .map_err(|_| LibraryError::Internal("the folder walk panicked".into()))?;
    let index = store.seen().await?;
    let mut changes = ScanChanges::default();
    let mut summary = ScanSummary::default();
    let mut present: HashSet<String> = HashSet::new();
    let mut to_probe: Vec<(Found, naming::Identity)> = Vec::new();

    for found in walk.found {
        let key = found.path.to_string_lossy().to_string();
        present.insert(key.clone());
        let folders: Vec<&str> = found.folders.iter().map(String::as_str).collect();
        let identity = match naming::identify(&folders, &found.file_name) {
            Ok(id) => id,
            Err(e) => {
                changes.problems.push(NewProblem {
                    path: key,
                    root: found.root.to_string_lossy().to_string(),
                    seen: Some(found.seen),
                    reason: e.to_string(),
                });
                continue;
            }
        };
        if let Some((seen, sidecars_json, _)) = index.files.get(&key) {
            if *seen == found.seen {
                summary.unchanged += 1;
                let now = serde_json::to_string(&found.sidecars).unwrap_or_default();
                if now != *sidecars_json {
                    changes.sidecars.push((key, found.sidecars));
                }
                continue;
            }
        } else if let Some((Some(seen), _)) = index.problems.get(&key) {
            // Known broken and unchanged: not worth another ffprobe run.
            if *seen == found.seen {
                continue;
            }
        }
        to_probe.push((found, identity));
    }

    let probe_timeout = Duration::from_secs_f64(config.probe_timeout);
    let ffprobe = Arc::new(config.ffprobe.clone());
    let results: Vec<_> = futures::stream::iter(to_probe)
        .map(|(found, identity)| {
            let ffprobe = ffprobe.clone();
            async move {
                let probed = probe::probe(&ffprobe, &found.path, probe_timeout).await;
                let keyframes = match &probed {
                    Ok(info) if info.remux_video() => {
                        // Generous: reading a large file's packet index is I/O-bound.
                        probe::keyframes(
                            &ffprobe,
                            &found.path,
                            &info.format,
                            info.video.index,
                            probe_timeout * 20,
                        )
                        .await
                        .ok()
                        .filter(|k| !k.is_empty())
                    }
                    _ => None,
                };
                (found, identity, probed, keyframes)
            }
        })
        .buffer_unordered(config.probe_concurrency.max(1))
        .collect()
        .await;

    for (found, identity, probed, keyframes) in results {
        summary.probed += 1;
        let key = found.path.to_string_lossy().to_string();
        match probed {
            Ok(info) => {
                if index.files.contains_key(&key) {
                    summary.updated += 1;
                } else {
                    summary.added += 1;
                }
                let (season, episode, episode_end) = match identity.episode {
                    Some((s, a, b)) => (Some(s), Some(a), Some(b)),
                    None => (None, None, None),
                };
                changes.upserts.push(NewFile {
                    file: MediaFile {
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
                        probe: info,
                        sidecars: found.sidecars,
                    },
                    keyframes,
                });
            }
            Err(LibraryError::Tool(reason)) => return Err(LibraryError::Tool(reason)),
            Err(e) => {
                if index.files.contains_key(&key) {
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

    let roots_s: HashSet<String> = roots
        .iter()
        .map(|r| r.to_string_lossy().to_string())
        .collect();
    let keep = |root: &str| walk.unreadable_roots.contains(root);
    for (path, (_, _, root)) in &index.files {
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
    // A problem file that is unchanged keeps its stored row: report it again from the index.
    let mut failed: Vec<StoredProblem> = walk
        .problems
        .iter()
        .chain(changes.problems.iter())
        .map(|p| StoredProblem {
            path: p.path.clone(),
            root: p.root.clone(),
            reason: p.reason.clone(),
        })
        .collect();
    changes.problems.extend(walk.problems);
    store.apply_scan(changes).await?;
    let reported: HashSet<String> = failed.iter().map(|p| p.path.clone()).collect();
    failed.extend(
        store
            .problems()
            .await?
            .into_iter()
            .filter(|p| !reported.contains(&p.path)),
    );
    failed.sort_by(|a, b| a.path.cmp(&b.path));
    let failed: Vec<Problem> = failed
        .iter()
        .filter_map(|p| super::shown(roots, p))
        .collect();
    summary.failed = failed;
    summary.elapsed_ms = started.elapsed().as_millis() as u64;
    tracing::info!(
        files = summary.added + summary.updated + summary.unchanged,
        probed = summary.probed,
        added = summary.added,
        updated = summary.updated,
        removed = summary.removed,
        failed = summary.failed.len(),
        elapsed_ms = summary.elapsed_ms,
        "scan finished: {} files, {} probed, {} failed in {} ms",
        summary.added + summary.updated + summary.unchanged,
        summary.probed,
        summary.failed.len(),
        summary.elapsed_ms
    );
    Ok(summary)
}
