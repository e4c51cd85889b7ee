//! Accounts and their sessions (`crate::accounts` holds the rules; this file the SQL).
//! Sessions are stored by the SHA-256 of their id: the database never holds a cookie's value.

use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError};

/// A stored account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRow {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub role: String,
    pub disabled: bool,
    pub created_at: i64,
}

/// A stored session and its account (also the record shared through Redis:
/// `accounts::shared`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SessionRow {
    pub id_hash: [u8; 32],
    pub account_id: i64,
    pub username: String,
    pub role: String,
    pub created_at: i64,
    pub last_seen: i64,
    pub user_agent: Option<String>,
    /// The profile it watches as: the one chosen, else the account's first.
    pub profile_id: Option<i64>,
}

const ACCOUNT: &str =
    "SELECT id, username, password_hash, role, disabled, created_at FROM accounts";

fn account(r: &rusqlite::Row<'_>) -> rusqlite::Result<AccountRow> {
    Ok(AccountRow {
        id: r.get(0)?,
        username: r.get(1)?,
        password_hash: r.get(2)?,
        role: r.get(3)?,
        disabled: r.get(4)?,
        created_at: r.get(5)?,
    })
}

const SESSION: &str =
    "SELECT s.id_hash, s.account_id, a.username, a.role, s.created_at, s.last_seen, s.user_agent,
        COALESCE(s.profile_id, (SELECT MIN(p.id) FROM profiles p WHERE p.account_id = s.account_id))
     FROM sessions s JOIN accounts a ON a.id = s.account_id";

fn session(r: &rusqlite::Row<'_>) -> rusqlite::Result<SessionRow> {
    let hash: Vec<u8> = r.get(0)?;
    Ok(SessionRow {
        id_hash: hash.try_into().unwrap_or([0; 32]),
        account_id: r.get(1)?,
        username: r.get(2)?,
        role: r.get(3)?,
        created_at: r.get(4)?,
        last_seen: r.get(5)?,
        user_agent: r.get(6)?,
        profile_id: r.get(7)?,
    })
}

/// Whether an enabled admin is left: without one nobody could manage accounts any more.
fn has_admin(conn: &rusqlite::Connection) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM accounts WHERE role = 'admin' AND disabled = 0)",
        [],
        |r| r.get(0),
    )
}

/// A new account's fields.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub username: String,
    pub password_hash: String,
    pub role: &'static str,
    pub at: i64,
}

impl Store {
    pub async fn count_accounts(&self) -> Result<u64, StoreError> {
        self.call(|conn| {
            Ok(conn.query_row("SELECT COUNT(*) FROM accounts", [], |r| r.get::<_, i64>(0))? as u64)
        })
        .await
    }

    /// `Ok(None)` when the name is taken (names compare without case).
    pub async fn add_account(&self, new: NewAccount) -> Result<Option<i64>, StoreError> {
        self.insert_account(new, false).await
    }

    /// Adds the account only if there is none yet, in one statement: two first-run pages
    /// racing cannot both create an admin. `Ok(None)` when an account exists.
    pub async fn add_first_account(&self, new: NewAccount) -> Result<Option<i64>, StoreError> {
        self.insert_account(new, true).await
    }

    async fn insert_account(
        &self,
        new: NewAccount,
        only_first: bool,
    ) -> Result<Option<i64>, StoreError> {
        let added = self
            .call(move |conn| {
                let guard = if only_first {
                    "WHERE NOT EXISTS (SELECT 1 FROM accounts)"
                } else {
                    "WHERE NOT EXISTS (SELECT 1 FROM accounts WHERE username = ?1)"
                };
                let sql = format!(
                    "INSERT INTO accounts (username, password_hash, role, disabled, created_at)
                 SELECT ?1, ?2, ?3, 0, ?4 {guard}"
                );
                let tx = conn.transaction()?;
                let n = tx.execute(
                    &sql,
                    params![new.username, new.password_hash, new.role, new.at],
                )?;
                if n != 1 {
                    return Ok(None);
                }
                let id = tx.last_insert_rowid();
                super::profiles::first_profile_of(
                    &tx,
                    id,
                    &new.username,
                    new.role == "admin",
                    new.at,
                )?;
                tx.commit()?;
                Ok(Some(id))
            })
            .await;
        self.forget_first_profile();
        added
    }

    pub async fn account_by_name(&self, username: &str) -> Result<Option<AccountRow>, StoreError> {
        let username = username.to_owned();
        self.call(move |conn| {
            Ok(conn
                .query_row(
                    &format!("{ACCOUNT} WHERE username = ?1"),
                    [username],
                    account,
                )
                .optional()?)
        })
        .await
    }

    pub async fn list_accounts(&self) -> Result<Vec<AccountRow>, StoreError> {
        self.call(|conn| {
            let mut stmt = conn.prepare(&format!("{ACCOUNT} ORDER BY id"))?;
            let rows = stmt.query_map([], account)?.collect::<Result<_, _>>()?;
            Ok(rows)
        })
        .await
    }

    /// A new hash; every session of the account ends (whoever knew the old password is out).
    /// `false` when there is no such account.
    pub async fn set_password(
        &self,
        account_id: i64,
        hash: String,
        end_sessions: bool,
    ) -> Result<bool, StoreError> {
        self.call(move |conn| {
            let tx = conn.transaction()?;
            let n = tx.execute(
                "UPDATE accounts SET password_hash = ?2 WHERE id = ?1",
                params![account_id, hash],
            )?;
            if end_sessions {
                tx.execute("DELETE FROM sessions WHERE account_id = ?1", [account_id])?;
            }
            tx.commit()?;
            Ok(n == 1)
        })
        .await
    }

