//! Pre-aggregated call counters per (hour, operation), updated in the same
//! write as each ledger row, so reports and budgets read a few thousand
//! buckets instead of scanning millions of raw rows. Latency percentiles come
//! from a fixed log-spaced histogram per bucket.

use super::LedgerEntry;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Upper bounds (ms) of the latency histogram buckets; the last bucket is open.
pub const LATENCY_BOUNDS_MS: [u64; 24] = [
    1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 70, 100, 150, 200, 300, 500, 700, 1000, 1500, 2000, 3000,
    5000, 10000, 30000,
];

/// The ledger outcome of a call a budget stopped before it was made.
pub const OUTCOME_BUDGET: &str = "budget_exhausted";
/// The ledger outcome of a call not made because the kill switch paused the provider.
pub const OUTCOME_PAUSED: &str = "provider_paused";

/// Counters for one operation in one hour.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CallStats {
    /// Calls that went to the vendor (not cached, not stopped by a budget).
    #[serde(default)]
    pub calls: u64,
    /// HTTP requests sent (retries included): what the vendor counts.
    #[serde(default)]
    pub requests: u64,
    /// Calls answered from the cache or coalesced (not in `calls`).
    #[serde(default)]
    pub cached: u64,
    /// Credits the cached answers would have cost again.
    #[serde(default)]
    pub cached_credits_saved: f64,
    /// Calls with data (cached ones included).
    #[serde(default)]
    pub hits: u64,
    /// "No data" answers (cached ones included).
    #[serde(default)]
    pub misses: u64,
    /// Failed calls by kind (`transient`, `timeout`, `rate_limited`, ...).
    #[serde(default)]
    pub errors: BTreeMap<String, u64>,
    /// 429 answers seen (retries included).
    #[serde(default)]
    pub throttled: u64,
    /// Calls a budget stopped before they were made.
    #[serde(default)]
    pub budget_blocked: u64,
    /// Calls not made because the kill switch paused the provider.
    #[serde(default)]
    pub paused: u64,
    /// Credits billed.
    #[serde(default)]
    pub credits: f64,
    /// Values returned per field (cached answers included).
    #[serde(default)]
    pub fills: BTreeMap<String, u64>,
    /// Latency histogram of calls that went to the vendor, per [`LATENCY_BOUNDS_MS`] (+1 open bucket).
    #[serde(default)]
    pub latency: Vec<u64>,
}

/// Add `n` to `map[key]`; the key is copied only when it is new (a row's
/// fields are counted on every call).
fn bump(map: &mut BTreeMap<String, u64>, key: &str, n: u64) {
    match map.get_mut(key) {
        Some(c) => *c += n,
        None => {
            map.insert(key.to_string(), n);
        }
    }
}

impl CallStats {
    /// Count one ledger row.
    pub fn add_row(&mut self, row: &LedgerEntry) {
        if !self.add_counts(row) {
            return;
        }
        for f in &row.fields {
            bump(&mut self.fills, f, 1);
        }
    }

    /// Add `(field, values)` to the fills.
    pub fn add_fills(&mut self, fills: &[(crate::model::Name, u64)]) {
        for (f, n) in fills {
            bump(&mut self.fills, f, *n);
        }
    }

    /// Count one ledger row, all but its fields' fills; whether those
    /// count (not for a call that was never made).
    pub fn add_counts(&mut self, row: &LedgerEntry) -> bool {
        if row.outcome == OUTCOME_BUDGET {
            self.budget_blocked += 1;
            return false;
        }
        if row.outcome == OUTCOME_PAUSED {
            self.paused += 1;
            return false;
        }
        if row.cached {
            self.cached += 1;
            self.cached_credits_saved += row.saved_credits;
        } else {
            self.calls += 1;
            self.requests += u64::from(row.attempts);
            self.throttled += u64::from(row.throttled);
            self.credits += row.credits;
            if self.latency.len() != LATENCY_BOUNDS_MS.len() + 1 {
                self.latency.resize(LATENCY_BOUNDS_MS.len() + 1, 0);
            }
            let i = LATENCY_BOUNDS_MS
                .iter()
                .position(|b| row.latency_ms <= *b)
                .unwrap_or(LATENCY_BOUNDS_MS.len());
            self.latency[i] += 1;
        }
        // Interned: two address compares settle the common outcomes.
        if row.outcome == crate::name!("hit") {
            self.hits += 1;
        } else if row.outcome == crate::name!("not_found") {
            self.misses += 1;
        } else {
            bump(&mut self.errors, &row.outcome, 1);
        }
        true
    }

