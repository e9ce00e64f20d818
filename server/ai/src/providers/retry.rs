//! Bounded retries with jittered exponential back-off, honouring a provider's `Retry-After`.
//!
//! Every attempt and every pause fits inside one deadline: a patient never waits longer than
//! the configured timeout, however many retries are allowed. Streams are retried only until
//! the provider starts answering (see [`run`]'s callers); text already shown is never resent.
use std::future::Future;
use std::time::Duration;

use rand::Rng;
use tokio::time::Instant;

use super::ProviderError;
use super::breaker::CircuitBreaker;

/// How often and how patiently to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// The first back-off; each retry doubles it, up to `max_delay`.
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// The longest `Retry-After` worth waiting for; a provider asking for more gets no retry.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 2,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(4),
            max_retry_after: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// The pause before retry number `retry` (0 for the first retry): a random time between
    /// half and all of the exponential step ("equal jitter", so many clients that failed
    /// together do not retry together), or the provider's `Retry-After` when that is longer.
    /// `None` when the provider asks for a longer wait than we accept.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Option<Duration> {
        if retry_after.is_some_and(|wait| wait > self.max_retry_after) {
            return None;
        }
        let step = self
            .base_delay
            .saturating_mul(2u32.saturating_pow(retry.min(16)))
            .min(self.max_delay);
        let half = step / 2;
        let jitter = if half.is_zero() {
            Duration::ZERO
        } else {
            rand::thread_rng().gen_range(Duration::ZERO..=half)
        };
        Some((half + jitter).max(retry_after.unwrap_or(Duration::ZERO)))
    }
}

/// Reads `Retry-After` given in seconds. The HTTP-date form is not read (the providers we
/// talk to send seconds); without a usable value the normal back-off applies.
pub(crate) fn parse_retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// Runs `attempt` through the breaker, retrying what is worth retrying, until it succeeds,
/// fails for good, or `deadline` passes.
pub(crate) async fn run<T, F, Fut>(
    policy: &RetryPolicy,
    breaker: &CircuitBreaker,
    deadline: Instant,
    mut attempt: F,
) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    let mut retry = 0;
    loop {
        breaker.admit()?;
        let outcome = match tokio::time::timeout_at(deadline, attempt()).await {
            Ok(outcome) => outcome,
            Err(_) => Err(ProviderError::Timeout),
        };
        let err = match outcome {
            Ok(value) => {
                breaker.record_success();
                return Ok(value);
            }
            Err(err) => err,
        };
        if err.is_provider_failure() {
            breaker.record_failure();
        } else {
            // The provider answered properly (say, with a safety block): it is healthy.
            breaker.record_success();
        }
        if retry >= policy.max_retries || !err.is_retryable() {
            return Err(err);
        }
        let retry_after = match &err {
            ProviderError::RateLimited { retry_after } => *retry_after,
            _ => None,
        };
        let Some(pause) = policy.delay(retry, retry_after) else {
            return Err(err);
        };
        if Instant::now() + pause >= deadline {
            return Err(err);
        }
        tokio::time::sleep(pause).await;
        retry += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::BreakerPolicy;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn policy(max_retries: u32) -> RetryPolicy {
        RetryPolicy {
            max_retries,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            max_retry_after: Duration::from_secs(10),
        }
    }

    #[test]
    fn back_off_grows_exponentially_with_jitter_and_stays_under_the_cap() {
        let p = policy(5);
        for _ in 0..200 {
            let d0 = p.delay(0, None).unwrap();
            assert!(d0 >= Duration::from_millis(50) && d0 <= Duration::from_millis(100));
            let d2 = p.delay(2, None).unwrap();
            assert!(d2 >= Duration::from_millis(200) && d2 <= Duration::from_millis(400));
            let d9 = p.delay(9, None).unwrap();
            assert!(d9 >= Duration::from_millis(500) && d9 <= Duration::from_secs(1));
        }
    }

    #[test]
    fn retry_after_is_honoured_when_reasonable_and_refused_when_too_long() {
        let p = policy(2);
        assert!(p.delay(0, Some(Duration::from_secs(3))).unwrap() >= Duration::from_secs(3));
        assert_eq!(p.delay(0, Some(Duration::from_secs(60))), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_call_is_retried_the_allowed_number_of_times_then_fails() {
        let breaker = CircuitBreaker::new(BreakerPolicy::default());
        let calls = AtomicU32::new(0);
        let deadline = Instant::now() + Duration::from_secs(20);
        let out: Result<(), _> = run(&policy(2), &breaker, deadline, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(ProviderError::Server(503))
        })
        .await;
        assert_eq!(out, Err(ProviderError::Server(503)));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_refusal_is_not_retried() {
        let breaker = CircuitBreaker::new(BreakerPolicy::default());
        let calls = AtomicU32::new(0);
        let deadline = Instant::now() + Duration::from_secs(20);
        let out: Result<(), _> = run(&policy(2), &breaker, deadline, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(ProviderError::Rejected(401))
        })
        .await;
        assert_eq!(out, Err(ProviderError::Rejected(401)));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn the_wait_asked_for_by_retry_after_passes_before_the_next_attempt() {
        let breaker = CircuitBreaker::new(BreakerPolicy::default());
        let calls = AtomicU32::new(0);
        let start = Instant::now();
        let deadline = start + Duration::from_secs(20);
        let out = run(&policy(2), &breaker, deadline, || async {
            if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                Err(ProviderError::RateLimited {
                    retry_after: Some(Duration::from_secs(7)),
                })
            } else {
                Ok(Instant::now())
            }
        })
        .await
        .unwrap();
        assert!(out - start >= Duration::from_secs(7));
    }

    #[tokio::test(start_paused = true)]
    async fn no_retry_starts_that_would_end_after_the_deadline() {
        let breaker = CircuitBreaker::new(BreakerPolicy::default());
        let calls = AtomicU32::new(0);
        let deadline = Instant::now() + Duration::from_secs(5);
        let out: Result<(), _> = run(&policy(3), &breaker, deadline, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(ProviderError::RateLimited {
                retry_after: Some(Duration::from_secs(6)),
            })
        })
        .await;
        assert!(matches!(out, Err(ProviderError::RateLimited { .. })));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn an_attempt_that_hangs_ends_at_the_deadline_as_a_timeout() {
        let breaker = CircuitBreaker::new(BreakerPolicy::default());
        let deadline = Instant::now() + Duration::from_secs(5);
        let out: Result<(), _> = run(&policy(0), &breaker, deadline, || async {
            std::future::pending::<()>().await;
            Ok(())
        })
        .await;
        assert_eq!(out, Err(ProviderError::Timeout));
    }

    #[tokio::test(start_paused = true)]
    async fn an_open_circuit_refuses_without_calling() {
        let breaker = CircuitBreaker::new(BreakerPolicy {
            failure_threshold: 1,
            cool_down: Duration::from_secs(30),
        });
        breaker.record_failure();
        let calls = AtomicU32::new(0);
        let deadline = Instant::now() + Duration::from_secs(5);
        let out: Result<(), _> = run(&policy(2), &breaker, deadline, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
        .await;
        assert_eq!(out, Err(ProviderError::CircuitOpen));
        assert_eq!(calls.load(Ordering::SeqCst), 0);
    }
}
