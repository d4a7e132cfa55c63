//! Decoded cache entries in memory, in front of the cache tree: a repeat pass
//! over the same leads reads its answers here instead of decoding JSON out of
//! sled for every call. Filled on every write and every tree read; emptied
//! when it grows past [`CAPACITY`] (the tree still has everything).

use super::CacheEntry;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::Mutex;

/// Entries kept before the map is emptied (a few hundred bytes each).
pub const CAPACITY: usize = 200_000;

/// The in-memory cache.
#[derive(Debug, Default)]
pub struct HotCache {
    map: Mutex<HashMap<Vec<u8>, CacheEntry>>,
}

impl HotCache {
    /// A fresh entry for `key`, if held.
    pub fn get(&self, key: &[u8], now: DateTime<Utc>) -> Option<CacheEntry> {
        let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.get(key).filter(|e| e.expires_at > now).cloned()
    }

    /// Hold `entry` for `key`.
    pub fn put(&self, key: &[u8], entry: CacheEntry) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.insert(key.to_vec(), entry);
    }

    /// Empty the map when it is over capacity. Only call this once nothing it
    /// holds is waiting in the call buffer (entries there are read from here).
    pub fn trim(&self) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > CAPACITY {
            map.clear();
        }
    }
}
