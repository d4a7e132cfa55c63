//! A run summary: fields filled, unknowns by reason, calls and credits per
//! provider. Built from enriched records and ledger rows; rendering is the CLI's.

use crate::keyed::slot;
use crate::model::{FieldState, Record};
use crate::store::LedgerEntry;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Per-field counts.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct FieldSummary {
    /// Known from the input.
    pub from_input: u64,
    /// Filled by enrichment.
    pub filled: u64,
    /// Unknown, by reason.
    pub unknown: BTreeMap<String, u64>,
}

/// Per-provider counts.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ProviderSummary {
    /// Calls (cached ones included).
    pub calls: u64,
    /// Served from the cache or coalesced.
    pub cached: u64,
    /// Found answers.
    pub hits: u64,
    /// "No data" answers.
    pub misses: u64,
    /// Failed calls.
    pub errors: u64,
    /// 429s seen.
    pub throttled: u64,
    /// Credits billed.
    pub credits: f64,
}

/// A run summary.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    /// Records processed.
    pub records: u64,
    /// By field.
    pub fields: BTreeMap<String, FieldSummary>,
    /// By provider.
    pub providers: BTreeMap<String, ProviderSummary>,
    /// Total credits.
    pub credits: f64,
}

impl Summary {
    /// Count one enriched record.
    pub fn add_record(&mut self, r: &Record) {
        self.records += 1;
        for (name, state) in &r.fields {
            let f = slot(&mut self.fields, name);
            match state {
                FieldState::Known(k) if k.source == crate::model::SOURCE_INPUT => f.from_input += 1,
                FieldState::Known(_) => f.filled += 1,
                FieldState::Unknown(u) => *slot(&mut f.unknown, u.reason.as_str()) += 1,
            }
        }
    }

    /// Count ledger rows.
    pub fn add_calls(&mut self, rows: &[LedgerEntry]) {
        for row in rows {
            let p = slot(&mut self.providers, &row.provider);
            p.calls += 1;
            p.cached += row.cached as u64;
            p.throttled += row.throttled as u64;
            match row.outcome.as_str() {
                "hit" => p.hits += 1,
                "not_found" => p.misses += 1,
                // An asynchronous job accepted, or still running: not an error.
                "submitted" | "pending" => {}
                _ => p.errors += 1,
            }
            p.credits += row.credits;
            self.credits += row.credits;
        }
    }

    /// Add another summary's counts (a batch's lanes each keep one).
    pub fn merge(&mut self, other: Summary) {
        self.records += other.records;
        self.credits += other.credits;
        for (name, f) in other.fields {
            let mine = slot(&mut self.fields, &name);
            mine.from_input += f.from_input;
            mine.filled += f.filled;
            for (reason, n) in f.unknown {
                *slot(&mut mine.unknown, &reason) += n;
            }
        }
        for (name, p) in other.providers {
            let mine = slot(&mut self.providers, &name);
            mine.calls += p.calls;
            mine.cached += p.cached;
            mine.hits += p.hits;
            mine.misses += p.misses;
            mine.errors += p.errors;
            mine.throttled += p.throttled;
            mine.credits += p.credits;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{FieldState, Unknown, UnknownReason, Value};

    fn record(id: &str, known: bool) -> Record {
        let now = chrono::Utc::now();
        let mut r = Record::new(id, now);
        r.set(
            "person.first_name",
            FieldState::input(Value::Text("Ann".into()), now),
        );
        r.set(
            "person.email",
            FieldState::Unknown(Unknown {
                reason: if known {
                    UnknownReason::NotFound
                } else {
                    UnknownReason::MissingInput
                },
                tried: vec![],
                retry_at: None,
                detail: None,
            }),
        );
        r
    }

    #[test]
    fn merged_lanes_count_what_one_summary_would() {
        let records = [record("a", true), record("b", false), record("c", true)];
        let mut one = Summary::default();
        records.iter().for_each(|r| one.add_record(r));
        let (mut left, mut right) = (Summary::default(), Summary::default());
        left.add_record(&records[0]);
        right.add_record(&records[1]);
        right.add_record(&records[2]);
        left.merge(right);
        assert_eq!(left, one);
        assert_eq!(left.fields["person.email"].unknown["not_found"], 2);
    }
}
