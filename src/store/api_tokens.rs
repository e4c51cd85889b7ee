//! Personal API tokens (`crate::accounts::tokens` holds the rules; this file the SQL), stored by
//! the SHA-256 of the token: a copy of the database opens nothing.

use rusqlite::{OptionalExtension, params};

use super::accounts::SessionRow;
use super::{Store, StoreError};

/// A token as its account lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    pub id: i64,
    pub name: String,
    pub created_at: i64,
    pub last_used: Option<i64>,
}

impl Store {
    pub async fn add_api_token(
        &self,
        account_id: i64,
        name: String,
        hash: [u8; 32],
        at: i64,
    ) -> Result<i64, StoreError> {
        self.call(move |conn| {
            conn.execute(
                "INSERT INTO api_tokens (account_id, name, hash, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![account_id, name, hash.as_slice(), at],
            )?;
            Ok(conn.last_insert_rowid())
        })
        .await
    }

    pub async fn api_tokens_of(&self, account_id: i64) -> Result<Vec<TokenRow>, StoreError> {
        self.call(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT id, name, created_at, last_used FROM api_tokens
                 WHERE account_id = ?1 ORDER BY id",
            )?;
            let rows = stmt
                .query_map([account_id], |r| {
                    Ok(TokenRow {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        created_at: r.get(2)?,
                        last_used: r.get(3)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            Ok(rows)
        })
        .await
    }

    /// Deletes an account's token; its hash when there was one (to forget it in memory).
    pub async fn remove_api_token(
        &self,
        account_id: i64,
        id: i64,
    ) -> Result<Option<[u8; 32]>, StoreError> {
        self.call(move |conn| {
            let hash: Option<Vec<u8>> = conn
                .query_row(
                    "DELETE FROM api_tokens WHERE id = ?1 AND account_id = ?2 RETURNING hash",
                    params![id, account_id],
                    |r| r.get(0),
                )
                .optional()?;
            Ok(hash.and_then(|h| h.try_into().ok()))
        })
        .await
    }

    /// The account a token acts as, in a session's shape (the token's hash as its id, the
    /// account's first profile), unless the account is disabled.
    pub async fn api_token(&self, hash: [u8; 32]) -> Result<Option<SessionRow>, StoreError> {
        self.call(move |conn| {
            Ok(conn
                .query_row(
                    "SELECT t.account_id, a.username, a.role, t.created_at, t.last_used,
                        (SELECT MIN(p.id) FROM profiles p WHERE p.account_id = t.account_id)
                     FROM api_tokens t JOIN accounts a ON a.id = t.account_id
                     WHERE t.hash = ?1 AND a.disabled = 0",
                    [hash.as_slice()],
                    |r| {
                        let created_at: i64 = r.get(3)?;
                        Ok(SessionRow {
                            id_hash: hash,
                            account_id: r.get(0)?,
                            username: r.get(1)?,
                            role: r.get(2)?,
                            created_at,
                            last_seen: r.get::<_, Option<i64>>(4)?.unwrap_or(created_at),
                            user_agent: None,
                            profile_id: r.get(5)?,
                        })
                    },
                )
                .optional()?)
        })
        .await
    }

    pub async fn touch_api_token(&self, hash: [u8; 32], at: i64) -> Result<(), StoreError> {
        self.call(move |conn| {
            conn.execute(
                "UPDATE api_tokens SET last_used = ?2 WHERE hash = ?1",
                params![hash.as_slice(), at],
            )?;
            Ok(())
        })
        .await
    }
}
