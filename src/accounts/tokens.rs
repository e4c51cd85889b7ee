//! Personal API tokens for scripts: made by a logged-in account, shown once, stored as their
//! SHA-256 (like session ids), sent as `Authorization: Bearer`, acting as the account (its
//! role, its first profile). Checked tokens are remembered for [`super::SESSION_MEMO`], like
//! sessions; revoking through this server forgets one at once.

use std::sync::Arc;

use super::{AccountError, Accounts, RENEW_EVERY, session};
use crate::store::StoreError;
use crate::store::accounts::SessionRow;
use crate::store::api_tokens::TokenRow;

/// Tokens start with it, so a leaked one is recognisable (secret scanners, logs).
pub const PREFIX: &str = "sokoul_pat_";

fn check_name(name: &str) -> Result<String, AccountError> {
    let name = name.trim();
    let ok = (1..=64).contains(&name.chars().count()) && !name.chars().any(char::is_control);
    ok.then(|| name.to_owned())
        .ok_or(AccountError::InvalidTokenName)
}

impl Accounts {
    /// A new token for the account: the row, and the token itself, which nothing keeps.
    pub async fn create_token(
        &self,
        account_id: i64,
        name: &str,
    ) -> Result<(TokenRow, String), AccountError> {
        let name = check_name(name)?;
        let token = format!("{PREFIX}{}", session::new_id());
        let at = self.now();
        let id = self
            .store
            .add_api_token(account_id, name.clone(), session::hash(&token), at)
            .await?;
        let row = TokenRow {
            id,
            name,
            created_at: at,
            last_used: None,
        };
        Ok((row, token))
    }

    pub async fn tokens(&self, account_id: i64) -> Result<Vec<TokenRow>, StoreError> {
        self.store.api_tokens_of(account_id).await
    }

    /// `false` when the account has no such token.
    pub async fn revoke_token(&self, account_id: i64, id: i64) -> Result<bool, StoreError> {
        let Some(hash) = self.store.remove_api_token(account_id, id).await? else {
            return Ok(false);
        };
        self.tokens.invalidate(&hash);
        Ok(true)
    }

    /// The account a bearer token acts as, if it is a live personal token; its last use is
    /// written at most once a minute.
    pub async fn token_caller(&self, given: &str) -> Result<Option<Arc<SessionRow>>, StoreError> {
        if !given.starts_with(PREFIX) || given.len() > 128 {
            return Ok(None);
        }
        let hash = session::hash(given);
        let (row, memo) = match self.tokens.get(&hash) {
            Some(row) => (row, true),
            None => match self.store.api_token(hash).await? {
                Some(row) => (Arc::new(row), false),
                None => return Ok(None),
            },
        };
        let now = self.now();
        if now - row.last_seen < RENEW_EVERY && row.last_seen != row.created_at {
            // A hit is not remembered again, which would restart its 5 s (see `keep_alive`).
            if !memo {
                self.tokens.insert(hash, row.clone());
            }
            return Ok(Some(row));
        }
        self.store.touch_api_token(hash, now).await?;
        let row = Arc::new(SessionRow {
            last_seen: now,
            ..(*row).clone()
        });
        self.tokens.insert(hash, row.clone());
        Ok(Some(row))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_names_are_short_lines() {
        assert_eq!(check_name(" backup script ").unwrap(), "backup script");
        assert!(check_name("").is_err() && check_name("a\nb").is_err());
        assert!(check_name(&"x".repeat(65)).is_err());
    }
}
