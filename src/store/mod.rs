//! Persistence: one SQLite database in the data dir (`sokoul.db`), WAL mode, numbered
//! migrations. Blocking rusqlite calls run on tokio's blocking pool behind one connection, which
//! is plenty for a single-user media server and keeps writes serialised.
//!
//! Tables belong to the feature that owns them (`media.rs` for the library); a later feature
//! (watch progress) adds its own migration and file here.

pub mod accounts;
pub mod api_tokens;
pub mod languages;
pub mod markers;
pub mod media;
pub mod profiles;
pub mod progress;
pub mod thumbnails;

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot open the database {path}")]
    Open {
        path: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("stored data is not valid: {what}")]
    Corrupt {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("the database task failed")]
    Task(#[source] tokio::task::JoinError),
}

impl StoreError {
    /// Every store failure is the server's: the API answers 500 `internal`.
    pub fn code(&self) -> &'static str {
        "internal"
    }

    pub fn status(&self) -> axum::http::StatusCode {
        axum::http::StatusCode::INTERNAL_SERVER_ERROR
    }

    /// A JSON column that cannot be written or read back.
    pub(crate) fn corrupt(what: impl Into<String>) -> impl FnOnce(serde_json::Error) -> Self {
        let what = what.into();
        move |source| StoreError::Corrupt { what, source }
    }
}

