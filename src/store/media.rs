//! The library's tables: scanned media files, their keyframes, and scan problems.

use std::collections::HashMap;
use std::path::PathBuf;

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{Store, StoreError};
use crate::library::naming::Sidecar;
use crate::library::probe::ProbeInfo;
use crate::models::MediaType;

/// One scanned, identified video file.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaFile {
    pub id: i64,
    pub path: PathBuf,
    pub root: PathBuf,
    pub size: u64,
    pub mtime_ns: i64,
    pub media_type: MediaType,
    pub tmdb_id: u32,
    pub title: String,
    pub year: Option<u16>,
    pub season: Option<u32>,
    pub episode: Option<u32>,
    pub episode_end: Option<u32>,
    pub episode_title: Option<String>,
    pub probe: ProbeInfo,
    pub sidecars: Vec<Sidecar>,
    /// Unix seconds when a scan first saw the file (set by the store; ignored on upsert).
    pub added_at: i64,
}

impl MediaFile {
    /// Changes whenever the file's content may have changed: names the packaging cache.
    pub fn fingerprint(&self) -> String {
        let h = blake3::hash(
            format!("{}|{}|{}", self.path.display(), self.size, self.mtime_ns).as_bytes(),
        );
        h.to_hex()[..12].to_string()
    }
}

/// A file the scanner could not identify or read, as clients see it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// Relative to its library folder (`.` for the folder itself); never an absolute path,
    /// which would tell a viewer about the server's disks.
    pub path: String,
    /// Which library folder: its index in `library.paths` (`SOKOUL_LIBRARY`), from 0.
    pub root: usize,
    pub reason: String,
}

/// A problem as stored: absolute paths.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredProblem {
    pub path: String,
    pub root: String,
    pub reason: String,
}

/// What the scanner compares to decide whether a file changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    pub size: u64,
    pub mtime_ns: i64,
}

const COLUMNS: &str = "id, path, root, size, mtime_ns, media_type, tmdb_id, title, year, season, episode, \
                       episode_end, episode_title, probe, sidecars, added_at";

fn row_to_file(r: &Row<'_>) -> rusqlite::Result<(MediaFile, String, String)> {
    let media_type: String = r.get(5)?;
    let probe: String = r.get(13)?;
    let sidecars: String = r.get(14)?;
    Ok((
        MediaFile {
            id: r.get(0)?,
            path: PathBuf::from(r.get::<_, String>(1)?),
            root: PathBuf::from(r.get::<_, String>(2)?),
            size: r.get::<_, i64>(3)? as u64,
            mtime_ns: r.get(4)?,
            media_type: if media_type == "tv" {
                MediaType::Tv
            } else {
                MediaType::Movie
            },
            tmdb_id: r.get(6)?,
            title: r.get(7)?,
            year: r.get(8)?,
            season: r.get(9)?,
            episode: r.get(10)?,
            episode_end: r.get(11)?,
            episode_title: r.get(12)?,
            // Decoded from its JSON column by `finish`, off the row-reading closure.
            probe: ProbeInfo::default(),
            sidecars: Vec::new(),
            added_at: r.get(15)?,
        },
        probe,
        sidecars,
    ))
}

