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
    /// Of those, found.
    pub hits: AtomicU64,
    /// Requests sent per 10 s window: (window start, this window, last window).
    sent: Mutex<(Option<Instant>, u64, u64)>,
    /// Calls that failed after any retries.
    pub failed: AtomicU64,
}

/// The window over which utilisation is measured.
const WINDOW: std::time::Duration = std::time::Duration::from_secs(10);

impl ProviderStats {
    /// Add one.
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Count a request sent now (attempts, and the utilisation window).
    pub fn sent(&self) {
        Self::bump(&self.attempts);
        let now = Instant::now();
        let mut w = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        roll(&mut w, now);
        w.1 += 1;
    }

    /// Requests per second over the last full window.
    pub fn recent_rate(&self) -> f64 {
        let mut w = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        roll(&mut w, Instant::now());
        w.2 as f64 / WINDOW.as_secs_f64()
    }
}

/// Runtime state of one provider.
#[derive(Debug)]
pub struct ProviderRuntime {
    /// Pacing (GCRA): spaces requests evenly instead of bursting into 429s.
    pub limiter: Option<Pacer>,
    /// Endpoints with a pace of their own, by operation id.
    pub op_limiters: std::collections::HashMap<String, Pacer>,
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
    /// Calls waiting for a permit or their pacing slot.
    pub waiting: AtomicU64,
}

/// Move the window on: the current count becomes the last one (or zero when
/// a whole window passed with nothing sent).
fn roll(w: &mut (Option<Instant>, u64, u64), now: Instant) {
    match w.0 {
        None => *w = (Some(now), 0, 0),
        Some(start) if now >= start + WINDOW * 2 => *w = (Some(now), 0, 0),
        Some(start) if now >= start + WINDOW => *w = (Some(start + WINDOW), 0, w.1),
        Some(_) => {}
    }
}

/// A governor limiter whose waiters take turns: one at a time polls it, the
/// rest queue FIFO behind a fair lock. Without the turn, every waiter wakes
/// at each free slot and all but one go back to sleep, which at a thousand
/// queued calls costs more CPU than the calls themselves. FIFO also sends
/// calls in the order they asked.
#[derive(Debug)]
pub struct Pacer {
    /// Swapped whole by [`Pacer::set_share`]; std RwLock, never held across an await.
    limiter: std::sync::RwLock<std::sync::Arc<DefaultDirectRateLimiter>>,
    /// The vendor's limit, and how many daemons share it now.
    rate: crate::provider::Rate,
    /// `n << 32 | rank` of the last [`Pacer::set_share`] (`1 << 32`: alone).
    share: AtomicU64,
    turn: tokio::sync::Mutex<()>,
}

impl Pacer {
    /// Wait for this caller's slot.
    pub async fn ready(&self) {
        let _turn = self.turn.lock().await;
        let limiter = self
            .limiter
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        limiter.until_ready().await;
    }

    /// Pace at this daemon's part of the vendor's limit, `n` daemons sharing
    /// it and this one `rank`th (0-based) among them: see [`share_of`].
    pub fn set_share(&self, n: u32, rank: u32) {
        let n = n.max(1);
        let packed = (u64::from(n) << 32) | u64::from(rank.min(n - 1));
        if self.share.swap(packed, Ordering::Relaxed) == packed {
            return;
        }
        if let Some(q) = quota(share_of(self.rate, n, rank)) {
            *self.limiter.write().unwrap_or_else(|e| e.into_inner()) =
                std::sync::Arc::new(RateLimiter::direct(q));
        }
    }
}

