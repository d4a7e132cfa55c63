//! The store traits. `RecordStore` is what the daemon needs for records, the
//! queue and leases; `CallStore` is what the executor needs (cache + ledger).
//! sled implements both today; a PostgreSQL backend implements the same traits
//! (several daemons sharing one queue) without touching the engine.

use super::{CacheEntry, CallBucket, JobEntry, LedgerEntry, StoreError};
use super::{StoredRecord, UpsertSummary};
use crate::model::Record;
use crate::model::Signal;
use chrono::{DateTime, Utc};
use std::time::Duration;

/// One worker step's result, committed atomically: the record (with history),
/// outbox events, and the queue change; the lease is released.
#[derive(Debug, Clone)]
pub struct StepCommit {
    /// The record after the step (history included).
    pub record: StoredRecord,
    /// The lease token the worker holds; a commit with a lost lease is refused.
    pub lease: u64,
    /// Events for the sinks (route changes, with the scoring issue).
    pub outbox: Vec<serde_json::Value>,
    /// When the record is due again (a retry, a value expiring); `None`: idle.
    pub next_due: Option<DateTime<Utc>>,
}

/// A leased record and its token.
#[derive(Debug, Clone)]
pub struct Leased {
    /// The record.
    pub record: StoredRecord,
    /// Token to present at commit.
    pub lease: u64,
}

/// Queue counts for `status`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueueStats {
    /// Records stored.
    pub records: u64,
    /// Queued and due now.
    pub queued_due: u64,
    /// Queued for later.
    pub queued_later: u64,
    /// Leased.
    pub leased: u64,
    /// Leases past expiry.
    pub expired_leases: u64,
    /// Oldest queued due time.
    pub oldest_queued: Option<DateTime<Utc>>,
    /// Oldest lease expiry.
    pub oldest_lease: Option<DateTime<Utc>>,
}

/// How an upsert merges an incoming record into what is stored (the rule lives
/// outside the store): returns the new stored record and whether it changed.
pub type MergeFn<'a> =
    &'a dyn Fn(Option<StoredRecord>, Record, DateTime<Utc>) -> (StoredRecord, bool);

/// Records, queue and leases.
pub trait RecordStore: Send + Sync + std::fmt::Debug + 'static {
    /// Merge input records with `merge` (new ones created) and queue the changed ones now.
    fn upsert(
        &self,
        records: Vec<Record>,
        now: DateTime<Utc>,
        merge: MergeFn<'_>,
    ) -> Result<UpsertSummary, StoreError>;
    /// One record with its queue state.
    fn get(&self, id: &str) -> Result<Option<StoredRecord>, StoreError>;
    /// Lease up to `n` records due at `now`, each for `lease_for`.
    fn lease_due(
        &self,
        now: DateTime<Utc>,
        n: usize,
        lease_for: Duration,
    ) -> Result<Vec<Leased>, StoreError>;
    /// Commit a worker step (record + outbox + queue change + lease release)
    /// atomically. Refused with `LeaseLost` when the lease was recovered, and with
    /// `Superseded` when an upsert changed the record meanwhile (it is queued again).
    fn commit_step(&self, step: StepCommit) -> Result<(), StoreError>;
    /// Give a lease back without changes (shutdown), queueing the record at `due`.
    fn release(&self, id: &str, lease: u64, due: DateTime<Utc>) -> Result<(), StoreError>;
    /// Queue these records at `due` (unknown ids are skipped). Returns how many.
    fn requeue(&self, ids: &[String], due: DateTime<Utc>) -> Result<u64, StoreError>;
    /// Change these records with `f` (which returns whether it changed anything)
    /// and queue them at `due`, one transaction per chunk. Returns how many were queued.
    fn touch(
        &self,
        ids: &[String],
        due: DateTime<Utc>,
        f: &(dyn Fn(&mut StoredRecord) -> bool + Sync),
    ) -> Result<u64, StoreError>;
    /// Return leases to the queue: all of them (start-up after a crash) or only expired ones.
    fn recover_leases(&self, now: DateTime<Utc>, only_expired: bool) -> Result<u64, StoreError>;
    /// Append a signal and queue the record; false when the id is unknown.
    fn add_signal(&self, id: &str, signal: Signal, now: DateTime<Utc>) -> Result<bool, StoreError>;
    /// Ids of the records with behaviour signals (the decay rescan queues them).
    fn signalled(&self) -> Result<Vec<String>, StoreError>;
    /// Visit records in id order until `f` returns false.
    fn scan(&self, f: &mut dyn FnMut(StoredRecord) -> bool) -> Result<(), StoreError>;
    /// Queue counts.
    fn queue_stats(&self, now: DateTime<Utc>) -> Result<QueueStats, StoreError>;
    /// Conflicting values seen in all records.
    fn conflicts(&self) -> Result<u64, StoreError>;
    /// How many records are dead-lettered, and the first `limit` (id, reason).
    fn dead_letters(&self, limit: usize) -> Result<(u64, Vec<(String, String)>), StoreError>;
    /// Stop working on a record whose pass keeps failing (a bug, not a vendor):
    /// the lease ends and the record leaves the queue until re-enriched by id.
    fn dead_letter(&self, id: &str, lease: u64, reason: &str) -> Result<(), StoreError>;
    /// Outbox events after sequence number `after`, oldest first, at most `limit`.
    fn outbox_after(&self, after: u64, limit: usize) -> Result<Vec<(u64, Vec<u8>)>, StoreError>;
    /// The last sequence number `sink` has delivered (0: none).
    fn outbox_cursor(&self, sink: &str) -> Result<u64, StoreError>;
    /// Record that `sink` has delivered everything up to `seq`.
    fn set_outbox_cursor(&self, sink: &str, seq: u64) -> Result<(), StoreError>;
    /// Give up on event `seq` for `sink` (after bounded attempts) and move its cursor past it.
    fn outbox_dead_letter(&self, sink: &str, seq: u64, reason: &str) -> Result<(), StoreError>;
    /// Events `sink` gave up on: count and the last few (seq, reason).
    fn outbox_dead_letters(
        &self,
        sink: &str,
        limit: usize,
    ) -> Result<(u64, Vec<(u64, String)>), StoreError>;
    /// The newest outbox sequence number (0: empty).
    fn outbox_head(&self) -> Result<u64, StoreError>;
    /// The next due time in the queue, if any.
    fn next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError>;
    /// Make everything written so far durable.
    fn flush(&self) -> Result<(), StoreError>;
    /// Take (or keep) the sending of `sink`'s events: false while another
    /// daemon sharing the store sends them, so each event has one sender at a
    /// time. An embedded store has one daemon: always true.
    fn claim_sink(&self, _sink: &str) -> Result<bool, StoreError> {
        Ok(true)
    }
}

