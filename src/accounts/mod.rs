//! Accounts of the household (issue 16): Argon2id passwords, roles, and server-side browser
//! sessions carried by an `HttpOnly` cookie.
//!
//! - `password`: hashing and verifying (OWASP's Argon2id parameters, rehash when they change);
//! - `session`: session ids, their hash and their cookie;
//! - `throttle`: failed logins per account and per client;
//! - `profiles`: who watches within an account, and the profile a session selected;
//! - `tokens`: personal API tokens for scripts.
//!
//! A session is checked on every request: a small in-memory cache keeps the database off that
//! path; revoking through this server forgets the cached entry at once, and an entry is never
//! older than [`SESSION_MEMO`], so a change made elsewhere (the CLI, another instance of a
//! cluster) is seen within seconds. With `SOKOUL_REDIS_URL` the live sessions are kept in
//! Redis (`shared`), so every instance verifies them.

pub mod cli;
pub mod password;
pub mod profiles;
pub mod session;
pub mod shared;
pub mod throttle;
pub mod tokens;

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::config::AccountSettings;
use crate::store::accounts::{AccountRow, NewAccount, SessionRow};
use crate::store::{Store, StoreError};

/// How long a checked session is trusted from memory.
const SESSION_MEMO: Duration = Duration::from_secs(5);
/// A session's `last_seen` is written at most this often (seconds): renewal costs no write
/// per request.
const RENEW_EVERY: i64 = 60;
/// How often "is there an account yet?" is asked again while the answer is no.
const EXISTS_RECHECK: Duration = Duration::from_secs(1);

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum Role {
    /// Accounts, library scans, settings, the API document.
    Admin,
    /// Watching.
    Member,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "member" => Some(Role::Member),
            _ => None,
        }
    }
}

/// Who made a request, put in its extensions by the auth middleware.
#[derive(Debug, Clone)]
pub struct Caller {
    pub role: Role,
    /// The logged-in account; `None` for `SOKOUL_API_TOKEN` and for a server without accounts.
    pub account: Option<Arc<SessionRow>>,
    /// The account came with a personal API token, not a browser session.
    pub by_token: bool,
}

impl Caller {
    /// `SOKOUL_API_TOKEN`, or anyone on a server without accounts: an admin with no account.
    pub fn unnamed_admin() -> Caller {
        Caller {
            role: Role::Admin,
            account: None,
            by_token: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("a user name has 1 to 64 letters, digits, '.', '_' or '-'")]
    InvalidUsername,
    #[error(transparent)]
    Password(#[from] password::PasswordError),
    #[error("the user name '{0}' is taken")]
    NameTaken(String),
    #[error("an account exists already: log in instead")]
    AlreadySetUp,
    #[error("wrong user name or password")]
    InvalidCredentials,
    #[error("too many failed logins; retry in {0} s")]
    TooManyAttempts(u64),
    #[error("no account named '{0}'")]
    NotFound(String),
    #[error("this would leave no enabled admin account")]
    LastAdmin,
    #[error("a token name has 1 to 64 characters")]
    InvalidTokenName,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the password task failed")]
    Task(#[source] tokio::task::JoinError),
    /// Sessions are shared through Redis and it cannot be reached: no session is opened or
    /// accepted past the memo (fail closed), and a revocation may not have reached it.
    #[error("the shared session store (Redis) cannot be reached: {0}")]
    SessionStore(#[source] crate::cache::CacheError),
}

pub fn check_username(name: &str) -> Result<(), AccountError> {
    let ok = (1..=64).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(AccountError::InvalidUsername)
    }
}

/// Argon2 takes tens of milliseconds of CPU: off the async workers.
pub async fn hash_password(password: String) -> Result<String, AccountError> {
    password::check_length(&password)?;
    tokio::task::spawn_blocking(move || password::hash(&password))
        .await
        .map_err(AccountError::Task)?
        .map_err(AccountError::Password)
}

/// What an admin changes in an account; `None` keeps the field.
#[derive(Default, Deserialize, ts_rs::TS, utoipa::ToSchema)]
#[ts(export)]
pub struct AccountChange {
    #[ts(optional)]
    pub role: Option<Role>,
    /// A disabled account cannot log in; its sessions end.
    #[ts(optional)]
    pub disabled: Option<bool>,
    /// A new password (8 to 256 characters); the account's sessions end.
    #[ts(optional)]
    pub password: Option<String>,
}

// Never prints the password.
impl std::fmt::Debug for AccountChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountChange")
            .field("role", &self.role)
            .field("disabled", &self.disabled)
            .field("password", &self.password.as_ref().map(|_| "…"))
            .finish()
    }
}

/// A session just opened: the id goes into the cookie and nowhere else.
#[derive(Debug)]
pub struct Opened {
    pub id: String,
    pub account: AccountRow,
}

pub struct Accounts {
    store: Store,
    clock: Arc<dyn Clock>,
    settings: AccountSettings,
    /// Checked sessions by the start of their hash ([`session::short`]), the key media tokens
    /// carry too; a cookie's full hash is compared on every hit.
    sessions: moka::sync::Cache<[u8; 8], Arc<SessionRow>>,
    /// The sessions every instance shares, when `SOKOUL_REDIS_URL` is set.
    shared: Option<shared::SharedSessions>,
    /// Checked personal tokens, by hash (tokens.rs), kept like sessions.
    tokens: moka::sync::Cache<[u8; 32], Arc<SessionRow>>,
    any: AtomicBool,
    checked: std::sync::Mutex<Option<Instant>>,
    pub throttle: throttle::LoginThrottle,
}

impl std::fmt::Debug for Accounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accounts").finish_non_exhaustive()
    }
}

