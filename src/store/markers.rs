//! Intro and credits found in library files, with the size and mtime they were computed for,
//! so a rescan that finds the file unchanged reuses them.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError};
use crate::library::markers::Found;
use crate::models::{Markers, Range};

/// Where a file's markers came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkerSource {
    Chapters,
    Fingerprint,
}

impl MarkerSource {
    fn as_str(self) -> &'static str {
        match self {
            MarkerSource::Chapters => "chapters",
            MarkerSource::Fingerprint => "fingerprint",
        }
    }
}

/// One file's stored result; both markers absent is a result too (nothing shared).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMarkers {
    pub size: u64,
    pub mtime_ns: i64,
    pub intro: Option<Range>,
    pub credits: Option<Range>,
    /// 0 to 1: 1 for chapters; for fingerprints, grows with the episodes compared.
    pub confidence: f64,
    pub source: MarkerSource,
}

impl StoredMarkers {
    /// As the resolve answer carries them (credits are the `outro`).
    pub fn markers(&self) -> Markers {
        Markers {
            intro: self.intro,
            outro: self.credits,
            recap: None,
        }
    }
}

/// Problems written by detection start with this, so a later success can clear them.
pub const PROBLEM_PREFIX: &str = "no intro/credits markers";

fn range(start: Option<f64>, end: Option<f64>) -> Option<Range> {
    match (start, end) {
        (Some(start), Some(end)) => Some(Range { start, end }),
        _ => None,
    }
}

type Row = (
    i64,
    i64,
    i64,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    f64,
    String,
);

fn from_row(r: Row) -> (i64, StoredMarkers) {
    let (id, size, mtime_ns, is, ie, cs, ce, confidence, source) = r;
    (
        id,
        StoredMarkers {
            size: size as u64,
            mtime_ns,
            intro: range(is, ie),
            credits: range(cs, ce),
            confidence,
            source: if source == "chapters" {
                MarkerSource::Chapters
            } else {
                MarkerSource::Fingerprint
            },
        },
    )
}

const SELECT: &str = "SELECT file_id, size, mtime_ns, intro_start, intro_end, credits_start, credits_end, \
                      confidence, source FROM media_markers";

fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
    ))
}

impl Store {
    /// Every stored result, by file id.
    pub async fn all_markers(&self) -> Result<HashMap<i64, StoredMarkers>, StoreError> {
        self.call(|conn| {
            let mut stmt = conn.prepare(SELECT)?;
            let rows = stmt.query_map([], read)?;
            let mut out = HashMap::new();
            for r in rows {
                let (id, m) = from_row(r?);
                out.insert(id, m);
            }
            Ok(out)
        })
        .await
    }

    /// The result for one file, when it was computed for the file as it is now.
    pub async fn markers_of(
        &self,
        file_id: i64,
        size: u64,
        mtime_ns: i64,
    ) -> Result<Option<StoredMarkers>, StoreError> {
        self.call(move |conn| {
            let sql = format!("{SELECT} WHERE file_id = ?1");
            let row = conn.query_row(&sql, [file_id], read).optional()?;
            Ok(row
                .map(from_row)
                .map(|(_, m)| m)
                .filter(|m| m.size == size && m.mtime_ns == mtime_ns))
        })
        .await
    }