/// Inserts or replaces one scanned file, its keyframes, and clears its problem.
fn upsert_file(tx: &rusqlite::Transaction<'_>, new: &NewFile, at: i64) -> Result<(), StoreError> {
    let f = &new.file;
    let probe = serde_json::to_string(&f.probe).map_err(StoreError::corrupt(format!(
        "probe of {}",
        f.path.display()
    )))?;
    let sidecars = serde_json::to_string(&f.sidecars).map_err(StoreError::corrupt(format!(
        "sidecars of {}",
        f.path.display()
    )))?;
    let id: i64 = tx.query_row(
            "INSERT INTO media_files (path, root, size, mtime_ns, media_type, tmdb_id, title, year, season, \
             episode, episode_end, episode_title, duration, probe, sidecars, scanned_at, added_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?16) \
             ON CONFLICT (path) DO UPDATE SET root = excluded.root, size = excluded.size, \
             mtime_ns = excluded.mtime_ns, media_type = excluded.media_type, tmdb_id = excluded.tmdb_id, \
             title = excluded.title, year = excluded.year, season = excluded.season, \
             episode = excluded.episode, episode_end = excluded.episode_end, \
             episode_title = excluded.episode_title, duration = excluded.duration, \
             probe = excluded.probe, sidecars = excluded.sidecars, scanned_at = excluded.scanned_at \
             RETURNING id",
            params![
                f.path.to_string_lossy(),
                f.root.to_string_lossy(),
                f.size as i64,
                f.mtime_ns,
                f.media_type.as_str(),
                f.tmdb_id,
                f.title,
                f.year,
                f.season,
                f.episode,
                f.episode_end,
                f.episode_title,
                f.probe.duration,
                probe,
                sidecars,
                at
            ],
            |r| r.get(0),
        )?;
    tx.execute("DELETE FROM media_keyframes WHERE file_id = ?1", [id])?;
    if let Some(times) = &new.keyframes {
        let blob: Vec<u8> = times.iter().flat_map(|t| t.to_le_bytes()).collect();
        tx.execute(
            "INSERT INTO media_keyframes (file_id, times) VALUES (?1, ?2)",
            params![id, blob],
        )?;
    }
    tx.execute("DELETE FROM media_probes WHERE file_id = ?1", [id])?;
    if let Some(json) = &new.ffprobe_json {
        put_probe(tx, id, f.size, f.mtime_ns, json)?;
    }
    tx.execute(
        "DELETE FROM scan_problems WHERE path = ?1",
        [f.path.to_string_lossy()],
    )?;
    Ok(())
}

/// The largest ffprobe JSON kept: a film with many tracks and chapters writes tens of KiB; a
/// file whose JSON is larger is probed when played, as before.
pub const MAX_PROBE_JSON: usize = 512 * 1024;

fn put_probe(
    conn: &Connection,
    id: i64,
    size: u64,
    mtime_ns: i64,
    json: &[u8],
) -> Result<(), StoreError> {
    if json.len() <= MAX_PROBE_JSON {
        conn.execute(
            "INSERT OR REPLACE INTO media_probes (file_id, size, mtime_ns, json) VALUES (?1, ?2, ?3, ?4)",
            params![id, size as i64, mtime_ns, json],
        )?;
    }
    Ok(())
}

/// A file that cannot be used: out of the library, into the problems.
fn record_problem(
    tx: &rusqlite::Transaction<'_>,
    p: &NewProblem,
    at: i64,
) -> Result<(), StoreError> {
    tx.execute("DELETE FROM media_files WHERE path = ?1", [&p.path])?;
    tx.execute(
        "INSERT INTO scan_problems (path, root, size, mtime_ns, reason, seen_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
             ON CONFLICT (path) DO UPDATE SET root = excluded.root, size = excluded.size, \
             mtime_ns = excluded.mtime_ns, reason = excluded.reason, seen_at = excluded.seen_at",
        params![
            p.path,
            p.root,
            p.seen.map(|s| s.size as i64),
            p.seen.map(|s| s.mtime_ns),
            p.reason,
            at
        ],
    )?;
    Ok(())
}

fn finish(
    (mut file, probe, sidecars): (MediaFile, String, String),
) -> Result<MediaFile, StoreError> {
    file.probe = serde_json::from_str(&probe).map_err(StoreError::corrupt(format!(
        "probe of {}",
        file.path.display()
    )))?;
    file.sidecars = serde_json::from_str(&sidecars).map_err(StoreError::corrupt(format!(
        "sidecars of {}",
        file.path.display()
    )))?;
    Ok(file)
}

fn query_files(
    conn: &Connection,
    filter: &str,
    args: &[&dyn rusqlite::ToSql],
) -> Result<Vec<MediaFile>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM media_files {filter}");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(args, row_to_file)?;
    rows.map(|r| finish(r?)).collect()
}

/// A new or changed file, as the scanner hands it to the store.
#[derive(Debug, Clone)]
pub struct NewFile {
    pub file: MediaFile,
    pub keyframes: Option<Vec<f64>>,
    /// ffprobe's JSON as the scan read it (`playback::media::FFPROBE_ARGS`).
    pub ffprobe_json: Option<Vec<u8>>,
}