/// Numbered schema steps, applied in order once each. Never edit a released step: add one.
const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        r#"
    CREATE TABLE media_files (
        id            INTEGER PRIMARY KEY,
        path          TEXT NOT NULL UNIQUE,
        root          TEXT NOT NULL,
        size          INTEGER NOT NULL,
        mtime_ns      INTEGER NOT NULL,
        media_type    TEXT NOT NULL CHECK (media_type IN ('movie', 'tv')),
        tmdb_id       INTEGER NOT NULL,
        title         TEXT NOT NULL,
        year          INTEGER,
        season        INTEGER,
        episode       INTEGER,
        episode_end   INTEGER,
        episode_title TEXT,
        duration      REAL NOT NULL,
        probe         TEXT NOT NULL,
        sidecars      TEXT NOT NULL,
        scanned_at    INTEGER NOT NULL
    );
    CREATE INDEX media_files_by_title ON media_files (media_type, tmdb_id, season, episode);
    -- Keyframe times of remuxable files, kept apart so listing the library stays light.
    CREATE TABLE media_keyframes (
        file_id INTEGER PRIMARY KEY REFERENCES media_files (id) ON DELETE CASCADE,
        times   BLOB NOT NULL
    );
    -- Files the scanner could not identify or read; size and mtime let a rescan skip them.
    CREATE TABLE scan_problems (
        path     TEXT PRIMARY KEY,
        root     TEXT NOT NULL,
        size     INTEGER,
        mtime_ns INTEGER,
        reason   TEXT NOT NULL,
        seen_at  INTEGER NOT NULL
    );
    "#,
    ),
    (
        2,
        r#"
    -- Watch positions. Movies store season = episode = -1: NULL would defeat the primary key.
    CREATE TABLE watch_progress (
        media_type TEXT NOT NULL CHECK (media_type IN ('movie', 'tv')),
        tmdb_id    INTEGER NOT NULL,
        season     INTEGER NOT NULL,
        episode    INTEGER NOT NULL,
        position   REAL NOT NULL,
        duration   REAL NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (media_type, tmdb_id, season, episode)
    );
    CREATE INDEX watch_progress_recent ON watch_progress (updated_at DESC);
    "#,
    ),
    (
        3,
        r#"
    -- Intro and credits of library files (seconds), for the size and mtime they were computed
    -- for; a row with no spans records that nothing was found, so it is not looked for again.
    CREATE TABLE media_markers (
        file_id       INTEGER PRIMARY KEY REFERENCES media_files (id) ON DELETE CASCADE,
        size          INTEGER NOT NULL,
        mtime_ns      INTEGER NOT NULL,
        intro_start   REAL,
        intro_end     REAL,
        credits_start REAL,
        credits_end   REAL,
        confidence    REAL NOT NULL,
        source        TEXT NOT NULL CHECK (source IN ('chapters', 'fingerprint')),
        computed_at   INTEGER NOT NULL
    );
    "#,
    ),
    (
        4,
        r#"
    -- Seek thumbnail sheets of library files (in data_dir/thumbnails/{file_id}/), for the size,
    -- mtime and interval setting they were made for; either a layout or a problem.
    CREATE TABLE media_thumbnails (
        file_id     INTEGER PRIMARY KEY REFERENCES media_files (id) ON DELETE CASCADE,
        size        INTEGER NOT NULL,
        mtime_ns    INTEGER NOT NULL,
        setting     REAL NOT NULL,
        -- JSON: interval, duration, tile size, columns, rows, tiles (library::thumbnails::Layout).
        layout      TEXT,
        problem     TEXT,
        computed_at INTEGER NOT NULL
    );
    "#,
    ),
    (
        5,
        r#"
    -- ffprobe's JSON of a library file, for the size and mtime it was read at: pressing play
    -- then needs no ffprobe run (measured: 0.07 s idle, over 0.3 s while the server is busy).
    CREATE TABLE media_probes (
        file_id  INTEGER PRIMARY KEY REFERENCES media_files (id) ON DELETE CASCADE,
        size     INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        json     BLOB NOT NULL
    );
    "#,
    ),
    (
        6,
        r#"
    -- The viewer's languages (store/languages.rs), keyed by profile ('default' until profiles
    -- exist); audio and subtitles are JSON arrays of language tags, most wanted first.
    CREATE TABLE language_preferences (
        profile    TEXT PRIMARY KEY,
        mode       TEXT NOT NULL,
        audio      TEXT NOT NULL,
        subtitles  TEXT NOT NULL,
        updated_at INTEGER NOT NULL
    );
    -- The last audio/subtitle choice per series; NULL when never picked.
    CREATE TABLE series_language_choices (
        profile    TEXT NOT NULL,
        tmdb_id    INTEGER NOT NULL,
        audio      TEXT,
        subtitles  TEXT,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (profile, tmdb_id)
    );
    "#,
    ),
    (
        7,
        r#"
    -- Accounts (issue 16). Names compare without case: "Alice" and "alice" are one account.
    -- password_hash is an Argon2id PHC string, which names its own parameters.
    CREATE TABLE accounts (
        id            INTEGER PRIMARY KEY,
        username      TEXT NOT NULL UNIQUE COLLATE NOCASE,
        password_hash TEXT NOT NULL,
        role          TEXT NOT NULL CHECK (role IN ('admin', 'member')),
        disabled      INTEGER NOT NULL DEFAULT 0,
        created_at    INTEGER NOT NULL
    );
    -- Browser sessions, by the SHA-256 of their id: the cookie's value is never stored.
    CREATE TABLE sessions (
        id_hash    BLOB PRIMARY KEY,
        account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        created_at INTEGER NOT NULL,
        last_seen  INTEGER NOT NULL,
        user_agent TEXT
    );
    CREATE INDEX sessions_by_account ON sessions (account_id);
    "#,
    ),
    (
        8,
        r#"
    -- Profiles (issue 16): who watches, within an account. A profile with no account holds
    -- what a server without accounts watched; the first admin adopts it (store/profiles.rs).
    -- pin_hash is an Argon2id PHC string of a 4-digit PIN, or NULL.
    CREATE TABLE profiles (
        id         INTEGER PRIMARY KEY,
        account_id INTEGER REFERENCES accounts (id) ON DELETE CASCADE,
        name       TEXT NOT NULL,
        colour     TEXT NOT NULL,
        pin_hash   TEXT,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX profiles_by_account ON profiles (account_id);
    INSERT INTO profiles (account_id, name, colour, created_at)
        SELECT id, username, '#e50914', created_at FROM accounts ORDER BY id;
    INSERT INTO profiles (account_id, name, colour, created_at)
        SELECT NULL, 'Profil 1', '#e50914', strftime('%s', 'now')
        WHERE NOT EXISTS (SELECT 1 FROM accounts);
    -- Whose progress a request without a chosen profile reads and writes (SOKOUL_API_TOKEN,
    -- a server without accounts): the unowned profile, else the first admin's first profile.
    CREATE VIEW first_profile AS
        SELECT p.id FROM profiles p LEFT JOIN accounts a ON a.id = p.account_id
        ORDER BY p.account_id IS NOT NULL, a.role <> 'admin', a.id, p.id LIMIT 1;

    -- The single-user rows move to that profile: nothing watched before is lost.
    CREATE TABLE profile_progress (
        profile_id INTEGER NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
        media_type TEXT NOT NULL CHECK (media_type IN ('movie', 'tv')),
        tmdb_id    INTEGER NOT NULL,
        season     INTEGER NOT NULL,
        episode    INTEGER NOT NULL,
        position   REAL NOT NULL,
        duration   REAL NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (profile_id, media_type, tmdb_id, season, episode)
    );
    INSERT INTO profile_progress
        SELECT (SELECT id FROM first_profile), media_type, tmdb_id, season, episode, position,
               duration, updated_at
        FROM watch_progress;
    DROP TABLE watch_progress;
    ALTER TABLE profile_progress RENAME TO watch_progress;
    CREATE INDEX watch_progress_recent ON watch_progress (profile_id, updated_at DESC);

    CREATE TABLE profile_languages (
        profile_id INTEGER PRIMARY KEY REFERENCES profiles (id) ON DELETE CASCADE,
        mode       TEXT NOT NULL,
        audio      TEXT NOT NULL,
        subtitles  TEXT NOT NULL,
        updated_at INTEGER NOT NULL
    );
    INSERT INTO profile_languages
        SELECT (SELECT id FROM first_profile), mode, audio, subtitles, updated_at
        FROM language_preferences WHERE profile = 'default';
    DROP TABLE language_preferences;
    ALTER TABLE profile_languages RENAME TO language_preferences;

    CREATE TABLE profile_series_languages (
        profile_id INTEGER NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
        tmdb_id    INTEGER NOT NULL,
        audio      TEXT,
        subtitles  TEXT,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (profile_id, tmdb_id)
    );
    INSERT INTO profile_series_languages
        SELECT (SELECT id FROM first_profile), tmdb_id, audio, subtitles, updated_at
        FROM series_language_choices WHERE profile = 'default';
    DROP TABLE series_language_choices;
    ALTER TABLE profile_series_languages RENAME TO series_language_choices;

    -- The profile a browser session chose; NULL: the account's first.
    ALTER TABLE sessions ADD COLUMN profile_id INTEGER REFERENCES profiles (id) ON DELETE SET NULL;
    "#,
    ),
    (
        9,
        r#"
    -- Personal API tokens (issue 16), by the SHA-256 of the token: it is shown once, never kept.
    CREATE TABLE api_tokens (
        id         INTEGER PRIMARY KEY,
        account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        name       TEXT NOT NULL,
        hash       BLOB NOT NULL UNIQUE,
        created_at INTEGER NOT NULL,
        last_used  INTEGER
    );
    CREATE INDEX api_tokens_by_account ON api_tokens (account_id);
    "#,
    ),
    (
        10,
        r#"
    -- When the scan first saw each file (unix seconds), for "recently added": a rescan of a
    -- changed file keeps it. Files already known get their modification time, the closest
    -- thing to "when it arrived" an upgrade can tell (a migration-time stamp would tie them all).
    ALTER TABLE media_files ADD COLUMN added_at INTEGER NOT NULL DEFAULT 0;
    UPDATE media_files SET added_at = mtime_ns / 1000000000;
    "#,
    ),
    (
        11,
        r#"
    -- The interface language a profile chose in the dashboard (a BCP-47 tag), so that it
    -- follows the viewer to every device; NULL: the browser's languages decide.
    ALTER TABLE profiles ADD COLUMN language TEXT;
    "#,
    ),
];

