//! When Redis fails, stop asking it for a while.
//!
//! Without this, a dead or hanging Redis would cost every request its whole time budget. After
//! one failure the instance leaves Redis alone (requests use the in-process tier only) and a
//! single background probe tries again after a back-off that doubles on each failed attempt,
//! so an outage costs one budget per back-off period, not one per request.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The first back-off after Redis fails (or `max` when that is shorter).
pub const FIRST_BACKOFF: Duration = Duration::from_secs(1);

pub struct Breaker {
    /// Read on every operation: an atomic, so the healthy path takes no lock.
    up: AtomicBool,
    state: Mutex<State>,
    first: Duration,
    max: Duration,
}

// Holds clients, caches or trait objects whose state says nothing useful in a log.
impl std::fmt::Debug for Breaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Breaker").finish_non_exhaustive()
    }
}

struct State {
    down_since: Option<Instant>,
    backoff: Duration,
    retry_at: Instant,
    reason: String,
}

/// What `/readyz` says about the shared tier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Up,
    Down {
        down_for: Duration,
        retry_in: Duration,
        reason: String,
    },
}

impl Breaker {
    /// A breaker that starts up; `max` caps the back-off.
    pub fn new(max: Duration) -> Self {
        let first = FIRST_BACKOFF.min(max);
        Breaker {
            up: AtomicBool::new(true),
            state: Mutex::new(State {
                down_since: None,
                backoff: first,
                retry_at: Instant::now(),
                reason: String::new(),
            }),
            first,
            max,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }

    /// The shortest back-off: how often a sleeping prober should look at the state.
    pub fn first_backoff(&self) -> Duration {
        self.first
    }

    /// A request's operation failed. Returns `true` when this took Redis out of use; `false`
    /// when it already was (operations that started before the first failure also fail, and
    /// must not push the next probe further away).
    pub fn failed(&self, now: Instant, reason: &str) -> bool {
        let mut st = self.state();
        if st.down_since.is_some() {
            return false;
        }
        st.down_since = Some(now);
        st.backoff = self.first;
        st.retry_at = now + self.first;
        st.reason = reason.to_string();
        self.up.store(false, Ordering::Release);
        true
    }

    /// A probe failed: wait twice as long (up to `max`) before the next one.
    pub fn probe_failed(&self, now: Instant, reason: &str) {
        let mut st = self.state();
        if st.down_since.is_none() {
            // Went down through the probe itself (never happens while up, but stay consistent).
            st.down_since = Some(now);
            st.backoff = self.first;
            self.up.store(false, Ordering::Release);
        } else {
            st.backoff = (st.backoff * 2).min(self.max);
        }
        st.retry_at = now + st.backoff;
        st.reason = reason.to_string();
    }

    /// Redis answered a probe. Returns how long it had been out of use, if it was.
    pub fn recovered(&self, now: Instant) -> Option<Duration> {
        let mut st = self.state();
        let since = st.down_since.take()?;
        st.backoff = self.first;
        st.reason.clear();
        self.up.store(true, Ordering::Release);
        Some(now.saturating_duration_since(since))
    }

    /// How long until the next probe is due; `None` while Redis is in use.
    pub fn next_probe(&self, now: Instant) -> Option<Duration> {
        let st = self.state();
        st.down_since?;
        Some(st.retry_at.saturating_duration_since(now))
    }

    pub fn status(&self, now: Instant) -> Status {
        let st = self.state();
        match st.down_since {
            None => Status::Up,
            Some(since) => Status::Down {
                down_for: now.saturating_duration_since(since),
                retry_in: st.retry_at.saturating_duration_since(now),
                reason: st.reason.clone(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn one_failure_takes_redis_out_of_use_until_a_probe_succeeds() {
        let b = Breaker::new(30 * S);
        let t0 = Instant::now();
        assert!(b.is_up());
        assert_eq!(b.next_probe(t0), None);
        assert!(b.failed(t0, "connection refused"));
        assert!(!b.is_up());
        assert_eq!(b.next_probe(t0), Some(S), "first retry after 1 s");
        assert_eq!(b.next_probe(t0 + 2 * S), Some(Duration::ZERO), "overdue");
        assert_eq!(b.recovered(t0 + 3 * S), Some(3 * S));
        assert!(b.is_up());
        assert_eq!(b.status(t0 + 3 * S), Status::Up);
        assert_eq!(b.recovered(t0 + 4 * S), None, "already up");
    }

    #[test]
    fn failures_of_operations_already_in_flight_do_not_push_the_probe_back() {
        let b = Breaker::new(30 * S);
        let t0 = Instant::now();
        assert!(b.failed(t0, "timeout"));
        assert!(!b.failed(t0 + S / 2, "timeout"), "already down");
        assert_eq!(b.next_probe(t0 + S / 2), Some(S / 2));
    }

    #[test]
    fn failed_probes_double_the_backoff_up_to_the_cap_and_recovery_resets_it() {
        let b = Breaker::new(30 * S);
        let mut now = Instant::now();
        b.failed(now, "refused");
        let mut waits = vec![b.next_probe(now).unwrap()];
        for _ in 0..7 {
            now += waits.last().copied().unwrap();
            b.probe_failed(now, "refused");
            waits.push(b.next_probe(now).unwrap());
        }
        let secs: Vec<u64> = waits.iter().map(Duration::as_secs).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 30, 30, 30]);
        match b.status(now) {
            Status::Down {
                down_for, reason, ..
            } => {
                assert_eq!(down_for.as_secs(), 91);
                assert_eq!(reason, "refused");
            }
            Status::Up => panic!("still down"),
        }
        b.recovered(now);
        b.failed(now, "again");
        assert_eq!(b.next_probe(now), Some(S), "a new outage starts at 1 s");
    }

    #[test]
    fn a_cap_below_one_second_is_also_the_first_backoff() {
        let b = Breaker::new(S / 4);
        let t0 = Instant::now();
        b.failed(t0, "x");
        assert_eq!(b.next_probe(t0), Some(S / 4));
        b.probe_failed(t0, "x");
        assert_eq!(b.next_probe(t0), Some(S / 4));
        assert_eq!(b.first_backoff(), S / 4);
    }
}
