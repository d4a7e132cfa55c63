//! Credit budgets, enforced before a call is made: daily and monthly caps for
//! all providers together and per provider. A call first takes a reservation
//! of its worst-case cost under every cap that applies, so concurrent workers
//! can never overshoot a cap together; when the call returns, the reservation
//! is settled with what the vendor billed. A call that does not fit is refused
//! with the time the blocking cap resets (the next UTC day or month).
//!
//! Spending so far is read back from the store's call counters at start, so a
//! restart keeps counting the current day and month. The per-record ceiling
//! is the planner's (it needs no shared state).
//!
//! Several daemons on one database share their caps through a
//! [`SharedTally`] (the PostgreSQL store's): a reservation is then one
//! transaction that checks every cap across all members before holding.

mod config;

#[cfg(test)]
mod tests;

pub use config::{compile_budgets, BudgetFile, BudgetSettings, Caps, CapsFile};

use crate::store::{hour_of, CallStore, StoreError};
use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Slack for float sums of credits.
const EPSILON: f64 = 1e-9;

/// A budget period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Period {
    Day(NaiveDate),
    Month(i32, u32),
}

impl Period {
    fn day(t: DateTime<Utc>) -> Period {
        Period::Day(t.date_naive())
    }

    fn month(t: DateTime<Utc>) -> Period {
        Period::Month(t.year(), t.month())
    }

    /// When the next period starts.
    fn reset_at(self) -> DateTime<Utc> {
        let date = match self {
            Period::Day(d) => d.succ_opt().unwrap_or(d),
            Period::Month(y, m) => {
                let (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                NaiveDate::from_ymd_opt(y, m, 1).unwrap_or_default()
            }
        };
        Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0).unwrap_or_default())
    }

    fn name(self) -> &'static str {
        match self {
            Period::Day(_) => "daily",
            Period::Month(..) => "monthly",
        }
    }
}

/// Whose cap: all providers together (`None`) or one provider.
type Scope = Option<String>;

#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    spent: f64,
    reserved: f64,
}

/// Why a call was refused.
#[derive(Debug, Clone, PartialEq)]
pub struct Exhausted {
    /// Which cap (`personapi daily budget of 100 credits`).
    pub cap: String,
    /// When every cap that refused resets.
    pub reset_at: DateTime<Utc>,
}

impl std::fmt::Display for Exhausted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} exhausted until {}",
            self.cap,
            self.reset_at.to_rfc3339()
        )
    }
}

/// Used and left of one cap, for reports and `status`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BudgetUse {
    /// `total` or the provider id.
    pub scope: String,
    /// `daily` or `monthly`.
    pub period: String,
    /// The cap.
    pub cap: f64,
    /// Spent in the current period.
    pub used: f64,
    /// Held by calls in flight.
    pub reserved: f64,
    /// What is left.
    pub left: f64,
    /// When the period resets.
    pub resets_at: DateTime<Utc>,
}

/// The budget ledger of a running process. Cheap to share (`Arc`).
#[derive(Debug)]
pub struct Budgets {
    settings: BudgetSettings,
    // std Mutex: held for a few map updates, never across an await.
    tallies: Mutex<HashMap<(Scope, Period), Tally>>,
    /// Tallies shared with other daemons; when set, `tallies` is unused.
    shared: Option<Arc<dyn SharedTally>>,
}

pub use crate::store::SharedTally;

/// The shared name of a cap: `total|day:2026-12-01`, `personapi|month:2026-12`.
fn cap_name((scope, period): &(Scope, Period)) -> String {
    let who = scope.as_deref().unwrap_or("total");
    match period {
        Period::Day(d) => format!("{who}|day:{d}"),
        Period::Month(y, m) => format!("{who}|month:{y:04}-{m:02}"),
    }
}

/// Credits held for one call; settle it with what was billed. Dropped
/// unsettled (a cancelled call), it releases the hold.
#[derive(Debug)]
pub struct Reservation {
    budgets: Arc<Budgets>,
    keys: Vec<(Scope, Period)>,
    amount: f64,
    settled: bool,
}

impl Reservation {
    /// The call billed `credits`: release the hold and count the spend.
    pub fn settle(mut self, credits: f64) {
        self.budgets.finish(&self.keys, self.amount, credits);
        self.settled = true;
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if !self.settled {
            self.budgets.finish(&self.keys, self.amount, 0.0);
        }
    }
}

