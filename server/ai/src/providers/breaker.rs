//! A circuit breaker: after a run of consecutive failures, model calls stop for a cool-down
//! (the assistant answers from the built-in engine at once instead of making every patient
//! wait for a timeout), then one trial call decides whether to resume.
//!
//! Time is `tokio::time::Instant`, so tests drive it with a paused clock. The state sits
//! behind a `std` mutex that is never held across an `.await`.
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

use super::ProviderError;

/// When the breaker opens and how long it stays open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerPolicy {
    /// Consecutive failures that open the circuit.
    pub failure_threshold: u32,
    /// How long it stays open before one trial call is let through.
    pub cool_down: Duration,
}

impl Default for BreakerPolicy {
    fn default() -> Self {
        BreakerPolicy {
            failure_threshold: 5,
            cool_down: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// One trial call is in flight. If it never reports back (its caller gave up), another
    /// trial is allowed after a further cool-down, so the breaker cannot stick here.
    HalfOpen {
        trial_started: Instant,
    },
}

/// The breaker's state as seen from outside, for health reporting and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

/// One provider's circuit breaker. Shared by all calls to that provider.
#[derive(Debug)]
pub struct CircuitBreaker {
    policy: BreakerPolicy,
    state: Mutex<State>,
}

impl CircuitBreaker {
    pub fn new(policy: BreakerPolicy) -> Self {
        CircuitBreaker {
            policy,
            state: Mutex::new(State::Closed { failures: 0 }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere while holding the lock leaves a valid state behind: keep using it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Asks to make a call: `Err(CircuitOpen)` while the circuit is open.
    pub fn admit(&self) -> Result<(), ProviderError> {
        let mut state = self.lock();
        let now = Instant::now();
        match *state {
            State::Closed { .. } => Ok(()),
            State::Open { until } if now >= until => {
                *state = State::HalfOpen { trial_started: now };
                Ok(())
            }
            State::HalfOpen { trial_started } if now >= trial_started + self.policy.cool_down => {
                *state = State::HalfOpen { trial_started: now };
                Ok(())
            }
            State::Open { .. } | State::HalfOpen { .. } => Err(ProviderError::CircuitOpen),
        }
    }

    /// A call succeeded: the circuit closes and the failure count starts again.
    pub fn record_success(&self) {
        *self.lock() = State::Closed { failures: 0 };
    }

    /// A call failed: counts towards opening, or reopens after a failed trial.
    pub fn record_failure(&self) {
        let mut state = self.lock();
        let now = Instant::now();
        *state = match *state {
            State::Closed { failures } if failures + 1 < self.policy.failure_threshold => {
                State::Closed {
                    failures: failures + 1,
                }
            }
            State::Closed { .. } | State::HalfOpen { .. } => State::Open {
                until: now + self.policy.cool_down,
            },
            // A call admitted before the circuit opened may report late; it changes nothing.
            open @ State::Open { .. } => open,
        };
    }

    pub fn state(&self) -> BreakerState {
        match *self.lock() {
            State::Closed { .. } => BreakerState::Closed,
            State::Open { .. } => BreakerState::Open,
            State::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> CircuitBreaker {
        CircuitBreaker::new(BreakerPolicy {
            failure_threshold: 3,
            cool_down: Duration::from_secs(30),
        })
    }

    #[tokio::test(start_paused = true)]
    async fn the_circuit_opens_after_the_threshold_of_consecutive_failures() {
        let b = breaker();
        for _ in 0..2 {
            b.admit().unwrap();
            b.record_failure();
        }
        assert_eq!(b.state(), BreakerState::Closed);
        b.admit().unwrap();
        b.record_failure();
        assert_eq!(b.state(), BreakerState::Open);
        assert_eq!(b.admit(), Err(ProviderError::CircuitOpen));
    }

    #[tokio::test(start_paused = true)]
    async fn a_success_resets_the_count_of_failures() {
        let b = breaker();
        b.record_failure();
        b.record_failure();
        b.record_success();
        b.record_failure();
        b.record_failure();
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn after_the_cool_down_one_trial_is_let_through_and_its_success_closes_the_circuit() {
        let b = breaker();
        for _ in 0..3 {
            b.record_failure();
        }
        tokio::time::advance(Duration::from_secs(29)).await;
        assert_eq!(b.admit(), Err(ProviderError::CircuitOpen));
        tokio::time::advance(Duration::from_secs(1)).await;
        b.admit().unwrap();
        assert_eq!(b.state(), BreakerState::HalfOpen);
        // Only the one trial while it is in flight.
        assert_eq!(b.admit(), Err(ProviderError::CircuitOpen));
        b.record_success();
        assert_eq!(b.state(), BreakerState::Closed);
        b.admit().unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_trial_reopens_the_circuit_for_a_full_cool_down() {
        let b = breaker();
        for _ in 0..3 {
            b.record_failure();
        }
        tokio::time::advance(Duration::from_secs(30)).await;
        b.admit().unwrap();
        b.record_failure();
        assert_eq!(b.state(), BreakerState::Open);
        tokio::time::advance(Duration::from_secs(29)).await;
        assert_eq!(b.admit(), Err(ProviderError::CircuitOpen));
        tokio::time::advance(Duration::from_secs(1)).await;
        b.admit().unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_trial_that_never_reports_back_does_not_keep_the_circuit_shut() {
        let b = breaker();
        for _ in 0..3 {
            b.record_failure();
        }
        tokio::time::advance(Duration::from_secs(30)).await;
        b.admit().unwrap();
        tokio::time::advance(Duration::from_secs(30)).await;
        b.admit().unwrap();
    }
}
