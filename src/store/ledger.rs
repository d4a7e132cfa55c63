//! The call ledger: one row per provider call, cached or not. Reports and
//! reconciliation with vendor bills read it.

use super::{Store, StoreError};
use crate::model::Name;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One provider call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// When the call finished.
    #[serde(serialize_with = "crate::model::timestamp::serialize")]
    pub at: DateTime<Utc>,
    /// The record it was made for.
    pub record_id: Option<String>,
    /// `<provider>.<operation>`.
    pub operation: Name,
    /// Provider id.
    pub provider: Name,
    /// `hit`, `not_found`, `rate_limited`, `transient`, `permanent`, `auth_error`, `circuit_open`, ...
    pub outcome: Name,
    /// Served from the cache (or coalesced onto an identical in-flight call): nothing paid.
    pub cached: bool,
    /// Credits billed by the vendor for this call.
    pub credits: f64,
    /// For a cached or coalesced call: what the original call cost (what the cache saved).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub saved_credits: f64,
    /// Wall time, milliseconds.
    pub latency_ms: u64,
    /// HTTP attempts made (0 when cached).
    pub attempts: u32,
    /// 429 answers seen during the attempts.
    pub throttled: u32,
    /// Last HTTP status.
    pub status: Option<u16>,
    /// Error detail.
    pub error: Option<String>,
    /// Why a capacity-aware group chose this operation over its first member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choice: Option<String>,
    /// Fields the answer carried a value for (a hit's data, cached or not).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<Name>,
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

impl Store {
    /// Append rows (with their call counters), as the executor records calls.
    pub fn ledger_append(&self, rows: &[LedgerEntry]) -> Result<(), StoreError> {
        for row in rows {
            super::CallStore::record_call(self, None, row, false)?;
        }
        Ok(())
    }

    /// Every row, oldest first (buffered calls are written first).
    pub fn ledger_rows(&self) -> impl Iterator<Item = Result<LedgerEntry, StoreError>> + '_ {
        let written = self.calls.write_now();
        let rows = self.ledger.iter().values().flat_map(|v| {
            let rows = v
                .map_err(StoreError::from)
                .and_then(|bytes| super::call_buffer::decode_rows(&bytes));
            match rows {
                Ok(rows) => rows.into_iter().map(Ok).collect::<Vec<_>>(),
                Err(e) => vec![Err(e)],
            }
        });
        written.err().map(Err).into_iter().chain(rows)
    }

    /// Every outbox event, oldest first (sinks deliver them; tests read them).
    pub fn outbox_events(&self) -> Result<Vec<serde_json::Value>, StoreError> {
        self.outbox
            .iter()
            .values()
            .map(|v| {
                let bytes = v?;
                serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
                    what: "outbox event",
                    message: e.to_string(),
                })
            })
            .collect()
    }
}
