//! Per-provider circuit breaker: after N failed attempts in a row the provider
//! is not called until a cool-down passes; then one probe decides.

use crate::provider::CircuitPolicy;
use tokio::time::Instant;

/// Breaker state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Circuit {
    /// Calls flow; `failures` in a row so far.
    Closed {
        /// Consecutive failures.
        failures: u32,
    },
    /// No calls until `until`.
    Open {
        /// End of the cool-down.
        until: Instant,
    },
    /// One probe is in flight; others wait for its verdict.
    HalfOpen,
}

impl Default for Circuit {
    fn default() -> Self {
        Circuit::Closed { failures: 0 }
    }
}

impl Circuit {
    /// May a call go now? `Err(until)` says when to come back.
    pub fn admit(&mut self, now: Instant, policy: &CircuitPolicy) -> Result<(), Instant> {
        match *self {
            Circuit::Closed { .. } => Ok(()),
            Circuit::Open { until } if now < until => Err(until),
            Circuit::Open { .. } => {
                *self = Circuit::HalfOpen;
                Ok(())
            }
            // A probe is out: others come back after a short wait, not a whole cool-down.
            Circuit::HalfOpen => Err(now + policy.open_for.min(std::time::Duration::from_secs(1))),
        }
    }

    /// Record an attempt's result. Returns true when this opened the circuit.
    pub fn record(&mut self, ok: bool, now: Instant, policy: &CircuitPolicy) -> bool {
        match (*self, ok) {
            (_, true) => {
                *self = Circuit::Closed { failures: 0 };
                false
            }
            (Circuit::Closed { failures }, false) if failures + 1 < policy.failure_threshold => {
                *self = Circuit::Closed {
                    failures: failures + 1,
                };
                false
            }
            (Circuit::Open { .. }, false) => false,
            (_, false) => {
                *self = Circuit::Open {
                    until: now + policy.open_for,
                };
                true
            }
        }
    }

    /// Short name for status output.
    pub fn name(&self) -> &'static str {
        match self {
            Circuit::Closed { .. } => "closed",
            Circuit::Open { .. } => "open",
            Circuit::HalfOpen => "half_open",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn opens_after_threshold_and_probes_after_cool_down() {
        let policy = CircuitPolicy {
            failure_threshold: 3,
            open_for: Duration::from_secs(10),
        };
        let t0 = Instant::now();
        let mut c = Circuit::default();
        assert!(!c.record(false, t0, &policy));
        assert!(!c.record(false, t0, &policy));
        assert!(c.record(false, t0, &policy), "third failure opens");
        assert_eq!(
            c.admit(t0 + Duration::from_secs(5), &policy),
            Err(t0 + Duration::from_secs(10))
        );
        assert_eq!(
            c.admit(t0 + Duration::from_secs(11), &policy),
            Ok(()),
            "probe"
        );
        assert!(
            c.admit(t0 + Duration::from_secs(11), &policy).is_err(),
            "one probe at a time"
        );
        c.record(true, t0 + Duration::from_secs(12), &policy);
        assert_eq!(c, Circuit::Closed { failures: 0 });
    }

    #[test]
    fn failed_probe_reopens() {
        let policy = CircuitPolicy {
            failure_threshold: 1,
            open_for: Duration::from_secs(10),
        };
        let t0 = Instant::now();
        let mut c = Circuit::default();
        c.record(false, t0, &policy);
        let t1 = t0 + Duration::from_secs(10);
        assert_eq!(c.admit(t1, &policy), Ok(()));
        assert!(c.record(false, t1, &policy));
        assert_eq!(
            c,
            Circuit::Open {
                until: t1 + Duration::from_secs(10)
            }
        );
    }
}