    /// Add another bucket's counters.
    pub fn merge(&mut self, o: &CallStats) {
        self.calls += o.calls;
        self.requests += o.requests;
        self.cached += o.cached;
        self.cached_credits_saved += o.cached_credits_saved;
        self.hits += o.hits;
        self.misses += o.misses;
        for (k, n) in &o.errors {
            bump(&mut self.errors, k, *n);
        }
        self.throttled += o.throttled;
        self.budget_blocked += o.budget_blocked;
        self.paused += o.paused;
        self.credits += o.credits;
        for (k, n) in &o.fills {
            bump(&mut self.fills, k, *n);
        }
        if self.latency.len() < o.latency.len() {
            self.latency.resize(o.latency.len(), 0);
        }
        for (a, b) in self.latency.iter_mut().zip(&o.latency) {
            *a += b;
        }
    }

    /// Failed calls of every kind.
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// The latency (ms) under which `q` (0..1) of the calls finished: the
    /// upper bound of the histogram bucket holding that quantile.
    pub fn latency_quantile(&self, q: f64) -> Option<u64> {
        let total: u64 = self.latency.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = ((q * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, n) in self.latency.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Some(
                    LATENCY_BOUNDS_MS
                        .get(i)
                        .copied()
                        .unwrap_or(LATENCY_BOUNDS_MS[LATENCY_BOUNDS_MS.len() - 1] * 2),
                );
            }
        }
        None
    }
}

/// Version byte of the binary bucket encoding.
const ENCODING_V1: u8 = 1;

impl CallStats {
    /// A compact binary encoding: every call rewrites its bucket, so this
    /// runs once per call and must be cheap (JSON cost several times more).
    pub(super) fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(160 + 24 * (self.errors.len() + self.fills.len()));
        b.push(ENCODING_V1);
        for n in [
            self.calls,
            self.requests,
            self.cached,
            self.hits,
            self.misses,
            self.throttled,
            self.budget_blocked,
            self.paused,
        ] {
            b.extend_from_slice(&n.to_le_bytes());
        }
        for x in [self.cached_credits_saved, self.credits] {
            b.extend_from_slice(&x.to_le_bytes());
        }
        b.push(self.latency.len().min(255) as u8);
        for n in self.latency.iter().take(255) {
            b.extend_from_slice(&n.to_le_bytes());
        }
        for map in [&self.errors, &self.fills] {
            b.extend_from_slice(&(map.len().min(u16::MAX as usize) as u16).to_le_bytes());
            for (k, n) in map.iter().take(u16::MAX as usize) {
                let k = &k.as_bytes()[..k.len().min(255)];
                b.push(k.len() as u8);
                b.extend_from_slice(k);
                b.extend_from_slice(&n.to_le_bytes());
            }
        }
        b
    }

    /// Decode [`CallStats::encode`]'s bytes; `None` when they are not that.
    pub(super) fn decode(bytes: &[u8]) -> Option<CallStats> {
        let mut r = Reader(bytes);
        if r.take(1)?[0] != ENCODING_V1 {
            return None;
        }
        let mut u = [0u64; 8];
        for x in &mut u {
            *x = r.u64()?;
        }
        let (saved, credits) = (f64::from_bits(r.u64()?), f64::from_bits(r.u64()?));
        let n = r.take(1)?[0] as usize;
        let latency = (0..n).map(|_| r.u64()).collect::<Option<Vec<u64>>>()?;
        let mut maps = [BTreeMap::new(), BTreeMap::new()];
        for map in &mut maps {
            let n = u16::from_le_bytes(r.take(2)?.try_into().ok()?);
            for _ in 0..n {
                let len = r.take(1)?[0] as usize;
                let k = String::from_utf8(r.take(len)?.to_vec()).ok()?;
                map.insert(k, r.u64()?);
            }
        }
        let [errors, fills] = maps;
        Some(CallStats {
            calls: u[0],
            requests: u[1],
            cached: u[2],
            hits: u[3],
            misses: u[4],
            throttled: u[5],
            budget_blocked: u[6],
            paused: u[7],
            cached_credits_saved: saved,
            credits,
            errors,
            fills,
            latency,
        })
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
}

