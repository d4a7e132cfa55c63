//! Per-provider runtime state: the pacing limiter, the concurrency cap, the
//! circuit breaker, a vendor-requested pause, and live counters.

use super::circuit::Circuit;
use crate::provider::Provider;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
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
    /// Pacing (governor's GCRA): spaces requests evenly instead of bursting into 429s.
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

/// Pacing by a `governor` limiter (GCRA) per vendor window, on tokio's clock
/// so a paused test clock paces too.
///
/// Waiters take turns (FIFO): only the first asks the limiter and sleeps
/// until its earliest time; the rest wait for the turn. Without the turn
/// every waiter would wake at each free slot and all but one go back to
/// sleep. A caller dropped while it waits has taken nothing.
///
/// The burst is sized from the rate ([`TIMER_LATENESS`]): a limiter that
/// admits a call only *now* loses whatever time the timer wakes its waiter
/// late (at burst 1 a 50 req/s vendor was paced at 47/s). With room for a
/// few calls, a late wake takes a slot the schedule already made, and the
/// slots behind it keep their times; a stalled process catches up by at
/// most that much.
#[derive(Debug)]
pub struct Pacer {
    /// The vendor's limit, and `n << 32 | rank` of the daemons sharing it
    /// (`1 << 32`: alone).
    rate: crate::provider::Rate,
    share: AtomicU64,
    /// The limiter, replaced whole by [`Pacer::set_share`] (a std Mutex
    /// held for a clone, never across an await).
    limiter: Mutex<Arc<Limiter>>,
    /// Whose turn it is to ask the limiter (tokio's Mutex is FIFO).
    turn: tokio::sync::Mutex<()>,
}

type Limiter = governor::RateLimiter<
    governor::state::NotKeyed,
    governor::state::InMemoryState,
    TokioClock,
    governor::middleware::NoOpMiddleware<At>,
>;

/// tokio's clock for governor: paused and advanced with it in tests.
#[derive(Debug, Clone, Copy)]
struct TokioClock;

/// A point on tokio's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct At(Instant);

impl std::ops::Add<governor::nanos::Nanos> for At {
    type Output = At;
    fn add(self, d: governor::nanos::Nanos) -> At {
        At(self.0 + std::time::Duration::from(d))
    }
}

impl governor::clock::Reference for At {
    fn duration_since(&self, earlier: At) -> governor::nanos::Nanos {
        self.0.saturating_duration_since(earlier.0).into()
    }

    fn saturating_sub(&self, d: governor::nanos::Nanos) -> At {
        At(self.0.checked_sub(d.into()).unwrap_or(self.0))
    }
}

impl governor::clock::Clock for TokioClock {
    type Instant = At;
    fn now(&self) -> At {
        At(Instant::now())
    }
}

/// A pacer's spacing and burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Timing {
    interval: std::time::Duration,
    burst: u32,
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
        // Room for TIMER_LATENESS of calls at fast rates. Slower vendors
        // keep their configured burst: a wake 1 ms late costs them at most
        // 2%, and their buckets hold one or two calls, so one call early
        // leaves them "0 remaining".
        let absorbing = if exact <= ABSORB_UP_TO {
            1 + TIMER_LATENESS.as_nanos().div_ceil(interval.as_nanos()) as u32
        } else {
            1
        };
        Some(Timing {
            interval,
            burst: r.burst.max(absorbing).max(1),
        })
    }

    fn limiter(self) -> Option<Limiter> {
        let quota =
            governor::Quota::with_period(self.interval)?.allow_burst(NonZeroU32::new(self.burst)?);
        Some(governor::RateLimiter::direct_with_clock(quota, TokioClock))
    }
}

/// How late the timer may wake a waiter before the vendor loses a slot
/// (tokio's timer ticks in milliseconds; a busy machine wakes later).
pub const TIMER_LATENESS: std::time::Duration = std::time::Duration::from_millis(5);

/// Slots of this length or shorter (20 req/s and up) get room for
/// [`TIMER_LATENESS`].
const ABSORB_UP_TO: std::time::Duration = std::time::Duration::from_millis(50);

