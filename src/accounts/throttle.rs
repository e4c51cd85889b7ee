//! Failed logins, counted per account name and per client, each with an exponential delay:
//! past a few free failures, the next attempt must wait 1 s, then 2 s, 4 s … up to 15 min;
//! an attempt made while waiting is refused (429 `too_many_attempts`, `Retry-After`) without
//! checking the password. Names that do not exist are counted like names that do, so the
//! answer says nothing about which exist.
//!
//! Times come from the injected clock (tests move it); entries nobody touched for a day are
//! forgotten (bounded memory).

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Wrong passwords for one account before the delays start.
const ACCOUNT_FREE: u32 = 5;
/// Wrong passwords from one client (IPv6: one /64) before its delays start: a household
/// behind one address shares it, so more than for one account.
const CLIENT_FREE: u32 = 20;
/// The longest delay, seconds: at most 96 guesses a day per account after the first ones.
const MAX_DELAY: u64 = 15 * 60;
/// Keys tracked at once; the least recently used beyond it start afresh.
const MAX_KEYS: u64 = 65_536;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Account(String),
    Client(IpAddr),
}

#[derive(Debug, Default)]
struct Entry {
    failures: u32,
    /// Unix seconds before which attempts are refused.
    until: u64,
}

pub struct LoginThrottle {
    entries: moka::sync::Cache<Key, Arc<Mutex<Entry>>>,
}

impl std::fmt::Debug for LoginThrottle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginThrottle").finish_non_exhaustive()
    }
}

impl Default for LoginThrottle {
    fn default() -> Self {
        LoginThrottle {
            entries: moka::sync::Cache::builder()
                .max_capacity(MAX_KEYS)
                .time_to_idle(Duration::from_secs(24 * 3600))
                .build(),
        }
    }
}

fn keys(username: &str, client: IpAddr) -> [(Key, u32); 2] {
    [
        (Key::Account(username.to_lowercase()), ACCOUNT_FREE),
        (
            Key::Client(crate::security::rate_limit::bucket_key(client)),
            CLIENT_FREE,
        ),
    ]
}

impl LoginThrottle {
    /// `Err(seconds to wait)` while the account or the client must wait.
    pub fn admit(&self, username: &str, client: IpAddr, now: u64) -> Result<(), u64> {
        let wait = keys(username, client)
            .iter()
            .filter_map(|(key, _)| self.entries.get(key))
            .map(|e| {
                e.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .until
                    .saturating_sub(now)
            })
            .max()
            .unwrap_or(0);
        if wait == 0 { Ok(()) } else { Err(wait) }
    }

    pub fn failed(&self, username: &str, client: IpAddr, now: u64) {
        for (key, free) in keys(username, client) {
            let entry = self.entries.get_with(key, Arc::default);
            let mut e = entry.lock().unwrap_or_else(|p| p.into_inner());
            e.failures += 1;
            if e.failures >= free {
                let doublings = (e.failures - free).min(16);
                e.until = now + (1u64 << doublings).min(MAX_DELAY);
            }
        }
    }

    /// The account's count starts again; the client's does not (a guesser who owns an
    /// account must not wipe its own record by logging in).
    pub fn succeeded(&self, username: &str) {
        self.entries
            .invalidate(&Key::Account(username.to_lowercase()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_after_the_free_failures_and_end() {
        let t = LoginThrottle::default();
        let ip: IpAddr = "203.0.113.7".parse().unwrap();
        for _ in 0..4 {
            t.failed("Alice", ip, 100);
            assert_eq!(t.admit("alice", ip, 100), Ok(()));
        }
        t.failed("alice", ip, 100);
        assert_eq!(t.admit("ALICE", ip, 100), Err(1));
        assert_eq!(t.admit("alice", ip, 101), Ok(()));
        t.failed("alice", ip, 101);
        assert_eq!(t.admit("alice", ip, 101), Err(2));
        // Another name from the same client is not held up yet.
        assert_eq!(t.admit("bob", ip, 101), Ok(()));
        t.succeeded("alice");
        assert_eq!(t.admit("alice", ip, 101), Ok(()));
    }

    #[test]
    fn one_client_guessing_many_names_is_held_up() {
        let t = LoginThrottle::default();
        let ip: IpAddr = "2001:db8::1".parse().unwrap();
        for i in 0..CLIENT_FREE {
            t.failed(&format!("user{i}"), ip, 0);
        }
        // Same /64, a name never tried.
        assert_eq!(t.admit("new", "2001:db8::2".parse().unwrap(), 0), Err(1));
    }
}
