//! The provider executor: sends one provider operation and says what happened.
//! It owns the pooled HTTP client, per-provider pacing, concurrency caps,
//! circuit breakers, the cache and single-flight coalescing, and produces one
//! ledger row per call. Asynchronous vendors are one call too: submit, record
//! the job id durably, poll until the answer (or hand back `pending`; the next
//! call resumes the same job). It knows nothing about waterfalls or scores.
//!
//! One call's path: `execute_keyed` (cache, single flight) → `call` (kill
//! switch, budget) → `vendor.rs` (the loop: circuit, submit or poll, retry)
//! → `attempt.rs` (one paced send, classified) → `booking.rs` (ledger row,
//! cache entry).

mod attempt;
mod booking;
mod circuit;
mod http;
pub use http::LANE_THREAD;
mod job;
mod proxy;
pub use job::{webhook_signature_ok, WebhookError};
mod kill_switch;
mod runtime;
mod vendor;

#[cfg(test)]
mod step_tests;
#[cfg(test)]
mod tests;

pub use circuit::Circuit;
pub use kill_switch::{
    compile_kill_switch, KillRule, KillSwitch, KillSwitchFile, KillSwitchLevel, KillSwitchSettings,
    Pause, Sample,
};
pub use runtime::{share_of, ProviderRuntime, ProviderStats};

use crate::clock::Clock;
use crate::model::{Catalogue, Name};
use crate::provider::{Extracted, Inputs, ProviderSet};
use crate::store::{cache_key, CacheEntry, CachedOutcome, CallStore, LedgerEntry};
use booking::{CallId, Finished, Tally};
use foldhash::HashMap;
use http::Attempt;
use job::{next_poll_wait, Phase};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// The result of one call, as the planner needs it.
#[derive(Debug, Clone, PartialEq)]
pub enum CallOutcome {
    /// Values came back (shared with the cache).
    Hit(std::sync::Arc<Extracted>),
    /// The vendor has nothing.
    NotFound,
    /// The call failed; `retry_after` says when it is worth asking again.
    Failed {
        /// Short kind (`rate_limited`, `transient`, `timeout`, `auth_error`, `circuit_open`, ...).
        kind: &'static str,
        /// Human detail, never containing a key.
        message: String,
        /// When to try again.
        retry_after: Duration,
    },
}

/// Outcome plus the ledger row.
#[derive(Debug, Clone)]
pub struct CallResult {
    /// What happened.
    pub outcome: CallOutcome,
    /// The ledger row (cached and coalesced calls too).
    pub entry: LedgerEntry,
    /// For an answer read from the cache: the paid call that stored it.
    pub paid: Option<Paid>,
}

/// The paid call behind a cached answer, when it was made for the record
/// reading it now: when it was stored, what it cost, and its cache key.
#[derive(Debug, Clone, PartialEq)]
pub struct Paid {
    /// When the answer was stored.
    pub at: chrono::DateTime<chrono::Utc>,
    /// What the vendor billed.
    pub credits: f64,
    /// The call's cache key (a pass may read one answer twice).
    pub key: Vec<u8>,
}

impl CallResult {
    /// The credits this answer costs its record in a pass that started at
    /// `started` from the record as committed at `since`: what this call
    /// paid, plus, for an answer a paid call for the same record cached
    /// between the two, that call's price once per pass (`claimed`) — a pass
    /// killed before its commit paid it, and its replay reads it from the
    /// cache. So per-record credits add up to the ledger after any number of kills.
    pub fn credits_for(
        &self,
        since: chrono::DateTime<chrono::Utc>,
        started: chrono::DateTime<chrono::Utc>,
        claimed: &mut Vec<Vec<u8>>,
    ) -> f64 {
        let earlier = match &self.paid {
            Some(p) if p.at > since && p.at < started && !claimed.contains(&p.key) => {
                claimed.push(p.key.clone());
                p.credits
            }
            _ => 0.0,
        };
        self.entry.credits + earlier
    }
}

