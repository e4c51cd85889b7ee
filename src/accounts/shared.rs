//! Sessions every instance of a cluster verifies (`SOKOUL_REDIS_URL`): Redis holds the live
//! sessions, each instance keeps its short in-memory memo in front of it.
//!
//! Why records in Redis rather than a revocation channel: an instance must accept a session
//! it never saw opened (the balancer sends the login to one instance and the next request to
//! another), so the record itself has to be shared; once it is, revoking is deleting it, and
//! no message can be missed by an instance that was reconnecting. Each instance then trusts a
//! checked session for [`super::SESSION_MEMO`] (5 s) at most, which bounds how long another
//! instance keeps accepting a revoked one, and keeps the check on the hot path a memo hit
//! (no Redis round trip per request; a miss is one `GET`).
//!
//! Keys (the prefix is hashed from `SOKOUL_SECRET`, so two deployments sharing one Redis never
//! read each other's sessions; the instances of one cluster share the secret anyway):
//! - `<prefix>:s:<handle>`: the session's row as JSON, expiring at its idle timeout (renewal
//!   rewrites it) or at the end of its lifetime, whichever comes first;
//! - `<prefix>:a:<account id>`: the handles of an account's sessions, for listing them and
//!   for "Se déconnecter partout";
//! - `<prefix>:accounts`: set once an account exists, so an instance without local accounts
//!   still asks for a login.
//!
//! The account ids are those of the instance that holds the accounts (docs/scaling.md).

use std::sync::{Arc, LazyLock};

use redis::{AsyncCommands, Script};

use super::session;
use crate::cache::CacheError;
use crate::cache::redis::RedisCache;
use crate::store::accounts::SessionRow;

/// Deletes every session listed under an account and the list, in one step, so a session
/// opened meanwhile is either ended or listed afresh, never orphaned.
static END_ALL: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local ended = 0
for _, h in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  ended = ended + redis.call('DEL', ARGV[1] .. h)
end
redis.call('DEL', KEYS[1])
return ended
",
    )
});

pub struct SharedSessions {
    redis: Arc<RedisCache>,
    prefix: String,
}

// Holds a client whose state says nothing useful in a log.
impl std::fmt::Debug for SharedSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedSessions")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl SharedSessions {
    pub fn new(redis: Arc<RedisCache>, secret: &[u8]) -> Self {
        let ns = blake3::derive_key("sokoul 2026 shared sessions v1", secret);
        let ns: String = ns[..4].iter().map(|b| format!("{b:02x}")).collect();
        SharedSessions {
            redis,
            prefix: format!("sokoul:v1:sessions:{ns}"),
        }
    }

    fn session_key(&self, short: &[u8; 8]) -> String {
        format!("{}:s:{}", self.prefix, session::hex(short))
    }

    fn account_key(&self, account_id: i64) -> String {
        format!("{}:a:{account_id}", self.prefix)
    }

    /// The live session whose hash starts with `short`.
    pub async fn get(&self, short: &[u8; 8]) -> Result<Option<SessionRow>, CacheError> {
        let key = self.session_key(short);
        let raw: Option<Vec<u8>> = self
            .redis
            .run("session_get", |mut conn| async move { conn.get(key).await })
            .await?;
        Ok(raw.map(|b| serde_json::from_slice(&b)).transpose()?)
    }

    /// Stores a new session for `ttl` seconds, listed under its account; says again that
    /// accounts exist.
    pub async fn put(&self, row: &SessionRow, ttl: u64, lifetime: u64) -> Result<(), CacheError> {
        let short = session::short(&row.id_hash);
        let value = serde_json::to_vec(row)?;
        let key = self.session_key(&short);
        let account = self.account_key(row.account_id);
        let handle = session::hex(&short);
        let accounts = format!("{}:accounts", self.prefix);
        self.redis
            .run("session_put", |mut conn| async move {
                redis::pipe()
                    .atomic()
                    .set_ex(&key, value, ttl.max(1))
                    .ignore()
                    .sadd(&account, handle)
                    .ignore()
                    .expire(&account, lifetime as i64)
                    .ignore()
                    .set(accounts, 1u8)
                    .ignore()
                    .query_async::<()>(&mut conn)
                    .await
            })
            .await
    }

    /// Rewrites a session that is still live (renewed, another profile, another role): `XX`
    /// never brings back one revoked meanwhile. `false` when it was not live.
    pub async fn update(&self, row: &SessionRow, ttl: u64) -> Result<bool, CacheError> {
        let value = serde_json::to_vec(row)?;
        let key = self.session_key(&session::short(&row.id_hash));
        self.redis
            .run("session_update", |mut conn| async move {
                redis::cmd("SET")
                    .arg(key)
                    .arg(value)
                    .arg("XX")
                    .arg("EX")
                    .arg(ttl.max(1))
                    .query_async::<Option<String>>(&mut conn)
                    .await
            })
            .await
            .map(|ok| ok.is_some())
    }

    /// Ends one session; `false` when it was not live. Its handle stays in its account's
    /// list, where it names nothing any more (`list` skips it, `remove_all` counts it out).
    pub async fn remove(&self, id_hash: &[u8; 32]) -> Result<bool, CacheError> {
        let key = self.session_key(&session::short(id_hash));
        let deleted: i64 = self
            .redis
            .run("session_end", |mut conn| async move { conn.del(key).await })
            .await?;
        Ok(deleted == 1)
    }

    /// Ends every session of an account; returns how many were live.
    pub async fn remove_all(&self, account_id: i64) -> Result<usize, CacheError> {
        let account = self.account_key(account_id);
        let prefix = format!("{}:s:", self.prefix);
        let ended: i64 = self
            .redis
            .run("session_end_all", |mut conn| async move {
                END_ALL
                    .key(account)
                    .arg(prefix)
                    .invoke_async(&mut conn)
                    .await
            })
            .await?;
        Ok(ended.max(0) as usize)
    }

    /// The live sessions of an account, in no particular order.
    pub async fn list(&self, account_id: i64) -> Result<Vec<SessionRow>, CacheError> {
        let account = self.account_key(account_id);
        let handles: Vec<String> = self
            .redis
            .run("session_list", |mut conn| async move {
                conn.smembers(account).await
            })
            .await?;
        if handles.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = handles
            .iter()
            .map(|h| format!("{}:s:{h}", self.prefix))
            .collect();
        let raw: Vec<Option<Vec<u8>>> = self
            .redis
            .run("session_list", |mut conn| async move {
                redis::cmd("MGET").arg(keys).query_async(&mut conn).await
            })
            .await?;
        let rows = raw
            .into_iter()
            .flatten()
            .map(|b| serde_json::from_slice(&b));
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Tells the other instances that accounts exist.
    pub async fn mark_accounts(&self) -> Result<(), CacheError> {
        let key = format!("{}:accounts", self.prefix);
        self.redis
            .run("accounts_mark", |mut conn| async move {
                conn.set::<_, _, ()>(key, 1u8).await
            })
            .await
    }

    /// Whether some instance has accounts.
    pub async fn accounts_exist(&self) -> Result<bool, CacheError> {
        let key = format!("{}:accounts", self.prefix);
        self.redis
            .run("accounts_exist", |mut conn| async move {
                conn.exists(key).await
            })
            .await
    }
}
