//! Decoded cache entries in memory, in front of the cache tree: a repeat pass
//! over the same leads reads its answers here instead of decoding JSON out of
//! sled for every call. Filled on every write and every tree read; emptied
//! when it grows past [`CAPACITY`] but for the entries not yet written to
//! the tree (which has everything else). Split in
//! [`SHARDS`] locks, so the two cores' lookups do not queue on one.

use super::CacheEntry;
use chrono::{DateTime, Utc};
use foldhash::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Entries kept before the map is emptied (a few hundred bytes each).
pub const CAPACITY: usize = 200_000;

/// Independent locks.
const SHARDS: usize = 16;

/// The in-memory cache.
#[derive(Debug, Default)]
pub struct HotCache {
    shards: [Mutex<HashMap<Vec<u8>, CacheEntry>>; SHARDS],
    /// Entries held (approximate between a clear and the inserts racing it).
    held: AtomicUsize,
}

/// The shard of a key: its last bytes vary most (the inputs' values).
fn shard(key: &[u8]) -> usize {
    let tail = &key[key.len().saturating_sub(8)..];
    let mixed = tail.iter().fold(key.len() as u32, |h, b| {
        h.wrapping_mul(31).wrapping_add(u32::from(*b))
    });
    mixed as usize % SHARDS
}

impl HotCache {
    fn lock(&self, key: &[u8]) -> std::sync::MutexGuard<'_, HashMap<Vec<u8>, CacheEntry>> {
        self.shards[shard(key)]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// A fresh entry for `key`, if held.
    pub fn get(&self, key: &[u8], now: DateTime<Utc>) -> Option<CacheEntry> {
        self.lock(key)
            .get(key)
            .filter(|e| e.expires_at > now)
            .cloned()
    }

    /// Hold `entry` for `key`.
    pub fn put(&self, key: &[u8], entry: CacheEntry) {
        if self.lock(key).insert(key.to_vec(), entry).is_none() {
            self.held.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Whether more than [`CAPACITY`] entries are held.
    pub fn over_capacity(&self) -> bool {
        self.held.load(Ordering::Relaxed) > CAPACITY
    }

    /// When over capacity, empty the map but for the keys `keep` names
    /// (entries waiting in the call buffer are read from here).
    pub fn trim_keeping(&self, keep: impl Fn(&[u8]) -> bool) {
        if !self.over_capacity() {
            return;
        }
        let mut held = 0;
        for s in &self.shards {
            let mut map = s.lock().unwrap_or_else(|e| e.into_inner());
            map.retain(|k, _| keep(k));
            held += map.len();
        }
        self.held.store(held, Ordering::Relaxed);
    }
}
