//! Counting requests per key in fixed windows, in this process's memory.
//!
//! Used for the general per-IP limit and the sign-in limits (per IP and per account). Each
//! instance counts on its own: with N instances behind a balancer an attacker gets N times
//! the budget. That stays acceptable while N is small, because the growing per-account lock
//! after repeated failures is kept in the database and so holds across instances.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// Keys beyond this many trigger a sweep of finished windows, bounding memory.
const SWEEP_AT: usize = 50_000;

#[derive(Debug, Default)]
pub struct RateLimiter {
    windows: Mutex<HashMap<String, (i64, u32)>>,
}

impl RateLimiter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one request for `key` at `now_ms`. `Err` carries how long until the window
    /// reopens, when `limit` requests were already counted in this `window`.
    pub fn hit(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
        now_ms: i64,
    ) -> Result<(), Duration> {
        let window_ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX).max(1);
        let start = now_ms - now_ms.rem_euclid(window_ms);
        let Ok(mut windows) = self.windows.lock() else {
            // A poisoned lock means a panic elsewhere; failing open keeps the service usable.
            return Ok(());
        };
        if windows.len() >= SWEEP_AT {
            windows.retain(|_, (s, _)| *s + window_ms > now_ms);
        }
        let entry = windows.entry(key.to_owned()).or_insert((start, 0));
        if entry.0 != start {
            *entry = (start, 0);
        }
        if entry.1 >= limit {
            let wait_ms = (start + window_ms - now_ms).max(1);
            return Err(Duration::from_millis(u64::try_from(wait_ms).unwrap_or(1)));
        }
        entry.1 += 1;
        Ok(())
    }

    /// Forgets a key (after a successful sign-in, the account's count starts again).
    pub fn clear(&self, key: &str) {
        if let Ok(mut windows) = self.windows.lock() {
            windows.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sixth_attempt_in_a_minute_is_refused_until_the_minute_ends() {
        let limiter = RateLimiter::new();
        let minute = Duration::from_secs(60);
        for _ in 0..5 {
            assert!(limiter.hit("ip:1", 5, minute, 60_000).is_ok());
        }
        let wait = limiter.hit("ip:1", 5, minute, 70_000).unwrap_err();
        assert_eq!(wait, Duration::from_secs(50));
        assert!(
            limiter.hit("ip:2", 5, minute, 70_000).is_ok(),
            "other keys are untouched"
        );
        assert!(
            limiter.hit("ip:1", 5, minute, 120_000).is_ok(),
            "a new window opens"
        );
    }

    #[test]
    fn clearing_a_key_restarts_its_count() {
        let limiter = RateLimiter::new();
        let minute = Duration::from_secs(60);
        for _ in 0..5 {
            limiter.hit("acct", 5, minute, 0).unwrap();
        }
        limiter.clear("acct");
        assert!(limiter.hit("acct", 5, minute, 1).is_ok());
    }
}
