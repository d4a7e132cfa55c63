//! sled implementation of [`RecordStore`] and [`CallStore`]. Key layout:
//! `records` id → JSON; `queue` due_ms‖id → ""; `queued` id → due_ms;
//! `leases` id → expiry_ms‖token; `ledger` seq → JSON; `outbox` seq → JSON.
//! Every multi-tree change is one sled transaction.

use super::traits::{CallStore, Leased, MergeFn, QueueStats, RecordStore, StepCommit};
use super::{CacheEntry, CallBucket, CallStats, LedgerEntry, Store, StoreError};
use crate::model::Record;
use crate::model::Signal;
use crate::store::{QueueState, StoredRecord, UpsertSummary};
use chrono::{DateTime, TimeZone, Utc};
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};
use sled::Transactional;
use std::sync::atomic::Ordering;
use std::time::Duration;

fn ms(t: DateTime<Utc>) -> u64 {
    t.timestamp_millis().max(0) as u64
}

fn at(ms: u64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms as i64)
        .single()
        .unwrap_or_default()
}

/// `meta` key: number of records.
pub(super) const META_RECORDS: &[u8] = b"records";
/// `meta` key: conflicts seen in all records.
pub(super) const META_CONFLICTS: &[u8] = b"conflicts";

/// Add `delta` to a counter inside a transaction.
fn bump(meta: &TransactionalTree, key: &[u8], delta: i64) -> Result<(), Tx> {
    if delta == 0 {
        return Ok(());
    }
    let cur = meta.get(key)?.map_or(0, |v| u64_at(&v, 0));
    let next = (cur as i64 + delta).max(0) as u64;
    meta.insert(key, &next.to_be_bytes())?;
    Ok(())
}

fn queue_key(due: u64, id: &str) -> Vec<u8> {
    let mut k = due.to_be_bytes().to_vec();
    k.extend_from_slice(id.as_bytes());
    k
}

fn u64_at(b: &[u8], i: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[i..i + 8]);
    u64::from_be_bytes(a)
}

fn corrupt(what: &'static str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        what,
        message: e.to_string(),
    }
}

fn encode(r: &StoredRecord) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(r).map_err(|e| corrupt("record", e))
}

/// Marks a store whose `signalled` tree is complete (stores from before it
/// get it built once at open).
const META_SIGNALLED: &[u8] = b"signalled_index";

/// The `signalled` tree, built from the records the first time.
pub(super) fn open_signalled(db: &sled::Db) -> Result<sled::Tree, StoreError> {
    let tree = db.open_tree("signalled")?;
    let meta = db.open_tree("meta")?;
    if meta.get(META_SIGNALLED)?.is_none() {
        for item in db.open_tree("records")?.iter() {
            let (k, b) = item?;
            if !decode(&b)?.signals.is_empty() {
                tree.insert(k, &[])?;
            }
        }
        meta.insert(META_SIGNALLED, &[1])?;
    }
    Ok(tree)
}

fn decode(b: &[u8]) -> Result<StoredRecord, StoreError> {
    serde_json::from_slice(b).map_err(|e| corrupt("record", e))
}

type Tx = ConflictableTransactionError<StoreError>;

/// Queue moves made inside a transaction, `(old due, new due)` in ms; applied to
/// the in-memory due index only once the transaction commits (closures may retry).
#[derive(Default)]
pub(super) struct QueueLog(std::cell::RefCell<Vec<(Option<u64>, Option<u64>)>>);

impl QueueLog {
    fn reset(&self) {
        self.0.borrow_mut().clear();
    }

    fn push(&self, old: Option<u64>, new: Option<u64>) {
        self.0.borrow_mut().push((old, new));
    }
}

/// Queued records counted per due second, so `status` answers in constant-ish
/// time on a million-record queue instead of scanning it.
#[derive(Debug, Default)]
pub(super) struct DueIndex(std::sync::Mutex<std::collections::BTreeMap<u64, u64>>);