impl Accounts {
    pub fn new(store: Store, clock: Arc<dyn Clock>, settings: AccountSettings) -> Self {
        Accounts {
            store,
            clock,
            settings,
            sessions: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(SESSION_MEMO)
                // `forget`: ending an account's sessions drops their memo at once.
                .support_invalidation_closures()
                .build(),
            tokens: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(SESSION_MEMO)
                .support_invalidation_closures()
                .build(),
            shared: None,
            any: AtomicBool::new(false),
            checked: std::sync::Mutex::new(None),
            throttle: throttle::LoginThrottle::default(),
        }
    }

    /// Keeps sessions in Redis, where every instance of the cluster checks them.
    pub fn sharing(mut self, shared: shared::SharedSessions) -> Self {
        self.shared = Some(shared);
        self
    }

    pub fn lifetime(&self) -> u64 {
        self.settings.session_lifetime
    }

    fn now(&self) -> i64 {
        self.clock.unix() as i64
    }

    /// Whether at least one account exists. Once yes, always yes for this process (a server
    /// never opens up again by itself); while no, asked again at most once a second, so an
    /// account made with the CLI while the server runs takes effect.
    pub async fn exist(&self) -> Result<bool, StoreError> {
        if self.any.load(Ordering::Relaxed) {
            return Ok(true);
        }
        {
            let mut checked = self.checked.lock().unwrap_or_else(|p| p.into_inner());
            if checked.is_some_and(|at| at.elapsed() < EXISTS_RECHECK) {
                return Ok(false);
            }
            *checked = Some(Instant::now());
        }
        let any = self.store.count_accounts().await? > 0;
        if any {
            self.any.store(true, Ordering::Relaxed);
            self.mark_accounts().await;
            return Ok(true);
        }
        let Some(shared) = &self.shared else {
            return Ok(false);
        };
        // Another instance holds the accounts: log in here too (and for good, as above).
        // Unknown (Redis down, never seen the mark) counts as no, as without Redis: Redis is
        // never a dependency of an account-less cluster, and an instance listening beyond
        // loopback needs a token or the operator's opt-out anyway (`startup`).
        match shared.accounts_exist().await {
            Ok(elsewhere) => {
                self.any.store(elsewhere, Ordering::Relaxed);
                Ok(elsewhere)
            }
            Err(_) => Ok(false),
        }
    }

    /// Tells the cluster that accounts exist. Best effort: every session opened says it
    /// again (`shared::SharedSessions::put`).
    async fn mark_accounts(&self) {
        if let Some(shared) = &self.shared
            && let Err(e) = shared.mark_accounts().await
        {
            tracing::warn!(error = %e, "cannot tell the other instances that accounts exist");
        }
    }

