//! `sokoul user add|list|passwd|remove`: accounts for headless setups, straight on the
//! database in the data dir (a running server sees a new first account within a second, and
//! a removed account's sessions within seconds, on every instance when they share Redis).

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use super::{AccountError, Accounts, Role};
use crate::clock::SystemClock;
use crate::config::Settings;
use crate::store::Store;

/// What `sokoul user` was asked to do.
#[derive(Debug, Clone)]
pub enum UserCommand {
    Add { username: String, admin: bool },
    List,
    Passwd { username: String },
    Remove { username: String },
}

pub async fn run(settings: &Settings, command: UserCommand) -> anyhow::Result<()> {
    let store = Store::open(&settings.data_dir.join("sokoul.db"))
        .with_context(|| format!("opening the database in {}", settings.data_dir.display()))?;
    let accounts = Accounts::new(
        store.clone(),
        Arc::new(SystemClock),
        settings.accounts.clone(),
    );
    match command {
        UserCommand::Add { username, admin } => {
            let role = if admin { Role::Admin } else { Role::Member };
            let password = read_password(&format!("password for {username}"))?;
            accounts.add(&username, password, role).await?;
            eprintln!("account '{username}' created ({})", role.as_str());
        }
        UserCommand::List => {
            for a in store.list_accounts().await? {
                let state = if a.disabled { " (disabled)" } else { "" };
                println!("{:<24} {}{state}", a.username, a.role);
            }
        }
        UserCommand::Passwd { username } => {
            let account = find(&store, &username).await?;
            let password = read_password(&format!("new password for {username}"))?;
            let hash = super::hash_password(password).await?;
            store.set_password(account, hash, true).await?;
            end_shared_sessions(settings, account).await?;
            eprintln!("password of '{username}' changed; its sessions are ended");
        }
        UserCommand::Remove { username } => {
            let account = find(&store, &username).await?;
            store.remove_account(account).await?;
            end_shared_sessions(settings, account).await?;
            eprintln!("account '{username}' removed, with its sessions");
        }
    }
    Ok(())
}

/// With `SOKOUL_REDIS_URL` the live sessions are in Redis (`super::shared`): they end there
/// too, or every instance would keep accepting them until their idle timeout.
async fn end_shared_sessions(settings: &Settings, account: i64) -> anyhow::Result<()> {
    let Some(url) = &settings.cache.redis_url else {
        return Ok(());
    };
    let secret = crate::secret::load_or_create(
        settings.secret.as_ref().map(|s| s.expose()),
        &settings.data_dir,
    )
    .context("reading the secret")?;
    let redis = crate::cache::redis::RedisCache::start(
        url.expose(),
        crate::cache::redis::namespace(settings),
        Duration::from_secs_f64(settings.cache.redis_budget),
        Duration::from_secs_f64(settings.cache.redis_backoff_max),
        Arc::new(crate::metrics::Metrics::new()),
    )
    .await
    .context("SOKOUL_REDIS_URL is not a valid Redis URL")?;
    super::shared::SharedSessions::new(redis, &secret)
        .remove_all(account)
        .await
        .context("ending the account's sessions in Redis failed: run the command again")?;
    Ok(())
}

async fn find(store: &Store, username: &str) -> Result<i64, AccountError> {
    store
        .account_by_name(username)
        .await?
        .map(|a| a.id)
        .ok_or_else(|| AccountError::NotFound(username.to_owned()))
}

/// From a terminal: asked twice, not echoed. Otherwise one line of stdin (scripts:
/// `printf '%s\n' "$PASSWORD" | sokoul user add alice`), never an argument (`ps` shows those).
fn read_password(what: &str) -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let mut line = String::new();
        stdin.lock().read_line(&mut line)?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_owned());
    }
    let first = prompt(&format!("{what}: "))?;
    let second = prompt("again: ")?;
    anyhow::ensure!(first == second, "the two passwords differ");
    Ok(first)
}

fn prompt(text: &str) -> anyhow::Result<String> {
    use rustix::termios::{LocalModes, OptionalActions, tcgetattr, tcsetattr};
    let stdin = std::io::stdin();
    eprint!("{text}");
    std::io::stderr().flush()?;
    let saved = tcgetattr(&stdin).context("reading the terminal's mode")?;
    let mut silent = saved.clone();
    silent.local_modes -= LocalModes::ECHO;
    tcsetattr(&stdin, OptionalActions::Now, &silent).context("turning echo off")?;
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    let _ = tcsetattr(&stdin, OptionalActions::Now, &saved);
    eprintln!();
    read?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}