impl DueIndex {
    /// Build from the queue tree's keys (once, at open).
    pub(super) fn build(queue: &sled::Tree) -> Result<DueIndex, StoreError> {
        let mut m = std::collections::BTreeMap::new();
        for k in queue.iter().keys() {
            *m.entry(u64_at(&k?, 0) / 1000).or_insert(0u64) += 1;
        }
        Ok(DueIndex(std::sync::Mutex::new(m)))
    }

    fn apply(&self, log: &QueueLog) {
        let mut m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for (old, new) in log.0.borrow().iter() {
            if let Some(o) = old {
                if let Some(n) = m.get_mut(&(o / 1000)) {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        m.remove(&(o / 1000));
                    }
                }
            }
            if let Some(n) = new {
                *m.entry(n / 1000).or_insert(0) += 1;
            }
        }
    }

    /// (due at `now_ms`, later).
    fn counts(&self, now_ms: u64) -> (u64, u64) {
        let m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let due: u64 = m.range(..=now_ms / 1000).map(|(_, n)| n).sum();
        let total: u64 = m.values().sum();
        (due, total - due)
    }
}

fn abort(e: StoreError) -> Tx {
    ConflictableTransactionError::Abort(e)
}

fn tx_err(e: TransactionError<StoreError>) -> StoreError {
    match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => StoreError::Sled(e),
    }
}

/// Take `id` off the queue inside a transaction.
fn dequeue(
    queue: &TransactionalTree,
    queued: &TransactionalTree,
    id: &str,
    log: &QueueLog,
) -> Result<(), Tx> {
    if let Some(due) = queued.remove(id.as_bytes())? {
        let due = u64_at(&due, 0);
        queue.remove(queue_key(due, id))?;
        log.push(Some(due), None);
    }
    Ok(())
}

/// Put `id` on the queue at `due` (moving it if it was queued elsewhere).
fn enqueue(
    queue: &TransactionalTree,
    queued: &TransactionalTree,
    id: &str,
    due: u64,
    log: &QueueLog,
) -> Result<(), Tx> {
    dequeue(queue, queued, id, log)?;
    log.push(None, Some(due));
    queue.insert(queue_key(due, id), &[][..])?;
    queued.insert(id.as_bytes(), &due.to_be_bytes()[..])?;
    Ok(())
}

impl Store {
    fn counter(&self, key: &[u8]) -> Result<u64, StoreError> {
        Ok(self.meta.get(key)?.map_or(0, |v| u64_at(&v, 0)))
    }

    /// Records stored (a counter kept in the upsert transaction).
    pub fn record_count(&self) -> Result<u64, StoreError> {
        self.counter(META_RECORDS)
    }

    /// The queue state of `id`, read from the queue and lease trees.
    fn queue_state(&self, id: &str) -> Result<QueueState, StoreError> {
        if let Some(l) = self.leases.get(id.as_bytes())? {
            return Ok(QueueState::Leased {
                until: at(u64_at(&l, 0)),
            });
        }
        if let Some(d) = self.queued.get(id.as_bytes())? {
            return Ok(QueueState::Queued {
                due: at(u64_at(&d, 0)),
            });
        }
        Ok(QueueState::Idle { next_due: None })
    }

    fn with_state(&self, mut r: StoredRecord) -> Result<StoredRecord, StoreError> {
        r.queue = match self.dead.get(r.record.id.as_bytes())? {
            Some(reason) => QueueState::Dead {
                reason: String::from_utf8_lossy(&reason).into_owned(),
            },
            None => self.queue_state(&r.record.id)?,
        };
        Ok(r)
    }
}

