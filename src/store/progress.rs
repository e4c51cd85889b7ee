//! Watch positions per title and episode, so playback resumes where it stopped and the
//! home page can offer "continue watching".

use std::collections::HashSet;

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use ts_rs::TS;

use super::{Store, StoreError};
use crate::models::{MediaRequest, MediaType};

/// A saved position.
// `required` on the `Option`s: they serialize as `null`, never left out (ts-rs agrees).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[ts(export)]
pub struct ProgressEntry {
    pub media_type: MediaType,
    pub tmdb_id: u32,
    #[schema(required)]
    pub season: Option<u32>,
    #[schema(required)]
    pub episode: Option<u32>,
    /// Seconds from the start.
    pub position: f64,
    /// Seconds.
    pub duration: f64,
    #[serde(with = "time::serde::rfc3339")]
    #[ts(type = "string")]
    pub updated_at: OffsetDateTime,
    /// The title, when the local library knows it.
    #[schema(required)]
    pub title: Option<String>,
}

/// Past this share of its duration a film or an episode counts as watched: the credits may
/// roll on, the viewer is done. The dashboard's `FINISHED_FRACTION` (src/lib/media.ts) is the
/// same number; a share, because a fixed "last 60 s" called a 50 s short watched once opened.
pub const FINISHED_SHARE: f64 = 0.95;

/// A finished film `(Movie, id, None)` or episode `(Tv, id, Some((season, episode)))`.
pub type Watched = (MediaType, u32, Option<(u32, u32)>);

fn key(req: &MediaRequest) -> (&'static str, i64, i64, i64) {
    let (s, e) = req
        .season_episode()
        .map_or((-1, -1), |(s, e)| (s as i64, e as i64));
    (req.media_type().as_str(), req.tmdb_id() as i64, s, e)
}

const SELECT: &str = "SELECT p.media_type, p.tmdb_id, p.season, p.episode, p.position, p.duration, p.updated_at,
        (SELECT m.title FROM media_files m WHERE m.media_type = p.media_type AND m.tmdb_id = p.tmdb_id LIMIT 1)
     FROM watch_progress p";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ProgressEntry> {
    let media_type: String = r.get(0)?;
    let season: i64 = r.get(2)?;
    let episode: i64 = r.get(3)?;
    let updated_ms: i64 = r.get(6)?;
    Ok(ProgressEntry {
        media_type: if media_type == "tv" {
            MediaType::Tv
        } else {
            MediaType::Movie
        },
        tmdb_id: r.get::<_, i64>(1)? as u32,
        season: (season >= 0).then_some(season as u32),
        episode: (episode >= 0).then_some(episode as u32),
        position: r.get(4)?,
        duration: r.get(5)?,
        updated_at: OffsetDateTime::from_unix_timestamp_nanos(updated_ms as i128 * 1_000_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH),
        title: r.get(7)?,
    })
}

impl Store {
    pub async fn save_progress(
        &self,
        profile: i64,
        req: MediaRequest,
        position: f64,
        duration: f64,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let (media_type, tmdb_id, season, episode) = key(&req);
        let at_ms = (at.unix_timestamp_nanos() / 1_000_000) as i64;
        self.call(move |conn| {
            conn.execute(
                "INSERT INTO watch_progress (media_type, tmdb_id, season, episode, position, duration, updated_at, profile_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (profile_id, media_type, tmdb_id, season, episode)
                 DO UPDATE SET position = excluded.position,
                               duration = excluded.duration,
                               updated_at = excluded.updated_at",
                params![media_type, tmdb_id, season, episode, position, duration, at_ms, profile],
            )?;
            Ok(())
        })
        .await
    }

    pub async fn progress(
        &self,
        profile: i64,
        req: MediaRequest,
    ) -> Result<Option<ProgressEntry>, StoreError> {
        let (media_type, tmdb_id, season, episode) = key(&req);
        self.call(move |conn| {
            Ok(conn
                .query_row(
                    &format!("{SELECT} WHERE p.media_type = ?1 AND p.tmdb_id = ?2 AND p.season = ?3 AND p.episode = ?4 AND p.profile_id = ?5"),
                    params![media_type, tmdb_id, season, episode, profile],
                    row,
                )
                .optional()?)
        })
        .await
    }

