//! Per-provider runtime state: the pacing limiter, the concurrency cap, the
//! circuit breaker, a vendor-requested pause, and live counters.

use super::circuit::Circuit;
use crate::provider::Provider;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// Live counters for one provider (status and benchmarks).
#[derive(Debug, Default)]
pub struct ProviderStats {
    /// HTTP attempts sent.
    pub attempts: AtomicU64,
    /// 429 (or rule-classified throttling) answers.
    pub throttled: AtomicU64,
    /// Calls served from the cache or coalesced.
    pub cached: AtomicU64,
    /// Calls answered (found or not found) after any retries.
    pub answered: AtomicU64,
    /// Calls that failed after any retries.
    pub failed: AtomicU64,
}

impl ProviderStats {
    /// Add one.
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Runtime state of one provider.
#[derive(Debug)]
pub struct ProviderRuntime {
    /// Pacing (GCRA): spaces requests evenly instead of bursting into 429s.
    pub limiter: Option<DefaultDirectRateLimiter>,
    /// In-flight cap.
    pub permits: Semaphore,
    /// Breaker.
    pub circuit: Mutex<Circuit>,
    /// Set when the vendor's headers say the window is used up.
    pub paused_until: Mutex<Option<Instant>>,
    /// Counters.
    pub stats: ProviderStats,
    /// The kill switch (clock time, so tests can move it).
    pub kill: Mutex<super::KillSwitch>,
}

impl ProviderRuntime {
    /// Build from a provider definition.
    pub fn new(p: &Provider) -> ProviderRuntime {
        let limiter = p.rate.and_then(|r| {
            let interval = r.period / r.requests.max(1);
            let burst = NonZeroU32::new(r.burst.max(1))?;
            Quota::with_period(interval).map(|q| RateLimiter::direct(q.allow_burst(burst)))
        });
        ProviderRuntime {
            limiter,
            permits: Semaphore::new(p.max_concurrency.max(1)),
            circuit: Mutex::new(Circuit::default()),
            paused_until: Mutex::new(None),
            stats: ProviderStats::default(),
            kill: Mutex::new(super::KillSwitch::default()),
        }
    }

    /// Wait for a vendor-requested pause, then for the pacing limiter.
    pub async fn pace(&self) {
        let pause = *self.paused_until.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(until) = pause {
            tokio::time::sleep_until(until).await;
        }
        if let Some(l) = &self.limiter {
            l.until_ready().await;
        }
    }

    /// Pause until `until` (never shortens an existing pause).
    pub fn pause(&self, until: Instant) {
        let mut p = self.paused_until.lock().unwrap_or_else(|e| e.into_inner());
        if p.is_none_or(|cur| cur < until) {
            *p = Some(until);
        }
    }
}