impl RecordStore for Store {
    fn upsert(
        &self,
        records: Vec<Record>,
        now: DateTime<Utc>,
        merge: MergeFn<'_>,
    ) -> Result<UpsertSummary, StoreError> {
        let log = QueueLog::default();
        let due = ms(now);
        (&self.records, &self.queue, &self.queued, &self.meta)
            .transaction(|(recs, queue, queued, meta)| {
                log.reset();
                let mut s = UpsertSummary::default();
                for incoming in &records {
                    let id = incoming.id.clone();
                    let existing = match recs.get(id.as_bytes())? {
                        Some(b) => Some(decode(&b).map_err(abort)?),
                        None => None,
                    };
                    let is_new = existing.is_none();
                    let conflicts_before = existing.as_ref().map_or(0, |e| e.conflicts);
                    let (mut merged, changed) = merge(existing, incoming.clone(), now);
                    if is_new {
                        s.created += 1;
                    } else {
                        s.merged += 1;
                    }
                    if changed || is_new {
                        merged.revision += 1;
                        recs.insert(id.as_bytes(), encode(&merged).map_err(abort)?)?;
                        enqueue(queue, queued, &id, due, &log)?;
                        bump(
                            meta,
                            META_CONFLICTS,
                            merged.conflicts as i64 - conflicts_before as i64,
                        )?;
                        s.queued += 1;
                    }
                }
                bump(meta, META_RECORDS, s.created as i64)?;
                Ok(s)
            })
            .map_err(tx_err)
            .inspect(|_| self.index.apply(&log))
    }

    fn get(&self, id: &str) -> Result<Option<StoredRecord>, StoreError> {
        match self.records.get(id.as_bytes())? {
            Some(b) => Ok(Some(self.with_state(decode(&b)?)?)),
            None => Ok(None),
        }
    }

    fn lease_due(
        &self,
        now: DateTime<Utc>,
        n: usize,
        lease_for: Duration,
    ) -> Result<Vec<Leased>, StoreError> {
        let log = QueueLog::default();
        let now_ms = ms(now);
        let until = now_ms + lease_for.as_millis() as u64;
        let mut out = Vec::new();
        let end = (now_ms + 1).to_be_bytes();
        for item in self.queue.range(..&end[..]) {
            if out.len() >= n {
                break;
            }
            let (key, _) = item?;
            let id = String::from_utf8_lossy(&key[8..]).into_owned();
            if self.leases.contains_key(id.as_bytes())? {
                continue; // upserted while leased: picked up after the lease ends
            }
            let token = self.tokens.fetch_add(1, Ordering::Relaxed);
            let leased = (&self.records, &self.queue, &self.queued, &self.leases)
                .transaction(|(recs, queue, queued, leases)| {
                    log.reset();
                    let Some(b) = recs.get(id.as_bytes())? else {
                        dequeue(queue, queued, &id, &log)?;
                        return Ok(None);
                    };
                    dequeue(queue, queued, &id, &log)?;
                    // expiry ++ token ++ the due time it was leased from (a
                    // recovered lease goes back there, ahead of later work).
                    let mut v = until.to_be_bytes().to_vec();
                    v.extend_from_slice(&token.to_be_bytes());
                    v.extend_from_slice(&key[..8]);
                    leases.insert(id.as_bytes(), v)?;
                    Ok(Some(decode(&b).map_err(abort)?))
                })
                .map_err(tx_err)
                .inspect(|_| self.index.apply(&log))?;
            if let Some(mut record) = leased {
                record.queue = QueueState::Leased { until: at(until) };
                out.push(Leased {
                    record,
                    lease: token,
                });
            }
        }
        Ok(out)
    }