    /// Changes the role and whether the account is disabled; disabling ends its sessions.
    /// Refuses (`Ok(None)`) a change that would leave no enabled admin. `Ok(Some(false))` when
    /// there is no such account.
    pub async fn update_account(
        &self,
        account_id: i64,
        role: &'static str,
        disabled: bool,
    ) -> Result<Option<bool>, StoreError> {
        self.call(move |conn| {
            let tx = conn.transaction()?;
            let n = tx.execute(
                "UPDATE accounts SET role = ?2, disabled = ?3 WHERE id = ?1",
                params![account_id, role, disabled],
            )?;
            if !has_admin(&tx)? {
                return Ok(None);
            }
            if disabled {
                tx.execute("DELETE FROM sessions WHERE account_id = ?1", [account_id])?;
            }
            tx.commit()?;
            Ok(Some(n == 1))
        })
        .await
    }

    /// Deletes the account and (by cascade) its sessions, unless it is the last enabled admin
    /// (`Ok(None)`). `Ok(Some(false))` when there was none.
    pub async fn remove_account_keeping_an_admin(
        &self,
        account_id: i64,
    ) -> Result<Option<bool>, StoreError> {
        let removed = self
            .call(move |conn| {
                let tx = conn.transaction()?;
                let n = tx.execute("DELETE FROM accounts WHERE id = ?1", [account_id])?;
                if !has_admin(&tx)? {
                    return Ok(None);
                }
                tx.commit()?;
                Ok(Some(n == 1))
            })
            .await;
        self.forget_first_profile();
        removed
    }

    /// Deletes the account and (by cascade) its sessions. `false` when there was none.
    pub async fn remove_account(&self, account_id: i64) -> Result<bool, StoreError> {
        let removed = self
            .call(move |conn| {
                Ok(conn.execute("DELETE FROM accounts WHERE id = ?1", [account_id])? == 1)
            })
            .await;
        self.forget_first_profile();
        removed
    }

    pub async fn add_session(
        &self,
        id_hash: [u8; 32],
        account_id: i64,
        at: i64,
        user_agent: Option<String>,
    ) -> Result<(), StoreError> {
        self.call(move |conn| {
            conn.execute(
                "INSERT INTO sessions (id_hash, account_id, created_at, last_seen, user_agent)
                 VALUES (?1, ?2, ?3, ?3, ?4)",
                params![id_hash.as_slice(), account_id, at, user_agent],
            )?;
            Ok(())
        })
        .await
    }

    /// The session and its account, unless the account is disabled.
    pub async fn session(&self, id_hash: [u8; 32]) -> Result<Option<SessionRow>, StoreError> {
        self.call(move |conn| {
            Ok(conn
                .query_row(
                    &format!("{SESSION} WHERE s.id_hash = ?1 AND a.disabled = 0"),
                    [id_hash.as_slice()],
                    session,
                )
                .optional()?)
        })
        .await
    }

    /// The session whose hash starts with `short` (a media token's binding), unless its
    /// account is disabled. No index: a household has a handful of sessions, and the memo
    /// asks at most once per 5 s per session.
    pub async fn session_by_short(&self, short: [u8; 8]) -> Result<Option<SessionRow>, StoreError> {
        self.call(move |conn| {
            Ok(conn
                .query_row(
                    &format!("{SESSION} WHERE substr(s.id_hash, 1, 8) = ?1 AND a.disabled = 0"),
                    [short.as_slice()],
                    session,
                )
                .optional()?)
        })
        .await
    }

    pub async fn touch_session(&self, id_hash: [u8; 32], at: i64) -> Result<(), StoreError> {
        self.call(move |conn| {
            conn.execute(
                "UPDATE sessions SET last_seen = MAX(last_seen, ?2) WHERE id_hash = ?1",
                params![id_hash.as_slice(), at],
            )?;
            Ok(())
        })
        .await
    }

    pub async fn sessions_of(&self, account_id: i64) -> Result<Vec<SessionRow>, StoreError> {
        self.call(move |conn| {
            let mut stmt = conn.prepare(&format!(
                "{SESSION} WHERE s.account_id = ?1 ORDER BY s.last_seen DESC"
            ))?;
            let rows = stmt
                .query_map([account_id], session)?
                .collect::<Result<_, _>>()?;
            Ok(rows)
        })
        .await
    }

    /// Deletes one session; `false` when it did not exist.
    pub async fn remove_session(&self, id_hash: [u8; 32]) -> Result<bool, StoreError> {
        self.call(move |conn| {
            Ok(conn.execute(
                "DELETE FROM sessions WHERE id_hash = ?1",
                [id_hash.as_slice()],
            )? == 1)
        })
        .await
    }

    /// Deletes every session of an account; returns their hashes (to forget them in memory).
    pub async fn remove_sessions_of(&self, account_id: i64) -> Result<Vec<[u8; 32]>, StoreError> {
        self.call(move |conn| {
            let mut stmt =
                conn.prepare("DELETE FROM sessions WHERE account_id = ?1 RETURNING id_hash")?;
            let rows = stmt
                .query_map([account_id], |r| r.get::<_, Vec<u8>>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows.into_iter().filter_map(|h| h.try_into().ok()).collect())
        })
        .await
    }
}
