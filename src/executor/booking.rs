//! Booking a call: the ledger row every call leaves (paid, refused, failed or
//! submitted) and the cache entry of a fresh answer. Rows are built from one
//! named [`Booking`], so a row's facts are read by name, never by position.

use super::{CallOutcome, CallResult, Executor, CHOICE};
use crate::model::Name;
use crate::store::{CacheEntry, CachedOutcome, LedgerEntry};
use std::time::Duration;
use tokio::time::Instant;

/// A finished vendor call: its result and the cache entry to store with its row.
pub(super) type Finished = (CallResult, Option<CacheEntry>);

/// Who a call is for and since when: what every row of the call repeats.
#[derive(Debug, Clone, Copy)]
pub(super) struct CallId<'a> {
    /// The call's cache key (also the key of its open job).
    pub key: &'a [u8],
    /// `<provider>.<operation>`.
    pub operation: &'a str,
    /// The record it is made for.
    pub record_id: Option<&'a str>,
    /// When the call began, for its latency.
    pub started: Instant,
}

/// The HTTP exchanges of a call so far.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct Tally {
    /// Attempts made.
    pub attempts: u32,
    /// 429 answers among them.
    pub throttled: u32,
    /// The last HTTP status seen.
    pub status: Option<u16>,
}

/// The facts of one ledger row, by name.
#[derive(Debug, Clone)]
pub(super) struct Booking<'a> {
    /// The call.
    pub id: CallId<'a>,
    /// `hit`, `not_found`, `submitted` or a failure kind.
    pub outcome: Name,
    /// Credits the vendor billed.
    pub credits: f64,
    /// The exchanges made.
    pub tally: Tally,
    /// Error detail.
    pub error: Option<String>,
    /// Fields a hit carried values for.
    pub fields: Vec<Name>,
}

impl<'a> CallId<'a> {
    /// A booking of this call with `outcome`: nothing billed, sent or failed (yet).
    pub fn booking(self, outcome: Name) -> Booking<'a> {
        Booking {
            id: self,
            outcome,
            credits: 0.0,
            tally: Tally::default(),
            error: None,
            fields: Vec::new(),
        }
    }
}

impl Executor {
    /// `operation`'s provider (the text before the dot for an unknown one).
    fn provider_name(&self, operation: Name) -> Name {
        match self.inner.provider_names.get(&operation) {
            Some(p) => *p,
            None => Name::new(crate::provider::provider_of(&operation)),
        }
    }

    /// A ledger row at `at`: nothing billed, sent or failed (yet).
    #[inline]
    pub(super) fn row(
        &self,
        at: chrono::DateTime<chrono::Utc>,
        operation: Name,
        record_id: Option<&str>,
        outcome: Name,
        latency_ms: u64,
    ) -> LedgerEntry {
        LedgerEntry {
            at,
            record_id: record_id.map(str::to_string),
            operation,
            provider: self.provider_name(operation),
            outcome,
            cached: false,
            credits: 0.0,
            saved_credits: 0.0,
            latency_ms,
            attempts: 0,
            throttled: 0,
            status: None,
            error: None,
            choice: CHOICE.try_with(Clone::clone).ok().flatten(),
            fields: Vec::new(),
        }
    }

    /// The ledger row of a booking, stamped now (latency since the call began).
    pub(super) fn entry(&self, b: Booking<'_>) -> LedgerEntry {
        let latency_ms = b.id.started.elapsed().as_millis() as u64;
        LedgerEntry {
            credits: b.credits,
            attempts: b.tally.attempts,
            throttled: b.tally.throttled,
            status: b.tally.status,
            error: b.error,
            fields: b.fields,
            ..self.row(
                self.inner.clock.now(),
                Name::new(b.id.operation),
                b.id.record_id,
                b.outcome,
                latency_ms,
            )
        }
    }

    /// A failed call: the row says why, nothing is cached.
    pub(super) fn failed(
        &self,
        id: CallId<'_>,
        kind: &'static str,
        message: String,
        retry_after: Duration,
        tally: Tally,
    ) -> Finished {
        let entry = self.entry(Booking {
            tally,
            error: Some(message.clone()),
            ..id.booking(Name::new(kind))
        });
        let outcome = CallOutcome::Failed {
            kind,
            message,
            retry_after,
        };
        let result = CallResult {
            paid: None,
            outcome,
            entry,
        };
        (result, None)
    }

    /// An answer the vendor gave (hit or not found): its row, and its cache
    /// entry under the operation's TTL for that kind of answer.
    pub(super) fn answered(
        &self,
        id: CallId<'_>,
        outcome: CachedOutcome,
        credits: f64,
        ttl: Duration,
        tally: Tally,
    ) -> Finished {
        let (call_outcome, kind) = match &outcome {
            CachedOutcome::Hit { extracted } => {
                (CallOutcome::Hit(extracted.clone()), crate::name!("hit"))
            }
            CachedOutcome::NotFound => (CallOutcome::NotFound, crate::name!("not_found")),
        };
        let cache = self.cache_entry(outcome, credits, ttl, id.record_id);
        let entry = self.entry(Booking {
            credits,
            tally,
            fields: super::filled_fields(&call_outcome),
            ..id.booking(kind)
        });
        let result = CallResult {
            paid: None,
            outcome: call_outcome,
            entry,
        };
        (result, cache)
    }

    /// The cache entry for a fresh answer (`None` when caching is off for it).
    pub(super) fn cache_entry(
        &self,
        outcome: CachedOutcome,
        credits: f64,
        ttl: Duration,
        record_id: Option<&str>,
    ) -> Option<CacheEntry> {
        if ttl.is_zero() {
            return None;
        }
        let now = self.inner.clock.now();
        Some(CacheEntry {
            outcome,
            credits,
            stored_at: now,
            expires_at: now
                + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::days(3650)),
            paid_for: record_id.map(str::to_string),
        })
    }
}