/// One stored bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallBucket {
    /// Hours since the Unix epoch (UTC).
    pub hour: u32,
    /// `<provider>.<operation>`.
    pub operation: String,
    /// The counters.
    pub stats: CallStats,
}

impl CallBucket {
    /// The provider id.
    pub fn provider(&self) -> &str {
        crate::provider::provider_of(&self.operation)
    }
}

/// Hours since the epoch of `t`.
pub fn hour_of(t: chrono::DateTime<chrono::Utc>) -> u32 {
    (t.timestamp().max(0) / 3600) as u32
}

/// Key: hour (BE) then the operation id, so a window is one range scan.
pub(super) fn bucket_key(hour: u32, operation: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(4 + operation.len());
    k.extend_from_slice(&hour.to_be_bytes());
    k.extend_from_slice(operation.as_bytes());
    k
}

/// Split a key back.
pub(super) fn split_key(k: &[u8]) -> Option<(u32, String)> {
    let hour = u32::from_be_bytes(k.get(..4)?.try_into().ok()?);
    Some((hour, String::from_utf8(k[4..].to_vec()).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(outcome: &str, cached: bool, latency_ms: u64) -> LedgerEntry {
        LedgerEntry {
            choice: None,
            at: chrono::Utc::now(),
            record_id: None,
            operation: "p.op".into(),
            provider: "p".into(),
            outcome: outcome.into(),
            cached,
            credits: if cached { 0.0 } else { 1.0 },
            saved_credits: if cached { 1.0 } else { 0.0 },
            latency_ms,
            attempts: if cached { 0 } else { 2 },
            throttled: if cached { 0 } else { 1 },
            status: None,
            error: None,
            fields: vec!["person.email".into()],
        }
    }

    #[test]
    fn rows_count_into_the_right_counters() {
        let mut s = CallStats::default();
        s.add_row(&row("hit", false, 40));
        s.add_row(&row("hit", true, 0));
        s.add_row(&row("transient", false, 900));
        s.add_row(&row(OUTCOME_BUDGET, false, 0));
        assert_eq!((s.calls, s.cached, s.budget_blocked), (2, 1, 1));
        assert_eq!(
            (s.hits, s.error_count(), s.requests, s.throttled),
            (2, 1, 4, 2)
        );
        assert_eq!((s.credits, s.cached_credits_saved), (2.0, 1.0));
        assert_eq!(s.fills["person.email"], 3);
        assert_eq!(s.latency_quantile(0.5), Some(50));
        assert_eq!(s.latency_quantile(0.95), Some(1000));
        let mut m = CallStats::default();
        m.merge(&s);
        m.merge(&s);
        assert_eq!(
            (m.calls, m.credits, m.latency.iter().sum::<u64>()),
            (4, 4.0, 4)
        );
    }

    #[test]
    fn the_binary_encoding_round_trips() {
        let mut s = CallStats::default();
        assert_eq!(CallStats::decode(&s.encode()), Some(s.clone()));
        s.add_row(&row("hit", false, 40));
        s.add_row(&row("transient", false, 900));
        s.add_row(&row("hit", true, 0));
        s.credits = 0.1 + 0.2;
        assert_eq!(CallStats::decode(&s.encode()), Some(s.clone()));
        assert_eq!(CallStats::decode(&s.encode()[..20]), None, "truncated");
        assert_eq!(CallStats::decode(b"{}"), None);
    }

    #[test]
    fn keys_round_trip_in_hour_order() {
        let a = bucket_key(5, "p.op");
        let b = bucket_key(256, "a.op");
        assert!(a < b);
        assert_eq!(split_key(&b), Some((256, "a.op".to_string())));
    }
}