impl Budgets {
    /// Budgets with nothing spent yet.
    pub fn new(settings: BudgetSettings) -> Budgets {
        Budgets {
            settings,
            tallies: Mutex::new(HashMap::new()),
            shared: None,
        }
    }

    /// Budgets whose tallies live in `shared` (several daemons), seeded with
    /// this month's spending from the store's call counters the first time.
    pub fn shared(
        settings: BudgetSettings,
        shared: Arc<dyn SharedTally>,
        store: &dyn CallStore,
        now: DateTime<Utc>,
    ) -> Result<Budgets, StoreError> {
        let local = Budgets::load(settings, store, now)?;
        let seeds: Vec<(String, f64)> = local
            .lock()
            .iter()
            .filter(|(_, t)| t.spent > 0.0)
            .map(|(k, t)| (cap_name(k), t.spent))
            .collect();
        for (cap, spent) in seeds {
            shared.seed(&cap, spent)?;
        }
        Ok(Budgets {
            settings: local.settings,
            tallies: Mutex::new(HashMap::new()),
            shared: Some(shared),
        })
    }

    /// Budgets with this month's spending so far read from the store's call counters.
    pub fn load(
        settings: BudgetSettings,
        store: &dyn CallStore,
        now: DateTime<Utc>,
    ) -> Result<Budgets, StoreError> {
        let b = Budgets::new(settings);
        if b.settings.is_empty() {
            return Ok(b);
        }
        let month_start = Period::month(now);
        let from = match month_start {
            Period::Month(y, m) => Utc
                .with_ymd_and_hms(y, m, 1, 0, 0, 0)
                .single()
                .unwrap_or(now),
            Period::Day(_) => now,
        };
        let buckets = store.call_buckets(hour_of(from), hour_of(now) + 1)?;
        {
            let mut t = b.lock();
            for bucket in buckets {
                let at = Utc
                    .timestamp_opt(i64::from(bucket.hour) * 3600, 0)
                    .single()
                    .unwrap_or(now);
                for key in b.keys(bucket.provider(), at) {
                    t.entry(key).or_default().spent += bucket.stats.credits;
                }
            }
        }
        Ok(b)
    }

