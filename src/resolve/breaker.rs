//! A circuit breaker per provider, so a provider that keeps failing stops costing every
//! resolve its whole time budget.
//!
//! closed → (`threshold` consecutive failures) → open: skipped until the cool-down ends →
//! half-open: exactly one probe is let through, every other request is still skipped →
//! the probe succeeds: closed; it fails: open again with twice the cool-down (at most the
//! maximum). A failure is an `error` or `timeout` outcome; `empty` ("nothing for this
//! title") is an answer, so it counts as a success.
//!
//! Time comes from the injected [`Clock`], so tests move through cool-downs without waiting.
//! The state is per process: instances sharing a Redis cache each learn on their own.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use time::OffsetDateTime;
use tracing::{info, warn};

use crate::clock::Clock;
use crate::config::ResilienceSettings;
use crate::metrics::{CircuitLabels, Metrics};

/// The outcome code of a provider skipped by its breaker.
pub const CIRCUIT_OPEN: &str = "provider_circuit_open";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Closed,
    Open,
    HalfOpen,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Closed => "closed",
            State::Open => "open",
            State::HalfOpen => "half_open",
        }
    }

    const ALL: [State; 3] = [State::Closed, State::Open, State::HalfOpen];
}

#[derive(Debug)]
enum Phase {
    Closed,
    Open { until: OffsetDateTime },
    HalfOpen { probing: bool },
}

#[derive(Debug)]
struct Inner {
    phase: Phase,
    /// Consecutive failures while closed; kept while open for the messages.
    failures: u32,
    /// The cool-down of the current (or next) opening.
    cooldown: Duration,
    /// Bumped on every transition: a permit from an earlier phase (a request admitted while
    /// closed that ends after the breaker opened) no longer counts.
    generation: u64,
    last_error: Option<String>,
}

/// What `/readyz` shows of a breaker.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Snapshot {
    /// `closed`, `open` or `half_open`.
    pub state: &'static str,
    pub consecutive_failures: u32,
    /// When an open breaker lets its probe through (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub until: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub last_error: Option<String>,
}

#[derive(Debug)]
pub struct Breaker {
    provider: &'static str,
    /// 0: the breaker never opens.
    threshold: u32,
    cooldown_min: Duration,
    cooldown_max: Duration,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
    inner: Mutex<Inner>,
}

/// Why a request was not let through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub provider: &'static str,
    pub failures: u32,
    /// The end of the cool-down; `None` while the half-open probe is in flight.
    pub until: Option<OffsetDateTime>,
    pub last_error: Option<String>,
}

impl Skipped {
    pub fn message(&self) -> String {
        let cause = self
            .last_error
            .as_deref()
            .map(|e| format!(" (last: {e})"))
            .unwrap_or_default();
        match self.until {
            Some(until) => format!(
                "{} failed {} times in a row{cause}; skipped until {}",
                self.provider,
                self.failures,
                rfc3339(until)
            ),
            None => format!(
                "{} failed {} times in a row{cause}; skipped until the probe in flight answers",
                self.provider, self.failures
            ),
        }
    }
}

#[derive(Debug)]
pub enum Admission<'a> {
    Go(Permit<'a>),
    Skip(Skipped),
}

/// A request let through. Record its result; dropped unrecorded (the resolve was
/// cancelled), a probe frees its slot so the next request probes instead.
#[derive(Debug)]
pub struct Permit<'a> {
    breaker: &'a Breaker,
    generation: u64,
    recorded: bool,
}

impl Permit<'_> {
    pub fn record(mut self, success: bool) {
        self.recorded = true;
        self.breaker.record(self.generation, success);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.recorded {
            self.breaker.abandon(self.generation);
        }
    }
}