/// Cache and ledger, as the executor needs them.
pub trait CallStore: Send + Sync + std::fmt::Debug + 'static {
    /// A fresh cache entry.
    fn cache_get(&self, key: &[u8], now: DateTime<Utc>) -> Result<Option<CacheEntry>, StoreError>;
    /// Record a call: its cache entry (when cacheable) and its ledger row. With
    /// `atomic` (the daemon) both land in one transaction, so a crash can neither
    /// lose a billed call nor make a replay pay again; without (one-off batch
    /// runs) two plain writes, several times cheaper.
    fn record_call(
        &self,
        cache: Option<(&[u8], &CacheEntry)>,
        row: &LedgerEntry,
        atomic: bool,
    ) -> Result<(), StoreError>;
    /// The open asynchronous job recorded for this call key, if any.
    fn job_get(&self, key: &[u8]) -> Result<Option<JobEntry>, StoreError>;
    /// Keep the vendor's posted answer with the open job `job_id` of
    /// `operation`; `None` when no such job is open.
    fn job_deliver(
        &self,
        operation: &str,
        job_id: &str,
        body: &str,
    ) -> Result<Option<JobEntry>, StoreError>;
    /// Remember (`Some`) or forget (`None`) the open job for this call key,
    /// with an optional ledger row (the submit), in one transaction.
    fn job_set(
        &self,
        key: &[u8],
        job: Option<&JobEntry>,
        row: Option<&LedgerEntry>,
    ) -> Result<(), StoreError>;
    /// The pre-aggregated call counters of hours `from_hour..to_hour`
    /// (hours since the epoch), oldest first: what reports and budgets read.
    fn call_buckets(&self, from_hour: u32, to_hour: u32) -> Result<Vec<CallBucket>, StoreError>;
    /// Every ledger row, oldest first.
    fn ledger(&self) -> Result<Vec<LedgerEntry>, StoreError>;
    /// Make recorded calls durable.
    fn flush_calls(&self) -> Result<(), StoreError>;
    /// The learned email local-part pattern of a domain.
    fn email_pattern(&self, domain: &str) -> Result<Option<String>, StoreError>;
    /// Remember a domain's pattern.
    fn set_email_pattern(&self, domain: &str, pattern: &str) -> Result<(), StoreError>;
    /// The pattern an earlier guess used for this person.
    fn guess_memo(
        &self,
        first: &str,
        last: &str,
        domain: &str,
    ) -> Result<Option<String>, StoreError>;
    /// Remember the pattern a guess used for this person.
    fn set_guess_memo(
        &self,
        first: &str,
        last: &str,
        domain: &str,
        pattern: &str,
    ) -> Result<(), StoreError>;
}

/// Budget tallies kept outside the process, shared by every daemon on one
/// store. Caps are named by the budget module (`total|day:2026-12-01`). Each call is atomic across daemons.
pub trait SharedTally: Send + Sync + std::fmt::Debug {
    /// Hold `amount` under every `(cap name, cap)` if all of them fit; else
    /// hold nothing and return the indexes of those that refuse.
    fn reserve(&self, caps: &[(String, f64)], amount: f64) -> Result<Vec<usize>, StoreError>;
    /// Release a hold of `amount` under `caps` and count `credits` spent.
    fn finish(&self, caps: &[String], amount: f64, credits: f64) -> Result<(), StoreError>;
    /// (spent, held) per cap, over every live daemon.
    fn usage(&self, caps: &[String]) -> Result<Vec<(f64, f64)>, StoreError>;
    /// Count `spent` (read from the call counters) under `cap` unless some
    /// daemon already keeps a tally for it.
    fn seed(&self, cap: &str, spent: f64) -> Result<(), StoreError>;
}