    /// The settings.
    pub fn settings(&self) -> &BudgetSettings {
        &self.settings
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(Scope, Period), Tally>> {
        self.tallies.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The caps that apply to `provider` at `at`, with their keys.
    fn caps(&self, provider: &str, at: DateTime<Utc>) -> Vec<((Scope, Period), f64)> {
        let mut out = Vec::new();
        let mut push = |scope: Scope, caps: &Caps| {
            if let Some(c) = caps.daily {
                out.push(((scope.clone(), Period::day(at)), c));
            }
            if let Some(c) = caps.monthly {
                out.push(((scope, Period::month(at)), c));
            }
        };
        push(None, &self.settings.total);
        if let Some(caps) = self.settings.providers.get(provider) {
            push(Some(provider.to_string()), caps);
        }
        out
    }

    fn keys(&self, provider: &str, at: DateTime<Utc>) -> Vec<(Scope, Period)> {
        self.caps(provider, at)
            .into_iter()
            .map(|(k, _)| k)
            .collect()
    }

    /// Hold `amount` credits (the call's worst case) for a call to `provider`
    /// at `now`, or say which cap refuses it and when that cap resets.
    pub fn reserve(
        self: &Arc<Self>,
        provider: &str,
        amount: f64,
        now: DateTime<Utc>,
    ) -> Result<Reservation, Exhausted> {
        let caps = self.caps(provider, now);
        if let Some(shared) = &self.shared {
            return self.reserve_shared(shared.as_ref(), caps, amount);
        }
        let mut t = self.lock();
        let refused: Vec<&((Scope, Period), f64)> = caps
            .iter()
            .filter(|(key, cap)| {
                let tally = t.get(key).copied().unwrap_or_default();
                tally.spent + tally.reserved + amount > cap + EPSILON
            })
            .collect();
        if let Some(last) = refused.iter().max_by_key(|((_, p), _)| p.reset_at()) {
            let ((scope, period), cap) = last;
            let who = scope.as_deref().unwrap_or("total");
            return Err(Exhausted {
                cap: format!("{who} {} budget of {cap} credits", period.name()),
                reset_at: period.reset_at(),
            });
        }
        let keys: Vec<(Scope, Period)> = caps.into_iter().map(|(k, _)| k).collect();
        for k in &keys {
            t.entry(k.clone()).or_default().reserved += amount;
        }
        Ok(Reservation {
            budgets: self.clone(),
            keys,
            amount,
            settled: false,
        })
    }

    /// [`Budgets::reserve`] through the shared tally. A store error refuses
    /// the call (an unchecked call could overshoot a cap).
    fn reserve_shared(
        self: &Arc<Self>,
        shared: &dyn SharedTally,
        caps: Vec<((Scope, Period), f64)>,
        amount: f64,
    ) -> Result<Reservation, Exhausted> {
        let named: Vec<(String, f64)> = caps.iter().map(|(k, c)| (cap_name(k), *c)).collect();
        let refused = match shared.reserve(&named, amount) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "cannot reserve budget in the store; refusing the call");
                (0..caps.len()).collect()
            }
        };
        if let Some(((scope, period), cap)) = refused
            .iter()
            .filter_map(|i| caps.get(*i))
            .max_by_key(|((_, p), _)| p.reset_at())
        {
            let who = scope.as_deref().unwrap_or("total");
            return Err(Exhausted {
                cap: format!("{who} {} budget of {cap} credits", period.name()),
                reset_at: period.reset_at(),
            });
        }
        Ok(Reservation {
            budgets: self.clone(),
            keys: caps.into_iter().map(|(k, _)| k).collect(),
            amount,
            settled: false,
        })
    }

    fn finish(&self, keys: &[(Scope, Period)], amount: f64, credits: f64) {
        if let Some(shared) = &self.shared {
            let names: Vec<String> = keys.iter().map(cap_name).collect();
            if let Err(e) = shared.finish(&names, amount, credits) {
                tracing::error!(error = %e, credits, "cannot settle a budget reservation in the store");
            }
            return;
        }
        let mut t = self.lock();
        for k in keys {
            let tally = t.entry(k.clone()).or_default();
            tally.reserved = (tally.reserved - amount).max(0.0);
            tally.spent += credits;
        }
    }

    /// Every cap with what is used and left in the period holding `now`.
    pub fn usage(&self, now: DateTime<Utc>) -> Vec<BudgetUse> {
        let mut t = self.lock().clone();
        if let Some(shared) = &self.shared {
            t = self.shared_tallies(shared.as_ref(), now);
        }
        let mut out = Vec::new();
        let mut scopes: Vec<(Scope, &Caps)> = vec![(None, &self.settings.total)];
        scopes.extend(
            self.settings
                .providers
                .iter()
                .map(|(p, c)| (Some(p.clone()), c)),
        );
        for (scope, caps) in scopes {
            for (period, cap) in [
                (Period::day(now), caps.daily),
                (Period::month(now), caps.monthly),
            ] {
                let Some(cap) = cap else { continue };
                let tally = t.get(&(scope.clone(), period)).copied().unwrap_or_default();
                out.push(BudgetUse {
                    scope: scope.clone().unwrap_or_else(|| "total".to_string()),
                    period: period.name().to_string(),
                    cap,
                    used: tally.spent,
                    reserved: tally.reserved,
                    left: (cap - tally.spent - tally.reserved).max(0.0),
                    resets_at: period.reset_at(),
                });
            }
        }
        out
    }
}

impl Budgets {
    /// The shared tallies of every cap at `now` (empty on a store error).
    fn shared_tallies(
        &self,
        shared: &dyn SharedTally,
        now: DateTime<Utc>,
    ) -> HashMap<(Scope, Period), Tally> {
        let mut keys: Vec<(Scope, Period)> = Vec::new();
        for scope in std::iter::once(None).chain(self.settings.providers.keys().cloned().map(Some))
        {
            keys.push((scope.clone(), Period::day(now)));
            keys.push((scope, Period::month(now)));
        }
        let names: Vec<String> = keys.iter().map(cap_name).collect();
        match shared.usage(&names) {
            Ok(u) => keys
                .into_iter()
                .zip(u)
                .map(|(k, (spent, reserved))| (k, Tally { spent, reserved }))
                .collect(),
            Err(e) => {
                tracing::error!(error = %e, "cannot read budget usage from the store");
                HashMap::new()
            }
        }
    }
}
