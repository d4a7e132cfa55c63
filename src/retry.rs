//! The retry schedule: the only file that imports `backoff` (it carries an
//! "unmaintained" notice, so swapping it must stay a one-file change).
//! Exponential backoff with jitter, Retry-After honoured up to a cap, a bound on
//! attempts and on total time. Deciding *whether* an outcome is retryable is
//! the executor's classification; this file only says *when*.

use crate::provider::RetryPolicy;
use backoff::backoff::Backoff;
use std::time::Duration;
use tokio::time::Instant;

/// One call's retry schedule.
#[derive(Debug)]
pub struct RetrySchedule {
    policy: RetryPolicy,
    backoff: backoff::ExponentialBackoff,
    attempts: u32,
    failures: u32,
    started: Instant,
}

impl RetrySchedule {
    /// Start a schedule; the first attempt is about to be made.
    pub fn new(policy: RetryPolicy) -> RetrySchedule {
        let backoff = backoff::ExponentialBackoffBuilder::new()
            .with_initial_interval(policy.initial_backoff)
            .with_max_interval(policy.max_backoff)
            .with_multiplier(2.0)
            // ±100% around the interval: close to "full jitter", so workers that
            // failed together do not retry together.
            .with_randomization_factor(1.0)
            // Elapsed time is tracked here on tokio's clock, so tests can pause time.
            .with_max_elapsed_time(None)
            .build();
        RetrySchedule {
            policy,
            backoff,
            attempts: 1,
            failures: 0,
            started: Instant::now(),
        }
    }

    /// Attempts made so far.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The wait before the next attempt, or `None` to give up. A vendor's
    /// Retry-After wins over the computed backoff; one beyond
    /// `max_retry_after` gives up at once. Throttling (`throttled`) is bounded
    /// by the total time only: a vendor that says "come back in a second" is
    /// not failing, and giving up after a few 429s would turn pacing into errors.
    pub fn next_delay(
        &mut self,
        retry_after: Option<Duration>,
        throttled: bool,
    ) -> Option<Duration> {
        if !throttled && self.failures >= self.policy.max_attempts.saturating_sub(1) {
            return None;
        }
        let computed = self.backoff.next_backoff()?;
        let delay = match retry_after {
            Some(ra) if ra > self.policy.max_retry_after => return None,
            Some(ra) => ra.max(Duration::from_millis(1)),
            None => computed.min(self.policy.max_backoff),
        };
        if self.started.elapsed() + delay > self.policy.max_elapsed {
            return None;
        }
        self.attempts += 1;
        if !throttled {
            self.failures += 1;
        }
        Some(delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(max_attempts: u32) -> RetryPolicy {
        RetryPolicy {
            max_attempts,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(400),
            max_elapsed: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(2),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn bounded_by_attempts_and_backoff_cap() {
        let mut s = RetrySchedule::new(policy(5));
        let mut delays = Vec::new();
        while let Some(d) = s.next_delay(None, false) {
            assert!(d <= Duration::from_millis(400), "{d:?} over the cap");
            delays.push(d);
        }
        assert_eq!(delays.len(), 4, "5 attempts = 4 waits");
        assert_eq!(s.attempts(), 5);
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_is_honoured_and_capped() {
        let mut s = RetrySchedule::new(policy(5));
        assert_eq!(
            s.next_delay(Some(Duration::from_secs(1)), true),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            s.next_delay(Some(Duration::from_secs(3)), true),
            None,
            "beyond max_retry_after"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn bounded_in_total_time() {
        let mut s = RetrySchedule::new(policy(100));
        tokio::time::advance(Duration::from_millis(4_900)).await;
        assert_eq!(s.next_delay(Some(Duration::from_millis(200)), true), None);
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_is_bounded_by_time_not_attempts() {
        let mut s = RetrySchedule::new(policy(2));
        for _ in 0..10 {
            let d = s
                .next_delay(Some(Duration::from_millis(100)), true)
                .expect("429s keep waiting");
            tokio::time::advance(d).await;
        }
        assert!(
            s.next_delay(None, false).is_some(),
            "one failure allowed with max_attempts 2"
        );
        assert!(s.next_delay(None, false).is_none());
    }
}
