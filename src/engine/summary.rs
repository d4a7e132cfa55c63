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
            if let Some(reason) = count_field(state, &mut f.from_input, &mut f.filled) {
                *slot(&mut f.unknown, reason) += 1;
            }
        }
    }

    /// Count ledger rows.
    pub fn add_calls(&mut self, rows: &[LedgerEntry]) {
        for row in rows {
            count_call(slot(&mut self.providers, &row.provider), row);
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

/// Count a field's state: known from the input or filled, or the unknown's reason.
fn count_field(state: &FieldState, from_input: &mut u64, filled: &mut u64) -> Option<&'static str> {
    match state {
        FieldState::Known(k) if k.source == crate::model::SOURCE_INPUT => *from_input += 1,
        FieldState::Known(_) => *filled += 1,
        FieldState::Unknown(u) => return Some(u.reason.as_str()),
    }
    None
}

/// Count one ledger row for its provider.
fn count_call(p: &mut ProviderSummary, row: &LedgerEntry) {
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
}

/// A summary being counted by a batch lane, record after record. Records
/// carry mostly the same fields in the same (sorted) order, so the n-th field
/// is first looked for at the n-th place: one compare per field instead of a
/// map search. [`Tally::finish`] gives the [`Summary`].
#[derive(Debug, Default)]
pub struct Tally {
    records: u64,
    credits: f64,
    fields: Vec<(String, FieldTally)>,
    providers: Vec<(String, ProviderSummary)>,
}

#[derive(Debug, Default)]
struct FieldTally {
    from_input: u64,
    filled: u64,
    unknown: Vec<(&'static str, u64)>,
}

/// `v`'s entry for `key`, looked for at `hint` first, added when new.
fn entry<'v, V: Default>(v: &'v mut Vec<(String, V)>, hint: usize, key: &str) -> &'v mut V {
    let at = match v.get(hint) {
        Some((k, _)) if crate::model::same(k, key) => hint,
        _ => match v.iter().position(|(k, _)| crate::model::same(k, key)) {
            Some(i) => i,
            None => {
                v.push((key.to_string(), V::default()));
                v.len() - 1
            }
        },
    };
    &mut v[at].1
}

impl Tally {
    /// Count one enriched record.
    pub fn add_record(&mut self, r: &Record) {
        self.records += 1;
        for (i, (name, state)) in r.fields.iter().enumerate() {
            let f = entry(&mut self.fields, i, name);
            if let Some(reason) = count_field(state, &mut f.from_input, &mut f.filled) {
                match f.unknown.iter_mut().find(|(r, _)| *r == reason) {
                    Some((_, n)) => *n += 1,
                    None => f.unknown.push((reason, 1)),
                }
            }
        }
    }

    /// Count ledger rows.
    pub fn add_calls(&mut self, rows: &[LedgerEntry]) {
        for (i, row) in rows.iter().enumerate() {
            count_call(entry(&mut self.providers, i, &row.provider), row);
            self.credits += row.credits;
        }
    }

    /// The summary of everything counted.
    pub fn finish(self) -> Summary {
        let fields = self
            .fields
            .into_iter()
            .map(|(name, f)| {
                let unknown = f.unknown.into_iter().map(|(r, n)| (r.to_string(), n));
                let summary = FieldSummary {
                    from_input: f.from_input,
                    filled: f.filled,
                    unknown: unknown.collect(),
                };
                (name, summary)
            })
            .collect();
        Summary {
            records: self.records,
            fields,
            providers: self.providers.into_iter().collect(),
            credits: self.credits,
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
        // A lane's tally counts the same, whatever order the records come in.
        // A record with a field the others lack moves every later field's place.
        let mut extra = record("d", true);
        let now = chrono::Utc::now();
        extra.set(
            "company.domain",
            FieldState::input(Value::Text("a.com".into()), now),
        );
        one.add_record(&extra);
        let mut tally = Tally::default();
        for r in [&records[2], &extra, &records[0], &records[1]] {
            tally.add_record(r);
        }
        assert_eq!(tally.finish(), one);
        assert_eq!(left.fields["person.email"].unknown["not_found"], 2);
    }
}