    fn commit_step(&self, step: StepCommit) -> Result<(), StoreError> {
        let log = QueueLog::default();
        let id = step.record.record.id.clone();
        let bytes = encode(&step.record)?;
        let events: Vec<Vec<u8>> = step
            .outbox
            .iter()
            .map(|e| serde_json::to_vec(e).map_err(|e| corrupt("outbox event", e)))
            .collect::<Result<_, _>>()?;
        (
            &self.records,
            &self.queue,
            &self.queued,
            &self.leases,
            &self.outbox,
            &self.meta,
        )
            .transaction(|(recs, queue, queued, leases, outbox, meta)| {
                log.reset();
                match leases.get(id.as_bytes())? {
                    Some(l) if u64_at(&l, 8) == step.lease => {}
                    _ => return Err(abort(StoreError::LeaseLost(id.clone()))),
                }
                leases.remove(id.as_bytes())?;
                let current = recs
                    .get(id.as_bytes())?
                    .map(|b| decode(&b))
                    .transpose()
                    .map_err(abort)?;
                if current
                    .as_ref()
                    .is_some_and(|c| c.revision != step.record.revision)
                {
                    // An upsert or signal queued it again; that pass will see the new inputs.
                    return Err(abort(StoreError::Superseded(id.clone())));
                }
                let before = current.as_ref().map_or(0, |c| c.conflicts);
                bump(
                    meta,
                    META_CONFLICTS,
                    step.record.conflicts as i64 - before as i64,
                )?;
                recs.insert(id.as_bytes(), bytes.clone())?;
                match step.next_due {
                    Some(due) => enqueue(queue, queued, &id, ms(due), &log)?,
                    None => dequeue(queue, queued, &id, &log)?,
                }
                for e in &events {
                    let seq = outbox.generate_id()?;
                    outbox.insert(&seq.to_be_bytes(), e.clone())?;
                }
                Ok(())
            })
            .map_err(|e| match tx_err(e) {
                // The lease is gone either way: a superseded step releases it.
                StoreError::Superseded(id) => {
                    let _ = self.leases.remove(id.as_bytes());
                    StoreError::Superseded(id)
                }
                other => other,
            })
            .inspect(|_| self.index.apply(&log))
    }

    fn release(&self, id: &str, lease: u64, due: DateTime<Utc>) -> Result<(), StoreError> {
        let log = QueueLog::default();
        (&self.queue, &self.queued, &self.leases)
            .transaction(|(queue, queued, leases)| {
                log.reset();
                match leases.get(id.as_bytes())? {
                    Some(l) if u64_at(&l, 8) == lease => {}
                    _ => return Ok(()),
                }
                leases.remove(id.as_bytes())?;
                if queued.get(id.as_bytes())?.is_none() {
                    enqueue(queue, queued, id, ms(due), &log)?;
                }
                Ok(())
            })
            .map_err(tx_err)
            .inspect(|_| self.index.apply(&log))
    }

    fn requeue(&self, ids: &[String], due: DateTime<Utc>) -> Result<u64, StoreError> {
        let log = QueueLog::default();
        let mut n = 0;
        for chunk in ids.chunks(500) {
            n += (&self.records, &self.queue, &self.queued)
                .transaction(|(recs, queue, queued)| {
                    log.reset();
                    let mut n = 0;
                    for id in chunk {
                        // Only whether it exists: nothing in the record changes.
                        if recs.get(id.as_bytes())?.is_some() {
                            enqueue(queue, queued, id, ms(due), &log)?;
                            n += 1;
                        }
                    }
                    Ok(n)
                })
                .map_err(tx_err)
                .inspect(|_| self.index.apply(&log))?;
        }
        Ok(n)
    }

    fn touch(
        &self,
        ids: &[String],
        due: DateTime<Utc>,
        f: &(dyn Fn(&mut StoredRecord) -> bool + Sync),
    ) -> Result<u64, StoreError> {
        let log = QueueLog::default();
        let mut n = 0;
        for chunk in ids.chunks(500) {
            n += (&self.records, &self.queue, &self.queued)
                .transaction(|(recs, queue, queued)| {
                    log.reset();
                    let mut n = 0;
                    for id in chunk {
                        let Some(b) = recs.get(id.as_bytes())? else {
                            continue;
                        };
                        let mut r = decode(&b).map_err(abort)?;
                        if f(&mut r) {
                            r.revision += 1;
                            recs.insert(id.as_bytes(), encode(&r).map_err(abort)?)?;
                        }
                        enqueue(queue, queued, id, ms(due), &log)?;
                        n += 1;
                    }
                    Ok(n)
                })
                .map_err(tx_err)
                .inspect(|_| self.index.apply(&log))?;
        }
        Ok(n)
    }