type Flight = watch::Receiver<Option<CallResult>>;

tokio::task_local! {
    /// Why the planner chose this operation (a capacity-aware group), for the
    /// ledger row of the call made inside [`Executor::execute_chosen`].
    static CHOICE: Option<String>;
}

/// Sends provider operations. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Executor {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    client: http::Client,
    providers: Arc<ProviderSet>,
    catalogue: Arc<Catalogue>,
    runtimes: HashMap<String, ProviderRuntime>,
    /// Each operation's provider, for ledger rows.
    provider_names: HashMap<Name, Name>,
    store: Arc<dyn CallStore>,
    clock: Arc<dyn Clock>,
    durable: bool,
    /// Credit caps, checked before every call that goes to a vendor.
    budgets: Option<Arc<crate::budget::Budgets>>,
    /// Kill-switch rules per provider (none: off).
    kill_rules: KillSwitchSettings,
    // std Mutex: held only to look up or insert, never across an await.
    inflight: Mutex<HashMap<Vec<u8>, Flight>>,
}

/// Removes the in-flight entry even if the leader is cancelled mid-call, so
/// followers fall back to calling themselves instead of waiting forever.
struct FlightGuard<'a> {
    map: &'a Mutex<HashMap<Vec<u8>, Flight>>,
    key: Vec<u8>,
}

impl Drop for FlightGuard<'_> {
    fn drop(&mut self) {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.key);
    }
}

impl Executor {
    /// Build an executor over a provider set and a store.
    pub fn new(
        providers: Arc<ProviderSet>,
        catalogue: Arc<Catalogue>,
        store: Arc<dyn CallStore>,
        clock: Arc<dyn Clock>,
    ) -> Executor {
        Executor::with_durability(providers, catalogue, store, clock, false)
    }

    /// Like [`Executor::new`]; with `durable`, every call's cache entry and
    /// ledger row are flushed to disk before its answer is used, so a crash
    /// (kill -9) can neither lose a billed call nor make its replay pay again.
    pub fn with_durability(
        providers: Arc<ProviderSet>,
        catalogue: Arc<Catalogue>,
        store: Arc<dyn CallStore>,
        clock: Arc<dyn Clock>,
        durable: bool,
    ) -> Executor {
        let client = http::client();
        let runtimes = providers
            .iter()
            .map(|p| (p.id.clone(), ProviderRuntime::new(p)))
            .collect();
        let provider_names = providers
            .iter()
            .flat_map(|p| {
                p.operations
                    .iter()
                    .map(|o| (Name::new(&o.id), Name::new(&p.id)))
            })
            .collect();
        Executor {
            inner: Arc::new(Inner {
                client,
                providers,
                catalogue,
                runtimes,
                provider_names,
                store,
                clock,
                durable,
                budgets: None,
                kill_rules: KillSwitchSettings::default(),
                inflight: Mutex::new(HashMap::default()),
            }),
        }
    }