/// Counts a call as waiting for its provider until dropped.
#[derive(Debug)]
pub struct Queued<'a>(&'a AtomicU64);

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl ProviderRuntime {
    /// Build from a provider definition.
    pub fn new(p: &Provider) -> ProviderRuntime {
        let provider_limiter = p.rate.and_then(limiter);
        let op_limiters = p
            .operations
            .iter()
            .filter_map(|o| Some((o.id.clone(), limiter(o.rate?)?)))
            .collect();
        ProviderRuntime {
            limiter: provider_limiter,
            op_limiters,
            permits: Semaphore::new(p.max_concurrency.max(1)),
            circuit: Mutex::new(Circuit::default()),
            paused_until: Mutex::new(None),
            stats: ProviderStats::default(),
            waiting: AtomicU64::new(0),
            kill: Mutex::new(super::KillSwitch::default()),
        }
    }

    /// Count a call as waiting (permit and pacing) while the guard lives.
    pub fn queue(&self) -> Queued<'_> {
        self.waiting.fetch_add(1, Ordering::Relaxed);
        Queued(&self.waiting)
    }

    /// Seconds until a new call would be sent: its own pacing slot after those
    /// queued ahead ((ahead + 1) / rate), plus a vendor-requested pause. The
    /// slot matters: a group then splits its work across vendors in proportion
    /// to their rates. Without a rate, the queue length breaks ties.
    pub fn expected_wait(&self, per_second: Option<f64>) -> f64 {
        let ahead = self.waiting.load(Ordering::Relaxed) as f64;
        let paused = self
            .paused_until
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .map_or(0.0, |u| {
                u.saturating_duration_since(Instant::now()).as_secs_f64()
            });
        match per_second {
            Some(r) if r > 0.0 => (ahead + 1.0) / r + paused,
            _ => ahead * 1e-6 + paused,
        }
    }

    /// Wait for a vendor-requested pause, then for the provider's pace, then
    /// for `operation`'s own, if it has one.
    pub async fn pace(&self, operation: &str) {
        let pause = *self.paused_until.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(until) = pause {
            tokio::time::sleep_until(until).await;
        }
        if let Some(l) = &self.limiter {
            l.ready().await;
        }
        if let Some(l) = self.op_limiters.get(operation) {
            l.ready().await;
        }
    }

    /// Pace at this daemon's part of the provider's and every operation's
    /// limit: `n` daemons share the vendor (the live members of a shared
    /// store), this one `rank`th among them.
    pub fn set_share(&self, n: u32, rank: u32) {
        if let Some(l) = &self.limiter {
            l.set_share(n, rank);
        }
        for l in self.op_limiters.values() {
            l.set_share(n, rank);
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

fn limiter(r: crate::provider::Rate) -> Option<Pacer> {
    Some(Pacer {
        limiter: std::sync::RwLock::new(std::sync::Arc::new(RateLimiter::direct(quota(r)?))),
        rate: r,
        share: AtomicU64::new(1 << 32),
        turn: tokio::sync::Mutex::new(()),
    })
}

/// The part of limit `r` that daemon `rank` of `n` may use, such that the
/// parts add up to the limit exactly: the requests per period (and the burst)
/// are split as whole numbers, the first `requests % n` daemons taking one
/// more. With whole numbers per daemon, no window of one period ever holds
/// more than the limit across all of them (a fractional split would let each
/// round up). A limit smaller than `n` gives each daemon `1/n` of it.
/// Shared parts keep a 3% margin.
pub fn share_of(r: crate::provider::Rate, n: u32, rank: u32) -> crate::provider::Rate {
    let n = n.max(1);
    let part = |total: u32| total / n + u32::from(rank % n < total % n);
    if r.requests < n {
        return crate::provider::Rate {
            requests: r.requests.max(1),
            period: r.period * n,
            burst: 1,
        };
    }
    crate::provider::Rate {
        requests: part(r.requests),
        // A 1% margin: requests from several hosts reach the vendor with
        // jitter, and whole-number parts leave no slack of their own.
        period: if n > 1 {
            r.period * 101 / 100
        } else {
            r.period
        },
        burst: part(r.burst.max(1)).max(1),
    }
}

/// The governor quota pacing at `r`.
fn quota(r: crate::provider::Rate) -> Option<Quota> {
    let interval = r.period / r.requests.max(1);
    let burst = NonZeroU32::new(r.burst.max(1))?;
    Quota::with_period(interval).map(|q| q.allow_burst(burst))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn utilisation_counts_the_last_full_window() {
        let s = ProviderStats::default();
        for _ in 0..30 {
            s.sent();
        }
        assert_eq!(s.recent_rate(), 0.0, "the first window is not over");
        tokio::time::advance(WINDOW).await;
        assert_eq!(s.recent_rate(), 3.0);
        s.sent();
        tokio::time::advance(WINDOW).await;
        assert_eq!(s.recent_rate(), 0.1);
        tokio::time::advance(WINDOW * 3).await;
        assert_eq!(s.recent_rate(), 0.0, "nothing sent for a while");
        assert_eq!(s.attempts.load(Ordering::Relaxed), 31);
    }

    #[test]
    fn shares_of_a_limit_add_up_to_it_in_whole_requests() {
        let r = crate::provider::Rate {
            requests: 20,
            period: std::time::Duration::from_secs(1),
            burst: 4,
        };
        let parts: Vec<_> = (0..3).map(|i| share_of(r, 3, i)).collect();
        assert_eq!(
            parts
                .iter()
                .map(|p| (p.requests, p.burst))
                .collect::<Vec<_>>(),
            [(7, 2), (7, 1), (6, 1)]
        );
        assert_eq!(share_of(r, 1, 0), r);
        let tiny = crate::provider::Rate { requests: 2, ..r };
        assert_eq!(
            share_of(tiny, 3, 2).period,
            std::time::Duration::from_secs(3)
        );
    }
}
