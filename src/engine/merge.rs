//! Merging new values into a stored record: source precedence, conflicts and
//! history. Pure functions; the store calls `merge_input` inside its upsert
//! transaction and the worker calls `merge_step` before committing.

use crate::model::{FieldState, Precedence, Record};
use crate::store::{Change, QueueState, StoredRecord};
use chrono::{DateTime, Utc};

/// Most history entries kept per record (oldest dropped first).
pub const MAX_HISTORY: usize = 200;

/// Append a change (oldest dropped past [`MAX_HISTORY`]).
fn record(
    stored: &mut StoredRecord,
    at: DateTime<Utc>,
    field: crate::model::FieldName,
    kind: &str,
    old: Option<FieldState>,
    new: FieldState,
) {
    push(
        &mut stored.history,
        Change {
            at,
            field: field.to_string(),
            kind: kind.into(),
            old,
            new,
        },
    );
}

fn push(history: &mut Vec<Change>, change: Change) {
    history.push(change);
    if history.len() > MAX_HISTORY {
        let excess = history.len() - MAX_HISTORY;
        history.drain(..excess);
    }
}

/// Merge an imported record into what is stored. Input values replace vendor
/// and guessed values and older inputs, never manual ones (that is a conflict).
/// Returns the new stored record and whether anything changed.
pub fn merge_input(
    existing: Option<StoredRecord>,
    incoming: Record,
    now: DateTime<Utc>,
    prec: &Precedence,
) -> (StoredRecord, bool) {
    let mut stored = existing.unwrap_or_else(|| StoredRecord {
        record: Record::new(incoming.id.clone(), now),
        history: Vec::new(),
        signals: Vec::new(),
        queue: QueueState::Queued { due: now },
        conflicts: 0,
        passes: 0,
        created_at: now,
        revision: 0,
        scores: None,
        route: None,
        route_history: Vec::new(),
    });
    let is_new = stored.revision == 0 && stored.passes == 0 && stored.record.fields.is_empty();
    let mut changed = false;
    for (field, new) in incoming.fields {
        let FieldState::Known(nk) = &new else {
            continue;
        };
        let old = stored.record.fields.get(&field).cloned();
        match old.as_ref().and_then(FieldState::known) {
            Some(ok) if ok.value == nk.value => {
                // The same value re-imported: nothing changes.
                continue;
            }
            Some(ok) if prec.rank(&field, &ok.source) > prec.rank(&field, &nk.source) => {
                stored.conflicts += 1;
                record(&mut stored, now, field, "conflict", old.clone(), new);
                changed = true;
                continue;
            }
            _ => {}
        }
        // A new record's inputs are its first state, not changes: they show in
        // the fields (source `input`); history starts with the first change.
        if !is_new {
            record(&mut stored, now, field, "input", old, new.clone());
        }
        stored.record.fields.insert(field, new);
        changed = true;
    }
    if changed {
        stored.record.updated_at = now;
    }
    (stored, changed)
}

/// Fold an enrichment pass into the stored record: every field whose state
/// changed gets a history entry; a known value replaced by a different one is a
/// conflict unless it had expired; a higher-precedence value is never replaced.
pub fn merge_step(stored: &mut StoredRecord, after: Record, now: DateTime<Utc>, prec: &Precedence) {
    for (field, new) in after.fields {
        let old = stored.record.fields.get(&field).cloned();
        if old.as_ref() == Some(&new) {
            continue;
        }
        let kind = match (old.as_ref().and_then(FieldState::known), new.known()) {
            (Some(ok), Some(nk)) if ok.value != nk.value => {
                if prec.rank(&field, &ok.source) > prec.rank(&field, &nk.source) {
                    stored.conflicts += 1;
                    record(stored, now, field, "conflict", old, new);
                    continue;
                }
                // A refreshed value that differs is worth counting: the vendor changed its mind.
                stored.conflicts += 1;
                "conflict"
            }
            (Some(_), Some(_)) => "refreshed",
            (_, Some(_)) => "enriched",
            (_, None) => "unknown",
        };
        record(stored, now, field, kind, old, new.clone());
        stored.record.fields.insert(field, new);
    }
    stored.record.credits_spent = after.credits_spent;
    stored.record.updated_at = now;
    stored.passes += 1;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Known, Value};

    fn known(v: &str, source: &str) -> FieldState {
        FieldState::Known(Known {
            value: Value::Text(v.into()),
            source: source.into(),
            confidence: 0.9,
            observed_at: Utc::now(),
            expires_at: None,
            verified: None,
        })
    }

    #[test]
    fn precedence_is_per_field_and_most_specific_first() {
        let mut p = Precedence::default();
        assert!(p.rank("person.title", "input") > p.rank("person.title", "peoplematch.match"));
        assert!(
            p.rank("person.title", "peoplematch.match")
                > p.rank("person.title", "builtin.email-guess")
        );
        p.fields.insert(
            "person.title".into(),
            vec![
                "manual".into(),
                "peoplematch".into(),
                "input".into(),
                "vendor".into(),
            ],
        );
        assert!(p.rank("person.title", "peoplematch.match") > p.rank("person.title", "input"));
        assert!(
            p.rank("person.title", "input") > p.rank("person.title", "personapi.person-enrich")
        );
        assert!(
            p.rank("person.email", "input") > p.rank("person.email", "peoplematch.match"),
            "other fields keep the default"
        );
    }

    #[test]
    fn an_input_never_replaces_a_manual_value_and_the_conflict_is_kept() {
        let p = Precedence::default();
        let now = Utc::now();
        let mut first = Record::new("a", now);
        first.set("person.title", known("CTO", "manual"));
        let (stored, _) = merge_input(None, first, now, &p);
        let mut again = Record::new("a", now);
        again.set("person.title", known("Engineer", "input"));
        let (stored, changed) = merge_input(Some(stored), again, now, &p);
        assert!(changed);
        assert_eq!(
            stored.record.value("person.title"),
            Some(&Value::Text("CTO".into()))
        );
        assert_eq!(stored.conflicts, 1);
        assert_eq!(
            stored.history.last().map(|c| c.kind.as_str()),
            Some("conflict")
        );
    }

    #[test]
    fn a_pass_records_history_and_counts_changed_values() {
        let p = Precedence::default();
        let now = Utc::now();
        let mut r = Record::new("a", now);
        r.set("person.title", known("VP Sales", "peoplematch.match"));
        let (mut stored, _) = merge_input(None, Record::new("a", now), now, &p);
        stored.record = r.clone();
        let mut after = r;
        after.set("person.title", known("CRO", "personapi.person-enrich"));
        after.set(
            "person.phone",
            known("+14155550100", "personapi.person-enrich"),
        );
        merge_step(&mut stored, after, now, &p);
        assert_eq!(
            stored.conflicts, 1,
            "a refreshed value that differs is counted"
        );
        let kinds: Vec<&str> = stored.history.iter().map(|c| c.kind.as_str()).collect();
        assert_eq!(kinds, ["enriched", "conflict"]);
        assert_eq!(stored.passes, 1);
    }
}