    /// Enforce these budgets. Call right after building, before the executor is cloned.
    pub fn with_budgets(mut self, budgets: Arc<crate::budget::Budgets>) -> Executor {
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => inner.budgets = Some(budgets),
            // A broken invariant of the wiring code, not a runtime condition.
            None => panic!("with_budgets called on a shared executor"),
        }
        self
    }

    /// Apply these kill-switch rules. Call right after building, before the executor is cloned.
    pub fn with_kill_switch(mut self, rules: KillSwitchSettings) -> Executor {
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => inner.kill_rules = rules,
            None => panic!("with_kill_switch called on a shared executor"),
        }
        self
    }

    /// Lift the kill switch's pause of `provider` by hand: `Ok(Some(pause))`
    /// when it was paused, `Ok(None)` when not, `Err` for an unknown provider.
    pub fn resume(&self, provider: &str) -> Result<Option<Pause>, String> {
        let rt = self
            .inner
            .runtimes
            .get(provider)
            .ok_or_else(|| format!("no provider {provider:?}"))?;
        let lifted = rt.kill.lock().unwrap_or_else(|e| e.into_inner()).resume();
        if let Some(p) = &lifted {
            tracing::warn!(provider, reason = %p.reason, "provider resumed by hand");
        }
        Ok(lifted)
    }

    /// The kill switch's pause of `provider` in force now, if any.
    pub fn paused(&self, provider: &str) -> Option<Pause> {
        let rt = self.inner.runtimes.get(provider)?;
        let now = self.inner.clock.now();
        let mut k = rt.kill.lock().unwrap_or_else(|e| e.into_inner());
        match k.check(now) {
            Ok(p) => p.cloned(),
            Err(_) => None,
        }
    }

    /// The budgets enforced, if any.
    pub fn budgets(&self) -> Option<&Arc<crate::budget::Budgets>> {
        self.inner.budgets.as_ref()
    }

    /// The providers.
    pub fn providers(&self) -> &ProviderSet {
        &self.inner.providers
    }

    /// The store.
    pub fn store(&self) -> &dyn CallStore {
        self.inner.store.as_ref()
    }

    /// The store, shared (a reloaded executor keeps it).
    pub fn shared_store(&self) -> Arc<dyn CallStore> {
        self.inner.store.clone()
    }

    /// A provider's runtime state.
    pub fn runtime(&self, provider: &str) -> Option<&ProviderRuntime> {
        self.inner.runtimes.get(provider)
    }

    /// [`Executor::execute`], recording in the ledger row why the planner
    /// chose this operation.
    pub async fn execute_chosen(
        &self,
        operation: &str,
        inputs: &Inputs,
        record_id: Option<&str>,
        choice: Option<String>,
    ) -> CallResult {
        let key = cache_key(operation, inputs);
        self.execute_scoped(operation, inputs, record_id, choice, key, false)
            .await
    }

    /// A call answered from the cache now, recorded in the ledger like any
    /// call, without a future per call: a repeat pass answers nearly every
    /// call here, and building the call's future (sized for the HTTP path)
    /// cost more than the answer. `Err(key)`: not cached, or the store is
    /// durable (the daemon flushes after recording, an await); hand the key
    /// to [`Executor::execute_looked_up`]. `now` is the caller's clock
    /// reading (the planning round's), used for freshness and the row's
    /// time; a cache read takes no measurable time, so none is measured.
    pub fn answer_from_cache(
        &self,
        operation: Name,
        inputs: &Inputs,
        record_id: Option<&str>,
        choice: Option<String>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<CallResult, Vec<u8>> {
        let key = cache_key(&operation, inputs);
        if self.inner.durable {
            return Err(key);
        }
        let Some(mut res) = self.cache_answer(&key, operation, record_id, None, now) else {
            return Err(key);
        };
        res.entry.choice = choice;
        self.record_now(&key, None, &res.entry);
        Ok(res)
    }

    /// The cached answer for `key` as a call's result (not yet recorded);
    /// `None` when absent, expired or unreadable (then the provider is asked).
    /// `started`: when the call began, for its latency (`None`: 0 ms).
    fn cache_answer(
        &self,
        key: &[u8],
        operation: Name,
        record_id: Option<&str>,
        started: Option<Instant>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Option<CallResult> {
        match self.inner.store.cache_get(key, now) {
            Ok(entry) => entry.map(|e| {
                let latency_ms = started.map_or(0, |s| s.elapsed().as_millis() as u64);
                self.cached(key, operation, record_id, e, latency_ms, now)
            }),
            Err(e) => {
                tracing::warn!(%operation, error = %e, "cache read failed; calling the provider");
                None
            }
        }
    }

    /// [`Executor::execute_chosen`] after [`Executor::answer_from_cache`]
    /// missed with `key`: the cache is not read again before the first
    /// single-flight check (it was just read).
    pub async fn execute_looked_up(
        &self,
        operation: &str,
        inputs: &Inputs,
        record_id: Option<&str>,
        choice: Option<String>,
        key: Vec<u8>,
    ) -> CallResult {
        let looked_up = !self.inner.durable;
        self.execute_scoped(operation, inputs, record_id, choice, key, looked_up)
            .await
    }

    /// [`Executor::execute_keyed`] with `choice` readable by the ledger row.
    async fn execute_scoped(
        &self,
        operation: &str,
        inputs: &Inputs,
        record_id: Option<&str>,
        choice: Option<String>,
        key: Vec<u8>,
        looked_up: bool,
    ) -> CallResult {
        let call = self.execute_keyed(operation, inputs, record_id, key, looked_up);
        CHOICE.scope(choice, call).await
    }

    /// Seconds until `operation`'s vendor can take another call: the calls
    /// already waiting for it over its rate, plus any pause it asked for.
    pub fn wait_estimate(&self, operation: &str) -> f64 {
        let provider = crate::provider::provider_of(operation);
        let (Some(rt), Some(p)) = (
            self.inner.runtimes.get(provider),
            self.inner.providers.get(provider),
        ) else {
            return 0.0;
        };
        rt.expected_wait(p.rate.map(|r| r.per_second()))
    }

    /// Expected seconds to a value from `operation`: its vendor's wait over
    /// the vendor's observed hit rate (a miss means asking another vendor
    /// after all), so a group prefers the slower queue of a better source.
    pub fn fill_wait(&self, operation: &str) -> f64 {
        let provider = crate::provider::provider_of(operation);
        let hit_rate = self.inner.runtimes.get(provider).map_or(1.0, |rt| {
            let hits = rt.stats.hits.load(std::sync::atomic::Ordering::Relaxed) as f64;
            let answered = rt.stats.answered.load(std::sync::atomic::Ordering::Relaxed) as f64;
            // Laplace: no evidence reads as one hit in two.
            (hits + 1.0) / (answered + 2.0)
        });
        self.wait_estimate(operation) / hit_rate
    }

    /// Run `operation` with `inputs` (only the fields it reads), for `record_id`.
    pub async fn execute(
        &self,
        operation: &str,
        inputs: &Inputs,
        record_id: Option<&str>,
    ) -> CallResult {
        let key = cache_key(operation, inputs);
        self.execute_keyed(operation, inputs, record_id, key, false)
            .await
    }

    /// [`Executor::execute`] with its cache key; `looked_up`: the cache was
    /// read for it just now, so the first round goes straight to single flight.
    async fn execute_keyed(
        &self,
        operation: &str,
        inputs: &Inputs,
        record_id: Option<&str>,
        key: Vec<u8>,
        mut looked_up: bool,
    ) -> CallResult {
        let started = Instant::now();
        loop {
            let cached = if std::mem::take(&mut looked_up) {
                None
            } else {
                let now = self.inner.clock.now();
                self.cache_answer(&key, Name::new(operation), record_id, Some(started), now)
            };
            if let Some(res) = cached {
                self.record(&key, None, &res.entry).await;
                return res;
            }
            // Single flight: the first caller calls, identical callers wait for its answer.
            let tx = match self.join_flight(&key) {
                Ok(tx) => tx,
                Err(mut rx) => {
                    let Ok(done) = rx.wait_for(Option::is_some).await.map(|v| v.clone()) else {
                        continue; // the leader went away: try again ourselves
                    };
                    let Some(res) = done else { continue };
                    let res = self.coalesced(res, record_id, started);
                    self.record(&key, None, &res.entry).await;
                    return res;
                }
            };
            let _guard = FlightGuard {
                map: &self.inner.inflight,
                key: key.clone(),
            };
            let id = CallId {
                key: &key,
                operation,
                record_id,
                started,
            };
            let (result, cache) = self.call(id, inputs).await;
            self.count(&result);
            // Durable before anyone (followers included) acts on the answer.
            self.record(&key, cache, &result.entry).await;
            self.close_job(operation, &key, &result.outcome).await;
            let _ = tx.send(Some(result.clone()));
            return result;
        }
    }

    /// Lead the call for `key` (`Ok`: the sender its followers wait on), or
    /// follow the call already in flight (`Err`: its receiver).
    fn join_flight(&self, key: &[u8]) -> Result<watch::Sender<Option<CallResult>>, Flight> {
        let mut map = self
            .inner
            .inflight
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        match map.get(key) {
            Some(rx) => Err(rx.clone()),
            None => {
                let (tx, rx) = watch::channel(None);
                map.insert(key.to_vec(), rx);
                Ok(tx)
            }
        }
    }

    /// Count a led call in its provider's statistics.
    fn count(&self, result: &CallResult) {
        let Some(rt) = self.inner.runtimes.get(result.entry.provider.as_str()) else {
            return;
        };
        match result.outcome {
            // Nothing was sent: not the provider's failure.
            CallOutcome::Failed {
                kind: crate::store::OUTCOME_BUDGET | crate::store::OUTCOME_PAUSED,
                ..
            } => {}
            CallOutcome::Failed { .. } => ProviderStats::bump(&rt.stats.failed),
            CallOutcome::Hit(_) => {
                ProviderStats::bump(&rt.stats.answered);
                ProviderStats::bump(&rt.stats.hits);
            }
            _ => ProviderStats::bump(&rt.stats.answered),
        }
    }

    /// Make recorded calls durable (off the async threads).
    async fn flush(&self) {
        let store = self.inner.store.clone();
        match tokio::task::spawn_blocking(move || store.flush_calls()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "could not flush the call ledger"),
            Err(e) => tracing::error!(error = %e, "ledger flush task failed"),
        }
    }

    /// Write the ledger row (and the cache entry of a fresh answer) in one transaction.
    async fn record(&self, key: &[u8], cache: Option<CacheEntry>, row: &LedgerEntry) {
        self.record_now(key, cache.as_ref(), row);
        if self.inner.durable {
            self.flush().await;
        }
    }

    /// Write the call's row (and cache entry) to the store.
    fn record_now(&self, key: &[u8], cache: Option<&CacheEntry>, row: &LedgerEntry) {
        if let Err(e) =
            self.inner
                .store
                .record_call(cache.map(|c| (key, c)), row, self.inner.durable)
        {
            tracing::error!(error = %e, operation = %row.operation, "could not record a provider call");
        }
    }

    fn cached(
        &self,
        key: &[u8],
        operation: Name,
        record_id: Option<&str>,
        entry: CacheEntry,
        latency_ms: u64,
        at: chrono::DateTime<chrono::Utc>,
    ) -> CallResult {
        let provider = crate::provider::provider_of(&operation);
        if let Some(rt) = self.inner.runtimes.get(provider) {
            ProviderStats::bump(&rt.stats.cached);
        }
        let paid = (entry.credits > 0.0
            && entry.paid_for.is_some()
            && entry.paid_for.as_deref() == record_id)
            .then(|| Paid {
                at: entry.stored_at,
                credits: entry.credits,
                key: key.to_vec(),
            });
        let (outcome, kind) = match entry.outcome {
            CachedOutcome::Hit { extracted } => (CallOutcome::Hit(extracted), crate::name!("hit")),
            CachedOutcome::NotFound => (CallOutcome::NotFound, crate::name!("not_found")),
        };
        let row = LedgerEntry {
            cached: true,
            saved_credits: entry.credits,
            fields: filled_fields(&outcome),
            ..self.row(at, operation, record_id, kind, latency_ms)
        };
        CallResult {
            paid,
            outcome,
            entry: row,
        }
    }

    fn coalesced(&self, res: CallResult, record_id: Option<&str>, started: Instant) -> CallResult {
        let mut entry = res.entry.clone();
        entry.record_id = record_id.map(str::to_string);
        entry.cached = true;
        entry.saved_credits = entry.credits;
        entry.credits = 0.0;
        entry.attempts = 0;
        entry.throttled = 0;
        entry.latency_ms = started.elapsed().as_millis() as u64;
        if let Some(rt) = self.inner.runtimes.get(entry.provider.as_str()) {
            ProviderStats::bump(&rt.stats.cached);
        }
        CallResult {
            paid: None,
            outcome: res.outcome,
            entry,
        }
    }

    /// The real call under the kill switch and the budgets: a reservation of
    /// the operation's worst-case cost is taken first and settled with what was billed.
    async fn call(&self, id: CallId<'_>, inputs: &Inputs) -> Finished {
        let provider_id = crate::provider::provider_of(id.operation);
        let rt = self.inner.runtimes.get(provider_id);
        if let Some(refused) = rt.and_then(|rt| self.refuse_paused(id, provider_id, rt)) {
            return (refused, None);
        }
        let reservation = match self.reserve(id) {
            Ok(r) => r,
            Err(refused) => return (*refused, None),
        };
        let (result, cache) = self.call_vendor(id, inputs).await;
        if let Some(r) = reservation {
            r.settle(result.entry.credits);
        }
        if let Some(rt) = rt {
            self.judge(provider_id, rt, &result.outcome);
        }
        (result, cache)
    }

    /// The refusal of a call to a provider the kill switch has paused.
    fn refuse_paused(
        &self,
        id: CallId<'_>,
        provider_id: &str,
        rt: &ProviderRuntime,
    ) -> Option<CallResult> {
        let now = self.inner.clock.now();
        let mut kill = rt.kill.lock().unwrap_or_else(|e| e.into_inner());
        match kill.check(now) {
            Ok(Some(p)) => {
                let wait = (p.until - now).to_std().unwrap_or_default();
                let message = format!(
                    "{provider_id} is paused by the kill switch until {}: {}",
                    p.until.to_rfc3339(),
                    p.reason
                );
                drop(kill);
                Some(self.not_made(id, crate::store::OUTCOME_PAUSED, message, wait))
            }
            Ok(None) => None,
            Err(lifted) => {
                tracing::warn!(provider = provider_id, reason = %lifted.reason, "provider resumed after its cool-down");
                None
            }
        }
    }

    /// Hold the operation's worst-case cost under the budgets (`None`: no
    /// budgets, or an unknown operation); `Err` is the refused call (boxed:
    /// refusals are rare, reservations are not).
    fn reserve(
        &self,
        id: CallId<'_>,
    ) -> Result<Option<crate::budget::Reservation>, Box<CallResult>> {
        let (Some(budgets), Some((provider, op))) = (
            &self.inner.budgets,
            self.inner.providers.operation(id.operation),
        ) else {
            return Ok(None);
        };
        let now = self.inner.clock.now();
        match budgets.reserve(&provider.id, op.max_cost(), now) {
            Ok(r) => Ok(Some(r)),
            Err(exhausted) => {
                let wait = (exhausted.reset_at - now).to_std().unwrap_or_default();
                let message = exhausted.to_string();
                let refused = self.not_made(id, crate::store::OUTCOME_BUDGET, message, wait);
                Err(Box::new(refused))
            }
        }
    }

    /// A call refused before it was sent (budget, kill switch): no attempt, nothing billed.
    fn not_made(
        &self,
        id: CallId<'_>,
        kind: &'static str,
        message: String,
        retry_after: Duration,
    ) -> CallResult {
        let (mut result, _) = self.failed(id, kind, message, retry_after, Tally::default());
        result.entry.latency_ms = 0;
        result
    }

    /// Feed a vendor call's outcome to the provider's kill switch.
    fn judge(&self, provider: &str, rt: &ProviderRuntime, outcome: &CallOutcome) {
        let Some(rule) = self.inner.kill_rules.providers.get(provider) else {
            return;
        };
        let sample = match outcome {
            CallOutcome::Hit(_) => Sample::Hit,
            CallOutcome::NotFound => Sample::Miss,
            // Throttling and an open circuit say nothing about the data; the
            // circuit breaker handles a vendor that is down.
            CallOutcome::Failed {
                kind: "rate_limited" | "circuit_open" | "disabled",
                ..
            } => return,
            CallOutcome::Failed { .. } => Sample::Error,
        };
        let now = self.inner.clock.now();
        let tripped = rt
            .kill
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .record(sample, rule, now);
        if let Some(p) = tripped {
            tracing::warn!(provider, reason = %p.reason, until = %p.until.to_rfc3339(), "kill switch: provider paused");
        }
    }

    /// Slow down when the vendor says its window is used up.
    fn observe_rate_headers(
        &self,
        p: &crate::provider::Provider,
        rt: &ProviderRuntime,
        headers: &[(String, String)],
    ) {
        if let Some(wait) = rate_header_wait(p, headers, || self.inner.clock.now()) {
            rt.pause(Instant::now() + wait);
        }
    }
}

