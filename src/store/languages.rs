//! The viewer's languages: preferred audio and subtitle languages with a mode (VF, VOSTFR,
//! forced subtitles), and the last audio/subtitle choice per series, which wins for its next
//! episodes. Both belong to a profile (issue 16).

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use ts_rs::TS;

use super::{Store, StoreError};
use crate::library::naming::normalize_lang;

/// How the player picks audio and subtitles when a source starts.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum LanguageMode {
    /// Nothing chosen: the source's defaults.
    #[default]
    None,
    /// French audio; subtitles off unless forced.
    Vf,
    /// Original audio with French subtitles.
    Vostfr,
    /// The preferred audio, and only forced subtitles.
    Forced,
    /// The ordered lists as they are.
    Custom,
}

impl LanguageMode {
    fn as_str(self) -> &'static str {
        match self {
            LanguageMode::None => "none",
            LanguageMode::Vf => "vf",
            LanguageMode::Vostfr => "vostfr",
            LanguageMode::Forced => "forced",
            LanguageMode::Custom => "custom",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "vf" => LanguageMode::Vf,
            "vostfr" => LanguageMode::Vostfr,
            "forced" => LanguageMode::Forced,
            "custom" => LanguageMode::Custom,
            _ => LanguageMode::None,
        }
    }
}

/// The viewer's language preferences.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[ts(export)]
pub struct LanguagePreferences {
    pub mode: LanguageMode,
    /// Audio languages, most wanted first (ISO 639-1 when known: `fr`, `en`; BCP-47 tags).
    #[serde(default)]
    pub audio: Vec<String>,
    /// Subtitle languages, most wanted first.
    #[serde(default)]
    pub subtitles: Vec<String>,
}

/// What the viewer last picked while watching a series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[ts(export)]
pub struct SeriesLanguageChoice {
    pub tmdb_id: u32,
    /// The audio language picked, if any.
    #[schema(required)]
    pub audio: Option<String>,
    /// The subtitle language picked, `off` for none, or null when never picked.
    #[schema(required)]
    pub subtitles: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    #[ts(type = "string")]
    pub updated_at: OffsetDateTime,
}

/// At most this many languages per list: a viewer speaks a handful; the bound keeps the row
/// and the ranking work small whatever a client sends.
pub const MAX_LANGUAGES: usize = 8;

/// Longest tag accepted: BCP-47's longest common forms (`zh-Hant-TW`, `sr-Latn-RS`) fit in 16.
const MAX_TAG: usize = 16;

/// A BCP-47-ish tag (`fr`, `fre`, `fr-CA`, `zh-Hant`): a 2–3 letter primary subtag, then up to
/// two 2–8 alphanumeric subtags. Normalised: the primary to ISO 639-1 where known
/// (`fre` → `fr`), lower case; region subtags kept (`fr-CA` stays apart from `fr`).
pub fn language_tag(input: &str) -> Option<String> {
    let s = input.trim();
    if s.is_empty() || s.len() > MAX_TAG {
        return None;
    }
    let mut parts = s.split('-');
    let primary = parts.next()?;
    if !(2..=3).contains(&primary.len()) || !primary.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    let rest: Vec<&str> = parts.collect();
    let ok = |p: &&str| (2..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric());
    if rest.len() > 2 || !rest.iter().all(ok) {
        return None;
    }
    let mut tag = normalize_lang(primary);
    for p in rest {
        tag.push('-');
        tag.push_str(p);
    }
    Some(tag)
}

/// Why a preference was refused (the API's 400 `invalid_languages`).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct InvalidLanguages(pub String);

fn tags(list: &[String], what: &str) -> Result<Vec<String>, InvalidLanguages> {
    if list.len() > MAX_LANGUAGES {
        return Err(InvalidLanguages(format!(
            "at most {MAX_LANGUAGES} {what} languages"
        )));
    }
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for l in list {
        let tag = language_tag(l).ok_or_else(|| {
            InvalidLanguages(format!("{what} language {l:?} is not a language tag"))
        })?;
        if !out.contains(&tag) {
            out.push(tag);
        }
    }
    Ok(out)
}

impl LanguagePreferences {
    /// The same preferences with every tag checked and normalised, duplicates dropped.
    pub fn validated(&self) -> Result<Self, InvalidLanguages> {
        Ok(LanguagePreferences {
            mode: self.mode,
            audio: tags(&self.audio, "audio")?,
            subtitles: tags(&self.subtitles, "subtitle")?,
        })
    }
}

/// A series choice's subtitle: a language tag or `off`.
pub fn subtitle_choice(input: &str) -> Option<String> {
    if input.trim().eq_ignore_ascii_case("off") {
        Some("off".into())
    } else {
        language_tag(input)
    }
}

/// Series choices kept in memory at most: a viewer follows far fewer series; past it the memo
/// starts again (each entry is one small row, re-read on the next miss).
const MEMO_SERIES: usize = 1024;

