//! Per-vendor request counters and the billing tally.
//!
//! Every vendor request ends in exactly one [`Outcome`], so
//! `requests == hits + misses + rate_limited + errors` always holds; credits are
//! only ever added by hits, which is what lets leadfall reconcile its own ledger.

use serde::{Deserialize, Serialize};

/// Snapshot of one vendor's counters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VendorCounters {
    /// Every request that reached the vendor routes, including rejected ones.
    pub requests: u64,
    /// Requests answered with data.
    pub hits: u64,
    /// Requests answered with a well-formed "not found".
    pub misses: u64,
    /// Requests answered 429.
    pub rate_limited: u64,
    /// Everything else: bad key, bad parameters, outage, injected 5xx, timeouts,
    /// malformed bodies and scripted error responses.
    pub errors: u64,
    /// Credits the vendor would have charged.
    pub credits_billed: f64,
}

/// How a single vendor request ended, for counting.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Outcome {
    /// Data returned; bills the given credits (may be zero for free endpoints).
    Hit(f64),
    /// Well-formed "not found".
    Miss,
    /// Answered 429.
    RateLimited,
    /// Any other failure.
    Error,
}

impl VendorCounters {
    /// Adds one request with the given outcome.
    pub(crate) fn record(&mut self, outcome: Outcome) {
        self.requests += 1;
        match outcome {
            Outcome::Hit(credits) => {
                self.hits += 1;
                self.credits_billed += credits;
            }
            Outcome::Miss => self.misses += 1,
            Outcome::RateLimited => self.rate_limited += 1,
            Outcome::Error => self.errors += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_counts_as_one_request() {
        let mut c = VendorCounters::default();
        for o in [
            Outcome::Hit(1.0),
            Outcome::Hit(0.0),
            Outcome::Miss,
            Outcome::RateLimited,
            Outcome::Error,
        ] {
            c.record(o);
        }
        assert_eq!(c.requests, 5);
        assert_eq!(c.requests, c.hits + c.misses + c.rate_limited + c.errors);
        assert_eq!(c.credits_billed, 1.0);
    }
}