    fn recover_leases(&self, now: DateTime<Utc>, only_expired: bool) -> Result<u64, StoreError> {
        let log = QueueLog::default();
        let now_ms = ms(now);
        let mut n = 0;
        for item in self.leases.iter() {
            let (id, v) = item?;
            if only_expired && u64_at(&v, 0) > now_ms {
                continue;
            }
            let id = String::from_utf8_lossy(&id).into_owned();
            // Back where it was leased from, so the replay runs where its
            // killed pass did (leases written before the due was kept: now).
            let due = if v.len() >= 24 {
                u64_at(&v, 16).min(now_ms)
            } else {
                now_ms
            };
            (&self.queue, &self.queued, &self.leases)
                .transaction(|(queue, queued, leases)| {
                    log.reset();
                    leases.remove(id.as_bytes())?;
                    if queued.get(id.as_bytes())?.is_none() {
                        enqueue(queue, queued, &id, due, &log)?;
                    }
                    Ok(())
                })
                .map_err(tx_err)
                .inspect(|_| self.index.apply(&log))?;
            n += 1;
        }
        Ok(n)
    }

    fn add_signal(&self, id: &str, signal: Signal, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let log = QueueLog::default();
        (&self.records, &self.queue, &self.queued, &self.signalled)
            .transaction(|(recs, queue, queued, signalled)| {
                log.reset();
                let Some(b) = recs.get(id.as_bytes())? else {
                    return Ok(false);
                };
                let mut r = decode(&b).map_err(abort)?;
                r.signals.push(signal.clone());
                r.revision += 1;
                recs.insert(id.as_bytes(), encode(&r).map_err(abort)?)?;
                signalled.insert(id.as_bytes(), &[])?;
                enqueue(queue, queued, id, ms(now), &log)?;
                Ok(true)
            })
            .map_err(tx_err)
            .inspect(|_| self.index.apply(&log))
    }

    fn signalled(&self) -> Result<Vec<String>, StoreError> {
        self.signalled
            .iter()
            .keys()
            .map(|k| Ok(String::from_utf8_lossy(&k?).into_owned()))
            .collect()
    }

    fn scan(&self, f: &mut dyn FnMut(StoredRecord) -> bool) -> Result<(), StoreError> {
        for item in self.records.iter() {
            let (_, b) = item?;
            if !f(self.with_state(decode(&b)?)?) {
                break;
            }
        }
        Ok(())
    }

    fn queue_stats(&self, now: DateTime<Utc>) -> Result<QueueStats, StoreError> {
        let now_ms = ms(now);
        let (queued_due, queued_later) = self.index.counts(now_ms);
        let mut s = QueueStats {
            records: self.record_count()?,
            queued_due,
            queued_later,
            ..QueueStats::default()
        };
        s.oldest_queued = self.queue.first()?.map(|(k, _)| at(u64_at(&k, 0)));
        for item in self.leases.iter() {
            let (_, v) = item?;
            let exp = u64_at(&v, 0);
            s.leased += 1;
            if exp <= now_ms {
                s.expired_leases += 1;
            }
            if s.oldest_lease.is_none_or(|o| at(exp) < o) {
                s.oldest_lease = Some(at(exp));
            }
        }
        Ok(s)
    }

    fn conflicts(&self) -> Result<u64, StoreError> {
        self.counter(META_CONFLICTS)
    }

