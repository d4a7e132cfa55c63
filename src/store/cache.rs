//! The provider-response cache, keyed by operation + normalised inputs, with
//! separate lifetimes for found and not-found answers.

use super::{Store, StoreError};
use crate::provider::{Extracted, Inputs};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What was cached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CachedOutcome {
    /// Data.
    Hit {
        /// The values.
        extracted: Extracted,
    },
    /// The vendor had nothing.
    NotFound,
}

/// One cache entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CacheEntry {
    /// The answer.
    pub outcome: CachedOutcome,
    /// Credits the original call cost (what a reuse saves).
    pub credits: f64,
    /// When it was stored.
    pub stored_at: DateTime<Utc>,
    /// When it stops being reused.
    pub expires_at: DateTime<Utc>,
}

/// The cache key: operation id, then the inputs as canonical (sorted) JSON.
pub fn cache_key(operation: &str, inputs: &Inputs) -> Vec<u8> {
    let mut key = operation.as_bytes().to_vec();
    key.push(0);
    key.extend(serde_json::to_vec(inputs).unwrap_or_default());
    key
}

impl Store {
    /// A fresh entry for `key`, or `None` (absent or expired at `now`).
    pub fn cache_get(
        &self,
        key: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Option<CacheEntry>, StoreError> {
        if let Some(entry) = self.calls.hot().get(key, now) {
            return Ok(Some(entry));
        }
        let Some(bytes) = self.cache.get(key)? else {
            return Ok(None);
        };
        let entry: CacheEntry =
            serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
                what: "cache entry",
                message: e.to_string(),
            })?;
        if entry.expires_at <= now {
            return Ok(None);
        }
        self.calls.hot().put(key, entry.clone());
        self.calls.trim_hot();
        Ok(Some(entry))
    }

    /// Store an entry.
    pub fn cache_put(&self, key: &[u8], entry: &CacheEntry) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(entry).map_err(|e| StoreError::Corrupt {
            what: "cache entry",
            message: e.to_string(),
        })?;
        self.cache.insert(key, bytes)?;
        self.calls.hot().put(key, entry.clone());
        self.calls.trim_hot();
        Ok(())
    }
}
