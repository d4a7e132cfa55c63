//! Per-provider runtime state: the pacing limiter, the concurrency cap, the
//! circuit breaker, a vendor-requested pause, and live counters.

use super::circuit::Circuit;
use crate::provider::Provider;
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
    pub op_limiters: foldhash::HashMap<String, Pacer>,
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

/// Pacing by GCRA with reservations: each caller takes the next slot on the
/// schedule at once and sleeps until it comes. A limiter that can only admit
/// a call *now* (governor's) loses whatever time the timer wakes its waiter
/// late; at 1,000 req/s a slot is 1 ms, about the timer's resolution, and
/// that cost up to 40% of the limit. Here a late wake-up delays only that
/// call, never the slots behind it, and every waiter sleeps once.
///
/// A second GCRA over the times calls are actually sent keeps late callers
/// from catching up in a burst (a stalled process waking several at once):
/// calls are never closer than one interval (beyond the configured burst),
/// except that at 100 req/s or more, where the timer's lateness would cost
/// 5–50% of the limit, a call may go up to [`TIMER_SLACK`] ahead of the pace
/// of the calls sent before it. Slower vendors get no slack: with a bucket of
/// one or two calls, any call early by a millisecond leaves it "0 remaining".
#[derive(Debug)]
pub struct Pacer {
    /// The spacing and tolerances, replaced whole by [`Pacer::set_share`]
    /// (a std Mutex held for a copy, never across an await).
    timing: Mutex<Timing>,
    /// The vendor's limit, and `n << 32 | rank` of the daemons sharing it
    /// (`1 << 32`: alone).
    rate: crate::provider::Rate,
    share: AtomicU64,
    /// Theoretical arrival times: of the next slot handed out, and of the
    /// next call by the calls actually sent.
    tat: Mutex<(Option<Instant>, Option<Instant>)>,
}

/// A pacer's spacing and tolerances.
#[derive(Debug, Clone, Copy)]
struct Timing {
    interval: std::time::Duration,
    /// How far ahead of the pace a call may go: (burst - 1) intervals.
    tolerance: std::time::Duration,
    /// The same for the calls actually sent, with the timer's slack at high rates.
    sent_tolerance: std::time::Duration,
}

impl Timing {
    fn of(r: crate::provider::Rate) -> Option<Timing> {
        let exact = r.period / r.requests.max(1);
        if exact.is_zero() {
            return None;
        }
        // A 1% margin (at most 1 ms): a vendor sees arrivals with jitter, and
        // one counting in a bucket of one or two calls answers "0 remaining"
        // to two that reach it a hair closer than its interval.
        let interval = exact + (exact / 100).min(std::time::Duration::from_millis(1));
        let tolerance = interval * r.burst.max(1).saturating_sub(1);
        let slack = if exact <= SLACK_UP_TO {
            TIMER_SLACK
        } else {
            std::time::Duration::ZERO
        };
        Some(Timing {
            interval,
            tolerance,
            sent_tolerance: tolerance.max(slack),
        })
    }
}

/// How early against the pace of the calls sent a woken caller may go at
/// high rates: the timer's lateness (about 1 ms) must not cost a slot.
pub const TIMER_SLACK: std::time::Duration = std::time::Duration::from_millis(2);

/// Slots of this length or shorter (100 req/s and up) get [`TIMER_SLACK`].
const SLACK_UP_TO: std::time::Duration = std::time::Duration::from_millis(10);

impl Pacer {
    /// `requests` per `period`, with up to `burst` at once after idle time.
    pub fn new(r: crate::provider::Rate) -> Option<Pacer> {
        Some(Pacer {
            timing: Mutex::new(Timing::of(r)?),
            rate: r,
            share: AtomicU64::new(1 << 32),
            tat: Mutex::new((None, None)),
        })
    }

