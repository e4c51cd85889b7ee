//! Profiles (`crate::accounts::profiles` holds the rules; this file the SQL). Every account has
//! at least one; a profile with no account holds what a server without accounts watched, until
//! the first admin adopts it (`accounts.rs`, when the account is created).

use std::time::{Duration, Instant};

use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError};

/// The colour of a profile made without one (the dashboard's accent).
pub const DEFAULT_COLOUR: &str = "#e50914";

/// How long the profile of requests without a chosen one is remembered: the CLI may remove
/// accounts while the server runs, and this is how soon the server notices.
const FIRST_PROFILE_MEMO: Duration = Duration::from_secs(5);

/// A stored profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileRow {
    pub id: i64,
    pub account_id: Option<i64>,
    pub name: String,
    pub colour: String,
    pub pin_hash: Option<String>,
    pub created_at: i64,
    /// The interface language chosen in the dashboard, if any.
    pub language: Option<String>,
}

const PROFILE: &str =
    "SELECT id, account_id, name, colour, pin_hash, created_at, language FROM profiles";

fn profile(r: &rusqlite::Row<'_>) -> rusqlite::Result<ProfileRow> {
    Ok(ProfileRow {
        id: r.get(0)?,
        account_id: r.get(1)?,
        name: r.get(2)?,
        colour: r.get(3)?,
        pin_hash: r.get(4)?,
        created_at: r.get(5)?,
        language: r.get(6)?,
    })
}

/// What deleting a profile did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removed {
    Yes,
    NotFound,
    /// It is its account's only profile: kept.
    Last,
}

/// A change to a profile; `None` keeps the field. `pin_hash: Some(None)` removes the PIN.
#[derive(Debug, Clone, Default)]
pub struct ProfileUpdate {
    pub name: Option<String>,
    pub colour: Option<String>,
    pub pin_hash: Option<Option<String>>,
    pub language: Option<String>,
}

/// Gives a new account its first profile, in the transaction that creates the account. The
/// first admin adopts the profile without account (what was watched before accounts existed);
/// anyone else gets a new profile named after the account.
pub(crate) fn first_profile_of(
    tx: &rusqlite::Transaction<'_>,
    account_id: i64,
    username: &str,
    admin: bool,
    at: i64,
) -> rusqlite::Result<()> {
    let adopted = admin
        && tx.execute(
            "UPDATE profiles SET account_id = ?1, name = ?2 WHERE account_id IS NULL",
            params![account_id, username],
        )? > 0;
    if !adopted {
        tx.execute(
            "INSERT INTO profiles (account_id, name, colour, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![account_id, username, DEFAULT_COLOUR, at],
        )?;
    }
    Ok(())
}

impl Store {
    /// The profiles of an account (`None`: the profile without account), oldest first.
    pub async fn profiles_of(&self, owner: Option<i64>) -> Result<Vec<ProfileRow>, StoreError> {
        self.call(move |conn| {
            let mut stmt =
                conn.prepare(&format!("{PROFILE} WHERE account_id IS ?1 ORDER BY id"))?;
            let rows = stmt
                .query_map([owner], profile)?
                .collect::<Result<_, _>>()?;
            Ok(rows)
        })
        .await
    }

    pub async fn profile(&self, id: i64) -> Result<Option<ProfileRow>, StoreError> {
        self.call(move |conn| {
            Ok(conn
                .query_row(&format!("{PROFILE} WHERE id = ?1"), [id], profile)
                .optional()?)
        })
        .await
    }

    /// Adds a profile unless its account has `max` already (`Ok(None)`).
    pub async fn add_profile(
        &self,
        owner: Option<i64>,
        name: String,
        colour: String,
        pin_hash: Option<String>,
        at: i64,
        max: u32,
    ) -> Result<Option<i64>, StoreError> {
        self.call(move |conn| {
            let n = conn.execute(
                "INSERT INTO profiles (account_id, name, colour, pin_hash, created_at)
                 SELECT ?1, ?2, ?3, ?4, ?5
                 WHERE (SELECT COUNT(*) FROM profiles WHERE account_id IS ?1) < ?6",
                params![owner, name, colour, pin_hash, at, max],
            )?;
            Ok((n == 1).then(|| conn.last_insert_rowid()))
        })
        .await
    }