    fn dead_letters(&self, limit: usize) -> Result<(u64, Vec<(String, String)>), StoreError> {
        let first = self
            .dead
            .iter()
            .take(limit)
            .map(|kv| {
                kv.map(|(k, v)| {
                    (
                        String::from_utf8_lossy(&k).into_owned(),
                        String::from_utf8_lossy(&v).into_owned(),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok((self.dead.len() as u64, first))
    }

    fn dead_letter(&self, id: &str, lease: u64, reason: &str) -> Result<(), StoreError> {
        let log = QueueLog::default();
        (&self.queue, &self.queued, &self.leases, &self.dead)
            .transaction(|(queue, queued, leases, dead)| {
                log.reset();
                match leases.get(id.as_bytes())? {
                    Some(l) if u64_at(&l, 8) == lease => {}
                    _ => return Ok(()),
                }
                leases.remove(id.as_bytes())?;
                dequeue(queue, queued, id, &log)?;
                dead.insert(id.as_bytes(), reason.as_bytes())?;
                Ok(())
            })
            .map_err(tx_err)
            .inspect(|_| self.index.apply(&log))
    }

    fn outbox_after(&self, after: u64, limit: usize) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let start = (after + 1).to_be_bytes();
        self.outbox
            .range(&start[..]..)
            .take(limit)
            .map(|kv| {
                kv.map(|(k, v)| (u64_at(&k, 0), v.to_vec()))
                    .map_err(StoreError::from)
            })
            .collect()
    }

    fn outbox_cursor(&self, sink: &str) -> Result<u64, StoreError> {
        self.counter(format!("cursor:{sink}").as_bytes())
    }

    fn set_outbox_cursor(&self, sink: &str, seq: u64) -> Result<(), StoreError> {
        self.meta
            .insert(format!("cursor:{sink}").as_bytes(), &seq.to_be_bytes())?;
        Ok(())
    }

    fn outbox_dead_letter(&self, sink: &str, seq: u64, reason: &str) -> Result<(), StoreError> {
        let mut key = format!("{sink}\0").into_bytes();
        key.extend_from_slice(&seq.to_be_bytes());
        (&self.meta, &self.outbox_dead)
            .transaction(|(meta, dead)| {
                dead.insert(key.as_slice(), reason.as_bytes())?;
                meta.insert(format!("cursor:{sink}").as_bytes(), &seq.to_be_bytes())?;
                Ok(())
            })
            .map_err(tx_err)
    }

    fn outbox_dead_letters(
        &self,
        sink: &str,
        limit: usize,
    ) -> Result<(u64, Vec<(u64, String)>), StoreError> {
        let prefix = format!("{sink}\0").into_bytes();
        let mut n = 0;
        let mut last = Vec::new();
        for kv in self.outbox_dead.scan_prefix(&prefix) {
            let (k, v) = kv?;
            n += 1;
            last.push((
                u64_at(&k, prefix.len()),
                String::from_utf8_lossy(&v).into_owned(),
            ));
            if last.len() > limit {
                last.remove(0);
            }
        }
        Ok((n, last))
    }

    fn outbox_head(&self) -> Result<u64, StoreError> {
        Ok(self.outbox.last()?.map_or(0, |(k, _)| u64_at(&k, 0)))
    }

    fn next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(self.queue.first()?.map(|(k, _)| at(u64_at(&k, 0))))
    }

    fn flush(&self) -> Result<(), StoreError> {
        Store::flush(self)
    }
}

impl CallStore for Store {
    fn cache_get(&self, key: &[u8], now: DateTime<Utc>) -> Result<Option<CacheEntry>, StoreError> {
        Store::cache_get(self, key, now)
    }

    fn record_call(
        &self,
        cache: Option<(&[u8], &CacheEntry)>,
        row: &LedgerEntry,
        atomic: bool,
    ) -> Result<(), StoreError> {
        let cache_bytes = cache
            .map(|(k, e)| serde_json::to_vec(e).map(|b| (k.to_vec(), b)))
            .transpose()
            .map_err(|e| corrupt("cache entry", e))?;
        // The id comes from outside the transaction: it only needs to be unique
        // and increasing, and sled's transactional id generator is slow.
        let seq = self.db.generate_id()?.to_be_bytes();
        if !atomic {
            let cache = cache.zip(cache_bytes).map(|((k, e), (_, b))| (k, b, e));
            return self.calls.push(u64::from_be_bytes(seq), row, cache);
        }
        let stats_key = super::stats::bucket_key(super::hour_of(row.at), &row.operation);
        let row_bytes = serde_json::to_vec(row).map_err(|e| corrupt("ledger row", e))?;
        (&self.cache, &self.ledger, &self.call_stats)
            .transaction(|(cache, ledger, stats)| {
                if let Some((k, b)) = &cache_bytes {
                    cache.insert(k.as_slice(), b.as_slice())?;
                }
                ledger.insert(&seq, row_bytes.as_slice())?;
                let old = stats.get(&stats_key)?;
                let bytes = bump_stats(old.as_deref(), row).map_err(abort)?;
                stats.insert(stats_key.as_slice(), bytes)?;
                Ok(())
            })
            .map_err(tx_err)?;
        if let Some((k, e)) = cache {
            self.calls.hot().put(k, e.clone());
            self.calls.trim_hot();
        }
        Ok(())
    }

    fn call_buckets(&self, from_hour: u32, to_hour: u32) -> Result<Vec<CallBucket>, StoreError> {
        self.calls.write_now()?;
        let range = from_hour.to_be_bytes()..to_hour.to_be_bytes();
        let mut out = Vec::new();
        for kv in self.call_stats.range(range) {
            let (k, v) = kv?;
            let (hour, operation) =
                super::stats::split_key(&k).ok_or_else(|| corrupt("call stats key", "bad key"))?;
            let stats =
                CallStats::decode(&v).ok_or_else(|| corrupt("call stats", "undecodable bucket"))?;
            out.push(CallBucket {
                hour,
                operation,
                stats,
            });
        }
        Ok(out)
    }

    fn ledger(&self) -> Result<Vec<LedgerEntry>, StoreError> {
        self.ledger_rows().collect()
    }

    fn job_get(&self, key: &[u8]) -> Result<Option<super::JobEntry>, StoreError> {
        Store::job_get(self, key)
    }

    fn job_deliver(
        &self,
        operation: &str,
        job_id: &str,
        body: &str,
    ) -> Result<Option<super::JobEntry>, StoreError> {
        Store::job_deliver(self, operation, job_id, body)
    }

    fn job_set(
        &self,
        key: &[u8],
        job: Option<&super::JobEntry>,
        row: Option<&LedgerEntry>,
    ) -> Result<(), StoreError> {
        Store::job_set(self, key, job, row)
    }

    fn flush_calls(&self) -> Result<(), StoreError> {
        Store::flush(self)
    }

    fn email_pattern(&self, domain: &str) -> Result<Option<String>, StoreError> {
        Store::email_pattern(self, domain)
    }

    fn set_email_pattern(&self, domain: &str, pattern: &str) -> Result<(), StoreError> {
        Store::set_email_pattern(self, domain, pattern)
    }

    fn guess_memo(
        &self,
        first: &str,
        last: &str,
        domain: &str,
    ) -> Result<Option<String>, StoreError> {
        Store::guess_memo(self, first, last, domain)
    }

    fn set_guess_memo(
        &self,
        first: &str,
        last: &str,
        domain: &str,
        pattern: &str,
    ) -> Result<(), StoreError> {
        Store::set_guess_memo(self, first, last, domain, pattern)
    }
}

/// A bucket's bytes with one more row counted.
fn bump_stats(old: Option<&[u8]>, row: &LedgerEntry) -> Result<Vec<u8>, StoreError> {
    let mut stats: CallStats = match old {
        Some(b) => {
            CallStats::decode(b).ok_or_else(|| corrupt("call stats", "undecodable bucket"))?
        }
        None => CallStats::default(),
    };
    stats.add_row(row);
    Ok(stats.encode())
}

#[allow(dead_code)]
fn _assert_object_safe(_: &dyn RecordStore, _: &dyn CallStore) {}