    /// Creates an account (CLI, admin API).
    pub async fn add(
        &self,
        username: &str,
        password: String,
        role: Role,
    ) -> Result<i64, AccountError> {
        check_username(username)?;
        let new = self.new_account(username, password, role).await?;
        let id = self
            .store
            .add_account(new)
            .await?
            .ok_or_else(|| AccountError::NameTaken(username.to_owned()))?;
        self.any.store(true, Ordering::Relaxed);
        self.mark_accounts().await;
        Ok(id)
    }

    async fn new_account(
        &self,
        username: &str,
        password: String,
        role: Role,
    ) -> Result<NewAccount, AccountError> {
        Ok(NewAccount {
            username: username.to_owned(),
            password_hash: hash_password(password).await?,
            role: role.as_str(),
            at: self.now(),
        })
    }

    /// The first-run page: the first admin, only while there is no account; logged in.
    pub async fn setup(
        &self,
        username: &str,
        password: String,
        user_agent: Option<String>,
    ) -> Result<Opened, AccountError> {
        check_username(username)?;
        let new = self.new_account(username, password, Role::Admin).await?;
        self.store
            .add_first_account(new)
            .await?
            .ok_or(AccountError::AlreadySetUp)?;
        self.any.store(true, Ordering::Relaxed);
        self.mark_accounts().await;
        let account = self
            .store
            .account_by_name(username)
            .await?
            .ok_or_else(|| AccountError::NotFound(username.to_owned()))?;
        self.open(account, user_agent).await
    }

    /// Checks a name and password, throttled; a new session when they match. An unknown name
    /// costs the same Argon2 work as a wrong password and gets the same error.
    pub async fn login(
        &self,
        username: &str,
        password: String,
        client: IpAddr,
        user_agent: Option<String>,
    ) -> Result<Opened, AccountError> {
        let now = self.clock.unix();
        self.throttle
            .admit(username, client, now)
            .map_err(AccountError::TooManyAttempts)?;
        let account = self.store.account_by_name(username).await?;
        let stored = account
            .as_ref()
            .map_or_else(|| password::dummy().to_owned(), |a| a.password_hash.clone());
        let checked = password.clone();
        let verified = tokio::task::spawn_blocking(move || password::verify(&checked, &stored))
            .await
            .map_err(AccountError::Task)?;
        let account = match (account, verified) {
            (Some(a), v) if v != password::Verified::No && !a.disabled => {
                if v == password::Verified::YesRehash {
                    self.rehash(a.id, password).await;
                }
                a
            }
            _ => {
                self.throttle.failed(username, client, now);
                return Err(AccountError::InvalidCredentials);
            }
        };
        self.throttle.succeeded(username);
        self.open(account, user_agent).await
    }