/// What was last read or written, so a resolve answer never waits for the database (a library
/// scan's write batches hold its one connection). Only the store's own writes change the rows.
#[derive(Debug, Default)]
pub(crate) struct Memo {
    prefs: Mutex<HashMap<i64, LanguagePreferences>>,
    series: Mutex<HashMap<(i64, u32), Option<SeriesLanguageChoice>>>,
    /// Bumped by every write: a read that started before one does not fill the memo with what
    /// it read (it may predate the write).
    writes: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Memo {
    fn writes(&self) -> u64 {
        self.writes.load(Ordering::SeqCst)
    }

    fn remember_series(&self, key: (i64, u32), choice: Option<SeriesLanguageChoice>, since: u64) {
        let mut series = lock(&self.series);
        if self.writes() != since {
            return;
        }
        if series.len() >= MEMO_SERIES && !series.contains_key(&key) {
            series.clear();
        }
        series.insert(key, choice);
    }

    fn remember_prefs(&self, profile: i64, prefs: LanguagePreferences, since: u64) {
        let mut memo = lock(&self.prefs);
        if self.writes() != since {
            return;
        }
        if memo.len() >= MEMO_SERIES && !memo.contains_key(&profile) {
            memo.clear();
        }
        memo.insert(profile, prefs);
    }
}

impl Store {
    /// The profile's preferences; the defaults (mode `none`) when never saved.
    pub async fn language_preferences(
        &self,
        profile: i64,
    ) -> Result<LanguagePreferences, StoreError> {
        if let Some(prefs) = lock(&self.languages.prefs).get(&profile).cloned() {
            return Ok(prefs);
        }
        let since = self.languages.writes();
        let prefs = self.read_language_preferences(profile).await?;
        self.languages.remember_prefs(profile, prefs.clone(), since);
        Ok(prefs)
    }

