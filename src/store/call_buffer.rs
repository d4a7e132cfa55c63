//! Batch runs (`enrich`, benches) record calls through a buffer instead of
//! three sled writes per call: ledger rows go into one page (a single sled
//! value holding many rows), hourly counters are summed in memory, and cache
//! entries wait beside them. The buffer is written when it holds
//! [`PAGE_ROWS`] rows or its oldest row is [`MAX_AGE`] old, and before any
//! read of the ledger or the counters, so readers always see every call.
//! Order of the writes: ledger, counters, then cache, so a crash in between
//! can at worst make a replay pay again, never hide a billed call; a `kill
//! -9` loses at most the buffered calls (as sled's own flush interval did
//! before). The daemon's calls never go through here: they are written in one
//! transaction and flushed before their answer is used.

use super::hot_cache::HotCache;
use super::ledger_page::{self, PageBuilder};
use super::stats::{bucket_key, hour_of};
use super::{CacheEntry, CallStats, LedgerEntry, StoreError};
use crate::model::Name;
use foldhash::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Rows per ledger page.
pub const PAGE_ROWS: usize = 4096;
/// The oldest buffered row is written after this long, however few there are.
pub const MAX_AGE: Duration = Duration::from_millis(250);
/// How a JSON page (written before binary pages) starts; a single-row value
/// is JSON and starts with `{`.
const JSON_PAGE_MAGIC: &[u8] = b"P1";

/// Calls recorded but not yet written.
#[derive(Debug, Default)]
pub struct Pending {
    /// The ledger page being built: its key is the first row's sequence number.
    first_seq: Option<u64>,
    page: PageBuilder,
    /// Counter increments by (hour, operation): a handful of buckets, found
    /// by comparing an hour and a name's address.
    buckets: Vec<Tally>,
    /// Cache entries (key, encoded entry).
    cache: Vec<(Vec<u8>, Vec<u8>)>,
    since: Option<Instant>,
}

/// One bucket's increments; values per field are counted beside the stats
/// (by name, not in its text-keyed map) and folded in on drain.
#[derive(Debug)]
struct Tally {
    hour: u32,
    operation: Name,
    stats: CallStats,
    fills: Vec<(Name, u64)>,
}

/// What a drain writes.
#[derive(Debug)]
pub struct Drained {
    /// `(first sequence number, page)` when rows were buffered.
    pub page: Option<(u64, Vec<u8>)>,
    /// Counter increments by bucket key.
    pub buckets: HashMap<Vec<u8>, CallStats>,
    /// Cache entries.
    pub cache: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Pending {
    /// Add a call: its row (sequence number `seq`), counter bucket and cache entry.
    pub fn push(&mut self, seq: u64, row: &LedgerEntry, cache: Option<(Vec<u8>, Vec<u8>)>) {
        if self.first_seq.is_none() {
            self.first_seq = Some(seq);
            self.since = Some(Instant::now());
        }
        self.page.push(row);
        let hour = hour_of(row.at);
        let at = match self
            .buckets
            .iter()
            .position(|t| t.hour == hour && t.operation == row.operation)
        {
            Some(i) => i,
            None => {
                self.buckets.push(Tally {
                    hour,
                    operation: row.operation,
                    stats: CallStats::default(),
                    fills: Vec::new(),
                });
                self.buckets.len() - 1
            }
        };
        let t = &mut self.buckets[at];
        let made = t.stats.add_counts(row);
        for f in row.fields.iter().filter(|_| made) {
            match t.fills.iter_mut().find(|(n, _)| n == f) {
                Some((_, c)) => *c += 1,
                None => t.fills.push((*f, 1)),
            }
        }
        self.cache.extend(cache);
    }

    /// Whether the buffer should be written now.
    pub fn due(&self) -> bool {
        self.page.len() >= PAGE_ROWS || self.since.is_some_and(|t| t.elapsed() >= MAX_AGE)
    }

    /// Whether nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.page.is_empty() && self.cache.is_empty()
    }

    /// Take everything buffered, leaving the buffer empty.
    pub fn drain(&mut self) -> Drained {
        let next = Pending {
            page: self.page.sized_like(),
            cache: Vec::with_capacity(self.cache.len()),
            ..Pending::default()
        };
        let taken = std::mem::replace(self, next);
        let buckets = taken
            .buckets
            .into_iter()
            .map(|mut t| {
                t.stats.add_fills(&t.fills);
                (bucket_key(t.hour, &t.operation), t.stats)
            })
            .collect();
        Drained {
            page: taken.first_seq.map(|s| (s, taken.page.finish())),
            buckets,
            cache: taken.cache,
        }
    }
}