impl Breaker {
    pub fn new(
        provider: &'static str,
        settings: &ResilienceSettings,
        clock: Arc<dyn Clock>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let breaker = Breaker {
            provider,
            threshold: settings.breaker_threshold,
            cooldown_min: settings.breaker_cooldown_min(),
            cooldown_max: settings.breaker_cooldown_max(),
            clock,
            metrics,
            inner: Mutex::new(Inner {
                phase: Phase::Closed,
                failures: 0,
                cooldown: settings.breaker_cooldown_min(),
                generation: 0,
                last_error: None,
            }),
        };
        breaker.publish(State::Closed);
        breaker
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn admit(&self) -> Admission<'_> {
        let mut inner = self.lock();
        let now = self.clock.now();
        match inner.phase {
            Phase::Closed => {}
            Phase::Open { until } if now < until => {
                return Admission::Skip(self.skipped(&inner, Some(until)));
            }
            Phase::Open { .. } | Phase::HalfOpen { probing: false } => {
                inner.phase = Phase::HalfOpen { probing: true };
                inner.generation += 1;
                info!(
                    provider = self.provider,
                    "provider circuit half-open: probing"
                );
                self.publish(State::HalfOpen);
            }
            Phase::HalfOpen { probing: true } => {
                return Admission::Skip(self.skipped(&inner, None));
            }
        }
        Admission::Go(Permit {
            breaker: self,
            generation: inner.generation,
            recorded: false,
        })
    }

    /// The result of a permitted request.
    fn record(&self, generation: u64, success: bool) {
        if self.threshold == 0 {
            return;
        }
        let mut inner = self.lock();
        if generation != inner.generation {
            return;
        }
        match (&inner.phase, success) {
            (Phase::Closed, true) => {
                inner.failures = 0;
                inner.last_error = None;
            }
            (Phase::Closed, false) => {
                inner.failures += 1;
                if inner.failures >= self.threshold {
                    let cooldown = self.cooldown_min;
                    self.open(&mut inner, cooldown);
                }
            }
            (Phase::HalfOpen { .. }, true) => {
                inner.phase = Phase::Closed;
                inner.failures = 0;
                inner.cooldown = self.cooldown_min;
                inner.generation += 1;
                inner.last_error = None;
                info!(
                    provider = self.provider,
                    "provider circuit closed: the probe succeeded"
                );
                self.publish(State::Closed);
            }
            (Phase::HalfOpen { .. }, false) => {
                inner.failures += 1;
                let cooldown = inner.cooldown.saturating_mul(2).min(self.cooldown_max);
                self.open(&mut inner, cooldown);
            }
            (Phase::Open { .. }, _) => {}
        }
    }

    /// Keeps the message of the latest failure for the skipped outcomes.
    pub fn note_error(&self, message: &str) {
        let mut inner = self.lock();
        inner.last_error = Some(message.chars().take(200).collect());
    }

    fn abandon(&self, generation: u64) {
        let mut inner = self.lock();
        if generation == inner.generation && matches!(inner.phase, Phase::HalfOpen { .. }) {
            inner.phase = Phase::HalfOpen { probing: false };
        }
    }

    fn open(&self, inner: &mut Inner, cooldown: Duration) {
        let until = self.clock.now() + cooldown;
        inner.phase = Phase::Open { until };
        inner.cooldown = cooldown;
        inner.generation += 1;
        warn!(
            provider = self.provider,
            failures = inner.failures,
            cooldown_s = cooldown.as_secs_f64(),
            until = %rfc3339(until),
            last_error = inner.last_error.as_deref().unwrap_or(""),
            "provider circuit open: skipping the provider until its cool-down ends"
        );
        self.publish(State::Open);
    }

    fn skipped(&self, inner: &Inner, until: Option<OffsetDateTime>) -> Skipped {
        Skipped {
            provider: self.provider,
            failures: inner.failures,
            until,
            last_error: inner.last_error.clone(),
        }
    }

    fn publish(&self, state: State) {
        for s in State::ALL {
            self.metrics
                .provider_circuit
                .get_or_create(&CircuitLabels {
                    provider: self.provider.into(),
                    state: s.as_str().into(),
                })
                .set((s == state) as i64);
        }
    }

    pub fn state(&self) -> State {
        match self.lock().phase {
            Phase::Closed => State::Closed,
            Phase::Open { .. } => State::Open,
            Phase::HalfOpen { .. } => State::HalfOpen,
        }
    }