    /// Stores one season's results, and their problems (cleared when a file now has a result).
    pub async fn save_markers(&self, found: Vec<Found>) -> Result<(), StoreError> {
        self.call(move |conn| {
            let tx = conn.transaction()?;
            for f in &found {
                let m = &f.markers;
                // The file may have been removed by a scan since detection started.
                let exists: Option<i64> = tx
                    .query_row(
                        "SELECT id FROM media_files WHERE id = ?1 AND size = ?2 AND mtime_ns = ?3",
                        params![f.file.id, m.size as i64, m.mtime_ns],
                        |r| r.get(0),
                    )
                    .optional()?;
                if exists.is_none() {
                    continue;
                }
                tx.execute(
                    "INSERT INTO media_markers (file_id, size, mtime_ns, intro_start, intro_end, \
                     credits_start, credits_end, confidence, source, computed_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, strftime('%s','now')) \
                     ON CONFLICT (file_id) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns, \
                     intro_start = excluded.intro_start, intro_end = excluded.intro_end, \
                     credits_start = excluded.credits_start, credits_end = excluded.credits_end, \
                     confidence = excluded.confidence, source = excluded.source, computed_at = excluded.computed_at",
                    params![
                        f.file.id,
                        m.size as i64,
                        m.mtime_ns,
                        m.intro.as_ref().map(|r| r.start),
                        m.intro.as_ref().map(|r| r.end),
                        m.credits.as_ref().map(|r| r.start),
                        m.credits.as_ref().map(|r| r.end),
                        m.confidence,
                        m.source.as_str(),
                    ],
                )?;
                let path = f.file.path.to_string_lossy().to_string();
                match &f.problem {
                    Some(reason) => {
                        tx.execute(
                            "INSERT INTO scan_problems (path, root, size, mtime_ns, reason, seen_at) \
                             VALUES (?1, ?2, ?3, ?4, ?5, strftime('%s','now')) \
                             ON CONFLICT (path) DO UPDATE SET reason = excluded.reason, seen_at = excluded.seen_at",
                            params![
                                path,
                                f.file.root.to_string_lossy(),
                                m.size as i64,
                                m.mtime_ns,
                                reason
                            ],
                        )?;
                    }
                    None => {
                        tx.execute(
                            "DELETE FROM scan_problems WHERE path = ?1 AND reason LIKE ?2",
                            params![path, format!("{PROBLEM_PREFIX}%")],
                        )?;
                    }
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::library::probe::ProbeInfo;
    use crate::models::MediaType;
    use crate::store::media::MediaFile;

    #[tokio::test]
    async fn a_result_is_reused_only_for_the_file_it_was_computed_for() {
        let store = Store::in_memory().unwrap();
        store
            .call(|conn| {
                conn.execute(
                    "INSERT INTO media_files (id, path, root, size, mtime_ns, media_type, tmdb_id, title, \
                     duration, probe, sidecars, scanned_at) \
                     VALUES (7, '/m/S01E01.mkv', '/m', 100, 5, 'tv', 1, 'Show', 60, '{}', '[]', 0)",
                    [],
                )?;
                Ok(())
            })
            .await
            .unwrap();
        let file = MediaFile {
            id: 7,
            path: "/m/S01E01.mkv".into(),
            root: "/m".into(),
            size: 100,
            mtime_ns: 5,
            media_type: MediaType::Tv,
            tmdb_id: 1,
            title: "Show".into(),
            year: None,
            season: Some(1),
            episode: Some(1),
            episode_end: None,
            episode_title: None,
            probe: ProbeInfo::default(),
            sidecars: Vec::new(),
            added_at: 0,
        };
        let markers = StoredMarkers {
            size: 100,
            mtime_ns: 5,
            intro: Some(Range {
                start: 4.0,
                end: 19.0,
            }),
            credits: None,
            confidence: 0.5,
            source: MarkerSource::Fingerprint,
        };
        let found = |problem: Option<&str>| Found {
            file: file.clone(),
            markers: markers.clone(),
            problem: problem.map(|p| format!("{PROBLEM_PREFIX}: {p}")),
        };
        store
            .save_markers(vec![found(Some("alone"))])
            .await
            .unwrap();
        assert_eq!(store.problems().await.unwrap().len(), 1);
        store.save_markers(vec![found(None)]).await.unwrap();
        assert_eq!(store.problems().await.unwrap(), vec![]);
        assert_eq!(store.markers_of(7, 100, 5).await.unwrap(), Some(markers));
        // The file changed since: the stored result is not its result any more.
        assert_eq!(store.markers_of(7, 101, 5).await.unwrap(), None);
        assert_eq!(store.markers_of(7, 100, 6).await.unwrap(), None);
        assert_eq!(store.all_markers().await.unwrap().len(), 1);
    }
}