/// The buffer and the trees it writes to. Shared by every clone of the
/// store; the last one to go writes what is left.
#[derive(Debug)]
pub struct CallBuffer {
    pending: Mutex<Pending>,
    /// Held while drained calls are written, taken before `pending` is let
    /// go: pushes go on during a write (a page of rows took long enough to
    /// stall the other batch lane), and a reader's drain waits for the
    /// writes drained before it.
    writing: Mutex<()>,
    ledger: sled::Tree,
    cache: sled::Tree,
    call_stats: sled::Tree,
    /// Buffered cache entries are read from here until written.
    hot: Arc<HotCache>,
}

impl CallBuffer {
    /// A buffer over these trees.
    pub fn new(
        ledger: sled::Tree,
        cache: sled::Tree,
        call_stats: sled::Tree,
        hot: Arc<HotCache>,
    ) -> CallBuffer {
        CallBuffer {
            pending: Mutex::new(Pending::default()),
            writing: Mutex::new(()),
            ledger,
            cache,
            call_stats,
            hot,
        }
    }

    /// The in-memory cache in front of the tree.
    pub fn hot(&self) -> &HotCache {
        &self.hot
    }

    /// Keep the in-memory cache within bounds. Entries not yet in the tree
    /// stay: those buffered, and (waited for) those of a write under way.
    pub fn trim_hot(&self) {
        if !self.hot.over_capacity() {
            return;
        }
        let p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let _writing = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        let buffered: foldhash::HashSet<&[u8]> =
            p.cache.iter().map(|(k, _)| k.as_slice()).collect();
        self.hot.trim_keeping(|k| buffered.contains(k));
    }

    /// Buffer a call (row, counter bucket key, cache key + encoded entry);
    /// write the buffer when it is due.
    pub fn push(
        &self,
        seq: u64,
        row: &LedgerEntry,
        cache: Option<(&[u8], Vec<u8>, &CacheEntry)>,
    ) -> Result<(), StoreError> {
        let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        // Readable from the in-memory cache before the lock is released, so
        // no reader can miss an entry between buffer and tree.
        let cache = cache.map(|(key, bytes, entry)| {
            self.hot.put(key, entry.clone());
            (key.to_vec(), bytes)
        });
        p.push(seq, row, cache);
        if p.due() {
            self.write(p)?;
        }
        Ok(())
    }

    /// Write everything buffered now (before a read of the ledger or the
    /// counters, and on flush).
    pub fn write_now(&self) -> Result<(), StoreError> {
        let p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        self.write(p)
    }

    /// Drain the buffer and write it: ledger, then counters, then cache.
    /// Writes happen one at a time, in the order of their drains, and a
    /// drain of nothing still waits for the write before it, so a reader
    /// that called [`CallBuffer::write_now`] sees every call.
    fn write(&self, mut p: std::sync::MutexGuard<'_, Pending>) -> Result<(), StoreError> {
        let d = (!p.is_empty()).then(|| p.drain());
        let writing = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        drop(p);
        let Some(d) = d else {
            return Ok(());
        };
        self.write_drained(d)?;
        drop(writing);
        self.trim_hot();
        Ok(())
    }

    fn write_drained(&self, d: Drained) -> Result<(), StoreError> {
        if let Some((seq, page)) = d.page {
            self.ledger.insert(seq.to_be_bytes(), page)?;
        }
        for (key, add) in d.buckets {
            let mut failed = None;
            // Compare-and-swap: another writer of the bucket never loses a count.
            self.call_stats.update_and_fetch(&key, |old| {
                let mut stats = match old.map(CallStats::decode) {
                    Some(Some(s)) => s,
                    Some(None) => {
                        failed = Some(StoreError::Corrupt {
                            what: "call stats",
                            message: "undecodable bucket".into(),
                        });
                        return old.map(<[u8]>::to_vec);
                    }
                    None => CallStats::default(),
                };
                stats.merge(&add);
                Some(stats.encode())
            })?;
            if let Some(e) = failed {
                return Err(e);
            }
        }
        if !d.cache.is_empty() {
            let mut batch = sled::Batch::default();
            for (k, v) in d.cache {
                batch.insert(k, v);
            }
            self.cache.apply_batch(batch)?;
        }
        Ok(())
    }
}

impl Drop for CallBuffer {
    fn drop(&mut self) {
        if let Err(e) = self.write_now() {
            tracing::error!(error = %e, "could not write the buffered provider calls");
        }
    }
}