#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
    /// The viewer's languages, read on every resolve answer: kept in memory (languages.rs).
    languages: Arc<languages::Memo>,
    /// The profile of requests that chose none (profiles.rs), remembered for a few seconds.
    first_profile: Arc<Mutex<Option<(i64, std::time::Instant)>>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store")
    }
}

impl Store {
    /// Opens (creating if needed) the database and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Open {
                path: path.display().to_string(),
                source: e.into(),
            })?;
        }
        let mut conn = Connection::open(path).map_err(|e| StoreError::Open {
            path: path.display().to_string(),
            source: e.into(),
        })?;
        // WAL: readers never block the scanner's writes; NORMAL sync is safe with WAL and
        // much faster for a scan writing thousands of rows.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrate(&mut conn, i64::MAX)?;
        Ok(Store {
            conn: Arc::new(Mutex::new(conn)),
            languages: Arc::default(),
            first_profile: Arc::default(),
        })
    }

    /// Creates a database at an old schema version, for tests that check an upgrade keeps
    /// what the old schema held.
    #[doc(hidden)]
    pub fn create_at_version(path: &Path, version: i64) -> Result<Connection, StoreError> {
        let mut conn = Connection::open(path)?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        migrate(&mut conn, version)?;
        Ok(conn)
    }

    /// An in-memory database (tests).
    pub fn in_memory() -> Result<Self, StoreError> {
        let mut conn = Connection::open_in_memory()?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        migrate(&mut conn, i64::MAX)?;
        Ok(Store {
            conn: Arc::new(Mutex::new(conn)),
            languages: Arc::default(),
            first_profile: Arc::default(),
        })
    }

    /// Runs `f` with the connection on the blocking pool.
    pub async fn call<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        F: FnOnce(&mut Connection) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock leaves the connection usable: SQLite rolls back
            // the open transaction when it is dropped.
            let mut guard = conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut guard)
        })
        .await
        .map_err(StoreError::Task)?
    }
}

