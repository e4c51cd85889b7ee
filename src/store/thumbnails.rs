//! Seek thumbnail sheets made for library files: their layout, or why there are none, with the
//! size, mtime and interval they were made for, so an unchanged file is not done again.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, params};

use super::media::StoredProblem;
use super::{Store, StoreError};
use crate::library::thumbnails::Layout;

/// One file's result: the sheets' layout, or the problem that stopped them.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredThumbnails {
    pub size: u64,
    pub mtime_ns: i64,
    /// The setting it was made with (the layout's own interval may be longer for long files).
    pub interval: f64,
    pub outcome: Result<Layout, String>,
}

const SELECT: &str =
    "SELECT file_id, size, mtime_ns, setting, layout, problem FROM media_thumbnails";

fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, StoredThumbnails)> {
    let layout: Option<String> = r.get(4)?;
    let problem: Option<String> = r.get(5)?;
    // A layout that no longer parses (an older shape) counts as missing: the job makes it again.
    let outcome = match (layout, problem) {
        (_, Some(problem)) => Err(problem),
        (Some(json), None) => serde_json::from_str(&json).map_err(|e| e.to_string()),
        (None, None) => Err("no layout stored".into()),
    };
    Ok((
        r.get(0)?,
        StoredThumbnails {
            size: r.get::<_, i64>(1)? as u64,
            mtime_ns: r.get(2)?,
            interval: r.get(3)?,
            outcome,
        },
    ))
}

impl Store {
    /// Every stored result, by file id.
    pub async fn all_thumbnails(&self) -> Result<HashMap<i64, StoredThumbnails>, StoreError> {
        self.call(|conn| {
            let mut stmt = conn.prepare(SELECT)?;
            let rows = stmt.query_map([], read)?;
            Ok(rows.collect::<Result<HashMap<_, _>, _>>()?)
        })
        .await
    }

    pub async fn thumbnails_of(
        &self,
        file_id: i64,
    ) -> Result<Option<StoredThumbnails>, StoreError> {
        self.call(move |conn| {
            let sql = format!("{SELECT} WHERE file_id = ?1");
            Ok(conn
                .query_row(&sql, [file_id], read)
                .optional()?
                .map(|(_, t)| t))
        })
        .await
    }

    /// Stores one file's result, unless the file changed or left the library meanwhile.
    pub async fn save_thumbnails(
        &self,
        file_id: i64,
        t: StoredThumbnails,
    ) -> Result<(), StoreError> {
        self.call(move |conn| {
            let layout = match &t.outcome {
                Ok(layout) => Some(
                    serde_json::to_string(layout)
                        .map_err(StoreError::corrupt(format!("the thumbnails layout of file {file_id}")))?,
                ),
                Err(_) => None,
            };
            conn.execute(
                "INSERT INTO media_thumbnails (file_id, size, mtime_ns, setting, layout, problem, computed_at) \
                 SELECT id, size, mtime_ns, ?4, ?5, ?6, strftime('%s','now') \
                 FROM media_files WHERE id = ?1 AND size = ?2 AND mtime_ns = ?3 \
                 ON CONFLICT (file_id) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns, \
                 setting = excluded.setting, layout = excluded.layout, problem = excluded.problem, \
                 computed_at = excluded.computed_at",
                params![
                    file_id,
                    t.size as i64,
                    t.mtime_ns,
                    t.interval,
                    layout,
                    t.outcome.as_ref().err()
                ],
            )?;
            Ok(())
        })
        .await
    }

    /// Files whose sheets could not be made, as they are now, with the reason.
    pub async fn thumbnail_problems(&self) -> Result<Vec<StoredProblem>, StoreError> {
        self.call(|conn| {
            let mut stmt = conn.prepare(
                "SELECT f.path, f.root, t.problem FROM media_thumbnails t \
                 JOIN media_files f ON f.id = t.file_id AND f.size = t.size AND f.mtime_ns = t.mtime_ns \
                 WHERE t.problem IS NOT NULL ORDER BY f.path",
            )?;
            let rows = stmt.query_map([], StoredProblem::read)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }
}