/// How long every call to `p` waits after an answer with these headers:
/// `None` unless its `remaining` header says the window is used up; then
/// until the `reset` header's time (or one slot of our pace), at most
/// `max_retry_after`. `now` is asked only then. Public (hidden) only so the
/// fuzz targets reach it.
#[doc(hidden)]
pub fn rate_header_wait(
    p: &crate::provider::Provider,
    headers: &[(String, String)],
    now: impl FnOnce() -> chrono::DateTime<chrono::Utc>,
) -> Option<Duration> {
    let rem_name = p.rate_headers.remaining.as_ref()?;
    let get = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.trim())
    };
    let remaining = get(rem_name).and_then(remaining_count)?;
    if remaining > 0.0 {
        return None;
    }
    let now = now();
    let reset = p
        .rate_headers
        .reset
        .as_deref()
        .and_then(get)
        .and_then(|v| reset_secs(v, now))
        // No reset given: a vendor that counts in a token bucket has the
        // next call's room one slot of our pace from now (1 s unpaced);
        // one that does not answers 429 with Retry-After, honoured then.
        .unwrap_or_else(|| p.rate.map_or(1.0, |r| 1.0 / r.per_second()))
        .min(p.retry.max_retry_after.as_secs_f64())
        // A reset of `-5` seconds: no wait (from_secs_f64 panics below 0).
        .max(0.0);
    Some(Duration::from_secs_f64(reset))
}