/// The rows of a ledger value: a binary page, a JSON page (older stores), or
/// one JSON row (the daemon's).
pub fn decode_rows(value: &[u8]) -> Result<Vec<LedgerEntry>, StoreError> {
    let corrupt = |m: String| StoreError::Corrupt {
        what: "ledger row",
        message: m,
    };
    if value.starts_with(ledger_page::MAGIC) {
        return ledger_page::decode(value).map_err(corrupt);
    }
    let Some(mut rest) = value.strip_prefix(JSON_PAGE_MAGIC) else {
        return serde_json::from_slice(value)
            .map(|r| vec![r])
            .map_err(|e| corrupt(e.to_string()));
    };
    let mut rows = Vec::new();
    while !rest.is_empty() {
        let (len, tail) = rest
            .split_first_chunk::<4>()
            .ok_or_else(|| corrupt("truncated ledger page".into()))?;
        let len = u32::from_le_bytes(*len) as usize;
        let row = tail
            .get(..len)
            .ok_or_else(|| corrupt("truncated ledger page".into()))?;
        rows.push(serde_json::from_slice(row).map_err(|e| corrupt(e.to_string()))?);
        rest = &tail[len..];
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(i: u32) -> LedgerEntry {
        LedgerEntry {
            at: chrono::Utc::now(),
            record_id: Some(format!("r{i}")),
            operation: "mailfinder.email-finder".into(),
            provider: "mailfinder".into(),
            outcome: "hit".into(),
            cached: i.is_multiple_of(2),
            credits: f64::from(i % 2),
            saved_credits: 0.0,
            latency_ms: 40,
            attempts: 1,
            throttled: 0,
            status: Some(200),
            error: None,
            choice: None,
            fields: vec!["person.email".into()],
        }
    }

    #[test]
    fn a_page_round_trips_its_rows_in_order_and_single_rows_still_read() {
        let mut p = Pending::default();
        let rows: Vec<_> = (0..5).map(row).collect();
        for (i, r) in rows.iter().enumerate() {
            p.push(10 + i as u64, r, None);
        }
        assert!(!p.due(), "five fresh rows are not due");
        let d = p.drain();
        assert!(p.is_empty());
        let (seq, page) = d.page.unwrap();
        assert_eq!(seq, 10);
        assert_eq!(decode_rows(&page).unwrap(), rows);
        let counted: u64 = d.buckets.values().map(|b| b.calls + b.cached).sum();
        assert_eq!(counted, 5);
        let one = serde_json::to_vec(&rows[0]).unwrap();
        assert_eq!(decode_rows(&one).unwrap(), vec![rows[0].clone()]);
        // A JSON page, as stores written before binary pages hold.
        let mut old = JSON_PAGE_MAGIC.to_vec();
        for r in &rows {
            let b = serde_json::to_vec(r).unwrap();
            old.extend_from_slice(&(b.len() as u32).to_le_bytes());
            old.extend_from_slice(&b);
        }
        assert_eq!(decode_rows(&old).unwrap(), rows);
    }

    #[test]
    fn a_truncated_page_is_an_error_not_a_short_read() {
        let mut p = Pending::default();
        let r = row(1);
        p.push(1, &r, None);
        let (_, page) = p.drain().page.unwrap();
        let err = decode_rows(&page[..page.len() - 3]).unwrap_err();
        assert!(err.to_string().contains("truncated ledger"), "{err}");
    }

    #[test]
    fn a_full_page_is_due() {
        let mut p = Pending::default();
        let r = row(1);
        for i in 0..PAGE_ROWS as u64 {
            p.push(i, &r, None);
        }
        assert!(p.due());
    }

    #[test]
    fn a_trim_over_capacity_keeps_the_entries_still_buffered() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let tree = |n: &str| db.open_tree(n).unwrap();
        let hot = Arc::new(HotCache::default());
        let buffer = CallBuffer::new(tree("ledger"), tree("cache"), tree("stats"), hot.clone());
        let now = chrono::Utc::now();
        let entry = CacheEntry {
            paid_for: None,
            outcome: super::super::CachedOutcome::NotFound,
            credits: 1.0,
            stored_at: now,
            expires_at: now + chrono::Duration::days(1),
        };
        for i in 0..=super::super::hot_cache::CAPACITY {
            hot.put(format!("written {i}").as_bytes(), entry.clone());
        }
        let bytes = serde_json::to_vec(&entry).unwrap();
        buffer
            .push(1, &row(1), Some((b"buffered", bytes, &entry)))
            .unwrap();
        buffer.trim_hot();
        assert!(!hot.over_capacity(), "trimmed");
        assert_eq!(hot.get(b"written 0", now), None, "written entries go");
        assert_eq!(
            hot.get(b"buffered", now),
            Some(entry),
            "a buffered entry is not yet in the tree: it stays"
        );
        assert!(buffer.cache.get(b"buffered").unwrap().is_none());
        buffer.write_now().unwrap();
        assert!(buffer.cache.get(b"buffered").unwrap().is_some());
    }
}
