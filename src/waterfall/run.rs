//! What one pass over a record has done so far: per-field progress and the
//! operations already asked. The planner reads these many times per field and
//! round, over a handful of names, so they are short vectors searched by
//! equality of interned names (one pointer compare)
//! rather than ordered maps, whose every probe compares bytes.

use super::plan::Candidate;
use crate::model::{FieldName, Name, Value};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Progress of one field in this pass.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldRun {
    /// Operations asked, in order (inline: a field is rarely asked of more
    /// than four, and every field a lookup provides gets a list).
    pub tried: smallvec::SmallVec<[Name; 4]>,
    /// Some provider answered "no data".
    pub answered_none: bool,
    /// Provider failures: (message, retry_at).
    pub errors: Vec<(String, DateTime<Utc>)>,
    /// Values the verifier rejected.
    pub rejected: Vec<Value>,
    /// Candidates waiting for verification.
    pub pending: VecDeque<Candidate>,
    /// The best value below the threshold.
    pub best_low: Option<Candidate>,
    /// A step was skipped for budget.
    pub budget_blocked: bool,
    /// A provider or total budget (not the per-record ceiling) refused a call:
    /// the earliest reset and the cap's message.
    pub budget_reset: Option<(DateTime<Utc>, String)>,
    /// Finished in this pass.
    pub done: bool,
    /// The stale value was re-checked with the verifier (cheap refresh).
    pub rechecked: bool,
}

impl FieldRun {
    /// A budget refused a call until `reset`.
    pub(super) fn note_budget(&mut self, reset: DateTime<Utc>, message: &str) {
        self.budget_blocked = true;
        if self.budget_reset.as_ref().is_none_or(|(t, _)| reset < *t) {
            self.budget_reset = Some((reset, message.to_string()));
        }
    }
}

/// Per-field progress, in the order fields were first touched. The names
/// sit apart from the progress entries (about 200 bytes each), so finding a
/// field scans one short run of pointers instead of striding over entries.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldRuns {
    names: Vec<FieldName>,
    runs: Vec<FieldRun>,
}

impl FieldRuns {
    /// Room for `n` fields' progress.
    pub fn with_capacity(n: usize) -> FieldRuns {
        FieldRuns {
            names: Vec::with_capacity(n),
            runs: Vec::with_capacity(n),
        }
    }

    fn position(&self, field: FieldName) -> Option<usize> {
        self.names.iter().position(|f| *f == field)
    }

    /// The field's progress, if it has any.
    pub fn get(&self, field: FieldName) -> Option<&FieldRun> {
        self.position(field).map(|i| &self.runs[i])
    }

    /// The same, found by the text of the name.
    pub fn get_str(&self, field: &str) -> Option<&FieldRun> {
        let i = self.names.iter().position(|f| *f == *field)?;
        Some(&self.runs[i])
    }

    /// The same, to change.
    pub fn get_mut(&mut self, field: FieldName) -> Option<&mut FieldRun> {
        self.position(field).map(|i| &mut self.runs[i])
    }

    /// The field's progress, started empty when it has none.
    pub fn slot(&mut self, field: FieldName) -> &mut FieldRun {
        let at = self.slot_index(field);
        &mut self.runs[at]
    }

    /// Where [`FieldRuns::slot`] is, for a caller that comes back to it
    /// (found again by [`FieldRuns::at`] without a scan).
    pub fn slot_index(&mut self, field: FieldName) -> usize {
        match self.position(field) {
            Some(i) => i,
            None => {
                self.names.push(field);
                self.runs.push(FieldRun::default());
                self.runs.len() - 1
            }
        }
    }

    /// The progress at `i`, from [`FieldRuns::slot_index`].
    pub fn at(&mut self, i: usize) -> &mut FieldRun {
        &mut self.runs[i]
    }
}

/// A small set of operation ids.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Names(Vec<Name>);

impl Names {
    /// Whether `id` is in.
    pub fn contains(&self, id: Name) -> bool {
        self.0.contains(&id)
    }

    /// Add `id` (no duplicate).
    pub fn insert(&mut self, id: Name) {
        if !self.contains(id) {
            self.0.push(id);
        }
    }

    /// Take `id` out.
    pub fn remove(&mut self, id: Name) {
        self.0.retain(|n| *n != id);
    }
}

/// Everything one pass over a record has done.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunState {
    /// Fill operations called (for any field): never called twice in a pass.
    pub attempted: Names,
    /// Per-field progress.
    pub fields: FieldRuns,
    /// When set, only these fields are worth paying for (they could change the
    /// route); the others end `unknown/not_worth_it`. `None`: enrich everything.
    pub relevant: Option<BTreeSet<FieldName>>,
    /// Why a capacity-aware group sent a lookup to an operation other than its
    /// first in config order, by operation (the ledger records it).
    pub choices: BTreeMap<Name, String>,
    /// The route is undecided: send only the cheapest ready lookups this round,
    /// because their answer may decide the route and make the dearer ones
    /// not worth paying for (relevance is recomputed every round).
    pub cheapest_first: bool,
    /// `now + ttl days` for the (now, ttl) pairs seen: a round accepts its
    /// values at one time with a few lifetimes, and calendar arithmetic
    /// cost more than the rest of accepting one.
    pub(crate) expiries: smallvec::SmallVec<[Expiry; 4]>,
}

/// (observed at, lifetime in days, expires at).
type Expiry = (DateTime<Utc>, u32, DateTime<Utc>);

impl RunState {
    /// When a value observed at `now` with a lifetime of `ttl_days` expires.
    pub(super) fn expiry(&mut self, now: DateTime<Utc>, ttl_days: u32) -> DateTime<Utc> {
        if let Some((_, _, at)) = self
            .expiries
            .iter()
            .find(|(n, t, _)| *t == ttl_days && *n == now)
        {
            return *at;
        }
        let at = now + chrono::Duration::days(i64::from(ttl_days));
        if self.expiries.len() == self.expiries.inline_size() {
            self.expiries.remove(0);
        }
        self.expiries.push((now, ttl_days, at));
        at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_is_made_once_and_found_again() {
        let mut runs = FieldRuns::default();
        runs.slot("person.email".into()).done = true;
        runs.slot("person.title".into()).answered_none = true;
        assert!(
            runs.slot("person.email".into()).done,
            "the same slot, not a new one"
        );
        assert!(runs
            .get("person.title".into())
            .is_some_and(|r| r.answered_none));
        assert!(runs.get("person.phone".into()).is_none());
        assert_eq!(runs.names.len(), 2);
    }

    #[test]
    fn names_hold_each_id_once() {
        let mut n = Names::default();
        n.insert("a.x".into());
        n.insert("a.x".into());
        n.insert("b.y".into());
        assert!(n.contains("a.x".into()) && n.contains("b.y".into()) && !n.contains("a".into()));
        n.remove("a.x".into());
        assert!(!n.contains("a.x".into()));
        assert_eq!(n.0, ["b.y"]);
    }
}