impl Pacer {
    /// `requests` per `period`, with up to `burst` at once after idle time
    /// (more at fast rates: see [`TIMER_LATENESS`]).
    pub fn new(r: crate::provider::Rate) -> Option<Pacer> {
        Some(Pacer {
            rate: r,
            share: AtomicU64::new(1 << 32),
            limiter: Mutex::new(Arc::new(Timing::of(r)?.limiter()?)),
            turn: tokio::sync::Mutex::new(()),
        })
    }

    fn limiter(&self) -> Arc<Limiter> {
        self.limiter
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Pace at this daemon's part of the vendor's limit, `n` daemons sharing
    /// it and this one `rank`th (0-based) among them: see [`share_of`]. A
    /// new part gets a new limiter (governor's quota is fixed per limiter);
    /// the old one's schedule is dropped, as when the daemon starts.
    pub fn set_share(&self, n: u32, rank: u32) {
        let n = n.max(1);
        let packed = (u64::from(n) << 32) | u64::from(rank.min(n - 1));
        if self.share.swap(packed, Ordering::Relaxed) == packed {
            return;
        }
        if let Some(l) = Timing::of(share_of(self.rate, n, rank)).and_then(Timing::limiter) {
            *self.limiter.lock().unwrap_or_else(|e| e.into_inner()) = Arc::new(l);
        }
    }

    /// Send now (`Ok`) or wait until the returned time.
    pub fn admit(&self) -> Result<(), Instant> {
        self.limiter()
            .check()
            .map_err(|not_until| not_until.earliest_possible().0)
    }

    /// Wait for this caller's turn, then for any pause `paused` reports
    /// (one the vendor asked for while the call waited holds it too), then
    /// for the limiter.
    pub async fn ready(&self, paused: &(dyn Fn() -> Option<Instant> + Sync)) {
        let _turn = self.turn.lock().await;
        loop {
            if let Some(until) = paused() {
                tokio::time::sleep_until(until).await;
                continue;
            }
            match self.admit() {
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

    /// Ask until admitted, each wake-up `late` after the time the limiter named.
    async fn admit_late(p: &Pacer, late: Duration) {
        while let Err(at) = p.admit() {
            tokio::time::sleep_until(at + late).await;
        }
    }

    #[test]
    fn the_interval_keeps_a_small_margin_under_the_limit() {
        let slot = |per_second, burst| Timing::of(rate(per_second, burst)).unwrap().interval;
        assert_eq!(slot(1000, 1), Duration::from_micros(1010));
        assert_eq!(slot(10, 1), Duration::from_millis(101));
        assert_eq!(slot(1, 1), Duration::from_millis(1001), "at most 1 ms");
    }

    #[test]
    fn the_burst_is_sized_from_the_rate_to_absorb_late_wakes() {
        let burst = |per_second, burst| Timing::of(rate(per_second, burst)).unwrap().burst;
        assert_eq!(burst(10, 1), 1, "a slow vendor keeps its configured burst");
        assert_eq!(burst(10, 3), 3);
        assert_eq!(burst(20, 1), 2, "one slot of room at 20 and 50 req/s");
        assert_eq!(burst(50, 1), 2);
        assert_eq!(burst(1000, 1), 6, "5 ms of room at 1,000 req/s");
        assert_eq!(burst(5000, 1), 26);
        assert_eq!(burst(1000, 10), 10, "a larger configured burst stays");
    }

    #[tokio::test(start_paused = true)]
    async fn calls_are_spaced_one_interval_apart_and_idle_time_gives_no_burst() {
        let p = Pacer::new(rate(10, 1)).unwrap();
        let t0 = Instant::now();
        let ms = |k: u64| Duration::from_millis(k);
        assert_eq!(p.admit(), Ok(()));
        assert_eq!(p.admit(), Err(t0 + ms(101)));
        tokio::time::advance(ms(100)).await;
        assert_eq!(p.admit(), Err(t0 + ms(101)));
        tokio::time::advance(ms(1)).await;
        assert_eq!(p.admit(), Ok(()));
        // After idle time one goes at once (burst 1), the next one interval on.
        tokio::time::advance(ms(1000)).await;
        assert_eq!(p.admit(), Ok(()));
        assert_eq!(p.admit(), Err(t0 + ms(1202)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_wake_up_late_by_the_timer_keeps_its_slot_at_fast_rates() {
        // 50 req/s: slots 20.2 ms apart. Every caller woken 3 ms late still
        // leaves the slots behind it on their times: 100 calls take 99 slots
        // less one (the burst's) plus one wake's lateness, not 99 × 23.2 ms.
        let p = Pacer::new(rate(50, 1)).unwrap();
        let t0 = Instant::now();
        for _ in 0..100 {
            admit_late(&p, Duration::from_millis(3)).await;
        }
        let slot = Duration::from_micros(20_200);
        // (tokio's timer wakes on whole milliseconds: up to 1 ms more.)
        assert!(Instant::now() <= t0 + slot * 98 + Duration::from_millis(4));
        assert!(Instant::now() < t0 + slot * 99, "no slot lost");
        // 1,000 req/s, woken 0.9 ms late: the same.
        let p = Pacer::new(rate(1000, 1)).unwrap();
        let t0 = Instant::now();
        for _ in 0..1000 {
            admit_late(&p, Duration::from_micros(900)).await;
        }
        assert!(Instant::now() <= t0 + Duration::from_micros(1010) * 999);
    }

    #[tokio::test(start_paused = true)]
    async fn burst_allows_that_many_at_once_after_idle_then_paces() {
        let p = Pacer::new(rate(10, 3)).unwrap();
        let t0 = Instant::now();
        let slot = Duration::from_millis(101);
        for _ in 0..3 {
            assert_eq!(p.admit(), Ok(()));
        }
        assert_eq!(p.admit(), Err(t0 + slot));
        // Over any long stretch the rate holds: one call per interval.
        for _ in 0..10 {
            admit_late(&p, Duration::ZERO).await;
        }
        assert_eq!(Instant::now(), t0 + slot * 10);
    }

    #[tokio::test(start_paused = true)]
    async fn callers_woken_late_together_do_not_go_in_a_burst() {
        let ms = |k: u64| Duration::from_millis(k);
        let slow = Pacer::new(rate(10, 1)).unwrap();
        let fast = Pacer::new(rate(1000, 1)).unwrap();
        assert_eq!(slow.admit(), Ok(()));
        assert_eq!(fast.admit(), Ok(()));
        // The process stalls; all wake at 300 ms. At 10/s one goes, the
        // next one interval later.
        tokio::time::advance(ms(300)).await;
        let t = Instant::now();
        assert_eq!(slow.admit(), Ok(()));
        assert_eq!(slow.admit(), Err(t + ms(101)));
        // At 1,000/s the burst goes: 5 ms of calls, no more.
        let n = (0..20).filter(|_| fast.admit().is_ok()).count();
        assert_eq!(n, 6);
    }

    #[tokio::test(start_paused = true)]
    async fn a_share_paces_at_its_part_and_a_new_share_takes_effect_at_once() {
        let p = Pacer::new(rate(10, 1)).unwrap();
        let t0 = Instant::now();
        // Two daemons: 5 per 1.01 s each, 202 ms + 1 ms of margin apart.
        p.set_share(2, 0);
        assert_eq!(p.admit(), Ok(()));
        assert_eq!(p.admit(), Err(t0 + Duration::from_millis(203)));
        // Alone again: the whole limit, from a fresh schedule.
        p.set_share(1, 0);
        assert_eq!(p.admit(), Ok(()));
        assert_eq!(p.admit(), Err(t0 + Duration::from_millis(101)));
        // The same share again keeps the schedule.
        p.set_share(1, 0);
        assert_eq!(p.admit(), Err(t0 + Duration::from_millis(101)));
    }

    #[tokio::test(start_paused = true)]
    async fn waiters_go_in_the_order_they_asked_one_interval_apart() {
        let p = Arc::new(Pacer::new(rate(10, 1)).unwrap());
        let t0 = Instant::now();
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..5 {
            let (p, order) = (p.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                p.ready(&|| None).await;
                order.lock().unwrap().push((i, Instant::now() - t0));
            }));
            tokio::task::yield_now().await;
        }
        for t in tasks {
            t.await.unwrap();
        }
        let slot = Duration::from_millis(101);
        assert_eq!(
            *order.lock().unwrap(),
            (0..5).map(|i| (i, slot * i)).collect::<Vec<_>>()
        );
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