fn migrate(conn: &mut Connection, up_to: i64) -> Result<(), StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version    INTEGER PRIMARY KEY,
            applied_at INTEGER NOT NULL
        );",
    )?;
    let current: i64 = conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        [],
        |r| r.get(0),
    )?;
    for (version, sql) in MIGRATIONS
        .iter()
        .filter(|(v, _)| *v > current && *v <= up_to)
    {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, strftime('%s','now'))",
            [version],
        )?;
        tx.commit()?;
        tracing::info!(version, "database migrated");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_run_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sokoul.db");
        drop(Store::open(&path).unwrap());
        let store = Store::open(&path).unwrap();
        let conn = store.conn.lock().unwrap();
        let n: i64 = conn
            .query_row("SELECT COUNT(*) FROM schema_migrations", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, MIGRATIONS.len() as i64);
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[test]
    fn files_known_before_the_date_added_existed_are_dated_by_their_mtime() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sokoul.db");
        let old = Store::create_at_version(&path, 9).unwrap();
        old.execute(
            "INSERT INTO media_files (path, root, size, mtime_ns, media_type, tmdb_id, title, \
             duration, probe, sidecars, scanned_at) \
             VALUES ('/m/Heat.mkv', '/m', 1, 1700000000123456789, 'movie', 949, 'Heat', 60, '{}', '[]', 0)",
            [],
        )
        .unwrap();
        drop(old);
        let store = Store::open(&path).unwrap();
        let conn = store.conn.lock().unwrap();
        let added: i64 = conn
            .query_row("SELECT added_at FROM media_files", [], |r| r.get(0))
            .unwrap();
        assert_eq!(added, 1_700_000_000);
    }
}