    pub async fn delete_progress(
        &self,
        profile: i64,
        req: MediaRequest,
    ) -> Result<bool, StoreError> {
        let (media_type, tmdb_id, season, episode) = key(&req);
        self.call(move |conn| {
            let n = conn.execute(
                "DELETE FROM watch_progress WHERE media_type = ?1 AND tmdb_id = ?2 AND season = ?3 AND episode = ?4 AND profile_id = ?5",
                params![media_type, tmdb_id, season, episode, profile],
            )?;
            Ok(n > 0)
        })
        .await
    }

    /// Every saved position of one title (a series' episodes), newest first.
    pub async fn title_progress(
        &self,
        profile: i64,
        media_type: MediaType,
        tmdb_id: u32,
    ) -> Result<Vec<ProgressEntry>, StoreError> {
        self.call(move |conn| {
            let mut stmt = conn.prepare(&format!(
                "{SELECT} WHERE p.profile_id = ?1 AND p.media_type = ?2 AND p.tmdb_id = ?3 \
                 ORDER BY p.updated_at DESC"
            ))?;
            let rows = stmt
                .query_map(params![profile, media_type.as_str(), tmdb_id], row)?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await
    }

    /// What the profile finished: films as `(Movie, id, None)`, episodes with their number.
    pub async fn finished(&self, profile: i64) -> Result<HashSet<Watched>, StoreError> {
        self.call(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT media_type, tmdb_id, season, episode FROM watch_progress \
                 WHERE profile_id = ?1 AND position >= duration * ?2",
            )?;
            let rows = stmt.query_map(params![profile, FINISHED_SHARE], |r| {
                let media_type: String = r.get(0)?;
                let (season, episode): (i64, i64) = (r.get(2)?, r.get(3)?);
                Ok((
                    if media_type == "tv" {
                        MediaType::Tv
                    } else {
                        MediaType::Movie
                    },
                    r.get::<_, i64>(1)? as u32,
                    (season >= 0 && episode >= 0).then_some((season as u32, episode as u32)),
                ))
            })?;
            Ok(rows.collect::<Result<HashSet<_>, _>>()?)
        })
        .await
    }

    /// The profile's most recent positions, newest first, at most `limit`.
    pub async fn recent_progress(
        &self,
        profile: i64,
        limit: u32,
    ) -> Result<Vec<ProgressEntry>, StoreError> {
        self.call(move |conn| {
            let mut stmt = conn.prepare(&format!(
                "{SELECT} WHERE p.profile_id = ?1 ORDER BY p.updated_at DESC LIMIT ?2"
            ))?;
            let rows = stmt
                .query_map(params![profile, limit], row)?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn positions_are_kept_per_episode_and_listed_newest_first() {
        let store = Store::in_memory().unwrap();
        let p = store.first_profile().await.unwrap();
        let t0 = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        store
            .save_progress(p, MediaRequest::movie(603), 100.0, 8000.0, t0)
            .await
            .unwrap();
        store
            .save_progress(
                p,
                MediaRequest::episode(1396, 1, 2),
                50.0,
                1400.0,
                t0 + time::Duration::seconds(5),
            )
            .await
            .unwrap();
        store
            .save_progress(
                p,
                MediaRequest::episode(1396, 1, 2),
                75.5,
                1400.0,
                t0 + time::Duration::seconds(9),
            )
            .await
            .unwrap();

        let ep = store
            .progress(p, MediaRequest::episode(1396, 1, 2))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (ep.position, ep.duration, ep.season, ep.episode),
            (75.5, 1400.0, Some(1), Some(2))
        );
        assert!(
            store
                .progress(p, MediaRequest::episode(1396, 1, 3))
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            store
                .progress(p, MediaRequest::movie(1396))
                .await
                .unwrap()
                .is_none(),
            "movie and tv ids are distinct"
        );
        let recent = store.recent_progress(p, 10).await.unwrap();
        assert_eq!(
            recent.iter().map(|p| p.tmdb_id).collect::<Vec<_>>(),
            vec![1396, 603]
        );
        assert!(
            store
                .delete_progress(p, MediaRequest::movie(603))
                .await
                .unwrap()
        );
        assert_eq!(store.recent_progress(p, 10).await.unwrap().len(), 1);
    }
}