    /// Stores a hash made with today's parameters; a failure only means it is redone next time.
    async fn rehash(&self, account_id: i64, password: String) {
        match hash_password(password).await {
            Ok(hash) => {
                if let Err(e) = self.store.set_password(account_id, hash, false).await {
                    tracing::warn!(error = %e, "cannot store the rehashed password");
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot rehash a password"),
        }
    }

    async fn open(
        &self,
        account: AccountRow,
        user_agent: Option<String>,
    ) -> Result<Opened, AccountError> {
        let id = session::new_id();
        let hash = session::hash(&id);
        let user_agent = user_agent.map(|ua| ua.chars().take(200).collect());
        self.store
            .add_session(hash, account.id, self.now(), user_agent)
            .await?;
        if let Some(shared) = &self.shared {
            // Fail closed: a session the other instances cannot check is not handed out.
            let shared_put = match self.store.session(hash).await? {
                Some(row) => shared.put(&row, self.ttl(&row), self.lifetime()).await,
                None => Ok(()),
            };
            if let Err(e) = shared_put {
                self.store.remove_session(hash).await?;
                return Err(AccountError::SessionStore(e));
            }
        }
        Ok(Opened { id, account })
    }

    /// Seconds a session has left: until its idle timeout or the end of its lifetime.
    fn ttl(&self, row: &SessionRow) -> u64 {
        let now = self.now();
        let idle = self.settings.session_idle_timeout as i64 - (now - row.last_seen);
        let life = self.settings.session_lifetime as i64 - (now - row.created_at);
        idle.min(life).max(1) as u64
    }

    /// The live session with this id: expired ones are deleted, used ones renewed.
    pub async fn session(&self, id: &str) -> Result<Option<Arc<SessionRow>>, AccountError> {
        let hash = session::hash(id);
        let short = session::short(&hash);
        let (row, memo) = match self.sessions.get(&short).filter(|row| row.id_hash == hash) {
            Some(row) => (row, true),
            None => match self.load(&short, Some(hash)).await? {
                Some(row) => (row, false),
                None => return Ok(None),
            },
        };
        self.keep_alive(row, memo).await
    }

    /// The live session whose hash starts with `short`: what a media token bound to a session
    /// names (`security::media_url`). The same memo as the cookie's check.
    pub async fn session_by_short(
        &self,
        short: &[u8; 8],
    ) -> Result<Option<Arc<SessionRow>>, AccountError> {
        let (row, memo) = match self.sessions.get(short) {
            Some(row) => (row, true),
            None => match self.load(short, None).await? {
                Some(row) => (row, false),
                None => return Ok(None),
            },
        };
        self.keep_alive(row, memo).await
    }

    /// A memo miss: Redis when sessions are shared (an error fails closed), else SQLite.
    async fn load(
        &self,
        short: &[u8; 8],
        hash: Option<[u8; 32]>,
    ) -> Result<Option<Arc<SessionRow>>, AccountError> {
        let row = match (&self.shared, hash) {
            (Some(shared), _) => shared
                .get(short)
                .await
                .map_err(AccountError::SessionStore)?,
            (None, Some(hash)) => self.store.session(hash).await?,
            (None, None) => self.store.session_by_short(*short).await?,
        };
        let wanted = |row: &SessionRow| hash.is_none_or(|h| row.id_hash == h);
        Ok(row.filter(wanted).map(Arc::new))
    }

    /// Deletes an expired session, renews a used one (a write at most once a minute), and
    /// remembers what was read or written. A memo hit is not remembered again: that would
    /// restart its 5 s, and a session used without a pause would never be checked afresh.
    async fn keep_alive(
        &self,
        row: Arc<SessionRow>,
        memo: bool,
    ) -> Result<Option<Arc<SessionRow>>, AccountError> {
        let (hash, short) = (row.id_hash, session::short(&row.id_hash));
        let now = self.now();
        let idle = self.settings.session_idle_timeout as i64;
        let lifetime = self.settings.session_lifetime as i64;
        if now - row.created_at >= lifetime || now - row.last_seen >= idle {
            self.end(hash).await?;
            return Ok(None);
        }
        if now - row.last_seen < RENEW_EVERY {
            if !memo {
                self.sessions.insert(short, row.clone());
            }
            return Ok(Some(row));
        }
        let renewed = Arc::new(SessionRow {
            last_seen: now,
            ..(*row).clone()
        });
        self.store.touch_session(hash, now).await?;
        if let Some(shared) = &self.shared {
            let ttl = self.ttl(&renewed);
            let live = shared
                .update(&renewed, ttl)
                .await
                .map_err(AccountError::SessionStore)?;
            if !live {
                // Revoked on another instance since this one last looked.
                self.sessions.invalidate(&short);
                return Ok(None);
            }
        }
        self.sessions.insert(short, renewed.clone());
        Ok(Some(renewed))
    }

    /// Ends one session (logout). `false` when it was not open.
    pub async fn end(&self, hash: [u8; 32]) -> Result<bool, AccountError> {
        self.sessions.invalidate(&session::short(&hash));
        let local = self.store.remove_session(hash).await?;
        match &self.shared {
            Some(shared) => shared
                .remove(&hash)
                .await
                .map_err(AccountError::SessionStore),
            None => Ok(local),
        }
    }

    /// Ends every session of an account ("Se déconnecter partout"); returns how many.
    pub async fn end_all(&self, account_id: i64) -> Result<usize, AccountError> {
        let ended = self.store.remove_sessions_of(account_id).await?;
        for hash in &ended {
            self.sessions.invalidate(&session::short(hash));
        }
        match &self.shared {
            Some(shared) => shared
                .remove_all(account_id)
                .await
                .map_err(AccountError::SessionStore),
            None => Ok(ended.len()),
        }
    }

    pub async fn find(&self, username: &str) -> Result<AccountRow, AccountError> {
        self.store
            .account_by_name(username)
            .await?
            .ok_or_else(|| AccountError::NotFound(username.to_owned()))
    }

    /// Forgets the memo of an account's sessions and tokens (they were just ended in the
    /// database, or the account changed).
    fn forget(&self, account_id: i64) {
        let of_account = move |row: &Arc<SessionRow>| row.account_id == account_id;
        let sessions = self
            .sessions
            .invalidate_entries_if(move |_, row| of_account(row));
        let tokens = self
            .tokens
            .invalidate_entries_if(move |_, row| of_account(row));
        if let Err(e) = sessions.and(tokens) {
            // Cannot happen (the caches are built for it); the memo then expires by itself.
            tracing::warn!(error = %e, "cannot forget the sessions of an account");
        }
    }

    /// Ends an account's sessions on every instance (disabled, deleted, new password): the
    /// database has just ended or disowned them here.
    async fn revoke(&self, account_id: i64) -> Result<(), AccountError> {
        self.forget(account_id);
        if let Some(shared) = &self.shared {
            shared
                .remove_all(account_id)
                .await
                .map_err(AccountError::SessionStore)?;
        }
        Ok(())
    }

    /// Writes what changed in an account's sessions (role, profile) into the shared records,
    /// keeping their times; a no-op without Redis, where the memo's expiry is enough.
    pub(crate) async fn republish(&self, account_id: i64) -> Result<(), AccountError> {
        self.forget(account_id);
        let Some(shared) = &self.shared else {
            return Ok(());
        };
        let live = shared
            .list(account_id)
            .await
            .map_err(AccountError::SessionStore)?;
        for row in live {
            let Some(fresh) = self.store.session(row.id_hash).await? else {
                continue;
            };
            let row = SessionRow {
                role: fresh.role,
                username: fresh.username,
                profile_id: fresh.profile_id,
                ..row
            };
            shared
                .update(&row, self.ttl(&row))
                .await
                .map_err(AccountError::SessionStore)?;
        }
        Ok(())
    }

    /// An admin's change to an account: role, disabled (which ends its sessions), password
    /// (which ends them too). Never leaves the server without an enabled admin.
    pub async fn update(
        &self,
        username: &str,
        change: AccountChange,
    ) -> Result<AccountRow, AccountError> {
        let account = self.find(username).await?;
        let role = change
            .role
            .unwrap_or_else(|| Role::parse(&account.role).unwrap_or(Role::Member));
        let disabled = change.disabled.unwrap_or(account.disabled);
        let ends_sessions = disabled || change.password.is_some();
        self.store
            .update_account(account.id, role.as_str(), disabled)
            .await?
            .ok_or(AccountError::LastAdmin)?;
        if let Some(password) = change.password {
            let hash = hash_password(password).await?;
            self.store.set_password(account.id, hash, true).await?;
        }
        if ends_sessions {
            self.revoke(account.id).await?;
        } else {
            self.republish(account.id).await?;
        }
        self.find(username).await
    }

    /// Deletes an account and its sessions; never the last enabled admin.
    pub async fn remove(&self, username: &str) -> Result<(), AccountError> {
        let account = self.find(username).await?;
        self.store
            .remove_account_keeping_an_admin(account.id)
            .await?
            .ok_or(AccountError::LastAdmin)?;
        self.revoke(account.id).await
    }

    pub async fn list(&self) -> Result<Vec<AccountRow>, StoreError> {
        self.store.list_accounts().await
    }

    /// An account's open sessions, most recently used first.
    pub async fn sessions_of(&self, account_id: i64) -> Result<Vec<SessionRow>, AccountError> {
        let Some(shared) = &self.shared else {
            return Ok(self.store.sessions_of(account_id).await?);
        };
        let mut rows = shared
            .list(account_id)
            .await
            .map_err(AccountError::SessionStore)?;
        rows.sort_by_key(|r| std::cmp::Reverse(r.last_seen));
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_are_short_words() {
        assert!(check_username("alice").is_ok());
        assert!(check_username("Émile.d-2_").is_ok());
        assert!(check_username("").is_err());
        assert!(check_username("a b").is_err());
        assert!(check_username(&"a".repeat(65)).is_err());
    }
}
