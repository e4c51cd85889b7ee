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

const SELECT: &str = "SELECT file_id, size, mtime_ns, setting, interval, duration, tile_width, \
                      tile_height, columns, rows, tiles, problem FROM media_thumbnails";

fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, StoredThumbnails)> {
    let problem: Option<String> = r.get(11)?;
    let outcome = match problem {
        Some(p) => Err(p),
        None => Ok(Layout {
            interval: r.get(4)?,
            duration: r.get(5)?,
            tile_width: r.get(6)?,
            tile_height: r.get(7)?,
            columns: r.get(8)?,
            rows: r.get(9)?,
            tiles: r.get(10)?,
        }),
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
            let layout = t.outcome.as_ref().ok();
            conn.execute(
                "INSERT INTO media_thumbnails (file_id, size, mtime_ns, setting, interval, duration, \
                 tile_width, tile_height, columns, rows, tiles, problem, computed_at) \
                 SELECT id, size, mtime_ns, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, strftime('%s','now') \
                 FROM media_files WHERE id = ?1 AND size = ?2 AND mtime_ns = ?3 \
                 ON CONFLICT (file_id) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns, \
                 setting = excluded.setting, interval = excluded.interval, duration = excluded.duration, \
                 tile_width = excluded.tile_width, tile_height = excluded.tile_height, \
                 columns = excluded.columns, rows = excluded.rows, tiles = excluded.tiles, \
                 problem = excluded.problem, computed_at = excluded.computed_at",
                params![
                    file_id,
                    t.size as i64,
                    t.mtime_ns,
                    t.interval,
                    layout.map_or(0.0, |l| l.interval),
                    layout.map_or(0.0, |l| l.duration),
                    layout.map_or(0, |l| l.tile_width),
                    layout.map_or(0, |l| l.tile_height),
                    layout.map_or(0, |l| l.columns),
                    layout.map_or(0, |l| l.rows),
                    layout.map_or(0, |l| l.tiles),
                    t.outcome.as_ref().err(),
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
            let rows = stmt.query_map([], |r| {
                Ok(StoredProblem {
                    path: r.get(0)?,
                    root: r.get(1)?,
                    reason: r.get(2)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }
}