    async fn read_language_preferences(
        &self,
        profile: i64,
    ) -> Result<LanguagePreferences, StoreError> {
        self.call(move |conn| {
            let row = conn
                .query_row(
                    "SELECT mode, audio, subtitles FROM language_preferences WHERE profile_id = ?1",
                    [profile],
                    |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                        ))
                    },
                )
                .optional()?;
            let Some((mode, audio, subtitles)) = row else {
                return Ok(LanguagePreferences::default());
            };
            Ok(LanguagePreferences {
                mode: LanguageMode::parse(&mode),
                audio: serde_json::from_str(&audio).map_err(StoreError::corrupt("audio"))?,
                subtitles: serde_json::from_str(&subtitles)
                    .map_err(StoreError::corrupt("subtitles"))?,
            })
        })
        .await
    }

    pub async fn save_language_preferences(
        &self,
        profile: i64,
        prefs: LanguagePreferences,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let at_ms = (at.unix_timestamp_nanos() / 1_000_000) as i64;
        let saved = prefs.clone();
        self.languages.writes.fetch_add(1, Ordering::SeqCst);
        lock(&self.languages.prefs).remove(&profile);
        self.call(move |conn| {
            let audio =
                serde_json::to_string(&prefs.audio).map_err(StoreError::corrupt("audio"))?;
            let subs = serde_json::to_string(&prefs.subtitles)
                .map_err(StoreError::corrupt("subtitles"))?;
            conn.execute(
                "INSERT INTO language_preferences (profile_id, mode, audio, subtitles, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (profile_id) DO UPDATE SET mode = excluded.mode, audio = excluded.audio,
                     subtitles = excluded.subtitles, updated_at = excluded.updated_at",
                params![profile, prefs.mode.as_str(), audio, subs, at_ms],
            )?;
            Ok(())
        })
        .await?;
        let mut memo = lock(&self.languages.prefs);
        self.languages.writes.fetch_add(1, Ordering::SeqCst);
        memo.insert(profile, saved);
        Ok(())
    }

    pub async fn series_language_choice(
        &self,
        profile: i64,
        tmdb_id: u32,
    ) -> Result<Option<SeriesLanguageChoice>, StoreError> {
        if let Some(choice) = lock(&self.languages.series).get(&(profile, tmdb_id)) {
            return Ok(choice.clone());
        }
        let since = self.languages.writes();
        let choice = self.read_series_language_choice(profile, tmdb_id).await?;
        self.languages
            .remember_series((profile, tmdb_id), choice.clone(), since);
        Ok(choice)
    }

    async fn read_series_language_choice(
        &self,
        profile: i64,
        tmdb_id: u32,
    ) -> Result<Option<SeriesLanguageChoice>, StoreError> {
        self.call(move |conn| {
            Ok(conn
                .query_row(
                    "SELECT audio, subtitles, updated_at FROM series_language_choices
                     WHERE profile_id = ?1 AND tmdb_id = ?2",
                    params![profile, tmdb_id],
                    |r| {
                        let ms: i64 = r.get(2)?;
                        Ok(SeriesLanguageChoice {
                            tmdb_id,
                            audio: r.get(0)?,
                            subtitles: r.get(1)?,
                            updated_at: OffsetDateTime::from_unix_timestamp_nanos(
                                ms as i128 * 1_000_000,
                            )
                            .unwrap_or(OffsetDateTime::UNIX_EPOCH),
                        })
                    },
                )
                .optional()?)
        })
        .await
    }

    /// Records a choice; a field left `None` keeps what was saved before (picking subtitles
    /// does not forget the audio picked earlier).
    pub async fn save_series_language_choice(
        &self,
        profile: i64,
        tmdb_id: u32,
        audio: Option<String>,
        subtitles: Option<String>,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let at_ms = (at.unix_timestamp_nanos() / 1_000_000) as i64;
        self.call(move |conn| {
            conn.execute(
                "INSERT INTO series_language_choices (profile_id, tmdb_id, audio, subtitles, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (profile_id, tmdb_id) DO UPDATE SET
                     audio = COALESCE(excluded.audio, audio),
                     subtitles = COALESCE(excluded.subtitles, subtitles),
                     updated_at = excluded.updated_at",
                params![profile, tmdb_id, audio, subtitles, at_ms],
            )?;
            Ok(())
        })
        .await?;
        // The row merges with what was there: read back once, then served from memory.
        let mut series = lock(&self.languages.series);
        self.languages.writes.fetch_add(1, Ordering::SeqCst);
        series.remove(&(profile, tmdb_id));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_tags_are_checked_and_normalised() {
        for (input, want) in [
            ("fr", Some("fr")),
            ("FRE", Some("fr")),
            ("fra", Some("fr")),
            ("fr-CA", Some("fr-CA")),
            ("zh-Hant-TW", Some("zh-Hant-TW")),
            ("en", Some("en")),
            ("", None),
            ("f", None),
            ("french", None),
            ("fr_CA", None),
            ("fr-", None),
            ("fr-CA-x-y", None),
            ("<script>", None),
        ] {
            assert_eq!(language_tag(input).as_deref(), want, "{input:?}");
        }
    }

    #[test]
    fn preferences_refuse_long_lists_and_drop_duplicates() {
        let prefs = LanguagePreferences {
            mode: LanguageMode::Custom,
            audio: vec!["fre".into(), "fr".into(), "en".into()],
            subtitles: vec![],
        };
        assert_eq!(prefs.validated().unwrap().audio, vec!["fr", "en"]);
        let many = LanguagePreferences {
            subtitles: vec!["en".into(); MAX_LANGUAGES + 1],
            ..prefs
        };
        assert!(many.validated().is_err());
    }

    /// A resolve answer reads them every time; a library scan's writes may hold the one
    /// connection meanwhile. Once read, they are answered without going to the database.
    #[tokio::test]
    async fn remembered_languages_are_answered_without_the_database() {
        use futures::FutureExt;
        let store = Store::in_memory().unwrap();
        let p = store.first_profile().await.unwrap();
        let t0 = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let vf = LanguagePreferences {
            mode: LanguageMode::Vf,
            ..Default::default()
        };
        store
            .save_language_preferences(p, vf.clone(), t0)
            .await
            .unwrap();
        store.series_language_choice(p, 1396).await.unwrap();
        let _busy = store.conn.lock().unwrap();
        assert_eq!(
            store
                .language_preferences(p)
                .now_or_never()
                .map(Result::unwrap),
            Some(vf)
        );
        assert_eq!(
            store
                .series_language_choice(p, 1396)
                .now_or_never()
                .map(Result::unwrap),
            Some(None)
        );
    }

    #[tokio::test]
    async fn preferences_and_series_choices_round_trip() {
        let store = Store::in_memory().unwrap();
        let p = store.first_profile().await.unwrap();
        let t0 = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        assert_eq!(
            store.language_preferences(p).await.unwrap(),
            LanguagePreferences::default()
        );
        let prefs = LanguagePreferences {
            mode: LanguageMode::Vostfr,
            audio: vec!["en".into()],
            subtitles: vec!["fr".into()],
        };
        store
            .save_language_preferences(p, prefs.clone(), t0)
            .await
            .unwrap();
        assert_eq!(store.language_preferences(p).await.unwrap(), prefs);

        assert!(
            store
                .series_language_choice(p, 1396)
                .await
                .unwrap()
                .is_none()
        );
        store
            .save_series_language_choice(p, 1396, Some("fr".into()), None, t0)
            .await
            .unwrap();
        store
            .save_series_language_choice(p, 1396, None, Some("off".into()), t0)
            .await
            .unwrap();
        let c = store
            .series_language_choice(p, 1396)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (c.audio.as_deref(), c.subtitles.as_deref()),
            (Some("fr"), Some("off"))
        );
    }
}
