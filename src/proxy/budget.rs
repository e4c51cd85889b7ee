//! The global memory budget of document rewriting (`proxy.rewrite_memory_budget`).
//!
//! A rewritten playlist is streamed, so a request holds its input and a bounded window of
//! output in flight, never its whole output; but the inputs of many concurrent requests
//! still add up (up to `proxy.max_playlist_bytes` each). Every playlist or JSON request
//! reserves what it will hold before holding it; past the budget it waits, like a request to
//! a busy host, and then fails with 503 `upstream_busy` rather than growing the process.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::streamed::OUTPUT_WINDOW;
use crate::upstream::body::Allowance;

/// Budget accounting unit: a permit is 1 KiB (a semaphore counts at most `u32` permits at
/// a time).
const UNIT: u64 = 1024;

#[derive(Debug, Clone)]
pub struct RewriteBudget {
    semaphore: Arc<Semaphore>,
    units: u32,
}

/// Budget held; given back when dropped.
#[derive(Debug)]
pub struct Reservation {
    permit: Option<OwnedSemaphorePermit>,
}

/// The budget stayed full for the whole wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the rewrite memory budget is in use")]
pub struct BudgetFull;

impl RewriteBudget {
    pub fn new(bytes: u64) -> RewriteBudget {
        let units = u32::try_from(bytes / UNIT)
            .unwrap_or(u32::MAX)
            .min(u32::try_from(Semaphore::MAX_PERMITS).unwrap_or(u32::MAX))
            .max(1);
        RewriteBudget {
            semaphore: Arc::new(Semaphore::new(units as usize)),
            units,
        }
    }

    /// Nothing reserved yet.
    pub fn none(&self) -> Reservation {
        Reservation { permit: None }
    }

    /// Grows `held` to cover `bytes`, waiting at most `wait` for the budget. One request
    /// never asks for more than the whole budget: a playlist the input cap admits can always
    /// be served, alone if need be.
    pub async fn grow(
        &self,
        held: &mut Reservation,
        bytes: u64,
        wait: Duration,
    ) -> Result<(), BudgetFull> {
        let want = u32::try_from(bytes.div_ceil(UNIT))
            .unwrap_or(u32::MAX)
            .min(self.units);
        let have = held.units();
        if want <= have {
            return Ok(());
        }
        let more = want - have;
        let permit = match self.semaphore.clone().try_acquire_many_owned(more) {
            Ok(p) => p,
            Err(_) => {
                tracing::debug!(bytes, "waiting for the rewrite memory budget");
                match tokio::time::timeout(wait, self.semaphore.clone().acquire_many_owned(more))
                    .await
                {
                    Ok(Ok(p)) => p,
                    _ => return Err(BudgetFull),
                }
            }
        };
        match &mut held.permit {
            Some(p) => p.merge(permit),
            None => held.permit = Some(permit),
        }
        Ok(())
    }

    /// Bytes of the budget reserved now.
    pub fn in_use(&self) -> u64 {
        u64::from(self.units - self.semaphore.available_permits() as u32) * UNIT
    }
}

impl Reservation {
    fn units(&self) -> u32 {
        self.permit.as_ref().map_or(0, |p| p.num_permits() as u32)
    }

    /// Moves up to `bytes` of this reservation into a new one.
    pub fn split(&mut self, bytes: u64) -> Reservation {
        let n = u32::try_from(bytes.div_ceil(UNIT))
            .unwrap_or(u32::MAX)
            .min(self.units());
        Reservation {
            permit: self.permit.as_mut().and_then(|p| p.split(n as usize)),
        }
    }
}

/// A document's share of the budget, grown as the document is read: what it holds (its
/// buffer's capacity) and [`OUTPUT_WINDOW`] for its output in flight.
#[derive(Debug)]
pub struct Reserve<'a> {
    budget: &'a RewriteBudget,
    pub held: Reservation,
    /// Every wait for the budget ends by then.
    deadline: Instant,
}

impl<'a> Reserve<'a> {
    pub fn new(budget: &'a RewriteBudget, wait: Duration) -> Self {
        Reserve {
            budget,
            held: budget.none(),
            deadline: Instant::now() + wait,
        }
    }

    /// Grows the share to `bytes` held plus the output window.
    pub async fn to(&mut self, bytes: u64) -> Result<(), BudgetFull> {
        let wait = self.deadline.saturating_duration_since(Instant::now());
        self.budget
            .grow(&mut self.held, bytes + OUTPUT_WINDOW as u64, wait)
            .await
            .inspect_err(|_| tracing::info!(bytes, "rewrite memory budget exhausted"))
    }
}

impl Allowance for Reserve<'_> {
    type Error = BudgetFull;

    async fn grow(&mut self, bytes: u64) -> Result<(), BudgetFull> {
        self.to(bytes).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WAIT: Duration = Duration::from_millis(20);

    #[tokio::test]
    async fn a_full_budget_makes_the_next_reservation_wait_then_fail() {
        let budget = RewriteBudget::new(10 * 1024);
        let mut a = budget.none();
        budget.grow(&mut a, 6 * 1024, WAIT).await.unwrap();
        let mut b = budget.none();
        assert_eq!(budget.grow(&mut b, 5 * 1024, WAIT).await, Err(BudgetFull));
        // A failed wait takes nothing.
        assert_eq!(budget.in_use(), 6 * 1024);
        budget.grow(&mut b, 4 * 1024, WAIT).await.unwrap();
        assert_eq!(budget.in_use(), 10 * 1024);

        // Released budget goes to a waiter.
        let waiter = async {
            let mut c = budget.none();
            budget
                .grow(&mut c, 3 * 1024, Duration::from_secs(30))
                .await
                .map(|()| c)
        };
        let release = async {
            tokio::task::yield_now().await;
            drop(a);
        };
        let (c, ()) = tokio::join!(waiter, release);
        let c = c.unwrap();
        drop((b, c));
        assert_eq!(budget.in_use(), 0);
    }

    #[tokio::test]
    async fn a_reservation_grows_and_splits_in_whole_kib() {
        let budget = RewriteBudget::new(1024 * 1024);
        let mut held = budget.none();
        budget.grow(&mut held, 1, WAIT).await.unwrap();
        assert_eq!(budget.in_use(), 1024);
        budget.grow(&mut held, 10_000, WAIT).await.unwrap();
        assert_eq!(budget.in_use(), 10 * 1024);
        // Growing to less than is held takes nothing more.
        budget.grow(&mut held, 5_000, WAIT).await.unwrap();
        assert_eq!(budget.in_use(), 10 * 1024);
        let part = held.split(4096);
        drop(held);
        assert_eq!(budget.in_use(), 4096);
        drop(part);
        assert_eq!(budget.in_use(), 0);
    }

    #[tokio::test]
    async fn one_request_may_take_the_whole_budget_but_no_more() {
        let budget = RewriteBudget::new(64 * 1024);
        let mut held = budget.none();
        budget.grow(&mut held, 1 << 30, WAIT).await.unwrap();
        assert_eq!(budget.in_use(), 64 * 1024);
        let mut other = budget.none();
        assert_eq!(budget.grow(&mut other, 1, WAIT).await, Err(BudgetFull));
    }
}