impl Store {
    /// What the last scan saw: stored files (with their sidecars as JSON) and problems, by path.
    pub async fn seen(&self) -> Result<SeenIndex, StoreError> {
        self.call(|conn| {
            let mut index = SeenIndex::default();
            // The probe's version from its JSON, without reading the rest of it.
            let mut stmt = conn.prepare(
                "SELECT path, size, mtime_ns, sidecars, root, \
                 COALESCE(json_extract(probe, '$.version'), 0) FROM media_files",
            )?;
            for row in stmt.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, i64>(5)?,
                ))
            })? {
                let (p, size, mtime_ns, sidecars, root, version) = row?;
                index.files.insert(
                    p,
                    SeenFile {
                        seen: Seen {
                            size: size as u64,
                            mtime_ns,
                        },
                        sidecars,
                        root,
                        probe_version: u32::try_from(version).unwrap_or(0),
                    },
                );
            }
            let mut stmt = conn.prepare("SELECT path, size, mtime_ns, root FROM scan_problems")?;
            for row in stmt.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<i64>>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })? {
                let (p, size, mtime_ns, root) = row?;
                let seen = match (size, mtime_ns) {
                    (Some(size), Some(mtime_ns)) => Some(Seen {
                        size: size as u64,
                        mtime_ns,
                    }),
                    _ => None,
                };
                index.problems.insert(p, (seen, root));
            }
            Ok(index)
        })
        .await
    }

    /// Applies one scan's changes in a single transaction; `at` (unix seconds) is when it ran.
    pub async fn apply_scan(&self, changes: ScanChanges, at: i64) -> Result<(), StoreError> {
        self.call(move |conn| {
            let tx = conn.transaction()?;
            for path in &changes.removed {
                tx.execute("DELETE FROM media_files WHERE path = ?1", [path])?;
            }
            for path in &changes.cleared_problems {
                tx.execute("DELETE FROM scan_problems WHERE path = ?1", [path])?;
            }
            for new in &changes.upserts {
                upsert_file(&tx, new, at)?;
            }
            for (path, sidecars) in &changes.sidecars {
                let json = serde_json::to_string(sidecars)
                    .map_err(StoreError::corrupt(format!("sidecars of {path}")))?;
                tx.execute(
                    "UPDATE media_files SET sidecars = ?2 WHERE path = ?1",
                    params![path, json],
                )?;
            }
            for p in &changes.problems {
                record_problem(&tx, p, at)?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    pub async fn file(&self, id: i64) -> Result<Option<MediaFile>, StoreError> {
        self.call(move |conn| {
            Ok(query_files(conn, "WHERE id = ?1", &[&id])?
                .into_iter()
                .next())
        })
        .await
    }

    /// Every file of a title, episodes in order.
    pub async fn files_of(
        &self,
        media_type: MediaType,
        tmdb_id: u32,
    ) -> Result<Vec<MediaFile>, StoreError> {
        self.call(move |conn| {
            query_files(
                conn,
                "WHERE media_type = ?1 AND tmdb_id = ?2 ORDER BY season, episode, path",
                &[&media_type.as_str(), &tmdb_id],
            )
        })
        .await
    }

    /// The files that hold one episode (a multi-episode file covers a range).
    pub async fn episode_files(
        &self,
        tmdb_id: u32,
        season: u32,
        episode: u32,
    ) -> Result<Vec<MediaFile>, StoreError> {
        self.call(move |conn| {
            query_files(
                conn,
                "WHERE media_type = 'tv' AND tmdb_id = ?1 AND season = ?2 AND episode <= ?3 \
                 AND COALESCE(episode_end, episode) >= ?3 ORDER BY path",
                &[&tmdb_id, &season, &episode],
            )
        })
        .await
    }

    pub async fn all_files(&self) -> Result<Vec<MediaFile>, StoreError> {
        self.call(|conn| query_files(conn, "ORDER BY title, season, episode, path", &[]))
            .await
    }

    pub async fn keyframes(&self, id: i64) -> Result<Option<Vec<f64>>, StoreError> {
        self.call(move |conn| {
            let blob: Option<Vec<u8>> = conn
                .query_row(
                    "SELECT times FROM media_keyframes WHERE file_id = ?1",
                    [id],
                    |r| r.get(0),
                )
                .optional()?;
            Ok(blob.map(|b| {
                b.chunks_exact(8)
                    .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
                    .collect()
            }))
        })
        .await
    }

    /// Keeps the keyframes of file `id` listed when it was first played (a file scanned before
    /// the scan listed its codec's keyframes), so the next start does not list them again.
    /// Nothing if the file left the library or changed since.
    pub async fn put_keyframes(
        &self,
        id: i64,
        size: u64,
        mtime_ns: i64,
        times: Vec<f64>,
    ) -> Result<(), StoreError> {
        let blob: Vec<u8> = times.iter().flat_map(|t| t.to_le_bytes()).collect();
        self.call(move |conn| {
            conn.execute(
                "INSERT OR REPLACE INTO media_keyframes (file_id, times) \
                 SELECT id, ?4 FROM media_files WHERE id = ?1 AND size = ?2 AND mtime_ns = ?3",
                params![id, size as i64, mtime_ns, blob],
            )?;
            Ok(())
        })
        .await
    }

    /// ffprobe's JSON of file `id` if it was read at this size and mtime.
    pub async fn probe_json(
        &self,
        id: i64,
        size: u64,
        mtime_ns: i64,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        self.call(move |conn| {
            Ok(conn
                .query_row(
                    "SELECT json FROM media_probes WHERE file_id = ?1 AND size = ?2 AND mtime_ns = ?3",
                    params![id, size as i64, mtime_ns],
                    |r| r.get(0),
                )
                .optional()?)
        })
        .await
    }

    /// Keeps ffprobe's JSON of file `id` read at this size and mtime (a file scanned before
    /// the JSON was stored, probed when first played). Nothing if the file left the library.
    pub async fn put_probe_json(
        &self,
        id: i64,
        size: u64,
        mtime_ns: i64,
        json: Vec<u8>,
    ) -> Result<(), StoreError> {
        self.call(move |conn| {
            let known: bool = conn
                .query_row(
                    "SELECT 1 FROM media_files WHERE id = ?1 AND size = ?2 AND mtime_ns = ?3",
                    params![id, size as i64, mtime_ns],
                    |_| Ok(true),
                )
                .optional()?
                .unwrap_or(false);
            if known {
                put_probe(conn, id, size, mtime_ns, &json)?;
            }
            Ok(())
        })
        .await
    }

    pub async fn problems(&self) -> Result<Vec<StoredProblem>, StoreError> {
        self.call(|conn| {
            let mut stmt =
                conn.prepare("SELECT path, root, reason FROM scan_problems ORDER BY path")?;
            let rows = stmt.query_map([], StoredProblem::read)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }
}

impl StoredProblem {
    /// A row of `(path, root, reason)`.
    pub(super) fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredProblem> {
        Ok(StoredProblem {
            path: r.get(0)?,
            root: r.get(1)?,
            reason: r.get(2)?,
        })
    }
}

/// A stored file as a scan compares against it.
#[derive(Debug, Clone)]
pub struct SeenFile {
    pub seen: Seen,
    /// Its sidecars as stored (JSON).
    pub sidecars: String,
    pub root: String,
    /// `ProbeInfo::version` of its stored probe.
    pub probe_version: u32,
}

/// The stored state a scan compares against.
#[derive(Debug, Default)]
pub struct SeenIndex {
    pub files: HashMap<String, SeenFile>,
    /// path → (size/mtime when the file could be stat'ed, root)
    pub problems: HashMap<String, (Option<Seen>, String)>,
}

/// A problem as the scanner records it.
#[derive(Debug, Clone)]
pub struct NewProblem {
    pub path: String,
    pub root: String,
    /// Known when the file itself could be stat'ed, so an unchanged broken file is not retried.
    pub seen: Option<Seen>,
    pub reason: String,
}

/// Everything one scan changes.
#[derive(Debug, Default)]
pub struct ScanChanges {
    pub upserts: Vec<NewFile>,
    pub removed: Vec<String>,
    pub problems: Vec<NewProblem>,
    pub cleared_problems: Vec<String>,
    /// Unchanged videos whose sidecar subtitles changed.
    pub sidecars: Vec<(String, Vec<Sidecar>)>,
}