    pub fn snapshot(&self) -> Snapshot {
        let inner = self.lock();
        let (state, until) = match inner.phase {
            Phase::Closed => (State::Closed, None),
            Phase::Open { until } => (State::Open, Some(until)),
            Phase::HalfOpen { .. } => (State::HalfOpen, None),
        };
        Snapshot {
            state: state.as_str(),
            consecutive_failures: inner.failures,
            until: until.map(rfc3339),
            last_error: inner.last_error.clone(),
        }
    }
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.replace_nanosecond(0)
        .unwrap_or(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::OffsetClock;

    fn breaker(threshold: u32) -> (Breaker, Arc<OffsetClock>, Arc<Metrics>) {
        let clock = Arc::new(OffsetClock::default());
        let metrics = Arc::new(Metrics::new());
        let settings = ResilienceSettings {
            breaker_threshold: threshold,
            breaker_cooldown_min: 30.0,
            breaker_cooldown_max: 100.0,
            ..ResilienceSettings::default()
        };
        (
            Breaker::new("consumet", &settings, clock.clone(), metrics.clone()),
            clock,
            metrics,
        )
    }

    fn go(b: &Breaker) -> Permit<'_> {
        match b.admit() {
            Admission::Go(p) => p,
            Admission::Skip(s) => panic!("skipped: {}", s.message()),
        }
    }

    fn skipped(b: &Breaker) -> Skipped {
        match b.admit() {
            Admission::Go(_) => panic!("let through while {:?}", b.state()),
            Admission::Skip(s) => s,
        }
    }

    fn fail(b: &Breaker, times: u32) {
        for _ in 0..times {
            b.note_error("boom");
            go(b).record(false);
        }
    }

    #[test]
    fn opens_after_the_threshold_of_consecutive_failures_only() {
        let (b, _, _) = breaker(3);
        fail(&b, 2);
        go(&b).record(true);
        fail(&b, 2);
        assert_eq!(b.state(), State::Closed, "a success reset the count");
        fail(&b, 1);
        assert_eq!(b.state(), State::Open);
        let s = skipped(&b);
        assert_eq!(s.failures, 3);
        let m = s.message();
        assert!(
            m.contains("consumet failed 3 times in a row (last: boom); skipped until "),
            "{m}"
        );
    }

    #[test]
    fn half_open_lets_exactly_one_probe_through_and_a_success_closes() {
        let (b, clock, metrics) = breaker(1);
        fail(&b, 1);
        clock.advance(29);
        skipped(&b);
        clock.advance(2);
        let probe = go(&b);
        assert_eq!(b.state(), State::HalfOpen);
        let other = skipped(&b);
        assert_eq!(other.until, None, "waits for the probe");
        assert!(other.message().contains("probe in flight"));
        probe.record(true);
        assert_eq!(b.state(), State::Closed);
        go(&b).record(true);
        let text = metrics.render();
        assert!(
            text.contains(
                "sokoul_provider_circuit_state{provider=\"consumet\",state=\"closed\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains("sokoul_provider_circuit_state{provider=\"consumet\",state=\"open\"} 0")
        );
    }

    #[test]
    fn a_failed_probe_reopens_with_a_doubled_capped_cool_down() {
        let (b, clock, metrics) = breaker(1);
        fail(&b, 1);
        assert!(
            metrics
                .render()
                .contains("sokoul_provider_circuit_state{provider=\"consumet\",state=\"open\"} 1")
        );
        let mut expected = [60, 100, 100].into_iter();
        clock.advance(31);
        for _ in 0..3 {
            go(&b).record(false);
            assert_eq!(b.state(), State::Open);
            let cooldown = expected.next().unwrap();
            clock.advance(cooldown - 1);
            skipped(&b);
            clock.advance(2);
        }
        // Closing resets the cool-down to the minimum.
        go(&b).record(true);
        fail(&b, 1);
        clock.advance(31);
        assert!(matches!(b.admit(), Admission::Go(_)));
    }

    #[test]
    fn an_abandoned_probe_frees_the_slot() {
        let (b, clock, _) = breaker(1);
        fail(&b, 1);
        clock.advance(31);
        drop(go(&b));
        assert_eq!(b.state(), State::HalfOpen);
        go(&b).record(true);
        assert_eq!(b.state(), State::Closed);
    }

    #[test]
    fn results_from_before_a_transition_do_not_count() {
        let (b, clock, _) = breaker(2);
        let slow = go(&b);
        fail(&b, 2);
        assert_eq!(b.state(), State::Open);
        // Admitted while closed, it ends while open: neither reopens nor closes.
        slow.record(true);
        assert_eq!(b.state(), State::Open);
        clock.advance(31);
        let probe = go(&b);
        probe.record(false);
        assert_eq!(b.state(), State::Open);
    }

    #[test]
    fn a_zero_threshold_never_opens() {
        let (b, _, _) = breaker(0);
        fail(&b, 50);
        assert_eq!(b.state(), State::Closed);
    }
}
