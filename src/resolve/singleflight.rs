//! Concurrent identical resolves in one process share a single upstream call.
//!
//! The work runs in its own task, so a client that disconnects neither cancels it for the
//! others nor loses the result for the cache.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};

type Flight<V> = Shared<BoxFuture<'static, Result<V, Arc<tokio::task::JoinError>>>>;

#[derive(Debug)]
pub struct SingleFlight<K, V> {
    inflight: Arc<Mutex<HashMap<K, Flight<V>>>>,
}

impl<K, V> Default for SingleFlight<K, V> {
    fn default() -> Self {
        SingleFlight {
            inflight: Arc::default(),
        }
    }
}

/// Removes the key when the task ends, even by panic.
struct Leave<K: Eq + Hash, V> {
    key: Option<K>,
    inflight: Arc<Mutex<HashMap<K, Flight<V>>>>,
}

impl<K: Eq + Hash, V> Drop for Leave<K, V> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.inflight
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&key);
        }
    }
}

impl<K, V> SingleFlight<K, V>
where
    K: Eq + Hash + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Runs `work` unless an identical call is in flight, in which case its result is shared.
    /// Returns `Err` only when the work panicked.
    pub async fn run<F, Fut>(&self, key: K, work: F) -> Result<V, Arc<tokio::task::JoinError>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = V> + Send + 'static,
    {
        let flight = {
            let mut map = self.inflight.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(flight) = map.get(&key) {
                flight.clone()
            } else {
                let leave = Leave {
                    key: Some(key.clone()),
                    inflight: self.inflight.clone(),
                };
                let fut = work();
                let task = tokio::spawn(async move {
                    let _leave = leave;
                    fut.await
                });
                let flight = task.map(|r| r.map_err(Arc::new)).boxed().shared();
                map.insert(key, flight.clone());
                flight
            }
        };
        flight.await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test]
    async fn concurrent_calls_share_one_execution() {
        let sf = Arc::new(SingleFlight::<u32, u32>::default());
        let calls = Arc::new(AtomicUsize::new(0));
        let mut handles = vec![];
        for _ in 0..50 {
            let sf = sf.clone();
            let calls = calls.clone();
            handles.push(tokio::spawn(async move {
                sf.run(7, move || async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    42
                })
                .await
                .unwrap()
            }));
        }
        for h in handles {
            assert_eq!(h.await.unwrap(), 42);
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // Once finished, the next call runs again.
        let v = sf.run(7, || async { 43 }).await.unwrap();
        assert_eq!(v, 43);
    }

    #[tokio::test]
    async fn a_panic_is_reported_and_forgotten() {
        let sf = SingleFlight::<u32, u32>::default();
        let r = sf.run(1, || async { panic!("boom") }).await;
        assert!(r.is_err());
        assert_eq!(sf.run(1, || async { 5 }).await.unwrap(), 5);
    }
}