    /// `false` when there is no such profile.
    pub async fn update_profile(&self, id: i64, update: ProfileUpdate) -> Result<bool, StoreError> {
        self.call(move |conn| {
            let (set_pin, pin) = match update.pin_hash {
                Some(pin) => (true, pin),
                None => (false, None),
            };
            let n = conn.execute(
                "UPDATE profiles SET name = COALESCE(?2, name), colour = COALESCE(?3, colour),
                     pin_hash = CASE WHEN ?4 THEN ?5 ELSE pin_hash END,
                     language = COALESCE(?6, language)
                 WHERE id = ?1",
                params![
                    id,
                    update.name,
                    update.colour,
                    set_pin,
                    pin,
                    update.language
                ],
            )?;
            Ok(n == 1)
        })
        .await
    }

    /// Deletes a profile and (by cascade) what it watched, never its account's last one.
    pub async fn remove_profile(&self, id: i64) -> Result<Removed, StoreError> {
        let removed = self
            .call(move |conn| {
                let tx = conn.transaction()?;
                let siblings: Option<i64> = tx
                    .query_row(
                        "SELECT COUNT(*) FROM profiles
                         WHERE account_id IS (SELECT account_id FROM profiles WHERE id = ?1)
                         AND EXISTS (SELECT 1 FROM profiles WHERE id = ?1)",
                        [id],
                        |r| r.get(0),
                    )
                    .optional()?;
                let removed = match siblings {
                    None | Some(0) => Removed::NotFound,
                    Some(1) => Removed::Last,
                    Some(_) => {
                        tx.execute("DELETE FROM profiles WHERE id = ?1", [id])?;
                        Removed::Yes
                    }
                };
                tx.commit()?;
                Ok(removed)
            })
            .await?;
        self.forget_first_profile();
        Ok(removed)
    }

    /// The profile a browser session watches as; `None` goes back to the account's first.
    pub async fn select_profile(
        &self,
        session: [u8; 32],
        profile: Option<i64>,
    ) -> Result<(), StoreError> {
        self.call(move |conn| {
            conn.execute(
                "UPDATE sessions SET profile_id = ?2 WHERE id_hash = ?1",
                params![session.as_slice(), profile],
            )?;
            Ok(())
        })
        .await
    }

    /// The profile of requests that chose none and have no account (`SOKOUL_API_TOKEN`, a
    /// server without accounts): the profile without account, else the first admin's first
    /// profile. Made when there is none (every account was removed).
    pub async fn first_profile(&self) -> Result<i64, StoreError> {
        let memo = *self.first_profile.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((id, at)) = memo
            && at.elapsed() < FIRST_PROFILE_MEMO
        {
            return Ok(id);
        }
        let id = self
            .call(|conn| {
                let found: Option<i64> = conn
                    .query_row("SELECT id FROM first_profile", [], |r| r.get(0))
                    .optional()?;
                if let Some(id) = found {
                    return Ok(id);
                }
                conn.execute(
                    "INSERT INTO profiles (account_id, name, colour, created_at)
                     VALUES (NULL, 'Profil 1', ?1, strftime('%s', 'now'))",
                    [DEFAULT_COLOUR],
                )?;
                Ok(conn.last_insert_rowid())
            })
            .await?;
        *self.first_profile.lock().unwrap_or_else(|p| p.into_inner()) = Some((id, Instant::now()));
        Ok(id)
    }

    /// Accounts or profiles changed: the next request asks the database again.
    pub(crate) fn forget_first_profile(&self) {
        *self.first_profile.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::accounts::NewAccount;

    fn admin(name: &str) -> NewAccount {
        NewAccount {
            username: name.into(),
            password_hash: "x".into(),
            role: "admin",
            at: 1,
        }
    }

    #[tokio::test]
    async fn the_first_admin_adopts_the_profile_without_account_and_keeps_its_id() {
        let store = Store::in_memory().unwrap();
        let before = store.first_profile().await.unwrap();
        let alice = store
            .add_first_account(admin("alice"))
            .await
            .unwrap()
            .unwrap();
        let bob = store.add_account(admin("bob")).await.unwrap().unwrap();
        store.forget_first_profile();
        assert_eq!(store.first_profile().await.unwrap(), before);
        let mine = store.profiles_of(Some(alice)).await.unwrap();
        assert_eq!(
            (mine.len(), mine[0].id, mine[0].name.as_str()),
            (1, before, "alice")
        );
        assert_eq!(store.profiles_of(Some(bob)).await.unwrap().len(), 1);
        assert!(store.profiles_of(None).await.unwrap().is_empty());
        assert_eq!(store.remove_profile(before).await.unwrap(), Removed::Last);
    }
}