    fn timing(&self) -> Timing {
        *self.timing.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Pace at this daemon's part of the vendor's limit, `n` daemons sharing
    /// it and this one `rank`th (0-based) among them: see [`share_of`].
    pub fn set_share(&self, n: u32, rank: u32) {
        let n = n.max(1);
        let packed = (u64::from(n) << 32) | u64::from(rank.min(n - 1));
        if self.share.swap(packed, Ordering::Relaxed) == packed {
            return;
        }
        if let Some(t) = Timing::of(share_of(self.rate, n, rank)) {
            *self.timing.lock().unwrap_or_else(|e| e.into_inner()) = t;
        }
    }

    /// GCRA with tolerance `tau` at `now` over `tat`: the time the call may
    /// go, and the theoretical arrival time after it.
    fn gcra(
        &self,
        tat: Option<Instant>,
        now: Instant,
        tau: std::time::Duration,
    ) -> (Instant, Instant) {
        let tat = tat.unwrap_or(now);
        let at = if tat > now + tau { tat - tau } else { now };
        (at, tat.max(at) + self.timing().interval)
    }

    /// The send time of a caller asking at `now`, taken off the schedule.
    pub fn reserve(&self, now: Instant) -> Instant {
        let mut tat = self.tat.lock().unwrap_or_else(|e| e.into_inner());
        let (slot, next) = self.gcra(tat.0, now, self.timing().tolerance);
        tat.0 = Some(next);
        slot
    }

    /// Send now (`Ok`) or wait until the returned time: the pace of the
    /// calls actually sent (with [`TIMER_SLACK`] at high rates).
    pub fn admit(&self, now: Instant) -> Result<(), Instant> {
        let mut tat = self.tat.lock().unwrap_or_else(|e| e.into_inner());
        let (at, next) = self.gcra(tat.1, now, self.timing().sent_tolerance);
        if at > now {
            return Err(at);
        }
        tat.1 = Some(next);
        Ok(())
    }

    /// Wait for this caller's slot, then for any pause `paused` reports
    /// (one the vendor asked for while the call waited holds it too), then
    /// for the pace of the calls sent, which spaces the callers let go
    /// together after a pause. A caller dropped while it waits leaves its
    /// slot unused (a gap, never an extra call).
    pub async fn ready(&self, paused: &(dyn Fn() -> Option<Instant> + Sync)) {
        let slot = self.reserve(Instant::now());
        tokio::time::sleep_until(slot).await;
        loop {
            if let Some(until) = paused() {
                tokio::time::sleep_until(until).await;
                continue;
            }
            match self.admit(Instant::now()) {
                Ok(()) => return,
                Err(at) => tokio::time::sleep_until(at).await,
            }
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

    /// Wait for a vendor-requested pause, then for `operation`'s own pace,
    /// if it has one, then for the provider's.
    pub async fn pace(&self, operation: &str) {
        // A caller arriving during a pause takes no slot until it ends.
        if let Some(until) = self.paused_after(Instant::now()) {
            tokio::time::sleep_until(until).await;
        }
        let paused = || self.paused_after(Instant::now());
        if let Some(l) = self.op_limiters.get(operation) {
            l.ready(&paused).await;
        }
        if let Some(l) = &self.limiter {
            l.ready(&paused).await;
        }
    }

    /// The end of a vendor-requested pause still running at `now`.
    fn paused_after(&self, now: Instant) -> Option<Instant> {
        let p = *self.paused_until.lock().unwrap_or_else(|e| e.into_inner());
        p.filter(|until| *until > now)
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
    Pacer::new(r)
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn rate(per_second: u32, burst: u32) -> crate::provider::Rate {
        crate::provider::Rate {
            requests: per_second,
            period: Duration::from_secs(1),
            burst,
        }
    }

    #[test]
    fn the_interval_keeps_a_small_margin_under_the_limit() {
        let slot = |per_second, burst| {
            Pacer::new(rate(per_second, burst))
                .unwrap()
                .timing()
                .interval
        };
        assert_eq!(slot(1000, 1), Duration::from_micros(1010));
        assert_eq!(slot(10, 1), Duration::from_millis(101));
        assert_eq!(slot(1, 1), Duration::from_millis(1001), "at most 1 ms");
    }

    #[test]
    fn reservations_space_calls_and_a_late_caller_costs_no_slot() {
        let p = Pacer::new(rate(1000, 1)).unwrap();
        let t0 = Instant::now();
        let slot = |k: u32| t0 + p.timing().interval * k;
        // Three callers at once: slots one interval apart.
        let first: Vec<_> = (0..3).map(|_| p.reserve(t0)).collect();
        assert_eq!(first, [slot(0), slot(1), slot(2)]);
        // A caller arriving late (woken late by the timer) keeps the schedule:
        // the slot after it is still one interval after the last one.
        assert_eq!(p.reserve(slot(2) + Duration::from_micros(900)), slot(3));
        assert_eq!(p.reserve(slot(3)), slot(4));
        // After idle time the schedule restarts at now, without a burst.
        let later = t0 + Duration::from_millis(50);
        assert_eq!(p.reserve(later), later);
        assert_eq!(p.reserve(later), later + p.timing().interval);
    }

    #[test]
    fn burst_allows_that_many_at_once_after_idle_then_paces() {
        let p = Pacer::new(rate(10, 3)).unwrap();
        let t0 = Instant::now();
        let slot = |k: u32| t0 + p.timing().interval * k;
        let slots: Vec<_> = (0..5).map(|_| p.reserve(t0)).collect();
        assert_eq!(slots, [slot(0), slot(0), slot(0), slot(1), slot(2)]);
        // Over any long stretch the rate holds: one slot per interval.
        let later: Vec<_> = (0..10).map(|_| p.reserve(t0)).collect();
        assert_eq!(later.last().copied(), Some(slot(12)));
    }

    #[test]
    fn callers_woken_late_together_do_not_go_in_a_burst() {
        let p = Pacer::new(rate(10, 1)).unwrap();
        let t0 = Instant::now();
        let ms = |k: u64| t0 + Duration::from_millis(k);
        let slots: Vec<_> = (0..3).map(|_| p.reserve(t0)).collect();
        assert_eq!(slots, [ms(0), ms(101), ms(202)]);
        // The process stalls; all three wake at 300 ms and go one interval
        // apart (no slack at 10/s: never closer than one interval).
        assert_eq!(p.admit(ms(300)), Ok(()));
        assert_eq!(p.admit(ms(300)), Err(ms(401)));
        assert_eq!(p.admit(ms(400)), Err(ms(401)));
        assert_eq!(p.admit(ms(401)), Ok(()));
        assert_eq!(p.admit(ms(401)), Err(ms(502)));
        // At 1,000/s the same stall lets them go only TIMER_SLACK ahead.
        let fast = Pacer::new(rate(1000, 1)).unwrap();
        let n = (0..10).filter(|_| fast.admit(ms(300)).is_ok()).count();
        assert_eq!(n, 2, "one call, then one more within the 2 ms of slack");
    }

    #[test]
    fn a_wake_up_late_by_the_timer_keeps_its_slot_at_high_rates() {
        let p = Pacer::new(rate(1000, 1)).unwrap();
        let t0 = Instant::now();
        let us = |k: u64| t0 + Duration::from_micros(k);
        // Slots about 1 ms apart; the timer wakes them 0.9 ms late, some together.
        for wake in [900, 1900, 2000, 3900] {
            assert_eq!(p.admit(us(wake)), Ok(()), "woken at {wake} µs");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_asked_for_while_waiting_holds_the_call() {
        let rt = ProviderRuntime {
            limiter: Pacer::new(rate(10, 1)),
            op_limiters: Default::default(),
            permits: Semaphore::new(1),
            circuit: Mutex::new(Circuit::default()),
            paused_until: Mutex::new(None),
            stats: ProviderStats::default(),
            kill: Mutex::new(super::super::KillSwitch::default()),
            waiting: AtomicU64::new(0),
        };
        let t0 = Instant::now();
        rt.pace("x").await; // slot 0
        rt.pause(t0 + Duration::from_secs(5));
        rt.pace("x").await;
        assert!(Instant::now() >= t0 + Duration::from_secs(5));
    }

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
