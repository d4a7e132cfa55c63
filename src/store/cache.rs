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
        /// The values, shared with every call they answer (a cached answer
        /// is handed out many times and never changed).
        extracted: std::sync::Arc<Extracted>,
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
    /// The record the paid call was made for (a replay of its pass claims the credits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paid_for: Option<String>,
}

/// The cache key: operation id, then the inputs as canonical (sorted) JSON,
/// byte for byte what `serde_json::to_vec(inputs)` writes (keys already
/// stored must still be found), without the generic serializer.
pub fn cache_key(operation: &str, inputs: &Inputs) -> Vec<u8> {
    use crate::model::json_text::{string, value};
    // Sized to fit: a guess from the operation alone regrew most keys.
    let room = inputs
        .iter()
        .map(|(f, v)| f.len() + v.as_text().map_or(24, str::len) + 8)
        .sum::<usize>();
    let mut key = Vec::with_capacity(operation.len() + 4 + room);
    key.extend_from_slice(operation.as_bytes());
    key.extend_from_slice(b"\0{");
    for (i, (field, v)) in inputs.iter().enumerate() {
        if i > 0 {
            key.push(b',');
        }
        string(&mut key, field);
        key.push(b':');
        value(&mut key, v);
    }
    key.push(b'}');
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Value;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn keys_are_the_ones_serde_json_wrote(
            op in "[a-z]{1,8}\\.[a-z-]{1,8}",
            inputs in prop::collection::btree_map(
                any::<String>(),
                prop_oneof![
                    any::<String>().prop_map(Value::Text),
                    any::<i64>().prop_map(Value::Integer),
                    any::<bool>().prop_map(Value::Bool),
                    prop::collection::vec(any::<String>(), 0..3).prop_map(Value::List),
                ],
                0..4,
            ),
        ) {
            let mut old = op.as_bytes().to_vec();
            old.push(0);
            old.extend(serde_json::to_vec(&inputs).unwrap());
            let named: Inputs = inputs.iter().map(|(k, v)| (crate::model::Name::new(k), v.clone())).collect();
            prop_assert_eq!(cache_key(&op, &named), old);
        }
    }
}