/// Requests left according to a rate header: a number, or a JSON object of
/// windows (`{"minute": 0, "day": 90}`), whose smallest number counts.
fn remaining_count(v: &str) -> Option<f64> {
    if let Ok(n) = v.parse::<f64>() {
        return Some(n);
    }
    let obj: serde_json::Map<String, serde_json::Value> = serde_json::from_str(v).ok()?;
    obj.values()
        .filter_map(|x| x.as_f64().or_else(|| x.as_str()?.parse().ok()))
        .min_by(f64::total_cmp)
}

/// Seconds until a rate window resets: small numbers are seconds, large ones
/// Unix timestamps; RFC 3339 and `YYYY-MM-DD HH:MM:SS` (UTC) times are read too.
fn reset_secs(v: &str, now: chrono::DateTime<chrono::Utc>) -> Option<f64> {
    if let Ok(n) = v.parse::<f64>() {
        return Some(if n > 1e9 {
            (n - now.timestamp() as f64).max(0.0)
        } else {
            n
        });
    }
    let at = chrono::DateTime::parse_from_rfc3339(v)
        .map(|t| t.with_timezone(&chrono::Utc))
        .or_else(|_| {
            chrono::NaiveDateTime::parse_from_str(v, "%Y-%m-%d %H:%M:%S").map(|t| t.and_utc())
        })
        .ok()?;
    Some(((at - now).num_milliseconds() as f64 / 1000.0).max(0.0))
}

/// The fields a hit carried values for.
fn filled_fields(o: &CallOutcome) -> Vec<crate::model::Name> {
    match o {
        CallOutcome::Hit(ex) => ex.values.iter().map(|(f, _, _)| *f).collect(),
        _ => Vec::new(),
    }
}
